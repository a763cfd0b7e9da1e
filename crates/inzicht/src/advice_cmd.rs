//! `inzicht jobs` (client–vacancy matching) and `inzicht advise` (heterogeneous provision
//! effects for one client, and their validation): wiring of `inzicht_store::matching` and
//! `inzicht_store::advice` to the command line. The evaluations read the synthetic truth
//! (`--truth`) only after the rankings and estimates are made, to score them.

use crate::cli::{Failure, OutputFormat, StoreArgs};
use clap::Args;
use inzicht_protect::{Policy, Protector};
use inzicht_store::matching::{self, MatchColumns, MatchData, TruthClient};
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct JobsArgs {
    #[command(flatten)]
    pub common: StoreArgs,
    /// Score the ranking on the synthetic truth (needs --truth): precision@10 and nDCG@10 beside
    /// the occupation-title baseline.
    #[arg(long, requires = "truth")]
    pub evaluate: bool,
    /// The synthetic municipality's truth.json.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Ranked vacancies for one client, found by BSN (or the person key the export uses).
    #[arg(long, conflicts_with_all = ["evaluate", "vacancy"])]
    pub bsn: Option<String>,
    /// Ranked clients on benefit for one vacancy (its id); shows the person keys from the
    /// identifiable ODS, so it is for the data team.
    #[arg(long, conflicts_with = "evaluate")]
    pub vacancy: Option<String>,
    /// How many to list (and k of precision@k, nDCG@k).
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// A skills taxonomy instead of the code list: a directory with the ESCO CSV export, or a
    /// SKOS file in N-Triples (.nt, e.g. CompetentNL converted with an RDF tool).
    #[arg(long, alias = "esco")]
    pub taxonomy: Option<PathBuf>,
}

pub(crate) struct Opened {
    pub session: inzicht_store::table::Session,
    pub protector: Protector,
    pub key_file: PathBuf,
    pub columns: MatchColumns,
}

pub(crate) fn open(a: &StoreArgs) -> Result<Opened, Failure> {
    let key_file = a.key_file()?;
    let secrets = inzicht_store::recordkeys::secrets_dir(&key_file);
    let policy = Policy::from_dir(&secrets).map_err(Failure::usage)?;
    let protector = Protector::new(policy).map_err(Failure::usage)?;
    let session = inzicht_store::table::Session::open(&a.store, a.as_of.as_deref(), &key_file)?;
    let columns = MatchColumns::from_dir(&secrets)?;
    Ok(Opened {
        session,
        protector,
        key_file,
        columns,
    })
}

#[derive(Deserialize)]
struct Truth {
    #[serde(default)]
    matching_clients: Vec<TruthMatch>,
}

#[derive(Deserialize)]
struct TruthMatch {
    bsn: String,
    good: Vec<TruthGood>,
}

#[derive(Deserialize)]
struct TruthGood {
    vacancy: String,
    grade: u8,
}

/// A result on store data in the common envelope, with the protection note that says what was
/// done to it.
fn protected(
    o: &Opened,
    result: serde_json::Map<String, Value>,
    note: &str,
    params: Value,
) -> Value {
    inzicht_protect::envelope(
        result,
        json!({"status": "protected", "note": note, "threshold": o.protector.threshold()}),
        Some(&o.session.snapshot),
        params,
    )
}

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, Failure> {
    let file = std::fs::File::open(path)
        .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    serde_json::from_reader(std::io::BufReader::new(file)).map_err(|e| {
        Failure::usage(format!(
            "{}: not a truth.json of `inzicht synth` ({e})",
            path.display()
        ))
    })
}

/// A BSN of the synthetic municipality's matching sample (on benefit at the end), for the demo.
pub(crate) fn example_bsn(truth: &Path) -> Option<String> {
    let t: Truth = read_json(truth).ok()?;
    t.matching_clients.first().map(|c| c.bsn.clone())
}

fn bsn_pseudonym(key_file: &Path, bsn: &str) -> Result<String, Failure> {
    let key = inzicht_store::KeyFile::load(key_file).map_err(Failure::usage)?;
    let cleaned: String = bsn
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '.')
        .collect();
    Ok(key.pseudonym(&cleaned))
}

fn not_in_snapshot() -> Failure {
    Failure::usage(
        "this BSN is not in the snapshot (no benefit months): check the number, or the snapshot (--as-of)",
    )
}

fn nl(x: f64, digits: usize) -> String {
    format!("{x:.digits$}").replace('.', ",")
}

pub fn jobs(a: JobsArgs) -> Result<(), Failure> {
    if a.top == 0 || a.top > 1000 {
        return Err(Failure::usage("--top must be between 1 and 1000"));
    }
    let o = open(&a.common)?;
    let started = std::time::Instant::now();
    let data = matching::load(&o.session, &o.columns, a.taxonomy.as_deref())?;
    let load_seconds = started.elapsed().as_secs_f64();
    let params = json!({"as_of": a.common.as_of, "top": a.top, "taxonomy": a.taxonomy, "evaluate": a.evaluate});
    if a.evaluate {
        let path = a.truth.clone().unwrap_or_default();
        let truth: Truth = read_json(&path)?;
        if truth.matching_clients.is_empty() {
            return Err(Failure::usage(format!(
                "{}: no matching_clients: this truth has no matching evaluation",
                path.display()
            )));
        }
        let key = inzicht_store::KeyFile::load(&o.key_file).map_err(Failure::usage)?;
        let clients: Vec<TruthClient> = truth
            .matching_clients
            .iter()
            .map(|t| TruthClient {
                pseudonym: key.pseudonym(&t.bsn),
                good: t
                    .good
                    .iter()
                    .map(|g| (g.vacancy.clone(), g.grade))
                    .collect(),
            })
            .collect();
        let ev = matching::evaluate(&data, &clients, a.top);
        o.protector
            .require_groups(&[("clients evaluated", ev.matching.n_clients as u64)])
            .map_err(|r| Failure::usage(r.0))?;
        let k = a.top;
        let q = |x: &inzicht_advice::eval::Quality| json!({format!("precision_at_{k}"): x.precision_at_k, format!("ndcg_at_{k}"): x.ndcg_at_k});
        let mut result = serde_json::Map::new();
        result.insert(
            format!("precision_at_{k}"),
            json!(ev.matching.precision_at_k),
        );
        result.insert(format!("ndcg_at_{k}"), json!(ev.matching.ndcg_at_k));
        result.insert("baseline".into(), q(&ev.baseline));
        result.insert(
            "baseline_with_constraints".into(),
            q(&ev.baseline_with_constraints),
        );
        result.insert("n_clients".into(), json!(ev.matching.n_clients));
        result.insert(
            "n_clients_without_good_vacancy".into(),
            json!(ev.matching.n_without_relevant),
        );
        result.insert(
            "n_truth_clients_not_in_store".into(),
            json!(ev.truth_clients_not_in_store),
        );
        result.insert("n_vacancies".into(), json!(data.vacancies.len()));
        result.insert("seconds_ranking".into(), json!(ev.seconds_ranking));
        result.insert("load".into(), json!(data.report));
        let env = protected(&o, result, "Gemiddelden over ten minste de drempel aan cliënten; geen celwaarden. / Means over at least the threshold of clients; no cells.", params);
        return print(&a.common.format, &env, || {
            println!("Matching van cliënten en vacatures op competenties, getoetst op de synthetische waarheid\n");
            println!(
                "{:<44} {:>14} {:>10}",
                "",
                format!("precisie@{k}"),
                format!("nDCG@{k}")
            );
            for (name, x) in [
                ("competenties + eisen (inzicht)", &ev.matching),
                ("alleen beroepstitels (basislijn)", &ev.baseline),
                (
                    "beroepstitels binnen dezelfde eisen",
                    &ev.baseline_with_constraints,
                ),
            ] {
                println!(
                    "{name:<44} {:>14} {:>10}",
                    nl(x.precision_at_k, 3),
                    nl(x.ndcg_at_k, 3)
                );
            }
            println!(
                "\n{} cliënten beoordeeld ({} zonder enige passende vacature niet meegeteld; {} niet in de gegevens), {} vacatures; rangschikken {} s.",
                ev.matching.n_clients,
                ev.matching.n_without_relevant,
                ev.truth_clients_not_in_store,
                data.vacancies.len(),
                nl(ev.seconds_ranking, 2)
            );
            print_report(&data);
        });
    }
    if let Some(bsn) = &a.bsn {
        let ps = bsn_pseudonym(&o.key_file, bsn)?;
        let Some(i) = data.client_of(&ps) else {
            return Err(not_in_snapshot());
        };
        let env = client_jobs(&data, i, a.top, &o.session.snapshot, params);
        return print(&a.common.format, &env, || print_client_jobs(&env));
    }
    if let Some(id) = &a.vacancy {
        let Some(v) = data.vacancy_of(id) else {
            return Err(Failure::usage(format!(
                "vacancy '{id}' is not in the snapshot; the ids are in the vacancies export"
            )));
        };
        let current: Vec<usize> = data.current_clients();
        let profiles: Vec<inzicht_advice::ClientProfile> =
            current.iter().map(|&i| data.clients[i].clone()).collect();
        let ranked = data
            .matcher()
            .rank_clients(&data.vacancies[v], &profiles, a.top);
        let positions: Vec<usize> = ranked.iter().map(|s| current[s.index as usize]).collect();
        let keys = matching::client_keys(
            &a.common.store,
            a.common.as_of.as_deref(),
            &data,
            &positions,
        )?;
        let rows: Vec<Value> = ranked
            .iter()
            .zip(&positions)
            .zip(&keys)
            .map(|((s, &p), key)| {
                let e = data.matcher().explain(&data.clients[p], &data.vacancies[v], &data.catalogue);
                json!({"client_key": key, "p_match": s.p_match, "coverage": s.coverage, "distance_km": s.distance_km, "explanation": e})
            })
            .collect();
        let mut result = serde_json::Map::new();
        result.insert("vacancy".into(), json!(data.vacancies[v].id));
        result.insert("title".into(), json!(data.vacancies[v].title));
        result.insert("clients".into(), Value::Array(rows));
        result.insert("n_candidates".into(), json!(current.len()));
        let env = inzicht_protect::envelope(
            result,
            json!({"status": "identifiable", "note": "Cliëntsleutels uit de ODS: alleen voor het datateam. / Client keys from the ODS: data team only."}),
            Some(&o.session.snapshot),
            params,
        );
        return print(&a.common.format, &env, || {
            println!(
                "Passende cliënten voor {} — {}",
                env["vacancy"].as_str().unwrap_or(""),
                env["title"].as_str().unwrap_or("")
            );
            for (k, c) in env["clients"].as_array().into_iter().flatten().enumerate() {
                println!(
                    "{:>3}. {}  kans op passend {}%, dekking {}%, {} km",
                    k + 1,
                    c["client_key"].as_str().unwrap_or("?"),
                    nl(100.0 * c["p_match"].as_f64().unwrap_or(0.0), 0),
                    nl(100.0 * c["coverage"].as_f64().unwrap_or(0.0), 0),
                    c["distance_km"].as_f64().map_or("?".into(), |d| nl(d, 1))
                );
            }
        });
    }
    // No mode: rank every client on benefit against every vacancy and report the load.
    let current = data.current_clients();
    let profiles: Vec<inzicht_advice::ClientProfile> =
        current.iter().map(|&i| data.clients[i].clone()).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let t0 = std::time::Instant::now();
    let ranked = data
        .matcher()
        .rank_all(&profiles, &data.vacancies, a.top, threads);
    let rank_seconds = t0.elapsed().as_secs_f64();
    let with_any = ranked.iter().filter(|r| !r.is_empty()).count();
    let mut result = serde_json::Map::new();
    result.insert("clients_ranked".into(), json!(profiles.len()));
    result.insert("vacancies".into(), json!(data.vacancies.len()));
    result.insert("clients_with_a_vacancy".into(), json!(with_any));
    result.insert("seconds_load".into(), json!(load_seconds));
    result.insert("seconds_ranking".into(), json!(rank_seconds));
    result.insert("load".into(), json!(data.report));
    let env = protected(&o, result, "Alleen totalen. / Totals only.", params);
    print(&a.common.format, &env, || {
        println!(
            "{} cliënten in de uitkering gerangschikt tegen {} vacatures in {} s (laden {} s); {} met ten minste één vacature binnen de eisen.",
            profiles.len(),
            data.vacancies.len(),
            nl(rank_seconds, 2),
            nl(load_seconds, 2),
            with_any
        );
        println!("Per cliënt: --bsn BSN; per vacature: --vacancy ID; toetsen: --evaluate --truth truth.json.");
        print_report(&data);
    })
}

/// The ranked vacancies of one client in the common envelope.
pub(crate) fn client_jobs(
    data: &MatchData,
    i: usize,
    top: usize,
    snapshot: &str,
    params: Value,
) -> Value {
    inzicht_protect::envelope(
        matching::client_vacancies(data, i, top),
        json!({"status": "own-client", "note": "Gegevens van één cliënt voor de eigen consulent; vacatures zijn geen persoonsgegevens. / One client's data for their own consultant; vacancies are not personal data."}),
        Some(snapshot),
        params,
    )
}

fn print_client_jobs(env: &Value) {
    println!("Bekende competenties:");
    for c in env["competences"].as_array().into_iter().flatten() {
        println!(
            "  {} {} ({})",
            c["code"].as_str().unwrap_or(""),
            c["label"].as_str().unwrap_or(""),
            c["evidence_text"].as_str().unwrap_or("")
        );
    }
    for m in env["missing"].as_array().into_iter().flatten() {
        println!("  let op: {}", m.as_str().unwrap_or(""));
    }
    println!("\nPassende vacatures:");
    for (k, v) in env["vacancies"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let e = &v["explanation"];
        println!(
            "{:>3}. {} {} — kans op passend {}%, {} km",
            k + 1,
            v["vacancy"].as_str().unwrap_or(""),
            v["title"].as_str().unwrap_or(""),
            nl(100.0 * v["p_match"].as_f64().unwrap_or(0.0), 0),
            v["distance_km"].as_f64().map_or("?".into(), |d| nl(d, 1))
        );
        let labels = |key: &str| -> String {
            e[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x["label"].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("       past: {}", labels("matched"));
        if !labels("related").is_empty() {
            println!("       verwant: {}", labels("related"));
        }
        if !labels("missing").is_empty() {
            println!("       ontbreekt: {}", labels("missing"));
        }
        for p in e["provisions"].as_array().into_iter().flatten() {
            println!(
                "       voorziening {} {} leert: {}",
                p["code"].as_str().unwrap_or(""),
                p["name"].as_str().unwrap_or(""),
                p["closes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
}

fn print_report(data: &MatchData) {
    let r = &data.report;
    println!(
        "Taxonomie: {} ({} begrippen). Cliënten: {} ({} in de uitkering, {} zonder bekende competenties). Vacatures: {} ({} zonder competenties).",
        r.taxonomy, r.competences_in_taxonomy, r.clients, r.clients_current, r.clients_without_competences, r.vacancies, r.vacancies_without_competences
    );
    if !r.unknown_codes.is_empty() {
        let list: Vec<String> = r
            .unknown_codes
            .iter()
            .take(10)
            .map(|(c, n)| format!("{c} ({n}×)"))
            .collect();
        println!(
            "Onbekende codes (niet in de taxonomie; exact gematcht, zonder bredere groep): {}",
            list.join(", ")
        );
    }
    for m in &r.missing {
        println!("Ontbreekt: {m}");
    }
}

pub(crate) fn print(
    format: &OutputFormat,
    env: &Value,
    table: impl FnOnce(),
) -> Result<(), Failure> {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(env).unwrap_or_default()),
        OutputFormat::Table => table(),
    }
    Ok(())
}

#[derive(Args)]
pub struct AdviseArgs {
    #[command(flatten)]
    pub common: StoreArgs,
    /// Check both heterogeneous-effect methods on the synthetic truth (needs --truth): rank
    /// correlation between estimated and true subgroup effects, coverage of the intervals.
    #[arg(long, requires = "truth")]
    pub evaluate: bool,
    /// The synthetic municipality's truth.json.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Advice for one client, found by BSN (or the person key the export uses).
    #[arg(long, conflicts_with = "evaluate")]
    pub bsn: Option<String>,
    /// Bootstrap replicates of the matched method's intervals.
    #[arg(long, default_value_t = 200)]
    pub bootstrap: usize,
}

pub fn advise(a: AdviseArgs) -> Result<(), Failure> {
    if a.bootstrap < 20 {
        return Err(Failure::usage(
            "--bootstrap must be at least 20 for a usable standard error",
        ));
    }
    if !a.evaluate && a.bsn.is_none() {
        return Err(Failure::usage(
            "say what to do: --bsn BSN (advice for one client) or --evaluate --truth truth.json",
        ));
    }
    let o = open(&a.common)?;
    // An unknown client is said before the models are fitted (that takes seconds).
    if let Some(bsn) = &a.bsn {
        let ps = bsn_pseudonym(&o.key_file, bsn)?;
        if o.session.client_months(&ps)?.is_empty() {
            return Err(not_in_snapshot());
        }
    }
    let bar = crate::cli::spinner();
    bar.set_message("modellen schatten (matching per groep met bootstrap, T-learner) / fitting …");
    let opt = inzicht_stats::provision::EffectOptions {
        bootstrap: a.bootstrap,
        ..Default::default()
    };
    let models = inzicht_store::advice::fit(&o.session, &o.protector, &opt);
    bar.finish_and_clear();
    let models = models?;
    let params = json!({"as_of": a.common.as_of, "bootstrap": a.bootstrap});
    if a.evaluate {
        let path = a.truth.clone().unwrap_or_default();
        let truth: Value = read_json(&path)?;
        let groups = &truth["provision_effects"]["groups"];
        if !groups.is_array() {
            return Err(Failure::usage(format!(
                "{}: no provision_effects.groups: not a truth.json of `inzicht synth`",
                path.display()
            )));
        }
        let v = models.validate(groups);
        let mut result = serde_json::Map::new();
        result.insert("methods".into(), v["methods"].clone());
        result.insert("horizon_months".into(), v["horizon_months"].clone());
        result.insert("truth_scale".into(), v["truth_scale"].clone());
        result.insert("seconds_fit".into(), json!(models.seconds_fit));
        let env = protected(&o, result, "Schattingen alleen bij ten minste de drempel aan behandelden en controles; de toets vergelijkt ze met de synthetische waarheid. / Estimates only with at least the threshold of treated and controls.", params);
        return print(&a.common.format, &env, || {
            println!("Heterogene effecten per subgroep (leeftijdsklasse, trede) getoetst op de synthetische waarheid, 12 maanden\n");
            println!(
                "{:<24} {:>18} {:>20} {:>10} {:>8} {:>6}",
                "methode", "rangcorrelatie", "binnen groepen", "dekking", "MAE", "n"
            );
            for m in env["methods"].as_array().into_iter().flatten() {
                let f = |k: &str, d: usize| m[k].as_f64().map_or("—".into(), |x| nl(x, d));
                println!(
                    "{:<24} {:>18} {:>20} {:>10} {:>8} {:>6}",
                    m["name"].as_str().unwrap_or(""),
                    f("rank_correlation", 3),
                    f("rank_correlation_within_groups", 3),
                    f("coverage", 3),
                    f("mean_absolute_error", 3),
                    m["n_subgroups"]
                );
            }
            println!("\nRangcorrelatie: Spearman tussen geschatte en ware subgroepeffecten (alle groepen samen; 'binnen groepen' = gemiddelde per voorzieningengroep). Dekking: aandeel 95%-intervallen dat het ware effect bevat. Modellen geschat in {} s.", nl(models.seconds_fit, 1));
        });
    }
    let bsn = a.bsn.clone().unwrap_or_default();
    let ps = bsn_pseudonym(&o.key_file, &bsn)?;
    let t0 = std::time::Instant::now();
    let Some(mut result) = models.client(&ps, &o.protector) else {
        return Err(not_in_snapshot());
    };
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    result.insert("milliseconds_advice".into(), json!(ms));
    let env = protected(&o, result, "Vergelijkbare cliënten: groepen van ten minste de drempel, aantallen verstoord; schattingen alleen bij voldoende behandelden en controles. / Comparable clients: groups of at least the threshold, perturbed counts.", params);
    print(&a.common.format, &env, || {
        print_advice(&env, models.seconds_fit, ms)
    })
}

fn pp(v: &Value) -> String {
    v.as_f64().map_or("—".into(), |x| nl(100.0 * x, 0))
}

/// Signed percentage points, without "-0".
fn spp(v: &Value) -> String {
    match v.as_f64().map(|x| (100.0 * x).round()) {
        None => "—".into(),
        Some(0.0) => "0".into(),
        Some(r) => format!("{r:+}"),
    }
}

fn print_advice(env: &Value, fit: f64, ms: f64) {
    let c = &env["client"];
    println!(
        "Cliënt: leeftijd {}, trede {}, {} maanden in de uitkering{}.\n",
        c["age_band"].as_str().unwrap_or("?"),
        c["trede"]
            .as_u64()
            .map_or("onbekend".into(), |t| t.to_string()),
        c["months_on_benefit"],
        if c["on_benefit_now"] == true {
            ""
        } else {
            " (nu niet in de uitkering)"
        }
    );
    println!("Per voorzieningengroep: uitstroom naar werk, school of inkomen binnen 12 maanden (procentpunten)\n");
    for g in env["groups"].as_array().into_iter().flatten() {
        println!("{}", g["name"].as_str().unwrap_or(""));
        if let Some(cmp) = g["comparable"].as_object() {
            let share = |v: &Value| {
                if v.is_null() {
                    "niet te tonen (te weinig uitstroom of te weinig zonder)".to_string()
                } else {
                    format!("{}%", pp(v))
                }
            };
            println!(
                "  vergelijkbare cliënten: met deze voorziening {} (n ≈ {}), zonder {} (n ≈ {})",
                share(&cmp["treated"]["share_wsi"]),
                cmp["treated"]["n"]
                    .as_f64()
                    .map_or("—".into(), |n| format!("{n:.0}")),
                share(&cmp["control"]["share_wsi"]),
                cmp["control"]["n"]
                    .as_f64()
                    .map_or("—".into(), |n| format!("{n:.0}")),
            );
        }
        for m in g["matched_subgroups"].as_array().into_iter().flatten() {
            let label = if m["subset"] == "age_band" {
                "leeftijd"
            } else {
                "trede"
            };
            if m["too_few"] == true {
                println!(
                    "  gematchte subgroep ({label} {}): te weinig om te schatten",
                    m["value"].as_str().unwrap_or("")
                );
            } else {
                println!(
                    "  gematchte subgroep ({label} {}): {} (95%-BI {} tot {}) — {}",
                    m["value"].as_str().unwrap_or(""),
                    spp(&m["difference"]),
                    pp(&m["ci"][0]),
                    pp(&m["ci"][1]),
                    m["reading"].as_str().unwrap_or("")
                );
            }
        }
        let t = &g["t_learner"];
        if t["too_few"] == true {
            println!("  T-learner: te weinig om te schatten");
        } else {
            println!(
                "  T-learner voor deze cliënt: {} (95%-BI {} tot {}); met {}%, zonder {}% — {}",
                spp(&t["difference"]),
                pp(&t["ci"][0]),
                pp(&t["ci"][1]),
                pp(&t["with"]),
                pp(&t["without"]),
                t["reading"].as_str().unwrap_or("")
            );
        }
        println!();
    }
    for l in env["limits"].as_array().into_iter().flatten() {
        println!("- {}", l.as_str().unwrap_or(""));
    }
    println!("\n(modellen {} s, advies {} ms)", nl(fit, 1), nl(ms, 1));
}
