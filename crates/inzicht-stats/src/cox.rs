//! Cox proportional-hazards regression (Cox 1972) on counting-process data (start, stop]
//! (Andersen & Gill 1982), with strata, case weights, Efron (1977) or Breslow (1974) handling of
//! tied event times, the model-based and the robust (sandwich) variance (Lin & Wei 1989), with
//! clusters as R's `cluster(id)`, Harrell's concordance, and the score test of proportional
//! hazards on transformed time (Grambsch & Therneau 1994, in the form of R `survival` ≥ 3.0's
//! `cox.zph`).
//!
//! The partial log-likelihood, summed over strata and over distinct event times t with risk set
//! R(t) = {i : startᵢ < t ≤ stopᵢ} and the set D(t) of d tied events, is
//!   Breslow: Σ_D wᵢηᵢ − (Σ_D wᵢ) log S₀,
//!   Efron:   Σ_D wᵢηᵢ − w̄ Σ_{k=0}^{d−1} log(S₀ − (k/d) S₀ᴰ),
//! with S₀ = Σ_R wⱼ exp(ηⱼ), S₀ᴰ the same sum over D and w̄ the mean weight of the events
//! (Therneau & Grambsch 2000, §3.3). It is maximised by Newton–Raphson with step halving from
//! β = 0 on centred covariates, as `coxph` does; iteration stops when the relative change of the
//! log-likelihood is at most `tol` (1e-9 by default, R's `eps`: the same steps as R, and after
//! the last one the estimate's error is about the square of that step's).
//!
//! The robust variance is V = I⁻¹ (Σ_c Uᶜ Uᶜᵀ) I⁻¹ with Uᶜ the sum over cluster c (or over each
//! row) of the weighted score residuals wᵢUᵢ (Therneau & Grambsch 2000, §7.2); with Efron ties a
//! tied event at sub-step k carries weight 1 − k/d, as in R's `coxscore`.

use crate::sort::{order_key, radix_order, radix_sort};
use crate::{dist, err, linalg, StatsError};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ties {
    #[default]
    Efron,
    Breslow,
}

impl Ties {
    pub fn parse(s: &str) -> Result<Self, StatsError> {
        match s {
            "efron" => Ok(Ties::Efron),
            "breslow" => Ok(Ties::Breslow),
            o => err(format!("unknown ties method '{o}': use efron or breslow")),
        }
    }
}

/// The data of a Cox model. `x` is n × p, row-major, without missing values.
#[derive(Debug, Clone)]
pub struct CoxData<'a> {
    pub start: Option<&'a [f64]>,
    pub stop: &'a [f64],
    pub event: &'a [bool],
    pub x: &'a [f64],
    pub names: &'a [String],
    pub weights: Option<&'a [f64]>,
    pub strata: Option<&'a [usize]>,
    pub cluster: Option<&'a [usize]>,
}

#[derive(Debug, Clone, Copy)]
pub struct CoxOptions {
    pub ties: Ties,
    /// Robust (sandwich) standard errors; implied by a cluster.
    pub robust: bool,
    pub max_iter: usize,
    pub tol: f64,
    pub conf_level: f64,
}

impl Default for CoxOptions {
    fn default() -> Self {
        CoxOptions {
            ties: Ties::Efron,
            robust: false,
            max_iter: 30,
            tol: 1e-9,
            conf_level: 0.95,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Coefficient {
    pub name: String,
    pub coef: f64,
    /// The standard error used for z and p: robust when robust SEs were asked.
    pub se: f64,
    /// The model-based standard error (shown beside a robust one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub naive_se: Option<f64>,
    pub z: f64,
    pub p: f64,
    pub hr: f64,
    pub hr_lower: f64,
    pub hr_upper: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CoxFit {
    pub coefficients: Vec<Coefficient>,
    pub log_likelihood: f64,
    pub log_likelihood_null: f64,
    pub concordance: f64,
    pub n: usize,
    pub events: usize,
    pub iterations: usize,
    pub converged: bool,
    pub ties: Ties,
    pub robust: bool,
    /// Non-convergence, possibly infinite coefficients (separation): never silent.
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub beta: Vec<f64>,
    /// The variance matrix used for the standard errors (p × p).
    #[serde(skip)]
    pub var: Vec<f64>,
    /// The model-based variance I⁻¹.
    #[serde(skip)]
    pub naive_var: Vec<f64>,
}

/// Rows per tile of the prepared covariates ([`Prepared`]'s `xt`).
const TILE: usize = linalg::TILE;

/// Prepared data in walk order: rows by stratum, then by stop time descending, ties in row order
/// — the order in which the risk sets are walked. Every pass then reads the covariates front to
/// back; read in time order through an index instead, a 400,000 × 20 design (64 MB) kept the walk
/// waiting on memory for most of its time.
struct Prepared {
    p: usize,
    n: usize,
    /// Centred covariates in walk order, by tiles of TILE rows stored column by column: the
    /// value of position i and covariate j is at ((i / TILE)·p + j)·TILE + i mod TILE, and the
    /// last tile is padded with zeros. A tile is where the work happens: the linear predictors of
    /// its rows, the sums of its runs of tied rows and its share of the information matrix are
    /// all products along its contiguous columns.
    xt: Vec<f64>,
    stop: Vec<f64>,
    event: Vec<bool>,
    weight: Option<Vec<f64>>,
    start: Option<Vec<f64>>,
    /// The cluster of each walk position (robust variance by cluster only).
    cluster: Option<Vec<usize>>,
    /// Per stratum: its range of walk positions.
    strata: Vec<std::ops::Range<usize>>,
    /// Per stratum: its walk positions by start time, descending (counting-process data only).
    by_start: Vec<Vec<usize>>,
    /// Per tile: its rows' runs — rows of the same stratum and stop time — when it is whole and
    /// holds at most two: the position where the second begins, TILE when it is one run, 0 when
    /// it holds more (or is the last, partial tile). The walk then adds the sums of each run,
    /// made in parallel, instead of going row by row; with whole-day times about one tile in
    /// five holds the end of one run and the start of the next.
    split: Vec<u8>,
}

/// Work on at least this many numbers before it is split over threads (a scoped thread costs
/// tens of microseconds).
const PARALLEL_MIN: usize = 200_000;

impl Prepared {
    fn new(d: &CoxData) -> Result<Self, StatsError> {
        let n = d.stop.len();
        let p = d.names.len();
        if n == 0 {
            return err("no observations");
        }
        if d.event.len() != n
            || d.x.len() != n * p
            || d.start.is_some_and(|s| s.len() != n)
            || d.weights.is_some_and(|w| w.len() != n)
            || d.strata.is_some_and(|s| s.len() != n)
            || d.cluster.is_some_and(|c| c.len() != n)
        {
            return err("the columns of the Cox model have different lengths");
        }
        if p == 0 {
            return err("a Cox model needs at least one covariate");
        }
        // Positions are kept in 32 bits, and the concordance's pair counts (at most n²/2) in a
        // signed 64-bit integer.
        if n > 1 << 31 {
            return err("more than 2³¹ rows: split the data (for example by stratum)");
        }
        for i in 0..n {
            if !d.stop[i].is_finite() {
                return err(format!("row {}: the time is not a finite number", i + 1));
            }
            if let Some(s) = d.start {
                if !s[i].is_finite() || d.stop[i] <= s[i] {
                    return err(format!(
                        "row {}: stop ({}) must be greater than start ({}) in counting-process data",
                        i + 1,
                        d.stop[i],
                        s[i]
                    ));
                }
            } else if d.stop[i] < 0.0 {
                return err(format!("row {}: the time {} is negative", i + 1, d.stop[i]));
            }
            if let Some(w) = d.weights {
                if !(w[i].is_finite() && w[i] > 0.0) {
                    return err(format!("row {}: weights must be positive numbers", i + 1));
                }
            }
        }
        // Column sums, and whether every value is finite, in a fixed number of row parts (the
        // same bits on any machine): v · 0 is 0 for a finite v and NaN otherwise.
        let parts = if n * p > PARALLEL_MIN {
            crate::rng::ROW_PARTS
        } else {
            1
        };
        let part_sums = crate::rng::par_ranges(n, parts, |rows| {
            let mut sums = vec![0.0; p];
            let mut zeros = vec![0.0; p];
            for xi in d.x[rows.start * p..rows.end * p].chunks_exact(p) {
                for ((m, z), v) in sums.iter_mut().zip(&mut zeros).zip(xi) {
                    *m += v;
                    *z += v * 0.0;
                }
            }
            (sums, zeros.iter().all(|&z| z == 0.0))
        });
        let mut means = vec![0.0; p];
        for (sums, finite) in &part_sums {
            if !finite {
                let i =
                    d.x.chunks_exact(p)
                        .position(|row| row.iter().any(|v| !v.is_finite()))
                        .unwrap_or(0);
                return err(format!(
                    "row {}: a covariate is missing or not a number",
                    i + 1
                ));
            }
            for (m, s) in means.iter_mut().zip(sums) {
                *m += s;
            }
        }
        if !d.event.iter().any(|&e| e) {
            return err("there are no events: a Cox model cannot be estimated without events");
        }
        // Centre the covariates (unweighted means, as coxph) for numerical stability; the
        // coefficients and the partial likelihood do not change.
        means.iter_mut().for_each(|m| *m /= n as f64);
        // Walk order: stop descending (ascending on the complement of the order key), ties in
        // row order; then, stably, by stratum.
        let desc: Vec<u64> = d.stop.iter().map(|&t| !order_key(t)).collect();
        let mut row = radix_order(&desc);
        let n_strata = d.strata.map_or(1, |s| s.iter().max().map_or(1, |m| m + 1));
        let mut strata = std::iter::once(0..n).collect::<Vec<_>>();
        if let Some(s) = d.strata {
            let mut first = vec![0usize; n_strata + 1];
            for &k in s {
                first[k + 1] += 1;
            }
            for k in 0..n_strata {
                first[k + 1] += first[k];
            }
            strata = (0..n_strata).map(|k| first[k]..first[k + 1]).collect();
            let mut next = first;
            let mut by_stratum = vec![0; n];
            for &i in &row {
                by_stratum[next[s[i]]] = i;
                next[s[i]] += 1;
            }
            row = by_stratum;
        }
        let tiles = n.div_ceil(TILE);
        let mut xt = crate::rng::large_zeros(tiles * p * TILE);
        crate::rng::par_rows_mut(&mut xt, p * TILE, PARALLEL_MIN, |first, out| {
            for (b, tile) in out.chunks_exact_mut(p * TILE).enumerate() {
                let at = (first + b) * TILE;
                for (l, &i) in row[at..(at + TILE).min(n)].iter().enumerate() {
                    for (j, (v, m)) in d.x[i * p..(i + 1) * p].iter().zip(&means).enumerate() {
                        tile[j * TILE + l] = v - m;
                    }
                }
            }
        });
        let gather = |v: &[f64]| -> Vec<f64> { row.iter().map(|&i| v[i]).collect() };
        let start = d.start.map(gather);
        let by_start = match &start {
            Some(st) => strata
                .iter()
                .map(|range| {
                    let keys: Vec<u64> = st[range.clone()].iter().map(|&t| !order_key(t)).collect();
                    radix_order(&keys)
                        .into_iter()
                        .map(|k| range.start + k)
                        .collect()
                })
                .collect(),
            None => Vec::new(),
        };
        let stratum_of = |i: usize| strata.partition_point(|r| r.end <= i);
        let split = (0..tiles)
            .map(|b| {
                let (lo, hi) = (b * TILE, (b + 1) * TILE);
                if hi > n {
                    return 0;
                }
                let key = |i: usize| ((d.stop[row[i]] + 0.0).to_bits(), stratum_of(i));
                let mut starts = (lo + 1..hi).filter(|&i| key(i) != key(i - 1));
                match (starts.next(), starts.next()) {
                    (None, _) => TILE as u8,
                    (Some(i), None) => (i - lo) as u8,
                    _ => 0,
                }
            })
            .collect();
        Ok(Prepared {
            p,
            n,
            xt,
            stop: gather(d.stop),
            event: row.iter().map(|&i| d.event[i]).collect(),
            weight: d.weights.map(gather),
            start,
            cluster: d.cluster.map(|c| row.iter().map(|&i| c[i]).collect()),
            strata,
            by_start,
            split,
        })
    }

    /// The case weight of walk position `i`.
    fn w(&self, i: usize) -> f64 {
        self.weight.as_ref().map_or(1.0, |w| w[i])
    }

    /// Covariate j of walk position i.
    fn x(&self, i: usize, j: usize) -> f64 {
        self.xt[((i / TILE) * self.p + j) * TILE + i % TILE]
    }

    /// The covariates of walk position i, into `out` (p numbers).
    fn row(&self, i: usize, out: &mut [f64]) {
        let base = (i / TILE) * self.p * TILE + i % TILE;
        for (j, o) in out.iter_mut().enumerate() {
            *o = self.xt[base + j * TILE];
        }
    }

    /// Column j of tile b.
    fn column(&self, b: usize, j: usize) -> &[f64; TILE] {
        linalg::column(&self.xt[b * self.p * TILE..(b + 1) * self.p * TILE], j)
    }

    /// The linear predictors xᵢβ of the rows of tile b (zero for padding), each summed over
    /// the covariates in turn.
    fn tile_eta(&self, b: usize, beta: &[f64]) -> [f64; TILE] {
        let mut eta = [0.0; TILE];
        for (j, bj) in beta.iter().enumerate() {
            for (e, x) in eta.iter_mut().zip(self.column(b, j)) {
                *e += x * bj;
            }
        }
        eta
    }

    /// The linear predictor ηᵢ = xᵢβ of every walk position.
    fn eta(&self, beta: &[f64]) -> Vec<f64> {
        let mut eta = vec![0.0; self.n.div_ceil(TILE) * TILE];
        crate::rng::par_rows_mut(&mut eta, TILE, PARALLEL_MIN, |first, out| {
            for (b, e) in out.chunks_exact_mut(TILE).enumerate() {
                e.copy_from_slice(&self.tile_eta(first + b, beta));
            }
        });
        eta.truncate(self.n);
        eta
    }

    /// The risk scores rᵢ = wᵢ exp(ηᵢ).
    fn risk(&self, eta: &[f64]) -> Vec<f64> {
        eta.iter()
            .enumerate()
            .map(|(i, e)| self.w(i) * e.exp())
            .collect()
    }

    /// Walks every distinct event time of every stratum with the risk-set sums, calling `f`.
    fn walk(&self, eta: &[f64], want_s2: bool, mut f: impl FnMut(&EventTime)) {
        let p = self.p;
        let risk = self.risk(eta);
        let mut x = vec![0.0; p];
        for (s, range) in self.strata.iter().enumerate() {
            let mut s0 = 0.0;
            let mut s1 = vec![0.0; p];
            let mut s2 = vec![0.0; if want_s2 { p * p } else { 0 }];
            let mut ip = range.start;
            let mut jp = 0;
            let mut deaths = Vec::new();
            while ip < range.end {
                let t = self.stop[ip];
                deaths.clear();
                while ip < range.end && self.stop[ip] == t {
                    self.row(ip, &mut x);
                    add(&mut s0, &mut s1, &mut s2, risk[ip], &x, 1.0);
                    if self.event[ip] {
                        deaths.push(ip);
                    }
                    ip += 1;
                }
                if let Some(start) = &self.start {
                    let rs = &self.by_start[s];
                    while jp < rs.len() && start[rs[jp]] >= t {
                        let i = rs[jp];
                        self.row(i, &mut x);
                        add(&mut s0, &mut s1, &mut s2, risk[i], &x, -1.0);
                        jp += 1;
                    }
                }
                if deaths.is_empty() {
                    continue;
                }
                let mut d0 = 0.0;
                let mut d1 = vec![0.0; p];
                let mut d2 = vec![0.0; if want_s2 { p * p } else { 0 }];
                for &i in &deaths {
                    self.row(i, &mut x);
                    add(&mut d0, &mut d1, &mut d2, risk[i], &x, 1.0);
                }
                f(&EventTime {
                    stratum: s,
                    time: t,
                    deaths: &deaths,
                    s0,
                    s1: &s1,
                    s2: &s2,
                    d0,
                    d1: &d1,
                    d2: &d2,
                });
            }
        }
    }
}

fn add(s0: &mut f64, s1: &mut [f64], s2: &mut [f64], r: f64, x: &[f64], sign: f64) {
    let r = sign * r;
    *s0 += r;
    let p = x.len();
    for j in 0..p {
        s1[j] += r * x[j];
    }
    if !s2.is_empty() {
        for (j, row) in s2.chunks_exact_mut(p).enumerate() {
            let rx = r * x[j];
            for (s, xk) in row[..=j].iter_mut().zip(&x[..=j]) {
                *s += rx * xk;
            }
        }
    }
}

struct EventTime<'b> {
    stratum: usize,
    time: f64,
    deaths: &'b [usize],
    s0: f64,
    s1: &'b [f64],
    s2: &'b [f64],
    d0: f64,
    d1: &'b [f64],
    d2: &'b [f64],
}

/// The Efron (or Breslow) sub-steps of one event time: (weight w̄ or Σw, fraction k/d).
fn substeps(ties: Ties, d: usize, sum_w: f64) -> Vec<(f64, f64)> {
    if ties == Ties::Breslow || d == 1 {
        vec![(sum_w, 0.0)]
    } else {
        let mean_w = sum_w / d as f64;
        (0..d).map(|k| (mean_w, k as f64 / d as f64)).collect()
    }
}

struct Pass {
    loglik: f64,
    grad: Vec<f64>,
    info: Vec<f64>,
}

/// The Efron (or Breslow) sums of one event time, in closed form over the sub-steps k with
/// S₀ₖ = S₀ − fₖS₀ᴰ, fₖ = k/d: Σ w log S₀ₖ, Σ w/S₀ₖ, Σ w fₖ/S₀ₖ, Σ w/S₀ₖ², Σ w fₖ/S₀ₖ²,
/// Σ w fₖ²/S₀ₖ². Because S₁ₖ and S₂ₖ are linear in fₖ, the gradient and information of the
/// event time follow from these six scalars in O(p²), whatever the number of tied events.
struct EfronSums {
    log: f64,
    h0: f64,
    h1: f64,
    q0: f64,
    q1: f64,
    q2: f64,
}

fn efron_sums(ties: Ties, d: usize, sum_w: f64, s0: f64, d0: f64) -> EfronSums {
    let mut e = EfronSums {
        log: 0.0,
        h0: 0.0,
        h1: 0.0,
        q0: 0.0,
        q1: 0.0,
        q2: 0.0,
    };
    let (steps, w) = if ties == Ties::Breslow || d == 1 {
        (1, sum_w)
    } else {
        (d, sum_w / d as f64)
    };
    if steps == 1 {
        e.log = w * s0.ln();
        e.h0 = w / s0;
        e.q0 = w / (s0 * s0);
        return e;
    }
    // Σₖ log S₀ₖ as the logarithm of the product of the S₀ₖ, kept as a number in [1, 2) and
    // its power of two: one logarithm per event time instead of one per tied event (at 400,000
    // rows with a few hundred ties per time, the logarithms were a fifth of the walk).
    let (mut mantissa, mut exponent, mut normal) = (1.0f64, 0i64, true);
    for k in 0..steps {
        let f = k as f64 / d as f64;
        let s = s0 - f * d0;
        mantissa *= s;
        normal &= s.is_normal() && s > 0.0 && mantissa.is_normal();
        let bits = mantissa.to_bits();
        exponent += ((bits >> 52) & 0x7ff) as i64 - 1023;
        mantissa = f64::from_bits((bits & !(0x7ff << 52)) | (1023 << 52));
        let inv = 1.0 / s;
        e.h0 += w * inv;
        e.h1 += w * f * inv;
        let inv2 = inv * inv;
        e.q0 += w * inv2;
        e.q1 += w * f * inv2;
        e.q2 += w * f * f * inv2;
    }
    e.log = if normal {
        w * (mantissa.ln() + exponent as f64 * std::f64::consts::LN_2)
    } else {
        // Zero, subnormal, infinite or NaN terms: the product's bits would not be one.
        (0..steps)
            .map(|k| w * (s0 - k as f64 / d as f64 * d0).ln())
            .sum()
    };
    e
}

/// Adds the information of one event time (lower triangle) to `info`, scaled by `g`.
fn add_info(info: &mut [f64], p: usize, et: &EventTime, e: &EfronSums, g: f64) {
    for j in 0..p {
        let (s1j, d1j) = (et.s1[j], et.d1[j]);
        let row = &mut info[j * p..j * p + j + 1];
        let s2 = &et.s2[j * p..j * p + j + 1];
        let d2 = &et.d2[j * p..j * p + j + 1];
        for k in 0..=j {
            let (s1k, d1k) = (et.s1[k], et.d1[k]);
            row[k] += g
                * (s2[k] * e.h0
                    - d2[k] * e.h1
                    - (s1j * s1k * e.q0 - (s1j * d1k + d1j * s1k) * e.q1 + d1j * d1k * e.q2));
        }
    }
}

/// Buffers one pass fills, kept between the passes of a fit: allocated anew each pass, their
/// pages (tens of megabytes at 400,000 rows) would be faulted in again every time.
#[derive(Default)]
struct Scratch {
    /// The β of the last pass, whose linear predictors `tiles` holds.
    beta: Vec<f64>,
    tiles: Vec<f64>,
    enter: Vec<u32>,
    leave: Vec<u32>,
    a: Vec<f64>,
}

impl Scratch {
    /// The linear predictors of the last pass, in walk order, if it was at `beta`.
    fn eta(&self, prep: &Prepared, beta: &[f64]) -> Option<Vec<f64>> {
        if self.beta != beta {
            return None;
        }
        let record = pass_record(prep.p);
        let n = prep.n;
        let mut eta = crate::rng::large_vec(n, 0.0);
        for (b, out) in eta.chunks_mut(TILE).enumerate() {
            out.copy_from_slice(&self.tiles[b * record..b * record + out.len()]);
        }
        Some(eta)
    }
}

/// Log-likelihood, score and information at β. The information is computed in two phases: the
/// walk over event times gives, per time, the Efron sums and the S₁/D₁ part of the variance;
/// the S₂ part, Σ_t (h₀(t) S₂(t) − h₁(t) D₂(t)), is rewritten per row as Σᵢ rᵢ cᵢ xᵢxᵢᵀ with
/// cᵢ = Σ_{t ∈ (startᵢ, stopᵢ]} h₀(t) − δᵢ h₁(stopᵢ) — one weighted Gram matrix, computed in
/// parallel, instead of a running p × p sum that rows enter and (for counting-process data)
/// leave again.
///
/// The covariates are read twice: once for the tiles' linear predictors, risk scores and sums
/// (in parallel, each tile on its own), and once for the Gram matrix. The walk in between
/// touches only per-row scalars and the sums of the tiles.
fn pass(prep: &Prepared, beta: &[f64], ties: Ties, scratch: &mut Scratch) -> Pass {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU has AVX (checked just above).
        return unsafe { pass_avx(prep, beta, ties, scratch) };
    }
    pass_portable(prep, beta, ties, scratch)
}

/// [`pass`] compiled for four-wide vectors; the same operations in the same order, so the same
/// result to the bit.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn pass_avx(prep: &Prepared, beta: &[f64], ties: Ties, scratch: &mut Scratch) -> Pass {
    pass_portable(prep, beta, ties, scratch)
}

/// Per tile, in this order: η of its rows, r of its rows, and for each of its (at most two)
/// runs of tied rows the run's sums Σ r, Σ δr, Σ δw, Σ δwη, Σ δ, then Σ r·x, Σ δr·x, Σ δw·x
/// per covariate (see `Prepared::split`).
const TILE_SCALARS: usize = 5;

/// The length of a tile's record in a pass's scratch: η and r of its rows, and the sums of
/// its (at most two) runs.
fn pass_record(p: usize) -> usize {
    2 * TILE + 2 * (TILE_SCALARS + 3 * p)
}

#[inline(always)]
fn pass_portable(prep: &Prepared, beta: &[f64], ties: Ties, scratch: &mut Scratch) -> Pass {
    let (p, n) = (prep.p, prep.n);
    let run_record = TILE_SCALARS + 3 * p;
    let record = pass_record(p);
    let Scratch {
        beta: tiles_beta,
        tiles,
        enter,
        leave,
        a,
    } = scratch;
    if tiles.capacity() < n.div_ceil(TILE) * record {
        crate::rng::reserve_large(tiles, n.div_ceil(TILE) * record);
    }
    tiles.resize(n.div_ceil(TILE) * record, 0.0);
    // At β = 0 (the first pass) every η is 0: the covariates need not be read for it (x·0 sums
    // to ±0, and exp(±0) = 1, so the numbers are the same).
    let at_zero = beta.iter().all(|&b| b == 0.0);
    crate::rng::par_rows_mut(tiles, record, PARALLEL_MIN, |first, out| {
        for (k, rec) in out.chunks_exact_mut(record).enumerate() {
            let b = first + k;
            let (eta, rest) = rec.split_at_mut(TILE);
            let (risk, rest) = rest.split_at_mut(TILE);
            if at_zero {
                eta.fill(0.0);
            } else {
                eta.copy_from_slice(&prep.tile_eta(b, beta));
            }
            let mut dr = [0.0; TILE];
            let mut dw = [0.0; TILE];
            for l in 0..TILE.min(n - b * TILE) {
                let i = b * TILE + l;
                let w = prep.w(i);
                risk[l] = w * eta[l].exp();
                if prep.event[i] {
                    dr[l] = risk[l];
                    dw[l] = w;
                }
            }
            let split = prep.split[b] as usize;
            if split == 0 {
                continue;
            }
            let risk: &[f64; TILE] = linalg::column(risk, 0);
            let runs = [0..split, split..TILE];
            for (run, out) in runs
                .into_iter()
                .filter(|r| !r.is_empty())
                .zip(rest.chunks_exact_mut(run_record))
            {
                let (scalars, sums) = out.split_at_mut(TILE_SCALARS);
                // The run's rows only (the others zero), so that its sums are the same
                // four-lane dot products as a whole tile's.
                let keep = |v: &[f64; TILE]| -> [f64; TILE] {
                    std::array::from_fn(|l| if run.contains(&l) { v[l] } else { 0.0 })
                };
                let (r, dr, dw) = if run.len() == TILE {
                    (*risk, dr, dw)
                } else {
                    (keep(risk), keep(&dr), keep(&dw))
                };
                let mut run_sums = [0.0; TILE_SCALARS];
                for l in run.clone() {
                    run_sums[0] += r[l];
                    if prep.event[b * TILE + l] {
                        run_sums[1] += dr[l];
                        run_sums[2] += dw[l];
                        run_sums[3] += dw[l] * eta[l];
                        run_sums[4] += 1.0;
                    }
                }
                scalars.copy_from_slice(&run_sums);
                for (j, out) in sums.chunks_exact_mut(3).enumerate() {
                    out.copy_from_slice(&tile_dots(prep.column(b, j), [&r, &dr, &dw]));
                }
            }
        }
    });
    tiles_beta.clear();
    tiles_beta.extend_from_slice(beta);
    let tiles = &*tiles;
    let eta = |i: usize| tiles[(i / TILE) * record + i % TILE];
    let risk = |i: usize| tiles[(i / TILE) * record + TILE + i % TILE];
    let mut loglik = 0.0;
    let mut grad = vec![0.0; p];
    let mut info = vec![0.0; p * p];
    // Per event time, numbered in walk order, h₀ and h₁ (EfronSums); after each stratum's
    // last time one more number with h₀ = h₁ = 0 marks its end.
    let mut h0 = Vec::new();
    let mut h1 = Vec::new();
    let mut ends = Vec::with_capacity(prep.strata.len());
    // Per walk position: the number of the first event time at which the row is at risk, and of
    // the first at which it no longer is (its stratum's end when it stays to the last time).
    enter.resize(n, 0);
    leave.clear();
    leave.resize(n, u32::MAX);
    let mut s1 = vec![0.0; p];
    // Per run of tied rows, over its events: Σ rx (D₁) and Σ wx (the score's first term).
    let mut d1 = vec![0.0; p];
    let mut wx = vec![0.0; p];
    let mut x = vec![0.0; p];
    for (s, range) in prep.strata.iter().enumerate() {
        let mut s0 = 0.0;
        s1.fill(0.0);
        let mut ip = range.start;
        let mut jp = 0;
        while ip < range.end {
            let t = prep.stop[ip];
            let number = h0.len() as u32;
            let (mut deaths, mut sum_w, mut d0) = (0usize, 0.0, 0.0);
            d1.fill(0.0);
            wx.fill(0.0);
            // The rows tied at t, a tile at a time.
            loop {
                let b = ip / TILE;
                let split = prep.split[b] as usize;
                if split != 0 {
                    // A run in a tile of at most two starts at the tile's first row or at the
                    // split, and ends at the split or the tile's end.
                    let second = ip > b * TILE;
                    debug_assert!(ip == b * TILE || ip == b * TILE + split);
                    let end = if second || split == TILE {
                        (b + 1) * TILE
                    } else {
                        b * TILE + split
                    };
                    let at = b * record + 2 * TILE + usize::from(second) * run_record;
                    let (scalars, sums) = tiles[at..at + run_record].split_at(TILE_SCALARS);
                    s0 += scalars[0];
                    d0 += scalars[1];
                    sum_w += scalars[2];
                    loglik += scalars[3];
                    deaths += scalars[4] as usize;
                    for (j, sum) in sums.chunks_exact(3).enumerate() {
                        s1[j] += sum[0];
                        d1[j] += sum[1];
                        wx[j] += sum[2];
                    }
                    enter[ip..end].fill(number);
                    ip = end;
                } else {
                    let tile_end = ((b + 1) * TILE).min(range.end);
                    let run = ip;
                    while ip < tile_end && prep.stop[ip] == t {
                        s0 += risk(ip);
                        enter[ip] = number;
                        if prep.event[ip] {
                            let w = prep.w(ip);
                            deaths += 1;
                            sum_w += w;
                            loglik += w * eta(ip);
                            d0 += risk(ip);
                        }
                        ip += 1;
                    }
                    for j in 0..p {
                        let column = prep.column(b, j);
                        let (mut r, mut dr, mut dw) = (0.0, 0.0, 0.0);
                        for i in run..ip {
                            let xl = column[i - b * TILE];
                            r += risk(i) * xl;
                            if prep.event[i] {
                                dr += risk(i) * xl;
                                dw += prep.w(i) * xl;
                            }
                        }
                        s1[j] += r;
                        d1[j] += dr;
                        wx[j] += dw;
                    }
                }
                if ip == range.end || prep.stop[ip] != t {
                    break;
                }
            }
            if let Some(start) = &prep.start {
                let rs = &prep.by_start[s];
                while jp < rs.len() && start[rs[jp]] >= t {
                    let i = rs[jp];
                    let r = -risk(i);
                    s0 += r;
                    prep.row(i, &mut x);
                    for (a, xj) in s1.iter_mut().zip(&x) {
                        *a += r * xj;
                    }
                    leave[i] = number;
                    jp += 1;
                }
            }
            if deaths == 0 {
                continue;
            }
            let e = efron_sums(ties, deaths, sum_w, s0, d0);
            loglik -= e.log;
            for j in 0..p {
                grad[j] += wx[j] - (s1[j] * e.h0 - d1[j] * e.h1);
                let (s1j, d1j) = (s1[j], d1[j]);
                for k in 0..=j {
                    let (s1k, d1k) = (s1[k], d1[k]);
                    info[j * p + k] -=
                        s1j * s1k * e.q0 - (s1j * d1k + d1j * s1k) * e.q1 + d1j * d1k * e.q2;
                }
            }
            h0.push(e.h0);
            h1.push(e.h1);
        }
        let end = h0.len();
        ends.push(end);
        h0.push(0.0);
        h1.push(0.0);
        for l in &mut leave[range.clone()] {
            *l = (*l).min(end as u32);
        }
    }
    // later[e] = Σ h₀ over the event times numbered e up to its stratum's end (the times at
    // and before that one), summed from the earliest time up; 0 at a stratum's end.
    let mut later = vec![0.0; h0.len()];
    let mut first = 0;
    for &end in &ends {
        let mut sum = 0.0;
        for e in (first..end).rev() {
            sum += h0[e];
            later[e] = sum;
        }
        first = end + 1;
    }
    // Row weights aᵢ = rᵢ cᵢ.
    a.resize(n, 0.0);
    crate::rng::par_rows_mut(a, 1, PARALLEL_MIN, |first, out| {
        for (k, ai) in out.iter_mut().enumerate() {
            let i = first + k;
            let (from, to) = (enter[i] as usize, leave[i] as usize);
            *ai = if from < to {
                let mut c = later[from] - later[to];
                if prep.event[i] {
                    c -= h1[from];
                }
                risk(i) * c
            } else {
                0.0
            };
        }
    });
    // In a fixed number of parts when large (the same bits on any machine: rng::ROW_PARTS).
    let tiles = n.div_ceil(TILE);
    let n_parts = if n * p * p > 2_000_000 {
        crate::rng::ROW_PARTS
    } else {
        1
    };
    let a = &*a;
    let parts = crate::rng::par_ranges(tiles, n_parts, |part| {
        linalg::weighted_gram(&prep.xt, p, a, part)
    });
    for part in parts {
        for (v, g) in info.iter_mut().zip(part) {
            *v += g;
        }
    }
    for j in 0..p {
        for k in 0..j {
            info[k * p + j] = info[j * p + k];
        }
    }
    Pass { loglik, grad, info }
}

/// Σ r·x, Σ δr·x and Σ δw·x over the rows of a whole tile, each in four lanes (row l to lane
/// l mod 4) added as (l₀ + l₁) + (l₂ + l₃): independent sums that run as vectors.
#[inline(always)]
fn tile_dots(x: &[f64; TILE], weights: [&[f64; TILE]; 3]) -> [f64; 3] {
    let mut lanes = [[0.0f64; 4]; 3];
    for r in (0..TILE).step_by(4) {
        for (lane, w) in lanes.iter_mut().zip(weights) {
            for l in 0..4 {
                lane[l] += w[r + l] * x[r + l];
            }
        }
    }
    lanes.map(|l| (l[0] + l[1]) + (l[2] + l[3]))
}

/// Fits a Cox model.
pub fn fit(d: &CoxData, opt: &CoxOptions) -> Result<CoxFit, StatsError> {
    let prep = Prepared::new(d)?;
    let p = prep.p;
    let mut beta = vec![0.0; p];
    let mut scratch = Scratch::default();
    let mut cur = pass(&prep, &beta, opt.ties, &mut scratch);
    let loglik_null = cur.loglik;
    let mut warnings = Vec::new();
    let mut iterations = 0;
    let mut converged = false;
    let singular = |j: usize| {
        StatsError(format!(
            "the covariate '{}' is constant or a linear combination of the others (the information matrix is singular); leave it out",
            d.names[j]
        ))
    };
    while iterations < opt.max_iter {
        iterations += 1;
        let l = linalg::cholesky(&cur.info, p).map_err(singular)?;
        let step = linalg::chol_solve(&l, p, &cur.grad);
        let mut new_beta: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b + s).collect();
        let mut next = pass(&prep, &new_beta, opt.ties, &mut scratch);
        let close = |old: f64, new: f64| {
            (1.0 - old / new).abs() <= opt.tol || (new - old).abs() <= f64::EPSILON * new.abs()
        };
        // Step halving when the likelihood decreases (as coxph). A change within the
        // convergence tolerance is convergence, as in coxph, which tests it first: near the
        // maximum the likelihood is flat, and a decrease in its last bits is rounding, not a
        // step too far (halving it would stop short of the maximum).
        let mut halvings = 0;
        while !close(cur.loglik, next.loglik)
            && (next.loglik < cur.loglik || next.loglik.is_nan())
            && halvings < 30
        {
            halvings += 1;
            new_beta = beta
                .iter()
                .zip(&new_beta)
                .map(|(b, nb)| (b + nb) / 2.0)
                .collect();
            next = pass(&prep, &new_beta, opt.ties, &mut scratch);
        }
        let done = close(cur.loglik, next.loglik);
        beta = new_beta;
        cur = next;
        if done {
            converged = true;
            break;
        }
    }
    if !converged {
        warnings.push(format!(
            "did not converge in {} iterations: the estimates are not reliable (often a covariate that (almost) separates events from non-events)",
            opt.max_iter
        ));
    }
    let l = linalg::cholesky(&cur.info, p).map_err(singular)?;
    let naive_var = linalg::chol_inverse(&l, p);
    // Infinite coefficients (monotone likelihood): the remaining Newton step is large relative
    // to the coefficient (R's check with toler.inf = √eps).
    let step = linalg::mat_vec(&naive_var, p, &cur.grad);
    for j in 0..p {
        if step[j].abs() > 1e-9 && step[j].abs() > 3.16e-5 * beta[j].abs() {
            warnings.push(format!(
                "the coefficient of '{}' may be infinite: the likelihood keeps increasing (separation — the events occur only at one side of this covariate)",
                d.names[j]
            ));
        }
    }
    let robust = opt.robust || d.cluster.is_some();
    let var = if robust {
        robust_variance(&prep, &beta, opt.ties, &naive_var)
    } else {
        naive_var.clone()
    };
    let z_crit = dist::norm_quantile(1.0 - (1.0 - opt.conf_level) / 2.0);
    let coefficients = (0..p)
        .map(|j| {
            let se = var[j * p + j].sqrt();
            let z = beta[j] / se;
            Coefficient {
                name: d.names[j].clone(),
                coef: beta[j],
                se,
                naive_se: robust.then(|| naive_var[j * p + j].sqrt()),
                z,
                p: dist::two_sided_p(z),
                hr: beta[j].exp(),
                hr_lower: (beta[j] - z_crit * se).exp(),
                hr_upper: (beta[j] + z_crit * se).exp(),
            }
        })
        .collect();
    // The last pass was at β̂ (Newton and step halving both end on a pass at the β they keep):
    // its tiles hold the linear predictors, so the covariates are not read once more.
    let eta = match scratch.eta(&prep, &beta) {
        Some(eta) => eta,
        None => prep.eta(&beta),
    };
    let conc = concordance(&prep, &eta);
    Ok(CoxFit {
        coefficients,
        log_likelihood: cur.loglik,
        log_likelihood_null: loglik_null,
        concordance: conc,
        n: prep.n,
        events: d.event.iter().filter(|&&e| e).count(),
        iterations,
        converged,
        ties: opt.ties,
        robust,
        warnings,
        beta,
        var,
        naive_var,
    })
}

/// Per event time (ascending within a stratum), the increments the score residuals need.
struct Increment {
    time: f64,
    /// Σ_k w̄/S₀ₖ: the hazard increment for a row at risk.
    haz: f64,
    /// Σ_k w̄ x̄ₖ/S₀ₖ.
    xhaz: Vec<f64>,
    /// Σ_k (k/d) w̄/S₀ₖ and Σ_k (k/d) w̄ x̄ₖ/S₀ₖ: what a tied event does not carry (Efron).
    haz_tied: f64,
    xhaz_tied: Vec<f64>,
    /// (1/d) Σ_k x̄ₖ: the mean the event's own covariates are compared with.
    xbar: Vec<f64>,
}

/// Score residuals Uᵢ (unweighted, on centred covariates), n × p, in walk order.
fn score_residuals(prep: &Prepared, beta: &[f64], ties: Ties) -> Vec<f64> {
    let p = prep.p;
    let eta = prep.eta(beta);
    let mut incs: Vec<Vec<Increment>> = Vec::new();
    incs.resize_with(prep.strata.len(), Vec::new);
    prep.walk(&eta, false, |et| {
        let d = et.deaths.len();
        let sum_w: f64 = et.deaths.iter().map(|&i| prep.w(i)).sum();
        let mut inc = Increment {
            time: et.time,
            haz: 0.0,
            xhaz: vec![0.0; p],
            haz_tied: 0.0,
            xhaz_tied: vec![0.0; p],
            xbar: vec![0.0; p],
        };
        let steps = substeps(ties, d, sum_w);
        let n_steps = steps.len() as f64;
        for (w, f) in steps {
            let s0 = et.s0 - f * et.d0;
            inc.haz += w / s0;
            inc.haz_tied += f * w / s0;
            for j in 0..p {
                let xb = (et.s1[j] - f * et.d1[j]) / s0;
                inc.xhaz[j] += w * xb / s0;
                inc.xhaz_tied[j] += f * w * xb / s0;
                inc.xbar[j] += xb / n_steps;
            }
        }
        incs[et.stratum].push(inc);
    });
    let mut resid = vec![0.0; prep.n * p];
    let mut xi = vec![0.0; p];
    for (s, list) in incs.iter_mut().enumerate() {
        list.reverse(); // ascending time
        let m = list.len();
        // Prefix sums: cum[j] = Σ_{m' < j}.
        let mut cum_h = vec![0.0; m + 1];
        let mut cum_x = vec![0.0; (m + 1) * p];
        for (j, inc) in list.iter().enumerate() {
            cum_h[j + 1] = cum_h[j] + inc.haz;
            for k in 0..p {
                cum_x[(j + 1) * p + k] = cum_x[j * p + k] + inc.xhaz[k];
            }
        }
        let times: Vec<f64> = list.iter().map(|i| i.time).collect();
        for i in prep.strata[s].clone() {
            let lo = match &prep.start {
                Some(st) => times.partition_point(|&t| t <= st[i]),
                None => 0,
            };
            let hi = times.partition_point(|&t| t <= prep.stop[i]);
            if hi <= lo {
                continue;
            }
            let r = eta[i].exp();
            prep.row(i, &mut xi);
            let out = &mut resid[i * p..(i + 1) * p];
            for k in 0..p {
                out[k] -=
                    r * (xi[k] * (cum_h[hi] - cum_h[lo]) - (cum_x[hi * p + k] - cum_x[lo * p + k]));
            }
            if prep.event[i] {
                let inc = &list[hi - 1];
                for k in 0..p {
                    out[k] += xi[k] - inc.xbar[k];
                    out[k] += r * (xi[k] * inc.haz_tied - inc.xhaz_tied[k]);
                }
            }
        }
    }
    resid
}

fn robust_variance(prep: &Prepared, beta: &[f64], ties: Ties, naive_var: &[f64]) -> Vec<f64> {
    let p = prep.p;
    let resid = score_residuals(prep, beta, ties);
    let n_clusters = prep
        .cluster
        .as_ref()
        .map_or(prep.n, |c| c.iter().max().map_or(0, |m| m + 1));
    let mut sums = vec![0.0; n_clusters * p];
    for i in 0..prep.n {
        let c = prep.cluster.as_ref().map_or(i, |c| c[i]);
        let w = prep.w(i);
        for k in 0..p {
            sums[c * p + k] += w * resid[i * p + k];
        }
    }
    let mut meat = vec![0.0; p * p];
    for c in 0..n_clusters {
        let u = &sums[c * p..(c + 1) * p];
        for j in 0..p {
            for k in 0..p {
                meat[j * p + k] += u[j] * u[k];
            }
        }
    }
    let mut tmp = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..p {
            tmp[i * p + j] = (0..p).map(|k| naive_var[i * p + k] * meat[k * p + j]).sum();
        }
    }
    let mut v = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..p {
            v[i * p + j] = (0..p).map(|k| tmp[i * p + k] * naive_var[k * p + j]).sum();
        }
    }
    v
}

/// Harrell's concordance of the linear predictor with the outcome, within strata: among
/// comparable pairs — an event at t and a row at risk at t with a later time (or censored at
/// t) — the share where the event has the higher risk score; ties in the score count ½.
/// Weighted by wᵢwⱼ (R's `concordance` with timewt = "n").
///
/// The rows are visited in order of η, lowest first, so the rows visited before an event are
/// those it out-ranks. Which of them are comparable with event i is a question about times
/// only, answered by a Fenwick tree over time positions instead of a tree over the ranks of η:
/// with each stratum's distinct stop times numbered k = 0, 1, … ascending, a row gets the key
/// 2k for an event and 2k + 1 when censored, and row j is comparable with event i when both
/// are in one stratum, keyⱼ > keyᵢ (it leaves later, or is censored at tᵢ), and j is at risk
/// at tᵢ (startⱼ < tᵢ). Rows with startⱼ ≥ tᵢ all have keyⱼ > keyᵢ, so they are counted in a
/// second tree, by uⱼ = the number of the stratum's stop times ≤ startⱼ (startⱼ ≥ tᵢ ⟺
/// uⱼ > kᵢ), and subtracted. The trees hold a few numbers per distinct time — a few thousand
/// that stay in a core's cache, where a tree over the ranks of η (400,000 at the benchmark's
/// size) did not. Equal values of η are visited as one group: an event's pairs within its group
/// are the ties. Without case weights the counts are whole numbers, summed as integers (exact,
/// and quicker along a tree's chain of additions).
fn concordance(prep: &Prepared, eta: &[f64]) -> f64 {
    concordance_in_parts(prep, eta, None)
}

/// [`concordance`] with the visit in order of η cut into `parts` parts; by default one per
/// 50,000 rows, at most CONCORDANCE_PARTS, and only as many as keep the parts' histograms over
/// the time positions (and their suffix sums) within n numbers: with continuous times a part's
/// trees no longer stay in cache, so parts would cost memory without saving time.
fn concordance_in_parts(prep: &Prepared, eta: &[f64], parts: Option<usize>) -> f64 {
    let times = TimeKeys::new(prep);
    let parts = parts.unwrap_or_else(|| {
        let positions = times.key_first[times.key_first.len() - 1]
            + times
                .u
                .as_ref()
                .map_or(0, |_| times.u_first[times.u_first.len() - 1]);
        (prep.n / CONCORDANCE_PART_MIN)
            .min(prep.n / (2 * positions).max(1))
            .clamp(1, CONCORDANCE_PARTS)
    });
    let (conc, disc, tied) = match &prep.weight {
        Some(w) => times.visit(prep, eta, |i| w[i], parts),
        None => times.visit(prep, eta, |_| 1i64, parts),
    };
    let denom = conc + disc + tied;
    if denom > 0.0 {
        (conc + tied / 2.0) / denom
    } else {
        f64::NAN
    }
}

/// The time positions of [`concordance`]: per walk position its key and (with start times) its
/// u, both counted from its stratum's first position; per stratum where its keys and its u
/// positions begin in the trees' shared storage.
struct TimeKeys {
    key: Vec<u32>,
    u: Option<Vec<u32>>,
    /// Per stratum, then one past the last: the first key and the first u position.
    key_first: Vec<usize>,
    u_first: Vec<usize>,
}

impl TimeKeys {
    fn new(prep: &Prepared) -> Self {
        let mut key = vec![0u32; prep.n];
        let mut u = prep.start.as_ref().map(|_| vec![0u32; prep.n]);
        let (mut key_first, mut u_first) = (vec![0], vec![0]);
        let mut times = Vec::new();
        for range in &prep.strata {
            // Walk order is stop descending: numbered from the stratum's end.
            times.clear();
            for i in range.clone().rev() {
                if times.last() != Some(&prep.stop[i]) {
                    times.push(prep.stop[i]);
                }
                key[i] = (2 * (times.len() - 1) + usize::from(!prep.event[i])) as u32;
            }
            if let (Some(start), Some(u)) = (&prep.start, &mut u) {
                for i in range.clone() {
                    u[i] = times.partition_point(|&t| t <= start[i]) as u32;
                }
            }
            key_first.push(key_first[key_first.len() - 1] + 2 * times.len());
            u_first.push(u_first[u_first.len() - 1] + times.len() + 1);
        }
        TimeKeys {
            key,
            u,
            key_first,
            u_first,
        }
    }

    /// Σ over events of w × the comparable weight with a lower η, an equal η and a higher η.
    ///
    /// The rows in order of η are cut into `parts` consecutive parts (never inside a group of equal
    /// η; [`concordance_in_parts`] says how many), visited on the available cores. A row visited
    /// before event i in an earlier part is counted from the histograms of the keys of the earlier
    /// parts (each part's made in parallel, then their suffix sums over positions), a row of i's
    /// own part by the part's own trees. The parts' sums are added in part order. The number of
    /// parts depends on the data only, so the result — exact without weights — is the same on any
    /// number of cores also with weights.
    fn visit<W: Weight>(
        &self,
        prep: &Prepared,
        eta: &[f64],
        w: impl Fn(usize) -> W + Sync,
        parts: usize,
    ) -> (f64, f64, f64) {
        let n = prep.n;
        let n_keys = self.key_first[self.key_first.len() - 1];
        let n_us = if self.u.is_some() {
            self.u_first[self.u_first.len() - 1]
        } else {
            0
        };
        let mut stratum = vec![0u32; if prep.strata.len() > 1 { n } else { 0 }];
        for (s, range) in prep.strata.iter().enumerate().skip(1) {
            stratum[range.clone()].fill(s as u32);
        }
        let stratum_of = |i: usize| stratum.get(i).map_or(0, |&s| s as usize);
        // Σ w of the given rows per key and per u position (each stratum its slice).
        let histogram = |rows: &mut dyn Iterator<Item = usize>| -> (Vec<W>, Vec<W>) {
            let mut keys = vec![W::default(); n_keys];
            let mut us = vec![W::default(); n_us];
            for i in rows {
                let s = stratum_of(i);
                keys[self.key_first[s] + self.key[i] as usize] += w(i);
                if let Some(u) = &self.u {
                    us[self.u_first[s] + u[i] as usize] += w(i);
                }
            }
            (keys, us)
        };
        // Within a stratum, Σ over the positions after each (suffix sums).
        let suffix = |counts: &mut [W], first: &[usize]| {
            for b in first.windows(2) {
                let mut sum = W::default();
                for c in counts[b[0]..b[1]].iter_mut().rev() {
                    let here = *c;
                    *c = sum;
                    sum += here;
                }
            }
        };
        // By η, each with its walk position, read in order.
        let by_eta = radix_sort(
            eta.iter()
                .enumerate()
                .map(|(i, &e)| (order_key(e), i as u64))
                .collect(),
        );
        let parts = parts.clamp(1, n.max(1));
        let mut bounds = vec![0];
        for q in 1..parts {
            let mut b = (q * n / parts).max(bounds[q - 1]);
            while b < n && by_eta[b].0 == by_eta[b - 1].0 {
                b += 1;
            }
            bounds.push(b);
        }
        bounds.push(n);
        let part_rows = |q: usize| {
            by_eta[bounds[q]..bounds[q + 1]]
                .iter()
                .map(|&(_, i)| i as usize)
        };
        // All rows (the comparable totals), and per part the rows of the parts before it, as
        // the weight above each key and above each u position.
        let hists = crate::rng::par_map(parts, parts, |q| histogram(&mut part_rows(q)));
        let mut key_all = vec![W::default(); n_keys];
        let mut u_all = vec![W::default(); n_us];
        let mut earlier: Vec<(Vec<W>, Vec<W>)> = Vec::with_capacity(parts);
        for (keys, us) in &hists {
            let (mut k_above, mut u_above) = (key_all.clone(), u_all.clone());
            suffix(&mut k_above, &self.key_first);
            if self.u.is_some() {
                suffix(&mut u_above, &self.u_first);
            }
            earlier.push((k_above, u_above));
            key_all.iter_mut().zip(keys).for_each(|(a, &b)| *a += b);
            u_all.iter_mut().zip(us).for_each(|(a, &b)| *a += b);
        }
        drop(hists);
        suffix(&mut key_all, &self.key_first);
        if self.u.is_some() {
            suffix(&mut u_all, &self.u_first);
        }
        // Each stratum's trees: a slice with one slot more than its positions (Fenwick, 1-based).
        let tree = |t: &[usize], s: usize| t[s] + s..t[s + 1] + s + 1;
        let visit_part = |q: usize| -> (W, W, W) {
            let (key_above, u_above) = &earlier[q];
            let mut key_tree = vec![W::default(); n_keys + self.key_first.len()];
            let mut u_tree = vec![
                W::default();
                if self.u.is_some() {
                    n_us + self.u_first.len()
                } else {
                    0
                }
            ];
            // Per stratum, Σ w of the part's rows visited so far (each is in both trees).
            let mut visited = vec![W::default(); prep.strata.len()];
            // The comparable weight of event i among the rows visited so far: in the parts
            // before, and in this part.
            let comparable =
                |i: usize, s: usize, key_tree: &[W], u_tree: &[W], visited: &[W]| -> W {
                    let k = self.key[i] as usize;
                    let mut c = key_above[self.key_first[s] + k]
                        + (visited[s] - fenwick_prefix(&key_tree[tree(&self.key_first, s)], k + 1));
                    if self.u.is_some() {
                        let time_no = k / 2;
                        c = c
                            - (u_above[self.u_first[s] + time_no]
                                + (visited[s]
                                    - fenwick_prefix(
                                        &u_tree[tree(&self.u_first, s)],
                                        time_no + 1,
                                    )));
                    }
                    c
                };
            let (mut conc, mut disc, mut tied) = (W::default(), W::default(), W::default());
            let mut before = Vec::new();
            let (mut g, end) = (bounds[q], bounds[q + 1]);
            while g < end {
                let mut h = g + 1;
                while h < end && by_eta[h].0 == by_eta[g].0 {
                    h += 1;
                }
                let group = &by_eta[g..h];
                let events = || {
                    group
                        .iter()
                        .map(|&(_, i)| i as usize)
                        .filter(|&i| self.key[i].is_multiple_of(2))
                };
                // The events' comparable rows among those with a lower η, before the group is
                // added.
                before.clear();
                before.extend(
                    events().map(|i| comparable(i, stratum_of(i), &key_tree, &u_tree, &visited)),
                );
                for &(_, i) in group {
                    let (i, s) = (i as usize, stratum_of(i as usize));
                    let wi = w(i);
                    fenwick_add(
                        &mut key_tree[tree(&self.key_first, s)],
                        self.key[i] as usize,
                        wi,
                    );
                    visited[s] += wi;
                    if let Some(u) = &self.u {
                        fenwick_add(&mut u_tree[tree(&self.u_first, s)], u[i] as usize, wi);
                    }
                }
                for (i, &below) in events().zip(&before) {
                    let s = stratum_of(i);
                    // An event is not comparable with itself (its own key is not above its
                    // key), so the group's share is the ties in η.
                    let upto = if group.len() == 1 {
                        below
                    } else {
                        comparable(i, s, &key_tree, &u_tree, &visited)
                    };
                    let k = self.key[i] as usize;
                    let mut total = key_all[self.key_first[s] + k];
                    if self.u.is_some() {
                        total = total - u_all[self.u_first[s] + k / 2];
                    }
                    let wi = w(i);
                    conc += wi * below;
                    tied += wi * (upto - below);
                    disc += wi * (total - upto);
                }
                g = h;
            }
            (conc, disc, tied)
        };
        let (mut conc, mut disc, mut tied) = (W::default(), W::default(), W::default());
        for (c, d, t) in crate::rng::par_map(parts, parts, visit_part) {
            conc += c;
            disc += d;
            tied += t;
        }
        (conc.to_f64(), disc.to_f64(), tied.to_f64())
    }
}

/// How many parts the concordance's visit in order of η is cut into at most (see
/// [`TimeKeys::visit`]); fixed, so that weighted sums do not depend on the number of cores.
const CONCORDANCE_PARTS: usize = crate::rng::ROW_PARTS;

/// The fewest rows per part of the concordance's visit: below, a part's histogram and trees
/// would cost more than its share of the visit saves.
const CONCORDANCE_PART_MIN: usize = 50_000;

/// A case weight: whole numbers without weights (exact sums), f64 with them.
trait Weight:
    Copy
    + Default
    + Send
    + Sync
    + std::ops::AddAssign
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
{
    fn to_f64(self) -> f64;
}

impl Weight for f64 {
    fn to_f64(self) -> f64 {
        self
    }
}

impl Weight for i64 {
    fn to_f64(self) -> f64 {
        self as f64
    }
}

/// Adds v at position i of a Fenwick tree (`t[0]` unused; positions 0..t.len() − 1).
fn fenwick_add<W: Weight>(t: &mut [W], i: usize, v: W) {
    let mut i = i + 1;
    while i < t.len() {
        t[i] += v;
        i += i & i.wrapping_neg();
    }
}

/// Σ of the positions before i of a Fenwick tree.
fn fenwick_prefix<W: Weight>(t: &[W], i: usize) -> W {
    let mut i = i;
    let mut s = W::default();
    while i > 0 {
        s += t[i];
        i -= i & i.wrapping_neg();
    }
    s
}

/// How time is transformed in the proportional-hazards test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ZphTransform {
    /// 1 − the left-continuous Kaplan–Meier of the pooled data (R's default).
    Km,
    Identity,
    Log,
    Rank,
}

impl ZphTransform {
    pub fn parse(s: &str) -> Result<Self, StatsError> {
        match s {
            "km" => Ok(ZphTransform::Km),
            "identity" => Ok(ZphTransform::Identity),
            "log" => Ok(ZphTransform::Log),
            "rank" => Ok(ZphTransform::Rank),
            o => err(format!(
                "unknown transform '{o}': use km, identity, log or rank"
            )),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ZphTerm {
    pub name: String,
    pub chisq: f64,
    pub df: usize,
    pub p: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Zph {
    pub transform: ZphTransform,
    pub terms: Vec<ZphTerm>,
    pub global: ZphTerm,
}

/// Score test of proportional hazards: for each covariate xⱼ, the score test of adding
/// xⱼ·g(t) to the fitted model, at (β̂, 0) — R `survival` ≥ 3's `cox.zph` (Grambsch &
/// Therneau 1994; Therneau & Grambsch 2000, §6.2). Because g(t) is the same for the whole risk
/// set at t, the score and information of the extended model are the per-time contributions
/// of the fit multiplied by g(t) and g(t)².
pub fn zph(d: &CoxData, fit: &CoxFit, transform: ZphTransform) -> Result<Zph, StatsError> {
    let prep = Prepared::new(d)?;
    let p = prep.p;
    let eta = prep.eta(&fit.beta);
    // Distinct event times and g(t).
    let mut ev_times: Vec<f64> = (0..prep.n)
        .filter(|&i| d.event[i])
        .map(|i| d.stop[i])
        .collect();
    ev_times.sort_by(f64::total_cmp);
    let g_of = |t: f64| -> f64 {
        match transform {
            ZphTransform::Identity => t,
            ZphTransform::Log => t.ln(),
            _ => t,
        }
    };
    let km_left = if transform == ZphTransform::Km {
        Some(pooled_km_left(d))
    } else {
        None
    };
    let rank_of = |t: f64| -> f64 {
        // Average rank of t among all event times (with ties), as R's rank().
        let lo = ev_times.partition_point(|&v| v < t);
        let hi = ev_times.partition_point(|&v| v <= t);
        (lo + hi + 1) as f64 / 2.0
    };
    let q = 2 * p;
    let mut u = vec![0.0; q];
    let mut imat = vec![0.0; q * q];
    let mut grad_t = vec![0.0; p];
    let mut info_t = vec![0.0; p * p];
    prep.walk(&eta, true, |et| {
        let g = match transform {
            ZphTransform::Km => km_left.as_ref().map_or(0.0, |k| 1.0 - k.at(et.time)),
            ZphTransform::Rank => rank_of(et.time),
            _ => g_of(et.time),
        };
        grad_t.iter_mut().for_each(|v| *v = 0.0);
        info_t.iter_mut().for_each(|v| *v = 0.0);
        let mut sum_w = 0.0;
        for &i in et.deaths {
            let w = prep.w(i);
            sum_w += w;
            for j in 0..p {
                grad_t[j] += w * prep.x(i, j);
            }
        }
        let e = efron_sums(fit.ties, et.deaths.len(), sum_w, et.s0, et.d0);
        for j in 0..p {
            grad_t[j] -= et.s1[j] * e.h0 - et.d1[j] * e.h1;
        }
        add_info(&mut info_t, p, et, &e, 1.0);
        for j in 0..p {
            u[j] += grad_t[j];
            u[p + j] += g * grad_t[j];
            for k in 0..=j {
                let v = info_t[j * p + k];
                imat[j * q + k] += v;
                imat[(p + j) * q + (p + k)] += g * g * v;
                imat[(p + j) * q + k] += g * v;
                if j != k {
                    imat[(p + k) * q + j] += g * v;
                }
            }
        }
    });
    for j in 0..q {
        for k in 0..j {
            imat[k * q + j] = imat[j * q + k];
        }
    }
    let test = |idx: &[usize]| -> f64 {
        let m = idx.len();
        let mut sub = vec![0.0; m * m];
        let mut us = vec![0.0; m];
        for (a, &i) in idx.iter().enumerate() {
            us[a] = u[i];
            for (b, &j) in idx.iter().enumerate() {
                sub[a * m + b] = imat[i * q + j];
            }
        }
        linalg::quad_form_inv(&sub, m, &us).unwrap_or(f64::NAN)
    };
    let mut terms = Vec::new();
    for j in 0..p {
        let mut idx: Vec<usize> = (0..p).collect();
        idx.push(p + j);
        let chisq = test(&idx);
        terms.push(ZphTerm {
            name: d.names[j].clone(),
            chisq,
            df: 1,
            p: dist::chisq_sf(chisq, 1.0),
        });
    }
    let all: Vec<usize> = (0..q).collect();
    let chisq = test(&all);
    Ok(Zph {
        transform,
        terms,
        global: ZphTerm {
            name: "GLOBAL".into(),
            chisq,
            df: p,
            p: dist::chisq_sf(chisq, p as f64),
        },
    })
}

/// The Kaplan–Meier of all rows pooled (counting-process aware), evaluated left-continuously.
struct StepFn {
    times: Vec<f64>,
    surv: Vec<f64>,
}

impl StepFn {
    /// S(t−): the value just before t.
    fn at(&self, t: f64) -> f64 {
        let k = self.times.partition_point(|&v| v < t);
        if k == 0 {
            1.0
        } else {
            self.surv[k - 1]
        }
    }
}

fn pooled_km_left(d: &CoxData) -> StepFn {
    let n = d.stop.len();
    let w = |i: usize| d.weights.map_or(1.0, |w| w[i]);
    let mut ev: Vec<f64> = (0..n).filter(|&i| d.event[i]).map(|i| d.stop[i]).collect();
    ev.sort_by(f64::total_cmp);
    ev.dedup();
    let mut surv = Vec::with_capacity(ev.len());
    let mut s = 1.0;
    // At risk at t: start < t ≤ stop. O(n log n) with sorted stops and starts.
    let mut stops: Vec<(f64, f64, bool)> = (0..n).map(|i| (d.stop[i], w(i), d.event[i])).collect();
    stops.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut starts: Vec<(f64, f64)> = (0..n)
        .map(|i| (d.start.map_or(f64::NEG_INFINITY, |s| s[i]), w(i)))
        .collect();
    starts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = (0..n).map(w).sum();
    let (mut i_stop, mut i_start) = (0, 0);
    let (mut gone, mut entered) = (0.0, 0.0);
    for &t in &ev {
        while i_stop < stops.len() && stops[i_stop].0 < t {
            gone += stops[i_stop].1;
            i_stop += 1;
        }
        while i_start < starts.len() && starts[i_start].0 < t {
            entered += starts[i_start].1;
            i_start += 1;
        }
        let at_risk = entered - gone;
        let deaths: f64 = stops[i_stop..]
            .iter()
            .take_while(|r| r.0 == t)
            .filter(|r| r.2)
            .map(|r| r.1)
            .sum();
        let _ = total;
        if at_risk > 0.0 {
            s *= 1.0 - deaths / at_risk;
        }
        surv.push(s);
    }
    StepFn { times: ev, surv }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Harrell's concordance by its definition, pair by pair (O(n²)), in walk order.
    fn concordance_by_pairs(prep: &Prepared, eta: &[f64]) -> f64 {
        let (mut conc, mut disc, mut tied) = (0.0, 0.0, 0.0);
        for range in &prep.strata {
            for i in range.clone().filter(|&i| prep.event[i]) {
                let t = prep.stop[i];
                for j in range.clone() {
                    let later = prep.stop[j] > t || (prep.stop[j] == t && !prep.event[j]);
                    let at_risk = prep.start.as_ref().is_none_or(|st| st[j] < t);
                    if !(later && at_risk) {
                        continue;
                    }
                    let w = prep.w(i) * prep.w(j);
                    match eta[j].partial_cmp(&eta[i]) {
                        Some(std::cmp::Ordering::Less) => conc += w,
                        Some(std::cmp::Ordering::Greater) => disc += w,
                        _ => tied += w,
                    }
                }
            }
        }
        (conc + tied / 2.0) / (conc + disc + tied)
    }

    /// The same, for data without start times, over groups of rows that share stratum, η,
    /// stop time and status (pairs of groups, weighted by their summed weights): a check of
    /// large data with few distinct values.
    fn concordance_by_groups(prep: &Prepared, eta: &[f64]) -> f64 {
        assert!(prep.start.is_none());
        // (stratum, η, stop, event) → (η, stop, Σ w).
        type Group = (usize, u64, u64, bool);
        let mut groups: std::collections::BTreeMap<Group, (f64, f64, f64)> = Default::default();
        for (s, range) in prep.strata.iter().enumerate() {
            for i in range.clone() {
                let g = groups
                    .entry((s, order_key(eta[i]), order_key(prep.stop[i]), prep.event[i]))
                    .or_insert((eta[i], prep.stop[i], 0.0));
                g.2 += prep.w(i);
            }
        }
        let (mut conc, mut disc, mut tied) = (0.0, 0.0, 0.0);
        for (&(s, _, _, event), &(e, t, w)) in &groups {
            if !event {
                continue;
            }
            for (&(s2, _, _, event2), &(e2, t2, w2)) in &groups {
                if s2 != s || !(t2 > t || (t2 == t && !event2)) {
                    continue;
                }
                match e2.partial_cmp(&e) {
                    Some(std::cmp::Ordering::Less) => conc += w * w2,
                    Some(std::cmp::Ordering::Greater) => disc += w * w2,
                    _ => tied += w * w2,
                }
            }
        }
        (conc + tied / 2.0) / (conc + disc + tied)
    }

    #[test]
    fn concordance_counts_the_same_pairs_as_its_definition() {
        // Tied times, tied η (a coarse covariate), censoring at event times, strata, start
        // times and case weights, in every combination; once larger than RADIX_PARALLEL_MIN
        // (the sort split over the cores), checked by groups of equal rows.
        let mut state = 7u64;
        let mut next = |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        for (case, n) in [300usize, 301, 1000, 120_000].into_iter().enumerate() {
            let stop: Vec<f64> = (0..n).map(|_| 2.0 + next(40) as f64).collect();
            let start: Vec<f64> = stop
                .iter()
                .map(|&t| (next(t as u64) as f64).min(t - 1.0))
                .collect();
            let event: Vec<bool> = (0..n).map(|_| next(3) > 0).collect();
            let x: Vec<f64> = (0..n).map(|_| next(7) as f64).collect();
            let w: Vec<f64> = (0..n).map(|_| 0.5 + next(4) as f64 * 0.25).collect();
            let strata: Vec<usize> = (0..n).map(|_| next(3) as usize).collect();
            let names = vec!["x".to_string()];
            for variant in 0..8 {
                if n > 10_000 && variant & 1 == 1 {
                    continue; // the check by groups has no start times
                }
                let d = CoxData {
                    start: (variant & 1 == 1).then_some(&start[..]),
                    stop: &stop,
                    event: &event,
                    x: &x,
                    names: &names,
                    weights: (variant & 2 == 2).then_some(&w[..]),
                    strata: (variant & 4 == 4).then_some(&strata[..]),
                    cluster: None,
                };
                let prep = Prepared::new(&d).unwrap();
                let eta = prep.eta(&[0.3]);
                let expected = if n > 10_000 {
                    concordance_by_groups(&prep, &eta)
                } else {
                    concordance_by_pairs(&prep, &eta)
                };
                // The visit in order of η in one part and cut into several (the earlier parts
                // counted from their histograms; cuts never inside a group of equal η).
                for parts in [0, 1, 2, 3, 8] {
                    let fast = if parts == 0 {
                        concordance(&prep, &eta)
                    } else {
                        concordance_in_parts(&prep, &eta, Some(parts))
                    };
                    assert!(
                        (fast - expected).abs() < 1e-12,
                        "case {case} variant {variant}, {parts} parts: {fast} against {expected}"
                    );
                }
            }
        }
    }

    #[test]
    fn score_residuals_sum_to_the_gradient() {
        // At β̂ the weighted score residuals sum to ~0 (the score).
        let stop = [5.0, 6.0, 6.0, 2.0, 4.0, 4.0, 7.0, 8.0, 3.0, 6.0];
        let event = [true, false, true, true, true, true, false, true, true, true];
        let x = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0];
        let w = [1.0, 2.0, 1.0, 1.0, 3.0, 1.0, 1.0, 2.0, 1.0, 1.0];
        let names = vec!["x".to_string()];
        let d = CoxData {
            start: None,
            stop: &stop,
            event: &event,
            x: &x,
            names: &names,
            weights: Some(&w),
            strata: None,
            cluster: None,
        };
        let f = fit(&d, &CoxOptions::default()).unwrap();
        let prep = Prepared::new(&d).unwrap();
        let r = score_residuals(&prep, &f.beta, Ties::Efron);
        let s: f64 = (0..10).map(|i| prep.w(i) * r[i]).sum();
        assert!(s.abs() < 1e-8, "{s}");
        let g = pass(&prep, &f.beta, Ties::Efron, &mut Scratch::default()).grad[0];
        assert!(g.abs() < 1e-8);
    }

    /// Log-likelihood, score and information by the generic walk's running sums, S₂ and D₂
    /// kept per event time (as R's coxfit6 and agfit4 do): an independent computation of what
    /// `pass` makes from its tiles and one Gram matrix.
    fn pass_by_walk(prep: &Prepared, beta: &[f64], ties: Ties) -> Pass {
        let p = prep.p;
        let eta = prep.eta(beta);
        let (mut loglik, mut grad, mut info) = (0.0, vec![0.0; p], vec![0.0; p * p]);
        prep.walk(&eta, true, |et| {
            let mut sum_w = 0.0;
            for &i in et.deaths {
                sum_w += prep.w(i);
                loglik += prep.w(i) * eta[i];
                for j in 0..p {
                    grad[j] += prep.w(i) * prep.x(i, j);
                }
            }
            let e = efron_sums(ties, et.deaths.len(), sum_w, et.s0, et.d0);
            loglik -= e.log;
            for j in 0..p {
                grad[j] -= et.s1[j] * e.h0 - et.d1[j] * e.h1;
            }
            add_info(&mut info, p, et, &e, 1.0);
        });
        for j in 0..p {
            for k in 0..j {
                info[k * p + j] = info[j * p + k];
            }
        }
        Pass { loglik, grad, info }
    }

    #[test]
    fn pass_agrees_with_the_running_sums() {
        // Heavily tied times (whole tiles of one run) mixed with distinct ones (runs inside a
        // tile), or whole-day times only (tiles of two runs), weights, two strata and
        // counting-process rows, on either side of the size where the work is split over
        // threads.
        for (n, counting, days_only) in [
            (3000, false, false),
            (3000, true, false),
            (20_000, true, false),
            (130_000, false, false),
            (130_000, false, true),
        ] {
            let mut rng = crate::rng::Rng(n as u64 + counting as u64 + days_only as u64);
            let p = 4;
            let mut stop = Vec::new();
            let mut start = Vec::new();
            let mut x = Vec::new();
            let mut event = Vec::new();
            let mut weight = Vec::new();
            let mut strata = Vec::new();
            for i in 0..n {
                let tied = days_only || i % 3 != 0;
                let t = if tied {
                    1.0 + rng.below(12) as f64
                } else {
                    rng.uniform() * 12.0 + 0.5
                };
                let s = if counting {
                    rng.uniform() * t * 0.8
                } else {
                    0.0
                };
                stop.push(t);
                start.push(s);
                event.push(rng.uniform() < 0.6);
                weight.push(0.5 + rng.uniform());
                strata.push((i % 7 == 0) as usize);
                for _ in 0..p {
                    x.push(rng.uniform() * 2.0 - 1.0);
                }
            }
            let names: Vec<String> = (0..p).map(|j| format!("x{j}")).collect();
            let d = CoxData {
                start: counting.then_some(&start[..]),
                stop: &stop,
                event: &event,
                x: &x,
                names: &names,
                weights: Some(&weight),
                strata: Some(&strata),
                cluster: None,
            };
            let prep = Prepared::new(&d).unwrap();
            if !counting {
                assert!(
                    prep.split.iter().any(|&s| s as usize == TILE),
                    "no tile is one run"
                );
            }
            if days_only {
                assert!(
                    prep.split.iter().any(|&s| s > 0 && (s as usize) < TILE),
                    "no tile holds two runs"
                );
            }
            let beta = [0.3, -0.2, 0.1, 0.05];
            for ties in [Ties::Efron, Ties::Breslow] {
                let got = pass(&prep, &beta, ties, &mut Scratch::default());
                // The vector build (AVX where this machine has it) and the portable one give
                // the same bits.
                let portable = pass_portable(&prep, &beta, ties, &mut Scratch::default());
                assert_eq!(got.loglik.to_bits(), portable.loglik.to_bits());
                assert_eq!(got.grad, portable.grad);
                assert_eq!(got.info, portable.info);
                let want = pass_by_walk(&prep, &beta, ties);
                let close = |a: f64, b: f64| (a - b).abs() <= 1e-10 * b.abs().max(1.0);
                assert!(
                    close(got.loglik, want.loglik),
                    "{} {}",
                    got.loglik,
                    want.loglik
                );
                for (g, w) in got.grad.iter().zip(&want.grad) {
                    assert!(close(*g, *w), "score {g} {w}");
                }
                for (g, w) in got.info.iter().zip(&want.info) {
                    assert!(close(*g, *w), "information {g} {w}");
                }
            }
        }
    }

    #[test]
    fn efron_log_sum_by_the_product_agrees_with_the_sum_of_logarithms() {
        for (d, s0, d0) in [(2, 10.0, 3.0), (500, 1.0e5, 4.0e4), (3000, 7.5e-3, 7.4e-3)] {
            let e = efron_sums(Ties::Efron, d, d as f64 * 0.7, s0, d0);
            let want: f64 = (0..d)
                .map(|k| 0.7 * (s0 - k as f64 / d as f64 * d0).ln())
                .sum();
            assert!(
                (e.log - want).abs() <= 1e-12 * want.abs().max(1.0),
                "d {d}: {} vs {want}",
                e.log
            );
        }
    }

    #[test]
    fn no_events_and_bad_intervals_are_errors() {
        let names = vec!["x".to_string()];
        let d = CoxData {
            start: None,
            stop: &[1.0, 2.0],
            event: &[false, false],
            x: &[0.0, 1.0],
            names: &names,
            weights: None,
            strata: None,
            cluster: None,
        };
        assert!(fit(&d, &CoxOptions::default()).is_err());
        let d2 = CoxData {
            start: Some(&[1.0, 2.0]),
            stop: &[1.0, 3.0],
            event: &[true, true],
            ..d.clone()
        };
        assert!(fit(&d2, &CoxOptions::default())
            .unwrap_err()
            .0
            .contains("row 1"));
    }

    #[test]
    fn separation_is_reported() {
        // x = 1 always has the event first: the coefficient runs off to infinity.
        let names = vec!["x".to_string()];
        let stop = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let event = [true; 6];
        let x = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0];
        let d = CoxData {
            start: None,
            stop: &stop,
            event: &event,
            x: &x,
            names: &names,
            weights: None,
            strata: None,
            cluster: None,
        };
        let f = fit(&d, &CoxOptions::default()).unwrap();
        assert!(!f.warnings.is_empty(), "{f:?}");
    }
}
