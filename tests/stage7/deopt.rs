//! Guards in optimized code (this stage's checks, tables and `rt_deopt`, plugged into
//! stage 4's code generator as its `Deoptimizer`): IR written by hand with guards and
//! their frame states, compiled alone (`stage4::deopt::compile_alone` with
//! `stage7::deopt::DEOPTIMIZER`) and run through the function table beside stage 3's baseline code of the other
//! functions. A guard that holds costs a check; one that fails leaves for the
//! interpreter at its frame state, rebuilt from the deopt table, and the program
//! goes on (or fails) exactly as the interpreter alone runs it: same output, same
//! result, same error with the same trace. Each deoptimization is recorded by the
//! run's hooks (`TierHooks::deoptimize`), so the tests say which guards failed,
//! why, and with which frames — checked against the interpreter's own frame at the
//! same point (the frame-state check).

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::sync::mpsc;

use stage1::bytecode::MAIN;
use stage1::heap::{Heap, DEFAULT_HEAP_LIMIT};
use stage1::interp::tiering::{Counters, Installed, NEVER};
use stage1::interp::trace::runtime_error;
use stage1::interp::{Callout, Entry, Interpreter, Link, OsrFrame, ResumeFrame, Unwind};
use stage1::limits::MAX_FRAMES;
use stage1::print::format_value;
use stage1::value::ERROR_WORD;
use stage1::{Engine, FnId, RuntimeError, Value, Verified};
use stage2::{Assembler, Label, Reg};
use stage3::context::{Context, FnEntry, NO_STRESS};
use stage3::runtime::{call_interpreted, recorded_error, resume_interpreted};
use stage3::{CompiledFunction, Deopt, SharedCode, TierHooks, TierOptions};
use stage4::deopt::{compile_alone, Location};
use stage4::ir::{self, Frame, Function, NO_FEEDBACK};
use stage4::objects::{ObjectLowering, Site};
use stage4::regalloc;

use jitlab_testkit::{isolate, random};
use stage4::speculation::RandomBets;
use stage4::tiered::{compile_speculative, Alone, Calls};
use stage7::deopt::{table_of, DEOPTIMIZER};

use super::common::{harness, isolated, load};

/// Output chunks a run may send before the reader takes them (a thread of its own, so
/// that a wrong run printing on and on never blocks: it runs out of CPU time).
const CHUNKS: usize = 64;

/// The most output bytes a run keeps (the reader drains the rest).
const KEPT: usize = 1 << 20;

/// What one run printed and how it ended.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    output: String,
    result: Result<String, RuntimeError>,
}

/// The interpreter's run of the whole program.
fn interpreted(verified: &Verified) -> Run {
    let mut out = Vec::new();
    let result = Interpreter::new().run(verified, &mut out);
    Run {
        output: String::from_utf8(out).expect("UTF-8"),
        result,
    }
}

/// The run's hooks: each deoptimization recorded, then resumed in the interpreter
/// (stage 3's `resume_interpreted`); with `countdown`, the stress countdown set
/// again after each.
struct Recorder {
    deopts: RefCell<Vec<Deopt>>,
    countdown: Option<i64>,
}

impl TierHooks for Recorder {
    fn hot_call(&self, _ctx: *mut Context, _func: FnId) {}

    fn hot_loop(&self, _: *mut Context, _: FnId, _: usize, _: *const u64) -> u64 {
        0
    }

    fn call_interpreted(
        &self,
        ctx: *mut Context,
        func: FnId,
        args: &[Value],
        depth: usize,
    ) -> Result<Value, Unwind> {
        // SAFETY: the hooks' contract: `ctx` is the live context of a mixed run.
        unsafe { call_interpreted(ctx, func, args, depth) }
    }

    fn deoptimize(&self, ctx: *mut Context, deopt: &Deopt) -> Result<Value, Unwind> {
        self.deopts.borrow_mut().push(deopt.clone());
        if let Some(n) = self.countdown {
            // SAFETY: the live context, not borrowed elsewhere during the call.
            unsafe { (*ctx).native.deopt_countdown = n };
        }
        // SAFETY: as above.
        unsafe { resume_interpreted(ctx, deopt) }
    }
}

/// A function's IR written by hand, allocated, compiled alone.
struct Optimized {
    func: FnId,
    compiled: CompiledFunction,
}

/// Compiles `ir` (a function of `verified`, in the text form) with its registers
/// from `registers` (all of them: `None`), stress checks with `stress`.
fn optimize(
    verified: &Verified,
    f: &Function,
    registers: Option<&[Reg]>,
    stress: bool,
) -> Optimized {
    optimize_with(verified, f, registers, stress, None)
}

/// [`optimize`], the object instructions lowered with `objects`.
fn optimize_with(
    verified: &Verified,
    f: &Function,
    registers: Option<&[Reg]>,
    stress: bool,
    objects: Option<&dyn ObjectLowering>,
) -> Optimized {
    let alloc = match registers {
        Some(regs) => regalloc::allocate_with(f, regs),
        None => regalloc::allocate(f),
    };
    regalloc::checker::check(f, &alloc)
        .unwrap_or_else(|e| panic!("the allocation fails its check: {}", e[0]));
    let alone = Alone {
        osr: None,
        calls: Calls::Table,
    };
    let compiled = compile_alone(verified, f, &alloc, alone, objects, &DEOPTIMIZER, stress)
        .unwrap_or_else(|e| panic!("not compiled: {e}"));
    Optimized {
        func: f.id,
        compiled,
    }
}

/// Parses `text`, one function's IR.
fn parse(text: &str) -> Function {
    ir::text::parse(text).unwrap_or_else(|e| panic!("{e:?}\n{text}"))
}

/// Runs `verified` from `main` in stage 3's baseline code, the functions of
/// `optimized` in their optimized code, on this thread; `countdown`: the stress
/// countdown (set again after every deopt). The run and the deopts that happened.
fn run(verified: &Verified, optimized: &[&Optimized], countdown: Option<i64>) -> (Run, Vec<Deopt>) {
    let program = verified.program();
    let shared = SharedCode::new(program).expect("the shared code");
    let baseline: Vec<_> = (0..program.functions.len() as FnId)
        .map(|f| stage3::compile_function(verified, f, &TierOptions::default()).expect("baseline"))
        .collect();
    let mut table: Vec<FnEntry> = baseline
        .iter()
        .zip(&program.functions)
        .map(|(c, f)| FnEntry {
            code: c.entry_address(),
            arity: u64::from(f.arity),
        })
        .collect();
    for o in optimized {
        table[o.func as usize].code = o.compiled.entry_address();
    }
    let compiled = vec![true; program.functions.len()];
    let hooks = Recorder {
        deopts: RefCell::new(Vec::new()),
        countdown,
    };
    let mut heap = Heap::new(DEFAULT_HEAP_LIMIT);
    let (sink, chunks) = mpsc::sync_channel::<Vec<u8>>(CHUNKS);
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        for chunk in chunks {
            if out.len() < KEPT {
                out.extend_from_slice(&chunk);
            }
        }
        out
    });
    let word;
    let (error, trace);
    {
        let mut ctx = Context::new(program, &mut heap, &table, Some(sink));
        ctx.runtime.verified = verified;
        ctx.runtime.compiled = compiled.as_slice();
        ctx.runtime.entry = Some(shared.entry());
        ctx.native.deopt_countdown = countdown.unwrap_or(NO_STRESS);
        // SAFETY: `hooks` outlives the context, dropped at the end of this block.
        unsafe { ctx.runtime.set_hooks(&hooks) };
        word = shared.entry()(
            &mut ctx,
            std::ptr::null(),
            table[MAIN as usize].code,
            MAX_FRAMES as u64,
        );
        assert!(ctx.runtime.flush(), "the receiver is here");
        error = ctx.runtime.error;
        trace = std::mem::take(&mut ctx.runtime.trace);
    }
    // The context, and with it the sink, is gone: the reader ends.
    let out = reader.join().expect("the reader");
    let result = if word == ERROR_WORD {
        Err(runtime_error(
            program,
            recorded_error(error),
            trace.into_iter(),
        ))
    } else {
        // SAFETY: a value of this run, on `heap`, not the error word.
        Ok(format_value(program, &heap, unsafe {
            Value::from_bits(word)
        }))
    };
    let run = Run {
        output: String::from_utf8(out).expect("UTF-8"),
        result,
    };
    (run, hooks.deopts.into_inner())
}

/// Runs `verified` with `optimized` and checks it against the interpreter; the
/// deopts.
fn agrees(verified: &Verified, optimized: &[&Optimized], countdown: Option<i64>) -> Vec<Deopt> {
    let expected = interpreted(verified);
    let (actual, deopts) = run(verified, optimized, countdown);
    pretty_assertions::assert_eq!(expected, actual, "deopts: {deopts:#?}");
    deopts
}

/// A deopt as (reason, innermost function, its pc, frames).
type Summary = (&'static str, FnId, usize, usize);

/// Each deopt's [`Summary`].
fn summary(deopts: &[Deopt]) -> Vec<Summary> {
    deopts
        .iter()
        .map(|d| {
            let inner = d.frames.last().expect("a frame");
            (d.reason, inner.func, inner.pc, d.frames.len())
        })
        .collect()
}

// ---- guards inlined three deep -----------------------------------------------------

/// `h` calls `g` calls `f`: compiled as `h` with both calls inlined by hand.
const NESTED: &str = "\
fn f(a, b) {
  let c = a + b;
  print c;
  return c * 2;
}
fn g(x) {
  return f(x, 1) + 1;
}
fn h(y) {
  return g(y) + 100;
}
";

/// `h` (f3) with `g` (f2, frame 1, called at h's pc 1) and `f` (f1, frame 2, called
/// at g's pc 2) inlined: b1 is g's code, b2 f's, b3 g's after the call, b4 h's.
const NESTED_IR: &str = "\
function h f3 {
b0(v0):  @0
    v1 = const 1  @1
    v2 = const 0  @1
    v3 = const 100  @2
    v4 = const 2  @7
    enter  @1
    jump b1
b1:  @0
    enter  @2
    jump b2
b2:  @0
    v5 = guard int v0 [f3@1: v0 | > f2@2: v0 | > f1@2: v0, v1, v2 | v0, v1]  @2
    v6 = guard add v5, v1 [f3@1: v0 | > f2@2: v0 | > f1@2: v0, v1, v2 | v5, v1]  @2
    print v6  @5
    v7 = guard mul v6, v4 [f3@1: v0 | > f2@2: v0 | > f1@8: v5, v1, v6 | v6, v4]  @8
    leave  @9
    jump b3(v7)
b3(v8):  @3
    v9 = guard add v8, v1 [f3@1: v0 | > f2@4: v0 | v8, v1]  @4
    leave  @5
    jump b4(v9)
b4(v10):  @2
    v11 = guard add v10, v3 [f3@3: v0 | v10, v3]  @3
    return v11
}
";

/// [`NESTED_IR`] with its inlined calls, optimized.
fn nested(verified: &Verified, registers: Option<&[Reg]>, stress: bool) -> Optimized {
    let mut f = parse(NESTED_IR);
    inline_two_deep(&mut f);
    optimize(verified, &f, registers, stress)
}

/// The inlined calls of h's IR with [`NESTED_IR`]'s blocks: frame 1 is g's (called at
/// h's pc 1), frame 2 f's (called at g's pc 2); b1 and b3 are g's code, b2 f's.
fn inline_two_deep(f: &mut Function) {
    f.frames = vec![
        Frame {
            func: 2,
            call_pc: 1,
            caller: 0,
        },
        Frame {
            func: 1,
            call_pc: 2,
            caller: 1,
        },
    ];
    for (block, frame) in [(1, 1), (2, 2), (3, 1)] {
        for &inst in &f.blocks[block].insts.clone() {
            f.insts[inst.index()].frame = frame;
        }
    }
}

fn nested_program(main: &str) -> Verified {
    load("nested.mini", &format!("{NESTED}{main}"))
}

#[test]
fn guards_that_hold_cost_no_deopt() {
    isolated(|| {
        let verified = nested_program("print h(1);\nprint h(-7);\nprint h(20) + h(3);\n");
        for registers in [None, Some(&[Reg::RCX][..])] {
            let h = nested(&verified, registers, false);
            let deopts = agrees(&verified, &[&h], None);
            assert_eq!(summary(&deopts), []);
        }
    });
}

#[test]
fn a_guard_inlined_two_deep_deopts_into_three_frames() {
    isolated(|| {
        // An array where f's guard wants an integer: three frames rebuilt (h at its
        // call of g, g at its call of f, f at its add), and the interpreter raises
        // `type error` with f, g, h and main in the trace.
        let verified = nested_program("print h(5);\nprint h([1]);\n");
        let h = nested(&verified, None, false);
        let deopts = agrees(&verified, &[&h], None);
        assert_eq!(summary(&deopts), [("not an integer", 1, 2, 3)]);
        let d = &deopts[0];
        let funcs: Vec<(FnId, usize)> = d.frames.iter().map(|f| (f.func, f.pc)).collect();
        assert_eq!(funcs, [(3, 1), (2, 2), (1, 2)]);
        // main's frame is below h's.
        assert_eq!(d.depth, 1);
        assert_eq!(d.code, h.compiled.entry_address());
        assert_eq!(d.guard, 0);
    });
}

#[test]
fn overflow_guards_deopt_at_each_inlined_depth() {
    isolated(|| {
        // f's add (2 deep), f's mul after its print (2 deep: the print is not
        // redone), and h's own add (0 deep): the interpreter raises each overflow.
        for (arg, expected) in [
            ("4611686018427387903", ("overflow", 1, 2, 3)),
            ("2305843009213693951", ("overflow", 1, 8, 3)),
            ("2305843009213693950", ("overflow", 3, 3, 1)),
        ] {
            let verified = nested_program(&format!("print h(2);\nprint h({arg});\n"));
            let h = nested(&verified, None, false);
            let deopts = agrees(&verified, &[&h], None);
            assert_eq!(summary(&deopts), [expected], "h({arg})");
        }
    });
}

#[test]
fn the_frame_limit_is_whole_after_a_deopt_in_inlined_code() {
    isolated(|| {
        // Each deopt happens two calls deep in inlined code: if its stub did not give
        // the inlined frames back, every call would leak two frames and the loop
        // would end in `stack overflow`.
        let main = "let i = 0;\nwhile i < 6000 {\n  h(i);\n  i = i + 1;\n}\nprint h(1);\n";
        let verified = nested_program(main);
        let h = nested(&verified, None, true);
        let deopts = agrees(&verified, &[&h], Some(1));
        assert_eq!(deopts.len(), 6001);
        assert!(deopts.iter().all(|d| d.reason == "stress" && d.depth == 1));
    });
}

// ---- every guard kind ---------------------------------------------------------------

/// `get(a, i)` is `a[i] + 1`; `apply(f, x)` calls `f(x)`; `pick(c)` branches.
const KINDS: &str = "\
fn get(a, i) {
  return a[i] + 1;
}
fn one(x) {
  return x + 1;
}
fn two(x) {
  return x + 2;
}
fn apply(f, x) {
  return f(x);
}
fn pick(c) {
  if c {
    return 10;
  }
  return 20;
}
fn small(c) {
  if c < 5 {
    return 1;
  }
  return 2;
}
";

/// `small` (f6) with its branch pruned to one side or the other: the compare goes
/// along with the guard (`cmp; jcc`), and the frame state's condition, never
/// computed, is the value that fails the guard.
fn small_ir(taken: bool) -> String {
    let (pc, result) = if taken { (4, 1) } else { (6, 2) };
    format!(
        "function small f6 {{
b0(v0):  @0
    v1 = const 5  @1
    v2 = check_int v0  @2
    v3 = lt v2, v1  @2
    guard cond v3, {taken} [f6@3: v0 | v3]  @3
    v4 = const {result}  @{pc}
    return v4
}}
"
    )
}

#[test]
fn a_branch_guard_takes_its_compare_along() {
    isolated(|| {
        for taken in [true, false] {
            let verified = kinds_program("print small(1);\nprint small(9);\n");
            let f = parse(&small_ir(taken));
            let o = optimize(&verified, &f, None, false);
            let deopts = agrees(&verified, &[&o], None);
            assert_eq!(summary(&deopts), [("branch", 6, 3, 1)]);
            let argument = Value::int(if taken { 9 } else { 1 });
            let condition = Value::int(i64::from(!taken));
            assert_eq!(deopts[0].frames[0].locals, [argument]);
            assert_eq!(deopts[0].frames[0].operands, [condition]);
            let record = table_of(&o.compiled).expect("a table").guard(0);
            let word = condition.bits() as i64;
            assert_eq!(record.frames[0].operands, [Location::Const(word)]);
            // With stress, the compare is computed: its value is whichever it is.
            let o = optimize(&verified, &f, None, true);
            let deopts = agrees(&verified, &[&o], Some(1));
            assert_eq!(deopts.len(), 2);
            let record = table_of(&o.compiled).expect("a table").guard(0);
            assert!(!matches!(record.frames[0].operands[0], Location::Const(_)));
        }
    });
}

/// `get` (f1): the element's checks, the loaded value an integer, the add.
const GET_IR: &str = "\
function get f1 {
b0(v0, v1):  @0
    v2 = guard array_get v0, v1 [f1@2: v0, v1 | v0, v1]  @2
    v3 = guard int v2 [f1@3: v0, v1 | v2]  @2
    v4 = const 1  @3
    v5 = guard add v3, v4 [f1@4: v0, v1 | v3, v4]  @4
    return v5
}
";

/// `apply` (f4): a call of the one target seen, `one` (f2), behind a callee guard.
const APPLY_IR: &str = "\
function apply f4 {
b0(v0, v1):  @0
    guard callee v0, f2 [f4@2: v0, v1 | v0, v1]  @2
    v2 = call f2(v1)  @2
    return v2
}
";

/// `pick` (f5): the branch pruned to its `then` side behind a condition guard.
const PICK_IR: &str = "\
function pick f5 {
b0(v0):  @0
    v1 = check_int v0  @1
    guard cond v1, true [f5@1: v0 | v0]  @1
    v2 = const 10  @2
    return v2
}
";

fn kinds_program(main: &str) -> Verified {
    load("kinds.mini", &format!("{KINDS}{main}"))
}

#[test]
fn every_guard_kind_holds_and_fails() {
    isolated(|| {
        let cases: [(&str, &str, Vec<Summary>); 7] = [
            ("print get([1, 2, 3], 1);\n", GET_IR, vec![]),
            (
                "print get([1, [2], 3], 1);\n",
                GET_IR,
                vec![("not an integer", 1, 3, 1)],
            ),
            (
                "print get([1, 2], 2);\n",
                GET_IR,
                vec![("array check", 1, 2, 1)],
            ),
            (
                "print get([4611686018427387903], 0);\n",
                GET_IR,
                vec![("overflow", 1, 4, 1)],
            ),
            (
                "print apply(one, 5);\nprint apply(two, 5);\nprint apply(one, 6);\n",
                APPLY_IR,
                vec![("call target", 4, 2, 1)],
            ),
            (
                "print pick(1);\nprint pick(0);\nprint pick(7);\n",
                PICK_IR,
                vec![("branch", 5, 1, 1)],
            ),
            ("print pick(1);\nprint pick([0]);\n", PICK_IR, vec![]),
        ];
        for (main, ir, expected) in cases {
            let verified = kinds_program(main);
            let f = parse(ir);
            for registers in [None, Some(&[Reg::RCX][..])] {
                let o = optimize(&verified, &f, registers, false);
                let deopts = agrees(&verified, &[&o], None);
                assert_eq!(summary(&deopts), expected, "{main}");
            }
        }
    });
}

// ---- the frame-state check ----------------------------------------------------------

/// main's loop, whose header (pc 8) the interpreter reports at each back edge.
const LOOP: &str = "\
let k = 0;
let t = 10;
let big = 4611686018427387903;
let f = show;
while k < 5 {
  t = t + k * 3;
  k = k + 1;
}
print f(t);
print big;
fn show(x) { print x; return x + 1; }
";

/// main with a guard at the loop header betting that `k < 3` (wrong on the fourth
/// arrival): its state, main's frame at pc 8, has `k` and `t` in registers or slots,
/// `big` (a constant too big for a short encoding) and `f` (a function value) as
/// constants.
const LOOP_IR: &str = "\
function main f0 {
b0:  @0
    v0 = const 0  @0
    v1 = const 10  @2
    v2 = const 4611686018427387903  @4
    v3 = func_ref f1  @6
    v4 = const 5  @9
    v5 = const 3  @14
    v6 = const 1  @19
    jump b1(v0, v1)
b1(v7, v8):  @8
    v20 = lt v7, v5  @8
    guard cond v20, true [f0@8: v7, v8, v2, v3 | ]  @8
    v9 = lt v7, v4  @10
    branch v9, b2, b3
b2:  @12
    v10 = guard mul v7, v5 [f0@15: v7, v8, v2, v3 | v8, v7, v5]  @15
    v11 = guard add v8, v10 [f0@16: v7, v8, v2, v3 | v8, v10]  @16
    v12 = guard add v7, v6 [f0@20: v7, v11, v2, v3 | v7, v6]  @20
    jump b1(v12, v11)
b3:  @23
    v13 = call_value v3(v8)  @25
    print v13  @26
    print v2  @28
    return v0
}
";

/// The interpreter's frames at each arrival at a loop header after a back edge.
struct Arrivals {
    frames: RefCell<Vec<ResumeFrame>>,
    counters: Counters,
    calls: Cell<usize>,
}

impl Callout for &Arrivals {
    fn call(
        &mut self,
        _heap: &mut Heap,
        _func: FnId,
        _args: &[Value],
        _depth: usize,
        _out: &mut dyn Write,
    ) -> Result<Value, Unwind> {
        self.calls.set(self.calls.get() + 1);
        panic!("no function is installed")
    }

    fn hot_loop(
        &mut self,
        _heap: &mut Heap,
        frame: OsrFrame<'_>,
        _out: &mut dyn Write,
    ) -> Option<Result<Value, Unwind>> {
        self.counters.back_edge(frame.func, frame.loop_pc).set(1);
        self.frames.borrow_mut().push(ResumeFrame {
            func: frame.func,
            pc: frame.target,
            locals: frame.locals.to_vec(),
            operands: frame.operands.to_vec(),
        });
        None
    }
}

/// The interpreter's frame at each arrival at a loop header after a back edge.
fn arrivals(verified: &Verified) -> Vec<ResumeFrame> {
    let program = verified.program();
    let arrivals = Arrivals {
        frames: RefCell::new(Vec::new()),
        counters: Counters::new(program, NEVER, 1),
        calls: Cell::new(0),
    };
    let installed = Installed::new(program.functions.len());
    let mut callout = &arrivals;
    let mut heap = Heap::new(DEFAULT_HEAP_LIMIT);
    let link = Link::Tiered {
        counters: &arrivals.counters,
        installed: &installed,
        callout: &mut callout,
    };
    Interpreter::new()
        .enter(
            verified,
            &mut heap,
            Entry::call(MAIN, &[], 0),
            Some(link),
            &mut std::io::sink(),
        )
        .expect("the loop runs");
    arrivals.frames.into_inner()
}

#[test]
fn a_deopt_rebuilds_the_interpreters_frame_from_registers_slots_and_constants() {
    isolated(|| {
        let verified = load("loop.mini", LOOP);
        let expected = arrivals(&verified);
        assert_eq!(expected.len(), 5);
        // The guard fails at its fourth arrival: the third after a back edge.
        let at_three = &expected[2];
        assert_eq!(at_three.locals[0], Value::int(3));
        let f = parse(LOOP_IR);
        for registers in [None, Some(&[Reg::RCX][..])] {
            let main = optimize(&verified, &f, registers, false);
            let record = table_of(&main.compiled).expect("a table").guard(0);
            let locals = &record.frames[0].locals;
            assert!(matches!(locals[2], Location::Const(_)));
            assert!(matches!(locals[3], Location::Const(_)));
            match registers {
                None => assert!(locals[..2].iter().all(|l| matches!(l, Location::Reg(_)))),
                Some(_) => assert!(locals[..2].iter().any(|l| matches!(l, Location::Slot(_)))),
            }
            let deopts = agrees(&verified, &[&main], None);
            assert_eq!(summary(&deopts), [("branch", 0, 8, 1)]);
            assert_eq!(&deopts[0].frames, std::slice::from_ref(at_three));
            assert_eq!(deopts[0].depth, 0);
        }
    });
}

#[test]
fn every_guard_of_the_loop_deopts_under_stress_with_the_interpreters_frame() {
    isolated(|| {
        let verified = load("loop.mini", LOOP);
        let expected = arrivals(&verified);
        let f = parse(LOOP_IR);
        let main = optimize(&verified, &f, None, true);
        // Countdown 1: the first guard deopts at once, at the first arrival (k = 0,
        // no back edge yet: the frame the interpreter has when it first gets there).
        let deopts = agrees(&verified, &[&main], Some(1));
        assert_eq!(summary(&deopts), [("stress", 0, 8, 1)]);
        assert_eq!(
            deopts[0].frames[0].locals[..2],
            [Value::int(0), Value::int(10)]
        );
        // Countdown 5: the fifth guard run is the header's on the second arrival (4
        // guards a trip), the interpreter's first frame after a back edge.
        let deopts = agrees(&verified, &[&main], Some(5));
        assert_eq!(summary(&deopts), [("stress", 0, 8, 1)]);
        assert_eq!(&deopts[0].frames, std::slice::from_ref(&expected[0]));
        // Each of the other guards of the trip.
        for (countdown, pc) in [(2, 15), (3, 16), (4, 20), (7, 16)] {
            let deopts = agrees(&verified, &[&main], Some(countdown));
            assert_eq!(summary(&deopts), [("stress", 0, pc, 1)], "{countdown}");
        }
    });
}

#[test]
fn errors_in_code_inlined_two_deep_name_every_frame() {
    isolated(|| {
        // `a / b` in f, inlined in g inlined in h, without a guard: its error stub
        // adds f's frame, g's at its call, then h's, as the calls would have.
        let source = "\
fn f(a, b) {
  return a / b;
}
fn g(x) {
  return f(x, 0) + 1;
}
fn h(y) {
  return g(y) + 100;
}
print h(3);
";
        let verified = load("div.mini", source);
        let mut f = parse(
            "\
function h f3 {
b0(v0):  @0
    v1 = const 0  @1
    v2 = const 1  @3
    v3 = const 100  @2
    enter  @1
    jump b1
b1:  @0
    enter  @2
    jump b2
b2:  @0
    v4 = check_int v0  @2
    v5 = div v4, v1  @2
    leave  @3
    jump b3(v5)
b3(v6):  @3
    v7 = add v6, v2  @4
    leave  @5
    jump b4(v7)
b4(v8):  @2
    v9 = add v8, v3  @3
    return v9
}
",
        );
        inline_two_deep(&mut f);
        let h = optimize(&verified, &f, None, false);
        let deopts = agrees(&verified, &[&h], None);
        assert!(deopts.is_empty());
    });
}

#[test]
fn stress_at_every_countdown_agrees_with_the_interpreter() {
    isolated(|| {
        let verified = nested_program(
            "let i = 0;\nwhile i < 5 {\n  print h(i * 1000);\n  i = i + 1;\n}\nprint h([2]);\n",
        );
        for registers in [None, Some(&[Reg::RCX, Reg::RSI][..])] {
            let h = nested(&verified, registers, true);
            for countdown in 1..=6 {
                let deopts = agrees(&verified, &[&h], Some(countdown));
                assert!(!deopts.is_empty());
                assert!(deopts
                    .iter()
                    .all(|d| d.reason == "stress" || d.reason == "not an integer"));
            }
            // Never run out: only the real failure.
            let deopts = agrees(&verified, &[&h], Some(i64::MAX));
            assert_eq!(summary(&deopts), [("not an integer", 1, 2, 3)]);
        }
    });
}

// ---- guarded field accesses ---------------------------------------------------------

/// An object lowering whose fast paths always miss.
struct Misses;

impl ObjectLowering for Misses {
    fn get_field(&self, asm: &mut Assembler, _: Site, _: Reg, _: bool, miss: Label) -> bool {
        asm.jmp(miss);
        true
    }

    fn set_field(
        &self,
        asm: &mut Assembler,
        _: Site,
        _: Reg,
        _: Reg,
        _: bool,
        miss: Label,
    ) -> bool {
        asm.jmp(miss);
        true
    }

    fn call_targets(&self, _: Site) -> Vec<FnId> {
        Vec::new()
    }
}

/// An object lowering with no fast path at all.
struct Declines;

impl ObjectLowering for Declines {
    fn get_field(&self, _: &mut Assembler, _: Site, _: Reg, _: bool, _: Label) -> bool {
        false
    }

    fn set_field(&self, _: &mut Assembler, _: Site, _: Reg, _: Reg, _: bool, _: Label) -> bool {
        false
    }

    fn call_targets(&self, _: Site) -> Vec<FnId> {
        Vec::new()
    }
}

const FIELDS: &str = "\
fn getx(o) {
  return o.x;
}
fn setx(o, v) {
  o.x = v;
  return o;
}
let p = {y: 1, x: 2};
";

/// The index of field `x` in the program's field names.
fn field_x(verified: &Verified) -> usize {
    let fields = &verified.program().fields;
    fields.iter().position(|f| f == "x").expect("a field x")
}

#[test]
fn a_guarded_field_access_is_its_fast_path_and_a_miss_deopts() {
    isolated(|| {
        let main = "print getx(p);\nprint setx(p, 7);\nprint setx({x: 0}, p);\nprint getx(3);\n";
        let verified = load("fields.mini", &format!("{FIELDS}{main}"));
        let x = field_x(&verified);
        let getx = parse(&format!(
            "function getx f1 {{\nb0(v0):  @0\n    v1 = guard get_field v0, {x} [f1@1: v0 | v0]  @1\n    return v1\n}}\n"
        ));
        let setx = parse(&format!(
            "function setx f2 {{\nb0(v0, v1):  @0\n    guard set_field v0, {x}, v1 [f2@2: v0, v1 | v0, v1]  @2\n    return v0\n}}\n"
        ));
        // Every access misses: each deopts, and the interpreter does it (the last
        // one raising `type error` with getx's frame and main's).
        let misses: &dyn ObjectLowering = &Misses;
        let g = optimize_with(&verified, &getx, None, false, Some(misses));
        let s = optimize_with(&verified, &setx, None, false, Some(misses));
        let deopts = agrees(&verified, &[&g, &s], None);
        let miss = "field cache miss";
        let every_access = |reason| {
            [
                (reason, 1, 1, 1),
                (reason, 2, 2, 1),
                (reason, 2, 2, 1),
                (reason, 1, 1, 1),
            ]
        };
        assert_eq!(summary(&deopts), every_access(miss));
        // No fast path (an empty cache: the bet is that the access is not reached):
        // the jump to the deopt stub alone, taken by every access, a soft deopt.
        let declines: &dyn ObjectLowering = &Declines;
        let g = optimize_with(&verified, &getx, None, false, Some(declines));
        let s = optimize_with(&verified, &setx, None, false, Some(declines));
        let deopts = agrees(&verified, &[&g, &s], None);
        assert_eq!(summary(&deopts), every_access(NO_FEEDBACK));
        // Without a lowering, the runtime's call does the access (and raises) in
        // line.
        let g = optimize(&verified, &getx, None, false);
        let s = optimize(&verified, &setx, None, false);
        assert_eq!(summary(&agrees(&verified, &[&g, &s], None)), []);
    });
}

// ---- the speculative pipeline's code, run ----------------------------------------------

/// The native stack of a run: 10,000 frames of any tier, with room to spare.
const STACK: usize = 512 << 20;

/// Every function of `verified` through the speculative pipeline with the bets of
/// `seed` (stress checks with `stress`; with `objects`, its fast paths and bets on
/// field sites too); those it declines stay baseline code.
fn speculated_with(
    verified: &Verified,
    seed: u64,
    stress: bool,
    objects: Option<&dyn ObjectLowering>,
) -> Vec<Optimized> {
    let program = verified.program();
    let bets = RandomBets::new(verified, seed).with_fields(objects.is_some());
    (0..program.functions.len() as FnId)
        .filter_map(|func| {
            let compiled = compile_speculative(
                verified,
                func,
                None,
                0,
                objects,
                &bets,
                &DEOPTIMIZER,
                stress,
                Calls::Table,
            );
            compiled.ok().map(|compiled| Optimized { func, compiled })
        })
        .collect()
}

/// Runs `verified` with every function compiled with the bets of each of `seeds`,
/// without stress and with a deopt at every guard (countdown 1) or every third:
/// `Err` when a run differs from the interpreter's; else how many deopts happened.
fn speculated_agrees(verified: &Verified, seeds: &[u64]) -> Result<usize, String> {
    speculated_agrees_with(verified, seeds, None)
}

/// [`speculated_agrees`] with the object lowering `objects` (and field bets).
fn speculated_agrees_with(
    verified: &Verified,
    seeds: &[u64],
    objects: Option<&dyn ObjectLowering>,
) -> Result<usize, String> {
    let expected = interpreted(verified);
    let mut deopts = 0;
    for &seed in seeds {
        for countdown in [None, Some(1), Some(3)] {
            let compile_and_run = || {
                let optimized = speculated_with(verified, seed, countdown.is_some(), objects);
                let refs: Vec<&Optimized> = optimized.iter().collect();
                run(verified, &refs, countdown)
            };
            let (actual, made) = std::thread::scope(|s| {
                std::thread::Builder::new()
                    .stack_size(STACK)
                    .spawn_scoped(s, compile_and_run)
                    .expect("a thread")
                    .join()
                    .expect("the run")
            });
            if actual != expected {
                return Err(format!(
                    "bets of seed {seed}, countdown {countdown:?}\nexpected {expected:#?}\nactual {actual:#?}"
                ));
            }
            deopts += made.len();
        }
    }
    Ok(deopts)
}

/// Each corpus program with every function compiled with random bets agrees with
/// the interpreter: output, result and error with its trace.
#[test]
fn the_corpus_compiled_with_random_bets_agrees_with_the_interpreter() {
    let programs = super::common::corpus_programs();
    let failures = harness().max_failures(programs.len()).each(
        programs.len(),
        |i| programs[i].0.clone(),
        |i| speculated_agrees(&programs[i].1, &[1, 2]).map(|_| ()),
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus programs went wrong: {}\n\n{}",
        failures.len(),
        programs.len(),
        isolate::names(&failures, |i| programs[i].0.clone()),
        isolate::report(&failures[..failures.len().min(3)])
    );
}

/// Random programs of `source` (a seed's program), named `KIND-SEED.mini`, in
/// batches of `batch` up to `count` seeds (`JITLAB_RANDOM` overrides it), each
/// compiled with its own bets and the object lowering `objects`: every run agrees
/// with the interpreter, and every batch deopts (the bets are often wrong).
fn random_batches_agree(
    kind: &str,
    count: u64,
    batch: u64,
    source: fn(u64) -> String,
    objects: Option<&dyn ObjectLowering>,
) {
    let batches = random::seed_count(count).div_ceil(batch);
    let failures = harness().max_failures(batches as usize).each(
        batches as usize,
        |b| format!("seeds {}..{}", b as u64 * batch, (b as u64 + 1) * batch),
        |b| {
            let mut deopts = 0;
            for seed in b as u64 * batch..(b as u64 + 1) * batch {
                let source = source(seed);
                let verified = load(&format!("{kind}-{seed}.mini"), &source);
                deopts += speculated_agrees_with(&verified, &[seed], objects)
                    .map_err(|e| format!("{kind} program {seed}:\n{source}\n{e}"))?;
            }
            if deopts == 0 {
                return Err("no deopt in the whole batch".to_string());
            }
            Ok(())
        },
    );
    assert!(
        failures.is_empty(),
        "{} of {batches} batches went wrong\n\n{}",
        failures.len(),
        isolate::report(&failures[..failures.len().min(3)])
    );
}

/// Random programs, each compiled with its own bets.
#[test]
fn random_programs_compiled_with_random_bets_agree_with_the_interpreter() {
    random_batches_agree("random", 300, 20, random::program, None);
}

/// Random object programs with field bets and object fast paths that always miss:
/// every guarded field access deopts there, the others take the runtime's call.
#[test]
fn random_object_programs_with_guarded_fast_paths_agree_with_the_interpreter() {
    random_batches_agree("objects", 100, 10, random::object_program, Some(&Misses));
}
