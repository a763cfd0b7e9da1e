//! The synthetic municipality: what a gemeente's case systems export, with a known truth.
//!
//! `generate` writes, into a new directory:
//! - `exports/`: the source files as three systems produce them (see `docs/synthetic.md`):
//!   semicolon CSV in Windows-1252 with Dutch dates and decimal commas (the benefit system),
//!   UTF-8 CSV with ISO dates (the re-integration system and the vacancy system), and an XLSX
//!   workbook of code lists; plus CBS-style geography tables.
//! - `truth.json`: what the analyses should find (coefficients, provision effects on the hazard
//!   and on the cumulative scale, latent types, every injected defect, good client–vacancy
//!   matches). Analyses never read it; only tests do.
//! - `summary.json`: figures counted from the rows written to `exports/` that ingest will load.
//!
//! **Invariants:** deterministic per seed (byte-identical output); memory independent of the
//! number of clients except for the truth's per-client list; no I/O outside the output directory.

pub mod catalogue;
pub mod csvout;
pub mod defects;
pub mod geo;
pub mod household;
pub mod model;
pub mod rng;
pub mod sim;
mod writer;

pub use defects::{DefectKind, DefectRates};
pub use writer::Summary;

use inzicht_domain::Month;
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Config {
    pub seed: u64,
    pub clients: u32,
    /// First and last calendar month of the data (inclusive).
    pub from: Month,
    pub to: Month,
    pub defects: DefectRates,
    /// Number of vacancies; by default about 2,000 per 7,400 clients.
    pub vacancies: Option<u32>,
    /// What the consultants decide on when they offer provisions (default: the latent
    /// prognosis, so that some confounding is unmeasured).
    pub confounding: model::Confounding,
}

impl Config {
    pub fn new(seed: u64, clients: u32) -> Self {
        Config {
            seed,
            clients,
            from: Month::new(2012, 1),
            to: Month::new(2024, 12),
            defects: DefectRates::default(),
            vacancies: None,
            confounding: model::Confounding::Latent,
        }
    }

    /// Checks the configuration; the message says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.clients == 0 {
            return Err("--clients must be at least 1".into());
        }
        if self.clients > 5_000_000 {
            return Err(format!(
                "--clients {} is more than the 5,000,000 this generator supports",
                self.clients
            ));
        }
        if self.to < self.from {
            return Err(format!(
                "--to {} lies before --from {}; give a period that runs forward",
                self.to, self.from
            ));
        }
        if self.to.since(self.from) < 11 {
            return Err(format!("--from {} to --to {} is shorter than 12 months; outflow within a year needs at least a year of data", self.from, self.to));
        }
        if self.from.year() < 1990 || self.to.year() > 2100 {
            return Err("--from and --to must lie between 1990 and 2100".into());
        }
        Ok(())
    }

    pub fn vacancy_count(&self) -> u32 {
        self.vacancies.unwrap_or_else(|| {
            ((f64::from(self.clients) * 2_000.0 / 7_400.0).round() as u32).max(10)
        })
    }
}

#[derive(Debug)]
pub enum SynthError {
    Invalid(String),
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    Xlsx(String),
}

impl std::fmt::Display for SynthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SynthError::Invalid(m) => f.write_str(m),
            SynthError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            SynthError::Xlsx(m) => write!(f, "writing the code-list workbook: {m}"),
        }
    }
}

impl std::error::Error for SynthError {}

/// Progress callback: (clients done, clients in all).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Generates the synthetic municipality into `out`, which must not exist yet (or be an empty
/// directory). Everything is written to a temporary sibling directory first and renamed at the
/// end, so that a failure never leaves a half-written `out`.
pub fn generate(cfg: &Config, out: &Path, progress: Progress) -> Result<Summary, SynthError> {
    cfg.validate().map_err(SynthError::Invalid)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| SynthError::Io { path, error }
    };
    if out.exists() {
        let empty = out.is_dir() && std::fs::read_dir(out).map_err(io(out))?.next().is_none();
        if !empty {
            return Err(SynthError::Invalid(format!(
                "{} already exists and is not empty; choose another --out or remove it first",
                out.display()
            )));
        }
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(SynthError::Invalid(format!(
            "the parent directory {} does not exist; create it first",
            parent.display()
        )));
    }
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "synth".into());
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir(&tmp).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => SynthError::Invalid(format!(
            "cannot write in {}: permission denied; choose a writable --out",
            parent.display()
        )),
        _ => SynthError::Io {
            path: tmp.clone(),
            error: e,
        },
    })?;
    let result = writer::write_all(cfg, &tmp, progress);
    match result {
        Ok(summary) => {
            if out.exists() {
                std::fs::remove_dir(out).map_err(io(out))?;
            }
            std::fs::rename(&tmp, out).map_err(io(out))?;
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}
