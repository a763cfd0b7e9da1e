//! Trees, k-means, ridge logistic regression and the evaluation metrics against scikit-learn
//! 1.9 and R rpart 4.1 on public data. Fixtures and the scripts that wrote them:
//! `tests/reference/patterns/` (see its README for the traps: float32 thresholds, random
//! tie-breaking, rpart's pruning at cp = 0, local optima of k-means).

use inzicht_stats::cluster::{self, KMeansOptions, MixedData, SilhouetteDistance};
use inzicht_stats::tree::{self, Criterion, Feature, FeatureValues, TreeOptions};
use inzicht_stats::{logistic, metrics};
use serde_json::Value;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../../tests/reference/patterns")
}

fn json(name: &str) -> Value {
    let text = std::fs::read_to_string(dir().join(name)).expect("fixture");
    serde_json::from_str(&text).expect("fixture JSON")
}

/// A small CSV (header, ',' separator, optional double quotes).
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn csv(name: &str) -> Csv {
    let text = std::fs::read_to_string(dir().join(name)).expect("data");
    let mut lines = text.lines().filter(|l| !l.is_empty());
    let split = |l: &str| -> Vec<String> {
        l.split(',')
            .map(|f| f.trim_matches('"').to_string())
            .collect()
    };
    let header = split(lines.next().expect("header"));
    let rows = lines.map(split).collect();
    Csv { header, rows }
}

impl Csv {
    fn col(&self, name: &str) -> Vec<String> {
        let j = self.header.iter().position(|h| h == name).expect("column");
        self.rows.iter().map(|r| r[j].clone()).collect()
    }
    fn num(&self, name: &str) -> Vec<f64> {
        self.col(name)
            .iter()
            .map(|v| v.parse().expect("number"))
            .collect()
    }
    fn features(&self, names: &[String]) -> Vec<Feature> {
        names
            .iter()
            .map(|n| Feature {
                name: n.clone(),
                values: FeatureValues::Numeric(self.num(n)),
            })
            .collect()
    }
    fn classes(&self, name: &str) -> (Vec<usize>, usize) {
        let v = self.col(name);
        let mut levels = v.clone();
        levels.sort();
        levels.dedup();
        (
            v.iter()
                .map(|x| levels.iter().position(|l| l == x).unwrap_or(0))
                .collect(),
            levels.len(),
        )
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

fn accuracy(t: &tree::Tree, f: &[Feature], y: &[usize], rows: &[u32]) -> f64 {
    let p = t.predict(f, rows, tree::UNPRUNED);
    rows.iter()
        .zip(&p)
        .filter(|(&r, &q)| y[r as usize] == q)
        .count() as f64
        / rows.len() as f64
}

#[test]
fn trees_agree_with_scikit_learn() {
    let fx = json("expected_tree.json");
    let mut checked = 0;
    for case in fx["cases"].as_array().expect("cases") {
        let data = case["data"].as_str().expect("data");
        let d = csv(data);
        let target = case["target"].as_str().expect("target");
        let names: Vec<String> = match case["features"].as_str() {
            Some("all") => d.header.iter().filter(|h| *h != target).cloned().collect(),
            _ => strings(&case["features"]),
        };
        let feats = d.features(&names);
        let (y, k) = d.classes(target);
        let depth = case["max_depth"].as_u64().expect("depth") as usize;
        let criterion = match case["criterion"].as_str() {
            Some("entropy") => Criterion::Entropy,
            _ => Criterion::Gini,
        };
        let opt = TreeOptions {
            criterion,
            max_depth: depth,
            min_leaf: 1,
            min_split: 2,
            class_weight: None,
        };
        let t = tree::fit(&feats, &y, k, None, &opt).expect("tree");
        let all: Vec<u32> = (0..y.len() as u32).collect();
        let what = format!("{data} {:?} depth {depth}", criterion);
        // In-sample: identical (sklearn's result is the same for every random_state here).
        let acc = accuracy(&t, &feats, &y, &all);
        assert!(
            (acc - case["train_accuracy"].as_f64().unwrap()).abs() < 1e-12,
            "{what}: train accuracy {acc}"
        );
        assert_eq!(
            t.leaves(tree::UNPRUNED).len() as u64,
            case["n_leaves"].as_u64().unwrap(),
            "{what}: leaves"
        );
        assert_eq!(
            t.depth(tree::UNPRUNED) as u64,
            case["depth"].as_u64().unwrap(),
            "{what}: depth"
        );
        let root = t.nodes[0].split.as_ref().expect("root split");
        assert_eq!(
            names[root.feature],
            case["root_feature"].as_str().unwrap(),
            "{what}: root feature"
        );
        match &root.rule {
            tree::Rule::Numeric { threshold } => {
                let want = case["root_threshold_f64"].as_f64().unwrap();
                assert!(
                    (threshold - want).abs() <= 1e-12 * want.abs(),
                    "{what}: threshold {threshold} vs {want}"
                );
            }
            r => panic!("{what}: numeric root expected, got {r:?}"),
        }
        assert_eq!(
            t.nodes[root.left].n as u64,
            case["root_n_left"].as_u64().unwrap()
        );
        // Cross-validation on sklearn's own folds: per fold, the accuracy must lie within the
        // spread that sklearn's random tie-breaking gives (2 percentage points on the mean, the
        // issue's criterion).
        let folds: Vec<usize> = fx["folds"][data]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let mut accs = Vec::new();
        for f in 0..5 {
            let train: Vec<u32> = all
                .iter()
                .copied()
                .filter(|&r| folds[r as usize] != f)
                .collect();
            let test: Vec<u32> = all
                .iter()
                .copied()
                .filter(|&r| folds[r as usize] == f)
                .collect();
            let tf = tree::fit(&feats, &y, k, Some(&train), &opt).expect("fold tree");
            accs.push(accuracy(&tf, &feats, &y, &test));
        }
        let cv = accs.iter().sum::<f64>() / 5.0;
        let want = case["cv_accuracy"].as_f64().unwrap();
        assert!(
            (cv - want).abs() <= 0.02,
            "{what}: cv accuracy {cv} vs scikit-learn {want}"
        );
        // Our own stratified folds differ from sklearn's shuffle, and on 178 or 569 rows the
        // choice of folds alone moves the mean by several points (wine, depth 1: 0.57 with
        // sklearn's folds, 0.62 with ours); the comparison above on identical folds is the
        // real check, this one only guards against gross errors in our fold assignment.
        let own = tree::cross_validate(&feats, &y, k, &opt, 5, 1, tree::UNPRUNED).expect("cv");
        assert!(
            (own.accuracy - want).abs() <= 0.07,
            "{what}: own-fold cv {} vs {want}",
            own.accuracy
        );
        if let Some(auc) = case["cv_auc"].as_f64() {
            assert!(
                own.auc.is_some_and(|a| (a - auc).abs() < 0.03),
                "{what}: cv auc {:?} vs {auc}",
                own.auc
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 24);
}

#[test]
fn trees_agree_with_rpart() {
    let fx = json("expected_rpart.json");
    for case in fx["cases"].as_array().expect("cases") {
        let data = case["data"].as_str().expect("data");
        let d = csv(data);
        let target = case["target"].as_str().expect("target");
        let names: Vec<String> = match case["features"].as_str() {
            Some("all") => d.header.iter().filter(|h| *h != target).cloned().collect(),
            _ => strings(&case["features"]),
        };
        let feats = d.features(&names);
        let (y, k) = d.classes(target);
        let depth = case["max_depth"].as_u64().unwrap() as usize;
        let opt = TreeOptions {
            max_depth: depth,
            ..TreeOptions::default()
        };
        let t = tree::fit(&feats, &y, k, None, &opt).expect("tree");
        let all: Vec<u32> = (0..y.len() as u32).collect();
        let un = &case["unpruned"];
        let what = format!("{data} depth {depth}");
        assert!(
            (accuracy(&t, &feats, &y, &all) - un["train_accuracy"].as_f64().unwrap()).abs() < 1e-12,
            "{what}"
        );
        assert_eq!(
            t.leaves(tree::UNPRUNED).len() as u64,
            un["n_leaves"].as_u64().unwrap(),
            "{what}: leaves (rpart cp = -1)"
        );
        // rpart at cp = 0 removes splits that do not lower the misclassification count; our
        // pruning sequence's first positive step is the same tree.
        let seq = t.pruning_sequence();
        assert_eq!(seq[0].alpha, 0.0);
        assert_eq!(
            seq[0].leaves as u64,
            case["n_leaves"].as_u64().unwrap(),
            "{what}: leaves (rpart cp = 0)"
        );
        let root = t.nodes[0].split.as_ref().expect("root");
        assert_eq!(names[root.feature], case["root_feature"].as_str().unwrap());
    }
}

fn standardized(d: &Csv, names: &[String]) -> (Vec<f64>, usize, usize) {
    let n = d.rows.len();
    let p = names.len();
    let cols: Vec<Vec<f64>> = names.iter().map(|c| d.num(c)).collect();
    let mut x: Vec<f64> = (0..n)
        .flat_map(|i| cols.iter().map(move |c| c[i]))
        .collect();
    cluster::standardize(&mut x, n, p);
    (x, n, p)
}

#[test]
fn kmeans_cost_within_one_percent_of_scikit_learn() {
    let fx = json("expected_kmeans.json");
    for case in fx["cases"].as_array().expect("cases") {
        let d = csv(case["data"].as_str().unwrap());
        let names = strings(&case["features"]);
        let (x, n, p) = standardized(&d, &names);
        let k = case["k"].as_u64().unwrap() as usize;
        let c = cluster::kmeans(
            &x,
            n,
            p,
            &KMeansOptions {
                k,
                n_init: 10,
                seed: 1,
                ..Default::default()
            },
        )
        .unwrap();
        let sk10 = case["inertia"].as_f64().unwrap();
        let best = case["inertia_best200"].as_f64().unwrap();
        let what = format!("{} k = {k}", case["data"]);
        assert!(
            c.cost <= sk10 * 1.01,
            "{what}: cost {} vs scikit-learn best of 10 {sk10}",
            c.cost
        );
        // Strict convergence (no assignment changes) may end slightly below scikit-learn's
        // tolerance-based stop; never far below the best of its 200 starts.
        assert!(
            c.cost >= best * 0.99,
            "{what}: cost {} far below the best known {best}",
            c.cost
        );
        // At the best optimum, the silhouette is a deterministic function of the partition.
        if (c.cost - best).abs() <= 1e-9 * best {
            let md = MixedData {
                n,
                num: x.clone(),
                p_num: p,
                cat: vec![],
                p_cat: 0,
                n_levels: vec![],
            };
            let s = cluster::silhouette(&md, &c.labels, k, SilhouetteDistance::Euclidean, None);
            let want = case["silhouette_best200"].as_f64().unwrap();
            assert!((s - want).abs() < 1e-9, "{what}: silhouette {s} vs {want}");
        }
    }
}

#[test]
fn ridge_logistic_and_metrics_agree_with_scikit_learn() {
    let fx = json("expected_metrics.json");
    for case in fx["logistic"].as_array().expect("logistic") {
        let d = csv(case["data"].as_str().unwrap());
        let names = strings(&case["features"]);
        let (x, n, _) = standardized(&d, &names);
        let y: Vec<bool> = d
            .num(case["target"].as_str().unwrap())
            .iter()
            .map(|&v| v == 1.0)
            .collect();
        let c = case["C"].as_f64().unwrap();
        let f = logistic::fit_ridge(&x, &y, &names, None, 1.0 / c).expect("fit");
        let exact = &case["newton_polished"];
        let tol = 1e-7;
        assert!(
            (f.beta[0] - exact["intercept"].as_f64().unwrap()).abs() < tol,
            "C = {c}: intercept"
        );
        for (j, b) in exact["coef"].as_array().unwrap().iter().enumerate() {
            let want = b.as_f64().unwrap();
            assert!(
                (f.beta[j + 1] - want).abs() < tol,
                "C = {c}: coefficient {} {} vs {want}",
                names[j],
                f.beta[j + 1]
            );
        }
        let p = names.len();
        let prob: Vec<f64> = (0..n)
            .map(|i| 1.0 / (1.0 + (-f.linear_predictor(&x[i * p..(i + 1) * p])).exp()))
            .collect();
        let m = metrics::binary_metrics(&y, &prob, 0.5);
        // sklearn's lbfgs stops ~1e-6 short of the optimum: metrics agree to that order.
        assert!((m.roc_auc.unwrap() - case["roc_auc"].as_f64().unwrap()).abs() < 1e-4);
        assert!((m.brier - case["brier"].as_f64().unwrap()).abs() < 1e-5);
        assert!((m.accuracy - case["accuracy"].as_f64().unwrap()).abs() < 1e-12);
        assert!((m.balanced_accuracy - case["balanced_accuracy"].as_f64().unwrap()).abs() < 1e-12);
        assert!((m.log_loss - exact["log_loss"].as_f64().unwrap()).abs() < 1e-7);
        if c == 1.0 {
            let cal = metrics::calibration(&y, &prob, 10);
            let want_t = fx["calibration_curve"]["prob_true"].as_array().unwrap();
            let want_p = fx["calibration_curve"]["prob_pred"].as_array().unwrap();
            assert_eq!(cal.len(), want_t.len());
            for ((b, t), q) in cal.iter().zip(want_t).zip(want_p) {
                assert!((b.observed - t.as_f64().unwrap()).abs() < 1e-12);
                assert!((b.predicted - q.as_f64().unwrap()).abs() < 1e-4);
            }
        }
    }
    for case in fx["roc_auc_cases"].as_array().unwrap() {
        let y: Vec<bool> = case["y"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64() == Some(1))
            .collect();
        let p: Vec<f64> = case["p"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert!(
            (metrics::roc_auc(&y, &p).unwrap() - case["roc_auc"].as_f64().unwrap()).abs() < 1e-12
        );
    }
    for case in fx["adjusted_rand_cases"].as_array().unwrap() {
        let a: Vec<usize> = case["a"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let b: Vec<usize> = case["b"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert!(
            (metrics::adjusted_rand_index(&a, &b) - case["ari"].as_f64().unwrap()).abs() < 1e-12
        );
    }
}
