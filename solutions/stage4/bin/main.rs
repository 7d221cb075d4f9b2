//! The reference's own binary (`cargo run -p stage4-solution -- run FILE`): the
//! learner's `src/main.rs`, which names its crate `stage4`, with this crate as
//! `stage4` (as the suite's wrapper does).

extern crate stage4_solution as stage4;

#[path = "../src/main.rs"]
mod learner_main;

fn main() -> std::process::ExitCode {
    learner_main::main()
}
