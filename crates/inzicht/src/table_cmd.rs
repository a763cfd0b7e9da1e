//! `inzicht table`: wiring of the protected pivot (crates/inzicht-store/src/table.rs) to the
//! command line — key file, policy, query log, output.

use crate::cli::{Failure, OutputFormat, StoreArgs};
use clap::Args;
use inzicht_protect::{Policy, Protector};
use inzicht_store::table::{Asker, Measure, Session, TableError, TableQuery};

#[derive(Args)]
pub struct TableArgs {
    #[command(flatten)]
    pub common: StoreArgs,
    /// Dimensions, comma-separated (inzicht table --list).
    #[arg(long, value_delimiter = ',')]
    pub by: Vec<String>,
    /// Which person-months to include, e.g. "age_band = '<27' and wijk in (W01, W02)".
    #[arg(long = "where")]
    pub filter: Option<String>,
    /// count | person_months | sum:VARIABLE | mean:VARIABLE
    #[arg(long, default_value = "count")]
    pub measure: String,
    /// List the dimensions and measures instead.
    #[arg(long)]
    pub list: bool,
}

impl From<TableError> for Failure {
    fn from(e: TableError) -> Self {
        match e {
            TableError::Input(m) | TableError::Refused(m) => Failure::usage(m),
            TableError::Internal(m) => Failure::io(m),
        }
    }
}

/// The operating-system user (from the real user id, which an analyst cannot change the way
/// they can change $USER): the query budget is per user.
pub fn os_user() -> String {
    // SAFETY: getuid never fails; getpwuid returns null or a pointer to static storage that is
    // only read here, before any other call into libc's passwd functions on this thread.
    unsafe {
        let uid = libc::getuid();
        let pw = libc::getpwuid(uid);
        if !pw.is_null() && !(*pw).pw_name.is_null() {
            if let Ok(name) = std::ffi::CStr::from_ptr((*pw).pw_name).to_str() {
                return name.to_string();
            }
        }
        format!("uid-{uid}")
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn table(a: TableArgs) -> Result<(), Failure> {
    let key_file = a.common.key_file()?;
    let secrets = inzicht_store::recordkeys::secrets_dir(&key_file);
    let policy = Policy::from_dir(&secrets).map_err(Failure::usage)?;
    let protector = Protector::new(policy.clone()).map_err(Failure::usage)?;
    let session = Session::open(&a.common.store, a.common.as_of.as_deref(), &key_file)?;
    if a.list {
        let list = session.list();
        match a.common.format {
            OutputFormat::Json => println!(
                "{}",
                serde_json::to_string_pretty(&list).unwrap_or_default()
            ),
            OutputFormat::Table => {
                println!("Indelingen (--by, --where):");
                for d in list["dimensions"].as_array().into_iter().flatten() {
                    println!(
                        "  {:<18} {:<8} {}",
                        d["name"].as_str().unwrap_or(""),
                        d["type"].as_str().unwrap_or(""),
                        d["label"].as_str().unwrap_or("")
                    );
                }
                println!("Maten (--measure):");
                for m in list["measures"].as_array().into_iter().flatten() {
                    println!(
                        "  {:<28} {}",
                        m["name"].as_str().unwrap_or(""),
                        m["label"].as_str().unwrap_or("")
                    );
                }
            }
        }
        return Ok(());
    }
    let query = TableQuery {
        by: a
            .by
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        filter: a.filter.clone(),
        measure: Measure::parse(&a.measure).map_err(Failure::usage)?,
    };
    let log = inzicht_protect::querylog::QueryLog::new(&secrets.join("query-log"), &os_user());
    let asker = Asker {
        log: &log,
        policy: &policy,
        now: now(),
    };
    let result = session.run(&query, &protector, Some(&asker))?;
    let params = serde_json::json!({
        "by": query.by, "where": query.filter, "measure": query.measure.name(),
        "as_of": a.common.as_of,
    });
    match a.common.format {
        OutputFormat::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&result.to_json(params)).unwrap_or_default()
            );
        }
        OutputFormat::Table => {
            if result.all_suppressed {
                println!(
                    "{}",
                    inzicht_store::table::all_suppressed_message(&result.protection)
                );
                return Ok(());
            }
            print_table(&result);
        }
    }
    Ok(())
}

/// A number in Dutch notation: thousands with a point, decimals with a comma.
fn nl_number(v: f64) -> String {
    let cents = (v.abs() * 100.0).round() as u64;
    let (whole, frac) = (crate::cli::nl(cents / 100), cents % 100);
    let sign = if v < 0.0 { "-" } else { "" };
    if frac > 0 {
        format!("{sign}{whole},{frac:02}")
    } else {
        format!("{sign}{whole}")
    }
}

fn print_table(r: &inzicht_store::table::TableResult) {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header: Vec<String> = r.dimensions.clone();
    header.push(r.measure.clone());
    for c in &r.cells {
        let mut row: Vec<String> = r
            .dimensions
            .iter()
            .map(|d| match &c.key[d] {
                serde_json::Value::Null => "(onbekend)".to_string(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        row.push(c.value.map_or("x".to_string(), nl_number));
        rows.push(row);
    }
    let mut total = vec![String::new(); r.dimensions.len()];
    if let Some(first) = total.first_mut() {
        *first = "Totaal".into();
    }
    total.push(r.total.value.map_or("x".to_string(), nl_number));
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .chain([&header, &total])
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |row: &Vec<String>| {
        row.iter()
            .enumerate()
            .map(|(i, s)| {
                if i + 1 == row.len() {
                    format!("{s:>w$}", w = widths[i])
                } else {
                    format!("{s:<w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!("{}", line(&header));
    for row in &rows {
        println!("{}", line(row));
    }
    println!("{}", line(&total));
    let p = &r.protection;
    println!(
        "\nx = afgeschermd (minder dan {} personen of dominantie). Beleid '{}': aantallen verstoord met de cell-key-methode; {} van {} cellen afgeschermd. Het totaal is apart beschermd en hoeft niet gelijk te zijn aan de som van de cellen. Snapshot {}.",
        p["threshold"],
        p["policy"].as_str().unwrap_or(""),
        p["cells_suppressed"],
        p["cells_total"],
        r.snapshot
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn dutch_numbers_with_decimals() {
        assert_eq!(super::nl_number(4216.0), "4.216");
        assert_eq!(super::nl_number(832.849), "832,85");
        assert_eq!(super::nl_number(0.996), "1");
        assert_eq!(super::nl_number(-1234.5), "-1.234,50");
    }
}
