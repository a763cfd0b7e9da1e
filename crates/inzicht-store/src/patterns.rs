//! Protected results of trees, clusters and prediction models, from any source (the ADS through
//! [`crate::cohort`], or an analyst's CSV): the statistics come from `inzicht-stats`; this module
//! decides what a user may see and words it in plain Dutch.
//!
//! Disclosure control (docs/protection.md): every leaf and cluster holds at least the threshold
//! of persons (trees are grown with a minimum leaf size of at least the threshold; a smaller
//! cluster's profile is hidden); counts are perturbed with the cell-key method; a share is
//! hidden when its numerator or its complement is below the threshold (group disclosure); a mean
//! uses the protected sum and count; audit groups below the threshold are hidden.

use inzicht_protect::{combine_key_sums, CellInput, Magnitude, Protector, CELL_KEY_MODULUS};
use inzicht_stats::cluster::Clustering;
use inzicht_stats::metrics::{self, BinaryMetrics, GroupAudit};
use inzicht_stats::tree::{Condition, Feature, FeatureValues, Tree};
use serde_json::{json, Value};

/// Rows of one dataset with the person behind each row: `keys[person[row]]` is the person's
/// record key (`person` is `None` when every row is a different person).
pub struct Keyed<'a> {
    pub keys: &'a [u64],
    pub person: Option<&'a [u32]>,
    pub protector: &'a Protector,
}

impl Keyed<'_> {
    /// The cell behind a set of rows: distinct persons and their record keys.
    pub fn cell(&self, rows: impl IntoIterator<Item = usize>) -> CellInput {
        let mut c = CellInput::default();
        match self.person {
            None => {
                for i in rows {
                    c.persons += 1;
                    c.key_sum = combine_key_sums(c.key_sum, self.keys[i] % CELL_KEY_MODULUS);
                }
            }
            Some(person) => {
                let mut ps: Vec<u32> = rows.into_iter().map(|i| person[i]).collect();
                ps.sort_unstable();
                ps.dedup();
                for p in ps {
                    c.persons += 1;
                    c.key_sum =
                        combine_key_sums(c.key_sum, self.keys[p as usize] % CELL_KEY_MODULUS);
                }
            }
        }
        c
    }

    pub fn count(&self, rows: impl IntoIterator<Item = usize>) -> Option<f64> {
        self.protector.count(&self.cell(rows)).value
    }

    /// The share of `rows` for which `hit` holds, protected.
    pub fn share(&self, rows: &[usize], hit: impl Fn(usize) -> bool) -> Option<f64> {
        let num = self.cell(rows.iter().copied().filter(|&i| hit(i)));
        let den = self.cell(rows.iter().copied());
        self.protector.share(&num, &den).value
    }

    /// The mean of `values` over `rows` (NaN left out), protected as sum / count.
    pub fn mean(&self, rows: &[usize], values: &[f64]) -> Option<f64> {
        let present: Vec<usize> = rows
            .iter()
            .copied()
            .filter(|&i| !values[i].is_nan())
            .collect();
        let mut sum = self.cell(present.iter().copied());
        let mut records = sum;
        let total: f64 = present.iter().map(|&i| values[i]).sum();
        if !self.protector.is_protected() {
            return (!present.is_empty()).then(|| total / present.len() as f64);
        }
        // Means of standardised or signed values: the dominance rule works on magnitudes, so the
        // sum is taken of the values shifted to be positive, then shifted back.
        let shift = present
            .iter()
            .map(|&i| values[i])
            .fold(f64::INFINITY, f64::min)
            .min(0.0);
        let shifted_total = total - shift * present.len() as f64;
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &i in &present {
            let a = values[i] - shift;
            if a > s1 {
                s2 = s1;
                s1 = a;
            } else if a > s2 {
                s2 = a;
            }
        }
        sum.magnitude = Some(Magnitude {
            total: shifted_total,
            largest: s1,
            second: s2,
        });
        records.magnitude = Some(Magnitude {
            total: present.len() as f64,
            largest: 1.0,
            second: 1.0,
        });
        self.protector.mean(&sum, &records).value.map(|m| m + shift)
    }
}

/// A number in Dutch notation with at most `dec` decimals (trailing zeros dropped).
pub fn nl_num(x: f64, dec: usize) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let s = format!("{x:.dec$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    s.replace('.', ",")
}

/// A threshold shown to a reader: 4 significant digits.
fn threshold_text(x: f64) -> String {
    let mag = if x == 0.0 {
        0
    } else {
        x.abs().log10().floor() as i32
    };
    let dec = (3 - mag).clamp(0, 6) as usize;
    nl_num(x, dec)
}

fn percent(x: Option<f64>) -> String {
    x.map_or("afgeschermd".into(), |v| {
        format!("{}%", nl_num(100.0 * v, 0))
    })
}

/// One condition of a rule in Dutch ("leeftijd ≤ 40", "trede is 1 of 2").
pub fn condition_text(c: &Condition, tree: &Tree) -> String {
    let name = &tree.feature_names[c.feature];
    let mut s = match (&c.levels, c.lower, c.upper) {
        (Some(levels), _, _) => {
            let names: Vec<&str> = levels
                .iter()
                .filter_map(|&l| tree.feature_levels[c.feature].get(l as usize))
                .map(|s| s.as_str())
                .collect();
            if names.len() == 1 {
                format!("{name} is {}", names[0])
            } else {
                let (last, first) = names.split_last().map_or((&"", &[][..]), |(l, f)| (l, f));
                format!("{name} is {} of {last}", first.join(", "))
            }
        }
        (None, Some(lo), Some(hi)) => {
            format!("{} < {name} ≤ {}", threshold_text(lo), threshold_text(hi))
        }
        (None, Some(lo), None) => format!("{name} > {}", threshold_text(lo)),
        (None, None, Some(hi)) => format!("{name} ≤ {}", threshold_text(hi)),
        (None, None, None) => name.clone(),
    };
    if c.missing && tree.feature_has_missing[c.feature] {
        s.push_str(" (of onbekend)");
    }
    s
}

/// Which leaf each row falls in.
pub fn leaf_rows(tree: &Tree, features: &[Feature], rows: &[usize], alpha: f64) -> Vec<Vec<usize>> {
    let mut by_node = vec![Vec::new(); tree.nodes.len()];
    for &r in rows {
        by_node[tree.leaf_of(features, r, alpha)].push(r);
    }
    by_node
}

/// The rules of a tree (one per leaf) and the tree as nested JSON, protected. `y` holds class
/// codes; `positive` is the class whose share a rule reports ("→ 41% uitstroom").
#[allow(clippy::too_many_arguments)]
pub fn tree_output(
    tree: &Tree,
    alpha: f64,
    features: &[Feature],
    y: &[usize],
    rows: &[usize],
    classes: &[String],
    positive: usize,
    outcome_word: &str,
    k: &Keyed,
) -> (Value, Value) {
    let leaves = leaf_rows(tree, features, rows, alpha);
    // Internal nodes: their rows are the union of their leaves' rows.
    let mut node_rows: Vec<Vec<usize>> = leaves.clone();
    let mut order = Vec::new();
    let mut stack = vec![0usize];
    while let Some(i) = stack.pop() {
        order.push(i);
        if !tree.is_leaf(i, alpha) {
            if let Some(s) = &tree.nodes[i].split {
                stack.push(s.left);
                stack.push(s.right);
            }
        }
    }
    for &i in order.iter().rev() {
        if !tree.is_leaf(i, alpha) {
            if let Some(s) = &tree.nodes[i].split {
                let mut v = node_rows[s.left].clone();
                v.extend_from_slice(&node_rows[s.right]);
                node_rows[i] = v;
            }
        }
    }
    let node_json = |i: usize| -> Value {
        let r = &node_rows[i];
        let shares: Vec<Value> = (0..classes.len())
            .map(|c| json!(k.share(r, |row| y[row] == c)))
            .collect();
        json!({"n": k.count(r.iter().copied()), "share": shares,
            "prediction": classes[tree.nodes[i].prediction()]})
    };
    let rules: Vec<Value> = tree
        .rules(alpha)
        .into_iter()
        .map(|rule| {
            let texts: Vec<String> = rule
                .conditions
                .iter()
                .map(|c| condition_text(c, tree))
                .collect();
            let r = &leaves[rule.node];
            let n = k.count(r.iter().copied());
            let share = k.share(r, |row| y[row] == positive);
            let when = if texts.is_empty() {
                "iedereen".to_string()
            } else {
                texts.join(" en ")
            };
            let text = format!(
                "{when} → {}, n ≈ {}",
                share.map_or(
                    "aandeel afgeschermd (bijna allen of bijna niemand, of te weinig personen)"
                        .to_string(),
                    |v| format!("{}% {outcome_word}", nl_num(100.0 * v, 0))
                ),
                n.map_or("afgeschermd".into(), |v| nl_num(v, 0))
            );
            json!({"conditions": texts, "n": n, "share_positive": share,
                "prediction": classes[tree.nodes[rule.node].prediction()], "text": text})
        })
        .collect();
    fn nested(tree: &Tree, i: usize, alpha: f64, node_json: &dyn Fn(usize) -> Value) -> Value {
        let mut v = node_json(i);
        if !tree.is_leaf(i, alpha) {
            if let (Some(s), Value::Object(m)) = (&tree.nodes[i].split, &mut v) {
                let name = &tree.feature_names[s.feature];
                let rule = match &s.rule {
                    inzicht_stats::tree::Rule::Numeric { threshold } => {
                        json!({"feature": name, "le": threshold})
                    }
                    inzicht_stats::tree::Rule::Categorical { left, .. } => {
                        let levels: Vec<&String> = left
                            .iter()
                            .filter_map(|&l| tree.feature_levels[s.feature].get(l as usize))
                            .collect();
                        json!({"feature": name, "in": levels})
                    }
                };
                m.insert("split".into(), rule);
                m.insert(
                    "missing".into(),
                    json!(if s.missing_left { "left" } else { "right" }),
                );
                m.insert("left".into(), nested(tree, s.left, alpha, node_json));
                m.insert("right".into(), nested(tree, s.right, alpha, node_json));
            }
        }
        v
    }
    (json!(rules), nested(tree, 0, alpha, &node_json))
}

/// Plain-language profile of each cluster relative to the whole population, protected.
/// `numeric[j]` are the raw values of numeric feature j (NaN missing); `categorical[j]` codes
/// with level names.
pub fn cluster_profiles(
    c: &Clustering,
    numeric: &[(String, Vec<f64>)],
    categorical: &[(String, Vec<u32>, Vec<String>)],
    k: &Keyed,
) -> (Value, Value) {
    let n = c.labels.len();
    let all: Vec<usize> = (0..n).collect();
    let members: Vec<Vec<usize>> = (0..c.k)
        .map(|g| (0..n).filter(|&i| c.labels[i] == g).collect())
        .collect();
    let sizes: Vec<Value> = members
        .iter()
        .map(|m| json!(k.count(m.iter().copied())))
        .collect();
    let threshold = k.protector.threshold() as usize;
    let profiles: Vec<Value> = members
        .iter()
        .enumerate()
        .map(|(g, m)| {
            if k.protector.is_protected() && m.len() < threshold {
                return json!({"cluster": g + 1, "suppressed": true,
                    "reason": format!("minder dan {threshold} personen")});
            }
            // Numbers: mean in the cluster vs the population, in population SDs.
            let mut nums = Vec::new();
            for (name, v) in numeric {
                let present: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
                if present.is_empty() {
                    continue;
                }
                let mu = present.iter().sum::<f64>() / present.len() as f64;
                let sd = (present.iter().map(|x| (x - mu).powi(2)).sum::<f64>()
                    / present.len() as f64)
                    .sqrt();
                let mean = k.mean(m, v);
                let z = mean.map(|mm| if sd > 0.0 { (mm - mu) / sd } else { 0.0 });
                nums.push(json!({"feature": name, "mean": mean, "population_mean": mu, "z": z}));
            }
            // Categories: the level most over-represented relative to the population.
            let mut cats = Vec::new();
            for (name, codes, levels) in categorical {
                let mut best: Option<(f64, usize, Option<f64>, f64)> = None;
                for (l, _) in levels.iter().enumerate() {
                    let pop = all.iter().filter(|&&i| codes[i] == l as u32).count() as f64
                        / n.max(1) as f64;
                    let exact = m.iter().filter(|&&i| codes[i] == l as u32).count() as f64
                        / m.len().max(1) as f64;
                    let lift = exact - pop;
                    if best.as_ref().is_none_or(|b| lift > b.0) {
                        let shown = k.share(m, |i| codes[i] == l as u32);
                        best = Some((lift, l, shown, pop));
                    }
                }
                if let Some((_, l, shown, pop)) = best {
                    cats.push(json!({"feature": name, "level": levels[l], "share": shown,
                        "population_share": pop}));
                }
            }
            let description = describe(&nums, &cats);
            json!({"cluster": g + 1, "size": sizes[g], "description": description,
                "numeric": nums, "categorical": cats})
        })
        .collect();
    (json!(sizes), json!(profiles))
}

/// "Hoger op: loonwaarde (+1,1 sd), …; lager op: gezondheid (−0,9 sd); vaker: trede = 1 (45%
/// tegen 20%)". Only deviations of at least 0.3 SD or 10 percentage points are named.
fn describe(nums: &[Value], cats: &[Value]) -> String {
    let mut hi: Vec<(f64, String)> = Vec::new();
    let mut lo: Vec<(f64, String)> = Vec::new();
    for v in nums {
        if let Some(z) = v["z"].as_f64() {
            let name = v["feature"].as_str().unwrap_or("");
            let text = format!(
                "{name} ({}{} sd)",
                if z > 0.0 { "+" } else { "−" },
                nl_num(z.abs(), 1)
            );
            if z >= 0.3 {
                hi.push((z, text));
            } else if z <= -0.3 {
                lo.push((-z, text));
            }
        }
    }
    hi.sort_by(|a, b| b.0.total_cmp(&a.0));
    lo.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut more: Vec<(f64, String)> = cats
        .iter()
        .filter_map(|v| {
            let share = v["share"].as_f64()?;
            let pop = v["population_share"].as_f64()?;
            (share - pop >= 0.10).then(|| {
                (
                    share - pop,
                    format!(
                        "{} = {} ({} tegen {})",
                        v["feature"].as_str().unwrap_or(""),
                        v["level"].as_str().unwrap_or(""),
                        percent(Some(share)),
                        percent(Some(pop))
                    ),
                )
            })
        })
        .collect();
    more.sort_by(|a, b| b.0.total_cmp(&a.0));
    let list = |v: &[(f64, String)]| {
        v.iter()
            .take(4)
            .map(|x| x.1.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !hi.is_empty() {
        parts.push(format!("hoger op: {}", list(&hi)));
    }
    if !lo.is_empty() {
        parts.push(format!("lager op: {}", list(&lo)));
    }
    if !more.is_empty() {
        parts.push(format!("vaker: {}", list(&more)));
    }
    if parts.is_empty() {
        "lijkt op het gemiddelde van de hele groep".into()
    } else {
        let s = parts.join("; ");
        let mut c = s.chars();
        match c.next() {
            Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
            None => s,
        }
    }
}

/// Metrics of a model on the test rows, protected: aggregate metrics need the threshold of
/// persons in both outcome classes; calibration bins show protected counts and shares.
pub fn metrics_output(m: &BinaryMetrics, y: &[bool], test_rows: &[usize], k: &Keyed) -> Value {
    let t = k.protector.threshold() as usize;
    let neg = m.n - m.positives;
    if k.protector.is_protected() && (m.positives < t || neg < t) {
        return json!({"suppressed": true, "reason": format!("minder dan {t} personen met of zonder de uitkomst in de testgroep")});
    }
    let r4 = |x: f64| {
        if k.protector.is_protected() {
            (x * 1e4).round() / 1e4
        } else {
            x
        }
    };
    json!({
        "n": k.count(test_rows.iter().copied()),
        "accuracy": r4(m.accuracy),
        "balanced_accuracy": r4(m.balanced_accuracy),
        "roc_auc": m.roc_auc.map(r4),
        "brier": r4(m.brier),
        "log_loss": r4(m.log_loss),
        "tpr": r4(m.tpr),
        "fpr": r4(m.fpr),
        "precision": m.precision.map(r4),
        "threshold": m.threshold,
        "positives_share": k.share(test_rows, |i| y[i]),
    })
}

/// Calibration bins (deciles of the prediction), protected.
pub fn calibration_output(y: &[bool], p: &[f64], rows: &[usize], bins: usize, k: &Keyed) -> Value {
    let yy: Vec<bool> = rows.iter().map(|&i| y[i]).collect();
    let pp: Vec<f64> = rows.iter().map(|&i| p[i]).collect();
    let cal = metrics::calibration(&yy, &pp, bins);
    // Recover each bin's rows by the same edges: sorted predictions cut at the bin counts.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| pp[a].total_cmp(&pp[b]));
    let mut out = Vec::new();
    let mut at = 0;
    for b in &cal {
        let members: Vec<usize> = order[at..at + b.n].iter().map(|&j| rows[j]).collect();
        at += b.n;
        out.push(
            json!({"predicted": b.predicted, "observed": k.share(&members, |i| y[i]),
            "n": k.count(members.iter().copied())}),
        );
    }
    json!(out)
}

/// The bias audit, protected: groups below the threshold are hidden; rates are protected
/// shares; ratios are rounded to two decimals.
pub fn audit_output(
    rows: &[GroupAudit],
    members: &[Vec<usize>],
    y: &[bool],
    p: &[f64],
    threshold: f64,
    k: &Keyed,
) -> Value {
    let t = k.protector.threshold() as usize;
    let r2 = |x: f64| {
        if k.protector.is_protected() {
            (x * 100.0).round() / 100.0
        } else {
            x
        }
    };
    let ratio = |r: &Option<metrics::Ratio>| {
        r.as_ref()
            .map(|r| json!({"ratio": r2(r.ratio), "ci": [r2(r.ci[0]), r2(r.ci[1])]}))
    };
    json!(rows
        .iter()
        .zip(members)
        .map(|(g, m)| {
            if k.protector.is_protected() && g.n < t {
                return json!({"group": g.group, "value": g.value, "suppressed": true,
                    "reason": format!("minder dan {t} personen")});
            }
            let pos: Vec<usize> = m.iter().copied().filter(|&i| y[i]).collect();
            let negs: Vec<usize> = m.iter().copied().filter(|&i| !y[i]).collect();
            json!({
                "group": g.group, "value": g.value, "reference": g.reference,
                "n": k.count(m.iter().copied()),
                "selection_rate": k.share(m, |i| p[i] >= threshold),
                "tpr": k.share(&pos, |i| p[i] >= threshold),
                "fpr": k.share(&negs, |i| p[i] >= threshold),
                "mean_predicted": r2(g.mean_predicted),
                "observed": k.share(m, |i| y[i]),
                "selection_ratio": ratio(&g.selection_ratio),
                "tpr_ratio": ratio(&g.tpr_ratio),
                "fpr_ratio": ratio(&g.fpr_ratio),
                "flags": g.flags,
            })
        })
        .collect::<Vec<_>>())
}

/// One column of a design matrix: its value for a row.
pub type Column<'a> = Box<dyn Fn(usize) -> f64 + 'a>;

/// The design matrix of a logistic model, learned on the training rows: numbers standardised
/// with the training mean and SD, a missing number set to that mean with an indicator column;
/// categories as indicators of every level but the first (levels as seen in training; an unseen
/// level is all zeros).
pub fn design<'a>(feats: &'a [Feature], train: &[usize]) -> (Vec<String>, Vec<Column<'a>>) {
    let mut names = Vec::new();
    let mut cols: Vec<Column<'a>> = Vec::new();
    for f in feats {
        match &f.values {
            FeatureValues::Numeric(v) => {
                let present: Vec<f64> = train
                    .iter()
                    .map(|&i| v[i])
                    .filter(|x| !x.is_nan())
                    .collect();
                let m = present.iter().sum::<f64>() / present.len().max(1) as f64;
                let sd = (present.iter().map(|x| (x - m).powi(2)).sum::<f64>()
                    / present.len().max(1) as f64)
                    .sqrt();
                let sd = if sd > 0.0 { sd } else { 1.0 };
                names.push(f.name.clone());
                cols.push(Box::new(
                    move |i| if v[i].is_nan() { 0.0 } else { (v[i] - m) / sd },
                ));
                if present.len() < train.len() {
                    names.push(format!("{} onbekend", f.name));
                    cols.push(Box::new(move |i| if v[i].is_nan() { 1.0 } else { 0.0 }));
                }
            }
            FeatureValues::Categorical { codes, levels } => {
                let mut seen: Vec<u32> = train.iter().map(|&i| codes[i]).collect();
                seen.sort_unstable();
                seen.dedup();
                for &lvl in seen.iter().skip(1) {
                    let name = levels
                        .get(lvl as usize)
                        .cloned()
                        .unwrap_or_else(|| "onbekend".into());
                    names.push(format!("{}={name}", f.name));
                    cols.push(Box::new(move |i| if codes[i] == lvl { 1.0 } else { 0.0 }));
                }
            }
        }
    }
    (names, cols)
}

/// The kinds of bias of seed 002 that apply to a prediction about benefit outflow, each with
/// what it means for reading this model's audit. Sent with every model's audit.
pub const BIAS_KINDS: &[(&str, &str)] = &[
    ("historische bias", "Een verschil in selectiekans kan een echt verschil in uitstroom uit het verleden weerspiegelen (jongeren stromen vaker uit). Dat maakt het niet eerlijk: de vraag is waarvoor de voorspelling wordt gebruikt."),
    ("representatiebias", "Kleine groepen (een wijk, een herkomstgroep) hebben brede intervallen; een vlag met 'onzeker' is geen bewijs."),
    ("meetbias", "Trede, loonwaarde en belemmeringen zijn oordelen van consulenten, geen feiten; verschillen tussen consulenten komen in het model."),
    ("aggregatiebias", "Eén model voor iedereen kan voor een groep slecht passen; kijk naar de kalibratie per groep."),
    ("evaluatiebias", "Het model is getoetst op een latere periode dan waarop het is getraind; een kalibratieverschil voor iedereen wijst op verandering in de tijd."),
    ("proxydiscriminatie", "Geslacht, herkomst en wijk zijn geen kenmerken van het model, maar andere kenmerken kunnen ervoor in de plaats staan; de audit laat het effect zien."),
    ("terugkoppeling", "Als het model bepaalt wie een voorziening krijgt, weerspiegelen toekomstige gegevens het model. inzicht adviseert; een consulent beslist."),
];

/// The bias kinds as JSON, for the audit output.
pub fn bias_kinds() -> Value {
    json!(BIAS_KINDS
        .iter()
        .map(|(k, t)| json!({"kind": k, "text": t}))
        .collect::<Vec<_>>())
}

/// Features for a tree or model from named columns: numbers where every present value is one,
/// categories otherwise.
pub fn feature_from_labels(name: &str, values: &[Option<String>]) -> Feature {
    let numeric: Option<Vec<f64>> = values
        .iter()
        .map(|v| match v {
            None => Some(f64::NAN),
            Some(s) => inzicht_ingest::frame::parse_number(s),
        })
        .collect();
    match numeric {
        Some(v) => Feature {
            name: name.to_string(),
            values: FeatureValues::Numeric(v),
        },
        None => {
            let mut levels: Vec<String> = values.iter().flatten().cloned().collect();
            levels.sort();
            levels.dedup();
            let codes = values
                .iter()
                .map(|v| match v {
                    None => inzicht_stats::tree::MISSING,
                    Some(s) => levels
                        .binary_search(s)
                        .map_or(inzicht_stats::tree::MISSING, |i| i as u32),
                })
                .collect();
            Feature {
                name: name.to_string(),
                values: FeatureValues::Categorical { codes, levels },
            }
        }
    }
}
