//! The stage 3 suite (`tests/stage3/`), run against the reference crate.
extern crate stage3_solution as stage3;

#[path = "../../../tests/stage3/main.rs"]
mod suite;
