//! Competing risks: the Aalen–Johansen estimator of the cumulative incidence of each cause
//! (Aalen & Johansen 1978), for one initial state ("on benefit") and K causes of leaving it.
//!
//! With n(s) at risk and d_k(s) events of cause k at time s, d(s) = Σ_k d_k(s), the overall
//! Kaplan–Meier S(s) = Π (1 − d/n), and the cumulative incidence
//!   F_k(t) = Σ_{s ≤ t} S(s−) d_k(s)/n(s).
//! Its variance is the infinitesimal jackknife (Efron 1982; the default of R `survival` ≥ 3 for
//! multi-state curves): Var F_k(t) = Σᵢ (wᵢ ∂F_k(t)/∂wᵢ)², with
//!   ∂F_k(t)/∂wᵢ = Σ_{s ≤ t} [ ∂S(s−)/∂wᵢ · λ_k(s) + S(s−) (dN_ik(s) − Yᵢ(s) λ_k(s)) / n(s) ],
//!   ∂S(s−)/∂wᵢ = −S(s−) Σ_{u < s} (dNᵢ(u) − Yᵢ(u) λ(u)) / (n(u) − d(u)),
//! where λ = d/n and λ_k = d_k/n. Observations with the same exit time and cause have the same
//! derivative, so the sum runs over those groups: O(groups × event times).

use crate::{err, StatsError};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CauseCurve {
    pub cause: usize,
    pub cif: Vec<f64>,
    pub std_err: Vec<f64>,
    pub events: Vec<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CumulativeIncidence {
    /// Distinct times at which any cause occurred.
    pub times: Vec<f64>,
    pub at_risk: Vec<f64>,
    /// Overall probability of still being in the initial state, S(t).
    pub survival: Vec<f64>,
    pub causes: Vec<CauseCurve>,
}

impl CumulativeIncidence {
    /// F_k at time t (the step function), 0 before the first event.
    pub fn cif_at(&self, cause_index: usize, t: f64) -> f64 {
        let j = self.times.partition_point(|&v| v <= t);
        if j == 0 {
            0.0
        } else {
            self.causes[cause_index].cif[j - 1]
        }
    }
    /// The standard error of F_k at time t.
    pub fn se_at(&self, cause_index: usize, t: f64) -> f64 {
        let j = self.times.partition_point(|&v| v <= t);
        if j == 0 {
            0.0
        } else {
            self.causes[cause_index].std_err[j - 1]
        }
    }
}

/// `cause[i]`: 0 = censored, 1..=k = the cause of the event. `weights`: case weights.
pub fn aalen_johansen(
    time: &[f64],
    cause: &[usize],
    n_causes: usize,
    weights: Option<&[f64]>,
) -> Result<CumulativeIncidence, StatsError> {
    let n = time.len();
    if cause.len() != n || weights.is_some_and(|w| w.len() != n) {
        return err("time, cause and weights must have the same length");
    }
    if n == 0 {
        return err("no observations");
    }
    if let Some(i) = time.iter().position(|t| !t.is_finite() || *t < 0.0) {
        return err(format!("observation {}: time must be a number ≥ 0", i + 1));
    }
    if let Some(i) = cause.iter().position(|&c| c > n_causes) {
        return err(format!(
            "observation {}: cause {} is out of range 0..={n_causes}",
            i + 1,
            cause[i]
        ));
    }
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    // Groups of identical (time, cause): their weight and squared weight.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| time[a].total_cmp(&time[b]).then(cause[a].cmp(&cause[b])));
    let mut groups: Vec<Group> = Vec::new();
    for &i in &order {
        match groups.last_mut() {
            Some(g) if g.time == time[i] && g.cause == cause[i] => {
                g.w += w(i);
                g.w2 += w(i) * w(i);
            }
            _ => groups.push(Group {
                time: time[i],
                cause: cause[i],
                w: w(i),
                w2: w(i) * w(i),
            }),
        }
    }
    Ok(from_groups(&groups, n_causes))
}

/// Observations with the same exit time and cause, with the sum of their weights and of their
/// squared weights (for unweighted data both are the count).
#[derive(Debug, Clone, Copy)]
pub struct Group {
    pub time: f64,
    pub cause: usize,
    pub w: f64,
    pub w2: f64,
}

/// The estimator on grouped data, sorted by time (counts per month, for instance).
pub fn from_groups(groups: &[Group], n_causes: usize) -> CumulativeIncidence {
    // Event times with n, d, d_k.
    let mut times = Vec::new();
    let mut at_risk_v = Vec::new();
    let mut d_tot = Vec::new();
    let mut d_k: Vec<Vec<f64>> = vec![Vec::new(); n_causes];
    let mut at_risk: f64 = groups.iter().map(|g| g.w).sum();
    let mut gi = 0;
    while gi < groups.len() {
        let t = groups[gi].time;
        let mut dk = vec![0.0; n_causes];
        let mut leaving = 0.0;
        while gi < groups.len() && groups[gi].time == t {
            if groups[gi].cause > 0 {
                dk[groups[gi].cause - 1] += groups[gi].w;
            }
            leaving += groups[gi].w;
            gi += 1;
        }
        let d: f64 = dk.iter().sum();
        if d > 0.0 {
            times.push(t);
            at_risk_v.push(at_risk);
            d_tot.push(d);
            for k in 0..n_causes {
                d_k[k].push(dk[k]);
            }
        }
        at_risk -= leaving;
    }
    let m = times.len();
    // Estimates.
    let mut surv = Vec::with_capacity(m);
    let mut cif = vec![vec![0.0; m]; n_causes];
    let mut s_prev = 1.0;
    for j in 0..m {
        for k in 0..n_causes {
            let before = if j == 0 { 0.0 } else { cif[k][j - 1] };
            cif[k][j] = before + s_prev * d_k[k][j] / at_risk_v[j];
        }
        s_prev *= 1.0 - d_tot[j] / at_risk_v[j];
        surv.push(s_prev);
    }
    // Infinitesimal-jackknife variance, group by group.
    let mut var = vec![vec![0.0; m]; n_causes];
    let mut deriv = vec![0.0; n_causes];
    for g in groups {
        let mut a = 0.0; // Σ_{u < s} (dN(u) − Y(u) λ(u)) / (n(u) − d(u))
        deriv.iter_mut().for_each(|v| *v = 0.0);
        let mut s_before = 1.0;
        for j in 0..m {
            let t = times[j];
            let y = if g.time >= t { 1.0 } else { 0.0 };
            let dn_any = if g.time == t && g.cause > 0 { 1.0 } else { 0.0 };
            let ds = -s_before * a;
            for k in 0..n_causes {
                let lam_k = d_k[k][j] / at_risk_v[j];
                let dn_k = if g.time == t && g.cause == k + 1 {
                    1.0
                } else {
                    0.0
                };
                deriv[k] += ds * lam_k + s_before * (dn_k - y * lam_k) / at_risk_v[j];
                var[k][j] += g.w2 * deriv[k] * deriv[k];
            }
            let lam = d_tot[j] / at_risk_v[j];
            if at_risk_v[j] > d_tot[j] {
                a += (dn_any - y * lam) / (at_risk_v[j] - d_tot[j]);
            }
            // After the group has left (Y = 0) its derivative still moves through S and λ_k.
            s_before = surv[j];
        }
    }
    let causes = (0..n_causes)
        .map(|k| CauseCurve {
            cause: k + 1,
            cif: cif[k].clone(),
            std_err: var[k].iter().map(|v| v.sqrt()).collect(),
            events: d_k[k].clone(),
        })
        .collect();
    CumulativeIncidence {
        times,
        at_risk: at_risk_v,
        survival: surv,
        causes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cause_is_one_minus_kaplan_meier() {
        let t = [1.0, 2.0, 3.0, 3.0, 4.0, 5.0];
        let c = [1, 0, 1, 1, 0, 1];
        let ci = aalen_johansen(&t, &c, 1, None).unwrap();
        let km = crate::km::kaplan_meier(
            &t,
            &c.iter().map(|&v| v == 1).collect::<Vec<_>>(),
            None,
            crate::km::CiMethod::Log,
            0.95,
        )
        .unwrap();
        for j in 0..ci.times.len() {
            assert!((ci.causes[0].cif[j] - (1.0 - km.survival[j])).abs() < 1e-15);
        }
    }

    #[test]
    fn causes_and_survival_add_to_one() {
        let t = [1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let c = [1, 2, 0, 1, 2, 1, 0, 2];
        let ci = aalen_johansen(&t, &c, 2, None).unwrap();
        for j in 0..ci.times.len() {
            let total = ci.causes[0].cif[j] + ci.causes[1].cif[j] + ci.survival[j];
            assert!((total - 1.0).abs() < 1e-14);
        }
        assert!(ci.causes[0].std_err.iter().all(|s| s.is_finite()));
    }
}
