//! Domain facts shared by every inzicht crate.
//!
//! This crate knows the national code lists and calendar rules that do not differ between
//! municipalities (see `shared/domain.md` §3–§6). Local codes and their mapping onto these
//! national codes are configuration and never live here.
//!
//! **Invariant:** no I/O, no randomness, no dependency on other inzicht crates.

pub mod aow;
pub mod bsn;
pub mod codes;
pub mod date;
pub mod education;

pub use codes::{EndReasonClass, BUS_END_REASONS, SRG_TYPES};
pub use date::{Date, Month};
