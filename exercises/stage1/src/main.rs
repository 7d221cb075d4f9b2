//! `cargo run -p stage1 -- run FILE`: run a Mini program with *this crate's*
//! interpreter (`dump FILE` prints its bytecode), with the same output as
//! `jitlab run --stage 1`. The commands are the `jitlab-cli` crate's.

use std::process::ExitCode;

/// Parses the arguments and runs the command with this crate's engine.
pub fn main() -> ExitCode {
    jitlab_cli::main("stage1", &stage1::cli::Cli)
}
