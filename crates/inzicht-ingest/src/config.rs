//! The source configuration (`bron.toml`): which files a municipality exports, how to read them
//! and what their columns mean. Documented key by key in `docs/ingest.md`.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    #[serde(default)]
    pub load: LoadSettings,
    #[serde(default, rename = "codelist")]
    pub codelists: Vec<CodeListConfig>,
    #[serde(rename = "source")]
    pub sources: Vec<SourceConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSettings {
    /// Last month of the data, `YYYY-MM`; by default the latest month any spell date names.
    pub data_end: Option<String>,
    /// First month of the data, `YYYY-MM`: the person-month panel starts here (spells that began
    /// earlier enter with their duration so far). By default 50 years before `data_end`.
    pub data_start: Option<String>,
    /// Name of the municipality (for reports).
    pub municipality: Option<String>,
}

/// What a source holds. The order of loading follows this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A code list (`[[codelist]]`); not allowed as a source kind.
    #[serde(rename = "codelist")]
    CodeList,
    Postcodes,
    Buurten,
    Persons,
    Spells,
    Assessments,
    Provisions,
    Profiles,
    Competences,
    Experience,
    Vacancies,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::CodeList => "codelist",
            Kind::Postcodes => "postcodes",
            Kind::Buurten => "buurten",
            Kind::Persons => "persons",
            Kind::Spells => "spells",
            Kind::Assessments => "assessments",
            Kind::Provisions => "provisions",
            Kind::Profiles => "profiles",
            Kind::Competences => "competences",
            Kind::Experience => "experience",
            Kind::Vacancies => "vacancies",
        }
    }

    /// Canonical fields of the kind: (field, required, type).
    pub fn fields(self) -> &'static [(&'static str, bool, FieldType)] {
        use FieldType::*;
        match self {
            Kind::CodeList => &[],
            Kind::Postcodes => &[
                ("postcode", true, Text),
                ("buurt", true, Text),
                ("wijk", true, Text),
            ],
            Kind::Buurten => &[
                ("buurt", true, Text),
                ("wijk", false, Text),
                ("name", false, Text),
                ("x", false, Decimal),
                ("y", false, Decimal),
            ],
            Kind::Persons => &[
                ("person_key", true, Text),
                ("birth_date", false, Date),
                ("sex", false, Text),
                ("postcode", false, Text),
                ("partner_key", false, Text),
            ],
            Kind::Spells => &[
                ("person_key", true, Text),
                ("start", true, Date),
                ("end", false, Date),
                ("end_reason", false, Text),
                ("spell_key", false, Text),
                ("scheme", false, Text),
                ("household_role", false, Text),
            ],
            Kind::Assessments => &[("person_key", true, Text), ("date", true, Date)],
            Kind::Provisions => &[
                ("person_key", true, Text),
                ("type", true, Text),
                ("start", true, Date),
                ("end", false, Date),
                ("end_reason", false, Text),
                ("cost", false, Decimal),
                ("provision_key", false, Text),
            ],
            Kind::Profiles | Kind::Competences | Kind::Experience => &[("person_key", true, Text)],
            Kind::Vacancies => &[
                ("vacancy_key", true, Text),
                ("buurt", false, Text),
                ("posted", false, Date),
            ],
        }
    }

    /// Kinds whose rows belong to a person (checked for orphans when persons are loaded).
    pub fn has_person(self) -> bool {
        !matches!(
            self,
            Kind::CodeList | Kind::Postcodes | Kind::Buurten | Kind::Vacancies
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Int,
    Decimal,
    Date,
    Bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    Csv,
    Xlsx,
    Parquet,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Table name in the store (lower case, letters, digits, underscores).
    pub name: String,
    pub kind: Kind,
    /// File path relative to `--input`, or a glob with `*` in the file name.
    pub file: String,
    #[serde(default)]
    pub format: Format,
    /// `auto`, `utf-8` or `windows-1252` (CSV only).
    #[serde(default = "auto")]
    pub encoding: String,
    /// `auto` or one character (CSV only); `\t` for TAB.
    #[serde(default = "auto")]
    pub delimiter: String,
    /// `dd-mm-jjjj`, `jjjj-mm-dd`, `dd/mm/jjjj` or `jjjjmmdd`.
    #[serde(default = "iso_dates")]
    pub date_format: String,
    /// `.` or `,`.
    #[serde(default = "point")]
    pub decimal: String,
    /// XLSX: sheet name (default: the first sheet) and the row with the column names.
    pub sheet: Option<String>,
    #[serde(default = "one")]
    pub header_row: u32,
    /// Whether `person_key` holds a BSN (checked with the elfproef). A client or dossier number
    /// is allowed instead: set this to false.
    #[serde(default = "yes")]
    pub person_key_is_bsn: bool,
    /// Canonical field → column name.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Columns that may enter the pseudonymised ADS, with their type. Every other column stays
    /// in the identifiable ODS only.
    #[serde(default)]
    pub features: BTreeMap<String, FieldType>,
    /// Allowed values per column; values are matched case-insensitively and written in the
    /// listed form (a case change is counted, an unknown value is quarantined).
    #[serde(default)]
    pub codes: BTreeMap<String, Vec<String>>,
    /// Columns that may hold a list of codes separated by this character (e.g. `|`).
    #[serde(default)]
    pub list_separator: Option<String>,
}

fn auto() -> String {
    "auto".into()
}
fn iso_dates() -> String {
    "jjjj-mm-dd".into()
}
fn point() -> String {
    ".".into()
}
fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}

/// A code list: local codes mapped to national ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeListConfig {
    /// `end_reasons` (local → BUS), `provision_types` (local → group → SRG), `inflow_reasons`,
    /// `competences` (the skills taxonomy: code → name, broader group) or `occupations`
    /// (occupation code → title, required competences).
    pub name: String,
    pub file: String,
    #[serde(default)]
    pub format: Format,
    pub sheet: Option<String>,
    #[serde(default = "one")]
    pub header_row: u32,
    #[serde(default = "auto")]
    pub encoding: String,
    #[serde(default = "auto")]
    pub delimiter: String,
    /// Column with the local code.
    pub local: String,
    /// Column with the national code (BUS for end reasons, SRG for provision types).
    pub national: Option<String>,
    /// Column with the local group (provision types).
    pub group: Option<String>,
    /// Column with a description.
    pub description: Option<String>,
    /// Column with the description of the group (competences: the broader concept's name).
    pub group_description: Option<String>,
    /// Column with competence codes separated by `|`: what a provision type teaches, or what an
    /// occupation requires (for client–vacancy matching, docs/advice.md).
    pub competences: Option<String>,
}

#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl IngestConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(format!(
                "{}: cannot read the configuration: {e}",
                path.display()
            ))
        })?;
        Self::parse(&text).map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
    }

    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let cfg: IngestConfig =
            toml::from_str(text).map_err(|e| ConfigError(e.to_string().trim().to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let mut names = std::collections::BTreeSet::new();
        for s in &self.sources {
            let ctx = format!("[[source]] '{}'", s.name);
            if s.kind == Kind::CodeList {
                return Err(ConfigError(format!(
                    "{ctx}: kind = \"codelist\" is for [[codelist]] sections, not sources"
                )));
            }
            if s.name.is_empty()
                || !s
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(ConfigError(format!(
                    "{ctx}: name must be lower case letters, digits and underscores"
                )));
            }
            if !names.insert(s.name.clone()) {
                return Err(ConfigError(format!("{ctx}: two sources have this name")));
            }
            let known: Vec<&str> = s.kind.fields().iter().map(|f| f.0).collect();
            for field in s.fields.keys() {
                if !known.contains(&field.as_str()) {
                    return Err(ConfigError(format!(
                        "{ctx}: unknown field '{field}' for kind {}; known fields: {}",
                        s.kind.name(),
                        known.join(", ")
                    )));
                }
            }
            for (field, required, _) in s.kind.fields() {
                if *required && !s.fields.contains_key(*field) {
                    return Err(ConfigError(format!("{ctx}: fields.{field} is required for kind {} (name the column that holds it)", s.kind.name())));
                }
            }
            if parse_date_format(&s.date_format).is_none() {
                return Err(ConfigError(format!("{ctx}: date_format '{}' is not one of dd-mm-jjjj, jjjj-mm-dd, dd/mm/jjjj, jjjjmmdd", s.date_format)));
            }
            if !matches!(s.decimal.as_str(), "." | ",") {
                return Err(ConfigError(format!(
                    "{ctx}: decimal must be \".\" or \",\""
                )));
            }
            if crate::read::csv::EncodingChoice::parse(&s.encoding).is_none() {
                return Err(ConfigError(format!(
                    "{ctx}: encoding '{}' is not auto, utf-8 or windows-1252",
                    s.encoding
                )));
            }
            if s.delimiter != "auto" && parse_delimiter(&s.delimiter).is_none() {
                return Err(ConfigError(format!(
                    "{ctx}: delimiter must be auto or one character (\\t for TAB)"
                )));
            }
            if s.header_row == 0 {
                return Err(ConfigError(format!("{ctx}: header_row counts from 1")));
            }
        }
        if !self.sources.iter().any(|s| s.kind == Kind::Persons)
            && self.sources.iter().any(|s| s.kind.has_person())
        {
            // Allowed, but then orphans cannot be checked: say so at load time, not here.
        }
        for c in &self.codelists {
            if !matches!(
                c.name.as_str(),
                "end_reasons"
                    | "provision_types"
                    | "provision_groups"
                    | "inflow_reasons"
                    | "competences"
                    | "occupations"
            ) {
                return Err(ConfigError(format!("[[codelist]] '{}': name must be end_reasons, provision_types, provision_groups, inflow_reasons, competences or occupations", c.name)));
            }
            if c.competences.is_some()
                && !matches!(c.name.as_str(), "provision_types" | "occupations")
            {
                return Err(ConfigError(format!("[[codelist]] '{}': competences (a column of competence codes) belongs to provision_types or occupations", c.name)));
            }
            if c.name == "end_reasons" && c.national.is_none() {
                return Err(ConfigError("[[codelist]] 'end_reasons': national (the column with the BUS code) is required".into()));
            }
            if c.name == "provision_types" && c.group.is_none() {
                return Err(ConfigError("[[codelist]] 'provision_types': group (the column with the local group) is required".into()));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFormat {
    DayMonthYearDash,
    Iso,
    DayMonthYearSlash,
    Compact,
}

pub fn parse_date_format(s: &str) -> Option<DateFormat> {
    match s.to_ascii_lowercase().replace("yyyy", "jjjj").as_str() {
        "dd-mm-jjjj" => Some(DateFormat::DayMonthYearDash),
        "jjjj-mm-dd" => Some(DateFormat::Iso),
        "dd/mm/jjjj" => Some(DateFormat::DayMonthYearSlash),
        "jjjjmmdd" => Some(DateFormat::Compact),
        _ => None,
    }
}

pub fn parse_delimiter(s: &str) -> Option<char> {
    if s == "\\t" || s == "\t" {
        return Some('\t');
    }
    let mut chars = s.chars();
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}
