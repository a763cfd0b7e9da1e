//! Cluster analysis of clients on mixed data (seed 004: "scoren overal slecht", "jong en scoren
//! overal hoog").
//!
//! - **k-means** on standardised numbers: greedy k-means++ starts (Arthur & Vassilvitskii 2007;
//!   2 + ⌊ln k⌋ candidates per centre, as scikit-learn), then Lloyd iterations accelerated with
//!   Hamerly's bounds (Hamerly 2010), which skip the distance computations that cannot change an
//!   assignment — the same fixed points as Lloyd, far fewer operations. Convergence: no
//!   assignment changes, or the squared centre shift falls below `tol` × the mean feature
//!   variance (scikit-learn's rule). The best of `n_init` starts is kept; starts run in parallel.
//!   From 100,000 rows on, the starts run on a shared 10% sample and the 2 best are refined on
//!   all rows (Bradley & Fayyad 1998).
//! - **k-prototypes** (Huang 1998) for numbers and categories: squared Euclidean distance on the
//!   standardised numbers plus γ per mismatching category; prototypes are means and modes.
//!   Missing values are left out of a distance (partial distance, scaled up to all features as
//!   Dixon 1979) and of a prototype. Linear in the number of clients, so it runs on 400,000.
//! - **PAM** (Kaufman & Rousseeuw 1990, BUILD and SWAP) on the Gower dissimilarity (Gower
//!   1971): quadratic in the number of rows, so limited to samples of at most 4,000 rows.
//! - The **silhouette** (Rousseeuw 1987), on a seeded sample where the data are large, to choose
//!   k; **profiles** relative to the whole population, in plain Dutch.

use crate::rng::{par_map, Rng};
use crate::tree::MISSING;
use crate::{err, StatsError};
use serde::Serialize;

/// Mixed data: standardised numeric columns (NaN = missing) and categorical codes.
#[derive(Debug, Clone)]
pub struct MixedData {
    pub n: usize,
    /// n × p_num, row-major.
    pub num: Vec<f64>,
    pub p_num: usize,
    /// n × p_cat, row-major; [`MISSING`] is missing.
    pub cat: Vec<u32>,
    pub p_cat: usize,
    pub n_levels: Vec<usize>,
}

impl MixedData {
    /// Row-major mixed data from columns: numbers (NaN missing), standardised to mean 0 and
    /// population SD 1 when `standardise` is set, and categories with their number of levels.
    /// Returns the (mean, SD) used per numeric column (empty when not standardised).
    pub fn from_columns(
        num: &[&[f64]],
        cat: &[(&[u32], usize)],
        standardise: bool,
    ) -> (MixedData, Vec<(f64, f64)>) {
        let n = num
            .first()
            .map(|c| c.len())
            .or_else(|| cat.first().map(|c| c.0.len()))
            .unwrap_or(0);
        let p_num = num.len();
        let mut values: Vec<f64> = (0..n).flat_map(|i| num.iter().map(move |c| c[i])).collect();
        let scaling = if standardise {
            standardize(&mut values, n, p_num)
        } else {
            Vec::new()
        };
        let data = MixedData {
            n,
            num: values,
            p_num,
            cat: (0..n)
                .flat_map(|i| cat.iter().map(move |c| c.0[i]))
                .collect(),
            p_cat: cat.len(),
            n_levels: cat.iter().map(|c| c.1).collect(),
        };
        (data, scaling)
    }

    fn num_row(&self, i: usize) -> &[f64] {
        &self.num[i * self.p_num..(i + 1) * self.p_num]
    }
    fn cat_row(&self, i: usize) -> &[u32] {
        &self.cat[i * self.p_cat..(i + 1) * self.p_cat]
    }
}

/// Standardises columns of an n × p row-major matrix in place to mean 0 and population SD 1
/// (NaN left out of mean and SD and kept). Returns (mean, sd) per column; a constant column
/// keeps SD 1 so that it stays 0 everywhere.
pub fn standardize(x: &mut [f64], n: usize, p: usize) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(p);
    for j in 0..p {
        let (mut s, mut m) = (0.0, 0usize);
        for i in 0..n {
            let v = x[i * p + j];
            if !v.is_nan() {
                s += v;
                m += 1;
            }
        }
        let mean = if m > 0 { s / m as f64 } else { 0.0 };
        let mut ss = 0.0;
        for i in 0..n {
            let v = x[i * p + j];
            if !v.is_nan() {
                ss += (v - mean) * (v - mean);
            }
        }
        let sd = if m > 0 { (ss / m as f64).sqrt() } else { 0.0 };
        let sd = if sd > 0.0 { sd } else { 1.0 };
        for i in 0..n {
            let v = &mut x[i * p + j];
            if !v.is_nan() {
                *v = (*v - mean) / sd;
            }
        }
        out.push((mean, sd));
    }
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct Clustering {
    pub k: usize,
    pub labels: Vec<usize>,
    /// k × p_num centres (standardised scale) …
    pub centers: Vec<f64>,
    /// … and k × p_cat modes (k-prototypes, PAM).
    pub modes: Vec<u32>,
    /// Within-cluster sum of squares (k-means), total dissimilarity (k-prototypes, PAM).
    pub cost: f64,
    pub iterations: usize,
    pub converged: bool,
    /// Row indices of the medoids (PAM only).
    pub medoids: Vec<usize>,
}

impl Clustering {
    pub fn sizes(&self) -> Vec<usize> {
        let mut s = vec![0; self.k];
        for &l in &self.labels {
            s[l] += 1;
        }
        s
    }
}

#[derive(Debug, Clone)]
pub struct KMeansOptions {
    pub k: usize,
    pub n_init: usize,
    pub max_iter: usize,
    pub tol: f64,
    pub seed: u64,
}

impl Default for KMeansOptions {
    fn default() -> Self {
        KMeansOptions {
            k: 5,
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: 1,
        }
    }
}

#[inline]
fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        let d = x - y;
        s += d * d;
    }
    s
}

fn check_k(n: usize, k: usize) -> Result<(), StatsError> {
    if k < 1 {
        return err("k must be at least 1");
    }
    if n < k {
        return err(format!(
            "{n} rows cannot form {k} clusters: choose a smaller k"
        ));
    }
    Ok(())
}

/// Greedy k-means++ seeding on squared distances from `dist(i, centre)`.
fn kmeanspp(
    n: usize,
    k: usize,
    rng: &mut Rng,
    dist_to_row: &dyn Fn(usize, usize) -> f64,
) -> Vec<usize> {
    let trials = 2 + (k as f64).ln().floor() as usize;
    let first = rng.below(n as u64) as usize;
    let mut chosen = vec![first];
    let mut closest: Vec<f64> = (0..n).map(|i| dist_to_row(i, first)).collect();
    let mut pot: f64 = closest.iter().sum();
    // Cumulative sums for sampling proportional to D².
    while chosen.len() < k {
        let mut cum = Vec::with_capacity(n);
        let mut s = 0.0;
        for &d in &closest {
            s += d;
            cum.push(s);
        }
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let cand = if pot > 0.0 {
                let r = rng.uniform() * pot;
                cum.partition_point(|&c| c <= r).min(n - 1)
            } else {
                rng.below(n as u64) as usize
            };
            let new: Vec<f64> = (0..n)
                .map(|i| closest[i].min(dist_to_row(i, cand)))
                .collect();
            let p: f64 = new.iter().sum();
            if best.as_ref().is_none_or(|b| p < b.0) {
                best = Some((p, cand, new));
            }
        }
        if let Some((p, c, new)) = best {
            chosen.push(c);
            closest = new;
            pot = p;
        }
    }
    chosen
}

/// k-means with Hamerly's acceleration; `x` is n × p row-major without missing values.
pub fn kmeans(
    x: &[f64],
    n: usize,
    p: usize,
    opt: &KMeansOptions,
) -> Result<Clustering, StatsError> {
    check_k(n, opt.k)?;
    if x.len() != n * p || p == 0 {
        return err("k-means needs at least one numeric feature");
    }
    if x.iter().any(|v| !v.is_finite()) {
        return err("k-means needs complete numbers: fill in or leave out the rows with missing values (or use k-prototypes, which handles them)");
    }
    let mean_var = {
        let mut s = 0.0;
        for j in 0..p {
            let m = (0..n).map(|i| x[i * p + j]).sum::<f64>() / n as f64;
            s += (0..n).map(|i| (x[i * p + j] - m).powi(2)).sum::<f64>() / n as f64;
        }
        s / p as f64
    };
    let tol = opt.tol * mean_var;
    let n_init = opt.n_init.max(1);
    // On large data (Bradley & Fayyad 1998): every start (k-means++ and Lloyd) runs on one
    // shared 10% sample; the starts with the lowest sample cost are then refined by Lloyd on all
    // rows. The result is a fixed point of Lloyd on all the data, as without the sample; the
    // full-data passes start close to it, and only for the promising starts.
    let sample: Option<Vec<f64>> = (n >= REFINE_FROM).then(|| {
        let m = (n / 10).max(REFINE_MIN);
        sample_rows(n, m, opt.seed ^ 0x005A_3E1E)
            .iter()
            .flat_map(|&i| x[i * p..(i + 1) * p].iter().copied())
            .collect()
    });
    let (sx, sn): (&[f64], usize) = match &sample {
        Some(v) => (v, v.len() / p),
        None => (x, n),
    };
    let mut starts: Vec<(f64, Vec<f64>)> = par_map(n_init, 8, |run| {
        let mut rng = Rng(opt
            .seed
            .wrapping_mul(0x9E37_79B9)
            .wrapping_add(run as u64 * 7919));
        let seeds = kmeanspp(sn, opt.k, &mut rng, &|i, c| {
            sq_dist(&sx[i * p..(i + 1) * p], &sx[c * p..(c + 1) * p])
        });
        let mut centers: Vec<f64> = seeds
            .iter()
            .flat_map(|&c| sx[c * p..(c + 1) * p].iter().copied())
            .collect();
        if sample.is_none() {
            return (0.0, centers);
        }
        let (labels, _, _) = hamerly(sx, sn, p, opt.k, &mut centers, opt.max_iter, tol);
        let cost = (0..sn)
            .map(|i| {
                sq_dist(
                    &sx[i * p..(i + 1) * p],
                    &centers[labels[i] * p..(labels[i] + 1) * p],
                )
            })
            .sum::<f64>();
        (cost, centers)
    });
    if sample.is_some() {
        starts.sort_by(|a, b| a.0.total_cmp(&b.0));
        starts.truncate(REFINE_KEEP.min(n_init));
    }
    let runs = par_map(starts.len(), 8, |s| {
        let mut centers = starts[s].1.clone();
        let (labels, iterations, converged) =
            hamerly(x, n, p, opt.k, &mut centers, opt.max_iter, tol);
        let cost = (0..n)
            .map(|i| {
                sq_dist(
                    &x[i * p..(i + 1) * p],
                    &centers[labels[i] * p..(labels[i] + 1) * p],
                )
            })
            .sum::<f64>();
        Clustering {
            k: opt.k,
            labels,
            centers,
            modes: Vec::new(),
            cost,
            iterations,
            converged,
            medoids: Vec::new(),
        }
    });
    lowest_cost(runs)
}

/// The start with the lowest cost (the first on a tie).
fn lowest_cost(runs: Vec<Clustering>) -> Result<Clustering, StatsError> {
    runs.into_iter()
        .reduce(|a, b| if b.cost < a.cost { b } else { a })
        .ok_or_else(|| crate::StatsError("no start to choose from".into()))
}

/// On large data, how many of the starts (ranked by their cost on the sample) are refined on
/// all rows.
const REFINE_KEEP: usize = 2;

/// From this many rows on, each k-means start is refined on a sample first.
const REFINE_FROM: usize = 100_000;
/// The smallest refinement sample.
const REFINE_MIN: usize = 20_000;

/// Lloyd iterations with Hamerly's bounds: `upper[i]` ≥ distance to the assigned centre,
/// `lower[i]` ≤ distance to every other centre; a point whose upper bound is below both its
/// lower bound and half the distance from its centre to the nearest other centre keeps its
/// assignment without computing any distance.
fn hamerly(
    x: &[f64],
    n: usize,
    p: usize,
    k: usize,
    centers: &mut [f64],
    max_iter: usize,
    tol: f64,
) -> (Vec<usize>, usize, bool) {
    let mut labels = vec![0usize; n];
    let mut upper = vec![0.0f64; n];
    let mut lower = vec![0.0f64; n];
    let nearest_two = |xi: &[f64], centers: &[f64]| -> (usize, f64, f64) {
        let (mut b1, mut d1, mut d2) = (0, f64::INFINITY, f64::INFINITY);
        for j in 0..k {
            let d = sq_dist(xi, &centers[j * p..(j + 1) * p]);
            if d < d1 {
                d2 = d1;
                d1 = d;
                b1 = j;
            } else if d < d2 {
                d2 = d;
            }
        }
        (b1, d1.sqrt(), d2.sqrt())
    };
    for i in 0..n {
        let (a, u, l) = nearest_two(&x[i * p..(i + 1) * p], centers);
        labels[i] = a;
        upper[i] = u;
        lower[i] = l;
    }
    let mut sums = vec![0.0f64; k * p];
    let mut counts = vec![0usize; k];
    for i in 0..n {
        let a = labels[i];
        counts[a] += 1;
        for (s, v) in sums[a * p..(a + 1) * p]
            .iter_mut()
            .zip(&x[i * p..(i + 1) * p])
        {
            *s += v;
        }
    }
    let mut iterations = 0;
    let mut converged = false;
    while iterations < max_iter {
        iterations += 1;
        // M-step: the sums per cluster are kept up to date as points move (below), so late
        // iterations, in which few points change, cost O(changes·p) instead of O(n·p).
        let old = centers.to_vec();
        for j in 0..k {
            if counts[j] > 0 {
                for d in 0..p {
                    centers[j * p + d] = sums[j * p + d] / counts[j] as f64;
                }
            } else {
                // An empty cluster takes the point farthest from its centre.
                let far = (0..n)
                    .max_by(|&a, &b| upper[a].total_cmp(&upper[b]))
                    .unwrap_or(0);
                centers[j * p..(j + 1) * p].copy_from_slice(&x[far * p..(far + 1) * p]);
                upper[far] = f64::INFINITY;
            }
        }
        let moved: Vec<f64> = (0..k)
            .map(|j| sq_dist(&old[j * p..(j + 1) * p], &centers[j * p..(j + 1) * p]).sqrt())
            .collect();
        let shift: f64 = moved.iter().map(|m| m * m).sum();
        let max_moved = moved.iter().cloned().fold(0.0, f64::max);
        for i in 0..n {
            upper[i] += moved[labels[i]];
            lower[i] -= max_moved;
        }
        // Half the distance from each centre to its nearest other centre.
        let half: Vec<f64> = (0..k)
            .map(|j| {
                (0..k)
                    .filter(|&o| o != j)
                    .map(|o| sq_dist(&centers[j * p..(j + 1) * p], &centers[o * p..(o + 1) * p]))
                    .fold(f64::INFINITY, f64::min)
                    .sqrt()
                    / 2.0
            })
            .collect();
        // E-step.
        let mut changed = 0usize;
        for i in 0..n {
            let a = labels[i];
            let m = half[a].max(lower[i]);
            if upper[i] <= m {
                continue;
            }
            let xi = &x[i * p..(i + 1) * p];
            upper[i] = sq_dist(xi, &centers[a * p..(a + 1) * p]).sqrt();
            if upper[i] <= m {
                continue;
            }
            let (b, u, l) = nearest_two(xi, centers);
            if b != a {
                changed += 1;
                labels[i] = b;
                counts[a] -= 1;
                counts[b] += 1;
                for d in 0..p {
                    sums[a * p + d] -= xi[d];
                    sums[b * p + d] += xi[d];
                }
            }
            upper[i] = u;
            lower[i] = l;
        }
        if changed == 0 {
            converged = true;
            break;
        }
        if shift <= tol {
            converged = true;
            break;
        }
    }
    // Final assignment to the final centres, so labels and cost agree.
    if !converged || iterations > 0 {
        for i in 0..n {
            labels[i] = nearest_two(&x[i * p..(i + 1) * p], centers).0;
        }
    }
    (labels, iterations, converged)
}

#[derive(Debug, Clone)]
pub struct KPrototypesOptions {
    pub k: usize,
    /// Weight of a categorical mismatch; `None`: 0.5 (half the SD of a standardised number,
    /// within Huang's advised ⅓–⅔ of the mean SD).
    pub gamma: Option<f64>,
    pub n_init: usize,
    pub max_iter: usize,
    pub seed: u64,
}

impl Default for KPrototypesOptions {
    fn default() -> Self {
        KPrototypesOptions {
            k: 5,
            gamma: None,
            n_init: 5,
            max_iter: 100,
            seed: 1,
        }
    }
}

/// The unscaled partial dissimilarity of row `i` to a prototype: the assignment step compares
/// prototypes for one row, and the row's scale factor (all features / present features) is the
/// same for each, so it is applied only to costs (see [`row_scales`]).
#[inline]
fn mixed_dist_raw(d: &MixedData, i: usize, c: &[f64], m: &[u32], gamma: f64) -> f64 {
    let mut s = 0.0;
    for (x, y) in d.num_row(i).iter().zip(c) {
        // A missing number adds 0 (NaN fails the comparison), without a branch.
        let t = (x - y) * (x - y);
        s += if t.is_nan() { 0.0 } else { t };
    }
    // Mismatches counted branch-free (the compiler vectorises the comparisons).
    let mismatches: u32 = d
        .cat_row(i)
        .iter()
        .zip(m)
        .map(|(a, b)| u32::from(*a != MISSING) & u32::from(a != b))
        .sum();
    s + gamma * mismatches as f64
}

/// Per row: all features / present features (Dixon's scaling of a partial distance).
fn row_scales(d: &MixedData) -> Vec<f64> {
    let total = (d.p_num + d.p_cat) as f64;
    (0..d.n)
        .map(|i| {
            let present = d.num_row(i).iter().filter(|x| !x.is_nan()).count()
                + d.cat_row(i).iter().filter(|&&a| a != MISSING).count();
            if present == 0 {
                0.0
            } else {
                total / present as f64
            }
        })
        .collect()
}

/// The nearest prototype of `c` (k-prototypes or PAM) for every row of `d`, which must have the
/// same features in the same order and scale as the data `c` was fitted on.
pub fn assign(d: &MixedData, c: &Clustering, gamma: f64) -> Vec<usize> {
    let (pn, pc) = (d.p_num, d.p_cat);
    (0..d.n)
        .map(|i| {
            (0..c.k)
                .map(|j| {
                    (
                        mixed_dist_raw(
                            d,
                            i,
                            &c.centers[j * pn..(j + 1) * pn],
                            &c.modes[j * pc..(j + 1) * pc],
                            gamma,
                        ),
                        j,
                    )
                })
                .fold((f64::INFINITY, 0), |b, x| if x.0 < b.0 { x } else { b })
                .1
        })
        .collect()
}

/// Prototypes (means and modes) of the clusters in `labels`.
fn prototypes(d: &MixedData, labels: &[usize], k: usize) -> (Vec<f64>, Vec<u32>) {
    let mut sums = vec![0.0; k * d.p_num];
    let mut cnt = vec![0usize; k * d.p_num];
    let mut freq: Vec<Vec<Vec<usize>>> = (0..k)
        .map(|_| d.n_levels.iter().map(|&l| vec![0; l.max(1)]).collect())
        .collect();
    for i in 0..d.n {
        let c = labels[i];
        for (j, &v) in d.num_row(i).iter().enumerate() {
            if !v.is_nan() {
                sums[c * d.p_num + j] += v;
                cnt[c * d.p_num + j] += 1;
            }
        }
        for (j, &v) in d.cat_row(i).iter().enumerate() {
            if v != MISSING && (v as usize) < freq[c][j].len() {
                freq[c][j][v as usize] += 1;
            }
        }
    }
    let centers = sums
        .iter()
        .zip(&cnt)
        .map(|(s, &c)| if c > 0 { s / c as f64 } else { 0.0 })
        .collect();
    let modes = (0..k)
        .flat_map(|c| {
            freq[c]
                .iter()
                .map(|f| {
                    (0..f.len())
                        .max_by_key(|&l| (f[l], std::cmp::Reverse(l)))
                        .unwrap_or(0) as u32
                })
                .collect::<Vec<_>>()
        })
        .collect();
    (centers, modes)
}

/// k-prototypes (Huang 1998) with k-means++-style seeding on the mixed dissimilarity.
pub fn kprototypes(d: &MixedData, opt: &KPrototypesOptions) -> Result<Clustering, StatsError> {
    check_k(d.n, opt.k)?;
    if d.p_num + d.p_cat == 0 {
        return err("no features to cluster on");
    }
    let gamma = opt.gamma.unwrap_or(0.5);
    let k = opt.k;
    let scales = row_scales(d);
    // A seed row as a prototype: missing numbers at the mean (0 after standardising). Made once,
    // not per distance: the seeding computes some 15 passes of distances.
    let filled: Vec<f64> = d
        .num
        .iter()
        .map(|v| if v.is_nan() { 0.0 } else { *v })
        .collect();
    let filled = &filled;
    let runs = par_map(opt.n_init.max(1), 8, |run| {
        let mut rng = Rng(opt
            .seed
            .wrapping_mul(0xA24B_AED4)
            .wrapping_add(run as u64 * 104_729));
        let pn = d.p_num;
        let seeds = kmeanspp(d.n, k, &mut rng, &|i, c| {
            mixed_dist_raw(d, i, &filled[c * pn..(c + 1) * pn], d.cat_row(c), gamma) * scales[i]
        });
        let mut centers: Vec<f64> = seeds
            .iter()
            .flat_map(|&c| {
                d.num_row(c)
                    .iter()
                    .map(|v| if v.is_nan() { 0.0 } else { *v })
            })
            .collect();
        let mut modes: Vec<u32> = seeds
            .iter()
            .flat_map(|&c| d.cat_row(c).iter().copied())
            .collect();
        let mut labels = vec![usize::MAX; d.n];
        let mut iterations = 0;
        let mut converged = false;
        let mut previous_cost = f64::INFINITY;
        let scales = &scales;
        while iterations < opt.max_iter {
            iterations += 1;
            let mut changed = 0;
            let mut cost = 0.0;
            for i in 0..d.n {
                let mut best = (f64::INFINITY, 0);
                for c in 0..k {
                    let dist = mixed_dist_raw(
                        d,
                        i,
                        &centers[c * d.p_num..(c + 1) * d.p_num],
                        &modes[c * d.p_cat..(c + 1) * d.p_cat],
                        gamma,
                    );
                    if dist < best.0 {
                        best = (dist, c);
                    }
                }
                cost += best.0 * scales[i];
                if labels[i] != best.1 {
                    labels[i] = best.1;
                    changed += 1;
                }
            }
            // Stop when nothing moves, or when the cost no longer falls: with modes and
            // partial distances a batch update can swap a few rows back and forth forever.
            if changed == 0 || cost >= previous_cost * (1.0 - 1e-9) {
                converged = true;
                break;
            }
            previous_cost = cost;
            // An empty cluster is reseeded with the row farthest from its prototype.
            let mut sizes = vec![0usize; k];
            labels.iter().for_each(|&l| sizes[l] += 1);
            for c in 0..k {
                if sizes[c] == 0 {
                    let to_own = |i: usize| {
                        let l = labels[i];
                        mixed_dist_raw(
                            d,
                            i,
                            &centers[l * d.p_num..(l + 1) * d.p_num],
                            &modes[l * d.p_cat..(l + 1) * d.p_cat],
                            gamma,
                        ) * scales[i]
                    };
                    let far = (0..d.n)
                        .filter(|&i| sizes[labels[i]] > 1)
                        .max_by(|&a, &b| to_own(a).total_cmp(&to_own(b)));
                    if let Some(far) = far {
                        sizes[labels[far]] -= 1;
                        labels[far] = c;
                        sizes[c] = 1;
                    }
                }
            }
            let (c2, m2) = prototypes(d, &labels, k);
            centers = c2;
            modes = m2;
        }
        let cost = (0..d.n)
            .map(|i| {
                let c = labels[i];
                mixed_dist_raw(
                    d,
                    i,
                    &centers[c * d.p_num..(c + 1) * d.p_num],
                    &modes[c * d.p_cat..(c + 1) * d.p_cat],
                    gamma,
                ) * scales[i]
            })
            .sum();
        Clustering {
            k,
            labels,
            centers,
            modes,
            cost,
            iterations,
            converged,
            medoids: Vec::new(),
        }
    });
    lowest_cost(runs)
}

/// PAM on a dissimilarity matrix can hold this many rows (a 4,000² matrix is 64 MB).
pub const PAM_MAX_ROWS: usize = 4_000;

/// Gower dissimilarity of rows i and j: numbers |x − y| / range, categories 0/1, averaged over
/// the features present in both rows (1 when none is).
fn gower(d: &MixedData, ranges: &[f64], i: usize, j: usize) -> f64 {
    let (mut s, mut m) = (0.0, 0usize);
    for ((a, b), r) in d.num_row(i).iter().zip(d.num_row(j)).zip(ranges) {
        if !a.is_nan() && !b.is_nan() {
            s += if *r > 0.0 { (a - b).abs() / r } else { 0.0 };
            m += 1;
        }
    }
    for (a, b) in d.cat_row(i).iter().zip(d.cat_row(j)) {
        if *a != MISSING && *b != MISSING {
            s += if a == b { 0.0 } else { 1.0 };
            m += 1;
        }
    }
    if m == 0 {
        1.0
    } else {
        s / m as f64
    }
}

fn num_ranges(d: &MixedData) -> Vec<f64> {
    (0..d.p_num)
        .map(|j| {
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for i in 0..d.n {
                let v = d.num[i * d.p_num + j];
                if !v.is_nan() {
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
            if hi > lo {
                hi - lo
            } else {
                0.0
            }
        })
        .collect()
}

/// Partitioning around medoids (BUILD, then SWAP until no swap lowers the cost) on Gower.
pub fn pam(d: &MixedData, k: usize) -> Result<Clustering, StatsError> {
    check_k(d.n, k)?;
    if d.n > PAM_MAX_ROWS {
        return err(format!(
            "PAM keeps all {n}² dissimilarities in memory and is limited to {PAM_MAX_ROWS} rows; use --method kprototypes (linear in the rows) or a sample",
            n = d.n
        ));
    }
    let n = d.n;
    let ranges = num_ranges(d);
    let rows: Vec<Vec<f32>> = par_map(n, 8, |i| {
        (0..n).map(|j| gower(d, &ranges, i, j) as f32).collect()
    });
    let dm = |i: usize, j: usize| rows[i][j] as f64;
    // BUILD: greedily add the medoid that lowers the total dissimilarity most.
    let mut medoids: Vec<usize> = Vec::with_capacity(k);
    let mut nearest = vec![f64::INFINITY; n];
    while medoids.len() < k {
        let mut best = (f64::INFINITY, 0);
        for c in 0..n {
            if medoids.contains(&c) {
                continue;
            }
            let total: f64 = (0..n).map(|i| nearest[i].min(dm(i, c))).sum();
            if total < best.0 {
                best = (total, c);
            }
        }
        medoids.push(best.1);
        for i in 0..n {
            nearest[i] = nearest[i].min(dm(i, best.1));
        }
    }
    // SWAP.
    let mut iterations = 0;
    loop {
        iterations += 1;
        // Nearest and second-nearest medoid per row.
        let (d1, d2): (Vec<f64>, Vec<f64>) = (0..n)
            .map(|i| {
                let (mut a, mut b) = (f64::INFINITY, f64::INFINITY);
                for &m in &medoids {
                    let v = dm(i, m);
                    if v < a {
                        b = a;
                        a = v;
                    } else if v < b {
                        b = v;
                    }
                }
                (a, b)
            })
            .unzip();
        let near: Vec<usize> = (0..n)
            .map(|i| {
                (0..k)
                    .min_by(|&a, &b| dm(i, medoids[a]).total_cmp(&dm(i, medoids[b])))
                    .unwrap_or(0)
            })
            .collect();
        let mut best = (0.0f64, 0usize, 0usize);
        for (mi, _) in medoids.iter().enumerate() {
            for h in 0..n {
                if medoids.contains(&h) {
                    continue;
                }
                let mut delta = 0.0;
                for i in 0..n {
                    let dh = dm(i, h);
                    delta += if near[i] == mi {
                        dh.min(d2[i]) - d1[i]
                    } else {
                        (dh - d1[i]).min(0.0)
                    };
                }
                if delta < best.0 - 1e-12 {
                    best = (delta, mi, h);
                }
            }
        }
        if best.0 >= -1e-12 || iterations > 100 {
            break;
        }
        medoids[best.1] = best.2;
    }
    let labels: Vec<usize> = (0..n)
        .map(|i| {
            (0..k)
                .min_by(|&a, &b| dm(i, medoids[a]).total_cmp(&dm(i, medoids[b])))
                .unwrap_or(0)
        })
        .collect();
    let cost = (0..n).map(|i| dm(i, medoids[labels[i]])).sum();
    let centers = medoids
        .iter()
        .flat_map(|&m| d.num_row(m).to_vec())
        .collect();
    let modes = medoids
        .iter()
        .flat_map(|&m| d.cat_row(m).to_vec())
        .collect();
    Ok(Clustering {
        k,
        labels,
        centers,
        modes,
        cost,
        iterations,
        converged: true,
        medoids,
    })
}

/// The distance a silhouette uses for each method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SilhouetteDistance {
    /// Euclidean on the numbers (k-means).
    Euclidean,
    /// √ of the k-prototypes dissimilarity.
    Mixed {
        gamma_millis: u32,
    },
    Gower,
}

/// Mean silhouette width (Rousseeuw 1987) over `sample` rows (all when `None`): for each row,
/// a = mean distance to its own cluster, b = the smallest mean distance to another cluster,
/// s = (b − a)/max(a, b); 0 for a row alone in its cluster (as scikit-learn). Distances are
/// taken to the sampled rows only, so the cost is quadratic in the sample, not in n.
pub fn silhouette(
    d: &MixedData,
    labels: &[usize],
    k: usize,
    distance: SilhouetteDistance,
    sample: Option<&[usize]>,
) -> f64 {
    let all: Vec<usize>;
    let rows = match sample {
        Some(s) => s,
        None => {
            all = (0..d.n).collect();
            &all
        }
    };
    if k < 2 || rows.len() < 2 {
        return 0.0;
    }
    let ranges = if distance == SilhouetteDistance::Gower {
        num_ranges(d)
    } else {
        Vec::new()
    };
    let (filled, scales) = match distance {
        SilhouetteDistance::Mixed { .. } => (
            d.num
                .iter()
                .map(|v| if v.is_nan() { 0.0 } else { *v })
                .collect::<Vec<f64>>(),
            row_scales(d),
        ),
        _ => (Vec::new(), Vec::new()),
    };
    let dist = |i: usize, j: usize| -> f64 {
        match distance {
            SilhouetteDistance::Euclidean => sq_dist(d.num_row(i), d.num_row(j)).sqrt(),
            SilhouetteDistance::Mixed { gamma_millis } => {
                let pn = d.p_num;
                let raw = mixed_dist_raw(
                    d,
                    i,
                    &filled[j * pn..(j + 1) * pn],
                    d.cat_row(j),
                    gamma_millis as f64 / 1000.0,
                );
                (raw * scales[i]).sqrt()
            }
            SilhouetteDistance::Gower => gower(d, &ranges, i, j),
        }
    };
    let widths: Vec<f64> = par_map(rows.len(), 8, |a| {
        let i = rows[a];
        let mut sum = vec![0.0; k];
        let mut cnt = vec![0usize; k];
        for &j in rows {
            if j != i {
                sum[labels[j]] += dist(i, j);
                cnt[labels[j]] += 1;
            }
        }
        let own = labels[i];
        if cnt[own] == 0 {
            return 0.0;
        }
        let a_ = sum[own] / cnt[own] as f64;
        let b_ = (0..k)
            .filter(|&c| c != own && cnt[c] > 0)
            .map(|c| sum[c] / cnt[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if !b_.is_finite() {
            return 0.0;
        }
        let m = a_.max(b_);
        if m > 0.0 {
            (b_ - a_) / m
        } else {
            0.0
        }
    });
    widths.iter().sum::<f64>() / widths.len() as f64
}

/// A seeded sample of at most `max` row indices (sorted), for the silhouette on large data.
pub fn sample_rows(n: usize, max: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    if n <= max {
        return idx;
    }
    let mut rng = Rng(seed ^ 0x5111_0E77);
    // Partial Fisher–Yates: the first `max` positions are a uniform sample.
    for i in 0..max {
        let j = i + rng.below((n - i) as u64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(max);
    idx.sort_unstable();
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs(n_per: usize, seed: u64) -> (Vec<f64>, Vec<usize>) {
        let mut rng = Rng(seed);
        let centres = [[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]];
        let mut x = Vec::new();
        let mut truth = Vec::new();
        for (c, m) in centres.iter().enumerate() {
            for _ in 0..n_per {
                // Sum of uniforms: roughly normal noise.
                let e1: f64 = (0..6).map(|_| rng.uniform()).sum::<f64>() - 3.0;
                let e2: f64 = (0..6).map(|_| rng.uniform()).sum::<f64>() - 3.0;
                x.push(m[0] + e1);
                x.push(m[1] + e2);
                truth.push(c);
            }
        }
        (x, truth)
    }

    #[test]
    fn kmeans_recovers_three_blobs() {
        let (x, truth) = blobs(200, 3);
        let c = kmeans(
            &x,
            600,
            2,
            &KMeansOptions {
                k: 3,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(crate::metrics::adjusted_rand_index(&c.labels, &truth) > 0.95);
        assert_eq!(c.sizes().iter().sum::<usize>(), 600);
        // Hamerly gives Lloyd's fixed point: every point is at its nearest centre.
        for i in 0..600 {
            let own = sq_dist(
                &x[i * 2..i * 2 + 2],
                &c.centers[c.labels[i] * 2..c.labels[i] * 2 + 2],
            );
            for j in 0..3 {
                assert!(own <= sq_dist(&x[i * 2..i * 2 + 2], &c.centers[j * 2..j * 2 + 2]) + 1e-12);
            }
        }
    }

    #[test]
    fn kprototypes_uses_categories_and_tolerates_missing() {
        let (mut x, truth) = blobs(100, 5);
        x[0] = f64::NAN;
        let n = 300;
        let cat: Vec<u32> = truth
            .iter()
            .enumerate()
            .map(|(i, &t)| if i % 17 == 0 { MISSING } else { t as u32 })
            .collect();
        let d = MixedData {
            n,
            num: x,
            p_num: 2,
            cat,
            p_cat: 1,
            n_levels: vec![3],
        };
        let c = kprototypes(
            &d,
            &KPrototypesOptions {
                k: 3,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(crate::metrics::adjusted_rand_index(&c.labels, &truth) > 0.95);
        let p = pam(&d, 3).unwrap();
        assert!(crate::metrics::adjusted_rand_index(&p.labels, &truth) > 0.9);
        let s = silhouette(&d, &p.labels, 3, SilhouetteDistance::Gower, None);
        assert!(s > 0.3, "{s}");
    }

    #[test]
    fn large_data_are_refined_from_a_sample_to_a_full_data_fixed_point() {
        // 120,000 rows: above REFINE_FROM, so the starts run on a sample first.
        let (x, truth) = blobs(40_000, 11);
        let n = truth.len();
        let c = kmeans(
            &x,
            n,
            2,
            &KMeansOptions {
                k: 3,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(crate::metrics::adjusted_rand_index(&c.labels, &truth) > 0.95);
        // A fixed point of Lloyd on all rows: every row at its nearest centre, and every centre
        // the mean of its rows.
        for i in 0..n {
            let own = sq_dist(
                &x[i * 2..i * 2 + 2],
                &c.centers[c.labels[i] * 2..c.labels[i] * 2 + 2],
            );
            for j in 0..3 {
                assert!(own <= sq_dist(&x[i * 2..i * 2 + 2], &c.centers[j * 2..j * 2 + 2]) + 1e-9);
            }
        }
        for j in 0..3 {
            let rows: Vec<usize> = (0..n).filter(|&i| c.labels[i] == j).collect();
            let mean = rows.iter().map(|&i| x[i * 2]).sum::<f64>() / rows.len() as f64;
            assert!((mean - c.centers[j * 2]).abs() < 1e-3);
        }
    }

    #[test]
    fn too_many_clusters_is_an_error() {
        assert!(kmeans(
            &[1.0, 2.0],
            2,
            1,
            &KMeansOptions {
                k: 3,
                ..Default::default()
            }
        )
        .is_err());
    }
}
