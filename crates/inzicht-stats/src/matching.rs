//! Nearest-neighbour matching on the propensity score for the effect on the treated (ATT).
//!
//! The algorithm, stated exactly so that a reference script can reproduce it
//! (`tests/reference/matching/make_fixture.py`):
//! 1. Propensity score by maximum-likelihood logistic regression with an intercept; the distance
//!    between units is the absolute difference of the linear predictors (logits).
//! 2. Caliper c (optional): a control is eligible for a treated unit only within c standard
//!    deviations (sample SD, n − 1) of the logit over all units, treated and controls.
//! 3. Treated units are matched in descending order of the propensity score, ties by row order.
//! 4. With ratio k, matching runs in k rounds: in round r every treated unit that still lacks its
//!    r-th control takes the nearest eligible control; ties between controls go to the lowest row
//!    index, where distances within 1e-9 of the nearest count as ties. Without replacement a control is used once overall; with replacement any number of
//!    times, but never twice by the same treated unit. A treated unit without any control is left
//!    out (and counted).
//! 5. ATT = mean over matched treated of dᵢ = Yᵢ − mean(Y of its controls); SE =
//!    √(Σ(dᵢ − ATT)² / (N₁(N₁ − 1))), the paired-difference standard error. With replacement it
//!    ignores that a control serves several treated units and is then too small; the output says
//!    so. (On store data, effects get bootstrap intervals instead.)
//! 6. Balance: standardized mean differences with the treated units' standard deviation before
//!    matching as the denominator (MatchIt's default for the ATT), and variance ratios; after
//!    matching, controls are weighted by Σ 1/|Cᵢ| over the treated units that use them, with the
//!    reliability-weighted variance Σw(x − x̄)² / (Σw − Σw²/Σw).

use crate::{dist, err, logistic, StatsError};
use serde::Serialize;

#[derive(Debug, Clone, Copy)]
pub struct MatchOptions {
    pub caliper: Option<f64>,
    pub ratio: usize,
    pub replace: bool,
    pub conf_level: f64,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions {
            caliper: None,
            ratio: 1,
            replace: false,
            conf_level: 0.95,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Balance {
    pub name: String,
    pub smd_before: f64,
    pub smd_after: f64,
    pub vr_before: f64,
    pub vr_after: f64,
    /// For a 0/1 feature: the smallest number of units with a 1, or with a 0, among the treated
    /// or the (used) controls. Together, a standardized difference and a variance ratio give
    /// away both shares, so disclosure control hides the row when this is below the threshold.
    #[serde(skip)]
    pub smallest_binary_cell: Option<u64>,
}

/// The smallest count of 1s or 0s of a 0/1 column within the rows of each group with a positive
/// weight (None when the column is not 0/1).
pub fn smallest_binary_cell(
    values: impl Iterator<Item = (f64, usize)>,
    groups: usize,
) -> Option<u64> {
    let mut ones = vec![0u64; groups];
    let mut zeros = vec![0u64; groups];
    for (v, g) in values {
        if v == 1.0 {
            ones[g] += 1;
        } else if v == 0.0 {
            zeros[g] += 1;
        } else {
            return None;
        }
    }
    ones.into_iter().chain(zeros).min()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NamedCoef {
    pub name: String,
    pub coef: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MatchResult {
    pub att: f64,
    pub se: f64,
    pub ci: [f64; 2],
    pub n_treated: usize,
    pub n_treated_unmatched: usize,
    pub n_controls_used: usize,
    pub balance: Vec<Balance>,
    pub propensity_model: Vec<NamedCoef>,
    pub warnings: Vec<String>,
    /// Per row: the matching weight (1 for matched treated, Σ 1/|Cᵢ| for used controls, 0 else).
    #[serde(skip)]
    pub weights: Vec<f64>,
    /// Per matched treated row: its controls.
    #[serde(skip)]
    pub pairs: Vec<(usize, Vec<usize>)>,
}

/// Distances that differ by at most this much (in logit units) are ties, broken by row order:
/// exact ties occur (the logit is linear in age, so controls one year older and younger are at
/// the same distance) and rounding would otherwise split them differently in each program.
pub const TIE_TOL: f64 = 1e-9;

/// Matches on a given distance score (the logit of the propensity score). Returns, for each
/// matched treated row, its controls. `eligible(t, c)` restricts candidates (exact strata).
pub fn nearest_neighbour(
    score: &[f64],
    treated: &[bool],
    opt: &MatchOptions,
    eligible: impl Fn(usize, usize) -> bool,
) -> Vec<(usize, Vec<usize>)> {
    let n = score.len();
    let width = opt.caliper.map(|c| c * sample_sd(score));
    let mut t_rows: Vec<usize> = (0..n).filter(|&i| treated[i]).collect();
    // Descending propensity score (= descending logit), ties by row order (stable sort).
    t_rows.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    // Controls sorted by score for a nearest search by bisection.
    let mut c_rows: Vec<usize> = (0..n).filter(|&i| !treated[i]).collect();
    c_rows.sort_by(|&a, &b| score[a].total_cmp(&score[b]).then(a.cmp(&b)));
    let c_scores: Vec<f64> = c_rows.iter().map(|&i| score[i]).collect();
    let mut used = vec![false; c_rows.len()];
    let mut matches: Vec<Vec<usize>> = vec![Vec::new(); t_rows.len()];
    let mut open = vec![true; t_rows.len()];
    for round in 0..opt.ratio.max(1) {
        for (ti, &t) in t_rows.iter().enumerate() {
            if !open[ti] || matches[ti].len() < round {
                continue;
            }
            let s = score[t];
            let ok = |k: usize| {
                (opt.replace || !used[k])
                    && !matches[ti].contains(&c_rows[k])
                    && eligible(t, c_rows[k])
            };
            // Walk outwards from the insertion point collecting eligible controls up to the
            // nearest distance d* plus the tie tolerance; then the lowest row index among those
            // within d* + TIE_TOL wins.
            let pos = c_scores.partition_point(|&v| v < s);
            let mut cands: Vec<(f64, usize, usize)> = Vec::new();
            let mut nearest = f64::INFINITY;
            let mut consider = |k: usize, dist: f64| -> bool {
                if dist > nearest + TIE_TOL || width.is_some_and(|w| dist > w) {
                    return false;
                }
                if ok(k) {
                    nearest = nearest.min(dist);
                    cands.push((dist, c_rows[k], k));
                }
                true
            };
            let mut lo = pos;
            while lo > 0 {
                lo -= 1;
                if !consider(lo, s - c_scores[lo]) {
                    break;
                }
            }
            let mut hi = pos;
            while hi < c_rows.len() {
                if !consider(hi, c_scores[hi] - s) {
                    break;
                }
                hi += 1;
            }
            let best = cands
                .iter()
                .filter(|c| c.0 <= nearest + TIE_TOL)
                .min_by_key(|c| c.1)
                .copied();
            match best {
                Some((_, row, k)) => {
                    matches[ti].push(row);
                    used[k] = true;
                }
                None => open[ti] = false,
            }
        }
    }
    t_rows
        .into_iter()
        .zip(matches)
        .filter(|(_, m)| !m.is_empty())
        .collect()
}

fn sample_sd(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let m = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)).sqrt()
}

fn weighted_mean_var(v: &[f64], w: &[f64]) -> (f64, f64) {
    let sw: f64 = w.iter().sum();
    let sw2: f64 = w.iter().map(|x| x * x).sum();
    let m = v.iter().zip(w).map(|(x, w)| x * w).sum::<f64>() / sw;
    let ss: f64 = v.iter().zip(w).map(|(x, w)| w * (x - m) * (x - m)).sum();
    (m, ss / (sw - sw2 / sw))
}

/// Balance of covariates (n × p) between treated (weight `wt`) and controls (weight `wc`);
/// `sd_treated` is the denominator of the standardized difference.
pub fn balance_row(values: &[f64], treated: &[bool], weights: &[f64]) -> (f64, f64, f64, f64) {
    let (mut tv, mut tw, mut cv, mut cw) = (vec![], vec![], vec![], vec![]);
    for i in 0..values.len() {
        if weights[i] > 0.0 {
            if treated[i] {
                tv.push(values[i]);
                tw.push(weights[i]);
            } else {
                cv.push(values[i]);
                cw.push(weights[i]);
            }
        }
    }
    let (mt, vt) = weighted_mean_var(&tv, &tw);
    let (mc, vc) = weighted_mean_var(&cv, &cw);
    (mt, vt, mc, vc)
}

/// Standardized mean differences and variance ratios before and after matching.
pub fn balance(
    x: &[f64],
    names: &[String],
    treated: &[bool],
    weights_after: &[f64],
) -> Vec<Balance> {
    let n = treated.len();
    let p = names.len();
    let ones = vec![1.0; n];
    (0..p)
        .map(|j| {
            let col: Vec<f64> = (0..n).map(|i| x[i * p + j]).collect();
            let (mt, vt, mc, vc) = balance_row(&col, treated, &ones);
            let sd_t = vt.sqrt();
            let (mta, vta, mca, vca) = balance_row(&col, treated, weights_after);
            // Groups: treated, all controls, used controls.
            let cells = smallest_binary_cell(
                (0..n).flat_map(|i| {
                    let g = if treated[i] { 0 } else { 1 };
                    let used = (!treated[i] && weights_after[i] > 0.0).then_some((col[i], 2));
                    std::iter::once((col[i], g)).chain(used)
                }),
                3,
            );
            Balance {
                name: names[j].clone(),
                smd_before: (mt - mc) / sd_t,
                smd_after: (mta - mca) / sd_t,
                vr_before: vt / vc,
                vr_after: vta / vca,
                smallest_binary_cell: cells,
            }
        })
        .collect()
}

/// Propensity-score matching for the ATT on a data set in memory.
pub fn match_att(
    x: &[f64],
    names: &[String],
    treated: &[bool],
    outcome: &[f64],
    opt: &MatchOptions,
) -> Result<MatchResult, StatsError> {
    let n = treated.len();
    if outcome.len() != n {
        return err("treatment and outcome have different lengths");
    }
    if let Some(i) = outcome.iter().position(|v| !v.is_finite()) {
        return err(format!(
            "row {}: the outcome is missing or not a number",
            i + 1
        ));
    }
    if opt.ratio == 0 {
        return err("--ratio must be at least 1");
    }
    if opt.caliper.is_some_and(|c| c.is_nan() || c <= 0.0) {
        return err("--caliper must be a positive number of standard deviations");
    }
    let n_t = treated.iter().filter(|&&t| t).count();
    if n_t == 0 || n_t == n {
        return err(
            "matching needs treated and untreated units: the treatment column has one value",
        );
    }
    let ps = logistic::fit(x, treated, names, None)?;
    let p = names.len();
    let score: Vec<f64> = (0..n)
        .map(|i| ps.linear_predictor(&x[i * p..(i + 1) * p]))
        .collect();
    let pairs = nearest_neighbour(&score, treated, opt, |_, _| true);
    let mut weights = vec![0.0; n];
    let mut diffs = Vec::with_capacity(pairs.len());
    for (t, cs) in &pairs {
        weights[*t] = 1.0;
        let k = cs.len() as f64;
        let mut yc = 0.0;
        for &c in cs {
            weights[c] += 1.0 / k;
            yc += outcome[c] / k;
        }
        diffs.push(outcome[*t] - yc);
    }
    let n1 = diffs.len();
    if n1 < 2 {
        return err("fewer than two treated units found a control: widen the caliper");
    }
    let att = diffs.iter().sum::<f64>() / n1 as f64;
    let se = (diffs.iter().map(|d| (d - att) * (d - att)).sum::<f64>()
        / (n1 as f64 * (n1 as f64 - 1.0)))
        .sqrt();
    let z = dist::norm_quantile(1.0 - (1.0 - opt.conf_level) / 2.0);
    let mut warnings = ps.warnings.clone();
    if opt.replace {
        warnings.push(
            "with replacement the paired standard error ignores that controls are reused: it is too small"
                .to_string(),
        );
    }
    let unmatched = n_t - n1;
    if unmatched > 0 {
        warnings.push(format!(
            "{unmatched} treated units found no control within the caliper and are left out: the estimate is for the matched treated only"
        ));
    }
    Ok(MatchResult {
        att,
        se,
        ci: [att - z * se, att + z * se],
        n_treated: n_t,
        n_treated_unmatched: unmatched,
        n_controls_used: weights
            .iter()
            .zip(treated)
            .filter(|(w, t)| !**t && **w > 0.0)
            .count(),
        balance: balance(x, names, treated, &weights),
        propensity_model: ps
            .coefficients
            .iter()
            .map(|c| NamedCoef {
                name: c.name.clone(),
                coef: c.coef,
            })
            .collect(),
        warnings,
        weights,
        pairs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_with_ties_by_row_order() {
        // Treated at 0.5; controls at 0.4 (row 1) and 0.6 (row 2): equal distance, row 1 wins.
        let score = [0.5, 0.4, 0.6, 2.0];
        let treated = [true, false, false, false];
        let m = nearest_neighbour(&score, &treated, &MatchOptions::default(), |_, _| true);
        assert_eq!(m, vec![(0, vec![1])]);
        let caliper = MatchOptions {
            caliper: Some(0.01),
            ..Default::default()
        };
        assert!(nearest_neighbour(&score, &treated, &caliper, |_, _| true).is_empty());
    }

    #[test]
    fn smallest_binary_cell_counts_ones_and_zeros_per_group() {
        let v = [(1.0, 0), (0.0, 0), (0.0, 0), (1.0, 1), (1.0, 1), (0.0, 1)];
        assert_eq!(smallest_binary_cell(v.into_iter(), 2), Some(1));
        assert_eq!(smallest_binary_cell([(0.5, 0)].into_iter(), 1), None);
    }

    #[test]
    fn without_replacement_controls_are_used_once() {
        let score = [1.0, 0.9, 0.95, 0.0];
        let treated = [true, true, false, false];
        let m = nearest_neighbour(&score, &treated, &MatchOptions::default(), |_, _| true);
        // Highest score first: row 0 takes 2 (0.95); row 1 gets 3.
        assert_eq!(m, vec![(0, vec![2]), (1, vec![3])]);
    }
}
