//! The stage 4 suite: the optimizing compiler's IR, its passes (checked by the shape
//! of what they make), its register allocation (checked by a checker) and its code
//! (checked against the stage 1 interpreter on the corpus and random programs).
//!
//! Written once, run against the learner's crate (`cargo test -p stage4`) and the
//! reference (`cargo test -p stage4-solution`); both call the crate `stage4`.

mod builder;
mod common;
mod corpus;
mod engine;
mod evaluate;
mod ir;
mod passes;
mod random;
mod regalloc;
mod shape;
mod speculation;
