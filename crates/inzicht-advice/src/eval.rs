//! Ranking quality against graded relevance (the synthetic truth's good matches).
//!
//! precision@k = |relevant ∩ top k| / k (Manning, Raghavan & Schütze 2008, §8.4);
//! nDCG@k = DCG@k / IDCG@k with DCG@k = Σ_{i=1..k} (2^{g_i} − 1) / log₂(i + 1) and IDCG the DCG
//! of the ideal order of all relevant items (Järvelin & Kekäläinen 2002). Clients with no
//! relevant item have no defined nDCG and precision 0 for every ranker; they are counted apart
//! and left out of both means, so that the means compare rankers where a good answer exists.

use serde::Serialize;
use std::collections::HashMap;

/// precision@k and nDCG@k of one ranking; `grade` gives the relevance of an item (0 = not).
pub fn precision_ndcg(ranked: &[&str], grades: &HashMap<&str, u8>, k: usize) -> (f64, f64) {
    let top = &ranked[..ranked.len().min(k)];
    let hits = top
        .iter()
        .filter(|id| grades.get(*id).is_some_and(|g| *g > 0))
        .count();
    let gain = |g: u8| f64::from((1u32 << g.min(16)) - 1);
    let dcg: f64 = top
        .iter()
        .enumerate()
        .map(|(i, id)| gain(grades.get(id).copied().unwrap_or(0)) / ((i + 2) as f64).log2())
        .sum();
    let mut ideal: Vec<u8> = grades.values().copied().filter(|g| *g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| gain(*g) / ((i + 2) as f64).log2())
        .sum();
    let ndcg = if idcg > 0.0 { dcg / idcg } else { f64::NAN };
    (hits as f64 / k as f64, ndcg)
}

/// Means of precision@k and nDCG@k over clients with at least one relevant item.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Quality {
    pub precision_at_k: f64,
    pub ndcg_at_k: f64,
    /// Clients evaluated (with at least one relevant item).
    pub n_clients: usize,
    /// Clients left out: no relevant vacancy in the truth.
    pub n_without_relevant: usize,
}

#[derive(Default)]
pub struct Accumulator {
    sum_p: f64,
    sum_n: f64,
    n: usize,
    empty: usize,
}

impl Accumulator {
    pub fn add(&mut self, ranked: &[&str], grades: &HashMap<&str, u8>, k: usize) {
        if !grades.values().any(|g| *g > 0) {
            self.empty += 1;
            return;
        }
        let (p, n) = precision_ndcg(ranked, grades, k);
        self.sum_p += p;
        self.sum_n += n;
        self.n += 1;
    }

    pub fn finish(&self) -> Quality {
        let d = self.n.max(1) as f64;
        Quality {
            precision_at_k: self.sum_p / d,
            ndcg_at_k: self.sum_n / d,
            n_clients: self.n,
            n_without_relevant: self.empty,
        }
    }
}

/// Spearman's rank correlation (average ranks for ties); `None` below three pairs or when one
/// side is constant.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 3 {
        return None;
    }
    let rank = |v: &[f64]| -> Vec<f64> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        let mut r = vec![0.0; v.len()];
        let mut i = 0;
        while i < idx.len() {
            let mut j = i;
            while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
                j += 1;
            }
            let avg = (i + j) as f64 / 2.0 + 1.0;
            for &k in &idx[i..=j] {
                r[k] = avg;
            }
            i = j + 1;
        }
        r
    };
    let (rx, ry) = (rank(x), rank(y));
    let n = x.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_and_ndcg_by_hand() {
        let grades: HashMap<&str, u8> = [("a", 2), ("b", 1), ("c", 1)].into_iter().collect();
        // Ranking b, x, a: hits 2 of k = 3; DCG = 1/log2 2 + 0 + 3/log2 4 = 2.5;
        // IDCG = 3/1 + 1/log2 3 + 1/2.
        let (p, n) = precision_ndcg(&["b", "x", "a"], &grades, 3);
        assert!((p - 2.0 / 3.0).abs() < 1e-12);
        let idcg = 3.0 + 1.0 / 3f64.log2() + 0.5;
        assert!((n - 2.5 / idcg).abs() < 1e-12);
        let (p, n) = precision_ndcg(&["a", "b", "c"], &grades, 3);
        assert_eq!(p, 1.0);
        assert!((n - 1.0).abs() < 1e-12);
        let mut acc = Accumulator::default();
        acc.add(&["a"], &grades, 10);
        acc.add(&["a"], &HashMap::new(), 10);
        let q = acc.finish();
        assert_eq!((q.n_clients, q.n_without_relevant), (1, 1));
        assert!((q.precision_at_k - 0.1).abs() < 1e-12);
    }

    #[test]
    fn spearman_matches_definition() {
        // Same order → 1; reversed → −1; with ties (average ranks), 4.5/√22.5.
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), Some(1.0));
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        let r = spearman(&[1.0, 2.0, 2.0, 4.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!((r - 0.9486832980505138).abs() < 1e-12, "{r}");
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
    }
}
