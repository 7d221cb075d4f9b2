//! The corpus: every program of `tests/programs/` prints what its `// expect:`
//! comments say and ends as they say (a runtime error with its message at the line of
//! the comment, or `main`'s value).

use jitlab_testkit::{corpus, isolate};
use stage1::ErrorKind;

use super::common::{harness, outcome, program_label, programs_dir};

#[test]
fn every_corpus_program_prints_and_ends_as_its_comments_expect() {
    let programs = corpus::load(&programs_dir());
    // One child runs the corpus (a new one after a crash or a hang, which fails that
    // program alone).
    let failures = harness().max_failures(programs.len()).each(
        programs.len(),
        |i| program_label(&programs[i].name, &programs[i].source),
        |i| {
            let program = &programs[i];
            program.check(&outcome(&program.name, &program.source))
        },
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus programs went wrong: {}\n\n{}",
        failures.len(),
        programs.len(),
        isolate::names(&failures, |i| programs[i].name.clone()),
        isolate::report(&failures)
    );
}

#[test]
fn the_corpus_is_large_and_expects_every_runtime_error() {
    let programs = corpus::load(&programs_dir());
    assert!(programs.len() >= 60, "only {} programs", programs.len());
    let all_kinds = [
        ErrorKind::DivisionByZero,
        ErrorKind::IntegerOverflow,
        ErrorKind::IndexOutOfBounds,
        ErrorKind::TypeError,
        ErrorKind::NoSuchField,
        ErrorKind::WrongNumberOfArguments,
        ErrorKind::StackOverflow,
        ErrorKind::OutOfMemory,
    ];
    for kind in all_kinds {
        assert!(
            programs.iter().any(|p| p
                .expected_error
                .as_ref()
                .is_some_and(|(m, _)| m == kind.message())),
            "no corpus program expects `{kind}`"
        );
    }
    let finishing = programs
        .iter()
        .filter(|p| p.expected_error.is_none())
        .count();
    assert!(finishing >= 30, "only {finishing} programs finish normally");
}
