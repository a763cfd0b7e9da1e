//! Disclosure control: the layer every aggregate passes on its way to a user (CLI output on
//! store data, the web tool, exports, reports). See docs/protection.md.
//!
//! Rules (shared/domain.md §8; ABS TableBuilder; R packages `cellKey` and `ptable`):
//! - a number is shown only when at least `threshold` distinct persons lie behind it, counted on
//!   the true data;
//! - every shown count is perturbed with the cell-key method — a cell's key is the sum of its
//!   persons' record keys modulo 1 (each person once), mapped through a perturbation table to
//!   noise — and is never shown below the threshold;
//! - magnitudes (sums, means) get noise scaled to the cell's largest contribution and a
//!   dominance rule;
//! - curves, groups (tree leaves, cluster profiles) and matching/model results have their own
//!   rules in [`curve`] and [`Protector::require_groups`].
//!
//! Record keys live beside the key file, never in the ADS: holding the ADS does not let anyone
//! strip the noise. This crate does no I/O on data; it receives true counts and cell-key sums.
//!
//! **Architecture invariant:** the `protection` metadata of a result says which policy and
//! parameters were used and how many cells were suppressed — never which cells were perturbed or
//! by how much.

pub mod curve;
pub mod policy;
pub mod ptable;
pub mod querylog;

pub use policy::Policy;
use ptable::PTable;
use serde::Serialize;

/// Record keys are 63-bit integers; a cell key uses their sum modulo 2³² (exact, independent of
/// order), divided by 2³² — the "sum of record keys modulo 1" of the cell-key method.
pub const CELL_KEY_MODULUS: u64 = 1 << 32;

/// What lies behind one cell, on the true data.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CellInput {
    /// Distinct persons behind the cell.
    pub persons: u64,
    /// Σ record keys of those persons, modulo 2³².
    pub key_sum: u64,
    /// For magnitude cells: the true total and the two largest per-person contributions
    /// (in absolute value).
    pub magnitude: Option<Magnitude>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Magnitude {
    pub total: f64,
    pub largest: f64,
    pub second: f64,
}

impl CellInput {
    pub fn cell_key(&self) -> f64 {
        (self.key_sum % CELL_KEY_MODULUS) as f64 / CELL_KEY_MODULUS as f64
    }
}

/// Combines the record-key sums of disjoint sets (for pooled cells).
pub fn combine_key_sums(a: u64, b: u64) -> u64 {
    (a + b) % CELL_KEY_MODULUS
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flag {
    /// Shown after protection (perturbed).
    Protected,
    /// Hidden: fewer persons than the threshold, or a dominance rule.
    Suppressed,
    /// Exact: the output is unprotected (`--sdc off` on public, non-store data).
    Unprotected,
}

/// A value as it may be shown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Shown {
    pub value: Option<f64>,
    pub flag: Flag,
}

impl Shown {
    fn suppressed() -> Self {
        Shown {
            value: None,
            flag: Flag::Suppressed,
        }
    }
}

/// Why a result could not be shown at all.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Applies a policy. `Protector::unprotected()` is for public data given with `--data` and
/// `--sdc off` only; store data is always protected (the callers refuse `--sdc off` there).
#[derive(Debug, Clone)]
pub struct Protector {
    mode: Mode,
}

#[derive(Debug, Clone)]
enum Mode {
    Protected { policy: Policy, table: PTable },
    Unprotected,
}

impl Protector {
    pub fn new(policy: Policy) -> Result<Self, String> {
        policy.validate()?;
        let table = PTable::new(policy.threshold, policy.max_noise, policy.variance)?;
        Ok(Protector {
            mode: Mode::Protected { policy, table },
        })
    }

    pub fn unprotected() -> Self {
        Protector {
            mode: Mode::Unprotected,
        }
    }

    pub fn is_protected(&self) -> bool {
        matches!(self.mode, Mode::Protected { .. })
    }

    pub fn policy(&self) -> Option<&Policy> {
        match &self.mode {
            Mode::Protected { policy, .. } => Some(policy),
            Mode::Unprotected => None,
        }
    }

    /// The minimum number of persons behind anything shown (1 when unprotected).
    pub fn threshold(&self) -> u64 {
        self.policy().map_or(1, |p| p.threshold)
    }

    /// A count of distinct persons.
    pub fn count(&self, c: &CellInput) -> Shown {
        match &self.mode {
            Mode::Unprotected => Shown {
                value: Some(c.persons as f64),
                flag: Flag::Unprotected,
            },
            Mode::Protected { policy, table } => {
                if c.persons < policy.threshold {
                    Shown::suppressed()
                } else {
                    Shown {
                        value: Some(table.perturb(c.persons, c.cell_key()) as f64),
                        flag: Flag::Protected,
                    }
                }
            }
        }
    }

    /// True when the dominance rule (n, k) hides a magnitude: the `n` largest contributions make
    /// up more than k of the total (Hundepool et al. 2012, *Statistical Disclosure Control*,
    /// §4.2.2; n ≤ 2 here).
    fn dominated(policy: &Policy, m: &Magnitude) -> bool {
        let total = m.total.abs();
        if total == 0.0 {
            return false;
        }
        let top = match policy.dominance_n {
            0 => return false,
            1 => m.largest.abs(),
            _ => m.largest.abs() + m.second.abs(),
        };
        top > policy.dominance_k * total
    }

    /// Noise for a magnitude: `m · x₁ · z`, with x₁ the largest contribution and z ∈ [−1, 1)
    /// taken from the cell key's lower bits (ABS: perturbation proportional to the top
    /// contributors, Thompson et al. 2013 §4). Same persons, same cell key, same noise.
    fn magnitude_noise(policy: &Policy, c: &CellInput, m: &Magnitude) -> f64 {
        let lower = (c.cell_key() * 65_536.0).fract();
        policy.magnitude_noise * m.largest.abs() * (2.0 * lower - 1.0)
    }

    /// A sum (of a numeric variable, or person-months): threshold on persons, dominance rule,
    /// noise scaled to the largest contribution.
    pub fn sum(&self, c: &CellInput) -> Shown {
        let Some(m) = c.magnitude else {
            return Shown::suppressed();
        };
        match &self.mode {
            Mode::Unprotected => Shown {
                value: Some(m.total),
                flag: Flag::Unprotected,
            },
            Mode::Protected { policy, .. } => {
                if c.persons < policy.threshold || Self::dominated(policy, &m) {
                    Shown::suppressed()
                } else {
                    Shown {
                        value: Some(m.total + Self::magnitude_noise(policy, c, &m)),
                        flag: Flag::Protected,
                    }
                }
            }
        }
    }

    /// A count of records (person-months): like a sum whose contributions are each person's
    /// number of records; shown as a whole number, never below the threshold.
    pub fn record_count(&self, c: &CellInput) -> Shown {
        let s = self.sum(c);
        match (s.flag, s.value) {
            (Flag::Protected, Some(v)) => Shown {
                value: Some(v.round().max(self.threshold() as f64)),
                flag: Flag::Protected,
            },
            _ => s,
        }
    }

    /// A mean: the protected sum divided by the protected number of contributing records
    /// (`records` holds the count of records behind the cell as a magnitude).
    pub fn mean(&self, sum: &CellInput, records: &CellInput) -> Shown {
        let s = self.sum(sum);
        let n = self.record_count(records);
        match (s.value, n.value) {
            (Some(s_v), Some(n_v)) if n_v > 0.0 => Shown {
                value: Some(s_v / n_v),
                flag: s.flag,
            },
            _ => Shown::suppressed(),
        }
    }

    /// A share `numerator / denominator` of persons (for instance outflow within a tree leaf):
    /// both counts protected; hidden when either is.
    pub fn share(&self, numerator: &CellInput, denominator: &CellInput) -> Shown {
        let d = self.count(denominator);
        let Some(dv) = d.value else {
            return Shown::suppressed();
        };
        // Under protection a numerator below the threshold hides the share, and so does a
        // complement below the threshold: "all" or "almost all" of a group is an attribute
        // disclosure about each of its members (group disclosure).
        let complement = denominator.persons.saturating_sub(numerator.persons);
        if self.is_protected() && complement < self.threshold() {
            return Shown::suppressed();
        }
        let n = self.count(numerator);
        match n.value {
            Some(nv) => Shown {
                value: Some((nv / dv).min(1.0)),
                flag: n.flag,
            },
            None => Shown::suppressed(),
        }
    }

    /// Matching and model results, tree leaves and cluster profiles need at least the threshold
    /// of persons in each group (treated and controls; each leaf; each cluster).
    pub fn require_groups(&self, groups: &[(&str, u64)]) -> Result<(), Refusal> {
        let t = self.threshold();
        let small: Vec<String> = groups
            .iter()
            .filter(|(_, n)| *n < t)
            .map(|(name, _)| name.to_string())
            .collect();
        if small.is_empty() {
            Ok(())
        } else {
            Err(Refusal(format!(
                "fewer than {t} persons in: {} — the result is not shown (disclosure control); widen the target group",
                small.join(", ")
            )))
        }
    }

    /// The `protection` block of a result.
    pub fn metadata(&self, cells_total: usize, cells_suppressed: usize) -> serde_json::Value {
        match &self.mode {
            Mode::Unprotected => serde_json::json!({
                "status": "unprotected",
                "note": "Onbeschermd: exacte cijfers op openbare gegevens (--sdc off). / Unprotected: exact numbers on public data.",
                "cells_total": cells_total,
            }),
            Mode::Protected { policy, .. } => serde_json::json!({
                "status": "protected",
                "policy": policy.name,
                "threshold": policy.threshold,
                "method": "cell-key",
                "parameters": {
                    "max_noise": policy.max_noise,
                    "variance": policy.variance,
                    "dominance_n": policy.dominance_n,
                    "dominance_k": policy.dominance_k,
                    "magnitude_noise": policy.magnitude_noise,
                },
                "cells_total": cells_total,
                "cells_suppressed": cells_suppressed,
                "note": "Cellen met minder dan de drempel aan personen zijn onderdrukt; getoonde aantallen zijn verstoord (cell-key). Totalen zijn apart beschermd en zijn niet gelijk aan de som van de cellen. / Cells below the threshold are suppressed; shown counts are perturbed. Totals are protected separately and need not equal the sum of the cells.",
            }),
        }
    }
}

/// The common envelope of every JSON result: the result's own fields plus `protection` and
/// `meta` (version, snapshot, parameters).
pub fn envelope(
    mut result: serde_json::Map<String, serde_json::Value>,
    protection: serde_json::Value,
    snapshot: Option<&str>,
    params: serde_json::Value,
) -> serde_json::Value {
    result.insert("protection".into(), protection);
    result.insert(
        "meta".into(),
        serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "snapshot": snapshot,
            "params": params,
        }),
    );
    serde_json::Value::Object(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Protector {
        Protector::new(Policy::default()).unwrap()
    }

    fn cell(persons: u64, key_sum: u64) -> CellInput {
        CellInput {
            persons,
            key_sum,
            magnitude: None,
        }
    }

    #[test]
    fn small_counts_are_suppressed_and_shown_counts_never_below_threshold() {
        let p = p();
        for n in 0..10 {
            assert_eq!(p.count(&cell(n, 12345)).value, None);
        }
        for n in 10..200u64 {
            for k in 0..50u64 {
                let v = p.count(&cell(n, k * 85_899_345)).value.unwrap();
                assert!(v >= 10.0);
                assert!((v - n as f64).abs() <= 3.0);
            }
        }
    }

    #[test]
    fn same_persons_same_noise() {
        let p = p();
        let a = p.count(&cell(57, 987_654_321));
        let b = p.count(&cell(57, 987_654_321 + CELL_KEY_MODULUS * 3));
        assert_eq!(a, b);
    }

    #[test]
    fn dominance_hides_a_sum_carried_by_two_persons() {
        let p = p();
        let dominated = CellInput {
            persons: 20,
            key_sum: 1,
            magnitude: Some(Magnitude {
                total: 100.0,
                largest: 60.0,
                second: 30.0,
            }),
        };
        assert_eq!(p.sum(&dominated).value, None);
        let spread = CellInput {
            magnitude: Some(Magnitude {
                total: 100.0,
                largest: 8.0,
                second: 7.0,
            }),
            ..dominated
        };
        let v = p.sum(&spread).value.unwrap();
        assert!((v - 100.0).abs() <= 0.05 * 8.0 + 1e-9);
    }

    #[test]
    fn shares_hide_small_numerators_and_small_complements() {
        let p = p();
        assert_eq!(p.share(&cell(3, 1), &cell(100, 2)).value, None);
        assert_eq!(p.share(&cell(95, 1), &cell(100, 2)).value, None);
        assert!(p.share(&cell(40, 1), &cell(100, 2)).value.is_some());
        assert_eq!(p.share(&cell(0, 0), &cell(100, 2)).value, None);
        assert_eq!(p.share(&cell(100, 2), &cell(100, 2)).value, None);
    }

    #[test]
    fn groups_below_threshold_are_refused() {
        let p = p();
        assert!(p
            .require_groups(&[("behandeld", 12), ("controles", 40)])
            .is_ok());
        let e = p
            .require_groups(&[("behandeld", 9), ("controles", 40)])
            .unwrap_err();
        assert!(e.0.contains("behandeld"));
        assert!(Protector::unprotected()
            .require_groups(&[("behandeld", 1)])
            .is_ok());
    }

    #[test]
    fn unprotected_is_exact_and_says_so() {
        let u = Protector::unprotected();
        assert_eq!(u.count(&cell(3, 7)).value, Some(3.0));
        assert_eq!(u.metadata(1, 0)["status"], "unprotected");
    }
}
