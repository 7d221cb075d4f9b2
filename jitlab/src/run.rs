//! `jitlab run` and `jitlab dump`: the commands of the `jitlab-cli` crate (which each
//! stage's own binary shares), with the reference engine of the stage asked for.

use std::process::ExitCode;

pub use jitlab_cli::USAGE_ERROR;
use jitlab_cli::{DumpArgs, RunArgs};

use crate::stages;

/// `jitlab run FILE [--stage N] [--stats] [--perf-map]`.
pub fn run(args: &RunArgs, stage: Option<u32>) -> ExitCode {
    match stages::engine_for(stage) {
        Ok((_, engine)) => jitlab_cli::run(engine, args),
        Err(message) => {
            jitlab_cli::say!("error: {message}");
            ExitCode::from(USAGE_ERROR)
        }
    }
}

/// `jitlab dump FILE [--asm [--stage N] | --ir [--passes] [--stage N] | --shapes]`:
/// the bytecode as `.jasm` text, with `--asm` the machine code of stage N's JIT
/// (default: stage 4's, before any run; with `--stage 5` to `7`, that of each
/// optimizing compile of a run, stage 7's with its deopt table), with `--ir` the
/// optimizer's IR (stage 4's, which the later stages reuse; with `--stage 5` to `7`,
/// the IR of each optimizing compile of a run, stage 7's with guards and frame
/// states), with `--shapes` the shapes a run with the default engine made (stage 6's
/// transition tree).
pub fn dump(args: &DumpArgs, stage: Option<u32>) -> ExitCode {
    if stage.is_some() && !args.asm && !args.ir {
        jitlab_cli::say!("error: --stage: with `dump`, for --asm or --ir only");
        return ExitCode::from(USAGE_ERROR);
    }
    if args.ir && stage.is_none() {
        // Without a stage, the IR needs no run: stage 4's, before any profile.
        return jitlab_cli::dump(&stages::Optimizer, args);
    }
    if args.shapes {
        // The default engine's shapes (stage 6's, once built).
        return match stages::engine_for(None) {
            Ok((_, engine)) => jitlab_cli::dump(engine, args),
            Err(message) => {
                jitlab_cli::say!("error: {message}");
                ExitCode::from(USAGE_ERROR)
            }
        };
    }
    match stage {
        None => jitlab_cli::dump(stages::listing_stage(), args),
        Some(_) => match stages::engine_for(stage) {
            Ok((_, engine)) => jitlab_cli::dump(engine, args),
            Err(message) => {
                jitlab_cli::say!("error: {message}");
                ExitCode::from(USAGE_ERROR)
            }
        },
    }
}
