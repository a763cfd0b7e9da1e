//! `inzicht tree | cluster | predict --data`: the commands of issue 6 on the committed public
//! reference data (tests/reference/patterns/), against the scikit-learn and rpart numbers;
//! protection by default; bad input gives a clear message, never a panic.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn reference(file: &str) -> String {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../../tests/reference/patterns")
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

fn fixture(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(reference(name)).unwrap()).unwrap()
}

const WINE: &str = "alcohol,malic_acid,ash,alcalinity_of_ash,magnesium,total_phenols,flavanoids,nonflavanoid_phenols,proanthocyanins,color_intensity,hue,od280_od315_of_diluted_wines,proline";

#[test]
fn tree_on_kyphosis_matches_rpart_and_scikit_learn() {
    let data = reference("kyphosis.csv");
    let r = fixture("expected_rpart.json");
    for depth in 1..=5u64 {
        let case = r["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["data"] == "kyphosis.csv" && c["max_depth"] == depth)
            .unwrap();
        let v = json(&[
            "tree",
            "--data",
            &data,
            "--target",
            "Kyphosis",
            "--features",
            "Age,Number,Start",
            "--max-depth",
            &depth.to_string(),
            "--sdc",
            "off",
            "--format",
            "json",
        ]);
        let want = case["unpruned"]["train_accuracy"].as_f64().unwrap();
        assert!(
            (v["train_accuracy"].as_f64().unwrap() - want).abs() < 1e-12,
            "depth {depth}"
        );
        assert_eq!(v["leaves"], case["unpruned"]["n_leaves"]);
        assert_eq!(v["positive_class"], "present");
        assert_eq!(v["protection"]["status"], "unprotected");
        assert!(v["cv_accuracy"].as_f64().is_some() && v["cv_auc"].as_f64().is_some());
        assert!(v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["text"].as_str().unwrap().contains("→")));
    }
}

#[test]
fn tree_is_protected_by_default_and_draws_an_svg() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("boom.svg");
    let v = json(&[
        "tree",
        "--data",
        &reference("breast_cancer.csv"),
        "--target",
        "target",
        "--features",
        "worst_radius,worst_concave_points,mean_texture",
        "--max-depth",
        "4",
        "--min-leaf",
        "2",
        "--prune",
        "cv",
        "--format",
        "json",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(v["protection"]["status"], "protected");
    // --min-leaf 2 is raised to the threshold, and every leaf holds at least that many rows.
    assert_eq!(v["min_leaf"], 10);
    assert!(v["notes"][0].as_str().unwrap().contains("raised"));
    for r in v["rules"].as_array().unwrap() {
        assert!(r["n"].as_f64().is_some_and(|n| n >= 10.0), "{r}");
    }
    assert!(v["prune"]["table"]
        .as_array()
        .is_some_and(|t| !t.is_empty()));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.contains("<title"));
}

#[test]
fn kmeans_on_wine_matches_scikit_learn_and_chooses_k() {
    let k = fixture("expected_kmeans.json");
    let v = json(&[
        "cluster",
        "--data",
        &reference("wine.csv"),
        "--features",
        WINE,
        "--method",
        "kmeans",
        "--k-range",
        "2..6",
        "--sdc",
        "off",
        "--format",
        "json",
    ]);
    for row in v["by_k"].as_array().unwrap() {
        let kk = row["k"].as_u64().unwrap();
        let case = k["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["data"] == "wine.csv" && c["k"] == kk)
            .unwrap();
        let cost = row["cost"].as_f64().unwrap();
        assert!(
            cost <= case["inertia"].as_f64().unwrap() * 1.01,
            "k = {kk}: {cost}"
        );
    }
    // The silhouette (sklearn: 0.285 at k = 3, lower elsewhere) chooses 3, the number of cultivars.
    assert_eq!(v["k"], 3);
    assert_eq!(v["sizes"].as_array().unwrap().len(), 3);
    assert!(v["profiles"][0]["description"]
        .as_str()
        .is_some_and(|d| d.contains("sd")));
}

#[test]
fn kprototypes_is_the_default_for_text_columns() {
    let v = json(&[
        "cluster",
        "--data",
        &reference("kyphosis.csv"),
        "--features",
        "Kyphosis,Age,Start",
        "--k",
        "2",
        "--format",
        "json",
    ]);
    assert_eq!(v["method"], "kprototypes");
    assert_eq!(v["protection"]["status"], "protected");
}

#[test]
fn predict_with_a_temporal_split_reports_baseline_calibration_and_audit() {
    // breast_cancer has no time column: split on mean_radius as a stand-in "period".
    let v = json(&[
        "predict",
        "--data",
        &reference("breast_cancer.csv"),
        "--target",
        "target",
        "--features",
        "worst_concave_points,mean_texture,worst_area",
        "--model",
        "logistic",
        "--split-column",
        "mean_radius",
        "--split-value",
        "14",
        "--audit-groups",
        "target",
        "--sdc",
        "off",
        "--format",
        "json",
    ]);
    let m = &v["metrics"];
    for k in ["accuracy", "balanced_accuracy", "roc_auc", "brier"] {
        assert!(m[k].as_f64().is_some(), "{k}");
    }
    assert!(v["baseline"]["accuracy"].as_f64().is_some());
    assert!(v["calibration"]
        .as_array()
        .is_some_and(|c| !c.is_empty() && c[0]["n"].as_f64().is_some()));
    assert_eq!(v["split"]["type"], "temporal");
    let audit = v["audit"].as_array().unwrap();
    assert_eq!(audit.len(), 2);
    for g in audit {
        for k in ["selection_rate", "tpr", "fpr", "n"] {
            assert!(g.get(k).is_some(), "{k} in {g}");
        }
    }
    let t = json(&[
        "predict",
        "--data",
        &reference("breast_cancer.csv"),
        "--target",
        "target",
        "--features",
        "worst_concave_points,mean_texture",
        "--model",
        "tree",
        "--format",
        "json",
    ]);
    assert_eq!(t["split"]["type"], "cross-validation");
}

#[test]
fn bad_input_gives_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.csv");
    std::fs::write(&one, "y,x,leeg\n1,2,\n1,3,\n1,4,\n").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "tree".into(),
                "--data".into(),
                one.to_string_lossy().into(),
                "--target".into(),
                "y".into(),
                "--features".into(),
                "x".into(),
            ],
            "one value only",
        ),
        (
            vec![
                "tree".into(),
                "--data".into(),
                one.to_string_lossy().into(),
                "--target".into(),
                "x".into(),
                "--features".into(),
                "leeg".into(),
                "--sdc".into(),
                "off".into(),
            ],
            "only missing values",
        ),
        (
            vec![
                "tree".into(),
                "--data".into(),
                reference("kyphosis.csv"),
                "--target".into(),
                "Kyphosis".into(),
                "--features".into(),
                "Age,Nope".into(),
            ],
            "no column 'Nope'",
        ),
        (
            vec![
                "tree".into(),
                "--data".into(),
                reference("kyphosis.csv"),
                "--target".into(),
                "Kyphosis".into(),
                "--features".into(),
                "Age".into(),
                "--min-leaf".into(),
                "50".into(),
            ],
            "a split needs at least 100 rows",
        ),
        (
            vec![
                "cluster".into(),
                "--data".into(),
                reference("kyphosis.csv"),
                "--features".into(),
                "Age".into(),
                "--k".into(),
                "500".into(),
                "--sdc".into(),
                "off".into(),
            ],
            "cannot form 500 clusters",
        ),
        (
            vec![
                "cluster".into(),
                "--data".into(),
                reference("kyphosis.csv"),
                "--features".into(),
                "Kyphosis,Age".into(),
                "--k".into(),
                "2".into(),
                "--method".into(),
                "kmeans".into(),
            ],
            "numbers only",
        ),
        (
            vec![
                "predict".into(),
                "--data".into(),
                reference("wine.csv"),
                "--target".into(),
                "class".into(),
                "--features".into(),
                "alcohol".into(),
            ],
            "two-class outcome",
        ),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let o = inzicht(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(err.contains(want), "{args:?}: '{err}' lacks '{want}'");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    }
}
