//! A row-major sparse feature matrix (compressed sparse rows), optionally factored by entity.
//!
//! The person-month panel's features are mostly 0: one-hot levels of categorical assessment
//! items, missing-value indicators and the provision history make up most of the ~175 columns,
//! and about a quarter of the entries of a row are nonzero. Every pass of the provision-effect
//! analysis over the panel (linear predictors of all eligible control months, balance moments)
//! then touches a quarter of the values it would read from a dense matrix.
//!
//! Most columns describe the person, the spell or the assessment in force, not the month. A
//! *factored* matrix stores those blocks of columns once per entity (person, spell, assessment)
//! and, per row, only its own columns (duration, age, provision history …) and the index of its
//! entity at each level: at 7,400 clients ~12 instead of ~44 stored entries per row, so that the
//! matrix is built four times faster and its passes read a fifth of the memory. A row reads the
//! same entries either way.
//!
//! Every pass visits a row's nonzero entries in ascending column order
//! ([`Features::for_each`]), factored or not: sums taken that way equal the dense sums to the bit
//! (adding an exact 0 leaves any nonzero partial sum unchanged, IEEE 754 round-to-nearest).

use std::ops::Range;

/// Compressed sparse rows: the nonzero entries of row `r` are `col[start[r]..start[r + 1]]`
/// (ascending) with values `val[…]`.
#[derive(Debug, Clone, PartialEq)]
struct Csr {
    start: Vec<usize>,
    col: Vec<u32>,
    val: Vec<f32>,
}

/// A block of consecutive columns of a factored matrix.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Columns stored with each row.
    Own { cols: Range<usize> },
    /// Columns stored once per entity of `level`: row `r` reads row `index[level][r]` of
    /// `table` (a plain matrix with entries in `cols` only).
    Shared {
        cols: Range<usize>,
        level: usize,
        table: Features,
    },
}

/// `n` rows × `p` columns. Exact zeros (also −0) are not stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    p: usize,
    /// The stored entries of each row: all of them in a plain matrix, those of the
    /// [`Block::Own`] columns in a factored one.
    own: Csr,
    /// The column blocks of a factored matrix in column order; empty for a plain matrix.
    blocks: Vec<Block>,
    /// Per entity level: each row's entity.
    index: Vec<Vec<u32>>,
}

impl Default for Features {
    fn default() -> Self {
        Features::new(0)
    }
}

impl Features {
    /// An empty plain matrix with `p` columns.
    pub fn new(p: usize) -> Self {
        Features {
            p,
            own: Csr {
                start: vec![0],
                col: Vec::new(),
                val: Vec::new(),
            },
            blocks: Vec::new(),
            index: Vec::new(),
        }
    }

    /// A factored matrix: `own` holds each row's entries in the [`Block::Own`] columns (and
    /// fixes the number of rows and columns), `blocks` cover the columns `0..p` in order, and
    /// `index[level]` gives each row's entity at that level.
    pub fn factored(
        own: Features,
        blocks: Vec<Block>,
        index: Vec<Vec<u32>>,
    ) -> Result<Features, String> {
        if !own.blocks.is_empty() {
            return Err("the rows' own entries must be a plain matrix".into());
        }
        let (p, n) = (own.p, own.n_rows());
        let mut next = 0;
        let mut own_col = vec![false; p];
        for b in &blocks {
            let cols = match b {
                Block::Own { cols } => {
                    own_col[cols.clone()].iter_mut().for_each(|o| *o = true);
                    cols
                }
                Block::Shared { cols, level, table } => {
                    let Some(ix) = index.get(*level) else {
                        return Err(format!("no index for entity level {level}"));
                    };
                    if ix.len() != n || ix.iter().any(|&e| e as usize >= table.n_rows()) {
                        return Err(format!(
                            "the index of level {level} does not fit the rows or its table"
                        ));
                    }
                    if !table.blocks.is_empty()
                        || table.own.col.iter().any(|&j| !cols.contains(&(j as usize)))
                    {
                        return Err(format!(
                            "the table of columns {cols:?} has entries outside them"
                        ));
                    }
                    cols
                }
            };
            if cols.start != next || cols.end < cols.start {
                return Err(format!(
                    "column block {cols:?} does not follow column {next}"
                ));
            }
            next = cols.end;
        }
        if next != p {
            return Err(format!("the column blocks end at {next}, not at {p}"));
        }
        if own.own.col.iter().any(|&j| !own_col[j as usize]) {
            return Err("a row has an entry outside its own columns".into());
        }
        Ok(Features {
            p,
            own: own.own,
            blocks,
            index,
        })
    }

    /// Room for `rows` more rows with `nonzeros` more entries.
    pub fn reserve(&mut self, rows: usize, nonzeros: usize) {
        self.own.start.reserve(rows);
        self.own.col.reserve(nonzeros);
        self.own.val.reserve(nonzeros);
    }

    /// Appends the entry (`j`, `v`) to the row being built; `j` must exceed the row's previous
    /// column. Zeros are skipped. Close the row with [`Features::end_row`]. (Plain matrices.)
    #[inline]
    pub fn push(&mut self, j: usize, v: f32) {
        if v != 0.0 {
            self.own.col.push(j as u32);
            self.own.val.push(v);
        }
    }

    #[inline]
    pub fn end_row(&mut self) {
        self.own.start.push(self.own.col.len());
    }

    /// Appends all rows of `other` (same `p`; both plain).
    pub fn append(&mut self, other: &Features) {
        let base = self.own.col.len();
        self.reserve(other.n_rows(), other.own.col.len());
        self.own.col.extend_from_slice(&other.own.col);
        self.own.val.extend_from_slice(&other.own.val);
        self.own
            .start
            .extend(other.own.start[1..].iter().map(|&s| base + s));
    }

    pub fn n_rows(&self) -> usize {
        self.own.start.len() - 1
    }

    pub fn n_cols(&self) -> usize {
        self.p
    }

    /// Calls `f(column, value)` for each nonzero entry of row `r`, in ascending column order.
    #[inline]
    pub fn for_each(&self, r: usize, mut f: impl FnMut(usize, f32)) {
        self.for_each_run(r, |cols, vals| {
            for (&j, &x) in cols.iter().zip(vals) {
                f(j as usize, x);
            }
        });
    }

    /// The dot product of row `r`'s own entries with `coef`, in column order.
    #[inline]
    fn own_dot(&self, r: usize, coef: &[f64]) -> f64 {
        let Csr { start, col, val } = &self.own;
        (start[r]..start[r + 1])
            .map(|k| val[k] as f64 * coef[col[k] as usize])
            .fold(0.0, |s, t| s + t)
    }

    /// Row `r` written densely into `out` (length `p`).
    #[inline]
    pub fn write_dense(&self, r: usize, out: &mut [f32]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        self.for_each(r, |j, x| out[j] = x);
    }

    /// Row `r` as a dense vector.
    pub fn dense_row(&self, r: usize) -> Vec<f32> {
        let mut out = vec![0.0; self.p];
        self.write_dense(r, &mut out);
        out
    }

    /// `Σ_j x[r, j] · coef[j]` (`coef` has length `p`; 0 for columns outside the model), summed
    /// as [`Features::dot_all`] does: the row's own entries in column order, then each shared
    /// block's entries (in a plain matrix: all entries in column order).
    pub fn dot(&self, r: usize, coef: &[f64]) -> f64 {
        let mut s = self.own_dot(r, coef);
        for b in &self.blocks {
            if let Block::Shared { level, table, .. } = b {
                s += table.dot(self.index[*level][r] as usize, coef);
            }
        }
        s
    }
}

/// Per column over a set of rows: how many rows hold a nonzero, their sum and sum of squares,
/// how many hold exactly 1, and whether every nonzero is 1.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSums {
    pub rows: u64,
    pub nonzero: Vec<u64>,
    pub sum: Vec<f64>,
    pub sum_sq: Vec<f64>,
    pub ones: Vec<u64>,
    pub binary: Vec<bool>,
}

impl Features {
    /// A plain matrix of the given rows, in that order (for repeated passes over a sample).
    pub fn gather(&self, rows: &[usize]) -> Features {
        let mut out = Features::new(self.p);
        // Room for the entries (counted first: growing the vectors cost more than counting).
        let mut total = 0;
        for &r in rows {
            self.for_each_run(r, |cols, _| total += cols.len());
        }
        out.reserve(rows.len(), total);
        let Csr { start, col, val } = &mut out.own;
        for &r in rows {
            // The stored entries are nonzero already; each run is copied whole.
            self.for_each_run(r, |cols, vals| {
                col.extend_from_slice(cols);
                val.extend_from_slice(vals);
            });
            start.push(col.len());
        }
        out
    }

    /// Row r's stored entries as runs that are contiguous in storage (its own entries of each
    /// own block, its entity's row of each shared block), in column order: what
    /// [`Features::for_each`] visits one entry at a time.
    #[inline]
    fn for_each_run(&self, r: usize, mut f: impl FnMut(&[u32], &[f32])) {
        let Csr { start, col, val } = &self.own;
        let (mut k, end) = (start[r], start[r + 1]);
        if self.blocks.is_empty() {
            f(&col[k..end], &val[k..end]);
            return;
        }
        for b in &self.blocks {
            match b {
                Block::Own { cols } => {
                    let from = k;
                    while k < end && (col[k] as usize) < cols.end {
                        k += 1;
                    }
                    f(&col[from..k], &val[from..k]);
                }
                Block::Shared { level, table, .. } => {
                    let Csr { start, col, val } = &table.own;
                    let e = self.index[*level][r] as usize;
                    let run = start[e]..start[e + 1];
                    f(&col[run.clone()], &val[run]);
                }
            }
        }
    }

    /// `x[r, ·] · coef` for every row: the sum of the row's own entries in column order plus,
    /// block by block, the dot product of its entity's entries — computed once per entity, not
    /// once per row (a factored matrix's rows share them). `coef` has length `p`.
    pub fn dot_all(&self, coef: &[f64]) -> Vec<f64> {
        // Each row on its own, so splitting the rows over cores gives the same numbers.
        let mut out = vec![0.0; self.n_rows()];
        crate::rng::par_rows_mut(&mut out, 1, DOT_PARALLEL_MIN, |first, part| {
            for (k, o) in part.iter_mut().enumerate() {
                *o = self.own_dot(first + k, coef);
            }
        });
        for b in &self.blocks {
            if let Block::Shared { level, table, .. } = b {
                let per_entity = table.dot_all(coef);
                for (o, &e) in out.iter_mut().zip(&self.index[*level]) {
                    *o += per_entity[e as usize];
                }
            }
        }
        out
    }

    /// [`ColumnSums`] over `rows` (a row listed twice counts twice). A factored matrix counts
    /// how many of the rows fall on each entity and adds each entity's entries once with that
    /// multiplicity.
    pub fn column_sums(&self, rows: &[usize]) -> ColumnSums {
        let p = self.p;
        let mut c = ColumnSums {
            rows: rows.len() as u64,
            nonzero: vec![0; p],
            sum: vec![0.0; p],
            sum_sq: vec![0.0; p],
            ones: vec![0; p],
            binary: vec![true; p],
        };
        let mut add = |j: usize, x: f32, times: u64| {
            c.nonzero[j] += times;
            if x == 1.0 {
                c.ones[j] += times;
            } else {
                c.binary[j] = false;
            }
            let (x, t) = (x as f64, times as f64);
            c.sum[j] += t * x;
            c.sum_sq[j] += t * x * x;
        };
        let Csr { start, col, val } = &self.own;
        for &r in rows {
            for k in start[r]..start[r + 1] {
                add(col[k] as usize, val[k], 1);
            }
        }
        let mut times: Vec<Vec<u64>> = Vec::new();
        for b in &self.blocks {
            if let Block::Shared { level, table, .. } = b {
                if times.len() <= *level {
                    times.resize(*level + 1, Vec::new());
                }
                if times[*level].is_empty() {
                    let mut t = vec![0u64; table.n_rows()];
                    for &r in rows {
                        t[self.index[*level][r] as usize] += 1;
                    }
                    times[*level] = t;
                }
                let Csr { start, col, val } = &table.own;
                for (e, &n) in times[*level].iter().enumerate() {
                    if n > 0 {
                        for k in start[e]..start[e + 1] {
                            add(col[k] as usize, val[k], n);
                        }
                    }
                }
            }
        }
        c
    }
}

/// Rows of a linear predictor worth splitting over cores (a scoped thread costs tens of
/// microseconds; a row tens of nanoseconds).
const DOT_PARALLEL_MIN: usize = 50_000;

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

    fn entries(f: &Features, r: usize) -> Vec<(usize, f32)> {
        let mut out = Vec::new();
        f.for_each(r, |j, x| out.push((j, x)));
        out
    }

    #[test]
    fn reads_like_the_dense_matrix() {
        let dense = [0.0, 1.5, 0.0, -2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, -0.0, 1.0];
        let f = build(&dense, 4);
        assert_eq!(f.n_rows(), 3);
        assert_eq!(f.own.col.len(), 4, "zeros, also -0, are not stored");
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

    /// A factored matrix reads the same entries, in the same order, as the plain matrix of the
    /// same rows, so its dot products are the same to the bit.
    #[test]
    fn a_factored_matrix_reads_like_the_plain_one() {
        // 5 columns: 0 own, 1–2 per person (2 persons + "none"), 3 own, 4 per spell (2 spells).
        let person = [[0.0f32, 0.0], [0.7, 0.0], [1.0, -3.25]];
        let spell = [[1.0f32], [0.0]];
        let own = [[2.0f32, 0.0], [0.0, 0.0], [-1.5, 4.0], [0.1, 0.2]];
        let (pid, sid) = ([0u32, 2, 1, 1], [1u32, 0, 0, 1]);
        let mut plain = Features::new(5);
        let mut rows = Features::new(5);
        for r in 0..4 {
            let (pe, sp) = (person[pid[r] as usize], spell[sid[r] as usize]);
            for (j, v) in [own[r][0], pe[0], pe[1], own[r][1], sp[0]]
                .into_iter()
                .enumerate()
            {
                plain.push(j, v);
            }
            plain.end_row();
            rows.push(0, own[r][0]);
            rows.push(3, own[r][1]);
            rows.end_row();
        }
        let table = |values: &[&[f32]], cols: Range<usize>| {
            let mut t = Features::new(5);
            for v in values {
                for (k, &x) in v.iter().enumerate() {
                    t.push(cols.start + k, x);
                }
                t.end_row();
            }
            t
        };
        let blocks = vec![
            Block::Own { cols: 0..1 },
            Block::Shared {
                cols: 1..3,
                level: 0,
                table: table(&[&person[0], &person[1], &person[2]], 1..3),
            },
            Block::Own { cols: 3..4 },
            Block::Shared {
                cols: 4..5,
                level: 1,
                table: table(&[&spell[0], &spell[1]], 4..5),
            },
        ];
        let f = Features::factored(
            rows.clone(),
            blocks.clone(),
            vec![pid.to_vec(), sid.to_vec()],
        )
        .expect("a valid factoring");
        let coef = [0.3, -1.1, 0.9, 2.5, -0.4];
        let (all, plain_all) = (f.dot_all(&coef), plain.dot_all(&coef));
        for r in 0..4 {
            assert_eq!(entries(&f, r), entries(&plain, r));
            assert_eq!(f.dense_row(r), plain.dense_row(r));
            // The same sum in another order (own entries first, then block by block).
            assert!((f.dot(r, &coef) - plain.dot(r, &coef)).abs() < 1e-12);
            assert_eq!(all[r].to_bits(), f.dot(r, &coef).to_bits());
            assert_eq!(plain_all[r].to_bits(), plain.dot(r, &coef).to_bits());
        }
        // Column sums over rows with repeats: the same counts, the same sums up to rounding.
        let picked = [0, 2, 2, 3, 1, 3];
        let (a, b) = (f.column_sums(&picked), plain.column_sums(&picked));
        assert_eq!(
            (a.rows, &a.nonzero, &a.ones, &a.binary),
            (b.rows, &b.nonzero, &b.ones, &b.binary)
        );
        for j in 0..5 {
            assert!((a.sum[j] - b.sum[j]).abs() < 1e-9 && (a.sum_sq[j] - b.sum_sq[j]).abs() < 1e-9);
        }
        let dense_sum: f64 = picked.iter().map(|&r| plain.dense_row(r)[2] as f64).sum();
        assert!((a.sum[2] - dense_sum).abs() < 1e-9 && a.nonzero[2] == 1 && !a.binary[2]);
        // The gathered rows are a plain matrix of those rows.
        let g = f.gather(&picked);
        for (i, &r) in picked.iter().enumerate() {
            assert_eq!(entries(&g, i), entries(&plain, r));
        }
        // Refused: an index past its table, blocks that leave a gap, an own entry in a shared
        // block.
        let bad_index = vec![vec![0, 3, 1, 1], sid.to_vec()];
        assert!(Features::factored(rows.clone(), blocks.clone(), bad_index).is_err());
        let mut gap = blocks.clone();
        gap.remove(2);
        assert!(Features::factored(rows.clone(), gap, vec![pid.to_vec(), sid.to_vec()]).is_err());
        let mut stray = Features::new(5);
        for r in 0..4 {
            stray.push(0, own[r][0]);
            stray.push(1, 1.0);
            stray.push(3, own[r][1]);
            stray.end_row();
        }
        assert!(Features::factored(stray, blocks, vec![pid.to_vec(), sid.to_vec()]).is_err());
    }
}
