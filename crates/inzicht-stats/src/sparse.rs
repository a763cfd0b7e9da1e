//! A row-major sparse feature matrix (compressed sparse rows).
//!
//! The person-month panel's features are mostly 0: one-hot levels of categorical assessment
//! items, missing-value indicators and the provision history make up most of the ~175 columns,
//! and about a quarter of the entries of a row are nonzero. Every pass of the provision-effect
//! analysis over the panel (linear predictors of all eligible control months, balance moments)
//! then touches a quarter of the values it would read from a dense matrix, and the matrix takes
//! a third of the memory.
//!
//! Sums over a row's nonzero entries, taken in column order, equal the dense sums to the bit:
//! adding an exact 0 leaves any nonzero partial sum unchanged (IEEE 754 round-to-nearest).

/// `n` rows × `p` columns; the nonzero entries of row `r` are `col[start[r]..start[r + 1]]`
/// (ascending) with values `val[…]`. Exact zeros (also −0) are not stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    p: usize,
    start: Vec<usize>,
    col: Vec<u32>,
    val: Vec<f32>,
}

impl Features {
    /// An empty matrix with `p` columns.
    pub fn new(p: usize) -> Self {
        Features {
            p,
            start: vec![0],
            col: Vec::new(),
            val: Vec::new(),
        }
    }

    /// Room for `rows` more rows with `nonzeros` more entries.
    pub fn reserve(&mut self, rows: usize, nonzeros: usize) {
        self.start.reserve(rows);
        self.col.reserve(nonzeros);
        self.val.reserve(nonzeros);
    }

    /// Appends the entry (`j`, `v`) to the row being built; `j` must exceed the row's previous
    /// column. Zeros are skipped. Close the row with [`Features::end_row`].
    #[inline]
    pub fn push(&mut self, j: usize, v: f32) {
        if v != 0.0 {
            self.col.push(j as u32);
            self.val.push(v);
        }
    }

    /// Appends entries (columns ascending, above the row's previous column; no zeros) to the
    /// row being built.
    #[inline]
    pub fn extend_row(&mut self, cols: &[u32], vals: &[f32]) {
        self.col.extend_from_slice(cols);
        self.val.extend_from_slice(vals);
    }

    #[inline]
    pub fn end_row(&mut self) {
        self.start.push(self.col.len());
    }

    /// Appends all rows of `other` (same `p`).
    pub fn append(&mut self, other: &Features) {
        let base = self.col.len();
        self.reserve(other.n_rows(), other.nonzeros());
        self.col.extend_from_slice(&other.col);
        self.val.extend_from_slice(&other.val);
        self.start
            .extend(other.start[1..].iter().map(|&s| base + s));
    }

    pub fn n_rows(&self) -> usize {
        self.start.len() - 1
    }

    pub fn n_cols(&self) -> usize {
        self.p
    }

    pub fn nonzeros(&self) -> usize {
        self.col.len()
    }

    /// The nonzero entries of row `r`: (columns ascending, values).
    #[inline]
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.start[r], self.start[r + 1]);
        (&self.col[a..b], &self.val[a..b])
    }

    /// Row `r` written densely into `out` (length `p`).
    #[inline]
    pub fn write_dense(&self, r: usize, out: &mut [f32]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        let (c, v) = self.row(r);
        for (&j, &x) in c.iter().zip(v) {
            out[j as usize] = x;
        }
    }

    /// Row `r` as a dense vector.
    pub fn dense_row(&self, r: usize) -> Vec<f32> {
        let mut out = vec![0.0; self.p];
        self.write_dense(r, &mut out);
        out
    }

    /// `Σ_j x[r, j] · coef[j]` over the nonzero entries in column order (`coef` has length `p`;
    /// 0 for columns outside the model).
    #[inline]
    pub fn dot(&self, r: usize, coef: &[f64]) -> f64 {
        let (c, v) = self.row(r);
        let mut s = 0.0;
        for (&j, &x) in c.iter().zip(v) {
            s += x as f64 * coef[j as usize];
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(dense: &[f32], p: usize) -> Features {
        let mut f = Features::new(p);
        for row in dense.chunks_exact(p) {
            for (j, &v) in row.iter().enumerate() {
                f.push(j, v);
            }
            f.end_row();
        }
        f
    }

    #[test]
    fn reads_like_the_dense_matrix() {
        let dense = [0.0, 1.5, 0.0, -2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, -0.0, 1.0];
        let f = build(&dense, 4);
        assert_eq!(f.n_rows(), 3);
        assert_eq!(f.nonzeros(), 4, "zeros, also -0, are not stored");
        for r in 0..3 {
            assert_eq!(f.dense_row(r), dense[r * 4..r * 4 + 4].to_vec());
        }
        let coef = [0.5, -1.0, 2.0, 0.25];
        for r in 0..3 {
            let dense_dot: f64 = (0..4).map(|j| dense[r * 4 + j] as f64 * coef[j]).sum();
            assert_eq!(f.dot(r, &coef), dense_dot);
        }
        let mut g = build(&dense[..4], 4);
        g.append(&build(&dense[4..], 4));
        assert_eq!(g, f);
    }
}
