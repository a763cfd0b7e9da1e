//! `inzicht km | logrank | cox | match --data`: the commands a researcher uses to compare with
//! R, on the committed reference data (tests/reference/); the envelope; protection by default;
//! bad input.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn reference(file: &str) -> String {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../../tests/reference")
    .join(file)
    .to_string_lossy()
    .into_owned()
}

fn inzicht(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inzicht"))
        .args(args)
        .output()
        .expect("run inzicht")
}

fn json(args: &[&str]) -> Value {
    let o = inzicht(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("json")
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(reference("survival/expected.json")).unwrap())
        .unwrap()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-12)
}

#[test]
fn km_without_protection_gives_rs_numbers_in_the_envelope() {
    let lung = reference("survival/lung.csv");
    let out = json(&[
        "km", "--data", &lung, "--time", "time", "--event", "status", "--group", "sex", "--sdc",
        "off", "--format", "json",
    ]);
    assert_eq!(out["protection"]["status"], "unprotected");
    assert!(out["meta"]["version"].is_string());
    let exp = expected()["km"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["group"] == "sex")
        .unwrap()
        .clone();
    for (g, e) in out["groups"]
        .as_array()
        .unwrap()
        .iter()
        .zip(exp["groups"].as_array().unwrap())
    {
        assert_eq!(g["group"], e["group"]);
        assert_eq!(g["median"].as_f64(), e["median"].as_f64());
        for (a, b) in g["survival"]
            .as_array()
            .unwrap()
            .iter()
            .zip(e["survival"].as_array().unwrap())
        {
            assert!(close(a.as_f64().unwrap(), b.as_f64().unwrap(), 1e-12));
        }
    }
}

#[test]
fn km_is_protected_by_default() {
    let lung = reference("survival/lung.csv");
    let out = json(&[
        "km", "--data", &lung, "--time", "time", "--event", "status", "--format", "json",
    ]);
    assert_eq!(out["protection"]["status"], "protected");
    let g = &out["groups"][0];
    for (n, d) in g["at_risk"]
        .as_array()
        .unwrap()
        .iter()
        .zip(g["events"].as_array().unwrap())
    {
        assert!(
            n.as_f64().unwrap() >= 10.0 && d.as_f64().unwrap() >= 10.0,
            "{n} {d}"
        );
    }
    // Pooled: far fewer steps than the 139 distinct event times.
    assert!(g["times"].as_array().unwrap().len() < 20);
    // Same query, same numbers.
    let again = json(&[
        "km", "--data", &lung, "--time", "time", "--event", "status", "--format", "json",
    ]);
    assert_eq!(out["groups"], again["groups"]);
}

#[test]
fn logrank_and_cox_match_r_through_the_command() {
    let vet = reference("survival/veteran.csv");
    let out = json(&[
        "logrank", "--data", &vet, "--time", "time", "--event", "status", "--group", "celltype",
        "--sdc", "off", "--format", "json",
    ]);
    let e = &expected()["logrank"][1];
    assert!(close(
        out["statistic"].as_f64().unwrap(),
        e["statistic"].as_f64().unwrap(),
        1e-9
    ));
    assert_eq!(out["df"], 3);
    let heart = reference("survival/heart.csv");
    let out = json(&[
        "cox",
        "--data",
        &heart,
        "--start",
        "start",
        "--time",
        "stop",
        "--event",
        "event",
        "--covariates",
        "age,year,surgery,transplant",
        "--cluster",
        "id",
        "--sdc",
        "off",
        "--format",
        "json",
    ]);
    let e = &expected()["cox"][6];
    for (c, r) in out["coefficients"]
        .as_array()
        .unwrap()
        .iter()
        .zip(e["coefficients"].as_array().unwrap())
    {
        assert!(
            close(
                c["coef"].as_f64().unwrap(),
                r["coef"].as_f64().unwrap(),
                1e-6
            ),
            "{c} {r}"
        );
        assert!(
            close(c["se"].as_f64().unwrap(), r["se"].as_f64().unwrap(), 1e-6),
            "{c} {r}"
        );
    }
    assert!(out["proportional_hazards"]["global"]["chisq"].is_number());
}

#[test]
fn text_covariates_become_indicators() {
    let vet = reference("survival/veteran.csv");
    let out = json(&[
        "cox",
        "--data",
        &vet,
        "--time",
        "time",
        "--event",
        "status",
        "--covariates",
        "trt,celltype,karno",
        "--sdc",
        "off",
        "--format",
        "json",
    ]);
    let names: Vec<&str> = out["coefficients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "trt",
            "celltype=large",
            "celltype=smallcell",
            "celltype=squamous",
            "karno"
        ]
    );
}

#[test]
fn match_gives_the_reference_att() {
    let lalonde = reference("matching/lalonde.csv");
    let out = json(&[
        "match",
        "--data",
        &lalonde,
        "--treatment",
        "treat",
        "--outcome",
        "re78",
        "--covariates",
        "age,educ,black,hispan,married,nodegree,re74,re75",
        "--sdc",
        "off",
        "--format",
        "json",
    ]);
    let exp: Value = serde_json::from_str(
        &std::fs::read_to_string(reference("matching/expected.json")).unwrap(),
    )
    .unwrap();
    assert!(close(
        out["att"].as_f64().unwrap(),
        exp[0]["att"].as_f64().unwrap(),
        1e-9
    ));
    assert_eq!(out["balance"].as_array().unwrap().len(), 8);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn fails_with(args: &[&str], needle: &str) {
    let o = inzicht(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in {err}"
    );
}

#[test]
fn bad_input_gets_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let no_events = write(d, "a.csv", "t,e,x\n1,0,1\n2,0,2\n3,0,1\n");
    let p = no_events.to_str().unwrap();
    fails_with(
        &[
            "cox",
            "--data",
            p,
            "--time",
            "t",
            "--event",
            "e",
            "--covariates",
            "x",
            "--sdc",
            "off",
        ],
        "no events",
    );
    let bad_interval = write(d, "b.csv", "s,t,e,x\n0,1,1,1\n2,2,1,0\n0,3,0,1\n");
    fails_with(
        &[
            "cox",
            "--data",
            bad_interval.to_str().unwrap(),
            "--start",
            "s",
            "--time",
            "t",
            "--event",
            "e",
            "--covariates",
            "x",
            "--sdc",
            "off",
        ],
        "stop (2) must be greater than start (2)",
    );
    let missing = write(d, "c.csv", "t;e;g\n1;1;a\n2;;b\n3;1;a\n");
    fails_with(
        &[
            "km",
            "--data",
            missing.to_str().unwrap(),
            "--time",
            "t",
            "--event",
            "e",
            "--sdc",
            "off",
        ],
        "line 3, column 'e'",
    );
    let out = json(&[
        "km",
        "--data",
        missing.to_str().unwrap(),
        "--time",
        "t",
        "--event",
        "e",
        "--sdc",
        "off",
        "--drop-missing",
        "--format",
        "json",
    ]);
    assert_eq!(out["rows_dropped_missing"], 1);
    fails_with(
        &[
            "km",
            "--data",
            missing.to_str().unwrap(),
            "--time",
            "tijd",
            "--event",
            "e",
        ],
        "the columns are: t, e, g",
    );
    let negative = write(d, "n.csv", "t,e\n-1,1\n2,1\n");
    fails_with(
        &[
            "km",
            "--data",
            negative.to_str().unwrap(),
            "--time",
            "t",
            "--event",
            "e",
            "--sdc",
            "off",
        ],
        "negative",
    );
    let one_group = write(d, "o.csv", "t,e,g\n1,1,a\n2,1,a\n");
    fails_with(
        &[
            "logrank",
            "--data",
            one_group.to_str().unwrap(),
            "--time",
            "t",
            "--event",
            "e",
            "--group",
            "g",
            "--sdc",
            "off",
        ],
        "at least two groups",
    );
    // Protected: a small file is refused rather than shown.
    let small = write(d, "s.csv", "t,e,g\n1,1,a\n2,1,b\n3,0,a\n4,1,b\n");
    fails_with(
        &[
            "logrank",
            "--data",
            small.to_str().unwrap(),
            "--time",
            "t",
            "--event",
            "e",
            "--group",
            "g",
        ],
        "fewer than 10",
    );
    let constant = write(
        d,
        "k.csv",
        &("t,e,x\n".to_string()
            + &(1..30)
                .map(|i| format!("{i},{},1\n", i % 2))
                .collect::<String>()),
    );
    fails_with(
        &[
            "cox",
            "--data",
            constant.to_str().unwrap(),
            "--time",
            "t",
            "--event",
            "e",
            "--covariates",
            "x",
            "--sdc",
            "off",
        ],
        "constant",
    );
}

#[test]
fn cumulative_incidence_matches_r_and_is_protected_by_default() {
    let mgus = reference("survival/mgus2.csv");
    let out = json(&[
        "cif", "--data", &mgus, "--time", "etime", "--cause", "event", "--sdc", "off", "--format",
        "json",
    ]);
    let exp = expected();
    let g = &out["groups"][0];
    for case in exp["aalen_johansen"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["group"].is_null())
    {
        let cause = if case["state"] == "pcm" { "1" } else { "2" };
        let got = g["causes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["cause"] == cause)
            .unwrap();
        let as_f = |v: &Value| -> Vec<f64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        };
        assert_eq!(as_f(&g["times"]), as_f(&case["times"]));
        for (a, b) in got["cif"]
            .as_array()
            .unwrap()
            .iter()
            .zip(case["cif"].as_array().unwrap())
        {
            assert!(close(a.as_f64().unwrap(), b.as_f64().unwrap(), 1e-10));
        }
        for (a, b) in got["std_err"]
            .as_array()
            .unwrap()
            .iter()
            .zip(case["std_err"].as_array().unwrap())
        {
            assert!(close(a.as_f64().unwrap(), b.as_f64().unwrap(), 1e-6));
        }
    }
    // Protected (the default): pooled steps, nobody shown below the threshold, curves close to
    // the exact ones.
    let p = json(&[
        "cif", "--data", &mgus, "--time", "etime", "--cause", "event", "--format", "json",
    ]);
    assert_eq!(p["protection"]["status"], "protected");
    let pg = &p["groups"][0];
    assert!(pg["at_risk"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n.as_f64().unwrap() >= 10.0));
    let times = pg["times"].as_array().unwrap();
    assert!(times.len() < 30 && !times.is_empty());
    let last = times.len() - 1;
    let t_last = times[last].as_f64().unwrap();
    let exact_times: Vec<f64> = g["times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_f64().unwrap())
        .collect();
    let k = exact_times.iter().rposition(|&t| t <= t_last).unwrap();
    for (pc, ec) in pg["causes"]
        .as_array()
        .unwrap()
        .iter()
        .zip(g["causes"].as_array().unwrap())
    {
        let (a, b) = (
            pc["cif"][last].as_f64().unwrap(),
            ec["cif"][k].as_f64().unwrap(),
        );
        assert!((a - b).abs() < 0.03, "protected {a} against exact {b}");
    }
}
