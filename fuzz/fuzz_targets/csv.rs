//! Any bytes: the CSV reader returns records or an error, never panics, and every record starts
//! on a line not before the previous one.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    inzicht_ingest::read::fuzz::csv_bytes(data);
});
