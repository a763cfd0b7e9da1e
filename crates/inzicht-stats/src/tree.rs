//! Classification trees (CART; Breiman, Friedman, Olshen & Stone 1984, ch. 2–4 and 10).
//!
//! - Splits maximise the decrease of the weighted Gini index or entropy (information gain),
//!   `Δ = W·i(t) − W_L·i(t_L) − W_R·i(t_R)`, with W the (class-)weighted case count.
//! - Numeric features split at the midpoint of two consecutive distinct values, `x ≤ c` to the
//!   left (as scikit-learn; rpart's `x < c` is the same split). Values closer than 1e-7 count as
//!   equal, as in scikit-learn.
//! - Categorical features: levels are ordered by the node's share of the positive class and the
//!   best split of that order is taken; for two classes this is the optimal split over all
//!   2^(L−1) subsets (Breiman et al. 1984, Theorem 4.5; also rpart). With more classes the order
//!   uses the share of the node's majority class (a heuristic, stated in the output).
//! - Missing values: a learned direction per split (as scikit-learn ≥ 1.3 and XGBoost): both
//!   "missing to the left" and "to the right" are scored and the better kept; where a node saw
//!   no missing value, missing (and unseen categories) go to the child with more weight.
//! - Minimal cost-complexity pruning (Breiman et al. ch. 3.3): the weakest-link sequence on the
//!   resubstitution misclassification cost, the penalty chosen by stratified cross-validation at
//!   the geometric midpoints of that sequence, with the one-standard-error rule (ch. 3.4.3).
//!
//! Growing uses pre-sorted feature lists that are stably partitioned at every split, so a tree
//! costs O(n·p) per level instead of a sort per node; the split search runs per feature in
//! parallel on large nodes.

use crate::rng::{par_map, Rng};
use crate::{err, StatsError};
use serde::Serialize;

/// The penalty meaning "the tree as grown": no pruning at all. (At 0, splits that do not
/// lower the misclassification cost are already removed, as rpart does at cp = 0.)
pub const UNPRUNED: f64 = -1.0;

/// Missing category code.
pub const MISSING: u32 = u32::MAX;
/// Classes a target may have.
pub const MAX_CLASSES: usize = 16;
/// Values within this distance are one value (scikit-learn's FEATURE_THRESHOLD).
const FEATURE_THRESHOLD: f64 = 1e-7;

#[derive(Debug, Clone)]
pub enum FeatureValues {
    /// NaN is missing.
    Numeric(Vec<f64>),
    /// Codes into `levels`; [`MISSING`] is missing.
    Categorical {
        codes: Vec<u32>,
        levels: Vec<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Feature {
    pub name: String,
    pub values: FeatureValues,
}

impl Feature {
    pub fn len(&self) -> usize {
        match &self.values {
            FeatureValues::Numeric(v) => v.len(),
            FeatureValues::Categorical { codes, .. } => codes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_missing(&self, row: usize) -> bool {
        match &self.values {
            FeatureValues::Numeric(v) => v[row].is_nan(),
            FeatureValues::Categorical { codes, .. } => codes[row] == MISSING,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Criterion {
    Gini,
    Entropy,
}

#[derive(Debug, Clone)]
pub struct TreeOptions {
    pub criterion: Criterion,
    pub max_depth: usize,
    /// Minimum number of rows in a leaf (unweighted).
    pub min_leaf: usize,
    /// Minimum number of rows in a node to try a split.
    pub min_split: usize,
    /// Weight per class (e.g. n / (K·n_k) for balanced classes); `None`: all 1.
    pub class_weight: Option<Vec<f64>>,
}

impl Default for TreeOptions {
    fn default() -> Self {
        TreeOptions {
            criterion: Criterion::Gini,
            max_depth: 5,
            min_leaf: 1,
            min_split: 2,
            class_weight: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Rule {
    /// `x ≤ threshold` goes left.
    Numeric { threshold: f64 },
    /// These level codes go left, those right; levels the node never saw go with the missing
    /// values.
    Categorical { left: Vec<u32>, right: Vec<u32> },
}

#[derive(Debug, Clone, Serialize)]
pub struct Split {
    pub feature: usize,
    pub rule: Rule,
    pub missing_left: bool,
    pub left: usize,
    pub right: usize,
    /// Weighted impurity decrease Δ of this split.
    pub improvement: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub depth: usize,
    /// Training rows in the node.
    pub n: usize,
    /// Training rows per class.
    pub counts: Vec<usize>,
    /// Class-weighted counts per class.
    pub weighted: Vec<f64>,
    /// Impurity per unit of weight.
    pub impurity: f64,
    pub split: Option<Split>,
    /// The cost-complexity penalty from which on this node is a leaf (0 for a leaf of the grown
    /// tree, and for a split that does not lower the misclassification cost).
    pub prune_alpha: f64,
}

impl Node {
    /// Class probabilities (weighted shares, as scikit-learn's `predict_proba`).
    pub fn probabilities(&self) -> Vec<f64> {
        let w: f64 = self.weighted.iter().sum();
        self.weighted
            .iter()
            .map(|c| if w > 0.0 { c / w } else { 0.0 })
            .collect()
    }

    /// The predicted class: the largest weighted count (the lowest class on a tie).
    pub fn prediction(&self) -> usize {
        argmax(&self.weighted)
    }
}

fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

#[derive(Debug, Clone, Serialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
    pub n_classes: usize,
    pub feature_names: Vec<String>,
    /// Levels of categorical features (empty for numeric ones).
    pub feature_levels: Vec<Vec<String>>,
    /// Whether the training rows had missing values of each feature (rules then say where
    /// missing values go).
    pub feature_has_missing: Vec<bool>,
    pub criterion: Criterion,
}

/// Impurity × weight of a node with these class weights: W·gini = W − Σc²/W;
/// W·entropy = W ln W − Σ c ln c (natural log; the split chosen does not depend on the base).
#[inline]
fn weighted_impurity(criterion: Criterion, c: &[f64], w: f64) -> f64 {
    if w <= 0.0 {
        return 0.0;
    }
    match criterion {
        Criterion::Gini => w - c.iter().map(|x| x * x).sum::<f64>() / w,
        Criterion::Entropy => {
            w * w.ln()
                - c.iter()
                    .filter(|&&x| x > 0.0)
                    .map(|x| x * x.ln())
                    .sum::<f64>()
        }
    }
}

/// A candidate split found by the search.
#[derive(Clone)]
struct Candidate {
    feature: usize,
    rule: Rule,
    missing_left: bool,
    /// Weighted impurity of both children together (lower is better).
    child_cost: f64,
}

/// Class sums on one side of a split.
#[derive(Clone, Copy)]
struct Side {
    w: [f64; MAX_CLASSES],
    n: usize,
}

impl Side {
    fn zero() -> Side {
        Side {
            w: [0.0; MAX_CLASSES],
            n: 0,
        }
    }
    fn total(&self, k: usize) -> f64 {
        self.w[..k].iter().sum()
    }
    fn minus(&self, o: &Side, k: usize) -> Side {
        let mut s = *self;
        for j in 0..k {
            s.w[j] -= o.w[j];
        }
        s.n -= o.n;
        s
    }
    fn plus(&self, o: &Side, k: usize) -> Side {
        let mut s = *self;
        for j in 0..k {
            s.w[j] += o.w[j];
        }
        s.n += o.n;
        s
    }
}

struct Grower<'a> {
    y: &'a [usize],
    class_w: Vec<f64>,
    k: usize,
    opt: &'a TreeOptions,
}

/// A node's rows: a segment of the row list and, per numeric feature, of its sorted list.
struct Seg {
    rows: (usize, usize),
    sorted: Vec<(usize, usize)>,
    depth: usize,
    node: usize,
}

impl Grower<'_> {
    fn side_of(&self, rows: &[u32]) -> Side {
        let mut s = Side::zero();
        for &r in rows {
            let c = self.y[r as usize];
            s.w[c] += self.class_w[c];
            s.n += 1;
        }
        s
    }

    fn cost(&self, s: &Side) -> f64 {
        weighted_impurity(self.opt.criterion, &s.w[..self.k], s.total(self.k))
    }

    /// Scores "nonmissing left part `l`" with the missing rows on either side; returns the
    /// better (cost, missing_left) that respects the minimum leaf size.
    fn score(&self, l: &Side, nonmiss: &Side, miss: &Side) -> Option<(f64, bool)> {
        let k = self.k;
        let r = nonmiss.minus(l, k);
        let min = self.opt.min_leaf;
        let mut best: Option<(f64, bool)> = None;
        if miss.n == 0 {
            if l.n >= min && r.n >= min {
                best = Some((self.cost(l) + self.cost(&r), false));
            }
            return best;
        }
        let ll = l.plus(miss, k);
        if ll.n >= min && r.n >= min && r.n > 0 {
            best = Some((self.cost(&ll) + self.cost(&r), true));
        }
        let rr = r.plus(miss, k);
        if l.n >= min && rr.n >= min && l.n > 0 {
            let c = self.cost(l) + self.cost(&rr);
            if best.is_none_or(|(b, _)| c < b) {
                best = Some((c, false));
            }
        }
        best
    }

    fn search_numeric(
        &self,
        f: usize,
        v: &[f64],
        seg: &[u32],
        node_side: &Side,
    ) -> Option<Candidate> {
        let k = self.k;
        let nonmiss = self.side_of(seg);
        let miss = node_side.minus(&nonmiss, k);
        let min = self.opt.min_leaf.max(1);
        let mut l = Side::zero();
        let mut best: Option<(f64, bool, usize)> = None;
        // The hot loop: one candidate per distinct value. Costs are computed in place on the
        // class sums (no copies of `Side`); the general `score` handles missing values.
        let two_gini = k == 2 && miss.n == 0 && self.opt.criterion == Criterion::Gini;
        let (t0, t1) = (nonmiss.w[0], nonmiss.w[1]);
        for i in 0..seg.len().saturating_sub(1) {
            let r = seg[i] as usize;
            let c = self.y[r];
            l.w[c] += self.class_w[c];
            l.n += 1;
            if l.n < min && miss.n == 0 {
                continue;
            }
            if nonmiss.n - l.n < min && miss.n == 0 {
                break;
            }
            let (a, b) = (v[r], v[seg[i + 1] as usize]);
            if b <= a + FEATURE_THRESHOLD {
                continue;
            }
            let scored = if two_gini {
                // W·gini of both children for two classes: W_L − (a²+b²)/W_L + W_R − (c²+d²)/W_R.
                let (l0, l1) = (l.w[0], l.w[1]);
                let (r0, r1) = (t0 - l0, t1 - l1);
                let (wl, wr) = (l0 + l1, r0 + r1);
                Some((
                    wl - (l0 * l0 + l1 * l1) / wl + wr - (r0 * r0 + r1 * r1) / wr,
                    false,
                ))
            } else {
                self.score(&l, &nonmiss, &miss)
            };
            if let Some((cost, ml)) = scored {
                if best.is_none_or(|(bc, _, _)| cost < bc) {
                    best = Some((cost, ml, i));
                }
            }
        }
        let (child_cost, missing_left, i) = best?;
        let (a, b) = (v[seg[i] as usize], v[seg[i + 1] as usize]);
        let mut threshold = a / 2.0 + b / 2.0;
        if threshold >= b || !threshold.is_finite() {
            threshold = a;
        }
        Some(Candidate {
            feature: f,
            rule: Rule::Numeric { threshold },
            missing_left,
            child_cost,
        })
    }

    fn search_categorical(
        &self,
        f: usize,
        codes: &[u32],
        n_levels: usize,
        rows: &[u32],
        node_side: &Side,
    ) -> Option<Candidate> {
        let k = self.k;
        let mut per = vec![Side::zero(); n_levels];
        let mut nonmiss = Side::zero();
        for &r in rows {
            let code = codes[r as usize];
            if code == MISSING {
                continue;
            }
            let c = self.y[r as usize];
            let w = self.class_w[c];
            per[code as usize].w[c] += w;
            per[code as usize].n += 1;
            nonmiss.w[c] += w;
            nonmiss.n += 1;
        }
        let miss = node_side.minus(&nonmiss, k);
        // Order the present levels by the share of the ordering class.
        let order_class = if k == 2 { 1 } else { argmax(&node_side.w[..k]) };
        let mut present: Vec<(f64, usize)> = per
            .iter()
            .enumerate()
            .filter(|(_, s)| s.n > 0)
            .map(|(lvl, s)| (s.w[order_class] / s.total(k).max(f64::MIN_POSITIVE), lvl))
            .collect();
        if present.len() < 2 {
            return None;
        }
        present.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut l = Side::zero();
        let mut best: Option<(f64, bool, usize)> = None;
        for i in 0..present.len() - 1 {
            l = l.plus(&per[present[i].1], k);
            if let Some((cost, ml)) = self.score(&l, &nonmiss, &miss) {
                if best.is_none_or(|(bc, _, _)| cost < bc) {
                    best = Some((cost, ml, i));
                }
            }
        }
        let (child_cost, missing_left, i) = best?;
        let mut left: Vec<u32> = present[..=i].iter().map(|&(_, l)| l as u32).collect();
        left.sort_unstable();
        let mut right: Vec<u32> = present[i + 1..].iter().map(|&(_, l)| l as u32).collect();
        right.sort_unstable();
        Some(Candidate {
            feature: f,
            rule: Rule::Categorical { left, right },
            missing_left,
            child_cost,
        })
    }
}

/// Whether a value goes left under a split.
fn goes_left(feature: &Feature, rule: &Rule, missing_left: bool, row: usize) -> bool {
    if feature.is_missing(row) {
        return missing_left;
    }
    match (&feature.values, rule) {
        (FeatureValues::Numeric(v), Rule::Numeric { threshold }) => v[row] <= *threshold,
        (FeatureValues::Categorical { codes, .. }, Rule::Categorical { left, right }) => {
            let c = codes[row];
            if left.binary_search(&c).is_ok() {
                true
            } else if right.binary_search(&c).is_ok() {
                false
            } else {
                // A level the split never saw at this node goes where missing values go.
                missing_left
            }
        }
        _ => missing_left,
    }
}

/// Stable partition of `seg` by `left[row]`: left rows first, order kept on both sides.
/// Returns the number of left rows.
fn stable_partition(seg: &mut [u32], left: &[bool], scratch: &mut Vec<u32>) -> usize {
    scratch.clear();
    let mut w = 0;
    for i in 0..seg.len() {
        let r = seg[i];
        if left[r as usize] {
            seg[w] = r;
            w += 1;
        } else {
            scratch.push(r);
        }
    }
    seg[w..].copy_from_slice(scratch);
    w
}

/// Checks the inputs shared by fitting and cross-validation.
fn check(features: &[Feature], y: &[usize], n_classes: usize) -> Result<(), StatsError> {
    if features.is_empty() {
        return err("no features: choose at least one");
    }
    if n_classes < 2 {
        return err("the target has one class only: a tree needs at least two outcomes");
    }
    if n_classes > MAX_CLASSES {
        return err(format!(
            "the target has {n_classes} classes; at most {MAX_CLASSES} are supported"
        ));
    }
    for f in features {
        if f.len() != y.len() {
            return err(format!(
                "feature '{}' has {} values for {} rows",
                f.name,
                f.len(),
                y.len()
            ));
        }
        if (0..f.len()).all(|i| f.is_missing(i)) {
            return err(format!(
                "feature '{}' has only missing values: leave it out",
                f.name
            ));
        }
        if let FeatureValues::Numeric(v) = &f.values {
            if v.iter().any(|x| x.is_infinite()) {
                return err(format!(
                    "feature '{}' has an infinite value: give a finite number or leave it empty",
                    f.name
                ));
            }
        }
    }
    if let Some(&c) = y.iter().find(|&&c| c >= n_classes) {
        return err(format!("class {c} is outside 0..{n_classes}"));
    }
    Ok(())
}

/// Grows a tree on `rows` (all rows when `None`).
pub fn fit(
    features: &[Feature],
    y: &[usize],
    n_classes: usize,
    rows: Option<&[u32]>,
    opt: &TreeOptions,
) -> Result<Tree, StatsError> {
    check(features, y, n_classes)?;
    if opt.max_depth == 0 {
        return err("the maximum depth must be at least 1");
    }
    let all: Vec<u32>;
    let rows = match rows {
        Some(r) => r,
        None => {
            all = (0..y.len() as u32).collect();
            &all
        }
    };
    if rows.is_empty() {
        return err("no rows to fit the tree on");
    }
    let class_w = match &opt.class_weight {
        Some(w) if w.len() == n_classes && w.iter().all(|x| x.is_finite() && *x > 0.0) => w.clone(),
        Some(_) => return err("class weights must be positive, one per class"),
        None => vec![1.0; n_classes],
    };
    let g = Grower {
        y,
        class_w,
        k: n_classes,
        opt,
    };
    let n_total = y.len();
    let p = features.len();
    let mut row_list: Vec<u32> = rows.to_vec();
    // Pre-sorted lists of the non-missing rows of each numeric feature.
    let mut sorted: Vec<Vec<u32>> = par_map(p, 8, |f| match &features[f].values {
        FeatureValues::Numeric(v) => {
            let s: Vec<u32> = rows
                .iter()
                .copied()
                .filter(|&r| !v[r as usize].is_nan())
                .collect();
            // Sort (value, row) pairs as integers: the IEEE total order of the value as a u64
            // key (sign-magnitude flipped), ties by row — one unstable sort of plain integers,
            // several times faster than comparing floats through the rows.
            let mut keyed: Vec<(u64, u32)> = s
                .iter()
                .map(|&r| {
                    let bits = v[r as usize].to_bits();
                    let key = if bits >> 63 == 1 {
                        !bits
                    } else {
                        bits | (1 << 63)
                    };
                    (key, r)
                })
                .collect();
            keyed.sort_unstable();
            keyed.into_iter().map(|(_, r)| r).collect::<Vec<u32>>()
        }
        FeatureValues::Categorical { .. } => Vec::new(),
    });
    let mut go_left = vec![false; n_total];
    let root_side = g.side_of(&row_list);
    let mut nodes = vec![new_node(&g, &root_side, 0)];
    let mut stack = vec![Seg {
        rows: (0, row_list.len()),
        sorted: sorted.iter().map(|s| (0, s.len())).collect(),
        depth: 0,
        node: 0,
    }];
    let mut scratch = Vec::new();
    while let Some(seg) = stack.pop() {
        let (rs, rn) = seg.rows;
        let node_rows = &row_list[rs..rs + rn];
        let side = g.side_of(node_rows);
        let node_cost = g.cost(&side);
        if seg.depth >= opt.max_depth
            || rn < opt.min_split.max(2)
            || rn < 2 * opt.min_leaf.max(1)
            || node_cost <= 1e-12 * side.total(g.k)
        {
            continue;
        }
        let search = |f: usize| -> Option<Candidate> {
            match &features[f].values {
                FeatureValues::Numeric(v) => {
                    let (s, len) = seg.sorted[f];
                    g.search_numeric(f, v, &sorted[f][s..s + len], &side)
                }
                FeatureValues::Categorical { codes, levels } => {
                    g.search_categorical(f, codes, levels.len(), node_rows, &side)
                }
            }
        };
        let candidates: Vec<Option<Candidate>> = if rn * p >= 100_000 {
            par_map(p, 8, search)
        } else {
            (0..p).map(search).collect()
        };
        let mut best: Option<Candidate> = None;
        for c in candidates.into_iter().flatten() {
            if best.as_ref().is_none_or(|b| c.child_cost < b.child_cost) {
                best = Some(c);
            }
        }
        let Some(best) = best else { continue };
        let improvement = node_cost - best.child_cost;
        if improvement <= 1e-12 * side.total(g.k).max(1.0) {
            continue;
        }
        let feat = &features[best.feature];
        // A split that saw no missing value sends missing values to the heavier child.
        let saw_missing = node_rows.iter().any(|&r| feat.is_missing(r as usize));
        for &r in node_rows {
            go_left[r as usize] = goes_left(feat, &best.rule, best.missing_left, r as usize);
        }
        let nl = stable_partition(&mut row_list[rs..rs + rn], &go_left, &mut scratch);
        let parts: Vec<(usize, usize, usize)> = {
            // Partition every numeric feature's segment, features in parallel on large nodes.
            let go_left = &go_left;
            let jobs: Vec<(usize, &mut Vec<u32>)> = sorted.iter_mut().enumerate().collect();
            let do_one = |(f, list): (usize, &mut Vec<u32>)| -> (usize, usize, usize) {
                let (s, len) = seg.sorted[f];
                if len == 0 {
                    return (f, 0, 0);
                }
                let mut scratch = Vec::with_capacity(len);
                let l = stable_partition(&mut list[s..s + len], go_left, &mut scratch);
                (f, l, len - l)
            };
            if rn * p >= 100_000 {
                let threads = crate::rng::cores().min(8);
                let per = jobs.len().div_ceil(threads);
                let mut jobs = jobs;
                let mut groups: Vec<Vec<(usize, &mut Vec<u32>)>> = Vec::new();
                while !jobs.is_empty() {
                    let rest = jobs.split_off(per.min(jobs.len()));
                    groups.push(std::mem::replace(&mut jobs, rest));
                }
                std::thread::scope(|scope| {
                    let handles: Vec<_> = groups
                        .into_iter()
                        .map(|grp| {
                            let do_one = &do_one;
                            scope.spawn(move || grp.into_iter().map(do_one).collect::<Vec<_>>())
                        })
                        .collect();
                    handles
                        .into_iter()
                        .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                        .collect()
                })
            } else {
                jobs.into_iter().map(do_one).collect()
            }
        };
        let mut left_sorted = vec![(0, 0); p];
        let mut right_sorted = vec![(0, 0); p];
        for (f, l, r) in parts {
            let (s, _) = seg.sorted[f];
            left_sorted[f] = (s, l);
            right_sorted[f] = (s + l, r);
        }
        let left_side = g.side_of(&row_list[rs..rs + nl]);
        let right_side = side.minus(&left_side, g.k);
        let li = nodes.len();
        nodes.push(new_node(&g, &left_side, seg.depth + 1));
        nodes.push(new_node(&g, &right_side, seg.depth + 1));
        let missing_left = if saw_missing {
            best.missing_left
        } else {
            left_side.total(g.k) >= right_side.total(g.k)
        };
        nodes[seg.node].split = Some(Split {
            feature: best.feature,
            rule: best.rule,
            missing_left,
            left: li,
            right: li + 1,
            improvement,
        });
        stack.push(Seg {
            rows: (rs + nl, rn - nl),
            sorted: right_sorted,
            depth: seg.depth + 1,
            node: li + 1,
        });
        stack.push(Seg {
            rows: (rs, nl),
            sorted: left_sorted,
            depth: seg.depth + 1,
            node: li,
        });
    }
    let mut tree = Tree {
        nodes,
        n_classes,
        feature_names: features.iter().map(|f| f.name.clone()).collect(),
        feature_levels: features
            .iter()
            .map(|f| match &f.values {
                FeatureValues::Categorical { levels, .. } => levels.clone(),
                FeatureValues::Numeric(_) => Vec::new(),
            })
            .collect(),
        feature_has_missing: features
            .iter()
            .map(|f| rows.iter().any(|&r| f.is_missing(r as usize)))
            .collect(),
        criterion: opt.criterion,
    };
    tree.compute_pruning_sequence();
    Ok(tree)
}

fn new_node(g: &Grower, s: &Side, depth: usize) -> Node {
    let w = s.total(g.k);
    let mut counts = vec![0usize; g.k];
    // Unweighted counts from weighted ones: every row of class c carries weight class_w[c].
    for c in 0..g.k {
        counts[c] = (s.w[c] / g.class_w[c]).round() as usize;
    }
    Node {
        depth,
        n: s.n,
        counts,
        weighted: s.w[..g.k].to_vec(),
        impurity: if w > 0.0 { g.cost(s) / w } else { 0.0 },
        split: None,
        prune_alpha: 0.0,
    }
}

/// A step of the pruning sequence: from this penalty on, the pruned tree has `leaves` leaves.
#[derive(Debug, Clone, Serialize)]
pub struct PruneStep {
    pub alpha: f64,
    pub leaves: usize,
    /// Resubstitution misclassification cost (weighted share of the root's weight).
    pub risk: f64,
}

impl Tree {
    /// Resubstitution misclassification cost of a node as a share of the root weight.
    fn node_risk(&self, i: usize) -> f64 {
        let n = &self.nodes[i];
        let root_w: f64 = self.nodes[0].weighted.iter().sum();
        let w: f64 = n.weighted.iter().sum();
        let max = n.weighted.iter().cloned().fold(0.0, f64::max);
        (w - max) / root_w
    }

    /// Weakest-link pruning (Breiman et al. 1984, §3.3): sets each internal node's
    /// `prune_alpha`, the penalty at which it becomes a leaf.
    fn compute_pruning_sequence(&mut self) {
        let m = self.nodes.len();
        let mut pruned = vec![false; m];
        for n in &mut self.nodes {
            n.prune_alpha = if n.split.is_some() {
                f64::INFINITY
            } else {
                0.0
            };
        }
        let mut alpha_prev = 0.0f64;
        loop {
            // Post-order over the current subtree: leaves and risk of each branch.
            let mut leaves = vec![0usize; m];
            let mut risk = vec![0.0f64; m];
            let order = self.preorder_active(&pruned);
            for &i in order.iter().rev() {
                match (&self.nodes[i].split, pruned[i]) {
                    (Some(s), false) => {
                        leaves[i] = leaves[s.left] + leaves[s.right];
                        risk[i] = risk[s.left] + risk[s.right];
                    }
                    _ => {
                        leaves[i] = 1;
                        risk[i] = self.node_risk(i);
                    }
                }
            }
            if leaves[0] <= 1 {
                break;
            }
            let mut g_min = f64::INFINITY;
            let mut gs = vec![f64::INFINITY; m];
            for &i in &order {
                if self.nodes[i].split.is_some() && !pruned[i] {
                    let g = (self.node_risk(i) - risk[i]) / (leaves[i] - 1) as f64;
                    gs[i] = g;
                    g_min = g_min.min(g);
                }
            }
            let alpha = g_min.max(alpha_prev);
            for &i in &order {
                if gs[i] <= g_min + 1e-12 && !pruned[i] {
                    pruned[i] = true;
                    // The node and every internal node below it that is still unassigned.
                    let mut below = vec![i];
                    while let Some(j) = below.pop() {
                        if let Some((l, r)) =
                            self.nodes[j].split.as_ref().map(|s| (s.left, s.right))
                        {
                            if self.nodes[j].prune_alpha == f64::INFINITY {
                                self.nodes[j].prune_alpha = alpha;
                            }
                            below.push(l);
                            below.push(r);
                        }
                    }
                }
            }
            alpha_prev = alpha;
            if pruned[0] {
                break;
            }
        }
    }

    fn preorder_active(&self, pruned: &[bool]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            out.push(i);
            if let (Some(s), false) = (&self.nodes[i].split, pruned[i]) {
                stack.push(s.right);
                stack.push(s.left);
            }
        }
        out
    }

    /// Whether node `i` is a leaf of the tree pruned at `alpha` ([`UNPRUNED`]: the grown tree).
    pub fn is_leaf(&self, i: usize, alpha: f64) -> bool {
        let n = &self.nodes[i];
        n.split.is_none() || n.prune_alpha <= alpha
    }

    /// The pruning sequence: distinct penalties with the size and risk of the tree from there on.
    pub fn pruning_sequence(&self) -> Vec<PruneStep> {
        let mut alphas: Vec<f64> = vec![0.0];
        alphas.extend(
            self.nodes
                .iter()
                .filter(|n| n.split.is_some() && n.prune_alpha.is_finite())
                .map(|n| n.prune_alpha),
        );
        alphas.sort_by(f64::total_cmp);
        alphas.dedup_by(|a, b| (*a - *b).abs() <= 1e-12);
        alphas
            .into_iter()
            .map(|alpha| {
                let leaves = self.leaves(alpha);
                let risk = leaves.iter().map(|&i| self.node_risk(i)).sum();
                PruneStep {
                    alpha,
                    leaves: leaves.len(),
                    risk,
                }
            })
            .collect()
    }

    /// Leaves of the tree pruned at `alpha`, left to right.
    pub fn leaves(&self, alpha: f64) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            if self.is_leaf(i, alpha) {
                out.push(i);
            } else if let Some(s) = &self.nodes[i].split {
                stack.push(s.right);
                stack.push(s.left);
            }
        }
        out
    }

    /// Depth of the tree pruned at `alpha`.
    pub fn depth(&self, alpha: f64) -> usize {
        self.leaves(alpha)
            .iter()
            .map(|&i| self.nodes[i].depth)
            .max()
            .unwrap_or(0)
    }

    /// The leaf that row `row` of `features` falls in (tree pruned at `alpha`).
    pub fn leaf_of(&self, features: &[Feature], row: usize, alpha: f64) -> usize {
        let mut i = 0;
        loop {
            if self.is_leaf(i, alpha) {
                return i;
            }
            let Some(s) = &self.nodes[i].split else {
                return i;
            };
            let left = goes_left(&features[s.feature], &s.rule, s.missing_left, row);
            i = if left { s.left } else { s.right };
        }
    }

    /// Probability of each class for each of `rows`.
    pub fn predict_proba(&self, features: &[Feature], rows: &[u32], alpha: f64) -> Vec<Vec<f64>> {
        rows.iter()
            .map(|&r| self.nodes[self.leaf_of(features, r as usize, alpha)].probabilities())
            .collect()
    }

    /// Predicted class for each of `rows`.
    pub fn predict(&self, features: &[Feature], rows: &[u32], alpha: f64) -> Vec<usize> {
        rows.iter()
            .map(|&r| self.nodes[self.leaf_of(features, r as usize, alpha)].prediction())
            .collect()
    }

    /// Impurity-decrease importance per feature (Breiman et al. §5.3.4), summing to 1.
    pub fn importance(&self, alpha: f64) -> Vec<f64> {
        let mut imp = vec![0.0; self.feature_names.len()];
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            if self.is_leaf(i, alpha) {
                continue;
            }
            if let Some(s) = &self.nodes[i].split {
                imp[s.feature] += s.improvement;
                stack.push(s.left);
                stack.push(s.right);
            }
        }
        let total: f64 = imp.iter().sum();
        if total > 0.0 {
            imp.iter_mut().for_each(|v| *v /= total);
        }
        imp
    }

    /// The path to each leaf as merged conditions per feature (tree pruned at `alpha`).
    pub fn rules(&self, alpha: f64) -> Vec<LeafRule> {
        let mut out = Vec::new();
        let mut stack: Vec<(usize, Vec<Condition>)> = vec![(0, Vec::new())];
        while let Some((i, conds)) = stack.pop() {
            if self.is_leaf(i, alpha) {
                out.push(LeafRule {
                    node: i,
                    conditions: conds,
                });
                continue;
            }
            let Some(s) = &self.nodes[i].split else {
                continue;
            };
            for (child, left) in [(s.right, false), (s.left, true)] {
                let mut c = conds.clone();
                add_condition(&mut c, s, left);
                stack.push((child, c));
            }
        }
        out
    }
}

/// A leaf and the conditions that lead to it.
#[derive(Debug, Clone, Serialize)]
pub struct LeafRule {
    pub node: usize,
    pub conditions: Vec<Condition>,
}

/// What a path requires of one feature.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Condition {
    pub feature: usize,
    /// Numeric: value > lower (None: no lower bound).
    pub lower: Option<f64>,
    /// Numeric: value ≤ upper.
    pub upper: Option<f64>,
    /// Categorical: the levels allowed (None: numeric feature).
    pub levels: Option<Vec<u32>>,
    /// Whether a missing value also satisfies the condition.
    pub missing: bool,
}

fn add_condition(conds: &mut Vec<Condition>, s: &Split, left: bool) {
    let missing_here = s.missing_left == left;
    let pos = conds.iter().position(|c| c.feature == s.feature);
    let mut c = match pos {
        Some(p) => conds.remove(p),
        None => Condition {
            feature: s.feature,
            lower: None,
            upper: None,
            levels: None,
            missing: true,
        },
    };
    c.missing &= missing_here;
    match &s.rule {
        Rule::Numeric { threshold } => {
            if left {
                c.upper = Some(c.upper.map_or(*threshold, |u| u.min(*threshold)));
            } else {
                c.lower = Some(c.lower.map_or(*threshold, |l| l.max(*threshold)));
            }
        }
        Rule::Categorical {
            left: lv,
            right: rv,
        } => {
            let side: Vec<u32> = if left { lv.clone() } else { rv.clone() };
            c.levels = Some(match c.levels {
                Some(prev) => prev.into_iter().filter(|l| side.contains(l)).collect(),
                None => side,
            });
        }
    }
    conds.push(c);
    conds.sort_by_key(|c| c.feature);
}

/// Stratified k-fold assignment: within each class the rows are shuffled and dealt out in turn,
/// so every fold has (nearly) the class shares of the whole.
pub fn stratified_folds(y: &[usize], rows: &[u32], k: usize, seed: u64) -> Vec<usize> {
    let mut fold = vec![0usize; y.len()];
    let n_classes = rows.iter().map(|&r| y[r as usize] + 1).max().unwrap_or(0);
    let mut rng = Rng(seed ^ 0xC0FF_EE00_F01D);
    let mut next = 0usize;
    for c in 0..n_classes {
        let mut members: Vec<u32> = rows
            .iter()
            .copied()
            .filter(|&r| y[r as usize] == c)
            .collect();
        rng.shuffle(&mut members);
        for r in members {
            fold[r as usize] = next % k;
            next += 1;
        }
    }
    fold
}

/// The training rows (every fold but `f`) and the test rows (fold `f`).
fn fold_split(rows: &[u32], fold: &[usize], f: usize) -> (Vec<u32>, Vec<u32>) {
    rows.iter().partition(|&&r| fold[r as usize] != f)
}

#[derive(Debug, Clone, Serialize)]
pub struct CvResult {
    pub folds: usize,
    /// Mean accuracy over the folds.
    pub accuracy: f64,
    pub fold_accuracy: Vec<f64>,
    /// Mean ROC AUC over the folds (two classes only).
    pub auc: Option<f64>,
}

/// k-fold stratified cross-validation of a tree grown with `opt` and pruned at `alpha`.
pub fn cross_validate(
    features: &[Feature],
    y: &[usize],
    n_classes: usize,
    opt: &TreeOptions,
    k: usize,
    seed: u64,
    alpha: f64,
) -> Result<CvResult, StatsError> {
    check(features, y, n_classes)?;
    let rows: Vec<u32> = (0..y.len() as u32).collect();
    check_folds(y, n_classes, k)?;
    let fold = stratified_folds(y, &rows, k, seed);
    let mut accs = Vec::new();
    let mut aucs = Vec::new();
    for f in 0..k {
        let (train, test) = fold_split(&rows, &fold, f);
        let tree = fit(features, y, n_classes, Some(&train), opt)?;
        let pred = tree.predict(features, &test, alpha);
        let correct = test
            .iter()
            .zip(&pred)
            .filter(|(&r, &p)| y[r as usize] == p)
            .count();
        accs.push(correct as f64 / test.len() as f64);
        if n_classes == 2 {
            let prob: Vec<f64> = tree
                .predict_proba(features, &test, alpha)
                .iter()
                .map(|p| p[1])
                .collect();
            let yy: Vec<bool> = test.iter().map(|&r| y[r as usize] == 1).collect();
            if let Some(a) = crate::metrics::roc_auc(&yy, &prob) {
                aucs.push(a);
            }
        }
    }
    Ok(CvResult {
        folds: k,
        accuracy: accs.iter().sum::<f64>() / k as f64,
        fold_accuracy: accs,
        auc: (n_classes == 2 && aucs.len() == k).then(|| aucs.iter().sum::<f64>() / k as f64),
    })
}

fn check_folds(y: &[usize], n_classes: usize, k: usize) -> Result<(), StatsError> {
    if k < 2 {
        return err("cross-validation needs at least 2 folds");
    }
    let mut counts = vec![0usize; n_classes];
    for &c in y {
        counts[c] += 1;
    }
    if y.len() < 2 * k {
        return err(format!(
            "{} rows are too few for {k}-fold cross-validation",
            y.len()
        ));
    }
    if counts.iter().filter(|&&c| c > 0).count() < 2 {
        return err("the target has one class only: a tree needs at least two outcomes");
    }
    Ok(())
}

/// The outcome of choosing the penalty by cross-validation.
#[derive(Debug, Clone, Serialize)]
pub struct PruneChoice {
    pub alpha: f64,
    pub leaves: usize,
    /// Per step of the full tree's sequence: penalty, leaves, cross-validated error and its SE.
    pub table: Vec<PruneRow>,
    pub rule: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct PruneRow {
    pub alpha: f64,
    pub leaves: usize,
    pub cv_error: f64,
    pub cv_se: f64,
}

/// Chooses the cost-complexity penalty by k-fold cross-validation (Breiman et al. §3.4):
/// candidate penalties are the geometric midpoints √(α_k α_{k+1}) of the full tree's sequence;
/// each fold's tree is pruned at them and its test misclassification counted; the simplest tree
/// whose error is within one standard error of the minimum is chosen.
pub fn choose_pruning(
    tree: &Tree,
    features: &[Feature],
    y: &[usize],
    opt: &TreeOptions,
    k: usize,
    seed: u64,
) -> Result<PruneChoice, StatsError> {
    check_folds(y, tree.n_classes, k)?;
    let seq = tree.pruning_sequence();
    let mut cands: Vec<f64> = Vec::with_capacity(seq.len());
    for (i, s) in seq.iter().enumerate() {
        cands.push(match seq.get(i + 1) {
            Some(next) if s.alpha > 0.0 => (s.alpha * next.alpha).sqrt(),
            Some(next) => next.alpha / 2.0,
            None => f64::INFINITY,
        });
    }
    let rows: Vec<u32> = (0..y.len() as u32).collect();
    let fold = stratified_folds(y, &rows, k, seed);
    let class_w = opt
        .class_weight
        .clone()
        .unwrap_or_else(|| vec![1.0; tree.n_classes]);
    // Per row, per candidate: the weighted misclassification.
    let mut loss = vec![vec![0.0f64; y.len()]; cands.len()];
    for f in 0..k {
        let (train, test) = fold_split(&rows, &fold, f);
        let t = fit(features, y, tree.n_classes, Some(&train), opt)?;
        for (ci, &a) in cands.iter().enumerate() {
            let alpha = if a.is_infinite() { f64::MAX } else { a };
            let pred = t.predict(features, &test, alpha);
            for (&r, &p) in test.iter().zip(&pred) {
                let c = y[r as usize];
                if c != p {
                    loss[ci][r as usize] = class_w[c];
                }
            }
        }
    }
    let total_w: f64 = y.iter().map(|&c| class_w[c]).sum();
    let n = y.len() as f64;
    let table: Vec<PruneRow> = seq
        .iter()
        .zip(&loss)
        .map(|(s, l)| {
            let mean_row = l.iter().sum::<f64>() / n;
            let var = l.iter().map(|v| (v - mean_row).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
            PruneRow {
                alpha: s.alpha,
                leaves: s.leaves,
                cv_error: l.iter().sum::<f64>() / total_w,
                cv_se: (var / n).sqrt() * n / total_w,
            }
        })
        .collect();
    let (imin, min) = table
        .iter()
        .enumerate()
        .fold((0, f64::INFINITY), |(bi, b), (i, r)| {
            if r.cv_error < b {
                (i, r.cv_error)
            } else {
                (bi, b)
            }
        });
    let bound = min + table[imin].cv_se;
    // The sequence runs from the largest tree to the root: the last step within the bound is
    // the simplest tree.
    let chosen = (imin..table.len())
        .rev()
        .find(|&i| table[i].cv_error <= bound + 1e-12)
        .unwrap_or(imin);
    let alpha = if chosen == 0 {
        0.0
    } else {
        // Between this step's penalty and the next, so the pruned tree is this step's tree.
        match seq.get(chosen + 1) {
            Some(next) => (seq[chosen].alpha * next.alpha).sqrt(),
            None => seq[chosen].alpha * 2.0,
        }
    };
    Ok(PruneChoice {
        alpha,
        leaves: tree.leaves(alpha).len(),
        table,
        rule: "one standard error (Breiman et al. 1984, §3.4.3)",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(name: &str, v: Vec<f64>) -> Feature {
        Feature {
            name: name.into(),
            values: FeatureValues::Numeric(v),
        }
    }

    #[test]
    fn splits_a_threshold_and_a_category() {
        // y = 1 exactly when x > 2.5 and colour is "b".
        let x = vec![1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0];
        let codes = vec![0, 0, 0, 0, 1, 1, 1, 1];
        let y = vec![0, 0, 0, 0, 0, 0, 1, 1];
        let feats = vec![
            num("x", x),
            Feature {
                name: "colour".into(),
                values: FeatureValues::Categorical {
                    codes,
                    levels: vec!["a".into(), "b".into()],
                },
            },
        ];
        let t = fit(&feats, &y, 2, None, &TreeOptions::default()).unwrap();
        let rows: Vec<u32> = (0..8).collect();
        assert_eq!(t.predict(&feats, &rows, UNPRUNED), y);
        assert_eq!(t.leaves(UNPRUNED).len(), 3);
        let rules = t.rules(UNPRUNED);
        assert_eq!(rules.len(), 3);
    }

    #[test]
    fn learns_where_missing_values_go() {
        // Missing x behaves like large x.
        let x = vec![1.0, 2.0, 3.0, f64::NAN, f64::NAN, 8.0, 9.0, 10.0];
        let y = vec![0, 0, 0, 1, 1, 1, 1, 1];
        let feats = vec![num("x", x)];
        let t = fit(&feats, &y, 2, None, &TreeOptions::default()).unwrap();
        let s = t.nodes[0].split.as_ref().unwrap();
        assert!(!s.missing_left);
        assert_eq!(s.rule, Rule::Numeric { threshold: 5.5 });
        let rows: Vec<u32> = (0..8).collect();
        assert_eq!(t.predict(&feats, &rows, UNPRUNED), y);
    }

    #[test]
    fn min_leaf_is_respected_and_depth_limited() {
        let x: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let y: Vec<usize> = (0..100).map(|i| usize::from(i % 7 < 3)).collect();
        let feats = vec![num("x", x)];
        let opt = TreeOptions {
            max_depth: 4,
            min_leaf: 10,
            ..TreeOptions::default()
        };
        let t = fit(&feats, &y, 2, None, &opt).unwrap();
        for l in t.leaves(UNPRUNED) {
            assert!(t.nodes[l].n >= 10);
            assert!(t.nodes[l].depth <= 4);
        }
    }

    #[test]
    fn pruning_sequence_ends_at_the_root() {
        let x: Vec<f64> = (0..200).map(|i| ((i * 37) % 200) as f64).collect();
        let y: Vec<usize> = (0..200)
            .map(|i| usize::from((i * 37) % 200 > 90 || i % 9 == 0))
            .collect();
        let feats = vec![num("x", x)];
        let t = fit(
            &feats,
            &y,
            2,
            None,
            &TreeOptions {
                max_depth: 6,
                ..Default::default()
            },
        )
        .unwrap();
        let seq = t.pruning_sequence();
        assert!(seq[0].leaves <= t.leaves(UNPRUNED).len());
        assert!(seq
            .windows(2)
            .all(|w| w[0].leaves > w[1].leaves && w[0].alpha < w[1].alpha));
        assert_eq!(seq.last().unwrap().leaves, 1);
        let choice = choose_pruning(
            &t,
            &feats,
            &y,
            &TreeOptions {
                max_depth: 6,
                ..Default::default()
            },
            5,
            1,
        )
        .unwrap();
        assert!(choice.leaves >= 2, "the threshold at 90 is real signal");
    }

    #[test]
    fn one_class_and_all_missing_are_errors() {
        let feats = vec![num("x", vec![1.0, 2.0])];
        assert!(fit(&feats, &[0, 0], 1, None, &TreeOptions::default()).is_err());
        let feats = vec![num("x", vec![f64::NAN, f64::NAN])];
        let e = fit(&feats, &[0, 1], 2, None, &TreeOptions::default()).unwrap_err();
        assert!(e.0.contains("only missing"));
    }
}
