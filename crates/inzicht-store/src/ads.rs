//! Builds the pseudonymised ADS from the ODS, in SQL inside one DuckDB connection (the ODS is
//! the main database, the ADS is attached as `ads`).
//!
//! What crosses: person keys become pseudonyms (from the `pseudonyms` table that Rust filled
//! with HMAC values), birth dates become ages, postcodes become wijk and buurt codes, case-system
//! keys (dossier and provision numbers) become ordinal ids. Names, addresses and every column the
//! configuration did not list as a feature stay in the ODS. Every person-level table carries
//! pseudonym × month × wijk/buurt (Zaanstad's linking "in samenhang").

use crate::secrets::KeyFile;
use crate::{ident, literal, StoreError};
use duckdb::Connection;
use inzicht_domain::Month;
use inzicht_ingest::pipeline::{Role, TableSchema};
use inzicht_ingest::Kind;

/// Canonical columns that never enter the ADS as they are.
const IDENTIFYING: &[&str] = &[
    "person_key",
    "partner_key",
    "birth_date",
    "postcode",
    "spell_key",
    "provision_key",
];

fn first(schemas: &[TableSchema], kind: Kind) -> Option<&TableSchema> {
    schemas.iter().find(|s| s.kind == kind)
}

fn has(schema: &TableSchema, column: &str) -> bool {
    schema.columns.iter().any(|c| c.name == column)
}

/// Fills `pseudonyms(person_key, pseudonym, person_nr)` in the ODS for every person key in any
/// table. `person_nr` (1…n) is the rank of the pseudonym: a dense integer copy of it, so that
/// grouping by person is an integer hash aggregate and disclosure control finds a person's
/// record key by array index (`recordkeys::RecordKeyLookup`) instead of joining on a
/// 32-character string. Ranked by pseudonym, it carries no information about the BSN and is
/// re-drawn whenever the key is rotated.
pub fn pseudonymise(
    conn: &Connection,
    schemas: &[TableSchema],
    key: &KeyFile,
) -> Result<u64, StoreError> {
    conn.execute_batch("CREATE OR REPLACE TABLE pseudonyms (person_key VARCHAR PRIMARY KEY, pseudonym VARCHAR NOT NULL, person_nr INTEGER NOT NULL)")?;
    let mut parts = Vec::new();
    for s in schemas.iter().filter(|s| s.kind.has_person()) {
        parts.push(format!("SELECT person_key FROM {}", ident(&s.name)));
        if has(s, "partner_key") {
            parts.push(format!(
                "SELECT partner_key FROM {} WHERE partner_key IS NOT NULL",
                ident(&s.name)
            ));
        }
    }
    if parts.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "SELECT DISTINCT person_key FROM ({}) ORDER BY 1",
        parts.join(" UNION ALL ")
    );
    let keys: Vec<String> = conn
        .prepare(&sql)?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    let mut pairs: Vec<(String, &String)> = keys.iter().map(|k| (key.pseudonym(k), k)).collect();
    pairs.sort_unstable();
    let mut ranked: Vec<(&String, String, i32)> = pairs
        .into_iter()
        .enumerate()
        .map(|(i, (pseudonym, k))| (k, pseudonym, i as i32 + 1))
        .collect();
    // Appended in person-key order, as before (the ODS's primary-key index builds fastest so).
    ranked.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut app = conn.appender("pseudonyms")?;
    for (k, pseudonym, nr) in &ranked {
        app.append_row(duckdb::params![k, pseudonym, nr])?;
    }
    app.flush()?;
    Ok(keys.len() as u64)
}

/// The main date of a kind's rows (for the `month` column).
fn main_date(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Spells | Kind::Provisions => Some("start_date"),
        Kind::Assessments => Some("event_date"),
        _ => None,
    }
}

/// Builds every ADS table and the person-month panel.
pub fn build(
    conn: &Connection,
    schemas: &[TableSchema],
    data_start: Month,
    data_end: Month,
) -> Result<(), StoreError> {
    build_beside(conn, schemas, data_start, data_end, || ())
}

/// As [`build`], and runs `beside` on a thread of its own meanwhile, once `person_area` exists
/// (the quality report reads the ODS and `person_area`, not the ADS: it then uses the core the
/// table copies leave free while the panel is written). Returns what `beside` returned.
pub fn build_beside<T: Send>(
    conn: &Connection,
    schemas: &[TableSchema],
    data_start: Month,
    data_end: Month,
    beside: impl FnOnce() -> T + Send,
) -> Result<T, StoreError> {
    let end_day = literal(&data_end.last_day().iso());
    // Where each person lives: the buurt and wijk of the postcode (never the postcode itself).
    let persons = first(schemas, Kind::Persons);
    let postcodes = first(schemas, Kind::Postcodes);
    match (persons, postcodes) {
        (Some(p), Some(pc)) if has(p, "postcode") => conn.execute_batch(&format!(
            "CREATE OR REPLACE TABLE person_area AS
             SELECT p.person_key, any_value(pc.buurt) AS buurt_code, any_value(pc.wijk) AS wijk_code
             FROM {p} p LEFT JOIN {pc} pc ON pc.postcode = upper(replace(p.postcode, ' ', ''))
             GROUP BY p.person_key",
            p = ident(&p.name),
            pc = ident(&pc.name)
        ))?,
        _ => conn.execute_batch("CREATE OR REPLACE TABLE person_area (person_key VARCHAR, buurt_code VARCHAR, wijk_code VARCHAR)")?,
    }
    // Ordinal spell ids: one per dossier (main applicant and partner share it), kept in the ODS.
    if let Some(s) = first(schemas, Kind::Spells) {
        let key = if has(s, "spell_key") {
            "coalesce(spell_key, person_key || '|' || CAST(start_date AS VARCHAR))"
        } else {
            "person_key || '|' || CAST(start_date AS VARCHAR)"
        };
        conn.execute_batch(&format!(
            "CREATE OR REPLACE TABLE spell_ids AS
             SELECT _source_file, _source_line, CAST(dense_rank() OVER (ORDER BY {key}) AS BIGINT) AS spell_id FROM {}",
            ident(&s.name)
        ))?;
    }
    // Ordinal assessment ids: the panel refers to "the latest assessment known that month" by
    // this id, and the ADS assessments table carries it (kept in the ODS like spell_ids).
    if let Some(a) = first(schemas, Kind::Assessments) {
        conn.execute_batch(&format!(
            "CREATE OR REPLACE TABLE diag_ids AS
             SELECT _source_file, _source_line, CAST(row_number() OVER (ORDER BY person_key, event_date, _source_file, _source_line) AS BIGINT) AS diag_id FROM {}",
            ident(&a.name)
        ))?;
    }
    // The person-month panel is built on a second connection while this one copies the tables:
    // both only read the ODS and each writes its own ADS tables (the panel's intermediate tables
    // are temporary, so private to its connection), and DuckDB runs many of these statements on
    // one core; side by side they keep both busy.
    let panel_conn = conn.try_clone()?;
    let (tables, panel_result, beside_result) = std::thread::scope(|scope| {
        let panel_job = scope.spawn(move || {
            let _g = TimeIt("panel", std::time::Instant::now());
            panel(&panel_conn, schemas, data_start, data_end)
        });
        let beside_job = scope.spawn(beside);
        let tables = copy_tables(conn, schemas, &end_day);
        let panel_result = panel_job.join().unwrap_or_else(|_| {
            Err(StoreError::Internal(
                "building the person-month panel stopped unexpectedly".into(),
            ))
        });
        let beside_result = beside_job.join().map_err(|_| {
            StoreError::Internal("a step beside the ADS build stopped unexpectedly".into())
        });
        (tables, panel_result, beside_result)
    });
    tables?;
    panel_result?;
    let beside_result = beside_result?;
    conn.execute_batch(&format!(
        "CREATE TABLE ads.about AS SELECT {} AS data_start, {} AS data_end, 'Gepseudonimiseerd: geen BSN, naam, adres of geboortedatum. Pseudonym = HMAC-SHA-256 (128 bits) onder een sleutel buiten de opslag.' AS note",
        literal(&data_start.to_string()),
        literal(&data_end.to_string())
    ))?;
    Ok(beside_result)
}

/// Copies every source table into the ADS: pseudonym instead of the person key, month, wijk and
/// buurt, age instead of birth date, ordinal ids instead of case-system keys, and only the
/// columns the allow-list lets cross.
fn copy_tables(
    conn: &Connection,
    schemas: &[TableSchema],
    end_day: &str,
) -> Result<(), StoreError> {
    for s in schemas {
        let t = ident(&s.name);
        let mut select: Vec<String> = Vec::new();
        let mut joins = String::new();
        if s.kind.has_person() {
            select.push("ps.pseudonym".into());
            joins.push_str(" JOIN pseudonyms ps ON ps.person_key = t.person_key LEFT JOIN person_area area ON area.person_key = t.person_key");
            if let Some(d) = main_date(s.kind) {
                select.push(format!("CAST(date_trunc('month', t.{d}) AS DATE) AS month"));
            }
            select.push("area.wijk_code".into());
            select.push("area.buurt_code".into());
        }
        if s.kind == Kind::Persons {
            if has(s, "birth_date") {
                select.push(format!("CAST(date_part('year', age(DATE {end_day}, t.birth_date)) AS INTEGER) AS age_at_data_end"));
            }
            if has(s, "partner_key") {
                select.push("pp.pseudonym AS partner_pseudonym".into());
                joins.push_str(" LEFT JOIN pseudonyms pp ON pp.person_key = t.partner_key");
            }
        }
        if s.kind == Kind::Assessments {
            select.push("did.diag_id".into());
            joins.push_str(" JOIN diag_ids did ON did._source_file = t._source_file AND did._source_line = t._source_line");
        }
        if s.kind == Kind::Spells {
            select.push("sid.spell_id".into());
            joins.push_str(" JOIN spell_ids sid ON sid._source_file = t._source_file AND sid._source_line = t._source_line");
        }
        for c in &s.columns {
            let keep = match c.role {
                Role::Ods => false,
                Role::Canonical => !IDENTIFYING.contains(&c.name.as_str()),
                Role::Derived | Role::Feature => true,
            };
            if keep {
                select.push(format!("t.{}", ident(&c.name)));
            }
        }
        // Rows in pseudonym order, not the export's (whose order could be lined up with the
        // ODS): `person_nr` is the pseudonym's rank, so sorting by it gives that order with an
        // integer sort instead of a 32-character string sort.
        let order = if s.kind.has_person() {
            " ORDER BY ps.person_nr"
        } else {
            ""
        };
        let _g = TimeIt(&s.name, std::time::Instant::now());
        conn.execute_batch(&format!(
            "CREATE TABLE ads.{t} AS SELECT {} FROM {t} t{joins}{order}",
            select.join(", ")
        ))?;
    }
    Ok(())
}

/// Assessment features the panel carries itself (when the configuration has them); every other
/// feature of the latest assessment is one join away: `diagnoses` (or whatever the assessments
/// source is called) on `diag_id`. A narrow panel is what makes it fast at national scale:
/// writing 36 million rows costs in proportion to their width.
pub const PANEL_ASSESSMENT_FEATURES: &[&str] = &["trede", "loonwaarde", "uren_beschikbaar"];

/// The person-month panel: one row per pseudonym × month on benefit, with the spell and its
/// duration so far, the exit in the month it happens, age, wijk/buurt, the latest assessment as
/// known at the end of that month (its `diag_id`, date and key features; no information from
/// later) and the provision groups active in that month. Where two spells touch the same month
/// (one ends, the next starts), the row describes the spell that started last.
///
/// Persons are carried through the intermediate tables as `person_nr` (an integer) and meet
/// their pseudonym, wijk and birth date only in the final join: partitioning, grouping and
/// joining ~670,000 month rows on the case system's text key cost about a third of the panel's
/// time at municipality scale.
fn panel(
    conn: &Connection,
    schemas: &[TableSchema],
    data_start: Month,
    data_end: Month,
) -> Result<(), StoreError> {
    let Some(spells) = first(schemas, Kind::Spells) else {
        return Ok(());
    };
    let start_day = literal(&data_start.first_day().iso());
    let end_day = literal(&data_end.last_day().iso());
    let col_or_null = |s: &TableSchema, c: &str| {
        if has(s, c) {
            format!("s.{}", ident(c))
        } else {
            "NULL".to_string()
        }
    };
    let assessments = first(schemas, Kind::Assessments);
    let first_month = format!("date_trunc('month', greatest(s.start_date, DATE {start_day}))");
    let last_month =
        format!("date_trunc('month', least(coalesce(s.end_date, DATE {end_day}), DATE {end_day}))");
    // The statements, each with a name for INZICHT_TIMING.
    let mut sql: Vec<(&str, String)> = Vec::new();
    // The assessment in force in a month is the latest (by date, then diag_id) with
    // event_date ≤ the month's last day: per person a step function of the month. It is found
    // as intervals — per person and month of an assessment the latest of that month, in force
    // from that month until the next such month, and "none" before the first — and each spell
    // is cut at the interval boundaries before its months are generated, so that every month
    // is born with its diag_id. (A running last_value over the person's months and assessment
    // events, which this replaces with the same result, sorted all 36 million month rows at
    // national scale: the panel's slowest step.)
    let (diag_column, diag_join, piece_start, piece_end) = if let Some(a) = assessments {
        sql.push((
            "panel: assessment intervals",
            format!(
            "CREATE OR REPLACE TEMP TABLE diag_last AS
             SELECT ps.person_nr, CAST(date_trunc('month', a.event_date) AS DATE) AS from_m,
                    arg_max(did.diag_id, (a.event_date, did.diag_id)) AS diag_id
             FROM {a} a JOIN pseudonyms ps ON ps.person_key = a.person_key
                  JOIN diag_ids did ON did._source_file = a._source_file AND did._source_line = a._source_line
             WHERE a.event_date <= DATE {end_day}
             GROUP BY ALL;
             CREATE OR REPLACE TEMP TABLE diag_intervals AS
             SELECT person_nr, from_m, lead(from_m, 1, DATE '9999-12-01') OVER (PARTITION BY person_nr ORDER BY from_m) AS to_m, diag_id
             FROM diag_last
             UNION ALL
             SELECT person_nr, DATE '0001-01-01', min(from_m), NULL FROM diag_last GROUP BY person_nr;
             DROP TABLE diag_last;",
            a = ident(&a.name)
        )));
        (
            ", iv.diag_id",
            format!(
                " LEFT JOIN diag_intervals iv ON iv.person_nr = ps.person_nr AND iv.from_m <= {last_month} AND iv.to_m > {first_month}"
            ),
            format!("greatest({first_month}, coalesce(iv.from_m, DATE '0001-01-01'))"),
            format!("least({last_month}, coalesce(iv.to_m, DATE '9999-12-01') - INTERVAL 1 MONTH)"),
        )
    } else {
        ("", String::new(), first_month.clone(), last_month.clone())
    };
    // The spells cut at the assessment intervals ("pieces"): a few per spell, each with its
    // first and last month. The months themselves are generated in the final statement, so
    // that the 36 million month rows at national scale flow straight into the joins and the
    // write instead of being materialised (and spilled) as a table first.
    sql.push((
        "panel: spell pieces",
        format!(
            "CREATE OR REPLACE TEMP TABLE spell_pieces AS
             SELECT ps.person_nr, sid.spell_id, s.start_date, s.end_date, {end_class} AS end_class, {end_bus} AS end_bus{diag_column},
                    n.several_spells, {piece_start} AS piece_start, {piece_end} AS piece_end
             FROM {spells} s JOIN pseudonyms ps ON ps.person_key = s.person_key
                  JOIN spell_ids sid ON sid._source_file = s._source_file AND sid._source_line = s._source_line
                  JOIN (SELECT person_key, count(*) > 1 AS several_spells FROM {spells} GROUP BY person_key) n ON n.person_key = s.person_key{diag_join}
             WHERE coalesce(s.end_date, DATE {end_day}) >= DATE {start_day} AND s.start_date <= DATE {end_day};",
            spells = ident(&spells.name),
            end_class = col_or_null(spells, "end_class"),
            end_bus = col_or_null(spells, "end_reason_bus"),
        ),
    ));
    let mut select = vec![
        "ps.pseudonym".to_string(),
        "ps.person_nr".into(),
        "m.month".into(),
        "m.spell_id".into(),
        // Months since the spell's first month, in integer arithmetic on (year, month): the
        // same number as `date_diff('month', …)`, which casts every month to a timestamp.
        "CAST((year(m.month) * 12 + month(m.month)) - (year(m.start_date) * 12 + month(m.start_date)) AS INTEGER) AS duration_months".into(),
        "(m.end_date IS NOT NULL AND m.end_date <= m.month_end) AS exits_this_month".into(),
        "CASE WHEN m.end_date <= m.month_end THEN m.end_class END AS exit_class".into(),
        "CASE WHEN m.end_date <= m.month_end THEN m.end_bus END AS exit_bus".into(),
        "ps.wijk_code".into(),
        "ps.buurt_code".into(),
    ];
    // Everything the panel takes from the person — pseudonym, wijk and buurt, birth date as a
    // number, sex — in one small table keyed by `person_nr`, made before the months exist: the
    // final statement then joins each month row once, on an integer, instead of three times,
    // twice on the case system's text key (hashing that key for every month row was a large
    // part of the final statement).
    let mut person_select =
        String::from("ps.person_nr, ps.pseudonym, area.wijk_code, area.buurt_code");
    let mut person_joins =
        String::from(" LEFT JOIN person_area area ON area.person_key = ps.person_key");
    if let Some(p) = first(schemas, Kind::Persons) {
        if has(p, "birth_date") {
            // Age in whole years at the month's first day: the difference of the dates written
            // as the numbers yyyymmdd, divided by 10,000 (truncated towards zero, as DuckDB's
            // integer `//` does). It is the year part of `age(month, birth_date)` to the unit —
            // checked on every month 1990–2030 against ~4,000 birth dates, leap days and
            // births after the month included — at a fraction of its cost (interval
            // arithmetic on timestamps was a sixth of the panel's final statement).
            select.push(
                "CAST(((year(m.month) * 10000 + month(m.month) * 100 + day(m.month)) - ps.birth_key) // 10000 AS INTEGER) AS age".into(),
            );
            person_select.push_str(", p.birth_key");
        }
        if has(p, "sex") {
            select.push("ps.sex".into());
            person_select.push_str(", p.sex");
        }
        let birth_key = if has(p, "birth_date") {
            ", year(birth_date) * 10000 + month(birth_date) * 100 + day(birth_date) AS birth_key"
        } else {
            ""
        };
        person_joins.push_str(&format!(" LEFT JOIN (SELECT *{birth_key} FROM {} QUALIFY row_number() OVER (PARTITION BY person_key ORDER BY _source_line) = 1) p ON p.person_key = ps.person_key", ident(&p.name)));
    }
    sql.push((
        "panel: persons",
        format!(
            "CREATE OR REPLACE TEMP TABLE panel_persons AS SELECT {person_select} FROM pseudonyms ps{person_joins};"
        ),
    ));
    let mut joins = String::from(" JOIN panel_persons ps ON ps.person_nr = m.person_nr");
    if let Some(a) = assessments {
        sql.push((
            "panel: assessment features",
            format!(
            "CREATE OR REPLACE TEMP TABLE diag_panel AS
             SELECT did.diag_id, a.event_date{feats} FROM {a} a JOIN diag_ids did ON did._source_file = a._source_file AND did._source_line = a._source_line;",
            a = ident(&a.name),
            feats = PANEL_ASSESSMENT_FEATURES
                .iter()
                .filter(|f| has(a, f))
                .map(|f| format!(", a.{}", ident(f)))
                .collect::<String>(),
        )));
        select.push("m.diag_id".into());
        select.push("d.event_date AS diag_date".into());
        for f in PANEL_ASSESSMENT_FEATURES.iter().filter(|f| has(a, f)) {
            select.push(format!("d.{} AS {}", ident(f), ident(&format!("diag_{f}"))));
        }
        joins.push_str(" LEFT JOIN diag_panel d ON d.diag_id = m.diag_id");
    }
    if let Some(v) = first(schemas, Kind::Provisions) {
        let group = if has(v, "group_code") {
            "group_code"
        } else {
            "type_code"
        };
        // The groups active in a month, distinct and sorted: the list of `list(DISTINCT g ORDER
        // BY g)` (a missing group last), built as a plain list that is de-duplicated and
        // sorted afterwards — DuckDB's ordered aggregate sorted every provision month, and took
        // 1.7 times as long at national scale.
        sql.push((
            "panel: provision months",
            format!(
            "CREATE OR REPLACE TEMP TABLE provision_months AS
             SELECT ps.person_nr, CAST(pm.month AS DATE) AS month, list_concat(list_sort(list_distinct(list({group}))), CASE WHEN bool_or({group} IS NULL) THEN [NULL::VARCHAR] END) AS active_groups, count(*) AS n_active
             FROM {v} JOIN pseudonyms ps USING (person_key),
                  LATERAL (SELECT unnest(generate_series(date_trunc('month', start_date), date_trunc('month', least(coalesce(end_date, DATE {end_day}), DATE {end_day})), INTERVAL 1 MONTH)) AS month) pm
             WHERE start_date <= DATE {end_day}
             GROUP BY ALL;",
            v = ident(&v.name)
        )));
        select.push("pv.active_groups".into());
        select.push("CAST(coalesce(pv.n_active, 0) AS INTEGER) AS n_active_provisions".into());
        joins.push_str(
            " LEFT JOIN provision_months pv ON pv.person_nr = m.person_nr AND pv.month = m.month",
        );
    }
    // The months of each piece, generated here. Two spells of one person can touch the same
    // month only if the person has several spells: the de-duplication window (the spell that
    // started last describes the month) runs on those persons' months alone (a window over
    // every person-month was the slowest step at national scale).
    let months = "SELECT p.* EXCLUDE (several_spells, piece_start, piece_end), CAST(g.month AS DATE) AS month, last_day(CAST(g.month AS DATE)) AS month_end
         FROM spell_pieces p, LATERAL (SELECT unnest(generate_series(p.piece_start, p.piece_end, INTERVAL 1 MONTH)) AS month) g";
    // DuckDB estimates the generated months at one row per piece, so its build-side optimizer
    // would build the hash tables on the 36 million months and probe them with the lookup
    // tables (twice as slow at municipality scale). Without it every join builds on its right
    // side as written: the persons, areas, assessments and provision months.
    sql.push((
        "panel: final join and write",
        format!(
            "SET disabled_optimizers = 'build_side_probe_side';
             CREATE TABLE ads.person_month AS SELECT {} FROM (
                 {months} WHERE NOT p.several_spells
                 UNION ALL
                 {months} WHERE p.several_spells
                 QUALIFY row_number() OVER (PARTITION BY person_nr, month ORDER BY start_date DESC) = 1
             ) m{joins};
             RESET disabled_optimizers;
             DROP TABLE spell_pieces;
             DROP TABLE panel_persons;",
            select.join(", ")
        ),
    ));
    for (name, statement) in &sql {
        if std::env::var_os("INZICHT_SQL").is_some() {
            eprintln!("{statement}");
        }
        let _g = TimeIt(name, std::time::Instant::now());
        conn.execute_batch(statement)?;
    }
    Ok(())
}

struct TimeIt<'a>(&'a str, std::time::Instant);
impl Drop for TimeIt<'_> {
    fn drop(&mut self) {
        if std::env::var_os("INZICHT_TIMING").is_some() {
            eprintln!("    {:6.2} s {}", self.1.elapsed().as_secs_f64(), self.0);
        }
    }
}
