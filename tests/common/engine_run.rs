//! What the stage 3 and stage 4 suites share: loading a program, running it on an
//! engine, and comparing a JIT with the stage 1 interpreter. Each suite includes this
//! file into its `common` module (`#[path]`) and names the JIT it grades in a
//! [`Suite`]; the testkit cannot hold it, since it depends on no stage.

use std::path::PathBuf;

use jitlab_testkit::isolate::{self, Harness};
use jitlab_testkit::{describe, random, End, Outcome};
use stage1::interp::Interpreter;
use stage1::{Engine, RuntimeError, Verified};

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
pub fn load_verified(name: &str, source: &str) -> Verified {
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

/// `Ok` when `actual` printed and ended as `expected` (the interpreter's run of
/// `source`) did, to the last frame of an error's trace; else a report: the program,
/// the output diff, both ends, the full traces.
pub fn compare(name: &str, source: &str, expected: &Run, actual: &Run) -> Result<(), String> {
    if expected.output == actual.output && expected.result == actual.result {
        return Ok(());
    }
    let mut report = describe(name, source, &expected.outcome(), &actual.outcome());
    report.push_str(
        &pretty_assertions::Comparison::new(&expected.result, &actual.result).to_string(),
    );
    Err(report)
}

/// Runs `source` on the interpreter, then with `run` under each of `configs` (`run`
/// makes the engine a configuration says and runs the program on it): `Err` with
/// the report of [`compare`] for the first configuration that differs, named by
/// its `Display`.
// Not every suite that includes this file runs configurations (stage 3's does not).
#[allow(dead_code)]
pub fn differential_under<C: std::fmt::Display>(
    name: &str,
    source: &str,
    configs: &[C],
    mut run: impl FnMut(&Verified, &C) -> Run,
) -> Result<(), String> {
    let program = load_verified(name, source);
    let expected = run_on(&mut Interpreter::new(), &program);
    for config in configs {
        let actual = run(&program, config);
        compare(name, source, &expected, &actual)
            .map_err(|report| format!("{report}--- under {config} ---\n"))?;
    }
    Ok(())
}

/// The JIT a suite grades and how it loads programs; the suite's `common` module
/// wraps these methods in plain functions.
#[derive(Clone, Copy)]
pub struct Suite {
    /// Loads and verifies a program (see [`load_verified`]).
    pub load: fn(&str, &str) -> Verified,
    /// A fresh JIT.
    pub jit: fn() -> Box<dyn Engine>,
    /// How failure messages name the JIT ("the JIT", "the optimizing JIT").
    pub jit_name: &'static str,
}

impl Suite {
    /// Runs a Mini program on a fresh JIT.
    pub fn jit(self, source: &str) -> Run {
        run_on(&mut *(self.jit)(), &(self.load)("test.mini", source))
    }

    /// Runs `source` on both engines: `Err` with a report (the program, the output diff,
    /// both ends, the full traces) when they differ in output, result or error.
    pub fn differential(self, name: &str, source: &str) -> Result<(), String> {
        let program = (self.load)(name, source);
        let expected = run_on(&mut Interpreter::new(), &program);
        let actual = run_on(&mut *(self.jit)(), &program);
        compare(name, source, &expected, &actual)
    }

    /// Asserts the JIT prints `expected` lines for `source` and finishes.
    pub fn assert_prints(self, source: &str, expected: &[&str]) {
        let run = self.jit(source);
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
    pub fn assert_error(self, source: &str, message: &str, line: u32) {
        if let Err(report) = self.differential("test.mini", source) {
            panic!("{report}");
        }
        let run = self.jit(source);
        let e = run.error();
        assert_eq!(e.kind.message(), message, "--- source ---\n{source}");
        assert_eq!(
            e.trace.first().map(|f| f.line),
            Some(line),
            "{e}\n--- source ---\n{source}"
        );
    }

    /// Runs `default_seeds` seeded random programs (`JITLAB_RANDOM=N` runs N instead),
    /// each in a child process, and asserts each agrees with the interpreter.
    pub fn assert_random_programs_agree(self, default_seeds: u64) {
        let name = |seed: usize| format!("random-{seed}.mini");
        let failures = harness().each(
            random::seed_count(default_seeds) as usize,
            |seed| program_label(&name(seed), &random::program(seed as u64)),
            |seed| self.differential(&name(seed), &random::program(seed as u64)),
        );
        assert!(
            failures.is_empty(),
            "random programs differ under {} (first {} shown):\n\n{}",
            self.jit_name,
            failures.len(),
            isolate::report(&failures)
        );
    }
}
