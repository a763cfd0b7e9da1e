//! The register's field configuration and a validator of entries against it.
//!
//! The configuration (`standard/algoritmeregister-standard-v1.0.json`) is not JSON Schema. Each
//! field under `properties` carries these attributes, and the validator enforces every one that
//! states a rule:
//!
//! | attribute | rule |
//! |---|---|
//! | `type` | `string` (a JSON string), `enum` (a string from `permitted_values`), `array` (a JSON array: of strings from `permitted_values`, or of objects described by `items`) |
//! | `required` | present and not empty (a string with only spaces and an empty array count as empty); v1.0 once writes it as the string `"false"`, read as `false` |
//! | `max_length` | at most this many characters (Unicode scalar values, not bytes), HTML tags included |
//! | `permitted_values` | exact match (case and spaces count) |
//! | `allowed_html_tags` | only these HTML tags; a string field without the attribute takes no HTML tags at all |
//! | `items` | for an array of objects: the attributes above, per sub-field, for every element; a sub-field the standard does not name is a violation |
//!
//! Three rules are stated in the instructions text, not in attributes; the validator enforces
//! them too, as rule [`Rule::Format`] and [`Rule::Consistency`], and derives which fields they
//! apply to from that text (a test pins the result for v1.0):
//! - a month "JJJJ-MM" where the instructions say "Schrijf de datum … zoals in dit voorbeeld"
//!   (`begin_date`, `end_date`);
//! - an URL that begins with `https://` where they say "Begin een URL met https://"; an e-mail
//!   address or such an URL where they say "Het e-mailadres of de website" (`contact_email`);
//! - `end_date` stays empty while `status` is "In gebruik".
//!
//! Not rules: `title`, `help_text`, `instructions`, `example`, `show_always` (the form's layout)
//! and `recommended_items` (suggested titles of impact assessments; other titles are allowed).
//! A field not in the standard is a violation ([`Rule::UnknownField`]). An attribute this code
//! does not know makes [`Standard::from_json_str`] fail, so that a new version of the
//! configuration with a new kind of rule cannot be validated by halves.

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::fmt;

/// The embedded configuration of publication standard v1.0, byte for byte as published.
pub const STANDARD_V1_0_JSON: &str =
    include_str!("../standard/algoritmeregister-standard-v1.0.json");

/// The type a field's value must have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// A JSON string.
    String,
    /// A JSON string from `permitted_values`.
    Enum,
    /// A JSON array: of strings (checked against `permitted_values` when given) or, with
    /// `items`, of objects.
    Array,
}

/// A rule derived from a field's instructions text (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// "JJJJ-MM", e.g. "2023-01".
    Month,
    /// An URL that begins with `https://`.
    HttpsUrl,
    /// An e-mail address, or an URL that begins with `https://`.
    EmailOrHttpsUrl,
}

/// One field of the standard (or one sub-field of an array of objects).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldSpec {
    /// The key in an entry, e.g. `methods_and_models`.
    pub name: String,
    /// The Dutch title the register shows, e.g. "Technische werking".
    pub title: String,
    pub field_type: FieldType,
    pub required: bool,
    /// Maximum number of characters.
    pub max_length: Option<usize>,
    pub permitted_values: Option<Vec<String>>,
    /// HTML tags the value may contain; `None`: no HTML at all.
    pub allowed_html_tags: Option<Vec<String>>,
    /// Suggested values (not a rule).
    pub recommended_items: Option<Vec<String>>,
    /// Sub-fields of the objects in an array, in the order of the configuration.
    pub items: Option<Vec<FieldSpec>>,
    /// Derived from `instructions`.
    pub format: Option<Format>,
    pub show_always: bool,
    pub help_text: String,
    pub instructions: String,
    pub example: Option<Value>,
}

/// Which rule a [`Violation`] breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Required,
    Type,
    MaxLength,
    PermittedValues,
    AllowedHtmlTags,
    Format,
    Consistency,
    UnknownField,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Required => "required",
            Rule::Type => "type",
            Rule::MaxLength => "max_length",
            Rule::PermittedValues => "permitted_values",
            Rule::AllowedHtmlTags => "allowed_html_tags",
            Rule::Format => "format",
            Rule::Consistency => "consistency",
            Rule::UnknownField => "unknown_field",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A broken rule. `field` is the key (`lawful_basis_grouping[0].link` inside an array of
/// objects; `(registratie)` for the entry as a whole); `message` is Dutch first, then English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub field: String,
    pub rule: Rule,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]: {}", self.field, self.rule, self.message)
    }
}

/// The register's publication standard: its fields and their rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Standard {
    version: Option<String>,
    description: String,
    fields: Vec<FieldSpec>,
}

impl Standard {
    /// Publication standard v1.0, from the embedded configuration. Fails only if the embedded
    /// file were unreadable, which the crate's tests rule out.
    pub fn v1_0() -> Result<Standard, String> {
        Standard::from_json_str(STANDARD_V1_0_JSON)
    }

    /// Reads a configuration in the register's format (`{"description", "properties"}`).
    pub fn from_json_str(text: &str) -> Result<Standard, String> {
        let raw: RawStandard = serde_json::from_str(text).map_err(|e| {
            format!(
                "configuratie van de standaard onleesbaar / standard configuration unreadable: {e}"
            )
        })?;
        let mut fields = Vec::with_capacity(raw.properties.0.len());
        for (name, f) in raw.properties.0 {
            fields.push(convert(&name, f)?);
        }
        let version = fields
            .iter()
            .find(|f| f.name == "standard_version")
            .and_then(|f| f.permitted_values.as_ref())
            .and_then(|v| match v.as_slice() {
                [one] => Some(one.clone()),
                _ => None,
            });
        Ok(Standard {
            version,
            description: raw.description,
            fields,
        })
    }

    /// The version this configuration validates (the only permitted value of
    /// `standard_version`), e.g. "1.0".
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// All fields, in the order of the configuration.
    pub fn fields(&self) -> &[FieldSpec] {
        &self.fields
    }

    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks an entry (a JSON object, field → value) against every rule. An empty result
    /// means the entry is valid.
    pub fn validate(&self, entry: &Value) -> Vec<Violation> {
        let mut out = Vec::new();
        let Some(obj) = entry.as_object() else {
            out.push(Violation {
                field: "(registratie)".into(),
                rule: Rule::Type,
                message: format!(
                    "een registratie moet een JSON-object zijn, niet {} / an entry must be a JSON object, not {}",
                    json_kind_nl(entry),
                    json_kind_en(entry)
                ),
            });
            return out;
        };
        check_object(&self.fields, obj, "", &mut out);
        self.check_consistency(obj, &mut out);
        out
    }

    /// As [`Standard::validate`], but without the `required` violations of the fields in
    /// `to_decide`: "everything that was filled is valid, and these fields are left to a
    /// person". Every other rule still applies to those fields if they are present.
    pub fn validate_generated(
        &self,
        entry: &Value,
        to_decide: &[crate::FieldToDecide],
    ) -> Vec<Violation> {
        self.validate(entry)
            .into_iter()
            .filter(|v| !(v.rule == Rule::Required && to_decide.iter().any(|d| d.field == v.field)))
            .collect()
    }

    fn check_consistency(&self, obj: &serde_json::Map<String, Value>, out: &mut Vec<Violation>) {
        // "Als het algoritme nog in gebruik is, moet dit veld leegblijven." (end_date)
        if self.field("status").is_none() || self.field("end_date").is_none() {
            return;
        }
        let in_use = obj.get("status").and_then(Value::as_str) == Some("In gebruik");
        let end = obj
            .get("end_date")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty());
        if in_use && end {
            out.push(Violation {
                field: "end_date".into(),
                rule: Rule::Consistency,
                message: "einddatum moet leeg zijn zolang de status 'In gebruik' is / end date must be empty while the status is 'In gebruik'".into(),
            });
        }
    }
}

fn check_object(
    specs: &[FieldSpec],
    obj: &serde_json::Map<String, Value>,
    prefix: &str,
    out: &mut Vec<Violation>,
) {
    for spec in specs {
        let path = format!("{prefix}{}", spec.name);
        check_field(spec, obj.get(&spec.name), &path, out);
    }
    for key in obj.keys() {
        if !specs.iter().any(|s| &s.name == key) {
            out.push(Violation {
                field: format!("{prefix}{key}"),
                rule: Rule::UnknownField,
                message: "veld bestaat niet in de standaard / field is not part of the standard"
                    .into(),
            });
        }
    }
}

fn required_missing(spec: &FieldSpec, path: &str, empty: bool, out: &mut Vec<Violation>) {
    if spec.required {
        out.push(Violation {
            field: path.to_string(),
            rule: Rule::Required,
            message: if empty {
                format!(
                    "verplicht veld is leeg ({}) / required field is empty",
                    spec.title
                )
            } else {
                format!(
                    "verplicht veld ontbreekt ({}) / required field missing",
                    spec.title
                )
            },
        });
    }
}

fn type_violation(path: &str, want_nl: &str, want_en: &str, got: &Value) -> Violation {
    Violation {
        field: path.to_string(),
        rule: Rule::Type,
        message: format!(
            "verwacht {want_nl}, gevonden {} / expected {want_en}, found {}",
            json_kind_nl(got),
            json_kind_en(got)
        ),
    }
}

fn check_field(spec: &FieldSpec, value: Option<&Value>, path: &str, out: &mut Vec<Violation>) {
    let value = match value {
        None | Some(Value::Null) => {
            required_missing(spec, path, false, out);
            return;
        }
        Some(v) => v,
    };
    match spec.field_type {
        FieldType::String | FieldType::Enum => {
            let Some(s) = value.as_str() else {
                out.push(type_violation(path, "tekst", "a string", value));
                return;
            };
            if s.trim().is_empty() {
                required_missing(spec, path, true, out);
                return;
            }
            check_text(spec, s, path, out);
        }
        FieldType::Array => {
            let Some(arr) = value.as_array() else {
                out.push(type_violation(path, "een lijst", "an array", value));
                return;
            };
            if arr.is_empty() {
                required_missing(spec, path, true, out);
                return;
            }
            for (i, el) in arr.iter().enumerate() {
                let el_path = format!("{path}[{i}]");
                match &spec.items {
                    Some(items) => match el.as_object() {
                        Some(o) => check_object(items, o, &format!("{el_path}."), out),
                        None => out.push(type_violation(&el_path, "een object", "an object", el)),
                    },
                    None => match el.as_str() {
                        Some(s) => check_permitted(spec, s, &el_path, out),
                        None => out.push(type_violation(&el_path, "tekst", "a string", el)),
                    },
                }
            }
        }
    }
}

fn check_text(spec: &FieldSpec, s: &str, path: &str, out: &mut Vec<Violation>) {
    if let Some(max) = spec.max_length {
        let n = s.chars().count();
        if n > max {
            out.push(Violation {
                field: path.to_string(),
                rule: Rule::MaxLength,
                message: format!(
                    "te lang: {n} tekens, maximaal {max} / too long: {n} characters, maximum {max}"
                ),
            });
        }
    }
    check_permitted(spec, s, path, out);
    let tags = html_tags(s);
    let bad: Vec<String> = match &spec.allowed_html_tags {
        Some(allowed) => tags
            .into_iter()
            .filter(|t| !allowed.iter().any(|a| a.eq_ignore_ascii_case(t)))
            .collect(),
        None => tags,
    };
    if !bad.is_empty() {
        let mut bad = bad;
        bad.sort();
        bad.dedup();
        let list = bad
            .iter()
            .map(|t| format!("<{t}>"))
            .collect::<Vec<_>>()
            .join(", ");
        let message = match &spec.allowed_html_tags {
            Some(allowed) => {
                let ok = allowed.join(", ");
                format!(
                    "HTML-tag niet toegestaan: {list}; toegestaan: {ok} / HTML tag not allowed: {list}; allowed: {ok}"
                )
            }
            None => format!(
                "dit veld mag geen HTML bevatten: {list} / this field takes no HTML: {list}"
            ),
        };
        out.push(Violation {
            field: path.to_string(),
            rule: Rule::AllowedHtmlTags,
            message,
        });
    }
    if let Some(format) = spec.format {
        let t = s.trim();
        let (ok, nl, en) = match format {
            Format::Month => (
                is_month(t),
                "een maand als JJJJ-MM, bijvoorbeeld 2023-01",
                "a month as YYYY-MM, e.g. 2023-01",
            ),
            Format::HttpsUrl => (
                is_https_url(t),
                "een link die begint met https://",
                "a link that begins with https://",
            ),
            Format::EmailOrHttpsUrl => (
                is_email(t) || is_https_url(t),
                "een e-mailadres of een link die begint met https://",
                "an e-mail address or a link that begins with https://",
            ),
        };
        if !ok {
            out.push(Violation {
                field: path.to_string(),
                rule: Rule::Format,
                message: format!("verwacht {nl} / expected {en}"),
            });
        }
    }
}

fn check_permitted(spec: &FieldSpec, s: &str, path: &str, out: &mut Vec<Violation>) {
    if let Some(permitted) = &spec.permitted_values {
        if !permitted.iter().any(|p| p == s) {
            let list = permitted
                .iter()
                .map(|p| format!("'{p}'"))
                .collect::<Vec<_>>()
                .join(", ");
            out.push(Violation {
                field: path.to_string(),
                rule: Rule::PermittedValues,
                message: format!(
                    "waarde '{s}' niet toegestaan; toegestaan: {list} / value '{s}' not permitted; permitted: {list}"
                ),
            });
        }
    }
}

/// Names (lower case) of the HTML tags in `s`: `<name …>`, `</name>` and `<name/>`, where a
/// name begins with an ASCII letter. A lone `<` ("leeftijd < 27") is not a tag.
pub(crate) fn html_tags(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        if j < b.len() && b[j] == b'/' {
            j += 1;
        }
        let start = j;
        if j < b.len() && b[j].is_ascii_alphabetic() {
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-') {
                j += 1;
            }
            let name_end = j;
            let boundary =
                j < b.len() && (b[j] == b'>' || b[j] == b'/' || b[j].is_ascii_whitespace());
            if boundary {
                if let Some(close) = b[j..].iter().position(|&c| c == b'>') {
                    // ASCII bytes only, so this slice lies on character boundaries.
                    out.push(s[start..name_end].to_ascii_lowercase());
                    i = j + close + 1;
                    continue;
                }
            }
        }
        i += 1;
    }
    out
}

pub(crate) fn is_month(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 7 || b[4] != b'-' {
        return false;
    }
    if !b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit) {
        return false;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    (1..=12).contains(&month)
}

pub(crate) fn is_https_url(s: &str) -> bool {
    s.strip_prefix("https://").is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && host.contains('.') && !rest.chars().any(char::is_whitespace)
    })
}

pub(crate) fn is_email(s: &str) -> bool {
    if s.chars().any(|c| c.is_whitespace() || c == '<' || c == '>') {
        return false;
    }
    let mut parts = s.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }
        _ => false,
    }
}

fn json_kind_nl(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "een ja/nee-waarde",
        Value::Number(_) => "een getal",
        Value::String(_) => "tekst",
        Value::Array(_) => "een lijst",
        Value::Object(_) => "een object",
    }
}

fn json_kind_en(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the configuration.

/// A JSON object read as a list of (key, value) in document order (serde_json's own map is
/// sorted unless a workspace-wide feature is switched on).
struct Ordered<T>(Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered<T>, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, T>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStandard {
    #[serde(default)]
    description: String,
    properties: Ordered<RawField>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    #[serde(rename = "type")]
    kind: Option<String>,
    title: Option<String>,
    max_length: Option<u64>,
    required: Option<Value>,
    permitted_values: Option<Vec<String>>,
    allowed_html_tags: Option<Vec<String>>,
    recommended_items: Option<Vec<String>>,
    items: Option<Ordered<RawField>>,
    show_always: Option<bool>,
    help_text: Option<String>,
    instructions: Option<String>,
    example: Option<Value>,
}

fn convert(name: &str, f: RawField) -> Result<FieldSpec, String> {
    let field_type = match f.kind.as_deref() {
        Some("string") => FieldType::String,
        Some("enum") => FieldType::Enum,
        Some("array") => FieldType::Array,
        Some(other) => {
            return Err(format!(
                "veld '{name}': onbekend type '{other}' / field '{name}': unknown type '{other}'"
            ))
        }
        None => {
            return Err(format!(
                "veld '{name}': type ontbreekt / field '{name}': type missing"
            ))
        }
    };
    let required = match &f.required {
        None => false,
        Some(Value::Bool(b)) => *b,
        // v1.0 writes `"required": "false"` once (source_data_grouping).
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(other) => {
            return Err(format!(
                "veld '{name}': 'required' is geen ja/nee ({other}) / field '{name}': 'required' is not a boolean ({other})"
            ))
        }
    };
    if field_type == FieldType::Enum && f.permitted_values.is_none() {
        return Err(format!(
            "veld '{name}': enum zonder permitted_values / field '{name}': enum without permitted_values"
        ));
    }
    let items = match f.items {
        None => None,
        Some(items) => {
            if field_type != FieldType::Array {
                return Err(format!(
                    "veld '{name}': items bij een veld dat geen lijst is / field '{name}': items on a non-array field"
                ));
            }
            let mut v = Vec::with_capacity(items.0.len());
            for (sub, raw) in items.0 {
                v.push(convert(&sub, raw)?);
            }
            Some(v)
        }
    };
    let instructions = f.instructions.unwrap_or_default();
    let example = f.example;
    let format = derive_format(field_type.clone(), &instructions, example.as_ref());
    let max_length = match f.max_length {
        None => None,
        Some(n) => Some(usize::try_from(n).map_err(|_| {
            format!("veld '{name}': max_length te groot / field '{name}': max_length too large")
        })?),
    };
    Ok(FieldSpec {
        name: name.to_string(),
        title: f.title.unwrap_or_else(|| name.to_string()),
        field_type,
        required,
        max_length,
        permitted_values: f.permitted_values,
        allowed_html_tags: f.allowed_html_tags,
        recommended_items: f.recommended_items,
        items,
        format,
        show_always: f.show_always.unwrap_or(false),
        help_text: f.help_text.unwrap_or_default(),
        instructions,
        example,
    })
}

/// The rules the instructions text states in words (module documentation).
fn derive_format(t: FieldType, instructions: &str, example: Option<&Value>) -> Option<Format> {
    if t != FieldType::String {
        return None;
    }
    let example_is_month = example.and_then(Value::as_str).is_some_and(is_month);
    if instructions.contains("Schrijf de datum") && example_is_month {
        Some(Format::Month)
    } else if instructions.contains("e-mailadres of de website")
        && instructions.contains("met https://")
    {
        Some(Format::EmailOrHttpsUrl)
    } else if instructions.contains("Begin een URL met https://") {
        Some(Format::HttpsUrl)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn std10() -> Standard {
        match Standard::v1_0() {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    fn rules_of(v: &[Violation], field: &str) -> Vec<Rule> {
        v.iter()
            .filter(|x| x.field == field)
            .map(|x| x.rule)
            .collect()
    }

    /// The smallest entry that satisfies every rule.
    fn minimal() -> Value {
        json!({
            "name": "Voorspelling uitstroom",
            "description_short": "Een korte omschrijving.",
            "organization": "Gemeente Noorderhaaks",
            "status": "In ontwikkeling",
            "contact_email": "algoritmes@gemeentenoorderhaaks.nl",
            "publication_category": "Overige algoritmes",
            "lang": "nld"
        })
    }

    #[test]
    fn v1_0_has_31_fields_in_file_order_and_its_version() {
        let s = std10();
        assert_eq!(s.fields().len(), 31);
        assert_eq!(s.fields()[0].name, "name");
        assert_eq!(s.fields()[30].name, "publication_dt");
        assert_eq!(s.version(), Some("1.0"));
        let required: Vec<&str> = s
            .fields()
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(
            required,
            [
                "name",
                "description_short",
                "organization",
                "status",
                "contact_email",
                "publication_category",
                "lang"
            ]
        );
        // "required": "false" (a string) is read as false.
        assert_eq!(
            s.field("source_data_grouping").map(|f| f.required),
            Some(false)
        );
        let items = s
            .field("lawful_basis_grouping")
            .and_then(|f| f.items.as_ref());
        assert_eq!(items.map(|i| i.len()), Some(2));
        assert!(minimal_is_valid(&s));
    }

    fn minimal_is_valid(s: &Standard) -> bool {
        s.validate(&minimal()).is_empty()
    }

    #[test]
    fn formats_derived_from_instructions() {
        let s = std10();
        let mut with: Vec<(String, Format)> = Vec::new();
        for f in s.fields() {
            if let Some(x) = f.format {
                with.push((f.name.clone(), x));
            }
            for sub in f.items.iter().flatten() {
                if let Some(x) = sub.format {
                    with.push((format!("{}.{}", f.name, sub.name), x));
                }
            }
        }
        let expect: Vec<(String, Format)> = [
            ("begin_date", Format::Month),
            ("end_date", Format::Month),
            ("contact_email", Format::EmailOrHttpsUrl),
            ("website", Format::HttpsUrl),
            ("url", Format::HttpsUrl),
            ("impacttoetsen_grouping.link", Format::HttpsUrl),
            ("publiccode", Format::HttpsUrl),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b))
        .collect();
        assert_eq!(with, expect);
    }

    #[test]
    fn required_missing_null_and_empty() {
        let s = std10();
        let mut e = minimal();
        if let Some(o) = e.as_object_mut() {
            o.remove("name");
            o.insert("organization".into(), Value::Null);
            o.insert("description_short".into(), json!("   "));
        }
        let v = s.validate(&e);
        assert_eq!(rules_of(&v, "name"), [Rule::Required]);
        assert_eq!(rules_of(&v, "organization"), [Rule::Required]);
        assert_eq!(rules_of(&v, "description_short"), [Rule::Required]);
        assert!(v[0].message.starts_with("verplicht veld"));
        assert!(v
            .iter()
            .any(|x| x.message.contains("required field missing")));
        assert_eq!(v.len(), 3);
        // An optional field may be empty.
        let mut e = minimal();
        e["goal"] = json!("");
        assert!(s.validate(&e).is_empty());
    }

    #[test]
    fn max_length_counts_characters_not_bytes() {
        let s = std10();
        let mut e = minimal();
        // 100 characters, 200 bytes: allowed.
        e["name"] = json!("é".repeat(100));
        assert!(s.validate(&e).is_empty());
        e["name"] = json!("é".repeat(101));
        let v = s.validate(&e);
        assert_eq!(rules_of(&v, "name"), [Rule::MaxLength]);
        assert!(v[0].message.contains("101 tekens, maximaal 100"));
    }

    #[test]
    fn permitted_values_exact_and_listed() {
        let s = std10();
        let mut e = minimal();
        e["status"] = json!("in gebruik");
        e["lang"] = json!("nl");
        e["category"] = json!(["Werk", "Bijstand"]);
        let v = s.validate(&e);
        assert_eq!(rules_of(&v, "status"), [Rule::PermittedValues]);
        assert_eq!(rules_of(&v, "lang"), [Rule::PermittedValues]);
        assert_eq!(rules_of(&v, "category[1]"), [Rule::PermittedValues]);
        assert_eq!(v.len(), 3);
        let status = v
            .iter()
            .find(|x| x.field == "status")
            .map(|x| x.message.as_str());
        assert!(
            status.is_some_and(|m| m.contains("'In ontwikkeling', 'In gebruik', 'Buiten gebruik'"))
        );
        e["status"] = json!("In gebruik");
        e["lang"] = json!("nld");
        e["category"] = json!(["Werk", "Sociale zekerheid"]);
        e["standard_version"] = json!("1.0");
        assert!(s.validate(&e).is_empty());
    }

    #[test]
    fn type_checks() {
        let s = std10();
        let mut e = minimal();
        e["name"] = json!(42);
        e["status"] = json!(["In gebruik"]);
        e["category"] = json!("Werk");
        e["lawful_basis_grouping"] = json!(["Participatiewet"]);
        e["source_data_grouping"] = json!([{"title": "BRP", "link": 7}]);
        let v = s.validate(&e);
        assert_eq!(rules_of(&v, "name"), [Rule::Type]);
        assert_eq!(rules_of(&v, "status"), [Rule::Type]);
        assert_eq!(rules_of(&v, "category"), [Rule::Type]);
        assert_eq!(rules_of(&v, "lawful_basis_grouping[0]"), [Rule::Type]);
        assert_eq!(rules_of(&v, "source_data_grouping[0].link"), [Rule::Type]);
        assert_eq!(v.len(), 5);
        let whole = s.validate(&json!(["not", "an", "object"]));
        assert_eq!(whole.len(), 1);
        assert_eq!(whole[0].rule, Rule::Type);
    }

    #[test]
    fn unknown_fields_top_level_and_nested() {
        let s = std10();
        let mut e = minimal();
        e["organisation_code"] = json!("gm0796");
        e["lawful_basis_grouping"] = json!([{
            "title": "Participatiewet",
            "link": "https://wetten.overheid.nl/BWBR0015703",
            "artikel": "7"
        }]);
        let v = s.validate(&e);
        assert_eq!(rules_of(&v, "organisation_code"), [Rule::UnknownField]);
        assert_eq!(
            rules_of(&v, "lawful_basis_grouping[0].artikel"),
            [Rule::UnknownField]
        );
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn nested_items_required_and_max_length() {
        let s = std10();
        let mut e = minimal();
        e["lawful_basis_grouping"] = json!([{"title": "P".repeat(101)}]);
        e["impacttoetsen_grouping"] =
            json!([{"title": "Data Protection Impact Assessment (DPIA)"}]);
        let v = s.validate(&e);
        assert_eq!(
            rules_of(&v, "lawful_basis_grouping[0].title"),
            [Rule::MaxLength]
        );
        assert_eq!(
            rules_of(&v, "lawful_basis_grouping[0].link"),
            [Rule::Required]
        );
        // impacttoetsen link is optional.
        assert!(rules_of(&v, "impacttoetsen_grouping[0].link").is_empty());
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn html_tags_allowed_only_where_and_as_listed() {
        let s = std10();
        let mut e = minimal();
        e["goal"] = json!("<p>Doel</p><ul><li>a</li></ul><br/>leeftijd < 27");
        assert!(s.validate(&e).is_empty());
        e["goal"] = json!("<p>Zie <a href=\"https://x.nl\">hier</a> en <script>x</script></p>");
        e["name"] = json!("<b>Naam</b>");
        let v = s.validate(&e);
        assert_eq!(rules_of(&v, "goal"), [Rule::AllowedHtmlTags]);
        assert_eq!(rules_of(&v, "name"), [Rule::AllowedHtmlTags]);
        let goal = v
            .iter()
            .find(|x| x.field == "goal")
            .map(|x| x.message.clone());
        assert!(goal.is_some_and(|m| m.contains("<a>, <script>")));
        assert_eq!(html_tags("a<b c"), Vec::<String>::new());
        assert_eq!(html_tags("x <Br/> y </P >"), ["br", "p"]);
    }

    #[test]
    fn formats_and_consistency() {
        let s = std10();
        let mut e = minimal();
        e["begin_date"] = json!("2023-1");
        e["end_date"] = json!("2023-13");
        e["website"] = json!("http://gemeente.nl/algoritme");
        e["contact_email"] = json!("Team Werk");
        let v = s.validate(&e);
        assert_eq!(rules_of(&v, "begin_date"), [Rule::Format]);
        assert_eq!(rules_of(&v, "end_date"), [Rule::Format]);
        assert_eq!(rules_of(&v, "website"), [Rule::Format]);
        assert_eq!(rules_of(&v, "contact_email"), [Rule::Format]);
        e["begin_date"] = json!("2023-01");
        e["end_date"] = json!("2024-05");
        e["website"] = json!("https://www.gemeente.nl/algoritme");
        e["contact_email"] = json!("https://www.gemeente.nl/contact");
        e["status"] = json!("In gebruik");
        let v = s.validate(&e);
        assert_eq!(rules_of(&v, "end_date"), [Rule::Consistency]);
        assert_eq!(v.len(), 1);
        e["status"] = json!("Buiten gebruik");
        assert!(s.validate(&e).is_empty());
    }

    #[test]
    fn unknown_attribute_or_type_is_refused() {
        let bad =
            r#"{"description": "x", "properties": {"a": {"type": "string", "pattern": "x"}}}"#;
        assert!(Standard::from_json_str(bad).is_err());
        let bad = r#"{"description": "x", "properties": {"a": {"type": "integer"}}}"#;
        assert!(Standard::from_json_str(bad).is_err());
        assert!(Standard::from_json_str("{").is_err());
    }

    #[test]
    fn email_and_url_checks() {
        assert!(is_email("a@b.nl"));
        assert!(!is_email("a@b"));
        assert!(!is_email("a b@c.nl"));
        assert!(!is_email("a@@c.nl"));
        assert!(is_https_url("https://www.x.nl/a?b=c"));
        assert!(!is_https_url("https://"));
        assert!(!is_https_url("https://x.nl/a b"));
        assert!(is_month("2012-01"));
        assert!(!is_month("2012-00"));
        assert!(!is_month("２０１２-01"));
    }
}
