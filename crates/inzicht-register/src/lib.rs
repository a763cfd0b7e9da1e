//! Publishing a fitted model: an entry for the national Algoritmeregister and a model card.
//!
//! Dutch government organisations publish the algorithms they use with impact on citizens in the
//! Algoritmeregister (algoritmes.overheid.nl). A municipality that fits a prediction model with
//! inzicht has to describe it there, in plain language, and keep the description true. This
//! crate writes what the software knows — what the model is, which data it uses, how it was
//! tested, how well it does against a simple baseline, what the bias audit found — and leaves to
//! a person what only the organisation can decide (status, publication category, legal basis,
//! proportionality, human intervention, risk management, impact assessments, dates). It never
//! fills a field with a placeholder: a field is either real content or absent and listed in
//! [`RegisterEntry::to_decide`]. See docs/register.md.
//!
//! The rules come from the register's own field configuration, **publication standard
//! v1.0** ("Configuratie v1.0", embedded byte for byte from
//! `standard/algoritmeregister-standard-v1.0.json`, 31 fields); [`Standard`] reads it and
//! validates entries against every rule it states (module [`standard`]).
//!
//! - [`Standard::v1_0`], [`Standard::validate`], [`Standard::validate_generated`]
//! - [`Installation::from_json`]: the organisation (from the caller's configuration file)
//! - [`ModelSummary`]: the fitted model, with protected numbers only
//! - [`register_entry`]: the entry and the fields left to a person
//! - [`model_card_markdown`]: the model card (Mitchell et al. 2019) in Dutch
//!
//! ```
//! use inzicht_register::*;
//!
//! let std = Standard::v1_0()?;
//! let inst = Installation::from_json(&serde_json::json!({
//!     "organisation": "Gemeente Noorderhaaks",
//!     "contact_email": "algoritmes@noorderhaaks.nl"
//! }))?;
//! let m = ModelSummary {
//!     name: "Voorspelling uitstroom naar werk binnen 12 maanden".into(),
//!     kind: ModelKind::ClassificationTree { depth: 3, leaves: 7 },
//!     target: "uitstroom naar werk binnen 12 maanden".into(),
//!     target_group: "mensen met een bijstandsuitkering".into(),
//!     features: vec!["leeftijd".into(), "trede op de participatieladder".into()],
//!     data_period: ("2012-01".into(), "2019-12".into()),
//!     train_period: ("2012-01".into(), "2016-12".into()),
//!     test_period: ("2017-01".into(), "2018-12".into()),
//!     n_train: Some(5480.0),
//!     n_test: None, // afgeschermd
//!     accuracy: Some(0.71),
//!     baseline_accuracy: Some(0.67),
//!     balanced_accuracy: None,
//!     roc_auc: Some(0.74),
//!     brier: None,
//!     audit: vec![],
//!     sources: vec!["uitkeringen (bijstand)".into(), "diagnoses".into()],
//!     software_version: "0.1.0".into(),
//! };
//! let r = register_entry(&inst, &m, &std);
//! // Everything generated is valid; status and publication category are left to a person.
//! assert!(r.validate(&std).is_empty());
//! assert!(r.to_decide.iter().any(|d| d.field == "publication_category"));
//! let card = model_card_markdown(&m, &inst);
//! assert!(card.contains("| Eenvoudige regel (baseline) | 67% |"));
//! # Ok::<(), String>(())
//! ```
//!
//! **Architecture invariant:** no I/O and no numbers of its own: every number in the texts
//! comes from the [`ModelSummary`], which the caller fills from protected results; an absent
//! number reads "afgeschermd" (a count) or "niet berekend" (a metric).

mod card;
mod entry;
mod model;
pub mod standard;
mod text;

pub use card::model_card_markdown;
pub use entry::{register_entry, FieldToDecide, RegisterEntry};
pub use model::{AuditFlag, Installation, ModelKind, ModelSummary};
pub use standard::{FieldSpec, FieldType, Format, Rule, Standard, Violation, STANDARD_V1_0_JSON};
