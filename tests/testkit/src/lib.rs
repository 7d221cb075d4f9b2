//! What the suites of every stage share: the corpus of `tests/programs/` with the
//! expectations its programs state in their comments, a seeded generator of random
//! Mini programs for differential testing, readable reports of what went wrong, and
//! [`isolate`]: the harness that runs generated code in a child process with a
//! timeout, so that a crash or a hang fails one test with a message; [`phased`]
//! generates programs that change behaviour after a long warm-up. Beside them:
//! [`memory`] (the peak memory of a process that fills an engine's heap), [`output`]
//! (printing more than a writer takes) and [`binary`] (a stage's own binary, run as
//! the learner runs it).
//!
//! The kit depends on no stage, so that every stage's suite can use it: a suite turns
//! what its engine did into an [`Outcome`] and lets the kit compare and describe it.

pub mod binary;
pub mod corpus;
pub mod isolate;
pub mod memory;
pub mod outcome;
pub mod output;
pub mod phased;
pub mod random;

pub use corpus::{CorpusProgram, LoadErrorExpectation};
pub use outcome::{describe, End, Outcome};

use std::path::PathBuf;

/// The corpus directory, `tests/programs/`, found from the manifest directory of a
/// crate that sits two levels below the workspace root (`solutions/stageN`,
/// `exercises/stageN`): pass `env!("CARGO_MANIFEST_DIR")`.
pub fn programs_dir(manifest_dir: &str) -> PathBuf {
    PathBuf::from(manifest_dir).join("../../tests/programs")
}
