//! Test helpers: an independent reader of the generated CSV files (quotes, embedded newlines,
//! Windows-1252, BOM) that reports the physical line where each record starts.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;

pub struct Record {
    pub line: u64,
    pub fields: Vec<String>,
}

pub struct Table {
    pub header: Vec<String>,
    pub records: Vec<Record>,
}

impl Table {
    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header))
    }
    pub fn by_line(&self) -> HashMap<u64, &Record> {
        self.records.iter().map(|r| (r.line, r)).collect()
    }
}

pub fn read(path: &Path) -> Table {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        String::from_utf8(rest.to_vec()).expect("utf-8")
    } else {
        match String::from_utf8(bytes.clone()) {
            Ok(t) => t,
            Err(_) => encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned(),
        }
    };
    let delimiter = if text.lines().next().unwrap_or("").contains(';') {
        ';'
    } else {
        ','
    };
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut line = 1u64;
    let mut record_line = 1u64;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            '\r' => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                records.push(Record {
                    line: record_line,
                    fields: std::mem::take(&mut fields),
                });
                line += 1;
                record_line = line;
            }
            c if c == delimiter => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    let header = records.remove(0).fields;
    Table { header, records }
}

/// Generates a municipality once per test binary and seed.
pub fn generated(seed: u64, clients: u32) -> std::path::PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!(
        "inzicht-synth-test-{}-{seed}-{clients}",
        std::process::id()
    ));
    if !dir.join("summary.json").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = inzicht_synth::Config::new(seed, clients);
        inzicht_synth::generate(&cfg, &dir, &mut |_, _| {}).expect("generate");
    }
    dir
}

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read json")).expect("parse json")
}
