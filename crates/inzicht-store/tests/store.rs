//! The Datapakhuis on the synthetic municipality: reconciliation, quarantine, no BSN in the ADS,
//! the key outside the store, idempotent re-runs, history, key rotation, the panel and the
//! quality report.

use duckdb::Connection;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn config() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../../examples/synthetic/bron.toml")
}

struct World {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl World {
    fn new(seed: u64, clients: u32) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        inzicht_synth::generate(
            &inzicht_synth::Config::new(seed, clients),
            &root.join("synth"),
            &mut |_, _| {},
        )
        .unwrap();
        World { _tmp: tmp, root }
    }
    fn exports(&self) -> PathBuf {
        self.root.join("synth/exports")
    }
    fn store(&self) -> PathBuf {
        self.root.join("store")
    }
    fn key(&self) -> PathBuf {
        self.root.join("sleutel.json")
    }
    fn ingest(&self) -> inzicht_store::LoadOutcome {
        inzicht_store::ingest(
            &config(),
            &self.exports(),
            &self.store(),
            &self.key(),
            &mut |_| {},
        )
        .expect("ingest")
    }
    fn json(&self, rel: &str) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.root.join(rel)).unwrap()).unwrap()
    }
}

fn read_only(path: &Path) -> Connection {
    let cfg = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .unwrap();
    Connection::open_with_flags(path, cfg).unwrap()
}

fn tables(conn: &Connection) -> Vec<String> {
    conn.prepare(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1",
    )
    .unwrap()
    .query_map([], |r| r.get(0))
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn columns(conn: &Connection, table: &str) -> Vec<String> {
    conn.prepare("SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position").unwrap().query_map([table], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

#[test]
fn load_reconciles_quarantines_and_keeps_bsns_out_of_the_ads() {
    let w = World::new(4, 1_500);
    let out = w.ingest();
    assert!(out.new_snapshot && out.key_created);
    // Reconciliation: exact per file, and equal to what the generator wrote.
    let rec = w.json("store/reconciliation.json");
    let summary = w.json("synth/summary.json");
    for f in rec["files"].as_array().unwrap() {
        let (r, l, q) = (
            f["rows_read"].as_u64().unwrap(),
            f["rows_loaded"].as_u64().unwrap(),
            f["rows_quarantined"].as_u64().unwrap(),
        );
        assert_eq!(r, l + q, "{}", f["file"]);
        let reasons: u64 = f["reasons"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(reasons, q, "{}", f["file"]);
        if let Some(n) =
            summary["rows_per_file"][format!("exports/{}", f["file"].as_str().unwrap())].as_u64()
        {
            assert_eq!(r, n, "{}", f["file"]);
        }
    }
    // Every quarantine-kind defect of the truth is in the ODS quarantine table.
    let truth = w.json("synth/truth.json");
    let expected = truth["defects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| !matches!(d["kind"].as_str(), Some("stray_whitespace" | "mixed_case")))
        .count();
    let ods = read_only(&w.store().join("ods.duckdb"));
    let n: i64 = ods
        .query_row("SELECT count(*) FROM quarantine", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n as usize, expected);
    let loaded: i64 = ods
        .query_row("SELECT count(*) FROM uitkeringen", [], |r| r.get(0))
        .unwrap();
    assert_eq!(loaded as u64, summary["spells"].as_u64().unwrap());

    // No BSN of the input anywhere in the ADS: every column of every table, as text.
    let mut bsns: HashSet<String> = HashSet::new();
    let persons = std::fs::read(w.exports().join("suite/personen.csv")).unwrap();
    for line in persons.split(|b| *b == b'\n').skip(1) {
        if line.len() > 9 {
            bsns.insert(String::from_utf8_lossy(&line[..9]).into_owned());
        }
    }
    assert!(bsns.len() >= 1_500);
    let ads = read_only(&w.store().join("ads.duckdb"));
    let ads_tables = tables(&ads);
    assert!(ads_tables.contains(&"person_month".to_string()));
    for t in &ads_tables {
        for c in columns(&ads, t) {
            let sql = format!(
                "SELECT DISTINCT CAST(\"{c}\" AS VARCHAR) FROM \"{t}\" WHERE \"{c}\" IS NOT NULL"
            );
            let values: Vec<String> = ads
                .prepare(&sql)
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            for v in values {
                for token in v
                    .split(|ch: char| !ch.is_ascii_digit())
                    .filter(|s| s.len() == 9)
                {
                    assert!(!bsns.contains(token), "BSN {token} in ads.{t}.{c}");
                }
            }
        }
        let cols = columns(&ads, t);
        for forbidden in [
            "bsn",
            "person_key",
            "partner_key",
            "birth_date",
            "geboortedatum",
            "postcode",
            "voornaam",
            "achternaam",
            "straat",
            "huisnummer",
        ] {
            assert!(
                !cols.iter().any(|c| c == forbidden),
                "ads.{t} has column {forbidden}"
            );
        }
    }
    // And in the raw bytes of the file.
    drop(ads);
    let raw = std::fs::read(w.store().join("ads.duckdb")).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let leaked = bsns.iter().filter(|b| text.contains(b.as_str())).count();
    assert_eq!(leaked, 0, "{leaked} BSNs appear in the bytes of ads.duckdb");

    // The key lies outside the store, mode 0600.
    assert!(!w.key().starts_with(w.store()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(w.key()).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[test]
fn the_panel_has_one_row_per_person_month_and_no_future_information() {
    let w = World::new(5, 800);
    w.ingest();
    let ads = read_only(&w.store().join("ads.duckdb"));
    let (rows, distinct): (i64, i64) = ads
        .query_row(
            "SELECT count(*), count(DISTINCT (pseudonym, month)) FROM person_month",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(rows > 10_000, "{rows} person-months");
    assert_eq!(rows, distinct, "one row per pseudonym × month");
    let leak: i64 = ads
        .query_row(
            "SELECT count(*) FROM person_month WHERE diag_date > last_day(month)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        leak, 0,
        "an assessment from after the month leaked into the panel"
    );
    let (lo, hi): (String, String) = ads
        .query_row(
            "SELECT CAST(min(month) AS VARCHAR), CAST(max(month) AS VARCHAR) FROM person_month",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((lo.as_str(), hi.as_str()), ("2012-01-01", "2024-12-01"));
    // Running spells at the end of the data equal the panel's last month.
    let running: i64 = ads
        .query_row(
            "SELECT count(*) FROM uitkeringen WHERE end_date IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let last: i64 = ads.query_row("SELECT count(*) FROM person_month WHERE month = DATE '2024-12-01' AND NOT exits_this_month", [], |r| r.get(0)).unwrap();
    assert_eq!(running, last);
    // Every person-level table carries pseudonym × wijk/buurt.
    for t in ["uitkeringen", "voorzieningen", "diagnoses", "personen"] {
        let cols = columns(&ads, t);
        for c in ["pseudonym", "wijk_code", "buurt_code"] {
            assert!(cols.iter().any(|x| x == c), "{t} lacks {c}");
        }
    }
}

#[test]
fn reloading_is_idempotent_a_new_export_adds_history_and_rotation_rekeys() {
    let w = World::new(6, 400);
    let first = w.ingest();
    let again = w.ingest();
    assert!(!again.new_snapshot, "the same exports load once");
    assert_eq!(again.load_id, first.load_id);
    let store = inzicht_store::Store::new(&w.store());
    assert_eq!(store.list().len(), 1);
    // A newer export (one more client) is a new snapshot; the old one stays.
    std::fs::remove_dir_all(w.root.join("synth")).unwrap();
    inzicht_synth::generate(
        &inzicht_synth::Config::new(6, 401),
        &w.root.join("synth"),
        &mut |_, _| {},
    )
    .unwrap();
    let second = w.ingest();
    assert!(second.new_snapshot);
    assert_eq!(store.list().len(), 2);
    assert_eq!(store.current().as_deref(), Some(second.load_id.as_str()));
    assert!(store
        .resolve(Some(&first.load_id))
        .unwrap()
        .join("ads.duckdb")
        .exists());

    let pseudonyms = |p: &Path| -> Vec<String> {
        let c = read_only(p);
        c.prepare("SELECT pseudonym FROM personen ORDER BY pseudonym")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    // person_nr is the rank of the pseudonym (1…n, one per person) and is re-drawn with it,
    // so that it cannot link snapshots across a rotation.
    let person_nrs = |p: &Path| -> Vec<(i64, i64, bool)> {
        let c = read_only(p);
        c.prepare(
            "SELECT count(DISTINCT person_nr), max(person_nr),
                    bool_and(person_nr = rank) FROM (
               SELECT DISTINCT pseudonym, person_nr, dense_rank() OVER (ORDER BY pseudonym) AS rank
               FROM person_month)",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    let person_nr_of = |p: &Path| -> Vec<(String, i64)> {
        let c = read_only(p);
        c.prepare("SELECT DISTINCT pseudonym, person_nr FROM person_month")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let before = pseudonyms(&w.store().join("ads.duckdb"));
    let numbers_before = person_nrs(&w.store().join("ads.duckdb"));
    let (n, max, ranks) = numbers_before[0];
    assert!(n > 0 && n == max && ranks, "{numbers_before:?}");
    let id = inzicht_store::rotate_key(&w.store(), &w.key(), &mut |_| {}).unwrap();
    assert_eq!(store.current().as_deref(), Some(id.as_str()));
    let after = pseudonyms(&w.store().join("ads.duckdb"));
    assert_eq!(before.len(), after.len());
    let overlap = before
        .iter()
        .filter(|p| after.binary_search(p).is_ok())
        .count();
    assert_eq!(overlap, 0, "every pseudonym changes with the key");
    assert_eq!(person_nrs(&w.store().join("ads.duckdb")), numbers_before);
    // The same persons, numbered afresh: most numbers now belong to someone else. (Matched
    // through the ODS, which links both pseudonyms to the person key.)
    let old_snapshot = store.resolve(Some(&second.load_id)).unwrap();
    let new_snapshot = store.resolve(None).unwrap();
    let by_person = |dir: &Path| -> std::collections::HashMap<String, i64> {
        let ods = read_only(&dir.join("ods.duckdb"));
        let nr: std::collections::HashMap<String, i64> =
            person_nr_of(&dir.join("ads.duckdb")).into_iter().collect();
        ods.prepare("SELECT person_key, pseudonym FROM pseudonyms")
            .unwrap()
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .filter_map(|(k, p)| Some((k, *nr.get(&p)?)))
            .collect()
    };
    let (a, b) = (by_person(&old_snapshot), by_person(&new_snapshot));
    let kept = a.iter().filter(|(k, nr)| b.get(*k) == Some(nr)).count();
    assert!(
        kept * 10 < a.len(),
        "{kept} of {} kept their number",
        a.len()
    );
    // The next load with the rotated key is consistent with the re-keyed snapshot.
    let third = w.ingest();
    assert!(third.new_snapshot, "a new key id means a new fingerprint");
    let latest = pseudonyms(&w.store().join("ads.duckdb"));
    assert_eq!(latest, after);
}

#[test]
fn the_quality_report_renders() {
    let w = World::new(7, 600);
    w.ingest();
    let q = w.json("store/quality.json");
    for k in [
        "files",
        "defects",
        "normalisations",
        "linkage",
        "sources",
        "shifts",
    ] {
        assert!(!q[k].is_null(), "quality.json lacks {k}");
    }
    assert!(
        q["linkage"]["uitkeringen_rows_linked_to_a_person"]
            .as_f64()
            .unwrap()
            > 0.95
    );
    let html = std::fs::read_to_string(w.store().join("quality.html")).unwrap();
    assert!(
        html.starts_with("<!doctype html>")
            && html.contains("Datakwaliteit")
            && html.contains("uitkeringen")
    );
    assert!(
        !html.contains("<script"),
        "no scripts: the report works offline and is safe to open"
    );
}

#[test]
fn a_key_file_inside_the_store_and_a_bad_config_are_refused() {
    let w = World::new(8, 50);
    std::fs::create_dir_all(w.store()).unwrap();
    let e = inzicht_store::ingest(
        &config(),
        &w.exports(),
        &w.store(),
        &w.store().join("k.json"),
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("inside the store"), "{e}");
    let bad = w.root.join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(config()).unwrap().replace(
            "person_key = \"bsn\", birth_date",
            "person_key = \"BSN_NR\", birth_date",
        ),
    )
    .unwrap();
    let e = inzicht_store::ingest(&bad, &w.exports(), &w.store(), &w.key(), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("personen.csv") && e.contains("BSN_NR") && e.contains("line 1"),
        "{e}"
    );
    assert!(
        inzicht_store::Store::new(&w.store()).current().is_none(),
        "a failed load commits nothing"
    );
    let leftovers = std::fs::read_dir(w.store().join("snapshots"))
        .unwrap()
        .count();
    assert_eq!(leftovers, 0, "a failed load leaves no snapshot directory");
}

#[test]
fn a_parquet_source_is_read_through_duckdb() {
    let w = World::new(9, 200);
    // Turn one export into Parquet with DuckDB, and point the configuration at it.
    let csv = w.exports().join("reintegratie/werkervaring.csv");
    let parquet = w.exports().join("reintegratie/werkervaring.parquet");
    let c = Connection::open_in_memory().unwrap();
    c.execute_batch(&format!(
        "COPY (SELECT * FROM read_csv('{}', all_varchar = true)) TO '{}' (FORMAT parquet)",
        csv.display(),
        parquet.display()
    ))
    .unwrap();
    let rows_csv: i64 = c
        .query_row(
            &format!("SELECT count(*) FROM read_csv('{}')", csv.display()),
            [],
            |r| r.get(0),
        )
        .unwrap();
    std::fs::remove_file(&csv).unwrap();
    let cfg = w.root.join("bron.toml");
    std::fs::write(
        &cfg,
        std::fs::read_to_string(config()).unwrap().replace(
            "file = \"reintegratie/werkervaring.csv\"",
            "file = \"reintegratie/werkervaring.parquet\"\nformat = \"parquet\"",
        ),
    )
    .unwrap();
    let out = inzicht_store::ingest(&cfg, &w.exports(), &w.store(), &w.key(), &mut |_| {})
        .expect("ingest with parquet");
    let rec = out.reconciliation.unwrap();
    let f = rec
        .files
        .iter()
        .find(|f| f.source == "werkervaring")
        .unwrap();
    assert_eq!(f.rows_read as i64, rows_csv);
    assert_eq!(f.rows_read, f.rows_loaded + f.rows_quarantined);
    assert!(f.read_as.contains("parquet"));
    let ads = read_only(&w.store().join("ads.duckdb"));
    let n: i64 = ads
        .query_row("SELECT count(*) FROM werkervaring", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n as u64, f.rows_loaded);
}
