//! SVG charts, drawn from results that have already passed disclosure control (the common JSON
//! envelope): the CLI, the web tool and the report use the same pictures. Every chart carries a
//! `<title>` and a `<desc>` (its text alternative, WCAG 1.1.1) and uses colours that stay
//! distinguishable for the common colour-vision deficiencies (Okabe & Ito 2008) plus line styles.
//!
//! No dependencies beyond serde_json: an SVG is text, and a chart library would add build time
//! and a JavaScript runtime (see shared/stack-notes.md).

pub mod calibration;
pub mod effects;
pub mod km;
pub mod lines;
pub mod svg;
pub mod tree;
