//! The stage 1 suite (`tests/stage1/`), run against the reference crate.
extern crate stage1_solution as stage1;

#[path = "../../../tests/stage1/main.rs"]
mod suite;
