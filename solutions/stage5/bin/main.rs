//! The reference's own binary (`cargo run -p stage5-solution -- run FILE`): the
//! learner's `src/main.rs`, which names its crate `stage5`, with this crate as
//! `stage5` (as the suite's wrapper does).

extern crate stage5_solution as stage5;

#[path = "../src/main.rs"]
mod learner_main;

fn main() -> std::process::ExitCode {
    learner_main::main()
}
