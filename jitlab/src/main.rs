//! `jitlab`, the course's command line: run a Mini (`.mini`) or bytecode (`.jasm`)
//! program with the engine of a stage, print its bytecode, or grade the learner's
//! crates.

mod grade;
mod hint;
mod list;
mod run;
mod stages;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run Mini programs with the engines of the jitlab stages, and grade your work.
#[derive(Parser)]
#[command(name = "jitlab", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a .mini or .jasm program: its prints on stdout, errors on stderr
    /// (exit 1: runtime error, 2: the file does not load).
    Run {
        #[command(flatten)]
        args: jitlab_cli::RunArgs,
        /// The stage whose engine runs it (default: the highest built stage). A stage
        /// that adds no engine runs the one below it: `--stage 2` (an assembler, no
        /// engine) runs stage 1's interpreter.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=7))]
        stage: Option<u32>,
    },
    /// Print a program's bytecode as .jasm text (which `jitlab run` reads back), with
    /// `--asm` each instruction with the x86-64 the JIT makes of it, with `--ir` the
    /// optimizer's IR, or with `--shapes` (after a run) the shapes' transition tree.
    Dump {
        #[command(flatten)]
        args: jitlab_cli::DumpArgs,
        /// With `--asm`, the stage whose JIT's code to show (3: each bytecode
        /// instruction's template; 4: each function's IR with its bytecode pc and
        /// x86-64, default; 5 to 7: the program runs first, its output dropped, then
        /// the code of each optimizing compile of the run, in order: 6 with the
        /// caches' fast paths, 7 speculative, with its deopt table). With `--ir`, the
        /// stage whose optimizer's IR to show (default: stage 4's, before any run;
        /// 5 to 7: the program runs first, its output dropped, then each optimizing
        /// compile of the run is shown, whole functions and OSR variants; 7's with
        /// guards and frame states).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=7))]
        stage: Option<u32>,
    },
    /// Run the suite of your crates (`cargo test -p stageN`) and show your progress:
    /// per stage `passed`, `not started`, `k/n tests passed` with the first failing
    /// test, or `does not compile`, and the next hole in book order.
    Grade {
        /// Grade only this stage.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=7))]
        stage: Option<u32>,
        /// Print the results as JSON (stage, holes, tests, status, message) for an
        /// autograder.
        #[arg(long)]
        json: bool,
        /// Stop a stage's `cargo test` after this many seconds (default 900).
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
    },
    /// Grade the stage you are working on again whenever you save one of its files,
    /// and show the next hole.
    Watch {
        /// Watch this stage (default: the first with a hole still to do).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=7))]
        stage: Option<u32>,
        /// Stop a stage's `cargo test` after this many seconds (default 900).
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
    },
    /// Print a hole's book section and its link in `mdbook serve` (default: the next
    /// hole).
    Hint {
        /// The hole's id, as in its `todo!("id: …")`.
        id: Option<String>,
        /// Look in this stage only (ids like `divmod` exist in several stages).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=7))]
        stage: Option<u32>,
    },
    /// List every hole with its state (done or todo), in book order.
    List {
        /// List this stage only.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=7))]
        stage: Option<u32>,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Cmd::Run { args, stage } => run::run(&args, stage),
        Cmd::Dump { args, stage } => run::dump(&args, stage),
        Cmd::Grade {
            stage,
            json,
            timeout,
        } => grade::grade(stage, json, timeout),
        Cmd::Watch { stage, timeout } => watch::watch(stage, timeout),
        Cmd::Hint { id, stage } => hint::hint(id.as_deref(), stage),
        Cmd::List { stage } => list::list(stage),
    }
}
