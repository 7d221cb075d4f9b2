//! The corpus under the stage 7 engine: every program of `tests/programs/` gives the
//! same output, result and error (with its whole trace) as under the interpreter,
//! at thresholds 0, 1 and the defaults, with no stress, with guards failing at
//! random from three seeds, and with a deopt at every 1st, 2nd and 7th guard check.
//! The designed programs of `tests/programs/deopt/` too, under the same stress.

use jitlab_testkit::{corpus, isolate};

use super::common::{differential_in, every_config, harness, program_label, programs_dir};

#[test]
fn every_corpus_program_agrees_with_the_interpreter_under_stress() {
    let programs = corpus::runnable(&programs_dir(), 60);
    let configs = every_config();
    let failures = harness().max_failures(programs.len()).each(
        programs.len(),
        |i| program_label(&programs[i].name, &programs[i].source),
        |i| differential_in(&programs[i].name, &programs[i].source, i as u64, &configs),
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus programs went wrong under the stage 7 engine: {}\n\n{}",
        failures.len(),
        programs.len(),
        isolate::names(&failures, |i| programs[i].name.clone()),
        isolate::report(&failures[..failures.len().min(3)])
    );
}

#[test]
fn every_designed_program_agrees_with_the_interpreter_under_stress() {
    // One check per program and configuration: under stress the millionth-trip
    // program runs mostly outside optimized code (a stress deopt never drops a bet,
    // so the code keeps going back to baseline), about a second a configuration in
    // a debug build, and each check has the harness's timeout to itself.
    let programs = corpus::runnable(&programs_dir().join("deopt"), 7);
    let configs = every_config();
    let case = |k: usize| (&programs[k / configs.len()], k % configs.len());
    let failures = harness().max_failures(configs.len()).each(
        programs.len() * configs.len(),
        |k| {
            let (p, c) = case(k);
            format!(
                "under {}\n{}",
                configs[c],
                program_label(&p.name, &p.source)
            )
        },
        |k| {
            let (p, c) = case(k);
            differential_in(&p.name, &p.source, c as u64, &configs[c..=c])
        },
    );
    assert!(
        failures.is_empty(),
        "designed programs went wrong under the stage 7 engine: {}\n\n{}",
        isolate::names(&failures, |k| case(k).0.name.clone()),
        isolate::report(&failures[..failures.len().min(3)])
    );
}
