//! A hierarchical skills taxonomy: concepts (competences) with a broader concept each.
//!
//! Two sources:
//! - the municipality's own code list (`[[codelist]] name = "competences"`: code, name, group,
//!   group name), as the synthetic municipality ships it;
//! - the ESCO CSV export (European Commission, ESCO v1.1/v1.2, "CSV" download of the
//!   classification in one language): `skills_<lang>.csv`, `skillGroups_<lang>.csv`,
//!   `broaderRelationsSkillPillar_<lang>.csv`, and for occupations `occupations_<lang>.csv` and
//!   `occupationSkillRelations_<lang>.csv`. Concepts are identified by their URI; a code may be
//!   given as the full URI or as its last path segment. ESCO is a polyhierarchy: the first
//!   broader relation listed is taken as the parent (the matching only uses the parent to give
//!   partial credit for a closely related competence).
//!
//! - SKOS in N-Triples (`.nt`), the plainest RDF serialisation, for CompetentNL and other RDF
//!   publications: `skos:prefLabel` (Dutch preferred, else the first) and `skos:broader`. Turtle
//!   or RDF/XML convert to N-Triples with any RDF tool (`riot --output=ntriples`, `rapper -o
//!   ntriples`); inzicht does not parse those forms itself.

use inzicht_ingest::read::csv::{CsvOptions, CsvReader};
use inzicht_ingest::read::RecordSource;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct Taxonomy {
    codes: Vec<String>,
    labels: Vec<String>,
    parent: Vec<Option<u32>>,
    /// Lower-case code (and for URIs the last segment) → concept.
    index: HashMap<String, u32>,
    /// Where the taxonomy came from ("code list", "ESCO …").
    pub source: String,
}

/// An occupation with the competences it requires (from a code list or ESCO).
#[derive(Debug, Clone, PartialEq)]
pub struct Occupation {
    pub code: String,
    pub title: String,
    pub required: Vec<u32>,
}

fn norm(code: &str) -> String {
    code.trim().to_lowercase()
}

fn last_segment(code: &str) -> Option<&str> {
    code.trim()
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty() && code.contains('/'))
}

impl Taxonomy {
    pub fn new(source: impl Into<String>) -> Self {
        Taxonomy {
            source: source.into(),
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Adds a concept (or updates the label and parent of one already there) and returns its id.
    /// A parent that is not yet known is added with `parent_label`.
    pub fn insert(&mut self, code: &str, label: &str, parent: Option<(&str, &str)>) -> u32 {
        let parent_id = parent
            .filter(|(c, _)| !c.trim().is_empty() && norm(c) != norm(code))
            .map(|(c, l)| match self.id(c) {
                Some(id) => {
                    if self.labels[id as usize].is_empty() && !l.trim().is_empty() {
                        self.labels[id as usize] = l.trim().to_string();
                    }
                    id
                }
                None => self.push(c, l, None),
            });
        match self.id(code) {
            Some(id) => {
                if !label.trim().is_empty() {
                    self.labels[id as usize] = label.trim().to_string();
                }
                if parent_id.is_some() && self.parent[id as usize].is_none() {
                    self.parent[id as usize] = parent_id;
                }
                id
            }
            None => self.push(code, label, parent_id),
        }
    }

    fn push(&mut self, code: &str, label: &str, parent: Option<u32>) -> u32 {
        let id = self.codes.len() as u32;
        self.codes.push(code.trim().to_string());
        self.labels.push(label.trim().to_string());
        self.parent.push(parent);
        self.index.insert(norm(code), id);
        if let Some(seg) = last_segment(code) {
            self.index.entry(norm(seg)).or_insert(id);
        }
        id
    }

    /// The concept of a code (case-insensitive; a URI or its last segment).
    pub fn id(&self, code: &str) -> Option<u32> {
        self.index
            .get(&norm(code))
            .or_else(|| last_segment(code).and_then(|s| self.index.get(&norm(s))))
            .copied()
    }

    pub fn code(&self, id: u32) -> &str {
        self.codes.get(id as usize).map_or("", String::as_str)
    }

    /// The label, or the code when the concept has none.
    pub fn label(&self, id: u32) -> &str {
        match self.labels.get(id as usize) {
            Some(l) if !l.is_empty() => l,
            _ => self.code(id),
        }
    }

    pub fn parent(&self, id: u32) -> Option<u32> {
        self.parent.get(id as usize).copied().flatten()
    }

    /// Resolves `|`-separated codes: the concepts found, and the codes that are not in the
    /// taxonomy (reported, never silently dropped).
    pub fn resolve_list(&self, list: &str) -> (Vec<u32>, Vec<String>) {
        let mut found = Vec::new();
        let mut unknown = Vec::new();
        for c in list.split('|').map(str::trim).filter(|c| !c.is_empty()) {
            match self.id(c) {
                Some(id) => found.push(id),
                None => unknown.push(c.to_string()),
            }
        }
        found.sort_unstable();
        found.dedup();
        (found, unknown)
    }

    /// Loads the ESCO CSV export from a directory: skills, skill groups and the broader
    /// relations of the skills pillar; occupations and their essential skills when present.
    pub fn load_esco(dir: &Path) -> Result<(Taxonomy, Vec<Occupation>), String> {
        let find = |prefix: &str| -> Option<PathBuf> {
            let mut hits: Vec<PathBuf> = std::fs::read_dir(dir)
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        n.to_lowercase().starts_with(&prefix.to_lowercase())
                            && n.to_lowercase().ends_with(".csv")
                    })
                })
                .collect();
            hits.sort();
            hits.into_iter().next()
        };
        let skills = find("skills_").ok_or_else(|| {
            format!(
                "{}: no skills_<taal>.csv: this is not an ESCO CSV export (download the classification as CSV from esco.ec.europa.eu)",
                dir.display()
            )
        })?;
        let mut tax = Taxonomy::new(format!("ESCO ({})", dir.display()));
        if let Some(groups) = find("skillGroups_") {
            for_each_row(&groups, &["conceptUri", "preferredLabel"], |r| {
                tax.insert(&r[0], &r[1], None);
            })?;
        }
        for_each_row(&skills, &["conceptUri", "preferredLabel"], |r| {
            tax.insert(&r[0], &r[1], None);
        })?;
        if let Some(broader) = find("broaderRelationsSkillPillar") {
            for_each_row(&broader, &["conceptUri", "broaderUri"], |r| {
                let parent = tax.id(&r[1]).map(|p| tax.label(p).to_string());
                tax.insert(&r[0], "", Some((&r[1], parent.as_deref().unwrap_or(""))));
            })?;
        }
        let mut occupations: Vec<Occupation> = Vec::new();
        if let (Some(occ), Some(rel)) = (find("occupations_"), find("occupationSkillRelations")) {
            let mut by_uri: HashMap<String, usize> = HashMap::new();
            for_each_row(&occ, &["conceptUri", "preferredLabel"], |r| {
                by_uri.insert(norm(&r[0]), occupations.len());
                occupations.push(Occupation {
                    code: r[0].clone(),
                    title: r[1].clone(),
                    required: Vec::new(),
                });
            })?;
            for_each_row(&rel, &["occupationUri", "relationType", "skillUri"], |r| {
                if !r[1].eq_ignore_ascii_case("essential") {
                    return;
                }
                if let (Some(&o), Some(s)) = (by_uri.get(&norm(&r[0])), tax.id(&r[2])) {
                    occupations[o].required.push(s);
                }
            })?;
            for o in &mut occupations {
                o.required.sort_unstable();
                o.required.dedup();
            }
        }
        Ok((tax, occupations))
    }
}

const SKOS_PREF_LABEL: &str = "http://www.w3.org/2004/02/skos/core#prefLabel";
const SKOS_BROADER: &str = "http://www.w3.org/2004/02/skos/core#broader";

/// One RDF term of an N-Triples line: an IRI, a blank node or a literal (value, language).
#[derive(Debug, PartialEq)]
enum Term {
    Iri(String),
    Blank(String),
    Literal(String, Option<String>),
}

/// Parses one N-Triples line (W3C RDF 1.1 N-Triples): subject, predicate, object. `None` for
/// blank and comment lines; `Err` says what is wrong.
fn parse_ntriple(line: &str) -> Result<Option<(Term, Term, Term)>, String> {
    let mut rest = line.trim();
    if rest.is_empty() || rest.starts_with('#') {
        return Ok(None);
    }
    let mut terms = Vec::with_capacity(3);
    for _ in 0..3 {
        rest = rest.trim_start();
        let (term, after) = if let Some(r) = rest.strip_prefix('<') {
            let end = r.find('>').ok_or("an IRI without '>'")?;
            (Term::Iri(r[..end].to_string()), &r[end + 1..])
        } else if let Some(r) = rest.strip_prefix("_:") {
            let end = r.find(|c: char| c.is_whitespace()).unwrap_or(r.len());
            (Term::Blank(r[..end].to_string()), &r[end..])
        } else if let Some(r) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = r.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    '\\' => match chars.next().map(|x| x.1) {
                        Some('n') => value.push('\n'),
                        Some('t') => value.push('\t'),
                        Some('r') => value.push('\r'),
                        Some('"') => value.push('"'),
                        Some('\\') => value.push('\\'),
                        Some(u @ ('u' | 'U')) => {
                            let n = if u == 'u' { 4 } else { 8 };
                            let hex: String =
                                (0..n).filter_map(|_| chars.next().map(|x| x.1)).collect();
                            let ch = u32::from_str_radix(&hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or("a bad \\u escape")?;
                            value.push(ch);
                        }
                        _ => return Err("a bad escape in a literal".into()),
                    },
                    c => value.push(c),
                }
            }
            let end = end.ok_or("a literal without its closing quote")?;
            let mut after = &r[end + 1..];
            let mut lang = None;
            if let Some(a) = after.strip_prefix('@') {
                let e = a.find(|c: char| c.is_whitespace()).unwrap_or(a.len());
                lang = Some(a[..e].to_lowercase());
                after = &a[e..];
            } else if let Some(a) = after.strip_prefix("^^<") {
                let e = a.find('>').ok_or("a datatype IRI without '>'")?;
                after = &a[e + 1..];
            }
            (Term::Literal(value, lang), after)
        } else {
            return Err(format!(
                "expected an IRI, a blank node or a literal at '{}'",
                rest.chars().take(20).collect::<String>()
            ));
        };
        terms.push(term);
        rest = after;
    }
    if rest.trim() != "." {
        return Err("a triple must end with ' .'".into());
    }
    let o = terms.pop().ok_or("no object")?;
    let p = terms.pop().ok_or("no predicate")?;
    let s = terms.pop().ok_or("no subject")?;
    Ok(Some((s, p, o)))
}

impl Taxonomy {
    /// Loads a SKOS concept scheme in N-Triples: concepts with a `skos:prefLabel` (the Dutch
    /// one when there is one) and their first `skos:broader`.
    pub fn load_skos_ntriples(path: &Path) -> Result<Taxonomy, String> {
        use std::io::BufRead;
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut labels: HashMap<String, (String, bool)> = HashMap::new();
        let mut broader: Vec<(String, String)> = Vec::new();
        let mut order: Vec<String> = Vec::new();
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| format!("{}, line {}: {e}", path.display(), i + 1))?;
            let Some((s, p, o)) = parse_ntriple(&line).map_err(|e| {
                format!(
                    "{}, line {}: {e} (N-Triples: <subject> <predicate> <object> .)",
                    path.display(),
                    i + 1
                )
            })?
            else {
                continue;
            };
            let (Term::Iri(s), Term::Iri(p)) = (s, p) else {
                continue;
            };
            match (p.as_str(), o) {
                (SKOS_PREF_LABEL, Term::Literal(v, lang)) => {
                    let dutch = lang
                        .as_deref()
                        .is_some_and(|l| l == "nl" || l.starts_with("nl-"));
                    match labels.get(&s) {
                        Some((_, true)) => {}
                        Some((_, false)) if !dutch => {}
                        _ => {
                            if !labels.contains_key(&s) {
                                order.push(s.clone());
                            }
                            labels.insert(s, (v, dutch));
                        }
                    }
                }
                (SKOS_BROADER, Term::Iri(b)) => broader.push((s, b)),
                _ => {}
            }
        }
        if labels.is_empty() {
            return Err(format!(
                "{}: no skos:prefLabel: this is not a SKOS concept scheme in N-Triples",
                path.display()
            ));
        }
        let mut tax = Taxonomy::new(format!("SKOS ({})", path.display()));
        for c in &order {
            tax.insert(c, &labels[c].0, None);
        }
        for (c, b) in broader {
            let label = labels.get(&b).map(|l| l.0.clone()).unwrap_or_default();
            tax.insert(&c, "", Some((&b, &label)));
        }
        Ok(tax)
    }

    /// A taxonomy from a path: a directory with the ESCO CSV export, or a `.nt` file with SKOS.
    pub fn load_path(path: &Path) -> Result<(Taxonomy, Vec<Occupation>), String> {
        if path.is_dir() {
            Taxonomy::load_esco(path)
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("nt"))
        {
            Ok((Taxonomy::load_skos_ntriples(path)?, Vec::new()))
        } else {
            Err(format!(
                "{}: give a directory with the ESCO CSV export, or a SKOS file in N-Triples (.nt)",
                path.display()
            ))
        }
    }
}

/// Calls `f` with the named columns of every row of a CSV file (UTF-8, comma, RFC 4180 quoting,
/// through the ingest reader).
fn for_each_row(path: &Path, columns: &[&str], mut f: impl FnMut(&[String])) -> Result<(), String> {
    let mut reader = CsvReader::open(path, CsvOptions::default()).map_err(|e| e.to_string())?;
    let header = reader.header().to_vec();
    let idx: Vec<usize> = columns
        .iter()
        .map(|c| {
            header
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(c))
                .ok_or_else(|| {
                    format!(
                        "{}: column '{c}' is not in the header ({}); is this the ESCO CSV export?",
                        path.display(),
                        header.join(", ")
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    let mut row = vec![String::new(); idx.len()];
    while let Some(rec) = reader.next_record() {
        let rec = rec.map_err(|e| e.to_string())?;
        for (k, &i) in idx.iter().enumerate() {
            row[k] = rec.fields.get(i).cloned().unwrap_or_default();
        }
        if row[0].trim().is_empty() {
            continue;
        }
        f(&row);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_list_hierarchy_and_lookup() {
        let mut t = Taxonomy::new("test");
        let a = t.insert("C01.01", "Klantgericht", Some(("C01", "Communicatie")));
        let b = t.insert("c01.02", "Telefoneren", Some(("C01", "")));
        assert_eq!(t.parent(a), t.parent(b));
        assert_eq!(t.label(t.parent(a).unwrap()), "Communicatie");
        assert_eq!(t.id("C01.02"), Some(b));
        let (found, unknown) = t.resolve_list("C01.01| C99.99 |c01.02|");
        assert_eq!(found, vec![a, b]);
        assert_eq!(unknown, vec!["C99.99".to_string()]);
    }

    #[test]
    fn esco_csv_export() {
        let dir = tempfile::tempdir().unwrap();
        let w = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        w(
            "skillGroups_nl.csv",
            "conceptType,conceptUri,preferredLabel\nSkillGroup,http://data.europa.eu/esco/skill/G1,\"communiceren, samenwerken\"\n",
        );
        w(
            "skills_nl.csv",
            "conceptType,conceptUri,skillType,preferredLabel\nKnowledgeSkillCompetence,http://data.europa.eu/esco/skill/abc,skill/competence,klanten te woord staan\nKnowledgeSkillCompetence,http://data.europa.eu/esco/skill/def,skill/competence,\"heftruck \"\"besturen\"\"\"\n",
        );
        w(
            "broaderRelationsSkillPillar_nl.csv",
            "conceptType,conceptUri,broaderType,broaderUri\nKnowledgeSkillCompetence,http://data.europa.eu/esco/skill/abc,SkillGroup,http://data.europa.eu/esco/skill/G1\n",
        );
        w(
            "occupations_nl.csv",
            "conceptType,conceptUri,iscoGroup,preferredLabel\nOccupation,http://data.europa.eu/esco/occupation/o1,8344,heftruckchauffeur\n",
        );
        w(
            "occupationSkillRelations_nl.csv",
            "occupationUri,relationType,skillType,skillUri\nhttp://data.europa.eu/esco/occupation/o1,essential,skill/competence,http://data.europa.eu/esco/skill/def\nhttp://data.europa.eu/esco/occupation/o1,optional,skill/competence,http://data.europa.eu/esco/skill/abc\n",
        );
        let (t, occ) = Taxonomy::load_esco(dir.path()).unwrap();
        let abc = t.id("abc").unwrap();
        assert_eq!(t.label(abc), "klanten te woord staan");
        assert_eq!(t.label(t.parent(abc).unwrap()), "communiceren, samenwerken");
        let def = t.id("http://data.europa.eu/esco/skill/def").unwrap();
        assert_eq!(t.label(def), "heftruck \"besturen\"");
        assert_eq!(occ.len(), 1);
        assert_eq!(occ[0].required, vec![def]);
    }

    #[test]
    fn skos_in_ntriples() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("competentnl.nt");
        std::fs::write(
            &p,
            concat!(
                "# CompetentNL-like sample\n",
                "<https://example.org/c/1> <http://www.w3.org/2004/02/skos/core#prefLabel> \"Communicate\"@en .\n",
                "<https://example.org/c/1> <http://www.w3.org/2004/02/skos/core#prefLabel> \"Communiceren \\\"helder\\\"\"@nl .\n",
                "<https://example.org/c/1> <http://www.w3.org/2004/02/skos/core#broader> <https://example.org/g/A> .\n",
                "<https://example.org/g/A> <http://www.w3.org/2004/02/skos/core#prefLabel> \"Sociale vaardigheden\"@nl .\n",
                "<https://example.org/c/2> <http://www.w3.org/2004/02/skos/core#prefLabel> \"Heftruck rijden\" .\n",
                "<https://example.org/c/2> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/2004/02/skos/core#Concept> .\n",
            ),
        )
        .unwrap();
        let (t, occ) = Taxonomy::load_path(&p).unwrap();
        assert!(occ.is_empty());
        let c1 = t.id("https://example.org/c/1").unwrap();
        assert_eq!(t.label(c1), "Communiceren \"helder\"");
        assert_eq!(t.label(t.parent(c1).unwrap()), "Sociale vaardigheden");
        assert_eq!(t.id("2").map(|i| t.label(i)), Some("Heftruck rijden"));
        std::fs::write(&p, "<a> <b> \"unclosed .\n").unwrap();
        let e = Taxonomy::load_path(&p).unwrap_err();
        assert!(e.contains("line 1") && e.contains("closing quote"), "{e}");
    }

    #[test]
    fn not_an_esco_directory() {
        let dir = tempfile::tempdir().unwrap();
        let e = Taxonomy::load_esco(dir.path()).unwrap_err();
        assert!(e.contains("skills_"), "{e}");
    }
}
