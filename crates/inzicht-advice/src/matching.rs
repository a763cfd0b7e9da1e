//! Client–vacancy matching on competences.
//!
//! **What a match is.** A vacancy requires a set R of competences. Following WerkSaam's rule
//! (seed 003) and the municipality's own definition of "a suitable vacancy", a client suits a
//! vacancy when they have at least a share `min_coverage` (default 75%) of R, their education is
//! at most `education_margin` levels below the vacancy's minimum, the vacancy's hours are at most
//! `hours_margin` above what the client can work, and the vacancy lies within the client's
//! travel distance. The last three are constraints: a vacancy that breaks one is not ranked.
//!
//! **What we know of a client's competences** is incomplete: case systems record only some of
//! them. Each competence therefore gets a probability from the evidence about it:
//! recorded in the client's file (`recorded`), taught by a provision the client completed
//! (`provision`; what each provision type teaches comes from the code list), required by an
//! occupation the client worked in (`experience`), or — through the taxonomy — a closely related
//! competence (same broader concept) with one of these (`related` × its weight). Without
//! evidence, the share of profiled clients with the competence recorded (`prior`) is used. These
//! weights are stated assumptions (docs/advice.md), not estimates.
//!
//! **The score** is the probability that the client has at least ⌈min_coverage·|R|⌉ of R when
//! each competence is held independently with its probability — the upper tail of a
//! Poisson-binomial distribution, computed exactly by the recursion
//! P_k(j) = P_{k−1}(j)(1 − q_k) + P_{k−1}(j − 1) q_k (Chen & Liu 1997). Ties are broken by the
//! expected coverage, then the distance, then the vacancy's position in its list, so that the
//! ranking is deterministic.
//!
//! The baseline matches on occupation titles only: the word overlap between the titles the
//! client has (last, desired and past occupations) and the vacancy's title.

use crate::taxonomy::Taxonomy;
use serde::Serialize;

/// Where the knowledge of a competence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    Recorded,
    Provision,
    Experience,
}

impl Evidence {
    pub fn dutch(self) -> &'static str {
        match self {
            Evidence::Recorded => "vastgelegd in het dossier",
            Evidence::Provision => "geleerd in een afgeronde voorziening",
            Evidence::Experience => "uit werkervaring",
        }
    }
}

/// The weights of the evidence (probabilities that the client has the competence).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Weights {
    pub recorded: f32,
    pub provision: f32,
    pub experience: f32,
    /// Factor on the weight of a competence with the same broader concept.
    pub related: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            recorded: 0.97,
            provision: 0.9,
            experience: 0.8,
            related: 0.25,
        }
    }
}

impl Weights {
    pub fn of(&self, e: Evidence) -> f32 {
        match e {
            Evidence::Recorded => self.recorded,
            Evidence::Provision => self.provision,
            Evidence::Experience => self.experience,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MatchOptions {
    pub weights: Weights,
    pub min_coverage: f32,
    pub hours_margin: f32,
    pub education_margin: u8,
    /// Travel distance used when a client's maximum is not recorded (km).
    pub default_max_km: f32,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions {
            weights: Weights::default(),
            min_coverage: 0.75,
            hours_margin: 4.0,
            education_margin: 1,
            default_max_km: 10.0,
        }
    }
}

pub use inzicht_domain::education::{education_level, EDUCATION_LEVELS};

/// What is known about one client.
#[derive(Debug, Clone, Default)]
pub struct ClientProfile {
    /// The caller's index of the client.
    pub key: u32,
    /// Per competence the strongest evidence, sorted by competence.
    pub evidence: Vec<(u32, Evidence)>,
    /// Competences taught by completed provisions, with the provision type (for explanations).
    pub taught_by: Vec<(u32, String)>,
    pub education: Option<u8>,
    pub hours: Option<f32>,
    pub max_km: Option<f32>,
    /// Coordinates of the buurt in metres (RD).
    pub location: Option<(f64, f64)>,
    /// Title words: last, desired and past occupations (the baseline).
    pub title_words: Vec<String>,
    /// Codes in the client's records that the taxonomy does not know.
    pub unknown_codes: Vec<String>,
}

impl ClientProfile {
    /// Adds evidence of a competence, keeping the strongest per competence.
    pub fn add(&mut self, competence: u32, e: Evidence) {
        match self.evidence.binary_search_by_key(&competence, |x| x.0) {
            Ok(i) => {
                if e < self.evidence[i].1 {
                    self.evidence[i].1 = e;
                }
            }
            Err(i) => self.evidence.insert(i, (competence, e)),
        }
    }

    pub fn evidence_of(&self, competence: u32) -> Option<Evidence> {
        self.evidence
            .binary_search_by_key(&competence, |x| x.0)
            .ok()
            .map(|i| self.evidence[i].1)
    }

    /// What the matching could not use, in Dutch (for the page and the CLI).
    pub fn missing(&self) -> Vec<&'static str> {
        let mut m = Vec::new();
        if self.evidence.is_empty() {
            m.push(
                "geen competenties bekend (geen dossier, werkervaring of afgeronde voorziening)",
            );
        }
        if self.education.is_none() {
            m.push("opleidingsniveau onbekend: niet als eis gebruikt");
        }
        if self.hours.is_none() {
            m.push("beschikbare uren onbekend: niet als eis gebruikt");
        }
        if self.max_km.is_none() {
            m.push("maximale reisafstand onbekend: de standaardafstand is gebruikt");
        }
        if self.location.is_none() {
            m.push("buurt onbekend: afstand niet als eis gebruikt");
        }
        m
    }
}

#[derive(Debug, Clone, Default)]
pub struct Vacancy {
    pub id: String,
    pub title: String,
    /// Required competences, sorted.
    pub required: Vec<u32>,
    pub unknown_codes: Vec<String>,
    pub min_education: Option<u8>,
    pub hours: Option<f32>,
    pub location: Option<(f64, f64)>,
    pub title_words: Vec<String>,
}

/// The score of one client–vacancy pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Score {
    /// Index of the vacancy (or, in [`Matcher::rank_clients`], of the client).
    pub index: u32,
    /// Probability of meeting the coverage rule.
    pub p_match: f32,
    /// Expected share of the required competences the client has.
    pub coverage: f32,
    pub distance_km: Option<f32>,
}

/// Why a vacancy was not ranked for a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exclusion {
    Hours,
    Education,
    Distance,
    NoCompetences,
}

impl Exclusion {
    pub fn dutch(self) -> &'static str {
        match self {
            Exclusion::Hours => "meer uren dan de cliënt kan werken",
            Exclusion::Education => "opleidingseis te hoog",
            Exclusion::Distance => "verder dan de reisafstand",
            Exclusion::NoCompetences => "vacature zonder (bekende) competenties",
        }
    }
}

/// Lower-case words of a job title without the words that say nothing about the job.
pub fn title_words(title: &str) -> Vec<String> {
    const STOP: &[&str] = &[
        "m/v",
        "m/v/x",
        "v/m",
        "parttime",
        "fulltime",
        "medewerker",
        "en",
        "de",
        "het",
        "een",
        "van",
        "in",
        "voor",
        "junior",
        "senior",
        "allround",
    ];
    let mut w: Vec<String> = title
        .to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '/'))
        .map(|s| s.trim_matches('/').to_string())
        .filter(|s| s.chars().count() >= 3 && !STOP.contains(&s.as_str()))
        .collect();
    w.sort();
    w.dedup();
    w
}

/// The matching engine: taxonomy, priors and options.
pub struct Matcher<'a> {
    pub taxonomy: &'a Taxonomy,
    /// Per competence: probability without evidence.
    pub prior: Vec<f32>,
    pub options: MatchOptions,
}

/// A vacancy prepared for scoring: its competences' parents.
struct Prepared<'v> {
    v: &'v Vacancy,
    parents: Vec<Option<u32>>,
    need: usize,
}

impl<'a> Matcher<'a> {
    pub fn new(taxonomy: &'a Taxonomy, prior: Vec<f32>, options: MatchOptions) -> Self {
        Matcher {
            taxonomy,
            prior,
            options,
        }
    }

    fn prepare<'v>(&self, v: &'v Vacancy) -> Prepared<'v> {
        let need = (self.options.min_coverage as f64 * v.required.len() as f64 - 1e-9)
            .ceil()
            .max(1.0) as usize;
        Prepared {
            v,
            parents: v
                .required
                .iter()
                .map(|&c| self.taxonomy.parent(c))
                .collect(),
            need,
        }
    }

    /// The client's competences with a parent, for related credit: (parent, best weight).
    fn parent_weights(&self, p: &ClientProfile) -> Vec<(u32, f32)> {
        let mut out: Vec<(u32, f32)> = p
            .evidence
            .iter()
            .filter_map(|&(c, e)| {
                self.taxonomy
                    .parent(c)
                    .map(|par| (par, self.options.weights.of(e)))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        out.dedup_by_key(|x| x.0);
        out
    }

    /// The constraints: `Err` names the first one broken.
    pub fn check(&self, p: &ClientProfile, v: &Vacancy) -> Result<Option<f32>, Exclusion> {
        if v.required.is_empty() {
            return Err(Exclusion::NoCompetences);
        }
        if let (Some(ch), Some(vh)) = (p.hours, v.hours) {
            if vh > ch + self.options.hours_margin {
                return Err(Exclusion::Hours);
            }
        }
        if let (Some(ce), Some(ve)) = (p.education, v.min_education) {
            if ce + self.options.education_margin < ve {
                return Err(Exclusion::Education);
            }
        }
        let distance = match (p.location, v.location) {
            (Some(a), Some(b)) => {
                let d = (((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt() / 1000.0) as f32;
                if d > p.max_km.unwrap_or(self.options.default_max_km) {
                    return Err(Exclusion::Distance);
                }
                Some(d)
            }
            _ => None,
        };
        Ok(distance)
    }

    /// The probability that the client has competence `c` (index `k` of the vacancy's list).
    fn probability(
        &self,
        p: &ClientProfile,
        parents: &[(u32, f32)],
        c: u32,
        parent: Option<u32>,
    ) -> f32 {
        if let Some(e) = p.evidence_of(c) {
            return self.options.weights.of(e);
        }
        let prior = self.prior.get(c as usize).copied().unwrap_or(0.0);
        let related = parent
            .and_then(|par| {
                parents
                    .binary_search_by_key(&par, |x| x.0)
                    .ok()
                    .map(|i| parents[i].1 * self.options.weights.related)
            })
            .unwrap_or(0.0);
        // Independent routes to the competence: 1 − (1 − prior)(1 − related).
        1.0 - (1.0 - prior) * (1.0 - related)
    }

    fn score_prepared(
        &self,
        p: &ClientProfile,
        parents: &[(u32, f32)],
        v: &Prepared,
        index: u32,
        tail: &mut Vec<f64>,
    ) -> Option<Score> {
        let distance = self.check(p, v.v).ok()?;
        // Poisson-binomial upper tail: tail[j] = P(exactly j competences so far).
        let n = v.v.required.len();
        tail.clear();
        tail.resize(n + 1, 0.0);
        tail[0] = 1.0;
        let mut expected = 0.0f64;
        for (k, (&c, &par)) in v.v.required.iter().zip(&v.parents).enumerate() {
            let q = self.probability(p, parents, c, par) as f64;
            expected += q;
            for j in (1..=k + 1).rev() {
                tail[j] = tail[j] * (1.0 - q) + tail[j - 1] * q;
            }
            tail[0] *= 1.0 - q;
        }
        let p_match: f64 = tail[v.need.min(n)..].iter().sum();
        Some(Score {
            index,
            p_match: p_match as f32,
            coverage: (expected / n as f64) as f32,
            distance_km: distance,
        })
    }

    /// The probability of every competence of the taxonomy for one client (dense; for the
    /// reference implementation the benchmark compares with, and for checks).
    pub fn probabilities(&self, p: &ClientProfile) -> Vec<f32> {
        let parents = self.parent_weights(p);
        (0..self.taxonomy.len() as u32)
            .map(|c| self.probability(p, &parents, c, self.taxonomy.parent(c)))
            .collect()
    }

    /// The score of one pair, or why the vacancy is not ranked.
    pub fn score(&self, p: &ClientProfile, v: &Vacancy) -> Result<Score, Exclusion> {
        self.check(p, v)?;
        let prep = self.prepare(v);
        let parents = self.parent_weights(p);
        let mut tail = Vec::new();
        self.score_prepared(p, &parents, &prep, 0, &mut tail)
            .ok_or(Exclusion::NoCompetences)
    }

    /// The best `k` vacancies for each client (rows in client order), on `threads` threads.
    pub fn rank_all(
        &self,
        clients: &[ClientProfile],
        vacancies: &[Vacancy],
        k: usize,
        threads: usize,
    ) -> Vec<Vec<Score>> {
        let prepared: Vec<Prepared> = vacancies.iter().map(|v| self.prepare(v)).collect();
        let threads = threads.clamp(1, 16).min(clients.len().max(1));
        let chunk = clients.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = clients
                .chunks(chunk)
                .map(|part| {
                    let prepared = &prepared;
                    s.spawn(move || {
                        let mut tail = Vec::new();
                        let mut buf = Vec::new();
                        part.iter()
                            .map(|c| {
                                let parents = self.parent_weights(c);
                                buf.clear();
                                for (i, v) in prepared.iter().enumerate() {
                                    if let Some(sc) =
                                        self.score_prepared(c, &parents, v, i as u32, &mut tail)
                                    {
                                        buf.push(sc);
                                    }
                                }
                                top_k(&mut buf, k)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    }

    /// The best `k` vacancies for one client.
    pub fn rank_vacancies(&self, p: &ClientProfile, vacancies: &[Vacancy], k: usize) -> Vec<Score> {
        self.rank_all(std::slice::from_ref(p), vacancies, k, 1)
            .pop()
            .unwrap_or_default()
    }

    /// The best `k` clients for one vacancy (`Score::index` is the client's position).
    pub fn rank_clients(&self, v: &Vacancy, clients: &[ClientProfile], k: usize) -> Vec<Score> {
        let prep = self.prepare(v);
        let mut tail = Vec::new();
        let mut buf: Vec<Score> = clients
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let parents = self.parent_weights(c);
                self.score_prepared(c, &parents, &prep, i as u32, &mut tail)
            })
            .collect();
        top_k(&mut buf, k)
    }

    /// Why a vacancy suits (or does not suit) a client, competence by competence.
    pub fn explain(&self, p: &ClientProfile, v: &Vacancy, catalogue: &[Provision]) -> Explanation {
        let parents = self.parent_weights(p);
        let mut matched = Vec::new();
        let mut related = Vec::new();
        let mut missing = Vec::new();
        for &c in &v.required {
            let item = |c: u32| CompetenceItem {
                code: self.taxonomy.code(c).to_string(),
                label: self.taxonomy.label(c).to_string(),
            };
            if let Some(e) = p.evidence_of(c) {
                matched.push((item(c), e));
                continue;
            }
            let via = self
                .taxonomy
                .parent(c)
                .filter(|par| parents.binary_search_by_key(par, |x| x.0).is_ok());
            match via {
                Some(par) => related.push((item(c), self.taxonomy.label(par).to_string())),
                None => missing.push((c, item(c))),
            }
        }
        // Provisions that would teach the missing competences, those closing most gaps first.
        let mut provisions: Vec<ProvisionSuggestion> = catalogue
            .iter()
            .filter_map(|pr| {
                let closes: Vec<String> = missing
                    .iter()
                    .filter(|(c, _)| pr.teaches.binary_search(c).is_ok())
                    .map(|(_, it)| it.label.clone())
                    .collect();
                (!closes.is_empty()).then(|| ProvisionSuggestion {
                    code: pr.code.clone(),
                    name: pr.name.clone(),
                    closes,
                })
            })
            .collect();
        provisions.sort_by(|a, b| {
            b.closes
                .len()
                .cmp(&a.closes.len())
                .then(a.code.cmp(&b.code))
        });
        provisions.truncate(3);
        let score = self.score(p, v);
        Explanation {
            vacancy: v.id.clone(),
            title: v.title.clone(),
            p_match: score.as_ref().ok().map(|s| s.p_match),
            coverage: score.as_ref().ok().map(|s| s.coverage),
            excluded: score.as_ref().err().map(|e| e.dutch()),
            distance_km: match (p.location, v.location) {
                (Some(a), Some(b)) => {
                    Some((((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt() / 1000.0) as f32)
                }
                _ => None,
            },
            hours: (p.hours, v.hours),
            matched: matched
                .into_iter()
                .map(|(it, e)| MatchedCompetence {
                    code: it.code,
                    label: it.label,
                    evidence: e,
                    evidence_text: e.dutch(),
                })
                .collect(),
            related: related
                .into_iter()
                .map(|(it, via)| RelatedCompetence {
                    code: it.code,
                    label: it.label,
                    via,
                })
                .collect(),
            missing: missing.into_iter().map(|(_, it)| it).collect(),
            provisions,
            unknown_codes: v.unknown_codes.clone(),
        }
    }
}

/// Keeps the best `k` scores, best first (deterministic order).
fn top_k(buf: &mut Vec<Score>, k: usize) -> Vec<Score> {
    let cmp = |a: &Score, b: &Score| {
        b.p_match
            .total_cmp(&a.p_match)
            .then(b.coverage.total_cmp(&a.coverage))
            .then(
                a.distance_km
                    .unwrap_or(f32::MAX)
                    .total_cmp(&b.distance_km.unwrap_or(f32::MAX)),
            )
            .then(a.index.cmp(&b.index))
    };
    if buf.len() > k && k > 0 {
        buf.select_nth_unstable_by(k - 1, cmp);
        buf.truncate(k);
    }
    buf.sort_by(cmp);
    buf.clone()
}

/// The title-only baseline: vacancies ranked by the share of the vacancy's title words that
/// occur in the client's occupation titles (ties: list order). No constraints: titles only.
/// `vacancies` are (index, vacancy) pairs, so that a caller can rank a subset.
pub fn rank_by_title<'v>(
    p: &ClientProfile,
    vacancies: impl IntoIterator<Item = (usize, &'v Vacancy)>,
    k: usize,
) -> Vec<Score> {
    let mut buf: Vec<Score> = vacancies
        .into_iter()
        .filter_map(|(i, v)| {
            let hits = v
                .title_words
                .iter()
                .filter(|w| p.title_words.binary_search(w).is_ok())
                .count();
            (hits > 0).then(|| Score {
                index: i as u32,
                p_match: hits as f32 / v.title_words.len().max(1) as f32,
                coverage: 0.0,
                distance_km: None,
            })
        })
        .collect();
    top_k(&mut buf, k)
}

/// A provision type of the catalogue with the competences it teaches (sorted).
#[derive(Debug, Clone)]
pub struct Provision {
    pub code: String,
    pub name: String,
    pub group: String,
    pub teaches: Vec<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompetenceItem {
    pub code: String,
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MatchedCompetence {
    pub code: String,
    pub label: String,
    pub evidence: Evidence,
    pub evidence_text: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct RelatedCompetence {
    pub code: String,
    pub label: String,
    /// The broader concept the client has a competence in.
    pub via: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProvisionSuggestion {
    pub code: String,
    pub name: String,
    /// Labels of the missing competences it teaches.
    pub closes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub vacancy: String,
    pub title: String,
    pub p_match: Option<f32>,
    pub coverage: Option<f32>,
    /// Why the vacancy is not ranked for this client, if it is not.
    pub excluded: Option<&'static str>,
    pub distance_km: Option<f32>,
    /// (client's hours, vacancy's hours).
    pub hours: (Option<f32>, Option<f32>),
    pub matched: Vec<MatchedCompetence>,
    pub related: Vec<RelatedCompetence>,
    pub missing: Vec<CompetenceItem>,
    pub provisions: Vec<ProvisionSuggestion>,
    pub unknown_codes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taxonomy() -> Taxonomy {
        let mut t = Taxonomy::new("test");
        for g in 0..3 {
            for c in 0..4 {
                t.insert(
                    &format!("C{g}.{c}"),
                    &format!("comp {g}.{c}"),
                    Some((&format!("C{g}"), &format!("groep {g}"))),
                );
            }
        }
        t
    }

    fn ids(t: &Taxonomy, codes: &[&str]) -> Vec<u32> {
        let mut v: Vec<u32> = codes.iter().map(|c| t.id(c).unwrap()).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn poisson_binomial_tail_is_exact() {
        let t = taxonomy();
        let m = Matcher::new(&t, vec![], MatchOptions::default());
        let mut p = ClientProfile::default();
        p.add(t.id("C0.0").unwrap(), Evidence::Recorded);
        p.add(t.id("C0.1").unwrap(), Evidence::Experience);
        let v = Vacancy {
            required: ids(&t, &["C0.0", "C0.1", "C1.0", "C1.1"]),
            ..Default::default()
        };
        // Need 3 of 4; q = 0.97, 0.8, 0, 0: at most 2 → probability 0.
        let s = m.score(&p, &v).unwrap();
        assert_eq!(s.p_match, 0.0);
        assert!((s.coverage - (0.97 + 0.8) / 4.0).abs() < 1e-6);
        // Need 2 of 2 with q = 0.97 and 0.8: 0.776.
        let v2 = Vacancy {
            required: ids(&t, &["C0.0", "C0.1"]),
            ..Default::default()
        };
        assert!((m.score(&p, &v2).unwrap().p_match - 0.776).abs() < 1e-6);
        // Need 3 of 4 (ceil 0.75·4): related credit lifts C0.2 and C0.3 above zero.
        let v3 = Vacancy {
            required: ids(&t, &["C0.0", "C0.1", "C0.2", "C0.3"]),
            ..Default::default()
        };
        let s3 = m.score(&p, &v3).unwrap();
        let r = 0.97f64 * 0.25;
        let (a, b, c, d) = (0.97f64, 0.8, r, r);
        // P(at least 3 of 4) by enumeration.
        let qs = [a, b, c, d];
        let mut want = 0.0;
        for mask in 0u32..16 {
            if mask.count_ones() >= 3 {
                let mut pr = 1.0;
                for (i, q) in qs.iter().enumerate() {
                    pr *= if mask >> i & 1 == 1 { *q } else { 1.0 - q };
                }
                want += pr;
            }
        }
        assert!(
            (s3.p_match as f64 - want).abs() < 1e-6,
            "{} vs {want}",
            s3.p_match
        );
    }

    #[test]
    fn constraints_exclude_and_explain() {
        let t = taxonomy();
        let m = Matcher::new(&t, vec![], MatchOptions::default());
        let mut p = ClientProfile {
            hours: Some(20.0),
            education: Some(2),
            location: Some((0.0, 0.0)),
            max_km: Some(5.0),
            ..Default::default()
        };
        p.add(t.id("C0.0").unwrap(), Evidence::Recorded);
        let base = Vacancy {
            required: ids(&t, &["C0.0", "C2.1"]),
            hours: Some(24.0),
            min_education: Some(3),
            location: Some((3000.0, 4000.0)),
            ..Default::default()
        };
        assert!(
            m.score(&p, &base).is_ok(),
            "24 ≤ 20 + 4, edu 3 ≤ 2 + 1, 5 km ≤ 5 km"
        );
        let v = Vacancy {
            hours: Some(32.0),
            ..base.clone()
        };
        assert_eq!(m.score(&p, &v), Err(Exclusion::Hours));
        let v = Vacancy {
            min_education: Some(4),
            ..base.clone()
        };
        assert_eq!(m.score(&p, &v), Err(Exclusion::Education));
        let v = Vacancy {
            location: Some((6000.0, 0.0)),
            ..base.clone()
        };
        assert_eq!(m.score(&p, &v), Err(Exclusion::Distance));
        let v = Vacancy {
            required: vec![],
            ..base.clone()
        };
        assert_eq!(m.score(&p, &v), Err(Exclusion::NoCompetences));
        // Unknown hours / education: not used as constraints.
        let q = ClientProfile {
            hours: None,
            education: None,
            ..p.clone()
        };
        let v = Vacancy {
            hours: Some(40.0),
            min_education: Some(7),
            ..base.clone()
        };
        assert!(m.score(&q, &v).is_ok());
        assert!(q.missing().iter().any(|s| s.contains("uren")));
        let catalogue = vec![Provision {
            code: "P1".into(),
            name: "Cursus".into(),
            group: "G".into(),
            teaches: ids(&t, &["C2.1"]),
        }];
        let e = m.explain(&p, &base, &catalogue);
        assert_eq!(e.matched.len(), 1);
        assert_eq!(e.missing.len(), 1);
        assert_eq!(e.missing[0].code, "C2.1");
        assert_eq!(e.provisions[0].code, "P1");
    }

    #[test]
    fn rankings_are_ordered_and_deterministic() {
        let t = taxonomy();
        let m = Matcher::new(&t, vec![0.1; t.len()], MatchOptions::default());
        let mut p = ClientProfile::default();
        for c in ["C0.0", "C0.1", "C0.2", "C1.0"] {
            p.add(t.id(c).unwrap(), Evidence::Recorded);
        }
        let vs: Vec<Vacancy> = (0..3)
            .flat_map(|g| {
                let t = &t;
                (0..4).map(move |c| Vacancy {
                    id: format!("V{g}{c}"),
                    required: ids(t, &[&format!("C{g}.{c}"), &format!("C{g}.{}", (c + 1) % 4)]),
                    ..Default::default()
                })
            })
            .collect();
        let r = m.rank_vacancies(&p, &vs, 5);
        assert_eq!(r.len(), 5);
        assert!(r.windows(2).all(|w| w[0].p_match >= w[1].p_match));
        assert_eq!(vs[r[0].index as usize].id, "V00");
        let all = m.rank_all(&[p.clone(), p.clone(), p.clone()], &vs, 5, 2);
        assert_eq!(all.len(), 3);
        assert!(all.iter().all(|x| *x == r));
        let cl = m.rank_clients(&vs[0], &[ClientProfile::default(), p.clone()], 2);
        assert_eq!(cl[0].index, 1);
    }

    #[test]
    fn title_baseline() {
        assert_eq!(
            title_words("Parttime heftruckchauffeur (m/v/x)"),
            vec!["heftruckchauffeur"]
        );
        let p = ClientProfile {
            title_words: title_words("Heftruckchauffeur"),
            ..Default::default()
        };
        let vs = [
            Vacancy {
                title_words: title_words("Schoonmaker"),
                ..Default::default()
            },
            Vacancy {
                title_words: title_words("Heftruckchauffeur (m/v/x)"),
                ..Default::default()
            },
        ];
        let r = rank_by_title(&p, vs.iter().enumerate(), 10);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].index, 1);
    }
}
