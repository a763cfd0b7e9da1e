//! The survival library against R `survival` 3.5.3: the fixtures and the script that made them
//! are in `tests/reference/survival/` (regenerate with `Rscript make_fixtures.R`). Tolerances
//! are those the survival issue sets (KM and log-rank 1e-6 relative, Cox coefficients 1e-5 and
//! standard errors 1e-4) or tighter.

use inzicht_stats::{competing, cox, km, logrank};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../../tests/reference/survival")
}

/// A minimal reader for the fixture CSVs (comma, quoted strings, empty = missing).
struct Frame {
    cols: BTreeMap<String, Vec<String>>,
    n: usize,
}

impl Frame {
    fn read(name: &str) -> Frame {
        let text = std::fs::read_to_string(dir().join(format!("{name}.csv"))).unwrap();
        let mut lines = text.lines();
        let unq = |s: &str| s.trim_matches('"').to_string();
        let header: Vec<String> = lines.next().unwrap().split(',').map(unq).collect();
        let mut cols: BTreeMap<String, Vec<String>> =
            header.iter().map(|h| (h.clone(), vec![])).collect();
        let mut n = 0;
        for l in lines.filter(|l| !l.is_empty()) {
            for (h, v) in header.iter().zip(l.split(',')) {
                cols.get_mut(h).unwrap().push(unq(v));
            }
            n += 1;
        }
        Frame { cols, n }
    }
    fn num(&self, c: &str) -> Vec<f64> {
        self.cols[c]
            .iter()
            .map(|v| v.parse().unwrap_or(f64::NAN))
            .collect()
    }
    fn flag(&self, c: &str) -> Vec<bool> {
        self.num(c).iter().map(|&v| v == 1.0).collect()
    }
    /// Codes 0..k in sorted order of the distinct values (R's factor levels for these data).
    fn codes(&self, c: &str) -> (Vec<usize>, Vec<String>) {
        let mut levels: Vec<String> = self.cols[c].clone();
        let numeric = levels.iter().all(|v| v.parse::<f64>().is_ok());
        if numeric {
            levels.sort_by(|a, b| {
                a.parse::<f64>()
                    .unwrap()
                    .total_cmp(&b.parse::<f64>().unwrap())
            });
        } else {
            levels.sort();
        }
        levels.dedup();
        let codes = self.cols[c]
            .iter()
            .map(|v| levels.iter().position(|l| l == v).unwrap())
            .collect();
        (codes, levels)
    }
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("expected.json")).unwrap()).unwrap()
}

fn close(a: f64, b: f64, rel: f64, what: &str) {
    let tol = rel * b.abs().max(1e-12);
    assert!(
        (a - b).abs() <= tol,
        "{what}: got {a}, R gives {b} (tolerance {tol:e})"
    );
}

fn opt_close(a: Option<f64>, b: &Value, rel: f64, what: &str) {
    match (a, b.as_f64()) {
        (Some(x), Some(y)) => close(x, y, rel, what),
        (None, None) => {}
        (x, y) => panic!("{what}: got {x:?}, R gives {y:?}"),
    }
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

#[test]
fn kaplan_meier_matches_r() {
    for case in expected()["km"].as_array().unwrap() {
        let ds = case["dataset"].as_str().unwrap();
        let f = Frame::read(ds);
        let time = f.num(case["time"].as_str().unwrap());
        let event = f.flag(case["event"].as_str().unwrap());
        let method = km::CiMethod::parse(case["ci_method"].as_str().unwrap()).unwrap();
        let groups: Vec<(Option<String>, Vec<usize>)> = match case["group"].as_str() {
            None => vec![(None, (0..f.n).collect())],
            Some(g) => {
                let (codes, levels) = f.codes(g);
                levels
                    .iter()
                    .enumerate()
                    .map(|(k, l)| {
                        (
                            Some(l.clone()),
                            (0..f.n).filter(|&i| codes[i] == k).collect(),
                        )
                    })
                    .collect()
            }
        };
        let exp_groups = case["groups"].as_array().unwrap();
        assert_eq!(groups.len(), exp_groups.len());
        for ((label, rows), e) in groups.iter().zip(exp_groups) {
            let what = format!("{ds} {label:?} {}", method.name());
            if let Some(l) = label {
                assert_eq!(e["group"].as_str().unwrap(), l);
            }
            let t: Vec<f64> = rows.iter().map(|&i| time[i]).collect();
            let ev: Vec<bool> = rows.iter().map(|&i| event[i]).collect();
            let fit = km::kaplan_meier(&t, &ev, None, method, 0.95).unwrap();
            assert_eq!(fit.times, nums(&e["times"]), "{what}: event times");
            assert_eq!(fit.at_risk, nums(&e["at_risk"]), "{what}: at risk");
            assert_eq!(fit.events, nums(&e["events"]), "{what}: events");
            for j in 0..fit.times.len() {
                close(
                    fit.survival[j],
                    e["survival"][j].as_f64().unwrap(),
                    1e-12,
                    &what,
                );
                opt_close(
                    fit.std_err[j],
                    &e["std_err"][j],
                    1e-12,
                    &format!("{what} se[{j}]"),
                );
                opt_close(
                    fit.ci_lower[j],
                    &e["ci_lower"][j],
                    1e-10,
                    &format!("{what} lower[{j}]"),
                );
                opt_close(
                    fit.ci_upper[j],
                    &e["ci_upper"][j],
                    1e-10,
                    &format!("{what} upper[{j}]"),
                );
            }
            opt_close(fit.median, &e["median"], 1e-12, &format!("{what} median"));
            opt_close(
                fit.median_lower,
                &e["median_lower"],
                1e-12,
                &format!("{what} median lower"),
            );
            opt_close(
                fit.median_upper,
                &e["median_upper"],
                1e-12,
                &format!("{what} median upper"),
            );
        }
    }
}

#[test]
fn logrank_matches_r() {
    for case in expected()["logrank"].as_array().unwrap() {
        let ds = case["dataset"].as_str().unwrap();
        let f = Frame::read(ds);
        let (g, levels) = f.codes(case["group"].as_str().unwrap());
        let strata = case["strata"].as_str().map(|s| f.codes(s).0);
        let r = logrank::logrank(
            &f.num(case["time"].as_str().unwrap()),
            &f.flag(case["event"].as_str().unwrap()),
            &g,
            levels.len(),
            strata.as_deref(),
        )
        .unwrap();
        let what = format!("log-rank {ds} by {}", case["group"]);
        close(
            r.statistic,
            case["statistic"].as_f64().unwrap(),
            1e-9,
            &what,
        );
        assert_eq!(r.df as u64, case["df"].as_u64().unwrap(), "{what}");
        close(r.p_value, case["p_value"].as_f64().unwrap(), 1e-8, &what);
        for (k, o) in nums(&case["observed"]).iter().enumerate() {
            close(r.observed[k], *o, 1e-12, &what);
        }
        for (k, e) in nums(&case["expected"]).iter().enumerate() {
            close(r.expected[k], *e, 1e-10, &what);
        }
    }
}

struct CoxCase {
    names: Vec<String>,
    start: Option<Vec<f64>>,
    stop: Vec<f64>,
    event: Vec<bool>,
    x: Vec<f64>,
    weights: Option<Vec<f64>>,
    strata: Option<Vec<usize>>,
    cluster: Option<Vec<usize>>,
    opt: cox::CoxOptions,
}

impl CoxCase {
    fn from(case: &Value) -> CoxCase {
        let f = Frame::read(case["dataset"].as_str().unwrap());
        let names: Vec<String> = case["covariates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let cols: Vec<Vec<f64>> = names.iter().map(|c| f.num(c)).collect();
        let x = (0..f.n)
            .flat_map(|i| cols.iter().map(move |c| c[i]))
            .collect();
        // A cause-specific model names its event as "event == k": other causes are censored.
        let ev_col = case["event"].as_str().unwrap().split(' ').next().unwrap();
        let event = match case.get("cause").and_then(|c| c.as_u64()) {
            Some(cause) => f.num(ev_col).iter().map(|&v| v == cause as f64).collect(),
            None => f.flag(ev_col),
        };
        CoxCase {
            start: case["start"].as_str().map(|c| f.num(c)),
            stop: f.num(case["time"].as_str().unwrap()),
            event,
            x,
            weights: case["weights"].as_str().map(|c| f.num(c)),
            strata: case["strata"].as_str().map(|c| f.codes(c).0),
            cluster: case["cluster"].as_str().map(|c| f.codes(c).0),
            opt: cox::CoxOptions {
                ties: cox::Ties::parse(case["ties"].as_str().unwrap()).unwrap(),
                robust: case["robust"].as_bool().unwrap(),
                ..Default::default()
            },
            names,
        }
    }
    fn data(&self) -> cox::CoxData<'_> {
        cox::CoxData {
            start: self.start.as_deref(),
            stop: &self.stop,
            event: &self.event,
            x: &self.x,
            names: &self.names,
            weights: self.weights.as_deref(),
            strata: self.strata.as_deref(),
            cluster: self.cluster.as_deref(),
        }
    }
}

fn check_cox(case: &Value) -> (CoxCase, cox::CoxFit) {
    let c = CoxCase::from(case);
    let fit = cox::fit(&c.data(), &c.opt).unwrap();
    let what = format!(
        "cox {} {:?} {} robust={}",
        case["dataset"], c.names, case["ties"], case["robust"]
    );
    assert!(
        fit.converged && fit.warnings.is_empty(),
        "{what}: {:?}",
        fit.warnings
    );
    for (k, e) in case["coefficients"].as_array().unwrap().iter().enumerate() {
        let got = &fit.coefficients[k];
        assert_eq!(got.name, e["name"].as_str().unwrap());
        close(
            got.coef,
            e["coef"].as_f64().unwrap(),
            1e-6,
            &format!("{what} coef {}", got.name),
        );
        close(
            got.se,
            e["se"].as_f64().unwrap(),
            1e-6,
            &format!("{what} se {}", got.name),
        );
        if let Some(naive) = e["naive_se"].as_f64() {
            close(
                got.naive_se.unwrap(),
                naive,
                1e-6,
                &format!("{what} naive se {}", got.name),
            );
        }
    }
    close(
        fit.log_likelihood,
        case["log_likelihood"].as_f64().unwrap(),
        1e-9,
        &what,
    );
    close(
        fit.log_likelihood_null,
        case["log_likelihood_null"].as_f64().unwrap(),
        1e-12,
        &what,
    );
    close(
        fit.concordance,
        case["concordance"].as_f64().unwrap(),
        1e-9,
        &format!("{what} concordance"),
    );
    assert_eq!(fit.n as u64, case["n"].as_u64().unwrap());
    assert_eq!(fit.events as u64, case["events"].as_u64().unwrap());
    (c, fit)
}

#[test]
fn cox_matches_r() {
    let exp = expected();
    for case in exp["cox"].as_array().unwrap() {
        check_cox(case);
    }
    for case in exp["cause_specific_cox"].as_array().unwrap() {
        check_cox(case);
    }
}

#[test]
fn proportional_hazards_test_matches_r() {
    let exp = expected();
    for z in exp["zph"].as_array().unwrap() {
        let model = &exp["cox"][z["model"].as_u64().unwrap() as usize];
        let (c, fit) = check_cox(model);
        let tr = cox::ZphTransform::parse(z["transform"].as_str().unwrap()).unwrap();
        let got = cox::zph(&c.data(), &fit, tr).unwrap();
        let what = format!("zph {} {:?}", model["dataset"], tr);
        for (k, t) in z["terms"].as_array().unwrap().iter().enumerate() {
            close(
                got.terms[k].chisq,
                t["chisq"].as_f64().unwrap(),
                1e-6,
                &format!("{what} {}", got.terms[k].name),
            );
        }
        close(
            got.global.chisq,
            z["global"]["chisq"].as_f64().unwrap(),
            1e-6,
            &format!("{what} global"),
        );
    }
}

#[test]
fn aalen_johansen_matches_r() {
    let f = Frame::read("mgus2");
    let time = f.num("etime");
    let cause: Vec<usize> = f.num("event").iter().map(|&v| v as usize).collect();
    let sex = f.num("sex");
    for case in expected()["aalen_johansen"].as_array().unwrap() {
        let rows: Vec<usize> = match case["group"].as_str() {
            None => (0..f.n).collect(),
            Some(g) => {
                let g: f64 = g.parse().unwrap();
                (0..f.n).filter(|&i| sex[i] == g).collect()
            }
        };
        let t: Vec<f64> = rows.iter().map(|&i| time[i]).collect();
        let c: Vec<usize> = rows.iter().map(|&i| cause[i]).collect();
        let ci = competing::aalen_johansen(&t, &c, 2, None).unwrap();
        let k = if case["state"] == "pcm" { 0 } else { 1 };
        let what = format!("Aalen–Johansen {} {:?}", case["state"], case["group"]);
        assert_eq!(ci.times, nums(&case["times"]), "{what}: times");
        for (j, e) in nums(&case["cif"]).iter().enumerate() {
            close(ci.causes[k].cif[j], *e, 1e-10, &format!("{what} cif[{j}]"));
        }
        for (j, e) in nums(&case["std_err"]).iter().enumerate() {
            close(
                ci.causes[k].std_err[j],
                *e,
                1e-6,
                &format!("{what} se[{j}]"),
            );
        }
    }
}
