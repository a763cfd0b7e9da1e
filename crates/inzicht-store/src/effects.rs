//! Provision effects on the Datapakhuis (issue 5): reads the person-month panel, the spells and
//! the provisions of a snapshot's ADS into the form `inzicht_stats::provision` needs, runs the
//! sequential matching, and passes every number through disclosure control before it leaves.
//!
//! Protection of these results (docs/protection.md, "matching and model results"): an estimate
//! is shown only when at least the threshold of distinct treated persons and of distinct matched
//! control persons lie behind it, and — for each horizon — at least the threshold of persons with
//! a W/S/I exit and of persons without one in each arm (a share resting on a handful of exits,
//! or on all-but-a-handful, is an attribute disclosure). Otherwise it reads "too few to
//! estimate". Counts are perturbed (cell key); curves go through the curve rules (pooled months,
//! ending below the threshold at risk).

use crate::table::Session;
use crate::{ident, StoreError};
use duckdb::arrow::array::{Array, Float64Array};
use inzicht_protect::{combine_key_sums, CellInput, Protector, CELL_KEY_MODULUS};
use inzicht_stats::provision::{
    self, Block, EffectOptions, Estimate, Exit, Features, GroupEffect, PanelData,
};
use serde_json::{json, Value};

/// Columns that are not features: keys, geography, dates, and what is known only at the end of
/// the data. Every other configured column of the persons table is used as a baseline
/// characteristic (an assumption: the persons export describes a person, not the result of a
/// provision — documented in docs/effects.md).
pub(crate) const NOT_FEATURES: &[&str] = &[
    "pseudonym",
    "month",
    "wijk_code",
    "buurt_code",
    "diag_id",
    "event_date",
    "age_at_data_end",
    "partner_pseudonym",
    "spell_id",
    "start_date",
    "end_date",
    "end_reason",
    "end_reason_bus",
    "end_class",
];
/// The expression that stands for "competences recorded by that month" (counted in Rust).
const COMPETENCES: &str = "competences_known";
/// Text features with more levels than this are left out of the propensity model.
const MAX_LEVELS: usize = 12;

fn month_sql(col: &str) -> String {
    format!("(year({col}) * 12 + month({col}) - 1)")
}

/// Runs a query whose columns are all DOUBLE and returns them column by column (an empty result
/// still has its columns, each empty).
fn doubles(conn: &duckdb::Connection, sql: &str) -> Result<Vec<Vec<f64>>, StoreError> {
    doubles_sized(conn, sql, 0)
}

/// As [`doubles`], with room for `rows` rows made in each column at once (a hint: more rows
/// still fit). A column grown batch by batch is copied at every doubling of its capacity, each
/// time into fresh pages (with the reused buffer of the panel's permutation below: ~115,000 →
/// ~105,000 page faults in an analysis at municipality scale).
fn doubles_sized(
    conn: &duckdb::Connection,
    sql: &str,
    rows: usize,
) -> Result<Vec<Vec<f64>>, StoreError> {
    let mut stmt = conn.prepare(sql)?;
    // Streamed, batch by batch: DuckDB hands over each chunk as it is made instead of first
    // collecting the whole result (holding every Arrow batch and the columns at once doubled
    // the peak memory; the collected result cost a copy of every value and its pages).
    let arrow = stmt.stream_arrow([])?;
    let ncol = arrow.get_schema().fields().len();
    let mut cols: Vec<Vec<f64>> = (0..ncol).map(|_| Vec::with_capacity(rows)).collect();
    for b in arrow {
        let b = b?;
        for (j, col) in cols.iter_mut().enumerate() {
            let a = b
                .column(j)
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(|| {
                    StoreError::Internal(format!("effects: column {j} is not DOUBLE"))
                })?;
            if a.null_count() == 0 {
                col.extend_from_slice(a.values());
            } else {
                col.extend((0..a.len()).map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) }));
            }
        }
    }
    Ok(cols)
}

/// The spells (sid, exit month, ended, exit kind), the provision groups and types, and the
/// first start of each group per spell (sid, group, month, type), as read from DuckDB.
type SpellsAndStarts = (Vec<Vec<f64>>, Vec<String>, Vec<String>, Vec<Vec<f64>>);

/// The table a feature of the effects panel belongs to (and so how often it is read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Row = 0,
    Person = 1,
    Spell = 2,
    Assessment = 3,
}

/// Where a panel row's value of a feature is: in a panel column, or in an entity's column at
/// the index the panel column gives — with the value the joined query gave where there is no
/// such entity (a month before the first assessment): NaN for a number, 0 ("no level") for
/// text.
#[derive(Clone, Copy)]
enum Source<'a> {
    Row(&'a [f64]),
    Indexed(&'a [f64], &'a [f64], f64),
}

impl Source<'_> {
    #[inline]
    fn at(&self, i: usize) -> f64 {
        match self {
            Source::Row(c) => c[i],
            Source::Indexed(c, index, absent) => {
                let k = index[i];
                if k.is_finite() && k >= 0.0 {
                    c.get(k as usize).copied().unwrap_or(*absent)
                } else {
                    *absent
                }
            }
        }
    }
}

/// With INZICHT_TIMING set, the steps within a phase, each timed from the end of the last.
struct Laps(Option<std::time::Instant>);

impl Laps {
    fn start() -> Self {
        Laps(std::env::var_os("INZICHT_TIMING").map(|_| std::time::Instant::now()))
    }

    fn lap(&mut self, what: &str) {
        if let Some(at) = &mut self.0 {
            eprintln!("    {what}: {:.3} s", at.elapsed().as_secs_f64());
            *at = std::time::Instant::now();
        }
    }
}

/// With INZICHT_TIMING set, how long a phase took (on stderr; never data).
fn timing(what: &str, since: std::time::Instant) {
    if std::env::var_os("INZICHT_TIMING").is_some() {
        // The peak resident memory so far (Linux), to see which phase needs the memory.
        let peak = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
            })
            .unwrap_or_default();
        eprintln!(
            "{what}: {:.3} s (peak memory so far {peak})",
            since.elapsed().as_secs_f64()
        );
    }
}

/// The panel and what `provision::estimate_all` needs, plus each person's record key.
pub struct EffectData {
    pub panel: PanelData,
    pub record_keys: Vec<u64>,
    /// Person index → pseudonym (kept inside the store crate; the consultant's advice finds a
    /// client's rows through it).
    pub(crate) pseudonyms: Vec<String>,
}

pub fn load(session: &Session) -> Result<EffectData, StoreError> {
    let conn = session.conn();
    let table = |kind: &str| -> Result<String, StoreError> {
        session
            .tables
            .iter()
            .find(|(_, k)| k == kind)
            .map(|(n, _)| n.clone())
            .ok_or_else(|| {
                StoreError::Input(format!(
                    "the snapshot has no {kind} table: provision effects need persons, spells, assessments and provisions"
                ))
            })
    };
    let spells_name = table("spells")?;
    let spells = ident(&spells_name);
    let provisions = ident(&table("provisions")?);
    let assessments = table("assessments").ok();
    let persons = table("persons").ok();
    let data_end: String = conn.query_row("SELECT data_end FROM ads.about", [], |r| r.get(0))?;
    let data_end = inzicht_domain::Month::parse(&data_end)
        .ok_or_else(|| StoreError::Internal(format!("ads.about.data_end '{data_end}'")))?
        .0;
    let t0 = std::time::Instant::now();
    // The panel's integer person key (`person_nr`, the pseudonym's rank) joins the person-months
    // to their spells without comparing strings; snapshots from before it existed join on the
    // pseudonym.
    let columns: Vec<(String, String, String)> = conn
        .prepare("SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE database_name = 'ads'")?
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?
        .collect::<Result<_, _>>()?;
    let has_person_nr = columns
        .iter()
        .any(|(t, c, _)| t == "person_month" && c == "person_nr");
    let person_key = if has_person_nr {
        "person_nr"
    } else {
        "pseudonym"
    };
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE eff_persons AS
           SELECT pseudonym, {person_key} AS person_key,
                  CAST(row_number() OVER (ORDER BY pseudonym) - 1 AS INTEGER) AS pid
           FROM (SELECT DISTINCT pseudonym{} FROM ads.person_month);
         CREATE OR REPLACE TEMP TABLE eff_spells AS
           SELECT s.pseudonym, spell_id, p.pid, p.person_key,
                  CAST(row_number() OVER (ORDER BY s.pseudonym, spell_id) - 1 AS INTEGER) AS sid,
                  {exit_m} AS exit_m, coalesce(end_class, 'unknown') AS exit_class,
                  end_date IS NOT NULL AS ended, {start_m} AS start_m
           FROM (SELECT pseudonym, spell_id, max(end_date) AS end_date, max(end_class) AS end_class,
                        min(start_date) AS start_date
                 FROM ads.{spells} GROUP BY pseudonym, spell_id) s
           JOIN eff_persons p ON p.pseudonym = s.pseudonym;",
        if has_person_nr { ", person_nr" } else { "" },
        exit_m = month_sql("end_date"),
        start_m = month_sql("start_date"),
    ))?;
    let n_persons = conn.query_row("SELECT count(*) FROM eff_persons", [], |r| {
        r.get::<_, i64>(0)
    })? as usize;
    timing("effects: persons and spells", t0);
    let t0 = std::time::Instant::now();
    // Features: panel columns, then assessment and person features as configured.
    let mut laps = Laps::start();
    let cols_of = |t: &Option<String>| -> Vec<(String, String)> {
        columns
            .iter()
            .filter(|(tt, c, _)| {
                t.as_deref() == Some(tt.as_str()) && !NOT_FEATURES.contains(&c.as_str())
            })
            .map(|(_, c, ty)| (c.clone(), ty.clone()))
            .collect()
    };
    let assess_cols = cols_of(&assessments);
    // Each assessment item is used as last recorded up to the assessment in force (last
    // observation carried forward per item, within the person, in the order of event date and
    // assessment id): an empty field in the latest assessment does not erase what an earlier
    // one recorded. The items are read as recorded and carried forward in Rust below (DuckDB's
    // `last_value(… IGNORE NULLS)` window per item cost more than the rest of reading them).
    // `di` numbers the assessments in `diag_id` order (a key of the table), the order in which
    // their items are read below.
    if let Some(a) = &assessments {
        conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE eff_diag AS SELECT diag_id, pseudonym, event_date, CAST(row_number() OVER (ORDER BY diag_id) - 1 AS INTEGER) AS di FROM ads.{}",
            ident(a)
        ))?;
    }
    laps.lap("assessments copied");
    let mut feature_cols: Vec<(String, String)> = assess_cols
        .iter()
        .map(|(c, ty)| (format!("a.{}", ident(c)), format!("{c}|{ty}")))
        .collect();
    feature_cols.extend(
        cols_of(&persons)
            .iter()
            .map(|(c, ty)| (format!("pe.{}", ident(c)), format!("{c}|{ty}"))),
    );
    // Characteristics of the spell as recorded at its start (inflow reason, household role …;
    // never how or when it ended), and the person's history: earlier spells and how many of
    // them ended in work, school or income — a proxy for prospects, known at the time.
    feature_cols.extend(
        cols_of(&Some(spells_name.clone()))
            .iter()
            .map(|(c, ty)| (format!("sp.{}", ident(c)), format!("{c}|{ty}"))),
    );
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE eff_hist AS
           SELECT a.pseudonym, a.spell_id,
                  count(b.spell_id) AS earlier,
                  count(b.spell_id) FILTER (WHERE b.exit_class IN ('work', 'school', 'income')) AS earlier_wsi
           FROM eff_spells a LEFT JOIN eff_spells b
             ON b.pseudonym = a.pseudonym AND b.start_m < a.start_m
           GROUP BY ALL",
    )?;
    laps.lap("earlier spells");
    feature_cols.push(("h.earlier".into(), "eerdere_uitkeringen|BIGINT".into()));
    feature_cols.push((
        "h.earlier_wsi".into(),
        "eerdere_uitstroom_wsi|BIGINT".into(),
    ));
    // Competences recorded by that month, and work experience (baseline), where configured.
    let competences = table("competences").ok();
    let experience = table("experience").ok();
    // Per person, the months in which each competence was recorded (i32::MIN: no date, so known
    // throughout), sorted: a panel row's count is a binary search (joining every person-month
    // to every competence of the person cost DuckDB a 2.6-million-row join at municipality
    // scale). A row without a recorded date counts only where the table has no date column.
    let mut competence_months: Option<Vec<Vec<i32>>> = None;
    if let Some(c) = &competences {
        let date_col = columns
            .iter()
            .find(|(t, col, ty)| t == c && ty == "DATE" && col != "month")
            .map(|(_, col, _)| col.clone());
        let month = date_col
            .map(|d| format!("CAST({} AS DOUBLE)", month_sql(&format!("c.{}", ident(&d)))))
            .unwrap_or_else(|| format!("CAST({} AS DOUBLE)", i32::MIN));
        let pm = doubles(
            conn,
            &format!(
                "SELECT CAST(p.pid AS DOUBLE), {month} FROM ads.{} c JOIN eff_persons p ON p.pseudonym = c.pseudonym",
                ident(c)
            ),
        )?;
        let mut by_person = vec![Vec::new(); n_persons];
        for (&pid, &m) in pm[0].iter().zip(&pm[1]) {
            // NaN: a competence without a date in a table that has a date column (never known).
            if m.is_finite() {
                if let Some(v) = by_person.get_mut(pid as usize) {
                    v.push(m as i32);
                }
            }
        }
        by_person.iter_mut().for_each(|v| v.sort_unstable());
        competence_months = Some(by_person);
        laps.lap("competence months");
        feature_cols.push((COMPETENCES.into(), "competenties_bekend|BIGINT".into()));
    }
    if let Some(e) = &experience {
        let years = columns
            .iter()
            .find(|(t, _, ty)| t == e && ty == "DOUBLE")
            .map(|(_, col, _)| col.clone());
        conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE eff_exp AS SELECT pseudonym, count(*) AS n{} FROM ads.{} GROUP BY pseudonym",
            years.map(|y| format!(", sum({}) AS years", ident(&y))).unwrap_or(", NULL AS years".into()),
            ident(e)
        ))?;
        feature_cols.push((
            "coalesce(ex.n, 0)".into(),
            "beroepen_ervaring|BIGINT".into(),
        ));
        feature_cols.push((
            "coalesce(ex.years, 0)".into(),
            "jaren_ervaring|DOUBLE".into(),
        ));
    }
    timing(
        "effects: feature tables (assessments carried forward, history, competences)",
        t0,
    );
    // The panel is read narrow — one row per person-month with the row's own columns and the
    // indices of its person, spell and assessment — and each feature from the table it belongs
    // to (persons, spells, assessments carried forward), once per entity: joining them into
    // every person-month in SQL made DuckDB sort and carry ~70 columns over 670,000 rows.
    // The panel's own features: duration, its log, age, age squared / 100, year (made in Rust
    // from the base columns below), and the provisions running at the start of the month (last
    // month's count): this month's count would include the provision that starts now —
    // information from after the choice. Read as this month's count and shifted by one month of
    // the spell below.
    let mut row_select = vec!["CAST(coalesce(pm.n_active_provisions, 0) AS DOUBLE)".to_string()];
    let names: Vec<String> = vec![
        "duur_maanden".into(),
        "log_duur".into(),
        "leeftijd".into(),
        "leeftijd_kwadraat".into(),
        "jaar".into(),
        "lopende_voorzieningen".into(),
    ];
    let mut numeric: Vec<(String, String)> = Vec::new();
    let mut text: Vec<(String, String)> = Vec::new();
    for (expr, desc) in &feature_cols {
        let (name, ty) = desc.split_once('|').unwrap_or((desc, ""));
        if matches!(ty, "VARCHAR") {
            text.push((expr.clone(), name.to_string()));
        } else {
            numeric.push((expr.clone(), name.to_string()));
        }
    }
    // One column per feature (numbers as they are, text as the position of its level); the
    // indicators and missing flags are made here. Levels are read from the feature's own
    // table. Each feature is read at the level of its table.
    enum Spec {
        Number(String),
        Text(String, Vec<String>),
    }
    let level_of = |expr: &str| -> Level {
        let inner = expr.trim_start_matches("coalesce(");
        match inner.split_once('.').map(|(alias, _)| alias) {
            Some("a") => Level::Assessment,
            Some("pe") | Some("ex") => Level::Person,
            Some("sp") | Some("h") => Level::Spell,
            _ => Level::Row,
        }
    };
    let mut specs: Vec<(Spec, Level, usize)> = Vec::new();
    let mut level_select: [Vec<String>; 4] = Default::default();
    let mut push = |level: Level, sql: String| -> usize {
        let v = &mut level_select[level as usize];
        v.push(sql);
        v.len() - 1
    };
    // The row-level column that Rust fills with the competence counts.
    let mut competence_column = None;
    for (expr, name) in &numeric {
        let level = level_of(expr);
        let k = if expr == COMPETENCES {
            // Filled in Rust: not read.
            let k = push(level, String::new());
            competence_column = Some(k);
            k
        } else {
            push(level, format!("CAST({expr} AS DOUBLE)"))
        };
        specs.push((Spec::Number(name.clone()), level, k));
    }
    let source_of = |expr: &str| -> Option<String> {
        let (alias, col) = expr.split_once('.')?;
        let table = match alias {
            "a" => format!("ads.{}", ident(assessments.as_deref()?)),
            "pe" => format!("ads.{}", ident(persons.as_deref()?)),
            "sp" => format!("ads.{spells}"),
            _ => return None,
        };
        Some(format!("SELECT DISTINCT CAST({col} AS VARCHAR) AS v FROM {table} WHERE {col} IS NOT NULL ORDER BY v LIMIT {}", MAX_LEVELS + 1))
    };
    // The levels of every text feature in one query (one plan instead of one per feature).
    let sourced: Vec<(&String, &String, String)> = text
        .iter()
        .filter_map(|(expr, name)| Some((expr, name, source_of(expr)?)))
        .collect();
    let mut levels_of: Vec<Vec<String>> = vec![Vec::new(); sourced.len()];
    if !sourced.is_empty() {
        let union = sourced
            .iter()
            .enumerate()
            .map(|(k, (_, _, sql))| format!("SELECT {k} AS k, v FROM ({sql})"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut stmt = conn.prepare(&format!("SELECT k, v FROM ({union}) ORDER BY k, v"))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let k: i32 = r.get(0)?;
            if let Some(levels) = levels_of.get_mut(k as usize) {
                levels.push(r.get(1)?);
            }
        }
    }
    for ((expr, name, _), levels) in sourced.into_iter().zip(levels_of) {
        if levels.len() > MAX_LEVELS || levels.len() < 2 {
            continue;
        }
        let list = levels
            .iter()
            .map(|l| crate::literal(l))
            .collect::<Vec<_>>()
            .join(", ");
        let level = level_of(expr);
        let k = push(
            level,
            format!(
                "CAST(coalesce(list_position([{list}], CAST({expr} AS VARCHAR)), 0) AS DOUBLE)"
            ),
        );
        specs.push((Spec::Text(name.clone(), levels), level, k));
    }
    let row_extra = std::mem::take(&mut level_select[Level::Row as usize]);
    laps.lap("levels of the text features");
    row_select.extend(row_extra.iter().filter(|e| !e.is_empty()).cloned());
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE eff_wijken AS
           SELECT wijk_code, CAST(row_number() OVER (ORDER BY wijk_code) AS INTEGER) AS wid
           FROM (SELECT DISTINCT CAST(wijk_code AS VARCHAR) AS wijk_code FROM ads.person_month WHERE wijk_code IS NOT NULL)",
    )?;
    let wijken: Vec<String> = conn
        .prepare("SELECT wijk_code FROM eff_wijken ORDER BY wid")?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    laps.lap("wijken");
    let base = [
        "CAST(s.pid AS DOUBLE)",
        "CAST(s.sid AS DOUBLE)",
        &format!("CAST({} AS DOUBLE)", month_sql("pm.month")),
        "CAST(pm.duration_months AS DOUBLE)",
        "CAST(pm.exits_this_month AS DOUBLE)",
        "CAST(pm.age AS DOUBLE)",
        "CAST(coalesce(pm.diag_trede, 0) AS DOUBLE)",
        "CAST(coalesce(wk.wid, 0) AS DOUBLE)",
        if assessments.is_some() {
            "CAST(a.di AS DOUBLE)"
        } else {
            "CAST(NULL AS DOUBLE)"
        },
    ]
    .join(", ");
    // Unordered: DuckDB sorting ~25 columns of 670,000 rows cost more than sorting a
    // permutation by (spell, month) here.
    // The panel query's columns: the `base` ones, then `row_select`.
    let base_cols = 9;
    let sql = format!(
        "SELECT {base}, {} FROM ads.person_month pm JOIN eff_spells s ON s.person_key = pm.{person_key} AND s.spell_id = pm.spell_id{} \
         LEFT JOIN eff_wijken wk ON wk.wijk_code = CAST(pm.wijk_code AS VARCHAR)",
        row_select.join(", "),
        assessments
            .as_deref()
            .map(|_| " LEFT JOIN eff_diag a ON a.diag_id = pm.diag_id")
            .unwrap_or_default(),
    );
    if std::env::var_os("INZICHT_SQL").is_some() {
        eprintln!("effects panel query: {sql}");
    }
    let started = std::time::Instant::now();
    // The rows are sorted below, so DuckDB need not keep the scan's order (lets its scan and
    // joins hand over chunks as they finish; ~20 ms of this query's ~110 at municipality scale).
    let panel_rows = conn.query_row("SELECT count(*) FROM ads.person_month", [], |r| {
        r.get::<_, i64>(0)
    })?;
    conn.execute_batch("SET preserve_insertion_order = false")?;
    let read = doubles_sized(conn, &sql, panel_rows.max(0) as usize);
    conn.execute_batch("RESET preserve_insertion_order")?;
    let read = read?;
    timing("effects: panel read: query", started);
    // Arranging the panel (order, derived columns, lag, competence counts) runs on a second
    // core while this one reads the person, spell and assessment features from DuckDB.
    let n_names = names.len();
    let arrange = |mut read: Vec<Vec<f64>>| -> Vec<Vec<f64>> {
        // In (spell, month) order — the order `provision::PanelData` documents. Each row's key
        // (spell, month) is unique; sorted as (key, row) pairs by a radix sort over the bits in
        // which the keys differ (~23 at municipality scale: three passes over 670,000 rows).
        {
            let (sid, month) = (&read[1], &read[2]);
            let min_month = month.iter().copied().fold(f64::INFINITY, f64::min);
            let max_month = month.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            // The month's bits right below the spell's, so that the key spans few bits.
            let month_bits = 64 - ((max_month - min_month).max(0.0) as u64).leading_zeros();
            let order = inzicht_stats::sort::radix_sort(
                (0..sid.len())
                    .map(|i| {
                        let key = ((sid[i] as u64) << month_bits) | (month[i] - min_month) as u64;
                        (key, i as u64)
                    })
                    .collect(),
            );
            timing("effects: panel read: order", started);
            // Each column is permuted into the buffer the previous one left, whose pages are
            // already in memory, instead of into a fresh column each time.
            let mut spare: Vec<f64> = Vec::with_capacity(order.len());
            for c in read.iter_mut() {
                spare.clear();
                spare.extend(order.iter().map(|&(_, i)| c[i as usize]));
                std::mem::swap(c, &mut spare);
            }
        }
        // The columns in the order the code below reads them: the base columns, the panel's own
        // features (`names`), then the other row-level features (`row_extra`, the competence count
        // as zeros to be filled).
        let mut read = read.into_iter();
        let mut cols: Vec<Vec<f64>> = read.by_ref().take(base_cols).collect();
        let active = read.next().unwrap_or_default();
        let derived = |f: &dyn Fn(f64, f64, f64) -> f64| -> Vec<f64> {
            // (duration, age, month index) of each row.
            cols[3]
                .iter()
                .zip(&cols[5])
                .zip(&cols[2])
                .map(|((&d, &a), &m)| f(d, a, m))
                .collect()
        };
        // As DuckDB computed them before: ln(1 + d) of an integer d, age·age (an integer) / 100.0,
        // and the calendar year of the month index year·12 + month − 1.
        let own = [
            derived(&|d, _, _| d),
            derived(&|d, _, _| (1.0 + d).ln()),
            derived(&|_, a, _| a),
            derived(&|_, a, _| (a * a) / 100.0),
            derived(&|_, _, m| m.div_euclid(12.0)),
        ];
        cols.extend(own);
        cols.push(active);
        for e in &row_extra {
            cols.push(if e.is_empty() {
                vec![0.0; cols[0].len()]
            } else {
                read.next().unwrap_or_default()
            });
        }
        // The provisions running at the start of the month: the count of the spell's previous
        // panel month (0 in its first), as `lag() OVER (PARTITION BY spell ORDER BY month)`.
        {
            let (head, tail) = cols.split_at_mut(base_cols);
            let (sid, active) = (&head[1], &mut tail[5]);
            for i in (0..active.len()).rev() {
                active[i] = if i > 0 && sid[i - 1] == sid[i] {
                    active[i - 1]
                } else {
                    0.0
                };
            }
        }
        if let (Some(k), Some(months)) = (competence_column, &competence_months) {
            let (pid, month) = (&cols[0], &cols[2]);
            let counts: Vec<f64> = pid
                .iter()
                .zip(month)
                .map(|(&p, &m)| {
                    months
                        .get(p as usize)
                        .map_or(0.0, |v| v.partition_point(|&x| x as f64 <= m) as f64)
                })
                .collect();
            cols[base_cols + n_names + k] = counts;
        }
        timing("effects: panel read: arranged", started);
        cols
    };
    // The spells and the first start of each group per spell (provisions that start in a
    // month on benefit) do not depend on the panel: they are read while the panel is arranged
    // on the other core.
    let spells_and_starts = || -> Result<SpellsAndStarts, StoreError> {
        let started = std::time::Instant::now();
        // Spells.
        let sp = doubles(
            conn,
            "SELECT CAST(sid AS DOUBLE), CAST(exit_m AS DOUBLE), CAST(ended AS DOUBLE), CAST(CASE exit_class WHEN 'work' THEN 1 WHEN 'school' THEN 1 WHEN 'income' THEN 1 WHEN 'moved_away' THEN 2 WHEN 'competing' THEN 3 ELSE 4 END AS DOUBLE) FROM eff_spells ORDER BY sid",
        )?;
        // First start of each group per spell (provisions that start in a month on benefit).
        let groups: Vec<String> = conn
            .prepare(&format!("SELECT DISTINCT group_code FROM ads.{provisions} WHERE group_code IS NOT NULL ORDER BY 1"))?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        let types: Vec<String> = conn
            .prepare(&format!("SELECT DISTINCT type_code FROM ads.{provisions} WHERE type_code IS NOT NULL ORDER BY 1"))?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE eff_groups AS SELECT * FROM (VALUES {}) t(group_code, gi);
             CREATE OR REPLACE TEMP TABLE eff_types AS SELECT * FROM (VALUES {}) t(type_code, ti);",
            groups
                .iter()
                .enumerate()
                .map(|(i, g)| format!("({}, {i})", crate::literal(g)))
                .collect::<Vec<_>>()
                .join(", "),
            if types.is_empty() {
                "('', 0)".to_string()
            } else {
                types
                    .iter()
                    .enumerate()
                    .map(|(i, t)| format!("({}, {i})", crate::literal(t)))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ))?;
        let fs = doubles(
            conn,
            &format!(
                "SELECT CAST(s.sid AS DOUBLE), CAST(g.gi AS DOUBLE), CAST(min({m}) AS DOUBLE), CAST(arg_min(t.ti, v.start_date) AS DOUBLE)
                 FROM ads.{provisions} v
                 JOIN eff_persons p ON p.pseudonym = v.pseudonym
                 JOIN ads.person_month pm ON pm.{person_key} = p.person_key AND pm.month = date_trunc('month', v.start_date)
                 JOIN eff_spells s ON s.person_key = pm.{person_key} AND s.spell_id = pm.spell_id
                 JOIN eff_groups g ON g.group_code = v.group_code
                 JOIN eff_types t ON t.type_code = v.type_code
                 GROUP BY s.sid, g.gi ORDER BY 1, 2",
                m = month_sql("pm.month")
            ),
        )?;
        timing("effects: spells and first starts read", started);
        Ok((sp, groups, types, fs))
    };
    let (cols, person_cols, spell_cols, diag_cols, (sp, groups, types, fs)) = std::thread::scope(
        |scope| -> Result<_, StoreError> {
            let arranged = scope.spawn(|| arrange(read));
            // Per person (by pid), per spell (by sid) and per assessment (by di): the columns of each.
            let started = std::time::Instant::now();
            let mut laps = Laps::start();
            let per_level =
                |select: &[String], sql_from: String| -> Result<Vec<Vec<f64>>, StoreError> {
                    if select.is_empty() {
                        return Ok(Vec::new());
                    }
                    doubles(
                        conn,
                        &format!("SELECT {} FROM {sql_from}", select.join(", ")),
                    )
                };
            let person_cols = per_level(
                &level_select[Level::Person as usize],
                format!(
                    "eff_persons p{}{} ORDER BY p.pid",
                    persons
                        .as_deref()
                        .map(|t| format!(
                            " LEFT JOIN ads.{} pe ON pe.pseudonym = p.pseudonym",
                            ident(t)
                        ))
                        .unwrap_or_default(),
                    if experience.is_some() {
                        " LEFT JOIN eff_exp ex ON ex.pseudonym = p.pseudonym"
                    } else {
                        ""
                    }
                ),
            )?;
            laps.lap("person features");
            let spell_cols = per_level(
                &level_select[Level::Spell as usize],
                format!(
                    "eff_spells s LEFT JOIN (SELECT DISTINCT ON (pseudonym, spell_id) * FROM ads.{spells} ORDER BY pseudonym, spell_id, start_date) sp ON sp.pseudonym = s.pseudonym AND sp.spell_id = s.spell_id \
                     LEFT JOIN eff_hist h ON h.pseudonym = s.pseudonym AND h.spell_id = s.spell_id ORDER BY s.sid"
                ),
            )?;
            laps.lap("spell features");
            let mut diag_cols = per_level(
                &level_select[Level::Assessment as usize],
                format!(
                    "ads.{} a ORDER BY a.diag_id",
                    ident(assessments.as_deref().unwrap_or("diagnoses"))
                ),
            )?;
            laps.lap("assessment features");
            if !diag_cols.is_empty() {
                // Last observation carried forward: in each person's assessments in (event date,
                // assessment id) order, a missing item (NaN for a number, 0 — no level — for text)
                // takes the value of the person's latest earlier assessment that has one, as
                // `last_value(item IGNORE NULLS) OVER (PARTITION BY pseudonym ORDER BY event_date,
                // diag_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`.
                let order = doubles(
                    conn,
                    "SELECT CAST(a.di AS DOUBLE), CAST(p.pid AS DOUBLE) FROM eff_diag a JOIN eff_persons p ON p.pseudonym = a.pseudonym ORDER BY p.pid, a.event_date, a.diag_id",
                )?;
                let (di, pid) = (&order[0], &order[1]);
                for (spec, level, k) in &specs {
                    if *level != Level::Assessment {
                        continue;
                    }
                    let missing = |v: f64| match spec {
                        Spec::Number(_) => !v.is_finite(),
                        Spec::Text(..) => v == 0.0,
                    };
                    let Some(col) = diag_cols.get_mut(*k) else {
                        continue;
                    };
                    for i in 1..di.len() {
                        if pid[i] != pid[i - 1] {
                            continue;
                        }
                        let (now, before) = (di[i] as usize, di[i - 1] as usize);
                        if now < col.len() && before < col.len() && missing(col[now]) {
                            // `before` has already carried its own value forward.
                            col[now] = col[before];
                        }
                    }
                }
            }
            laps.lap("assessment items carried forward");
            timing(
                "effects: person, spell and assessment features read",
                started,
            );
            let starts = spells_and_starts()?;
            let cols = arranged.join().map_err(|_| {
                StoreError::Internal(
                    "effects: arranging the panel failed (a worker thread stopped)".into(),
                )
            })?;
            Ok((cols, person_cols, spell_cols, diag_cols, starts))
        },
    )?;
    timing("effects: panel read", started);
    let started = std::time::Instant::now();
    let n = cols.first().map_or(0, |c| c.len());
    if n == 0 {
        return Err(StoreError::Input("the person-month panel is empty".into()));
    }
    // Expand: the fixed panel features, then per number its value (0 when missing) and a
    // missing indicator, per text feature an indicator for every level but the first and a
    // missing indicator; indicators that never occur are left out.
    // A feature's value in panel row i, read from the table it belongs to (NaN where the row
    // has no assessment, as the LEFT JOIN gave).
    let (pid_col, sid_col, di_col) = (&cols[0], &cols[1], &cols[8]);
    let column = |level: Level, k: usize, absent: f64| -> Source<'_> {
        match level {
            Level::Row => Source::Row(&cols[base_cols + names.len() + k]),
            Level::Person => Source::Indexed(&person_cols[k], pid_col, absent),
            Level::Spell => Source::Indexed(&spell_cols[k], sid_col, absent),
            Level::Assessment => Source::Indexed(&diag_cols[k], di_col, absent),
        }
    };
    // Each output column: its name, its source, and how a value maps to it.
    #[derive(Clone, Copy)]
    enum Make {
        Value,
        Missing,
        Level(f64),
    }
    // Whether some panel row reads a value that passes `test`: for a column of an entity, some
    // entity that a row refers to (or the "absent" value, where a row refers to none).
    let referenced: Vec<(Vec<bool>, bool)> = [
        (pid_col, &person_cols),
        (sid_col, &spell_cols),
        (di_col, &diag_cols),
    ]
    .iter()
    .map(|(index, table)| {
        let len = table.first().map_or(0, |c| c.len());
        let mut seen = vec![false; len];
        let mut none = false;
        for &k in index.iter() {
            if k.is_finite() && k >= 0.0 && (k as usize) < len {
                seen[k as usize] = true;
            } else {
                none = true;
            }
        }
        (seen, none)
    })
    .collect();
    let any_row = |level: Level, src: Source, test: &dyn Fn(f64) -> bool| -> bool {
        match src {
            Source::Row(c) => c.iter().any(|&v| test(v)),
            Source::Indexed(c, _, absent) => {
                let (seen, none) = &referenced[level as usize - 1];
                (*none && test(absent)) || c.iter().zip(seen).any(|(&v, &s)| s && test(v))
            }
        }
    };
    let mut makers: Vec<(String, Source, Make, Level)> = Vec::new();
    for (k, name) in names.iter().enumerate() {
        makers.push((
            name.clone(),
            Source::Row(&cols[base_cols + k]),
            Make::Value,
            Level::Row,
        ));
    }
    for (spec, level, k) in &specs {
        let absent = match spec {
            Spec::Number(_) => f64::NAN,
            Spec::Text(..) => 0.0,
        };
        let src = column(*level, *k, absent);
        match spec {
            Spec::Number(name) => {
                makers.push((name.clone(), src, Make::Value, *level));
                if any_row(*level, src, &|v| !v.is_finite()) {
                    makers.push((format!("{name}_onbekend"), src, Make::Missing, *level));
                }
            }
            Spec::Text(name, levels) => {
                for (l, value) in levels.iter().enumerate().skip(1) {
                    makers.push((
                        format!("{name}={value}"),
                        src,
                        Make::Level((l + 1) as f64),
                        *level,
                    ));
                }
                if any_row(*level, src, &|v| v == 0.0) {
                    makers.push((format!("{name}_onbekend"), src, Make::Level(0.0), *level));
                }
            }
        }
    }
    let as_i32 = |c: &Vec<f64>| -> Vec<i32> {
        c.iter()
            .map(|v| if v.is_finite() { *v as i32 } else { 0 })
            .collect()
    };
    let n_spells = sp[0].len();
    let mut spell_exit_month = vec![None; n_spells];
    let mut spell_exit = vec![Exit::Running; n_spells];
    for (i, &sid) in sp[0].iter().enumerate() {
        let sid = sid as usize;
        if sid < n_spells && sp[2][i] == 1.0 && sp[1][i].is_finite() {
            spell_exit_month[sid] = Some(sp[1][i] as i32);
            spell_exit[sid] = match sp[3][i] as i32 {
                1 => Exit::Wsi,
                2 => Exit::MovedAway,
                3 => Exit::Competing,
                _ => Exit::Unknown,
            };
        }
    }
    timing("effects: feature columns chosen", started);
    let started = std::time::Instant::now();
    let first_starts: Vec<(u32, usize, i32, u32)> = (0..fs.first().map_or(0, |c| c.len()))
        .map(|i| {
            (
                fs[0][i] as u32,
                fs[1][i] as usize,
                fs[2][i] as i32,
                fs[3][i] as u32,
            )
        })
        .collect();
    // The provision history of the spell as known that month: which groups started before it.
    // Consultants choose provisions on their view of a client's prospects, so earlier choices
    // carry part of that view (known at the time, so no leakage).
    let n_groups = groups.len();
    let mut first_by_spell: Vec<Option<i32>> = vec![None; n_spells * n_groups];
    for &(sid, g, m, _) in &first_starts {
        if let Some(slot) = first_by_spell.get_mut(sid as usize * n_groups + g) {
            *slot = Some(m);
        }
    }
    // The feature matrix, row-major, built once: the made columns, then the provision history.
    let mut names: Vec<String> = makers.iter().map(|(n, ..)| n.clone()).collect();
    let p = makers.len();
    let p_all = p + n_groups;
    let make = |m: Make, v: f64| -> f32 {
        match m {
            Make::Value if v.is_finite() => v as f32,
            Make::Value => 0.0,
            Make::Missing => (!v.is_finite()) as u8 as f32,
            Make::Level(code) => (v == code) as u8 as f32,
        }
    };
    // Most columns describe the person, the spell or the assessment in force, not the month:
    // they are stored once per person, spell and assessment (with a last row for "none", a
    // month before the first assessment), and each panel row stores only its own columns and
    // the index of its entity at each level (`Features::factored`), instead of ~670,000 rows ×
    // ~44 stored entries.
    // Runs of consecutive columns of one level, in column order.
    let mut segments: Vec<(Level, usize, usize)> = Vec::new();
    for (j, m) in makers.iter().enumerate() {
        match segments.last_mut() {
            Some((level, _, end)) if *level == m.3 => *end = j + 1,
            _ => segments.push((m.3, j, j + 1)),
        }
    }
    let entity_levels = [Level::Person, Level::Spell, Level::Assessment];
    // Per level, how many entities its columns are read from (the "none" row is one more).
    let n_entities: Vec<usize> = entity_levels
        .iter()
        .map(|&level| {
            makers
                .iter()
                .filter(|m| m.3 == level)
                .find_map(|m| match m.1 {
                    Source::Indexed(c, ..) => Some(c.len()),
                    Source::Row(_) => None,
                })
                .unwrap_or(0)
        })
        .collect();
    // The shared blocks (each entity's columns, once per entity) are made on a thread of their
    // own while the rows' own entries are filled (they do not depend on each other).
    let make_blocks = || -> Vec<Block> {
        let mut blocks: Vec<Block> = Vec::with_capacity(segments.len() + 1);
        for &(level, a, b) in &segments {
            if level == Level::Row {
                blocks.push(Block::Own { cols: a..b });
                continue;
            }
            let l = level as usize - 1;
            let mut table = Features::new(p_all);
            for e in 0..=n_entities[l] {
                for (j, (_, src, m, _)) in makers.iter().enumerate().take(b).skip(a) {
                    let v = match src {
                        Source::Indexed(c, _, absent) => c.get(e).copied().unwrap_or(*absent),
                        Source::Row(_) => f64::NAN,
                    };
                    table.push(j, make(*m, v));
                }
                table.end_row();
            }
            blocks.push(Block::Shared {
                cols: a..b,
                level: l,
                table,
            });
        }
        blocks
    };
    let index_cols = [pid_col, sid_col, di_col];
    // The entity row of each panel row at each level (the "none" row where it has none).
    let index: Vec<Vec<u32>> = (0..entity_levels.len())
        .map(|l| {
            index_cols[l]
                .iter()
                .map(|&k| {
                    if k.is_finite() && k >= 0.0 && (k as usize) < n_entities[l] {
                        k as u32
                    } else {
                        n_entities[l] as u32
                    }
                })
                .collect()
        })
        .collect();
    let own_segments: Vec<(usize, usize)> = segments
        .iter()
        .filter(|s| s.0 == Level::Row)
        .map(|s| (s.1, s.2))
        .collect();
    let fill = |rows: std::ops::Range<usize>| -> Features {
        let mut block = Features::new(p_all);
        block.reserve(rows.len(), rows.len() * (own_segments.len() * 4 + n_groups));
        for i in rows {
            for &(a, b) in &own_segments {
                for (j, (_, src, m, _)) in makers.iter().enumerate().take(b).skip(a) {
                    block.push(j, make(*m, src.at(i)));
                }
            }
            // Which groups started before this month in the spell.
            let sid = cols[1][i] as usize;
            if let Some(f) = first_by_spell.get(sid * n_groups..(sid + 1) * n_groups) {
                let m = cols[2][i] as i32;
                for (g, start) in f.iter().enumerate() {
                    if start.is_some_and(|s| s < m) {
                        block.push(p + g, 1.0);
                    }
                }
            }
            block.end_row();
        }
        block
    };
    let workers = inzicht_stats::rng::cores().min(8);
    let rows_per = n.div_ceil(workers).max(1);
    let (parts, blocks): (Vec<Features>, Option<Vec<Block>>) = std::thread::scope(|scope| {
        let blocks = scope.spawn(make_blocks);
        let handles: Vec<_> = (0..workers)
            .map(|b| {
                let fill = &fill;
                scope.spawn(move || fill(b * rows_per..((b + 1) * rows_per).min(n)))
            })
            .collect();
        (
            handles.into_iter().filter_map(|h| h.join().ok()).collect(),
            blocks.join().ok(),
        )
    });
    let Some(mut blocks) = blocks else {
        return Err(StoreError::Internal(
            "effects: building the feature matrix failed (a worker thread stopped)".into(),
        ));
    };
    blocks.push(Block::Own { cols: p..p_all });
    if parts.len() != workers {
        return Err(StoreError::Internal(
            "effects: building the feature matrix failed (a worker thread stopped)".into(),
        ));
    }
    // The first part grows into the rows' own entries; each later part is freed once copied.
    let mut parts = parts.into_iter();
    let mut own = parts.next().unwrap_or_else(|| Features::new(p_all));
    for b in parts {
        own.append(&b);
    }
    let features = Features::factored(own, blocks, index)
        .map_err(|e| StoreError::Internal(format!("effects: the feature matrix: {e}")))?;
    for g in &groups {
        names.push(format!("eerder_{g}"));
    }
    timing("effects: feature matrix", started);
    let keys = doubles(
        conn,
        "SELECT CAST(p.pid AS DOUBLE), CAST(rk.record_key % 4294967296 AS DOUBLE) FROM eff_persons p JOIN rk USING (pseudonym) ORDER BY p.pid",
    )?;
    if keys[0].len() != n_persons {
        return Err(StoreError::Input(
            "the record-key file does not belong to this snapshot (persons without a record key): give the key file the snapshot was loaded with".into(),
        ));
    }
    let record_keys = keys[1].iter().map(|&k| k as u64).collect();
    let pseudonyms: Vec<String> = conn
        .prepare("SELECT pseudonym FROM eff_persons ORDER BY pid")?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(EffectData {
        pseudonyms,
        panel: PanelData {
            person: cols[0].iter().map(|&v| v as u32).collect(),
            spell: cols[1].iter().map(|&v| v as u32).collect(),
            month: as_i32(&cols[2]),
            duration: as_i32(&cols[3]),
            exits: cols[4].iter().map(|&v| v == 1.0).collect(),
            age: as_i32(&cols[5]),
            trede: cols[6].iter().map(|&v| v.clamp(0.0, 6.0) as u8).collect(),
            wijk: cols[7].iter().map(|&v| v as u16).collect(),
            wijken,
            features,
            feature_names: names,
            spell_exit_month,
            spell_exit,
            first_starts,
            groups,
            types,
            data_end,
            n_persons,
        },
        record_keys,
    })
}

/// The cell behind a set of persons.
pub(crate) fn cell(keys: &[u64], persons: &[u32]) -> CellInput {
    let mut c = CellInput::default();
    for &p in persons {
        c.persons += 1;
        c.key_sum = combine_key_sums(c.key_sum, keys[p as usize] % CELL_KEY_MODULUS);
    }
    c
}

/// Provision effects for every group, protected. Returns the result fields of the envelope.
pub fn run(
    session: &Session,
    protector: &Protector,
    opt: &EffectOptions,
    focus_wijk: Option<&str>,
) -> Result<serde_json::Map<String, Value>, StoreError> {
    let started = std::time::Instant::now();
    let data = load(session)?;
    timing("effects: load", started);
    let started = std::time::Instant::now();
    let mut opt = *opt;
    if let Some(w) = focus_wijk {
        let code = data
            .panel
            .wijken
            .iter()
            .position(|x| x == w)
            .ok_or_else(|| {
                StoreError::Input(format!(
                    "unknown wijk '{w}'; the wijken are: {}",
                    data.panel.wijken.join(", ")
                ))
            })?;
        opt.focus.wijk = Some(code as u16 + 1);
    }
    opt.min_persons = opt.min_persons.max(protector.threshold() as usize);
    let effects = provision::estimate_all(&data.panel, &opt).map_err(|e| StoreError::Input(e.0))?;
    timing("effects: estimate", started);
    let mut suppressed = 0usize;
    let mut total = 0usize;
    let protect_started = std::time::Instant::now();
    let groups: Vec<Value> = effects
        .iter()
        .map(|g| protect_group(g, &data, protector, &mut total, &mut suppressed))
        .collect();
    timing("effects: protection and output", protect_started);
    let mut out = serde_json::Map::new();
    out.insert("groups".into(), json!(groups));
    out.insert(
        "design".into(),
        json!({
            "method": "sequentiële (risk-set) matching / sequential risk-set matching",
            "strata_exact": ["maand van de uitkering (eerste jaar per maand, daarna in banden) / month of the spell", "kalenderjaar / calendar year", "leeftijdsklasse / age band"],
            "propensity": "logistische regressie op kenmerken zoals bekend in die maand; ontbrekend = 0 met indicator / logistic regression on features as known that month; missing = 0 plus indicator",
            "features": data.panel.feature_names,
            "ratio": 1, "replace": false, "caliper_sd_logit": opt.caliper,
            "estimand": "intention to treat: effect van nu starten t.o.v. (nog) niet nu; controles die later starten blijven controle / controls who start later stay controls",
            "outcome": "cumulatieve incidentie van uitstroom naar werk, school of inkomen (Aalen–Johansen); overige uitstroom concurrerend, verhuizing gecensureerd (gevoeligheidsanalyse: verhuizing concurrerend)",
            "ci": format!("bootstrap van personen met opnieuw matchen ({} replicaties; propensity-model vast)", opt.bootstrap),
            "multiple_testing": "Benjamini–Hochberg over alle schattingen (groepen × subgroepen × soorten), per horizon / across all estimates, per horizon",
            "unmeasured_confounding": "E-waarde van de risicoverhouding na 12 maanden",
            "horizons": opt.horizons,
        }),
    );
    out.insert("wijken".into(), json!(data.panel.wijken));
    if opt.focus.is_set() {
        out.insert(
            "focus".into(),
            json!(opt.focus.describe(&data.panel.wijken)),
        );
    }
    out.insert("cells_total".into(), json!(total));
    out.insert("cells_suppressed".into(), json!(suppressed));
    Ok(out)
}

pub(crate) fn protect_estimate(
    e: &Estimate,
    keys: &[u64],
    p: &Protector,
    total: &mut usize,
    suppressed: &mut usize,
) -> Value {
    *total += 1;
    let t = p.threshold();
    let groups_ok = p
        .require_groups(&[
            ("behandeld / treated", e.treated_persons.len() as u64),
            ("controles / controls", e.control_persons.len() as u64),
        ])
        .is_ok();
    if e.too_few || !groups_ok || e.matched.is_empty() {
        *suppressed += 1;
        return json!({"subset": e.subset, "value": e.value, "too_few": true,
            "message": "te weinig om te schatten / too few to estimate"});
    }
    let horizon = |rows: &[provision::AtHorizon]| -> Vec<Value> {
        rows.iter()
            .map(|h| {
                // Each arm's share needs the threshold of persons with and without the exit.
                let ok = !p.is_protected()
                    || (h.events_treated >= t
                        && h.events_control >= t
                        && h.at_risk_treated >= t
                        && h.at_risk_control >= t);
                if ok {
                    json!({"months": h.months, "treated": h.treated, "control": h.control,
                        "difference": h.difference, "se": h.se, "ci": h.ci, "p_value": h.p_value,
                        "p_adjusted": h.p_adjusted})
                } else {
                    json!({"months": h.months, "too_few": true})
                }
            })
            .collect()
    };
    json!({
        "subset": e.subset, "value": e.value, "too_few": false,
        "n_treated": p.count(&cell(keys, &e.treated_persons)).value,
        "n_controls": p.count(&cell(keys, &e.control_persons)).value,
        "matched": horizon(&e.matched),
        "moving_competing": horizon(&e.moving_competing),
        "naive": horizon(&e.naive),
        // A hazard ratio needs the threshold of W/S/I exits in each arm (a ratio against an arm
        // without exits would tell that nobody in it left) and a model that converged.
        "hazard_ratio": e.hazard_ratio.as_ref().and_then(|hr| {
            (!p.is_protected() || hr.events.iter().all(|&k| k >= t))
                .then_some(hr)
                .filter(|hr| !hr.unreliable)
        }),
        // The E-value rests on the 12-month shares: shown only where they are.
        "e_value": e.e_value.filter(|_| e.matched.get(1).is_some_and(|h| !p.is_protected()
            || (h.events_treated >= t && h.events_control >= t && h.at_risk_treated >= t && h.at_risk_control >= t))),
    })
}

/// Balance rows: rounded to two decimals; a 0/1 feature with fewer than the threshold of 1s or
/// of 0s in a group is hidden (its standardized difference and variance ratio together would
/// give away the shares).
pub fn protect_balance(rows: &[inzicht_stats::matching::Balance], p: &Protector) -> Value {
    let t = p.threshold();
    let r2 = |x: f64| {
        if x.is_finite() {
            Some((x * 100.0).round() / 100.0)
        } else {
            None
        }
    };
    json!(rows
        .iter()
        .map(|b| {
            let hide = p.is_protected() && b.smallest_binary_cell.is_some_and(|c| c < t);
            if hide {
                json!({"name": b.name, "suppressed": true})
            } else if p.is_protected() {
                json!({"name": b.name, "smd_before": r2(b.smd_before), "smd_after": r2(b.smd_after),
                    "vr_before": r2(b.vr_before), "vr_after": r2(b.vr_after)})
            } else {
                json!(b)
            }
        })
        .collect::<Vec<_>>())
}

fn protect_group(
    g: &GroupEffect,
    data: &EffectData,
    p: &Protector,
    total: &mut usize,
    suppressed: &mut usize,
) -> Value {
    let keys = &data.record_keys;
    let overall = protect_estimate(&g.overall, keys, p, total, suppressed);
    let subgroups: Vec<Value> = g
        .subgroups
        .iter()
        .map(|e| protect_estimate(e, keys, p, total, suppressed))
        .collect();
    let types: Vec<Value> = g
        .types
        .iter()
        .map(|e| protect_estimate(e, keys, p, total, suppressed))
        .collect();
    let shown = overall["too_few"] == json!(false);
    // Curves of the matched arms through the curve rules; cumulative incidence from the
    // protected counts: F(t) = Σ S(s−)·d_wsi/n, S ← S·(1 − d_all/n) per pooled interval.
    let curve = |arm: usize| -> Value {
        let pts = if arm == 0 {
            &g.curve_treated
        } else {
            &g.curve_control
        };
        let persons = &g.curve_persons[arm];
        // Pool months until the W/S/I exits reach the threshold; end below the threshold at risk.
        let steps: Vec<inzicht_protect::curve::StepInput> = pts
            .iter()
            .zip(persons)
            .map(|(pt, (at, wsi, _))| inzicht_protect::curve::StepInput {
                time: (pt.month - 1) as u32,
                at_risk: cell(keys, at),
                events: cell(keys, wsi),
            })
            .collect();
        let c = inzicht_protect::curve::protect(p, &steps);
        // Rebuild a grouped data set from the protected counts — per pooled interval, d_wsi
        // W/S/I exits, d_all − d_wsi other exits, and those who leave observation before the
        // next interval — and run the Aalen–Johansen estimator with its infinitesimal-jackknife
        // variance on it: the curve and its band rest on protected numbers only.
        let mut t_obs: Vec<f64> = Vec::new();
        let mut cause: Vec<usize> = Vec::new();
        for (k, st) in c.steps.iter().enumerate() {
            let all: Vec<u32> = (st.from..st.to)
                .flat_map(|m| persons[m as usize].2.iter().copied())
                .collect();
            let d_all = p
                .count(&cell(keys, &all))
                .value
                .unwrap_or(st.events)
                .max(st.events);
            let next = c.steps.get(k + 1).map_or(0.0, |n| n.at_risk);
            let censored = (st.at_risk - d_all - next).max(0.0);
            let to = st.to as f64;
            for (n, code) in [(st.events, 1usize), (d_all - st.events, 2), (censored, 0)] {
                for _ in 0..n.round() as usize {
                    t_obs.push(to);
                    cause.push(code);
                }
            }
        }
        let z = inzicht_stats::dist::norm_quantile(0.975);
        let aj = inzicht_stats::competing::aalen_johansen(&t_obs, &cause, 2, None).ok();
        let out: Vec<Value> = c
            .steps
            .iter()
            .map(|st| {
                let to = st.to as f64;
                let (f, se) = aj.as_ref().map_or((f64::NAN, f64::NAN), |a| (a.cif_at(0, to), a.se_at(0, to)));
                json!({"from": st.from, "to": st.to, "at_risk": st.at_risk, "wsi_exits": st.events,
                    "cif_wsi": f, "ci_lower": (f - z * se).max(0.0), "ci_upper": (f + z * se).min(1.0)})
            })
            .collect();
        json!({"steps": out, "ends_at": c.ends_at, "end_reason": c.end_reason})
    };
    json!({
        "group": g.group,
        "overall": overall,
        "subgroups": subgroups,
        "types": types,
        "balance": if shown { protect_balance(&g.balance, p) } else { Value::Null },
        "curves": if shown { json!({"treated": curve(0), "control": curve(1)}) } else { Value::Null },
        "warnings": g.propensity_warnings,
    })
}
