//! Generates one household completely — members, spells, provisions, assessments, profile — and
//! its contribution to the known truth. Pure: no I/O, all randomness keyed by the household, so
//! that households can be generated in parallel and written in order.

use crate::catalogue::{END_REASONS, N_GROUPS, OCCUPATIONS};
use crate::model::{self, Household, Person};
use crate::rng::Rng;
use crate::sim::{self, Catalogue, SimOptions, Suppress, Trajectory};
use crate::Config;
use inzicht_domain::{Date, Month};

const TAG_HOUSEHOLD: u64 = 0x4855;
const TAG_SPELL_META: u64 = 0x5350;
const TAG_ASSESS: u64 = 0xA55E;

/// Shares of households already on benefit when the data begins, and of couples.
const PREVALENT_SHARE: f64 = 0.6;

#[derive(Debug, Clone)]
pub struct SpellRecord {
    pub uid: u64,
    pub dossier: String,
    pub regeling: &'static str,
    pub start: Date,
    /// End date, local end-reason code and BUS code, if the spell ended by the end of the data.
    pub end: Option<(Date, &'static str, &'static str)>,
    pub inflow_reason: &'static str,
    pub shares_costs: bool,
    pub side_income: bool,
    pub amount: f64,
    pub previous_benefit: &'static str,
    pub note: String,
    /// Whether any provision lies in this spell (such spells are never made unloadable).
    pub has_provisions: bool,
}

#[derive(Debug, Clone)]
pub struct ProvisionRecord {
    pub member: usize,
    pub type_index: usize,
    pub start: Date,
    pub end: Option<Date>,
    pub end_reason: Option<&'static str>,
    pub cost: Option<f64>,
    pub first_of_group: bool,
    pub note: String,
}

#[derive(Debug, Clone)]
pub struct AssessmentRecord {
    pub member: usize,
    pub date: Date,
    /// Values in the column order of the assessments file after `bsn,datum`.
    pub values: Vec<String>,
}

/// One treated first start of a provision group and its potential outcomes.
#[derive(Debug, Clone)]
pub struct TreatedOutcome {
    pub group: usize,
    pub age_band: usize,
    pub trede: u8,
    pub latent_type: usize,
    pub log_hazard_effect: f64,
    /// W/S/I within 6, 12, 24 months: (with, without), moving away switched off.
    pub primary: [(bool, bool); 3],
    /// The same with moving away as a competing exit.
    pub moving_competing: [(bool, bool); 3],
}

pub struct HouseholdOutput {
    pub household: Household,
    pub spells: Vec<SpellRecord>,
    pub provisions: Vec<ProvisionRecord>,
    pub assessments: Vec<AssessmentRecord>,
    pub treated: Vec<TreatedOutcome>,
    /// True competences of each member at the end of the data (after provisions taught some).
    pub final_competences: Vec<u64>,
    /// Whether a spell of the household is running at the end of the data.
    pub running_at_end: bool,
}

pub const HORIZONS: [i32; 3] = [6, 12, 24];

/// Builds household `index` with at most `max_members` members (persons are numbered
/// `2·index` and `2·index + 1`).
pub fn generate(
    cfg: &Config,
    cat: &Catalogue,
    geo: &[crate::geo::Buurt],
    index: u32,
    max_members: usize,
) -> HouseholdOutput {
    let seed = cfg.seed;
    let mut rng = Rng::keyed(seed, &[TAG_HOUSEHOLD, u64::from(index)]);
    let buurt_weights: Vec<f64> = geo.iter().map(|b| 0.5 + b.deprivation).collect();
    let buurt = rng.weighted(&buurt_weights);
    let latent_type = model::draw_type(&mut rng, geo[buurt].deprivation);
    // Couples: most common among newcomers and older clients, never the single-parent type.
    let couple = rng.bernoulli([0.08, 0.05, 0.2, 0.35, 0.0][latent_type]) && max_members > 1;

    // First spell: prevalent (running when the data begins) or starting during the data.
    let prevalent = rng.bernoulli(PREVALENT_SHARE);
    let span = cfg.to.since(cfg.from) + 1;
    let first_start = if prevalent {
        cfg.from
            .plus(-(1 + rng.geometric(1.0 / 55.0).min(360) as i32))
    } else {
        let weights: Vec<f64> = (0..span).map(|i| inflow_weight(cfg.from.plus(i))).collect();
        cfg.from.plus(rng.weighted(&weights) as i32)
    };
    let (age_lo, age_hi) = match latent_type {
        0 => (25, 55),
        1 => (18, 29),
        2 => (40, 57),
        3 => (20, 50),
        _ => (20, 44),
    };
    let age = rng.range(age_lo, age_hi) as i32;
    let reference = first_start.first_day();
    let n_pc = geo[buurt].postcodes.len();
    let mut persons: Vec<Person> = Vec::with_capacity(2);
    let main = model::draw_person(
        &mut rng,
        2 * index,
        latent_type,
        age,
        reference,
        buurt,
        n_pc,
    );
    persons.push(main);
    if couple {
        let pt = if rng.bernoulli(0.7) {
            latent_type
        } else {
            model::draw_type(&mut rng, geo[buurt].deprivation)
        };
        let page = (age + rng.range(-6, 6) as i32).clamp(18, 63);
        let mut partner =
            model::draw_person(&mut rng, 2 * index + 1, pt, page, reference, buurt, n_pc);
        partner.female = !persons[0].female || rng.bernoulli(0.03);
        partner.postcode_index = persons[0].postcode_index;
        partner.house_number = persons[0].house_number;
        partner.house_letter = persons[0].house_letter;
        partner.last_name = if rng.bernoulli(0.5) {
            persons[0].last_name
        } else {
            partner.last_name
        };
        persons.push(partner);
    }
    let children = match (latent_type, couple) {
        (4, _) => rng.range(1, 3) as u8,
        (_, true) => {
            if rng.bernoulli(0.5) {
                rng.range(1, 4) as u8
            } else {
                0
            }
        }
        _ => {
            if rng.bernoulli(0.08) {
                1
            } else {
                0
            }
        }
    };
    let youngest_child_birth = (children > 0).then(|| {
        let y = first_start.year() - rng.range(0, 12) as i32;
        Date::new(y, rng.range(1, 12) as u32, rng.range(1, 28) as u32).unwrap_or(reference)
    });
    let mut household = Household {
        index,
        members: persons,
        children,
        youngest_child_birth,
        shares_costs: !couple && rng.bernoulli(0.1),
        first_start,
        prevalent,
    };
    model::apply_household_effects(&mut household);

    let mut out = HouseholdOutput {
        household,
        spells: Vec::new(),
        provisions: Vec::new(),
        assessments: Vec::new(),
        treated: Vec::new(),
        final_competences: Vec::new(),
        running_at_end: false,
    };
    let mut competences: Vec<u64> = out
        .household
        .members
        .iter()
        .map(|p| p.competences)
        .collect();
    let mut start = first_start;
    let mut spell_no = 0u64;
    let mut previous_exit: Option<&'static str> = None;
    // Under `Confounding::Recorded`, per member: the assessment items recorded so far.
    let mut recorded: Vec<Vec<(Month, model::RecordedItems)>> =
        vec![Vec::new(); out.household.members.len()];
    loop {
        let uid = (u64::from(index) << 8) | spell_no;
        let sim_from = if start < cfg.from { cfg.from } else { start };
        // The spell's assessments as they would be made until the end of the data; those after
        // the spell ends are dropped below. (Their draws do not depend on the spell's course,
        // so this gives the same assessments as generating them after the simulation.)
        let mut assessments = Vec::new();
        assessments_of(cfg, &out.household, uid, start, cfg.to, &mut assessments);
        let recording = cfg.confounding == model::Confounding::Recorded;
        if recording {
            for a in &assessments {
                recorded[a.member].push((
                    a.date.month_of(),
                    model::RecordedItems::from_values(&a.values),
                ));
            }
            recorded.iter_mut().for_each(|r| r.sort_by_key(|x| x.0));
        }
        let opts = SimOptions {
            moving: true,
            suppress: None,
            stop: cfg.to.plus(24),
            recorded: recording.then_some(&recorded[..]),
        };
        let traj = sim::simulate(seed, &out.household, uid, start, sim_from, &opts, cat);
        record_truth(
            cfg,
            cat,
            &out.household,
            uid,
            (start, sim_from),
            &traj,
            opts.recorded,
            &mut out.treated,
        );
        let spell_index = out.spells.len();
        let spell = spell_record(
            cfg,
            &out.household,
            uid,
            start,
            &traj,
            previous_exit,
            spell_no,
        );
        out.spells.push(spell);
        let spell_start = out.spells[spell_index].start;
        provisions_of(
            cfg,
            cat,
            uid,
            spell_start,
            &traj,
            &mut out.provisions,
            &mut competences,
        );
        let has = out.provisions.iter().any(|p| {
            let s = &out.spells[spell_index];
            p.start >= s.start && s.end.is_none_or(|e| p.start <= e.0)
        });
        out.spells[spell_index].has_provisions = has;
        let end = traj.exit.map(|e| e.month).unwrap_or(cfg.to).min(cfg.to);
        out.assessments
            .extend(assessments.into_iter().filter(|a| a.date.month_of() <= end));
        if recording {
            recorded.iter_mut().for_each(|r| r.retain(|x| x.0 <= end));
        }
        match traj.exit {
            Some(e) if e.month <= cfg.to => {
                let mut r = Rng::keyed(seed, &[TAG_SPELL_META, uid, 1]);
                let p_again = match e.bus {
                    "03" | "04" | "32" | "33" => 0.0,
                    "05" => 0.5,
                    "02" => 0.1,
                    "31" | "34" | "35" | "98" => 0.35,
                    _ => 0.28,
                };
                if !r.bernoulli(p_again) {
                    break;
                }
                let next = e.month.plus(3 + r.geometric(1.0 / 14.0).min(120) as i32);
                if next > cfg.to {
                    break;
                }
                previous_exit = Some(e.bus);
                start = next;
                spell_no += 1;
            }
            _ => {
                out.running_at_end = traj.exit.is_none_or(|e| e.month > cfg.to);
                break;
            }
        }
    }
    out.final_competences = competences;
    out
}

/// Relative inflow per calendar month (crisis years and covid bring more inflow).
fn inflow_weight(m: Month) -> f64 {
    match m.year() {
        i32::MIN..=2011 => 1.0,
        2012..=2014 => 1.25,
        2015..=2016 => 1.35,
        2017..=2019 => 1.0,
        2020 => 1.2,
        _ => 0.85,
    }
}

/// Simulates each treated first start with and without the provision (common random numbers)
/// and records W/S/I outflow within 6, 12 and 24 months: the truth on the analyses' scale.
#[allow(clippy::too_many_arguments)]
fn record_truth(
    cfg: &Config,
    cat: &Catalogue,
    h: &Household,
    uid: u64,
    (start, sim_from): (Month, Month),
    factual: &Trajectory,
    recorded: Option<&[Vec<(Month, model::RecordedItems)>]>,
    out: &mut Vec<TreatedOutcome>,
) {
    for p in factual
        .provisions
        .iter()
        .filter(|p| p.first_of_group && p.month >= cfg.from && p.month <= cfg.to)
    {
        let stop = p.month.plus(HORIZONS[2]);
        let suppress = Some(Suppress {
            member: p.member,
            group: p.group,
            month: p.month,
        });
        // Every run is identical to the factual one before the provision's month: resume there.
        let before: Vec<sim::ProvisionStart> = factual
            .provisions
            .iter()
            .filter(|q| q.month < p.month)
            .cloned()
            .collect();
        let at = p.month.max(sim_from);
        let run = |moving: bool, suppress: Option<Suppress>| {
            sim::resume(
                cfg.seed,
                h,
                uid,
                start,
                at,
                &before,
                &SimOptions {
                    moving,
                    suppress,
                    stop,
                    recorded,
                },
                cat,
            )
        };
        let cf_moving = run(true, suppress);
        let f_primary = run(false, None);
        let cf_primary = run(false, suppress);
        let member = &h.members[p.member];
        let mut primary = [(false, false); 3];
        let mut moving_competing = [(false, false); 3];
        for (i, k) in HORIZONS.iter().enumerate() {
            primary[i] = (
                sim::wsi_within(&f_primary, p.month, *k),
                sim::wsi_within(&cf_primary, p.month, *k),
            );
            moving_competing[i] = (
                sim::wsi_within(factual, p.month, *k),
                sim::wsi_within(&cf_moving, p.month, *k),
            );
        }
        out.push(TreatedOutcome {
            group: p.group,
            age_band: p.age_band,
            trede: member.trede,
            latent_type: member.latent_type,
            log_hazard_effect: model::provision_effect(p.group, p.age_band, member.trede, false),
            primary,
            moving_competing,
        });
    }
}

fn day_in(rng: &mut Rng, m: Month, not_before: Option<Date>) -> Date {
    let last = m.last_day().day;
    let lo = match not_before {
        Some(d) if d.month_of() == m => d.day,
        _ => 1,
    };
    Date::new(
        m.year(),
        m.month(),
        rng.range(i64::from(lo), i64::from(last)) as u32,
    )
    .unwrap_or(m.first_day())
}

fn spell_record(
    cfg: &Config,
    h: &Household,
    uid: u64,
    start: Month,
    traj: &Trajectory,
    previous_exit: Option<&'static str>,
    spell_no: u64,
) -> SpellRecord {
    let mut r = Rng::keyed(cfg.seed, &[TAG_SPELL_META, uid, 0]);
    let main = h.main();
    let start_date = day_in(&mut r, start, None);
    let end = traj.exit.filter(|e| e.month <= cfg.to).map(|e| {
        let date = day_in(&mut r, e.month, Some(start_date));
        let candidates = crate::catalogue::end_reasons_for_bus(e.bus);
        let local = if e.bus == "11"
            && traj
                .provisions
                .iter()
                .any(|p| p.group == 4 && p.month < e.month)
        {
            "112"
        } else {
            candidates[r.weighted(&local_weights(candidates.len()))]
        };
        (date, local, e.bus)
    });
    let age = model::age_at(main, start);
    let regeling = if age >= 50 && main.experience.iter().any(|e| e.1 >= 5.0) && r.bernoulli(0.25) {
        "IOAW"
    } else if main.experience.is_empty() && r.bernoulli(0.01) || r.bernoulli(0.004) {
        "IOAZ"
    } else {
        "PW"
    };
    let inflow_reason = match previous_exit {
        Some("05") => "I07",
        Some(_) => *r.pick(&["I01", "I02", "I02", "I11"]),
        None if main.refugee && r.bernoulli(0.8) => "I06",
        None if age < 23 && r.bernoulli(0.5) => "I04",
        None if main.latent_type == 4 && r.bernoulli(0.6) => "I03",
        None => {
            crate::catalogue::INFLOW_REASONS
                [r.weighted(&[3.0, 3.0, 1.5, 0.5, 1.0, 0.0, 0.3, 0.6, 1.0, 0.4, 1.5])]
            .0
        }
    };
    let previous_benefit = match inflow_reason {
        "I01" => "WW",
        "I09" => "ZW",
        "I10" => "Bbz",
        _ if r.bernoulli(0.1) => "onbekend",
        _ => "geen",
    };
    // Net monthly norm (2024 levels) deflated by about 2% a year.
    let norm = match (h.is_couple(), h.children > 0) {
        (true, _) => 1_821.0,
        (false, _) if h.shares_costs => 890.0,
        _ => 1_275.0,
    };
    let side_income = r.bernoulli(0.12);
    let deflate = 0.98f64.powi(2024 - start.year().min(2024));
    let amount = (norm * deflate
        - if side_income {
            r.range(100, 600) as f64
        } else {
            0.0
        })
        * (0.97 + 0.06 * r.uniform());
    let note = if r.bernoulli(0.03) {
        (*r.pick(&[
            "Herbeoordeling; zie dossier",
            "Aanvraag na \"Zorgloket\" doorverwezen",
            "Heronderzoek gestart\nafspraak volgt",
            "Inkomsten wisselend; maandelijks verrekenen",
            "Telefonisch contact gehad, cliënt komt langs",
        ]))
        .to_string()
    } else {
        String::new()
    };
    SpellRecord {
        uid,
        dossier: format!("UK{}-{:07}{}", start.year(), h.index, spell_no),
        regeling,
        start: start_date,
        end,
        inflow_reason,
        shares_costs: h.shares_costs,
        side_income,
        amount: (amount * 100.0).round() / 100.0,
        previous_benefit,
        note,
        has_provisions: false,
    }
}

/// Local codes of one BUS code are used unevenly (the first most often).
fn local_weights(n: usize) -> Vec<f64> {
    (0..n).map(|i| 1.0 / (1.0 + 2.0 * i as f64)).collect()
}

fn provisions_of(
    cfg: &Config,
    cat: &Catalogue,
    uid: u64,
    spell_start: Date,
    traj: &Trajectory,
    out: &mut Vec<ProvisionRecord>,
    competences: &mut [u64],
) {
    for (i, p) in traj.provisions.iter().enumerate() {
        if p.month > cfg.to {
            break;
        }
        let mut r = Rng::keyed(cfg.seed, &[TAG_SPELL_META, uid, 2, i as u64]);
        let t = &cat.types[p.type_index];
        // A provision starts on or after the first day of the spell.
        let start = day_in(&mut r, p.month, Some(spell_start));
        let planned_end_month = p.month.plus(p.planned_months as i32 - 1);
        let exit = traj.exit;
        // Wage subsidy, job coaching and aftercare go on after the client starts work.
        let continues_after_work =
            matches!(t.srg, "01" | "04" | "06") || t.name.starts_with("Nazorg");
        let (end_month, reason) = match exit {
            Some(e)
                if e.month <= planned_end_month && !(continues_after_work && sim_is_wsi(e.bus)) =>
            {
                let reason = match e.bus {
                    "32" | "33" => "VRH",
                    "04" => "OVL",
                    "05" => "DET",
                    b if sim_is_wsi(b) => "UIT",
                    _ => "VTB",
                };
                (e.month, reason)
            }
            _ if r.bernoulli(0.18) && p.planned_months > 1 => (
                p.month
                    .plus(r.range(0, i64::from(p.planned_months) - 2) as i32),
                "VTB",
            ),
            _ => (planned_end_month, "AFG"),
        };
        let (end, end_reason) = if end_month > cfg.to {
            (None, None)
        } else {
            (Some(day_in(&mut r, end_month, Some(start))), Some(reason))
        };
        if reason == "AFG" && end.is_some() {
            for &c in t.teaches {
                competences[p.member] |= 1 << c;
            }
        }
        let months = f64::from(end_month.since(p.month).max(0) + 1);
        let cost = (!r.bernoulli(0.08)).then(|| {
            ((t.monthly_cost * months * (0.8 + 0.4 * r.uniform())) * 100.0).round() / 100.0
        });
        let note = if r.bernoulli(0.04) {
            (*r.pick(&[
                "Gestart na intake, vervolgafspraak gepland",
                "Cliënt gaf aan: \"liever praktijk\"",
                "Voortgang besproken\nverlengd met 1 maand",
                "Aanbieder gewisseld, zie dossier",
            ]))
            .to_string()
        } else {
            String::new()
        };
        out.push(ProvisionRecord {
            member: p.member,
            type_index: p.type_index,
            start,
            end,
            end_reason,
            cost,
            first_of_group: p.first_of_group,
            note,
        });
    }
}

fn sim_is_wsi(bus: &str) -> bool {
    inzicht_domain::codes::bus_end_reason(bus).is_some_and(|r| r.class.is_wsi())
}

/// Rating categories of work skills, from a latent score.
fn rating(x: f64) -> &'static str {
    if x < -0.5 {
        "belemmering"
    } else if x > 0.7 {
        "sterk punt"
    } else {
        "geen belemmering"
    }
}

fn obstacle(x: f64) -> &'static str {
    if x > 1.0 {
        "ernstig"
    } else if x > 0.3 {
        "licht"
    } else {
        "geen"
    }
}

/// Assessments at intake and about yearly while the spell runs; fields filled unevenly.
fn assessments_of(
    cfg: &Config,
    h: &Household,
    uid: u64,
    start: Month,
    end: Month,
    out: &mut Vec<AssessmentRecord>,
) {
    for (k, p) in h.members.iter().enumerate() {
        let mut r = Rng::keyed(cfg.seed, &[TAG_ASSESS, uid, k as u64]);
        let mut m = if start < cfg.from {
            cfg.from.plus(r.range(0, 11) as i32)
        } else {
            start.plus(r.range(0, 2) as i32)
        };
        let mut first = true;
        while m <= end {
            let p_do = if first {
                if m.year() < 2015 {
                    0.55
                } else {
                    0.85
                }
            } else {
                0.6
            };
            if r.bernoulli(p_do) {
                let date = day_in(&mut r, m, None);
                out.push(AssessmentRecord {
                    member: k,
                    date,
                    values: assessment_values(&mut r, p, h, m),
                });
            }
            first = false;
            m = m.plus(10 + r.range(0, 4) as i32);
        }
    }
}

/// Column names of the assessment file after `bsn,datum` (the last is the consultant's code).
pub const ASSESSMENT_COLUMNS: &[&str] = &[
    "trede",
    "loonwaarde",
    "ontheffing_arbeidsplicht",
    "reden_ontheffing",
    "belemmering_gezondheid",
    "belemmering_psychisch",
    "belemmering_schulden",
    "belemmering_zorgtaken",
    "belemmering_taal",
    "belemmering_verslaving",
    "belemmering_huisvesting",
    "doelgroepregister",
    "arbeidsvermogen",
    "motivatie",
    "zelfredzaamheid",
    "digitale_vaardigheden",
    "sociaal_netwerk",
    "werktempo",
    "omgaan_met_druk",
    "samenwerken",
    "zelfstandigheid",
    "communicatie",
    "afspraken_nakomen",
    "aanpassingsvermogen",
    "fysieke_belastbaarheid",
    "uren_beschikbaar",
    "kinderopvang_geregeld",
    "consulent",
];

fn assessment_values(r: &mut Rng, p: &Person, h: &Household, m: Month) -> Vec<String> {
    let old = m.year() < 2016;
    let fill = |r: &mut Rng, rate: f64| r.bernoulli(if old { rate * 0.7 } else { rate });
    let s = |x: &str| x.to_string();
    let mut v: Vec<String> = Vec::with_capacity(ASSESSMENT_COLUMNS.len());
    // Recorded trede: the assessor's view, off by one step now and then.
    let trede = (i32::from(p.trede)
        + if r.bernoulli(0.2) {
            if r.bernoulli(0.5) {
                1
            } else {
                -1
            }
        } else {
            0
        })
    .clamp(1, 6);
    v.push(if fill(r, 0.9) {
        trede.to_string()
    } else {
        String::new()
    });
    v.push(if p.loonwaarde < 100 && fill(r, 0.8) {
        ((f64::from(p.loonwaarde) + 5.0 * r.normal())
            .clamp(10.0, 99.0)
            .round() as u32)
            .to_string()
    } else {
        String::new()
    });
    let young_children = h
        .youngest_child_birth
        .is_some_and(|b| m.year() - b.year < 5)
        && !h.is_couple();
    let exempt = (young_children && r.bernoulli(0.6)) || (p.health > 1.3 && r.bernoulli(0.5));
    let has_exempt = fill(r, 0.85);
    v.push(if has_exempt {
        s(if exempt { "ja" } else { "nee" })
    } else {
        String::new()
    });
    v.push(if has_exempt && exempt {
        s(if young_children {
            "zorgtaken"
        } else {
            "medisch"
        })
    } else {
        String::new()
    });
    let obstacles_filled = fill(r, 0.65);
    let ob = |r: &mut Rng, x: f64| {
        if obstacles_filled {
            s(obstacle(x + 0.3 * r.normal()))
        } else {
            String::new()
        }
    };
    v.push(ob(r, p.health));
    v.push(ob(r, p.health * 0.7 - p.social * 0.3));
    v.push(ob(r, if p.debts { 1.2 } else { -0.5 }));
    v.push(ob(
        r,
        if h.children > 0 && !h.is_couple() {
            0.9
        } else {
            -0.5
        },
    ));
    v.push(ob(
        r,
        if p.language <= 2 {
            1.2
        } else if p.language == 3 {
            0.5
        } else {
            -0.5
        },
    ));
    v.push(ob(r, if p.addiction { 1.1 } else { -0.8 }));
    v.push(ob(r, if p.housing_problem { 1.1 } else { -0.6 }));
    v.push(if fill(r, 0.5) {
        s(if p.loonwaarde < 100 { "ja" } else { "nee" })
    } else {
        String::new()
    });
    v.push(if fill(r, 0.5) {
        s(if p.trede >= 3 || p.loonwaarde < 100 {
            "ja"
        } else {
            "nee"
        })
    } else {
        String::new()
    });
    v.push(if fill(r, 0.45) {
        ((3.0 + p.motivation + 0.6 * r.normal())
            .round()
            .clamp(1.0, 5.0) as u8)
            .to_string()
    } else {
        String::new()
    });
    v.push(if fill(r, 0.55) {
        ((3.0 - 0.8 * p.health + 0.5 * p.social + 0.5 * r.normal())
            .round()
            .clamp(1.0, 5.0) as u8)
            .to_string()
    } else {
        String::new()
    });
    v.push(if fill(r, 0.5) {
        let x = 0.5 * p.skill + 0.3 * f64::from(p.education.unwrap_or(1) as u8) - 0.3
            + 0.5 * r.normal();
        s(if x < 0.0 {
            "laag"
        } else if x < 1.0 {
            "gemiddeld"
        } else {
            "hoog"
        })
    } else {
        String::new()
    });
    v.push(if fill(r, 0.4) {
        let x = p.social + 0.5 * r.normal();
        s(if x < -0.5 {
            "klein"
        } else if x < 0.6 {
            "gemiddeld"
        } else {
            "groot"
        })
    } else {
        String::new()
    });
    // The work-skills module (WeenerXL-like): filled as a block or not at all.
    let skills_filled = fill(r, 0.5);
    for shift in [0.0, -0.1, 0.1, 0.0, 0.05, -0.05, 0.15, 0.0] {
        v.push(if skills_filled {
            s(rating(p.skill + shift + 0.45 * r.normal()))
        } else {
            String::new()
        });
    }
    v.push(if fill(r, 0.6) {
        p.hours_available.to_string()
    } else {
        String::new()
    });
    v.push(if h.children > 0 && fill(r, 0.7) {
        s(if r.bernoulli(0.6) { "ja" } else { "nee" })
    } else {
        String::new()
    });
    v.push(format!("C{:03}", r.range(1, 60)));
    v
}

/// True W/S/I categories of local end-reason codes (used by the summary).
pub fn local_end_is_wsi(local: &str) -> bool {
    END_REASONS
        .iter()
        .find(|r| r.0 == local)
        .is_some_and(|r| sim_is_wsi(r.2))
}

/// Groups used by a provision type index.
pub fn group_of(cat: &Catalogue, type_index: usize) -> usize {
    cat.types[type_index].group
}

/// Number of provision groups (re-exported for the writer).
pub const GROUPS: usize = N_GROUPS;

/// Occupation title by index (re-exported for the writer).
pub fn occupation_title(i: usize) -> &'static str {
    OCCUPATIONS[i].title
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{resume, simulate};

    /// Resuming at a provision's month from the factual prefix reproduces the factual run: the
    /// shortcut the truth uses for its counterfactuals changes nothing but speed.
    #[test]
    fn resuming_reproduces_the_factual_run() {
        let cfg = Config::new(11, 100);
        let types = crate::catalogue::provision_types();
        let cat = Catalogue::new(&types);
        let geo = crate::geo::build(cfg.seed);
        let mut checked = 0;
        for index in 0..300 {
            let out = generate(&cfg, &cat, &geo, index, 2);
            let h = &out.household;
            let start = h.first_start;
            let sim_from = start.max(cfg.from);
            let opts = SimOptions {
                moving: true,
                suppress: None,
                stop: cfg.to.plus(24),
                recorded: None,
            };
            let factual = simulate(
                cfg.seed,
                h,
                u64::from(index) << 8,
                start,
                sim_from,
                &opts,
                &cat,
            );
            for p in factual.provisions.iter().filter(|p| p.first_of_group) {
                let before: Vec<_> = factual
                    .provisions
                    .iter()
                    .filter(|q| q.month < p.month)
                    .cloned()
                    .collect();
                let again = resume(
                    cfg.seed,
                    h,
                    u64::from(index) << 8,
                    start,
                    p.month,
                    &before,
                    &opts,
                    &cat,
                );
                assert_eq!(again.exit, factual.exit, "household {index}");
                assert_eq!(again.provisions.len(), factual.provisions.len());
                checked += 1;
            }
        }
        assert!(checked > 100, "only {checked} provisions checked");
    }

    /// Suppressing a provision start leaves everything before it unchanged and removes exactly
    /// that start (common random numbers).
    #[test]
    fn suppression_changes_only_what_follows() {
        let cfg = Config::new(5, 100);
        let types = crate::catalogue::provision_types();
        let cat = Catalogue::new(&types);
        let geo = crate::geo::build(cfg.seed);
        for index in 0..200 {
            let out = generate(&cfg, &cat, &geo, index, 2);
            let h = &out.household;
            let start = h.first_start;
            let opts = SimOptions {
                moving: true,
                suppress: None,
                stop: cfg.to.plus(24),
                recorded: None,
            };
            let factual = simulate(
                cfg.seed,
                h,
                u64::from(index) << 8,
                start,
                start.max(cfg.from),
                &opts,
                &cat,
            );
            if let Some(p) = factual.provisions.iter().find(|p| p.first_of_group) {
                let suppress = Some(Suppress {
                    member: p.member,
                    group: p.group,
                    month: p.month,
                });
                let cf = simulate(
                    cfg.seed,
                    h,
                    u64::from(index) << 8,
                    start,
                    start.max(cfg.from),
                    &SimOptions { suppress, ..opts },
                    &cat,
                );
                let prefix = |t: &Trajectory| {
                    t.provisions
                        .iter()
                        .filter(|q| q.month < p.month)
                        .map(|q| (q.member, q.group, q.month))
                        .collect::<Vec<_>>()
                };
                assert_eq!(prefix(&factual), prefix(&cf));
                assert!(!cf
                    .provisions
                    .iter()
                    .any(|q| q.month == p.month && q.group == p.group && q.member == p.member));
            }
        }
    }
}
