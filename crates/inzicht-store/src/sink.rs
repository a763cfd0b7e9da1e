//! Writes what ingest loads into the ODS (identifiable): one table per source, plus the
//! quarantine and the normalisation log.
//!
//! Source rows are staged as a CSV file in the load's scratch directory and read into their
//! typed table with DuckDB's `COPY` at the end of the table: per-value appending through the
//! C API cost about 45 of the 65 seconds of reading and validating 7 million rows; writing a
//! CSV and letting DuckDB's parallel reader load it takes a fraction of that. Every text value is
//! quoted (so a delimiter or line break inside it is safe) and `allow_quoted_nulls = false` keeps
//! an empty text distinct from a missing value (an unquoted empty field). The quarantine and the
//! normalisation log are small and go through the appender.
//!
//! A table is created and loaded on its own connection to the same database in a background
//! thread, while the pipeline reads and validates the next source: DuckDB's COPY and the Rust
//! reader then use the two cores at once (at 7,400 clients the COPYs are ~0.4 of the ~1 s this
//! phase took one after the other). Up to two loads are in flight at a time (each its own table
//! in its own transaction), started in source order; an error is reported at a later table or
//! at `finish`, naming the table. Other connections write only the quarantine and
//! normalisation tables meanwhile — never a table being loaded — so the transactions cannot
//! conflict.

use crate::{ident, StoreError};
use duckdb::types::Value as DValue;
use duckdb::Connection;
use inzicht_ingest::pipeline::{
    FieldTypeName, Normalisation, Quarantined, Sink, TableSchema, Value,
};

const BATCH: usize = 20_000;

/// How many table loads may run at once. At municipality scale the sources are read much faster
/// than DuckDB loads them (reading and validating 7,400 clients' exports takes 0.36 s, their
/// loads about 0.8 s), and one small `COPY` keeps only one core busy: two side by side use both.
/// At national scale a source takes longer to read than the previous one to load, so there is
/// mostly one in flight anyway.
const LOADS_IN_FLIGHT: usize = 2;

pub struct OdsSink<'c> {
    conn: &'c Connection,
    table: Option<String>,
    /// The CREATE TABLE of the table being staged (run by its load).
    create_sql: Option<String>,
    /// The table load in flight: CREATE TABLE and COPY on a cloned connection.
    /// The table loads in flight, oldest first (at most [`LOADS_IN_FLIGHT`]).
    loading: std::collections::VecDeque<std::thread::JoinHandle<Result<(), String>>>,
    scratch: std::path::PathBuf,
    staging: Option<(std::path::PathBuf, std::io::BufWriter<std::fs::File>)>,
    line_buf: String,
    quarantine: Vec<Vec<DValue>>,
    normalisations: Vec<Vec<DValue>>,
    pub schemas: Vec<TableSchema>,
}

fn sql_type(t: FieldTypeName) -> &'static str {
    match t {
        FieldTypeName::Text => "VARCHAR",
        FieldTypeName::Int => "BIGINT",
        FieldTypeName::Decimal => "DOUBLE",
        FieldTypeName::Date => "DATE",
        FieldTypeName::Bool => "BOOLEAN",
    }
}

/// Appends `s` as a quoted CSV field (quotes doubled).
fn quote_into(buf: &mut String, s: &str) {
    buf.push('"');
    // Copied in pieces between quotes (most values have none), not a character at a time.
    let mut pieces = s.split('"');
    if let Some(first) = pieces.next() {
        buf.push_str(first);
    }
    for piece in pieces {
        buf.push_str("\"\"");
        buf.push_str(piece);
    }
    buf.push('"');
}

/// Appends the decimal digits of `i` (what `write!("{i}")` writes, without the formatting
/// machinery: staging writes tens of millions of numbers at national scale).
fn push_int(buf: &mut String, i: i64) {
    if i < 0 {
        buf.push('-');
    }
    let mut digits = [0u8; 20];
    let mut n = i.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        buf.push(char::from(d));
    }
}

/// Appends `yyyy-mm-dd` with zero-padded month and day (`Date::iso`, without its String); a
/// year outside 0–9999 is written in full, as `iso` does.
fn push_date(buf: &mut String, d: inzicht_domain::Date) {
    if (0..=9999).contains(&d.year) {
        let y = d.year as u32;
        for digit in [y / 1000, y / 100 % 10, y / 10 % 10, y % 10] {
            buf.push(char::from(b'0' + digit as u8));
        }
    } else {
        buf.push_str(&format!("{:04}", d.year));
    }
    for part in [d.month, d.day] {
        buf.push('-');
        if part < 10 {
            buf.push('0');
        }
        push_int(buf, i64::from(part));
    }
}

fn text(s: &str) -> DValue {
    DValue::Text(s.to_string())
}

impl<'c> OdsSink<'c> {
    pub fn new(conn: &'c Connection, scratch: &std::path::Path) -> Result<Self, StoreError> {
        conn.execute_batch(
            "CREATE TABLE quarantine (source VARCHAR, file VARCHAR, line BIGINT, reason VARCHAR, column_name VARCHAR, detail VARCHAR, raw_json VARCHAR);
             CREATE TABLE normalisations (source VARCHAR, file VARCHAR, line BIGINT, column_name VARCHAR, kind VARCHAR, value_before VARCHAR, value_after VARCHAR);",
        )?;
        Ok(OdsSink {
            conn,
            table: None,
            create_sql: None,
            loading: std::collections::VecDeque::new(),
            scratch: scratch.to_path_buf(),
            staging: None,
            line_buf: String::new(),
            quarantine: Vec::new(),
            normalisations: Vec::new(),
            schemas: Vec::new(),
        })
    }

    fn append(&self, table: &str, rows: &mut Vec<Vec<DValue>>) -> Result<(), String> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut app = self
            .conn
            .appender(table)
            .map_err(|e| format!("{table}: {e}"))?;
        for r in rows.drain(..) {
            app.append_row(duckdb::appender_params_from_iter(r))
                .map_err(|e| format!("{table}: {e}"))?;
        }
        app.flush().map_err(|e| format!("{table}: {e}"))
    }

    /// Waits for the oldest table load in flight and returns its result.
    fn wait_for_load(&mut self) -> Result<(), String> {
        match self.loading.pop_front() {
            None => Ok(()),
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err("loading a table stopped unexpectedly".into())),
        }
    }

    /// Waits for every table load in flight, in order; the first error is returned (after all
    /// have ended).
    fn wait_for_all_loads(&mut self) -> Result<(), String> {
        let mut result = Ok(());
        while !self.loading.is_empty() {
            let r = self.wait_for_load();
            if result.is_ok() {
                result = r;
            }
        }
        result
    }

    /// Writes what is still buffered (after the last table's load).
    pub fn finish(&mut self) -> Result<(), String> {
        self.wait_for_all_loads()?;
        let mut q = std::mem::take(&mut self.quarantine);
        self.append("quarantine", &mut q)?;
        let mut n = std::mem::take(&mut self.normalisations);
        self.append("normalisations", &mut n)
    }
}

impl Drop for OdsSink<'_> {
    /// A load that stops early (bad input in a later source) still waits for the table loads in
    /// flight, so that no thread writes into a snapshot that is being discarded.
    fn drop(&mut self) {
        let _ = self.wait_for_all_loads();
    }
}

impl Sink for OdsSink<'_> {
    fn begin_table(&mut self, schema: &TableSchema) -> Result<(), String> {
        // Every ODS row keeps the file and line it came from, for audit.
        let mut cols: Vec<String> =
            vec!["_source_file VARCHAR".into(), "_source_line BIGINT".into()];
        cols.extend(
            schema
                .columns
                .iter()
                .map(|c| format!("{} {}", ident(&c.name), sql_type(c.ty))),
        );
        // Created by its load (below), so that this connection never changes the catalog while
        // another table loads.
        self.create_sql = Some(format!(
            "CREATE TABLE {} ({})",
            ident(&schema.name),
            cols.join(", ")
        ));
        let path = self
            .scratch
            .join(format!("stage-{}.csv", self.schemas.len()));
        let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        self.staging = Some((path, std::io::BufWriter::with_capacity(1 << 20, file)));
        self.table = Some(schema.name.clone());
        self.schemas.push(schema.clone());
        Ok(())
    }

    fn row(&mut self, file: &str, line: u64, values: &[Value]) -> Result<(), String> {
        use std::fmt::Write as _;
        let b = &mut self.line_buf;
        b.clear();
        quote_into(b, file);
        b.push(',');
        push_int(b, i64::try_from(line).unwrap_or(i64::MAX));
        for v in values {
            b.push(',');
            match v {
                Value::Null => {}
                Value::Text(t) => quote_into(b, t),
                Value::Int(i) => push_int(b, *i),
                Value::Float(f) => {
                    let _ = write!(b, "{f:?}");
                }
                Value::Date(d) => push_date(b, *d),
                Value::Bool(x) => b.push_str(if *x { "true" } else { "false" }),
            }
        }
        b.push('\n');
        let (path, w) = self.staging.as_mut().ok_or("row outside a table")?;
        std::io::Write::write_all(w, b.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn end_table(&mut self) -> Result<(), String> {
        let table = self
            .table
            .take()
            .ok_or("end of a table that was not begun")?;
        let (path, w) = self
            .staging
            .take()
            .ok_or("end of a table without staging")?;
        // Flushed, not synced: DuckDB reads it at once through the page cache, and a load cut
        // short by a crash is discarded whole anyway.
        w.into_inner()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let sql = format!(
            "{};\nCOPY {} FROM {} (FORMAT csv, HEADER false, DELIMITER ',', QUOTE '\"', ESCAPE '\"', NULL '', allow_quoted_nulls false)",
            self.create_sql.take().ok_or("end of a table without its schema")?,
            ident(&table),
            crate::literal(&path.to_string_lossy())
        );
        // At most LOADS_IN_FLIGHT at a time: the oldest first. Each load creates and fills its
        // own table in its own transaction, so loads side by side cannot conflict.
        if self.loading.len() >= LOADS_IN_FLIGHT {
            self.wait_for_load()?;
        }
        let conn = self.conn.try_clone().map_err(|e| format!("{table}: {e}"))?;
        let timing = std::env::var_os("INZICHT_TIMING").is_some();
        self.loading.push_back(std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let result = conn
                .execute_batch(&sql)
                .map_err(|e| format!("{table}: {e}"));
            if timing {
                eprintln!(
                    "    {:6.3} s COPY into {table} (beside the next source)",
                    started.elapsed().as_secs_f64()
                );
            }
            let _ = std::fs::remove_file(&path);
            result
        }));
        Ok(())
    }

    fn quarantine(&mut self, q: &Quarantined) -> Result<(), String> {
        self.quarantine.push(vec![
            text(&q.source),
            text(&q.file),
            DValue::BigInt(q.line as i64),
            text(q.reason),
            q.column.as_deref().map(text).unwrap_or(DValue::Null),
            text(&q.detail),
            text(&serde_json::to_string(&q.raw).unwrap_or_default()),
        ]);
        if self.quarantine.len() >= BATCH {
            let mut q = std::mem::take(&mut self.quarantine);
            self.append("quarantine", &mut q)?;
        }
        Ok(())
    }

    fn normalised(&mut self, n: &Normalisation) -> Result<(), String> {
        self.normalisations.push(vec![
            text(&n.source),
            text(&n.file),
            DValue::BigInt(n.line as i64),
            text(&n.column),
            text(n.kind),
            text(&n.before),
            text(&n.after),
        ]);
        if self.normalisations.len() >= BATCH {
            let mut n = std::mem::take(&mut self.normalisations);
            self.append("normalisations", &mut n)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{push_date, push_int, quote_into};
    use inzicht_domain::Date;

    #[test]
    fn numbers_and_dates_are_written_as_the_formatter_writes_them() {
        for i in [
            0,
            7,
            -7,
            10,
            99,
            100,
            123_456_789,
            -1_000,
            i64::MAX,
            i64::MIN,
        ] {
            let mut buf = String::new();
            push_int(&mut buf, i);
            assert_eq!(buf, i.to_string());
        }
        for (year, month, day) in [(2024, 1, 5), (1900, 12, 31), (7, 3, 10), (2100, 10, 1)] {
            let d = Date { year, month, day };
            let mut buf = String::new();
            push_date(&mut buf, d);
            assert_eq!(buf, d.iso());
        }
    }

    #[test]
    fn quoting_doubles_every_quote() {
        for (value, quoted) in [
            ("", "\"\""),
            ("abc", "\"abc\""),
            ("a\"b", "\"a\"\"b\""),
            ("\"", "\"\"\"\""),
            ("\"\"x\"", "\"\"\"\"\"x\"\"\""),
            ("é,\n\"", "\"é,\n\"\"\""),
        ] {
            let mut buf = String::new();
            quote_into(&mut buf, value);
            assert_eq!(buf, quoted, "{value:?}");
        }
    }
}
