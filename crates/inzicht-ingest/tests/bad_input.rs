//! Bad input gets a clear error that names the file (and line and column where they apply) and
//! says what to change — never a panic.

use inzicht_ingest::read::csv::{CsvOptions, CsvReader};
use inzicht_ingest::read::xlsx::XlsxReader;
use inzicht_ingest::read::RecordSource;

#[test]
fn an_xlsx_with_merged_header_rows_is_refused_with_advice() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("codes.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    // Row 1: a merged title over two columns; row 2: the real column names.
    ws.merge_range(
        0,
        0,
        0,
        1,
        "Codelijst redenen",
        &rust_xlsxwriter::Format::new(),
    )
    .unwrap();
    ws.write_string(1, 0, "lokale_code").unwrap();
    ws.write_string(1, 1, "bus_code").unwrap();
    ws.write_string(2, 0, "110").unwrap();
    ws.write_string(2, 1, "11").unwrap();
    wb.save(&path).unwrap();
    let e = XlsxReader::open(&path, None, 1)
        .err()
        .expect("merged header refused")
        .to_string();
    assert!(
        e.contains("codes.xlsx") && e.contains("row 1") && e.contains("header_row"),
        "{e}"
    );
    // With header_row = 2 it reads.
    let mut r = XlsxReader::open(&path, None, 2).unwrap();
    assert_eq!(r.header(), ["lokale_code", "bus_code"]);
    let rec = r.next_record().unwrap().unwrap();
    assert_eq!(
        (rec.line, rec.fields.clone()),
        (3, vec!["110".to_string(), "11".to_string()])
    );
}

#[test]
fn an_oversized_xlsx_is_refused_before_reading() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("huge.xlsx");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(60 * 1024 * 1024).unwrap();
    let e = XlsxReader::open(&path, None, 1)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("huge.xlsx") && e.contains("CSV or Parquet"),
        "{e}"
    );
}

#[test]
fn not_an_xlsx_and_a_wrong_delimiter_are_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("export.xlsx");
    std::fs::write(&path, "bsn;naam\n1;2\n").unwrap();
    let e = XlsxReader::open(&path, None, 1)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("not a readable XLSX"), "{e}");
    // A semicolon file read with a comma delimiter: one column whose name holds the semicolons.
    let csv = tmp.path().join("e.csv");
    std::fs::write(&csv, "bsn;naam\n1;2\n").unwrap();
    let r = CsvReader::open(
        &csv,
        CsvOptions {
            delimiter: Some(','),
            ..CsvOptions::default()
        },
    )
    .unwrap();
    assert_eq!(r.header(), ["bsn;naam"]);
}
