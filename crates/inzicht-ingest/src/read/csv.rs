//! A streaming CSV reader for municipal exports.
//!
//! - Encoding: a UTF-8 byte-order mark means UTF-8; otherwise `auto` takes UTF-8 when the first
//!   MiB is valid UTF-8 and Windows-1252 when it is not. UTF-16 and binary files are refused with
//!   a message. A byte that is not valid in the chosen encoding later in the file stops the read
//!   at that line (nothing is silently replaced).
//! - Delimiter: `auto` counts `;` `,` TAB and `|` outside quotes on the header line.
//! - RFC 4180 quoting, leniently: `""` inside quotes is a quote, quoted fields may hold
//!   delimiters and newlines, a quote inside an unquoted field is kept as a character.
//! - Streaming: the file is decoded in 64 KiB blocks and parsed by a state machine, so memory is
//!   bounded by the longest record (at most [`MAX_RECORD_BYTES`]).

use super::{RawRecord, ReadError, RecordSource};
use encoding_rs::{Decoder, DecoderResult, UTF_8, WINDOWS_1252};
use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A record longer than this is refused: it almost always means an unbalanced quote.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
const BLOCK: usize = 1 << 16;
const SNIFF: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingChoice {
    Auto,
    Utf8,
    Windows1252,
}

impl EncodingChoice {
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "auto" => Some(Self::Auto),
            "utf-8" | "utf8" => Some(Self::Utf8),
            "windows-1252" | "cp1252" | "latin1" | "iso-8859-1" => Some(Self::Windows1252),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct CsvOptions {
    pub encoding: EncodingChoice,
    /// `None` sniffs the delimiter from the header line.
    pub delimiter: Option<char>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            encoding: EncodingChoice::Auto,
            delimiter: None,
        }
    }
}

/// At most this many emptied fields are kept for reuse (a few records' worth).
const SPARE_FIELDS: usize = 65_536;

pub struct CsvReader {
    path: PathBuf,
    input: Box<dyn Read>,
    decoder: Decoder,
    encoding_name: &'static str,
    delimiter: char,
    header: Vec<String>,
    /// Decoded text not yet parsed.
    text: String,
    pos: usize,
    raw: Vec<u8>,
    eof: bool,
    // Parser state.
    fields: Vec<String>,
    field: String,
    /// Emptied fields and field lists of records handed back (`recycle`), reused so that a
    /// record does not cost an allocation per field (bounded: at most `SPARE_FIELDS`).
    spare_fields: Vec<String>,
    spare_records: Vec<Vec<String>>,
    in_quotes: bool,
    quoted_field: bool,
    line: u64,
    record_line: u64,
    record_bytes: usize,
    pending_cr: bool,
    blank: u64,
    ready: VecDeque<RawRecord>,
    failed: bool,
}

impl CsvReader {
    pub fn open(path: &Path, options: CsvOptions) -> Result<Self, ReadError> {
        let mut file = File::open(path)
            .map_err(|e| ReadError::new(path, None, format!("cannot open: {e}")))?;
        let mut head = Vec::with_capacity(SNIFF);
        (&mut file)
            .take(SNIFF as u64)
            .read_to_end(&mut head)
            .map_err(|e| ReadError::new(path, None, format!("cannot read: {e}")))?;
        Self::from_parts(path, head, Box::new(file), options)
    }

    /// Reads from memory (used by tests and fuzzing).
    pub fn from_bytes(name: &Path, bytes: Vec<u8>, options: CsvOptions) -> Result<Self, ReadError> {
        Self::from_parts(name, bytes, Box::new(std::io::empty()), options)
    }

    fn from_parts(
        path: &Path,
        mut head: Vec<u8>,
        rest: Box<dyn Read>,
        options: CsvOptions,
    ) -> Result<Self, ReadError> {
        if head.is_empty() {
            return Err(ReadError::new(
                path,
                None,
                "the file is empty; expected a header line with column names",
            ));
        }
        if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
            return Err(ReadError::new(path, None, "the file is UTF-16; export it as UTF-8 or Windows-1252 (\"CSV\" rather than \"Unicode text\")"));
        }
        let had_bom = head.starts_with(b"\xEF\xBB\xBF");
        if had_bom {
            head.drain(..3);
        }
        if head.iter().take(SNIFF).any(|&b| b == 0) {
            return Err(ReadError::new(path, None, "the file holds NUL bytes: it is a binary file, not CSV (is it an XLSX or a ZIP? then set format = \"xlsx\")"));
        }
        let (encoding, encoding_name) = match options.encoding {
            _ if had_bom => (UTF_8, "utf-8 (BOM)"),
            EncodingChoice::Utf8 => (UTF_8, "utf-8"),
            EncodingChoice::Windows1252 => (WINDOWS_1252, "windows-1252"),
            EncodingChoice::Auto => {
                // A UTF-8 sequence may be cut at the end of the sample: ignore an incomplete tail.
                let valid = match std::str::from_utf8(&head) {
                    Ok(_) => true,
                    Err(e) => e.error_len().is_none() && head.len() >= SNIFF,
                };
                if valid {
                    (UTF_8, "utf-8")
                } else {
                    (WINDOWS_1252, "windows-1252")
                }
            }
        };
        let mut reader = CsvReader {
            path: path.to_path_buf(),
            input: rest,
            decoder: encoding.new_decoder_without_bom_handling(),
            encoding_name,
            delimiter: ',',
            header: Vec::new(),
            text: String::new(),
            pos: 0,
            raw: head,
            eof: false,
            fields: Vec::new(),
            field: String::new(),
            spare_fields: Vec::new(),
            spare_records: Vec::new(),
            in_quotes: false,
            quoted_field: false,
            line: 1,
            record_line: 1,
            record_bytes: 0,
            pending_cr: false,
            blank: 0,
            ready: VecDeque::new(),
            failed: false,
        };
        reader.decode_pending()?;
        reader.delimiter = match options.delimiter {
            Some(d) => d,
            None => sniff_delimiter(&reader.text).ok_or_else(|| {
                ReadError::new(path, Some(1), "cannot tell the delimiter from the header line (no ; , TAB or | found, or a tie); set delimiter in the source configuration")
            })?,
        };
        // The header is the first record.
        match reader.next_record() {
            Some(Ok(h)) => {
                reader.header = h.fields.into_iter().map(|f| f.trim().to_string()).collect();
            }
            Some(Err(e)) => return Err(e),
            None => return Err(ReadError::new(path, Some(1), "the file has no header line")),
        }
        if reader.header.iter().all(|h| h.is_empty()) {
            return Err(ReadError::new(
                path,
                Some(1),
                "the header line is empty; the first line must hold the column names",
            ));
        }
        Ok(reader)
    }

    pub fn delimiter(&self) -> char {
        self.delimiter
    }

    /// Decodes the raw bytes read so far into `text`.
    fn decode_pending(&mut self) -> Result<(), ReadError> {
        if !self.raw.is_empty() || self.eof {
            // Drop text already parsed so that memory stays bounded.
            if self.pos > 0 {
                self.text.drain(..self.pos);
                self.pos = 0;
            }
            let needed = self
                .decoder
                .max_utf8_buffer_length_without_replacement(self.raw.len())
                .unwrap_or(self.raw.len() * 3 + 16);
            self.text.reserve(needed);
            let (result, read) = self.decoder.decode_to_string_without_replacement(
                &self.raw,
                &mut self.text,
                self.eof,
            );
            match result {
                DecoderResult::Malformed(_, _) => {
                    let line = self.line + self.text[self.pos..].matches('\n').count() as u64;
                    return Err(ReadError::new(
                        &self.path,
                        Some(line),
                        format!("bytes that are not valid {}; set encoding = \"windows-1252\" (or \"utf-8\") for this source", self.encoding_name),
                    ));
                }
                DecoderResult::InputEmpty | DecoderResult::OutputFull => {}
            }
            self.raw.drain(..read);
        }
        Ok(())
    }

    fn fill(&mut self) -> Result<bool, ReadError> {
        if self.eof {
            return Ok(false);
        }
        let mut block = vec![0u8; BLOCK];
        let n = self.input.read(&mut block).map_err(|e| {
            ReadError::new(&self.path, Some(self.line), format!("cannot read: {e}"))
        })?;
        if n == 0 {
            self.eof = true;
        } else {
            if block[..n].contains(&0) {
                return Err(ReadError::new(
                    &self.path,
                    Some(self.line),
                    "NUL bytes in the file: it is binary or corrupt",
                ));
            }
            self.raw.extend_from_slice(&block[..n]);
        }
        self.decode_pending()?;
        Ok(true)
    }

    fn end_field(&mut self) {
        let next = self.spare_fields.pop().unwrap_or_default();
        self.fields.push(std::mem::replace(&mut self.field, next));
        self.quoted_field = false;
    }

    fn end_record(&mut self) {
        self.end_field();
        let next = self.spare_records.pop().unwrap_or_default();
        let fields = std::mem::replace(&mut self.fields, next);
        if fields.len() == 1 && fields[0].is_empty() {
            self.blank += 1;
        } else {
            self.ready.push_back(RawRecord {
                line: self.record_line,
                fields,
            });
        }
        self.record_bytes = 0;
    }

    /// Parses the decoded text available now.
    fn parse_available(&mut self) -> Result<(), ReadError> {
        let text = std::mem::take(&mut self.text);
        let mut chars = text[self.pos..].char_indices().peekable();
        let base = self.pos;
        let mut consumed = text.len() - base;
        while let Some((i, c)) = chars.next() {
            self.record_bytes += c.len_utf8();
            if self.record_bytes > MAX_RECORD_BYTES {
                self.text = text;
                return Err(ReadError::new(&self.path, Some(self.record_line), "a record longer than 1 MiB: a quote is probably not closed (check the line and the quoting of the export)"));
            }
            if self.pending_cr {
                self.pending_cr = false;
                if c == '\n' {
                    continue;
                }
            }
            if self.in_quotes {
                match c {
                    '"' => match chars.peek() {
                        Some((_, '"')) => {
                            chars.next();
                            self.record_bytes += 1;
                            self.field.push('"');
                        }
                        Some(_) => self.in_quotes = false,
                        None if !self.eof => {
                            // The next character decides; parse it with the next block.
                            consumed = i;
                            self.record_bytes -= 1;
                            break;
                        }
                        None => self.in_quotes = false,
                    },
                    '\n' => {
                        self.line += 1;
                        self.field.push('\n');
                    }
                    '\r' => match chars.peek() {
                        Some((_, '\n')) => self.field.push('\r'),
                        None if !self.eof => {
                            // Whether a newline follows decides the line count: wait for it.
                            consumed = i;
                            self.record_bytes -= 1;
                            break;
                        }
                        _ => {
                            self.line += 1;
                            self.field.push('\r');
                        }
                    },
                    _ => self.field.push(c),
                }
                continue;
            }
            match c {
                '"' if self.field.is_empty() && !self.quoted_field => {
                    self.in_quotes = true;
                    self.quoted_field = true;
                }
                '\n' | '\r' => {
                    self.end_record();
                    self.line += 1;
                    self.record_line = self.line;
                    self.pending_cr = c == '\r';
                }
                c if c == self.delimiter => self.end_field(),
                _ => self.field.push(c),
            }
        }
        self.text = text;
        self.pos = base + consumed;
        Ok(())
    }
}

impl RecordSource for CsvReader {
    fn header(&self) -> &[String] {
        &self.header
    }

    fn next_record(&mut self) -> Option<Result<RawRecord, ReadError>> {
        if self.failed {
            return None;
        }
        loop {
            if let Some(r) = self.ready.pop_front() {
                return Some(Ok(r));
            }
            if let Err(e) = self.parse_available() {
                self.failed = true;
                return Some(Err(e));
            }
            if let Some(r) = self.ready.pop_front() {
                return Some(Ok(r));
            }
            match self.fill() {
                Ok(true) => continue,
                Ok(false) => {
                    if self.in_quotes {
                        self.failed = true;
                        return Some(Err(ReadError::new(
                            &self.path,
                            Some(self.record_line),
                            "the file ends inside a quoted field that opens here: the file is truncated or a quote is not closed",
                        )));
                    }
                    if !self.field.is_empty() || !self.fields.is_empty() {
                        // A last record without a final newline.
                        self.end_record();
                        continue;
                    }
                    return None;
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }

    fn blank_lines(&self) -> u64 {
        self.blank
    }

    fn recycle(&mut self, mut record: RawRecord) {
        if self.spare_fields.len() + record.fields.len() > SPARE_FIELDS {
            return;
        }
        for mut f in record.fields.drain(..) {
            f.clear();
            self.spare_fields.push(f);
        }
        self.spare_records.push(record.fields);
    }

    fn describe(&self) -> String {
        let d = match self.delimiter {
            '\t' => "TAB".to_string(),
            c => c.to_string(),
        };
        format!("csv, {}, delimiter {d}", self.encoding_name)
    }
}

/// Picks the delimiter that occurs most often outside quotes on the first line.
pub fn sniff_delimiter(text: &str) -> Option<char> {
    let first = text.split(['\n', '\r']).next().unwrap_or("");
    let candidates = [';', ',', '\t', '|'];
    let mut counts = [0usize; 4];
    let mut in_quotes = false;
    for c in first.chars() {
        if c == '"' {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            if let Some(i) = candidates.iter().position(|&d| d == c) {
                counts[i] += 1;
            }
        }
    }
    let max = *counts.iter().max()?;
    if max == 0 {
        // One column: no delimiter on the header line at all.
        return Some(',');
    }
    let winners: Vec<usize> = (0..4).filter(|&i| counts[i] == max).collect();
    (winners.len() == 1).then(|| candidates[winners[0]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(
        bytes: &[u8],
        options: CsvOptions,
    ) -> Result<(Vec<String>, Vec<RawRecord>), ReadError> {
        let mut r = CsvReader::from_bytes(Path::new("t.csv"), bytes.to_vec(), options)?;
        let header = r.header().to_vec();
        let mut out = Vec::new();
        while let Some(rec) = r.next_record() {
            out.push(rec?);
        }
        Ok((header, out))
    }

    #[test]
    fn windows_1252_semicolons_quotes_and_newlines() {
        let bytes = b"bsn;naam;toelichting\r\n111222333;Zo\xEB;\"a;b\"\r\n123456782;Jan;\"regel\nnog \"\"een\"\"\"\r\n\r\n999;x;y";
        let (h, recs) = read_all(bytes, CsvOptions::default()).unwrap();
        assert_eq!(h, ["bsn", "naam", "toelichting"]);
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].fields, ["111222333", "Zoë", "a;b"]);
        assert_eq!(recs[0].line, 2);
        assert_eq!(recs[1].fields[2], "regel\nnog \"een\"");
        assert_eq!(recs[1].line, 3);
        assert_eq!(recs[2].line, 6, "after a two-line record and a blank line");
    }

    #[test]
    fn utf8_bom_and_comma() {
        let (h, recs) = read_all(
            "\u{feff}a,b\n1,\"Zoë, ok\"\n".as_bytes(),
            CsvOptions::default(),
        )
        .unwrap();
        assert_eq!(h, ["a", "b"]);
        assert_eq!(recs[0].fields, ["1", "Zoë, ok"]);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let e = read_all(b"", CsvOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty"), "{e}");
        let e = read_all(b"\xFF\xFEa\0b\0", CsvOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("UTF-16"), "{e}");
        let e = read_all(b"PK\x03\x04\0\0\0", CsvOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("binary"), "{e}");
        let e = read_all(b"a;b\n1;\"open\n2;3\n", CsvOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("quoted field"), "{e}");
        let e = read_all(b"a,b;c|d\n", CsvOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("delimiter"), "{e}");
        let utf8_forced = CsvOptions {
            encoding: EncodingChoice::Utf8,
            delimiter: None,
        };
        let e = read_all(b"a;b\n1;Zo\xEB\n", utf8_forced)
            .unwrap_err()
            .to_string();
        assert!(e.contains("windows-1252"), "{e}");
    }

    #[test]
    fn records_split_across_blocks() {
        let mut s = String::from("id;tekst\n");
        for i in 0..20_000 {
            s.push_str(&format!(
                "{i};\"een \"\"quote\"\" en; scheiding\nop twee regels\"\n"
            ));
        }
        let (_, recs) = read_all(s.as_bytes(), CsvOptions::default()).unwrap();
        assert_eq!(recs.len(), 20_000);
        assert!(recs
            .iter()
            .all(|r| r.fields[1] == "een \"quote\" en; scheiding\nop twee regels"));
        assert_eq!(recs[19_999].line, 2 + 2 * 19_999);
    }
}
