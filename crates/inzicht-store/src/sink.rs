//! Writes what ingest loads into the ODS (identifiable): one table per source, plus the
//! quarantine and the normalisation log.
//!
//! Source rows are collected into Arrow record batches, column by column, and handed to DuckDB's
//! appender (`append_record_batch`: one data chunk of up to 2,048 rows per call). Per-value
//! appending through the C API cost about 45 of the 65 seconds of reading and validating 7
//! million rows; staging a CSV file and loading it with `COPY` cost far less, but DuckDB then
//! parsed again every value the reader had just parsed and validated (at 7,400 clients its CSV
//! parse was about half of each COPY). A missing value is a null, an empty text an empty string,
//! and numbers and dates keep their binary value, so nothing is formatted or parsed on the way.
//! The quarantine and the normalisation log are small and go through the plain appender.
//!
//! A table is created and loaded on its own connection to the same database in a background
//! thread, which receives the batches as the pipeline reads and validates the source (a bounded
//! channel: memory holds a few batches, whatever the size of the file), so that DuckDB and the
//! Rust reader use the two cores at once. Up to two loads are in flight at a time (each its own
//! table in its own transaction, the one being read and the one before it finishing), started
//! in source order; an error is reported at a later table or at `finish`, naming the table.
//! Other connections write only the quarantine and normalisation tables meanwhile — never a
//! table being loaded — so the transactions cannot conflict.

use crate::{ident, StoreError};
use duckdb::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
};
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::types::Value as DValue;
use duckdb::Connection;
use inzicht_ingest::pipeline::{
    FieldTypeName, Normalisation, Quarantined, Sink, TableSchema, Value,
};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;

const BATCH: usize = 20_000;

/// Rows per record batch handed to a table's load, and how many batches may wait for it: the
/// reader runs at most this far ahead of DuckDB.
const BATCH_ROWS: usize = 16_384;
const BATCHES_WAITING: usize = 2;

/// How many table loads may run at once: the table being read and the one before it, still
/// being written. At municipality scale the sources are read faster than DuckDB stores them
/// (reading and validating 7,400 clients' exports takes 0.36 s), so a table's load often ends
/// while the next source is being read; at national scale a source takes longer to read than
/// the previous one to finish.
const LOADS_IN_FLIGHT: usize = 2;

/// One column of the batch being collected, typed as its table column.
enum ColumnBuilder {
    Text(StringBuilder),
    Int(Int64Builder),
    Decimal(Float64Builder),
    Date(Date32Builder),
    Bool(BooleanBuilder),
}

impl ColumnBuilder {
    fn new(t: FieldTypeName) -> Self {
        match t {
            FieldTypeName::Text => ColumnBuilder::Text(StringBuilder::new()),
            FieldTypeName::Int => ColumnBuilder::Int(Int64Builder::with_capacity(BATCH_ROWS)),
            FieldTypeName::Decimal => {
                ColumnBuilder::Decimal(Float64Builder::with_capacity(BATCH_ROWS))
            }
            FieldTypeName::Date => ColumnBuilder::Date(Date32Builder::with_capacity(BATCH_ROWS)),
            FieldTypeName::Bool => ColumnBuilder::Bool(BooleanBuilder::with_capacity(BATCH_ROWS)),
        }
    }

    fn data_type(t: FieldTypeName) -> DataType {
        match t {
            FieldTypeName::Text => DataType::Utf8,
            FieldTypeName::Int => DataType::Int64,
            FieldTypeName::Decimal => DataType::Float64,
            FieldTypeName::Date => DataType::Date32,
            FieldTypeName::Bool => DataType::Boolean,
        }
    }

    /// Adds one value. The pipeline gives each column values of its type; a text column also
    /// takes any value as its text (as the CSV staging wrote it), a decimal column an integer.
    fn push(&mut self, v: &Value) -> Result<(), String> {
        match (self, v) {
            (ColumnBuilder::Text(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Int(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Decimal(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Date(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Bool(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Text(b), Value::Text(t)) => b.append_value(t),
            (ColumnBuilder::Text(b), Value::Int(i)) => b.append_value(i.to_string()),
            (ColumnBuilder::Text(b), Value::Float(f)) => b.append_value(format!("{f:?}")),
            (ColumnBuilder::Text(b), Value::Date(d)) => b.append_value(d.iso()),
            (ColumnBuilder::Text(b), Value::Bool(x)) => {
                b.append_value(if *x { "true" } else { "false" })
            }
            (ColumnBuilder::Int(b), Value::Int(i)) => b.append_value(*i),
            (ColumnBuilder::Decimal(b), Value::Float(f)) => b.append_value(*f),
            (ColumnBuilder::Decimal(b), Value::Int(i)) => b.append_value(*i as f64),
            (ColumnBuilder::Date(b), Value::Date(d)) => {
                let days = i32::try_from(d.days_since_epoch())
                    .map_err(|_| format!("the date {} is out of range", d.iso()))?;
                b.append_value(days)
            }
            (ColumnBuilder::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (_, v) => return Err(format!("a value of the wrong type for its column: {v:?}")),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Decimal(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
        }
    }
}

/// The table being read: its batch so far and the channel to its load.
struct Staging {
    table: String,
    schema: Arc<Schema>,
    /// `_source_file`, `_source_line`, then the table's columns.
    columns: Vec<ColumnBuilder>,
    rows: usize,
    batches: SyncSender<RecordBatch>,
    load: std::thread::JoinHandle<Result<(), String>>,
}

pub struct OdsSink<'c> {
    conn: &'c Connection,
    /// The table being read, if any.
    staging: Option<Staging>,
    /// The table loads in flight, oldest first (at most [`LOADS_IN_FLIGHT`], the one being
    /// read included).
    loading: std::collections::VecDeque<std::thread::JoinHandle<Result<(), String>>>,
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
            staging: None,
            loading: std::collections::VecDeque::new(),
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

    /// Hands the rows collected so far to the table's load as one record batch.
    fn send_batch(&mut self) -> Result<(), String> {
        let Some(st) = self.staging.as_mut() else {
            return Err("rows outside a table".into());
        };
        let arrays: Vec<ArrayRef> = st.columns.iter_mut().map(ColumnBuilder::finish).collect();
        st.rows = 0;
        let batch = RecordBatch::try_new(st.schema.clone(), arrays)
            .map_err(|e| format!("{}: {e}", st.table))?;
        if st.batches.send(batch).is_ok() {
            return Ok(());
        }
        // The load stopped: its own error says why.
        let st = self.staging.take().ok_or("rows outside a table")?;
        drop(st.batches);
        match st.load.join() {
            Ok(Err(e)) => Err(e),
            _ => Err(format!(
                "{}: loading the table stopped unexpectedly",
                st.table
            )),
        }
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
        if let Some(st) = self.staging.take() {
            drop(st.batches);
            let _ = st.load.join();
        }
        let _ = self.wait_for_all_loads();
    }
}

impl Sink for OdsSink<'_> {
    fn begin_table(&mut self, schema: &TableSchema) -> Result<(), String> {
        if self.staging.is_some() {
            return Err("a table begun inside another".into());
        }
        // Every ODS row keeps the file and line it came from, for audit.
        let mut cols: Vec<String> =
            vec!["_source_file VARCHAR".into(), "_source_line BIGINT".into()];
        cols.extend(
            schema
                .columns
                .iter()
                .map(|c| format!("{} {}", ident(&c.name), sql_type(c.ty))),
        );
        let mut fields = vec![
            Field::new("_source_file", DataType::Utf8, true),
            Field::new("_source_line", DataType::Int64, true),
        ];
        fields.extend(
            schema
                .columns
                .iter()
                .map(|c| Field::new(c.name.clone(), ColumnBuilder::data_type(c.ty), true)),
        );
        let mut columns = vec![
            ColumnBuilder::new(FieldTypeName::Text),
            ColumnBuilder::new(FieldTypeName::Int),
        ];
        columns.extend(schema.columns.iter().map(|c| ColumnBuilder::new(c.ty)));
        // The table is created by its load, so that this connection never changes the catalog
        // while another table loads.
        let create = format!("CREATE TABLE {} ({})", ident(&schema.name), cols.join(", "));
        // At most LOADS_IN_FLIGHT at a time, this one included: the oldest first. Each load
        // creates and fills its own table in its own transaction, so loads side by side cannot
        // conflict.
        while self.loading.len() >= LOADS_IN_FLIGHT {
            self.wait_for_load()?;
        }
        let table = schema.name.clone();
        let conn = self.conn.try_clone().map_err(|e| format!("{table}: {e}"))?;
        let (batches, received) = sync_channel::<RecordBatch>(BATCHES_WAITING);
        let timing = std::env::var_os("INZICHT_TIMING").is_some();
        let name = table.clone();
        let load = std::thread::spawn(move || {
            // Time spent waiting for batches is the reader's; what DuckDB spends is summed.
            let mut busy = std::time::Duration::ZERO;
            let started = std::time::Instant::now();
            let result = (|| -> Result<(), duckdb::Error> {
                conn.execute_batch(&create)?;
                let mut app = conn.appender(&name)?;
                busy += started.elapsed();
                for batch in received {
                    let t = std::time::Instant::now();
                    app.append_record_batch(batch)?;
                    busy += t.elapsed();
                }
                let t = std::time::Instant::now();
                app.flush()?;
                drop(app);
                busy += t.elapsed();
                Ok(())
            })()
            .map_err(|e| format!("{name}: {e}"));
            if timing {
                eprintln!(
                    "    {:6.3} s appending to {name} (beside the reader)",
                    busy.as_secs_f64()
                );
            }
            result
        });
        self.staging = Some(Staging {
            table,
            schema: Arc::new(Schema::new(fields)),
            columns,
            rows: 0,
            batches,
            load,
        });
        self.schemas.push(schema.clone());
        Ok(())
    }

    fn row(&mut self, file: &str, line: u64, values: &[Value]) -> Result<(), String> {
        let st = self.staging.as_mut().ok_or("row outside a table")?;
        if values.len() + 2 != st.columns.len() {
            return Err(format!(
                "{}: a row of {} values for {} columns",
                st.table,
                values.len(),
                st.columns.len() - 2
            ));
        }
        if let ColumnBuilder::Text(b) = &mut st.columns[0] {
            b.append_value(file);
        }
        if let ColumnBuilder::Int(b) = &mut st.columns[1] {
            b.append_value(i64::try_from(line).unwrap_or(i64::MAX));
        }
        for (c, v) in st.columns[2..].iter_mut().zip(values) {
            c.push(v).map_err(|e| format!("{}: {e}", st.table))?;
        }
        st.rows += 1;
        if st.rows >= BATCH_ROWS {
            self.send_batch()?;
        }
        Ok(())
    }

    fn end_table(&mut self) -> Result<(), String> {
        if self.staging.as_ref().is_some_and(|st| st.rows > 0) {
            self.send_batch()?;
        }
        let st = self
            .staging
            .take()
            .ok_or("end of a table that was not begun")?;
        // Closing the channel ends the load's loop; it flushes and ends on its own.
        drop(st.batches);
        self.loading.push_back(st.load);
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
    use super::*;
    use inzicht_domain::Date;
    use inzicht_ingest::pipeline::Column;
    use inzicht_ingest::Kind;

    fn column(name: &str, ty: FieldTypeName) -> Column {
        Column {
            name: name.into(),
            ty,
            role: Role::Feature,
            source_column: name.into(),
        }
    }
    use inzicht_ingest::pipeline::Role;

    type Row = (
        Option<String>,
        Option<i64>,
        Option<f64>,
        Option<String>,
        Option<bool>,
    );

    /// Every value comes back as it went in, across batch boundaries and with a second table
    /// loading beside the first: a missing text stays NULL and an empty text stays empty,
    /// awkward texts, extreme numbers and the first and last dates the reader accepts keep their value, an integer in a decimal
    /// column becomes that decimal.
    #[test]
    fn values_arrive_as_given_across_batches_and_tables() {
        let conn = Connection::open_in_memory().expect("duckdb");
        let mut sink = OdsSink::new(&conn).expect("sink");
        let schema = |name: &str| TableSchema {
            name: name.into(),
            kind: Kind::Vacancies,
            columns: vec![
                column("txt", FieldTypeName::Text),
                column("n", FieldTypeName::Int),
                column("x", FieldTypeName::Decimal),
                column("d", FieldTypeName::Date),
                column("b", FieldTypeName::Bool),
            ],
        };
        let date = |y, m, d| Value::Date(Date::new(y, m, d).expect("date"));
        let special: Vec<(Vec<Value>, Row)> = vec![
            (vec![Value::Null; 5], (None, None, None, None, None)),
            (
                vec![
                    Value::Text(String::new()),
                    Value::Int(i64::MIN),
                    Value::Float(-0.0),
                    date(1800, 1, 1),
                    Value::Bool(false),
                ],
                (
                    Some(String::new()),
                    Some(i64::MIN),
                    Some(-0.0),
                    Some("1800-01-01".into()),
                    Some(false),
                ),
            ),
            (
                vec![
                    Value::Text("a \"quoted\", split\nline é ∑".into()),
                    Value::Int(i64::MAX),
                    Value::Float(f64::MAX),
                    date(2200, 12, 31),
                    Value::Bool(true),
                ],
                (
                    Some("a \"quoted\", split\nline é ∑".into()),
                    Some(i64::MAX),
                    Some(f64::MAX),
                    Some("2200-12-31".into()),
                    Some(true),
                ),
            ),
            (
                vec![
                    Value::Int(42),
                    Value::Null,
                    Value::Int(3),
                    date(1970, 1, 1),
                    Value::Null,
                ],
                (
                    Some("42".into()),
                    None,
                    Some(3.0),
                    Some("1970-01-01".into()),
                    None,
                ),
            ),
            (
                vec![
                    Value::Text("NULL".into()),
                    Value::Int(0),
                    Value::Float(5e-324),
                    date(2024, 2, 29),
                    Value::Bool(true),
                ],
                (
                    Some("NULL".into()),
                    Some(0),
                    Some(5e-324),
                    Some("2024-02-29".into()),
                    Some(true),
                ),
            ),
        ];
        let mut expected: Vec<Vec<Row>> = vec![Vec::new(), Vec::new()];
        for (t, name) in ["first", "second"].iter().enumerate() {
            sink.begin_table(&schema(name)).expect("begin");
            // More rows than two batches, the special ones at the start, at a batch boundary
            // and at the end.
            let n = 2 * BATCH_ROWS + 7;
            for line in 0..n {
                let (values, row) = match line {
                    0..=4 => special[line].clone(),
                    l if (BATCH_ROWS - 2..BATCH_ROWS + 3).contains(&l) => {
                        special[l - (BATCH_ROWS - 2)].clone()
                    }
                    l if l >= n - 5 => special[l - (n - 5)].clone(),
                    l => (
                        vec![
                            Value::Text(format!("row {l}")),
                            Value::Int(l as i64 * 7 - 1000),
                            Value::Float(l as f64 / 3.0),
                            date(
                                2000 + (l % 30) as i32,
                                1 + (l % 12) as u32,
                                1 + (l % 28) as u32,
                            ),
                            Value::Bool(l % 3 == 0),
                        ],
                        (
                            Some(format!("row {l}")),
                            Some(l as i64 * 7 - 1000),
                            Some(l as f64 / 3.0),
                            Some(format!(
                                "{:04}-{:02}-{:02}",
                                2000 + l % 30,
                                1 + l % 12,
                                1 + l % 28
                            )),
                            Some(l % 3 == 0),
                        ),
                    ),
                };
                sink.row("bestand.csv", line as u64 + 2, &values)
                    .expect("row");
                expected[t].push(row);
            }
            sink.end_table().expect("end");
        }
        sink.finish().expect("finish");
        for (t, name) in ["first", "second"].iter().enumerate() {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT txt, n, x, CAST(d AS VARCHAR), b, _source_file, _source_line FROM {name} ORDER BY _source_line"
                ))
                .expect("query");
            let got: Vec<(Row, String, i64)> = stmt
                .query_map([], |r| {
                    Ok((
                        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
                        r.get(5)?,
                        r.get(6)?,
                    ))
                })
                .expect("rows")
                .collect::<Result<_, _>>()
                .expect("read");
            assert_eq!(got.len(), expected[t].len());
            for (i, ((row, file, line), want)) in got.iter().zip(&expected[t]).enumerate() {
                assert_eq!((file.as_str(), *line), ("bestand.csv", i as i64 + 2));
                assert_eq!(
                    (&row.0, row.1, &row.3, row.4),
                    (&want.0, want.1, &want.3, want.4),
                    "row {i}"
                );
                assert_eq!(row.2.map(f64::to_bits), want.2.map(f64::to_bits), "row {i}");
            }
        }
    }

    /// A value of the wrong type is an error naming the table, not a panic or a silent NULL.
    #[test]
    fn a_value_of_the_wrong_type_names_the_table() {
        let conn = Connection::open_in_memory().expect("duckdb");
        let mut sink = OdsSink::new(&conn).expect("sink");
        sink.begin_table(&TableSchema {
            name: "t".into(),
            kind: Kind::Vacancies,
            columns: vec![column("n", FieldTypeName::Int)],
        })
        .expect("begin");
        let e = sink
            .row("f.csv", 2, &[Value::Text("zeven".into())])
            .expect_err("a text in an integer column");
        assert!(e.starts_with("t: "), "{e}");
    }
}
