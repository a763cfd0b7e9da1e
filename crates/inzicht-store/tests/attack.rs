//! The attacker suite (issue 4): thousands of differencing attacks on one person's attribute
//! through `inzicht table`, with protection on and off. With protection the attacker never
//! learns an attribute; without it the same attacker nearly always does — so this test can fail.
//!
//! The attacker knows, from outside, a target's buurt, age and sex in a month (a neighbour does)
//! and that this combination is unique; they want the target's participatieladder step (trede).
//! Each attack asks two tables by trede: a target group A that contains the target, and
//! B = A minus everyone with the target's buurt, age and sex — which removes exactly the target.
//! The difference A − B is 1 at the target's trede and 0 elsewhere. Target groups vary: a
//! buurt, a wijk, a wijk and sex, the whole municipality (exercising both the exact and the
//! sketched comparison of the query log).
//!
//! The attacker reads the published policy (maximum noise D, threshold T) and claims a trede only
//! when the answers leave a single possibility: a difference above 2D (it cannot be noise), a
//! cell shown in A but suppressed in B (A ≥ T > B, so the target is in it), or a single trede
//! for which a difference of 1 is possible.

use inzicht_protect::querylog::QueryLog;
use inzicht_protect::{Flag, Policy, Protector};
use inzicht_store::table::{Asker, Measure, Session, TableError, TableQuery, TableResult};
use std::path::{Path, PathBuf};

mod common;

struct Target {
    month: String,
    wijk: String,
    buurt: String,
    age: i64,
    sex: String,
    trede: Option<i64>,
}

fn targets(ads: &Path) -> Vec<Target> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!("ATTACH '{}' AS ads (READ_ONLY)", ads.display()))
        .unwrap();
    // Person-months unique on (month, buurt, age, sex): the attacker's outside knowledge.
    let mut stmt = conn
        .prepare(
            "SELECT strftime(month, '%Y-%m'), wijk_code, buurt_code, age, sex, diag_trede
             FROM ads.person_month
             WHERE buurt_code IS NOT NULL AND age IS NOT NULL AND sex IS NOT NULL AND month >= DATE '2019-01-01'
             QUALIFY count(*) OVER (PARTITION BY month, buurt_code, age, sex) = 1
             ORDER BY hash(pseudonym || CAST(month AS VARCHAR))",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok(Target {
            month: r.get(0)?,
            wijk: r.get(1)?,
            buurt: r.get(2)?,
            age: r.get::<_, i32>(3)? as i64,
            sex: r.get(4)?,
            trede: r.get::<_, Option<i64>>(5)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn trede_of(cell: &inzicht_store::table::Cell) -> Option<i64> {
    cell.key["trede"].as_i64()
}

/// The attacker's inference from the two answers: `Some(trede)` when only one is possible.
fn infer(a: &TableResult, b: &TableResult, max_noise: f64) -> Option<Option<i64>> {
    let mut certain = Vec::new();
    let mut possible = Vec::new();
    for ca in &a.cells {
        let level = trede_of(ca);
        let cb = b.cells.iter().find(|c| trede_of(c) == level)?;
        match (ca.value, cb.value) {
            (Some(va), Some(vb)) => {
                let diff = va - vb;
                if diff > 2.0 * max_noise {
                    certain.push(level);
                }
                if (diff - 1.0).abs() <= 2.0 * max_noise {
                    possible.push(level);
                }
            }
            // Shown in A, suppressed in B: A ≥ T > B and A − B ≤ 1, so the target is here.
            (Some(_), None) if ca.flag != Flag::Unprotected => {
                certain.push(level);
                possible.push(level);
            }
            _ => possible.push(level),
        }
    }
    if certain.len() == 1 {
        return Some(certain[0]);
    }
    if possible.len() == 1 {
        return Some(possible[0]);
    }
    None
}

struct Outcome {
    queries: usize,
    answered_pairs: usize,
    refused: usize,
    claims: usize,
    successes: usize,
}

fn attack(
    session: &Session,
    targets: &[Target],
    attacks: usize,
    protector: &Protector,
    log: Option<(&QueryLog, &Policy)>,
) -> Outcome {
    let mut out = Outcome {
        queries: 0,
        answered_pairs: 0,
        refused: 0,
        claims: 0,
        successes: 0,
    };
    let max_noise = protector.policy().map_or(0.0, |p| p.max_noise as f64);
    for i in 0..attacks {
        let t = &targets[i % targets.len()];
        let base = match i % 4 {
            0 => format!("month = {} and buurt = '{}'", t.month, t.buurt),
            1 => format!("month = {} and wijk = '{}'", t.month, t.wijk),
            2 => format!(
                "month = {} and wijk = '{}' and sex = '{}'",
                t.month, t.wijk, t.sex
            ),
            _ => format!("month = {}", t.month),
        };
        let minus = format!(
            "{base} and not (buurt = '{}' and age = {} and sex = '{}')",
            t.buurt, t.age, t.sex
        );
        let run = |filter: &str, n: u64| {
            let query = TableQuery {
                by: vec!["trede".into()],
                filter: Some(filter.to_string()),
                measure: Measure::Count,
            };
            let asker = log.map(|(l, p)| Asker {
                log: l,
                policy: p,
                now: 1_900_000_000 + n,
            });
            session.run(&query, protector, asker.as_ref())
        };
        out.queries += 2;
        let a = run(&base, 2 * i as u64);
        let b = run(&minus, 2 * i as u64 + 1);
        let (a, b) = match (a, b) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(TableError::Refused(_)), _) | (_, Err(TableError::Refused(_))) => {
                out.refused += 1;
                continue;
            }
            (Err(e), _) | (_, Err(e)) => panic!("query failed: {e}"),
        };
        out.answered_pairs += 1;
        if let Some(claim) = infer(&a, &b, max_noise) {
            out.claims += 1;
            if claim == t.trede {
                out.successes += 1;
            }
        }
    }
    out
}

#[test]
fn the_differencing_attacker_fails_with_protection_and_succeeds_without() {
    let tmp = tempfile::tempdir().unwrap();
    let root: PathBuf = tmp.path().to_path_buf();
    let key = common::loaded_store(&root, 21, 1_200, "c4");
    let session = Session::open(&root.join("store"), None, &key).unwrap();
    let targets = targets(&root.join("store/ads.duckdb"));
    assert!(targets.len() > 500, "{} targets", targets.len());
    let attacks: usize = std::env::var("ATTACKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000); // 10,000 queries per run

    // Without protection the attacker learns the target's trede every time.
    let started = std::time::Instant::now();
    // (A sample of 1,000 attacks suffices to show that the attack works; the protected run below
    // is the full 10,000 queries.)
    let sample = attacks.min(1_000);
    let open = attack(&session, &targets, sample, &Protector::unprotected(), None);
    eprintln!("unprotected run: {:.1} s", started.elapsed().as_secs_f64());
    let started = std::time::Instant::now();
    assert_eq!(open.queries, 2 * sample);
    assert_eq!(open.answered_pairs, sample);
    assert!(
        open.successes >= sample * 99 / 100,
        "unprotected: {} of {sample}",
        open.successes
    );

    // With the default policy: zero successes (the query log refuses the near-identical B).
    let policy = Policy::default();
    let protector = Protector::new(policy.clone()).unwrap();
    let log = QueryLog::new(&root.join("geheim/query-log"), "aanvaller");
    let safe = attack(
        &session,
        &targets,
        attacks,
        &protector,
        Some((&log, &policy)),
    );
    eprintln!("protected run: {:.1} s", started.elapsed().as_secs_f64());
    eprintln!(
        "attacker suite: unprotected {} of {sample} attacks succeed; protected {} of {attacks} succeed ({} pairs answered, {} refused, {} claims)",
        open.successes, safe.successes, safe.answered_pairs, safe.refused, safe.claims
    );
    assert_eq!(safe.queries, 2 * attacks);
    assert_eq!(safe.successes, 0, "protected attacker succeeded");
    assert_eq!(safe.refused + safe.answered_pairs, attacks);
    assert!(safe.refused > attacks * 9 / 10, "{} refused", safe.refused);
    assert_eq!(
        inzicht_protect::querylog::verify(log.path()).unwrap(),
        2 * attacks
    );

    // Noise and suppression alone (no query log), on a sample: the attacker's claims come
    // from the threshold boundary — the reason the budget exists. Reported, and bounded.
    let alone = attack(&session, &targets, 500, &protector, None);
    eprintln!(
        "without the query log: {} of 500 attacks succeed (threshold boundary / noise extremes)",
        alone.successes
    );
    assert!(alone.successes < 500 / 4);
}
