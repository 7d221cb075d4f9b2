//! The corpus under the optimizing JIT: every program of `tests/programs/` gives the
//! same output, result and error (with its whole trace) as under the interpreter.

use jitlab_testkit::{corpus, isolate};

use super::common::{differential, harness, isolated, jit, program_label, programs_dir};

#[test]
fn every_corpus_program_agrees_with_the_interpreter() {
    // Programs that must fail to load are stage 1's to check; the JIT never sees them.
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
        "{} of {} corpus programs went wrong under the optimizing JIT: {}\n\n{}",
        failures.len(),
        programs.len(),
        isolate::names(&failures, |i| programs[i].name.clone()),
        isolate::report(&failures[..failures.len().min(3)])
    );
}

#[test]
fn fib_runs_natively_with_its_prints_streamed() {
    isolated(|| {
        let run = jit("fn fib(n) { if n < 2 { return n; } return fib(n - 1) + fib(n - 2); }\nprint fib(20);\nreturn fib(10);");
        assert_eq!(run.lines(), ["6765"]);
        assert_eq!(run.result, Ok("55".to_string()));
    });
}
