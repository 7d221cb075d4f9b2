//! What this stage's engine offers the command line (`cargo run -p stage5 -- run
//! FILE`, and `jitlab run`, whose default engine it is): the tiered engine with its
//! thresholds (`--tier-up`), `--sync-compile`, `--trace-tiering`, and the tier table
//! of `--stats`. `dump --ir` and `dump --asm` run the program and print the IR, or
//! the machine code, of each optimizing compile of the run, and `dump --ir --osr
//! [FUNCTION:]PC` the IR of those entered by OSR at that loop header
//! ([`crate::dump`]). The commands themselves are the `jitlab-cli` crate's.

use std::io::Write;

use jitlab_cli::{Outcome, RunOptions};
use stage1::{jasm, Verified};

use crate::dump::Dump;
use crate::{Options, Policy, Tiered};

/// The stage 5 command line: the tiered engine.
pub struct Cli;

/// The engine options the command line asks for, or why they are wrong.
pub fn options(run: &RunOptions) -> Result<Options, String> {
    let policy = match &run.tier_up {
        Some(text) => text.parse::<Policy>().map_err(|e| e.to_string())?,
        None => Policy::default(),
    };
    Ok(Options {
        policy,
        sync_compile: run.sync_compile,
        trace: run.trace_tiering,
        ..Options::default()
    })
}

impl jitlab_cli::Stage for Cli {
    type Program = Verified;

    fn number(&self) -> u32 {
        5
    }

    fn load(&self, file: &str, text: &str) -> Result<Verified, String> {
        stage1::cli::load_source(file, text)
    }

    fn check(&self, options: &RunOptions) -> Result<(), String> {
        if options.perf_map {
            // The code of a tiered run is made while it runs, a block per function:
            // not written as a perf map yet.
            return Err(
                "--perf-map: the tiered engine does not write a perf map yet; \
                        run with --stage 3 or --stage 4"
                    .into(),
            );
        }
        self::options(options).map(|_| ())
    }

    fn run(&self, program: &Verified, out: &mut dyn Write, options: &RunOptions) -> Outcome {
        let options = match self::options(options) {
            Ok(options) => options,
            // The command line's `check` refuses these before the run; a caller that
            // did not check gets the same message, as the run's error.
            Err(e) => {
                return Outcome {
                    error: Some(format!("error: {e}")),
                    ..Outcome::default()
                }
            }
        };
        let mut engine = Tiered::with_options(options);
        let mut outcome = stage1::cli::run_engine(&mut engine, 5, program, out);
        outcome
            .report
            .tables
            .push(crate::record::tier_table(engine.functions()));
        outcome
    }

    fn jasm(&self, program: &Verified) -> String {
        jasm::print(program.program())
    }

    fn asm(&self, program: &Verified) -> Option<Result<String, String>> {
        // What the run compiles depends on the run: it runs first (`crate::dump`).
        Some(Ok(Dump::new().asm(program)))
    }

    fn ir(&self, program: &Verified, passes: bool) -> Option<Result<String, String>> {
        Some(Ok(Dump::new().ir(program, passes)))
    }

    fn ir_osr(
        &self,
        program: &Verified,
        function: &str,
        pc: usize,
        passes: bool,
    ) -> Option<Result<String, String>> {
        // The compiles the run entered by OSR at `pc` (`crate::dump`).
        Some(
            stage4::cli::function_named(program, function)
                .and_then(|func| Dump::new().osr_ir(program, func, pc, passes)),
        )
    }

    fn generates_code(&self) -> bool {
        true
    }
}
