//! Kaplan–Meier estimator (Kaplan & Meier 1958) with Greenwood's variance (Greenwood 1926).
//!
//! At each distinct event time tⱼ with nⱼ at risk (time ≥ tⱼ) and dⱼ events,
//! S(t) = Π_{tⱼ ≤ t} (1 − dⱼ/nⱼ). The reported `std_err` is that of the cumulative hazard
//! −log S, as R's `survfit` reports it: σ(t) = √Σ dⱼ / (nⱼ (nⱼ − dⱼ)) (weighted counts when
//! case weights are given). Confidence limits at level 1 − α, z = Φ⁻¹(1 − α/2):
//! - `log` (the default, as in R): S·exp(±zσ), upper limit at most 1;
//! - `log-log`: exp(−exp(log(−log S) ∓ zσ/|log S|)) (Kalbfleisch & Prentice 1980);
//! - `plain`: S ± zσS, truncated to [0, 1].
//!
//! Where S = 0 (everyone left) the log and log-log limits are undefined and reported as `None`.
//! The median is the first event time where S ≤ ½; where S equals ½ exactly on an interval,
//! the midpoint of that interval (R's `quantile.survfit` rule, with its tolerance √ε). Its
//! confidence limits are the same quantile of the lower and upper curves (Brookmeyer &
//! Crowley 1982).

use crate::{dist, err, StatsError};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CiMethod {
    #[default]
    Log,
    LogLog,
    Plain,
}

impl CiMethod {
    pub fn parse(s: &str) -> Result<Self, StatsError> {
        match s {
            "log" => Ok(CiMethod::Log),
            "log-log" | "loglog" => Ok(CiMethod::LogLog),
            "plain" | "linear" => Ok(CiMethod::Plain),
            other => err(format!(
                "unknown confidence-interval method '{other}': use log, log-log or plain"
            )),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            CiMethod::Log => "log",
            CiMethod::LogLog => "log-log",
            CiMethod::Plain => "plain",
        }
    }
}

/// One Kaplan–Meier curve: one entry per distinct event time.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KmCurve {
    pub times: Vec<f64>,
    pub survival: Vec<f64>,
    /// Standard error of the cumulative hazard (Greenwood), as R's `std.err`.
    pub std_err: Vec<Option<f64>>,
    pub ci_lower: Vec<Option<f64>>,
    pub ci_upper: Vec<Option<f64>>,
    pub at_risk: Vec<f64>,
    pub events: Vec<f64>,
    pub n: f64,
    pub total_events: f64,
    pub median: Option<f64>,
    pub median_lower: Option<f64>,
    pub median_upper: Option<f64>,
}

/// Kaplan–Meier on right-censored data. `weights` are case weights (1 when `None`).
pub fn kaplan_meier(
    time: &[f64],
    event: &[bool],
    weights: Option<&[f64]>,
    method: CiMethod,
    conf_level: f64,
) -> Result<KmCurve, StatsError> {
    if time.len() != event.len() || weights.is_some_and(|w| w.len() != time.len()) {
        return err("time, event and weights must have the same length");
    }
    if time.is_empty() {
        return err("no observations: the data (or this group) is empty");
    }
    if !(0.0 < conf_level && conf_level < 1.0) {
        return err("the confidence level must lie between 0 and 1");
    }
    for (i, t) in time.iter().enumerate() {
        if !t.is_finite() || *t < 0.0 {
            return err(format!(
                "observation {}: time {t} is negative or not a number; times must be ≥ 0",
                i + 1
            ));
        }
    }
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    let mut order: Vec<usize> = (0..time.len()).collect();
    order.sort_by(|&a, &b| time[a].total_cmp(&time[b]));
    let n_total: f64 = (0..time.len()).map(w).sum();
    let z = dist::norm_quantile(1.0 - (1.0 - conf_level) / 2.0);

    let mut out = KmCurve {
        times: vec![],
        survival: vec![],
        std_err: vec![],
        ci_lower: vec![],
        ci_upper: vec![],
        at_risk: vec![],
        events: vec![],
        n: n_total,
        total_events: 0.0,
        median: None,
        median_lower: None,
        median_upper: None,
    };
    let mut at_risk = n_total;
    let mut surv = 1.0;
    let mut greenwood = 0.0;
    let mut i = 0;
    while i < order.len() {
        let t = time[order[i]];
        let mut d = 0.0;
        let mut leaving = 0.0;
        while i < order.len() && time[order[i]] == t {
            let wi = w(order[i]);
            if event[order[i]] {
                d += wi;
            }
            leaving += wi;
            i += 1;
        }
        if d > 0.0 {
            surv *= 1.0 - d / at_risk;
            let se = if at_risk > d {
                greenwood += d / (at_risk * (at_risk - d));
                Some(greenwood.sqrt())
            } else {
                greenwood = f64::INFINITY;
                None
            };
            let (lo, hi) = limits(surv, se, z, method);
            out.times.push(t);
            out.survival.push(surv);
            out.std_err.push(se);
            out.ci_lower.push(lo);
            out.ci_upper.push(hi);
            out.at_risk.push(at_risk);
            out.events.push(d);
            out.total_events += d;
        }
        at_risk -= leaving;
    }
    out.median = quantile(
        &out.times,
        &out.survival.iter().map(|&s| Some(s)).collect::<Vec<_>>(),
        0.5,
    );
    out.median_lower = quantile(&out.times, &out.ci_lower, 0.5);
    out.median_upper = quantile(&out.times, &out.ci_upper, 0.5);
    Ok(out)
}

/// Confidence limits of S given the standard error of the cumulative hazard.
pub fn limits(surv: f64, se: Option<f64>, z: f64, method: CiMethod) -> (Option<f64>, Option<f64>) {
    let Some(se) = se else {
        return match method {
            CiMethod::Plain if surv == 0.0 => (Some(0.0), Some(0.0)),
            _ => (None, None),
        };
    };
    match method {
        CiMethod::Log => {
            if surv <= 0.0 {
                return (None, None);
            }
            let f = (z * se).exp();
            (Some(surv / f), Some((surv * f).min(1.0)))
        }
        CiMethod::LogLog => {
            if surv <= 0.0 || surv >= 1.0 {
                return (None, None);
            }
            let ll = (-surv.ln()).ln();
            let half = z * se / surv.ln().abs();
            (
                Some((-(ll + half).exp()).exp()),
                Some((-(ll - half).exp()).exp()),
            )
        }
        CiMethod::Plain => {
            let h = z * se * surv;
            (Some((surv - h).max(0.0)), Some((surv + h).min(1.0)))
        }
    }
}

/// The p-quantile of survival time from a step curve given at its event times: the first time
/// the curve is ≤ 1 − p; the midpoint to the next drop when it equals 1 − p exactly (R's rule).
/// Points where the curve is undefined (`None`) are skipped, as R skips `NA`.
pub fn quantile(times: &[f64], curve: &[Option<f64>], p: f64) -> Option<f64> {
    let target = 1.0 - p;
    let tol = f64::EPSILON.sqrt();
    // Keep the first time of each distinct value (a flat curve does not move the quantile).
    let mut pts: Vec<(f64, f64)> = Vec::new();
    for (t, s) in times.iter().zip(curve) {
        if let Some(s) = s {
            if pts.last().is_none_or(|&(_, last)| last != *s) {
                pts.push((*t, *s));
            }
        }
    }
    let first = pts.iter().position(|&(_, s)| s <= target + tol)?;
    let (t0, s0) = pts[first];
    if (s0 - target).abs() < tol {
        if let Some(&(t1, _)) = pts[first + 1..].iter().find(|&&(_, s)| s < s0) {
            return Some((t0 + t1) / 2.0);
        }
    }
    Some(t0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_example() {
        // Times 1, 2+, 3, 3, 4+, 5: S(1) = 5/6, S(3) = 5/6 · (1 − 2/4) = 5/12, S(5) = 0.
        let t = [1.0, 2.0, 3.0, 3.0, 4.0, 5.0];
        let e = [true, false, true, true, false, true];
        let km = kaplan_meier(&t, &e, None, CiMethod::Log, 0.95).unwrap();
        assert_eq!(km.times, vec![1.0, 3.0, 5.0]);
        assert_eq!(km.at_risk, vec![6.0, 4.0, 1.0]);
        assert!((km.survival[1] - 5.0 / 12.0).abs() < 1e-15);
        assert_eq!(km.survival[2], 0.0);
        assert_eq!(km.median, Some(3.0));
        let g = (1.0f64 / (6.0 * 5.0) + 2.0 / (4.0 * 2.0)).sqrt();
        assert!((km.std_err[1].unwrap() - g).abs() < 1e-15);
        assert_eq!(km.ci_lower[2], None);
    }

    #[test]
    fn median_on_a_flat_half() {
        // S = 0.5 exactly between t = 2 and t = 4: the median is 3.
        let t = [1.0, 2.0, 4.0, 5.0];
        let e = [false, true, true, true];
        let km = kaplan_meier(
            &[1.0, 2.0, 4.0, 5.0],
            &[true, true, true, true],
            None,
            CiMethod::Log,
            0.95,
        )
        .unwrap();
        assert_eq!(km.median, Some(3.0));
        let km2 = kaplan_meier(&t, &e, None, CiMethod::Log, 0.95).unwrap();
        assert!(km2.median.is_some());
    }

    #[test]
    fn negative_time_is_an_error() {
        assert!(kaplan_meier(&[1.0, -1.0], &[true, true], None, CiMethod::Log, 0.95).is_err());
    }
}
