//! Readers for source exports. Each yields a header and records with the 1-based physical line
//! on which the record starts (the header is line 1; in XLSX, the sheet row).

pub mod csv;
pub mod xlsx;

use std::fmt;
use std::path::{Path, PathBuf};

/// One record as read, before any validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    pub line: u64,
    pub fields: Vec<String>,
}

/// A problem that stops reading a file. Every variant names the file and, where it applies, the
/// line, and says what to change.
#[derive(Debug)]
pub struct ReadError {
    pub file: PathBuf,
    pub line: Option<u64>,
    pub column: Option<String>,
    pub message: String,
}

impl ReadError {
    pub fn new(file: &Path, line: Option<u64>, message: impl Into<String>) -> Self {
        ReadError {
            file: file.to_path_buf(),
            line,
            column: None,
            message: message.into(),
        }
    }
    pub fn with_column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ", line {l}")?;
        }
        if let Some(c) = &self.column {
            write!(f, ", column '{c}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ReadError {}

/// A source of records: CSV, XLSX, or (in the store crate) Parquet through DuckDB.
pub trait RecordSource {
    fn header(&self) -> &[String];
    /// Next record, `None` at the end. An `Err` stops the file (the load is not applied).
    fn next_record(&mut self) -> Option<Result<RawRecord, ReadError>>;
    /// Physical lines that were blank and skipped (reported, never silently dropped).
    fn blank_lines(&self) -> u64 {
        0
    }
    /// How the file was decoded, for the reconciliation (`utf-8`, `windows-1252`, `xlsx`, …).
    fn describe(&self) -> String;
    /// Hands a record back once it has been used, so that a reader can reuse its allocations
    /// for the next records (optional; the default drops it).
    fn recycle(&mut self, _record: RawRecord) {}
}

/// Entry points shared by the fuzz targets (`fuzz/`) and the corpus replay test.
pub mod fuzz {
    use super::csv::{CsvOptions, CsvReader, EncodingChoice};
    use super::RecordSource;
    use std::path::Path;

    /// Reads `data` as CSV with every encoding choice; checks that lines never go backwards.
    pub fn csv_bytes(data: &[u8]) {
        for encoding in [
            EncodingChoice::Auto,
            EncodingChoice::Utf8,
            EncodingChoice::Windows1252,
        ] {
            for delimiter in [None, Some(';')] {
                let Ok(mut r) = CsvReader::from_bytes(
                    Path::new("fuzz.csv"),
                    data.to_vec(),
                    CsvOptions {
                        encoding,
                        delimiter,
                    },
                ) else {
                    continue;
                };
                let mut last = 1;
                while let Some(rec) = r.next_record() {
                    match rec {
                        Ok(rec) => {
                            assert!(rec.line > last, "line {} after {}", rec.line, last);
                            last = rec.line;
                        }
                        Err(_) => break,
                    }
                }
            }
        }
    }

    /// Reads `data` as an XLSX workbook (through a temporary file, as the reader opens paths).
    pub fn xlsx_bytes(data: &[u8]) {
        let dir = std::env::temp_dir().join(format!("inzicht-fuzz-{}", std::process::id()));
        if std::fs::create_dir_all(&dir).is_err() {
            return;
        }
        let path = dir.join("fuzz.xlsx");
        if std::fs::write(&path, data).is_err() {
            return;
        }
        if let Ok(mut r) = super::xlsx::XlsxReader::open(&path, None, 1) {
            while let Some(Ok(_)) = r.next_record() {}
        }
        let _ = std::fs::remove_file(&path);
    }
}
