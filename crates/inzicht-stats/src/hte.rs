//! Heterogeneous provision effects: for whom does a provision group help? (issue 8)
//!
//! The first method is [`crate::provision`]'s matched-subgroup estimate (risk-set matching,
//! estimated within age bands and participatieladder steps). This module adds the second, a
//! **T-learner** (Künzel, Sekhon, Bickel & Yu 2019, PNAS 116:4156): two outcome models, one
//! fitted on clients who started the group in a month of their spell and one on clients who
//! were eligible that month but did not start it, both predicting "left benefit for work,
//! school or income (W/S/I) within `horizon` months" from the features as known that month. The
//! conditional effect of starting now is τ(x) = μ₁(x) − μ₀(x); a subgroup's effect is the mean
//! of τ over the treated in it (the ATT of the subgroup, the estimand of the synthetic truth).
//!
//! Choices, stated:
//! - Rows: the month of the first start of the group in a spell (treated) and a deterministic
//!   random sample of `controls_per_treated` eligible control months per treated month (still
//!   on benefit, not leaving that month, the group not yet started in the spell) — the same risk
//!   sets as the matching, without the matching.
//! - Outcome: W/S/I within the horizon = 1; another exit (competing) or still on benefit at the
//!   horizon = 0; censored before the horizon (moving away, an unknown end, the end of the data)
//!   = left out. Leaving out censored rows assumes censoring unrelated to the outcome given x.
//! - Models: ridge logistic regression on standardised features (λ = 1, the intercept not
//!   penalised), which keeps the fit finite when a feature separates the outcome in one arm.
//! - Uncertainty: the delta method, Var τ̂ = g₁ᵀV₁g₁ + g₀ᵀV₀g₀ with g the gradient of the
//!   (mean) predicted probability in each arm's coefficients and V the cluster-robust (by
//!   person) sandwich H⁻¹(Σ_c u_c u_cᵀ)H⁻¹ of each fit (a person appears in several control
//!   months). Conditional on the treated's covariates, as the truth's ATT is.
//!
//! Like every estimator on observational data it adjusts only for what is measured: the
//! synthetic municipality has unmeasured confounding by design, so intervals can miss the
//! truth even when the ranking of subgroups is right (docs/advice.md reports both).

use crate::logistic;
use crate::provision::{age_band, outcome_within, PanelData, AGE_BANDS};
use crate::rng::Rng;
use serde::Serialize;

#[derive(Debug, Clone, Copy)]
pub struct HteOptions {
    pub horizon: i32,
    pub controls_per_treated: usize,
    pub lambda: f64,
    pub seed: u64,
    /// Fewer treated persons than this in a subgroup: "too few to estimate".
    pub min_persons: usize,
    pub conf_level: f64,
}

impl Default for HteOptions {
    fn default() -> Self {
        HteOptions {
            horizon: 12,
            controls_per_treated: 4,
            lambda: 1.0,
            seed: 20_261_202,
            min_persons: 10,
            conf_level: 0.95,
        }
    }
}

/// One arm's outcome model on the standardised design (intercept first).
#[derive(Debug, Clone)]
struct ArmFit {
    beta: Vec<f64>,
    /// Cluster-robust covariance, q × q.
    cov: Vec<f64>,
}

impl ArmFit {
    fn predict(&self, x: &[f64]) -> f64 {
        let eta: f64 = self.beta.iter().zip(x).map(|(b, v)| b * v).sum();
        1.0 / (1.0 + (-eta).exp())
    }

    fn quad(&self, g: &[f64]) -> f64 {
        let q = g.len();
        let mut s = 0.0;
        for a in 0..q {
            let mut row = 0.0;
            for b in 0..q {
                row += self.cov[a * q + b] * g[b];
            }
            s += g[a] * row;
        }
        s.max(0.0)
    }
}

/// The two outcome models of one provision group.
#[derive(Debug, Clone)]
pub struct TLearner {
    pub group: String,
    /// Columns of `PanelData::features` used, with their mean and standard deviation.
    cols: Vec<usize>,
    mean: Vec<f64>,
    sd: Vec<f64>,
    treated: ArmFit,
    control: ArmFit,
    pub feature_names: Vec<String>,
    pub n_treated_persons: usize,
    pub n_control_persons: usize,
    /// Rows with an outcome that entered each model.
    pub n_treated_rows: usize,
    pub n_control_rows: usize,
    z: f64,
}

/// An estimate with its interval.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Cate {
    pub estimate: f64,
    pub se: f64,
    pub ci: [f64; 2],
    /// Predicted W/S/I outflow within the horizon with and without starting now.
    pub with: f64,
    pub without: f64,
}

impl TLearner {
    fn design(&self, features: &[f32]) -> Vec<f64> {
        let mut x = Vec::with_capacity(self.cols.len() + 1);
        x.push(1.0);
        for (k, &j) in self.cols.iter().enumerate() {
            x.push((features.get(j).copied().unwrap_or(0.0) as f64 - self.mean[k]) / self.sd[k]);
        }
        x
    }

    /// Coefficients of the treated and the control model (intercept first, standardised scale).
    pub fn coefficients(&self) -> [&[f64]; 2] {
        [&self.treated.beta, &self.control.beta]
    }

    /// Cluster-robust standard errors of those coefficients.
    pub fn standard_errors(&self) -> [Vec<f64>; 2] {
        let se = |a: &ArmFit| {
            let q = a.beta.len();
            (0..q).map(|i| a.cov[i * q + i].max(0.0).sqrt()).collect()
        };
        [se(&self.treated), se(&self.control)]
    }

    /// The standardised features of a row (for nearest neighbours), without the intercept.
    pub fn standardised(&self, features: &[f32]) -> Vec<f64> {
        let mut x = self.design(features);
        x.remove(0);
        x
    }

    /// The mean effect over rows (each a feature row of `PanelData::features`).
    pub fn effect<R: AsRef<[f32]>>(&self, rows: impl Iterator<Item = R>) -> Option<Cate> {
        let q = self.cols.len() + 1;
        let (mut g1, mut g0) = (vec![0.0; q], vec![0.0; q]);
        let (mut m1, mut m0, mut n) = (0.0, 0.0, 0usize);
        for f in rows {
            let x = self.design(f.as_ref());
            let (p1, p0) = (self.treated.predict(&x), self.control.predict(&x));
            for a in 0..q {
                g1[a] += p1 * (1.0 - p1) * x[a];
                g0[a] += p0 * (1.0 - p0) * x[a];
            }
            m1 += p1;
            m0 += p0;
            n += 1;
        }
        if n == 0 {
            return None;
        }
        let nf = n as f64;
        g1.iter_mut().chain(g0.iter_mut()).for_each(|v| *v /= nf);
        let (m1, m0) = (m1 / nf, m0 / nf);
        let se = (self.treated.quad(&g1) + self.control.quad(&g0)).sqrt();
        let est = m1 - m0;
        Some(Cate {
            estimate: est,
            se,
            ci: [est - self.z * se, est + self.z * se],
            with: m1,
            without: m0,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SubgroupCate {
    /// "all", "age_band" or "trede" (as in [`crate::provision`]).
    pub subset: String,
    pub value: String,
    pub too_few: bool,
    /// Distinct treated persons in the subgroup.
    pub n_treated: usize,
    pub cate: Option<Cate>,
}

#[derive(Debug, Clone)]
pub struct GroupHte {
    pub group: String,
    pub model: Option<TLearner>,
    pub subgroups: Vec<SubgroupCate>,
    pub warnings: Vec<String>,
    /// The rows of each model with their outcome (panel row, W/S/I within the horizon): the
    /// pool in which the consultant's page looks for comparable clients.
    pub treated_rows: Vec<(usize, bool)>,
    pub control_rows: Vec<(usize, bool)>,
}

/// Fits the T-learner for every provision group (groups in parallel).
pub fn t_learner_all(d: &PanelData, opt: &HteOptions) -> Vec<GroupHte> {
    crate::rng::par_map(d.groups.len(), 8, |g| t_learner(d, g, opt))
}

fn distinct(persons: impl Iterator<Item = u32>) -> usize {
    let mut v: Vec<u32> = persons.collect();
    v.sort_unstable();
    v.dedup();
    v.len()
}

/// Fits the two outcome models of group `g` and the subgroup effects.
pub fn t_learner(d: &PanelData, g: usize, opt: &HteOptions) -> GroupHte {
    let group = d.groups[g].clone();
    let warnings = Vec::new();
    let n = d.person.len();
    let p = d.feature_names.len();
    let mut first = vec![None; d.spell_exit.len()];
    for &(s, gg, m, _) in &d.first_starts {
        if gg == g {
            first[s as usize] = Some(m);
        }
    }
    let mut treated = Vec::new();
    let mut controls = Vec::new();
    for r in 0..n {
        if d.exits[r] {
            continue;
        }
        match first[d.spell[r] as usize] {
            Some(m) if d.month[r] == m => treated.push(r),
            Some(m) if d.month[r] > m => {}
            _ => controls.push(r),
        }
    }
    // Outcome within the horizon, or None when censored before it.
    let y_of = |r: usize| -> Option<bool> {
        let (t, c) = outcome_within(d, r, opt.horizon);
        match c {
            1 => Some(true),
            2 => Some(false),
            _ if t >= opt.horizon as f64 => Some(false),
            _ => None,
        }
    };
    let treated_y: Vec<(usize, bool)> = treated
        .iter()
        .filter_map(|&r| y_of(r).map(|y| (r, y)))
        .collect();
    let mut rng = Rng(opt.seed ^ (g as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut pool: Vec<usize> = controls;
    let want = (treated.len() * opt.controls_per_treated).min(pool.len());
    // Partial Fisher–Yates: a deterministic sample, then in row order.
    let mut control_y: Vec<(usize, bool)> = Vec::new();
    let mut i = 0;
    while control_y.len() < want && i < pool.len() {
        let j = i + rng.below((pool.len() - i) as u64) as usize;
        pool.swap(i, j);
        if let Some(y) = y_of(pool[i]) {
            control_y.push((pool[i], y));
        }
        i += 1;
    }
    control_y.sort_unstable();
    let subgroups_without_model = |reason: &str, warnings: &mut Vec<String>| {
        warnings.push(format!("group {group}: {reason}"));
    };
    let events = |rows: &[(usize, bool)]| rows.iter().filter(|x| x.1).count();
    let min = opt.min_persons;
    let enough = |rows: &[(usize, bool)]| {
        let e = events(rows);
        distinct(rows.iter().map(|x| d.person[x.0])) >= 2 * min && e >= min && rows.len() - e >= min
    };
    // Without a model: the subgroups say "too few", the warning says why.
    let without_model = |reason: &str, treated_y, control_y, mut warnings: Vec<String>| {
        subgroups_without_model(reason, &mut warnings);
        GroupHte {
            group: group.clone(),
            model: None,
            subgroups: subgroup_list(d, &treated, None, opt),
            warnings,
            treated_rows: treated_y,
            control_rows: control_y,
        }
    };
    if !enough(&treated_y) || !enough(&control_y) {
        return without_model(
            "too few treated or controls with an outcome to fit the outcome models",
            treated_y,
            control_y,
            warnings,
        );
    }
    let gather = |rows: &[(usize, bool)]| -> (Vec<f32>, Vec<bool>, Vec<u32>) {
        let mut f = Vec::with_capacity(rows.len() * p);
        for &(r, _) in rows {
            let at = f.len();
            f.resize(at + p, 0.0);
            d.features.write_dense(r, &mut f[at..]);
        }
        (
            f,
            rows.iter().map(|x| x.1).collect(),
            rows.iter().map(|x| d.person[x.0]).collect(),
        )
    };
    let (tf, ty, tc) = gather(&treated_y);
    let (cf, cy, cc) = gather(&control_y);
    let fitted = fit_design(
        &group,
        &d.feature_names,
        ArmRows {
            features: &tf,
            y: &ty,
            cluster: &tc,
        },
        ArmRows {
            features: &cf,
            y: &cy,
            cluster: &cc,
        },
        opt.lambda,
        opt.conf_level,
    );
    let model = match fitted {
        Ok(m) => m,
        Err(e) => {
            return without_model(
                &format!("outcome model not estimable ({e})"),
                treated_y,
                control_y,
                warnings,
            );
        }
    };
    let subgroups = subgroup_list(d, &treated, Some(&model), opt);
    GroupHte {
        group,
        model: Some(model),
        subgroups,
        warnings,
        treated_rows: treated_y,
        control_rows: control_y,
    }
}

/// One arm's rows for [`fit_design`]: features (n × p, row-major), outcomes, and the cluster
/// (person) of each row for the sandwich covariance.
pub struct ArmRows<'a> {
    pub features: &'a [f32],
    pub y: &'a [bool],
    pub cluster: &'a [u32],
}

/// Fits the T-learner's two outcome models on given rows: standardises on the union of both
/// arms (sample standard deviation; constant columns left out), fits ridge logistic regressions
/// (λ on the standardised coefficients, intercept free) and computes each arm's cluster-robust
/// sandwich covariance H⁻¹(Σ_c u_c u_cᵀ)H⁻¹ with H the penalised information and u_c the sum of
/// the score contributions (y − μ)x̃ of cluster c. Checked against a numpy reference
/// (tests/reference/advice/).
pub fn fit_design(
    group: &str,
    feature_names: &[String],
    treated: ArmRows,
    control: ArmRows,
    lambda: f64,
    conf_level: f64,
) -> Result<TLearner, String> {
    let p = feature_names.len();
    let n_t = treated.y.len();
    let n_c = control.y.len();
    if treated.features.len() != n_t * p || control.features.len() != n_c * p || n_t + n_c < 2 {
        return Err("the rows of the outcome models have different lengths".into());
    }
    let value = |i: usize, j: usize| -> f64 {
        if i < n_t {
            treated.features[i * p + j] as f64
        } else {
            control.features[(i - n_t) * p + j] as f64
        }
    };
    let n = n_t + n_c;
    let mut cols = Vec::new();
    let mut mean = Vec::new();
    let mut sd = Vec::new();
    for j in 0..p {
        let m = (0..n).map(|i| value(i, j)).sum::<f64>() / n as f64;
        let v = (0..n).map(|i| (value(i, j) - m).powi(2)).sum::<f64>() / (n as f64 - 1.0);
        if v > 1e-12 {
            cols.push(j);
            mean.push(m);
            sd.push(v.sqrt());
        }
    }
    let names: Vec<String> = cols.iter().map(|&j| feature_names[j].clone()).collect();
    let fit_arm = |arm: &ArmRows| -> Result<ArmFit, String> {
        let q = cols.len();
        let rows = arm.y.len();
        let mut x = Vec::with_capacity(rows * q);
        for i in 0..rows {
            for (k, &j) in cols.iter().enumerate() {
                x.push((arm.features[i * p + j] as f64 - mean[k]) / sd[k]);
            }
        }
        let fit = logistic::fit_ridge(&x, arm.y, &names, None, lambda).map_err(|e| e.0)?;
        let q1 = q + 1;
        let mut per: std::collections::HashMap<u32, Vec<f64>> = Default::default();
        for i in 0..rows {
            let xi: Vec<f64> = std::iter::once(1.0)
                .chain(x[i * q..(i + 1) * q].iter().copied())
                .collect();
            let eta: f64 = fit.beta.iter().zip(&xi).map(|(b, v)| b * v).sum();
            let mu = 1.0 / (1.0 + (-eta).exp());
            let resid = if arm.y[i] { 1.0 } else { 0.0 } - mu;
            let u = per.entry(arm.cluster[i]).or_insert_with(|| vec![0.0; q1]);
            for a in 0..q1 {
                u[a] += resid * xi[a];
            }
        }
        let mut meat = vec![0.0; q1 * q1];
        let mut keys: Vec<&u32> = per.keys().collect();
        keys.sort_unstable();
        for k in keys {
            let u = &per[k];
            for a in 0..q1 {
                for b in 0..q1 {
                    meat[a * q1 + b] += u[a] * u[b];
                }
            }
        }
        let bread = &fit.covariance;
        let cov = mat_mul(&mat_mul(bread, &meat, q1), bread, q1);
        Ok(ArmFit {
            beta: fit.beta,
            cov,
        })
    };
    let t_fit = fit_arm(&treated)?;
    let c_fit = fit_arm(&control)?;
    Ok(TLearner {
        group: group.to_string(),
        cols,
        mean,
        sd,
        treated: t_fit,
        control: c_fit,
        feature_names: names,
        n_treated_persons: distinct(treated.cluster.iter().copied()),
        n_control_persons: distinct(control.cluster.iter().copied()),
        n_treated_rows: n_t,
        n_control_rows: n_c,
        z: crate::dist::norm_quantile(1.0 - (1.0 - conf_level) / 2.0),
    })
}

/// The product of two q × q row-major matrices.
fn mat_mul(a: &[f64], b: &[f64], q: usize) -> Vec<f64> {
    let mut out = vec![0.0; q * q];
    for i in 0..q {
        for k in 0..q {
            let aik = a[i * q + k];
            for j in 0..q {
                out[i * q + j] += aik * b[k * q + j];
            }
        }
    }
    out
}

/// Whether a panel row belongs to a subgroup.
type RowTest<'a> = Box<dyn Fn(usize) -> bool + 'a>;

/// The subgroup effects (all, age bands, trede 1–6) over the treated rows.
fn subgroup_list(
    d: &PanelData,
    treated: &[usize],
    model: Option<&TLearner>,
    opt: &HteOptions,
) -> Vec<SubgroupCate> {
    let mut sets: Vec<(String, String, RowTest)> =
        vec![("all".into(), "all".into(), Box::new(|_| true))];
    for (b, name) in AGE_BANDS.iter().enumerate() {
        sets.push((
            "age_band".into(),
            name.to_string(),
            Box::new(move |r| age_band(d.age[r]) == b),
        ));
    }
    for step in 1..=6u8 {
        sets.push((
            "trede".into(),
            step.to_string(),
            Box::new(move |r| d.trede[r] == step),
        ));
    }
    sets.into_iter()
        .map(|(subset, value, test)| {
            let rows: Vec<usize> = treated.iter().copied().filter(|&r| test(r)).collect();
            let n_treated = distinct(rows.iter().map(|&r| d.person[r]));
            let too_few = n_treated < opt.min_persons || model.is_none();
            let cate = if too_few {
                None
            } else {
                model.and_then(|m| m.effect(rows.iter().map(|&r| d.features.dense_row(r))))
            };
            SubgroupCate {
                subset,
                value,
                too_few: too_few || cate.is_none(),
                n_treated,
                cate,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::Exit;
    use crate::sparse::Features;

    /// A panel where the effect of group 0 is known: the treated leave for work with
    /// probability 0.6 within a year when feature x = 1 and 0.3 when x = 0; controls 0.3 always.
    /// The T-learner must find a large effect for x = 1 and none for x = 0.
    #[test]
    fn recovers_a_heterogeneous_effect() {
        let mut d = PanelData {
            person: vec![],
            spell: vec![],
            month: vec![],
            duration: vec![],
            exits: vec![],
            age: vec![],
            trede: vec![],
            wijk: vec![],
            wijken: vec![],
            features: Features::new(1),
            feature_names: vec!["x".into()],
            spell_exit_month: vec![],
            spell_exit: vec![],
            first_starts: vec![],
            groups: vec!["G".into()],
            types: vec!["T".into()],
            data_end: 200,
            n_persons: 0,
        };
        let mut rng = Rng(7);
        for s in 0..4000u32 {
            let treated = s % 2 == 0;
            let x = (s / 2) % 2;
            let p = if treated && x == 1 { 0.6 } else { 0.3 };
            let leaves = rng.uniform() < p;
            // Spell of one month at month 10 (the decision month); exit at month 11 or censored
            // administratively at 10 + 24 (still on benefit at the horizon).
            d.person.push(s);
            d.spell.push(s);
            d.month.push(10);
            d.duration.push(0);
            d.exits.push(false);
            d.age.push(if x == 1 { 22 } else { 45 });
            d.trede.push(if x == 1 { 2 } else { 4 });
            d.wijk.push(0);
            d.features.push(0, x as f32);
            d.features.end_row();
            d.spell_exit_month.push(Some(if leaves { 16 } else { 40 }));
            d.spell_exit
                .push(if leaves { Exit::Wsi } else { Exit::Competing });
            if treated {
                d.first_starts.push((s, 0, 10, 0));
            }
        }
        d.n_persons = 4000;
        let opt = HteOptions {
            controls_per_treated: 1,
            ..Default::default()
        };
        let r = t_learner(&d, 0, &opt);
        let get = |subset: &str, value: &str| {
            r.subgroups
                .iter()
                .find(|s| s.subset == subset && s.value == value)
                .and_then(|s| s.cate)
                .unwrap()
        };
        let young = get("age_band", "18-26");
        let older = get("age_band", "40-54");
        assert!((young.estimate - 0.3).abs() < 0.06, "{young:?}");
        assert!(older.estimate.abs() < 0.06, "{older:?}");
        assert!(young.ci[0] < 0.3 && young.ci[1] > 0.3, "{young:?}");
        assert!(young.se > 0.005 && young.se < 0.05, "{young:?}");
        let all = get("all", "all");
        assert!((all.estimate - 0.15).abs() < 0.05, "{all:?}");
        // One client: x = 1.
        let m = r.model.as_ref().unwrap();
        let one = m.effect(std::iter::once(&[1.0f32][..])).unwrap();
        assert!((one.estimate - 0.3).abs() < 0.06);
        assert!(
            r.subgroups
                .iter()
                .find(|s| s.subset == "trede" && s.value == "6")
                .unwrap()
                .too_few
        );
    }
}
