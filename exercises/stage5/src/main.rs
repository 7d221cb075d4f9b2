//! `cargo run -p stage5 -- run FILE`: run a Mini program with *this crate's* tiered
//! engine (interpreter, then baseline, then optimizing code as the counters decide),
//! with the same output as `jitlab run --stage 5`. The commands are the `jitlab-cli`
//! crate's.

use std::process::ExitCode;

/// Parses the arguments and runs the command with this crate's engine.
pub fn main() -> ExitCode {
    jitlab_cli::main("stage5", &stage5::cli::Cli)
}
