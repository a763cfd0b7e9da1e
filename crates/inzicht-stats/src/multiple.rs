//! Many tests at once, and unmeasured confounding.
//!
//! - Benjamini–Hochberg adjusted p-values (Benjamini & Hochberg 1995): control of the false
//!   discovery rate across provision types × subgroups; equal to R's `p.adjust(method = "BH")`.
//! - The E-value (VanderWeele & Ding 2017): the minimum strength of association, on the risk-ratio
//!   scale, that an unmeasured confounder would need with both treatment and outcome to explain
//!   away an observed risk ratio: RR + √(RR (RR − 1)) for RR ≥ 1 (invert RR < 1 first). For a
//!   confidence limit, the E-value of the limit closest to 1, or 1 if the interval contains 1.

/// BH-adjusted p-values, in the input order. NaN p-values stay NaN and do not count.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| p[i].is_finite()).collect();
    let m = idx.len() as f64;
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let mut out = vec![f64::NAN; p.len()];
    let mut running = f64::INFINITY;
    for (rank_from_top, &i) in idx.iter().enumerate() {
        let rank = m - rank_from_top as f64;
        running = running.min(p[i] * m / rank);
        out[i] = running.min(1.0);
    }
    out
}

/// E-value of a risk ratio.
pub fn e_value(rr: f64) -> f64 {
    if !(rr.is_finite() && rr > 0.0) {
        return f64::NAN;
    }
    let r = if rr < 1.0 { 1.0 / rr } else { rr };
    r + (r * (r - 1.0)).sqrt()
}

/// E-value of the confidence limit closest to 1 (1 when the interval contains 1).
pub fn e_value_ci(lower: f64, upper: f64) -> f64 {
    if lower <= 1.0 && upper >= 1.0 {
        1.0
    } else if lower > 1.0 {
        e_value(lower)
    } else {
        e_value(upper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bh_matches_r() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.20), "BH") = 0.04 0.0533 0.0533 0.20
        let a = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.20]);
        let e = [0.04, 0.16 / 3.0, 0.16 / 3.0, 0.20];
        for (x, y) in a.iter().zip(e) {
            assert!((x - y).abs() < 1e-15, "{a:?}");
        }
    }

    #[test]
    fn e_values() {
        // VanderWeele & Ding (2017): RR = 3.9 gives E = 7.26.
        assert!((e_value(3.9) - 7.26).abs() < 0.005);
        assert_eq!(e_value_ci(0.8, 1.2), 1.0);
        assert!((e_value(0.5) - e_value(2.0)).abs() < 1e-15);
    }
}
