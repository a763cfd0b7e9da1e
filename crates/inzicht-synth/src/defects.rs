//! Realistic export defects, injected at configurable rates and recorded with file, line and
//! column in the truth. `docs/defects.md` says how ingest must handle each kind.
//!
//! Rule of the generator: a defect never causes another. Rows that a defect makes unloadable are
//! chosen among records nothing else depends on (a spell without provisions, a repeat provision
//! of a group), so that the defects listed in the truth are exactly what ingest should find.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DefectKind {
    /// A required cell is empty. Quarantine: `missing_required`.
    EmptyCell,
    /// An end date before the start date. Quarantine: `end_before_start`.
    EndBeforeStart,
    /// A code that the code lists do not know. Quarantine: `unknown_code`.
    UnknownCode,
    /// A date that does not exist in the calendar (31-02-2016). Quarantine: `invalid_date`.
    InvalidDate,
    /// An exact copy of an earlier row. Quarantine: `duplicate_row`.
    DuplicateRow,
    /// A BSN that fails the elfproef. Quarantine: `bsn_elfproef`.
    InvalidBsn,
    /// A spell, assessment or provision whose (valid) BSN has no person row. Quarantine: `orphan_person`.
    OrphanReference,
    /// A provision that starts outside every spell of its client. Quarantine: `provision_outside_spell`.
    ProvisionOutsideSpell,
    /// A spell that overlaps an earlier-listed spell of the same person. Quarantine: `overlapping_spell`.
    OverlappingSpell,
    /// Leading or trailing spaces around a code. Normalise (trim) and count.
    StrayWhitespace,
    /// A code in other letter case than the code list. Normalise (case-fold) and count.
    MixedCase,
}

pub const ALL_KINDS: [DefectKind; 11] = [
    DefectKind::EmptyCell,
    DefectKind::EndBeforeStart,
    DefectKind::UnknownCode,
    DefectKind::InvalidDate,
    DefectKind::DuplicateRow,
    DefectKind::InvalidBsn,
    DefectKind::OrphanReference,
    DefectKind::ProvisionOutsideSpell,
    DefectKind::OverlappingSpell,
    DefectKind::StrayWhitespace,
    DefectKind::MixedCase,
];

impl DefectKind {
    pub fn name(self) -> &'static str {
        match self {
            DefectKind::EmptyCell => "empty_cell",
            DefectKind::EndBeforeStart => "end_before_start",
            DefectKind::UnknownCode => "unknown_code",
            DefectKind::InvalidDate => "invalid_date",
            DefectKind::DuplicateRow => "duplicate_row",
            DefectKind::InvalidBsn => "invalid_bsn",
            DefectKind::OrphanReference => "orphan_reference",
            DefectKind::ProvisionOutsideSpell => "provision_outside_spell",
            DefectKind::OverlappingSpell => "overlapping_spells",
            DefectKind::StrayWhitespace => "stray_whitespace",
            DefectKind::MixedCase => "mixed_case",
        }
    }

    /// The reason code ingest writes to the quarantine, or `None` for normalisations.
    pub fn quarantine_reason(self) -> Option<&'static str> {
        match self {
            DefectKind::EmptyCell => Some("missing_required"),
            DefectKind::EndBeforeStart => Some("end_before_start"),
            DefectKind::UnknownCode => Some("unknown_code"),
            DefectKind::InvalidDate => Some("invalid_date"),
            DefectKind::DuplicateRow => Some("duplicate_row"),
            DefectKind::InvalidBsn => Some("bsn_elfproef"),
            DefectKind::OrphanReference => Some("orphan_person"),
            DefectKind::ProvisionOutsideSpell => Some("provision_outside_spell"),
            DefectKind::OverlappingSpell => Some("overlapping_spell"),
            DefectKind::StrayWhitespace | DefectKind::MixedCase => None,
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        ALL_KINDS.iter().copied().find(|k| k.name() == name)
    }

    /// Default rate: the probability per eligible row.
    pub fn default_rate(self) -> f64 {
        match self {
            DefectKind::StrayWhitespace | DefectKind::MixedCase => 0.01,
            DefectKind::DuplicateRow => 0.003,
            _ => 0.002,
        }
    }
}

impl Serialize for DefectKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl fmt::Display for DefectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Rates per defect kind (probability per eligible row).
#[derive(Debug, Clone, PartialEq)]
pub struct DefectRates(pub BTreeMap<DefectKind, f64>);

impl Default for DefectRates {
    fn default() -> Self {
        DefectRates(ALL_KINDS.iter().map(|k| (*k, k.default_rate())).collect())
    }
}

impl DefectRates {
    pub fn none() -> Self {
        DefectRates(ALL_KINDS.iter().map(|k| (*k, 0.0)).collect())
    }
    pub fn rate(&self, kind: DefectKind) -> f64 {
        self.0.get(&kind).copied().unwrap_or(0.0)
    }
    /// Parses `kind=rate[,kind=rate…]`, e.g. `duplicate_row=0.01,mixed_case=0`.
    pub fn apply_overrides(&mut self, spec: &str) -> Result<(), String> {
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("'{part}' is not of the form kind=rate"))?;
            let kind = DefectKind::parse(name.trim()).ok_or_else(|| {
                let known: Vec<&str> = ALL_KINDS.iter().map(|k| k.name()).collect();
                format!(
                    "unknown defect kind '{}'; known kinds: {}",
                    name.trim(),
                    known.join(", ")
                )
            })?;
            let rate: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("rate '{}' for {kind} is not a number", value.trim()))?;
            if !(0.0..=0.2).contains(&rate) {
                return Err(format!("rate {rate} for {kind} must lie between 0 and 0.2"));
            }
            self.0.insert(kind, rate);
        }
        Ok(())
    }
}

/// One injected defect, as recorded in `truth.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Defect {
    pub kind: DefectKind,
    /// Path relative to the output directory, `/`-separated.
    pub file: String,
    /// 1-based physical line where the record starts (header = line 1).
    pub line: u64,
    pub column: Option<&'static str>,
    pub detail: String,
}
