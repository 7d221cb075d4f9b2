//! The stage 4 suite (`tests/stage4/`), run against the reference crate.
extern crate stage4_solution as stage4;

#[path = "../../../tests/stage4/main.rs"]
mod suite;
