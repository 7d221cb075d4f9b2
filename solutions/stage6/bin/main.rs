//! The reference's own binary (`cargo run -p stage6-solution -- run FILE`): the
//! learner's `src/main.rs`, which names its crate `stage6`, with this crate as
//! `stage6` (as the suite's wrapper does).

extern crate stage6_solution as stage6;

#[path = "../src/main.rs"]
mod learner_main;

fn main() -> std::process::ExitCode {
    learner_main::main()
}
