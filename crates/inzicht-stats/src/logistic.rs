//! Logistic regression by maximum likelihood (Newton–Raphson / iteratively reweighted least
//! squares; McCullagh & Nelder 1989, §4.4), with model-based standard errors from the inverse
//! observed information. Used for propensity scores; agrees with R `glm(family = binomial)` and
//! statsmodels `Logit`.
//!
//! Complete or quasi-complete separation (a covariate that predicts the outcome perfectly) has
//! no finite maximum: it is reported, not hidden — the fit stops with a warning naming the
//! coefficients that keep growing.

use crate::{dist, linalg, StatsError};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogisticCoef {
    pub name: String,
    pub coef: f64,
    pub se: f64,
    pub z: f64,
    pub p: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogisticFit {
    /// "(Intercept)" first.
    pub coefficients: Vec<LogisticCoef>,
    pub log_likelihood: f64,
    pub iterations: usize,
    /// How many of the iterations computed the information matrix afresh (the others reused
    /// the last one; see the chord steps in the fit).
    #[serde(skip)]
    pub information_updates: usize,
    /// How many of those were of every fourth row only (the steps far from the maximum).
    #[serde(skip)]
    pub information_sampled: usize,
    pub converged: bool,
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub beta: Vec<f64>,
    /// The inverse information, (p+1) × (p+1) row-major, intercept first (for the delta method
    /// and sandwich estimators built on the fit).
    #[serde(skip)]
    pub covariance: Vec<f64>,
}

impl LogisticFit {
    /// The linear predictor (log-odds) for one row of covariates (without the intercept).
    pub fn linear_predictor(&self, x: &[f64]) -> f64 {
        self.beta[0]
            + x.iter()
                .zip(&self.beta[1..])
                .map(|(a, b)| a * b)
                .sum::<f64>()
    }
}

/// A design given as sparse rows (without the intercept): row i holds the values
/// `val[ptr[i]..ptr[i + 1]]` in the columns `idx[ptr[i]..ptr[i + 1]]`, in increasing column order;
/// every other entry is 0. A propensity design is mostly 0/1 indicators and missing flags: given
/// this way it never exists as an n × p dense matrix (25 MB per provision group at municipality
/// scale).
#[derive(Debug, Clone, Default)]
pub struct SparseRows {
    pub ptr: Vec<usize>,
    pub idx: Vec<u32>,
    pub val: Vec<f64>,
}

/// The design of a fit: dense n × p row-major, or sparse rows. Both give the same fit to the bit
/// for the same entries (the fit keeps the nonzero entries of either).
#[derive(Clone, Copy)]
pub enum Design<'a> {
    Dense(&'a [f64]),
    Sparse(&'a SparseRows),
}

/// Fits P(y = 1 | x) = 1/(1 + exp(−(β₀ + xβ))). `x` is n × p row-major (no intercept column);
/// `weights` are case weights.
pub fn fit(
    x: &[f64],
    y: &[bool],
    names: &[String],
    weights: Option<&[f64]>,
) -> Result<LogisticFit, StatsError> {
    fit_impl(Design::Dense(x), y, names, weights, 0.0, true, None).map_err(|(_, e)| e)
}

/// Ridge (L2-penalised) logistic regression: maximises
/// `Σ w_i·loglik_i − (λ/2)·Σ_{j≥1} β_j²` (the intercept is not penalised), the model of
/// scikit-learn's `LogisticRegression(C = 1/λ)`. Covariates should be on one scale
/// (standardised) for the penalty to treat them alike. The penalty keeps the estimate finite
/// under separation. Standard errors are those of the penalised information (a Bayesian
/// reading: the posterior under a normal prior with variance 1/λ), not frequentist ones.
pub fn fit_ridge(
    x: &[f64],
    y: &[bool],
    names: &[String],
    weights: Option<&[f64]>,
    lambda: f64,
) -> Result<LogisticFit, StatsError> {
    if !(lambda.is_finite() && lambda >= 0.0) {
        return Err(StatsError(
            "the penalty must be a non-negative number".into(),
        ));
    }
    fit_impl(Design::Dense(x), y, names, weights, lambda, true, None).map_err(|(_, e)| e)
}

/// As [`fit`], but a covariate that makes the information matrix singular (collinear, or
/// separating the outcome so that its coefficient runs off) is left out and the model refitted,
/// as R's `glm` leaves aliased coefficients out. Returns the fit and the indices of the
/// covariates kept; the warnings name those left out. The design is dense or sparse rows
/// ([`Design`]); the same entries give the same fit to the bit either way.
///
/// Without `covariance` the fit is for its estimate only (a propensity score): the information
/// matrix is not recomputed at the estimate unless separation is suspected, `covariance` is
/// empty, and the coefficients' `se`, `z` and `p` are NaN.
///
/// `information_at_zero`, where the caller has it, is the information matrix at β = 0
/// (intercept first, (p + 1)², row-major; ¼·Σ wᵢxᵢxᵢᵀ with the intercept column): the fit then
/// starts from the intercept-only estimate, whose information is this matrix scaled, and its
/// first Newton step does not compute the information again. It changes the path to the
/// maximum, not the maximum.
pub fn fit_dropping(
    x: Design,
    y: &[bool],
    names: &[String],
    weights: Option<&[f64]>,
    covariance: bool,
    information_at_zero: Option<&[f64]>,
) -> Result<(LogisticFit, Vec<usize>), StatsError> {
    let n = y.len();
    let p = names.len();
    let mut keep: Vec<usize> = (0..p).collect();
    let mut dropped: Vec<String> = Vec::new();
    let start = information_at_zero.filter(|i| i.len() == (p + 1) * (p + 1));
    loop {
        // The information at 0 of the covariates kept (intercept first).
        let start_sub: Option<Vec<f64>> = start.map(|info| {
            let at: Vec<usize> = std::iter::once(0)
                .chain(keep.iter().map(|&j| j + 1))
                .collect();
            at.iter()
                .flat_map(|&a| at.iter().map(move |&b| info[a * (p + 1) + b]))
                .collect()
        });
        // The design of the covariates kept (the design itself while none has been left out).
        let owned;
        let sub = if keep.len() == p {
            x
        } else {
            owned = select_columns(x, n, p, &keep);
            owned.view()
        };
        let sub_names: Vec<String> = keep.iter().map(|&j| names[j].clone()).collect();
        match fit_impl(
            sub,
            y,
            &sub_names,
            weights,
            0.0,
            covariance,
            start_sub.as_deref(),
        ) {
            Ok(mut f) => {
                if !dropped.is_empty() {
                    f.warnings.push(format!(
                        "left out of the model (collinear or separating): {}",
                        dropped.join(", ")
                    ));
                }
                return Ok((f, keep));
            }
            Err((Some(col), _)) if col > 0 && keep.len() > 1 => {
                dropped.push(names[keep[col - 1]].clone());
                keep.remove(col - 1);
            }
            Err((_, e)) => return Err(e),
        }
    }
}

/// A design of its own (the columns kept of another).
enum OwnedDesign {
    Dense(Vec<f64>),
    Sparse(SparseRows),
}

impl OwnedDesign {
    fn view(&self) -> Design<'_> {
        match self {
            OwnedDesign::Dense(x) => Design::Dense(x),
            OwnedDesign::Sparse(x) => Design::Sparse(x),
        }
    }
}

/// The design restricted to the columns `keep` (increasing), renumbered among them (only called
/// on a design whose shape was checked).
fn select_columns(x: Design, n: usize, p: usize, keep: &[usize]) -> OwnedDesign {
    match x {
        Design::Dense(x) => OwnedDesign::Dense(
            (0..n)
                .flat_map(|i| keep.iter().map(move |&j| x[i * p + j]))
                .collect(),
        ),
        Design::Sparse(x) => {
            let mut at = vec![u32::MAX; p];
            for (a, &j) in keep.iter().enumerate() {
                at[j] = a as u32;
            }
            let mut sub = SparseRows {
                ptr: Vec::with_capacity(n + 1),
                ..SparseRows::default()
            };
            sub.ptr.push(0);
            for w in x.ptr.windows(2) {
                for k in w[0]..w[1] {
                    let a = at[x.idx[k] as usize];
                    if a != u32::MAX {
                        sub.idx.push(a);
                        sub.val.push(x.val[k]);
                    }
                }
                sub.ptr.push(sub.idx.len());
            }
            OwnedDesign::Sparse(sub)
        }
    }
}

type FitError = (Option<usize>, StatsError);

/// Designs of at least this many rows take their Newton steps far from the maximum with the
/// information of every fourth row (see the fit); smaller ones always use every row.
const SAMPLED_INFORMATION_MIN_ROWS: usize = 8000;

fn fit_impl(
    design: Design,
    y: &[bool],
    names: &[String],
    weights: Option<&[f64]>,
    penalty: f64,
    want_covariance: bool,
    information_at_zero: Option<&[f64]>,
) -> Result<LogisticFit, FitError> {
    let fail = |m: String| (None, StatsError(m));
    let n = y.len();
    let p = names.len();
    let shape_ok = match design {
        Design::Dense(x) => x.len() == n * p,
        Design::Sparse(x) => {
            x.ptr.len() == n + 1
                && x.ptr.first() == Some(&0)
                && x.ptr.windows(2).all(|w| w[0] <= w[1])
                && x.ptr.last() == Some(&x.idx.len())
                && x.idx.len() == x.val.len()
                && (0..n).all(|i| {
                    let row = &x.idx[x.ptr[i]..x.ptr[i + 1]];
                    row.windows(2).all(|w| w[0] < w[1]) && row.iter().all(|&j| (j as usize) < p)
                })
        }
    };
    if !shape_ok || weights.is_some_and(|w| w.len() != n) {
        return Err(fail(
            "the columns of the logistic model have different lengths".into(),
        ));
    }
    if n == 0 {
        return Err(fail("no observations".into()));
    }
    let bad_row = match design {
        Design::Dense(x) => x.iter().position(|v| !v.is_finite()).map(|i| i / p.max(1)),
        Design::Sparse(x) => x
            .val
            .iter()
            .position(|v| !v.is_finite())
            .map(|k| x.ptr.partition_point(|&o| o <= k) - 1),
    };
    if let Some(i) = bad_row {
        return Err(fail(format!(
            "row {}: a covariate is missing or not a number",
            i + 1
        )));
    }
    let ones = y.iter().filter(|&&v| v).count();
    if ones == 0 || ones == n {
        return Err(fail(
            "the outcome has one value only: a logistic model needs both 0 and 1".into(),
        ));
    }
    let q = p + 1;
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    // Propensity designs are mostly 0/1 indicators and missing flags, most of them 0: where
    // fewer than half the entries are nonzero, the design is kept as sparse rows (the intercept
    // and each row's nonzero entries, in column order) and every sum below runs over those only
    // (in the same order, so the sums are the same to the bit: adding 0 changes nothing), which
    // is the share of nonzeros squared of the dense cost for the information. Otherwise the
    // design is copied with its intercept column, row-major and contiguous, so that the inner
    // loops are plain slice operations the compiler vectorises.
    let nonzero = n + match design {
        Design::Dense(x) => x.iter().filter(|v| **v != 0.0).count(),
        Design::Sparse(x) => x.val.iter().filter(|v| **v != 0.0).count(),
    };
    let sparse = nonzero * 2 < n * q;
    // Row i's nonzero entries (column, value), in column order, from either design.
    let entries = |i: usize, f: &mut dyn FnMut(usize, f64)| match design {
        Design::Dense(x) => {
            for (j, v) in x[i * p..(i + 1) * p].iter().enumerate() {
                if *v != 0.0 {
                    f(j, *v);
                }
            }
        }
        Design::Sparse(x) => {
            for k in x.ptr[i]..x.ptr[i + 1] {
                if x.val[k] != 0.0 {
                    f(x.idx[k] as usize, x.val[k]);
                }
            }
        }
    };
    let mut xd: Vec<f64> = Vec::new();
    let mut nz_ptr: Vec<usize> = Vec::new();
    let mut nz_idx: Vec<u32> = Vec::new();
    if sparse {
        nz_ptr.reserve(n + 1);
        nz_idx.reserve(nonzero);
        xd.reserve(nonzero);
        nz_ptr.push(0);
        for i in 0..n {
            nz_idx.push(0);
            xd.push(1.0);
            entries(i, &mut |j, v| {
                nz_idx.push(j as u32 + 1);
                xd.push(v);
            });
            nz_ptr.push(nz_idx.len());
        }
    } else {
        xd = vec![0.0; n * q];
        for i in 0..n {
            xd[i * q] = 1.0;
            let row = &mut xd[i * q + 1..(i + 1) * q];
            match design {
                Design::Dense(x) => row.copy_from_slice(&x[i * p..(i + 1) * p]),
                Design::Sparse(_) => entries(i, &mut |j, v| row[j] = v),
            }
        }
    }
    // Row i: its column indices (sparse only) and its values (the nonzeros, or the dense row).
    let nz = |i: usize| -> &[u32] { &nz_idx[nz_ptr[i]..nz_ptr[i + 1]] };
    let values = |i: usize| -> &[f64] {
        if sparse {
            &xd[nz_ptr[i]..nz_ptr[i + 1]]
        } else {
            &xd[i * q..(i + 1) * q]
        }
    };
    let row_dot = |i: usize, b: &[f64]| -> f64 {
        let xi = values(i);
        if sparse {
            nz(i).iter().zip(xi).map(|(&j, x)| x * b[j as usize]).sum()
        } else {
            xi.iter().zip(b).map(|(x, y)| x * y).sum()
        }
    };
    let ridge =
        |beta: &[f64]| -> f64 { penalty / 2.0 * beta[1..].iter().map(|b| b * b).sum::<f64>() };
    // Gradient and information (lower triangle, then mirrored) at β; rows split into parts
    // when the work is large (below), each part summed in row order.
    // Sparse rows: the leading columns that are nonzero in most rows are summed as dense
    // stretches (linalg::SparseGram; the same bits as a loop over the nonzero pairs).
    let dense_prefix = if sparse {
        let mut nonzero_rows = vec![0usize; q];
        nz_idx.iter().for_each(|&j| nonzero_rows[j as usize] += 1);
        linalg::SparseGram::dense_prefix(&nonzero_rows, n)
    } else {
        0
    };
    // `stride` > 1: the information from every stride-th row only (weighted by stride), for
    // the Newton steps far from the maximum (below); the gradient is then not summed.
    let part =
        |rows: std::ops::Range<usize>, beta: &[f64], stride: usize| -> (Vec<f64>, Vec<f64>, f64) {
            let mut grad = vec![0.0; q];
            let mut gram = linalg::SparseGram::new(if sparse { q } else { 0 }, dense_prefix);
            let mut info = if sparse { Vec::new() } else { vec![0.0; q * q] };
            let mut max_fit: f64 = 0.0;
            let scale = stride as f64;
            for i in rows.filter(|i| i % stride == 0) {
                let xi = values(i);
                let eta = row_dot(i, beta);
                let mu = 1.0 / (1.0 + (-eta).exp());
                max_fit = max_fit.max(mu.min(1.0 - mu).recip());
                let r = w(i) * (if y[i] { 1.0 } else { 0.0 } - mu);
                // (× 1 for the full information: the same bits.)
                let v = w(i) * mu * (1.0 - mu) * scale;
                if sparse {
                    let idx = nz(i);
                    if stride == 1 {
                        for (&j, &xj) in idx.iter().zip(xi) {
                            grad[j as usize] += r * xj;
                        }
                    }
                    gram.add_row(v, idx, xi);
                    continue;
                }
                if stride == 1 {
                    for (g, xj) in grad.iter_mut().zip(xi) {
                        *g += r * xj;
                    }
                }
                for (j, row) in info.chunks_exact_mut(q).enumerate() {
                    let vj = v * xi[j];
                    for (s, xk) in row[..=j].iter_mut().zip(&xi[..=j]) {
                        *s += vj * xk;
                    }
                }
            }
            if sparse {
                info = gram.info;
            }
            (grad, info, max_fit)
        };
    // Large designs are summed in a fixed number of row parts, on as many cores as there are
    // (the same bits on any machine: rng::ROW_PARTS).
    let n_parts = if n * q * q > 4_000_000 {
        crate::rng::ROW_PARTS
    } else {
        1
    };
    // The gradient and the information at β; with `stride` > 1 the information of every
    // stride-th row (weighted by stride) and the gradient left as it is.
    let grad_info_sampled =
        |beta: &[f64], grad: &mut [f64], info: &mut [f64], stride: usize| -> f64 {
            let parts = crate::rng::par_ranges(n, n_parts, |rows| part(rows, beta, stride));
            if stride == 1 {
                grad.iter_mut().for_each(|v| *v = 0.0);
            }
            info.iter_mut().for_each(|v| *v = 0.0);
            let mut max_fit: f64 = 0.0;
            for (g, inf, m) in parts {
                if stride == 1 {
                    grad.iter_mut().zip(g).for_each(|(a, b)| *a += b);
                }
                info.iter_mut().zip(inf).for_each(|(a, b)| *a += b);
                max_fit = max_fit.max(m);
            }
            for j in 0..q {
                for k in 0..j {
                    info[k * q + j] = info[j * q + k];
                }
            }
            for j in 1..q {
                if stride == 1 {
                    grad[j] -= penalty * beta[j];
                }
                info[j * q + j] += penalty;
            }
            max_fit
        };
    let grad_info = |beta: &[f64], grad: &mut [f64], info: &mut [f64]| -> f64 {
        grad_info_sampled(beta, grad, info, 1)
    };
    // The log-likelihood and its gradient at β in one pass over the rows (a gradient costs each
    // row's nonzeros once; the information costs them squared).
    let loglik_grad = |beta: &[f64], grad: &mut [f64]| -> (f64, f64) {
        grad.iter_mut().for_each(|v| *v = 0.0);
        let mut ll = -ridge(beta);
        let mut max_fit: f64 = 0.0;
        for i in 0..n {
            let xi = values(i);
            let eta = row_dot(i, beta);
            let l1p = if eta > 0.0 {
                eta + (-eta).exp().ln_1p()
            } else {
                eta.exp().ln_1p()
            };
            ll += w(i) * (if y[i] { eta } else { 0.0 } - l1p);
            let mu = 1.0 / (1.0 + (-eta).exp());
            max_fit = max_fit.max(mu.min(1.0 - mu).recip());
            let r = w(i) * (if y[i] { 1.0 } else { 0.0 } - mu);
            if sparse {
                for (&j, xj) in nz(i).iter().zip(xi) {
                    grad[j as usize] += r * xj;
                }
            } else {
                for (g, xj) in grad.iter_mut().zip(xi) {
                    *g += r * xj;
                }
            }
        }
        for j in 1..q {
            grad[j] -= penalty * beta[j];
        }
        (ll, max_fit)
    };
    let names_all: Vec<String> = std::iter::once("(Intercept)".to_string())
        .chain(names.iter().cloned())
        .collect();
    let factor_of = |info: &[f64]| -> Result<Vec<f64>, FitError> {
        linalg::cholesky(info, q).map_err(|j| {
            (
                Some(j),
                StatsError(format!(
                    "the covariate '{}' is constant or collinear with the others (or separates the outcome); leave it out",
                    names_all[j]
                )),
            )
        })
    };
    // Newton–Raphson, where a step may reuse the last information matrix (the chord method,
    // Ortega & Rheinboldt 1970, §7.1): its fixed point is the same maximum (gradient 0), and
    // near the maximum the information hardly changes, so a step costs one gradient pass
    // instead of the information's pass over each row's nonzeros squared. The information is
    // recomputed at the current estimate while the last step's Newton decrement gᵀJ⁻¹g is
    // above 1e-4 of the log-likelihood (far from the maximum it changes too much to reuse),
    // whenever a reused factor did not shrink the decrement at least twentyfold, and after a
    // step that needed halving.
    let mut beta = vec![0.0; q];
    // Given the information at β = 0, the fit starts from the intercept-only estimate
    // β = (logit ȳ, 0, …, 0) instead (ȳ the weighted share of 1s; glm starts near it too): there
    // every fitted probability is ȳ, so the information is that at 0 scaled by ȳ(1 − ȳ)/¼ and
    // costs nothing, while the start is much nearer the maximum when the outcome is unbalanced
    // (a propensity model on 1 treated to 5 controls: one full information pass fewer, of about
    // four).
    let at_zero = information_at_zero.filter(|i| i.len() == q * q);
    let mut info_at_start: Option<Vec<f64>> = None;
    if let Some(at_zero) = at_zero {
        let (mut ones, mut total) = (0.0, 0.0);
        for (i, &yi) in y.iter().enumerate() {
            total += w(i);
            if yi {
                ones += w(i);
            }
        }
        let share = ones / total;
        if share > 0.0 && share < 1.0 {
            beta[0] = (share / (1.0 - share)).ln();
            let scale = 4.0 * share * (1.0 - share);
            info_at_start = Some(at_zero.iter().map(|v| v * scale).collect());
        }
    }
    let mut grad = vec![0.0; q];
    let (mut ll, mut max_fit) = loglik_grad(&beta, &mut grad);
    let mut iterations = 0;
    let mut converged = false;
    let mut info = vec![0.0; q * q];
    let mut factor: Option<Vec<f64>> = None;
    let mut fresh_steps = 0;
    let mut sampled_steps = 0;
    // Whether the current factor is of an information from a quarter of the rows (below).
    let mut sampled = false;
    let mut last_decrement = f64::INFINITY;
    let mut new_grad = vec![0.0; q];
    while iterations < 50 {
        let fresh = factor.is_none();
        let l = match &factor {
            Some(l) => l,
            None => {
                match info_at_start.take().filter(|_| iterations == 0) {
                    // At the start (the gradient is already the one there).
                    Some(at_start) => {
                        sampled = false;
                        info.copy_from_slice(&at_start);
                        for j in 1..q {
                            info[j * q + j] += penalty;
                        }
                    }
                    // Far from the maximum — the last Newton decrement above 1e-3 of |ℓ| —
                    // a Newton step needs only a fair picture of the curvature: the information
                    // of every fourth row, times four, makes a step nearly as good at a quarter
                    // of the cost (sub-sampled Newton; Roosta-Khorasani & Mahoney 2019). The
                    // step is checked as any other (halving, the decrement) and never taken
                    // as converged; the steps near the maximum, and the chord steps after them,
                    // use the information of every row, so the maximum is the same. A sample
                    // whose information is singular (a rare indicator left out of it) gives
                    // way to the full information at the same point.
                    None => {
                        let far = last_decrement.is_finite() && last_decrement > 1e-3 * ll.abs();
                        let stride = if far && n >= SAMPLED_INFORMATION_MIN_ROWS {
                            4
                        } else {
                            1
                        };
                        grad_info_sampled(&beta, &mut grad, &mut info, stride);
                        sampled = stride > 1;
                    }
                }
                fresh_steps += 1;
                match factor_of(&info) {
                    Ok(l) => factor.insert(l),
                    Err(_) if sampled => {
                        grad_info(&beta, &mut grad, &mut info);
                        sampled = false;
                        factor.insert(factor_of(&info)?)
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        if fresh && sampled {
            sampled_steps += 1;
        }
        let step = linalg::chol_solve(l, q, &grad);
        let decrement: f64 = grad.iter().zip(&step).map(|(g, s)| g * s).sum();
        // (A NaN decrement also drops the reused factor.)
        let shrunk = decrement <= last_decrement / 20.0;
        if !fresh && !shrunk {
            factor = None;
            continue;
        }
        iterations += 1;
        let mut new_beta: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b + s).collect();
        let (mut new_ll, mut new_max) = loglik_grad(&new_beta, &mut new_grad);
        let mut halvings = 0;
        while (new_ll < ll - 1e-12 * ll.abs() || new_ll.is_nan()) && halvings < 30 {
            halvings += 1;
            new_beta = beta
                .iter()
                .zip(&new_beta)
                .map(|(b, nb)| (b + nb) / 2.0)
                .collect();
            (new_ll, new_max) = loglik_grad(&new_beta, &mut new_grad);
        }
        let change = (new_ll - ll).abs();
        beta = new_beta;
        ll = new_ll;
        max_fit = new_max;
        std::mem::swap(&mut grad, &mut new_grad);
        last_decrement = decrement;
        let tol = 1e-12 * (ll.abs() + 0.1);
        if halvings > 0 || decrement > 1e8 * tol || sampled {
            factor = None;
        }
        // Converged when a Newton step changes the deviance by less than 1e-12 relative (glm
        // uses 1e-8): Newton converges quadratically, so the error left after that step is of
        // the order of the step squared. A chord step only shrinks the error by a factor, so it
        // stops the iteration once its own Newton decrement (the squared distance to the
        // maximum in the information's metric, i.e. in squared standard errors) is below 1e-6
        // of that tolerance: the estimate is then within 1e-9·√|ℓ| standard errors of the
        // maximum (about 1e-7 for a propensity model on 20,000 months).
        if !sampled && ((fresh && change <= tol) || decrement <= 1e-6 * tol) {
            converged = true;
            break;
        }
    }
    let mut warnings = Vec::new();
    if !converged {
        warnings.push("the logistic regression did not converge in 50 iterations".to_string());
    }
    // The information at the final estimate, for the covariance — and, under separation, to
    // find the coefficients that run off (where it may also be singular). Without separation a
    // singular information would already have stopped an earlier step (collinearity does not
    // depend on β while the fitted probabilities stay inside (0, 1)).
    let separated = penalty == 0.0 && max_fit > 1e10;
    let var = if want_covariance || separated {
        max_fit = grad_info(&beta, &mut grad, &mut info);
        linalg::spd_inverse(&info, q).map_err(|j| {
            (
                Some(j),
                StatsError(format!(
                    "the information matrix is singular at '{}': separation or collinearity; leave the covariate out",
                    names_all[j]
                )),
            )
        })?
    } else {
        Vec::new()
    };
    let var_of = |j: usize| var.get(j * q + j).copied().unwrap_or(f64::NAN);
    if penalty == 0.0 && max_fit > 1e10 {
        let big: Vec<&str> = (1..q)
            .filter(|&j| var_of(j).sqrt() > 1e3 * beta[j].abs().max(1.0) || beta[j].abs() > 15.0)
            .map(|j| names_all[j].as_str())
            .collect();
        warnings.push(format!(
            "fitted probabilities of 0 or 1 occurred: (quasi-)complete separation{}; the propensity scores at the extremes are not estimable",
            if big.is_empty() { String::new() } else { format!(" by {}", big.join(", ")) }
        ));
    }
    let coefficients = (0..q)
        .map(|j| {
            let se = var_of(j).sqrt();
            let z = beta[j] / se;
            LogisticCoef {
                name: names_all[j].clone(),
                coef: beta[j],
                se,
                z,
                p: dist::two_sided_p(z),
            }
        })
        .collect();
    Ok(LogisticFit {
        coefficients,
        log_likelihood: ll,
        iterations,
        information_updates: fresh_steps,
        information_sampled: sampled_steps,
        converged,
        warnings,
        beta,
        covariance: var,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_simple_model() {
        // y = 1 for x > 0 except a few flips: finite estimate, positive slope.
        let x: Vec<f64> = (0..40).map(|i| i as f64 / 10.0 - 2.0).collect();
        let y: Vec<bool> = (0..40).map(|i| (i > 20) ^ (i % 7 == 0)).collect();
        let f = fit(&x, &y, &["x".to_string()], None).unwrap();
        assert!(f.converged);
        assert!(f.coefficients[1].coef > 0.0);
        assert!(f.warnings.is_empty());
    }

    #[test]
    fn separation_is_reported() {
        let x: Vec<f64> = (0..20).map(|i| i as f64).collect();
        let y: Vec<bool> = (0..20).map(|i| i >= 10).collect();
        match fit(&x, &y, &["x".to_string()], None) {
            Ok(f) => assert!(!f.warnings.is_empty()),
            Err(e) => assert!(e.0.contains("separat")),
        }
    }

    /// A design large enough for the sampled Newton steps reaches the maximum: the score is 0
    /// there, and the rows in another order (another sample of every fourth row, another path)
    /// give the same estimate. One indicator is 1 in three rows only.
    #[test]
    fn sampled_newton_steps_reach_the_same_maximum() {
        let n = 12_000;
        let p = 4;
        let mut rows: Vec<(Vec<f64>, bool)> = Vec::new();
        for i in 0..n {
            let a = ((i * 7919) % 1000) as f64 / 250.0 - 2.0;
            let b = ((i % 3) == 0) as u8 as f64;
            let rare = [1, 2, 3].contains(&i) as u8 as f64;
            let c = ((i * 104_729) % 997) as f64 / 997.0;
            let eta = -1.5 + 0.8 * a + 0.7 * b - 0.5 * c + 2.0 * rare;
            let u = ((i * 2_654_435_761_usize) % 10_007) as f64 / 10_007.0;
            rows.push((vec![a, b, rare, c], u < 1.0 / (1.0 + (-eta).exp())));
        }
        let names: Vec<String> = ["a", "b", "rare", "c"].map(String::from).to_vec();
        let fit_rows = |rows: &[(Vec<f64>, bool)]| {
            let x: Vec<f64> = rows.iter().flat_map(|r| r.0.clone()).collect();
            let y: Vec<bool> = rows.iter().map(|r| r.1).collect();
            let q = p + 1;
            let mut info0 = vec![0.0; q * q];
            for r in rows {
                let xi: Vec<f64> = std::iter::once(1.0).chain(r.0.iter().copied()).collect();
                for j in 0..q {
                    for k in 0..q {
                        info0[j * q + k] += 0.25 * xi[j] * xi[k];
                    }
                }
            }
            let (f, kept) =
                fit_dropping(Design::Dense(&x), &y, &names, None, false, Some(&info0)).unwrap();
            assert_eq!(kept, vec![0, 1, 2, 3], "no column left out");
            assert!(f.converged);
            // The score at the estimate.
            let mut score = [0.0; 5];
            for (xi, &yi) in x.chunks_exact(p).zip(&y) {
                let eta = f.linear_predictor(xi);
                let r = yi as u8 as f64 - 1.0 / (1.0 + (-eta).exp());
                score[0] += r;
                for j in 0..p {
                    score[j + 1] += r * xi[j];
                }
            }
            assert!(score.iter().all(|s| s.abs() < 1e-6), "score {score:?}");
            f
        };
        // In this order the rare rows (1, 2, 3) are outside every sample: each sampled
        // information is singular and gives way to the full one.
        let f = fit_rows(&rows);
        assert_eq!(f.information_sampled, 0);
        // Reversed, one of them is in the sample (row 11,996): sampled steps are taken.
        rows.reverse();
        let g = fit_rows(&rows);
        assert!(g.information_sampled > 0, "no sampled step was taken");
        for (a, b) in f.beta.iter().zip(&g.beta) {
            assert!((a - b).abs() < 1e-7 * a.abs().max(1.0), "{a} vs {b}");
        }
    }

    /// Given the information at β = 0, the fit reaches the same maximum — also when a column
    /// is then left out as collinear (its row and column are left out of the given matrix).
    #[test]
    fn the_information_at_zero_changes_the_path_not_the_maximum() {
        let n = 300;
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let (a, b) = ((i % 17) as f64 / 4.0 - 2.0, (i % 3 == 0) as u8 as f64);
            // The third column is a copy of the second: collinear.
            x.extend([a, b, b, a * b]);
            y.push((a + b + (i % 5) as f64 / 2.0) > 1.2);
        }
        let names: Vec<String> = ["a", "b", "b2", "ab"].map(String::from).to_vec();
        let q = 5;
        let mut info0 = vec![0.0; q * q];
        for row in x.chunks_exact(4) {
            let xi: Vec<f64> = std::iter::once(1.0).chain(row.iter().copied()).collect();
            for j in 0..q {
                for k in 0..q {
                    info0[j * q + k] += 0.25 * xi[j] * xi[k];
                }
            }
        }
        let (plain, kept_plain) =
            fit_dropping(Design::Dense(&x), &y, &names, None, false, None).unwrap();
        let (given, kept_given) =
            fit_dropping(Design::Dense(&x), &y, &names, None, false, Some(&info0)).unwrap();
        assert_eq!(kept_plain, kept_given);
        assert_eq!(kept_plain, vec![0, 1, 3], "the copy is left out");
        for (a, b) in plain.beta.iter().zip(&given.beta) {
            assert!((a - b).abs() < 1e-9 * a.abs().max(1.0), "{a} vs {b}");
        }
        // The same design as sparse rows gives the same fit to the bit.
        let mut rows = SparseRows {
            ptr: vec![0],
            ..SparseRows::default()
        };
        for row in x.chunks_exact(4) {
            for (j, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    rows.idx.push(j as u32);
                    rows.val.push(v);
                }
            }
            rows.ptr.push(rows.idx.len());
        }
        let (sparse, kept_sparse) =
            fit_dropping(Design::Sparse(&rows), &y, &names, None, false, Some(&info0)).unwrap();
        assert_eq!(kept_sparse, kept_given);
        assert_eq!(sparse.beta, given.beta);
        // Rows out of column order are refused, not misread.
        let mut unordered = rows.clone();
        unordered.idx.swap(0, 1);
        assert!(fit_dropping(Design::Sparse(&unordered), &y, &names, None, false, None).is_err());
        // A matrix of the wrong size is not used.
        let (wrong, _) = fit_dropping(
            Design::Dense(&x),
            &y,
            &names,
            None,
            false,
            Some(&info0[..4]),
        )
        .unwrap();
        assert_eq!(wrong.beta, plain.beta);
    }
}
