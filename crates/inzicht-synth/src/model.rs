//! The population model: latent client types, person characteristics, and the hazards and
//! consultant behaviour that drive the simulation. Every coefficient that the truth reports is
//! defined here, in one place.
//!
//! Time is discrete in calendar months. For member `k` of a household in month `m` of a spell with
//! duration `d` (months since the spell started), the monthly hazard of leaving benefit for work,
//! school or income (W/S/I) is
//!
//! ```text
//! h_k(m) = exp( η_k + α(d) + π(m) + a(age_k(m)) + Σ_g θ_kg(m) )
//! ```
//!
//! where `η_k` is the member's time-fixed prognosis, `α` the duration dependence, `π` the labour
//! market of that year, `a` the age effect, and `θ_kg` the causal effect of a provision of group
//! `g` that the member started before month `m` (zero otherwise). The household leaves with
//! probability `1 − exp(−Σ_k h_k(m))`. Competing exits and moving away have their own monthly
//! probabilities; the AOW age ends a spell deterministically.

use crate::catalogue::{Target, N_GROUPS, OCCUPATIONS, ORIGINS, SECTORS};
use crate::rng::Rng;
use inzicht_domain::{Date, Month};

/// The latent client types a cluster analysis should recover (seed 004's clusters).
pub const LATENT_TYPES: &[(&str, &str)] = &[
    (
        "kwetsbaar",
        "Scoort overal laag: gezondheid, schulden, lage trede",
    ),
    ("jong_sterk", "Jong en scoort overal hoog"),
    ("ervaren_ouder", "Ouder, veel werkervaring, scoort hoog"),
    ("nieuwkomer", "Nieuwkomer met taalachterstand"),
    ("zorgtaken", "Alleenstaande ouder met zorgtaken"),
];
const TYPE_SHARES: [f64; 5] = [0.25, 0.18, 0.17, 0.18, 0.22];

/// Means of the latent factors (skill, health burden, motivation, social/language) per type.
const TYPE_MEANS: [[f64; 4]; 5] = [
    [-1.1, 1.1, -0.5, -0.8],
    [0.9, -0.7, 0.6, 0.6],
    [0.7, 0.3, 0.3, 0.4],
    [-0.1, 0.0, 0.5, -1.0],
    [0.0, -0.1, 0.0, 0.1],
];

#[derive(Debug, Clone)]
pub struct Person {
    pub index: u32,
    pub bsn: u32,
    pub latent_type: usize,
    pub female: bool,
    pub birth: Date,
    pub origin: usize,
    /// Index into `EDUCATION_LEVELS`, `None` for a foreign diploma that was never valued.
    pub education: Option<usize>,
    pub diploma: bool,
    /// Dutch language level: 0 = A0 … 5 = C1.
    pub language: usize,
    pub skill: f64,
    pub health: f64,
    pub motivation: f64,
    pub social: f64,
    pub debts: bool,
    pub addiction: bool,
    pub housing_problem: bool,
    /// True participatieladder step (1–6) as a qualified assessor would set it.
    pub trede: u8,
    /// True loonwaarde (% of normal productivity); 100 for those without a work limitation.
    pub loonwaarde: u8,
    pub licence: bool,
    pub own_transport: bool,
    pub refugee: bool,
    pub hours_available: u8,
    pub max_travel_km: u8,
    /// Occupation indices of past work, most recent first.
    pub experience: Vec<(usize, f64)>,
    pub desired_occupation: Option<usize>,
    /// Bit mask over `SECTORS`.
    pub interests: u32,
    /// True competences before any provision (bit mask over `COMPETENCES`).
    pub competences: u64,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub buurt: usize,
    pub postcode_index: usize,
    pub house_number: u16,
    pub house_letter: Option<char>,
    /// Time-fixed part of the W/S/I log-hazard (see the module comment).
    pub eta: f64,
    /// Prognosis a consultant perceives: drives which provisions are offered (the confounding).
    pub perceived_prognosis: f64,
}

#[derive(Debug, Clone)]
pub struct Household {
    pub index: u32,
    pub members: Vec<Person>,
    pub children: u8,
    pub youngest_child_birth: Option<Date>,
    pub shares_costs: bool,
    /// First month of the first spell, and whether the household was already on benefit when
    /// the data begins (a prevalent spell, left-truncated).
    pub first_start: Month,
    pub prevalent: bool,
}

impl Household {
    pub fn main(&self) -> &Person {
        &self.members[0]
    }
    pub fn is_couple(&self) -> bool {
        self.members.len() > 1
    }
    /// `alleenstaand`, `alleenstaande ouder`, `paar zonder kinderen`, `paar met kinderen`.
    pub fn household_type(&self) -> &'static str {
        match (self.is_couple(), self.children > 0) {
            (false, false) => "alleenstaand",
            (false, true) => "alleenstaande ouder",
            (true, false) => "paar zonder kinderen",
            (true, true) => "paar met kinderen",
        }
    }
}

/// Age bands used for subgroup effects (issue 5: "age band").
pub const AGE_BANDS: &[&str] = &["18-26", "27-39", "40-54", "55+"];

pub fn age_band(age: i32) -> usize {
    match age {
        i32::MIN..=26 => 0,
        27..=39 => 1,
        40..=54 => 2,
        _ => 3,
    }
}

/// Age in whole years at the start of month `m`.
pub fn age_at(p: &Person, m: Month) -> i32 {
    p.birth.age_on(m.first_day())
}

/// Duration dependence α(d) of the W/S/I hazard: chances fall the longer someone is on benefit.
pub fn duration_effect(d: i32) -> f64 {
    match d {
        i32::MIN..=5 => 0.0,
        6..=11 => -0.3,
        12..=23 => -2.0,
        24..=47 => -3.4,
        48..=95 => -4.1,
        _ => -4.3,
    }
}

/// Labour market π(m) by calendar year (crisis years, covid, the tight market after 2021).
pub fn period_effect(m: Month) -> f64 {
    match m.year() {
        i32::MIN..=2013 => -0.2,
        2014..=2015 => -0.1,
        2016..=2019 => 0.05,
        2020 => -0.35,
        _ => 0.15,
    }
}

/// Age effect a(age) on the W/S/I hazard.
pub fn age_effect(age: i32) -> f64 {
    match age {
        i32::MIN..=26 => 0.25,
        27..=44 => 0.0,
        45..=54 => -0.3,
        _ => -0.8,
    }
}

/// Intercept of the W/S/I log-hazard, calibrated to the figures of shared/domain.md §1.
pub const BASE_LOG_HAZARD: f64 = -3.38;

/// Coefficients of the time-fixed prognosis η.
pub const COEF_SKILL: f64 = 0.55;
pub const COEF_HEALTH: f64 = -0.4;
pub const COEF_MOTIVATION: f64 = 0.35;
pub const COEF_SOCIAL: f64 = 0.2;
pub const COEF_LOW_LANGUAGE: f64 = -0.3;
pub const COEF_YOUNG_CHILD_SINGLE: f64 = -0.5;

/// The true causal effect θ of a provision group on the W/S/I log-hazard for one client, by
/// group, age band and trede at the start of the provision. `in_progress` says whether the
/// provision is still running (planned duration): training has a lock-in effect while it runs
/// (van Ours 2004, "The locking-in effect of subsidized jobs").
pub fn provision_effect(group: usize, band: usize, trede: u8, in_progress: bool) -> f64 {
    match group {
        // Diagnose en activering: no effect on average, helps those far from work.
        0 => {
            if trede <= 2 {
                0.25
            } else {
                -0.05
            }
        }
        // Scholing: lock-in while the course runs, then a gain, larger for the young.
        1 => {
            if in_progress {
                -0.35
            } else {
                0.25 + if band == 0 { 0.2 } else { 0.0 }
            }
        }
        // Werkervaring: helps the young most, hardly helps those over 55.
        2 => 0.3 + [0.25, 0.0, 0.0, -0.25][band],
        // Begeleiding naar werk: helps those close to the labour market.
        3 => 0.35 + if trede >= 4 { 0.2 } else { -0.1 },
        // Loonkostensubsidie: large, larger for those with a lower step.
        _ => 0.55 + if trede <= 3 { 0.25 } else { 0.0 },
    }
}

/// Monthly base rate of starting a provision of each group, and how strongly the consultant's
/// perceived prognosis steers it (positive: given to clients with better prospects).
pub const PROVISION_BASE: [f64; N_GROUPS] = [0.0085, 0.012, 0.009, 0.013, 0.006];
pub const PROVISION_SELECTION: [f64; N_GROUPS] = [-2.0, 0.0, 0.6, 1.4, 1.5];

/// What the synthetic consultants decide on when they offer a provision: the confounding the
/// analyses must remove (`inzicht synth --confounding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Confounding {
    /// On a prognosis they perceive from the latent skill, health and motivation, and on the
    /// true participatieladder step and loonwaarde. The recorded assessments measure these with
    /// error, so confounding remains after matching on everything recorded: the realistic case,
    /// and the default.
    #[default]
    Latent,
    /// Only on what the file records before that month — assessment items as last recorded
    /// (carried forward), the month of the spell, age and calendar year — plus chance that
    /// has nothing to do with the outcome. This is "selection on observables", the assumption
    /// under which risk-set matching is unbiased: the scenario to check that the matched
    /// intervals cover the truth (issue 5).
    Recorded,
}

impl Confounding {
    pub fn name(self) -> &'static str {
        match self {
            Confounding::Latent => "latent",
            Confounding::Recorded => "recorded",
        }
    }
}

/// Assessment items a consultant reads from one recorded assessment (None = field empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordedItems {
    pub trede: Option<u8>,
    pub loonwaarde: Option<u8>,
    /// `belemmering_gezondheid` and `belemmering_taal`: 0 geen, 1 licht, 2 ernstig.
    pub health_obstacle: Option<u8>,
    pub language_obstacle: Option<u8>,
    /// 1–5.
    pub motivation: Option<u8>,
    pub self_reliance: Option<u8>,
    /// `digitale_vaardigheden`: 0 laag, 1 gemiddeld, 2 hoog.
    pub digital: Option<u8>,
}

impl RecordedItems {
    /// From an assessment row's values, in the order of `household::ASSESSMENT_COLUMNS`.
    pub fn from_values(v: &[String]) -> Self {
        let num = |i: usize| v.get(i).and_then(|s| s.trim().parse::<u8>().ok());
        let level = |i: usize, levels: &[&str]| {
            v.get(i)
                .and_then(|s| levels.iter().position(|l| l.eq_ignore_ascii_case(s.trim())))
                .map(|k| k as u8)
        };
        RecordedItems {
            trede: num(0),
            loonwaarde: num(1),
            health_obstacle: level(4, &["geen", "licht", "ernstig"]),
            language_obstacle: level(8, &["geen", "licht", "ernstig"]),
            motivation: num(13),
            self_reliance: num(14),
            digital: level(15, &["laag", "gemiddeld", "hoog"]),
        }
    }

    /// Each item as last recorded in the assessments before month `m` (last observation
    /// carried forward per item, as the analyses read the file): `history` is sorted by month.
    pub fn known_before(history: &[(Month, RecordedItems)], m: Month) -> Self {
        let mut v = RecordedItems::default();
        for (_, r) in history.iter().take_while(|(month, _)| *month < m) {
            v.trede = r.trede.or(v.trede);
            v.loonwaarde = r.loonwaarde.or(v.loonwaarde);
            v.health_obstacle = r.health_obstacle.or(v.health_obstacle);
            v.language_obstacle = r.language_obstacle.or(v.language_obstacle);
            v.motivation = r.motivation.or(v.motivation);
            v.self_reliance = r.self_reliance.or(v.self_reliance);
            v.digital = r.digital.or(v.digital);
        }
        v
    }

    /// The prognosis a consultant reads from the file: a linear score of the recorded items,
    /// an empty item counting as 0 (its spread is about that of `perceived_prognosis`).
    pub fn prognosis(&self) -> f64 {
        let f = |x: Option<u8>, centre: f64, coef: f64| {
            x.map_or(0.0, |x| coef * (f64::from(x) - centre))
        };
        f(self.trede, 3.5, 0.25)
            + f(self.motivation, 3.0, 0.2)
            + f(self.self_reliance, 3.0, 0.2)
            + f(self.health_obstacle, 0.0, -0.3)
            + f(self.digital, 1.0, 0.25)
    }
}

/// Probability that member `p` starts a provision of group `g` in month `m`, duration `d`.
pub fn provision_start_probability(
    p: &Person,
    g: usize,
    m: Month,
    d: i32,
    household_children: u8,
) -> f64 {
    let age = age_at(p, m);
    let mut lp = PROVISION_SELECTION[g] * p.perceived_prognosis;
    group_targeting(
        &mut lp,
        g,
        d,
        age,
        p.language <= 2,
        p.trede >= 4,
        p.loonwaarde < 100,
    );
    if household_children > 0 && p.latent_type == 4 {
        lp -= 0.3;
    }
    timing_and_budget(lp, g, m, d)
}

/// As [`provision_start_probability`] under [`Confounding::Recorded`]: the same targeting, on
/// the file's view of the client instead of the truth.
pub fn provision_start_probability_recorded(
    p: &Person,
    view: &RecordedItems,
    g: usize,
    m: Month,
    d: i32,
) -> f64 {
    let age = age_at(p, m);
    let mut lp = PROVISION_SELECTION[g] * view.prognosis();
    group_targeting(
        &mut lp,
        g,
        d,
        age,
        view.language_obstacle.is_some_and(|l| l >= 1),
        view.trede.is_some_and(|t| t >= 4),
        view.loonwaarde.is_some(),
    );
    timing_and_budget(lp, g, m, d)
}

/// Which clients each group is meant for (added to the log-odds in place).
fn group_targeting(
    lp: &mut f64,
    g: usize,
    d: i32,
    age: i32,
    low_language: bool,
    trede_4_plus: bool,
    limited: bool,
) {
    match g {
        0 => *lp += if d < 6 { 0.6 } else { 0.0 },
        1 => {
            *lp += if low_language { 1.0 } else { 0.0 };
            *lp += if age < 27 { 0.4 } else { 0.0 };
        }
        2 => {
            *lp += if age < 27 {
                0.4
            } else if age >= 55 {
                -0.6
            } else {
                0.0
            }
        }
        3 => *lp += if trede_4_plus { 0.4 } else { -0.3 },
        _ => *lp += if limited { 1.4 } else { -0.4 },
    }
}

fn timing_and_budget(mut lp: f64, g: usize, m: Month, d: i32) -> f64 {
    // Consultants work most with new clients; long-term clients get few offers.
    lp += match d {
        i32::MIN..=11 => 0.8,
        12..=35 => 0.0,
        36..=71 => -0.8,
        _ => -1.5,
    };
    // Budget: re-integration budgets were cut in 2015 and grew again after 2019.
    lp += match m.year() {
        i32::MIN..=2014 => 0.1,
        2015..=2018 => -0.15,
        _ => 0.1,
    };
    (PROVISION_BASE[g] * lp.exp()).min(0.5)
}

/// Overall scale of the competing-exit probabilities, calibrated to shared/domain.md §1.
pub const COMPETING_SCALE: f64 = 0.2;

/// Competing (non-W/S/I, non-moving) exits: BUS code and monthly probability.
pub fn competing_exits(p: &Person, couple: bool, m: Month) -> [(&'static str, f64); 9] {
    let age = age_at(p, m);
    let s = COMPETING_SCALE;
    let single_young = !couple && age < 45;
    [
        ("02", s * if single_young { 0.0018 } else { 0.0005 }),
        (
            "04",
            s * 0.00012 * (0.085 * (f64::from(age) - 40.0)).exp() * (1.0 + 0.5 * p.health.max(0.0)),
        ),
        ("05", s * if p.female { 0.00004 } else { 0.00025 }),
        ("06", s * if age < 27 { 0.0007 } else { 0.0 }),
        (
            "07",
            s * if ORIGINS[p.origin].2 == "geen" {
                0.00003
            } else {
                0.00015
            },
        ),
        (
            "31",
            s * 0.0009 + s * if p.motivation < -0.5 { 0.0007 } else { 0.0 },
        ),
        ("34", s * 0.0005),
        (
            "35",
            s * 0.0004 + s * if p.motivation < -0.5 { 0.0005 } else { 0.0 },
        ),
        ("98", s * 0.0008),
    ]
}

/// Monthly probability of moving away (BUS 32 another municipality, 33 abroad).
pub fn moving_probability(p: &Person) -> (f64, f64) {
    let abroad = if ORIGINS[p.origin].2 == "geen" {
        0.00003
    } else {
        0.00015
    };
    (0.0004, abroad)
}

/// Share of W/S/I exits by BUS code for a member, given age, health and recent work.
pub fn wsi_reason_weights(p: &Person, age: i32) -> [(&'static str, f64); 8] {
    let recent_work = p.experience.first().is_some_and(|e| e.1 > 1.0);
    [
        (
            "01",
            if age < 30 && p.education.is_some_and(|e| e >= 2) {
                0.14
            } else {
                0.01
            },
        ),
        ("11", 0.68),
        ("13", 0.05),
        ("14", if recent_work { 0.05 } else { 0.01 }),
        ("15", if p.health > 0.8 { 0.06 } else { 0.01 }),
        ("17", if p.female { 0.02 } else { 0.003 }),
        ("18", 0.01),
        ("19", 0.03),
    ]
}

/// Which type a consultant picks within a group: target fit times availability.
pub fn type_weight(p: &Person, target: Target, age: i32) -> f64 {
    match target {
        Target::Anyone => 1.0,
        Target::Language => {
            if p.language <= 2 {
                6.0
            } else {
                0.1
            }
        }
        Target::Young => {
            if age < 27 {
                4.0
            } else {
                0.4
            }
        }
        Target::Health => {
            if p.health > 0.5 {
                4.0
            } else {
                0.3
            }
        }
        Target::Limited => {
            if p.loonwaarde < 100 || p.trede <= 2 {
                4.0
            } else {
                0.3
            }
        }
    }
}

/// Latent type, chosen with the population shares and nudged by the buurt's deprivation.
pub fn draw_type(rng: &mut Rng, deprivation: f64) -> usize {
    let mut w = TYPE_SHARES;
    w[0] *= 0.6 + 0.8 * deprivation;
    w[3] *= 0.7 + 0.6 * deprivation;
    rng.weighted(&w)
}

/// Draws a person of the given type and age range (in whole years on `reference`).
pub fn draw_person(
    rng: &mut Rng,
    index: u32,
    latent_type: usize,
    age: i32,
    reference: Date,
    buurt: usize,
    n_postcodes: usize,
) -> Person {
    let t = latent_type;
    let mean = TYPE_MEANS[t];
    let skill = mean[0] + 0.6 * rng.normal();
    let health = mean[1] + 0.6 * rng.normal();
    let motivation = mean[2] + 0.7 * rng.normal();
    let social = mean[3] + 0.6 * rng.normal();
    let female = match t {
        4 => rng.bernoulli(0.88),
        3 => rng.bernoulli(0.4),
        _ => rng.bernoulli(0.47),
    };
    let by = reference.year - age;
    let birth = Date::new(by, rng.range(1, 12) as u32, 1).unwrap_or(reference);
    let birth = Date::new(
        birth.year,
        birth.month,
        rng.range(
            1,
            inzicht_domain::date::days_in_month(birth.year, birth.month) as i64,
        ) as u32,
    )
    .unwrap_or(birth);
    let origin = match t {
        3 => *rng.pick(&[6, 6, 7, 7, 10, 11, 4, 5]),
        0 => rng.weighted(&[6.0, 1.0, 0.8, 0.8, 0.6, 0.6, 0.1, 0.1, 0.3, 0.2, 0.1, 0.1]),
        _ => rng.weighted(&[6.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.3, 0.2, 0.4, 0.2, 0.1, 0.1]),
    };
    let refugee = t == 3
        || (ORIGINS[origin].0 != "Nederlandse"
            && rng.bernoulli(0.1)
            && [6, 7, 10, 11].contains(&origin));
    let edu_weights: [f64; 8] = match t {
        0 => [3.0, 4.0, 4.0, 2.0, 1.5, 0.3, 0.1, 0.05],
        1 => [0.1, 0.3, 1.5, 1.0, 4.0, 2.0, 1.5, 0.5],
        2 => [0.3, 1.5, 3.0, 1.0, 3.0, 1.0, 1.0, 0.3],
        3 => [2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5],
        _ => [0.5, 1.5, 3.0, 1.5, 3.0, 1.0, 0.5, 0.2],
    };
    let education = if t == 3 && rng.bernoulli(0.45) {
        None
    } else {
        Some(rng.weighted(&edu_weights))
    };
    let diploma = education.is_some_and(|e| e >= 4 || (e >= 2 && rng.bernoulli(0.6)));
    let language = if ORIGINS[origin].1 == "Nederland"
        || (ORIGINS[origin].0 == "Nederlandse" && rng.bernoulli(0.8))
    {
        if rng.bernoulli(0.9) {
            5
        } else {
            4
        }
    } else if t == 3 {
        rng.weighted(&[2.0, 3.0, 3.0, 1.5, 0.5, 0.1])
    } else {
        rng.weighted(&[0.3, 0.8, 1.5, 2.0, 2.0, 2.0])
    };
    let trede_raw = 3.0 + 1.0 * skill - 0.7 * health + 0.5 * social + 0.6 * rng.normal();
    let trede = trede_raw.round().clamp(1.0, 5.0) as u8;
    let limited = skill < -0.7 && health > 0.3 && rng.bernoulli(0.7) || rng.bernoulli(0.03);
    let loonwaarde = if limited {
        (60.0 + 20.0 * (skill + 1.0) + 8.0 * rng.normal()).clamp(20.0, 95.0) as u8
    } else {
        100
    };
    let debts = rng.bernoulli([0.6, 0.12, 0.2, 0.25, 0.35][t]);
    let addiction = rng.bernoulli([0.2, 0.03, 0.05, 0.02, 0.02][t]);
    let housing_problem = rng.bernoulli([0.15, 0.08, 0.03, 0.2, 0.06][t]);
    let licence = rng.bernoulli([0.25, 0.55, 0.7, 0.15, 0.45][t]);
    let own_transport = licence && rng.bernoulli(0.6);
    let hours_available = match t {
        4 => *rng.pick(&[12u8, 16, 20, 24, 24, 32]),
        0 => *rng.pick(&[8u8, 12, 16, 20, 24, 32]),
        _ => *rng.pick(&[24u8, 32, 36, 38, 40, 40]),
    };
    let max_travel_km = if own_transport {
        rng.range(10, 40) as u8
    } else {
        rng.range(3, 15) as u8
    };
    // Work history: 0–3 past occupations; older and stronger clients have more.
    let n_exp = match t {
        1 => rng.weighted(&[0.4, 0.5, 0.1, 0.0]),
        2 => rng.weighted(&[0.05, 0.3, 0.4, 0.25]),
        0 => rng.weighted(&[0.5, 0.4, 0.1, 0.0]),
        3 => rng.weighted(&[0.6, 0.35, 0.05, 0.0]),
        _ => rng.weighted(&[0.3, 0.5, 0.2, 0.0]),
    };
    let mut experience = Vec::with_capacity(n_exp);
    let mut competences = 0u64;
    for _ in 0..n_exp {
        let occ = draw_occupation(rng, t);
        if experience.iter().any(|(o, _)| *o == occ) {
            continue;
        }
        let years =
            (0.5 + rng.uniform() * f64::from((age - 17).clamp(1, 25)) / 2.0 * 10.0).round() / 10.0;
        experience.push((occ, years));
        for &c in OCCUPATIONS[occ].competences {
            if rng.bernoulli(0.85) {
                competences |= 1 << c;
            }
        }
    }
    // Transversal work skills follow the latent skill.
    for c in crate::catalogue::WORK_SKILLS_FIRST..crate::catalogue::COMPETENCES.len() {
        if skill + 0.8 * rng.normal() > 0.3 {
            competences |= 1 << c;
        }
    }
    if language >= 4 {
        competences |= 1 << 2;
    }
    let mut interests = 0u32;
    for (o, _) in &experience {
        if rng.bernoulli(0.6) {
            interests |= 1 << sector_index(OCCUPATIONS[*o].sector);
        }
    }
    for _ in 0..rng.range(1, 2) {
        interests |= 1 << rng.index(SECTORS.len());
    }
    let desired_occupation = if rng.bernoulli(0.8) {
        match experience.first() {
            Some((o, _)) if rng.bernoulli(0.6) => Some(*o),
            _ => Some(draw_occupation(rng, t)),
        }
    } else {
        None
    };
    let names_f = crate::catalogue::FIRST_NAMES_F;
    let names_m = crate::catalogue::FIRST_NAMES_M;
    let first_name = if female {
        *rng.pick(names_f)
    } else {
        *rng.pick(names_m)
    };
    let last_name = *rng.pick(crate::catalogue::LAST_NAMES);
    let young_child = false;
    let eta = BASE_LOG_HAZARD
        + COEF_SKILL * skill
        + COEF_HEALTH * health
        + COEF_MOTIVATION * motivation
        + COEF_SOCIAL * social
        + if language <= 2 {
            COEF_LOW_LANGUAGE
        } else {
            0.0
        }
        + if young_child {
            COEF_YOUNG_CHILD_SINGLE
        } else {
            0.0
        };
    // The consultant sees skill, health and motivation imperfectly (and no better than the
    // recorded assessments do): the part of η they act on, plus noise.
    let perceived_prognosis = COEF_SKILL * skill
        + COEF_HEALTH * health
        + 0.5 * COEF_MOTIVATION * motivation
        + 0.25 * rng.normal();
    Person {
        index,
        bsn: 0,
        latent_type: t,
        female,
        birth,
        origin,
        education,
        diploma,
        language,
        skill,
        health,
        motivation,
        social,
        debts,
        addiction,
        housing_problem,
        trede,
        loonwaarde,
        licence,
        own_transport,
        refugee,
        hours_available,
        max_travel_km,
        experience,
        desired_occupation,
        interests,
        competences,
        first_name,
        last_name,
        buurt,
        postcode_index: rng.index(n_postcodes.max(1)),
        house_number: rng.range(1, 180) as u16,
        house_letter: if rng.bernoulli(0.08) {
            Some(*rng.pick(&['A', 'B', 'C']))
        } else {
            None
        },
        eta,
        perceived_prognosis,
    }
}

pub fn sector_index(sector: &str) -> usize {
    SECTORS.iter().position(|s| *s == sector).unwrap_or(0)
}

/// An occupation typical for a latent type (entry-level work for most bijstand clients).
pub fn draw_occupation(rng: &mut Rng, t: usize) -> usize {
    let n = OCCUPATIONS.len();
    let weights: Vec<f64> = OCCUPATIONS
        .iter()
        .map(|o| {
            let base = match o.min_education {
                0 | 1 => 3.0,
                2 => 2.0,
                3 => 1.0,
                _ => 0.5,
            };
            let fit = match (t, o.sector) {
                (4, "zorg" | "onderwijs" | "schoonmaak" | "detailhandel") => 3.0,
                (1, "detailhandel" | "horeca" | "logistiek" | "klantcontact" | "administratie") => {
                    2.0
                }
                (2, "techniek" | "bouw" | "productie" | "vervoer" | "administratie") => 2.5,
                (0, "schoonmaak" | "groen" | "productie") => 2.5,
                (3, "productie" | "logistiek" | "schoonmaak" | "horeca") => 2.5,
                _ => 1.0,
            };
            base * fit
        })
        .collect();
    rng.weighted(&weights).min(n - 1)
}

/// Sets the part of η that depends on the household (care for young children without a partner).
pub fn apply_household_effects(h: &mut Household) {
    let single = !h.is_couple();
    let young_child = h.children > 0
        && h.youngest_child_birth
            .is_some_and(|b| b.year >= h.first_start.year() - 4);
    if single && young_child {
        h.members[0].eta += COEF_YOUNG_CHILD_SINGLE;
        h.members[0].perceived_prognosis += COEF_YOUNG_CHILD_SINGLE;
    }
}
