//! The reference's own binary (`cargo run -p stage1-solution -- run FILE`): the
//! learner's `src/main.rs`, which names its crate `stage1`, with this crate as
//! `stage1` (as the suite's wrapper does).

extern crate stage1_solution as stage1;

#[path = "../src/main.rs"]
mod learner_main;

fn main() -> std::process::ExitCode {
    learner_main::main()
}
