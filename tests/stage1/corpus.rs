//! The corpus: every program of `tests/programs/` prints what its `// expect:`
//! comments say and ends as they say (a runtime error with its message at the line of
//! the comment, or `main`'s value).

use jitlab_testkit::corpus;
use stage1::ErrorKind;

use super::common::{outcome, programs_dir};

#[test]
fn every_corpus_program_prints_and_ends_as_its_comments_expect() {
    let programs = corpus::load(&programs_dir());
    let mut failures = Vec::new();
    for program in &programs {
        let actual = outcome(&program.name, &program.source);
        if let Err(report) = program.check(&actual) {
            failures.push((program.name.clone(), report));
        }
    }
    let names: Vec<&str> = failures.iter().map(|(name, _)| name.as_str()).collect();
    let reports: Vec<&str> = failures.iter().map(|(_, report)| report.as_str()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} corpus programs went wrong: {}\n\n{}",
        failures.len(),
        programs.len(),
        names.join(", "),
        reports.join("\n")
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
