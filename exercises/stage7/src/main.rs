//! `cargo run -p stage7 -- run FILE`: run a Mini program with *this crate's* engine
//! (stage 6's tiers and caches, with this crate's speculation and deoptimization),
//! with the same output as `jitlab run --stage 7`. The commands are the `jitlab-cli`
//! crate's.

use std::process::ExitCode;

/// Parses the arguments and runs the command with this crate's engine.
pub fn main() -> ExitCode {
    jitlab_cli::main("stage7", &stage7::cli::Cli)
}
