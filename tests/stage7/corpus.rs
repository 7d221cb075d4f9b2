//! The corpus under the stage 7 engine: every program of `tests/programs/` gives the
//! same output, result and error (with its whole trace) as under the interpreter,
//! at thresholds 0, 1 and the defaults, with no stress, with guards failing at
//! random from three seeds, and with a deopt at every 1st, 2nd and 7th guard check.
//! The designed programs of `tests/programs/deopt/` too, under the same stress.

use jitlab_testkit::{corpus, isolate, CorpusProgram};

use super::common::{differential_in, every_config, harness, program_label, programs_dir};

/// Runs `programs` under every configuration; asserts they all agree.
fn assert_agree(programs: &[CorpusProgram], what: &str) {
    let configs = every_config();
    let failures = harness().max_failures(programs.len()).each(
        programs.len(),
        |i| program_label(&programs[i].name, &programs[i].source),
        |i| differential_in(&programs[i].name, &programs[i].source, i as u64, &configs),
    );
    assert!(
        failures.is_empty(),
        "{} of {} {what} went wrong under the stage 7 engine: {}\n\n{}",
        failures.len(),
        programs.len(),
        isolate::names(&failures, |i| programs[i].name.clone()),
        isolate::report(&failures[..failures.len().min(3)])
    );
}

#[test]
fn every_corpus_program_agrees_with_the_interpreter_under_stress() {
    assert_agree(&corpus::runnable(&programs_dir(), 60), "corpus programs");
}

#[test]
fn every_designed_program_agrees_with_the_interpreter_under_stress() {
    let programs = corpus::runnable(&programs_dir().join("deopt"), 7);
    assert_agree(&programs, "designed programs");
}
