//! The synthetic municipality against its specification (issue 2): the figures of
//! shared/domain.md §1, determinism, every recorded defect really in the files (and no others),
//! and a naive provision effect biased in the direction of the confounding.

mod common;

use common::{generated, json, read, Table};
use inzicht_domain::{bsn, codes, Date, Month};
use inzicht_synth::catalogue;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

const PERSONS: &str = "exports/suite/personen.csv";
const SPELLS: &str = "exports/suite/uitkeringen.csv";
const PROVISIONS: &str = "exports/reintegratie/voorzieningen.csv";
const ASSESSMENTS: &str = "exports/reintegratie/diagnoses.csv";

fn within(name: &str, value: f64, target: f64, relative: f64) {
    let lo = target * (1.0 - relative);
    let hi = target * (1.0 + relative);
    assert!(
        value >= lo && value <= hi,
        "{name} = {value}, expected {target} ± {:.0}%",
        relative * 100.0
    );
}

fn share_within(name: &str, value: f64, target: f64) {
    assert!(
        (value - target).abs() <= 0.03,
        "{name} = {value:.4}, expected {target} ± 0.03"
    );
}

#[test]
fn default_size_has_the_figures_of_the_domain() {
    for seed in [1, 2] {
        let dir = generated(seed, 7_400);
        let s = json(&dir.join("summary.json"));
        let f = |k: &str| s[k].as_f64().unwrap_or(f64::NAN);
        assert_eq!(f("clients"), 7_400.0);
        within("spells", f("spells"), 8_300.0, 0.10);
        within("spells_running", f("spells_running"), 4_100.0, 0.10);
        within("provisions", f("provisions"), 25_000.0, 0.10);
        assert_eq!(f("provision_types"), 150.0);
        assert_eq!(f("provision_groups"), 5.0);
        within("features", f("features"), 60.0, 0.10);
        share_within("outflow_wsi_share", f("outflow_wsi_share"), 0.33);
        share_within(
            "outflow_wsi_within_1y_share",
            f("outflow_wsi_within_1y_share"),
            0.22,
        );
        // Other reasons in plausible shares of the ended spells (shared/domain.md §3).
        let by: BTreeMap<String, f64> = s["outflow_by_bus_code"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
            .collect();
        let ended: f64 = by.values().sum();
        let share = |codes: &[&str]| {
            codes
                .iter()
                .map(|c| by.get(*c).copied().unwrap_or(0.0))
                .sum::<f64>()
                / ended
        };
        let work = share(&["11", "13"]);
        assert!(
            (0.45..0.70).contains(&work),
            "work share of ended spells {work}"
        );
        assert!(
            (0.02..0.10).contains(&share(&["01"])),
            "school {}",
            share(&["01"])
        );
        assert!(
            (0.04..0.15).contains(&share(&["14", "15", "17", "18", "19"])),
            "income"
        );
        assert!(
            (0.03..0.15).contains(&share(&["32", "33"])),
            "moving away {}",
            share(&["32", "33"])
        );
        assert!(
            (0.04..0.15).contains(&share(&["03"])),
            "AOW age {}",
            share(&["03"])
        );
        assert!(
            (0.03..0.15).contains(&share(&["31", "34", "35", "98"])),
            "administrative"
        );
        for k in inzicht_synth::defects::ALL_KINDS {
            assert!(
                s["defects"][k.name()].as_u64().unwrap_or(0) > 0,
                "no {} defects at the default rates",
                k.name()
            );
        }
    }
}

#[test]
fn output_is_byte_identical_per_seed() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    let cfg = inzicht_synth::Config::new(42, 600);
    inzicht_synth::generate(&cfg, &a.path().join("x"), &mut |_, _| {}).unwrap();
    inzicht_synth::generate(&cfg, &b.path().join("x"), &mut |_, _| {}).unwrap();
    inzicht_synth::generate(
        &inzicht_synth::Config::new(43, 600),
        &c.path().join("x"),
        &mut |_, _| {},
    )
    .unwrap();
    let files = [
        PERSONS,
        SPELLS,
        PROVISIONS,
        ASSESSMENTS,
        "exports/referentie/codelijsten.xlsx",
        "exports/wsp/vacatures.csv",
        "truth.json",
        "summary.json",
        "manifest.json",
    ];
    for f in files {
        let x = std::fs::read(a.path().join("x").join(f)).unwrap();
        let y = std::fs::read(b.path().join("x").join(f)).unwrap();
        assert!(x == y, "{f} differs between two runs with the same seed");
    }
    let x = std::fs::read(a.path().join("x").join(SPELLS)).unwrap();
    let z = std::fs::read(c.path().join("x").join(SPELLS)).unwrap();
    assert_ne!(x, z, "another seed must give other data");
}

#[test]
fn formats_are_those_of_real_exports() {
    let dir = generated(1, 7_400);
    let persons = std::fs::read(dir.join(PERSONS)).unwrap();
    assert!(
        std::str::from_utf8(&persons).is_err(),
        "the benefit system exports Windows-1252, not UTF-8"
    );
    assert!(
        persons.windows(2).any(|w| w == b"\r\n"),
        "CRLF line endings"
    );
    let spells = read(&dir.join(SPELLS));
    let start = spells.col("ingangsdatum");
    assert!(spells
        .records
        .iter()
        .filter(|r| !r.fields[start].is_empty())
        .take(100)
        .all(|r| Date::parse_dutch(&r.fields[start]).is_some()
            || r.fields[start].starts_with("31-02")));
    let amount = spells.col("netto_uitkering");
    assert!(
        spells
            .records
            .iter()
            .take(50)
            .all(|r| r.fields[amount].contains(',')),
        "decimal commas"
    );
    assert!(
        spells
            .records
            .iter()
            .any(|r| r.fields.iter().any(|f| f.contains('\n'))),
        "some quoted fields span lines"
    );
    let prov = std::fs::read(dir.join(PROVISIONS)).unwrap();
    assert!(
        prov.starts_with(b"\xEF\xBB\xBF"),
        "re-integration exports carry a BOM"
    );
    // The code lists are a real workbook.
    use calamine::{open_workbook, Reader, Xlsx};
    let mut wb: Xlsx<_> =
        open_workbook(dir.join("exports/referentie/codelijsten.xlsx")).expect("open xlsx");
    let names = wb.sheet_names();
    for sheet in [
        "redenen_beeindiging",
        "voorzieningen",
        "voorzieningsgroepen",
        "competenties",
        "beroepen",
    ] {
        assert!(
            names.iter().any(|n| n == sheet),
            "sheet {sheet} in {names:?}"
        );
    }
    let range = wb.worksheet_range("voorzieningen").expect("sheet");
    assert_eq!(range.height(), 151, "header + 150 local provision types");
}

/// What ingest will load: the rows of `file` minus the lines a quarantine defect names.
fn quarantined_lines(truth: &serde_json::Value, file: &str) -> HashSet<u64> {
    truth["defects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            d["file"] == file
                && !matches!(d["kind"].as_str(), Some("stray_whitespace" | "mixed_case"))
        })
        .map(|d| d["line"].as_u64().unwrap())
        .collect()
}

fn bus_of_local(local: &str) -> Option<&'static str> {
    catalogue::END_REASONS
        .iter()
        .find(|r| r.0 == local.trim())
        .map(|r| r.2)
}

fn is_wsi(bus: &str) -> bool {
    codes::bus_end_reason(bus).is_some_and(|r| r.class.is_wsi())
}

#[test]
fn summary_is_counted_from_the_written_files() {
    let dir = generated(1, 7_400);
    let truth = json(&dir.join("truth.json"));
    let s = json(&dir.join("summary.json"));
    let to = Month::parse(s["to"].as_str().unwrap()).unwrap();
    let spells = read(&dir.join(SPELLS));
    let skip = quarantined_lines(&truth, SPELLS);
    let (cs, ce, cr) = (
        spells.col("ingangsdatum"),
        spells.col("einddatum"),
        spells.col("reden_beeindiging"),
    );
    let (mut n, mut running, mut wsi, mut eligible, mut wsi_1y) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for r in spells.records.iter().filter(|r| !skip.contains(&r.line)) {
        n += 1;
        let start = Date::parse_dutch(&r.fields[cs]).expect("valid start");
        let started_early = start.month_of() <= to.plus(-12);
        eligible += u64::from(started_early);
        if r.fields[ce].is_empty() {
            running += 1;
            continue;
        }
        let end = Date::parse_dutch(&r.fields[ce]).expect("valid end");
        let w = is_wsi(bus_of_local(&r.fields[cr]).expect("known code"));
        wsi += u64::from(w);
        let limit = start.month_of().plus(12);
        if started_early && w && (end.month_of(), end.day) < (limit, start.day) {
            wsi_1y += 1;
        }
    }
    assert_eq!(s["spells"].as_u64(), Some(n));
    assert_eq!(s["spells_running"].as_u64(), Some(running));
    assert!((s["outflow_wsi_share"].as_f64().unwrap() - wsi as f64 / n as f64).abs() < 1e-5);
    assert!(
        (s["outflow_wsi_within_1y_share"].as_f64().unwrap() - wsi_1y as f64 / eligible as f64)
            .abs()
            < 1e-5
    );

    let persons = read(&dir.join(PERSONS));
    let skip = quarantined_lines(&truth, PERSONS);
    assert_eq!(
        persons
            .records
            .iter()
            .filter(|r| !skip.contains(&r.line))
            .count() as u64,
        s["clients"].as_u64().unwrap()
    );
    let provisions = read(&dir.join(PROVISIONS));
    let skip = quarantined_lines(&truth, PROVISIONS);
    let loaded: Vec<_> = provisions
        .records
        .iter()
        .filter(|r| !skip.contains(&r.line))
        .collect();
    assert_eq!(loaded.len() as u64, s["provisions"].as_u64().unwrap());
    let code = provisions.col("voorzieningcode");
    let types: HashSet<String> = loaded
        .iter()
        .map(|r| r.fields[code].trim().to_uppercase())
        .collect();
    assert_eq!(types.len() as u64, s["provision_types"].as_u64().unwrap());
}

/// A loaded spell: its line, start and end.
type Span = (u64, Date, Option<Date>);

/// Every defect in truth.json is in the files, and the files hold no unrecorded defect of the
/// kinds a reader can see on its own.
#[test]
fn every_recorded_defect_is_in_the_files_and_no_other() {
    let dir = generated(1, 7_400);
    let truth = json(&dir.join("truth.json"));
    let tables: HashMap<&str, Table> = [PERSONS, SPELLS, PROVISIONS, ASSESSMENTS]
        .iter()
        .map(|f| (*f, read(&dir.join(f))))
        .collect();
    let persons = &tables[PERSONS];
    let person_bsns: HashSet<&str> = persons
        .records
        .iter()
        .map(|r| r.fields[0].as_str())
        .collect();
    let local_codes: HashSet<&str> = catalogue::END_REASONS.iter().map(|r| r.0).collect();
    let type_codes: HashSet<String> = catalogue::provision_types()
        .into_iter()
        .map(|t| t.code)
        .collect();
    // Spells per person from rows that load, for the outside-spell and overlap checks.
    let spells = &tables[SPELLS];
    let spell_skip = quarantined_lines(&truth, SPELLS);
    let mut spans: HashMap<&str, Vec<Span>> = HashMap::new();
    for r in &spells.records {
        if spell_skip.contains(&r.line) {
            continue;
        }
        let start = Date::parse_dutch(&r.fields[3]).unwrap();
        spans.entry(r.fields[0].as_str()).or_default().push((
            r.line,
            start,
            Date::parse_dutch(&r.fields[4]),
        ));
    }
    let mut seen: HashMap<(&str, u64), Vec<&str>> = HashMap::new();
    for d in truth["defects"].as_array().unwrap() {
        let file = d["file"].as_str().unwrap();
        let line = d["line"].as_u64().unwrap();
        let kind = d["kind"].as_str().unwrap();
        seen.entry((file, line)).or_default().push(kind);
        let t = &tables[file];
        let rec = t
            .by_line()
            .get(&line)
            .copied()
            .unwrap_or_else(|| panic!("{kind}: no record starts at {file}:{line}"));
        let col = d["column"].as_str().map(|c| t.col(c));
        let value = col.map(|c| rec.fields[c].as_str()).unwrap_or("");
        let dutch = file.contains("/suite/");
        let parse = |s: &str| {
            if dutch {
                Date::parse_dutch(s)
            } else {
                Date::parse_iso(s)
            }
        };
        match kind {
            "invalid_bsn" => assert!(!bsn::is_valid(value), "{file}:{line} BSN {value} passes"),
            "empty_cell" => assert!(value.is_empty(), "{file}:{line} not empty"),
            "invalid_date" => assert!(
                !value.is_empty() && parse(value).is_none(),
                "{file}:{line} date {value} parses"
            ),
            "end_before_start" => {
                let (s, e) = if file == SPELLS { (3, 4) } else { (4, 5) };
                assert!(
                    parse(&rec.fields[e]).unwrap() < parse(&rec.fields[s]).unwrap(),
                    "{file}:{line}"
                );
            }
            "unknown_code" => {
                let known = if file == SPELLS {
                    local_codes.contains(value.trim())
                } else {
                    type_codes.contains(&value.trim().to_uppercase())
                };
                assert!(!known, "{file}:{line} code {value} is known");
            }
            "duplicate_row" => assert!(
                t.records
                    .iter()
                    .any(|r| r.line < line && r.fields == rec.fields),
                "{file}:{line} has no earlier twin"
            ),
            "orphan_reference" => assert!(
                bsn::is_valid(&rec.fields[0]) && !person_bsns.contains(rec.fields[0].as_str()),
                "{file}:{line}"
            ),
            "provision_outside_spell" => {
                let start = Date::parse_iso(&rec.fields[4]).unwrap();
                let inside = spans.get(rec.fields[0].as_str()).is_some_and(|v| {
                    v.iter()
                        .any(|(_, s, e)| *s <= start && e.is_none_or(|e| start <= e))
                });
                assert!(!inside, "{file}:{line} lies inside a spell");
            }
            "overlapping_spells" => {
                let start = Date::parse_dutch(&rec.fields[3]).unwrap();
                let overlaps = spans.get(rec.fields[0].as_str()).is_some_and(|v| {
                    v.iter()
                        .any(|(l, s, e)| *l < line && *s <= start && e.is_none_or(|e| start <= e))
                });
                assert!(overlaps, "{file}:{line} overlaps nothing earlier");
            }
            "stray_whitespace" => assert!(value != value.trim(), "{file}:{line} {value:?}"),
            "mixed_case" => assert!(
                value != value.to_lowercase() || value != value.to_uppercase(),
                "{file}:{line}"
            ),
            other => panic!("unknown kind {other}"),
        }
    }
    // No unrecorded invalid BSNs, duplicates, orphans or reversed dates.
    for (file, t) in &tables {
        let mut earlier: HashSet<&Vec<String>> = HashSet::new();
        for r in &t.records {
            let listed = seen.get(&(*file, r.line)).cloned().unwrap_or_default();
            let b = r.fields[0].as_str();
            if !bsn::is_valid(b) {
                assert!(
                    listed.contains(&"invalid_bsn"),
                    "{file}:{} unrecorded invalid BSN {b}",
                    r.line
                );
            } else if *file != PERSONS && !person_bsns.contains(b) {
                assert!(
                    listed.contains(&"orphan_reference"),
                    "{file}:{} unrecorded orphan",
                    r.line
                );
            }
            if !earlier.insert(&r.fields) {
                assert!(
                    listed.contains(&"duplicate_row"),
                    "{file}:{} unrecorded duplicate",
                    r.line
                );
            }
        }
    }
}

/// The naive risk-set comparison (treated at month d of the spell versus everyone still on
/// benefit at month d who has not had the group, no adjustment) differs from the true effect in
/// the direction the confounding implies: up where consultants pick clients with better
/// prospects (groups G4, G5), down where they pick those with worse prospects (G1).
#[test]
fn naive_effect_is_biased_in_the_direction_of_the_confounding() {
    let dir = generated(1, 7_400);
    let truth = json(&dir.join("truth.json"));
    let to = Month::parse(truth["to"].as_str().unwrap()).unwrap();
    let spells = read(&dir.join(SPELLS));
    let spell_skip = quarantined_lines(&truth, SPELLS);
    let provisions = read(&dir.join(PROVISIONS));
    let prov_skip = quarantined_lines(&truth, PROVISIONS);
    let group_of: HashMap<String, usize> = catalogue::provision_types()
        .into_iter()
        .map(|t| (t.code, t.group))
        .collect();
    let mut starts: HashMap<&str, Vec<(usize, Month)>> = HashMap::new();
    for r in provisions
        .records
        .iter()
        .filter(|r| !prov_skip.contains(&r.line))
    {
        let g = group_of[&r.fields[2].trim().to_uppercase()];
        starts
            .entry(r.fields[0].as_str())
            .or_default()
            .push((g, Date::parse_iso(&r.fields[4]).unwrap().month_of()));
    }
    struct Spell {
        start: Month,
        end: Option<Month>,
        wsi: bool,
        first: [Option<Month>; 5],
    }
    let mut all = Vec::new();
    for r in spells
        .records
        .iter()
        .filter(|r| !spell_skip.contains(&r.line))
    {
        let start = Date::parse_dutch(&r.fields[3]).unwrap().month_of();
        let end = Date::parse_dutch(&r.fields[4]).map(|d| d.month_of());
        let wsi = end.is_some() && is_wsi(bus_of_local(&r.fields[6]).unwrap());
        let mut first = [None; 5];
        for (g, m) in starts.get(r.fields[0].as_str()).into_iter().flatten() {
            if *m >= start && end.is_none_or(|e| *m <= e) && first[*g].is_none_or(|f| *m < f) {
                first[*g] = Some(*m);
            }
        }
        all.push(Spell {
            start: start.max(Month::new(2012, 1)),
            end,
            wsi,
            first,
        });
    }
    let outcome =
        |s: &Spell, at: Month| s.wsi && s.end.is_some_and(|e| e > at && e.since(at) <= 12);
    for (g, direction) in [(0usize, -1.0), (3, 1.0), (4, 1.0)] {
        // Controls per duration month d: (count, W/S/I within 12 months).
        let mut controls: HashMap<i32, (f64, f64)> = HashMap::new();
        for s in &all {
            let last = s.end.unwrap_or(to);
            let mut m = s.start;
            while m < last && m.plus(12) <= to {
                if s.first[g].is_none_or(|f| f > m) {
                    let c = controls.entry(m.since(s.start)).or_default();
                    c.0 += 1.0;
                    c.1 += f64::from(u8::from(outcome(s, m)));
                }
                m = m.plus(1);
            }
        }
        let (mut n, mut diff) = (0.0, 0.0);
        for s in &all {
            if let Some(t) = s.first[g] {
                if t.plus(12) > to {
                    continue;
                }
                if let Some((cn, cy)) = controls.get(&t.since(s.start)) {
                    if *cn >= 20.0 {
                        n += 1.0;
                        diff += f64::from(u8::from(outcome(s, t))) - cy / cn;
                    }
                }
            }
        }
        let naive = diff / n;
        let true_effect = truth["provision_effects"]["groups"][g]["moving_competing"]["att_12"]
            .as_f64()
            .unwrap();
        eprintln!(
            "group G{}: naive {naive:.4} (n = {n}), true {true_effect:.4}",
            g + 1
        );
        assert!(
            direction * (naive - true_effect) > 0.01,
            "G{}: naive {naive:.4} vs true {true_effect:.4} not biased in direction {direction}",
            g + 1
        );
    }
}

#[test]
fn truth_lists_every_client_and_types_differ_in_what_the_exports_show() {
    let dir = generated(1, 7_400);
    let truth = json(&dir.join("truth.json"));
    let list = truth["clients_latent_type"].as_array().unwrap();
    assert_eq!(list.len(), 7_400);
    let type_of: HashMap<&str, &str> = list
        .iter()
        .map(|c| {
            (
                c["bsn"].as_str().unwrap(),
                c["latent_type"].as_str().unwrap(),
            )
        })
        .collect();
    let persons = read(&dir.join(PERSONS));
    let age_col = persons.col("geboortedatum");
    let mut ages: HashMap<&str, (f64, f64)> = HashMap::new();
    for r in &persons.records {
        if let (Some(t), Some(b)) = (
            type_of.get(r.fields[0].as_str()),
            Date::parse_dutch(&r.fields[age_col]),
        ) {
            let a = ages.entry(t).or_default();
            a.0 += 1.0;
            a.1 += f64::from(b.year);
        }
    }
    let mean = |t: &str| ages[t].1 / ages[t].0;
    assert!(
        mean("jong_sterk") - mean("ervaren_ouder") > 15.0,
        "young type is born later"
    );
    // Good matches exist for most sampled clients.
    let m = truth["matching_clients"].as_array().unwrap();
    assert!(m.len() >= 500);
    let with = m
        .iter()
        .filter(|c| !c["good"].as_array().unwrap().is_empty())
        .count();
    assert!(
        with * 2 > m.len(),
        "{with} of {} sampled clients have a good match",
        m.len()
    );
}

#[test]
fn bad_configuration_is_refused_without_leaving_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    let mut cfg = inzicht_synth::Config::new(1, 0);
    assert!(inzicht_synth::generate(&cfg, &out, &mut |_, _| {}).is_err());
    cfg.clients = 10;
    cfg.to = Month::new(2011, 1);
    let e = inzicht_synth::generate(&cfg, &out, &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("--to"), "{e}");
    assert!(!out.exists());
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let e = inzicht_synth::generate(&inzicht_synth::Config::new(1, 10), &out, &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("not empty"), "{e}");
    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).unwrap(),
        "mine"
    );
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary directories left behind");
}

#[test]
fn tiny_and_odd_configurations_work() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, clients) in [1u32, 2, 3, 17].iter().enumerate() {
        let mut cfg = inzicht_synth::Config::new(7, *clients);
        cfg.from = Month::new(2020, 3);
        cfg.to = Month::new(2021, 2);
        let out = tmp.path().join(format!("c{i}"));
        let s = inzicht_synth::generate(&cfg, &out, &mut |_, _| {}).unwrap();
        assert_eq!(s.clients, u64::from(*clients));
        assert!(Path::new(&out.join("truth.json")).exists());
    }
}
