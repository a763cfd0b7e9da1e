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
        let mut header: Option<(u64, Vec<String>)> = None;
        let mut rows = Vec::new();
        for (i, row) in range.rows().enumerate() {
            let line = first_row + i as u64;
            let fields: Vec<String> = row.iter().map(cell_text).collect();
            if line < u64::from(header_row) {
                continue;
            }
            if header.is_none() {
                header = Some((line, fields.iter().map(|f| f.trim().to_string()).collect()));
                continue;
            }
            if fields.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            rows.push(RawRecord { line, fields });
        }
        // A header names every column that holds data, once: a merged title row over the real
        // column names fails this (empty cells where the data has values).
        if let Some((line, h)) = &header {
            let data_width = rows
                .iter()
                .filter_map(|r| r.fields.iter().rposition(|f| !f.trim().is_empty()))
                .max()
                .map(|i| i + 1)
                .unwrap_or(0);
            let named_width = h
                .iter()
                .rposition(|x| !x.is_empty())
                .map(|i| i + 1)
                .unwrap_or(0);
            let width = data_width.max(named_width);
            let mut names: Vec<&String> = h[..named_width].iter().collect();
            names.sort();
            let duplicate = names.windows(2).any(|w| w[0] == w[1]);
            if width == 0 || h.len() < width || h[..width].iter().any(|x| x.is_empty()) || duplicate
            {
                return Err(ReadError::new(
                    path,
                    Some(*line),
                    format!("sheet '{sheet_name}': row {line} is not a header with one unique name per column (merged header cells?); set header_row to the row that holds the column names"),
                ));
            }
        }
        let header = header.map(|(_, h)| {
            let named_width = h
                .iter()
                .rposition(|x| !x.is_empty())
                .map(|i| i + 1)
                .unwrap_or(0);
            h[..named_width].to_vec()
        });
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
