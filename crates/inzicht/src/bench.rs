use crate::cli::{BenchArgs, Failure};

pub fn run(_a: BenchArgs) -> Result<(), Failure> {
    Err(Failure::io("bench: not built yet"))
}
