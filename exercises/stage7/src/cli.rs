//! What this stage's engine offers the command line (`cargo run -p stage7 -- run
//! FILE`, and `jitlab run`, whose default engine it is): stage 6's engine and options
//! (`--tier-up`, `--sync-compile`, `--trace-tiering`, `--no-ic`) with speculation,
//! `--no-speculation` to run without it, `--trace-deopt` (each deopt and the frames
//! it rebuilt, on stderr), `--stress-deopt SEED` and `--deopt-every N` (deopts forced
//! at guards, to test them), and `--stats` with the tier table, each site's cache and
//! the deopt table; `dump --ir` and `dump --asm` run the program and print the
//! speculative IR, or the machine code and deopt table, of each compile of the run,
//! and `dump --ir --osr [FUNCTION:]PC` the IR of those entered by OSR at that loop
//! header ([`crate::dump`]). The commands themselves are the
//! `jitlab-cli` crate's.

use std::io::Write;

use jitlab_cli::{Outcome, RunOptions};
use stage1::{jasm, Verified};

use crate::{Options, Speculating, Stress};

/// The stage 7 command line: the speculating engine.
pub struct Cli;

/// The engine options the command line asks for, or why they are wrong.
pub fn options(run: &RunOptions) -> Result<Options, String> {
    let cached = stage6::cli::options(run)?;
    let stress = match (run.stress_deopt, run.deopt_every) {
        (Some(_), Some(_)) => {
            return Err("--stress-deopt and --deopt-every: give one of them, not both".into())
        }
        (Some(seed), None) => Stress::Seed(seed),
        (None, Some(0)) => {
            return Err("--deopt-every 0: N counts guard checks, from 1 (every one)".into())
        }
        (None, Some(n)) => Stress::Every(n),
        (None, None) => Stress::Off,
    };
    if run.no_speculation && stress != Stress::Off {
        return Err(format!(
            "{stress}: with --no-speculation the code has no guards to deoptimize at"
        ));
    }
    Ok(Options {
        tiered: cached.tiered,
        caches: cached.caches,
        speculation: !run.no_speculation,
        stress,
        trace_deopt: run.trace_deopt,
    })
}

impl jitlab_cli::Stage for Cli {
    type Program = Verified;

    fn number(&self) -> u32 {
        7
    }

    fn load(&self, file: &str, text: &str) -> Result<Verified, String> {
        stage1::cli::load_source(file, text)
    }

    fn check(&self, options: &RunOptions) -> Result<(), String> {
        stage6::cli::Cli.check(options)?;
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
        let mut engine = Speculating::with_options(options);
        let mut outcome = stage1::cli::run_engine(&mut engine, 7, program, out);
        let tables = &mut outcome.report.tables;
        tables.push(stage5::record::tier_table(engine.functions()));
        tables.extend(engine.tables().iter().cloned());
        outcome
    }

    fn jasm(&self, program: &Verified) -> String {
        jasm::print(program.program())
    }

    fn asm(&self, program: &Verified) -> Option<Result<String, String>> {
        // The bets come from a profile: the program runs first (`crate::dump`).
        Some(Ok(crate::dump::asm_listing(program)))
    }

    fn ir(&self, program: &Verified, passes: bool) -> Option<Result<String, String>> {
        // The bets come from a profile: the program runs first (`crate::dump`).
        Some(Ok(crate::dump::ir_listing(program, passes)))
    }

    fn ir_osr(
        &self,
        program: &Verified,
        function: &str,
        pc: usize,
        passes: bool,
    ) -> Option<Result<String, String>> {
        // The speculative compiles the run entered by OSR at `pc` (`crate::dump`).
        Some(
            stage4::cli::function_named(program, function)
                .and_then(|func| crate::dump::osr_ir_listing(program, func, pc, passes)),
        )
    }

    fn shapes(&self, program: &Verified) -> Option<Result<String, String>> {
        stage6::cli::Cli.shapes(program)
    }

    fn generates_code(&self) -> bool {
        true
    }

    fn has_inline_caches(&self) -> bool {
        true
    }

    fn speculates(&self) -> bool {
        true
    }
}
