//! The T-learner against the numpy reference in tests/reference/advice/ (make_tlearner.py wrote
//! tlearner.json: the data and the expected coefficients, cluster-robust standard errors and
//! delta-method effects).

use inzicht_stats::hte::{fit_design, ArmRows};
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/reference/advice/tlearner.json"
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!((a - b).abs() <= tol * (1.0 + b.abs()), "{what}: {a} vs {b}");
}

#[test]
fn t_learner_matches_the_numpy_reference() {
    let f = fixture();
    let p = f["p"].as_u64().unwrap() as usize;
    let arm = |k: &str| -> (Vec<f32>, Vec<bool>, Vec<u32>) {
        (
            floats(&f[k]["features"])
                .iter()
                .map(|&x| x as f32)
                .collect(),
            f[k]["y"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_bool().unwrap())
                .collect(),
            f[k]["cluster"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect(),
        )
    };
    let (tf, ty, tc) = arm("treated");
    let (cf, cy, cc) = arm("control");
    let names: Vec<String> = (0..p).map(|j| format!("x{j}")).collect();
    let m = fit_design(
        "G",
        &names,
        ArmRows {
            features: &tf,
            y: &ty,
            cluster: &tc,
        },
        ArmRows {
            features: &cf,
            y: &cy,
            cluster: &cc,
        },
        f["lambda"].as_f64().unwrap(),
        0.95,
    )
    .unwrap();
    let e = &f["expected"];
    // The constant column is left out, as in the reference.
    assert_eq!(m.feature_names, ["x0", "x1", "x2"]);
    let [bt, bc] = m.coefficients();
    for (k, (a, b)) in bt.iter().zip(floats(&e["beta_treated"])).enumerate() {
        close(*a, b, 1e-7, &format!("treated β{k}"));
    }
    for (k, (a, b)) in bc.iter().zip(floats(&e["beta_control"])).enumerate() {
        close(*a, b, 1e-7, &format!("control β{k}"));
    }
    let [st, sc] = m.standard_errors();
    for (k, (a, b)) in st.iter().zip(floats(&e["se_treated"])).enumerate() {
        close(*a, b, 1e-6, &format!("treated se{k}"));
    }
    for (k, (a, b)) in sc.iter().zip(floats(&e["se_control"])).enumerate() {
        close(*a, b, 1e-6, &format!("control se{k}"));
    }
    let all = m.effect(tf.chunks(p)).unwrap();
    let want = &e["effect_all_treated"];
    close(
        all.estimate,
        want["estimate"].as_f64().unwrap(),
        1e-7,
        "effect",
    );
    close(all.se, want["se"].as_f64().unwrap(), 1e-6, "effect se");
    close(all.with, want["with"].as_f64().unwrap(), 1e-7, "with");
    close(
        all.without,
        want["without"].as_f64().unwrap(),
        1e-7,
        "without",
    );
    let one = m.effect(tf.chunks(p).take(1)).unwrap();
    let want = &e["effect_first_row"];
    close(
        one.estimate,
        want["estimate"].as_f64().unwrap(),
        1e-7,
        "one row",
    );
    close(one.se, want["se"].as_f64().unwrap(), 1e-6, "one row se");
    assert!(one.ci[0] < one.estimate && one.estimate < one.ci[1]);
}
