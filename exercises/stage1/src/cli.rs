//! What this stage's engine offers the command line (`cargo run -p stage1 -- run
//! FILE`, and `jitlab run --stage 1`): loading, running with the interpreter, and
//! `--stats`. The commands themselves are the `jitlab-cli` crate's, shared by every
//! stage.

use std::io::Write;

use jitlab_cli::{Outcome, Report, RunOptions};

use crate::interp::{Interpreter, Options};
use crate::{jasm, load, Engine, Event, Stats, Verified};

/// The stage 1 command line: the interpreter.
pub struct Cli;

impl jitlab_cli::Stage for Cli {
    type Program = Verified;

    fn number(&self) -> u32 {
        1
    }

    fn load(&self, file: &str, text: &str) -> Result<Verified, String> {
        load_source(file, text)
    }

    fn run(&self, program: &Verified, out: &mut dyn Write, options: &RunOptions) -> Outcome {
        let mut engine = Interpreter::with_options(Options {
            count_instructions: options.stats,
            ..Options::default()
        });
        run_engine(&mut engine, 1, program, out)
    }

    fn jasm(&self, program: &Verified) -> String {
        jasm::print(program.program())
    }
}

/// [`load::load_source`] with its error as the text the command line prints.
pub fn load_source(file: &str, text: &str) -> Result<Verified, String> {
    load::load_source(file, text).map_err(|e| e.to_string())
}

/// Runs `program` with `engine` (of stage `stage`) and reports what it did.
pub fn run_engine(
    engine: &mut dyn Engine,
    stage: u32,
    program: &Verified,
    out: &mut dyn Write,
) -> Outcome {
    let error = engine.run(program, out).err().map(|e| e.to_string());
    Outcome {
        error,
        report: report(
            &format!("{} (stage {stage})", engine.name()),
            engine.stats(),
        ),
    }
}

/// What `--stats` shows of `stats`.
pub fn report(engine: &str, stats: &Stats) -> Report {
    Report {
        engine: engine.to_string(),
        instructions: stats.instructions,
        calls: stats.calls,
        time: stats.run_time,
        events: stats.events.iter().map(event_line).collect(),
        runtime_calls: stats
            .runtime_calls
            .iter()
            .map(|&(reason, n)| (reason.to_string(), n))
            .collect(),
        counters: stats
            .counters
            .iter()
            .map(|&(name, n)| (name.to_string(), n))
            .collect(),
        tables: Vec::new(),
    }
}

/// One line describing an event.
pub fn event_line(event: &Event) -> String {
    match event {
        Event::Compiled {
            function,
            tier,
            bytecode_len,
            code_bytes,
            time,
        } => format!(
            "compiled {function} ({tier}): {bytecode_len} instructions -> {code_bytes} bytes in {}",
            jitlab_cli::stats::millis(*time)
        ),
        Event::NotCompiled {
            function,
            tier,
            reason,
        } => format!("not compiled {function} ({tier}): {reason}"),
        Event::TierUp {
            function,
            from,
            to,
            trigger,
            count,
            time,
            code_bytes,
        } => format!(
            "tier-up {function}: {from} -> {to} after {count} {trigger}, {code_bytes} bytes in {}",
            jitlab_cli::stats::millis(*time)
        ),
        Event::Osr {
            function,
            pc,
            from,
            to,
        } => format!("osr {function} at pc {pc}: {from} -> {to}"),
        Event::IcTransition {
            function,
            line,
            name,
            from,
            to,
            seen,
        } => format!("ic {function} line {line} ({name}): {from} -> {to}, saw {seen}"),
        Event::Deopt {
            function,
            guard_function,
            pc,
            reason,
            inlined_depth,
            frames,
        } => {
            let place = if *inlined_depth == 0 {
                format!("pc {pc}")
            } else {
                format!("pc {pc} of {guard_function}, inlined {inlined_depth} deep")
            };
            format!("deopt {function} at {place}: {reason}, {frames} frames rebuilt")
        }
        Event::Recompiled {
            function,
            count,
            dropped,
            speculating,
        } => {
            let bets = if !speculating {
                "without speculation".to_string()
            } else if dropped.is_empty() {
                "with the same bets".to_string()
            } else {
                format!("dropping {}", dropped.join(", "))
            };
            format!("recompiled {function} (compile {count}) {bets}")
        }
    }
}
