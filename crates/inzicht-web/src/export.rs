//! Downloads of a page's tables: CSV in the Dutch Excel convention (semicolon, decimal comma) or
//! the international one (comma, decimal point), and XLSX. Every download is the protected
//! result the page shows, stamped with the snapshot, the version and the protection.
//!
//! Spreadsheet formula injection (OWASP "CSV injection"): a text cell that starts with `=`, `+`,
//! `-`, `@`, a tab or a carriage return is prefixed with an apostrophe, so that Excel and
//! LibreOffice show it as text instead of running it. Numbers are written as numbers.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    /// A protected number; `None` is a suppressed cell.
    Num(Option<f64>),
}

#[derive(Debug, Clone)]
pub struct Tab {
    pub name: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format {
    CsvNl,
    Csv,
    Xlsx,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "csv-nl" => Some(Format::CsvNl),
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            _ => "csv",
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            _ => "text/csv; charset=utf-8",
        }
    }
}

/// Text that a spreadsheet would read as a formula gets a leading apostrophe.
pub fn neutralise(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

fn csv_field(s: &str, sep: char) -> String {
    let s = neutralise(s);
    if s.contains(sep) || s.contains('"') || s.contains('\n') || s.contains('\r') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn number(x: f64, decimal_comma: bool) -> String {
    let s = if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        let t = format!("{x:.6}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    if decimal_comma {
        s.replace('.', ",")
    } else {
        s
    }
}

/// The lines that say where the numbers come from.
pub fn stamp(snapshot: &str, protection: &Value) -> Vec<String> {
    vec![
        format!(
            "inzicht {}; lading/snapshot {snapshot}",
            env!("CARGO_PKG_VERSION")
        ),
        format!(
            "beschermd/protected: drempel/threshold {}, cell-key noise; afgeschermd = leeg / suppressed = empty",
            protection["threshold"]
        ),
    ]
}

pub fn csv(t: &Tab, dutch: bool, stamp_lines: &[String]) -> Vec<u8> {
    let sep = if dutch { ';' } else { ',' };
    let mut out = String::from('\u{feff}'); // BOM: Excel then reads UTF-8
    let line = |cells: Vec<String>| cells.join(&sep.to_string());
    out.push_str(&line(t.header.iter().map(|h| csv_field(h, sep)).collect()));
    out.push_str("\r\n");
    for r in &t.rows {
        let cells = r
            .iter()
            .map(|c| match c {
                Cell::Text(s) => csv_field(s, sep),
                Cell::Num(Some(x)) => number(*x, dutch),
                Cell::Num(None) => String::new(),
            })
            .collect();
        out.push_str(&line(cells));
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    for s in stamp_lines {
        out.push_str(&csv_field(&format!("# {s}"), sep));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

pub fn xlsx(t: &Tab, stamp_lines: &[String]) -> Result<Vec<u8>, String> {
    use rust_xlsxwriter::Workbook;
    let mut wb = Workbook::new();
    let e = |x: rust_xlsxwriter::XlsxError| x.to_string();
    let ws = wb.add_worksheet();
    let sheet: String = t
        .name
        .chars()
        .filter(|c| !"[]:*?/\\".contains(*c))
        .take(31)
        .collect();
    ws.set_name(if sheet.is_empty() { "tabel" } else { &sheet })
        .map_err(e)?;
    for (j, h) in t.header.iter().enumerate() {
        ws.write_string(0, j as u16, neutralise(h)).map_err(e)?;
    }
    for (i, r) in t.rows.iter().enumerate() {
        for (j, c) in r.iter().enumerate() {
            let (row, col) = (i as u32 + 1, j as u16);
            match c {
                Cell::Text(s) => {
                    ws.write_string(row, col, neutralise(s)).map_err(e)?;
                }
                Cell::Num(Some(x)) => {
                    ws.write_number(row, col, *x).map_err(e)?;
                }
                Cell::Num(None) => {}
            }
        }
    }
    let about = wb.add_worksheet();
    about.set_name("over").map_err(e)?;
    for (i, s) in stamp_lines.iter().enumerate() {
        about.write_string(i as u32, 0, neutralise(s)).map_err(e)?;
    }
    wb.save_to_buffer().map_err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_numbers_follow_the_convention() {
        let t = Tab {
            name: "t".into(),
            header: vec!["wijk".into(), "aantal".into()],
            rows: vec![
                vec![
                    Cell::Text("=HYPERLINK(\"http://x\")".into()),
                    Cell::Num(Some(1234.5)),
                ],
                vec![Cell::Text("@SUM(A1)".into()), Cell::Num(None)],
                vec![Cell::Text("a;b".into()), Cell::Num(Some(-2.0))],
            ],
        };
        let nl = String::from_utf8(csv(&t, true, &[])).unwrap();
        assert!(nl.contains("\"'=HYPERLINK(\"\"http://x\"\")\";1234,5"));
        assert!(nl.contains("'@SUM(A1);\r\n"));
        assert!(nl.contains("\"a;b\";-2"));
        let intl = String::from_utf8(csv(&t, false, &[])).unwrap();
        assert!(intl.contains(",1234.5"));
        assert!(xlsx(&t, &["x".into()]).unwrap().starts_with(b"PK"));
    }
}
