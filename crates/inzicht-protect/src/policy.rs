//! The protection policy of an installation: read from `protection.toml` beside the key file
//! (where analysts cannot change it), defaults otherwise. Every key: docs/protection.md.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Recorded in every result's `protection.policy`.
    pub name: String,
    /// Minimum number of distinct persons behind anything shown (default 10).
    pub threshold: u64,
    /// Maximum absolute noise D of the perturbation table.
    pub max_noise: u64,
    /// Noise variance V of the perturbation table.
    pub variance: f64,
    /// Dominance rule (n, k): a magnitude is hidden when its n largest contributions exceed k
    /// of the total. n ∈ {0 (off), 1, 2}.
    pub dominance_n: usize,
    pub dominance_k: f64,
    /// Magnitude noise as a fraction of the largest contribution.
    pub magnitude_noise: f64,
    /// How many target groups that differ by fewer than `threshold` persons from an earlier
    /// target group of the same user are answered within the window before queries are refused.
    /// Default 0: every such pair is a look at fewer than `threshold` persons, and with a
    /// threshold applied to true counts one answered pair can already reveal a person at the
    /// threshold boundary (docs/protection.md). Raising it is a decision for the privacy officer.
    pub query_budget: u32,
    /// The window of the budget, in days.
    pub budget_window_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            name: "standaard".into(),
            threshold: 10,
            // D = 3, V = 1: the chance that noise sits at both extremes of a difference (+3 in
            // one cell, −3 in the other), the only way a difference of two noisy counts can be
            // certain, is p(3)² ≈ 2·10⁻⁵ per pair of cells (docs/protection.md).
            max_noise: 3,
            variance: 1.0,
            dominance_n: 2,
            dominance_k: 0.85,
            magnitude_noise: 0.05,
            query_budget: 0,
            budget_window_days: 30,
        }
    }
}

impl Policy {
    /// Reads a policy file; names the file and the problem.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, String> {
        let p: Policy = toml::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
        p.validate().map_err(|e| format!("{origin}: {e}"))?;
        Ok(p)
    }

    /// Reads `protection.toml` in `dir` if it exists, else the defaults.
    pub fn from_dir(dir: &std::path::Path) -> Result<Self, String> {
        let path = dir.join("protection.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_toml(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Policy::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.threshold < 1 {
            return Err(format!(
                "threshold = {}: the threshold must be at least 1 (10 is usual)",
                self.threshold
            ));
        }
        if self.max_noise > 20 {
            return Err("max_noise must be at most 20".into());
        }
        let d2 = (self.max_noise * self.max_noise) as f64;
        if !(0.0..=d2).contains(&self.variance) {
            return Err(format!(
                "variance = {} must lie between 0 and max_noise² = {d2}",
                self.variance
            ));
        }
        if self.dominance_n > 2 {
            return Err("dominance_n must be 0 (off), 1 or 2".into());
        }
        if !(0.0..=1.0).contains(&self.dominance_k) {
            return Err("dominance_k must lie between 0 and 1".into());
        }
        if !(0.0..=1.0).contains(&self.magnitude_noise) {
            return Err("magnitude_noise must lie between 0 and 1".into());
        }
        if self.budget_window_days == 0 {
            return Err("budget_window_days must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_validates() {
        let p = Policy::from_toml("name = \"streng\"\nthreshold = 15\n", "p.toml").unwrap();
        assert_eq!(p.threshold, 15);
        assert_eq!(p.max_noise, 3);
        let e = Policy::from_toml("threshold = 0\n", "p.toml").unwrap_err();
        assert!(e.contains("p.toml") && e.contains("at least 1"), "{e}");
        let e = Policy::from_toml("treshold = 5\n", "p.toml").unwrap_err();
        assert!(e.contains("treshold"), "{e}");
    }
}
