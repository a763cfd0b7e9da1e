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
}
