//! Writing CSV files the way municipal exports look, while counting physical lines.
//!
//! A record's *line* is the 1-based physical line on which it starts (the header is line 1). A
//! quoted field with an embedded newline makes a record span several physical lines, so the
//! writer counts the newlines it writes rather than the records.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Windows-1252, as older Windows-based case systems export.
    Windows1252,
    /// UTF-8 with a byte-order mark (Excel-friendly exports).
    Utf8Bom,
    Utf8,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Windows1252 => "windows-1252",
            Encoding::Utf8Bom => "utf-8 (BOM)",
            Encoding::Utf8 => "utf-8",
        }
    }
}

pub struct CsvOut {
    pub path: String,
    w: BufWriter<File>,
    delimiter: char,
    encoding: Encoding,
    line_ending: &'static str,
    next_line: u64,
    pub records: u64,
    buf: String,
}

impl CsvOut {
    pub fn create(
        root: &Path,
        rel: &str,
        delimiter: char,
        encoding: Encoding,
        crlf: bool,
        header: &[&str],
    ) -> io::Result<Self> {
        let full = root.join(rel);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut w = BufWriter::with_capacity(1 << 16, File::create(&full)?);
        if encoding == Encoding::Utf8Bom {
            w.write_all(b"\xEF\xBB\xBF")?;
        }
        let mut out = CsvOut {
            path: rel.to_string(),
            w,
            delimiter,
            encoding,
            line_ending: if crlf { "\r\n" } else { "\n" },
            next_line: 1,
            records: 0,
            buf: String::new(),
        };
        out.write_line(header)?;
        out.records = 0;
        Ok(out)
    }

    /// Writes one record and returns the physical line on which it starts.
    pub fn write<S: AsRef<str>>(&mut self, fields: &[S]) -> io::Result<u64> {
        let line = self.next_line;
        self.write_line(fields)?;
        Ok(line)
    }

    fn write_line<S: AsRef<str>>(&mut self, fields: &[S]) -> io::Result<()> {
        self.buf.clear();
        let mut newlines = 1u64;
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                self.buf.push(self.delimiter);
            }
            let f = f.as_ref();
            let needs_quotes = f.contains(self.delimiter)
                || f.contains('"')
                || f.contains('\n')
                || f.contains('\r');
            if needs_quotes {
                self.buf.push('"');
                for ch in f.chars() {
                    if ch == '"' {
                        self.buf.push('"');
                    }
                    if ch == '\n' {
                        newlines += 1;
                    }
                    self.buf.push(ch);
                }
                self.buf.push('"');
            } else {
                self.buf.push_str(f);
            }
        }
        self.buf.push_str(self.line_ending);
        match self.encoding {
            Encoding::Windows1252 => {
                let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&self.buf);
                if unmappable {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: text not representable in Windows-1252", self.path),
                    ));
                }
                self.w.write_all(&bytes)?;
            }
            _ => self.w.write_all(self.buf.as_bytes())?,
        }
        self.next_line += newlines;
        self.records += 1;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.w.flush()?;
        self.w.get_ref().sync_all()
    }
}

/// Formats a number with a decimal comma and two decimals (Dutch notation, no thousands sign).
pub fn decimal_comma(x: f64) -> String {
    format!("{x:.2}").replace('.', ",")
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn quoting_and_line_counting() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = CsvOut::create(
            dir.path(),
            "a.csv",
            ';',
            Encoding::Windows1252,
            true,
            &["x", "y"],
        )
        .unwrap();
        assert_eq!(w.write(&["Zoë", "a;b"]).unwrap(), 2);
        assert_eq!(w.write(&["regel\nnog een", "\"q\""]).unwrap(), 3);
        assert_eq!(w.write(&["z", ""]).unwrap(), 5);
        w.finish().unwrap();
        let bytes = std::fs::read(dir.path().join("a.csv")).unwrap();
        assert_eq!(
            bytes,
            b"x;y\r\nZo\xEB;\"a;b\"\r\n\"regel\nnog een\";\"\"\"q\"\"\"\r\nz;\r\n"
        );
        assert_eq!(decimal_comma(1234.5), "1234,50");
    }
}
