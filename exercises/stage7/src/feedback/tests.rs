//! Feedback recorded by baseline code (stage 3's templates with [`emit_feedback`])
//! against the tiered interpreter's, and the bets [`FeedbackSpeculation`] makes.

use std::io::Write;
use std::sync::mpsc;

use super::*;
use stage1::bytecode::MAIN;
use stage1::heap::{Heap, DEFAULT_HEAP_LIMIT};
use stage1::interp::tiering::{Counters, Installed, NEVER};
use stage1::interp::{Callout, Entry, Interpreter, Link, Unwind};
use stage1::limits::MAX_FRAMES;
use stage1::load::load_source;
use stage1::Value;
use stage3::context::{Context, FnEntry};
use stage3::{compile_function, SharedCode, TierOptions};
use stage6::optimized::FieldCase;

fn load(source: &str) -> Verified {
    load_source("feedback.mini", source).expect("the test program loads")
}

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
    let _ = Interpreter::new().enter(verified, &mut heap, entry, Some(link), &mut out);
    let output = String::from_utf8_lossy(&out).into_owned();
    (output, counters.feedback().snapshot())
}

/// A run of `verified` in baseline code alone, every function compiled with
/// [`emit_feedback`] (on a thread with a big stack, the output drained here): its
/// output and feedback; `None` when a function does not compile.
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
                Some(counters.feedback().snapshot())
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

/// Baseline code's feedback on `source` is the interpreter's, at every instruction
/// where both record, and nothing elsewhere; their outputs agree. `Ok(false)`: not
/// compared (it does not load, or a function does not compile).
fn agree(name: &str, source: &str) -> Result<bool, String> {
    let Ok(verified) = load_source(name, source) else {
        return Ok(false);
    };
    let Some((output, baseline)) = baseline_feedback(&verified) else {
        return Ok(false);
    };
    let (expected_output, interpreted) = interpreter_feedback(&verified);
    if output != expected_output {
        return Err(format!("{name}: the outputs differ"));
    }
    for (f, function) in verified.program().functions.iter().enumerate() {
        for (pc, &instr) in function.code.iter().enumerate() {
            let mask = baseline_flags(instr);
            let (got, want) = (baseline[f][pc], interpreted[f][pc] & mask);
            if got != want {
                return Err(format!(
                    "{name}: {} pc {pc} ({instr:?}): baseline {got:#b}, interpreter {want:#b}",
                    function.name
                ));
            }
        }
    }
    Ok(true)
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

/// The pcs of `func`'s instructions that `is` picks.
fn pcs(verified: &Verified, func: FnId, is: impl Fn(&Instr) -> bool) -> Vec<usize> {
    let code = &verified.program().functions[func as usize].code;
    (0..code.len()).filter(|&pc| is(&code[pc])).collect()
}

/// Baseline code records each arm of its branches (fused with a compare or not) and
/// the kind of each load's and call's value, exactly where the interpreter does.
#[test]
fn baseline_code_records_branches_and_result_kinds() {
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
    let calls = pcs(&p, MAIN, is_call);
    assert_eq!(
        calls.iter().map(|&pc| at(MAIN, pc)).collect::<Vec<_>>(),
        [INT, INT | OTHER, INT | OTHER],
        "f, get, pick"
    );
    let field = pcs(&p, MAIN, |i| matches!(i, Instr::GetField(_)))[0];
    assert_eq!(at(MAIN, field), INT, "p.x");
    let call_value = pcs(&p, MAIN, |i| matches!(i, Instr::CallValue(_)))[0];
    assert_eq!(at(MAIN, call_value), INT, "g(xs, 1)");
    assert_eq!(at(f, pcs(&p, f, is_jump)[0]), both, "fused with ==");
    let load = pcs(&p, get, |i| matches!(i, Instr::ArrayGet))[0];
    assert_eq!(at(get, load), INT | OTHER);
    let jumps: Vec<u8> = pcs(&p, pick, is_jump)
        .iter()
        .map(|&pc| at(pick, pc))
        .collect();
    assert_eq!(jumps, [both, NOT_TAKEN, both], "||, its second test, if");
    let recorded = feedback.iter().flatten().filter(|&&b| b != 0).count();
    assert_eq!(recorded, 11, "nothing anywhere else: {feedback:?}");
}

/// A branch first taken the other way late records one direction until then.
#[test]
fn baseline_code_records_a_late_branch_when_it_happens() {
    for (n, flags) in [(9, TAKEN), (10, TAKEN | NOT_TAKEN)] {
        let p = load(&branches_and_loads(n));
        let (_, feedback) = baseline_feedback(&p).expect("compiles");
        let f = p.program().function_named("f").expect("defined");
        let jump = pcs(&p, f, |i| matches!(i, Instr::JumpIfFalse(_)))[0];
        assert_eq!(feedback[f as usize][jump], flags, "{n} trips");
    }
}

/// Baseline code and the interpreter record the same feedback on every corpus
/// program and on random ones.
#[test]
fn baseline_code_records_what_the_interpreter_records() {
    let dir = jitlab_testkit::programs_dir(env!("CARGO_MANIFEST_DIR"));
    let programs = jitlab_testkit::corpus::load(&dir);
    assert!(programs.len() >= 60, "only {} programs", programs.len());
    let mut sources: Vec<(String, String)> =
        programs.into_iter().map(|p| (p.name, p.source)).collect();
    for seed in 0..40 {
        sources.push((
            format!("random {seed}"),
            jitlab_testkit::random::program(seed),
        ));
        let objects = jitlab_testkit::random::object_program(seed);
        sources.push((format!("objects {seed}"), objects));
    }
    let mut failures = Vec::new();
    let mut compared = 0;
    for (name, source) in &sources {
        match agree(name, source) {
            Ok(true) => compared += 1,
            Ok(false) => {}
            Err(failure) => failures.push(failure),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        compared >= 120,
        "only {compared} of {} compared",
        sources.len()
    );
}

/// Without the template, baseline code is stage 3's, byte for byte.
#[test]
fn without_feedback_the_code_is_unchanged() {
    let p = load(&branches_and_loads(10));
    let counters = Counters::new(p.program(), NEVER, NEVER);
    let code = |feedback| {
        let options = TierOptions {
            counters: Some(&counters),
            feedback,
            ..TierOptions::default()
        };
        let c = compile_function(&p, MAIN, &options).expect("compiles");
        c.code.bytes().to_vec()
    };
    let plain = code(None);
    let recording = code(Some(emit_feedback));
    assert!(recording.len() > plain.len());
    let none_options = TierOptions {
        counters: Some(&counters),
        ..TierOptions::default()
    };
    let again = compile_function(&p, MAIN, &none_options).expect("compiles");
    assert_eq!(again.code.bytes(), &plain[..]);
}

// ---- the bets ------------------------------------------------------------------------

/// A program with one instruction of each kind a bet is about: `main` calls `f`
/// (a branch, an add, a load, a field, a call through a value).
fn bets_program() -> Verified {
    load(
        "fn one(x) { return x; }\n\
         fn two(x, y) { return x; }\n\
         fn f(a, o, g) { if a[0] { return o.x + g(1); } return 0; }\n\
         print f([1], {x: 2}, one);",
    )
}

/// The pc of the first instruction of `f` that `is` picks.
fn pc_of(p: &Verified, is: impl Fn(&Instr) -> bool) -> Pc {
    let f = p.program().function_named("f").expect("defined");
    pcs(p, f, is)[0] as Pc
}

#[test]
fn bets_follow_the_flags_seen() {
    let p = bets_program();
    let f = p.program().function_named("f").expect("defined");
    let load = pc_of(&p, |i| matches!(i, Instr::ArrayGet));
    let jump = pc_of(&p, |i| matches!(i, Instr::JumpIfFalse(_)));
    let add = pc_of(&p, |i| matches!(i, Instr::Add));
    let mut feedback: Vec<Vec<u8>> = p
        .program()
        .functions
        .iter()
        .map(|g| vec![0; g.code.len()])
        .collect();
    let spec = |feedback: &Vec<Vec<u8>>, dropped: &[(FnId, Pc)]| {
        FeedbackSpeculation::new(&p, feedback.clone(), None, dropped.iter().copied())
    };
    // Never run: no bet but on overflow (never seen).
    let s = spec(&feedback, &[]);
    assert!(!s.int_result(f, load) && s.branch(f, jump).is_none());
    assert!(s.no_overflow(f, add));
    let cases: [(u8, bool); 4] = [
        (INT, true),
        (OTHER, false),
        (INT | OTHER, false),
        (0, false),
    ];
    for (flags, bet) in cases {
        feedback[f as usize][load as usize] = flags;
        assert_eq!(spec(&feedback, &[]).int_result(f, load), bet, "{flags:#b}");
    }
    let branches = [
        (TAKEN, Some(true)),
        (NOT_TAKEN, Some(false)),
        (TAKEN | NOT_TAKEN, None),
    ];
    for (flags, bet) in branches {
        feedback[f as usize][jump as usize] = flags;
        assert_eq!(spec(&feedback, &[]).branch(f, jump), bet, "{flags:#b}");
    }
    feedback[f as usize][jump as usize] = TAKEN;
    feedback[f as usize][load as usize] = INT;
    feedback[f as usize][add as usize] = OVERFLOW;
    let s = spec(&feedback, &[]);
    assert!(!s.no_overflow(f, add));
    // Every bet goes once dropped.
    let s = spec(&feedback, &[(f, load), (f, jump)]);
    assert!(!s.int_result(f, load) && s.branch(f, jump).is_none());
    feedback[f as usize][add as usize] = 0;
    assert!(!spec(&feedback, &[(f, add)]).no_overflow(f, add));
    assert!(spec(&feedback, &[]).no_overflow(f, add));
}

#[test]
fn cache_bets_follow_the_caches() {
    let p = bets_program();
    let program = p.program();
    let id = |name| program.function_named(name).expect("defined");
    let (f, one, two) = (id("f"), id("one"), id("two"));
    let field = pc_of(&p, |i| matches!(i, Instr::GetField(_)));
    let call = pc_of(&p, |i| matches!(i, Instr::CallValue(_)));
    let site = |pc: Pc| p.sites().of(f, pc as usize).expect("a site");
    let case = |shape| FieldCase {
        shape,
        slot: 16,
        new_shape: 0,
    };
    let feedback = vec![Vec::new(); program.functions.len()];
    let spec = |caches: OptimizedCode, dropped: &[(FnId, Pc)]| {
        FeedbackSpeculation::new(&p, feedback.clone(), Some(&caches), dropped.iter().copied())
    };
    // Uninitialized (or megamorphic: no entries left): no bet.
    let s = spec(OptimizedCode::new(), &[]);
    assert!(!s.field_hit(f, field) && s.call_target(f, call).is_none());
    // Monomorphic and polymorphic field sites hit.
    for shapes in [vec![case(64)], vec![case(64), case(128)]] {
        let caches = OptimizedCode::new().with_field(site(field), shapes);
        assert!(spec(caches, &[]).field_hit(f, field));
    }
    // One target of the call's arity; not two, not one of another arity.
    let targets = [
        (vec![one], Some(one)),
        (vec![one, two], None),
        (vec![two], None),
    ];
    for (targets, bet) in targets {
        let caches = OptimizedCode::new().with_call(site(call), targets.clone());
        assert_eq!(spec(caches, &[]).call_target(f, call), bet, "{targets:?}");
    }
    // A field bet is no call bet, and dropped bets go.
    let caches = OptimizedCode::new()
        .with_field(site(field), vec![case(64)])
        .with_call(site(call), vec![one]);
    let s = spec(caches.clone(), &[]);
    assert!(s.call_target(f, field).is_none() && !s.field_hit(f, call));
    let s = spec(caches, &[(f, field), (f, call)]);
    assert!(!s.field_hit(f, field) && s.call_target(f, call).is_none());
}

#[test]
fn inlining_is_bounded_by_size_depth_and_budget() {
    // `small` has 4 instructions; `big` more than the limit.
    let body: String = (0..INLINE_MAX_SIZE)
        .map(|k| format!("x = x + {k}; "))
        .collect();
    let p = load(&format!(
        "fn small(x) {{ return x + 1; }}\n\
         fn big(x) {{ {body}return x; }}\n\
         print small(1) + big(1);"
    ));
    let program = p.program();
    let id = |name| program.function_named(name).expect("defined");
    let (small, big) = (id("small"), id("big"));
    let small_size = program.functions[small as usize].code.len() as u32;
    assert!(small_size <= INLINE_MAX_SIZE as u32);
    assert!(program.functions[big as usize].code.len() > INLINE_MAX_SIZE);
    let spec = |dropped: &[(FnId, Pc)]| {
        FeedbackSpeculation::new(&p, Vec::new(), None, dropped.iter().copied())
    };
    let s = spec(&[]);
    assert!(!s.inline(MAIN, 3, big, 0), "too big");
    for depth in 0..INLINE_MAX_DEPTH {
        assert!(s.inline(MAIN, 3, small, depth), "depth {depth}");
    }
    assert!(!s.inline(MAIN, 3, small, INLINE_MAX_DEPTH), "too deep");
    assert!(!spec(&[(MAIN, 3)]).inline(MAIN, 3, small, 0), "dropped");
    // The budget: as many copies of `small` as it pays for, then none.
    let s = spec(&[]);
    let copies = (0..1000)
        .take_while(|_| s.inline(MAIN, 3, small, 0))
        .count();
    assert_eq!(copies as u32, INLINE_BUDGET / small_size);
    assert!(!s.inline(MAIN, 3, small, 0));
}
