//! One load: read the exports, write a new snapshot (ODS, ADS, reconciliation, quality report)
//! beside the current one, and switch `current` only when everything is written.
//!
//! Atomicity: everything goes to `snapshots/.tmp-<id>/`; the directory is renamed to
//! `snapshots/<id>/` and `current` re-pointed (rename of a new link over the old: atomic on
//! POSIX) as the last steps. A load killed at any moment leaves `current` as it was; the next
//! load removes the leftover temporary directory. Loads are serialised by a lock file.
//!
//! Idempotence: a load's fingerprint is SHA-256 over the configuration, every input file, the
//! key id and the inzicht version. When it equals the current snapshot's, nothing is written.

use crate::secrets::KeyFile;
use crate::sink::OdsSink;
use crate::snapshot::Store;
use crate::{ads, literal, now_utc, quality, StoreError};
use duckdb::Connection;
use inzicht_domain::Month;
use inzicht_ingest::pipeline::{self, Reconciliation};
use inzicht_ingest::read::csv::{CsvOptions, CsvReader};
use inzicht_ingest::read::{RawRecord, ReadError, RecordSource};
use inzicht_ingest::IngestConfig;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct LoadOutcome {
    pub load_id: String,
    /// False when the input was already loaded (idempotent re-run): nothing was written.
    pub new_snapshot: bool,
    pub reconciliation: Option<Reconciliation>,
    pub key_created: bool,
    pub persons: u64,
    pub panel_rows: u64,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Internal(format!("{}: {e}", path.display()))
}

/// Every regular file under `dir`, sorted.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                files_under(&p, out);
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
}

fn fingerprint(config_text: &str, input: &Path, key_id: &str) -> Result<String, StoreError> {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(key_id.as_bytes());
    h.update(config_text.as_bytes());
    let mut files = Vec::new();
    files_under(input, &mut files);
    let mut buf = vec![0u8; 1 << 16];
    for f in files {
        h.update(
            f.strip_prefix(input)
                .unwrap_or(&f)
                .to_string_lossy()
                .as_bytes(),
        );
        let mut file = std::fs::File::open(&f).map_err(io(&f))?;
        loop {
            let n = file.read(&mut buf).map_err(io(&f))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Parquet through DuckDB: the file is copied to a temporary CSV (with its row number as the
/// first column) and read with the CSV reader, so memory stays bounded. The line of a Parquet
/// row is its row number + 1, as if a header were line 1.
struct ParquetSource {
    inner: CsvReader,
    header: Vec<String>,
    path: PathBuf,
    _tmp: tempfile_path::TempPath,
}

mod tempfile_path {
    /// A file removed when dropped.
    pub struct TempPath(pub std::path::PathBuf);
    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

impl RecordSource for ParquetSource {
    fn header(&self) -> &[String] {
        &self.header
    }
    fn next_record(&mut self) -> Option<Result<RawRecord, ReadError>> {
        let r = self.inner.next_record()?;
        Some(r.and_then(|mut rec| {
            let row: u64 = rec
                .fields
                .first()
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| ReadError::new(&self.path, None, "unreadable row number"))?;
            rec.fields.remove(0);
            Ok(RawRecord {
                line: row + 1,
                fields: rec.fields,
            })
        }))
    }
    fn describe(&self) -> String {
        "parquet (via DuckDB)".into()
    }
}

fn open_parquet(
    conn: &Connection,
    path: &Path,
    scratch: &Path,
    n: usize,
) -> Result<Box<dyn RecordSource>, ReadError> {
    let tmp = scratch.join(format!("parquet-{n}.csv"));
    let sql = format!(
        "COPY (SELECT row_number() OVER () AS __row, * FROM read_parquet({})) TO {} (HEADER, DELIMITER ',', QUOTE '\"')",
        literal(&path.to_string_lossy()),
        literal(&tmp.to_string_lossy())
    );
    conn.execute_batch(&sql)
        .map_err(|e| ReadError::new(path, None, format!("not a readable Parquet file: {e}")))?;
    let inner = CsvReader::open(
        &tmp,
        CsvOptions {
            encoding: inzicht_ingest::read::csv::EncodingChoice::Utf8,
            delimiter: Some(','),
        },
    )?;
    let header = inner.header()[1..].to_vec();
    Ok(Box::new(ParquetSource {
        inner,
        header,
        path: path.to_path_buf(),
        _tmp: tempfile_path::TempPath(tmp),
    }))
}

/// Holds the store's lock file for the duration of a load.
/// The lock is released when the file is closed (dropped).
struct LoadLock(#[allow(dead_code)] std::fs::File);

fn lock(store: &Path) -> Result<LoadLock, StoreError> {
    let path = store.join(".lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    match f.try_lock() {
        Ok(()) => Ok(LoadLock(f)),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Input(format!(
            "another load into {} is running; wait for it to finish",
            store.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(StoreError::Internal(format!("{}: {e}", path.display())))
        }
    }
}

/// `inzicht ingest`: loads `input` as configured into a new snapshot of `store_dir`.
pub fn ingest(
    config_path: &Path,
    input: &Path,
    store_dir: &Path,
    key_path: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<LoadOutcome, StoreError> {
    let config_text = std::fs::read_to_string(config_path).map_err(|e| {
        StoreError::Input(format!(
            "{}: cannot read the configuration: {e}",
            config_path.display()
        ))
    })?;
    let cfg = IngestConfig::parse(&config_text)
        .map_err(|e| StoreError::Input(format!("{}: {e}", config_path.display())))?;
    if !input.is_dir() {
        return Err(StoreError::Input(format!(
            "--input {} is not a directory",
            input.display()
        )));
    }
    std::fs::create_dir_all(store_dir.join("snapshots")).map_err(|e| {
        StoreError::Input(format!(
            "cannot create the store {}: {e}",
            store_dir.display()
        ))
    })?;
    if pending_key_path(key_path).exists() {
        return Err(StoreError::Input(format!(
            "{} exists: a key rotation was interrupted. If `current` in the store names a snapshot ending in -rekey-…, that snapshot uses the new key: move {} over {}; otherwise delete {}",
            pending_key_path(key_path).display(),
            pending_key_path(key_path).display(),
            key_path.display(),
            pending_key_path(key_path).display()
        )));
    }
    let (key, key_created) =
        KeyFile::open_or_create(key_path, store_dir).map_err(StoreError::Input)?;
    let _lock = lock(store_dir)?;
    let store = Store::new(store_dir);
    store.clean_stale();
    progress("vingerafdruk van de invoer");
    let fp = fingerprint(&config_text, input, &key.key_id())?;
    if let Some(cur) = store.current() {
        let load_json = store.snapshots_dir().join(&cur).join("load.json");
        let same = std::fs::read_to_string(load_json)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| v["fingerprint"] == fp);
        if same {
            return Ok(LoadOutcome {
                load_id: cur,
                new_snapshot: false,
                reconciliation: None,
                key_created,
                persons: 0,
                panel_rows: 0,
            });
        }
    }
    let started = now_utc();
    let load_id = format!(
        "{}-{fp}",
        started.replace(['-', ':'], "").trim_end_matches('Z')
    );
    let tmp = store.snapshots_dir().join(format!(".tmp-{load_id}"));
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let result = build_snapshot(&cfg, input, &tmp, &key, &load_id, &fp, &started, progress);
    match result {
        Ok((rec, persons, panel_rows)) => {
            let final_dir = store.snapshots_dir().join(&load_id);
            std::fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
            store.commit(&load_id)?;
            Ok(LoadOutcome {
                load_id,
                new_snapshot: true,
                reconciliation: Some(rec),
                key_created,
                persons,
                panel_rows,
            })
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn build_snapshot(
    cfg: &IngestConfig,
    input: &Path,
    dir: &Path,
    key: &KeyFile,
    load_id: &str,
    fp: &str,
    started: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<(Reconciliation, u64, u64), StoreError> {
    // INZICHT_TIMING=1 prints each phase's wall time on stderr (for the benchmark's breakdown).
    let timing = std::env::var_os("INZICHT_TIMING").is_some();
    let mut phase_start = std::time::Instant::now();
    let mut phase = |name: &str| {
        if timing {
            eprintln!(
                "ingest: {name}: {:.3} s",
                phase_start.elapsed().as_secs_f64()
            );
        }
        phase_start = std::time::Instant::now();
    };
    let ods_path = dir.join("ods.duckdb");
    let conn = Connection::open(&ods_path)?;
    limit_memory(&conn, dir)?;
    let scratch = dir.join("scratch");
    std::fs::create_dir_all(&scratch).map_err(io(&scratch))?;
    let (rec, schemas) = {
        let mut sink = OdsSink::new(&conn)?;
        let mut n = 0usize;
        let pq_conn = conn.try_clone()?;
        let mut parquet = |p: &Path| {
            n += 1;
            open_parquet(&pq_conn, p, &scratch, n)
        };
        progress("bronnen inlezen en valideren");
        let mut report = |source: &str, rows: u64| progress(&format!("{source}: {rows} rijen"));
        let rec =
            pipeline::run(cfg, input, &mut sink, &mut parquet, &mut report).map_err(
                |e| match e {
                    pipeline::IngestError::Sink(m) => {
                        StoreError::Internal(format!("writing the ODS: {m}"))
                    }
                    other => StoreError::Input(other.to_string()),
                },
            )?;
        sink.finish()
            .map_err(|m| StoreError::Internal(format!("writing the ODS: {m}")))?;
        (rec, sink.schemas.clone())
    };
    let _ = std::fs::remove_dir_all(&scratch);
    phase("read, validate, write the ODS");
    let data_end =
        Month::parse(&rec.data_end).ok_or_else(|| StoreError::Internal("bad data end".into()))?;
    let data_start = match cfg.load.data_start.as_deref() {
        Some(m) => Month::parse(m).ok_or_else(|| {
            StoreError::Input(format!("[load] data_start '{m}' is not a month YYYY-MM"))
        })?,
        None => data_end.plus(-12 * 50),
    };
    progress("pseudonimiseren");
    let persons = ads::pseudonymise(&conn, &schemas, key)?;
    let record_keys = crate::recordkeys::write(&conn, key, load_id)?;
    phase("pseudonyms and record keys");
    progress("analysebestand (ADS), persoon-maandpanel en datakwaliteit opbouwen");
    let ads_path = dir.join("ads.duckdb");
    conn.execute_batch(&format!(
        "ATTACH {} AS ads",
        literal(&ads_path.to_string_lossy())
    ))?;
    // The quality report reads the ODS only: it is computed on a connection of its own beside
    // the ADS build.
    let quality_conn = conn.try_clone()?;
    let (schemas_ref, rec_ref) = (&schemas, &rec);
    let q = ads::build_beside(&conn, &schemas, data_start, data_end, move || {
        let started = std::time::Instant::now();
        let q = quality::compute(&quality_conn, schemas_ref, rec_ref);
        if std::env::var_os("INZICHT_TIMING").is_some() {
            eprintln!(
                "    {:6.2} s quality report (beside the ADS)",
                started.elapsed().as_secs_f64()
            );
        }
        q
    })??;
    let panel_rows: u64 = conn
        .query_row("SELECT count(*) FROM ads.person_month", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap_or(0) as u64;
    phase("ADS, person-month panel and quality report");
    // person_area (person key → wijk, buurt) served the ADS build and the quality report.
    conn.execute_batch("DROP TABLE IF EXISTS person_area; DETACH ads; CHECKPOINT;")?;
    drop(conn);
    phase("checkpoint");
    let _ = std::fs::remove_dir_all(dir.join("spill"));
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).map_err(io(&dir.join(name)))
    };
    write(
        "reconciliation.json",
        serde_json::to_string_pretty(&rec).unwrap_or_default() + "\n",
    )?;
    write(
        "quality.json",
        serde_json::to_string_pretty(&q).unwrap_or_default() + "\n",
    )?;
    write("quality.html", quality::html(&q, load_id))?;
    let load = serde_json::json!({
        "load_id": load_id,
        "fingerprint": fp,
        "started": started,
        "finished": now_utc(),
        "inzicht_version": env!("CARGO_PKG_VERSION"),
        "key_id": key.key_id(),
        "key_file": absolute(&key.path),
        "record_keys": absolute(&record_keys),
        "data_start": data_start.to_string(),
        "data_end": data_end.to_string(),
        "persons": persons,
        "person_months": panel_rows,
        "tables": schemas.iter().map(|s| serde_json::json!({"name": s.name, "kind": s.kind.name(), "columns": s.columns})).collect::<Vec<_>>(),
    });
    write(
        "load.json",
        serde_json::to_string_pretty(&load).unwrap_or_default() + "\n",
    )?;
    Ok((rec, persons, panel_rows))
}

/// `inzicht key rotate`: a new key; a new snapshot whose ADS carries the new pseudonyms, built
/// from the current ODS. The old key is replaced, so old snapshots can no longer be linked to
/// BSNs through it.
pub fn rotate_key(
    store_dir: &Path,
    key_path: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<String, StoreError> {
    let old = KeyFile::load(key_path).map_err(StoreError::Input)?;
    let _lock = lock(store_dir)?;
    let store = Store::new(store_dir);
    store.clean_stale();
    let current = store.resolve(None)?;
    let load: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(current.join("load.json")).map_err(io(&current))?,
    )
    .map_err(|e| StoreError::Internal(e.to_string()))?;
    if load["key_id"].as_str() != Some(old.key_id().as_str()) {
        return Err(StoreError::Input("the key file does not belong to the current snapshot (other key id); give the key file of this store".into()));
    }
    let new = old.rotated().map_err(StoreError::Internal)?;
    let started = now_utc();
    let load_id = format!(
        "{}-rekey-{}",
        started.replace(['-', ':'], "").trim_end_matches('Z'),
        new.key_id()
    );
    let tmp = store.snapshots_dir().join(format!(".tmp-{load_id}"));
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let result = (|| -> Result<(), StoreError> {
        std::fs::copy(current.join("ods.duckdb"), tmp.join("ods.duckdb")).map_err(io(&tmp))?;
        for f in ["reconciliation.json", "quality.json", "quality.html"] {
            std::fs::copy(current.join(f), tmp.join(f)).map_err(io(&tmp))?;
        }
        let schemas: Vec<inzicht_ingest::pipeline::TableSchema> =
            serde_json::from_value(load["tables"].clone())
                .map_err(|e| StoreError::Internal(format!("load.json: {e}")))?;
        let conn = Connection::open(tmp.join("ods.duckdb"))?;
        limit_memory(&conn, &tmp)?;
        progress("nieuwe pseudoniemen");
        ads::pseudonymise(&conn, &schemas, &new)?;
        let record_keys = crate::recordkeys::write(&conn, &new, &load_id)?;
        conn.execute_batch(&format!(
            "ATTACH {} AS ads",
            literal(&tmp.join("ads.duckdb").to_string_lossy())
        ))?;
        let data_start = load["data_start"]
            .as_str()
            .and_then(Month::parse)
            .ok_or_else(|| StoreError::Internal("load.json lacks data_start".into()))?;
        let data_end = load["data_end"]
            .as_str()
            .and_then(Month::parse)
            .ok_or_else(|| StoreError::Internal("load.json lacks data_end".into()))?;
        progress("analysebestand opnieuw opbouwen");
        ads::build(&conn, &schemas, data_start, data_end)?;
        conn.execute_batch("DROP TABLE IF EXISTS person_area; DETACH ads; CHECKPOINT;")?;
        drop(conn);
        let _ = std::fs::remove_dir_all(tmp.join("spill"));
        let mut l = load.clone();
        l["load_id"] = serde_json::json!(load_id);
        l["key_id"] = serde_json::json!(new.key_id());
        l["key_file"] = serde_json::json!(absolute(&new.path));
        l["record_keys"] = serde_json::json!(absolute(&record_keys));
        l["rekeyed_from"] = load["load_id"].clone();
        l["fingerprint"] = serde_json::json!(format!("rekey-{}", new.key_id()));
        std::fs::write(
            tmp.join("load.json"),
            serde_json::to_string_pretty(&l).unwrap_or_default(),
        )
        .map_err(io(&tmp))?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    // The new key is written beside the old one (KEY.new), the snapshot committed, and only then
    // KEY.new renamed over KEY. An interruption leaves KEY.new, which `ingest` reports.
    let pending = pending_key_path(key_path);
    new.save_as(&pending).map_err(StoreError::Internal)?;
    let final_dir = store.snapshots_dir().join(&load_id);
    std::fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
    store.commit(&load_id)?;
    std::fs::rename(&pending, key_path).map_err(io(key_path))?;
    Ok(load_id)
}

/// An absolute path as text (for load.json).
fn absolute(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

fn pending_key_path(key_path: &Path) -> PathBuf {
    let mut name = key_path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".new");
    key_path.with_file_name(name)
}

/// Keeps DuckDB's memory within the load's budget (it spills to a temporary directory inside the
/// snapshot being written, removed before commit). Budget: `INZICHT_MEMORY_LIMIT`, default 3GB.
fn limit_memory(conn: &Connection, dir: &Path) -> Result<(), StoreError> {
    let limit = std::env::var("INZICHT_MEMORY_LIMIT").unwrap_or_else(|_| "3GB".into());
    let spill = dir.join("spill");
    conn.execute_batch(&format!(
        "SET memory_limit = {}; SET temp_directory = {};",
        literal(&limit),
        literal(&spill.to_string_lossy())
    ))?;
    Ok(())
}
