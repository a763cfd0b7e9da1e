//! A small in-memory table from a CSV file, for the analysis commands that take `--data FILE`
//! (an analyst's own data, or public data to check against other software). The same reader as
//! ingest: encoding detection, delimiter sniffing, quoted fields. Numbers may use a decimal point
//! or a Dutch decimal comma; `NA`, `.` and empty fields are missing. Errors name the file, the
//! line and the column.

use crate::read::csv::{CsvOptions, CsvReader};
use crate::read::{ReadError, RecordSource};
use std::path::{Path, PathBuf};

/// Files above this size are refused: the analysis commands hold the data in memory.
pub const MAX_FRAME_BYTES: u64 = 2 << 30;

pub struct Frame {
    pub path: PathBuf,
    pub header: Vec<String>,
    /// Rows as read; `lines[i]` is the physical line on which row i starts.
    pub rows: Vec<Vec<String>>,
    pub lines: Vec<u64>,
}

impl Frame {
    pub fn read_csv(path: &Path) -> Result<Frame, ReadError> {
        if let Ok(m) = std::fs::metadata(path) {
            if m.len() > MAX_FRAME_BYTES {
                return Err(ReadError::new(
                    path,
                    None,
                    format!(
                        "the file is {} MB; analysis commands read at most {} MB into memory — select the rows and columns you need first",
                        m.len() >> 20,
                        MAX_FRAME_BYTES >> 20
                    ),
                ));
            }
        }
        let mut r = CsvReader::open(path, CsvOptions::default())?;
        let header = r.header().to_vec();
        let mut rows = Vec::new();
        let mut lines = Vec::new();
        while let Some(rec) = r.next_record() {
            let rec = rec?;
            if rec.fields.len() != header.len() {
                return Err(ReadError::new(
                    path,
                    Some(rec.line),
                    format!(
                        "{} fields where the header has {}: check the delimiter and the quotes on this line",
                        rec.fields.len(),
                        header.len()
                    ),
                ));
            }
            lines.push(rec.line);
            rows.push(rec.fields);
        }
        if rows.is_empty() {
            return Err(ReadError::new(
                path,
                None,
                "the file has a header but no rows",
            ));
        }
        Ok(Frame {
            path: path.to_path_buf(),
            header,
            rows,
            lines,
        })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The index of a column, or an error listing the columns there are.
    pub fn column(&self, name: &str) -> Result<usize, ReadError> {
        self.header
            .iter()
            .position(|h| h == name)
            .or_else(|| {
                self.header
                    .iter()
                    .position(|h| h.eq_ignore_ascii_case(name))
            })
            .ok_or_else(|| {
                ReadError::new(
                    &self.path,
                    Some(1),
                    format!(
                        "no column '{name}'; the columns are: {}",
                        self.header.join(", ")
                    ),
                )
            })
    }

    fn is_missing(v: &str) -> bool {
        matches!(v.trim(), "" | "NA" | "na" | "N/A" | "." | "NaN")
    }

    /// Parses every cell of a column; missing cells are `None`, a cell `parse` rejects is an
    /// error naming the file, line and column.
    fn parse_column<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Vec<Option<T>>, ReadError> {
        let j = self.column(name)?;
        self.rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let v = r[j].trim();
                if Self::is_missing(v) {
                    return Ok(None);
                }
                parse(v).map(Some).map_err(|m| {
                    ReadError::new(&self.path, Some(self.lines[i]), m).with_column(name)
                })
            })
            .collect()
    }

    /// A numeric column; `None` where the value is missing.
    pub fn numeric(&self, name: &str) -> Result<Vec<Option<f64>>, ReadError> {
        self.parse_column(name, |v| {
            parse_number(v).ok_or_else(|| format!("'{v}' is not a number"))
        })
    }

    /// A 0/1 column (also accepts true/false, ja/nee).
    pub fn binary(&self, name: &str) -> Result<Vec<Option<bool>>, ReadError> {
        self.parse_column(name, |v| match v.to_ascii_lowercase().as_str() {
            "1" | "1.0" | "true" | "ja" | "yes" | "waar" => Ok(true),
            "0" | "0.0" | "false" | "nee" | "no" | "onwaar" => Ok(false),
            _ => Err(format!(
                "'{v}' is not 0 or 1; an event or treatment column holds 0 (no) and 1 (yes)"
            )),
        })
    }

    /// A column as labels (missing = `None`).
    pub fn labels(&self, name: &str) -> Result<Vec<Option<String>>, ReadError> {
        let j = self.column(name)?;
        Ok(self
            .rows
            .iter()
            .map(|r| {
                let v = r[j].trim();
                (!Self::is_missing(v)).then(|| v.to_string())
            })
            .collect())
    }
}

/// A number with a decimal point, or a Dutch decimal comma (`1,5`; `1.234,5`).
pub fn parse_number(v: &str) -> Option<f64> {
    if let Ok(x) = v.parse::<f64>() {
        return x.is_finite().then_some(x);
    }
    if v.contains(',') {
        let s = v.replace('.', "").replace(',', ".");
        if let Ok(x) = s.parse::<f64>() {
            return x.is_finite().then_some(x);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_dutch_and_missing() {
        assert_eq!(parse_number("1,5"), Some(1.5));
        assert_eq!(parse_number("1.234,5"), Some(1234.5));
        assert_eq!(parse_number("2e3"), Some(2000.0));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("inf"), None);
    }

    #[test]
    fn errors_name_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.csv");
        std::fs::write(&p, "tijd;status\n1;1\n2;x\n").unwrap();
        let f = Frame::read_csv(&p).unwrap();
        let e = f.binary("status").unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("status"), "{e}");
        let e = f.numeric("tyd").unwrap_err().to_string();
        assert!(e.contains("tijd, status"), "{e}");
    }
}
