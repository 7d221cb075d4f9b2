//! `cargo run -p stage6 -- run FILE`: run a Mini program with *this crate's* engine
//! (stage 5's tiers, with this crate's shapes and inline caches), with the same
//! output as `jitlab run --stage 6`. The commands are the `jitlab-cli` crate's.

use std::process::ExitCode;

/// Parses the arguments and runs the command with this crate's engine.
pub fn main() -> ExitCode {
    jitlab_cli::main("stage6", &stage6::cli::Cli)
}
