//! `inzicht table`: a protected pivot over the ADS person-month panel (docs/table.md).
//!
//! A query selects person-months (`--where`), groups them by dimensions (`--by`) and measures
//! each cell: `count` (distinct persons), `person_months`, `sum:VAR`, `mean:VAR`. Every cell
//! leaves through [`inzicht_protect`]: the true number of distinct persons, the sum of their
//! record keys (from the file beside the key file) and, for magnitudes, the total and the two
//! largest per-person contributions are computed in SQL; the protector decides what is shown.
//! The output is the full cross product of the dimensions' levels, so an empty cell looks the
//! same as a suppressed one. The total is computed and protected on its own.

use crate::filter::{self, DimKind, Resolve};
use crate::snapshot::Store;
use crate::{ident, literal, StoreError};
use duckdb::Connection;
use inzicht_protect::querylog::{Decision, QueryLog, SetSketch, SKETCH_SIZE};
use inzicht_protect::{CellInput, Flag, Magnitude, Protector, Shown};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The largest table `inzicht table` builds.
pub const MAX_CELLS: usize = 50_000;

/// Where a dimension's levels come from.
#[derive(Debug, Clone)]
enum Domain {
    Fixed(Vec<String>),
    /// `SELECT DISTINCT` of this SQL (reference tables, code lists, or data).
    Query(String),
}

#[derive(Debug, Clone)]
pub struct Dimension {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub label_nl: &'static str,
    pub label_en: &'static str,
    sql: String,
    pub kind: DimKind,
    domain: Domain,
    joins: Joins,
}

impl Dimension {
    /// Dimensions that always have a value get no "missing" level.
    fn nullable(&self) -> bool {
        !matches!(self.name, "month" | "year" | "outflow") && self.kind != DimKind::List
    }
}

#[derive(Debug, Clone)]
pub struct Variable {
    pub name: &'static str,
    pub label_nl: &'static str,
    sql: String,
    joins: Joins,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Joins {
    persons: bool,
    spells: bool,
}

impl Joins {
    fn or(self, o: Joins) -> Joins {
        Joins {
            persons: self.persons || o.persons,
            spells: self.spells || o.spells,
        }
    }
}

/// What can be tabulated in this ADS (depends on the configured sources and features).
pub struct Catalogue {
    pub dimensions: Vec<Dimension>,
    pub variables: Vec<Variable>,
    persons_table: Option<String>,
    spells_table: Option<String>,
}

impl Resolve for Catalogue {
    fn resolve(&self, name: &str) -> Option<(String, String, DimKind)> {
        self.dimension(name).map(|d| {
            // A month filters on the panel's DATE column (no text conversion per row).
            let sql = if d.kind == DimKind::Month {
                "p.month".to_string()
            } else {
                d.sql.clone()
            };
            (d.name.to_string(), sql, d.kind)
        })
    }
    fn names(&self) -> Vec<String> {
        self.dimensions.iter().map(|d| d.name.to_string()).collect()
    }
}

fn band_sql(expr: &str, bands: &[(f64, &str)], last: &str) -> String {
    let mut s = String::from("CASE");
    for (upper, label) in bands {
        s.push_str(&format!(" WHEN {expr} < {upper} THEN {}", literal(label)));
    }
    s.push_str(&format!(
        " WHEN {expr} IS NOT NULL THEN {} END",
        literal(last)
    ));
    s
}

fn fixed(levels: &[&str]) -> Domain {
    Domain::Fixed(levels.iter().map(|s| s.to_string()).collect())
}

impl Catalogue {
    pub fn dimension(&self, name: &str) -> Option<&Dimension> {
        let lower = name.to_lowercase();
        self.dimensions
            .iter()
            .find(|d| d.name == lower || d.aliases.contains(&lower.as_str()))
    }

    pub fn variable(&self, name: &str) -> Option<&Variable> {
        let lower = name.to_lowercase();
        self.variables.iter().find(|v| v.name == lower)
    }

    /// Reads which tables and columns the ADS has (attached as `ads`).
    pub fn read(conn: &Connection, tables: &[(String, String)]) -> Result<Self, StoreError> {
        let cols: Vec<(String, String)> = conn
            .prepare(
                "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = 'ads'",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let has = |t: &str, c: &str| cols.iter().any(|(a, b)| a == t && b == c);
        let table_of = |kind: &str| {
            tables
                .iter()
                .find(|(_, k)| k == kind)
                .map(|(n, _)| n.clone())
        };
        let persons_table = table_of("persons");
        let spells_table = table_of("spells");
        let postcodes = table_of("postcodes");
        let pm = "person_month";
        let mut d: Vec<Dimension> = Vec::new();
        let none = Joins::default();
        let mut add = |name: &'static str,
                       aliases: &'static [&'static str],
                       label_nl: &'static str,
                       label_en: &'static str,
                       sql: String,
                       kind: DimKind,
                       domain: Domain,
                       joins: Joins| {
            d.push(Dimension {
                name,
                aliases,
                label_nl,
                label_en,
                sql,
                kind,
                domain,
                joins,
            })
        };
        let months = Domain::Query(
            "SELECT strftime(CAST(m AS DATE), '%Y-%m') FROM ads.about, generate_series(CAST(data_start || '-01' AS DATE), CAST(data_end || '-01' AS DATE), INTERVAL 1 MONTH) g(m)".into(),
        );
        add(
            "month",
            &["maand"],
            "maand",
            "month",
            "strftime(p.month, '%Y-%m')".into(),
            DimKind::Month,
            months,
            none,
        );
        add(
            "year",
            &["jaar"],
            "jaar",
            "year",
            "CAST(year(p.month) AS INTEGER)".into(),
            DimKind::Number,
            Domain::Query("SELECT CAST(y AS VARCHAR) FROM ads.about, generate_series(CAST(left(data_start, 4) AS INTEGER), CAST(left(data_end, 4) AS INTEGER)) g(y)".into()),
            none,
        );
        // The panel's wijk and buurt come from the postcode table, so its codes are the levels.
        let area_domain = |col: &str| match &postcodes {
            Some(b) if has(b, col) => {
                Domain::Query(format!("SELECT {} FROM ads.{}", ident(col), ident(b)))
            }
            _ => Domain::Query(format!("SELECT {col}_code FROM ads.{pm}")),
        };
        if has(pm, "wijk_code") {
            add(
                "wijk",
                &[],
                "wijk",
                "district (wijk)",
                "p.wijk_code".into(),
                DimKind::Text,
                area_domain("wijk"),
                none,
            );
        }
        if has(pm, "buurt_code") {
            add(
                "buurt",
                &[],
                "buurt",
                "neighbourhood (buurt)",
                "p.buurt_code".into(),
                DimKind::Text,
                area_domain("buurt"),
                none,
            );
        }
        if has(pm, "age") {
            add(
                "age",
                &["leeftijd"],
                "leeftijd",
                "age",
                "p.age".into(),
                DimKind::Number,
                Domain::Fixed((16..=70).map(|a| a.to_string()).collect()),
                none,
            );
            add(
                "age_band",
                &["leeftijdsklasse"],
                "leeftijdsklasse",
                "age band",
                band_sql(
                    "p.age",
                    &[
                        (27.0, "<27"),
                        (35.0, "27-34"),
                        (45.0, "35-44"),
                        (55.0, "45-54"),
                    ],
                    "55+",
                ),
                DimKind::Text,
                fixed(&["<27", "27-34", "35-44", "45-54", "55+"]),
                none,
            );
        }
        if has(pm, "sex") {
            add(
                "sex",
                &["geslacht"],
                "geslacht",
                "sex",
                "p.sex".into(),
                DimKind::Text,
                Domain::Query(format!("SELECT DISTINCT sex FROM ads.{pm}")),
                none,
            );
        }
        if has(pm, "exits_this_month") {
            add(
                "outflow",
                &["uitstroom", "uitstroomreden"],
                "uitstroom (klasse)",
                "outflow (class)",
                "CASE WHEN p.exits_this_month THEN coalesce(p.exit_class, 'unknown') ELSE 'none' END".into(),
                DimKind::Text,
                fixed(&["none", "work", "school", "income", "moved_away", "competing", "unknown"]),
                none,
            );
            if has(pm, "exit_bus") {
                add(
                    "outflow_bus",
                    &["reden_beeindiging"],
                    "reden beëindiging (BUS)",
                    "end reason (BUS code)",
                    "CASE WHEN p.exits_this_month THEN p.exit_bus END".into(),
                    DimKind::Text,
                    Domain::Query(format!(
                        "SELECT DISTINCT exit_bus FROM ads.{pm} WHERE exit_bus IS NOT NULL"
                    )),
                    none,
                );
            }
        }
        if has(pm, "duration_months") {
            add(
                "duration_band",
                &["duur", "uitkeringsduur"],
                "uitkeringsduur",
                "benefit duration",
                band_sql(
                    "p.duration_months",
                    &[
                        (6.0, "0-5 mnd"),
                        (12.0, "6-11 mnd"),
                        (24.0, "1-2 jaar"),
                        (60.0, "2-5 jaar"),
                    ],
                    "5+ jaar",
                ),
                DimKind::Text,
                fixed(&["0-5 mnd", "6-11 mnd", "1-2 jaar", "2-5 jaar", "5+ jaar"]),
                none,
            );
            add(
                "duration_months",
                &["duur_maanden"],
                "duur in maanden",
                "duration in months",
                "p.duration_months".into(),
                DimKind::Number,
                Domain::Query(format!(
                    "SELECT DISTINCT CAST(duration_months AS VARCHAR) FROM ads.{pm}"
                )),
                none,
            );
        }
        if has(pm, "active_groups") {
            add(
                "provision_group",
                &["voorziening", "voorzieningsgroep"],
                "voorzieningsgroep (lopend)",
                "provision group (active)",
                "p.active_groups".into(),
                DimKind::List,
                Domain::Query(format!(
                    "SELECT DISTINCT unnest(active_groups) FROM ads.{pm} UNION SELECT 'none'"
                )),
                none,
            );
        }
        if has(pm, "diag_trede") {
            add(
                "trede",
                &["participatieladder"],
                "trede participatieladder",
                "participation ladder step",
                "p.diag_trede".into(),
                DimKind::Number,
                fixed(&["1", "2", "3", "4", "5", "6"]),
                none,
            );
        }
        if has(pm, "diag_loonwaarde") {
            add(
                "loonwaarde_band",
                &["loonwaarde"],
                "loonwaarde (%)",
                "wage value (%)",
                band_sql(
                    "p.diag_loonwaarde",
                    &[(30.0, "<30"), (50.0, "30-49"), (80.0, "50-79")],
                    "80+",
                ),
                DimKind::Text,
                fixed(&["<30", "30-49", "50-79", "80+"]),
                none,
            );
        }
        let pj = Joins {
            persons: true,
            spells: false,
        };
        let sj = Joins {
            persons: false,
            spells: true,
        };
        if let Some(pt) = &persons_table {
            if has(pt, "huishoudtype") {
                add(
                    "household_type",
                    &["huishoudtype", "huishouden"],
                    "huishoudtype",
                    "household type",
                    "pers.huishoudtype".into(),
                    DimKind::Text,
                    Domain::Query(format!(
                        "SELECT DISTINCT huishoudtype FROM ads.{}",
                        ident(pt)
                    )),
                    pj,
                );
            }
            if has(pt, "opleidingsniveau") {
                add(
                    "education",
                    &["opleidingsniveau", "opleiding"],
                    "opleidingsniveau",
                    "education level",
                    "pers.opleidingsniveau".into(),
                    DimKind::Text,
                    Domain::Query(format!(
                        "SELECT DISTINCT opleidingsniveau FROM ads.{}",
                        ident(pt)
                    )),
                    pj,
                );
            }
        }
        if let Some(st) = &spells_table {
            if has(st, "reden_aanvraag") {
                add(
                    "inflow_reason",
                    &["reden_instroom", "reden_aanvraag"],
                    "reden instroom",
                    "inflow reason",
                    "sp.reden_aanvraag".into(),
                    DimKind::Text,
                    Domain::Query(format!(
                        "SELECT DISTINCT reden_aanvraag FROM ads.{}",
                        ident(st)
                    )),
                    sj,
                );
            }
        }
        let mut v: Vec<Variable> = Vec::new();
        let mut var = |name: &'static str, label_nl: &'static str, sql: String, joins: Joins| {
            v.push(Variable {
                name,
                label_nl,
                sql,
                joins,
            })
        };
        if has(pm, "age") {
            var("age", "leeftijd", "p.age".into(), none);
        }
        if has(pm, "duration_months") {
            var(
                "duration_months",
                "uitkeringsduur (maanden)",
                "p.duration_months".into(),
                none,
            );
        }
        if has(pm, "diag_trede") {
            var(
                "trede",
                "trede participatieladder",
                "p.diag_trede".into(),
                none,
            );
        }
        if has(pm, "diag_loonwaarde") {
            var(
                "loonwaarde",
                "loonwaarde (%)",
                "p.diag_loonwaarde".into(),
                none,
            );
        }
        if has(pm, "diag_uren_beschikbaar") {
            var(
                "uren_beschikbaar",
                "uren beschikbaar per week",
                "p.diag_uren_beschikbaar".into(),
                none,
            );
        }
        if has(pm, "n_active_provisions") {
            var(
                "n_active_provisions",
                "aantal lopende voorzieningen",
                "p.n_active_provisions".into(),
                none,
            );
        }
        if let Some(st) = &spells_table {
            if has(st, "netto_uitkering") {
                var(
                    "netto_uitkering",
                    "netto uitkering per maand (€)",
                    "sp.netto_uitkering".into(),
                    sj,
                );
            }
        }
        Ok(Catalogue {
            dimensions: d,
            variables: v,
            persons_table,
            spells_table,
        })
    }

    fn join_sql(&self, j: Joins) -> String {
        let mut s = String::new();
        if j.persons {
            if let Some(t) = &self.persons_table {
                let cols: Vec<&str> = self
                    .dimensions
                    .iter()
                    .filter(|d| d.joins.persons)
                    .map(|d| d.sql.trim_start_matches("pers."))
                    .collect();
                let sel: Vec<String> = cols
                    .iter()
                    .map(|c| format!("any_value({c}) AS {c}"))
                    .collect();
                s.push_str(&format!(
                    " LEFT JOIN (SELECT pseudonym, {} FROM ads.{} GROUP BY pseudonym) pers ON pers.pseudonym = p.pseudonym",
                    sel.join(", "),
                    ident(t)
                ));
            }
        }
        if j.spells {
            if let Some(t) = &self.spells_table {
                let mut cols: Vec<&str> = self
                    .dimensions
                    .iter()
                    .filter(|d| d.joins.spells)
                    .map(|d| d.sql.trim_start_matches("sp."))
                    .collect();
                cols.extend(
                    self.variables
                        .iter()
                        .filter(|v| v.joins.spells)
                        .map(|v| v.sql.trim_start_matches("sp.")),
                );
                let sel: Vec<String> = cols
                    .iter()
                    .map(|c| format!("any_value({c}) AS {c}"))
                    .collect();
                s.push_str(&format!(
                    " LEFT JOIN (SELECT pseudonym, spell_id, {} FROM ads.{} GROUP BY pseudonym, spell_id) sp ON sp.pseudonym = p.pseudonym AND sp.spell_id = p.spell_id",
                    sel.join(", "),
                    ident(t)
                ));
            }
        }
        s
    }

    /// The levels of a dimension, in order (numbers numerically), plus "missing" (null).
    fn levels(&self, conn: &Connection, d: &Dimension) -> Result<Vec<Option<String>>, StoreError> {
        let mut levels: Vec<String> = match &d.domain {
            Domain::Fixed(v) => v.clone(),
            Domain::Query(sql) => conn
                .prepare(&format!(
                    "SELECT DISTINCT CAST(v AS VARCHAR) FROM ({sql}) t(v) WHERE v IS NOT NULL"
                ))?
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<_, _>>()?,
        };
        if d.kind == DimKind::Number {
            levels.sort_by(|a, b| {
                let (x, y) = (a.parse::<f64>().ok(), b.parse::<f64>().ok());
                x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
            });
        } else if !matches!(d.domain, Domain::Fixed(_)) {
            levels.sort();
        }
        let mut out: Vec<Option<String>> = levels.into_iter().map(Some).collect();
        if d.nullable() {
            out.push(None);
        }
        Ok(out)
    }
}

/// What is measured in each cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure {
    Count,
    PersonMonths,
    Sum(String),
    Mean(String),
}

impl Measure {
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        match t {
            "count" | "personen" => Ok(Measure::Count),
            "person_months" | "persoonsmaanden" => Ok(Measure::PersonMonths),
            _ => match t.split_once(':') {
                Some(("sum" | "som", v)) if !v.is_empty() => Ok(Measure::Sum(v.to_string())),
                Some(("mean" | "gemiddelde", v)) if !v.is_empty() => {
                    Ok(Measure::Mean(v.to_string()))
                }
                _ => Err(format!(
                    "--measure '{t}': use count, person_months, sum:VARIABLE or mean:VARIABLE"
                )),
            },
        }
    }
    pub fn name(&self) -> String {
        match self {
            Measure::Count => "count".into(),
            Measure::PersonMonths => "person_months".into(),
            Measure::Sum(v) => format!("sum:{v}"),
            Measure::Mean(v) => format!("mean:{v}"),
        }
    }
}

/// One query of `inzicht table`.
#[derive(Debug, Clone)]
pub struct TableQuery {
    pub by: Vec<String>,
    pub filter: Option<String>,
    pub measure: Measure,
}

impl TableQuery {
    /// The canonical text of the query (for its fingerprint in the query log).
    fn canonical(&self) -> String {
        format!(
            "table|by={}|where={}|measure={}",
            self.by.join(","),
            self.filter.as_deref().unwrap_or(""),
            self.measure.name()
        )
    }
}

/// A cell as it may be shown.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub key: serde_json::Map<String, serde_json::Value>,
    pub value: Option<f64>,
    pub flag: Flag,
}

/// The result of a protected table.
#[derive(Debug, Clone)]
pub struct TableResult {
    pub dimensions: Vec<String>,
    pub measure: String,
    pub cells: Vec<Cell>,
    pub total: Cell,
    pub protection: serde_json::Value,
    pub snapshot: String,
    pub all_suppressed: bool,
}

impl TableResult {
    /// The JSON envelope: `{cells, total, dimensions, measure, protection, meta}`.
    pub fn to_json(&self, params: serde_json::Value) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("dimensions".into(), serde_json::json!(self.dimensions));
        m.insert("measure".into(), serde_json::json!(self.measure));
        m.insert("cells".into(), serde_json::json!(self.cells));
        m.insert("total".into(), serde_json::json!(self.total));
        if self.all_suppressed {
            m.insert(
                "message".into(),
                serde_json::json!(all_suppressed_message(&self.protection)),
            );
        }
        inzicht_protect::envelope(m, self.protection.clone(), Some(&self.snapshot), params)
    }
}

pub fn all_suppressed_message(protection: &serde_json::Value) -> String {
    let t = protection["threshold"].as_u64().unwrap_or(0);
    format!("Alle cellen zijn afgeschermd: in geen enkele cel zitten ten minste {t} personen. Kies een grotere doelgroep of minder/grovere indelingen. / Every cell is suppressed: no cell has at least {t} persons; widen the target group or use fewer or coarser dimensions.")
}

#[derive(Debug)]
pub enum TableError {
    /// The user must correct something (unknown variable, bad filter, missing record keys).
    Input(String),
    /// Refused by the query budget.
    Refused(String),
    Internal(String),
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TableError::Input(m) | TableError::Refused(m) | TableError::Internal(m) => {
                f.write_str(m)
            }
        }
    }
}

impl From<StoreError> for TableError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Input(m) => TableError::Input(m),
            StoreError::Internal(m) => TableError::Internal(m),
        }
    }
}

impl From<duckdb::Error> for TableError {
    fn from(e: duckdb::Error) -> Self {
        TableError::Internal(format!("database: {e}"))
    }
}

/// Who asks, for the query log.
pub struct Asker<'a> {
    pub log: &'a QueryLog,
    pub policy: &'a inzicht_protect::Policy,
    pub now: u64,
}

/// An open snapshot: the ADS (read-only) and its record keys, on one in-memory connection.
pub struct Session {
    conn: Connection,
    /// The snapshot's tables: (name, kind) as recorded in load.json.
    pub tables: Vec<(String, String)>,
    pub catalogue: Catalogue,
    pub snapshot: String,
    level_cache: std::cell::RefCell<HashMap<String, Vec<Option<String>>>>,
    /// The column that identifies a person in `ads.person_month` and `rk`: `person_nr` (an
    /// integer: grouping by person is an integer hash aggregate and the record key an array
    /// lookup, `record_key(person_nr)`) or, in snapshots loaded before it existed, `pseudonym`
    /// (the record keys are then joined).
    person_col: &'static str,
}

/// The snapshot's `load.json`.
fn load_json(dir: &Path) -> Result<serde_json::Value, StoreError> {
    let text = std::fs::read_to_string(dir.join("load.json"))
        .map_err(|e| StoreError::Input(format!("{}: {e}", dir.join("load.json").display())))?;
    serde_json::from_str(&text).map_err(|e| StoreError::Internal(format!("load.json: {e}")))
}

/// The key file recorded with a snapshot (when `--key-file` is not given).
pub fn recorded_key_file(store_dir: &Path, as_of: Option<&str>) -> Result<PathBuf, StoreError> {
    let dir = Store::new(store_dir).resolve(as_of)?;
    let load = load_json(&dir)?;
    load["key_file"].as_str().map(PathBuf::from).ok_or_else(|| {
        StoreError::Input(format!(
            "{} does not record its key file (loaded by an older inzicht): give --key-file",
            dir.display()
        ))
    })
}

impl Session {
    /// Opens a snapshot (`as_of`: a load id or prefix; `None`: current) with the record keys
    /// beside `key_file`.
    pub fn open(
        store_dir: &Path,
        as_of: Option<&str>,
        key_file: &Path,
    ) -> Result<Self, StoreError> {
        let dir = Store::new(store_dir).resolve(as_of)?;
        let load = load_json(&dir)?;
        let snapshot = load["load_id"].as_str().unwrap_or_default().to_string();
        let rk = crate::recordkeys::record_keys_path(key_file, &snapshot);
        if !rk.is_file() {
            return Err(StoreError::Input(format!(
                "the record keys of snapshot {snapshot} are not at {} (beside the key file {}). Protected output needs them: give the key file this snapshot was loaded with (--key-file), or load the data again with `inzicht ingest`",
                rk.display(),
                key_file.display()
            )));
        }
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(&format!(
            "ATTACH {} AS ads (READ_ONLY); CREATE TEMP TABLE rk AS SELECT * FROM read_parquet({});",
            literal(&dir.join("ads.duckdb").to_string_lossy()),
            literal(&rk.to_string_lossy())
        ))?;
        let has_column = |table: &str, column: &str| -> Result<bool, StoreError> {
            let n: i64 = conn.query_row(
                "SELECT count(*) FROM duckdb_columns() WHERE database_name = ? AND table_name = ? AND column_name = ?",
                duckdb::params![if table == "rk" { "temp" } else { "ads" }, table, column],
                |r| r.get(0),
            )?;
            Ok(n > 0)
        };
        let person_col =
            if has_column("person_month", "person_nr")? && has_column("rk", "person_nr")? {
                "person_nr"
            } else {
                "pseudonym"
            };
        if person_col == "person_nr" {
            crate::recordkeys::register_lookup(&conn)?;
        }
        let tables: Vec<(String, String)> = load["tables"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| {
                        Some((
                            t["name"].as_str()?.to_string(),
                            t["kind"].as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let catalogue = Catalogue::read(&conn, &tables)?;
        Ok(Session {
            conn,
            tables,
            catalogue,
            snapshot,
            level_cache: Default::default(),
            person_col,
        })
    }

    /// The connection (the ADS attached read-only as `ads`, record keys as `rk`), for the
    /// analyses of this crate.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// `inzicht table --list`: what can be tabulated.
    pub fn list(&self) -> serde_json::Value {
        let dimensions: Vec<serde_json::Value> = self
            .catalogue
            .dimensions
            .iter()
            .map(|d| {
                let kind = match d.kind {
                    DimKind::Text => "text",
                    DimKind::Number => "number",
                    DimKind::Month => "month",
                    DimKind::List => "list",
                };
                serde_json::json!({
                    "name": d.name, "label": d.label_nl, "label_en": d.label_en,
                    "aliases": d.aliases, "type": kind,
                })
            })
            .collect();
        let mut measures = vec![
            serde_json::json!({"name": "count", "label": "aantal personen (uniek)"}),
            serde_json::json!({"name": "person_months", "label": "aantal persoonsmaanden"}),
        ];
        for v in &self.catalogue.variables {
            measures.push(serde_json::json!({"name": format!("sum:{}", v.name), "label": format!("som van {}", v.label_nl)}));
            measures.push(serde_json::json!({"name": format!("mean:{}", v.name), "label": format!("gemiddelde {}", v.label_nl)}));
        }
        serde_json::json!({ "dimensions": dimensions, "measures": measures })
    }

    /// The levels of a dimension (for the web tool's choices); `None` is "(onbekend)".
    pub fn levels(&self, name: &str) -> Result<Vec<Option<String>>, StoreError> {
        let d = self
            .catalogue
            .dimension(name)
            .ok_or_else(|| StoreError::Input(format!("unknown dimension '{name}'")))?;
        self.cached_levels(d)
    }

    /// The wijk codes as the panel holds them, with their names from the buurten code list
    /// where the load has one (the web tool shows names and filters on what each analysis
    /// compares: the cohort on names where they exist, the provision effects on codes).
    pub fn wijk_names(&self) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let named: i64 = self.conn.query_row(
            "SELECT count(*) FROM information_schema.columns WHERE table_catalog = 'ads' AND table_name = 'buurten' AND column_name IN ('wijk', 'wijknaam')",
            [],
            |r| r.get(0),
        )?;
        let sql = if named == 2 {
            "SELECT DISTINCT CAST(pm.wijk_code AS VARCHAR) AS code, w.wijknaam
               FROM ads.person_month pm
               LEFT JOIN (SELECT wijk, min(wijknaam) AS wijknaam FROM ads.buurten GROUP BY wijk) w
                 ON w.wijk IN (CAST(pm.wijk_code AS VARCHAR), 'WK' || CAST(pm.wijk_code AS VARCHAR))
              WHERE pm.wijk_code IS NOT NULL ORDER BY code"
        } else {
            "SELECT DISTINCT CAST(wijk_code AS VARCHAR) AS code, CAST(NULL AS VARCHAR)
               FROM ads.person_month WHERE wijk_code IS NOT NULL ORDER BY code"
        };
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The months on benefit of one client (month, duration so far): the consultant's lookup of
    /// their own client, by the pseudonym the server derived from the BSN. Never shown to an
    /// analyst and never with the pseudonym.
    pub fn client_months(&self, pseudonym: &str) -> Result<Vec<(String, Option<i64>)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT strftime(month, '%Y-%m'), duration_months FROM ads.person_month WHERE pseudonym = ? ORDER BY month",
        )?;
        let rows = stmt
            .query_map([pseudonym], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn cached_levels(&self, d: &Dimension) -> Result<Vec<Option<String>>, StoreError> {
        if let Some(l) = self.level_cache.borrow().get(d.name) {
            return Ok(l.clone());
        }
        let l = self.catalogue.levels(&self.conn, d)?;
        self.level_cache
            .borrow_mut()
            .insert(d.name.to_string(), l.clone());
        Ok(l)
    }

    /// Runs a query through `protector`; with `asker`, the query is first checked against and
    /// recorded in the user's query log (and may be refused).
    pub fn run(
        &self,
        query: &TableQuery,
        protector: &Protector,
        asker: Option<&Asker>,
    ) -> Result<TableResult, TableError> {
        let cat = &self.catalogue;
        // Dimensions.
        let mut dims: Vec<&Dimension> = Vec::new();
        for name in &query.by {
            let d = cat.dimension(name).ok_or_else(|| {
                TableError::Input(format!(
                    "--by: unknown dimension '{name}'; known: {} (inzicht table --list)",
                    cat.names().join(", ")
                ))
            })?;
            if dims.iter().any(|x| x.name == d.name) {
                return Err(TableError::Input(format!("--by names {} twice", d.name)));
            }
            dims.push(d);
        }
        // Measure.
        let variable = match &query.measure {
            Measure::Sum(v) | Measure::Mean(v) => Some(cat.variable(v).ok_or_else(|| {
                TableError::Input(format!(
                    "--measure: unknown variable '{v}'; numeric variables: {}",
                    cat.variables
                        .iter()
                        .map(|v| v.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?),
            _ => None,
        };
        // Filter.
        let (filter_sql, used) = match &query.filter {
            Some(text) => {
                let (sql, used) =
                    filter::parse(text, cat).map_err(|e| TableError::Input(e.to_string()))?;
                (sql, used)
            }
            None => ("TRUE".to_string(), Vec::new()),
        };
        let mut joins = Joins::default();
        for d in &dims {
            joins = joins.or(d.joins);
        }
        for u in &used {
            if let Some(d) = cat.dimension(u) {
                joins = joins.or(d.joins);
            }
        }
        if let Some(v) = variable {
            joins = joins.or(v.joins);
        }
        let value_sql = variable.map_or("1".to_string(), |v| v.sql.clone());
        let value_filter = if variable.is_some() {
            format!(" AND ({value_sql}) IS NOT NULL")
        } else {
            String::new()
        };
        let from = format!("ads.person_month p{}", cat.join_sql(joins));
        // Levels and the size of the table.
        let mut levels = Vec::new();
        let mut size = 1usize;
        for d in &dims {
            let l = self.cached_levels(d)?;
            size = size.saturating_mul(l.len().max(1));
            levels.push(l);
        }
        if size > MAX_CELLS {
            return Err(TableError::Input(format!(
                "the table would have {size} cells (more than {MAX_CELLS}); use fewer or coarser dimensions (for example age_band instead of age)"
            )));
        }
        // With protection, each person's record key: looked up by `record_key(person_nr)`
        // (see recordkeys::RecordKeyLookup), or joined by pseudonym in older snapshots.
        // Without protection (public data only) there are none: the same SQL without them is
        // also the baseline of the protection benchmark.
        let person = self.person_col;
        let (rk, rk_join) = if !protector.is_protected() {
            ("CAST(0 AS BIGINT)", "")
        } else if person == "person_nr" {
            ("record_key(pp.person_nr)", "")
        } else {
            (
                "rk.record_key",
                " LEFT JOIN rk ON rk.pseudonym = pp.pseudonym",
            )
        };
        // 1. The target group: the persons the filter selects, and the total.
        let population_sql = format!(
            "WITH pp AS (SELECT p.{person}, count(*) AS records, sum(CAST({value_sql} AS DOUBLE)) AS v FROM {from} WHERE ({filter_sql}){value_filter} GROUP BY p.{person})
             SELECT count(*), count(rk), CAST(coalesce(sum(rk), 0) % 4294967296 AS BIGINT),
                    CAST(coalesce(sum(rk), 0) % 9223372036854775808 AS VARCHAR),
                    coalesce(min(rk, {SKETCH_SIZE}), []),
                    coalesce(sum(records), 0), coalesce(max(records, 2), []), coalesce(sum(v), 0), coalesce(max(abs(v), 2), [])
             FROM (SELECT records, v, {rk} AS rk FROM pp{rk_join})"
        );
        // INZICHT_TIMING=1: each step's wall time on stderr (for the protection benchmark).
        let timing = std::env::var_os("INZICHT_TIMING").is_some();
        let mut step = std::time::Instant::now();
        let mut lap = |name: &str| {
            if timing {
                eprintln!(
                    "table ({}): {name}: {:.2} ms",
                    if protector.is_protected() {
                        "protected"
                    } else {
                        "open"
                    },
                    step.elapsed().as_secs_f64() * 1e3
                );
            }
            step = std::time::Instant::now();
        };
        if std::env::var_os("INZICHT_SQL").is_some() {
            eprintln!("{population_sql};");
        }
        let (total_raw, sketch) = self.conn.query_row(&population_sql, [], |r| {
            let n: i64 = r.get(0)?;
            let with_key: i64 = r.get(1)?;
            let key_sum: i64 = r.get(2)?;
            let fp: String = r.get(3)?;
            let bottom: Vec<i64> = list_i64(r.get_ref(4)?);
            let raw = Raw {
                persons: n as u64,
                key_sum: key_sum as u64,
                records: r.get::<_, i64>(5)? as f64,
                records_top: list_f64(r.get_ref(6)?),
                value: r.get::<_, f64>(7)?,
                value_top: list_f64(r.get_ref(8)?),
            };
            Ok((
                (raw, with_key as u64),
                SetSketch {
                    n: n as u64,
                    fingerprint: fp,
                    bottom: bottom.into_iter().map(|x| x as u64).collect(),
                },
            ))
        })?;
        let (total_raw, with_key) = total_raw;
        if with_key != total_raw.persons {
            return Err(TableError::Input(format!(
                "{} persons of snapshot {} have no record key: the record-key file does not belong to this snapshot; load the data again",
                total_raw.persons - with_key,
                self.snapshot
            )));
        }
        lap("target group");
        // 2. The query log (before any number is computed for the user).
        if let Some(a) = asker {
            let fingerprint: String = Sha256::digest(query.canonical().as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            match a
                .log
                .check_and_record(a.policy, &self.snapshot, &fingerprint, &sketch, a.now)
                .map_err(TableError::Internal)?
            {
                Decision::Refuse(msg) => return Err(TableError::Refused(msg)),
                Decision::Answer { .. } => {}
            }
        }
        lap("query log");
        // 3. The cells.
        let mut raw_cells: HashMap<Vec<Option<String>>, Raw> = HashMap::new();
        if !dims.is_empty() {
            let dim_cols: Vec<String> = dims
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    if d.kind == DimKind::List {
                        format!("unnest(CASE WHEN len(coalesce({s}, [])) = 0 THEN ['none'] ELSE {s} END) AS d{i}", s = d.sql)
                    } else {
                        format!("CAST({} AS VARCHAR) AS d{i}", d.sql)
                    }
                })
                .collect();
            let names: Vec<String> = (0..dims.len()).map(|i| format!("d{i}")).collect();
            let names = names.join(", ");
            let sql = format!(
                "WITH base AS (SELECT p.{person}, {cols}, CAST({value_sql} AS DOUBLE) AS v FROM {from} WHERE ({filter_sql}){value_filter}),
                 pp AS (SELECT {names}, {person}, count(*) AS records, sum(v) AS v FROM base GROUP BY ALL)
                 SELECT {names}, count(*), CAST(coalesce(sum({rk}), 0) % 4294967296 AS BIGINT),
                        sum(records), max(records, 2), sum(v), max(abs(v), 2)
                 FROM pp{rk_join} GROUP BY {names}",
                cols = dim_cols.join(", ")
            );
            if std::env::var_os("INZICHT_SQL").is_some() {
                eprintln!("{sql};");
            }
            let k = dims.len();
            let mut stmt = self.conn.prepare(&sql)?;
            let rows = stmt.query_map([], |r| {
                let mut key = Vec::with_capacity(k);
                for i in 0..k {
                    key.push(r.get::<_, Option<String>>(i)?);
                }
                Ok((
                    key,
                    Raw {
                        persons: r.get::<_, i64>(k)? as u64,
                        key_sum: r.get::<_, i64>(k + 1)? as u64,
                        records: r.get::<_, f64>(k + 2)?,
                        records_top: list_f64(r.get_ref(k + 3)?),
                        value: r.get::<_, Option<f64>>(k + 4)?.unwrap_or(0.0),
                        value_top: list_f64(r.get_ref(k + 5)?),
                    },
                ))
            })?;
            for row in rows {
                let (key, raw) = row?;
                raw_cells.insert(key, raw);
            }
        }
        lap("cells");
        // 4. Protection, over the full cross product of levels (plus any observed level outside
        // the domains).
        let mut keys: Vec<Vec<Option<String>>> = vec![Vec::new()];
        if !dims.is_empty() {
            for l in &levels {
                let mut next = Vec::with_capacity(keys.len() * l.len());
                for k in &keys {
                    for v in l {
                        let mut kk = k.clone();
                        kk.push(v.clone());
                        next.push(kk);
                    }
                }
                keys = next;
            }
            let known: std::collections::HashSet<&Vec<Option<String>>> = keys.iter().collect();
            let mut extra: Vec<Vec<Option<String>>> = raw_cells
                .keys()
                .filter(|k| !known.contains(k))
                .cloned()
                .collect();
            extra.sort();
            keys.extend(extra);
        } else {
            keys.clear();
        }
        let empty = Raw::default();
        let mut cells = Vec::with_capacity(keys.len());
        let mut suppressed = 0usize;
        for key in keys {
            let raw = raw_cells.get(&key).unwrap_or(&empty);
            let shown = raw.protect(&query.measure, protector);
            if shown.flag == Flag::Suppressed {
                suppressed += 1;
            }
            let mut map = serde_json::Map::new();
            for (d, v) in dims.iter().zip(&key) {
                map.insert(d.name.to_string(), key_json(d.kind, v));
            }
            cells.push(Cell {
                key: map,
                value: shown.value,
                flag: shown.flag,
            });
        }
        lap("protect");
        let total_shown = total_raw.protect(&query.measure, protector);
        let all_suppressed = !cells.is_empty() && suppressed == cells.len()
            || cells.is_empty() && total_shown.flag == Flag::Suppressed;
        Ok(TableResult {
            dimensions: dims.iter().map(|d| d.name.to_string()).collect(),
            measure: query.measure.name(),
            total: Cell {
                key: serde_json::Map::new(),
                value: total_shown.value,
                flag: total_shown.flag,
            },
            protection: protector.metadata(
                cells.len() + 1,
                suppressed + (total_shown.flag == Flag::Suppressed) as usize,
            ),
            cells,
            snapshot: self.snapshot.clone(),
            all_suppressed,
        })
    }
}

fn key_json(kind: DimKind, v: &Option<String>) -> serde_json::Value {
    match v {
        None => serde_json::Value::Null,
        Some(s) if kind == DimKind::Number => s
            .parse::<i64>()
            .map(serde_json::Value::from)
            .or_else(|_| s.parse::<f64>().map(serde_json::Value::from))
            .unwrap_or_else(|_| serde_json::Value::from(s.clone())),
        Some(s) => serde_json::Value::from(s.clone()),
    }
}

fn list_i64(v: duckdb::types::ValueRef) -> Vec<i64> {
    match v.to_owned() {
        duckdb::types::Value::List(items) => items
            .into_iter()
            .filter_map(|x| match x {
                duckdb::types::Value::BigInt(i) => Some(i),
                duckdb::types::Value::Int(i) => Some(i as i64),
                duckdb::types::Value::HugeInt(i) => i64::try_from(i).ok(),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn list_f64(v: duckdb::types::ValueRef) -> Vec<f64> {
    match v.to_owned() {
        duckdb::types::Value::List(items) => items
            .into_iter()
            .filter_map(|x| match x {
                duckdb::types::Value::Double(f) => Some(f),
                duckdb::types::Value::Float(f) => Some(f as f64),
                duckdb::types::Value::BigInt(i) => Some(i as f64),
                duckdb::types::Value::Int(i) => Some(i as f64),
                duckdb::types::Value::HugeInt(i) => Some(i as f64),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// One cell on the true data.
#[derive(Debug, Clone, Default)]
struct Raw {
    persons: u64,
    key_sum: u64,
    records: f64,
    records_top: Vec<f64>,
    value: f64,
    value_top: Vec<f64>,
}

impl Raw {
    fn input(&self, total: f64, top: &[f64]) -> CellInput {
        CellInput {
            persons: self.persons,
            key_sum: self.key_sum,
            magnitude: Some(Magnitude {
                total,
                largest: top.first().copied().unwrap_or(0.0),
                second: top.get(1).copied().unwrap_or(0.0),
            }),
        }
    }

    fn protect(&self, measure: &Measure, p: &Protector) -> Shown {
        let count = CellInput {
            persons: self.persons,
            key_sum: self.key_sum,
            magnitude: None,
        };
        let records = self.input(self.records, &self.records_top);
        let value = self.input(self.value, &self.value_top);
        let shown = match measure {
            Measure::Count => p.count(&count),
            Measure::PersonMonths => p.record_count(&records),
            Measure::Sum(_) => p.sum(&value),
            Measure::Mean(_) => p.mean(&value, &records),
        };
        // Rounding for display: sums to 2 decimals, means to 3 significant decimals.
        Shown {
            value: shown.value.map(|v| (v * 100.0).round() / 100.0),
            flag: shown.flag,
        }
    }
}
