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

/// μ such that the mean is 0 for a given λ (the mean falls as μ rises: bisection).
fn solve_mu(support: &[i64], lambda: f64) -> f64 {
    let (mut lo, mut hi) = (-60.0, 60.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        let (m, _) = moments(support, &family(support, lambda, mid));
        if m > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

fn max_entropy_row(support: Vec<i64>, target_variance: f64) -> Row {
    let prob = if target_variance <= 0.0 || support.len() == 1 {
        support
            .iter()
            .map(|&e| if e == 0 { 1.0 } else { 0.0 })
            .collect()
    } else {
        // The variance (at mean 0) falls as λ rises: bisection on λ.
        let (mut lo, mut hi) = (-30.0, 30.0);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            let p = family(&support, mid, solve_mu(&support, mid));
            let (_, v) = moments(&support, &p);
            if v > target_variance {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let lambda = 0.5 * (lo + hi);
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
