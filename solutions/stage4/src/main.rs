//! `cargo run -p stage4 -- run FILE`: run a Mini program with *this crate's*
//! optimizing JIT (`dump --asm FILE` lists its machine code, `dump --ir FILE` its IR),
//! with the same output as `jitlab run --stage 4` and `jitlab dump`. The commands are
//! the `jitlab-cli` crate's.

use std::process::ExitCode;

/// Parses the arguments and runs the command with this crate's engine.
pub fn main() -> ExitCode {
    jitlab_cli::main("stage4", &stage4::cli::Cli)
}
