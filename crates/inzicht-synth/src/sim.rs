//! Month-by-month simulation of one benefit spell of a household, with common random numbers.
//!
//! Each month draws a fixed number of uniforms from a generator keyed by (seed, spell, month), so
//! that a counterfactual run (the same spell with one provision start suppressed, or with moving
//! away switched off) differs from the factual run only where the change acts. The order within a
//! month: the AOW age, then a W/S/I exit, then a competing exit, then moving away; if the spell
//! goes on, each member may start provisions, which act from the next month.

use crate::catalogue::{ProvisionType, N_GROUPS};
use crate::model::{self, Household};
use crate::rng::Rng;
use inzicht_domain::aow::aow_age_months;
use inzicht_domain::Month;

const TAG_MONTH: u64 = 0x5B11;
const TAG_PROVISION: u64 = 0xB40F;
/// Households have at most two members (main applicant and partner); draws are made for two
/// always, so that couples and singles consume the same stream.
const MAX_MEMBERS: usize = 2;

/// A provision start that the counterfactual run leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppress {
    pub member: usize,
    pub group: usize,
    pub month: Month,
}

#[derive(Debug, Clone, Copy)]
pub struct SimOptions<'a> {
    /// Whether moving away (BUS 32/33) can happen; the primary truth switches it off, because the
    /// primary analysis treats moving as censoring (shared/domain.md §3).
    pub moving: bool,
    pub suppress: Option<Suppress>,
    /// Last month simulated (inclusive).
    pub stop: Month,
    /// Under `Confounding::Recorded`: per member, the assessment items recorded so far (by
    /// month), from which consultants decide; `None` for the latent prognosis.
    pub recorded: Option<&'a [Vec<(Month, model::RecordedItems)>]>,
}

#[derive(Debug, Clone)]
pub struct ProvisionStart {
    pub member: usize,
    pub group: usize,
    pub type_index: usize,
    pub month: Month,
    pub planned_months: u32,
    /// The member's first provision of this group in this spell: the one the truth is about.
    pub first_of_group: bool,
    /// Age band and trede at the start (the subgroup the effect depends on).
    pub age_band: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub month: Month,
    /// BUS end-reason code.
    pub bus: &'static str,
    /// The member whose event ended the spell (the one who found work, for W/S/I).
    pub member: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Trajectory {
    pub exit: Option<Exit>,
    pub provisions: Vec<ProvisionStart>,
}

/// What the simulation needs to know about the provision catalogue.
pub struct Catalogue<'a> {
    pub types: &'a [ProvisionType],
    pub by_group: Vec<Vec<usize>>,
}

impl<'a> Catalogue<'a> {
    pub fn new(types: &'a [ProvisionType]) -> Self {
        let mut by_group = vec![Vec::new(); N_GROUPS];
        for (i, t) in types.iter().enumerate() {
            by_group[t.group].push(i);
        }
        Catalogue { types, by_group }
    }
}

/// Simulates the spell of `h` that started in `start`, from month `sim_from` (later than `start`
/// for a spell already running when the data begins) until an exit or `opts.stop`.
pub fn simulate(
    seed: u64,
    h: &Household,
    spell_uid: u64,
    start: Month,
    sim_from: Month,
    opts: &SimOptions,
    cat: &Catalogue,
) -> Trajectory {
    resume(seed, h, spell_uid, start, sim_from, &[], opts, cat)
}

/// Continues a spell at month `at` after the provision starts `before` (all earlier than `at`),
/// as a run from the spell's first simulated month would have reached it: with common random
/// numbers the months before `at` are the same in every run that differs only from `at` on, so
/// they need not be redone.
#[allow(clippy::too_many_arguments)]
pub fn resume(
    seed: u64,
    h: &Household,
    spell_uid: u64,
    start: Month,
    at: Month,
    before: &[ProvisionStart],
    opts: &SimOptions,
    cat: &Catalogue,
) -> Trajectory {
    let mut traj = Trajectory {
        exit: None,
        provisions: before.to_vec(),
    };
    // First start per (member, group): (month, planned months, age band at start).
    let mut first: [[Option<(Month, u32, usize)>; N_GROUPS]; MAX_MEMBERS] =
        [[None; N_GROUPS]; MAX_MEMBERS];
    let mut busy_until: [[Month; N_GROUPS]; MAX_MEMBERS] =
        [[Month(i32::MIN); N_GROUPS]; MAX_MEMBERS];
    for p in before {
        busy_until[p.member][p.group] = p.month.plus(p.planned_months as i32);
        if first[p.member][p.group].is_none() {
            first[p.member][p.group] = Some((p.month, p.planned_months, p.age_band));
        }
    }
    let sim_from = at;
    let main = h.main();
    let couple = h.is_couple();
    let mut m = sim_from;
    while m <= opts.stop {
        let d = m.since(start);
        let mut rng = Rng::keyed(seed, &[TAG_MONTH, spell_uid, m.0 as u64]);
        let u_wsi = rng.uniform();
        let u_comp = rng.uniform();
        let u_move = rng.uniform();
        let u_who = rng.uniform();
        let u_code = rng.uniform();
        let mut u_prov = [[0.0; N_GROUPS]; MAX_MEMBERS];
        for row in &mut u_prov {
            for u in row.iter_mut() {
                *u = rng.uniform();
            }
        }

        // AOW age of the main applicant ends the spell (BUS 03).
        let age_months = m.since(main.birth.month_of());
        if age_months >= aow_age_months(m.year()) as i32 {
            traj.exit = Some(Exit {
                month: m,
                bus: "03",
                member: 0,
            });
            return traj;
        }

        // W/S/I: the household leaves when any member does (hazards add).
        let mut member_hazard = [0.0f64; MAX_MEMBERS];
        for (k, p) in h.members.iter().enumerate() {
            let age = model::age_at(p, m);
            let mut lp = p.eta
                + model::duration_effect(d)
                + model::period_effect(m)
                + model::age_effect(age);
            for (g, f) in first[k].iter().enumerate() {
                if let Some((s, planned, band)) = f {
                    if *s < m {
                        let in_progress = m.since(*s) < *planned as i32;
                        lp += model::provision_effect(g, *band, p.trede, in_progress);
                    }
                }
            }
            member_hazard[k] = lp.exp();
        }
        let total: f64 = member_hazard.iter().sum();
        if u_wsi < 1.0 - (-total).exp() {
            let member = if couple && u_who * total >= member_hazard[0] {
                1
            } else {
                0
            };
            let p = &h.members[member];
            let weights = model::wsi_reason_weights(p, model::age_at(p, m));
            let code = pick_code(&weights, u_code);
            traj.exit = Some(Exit {
                month: m,
                bus: code,
                member,
            });
            return traj;
        }
        let comp = model::competing_exits(main, couple, m);
        let partner_cause = if couple { 0.0006 } else { 0.0 };
        let p_comp: f64 = comp.iter().map(|c| c.1).sum::<f64>() + partner_cause;
        if u_comp < p_comp {
            let code = if u_who * p_comp < partner_cause {
                "97"
            } else {
                pick_code(&comp, u_code)
            };
            traj.exit = Some(Exit {
                month: m,
                bus: code,
                member: 0,
            });
            return traj;
        }
        if opts.moving {
            let (p32, p33) = model::moving_probability(main);
            if u_move < p32 + p33 {
                let code = if u_code * (p32 + p33) < p32 {
                    "32"
                } else {
                    "33"
                };
                traj.exit = Some(Exit {
                    month: m,
                    bus: code,
                    member: 0,
                });
                return traj;
            }
        }

        // Provisions start this month and act from the next.
        for (k, p) in h.members.iter().enumerate() {
            let view = opts.recorded.map(|history| {
                model::RecordedItems::known_before(history.get(k).map_or(&[][..], |v| &v[..]), m)
            });
            for g in 0..N_GROUPS {
                if busy_until[k][g] > m {
                    continue;
                }
                if opts.suppress
                    == Some(Suppress {
                        member: k,
                        group: g,
                        month: m,
                    })
                {
                    continue;
                }
                let prob = match &view {
                    None => model::provision_start_probability(p, g, m, d, h.children),
                    Some(view) => model::provision_start_probability_recorded(p, view, g, m, d),
                };
                if u_prov[k][g] >= prob {
                    continue;
                }
                let mut r = Rng::keyed(
                    seed,
                    &[TAG_PROVISION, spell_uid, m.0 as u64, k as u64, g as u64],
                );
                let age = model::age_at(p, m);
                let year = m.year();
                let weights: Vec<f64> = cat.by_group[g]
                    .iter()
                    .map(|&i| {
                        let t = &cat.types[i];
                        if year < t.offered.0 || year > t.offered.1 {
                            0.0
                        } else {
                            model::type_weight(p, t.target, age)
                        }
                    })
                    .collect();
                if weights.iter().all(|w| *w <= 0.0) {
                    continue;
                }
                let type_index = cat.by_group[g][r.weighted(&weights)];
                let (lo, hi) = cat.types[type_index].months;
                let planned = r.range(i64::from(lo), i64::from(hi)) as u32;
                busy_until[k][g] = m.plus(planned as i32);
                let band = model::age_band(age);
                let first_of_group = first[k][g].is_none();
                if first_of_group {
                    first[k][g] = Some((m, planned, band));
                }
                traj.provisions.push(ProvisionStart {
                    member: k,
                    group: g,
                    type_index,
                    month: m,
                    planned_months: planned,
                    first_of_group,
                    age_band: band,
                });
            }
        }
        m = m.plus(1);
    }
    traj
}

fn pick_code<const N: usize>(weights: &[(&'static str, f64); N], u: f64) -> &'static str {
    let total: f64 = weights.iter().map(|w| w.1).sum();
    let mut x = u * total;
    for (code, w) in weights {
        if x < *w {
            return code;
        }
        x -= w;
    }
    weights[N - 1].0
}

/// W/S/I exit within `k` months after month `from` (the exit month lies in `(from, from + k]`).
pub fn wsi_within(traj: &Trajectory, from: Month, k: i32) -> bool {
    traj.exit.is_some_and(|e| {
        let is_wsi = inzicht_domain::codes::bus_end_reason(e.bus).is_some_and(|r| r.class.is_wsi());
        is_wsi && e.month > from && e.month.since(from) <= k
    })
}
