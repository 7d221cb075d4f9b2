//! Helpers shared by the suite: loading Mini text, running it on the interpreter and
//! on the JIT, and comparing what they did (`tests/common/engine_run.rs`, shared with
//! the stage 4 suite).
//!
//! Every test that runs generated code does it through [`isolated`] or [`harness`]
//! (`jitlab_testkit::isolate`): in a child process with a timeout, so that a crash or
//! a hang in the learner's code fails that test alone, naming the program, the signal
//! and where in the generated code it happened.

#[path = "../common/engine_run.rs"]
mod engine_run;

use jitlab_testkit::isolate;
use stage1::Verified;
use stage3::Jit;

pub use engine_run::{harness, isolated, program_label, programs_dir, run_on, Run, Suite};

/// The suite's JIT: stage 3's template JIT.
const SUITE: Suite = Suite {
    load,
    jit: || Box::new(Jit::new()),
    jit_name: "the JIT",
};

/// Loads a program (`.jasm` or Mini, by the name's extension) through stage 1's one
/// loader and verifies it; a failure is a panic with the source.
pub fn load(name: &str, source: &str) -> Verified {
    // In a child process, a crash names the program that was loaded last.
    isolate::running(|| {
        let label = program_label(name, source);
        label
            .trim_end_matches("--- what happened ---\n")
            .to_string()
    });
    engine_run::load_verified(name, source)
}

/// Runs a Mini program on a fresh JIT.
pub fn jit(source: &str) -> Run {
    SUITE.jit(source)
}

/// Runs `source` on both engines (see [`Suite::differential`]).
pub fn differential(name: &str, source: &str) -> Result<(), String> {
    SUITE.differential(name, source)
}

/// Asserts the JIT prints `expected` lines for `source` and finishes.
pub fn assert_prints(source: &str, expected: &[&str]) {
    SUITE.assert_prints(source, expected)
}

/// Asserts the JIT stops `source` with `message` at source line `line`, and that the
/// interpreter agrees on everything.
pub fn assert_error(source: &str, message: &str, line: u32) {
    SUITE.assert_error(source, message, line)
}

/// Asserts `default_seeds` seeded random programs agree with the interpreter.
pub fn assert_random_programs_agree(default_seeds: u64) {
    SUITE.assert_random_programs_agree(default_seeds)
}
