//! Helpers shared by the suite: loading Mini text, running it on the interpreter and
//! on the JIT, and comparing what they did.
//!
//! Every test that runs generated code does it through [`isolated`] or [`harness`]
//! (`jitlab_testkit::isolate`): in a child process with a timeout, so that a crash or
//! a hang in the learner's code fails that test alone, naming the program, the signal
//! and where in the generated code it happened.

use std::path::PathBuf;

use jitlab_testkit::isolate::{self, Harness};
use jitlab_testkit::{describe, End, Outcome};
use stage1::interp::Interpreter;
use stage1::{Engine, RuntimeError, Verified};
use stage3::Jit;

/// `tests/programs/`, the shared corpus.
pub fn programs_dir() -> PathBuf {
    jitlab_testkit::programs_dir(env!("CARGO_MANIFEST_DIR"))
}

/// The suite's isolation harness: the default timeout, and crashes in generated code
/// described through the code map the JIT registers (`stage2::code_map`).
pub fn harness() -> Harness {
    isolate::install_panic_hook();
    Harness::new().describer(stage2::code_map::describe)
}

/// Runs a test's body in a child process (see [`harness`]).
#[track_caller]
pub fn isolated(body: impl FnOnce()) {
    harness().case(body)
}

/// How a crash report names a program: its name and its numbered source.
pub fn program_label(name: &str, source: &str) -> String {
    let mut label = format!("program {name}\n--- source ---\n");
    for (i, line) in source.lines().enumerate() {
        label.push_str(&format!("{:4} | {line}\n", i + 1));
    }
    label.push_str("--- what happened ---\n");
    label
}

/// Loads a program (`.jasm` or Mini, by the name's extension) through stage 1's one
/// loader and verifies it; a failure is a panic with the source.
pub fn load(name: &str, source: &str) -> Verified {
    // In a child process, a crash names the program that was loaded last.
    isolate::running(|| {
        let label = program_label(name, source);
        label
            .trim_end_matches("--- what happened ---\n")
            .to_string()
    });
    stage1::load::load_source(name, source)
        .unwrap_or_else(|e| panic!("{e}\n--- {name} ---\n{source}"))
}

/// What one engine did with a program: the bytes printed and how it ended.
pub struct Run {
    pub output: String,
    pub result: Result<String, RuntimeError>,
}

impl Run {
    /// The run as the testkit's [`Outcome`].
    pub fn outcome(&self) -> Outcome {
        let end = match &self.result {
            Ok(v) => End::Returned(v.clone()),
            Err(e) => End::RuntimeError {
                message: e.kind.message().to_string(),
                line: e.trace.first().map_or(0, |f| f.line),
            },
        };
        Outcome::new(self.output.as_bytes(), end)
    }

    /// The printed lines.
    pub fn lines(&self) -> Vec<&str> {
        self.output.lines().collect()
    }

    /// The runtime error, or a panic naming what the program did instead.
    pub fn error(&self) -> &RuntimeError {
        match &self.result {
            Err(e) => e,
            Ok(v) => panic!(
                "expected a runtime error, the program returned {v} after printing:\n{}",
                self.output
            ),
        }
    }
}

/// Runs `program` on `engine`.
pub fn run_on(engine: &mut dyn Engine, program: &Verified) -> Run {
    let mut out = Vec::new();
    let result = engine.run(program, &mut out);
    Run {
        output: String::from_utf8(out).expect("print writes UTF-8"),
        result,
    }
}

/// Runs a Mini program on a fresh JIT.
pub fn jit(source: &str) -> Run {
    run_on(&mut Jit::new(), &load("test.mini", source))
}

/// Runs `source` on both engines: `Err` with a report (the program, the output diff,
/// both ends, the full traces) when they differ in output, result or error.
pub fn differential(name: &str, source: &str) -> Result<(), String> {
    let program = load(name, source);
    let expected = run_on(&mut Interpreter::new(), &program);
    let actual = run_on(&mut Jit::new(), &program);
    if expected.output == actual.output && expected.result == actual.result {
        return Ok(());
    }
    let mut report = describe(name, source, &expected.outcome(), &actual.outcome());
    report.push_str(
        &pretty_assertions::Comparison::new(&expected.result, &actual.result).to_string(),
    );
    Err(report)
}

/// Asserts the JIT prints `expected` lines for `source` and finishes.
pub fn assert_prints(source: &str, expected: &[&str]) {
    let run = jit(source);
    if let Err(e) = &run.result {
        panic!(
            "{e}\n--- printed ---\n{}--- source ---\n{source}",
            run.output
        );
    }
    pretty_assertions::assert_eq!(run.lines(), expected, "--- source ---\n{source}");
}

/// Asserts the JIT stops `source` with `message` at source line `line`, and that the
/// interpreter agrees on everything.
pub fn assert_error(source: &str, message: &str, line: u32) {
    if let Err(report) = differential("test.mini", source) {
        panic!("{report}");
    }
    let run = jit(source);
    let e = run.error();
    assert_eq!(e.kind.message(), message, "--- source ---\n{source}");
    assert_eq!(
        e.trace.first().map(|f| f.line),
        Some(line),
        "{e}\n--- source ---\n{source}"
    );
}
