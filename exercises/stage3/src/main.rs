//! `cargo run -p stage3 -- run FILE`: run a Mini program with *this crate's*
//! template JIT (`dump --asm FILE` lists its machine code), with the same output as
//! `jitlab run --stage 3` and `jitlab dump --asm`. The commands are the `jitlab-cli`
//! crate's.

use std::process::ExitCode;

/// Parses the arguments and runs the command with this crate's engine.
pub fn main() -> ExitCode {
    jitlab_cli::main("stage3", &stage3::cli::Cli)
}
