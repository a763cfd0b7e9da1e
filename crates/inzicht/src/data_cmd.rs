//! `inzicht km | logrank | cox | match --data FILE`: the survival and matching library on an
//! analyst's own CSV (or public data, to compare with other software). Wiring only: reading
//! columns, building the design matrix, protection, output.
//!
//! Protection on data files: by default the same rules as on store data apply — a group, a
//! model or a curve step needs at least the threshold of rows (persons) and of events; counts
//! are perturbed with the cell-key method. A data file has no record keys beside a key file, so
//! each row's key is derived from its content and position (SHA-256): the same file gives the
//! same noise in every query. `--sdc off` gives exact results for public data and says so in
//! `protection`; it is refused on store data (these commands never read the store).

use crate::cli::{Failure, OutputFormat};
use clap::{Args, ValueEnum};
use inzicht_ingest::frame::Frame;
use inzicht_protect::curve::{self, StepInput};
use inzicht_protect::{combine_key_sums, CellInput, Policy, Protector};
use inzicht_stats::{cox, km, logrank, matching};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Sdc {
    On,
    Off,
}

#[derive(Args)]
pub struct Common {
    /// The data: a CSV file with a header row (delimiter and encoding are detected).
    #[arg(long)]
    pub data: PathBuf,
    /// `off` only for public data: exact numbers, no disclosure control.
    #[arg(long, value_enum, default_value = "on")]
    pub sdc: Sdc,
    /// Leave out rows with a missing value in a used column (counted in the output) instead of
    /// stopping with an error.
    #[arg(long)]
    pub drop_missing: bool,
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
}

#[derive(Args)]
pub struct KmArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long)]
    pub time: String,
    /// 0/1: 1 = the event happened, 0 = censored.
    #[arg(long)]
    pub event: String,
    #[arg(long)]
    pub group: Option<String>,
    /// log (default, as R), log-log or plain.
    #[arg(long, default_value = "log")]
    pub ci_method: String,
    /// Also write the curves (with confidence bands and the number at risk) as SVG to this file.
    #[arg(long)]
    pub svg: Option<PathBuf>,
}

#[derive(Args)]
pub struct CifArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long)]
    pub time: String,
    /// How observation ended: 0 or empty = censored; any other value names a cause (e.g. the
    /// outflow class). Causes compete: leaving for one ends the chance of the others.
    #[arg(long)]
    pub cause: String,
    #[arg(long)]
    pub group: Option<String>,
}

#[derive(Args)]
pub struct LogrankArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long)]
    pub time: String,
    #[arg(long)]
    pub event: String,
    #[arg(long)]
    pub group: String,
    /// Compare the groups within strata of this column.
    #[arg(long)]
    pub strata: Option<String>,
}

#[derive(Args)]
pub struct CoxArgs {
    #[command(flatten)]
    pub common: Common,
    /// Start of the interval (start, time] for time-varying covariates (counting-process form).
    #[arg(long)]
    pub start: Option<String>,
    #[arg(long)]
    pub time: String,
    #[arg(long)]
    pub event: String,
    /// Covariates, comma-separated; a text column becomes indicator columns (first level is
    /// the reference).
    #[arg(long, value_delimiter = ',', required = true)]
    pub covariates: Vec<String>,
    #[arg(long, default_value = "efron")]
    pub ties: String,
    /// Robust (sandwich) standard errors.
    #[arg(long)]
    pub robust: bool,
    /// Robust standard errors by cluster (as R's cluster(id)); implies --robust.
    #[arg(long)]
    pub cluster: Option<String>,
    #[arg(long)]
    pub weights: Option<String>,
    #[arg(long)]
    pub strata: Option<String>,
    /// Transform of time in the proportional-hazards test: km, identity, log or rank.
    #[arg(long, default_value = "km")]
    pub ph_transform: String,
}

#[derive(Args)]
pub struct MatchArgs {
    #[command(flatten)]
    pub common: Common,
    /// 0/1 treatment column.
    #[arg(long)]
    pub treatment: String,
    #[arg(long)]
    pub outcome: String,
    #[arg(long, value_delimiter = ',', required = true)]
    pub covariates: Vec<String>,
    /// Caliper in standard deviations of the logit of the propensity score (all units).
    #[arg(long)]
    pub caliper: Option<f64>,
    /// Controls per treated unit.
    #[arg(long, default_value_t = 1)]
    pub ratio: usize,
    /// Match with replacement.
    #[arg(long)]
    pub replace: bool,
    /// Only the effect on the treated is estimated.
    #[arg(long, default_value = "att")]
    pub estimand: String,
}

pub(crate) fn read_error(e: inzicht_ingest::read::ReadError) -> Failure {
    Failure::usage(e.to_string())
}

pub(crate) fn stats_error(e: inzicht_stats::StatsError) -> Failure {
    Failure::usage(e.0)
}

/// The loaded file with its protection.
pub(crate) struct Loaded {
    pub(crate) frame: Frame,
    pub(crate) protector: Protector,
    pub(crate) keys: Vec<u64>,
}

impl Loaded {
    pub(crate) fn open(c: &Common) -> Result<Loaded, Failure> {
        let frame = Frame::read_csv(&c.data).map_err(read_error)?;
        let protector = match c.sdc {
            Sdc::Off => Protector::unprotected(),
            Sdc::On => Protector::new(Policy::default()).map_err(Failure::usage)?,
        };
        let keys = frame
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut h = Sha256::new();
                h.update(b"inzicht-data-row\0");
                h.update((i as u64).to_le_bytes());
                for f in r {
                    h.update(f.as_bytes());
                    h.update([0]);
                }
                let d = h.finalize();
                u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]) >> 1
            })
            .collect();
        Ok(Loaded {
            frame,
            protector,
            keys,
        })
    }

    /// The cell behind a set of rows (each row a person).
    fn cell(&self, rows: impl Iterator<Item = usize>) -> CellInput {
        let mut c = CellInput::default();
        for i in rows {
            c.persons += 1;
            c.key_sum =
                combine_key_sums(c.key_sum, self.keys[i] % inzicht_protect::CELL_KEY_MODULUS);
        }
        c
    }

    fn count(&self, rows: impl Iterator<Item = usize>) -> Value {
        json!(self.protector.count(&self.cell(rows)).value)
    }
}

/// Rows with every used column present, or an error naming the first missing value.
struct Complete {
    rows: Vec<usize>,
    dropped: usize,
}

fn complete_rows(l: &Loaded, c: &Common, cols: &[&str]) -> Result<Complete, Failure> {
    let mut present = vec![true; l.frame.len()];
    for col in cols {
        let values = l.frame.labels(col).map_err(read_error)?;
        for (i, v) in values.iter().enumerate() {
            if v.is_none() && present[i] {
                if !c.drop_missing {
                    return Err(Failure::usage(format!(
                        "{}, line {}, column '{col}': missing value; fill it in, or pass --drop-missing to leave such rows out (they are counted)",
                        l.frame.path.display(),
                        l.frame.lines[i]
                    )));
                }
                present[i] = false;
            }
        }
    }
    let rows: Vec<usize> = (0..l.frame.len()).filter(|&i| present[i]).collect();
    let dropped = l.frame.len() - rows.len();
    if rows.is_empty() {
        return Err(Failure::usage(
            "no rows are left after leaving out the missing values",
        ));
    }
    Ok(Complete { rows, dropped })
}

fn numbers(l: &Loaded, col: &str, rows: &[usize]) -> Result<Vec<f64>, Failure> {
    let v = l.frame.numeric(col).map_err(read_error)?;
    Ok(rows.iter().map(|&i| v[i].unwrap_or(f64::NAN)).collect())
}

fn flags(l: &Loaded, col: &str, rows: &[usize]) -> Result<Vec<bool>, Failure> {
    let v = l.frame.binary(col).map_err(read_error)?;
    Ok(rows.iter().map(|&i| v[i].unwrap_or(false)).collect())
}

/// Group labels in sorted order (numerically when every label is a number), and each row's code.
pub(crate) fn groups(
    l: &Loaded,
    col: &str,
    rows: &[usize],
) -> Result<(Vec<usize>, Vec<String>), Failure> {
    let labels = l.frame.labels(col).map_err(read_error)?;
    let vals: Vec<String> = rows
        .iter()
        .map(|&i| labels[i].clone().unwrap_or_default())
        .collect();
    let mut levels = vals.clone();
    let numeric: Option<Vec<f64>> = levels
        .iter()
        .map(|v| inzicht_ingest::frame::parse_number(v))
        .collect();
    match numeric {
        Some(_) => levels.sort_by(|a, b| {
            let x = inzicht_ingest::frame::parse_number(a).unwrap_or(0.0);
            let y = inzicht_ingest::frame::parse_number(b).unwrap_or(0.0);
            x.total_cmp(&y)
        }),
        None => levels.sort(),
    }
    levels.dedup();
    let codes = vals
        .iter()
        .map(|v| levels.iter().position(|l| l == v).unwrap_or(0))
        .collect();
    Ok((codes, levels))
}

/// Covariates as an n × p matrix: numeric columns as they are; a text column as indicators for
/// every level but the first (R's treatment coding).
fn design(l: &Loaded, cols: &[String], rows: &[usize]) -> Result<(Vec<String>, Vec<f64>), Failure> {
    let mut names = Vec::new();
    let mut columns: Vec<Vec<f64>> = Vec::new();
    for col in cols {
        match l.frame.numeric(col) {
            Ok(v) => {
                names.push(col.clone());
                columns.push(rows.iter().map(|&i| v[i].unwrap_or(f64::NAN)).collect());
            }
            Err(_) => {
                let (codes, levels) = groups(l, col, rows)?;
                if levels.len() > 50 {
                    return Err(Failure::usage(format!(
                        "column '{col}' is text with {} distinct values: too many categories for a covariate",
                        levels.len()
                    )));
                }
                for (k, level) in levels.iter().enumerate().skip(1) {
                    names.push(format!("{col}={level}"));
                    columns.push(
                        codes
                            .iter()
                            .map(|&c| if c == k { 1.0 } else { 0.0 })
                            .collect(),
                    );
                }
            }
        }
    }
    let n = rows.len();
    let x = (0..n)
        .flat_map(|i| columns.iter().map(move |c| c[i]))
        .collect();
    Ok((names, x))
}

pub(crate) fn emit(
    format: OutputFormat,
    result: Map<String, Value>,
    l: &Loaded,
    params: Value,
    text: impl FnOnce(&Value) -> String,
) {
    let protection = l.protector.metadata(0, 0);
    let env = inzicht_protect::envelope(result, protection, None, params);
    match format {
        OutputFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&env).unwrap_or_default())
        }
        OutputFormat::Table => {
            println!("{}", text(&env));
            let note = if l.protector.is_protected() {
                format!(
                    "Beschermd: groepen en stappen met minder dan {} personen of gebeurtenissen zijn samengevoegd of weggelaten; aantallen zijn verstoord. / Protected.",
                    l.protector.threshold()
                )
            } else {
                "Onbeschermd (--sdc off): alleen voor openbare gegevens. / Unprotected: public data only.".to_string()
            };
            println!("\n{note}");
        }
    }
}

/// The text line for a group that disclosure control hid, if it was.
fn suppressed_group_line(name: &str, g: &Value) -> Option<String> {
    (g["suppressed"] == json!(true)).then(|| {
        format!(
            "Groep {name}: afgeschermd — {}\n",
            g["reason"].as_str().unwrap_or("")
        )
    })
}

fn f(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 && x.abs() < 1e9 => format!("{x:.0}"),
        Some(x) if x.abs() >= 1e4 || (x != 0.0 && x.abs() < 1e-3) => format!("{x:.4e}"),
        Some(x) => format!("{x:.4}"),
        None => "—".to_string(),
    }
}

pub fn km(a: KmArgs) -> Result<(), Failure> {
    let l = Loaded::open(&a.common)?;
    let method = km::CiMethod::parse(&a.ci_method).map_err(stats_error)?;
    let mut cols = vec![a.time.as_str(), a.event.as_str()];
    if let Some(g) = &a.group {
        cols.push(g);
    }
    let cc = complete_rows(&l, &a.common, &cols)?;
    let time = numbers(&l, &a.time, &cc.rows)?;
    let event = flags(&l, &a.event, &cc.rows)?;
    let (codes, levels) = match &a.group {
        Some(g) => groups(&l, g, &cc.rows)?,
        None => (vec![0; cc.rows.len()], vec![String::new()]),
    };
    let mut out = Vec::new();
    for (k, level) in levels.iter().enumerate() {
        let idx: Vec<usize> = (0..cc.rows.len()).filter(|&i| codes[i] == k).collect();
        let label = a.group.as_ref().map(|_| level.clone());
        let t: Vec<f64> = idx.iter().map(|&i| time[i]).collect();
        let e: Vec<bool> = idx.iter().map(|&i| event[i]).collect();
        let fit = km::kaplan_meier(&t, &e, None, method, 0.95).map_err(stats_error)?;
        if !l.protector.is_protected() {
            let mut g = serde_json::to_value(&fit).unwrap_or_default();
            g["group"] = json!(label);
            out.push(g);
            continue;
        }
        out.push(protected_km(
            &l,
            &idx.iter().map(|&i| cc.rows[i]).collect::<Vec<_>>(),
            &t,
            &e,
            &fit,
            method,
            label,
        ));
    }
    let mut result = Map::new();
    result.insert("groups".into(), json!(out));
    result.insert("ci_method".into(), json!(method.name()));
    result.insert("rows_dropped_missing".into(), json!(cc.dropped));
    let params = json!({"data": a.common.data, "time": a.time, "event": a.event, "group": a.group, "ci_method": method.name()});
    if let Some(path) = &a.svg {
        let svg =
            inzicht_charts::km::chart(&Value::Object(result.clone()), &a.time, a.group.as_deref());
        std::fs::write(path, svg).map_err(|e| Failure::io(format!("{}: {e}", path.display())))?;
    }
    emit(a.common.format, result, &l, params, |env| {
        let mut s = String::new();
        for g in env["groups"].as_array().into_iter().flatten() {
            let name = g["group"].as_str().unwrap_or("alle / all");
            if let Some(line) = suppressed_group_line(name, g) {
                s.push_str(&line);
                continue;
            }
            s.push_str(&format!(
                "Groep {name}: mediaan {} (95%-BI {} – {})\n  {:>10} {:>8} {:>8} {:>9} {:>9} {:>9}\n",
                f(&g["median"]), f(&g["median_lower"]), f(&g["median_upper"]),
                "tijd", "at risk", "events", "overleving", "onder", "boven"
            ));
            let n = g["times"].as_array().map_or(0, |v| v.len());
            for j in 0..n {
                s.push_str(&format!(
                    "  {:>10} {:>8} {:>8} {:>9} {:>9} {:>9}\n",
                    f(&g["times"][j]),
                    f(&g["at_risk"][j]),
                    f(&g["events"][j]),
                    f(&g["survival"][j]),
                    f(&g["ci_lower"][j]),
                    f(&g["ci_upper"][j])
                ));
            }
        }
        s
    });
    Ok(())
}

/// A Kaplan–Meier curve through the curve rules: event times pooled until the events reach the
/// threshold, the curve ending where fewer than the threshold are at risk, perturbed counts;
/// Greenwood's variance on the protected counts.
fn protected_km(
    l: &Loaded,
    rows: &[usize],
    time: &[f64],
    event: &[bool],
    fit: &km::KmCurve,
    method: km::CiMethod,
    label: Option<String>,
) -> Value {
    let threshold = l.protector.threshold();
    if (rows.len() as u64) < threshold || (fit.total_events as u64) < threshold {
        return json!({"group": label, "suppressed": true,
            "reason": format!("minder dan {threshold} personen of gebeurtenissen / fewer than {threshold} persons or events")});
    }
    // Steps at each distinct event time: at risk (time ≥ t) and events at t, with key sums.
    let mut order: Vec<usize> = (0..time.len()).collect();
    order.sort_by(|&a, &b| time[b].total_cmp(&time[a]));
    let mut steps_rev = Vec::new();
    let mut at_risk = CellInput::default();
    let mut i = 0;
    while i < order.len() {
        let t = time[order[i]];
        let mut ev = CellInput::default();
        while i < order.len() && time[order[i]] == t {
            let k = l.keys[rows[order[i]]] % inzicht_protect::CELL_KEY_MODULUS;
            at_risk.persons += 1;
            at_risk.key_sum = combine_key_sums(at_risk.key_sum, k);
            if event[order[i]] {
                ev.persons += 1;
                ev.key_sum = combine_key_sums(ev.key_sum, k);
            }
            i += 1;
        }
        if ev.persons > 0 {
            steps_rev.push((t, at_risk, ev));
        }
    }
    steps_rev.reverse();
    let times: Vec<f64> = steps_rev.iter().map(|s| s.0).collect();
    let steps: Vec<StepInput> = steps_rev
        .iter()
        .enumerate()
        .map(|(j, s)| StepInput {
            time: j as u32,
            at_risk: s.1,
            events: s.2,
        })
        .collect();
    let curve = curve::protect(&l.protector, &steps);
    let z = inzicht_stats::dist::norm_quantile(0.975);
    let (mut t_out, mut s_out, mut lo, mut hi, mut n_out, mut d_out) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut greenwood = 0.0;
    for st in &curve.steps {
        let (n, d) = (st.at_risk, st.events);
        let se = if n > d {
            greenwood += d / (n * (n - d));
            Some(greenwood.sqrt())
        } else {
            None
        };
        let (a, b) = km::limits(st.survival, se, z, method);
        t_out.push(times[st.to as usize - 1]);
        s_out.push(st.survival);
        lo.push(a);
        hi.push(b);
        n_out.push(n);
        d_out.push(d);
    }
    let sv: Vec<Option<f64>> = s_out.iter().map(|&v| Some(v)).collect();
    json!({
        "group": label,
        "times": t_out, "survival": s_out, "ci_lower": lo, "ci_upper": hi,
        "at_risk": n_out, "events": d_out,
        "median": km::quantile(&t_out, &sv, 0.5),
        "median_lower": km::quantile(&t_out, &lo, 0.5),
        "median_upper": km::quantile(&t_out, &hi, 0.5),
        "pooled_steps": curve.pooled_months,
        "end_reason": curve.end_reason,
    })
}

/// Cumulative incidence per cause (Aalen–Johansen). Protected: event times are pooled until
/// every cause in the pool has no exits or at least the threshold, the curve ends where fewer
/// than the threshold are at risk, and counts are perturbed; the curves and their standard
/// errors are computed from these protected counts only.
pub fn cif(a: CifArgs) -> Result<(), Failure> {
    let l = Loaded::open(&a.common)?;
    let mut cols = vec![a.time.as_str()];
    if let Some(g) = &a.group {
        cols.push(g);
    }
    let cc = complete_rows(&l, &a.common, &cols)?;
    let time = numbers(&l, &a.time, &cc.rows)?;
    let labels = l.frame.labels(&a.cause).map_err(read_error)?;
    let cause_of: Vec<Option<String>> = cc
        .rows
        .iter()
        .map(|&i| labels[i].clone().filter(|v| v != "0"))
        .collect();
    let mut causes: Vec<String> = cause_of.iter().flatten().cloned().collect();
    causes.sort();
    causes.dedup();
    if causes.is_empty() {
        return Err(Failure::usage(format!(
            "column '{}' has no events: every row is censored (0 or empty)",
            a.cause
        )));
    }
    let code: Vec<usize> = cause_of
        .iter()
        .map(|c| {
            c.as_ref().map_or(0, |c| {
                causes.iter().position(|x| x == c).map_or(0, |k| k + 1)
            })
        })
        .collect();
    let (gcodes, levels) = match &a.group {
        Some(g) => groups(&l, g, &cc.rows)?,
        None => (vec![0; cc.rows.len()], vec![String::new()]),
    };
    let k = causes.len();
    let mut out = Vec::new();
    for (gi, level) in levels.iter().enumerate() {
        let idx: Vec<usize> = (0..cc.rows.len()).filter(|&i| gcodes[i] == gi).collect();
        let label = a.group.as_ref().map(|_| level.clone());
        let t: Vec<f64> = idx.iter().map(|&i| time[i]).collect();
        let c: Vec<usize> = idx.iter().map(|&i| code[i]).collect();
        let entry = if l.protector.is_protected() {
            protected_cif(
                &l,
                &idx.iter().map(|&i| cc.rows[i]).collect::<Vec<_>>(),
                &t,
                &c,
                k,
            )?
        } else {
            let ci =
                inzicht_stats::competing::aalen_johansen(&t, &c, k, None).map_err(stats_error)?;
            json!({"times": ci.times, "at_risk": ci.at_risk, "survival": ci.survival,
                "causes": ci.causes.iter().map(|cc| json!({"cause": causes[cc.cause - 1], "cif": cc.cif, "std_err": cc.std_err, "events": cc.events})).collect::<Vec<_>>()})
        };
        let mut entry = entry;
        entry["group"] = json!(label);
        if let Some(obj) = entry.as_object_mut() {
            for cv in obj
                .get_mut("causes")
                .and_then(|v| v.as_array_mut())
                .into_iter()
                .flatten()
            {
                if let Some(i) = cv["cause"].as_u64() {
                    cv["cause"] = json!(causes[i as usize - 1]);
                }
            }
        }
        out.push(entry);
    }
    let mut result = Map::new();
    result.insert("groups".into(), json!(out));
    result.insert("rows_dropped_missing".into(), json!(cc.dropped));
    let params = json!({"data": a.common.data, "time": a.time, "cause": a.cause, "group": a.group});
    emit(a.common.format, result, &l, params, |env| {
        let mut s = String::new();
        for g in env["groups"].as_array().into_iter().flatten() {
            let name = g["group"].as_str().unwrap_or("alle / all");
            if let Some(line) = suppressed_group_line(name, g) {
                s.push_str(&line);
                continue;
            }
            s.push_str(&format!("Groep {name}: cumulatieve incidentie per oorzaak aan het eind van de getoonde tijd\n"));
            let n = g["times"].as_array().map_or(0, |v| v.len());
            for c in g["causes"].as_array().into_iter().flatten() {
                if n > 0 {
                    s.push_str(&format!(
                        "  {:<20} {} (se {}) op tijd {}\n",
                        c["cause"].as_str().unwrap_or(""),
                        f(&c["cif"][n - 1]),
                        f(&c["std_err"][n - 1]),
                        f(&g["times"][n - 1])
                    ));
                }
            }
        }
        s
    });
    Ok(())
}

/// The protected cumulative incidence of one group (see [`cif`]).
fn protected_cif(
    l: &Loaded,
    rows: &[usize],
    time: &[f64],
    cause: &[usize],
    k: usize,
) -> Result<Value, Failure> {
    let threshold = l.protector.threshold();
    let events = cause.iter().filter(|&&c| c > 0).count() as u64;
    if (rows.len() as u64) < threshold || events < threshold {
        return Ok(json!({"suppressed": true,
            "reason": format!("minder dan {threshold} personen of gebeurtenissen / fewer than {threshold} persons or events")}));
    }
    // Steps at each distinct event time: at risk, all exits, and exits per cause, with key sums.
    let key = |i: usize| l.keys[rows[i]] % inzicht_protect::CELL_KEY_MODULUS;
    let mut order: Vec<usize> = (0..time.len()).collect();
    order.sort_by(|&a, &b| time[b].total_cmp(&time[a]));
    let mut steps_rev: Vec<(f64, CellInput, CellInput, Vec<CellInput>)> = Vec::new();
    let mut at_risk = CellInput::default();
    let mut i = 0;
    while i < order.len() {
        let t = time[order[i]];
        let mut all = CellInput::default();
        let mut per = vec![CellInput::default(); k];
        while i < order.len() && time[order[i]] == t {
            let r = order[i];
            at_risk.persons += 1;
            at_risk.key_sum = combine_key_sums(at_risk.key_sum, key(r));
            if cause[r] > 0 {
                all.persons += 1;
                all.key_sum = combine_key_sums(all.key_sum, key(r));
                let c = &mut per[cause[r] - 1];
                c.persons += 1;
                c.key_sum = combine_key_sums(c.key_sum, key(r));
            }
            i += 1;
        }
        if all.persons > 0 {
            steps_rev.push((t, at_risk, all, per));
        }
    }
    steps_rev.reverse();
    // Pool consecutive event times until every cause in the pool has either no exits or at least
    // the threshold, and all causes together at least the threshold; stop where fewer than the
    // threshold are at risk, and drop an unfinished last pool.
    let mut pools: Vec<(usize, usize, Vec<CellInput>)> = Vec::new();
    let mut end_reason = "einde van de gegevens / end of data";
    let mut i = 0;
    'pools: while i < steps_rev.len() {
        let mut per = vec![CellInput::default(); k];
        let mut j = i;
        loop {
            if steps_rev[j].1.persons < threshold {
                end_reason =
                    "minder personen at risk dan de drempel / fewer at risk than the threshold";
                break 'pools;
            }
            for (c, cell) in per.iter_mut().enumerate() {
                cell.persons += steps_rev[j].3[c].persons;
                cell.key_sum = combine_key_sums(cell.key_sum, steps_rev[j].3[c].key_sum);
            }
            j += 1;
            let total: u64 = per.iter().map(|c| c.persons).sum();
            if total >= threshold && per.iter().all(|c| c.persons == 0 || c.persons >= threshold) {
                pools.push((i, j, per));
                i = j;
                break;
            }
            if j == steps_rev.len() {
                end_reason = "te weinig gebeurtenissen aan het eind / too few events at the end";
                break 'pools;
            }
        }
    }
    // Grouped data from the protected counts: per pool each cause's perturbed exits, and those
    // leaving observation before the next pool; the estimator and its variance run on these.
    let mut groups: Vec<inzicht_stats::competing::Group> = Vec::new();
    let mut times = Vec::new();
    let mut at_risk_shown = Vec::new();
    for (p_i, (from, to, per)) in pools.iter().enumerate() {
        let t_end = steps_rev[to - 1].0;
        times.push(t_end);
        let n_start = l.protector.count(&steps_rev[*from].1).value.unwrap_or(0.0);
        at_risk_shown.push(n_start);
        let mut shown_total = 0.0;
        for (c, cell) in per.iter().enumerate() {
            if cell.persons == 0 {
                continue;
            }
            let v = l.protector.count(cell).value.unwrap_or(0.0);
            shown_total += v;
            groups.push(inzicht_stats::competing::Group {
                time: t_end,
                cause: c + 1,
                w: v,
                w2: v,
            });
        }
        let next = pools.get(p_i + 1).map_or(0.0, |n| {
            l.protector.count(&steps_rev[n.0].1).value.unwrap_or(0.0)
        });
        let censored = (n_start - shown_total - next).max(0.0);
        if censored > 0.0 {
            groups.push(inzicht_stats::competing::Group {
                time: t_end,
                cause: 0,
                w: censored,
                w2: censored,
            });
        }
    }
    groups.sort_by(|a, b| a.time.total_cmp(&b.time).then(a.cause.cmp(&b.cause)));
    let ci = inzicht_stats::competing::from_groups(&groups, k);
    Ok(json!({
        "times": times,
        "at_risk": at_risk_shown,
        "causes": (0..k).map(|c| json!({
            "cause": c + 1,
            "cif": times.iter().map(|&t| ci.cif_at(c, t)).collect::<Vec<_>>(),
            "std_err": times.iter().map(|&t| ci.se_at(c, t)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "pooled_steps": steps_rev.len().saturating_sub(pools.len()),
        "end_reason": end_reason,
    }))
}

pub fn logrank(a: LogrankArgs) -> Result<(), Failure> {
    let l = Loaded::open(&a.common)?;
    let mut cols = vec![a.time.as_str(), a.event.as_str(), a.group.as_str()];
    if let Some(s) = &a.strata {
        cols.push(s);
    }
    let cc = complete_rows(&l, &a.common, &cols)?;
    let time = numbers(&l, &a.time, &cc.rows)?;
    let event = flags(&l, &a.event, &cc.rows)?;
    let (codes, levels) = groups(&l, &a.group, &cc.rows)?;
    let strata = match &a.strata {
        Some(s) => Some(groups(&l, s, &cc.rows)?.0),
        None => None,
    };
    // Each group needs the threshold of persons and of events under protection.
    let mut sizes = Vec::new();
    for (k, level) in levels.iter().enumerate() {
        let members: Vec<usize> = (0..cc.rows.len()).filter(|&i| codes[i] == k).collect();
        let events = members.iter().filter(|&&i| event[i]).count() as u64;
        sizes.push((
            format!("{} = {level}", a.group),
            (members.len() as u64).min(events),
        ));
    }
    let r = logrank::logrank(&time, &event, &codes, levels.len(), strata.as_deref())
        .map_err(stats_error)?;
    // Shown only when every group has enough persons and events (checked after the test so that
    // a test that cannot be computed says why first).
    let named: Vec<(&str, u64)> = sizes.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    l.protector
        .require_groups(&named)
        .map_err(|r| Failure::usage(r.0))?;
    let mut result = Map::new();
    result.insert("statistic".into(), json!(r.statistic));
    result.insert("df".into(), json!(r.df));
    result.insert("p_value".into(), json!(r.p_value));
    let per_group: Vec<Value> = levels
        .iter()
        .enumerate()
        .map(|(k, level)| {
            let members = (0..cc.rows.len()).filter(|&i| codes[i] == k).map(|i| cc.rows[i]);
            let evs = (0..cc.rows.len()).filter(|&i| codes[i] == k && event[i]).map(|i| cc.rows[i]);
            if l.protector.is_protected() {
                json!({"group": level, "n": l.count(members), "observed": l.count(evs), "expected": r.expected[k]})
            } else {
                json!({"group": level, "n": members.count(), "observed": r.observed[k], "expected": r.expected[k]})
            }
        })
        .collect();
    result.insert("groups".into(), json!(per_group));
    result.insert("rows_dropped_missing".into(), json!(cc.dropped));
    let params = json!({"data": a.common.data, "time": a.time, "event": a.event, "group": a.group, "strata": a.strata});
    emit(a.common.format, result, &l, params, |env| {
        format!(
            "Log-rank{}: chi² = {}, df = {}, p = {}",
            if a.strata.is_some() {
                " (gestratificeerd / stratified)"
            } else {
                ""
            },
            f(&env["statistic"]),
            env["df"],
            f(&env["p_value"])
        )
    });
    Ok(())
}

pub fn cox(a: CoxArgs) -> Result<(), Failure> {
    let l = Loaded::open(&a.common)?;
    let ties = cox::Ties::parse(&a.ties).map_err(stats_error)?;
    let transform = cox::ZphTransform::parse(&a.ph_transform).map_err(stats_error)?;
    let mut cols: Vec<&str> = vec![a.time.as_str(), a.event.as_str()];
    cols.extend(a.covariates.iter().map(|s| s.as_str()));
    for c in [&a.start, &a.cluster, &a.weights, &a.strata]
        .into_iter()
        .flatten()
    {
        cols.push(c);
    }
    let cc = complete_rows(&l, &a.common, &cols)?;
    let stop = numbers(&l, &a.time, &cc.rows)?;
    let event = flags(&l, &a.event, &cc.rows)?;
    let start = match &a.start {
        Some(s) => Some(numbers(&l, s, &cc.rows)?),
        None => None,
    };
    let weights = match &a.weights {
        Some(w) => Some(numbers(&l, w, &cc.rows)?),
        None => None,
    };
    let strata = match &a.strata {
        Some(s) => Some(groups(&l, s, &cc.rows)?.0),
        None => None,
    };
    let cluster = match &a.cluster {
        Some(c) => Some(groups(&l, c, &cc.rows)?.0),
        None => None,
    };
    let (names, x) = design(&l, &a.covariates, &cc.rows)?;
    // Persons: distinct clusters when a cluster is given (several rows per person), else rows.
    let persons = cluster.as_ref().map_or(cc.rows.len(), |c| {
        let mut v = c.clone();
        v.sort_unstable();
        v.dedup();
        v.len()
    });
    let data = cox::CoxData {
        start: start.as_deref(),
        stop: &stop,
        event: &event,
        x: &x,
        names: &names,
        weights: weights.as_deref(),
        strata: strata.as_deref(),
        cluster: cluster.as_deref(),
    };
    let opt = cox::CoxOptions {
        ties,
        robust: a.robust,
        ..Default::default()
    };
    let fit = cox::fit(&data, &opt).map_err(stats_error)?;
    // Shown only when enough persons and events lie behind the model (checked after fitting so
    // that a model that cannot be estimated says why first).
    let events = event.iter().filter(|&&e| e).count();
    l.protector
        .require_groups(&[
            ("personen / persons", persons as u64),
            ("gebeurtenissen / events", events as u64),
        ])
        .map_err(|r| Failure::usage(r.0))?;
    let ph = cox::zph(&data, &fit, transform).ok();
    let mut result = match serde_json::to_value(&fit) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if l.protector.is_protected() {
        let ev_rows = (0..cc.rows.len()).filter(|&i| event[i]).map(|i| cc.rows[i]);
        result.insert("n".into(), l.count(cc.rows.iter().copied()));
        result.insert("events".into(), l.count(ev_rows));
    }
    result.insert("proportional_hazards".into(), json!(ph));
    result.insert("rows_dropped_missing".into(), json!(cc.dropped));
    let params = json!({"data": a.common.data, "start": a.start, "time": a.time, "event": a.event,
        "covariates": a.covariates, "ties": a.ties, "robust": a.robust || a.cluster.is_some(),
        "cluster": a.cluster, "weights": a.weights, "strata": a.strata});
    emit(a.common.format, result, &l, params, |env| {
        let mut s = format!(
            "Cox-model ({}; n = {}, gebeurtenissen = {}), concordantie {}\n  {:<24} {:>10} {:>10} {:>8} {:>10} {:>10} {:>20}\n",
            a.ties, f(&env["n"]), f(&env["events"]), f(&env["concordance"]),
            "covariaat", "coef", "se", "z", "p", "HR", "95%-BI"
        );
        for c in env["coefficients"].as_array().into_iter().flatten() {
            s.push_str(&format!(
                "  {:<24} {:>10} {:>10} {:>8} {:>10} {:>10} {:>9} – {:<9}\n",
                c["name"].as_str().unwrap_or(""),
                f(&c["coef"]),
                f(&c["se"]),
                f(&c["z"]),
                f(&c["p"]),
                f(&c["hr"]),
                f(&c["hr_lower"]),
                f(&c["hr_upper"])
            ));
        }
        for w in env["warnings"].as_array().into_iter().flatten() {
            s.push_str(&format!(
                "  Let op / warning: {}\n",
                w.as_str().unwrap_or("")
            ));
        }
        if let Some(t) = env["proportional_hazards"]["global"].as_object() {
            s.push_str(&format!(
                "  Proportionele hazards (score-test, {}): globaal chi² = {}, p = {}\n",
                a.ph_transform,
                f(&t["chisq"]),
                f(&t["p"])
            ));
        }
        s
    });
    Ok(())
}

pub fn match_cmd(a: MatchArgs) -> Result<(), Failure> {
    if !a.estimand.eq_ignore_ascii_case("att") {
        return Err(Failure::usage(
            "only --estimand att (the effect on the treated) is supported: matching controls to treated units estimates that",
        ));
    }
    let l = Loaded::open(&a.common)?;
    let mut cols: Vec<&str> = vec![a.treatment.as_str(), a.outcome.as_str()];
    cols.extend(a.covariates.iter().map(|s| s.as_str()));
    let cc = complete_rows(&l, &a.common, &cols)?;
    let treated = flags(&l, &a.treatment, &cc.rows)?;
    let y = numbers(&l, &a.outcome, &cc.rows)?;
    let (names, x) = design(&l, &a.covariates, &cc.rows)?;
    let opt = matching::MatchOptions {
        caliper: a.caliper,
        ratio: a.ratio,
        replace: a.replace,
        conf_level: 0.95,
    };
    let r = matching::match_att(&x, &names, &treated, &y, &opt).map_err(stats_error)?;
    let matched_t = r.pairs.len() as u64;
    l.protector
        .require_groups(&[
            ("behandeld / treated", matched_t),
            ("controles / controls", r.n_controls_used as u64),
        ])
        .map_err(|e| Failure::usage(e.0))?;
    let mut result = match serde_json::to_value(&r) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if l.protector.is_protected() {
        result.insert(
            "balance".into(),
            inzicht_store::effects::protect_balance(&r.balance, &l.protector),
        );
        let t_rows = (0..cc.rows.len())
            .filter(|&i| treated[i])
            .map(|i| cc.rows[i]);
        let c_rows = (0..cc.rows.len())
            .filter(|&i| !treated[i] && r.weights[i] > 0.0)
            .map(|i| cc.rows[i]);
        result.insert("n_treated".into(), l.count(t_rows));
        result.insert("n_controls_used".into(), l.count(c_rows));
        // A count below the threshold is not shown.
        let unmatched = r.n_treated_unmatched as u64;
        result.insert(
            "n_treated_unmatched".into(),
            if unmatched == 0 {
                json!(0)
            } else if unmatched < l.protector.threshold() {
                Value::Null
            } else {
                json!(unmatched)
            },
        );
    }
    result.insert("estimand".into(), json!("ATT"));
    result.insert("method".into(), json!("nearest neighbour on the logit of the propensity score; treated in descending order of the score; ties (within 1e-9) to the lowest row; paired-difference standard error"));
    result.insert("rows_dropped_missing".into(), json!(cc.dropped));
    let params = json!({"data": a.common.data, "treatment": a.treatment, "outcome": a.outcome,
        "covariates": a.covariates, "caliper": a.caliper, "ratio": a.ratio, "replace": a.replace});
    emit(a.common.format, result, &l, params, |env| {
        let mut s = format!(
            "Effect op de behandelden (ATT): {} (se {}, 95%-BI {} – {})\nBehandeld {}, controles gebruikt {}\nBalans (gestandaardiseerd verschil voor → na; variantieverhouding voor → na):\n",
            f(&env["att"]), f(&env["se"]), f(&env["ci"][0]), f(&env["ci"][1]), f(&env["n_treated"]), f(&env["n_controls_used"])
        );
        for b in env["balance"].as_array().into_iter().flatten() {
            s.push_str(&format!(
                "  {:<20} {:>8} → {:<8} {:>8} → {:<8}\n",
                b["name"].as_str().unwrap_or(""),
                f(&b["smd_before"]),
                f(&b["smd_after"]),
                f(&b["vr_before"]),
                f(&b["vr_after"])
            ));
        }
        for w in env["warnings"].as_array().into_iter().flatten() {
            s.push_str(&format!("Let op / warning: {}\n", w.as_str().unwrap_or("")));
        }
        s
    });
    Ok(())
}
