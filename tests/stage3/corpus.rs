//! The corpus under the JIT: every program of `tests/programs/` gives the same output,
//! result and error (with its whole trace) as under the interpreter, and what its
//! comments expect.

use jitlab_testkit::corpus;

use stage1::interp::Interpreter;

use super::common::{differential, jit, load, programs_dir, run_on};
use stage3::Jit;

#[test]
fn every_corpus_program_agrees_with_the_interpreter_and_its_comments() {
    let programs = corpus::load(&programs_dir());
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut jasm = 0;
    for program in &programs {
        // Programs that must fail to load are stage 1's to check; the JIT never sees them.
        if program.expected_load_error.is_some() {
            continue;
        }
        checked += 1;
        jasm += usize::from(program.name.ends_with(".jasm"));
        if let Err(report) = differential(&program.name, &program.source) {
            failures.push((program.name.clone(), report));
            continue;
        }
        // Where the interpreter itself disagrees with a comment, stage 1's suite
        // reports it; here the JIT must agree with the interpreter (checked above).
        let verified = load(&program.name, &program.source);
        let reference = run_on(&mut Interpreter::new(), &verified);
        if program.check(&reference.outcome()).is_err() {
            eprintln!(
                "note: the interpreter disagrees with the comments of {}",
                program.name
            );
            continue;
        }
        let run = run_on(&mut Jit::new(), &verified);
        if let Err(report) = program.check(&run.outcome()) {
            failures.push((program.name.clone(), report));
        }
    }
    let names: Vec<&str> = failures.iter().map(|(n, _)| n.as_str()).collect();
    let reports: Vec<&str> = failures.iter().map(|(_, r)| r.as_str()).collect();
    assert!(
        failures.is_empty(),
        "{} of {checked} corpus programs went wrong under the JIT: {}\n\n{}",
        failures.len(),
        names.join(", "),
        reports.join("\n")
    );
    assert!(checked >= 60, "only {checked} corpus programs ran");
    assert!(jasm >= 5, "only {jasm} `.jasm` corpus programs ran");
}

#[test]
fn a_corpus_program_runs_natively_with_its_prints_streamed() {
    let run = jit("fn fib(n) { if n < 2 { return n; } return fib(n - 1) + fib(n - 2); }\nprint fib(20);\nreturn fib(10);");
    assert_eq!(run.lines(), ["6765"]);
    assert_eq!(run.result, Ok("55".to_string()));
}
