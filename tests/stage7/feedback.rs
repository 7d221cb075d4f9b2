//! Type feedback recorded by baseline code: every function compiled by stage 3's
//! templates with the crate's template (`stage7::feedback::emit_feedback`, the hole
//! `record-feedback`) and run natively, its feedback vectors read afterwards. It must
//! record each arm of every conditional jump and the kind of every load's and call's
//! value, exactly what the tiered interpreter records there for the same run (the
//! corpus and random programs), and nothing elsewhere. Each native run is isolated in
//! a child process.

use std::io::Write;
use std::sync::mpsc;

use jitlab_testkit::{corpus, isolate, random};
use stage1::bytecode::MAIN;
use stage1::heap::{Heap, DEFAULT_HEAP_LIMIT};
use stage1::interp::feedback::{INT, NOT_TAKEN, OTHER, TAKEN};
use stage1::interp::tiering::{Counters, Installed, NEVER};
use stage1::interp::{Callout, Entry, Interpreter, Link, Unwind};
use stage1::limits::MAX_FRAMES;
use stage1::load::load_source;
use stage1::{FnId, Instr, Value, Verified};
use stage3::context::{Context, FnEntry};
use stage3::{compile_function, SharedCode, TierOptions};
use stage7::feedback::emit_feedback;

use super::common::{harness, isolated, program_label, programs_dir};

/// The callout of a tiered run in which nothing is ever compiled.
struct Interpreted;

impl Callout for Interpreted {
    fn call(
        &mut self,
        _: &mut Heap,
        func: FnId,
        _: &[Value],
        _: usize,
        _: &mut dyn Write,
    ) -> Result<Value, Unwind> {
        unreachable!("fn {func} is never installed")
    }
}

/// A tiered run of `verified` in the interpreter alone: its output and feedback.
fn interpreter_feedback(verified: &Verified) -> (String, Vec<Vec<u8>>) {
    let program = verified.program();
    let counters = Counters::new(program, NEVER, NEVER);
    let installed = Installed::new(program.functions.len());
    let mut heap = Heap::new(DEFAULT_HEAP_LIMIT);
    let mut out = Vec::new();
    let link = Link::Tiered {
        counters: &counters,
        installed: &installed,
        callout: &mut Interpreted,
    };
    let entry = Entry::call(MAIN, &[], 0);
    // An error ends the run as any other end does: the feedback is what counts.
    let _ = Interpreter::new().enter(verified, &mut heap, entry, Some(link), &mut out);
    let output = String::from_utf8_lossy(&out).into_owned();
    (output, counters.feedback().snapshot().vectors())
}

/// A run of `verified` in baseline code alone, every function compiled with the
/// crate's feedback template (on a thread with a big stack, the output drained
/// here): its output and feedback; `None` when a function does not compile.
fn baseline_feedback(verified: &Verified) -> Option<(String, Vec<Vec<u8>>)> {
    let program = verified.program();
    let (sink, chunks) = mpsc::sync_channel::<Vec<u8>>(16);
    std::thread::scope(|scope| {
        let runner = std::thread::Builder::new()
            .stack_size(1 << 30)
            .spawn_scoped(scope, move || {
                let counters = Counters::new(program, NEVER, NEVER);
                let options = TierOptions {
                    counters: Some(&counters),
                    feedback: Some(emit_feedback),
                    ..TierOptions::default()
                };
                let compiled = (0..program.functions.len() as FnId)
                    .map(|f| compile_function(verified, f, &options))
                    .collect::<Result<Vec<_>, _>>()
                    .ok()?;
                let shared = SharedCode::new(program).expect("the shared code");
                let table: Vec<FnEntry> = compiled
                    .iter()
                    .zip(&program.functions)
                    .map(|(c, f)| FnEntry {
                        code: c.entry_address(),
                        arity: u64::from(f.arity),
                    })
                    .collect();
                let mut heap = Heap::new(DEFAULT_HEAP_LIMIT);
                let mut ctx = Context::new(program, &mut heap, &table, Some(sink));
                ctx.runtime.verified = verified;
                ctx.runtime.entry = Some(shared.entry());
                // Every counter is at NEVER and every function compiled: no hook and
                // no interpreter is ever asked for.
                shared.entry()(
                    &mut ctx,
                    std::ptr::null(),
                    table[MAIN as usize].code,
                    MAX_FRAMES as u64,
                );
                assert!(ctx.runtime.flush(), "the receiver is here");
                drop(ctx);
                Some(counters.feedback().snapshot().vectors())
            })
            .expect("a thread with a 1 GiB stack");
        let mut out = Vec::new();
        for chunk in chunks.iter() {
            out.extend_from_slice(&chunk);
        }
        let feedback = runner.join().expect("the run does not panic")?;
        Some((String::from_utf8_lossy(&out).into_owned(), feedback))
    })
}

/// The flags baseline code records at an instruction (the interpreter also records
/// errors' flags and `eq`/`ne` on heap values, which baseline code leaves to it).
fn baseline_flags(instr: Instr) -> u8 {
    match instr {
        Instr::JumpIfFalse(_) | Instr::JumpIfTrue(_) => TAKEN | NOT_TAKEN,
        Instr::ArrayGet | Instr::GetField(_) | Instr::Call { .. } | Instr::CallValue(_) => {
            INT | OTHER
        }
        _ => 0,
    }
}

/// Baseline code's feedback on `source` is the interpreter's at every instruction
/// where both record, and nothing elsewhere; their outputs agree.
fn agree(name: &str, source: &str) -> Result<(), String> {
    let verified = load_source(name, source).map_err(|e| format!("{name}: {e}"))?;
    let (output, baseline) =
        baseline_feedback(&verified).ok_or_else(|| format!("{name}: does not compile"))?;
    let (expected_output, interpreted) = interpreter_feedback(&verified);
    if output != expected_output {
        return Err(format!("{name}: the outputs differ"));
    }
    for (f, function) in verified.program().functions.iter().enumerate() {
        for (pc, &instr) in function.code.iter().enumerate() {
            let (got, want) = (baseline[f][pc], interpreted[f][pc] & baseline_flags(instr));
            if got != want {
                return Err(format!(
                    "{name}: fn {} pc {pc} ({instr:?}): baseline code recorded {got:#06b}, \
                     the interpreter {want:#06b} (INT 1, OTHER 2, TAKEN 4, NOT_TAKEN 8)",
                    function.name
                ));
            }
        }
    }
    Ok(())
}

/// `main`'s loop makes `n` trips: `f`'s branch is taken at every trip but the tenth,
/// `get` gives an array once in four, `pick(0)` goes one way through `||` and `if`
/// and every other `pick` the other.
fn branches_and_loads(n: i64) -> String {
    format!(
        "fn f(i) {{ if i == 9 {{ return 1; }} return 0; }}\n\
         fn get(a, i) {{ return a[i]; }}\n\
         fn pick(c) {{ if c || c > 5 {{ return [c]; }} return c; }}\n\
         let xs = [1, 2, [3], 4];\n\
         let p = {{x: 1}};\n\
         let i = 0;\n\
         let s = 0;\n\
         while i < {n} {{ s = s + f(i) + p.x; get(xs, i % 4); pick(i); i = i + 1; }}\n\
         let g = get;\n\
         print g(xs, 1);\n\
         print s;"
    )
}

fn load(source: &str) -> Verified {
    load_source("feedback.mini", source).expect("the test program loads")
}

/// The pcs of `func`'s instructions that `is` picks.
fn pcs(verified: &Verified, func: FnId, is: impl Fn(&Instr) -> bool) -> Vec<usize> {
    let code = &verified.program().functions[func as usize].code;
    (0..code.len()).filter(|&pc| is(&code[pc])).collect()
}

/// Each arm of every branch (fused with a compare or not) and the kind of each
/// load's and call's value, at the instruction's own byte, and nothing else.
#[test]
fn baseline_code_records_branches_and_result_kinds() {
    isolated(|| {
        let p = load(&branches_and_loads(10));
        let (output, feedback) = baseline_feedback(&p).expect("compiles");
        assert_eq!(output, "2\n11\n");
        let both = TAKEN | NOT_TAKEN;
        let program = p.program();
        let id = |name| program.function_named(name).expect("defined");
        let (f, get, pick) = (id("f"), id("get"), id("pick"));
        let is_jump = |i: &Instr| matches!(i, Instr::JumpIfFalse(_) | Instr::JumpIfTrue(_));
        let is_call = |i: &Instr| matches!(i, Instr::Call { .. });
        let at = |func: FnId, pc: usize| feedback[func as usize][pc];
        assert_eq!(at(MAIN, pcs(&p, MAIN, is_jump)[0]), both, "the loop");
        let calls: Vec<u8> = pcs(&p, MAIN, is_call)
            .iter()
            .map(|&pc| at(MAIN, pc))
            .collect();
        assert_eq!(calls, [INT, INT | OTHER, INT | OTHER], "f, get, pick");
        let field = pcs(&p, MAIN, |i| matches!(i, Instr::GetField(_)))[0];
        assert_eq!(at(MAIN, field), INT, "p.x");
        let call_value = pcs(&p, MAIN, |i| matches!(i, Instr::CallValue(_)))[0];
        assert_eq!(at(MAIN, call_value), INT, "g(xs, 1)");
        assert_eq!(at(f, pcs(&p, f, is_jump)[0]), both, "fused with ==");
        let element = pcs(&p, get, |i| matches!(i, Instr::ArrayGet))[0];
        assert_eq!(at(get, element), INT | OTHER, "a[i]");
        let jumps: Vec<u8> = pcs(&p, pick, is_jump)
            .iter()
            .map(|&pc| at(pick, pc))
            .collect();
        assert_eq!(jumps, [both, NOT_TAKEN, both], "||, its second test, if");
        let recorded = feedback.iter().flatten().filter(|&&b| b != 0).count();
        assert_eq!(recorded, 11, "nothing anywhere else: {feedback:?}");
    });
}

/// A branch first taken the other way late records one direction until then.
#[test]
fn baseline_code_records_a_late_branch_when_it_happens() {
    isolated(|| {
        for (n, flags) in [(9, TAKEN), (10, TAKEN | NOT_TAKEN)] {
            let p = load(&branches_and_loads(n));
            let (_, feedback) = baseline_feedback(&p).expect("compiles");
            let f = p.program().function_named("f").expect("defined");
            let jump = pcs(&p, f, |i| matches!(i, Instr::JumpIfFalse(_)))[0];
            assert_eq!(feedback[f as usize][jump], flags, "{n} trips");
        }
    });
}

/// Baseline code and the tiered interpreter record the same feedback on every
/// corpus program and on random ones (with objects of many shapes too).
#[test]
fn baseline_code_records_what_the_interpreter_records() {
    let mut programs: Vec<(String, String)> = corpus::runnable(&programs_dir(), 60)
        .into_iter()
        .map(|p| (p.name, p.source))
        .collect();
    for seed in 0..40 {
        programs.push((format!("random {seed}"), random::program(seed)));
        programs.push((format!("objects {seed}"), random::object_program(seed)));
    }
    let failures = harness().max_failures(programs.len()).each(
        programs.len(),
        |i| program_label(&programs[i].0, &programs[i].1),
        |i| agree(&programs[i].0, &programs[i].1),
    );
    assert!(
        failures.is_empty(),
        "{} of {} programs recorded other feedback in baseline code: {}\n\n{}",
        failures.len(),
        programs.len(),
        isolate::names(&failures, |i| programs[i].0.clone()),
        isolate::report(&failures[..failures.len().min(3)])
    );
}
