//! The record keys of disclosure control, kept beside the key file and never in the ADS (so
//! that holding the ADS does not let anyone strip the noise from protected outputs).
//!
//! Layout, beside `KEY` (the key file):
//!
//! ```text
//! KEY.record-keys/<load-id>.parquet   pseudonym, person_nr → record_key (63-bit), one file per snapshot
//! protection.toml                      the installation's protection policy (optional)
//! query-log/<user>.jsonl               the per-user query log (hash-chained)
//! ```

use crate::secrets::KeyFile;
use crate::{literal, StoreError};
use duckdb::Connection;
use std::path::{Path, PathBuf};

/// The directory that holds the secrets: the key file's directory.
pub fn secrets_dir(key_path: &Path) -> PathBuf {
    match key_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The record-key file of a snapshot.
pub fn record_keys_path(key_path: &Path, load_id: &str) -> PathBuf {
    let mut dir = key_path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    dir.push(".record-keys");
    key_path
        .with_file_name(dir)
        .join(format!("{load_id}.parquet"))
}

/// Writes the record keys of every pseudonym in the ODS's `pseudonyms` table (written
/// atomically: a temporary file renamed into place).
pub fn write(conn: &Connection, key: &KeyFile, load_id: &str) -> Result<PathBuf, StoreError> {
    let path = record_keys_path(&key.path, load_id);
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir).map_err(|e| {
        StoreError::Input(format!(
            "cannot create {} beside the key file: {e}",
            dir.display()
        ))
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE record_keys (pseudonym VARCHAR, person_nr INTEGER, record_key BIGINT)",
    )?;
    {
        let rows: Vec<(String, String, i32)> = conn
            .prepare("SELECT person_key, pseudonym, person_nr FROM pseudonyms")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut app = conn.appender("record_keys")?;
        for (person_key, pseudonym, person_nr) in &rows {
            app.append_row(duckdb::params![
                pseudonym,
                person_nr,
                key.record_key(person_key) as i64
            ])?;
        }
        app.flush()?;
    }
    let tmp = dir.join(format!(".tmp-{load_id}.parquet"));
    conn.execute_batch(&format!(
        "COPY (SELECT * FROM record_keys ORDER BY pseudonym) TO {} (FORMAT parquet); DROP TABLE record_keys;",
        literal(&tmp.to_string_lossy())
    ))?;
    std::fs::rename(&tmp, &path)
        .map_err(|e| StoreError::Internal(format!("{}: {e}", path.display())))?;
    Ok(path)
}

/// The SQL function `record_key(person_nr INTEGER) -> BIGINT` of a session: the record key of a
/// person of the snapshot, NULL for a number without one.
///
/// Disclosure control needs each (cell, person) pair's record key. A hash join of the grouped
/// rows with the record-key table cost about 1 ms per query plus ~8 ns per pair — 5–20% of a
/// municipality-scale `inzicht table` query; a lookup in an array indexed by `person_nr` costs
/// a fraction of that. The keys live only in this process's memory, as the `rk` table did.
pub(crate) struct RecordKeyLookup;

impl duckdb::vscalar::VScalar for RecordKeyLookup {
    /// `keys[person_nr]`; `None` where that number has no record key (and at index 0).
    type State = std::sync::Arc<Vec<Option<i64>>>;

    fn invoke(
        keys: &Self::State,
        input: &mut duckdb::core::DataChunkHandle,
        output: &mut dyn duckdb::vtab::arrow::WritableVector,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let len = input.len();
        let column = input.flat_vector(0);
        // SAFETY: DuckDB flattens the input chunk before calling a C-API scalar function
        // (`CAPIScalarFunction`), and the only signature takes an INTEGER, so column 0 is a
        // flat vector of at least `len` i32 values; the output is a flat BIGINT vector of the
        // chunk's length. Neither slice outlives this call.
        let numbers = unsafe { column.as_slice_with_len::<i32>(len) };
        let mut out = output.flat_vector();
        let mut missing = Vec::new();
        {
            let values = unsafe { out.as_mut_slice_with_len::<i64>(len) };
            for (row, (value, &nr)) in values.iter_mut().zip(numbers).enumerate() {
                let key = if column.row_is_null(row as u64) {
                    None
                } else {
                    usize::try_from(nr)
                        .ok()
                        .and_then(|i| keys.get(i).copied().flatten())
                };
                match key {
                    Some(k) => *value = k,
                    None => {
                        *value = 0;
                        missing.push(row);
                    }
                }
            }
        }
        for row in missing {
            out.set_null(row);
        }
        Ok(())
    }

    fn signatures() -> Vec<duckdb::vscalar::ScalarFunctionSignature> {
        use duckdb::core::{LogicalTypeHandle, LogicalTypeId};
        vec![duckdb::vscalar::ScalarFunctionSignature::exact(
            vec![LogicalTypeHandle::from(LogicalTypeId::Integer)],
            LogicalTypeHandle::from(LogicalTypeId::Bigint),
        )]
    }
}

/// Registers `record_key(person_nr)` on `conn` from the session's `rk` table.
pub(crate) fn register_lookup(conn: &Connection) -> Result<(), StoreError> {
    let pairs: Vec<(i32, i64)> = conn
        .prepare("SELECT person_nr, record_key FROM rk WHERE person_nr IS NOT NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let size = pairs
        .iter()
        .map(|&(nr, _)| usize::try_from(nr).unwrap_or(0) + 1)
        .max()
        .unwrap_or(1);
    if size > 2 * pairs.len() + 16 {
        return Err(StoreError::Input(format!(
            "the record-key file of this snapshot numbers its persons up to {} for {} persons: it does not belong to this snapshot; load the data again",
            size - 1,
            pairs.len()
        )));
    }
    let mut keys = vec![None; size];
    for (nr, key) in pairs {
        if let Ok(i) = usize::try_from(nr) {
            keys[i] = Some(key);
        }
    }
    conn.register_scalar_function_with_state::<RecordKeyLookup>(
        "record_key",
        &std::sync::Arc::new(keys),
    )?;
    Ok(())
}
