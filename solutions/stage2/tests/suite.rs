//! The stage 2 suite (`tests/stage2/`), run against the reference crate.
extern crate stage2_solution as stage2;

#[path = "../../../tests/stage2/main.rs"]
mod suite;
