//! Propensity-score matching against the reference script `tests/reference/matching/
//! make_fixture.py` (numpy + statsmodels), which implements the algorithm stated in
//! `inzicht_stats::matching` on the Lalonde NSW data. (Not against Debian's MatchIt 4.5.1, whose
//! nearest-neighbour search has a known bug; shared/domain.md §12.)

use inzicht_stats::matching::{match_att, MatchOptions};
use serde_json::Value;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../../tests/reference/matching")
}

fn close(a: f64, b: f64, rel: f64, what: &str) {
    let tol = rel * b.abs().max(1e-9);
    assert!((a - b).abs() <= tol, "{what}: got {a}, reference {b}");
}

#[test]
fn matching_matches_the_reference_script() {
    let text = std::fs::read_to_string(dir().join("lalonde.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<f64>> = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    let col = |name: &str| {
        let j = header.iter().position(|h| *h == name).unwrap();
        rows.iter().map(|r| r[j]).collect::<Vec<f64>>()
    };
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("expected.json")).unwrap())
            .unwrap();
    for case in cases.as_array().unwrap() {
        let names: Vec<String> = case["covariates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let cols: Vec<Vec<f64>> = names.iter().map(|n| col(n)).collect();
        let x: Vec<f64> = (0..rows.len())
            .flat_map(|i| cols.iter().map(move |c| c[i]))
            .collect();
        let treated: Vec<bool> = col("treat").iter().map(|&v| v == 1.0).collect();
        let y = col("re78");
        let opt = MatchOptions {
            caliper: case["caliper"].as_f64(),
            ratio: case["ratio"].as_u64().unwrap() as usize,
            replace: case["replace"].as_bool().unwrap(),
            conf_level: 0.95,
        };
        let what = format!(
            "caliper {:?} ratio {} replace {}",
            opt.caliper, opt.ratio, opt.replace
        );
        let r = match_att(&x, &names, &treated, &y, &opt).unwrap();
        for (k, c) in case["propensity_model"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            close(
                r.propensity_model[k].coef,
                c["coef"].as_f64().unwrap(),
                1e-8,
                &what,
            );
        }
        // The same controls for every matched treated unit, in the same order (the reference also
        // lists the unmatched ones, with no controls).
        let exp_pairs: Vec<(usize, Vec<usize>)> = case["matches"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| !m["controls"].as_array().unwrap().is_empty())
            .map(|m| {
                (
                    m["treated"].as_u64().unwrap() as usize,
                    m["controls"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c.as_u64().unwrap() as usize)
                        .collect(),
                )
            })
            .collect();
        assert_eq!(r.pairs, exp_pairs, "{what}: matched sets");
        close(
            r.att,
            case["att"].as_f64().unwrap(),
            1e-9,
            &format!("{what} att"),
        );
        close(
            r.se,
            case["se"].as_f64().unwrap(),
            1e-9,
            &format!("{what} se"),
        );
        assert_eq!(r.n_treated as u64, case["n_treated"].as_u64().unwrap());
        assert_eq!(
            r.n_treated_unmatched as u64,
            case["n_treated_unmatched"].as_u64().unwrap()
        );
        assert_eq!(
            r.n_controls_used as u64,
            case["n_controls_used"].as_u64().unwrap()
        );
        for (k, b) in case["balance"].as_array().unwrap().iter().enumerate() {
            for key in ["smd_before", "smd_after", "vr_before", "vr_after"] {
                let got = match key {
                    "smd_before" => r.balance[k].smd_before,
                    "smd_after" => r.balance[k].smd_after,
                    "vr_before" => r.balance[k].vr_before,
                    _ => r.balance[k].vr_after,
                };
                close(
                    got,
                    b[key].as_f64().unwrap(),
                    1e-9,
                    &format!("{what} {key} {}", b["name"]),
                );
            }
        }
    }
}
