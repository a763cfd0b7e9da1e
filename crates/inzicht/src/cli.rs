//! Command-line interface. Exit codes: 0 success, 1 failure while working (I/O), 2 invalid
//! arguments or input the user must correct.

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use inzicht_domain::Month;
use inzicht_synth::{Config, DefectRates, SynthError};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "inzicht",
    version,
    about = "Welke re-integratievoorzieningen helpen wie aan werk — veilig.\nWhich re-integration provisions help whom find work — safely."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the synthetic municipality: realistic exports with a known truth.
    Synth(SynthArgs),
    /// Run the demo: synthetic municipality (later: store, report and web tool).
    Demo(DemoArgs),
    /// Measure speed and memory and write docs/benchmarks.md.
    Bench(BenchArgs),
}

#[derive(Args)]
struct SynthArgs {
    /// Seed of the random generator; the same seed gives byte-identical output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of clients (main applicants and partners).
    #[arg(long, default_value_t = 7_400)]
    clients: i64,
    /// Output directory; must not exist yet (or be empty).
    #[arg(long)]
    out: PathBuf,
    /// First month of the data, YYYY-MM.
    #[arg(long, default_value = "2012-01")]
    from: String,
    /// Last month of the data, YYYY-MM.
    #[arg(long, default_value = "2024-12")]
    to: String,
    /// Defect rates to change, e.g. `duplicate_row=0.01,mixed_case=0` (see docs/defects.md).
    #[arg(long)]
    defects: Option<String>,
    /// Write clean exports without any injected defect.
    #[arg(long)]
    no_defects: bool,
    /// Number of vacancies (default: about 2,000 per 7,400 clients).
    #[arg(long)]
    vacancies: Option<i64>,
    /// Replace the output directory if it already holds an earlier synthetic municipality.
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
struct DemoArgs {
    /// Directory for everything the demo makes.
    #[arg(long, default_value = "inzicht-demo")]
    dir: PathBuf,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Do not start the web tool at the end.
    #[arg(long)]
    no_serve: bool,
}

#[derive(Args)]
pub struct BenchArgs {
    /// Where to write the table.
    #[arg(long, default_value = "docs/benchmarks.md")]
    pub out: PathBuf,
    /// Also run the national scale (400,000 clients).
    #[arg(long)]
    pub large: bool,
}

/// An error with the exit code it deserves.
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
    pub fn io(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
}

impl From<SynthError> for Failure {
    fn from(e: SynthError) -> Self {
        match e {
            SynthError::Invalid(m) => Failure::usage(m),
            other => Failure::io(other.to_string()),
        }
    }
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Synth(a) => synth(a),
        Command::Demo(a) => demo(a),
        Command::Bench(a) => crate::bench::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("inzicht: fout / error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn parse_month(flag: &str, text: &str) -> Result<Month, Failure> {
    Month::parse(text).ok_or_else(|| {
        Failure::usage(format!(
            "{flag} '{text}' is not a month of the form YYYY-MM (for example 2012-01)"
        ))
    })
}

fn synth_config(a: &SynthArgs) -> Result<Config, Failure> {
    if a.clients <= 0 {
        return Err(Failure::usage(format!(
            "--clients must be a positive number, got {}",
            a.clients
        )));
    }
    let clients = u32::try_from(a.clients)
        .map_err(|_| Failure::usage(format!("--clients {} is too large", a.clients)))?;
    let mut cfg = Config::new(a.seed, clients);
    cfg.from = parse_month("--from", &a.from)?;
    cfg.to = parse_month("--to", &a.to)?;
    cfg.defects = if a.no_defects {
        DefectRates::none()
    } else {
        DefectRates::default()
    };
    if let Some(spec) = &a.defects {
        cfg.defects
            .apply_overrides(spec)
            .map_err(|m| Failure::usage(format!("--defects: {m}")))?;
    }
    if let Some(v) = a.vacancies {
        if v <= 0 {
            return Err(Failure::usage(format!(
                "--vacancies must be a positive number, got {v}"
            )));
        }
        cfg.vacancies =
            Some(u32::try_from(v).map_err(|_| Failure::usage("--vacancies is too large"))?);
    }
    cfg.validate().map_err(Failure::usage)?;
    Ok(cfg)
}

/// Checks that `dir` is an earlier output of `inzicht synth` (it holds `summary.json` and
/// `truth.json`), so that replacing it can never delete a user's other data.
fn check_previous_output(dir: &Path) -> Result<(), Failure> {
    if dir.join("summary.json").is_file() && dir.join("truth.json").is_file() {
        Ok(())
    } else {
        Err(Failure::usage(format!(
            "{} exists but is not an earlier synthetic municipality; refusing to replace it",
            dir.display()
        )))
    }
}

/// Generates into `out`; when `replace` is set and `out` holds an earlier synthetic
/// municipality, the new one is generated beside it first and swapped in only when complete.
fn synth_into(cfg: &Config, out: &Path, replace: bool) -> Result<inzicht_synth::Summary, Failure> {
    if !(replace && out.exists()) {
        return run_synth(cfg, out, false);
    }
    check_previous_output(out)?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "synth".into());
    let staging = out.with_file_name(format!(".{name}.new-{}", std::process::id()));
    let summary = run_synth(cfg, &staging, false)?;
    std::fs::remove_dir_all(out).map_err(|e| Failure::io(format!("{}: {e}", out.display())))?;
    std::fs::rename(&staging, out).map_err(|e| Failure::io(format!("{}: {e}", out.display())))?;
    Ok(summary)
}

fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

pub fn run_synth(cfg: &Config, out: &Path, quiet: bool) -> Result<inzicht_synth::Summary, Failure> {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        progress_bar(u64::from(cfg.clients), "cliënten")
    };
    let mut progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let summary = inzicht_synth::generate(cfg, out, &mut progress)?;
    bar.finish_and_clear();
    Ok(summary)
}

/// A whole number in Dutch notation (a point between thousands): 25.920.
fn nl(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// A share as a Dutch percentage with one decimal: 34,1%.
fn nl_percent(share: f64) -> String {
    format!("{:.1}%", 100.0 * share).replace('.', ",")
}

fn synth(a: SynthArgs) -> Result<(), Failure> {
    let cfg = synth_config(&a)?;
    let started = std::time::Instant::now();
    let s = synth_into(&cfg, &a.out, a.force)?;
    eprintln!(
        "Synthetische gemeente geschreven naar {} in {:.1} s: {} cliënten, {} uitkeringen ({} lopend), {} voorzieningen, {} defecten.",
        a.out.display(),
        started.elapsed().as_secs_f64(),
        nl(s.clients),
        nl(s.spells),
        nl(s.spells_running),
        nl(s.provisions),
        nl(s.defects.values().sum::<u64>())
    );
    eprintln!(
        "Overzicht: {}; de waarheid (alleen voor tests): {}",
        a.out.join("summary.json").display(),
        a.out.join("truth.json").display()
    );
    Ok(())
}

fn demo(a: DemoArgs) -> Result<(), Failure> {
    std::fs::create_dir_all(&a.dir)
        .map_err(|e| Failure::usage(format!("cannot create {}: {e}", a.dir.display())))?;
    let synth_dir = a.dir.join("synth");
    let cfg = Config::new(a.seed, 7_400);
    eprintln!(
        "1/1 Synthetische gemeente maken (seed {}, 7.400 cliënten) …",
        a.seed
    );
    let s = synth_into(&cfg, &synth_dir, true)?;
    eprintln!(
        "    {} cliënten, {} uitkeringen waarvan {} lopend, {} voorzieningen van {} soorten in {} groepen.",
        nl(s.clients),
        nl(s.spells),
        nl(s.spells_running),
        nl(s.provisions),
        s.provision_types,
        s.provision_groups
    );
    eprintln!(
        "    Uitstroom naar werk/school/inkomen: {} van alle uitkeringen, {} binnen een jaar.",
        nl_percent(s.outflow_wsi_share),
        nl_percent(s.outflow_wsi_within_1y_share)
    );
    eprintln!("    Bestanden: {}", synth_dir.join("exports").display());
    eprintln!();
    eprintln!("Nog niet beschikbaar in deze versie: inlezen in het Datapakhuis, analyses, rapport en webtool (zie de openstaande issues).");
    if !a.no_serve {
        eprintln!("Not yet available: ingest, analyses, report and web tool; --no-serve has nothing to skip yet.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn dutch_numbers() {
        assert_eq!(nl(7), "7");
        assert_eq!(nl(7_400), "7.400");
        assert_eq!(nl(1_383_152), "1.383.152");
        assert_eq!(nl_percent(0.3412), "34,1%");
    }
}
