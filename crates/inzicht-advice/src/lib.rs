//! Decision support for the consultant (issue 8, docs/advice.md): matching clients and
//! vacancies on competences rather than job titles (seed 003, WerkSaam), with an explanation of
//! every match, and the evaluation of a ranking against a known truth.
//!
//! - [`taxonomy`]: a hierarchical skills taxonomy (competence → broader group), built from the
//!   municipality's code list or loaded from the ESCO CSV export.
//! - [`matching`]: client profiles and vacancies as evidence about competences, constraints
//!   (hours, education, travel distance), the score of a pair, rankings both ways, the
//!   explanation (competences that match, that are missing, provisions that teach them) and the
//!   occupation-title baseline.
//! - [`eval`]: precision@k and nDCG@k of a ranking against graded relevance.
//!
//! **Invariant:** no database and no disclosure control: it works on one client's or one
//! vacancy's data as the caller hands it over; the store decides who may see what. The
//! heterogeneous provision effects for the same page live in `inzicht-stats::hte`.

pub mod eval;
pub mod matching;
pub mod taxonomy;

pub use matching::{ClientProfile, Evidence, MatchOptions, Matcher, Score, Vacancy};
pub use taxonomy::Taxonomy;
