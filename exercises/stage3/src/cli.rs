//! What this stage's engine offers the command line (`cargo run -p stage3 -- run
//! FILE`, `-- dump --asm FILE`, and `jitlab run --stage 3`): the template JIT, its
//! listing and its perf map. The commands themselves are the `jitlab-cli` crate's.

use std::io::Write;

use jitlab_cli::{Outcome, RunOptions};
use stage1::{jasm, Verified};

use crate::{listing, Jit, Options};

/// The stage 3 command line: the template JIT.
pub struct Cli;

impl jitlab_cli::Stage for Cli {
    type Program = Verified;

    fn number(&self) -> u32 {
        3
    }

    fn load(&self, file: &str, text: &str) -> Result<Verified, String> {
        stage1::cli::load_source(file, text)
    }

    fn run(&self, program: &Verified, out: &mut dyn Write, options: &RunOptions) -> Outcome {
        // The template JIT counts no instructions: `--stats` shows its compilations
        // and runtime exits instead.
        let mut engine = Jit::with_options(Options {
            perf_map: options.perf_map,
            ..Options::default()
        });
        stage1::cli::run_engine(&mut engine, 3, program, out)
    }

    fn jasm(&self, program: &Verified) -> String {
        jasm::print(program.program())
    }

    fn asm(&self, program: &Verified) -> Option<Result<String, String>> {
        Some(listing(program).map_err(|e| e.to_string()))
    }

    fn generates_code(&self) -> bool {
        true
    }
}
