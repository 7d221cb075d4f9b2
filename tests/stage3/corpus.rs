//! The corpus under the JIT: every program of `tests/programs/` gives the same output,
//! result and error (with its whole trace) as under the interpreter, and what its
//! comments expect.

use jitlab_testkit::{corpus, isolate};

use stage1::interp::Interpreter;

use super::common::{
    differential, harness, isolated, jit, load, program_label, programs_dir, run_on,
};
use stage3::Jit;

#[test]
fn every_corpus_program_agrees_with_the_interpreter_and_its_comments() {
    // Programs that must fail to load are stage 1's to check; the JIT never sees them.
    let programs: Vec<_> = corpus::load(&programs_dir())
        .into_iter()
        .filter(|p| p.expected_load_error.is_none())
        .collect();
    let jasm = programs
        .iter()
        .filter(|p| p.name.ends_with(".jasm"))
        .count();
    assert!(
        programs.len() >= 60,
        "only {} corpus programs",
        programs.len()
    );
    assert!(jasm >= 5, "only {jasm} `.jasm` corpus programs");
    let failures = harness().max_failures(programs.len()).each(
        programs.len(),
        |i| program_label(&programs[i].name, &programs[i].source),
        |i| {
            let program = &programs[i];
            differential(&program.name, &program.source)?;
            // Where the interpreter itself disagrees with a comment, stage 1's suite
            // reports it; here the JIT must agree with the interpreter (checked above).
            let verified = load(&program.name, &program.source);
            let reference = run_on(&mut Interpreter::new(), &verified);
            if program.check(&reference.outcome()).is_err() {
                eprintln!(
                    "note: the interpreter disagrees with the comments of {}",
                    program.name
                );
                return Ok(());
            }
            program.check(&run_on(&mut Jit::new(), &verified).outcome())
        },
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus programs went wrong under the JIT: {}\n\n{}",
        failures.len(),
        programs.len(),
        isolate::names(&failures, |i| programs[i].name.clone()),
        isolate::report(&failures[..failures.len().min(3)])
    );
}

#[test]
fn a_corpus_program_runs_natively_with_its_prints_streamed() {
    isolated(|| {
        let run = jit("fn fib(n) { if n < 2 { return n; } return fib(n - 1) + fib(n - 2); }\nprint fib(20);\nreturn fib(10);");
        assert_eq!(run.lines(), ["6765"]);
        assert_eq!(run.result, Ok("55".to_string()));
    });
}
