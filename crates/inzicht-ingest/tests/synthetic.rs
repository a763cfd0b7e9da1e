//! Ingest of the synthetic municipality: every defect in truth.json found, nothing else
//! quarantined, reconciliation exact.

use inzicht_ingest::pipeline::{run, CheckSink};
use inzicht_ingest::read::{ReadError, RecordSource};
use inzicht_ingest::IngestConfig;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

fn config() -> IngestConfig {
    let path = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../../examples/synthetic/bron.toml");
    IngestConfig::load(&path).expect("bron.toml parses")
}

fn no_parquet(p: &Path) -> Result<Box<dyn RecordSource>, ReadError> {
    Err(ReadError::new(p, None, "no parquet in this test"))
}

#[test]
fn every_injected_defect_is_found_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("g");
    inzicht_synth::generate(&inzicht_synth::Config::new(3, 2_500), &out, &mut |_, _| {}).unwrap();
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("truth.json")).unwrap()).unwrap();
    let mut sink = CheckSink::default();
    let input = out.join("exports");
    let rec = run(
        &config(),
        &input,
        &mut sink,
        &mut no_parquet,
        &mut |_, _| {},
    )
    .expect("ingest runs");

    fn reason_of(kind: &str) -> &str {
        match kind {
            "empty_cell" => "missing_required",
            "invalid_bsn" => "bsn_elfproef",
            "orphan_reference" => "orphan_person",
            "overlapping_spells" => "overlapping_spell",
            other => other,
        }
    }
    let mut expected_q = BTreeSet::new();
    let mut expected_n = BTreeSet::new();
    for d in truth["defects"].as_array().unwrap() {
        let file = d["file"]
            .as_str()
            .unwrap()
            .trim_start_matches("exports/")
            .to_string();
        let line = d["line"].as_u64().unwrap();
        let kind = d["kind"].as_str().unwrap();
        match kind {
            "stray_whitespace" | "mixed_case" => {
                expected_n.insert((
                    file,
                    line,
                    d["column"].as_str().unwrap().to_string(),
                    kind.to_string(),
                ));
            }
            _ => {
                expected_q.insert((file, line, reason_of(kind).to_string()));
            }
        }
    }
    let found_q: BTreeSet<(String, u64, String)> = sink
        .quarantined
        .iter()
        .map(|q| (q.file.clone(), q.line, q.reason.to_string()))
        .collect();
    let missing: Vec<_> = expected_q.difference(&found_q).take(5).collect();
    let extra: Vec<_> = found_q.difference(&expected_q).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "quarantine differs from truth: missing {missing:?}, unexpected {extra:?}"
    );
    let found_n: BTreeSet<(String, u64, String, String)> = sink
        .normalisations
        .iter()
        .map(|n| (n.file.clone(), n.line, n.column.clone(), n.kind.to_string()))
        .collect();
    let missing: Vec<_> = expected_n.difference(&found_n).take(5).collect();
    assert!(missing.is_empty(), "normalisations not found: {missing:?}");
    // Every normalisation found is one the generator made (whitespace or case in a code).
    let extra: Vec<_> = found_n.difference(&expected_n).take(5).collect();
    assert!(extra.is_empty(), "unexpected normalisations: {extra:?}");

    // Reconciliation: rows read = loaded + quarantined, and = the records in the file.
    let rows_per_file: HashMap<String, u64> = truth_rows(&out);
    for f in &rec.files {
        assert_eq!(
            f.rows_read,
            f.rows_loaded + f.rows_quarantined,
            "{}",
            f.file
        );
        assert_eq!(
            f.reasons.values().sum::<u64>(),
            f.rows_quarantined,
            "{}",
            f.file
        );
        if let Some(n) = rows_per_file.get(&f.file) {
            assert_eq!(f.rows_read, *n, "{}: rows read", f.file);
        }
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        sink.tables["uitkeringen"],
        summary["spells"].as_u64().unwrap()
    );
    assert_eq!(
        sink.tables["voorzieningen"],
        summary["provisions"].as_u64().unwrap()
    );
    assert_eq!(
        sink.tables["personen"],
        summary["clients"].as_u64().unwrap()
    );
    assert_eq!(rec.data_end, "2024-12");
}

/// Records per file as the generator counted them (summary.rows_per_file), keyed like the
/// reconciliation (relative to exports/).
fn truth_rows(out: &Path) -> HashMap<String, u64> {
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    summary["rows_per_file"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.trim_start_matches("exports/").to_string(),
                v.as_u64().unwrap(),
            )
        })
        .collect()
}
