//! The reference's own binary (`cargo run -p stage3-solution -- run FILE`): the
//! learner's `src/main.rs`, which names its crate `stage3`, with this crate as
//! `stage3` (as the suite's wrapper does).

extern crate stage3_solution as stage3;

#[path = "../src/main.rs"]
mod learner_main;

fn main() -> std::process::ExitCode {
    learner_main::main()
}
