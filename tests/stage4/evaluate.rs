//! The passes checked by what their output computes: every corpus program and random
//! programs, optimized, run by the IR's reference evaluator (`ir::eval`), must print
//! and end exactly as the stage 1 interpreter does. This grades the middle end without
//! the code generator.

use jitlab_testkit::random;
use stage1::interp::Interpreter;
use stage1::{Engine, Verified};
use stage4::ir::{self, Function};
use stage4::passes::{self, PassStats};

use super::builder::{corpus_programs, load};

/// How a run ended, compared: output, then the value or the error and its line.
#[derive(Debug, PartialEq, Eq)]
struct Ending {
    output: String,
    end: Result<String, (String, u32)>,
}

fn ending(out: Vec<u8>, result: Result<String, stage1::RuntimeError>) -> Ending {
    Ending {
        output: String::from_utf8(out).expect("UTF-8 output"),
        end: result.map_err(|e| {
            (
                e.kind.message().to_string(),
                e.trace.first().map_or(0, |f| f.line),
            )
        }),
    }
}

/// The IR of every function of `program`, optimized when `optimize` is set.
fn functions(program: &Verified, optimize: bool) -> Vec<Function> {
    (0..program.program().functions.len() as u32)
        .map(|id| {
            let mut f = ir::build(program, id);
            if optimize {
                passes::optimize(&mut f, &mut PassStats::default(), |_, _| {});
            }
            f
        })
        .collect()
}

/// Runs on a thread with a big stack (the evaluator recurses once per Mini call).
fn on_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(f)
        .expect("a thread")
        .join()
        .unwrap_or_else(|_| panic!("the evaluator panicked (see above)"))
}

/// Compares the interpreter with the evaluator on the IR (optimized or not).
fn compare(name: &str, program: Verified, optimize: bool) -> Result<(), String> {
    let name = name.to_string();
    on_big_stack(move || {
        let mut out = Vec::new();
        let result = Interpreter::new().run(&program, &mut out);
        let expected = ending(out, result);
        let fs = functions(&program, optimize);
        let mut out = Vec::new();
        let result = ir::eval::run(&program, &fs, &mut out);
        let actual = ending(out, result);
        if expected == actual {
            Ok(())
        } else {
            let ir: String = fs.iter().map(ir::text::print).collect();
            Err(format!(
                "{name} (optimized: {optimize}): expected {expected:?}\n  got {actual:?}\n{ir}"
            ))
        }
    })
}

#[test]
fn the_built_ir_computes_what_the_interpreter_does_on_the_corpus() {
    for (name, program) in corpus_programs() {
        compare(&name, program, false).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn the_optimized_ir_computes_what_the_interpreter_does_on_the_corpus() {
    for (name, program) in corpus_programs() {
        compare(&name, program, true).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn the_optimized_ir_computes_what_the_interpreter_does_on_random_programs() {
    for seed in 0..random::seed_count(500) {
        let name = format!("random-{seed}.mini");
        let program = load(&name, &random::program(seed));
        compare(&name, program, true).unwrap_or_else(|e| panic!("{e}"));
    }
}
