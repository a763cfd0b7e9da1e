//! Advice about one client for their consultant (issue 8, docs/advice.md): per provision group,
//! what happened to comparable clients who started it and who did not, and the estimated effect
//! for clients like this one from two methods — matched subgroups (risk-set matching within the
//! client's age band and participatieladder step, `inzicht_stats::provision`) and a T-learner
//! (`inzicht_stats::hte`). Information with its limits, never a verdict; the consultant decides.
//!
//! The models are fitted once per snapshot ([`fit`], seconds) and kept; advice for one client
//! ([`AdviceModels::client`]) then reads that client's latest month and takes milliseconds.
//! Everything shown passes disclosure control: comparable clients are groups of at least the
//! threshold of persons with perturbed counts; estimates need the threshold of treated and of
//! controls. No pseudonym leaves this module.

use crate::effects::{self, cell, protect_estimate, EffectData};
use crate::table::Session;
use crate::StoreError;
use inzicht_protect::Protector;
use inzicht_stats::hte::{self, GroupHte, HteOptions};
use inzicht_stats::provision::{self, age_band, EffectOptions, GroupEffect, AGE_BANDS};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Comparable clients per arm.
pub const NEIGHBOURS: usize = 100;

/// A person's latest month in the panel: what the advice for them starts from.
struct LastMonth {
    features: Vec<f32>,
    age: i32,
    trede: u8,
    duration: i32,
    on_benefit: bool,
}

/// The comparable-client pool of one arm: each model row's person and outcome, and its
/// standardised features (row-major), so that finding neighbours is one pass over a flat array.
#[derive(Default)]
struct Pool {
    rows: Vec<(u32, bool)>,
    flat: Vec<f32>,
}

/// The fitted models and what advice needs of the panel — not the panel itself: the web
/// tool keeps this for the life of a snapshot (a few MB at municipality scale; fitting needs
/// the whole panel for a moment).
pub struct AdviceModels {
    by_pseudonym: HashMap<String, u32>,
    last: Vec<Option<LastMonth>>,
    record_keys: Vec<u64>,
    matched: Vec<GroupEffect>,
    hte: Vec<GroupHte>,
    group_names: HashMap<String, String>,
    /// Per group: (treated, control) pools.
    pools: Vec<[Pool; 2]>,
    pub snapshot: String,
    pub seconds_fit: f64,
    pub bootstrap: usize,
}

/// What the models need from the snapshot, read while holding the session (seconds); the
/// fitting itself ([`fit_inputs`]) needs no database.
pub struct AdviceInputs {
    data: EffectData,
    group_names: HashMap<String, String>,
    snapshot: String,
    started: std::time::Instant,
}

pub fn load_inputs(session: &Session) -> Result<AdviceInputs, StoreError> {
    let started = std::time::Instant::now();
    let data = effects::load(session)?;
    let mut group_names = HashMap::new();
    if let Ok(mut stmt) = session
        .conn()
        .prepare("SELECT local_code, description FROM ads.codes_provision_groups")
    {
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        for (c, n) in rows.flatten() {
            if let Some(n) = n {
                group_names.insert(c, n);
            }
        }
    }
    Ok(AdviceInputs {
        data,
        group_names,
        snapshot: session.snapshot.clone(),
        started,
    })
}

/// Fits both methods on the snapshot. `opt.bootstrap` sets the matched method's replicates.
pub fn fit(
    session: &Session,
    protector: &Protector,
    opt: &EffectOptions,
) -> Result<AdviceModels, StoreError> {
    fit_inputs(load_inputs(session)?, protector, opt)
}

/// Fits both methods on inputs read before (no database).
pub fn fit_inputs(
    inputs: AdviceInputs,
    protector: &Protector,
    opt: &EffectOptions,
) -> Result<AdviceModels, StoreError> {
    let AdviceInputs {
        data,
        group_names,
        snapshot,
        started,
    } = inputs;
    let mut opt = *opt;
    opt.min_persons = opt.min_persons.max(protector.threshold() as usize);
    let matched = provision::estimate_all(&data.panel, &opt).map_err(|e| StoreError::Input(e.0))?;
    let hopt = HteOptions {
        min_persons: opt.min_persons,
        ..Default::default()
    };
    let hte = hte::t_learner_all(&data.panel, &hopt);
    let d = &data.panel;
    let mut last_row: Vec<Option<usize>> = vec![None; d.n_persons];
    for r in 0..d.person.len() {
        let p = d.person[r] as usize;
        if last_row[p].is_none_or(|q| d.month[q] <= d.month[r]) {
            last_row[p] = Some(r);
        }
    }
    let by_pseudonym = data
        .pseudonyms
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), i as u32))
        .collect();
    let pools: Vec<[Pool; 2]> = hte
        .iter()
        .map(|h| {
            let pool = |rows: &[(usize, bool)]| -> Pool {
                match &h.model {
                    Some(m) => Pool {
                        rows: rows.iter().map(|&(r, y)| (d.person[r], y)).collect(),
                        flat: rows
                            .iter()
                            .flat_map(|&(r, _)| {
                                m.standardised(&d.features.dense_row(r))
                                    .into_iter()
                                    .map(|v| v as f32)
                            })
                            .collect(),
                    },
                    None => Pool::default(),
                }
            };
            [pool(&h.treated_rows), pool(&h.control_rows)]
        })
        .collect();
    let last: Vec<Option<LastMonth>> = last_row
        .iter()
        .map(|r| {
            r.map(|row| LastMonth {
                features: d.features.dense_row(row),
                age: d.age[row],
                trede: d.trede[row],
                duration: d.duration[row],
                on_benefit: d.month[row] == d.data_end && !d.exits[row],
            })
        })
        .collect();
    // The model rows are in the pools now; the panel is dropped with `data`.
    let hte = hte
        .into_iter()
        .map(|mut h| {
            h.treated_rows = Vec::new();
            h.control_rows = Vec::new();
            h
        })
        .collect();
    Ok(AdviceModels {
        pools,
        by_pseudonym,
        last,
        record_keys: data.record_keys,
        matched,
        hte,
        group_names,
        snapshot,
        seconds_fit: started.elapsed().as_secs_f64(),
        bootstrap: opt.bootstrap,
    })
}

/// How an interval reads, in Dutch: never a verdict.
fn reading(ci: Option<[f64; 2]>) -> &'static str {
    match ci {
        None => "te weinig om te schatten",
        Some([lo, _]) if lo > 0.0 => "hogere kans op uitstroom",
        Some([_, hi]) if hi < 0.0 => "lagere kans op uitstroom",
        Some(_) => "geen duidelijk verschil",
    }
}

impl AdviceModels {
    pub fn group_name(&self, code: &str) -> String {
        self.group_names
            .get(code)
            .map_or(code.to_string(), |n| format!("{n} ({code})"))
    }

    /// The advice for the client with this pseudonym (the server derived it from a BSN), as the
    /// result fields of the common envelope; `None` when the client has no benefit months.
    pub fn client(&self, pseudonym: &str, p: &Protector) -> Option<Map<String, Value>> {
        let pid = *self.by_pseudonym.get(pseudonym)?;
        let last = self.last.get(pid as usize)?.as_ref()?;
        let features = &last.features[..];
        let band = AGE_BANDS[age_band(last.age)];
        let trede = last.trede;
        let on_benefit = last.on_benefit;
        let keys = &self.record_keys;
        let t = p.threshold();
        let mut groups = Vec::new();
        for (g, (m, h)) in self.matched.iter().zip(&self.hte).enumerate() {
            // Method 1: the matched estimates of the client's subgroups.
            let pick = |subset: &str, value: &str| -> Value {
                let mut total = 0;
                let mut suppressed = 0;
                m.subgroups
                    .iter()
                    .find(|e| e.subset == subset && e.value == value)
                    .map(|e| {
                        let v = protect_estimate(e, keys, p, &mut total, &mut suppressed);
                        let at12 = v["matched"].get(1).cloned().unwrap_or(Value::Null);
                        let ci = at12["ci"].as_array().and_then(|c| {
                            Some([c.first()?.as_f64()?, c.get(1)?.as_f64()?])
                        });
                        json!({"subset": subset, "value": value,
                            "too_few": v["too_few"] == true || ci.is_none(),
                            "difference": at12["difference"], "ci": at12["ci"],
                            "treated": at12["treated"], "control": at12["control"],
                            "reading": reading(ci)})
                    })
                    .unwrap_or(json!({"subset": subset, "value": value, "too_few": true, "reading": reading(None)}))
            };
            let mut matched = vec![pick("age_band", band)];
            if trede > 0 {
                matched.push(pick("trede", &trede.to_string()));
            }
            // Method 2: the T-learner at this client's features.
            let t_learner = match &h.model {
                Some(model)
                    if p
                        .require_groups(&[
                            ("behandeld", model.n_treated_persons as u64),
                            ("controles", model.n_control_persons as u64),
                        ])
                        .is_ok() =>
                {
                    model
                        .effect(std::iter::once(features))
                        .map(|c| json!({"too_few": false, "difference": c.estimate, "ci": c.ci, "with": c.with, "without": c.without, "reading": reading(Some(c.ci))}))
                        .unwrap_or(json!({"too_few": true, "reading": reading(None)}))
                }
                _ => json!({"too_few": true, "reading": reading(None)}),
            };
            // Comparable clients: the nearest persons on the model's standardised features.
            let comparable = h.model.as_ref().map(|model| {
                let me: Vec<f32> = model
                    .standardised(features)
                    .into_iter()
                    .map(|v| v as f32)
                    .collect();
                let q = me.len().max(1);
                let arm = |pool: &Pool| -> Value {
                    let mut dist: Vec<(f32, u32, bool)> = pool
                        .rows
                        .iter()
                        .enumerate()
                        .filter(|(_, (person, _))| *person != pid)
                        .map(|(i, &(person, y))| {
                            let x = &pool.flat[i * q..(i + 1) * q];
                            let s: f32 = x.iter().zip(&me).map(|(a, b)| (a - b) * (a - b)).sum();
                            (s, person, y)
                        })
                        .collect();
                    dist.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                    let mut seen = std::collections::HashSet::new();
                    let mut persons = Vec::new();
                    let mut wsi = Vec::new();
                    for (_, person, y) in dist {
                        if seen.insert(person) {
                            persons.push(person);
                            if y {
                                wsi.push(person);
                            }
                            if persons.len() == NEIGHBOURS {
                                break;
                            }
                        }
                    }
                    let share = p.share(&cell(keys, &wsi), &cell(keys, &persons));
                    json!({"n": p.count(&cell(keys, &persons)).value, "share_wsi": share.value})
                };
                let [treated, control] = &self.pools[g];
                json!({"treated": arm(treated), "control": arm(control)})
            });
            groups.push(json!({
                "group": m.group,
                "name": self.group_name(&m.group),
                "matched_subgroups": matched,
                "t_learner": t_learner,
                "comparable": comparable,
                "index": g,
            }));
        }
        let mut out = Map::new();
        out.insert("groups".into(), Value::Array(groups));
        out.insert(
            "client".into(),
            json!({"age_band": band, "trede": (trede > 0).then_some(trede), "months_on_benefit": last.duration + 1, "on_benefit_now": on_benefit}),
        );
        out.insert("horizon_months".into(), json!(12));
        out.insert("neighbours".into(), json!(NEIGHBOURS));
        out.insert("threshold".into(), json!(t));
        out.insert("methods".into(), json!([
            {"name": "matched_subgroups", "label": "gematchte subgroep", "description": "cliënten die de voorziening in een maand van hun uitkering startten, vergeleken met gematchte cliënten in dezelfde maand van hun uitkering die hem (nog) niet kregen, binnen de leeftijdsklasse of trede van deze cliënt (intention to treat)"},
            {"name": "t_learner", "label": "T-learner", "description": "twee voorspelmodellen (met en zonder start) op de kenmerken zoals bekend in die maand, toegepast op de kenmerken van deze cliënt nu"}
        ]));
        out.insert("limits".into(), json!([
            "Schattingen op registratiegegevens: ze houden alleen rekening met wat is vastgelegd. Wat de consulent weet en het systeem niet (motivatie, netwerk, gezondheid) kan het beeld veranderen.",
            "Het effect is een gemiddelde voor cliënten zoals deze, geen voorspelling voor deze ene persoon.",
            "Een breed interval betekent: we weten het niet. 'Geen duidelijk verschil' is geen bewijs dat het niet helpt.",
            "U beslist. inzicht beslist niets en legt alleen uw keuze vast als u dat wilt."
        ]));
        Some(out)
    }

    /// Rank correlation and interval coverage of both methods against true subgroup effects:
    /// `truth` is the `provision_effects.groups` array of the synthetic truth.
    pub fn validate(&self, truth: &Value) -> Value {
        let mut methods = Vec::new();
        for method in ["matched_subgroups", "t_learner"] {
            let mut est = Vec::new();
            let mut tru = Vec::new();
            let mut covered = 0usize;
            let mut rows = Vec::new();
            let mut within: Vec<f64> = Vec::new();
            for (m, h) in self.matched.iter().zip(&self.hte) {
                let Some(tg) = truth
                    .as_array()
                    .and_then(|a| a.iter().find(|x| x["group"] == m.group.as_str()))
                else {
                    continue;
                };
                let (mut ge, mut gt) = (Vec::new(), Vec::new());
                for subset in ["age_band", "trede"] {
                    for ts in tg["subgroups"][subset].as_array().into_iter().flatten() {
                        let value = ts["value"].as_str().unwrap_or("");
                        let Some(true_12) = ts["primary"]["att_12"].as_f64() else {
                            continue;
                        };
                        let e: Option<(f64, [f64; 2])> = if method == "matched_subgroups" {
                            m.subgroups
                                .iter()
                                .find(|e| e.subset == subset && e.value == value && !e.too_few)
                                .and_then(|e| e.matched.get(1))
                                .filter(|x| {
                                    x.difference.is_finite() && x.ci.iter().all(|c| c.is_finite())
                                })
                                .map(|x| (x.difference, x.ci))
                        } else {
                            h.subgroups
                                .iter()
                                .find(|e| e.subset == subset && e.value == value && !e.too_few)
                                .and_then(|e| e.cate)
                                .map(|c| (c.estimate, c.ci))
                        };
                        let Some((x, ci)) = e else { continue };
                        let cov = ci[0] <= true_12 && true_12 <= ci[1];
                        covered += cov as usize;
                        est.push(x);
                        tru.push(true_12);
                        ge.push(x);
                        gt.push(true_12);
                        rows.push(json!({"group": m.group, "subset": subset, "value": value, "estimate": x, "ci": ci, "truth": true_12, "covered": cov}));
                    }
                }
                if let Some(r) = inzicht_advice::eval::spearman(&ge, &gt) {
                    within.push(r);
                }
            }
            let n = est.len();
            methods.push(json!({
                "name": method,
                "rank_correlation": inzicht_advice::eval::spearman(&est, &tru),
                "rank_correlation_within_groups": (!within.is_empty()).then(|| within.iter().sum::<f64>() / within.len() as f64),
                "coverage": (n > 0).then(|| covered as f64 / n as f64),
                "mean_absolute_error": (n > 0).then(|| est.iter().zip(&tru).map(|(a, b)| (a - b).abs()).sum::<f64>() / n as f64),
                "n_subgroups": n,
                "subgroups": rows,
            }));
        }
        json!({"methods": methods, "horizon_months": 12, "truth_scale": "ATT: difference in cumulative W/S/I outflow 12 months after the start (primary: moving away censored)"})
    }
}
