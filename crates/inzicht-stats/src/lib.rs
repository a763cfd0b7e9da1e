//! Statistics of inzicht, checked against R `survival` and reference scripts of our own
//! (`tests/reference/`). No I/O, no database, no disclosure control: callers hand in numbers
//! and pass the results through `inzicht-protect` before a user sees them.
//!
//! - [`km`]: Kaplan–Meier with Greenwood variance, confidence intervals, median.
//! - [`logrank`]: the k-group log-rank test, optionally stratified.
//! - [`cox`]: Cox proportional hazards (Efron/Breslow ties, strata, weights, counting-process
//!   data, robust and cluster-robust variance, concordance, proportional-hazards test).
//! - [`competing`]: Aalen–Johansen cumulative incidence with infinitesimal-jackknife variance.
//! - [`logistic`]: maximum-likelihood logistic regression (propensity scores).
//! - [`matching`]: nearest-neighbour matching on the propensity score, balance.
//! - [`multiple`]: false-discovery rate and E-values.
//! - [`provision`]: provision effects by sequential (risk-set) matching, with bootstrap.
//! - [`hte`]: heterogeneous effects by a T-learner (two outcome models), delta-method intervals.
//! - [`tree`]: classification trees (CART) with cost-complexity pruning by cross-validation.
//! - [`cluster`]: k-means, k-prototypes and PAM on mixed data; silhouette.
//! - [`metrics`]: evaluation (AUC, Brier, calibration), bias audit, adjusted Rand index.
//! - [`dist`]: normal and chi-square distribution functions.

// Numerical code indexes several arrays with the same loop variable, as the formulas it cites
// do; iterator chains would hide the formula. The coefficients of published algorithms (AS 241,
// Lanczos) are kept exactly as printed.
#![allow(clippy::needless_range_loop, clippy::excessive_precision)]

pub mod cluster;
pub mod competing;
pub mod cox;
pub mod dist;
pub mod hte;
pub mod km;
pub mod linalg;
pub mod logistic;
pub mod logrank;
pub mod matching;
pub mod metrics;
pub mod multiple;
pub mod provision;
pub mod rng;
pub mod sort;
pub mod sparse;
pub mod tree;

use std::fmt;

/// Why an analysis could not be computed. The message says what to change.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsError(pub String);

impl fmt::Display for StatsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StatsError {}

pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T, StatsError> {
    Err(StatsError(msg.into()))
}
