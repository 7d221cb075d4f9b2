//! The stage 7 suite (`tests/stage7/`), run against the reference crate.
extern crate stage7_solution as stage7;

#[path = "../../../tests/stage7/main.rs"]
mod suite;
