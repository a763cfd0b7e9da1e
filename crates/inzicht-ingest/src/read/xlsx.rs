//! XLSX sources (small ones: code lists, reference tables). A workbook is read whole, so files
//! above [`MAX_XLSX_BYTES`] are refused with a message; export large sources as CSV or Parquet.

use super::{RawRecord, ReadError, RecordSource};
use calamine::{open_workbook, Data, Reader, Xlsx};
use std::path::Path;

pub const MAX_XLSX_BYTES: u64 = 50 * 1024 * 1024;

pub struct XlsxReader {
    header: Vec<String>,
    rows: std::vec::IntoIter<RawRecord>,
    sheet: String,
}

/// Renders a cell as the text an export would hold: integers without `.0`, dates as ISO dates.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => if *b { "ja" } else { "nee" }.to_string(),
        // Excel serial dates count days from 1899-12-30 (the 1900 leap-year bug included).
        Data::DateTime(d) => {
            inzicht_domain::Date::from_days_since_epoch(d.as_f64().floor() as i64 - 25_569).iso()
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

impl XlsxReader {
    /// Opens `sheet` (or the first sheet) with column names on `header_row` (1-based).
    pub fn open(path: &Path, sheet: Option<&str>, header_row: u32) -> Result<Self, ReadError> {
        let size = std::fs::metadata(path)
            .map_err(|e| ReadError::new(path, None, format!("cannot open: {e}")))?
            .len();
        if size > MAX_XLSX_BYTES {
            return Err(ReadError::new(path, None, format!("the workbook is {} MB; XLSX is read whole and at most {} MB is accepted: export this source as CSV or Parquet", size / 1_000_000, MAX_XLSX_BYTES / 1_000_000)));
        }
        let mut wb: Xlsx<_> = open_workbook(path).map_err(|e| ReadError::new(path, None, format!("not a readable XLSX workbook ({e}); is it a CSV or an old .xls? then set format accordingly")))?;
        let names = wb.sheet_names();
        let sheet_name = match sheet {
            Some(s) => names
                .iter()
                .find(|n| n.as_str() == s)
                .cloned()
                .ok_or_else(|| {
                    ReadError::new(
                        path,
                        None,
                        format!("no sheet '{s}'; the workbook has: {}", names.join(", ")),
                    )
                })?,
            None => names
                .first()
                .cloned()
                .ok_or_else(|| ReadError::new(path, None, "the workbook has no sheets"))?,
        };
        let range = wb
            .worksheet_range(&sheet_name)
            .map_err(|e| ReadError::new(path, None, format!("sheet '{sheet_name}': {e}")))?;
        // Sheet rows are numbered from the range's first row; calamine skips leading empty rows.
        let first_row = range.start().map(|(r, _)| r as u64 + 1).unwrap_or(1);
        let mut header: Option<Vec<String>> = None;
        let mut rows = Vec::new();
        for (i, row) in range.rows().enumerate() {
            let line = first_row + i as u64;
            let fields: Vec<String> = row.iter().map(cell_text).collect();
            if line < u64::from(header_row) {
                continue;
            }
            if header.is_none() {
                let h: Vec<String> = fields.iter().map(|f| f.trim().to_string()).collect();
                let named: Vec<&String> = h.iter().filter(|x| !x.is_empty()).collect();
                let mut unique = named.clone();
                unique.sort();
                unique.dedup();
                let last_named = h.iter().rposition(|x| !x.is_empty()).unwrap_or(0);
                if named.is_empty()
                    || unique.len() != named.len()
                    || h[..=last_named].iter().any(|x| x.is_empty())
                {
                    return Err(ReadError::new(
                        path,
                        Some(line),
                        format!("sheet '{sheet_name}': row {line} is not a header with one unique name per column (merged header cells?); set header_row to the row that holds the column names"),
                    ));
                }
                header = Some(h[..=last_named].to_vec());
                continue;
            }
            if fields.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            rows.push(RawRecord { line, fields });
        }
        let header = header.ok_or_else(|| {
            ReadError::new(
                path,
                None,
                format!("sheet '{sheet_name}' has no header row"),
            )
        })?;
        Ok(XlsxReader {
            header,
            rows: rows.into_iter(),
            sheet: sheet_name,
        })
    }
}

impl RecordSource for XlsxReader {
    fn header(&self) -> &[String] {
        &self.header
    }
    fn next_record(&mut self) -> Option<Result<RawRecord, ReadError>> {
        self.rows.next().map(Ok)
    }
    fn describe(&self) -> String {
        format!("xlsx, sheet {}", self.sheet)
    }
}
