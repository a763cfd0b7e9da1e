//! `inzicht effects`: provision effects on the store, with and without matching — wiring of
//! `inzicht_store::effects` (protected) to the command line and the SVG pictures.

use crate::cli::{Failure, OutputFormat, StoreArgs};
use clap::Args;
use inzicht_protect::{Policy, Protector};
use inzicht_stats::provision::EffectOptions;
use serde_json::Value;
use std::path::PathBuf;

#[derive(Args)]
pub struct EffectsArgs {
    #[command(flatten)]
    pub common: StoreArgs,
    /// Bootstrap replicates for the confidence intervals.
    #[arg(long, default_value_t = 200)]
    pub bootstrap: usize,
    /// Caliper in standard deviations of the logit of the propensity score.
    #[arg(long, default_value_t = 0.2)]
    pub caliper: f64,
    /// Seed of the bootstrap and of the sample for the propensity model.
    #[arg(long, default_value_t = 20_261_125)]
    pub seed: u64,
    /// An extra subgroup of the treated to estimate ("focus"): ages, e.g. 18..26.
    #[arg(long)]
    pub focus_age: Option<String>,
    /// An extra subgroup of the treated to estimate ("focus"): one wijk code (with --focus-age:
    /// both must hold).
    #[arg(long)]
    pub focus_wijk: Option<String>,
    /// Also write the pictures (cumulative incidence, love plot, forest plot) as SVG here.
    #[arg(long)]
    pub svg: Option<PathBuf>,
}

pub fn effects(a: EffectsArgs) -> Result<(), Failure> {
    if a.bootstrap < 20 {
        return Err(Failure::usage(
            "--bootstrap must be at least 20 for a usable standard error",
        ));
    }
    if a.caliper.is_nan() || a.caliper <= 0.0 {
        return Err(Failure::usage(
            "--caliper must be a positive number of standard deviations",
        ));
    }
    let key_file = a.common.key_file()?;
    let secrets = inzicht_store::recordkeys::secrets_dir(&key_file);
    let policy = Policy::from_dir(&secrets).map_err(Failure::usage)?;
    let protector = Protector::new(policy).map_err(Failure::usage)?;
    let session =
        inzicht_store::table::Session::open(&a.common.store, a.common.as_of.as_deref(), &key_file)?;
    let ages = a
        .focus_age
        .as_deref()
        .map(|t| crate::pattern_cmd::parse_pair("--focus-age", t))
        .transpose()?;
    let opt = EffectOptions {
        bootstrap: a.bootstrap,
        caliper: a.caliper,
        seed: a.seed,
        focus: inzicht_stats::provision::Focus {
            age_min: ages.map(|p| p.0 as i32),
            age_max: ages.map(|p| p.1 as i32),
            wijk: None,
        },
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let bar = crate::cli::spinner();
    bar.set_message(format!(
        "matchen per voorzieningengroep en {} bootstrap-replicaties / matching and bootstrap …",
        a.bootstrap
    ));
    let result = inzicht_store::effects::run(&session, &protector, &opt, a.focus_wijk.as_deref());
    bar.finish_and_clear();
    let mut result = result?;
    let total = result
        .remove("cells_total")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    let suppressed = result
        .remove("cells_suppressed")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    let params = serde_json::json!({"as_of": a.common.as_of, "bootstrap": a.bootstrap, "caliper": a.caliper, "seed": a.seed});
    let env = inzicht_protect::envelope(
        result,
        protector.metadata(total as usize, suppressed as usize),
        Some(&session.snapshot),
        params,
    );
    if let Some(dir) = &a.svg {
        std::fs::create_dir_all(dir).map_err(|e| Failure::io(format!("{}: {e}", dir.display())))?;
        for (name, svg) in inzicht_charts::effects::all(&env) {
            let path = dir.join(name);
            std::fs::write(&path, svg)
                .map_err(|e| Failure::io(format!("{}: {e}", path.display())))?;
        }
    }
    match a.common.format {
        OutputFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&env).unwrap_or_default())
        }
        OutputFormat::Table => print_effects(&env, started.elapsed().as_secs_f64()),
    }
    Ok(())
}

/// Dutch notation: a decimal comma.
fn nl(s: String) -> String {
    s.replace('.', ",")
}

fn pct(v: &Value) -> String {
    v.as_f64()
        .map_or("—".into(), |x| nl(format!("{:+.1}", 100.0 * x)))
}

fn share(v: &Value) -> String {
    v.as_f64()
        .map_or("—".into(), |x| nl(format!("{:.1}%", 100.0 * x)))
}

fn dec(v: Option<f64>, digits: usize) -> String {
    v.map_or("—".into(), |x| nl(format!("{x:.digits$}")))
}

/// One line per horizon: matched and naive side by side.
fn horizon_line(e: &Value, k: usize) -> String {
    let m = &e["matched"][k];
    let n = &e["naive"][k];
    let months = m["months"].as_i64().unwrap_or(0);
    if m["too_few"] == Value::Bool(true) {
        return format!("    {months:>2} mnd: te weinig om te schatten / too few to estimate");
    }
    format!(
        "    {months:>2} mnd: met matching {} vs {} → {} procentpunt (95%-BI {} – {}, p_BH {})   zonder matching {} procentpunt",
        share(&m["treated"]),
        share(&m["control"]),
        pct(&m["difference"]),
        pct(&m["ci"][0]),
        pct(&m["ci"][1]),
        dec(m["p_adjusted"].as_f64(), 3),
        pct(&n["difference"]),
    )
}

fn print_effects(env: &Value, seconds: f64) {
    println!("Effect van voorzieningen op uitstroom naar werk, school of inkomen");
    println!("(verschil in cumulatieve uitstroom; behandeld vs gematchte controles; intention to treat)\n");
    for g in env["groups"].as_array().into_iter().flatten() {
        let o = &g["overall"];
        println!("Groep {}", g["group"].as_str().unwrap_or(""));
        if o["too_few"] == Value::Bool(true) {
            println!("  te weinig om te schatten / too few to estimate\n");
            continue;
        }
        println!(
            "  behandeld ≈ {}, controles ≈ {}",
            o["n_treated"]
                .as_f64()
                .map_or("x".into(), |v| format!("{v:.0}")),
            o["n_controls"]
                .as_f64()
                .map_or("x".into(), |v| format!("{v:.0}"))
        );
        for k in 0..3 {
            println!("{}", horizon_line(o, k));
        }
        if let Some(hr) = o["hazard_ratio"].as_object() {
            println!(
                "    hazard ratio {} (95%-BI {} – {}); E-waarde {}",
                dec(hr["hr"].as_f64(), 2),
                dec(hr["lower"].as_f64(), 2),
                dec(hr["upper"].as_f64(), 2),
                dec(o["e_value"][0].as_f64(), 2)
            );
        }
        let worst = g["balance"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b["smd_after"].as_f64().map(|v| v.abs()))
            .fold(0.0, f64::max);
        println!(
            "    balans: grootste |gestandaardiseerd verschil| na matching {}",
            dec(Some(worst), 3)
        );
        // Subgroups at 12 months, matched beside naive.
        let subs: Vec<&Value> = g["subgroups"].as_array().into_iter().flatten().collect();
        if !subs.is_empty() {
            println!("    subgroepen, 12 maanden (met matching | zonder):");
            for e in subs {
                let label = format!(
                    "{} {}",
                    if e["subset"] == "age_band" {
                        "leeftijd"
                    } else {
                        "trede"
                    },
                    e["value"].as_str().unwrap_or("")
                );
                let m = &e["matched"][1];
                if e["too_few"] == Value::Bool(true) || m["too_few"] == Value::Bool(true) {
                    println!("      {label:<14} te weinig om te schatten");
                } else {
                    println!(
                        "      {label:<14} {} ({} – {}) | {}",
                        pct(&m["difference"]),
                        pct(&m["ci"][0]),
                        pct(&m["ci"][1]),
                        pct(&e["naive"][1]["difference"])
                    );
                }
            }
        }
        for w in g["warnings"].as_array().into_iter().flatten() {
            println!("    let op: {}", w.as_str().unwrap_or(""));
        }
        println!();
    }
    println!(
        "Verschillen in procentpunten. Per soort voorziening: --format json (types). Figuren: --svg MAP.\nBeschermd: schattingen alleen bij ten minste {} behandelden én controles; aantallen verstoord. Snapshot {}. ({seconds:.1} s)",
        env["protection"]["threshold"], env["meta"]["snapshot"].as_str().unwrap_or("")
    );
}
