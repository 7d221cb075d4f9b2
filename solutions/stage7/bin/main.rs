//! The reference's own binary (`cargo run -p stage7-solution -- run FILE`): the
//! learner's `src/main.rs`, which names its crate `stage7`, with this crate as
//! `stage7` (as the suite's wrapper does).

extern crate stage7_solution as stage7;

#[path = "../src/main.rs"]
mod learner_main;

fn main() -> std::process::ExitCode {
    learner_main::main()
}
