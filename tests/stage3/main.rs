//! The stage 3 suite: the template JIT against the stage 1 interpreter on the corpus
//! and on seeded random programs, every template and every error path on its own,
//! the engine's events, and golden disassembly.
//!
//! Written once, run against the learner's crate (`cargo test -p stage3`) and the
//! reference (`cargo test -p stage3-solution`); both call the crate `stage3`.

mod common;

mod corpus;
mod engine;
mod errors;
mod hostile;
mod listing;
mod mistakes;
mod mixed;
mod random;
mod templates;
