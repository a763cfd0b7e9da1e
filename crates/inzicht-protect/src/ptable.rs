//! The perturbation table of the cell-key method: for an original count `n`, a distribution of
//! noise `e` on {−D, …, D} with mean 0 and variance V, such that `n + e` is never below the
//! threshold T.
//!
//! Each row is the maximum-entropy distribution under those constraints (Giessing 2016,
//! "Computational issues in the design of transition probabilities and disclosure risk
//! estimation for additive noise", PSD 2016; the R package `ptable` by sdcTools builds its
//! tables the same way). Maximum entropy under moment constraints is an exponential family:
//! p(e) ∝ exp(−λe² − μe). μ is solved so the mean is 0 and λ so the variance is V. For rows near
//! the threshold the support is cut at T − n; where a variance of V cannot be reached with mean
//! 0 on that support the row takes 90% of the largest reachable variance, and at n = T it is 0
//! (a row that must stay ≥ T with mean 0 cannot move up only).
//!
//! The lookup maps a cell key in [0, 1) to noise through the row's cumulative distribution:
//! the same cell key always gives the same noise (ABS TableBuilder; Thompson, Broadfoot &
//! Elazar 2013, "Methodology for the automatic confidentialisation of statistical outputs from
//! remote servers at the Australian Bureau of Statistics").

/// One row: noise values and their cumulative probabilities.
#[derive(Debug, Clone)]
pub struct Row {
    pub noise: Vec<i64>,
    pub prob: Vec<f64>,
    cumulative: Vec<f64>,
}

impl Row {
    pub fn mean(&self) -> f64 {
        self.noise
            .iter()
            .zip(&self.prob)
            .map(|(e, p)| *e as f64 * p)
            .sum()
    }
    pub fn variance(&self) -> f64 {
        let m = self.mean();
        self.noise
            .iter()
            .zip(&self.prob)
            .map(|(e, p)| (*e as f64 - m).powi(2) * p)
            .sum()
    }
    fn lookup(&self, cell_key: f64) -> i64 {
        for (e, c) in self.noise.iter().zip(&self.cumulative) {
            if cell_key < *c {
                return *e;
            }
        }
        *self.noise.last().unwrap_or(&0)
    }
}

/// The whole table: rows for n = T … T + D − 1 and one row for every n ≥ T + D.
#[derive(Debug, Clone)]
pub struct PTable {
    pub threshold: u64,
    pub max_noise: u64,
    pub variance: f64,
    rows: Vec<Row>,
}

/// Probabilities of p(e) ∝ exp(−λe² − μe) on `support`.
fn family(support: &[i64], lambda: f64, mu: f64) -> Vec<f64> {
    let logits: Vec<f64> = support
        .iter()
        .map(|&e| -lambda * (e * e) as f64 - mu * e as f64)
        .collect();
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let z: f64 = w.iter().sum();
    w.iter().map(|x| x / z).collect()
}

fn moments(support: &[i64], p: &[f64]) -> (f64, f64) {
    let m: f64 = support.iter().zip(p).map(|(e, q)| *e as f64 * q).sum();
    let v: f64 = support
        .iter()
        .zip(p)
        .map(|(e, q)| (*e as f64 - m).powi(2) * q)
        .sum();
    (m, v)
}

/// Bisection on [lo, hi] for the point where `above` (true: the root lies above `mid`) turns
/// false, as 200 halvings of the interval would find it. The halvings stop once they no longer
/// change the interval (lo and hi equal or adjacent doubles that a halving leaves in place): the
/// step depends on the interval only, so every later one would leave it too, and the answer is
/// the same to the bit — after about 60 halvings instead of 200 (the table is built on every
/// start of a protected command).
fn bisect(mut lo: f64, mut hi: f64, above: impl Fn(f64) -> bool) -> f64 {
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        let (new_lo, new_hi) = if above(mid) { (mid, hi) } else { (lo, mid) };
        if new_lo.to_bits() == lo.to_bits() && new_hi.to_bits() == hi.to_bits() {
            break;
        }
        (lo, hi) = (new_lo, new_hi);
    }
    0.5 * (lo + hi)
}

/// μ such that the mean is 0 for a given λ (the mean falls as μ rises: bisection).
fn solve_mu(support: &[i64], lambda: f64) -> f64 {
    bisect(-60.0, 60.0, |mu| {
        moments(support, &family(support, lambda, mu)).0 > 0.0
    })
}

fn max_entropy_row(support: Vec<i64>, target_variance: f64) -> Row {
    let prob = if target_variance <= 0.0 || support.len() == 1 {
        support
            .iter()
            .map(|&e| if e == 0 { 1.0 } else { 0.0 })
            .collect()
    } else {
        // The variance (at mean 0) falls as λ rises: bisection on λ.
        let lambda = bisect(-30.0, 30.0, |lambda| {
            let p = family(&support, lambda, solve_mu(&support, lambda));
            moments(&support, &p).1 > target_variance
        });
        family(&support, lambda, solve_mu(&support, lambda))
    };
    let mut acc = 0.0;
    let cumulative = prob
        .iter()
        .map(|p| {
            acc += p;
            acc
        })
        .collect();
    Row {
        noise: support,
        prob,
        cumulative,
    }
}

impl PTable {
    /// Builds the table; errors on parameters that cannot work.
    pub fn new(threshold: u64, max_noise: u64, variance: f64) -> Result<Self, String> {
        if threshold < 1 {
            return Err("threshold must be at least 1".into());
        }
        if max_noise > 20 {
            return Err("max_noise (D) must be at most 20".into());
        }
        if !(variance >= 0.0 && variance < (max_noise * max_noise) as f64 + 1e-9) {
            return Err(format!(
                "variance (V) must lie in [0, D²] = [0, {}]",
                max_noise * max_noise
            ));
        }
        let d = max_noise as i64;
        let mut rows = Vec::new();
        for offset in 0..=d {
            // Row for n = T + offset (offset = D stands for every n ≥ T + D).
            let lowest = (-offset).max(-d);
            let support: Vec<i64> = (lowest..=d).collect();
            let reachable = (-lowest * d) as f64; // two-point maximum at mean 0
            let target = if variance < 0.9 * reachable {
                variance
            } else {
                0.9 * reachable
            };
            rows.push(max_entropy_row(support, target));
        }
        Ok(PTable {
            threshold,
            max_noise,
            variance,
            rows,
        })
    }

    /// The row used for an original count `n` (n ≥ T).
    pub fn row(&self, n: u64) -> &Row {
        let offset = n.saturating_sub(self.threshold).min(self.max_noise) as usize;
        &self.rows[offset.min(self.rows.len() - 1)]
    }

    /// The perturbed count: `n + noise(n, cell_key)`; never below the threshold for n ≥ T.
    pub fn perturb(&self, n: u64, cell_key: f64) -> u64 {
        let e = self.row(n).lookup(cell_key);
        (n as i64 + e).max(self.threshold as i64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bisection as it was: always 200 halvings.
    fn bisect_200(mut lo: f64, mut hi: f64, above: impl Fn(f64) -> bool) -> f64 {
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if above(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }

    #[test]
    fn bisection_that_stops_at_its_fixed_point_gives_the_same_bits_as_200_halvings() {
        let roots = [
            0.0,
            1.0,
            -1.0,
            1e-300,
            -7.25,
            3.0_f64.sqrt(),
            59.999,
            -60.0,
            60.0,
            1e9,
        ];
        for root in roots {
            let above = |x: f64| x < root;
            assert_eq!(
                bisect(-60.0, 60.0, above).to_bits(),
                bisect_200(-60.0, 60.0, above).to_bits(),
                "root {root}"
            );
        }
        // A criterion that is not monotone in x (NaN comparisons are false).
        let odd = |x: f64| (x * 1e3).sin() > 0.0;
        assert_eq!(
            bisect(-30.0, 30.0, odd).to_bits(),
            bisect_200(-30.0, 30.0, odd).to_bits()
        );
        // And the solved mean of a row of the table.
        let support: Vec<i64> = (-3..=3).collect();
        let mu_200 = bisect_200(-60.0, 60.0, |mu| {
            moments(&support, &family(&support, 0.4, mu)).0 > 0.0
        });
        assert_eq!(solve_mu(&support, 0.4).to_bits(), mu_200.to_bits());
    }

    #[test]
    fn rows_have_mean_zero_and_the_variance_asked() {
        let t = PTable::new(10, 2, 1.0).unwrap();
        let full = t.row(1000);
        assert!(full.mean().abs() < 1e-9, "{}", full.mean());
        assert!((full.variance() - 1.0).abs() < 1e-6, "{}", full.variance());
        for n in 10..13 {
            let r = t.row(n);
            assert!(r.mean().abs() < 1e-9);
            assert!(r.noise.iter().all(|e| n as i64 + e >= 10));
            assert!(r.variance() <= 1.0 + 1e-9);
        }
        assert_eq!(t.row(10).variance(), 0.0);
        assert!(t.row(11).variance() > 0.5);
        // Maximum entropy with a variance constraint on a symmetric support is symmetric.
        assert!((full.prob[0] - full.prob[4]).abs() < 1e-9);
    }

    #[test]
    fn lookup_follows_the_cumulative_distribution() {
        let t = PTable::new(10, 3, 2.0).unwrap();
        let mut hist = [0usize; 7];
        let steps = 100_000;
        for i in 0..steps {
            let ck = (i as f64 + 0.5) / steps as f64;
            let v = t.perturb(500, ck) as i64 - 500;
            hist[(v + 3) as usize] += 1;
        }
        let row = t.row(500);
        for (k, count) in hist.iter().enumerate() {
            assert!((*count as f64 / steps as f64 - row.prob[k]).abs() < 1e-4);
        }
        assert_eq!(t.perturb(500, 0.3), t.perturb(500, 0.3));
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(PTable::new(0, 2, 1.0).is_err());
        assert!(PTable::new(10, 2, 5.0).is_err());
        assert!(PTable::new(10, 2, -1.0).is_err());
    }
}
