//! What this stage's engine offers the command line (`cargo run -p stage4 -- run
//! FILE`, `-- dump --asm|--ir FILE`, and `jitlab run --stage 4`): the optimizing JIT,
//! its listing, its IR and its perf map. The commands themselves are the `jitlab-cli`
//! crate's.

use std::io::Write;

use jitlab_cli::{Outcome, RunOptions};
use stage1::{jasm, FnId, Verified};

use crate::{listing, Optimizer, Options};

/// The stage 4 command line: the optimizing JIT.
pub struct Cli;

impl jitlab_cli::Stage for Cli {
    type Program = Verified;

    fn number(&self) -> u32 {
        4
    }

    fn load(&self, file: &str, text: &str) -> Result<Verified, String> {
        stage1::cli::load_source(file, text)
    }

    fn run(&self, program: &Verified, out: &mut dyn Write, options: &RunOptions) -> Outcome {
        // `--stats` shows its compilations, its counters and its runtime exits.
        let mut engine = Optimizer::with_options(Options {
            perf_map: options.perf_map,
            ..Options::default()
        });
        stage1::cli::run_engine(&mut engine, 4, program, out)
    }

    fn jasm(&self, program: &Verified) -> String {
        jasm::print(program.program())
    }

    fn asm(&self, program: &Verified) -> Option<Result<String, String>> {
        Some(listing(program))
    }

    fn ir(&self, program: &Verified, passes: bool) -> Option<Result<String, String>> {
        Some(Ok(crate::passes::listing(program, passes)))
    }

    fn ir_osr(
        &self,
        program: &Verified,
        function: &str,
        pc: usize,
        passes: bool,
    ) -> Option<Result<String, String>> {
        Some(
            function_named(program, function)
                .and_then(|func| crate::tiered::osr_listing(program, func, pc, passes)),
        )
    }

    fn generates_code(&self) -> bool {
        true
    }
}

/// The function of `program` called `function` (`dump --ir --osr FUNCTION:PC`), or
/// the error that says there is none.
pub fn function_named(program: &Verified, function: &str) -> Result<FnId, String> {
    program
        .program()
        .function_named(function)
        .ok_or_else(|| format!("no function is called '{function}'"))
}
