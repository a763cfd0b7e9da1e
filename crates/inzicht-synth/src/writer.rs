//! Writes the exports, the truth and the summary, injecting and recording defects.

use crate::catalogue::{
    self as cat, ProvisionType, COMPETENCES, EDUCATION_LEVELS, OCCUPATIONS, ORIGINS, SECTORS,
};
use crate::csvout::{decimal_comma, CsvOut, Encoding};
use crate::defects::{Defect, DefectKind, ALL_KINDS};
use crate::geo::{self, Buurt};
use crate::household::{self, HouseholdOutput, ProvisionRecord, SpellRecord, HORIZONS};
use crate::model::{self, Person, AGE_BANDS, LATENT_TYPES};
use crate::rng::{mix, Rng};
use crate::sim::Catalogue;
use crate::{Config, SynthError};
use inzicht_domain::{bsn, Date, Month};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub const PERSONS_FILE: &str = "exports/suite/personen.csv";
pub const SPELLS_FILE: &str = "exports/suite/uitkeringen.csv";
pub const ASSESSMENTS_FILE: &str = "exports/reintegratie/diagnoses.csv";
pub const PROVISIONS_FILE: &str = "exports/reintegratie/voorzieningen.csv";
pub const PROFILES_FILE: &str = "exports/reintegratie/klantprofielen.csv";
pub const COMPETENCES_FILE: &str = "exports/reintegratie/competenties_klant.csv";
pub const EXPERIENCE_FILE: &str = "exports/reintegratie/werkervaring.csv";
pub const VACANCIES_FILE: &str = "exports/wsp/vacatures.csv";
pub const CODELISTS_FILE: &str = "exports/referentie/codelijsten.xlsx";
pub const PC6_FILE: &str = "exports/referentie/pc6_wijk_buurt.csv";
pub const BUURTEN_FILE: &str = "exports/referentie/buurten.csv";

const PERSONS_HEADER: &[&str] = &[
    "bsn",
    "voornaam",
    "achternaam",
    "geboortedatum",
    "geslacht",
    "nationaliteit",
    "geboorteland",
    "migratieachtergrond",
    "opleidingsniveau",
    "diploma",
    "taalniveau",
    "taaleis",
    "burgerlijke_staat",
    "huishoudtype",
    "aantal_kinderen",
    "geboortedatum_jongste_kind",
    "woonsituatie",
    "rijbewijs",
    "eigen_vervoer",
    "verblijfsstatus",
    "straat",
    "huisnummer",
    "huisletter",
    "postcode",
    "woonplaats",
    "partner_bsn",
];
/// Columns that are not client characteristics: identifiers, names, address, dates.
const PERSONS_NOT_FEATURES: &[&str] = &[
    "bsn",
    "voornaam",
    "achternaam",
    "geboortedatum",
    "geboortedatum_jongste_kind",
    "straat",
    "huisnummer",
    "huisletter",
    "postcode",
    "woonplaats",
    "partner_bsn",
];
const SPELLS_HEADER: &[&str] = &[
    "bsn",
    "dossiernummer",
    "regeling",
    "ingangsdatum",
    "einddatum",
    "reden_aanvraag",
    "reden_beeindiging",
    "huishoudrol",
    "leefvorm",
    "kostendeler",
    "inkomsten_naast_uitkering",
    "netto_uitkering",
    "vorige_uitkering",
    "toelichting",
];
/// Identifiers, dates, the outcome and free text.
const SPELLS_NOT_FEATURES: &[&str] = &[
    "bsn",
    "dossiernummer",
    "ingangsdatum",
    "einddatum",
    "reden_beeindiging",
    "toelichting",
];
const PROVISIONS_HEADER: &[&str] = &[
    "bsn",
    "voorziening_id",
    "voorzieningcode",
    "omschrijving",
    "startdatum",
    "einddatum",
    "reden_einde",
    "kosten",
    "opmerking",
];
const PROFILES_HEADER: &[&str] = &[
    "bsn",
    "laatste_beroep",
    "laatste_beroep_isco",
    "gewenst_beroep",
    "jaren_werkervaring",
    "jaren_sinds_laatste_werk",
    "sector_voorkeur",
    "interesses",
    "max_reisafstand_km",
    "cv_aanwezig",
];
/// `laatste_beroep_isco` codes the same characteristic as `laatste_beroep`.
const PROFILES_NOT_FEATURES: &[&str] = &["bsn", "laatste_beroep_isco"];
const COMPETENCES_HEADER: &[&str] = &["bsn", "competentie_code", "niveau", "vastgesteld_op"];
const EXPERIENCE_HEADER: &[&str] = &["bsn", "beroep_isco", "beroep", "jaren"];
const VACANCIES_HEADER: &[&str] = &[
    "vacature_id",
    "titel",
    "beroep_isco",
    "sector",
    "competenties",
    "opleidingsniveau_min",
    "uren_per_week",
    "buurtcode",
    "werkgever",
    "datum_geplaatst",
];

/// Figures counted from the rows written to `exports/` that ingest will load (rows that a
/// defect makes unloadable, and injected extra rows, are not counted).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub seed: u64,
    pub from: String,
    pub to: String,
    pub clients: u64,
    pub households: u64,
    pub spells: u64,
    pub spells_running: u64,
    pub provisions: u64,
    pub provision_types: u64,
    pub provision_groups: u64,
    pub assessments: u64,
    pub vacancies: u64,
    pub features: u64,
    pub outflow_wsi_share: f64,
    pub outflow_wsi_within_1y_share: f64,
    pub outflow_by_bus_code: BTreeMap<String, u64>,
    pub defects: BTreeMap<String, u64>,
    pub rows_per_file: BTreeMap<String, u64>,
}

struct Vacancy {
    id: String,
    occupation: usize,
    required: u64,
    min_education: usize,
    hours: u8,
    buurt: usize,
}

/// A client in the matching evaluation sample, with the truth needed to judge vacancies.
struct EvalClient {
    bsn: String,
    competences: u64,
    education: usize,
    buurt: usize,
    max_travel_km: u8,
    hours: u8,
}

#[derive(Default)]
struct EffectAcc {
    n: u64,
    log_hazard: f64,
    primary: [[u64; 2]; 3],
    moving: [[u64; 2]; 3],
}

impl EffectAcc {
    fn add(&mut self, t: &household::TreatedOutcome) {
        self.n += 1;
        self.log_hazard += t.log_hazard_effect;
        for i in 0..3 {
            self.primary[i][0] += u64::from(t.primary[i].0);
            self.primary[i][1] += u64::from(t.primary[i].1);
            self.moving[i][0] += u64::from(t.moving_competing[i].0);
            self.moving[i][1] += u64::from(t.moving_competing[i].1);
        }
    }
    fn to_json(&self) -> serde_json::Value {
        let n = self.n.max(1) as f64;
        let scale = |c: &[[u64; 2]; 3]| {
            let mut m = serde_json::Map::new();
            for (i, k) in HORIZONS.iter().enumerate() {
                let (t, u) = (c[i][0] as f64 / n, c[i][1] as f64 / n);
                m.insert(format!("att_{k}"), json!(round6(t - u)));
                m.insert(format!("treated_{k}"), json!(round6(t)));
                m.insert(format!("untreated_{k}"), json!(round6(u)));
            }
            serde_json::Value::Object(m)
        };
        json!({
            "n_treated": self.n,
            "mean_log_hazard_effect": round6(self.log_hazard / n),
            "primary": scale(&self.primary),
            "moving_competing": scale(&self.moving),
        })
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Allocates BSNs: persons from one numeric region, orphans from another, so they never meet.
struct BsnAllocator {
    counter: u64,
    base: u64,
    bits: u32,
}

impl BsnAllocator {
    fn next(&mut self) -> String {
        loop {
            // An odd multiplier is a bijection modulo 2^bits: distinct counters, distinct prefixes.
            let prefix =
                self.base + (self.counter.wrapping_mul(0x5DEE_CE66D) & ((1 << self.bits) - 1));
            self.counter += 1;
            if let Some(n) = bsn::complete(prefix as u32) {
                return bsn::format(n);
            }
        }
    }
}

/// Makes a valid BSN fail the elfproef by changing its check digit (the weighted sum then
/// changes by ±1 to ±9, never a multiple of 11).
fn break_bsn(valid: &str) -> String {
    let mut b = valid.as_bytes().to_vec();
    let last = b[8] - b'0';
    b[8] = b'0' + (last + 1 + (last % 3)) % 10;
    String::from_utf8(b).unwrap_or_default()
}

struct Sink {
    seed: u64,
    cfg: Config,
    persons: CsvOut,
    spells: CsvOut,
    assessments: CsvOut,
    provisions: CsvOut,
    profiles: CsvOut,
    competences: CsvOut,
    experience: CsvOut,
    defects: Vec<Defect>,
    person_bsns: BsnAllocator,
    orphan_bsns: BsnAllocator,
    // summary counters
    clients: u64,
    households: u64,
    spells_n: u64,
    running: u64,
    wsi: u64,
    eligible_1y: u64,
    wsi_1y: u64,
    by_bus: BTreeMap<String, u64>,
    provisions_n: u64,
    types_used: BTreeSet<usize>,
    groups_used: BTreeSet<usize>,
    assessments_n: u64,
    // truth
    latent: Vec<(String, usize, u32, &'static str)>,
    effects: Vec<EffectAcc>,
    effects_band: Vec<Vec<EffectAcc>>,
    effects_trede: Vec<Vec<EffectAcc>>,
    effects_type: Vec<Vec<EffectAcc>>,
    eval: Vec<EvalClient>,
    eval_modulus: u64,
    eval_target: usize,
}

/// Row-level decisions about defects, keyed so that they are reproducible.
fn defect_rng(seed: u64, file: &str, n: u64) -> Rng {
    Rng::keyed(
        seed,
        &[
            0xDEF,
            mix(&file.bytes().map(u64::from).collect::<Vec<_>>()),
            n,
        ],
    )
}

impl Sink {
    fn rate(&self, k: DefectKind) -> f64 {
        self.cfg.defects.rate(k)
    }

    fn record(
        &mut self,
        kind: DefectKind,
        file: &str,
        line: u64,
        column: Option<&'static str>,
        detail: String,
    ) {
        self.defects.push(Defect {
            kind,
            file: file.to_string(),
            line,
            column,
            detail,
        });
    }

    /// Chooses at most one defect that makes the row unloadable, among `allowed`.
    fn choose_mutation(&self, r: &mut Rng, allowed: &[DefectKind]) -> Option<DefectKind> {
        let u = r.uniform();
        let mut acc = 0.0;
        for k in allowed {
            acc += self.rate(*k);
            if u < acc {
                return Some(*k);
            }
        }
        None
    }
}

fn yes_no(b: bool) -> String {
    if b { "ja" } else { "nee" }.to_string()
}

fn blank_if(r: &mut Rng, missing: f64, value: String) -> String {
    if r.bernoulli(missing) {
        String::new()
    } else {
        value
    }
}

fn invalid_dutch_date(year: i32) -> String {
    format!("31-02-{year}")
}

fn invalid_iso_date(year: i32) -> String {
    format!("{year}-02-30")
}

pub fn write_all(
    cfg: &Config,
    root: &Path,
    progress: crate::Progress,
) -> Result<Summary, SynthError> {
    let io = |p: &str| {
        let path = root.join(p);
        move |error| SynthError::Io { path, error }
    };
    let seed = cfg.seed;
    let types = cat::provision_types();
    let catalogue = Catalogue::new(&types);
    let buurten = geo::build(seed);
    // Clients in the matching evaluation: 1,000 at the default size; fewer at national scale,
    // where each is judged against ~100,000 vacancies (pairs judged stay about 2 million).
    let eval_target = (2_000_000 / cfg.vacancy_count().max(1) as usize).clamp(100, 1_000);
    let w1252 = Encoding::Windows1252;
    let bom = Encoding::Utf8Bom;
    let mut sink = Sink {
        seed,
        cfg: cfg.clone(),
        persons: CsvOut::create(root, PERSONS_FILE, ';', w1252, true, PERSONS_HEADER)
            .map_err(io(PERSONS_FILE))?,
        spells: CsvOut::create(root, SPELLS_FILE, ';', w1252, true, SPELLS_HEADER)
            .map_err(io(SPELLS_FILE))?,
        assessments: CsvOut::create(
            root,
            ASSESSMENTS_FILE,
            ',',
            bom,
            false,
            &[&["bsn", "datum"], household::ASSESSMENT_COLUMNS].concat(),
        )
        .map_err(io(ASSESSMENTS_FILE))?,
        provisions: CsvOut::create(root, PROVISIONS_FILE, ',', bom, false, PROVISIONS_HEADER)
            .map_err(io(PROVISIONS_FILE))?,
        profiles: CsvOut::create(root, PROFILES_FILE, ',', bom, false, PROFILES_HEADER)
            .map_err(io(PROFILES_FILE))?,
        competences: CsvOut::create(root, COMPETENCES_FILE, ',', bom, false, COMPETENCES_HEADER)
            .map_err(io(COMPETENCES_FILE))?,
        experience: CsvOut::create(root, EXPERIENCE_FILE, ',', bom, false, EXPERIENCE_HEADER)
            .map_err(io(EXPERIENCE_FILE))?,
        defects: Vec::new(),
        person_bsns: BsnAllocator {
            counter: mix(&[seed, 1]) & 0xFFFF,
            base: 10_000_000,
            bits: 26,
        },
        orphan_bsns: BsnAllocator {
            counter: mix(&[seed, 2]) & 0xFFFF,
            base: 80_000_000,
            bits: 24,
        },
        clients: 0,
        households: 0,
        spells_n: 0,
        running: 0,
        wsi: 0,
        eligible_1y: 0,
        wsi_1y: 0,
        by_bus: BTreeMap::new(),
        provisions_n: 0,
        types_used: BTreeSet::new(),
        groups_used: BTreeSet::new(),
        assessments_n: 0,
        latent: Vec::with_capacity(cfg.clients as usize),
        effects: (0..cat::N_GROUPS).map(|_| EffectAcc::default()).collect(),
        effects_band: (0..cat::N_GROUPS)
            .map(|_| (0..AGE_BANDS.len()).map(|_| EffectAcc::default()).collect())
            .collect(),
        effects_trede: (0..cat::N_GROUPS)
            .map(|_| (0..6).map(|_| EffectAcc::default()).collect())
            .collect(),
        effects_type: (0..cat::N_GROUPS)
            .map(|_| {
                (0..LATENT_TYPES.len())
                    .map(|_| EffectAcc::default())
                    .collect()
            })
            .collect(),
        eval: Vec::new(),
        eval_modulus: (u64::from(cfg.clients) * 4 / 10 / (3 * eval_target as u64 / 2)).max(1),
        eval_target,
    };

    // Households are generated in parallel chunks (all randomness is keyed by household, so the
    // result does not depend on the number of threads) and written in order.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    let target = u64::from(cfg.clients);
    let mut next_household: u32 = 0;
    let chunk = 512u32;
    while sink.clients < target {
        let start = next_household;
        let per_thread = chunk.div_ceil(threads as u32);
        let outputs: Vec<HouseholdOutput> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads as u32)
                .map(|t| {
                    let lo = start + t * per_thread;
                    let hi = (lo + per_thread).min(start + chunk);
                    let catalogue = &catalogue;
                    let buurten = &buurten;
                    s.spawn(move || {
                        (lo..hi)
                            .map(|h| household::generate(cfg, catalogue, buurten, h, 2))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for (offset, mut out) in outputs.into_iter().enumerate() {
            if sink.clients >= target {
                break;
            }
            let h = start + offset as u32;
            if sink.clients + out.household.members.len() as u64 > target {
                out = household::generate(cfg, &catalogue, &buurten, h, 1);
            }
            write_household(&mut sink, &catalogue, &buurten, &out).map_err(|e| SynthError::Io {
                path: root.to_path_buf(),
                error: e,
            })?;
        }
        next_household = start + chunk;
        progress(sink.clients.min(target), target);
    }

    // Vacancies, geography and code lists.
    let vacancies = make_vacancies(cfg, &buurten);
    write_vacancies(root, cfg, &vacancies, &buurten).map_err(io(VACANCIES_FILE))?;
    write_geography(root, &buurten).map_err(io(PC6_FILE))?;
    write_codelists(root, &types)?;

    let Sink {
        persons,
        spells,
        assessments,
        provisions,
        profiles,
        competences,
        experience,
        ..
    } = sink;
    let mut rows_per_file = BTreeMap::new();
    for f in [
        persons,
        spells,
        assessments,
        provisions,
        profiles,
        competences,
        experience,
    ] {
        rows_per_file.insert(f.path.clone(), f.records);
        let path = f.path.clone();
        f.finish().map_err(io(&path))?;
    }
    rows_per_file.insert(VACANCIES_FILE.to_string(), vacancies.len() as u64);

    let features = [
        PERSONS_HEADER.len() - PERSONS_NOT_FEATURES.len(),
        SPELLS_HEADER.len() - SPELLS_NOT_FEATURES.len(),
        household::ASSESSMENT_COLUMNS.len() - 1, // the consultant's code is not a client characteristic
        PROFILES_HEADER.len() - PROFILES_NOT_FEATURES.len(),
        1, // competences (one characteristic in long form)
        1, // work experience per occupation
    ]
    .iter()
    .sum::<usize>() as u64;

    let mut defect_counts: BTreeMap<String, u64> = ALL_KINDS
        .iter()
        .map(|k| (k.name().to_string(), 0))
        .collect();
    for d in &sink.defects {
        *defect_counts.entry(d.kind.name().to_string()).or_default() += 1;
    }
    let summary = Summary {
        seed,
        from: cfg.from.to_string(),
        to: cfg.to.to_string(),
        clients: sink.clients,
        households: sink.households,
        spells: sink.spells_n,
        spells_running: sink.running,
        provisions: sink.provisions_n,
        provision_types: sink.types_used.len() as u64,
        provision_groups: sink.groups_used.len() as u64,
        assessments: sink.assessments_n,
        vacancies: vacancies.len() as u64,
        features,
        outflow_wsi_share: round6(sink.wsi as f64 / sink.spells_n.max(1) as f64),
        outflow_wsi_within_1y_share: round6(sink.wsi_1y as f64 / sink.eligible_1y.max(1) as f64),
        outflow_by_bus_code: sink.by_bus.clone(),
        defects: defect_counts,
        rows_per_file,
    };
    write_json(
        root,
        "summary.json",
        &serde_json::to_value(&summary).unwrap_or_default(),
    )?;
    let truth = build_truth(
        cfg,
        &sink.effects,
        &sink.effects_band,
        &sink.effects_trede,
        &sink.effects_type,
        &vacancies,
    );
    write_truth(
        root,
        &truth,
        &sink.latent,
        &sink.defects,
        &sink.eval,
        &vacancies,
        &buurten,
    )?;
    write_json(root, "manifest.json", &manifest(cfg))?;
    Ok(summary)
}

fn write_json(root: &Path, name: &str, value: &serde_json::Value) -> Result<(), SynthError> {
    let path = root.join(name);
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    std::fs::write(&path, text + "\n").map_err(|error| SynthError::Io { path, error })
}

/// Whether a spell ended with W/S/I within 12 months of its start date.
fn ended_within_year(start: Date, end: Date) -> bool {
    let limit = start.month_of().plus(12);
    (end.month_of(), end.day) < (limit, start.day)
}

fn write_household(
    sink: &mut Sink,
    catalogue: &Catalogue,
    buurten: &[Buurt],
    out: &HouseholdOutput,
) -> std::io::Result<()> {
    let h = &out.household;
    let bsns: Vec<String> = h.members.iter().map(|_| sink.person_bsns.next()).collect();
    sink.households += 1;
    let cfg = sink.cfg.clone();
    let mut r = Rng::keyed(sink.seed, &[0x9E25, u64::from(h.index)]);

    // Persons.
    for (k, p) in h.members.iter().enumerate() {
        let partner = if h.is_couple() {
            bsns[1 - k].clone()
        } else {
            String::new()
        };
        let mut row = person_row(&mut r, h, p, &bsns[k], partner, buurten, cfg.to);
        let mut dr = defect_rng(sink.seed, PERSONS_FILE, u64::from(p.index));
        let mut pending = Vec::new();
        normalisation_defect_into(
            &mut pending,
            sink,
            &mut dr,
            &mut row,
            &[(4, "geslacht"), (8, "opleidingsniveau"), (9, "diploma")],
        );
        let line = sink.persons.write(&row)?;
        for (kind, col, d) in pending {
            sink.record(kind, PERSONS_FILE, line, Some(col), d);
        }
        if dr.bernoulli(sink.rate(DefectKind::DuplicateRow)) {
            let dup_line = sink.persons.write(&row)?;
            sink.record(
                DefectKind::DuplicateRow,
                PERSONS_FILE,
                dup_line,
                None,
                format!("copy of line {line}"),
            );
        }
        sink.clients += 1;
        sink.latent.push((
            bsns[k].clone(),
            p.latent_type,
            h.index,
            if k == 0 { "hoofdaanvrager" } else { "partner" },
        ));
    }

    // Spells: one row per member per spell.
    for s in &out.spells {
        for (k, member_bsn) in bsns.iter().enumerate() {
            write_spell(sink, h, s, k, member_bsn)?;
        }
    }

    // Assessments.
    for (i, a) in out.assessments.iter().enumerate() {
        let mut row = vec![bsns[a.member].clone(), a.date.iso()];
        row.extend(a.values.iter().cloned());
        let key = (u64::from(h.index) << 20) | i as u64;
        let mut dr = defect_rng(sink.seed, ASSESSMENTS_FILE, key);
        let mutation = sink.choose_mutation(
            &mut dr,
            &[
                DefectKind::InvalidBsn,
                DefectKind::EmptyCell,
                DefectKind::InvalidDate,
            ],
        );
        let detail = apply_assessment_mutation(&mut row, mutation);
        let mut norm_row = row.clone();
        let mut pending = Vec::new();
        if mutation.is_none() {
            normalisation_defect_into(
                &mut pending,
                sink,
                &mut dr,
                &mut norm_row,
                &[
                    (4, "ontheffing_arbeidsplicht"),
                    (6, "belemmering_gezondheid"),
                    (17, "digitale_vaardigheden"),
                ],
            );
        }
        let normalised = !pending.is_empty();
        let line = sink.assessments.write(&norm_row)?;
        if let (Some(kind), Some(detail)) = (mutation, detail) {
            sink.record(
                kind,
                ASSESSMENTS_FILE,
                line,
                Some(column_of(kind, "datum")),
                detail,
            );
        } else {
            sink.assessments_n += 1;
        }
        for (kind, col, detail) in pending {
            sink.record(kind, ASSESSMENTS_FILE, line, Some(col), detail);
        }
        extra_rows(
            sink,
            ASSESSMENTS_FILE,
            &norm_row,
            mutation.is_some() || normalised,
            line,
            key,
            0,
        )?;
    }

    // Provisions.
    for (i, p) in out.provisions.iter().enumerate() {
        write_provision(sink, catalogue, h, out, p, i, &bsns[p.member])?;
    }
    // Provisions outside every spell (extra rows).
    for (k, bsn_k) in bsns.iter().enumerate() {
        let key = (u64::from(h.index) << 4) | k as u64;
        let mut dr = defect_rng(sink.seed, "outside", key);
        if dr.bernoulli(sink.rate(DefectKind::ProvisionOutsideSpell) * 3.0) {
            if let Some(date) = date_outside_spells(&mut dr, &out.spells, cfg.from, cfg.to) {
                let t = &catalogue.types[dr.index(catalogue.types.len())];
                let row = vec![
                    bsn_k.clone(),
                    format!("VZ{:08}{}X", h.index, k),
                    t.code.clone(),
                    t.name.clone(),
                    date.iso(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ];
                let line = sink.provisions.write(&row)?;
                sink.record(
                    DefectKind::ProvisionOutsideSpell,
                    PROVISIONS_FILE,
                    line,
                    Some("startdatum"),
                    format!("{} starts outside every spell of this client", date.iso()),
                );
            }
        }
    }

    // Profile, competences, work experience: recorded for about three quarters of clients.
    for (k, p) in h.members.iter().enumerate() {
        let mut pr = Rng::keyed(sink.seed, &[0x960F, u64::from(p.index), u64::from(h.index)]);
        let recent = out.spells.last().is_some_and(|s| s.start.year >= 2016);
        if !pr.bernoulli(if recent { 0.85 } else { 0.6 }) {
            continue;
        }
        let row = profile_row(&mut pr, p, &bsns[k]);
        sink.profiles.write(&row)?;
        let mut observed = 0u64;
        for c in 0..COMPETENCES.len() {
            if out.final_competences[k] >> c & 1 == 1 && pr.bernoulli(0.7) {
                observed |= 1 << c;
            }
        }
        if pr.bernoulli(0.3) {
            observed |= 1 << pr.index(COMPETENCES.len());
        }
        let when = out
            .spells
            .last()
            .map(|s| s.start)
            .unwrap_or(cfg.from.first_day());
        for c in 0..COMPETENCES.len() {
            if observed >> c & 1 == 1 {
                sink.competences.write(&[
                    bsns[k].clone(),
                    cat::competence_code(c),
                    pr.range(1, 3).to_string(),
                    when.iso(),
                ])?;
            }
        }
        for (o, years) in &p.experience {
            sink.experience.write(&[
                bsns[k].clone(),
                OCCUPATIONS[*o].isco.to_string(),
                OCCUPATIONS[*o].title.to_string(),
                format!("{years:.1}"),
            ])?;
        }
        if out.running_at_end
            && mix(&[sink.seed, 0xE7A1, u64::from(p.index)]).is_multiple_of(sink.eval_modulus)
            && sink.eval.len() < sink.eval_target
        {
            sink.eval.push(EvalClient {
                bsn: bsns[k].clone(),
                competences: out.final_competences[k],
                education: p.education.unwrap_or(2),
                buurt: p.buurt,
                max_travel_km: p.max_travel_km,
                hours: p.hours_available,
            });
        }
    }

    // Truth of provision effects.
    for t in &out.treated {
        sink.effects[t.group].add(t);
        sink.effects_band[t.group][t.age_band].add(t);
        sink.effects_trede[t.group][usize::from(t.trede.clamp(1, 6)) - 1].add(t);
        sink.effects_type[t.group][t.latent_type].add(t);
    }
    Ok(())
}

/// Applies a case or whitespace change to one code cell; the defect is recorded by the caller
/// once the row's line is known.
fn normalisation_defect_into(
    pending: &mut Vec<(DefectKind, &'static str, String)>,
    sink: &Sink,
    r: &mut Rng,
    row: &mut [String],
    candidates: &[(usize, &'static str)],
) {
    let u = r.uniform();
    let ws = sink.rate(DefectKind::StrayWhitespace);
    let mc = sink.rate(DefectKind::MixedCase);
    let kind = if u < ws {
        DefectKind::StrayWhitespace
    } else if u < ws + mc {
        DefectKind::MixedCase
    } else {
        return;
    };
    let (col, name) = *r.pick(candidates);
    if row[col].is_empty() {
        return;
    }
    let before = row[col].clone();
    let after = match kind {
        DefectKind::StrayWhitespace => {
            if r.bernoulli(0.5) {
                format!(" {before}")
            } else {
                format!("{before}  ")
            }
        }
        _ => {
            let lower = before.to_lowercase();
            if lower != before {
                lower
            } else {
                before.to_uppercase()
            }
        }
    };
    if after == before {
        return;
    }
    row[col] = after.clone();
    pending.push((kind, name, format!("{before:?} written as {after:?}")));
}

fn column_of(kind: DefectKind, date_column: &'static str) -> &'static str {
    match kind {
        DefectKind::InvalidBsn => "bsn",
        _ => date_column,
    }
}

fn apply_assessment_mutation(row: &mut [String], mutation: Option<DefectKind>) -> Option<String> {
    let kind = mutation?;
    Some(match kind {
        DefectKind::InvalidBsn => {
            let before = row[0].clone();
            row[0] = break_bsn(&before);
            format!("BSN {} fails the elfproef", row[0])
        }
        DefectKind::EmptyCell => {
            row[1] = String::new();
            "required date empty".into()
        }
        _ => {
            let year: i32 = row[1]
                .get(0..4)
                .and_then(|y| y.parse().ok())
                .unwrap_or(2016);
            row[1] = invalid_iso_date(year);
            format!("date {} does not exist", row[1])
        }
    })
}

/// Duplicate and orphan copies of a written row (not of rows that already carry a defect).
fn extra_rows(
    sink: &mut Sink,
    file: &'static str,
    row: &[String],
    has_defect: bool,
    line: u64,
    key: u64,
    bsn_col: usize,
) -> std::io::Result<()> {
    if has_defect {
        return Ok(());
    }
    let mut dr = defect_rng(sink.seed, file, key ^ 0xE77A);
    let dup = dr.bernoulli(sink.rate(DefectKind::DuplicateRow));
    let orphan = dr.bernoulli(sink.rate(DefectKind::OrphanReference));
    let target = match file {
        SPELLS_FILE => &mut sink.spells,
        ASSESSMENTS_FILE => &mut sink.assessments,
        _ => &mut sink.provisions,
    };
    let mut recs = Vec::new();
    if dup {
        let l = target.write(row)?;
        recs.push((
            DefectKind::DuplicateRow,
            l,
            None,
            format!("copy of line {line}"),
        ));
    }
    if orphan {
        let mut copy = row.to_vec();
        copy[bsn_col] = sink.orphan_bsns.next();
        let l = match file {
            SPELLS_FILE => sink.spells.write(&copy)?,
            ASSESSMENTS_FILE => sink.assessments.write(&copy)?,
            _ => sink.provisions.write(&copy)?,
        };
        recs.push((
            DefectKind::OrphanReference,
            l,
            Some("bsn"),
            format!("BSN {} has no person row", copy[bsn_col]),
        ));
    }
    for (k, l, c, d) in recs {
        sink.record(k, file, l, c, d);
    }
    Ok(())
}

fn person_row(
    r: &mut Rng,
    h: &model::Household,
    p: &Person,
    bsn: &str,
    partner: String,
    buurten: &[Buurt],
    to: Month,
) -> Vec<String> {
    let (nationality, country, background) = ORIGINS[p.origin];
    let buurt = &buurten[p.buurt];
    let education = match p.education {
        Some(e) => blank_if(r, 0.1, EDUCATION_LEVELS[e].to_string()),
        None => {
            if r.bernoulli(0.3) {
                "onbekend".to_string()
            } else {
                String::new()
            }
        }
    };
    let language = ["A0", "A1", "A2", "B1", "B2", "C1"][p.language];
    let dutch = country == "Nederland";
    let couple = h.is_couple();
    let marital = if couple {
        if r.bernoulli(0.7) {
            "gehuwd"
        } else {
            "samenwonend"
        }
    } else {
        *r.pick(&[
            "ongehuwd",
            "ongehuwd",
            "gescheiden",
            "gescheiden",
            "weduwe/weduwnaar",
        ])
    };
    let housing = if p.housing_problem {
        *r.pick(&["inwonend", "dakloos", "instelling"])
    } else {
        *r.pick(&["huur", "huur", "huur", "koop", "inwonend"])
    };
    let status = if nationality == "Nederlandse" {
        "Nederlander"
    } else if p.refugee {
        "verblijfsvergunning asiel"
    } else {
        "verblijfsvergunning regulier"
    };
    let street = format!(
        "{}{}",
        crate::catalogue::STREET_WORDS
            [(p.postcode_index + p.buurt) % crate::catalogue::STREET_WORDS.len()],
        if p.buurt.is_multiple_of(2) {
            "straat"
        } else {
            "laan"
        }
    );
    let postcode = buurt.postcodes[p.postcode_index % buurt.postcodes.len()].clone();
    vec![
        bsn.to_string(),
        p.first_name.to_string(),
        p.last_name.to_string(),
        p.birth.dutch(),
        if p.female { "V" } else { "M" }.to_string(),
        blank_if(r, 0.02, nationality.to_string()),
        blank_if(r, 0.1, country.to_string()),
        blank_if(r, 0.15, background.to_string()),
        education,
        blank_if(r, 0.3, yes_no(p.diploma)),
        blank_if(r, if dutch { 0.4 } else { 0.1 }, language.to_string()),
        if to.year() >= 2016 && !dutch {
            blank_if(
                r,
                0.4,
                if p.language >= 3 {
                    "voldaan"
                } else {
                    "niet voldaan"
                }
                .to_string(),
            )
        } else {
            blank_if(r, 0.5, "n.v.t.".to_string())
        },
        blank_if(r, 0.05, marital.to_string()),
        h.household_type().to_string(),
        h.children.to_string(),
        h.youngest_child_birth
            .map(|d| d.dutch())
            .unwrap_or_default(),
        blank_if(r, 0.2, housing.to_string()),
        blank_if(r, 0.45, yes_no(p.licence)),
        blank_if(r, 0.5, yes_no(p.own_transport)),
        blank_if(r, 0.1, status.to_string()),
        street,
        p.house_number.to_string(),
        p.house_letter.map(String::from).unwrap_or_default(),
        postcode,
        "Nieuwdorp".to_string(),
        partner,
    ]
}

fn write_spell(
    sink: &mut Sink,
    h: &model::Household,
    s: &SpellRecord,
    k: usize,
    bsn: &str,
) -> std::io::Result<()> {
    let cfg = sink.cfg.clone();
    let mut r = Rng::keyed(sink.seed, &[0x5E11, s.uid, k as u64]);
    let leefvorm = match (h.is_couple(), h.children > 0) {
        (true, _) => "gehuwden",
        (false, true) => "alleenstaande ouder",
        (false, false) => "alleenstaande",
    };
    let mut row = vec![
        bsn.to_string(),
        s.dossier.clone(),
        s.regeling.to_string(),
        s.start.dutch(),
        s.end.map(|e| e.0.dutch()).unwrap_or_default(),
        s.inflow_reason.to_string(),
        s.end.map(|e| e.1.to_string()).unwrap_or_default(),
        if k == 0 { "hoofdaanvrager" } else { "partner" }.to_string(),
        leefvorm.to_string(),
        yes_no(s.shares_costs),
        blank_if(&mut r, 0.05, yes_no(s.side_income)),
        decimal_comma(if k == 0 { s.amount } else { 0.0 }),
        blank_if(&mut r, 0.2, s.previous_benefit.to_string()),
        if k == 0 {
            s.note.clone()
        } else {
            String::new()
        },
    ];
    let key = (s.uid << 2) | k as u64;
    let mut dr = defect_rng(sink.seed, SPELLS_FILE, key);
    let mut allowed = vec![
        DefectKind::InvalidBsn,
        DefectKind::EmptyCell,
        DefectKind::InvalidDate,
    ];
    if s.end.is_some() {
        allowed.extend([DefectKind::EndBeforeStart, DefectKind::UnknownCode]);
    }
    let mutation = if s.has_provisions {
        None
    } else {
        sink.choose_mutation(&mut dr, &allowed)
    };
    let clean = row.clone();
    let detail = mutation.map(|kind| match kind {
        DefectKind::InvalidBsn => {
            row[0] = break_bsn(bsn);
            (Some("bsn"), format!("BSN {} fails the elfproef", row[0]))
        }
        DefectKind::EmptyCell => {
            row[3] = String::new();
            (
                Some("ingangsdatum"),
                "required start date empty".to_string(),
            )
        }
        DefectKind::InvalidDate => {
            row[3] = invalid_dutch_date(s.start.year);
            (
                Some("ingangsdatum"),
                format!("date {} does not exist", row[3]),
            )
        }
        DefectKind::EndBeforeStart => {
            let start = s.start.days_since_epoch();
            let back = 1 + dr.range(0, 400);
            let d = date_from_days(start - back);
            row[4] = d.dutch();
            (
                Some("einddatum"),
                format!("end {} before start {}", row[4], row[3]),
            )
        }
        _ => {
            row[6] = (*dr.pick(&["999", "11O", "0"])).to_string();
            (
                Some("reden_beeindiging"),
                format!("end reason {} is not in the code list", row[6]),
            )
        }
    });
    let mut pending = Vec::new();
    if mutation.is_none() {
        normalisation_defect_into(
            &mut pending,
            sink,
            &mut dr,
            &mut row,
            &[(2, "regeling"), (6, "reden_beeindiging"), (8, "leefvorm")],
        );
    }
    let normalised = !pending.is_empty();
    let line = sink.spells.write(&row)?;
    for (kind, col, d) in pending {
        sink.record(kind, SPELLS_FILE, line, Some(col), d);
    }
    if let (Some(kind), Some((col, d))) = (mutation, detail) {
        sink.record(kind, SPELLS_FILE, line, col, d);
    } else {
        sink.spells_n += 1;
        match s.end {
            None => sink.running += 1,
            Some((end, _, bus)) => {
                *sink.by_bus.entry(bus.to_string()).or_default() += 1;
                let wsi =
                    inzicht_domain::codes::bus_end_reason(bus).is_some_and(|b| b.class.is_wsi());
                sink.wsi += u64::from(wsi);
                if s.start.month_of() <= cfg.to.plus(-12) && wsi && ended_within_year(s.start, end)
                {
                    sink.wsi_1y += 1;
                }
            }
        }
        if s.start.month_of() <= cfg.to.plus(-12) {
            sink.eligible_1y += 1;
        }
    }
    extra_rows(
        sink,
        SPELLS_FILE,
        &row,
        mutation.is_some() || normalised,
        line,
        key,
        0,
    )?;
    // An overlapping re-registration of the same person, inside this spell.
    if mutation.is_none() {
        let spell_end = s.end.map(|e| e.0).unwrap_or(sink.cfg.to.last_day());
        let days = spell_end.days_since_epoch() - s.start.days_since_epoch();
        if days > 60 && dr.bernoulli(sink.rate(DefectKind::OverlappingSpell)) {
            let start = date_from_days(s.start.days_since_epoch() + 30 + dr.range(0, days - 31));
            let mut copy = clean.clone();
            copy[1] = format!("{}B", s.dossier);
            copy[3] = start.dutch();
            let l = sink.spells.write(&copy)?;
            sink.record(
                DefectKind::OverlappingSpell,
                SPELLS_FILE,
                l,
                Some("ingangsdatum"),
                format!(
                    "spell from {} overlaps the spell on line {line}",
                    start.dutch()
                ),
            );
        }
    }
    Ok(())
}

fn date_from_days(z: i64) -> Date {
    Date::from_days_since_epoch(z)
}

fn write_provision(
    sink: &mut Sink,
    catalogue: &Catalogue,
    h: &model::Household,
    _out: &HouseholdOutput,
    p: &ProvisionRecord,
    i: usize,
    bsn: &str,
) -> std::io::Result<()> {
    let t: &ProvisionType = &catalogue.types[p.type_index];
    let mut row = vec![
        bsn.to_string(),
        format!("VZ{:08}{:03}", h.index, i),
        t.code.clone(),
        t.name.clone(),
        p.start.iso(),
        p.end.map(|d| d.iso()).unwrap_or_default(),
        p.end_reason.map(String::from).unwrap_or_default(),
        p.cost.map(|c| format!("{c:.2}")).unwrap_or_default(),
        p.note.clone(),
    ];
    let key = (u64::from(h.index) << 16) | i as u64;
    let mut dr = defect_rng(sink.seed, PROVISIONS_FILE, key);
    let mut allowed = vec![
        DefectKind::InvalidBsn,
        DefectKind::EmptyCell,
        DefectKind::UnknownCode,
        DefectKind::InvalidDate,
    ];
    if p.end.is_some() {
        allowed.push(DefectKind::EndBeforeStart);
    }
    // The first provision of a group is what the truth is about: never make it unloadable.
    let mutation = if p.first_of_group {
        None
    } else {
        sink.choose_mutation(&mut dr, &allowed)
    };
    let detail = mutation.map(|kind| match kind {
        DefectKind::InvalidBsn => {
            row[0] = break_bsn(bsn);
            ("bsn", format!("BSN {} fails the elfproef", row[0]))
        }
        DefectKind::EmptyCell => {
            row[2] = String::new();
            (
                "voorzieningcode",
                "required provision code empty".to_string(),
            )
        }
        DefectKind::UnknownCode => {
            row[2] = (*dr.pick(&["V999", "V7-01", "X100"])).to_string();
            (
                "voorzieningcode",
                format!("provision code {} is not in the code list", row[2]),
            )
        }
        DefectKind::InvalidDate => {
            row[4] = invalid_iso_date(p.start.year);
            ("startdatum", format!("date {} does not exist", row[4]))
        }
        _ => {
            let d = date_from_days(p.start.days_since_epoch() - 1 - dr.range(0, 200));
            row[5] = d.iso();
            (
                "einddatum",
                format!("end {} before start {}", row[5], row[4]),
            )
        }
    });
    let mut pending = Vec::new();
    if mutation.is_none() {
        normalisation_defect_into(
            &mut pending,
            sink,
            &mut dr,
            &mut row,
            &[(2, "voorzieningcode"), (6, "reden_einde")],
        );
    }
    let normalised = !pending.is_empty();
    let line = sink.provisions.write(&row)?;
    for (kind, col, d) in pending {
        sink.record(kind, PROVISIONS_FILE, line, Some(col), d);
    }
    if let (Some(kind), Some((col, d))) = (mutation, detail) {
        sink.record(kind, PROVISIONS_FILE, line, Some(col), d);
    } else {
        sink.provisions_n += 1;
        sink.types_used.insert(p.type_index);
        sink.groups_used.insert(t.group);
    }
    extra_rows(
        sink,
        PROVISIONS_FILE,
        &row,
        mutation.is_some() || normalised,
        line,
        key,
        0,
    )
}

/// A date between `from` and `to` at least two months away from every spell, if there is one.
fn date_outside_spells(
    r: &mut Rng,
    spells: &[SpellRecord],
    from: Month,
    to: Month,
) -> Option<Date> {
    let lo = from.first_day().days_since_epoch();
    let hi = to.last_day().days_since_epoch();
    for _ in 0..8 {
        let d = lo + r.range(0, hi - lo);
        let clear = spells.iter().all(|s| {
            let a = s.start.days_since_epoch() - 62;
            let b = s.end.map(|e| e.0.days_since_epoch()).unwrap_or(hi + 1_000) + 62;
            d < a || d > b
        });
        if clear {
            return Some(date_from_days(d));
        }
    }
    None
}

fn profile_row(r: &mut Rng, p: &Person, bsn: &str) -> Vec<String> {
    let last = p.experience.first().map(|e| e.0);
    let years: f64 = p.experience.iter().map(|e| e.1).sum();
    let interests: Vec<&str> = (0..SECTORS.len())
        .filter(|i| p.interests >> i & 1 == 1)
        .map(|i| SECTORS[i])
        .collect();
    let since_work = r.range(0, 12).to_string();
    let cv = yes_no(p.skill > -0.3 || r.bernoulli(0.3));
    vec![
        bsn.to_string(),
        last.map(|o| OCCUPATIONS[o].title.to_string())
            .unwrap_or_default(),
        last.map(|o| OCCUPATIONS[o].isco.to_string())
            .unwrap_or_default(),
        p.desired_occupation
            .map(|o| OCCUPATIONS[o].title.to_string())
            .unwrap_or_default(),
        blank_if(r, 0.2, format!("{years:.1}")),
        if last.is_some() {
            blank_if(r, 0.3, since_work)
        } else {
            String::new()
        },
        blank_if(
            r,
            0.4,
            interests.first().map(|s| s.to_string()).unwrap_or_default(),
        ),
        blank_if(r, 0.3, interests.join("|")),
        blank_if(r, 0.35, p.max_travel_km.to_string()),
        blank_if(r, 0.25, cv),
    ]
}

fn make_vacancies(cfg: &Config, buurten: &[Buurt]) -> Vec<Vacancy> {
    let n = cfg.vacancy_count();
    // Labour demand: logistics, care, production and cleaning have the most vacancies.
    let weights: Vec<f64> = OCCUPATIONS
        .iter()
        .map(|o| match o.sector {
            "logistiek" | "zorg" | "productie" | "schoonmaak" => 3.0,
            "horeca" | "detailhandel" | "techniek" => 2.0,
            _ => 1.0,
        })
        .collect();
    (0..n)
        .map(|i| {
            let mut r = Rng::keyed(cfg.seed, &[0x7AC, u64::from(i)]);
            let occupation = r.weighted(&weights);
            let o = &OCCUPATIONS[occupation];
            let mut required = 0u64;
            for &c in o.competences {
                if r.bernoulli(0.9) {
                    required |= 1 << c;
                }
            }
            for _ in 0..r.range(0, 2) {
                let c = *r.pick(o.competences) / 6 * 6 + r.index(6);
                required |= 1 << c;
            }
            Vacancy {
                id: format!("VAC{:06}", i + 1),
                occupation,
                required,
                min_education: o.min_education,
                hours: *r.pick(&[16u8, 20, 24, 24, 32, 36, 38, 40, 40]),
                buurt: r.index(buurten.len()),
            }
        })
        .collect()
}

fn write_vacancies(
    root: &Path,
    cfg: &Config,
    vacancies: &[Vacancy],
    buurten: &[Buurt],
) -> std::io::Result<()> {
    let mut w = CsvOut::create(
        root,
        VACANCIES_FILE,
        ',',
        Encoding::Utf8,
        false,
        VACANCIES_HEADER,
    )?;
    let employers = [
        "Logistiek Centrum Zuid",
        "Zorggroep De Linde",
        "Bakkerij Van Dam",
        "Schoonmaakbedrijf Glans",
        "Gemeente Nieuwdorp",
        "Bouwbedrijf Stevig",
        "Supermarkt Buurtwinkel",
        "Techniek Partners",
        "Hotel De Kroon",
        "Groenbedrijf Buiten",
    ];
    for (i, v) in vacancies.iter().enumerate() {
        let mut r = Rng::keyed(cfg.seed, &[0x7AD, i as u64]);
        let o = &OCCUPATIONS[v.occupation];
        // Titles are written freely by employers: the same occupation under several names.
        let title = match r.range(0, 5) {
            0 => format!("Medewerker {}", o.sector),
            1 => format!("{} (m/v/x)", o.title),
            2 => format!("Parttime {}", o.title.to_lowercase()),
            _ => o.title.to_string(),
        };
        let comps: Vec<String> = (0..COMPETENCES.len())
            .filter(|c| v.required >> c & 1 == 1)
            .map(cat::competence_code)
            .collect();
        let posted = cfg.to.plus(-(r.range(0, 11) as i32));
        let day = r.range(1, 28) as u32;
        w.write(&[
            v.id.clone(),
            title,
            o.isco.to_string(),
            o.sector.to_string(),
            comps.join("|"),
            EDUCATION_LEVELS[v.min_education].to_string(),
            v.hours.to_string(),
            buurten[v.buurt].code.clone(),
            employers[r.index(employers.len())].to_string(),
            Date::new(posted.year(), posted.month(), day)
                .map(|d| d.iso())
                .unwrap_or_default(),
        ])?;
    }
    w.finish()
}

fn write_geography(root: &Path, buurten: &[Buurt]) -> std::io::Result<()> {
    let mut pc = CsvOut::create(
        root,
        PC6_FILE,
        ';',
        Encoding::Utf8,
        false,
        &["PC6", "Buurt2024", "Wijk2024", "Gemeente2024"],
    )?;
    let mut rows: Vec<(&String, &Buurt)> = buurten
        .iter()
        .flat_map(|b| b.postcodes.iter().map(move |p| (p, b)))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    for (p, b) in rows {
        pc.write(&[
            p.as_str(),
            &b.code[2..],
            &b.wijk_code[2..],
            geo::GEMEENTE_CODE,
        ])?;
    }
    pc.finish()?;
    let mut w = CsvOut::create(
        root,
        BUURTEN_FILE,
        ',',
        Encoding::Utf8,
        false,
        &[
            "buurtcode",
            "buurtnaam",
            "wijkcode",
            "wijknaam",
            "gemeentecode",
            "x",
            "y",
        ],
    )?;
    for b in buurten {
        w.write(&[
            b.code.clone(),
            b.name.clone(),
            b.wijk_code.clone(),
            b.wijk_name.clone(),
            format!("GM{}", geo::GEMEENTE_CODE),
            format!("{:.0}", b.x),
            format!("{:.0}", b.y),
        ])?;
    }
    w.finish()
}

fn write_codelists(root: &Path, types: &[ProvisionType]) -> Result<(), SynthError> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
    let x = |e: rust_xlsxwriter::XlsxError| SynthError::Xlsx(e.to_string());
    let mut wb = Workbook::new();
    // A fixed document date keeps the workbook byte-identical between runs.
    let created = ExcelDateTime::from_ymd(2025, 1, 1)
        .and_then(|d| d.and_hms(0, 0, 0))
        .map_err(x)?;
    wb.set_properties(
        &DocProperties::new()
            .set_title("Codelijsten Nieuwdorp (synthetisch)")
            .set_author("inzicht synth")
            .set_creation_datetime(&created),
    );
    let bold = Format::new().set_bold();
    let mut sheet =
        |name: &str, header: &[&str], rows: Vec<Vec<String>>| -> Result<(), SynthError> {
            let ws = wb.add_worksheet();
            ws.set_name(name).map_err(x)?;
            for (c, h) in header.iter().enumerate() {
                ws.write_string_with_format(0, c as u16, *h, &bold)
                    .map_err(x)?;
            }
            for (r, row) in rows.iter().enumerate() {
                for (c, v) in row.iter().enumerate() {
                    ws.write_string(r as u32 + 1, c as u16, v).map_err(x)?;
                }
            }
            Ok(())
        };
    sheet(
        "redenen_beeindiging",
        &[
            "lokale_code",
            "omschrijving",
            "bus_code",
            "bus_omschrijving",
        ],
        cat::END_REASONS
            .iter()
            .map(|(c, d, b)| {
                vec![
                    c.to_string(),
                    d.to_string(),
                    b.to_string(),
                    inzicht_domain::codes::bus_end_reason(b)
                        .map(|r| r.label_nl.to_string())
                        .unwrap_or_default(),
                ]
            })
            .collect(),
    )?;
    sheet(
        "redenen_aanvraag",
        &["lokale_code", "omschrijving"],
        cat::INFLOW_REASONS
            .iter()
            .map(|(c, d)| vec![c.to_string(), d.to_string()])
            .collect(),
    )?;
    sheet(
        "voorzieningen",
        &[
            "lokale_code",
            "omschrijving",
            "groep_code",
            "srg_code",
            "aangeboden_van",
            "aangeboden_tot",
            "leert_competenties",
        ],
        types
            .iter()
            .map(|t| {
                vec![
                    t.code.clone(),
                    t.name.clone(),
                    cat::PROVISION_GROUPS[t.group].0.to_string(),
                    t.srg.to_string(),
                    t.offered.0.max(2000).to_string(),
                    if t.offered.1 >= 2100 {
                        String::new()
                    } else {
                        t.offered.1.to_string()
                    },
                    t.teaches
                        .iter()
                        .map(|&c| cat::competence_code(c))
                        .collect::<Vec<_>>()
                        .join("|"),
                ]
            })
            .collect(),
    )?;
    sheet(
        "voorzieningsgroepen",
        &["groep_code", "groep"],
        cat::PROVISION_GROUPS
            .iter()
            .map(|(c, d)| vec![c.to_string(), d.to_string()])
            .collect(),
    )?;
    sheet(
        "redenen_einde_voorziening",
        &["code", "omschrijving"],
        cat::PROVISION_ENDINGS
            .iter()
            .map(|(c, d)| vec![c.to_string(), d.to_string()])
            .collect(),
    )?;
    sheet(
        "competenties",
        &["code", "naam", "groep_code", "groep"],
        (0..COMPETENCES.len())
            .map(|i| {
                vec![
                    cat::competence_code(i),
                    COMPETENCES[i].to_string(),
                    cat::COMPETENCE_GROUPS[i / 6].0.to_string(),
                    cat::COMPETENCE_GROUPS[i / 6].1.to_string(),
                ]
            })
            .collect(),
    )?;
    sheet(
        "beroepen",
        &[
            "isco",
            "titel",
            "sector",
            "competenties",
            "opleidingsniveau_min",
        ],
        OCCUPATIONS
            .iter()
            .map(|o| {
                vec![
                    o.isco.to_string(),
                    o.title.to_string(),
                    o.sector.to_string(),
                    o.competences
                        .iter()
                        .map(|&c| cat::competence_code(c))
                        .collect::<Vec<_>>()
                        .join("|"),
                    EDUCATION_LEVELS[o.min_education].to_string(),
                ]
            })
            .collect(),
    )?;
    sheet(
        "opleidingsniveaus",
        &["niveau", "omschrijving"],
        EDUCATION_LEVELS
            .iter()
            .enumerate()
            .map(|(i, e)| vec![i.to_string(), e.to_string()])
            .collect(),
    )?;
    let path = root.join(CODELISTS_FILE);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|error| SynthError::Io {
            path: parent.to_path_buf(),
            error,
        })?;
    }
    wb.save(&path).map_err(x)
}

fn manifest(cfg: &Config) -> serde_json::Value {
    let csv = |system: &str, enc: Encoding, delim: &str, dates: &str, decimal: &str, crlf: bool| json!({"system": system, "format": "csv", "encoding": enc.name(), "delimiter": delim, "date_format": dates, "decimal_separator": decimal, "line_ending": if crlf {"CRLF"} else {"LF"}});
    let suite = csv(
        "uitkeringsadministratie",
        Encoding::Windows1252,
        ";",
        "dd-mm-jjjj",
        ",",
        true,
    );
    let rei = csv(
        "re-integratiesysteem",
        Encoding::Utf8Bom,
        ",",
        "jjjj-mm-dd",
        ".",
        false,
    );
    json!({
        "generator": "inzicht synth",
        "seed": cfg.seed,
        "clients": cfg.clients,
        "from": cfg.from.to_string(),
        "to": cfg.to.to_string(),
        "files": {
            PERSONS_FILE: suite, SPELLS_FILE: suite,
            ASSESSMENTS_FILE: rei, PROVISIONS_FILE: rei, PROFILES_FILE: rei, COMPETENCES_FILE: rei, EXPERIENCE_FILE: rei,
            VACANCIES_FILE: csv("werkgeversservicepunt", Encoding::Utf8, ",", "jjjj-mm-dd", ".", false),
            PC6_FILE: csv("CBS", Encoding::Utf8, ";", "-", ".", false),
            BUURTEN_FILE: csv("CBS/PDOK (synthetisch)", Encoding::Utf8, ",", "-", ".", false),
            CODELISTS_FILE: {"system": "functioneel beheer", "format": "xlsx"},
        },
        "person_key": "bsn",
    })
}

#[allow(clippy::too_many_arguments)]
fn build_truth(
    cfg: &Config,
    effects: &[EffectAcc],
    by_band: &[Vec<EffectAcc>],
    by_trede: &[Vec<EffectAcc>],
    by_type: &[Vec<EffectAcc>],
    vacancies: &[Vacancy],
) -> serde_json::Value {
    let groups: Vec<serde_json::Value> = (0..cat::N_GROUPS)
        .map(|g| {
            let mut v = effects[g].to_json();
            let sub = |accs: &[EffectAcc], label: &dyn Fn(usize) -> String| -> Vec<serde_json::Value> {
                accs.iter()
                    .enumerate()
                    .filter(|(_, a)| a.n > 0)
                    .map(|(i, a)| {
                        let mut j = a.to_json();
                        j["value"] = json!(label(i));
                        j
                    })
                    .collect()
            };
            v["group"] = json!(cat::PROVISION_GROUPS[g].0);
            v["name"] = json!(cat::PROVISION_GROUPS[g].1);
            v["subgroups"] = json!({
                "age_band": sub(&by_band[g], &|i| AGE_BANDS[i].to_string()),
                "trede": sub(&by_trede[g], &|i| (i + 1).to_string()),
                "latent_type": sub(&by_type[g], &|i| LATENT_TYPES[i].0.to_string()),
            });
            v["log_hazard_effect_by_subgroup"] = json!({
                "age_band": (0..AGE_BANDS.len()).map(|b| json!({"age_band": AGE_BANDS[b], "trede_1_2": model::provision_effect(g, b, 2, false), "trede_3": model::provision_effect(g, b, 3, false), "trede_4_plus": model::provision_effect(g, b, 4, false)})).collect::<Vec<_>>(),
                "lock_in_while_running": model::provision_effect(g, 1, 3, true) != model::provision_effect(g, 1, 3, false),
                "lock_in_effect": model::provision_effect(g, 1, 3, true),
            });
            v
        })
        .collect();

    json!({
        "warning": "Known truth of the synthetic municipality. Analyses must never read this file; only tests do.",
        "seed": cfg.seed,
        "clients": cfg.clients,
        "from": cfg.from.to_string(),
        "to": cfg.to.to_string(),
        "model": {
            "time_unit": "month",
            "wsi_hazard": "h_k(m) = exp(eta_k + duration_effect(d) + period_effect(year) + age_effect(age) + sum_g theta_kg(m)); household leaves with probability 1 - exp(-sum_k h_k(m))",
            "eta": {"intercept": model::BASE_LOG_HAZARD, "skill": model::COEF_SKILL, "health_burden": model::COEF_HEALTH, "motivation": model::COEF_MOTIVATION, "social": model::COEF_SOCIAL, "language_a2_or_lower": model::COEF_LOW_LANGUAGE, "single_with_child_under_5": model::COEF_YOUNG_CHILD_SINGLE},
            "duration_effect": [{"months": "0-5", "value": model::duration_effect(0)}, {"months": "6-11", "value": model::duration_effect(6)}, {"months": "12-23", "value": model::duration_effect(12)}, {"months": "24-47", "value": model::duration_effect(24)}, {"months": "48-95", "value": model::duration_effect(48)}, {"months": "96+", "value": model::duration_effect(96)}],
            "age_effect": [{"ages": "18-26", "value": model::age_effect(20)}, {"ages": "27-44", "value": model::age_effect(30)}, {"ages": "45-54", "value": model::age_effect(50)}, {"ages": "55+", "value": model::age_effect(60)}],
            "provision_assignment": {"confounding": cfg.confounding.name(), "decides_on": match cfg.confounding { model::Confounding::Latent => "perceived prognosis from the latent skill, health and motivation (partly unmeasured), true trede and loonwaarde", model::Confounding::Recorded => "only what the file records before the month: assessment items carried forward (trede, loonwaarde, health and language obstacles, motivation, self-reliance, digital skills), month of the spell, age, calendar year" }, "base_monthly_probability": model::PROVISION_BASE, "selection_on_perceived_prognosis": model::PROVISION_SELECTION, "note": "positive selection: consultants give the group to clients with better prospects, so a naive comparison overstates the effect; negative: understates it"},
            "effect_definition": "theta acts from the month after a client's first start of the group in the spell; the truth compares each treated client's spell with and without that start (the same random draws otherwise; later starts of the group stay possible in both, intention to treat)",
        },
        "latent_types": LATENT_TYPES.iter().map(|(c, d)| json!({"code": c, "description": d})).collect::<Vec<_>>(),
        "provision_effects": {
            "scale": "difference in cumulative W/S/I outflow (treated with minus without the provision) at 6, 12 and 24 months after the start, averaged over treated first starts in the data period (ATT)",
            "primary": "moving away switched off in both arms (the primary analysis censors at moving)",
            "moving_competing": "moving away as a competing exit (the sensitivity analysis)",
            "groups": groups,
        },
        "matching": {
            "rule": "a vacancy is a good match for a client when the client's true competences cover at least 75% of the required ones (grade 2 when all), education is at most one level below the minimum, the buurt lies within the client's maximum travel distance and the hours are at most 4 above what the client can work",
            "n_vacancies": vacancies.len(),
            "clients": "see matching_clients",
        },
    })
}

/// Writes truth.json: the small parts as one object, then the long lists (one element a line)
/// streamed, so that memory stays flat at national scale.
fn write_truth(
    root: &Path,
    head: &serde_json::Value,
    latent: &[(String, usize, u32, &'static str)],
    defects: &[Defect],
    eval: &[EvalClient],
    vacancies: &[Vacancy],
    buurten: &[Buurt],
) -> Result<(), SynthError> {
    use std::io::Write;
    let path = root.join("truth.json");
    let err = |error| SynthError::Io {
        path: root.join("truth.json"),
        error,
    };
    let file = std::fs::File::create(&path).map_err(err)?;
    let mut w = std::io::BufWriter::new(file);
    let text = serde_json::to_string_pretty(head).unwrap_or_else(|_| "{}".into());
    let open = text
        .trim_end()
        .strip_suffix('}')
        .unwrap_or("{")
        .trim_end()
        .to_string();
    let run = |w: &mut std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
        w.write_all(open.as_bytes())?;
        w.write_all(b",\n  \"clients_latent_type\": [")?;
        for (i, (b, t, h, role)) in latent.iter().enumerate() {
            let item =
                json!({"bsn": b, "latent_type": LATENT_TYPES[*t].0, "household": h, "role": role});
            write!(w, "{}\n    {}", if i == 0 { "" } else { "," }, item)?;
        }
        w.write_all(b"\n  ],\n  \"defects\": [")?;
        for (i, d) in defects.iter().enumerate() {
            write!(
                w,
                "{}\n    {}",
                if i == 0 { "" } else { "," },
                serde_json::to_string(d).unwrap_or_default()
            )?;
        }
        w.write_all(b"\n  ],\n  \"matching_clients\": [")?;
        for (i, c) in eval.iter().enumerate() {
            let mut good = Vec::new();
            for v in vacancies {
                if let Some(grade) = match_grade(c, v, buurten) {
                    good.push(json!({"vacancy": v.id, "grade": grade}));
                }
            }
            let item = json!({"bsn": c.bsn, "good": good});
            write!(w, "{}\n    {}", if i == 0 { "" } else { "," }, item)?;
        }
        w.write_all(b"\n  ]\n}\n")?;
        w.flush()
    };
    run(&mut w).map_err(err)
}

/// The matching truth: a vacancy is a good match when the client's true competences cover at
/// least 75% of the required ones (grade 2 when all), education is at most one level below the
/// minimum, the buurt lies within the client's travel distance and the hours fit.
fn match_grade(c: &EvalClient, v: &Vacancy, buurten: &[Buurt]) -> Option<u8> {
    let need = v.required.count_ones();
    if need == 0 {
        return None;
    }
    let coverage = f64::from((c.competences & v.required).count_ones()) / f64::from(need);
    let edu_ok = c.education + 1 >= v.min_education;
    let hours_ok = v.hours <= c.hours + 4;
    if coverage < 0.75 || !edu_ok || !hours_ok {
        return None;
    }
    let near = geo::distance_km(&buurten[c.buurt], &buurten[v.buurt]) <= f64::from(c.max_travel_km);
    near.then_some(if coverage >= 1.0 { 2 } else { 1 })
}
