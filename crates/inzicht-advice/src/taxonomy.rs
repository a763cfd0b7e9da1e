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
//! CompetentNL publishes RDF/SKOS only; it is not read yet (docs/advice.md says how to convert
//! it to the code-list form).

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
    fn not_an_esco_directory() {
        let dir = tempfile::tempdir().unwrap();
        let e = Taxonomy::load_esco(dir.path()).unwrap_err();
        assert!(e.contains("skills_"), "{e}");
    }
}
