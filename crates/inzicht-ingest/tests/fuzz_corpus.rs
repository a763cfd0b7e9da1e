//! Replays the committed fuzz corpus (fuzz/corpus) through the readers: no input may panic.
//! The fuzzer itself (cargo fuzz, in fuzz/) runs outside CI and adds what it finds here.

use std::path::Path;

fn corpus(kind: &str) -> Vec<std::path::PathBuf> {
    // The directory as cargo gives it when the test runs, not as it was when the test was
    // compiled: a build cache shared between checkouts (CI keeps one outside the clone) may
    // hold a test binary compiled in another directory.
    let manifest =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let dir = Path::new(&manifest).join("../../fuzz/corpus").join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

#[test]
fn csv_corpus_never_panics() {
    let files = corpus("csv");
    assert!(files.len() >= 8);
    for f in files {
        inzicht_ingest::read::fuzz::csv_bytes(&std::fs::read(&f).unwrap());
    }
}

#[test]
fn xlsx_corpus_never_panics() {
    let files = corpus("xlsx");
    assert!(files.len() >= 3);
    for f in files {
        inzicht_ingest::read::fuzz::xlsx_bytes(&std::fs::read(&f).unwrap());
    }
}
