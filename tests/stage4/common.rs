//! Helpers shared by the suite: loading Mini text, running it on the interpreter and
//! on the optimizing JIT, and comparing what they did (`tests/common/engine_run.rs`,
//! shared with the stage 3 suite).
//!
//! Every test that runs generated code does it through [`isolated`] or [`harness`]
//! (`jitlab_testkit::isolate`): in a child process with a timeout, so that a crash or
//! a hang in the learner's code fails that test alone, naming the program, the signal
//! and where in the generated code it happened.

#[path = "../common/engine_run.rs"]
mod engine_run;

use stage4::Optimizer;

pub use engine_run::{
    harness, isolated, load_verified as load, program_label, programs_dir, run_on, Run, Suite,
};

/// The suite's JIT: stage 4's optimizing compiler.
const SUITE: Suite = Suite {
    load,
    jit: || Box::new(Optimizer::new()),
    jit_name: "the optimizing JIT",
};

/// Runs a Mini program on a fresh optimizing JIT.
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
