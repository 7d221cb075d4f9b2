//! The stage 6 suite (`tests/stage6/`), run against the reference crate.
extern crate stage6_solution as stage6;

#[path = "../../../tests/stage6/main.rs"]
mod suite;
