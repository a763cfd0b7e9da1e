//! Validation with quarantine, in the order of `docs/defects.md`.

use crate::config::{
    parse_date_format, parse_delimiter, DateFormat, FieldType, Format, IngestConfig, Kind,
    SourceConfig,
};
use crate::fasthash::{FastMap, FastSet, KeyMap};
use crate::read::csv::{CsvOptions, CsvReader, EncodingChoice};
use crate::read::xlsx::XlsxReader;
use crate::read::{RawRecord, ReadError, RecordSource};
use inzicht_domain::{bsn, codes, Date};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::hash::Hasher;
use std::path::{Path, PathBuf};

/// A typed value on its way to the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    Date(Date),
    Bool(bool),
}

/// Where a column may go: `Ods` columns never reach the pseudonymised ADS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A canonical field (person key, dates, codes); the store decides how it enters the ADS.
    Canonical,
    /// Derived from a code list (BUS code, provision group, SRG type).
    Derived,
    /// A client characteristic the configuration allows into the ADS.
    Feature,
    /// Any other column: identifiable or unknown, kept in the ODS only.
    Ods,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub ty: FieldTypeName,
    pub role: Role,
    /// The column in the source file (empty for derived columns).
    pub source_column: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldTypeName {
    Text,
    Int,
    Decimal,
    Date,
    Bool,
}

impl From<FieldType> for FieldTypeName {
    fn from(t: FieldType) -> Self {
        match t {
            FieldType::Text => Self::Text,
            FieldType::Int => Self::Int,
            FieldType::Decimal => Self::Decimal,
            FieldType::Date => Self::Date,
            FieldType::Bool => Self::Bool,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableSchema {
    pub name: String,
    pub kind: Kind,
    pub columns: Vec<Column>,
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Quarantined {
    pub source: String,
    pub file: String,
    pub line: u64,
    pub reason: &'static str,
    pub column: Option<String>,
    pub detail: String,
    pub raw: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Normalisation {
    pub source: String,
    pub file: String,
    pub line: u64,
    pub column: String,
    /// `stray_whitespace` or `mixed_case` (the defect kinds of docs/defects.md).
    pub kind: &'static str,
    pub before: String,
    pub after: String,
}

/// The store side of ingest.
pub trait Sink {
    fn begin_table(&mut self, schema: &TableSchema) -> Result<(), String>;
    /// A loaded row of the table begun last, in the schema's column order, with the file and
    /// line it came from.
    fn row(&mut self, file: &str, line: u64, values: &[Value]) -> Result<(), String>;
    fn end_table(&mut self) -> Result<(), String>;
    fn quarantine(&mut self, q: &Quarantined) -> Result<(), String>;
    fn normalised(&mut self, n: &Normalisation) -> Result<(), String>;
}

/// Per file: what was read, loaded and quarantined, and why.
#[derive(Debug, Clone, Serialize)]
pub struct FileReconciliation {
    pub source: String,
    pub file: String,
    pub read_as: String,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    pub reasons: BTreeMap<String, u64>,
    /// Column → normalisation kind → count (values trimmed or case-folded, never quarantined).
    pub normalisations: BTreeMap<String, BTreeMap<String, u64>>,
    pub blank_lines_skipped: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reconciliation {
    pub files: Vec<FileReconciliation>,
    pub data_end: String,
    pub warnings: Vec<String>,
}

#[derive(Debug)]
pub enum IngestError {
    Read(ReadError),
    Config(String),
    Sink(String),
}

impl std::fmt::Display for IngestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IngestError::Read(e) => write!(f, "{e}"),
            IngestError::Config(m) => f.write_str(m),
            IngestError::Sink(m) => write!(f, "writing the store: {m}"),
        }
    }
}

impl std::error::Error for IngestError {}

impl From<ReadError> for IngestError {
    fn from(e: ReadError) -> Self {
        IngestError::Read(e)
    }
}

/// Opens Parquet files (the store provides this through DuckDB).
pub type ParquetOpener<'a> = &'a mut dyn FnMut(&Path) -> Result<Box<dyn RecordSource>, ReadError>;

#[derive(Debug, Clone)]
struct EndReason {
    local: String,
    bus: &'static str,
    class: &'static str,
}

#[derive(Debug, Clone)]
struct ProvisionType {
    local: String,
    group: String,
    srg: String,
}

#[derive(Default)]
struct CodeLists {
    end_reasons: FastMap<String, EndReason>,
    provision_types: FastMap<String, ProvisionType>,
    inflow_reasons: FastMap<String, String>,
}

/// State shared across sources: who exists, and their spells.
#[derive(Default)]
struct Linkage {
    persons_loaded: bool,
    persons: KeyMap<()>,
    spells_loaded: bool,
    spells: KeyMap<Vec<(Date, Option<Date>)>>,
}

fn class_name(c: codes::EndReasonClass) -> &'static str {
    use codes::EndReasonClass::*;
    match c {
        Work => "work",
        School => "school",
        Income => "income",
        MovedAway => "moved_away",
        Competing => "competing",
    }
}

fn open_source(
    path: &Path,
    format: Format,
    encoding: &str,
    delimiter: &str,
    sheet: Option<&str>,
    header_row: u32,
    parquet: ParquetOpener,
) -> Result<Box<dyn RecordSource>, ReadError> {
    match format {
        Format::Csv => {
            let options = CsvOptions {
                encoding: EncodingChoice::parse(encoding).unwrap_or(EncodingChoice::Auto),
                delimiter: if delimiter == "auto" {
                    None
                } else {
                    parse_delimiter(delimiter)
                },
            };
            Ok(Box::new(CsvReader::open(path, options)?))
        }
        Format::Xlsx => Ok(Box::new(XlsxReader::open(path, sheet, header_row)?)),
        Format::Parquet => parquet(path),
    }
}

/// Expands `file` (relative to `input`; `*` allowed in the file name) to existing files.
fn expand(input: &Path, file: &str, what: &str) -> Result<Vec<PathBuf>, IngestError> {
    let full = input.join(file);
    let name = full
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains('*') {
        if !full.is_file() {
            return Err(IngestError::Config(format!(
                "{what}: file {} does not exist (paths are relative to --input {})",
                full.display(),
                input.display()
            )));
        }
        return Ok(vec![full]);
    }
    let dir = full
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| input.to_path_buf());
    let (prefix, suffix) = name.split_once('*').unwrap_or((&name, ""));
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| IngestError::Config(format!("{what}: cannot list {}: {e}", dir.display())))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            p.is_file()
                && n.starts_with(prefix)
                && n.ends_with(suffix)
                && n.len() >= prefix.len() + suffix.len()
        })
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(IngestError::Config(format!(
            "{what}: no file matches {}",
            full.display()
        )));
    }
    Ok(out)
}

fn relative(input: &Path, path: &Path) -> String {
    path.strip_prefix(input)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn column_index(
    header: &[String],
    column: &str,
    file: &Path,
    what: &str,
) -> Result<usize, IngestError> {
    header.iter().position(|h| h.eq_ignore_ascii_case(column.trim())).ok_or_else(|| {
        let shown: Vec<&str> = header.iter().take(12).map(String::as_str).collect();
        let hint = if header.len() == 1 && (header[0].contains(';') || header[0].contains(',')) { " — the header has one column: is the delimiter wrong? set delimiter" } else { "" };
        IngestError::Read(
            ReadError::new(file, Some(1), format!("{what}: column '{column}' is not in the header ({}{}){hint}; fix the column name in the configuration", shown.join(", "), if header.len() > 12 { ", …" } else { "" }))
                .with_column(column),
        )
    })
}

fn load_codelists(
    cfg: &IngestConfig,
    input: &Path,
    sink: &mut dyn Sink,
    parquet: ParquetOpener,
    rec: &mut Vec<FileReconciliation>,
) -> Result<CodeLists, IngestError> {
    let mut lists = CodeLists::default();
    for c in &cfg.codelists {
        let what = format!("[[codelist]] '{}'", c.name);
        for path in expand(input, &c.file, &what)? {
            let mut src = open_source(
                &path,
                c.format,
                &c.encoding,
                &c.delimiter,
                c.sheet.as_deref(),
                c.header_row,
                &mut *parquet,
            )?;
            let header = src.header().to_vec();
            let li = column_index(&header, &c.local, &path, &what)?;
            let ni = c
                .national
                .as_deref()
                .map(|n| column_index(&header, n, &path, &what))
                .transpose()?;
            let gi = c
                .group
                .as_deref()
                .map(|n| column_index(&header, n, &path, &what))
                .transpose()?;
            let di = c
                .description
                .as_deref()
                .map(|n| column_index(&header, n, &path, &what))
                .transpose()?;
            let gdi = c
                .group_description
                .as_deref()
                .map(|n| column_index(&header, n, &path, &what))
                .transpose()?;
            let ci = c
                .competences
                .as_deref()
                .map(|n| column_index(&header, n, &path, &what))
                .transpose()?;
            let table = format!("codes_{}", c.name);
            let mut columns = vec![("local_code", FieldTypeName::Text)];
            if ni.is_some() {
                columns.push(("national_code", FieldTypeName::Text));
            }
            if gi.is_some() {
                columns.push(("group_code", FieldTypeName::Text));
            }
            if c.name == "end_reasons" {
                columns.push(("end_class", FieldTypeName::Text));
            }
            if gdi.is_some() {
                columns.push(("group_description", FieldTypeName::Text));
            }
            if ci.is_some() {
                columns.push(("competences", FieldTypeName::Text));
            }
            columns.push(("description", FieldTypeName::Text));
            sink.begin_table(&TableSchema {
                name: table,
                kind: Kind::CodeList,
                columns: columns
                    .iter()
                    .map(|(n, t)| Column {
                        name: n.to_string(),
                        ty: *t,
                        role: Role::Derived,
                        source_column: String::new(),
                    })
                    .collect(),
            })
            .map_err(IngestError::Sink)?;
            let mut fr = FileReconciliation {
                source: c.name.clone(),
                file: relative(input, &path),
                read_as: src.describe(),
                rows_read: 0,
                rows_loaded: 0,
                rows_quarantined: 0,
                reasons: BTreeMap::new(),
                normalisations: BTreeMap::new(),
                blank_lines_skipped: 0,
            };
            while let Some(r) = src.next_record() {
                let r = r?;
                fr.rows_read += 1;
                let get = |i: Option<usize>| {
                    i.and_then(|i| r.fields.get(i))
                        .map(|s| s.trim().to_string())
                        .unwrap_or_default()
                };
                let local = get(Some(li));
                if local.is_empty() {
                    return Err(IngestError::Read(
                        ReadError::new(&path, Some(r.line), format!("{what}: empty local code"))
                            .with_column(c.local.clone()),
                    ));
                }
                let national = get(ni);
                let mut values = vec![Value::Text(local.clone())];
                if ni.is_some() {
                    values.push(Value::Text(national.clone()));
                }
                match c.name.as_str() {
                    "end_reasons" => {
                        let padded = if national.len() == 1 {
                            format!("0{national}")
                        } else {
                            national.clone()
                        };
                        let bus = codes::bus_end_reason(&padded).ok_or_else(|| {
                            IngestError::Read(ReadError::new(&path, Some(r.line), format!("{what}: '{national}' is not a BUS end-reason code (shared/domain.md §3)")).with_column(c.national.clone().unwrap_or_default()))
                        })?;
                        values[1] = Value::Text(bus.code.to_string());
                        values.push(Value::Text(class_name(bus.class).to_string()));
                        lists.end_reasons.insert(
                            local.to_uppercase(),
                            EndReason {
                                local: local.clone(),
                                bus: bus.code,
                                class: class_name(bus.class),
                            },
                        );
                    }
                    "provision_types" => {
                        let group = get(gi);
                        values.push(Value::Text(group.clone()));
                        if !national.is_empty() && codes::srg_type(&national).is_none() {
                            return Err(IngestError::Read(ReadError::new(
                                &path,
                                Some(r.line),
                                format!("{what}: '{national}' is not an SRG provision type"),
                            )));
                        }
                        lists.provision_types.insert(
                            local.to_uppercase(),
                            ProvisionType {
                                local: local.clone(),
                                group,
                                srg: national.clone(),
                            },
                        );
                    }
                    "inflow_reasons" => {
                        lists
                            .inflow_reasons
                            .insert(local.to_uppercase(), local.clone());
                    }
                    _ => {
                        if gi.is_some() {
                            values.push(Value::Text(get(gi)));
                        }
                    }
                }
                if gdi.is_some() {
                    values.push(Value::Text(get(gdi)));
                }
                if ci.is_some() {
                    // Codes as written, `|`-separated, trimmed; checked against the taxonomy
                    // by the matching (an unknown code is reported there, not here).
                    let list: Vec<String> = get(ci)
                        .split('|')
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect();
                    values.push(Value::Text(list.join("|")));
                }
                values.push(Value::Text(get(di)));
                sink.row(&fr.file, r.line, &values)
                    .map_err(IngestError::Sink)?;
                fr.rows_loaded += 1;
            }
            sink.end_table().map_err(IngestError::Sink)?;
            rec.push(fr);
        }
    }
    Ok(lists)
}

/// SQL-friendly column name for a canonical field.
fn canonical_column(field: &str) -> &str {
    match field {
        "start" => "start_date",
        "end" => "end_date",
        "date" => "event_date",
        "type" => "type_code",
        "name" => "buurt_name",
        other => other,
    }
}

/// Lower-case letters, digits and underscores.
pub fn sql_name(s: &str) -> String {
    let mut out: String = s
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'c');
    }
    out
}

enum Slot {
    Canonical { ty: FieldType, index: usize },
    Feature { ty: FieldType, index: usize },
    Ods { index: usize },
    EndReasonBus,
    EndClass,
    ProvisionGroup,
    ProvisionSrg,
}

fn parse_date(s: &str, f: DateFormat) -> Option<Date> {
    match f {
        DateFormat::Iso => Date::parse_iso(s),
        DateFormat::DayMonthYearDash => Date::parse_dutch(s),
        DateFormat::DayMonthYearSlash => Date::parse_dutch(&s.replace('/', "-")),
        DateFormat::Compact => {
            if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Date::new(
                s[0..4].parse().ok()?,
                s[4..6].parse().ok()?,
                s[6..8].parse().ok()?,
            )
        }
    }
    .or_else(|| {
        // Exports sometimes add a time of day: "2016-03-01 00:00:00".
        let (d, _) = s.split_once([' ', 'T'])?;
        parse_date(d, f)
    })
}

fn parse_decimal(s: &str, comma: bool) -> Option<f64> {
    let t = if comma {
        s.replace('.', "").replace(',', ".")
    } else {
        s.replace(',', "")
    };
    t.parse::<f64>().ok().filter(|x| x.is_finite())
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_lowercase().as_str() {
        "ja" | "j" | "yes" | "y" | "true" | "waar" | "1" => Some(true),
        "nee" | "n" | "no" | "false" | "onwaar" | "0" => Some(false),
        _ => None,
    }
}

fn row_hash(fields: &[String], bytes: &mut Vec<u8>) -> (u64, u64) {
    // The fields written one after the other, each closed by 0xFF (a byte UTF-8 text never
    // holds, so that no two different rows give the same bytes), and hashed in one call per
    // hasher: a call per field cost SipHash its per-call overhead on every short field.
    bytes.clear();
    for f in fields {
        bytes.extend_from_slice(f.as_bytes());
        bytes.push(0xFF);
    }
    let mut a = std::collections::hash_map::DefaultHasher::new();
    let mut b = std::collections::hash_map::DefaultHasher::new();
    b.write_u16(0xA5A5);
    a.write(bytes);
    b.write(bytes);
    (a.finish(), b.finish())
}

struct Rejection {
    reason: &'static str,
    column: Option<String>,
    detail: String,
}

fn reject(reason: &'static str, column: &str, detail: String) -> Rejection {
    Rejection {
        reason,
        column: (!column.is_empty()).then(|| column.to_string()),
        detail,
    }
}

struct SourcePlan<'a> {
    cfg: &'a SourceConfig,
    slots: Vec<Slot>,
    schema: TableSchema,
    date_format: DateFormat,
    comma: bool,
    /// Column index → allowed values (upper-case key → listed form).
    codes: FastMap<usize, FastMap<String, String>>,
    field_index: FastMap<&'static str, usize>,
    /// The columns of the fields every row looks at, found once per file (a lookup by name
    /// per row and field hashed the name each time).
    at: FieldColumns,
}

/// Column positions of the canonical fields the row checks use.
struct FieldColumns {
    person_key: Option<usize>,
    start: Option<usize>,
    end: Option<usize>,
    end_reason: Option<usize>,
    provision_type: Option<usize>,
    /// The required fields the configuration maps, with their column.
    required: Vec<(&'static str, usize)>,
}

fn plan<'a>(
    s: &'a SourceConfig,
    header: &[String],
    path: &Path,
) -> Result<SourcePlan<'a>, IngestError> {
    let what = format!("[[source]] '{}'", s.name);
    let mut slots = Vec::new();
    let mut columns = Vec::new();
    let mut used = HashSet::new();
    let mut field_index = FastMap::default();
    for (field, _, ty) in s.kind.fields() {
        if let Some(col) = s.fields.get(*field) {
            let index = column_index(header, col, path, &what)?;
            used.insert(index);
            field_index.insert(*field, index);
            slots.push(Slot::Canonical { ty: *ty, index });
            columns.push(Column {
                name: canonical_column(field).to_string(),
                ty: (*ty).into(),
                role: Role::Canonical,
                source_column: header[index].clone(),
            });
            if s.kind == Kind::Spells && *field == "end_reason" {
                slots.push(Slot::EndReasonBus);
                columns.push(Column {
                    name: "end_reason_bus".into(),
                    ty: FieldTypeName::Text,
                    role: Role::Derived,
                    source_column: String::new(),
                });
                slots.push(Slot::EndClass);
                columns.push(Column {
                    name: "end_class".into(),
                    ty: FieldTypeName::Text,
                    role: Role::Derived,
                    source_column: String::new(),
                });
            }
            if s.kind == Kind::Provisions && *field == "type" {
                slots.push(Slot::ProvisionGroup);
                columns.push(Column {
                    name: "group_code".into(),
                    ty: FieldTypeName::Text,
                    role: Role::Derived,
                    source_column: String::new(),
                });
                slots.push(Slot::ProvisionSrg);
                columns.push(Column {
                    name: "srg_code".into(),
                    ty: FieldTypeName::Text,
                    role: Role::Derived,
                    source_column: String::new(),
                });
            }
        }
    }
    let mut names: HashSet<String> = columns.iter().map(|c| c.name.clone()).collect();
    for (col, ty) in &s.features {
        let index = column_index(header, col, path, &what)?;
        if !used.insert(index) {
            return Err(IngestError::Config(format!(
                "{what}: column '{col}' is both a field and a feature"
            )));
        }
        let name = sql_name(col);
        if !names.insert(name.clone()) {
            return Err(IngestError::Config(format!(
                "{what}: feature '{col}' collides with another column name ({name})"
            )));
        }
        slots.push(Slot::Feature { ty: *ty, index });
        columns.push(Column {
            name,
            ty: (*ty).into(),
            role: Role::Feature,
            source_column: header[index].clone(),
        });
    }
    for (index, h) in header.iter().enumerate() {
        if used.contains(&index) || h.is_empty() {
            continue;
        }
        let mut name = sql_name(h);
        while !names.insert(name.clone()) {
            name.push('_');
        }
        slots.push(Slot::Ods { index });
        columns.push(Column {
            name,
            ty: FieldTypeName::Text,
            role: Role::Ods,
            source_column: h.clone(),
        });
    }
    let mut codes = FastMap::default();
    for (col, values) in &s.codes {
        let index = column_index(header, col, path, &what)?;
        codes.insert(
            index,
            values
                .iter()
                .map(|v| (v.trim().to_uppercase(), v.trim().to_string()))
                .collect(),
        );
    }
    Ok(SourcePlan {
        cfg: s,
        slots,
        schema: TableSchema {
            name: s.name.clone(),
            kind: s.kind,
            columns,
        },
        date_format: parse_date_format(&s.date_format).unwrap_or(DateFormat::Iso),
        comma: s.decimal == ",",
        codes,
        at: FieldColumns {
            person_key: field_index.get("person_key").copied(),
            start: field_index.get("start").copied(),
            end: field_index.get("end").copied(),
            end_reason: field_index.get("end_reason").copied(),
            provision_type: field_index.get("type").copied(),
            required: s
                .kind
                .fields()
                .iter()
                .filter(|(_, required, _)| *required)
                .filter_map(|(f, _, _)| field_index.get(f).map(|&i| (*f, i)))
                .collect(),
        },
        field_index,
    })
}

struct RowOutcome {
    values: Vec<Value>,
    normalisations: Vec<(String, &'static str, String, String)>,
}

fn validate_row(
    p: &SourcePlan,
    header: &[String],
    r: &RawRecord,
    lists: &CodeLists,
    link: &Linkage,
    seen: &mut FastSet<(u64, u64)>,
    hash_bytes: &mut Vec<u8>,
) -> Result<RowOutcome, Rejection> {
    let kind = p.cfg.kind;
    if r.fields.len() != header.len() {
        return Err(reject(
            "wrong_field_count",
            "",
            format!(
                "{} fields where the header has {}",
                r.fields.len(),
                header.len()
            ),
        ));
    }
    let mut normalisations = Vec::new();
    // The trimmed fields, borrowed from the record (no copy per field).
    let mut cells: Vec<&str> = Vec::with_capacity(r.fields.len());
    for (i, f) in r.fields.iter().enumerate() {
        let t = f.trim();
        if t.len() != f.len() && !t.is_empty() {
            normalisations.push((
                header[i].clone(),
                "stray_whitespace",
                f.clone(),
                t.to_string(),
            ));
        }
        cells.push(t);
    }
    let field = |at: Option<usize>| at.map(|i| cells[i]).unwrap_or("");
    let col_of = |at: Option<usize>| at.map(|i| header[i].clone()).unwrap_or_default();
    // 1. missing required fields.
    for &(f, i) in &p.at.required {
        if cells[i].is_empty() {
            return Err(reject(
                "missing_required",
                &header[i],
                format!("required {f} is empty"),
            ));
        }
    }
    // 2. dates (by column; so are the normalised codes and the numbers below).
    let mut dates: Vec<Option<Date>> = vec![None; cells.len()];
    for slot in &p.slots {
        let (index, is_date) = match slot {
            Slot::Canonical {
                ty: FieldType::Date,
                index,
                ..
            }
            | Slot::Feature {
                ty: FieldType::Date,
                index,
            } => (*index, true),
            _ => (0, false),
        };
        if !is_date || cells[index].is_empty() {
            continue;
        }
        match parse_date(cells[index], p.date_format) {
            Some(d) if (1900..=2100).contains(&d.year) => {
                dates[index] = Some(d);
            }
            Some(_) => {
                return Err(reject(
                    "implausible_date",
                    &header[index],
                    format!("date {} lies outside 1900–2100", cells[index]),
                ))
            }
            None => {
                return Err(reject(
                    "invalid_date",
                    &header[index],
                    format!(
                        "'{}' is not a date in the format {}",
                        cells[index], p.cfg.date_format
                    ),
                ))
            }
        }
    }
    // 3. BSN.
    if kind.has_person() && p.cfg.person_key_is_bsn && !bsn::is_valid(field(p.at.person_key)) {
        return Err(reject(
            "bsn_elfproef",
            &col_of(p.at.person_key),
            format!("BSN {} fails the elfproef", field(p.at.person_key)),
        ));
    }
    // 4. codes.
    let mut end_reason: Option<&EndReason> = None;
    let mut provision_type: Option<&ProvisionType> = None;
    let mut coded: Vec<Option<String>> = vec![None; cells.len()];
    // A canonical code checked against a code list: a case difference is normalised and
    // counted, an unknown code quarantines the row.
    let mut lookup = |at: Option<usize>,
                      what: &str,
                      local_of: &dyn Fn(&str) -> Option<String>|
     -> Result<(), Rejection> {
        let value = field(at);
        match local_of(&value.to_uppercase()) {
            Some(local) => {
                if local != value {
                    normalisations.push((
                        col_of(at),
                        "mixed_case",
                        value.to_string(),
                        local.clone(),
                    ));
                    if let Some(i) = at {
                        coded[i] = Some(local);
                    }
                }
                Ok(())
            }
            None => Err(reject(
                "unknown_code",
                &col_of(at),
                format!("{what} '{value}' is not in the code list"),
            )),
        }
    };
    if kind == Kind::Spells && !field(p.at.end_reason).is_empty() && !lists.end_reasons.is_empty() {
        lookup(p.at.end_reason, "end reason", &|k| {
            lists.end_reasons.get(k).map(|e| e.local.clone())
        })?;
        end_reason = lists
            .end_reasons
            .get(&field(p.at.end_reason).to_uppercase());
    }
    if kind == Kind::Provisions && !lists.provision_types.is_empty() {
        lookup(p.at.provision_type, "provision type", &|k| {
            lists.provision_types.get(k).map(|t| t.local.clone())
        })?;
        provision_type = lists
            .provision_types
            .get(&field(p.at.provision_type).to_uppercase());
    }
    for (index, allowed) in &p.codes {
        let v: &str = cells[*index];
        if v.is_empty() {
            continue;
        }
        let items: Vec<&str> = match &p.cfg.list_separator {
            Some(sep) if !sep.is_empty() => v.split(sep.as_str()).map(str::trim).collect(),
            _ => vec![v],
        };
        let mut canonical = Vec::with_capacity(items.len());
        for item in items {
            match allowed.get(&item.to_uppercase()) {
                Some(c) => canonical.push(c.clone()),
                None => {
                    return Err(reject(
                        "unknown_code",
                        &header[*index],
                        format!("'{item}' is not an allowed value of {}", header[*index]),
                    ))
                }
            }
        }
        let joined = canonical.join(p.cfg.list_separator.as_deref().unwrap_or(""));
        if joined != v {
            normalisations.push((
                header[*index].clone(),
                "mixed_case",
                v.to_string(),
                joined.clone(),
            ));
            coded[*index] = Some(joined);
        }
    }
    // Numbers.
    let mut numbers: Vec<Option<Value>> = vec![None; cells.len()];
    for slot in &p.slots {
        let (index, ty) = match slot {
            Slot::Canonical { ty, index, .. } | Slot::Feature { ty, index } => (*index, *ty),
            _ => continue,
        };
        let v: &str = coded[index].as_deref().unwrap_or(cells[index]);
        if v.is_empty() {
            continue;
        }
        let parsed = match ty {
            FieldType::Int => v.parse::<i64>().ok().map(Value::Int).or_else(|| {
                parse_decimal(v, p.comma)
                    .filter(|x| x.fract() == 0.0)
                    .map(|x| Value::Int(x as i64))
            }),
            FieldType::Decimal => parse_decimal(v, p.comma).map(Value::Float),
            FieldType::Bool => parse_bool(v).map(Value::Bool),
            _ => continue,
        };
        match parsed {
            Some(x) => {
                numbers[index] = Some(x);
            }
            None => {
                return Err(reject(
                    "invalid_number",
                    &header[index],
                    format!("'{v}' is not a valid {ty:?} value").to_lowercase(),
                ))
            }
        }
    }
    // 5. end before start.
    let start = p.at.start.and_then(|i| dates[i]);
    let end = p.at.end.and_then(|i| dates[i]);
    if let (Some(s), Some(e)) = (start, end) {
        if e < s {
            return Err(reject(
                "end_before_start",
                &col_of(p.at.end),
                format!("end {e} before start {s}"),
            ));
        }
    }
    // 6. duplicates (the raw fields, before normalisation).
    if !seen.insert(row_hash(&r.fields, hash_bytes)) {
        return Err(reject(
            "duplicate_row",
            "",
            "an exact copy of an earlier row".into(),
        ));
    }
    // 7. orphans.
    let key = field(p.at.person_key);
    if kind.has_person()
        && kind != Kind::Persons
        && link.persons_loaded
        && !link.persons.contains_key(key)
    {
        return Err(reject(
            "orphan_person",
            &col_of(p.at.person_key),
            format!("{key} has no person row"),
        ));
    }
    // 8–9. spells and provisions against spells.
    if kind == Kind::Spells {
        if let (Some(s), Some(list)) = (start, link.spells.get(key)) {
            let far = Date {
                year: 9999,
                month: 12,
                day: 31,
            };
            if list
                .iter()
                .any(|(a, b)| s <= b.unwrap_or(far) && *a <= end.unwrap_or(far))
            {
                return Err(reject(
                    "overlapping_spell",
                    &col_of(p.at.start),
                    format!("spell from {s} overlaps an earlier spell of this person"),
                ));
            }
        }
    }
    if kind == Kind::Provisions && link.spells_loaded {
        let s = start.unwrap_or(Date {
            year: 1900,
            month: 1,
            day: 1,
        });
        let inside = link.spells.get(key).is_some_and(|list| {
            list.iter()
                .any(|(a, b)| *a <= s && b.is_none_or(|b| s <= b))
        });
        if !inside {
            return Err(reject(
                "provision_outside_spell",
                &col_of(p.at.start),
                format!("provision starting {s} lies outside every spell of this person"),
            ));
        }
    }
    // Build the values.
    let values = p
        .slots
        .iter()
        .map(|slot| match slot {
            Slot::Canonical { ty, index, .. } | Slot::Feature { ty, index } => {
                let v: &str = coded[*index].as_deref().unwrap_or(cells[*index]);
                if v.is_empty() {
                    Value::Null
                } else {
                    match ty {
                        FieldType::Date => dates[*index].map(Value::Date).unwrap_or(Value::Null),
                        FieldType::Text => Value::Text(v.to_string()),
                        _ => numbers[*index].clone().unwrap_or(Value::Null),
                    }
                }
            }
            Slot::Ods { index } => {
                let v: &str = coded[*index].as_deref().unwrap_or(cells[*index]);
                if v.is_empty() {
                    Value::Null
                } else {
                    Value::Text(v.to_string())
                }
            }
            Slot::EndReasonBus => end_reason
                .map(|e| Value::Text(e.bus.to_string()))
                .unwrap_or(Value::Null),
            Slot::EndClass => end_reason
                .map(|e| Value::Text(e.class.to_string()))
                .unwrap_or(Value::Null),
            Slot::ProvisionGroup => provision_type
                .map(|t| Value::Text(t.group.clone()))
                .unwrap_or(Value::Null),
            Slot::ProvisionSrg => provision_type
                .map(|t| Value::Text(t.srg.clone()))
                .filter(|v| *v != Value::Text(String::new()))
                .unwrap_or(Value::Null),
        })
        .collect();
    Ok(RowOutcome {
        values,
        normalisations,
    })
}

/// Reads and validates every source, in the order geography → persons → spells → the rest.
pub fn run(
    cfg: &IngestConfig,
    input: &Path,
    sink: &mut dyn Sink,
    parquet: ParquetOpener,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<Reconciliation, IngestError> {
    let mut rec = Vec::new();
    let lists = load_codelists(cfg, input, sink, &mut *parquet, &mut rec)?;
    let mut link = Linkage::default();
    let mut order: Vec<&SourceConfig> = cfg.sources.iter().collect();
    order.sort_by_key(|s| s.kind);
    let mut warnings = Vec::new();
    if !cfg.sources.iter().any(|s| s.kind == Kind::Persons) {
        warnings.push("no persons source: orphan references cannot be checked".to_string());
    }
    let mut latest: Option<Date> = None;
    for s in order {
        let what = format!("[[source]] '{}'", s.name);
        let mut schema_begun = false;
        let mut first_header: Option<Vec<String>> = None;
        for path in expand(input, &s.file, &what)? {
            let mut src = open_source(
                &path,
                s.format,
                &s.encoding,
                &s.delimiter,
                s.sheet.as_deref(),
                s.header_row,
                &mut *parquet,
            )?;
            let header = src.header().to_vec();
            let p = plan(s, &header, &path)?;
            match &first_header {
                None => first_header = Some(header.clone()),
                Some(h) if h != &header => {
                    return Err(IngestError::Read(ReadError::new(&path, Some(1), format!("{what}: this file's columns differ from the first file of the glob; all files of one source need the same header"))));
                }
                _ => {}
            }
            if !schema_begun {
                sink.begin_table(&p.schema).map_err(IngestError::Sink)?;
                schema_begun = true;
            }
            let file = relative(input, &path);
            let mut fr = FileReconciliation {
                source: s.name.clone(),
                file: file.clone(),
                read_as: src.describe(),
                rows_read: 0,
                rows_loaded: 0,
                rows_quarantined: 0,
                reasons: BTreeMap::new(),
                normalisations: BTreeMap::new(),
                blank_lines_skipped: 0,
            };
            let mut seen = FastSet::default();
            let mut hash_bytes = Vec::new();
            while let Some(r) = src.next_record() {
                let r = r?;
                fr.rows_read += 1;
                if fr.rows_read.is_multiple_of(100_000) {
                    progress(&s.name, fr.rows_read);
                }
                match validate_row(&p, &header, &r, &lists, &link, &mut seen, &mut hash_bytes) {
                    Ok(out) => {
                        for (column, kind, before, after) in out.normalisations {
                            *fr.normalisations
                                .entry(column.clone())
                                .or_default()
                                .entry(kind.to_string())
                                .or_default() += 1;
                            sink.normalised(&Normalisation {
                                source: s.name.clone(),
                                file: file.clone(),
                                line: r.line,
                                column,
                                kind,
                                before,
                                after,
                            })
                            .map_err(IngestError::Sink)?;
                        }
                        // The person key, for the links of the sources read next (only persons
                        // and spells are linked to).
                        let key = || p.at.person_key.map(|i| r.fields[i].trim().to_string());
                        match s.kind {
                            Kind::Persons => {
                                if let Some(k) = key() {
                                    link.persons.entry_or_default(k);
                                }
                            }
                            Kind::Spells => {
                                let get = |f: &str| {
                                    p.field_index.get(f).and_then(|&i| {
                                        parse_date(r.fields[i].trim(), p.date_format)
                                    })
                                };
                                if let (Some(k), Some(st)) = (key(), get("start")) {
                                    let en = get("end");
                                    latest = latest.max(Some(en.unwrap_or(st)).max(Some(st)));
                                    link.spells.entry_or_default(k).push((st, en));
                                }
                            }
                            _ => {}
                        }
                        sink.row(&file, r.line, &out.values)
                            .map_err(IngestError::Sink)?;
                        fr.rows_loaded += 1;
                        src.recycle(r);
                    }
                    Err(rej) => {
                        fr.rows_quarantined += 1;
                        *fr.reasons.entry(rej.reason.to_string()).or_default() += 1;
                        sink.quarantine(&Quarantined {
                            source: s.name.clone(),
                            file: file.clone(),
                            line: r.line,
                            reason: rej.reason,
                            column: rej.column,
                            detail: rej.detail,
                            raw: r.fields,
                        })
                        .map_err(IngestError::Sink)?;
                    }
                }
            }
            fr.blank_lines_skipped = src.blank_lines();
            debug_assert_eq!(fr.rows_read, fr.rows_loaded + fr.rows_quarantined);
            rec.push(fr);
        }
        if schema_begun {
            sink.end_table().map_err(IngestError::Sink)?;
        }
        match s.kind {
            Kind::Persons => link.persons_loaded = true,
            Kind::Spells => link.spells_loaded = true,
            _ => {}
        }
    }
    let data_end = match &cfg.load.data_end {
        Some(m) => inzicht_domain::Month::parse(m).ok_or_else(|| {
            IngestError::Config(format!("[load] data_end '{m}' is not a month YYYY-MM"))
        })?,
        None => latest.map(|d| d.month_of()).ok_or_else(|| {
            IngestError::Config(
                "no spell dates loaded and no [load] data_end set: cannot tell where the data ends"
                    .into(),
            )
        })?,
    };
    Ok(Reconciliation {
        files: rec,
        data_end: data_end.to_string(),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn numbers_and_dates() {
        assert_eq!(parse_decimal("1.234,56", true), Some(1234.56));
        assert_eq!(parse_decimal("1234.56", false), Some(1234.56));
        assert_eq!(parse_decimal("abc", false), None);
        assert_eq!(
            parse_date("01-03-2016", DateFormat::DayMonthYearDash),
            Date::new(2016, 3, 1)
        );
        assert_eq!(
            parse_date("2016-03-01 00:00:00", DateFormat::Iso),
            Date::new(2016, 3, 1)
        );
        assert_eq!(
            parse_date("20160301", DateFormat::Compact),
            Date::new(2016, 3, 1)
        );
        assert_eq!(parse_date("31-02-2016", DateFormat::DayMonthYearDash), None);
        assert_eq!(sql_name("Reden ontheffing"), "reden_ontheffing");
        assert_eq!(sql_name("2e taal"), "c2e_taal");
    }
}

/// A sink that keeps only counts, quarantined rows and normalisations: for checking exports
/// without writing a store (`inzicht ingest --check`) and for tests.
#[derive(Debug, Default)]
pub struct CheckSink {
    pub tables: BTreeMap<String, u64>,
    pub quarantined: Vec<Quarantined>,
    pub normalisations: Vec<Normalisation>,
    current: Option<String>,
}

impl Sink for CheckSink {
    fn begin_table(&mut self, schema: &TableSchema) -> Result<(), String> {
        self.tables.entry(schema.name.clone()).or_default();
        self.current = Some(schema.name.clone());
        Ok(())
    }
    fn row(&mut self, _file: &str, _line: u64, _values: &[Value]) -> Result<(), String> {
        let t = self.current.clone().ok_or("row outside a table")?;
        *self.tables.entry(t).or_default() += 1;
        Ok(())
    }
    fn end_table(&mut self) -> Result<(), String> {
        self.current = None;
        Ok(())
    }
    fn quarantine(&mut self, q: &Quarantined) -> Result<(), String> {
        self.quarantined.push(q.clone());
        Ok(())
    }
    fn normalised(&mut self, n: &Normalisation) -> Result<(), String> {
        self.normalisations.push(n.clone());
        Ok(())
    }
}
