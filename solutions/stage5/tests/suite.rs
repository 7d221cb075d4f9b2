//! The stage 5 suite (`tests/stage5/`), run against the reference crate.
extern crate stage5_solution as stage5;

#[path = "../../../tests/stage5/main.rs"]
mod suite;
