//! The Datapakhuis: an embedded DuckDB store in two files per snapshot — `ods.duckdb`
//! (identifiable; data team only) and `ads.duckdb` (pseudonymised microdata) — with the
//! person-month panel, the reconciliation and the data-quality report.
//!
//! Layout of a store directory:
//!
//! ```text
//! STORE/
//!   current -> snapshots/<load-id>          (symbolic link, replaced atomically at commit)
//!   ods.duckdb -> current/ods.duckdb         (fixed links: they follow `current`)
//!   ads.duckdb -> current/ads.duckdb
//!   reconciliation.json, quality.json, quality.html -> current/…
//!   snapshots/<load-id>/{ods.duckdb, ads.duckdb, load.json, reconciliation.json, quality.json, quality.html}
//!   snapshots/.tmp-<load-id>/                (a load in progress; removed if a load was killed)
//!   .lock                                    (held while a load runs)
//! ```
//!
//! **Architecture invariants:** a snapshot directory is immutable once committed; the ADS never
//! holds a BSN, name, address or birth date; the key file never lies inside the store.

pub mod ads;
pub mod advice;
pub mod cohort;
pub mod effects;
pub mod filter;
pub mod load;
pub mod matching;
pub mod patterns;
pub mod prediction;
pub mod quality;
pub mod recordkeys;
pub mod secrets;
pub mod sink;
pub mod snapshot;
pub mod survival;
pub mod table;

pub use load::{ingest, rotate_key, LoadOutcome};
pub use secrets::KeyFile;
pub use snapshot::Store;

/// The current time in UTC as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let date = inzicht_domain::Date::from_days_since_epoch(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date.iso(),
        s / 3_600,
        s / 60 % 60,
        s % 60
    )
}

/// Errors of the store, with what the user should do.
#[derive(Debug)]
pub enum StoreError {
    /// Something the user must correct (configuration, input, key file, paths).
    Input(String),
    /// A failure while working (disk, database).
    Internal(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Input(m) | StoreError::Internal(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<duckdb::Error> for StoreError {
    fn from(e: duckdb::Error) -> Self {
        StoreError::Internal(format!("database: {e}"))
    }
}

/// Quotes an SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes an SQL string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Reads a whole CSV file with DuckDB's own `read_csv` (for the benchmark's reference column):
/// returns the number of rows. `latin1` reads Windows-1252 exports.
pub fn duckdb_read_csv(
    path: &std::path::Path,
    delimiter: char,
    latin1: bool,
) -> Result<u64, StoreError> {
    let conn = duckdb::Connection::open_in_memory()?;
    let sql = format!(
        "SELECT count(*) FROM read_csv({}, delim = {}, header = true, quote = '\"', all_varchar = true, strict_mode = false{})",
        literal(&path.to_string_lossy()),
        literal(&delimiter.to_string()),
        if latin1 { ", encoding = 'latin-1'" } else { "" }
    );
    let n: i64 = conn.query_row(&sql, [], |r| r.get(0))?;
    Ok(n as u64)
}
