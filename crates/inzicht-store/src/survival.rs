//! Time to outflow on the store (the web tool's *Overleving* page and `inzicht report`): for the
//! benefit spells of a target group, from the reference month on, per group of one
//! characteristic —
//!
//! - the Kaplan–Meier curve of "still no outflow for the chosen reasons" (other exits censored:
//!   the cause-specific view), through the curve rules of disclosure control
//!   (`inzicht_protect::curve`: pooled months, ending below the threshold at risk);
//! - the cumulative incidence of outflow for the chosen reasons with the other exits competing
//!   (Aalen–Johansen; Putter, Fiocco & Geskus 2007), at 6, 12 and 24 months, shown only where at
//!   least the threshold of persons had the outflow and at least the threshold were still at
//!   risk (a share resting on a handful of exits is an attribute disclosure);
//! - the log-rank test across the groups and a Cox model of the cause-specific hazard with the
//!   groups as dummies against the largest group, robust standard errors clustered on the
//!   person (a person may have several spells); a hazard ratio is shown only when each group
//!   behind it has at least the threshold of exits.
//!
//! Time is counted in months: a spell that ends in its reference month has time 1; a spell still
//! running at the end of the data is censored at `data_end − ref + 1`.

use crate::cohort::{self, Cohort, CohortSpec};
use crate::patterns::Keyed;
use crate::table::Session;
use crate::StoreError;
use inzicht_protect::curve::{self, StepInput};
use inzicht_protect::Protector;
use inzicht_stats::competing;
use inzicht_stats::cox::{self, CoxData, CoxOptions};
use inzicht_stats::logrank::logrank;
use inzicht_stats::tree::FeatureValues;
use serde_json::{json, Map, Value};

/// Characteristics a curve can be split by, besides any categorical feature of the cohort.
pub const GROUP_BY: &[&str] = &[
    "leeftijdsklasse",
    "geslacht",
    "wijk",
    "migratieachtergrond",
    "trede",
    "huishoudtype",
    "opleidingsniveau",
];
const HORIZONS: [i32; 3] = [6, 12, 24];
/// At most this many groups (the largest; the rest pooled as "overig").
const MAX_GROUPS: usize = 8;

#[derive(Debug, Clone)]
pub struct SurvivalOptions {
    /// A characteristic (see [`GROUP_BY`]) or None for one curve.
    pub group_by: Option<String>,
    /// The curves stop here (months).
    pub max_months: i32,
}

impl Default for SurvivalOptions {
    fn default() -> Self {
        SurvivalOptions {
            group_by: Some("leeftijdsklasse".into()),
            max_months: 36,
        }
    }
}

/// The group label of every row, from an audit attribute or a categorical feature.
fn group_labels(c: &Cohort, by: &str) -> Result<Vec<String>, StoreError> {
    if let Some((_, v)) = c.audit.iter().find(|(n, _)| n == by) {
        return Ok(v.clone());
    }
    if let Some(f) = c.features.iter().find(|f| f.name == by) {
        return Ok(match &f.values {
            FeatureValues::Categorical { codes, levels } => codes
                .iter()
                .map(|&k| levels.get(k as usize).cloned().unwrap_or("onbekend".into()))
                .collect(),
            FeatureValues::Numeric(v) => v
                .iter()
                .map(|x| {
                    if x.is_nan() {
                        "onbekend".into()
                    } else {
                        crate::patterns::nl_num(*x, 2)
                    }
                })
                .collect(),
        });
    }
    Err(StoreError::Input(format!(
        "cannot split the curves by '{by}'; choose one of: {}",
        GROUP_BY.join(", ")
    )))
}

/// Runs the analysis; returns the result fields of the envelope plus `cells_total` and
/// `cells_suppressed`.
pub fn run(
    session: &Session,
    protector: &Protector,
    spec: &CohortSpec,
    opt: &SurvivalOptions,
) -> Result<Map<String, Value>, StoreError> {
    let mut spec = spec.clone();
    // Survival uses censoring: every spell counts, also those without the full window.
    spec.keep_unlabelled = true;
    if let Some(by) = &opt.group_by {
        if !spec.features.is_empty() && !spec.features.contains(by) {
            spec.features.push(by.clone());
        }
    }
    if !spec.features.is_empty() && !spec.features.iter().any(|f| f == "trede") {
        spec.features.push("trede".into());
    }
    let c = cohort::build(session, &spec)?;
    let n = c.y.len();
    let t_threshold = protector.threshold();
    let keyed = Keyed {
        keys: &c.keys,
        person: Some(&c.person),
        protector,
    };
    // Time and cause per row.
    let mut time = Vec::with_capacity(n);
    let mut cause = Vec::with_capacity(n);
    for i in 0..n {
        let (t, k) = match c.exit_month[i] {
            Some(e) => {
                let chosen = c.exit_class[i]
                    .as_ref()
                    .is_some_and(|x| spec.reasons.contains(x));
                (e - c.ref_month[i] + 1, if chosen { 1 } else { 2 })
            }
            None => (c.data_end - c.ref_month[i] + 1, 0),
        };
        time.push(t.max(1));
        cause.push(k);
    }
    // Groups: the largest first; beyond MAX_GROUPS pooled.
    let labels = match &opt.group_by {
        Some(by) => group_labels(&c, by)?,
        None => vec!["alle".to_string(); n],
    };
    let mut sizes: std::collections::BTreeMap<&str, usize> = Default::default();
    for l in &labels {
        *sizes.entry(l.as_str()).or_default() += 1;
    }
    let mut order: Vec<(&str, usize)> = sizes.into_iter().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let names: Vec<String> = order
        .iter()
        .take(MAX_GROUPS)
        .map(|(s, _)| s.to_string())
        .chain((order.len() > MAX_GROUPS).then(|| "overig".to_string()))
        .collect();
    let group_of: Vec<usize> = labels
        .iter()
        .map(|l| names.iter().position(|x| x == l).unwrap_or(names.len() - 1))
        .collect();
    let mut total_cells = 0usize;
    let mut suppressed = 0usize;
    let mut groups_out = Vec::new();
    let mut shown_groups: Vec<usize> = Vec::new();
    for (g, name) in names.iter().enumerate() {
        let rows: Vec<usize> = (0..n).filter(|&i| group_of[i] == g).collect();
        let size = keyed.cell(rows.iter().copied());
        total_cells += 1;
        let n_shown = protector.count(&size).value;
        if size.persons < t_threshold || n_shown.is_none() {
            suppressed += 1;
            groups_out.push(json!({"group": name, "too_few": true,
                "message": "te weinig om te tonen / too few to show"}));
            continue;
        }
        // The monthly grid: at risk at the start of month t (time > t), events in it.
        let steps: Vec<StepInput> = (0..opt.max_months)
            .map(|t| StepInput {
                time: t as u32,
                at_risk: keyed.cell(rows.iter().copied().filter(|&i| time[i] > t)),
                events: keyed.cell(
                    rows.iter()
                        .copied()
                        .filter(|&i| time[i] == t + 1 && cause[i] == 1),
                ),
            })
            .collect();
        let curve = curve::protect(protector, &steps);
        let events_total = keyed.cell(rows.iter().copied().filter(|&i| cause[i] == 1));
        let events_shown = protector.count(&events_total).value;
        // Aalen–Johansen on the true data; each horizon shown only with enough persons.
        let tt: Vec<f64> = rows.iter().map(|&i| time[i] as f64).collect();
        let cc: Vec<usize> = rows.iter().map(|&i| cause[i]).collect();
        let aj = competing::aalen_johansen(&tt, &cc, 2, None).ok();
        let cif: Vec<Value> = HORIZONS
            .iter()
            .map(|&h| {
                total_cells += 1;
                let ev = keyed.cell(
                    rows.iter()
                        .copied()
                        .filter(|&i| cause[i] == 1 && time[i] <= h),
                );
                let risk = keyed.cell(rows.iter().copied().filter(|&i| time[i] >= h));
                let ok = !protector.is_protected()
                    || (ev.persons >= t_threshold && risk.persons >= t_threshold);
                match (&aj, ok) {
                    (Some(aj), true) => {
                        let v = aj.cif_at(0, h as f64);
                        let se = aj.se_at(0, h as f64);
                        json!({"months": h, "cif": round4(v),
                            "lower": round4((v - 1.959_964 * se).max(0.0)),
                            "upper": round4((v + 1.959_964 * se).min(1.0))})
                    }
                    _ => {
                        suppressed += 1;
                        json!({"months": h, "too_few": true})
                    }
                }
            })
            .collect();
        let median = curve.steps.iter().find(|s| s.survival <= 0.5).map(|s| s.to);
        shown_groups.push(g);
        groups_out.push(json!({
            "group": name,
            "too_few": false,
            "persons": n_shown,
            "events": events_shown,
            "curve": curve,
            "median_months": median,
            "cif": cif,
            // The shape `inzicht_charts::km::chart` draws: 1 − the share out, per shown step.
            "times": curve.steps.iter().map(|s| s.to).collect::<Vec<_>>(),
            "survival": curve.steps.iter().map(|s| round4(s.survival)).collect::<Vec<_>>(),
            "at_risk": curve.steps.iter().map(|s| s.at_risk).collect::<Vec<_>>(),
            "ci_lower": Vec::<Value>::new(),
            "ci_upper": Vec::<Value>::new(),
            "median": median,
        }));
    }
    // Tests across the shown groups only (a hidden group must not move a shown number).
    let in_test: Vec<usize> = (0..n)
        .filter(|&i| shown_groups.contains(&group_of[i]))
        .collect();
    let mut tests = json!(null);
    let mut cox_out = json!(null);
    if shown_groups.len() >= 2 {
        let idx = |g: usize| shown_groups.iter().position(|&x| x == g).unwrap_or(0);
        let tt: Vec<f64> = in_test.iter().map(|&i| time[i] as f64).collect();
        let ev: Vec<bool> = in_test.iter().map(|&i| cause[i] == 1).collect();
        let gg: Vec<usize> = in_test.iter().map(|&i| idx(group_of[i])).collect();
        if let Ok(lr) = logrank(&tt, &ev, &gg, shown_groups.len(), None) {
            tests = json!({"statistic": round4(lr.statistic), "df": lr.df, "p_value": lr.p_value});
        }
        // Cox: dummies against the first (largest) shown group.
        let k = shown_groups.len() - 1;
        let mut x = Vec::with_capacity(in_test.len() * k);
        for &g in &gg {
            for j in 1..=k {
                x.push((g == j) as u8 as f64);
            }
        }
        let cox_names: Vec<String> = shown_groups[1..]
            .iter()
            .map(|&g| names[g].clone())
            .collect();
        let cluster: Vec<usize> = in_test.iter().map(|&i| c.person[i] as usize).collect();
        let data = CoxData {
            start: None,
            stop: &tt,
            event: &ev,
            x: &x,
            names: &cox_names,
            weights: None,
            strata: None,
            cluster: Some(&cluster),
        };
        let events_per_group: Vec<u64> = (0..=k)
            .map(|j| {
                keyed
                    .cell(
                        in_test
                            .iter()
                            .zip(&gg)
                            .filter(|(&i, &g)| g == j && cause[i] == 1)
                            .map(|(&i, _)| i),
                    )
                    .persons
            })
            .collect();
        if let Ok(fit) = cox::fit(&data, &CoxOptions::default()) {
            let rows: Vec<Value> = fit
                .coefficients
                .iter()
                .enumerate()
                .map(|(j, co)| {
                    total_cells += 1;
                    let enough = !protector.is_protected()
                        || (events_per_group[0] >= t_threshold
                            && events_per_group[j + 1] >= t_threshold);
                    if enough && fit.converged && co.hr.is_finite() {
                        json!({"group": co.name, "hr": round4(co.hr), "lower": round4(co.hr_lower),
                            "upper": round4(co.hr_upper), "p_value": co.p})
                    } else {
                        suppressed += 1;
                        json!({"group": co.name, "too_few": true})
                    }
                })
                .collect();
            cox_out = json!({"reference": names[shown_groups[0]], "rows": rows,
                "converged": fit.converged, "warnings": fit.warnings,
                "method": "Cox, oorzaakspecifieke hazard, Efron-ties, robuuste SE geclusterd op persoon / cause-specific hazard, Efron ties, robust SEs clustered on person"});
        }
    }
    let mut out = Map::new();
    out.insert(
        "target".into(),
        json!(crate::prediction::target_text(&spec)),
    );
    out.insert("group_by".into(), json!(opt.group_by));
    out.insert(
        "cohort".into(),
        json!({
            "spells": keyed.count(0..n),
            "reference": format!("{:?}", spec.reference),
        }),
    );
    out.insert("groups".into(), json!(groups_out));
    out.insert("logrank".into(), tests);
    out.insert("cox".into(), cox_out);
    out.insert(
        "method".into(),
        json!({
            "curve": "Kaplan–Meier van 'nog geen uitstroom naar de gekozen redenen'; andere uitstroom gecensureerd (oorzaakspecifiek); maanden gepoold tot de drempel aan uitstroom is bereikt / Kaplan–Meier of 'no outflow for the chosen reasons yet'; other exits censored; months pooled until the threshold of exits is reached",
            "cif": "Aalen–Johansen: cumulatieve incidentie met andere uitstroom als concurrerend risico, 95%-interval (Greenwood-type) / cumulative incidence with other exits competing",
            "time": "maanden vanaf het referentiepunt; een uitkering die in de referentiemaand eindigt heeft tijd 1 / months from the reference point",
        }),
    );
    out.insert("cells_total".into(), json!(total_cells));
    out.insert("cells_suppressed".into(), json!(suppressed));
    Ok(out)
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
