//! The corpus under the stage 6 engine: every program of `tests/programs/` gives the
//! same output, result and error (with its whole trace) as under the interpreter,
//! with and without inline caches, at thresholds 0, 1 and the defaults.

use jitlab_testkit::{corpus, isolate};

use super::common::{differential, harness, program_label, programs_dir};

#[test]
fn every_corpus_program_agrees_with_the_interpreter_with_and_without_caches() {
    // Programs that must fail to load are stage 1's to check.
    let programs: Vec<_> = corpus::load(&programs_dir())
        .into_iter()
        .filter(|p| p.expected_load_error.is_none())
        .collect();
    assert!(
        programs.len() >= 60,
        "only {} corpus programs",
        programs.len()
    );
    let failures = harness().max_failures(programs.len()).each(
        programs.len(),
        |i| program_label(&programs[i].name, &programs[i].source),
        |i| differential(&programs[i].name, &programs[i].source),
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus programs went wrong under the stage 6 engine: {}\n\n{}",
        failures.len(),
        programs.len(),
        isolate::names(&failures, |i| programs[i].name.clone()),
        isolate::report(&failures[..failures.len().min(3)])
    );
}
