//! The k-sample log-rank test (Mantel 1966; Peto & Peto 1972), optionally stratified.
//!
//! At each distinct event time with n at risk and d events, group g has n_g at risk and o_g
//! events; its expected number is e_g = d·n_g/n, and the hypergeometric covariance is
//! V_gh = d (n − d) / (n² (n − 1)) · n_g (δ_gh n − n_h). Summed over times (and over strata for
//! the stratified test, which compares groups within strata only), the statistic is
//! (O − E)ᵀ V⁻ (O − E) on the first k − 1 groups, with k − 1 degrees of freedom (as R's
//! `survdiff` with ρ = 0).

use crate::{dist, err, linalg, StatsError};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogRank {
    pub statistic: f64,
    pub df: usize,
    pub p_value: f64,
    pub observed: Vec<f64>,
    pub expected: Vec<f64>,
}

/// `group[i]` in 0..k; `strata[i]` any labels (None: one stratum).
pub fn logrank(
    time: &[f64],
    event: &[bool],
    group: &[usize],
    n_groups: usize,
    strata: Option<&[usize]>,
) -> Result<LogRank, StatsError> {
    let n = time.len();
    if event.len() != n || group.len() != n || strata.is_some_and(|s| s.len() != n) {
        return err("time, event, group and strata must have the same length");
    }
    if n_groups < 2 {
        return err("the log-rank test needs at least two groups; the group column has one value");
    }
    if group.iter().any(|&g| g >= n_groups) {
        return err("group index out of range");
    }
    if let Some(i) = time.iter().position(|t| !t.is_finite() || *t < 0.0) {
        return err(format!("observation {}: time must be ≥ 0", i + 1));
    }
    let k = n_groups;
    let mut obs = vec![0.0; k];
    let mut exp = vec![0.0; k];
    let mut var = vec![0.0; k * k];
    let mut order: Vec<usize> = (0..n).collect();
    let stratum = |i: usize| strata.map_or(0, |s| s[i]);
    order.sort_by(|&a, &b| {
        stratum(a)
            .cmp(&stratum(b))
            .then(time[a].total_cmp(&time[b]))
    });
    let mut start = 0;
    while start < n {
        let s = stratum(order[start]);
        let mut end = start;
        while end < n && stratum(order[end]) == s {
            end += 1;
        }
        let rows = &order[start..end];
        let mut at_risk = vec![0.0; k];
        for &i in rows {
            at_risk[group[i]] += 1.0;
        }
        let mut i = 0;
        while i < rows.len() {
            let t = time[rows[i]];
            let mut d_g = vec![0.0; k];
            let mut leave_g = vec![0.0; k];
            while i < rows.len() && time[rows[i]] == t {
                let r = rows[i];
                if event[r] {
                    d_g[group[r]] += 1.0;
                }
                leave_g[group[r]] += 1.0;
                i += 1;
            }
            let d: f64 = d_g.iter().sum();
            let nt: f64 = at_risk.iter().sum();
            if d > 0.0 {
                for g in 0..k {
                    obs[g] += d_g[g];
                    exp[g] += d * at_risk[g] / nt;
                }
                if nt > 1.0 {
                    let f = d * (nt - d) / (nt * nt * (nt - 1.0));
                    for g in 0..k {
                        for h in 0..k {
                            let delta = if g == h { nt } else { 0.0 };
                            var[g * k + h] += f * at_risk[g] * (delta - at_risk[h]);
                        }
                    }
                }
            }
            for g in 0..k {
                at_risk[g] -= leave_g[g];
            }
        }
        start = end;
    }
    // Use the groups with a non-zero variance (a group without anyone at risk at any event time
    // carries no information), dropping one to make V invertible.
    let used: Vec<usize> = (0..k).filter(|&g| var[g * k + g] > 0.0).collect();
    if used.len() < 2 {
        return err(
            "the log-rank test needs events while at least two groups are at risk; there are none",
        );
    }
    let m = used.len() - 1;
    let mut v = vec![0.0; m * m];
    let mut diff = vec![0.0; m];
    for (a, &g) in used[..m].iter().enumerate() {
        diff[a] = obs[g] - exp[g];
        for (b, &h) in used[..m].iter().enumerate() {
            v[a * m + b] = var[g * k + h];
        }
    }
    let Some(stat) = linalg::quad_form_inv(&v, m, &diff) else {
        return err("the log-rank variance matrix is singular");
    };
    Ok(LogRank {
        statistic: stat,
        df: m,
        p_value: dist::chisq_sf(stat, m as f64),
        observed: obs,
        expected: exp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_identical_groups_give_zero() {
        let t = [1.0, 2.0, 3.0, 1.0, 2.0, 3.0];
        let e = [true; 6];
        let g = [0, 0, 0, 1, 1, 1];
        let r = logrank(&t, &e, &g, 2, None).unwrap();
        assert!(r.statistic.abs() < 1e-12);
        assert!((r.p_value - 1.0).abs() < 1e-12);
        assert!(logrank(&t, &e, &g, 1, None).is_err());
    }
}
