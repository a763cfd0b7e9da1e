//! Effects of provisions on outflow, estimated by sequential (risk-set) matching.
//!
//! A provision starts during a benefit spell, so comparing spells with and without it credits
//! the treated with the months before it started (immortal-time bias; Suissa 2008). Instead, for
//! each provision group g (and month m of a spell in which a client first starts g), the client
//! is compared with clients who, in the same stratum — the same month of their own spell (exact
//! for the first year, in bands later), the same calendar year and the same age band — are
//! still on benefit, do not leave that month and have not yet had g (risk-set matching; Li,
//! Propert & Rosenbaum 2001; Lu 2005). Within the stratum the nearest control on the logit of a
//! propensity score is taken, 1:1, without reusing a control month, within a caliper of 0.2
//! standard deviations of the logit (Austin 2011). Controls who start g later stay controls:
//! the estimate is an intention-to-treat effect of starting g now rather than not now.
//!
//! The propensity score is a logistic regression of "starts g this month" on the features as
//! known that month (duration, age, the latest assessment, other provisions running, calendar
//! year), with missing values as 0 plus a missing indicator. It is fitted on all treated months
//! and a deterministic random sample of the eligible control months (case-control sampling only
//! shifts the intercept, which does not change the matching; Prentice & Pyke 1979).
//!
//! Outcome: from month m, the cumulative incidence of leaving for work, school or income
//! (W/S/I), with the other exits as competing events and moving away as censoring (shared/
//! domain.md §3) — Aalen–Johansen in each arm; the effect is the difference at 6, 12 and 24
//! months. The sensitivity analysis treats moving away as a competing exit. Confidence
//! intervals come from a bootstrap that respects the matching: persons are resampled and the
//! matching is redone in every replicate (with the propensity model held fixed); the interval is
//! the estimate ± z · bootstrap SE. The hazard ratio is a cause-specific Cox model on the
//! matched sample with standard errors clustered by person. Beside it the naive comparison:
//! the same treated months against all eligible control months, without matching.
//!
//! Everything here is on true data; the caller (the store's effects module) passes results
//! through disclosure control.

use crate::rng::Rng;
pub use crate::sparse::{Block, Features};
use crate::{cox, dist, logistic, multiple, StatsError};
use serde::Serialize;

/// How a spell ended, for the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Still running at the end of the data.
    Running,
    Wsi,
    MovedAway,
    /// AOW age, death, detention, relationship, administrative ends …
    Competing,
    /// Ended without a known reason: censored at the exit month.
    Unknown,
}

/// One row of the person-month panel that can enter a risk set.
#[derive(Debug, Clone)]
pub struct PanelData {
    /// Per row, sorted by (spell, month).
    pub person: Vec<u32>,
    pub spell: Vec<u32>,
    pub month: Vec<i32>,
    pub duration: Vec<i32>,
    pub exits: Vec<bool>,
    pub age: Vec<i32>,
    /// Participatieladder step of the latest assessment (0 = unknown).
    pub trede: Vec<u8>,
    /// Wijk of the person that month: 0 = unknown, k = `wijken[k − 1]` (for a focus subgroup).
    pub wijk: Vec<u16>,
    pub wijken: Vec<String>,
    /// Features as known that month, n × p, sparse rows (mostly indicators).
    pub features: Features,
    pub feature_names: Vec<String>,
    /// Per spell: exit month and how.
    pub spell_exit_month: Vec<Option<i32>>,
    pub spell_exit: Vec<Exit>,
    /// First start of each group per spell: (spell, group index, month, provision type index).
    pub first_starts: Vec<(u32, usize, i32, u32)>,
    pub groups: Vec<String>,
    pub types: Vec<String>,
    /// The last month of the data (censoring).
    pub data_end: i32,
    pub n_persons: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct EffectOptions {
    pub horizons: [i32; 3],
    pub caliper: f64,
    pub bootstrap: usize,
    pub seed: u64,
    /// Control months sampled per treated month for the propensity model.
    pub ps_controls_per_treated: usize,
    /// Fewer treated or control persons than this: "too few to estimate".
    pub min_persons: usize,
    pub conf_level: f64,
    /// An extra subgroup of the treated (the web tool's target group, e.g. under 27 in one
    /// wijk): estimated like the age bands, reported as subset "focus".
    pub focus: Focus,
}

/// A subgroup of the treated by age (inclusive bounds) and wijk (a code of `PanelData::wijk`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Focus {
    pub age_min: Option<i32>,
    pub age_max: Option<i32>,
    pub wijk: Option<u16>,
}

impl Focus {
    pub fn is_set(&self) -> bool {
        self.age_min.is_some() || self.age_max.is_some() || self.wijk.is_some()
    }

    pub fn contains(&self, age: i32, wijk: u16) -> bool {
        self.age_min.is_none_or(|a| age >= a)
            && self.age_max.is_none_or(|a| age <= a)
            && self.wijk.is_none_or(|w| w == wijk)
    }

    /// "leeftijd 18–26, wijk W03" (`wijken` names the codes).
    pub fn describe(&self, wijken: &[String]) -> String {
        let mut parts = Vec::new();
        match (self.age_min, self.age_max) {
            (Some(a), Some(b)) => parts.push(format!("leeftijd {a}–{b}")),
            (Some(a), None) => parts.push(format!("leeftijd ≥ {a}")),
            (None, Some(b)) => parts.push(format!("leeftijd ≤ {b}")),
            (None, None) => {}
        }
        if let Some(w) = self.wijk {
            let name = wijken.get((w as usize).wrapping_sub(1)).cloned();
            parts.push(format!(
                "wijk {}",
                name.unwrap_or_else(|| "onbekend".into())
            ));
        }
        parts.join(", ")
    }
}

impl Default for EffectOptions {
    fn default() -> Self {
        EffectOptions {
            horizons: [6, 12, 24],
            caliper: 0.2,
            bootstrap: 200,
            seed: 20_261_125,
            ps_controls_per_treated: 5,
            min_persons: 10,
            conf_level: 0.95,
            focus: Focus::default(),
        }
    }
}

/// An estimate at one horizon.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AtHorizon {
    pub months: i32,
    pub treated: f64,
    pub control: f64,
    pub difference: f64,
    pub se: f64,
    pub ci: [f64; 2],
    pub p_value: f64,
    /// Benjamini–Hochberg adjusted p-value across all matched estimates of the run at this horizon.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_adjusted: Option<f64>,
    /// Persons with a W/S/I exit by this horizon, per arm (for disclosure control).
    #[serde(skip)]
    pub events_treated: u64,
    #[serde(skip)]
    pub events_control: u64,
    /// Still at risk at this horizon, per arm.
    #[serde(skip)]
    pub at_risk_treated: u64,
    #[serde(skip)]
    pub at_risk_control: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Estimate {
    /// "all", or the subgroup / provision type.
    pub subset: String,
    pub value: String,
    pub too_few: bool,
    pub n_treated: usize,
    pub n_controls: usize,
    #[serde(skip)]
    pub treated_persons: Vec<u32>,
    #[serde(skip)]
    pub control_persons: Vec<u32>,
    pub matched: Vec<AtHorizon>,
    pub moving_competing: Vec<AtHorizon>,
    pub naive: Vec<AtHorizon>,
    pub hazard_ratio: Option<HazardRatio>,
    /// E-value of the 12-month risk ratio and of its confidence limit nearest 1.
    pub e_value: Option<[f64; 2]>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HazardRatio {
    pub hr: f64,
    pub lower: f64,
    pub upper: f64,
    pub p: f64,
    /// W/S/I exits over the whole follow-up, treated and controls (for disclosure control: a
    /// ratio resting on a handful of exits in one arm is not shown).
    #[serde(skip)]
    pub events: [u64; 2],
    /// The model did not converge or the coefficient may be infinite (no exits in one arm).
    #[serde(skip)]
    pub unreliable: bool,
}

/// Balance of one feature before and after matching (the same measures as `inzicht match`).
pub type BalanceRow = crate::matching::Balance;

/// One point of a cumulative-incidence curve per arm, on the monthly grid, with true counts.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CurvePoint {
    pub month: i32,
    pub at_risk: u64,
    pub wsi_events: u64,
    pub all_events: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupEffect {
    pub group: String,
    pub n_treated_months: usize,
    pub n_treated_unmatched: usize,
    pub overall: Estimate,
    pub subgroups: Vec<Estimate>,
    pub types: Vec<Estimate>,
    pub balance: Vec<BalanceRow>,
    pub propensity_warnings: Vec<String>,
    /// Matched arms on the monthly grid (true counts; the caller protects them).
    #[serde(skip)]
    pub curve_treated: Vec<CurvePoint>,
    #[serde(skip)]
    pub curve_control: Vec<CurvePoint>,
    /// Persons behind each curve point (for cell keys): per month, at-risk and W/S/I persons.
    #[serde(skip)]
    pub curve_persons: [Vec<MonthPersons>; 2],
}

/// Persons behind one month of a curve: at risk, W/S/I exits, all exits.
pub type MonthPersons = (Vec<u32>, Vec<u32>, Vec<u32>);

pub const AGE_BANDS: [&str; 4] = ["18-26", "27-39", "40-54", "55+"];

pub fn age_band(age: i32) -> usize {
    match age {
        i32::MIN..=26 => 0,
        27..=39 => 1,
        40..=54 => 2,
        _ => 3,
    }
}

fn duration_cell(d: i32) -> i32 {
    match d {
        i32::MIN..=11 => d.max(0),
        12..=23 => 12 + (d - 12) / 3,
        24..=35 => 16,
        36..=59 => 17,
        60..=119 => 18,
        _ => 19,
    }
}

/// A matched pair: treated row, control row.
type Pair = (usize, usize);

/// What the matching reads of a control slot (see [`Prepared`]).
struct ControlSlot {
    score: f64,
    person: u32,
    row: u32,
}

/// A treated or control candidate inside a stratum.
#[derive(Clone, Copy)]
struct Cand {
    lp: f64,
    row: usize,
}

struct Prepared {
    treated: Vec<usize>,
    /// Per stratum: (treated sorted by descending lp, controls sorted by lp).
    strata: Vec<(Vec<Cand>, Vec<Cand>)>,
    /// The stratum treated and the stratum controls each numbered in one flat order, stratum
    /// by stratum ("slots"): stratum s's controls are slots `control_offset[s]..` (in its lp
    /// order) and its treated slots `treated_offset[s]..`. [`match_all`] reports pairs as
    /// slots and keeps its scratch space per control slot, so that the bootstrap reads each
    /// pair's outcomes from small arrays in slot order instead of from arrays over every panel
    /// row. Per slot: the controls' score, person and row together (what the matching reads of
    /// a candidate, in one place: each treated client's search starts at a different place in
    /// arrays of ~600,000 controls, and reading the three from separate arrays cost a cache miss
    /// each), the treated's persons, and the panel rows of both.
    control_offset: Vec<usize>,
    treated_offset: Vec<usize>,
    control: Vec<ControlSlot>,
    treated_person: Vec<u32>,
    control_slot_row: Vec<usize>,
    treated_slot_row: Vec<usize>,
    /// Per treated slot: where its score falls among its stratum's control scores (the first
    /// control slot, relative to the stratum, with a score not below it) — the same in every
    /// bootstrap replicate, so found once.
    treated_pos: Vec<u32>,
    width: f64,
    eligible_controls: Vec<usize>,
    start_type: Vec<u32>,
}

/// The outcome of a row: (months to exit or censoring, cause) with cause 1 = W/S/I,
/// 2 = competing, 0 = censored. `moving_competing` turns moving away into cause 2.
fn outcome(d: &PanelData, row: usize, moving_competing: bool, cap: i32) -> (f64, usize) {
    let s = d.spell[row] as usize;
    let m = d.month[row];
    let (t, c) = match (d.spell_exit_month[s], d.spell_exit[s]) {
        (Some(e), kind) if e > m => (
            e - m,
            match kind {
                Exit::Wsi => 1,
                Exit::Competing => 2,
                Exit::MovedAway if moving_competing => 2,
                _ => 0,
            },
        ),
        _ => ((d.data_end - m).max(0), 0),
    };
    if t > cap {
        (cap as f64, 0)
    } else {
        (t as f64, c)
    }
}

/// The primary outcome of a row within `cap` months: (months, cause) with cause 1 = W/S/I,
/// 2 = a competing exit, 0 = censored (moving away, unknown end, end of the data, or the cap).
pub fn outcome_within(d: &PanelData, row: usize, cap: i32) -> (f64, usize) {
    outcome(d, row, false, cap)
}

/// With INZICHT_TIMING set, how long a phase of a group's estimate took (stderr; never data).
struct Phase {
    on: bool,
    group: usize,
    at: std::time::Instant,
}

impl Phase {
    fn new(group: usize) -> Self {
        Phase {
            on: std::env::var_os("INZICHT_TIMING").is_some(),
            group,
            at: std::time::Instant::now(),
        }
    }

    fn done(&mut self, what: &str) {
        if self.on {
            eprintln!(
                "    effects group {}: {what}: {:.3} s",
                self.group,
                self.at.elapsed().as_secs_f64()
            );
        }
        self.at = std::time::Instant::now();
    }
}

/// Estimates the effect of every provision group.
pub fn estimate_all(d: &PanelData, opt: &EffectOptions) -> Result<Vec<GroupEffect>, StatsError> {
    let n = d.person.len();
    if d.spell.len() != n
        || d.month.len() != n
        || d.features.n_rows() != n
        || d.features.n_cols() != d.feature_names.len()
    {
        return crate::err("the panel columns have different lengths");
    }
    if u32::try_from(n).is_err() {
        return crate::err(format!(
            "the panel has {n} person-months; provision effects take at most {} (split the data, e.g. by period)",
            u32::MAX
        ));
    }
    // The groups are independent (each its own propensity model, matching and bootstrap with
    // its own seed), so they run on the available cores; the result does not depend on how
    // many there are.
    let n_groups = d.groups.len();
    let workers = crate::rng::cores().min(n_groups).max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slots: Vec<Option<Result<GroupEffect, StatsError>>> = Vec::new();
    slots.resize_with(n_groups, || None);
    let done: Vec<(usize, Result<GroupEffect, StatsError>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let g = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if g >= n_groups {
                            break mine;
                        }
                        mine.push((g, estimate_group(d, g, opt)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (g, r) in done {
        slots[g] = Some(r);
    }
    let mut out = Vec::with_capacity(n_groups);
    for (g, slot) in slots.into_iter().enumerate() {
        match slot {
            Some(r) => out.push(r?),
            None => {
                return crate::err(format!(
                    "the estimate of group {} did not finish (a worker thread stopped)",
                    d.groups[g]
                ))
            }
        }
    }
    // False-discovery rate (Benjamini–Hochberg) across every matched estimate of the run —
    // groups × subgroups × provision types — separately for each horizon.
    for h in 0..opt.horizons.len() {
        let mut ps = Vec::new();
        for ge in &out {
            for e in std::iter::once(&ge.overall)
                .chain(&ge.subgroups)
                .chain(&ge.types)
            {
                ps.push(match e.matched.get(h) {
                    Some(x) if !e.too_few => x.p_value,
                    _ => f64::NAN,
                });
            }
        }
        let adj = multiple::benjamini_hochberg(&ps);
        let mut k = 0;
        for ge in &mut out {
            let GroupEffect {
                overall,
                subgroups,
                types,
                ..
            } = ge;
            for e in std::iter::once(overall)
                .chain(subgroups.iter_mut())
                .chain(types.iter_mut())
            {
                if let Some(x) = e.matched.get_mut(h) {
                    x.p_adjusted = adj[k].is_finite().then_some(adj[k]);
                }
                k += 1;
            }
        }
    }
    Ok(out)
}

fn prepare(
    d: &PanelData,
    g: usize,
    opt: &EffectOptions,
) -> Result<(Prepared, Vec<String>), StatsError> {
    let mut phase = Phase::new(g);
    let n = d.person.len();
    let p = d.feature_names.len();
    let n_spells = d.spell_exit.len();
    let mut first = vec![None; n_spells];
    let mut first_type = vec![0u32; n_spells];
    for &(s, gg, m, ty) in &d.first_starts {
        if gg == g {
            first[s as usize] = Some(m);
            first_type[s as usize] = ty;
        }
    }
    let mut treated = Vec::new();
    let mut controls = Vec::new();
    let mut start_type = vec![u32::MAX; n];
    for r in 0..n {
        if d.exits[r] {
            continue;
        }
        match first[d.spell[r] as usize] {
            Some(m) if d.month[r] == m => {
                treated.push(r);
                start_type[r] = first_type[d.spell[r] as usize];
            }
            Some(m) if d.month[r] > m => {}
            _ => controls.push(r),
        }
    }
    if treated.len() < 2 || controls.len() < 2 {
        return Ok((
            Prepared {
                treated,
                strata: vec![],
                control_offset: vec![],
                treated_offset: vec![],
                control: vec![],
                treated_person: vec![],
                control_slot_row: vec![],
                treated_slot_row: vec![],
                treated_pos: vec![],
                width: 0.0,
                eligible_controls: controls,
                start_type,
            },
            vec![format!(
                "group {}: too few starts to fit a propensity model",
                d.groups[g]
            )],
        ));
    }
    phase.done(&format!(
        "  prepare: {} treated and {} eligible control months",
        treated.len(),
        controls.len()
    ));
    // Propensity model on treated + a deterministic sample of control months.
    let mut rng = Rng(opt.seed ^ (g as u64).wrapping_mul(0x51_7CC1_B727_220A));
    let want = (treated.len() * opt.ps_controls_per_treated).min(controls.len());
    let mut sample: Vec<usize> = controls.clone();
    for i in 0..want {
        let j = i + rng.below((sample.len() - i) as u64) as usize;
        sample.swap(i, j);
    }
    sample.truncate(want);
    sample.sort_unstable();
    let rows: Vec<usize> = treated.iter().chain(&sample).copied().collect();
    // Drop features that are constant in the model sample or linear combinations of others
    // (missing indicators of variables from the same assessment often coincide), as R's glm
    // drops aliased columns: centred Gram matrix, pivots below the tolerance.
    // Per column over the sample: how many rows are nonzero, and the smallest and largest
    // nonzero value. A column is constant when it is 0 throughout, or nonzero in every row with
    // one value.
    let mut nonzero = vec![0usize; p];
    let mut lo = vec![f32::INFINITY; p];
    let mut hi = vec![f32::NEG_INFINITY; p];
    // The sample's rows as a plain matrix: the passes below read each row three times.
    let sample_x = d.features.gather(&rows);
    for i in 0..rows.len() {
        sample_x.for_each(i, |j, x| {
            nonzero[j] += 1;
            lo[j] = lo[j].min(x);
            hi[j] = hi[j].max(x);
        });
    }
    let mut keep: Vec<usize> = (0..p)
        .filter(|&j| nonzero[j] != 0 && (nonzero[j] < rows.len() || lo[j] != hi[j]))
        .collect();
    // Position of each column in `keep` (usize::MAX: not kept).
    let position = |keep: &[usize]| -> Vec<usize> {
        let mut at = vec![usize::MAX; p];
        for (a, &j) in keep.iter().enumerate() {
            at[j] = a;
        }
        at
    };
    // The propensity model's information matrix at β = 0 (¼·XᵀX with the intercept, over
    // the columns kept), made from the same sums as the aliasing decision: its first Newton
    // step then does not compute it again.
    let information_at_zero: Vec<f64>;
    {
        let q = keep.len();
        let at = position(&keep);
        let mut mean = vec![0.0; q];
        // Σ (x − m)(x − m)ᵀ = Σ x xᵀ − n·m·mᵀ, with Σ x xᵀ from each row's nonzero entries
        // only: the indicators and missing flags are mostly 0, so this costs about the share
        // of nonzeros squared of the dense sum. (Only the aliasing decision, with its relative
        // tolerance of 1e-9, reads this matrix.)
        // (SparseGram with weight 1 adds (1·x_a)·x_b = x_a·x_b: the bits of the pairwise loop.)
        let nonzero_kept: Vec<usize> = keep.iter().map(|&j| nonzero[j]).collect();
        let mut sums = crate::linalg::SparseGram::new(
            q,
            crate::linalg::SparseGram::dense_prefix(&nonzero_kept, rows.len()),
        );
        let (mut nz_idx, mut nz_val): (Vec<u32>, Vec<f64>) = (Vec::new(), Vec::new());
        for i in 0..rows.len() {
            nz_idx.clear();
            nz_val.clear();
            sample_x.for_each(i, |j, x| {
                let a = at[j];
                if a != usize::MAX {
                    nz_idx.push(a as u32);
                    nz_val.push(x as f64);
                    mean[a] += x as f64;
                }
            });
            sums.add_row(1.0, &nz_idx, &nz_val);
        }
        let mut gram = sums.info;
        let (sums, raw) = (mean.clone(), gram.clone());
        mean.iter_mut().for_each(|m| *m /= rows.len() as f64);
        let n_rows = rows.len() as f64;
        for a in 0..q {
            for b in 0..=a {
                gram[a * q + b] -= n_rows * mean[a] * mean[b];
                gram[b * q + a] = gram[a * q + b];
            }
        }
        let drop = crate::linalg::aliased_columns(&gram, q);
        let kept: Vec<usize> = (0..q).filter(|a| !drop.contains(a)).collect();
        let q1 = kept.len() + 1;
        let mut info = vec![0.0; q1 * q1];
        info[0] = 0.25 * n_rows;
        for (k, &a) in kept.iter().enumerate() {
            info[k + 1] = 0.25 * sums[a];
            info[(k + 1) * q1] = 0.25 * sums[a];
            for (l, &b) in kept.iter().enumerate().take(k + 1) {
                // `raw` holds the lower triangle (a ≥ b).
                let v = 0.25 * raw[a * q + b];
                info[(k + 1) * q1 + l + 1] = v;
                info[(l + 1) * q1 + k + 1] = v;
            }
        }
        information_at_zero = info;
        keep = kept.iter().map(|&a| keep[a]).collect();
    }
    phase.done(&format!(
        "  prepare: sample and aliasing ({} rows)",
        rows.len()
    ));
    let names: Vec<String> = keep.iter().map(|&j| d.feature_names[j].clone()).collect();
    let q = keep.len();
    let at = position(&keep);
    // The model's design as sparse rows over the columns kept (in column order).
    let mut x = logistic::SparseRows {
        ptr: Vec::with_capacity(rows.len() + 1),
        ..Default::default()
    };
    x.ptr.push(0);
    for i in 0..rows.len() {
        sample_x.for_each(i, |j, val| {
            let a = at[j];
            if a != usize::MAX {
                x.idx.push(a as u32);
                x.val.push(val as f64);
            }
        });
        x.ptr.push(x.idx.len());
    }
    let y: Vec<bool> = (0..rows.len()).map(|i| i < treated.len()).collect();
    let (mut iterations, mut updates, mut sampled_updates) = (0, 0, 0);
    drop(sample_x);
    let (model, warnings): (Option<(f64, Vec<f64>)>, Vec<String>) = match logistic::fit_dropping(
        logistic::Design::Sparse(&x),
        &y,
        &names,
        None,
        false,
        Some(&information_at_zero),
    ) {
        Ok((fit, kept)) => {
            iterations = fit.iterations;
            updates = fit.information_updates;
            sampled_updates = fit.information_sampled;
            // The coefficient of every panel column (0 outside the model): the linear
            // predictor is then a sum over the row's nonzero entries.
            let mut coef = vec![0.0; p];
            for (&k, &b) in kept.iter().zip(&fit.beta[1..]) {
                coef[keep[k]] = b;
            }
            (Some((fit.beta[0], coef)), fit.warnings)
        }
        Err(e) => (
            None,
            vec![format!(
                "propensity model not estimable ({e}); matched on the strata only"
            )],
        ),
    };
    phase.done(&format!(
        "  prepare: propensity fit ({q} columns, {} nonzeros per row, {iterations} iterations, {updates} with a fresh information matrix, {sampled_updates} of them from a quarter of the rows)",
        x.idx.len() / rows.len().max(1)
    ));
    // Every row's linear predictor (only those of the treated and eligible controls are read).
    let lp: Vec<f64> = match &model {
        Some((intercept, coef)) => d
            .features
            .dot_all(coef)
            .into_iter()
            .map(|s| intercept + s)
            .collect(),
        None => vec![0.0; n],
    };
    let all: Vec<f64> = treated.iter().chain(&controls).map(|&r| lp[r]).collect();
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    let sd = (all.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (all.len() as f64 - 1.0))
        .sqrt();
    let width = opt.caliper * sd;
    phase.done("  prepare: linear predictor");
    // Strata: (duration cell, year, age band).
    let key = |r: usize| -> (i32, i32, usize) {
        (
            duration_cell(d.duration[r]),
            d.month[r].div_euclid(12),
            age_band(d.age[r]),
        )
    };
    // The strata are numbered in the order of their first treated month. A stratum's number is
    // looked up in a table over (year, duration cell, age band) of the treated's years: a hash
    // lookup for each of the ~600,000 eligible control months cost more than the rest of this.
    let first_year = treated.iter().map(|&r| key(r).1).min().unwrap_or(0);
    let last_year = treated.iter().map(|&r| key(r).1).max().unwrap_or(0);
    const CELLS: usize = 20 * AGE_BANDS.len();
    let cell_of = |(dur, year, band): (i32, i32, usize)| -> Option<usize> {
        (first_year..=last_year).contains(&year).then(|| {
            (year - first_year) as usize * CELLS
                + dur.clamp(0, 19) as usize * AGE_BANDS.len()
                + band
        })
    };
    let mut stratum_of = vec![u32::MAX; (last_year - first_year + 1) as usize * CELLS];
    let mut strata: Vec<(Vec<Cand>, Vec<Cand>)> = Vec::new();
    for &r in &treated {
        let Some(cell) = cell_of(key(r)) else {
            continue;
        };
        if stratum_of[cell] == u32::MAX {
            stratum_of[cell] = strata.len() as u32;
            strata.push((vec![], vec![]));
        }
        strata[stratum_of[cell] as usize]
            .0
            .push(Cand { lp: lp[r], row: r });
    }
    // A control month further than the caliper from every treated month of its stratum can
    // never be matched (match_all rejects a distance above `width`): it is left out of the
    // stratum, which then sorts and keeps only those that can. The bounds are widened by a
    // hair so that no rounding of a distance at the edge decides; with a width that is not a
    // finite number every control stays.
    let bounds: Vec<(f64, f64)> = strata
        .iter()
        .map(|(t, _)| {
            let lo = t.iter().map(|c| c.lp).fold(f64::INFINITY, f64::min);
            let hi = t.iter().map(|c| c.lp).fold(f64::NEG_INFINITY, f64::max);
            let slack = width + 1e-9 * (lo.abs().max(hi.abs()) + width);
            if width.is_finite() && lo.is_finite() && hi.is_finite() {
                (lo - slack, hi + slack)
            } else {
                (f64::NEG_INFINITY, f64::INFINITY)
            }
        })
        .collect();
    for &r in &controls {
        if let Some(&idx) = cell_of(key(r)).and_then(|c| stratum_of.get(c)) {
            if idx != u32::MAX {
                let (lo, hi) = bounds[idx as usize];
                let lp = lp[r];
                if (lo..=hi).contains(&lp) || lp.is_nan() {
                    strata[idx as usize].1.push(Cand { lp, row: r });
                }
            }
        }
    }
    for (t, c) in &mut strata {
        // (Rows are distinct, so the order is total and an unstable sort gives the same.)
        t.sort_unstable_by(|a, b| b.lp.total_cmp(&a.lp).then(a.row.cmp(&b.row)));
        c.sort_unstable_by(|a, b| a.lp.total_cmp(&b.lp).then(a.row.cmp(&b.row)));
    }
    let mut control_offset = Vec::with_capacity(strata.len());
    let mut treated_offset = Vec::with_capacity(strata.len());
    let (mut n_t, mut n_c) = (0, 0);
    for (t, c) in &strata {
        treated_offset.push(n_t);
        control_offset.push(n_c);
        n_t += t.len();
        n_c += c.len();
    }
    phase.done(&format!(
        "  prepare: strata ({} strata, {n_c} control months within the caliper of a treated month in them)",
        strata.len()
    ));
    let controls_flat = || strata.iter().flat_map(|(_, c)| c.iter());
    let treated_flat = || strata.iter().flat_map(|(t, _)| t.iter());
    let control = controls_flat()
        .map(|c| ControlSlot {
            score: c.lp,
            person: d.person[c.row],
            // (estimate_all refuses panels of more than u32::MAX rows.)
            row: c.row as u32,
        })
        .collect();
    let treated_person = treated_flat().map(|t| d.person[t.row]).collect();
    let control_slot_row = controls_flat().map(|c| c.row).collect();
    let treated_slot_row = treated_flat().map(|t| t.row).collect();
    let treated_pos = strata
        .iter()
        .flat_map(|(t, c)| {
            t.iter()
                .map(move |t| c.partition_point(|x| x.lp < t.lp) as u32)
        })
        .collect();
    phase.done("  prepare: slots");
    Ok((
        Prepared {
            treated,
            strata,
            control_offset,
            treated_offset,
            control,
            treated_person,
            control_slot_row,
            treated_slot_row,
            treated_pos,
            width,
            eligible_controls: controls,
            start_type,
        },
        warnings,
    ))
}

/// Greedy nearest-neighbour matching within each stratum; `copies[person]` is the bootstrap
/// multiplicity (1 for the estimate itself). A copy of a control month serves one treated copy.
/// The pairs are written to `out` as (treated slot, control slot) in the flat numberings of
/// [`Prepared`], stratum by stratum and treated by treated ([`Prepared::rows`] turns them into
/// panel rows).
///
/// How many copies of each control month are used is kept in `scratch` (one slot per stratum
/// control, all zero between calls): only the slots a treated client looked at are touched and
/// reset, so a bootstrap replicate costs in proportion to the treated and the controls within
/// their caliper, not to the hundreds of thousands of eligible control months.
fn match_all(prep: &Prepared, copies: &[u32], scratch: &mut MatchScratch, out: &mut Vec<SlotPair>) {
    out.clear();
    let total = prep.control_slot_row.len();
    let used = &mut scratch.used;
    if used.len() < total {
        used.resize(total, 0);
    }
    let touched = &mut scratch.touched;
    for (s, (ts, cs)) in prep.strata.iter().enumerate() {
        let offset = prep.control_offset[s];
        let t_offset = prep.treated_offset[s];
        let candidates = &prep.control[offset..offset + cs.len()];
        let t_persons = &prep.treated_person[t_offset..t_offset + ts.len()];
        for (i, (t, &t_person)) in ts.iter().zip(t_persons).enumerate() {
            let n_copies = copies[t_person as usize];
            if n_copies == 0 {
                continue;
            }
            let pos = prep.treated_pos[t_offset + i] as usize;
            for _ in 0..n_copies {
                let mut best: Option<(f64, u32, usize)> = None;
                let mut consider = |k: usize| -> bool {
                    let cand = &candidates[k];
                    let dist = (cand.score - t.lp).abs();
                    if dist > prep.width
                        || best.is_some_and(|b| dist > b.0 + crate::matching::TIE_TOL)
                    {
                        return false;
                    }
                    let left = copies[cand.person as usize] - used[offset + k];
                    if left > 0 && cand.person != t_person {
                        let better = match best {
                            None => true,
                            Some(b) => {
                                dist < b.0 - crate::matching::TIE_TOL
                                    || (dist <= b.0 + crate::matching::TIE_TOL && cand.row < b.1)
                            }
                        };
                        if better {
                            best = Some((dist, cand.row, k));
                        }
                    }
                    true
                };
                let mut lo = pos;
                while lo > 0 {
                    lo -= 1;
                    if !consider(lo) {
                        break;
                    }
                }
                let mut hi = pos;
                while hi < candidates.len() {
                    if !consider(hi) {
                        break;
                    }
                    hi += 1;
                }
                if let Some((_, _, k)) = best {
                    if used[offset + k] == 0 {
                        touched.push(offset + k);
                    }
                    used[offset + k] += 1;
                    out.push(((t_offset + i) as u32, (offset + k) as u32));
                }
            }
        }
    }
    for &i in touched.iter() {
        used[i] = 0;
    }
    touched.clear();
}

/// A matched pair as (treated slot, control slot) of [`Prepared`].
type SlotPair = (u32, u32);

impl Prepared {
    /// The panel rows of matched pairs.
    fn rows(&self, slots: &[SlotPair]) -> Vec<Pair> {
        slots
            .iter()
            .map(|&(t, c)| {
                (
                    self.treated_slot_row[t as usize],
                    self.control_slot_row[c as usize],
                )
            })
            .collect()
    }
}

/// Reusable scratch space of [`match_all`].
#[derive(Default)]
struct MatchScratch {
    used: Vec<u32>,
    touched: Vec<usize>,
}

/// CIF of W/S/I at the horizons for a set of rows, with event and at-risk counts.
struct ArmSummary {
    cif: Vec<f64>,
    se: Vec<f64>,
    events: Vec<u64>,
    at_risk: Vec<u64>,
}

/// Each row's outcome, (months from the start month, cause), capped at the largest horizon;
/// computed once per group for the primary rule and for the moving-competing sensitivity rule.
struct Outcomes {
    primary: Vec<(u16, u8)>,
    moving: Vec<(u16, u8)>,
    cap: usize,
}

impl Outcomes {
    fn new(d: &PanelData, rows: impl Iterator<Item = usize>, cap: i32) -> Self {
        let n = d.person.len();
        let mut primary = vec![(0u16, 0u8); n];
        let mut moving = vec![(0u16, 0u8); n];
        for r in rows {
            let (t, c) = outcome(d, r, false, cap);
            primary[r] = (t as u16, c as u8);
            let (t, c) = outcome(d, r, true, cap);
            moving[r] = (t as u16, c as u8);
        }
        Outcomes {
            primary,
            moving,
            cap: cap.max(0) as usize,
        }
    }
}

/// The Aalen–Johansen estimate on the monthly grid from counts: F(t) = Σ S(m−)·d_wsi(m)/n(m),
/// S(m) = S(m−)·(1 − d(m)/n(m)). With `with_se`, the infinitesimal-jackknife standard error from
/// the grouped counts ([`crate::competing::from_groups`]).
fn arm(
    out: &Outcomes,
    rows: impl Iterator<Item = usize>,
    moving_competing: bool,
    horizons: &[i32],
    with_se: bool,
) -> Option<ArmSummary> {
    arm_weighted(
        out,
        rows.map(|r| (r, 1.0)),
        moving_competing,
        horizons,
        with_se,
    )
}

/// As [`arm`], with a weight per row (the naive comparison standardises the controls to the
/// treated's months of the spell). Counts of persons are the unweighted ones.
fn arm_weighted(
    out: &Outcomes,
    rows: impl Iterator<Item = (usize, f64)>,
    moving_competing: bool,
    horizons: &[i32],
    with_se: bool,
) -> Option<ArmSummary> {
    let table = if moving_competing {
        &out.moving
    } else {
        &out.primary
    };
    arm_cells(
        out.cap,
        rows.map(|(r, w)| {
            let (t, c) = table[r];
            Cell {
                t,
                c,
                w,
                w2: w * w,
                count: 1,
            }
        }),
        horizons,
        with_se,
    )
}

/// Rows aggregated by outcome: time, cause, total weight, total squared weight, persons.
#[derive(Clone, Copy)]
struct Cell {
    t: u16,
    c: u8,
    w: f64,
    w2: f64,
    count: u64,
}

fn arm_cells(
    cap: usize,
    cells: impl Iterator<Item = Cell>,
    horizons: &[i32],
    with_se: bool,
) -> Option<ArmSummary> {
    let mut hist = vec![0f64; cap + 1];
    let mut hist2 = vec![[0f64; 3]; cap + 1];
    let mut d_wsi = vec![0f64; cap + 1];
    let mut d_all = vec![0f64; cap + 1];
    let mut wsi_count = vec![0u64; cap + 1];
    let mut count = vec![0u64; cap + 1];
    let mut n = 0u64;
    for Cell {
        t,
        c,
        w,
        w2,
        count: k,
    } in cells
    {
        let t = (t as usize).min(cap);
        hist[t] += w;
        count[t] += k;
        hist2[t][c.min(2) as usize] += w2;
        if c == 1 {
            d_wsi[t] += w;
            wsi_count[t] += k;
        }
        if c > 0 {
            d_all[t] += w;
        }
        n += k;
    }
    if n == 0 {
        return None;
    }
    let mut at_risk = vec![0f64; cap + 2];
    let mut at_risk_count = vec![0u64; cap + 2];
    for m in (0..=cap).rev() {
        at_risk_count[m] = at_risk_count[m + 1] + count[m];
    }
    for m in (0..=cap).rev() {
        at_risk[m] = at_risk[m + 1] + hist[m];
    }
    let cif_by_month = aalen_johansen_wsi(&at_risk, &d_wsi, &d_all);
    let se = if with_se {
        let mut groups = Vec::new();
        for t in 0..=cap {
            for (cause, w) in [
                (1usize, d_wsi[t]),
                (2, d_all[t] - d_wsi[t]),
                (0, hist[t] - d_all[t]),
            ] {
                let w2 = hist2[t][if cause == 1 {
                    1
                } else if cause == 2 {
                    2
                } else {
                    0
                }];
                if w > 0.0 {
                    groups.push(crate::competing::Group {
                        time: t as f64,
                        cause,
                        w,
                        w2,
                    });
                }
            }
        }
        groups.sort_by(|a, b| a.time.total_cmp(&b.time).then(a.cause.cmp(&b.cause)));
        let ci = crate::competing::from_groups(&groups, 2);
        horizons.iter().map(|&h| ci.se_at(0, h as f64)).collect()
    } else {
        vec![f64::NAN; horizons.len()]
    };
    let hz = |h: i32| (h.max(0) as usize).min(cap);
    Some(ArmSummary {
        cif: horizons.iter().map(|&h| cif_by_month[hz(h)]).collect(),
        se,
        events: horizons
            .iter()
            .map(|&h| wsi_count[1..=hz(h)].iter().sum())
            .collect(),
        at_risk: horizons.iter().map(|&h| at_risk_count[hz(h)]).collect(),
    })
}

/// The Aalen–Johansen CIF of W/S/I by month on the monthly grid (Aalen & Johansen 1978):
/// F(m) = F(m−1) + S(m−1)·d_wsi(m)/n(m), S(m) = S(m−1)·(1 − d(m)/n(m)); exits in month 0 (the
/// start month itself) cannot occur, as the treated and controls are on benefit then.
fn aalen_johansen_wsi(at_risk: &[f64], d_wsi: &[f64], d_all: &[f64]) -> Vec<f64> {
    let cap = d_wsi.len() - 1;
    let mut cif_by_month = vec![0.0; cap + 1];
    let (mut s, mut f) = (1.0, 0.0);
    for m in 1..=cap {
        if at_risk[m] > 0.0 {
            f += s * d_wsi[m] / at_risk[m];
            s *= 1.0 - d_all[m] / at_risk[m];
        }
        cif_by_month[m] = f;
    }
    cif_by_month
}

/// Unweighted counts of one arm on the monthly grid, for both outcome rules at once (moving
/// away changes only whether an exit is competing, not its month).
#[derive(Clone)]
struct ArmCounts {
    n: u64,
    rows: Vec<f64>,
    d_wsi: Vec<f64>,
    d_all: Vec<f64>,
    d_all_moving: Vec<f64>,
    at_risk: Vec<f64>,
}

impl ArmCounts {
    fn new(cap: usize) -> Self {
        ArmCounts {
            n: 0,
            rows: vec![0.0; cap + 1],
            d_wsi: vec![0.0; cap + 1],
            d_all: vec![0.0; cap + 1],
            d_all_moving: vec![0.0; cap + 1],
            at_risk: vec![0.0; cap + 2],
        }
    }

    fn clear(&mut self) {
        self.n = 0;
        for v in [
            &mut self.rows,
            &mut self.d_wsi,
            &mut self.d_all,
            &mut self.d_all_moving,
        ] {
            v.iter_mut().for_each(|x| *x = 0.0);
        }
    }

    fn add(&mut self, (t, c): (u16, u8), c_moving: u8) {
        let t = usize::from(t).min(self.rows.len() - 1);
        self.n += 1;
        self.rows[t] += 1.0;
        if c == 1 {
            self.d_wsi[t] += 1.0;
        }
        if c > 0 {
            self.d_all[t] += 1.0;
        }
        if c_moving > 0 {
            self.d_all_moving[t] += 1.0;
        }
    }

    /// The CIF at the horizons, as [`arm`] computes it from the same rows.
    fn cif(&mut self, horizons: &[i32], moving_competing: bool) -> Vec<f64> {
        let cap = self.rows.len() - 1;
        for m in (0..=cap).rev() {
            self.at_risk[m] = self.at_risk[m + 1] + self.rows[m];
        }
        let d_all = if moving_competing {
            &self.d_all_moving
        } else {
            &self.d_all
        };
        let by_month = aalen_johansen_wsi(&self.at_risk, &self.d_wsi, d_all);
        horizons
            .iter()
            .map(|&h| by_month[(h.max(0) as usize).min(cap)])
            .collect()
    }
}

/// Distinct persons behind an arm at each horizon: persons with a W/S/I exit by then, and
/// persons still observed then. A person can stand in an arm with several months (as a control
/// in different months, or with several spells); disclosure control counts persons, not rows.
struct PersonCounter {
    first_wsi: Vec<u16>,
    last_seen: Vec<u16>,
    touched: Vec<u32>,
}

impl PersonCounter {
    fn new(n_persons: usize) -> Self {
        PersonCounter {
            first_wsi: vec![u16::MAX; n_persons],
            last_seen: vec![0; n_persons],
            touched: Vec::new(),
        }
    }

    fn count(
        &mut self,
        d: &PanelData,
        out: &Outcomes,
        rows: impl Iterator<Item = usize>,
        horizons: &[i32],
    ) -> (Vec<u64>, Vec<u64>) {
        for r in rows {
            let p = d.person[r] as usize;
            let (t, c) = out.primary[r];
            if self.last_seen[p] == 0 && self.first_wsi[p] == u16::MAX {
                self.touched.push(p as u32);
            }
            // last_seen stores time + 1 so that 0 means "not seen".
            self.last_seen[p] = self.last_seen[p].max(t.saturating_add(1));
            if c == 1 {
                self.first_wsi[p] = self.first_wsi[p].min(t);
            }
        }
        let mut events = vec![0u64; horizons.len()];
        let mut at_risk = vec![0u64; horizons.len()];
        for &p in &self.touched {
            let p = p as usize;
            tally_person(
                self.first_wsi[p],
                self.last_seen[p],
                horizons,
                &mut events,
                &mut at_risk,
            );
            self.first_wsi[p] = u16::MAX;
            self.last_seen[p] = 0;
        }
        self.touched.clear();
        (events, at_risk)
    }
}

/// Adds one person to the per-horizon counts: an event by horizon h when the first W/S/I exit
/// is at or before h; at risk at h when last seen after h (`last_seen` is time + 1, 0: never).
fn tally_person(
    first_wsi: u16,
    last_seen: u16,
    horizons: &[i32],
    events: &mut [u64],
    at_risk: &mut [u64],
) {
    for (k, &h) in horizons.iter().enumerate() {
        let h = h.max(0) as u16;
        if first_wsi != u16::MAX && first_wsi <= h {
            events[k] += 1;
        }
        if last_seen > h {
            at_risk[k] += 1;
        }
    }
}

/// Replaces the row counts of horizon rows by the counts of distinct persons.
fn set_person_counts(
    rows: &mut [AtHorizon],
    treated: &(Vec<u64>, Vec<u64>),
    control: &(Vec<u64>, Vec<u64>),
) {
    for (k, h) in rows.iter_mut().enumerate() {
        h.events_treated = treated.0[k];
        h.at_risk_treated = treated.1[k];
        h.events_control = control.0[k];
        h.at_risk_control = control.1[k];
    }
}

/// (month of the spell, outcome time, cause) and the number of control months in that cell.
type ControlCell = ((i32, u16, u8), u64);

/// The eligible control months of a group aggregated for the naive comparison: per subset (the
/// whole risk set, then each subset that selects controls by their own row), the count of
/// control months per (month of the spell, outcome time, cause) in that order, and the distinct
/// persons behind them at each horizon (as [`PersonCounter`]).
struct NaiveControls {
    /// Index 0: the whole risk set; 1 + i: the i-th subset given to `new`.
    cells: Vec<Vec<ControlCell>>,
    persons: Vec<(Vec<u64>, Vec<u64>)>,
}

impl NaiveControls {
    fn new(
        d: &PanelData,
        out: &Outcomes,
        controls: &[usize],
        subsets: &[&Subset],
        horizons: &[i32],
    ) -> Self {
        let n_sets = 1 + subsets.len();
        let (lo, hi) = controls
            .iter()
            .map(|&r| d.duration[r])
            .fold((i32::MAX, i32::MIN), |(a, b), v| (a.min(v), b.max(v)));
        // Dense counts: months of the spell × outcome time (0..=cap) × cause (0..=2).
        let times = out.cap + 1;
        let causes = 3usize;
        let width = if controls.is_empty() {
            0
        } else {
            (hi - lo + 1) as usize * times * causes
        };
        // (u32: half the memory of the randomly addressed counts.)
        let mut dense = vec![0u32; n_sets * width];
        // Per person and set: the first W/S/I exit time and the last time seen + 1 (0: not
        // seen), as PersonCounter keeps them.
        let n_persons = d.n_persons;
        let mut first_wsi = vec![u16::MAX; n_persons * n_sets];
        let mut last_seen = vec![0u16; n_persons * n_sets];
        let mut member = Vec::with_capacity(n_sets);
        for &r in controls {
            let (t, c) = out.primary[r];
            let cell = (d.duration[r] - lo) as usize * times * causes
                + usize::from(t) * causes
                + usize::from(c).min(causes - 1);
            member.clear();
            member.push(0);
            member.extend(
                subsets
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.test(r))
                    .map(|(i, _)| i + 1),
            );
            let p = d.person[r] as usize * n_sets;
            for &k in &member {
                dense[k * width + cell] += 1;
                let ls = &mut last_seen[p + k];
                *ls = (*ls).max(t.saturating_add(1));
                if c == 1 {
                    let f = &mut first_wsi[p + k];
                    *f = (*f).min(t);
                }
            }
        }
        let cells = (0..n_sets)
            .map(|k| {
                dense[k * width..(k + 1) * width]
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| n > 0)
                    .map(|(i, &n)| {
                        let dur = lo + (i / (times * causes)) as i32;
                        let t = ((i / causes) % times) as u16;
                        let c = (i % causes) as u8;
                        ((dur, t, c), u64::from(n))
                    })
                    .collect()
            })
            .collect();
        let mut persons = vec![(vec![0u64; horizons.len()], vec![0u64; horizons.len()]); n_sets];
        for p in 0..n_persons {
            for (k, (events, at_risk)) in persons.iter_mut().enumerate() {
                let (f, ls) = (first_wsi[p * n_sets + k], last_seen[p * n_sets + k]);
                if ls != 0 {
                    tally_person(f, ls, horizons, events, at_risk);
                }
            }
        }
        NaiveControls { cells, persons }
    }

    /// The cells of the subset at `slot` among those given to `new` (None: the whole risk set).
    fn cells(&self, slot: Option<usize>) -> &[ControlCell] {
        &self.cells[slot.map_or(0, |i| i + 1)]
    }

    fn persons(&self, slot: Option<usize>) -> &(Vec<u64>, Vec<u64>) {
        &self.persons[slot.map_or(0, |i| i + 1)]
    }
}

/// A filter on the treated row of a pair: the subset of an estimate.
#[derive(Clone)]
struct Subset<'a> {
    subset: String,
    value: String,
    member: Member,
    d: &'a PanelData,
    /// The provision type each treated row starts ([`Prepared::start_type`]).
    start_type: &'a [u32],
}

/// Which panel rows a [`Subset`] holds. (A plain value rather than a closure: the naive
/// comparison asks it of each of the ~600,000 eligible control months for every subset.)
#[derive(Clone, Copy)]
enum Member {
    All,
    AgeBand(usize),
    Trede(u8),
    Focus(Focus),
    Type(u32),
}

impl Subset<'_> {
    #[inline]
    fn test(&self, r: usize) -> bool {
        let d = self.d;
        match self.member {
            Member::All => true,
            Member::AgeBand(b) => age_band(d.age[r]) == b,
            Member::Trede(step) => d.trede[r] == step,
            Member::Focus(f) => f.contains(d.age[r], d.wijk[r]),
            Member::Type(ty) => self.start_type[r] == ty,
        }
    }
}

fn estimate_group(d: &PanelData, g: usize, opt: &EffectOptions) -> Result<GroupEffect, StatsError> {
    let mut phase = Phase::new(g);
    let (prep, warnings) = prepare(d, g, opt)?;
    phase.done("prepare (propensity model, strata)");
    let horizons = opt.horizons;
    let ones = vec![1u32; d.n_persons];
    let mut scratch = MatchScratch::default();
    let mut slots = Vec::new();
    match_all(&prep, &ones, &mut scratch, &mut slots);
    let pairs = prep.rows(&slots);
    phase.done("match");
    let n_matched = pairs.len();
    // Subsets: all, age band, trede, provision type.
    let subset = |subset: &str, value: String, member: Member| Subset {
        subset: subset.into(),
        value,
        member,
        d,
        start_type: &prep.start_type,
    };
    let mut subsets: Vec<Subset> = vec![subset("all", "all".into(), Member::All)];
    for (b, name) in AGE_BANDS.iter().enumerate() {
        subsets.push(subset("age_band", name.to_string(), Member::AgeBand(b)));
    }
    for step in 1..=6u8 {
        subsets.push(subset("trede", step.to_string(), Member::Trede(step)));
    }
    if opt.focus.is_set() {
        subsets.push(subset(
            "focus",
            opt.focus.describe(&d.wijken),
            Member::Focus(opt.focus),
        ));
    }
    let mut types_seen: Vec<u32> = prep.treated.iter().map(|&r| prep.start_type[r]).collect();
    types_seen.sort_unstable();
    types_seen.dedup();
    for ty in types_seen {
        subsets.push(subset(
            "type",
            d.types.get(ty as usize).cloned().unwrap_or_default(),
            Member::Type(ty),
        ));
    }
    // Point estimates.
    let z = dist::norm_quantile(1.0 - (1.0 - opt.conf_level) / 2.0);
    let outcomes = Outcomes::new(
        d,
        prep.treated.iter().chain(&prep.eligible_controls).copied(),
        *horizons.iter().max().unwrap_or(&24),
    );
    let point = |pairs: &[Pair], s: &Subset, moving: bool| -> Option<(ArmSummary, ArmSummary)> {
        let sel = || pairs.iter().filter(|p| s.test(p.0));
        Some((
            arm(&outcomes, sel().map(|p| p.0), moving, &horizons, false)?,
            arm(&outcomes, sel().map(|p| p.1), moving, &horizons, false)?,
        ))
    };
    // Bootstrap: persons resampled, matching redone. Each replicate adds every pair to the
    // counts of all subsets its treated row belongs to in one pass (the per-subset CIFs are
    // then the same Aalen–Johansen sums as `arm`, on the same integer counts).
    // Per treated slot, the subsets its row belongs to (flat, with offsets), and per treated and
    // control slot its outcomes under both rules: read in slot order, the pairs of a replicate
    // then touch small arrays instead of arrays over every panel row.
    let mut member_ptr = Vec::with_capacity(prep.treated_slot_row.len() + 1);
    let mut members: Vec<u16> = Vec::new();
    member_ptr.push(0);
    for &r in &prep.treated_slot_row {
        members.extend(
            (0..subsets.len())
                .filter(|&k| subsets[k].test(r))
                .map(|k| k as u16),
        );
        member_ptr.push(members.len());
    }
    let slot_outcome = |r: &usize| (outcomes.primary[*r], outcomes.moving[*r].1);
    let treated_outcome: Vec<((u16, u8), u8)> =
        prep.treated_slot_row.iter().map(slot_outcome).collect();
    let control_outcome: Vec<((u16, u8), u8)> =
        prep.control_slot_row.iter().map(slot_outcome).collect();
    let cap = outcomes.cap;
    let n_subsets = subsets.len();
    let rng = Rng(opt.seed ^ 0xB007 ^ ((g as u64) << 32));
    phase.done("outcomes and subsets");
    // One replicate: persons drawn with replacement (replicate b takes draws b·n … (b+1)·n − 1
    // of the group's stream, so any thread can draw it), the matching redone, and per subset
    // (None: no treated drawn) the differences in W/S/I cumulative incidence at the horizons
    // under the primary rule, the log ratio at the second horizon, and the differences with
    // moving away competing.
    type Replicate = Vec<Option<(Vec<f64>, Option<f64>, Vec<f64>)>>;
    let replicate_range = |range: std::ops::Range<usize>| -> Vec<Replicate> {
        let mut copies = vec![0u32; d.n_persons];
        let mut scratch = MatchScratch::default();
        let mut slots = Vec::new();
        // Per subset and arm (treated, control): rows by outcome month, W/S/I exits, all exits
        // (primary rule), all exits (moving away competing).
        let mut counts = vec![ArmCounts::new(cap); 2 * n_subsets];
        range
            .map(|b| {
                let mut rng = rng.skipped((b * d.n_persons) as u64);
                copies.iter_mut().for_each(|c| *c = 0);
                for _ in 0..d.n_persons {
                    copies[rng.below(d.n_persons as u64) as usize] += 1;
                }
                match_all(&prep, &copies, &mut scratch, &mut slots);
                counts.iter_mut().for_each(ArmCounts::clear);
                for &(t, c) in &slots {
                    let (t, c) = (t as usize, c as usize);
                    let (to, co) = (treated_outcome[t], control_outcome[c]);
                    for &k in &members[member_ptr[t]..member_ptr[t + 1]] {
                        let k = usize::from(k);
                        counts[2 * k].add(to.0, to.1);
                        counts[2 * k + 1].add(co.0, co.1);
                    }
                }
                (0..n_subsets)
                    .map(|k| {
                        let (t, c) = counts[2 * k..2 * k + 2].split_at_mut(1);
                        let (t, c) = (&mut t[0], &mut c[0]);
                        if t.n == 0 {
                            return None;
                        }
                        let (tp, cp) = (t.cif(&horizons, false), c.cif(&horizons, false));
                        let log_rr = (tp[1] > 0.0 && cp[1] > 0.0).then(|| (tp[1] / cp[1]).ln());
                        let (tm, cm) = (t.cif(&horizons, true), c.cif(&horizons, true));
                        Some((
                            tp.iter().zip(&cp).map(|(a, b)| a - b).collect(),
                            log_rr,
                            tm.iter().zip(&cm).map(|(a, b)| a - b).collect(),
                        ))
                    })
                    .collect()
            })
            .collect()
    };
    // The replicates in chunks, claimed by as many threads as there are cores: while another
    // group is estimated beside this one the two share the cores, and the last group to finish
    // has both to itself. Each replicate depends on its number only, and the results are put
    // back in replicate order, so the output does not depend on the number of threads.
    const CHUNK: usize = 10;
    let chunks: Vec<Vec<Replicate>> = crate::rng::par_map(opt.bootstrap.div_ceil(CHUNK), 8, |c| {
        replicate_range(c * CHUNK..((c + 1) * CHUNK).min(opt.bootstrap))
    });
    let mut boot_primary: Vec<Vec<Vec<f64>>> = vec![vec![]; n_subsets];
    let mut boot_moving: Vec<Vec<Vec<f64>>> = vec![vec![]; n_subsets];
    let mut boot_log_rr: Vec<Vec<f64>> = vec![vec![]; n_subsets];
    for replicate in chunks.into_iter().flatten() {
        for (k, r) in replicate.into_iter().enumerate() {
            if let Some((primary, log_rr, moving)) = r {
                boot_primary[k].push(primary);
                boot_log_rr[k].extend(log_rr);
                boot_moving[k].push(moving);
            }
        }
    }
    phase.done("bootstrap");
    let sd_of = |v: &[Vec<f64>], h: usize| -> f64 {
        let xs: Vec<f64> = v.iter().map(|r| r[h]).collect();
        let n = xs.len() as f64;
        if n < 2.0 {
            return f64::NAN;
        }
        let m = xs.iter().sum::<f64>() / n;
        (xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)).sqrt()
    };
    let horizon_rows =
        |t: &ArmSummary, c: &ArmSummary, boot: &[Vec<f64>], naive: bool| -> Vec<AtHorizon> {
            (0..horizons.len())
                .map(|h| {
                    let diff = t.cif[h] - c.cif[h];
                    let se = if naive {
                        (t.se[h].powi(2) + c.se[h].powi(2)).sqrt()
                    } else {
                        sd_of(boot, h)
                    };
                    AtHorizon {
                        months: horizons[h],
                        treated: t.cif[h],
                        control: c.cif[h],
                        difference: diff,
                        se,
                        ci: [diff - z * se, diff + z * se],
                        p_value: dist::two_sided_p(diff / se),
                        p_adjusted: None,
                        events_treated: t.events[h],
                        events_control: c.events[h],
                        at_risk_treated: t.at_risk[h],
                        at_risk_control: c.at_risk[h],
                    }
                })
                .collect()
        };
    let mut estimates = Vec::new();
    // The naive comparison: treated months against every eligible control month in the same
    // month of the spell (the risk set, unadjusted otherwise) — controls weighted to the treated
    // months' distribution over the months of the spell.
    // Controls aggregated by (month of the spell, outcome time, cause): the naive arm of any
    // subset is then a weighted sum over a few thousand cells, not over every control month.
    // One pass over the eligible control months fills the cells of every subset at once (the
    // subsets by the control's own age band, trede or focus; "all" and the provision types
    // share the whole risk set), together with the distinct persons behind them. The cells are
    // read in (month of the spell, time, cause) order, so the sums run in a fixed order and the
    // same data give the same bits.
    let own_subsets: Vec<usize> = (0..subsets.len())
        .filter(|&k| subsets[k].subset != "type" && subsets[k].subset != "all")
        .collect();
    let naive_controls = NaiveControls::new(
        d,
        &outcomes,
        &prep.eligible_controls,
        &own_subsets.iter().map(|&k| &subsets[k]).collect::<Vec<_>>(),
        &horizons,
    );
    let naive_arms =
        |t_rows: &[usize], controls: &[ControlCell]| -> Option<(ArmSummary, ArmSummary)> {
            // Treated and control months per month of the spell (0: none).
            // (Indexed from the shortest duration present, so any duration has its place, as
            // the hash maps these replace gave it.)
            let durations = || {
                t_rows
                    .iter()
                    .map(|&r| d.duration[r])
                    .chain(controls.iter().map(|c| c.0 .0))
            };
            let shortest = durations().min().unwrap_or(0);
            let longest = durations().max().unwrap_or(0);
            let at = |dur: i32| (dur - shortest) as usize;
            let mut nt = vec![0.0f64; at(longest) + 1];
            let mut nc = nt.clone();
            for &r in t_rows {
                nt[at(d.duration[r])] += 1.0;
            }
            for &((dur, _, _), k) in controls {
                nc[at(dur)] += k as f64;
            }
            let cells = controls.iter().filter_map(|&((dur, t, c), k)| {
                let i = at(dur);
                if nt[i] == 0.0 || nc[i] == 0.0 {
                    return None;
                }
                let w = nt[i] / nc[i];
                Some(Cell {
                    t,
                    c,
                    w: w * k as f64,
                    w2: w * w * k as f64,
                    count: k,
                })
            });
            let c = arm_cells(outcomes.cap, cells, &horizons, true)?;
            let t = arm(&outcomes, t_rows.iter().copied(), false, &horizons, true)?;
            Some((t, c))
        };
    // The subsets are independent: estimated on the available cores (each whole on one, so the
    // result does not depend on how many there are), which keeps both cores busy when this is
    // the last group still running.
    let per_subset = crate::rng::par_map(subsets.len(), crate::rng::ROW_PARTS, |k| {
        let s = &subsets[k];
        let mut counter = PersonCounter::new(d.n_persons);
        let (mut naive_time, mut hr_time) = (0.0, 0.0);
        let sel: Vec<&Pair> = pairs.iter().filter(|p| s.test(p.0)).collect();
        let mut tp: Vec<u32> = sel.iter().map(|p| d.person[p.0]).collect();
        let mut cp: Vec<u32> = sel.iter().map(|p| d.person[p.1]).collect();
        tp.sort_unstable();
        tp.dedup();
        cp.sort_unstable();
        cp.dedup();
        let too_few = tp.len() < opt.min_persons || cp.len() < opt.min_persons;
        let mut e = Estimate {
            subset: s.subset.clone(),
            value: s.value.clone(),
            too_few,
            n_treated: sel.len(),
            n_controls: sel.len(),
            treated_persons: tp,
            control_persons: cp,
            matched: vec![],
            moving_competing: vec![],
            naive: vec![],
            hazard_ratio: None,
            e_value: None,
        };
        if !too_few {
            let owned: Vec<Pair> = sel.iter().map(|p| **p).collect();
            let matched_counts = (
                counter.count(d, &outcomes, owned.iter().map(|p| p.0), &horizons),
                counter.count(d, &outcomes, owned.iter().map(|p| p.1), &horizons),
            );
            if let Some((t, c)) = point(&owned, s, false) {
                e.matched = horizon_rows(&t, &c, &boot_primary[k], false);
                set_person_counts(&mut e.matched, &matched_counts.0, &matched_counts.1);
                // E-value of the 12-month risk ratio (VanderWeele & Ding 2017).
                let lr = &boot_log_rr[k];
                if t.cif[1] > 0.0 && c.cif[1] > 0.0 && lr.len() > 1 {
                    let rr = t.cif[1] / c.cif[1];
                    let m = lr.iter().sum::<f64>() / lr.len() as f64;
                    let se = (lr.iter().map(|x| (x - m) * (x - m)).sum::<f64>()
                        / (lr.len() as f64 - 1.0))
                        .sqrt();
                    let (lo, hi) = ((rr.ln() - z * se).exp(), (rr.ln() + z * se).exp());
                    e.e_value = Some([multiple::e_value(rr), multiple::e_value_ci(lo, hi)]);
                }
            }
            if let Some((t, c)) = point(&owned, s, true) {
                e.moving_competing = horizon_rows(&t, &c, &boot_moving[k], false);
                set_person_counts(
                    &mut e.moving_competing,
                    &matched_counts.0,
                    &matched_counts.1,
                );
            }
            let naive_started = std::time::Instant::now();
            // Naive: the treated months of the subset against every eligible control month
            // in the same subset (by the control's own age band / trede), without matching.
            let t_rows: Vec<usize> = prep
                .treated
                .iter()
                .copied()
                .filter(|&r| s.test(r))
                .collect();
            // Subsets of the treated by provision type compare with the whole risk set.
            let slot = own_subsets.iter().position(|&j| j == k);
            if let Some((t, c)) = naive_arms(&t_rows, naive_controls.cells(slot)) {
                e.naive = horizon_rows(&t, &c, &[], true);
                let tc = counter.count(d, &outcomes, t_rows.iter().copied(), &horizons);
                let cc = naive_controls.persons(slot);
                set_person_counts(&mut e.naive, &tc, cc);
            }
            naive_time += naive_started.elapsed().as_secs_f64();
            let hr_started = std::time::Instant::now();
            e.hazard_ratio = hazard_ratio(d, &owned);
            hr_time += hr_started.elapsed().as_secs_f64();
        }
        (e, naive_time, hr_time)
    });
    let (mut naive_time, mut hr_time) = (0.0, 0.0);
    for (e, naive, hr) in per_subset {
        estimates.push(e);
        naive_time += naive;
        hr_time += hr;
    }
    phase.done(&format!(
        "estimates per subset (of which, summed over the threads, naive {naive_time:.3} s, hazard ratio {hr_time:.3} s)"
    ));
    let overall = estimates.remove(0);
    let (subgroups, types): (Vec<Estimate>, Vec<Estimate>) =
        estimates.into_iter().partition(|e| e.subset != "type");
    // Balance before (treated vs all eligible controls) and after (vs matched controls).
    let p = d.feature_names.len();
    let treated_w: Vec<usize> = pairs.iter().map(|p| p.0).collect();
    let matched_c: Vec<usize> = pairs.iter().map(|p| p.1).collect();
    // Means, variances and (for 0/1 features) the counts of 1s and 0s of every feature, in one
    // row-major pass per set of rows.
    struct Moments {
        mean_var: Vec<(f64, f64)>,
        ones: Vec<u64>,
        zeros: Vec<u64>,
        binary: Vec<bool>,
    }
    let moments = |rows: &[usize]| -> Moments {
        let c = d.features.column_sums(rows);
        let n = rows.len() as f64;
        let mean_var = (0..p)
            .map(|j| {
                if n < 2.0 {
                    return (f64::NAN, f64::NAN);
                }
                let m = c.sum[j] / n;
                (m, ((c.sum_sq[j] - n * m * m) / (n - 1.0)).max(0.0))
            })
            .collect();
        // The zeros of a column are the rows it holds no nonzero in.
        let zeros = c.nonzero.iter().map(|&nz| c.rows - nz).collect();
        Moments {
            mean_var,
            ones: c.ones,
            zeros,
            binary: c.binary,
        }
    };
    // Four independent sums (each whole on one core: the same numbers on any machine).
    let sets = [
        &prep.treated,
        &prep.eligible_controls,
        &matched_c,
        &treated_w,
    ];
    let mut four = crate::rng::par_map(4, 4, |k| moments(sets[k])).into_iter();
    let (Some(before_t), Some(before_c), Some(after_c), Some(after_t)) =
        (four.next(), four.next(), four.next(), four.next())
    else {
        return crate::err("the balance moments did not finish");
    };
    let after_t = after_t.mean_var;
    let balance = (0..p)
        .map(|j| {
            let ((mt, vt), (mc, vc)) = (before_t.mean_var[j], before_c.mean_var[j]);
            let ((mta, vta), (mca, vca)) = (after_t[j], after_c.mean_var[j]);
            let sd = vt.sqrt();
            // As `matching::smallest_binary_cell` over the treated, the eligible controls and
            // the matched controls.
            let sets = [&before_t, &before_c, &after_c];
            let smallest_binary_cell = sets.iter().all(|m| m.binary[j]).then(|| {
                sets.iter()
                    .map(|m| m.ones[j])
                    .chain(sets.iter().map(|m| m.zeros[j]))
                    .min()
                    .unwrap_or(0)
            });
            BalanceRow {
                smallest_binary_cell,
                name: d.feature_names[j].clone(),
                smd_before: if sd > 0.0 { (mt - mc) / sd } else { 0.0 },
                smd_after: if sd > 0.0 { (mta - mca) / sd } else { 0.0 },
                vr_before: if vc > 0.0 { vt / vc } else { f64::NAN },
                vr_after: if vca > 0.0 { vta / vca } else { f64::NAN },
            }
        })
        .collect();
    phase.done("balance");
    let (curve_treated, pt) = monthly_curve(d, &treated_w, horizons[2]);
    let (curve_control, pc) = monthly_curve(d, &matched_c, horizons[2]);
    phase.done("curves");
    Ok(GroupEffect {
        group: d.groups[g].clone(),
        n_treated_months: prep.treated.len(),
        n_treated_unmatched: prep.treated.len() - n_matched,
        overall,
        subgroups,
        types,
        balance,
        propensity_warnings: warnings,
        curve_treated,
        curve_control,
        curve_persons: [pt, pc],
    })
}

/// At-risk and event counts per month since the start, for the protected curve.
fn monthly_curve(d: &PanelData, rows: &[usize], max: i32) -> (Vec<CurvePoint>, Vec<MonthPersons>) {
    let outs: Vec<(f64, usize, u32)> = rows
        .iter()
        .map(|&r| {
            let (t, c) = outcome(d, r, false, max);
            (t, c, d.person[r])
        })
        .collect();
    let mut points = Vec::new();
    let mut persons = Vec::new();
    for m in 1..=max {
        let mf = m as f64;
        let at: Vec<u32> = outs.iter().filter(|o| o.0 >= mf).map(|o| o.2).collect();
        let wsi: Vec<u32> = outs
            .iter()
            .filter(|o| o.0 == mf && o.1 == 1)
            .map(|o| o.2)
            .collect();
        let all: Vec<u32> = outs
            .iter()
            .filter(|o| o.0 == mf && o.1 > 0)
            .map(|o| o.2)
            .collect();
        points.push(CurvePoint {
            month: m,
            at_risk: at.len() as u64,
            wsi_events: wsi.len() as u64,
            all_events: all.len() as u64,
        });
        persons.push((at, wsi, all));
    }
    (points, persons)
}

/// Cause-specific Cox model of W/S/I outflow on the matched sample: one covariate (treated),
/// standard errors clustered by person.
fn hazard_ratio(d: &PanelData, pairs: &[Pair]) -> Option<HazardRatio> {
    let mut stop = Vec::new();
    let mut event = Vec::new();
    let mut x = Vec::new();
    let mut cluster = Vec::new();
    let mut events = [0u64; 2];
    for &(t, c) in pairs {
        for (r, tr) in [(t, 1.0), (c, 0.0)] {
            let (time, cause) = outcome(d, r, false, i32::MAX);
            if time <= 0.0 {
                continue;
            }
            stop.push(time);
            event.push(cause == 1);
            if cause == 1 {
                events[if tr == 1.0 { 0 } else { 1 }] += 1;
            }
            x.push(tr);
            cluster.push(d.person[r] as usize);
        }
    }
    // Dense cluster ids.
    let mut ids: Vec<usize> = cluster.clone();
    ids.sort_unstable();
    ids.dedup();
    let cluster: Vec<usize> = cluster
        .iter()
        .map(|c| ids.binary_search(c).unwrap_or(0))
        .collect();
    let names = vec!["treated".to_string()];
    let data = cox::CoxData {
        start: None,
        stop: &stop,
        event: &event,
        x: &x,
        names: &names,
        weights: None,
        strata: None,
        cluster: Some(&cluster),
    };
    let fit = cox::fit(&data, &cox::CoxOptions::default()).ok()?;
    let c = fit.coefficients.first()?;
    Some(HazardRatio {
        hr: c.hr,
        lower: c.hr_lower,
        upper: c.hr_upper,
        p: c.p,
        events,
        unreliable: !fit.converged || !fit.warnings.is_empty(),
    })
}
