//! Client–vacancy matching on the ADS (issue 8, docs/advice.md): reads the skills taxonomy,
//! what each occupation requires and each provision type teaches (code lists), the clients'
//! recorded competences, work experience, completed provisions, education, hours and travel
//! distance, and the vacancies, into `inzicht-advice`'s profiles.
//!
//! Which columns hold education, hours and so on differs per municipality; the defaults are the
//! feature names of `examples/synthetic/bron.toml` and an installation overrides them in
//! `matching.toml` beside the key file (docs/advice.md). A column that is not there is reported
//! as missing and the matching goes on without it.
//!
//! Pseudonyms stay inside [`MatchData`]: callers get positions, and the consultant's page turns
//! a BSN into a position through [`MatchData::client_of`].

use crate::table::Session;
use crate::{ident, StoreError};
use inzicht_advice::matching::{education_level, title_words, Provision};
use inzicht_advice::{ClientProfile, Evidence, MatchOptions, Matcher, Taxonomy, Vacancy};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The columns the matching reads (feature names in the ADS).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchColumns {
    /// Persons: education level (text on the Dutch ladder, `inzicht_advice::matching::EDUCATION_LEVELS`).
    pub education: String,
    /// Assessments: hours a week the client can work (latest recorded).
    pub hours: String,
    /// Profiles: maximum travel distance in km.
    pub max_km: String,
    /// Profiles: occupation titles (the title baseline and the explanation).
    pub titles: Vec<String>,
    /// Competences: the column with the competence code.
    pub competence: String,
    /// Experience: the occupation code (looked up in the occupations code list) and its title.
    pub experience_code: String,
    pub experience_title: String,
    /// Provisions whose end reason is one of these count as completed (they taught what the
    /// provision type teaches).
    pub completed_reasons: Vec<String>,
    /// Vacancies: title, competence codes (`|`-separated), minimum education, hours a week.
    pub vacancy_title: String,
    pub vacancy_competences: String,
    pub vacancy_education: String,
    pub vacancy_hours: String,
    /// The matching rule and assumptions.
    pub options: Option<MatchOptionsToml>,
}

/// The parts of [`MatchOptions`] an installation may change.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MatchOptionsToml {
    pub min_coverage: Option<f32>,
    pub hours_margin: Option<f32>,
    pub education_margin: Option<u8>,
    pub default_max_km: Option<f32>,
    pub weight_recorded: Option<f32>,
    pub weight_provision: Option<f32>,
    pub weight_experience: Option<f32>,
    pub weight_related: Option<f32>,
}

impl Default for MatchColumns {
    fn default() -> Self {
        MatchColumns {
            education: "opleidingsniveau".into(),
            hours: "uren_beschikbaar".into(),
            max_km: "max_reisafstand_km".into(),
            titles: vec!["laatste_beroep".into(), "gewenst_beroep".into()],
            competence: "competentie_code".into(),
            experience_code: "beroep_isco".into(),
            experience_title: "beroep".into(),
            completed_reasons: vec!["AFG".into()],
            vacancy_title: "titel".into(),
            vacancy_competences: "competenties".into(),
            vacancy_education: "opleidingsniveau_min".into(),
            vacancy_hours: "uren_per_week".into(),
            options: None,
        }
    }
}

impl MatchColumns {
    /// `matching.toml` in `dir` (beside the key file), or the defaults when there is none.
    pub fn from_dir(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join("matching.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                StoreError::Input(format!("{}: {}", path.display(), e.to_string().trim()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(StoreError::Input(format!("{}: {e}", path.display()))),
        }
    }

    pub fn match_options(&self) -> MatchOptions {
        let mut o = MatchOptions::default();
        if let Some(t) = &self.options {
            let set = |v: &mut f32, x: Option<f32>| {
                if let Some(x) = x.filter(|x| x.is_finite() && *x >= 0.0) {
                    *v = x;
                }
            };
            set(&mut o.min_coverage, t.min_coverage);
            set(&mut o.hours_margin, t.hours_margin);
            set(&mut o.default_max_km, t.default_max_km);
            set(&mut o.weights.recorded, t.weight_recorded);
            set(&mut o.weights.provision, t.weight_provision);
            set(&mut o.weights.experience, t.weight_experience);
            set(&mut o.weights.related, t.weight_related);
            if let Some(e) = t.education_margin {
                o.education_margin = e;
            }
        }
        o.min_coverage = o.min_coverage.clamp(0.01, 1.0);
        for w in [
            &mut o.weights.recorded,
            &mut o.weights.provision,
            &mut o.weights.experience,
            &mut o.weights.related,
        ] {
            *w = w.clamp(0.0, 1.0);
        }
        o
    }
}

/// What the load could and could not use (counts only; no person appears here).
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    pub taxonomy: String,
    pub competences_in_taxonomy: usize,
    pub clients: usize,
    pub clients_current: usize,
    pub clients_without_competences: usize,
    pub vacancies: usize,
    pub vacancies_without_competences: usize,
    /// Codes the taxonomy does not know, with how often they occur (clients' records,
    /// vacancies, code lists).
    pub unknown_codes: BTreeMap<String, u64>,
    /// Columns or tables the matching would use but the snapshot does not have.
    pub missing: Vec<String>,
}

pub struct MatchData {
    pub taxonomy: Taxonomy,
    pub catalogue: Vec<Provision>,
    pub clients: Vec<ClientProfile>,
    /// On benefit in the last month of the data.
    pub current: Vec<bool>,
    pseudonyms: HashMap<String, u32>,
    /// Position → pseudonym (never handed out; [`client_keys`] turns positions into the ODS
    /// person keys for the data team).
    pseudonym_list: Vec<String>,
    pub vacancies: Vec<Vacancy>,
    pub prior: Vec<f32>,
    pub options: MatchOptions,
    pub report: LoadReport,
    pub snapshot: String,
}

impl MatchData {
    /// The client's position, from the pseudonym the server derived from a BSN.
    pub fn client_of(&self, pseudonym: &str) -> Option<usize> {
        self.pseudonyms.get(pseudonym).map(|&i| i as usize)
    }

    pub fn matcher(&self) -> Matcher<'_> {
        Matcher::new(&self.taxonomy, self.prior.clone(), self.options.clone())
    }

    /// Positions of the clients on benefit at the end of the data.
    pub fn current_clients(&self) -> Vec<usize> {
        (0..self.clients.len())
            .filter(|&i| self.current[i])
            .collect()
    }

    /// The pseudonym at a position: for the web server's short-lived handles only (a page
    /// never shows it).
    pub fn pseudonym_at(&self, i: usize) -> Option<&str> {
        self.pseudonym_list.get(i).map(String::as_str)
    }

    pub fn vacancy_of(&self, id: &str) -> Option<usize> {
        self.vacancies
            .iter()
            .position(|v| v.id.eq_ignore_ascii_case(id.trim()))
    }
}

fn table_of(session: &Session, kind: &str) -> Option<String> {
    session
        .tables
        .iter()
        .find(|(_, k)| k == kind)
        .map(|(n, _)| n.clone())
}

/// Strips the CBS prefixes ("BU", "WK", "GM") so that codes from the PC6 file and from the
/// buurten file meet.
fn area_code(code: &str) -> String {
    let c = code.trim();
    c.strip_prefix("BU")
        .or_else(|| c.strip_prefix("bu"))
        .unwrap_or(c)
        .to_string()
}

/// Loads everything the matching needs from the snapshot. `esco`: a taxonomy to use instead of
/// the code list — a directory with the ESCO CSV export, or a SKOS file in N-Triples.
pub fn load(
    session: &Session,
    cols: &MatchColumns,
    esco: Option<&Path>,
) -> Result<MatchData, StoreError> {
    let conn = session.conn();
    let mut report = LoadReport::default();
    let columns: Vec<(String, String)> = conn
        .prepare(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = 'ads'",
        )?
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<_, _>>()?;
    let has = |t: &str, c: &str| columns.iter().any(|(tt, cc)| tt == t && cc == c);
    let has_table = |t: &str| columns.iter().any(|(tt, _)| tt == t);
    let missing = std::cell::RefCell::new(Vec::<String>::new());
    let col = |t: &Option<String>, c: &str, what: &str| -> Option<String> {
        match t {
            Some(t) if has(t, c) => Some(c.to_string()),
            Some(t) => {
                missing
                    .borrow_mut()
                    .push(format!("{what}: column '{c}' not in table {t}"));
                None
            }
            None => {
                missing.borrow_mut().push(format!("{what}: no table"));
                None
            }
        }
    };
    let strings = |sql: &str, n: usize| -> Result<Vec<Vec<Option<String>>>, StoreError> {
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect::<Result<Vec<_>, _>>()
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    };

    // Taxonomy and occupations.
    let mut occupations: HashMap<String, Vec<u32>> = HashMap::new();
    let mut unknown: BTreeMap<String, u64> = BTreeMap::new();
    let mut taxonomy = match esco {
        Some(dir) => {
            let (t, occ) = Taxonomy::load_path(dir).map_err(StoreError::Input)?;
            for o in occ {
                occupations.insert(o.code.to_lowercase(), o.required);
            }
            t
        }
        None => Taxonomy::new("code list 'competences'"),
    };
    if esco.is_none() {
        if has_table("codes_competences") {
            let g = has("codes_competences", "group_code");
            let gd = has("codes_competences", "group_description");
            let sql = format!(
                "SELECT local_code, description, {}, {} FROM ads.codes_competences ORDER BY local_code",
                if g { "group_code" } else { "NULL" },
                if gd { "group_description" } else { "NULL" }
            );
            for r in strings(&sql, 4)? {
                let code = r[0].clone().unwrap_or_default();
                let label = r[1].clone().unwrap_or_default();
                let parent = r[2].clone().filter(|p| !p.is_empty());
                let plabel = r[3].clone().unwrap_or_default();
                taxonomy.insert(
                    &code,
                    &label,
                    parent.as_deref().map(|p| (p, plabel.as_str())),
                );
            }
        } else {
            missing.borrow_mut().push(
                "taxonomy: no [[codelist]] competences (and no --taxonomy): competences are matched on their codes only"
                    .into(),
            );
        }
    }
    // Codes seen in the data but not in the taxonomy: with a code list, they still match
    // exactly (a vacancy and a client with the same code) but have no broader concept.
    let mut resolve = |taxonomy: &mut Taxonomy, list: &str| -> (Vec<u32>, Vec<String>) {
        let (mut found, unk) = taxonomy.resolve_list(list);
        for u in &unk {
            *unknown.entry(u.clone()).or_default() += 1;
            // Kept as a concept without a broader one: the same unknown code on a client and
            // a vacancy still matches exactly.
            found.push(taxonomy.insert(u, "", None));
        }
        found.sort_unstable();
        found.dedup();
        (found, unk)
    };
    // The occupations code list, unless the taxonomy brought its own (ESCO does, SKOS does not).
    if has_table("codes_occupations") && occupations.is_empty() {
        let c = has("codes_occupations", "competences");
        for r in strings(
            &format!(
                "SELECT local_code, {} FROM ads.codes_occupations",
                if c { "competences" } else { "NULL" }
            ),
            2,
        )? {
            let (found, _) = resolve(&mut taxonomy, r[1].as_deref().unwrap_or(""));
            occupations.insert(r[0].clone().unwrap_or_default().to_lowercase(), found);
        }
    }
    let mut catalogue: Vec<Provision> = Vec::new();
    if has_table("codes_provision_types") {
        let c = has("codes_provision_types", "competences");
        if !c {
            missing
                .borrow_mut()
                .push("provision types: no competences column (what each type teaches)".into());
        }
        for r in strings(
            &format!(
                "SELECT local_code, coalesce(description, local_code), coalesce(group_code, ''), {} FROM ads.codes_provision_types ORDER BY local_code",
                if c { "competences" } else { "NULL" }
            ),
            4,
        )? {
            let (teaches, _) = resolve(&mut taxonomy, r[3].as_deref().unwrap_or(""));
            catalogue.push(Provision {
                code: r[0].clone().unwrap_or_default(),
                name: r[1].clone().unwrap_or_default(),
                group: r[2].clone().unwrap_or_default(),
                teaches,
            });
        }
    }
    let type_index: HashMap<String, usize> = catalogue
        .iter()
        .enumerate()
        .map(|(i, p)| (p.code.to_uppercase(), i))
        .collect();

    // Geography.
    let mut coords: HashMap<String, (f64, f64)> = HashMap::new();
    if let Some(b) = table_of(session, "buurten").filter(|b| has(b, "x") && has(b, "y")) {
        let mut stmt = conn.prepare(&format!(
            "SELECT CAST(buurt AS VARCHAR), CAST(x AS DOUBLE), CAST(y AS DOUBLE) FROM ads.{} WHERE x IS NOT NULL AND y IS NOT NULL",
            ident(&b)
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, f64>(1)?,
                r.get::<_, f64>(2)?,
            ))
        })?;
        for r in rows {
            let (b, x, y) = r?;
            coords.insert(area_code(&b), (x, y));
        }
    } else {
        missing
            .borrow_mut()
            .push("buurten: no coordinates (x, y): distance is not used".into());
    }

    // Clients: everyone in the panel; current = on benefit in the last month.
    let persons = table_of(session, "persons");
    let edu_col = col(&persons, &cols.education, "persons (education)");
    let sql = format!(
        "SELECT pm.pseudonym, bool_or(pm.month = (SELECT max(month) FROM ads.person_month) AND NOT pm.exits_this_month) AS current,
                any_value(CAST({buurt} AS VARCHAR)), any_value({edu})
         FROM (SELECT DISTINCT pseudonym, month, exits_this_month FROM ads.person_month) pm
         {join}
         GROUP BY pm.pseudonym ORDER BY pm.pseudonym",
        buurt = if persons.is_some() { "pe.buurt_code" } else { "NULL" },
        edu = edu_col
            .as_deref()
            .map(|c| format!("CAST(pe.{} AS VARCHAR)", ident(c)))
            .unwrap_or("NULL".into()),
        join = persons
            .as_deref()
            .map(|p| format!("LEFT JOIN ads.{} pe ON pe.pseudonym = pm.pseudonym", ident(p)))
            .unwrap_or_default(),
    );
    let mut clients: Vec<ClientProfile> = Vec::new();
    let mut current: Vec<bool> = Vec::new();
    let mut pseudonyms: HashMap<String, u32> = HashMap::new();
    let mut pseudonym_list: Vec<String> = Vec::new();
    {
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<bool>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        for r in rows {
            let (ps, cur, buurt, edu) = r?;
            let key = clients.len() as u32;
            pseudonym_list.push(ps.clone());
            pseudonyms.insert(ps, key);
            current.push(cur.unwrap_or(false));
            clients.push(ClientProfile {
                key,
                education: edu.as_deref().and_then(education_level),
                location: buurt
                    .as_deref()
                    .and_then(|b| coords.get(&area_code(b)).copied()),
                ..Default::default()
            });
        }
    }
    // Rows of a person-level table, by pseudonym.
    let per_person = |table: &str,
                      exprs: &[String],
                      f: &mut dyn FnMut(u32, &[Option<String>])|
     -> Result<(), StoreError> {
        let sql = format!(
            "SELECT pseudonym, {} FROM ads.{}",
            exprs.join(", "),
            ident(table)
        );
        for r in strings(&sql, exprs.len() + 1)? {
            if let Some(&k) = r[0].as_deref().and_then(|p| pseudonyms.get(p)) {
                f(k, &r[1..]);
            }
        }
        Ok(())
    };
    let cast = |c: &str| format!("CAST({} AS VARCHAR)", ident(c));
    // Recorded competences.
    let comp_t = table_of(session, "competences");
    if let Some(c) = col(&comp_t, &cols.competence, "competences") {
        let t = comp_t.clone().unwrap_or_default();
        per_person(&t, &[cast(&c)], &mut |k, r| {
            let code = r[0].clone().unwrap_or_default();
            let (found, unk) = resolve(&mut taxonomy, &code);
            let p = &mut clients[k as usize];
            for f in found {
                p.add(f, Evidence::Recorded);
            }
            p.unknown_codes.extend(unk);
        })?;
    }
    // Work experience: the occupation's competences, and its title for the baseline.
    let exp_t = table_of(session, "experience");
    let exp_code = col(
        &exp_t,
        &cols.experience_code,
        "experience (occupation code)",
    );
    let exp_title = col(&exp_t, &cols.experience_title, "experience (title)");
    if let Some(t) = &exp_t {
        let exprs = [
            exp_code.as_deref().map(cast).unwrap_or("NULL".into()),
            exp_title.as_deref().map(cast).unwrap_or("NULL".into()),
        ];
        per_person(t, &exprs, &mut |k, r| {
            let p = &mut clients[k as usize];
            if let Some(req) = r[0]
                .as_deref()
                .and_then(|c| occupations.get(&c.trim().to_lowercase()))
            {
                for &c in req {
                    p.add(c, Evidence::Experience);
                }
            }
            if let Some(title) = &r[1] {
                p.title_words.extend(title_words(title));
            }
        })?;
    }
    // Completed provisions teach what their type teaches.
    if let Some(t) = table_of(session, "provisions") {
        let reasons: Vec<String> = cols
            .completed_reasons
            .iter()
            .map(|r| crate::literal(&r.to_uppercase()))
            .collect();
        if !reasons.is_empty() && has(&t, "end_reason") {
            let sql_t = format!(
                "(SELECT pseudonym, type_code FROM ads.{} WHERE end_date IS NOT NULL AND upper(end_reason) IN ({}))",
                ident(&t),
                reasons.join(", ")
            );
            let sql = format!("SELECT pseudonym, CAST(type_code AS VARCHAR) FROM {sql_t}");
            for r in strings(&sql, 2)? {
                let (Some(&k), Some(ty)) = (r[0].as_deref().and_then(|p| pseudonyms.get(p)), &r[1])
                else {
                    continue;
                };
                if let Some(&i) = type_index.get(&ty.to_uppercase()) {
                    let p = &mut clients[k as usize];
                    for &c in &catalogue[i].teaches {
                        p.add(c, Evidence::Provision);
                    }
                    p.taught_by.extend(
                        catalogue[i]
                            .teaches
                            .iter()
                            .map(|&c| (c, catalogue[i].code.clone())),
                    );
                }
            }
        }
    }
    // Profiles: travel distance and titles.
    let prof_t = table_of(session, "profiles");
    let km = col(&prof_t, &cols.max_km, "profiles (travel distance)");
    let titles: Vec<String> = cols
        .titles
        .iter()
        .filter_map(|c| col(&prof_t, c, "profiles (titles)"))
        .collect();
    if let Some(t) = &prof_t {
        let mut exprs = vec![km.as_deref().map(cast).unwrap_or("NULL".into())];
        exprs.extend(titles.iter().map(|c| cast(c)));
        per_person(t, &exprs, &mut |k, r| {
            let p = &mut clients[k as usize];
            if let Some(v) = r[0].as_deref().and_then(|v| v.trim().parse::<f32>().ok()) {
                p.max_km = Some(v);
            }
            for title in r[1..].iter().flatten() {
                p.title_words.extend(title_words(title));
            }
        })?;
    }
    // Hours: the latest assessment that records them.
    let ass_t = table_of(session, "assessments");
    if let Some(h) = col(&ass_t, &cols.hours, "assessments (hours)") {
        let t = ass_t.clone().unwrap_or_default();
        let sql = format!(
            "SELECT pseudonym, CAST(arg_max({h}, event_date) AS VARCHAR) FROM ads.{} WHERE {h} IS NOT NULL GROUP BY pseudonym",
            ident(&t),
            h = ident(&h)
        );
        for r in strings(&sql, 2)? {
            if let (Some(&k), Some(v)) = (
                r[0].as_deref().and_then(|p| pseudonyms.get(p)),
                r[1].as_deref().and_then(|v| v.trim().parse::<f32>().ok()),
            ) {
                clients[k as usize].hours = Some(v);
            }
        }
    }
    for p in &mut clients {
        p.title_words.sort();
        p.title_words.dedup();
        p.unknown_codes.sort();
        p.unknown_codes.dedup();
    }

    // Vacancies.
    let vac_t = table_of(session, "vacancies");
    let v_title = col(&vac_t, &cols.vacancy_title, "vacancies (title)");
    let v_comp = col(&vac_t, &cols.vacancy_competences, "vacancies (competences)");
    let v_edu = col(&vac_t, &cols.vacancy_education, "vacancies (education)");
    let v_hours = col(&vac_t, &cols.vacancy_hours, "vacancies (hours)");
    let mut vacancies = Vec::new();
    if let Some(t) = &vac_t {
        let e = |c: &Option<String>| c.as_deref().map(cast).unwrap_or("NULL".into());
        let sql = format!(
            "SELECT CAST(vacancy_key AS VARCHAR), {}, {}, {}, {}, {} FROM ads.{} ORDER BY vacancy_key",
            e(&v_title),
            e(&v_comp),
            e(&v_edu),
            e(&v_hours),
            if has(t, "buurt") { "CAST(buurt AS VARCHAR)".to_string() } else { "NULL".into() },
            ident(t)
        );
        for r in strings(&sql, 6)? {
            let (required, unk) = resolve(&mut taxonomy, r[2].as_deref().unwrap_or(""));
            let title = r[1].clone().unwrap_or_default();
            vacancies.push(Vacancy {
                id: r[0].clone().unwrap_or_default(),
                title_words: title_words(&title),
                title,
                required,
                unknown_codes: unk,
                min_education: r[3].as_deref().and_then(education_level),
                hours: r[4].as_deref().and_then(|v| v.trim().parse::<f32>().ok()),
                location: r[5]
                    .as_deref()
                    .and_then(|b| coords.get(&area_code(b)).copied()),
            });
        }
    }

    // Priors: the share of clients with any recorded competence who have this one recorded.
    let recorded: Vec<&ClientProfile> = clients
        .iter()
        .filter(|c| c.evidence.iter().any(|e| e.1 == Evidence::Recorded))
        .collect();
    let mut prior = vec![0f32; taxonomy.len()];
    for c in &recorded {
        for &(k, e) in &c.evidence {
            if e == Evidence::Recorded {
                if let Some(p) = prior.get_mut(k as usize) {
                    *p += 1.0;
                }
            }
        }
    }
    let n = recorded.len().max(1) as f32;
    prior.iter_mut().for_each(|p| *p /= n);

    report.taxonomy = taxonomy.source.clone();
    report.competences_in_taxonomy = taxonomy.len();
    report.clients = clients.len();
    report.clients_current = current.iter().filter(|c| **c).count();
    report.clients_without_competences = clients.iter().filter(|c| c.evidence.is_empty()).count();
    report.vacancies = vacancies.len();
    report.vacancies_without_competences =
        vacancies.iter().filter(|v| v.required.is_empty()).count();
    report.unknown_codes = unknown;
    report.missing = missing.into_inner();
    if vacancies.is_empty() {
        report
            .missing
            .push("vacancies: none in this snapshot (a source of kind = \"vacancies\")".into());
    }
    let options = cols.match_options();
    Ok(MatchData {
        taxonomy,
        catalogue,
        clients,
        current,
        pseudonyms,
        pseudonym_list,
        vacancies,
        prior,
        options,
        report,
        snapshot: session.snapshot.clone(),
    })
}

/// The person keys (BSN or client number, from the identifiable ODS) of clients by position:
/// for the data team's command line (`inzicht jobs --vacancy`). `None` where the ODS has no key
/// for the pseudonym.
pub fn client_keys(
    store_dir: &Path,
    as_of: Option<&str>,
    data: &MatchData,
    positions: &[usize],
) -> Result<Vec<Option<String>>, StoreError> {
    let pseudonyms: Vec<&str> = positions
        .iter()
        .map(|&i| data.pseudonym_list.get(i).map_or("", String::as_str))
        .collect();
    person_keys(store_dir, as_of, &pseudonyms)
}

/// The ODS person keys of pseudonyms (identifiable: the caller decides who may see them and
/// records that they did — the web tool's consultant, in the audit log).
pub fn person_keys(
    store_dir: &Path,
    as_of: Option<&str>,
    pseudonyms: &[&str],
) -> Result<Vec<Option<String>>, StoreError> {
    let dir = crate::Store::new(store_dir).resolve(as_of)?;
    let conn = duckdb::Connection::open_in_memory()?;
    conn.execute_batch(&format!(
        "ATTACH {} AS ods (READ_ONLY)",
        crate::literal(&dir.join("ods.duckdb").to_string_lossy())
    ))
    .map_err(|e| {
        StoreError::Input(format!(
            "the identifiable store (ods.duckdb) cannot be opened: {e}. Client keys are for the data team and the consultant"
        ))
    })?;
    let mut stmt = conn.prepare("SELECT person_key FROM ods.pseudonyms WHERE pseudonym = ?")?;
    pseudonyms
        .iter()
        .map(|ps| {
            let mut rows = stmt.query([ps])?;
            Ok(match rows.next()? {
                Some(r) => r.get::<_, Option<String>>(0)?,
                None => None,
            })
        })
        .collect()
}

/// One client of an evaluation truth: the pseudonym and the good vacancies with their grade.
pub struct TruthClient {
    pub pseudonym: String,
    pub good: Vec<(String, u8)>,
}

/// The ranking quality of the matching and of the baselines on a truth.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub k: usize,
    pub matching: inzicht_advice::eval::Quality,
    /// Occupation titles only (no constraints).
    pub baseline: inzicht_advice::eval::Quality,
    /// Occupation titles among the vacancies that meet the same constraints (hours, education,
    /// distance): shows what the competences add beyond the constraints.
    pub baseline_with_constraints: inzicht_advice::eval::Quality,
    pub truth_clients: usize,
    /// Clients of the truth the snapshot does not have (quarantined, or no spell).
    pub truth_clients_not_in_store: usize,
    pub seconds_ranking: f64,
}

pub fn evaluate(data: &MatchData, truth: &[TruthClient], k: usize) -> Evaluation {
    use inzicht_advice::eval::Accumulator;
    let found: Vec<(usize, &TruthClient)> = truth
        .iter()
        .filter_map(|t| data.client_of(&t.pseudonym).map(|i| (i, t)))
        .collect();
    let profiles: Vec<ClientProfile> = found
        .iter()
        .map(|(i, _)| data.clients[*i].clone())
        .collect();
    let matcher = data.matcher();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let t0 = std::time::Instant::now();
    let ranked = matcher.rank_all(&profiles, &data.vacancies, k, threads);
    let seconds_ranking = t0.elapsed().as_secs_f64();
    let (mut m, mut b, mut bc) = (
        Accumulator::default(),
        Accumulator::default(),
        Accumulator::default(),
    );
    for ((_, t), (p, r)) in found.iter().zip(profiles.iter().zip(&ranked)) {
        let grades: HashMap<&str, u8> = t.good.iter().map(|(v, g)| (v.as_str(), *g)).collect();
        let ids = |scores: &[inzicht_advice::Score]| -> Vec<&str> {
            scores
                .iter()
                .map(|s| data.vacancies[s.index as usize].id.as_str())
                .collect()
        };
        m.add(&ids(r), &grades, k);
        let base = inzicht_advice::matching::rank_by_title(p, data.vacancies.iter().enumerate(), k);
        b.add(&ids(&base), &grades, k);
        let allowed = data
            .vacancies
            .iter()
            .enumerate()
            .filter(|(_, v)| matcher.check(p, v).is_ok());
        let basec = inzicht_advice::matching::rank_by_title(p, allowed, k);
        bc.add(&ids(&basec), &grades, k);
    }
    Evaluation {
        k,
        matching: m.finish(),
        baseline: b.finish(),
        baseline_with_constraints: bc.finish(),
        truth_clients: truth.len(),
        truth_clients_not_in_store: truth.len() - found.len(),
        seconds_ranking,
    }
}

/// The ranked vacancies of one client with their explanations, what is known of the client's
/// competences and what was missing (result fields; no identifier in them).
pub fn client_vacancies(
    data: &MatchData,
    i: usize,
    top: usize,
) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::{json, Value};
    let m = data.matcher();
    let p = &data.clients[i];
    let ranked = m.rank_vacancies(p, &data.vacancies, top);
    let rows: Vec<Value> = ranked
        .iter()
        .map(|s| {
            let v = &data.vacancies[s.index as usize];
            json!({"vacancy": v.id, "title": v.title, "hours": v.hours, "p_match": s.p_match, "coverage": s.coverage, "distance_km": s.distance_km, "explanation": m.explain(p, v, &data.catalogue)})
        })
        .collect();
    let known: Vec<Value> = p
        .evidence
        .iter()
        .map(|&(c, e)| json!({"code": data.taxonomy.code(c), "label": data.taxonomy.label(c), "evidence": e, "evidence_text": e.dutch()}))
        .collect();
    let mut result = serde_json::Map::new();
    result.insert("vacancies".into(), Value::Array(rows));
    result.insert("competences".into(), Value::Array(known));
    result.insert("missing".into(), json!(p.missing()));
    result.insert("unknown_codes".into(), json!(p.unknown_codes));
    result.insert(
        "education".into(),
        json!(p
            .education
            .and_then(|e| inzicht_advice::matching::EDUCATION_LEVELS.get(e as usize))),
    );
    result.insert("hours".into(), json!(p.hours));
    result.insert("max_km".into(), json!(p.max_km));
    result.insert("n_vacancies".into(), json!(data.vacancies.len()));
    result
}
