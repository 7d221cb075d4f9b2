//! What this stage's engine offers the command line (`cargo run -p stage6 -- run
//! FILE`, and `jitlab run`, whose default engine it is): stage 5's tiered engine and
//! its options (`--tier-up`, `--sync-compile`, `--trace-tiering`) with shapes and
//! inline caches, `--no-ic` to run without the caches, `--stats` with the tier table,
//! each site's cache and the shapes made, `dump --shapes`, the transition tree of a
//! run, and `dump --ir`, `dump --asm` and `dump --ir --osr [FUNCTION:]PC`, what the
//! optimizing tier compiled in a run, fast paths included (`stage5::dump`). The
//! commands themselves are the `jitlab-cli` crate's.

use std::io::Write;
use std::sync::Arc;

use jitlab_cli::{Outcome, RunOptions};
use stage1::{jasm, Verified};
use stage5::dump::Dump;

use crate::engine::Caches;
use crate::{Cached, Options};

/// The stage 6 command line: the tiered engine with inline caches.
pub struct Cli;

/// The dumps of a run of this stage's engine (caches on): stage 5's, with the
/// caches as its extension.
fn dump() -> Dump {
    Dump::with_extension(6, Arc::new(Caches { caches: true }))
}

/// The engine options the command line asks for, or why they are wrong.
pub fn options(run: &RunOptions) -> Result<Options, String> {
    Ok(Options {
        tiered: stage5::cli::options(run)?,
        caches: !run.no_ic,
    })
}

impl jitlab_cli::Stage for Cli {
    type Program = Verified;

    fn number(&self) -> u32 {
        6
    }

    fn load(&self, file: &str, text: &str) -> Result<Verified, String> {
        stage1::cli::load_source(file, text)
    }

    fn check(&self, options: &RunOptions) -> Result<(), String> {
        // The same tiers as stage 5, with the same limits (no perf map of code made
        // while the program runs).
        stage5::cli::Cli.check(options)
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
        let mut engine = Cached::with_options(options);
        let mut outcome = stage1::cli::run_engine(&mut engine, 6, program, out);
        let tables = &mut outcome.report.tables;
        tables.push(stage5::record::tier_table(engine.functions()));
        tables.extend(engine.tables().iter().cloned());
        outcome
    }

    fn jasm(&self, program: &Verified) -> String {
        jasm::print(program.program())
    }

    fn asm(&self, program: &Verified) -> Option<Result<String, String>> {
        // What the run compiles depends on the run, its fast paths on what the
        // caches saw: it runs first (`stage5::dump`).
        Some(Ok(dump().asm(program)))
    }

    fn ir(&self, program: &Verified, passes: bool) -> Option<Result<String, String>> {
        Some(Ok(dump().ir(program, passes)))
    }

    fn ir_osr(
        &self,
        program: &Verified,
        function: &str,
        pc: usize,
        passes: bool,
    ) -> Option<Result<String, String>> {
        Some(
            stage4::cli::function_named(program, function)
                .and_then(|func| dump().osr_ir(program, func, pc, passes)),
        )
    }

    fn shapes(&self, program: &Verified) -> Option<Result<String, String>> {
        let mut engine = Cached::new();
        // The shapes made up to a runtime error are the run's shapes too.
        let _ = stage1::Engine::run(&mut engine, program, &mut std::io::sink());
        Some(match engine.model() {
            Some(model) => {
                let mut tree = model.dump_tree(program.program());
                if !tree.ends_with('\n') {
                    tree.push('\n');
                }
                Ok(tree)
            }
            None => Err("the run had no shapes (it ran in the interpreter alone)".into()),
        })
    }

    fn generates_code(&self) -> bool {
        true
    }

    fn has_inline_caches(&self) -> bool {
        true
    }
}
