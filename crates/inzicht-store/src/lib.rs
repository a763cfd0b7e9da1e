//! The Datapakhuis (work in progress; see issue 3).

/// Opens an in-memory DuckDB and reports its version.
pub fn engine_version() -> Result<String, duckdb::Error> {
    let conn = duckdb::Connection::open_in_memory()?;
    conn.query_row("select version()", [], |r| r.get(0))
}
