//! Any bytes as a workbook: the XLSX reader returns rows or an error, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    inzicht_ingest::read::fuzz::xlsx_bytes(data);
});
