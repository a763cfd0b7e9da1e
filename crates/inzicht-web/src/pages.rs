//! The analysis pages: for each, what it computes (a protected JSON envelope — the page's JSON
//! twin), how it is shown (HTML), which tables it offers for download and which charts it draws.
//! Everything here works on results that already passed disclosure control in
//! `inzicht-store`; this module adds no number of its own except ratios of protected numbers.

use crate::export::{Cell, Tab};
use crate::html::{self, esc, Lang};
use inzicht_protect::Protector;
use inzicht_store::cohort::{self, CohortSpec, Filters, Reference};
use inzicht_store::patterns::Keyed;
use inzicht_store::table::{Asker, Measure, Session, TableQuery};
use serde_json::{json, Map, Value};

/// Request parameters (repeated keys allowed), without the ones that only steer presentation.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

const PRESENTATION: &[&str] = &["lang", "tabel", "formaat", "csrf"];

impl Params {
    pub fn new(mut pairs: Vec<(String, String)>) -> Params {
        pairs.retain(|(k, v)| !PRESENTATION.contains(&k.as_str()) && !v.is_empty());
        pairs.sort();
        pairs.dedup();
        Params(pairs)
    }
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }
    pub fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .collect()
    }
    /// The canonical query string (sorted), for cache keys and links.
    pub fn query(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{}={}", html::url_enc(k), html::url_enc(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
    pub fn json(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in &self.0 {
            let e = m.entry(k.clone()).or_insert_with(|| json!([]));
            if let Some(a) = e.as_array_mut() {
                a.push(json!(v));
            }
        }
        Value::Object(m)
    }
    fn int(&self, k: &str, default: i64, lo: i64, hi: i64) -> Result<i64, String> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<i64>() {
                Ok(x) if (lo..=hi).contains(&x) => Ok(x),
                _ => Err(format!("{k} = '{v}': geef een geheel getal van {lo} tot en met {hi} / give a whole number from {lo} to {hi}")),
            },
        }
    }
}

/// What a page needs from the server.
pub struct Ctx<'a> {
    pub session: &'a Session,
    pub protector: &'a Protector,
    /// For the free table: the user's query log (differencing defence).
    pub asker: Option<Asker<'a>>,
}

#[derive(Debug)]
pub enum PageError {
    /// The user must change a choice (shown on the page, status 400).
    Input(String),
    Internal(String),
}

impl From<String> for PageError {
    fn from(m: String) -> Self {
        PageError::Input(m)
    }
}

impl From<inzicht_store::StoreError> for PageError {
    fn from(e: inzicht_store::StoreError) -> Self {
        match e {
            inzicht_store::StoreError::Input(m) => PageError::Input(m),
            inzicht_store::StoreError::Internal(m) => PageError::Internal(m),
        }
    }
}

impl From<inzicht_store::table::TableError> for PageError {
    fn from(e: inzicht_store::table::TableError) -> Self {
        use inzicht_store::table::TableError as T;
        match e {
            T::Input(m) | T::Refused(m) => PageError::Input(m),
            T::Internal(m) => PageError::Internal(m),
        }
    }
}

/// The common envelope of a page: the result, its protection metadata (from the cell counts the
/// analysis reported) and the snapshot and parameters.
pub fn envelope(mut m: Map<String, Value>, ctx: &Ctx, p: &Params) -> Value {
    let total = m
        .remove("cells_total")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    let sup = m
        .remove("cells_suppressed")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    inzicht_protect::envelope(
        m,
        ctx.protector.metadata(total as usize, sup as usize),
        Some(&ctx.session.snapshot),
        p.json(),
    )
}

// ---------------------------------------------------------------- monitor

/// Protected cells of a table: the key (one text per dimension) and the value (None: suppressed).
type Cells = Vec<(Vec<String>, Option<f64>)>;

pub const MONITOR_BREAKDOWNS: &[(&str, &str, &str)] = &[
    ("outflow", "uitstroomreden", "outflow reason"),
    ("duration_band", "uitkeringsduur", "duration band"),
    ("wijk", "wijk", "district (wijk)"),
    ("buurt", "buurt", "neighbourhood (buurt)"),
    ("age_band", "leeftijdsklasse", "age band"),
    ("household_type", "huishoudtype", "household type"),
    ("sex", "geslacht", "sex"),
];
pub const COHORT_BREAKDOWNS: &[(&str, &str, &str)] = &[
    ("reden_aanvraag", "reden instroom", "inflow reason"),
    ("geslacht", "geslacht", "sex"),
    ("leeftijdsklasse", "leeftijdsklasse", "age band"),
];

fn table_cells(ctx: &Ctx, by: &[&str], filter: Option<&str>) -> Result<Cells, PageError> {
    let q = TableQuery {
        by: by.iter().map(|s| s.to_string()).collect(),
        filter: filter.map(str::to_string),
        measure: Measure::Count,
    };
    let r = ctx.session.run(&q, ctx.protector, None)?;
    Ok(r.cells
        .iter()
        .map(|c| {
            let key = by
                .iter()
                .map(|d| match &c.key[*d] {
                    Value::Null => "(onbekend)".to_string(),
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect();
            (key, c.value)
        })
        .collect())
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some((a / b * 10_000.0).round() / 10_000.0),
        _ => None,
    }
}

pub fn monitor(ctx: &Ctx, p: &Params) -> Result<Value, PageError> {
    let by = p.get("indeling").unwrap_or("outflow");
    if !MONITOR_BREAKDOWNS.iter().any(|b| b.0 == by) {
        return Err(PageError::Input(format!(
            "indeling '{by}' bestaat niet / unknown breakdown"
        )));
    }
    let cohort_by = p.get("cohortindeling").unwrap_or("leeftijdsklasse");
    if !COHORT_BREAKDOWNS.iter().any(|b| b.0 == cohort_by) {
        return Err(PageError::Input(format!(
            "cohortindeling '{cohort_by}' bestaat niet / unknown breakdown"
        )));
    }
    let caseload = table_cells(ctx, &["month"], None)?;
    let inflow = table_cells(ctx, &["month"], Some("duration_months = 0"))?;
    let outflow = table_cells(ctx, &["month"], Some("outflow != 'none'"))?;
    let find = |v: &[(Vec<String>, Option<f64>)], m: &str| {
        v.iter().find(|c| c.0[0] == m).and_then(|c| c.1)
    };
    let months: Vec<Value> = caseload
        .iter()
        .map(|(k, n)| {
            let m = &k[0];
            let i = find(&inflow, m);
            let o = find(&outflow, m);
            json!({"month": m, "caseload": n, "inflow": i, "outflow": o,
                "inflow_share": ratio(i, *n), "outflow_share": ratio(o, *n)})
        })
        .collect();
    let last_year: i64 = caseload
        .iter()
        .filter_map(|c| c.0[0].get(..4)?.parse().ok())
        .max()
        .unwrap_or(2024);
    let year = p.int("jaar", last_year, 1900, 2200)?;
    // By outflow reason: the persons who left that year (the rest would be one bar "none").
    let breakdown_filter = if by == "outflow" {
        format!("year = {year} and outflow != 'none'")
    } else {
        format!("year = {year}")
    };
    let mut breakdown = table_cells(ctx, &[by], Some(&breakdown_filter))?;
    if by == "outflow" {
        // Only those who left are asked for: the level "none" is empty by construction.
        breakdown.retain(|(k, _)| k[0] != "none");
    }
    if by == "wijk" {
        // Name and code, as the forms show them.
        let names = ctx.session.wijk_names()?;
        for (k, _) in breakdown.iter_mut() {
            if let Some((code, Some(name))) = names.iter().find(|(c, _)| *c == k[0]) {
                k[0] = wijk_label(code, name);
            }
        }
    }
    // Divosa's benchmark indicators per year: the persons who flowed in (or out) during the
    // year as a share of the caseload in January of that year, each count protected on its own.
    let inflow_year = table_cells(ctx, &["year"], Some("duration_months = 0"))?;
    let outflow_year = table_cells(ctx, &["year"], Some("outflow != 'none'"))?;
    let years_table: Vec<Value> = inflow_year
        .iter()
        .map(|(k, i)| {
            let y = &k[0];
            let january = find(&caseload, &format!("{y}-01"));
            let o = find(&outflow_year, y);
            json!({"year": y, "caseload_january": january, "inflow": i, "outflow": o,
                "inflow_share": ratio(*i, january), "outflow_share": ratio(o, january)})
        })
        .collect();
    let reasons = table_cells(ctx, &["year", "outflow"], Some("outflow != 'none'"))?;
    // Inflow cohorts: the spells by the year they started, the share that left for work, school
    // or income within 1, 2 and 3 years (the analysis of shared/domain.md §11).
    let spec = CohortSpec {
        keep_unlabelled: true,
        features: vec![cohort_by.to_string()]
            .into_iter()
            .filter(|f| f == "reden_aanvraag")
            .collect(),
        ..Default::default()
    };
    let c = cohort::build(ctx.session, &spec)?;
    let keyed = Keyed {
        keys: &c.keys,
        person: Some(&c.person),
        protector: ctx.protector,
    };
    let within = |rows: &[usize], years: i32| -> Option<f64> {
        let eligible: Vec<usize> = rows
            .iter()
            .copied()
            // Only spells whose whole window lies inside the data: counting the recent spells
            // that already left (and not those still running) would inflate the share.
            .filter(|&i| c.ref_month[i] + 12 * years - 1 <= c.data_end)
            .collect();
        if eligible.is_empty() {
            return None;
        }
        keyed.share(&eligible, |i| {
            c.exit_month[i].is_some_and(|e| e - c.ref_month[i] < 12 * years)
                && c.exit_class[i]
                    .as_deref()
                    .is_some_and(|x| spec.reasons.iter().any(|r| r == x))
        })
    };
    let mut years: Vec<i32> = c.ref_month.iter().map(|m| m.div_euclid(12)).collect();
    years.sort_unstable();
    years.dedup();
    let mut cells = 0usize;
    let mut suppressed = 0usize;
    let mut count = |v: Option<f64>| {
        cells += 1;
        if v.is_none() {
            suppressed += 1;
        }
        v
    };
    let cohorts: Vec<Value> = years
        .iter()
        .map(|&y| {
            let rows: Vec<usize> = (0..c.y.len()).filter(|&i| c.ref_month[i].div_euclid(12) == y).collect();
            json!({"year": y, "spells": count(keyed.count(rows.iter().copied())),
                "within_1y": count(within(&rows, 1)), "within_2y": count(within(&rows, 2)), "within_3y": count(within(&rows, 3))})
        })
        .collect();
    let labels: Vec<String> = if let Some((_, v)) = c.audit.iter().find(|(n, _)| n == cohort_by) {
        v.clone()
    } else if let Some(f) = c.features.iter().find(|f| f.name == cohort_by) {
        match &f.values {
            inzicht_stats::tree::FeatureValues::Categorical { codes, levels } => codes
                .iter()
                .map(|&k| {
                    levels
                        .get(k as usize)
                        .cloned()
                        .unwrap_or_else(|| "onbekend".into())
                })
                .collect(),
            _ => vec!["onbekend".into(); c.y.len()],
        }
    } else {
        vec!["onbekend".into(); c.y.len()]
    };
    let mut levels: Vec<String> = labels.clone();
    levels.sort();
    levels.dedup();
    let by_group: Vec<Value> = levels
        .iter()
        .map(|l| {
            let rows: Vec<usize> = (0..c.y.len()).filter(|&i| &labels[i] == l).collect();
            json!({"value": l, "spells": count(keyed.count(rows.iter().copied())),
                "within_1y": count(within(&rows, 1)), "within_2y": count(within(&rows, 2))})
        })
        .collect();
    let shown = |v: &[(Vec<String>, Option<f64>)]| v.iter().filter(|c| c.1.is_none()).count();
    let suppressed_tables = shown(&caseload)
        + shown(&inflow)
        + shown(&outflow)
        + shown(&breakdown)
        + shown(&reasons)
        + shown(&inflow_year)
        + shown(&outflow_year);
    let mut m = Map::new();
    m.insert("months".into(), json!(months));
    m.insert("years".into(), json!(years_table));
    m.insert("breakdown".into(), json!({"by": by, "year": year,
        "cells": breakdown.iter().map(|(k, v)| json!({"value": k[0], "persons": v})).collect::<Vec<_>>()}));
    m.insert(
        "outflow_by_reason".into(),
        json!(reasons
            .iter()
            .map(|(k, v)| json!({"year": k[0], "reason": k[1], "persons": v}))
            .collect::<Vec<_>>()),
    );
    m.insert("cohorts".into(), json!({"by_year": cohorts, "by": cohort_by, "by_group": by_group,
        "rule": "uitstroom naar werk, school of inkomen binnen 1, 2, 3 jaar na de start; alleen uitkeringen met genoeg nawerktijd / outflow to work, school or income within 1, 2, 3 years of the start; spells with enough follow-up only"}));
    m.insert("indicators".into(), json!({
        "inflow_share": "instroom als aandeel van het bestand (Divosa-benchmark) / inflow as a share of the caseload",
        "outflow_share": "uitstroom als aandeel van het bestand / outflow as a share of the caseload",
        "years": "per jaar: personen ingestroomd (uitgestroomd) in het jaar gedeeld door het bestand in januari / per year: persons who flowed in (out) during the year divided by the caseload in January"}));
    m.insert(
        "cells_total".into(),
        json!(
            cells
                + months.len() * 3
                + breakdown.len()
                + reasons.len()
                + inflow_year.len()
                + outflow_year.len()
        ),
    );
    m.insert(
        "cells_suppressed".into(),
        json!(suppressed + suppressed_tables),
    );
    Ok(envelope(m, ctx, p))
}

// ---------------------------------------------------------------- table

pub fn tabel(ctx: &Ctx, p: &Params) -> Result<Value, PageError> {
    let by: Vec<String> = p
        .all("indeling")
        .into_iter()
        .filter(|s| !s.is_empty())
        .take(3)
        .collect();
    let measure = Measure::parse(p.get("maat").unwrap_or("count")).map_err(PageError::Input)?;
    let q = TableQuery {
        by,
        filter: p.get("waar").map(str::to_string),
        measure,
    };
    let r = ctx.session.run(&q, ctx.protector, ctx.asker.as_ref())?;
    Ok(r.to_json(p.json()))
}

// ---------------------------------------------------------------- quality

pub fn quality(store: &std::path::Path, ctx: &Ctx, p: &Params) -> Result<Value, PageError> {
    let dir = inzicht_store::Store::new(store).resolve(None)?;
    let text = std::fs::read_to_string(dir.join("quality.json"))
        .map_err(|e| PageError::Internal(format!("quality.json: {e}")))?;
    let q: Value = serde_json::from_str(&text)
        .map_err(|e| PageError::Internal(format!("quality.json: {e}")))?;
    let rec = std::fs::read_to_string(dir.join("reconciliation.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .unwrap_or(Value::Null);
    let mut m = Map::new();
    m.insert("quality".into(), q);
    m.insert("reconciliation".into(), rec);
    m.insert("cells_total".into(), json!(0));
    m.insert("cells_suppressed".into(), json!(0));
    Ok(envelope(m, ctx, p))
}

// ---------------------------------------------------------------- cohort choices

pub const REASONS: &[(&str, &str, &str)] = &[
    ("work", "werk", "work"),
    ("school", "school/opleiding", "school"),
    ("income", "ander inkomen", "other income"),
    ("moved_away", "verhuisd", "moved away"),
    (
        "competing",
        "overig (overlijden, detentie …)",
        "other (death, detention …)",
    ),
    ("unknown", "onbekend", "unknown"),
];

/// "Hintham (999903)", or the code alone where there is no name.
fn wijk_label(code: &str, name: &str) -> String {
    if code == name {
        code.to_string()
    } else {
        format!("{name} ({code})")
    }
}

/// The Dutch (or English) name of an outflow class.
pub fn reason_label(lang: Lang, code: &str) -> String {
    REASONS
        .iter()
        .find(|r| r.0 == code)
        .map_or_else(|| code.to_string(), |r| lang.t(r.1, r.2).to_string())
}

pub fn cohort_spec(p: &Params) -> Result<CohortSpec, PageError> {
    let mut reasons = p.all("reden");
    if reasons.is_empty() {
        reasons = vec!["work".into(), "school".into(), "income".into()];
    }
    let reference = match p.get("peil").unwrap_or("start") {
        "start" => Reference::Start,
        r => match r.strip_prefix("duur:").and_then(|d| d.parse::<i32>().ok()) {
            Some(d) if (1..=240).contains(&d) => Reference::MinDuration(d),
            _ => {
                return Err(PageError::Input(format!(
                    "peil '{r}': kies start of duur:N / choose start or duur:N"
                )))
            }
        },
    };
    let age_min = p.int("leeftijd_min", 0, 0, 120)?;
    let age_max = p.int("leeftijd_max", 0, 0, 120)?;
    let cluster = p.int("cluster", 0, 0, 20)?;
    Ok(CohortSpec {
        reasons,
        horizon: p.int("horizon", 12, 1, 120)? as i32,
        reference,
        filters: Filters {
            age_min: (age_min > 0).then_some(age_min as i32),
            age_max: (age_max > 0).then_some(age_max as i32),
            sex: p.get("geslacht").map(str::to_string),
            wijk: p.all("wijk"),
            trede: p
                .all("trede")
                .iter()
                .filter_map(|t| t.parse().ok())
                .collect(),
            provision_group: p.get("voorziening").map(str::to_string),
            cluster: (cluster > 0).then_some(cluster as usize),
            ..Default::default()
        },
        features: p.all("kenmerk"),
        keep_unlabelled: false,
    })
}

pub fn pattern_options(p: &Params) -> Result<inzicht_store::prediction::PatternOptions, PageError> {
    Ok(inzicht_store::prediction::PatternOptions {
        max_depth: p.int("diepte", 3, 1, 8)? as usize,
        min_leaf: p.int("min_blad", 0, 0, 100_000)? as usize,
        prune: p.get("snoeien").unwrap_or("cv") == "cv",
        ..Default::default()
    })
}

/// Trees, models and clusters (one run serves the three pages).
pub fn patterns(ctx: &Ctx, p: &Params) -> Result<Value, PageError> {
    let spec = cohort_spec(p)?;
    let opt = pattern_options(p)?;
    let (m, _facts) = inzicht_store::prediction::run(ctx.session, ctx.protector, &spec, &opt)?;
    let mut m = m;
    m.remove("protection");
    m.remove("meta");
    let protection = ctx.protector.metadata(0, 0);
    Ok(inzicht_protect::envelope(
        m,
        protection,
        Some(&ctx.session.snapshot),
        p.json(),
    ))
}

pub fn survival(ctx: &Ctx, p: &Params) -> Result<Value, PageError> {
    let spec = cohort_spec(p)?;
    let by = p.get("groep").unwrap_or("leeftijdsklasse");
    let opt = inzicht_store::survival::SurvivalOptions {
        group_by: (by != "geen").then(|| by.to_string()),
        max_months: p.int("maanden", 36, 6, 120)? as i32,
    };
    let m = inzicht_store::survival::run(ctx.session, ctx.protector, &spec, &opt)?;
    Ok(envelope(m, ctx, p))
}

// ---------------------------------------------------------------- rendering helpers

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}
fn s(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        Value::Null => String::new(),
        x => x.to_string(),
    }
}

/// The form shared by the cohort pages. `extra` adds page-specific controls.
pub fn cohort_form(
    lang: Lang,
    action: &str,
    p: &Params,
    features: &[String],
    wijken: &[(String, String)],
    groups: &[String],
    extra: &str,
) -> String {
    let t = |a, b| lang.t(a, b).to_string();
    let reasons: Vec<(String, String)> = REASONS
        .iter()
        .map(|r| (r.0.to_string(), lang.t(r.1, r.2).to_string()))
        .collect();
    let mut chosen = p.all("reden");
    if chosen.is_empty() {
        chosen = vec!["work".into(), "school".into(), "income".into()];
    }
    let mut wijk_opts = vec![(String::new(), t("alle wijken", "all districts"))];
    // The cohort compares names (codes where the load has no names).
    wijk_opts.extend(
        wijken
            .iter()
            .map(|(code, name)| (name.clone(), wijk_label(code, name))),
    );
    let mut group_opts = vec![(String::new(), t("geen voorwaarde", "no condition"))];
    group_opts.extend(groups.iter().map(|g| (g.clone(), g.clone())));
    let sex_opts = vec![
        (String::new(), t("alle", "all")),
        ("M".into(), t("man", "male")),
        ("V".into(), t("vrouw", "female")),
    ];
    let peil_opts = vec![
        (
            "start".to_string(),
            t(
                "bij de start van de uitkering",
                "at the start of the benefit",
            ),
        ),
        (
            "duur:12".into(),
            t(
                "na minimaal 1 jaar in de uitkering",
                "after at least 1 year on benefit",
            ),
        ),
        (
            "duur:24".into(),
            t(
                "na minimaal 2 jaar in de uitkering",
                "after at least 2 years on benefit",
            ),
        ),
        (
            "duur:6".into(),
            t("na minimaal 6 maanden", "after at least 6 months"),
        ),
    ];
    let feature_opts: Vec<(String, String)> =
        features.iter().map(|x| (x.clone(), x.clone())).collect();
    let feature_html = if feature_opts.is_empty() {
        String::new()
    } else {
        format!(
            "<details class=\"inzicht-details\"><summary>{}</summary>{}</details>",
            t("Kenmerken (leeg = de standaardset; geslacht, herkomst en wijk alleen als u ze kiest)", "Features (empty = the default set; sex, background and district only if you choose them)"),
            html::checkboxes("kenmerk", &t("Kenmerken", "Features"), &feature_opts, &p.all("kenmerk"))
        )
    };
    format!(
        "<form method=\"get\" action=\"{action}\" class=\"inzicht-form\">{}{}{}<div class=\"inzicht-row\">{}{}{}{}</div><div class=\"inzicht-row\">{}{}{}</div>{feature_html}{extra}{}</form>",
        html::checkboxes("reden", &t("Uitstroom naar", "Outflow to"), &reasons, &chosen),
        html::input("horizon", &t("Binnen hoeveel maanden", "Within how many months"), "number", p.get("horizon").unwrap_or("12"), ""),
        html::select("peil", &t("Peilmoment", "Reference point"), &peil_opts, p.get("peil").unwrap_or("start")),
        html::input("leeftijd_min", &t("Leeftijd vanaf", "Age from"), "number", p.get("leeftijd_min").unwrap_or(""), ""),
        html::input("leeftijd_max", &t("Leeftijd tot en met", "Age up to"), "number", p.get("leeftijd_max").unwrap_or(""), ""),
        html::select("geslacht", &t("Geslacht", "Sex"), &sex_opts, p.get("geslacht").unwrap_or("")),
        html::select("wijk", &t("Wijk", "District"), &wijk_opts, p.get("wijk").unwrap_or("")),
        html::select("voorziening", &t("Eerder voorziening uit groep", "Earlier provision of group"), &group_opts, p.get("voorziening").unwrap_or("")),
        html::input("trede", &t("Trede participatieladder (1–6, leeg = alle)", "Participation ladder step (1–6, empty = all)"), "number", p.get("trede").unwrap_or(""), ""),
        html::input("cluster", &t("Alleen cluster (nummer, leeg = alle)", "Only cluster (number, empty = all)"), "number", p.get("cluster").unwrap_or(""), ""),
        html::submit(&t("Toon", "Show")),
    )
}

fn protection_note(lang: Lang, env: &Value) -> String {
    html::p(&format!(
        "{} {}. {}",
        lang.t(
            "Beschermd: cellen met minder dan",
            "Protected: cells with fewer than"
        ),
        env["protection"]["threshold"],
        lang.t(
            "personen zijn afgeschermd; aantallen zijn licht verstoord, totalen apart beschermd.",
            "persons are suppressed; counts are slightly perturbed, totals protected separately."
        )
    ))
}

// ---------------------------------------------------------------- tables for download

/// The estimates of one provision group: overall, subgroups, provision types.
fn estimates(g: &Value) -> Vec<&Value> {
    std::iter::once(&g["overall"])
        .filter(|v| v.is_object())
        .chain(g["subgroups"].as_array().into_iter().flatten())
        .chain(g["types"].as_array().into_iter().flatten())
        .collect()
}

pub fn tables(page: &str, env: &Value) -> Vec<Tab> {
    let text = |v: &Value| Cell::Text(s(v));
    let num = |v: &Value| Cell::Num(f(v));
    let mut out = Vec::new();
    match page {
        "/monitor" => {
            out.push(Tab {
                name: "maanden".into(),
                header: [
                    "maand",
                    "bestand",
                    "instroom",
                    "uitstroom",
                    "instroom_aandeel",
                    "uitstroom_aandeel",
                ]
                .map(String::from)
                .to_vec(),
                rows: env["months"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| {
                        vec![
                            text(&m["month"]),
                            num(&m["caseload"]),
                            num(&m["inflow"]),
                            num(&m["outflow"]),
                            num(&m["inflow_share"]),
                            num(&m["outflow_share"]),
                        ]
                    })
                    .collect(),
            });
            out.push(Tab {
                name: "jaren".into(),
                header: [
                    "jaar",
                    "bestand_januari",
                    "instroom",
                    "uitstroom",
                    "instroom_aandeel",
                    "uitstroom_aandeel",
                ]
                .map(String::from)
                .to_vec(),
                rows: env["years"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|y| {
                        vec![
                            text(&y["year"]),
                            num(&y["caseload_january"]),
                            num(&y["inflow"]),
                            num(&y["outflow"]),
                            num(&y["inflow_share"]),
                            num(&y["outflow_share"]),
                        ]
                    })
                    .collect(),
            });
            out.push(Tab {
                name: "indeling".into(),
                header: vec![s(&env["breakdown"]["by"]), "personen".into()],
                rows: env["breakdown"]["cells"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| vec![text(&c["value"]), num(&c["persons"])])
                    .collect(),
            });
            out.push(Tab {
                name: "uitstroomredenen".into(),
                header: ["jaar", "reden", "personen"].map(String::from).to_vec(),
                rows: env["outflow_by_reason"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| vec![text(&c["year"]), text(&c["reason"]), num(&c["persons"])])
                    .collect(),
            });
            out.push(Tab {
                name: "instroomcohorten".into(),
                header: [
                    "instroomjaar",
                    "uitkeringen",
                    "binnen_1_jaar",
                    "binnen_2_jaar",
                    "binnen_3_jaar",
                ]
                .map(String::from)
                .to_vec(),
                rows: env["cohorts"]["by_year"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        vec![
                            text(&c["year"]),
                            num(&c["spells"]),
                            num(&c["within_1y"]),
                            num(&c["within_2y"]),
                            num(&c["within_3y"]),
                        ]
                    })
                    .collect(),
            });
        }
        "/tabel" => {
            let dims: Vec<String> = env["dimensions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(s)
                .collect();
            let mut header = dims.clone();
            header.push(s(&env["measure"]));
            let mut rows: Vec<Vec<Cell>> = env["cells"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let mut r: Vec<Cell> = dims.iter().map(|d| text(&c["key"][d])).collect();
                    r.push(num(&c["value"]));
                    r
                })
                .collect();
            let mut total = vec![Cell::Text("Totaal".into())];
            total.extend((1..dims.len()).map(|_| Cell::Text(String::new())));
            total.push(num(&env["total"]["value"]));
            rows.push(total);
            out.push(Tab {
                name: "tabel".into(),
                header,
                rows,
            });
        }
        "/datakwaliteit" => {
            out.push(Tab {
                name: "reconciliatie".into(),
                header: ["bestand", "gelezen", "geladen", "quarantaine"]
                    .map(String::from)
                    .to_vec(),
                rows: env["reconciliation"]["files"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        vec![
                            text(&r["file"]),
                            num(&r["rows_read"]),
                            num(&r["rows_loaded"]),
                            num(&r["rows_quarantined"]),
                        ]
                    })
                    .collect(),
            });
        }
        "/beslisboom" => {
            out.push(Tab {
                name: "regels".into(),
                header: ["regel", "personen", "aandeel_uitstroom", "voorspelling"]
                    .map(String::from)
                    .to_vec(),
                rows: env["tree"]["rules"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        vec![
                            Cell::Text(
                                r["conditions"]
                                    .as_array()
                                    .into_iter()
                                    .flatten()
                                    .map(s)
                                    .collect::<Vec<_>>()
                                    .join(" en "),
                            ),
                            num(&r["n"]),
                            num(&r["share_positive"]),
                            text(&r["prediction"]),
                        ]
                    })
                    .collect(),
            });
            out.push(Tab {
                name: "belang".into(),
                header: ["kenmerk", "belang"].map(String::from).to_vec(),
                rows: env["tree"]["importance"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| vec![text(&r["feature"]), num(&r["importance"])])
                    .collect(),
            });
        }
        "/clusters" => {
            out.push(Tab {
                name: "clusters".into(),
                header: ["cluster", "personen", "beschrijving"]
                    .map(String::from)
                    .to_vec(),
                rows: env["clusters"]["profiles"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        vec![
                            text(&c["cluster"]),
                            num(&c["size"]),
                            text(&c["description"]),
                        ]
                    })
                    .collect(),
            });
        }
        "/voorspelmodel" => {
            out.push(Tab {
                name: "modellen".into(),
                header: [
                    "model",
                    "juist",
                    "gebalanceerd",
                    "auc",
                    "brier",
                    "basislijn_juist",
                ]
                .map(String::from)
                .to_vec(),
                rows: env["models"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| {
                        vec![
                            text(&m["description"]),
                            num(&m["metrics"]["accuracy"]),
                            num(&m["metrics"]["balanced_accuracy"]),
                            num(&m["metrics"]["roc_auc"]),
                            num(&m["metrics"]["brier"]),
                            num(&m["baseline"]["accuracy"]),
                        ]
                    })
                    .collect(),
            });
            out.push(Tab {
                name: "bias_audit".into(),
                header: [
                    "model",
                    "kenmerk",
                    "groep",
                    "n",
                    "selectiekans",
                    "tpr",
                    "fpr",
                    "signalen",
                ]
                .map(String::from)
                .to_vec(),
                rows: env["models"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|m| {
                        m["audit"].as_array().into_iter().flatten().map(move |g| {
                            vec![
                                text(&m["description"]),
                                text(&g["group"]),
                                text(&g["value"]),
                                num(&g["n"]),
                                num(&g["selection_rate"]),
                                num(&g["tpr"]),
                                num(&g["fpr"]),
                                Cell::Text(
                                    g["flags"]
                                        .as_array()
                                        .into_iter()
                                        .flatten()
                                        .map(s)
                                        .collect::<Vec<_>>()
                                        .join(" | "),
                                ),
                            ]
                        })
                    })
                    .collect(),
            });
        }
        "/overleving" => {
            out.push(Tab {
                name: "cumulatieve_incidentie".into(),
                header: [
                    "groep",
                    "personen",
                    "uitstroom",
                    "maanden",
                    "cif",
                    "onder",
                    "boven",
                    "mediaan_maanden",
                ]
                .map(String::from)
                .to_vec(),
                rows: env["groups"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|g| {
                        g["cif"].as_array().into_iter().flatten().map(move |c| {
                            vec![
                                text(&g["group"]),
                                num(&g["persons"]),
                                num(&g["events"]),
                                num(&c["months"]),
                                num(&c["cif"]),
                                num(&c["lower"]),
                                num(&c["upper"]),
                                num(&g["median_months"]),
                            ]
                        })
                    })
                    .collect(),
            });
            out.push(Tab {
                name: "curve".into(),
                header: [
                    "groep",
                    "van_maand",
                    "tot_maand",
                    "at_risk",
                    "uitstroom",
                    "nog_in_uitkering",
                ]
                .map(String::from)
                .to_vec(),
                rows: env["groups"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|g| {
                        g["curve"]["steps"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(move |st| {
                                vec![
                                    text(&g["group"]),
                                    num(&st["from"]),
                                    num(&st["to"]),
                                    num(&st["at_risk"]),
                                    num(&st["events"]),
                                    num(&st["survival"]),
                                ]
                            })
                    })
                    .collect(),
            });
        }
        "/voorzieningen" => {
            let mut rows = Vec::new();
            for g in env["groups"].as_array().into_iter().flatten() {
                for e in estimates(g) {
                    for (kind, key) in [("gematcht", "matched"), ("naief", "naive")] {
                        for h in e[key].as_array().into_iter().flatten() {
                            rows.push(vec![
                                text(&g["group"]),
                                text(&e["subset"]),
                                text(&e["value"]),
                                Cell::Text(kind.into()),
                                num(&h["months"]),
                                num(&h["treated"]),
                                num(&h["control"]),
                                num(&h["difference"]),
                                num(&h["ci"][0]),
                                num(&h["ci"][1]),
                                num(&h["p_adjusted"]),
                            ]);
                        }
                    }
                    if e["too_few"].as_bool() == Some(true) {
                        rows.push(vec![
                            text(&g["group"]),
                            text(&e["subset"]),
                            text(&e["value"]),
                            Cell::Text("te weinig om te schatten".into()),
                            Cell::Num(None),
                            Cell::Num(None),
                            Cell::Num(None),
                            Cell::Num(None),
                            Cell::Num(None),
                            Cell::Num(None),
                            Cell::Num(None),
                        ]);
                    }
                }
            }
            out.push(Tab {
                name: "effecten".into(),
                header: [
                    "groep",
                    "deelgroep",
                    "waarde",
                    "vergelijking",
                    "maanden",
                    "behandeld",
                    "controle",
                    "verschil",
                    "ci_onder",
                    "ci_boven",
                    "p_bh",
                ]
                .map(String::from)
                .to_vec(),
                rows,
            });
        }
        _ => {}
    }
    out
}

// ---------------------------------------------------------------- charts

pub fn charts(page: &str, env: &Value, lang: Lang) -> Vec<(String, String)> {
    use inzicht_charts::lines::{bars, months_chart, Series};
    let mut out = Vec::new();
    let month_x = |m: &str| -> Option<f64> {
        let (y, mm) = m.split_once('-')?;
        Some(y.parse::<f64>().ok()? * 12.0 + mm.parse::<f64>().ok()? - 1.0)
    };
    let pct = |v: f64| format!("{:.0}%", 100.0 * v);
    let int = |v: f64| html::num(lang, v, 0);
    match page {
        "/monitor" => {
            let series = |key: &str, name: &str| Series {
                name: name.to_string(),
                points: env["months"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| Some((month_x(m["month"].as_str()?)?, f(&m[key]))))
                    .collect(),
            };
            let last = env["months"]
                .as_array()
                .and_then(|a| a.last())
                .cloned()
                .unwrap_or(Value::Null);
            out.push((
                "bestand".into(),
                months_chart(
                    lang.t("Bestand per maand", "Caseload per month"),
                    &format!(
                        "{} {}: {}.",
                        lang.t(
                            "Personen met een uitkering per maand. Laatste maand",
                            "Persons on benefit per month. Last month"
                        ),
                        s(&last["month"]),
                        html::count(lang, f(&last["caseload"]))
                    ),
                    lang.t("personen", "persons"),
                    &[series("caseload", lang.t("bestand", "caseload"))],
                    &int,
                ),
            ));
            out.push((
                "instroom-uitstroom".into(),
                months_chart(
                    lang.t(
                        "Instroom en uitstroom per maand",
                        "Inflow and outflow per month",
                    ),
                    &format!(
                        "{} {}: {} {}, {} {}.",
                        lang.t("Laatste maand", "Last month"),
                        s(&last["month"]),
                        lang.t("instroom", "inflow"),
                        html::count(lang, f(&last["inflow"])),
                        lang.t("uitstroom", "outflow"),
                        html::count(lang, f(&last["outflow"]))
                    ),
                    lang.t("personen", "persons"),
                    &[
                        series("inflow", lang.t("instroom", "inflow")),
                        series("outflow", lang.t("uitstroom", "outflow")),
                    ],
                    &int,
                ),
            ));
            let by_outflow = env["breakdown"]["by"] == "outflow";
            let rows: Vec<(String, Option<f64>)> = env["breakdown"]["cells"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let v = s(&c["value"]);
                    (
                        if by_outflow {
                            reason_label(lang, &v)
                        } else {
                            v
                        },
                        f(&c["persons"]),
                    )
                })
                .collect();
            let desc = rows
                .iter()
                .map(|(l, v)| format!("{l}: {}", html::count(lang, *v)))
                .collect::<Vec<_>>()
                .join("; ");
            out.push((
                "indeling".into(),
                bars(
                    &format!(
                        "{} {} ({})",
                        lang.t("Personen naar", "Persons by"),
                        s(&env["breakdown"]["by"]),
                        s(&env["breakdown"]["year"])
                    ),
                    &desc,
                    lang.t("personen", "persons"),
                    &rows,
                    &int,
                ),
            ));
            let crows: Vec<(String, Option<f64>)> = env["cohorts"]["by_year"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| (s(&c["year"]), f(&c["within_1y"])))
                .collect();
            let cdesc = crows
                .iter()
                .map(|(l, v)| format!("{l}: {}", html::pct(lang, *v, 0)))
                .collect::<Vec<_>>()
                .join("; ");
            out.push((
                "instroomcohorten".into(),
                bars(
                    lang.t(
                        "Uitstroom naar werk, school of inkomen binnen 1 jaar, per instroomjaar",
                        "Outflow to work, school or income within 1 year, by inflow year",
                    ),
                    &cdesc,
                    lang.t("aandeel", "share"),
                    &crows,
                    &pct,
                ),
            ));
        }
        "/beslisboom" => {
            out.push((
                "beslisboom".into(),
                inzicht_charts::tree::tree_svg(&env["tree"]["tree"], &s(&env["target"])),
            ));
        }
        "/voorspelmodel" => {
            let models: Vec<(String, &Value)> = env["models"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| (s(&m["description"]), &m["calibration"]))
                .collect();
            out.push((
                "kalibratie".into(),
                inzicht_charts::calibration::calibration_svg(
                    &models,
                    lang.t(
                        "Kalibratie op de toetsperiode",
                        "Calibration on the test period",
                    ),
                ),
            ));
        }
        "/overleving" => {
            out.push((
                "overleving".into(),
                inzicht_charts::km::chart(
                    env,
                    lang.t(
                        "maanden vanaf het peilmoment",
                        "months from the reference point",
                    ),
                    env["group_by"].as_str(),
                ),
            ));
        }
        "/voorzieningen" => {
            for (name, svg) in inzicht_charts::effects::all(env) {
                out.push((name.trim_end_matches(".svg").to_string(), svg));
            }
        }
        "/clusters" => {
            let rows: Vec<(String, Option<f64>)> = env["clusters"]["profiles"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| (format!("cluster {}", s(&c["cluster"])), f(&c["size"])))
                .collect();
            let desc = rows
                .iter()
                .map(|(l, v)| format!("{l}: {}", html::count(lang, *v)))
                .collect::<Vec<_>>()
                .join("; ");
            out.push((
                "clusters".into(),
                bars(
                    lang.t("Grootte van de clusters", "Size of the clusters"),
                    &desc,
                    lang.t("personen", "persons"),
                    &rows,
                    &int,
                ),
            ));
        }
        _ => {}
    }
    out
}

// ---------------------------------------------------------------- page bodies

fn figures(lang: Lang, page: &str, query: &str, env: &Value) -> String {
    charts(page, env, lang)
        .into_iter()
        .map(|(name, svg)| {
            let href = format!(
                "/grafiek{page}/{name}.svg{}",
                if query.is_empty() {
                    String::new()
                } else {
                    format!("?{query}")
                }
            );
            html::figure(lang, &svg, &href, &name)
        })
        .collect()
}

fn downloads(lang: Lang, page: &str, query: &str, env: &Value) -> String {
    let names: Vec<String> = tables(page, env).into_iter().map(|t| t.name).collect();
    html::downloads(lang, page, query, &names)
}

pub fn monitor_body(lang: Lang, p: &Params, env: &Value) -> String {
    let t = |a, b| lang.t(a, b).to_string();
    let opts: Vec<(String, String)> = MONITOR_BREAKDOWNS
        .iter()
        .map(|b| (b.0.to_string(), lang.t(b.1, b.2).to_string()))
        .collect();
    let copts: Vec<(String, String)> = COHORT_BREAKDOWNS
        .iter()
        .map(|b| (b.0.to_string(), lang.t(b.1, b.2).to_string()))
        .collect();
    let mut b = html::p(&t(
        "Stap 1 — beschrijven. Begin hier: hoe groot is het bestand, wie stroomt in en uit, en hoe snel? Pas daarna verklaren (beslisboom, overleving, voorzieningen) en voorspellen.",
        "Step 1 — describe. Start here: how large is the caseload, who flows in and out, and how fast? Only then explain (tree, survival, provisions) and predict.",
    ));
    b.push_str(&format!(
        "<form method=\"get\" action=\"/monitor\" class=\"inzicht-form\"><div class=\"inzicht-row\">{}{}{}</div>{}</form>",
        html::select("indeling", &t("Indeling", "Breakdown"), &opts, p.get("indeling").unwrap_or("outflow")),
        html::input("jaar", &t("Jaar", "Year"), "number", &s(&env["breakdown"]["year"]), ""),
        html::select("cohortindeling", &t("Instroomcohorten naar", "Inflow cohorts by"), &copts, p.get("cohortindeling").unwrap_or("leeftijdsklasse")),
        html::submit(&t("Toon", "Show"))
    ));
    b.push_str(&figures(lang, "/monitor", &p.query(), env));
    let months = env["months"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = months
        .iter()
        .rev()
        .take(12)
        .map(|m| {
            vec![
                s(&m["month"]),
                html::count(lang, f(&m["caseload"])),
                html::count(lang, f(&m["inflow"])),
                html::count(lang, f(&m["outflow"])),
                html::pct(lang, f(&m["inflow_share"]), 1),
                html::pct(lang, f(&m["outflow_share"]), 1),
            ]
        })
        .collect();
    b.push_str(&html::table(
        &t(
            "De laatste 12 maanden: bestand, instroom en uitstroom per maand",
            "The last 12 months: caseload, inflow and outflow per month",
        ),
        &[
            t("maand", "month"),
            t("bestand", "caseload"),
            t("instroom", "inflow"),
            t("uitstroom", "outflow"),
            t("instroom %", "inflow %"),
            t("uitstroom %", "outflow %"),
        ],
        &rows,
    ));
    let rows: Vec<Vec<String>> = env["years"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|y| {
            vec![
                s(&y["year"]),
                html::count(lang, f(&y["caseload_january"])),
                html::count(lang, f(&y["inflow"])),
                html::count(lang, f(&y["outflow"])),
                html::pct(lang, f(&y["inflow_share"]), 1),
                html::pct(lang, f(&y["outflow_share"]), 1),
            ]
        })
        .collect();
    b.push_str(&html::table(&t("Per jaar: instroom en uitstroom als aandeel van het bestand in januari (de indicatoren van de Divosa-benchmark)", "Per year: inflow and outflow as a share of the caseload in January (the Divosa benchmark's indicators)"),
        &[t("jaar", "year"), t("bestand januari", "caseload January"), t("instroom", "inflow"), t("uitstroom", "outflow"), t("instroom %", "inflow %"), t("uitstroom %", "outflow %")], &rows));
    let by_outflow = env["breakdown"]["by"] == "outflow";
    let rows: Vec<Vec<String>> = env["breakdown"]["cells"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let v = s(&c["value"]);
            vec![
                if by_outflow {
                    reason_label(lang, &v)
                } else {
                    v
                },
                html::count(lang, f(&c["persons"])),
            ]
        })
        .collect();
    b.push_str(&html::table(
        &format!(
            "{} {} {}",
            t("Personen met een uitkering in", "Persons on benefit in"),
            s(&env["breakdown"]["year"]),
            t("naar de gekozen indeling", "by the chosen breakdown")
        ),
        &[s(&env["breakdown"]["by"]), t("personen", "persons")],
        &rows,
    ));
    let rows: Vec<Vec<String>> = env["cohorts"]["by_year"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            vec![
                s(&c["year"]),
                html::count(lang, f(&c["spells"])),
                html::pct(lang, f(&c["within_1y"]), 0),
                html::pct(lang, f(&c["within_2y"]), 0),
                html::pct(lang, f(&c["within_3y"]), 0),
            ]
        })
        .collect();
    b.push_str(&html::table(
        &t(
            "Uitstroom naar werk, school of inkomen per instroomjaar",
            "Outflow to work, school or income by inflow year",
        ),
        &[
            t("instroomjaar", "inflow year"),
            t("uitkeringen", "spells"),
            t("binnen 1 jaar", "within 1 year"),
            t("binnen 2 jaar", "within 2 years"),
            t("binnen 3 jaar", "within 3 years"),
        ],
        &rows,
    ));
    let rows: Vec<Vec<String>> = env["cohorts"]["by_group"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            vec![
                s(&c["value"]),
                html::count(lang, f(&c["spells"])),
                html::pct(lang, f(&c["within_1y"]), 0),
                html::pct(lang, f(&c["within_2y"]), 0),
            ]
        })
        .collect();
    b.push_str(&html::table(
        &format!(
            "{} {}",
            t(
                "Uitstroom per instroomcohort naar",
                "Outflow per inflow cohort by"
            ),
            s(&env["cohorts"]["by"])
        ),
        &[
            s(&env["cohorts"]["by"]),
            t("uitkeringen", "spells"),
            t("binnen 1 jaar", "within 1 year"),
            t("binnen 2 jaar", "within 2 years"),
        ],
        &rows,
    ));
    b.push_str(&protection_note(lang, env));
    b.push_str(&downloads(lang, "/monitor", &p.query(), env));
    b
}

pub fn tabel_form(
    lang: Lang,
    p: &Params,
    dims: &[(String, String)],
    measures: &[(String, String)],
) -> String {
    let t = |a, b| lang.t(a, b).to_string();
    let mut d = vec![(String::new(), t("(geen)", "(none)"))];
    d.extend(dims.iter().cloned());
    let by = p.all("indeling");
    format!(
        "<form method=\"get\" action=\"/tabel\" class=\"inzicht-form\"><div class=\"inzicht-row\">{}{}{}{}</div>{}{}</form>",
        html::select("indeling", &t("Indeling 1", "Dimension 1"), &d, by.first().map_or("age_band", |x| x)).replace("id=\"f-indeling\"", "id=\"f-indeling1\"").replace("for=\"f-indeling\"", "for=\"f-indeling1\""),
        html::select("indeling", &t("Indeling 2", "Dimension 2"), &d, by.get(1).map_or("", |x| x)).replace("id=\"f-indeling\"", "id=\"f-indeling2\"").replace("for=\"f-indeling\"", "for=\"f-indeling2\""),
        html::select("indeling", &t("Indeling 3", "Dimension 3"), &d, by.get(2).map_or("", |x| x)).replace("id=\"f-indeling\"", "id=\"f-indeling3\"").replace("for=\"f-indeling\"", "for=\"f-indeling3\""),
        html::select("maat", &t("Maat", "Measure"), measures, p.get("maat").unwrap_or("count")),
        html::input("waar", &t("Selectie (bijv. year = 2024 and age_band = '<27')", "Selection (e.g. year = 2024 and age_band = '<27')"), "text", p.get("waar").unwrap_or(""), &t("Zie docs/table.md voor de schrijfwijze.", "See docs/table.md for the grammar.")),
        html::submit(&t("Toon", "Show")),
    )
}

pub fn tabel_body(lang: Lang, p: &Params, env: &Value) -> String {
    let dims: Vec<String> = env["dimensions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(s)
        .collect();
    let mut header = dims.clone();
    header.push(s(&env["measure"]));
    let fmt = |v: &Value| {
        v.as_f64().map_or_else(
            || lang.t("afgeschermd", "suppressed").to_string(),
            |x| html::num(lang, x, if x.fract() == 0.0 { 0 } else { 2 }),
        )
    };
    let mut rows: Vec<Vec<String>> = env["cells"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let mut r: Vec<String> = dims
                .iter()
                .map(|d| match &c["key"][d] {
                    Value::Null => "(onbekend)".into(),
                    v => s(v),
                })
                .collect();
            r.push(fmt(&c["value"]));
            r
        })
        .collect();
    let mut total = vec![lang.t("Totaal", "Total").to_string()];
    total.extend((1..dims.len()).map(|_| String::new()));
    total.push(fmt(&env["total"]["value"]));
    rows.push(total);
    let mut b = String::new();
    if let Some(m) = env["message"].as_str() {
        b.push_str(&html::alert("warning", m));
    }
    b.push_str(&html::table(
        lang.t("Beschermde tabel", "Protected table"),
        &header,
        &rows,
    ));
    b.push_str(&protection_note(lang, env));
    b.push_str(&downloads(lang, "/tabel", &p.query(), env));
    b
}

pub fn quality_body(lang: Lang, p: &Params, env: &Value) -> String {
    let t = |a, b| lang.t(a, b).to_string();
    let mut b = html::p(&t("Wat is ingelezen, wat ging in quarantaine en waarom. Elke rij is geladen of met reden in quarantaine gezet; de aantallen sluiten.", "What was read, what was quarantined and why. Every row is loaded or quarantined with a reason; the counts reconcile."));
    let rows: Vec<Vec<String>> = env["reconciliation"]["files"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let reasons = r["reasons"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            // One file can hold several sources (the sheets of a workbook): name both.
            let file = match r["read_as"].as_str() {
                Some(how) => format!("{} ({how})", s(&r["file"])),
                None => s(&r["file"]),
            };
            vec![
                file,
                html::count(lang, f(&r["rows_read"])),
                html::count(lang, f(&r["rows_loaded"])),
                html::count(lang, f(&r["rows_quarantined"])),
                reasons,
            ]
        })
        .collect();
    b.push_str(&html::table(
        &t("Reconciliatie per bestand", "Reconciliation per file"),
        &[
            t("bestand", "file"),
            t("gelezen", "read"),
            t("geladen", "loaded"),
            t("quarantaine", "quarantined"),
            t("redenen", "reasons"),
        ],
        &rows,
    ));
    if let Some(o) = env["quality"].as_object() {
        for (k, v) in o {
            if let Some(arr) = v.as_array() {
                let rows: Vec<Vec<String>> = arr
                    .iter()
                    .take(50)
                    .map(|r| match r.as_object() {
                        Some(o) => o.values().map(s).collect(),
                        None => vec![s(r)],
                    })
                    .collect();
                let header: Vec<String> = arr
                    .first()
                    .and_then(|r| r.as_object())
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_else(|| vec![k.clone()]);
                if !rows.is_empty() {
                    b.push_str(&html::table(k, &header, &rows));
                }
            }
        }
    }
    b.push_str(&downloads(lang, "/datakwaliteit", &p.query(), env));
    b
}

fn available_features(env: &Value) -> Vec<String> {
    env["cohort"]["available_features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["name"].as_str().map(str::to_string))
        .collect()
}

pub struct Choices {
    /// (code, name): the name is the code where the load has no names.
    pub wijken: Vec<(String, String)>,
    pub groups: Vec<String>,
}

fn cohort_summary(lang: Lang, env: &Value) -> String {
    html::p(&format!(
        "{}: {}. {}: {} {}; {} {}.",
        lang.t("Uitkomst", "Outcome"),
        s(&env["target"]),
        lang.t("Cohort", "Cohort"),
        html::count(lang, f(&env["cohort"]["labelled"])),
        lang.t(
            "uitkeringen met genoeg nawerktijd",
            "spells with enough follow-up"
        ),
        lang.t("uitstroom", "outflow"),
        html::pct(lang, f(&env["describe"]["share"]), 0)
    ))
}

pub fn tree_body(lang: Lang, p: &Params, env: &Value, ch: &Choices) -> String {
    let t = |a, b| lang.t(a, b).to_string();
    let depth_opts: Vec<(String, String)> =
        (1..=6).map(|d| (d.to_string(), d.to_string())).collect();
    let prune_opts = vec![
        (
            "cv".to_string(),
            t(
                "ja, met kruisvalidatie (1-SE-regel)",
                "yes, by cross-validation (1-SE rule)",
            ),
        ),
        (
            "geen".into(),
            t(
                "nee, de volle boom tot de diepte",
                "no, the full tree to the depth",
            ),
        ),
    ];
    let extra = format!(
        "<div class=\"inzicht-row\">{}{}{}</div>",
        html::select(
            "diepte",
            &t("Maximale diepte", "Maximum depth"),
            &depth_opts,
            p.get("diepte").unwrap_or("3")
        ),
        html::input(
            "min_blad",
            &t("Minimaal personen per blad", "Minimum persons per leaf"),
            "number",
            p.get("min_blad").unwrap_or(""),
            &format!(
                "{} {}",
                t(
                    "Nooit minder dan de drempel:",
                    "Never fewer than the threshold:"
                ),
                env["protection"]["threshold"]
            )
        ),
        html::select(
            "snoeien",
            &t("Snoeien", "Prune"),
            &prune_opts,
            p.get("snoeien").unwrap_or("cv")
        )
    );
    let mut b = html::p(&t("Stap 2 — verklaren. Welke kenmerken hangen samen met uitstroom? Een beslisboom toont groepen, geen oorzaken.", "Step 2 — explain. Which characteristics go with outflow? A tree shows groups, not causes."));
    b.push_str(&cohort_form(
        lang,
        "/beslisboom",
        p,
        &available_features(env),
        &ch.wijken,
        &ch.groups,
        &extra,
    ));
    b.push_str(&cohort_summary(lang, env));
    let tr = &env["tree"];
    b.push_str(&html::p(&format!(
        "{} {}, {} {}, {} {}, AUC {}.",
        t("Bladeren:", "Leaves:"),
        s(&tr["leaves"]),
        t("diepte", "depth"),
        s(&tr["depth"]),
        t("gekruisvalideerd juist", "cross-validated accuracy"),
        html::pct(lang, f(&tr["cv_accuracy"]), 0),
        f(&tr["cv_auc"]).map_or("—".into(), |x| html::num(lang, x, 3))
    )));
    b.push_str(&figures(lang, "/beslisboom", &p.query(), env));
    let rows: Vec<Vec<String>> = tr["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            vec![
                r["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(s)
                    .collect::<Vec<_>>()
                    .join(lang.t(" en ", " and ")),
                html::count(lang, f(&r["n"])),
                html::pct(lang, f(&r["share_positive"]), 0),
                s(&r["prediction"]),
            ]
        })
        .collect();
    b.push_str(&html::table(
        &t(
            "Regels van de boom (elk blad is een groep)",
            "Rules of the tree (each leaf is a group)",
        ),
        &[
            t("groep", "group"),
            t("personen", "persons"),
            t("uitstroom", "outflow"),
            t("voorspelling", "prediction"),
        ],
        &rows,
    ));
    b.push_str(&protection_note(lang, env));
    b.push_str(&downloads(lang, "/beslisboom", &p.query(), env));
    b
}

pub fn clusters_body(lang: Lang, p: &Params, env: &Value) -> String {
    let t = |a, b| lang.t(a, b).to_string();
    let cl = &env["clusters"];
    let mut b = html::p(&t("Clusters van de cliënten met een lopende uitkering aan het eind van de gegevens, op hun kenmerken (k-prototypes). Een cluster is een beschrijving, geen oordeel over een persoon.", "Clusters of the clients on benefit at the end of the data, on their characteristics (k-prototypes). A cluster is a description, not a judgement of a person."));
    b.push_str(&html::p(&format!(
        "{} {} ({}), {} {}.",
        t("Gekozen aantal clusters:", "Chosen number of clusters:"),
        s(&cl["k"]),
        s(&cl["method"]),
        t("populatie:", "population:"),
        s(&cl["population"])
    )));
    b.push_str(&figures(lang, "/clusters", &p.query(), env));
    for c in cl["profiles"].as_array().into_iter().flatten() {
        b.push_str(&format!(
            "<h2 class=\"utrecht-heading-2\">Cluster {} — {} {}</h2>",
            esc(&s(&c["cluster"])),
            html::count(lang, f(&c["size"])),
            t("personen", "persons")
        ));
        b.push_str(&html::p(&s(&c["description"])));
        if c["size"].is_null() {
            b.push_str(&html::p(&t(
                "Te klein om te beschrijven.",
                "Too small to describe.",
            )));
            continue;
        }
        let mut rows: Vec<Vec<String>> = c["numeric"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                vec![
                    s(&r["feature"]),
                    f(&r["mean"]).map_or(t("afgeschermd", "suppressed"), |x| html::num(lang, x, 1)),
                    f(&r["population_mean"]).map_or("—".into(), |x| html::num(lang, x, 1)),
                ]
            })
            .collect();
        rows.extend(c["categorical"].as_array().into_iter().flatten().map(|r| {
            vec![
                format!("{} = {}", s(&r["feature"]), s(&r["level"])),
                html::pct(lang, f(&r["share"]), 0),
                html::pct(lang, f(&r["population_share"]), 0),
            ]
        }));
        // The description above says what stands out; the full profile is folded.
        b.push_str(&format!(
            "<details class=\"inzicht-details\"><summary>{} {}</summary>{}</details>",
            t("Volledig profiel van cluster", "Full profile of cluster"),
            esc(&s(&c["cluster"])),
            html::table(
                &format!(
                    "{} {}",
                    t("Profiel van cluster", "Profile of cluster"),
                    s(&c["cluster"])
                ),
                &[
                    t("kenmerk", "feature"),
                    t("in dit cluster", "in this cluster"),
                    t("alle cliënten", "all clients")
                ],
                &rows,
            )
        ));
    }
    let rows: Vec<Vec<String>> = cl["by_k"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            vec![
                s(&r["k"]),
                f(&r["silhouette"]).map_or("—".into(), |x| html::num(lang, x, 3)),
                f(&r["cost"]).map_or("—".into(), |x| html::num(lang, x, 0)),
            ]
        })
        .collect();
    b.push_str(&html::table(
        &t(
            "Keuze van het aantal clusters",
            "Choice of the number of clusters",
        ),
        &["k".into(), "silhouette".into(), t("kosten", "cost")],
        &rows,
    ));
    b.push_str(&downloads(lang, "/clusters", &p.query(), env));
    b
}

pub fn model_body(lang: Lang, p: &Params, env: &Value, ch: &Choices) -> String {
    let t = |a, b| lang.t(a, b).to_string();
    let mut b = html::alert("info", &t(
        "Stap 3 — voorspellen. Een voorspelmodel schat kansen voor groepen uit het verleden. Het kent de persoon niet, kan menselijk gedrag en nieuwe omstandigheden niet voorzien, en mag nooit alleen beslissen: de consulent beslist. Controleer altijd de bias-audit.",
        "Step 3 — predict. A prediction model estimates chances for groups from the past. It does not know the person, cannot foresee human behaviour or new circumstances, and must never decide alone: the consultant decides. Always check the bias audit.",
    ));
    b.push_str(&cohort_form(
        lang,
        "/voorspelmodel",
        p,
        &available_features(env),
        &ch.wijken,
        &ch.groups,
        "",
    ));
    b.push_str(&cohort_summary(lang, env));
    b.push_str(&html::p(&format!(
        "{}: {}",
        t("Toetsing", "Evaluation"),
        s(&env["split"]["rule"])
    )));
    let rows: Vec<Vec<String>> = env["models"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            vec![
                s(&m["description"]),
                html::pct(lang, f(&m["metrics"]["accuracy"]), 1),
                html::pct(lang, f(&m["baseline"]["accuracy"]), 1),
                html::pct(lang, f(&m["metrics"]["balanced_accuracy"]), 1),
                f(&m["metrics"]["roc_auc"]).map_or("—".into(), |x| html::num(lang, x, 3)),
                f(&m["metrics"]["brier"]).map_or("—".into(), |x| html::num(lang, x, 3)),
                s(&m["baseline"]["reading"]),
            ]
        })
        .collect();
    b.push_str(&html::table(
        &t(
            "Modellen tegen de basislijn (iedereen de meest voorkomende uitkomst)",
            "Models against the baseline (everyone the most common outcome)",
        ),
        &[
            t("model", "model"),
            t("juist", "accuracy"),
            t("basislijn", "baseline"),
            t("gebalanceerd", "balanced"),
            "AUC".into(),
            "Brier".into(),
            t("lezing", "reading"),
        ],
        &rows,
    ));
    b.push_str(&figures(lang, "/voorspelmodel", &p.query(), env));
    for m in env["models"].as_array().into_iter().flatten() {
        let rows: Vec<Vec<String>> = m["audit"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| {
                vec![
                    format!("{} = {}", s(&g["group"]), s(&g["value"])),
                    html::count(lang, f(&g["n"])),
                    html::pct(lang, f(&g["selection_rate"]), 0),
                    html::pct(lang, f(&g["tpr"]), 0),
                    html::pct(lang, f(&g["fpr"]), 0),
                    {
                        let fl: Vec<String> =
                            g["flags"].as_array().into_iter().flatten().map(s).collect();
                        if fl.is_empty() {
                            t("binnen de grenzen", "within bounds")
                        } else {
                            fl.join("; ")
                        }
                    },
                ]
            })
            .collect();
        b.push_str(&html::table(
            &format!(
                "{} — {}",
                t("Bias-audit", "Bias audit"),
                s(&m["description"])
            ),
            &[
                t("groep", "group"),
                "n".into(),
                t("selectiekans", "selection rate"),
                t("terecht-positief", "true positive rate"),
                t("vals-positief", "false positive rate"),
                t("signalen", "flags"),
            ],
            &rows,
        ));
    }
    b.push_str(&html::p(&t("Het algoritmeregister-concept en de modelkaart maakt u met: inzicht patterns --store … --out MAP (zie docs/register.md); de JSON hieronder bevat dezelfde cijfers.", "Create the Algoritmeregister draft and the model card with: inzicht patterns --store … --out DIR (see docs/register.md); the JSON below holds the same numbers.")));
    b.push_str(&format!(
        "<p class=\"utrecht-paragraph\"><a class=\"utrecht-link\" href=\"/register?{}\">{}</a></p>",
        esc(&p.query()),
        t(
            "Download het algoritmeregister-concept (JSON)",
            "Download the Algoritmeregister draft (JSON)"
        )
    ));
    b.push_str(&protection_note(lang, env));
    b.push_str(&downloads(lang, "/voorspelmodel", &p.query(), env));
    b
}

pub fn survival_body(lang: Lang, p: &Params, env: &Value, ch: &Choices) -> String {
    let t = |a, b| lang.t(a, b).to_string();
    let group_opts: Vec<(String, String)> = std::iter::once((
        "geen".to_string(),
        t("geen (één curve)", "none (one curve)"),
    ))
    .chain(
        inzicht_store::survival::GROUP_BY
            .iter()
            .map(|g| (g.to_string(), g.to_string())),
    )
    .collect();
    let extra = format!(
        "<div class=\"inzicht-row\">{}{}</div>",
        html::select(
            "groep",
            &t("Curves naar", "Curves by"),
            &group_opts,
            p.get("groep").unwrap_or("leeftijdsklasse")
        ),
        html::input(
            "maanden",
            &t("Tot hoeveel maanden", "Up to how many months"),
            "number",
            p.get("maanden").unwrap_or("36"),
            ""
        )
    );
    let mut b = html::p(&t("Hoe lang duurt het tot uitstroom naar de gekozen redenen? De curve toont het aandeel dat nog niet zo is uitgestroomd; andere uitstroom telt als concurrerend risico in de cumulatieve incidentie.", "How long until outflow for the chosen reasons? The curve shows the share not yet out that way; other exits compete in the cumulative incidence."));
    b.push_str(&cohort_form(
        lang,
        "/overleving",
        p,
        &[],
        &ch.wijken,
        &ch.groups,
        &extra,
    ));
    b.push_str(&figures(lang, "/overleving", &p.query(), env));
    let mut rows = Vec::new();
    for g in env["groups"].as_array().into_iter().flatten() {
        if g["too_few"].as_bool() == Some(true) {
            rows.push(vec![
                s(&g["group"]),
                t("te weinig om te tonen", "too few to show"),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            continue;
        }
        let cif = |k: usize| {
            let c = &g["cif"][k];
            if c["too_few"].as_bool() == Some(true) {
                t("te weinig", "too few")
            } else {
                format!(
                    "{} ({}–{})",
                    html::pct(lang, f(&c["cif"]), 0),
                    html::pct(lang, f(&c["lower"]), 0),
                    html::pct(lang, f(&c["upper"]), 0)
                )
            }
        };
        rows.push(vec![
            s(&g["group"]),
            html::count(lang, f(&g["persons"])),
            html::count(lang, f(&g["events"])),
            f(&g["median_months"])
                .map_or(t("niet bereikt", "not reached"), |m| html::num(lang, m, 0)),
            cif(0),
            cif(1),
            cif(2),
        ]);
    }
    b.push_str(&html::table(&t("Uitstroom per groep: mediane duur en cumulatieve incidentie (Aalen–Johansen, 95%-interval)", "Outflow per group: median time and cumulative incidence (Aalen–Johansen, 95% interval)"), &[t("groep", "group"), t("personen", "persons"), t("uitstroom", "outflow"), t("mediaan (mnd)", "median (months)"), t("na 6 mnd", "at 6 months"), t("na 12 mnd", "at 12 months"), t("na 24 mnd", "at 24 months")], &rows));
    if let Some(lr) = env["logrank"].as_object() {
        b.push_str(&html::p(&format!(
            "Log-rank: χ² = {} (df {}), p = {}.",
            html::num(
                lang,
                lr.get("statistic")
                    .and_then(|v| v.as_f64())
                    .unwrap_or(f64::NAN),
                2
            ),
            lr.get("df").map(s).unwrap_or_default(),
            lr.get("p_value")
                .and_then(|v| v.as_f64())
                .map_or("—".into(), |x| p_text(lang, x))
        )));
    }
    if env["cox"].is_object() {
        let rows: Vec<Vec<String>> = env["cox"]["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                if r["too_few"].as_bool() == Some(true) {
                    vec![
                        s(&r["group"]),
                        t("te weinig om te schatten", "too few to estimate"),
                        String::new(),
                        String::new(),
                    ]
                } else {
                    vec![
                        s(&r["group"]),
                        html::num(lang, f(&r["hr"]).unwrap_or(f64::NAN), 2),
                        format!(
                            "{}–{}",
                            html::num(lang, f(&r["lower"]).unwrap_or(f64::NAN), 2),
                            html::num(lang, f(&r["upper"]).unwrap_or(f64::NAN), 2)
                        ),
                        f(&r["p_value"]).map_or("—".into(), |x| p_text(lang, x)),
                    ]
                }
            })
            .collect();
        b.push_str(&html::table(
            &format!(
                "Cox: {} {} ({})",
                t("hazardratio ten opzichte van", "hazard ratio against"),
                s(&env["cox"]["reference"]),
                s(&env["cox"]["method"])
            ),
            &[
                t("groep", "group"),
                "HR".into(),
                t("95%-interval", "95% interval"),
                "p".into(),
            ],
            &rows,
        ));
    }
    b.push_str(&protection_note(lang, env));
    b.push_str(&downloads(lang, "/overleving", &p.query(), env));
    b
}

pub fn effects_form(lang: Lang, p: &Params, wijken: &[(String, String)], csrf: &str) -> String {
    let t = |a, b| lang.t(a, b).to_string();
    let mut wijk_opts = vec![(String::new(), t("alle wijken", "all districts"))];
    // The provision effects compare the panel's codes.
    wijk_opts.extend(
        wijken
            .iter()
            .map(|(code, name)| (code.clone(), wijk_label(code, name))),
    );
    format!(
        "<form method=\"post\" action=\"/voorzieningen\" class=\"inzicht-form\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><p class=\"utrecht-paragraph\">{}</p><div class=\"inzicht-row\">{}{}{}</div>{}</form>",
        esc(csrf),
        esc(&t("Doelgroep (extra deelgroep naast alle deelnemers, leeftijdsklassen en treden): bijvoorbeeld jonger dan 27 in één wijk.", "Target group (an extra subgroup beside all participants, age bands and steps): for example under 27 in one district.")),
        html::input("leeftijd_min", &t("Leeftijd vanaf", "Age from"), "number", p.get("leeftijd_min").unwrap_or(""), ""),
        html::input("leeftijd_max", &t("Leeftijd tot en met", "Age up to"), "number", p.get("leeftijd_max").unwrap_or(""), ""),
        html::select("wijk", &t("Wijk", "District"), &wijk_opts, p.get("wijk").unwrap_or("")),
        html::submit(&t("Bereken (duurt enkele seconden)", "Compute (takes a few seconds)")),
    )
}

/// A p-value as a reader expects it: three decimals, "< 0,001" below that.
fn p_text(lang: Lang, p: f64) -> String {
    if p < 0.001 {
        format!("< {}", html::num(lang, 0.001, 3))
    } else {
        html::num(lang, p, 3)
    }
}

/// "+3,2 (1,0–5,4)" in percentage points, or "te weinig om te schatten".
fn effect_text(lang: Lang, h: &Value) -> String {
    if h.is_null() {
        return "—".into();
    }
    if h["too_few"].as_bool() == Some(true) || f(&h["difference"]).is_none() {
        return lang
            .t("te weinig om te schatten", "too few to estimate")
            .into();
    }
    let d = f(&h["difference"]).unwrap_or(f64::NAN);
    format!(
        "{}{} ({} {} {})",
        if d >= 0.0 { "+" } else { "" },
        html::num(lang, 100.0 * d, 1),
        html::num(lang, 100.0 * f(&h["ci"][0]).unwrap_or(f64::NAN), 1),
        lang.t("tot", "to"),
        html::num(lang, 100.0 * f(&h["ci"][1]).unwrap_or(f64::NAN), 1)
    )
}

/// Whether the matched estimate at a horizon is a number (not "too few").
fn estimable(e: &Value, horizon: usize) -> bool {
    let h = &e["matched"][horizon];
    e["too_few"].as_bool() != Some(true)
        && h["too_few"].as_bool() != Some(true)
        && f(&h["difference"]).is_some()
}

/// What an estimate at a horizon says about time on benefit: more outflow to work, school or
/// income means a shorter time on benefit; "no clear difference" when the interval holds 0.
fn effect_verdict(lang: Lang, e: &Value, horizon: usize) -> String {
    let h = &e["matched"][horizon];
    if e["too_few"].as_bool() == Some(true) || h["too_few"].as_bool() == Some(true) {
        return lang
            .t("te weinig om te schatten", "too few to estimate")
            .into();
    }
    match (f(&h["ci"][0]), f(&h["ci"][1])) {
        (Some(lo), _) if lo > 0.0 => lang
            .t("korter in de uitkering", "shorter on benefit")
            .into(),
        (_, Some(hi)) if hi < 0.0 => lang.t("langer in de uitkering", "longer on benefit").into(),
        (Some(_), Some(_)) => lang
            .t("geen duidelijk verschil", "no clear difference")
            .into(),
        _ => lang
            .t("te weinig om te schatten", "too few to estimate")
            .into(),
    }
}

fn focus_estimate(g: &Value) -> Option<&Value> {
    g["subgroups"]
        .as_array()?
        .iter()
        .find(|e| e["subset"] == "focus")
}

/// The answer of the provision-effects page: per group the 12-month difference with and
/// without matching (and for the target group, if one was asked), with what it means — shared
/// by the web page and the standalone report.
pub fn effects_summary(lang: Lang, env: &Value) -> String {
    let t = |a, b| lang.t(a, b).to_string();
    let mut b = String::new();
    let focus = env["focus"].as_str();
    let groups: Vec<&Value> = env["groups"].as_array().into_iter().flatten().collect();
    // 1. The answer first: per group, 12 months, with and without matching, for everyone and
    //    for the chosen target group.
    let mut header = vec![
        t("voorzieningengroep", "provision group"),
        t("alle deelnemers: met matching", "all participants: matched"),
        t("zonder matching", "unmatched"),
        t("betekent", "means"),
    ];
    if focus.is_some() {
        header.extend([
            t("doelgroep: met matching", "target group: matched"),
            t("zonder matching", "unmatched"),
            t("betekent", "means"),
        ]);
    }
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|g| {
            let o = &g["overall"];
            let mut r = vec![
                s(&g["group"]),
                effect_text(lang, &o["matched"][1]),
                effect_text(lang, &o["naive"][1]),
                effect_verdict(lang, o, 1),
            ];
            if focus.is_some() {
                match focus_estimate(g) {
                    Some(e) if e["too_few"].as_bool() != Some(true) => r.extend([
                        effect_text(lang, &e["matched"][1]),
                        effect_text(lang, &e["naive"][1]),
                        effect_verdict(lang, e, 1),
                    ]),
                    _ => r.extend([
                        t("te weinig om te schatten", "too few to estimate"),
                        String::new(),
                        String::new(),
                    ]),
                }
            }
            r
        })
        .collect();
    b.push_str(&html::h2(&t(
        "Samenvatting na 12 maanden",
        "Summary after 12 months",
    )));
    if let Some(fc) = focus {
        let shorter: Vec<String> = groups
            .iter()
            .filter(|g| {
                focus_estimate(g)
                    .is_some_and(|e| effect_verdict(Lang::Nl, e, 1) == "korter in de uitkering")
            })
            .map(|g| s(&g["group"]))
            .collect();
        let estimated = groups
            .iter()
            .filter(|g| focus_estimate(g).is_some_and(|e| estimable(e, 1)))
            .count();
        let sentence = if estimated == 0 {
            format!("{} {fc}: {}", t("Doelgroep", "Target group"), t("te weinig deelnemers, controles of uitstromers om iets te zeggen over welke voorziening helpt.", "too few participants, controls or exits to say which provision helps."))
        } else if shorter.is_empty() {
            format!("{} {fc}: {}", t("Doelgroep", "Target group"), t("bij geen enkele voorzieningengroep een duidelijk kortere uitkeringsduur na matching.", "no provision group with a clearly shorter time on benefit after matching."))
        } else {
            format!(
                "{} {fc}: {} {}.",
                t("Doelgroep", "Target group"),
                t(
                    "na matching duidelijk korter in de uitkering met",
                    "clearly shorter on benefit after matching with"
                ),
                shorter.join(", ")
            )
        };
        b.push_str(&html::alert("info", &sentence));
    }
    b.push_str(&html::table(
        &t(
            "Verschil in uitstroom naar werk, school of inkomen binnen 12 maanden na de start, deelnemers min vergelijkbare niet-deelnemers, in procentpunten (95%-interval). Meer uitstroom betekent korter in de uitkering.",
            "Difference in outflow to work, school or income within 12 months of the start, participants minus comparable non-participants, in percentage points (95% interval). More outflow means a shorter time on benefit.",
        ),
        &header,
        &rows,
    ));
    b.push_str(&html::p(&t(
        "Met matching: elke deelnemer vergeleken met een vergelijkbare niet-deelnemer in dezelfde maand van de uitkering (sequentiële matching op de kenmerken van die maand); wie later toch de voorziening krijgt blijft controle (intention to treat). Zonder matching: deelnemers tegen alle niet-deelnemers, met voordeel voor wie snel vertrekt. 'Te weinig om te schatten': te weinig deelnemers, controles of uitstromers om het te zeggen. Een verschil na matching is geen bewijs: wat niet is vastgelegd (motivatie, het oordeel van de consulent) kan het verschil ook verklaren — zie de E-waarde.",
        "Matched: each participant compared with a similar non-participant in the same month of the spell (sequential matching on that month's characteristics); who receives the provision later stays a control (intention to treat). Unmatched: participants against all non-participants, favouring those who leave quickly. 'Too few to estimate': too few participants, controls or exits to say. A difference after matching is no proof: what was not recorded (motivation, the consultant's judgement) can explain it too — see the E-value.",
    )));
    b
}

/// The provision-effects page below its form: the summary ([`effects_summary`]), the forest
/// plot, per group its curves, balance and subsets, the protection note and the downloads.
pub fn effects_body(lang: Lang, p: &Params, env: &Value) -> String {
    let t = |a, b| lang.t(a, b).to_string();
    let mut b = effects_summary(lang, env);
    let groups: Vec<&Value> = env["groups"].as_array().into_iter().flatten().collect();
    let charts = charts("/voorzieningen", env, lang);
    let query = p.query();
    let figure = |name: &str| -> String {
        charts
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(n, svg)| {
                let href = format!(
                    "/grafiek/voorzieningen/{n}.svg{}",
                    if query.is_empty() {
                        String::new()
                    } else {
                        format!("?{query}")
                    }
                );
                html::figure(lang, svg, &href, n)
            })
            .collect()
    };
    b.push_str(&figure("effecten-forest"));
    // 2. Details per group, folded: curves, balance, subgroups and provision types.
    b.push_str(&html::h2(&t(
        "Per voorzieningengroep",
        "Per provision group",
    )));
    for g in &groups {
        let name = s(&g["group"]);
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let o = &g["overall"];
        let mut d = format!(
            "<details class=\"inzicht-details\"><summary>{} {} — {} {}, {} {}; {}</summary>",
            t("Groep", "Group"),
            esc(&name),
            html::count(lang, f(&o["n_treated"])),
            t("deelnemers", "participants"),
            html::count(lang, f(&o["n_controls"])),
            t("controles", "controls"),
            esc(&effect_verdict(lang, o, 1)),
        );
        if let Some(hr) = o["hazard_ratio"].as_object() {
            d.push_str(&html::p(&format!(
                "{} {} ({}–{}); {} {}.",
                t(
                    "Hazard ratio van uitstroom naar werk, school of inkomen, met matching:",
                    "Hazard ratio of outflow to work, school or income, matched:"
                ),
                f(&hr["hr"]).map_or("—".into(), |x| html::num(lang, x, 2)),
                f(&hr["lower"]).map_or("—".into(), |x| html::num(lang, x, 2)),
                f(&hr["upper"]).map_or("—".into(), |x| html::num(lang, x, 2)),
                t("E-waarde", "E-value"),
                f(&o["e_value"][0]).map_or("—".into(), |x| html::num(lang, x, 2)),
            )));
        }
        d.push_str(&figure(&format!("uitstroom-{safe}")));
        d.push_str(&figure(&format!("balans-{safe}")));
        let rows: Vec<Vec<String>> = estimates(g)
            .into_iter()
            .map(|e| {
                let label = if e["subset"].is_null() {
                    t("alle deelnemers", "all participants")
                } else {
                    format!("{} {}", s(&e["subset"]), s(&e["value"]))
                };
                if e["too_few"].as_bool() == Some(true) {
                    return vec![
                        label,
                        t("te weinig om te schatten", "too few to estimate"),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ];
                }
                vec![
                    label,
                    effect_text(lang, &e["matched"][0]),
                    effect_text(lang, &e["matched"][1]),
                    effect_text(lang, &e["naive"][1]),
                    effect_text(lang, &e["matched"][2]),
                    f(&e["matched"][1]["p_adjusted"]).map_or("—".into(), |x| p_text(lang, x)),
                ]
            })
            .collect();
        d.push_str(&html::table(
            &format!(
                "{} {} — {}",
                t("Groep", "Group"),
                name,
                t(
                    "verschil in procentpunten (95%-interval)",
                    "difference in percentage points (95% interval)"
                )
            ),
            &[
                t("deelgroep", "subgroup"),
                t("6 mnd, met matching", "6 months, matched"),
                t("12 mnd, met matching", "12 months, matched"),
                t("12 mnd, zonder matching", "12 months, unmatched"),
                t("24 mnd, met matching", "24 months, matched"),
                t("p (BH) 12 mnd", "p (BH) 12 months"),
            ],
            &rows,
        ));
        d.push_str("</details>");
        b.push_str(&d);
    }
    b.push_str(&protection_note(lang, env));
    b.push_str(&downloads(lang, "/voorzieningen", &p.query(), env));
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value and a column name an attacker controls (a code list, a feature name in the
    /// source configuration): markup and a spreadsheet formula.
    const EVIL_VALUE: &str = "<img src=x onerror=alert(1)>";
    const EVIL_COLUMN: &str = "=HYPERLINK(\"http://x\",\"<script>alert(2)</script>\")";

    fn evil_table() -> Value {
        json!({
            "dimensions": [EVIL_COLUMN],
            "measure": "count",
            "cells": [{"key": {EVIL_COLUMN: EVIL_VALUE}, "value": 12.0, "flag": "protected"},
                      {"key": {EVIL_COLUMN: "@SUM(A1:A9)"}, "value": null, "flag": "suppressed"}],
            "total": {"value": 30.0},
            "message": "<b>note</b>",
            "protection": {"threshold": 10},
            "meta": {"snapshot": "<s>"}
        })
    }

    #[test]
    fn data_values_and_column_names_are_escaped_on_pages() {
        let env = evil_table();
        let p = Params::new(vec![("indeling".into(), EVIL_COLUMN.into())]);
        for lang in [Lang::Nl, Lang::En] {
            let html = tabel_body(lang, &p, &env);
            assert!(!html.contains("<img"), "{html}");
            assert!(!html.contains("<script"), "{html}");
            assert!(!html.contains("<b>"), "{html}");
            assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
            let form = tabel_form(lang, &p, &[(EVIL_COLUMN.into(), EVIL_VALUE.into())], &[]);
            assert!(
                !form.contains("<img") && !form.contains("<script"),
                "{form}"
            );
        }
        // A tree whose rule and target carry markup.
        let tree = json!({"target": EVIL_VALUE, "tree": {"rules": [{"conditions": [EVIL_VALUE], "n": 20.0, "share_positive": 0.5, "prediction": EVIL_VALUE}]},
            "protection": {"threshold": 10}});
        let ch = Choices {
            wijken: vec![(EVIL_VALUE.into(), EVIL_COLUMN.into())],
            groups: vec![EVIL_COLUMN.into()],
        };
        let html = tree_body(Lang::Nl, &Params::default(), &tree, &ch);
        assert!(
            !html.contains("<img") && !html.contains("<script"),
            "{html}"
        );
    }

    #[test]
    fn exports_neutralise_formulas_in_values_and_column_names() {
        let env = evil_table();
        let tabs = tables("/tabel", &env);
        let t = &tabs[0];
        let stamp = crate::export::stamp("snap", &env["protection"]);
        for dutch in [true, false] {
            let text = String::from_utf8(crate::export::csv(t, dutch, &stamp)).unwrap();
            let sep = if dutch { ';' } else { ',' };
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                for field in line.trim_start_matches('\u{feff}').split(sep) {
                    let field = field.trim_start_matches('"');
                    assert!(
                        !field.starts_with(['=', '+', '@']),
                        "a field starts a formula: {field} in {line}"
                    );
                }
            }
            assert!(text.contains("'=HYPERLINK"), "{text}");
            assert!(text.contains("'@SUM(A1:A9)"), "{text}");
        }
        let x = crate::export::xlsx(t, &stamp).unwrap();
        assert!(x.starts_with(b"PK"));
    }
}
