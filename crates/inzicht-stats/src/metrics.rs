//! Evaluation of a prediction model that fools nobody, and its bias audit.
//!
//! - Accuracy next to the majority-class baseline, balanced accuracy (mean of sensitivity and
//!   specificity), ROC AUC (Mann–Whitney with mid-ranks for ties; Hanley & McNeil 1982), the
//!   Brier score and log loss, and a calibration table in quantile bins (as scikit-learn's
//!   `calibration_curve(strategy="quantile")`).
//! - Bias audit per group (seed 002, lessons 3–4): selection rate, true- and false-positive
//!   rates, calibration (mean predicted vs observed), and disparity ratios against a reference
//!   group with confidence intervals on the log scale (Katz et al. 1978 for a ratio of two
//!   proportions).
//! - The adjusted Rand index (Hubert & Arabie 1985) for cluster recovery.

use crate::dist;
use serde::Serialize;

/// ROC AUC: the probability that a random positive scores above a random negative (ties count
/// one half). `None` when one class is absent.
pub fn roc_auc(y: &[bool], score: &[f64]) -> Option<f64> {
    let n = y.len();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        // Mid-rank of the tie block (1-based ranks i+1 … j+1).
        let mid = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if y[k] {
                rank_sum_pos += mid;
            }
        }
        i = j + 1;
    }
    let n_pos = y.iter().filter(|&&v| v).count() as f64;
    let n_neg = n as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return None;
    }
    Some((rank_sum_pos - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg))
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BinaryMetrics {
    pub n: usize,
    pub positives: usize,
    pub accuracy: f64,
    pub balanced_accuracy: f64,
    pub roc_auc: Option<f64>,
    pub brier: f64,
    pub log_loss: f64,
    /// Sensitivity: share of the positives predicted positive.
    pub tpr: f64,
    /// Share of the negatives predicted positive.
    pub fpr: f64,
    /// Share of the predicted positives that are positive.
    pub precision: Option<f64>,
    pub threshold: f64,
}

/// Metrics of probabilities `p` for outcomes `y`, classifying `p ≥ threshold` as positive.
pub fn binary_metrics(y: &[bool], p: &[f64], threshold: f64) -> BinaryMetrics {
    let n = y.len();
    let (mut tp, mut fp, mut tn, mut fneg) = (0usize, 0usize, 0usize, 0usize);
    let mut brier = 0.0;
    let mut ll = 0.0;
    for (&yi, &pi) in y.iter().zip(p) {
        let pred = pi >= threshold;
        match (yi, pred) {
            (true, true) => tp += 1,
            (true, false) => fneg += 1,
            (false, true) => fp += 1,
            (false, false) => tn += 1,
        }
        let t = if yi { 1.0 } else { 0.0 };
        brier += (pi - t).powi(2);
        // Probabilities clipped as scikit-learn's log_loss does (machine epsilon).
        let q = pi.clamp(f64::EPSILON, 1.0 - f64::EPSILON);
        ll -= if yi { q.ln() } else { (1.0 - q).ln() };
    }
    let pos = tp + fneg;
    let neg = tn + fp;
    let ratio = |a: usize, b: usize| {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    };
    let tpr = ratio(tp, pos);
    let tnr = ratio(tn, neg);
    BinaryMetrics {
        n,
        positives: pos,
        accuracy: ratio(tp + tn, n),
        balanced_accuracy: (tpr + tnr) / 2.0,
        roc_auc: roc_auc(y, p),
        brier: brier / n.max(1) as f64,
        log_loss: ll / n.max(1) as f64,
        tpr,
        fpr: ratio(fp, neg),
        precision: (tp + fp > 0).then(|| tp as f64 / (tp + fp) as f64),
        threshold,
    }
}

/// Accuracy of always predicting the majority class.
pub fn majority_baseline(y: &[bool]) -> f64 {
    let pos = y.iter().filter(|&&v| v).count();
    pos.max(y.len() - pos) as f64 / y.len().max(1) as f64
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CalibrationBin {
    pub predicted: f64,
    pub observed: f64,
    pub n: usize,
}

/// Calibration in `bins` quantile bins of the predicted probability: edges at the quantiles
/// (linear interpolation, as numpy's percentile), a value on an inner edge goes to the upper
/// bin, empty bins dropped — the rule of scikit-learn's `calibration_curve(strategy="quantile")`.
pub fn calibration(y: &[bool], p: &[f64], bins: usize) -> Vec<CalibrationBin> {
    if y.is_empty() || bins == 0 {
        return Vec::new();
    }
    let mut sorted: Vec<f64> = p.to_vec();
    sorted.sort_by(f64::total_cmp);
    let quantile = |q: f64| -> f64 {
        let pos = q * (sorted.len() - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = pos.ceil() as usize;
        sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
    };
    let inner: Vec<f64> = (1..bins)
        .map(|b| quantile(b as f64 / bins as f64))
        .collect();
    let mut sum_p = vec![0.0; bins];
    let mut sum_y = vec![0.0; bins];
    let mut n = vec![0usize; bins];
    for (&yi, &pi) in y.iter().zip(p) {
        // searchsorted(inner, p, side="left"): the number of inner edges strictly below p.
        let b = inner.partition_point(|&e| e < pi);
        sum_p[b] += pi;
        sum_y[b] += if yi { 1.0 } else { 0.0 };
        n[b] += 1;
    }
    (0..bins)
        .filter(|&b| n[b] > 0)
        .map(|b| CalibrationBin {
            predicted: sum_p[b] / n[b] as f64,
            observed: sum_y[b] / n[b] as f64,
            n: n[b],
        })
        .collect()
}

/// Adjusted Rand index of two labelings (Hubert & Arabie 1985): 1 for identical partitions, 0
/// in expectation for random ones.
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    let n = a.len();
    let ka = a.iter().max().map_or(0, |m| m + 1);
    let kb = b.iter().max().map_or(0, |m| m + 1);
    let mut table = vec![0u64; ka * kb];
    for (&x, &y) in a.iter().zip(b) {
        table[x * kb + y] += 1;
    }
    let c2 = |v: u64| (v as f64) * (v as f64 - 1.0) / 2.0;
    let sum_cells: f64 = table.iter().map(|&v| c2(v)).sum();
    let sum_a: f64 = (0..ka)
        .map(|i| c2(table[i * kb..(i + 1) * kb].iter().sum()))
        .sum();
    let sum_b: f64 = (0..kb)
        .map(|j| c2((0..ka).map(|i| table[i * kb + j]).sum()))
        .sum();
    let total = c2(n as u64);
    if total == 0.0 {
        return 1.0;
    }
    let expected = sum_a * sum_b / total;
    let max = (sum_a + sum_b) / 2.0;
    if max == expected {
        return 1.0;
    }
    (sum_cells - expected) / (max - expected)
}

/// One group in the bias audit.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupAudit {
    /// The attribute (e.g. "geslacht").
    pub group: String,
    /// Its value (e.g. "V").
    pub value: String,
    pub n: usize,
    pub positives: usize,
    pub predicted_positive: usize,
    /// Share predicted positive.
    pub selection_rate: f64,
    pub tpr: Option<f64>,
    pub fpr: Option<f64>,
    /// Mean predicted probability and observed outcome rate (calibration in the large).
    pub mean_predicted: f64,
    pub observed: f64,
    pub reference: bool,
    pub selection_ratio: Option<Ratio>,
    pub tpr_ratio: Option<Ratio>,
    pub fpr_ratio: Option<Ratio>,
    /// Why this group is flagged (empty: not flagged).
    pub flags: Vec<String>,
}

/// A ratio of two proportions with its confidence interval.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Ratio {
    pub ratio: f64,
    pub ci: [f64; 2],
}

/// Ratio p1/p2 of proportions x1/n1 and x2/n2 with the Katz log interval:
/// var(ln RR) = (1 − p1)/x1 + (1 − p2)/x2. `None` when either count is zero.
pub fn proportion_ratio(x1: usize, n1: usize, x2: usize, n2: usize, level: f64) -> Option<Ratio> {
    if x1 == 0 || x2 == 0 || n1 == 0 || n2 == 0 {
        return None;
    }
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let rr = p1 / p2;
    let se = ((1.0 - p1) / x1 as f64 + (1.0 - p2) / x2 as f64).sqrt();
    let z = dist::norm_quantile(0.5 + level / 2.0);
    Some(Ratio {
        ratio: rr,
        ci: [rr * (-z * se).exp(), rr * (z * se).exp()],
    })
}

#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// A ratio below `bound` or above 1/`bound` is flagged (the four-fifths rule: 0.8).
    pub bound: f64,
    /// A group whose calibration gap (mean predicted − observed) differs from the overall gap by
    /// more than this is flagged. (A gap shared by everyone — drift between the training and the
    /// test period — is the model's, not a group's, and is reported once by the caller.)
    pub calibration_bound: f64,
    pub level: f64,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            bound: 0.8,
            calibration_bound: 0.05,
            level: 0.95,
        }
    }
}

/// Audits predictions per value of each attribute. The reference group of an attribute is its
/// largest group; ratios compare each group with it.
pub fn audit(
    y: &[bool],
    p: &[f64],
    threshold: f64,
    attributes: &[(String, Vec<String>)],
    opt: &AuditOptions,
) -> Vec<GroupAudit> {
    let mut out = Vec::new();
    let overall_gap = if y.is_empty() {
        0.0
    } else {
        (p.iter().sum::<f64>() - y.iter().filter(|&&v| v).count() as f64) / y.len() as f64
    };
    for (name, values) in attributes {
        let mut levels: Vec<&String> = values.iter().collect();
        levels.sort();
        levels.dedup();
        let mut rows: Vec<GroupAudit> = levels
            .iter()
            .map(|lvl| {
                let (mut n, mut pos, mut sel, mut tp, mut fp, mut sp, mut sy) =
                    (0usize, 0usize, 0usize, 0usize, 0usize, 0.0, 0.0);
                for i in 0..y.len() {
                    if &values[i] != *lvl {
                        continue;
                    }
                    n += 1;
                    let pred = p[i] >= threshold;
                    pos += usize::from(y[i]);
                    sel += usize::from(pred);
                    tp += usize::from(pred && y[i]);
                    fp += usize::from(pred && !y[i]);
                    sp += p[i];
                    sy += if y[i] { 1.0 } else { 0.0 };
                }
                let neg = n - pos;
                GroupAudit {
                    group: name.clone(),
                    value: (*lvl).clone(),
                    n,
                    positives: pos,
                    predicted_positive: sel,
                    selection_rate: sel as f64 / n as f64,
                    tpr: (pos > 0).then(|| tp as f64 / pos as f64),
                    fpr: (neg > 0).then(|| fp as f64 / neg as f64),
                    mean_predicted: sp / n as f64,
                    observed: sy / n as f64,
                    reference: false,
                    selection_ratio: None,
                    tpr_ratio: None,
                    fpr_ratio: None,
                    flags: Vec::new(),
                }
            })
            .collect();
        let Some(ref_i) = (0..rows.len()).max_by_key(|&i| (rows[i].n, std::cmp::Reverse(i))) else {
            continue;
        };
        rows[ref_i].reference = true;
        let r = rows[ref_i].clone();
        let tp_of = |g: &GroupAudit| (g.tpr.unwrap_or(0.0) * g.positives as f64).round() as usize;
        let fp_of =
            |g: &GroupAudit| (g.fpr.unwrap_or(0.0) * (g.n - g.positives) as f64).round() as usize;
        for g in rows.iter_mut() {
            if !g.reference {
                g.selection_ratio = proportion_ratio(
                    g.predicted_positive,
                    g.n,
                    r.predicted_positive,
                    r.n,
                    opt.level,
                );
                g.tpr_ratio =
                    proportion_ratio(tp_of(g), g.positives, tp_of(&r), r.positives, opt.level);
                g.fpr_ratio = proportion_ratio(
                    fp_of(g),
                    g.n - g.positives,
                    fp_of(&r),
                    r.n - r.positives,
                    opt.level,
                );
            }
            let outside = |x: &Option<Ratio>| {
                x.as_ref()
                    .is_some_and(|x| x.ratio < opt.bound || x.ratio > 1.0 / opt.bound)
            };
            let sure =
                |x: &Option<Ratio>| x.as_ref().is_some_and(|x| x.ci[0] > 1.0 || x.ci[1] < 1.0);
            for (what, x) in [
                ("selectiekans / selection rate", &g.selection_ratio),
                ("terecht-positief / true-positive rate", &g.tpr_ratio),
                ("vals-positief / false-positive rate", &g.fpr_ratio),
            ] {
                if outside(x) {
                    g.flags.push(format!(
                        "{what}: ratio {:.2} buiten [{:.2}, {:.2}]{}",
                        x.as_ref().map_or(f64::NAN, |x| x.ratio),
                        opt.bound,
                        1.0 / opt.bound,
                        if sure(x) {
                            " (betrouwbaar / CI excludes 1)"
                        } else {
                            " (onzeker / CI includes 1)"
                        }
                    ));
                }
            }
            let cal = g.mean_predicted - g.observed;
            if (cal - overall_gap).abs() > opt.calibration_bound {
                g.flags.push(format!(
                    "kalibratie / calibration: voorspeld {:.1}% tegen waargenomen {:.1}% (verschil {:+.1} punt, gemiddeld {:+.1})",
                    100.0 * g.mean_predicted,
                    100.0 * g.observed,
                    100.0 * cal,
                    100.0 * overall_gap
                ));
            }
        }
        out.extend(rows);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_with_ties() {
        let y = [false, false, true, true];
        assert_eq!(roc_auc(&y, &[0.1, 0.4, 0.35, 0.8]), Some(0.75));
        assert_eq!(roc_auc(&y, &[0.5, 0.5, 0.5, 0.5]), Some(0.5));
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), None);
    }

    #[test]
    fn ari_of_identical_and_relabelled_partitions_is_one() {
        let a = [0, 0, 1, 1, 2, 2];
        assert!((adjusted_rand_index(&a, &[2, 2, 0, 0, 1, 1]) - 1.0).abs() < 1e-12);
        assert!(adjusted_rand_index(&a, &[0, 1, 2, 0, 1, 2]) < 0.0);
    }

    #[test]
    fn audit_flags_a_group_selected_half_as_often() {
        let mut y = Vec::new();
        let mut p = Vec::new();
        let mut g = Vec::new();
        for i in 0..400 {
            let a = i < 200;
            y.push(i % 2 == 0);
            // Group a: 60% selected; group b: 30%.
            let sel = if a { i % 10 < 6 } else { i % 10 < 3 };
            p.push(if sel { 0.9 } else { 0.1 });
            g.push(if a { "a".to_string() } else { "b".to_string() });
        }
        let r = audit(
            &y,
            &p,
            0.5,
            &[("groep".into(), g)],
            &AuditOptions::default(),
        );
        let b = r.iter().find(|x| x.value == "b").unwrap();
        let ratio = b.selection_ratio.as_ref().unwrap();
        assert!((ratio.ratio - 0.5).abs() < 1e-12);
        assert!(ratio.ci[1] < 1.0);
        assert!(!b.flags.is_empty());
    }
}
