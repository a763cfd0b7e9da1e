//! Small dense symmetric matrices (row-major `Vec<f64>`, p × p): Cholesky decomposition with a
//! singularity check, solve and inverse. The models here have tens of parameters, so a plain
//! O(p³) factorisation is the right tool.

/// Cholesky factor L (lower triangle, row-major) of a symmetric positive-definite matrix.
/// Returns the index of the first column whose pivot is not positive (relative to the largest
/// diagonal element) when the matrix is singular: a constant or collinear covariate.
pub fn cholesky(a: &[f64], p: usize) -> Result<Vec<f64>, usize> {
    // R's coxph uses toler.chol = .Machine$double.eps^0.75 ≈ 1.8e-12 in the same role.
    let (l, aliased) = factor(a, p, 1.8e-12, false);
    match aliased.first() {
        Some(&j) => Err(j),
        None => Ok(l),
    }
}

/// Columns of a symmetric positive-semidefinite matrix (a Gram matrix XᵀX) that are linear
/// combinations of earlier columns, found as R's `cholesky2` does: a pivot below the tolerance
/// marks the column as aliased and the factorisation goes on without it.
pub fn aliased_columns(a: &[f64], p: usize) -> Vec<usize> {
    factor(a, p, 1e-9, true).1
}

/// The Cholesky factorisation with a relative pivot tolerance; with `go_on`, a column whose
/// pivot falls below it is recorded and skipped, otherwise the factorisation stops there.
fn factor(a: &[f64], p: usize, rel_tol: f64, go_on: bool) -> (Vec<f64>, Vec<usize>) {
    let max_diag = (0..p).map(|i| a[i * p + i].abs()).fold(0.0, f64::max);
    let tol = rel_tol * max_diag.max(f64::MIN_POSITIVE);
    let mut l = vec![0.0; p * p];
    let mut aliased = Vec::new();
    for j in 0..p {
        let mut d = a[j * p + j];
        for k in 0..j {
            d -= l[j * p + k] * l[j * p + k];
        }
        if d.is_nan() || d <= tol {
            aliased.push(j);
            if go_on {
                continue;
            }
            break;
        }
        let d = d.sqrt();
        l[j * p + j] = d;
        for i in j + 1..p {
            let mut s = a[i * p + j];
            for k in 0..j {
                s -= l[i * p + k] * l[j * p + k];
            }
            l[i * p + j] = s / d;
        }
    }
    (l, aliased)
}

/// Solves L Lᵀ x = b.
pub fn chol_solve(l: &[f64], p: usize, b: &[f64]) -> Vec<f64> {
    let mut y = b.to_vec();
    for i in 0..p {
        let mut s = y[i];
        for k in 0..i {
            s -= l[i * p + k] * y[k];
        }
        y[i] = s / l[i * p + i];
    }
    for i in (0..p).rev() {
        let mut s = y[i];
        for k in i + 1..p {
            s -= l[k * p + i] * y[k];
        }
        y[i] = s / l[i * p + i];
    }
    y
}

/// Inverse of the matrix whose Cholesky factor is `l`.
pub fn chol_inverse(l: &[f64], p: usize) -> Vec<f64> {
    let mut inv = vec![0.0; p * p];
    let mut e = vec![0.0; p];
    for j in 0..p {
        e.iter_mut().for_each(|v| *v = 0.0);
        e[j] = 1.0;
        let col = chol_solve(l, p, &e);
        for i in 0..p {
            inv[i * p + j] = col[i];
        }
    }
    inv
}

/// Inverse of a symmetric positive-definite matrix, or the index of a singular column.
pub fn spd_inverse(a: &[f64], p: usize) -> Result<Vec<f64>, usize> {
    cholesky(a, p).map(|l| chol_inverse(&l, p))
}

/// y = A x for a p × p matrix.
pub fn mat_vec(a: &[f64], p: usize, x: &[f64]) -> Vec<f64> {
    (0..p)
        .map(|i| (0..p).map(|j| a[i * p + j] * x[j]).sum())
        .collect()
}

/// xᵀ A⁻¹ x by Cholesky, or None when A is singular.
pub fn quad_form_inv(a: &[f64], p: usize, x: &[f64]) -> Option<f64> {
    let l = cholesky(a, p).ok()?;
    let s = chol_solve(&l, p, x);
    Some(x.iter().zip(&s).map(|(a, b)| a * b).sum())
}

/// Rows per tile of a matrix stored by tiles (see [`to_tiles`]).
pub const TILE: usize = 32;

/// An n × p row-major matrix stored by tiles of TILE rows, each tile column by column: the
/// value of row i and column j is at ((i / TILE)·p + j)·TILE + i mod TILE, and the last tile is
/// padded with zeros. In this layout the products over rows that the fits need run along
/// contiguous columns.
pub fn to_tiles(x: &[f64], p: usize) -> Vec<f64> {
    let n = x.len().checked_div(p).unwrap_or(0);
    let mut xt = vec![0.0; n.div_ceil(TILE) * p * TILE];
    for (i, row) in x.chunks_exact(p.max(1)).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            xt[((i / TILE) * p + j) * TILE + i % TILE] = v;
        }
    }
    xt
}

/// Σᵢ aᵢ xᵢxᵢᵀ over the rows of `tiles` of x stored by tiles ([`to_tiles`]; rows past the end
/// of `a` count as aᵢ = 0): the lower triangle with the diagonal of a p × p row-major matrix
/// (the upper triangle stays zero).
///
/// This is the O(n p²) step of a Cox information matrix. Per tile it is a small matrix product:
/// each 2 × 2 block of entries is summed over the tile's 32 rows in four lanes — running sums
/// held in registers, each read of a column feeding two products (the register blocking of GEMM
/// kernels; Goto & van de Geijn 2008). The order of every sum is fixed: lane l sums the rows
/// whose place in their tile is l mod 4, tile after tile and row after row, and the lanes are
/// added as (l₀ + l₁) + (l₂ + l₃) at the end. Rust never fuses a multiplication and an addition,
/// so the AVX kernel and the portable one give the same result to the bit.
pub fn weighted_gram(xt: &[f64], p: usize, a: &[f64], tiles: std::ops::Range<usize>) -> Vec<f64> {
    #[cfg(target_arch = "x86_64")]
    let avx = std::arch::is_x86_feature_detected!("avx");
    #[cfg(not(target_arch = "x86_64"))]
    let avx = false;
    weighted_gram_with(xt, p, a, tiles, avx)
}

fn weighted_gram_with(
    xt: &[f64],
    p: usize,
    a: &[f64],
    tiles: std::ops::Range<usize>,
    avx: bool,
) -> Vec<f64> {
    #[cfg(target_arch = "x86_64")]
    if avx {
        // SAFETY: `avx` is true only when the CPU has AVX (weighted_gram checks it).
        return unsafe { gram_tiles_avx(xt, p, a, tiles) };
    }
    let _ = avx;
    gram_tiles::<false>(xt, p, a, tiles)
}

/// The tile loop compiled for AVX, with the AVX block kernel inlined.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn gram_tiles_avx(xt: &[f64], p: usize, a: &[f64], tiles: std::ops::Range<usize>) -> Vec<f64> {
    gram_tiles::<true>(xt, p, a, tiles)
}

/// Four running sums of one 2 × 2 block (v₀x₀, v₀x₁, v₁x₀, v₁x₁), each in four lanes.
type BlockLanes = [[f64; 4]; 4];

#[inline(always)]
fn gram_tiles<const AVX: bool>(
    xt: &[f64],
    p: usize,
    a: &[f64],
    tiles: std::ops::Range<usize>,
) -> Vec<f64> {
    // Columns padded to an even number with zeros, so every block is 2 × 2.
    let pe = p + (p & 1);
    let zero = [0.0; TILE];
    // The lanes of every block of the lower triangle, kept over all tiles and added up once at
    // the end (adding them up per tile cost as much as the products).
    let mut lanes: Vec<BlockLanes> = vec![[[0.0; 4]; 4]; (pe / 2) * (pe / 2 + 1) / 2];
    // aᵢxᵢ of the tile, column by column.
    let mut vt = vec![0.0; pe * TILE];
    let x_column = |b: usize, k: usize| -> &[f64; TILE] {
        if k < p {
            column(&xt[b * p * TILE..(b + 1) * p * TILE], k)
        } else {
            &zero
        }
    };
    for b in tiles {
        let mut at = [0.0; TILE];
        let (lo, hi) = (b * TILE, ((b + 1) * TILE).min(a.len()));
        if lo < hi {
            at[..hi - lo].copy_from_slice(&a[lo..hi]);
        }
        for k in 0..p {
            for ((v, x), a) in vt[k * TILE..(k + 1) * TILE]
                .iter_mut()
                .zip(x_column(b, k))
                .zip(&at)
            {
                *v = a * x;
            }
        }
        let mut block = lanes.iter_mut();
        for jb in (0..pe).step_by(2) {
            for kb in (0..=jb).step_by(2) {
                let Some(sums) = block.next() else {
                    unreachable!("one set of lanes per block")
                };
                let v = [column(&vt, jb), column(&vt, jb + 1)];
                let x = [x_column(b, kb), x_column(b, kb + 1)];
                #[cfg(target_arch = "x86_64")]
                if AVX {
                    // SAFETY: AVX is true only in gram_tiles_avx, on a CPU with AVX.
                    unsafe { block_sums_avx(v, x, sums) };
                } else {
                    block_sums(v, x, sums);
                }
                #[cfg(not(target_arch = "x86_64"))]
                block_sums(v, x, sums);
            }
        }
    }
    let mut g = vec![0.0; p * p];
    let mut block = lanes.iter();
    for jb in (0..pe).step_by(2) {
        for kb in (0..=jb).step_by(2) {
            let Some(sums) = block.next() else {
                unreachable!("one set of lanes per block")
            };
            let s = sums.map(|l| (l[0] + l[1]) + (l[2] + l[3]));
            // Entries (j, k) with k ≤ j < p: the block's upper corner is above the diagonal
            // when kb = jb, and padding columns are dropped.
            g[jb * p + kb] = s[0];
            if kb < jb && kb + 1 < p {
                g[jb * p + kb + 1] = s[1];
            }
            if jb + 1 < p {
                g[(jb + 1) * p + kb] = s[2];
                if kb + 1 < p {
                    g[(jb + 1) * p + kb + 1] = s[3];
                }
            }
        }
    }
    g
}

/// Column `k` of a column-major tile.
#[inline(always)]
pub(crate) fn column(t: &[f64], k: usize) -> &[f64; TILE] {
    match t[k * TILE..(k + 1) * TILE].try_into() {
        Ok(column) => column,
        Err(_) => unreachable!("a tile column has TILE numbers"),
    }
}

/// Adds a tile's products v₀x₀, v₀x₁, v₁x₀, v₁x₁ to their lanes (row r of the tile to lane
/// r mod 4, in row order).
#[inline(always)]
fn block_sums(v: [&[f64; TILE]; 2], x: [&[f64; TILE]; 2], s: &mut BlockLanes) {
    for r in (0..TILE).step_by(4) {
        for l in 0..4 {
            let at = r + l;
            s[0][l] += v[0][at] * x[0][at];
            s[1][l] += v[0][at] * x[1][at];
            s[2][l] += v[1][at] * x[0][at];
            s[3][l] += v[1][at] * x[1][at];
        }
    }
}

/// [`block_sums`] with four-wide vectors: one lane per vector element, the same operations.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline]
fn block_sums_avx(v: [&[f64; TILE]; 2], x: [&[f64; TILE]; 2], sums: &mut BlockLanes) {
    use std::arch::x86_64::{_mm256_add_pd, _mm256_loadu_pd, _mm256_mul_pd, _mm256_storeu_pd};
    // SAFETY: every load and store stays inside an array of four (a block's lanes) or of TILE
    // numbers (r + 4 ≤ TILE).
    unsafe {
        let mut s = sums.map(|l| _mm256_loadu_pd(l.as_ptr()));
        for r in (0..TILE).step_by(4) {
            let v0 = _mm256_loadu_pd(v[0].as_ptr().add(r));
            let v1 = _mm256_loadu_pd(v[1].as_ptr().add(r));
            let x0 = _mm256_loadu_pd(x[0].as_ptr().add(r));
            let x1 = _mm256_loadu_pd(x[1].as_ptr().add(r));
            s[0] = _mm256_add_pd(s[0], _mm256_mul_pd(v0, x0));
            s[1] = _mm256_add_pd(s[1], _mm256_mul_pd(v0, x1));
            s[2] = _mm256_add_pd(s[2], _mm256_mul_pd(v1, x0));
            s[3] = _mm256_add_pd(s[3], _mm256_mul_pd(v1, x1));
        }
        for (out, lanes) in sums.iter_mut().zip(s) {
            _mm256_storeu_pd(out.as_mut_ptr(), lanes);
        }
    }
}

/// The lower triangle (with the diagonal) of Σᵢ wᵢ xᵢxᵢᵀ over sparse rows, q × q row-major: the
/// information matrix of a logistic model whose design is mostly 0/1 indicators.
///
/// Entry (a, b), a ≥ b, gets (wᵢ·x_ia)·x_ib from every row in turn, exactly as a loop over each
/// row's nonzero pairs would add them — so the result is the same to the bit (a skipped zero
/// product adds ±0, which leaves a sum that is not −0 unchanged, and these sums start at +0 and
/// only add nonzero products otherwise). What differs is the memory access: a row's entries in
/// the first `dense` columns (the numeric features and the intercept, nonzero in most rows) are
/// spread into a dense vector, so their products run along contiguous stretches of the matrix's
/// rows, which the compiler vectorises; only the pairs of two later (sparse) columns are added
/// one by one. On a provision group's propensity sample (160 columns, 41 nonzeros per row with
/// the intercept, 15 of them in the first 30 columns) that replaces ~860 scattered additions
/// per row by ~350 scattered and ~1,250 contiguous ones: 15.0 → 13.3 ms per pass on one core.
pub struct SparseGram {
    q: usize,
    dense: usize,
    /// q × q, row-major; the lower triangle is filled.
    pub info: Vec<f64>,
    /// The current row's values in the first `dense` columns (0 elsewhere between rows).
    spread: Vec<f64>,
}

impl SparseGram {
    /// An empty sum over q columns, the first `dense` (at most q) of them spread per row.
    pub fn new(q: usize, dense: usize) -> SparseGram {
        let dense = dense.min(q);
        SparseGram {
            q,
            dense,
            info: vec![0.0; q * q],
            spread: vec![0.0; dense],
        }
    }

    /// The number of leading columns worth spreading, from the count of rows in which each
    /// column is nonzero: the longest prefix in which at least half of the entries are nonzero
    /// (a dense product over a stretch that is mostly zeros costs more than it saves).
    pub fn dense_prefix(nonzero_rows: &[usize], n_rows: usize) -> usize {
        let mut best = 0;
        let mut total = 0usize;
        for (j, &nz) in nonzero_rows.iter().enumerate() {
            total += nz;
            if 2 * total >= n_rows * (j + 1) {
                best = j + 1;
            }
        }
        best
    }

    /// Adds w·xxᵀ for one row given by its nonzero entries: columns `idx` (increasing, each
    /// below q) with values `val`.
    pub fn add_row(&mut self, w: f64, idx: &[u32], val: &[f64]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX (checked on the line above).
            return unsafe { self.add_row_avx(w, idx, val) };
        }
        self.add_row_portable(w, idx, val)
    }

    /// [`SparseGram::add_row`] compiled for AVX: the contiguous stretches in four lanes
    /// instead of two (the same operations in the same order: the same bits).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    fn add_row_avx(&mut self, w: f64, idx: &[u32], val: &[f64]) {
        self.add_row_portable(w, idx, val)
    }

    #[inline(always)]
    fn add_row_portable(&mut self, w: f64, idx: &[u32], val: &[f64]) {
        let (q, d) = (self.q, self.dense);
        let split = idx.partition_point(|&j| (j as usize) < d);
        for (&j, &v) in idx[..split].iter().zip(&val[..split]) {
            self.spread[j as usize] = v;
        }
        // Every row of the dense block, zero or not: loops of the same lengths in every row are
        // predicted by the CPU, while a loop per nonzero, of a length that changes from row to
        // row, mispredicts its end each time — which cost more than the products it skipped.
        for a in 0..d {
            let wa = w * self.spread[a];
            let row = &mut self.info[a * q..a * q + a + 1];
            for (s, x) in row.iter_mut().zip(&self.spread[..=a]) {
                *s += wa * x;
            }
        }
        for k in split..idx.len() {
            let a = idx[k] as usize;
            let wa = w * val[k];
            let row = &mut self.info[a * q..(a + 1) * q];
            for (s, x) in row[..d].iter_mut().zip(&self.spread) {
                *s += wa * x;
            }
            for (&b, &xb) in idx[split..=k].iter().zip(&val[split..=k]) {
                row[b as usize] += wa * xb;
            }
        }
        for &j in &idx[..split] {
            self.spread[j as usize] = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_of_a_small_matrix() {
        let a = [4.0, 2.0, 0.6, 2.0, 2.0, 0.5, 0.6, 0.5, 3.0];
        let inv = spd_inverse(&a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        assert_eq!(spd_inverse(&[1.0, 1.0, 1.0, 1.0], 2), Err(1));
    }

    #[test]
    fn weighted_gram_is_the_weighted_sum_of_outer_products() {
        // Odd and even p, a partial last tile, a range that starts inside the data.
        for (n, p, from) in [(1, 1, 0), (7, 3, 2), (100, 4, 5), (70, 5, 0), (33, 2, 1)] {
            let x: Vec<f64> = (0..n * p)
                .map(|i| ((i * 37 % 101) as f64 - 50.0) / 7.0)
                .collect();
            let a: Vec<f64> = (0..n).map(|i| 0.5 + (i % 5) as f64).collect();
            // Rows before `from` weigh nothing; the tiles cover them all.
            let a: Vec<f64> = (0..n).map(|i| if i < from { 0.0 } else { a[i] }).collect();
            let xt = to_tiles(&x, p);
            let tiles = 0..n.div_ceil(TILE);
            let g = weighted_gram(&xt, p, &a, tiles.clone());
            let portable = weighted_gram_with(&xt, p, &a, tiles, false);
            assert_eq!(g, portable, "the AVX and the portable kernels differ");
            for j in 0..p {
                for k in 0..p {
                    let want: f64 = if k <= j {
                        (from..n).map(|i| a[i] * x[i * p + j] * x[i * p + k]).sum()
                    } else {
                        0.0
                    };
                    let got = g[j * p + k];
                    assert!(
                        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                        "n {n} p {p} ({j}, {k}): {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn sparse_gram_gives_the_bits_of_the_pairwise_loop() {
        // Rows of 0/1 indicators and numbers, nonzero in the first columns more often; every
        // prefix length, including none and all.
        let (n, q) = (300, 23);
        let mut rows: Vec<(f64, Vec<u32>, Vec<f64>)> = Vec::new();
        for i in 0..n {
            let (mut idx, mut val) = (Vec::new(), Vec::new());
            for j in 0..q {
                let h = (i * 131 + j * 71 + i * j * 7) % 97;
                let nonzero = if j < 8 { h < 80 } else { h < 15 };
                if nonzero {
                    idx.push(j as u32);
                    val.push(if j % 3 == 0 {
                        1.0
                    } else {
                        (h as f64 - 40.0) / 13.0
                    });
                }
            }
            rows.push((0.05 + (i % 11) as f64 / 7.0, idx, val));
        }
        let mut want = vec![0.0; q * q];
        for (w, idx, val) in &rows {
            for (a, (&j, &xj)) in idx.iter().zip(val).enumerate() {
                let wj = w * xj;
                for (&k, &xk) in idx[..=a].iter().zip(val) {
                    want[j as usize * q + k as usize] += wj * xk;
                }
            }
        }
        let mut nonzero = vec![0usize; q];
        for (_, idx, _) in &rows {
            idx.iter().for_each(|&j| nonzero[j as usize] += 1);
        }
        let chosen = SparseGram::dense_prefix(&nonzero, n);
        // 8 columns nonzero in ~82% of rows, then ~15%: the half-full prefix ends after ~15.
        assert!((8..=17).contains(&chosen), "prefix {chosen}");
        for dense in [0, 1, chosen, q - 1, q, q + 5] {
            let mut g = SparseGram::new(q, dense);
            for (w, idx, val) in &rows {
                g.add_row(*w, idx, val);
            }
            let same = g
                .info
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "dense prefix {dense}: not the same bits");
        }
    }
}
