//! Writes what ingest loads into the ODS (identifiable): one table per source, plus the
//! quarantine and the normalisation log. Rows are buffered and appended in batches.

use crate::{ident, StoreError};
use duckdb::types::Value as DValue;
use duckdb::Connection;
use inzicht_ingest::pipeline::{
    FieldTypeName, Normalisation, Quarantined, Sink, TableSchema, Value,
};

const BATCH: usize = 20_000;

pub struct OdsSink<'c> {
    conn: &'c Connection,
    table: Option<String>,
    rows: Vec<Vec<DValue>>,
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

fn to_duck(v: &Value) -> DValue {
    match v {
        Value::Null => DValue::Null,
        Value::Text(s) => DValue::Text(s.clone()),
        Value::Int(i) => DValue::BigInt(*i),
        Value::Float(f) => DValue::Double(*f),
        Value::Date(d) => DValue::Date32(d.days_since_epoch() as i32),
        Value::Bool(b) => DValue::Boolean(*b),
    }
}

fn text(s: &str) -> DValue {
    DValue::Text(s.to_string())
}

impl<'c> OdsSink<'c> {
    pub fn new(conn: &'c Connection) -> Result<Self, StoreError> {
        conn.execute_batch(
            "CREATE TABLE quarantine (source VARCHAR, file VARCHAR, line BIGINT, reason VARCHAR, column_name VARCHAR, detail VARCHAR, raw_json VARCHAR);
             CREATE TABLE normalisations (source VARCHAR, file VARCHAR, line BIGINT, column_name VARCHAR, kind VARCHAR, value_before VARCHAR, value_after VARCHAR);",
        )?;
        Ok(OdsSink {
            conn,
            table: None,
            rows: Vec::new(),
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

    /// Writes what is still buffered.
    pub fn finish(&mut self) -> Result<(), String> {
        let mut q = std::mem::take(&mut self.quarantine);
        self.append("quarantine", &mut q)?;
        let mut n = std::mem::take(&mut self.normalisations);
        self.append("normalisations", &mut n)
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
        let sql = format!("CREATE TABLE {} ({})", ident(&schema.name), cols.join(", "));
        self.conn
            .execute_batch(&sql)
            .map_err(|e| format!("{}: {e}", schema.name))?;
        self.table = Some(schema.name.clone());
        self.schemas.push(schema.clone());
        Ok(())
    }

    fn row(&mut self, file: &str, line: u64, values: &[Value]) -> Result<(), String> {
        let mut row = Vec::with_capacity(values.len() + 2);
        row.push(text(file));
        row.push(DValue::BigInt(line as i64));
        row.extend(values.iter().map(to_duck));
        self.rows.push(row);
        if self.rows.len() >= BATCH {
            let table = self.table.clone().ok_or("row outside a table")?;
            let mut rows = std::mem::take(&mut self.rows);
            self.append(&table, &mut rows)?;
        }
        Ok(())
    }

    fn end_table(&mut self) -> Result<(), String> {
        let table = self
            .table
            .take()
            .ok_or("end of a table that was not begun")?;
        let mut rows = std::mem::take(&mut self.rows);
        self.append(&table, &mut rows)
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
