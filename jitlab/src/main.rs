//! `jitlab`, the course's command line: run a Mini (`.mini`) or bytecode (`.jasm`)
//! program with the engine of a stage, print its bytecode, or grade the learner's
//! crates.

mod grade;
mod run;
mod stages;
mod stats;

use std::path::PathBuf;
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
        /// The program to run.
        file: PathBuf,
        /// The stage whose engine runs it (default: the highest built stage).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=7))]
        stage: Option<u32>,
        /// Print what the engine did (instructions, calls, time, events) on stderr.
        #[arg(long)]
        stats: bool,
    },
    /// Print a program's bytecode as .jasm text (which `jitlab run` reads back), or
    /// with `--asm` each instruction with the x86-64 the template JIT makes of it.
    Dump {
        /// The program to print.
        file: PathBuf,
        /// Show the stage 3 template JIT's machine code under each instruction.
        #[arg(long)]
        asm: bool,
    },
    /// Run the suite of your crates (`cargo test -p stageN`) and show your progress.
    Grade {
        /// Grade only this stage.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=7))]
        stage: Option<u32>,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Cmd::Run { file, stage, stats } => run::run(&file, stage, stats),
        Cmd::Dump { file, asm } => run::dump(&file, asm),
        Cmd::Grade { stage } => grade::grade(stage),
    }
}
