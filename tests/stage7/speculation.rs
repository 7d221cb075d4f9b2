//! Speculative IR with this stage's late pass: the builder's bets (stage 4), the
//! `speculate` pass (`stage7::speculate`, as `stage7::deopt::DEOPTIMIZER` gives it to
//! stage 4's pipeline), and the IR evaluator as the oracle of both.
//!
//! The backbone is differential: every corpus program and random programs, built
//! with a seeded *random* [`Speculation`] — bets that are right and bets that are
//! wrong, calls inlined at random, recursion included — verified (SSA and frame
//! states), then run by the IR evaluator, must print and end (value, or error with
//! its whole trace) exactly as the interpreter does. A lost bet deoptimizes: the
//! evaluator resumes the interpreter from the guard's frame state, so a wrong frame
//! state is a wrong answer. Under stress every `n`-th guard deoptimizes even when it
//! holds, so every frame state is tried, not only the lost bets'.

use jitlab_testkit::random;
use stage1::interp::Interpreter;
use stage1::{Engine, FnId, Instr, Verified};
use stage4::deopt::Deoptimizer;
use stage4::ir::{self, text, Function, Op, Pc};
use stage4::passes::{self, PassStats};
use stage4::speculation::{RandomBets, Scripted, Speculation};
use stage7::deopt::DEOPTIMIZER;

use super::common::{corpus_programs, load};

/// How a run ended: output, then the value or the error with its whole trace.
#[derive(Debug, PartialEq, Eq)]
struct Ending {
    output: String,
    end: Result<String, String>,
}

fn ending(out: Vec<u8>, result: Result<String, stage1::RuntimeError>) -> Ending {
    Ending {
        output: String::from_utf8(out).expect("UTF-8 output"),
        end: result.map_err(|e| e.to_string()),
    }
}

/// Every function of `program` built with `spec`'s bets, checked (SSA and frame
/// states), and optimized as stage 7 compiles it when `optimize` is set (the
/// pipeline, then the late passes).
fn speculative(
    program: &Verified,
    spec: &dyn Speculation,
    optimize: bool,
) -> Result<Vec<Function>, String> {
    let mut fs = Vec::new();
    for id in 0..program.program().functions.len() as u32 {
        let mut f = ir::build::build_speculative(program, id, None, 0, spec);
        let check = |f: &Function, when: &str| {
            ir::verify::verify(f)
                .and_then(|()| ir::verify::verify_states(f, program))
                .map_err(|e| format!("{when}: {e}\n{}", text::print(f)))
        };
        check(&f, "built")?;
        if optimize {
            let mut stats = PassStats::default();
            passes::optimize(&mut f, &mut stats, |_, _| {});
            check(&f, "optimized")?;
            for (name, _) in DEOPTIMIZER.late_passes() {
                passes::run_pass_of(DEOPTIMIZER.late_passes(), name, &mut f, &mut stats)?;
            }
            check(&f, "speculated")?;
            let left = f
                .blocks
                .iter()
                .flat_map(|b| &b.insts)
                .any(|&i| matches!(f.inst(i).op, Op::Checkpoint(_)));
            if left {
                return Err(format!("a checkpoint is left\n{}", text::print(&f)));
            }
        }
        fs.push(f);
    }
    Ok(fs)
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

/// The interpreter's ending of `program`.
fn interpreted(program: &Verified) -> Ending {
    let mut out = Vec::new();
    let result = Interpreter::new().run(program, &mut out);
    ending(out, result)
}

/// Compares the interpreter with the evaluator on `program` built with random bets
/// of each of `seeds`, optimized or not, and under stress (`stress`): what the
/// guards did, summed.
fn compare(
    name: &str,
    program: Verified,
    seeds: std::ops::Range<u64>,
    stress: &'static [Option<u64>],
) -> Result<Counts, String> {
    let name = name.to_string();
    on_big_stack(move || {
        let mut counts = Counts::default();
        let expected = interpreted(&program);
        for seed in seeds {
            let spec = RandomBets::new(&program, seed);
            for optimize in [false, true] {
                let fs = speculative(&program, &spec, optimize)
                    .map_err(|e| format!("{name} (bets {seed}, optimized: {optimize}): {e}"))?;
                for &n in stress {
                    let mut out = Vec::new();
                    let (result, c) = ir::eval::run_counted(&program, &fs, &mut out, n);
                    counts.add(c, n.is_some());
                    let actual = ending(out, result);
                    if expected != actual {
                        let ir: String = fs.iter().map(text::print).collect();
                        return Err(format!(
                            "{name} (bets {seed}, optimized: {optimize}, stress {n:?}): \
                             expected {expected:?}\n  got {actual:?}\n{ir}"
                        ));
                    }
                }
            }
        }
        Ok(counts)
    })
}

/// What the guards of many runs did: guards run, and deopts without and with stress.
#[derive(Debug, Default)]
struct Counts {
    guards: u64,
    lost_bets: u64,
    stressed: u64,
}

impl Counts {
    fn add(&mut self, c: ir::eval::GuardCounts, stressed: bool) {
        self.guards += c.run;
        if stressed {
            self.stressed += c.deopts;
        } else {
            self.lost_bets += c.deopts;
        }
    }

    /// Asserts the bets were put to the test: many guards, lost bets and stress deopts.
    fn assert_tested(&self, what: &str) {
        eprintln!("{what}: {self:?}");
        assert!(
            self.guards > 1000 && self.lost_bets > 100 && self.stressed > 100,
            "{what}: too few guards or deopts to test anything: {self:?}"
        );
    }

    fn sum(&mut self, other: Counts) {
        self.guards += other.guards;
        self.lost_bets += other.lost_bets;
        self.stressed += other.stressed;
    }
}

#[test]
fn speculative_ir_computes_what_the_interpreter_does_on_the_corpus() {
    let mut counts = Counts::default();
    for (name, program) in corpus_programs() {
        counts
            .sum(compare(&name, program, 0..3, &[None, Some(3)]).unwrap_or_else(|e| panic!("{e}")));
    }
    counts.assert_tested("corpus");
}

#[test]
fn speculative_ir_computes_what_the_interpreter_does_on_random_programs() {
    let mut counts = Counts::default();
    for seed in 0..random::seed_count(300) {
        let name = format!("random-{seed}.mini");
        let program = load(&name, &random::program(seed));
        let c = compare(&name, program, seed..seed + 2, &[None, Some(1), Some(5)]);
        counts.sum(c.unwrap_or_else(|e| panic!("{e}")));
    }
    counts.assert_tested("random programs");
}

#[test]
fn speculative_ir_computes_what_the_interpreter_does_on_random_object_programs() {
    let mut counts = Counts::default();
    for seed in 0..random::seed_count(150) {
        let name = format!("random-objects-{seed}.mini");
        let program = load(&name, &random::object_program(seed));
        let c = compare(&name, program, seed..seed + 2, &[None, Some(2)]);
        counts.sum(c.unwrap_or_else(|e| panic!("{e}")));
    }
    counts.assert_tested("random object programs");
}

/// `f` read from `input`, through this stage's late pass `pass`, verified, as text.
fn after_pass(pass: &str, input: &str) -> String {
    let mut f = text::parse(input).unwrap_or_else(|e| panic!("{e}\n{input}"));
    passes::run_pass_of(
        DEOPTIMIZER.late_passes(),
        pass,
        &mut f,
        &mut PassStats::default(),
    )
    .expect("the pass");
    let printed = text::print(&f);
    ir::verify::verify(&f).unwrap_or_else(|e| panic!("{e}\n{printed}"));
    printed
}

#[test]
fn speculate_hands_a_checkpoint_to_the_arithmetic_that_still_can_fail() {
    // pc 2: `a + b`, still an `add` (its checks between); pc 4: `+ 1`, proved
    // (`iadd`); pc 5: `neg`.
    let input = "function f f0 {
b0(v0, v1):  @0
    checkpoint [f0@2: v0, v1 | v0, v1]  @2
    v2 = check_int v0  @2
    v3 = check_int v1  @2
    v4 = add v2, v3  @2
    v5 = const 1  @3
    checkpoint [f0@4: v0, v1 | v4, v5]  @4
    v6 = iadd v4, v5  @4
    checkpoint [f0@5: v0, v1 | v6]  @5
    v7 = neg v6  @5
    return v7
}
";
    let expected = "function f f0 {
b0(v0, v1):  @0
    v2 = check_int v0  @2
    v3 = check_int v1  @2
    v4 = guard add v2, v3 [f0@2: v0, v1 | v0, v1]  @2
    v5 = const 1  @3
    v6 = iadd v4, v5  @4
    v7 = guard neg v6 [f0@5: v0, v1 | v6]  @5
    return v7
}
";
    pretty_assertions::assert_eq!(after_pass("speculate", input), expected);
}

#[test]
fn speculate_gives_a_checkpoint_only_to_its_own_instruction() {
    // The `mul` at pc 4 was folded to a constant; the `mul` at pc 6 had no bet and
    // the `sub` at pc 8 is reduced to a `shl` that can still overflow. The state of
    // pc 4 is not pc 6's: the checkpoint goes and the `mul` stays a `mul`.
    let input = "function f f0 {
b0(v0):  @0
    checkpoint [f0@4: v0 | v0, v0]  @4
    v1 = const 12  @4
    v2 = check_int v0  @6
    v3 = mul v2, v1  @6
    checkpoint [f0@8: v0 | v3]  @8
    v4 = shl v3, 2  @8
    checkpoint [f0@9: v0 | v4]  @9
    print v4  @10
    return v4
}
";
    let expected = "function f f0 {
b0(v0):  @0
    v1 = const 12  @4
    v2 = check_int v0  @6
    v3 = mul v2, v1  @6
    v4 = guard shl v3, 2 [f0@8: v0 | v3]  @8
    print v4  @10
    return v4
}
";
    pretty_assertions::assert_eq!(after_pass("speculate", input), expected);
}

/// `f` calls `g` calls `h`, whose `add` raises `type error` for an array: the
/// calls inlined into `f` two deep.
const THREE_DEEP: &str = "fn h(x) { return x + 1; }
fn g(x) { return h(x) * 2; }
fn f(x) { return g(x) - 1; }
print f(1);
print f([1]);";

#[test]
fn code_inlined_two_deep_has_three_frames_and_keeps_the_trace() {
    let program = load("test.mini", THREE_DEEP);
    let p = program.program();
    let [f, g, h] = ["f", "g", "h"].map(|n| p.function_named(n).expect("defined"));
    let call = |func: FnId| {
        let code = &p.functions[func as usize].code;
        code.iter()
            .position(|i| matches!(i, Instr::Call { .. }))
            .expect("a call") as Pc
    };
    let add = p.functions[h as usize]
        .code
        .iter()
        .position(|i| *i == Instr::Add);
    let spec = Scripted {
        inline: vec![(f, call(f), g, 0), (g, call(g), h, 1)],
        no_overflow: vec![(h, add.expect("an add") as Pc)],
        ..Scripted::default()
    };
    let fs = speculative(&program, &spec, true).unwrap_or_else(|e| panic!("{e}"));
    let inlined = &fs[f as usize];
    let frames: Vec<(FnId, Pc, u32)> = inlined
        .frames
        .iter()
        .map(|fr| (fr.func, fr.call_pc, fr.caller))
        .collect();
    assert_eq!(frames, vec![(g, call(f), 0), (h, call(g), 1)]);
    let guard =
        inlined
            .blocks
            .iter()
            .flat_map(|b| &b.insts)
            .find_map(|&i| match &inlined.inst(i).op {
                Op::Guard(guard) => Some((inlined.inst(i).frame, guard)),
                _ => None,
            });
    let (frame, guard) = guard.unwrap_or_else(|| panic!("no guard\n{}", text::print(inlined)));
    assert_eq!(frame, 2, "the guard is h's, inlined in g, inlined in f");
    let funcs: Vec<FnId> = guard.state.frames.iter().map(|fr| fr.func).collect();
    assert_eq!(funcs, vec![f, g, h]);
    let expected = interpreted(&program);
    assert!(expected
        .end
        .as_ref()
        .is_err_and(|e| e.matches("at ").count() == 4));
    for stress in [None, Some(1), Some(2)] {
        let mut out = Vec::new();
        let (result, counts) = ir::eval::run_counted(&program, &fs, &mut out, stress);
        assert_eq!(ending(out, result), expected, "stress {stress:?}");
        assert!(counts.run > 0);
    }
}

#[test]
fn recursion_inlines_into_itself_as_deep_as_the_speculation_says() {
    let source = "fn fib(n) { if n < 2 { return n; } return fib(n - 1) + fib(n - 2); }
print fib(15);";
    let program = load("test.mini", source);
    let fib = program.program().function_named("fib").expect("fib");
    let calls: Vec<Pc> = program.program().functions[fib as usize]
        .code
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, Instr::Call { .. }))
        .map(|(pc, _)| pc as Pc)
        .collect();
    let adds: Vec<(FnId, Pc)> = program.program().functions[fib as usize]
        .code
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, Instr::Add | Instr::Sub))
        .map(|(pc, _)| (fib, pc as Pc))
        .collect();
    let spec = Scripted {
        inline: calls.iter().map(|&pc| (fib, pc, fib, 1)).collect(),
        no_overflow: adds,
        ..Scripted::default()
    };
    let fs = speculative(&program, &spec, true).unwrap_or_else(|e| panic!("{e}"));
    let f = &fs[fib as usize];
    // Two calls, each inlined, each copy's two calls inlined again: 2 + 4 frames.
    assert_eq!(f.frames.len(), 6, "{}", text::print(f));
    let deepest = f
        .insts
        .iter()
        .filter_map(|i| match &i.op {
            Op::Guard(guard) => Some(guard.state.frames.len()),
            _ => None,
        })
        .max();
    assert_eq!(deepest, Some(3), "{}", text::print(f));
    let expected = interpreted(&program);
    for stress in [None, Some(1), Some(7)] {
        let mut out = Vec::new();
        let result = ir::eval::run_stressed(&program, &fs, &mut out, stress);
        assert_eq!(ending(out, result), expected, "stress {stress:?}");
    }
}
