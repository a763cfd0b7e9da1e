//! `inzicht table` and disclosure control on a synthetic store: nothing below the threshold,
//! consistent noise, the query budget, bad input — and the attacker suite.

use inzicht_protect::querylog::QueryLog;
use inzicht_protect::{Flag, Policy, Protector};
use inzicht_store::table::{Asker, Measure, Session, TableError, TableQuery};
use std::collections::HashMap;
use std::path::PathBuf;

mod common;

struct World {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl World {
    fn new(seed: u64, clients: u32) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        common::loaded_store(&root, seed, clients, "5a");
        World { _tmp: tmp, root }
    }
    fn key(&self) -> PathBuf {
        self.root.join("geheim/sleutel.json")
    }
    fn session(&self) -> Session {
        Session::open(&self.root.join("store"), None, &self.key()).unwrap()
    }
}

fn q(by: &[&str], filter: Option<&str>, measure: Measure) -> TableQuery {
    TableQuery {
        by: by.iter().map(|s| s.to_string()).collect(),
        filter: filter.map(str::to_string),
        measure,
    }
}

fn protector() -> Protector {
    Protector::new(Policy::default()).unwrap()
}

/// The true number of distinct persons per cell, straight from the ADS.
fn truth(world: &World, sql: &str) -> HashMap<String, u64> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "ATTACH '{}' AS ads (READ_ONLY)",
        world.root.join("store/ads.duckdb").display()
    ))
    .unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                r.get::<_, i64>(1)? as u64,
            ))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn key_text(cell: &inzicht_store::table::Cell, dim: &str) -> String {
    match &cell.key[dim] {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

#[test]
fn no_number_below_the_threshold_and_the_same_persons_get_the_same_noise() {
    let w = World::new(11, 1_500);
    let s = w.session();
    let p = protector();
    // Every result kind of the table: counts, person-months, sums, means.
    let exact = truth(
        &w,
        "SELECT buurt_code, count(DISTINCT pseudonym) FROM ads.person_month WHERE year(month) = 2023 GROUP BY 1",
    );
    let r = s
        .run(
            &q(&["buurt"], Some("year = 2023"), Measure::Count),
            &p,
            None,
        )
        .unwrap();
    let mut shown = 0;
    for c in &r.cells {
        let n = exact.get(&key_text(c, "buurt")).copied().unwrap_or(0);
        match c.flag {
            Flag::Suppressed => {
                assert!(c.value.is_none());
                assert!(n < 10, "a cell of {n} persons was suppressed");
            }
            Flag::Protected => {
                shown += 1;
                let v = c.value.unwrap();
                assert!(n >= 10, "a cell of {n} persons was shown as {v}");
                assert!(v >= 10.0 && (v - n as f64).abs() <= 3.0, "{n} → {v}");
            }
            Flag::Unprotected => panic!("store output must be protected"),
        }
    }
    assert!(shown > 5 && r.protection["cells_suppressed"].as_u64().unwrap() > 0);
    assert!(r.cells.iter().any(|c| c.flag == Flag::Suppressed));
    for measure in [
        Measure::PersonMonths,
        Measure::Sum("netto_uitkering".into()),
        Measure::Mean("age".into()),
    ] {
        let r = s
            .run(
                &q(&["buurt", "sex"], Some("year = 2023"), measure),
                &p,
                None,
            )
            .unwrap();
        let exact = truth(
            &w,
            "SELECT buurt_code || '|' || coalesce(sex, ''), count(DISTINCT pseudonym) FROM ads.person_month WHERE year(month) = 2023 GROUP BY 1",
        );
        for c in &r.cells {
            let n = exact
                .get(&format!("{}|{}", key_text(c, "buurt"), key_text(c, "sex")))
                .copied()
                .unwrap_or(0);
            if c.value.is_some() {
                assert!(n >= 10, "{} rests on {n} persons", r.measure);
            }
        }
    }
    // Mean age near the truth.
    let r = s
        .run(&q(&[], None, Measure::Mean("age".into())), &p, None)
        .unwrap();
    let mean = r.total.value.unwrap();
    assert!((25.0..60.0).contains(&mean), "{mean}");

    // The same persons: the cell wijk = W in a table by wijk, the total of a table filtered on
    // W, the same cell in a table filtered on two wijken, and a repeated query.
    let by_wijk = s
        .run(&q(&["wijk"], None, Measure::Count), &p, None)
        .unwrap();
    let first = by_wijk
        .cells
        .iter()
        .find(|c| c.value.is_some())
        .unwrap()
        .clone();
    let wijk = key_text(&first, "wijk");
    let other = by_wijk
        .cells
        .iter()
        .map(|c| key_text(c, "wijk"))
        .find(|k| !k.is_empty() && *k != wijk)
        .unwrap();
    let filtered = s
        .run(
            &q(&[], Some(&format!("wijk = '{wijk}'")), Measure::Count),
            &p,
            None,
        )
        .unwrap();
    assert_eq!(filtered.total.value, first.value);
    let two = s
        .run(
            &q(
                &["wijk"],
                Some(&format!("wijk in ('{wijk}', '{other}')")),
                Measure::Count,
            ),
            &p,
            None,
        )
        .unwrap();
    let same = two
        .cells
        .iter()
        .find(|c| key_text(c, "wijk") == wijk)
        .unwrap();
    assert_eq!(same.value, first.value);
    let again = s
        .run(&q(&["wijk"], None, Measure::Count), &p, None)
        .unwrap();
    assert_eq!(
        serde_json::to_string(&again.cells).unwrap(),
        serde_json::to_string(&by_wijk.cells).unwrap()
    );
    // And after a key rotation (new pseudonyms), the same persons still get the same noise.
    inzicht_store::rotate_key(&w.root.join("store"), &w.key(), &mut |_| {}).unwrap();
    let rotated = w
        .session()
        .run(&q(&["wijk"], None, Measure::Count), &p, None)
        .unwrap();
    assert_ne!(rotated.snapshot, by_wijk.snapshot);
    assert_eq!(
        serde_json::to_string(&rotated.cells).unwrap(),
        serde_json::to_string(&by_wijk.cells).unwrap()
    );
}

#[test]
fn bad_queries_get_clear_errors_and_empty_results_say_so() {
    let w = World::new(12, 600);
    let s = w.session();
    let p = protector();
    let err = |query: TableQuery| match s.run(&query, &p, None) {
        Err(TableError::Input(m)) => m,
        other => panic!(
            "expected an input error, got {:?}",
            other.map(|r| r.cells.len())
        ),
    };
    let m = err(q(&["lengte"], None, Measure::Count));
    assert!(
        m.contains("unknown dimension 'lengte'") && m.contains("--list"),
        "{m}"
    );
    let m = err(q(&["wijk"], Some("leeftijd >> 3"), Measure::Count));
    assert!(m.contains("--where, position"), "{m}");
    let m = err(q(&["wijk"], Some("wijk = W01 or"), Measure::Count));
    assert!(m.contains("ends too early"), "{m}");
    let m = err(q(&[], None, Measure::Sum("bsn".into())));
    assert!(m.contains("unknown variable 'bsn'"), "{m}");
    let m = err(q(&["month", "buurt", "age"], None, Measure::Count));
    assert!(m.contains("cells"), "{m}");
    assert!(Measure::parse("median:age").is_err());
    // Dutch aliases work.
    assert!(s
        .run(
            &q(
                &["leeftijdsklasse"],
                Some("geslacht = V en leeftijd >= 30"),
                Measure::Count
            ),
            &p,
            None
        )
        .is_ok());
    // A query whose every cell rests on fewer than 10 persons says so.
    let r = s
        .run(
            &q(
                &["sex"],
                Some("month = 2024-12 and age = 23 and trede = 1"),
                Measure::Count,
            ),
            &p,
            None,
        )
        .unwrap();
    assert!(r.all_suppressed);
    let json = r.to_json(serde_json::json!({}));
    assert!(json["message"].as_str().unwrap().contains("afgeschermd"));
    assert!(json["cells"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["value"].is_null()));
    assert_eq!(json["protection"]["status"], "protected");
    assert_eq!(json["meta"]["snapshot"], r.snapshot.as_str());
    // A threshold below 1 in the policy file is refused with the file's name.
    let e = Policy::from_toml("threshold = 0", "protection.toml").unwrap_err();
    assert!(e.contains("protection.toml") && e.contains("at least 1"));
    // Record keys that are not beside the key file: a clear message.
    let e = Session::open(
        &w.root.join("store"),
        None,
        &w.root.join("elders/sleutel.json"),
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("record keys"), "{e}");
    // The record keys never enter the ADS.
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "ATTACH '{}' AS ads (READ_ONLY)",
        w.root.join("store/ads.duckdb").display()
    ))
    .unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM duckdb_columns() WHERE database_name = 'ads' AND column_name ILIKE '%record%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn near_identical_target_groups_are_refused_and_logged() {
    let w = World::new(13, 800);
    let s = w.session();
    let policy = Policy::default();
    let p = Protector::new(policy.clone()).unwrap();
    let log = QueryLog::new(&w.root.join("geheim/query-log"), "analist");
    let ask = |filter: &str, now: u64| {
        s.run(
            &q(&["sex"], Some(filter), Measure::Count),
            &p,
            Some(&Asker {
                log: &log,
                policy: &policy,
                now,
            }),
        )
    };
    let base = "year = 2023";
    assert!(ask(base, 1_900_000_000).is_ok());
    // The same question again, and clearly different ones, are answered.
    assert!(ask(base, 1_900_000_001).is_ok());
    assert!(ask("year = 2022", 1_900_000_002).is_ok());
    assert!(ask("year = 2023 and age < 40", 1_900_000_003).is_ok());
    // Everyone in 2023 except the persons aged exactly 44 (a handful): refused.
    let narrow = truth(
        &w,
        "SELECT 'n', count(DISTINCT pseudonym) FROM ads.person_month WHERE year(month) = 2023 AND pseudonym IN (SELECT pseudonym FROM ads.person_month WHERE year(month) = 2023 AND age = 44) AND pseudonym NOT IN (SELECT pseudonym FROM ads.person_month WHERE year(month) = 2023 AND age <> 44)",
    )["n"];
    assert!(narrow > 0 && narrow < 10, "{narrow} persons only aged 44");
    match ask("year = 2023 and age <> 44", 1_900_000_004) {
        Err(TableError::Refused(m)) => {
            assert!(m.contains("--by") && m.contains("Geweigerd"), "{m}")
        }
        other => panic!("expected a refusal, got {:?}", other.map(|r| r.total)),
    }
    // A budget of 1 answers one such query, then refuses the next.
    let generous = Policy {
        query_budget: 1,
        ..Policy::default()
    };
    let log2 = QueryLog::new(&w.root.join("geheim/query-log"), "collega");
    let ask2 = |filter: &str, now: u64| {
        s.run(
            &q(&["sex"], Some(filter), Measure::Count),
            &p,
            Some(&Asker {
                log: &log2,
                policy: &generous,
                now,
            }),
        )
    };
    assert!(ask2(base, 1_900_000_000).is_ok());
    assert!(ask2("year = 2023 and age <> 44", 1_900_000_001).is_ok());
    assert!(matches!(
        ask2("year = 2023 and age <> 45", 1_900_000_002),
        Err(TableError::Refused(_))
    ));
    // Every query, answered or refused, is in the log, and the chain holds.
    assert_eq!(inzicht_protect::querylog::verify(log.path()).unwrap(), 5);
    assert_eq!(inzicht_protect::querylog::verify(log2.path()).unwrap(), 3);
}

/// What the web tool relies on (issue 7): an open snapshot keeps answering while a newer load
/// runs and commits; a session opened afterwards sees the new snapshot.
#[test]
fn an_open_snapshot_keeps_answering_during_a_load_and_a_new_session_sees_the_next() {
    let w = World::new(14, 500);
    let old = w.session();
    let p = protector();
    let query = q(&["sex"], None, Measure::Count);
    let before = old.run(&query, &p, None).unwrap();
    // A newer export (another seed) is loaded while `old` is open.
    inzicht_synth::generate(
        &inzicht_synth::Config::new(15, 700),
        &w.root.join("synth2"),
        &mut |_, _| {},
    )
    .unwrap();
    let outcome = inzicht_store::ingest(
        &std::path::Path::new(
            &std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
        )
        .join("../../examples/synthetic/bron.toml"),
        &w.root.join("synth2/exports"),
        &w.root.join("store"),
        &w.key(),
        &mut |_| {},
    )
    .unwrap();
    assert!(outcome.new_snapshot);
    let during = old.run(&query, &p, None).unwrap();
    assert_eq!(during.snapshot, before.snapshot);
    assert_eq!(
        serde_json::to_string(&during.cells).unwrap(),
        serde_json::to_string(&before.cells).unwrap()
    );
    let new = w.session().run(&query, &p, None).unwrap();
    assert_eq!(new.snapshot, outcome.load_id);
    assert_ne!(new.total.value, before.total.value);
    // And the old snapshot stays reachable with --as-of.
    let as_of = Session::open(&w.root.join("store"), Some(&before.snapshot), &w.key())
        .unwrap()
        .run(&query, &p, None)
        .unwrap();
    assert_eq!(as_of.total.value, before.total.value);
}

#[test]
fn a_snapshot_whose_record_keys_have_no_person_nr_gives_the_same_tables() {
    // Snapshots loaded before `person_nr` existed have record-key files with only
    // (pseudonym, record_key): the session then joins the keys by pseudonym. Same numbers.
    let w = World::new(11, 600);
    let queries = [
        q(&["month"], None, Measure::Count),
        q(&["wijk", "outflow"], Some("year = 2023"), Measure::Count),
        q(&["sex"], Some("age > 40"), Measure::PersonMonths),
    ];
    let json = |s: &Session| -> Vec<String> {
        queries
            .iter()
            .map(|query| {
                s.run(query, &protector(), None)
                    .unwrap()
                    .to_json(serde_json::json!({}))
                    .to_string()
            })
            .collect()
    };
    let session = w.session();
    let with_person_nr = json(&session);
    let path = inzicht_store::recordkeys::record_keys_path(&w.key(), &session.snapshot);
    drop(session);
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let old = path.with_extension("old.parquet");
    conn.execute_batch(&format!(
        "COPY (SELECT pseudonym, record_key FROM read_parquet('{}')) TO '{}' (FORMAT parquet)",
        path.display(),
        old.display()
    ))
    .unwrap();
    std::fs::rename(&old, &path).unwrap();
    assert_eq!(json(&w.session()), with_person_nr);
}
