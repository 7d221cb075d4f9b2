//! The stage 1 suite: the corpus of `tests/programs/` with the expectations written in
//! its comments, the files that must not load, the `.jasm` text form, every
//! instruction, runtime error and verifier rejection, the limits, the profile counters,
//! and seeded random programs.
//!
//! Written once, run against the learner's crate (`cargo test -p stage1`) and the
//! reference (`cargo test -p stage1-solution`); both call the crate `stage1`.

mod common;

mod corpus;
mod hostile;
mod instructions;
mod jasm_text;
mod limits;
mod load_errors;
mod mistakes;
mod printing;
mod profile;
mod random;
mod runtime_errors;
mod verifier;
