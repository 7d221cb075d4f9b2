//! Helpers shared by the suite: loading Mini or `.jasm` text, running it on the
//! interpreter, and turning what happened into the testkit's [`Outcome`].
//!
//! Every test that runs the learner's interpreter starts with
//! `if harness().this_test() { return; }` (or checks its programs in [`harness`]'s
//! `each`): the interpreter is `unsafe` inside, so a mistake in a hole can crash or
//! hang the process, and in a child process with a timeout that fails the one test,
//! naming the program it was running, instead of the whole suite.

use std::path::PathBuf;

use jitlab_testkit::isolate::{self, Harness};
use jitlab_testkit::{End, Outcome};
use stage1::interp::Interpreter;
use stage1::{Engine, RuntimeError, SourceError, Verified};

/// `tests/programs/`, the shared corpus.
pub fn programs_dir() -> PathBuf {
    jitlab_testkit::programs_dir(env!("CARGO_MANIFEST_DIR"))
}

/// The suite's isolation harness ([`jitlab_testkit::isolate`]): the default timeout.
pub fn harness() -> Harness {
    isolate::install_panic_hook();
    Harness::new()
}

/// How a crash report names a program: its name and its numbered source.
pub fn program_label(name: &str, source: &str) -> String {
    let mut label = format!("program {name}\n--- source ---\n");
    for (i, line) in source.lines().enumerate() {
        label.push_str(&format!("{:4} | {line}\n", i + 1));
    }
    label
}

/// Loads `source` as the file `name` (`.jasm` by extension, else Mini) and verifies it;
/// a failure is a panic that shows the error and the source.
pub fn load(name: &str, source: &str) -> Verified {
    // In a child process, a crash names the program that was loaded last.
    isolate::running(|| program_label(name, source));
    stage1::load::load_source(name, source)
        .unwrap_or_else(|e| panic!("{e}\n--- {name} ---\n{source}"))
}

/// What the interpreter did with one program: the bytes it printed and how it ended.
pub struct Run {
    pub output: String,
    pub result: Result<String, RuntimeError>,
    pub interpreter: Interpreter,
}

impl Run {
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

    /// The source line the innermost frame of the error was at.
    pub fn error_line(&self) -> u32 {
        self.error().trace.first().map_or(0, |f| f.line)
    }
}

/// Runs a verified program on a fresh interpreter.
pub fn run_verified(program: &Verified) -> Run {
    let mut interpreter = Interpreter::new();
    let mut out = Vec::new();
    let result = interpreter.run(program, &mut out);
    Run {
        output: String::from_utf8(out).expect("print writes UTF-8"),
        result,
        interpreter,
    }
}

/// Loads and runs `source` (Mini unless `name` ends in `.jasm`).
pub fn run_named(name: &str, source: &str) -> Run {
    run_verified(&load(name, source))
}

/// Loads and runs a Mini program.
pub fn run(source: &str) -> Run {
    run_named("test.mini", source)
}

/// Runs a Mini program that must finish: its printed lines, or a panic with the error.
pub fn output_of(source: &str) -> Vec<String> {
    let run = run(source);
    if let Err(e) = &run.result {
        panic!(
            "{e}\n--- printed ---\n{}--- source ---\n{source}",
            run.output
        );
    }
    run.output.lines().map(str::to_string).collect()
}

/// The end of a load error, for the testkit.
pub fn load_error_end(e: &SourceError) -> End {
    End::LoadError {
        line: e.line,
        column: e.column,
        message: e.message.clone(),
    }
}

/// Everything observable about loading and running `source` as the file `name`.
pub fn outcome(name: &str, source: &str) -> Outcome {
    isolate::running(|| program_label(name, source));
    let verified = match stage1::load::load_source(name, source) {
        Ok(v) => v,
        Err(e) => return Outcome::new(b"", load_error_end(&e)),
    };
    let run = run_verified(&verified);
    let end = match &run.result {
        Ok(value) => End::Returned(value.clone()),
        Err(e) => End::RuntimeError {
            message: e.kind.message().to_string(),
            line: run.error_line(),
        },
    };
    Outcome::new(run.output.as_bytes(), end)
}
