//! Reading and validating municipal exports: the first stage of the one-way flow
//! (source files → **ingest** → store → analyses → disclosure control → outputs).
//!
//! `pipeline::run` reads every configured source in a fixed order (geography, persons, spells,
//! then the rest), validates each row and hands loaded rows, quarantined rows and normalisations
//! to a [`pipeline::Sink`] — the store. It returns the reconciliation: per file, rows read =
//! rows loaded + rows quarantined, with the reasons.
//!
//! **Architecture invariant:** no database and no network here (so that the readers can be
//! fuzzed with fast builds); no row is dropped or changed without a record of it.

pub mod config;
pub mod fasthash;
pub mod frame;
pub mod pipeline;
pub mod read;

pub use config::{IngestConfig, Kind};
pub use pipeline::{Normalisation, Quarantined, Reconciliation, Sink, TableSchema, Value};
