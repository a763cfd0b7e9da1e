//! The record keys of disclosure control, kept beside the key file and never in the ADS (so
//! that holding the ADS does not let anyone strip the noise from protected outputs).
//!
//! Layout, beside `KEY` (the key file):
//!
//! ```text
//! KEY.record-keys/<load-id>.parquet   pseudonym → record_key (63-bit), one file per snapshot
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
        "CREATE OR REPLACE TEMP TABLE record_keys (pseudonym VARCHAR, record_key BIGINT)",
    )?;
    {
        let pairs: Vec<(String, String)> = conn
            .prepare("SELECT person_key, pseudonym FROM pseudonyms")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut app = conn.appender("record_keys")?;
        for (person_key, pseudonym) in &pairs {
            app.append_row(duckdb::params![
                pseudonym,
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
