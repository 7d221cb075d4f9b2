//! The stage 2 suite: the assembler's bytes, checked by hand and against iced-x86,
//! labels and fixups, generated code that runs, and W^X executable memory.
//!
//! Written once, run against the learner's crate (`cargo test -p stage2`) and the
//! reference (`cargo test -p stage2-solution`); both call the crate `stage2`.

mod common;

mod bytes;
mod differential;
mod execution;
mod labels;
mod listing;
mod wx;
