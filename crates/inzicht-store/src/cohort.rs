//! The target builder (seed 004's tool): a cohort of benefit spells at a reference point, their
//! features as known at that point, and a label "outflow for the chosen reasons within X
//! months". Shared by `inzicht patterns` and the web tool.
//!
//! - **Reference point**: the spell's first month (`start`), a calendar month (spells running
//!   then), or a minimum duration (spells still running after D months: seed 004's "uitstroom
//!   na minimaal 1 jaar").
//! - **Label**: the spell ends for one of the chosen reasons (default work, school, income) in
//!   the X months from the reference month on (months ref … ref + X − 1). A competing exit
//!   (moving away, death, other benefit …) counts as "no outflow for the chosen reasons". A
//!   spell is labelled only with enough follow-up: it ended within the window, or the window
//!   lies inside the data. Cohorts cut off by the end of the data are left out and counted.
//! - **Features**, all as known in the reference month — never information from after it (the
//!   leakage test in `tests/patterns.rs` deletes everything after the reference month and
//!   checks that no feature changes): age; the assessment in force that month; person
//!   characteristics; the spell's characteristics at its start; earlier spells and how many
//!   ended in work, school or income; provision groups started before the reference month;
//!   competences recorded by then; work experience before the benefit (occupations, years). Sex, migration background, country of birth, nationality
//!   and wijk are **audit attributes**, not default features (seed 002: proxies for
//!   discrimination); an analyst can add them explicitly.

use crate::table::Session;
use crate::{ident, literal, StoreError};
use duckdb::types::ValueRef;
use inzicht_stats::tree::{Feature, FeatureValues, MISSING};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Reference {
    /// The spell's first month (spells that start inside the data period).
    Start,
    /// Spells running in this month (months since year 0: year·12 + month − 1).
    Month(i32),
    /// Spells still running after this many months.
    MinDuration(i32),
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Filters {
    pub age_min: Option<i32>,
    pub age_max: Option<i32>,
    pub sex: Option<String>,
    pub wijk: Vec<String>,
    pub trede: Vec<i64>,
    pub loonwaarde_min: Option<f64>,
    pub loonwaarde_max: Option<f64>,
    /// Spells that received a provision of this group before the reference month.
    pub provision_group: Option<String>,
    /// Reference month from / to (inclusive).
    pub ref_from: Option<i32>,
    pub ref_to: Option<i32>,
    /// Only spells whose client falls in this cluster (1-based, as shown) of the clustering of
    /// the clients on benefit at the end of the data; applied by [`crate::prediction`].
    pub cluster: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CohortSpec {
    pub reasons: Vec<String>,
    pub horizon: i32,
    pub reference: Reference,
    pub filters: Filters,
    /// Features to use (names as listed by [`Cohort::available`]); empty: the defaults.
    pub features: Vec<String>,
    /// Keep spells without enough follow-up (labelled "no outflow"): for clusters and the
    /// leakage test, which use the features only. Never for a model.
    pub keep_unlabelled: bool,
}

impl Default for CohortSpec {
    fn default() -> Self {
        CohortSpec {
            reasons: vec!["work".into(), "school".into(), "income".into()],
            horizon: 12,
            reference: Reference::Start,
            filters: Filters::default(),
            features: Vec::new(),
            keep_unlabelled: false,
        }
    }
}

/// Attributes the bias audit uses, and that are not default features.
pub const AUDIT_ATTRIBUTES: &[&str] =
    &["geslacht", "leeftijdsklasse", "migratieachtergrond", "wijk"];
const NOT_DEFAULT: &[&str] = &[
    "geslacht",
    "geslacht_persoon",
    "migratieachtergrond",
    "geboorteland",
    "nationaliteit",
    "wijk",
    "verblijfsstatus",
];
const MAX_LEVELS: usize = 40;

#[derive(Debug, Clone, Serialize)]
pub struct CohortCounts {
    /// Spells at the reference point (before filters).
    pub at_reference: usize,
    pub excluded_by_filters: usize,
    /// Left out: the window reaches past the end of the data and the spell had not ended.
    pub excluded_no_follow_up: usize,
    pub labelled: usize,
    pub positives: usize,
}

pub struct Cohort {
    pub features: Vec<Feature>,
    /// Every feature that could be chosen (for the web tool's list), with its kind.
    pub available: Vec<(String, &'static str)>,
    /// Features that describe the benefit spell (as recorded at its start) rather than the
    /// client: left out of the client clusters.
    pub spell_features: Vec<String>,
    pub y: Vec<bool>,
    /// Per row: the person (index into `keys`) and its record key.
    pub person: Vec<u32>,
    pub keys: Vec<u64>,
    pub ref_month: Vec<i32>,
    /// Per row: the month the spell ended (None: still running at the end of the data) and its
    /// outflow class (work, school, income, moved_away, competing, unknown) — for time-to-event
    /// analyses ([`crate::survival`]), never a feature.
    pub exit_month: Vec<Option<i32>>,
    pub exit_class: Vec<Option<String>>,
    /// Audit attributes per row ("onbekend" where missing).
    pub audit: Vec<(String, Vec<String>)>,
    pub counts: CohortCounts,
    pub data_end: i32,
    pub spec: CohortSpec,
}

fn month_sql(col: &str) -> String {
    format!("(year({col}) * 12 + month({col}) - 1)")
}

/// "2024-03" from months since year 0.
pub fn month_text(m: i32) -> String {
    format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1)
}

fn age_band(age: f64) -> &'static str {
    match age as i64 {
        i64::MIN..=26 => "18-26",
        27..=34 => "27-34",
        35..=44 => "35-44",
        45..=54 => "45-54",
        _ => "55+",
    }
}

/// Builds the cohort. The session's connection gets temporary tables `coh_*`.
pub fn build(session: &Session, spec: &CohortSpec) -> Result<Cohort, StoreError> {
    if spec.horizon < 1 {
        return Err(StoreError::Input(
            "the horizon must be at least 1 month".into(),
        ));
    }
    const REASONS: &[&str] = &[
        "work",
        "school",
        "income",
        "moved_away",
        "competing",
        "unknown",
    ];
    if spec.reasons.is_empty() {
        return Err(StoreError::Input(
            "choose at least one outflow reason (work, school, income …)".into(),
        ));
    }
    for r in &spec.reasons {
        if !REASONS.contains(&r.as_str()) {
            return Err(StoreError::Input(format!(
                "unknown outflow reason '{r}'; the reasons are: {}",
                REASONS.join(", ")
            )));
        }
    }
    let conn = session.conn();
    let table = |kind: &str| -> Option<String> {
        session
            .tables
            .iter()
            .find(|(_, k)| k == kind)
            .map(|(n, _)| n.clone())
    };
    let spells = table("spells").ok_or_else(|| {
        StoreError::Input("the snapshot has no spells table: a cohort needs benefit spells".into())
    })?;
    let data_end: String = conn.query_row("SELECT data_end FROM ads.about", [], |r| r.get(0))?;
    let data_end = inzicht_domain::Month::parse(&data_end)
        .ok_or_else(|| StoreError::Internal(format!("ads.about.data_end '{data_end}'")))?
        .0;
    let columns: Vec<(String, String, String)> = conn
        .prepare("SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE database_name = 'ads'")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let cols_of = |t: &str| -> Vec<(String, String)> {
        columns
            .iter()
            .filter(|(tt, c, _)| tt == t && !crate::effects::NOT_FEATURES.contains(&c.as_str()))
            .map(|(_, c, ty)| (c.clone(), ty.clone()))
            .collect()
    };
    let refcond = match spec.reference {
        Reference::Start => "pm.duration_months = 0".to_string(),
        Reference::Month(m) => format!("{} = {m}", month_sql("pm.month")),
        Reference::MinDuration(d) => format!("pm.duration_months = {d}"),
    };
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE coh_spells AS
           SELECT pseudonym, spell_id, {start} AS start_m, {exit} AS exit_m, max(end_class) AS exit_class
           FROM ads.{s} GROUP BY pseudonym, spell_id;
         CREATE OR REPLACE TEMP TABLE coh_ref AS
           SELECT pm.pseudonym, pm.spell_id, pm.month, pm.diag_id, pm.age, pm.sex, pm.wijk_code,
                  pm.duration_months, {refm} AS ref_m, s.start_m, s.exit_m, s.exit_class,
                  pm.diag_trede, pm.diag_loonwaarde
           FROM ads.person_month pm JOIN coh_spells s USING (pseudonym, spell_id)
           WHERE {refcond};
         CREATE OR REPLACE TEMP TABLE coh_hist AS
           SELECT r.pseudonym, r.spell_id, count(b.spell_id) AS earlier,
                  count(b.spell_id) FILTER (WHERE b.exit_class IN ('work', 'school', 'income')) AS earlier_wsi
           FROM coh_ref r LEFT JOIN coh_spells b
             ON b.pseudonym = r.pseudonym AND b.exit_m IS NOT NULL AND b.exit_m < r.ref_m
           GROUP BY ALL;",
        start = month_sql("min(start_date)"),
        exit = month_sql("max(end_date)"),
        s = ident(&spells),
        refm = month_sql("pm.month"),
    ))?;
    // The feature expressions: (SQL, name, is_text).
    let mut feats: Vec<(String, String, bool)> = vec![
        ("CAST(r.age AS DOUBLE)".into(), "leeftijd".into(), false),
        (
            "CAST(r.duration_months AS DOUBLE)".into(),
            "duur_maanden".into(),
            false,
        ),
        ("r.sex".into(), "geslacht".into(), true),
        ("w.wijknaam".into(), "wijk".into(), true),
        (
            "CAST(h.earlier AS DOUBLE)".into(),
            "eerdere_uitkeringen".into(),
            false,
        ),
        (
            "CAST(h.earlier_wsi AS DOUBLE)".into(),
            "eerdere_uitstroom_wsi".into(),
            false,
        ),
    ];
    let mut joins = String::from(
        " LEFT JOIN coh_hist h ON h.pseudonym = r.pseudonym AND h.spell_id = r.spell_id",
    );
    let has_buurten = columns
        .iter()
        .any(|(t, c, _)| t == "buurten" && c == "wijknaam");
    if has_buurten {
        joins.push_str(" LEFT JOIN (SELECT DISTINCT wijk, wijknaam FROM ads.buurten) w ON w.wijk IN (r.wijk_code, 'WK' || r.wijk_code)");
    } else {
        feats[3].0 = "r.wijk_code".into();
    }
    let add_table = |alias: &str, t: &str, feats: &mut Vec<(String, String, bool)>| {
        for (c, ty) in cols_of(t) {
            let text = ty == "VARCHAR" || ty == "BOOLEAN";
            let expr = if text {
                format!("CAST({alias}.{} AS VARCHAR)", ident(&c))
            } else if ty.ends_with("[]") {
                continue;
            } else {
                format!("CAST({alias}.{} AS DOUBLE)", ident(&c))
            };
            let name = if c == "sex" {
                "geslacht_persoon".to_string()
            } else {
                c.clone()
            };
            if feats.iter().any(|f| f.1 == name) {
                continue;
            }
            feats.push((expr, name, text));
        }
    };
    if let Some(a) = table("assessments") {
        joins.push_str(&format!(
            " LEFT JOIN (SELECT DISTINCT ON (diag_id) * FROM ads.{}) d ON d.diag_id = r.diag_id",
            ident(&a)
        ));
        add_table("d", &a, &mut feats);
    }
    if let Some(p) = table("persons") {
        joins.push_str(&format!(
            " LEFT JOIN (SELECT DISTINCT ON (pseudonym) * FROM ads.{}) pe ON pe.pseudonym = r.pseudonym",
            ident(&p)
        ));
        add_table("pe", &p, &mut feats);
    }
    joins.push_str(&format!(
        " LEFT JOIN (SELECT DISTINCT ON (pseudonym, spell_id) * FROM ads.{s} ORDER BY pseudonym, spell_id, start_date) sp ON sp.pseudonym = r.pseudonym AND sp.spell_id = r.spell_id",
        s = ident(&spells)
    ));
    let before_spell = feats.len();
    add_table("sp", &spells, &mut feats);
    let spell_features: Vec<String> = feats[before_spell..].iter().map(|f| f.1.clone()).collect();
    // Provision groups started before the reference month.
    let mut groups: Vec<String> = Vec::new();
    if let Some(v) = table("provisions") {
        groups = conn
            .prepare(&format!(
                "SELECT DISTINCT group_code FROM ads.{} WHERE group_code IS NOT NULL ORDER BY 1",
                ident(&v)
            ))?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        let cases: Vec<String> = groups
            .iter()
            .map(|g| {
                format!(
                    "count(*) FILTER (WHERE v.group_code = {}) AS {}",
                    literal(g),
                    ident(&format!("g_{g}"))
                )
            })
            .collect();
        if !cases.is_empty() {
            conn.execute_batch(&format!(
                "CREATE OR REPLACE TEMP TABLE coh_prov AS
                   SELECT r.pseudonym, r.spell_id, {}
                   FROM coh_ref r JOIN ads.{} v ON v.pseudonym = r.pseudonym AND v.start_date < r.month
                   GROUP BY ALL",
                cases.join(", "),
                ident(&v)
            ))?;
            joins.push_str(
                " LEFT JOIN coh_prov pv ON pv.pseudonym = r.pseudonym AND pv.spell_id = r.spell_id",
            );
            for g in &groups {
                feats.push((
                    format!(
                        "CAST(coalesce(pv.{}, 0) > 0 AS DOUBLE)",
                        ident(&format!("g_{g}"))
                    ),
                    format!("eerder_{g}"),
                    false,
                ));
            }
        }
    }
    // Work experience before the benefit (the export describes a client's working life up to
    // intake; docs/synthetic.md: baseline), as the effect analysis uses it.
    if let Some(e) = table("experience") {
        let years = columns
            .iter()
            .find(|(t, _, ty)| t == &e && ty == "DOUBLE")
            .map(|(_, col, _)| col.clone());
        conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE coh_exp AS SELECT pseudonym, count(*) AS n{} FROM ads.{} GROUP BY pseudonym",
            years
                // Rounded: a parallel sum of doubles depends on the order DuckDB adds them in.
                .map(|y| format!(", round(sum({}), 6) AS years", ident(&y)))
                .unwrap_or(", NULL AS years".into()),
            ident(&e)
        ))?;
        joins.push_str(" LEFT JOIN coh_exp ex ON ex.pseudonym = r.pseudonym");
        feats.push((
            "CAST(coalesce(ex.n, 0) AS DOUBLE)".into(),
            "beroepen_ervaring".into(),
            false,
        ));
        feats.push((
            "CAST(coalesce(ex.years, 0) AS DOUBLE)".into(),
            "jaren_ervaring".into(),
            false,
        ));
    }
    if let Some(c) = table("competences") {
        let date_col = columns
            .iter()
            .find(|(t, col, ty)| t == &c && ty == "DATE" && col != "month")
            .map(|(_, col, _)| col.clone());
        let cond = date_col
            .map(|d| format!(" AND c.{} <= last_day(r.month)", ident(&d)))
            .unwrap_or_else(|| " AND FALSE".into());
        conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE coh_comp AS
               SELECT r.pseudonym, r.spell_id, count(*) AS n
               FROM coh_ref r JOIN ads.{} c ON c.pseudonym = r.pseudonym{cond}
               GROUP BY ALL",
            ident(&c)
        ))?;
        joins.push_str(
            " LEFT JOIN coh_comp cc ON cc.pseudonym = r.pseudonym AND cc.spell_id = r.spell_id",
        );
        feats.push((
            "CAST(coalesce(cc.n, 0) AS DOUBLE)".into(),
            "competenties_bekend".into(),
            false,
        ));
    }
    let available: Vec<(String, &'static str)> = feats
        .iter()
        .map(|(_, n, t)| (n.clone(), if *t { "categorie" } else { "getal" }))
        .collect();
    let chosen: Vec<usize> = if spec.features.is_empty() {
        (0..feats.len())
            .filter(|&i| {
                !NOT_DEFAULT.contains(&feats[i].1.as_str()) && feats[i].1 != "duur_maanden"
                    || (feats[i].1 == "duur_maanden" && spec.reference != Reference::Start)
            })
            .collect()
    } else {
        let mut v = Vec::new();
        for f in &spec.features {
            match feats.iter().position(|x| &x.1 == f) {
                Some(i) => v.push(i),
                None => {
                    return Err(StoreError::Input(format!(
                        "unknown feature '{f}'; the features are: {}",
                        available
                            .iter()
                            .map(|a| a.0.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                }
            }
        }
        v
    };
    // Audit attributes come along regardless of the features chosen.
    let audit_exprs = [
        "r.sex".to_string(),
        "CAST(r.age AS DOUBLE)".to_string(),
        table("persons")
            .filter(|p| {
                columns
                    .iter()
                    .any(|(t, c, _)| t == p && c == "migratieachtergrond")
            })
            .map_or("NULL".to_string(), |_| {
                "CAST(pe.migratieachtergrond AS VARCHAR)".into()
            }),
        feats[3].0.clone(),
    ];
    let mut select: Vec<String> = vec![
        "CAST(r.ref_m AS DOUBLE)".into(),
        "CAST(r.exit_m AS DOUBLE)".into(),
        "r.exit_class".into(),
        "CAST(rk.record_key % 4294967296 AS DOUBLE)".into(),
        "r.pseudonym".into(),
        "CAST(r.age AS DOUBLE)".into(),
        "r.sex".into(),
        "w_trede".into(),
        "w_loonwaarde".into(),
    ];
    select[7] = "CAST(r.diag_trede AS DOUBLE)".into();
    select[8] = "CAST(r.diag_loonwaarde AS DOUBLE)".into();
    select.push(feats[3].0.clone());
    let prov_filter = spec.filters.provision_group.as_ref().map(|g| {
        if groups.contains(g) {
            Ok(format!("coalesce(pv.{}, 0) > 0", ident(&format!("g_{g}"))))
        } else {
            Err(StoreError::Input(format!(
                "unknown provision group '{g}'; the groups are: {}",
                groups.join(", ")
            )))
        }
    });
    let prov_filter = match prov_filter {
        Some(r) => Some(r?),
        None => None,
    };
    select.push(prov_filter.clone().map_or("TRUE".into(), |f| f));
    select.extend(audit_exprs.iter().cloned());
    let n_fixed = select.len();
    for &i in &chosen {
        select.push(feats[i].0.clone());
    }
    let sql = format!(
        "SELECT {} FROM coh_ref r JOIN rk ON rk.pseudonym = r.pseudonym{joins} ORDER BY r.pseudonym, r.spell_id",
        select.join(", ")
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut raw: Vec<Vec<Cell>> = Vec::new();
    while let Some(row) = rows.next()? {
        let mut v = Vec::with_capacity(select.len());
        for j in 0..select.len() {
            v.push(match row.get_ref(j)? {
                ValueRef::Null => Cell::Null,
                ValueRef::Double(x) => Cell::Num(x),
                ValueRef::Boolean(b) => Cell::Num(if b { 1.0 } else { 0.0 }),
                ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                other => Cell::Text(format!("{other:?}")),
            });
        }
        raw.push(v);
    }
    drop(rows);
    let num = |c: &Cell| match c {
        Cell::Num(x) => Some(*x),
        _ => None,
    };
    let txt = |c: &Cell| match c {
        Cell::Text(s) => Some(s.clone()),
        Cell::Num(x) => Some(format!("{x}")),
        Cell::Null => None,
    };
    let at_reference = raw.len();
    let f = &spec.filters;
    let mut keep = Vec::new();
    let mut excluded_by_filters = 0;
    let mut excluded_no_follow_up = 0;
    let mut y = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let ref_m = num(&r[0]).unwrap_or(0.0) as i32;
        let age = num(&r[5]);
        let pass = f.age_min.is_none_or(|a| age.is_some_and(|x| x >= a as f64))
            && f.age_max.is_none_or(|a| age.is_some_and(|x| x <= a as f64))
            && f.sex
                .as_ref()
                .is_none_or(|s| txt(&r[6]).as_ref() == Some(s))
            && (f.trede.is_empty() || num(&r[7]).is_some_and(|t| f.trede.contains(&(t as i64))))
            && f.loonwaarde_min
                .is_none_or(|m| num(&r[8]).is_some_and(|x| x >= m))
            && f.loonwaarde_max
                .is_none_or(|m| num(&r[8]).is_some_and(|x| x <= m))
            && (f.wijk.is_empty() || txt(&r[9]).is_some_and(|w| f.wijk.contains(&w)))
            && num(&r[10]).is_none_or(|v| v > 0.0)
            && f.ref_from.is_none_or(|m| ref_m >= m)
            && f.ref_to.is_none_or(|m| ref_m <= m);
        if !pass {
            excluded_by_filters += 1;
            continue;
        }
        let exit_m = num(&r[1]).map(|x| x as i32);
        let class = txt(&r[2]);
        let label = match exit_m {
            Some(e) if e - ref_m < spec.horizon => {
                Some(class.as_ref().is_some_and(|c| spec.reasons.contains(c)))
            }
            _ if ref_m + spec.horizon - 1 <= data_end => Some(false),
            _ => None,
        };
        match label {
            Some(l) => {
                keep.push(i);
                y.push(l);
            }
            None if spec.keep_unlabelled => {
                keep.push(i);
                y.push(false);
            }
            None => excluded_no_follow_up += 1,
        }
    }
    // Persons and their record keys.
    let mut person_ids: Vec<&str> = keep
        .iter()
        .map(|&i| match &raw[i][4] {
            Cell::Text(s) => s.as_str(),
            _ => "",
        })
        .collect();
    person_ids.sort_unstable();
    person_ids.dedup();
    let mut keys = vec![0u64; person_ids.len()];
    let person: Vec<u32> = keep
        .iter()
        .map(|&i| {
            let id = match &raw[i][4] {
                Cell::Text(s) => s.as_str(),
                _ => "",
            };
            let p = person_ids.binary_search(&id).unwrap_or(0);
            keys[p] = num(&raw[i][3]).unwrap_or(0.0) as u64;
            p as u32
        })
        .collect();
    let ref_month: Vec<i32> = keep
        .iter()
        .map(|&i| num(&raw[i][0]).unwrap_or(0.0) as i32)
        .collect();
    let exit_month: Vec<Option<i32>> = keep
        .iter()
        .map(|&i| num(&raw[i][1]).map(|x| x as i32))
        .collect();
    let exit_class: Vec<Option<String>> = keep.iter().map(|&i| txt(&raw[i][2])).collect();
    let audit_base = 11;
    let audit_names = ["geslacht", "leeftijdsklasse", "migratieachtergrond", "wijk"];
    let audit: Vec<(String, Vec<String>)> = audit_names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let vals = keep
                .iter()
                .map(|&i| {
                    let c = &raw[i][audit_base + k];
                    if *name == "leeftijdsklasse" {
                        num(c).map_or("onbekend".into(), |a| age_band(a).to_string())
                    } else {
                        txt(c).unwrap_or_else(|| "onbekend".into())
                    }
                })
                .collect();
            (name.to_string(), vals)
        })
        .collect();
    let mut features = Vec::new();
    for (k, &fi) in chosen.iter().enumerate() {
        let (_, name, is_text) = &feats[fi];
        let j = n_fixed + k;
        if *is_text {
            let vals: Vec<Option<String>> = keep.iter().map(|&i| txt(&raw[i][j])).collect();
            let mut levels: Vec<String> = vals.iter().flatten().cloned().collect();
            levels.sort();
            levels.dedup();
            if levels.len() > MAX_LEVELS {
                continue;
            }
            let codes = vals
                .iter()
                .map(|v| {
                    v.as_ref().map_or(MISSING, |s| {
                        levels.binary_search(s).map_or(MISSING, |p| p as u32)
                    })
                })
                .collect();
            features.push(Feature {
                name: name.clone(),
                values: FeatureValues::Categorical { codes, levels },
            });
        } else {
            let vals: Vec<f64> = keep
                .iter()
                .map(|&i| num(&raw[i][j]).unwrap_or(f64::NAN))
                .collect();
            features.push(Feature {
                name: name.clone(),
                values: FeatureValues::Numeric(vals),
            });
        }
    }
    // A feature with no value at all, or one value only, cannot split anything.
    features.retain(|f| match &f.values {
        FeatureValues::Numeric(v) => {
            let mut present = v.iter().filter(|x| !x.is_nan());
            let first = present.next();
            first.is_some_and(|a| present.any(|b| b != a))
        }
        FeatureValues::Categorical { levels, .. } => levels.len() > 1,
    });
    let positives = y.iter().filter(|&&v| v).count();
    Ok(Cohort {
        features,
        available,
        spell_features,
        counts: CohortCounts {
            at_reference,
            excluded_by_filters,
            excluded_no_follow_up,
            labelled: y.len(),
            positives,
        },
        y,
        person,
        keys,
        ref_month,
        exit_month,
        exit_class,
        audit,
        data_end,
        spec: spec.clone(),
    })
}

enum Cell {
    Null,
    Num(f64),
    Text(String),
}

impl Cohort {
    /// The cohort restricted to `rows` (in order); the rows left out count as excluded by filters.
    pub fn subset(&self, rows: &[usize]) -> Cohort {
        let pick_f = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let features = self
            .features
            .iter()
            .map(|f| Feature {
                name: f.name.clone(),
                values: match &f.values {
                    FeatureValues::Numeric(v) => FeatureValues::Numeric(pick_f(v)),
                    FeatureValues::Categorical { codes, levels } => FeatureValues::Categorical {
                        codes: rows.iter().map(|&i| codes[i]).collect(),
                        levels: levels.clone(),
                    },
                },
            })
            .collect();
        let y: Vec<bool> = rows.iter().map(|&i| self.y[i]).collect();
        let mut counts = self.counts.clone();
        counts.excluded_by_filters += self.y.len() - rows.len();
        counts.labelled = y.len();
        counts.positives = y.iter().filter(|&&v| v).count();
        Cohort {
            features,
            available: self.available.clone(),
            spell_features: self.spell_features.clone(),
            person: rows.iter().map(|&i| self.person[i]).collect(),
            keys: self.keys.clone(),
            ref_month: rows.iter().map(|&i| self.ref_month[i]).collect(),
            exit_month: rows.iter().map(|&i| self.exit_month[i]).collect(),
            exit_class: rows.iter().map(|&i| self.exit_class[i].clone()).collect(),
            audit: self
                .audit
                .iter()
                .map(|(n, v)| (n.clone(), rows.iter().map(|&i| v[i].clone()).collect()))
                .collect(),
            y,
            counts,
            data_end: self.data_end,
            spec: self.spec.clone(),
        }
    }
}

/// Ordered answer scales of the assessments and person characteristics (shared/domain.md's
/// code lists), worst to best. A text feature whose levels all lie on one scale is ordinal.
const SCALES: &[&[&str]] = &[
    &["belemmering", "geen belemmering", "sterk punt"],
    &["ernstig", "licht", "geen"],
    &["laag", "gemiddeld", "hoog"],
    &["klein", "gemiddeld", "groot"],
    &["A0", "A1", "A2", "B1", "B2", "C1", "C2"],
    inzicht_domain::education::EDUCATION_LEVELS,
    &["niet voldaan", "voldaan"],
];

/// The positions of an ordinal feature's values on its scale (NaN for missing and for
/// "onbekend"), or `None` when the feature is not ordinal. Distances between clients then
/// respect the order ("licht" lies between "geen" and "ernstig"), which a category mismatch
/// does not.
pub fn ordinal_scores(f: &Feature) -> Option<Vec<f64>> {
    let FeatureValues::Categorical { codes, levels } = &f.values else {
        return None;
    };
    let known: Vec<&String> = levels
        .iter()
        .filter(|l| !matches!(l.as_str(), "onbekend" | "n.v.t."))
        .collect();
    if known.len() < 2 {
        return None;
    }
    let scale = SCALES
        .iter()
        .find(|s| known.iter().all(|l| s.contains(&l.as_str())))?;
    let rank: Vec<f64> = levels
        .iter()
        .map(|l| {
            scale
                .iter()
                .position(|s| s == l)
                .map_or(f64::NAN, |p| p as f64)
        })
        .collect();
    Some(
        codes
            .iter()
            .map(|&c| {
                if c == MISSING {
                    f64::NAN
                } else {
                    rank[c as usize]
                }
            })
            .collect(),
    )
}
