//! `inzicht tree | cluster | predict --data FILE`: classification trees, cluster analysis and
//! prediction models with their bias audit on an analyst's CSV (or public data, to compare with
//! other software). Wiring only: the statistics are in `inzicht-stats`, what may be shown and
//! how it is worded in `inzicht_store::patterns`.

use crate::cli::Failure;
use crate::data_cmd::{emit, groups, read_error, stats_error, Common, Loaded};
use clap::{Args, ValueEnum};
use inzicht_stats::cluster::{
    self, KMeansOptions, KPrototypesOptions, MixedData, SilhouetteDistance,
};
use inzicht_stats::tree::{self, Criterion, Feature, FeatureValues, TreeOptions, UNPRUNED};
use inzicht_stats::{logistic, metrics};
use inzicht_store::patterns::{self, Keyed};
use serde_json::{json, Map, Value};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Prune {
    None,
    Cv,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CriterionArg {
    Gini,
    Entropy,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClassWeight {
    None,
    Balanced,
}

#[derive(Args)]
pub struct TreeArgs {
    #[command(flatten)]
    pub common: Common,
    /// The outcome column (two or more classes).
    #[arg(long)]
    pub target: String,
    /// Feature columns, comma-separated; text columns are categories, empty cells missing.
    #[arg(long, value_delimiter = ',', required = true)]
    pub features: Vec<String>,
    #[arg(long, default_value_t = 4)]
    pub max_depth: usize,
    /// Minimum persons per leaf; under protection never below the disclosure threshold.
    #[arg(long)]
    pub min_leaf: Option<usize>,
    #[arg(long, value_enum, default_value = "gini")]
    pub criterion: CriterionArg,
    /// `cv`: cost-complexity pruning chosen by cross-validation (one-SE rule).
    #[arg(long, value_enum, default_value = "none")]
    pub prune: Prune,
    /// Folds for the cross-validated accuracy (stratified).
    #[arg(long, default_value_t = 5)]
    pub cv: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The class whose share the rules report (default: the last in sorted order, e.g. 1).
    #[arg(long)]
    pub positive: Option<String>,
    /// `balanced`: weigh classes inversely to their frequency.
    #[arg(long, value_enum, default_value = "none")]
    pub class_weight: ClassWeight,
    /// Also draw the tree as SVG to this file.
    #[arg(long)]
    pub svg: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Method {
    Kmeans,
    Kprototypes,
    Pam,
}

#[derive(Args)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, value_delimiter = ',', required = true)]
    pub features: Vec<String>,
    /// Default: k-means when every feature is a complete number, k-prototypes otherwise.
    #[arg(long, value_enum)]
    pub method: Option<Method>,
    #[arg(long)]
    pub k: Option<usize>,
    /// A range of k to compare, e.g. 2..8; the k with the best silhouette is chosen.
    #[arg(long)]
    pub k_range: Option<String>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// k-prototypes: weight of a mismatching category (default 0.5).
    #[arg(long)]
    pub gamma: Option<f64>,
    /// Starts (k-means: 10, k-prototypes: 5).
    #[arg(long)]
    pub n_init: Option<usize>,
    /// Rows in the silhouette sample.
    #[arg(long, default_value_t = 2000)]
    pub silhouette_sample: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    Tree,
    Logistic,
}

#[derive(Args)]
pub struct PredictArgs {
    #[command(flatten)]
    pub common: Common,
    /// A two-class outcome.
    #[arg(long)]
    pub target: String,
    #[arg(long, value_delimiter = ',', required = true)]
    pub features: Vec<String>,
    #[arg(long, value_enum, default_value = "logistic")]
    pub model: ModelArg,
    /// Temporal split: rows with this column below --split-value train the model, the others
    /// test it. Without it: 5-fold cross-validated predictions.
    #[arg(long, requires = "split_value")]
    pub split_column: Option<String>,
    #[arg(long, requires = "split_column")]
    pub split_value: Option<String>,
    /// Columns to audit the model on (e.g. geslacht,leeftijdsklasse,wijk).
    #[arg(long, value_delimiter = ',')]
    pub audit_groups: Vec<String>,
    /// Predicted probability from which a row counts as predicted positive.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// Ridge penalty λ of the logistic model (scikit-learn's C = 1/λ), on standardised features.
    #[arg(long, default_value_t = 1.0)]
    pub penalty: f64,
    #[arg(long, default_value_t = 4)]
    pub max_depth: usize,
    #[arg(long)]
    pub min_leaf: Option<usize>,
    #[arg(long)]
    pub positive: Option<String>,
    /// A ratio below this bound (or above its inverse) is flagged in the audit.
    #[arg(long, default_value_t = 0.8)]
    pub audit_bound: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also draw the calibration plot as SVG to this file.
    #[arg(long)]
    pub svg: Option<std::path::PathBuf>,
}

/// The target's classes and rows with a value; the positive class index.
struct Target {
    rows: Vec<usize>,
    y: Vec<usize>,
    classes: Vec<String>,
    positive: usize,
    dropped: usize,
}

fn target(l: &Loaded, col: &str, positive: Option<&str>) -> Result<Target, Failure> {
    let labels = l.frame.labels(col).map_err(read_error)?;
    let rows: Vec<usize> = (0..l.frame.len())
        .filter(|&i| labels[i].is_some())
        .collect();
    let dropped = l.frame.len() - rows.len();
    let (y, classes) = groups(l, col, &rows)?;
    if classes.len() < 2 {
        return Err(Failure::usage(format!(
            "{}: column '{col}' has one value only ({}); a tree or model needs at least two outcomes",
            l.frame.path.display(),
            classes.first().map_or("", |s| s.as_str())
        )));
    }
    if classes.len() > tree::MAX_CLASSES {
        return Err(Failure::usage(format!(
            "{}: column '{col}' has {} distinct values; a target has at most {} classes (is it the right column?)",
            l.frame.path.display(),
            classes.len(),
            tree::MAX_CLASSES
        )));
    }
    let positive = match positive {
        Some(p) => classes.iter().position(|c| c == p).ok_or_else(|| {
            Failure::usage(format!(
                "--positive {p}: not a value of '{col}'; its values are {}",
                classes.join(", ")
            ))
        })?,
        None => classes.len() - 1,
    };
    Ok(Target {
        rows,
        y,
        classes,
        positive,
        dropped,
    })
}

/// Feature columns over the given rows (row i of each feature is file row `rows[i]`).
fn features(l: &Loaded, names: &[String], rows: &[usize]) -> Result<Vec<Feature>, Failure> {
    let mut out = Vec::new();
    for name in names {
        let labels = l.frame.labels(name).map_err(read_error)?;
        let sub: Vec<Option<String>> = rows.iter().map(|&i| labels[i].clone()).collect();
        let f = patterns::feature_from_labels(name, &sub);
        if let FeatureValues::Categorical { levels, .. } = &f.values {
            // A column of numbers with a stray word is almost always a data error.
            let numeric = levels
                .iter()
                .filter(|v| inzicht_ingest::frame::parse_number(v).is_some())
                .count();
            if numeric * 10 >= levels.len() * 9 && levels.len() > 20 {
                if let Err(e) = l.frame.numeric(name) {
                    return Err(Failure::usage(format!(
                        "{e} — the column is otherwise numeric; correct the value or leave it empty"
                    )));
                }
            }
            if levels.len() > 200 {
                return Err(Failure::usage(format!(
                    "{}: column '{name}' is text with {} distinct values: too many categories for a feature (an identifier?)",
                    l.frame.path.display(),
                    levels.len()
                )));
            }
        }
        if sub.iter().all(|v| v.is_none()) {
            return Err(Failure::usage(format!(
                "{}: column '{name}' has only missing values; leave it out of --features",
                l.frame.path.display()
            )));
        }
        out.push(f);
    }
    Ok(out)
}

fn min_leaf(
    l: &Loaded,
    asked: Option<usize>,
    n: usize,
) -> Result<(usize, Option<String>), Failure> {
    let t = l.protector.threshold() as usize;
    let (used, note) = match asked {
        Some(m) if l.protector.is_protected() && m < t => (
            t,
            Some(format!(
                "--min-leaf {m} is raised to {t}: a leaf holds at least the disclosure threshold"
            )),
        ),
        Some(m) => (m.max(1), None),
        None if l.protector.is_protected() => (t, None),
        None => (1, None),
    };
    if n < 2 * used {
        return Err(Failure::usage(format!(
            "with a minimum of {used} rows per leaf a split needs at least {} rows, and the data have {n}: lower --min-leaf or use more data",
            2 * used
        )));
    }
    Ok((used, note))
}

fn keyed<'a>(l: &'a Loaded, keys: &'a [u64]) -> Keyed<'a> {
    Keyed {
        keys,
        person: None,
        protector: &l.protector,
    }
}

pub fn tree_cmd(a: TreeArgs) -> Result<(), Failure> {
    let l = Loaded::open(&a.common)?;
    let t = target(&l, &a.target, a.positive.as_deref())?;
    let feats = features(&l, &a.features, &t.rows)?;
    let n = t.rows.len();
    let keys: Vec<u64> = t.rows.iter().map(|&i| l.keys[i]).collect();
    let (min_leaf, note) = min_leaf(&l, a.min_leaf, n)?;
    let k = t.classes.len();
    let class_weight = match a.class_weight {
        ClassWeight::None => None,
        ClassWeight::Balanced => {
            let mut counts = vec![0usize; k];
            t.y.iter().for_each(|&c| counts[c] += 1);
            Some(
                counts
                    .iter()
                    .map(|&c| n as f64 / (k as f64 * c.max(1) as f64))
                    .collect(),
            )
        }
    };
    let opt = TreeOptions {
        criterion: match a.criterion {
            CriterionArg::Gini => Criterion::Gini,
            CriterionArg::Entropy => Criterion::Entropy,
        },
        max_depth: a.max_depth,
        min_leaf,
        min_split: 2 * min_leaf,
        class_weight,
    };
    let fitted = tree::fit(&feats, &t.y, k, None, &opt).map_err(stats_error)?;
    let (alpha, prune) = match a.prune {
        Prune::None => (UNPRUNED, Value::Null),
        Prune::Cv => {
            let c = tree::choose_pruning(&fitted, &feats, &t.y, &opt, a.cv, a.seed)
                .map_err(stats_error)?;
            (c.alpha, json!(c))
        }
    };
    let cv =
        tree::cross_validate(&feats, &t.y, k, &opt, a.cv, a.seed, alpha).map_err(stats_error)?;
    let all: Vec<u32> = (0..n as u32).collect();
    let pred = fitted.predict(&feats, &all, alpha);
    let train_accuracy = pred.iter().zip(&t.y).filter(|(p, y)| p == y).count() as f64 / n as f64;
    let rows: Vec<usize> = (0..n).collect();
    let kd = keyed(&l, &keys);
    let word = format!("{} = {}", a.target, t.classes[t.positive]);
    let (rules, tree_json) = patterns::tree_output(
        &fitted, alpha, &feats, &t.y, &rows, &t.classes, t.positive, &word, &kd,
    );
    let importance: Vec<Value> = fitted
        .importance(alpha)
        .iter()
        .zip(&a.features)
        .filter(|(v, _)| **v > 0.0)
        .map(|(v, f)| json!({"feature": f, "importance": v}))
        .collect();
    if let Some(path) = &a.svg {
        let svg = inzicht_charts::tree::tree_svg(&tree_json, &format!("Beslisboom: {word}"));
        std::fs::write(path, svg).map_err(|e| {
            Failure::usage(format!("{}: cannot write the SVG: {e}", path.display()))
        })?;
    }
    let mut result = Map::new();
    result.insert("train_accuracy".into(), json!(train_accuracy));
    result.insert("cv_accuracy".into(), json!(cv.accuracy));
    result.insert("cv_auc".into(), json!(cv.auc));
    result.insert("cv_folds".into(), json!(a.cv));
    result.insert("n".into(), json!(kd.count(0..n)));
    result.insert("classes".into(), json!(t.classes));
    result.insert("positive_class".into(), json!(t.classes[t.positive]));
    result.insert("leaves".into(), json!(fitted.leaves(alpha).len()));
    result.insert("depth".into(), json!(fitted.depth(alpha)));
    result.insert("min_leaf".into(), json!(min_leaf));
    result.insert("prune".into(), prune);
    result.insert("importance".into(), json!(importance));
    result.insert("rules".into(), rules);
    result.insert("tree".into(), tree_json);
    result.insert("rows_dropped_missing_target".into(), json!(t.dropped));
    result.insert("notes".into(), json!(note.into_iter().collect::<Vec<_>>()));
    let params = json!({"data": a.common.data, "target": a.target, "features": a.features,
        "max_depth": a.max_depth, "criterion": format!("{:?}", opt.criterion).to_lowercase(),
        "prune": if a.prune == Prune::Cv { "cv" } else { "none" }, "cv": a.cv, "seed": a.seed});
    emit(a.common.format, result, &l, params, |env| {
        let mut s = format!(
            "Beslisboom voor {word}: {} bladeren, diepte {}\nJuist op de trainingsdata: {}; gekruisvalideerd ({}-voudig): {}{}\n\nRegels:\n",
            env["leaves"], env["depth"],
            pct(&env["train_accuracy"]), a.cv, pct(&env["cv_accuracy"]),
            env["cv_auc"].as_f64().map_or(String::new(), |v| format!(", AUC {}", patterns::nl_num(v, 3)))
        );
        for r in env["rules"].as_array().into_iter().flatten() {
            s.push_str(&format!("  {}\n", r["text"].as_str().unwrap_or("")));
        }
        for n in env["notes"].as_array().into_iter().flatten() {
            s.push_str(&format!("Let op: {}\n", n.as_str().unwrap_or("")));
        }
        s
    });
    Ok(())
}

fn pct(v: &Value) -> String {
    v.as_f64().map_or("—".into(), |x| {
        format!("{}%", patterns::nl_num(100.0 * x, 1))
    })
}

fn parse_range(text: &str) -> Result<(usize, usize), Failure> {
    let bad = || Failure::usage(format!("--k-range {text}: write it as A..B, e.g. 2..8"));
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    let a: usize = a.trim().parse().map_err(|_| bad())?;
    let b: usize = b.trim().parse().map_err(|_| bad())?;
    if a < 2 || b < a {
        return Err(Failure::usage(format!(
            "--k-range {text}: needs 2 ≤ A ≤ B (one cluster is no clustering)"
        )));
    }
    Ok((a, b))
}

pub fn cluster_cmd(a: ClusterArgs) -> Result<(), Failure> {
    let l = Loaded::open(&a.common)?;
    let all_rows: Vec<usize> = (0..l.frame.len()).collect();
    let feats = features(&l, &a.features, &all_rows)?;
    let any_cat = feats
        .iter()
        .any(|f| matches!(f.values, FeatureValues::Categorical { .. }));
    let any_missing = feats.iter().any(|f| match &f.values {
        FeatureValues::Numeric(v) => v.iter().any(|x| x.is_nan()),
        FeatureValues::Categorical { codes, .. } => codes.contains(&tree::MISSING),
    });
    let method = a.method.unwrap_or(if any_cat || any_missing {
        Method::Kprototypes
    } else {
        Method::Kmeans
    });
    // Rows: k-means needs complete rows.
    let rows: Vec<usize> = if method == Method::Kmeans && any_missing {
        if !a.common.drop_missing {
            return Err(Failure::usage(
                "k-means needs complete numbers: pass --drop-missing to leave out rows with a missing value, or use --method kprototypes, which handles them",
            ));
        }
        (0..l.frame.len())
            .filter(|&i| {
                feats.iter().all(|f| match &f.values {
                    FeatureValues::Numeric(v) => !v[i].is_nan(),
                    FeatureValues::Categorical { codes, .. } => codes[i] != tree::MISSING,
                })
            })
            .collect()
    } else {
        all_rows.clone()
    };
    if method == Method::Kmeans && any_cat {
        return Err(Failure::usage(
            "k-means works on numbers only; these features include text columns: use --method kprototypes",
        ));
    }
    let n = rows.len();
    let numeric: Vec<(String, Vec<f64>)> = feats
        .iter()
        .filter_map(|f| match &f.values {
            FeatureValues::Numeric(v) => {
                Some((f.name.clone(), rows.iter().map(|&i| v[i]).collect()))
            }
            _ => None,
        })
        .collect();
    let categorical: Vec<(String, Vec<u32>, Vec<String>)> = feats
        .iter()
        .filter_map(|f| match &f.values {
            FeatureValues::Categorical { codes, levels } => Some((
                f.name.clone(),
                rows.iter().map(|&i| codes[i]).collect(),
                levels.clone(),
            )),
            _ => None,
        })
        .collect();
    let p_num = numeric.len();
    let num_cols: Vec<&[f64]> = numeric.iter().map(|c| c.1.as_slice()).collect();
    let cat_cols: Vec<(&[u32], usize)> = categorical
        .iter()
        .map(|c| (c.1.as_slice(), c.2.len()))
        .collect();
    let (data, _) = MixedData::from_columns(&num_cols, &cat_cols, true);
    let (ks, chosen_by_range) = match (a.k, &a.k_range) {
        (Some(k), None) => (vec![k], false),
        (None, Some(r)) => {
            let (lo, hi) = parse_range(r)?;
            ((lo..=hi).collect(), true)
        }
        (Some(_), Some(_)) => return Err(Failure::usage("give either --k or --k-range, not both")),
        (None, None) => return Err(Failure::usage("give --k N or --k-range A..B")),
    };
    let gamma = a.gamma.unwrap_or(0.5);
    let sample = cluster::sample_rows(n, a.silhouette_sample.max(2), a.seed);
    let distance = match method {
        Method::Kmeans => SilhouetteDistance::Euclidean,
        Method::Kprototypes => SilhouetteDistance::Mixed {
            gamma_millis: (gamma * 1000.0).round() as u32,
        },
        Method::Pam => SilhouetteDistance::Gower,
    };
    let mut by_k = Vec::new();
    let mut best: Option<(f64, cluster::Clustering)> = None;
    for &k in &ks {
        let c = match method {
            Method::Kmeans => cluster::kmeans(
                &data.num,
                n,
                p_num,
                &KMeansOptions {
                    k,
                    n_init: a.n_init.unwrap_or(10),
                    seed: a.seed,
                    ..Default::default()
                },
            ),
            Method::Kprototypes => cluster::kprototypes(
                &data,
                &KPrototypesOptions {
                    k,
                    gamma: Some(gamma),
                    n_init: a.n_init.unwrap_or(5),
                    seed: a.seed,
                    ..Default::default()
                },
            ),
            Method::Pam => cluster::pam(&data, k),
        }
        .map_err(stats_error)?;
        let s = cluster::silhouette(&data, &c.labels, k, distance, Some(&sample));
        by_k.push(json!({"k": k, "cost": c.cost, "silhouette": s}));
        if best.as_ref().is_none_or(|b| s > b.0) || !chosen_by_range {
            best = Some((s, c));
        }
    }
    let Some((sil, c)) = best else {
        return Err(Failure::usage("no k to try"));
    };
    let keys: Vec<u64> = rows.iter().map(|&i| l.keys[i]).collect();
    let kd = keyed(&l, &keys);
    let (sizes, profiles) = patterns::cluster_profiles(&c, &numeric, &categorical, &kd);
    let mut result = Map::new();
    result.insert(
        "method".into(),
        json!(match method {
            Method::Kmeans => "kmeans",
            Method::Kprototypes => "kprototypes",
            Method::Pam => "pam",
        }),
    );
    result.insert("k".into(), json!(c.k));
    result.insert("cost".into(), json!(c.cost));
    result.insert("silhouette".into(), json!(sil));
    result.insert("silhouette_sample".into(), json!(sample.len()));
    result.insert("sizes".into(), sizes);
    result.insert("profiles".into(), profiles);
    if chosen_by_range {
        result.insert("by_k".into(), json!(by_k));
    }
    if method == Method::Kprototypes {
        result.insert("gamma".into(), json!(gamma));
    }
    result.insert("rows_used".into(), json!(kd.count(0..n)));
    result.insert(
        "standardized".into(),
        json!("numbers: (x − mean) / population SD"),
    );
    let params = json!({"data": a.common.data, "features": a.features, "k": a.k, "k_range": a.k_range, "seed": a.seed});
    emit(a.common.format, result, &l, params, |env| {
        let mut s = format!(
            "Clusters ({}): k = {}, silhouet {}\n",
            env["method"].as_str().unwrap_or(""),
            env["k"],
            env["silhouette"]
                .as_f64()
                .map_or("—".into(), |v| patterns::nl_num(v, 3))
        );
        for b in env["by_k"].as_array().into_iter().flatten() {
            s.push_str(&format!(
                "  k = {}: kosten {}, silhouet {}\n",
                b["k"],
                b["cost"]
                    .as_f64()
                    .map_or("—".into(), |v| patterns::nl_num(v, 1)),
                b["silhouette"]
                    .as_f64()
                    .map_or("—".into(), |v| patterns::nl_num(v, 3))
            ));
        }
        for p in env["profiles"].as_array().into_iter().flatten() {
            if p["suppressed"] == json!(true) {
                s.push_str(&format!(
                    "Cluster {}: afgeschermd ({})\n",
                    p["cluster"],
                    p["reason"].as_str().unwrap_or("")
                ));
            } else {
                s.push_str(&format!(
                    "Cluster {} (n ≈ {}): {}\n",
                    p["cluster"],
                    p["size"]
                        .as_f64()
                        .map_or("—".into(), |v| patterns::nl_num(v, 0)),
                    p["description"].as_str().unwrap_or("")
                ));
            }
        }
        s
    });
    Ok(())
}

/// Row indices of the training and the test part.
type TrainTest = (Vec<usize>, Vec<usize>);

pub fn predict_cmd(a: PredictArgs) -> Result<(), Failure> {
    if !(a.audit_bound > 0.0 && a.audit_bound < 1.0) {
        return Err(Failure::usage(
            "--audit-bound must lie between 0 and 1 (the four-fifths rule is 0.8)",
        ));
    }
    let l = Loaded::open(&a.common)?;
    let t = target(&l, &a.target, a.positive.as_deref())?;
    if t.classes.len() != 2 {
        return Err(Failure::usage(format!(
            "predict needs a two-class outcome; '{}' has {}: {}",
            a.target,
            t.classes.len(),
            t.classes.join(", ")
        )));
    }
    let feats = features(&l, &a.features, &t.rows)?;
    let n = t.rows.len();
    let y: Vec<bool> = t.y.iter().map(|&c| c == t.positive).collect();
    let keys: Vec<u64> = t.rows.iter().map(|&i| l.keys[i]).collect();
    // Train/test split.
    let (folds, split_desc): (Vec<TrainTest>, Value) = match (&a.split_column, &a.split_value) {
        (Some(col), Some(v)) => {
            let labels = l.frame.labels(col).map_err(read_error)?;
            let cut_num = inzicht_ingest::frame::parse_number(v);
            let earlier = |s: &str| match (cut_num, inzicht_ingest::frame::parse_number(s)) {
                (Some(c), Some(x)) => x < c,
                _ => s < v.as_str(),
            };
            let (mut train, mut test) = (Vec::new(), Vec::new());
            let mut unknown = 0usize;
            for (i, &r) in t.rows.iter().enumerate() {
                match &labels[r] {
                    Some(s) if earlier(s) => train.push(i),
                    Some(_) => test.push(i),
                    None => unknown += 1,
                }
            }
            if train.is_empty() || test.is_empty() {
                return Err(Failure::usage(format!(
                    "--split-column {col} --split-value {v}: {} rows train and {} test; choose a value inside the data",
                    train.len(),
                    test.len()
                )));
            }
            (
                vec![(train, test)],
                json!({"type": "temporal", "column": col, "value": v,
                "rule": format!("train: {col} < {v}; test: {col} ≥ {v}"), "rows_without_split_value": unknown}),
            )
        }
        _ => {
            let all: Vec<u32> = (0..n as u32).collect();
            let fold = tree::stratified_folds(&t.y, &all, 5, a.seed);
            (
                (0..5)
                    .map(|f| {
                        (
                            (0..n).filter(|&i| fold[i] != f).collect(),
                            (0..n).filter(|&i| fold[i] == f).collect(),
                        )
                    })
                    .collect(),
                json!({"type": "cross-validation", "folds": 5,
                    "note": "geen temporele splitsing: voorspellingen buiten de eigen vouw (5-voudig); een temporele toets (--split-column) is eerlijker voor beleid"}),
            )
        }
    };
    let (min_leaf, note) = min_leaf(&l, a.min_leaf, n)?;
    let mut p = vec![f64::NAN; n];
    let mut coefficients = Value::Null;
    let mut rules = Value::Null;
    let mut train_majority = Vec::new();
    for (train, test) in &folds {
        let pos = train.iter().filter(|&&i| y[i]).count();
        train_majority.push((pos * 2 > train.len(), test.clone()));
        match a.model {
            ModelArg::Logistic => {
                let (names, cols) = patterns::design(&feats, train);
                let matrix = |rows: &[usize]| -> Vec<f64> {
                    rows.iter()
                        .flat_map(|&i| cols.iter().map(move |c| c(i)))
                        .collect()
                };
                let x = matrix(train);
                let yt: Vec<bool> = train.iter().map(|&i| y[i]).collect();
                let fit =
                    logistic::fit_ridge(&x, &yt, &names, None, a.penalty).map_err(stats_error)?;
                let xt = matrix(test);
                let q = names.len();
                for (j, &i) in test.iter().enumerate() {
                    p[i] = 1.0 / (1.0 + (-fit.linear_predictor(&xt[j * q..(j + 1) * q])).exp());
                }
                if folds.len() == 1 {
                    coefficients = json!(fit
                        .coefficients
                        .iter()
                        .map(|c| json!({"name": c.name, "coef": c.coef}))
                        .collect::<Vec<_>>());
                }
            }
            ModelArg::Tree => {
                let tr: Vec<u32> = train.iter().map(|&i| i as u32).collect();
                let opt = TreeOptions {
                    max_depth: a.max_depth,
                    min_leaf,
                    min_split: 2 * min_leaf,
                    ..Default::default()
                };
                let fitted = tree::fit(&feats, &t.y, 2, Some(&tr), &opt).map_err(stats_error)?;
                let te: Vec<u32> = test.iter().map(|&i| i as u32).collect();
                for (j, pr) in fitted
                    .predict_proba(&feats, &te, UNPRUNED)
                    .iter()
                    .enumerate()
                {
                    p[test[j]] = pr[t.positive];
                }
                if folds.len() == 1 {
                    let kd = keyed(&l, &keys);
                    let word = format!("{} = {}", a.target, t.classes[t.positive]);
                    rules = patterns::tree_output(
                        &fitted, UNPRUNED, &feats, &t.y, train, &t.classes, t.positive, &word, &kd,
                    )
                    .0;
                }
            }
        }
    }
    let test_rows: Vec<usize> = folds
        .iter()
        .flat_map(|(_, te)| te.iter().copied())
        .collect();
    let yt: Vec<bool> = test_rows.iter().map(|&i| y[i]).collect();
    let pt: Vec<f64> = test_rows.iter().map(|&i| p[i]).collect();
    let m = metrics::binary_metrics(&yt, &pt, a.threshold);
    // Baseline: the majority class of the training data, applied to the test data.
    let base_correct: usize = train_majority
        .iter()
        .map(|(maj, te)| te.iter().filter(|&&i| y[i] == *maj).count())
        .sum();
    let baseline = base_correct as f64 / test_rows.len() as f64;
    let kd = keyed(&l, &keys);
    let mut attrs = Vec::new();
    let mut members = Vec::new();
    for g in &a.audit_groups {
        let labels = l.frame.labels(g).map_err(read_error)?;
        let vals: Vec<String> = test_rows
            .iter()
            .map(|&i| {
                labels[t.rows[i]]
                    .clone()
                    .unwrap_or_else(|| "onbekend".into())
            })
            .collect();
        let mut distinct = vals.clone();
        distinct.sort();
        distinct.dedup();
        if distinct.len() > 30 {
            return Err(Failure::usage(format!(
                "--audit-groups {g}: {} distinct values; an audit compares groups (sex, age band, wijk), so put a continuous column into bands first",
                distinct.len()
            )));
        }
        attrs.push((g.clone(), vals));
    }
    let audit = metrics::audit(
        &yt,
        &pt,
        a.threshold,
        &attrs,
        &metrics::AuditOptions {
            bound: a.audit_bound,
            ..Default::default()
        },
    );
    for g in &audit {
        let vals = &attrs.iter().find(|x| x.0 == g.group).map(|x| &x.1);
        members.push(
            test_rows
                .iter()
                .enumerate()
                .filter(|(j, _)| vals.is_some_and(|v| v[*j] == g.value))
                .map(|(_, &i)| i)
                .collect::<Vec<usize>>(),
        );
    }
    let mut result = Map::new();
    result.insert(
        "model".into(),
        json!(match a.model {
            ModelArg::Tree => "tree",
            ModelArg::Logistic => "logistic",
        }),
    );
    result.insert(
        "metrics".into(),
        patterns::metrics_output(&m, &y, &test_rows, &kd),
    );
    let lift = m.accuracy - baseline;
    result.insert("baseline".into(), json!({"accuracy": baseline, "rule": "altijd de meest voorkomende uitkomst van de trainingsdata / always the majority class of the training data",
        "reading": format!("{} juist tegen {} door altijd de meest voorkomende uitkomst te voorspellen: {} procentpunt {}",
            pct(&json!(m.accuracy)), pct(&json!(baseline)), patterns::nl_num(100.0 * lift.abs(), 1), if lift >= 0.0 { "beter" } else { "slechter" })}));
    result.insert(
        "calibration".into(),
        patterns::calibration_output(&y, &p, &test_rows, 10, &kd),
    );
    result.insert("bias_kinds".into(), patterns::bias_kinds());
    result.insert(
        "audit".into(),
        patterns::audit_output(&audit, &members, &y, &p, a.threshold, &kd),
    );
    if let Some(path) = &a.svg {
        let label = match a.model {
            ModelArg::Tree => "beslisboom",
            ModelArg::Logistic => "logistische regressie",
        };
        let svg = inzicht_charts::calibration::calibration_svg(
            &[(label.to_string(), &result["calibration"])],
            &format!("Kalibratie: {} = {}", a.target, t.classes[t.positive]),
        );
        std::fs::write(path, svg).map_err(|e| {
            Failure::usage(format!("{}: cannot write the SVG: {e}", path.display()))
        })?;
    }
    result.insert("split".into(), split_desc);
    result.insert(
        "n_train".into(),
        json!(kd.count(folds[0].0.iter().copied())),
    );
    result.insert("n_test".into(), json!(kd.count(test_rows.iter().copied())));
    result.insert("positive_class".into(), json!(t.classes[t.positive]));
    if !coefficients.is_null() {
        result.insert("coefficients".into(), coefficients);
        result.insert("penalty".into(), json!({"lambda": a.penalty, "sklearn_C": 1.0 / a.penalty, "scale": "standardised features (training mean and SD)"}));
    }
    if !rules.is_null() {
        result.insert("rules".into(), rules);
    }
    result.insert("notes".into(), json!(note.into_iter().collect::<Vec<_>>()));
    let params = json!({"data": a.common.data, "target": a.target, "features": a.features, "model": result["model"],
        "split_column": a.split_column, "split_value": a.split_value, "audit_groups": a.audit_groups, "threshold": a.threshold});
    emit(a.common.format, result, &l, params, |env| {
        let mm = &env["metrics"];
        let mut s = format!(
            "Voorspelmodel ({}) voor {} = {}\n{}\nJuist {} | gebalanceerd {} | AUC {} | Brier {}\nBasislijn: {}\n",
            env["model"].as_str().unwrap_or(""),
            a.target,
            env["positive_class"].as_str().unwrap_or(""),
            env["split"]["rule"].as_str().or(env["split"]["note"].as_str()).unwrap_or(""),
            pct(&mm["accuracy"]), pct(&mm["balanced_accuracy"]),
            mm["roc_auc"].as_f64().map_or("—".into(), |v| patterns::nl_num(v, 3)),
            mm["brier"].as_f64().map_or("—".into(), |v| patterns::nl_num(v, 3)),
            env["baseline"]["reading"].as_str().unwrap_or("")
        );
        if env["audit"].as_array().is_some_and(|v| !v.is_empty()) {
            s.push_str("\nBias-audit (per groep: n, selectiekans, terecht-positief, vals-positief, ratio t.o.v. referentie):\n");
            for g in env["audit"].as_array().into_iter().flatten() {
                if g["suppressed"] == json!(true) {
                    s.push_str(&format!(
                        "  {} = {}: afgeschermd\n",
                        g["group"].as_str().unwrap_or(""),
                        g["value"].as_str().unwrap_or("")
                    ));
                    continue;
                }
                s.push_str(&format!(
                    "  {} = {}{}: n ≈ {}, {} / {} / {}, ratio {}{}\n",
                    g["group"].as_str().unwrap_or(""),
                    g["value"].as_str().unwrap_or(""),
                    if g["reference"] == json!(true) {
                        " (referentie)"
                    } else {
                        ""
                    },
                    g["n"]
                        .as_f64()
                        .map_or("—".into(), |v| patterns::nl_num(v, 0)),
                    pct(&g["selection_rate"]),
                    pct(&g["tpr"]),
                    pct(&g["fpr"]),
                    g["selection_ratio"]["ratio"]
                        .as_f64()
                        .map_or("—".into(), |v| patterns::nl_num(v, 2)),
                    if g["flags"].as_array().is_some_and(|f| !f.is_empty()) {
                        "  ⚑"
                    } else {
                        ""
                    }
                ));
            }
        }
        s
    });
    Ok(())
}

#[derive(Args)]
pub struct PatternsArgs {
    /// Store directory.
    #[arg(long)]
    pub store: std::path::PathBuf,
    #[arg(long)]
    pub as_of: Option<String>,
    #[arg(long)]
    pub key_file: Option<std::path::PathBuf>,
    /// Outflow reasons that count (work, school, income, moved_away, competing, unknown).
    #[arg(long, value_delimiter = ',', default_value = "work,school,income")]
    pub reasons: Vec<String>,
    /// Months from the reference point within which outflow counts.
    #[arg(long, default_value_t = 12)]
    pub horizon: i32,
    /// `start` (the spell's first month), a month YYYY-MM (spells running then), or
    /// `duration:N` (spells still running after N months).
    #[arg(long, default_value = "start")]
    pub reference: String,
    /// Target group: age range A..B.
    #[arg(long)]
    pub age: Option<String>,
    #[arg(long)]
    pub sex: Option<String>,
    #[arg(long, value_delimiter = ',')]
    pub wijk: Vec<String>,
    #[arg(long, value_delimiter = ',')]
    pub trede: Vec<i64>,
    /// Loonwaarde band A..B (percent).
    #[arg(long)]
    pub loonwaarde: Option<String>,
    /// Only spells that received a provision of this group before the reference point.
    #[arg(long)]
    pub provision: Option<String>,
    /// Only clients in this cluster (1-based, as `inzicht patterns` lists the clusters).
    #[arg(long)]
    pub cluster: Option<usize>,
    /// Reference months from (YYYY-MM).
    #[arg(long)]
    pub from: Option<String>,
    #[arg(long)]
    pub to: Option<String>,
    /// Features (default: every feature known at the reference point except the audit
    /// attributes sex, migration background, country of birth, nationality and wijk).
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    #[arg(long, default_value_t = 3)]
    pub max_depth: usize,
    #[arg(long, value_enum, default_value = "cv")]
    pub prune: Prune,
    #[arg(long, default_value = "3..7")]
    pub k_range: String,
    /// A ratio below this bound (or above its inverse) is flagged in the bias audit.
    #[arg(long, default_value_t = 0.8)]
    pub audit_bound: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the tree as SVG, the register entry (JSON) and the model card (Markdown) here.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// The organisation for the register entry (JSON: organisation, contact_email, …; see
    /// docs/register.md). Default: organisatie.json in the store directory.
    #[arg(long)]
    pub organisation: Option<std::path::PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: crate::cli::OutputFormat,
}

fn parse_month_arg(flag: &str, text: &str) -> Result<i32, Failure> {
    inzicht_domain::Month::parse(text)
        .map(|m| m.0)
        .ok_or_else(|| Failure::usage(format!("{flag} {text}: write a month as YYYY-MM")))
}

pub fn parse_pair(flag: &str, text: &str) -> Result<(f64, f64), Failure> {
    let bad = || Failure::usage(format!("{flag} {text}: write a range as A..B"));
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    Ok((
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    ))
}

pub fn patterns_cmd(a: PatternsArgs) -> Result<(), Failure> {
    use inzicht_store::cohort::{CohortSpec, Filters, Reference};
    let key_file = match &a.key_file {
        Some(k) => k.clone(),
        None => inzicht_store::table::recorded_key_file(&a.store, a.as_of.as_deref())?,
    };
    let secrets = inzicht_store::recordkeys::secrets_dir(&key_file);
    let policy = inzicht_protect::Policy::from_dir(&secrets).map_err(Failure::usage)?;
    let protector = inzicht_protect::Protector::new(policy).map_err(Failure::usage)?;
    let session = inzicht_store::table::Session::open(&a.store, a.as_of.as_deref(), &key_file)?;
    let reference = match a.reference.as_str() {
        "start" => Reference::Start,
        r if r.starts_with("duration:") => {
            Reference::MinDuration(r["duration:".len()..].parse().map_err(|_| {
                Failure::usage(format!("--reference {r}: write duration:N with N months"))
            })?)
        }
        r => Reference::Month(parse_month_arg("--reference", r)?),
    };
    let age = a
        .age
        .as_deref()
        .map(|t| parse_pair("--age", t))
        .transpose()?;
    let lw = a
        .loonwaarde
        .as_deref()
        .map(|t| parse_pair("--loonwaarde", t))
        .transpose()?;
    let spec = CohortSpec {
        reasons: a.reasons.clone(),
        horizon: a.horizon,
        reference,
        filters: Filters {
            age_min: age.map(|p| p.0 as i32),
            age_max: age.map(|p| p.1 as i32),
            sex: a.sex.clone(),
            wijk: a.wijk.clone(),
            trede: a.trede.clone(),
            loonwaarde_min: lw.map(|p| p.0),
            loonwaarde_max: lw.map(|p| p.1),
            provision_group: a.provision.clone(),
            ref_from: a
                .from
                .as_deref()
                .map(|t| parse_month_arg("--from", t))
                .transpose()?,
            ref_to: a
                .to
                .as_deref()
                .map(|t| parse_month_arg("--to", t))
                .transpose()?,
            cluster: a.cluster,
        },
        features: a.features.clone(),
        keep_unlabelled: false,
    };
    let (lo, hi) = parse_range(&a.k_range)?;
    let opt = inzicht_store::prediction::PatternOptions {
        max_depth: a.max_depth,
        prune: a.prune == Prune::Cv,
        seed: a.seed,
        k_range: (lo, hi),
        audit_bound: a.audit_bound,
        ..Default::default()
    };
    if !(a.audit_bound > 0.0 && a.audit_bound < 1.0) {
        return Err(Failure::usage(
            "--audit-bound must lie between 0 and 1 (the four-fifths rule is 0.8)",
        ));
    }
    let started = std::time::Instant::now();
    let bar = crate::cli::spinner();
    bar.set_message("cohort, beslisboom, modellen, bias-audit en clusters …");
    let r = inzicht_store::prediction::run(&session, &protector, &spec, &opt);
    bar.finish_and_clear();
    let (result, facts) = r?;
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::usage(format!("{}: {e}", dir.display())))?;
        let svg = inzicht_charts::tree::tree_svg(
            &result["tree"]["tree"],
            &format!("Beslisboom: {}", result["target"].as_str().unwrap_or("")),
        );
        std::fs::write(dir.join("beslisboom.svg"), svg)
            .map_err(|e| Failure::usage(format!("{}: {e}", dir.display())))?;
        let models: Vec<(String, &Value)> = result["models"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                let label = match m["model"].as_str() {
                    Some("logistic") => "logistische regressie",
                    Some("tree") => "beslisboom",
                    _ => "model",
                };
                (label.to_string(), &m["calibration"])
            })
            .collect();
        let svg =
            inzicht_charts::calibration::calibration_svg(&models, "Kalibratie op de testperiode");
        std::fs::write(dir.join("kalibratie.svg"), svg)
            .map_err(|e| Failure::usage(format!("{}: {e}", dir.display())))?;
        let org = a
            .organisation
            .clone()
            .unwrap_or_else(|| a.store.join("organisatie.json"));
        crate::register_cmd::write_register(dir, &org, &facts, &spec, 1.0)?;
    }
    let params = json!({"as_of": a.as_of, "reasons": a.reasons, "horizon": a.horizon, "reference": a.reference,
        "max_depth": a.max_depth, "k_range": a.k_range, "seed": a.seed});
    let env = inzicht_protect::envelope(
        result,
        protector.metadata(0, 0),
        Some(&session.snapshot),
        params,
    );
    match a.format {
        crate::cli::OutputFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&env).unwrap_or_default())
        }
        crate::cli::OutputFormat::Table => {
            println!("{}", patterns_text(&env, started.elapsed().as_secs_f64()))
        }
    }
    Ok(())
}

fn patterns_text(env: &Value, seconds: f64) -> String {
    let num = |v: &Value, d: usize| {
        v.as_f64()
            .map_or("afgeschermd".into(), |x| patterns::nl_num(x, d))
    };
    let mut s = format!(
        "Uitkomst: {}\nCohort: {} uitkeringen met genoeg nawerktijd (zonder: ≈ {}); uitstroom {}\n",
        env["target"].as_str().unwrap_or(""),
        num(&env["cohort"]["labelled"], 0),
        num(&env["cohort"]["excluded_no_follow_up"], 0),
        pct(&env["describe"]["share"]),
    );
    s.push_str("\n1. Beschrijving (eerst beschrijven, dan voorspellen):\n");
    for b in env["describe"]["by"].as_array().into_iter().flatten() {
        let parts: Vec<String> = b["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| format!("{} {}", r["value"].as_str().unwrap_or(""), pct(&r["share"])))
            .collect();
        s.push_str(&format!(
            "   naar {}: {}\n",
            b["by"].as_str().unwrap_or(""),
            parts.join(" · ")
        ));
    }
    let t = &env["tree"];
    s.push_str(&format!(
        "\n2. Beslisboom ({} bladeren, gekruisvalideerd {} juist, AUC {}):\n",
        t["leaves"],
        pct(&t["cv_accuracy"]),
        num(&t["cv_auc"], 3)
    ));
    for r in t["rules"].as_array().into_iter().flatten() {
        s.push_str(&format!("   {}\n", r["text"].as_str().unwrap_or("")));
    }
    s.push_str(&format!(
        "\n3. Voorspelmodellen ({}):\n",
        env["split"]["rule"].as_str().unwrap_or("")
    ));
    for m in env["models"].as_array().into_iter().flatten() {
        let mm = &m["metrics"];
        s.push_str(&format!(
            "   {}: {} | gebalanceerd {} | AUC {} | Brier {}\n     {}\n",
            m["description"].as_str().unwrap_or(""),
            pct(&mm["accuracy"]),
            pct(&mm["balanced_accuracy"]),
            num(&mm["roc_auc"], 3),
            num(&mm["brier"], 3),
            m["baseline"]["reading"].as_str().unwrap_or("")
        ));
        let flagged: Vec<String> = m["audit"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|g| g["flags"].as_array().is_some_and(|f| !f.is_empty()))
            .map(|g| {
                format!(
                    "{} = {}",
                    g["group"].as_str().unwrap_or(""),
                    g["value"].as_str().unwrap_or("")
                )
            })
            .collect();
        s.push_str(&format!(
            "     bias-audit (lees met de zeven soorten bias in 'bias_kinds'): {}\n",
            if flagged.is_empty() {
                "geen groep buiten de grenzen".to_string()
            } else {
                format!("let op bij {}", flagged.join("; "))
            }
        ));
    }
    let c = &env["clusters"];
    s.push_str(&format!(
        "\n4. Clusters van cliënten ({}; k = {} gekozen op silhouet {}):\n",
        c["population"].as_str().unwrap_or(""),
        c["k"],
        num(&c["silhouette"], 3)
    ));
    for p in c["profiles"].as_array().into_iter().flatten() {
        if p["suppressed"] == json!(true) {
            s.push_str(&format!("   cluster {}: afgeschermd\n", p["cluster"]));
        } else {
            s.push_str(&format!(
                "   cluster {} (n ≈ {}): {}\n",
                p["cluster"],
                num(&p["size"], 0),
                p["description"].as_str().unwrap_or("")
            ));
        }
    }
    s.push_str(&format!(
        "\nBeschermd: elk blad en cluster ≥ drempel; aantallen verstoord; aandelen verborgen bij (bijna) allen of niemand. ({} s)",
        patterns::nl_num(seconds, 1)
    ));
    s
}
