//! The web tool (`inzicht serve`): the monitor and the analysis workbench of seed 004 in Dutch
//! (English toggle), with local accounts, roles, CSRF protection and a chained audit log. One
//! binary; every asset is embedded (no CDN, works offline).
//!
//! Request flow: session cookie → role check for the route → parameters → cache lookup (per
//! snapshot and canonical parameters) or computation in a blocking thread on the one DuckDB
//! session → audit entry (user, parameters, SHA-256 of the result) → HTML, or the same result as
//! JSON under `/api/…` (the page's JSON twin). Every number comes from `inzicht-store`'s
//! protected analyses; this crate shows and exports them, it does not compute new aggregates.

pub mod audit;
pub mod auth;
pub mod consult;
pub mod export;
pub mod html;
pub mod pages;
pub mod report;
mod server;

pub use server::{serve, ServeConfig};
