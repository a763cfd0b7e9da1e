//! The data-quality report (`quality.json`, `quality.html`): completeness per source, column
//! and year; defects by kind; linkage rates; shifts in distributions over time (seed 004: what
//! changed in systems and policy). It is written for the data team, from the ODS; a year with
//! fewer than [`MIN_CELL`] rows gets no completeness figure, and shifts are computed only between
//! years with at least 50 filled values.

use crate::{ident, StoreError};
use duckdb::Connection;
use inzicht_ingest::pipeline::{FieldTypeName, Reconciliation, Role, TableSchema};
use inzicht_ingest::Kind;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const MIN_CELL: i64 = 10;
/// Features whose approximate number of distinct values is above this are not candidates for
/// the distribution shifts (which need 2–30 values): far beyond the approximation's error.
const APPROX_DISTINCT_BOUND: i64 = 1000;
/// Year-over-year total variation distance above which a shift is reported.
pub const SHIFT_THRESHOLD: f64 = 0.10;

/// Per year, the count of each value of a feature.
type YearlyCounts = BTreeMap<i64, BTreeMap<String, i64>>;

fn year_expr(s: &TableSchema) -> Option<&'static str> {
    match s.kind {
        Kind::Spells | Kind::Provisions => Some("start_date"),
        Kind::Assessments => Some("event_date"),
        Kind::Vacancies => Some("posted"),
        _ => None,
    }
}

fn scalar(conn: &Connection, sql: &str) -> Result<i64, StoreError> {
    Ok(conn
        .query_row(sql, [], |r| r.get::<_, Option<i64>>(0))?
        .unwrap_or(0))
}

pub fn compute(
    conn: &Connection,
    schemas: &[TableSchema],
    rec: &Reconciliation,
) -> Result<Value, StoreError> {
    let mut sources = Vec::new();
    let mut shifts = Vec::new();
    for s in schemas {
        let t = ident(&s.name);
        let cols: Vec<&str> = s
            .columns
            .iter()
            .filter(|c| c.role != Role::Derived)
            .map(|c| c.name.as_str())
            .collect();
        let counts: Vec<String> = cols
            .iter()
            .map(|c| format!("count({})", ident(c)))
            .collect();
        let year = year_expr(s).filter(|y| s.columns.iter().any(|c| c.name == *y));
        let group = year
            .map(|y| format!("CAST(year({y}) AS BIGINT)"))
            .unwrap_or_else(|| "CAST(NULL AS BIGINT)".into());
        let sql = format!(
            "SELECT {group} AS y, count(*) AS n, {} FROM {t} GROUP BY ALL ORDER BY y",
            counts.join(", ")
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        let mut by_col: BTreeMap<&str, BTreeMap<String, f64>> = BTreeMap::new();
        let mut totals: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
        let mut n_rows = 0i64;
        while let Some(r) = rows.next()? {
            let y: Option<i64> = r.get(0)?;
            let n: i64 = r.get(1)?;
            n_rows += n;
            for (i, c) in cols.iter().enumerate() {
                let filled: i64 = r.get(i + 2)?;
                let e = totals.entry(c).or_default();
                e.0 += filled;
                e.1 += n;
                if let Some(y) = y.filter(|_| n >= MIN_CELL) {
                    by_col.entry(c).or_default().insert(
                        y.to_string(),
                        (filled as f64 / n.max(1) as f64 * 1000.0).round() / 1000.0,
                    );
                }
            }
        }
        let completeness: Vec<Value> = cols
            .iter()
            .map(|c| {
                let (f, n) = totals.get(c).copied().unwrap_or((0, 0));
                json!({"column": c, "filled": (f as f64 / n.max(1) as f64 * 1000.0).round() / 1000.0, "by_year": by_col.get(c).cloned().unwrap_or_default()})
            })
            .collect();
        sources.push(json!({"source": s.name, "kind": s.kind.name(), "rows": n_rows, "completeness": completeness}));
        // Distribution shifts of categorical features (those with 2–30 distinct values). An
        // exact count(DISTINCT) of every feature was the report's most expensive query (about
        // 0.1 s at municipality scale, most of the report), so an approximate count
        // (HyperLogLog: Flajolet et al. 2007, DuckDB's `approx_count_distinct`, error about
        // 2%) first leaves out the features that have far more than 30 values, and the exact
        // number of the others comes from their yearly counts, which list every value anyway
        // (a query per feature cost about 100 small queries, more than their work).
        if let Some(y) = year {
            let features: Vec<&str> = s
                .columns
                .iter()
                .filter(|c| {
                    c.role == Role::Feature
                        && matches!(
                            c.ty,
                            FieldTypeName::Text | FieldTypeName::Bool | FieldTypeName::Int
                        )
                })
                .map(|c| c.name.as_str())
                .collect();
            if features.is_empty() {
                continue;
            }
            let sql = format!(
                "SELECT {} FROM {t}",
                features
                    .iter()
                    .map(|c| format!("approx_count_distinct({})", ident(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let approx: Vec<i64> = conn.query_row(&sql, [], |r| {
                (0..features.len())
                    .map(|i| Ok(r.get::<_, Option<i64>>(i)?.unwrap_or(0)))
                    .collect()
            })?;
            // A feature with at most 30 values cannot be estimated above this (the estimate's
            // error is a few per cent), so none that belongs in the report is left out here.
            let candidates: Vec<&str> = features
                .iter()
                .zip(&approx)
                .filter(|(_, &a)| (1..=APPROX_DISTINCT_BOUND).contains(&a))
                .map(|(c, _)| *c)
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let sql = candidates
                .iter()
                .enumerate()
                .map(|(k, c)| {
                    format!(
                        "SELECT CAST({k} AS BIGINT), CAST(year({y}) AS BIGINT), CAST({c} AS VARCHAR), count(*) FROM {t} WHERE {c} IS NOT NULL GROUP BY ALL",
                        c = ident(c)
                    )
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            // Per candidate: its distinct values over all rows (a row without a year too), and
            // per year the count of each value.
            let mut values: Vec<std::collections::BTreeSet<String>> =
                vec![Default::default(); candidates.len()];
            let mut by_year: Vec<YearlyCounts> = vec![BTreeMap::new(); candidates.len()];
            let mut stmt = conn.prepare(&sql)?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let (k, yy, v, n): (i64, Option<i64>, Option<String>, i64) =
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                let (Some(k), Some(v)) = (usize::try_from(k).ok(), v) else {
                    continue;
                };
                if let (Some(dist), Some(yy)) = (by_year.get_mut(k), yy) {
                    dist.entry(yy).or_default().insert(v.clone(), n);
                }
                if let Some(set) = values.get_mut(k) {
                    set.insert(v);
                }
            }
            let (shown, dists): (Vec<&str>, Vec<YearlyCounts>) = candidates
                .iter()
                .zip(values.iter().zip(by_year))
                .filter(|(_, (set, _))| (2..=30).contains(&set.len()))
                .map(|(c, (_, dist))| (*c, dist))
                .unzip();
            for (c, dist) in shown.iter().zip(&dists) {
                let years: Vec<i64> = dist.keys().copied().collect();
                for w in years.windows(2) {
                    let (a, b) = (&dist[&w[0]], &dist[&w[1]]);
                    let (na, nb) = (a.values().sum::<i64>(), b.values().sum::<i64>());
                    if na < 50 || nb < 50 {
                        continue;
                    }
                    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
                    keys.sort();
                    keys.dedup();
                    let tvd = 0.5
                        * keys
                            .iter()
                            .map(|k| {
                                (a.get(*k).copied().unwrap_or(0) as f64 / na as f64
                                    - b.get(*k).copied().unwrap_or(0) as f64 / nb as f64)
                                    .abs()
                            })
                            .sum::<f64>();
                    if tvd > SHIFT_THRESHOLD {
                        shifts.push(json!({"source": s.name, "column": c, "from_year": w[0], "to_year": w[1], "total_variation_distance": (tvd * 1000.0).round() / 1000.0}));
                    }
                }
            }
        }
    }
    // Defects by kind, over all files.
    let mut defects: BTreeMap<String, u64> = BTreeMap::new();
    let mut normalisations: BTreeMap<String, u64> = BTreeMap::new();
    for f in &rec.files {
        for (k, n) in &f.reasons {
            *defects.entry(k.clone()).or_default() += n;
        }
        for kinds in f.normalisations.values() {
            for (k, n) in kinds {
                *normalisations.entry(k.clone()).or_default() += n;
            }
        }
    }
    // Linkage.
    let mut linkage = serde_json::Map::new();
    let persons = schemas.iter().find(|s| s.kind == Kind::Persons);
    for s in schemas
        .iter()
        .filter(|s| s.kind.has_person() && s.kind != Kind::Persons)
    {
        let read: u64 = rec
            .files
            .iter()
            .filter(|f| f.source == s.name)
            .map(|f| f.rows_read)
            .sum();
        let orphans: u64 = rec
            .files
            .iter()
            .filter(|f| f.source == s.name)
            .map(|f| f.reasons.get("orphan_person").copied().unwrap_or(0))
            .sum();
        linkage.insert(
            format!("{}_rows_linked_to_a_person", s.name),
            json!(((read - orphans) as f64 / read.max(1) as f64 * 1000.0).round() / 1000.0),
        );
        if let Some(p) = persons {
            let with = scalar(conn, &format!("SELECT count(DISTINCT p.person_key) FROM {} p SEMI JOIN {} x ON x.person_key = p.person_key", ident(&p.name), ident(&s.name)))?;
            let all = scalar(
                conn,
                &format!("SELECT count(DISTINCT person_key) FROM {}", ident(&p.name)),
            )?;
            linkage.insert(
                format!("persons_with_{}", s.name),
                json!((with as f64 / all.max(1) as f64 * 1000.0).round() / 1000.0),
            );
        }
    }
    if let Some(p) = persons {
        if p.columns.iter().any(|c| c.name == "postcode") {
            let with = scalar(
                conn,
                "SELECT count(*) FROM person_area WHERE buurt_code IS NOT NULL",
            )?;
            let all = scalar(conn, "SELECT count(*) FROM person_area")?;
            linkage.insert(
                "persons_with_a_buurt".into(),
                json!((with as f64 / all.max(1) as f64 * 1000.0).round() / 1000.0),
            );
        }
    }
    Ok(json!({
        "min_cell": MIN_CELL,
        "shift_threshold": SHIFT_THRESHOLD,
        "data_end": rec.data_end,
        "files": rec.files.iter().map(|f| json!({"file": f.file, "source": f.source, "read_as": f.read_as, "rows_read": f.rows_read, "rows_loaded": f.rows_loaded, "rows_quarantined": f.rows_quarantined})).collect::<Vec<_>>(),
        "defects": defects,
        "normalisations": normalisations,
        "linkage": linkage,
        "sources": sources,
        "shifts": shifts,
        "warnings": rec.warnings,
    }))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x).replace('.', ",")
}

/// A standalone HTML page (no scripts, no external resources), Dutch.
pub fn html(q: &Value, load_id: &str) -> String {
    let mut h = String::new();
    h.push_str("<!doctype html><html lang=\"nl\"><head><meta charset=\"utf-8\"><title>Datakwaliteit – inzicht</title><style>body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #999;padding:.25rem .5rem;text-align:left}th{background:#eee}td.n{text-align:right}caption{text-align:left;font-weight:bold}</style></head><body>");
    h.push_str(&format!(
        "<h1>Datakwaliteit</h1><p>Lading <code>{}</code>, gegevens tot en met {}.</p>",
        esc(load_id),
        esc(q["data_end"].as_str().unwrap_or(""))
    ));
    h.push_str("<h2>Bestanden</h2><table><caption>Gelezen, geladen en in quarantaine geplaatste rijen per bestand</caption><tr><th scope=\"col\">Bestand</th><th scope=\"col\">Gelezen als</th><th scope=\"col\">Gelezen</th><th scope=\"col\">Geladen</th><th scope=\"col\">Quarantaine</th></tr>");
    for f in q["files"].as_array().into_iter().flatten() {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(f["file"].as_str().unwrap_or("")),
            esc(f["read_as"].as_str().unwrap_or("")),
            f["rows_read"],
            f["rows_loaded"],
            f["rows_quarantined"]
        ));
    }
    h.push_str("</table><h2>Gebreken</h2><table><caption>Reden van quarantaine en aantal rijen</caption><tr><th scope=\"col\">Reden</th><th scope=\"col\">Rijen</th></tr>");
    for (k, v) in q["defects"].as_object().into_iter().flatten() {
        h.push_str(&format!(
            "<tr><td>{}</td><td class=\"n\">{v}</td></tr>",
            esc(k)
        ));
    }
    h.push_str("</table><table><caption>Genormaliseerde waarden (niet in quarantaine)</caption><tr><th scope=\"col\">Soort</th><th scope=\"col\">Waarden</th></tr>");
    for (k, v) in q["normalisations"].as_object().into_iter().flatten() {
        h.push_str(&format!(
            "<tr><td>{}</td><td class=\"n\">{v}</td></tr>",
            esc(k)
        ));
    }
    h.push_str("</table><h2>Koppeling</h2><table><caption>Aandeel gekoppeld</caption><tr><th scope=\"col\">Maat</th><th scope=\"col\">Aandeel</th></tr>");
    for (k, v) in q["linkage"].as_object().into_iter().flatten() {
        h.push_str(&format!(
            "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(k),
            pct(v.as_f64().unwrap_or(0.0))
        ));
    }
    h.push_str("</table><h2>Verschuivingen in de tijd</h2><p>Kenmerken waarvan de verdeling van jaar op jaar sterk verandert (totale-variatieafstand boven 0,10): vaak een wijziging in systeem, registratie of beleid.</p><table><tr><th scope=\"col\">Bron</th><th scope=\"col\">Kenmerk</th><th scope=\"col\">Van</th><th scope=\"col\">Naar</th><th scope=\"col\">Afstand</th></tr>");
    for s in q["shifts"].as_array().into_iter().flatten() {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(s["source"].as_str().unwrap_or("")),
            esc(s["column"].as_str().unwrap_or("")),
            s["from_year"],
            s["to_year"],
            s["total_variation_distance"]
        ));
    }
    h.push_str("</table><h2>Volledigheid</h2>");
    for src in q["sources"].as_array().into_iter().flatten() {
        h.push_str(&format!("<table><caption>{} ({} rijen): gevuld per kolom</caption><tr><th scope=\"col\">Kolom</th><th scope=\"col\">Gevuld</th><th scope=\"col\">Per jaar</th></tr>", esc(src["source"].as_str().unwrap_or("")), src["rows"]));
        for c in src["completeness"].as_array().into_iter().flatten() {
            let years: Vec<String> = c["by_year"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(y, v)| format!("{y}: {}", pct(v.as_f64().unwrap_or(0.0))))
                .collect();
            h.push_str(&format!(
                "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                esc(c["column"].as_str().unwrap_or("")),
                pct(c["filled"].as_f64().unwrap_or(0.0)),
                esc(&years.join(" · "))
            ));
        }
        h.push_str("</table>");
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use inzicht_ingest::pipeline::Column;

    fn column(name: &str, ty: FieldTypeName, role: Role) -> Column {
        Column {
            name: name.into(),
            ty,
            role,
            source_column: name.into(),
        }
    }

    /// Shifts are looked for exactly in the features with 2–30 distinct values over all rows
    /// (a row without a date too), whatever the approximate count that picks the candidates.
    #[test]
    fn shifts_are_reported_for_the_features_with_two_to_thirty_values() {
        let conn = Connection::open_in_memory().expect("duckdb");
        // 2,000 rows per year 2020 and 2021; per feature, the value of row i in year y:
        //   f30:   30 values, most rows on value 0 in 2020 and on value 1 in 2021 (a shift);
        //   f31:   as f30, plus a 31st value in a row without a date;
        //   f1:    one value;
        //   fmany: 2,000 values (its approximate count far above the bound);
        //   fint:  2 integer values, shifted like f30.
        conn.execute_batch(
            "CREATE TABLE diagnoses AS
             SELECT CASE WHEN i = 0 AND y = 2021 THEN NULL ELSE make_date(y, 6, 1) END AS event_date,
                    CAST(CASE WHEN i < 1400 THEN (y - 2020) ELSE i % 30 END AS VARCHAR) AS f30,
                    CASE WHEN i = 0 AND y = 2021 THEN 'extra' ELSE CAST(CASE WHEN i < 1400 THEN (y - 2020) ELSE i % 30 END AS VARCHAR) END AS f31,
                    'a' AS f1,
                    CAST(i AS VARCHAR) AS fmany,
                    CAST(CASE WHEN i < 1400 THEN (y - 2020) ELSE 1 - (y - 2020) END AS BIGINT) AS fint
             FROM range(2000) r(i), (VALUES (2020), (2021)) v(y)",
        )
        .expect("table");
        let schema = TableSchema {
            name: "diagnoses".into(),
            kind: Kind::Assessments,
            columns: vec![
                column("event_date", FieldTypeName::Date, Role::Canonical),
                column("f30", FieldTypeName::Text, Role::Feature),
                column("f31", FieldTypeName::Text, Role::Feature),
                column("f1", FieldTypeName::Text, Role::Feature),
                column("fmany", FieldTypeName::Text, Role::Feature),
                column("fint", FieldTypeName::Int, Role::Feature),
            ],
        };
        let rec = Reconciliation {
            files: Vec::new(),
            data_end: "2021-12".into(),
            warnings: Vec::new(),
        };
        let distinct: Vec<i64> = conn
            .query_row(
                "SELECT count(DISTINCT f30), count(DISTINCT f31), count(DISTINCT fint) FROM diagnoses",
                [],
                |r| (0..3).map(|i| r.get(i)).collect(),
            )
            .expect("count");
        assert_eq!(distinct, [30, 31, 2], "the test's own data");
        let q = compute(&conn, &[schema], &rec).expect("quality");
        let shifted: Vec<&str> = q["shifts"]
            .as_array()
            .expect("shifts")
            .iter()
            .map(|s| s["column"].as_str().expect("column"))
            .collect();
        assert_eq!(shifted, ["f30", "fint"], "{q}");
    }
}
