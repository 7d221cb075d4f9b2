//! The interpreter in a tiered run, against a test double of stage 5: a [`Callout`]
//! that records the hooks' events, installs functions when told, and stands for
//! compiled code with a plain interpreter (a call out runs the function there; an
//! OSR runs the rest of the frame there, entered at the loop's header with the
//! frame's state). So a tiered run must give what the interpreter alone gives, and
//! the events say when each counter ran out.

use super::*;
use crate::bytecode::{Function, Instr, Program, MAIN};
use crate::engine::Engine;
use crate::error::RuntimeError;
use crate::heap::DEFAULT_HEAP_LIMIT;
use crate::interp::tiering::{budget, NEVER};
use crate::interp::{trace, Entry, Interpreter, Link};
use crate::load::load_source;
use crate::print::format_value;
use crate::verify::{verify, Verified};
use Instr::*;

/// What the double saw, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    HotCall {
        func: FnId,
        depth: usize,
    },
    HotLoop {
        func: FnId,
        loop_pc: usize,
        target: usize,
        locals: Vec<Value>,
        operands: Vec<Value>,
        depth: usize,
    },
    /// A call that went out (to "compiled code").
    Call {
        func: FnId,
        args: Vec<Value>,
        depth: usize,
    },
}

/// Which functions the double installs at a `hot_call`.
#[derive(Clone, Debug)]
enum Install {
    Nothing,
    /// The function whose counter ran out, when it is one of these.
    Hot(Vec<FnId>),
    /// Every function but `main` whose counter ran out.
    HotButMain,
    /// At the hot call of the first, the second.
    On(FnId, FnId),
}

/// What the double answers at a `hot_loop`.
#[derive(Clone, Debug)]
enum Osr {
    Decline,
    /// This, every time.
    Answer(Result<Value, Unwind>),
    /// Runs the rest of the frame in a plain interpreter, from the loop's header.
    Run,
}

/// How a tiered run of the double goes: the counters' first and next budgets, what it
/// installs and how it answers OSR.
#[derive(Clone, Debug)]
struct Plan {
    calls: i64,
    loops: i64,
    next_calls: i64,
    next_loops: i64,
    install: Install,
    osr: Osr,
}

impl Plan {
    /// Counters at `calls` and `loops` (thresholds), set to [`NEVER`] once they trip.
    fn new(calls: u64, loops: u64) -> Plan {
        Plan {
            calls: budget(calls),
            loops: budget(loops),
            next_calls: NEVER,
            next_loops: NEVER,
            install: Install::Nothing,
            osr: Osr::Decline,
        }
    }

    fn install(self, install: Install) -> Plan {
        Plan { install, ..self }
    }

    fn osr(self, osr: Osr) -> Plan {
        Plan { osr, ..self }
    }
}

/// The stage 5 stand-in.
struct Double<'v> {
    verified: &'v Verified,
    counters: &'v Counters,
    installed: &'v Installed,
    plan: Plan,
    seen: Vec<Seen>,
}

impl Callout for Double<'_> {
    fn call(
        &mut self,
        heap: &mut Heap,
        func: FnId,
        args: &[Value],
        depth: usize,
        out: &mut dyn Write,
    ) -> Result<Value, Unwind> {
        self.seen.push(Seen::Call {
            func,
            args: args.to_vec(),
            depth,
        });
        Interpreter::new().call_function(self.verified, heap, func, args, depth, None, out)
    }

    fn hot_call(&mut self, _heap: &mut Heap, func: FnId, depth: usize, _out: &mut dyn Write) {
        self.seen.push(Seen::HotCall { func, depth });
        self.counters.call(func).set(self.plan.next_calls);
        match &self.plan.install {
            Install::Nothing => {}
            Install::Hot(these) if these.contains(&func) => self.installed.set(func),
            Install::Hot(_) => {}
            Install::HotButMain if func != MAIN => self.installed.set(func),
            Install::HotButMain => {}
            &Install::On(trigger, target) if trigger == func => self.installed.set(target),
            Install::On(..) => {}
        }
    }

    fn hot_loop(
        &mut self,
        heap: &mut Heap,
        frame: OsrFrame<'_>,
        out: &mut dyn Write,
    ) -> Option<Result<Value, Unwind>> {
        self.seen.push(Seen::HotLoop {
            func: frame.func,
            loop_pc: frame.loop_pc,
            target: frame.target,
            locals: frame.locals.to_vec(),
            operands: frame.operands.to_vec(),
            depth: frame.depth,
        });
        self.counters
            .back_edge(frame.func, frame.loop_pc)
            .set(self.plan.next_loops);
        match &self.plan.osr {
            Osr::Decline => None,
            Osr::Answer(answer) => Some(answer.clone()),
            Osr::Run => {
                let entry = Entry {
                    func: frame.func,
                    pc: frame.target,
                    locals: frame.locals,
                    operands: frame.operands,
                    depth: frame.depth,
                };
                Some(Interpreter::new().enter(self.verified, heap, entry, None, out))
            }
        }
    }
}

/// What a run did: its events, its output, and its value or error (formatted as
/// `Engine::run` formats them).
#[derive(Debug, PartialEq, Eq)]
struct Tiered {
    seen: Vec<Seen>,
    output: String,
    result: Result<String, RuntimeError>,
}

/// Enters `entry` in a tiered run of `verified` under `plan`: the double's events,
/// the output, and what the activation gave.
fn enter_tiered(
    verified: &Verified,
    plan: Plan,
    entry: Entry<'_>,
) -> (Vec<Seen>, String, Result<Value, Unwind>, Heap) {
    let program = verified.program();
    let counters = Counters::new(program, plan.calls, plan.loops);
    let installed = Installed::new(program.functions.len());
    let mut double = Double {
        verified,
        counters: &counters,
        installed: &installed,
        plan,
        seen: Vec::new(),
    };
    let mut heap = Heap::new(DEFAULT_HEAP_LIMIT);
    let mut out = Vec::new();
    let link = Link::Tiered {
        counters: &counters,
        installed: &installed,
        callout: &mut double,
    };
    let result = Interpreter::new().enter(verified, &mut heap, entry, Some(link), &mut out);
    let output = String::from_utf8(out).expect("the output is text");
    (double.seen, output, result, heap)
}

/// A whole tiered run of `verified` (main entered at pc 0, as stage 5 will).
fn tiered(verified: &Verified, plan: Plan) -> Tiered {
    let program = verified.program();
    let (seen, output, result, heap) = enter_tiered(verified, plan, Entry::call(MAIN, &[], 0));
    Tiered {
        seen,
        output,
        result: result
            .map(|v| format_value(program, &heap, v))
            .map_err(|u| trace::runtime_error(program, u.kind, u.frames.into_iter())),
    }
}

/// The interpreter alone on `verified`: output and result.
fn plain(verified: &Verified) -> (String, Result<String, RuntimeError>) {
    let mut out = Vec::new();
    let result = Interpreter::new().run(verified, &mut out);
    (String::from_utf8(out).expect("the output is text"), result)
}

fn load(source: &str) -> Verified {
    load_source("tiered.mini", source).expect("the test program loads")
}

fn id(verified: &Verified, name: &str) -> FnId {
    verified.program().function_named(name).expect("defined")
}

fn ints(values: &[i64]) -> Vec<Value> {
    values.iter().map(|&v| Value::int(v)).collect()
}

/// The pcs of `func`'s instructions that `is` picks.
fn pcs(verified: &Verified, func: FnId, is: impl Fn(&Instr) -> bool) -> Vec<usize> {
    let code = &verified.program().functions[func as usize].code;
    (0..code.len()).filter(|&pc| is(&code[pc])).collect()
}

/// A threshold never reached.
const NO: u64 = NEVER as u64;

const FIVE_CALLS: &str = "fn f(x) { return x * 10; }\n\
     print f(1); print f(2); print f(3); print f(4); print f(5);";

/// With threshold N, the N-th call of `f` trips (thresholds 0 and 1: the first), and
/// that very call already goes out once the hook installed `f`; `main`'s entry
/// counts too.
#[test]
fn the_nth_call_trips_and_runs_the_installed_code() {
    let p = load(FIVE_CALLS);
    let f = id(&p, "f");
    let (expected_output, expected) = plain(&p);
    for n in [0, 1, 3, 5] {
        let run = tiered(&p, Plan::new(n, 0).install(Install::Hot(vec![f])));
        let first_out = n.max(1) as i64;
        let mut seen = Vec::new();
        if n <= 1 {
            seen.push(Seen::HotCall {
                func: MAIN,
                depth: 0,
            });
        }
        seen.push(Seen::HotCall { func: f, depth: 1 });
        seen.extend((first_out..=5).map(|k| Seen::Call {
            func: f,
            args: ints(&[k]),
            depth: 1,
        }));
        assert_eq!(run.seen, seen, "threshold {n}");
        assert_eq!(
            (&run.output, &run.result),
            (&expected_output, &expected),
            "threshold {n}"
        );
    }
}

/// A hook that sets the next budget makes the counter trip again after it: with a
/// budget of 2, every second call of `f`, and `main`'s single call never.
#[test]
fn a_counter_trips_again_after_each_budget() {
    let p = load(FIVE_CALLS);
    let f = id(&p, "f");
    let plan = Plan {
        next_calls: 2,
        ..Plan::new(2, 0)
    };
    let run = tiered(&p, plan);
    let hot = Seen::HotCall { func: f, depth: 1 };
    assert_eq!(run.seen, [hot.clone(), hot]);
}

/// Every call of a recursive function counts, the entry's included: with every
/// counter tripping at each call, `fib` trips once per call the profile counts.
#[test]
fn every_call_of_a_recursion_counts() {
    let p = load(
        "fn fib(n) { if n < 2 { return n; } return fib(n - 1) + fib(n - 2); }\nprint fib(10);",
    );
    let fib = id(&p, "fib");
    let plan = Plan {
        next_calls: 1,
        ..Plan::new(1, 0)
    };
    let run = tiered(&p, plan);
    let trips = |func| {
        run.seen
            .iter()
            .filter(|s| matches!(s, Seen::HotCall { func: g, .. } if *g == func))
            .count()
    };
    assert_eq!(
        (trips(MAIN), trips(fib)),
        (1, 177),
        "fib(10) makes 177 calls"
    );
    assert_eq!(run.output, "55\n");
    let deepest = run.seen.iter().filter_map(|s| match s {
        Seen::HotCall { depth, .. } => Some(*depth),
        _ => None,
    });
    assert_eq!(deepest.max(), Some(10), "fib(1) under main and 9 fibs");
}

/// Calls through function values count and go out like direct ones, and so does an
/// activation entered at pc 0 from another tier, at its depth.
#[test]
fn calls_through_values_and_entries_count() {
    let p = load("fn f(x) { return x + 1; }\nlet g = f;\nprint g(1); print g(2); print f(3);");
    let f = id(&p, "f");
    let run = tiered(&p, Plan::new(2, 0).install(Install::Hot(vec![f])));
    let call = |k| Seen::Call {
        func: f,
        args: ints(&[k]),
        depth: 1,
    };
    assert_eq!(
        run.seen,
        [Seen::HotCall { func: f, depth: 1 }, call(2), call(3)]
    );
    assert_eq!(run.output, "2\n3\n4\n");

    // Entering `f` from another tier, 7 frames deep: the first call is interpreted,
    // the second trips and goes out, at the entry's depth.
    let program = p.program();
    let counters = Counters::new(program, budget(2), NEVER);
    let installed = Installed::new(program.functions.len());
    let mut double = Double {
        verified: &p,
        counters: &counters,
        installed: &installed,
        plan: Plan::new(2, 0).install(Install::Hot(vec![f])),
        seen: Vec::new(),
    };
    let mut interp = Interpreter::new();
    let mut heap = Heap::new(1 << 20);
    let mut results = Vec::new();
    for x in [10, 20] {
        let link = Link::Tiered {
            counters: &counters,
            installed: &installed,
            callout: &mut double,
        };
        let args = ints(&[x]);
        let result = interp.call_function(&p, &mut heap, f, &args, 7, Some(link), &mut Vec::new());
        results.push(result.map(Value::as_int));
    }
    assert_eq!(results, [Ok(11), Ok(21)]);
    assert_eq!(
        double.seen,
        [
            Seen::HotCall { func: f, depth: 7 },
            Seen::Call {
                func: f,
                args: ints(&[20]),
                depth: 7
            }
        ]
    );
    assert_eq!(
        interp.profile().calls[f as usize],
        1,
        "one call interpreted"
    );

    // `main` itself, at the first call: the whole program goes out.
    let run = tiered(&p, Plan::new(1, 0).install(Install::Hot(vec![MAIN])));
    let main_out = Seen::Call {
        func: MAIN,
        args: Vec::new(),
        depth: 0,
    };
    assert_eq!(
        run.seen,
        [
            Seen::HotCall {
                func: MAIN,
                depth: 0
            },
            main_out
        ]
    );
    assert_eq!(run.output, "2\n3\n4\n");
}

/// A function installed while an activation runs (here by the hot call of another
/// function) is called out by that activation's next call of it.
#[test]
fn a_function_installed_mid_activation_goes_out_at_its_next_call() {
    let p = load(
        "fn f(x) { return x * 2; }\nfn g() { return 0; }\n\
         let i = 0; while i < 4 { print f(i); if i == 1 { g(); } i = i + 1; }",
    );
    let (f, g) = (id(&p, "f"), id(&p, "g"));
    let run = tiered(&p, Plan::new(1, NO).install(Install::On(g, f)));
    let call = |k| Seen::Call {
        func: f,
        args: ints(&[k]),
        depth: 1,
    };
    let hot = |func, depth| Seen::HotCall { func, depth };
    assert_eq!(
        run.seen,
        [hot(MAIN, 0), hot(f, 1), hot(g, 1), call(2), call(3)]
    );
    assert_eq!(run.output, "0\n2\n4\n6\n");

    // A recursion installed at its third call: the two frames below keep running
    // here, the third call and all below it run out, and the sums come back up.
    let p = load("fn r(n) { if n == 0 { return 0; } return r(n - 1) + 1; }\nprint r(5);");
    let r = id(&p, "r");
    let run = tiered(&p, Plan::new(3, 0).install(Install::Hot(vec![r])));
    assert_eq!(
        run.seen,
        [
            hot(r, 3),
            Seen::Call {
                func: r,
                args: ints(&[3]),
                depth: 3
            }
        ]
    );
    assert_eq!(run.output, "5\n");
}

/// `h(n)`: `i` counts to `n` in a loop while a 7 waits on the operand stack (as
/// `.jasm` allows), then gives `7 + i`. `main` computes `5 + h(10)`. pcs of `h`: the
/// loop's header 3, its `loop` 11.
fn waiting_operand() -> Verified {
    let h = vec![
        Const(0),
        StoreLocal(1),
        Const(3),
        LoadLocal(1), // 3: header, the 7 below
        LoadLocal(0),
        Lt,
        JumpIfFalse(12),
        LoadLocal(1),
        Const(2),
        Add,
        StoreLocal(1),
        Loop(3), // 11
        LoadLocal(1),
        Add,
        Return,
    ];
    let main = vec![Const(4), Const(1), Call { func: 1, argc: 1 }, Add, Return];
    let function = |name: &str, arity, locals, code: Vec<Instr>| Function {
        name: name.into(),
        arity,
        locals,
        lines: (1..=code.len() as u32).collect(),
        code,
    };
    let program = Program {
        functions: vec![function("main", 0, 0, main), function("h", 1, 2, h)],
        constants: vec![0, 10, 1, 7, 5],
        fields: Vec::new(),
    };
    verify(program, "waiting.jasm").expect("verifies")
}

/// `hot_loop` comes at the M-th back edge of the loop (and again after the next
/// budget), with the frame's locals and operands as they are at the header.
#[test]
fn hot_loop_sees_the_frame_at_the_right_back_edge() {
    let p = waiting_operand();
    let plan = Plan {
        next_loops: 4,
        ..Plan::new(0, 3)
    };
    let run = tiered(&p, plan);
    let at = |i| Seen::HotLoop {
        func: 1,
        loop_pc: 11,
        target: 3,
        locals: ints(&[10, i]),
        operands: ints(&[7]),
        depth: 1,
    };
    let hot = |func, depth| Seen::HotCall { func, depth };
    assert_eq!(run.seen, [hot(MAIN, 0), hot(1, 1), at(3), at(7)]);
    assert_eq!(run.result, Ok("22".to_string()), "5 + 7 + 10");

    // The same loop in a Mini `main`: the frame at the entry, the locals as the
    // source names them.
    let p =
        load("let n = 4;\nlet s = 0;\nlet i = 0;\nwhile i < n { s = s + i; i = i + 1; }\nprint s;");
    let loop_pc = pcs(&p, MAIN, |i| matches!(i, Loop(_)))[0];
    let Loop(target) = p.program().functions[MAIN as usize].code[loop_pc] else {
        unreachable!()
    };
    let run = tiered(&p, Plan::new(NO, 2));
    assert_eq!(
        run.seen,
        [Seen::HotLoop {
            func: MAIN,
            loop_pc,
            target: target as usize,
            locals: ints(&[4, 1, 2]),
            operands: Vec::new(),
            depth: 0,
        }]
    );
    assert_eq!(run.output, "6\n");
}

/// `Some(Ok(v))`: the frame returns `v` as `return v` would: to its caller, whose
/// operands below the call are intact, or out of the activation from its entry frame.
#[test]
fn an_osr_result_returns_from_the_frame() {
    let p = waiting_operand();
    let run = tiered(&p, Plan::new(NO, 2).osr(Osr::Answer(Ok(Value::int(99)))));
    assert_eq!(run.result, Ok("104".to_string()), "5 + 99");
    assert_eq!(run.seen.len(), 1);

    // From the entry frame: `h` entered from another tier, and `main` of a run.
    let args = ints(&[10]);
    let plan = Plan::new(NO, 2).osr(Osr::Answer(Ok(Value::int(99))));
    let (_, _, result, _) = enter_tiered(&p, plan, Entry::call(1, &args, 3));
    assert_eq!(result.map(Value::as_int), Ok(99));
    let p = load("let i = 0;\nwhile i < 10 { print i; i = i + 1; }\nprint 100;");
    let run = tiered(&p, Plan::new(NO, 3).osr(Osr::Answer(Ok(Value::int(-1)))));
    assert_eq!(run.output, "0\n1\n2\n");
    assert_eq!(run.result, Ok("-1".to_string()));

    // OSR that really runs the rest of the frame: the same as running it here.
    let p = waiting_operand();
    assert_eq!(
        tiered(&p, Plan::new(0, 2).osr(Osr::Run)).result,
        plain(&p).1
    );
}

/// `Some(Err(unwind))`: its frames hold the OSR'd frame already; the interpreter adds
/// its callers only, so the trace is the one the interpreter alone gives.
#[test]
fn an_osr_error_gets_only_the_callers_frames() {
    let p = waiting_operand();
    let unwind = Unwind {
        kind: ErrorKind::DivisionByZero,
        frames: vec![(1, 13)],
    };
    let plan = Plan::new(NO, 2).osr(Osr::Answer(Err(unwind)));
    let (_, _, result, _) = enter_tiered(&p, plan, Entry::call(MAIN, &[], 0));
    let expected = Unwind {
        kind: ErrorKind::DivisionByZero,
        frames: vec![(1, 13), (MAIN, 2)],
    };
    assert_eq!(result, Err(expected));

    // A real error after the OSR, two calls deep.
    let p = load(
        "fn h(n) {\n  let s = 0;\n  let i = 0;\n  while i < 10 {\n    s = s + 10 / (n - i);\n    i = i + 1;\n  }\n  return s;\n}\n\
         fn g() { return h(5); }\nprint g();",
    );
    let (plain_output, plain_result) = plain(&p);
    assert!(plain_result.as_ref().is_err_and(|e| e.trace.len() == 3));
    for loops in [1, 2, 5] {
        let run = tiered(&p, Plan::new(NO, loops).osr(Osr::Run));
        assert_eq!(run.seen.len(), 1, "one OSR at back edge {loops}");
        assert_eq!((&run.output, &run.result), (&plain_output, &plain_result));
    }
}

/// Differential: the corpus and random programs, tiered under several plans (calls
/// installed or not, OSR declined or run), give the interpreter's output, result and
/// error trace.
#[test]
fn tiered_runs_agree_with_the_interpreter() {
    let dir = jitlab_testkit::programs_dir(env!("CARGO_MANIFEST_DIR"));
    let mut programs: Vec<(String, Verified)> = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("the corpus directory")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    paths.sort();
    for path in paths {
        if let Ok(p) = crate::load::load_file(&path) {
            programs.push((path.display().to_string(), p));
        }
    }
    assert!(
        programs.len() >= 50,
        "only {} corpus programs",
        programs.len()
    );
    for seed in 0..60 {
        let source = jitlab_testkit::random::program(seed);
        programs.push((format!("random {seed}"), load(&source)));
    }
    let plans = [
        Plan::new(1, 1).install(Install::HotButMain).osr(Osr::Run),
        Plan::new(2, 3).osr(Osr::Run),
        Plan {
            next_calls: 2,
            next_loops: 2,
            ..Plan::new(3, 2).install(Install::HotButMain)
        },
        Plan::new(1, 1).install(Install::Hot(vec![MAIN])),
    ];
    let mut osrs = 0;
    let mut calls_out = 0;
    for (name, p) in &programs {
        let (output, result) = plain(p);
        for plan in &plans {
            let run = tiered(p, plan.clone());
            assert!(
                run.output == output && run.result == result,
                "{name} under {plan:?}:\n{}",
                pretty_assertions::Comparison::new(
                    &(&output, &result),
                    &(&run.output, &run.result)
                )
            );
            osrs += run
                .seen
                .iter()
                .filter(|s| matches!(s, Seen::HotLoop { .. }))
                .count();
            calls_out += run
                .seen
                .iter()
                .filter(|s| matches!(s, Seen::Call { .. }))
                .count();
        }
    }
    assert!(
        osrs > 100 && calls_out > 100,
        "{osrs} OSRs, {calls_out} calls out"
    );
}

// ---- type feedback (stage 7) ----------------------------------------------------------

use crate::interp::feedback::{INT, NOT_TAKEN, OTHER, OVERFLOW, TAKEN};

/// Which instructions a test means: a predicate on them.
type Picks = fn(&Instr) -> bool;

/// A tiered run of `verified` under `plan`: its output and the feedback it recorded,
/// function by function.
fn feedback_of(verified: &Verified, plan: Plan) -> (String, Vec<Vec<u8>>) {
    let program = verified.program();
    let counters = Counters::new(program, plan.calls, plan.loops);
    let installed = Installed::new(program.functions.len());
    let mut double = Double {
        verified,
        counters: &counters,
        installed: &installed,
        plan,
        seen: Vec::new(),
    };
    let mut heap = Heap::new(DEFAULT_HEAP_LIMIT);
    let mut out = Vec::new();
    let link = Link::Tiered {
        counters: &counters,
        installed: &installed,
        callout: &mut double,
    };
    let entry = Entry::call(MAIN, &[], 0);
    // An error ends the run as it would any other: the feedback is what counts here.
    let _ = Interpreter::new().enter(verified, &mut heap, entry, Some(link), &mut out);
    let output = String::from_utf8(out).expect("the output is text");
    (output, counters.feedback().snapshot().vectors())
}

/// The feedback `expected` lists (function name, the first pc at or after `from` of
/// an instruction `is` picks, flags) and 0 everywhere else: the whole snapshot.
fn expect_feedback(
    verified: &Verified,
    feedback: &[Vec<u8>],
    expected: &[(&str, usize, Picks, u8)],
) {
    let program = verified.program();
    let mut want: Vec<Vec<u8>> = program
        .functions
        .iter()
        .map(|f| vec![0; f.code.len()])
        .collect();
    for &(name, from, is, flags) in expected {
        let func = id(verified, name);
        let pc = pcs(verified, func, is)
            .into_iter()
            .find(|&pc| pc >= from)
            .unwrap_or_else(|| panic!("no such instruction in {name} from pc {from}"));
        want[func as usize][pc] |= flags;
    }
    for (func, (want, got)) in want.iter().zip(feedback).enumerate() {
        let name = &program.functions[func].name;
        pretty_assertions::assert_eq!(want, got, "the feedback of {name}");
    }
}

fn is_jump_if_false(i: &Instr) -> bool {
    matches!(i, JumpIfFalse(_))
}

fn is_jump_if_true(i: &Instr) -> bool {
    matches!(i, JumpIfTrue(_))
}

fn is_call(i: &Instr) -> bool {
    matches!(i, Call { .. })
}

/// Branches, loads and calls, `n` trips of `main`'s loop: `f`'s branch is taken at
/// every trip but the tenth (`i == 9`); `get` gives an array once in four;
/// `pick(0)` goes one way through `||` and `if`, every other `pick` the other.
fn branches_and_loads(n: i64) -> Verified {
    load(&format!(
        "fn f(i) {{ if i == 9 {{ return 1; }} return 0; }}\n\
         fn get(a, i) {{ return a[i]; }}\n\
         fn pick(c) {{ if c || c > 5 {{ return [c]; }} return c; }}\n\
         let xs = [1, 2, [3], 4];\n\
         let i = 0;\n\
         let s = 0;\n\
         while i < {n} {{ s = s + f(i); get(xs, i % 4); pick(i); i = i + 1; }}\n\
         let g = get;\n\
         print g(xs, 1);\n\
         print s;"
    ))
}

/// The tiered interpreter records each conditional jump's directions, with the
/// superinstructions' fused jumps; the kinds of values loads and calls give; and
/// nothing anywhere else.
#[test]
fn the_interpreter_records_branches_and_result_kinds() {
    let p = branches_and_loads(10);
    let (output, feedback) = feedback_of(&p, Plan::new(NO, NO));
    assert_eq!(output, "2\n1\n");
    let both = TAKEN | NOT_TAKEN;
    expect_feedback(
        &p,
        &feedback,
        &[
            ("main", 0, is_jump_if_false, both),
            ("main", 0, is_call, INT),
            ("main", 20, is_call, INT | OTHER),
            ("main", 26, is_call, INT | OTHER),
            ("main", 0, |i| matches!(i, CallValue(_)), INT),
            ("f", 0, is_jump_if_false, both),
            ("get", 0, |i| matches!(i, ArrayGet), INT | OTHER),
            ("pick", 0, is_jump_if_true, both),
            ("pick", 2, is_jump_if_true, NOT_TAKEN),
            ("pick", 0, is_jump_if_false, both),
        ],
    );
}

/// A branch first taken the other way late: until then its feedback has one flag.
#[test]
fn a_branch_taken_late_records_one_direction_until_then() {
    let jump = |feedback: &[Vec<u8>], p: &Verified| {
        let f = id(p, "f");
        feedback[f as usize][pcs(p, f, is_jump_if_false)[0]]
    };
    let p = branches_and_loads(9);
    let (_, feedback) = feedback_of(&p, Plan::new(NO, NO));
    assert_eq!(jump(&feedback, &p), TAKEN, "i == 9 never seen");
    let p = branches_and_loads(10);
    let (_, feedback) = feedback_of(&p, Plan::new(NO, NO));
    assert_eq!(jump(&feedback, &p), TAKEN | NOT_TAKEN);
}

/// A call that goes out to compiled code records its result where it comes back; the
/// callee's own instructions, run in the other tier, record nothing here.
#[test]
fn calls_out_record_their_results() {
    let p = branches_and_loads(10);
    let get = id(&p, "get");
    let (output, feedback) = feedback_of(&p, Plan::new(1, NO).install(Install::Hot(vec![get])));
    assert_eq!(output, "2\n1\n");
    let main = &feedback[MAIN as usize];
    let get_call = pcs(&p, MAIN, is_call)[1];
    assert_eq!(main[get_call], INT | OTHER, "get(xs, i % 4) went out");
    assert_eq!(
        feedback[get as usize],
        vec![0; feedback[get as usize].len()]
    );
}

/// An OSR'd frame's result, returned from the callee's loop, is its call's result.
#[test]
fn a_frame_finished_by_osr_records_its_result() {
    let p = load(
        "fn h() { let a = [0; 3]; let i = 0; while i < 5 { i = i + 1; } return a; }\n\
         print h();",
    );
    let (output, feedback) = feedback_of(&p, Plan::new(NO, 2).osr(Osr::Run));
    assert_eq!(output, "[0, 0, 0]\n");
    let call = pcs(&p, MAIN, is_call)[0];
    assert_eq!(feedback[MAIN as usize][call], OTHER);
}

/// Overflow and non-integers reach the feedback on the way to their errors; `==` on
/// a heap value is no error, and records it all the same.
#[test]
fn errors_and_equality_record_what_they_saw() {
    let cases: [(&str, Picks, u8); 6] = [
        (
            "let a = 4611686018427387903; print a + 1;",
            |i| matches!(i, Add),
            OVERFLOW,
        ),
        ("let a = [1]; print -a;", |i| matches!(i, Neg), OTHER),
        (
            "let a = [1]; let b = 2; print a < b;",
            |i| matches!(i, Lt),
            OTHER,
        ),
        ("let a = [1]; print a == 1;", |i| matches!(i, Eq), OTHER),
        // Compare-and-branch superinstructions, local against local and constant.
        (
            "let a = [1]; let b = 1; if b != a { print 1; }",
            |i| matches!(i, Ne),
            OTHER,
        ),
        (
            "let a = [1]; if a == 3 { print 1; }",
            |i| matches!(i, Eq),
            OTHER,
        ),
    ];
    for (source, is, flag) in cases {
        let p = load(source);
        let (_, feedback) = feedback_of(&p, Plan::new(NO, NO));
        let pc = pcs(&p, MAIN, is)[0];
        let main = &feedback[MAIN as usize];
        assert_eq!(main[pc], flag, "{source}");
        assert_eq!(
            main.iter()
                .filter(|&&b| b & (OTHER | OVERFLOW) != 0)
                .count(),
            1,
            "{source}"
        );
    }
}
