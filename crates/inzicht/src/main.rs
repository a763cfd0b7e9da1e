//! The `inzicht` command: parses arguments and wires the library crates together. No analysis
//! logic lives here (see ARCHITECTURE.md).

mod advice_cmd;
mod bench;
mod bench_web;
mod cli;
mod data_cmd;
mod effects_cmd;
mod pattern_cmd;
mod register_cmd;
mod table_cmd;
mod web_cmd;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
