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
    /// Load exports into the Datapakhuis (a new ODS/ADS snapshot), or only check them.
    Ingest(IngestArgs),
    /// Write the data-quality report of a snapshot (quality.json and quality.html).
    Quality(QualityArgs),
    /// Manage the pseudonymisation key.
    Key(KeyArgs),
    /// A protected table over the analysis store (ADS): counts, person-months, sums, means.
    Table(crate::table_cmd::TableArgs),
    /// Kaplan–Meier survival curves on a CSV file (--data).
    Km(crate::data_cmd::KmArgs),
    /// Cumulative incidence per cause (competing risks, Aalen–Johansen) on a CSV file (--data).
    Cif(crate::data_cmd::CifArgs),
    /// Log-rank test on a CSV file (--data).
    Logrank(crate::data_cmd::LogrankArgs),
    /// Cox proportional-hazards model on a CSV file (--data).
    Cox(crate::data_cmd::CoxArgs),
    /// Propensity-score matching (effect on the treated) on a CSV file (--data).
    Match(crate::data_cmd::MatchArgs),
    /// Classification tree (CART) on a CSV file (--data): rules, cross-validated accuracy, SVG.
    Tree(crate::pattern_cmd::TreeArgs),
    /// Cluster analysis (k-means, k-prototypes, PAM) on a CSV file (--data), with profiles.
    Cluster(crate::pattern_cmd::ClusterArgs),
    /// Prediction model with honest evaluation and bias audit on a CSV file (--data).
    Predict(crate::pattern_cmd::PredictArgs),
    /// Seed 004 on the store: describe, tree, prediction models with bias audit, clusters,
    /// register entry and model card.
    Patterns(crate::pattern_cmd::PatternsArgs),
    /// Effects of provision groups on outflow, with and without matching (store data).
    Effects(crate::effects_cmd::EffectsArgs),
    /// Client–vacancy matching on competences: ranked vacancies per client, clients per
    /// vacancy, and the evaluation on the synthetic truth.
    Jobs(crate::advice_cmd::JobsArgs),
    /// Advice for one client: comparable clients and the estimated effect of each provision
    /// group from two methods; and their validation on the synthetic truth.
    Advise(crate::advice_cmd::AdviseArgs),
    /// The web tool: monitor and analysis workbench with login, roles and audit log.
    Serve(crate::web_cmd::ServeArgs),
    /// Accounts of the web tool (argon2id password hashes, beside the key file).
    User(crate::web_cmd::UserArgs),
    /// The web tool's audit log: verify the chain, print the head.
    Audit(crate::web_cmd::AuditArgs),
    /// A standalone HTML report (monitor, survival, tree, models with bias audit).
    Report(crate::web_cmd::ReportArgs),
}

#[derive(Args)]
struct IngestArgs {
    /// Source configuration (TOML), see docs/ingest.md.
    #[arg(long)]
    config: PathBuf,
    /// Directory the configuration's paths are relative to.
    #[arg(long)]
    input: PathBuf,
    /// Store directory (created if needed).
    #[arg(long, required_unless_present = "check")]
    store: Option<PathBuf>,
    /// Key file (created on first use, mode 0600); must lie outside the store.
    #[arg(long, required_unless_present = "check")]
    key_file: Option<PathBuf>,
    /// Only read and validate; write nothing, print the reconciliation.
    #[arg(long)]
    check: bool,
}

#[derive(Args)]
struct QualityArgs {
    #[arg(long)]
    store: PathBuf,
    /// A load id (or a unique prefix); default: the current snapshot.
    #[arg(long)]
    as_of: Option<String>,
    /// Print quality.json to stdout instead of the paths.
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
}

/// The options every command on store data shares.
#[derive(Args)]
pub struct StoreArgs {
    /// Store directory.
    #[arg(long)]
    pub store: PathBuf,
    /// A load id (or unique prefix); default: the current snapshot.
    #[arg(long)]
    pub as_of: Option<String>,
    /// The key file the snapshot was loaded with (the record keys and the protection policy lie
    /// beside it); default: the one recorded with the snapshot.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
}

impl StoreArgs {
    /// The key file given, or the one recorded with the snapshot.
    pub fn key_file(&self) -> Result<PathBuf, Failure> {
        match &self.key_file {
            Some(k) => Ok(k.clone()),
            None => Ok(inzicht_store::table::recorded_key_file(
                &self.store,
                self.as_of.as_deref(),
            )?),
        }
    }

    /// The same snapshot and key, for a step of the demo.
    pub fn demo(store: &std::path::Path, key: &std::path::Path) -> Self {
        StoreArgs {
            store: store.to_path_buf(),
            as_of: None,
            key_file: Some(key.to_path_buf()),
            format: OutputFormat::Table,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Args)]
struct KeyArgs {
    #[command(subcommand)]
    action: KeyAction,
}

#[derive(Subcommand)]
enum KeyAction {
    /// New key; rebuilds the ADS of the current snapshot with new pseudonyms.
    Rotate {
        #[arg(long)]
        store: PathBuf,
        #[arg(long)]
        key_file: PathBuf,
    },
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
    /// What the synthetic consultants decide on when they offer provisions: `latent` (a
    /// prognosis from characteristics the file records only in part: unmeasured confounding, as
    /// in real data) or `recorded` (only what the file records: the case in which matching
    /// should recover the true effects; docs/synthetic.md).
    #[arg(long, value_enum, default_value_t = ConfoundingArg::Latent)]
    confounding: ConfoundingArg,
    /// Replace the output directory if it already holds an earlier synthetic municipality.
    #[arg(long)]
    force: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ConfoundingArg {
    Latent,
    Recorded,
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
    /// Where to write the table (default docs/benchmarks.md, with --web docs/benchmarks-web.md,
    /// with --advice docs/benchmarks-advice.md).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also run the national scale (400,000 clients).
    #[arg(long)]
    pub large: bool,
    /// Only the web tool under load on loopback: per-page latency and concurrent sessions.
    #[arg(long, conflicts_with = "large")]
    pub web: bool,
    /// Only client–vacancy matching and the consultant's advice (docs/benchmarks-advice.md),
    /// with the validation on the synthetic truth.
    #[arg(long, conflicts_with_all = ["large", "web"])]
    pub advice: bool,
    /// Only these parts (comma-separated: synth, ingest, csv, protection, effects, store-patterns,
    /// survival, patterns); prints the rows instead of writing the table, unless --out is given.
    /// For working on one target; the published table comes from a full run.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["web", "advice"])]
    pub only: Vec<String>,
    /// With --web: seconds of concurrent load.
    #[arg(long, default_value_t = 60, requires = "web")]
    pub seconds: u64,
    /// With --web: concurrent sessions.
    #[arg(long, default_value_t = 50, requires = "web")]
    pub sessions: usize,
}

/// An error with the exit code it deserves.
pub struct Failure {
    pub code: u8,
    pub message: String,
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

impl From<inzicht_store::StoreError> for Failure {
    fn from(e: inzicht_store::StoreError) -> Self {
        match e {
            inzicht_store::StoreError::Input(m) => Failure::usage(m),
            inzicht_store::StoreError::Internal(m) => Failure::io(m),
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
        Command::Ingest(a) => ingest(a),
        Command::Quality(a) => quality(a),
        Command::Table(a) => crate::table_cmd::table(a),
        Command::Km(a) => crate::data_cmd::km(a),
        Command::Cif(a) => crate::data_cmd::cif(a),
        Command::Logrank(a) => crate::data_cmd::logrank(a),
        Command::Cox(a) => crate::data_cmd::cox(a),
        Command::Match(a) => crate::data_cmd::match_cmd(a),
        Command::Tree(a) => crate::pattern_cmd::tree_cmd(a),
        Command::Cluster(a) => crate::pattern_cmd::cluster_cmd(a),
        Command::Predict(a) => crate::pattern_cmd::predict_cmd(a),
        Command::Patterns(a) => crate::pattern_cmd::patterns_cmd(a),
        Command::Effects(a) => crate::effects_cmd::effects(a),
        Command::Jobs(a) => crate::advice_cmd::jobs(a),
        Command::Advise(a) => crate::advice_cmd::advise(a),
        Command::Serve(a) => crate::web_cmd::serve(a),
        Command::User(a) => crate::web_cmd::user(a),
        Command::Audit(a) => crate::web_cmd::audit(a),
        Command::Report(a) => crate::web_cmd::report(a),
        Command::Key(KeyArgs {
            action: KeyAction::Rotate { store, key_file },
        }) => rotate(&store, &key_file),
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
    cfg.confounding = match a.confounding {
        ConfoundingArg::Latent => inzicht_synth::model::Confounding::Latent,
        ConfoundingArg::Recorded => inzicht_synth::model::Confounding::Recorded,
    };
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
pub fn nl(n: u64) -> String {
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
        "1/6 Synthetische gemeente maken (seed {}, 7.400 cliënten) …",
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
    eprintln!("2/6 Inlezen in het Datapakhuis (ODS en ADS) …");
    let config = demo_config(&a.dir)?;
    let store = a.dir.join("store");
    let key = a.dir.join("sleutel.json");
    let bar = spinner();
    let mut progress = |m: &str| bar.set_message(m.to_string());
    let out = inzicht_store::ingest(
        &config,
        &synth_dir.join("exports"),
        &store,
        &key,
        &mut progress,
    );
    bar.finish_and_clear();
    let out = out?;
    if let Some(rec) = &out.reconciliation {
        let read: u64 = rec.files.iter().map(|f| f.rows_read).sum();
        let q: u64 = rec.files.iter().map(|f| f.rows_quarantined).sum();
        eprintln!(
            "    {} rijen gelezen, {} in quarantaine met reden; {} persoon-maanden in het panel.",
            nl(read),
            nl(q),
            nl(out.panel_rows)
        );
    } else {
        eprintln!("    Al geladen (lading {}).", out.load_id);
    }
    eprintln!(
        "    ODS (herleidbaar): {}",
        store.join("ods.duckdb").display()
    );
    eprintln!(
        "    ADS (gepseudonimiseerd): {}",
        store.join("ads.duckdb").display()
    );
    eprintln!(
        "    Datakwaliteit: {}",
        store.join("quality.html").display()
    );
    eprintln!("    Sleutel (buiten de opslag): {}", key.display());
    eprintln!();
    eprintln!("3/6 Een beschermde tabel (elke uitvoer gaat door de openbaarheidscontrole):");
    eprintln!(
        "    inzicht table --store {} --by outflow,age_band --where \"year = 2024\"",
        store.display()
    );
    crate::table_cmd::table(crate::table_cmd::TableArgs {
        common: StoreArgs::demo(&store, &key),
        by: vec!["outflow".into(), "age_band".into()],
        filter: Some("year = 2024".into()),
        measure: "count".into(),
        list: false,
    })?;
    eprintln!();
    let pictures = a.dir.join("figuren");
    eprintln!(
        "4/6 Effect van voorzieningen, zonder en met matching (sequentiële matching, bootstrap):"
    );
    eprintln!(
        "    inzicht effects --store {} --svg {}",
        store.display(),
        pictures.display()
    );
    crate::effects_cmd::effects(crate::effects_cmd::EffectsArgs {
        common: StoreArgs::demo(&store, &key),
        bootstrap: 200,
        caliper: 0.2,
        seed: 20_261_125,
        focus_age: None,
        focus_wijk: None,
        svg: Some(pictures.clone()),
    })?;
    eprintln!("    Figuren (SVG): {}", pictures.display());
    eprintln!();
    let patronen = a.dir.join("patronen");
    eprintln!("5/6 Patronen en voorspelling: beschrijving, beslisboom, voorspelmodellen met bias-audit, clusters, registertekst:");
    eprintln!(
        "    inzicht patterns --store {} --out {}",
        store.display(),
        patronen.display()
    );
    crate::pattern_cmd::patterns_cmd(crate::pattern_cmd::PatternsArgs {
        store: store.clone(),
        as_of: None,
        key_file: Some(key.clone()),
        reasons: vec!["work".into(), "school".into(), "income".into()],
        horizon: 12,
        reference: "start".into(),
        age: None,
        sex: None,
        wijk: Vec::new(),
        trede: Vec::new(),
        loonwaarde: None,
        provision: None,
        cluster: None,
        from: None,
        to: None,
        features: Vec::new(),
        max_depth: 3,
        prune: crate::pattern_cmd::Prune::Cv,
        k_range: "3..7".into(),
        audit_bound: 0.8,
        seed: 1,
        out: Some(patronen.clone()),
        organisation: Some(demo_organisation(&a.dir)?),
        format: OutputFormat::Table,
    })?;
    eprintln!(
        "    Beslisboom (SVG), algoritmeregister-tekst (JSON) en modelkaart: {}",
        patronen.display()
    );
    eprintln!();
    let truth = a.dir.join("synth").join("truth.json");
    eprintln!(
        "6/6 Cliënten en vacatures matchen op competenties, getoetst op de synthetische waarheid:"
    );
    eprintln!(
        "    inzicht jobs --store {} --evaluate --truth {}",
        store.display(),
        truth.display()
    );
    crate::advice_cmd::jobs(crate::advice_cmd::JobsArgs {
        common: StoreArgs::demo(&store, &key),
        evaluate: true,
        truth: Some(truth.clone()),
        bsn: None,
        vacancy: None,
        top: 10,
        taxonomy: None,
    })?;
    // A client of the synthetic municipality for the consultant's page (synthetic: no real
    // person has this BSN).
    let example_bsn = crate::advice_cmd::example_bsn(&truth);
    eprintln!();
    let report = a.dir.join("rapport.html");
    crate::web_cmd::write_report(&store, &key, &report)?;
    eprintln!(
        "    Rapport (één HTML-bestand, werkt zonder server): {}",
        report.display()
    );
    eprintln!();
    // Demo accounts, one per role, with a fresh random password (printed once, never stored
    // in plain text).
    let secrets = inzicht_store::recordkeys::secrets_dir(&key);
    let password = {
        let b = inzicht_web::auth::random_bytes().map_err(Failure::io)?;
        inzicht_web::auth::hex(&b[..9])
    };
    let mut users = inzicht_web::auth::Users::load(&secrets).map_err(Failure::usage)?;
    for (name, role) in [
        ("demo", inzicht_web::auth::Role::Analist),
        ("datateam", inzicht_web::auth::Role::DataTeam),
        ("consulent", inzicht_web::auth::Role::Consulent),
        ("auditor", inzicht_web::auth::Role::Auditor),
    ] {
        users.set(name, role, &password).map_err(Failure::usage)?;
    }
    users.save(&secrets).map_err(Failure::io)?;
    if a.no_serve {
        eprintln!("De webtool starten / start the web tool:");
        eprintln!("    inzicht serve --store {}", store.display());
        eprintln!("    Inloggen / log in: demo (analist), datateam, consulent, auditor — wachtwoord/password {password}");
        if let Some(b) = &example_bsn {
            eprintln!("    Als consulent: Cliënt, synthetisch BSN {b} (advies en vacatures) / as consultant: Client, synthetic BSN {b}");
        }
        return Ok(());
    }
    let bind: std::net::SocketAddr = ([127, 0, 0, 1], 8080).into();
    let bind = if std::net::TcpListener::bind(bind).is_ok() {
        bind
    } else {
        ([127, 0, 0, 1], 0).into()
    };
    let pw = password.clone();
    inzicht_web::serve(inzicht_web::ServeConfig {
        store,
        key_file: key,
        bind,
        on_ready: Some(Box::new(move |addr| {
            eprintln!("De webtool draait / the web tool runs: http://{addr}/");
            eprintln!("    Inloggen / log in: demo (analist) — wachtwoord/password {pw}");
            eprintln!("    Andere rollen / other roles: datateam, consulent, auditor (zelfde wachtwoord / same password)");
            if let Some(b) = &example_bsn {
                eprintln!("    Als consulent: Cliënt, synthetisch BSN {b} (advies en vacatures) / as consultant: Client, synthetic BSN {b}");
            }
            eprintln!("    Stoppen / stop: Ctrl-C");
        })),
    })
    .map_err(Failure::usage)
}

pub fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

fn print_reconciliation(rec: &inzicht_ingest::Reconciliation) {
    eprintln!(
        "{:<45} {:>10} {:>10} {:>10}  redenen",
        "bestand", "gelezen", "geladen", "quarant."
    );
    for f in &rec.files {
        let reasons: Vec<String> = f
            .reasons
            .iter()
            .map(|(k, v)| format!("{k} {}", nl(*v)))
            .collect();
        eprintln!(
            "{:<45} {:>10} {:>10} {:>10}  {}",
            f.file,
            nl(f.rows_read),
            nl(f.rows_loaded),
            nl(f.rows_quarantined),
            reasons.join(", ")
        );
    }
    for w in &rec.warnings {
        eprintln!("let op: {w}");
    }
}

fn ingest(a: IngestArgs) -> Result<(), Failure> {
    if a.check {
        let cfg = inzicht_ingest::IngestConfig::load(&a.config)
            .map_err(|e| Failure::usage(e.to_string()))?;
        let mut sink = inzicht_ingest::pipeline::CheckSink::default();
        let mut no_parquet = |p: &Path| -> Result<
            Box<dyn inzicht_ingest::read::RecordSource>,
            inzicht_ingest::read::ReadError,
        > {
            Err(inzicht_ingest::read::ReadError::new(
                p,
                None,
                "--check reads CSV and XLSX only; Parquet sources are checked during a real load",
            ))
        };
        let rec = inzicht_ingest::pipeline::run(
            &cfg,
            &a.input,
            &mut sink,
            &mut no_parquet,
            &mut |_, _| {},
        )
        .map_err(|e| Failure::usage(e.to_string()))?;
        print_reconciliation(&rec);
        println!("{}", serde_json::to_string_pretty(&rec).unwrap_or_default());
        return Ok(());
    }
    let (Some(store), Some(key_file)) = (a.store, a.key_file) else {
        return Err(Failure::usage(
            "--store and --key-file are required (or use --check)",
        ));
    };
    let started = std::time::Instant::now();
    let bar = spinner();
    let timing = std::env::var_os("INZICHT_TIMING").is_some();
    let mut progress = |m: &str| {
        if timing {
            eprintln!("[{:6.2} s] {m}", started.elapsed().as_secs_f64());
        }
        bar.set_message(m.to_string())
    };
    let out = inzicht_store::ingest(&a.config, &a.input, &store, &key_file, &mut progress);
    bar.finish_and_clear();
    let out = out?;
    if out.key_created {
        eprintln!("Nieuwe sleutel aangemaakt: {} (modus 0600). Bewaar hem buiten de opslag en maak een veilige kopie.", key_file.display());
    }
    if !out.new_snapshot {
        eprintln!(
            "Deze exports zijn al geladen (lading {}); er is niets veranderd.",
            out.load_id
        );
        return Ok(());
    }
    if let Some(rec) = &out.reconciliation {
        print_reconciliation(rec);
    }
    eprintln!(
        "Lading {} klaar in {:.1} s: {} personen, {} persoon-maanden. ODS: {}, ADS: {}",
        out.load_id,
        started.elapsed().as_secs_f64(),
        nl(out.persons),
        nl(out.panel_rows),
        store.join("ods.duckdb").display(),
        store.join("ads.duckdb").display()
    );
    Ok(())
}

fn quality(a: QualityArgs) -> Result<(), Failure> {
    let store = inzicht_store::Store::new(&a.store);
    let dir = store.resolve(a.as_of.as_deref())?;
    let json_path = dir.join("quality.json");
    match a.format {
        OutputFormat::Json => {
            let text = std::fs::read_to_string(&json_path)
                .map_err(|e| Failure::io(format!("{}: {e}", json_path.display())))?;
            println!("{}", text.trim_end());
        }
        OutputFormat::Table => {
            eprintln!(
                "Datakwaliteit: {} en {}",
                dir.join("quality.html").display(),
                json_path.display()
            );
        }
    }
    Ok(())
}

fn rotate(store: &Path, key_file: &Path) -> Result<(), Failure> {
    let bar = spinner();
    let mut progress = |m: &str| bar.set_message(m.to_string());
    let id = inzicht_store::rotate_key(store, key_file, &mut progress);
    bar.finish_and_clear();
    let id = id?;
    eprintln!("Sleutel vervangen; nieuwe lading {id} met nieuwe pseudoniemen is nu de huidige. Oudere ladingen blijven bestaan met de oude pseudoniemen.");
    Ok(())
}

/// The demo's source configuration: the shipped example, written next to the demo data so that
/// the demo runs from any working directory.
/// The synthetic municipality's organisation file for the register entry.
fn demo_organisation(dir: &Path) -> Result<PathBuf, Failure> {
    let path = dir.join("organisatie.json");
    std::fs::write(
        &path,
        include_str!("../../../examples/synthetic/organisatie.json"),
    )
    .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    Ok(path)
}

fn demo_config(dir: &Path) -> Result<PathBuf, Failure> {
    let path = dir.join("bron.toml");
    std::fs::write(&path, include_str!("../../../examples/synthetic/bron.toml"))
        .map_err(|e| Failure::io(format!("{}: {e}", path.display())))?;
    Ok(path)
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
