//! Survival and cumulative-incidence curves from the store, on a monthly grid.
//!
//! At-risk and event counts go through the count rules: a step whose events rest on fewer than
//! the threshold of persons is pooled with the next steps until the pooled events reach the
//! threshold; the curve ends where fewer than the threshold are at risk (and drops an unfinished
//! last pool). Each pooled interval (t₀, t₁] contributes the factor 1 − d′/n′ of the protected
//! events d′ over the protected number at risk n′ at t₀ — the life-table form of Kaplan–Meier
//! (Kaplan & Meier 1958; for one-month steps without pooling it is exactly KM on the monthly
//! grid). Event sets of different months are disjoint (a person leaves once per spell), so the
//! record-key sums of pooled events add.

use crate::{combine_key_sums, CellInput, Protector};
use serde::Serialize;

/// One month of the grid, on the true data.
#[derive(Debug, Clone, Copy)]
pub struct StepInput {
    /// Months since the origin (spell start, or start of a provision).
    pub time: u32,
    /// Persons at risk at the start of the month.
    pub at_risk: CellInput,
    /// Persons with the event in the month.
    pub events: CellInput,
}

/// One shown interval (from, to] of the protected curve.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct CurveStep {
    pub from: u32,
    pub to: u32,
    pub at_risk: f64,
    pub events: f64,
    /// Survival (share without the event) at `to`.
    pub survival: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProtectedCurve {
    pub steps: Vec<CurveStep>,
    /// The last month the curve is shown for.
    pub ends_at: Option<u32>,
    /// Months of the grid merged into a longer interval.
    pub pooled_months: usize,
    /// Why the curve stops where it does.
    pub end_reason: &'static str,
}

pub fn protect(p: &Protector, steps: &[StepInput]) -> ProtectedCurve {
    let threshold = p.threshold();
    let mut out = Vec::new();
    let mut survival = 1.0;
    let mut pooled_months = 0;
    let mut end_reason = "einde van de gegevens / end of data";
    let mut i = 0;
    while i < steps.len() {
        let start = steps[i];
        if start.at_risk.persons < threshold {
            end_reason =
                "minder personen at risk dan de drempel / fewer at risk than the threshold";
            break;
        }
        let mut events = CellInput::default();
        let mut j = i;
        let mut closed = false;
        while j < steps.len() && steps[j].at_risk.persons >= threshold {
            events.persons += steps[j].events.persons;
            events.key_sum = combine_key_sums(events.key_sum, steps[j].events.key_sum);
            j += 1;
            if !p.is_protected() || events.persons >= threshold {
                closed = true;
                break;
            }
        }
        if !closed {
            // The open pool never reached the threshold: the curve stops before it.
            if j < steps.len() {
                end_reason =
                    "minder personen at risk dan de drempel / fewer at risk than the threshold";
            } else if events.persons > 0 {
                end_reason = "te weinig gebeurtenissen aan het eind / too few events at the end";
            }
            break;
        }
        let n = p.count(&start.at_risk).value.unwrap_or(0.0);
        let d = p.count(&events).value.unwrap_or(0.0);
        if n <= 0.0 {
            break;
        }
        survival *= 1.0 - (d / n).min(1.0);
        pooled_months += j - i - 1;
        out.push(CurveStep {
            from: start.time,
            to: steps[j - 1].time + 1,
            at_risk: n,
            events: d,
            survival,
        });
        i = j;
    }
    ProtectedCurve {
        ends_at: out.last().map(|s| s.to),
        steps: out,
        pooled_months,
        end_reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    fn c(persons: u64, key_sum: u64) -> CellInput {
        CellInput {
            persons,
            key_sum,
            magnitude: None,
        }
    }

    fn steps(at_risk: &[u64], events: &[u64]) -> Vec<StepInput> {
        at_risk
            .iter()
            .zip(events)
            .enumerate()
            .map(|(t, (&n, &d))| StepInput {
                time: t as u32,
                at_risk: c(n, n * 7_919 + t as u64),
                events: c(d, d * 104_729 + t as u64),
            })
            .collect()
    }

    #[test]
    fn sparse_months_are_pooled_and_the_curve_ends_below_threshold() {
        let p = Protector::new(Policy::default()).unwrap();
        let s = steps(
            &[100, 96, 90, 70, 40, 20, 12, 9, 5],
            &[4, 6, 20, 30, 20, 8, 3, 4, 5],
        );
        let curve = protect(&p, &s);
        // 4 + 6 = 10 pooled into one interval (0, 2].
        assert_eq!(curve.steps[0].from, 0);
        assert_eq!(curve.steps[0].to, 2);
        assert_eq!(curve.pooled_months, 1 + 1);
        for st in &curve.steps {
            assert!(st.at_risk >= 10.0 && st.events >= 10.0, "{st:?}");
        }
        // At month 7 fewer than 10 are at risk: no interval reaches beyond it.
        assert!(curve.ends_at.unwrap() <= 7);
        let surv: Vec<f64> = curve.steps.iter().map(|s| s.survival).collect();
        assert!(surv.windows(2).all(|w| w[1] <= w[0]));
    }

    #[test]
    fn unprotected_curve_is_exact_monthly_kaplan_meier() {
        let p = Protector::unprotected();
        let s = steps(&[10, 8, 4], &[2, 4, 1]);
        let curve = protect(&p, &s);
        assert_eq!(curve.steps.len(), 3);
        let expected = (1.0 - 0.2) * (1.0 - 0.5) * (1.0 - 0.25);
        assert!((curve.steps[2].survival - expected).abs() < 1e-12);
    }
}
