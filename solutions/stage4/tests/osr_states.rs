//! Stage 4's OSR code entered with *real* frame states, where stage 5 enters it: a
//! loop that gets hot in the interpreter (its `Callout::hot_loop` hands over the
//! frame) or in stage 3's baseline code (its counter's stub asks `TierHooks::hot_loop`
//! for an OSR entry and calls it with its own frame as the state). Every corpus
//! program and a batch of random ones must print, return and fail exactly as the
//! interpreter alone does, with their hot loops finished in optimized code.
//!
//! The runs here are stage 5 cut to what OSR needs: every back-edge counter trips
//! after a few back edges, every tripped loop moves into stage 4's OSR variant of
//! its function, and the other calls run in stage 4's ordinary code (interpreter
//! run) or in the baseline code (baseline run), all through one function table.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::sync::mpsc;

use jitlab_testkit::isolate::{self, Harness};
use jitlab_testkit::{corpus, describe, random, End, Outcome};
use stage1::bytecode::MAIN;
use stage1::heap::{Heap, DEFAULT_HEAP_LIMIT};
use stage1::interp::tiering::{Counters, Installed, NEVER};
use stage1::interp::trace::runtime_error;
use stage1::interp::{Callout, Entry, Interpreter, Link, OsrFrame, Unwind};
use stage1::limits::MAX_FRAMES;
use stage1::print::format_value;
use stage1::value::ERROR_WORD;
use stage1::{Engine, FnId, Instr, RuntimeError, Value, Verified};
use stage3::context::{Context, EntryFn, FnEntry};
use stage3::runtime::recorded_error;
use stage3::{SharedCode, TierHooks, TierOptions};
use stage4_solution::tiered::compile_function;

/// Output chunks a native run may send before its caller reads them (the run and the
/// reader are one thread here).
const CHUNKS: usize = 4096;
/// The native stack of a run: 10,000 frames of any tier, with room to spare.
const STACK: usize = 512 << 20;

fn harness() -> Harness {
    isolate::install_panic_hook();
    Harness::new().describer(stage2::code_map::describe)
}

fn load(name: &str, source: &str) -> Verified {
    stage1::load::load_source(name, source)
        .unwrap_or_else(|e| panic!("{e}\n--- {name} ---\n{source}"))
}

/// What one run printed and how it ended.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    output: String,
    result: Result<String, RuntimeError>,
}

impl Run {
    fn outcome(&self) -> Outcome {
        let end = match &self.result {
            Ok(v) => End::Returned(v.clone()),
            Err(e) => End::RuntimeError {
                message: e.kind.message().to_string(),
                line: e.trace.first().map_or(0, |f| f.line),
            },
        };
        Outcome::new(self.output.as_bytes(), end)
    }

    fn new(out: Vec<u8>, result: Result<String, RuntimeError>) -> Run {
        Run {
            output: String::from_utf8(out).expect("UTF-8"),
            result,
        }
    }
}

/// The OSR variants compiled so far, by function and loop header, and how often
/// one was entered.
#[derive(Default)]
struct OsrCode {
    code: RefCell<Vec<((FnId, usize), stage3::CompiledFunction)>>,
    entered: Cell<usize>,
}

impl OsrCode {
    /// The address of the OSR entry of `func` at loop header `header`, compiled on
    /// first use.
    fn entry(&self, verified: &Verified, func: FnId, header: usize) -> u64 {
        let mut code = self.code.borrow_mut();
        let at = match code.iter().position(|(k, _)| *k == (func, header)) {
            Some(at) => at,
            None => {
                let c = compile_function(verified, func, Some(header), None)
                    .unwrap_or_else(|e| panic!("no OSR code for fn {func} at {header}: {e}"));
                code.push(((func, header), c));
                code.len() - 1
            }
        };
        self.entered.set(self.entered.get() + 1);
        let c = &code[at].1;
        assert_eq!(c.osr_entries, [(header, c.entry)]);
        c.osr_address(header).expect("the OSR entry")
    }
}

/// Words laid out as a frame state or arguments: the first at the highest address.
/// Gives the buffer and the pointer to its first word.
fn laid_out(words: impl DoubleEndedIterator<Item = u64>) -> (Vec<u64>, *const u64) {
    let mut buf: Vec<u64> = words.rev().collect();
    if buf.is_empty() {
        buf.push(0);
    }
    let first = buf.as_ptr().wrapping_add(buf.len() - 1);
    (buf, first)
}

/// What calls into native code need: the program, the trampoline and the table.
#[derive(Clone, Copy)]
struct Native<'a> {
    verified: &'a Verified,
    entry: EntryFn,
    table: &'a [FnEntry],
}

impl Native<'_> {
    /// Calls the code at `code` through the trampoline with `args` in `rdi` and
    /// `frames_left`, in the context of a run on `heap`; its output goes to `out`.
    fn call(
        self,
        heap: &mut Heap,
        out: &mut dyn Write,
        code: u64,
        args: *const u64,
        frames_left: usize,
    ) -> Result<Value, Unwind> {
        let (sink, chunks) = mpsc::sync_channel::<Vec<u8>>(CHUNKS);
        let mut ctx = Context::new(self.verified.program(), heap, self.table, Some(sink));
        ctx.runtime.verified = self.verified;
        ctx.runtime.entry = Some(self.entry);
        let word = (self.entry)(&mut ctx, args, code, frames_left as u64);
        assert!(ctx.runtime.flush(), "the receiver is here");
        for chunk in chunks.try_iter() {
            out.write_all(&chunk).expect("a Vec takes it");
        }
        if word == ERROR_WORD {
            return Err(Unwind {
                kind: recorded_error(ctx.runtime.error),
                frames: std::mem::take(&mut ctx.runtime.trace),
            });
        }
        // SAFETY: a value of this run (on `heap`), not the error word.
        Ok(unsafe { Value::from_bits(word) })
    }
}

/// The interpreter's side of the run: hot loops go into OSR code; calls never go
/// out (no function is installed).
struct InterpreterOsr<'a> {
    native: Native<'a>,
    counters: &'a Counters,
    osr: &'a OsrCode,
    budget: i64,
}

impl Callout for InterpreterOsr<'_> {
    fn call(
        &mut self,
        heap: &mut Heap,
        func: FnId,
        args: &[Value],
        depth: usize,
        out: &mut dyn Write,
    ) -> Result<Value, Unwind> {
        let (_buf, first) = laid_out(args.iter().map(|v| v.bits()));
        let code = self.native.table[func as usize].code;
        self.native.call(heap, out, code, first, MAX_FRAMES - depth)
    }

    fn hot_loop(
        &mut self,
        heap: &mut Heap,
        frame: OsrFrame<'_>,
        out: &mut dyn Write,
    ) -> Option<Result<Value, Unwind>> {
        self.counters
            .back_edge(frame.func, frame.loop_pc)
            .set(self.budget);
        let code = self
            .osr
            .entry(self.native.verified, frame.func, frame.target);
        let words = frame.locals.iter().chain(frame.operands).map(|v| v.bits());
        let (_state, first) = laid_out(words);
        // The OSR'd frame is counted: the code it runs in takes no frame of its own.
        let frames_left = MAX_FRAMES - frame.depth - 1;
        Some(self.native.call(heap, out, code, first, frames_left))
    }
}

/// Runs `verified` in the interpreter, each loop moving into OSR code at its
/// `back_edges`-th back edge (and again every `back_edges` more), the calls out of
/// OSR code going to stage 4's code of each function through the table. Gives the
/// run and how many OSR entries happened.
fn interpreter_with_osr(verified: &Verified, back_edges: i64) -> (Run, usize) {
    let program = verified.program();
    let shared = SharedCode::new(program).expect("the shared code");
    let optimized: Vec<_> = (0..program.functions.len() as FnId)
        .map(|f| compile_function(verified, f, None, None).expect("optimized"))
        .collect();
    let table: Vec<FnEntry> = optimized
        .iter()
        .zip(&program.functions)
        .map(|(c, f)| FnEntry {
            code: c.entry_address(),
            arity: u64::from(f.arity),
        })
        .collect();
    let counters = Counters::new(program, NEVER, back_edges);
    let installed = Installed::new(program.functions.len());
    let osr = OsrCode::default();
    let mut callout = InterpreterOsr {
        native: Native {
            verified,
            entry: shared.entry(),
            table: &table,
        },
        counters: &counters,
        osr: &osr,
        budget: back_edges,
    };
    let mut heap = Heap::new(DEFAULT_HEAP_LIMIT);
    let mut out = Vec::new();
    let link = Link::Tiered {
        counters: &counters,
        installed: &installed,
        callout: &mut callout,
    };
    let result = Interpreter::new().enter(
        verified,
        &mut heap,
        Entry::call(MAIN, &[], 0),
        Some(link),
        &mut out,
    );
    let result = match result {
        Ok(v) => Ok(format_value(program, &heap, v)),
        Err(u) => Err(runtime_error(program, u.kind, u.frames.into_iter())),
    };
    (Run::new(out, result), osr.entered.get())
}

/// Baseline code's side of the run: a tripped back edge asks for OSR code, which the
/// baseline frame then calls with its own frame as the state.
struct BaselineOsr<'a> {
    verified: &'a Verified,
    counters: &'a Counters,
    osr: &'a OsrCode,
    budget: i64,
}

impl TierHooks for BaselineOsr<'_> {
    fn hot_call(&self, _ctx: *mut Context, func: FnId) {
        self.counters.call(func).set(NEVER);
    }

    fn hot_loop(&self, _ctx: *mut Context, func: FnId, loop_pc: usize, _state: *const u64) -> u64 {
        self.counters.back_edge(func, loop_pc).set(self.budget);
        let code = &self.verified.program().functions[func as usize].code;
        let Instr::Loop(header) = code[loop_pc] else {
            panic!("no loop at pc {loop_pc} of fn {func}");
        };
        self.osr.entry(self.verified, func, header as usize)
    }

    fn call_interpreted(
        &self,
        _ctx: *mut Context,
        func: FnId,
        _args: &[Value],
        _depth: usize,
    ) -> Result<Value, Unwind> {
        panic!("fn {func} is interpreted, but every function has baseline code here")
    }
}

/// Runs `verified` in stage 3's baseline code (one block per function, calls through
/// the table, counters on), each loop moving into stage 4's OSR code at its
/// `back_edges`-th back edge. Gives the run and how many OSR entries happened.
fn baseline_with_osr(verified: &Verified, back_edges: i64) -> (Run, usize) {
    let program = verified.program();
    let shared = SharedCode::new(program).expect("the shared code");
    let counters = Counters::new(program, NEVER, back_edges);
    let options = TierOptions {
        counters: Some(&counters),
        ..TierOptions::default()
    };
    let baseline: Vec<_> = (0..program.functions.len() as FnId)
        .map(|f| stage3::compile_function(verified, f, &options).expect("baseline"))
        .collect();
    let table: Vec<FnEntry> = baseline
        .iter()
        .zip(&program.functions)
        .map(|(c, f)| FnEntry {
            code: c.entry_address(),
            arity: u64::from(f.arity),
        })
        .collect();
    let osr = OsrCode::default();
    let hooks = BaselineOsr {
        verified,
        counters: &counters,
        osr: &osr,
        budget: back_edges,
    };
    let mut heap = Heap::new(DEFAULT_HEAP_LIMIT);
    let mut out = Vec::new();
    let (sink, chunks) = mpsc::sync_channel::<Vec<u8>>(CHUNKS);
    let mut ctx = Context::new(program, &mut heap, &table, Some(sink));
    ctx.runtime.verified = verified;
    ctx.runtime.entry = Some(shared.entry());
    // SAFETY: `hooks` outlives the context, which is dropped at the end of this
    // function, before it.
    unsafe { ctx.runtime.set_hooks(&hooks) };
    let word = shared.entry()(
        &mut ctx,
        std::ptr::null(),
        table[MAIN as usize].code,
        MAX_FRAMES as u64,
    );
    assert!(ctx.runtime.flush(), "the receiver is here");
    for chunk in chunks.try_iter() {
        out.extend_from_slice(&chunk);
    }
    let error = ctx.runtime.error;
    let trace = std::mem::take(&mut ctx.runtime.trace);
    drop(ctx);
    let result = if word == ERROR_WORD {
        Err(runtime_error(
            program,
            recorded_error(error),
            trace.into_iter(),
        ))
    } else {
        // SAFETY: `main`'s value, of this run's heap.
        Ok(format_value(program, &heap, unsafe {
            Value::from_bits(word)
        }))
    };
    (Run::new(out, result), osr.entered.get())
}

/// Which tier hands its frame over.
#[derive(Clone, Copy, Debug)]
enum From {
    Interpreter,
    Baseline,
}

/// Runs `source` with OSR from `from` at every `back_edges`-th back edge and alone in
/// the interpreter; `Err` with a report when they differ. Gives the OSR entries.
fn check(name: &str, source: &str, from: From, back_edges: i64) -> Result<usize, String> {
    let verified = load(name, source);
    let mut out = Vec::new();
    let mut interp = Interpreter::new();
    let result = interp.run(&verified, &mut out);
    let expected = Run::new(out, result);
    // The loop that jumped back most often in the interpreter alone: past
    // `back_edges` jumps its counter trips, and its frame moves into OSR code.
    let hottest = interp
        .profile()
        .back_edges
        .iter()
        .flatten()
        .copied()
        .max()
        .unwrap_or(0);
    let (actual, entered) = std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(STACK)
            .spawn_scoped(s, || match from {
                From::Interpreter => interpreter_with_osr(&verified, back_edges),
                From::Baseline => baseline_with_osr(&verified, back_edges),
            })
            .expect("a thread")
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    });
    if expected == actual && (entered > 0) == (hottest >= back_edges as u64) {
        return Ok(entered);
    }
    let mut report = describe(name, source, &expected.outcome(), &actual.outcome());
    report.push_str(&format!(
        "\n(OSR from the {from:?} every {back_edges} back edges: {entered} entries, \
         the hottest loop jumps back {hottest} times)\nexpected {:?}\nactual   {:?}\n",
        expected.result, actual.result
    ));
    Err(report)
}

/// Every corpus program, OSR'd from `from` after 1, 2 and 7 back edges.
fn corpus_agrees(from: From) {
    let programs: Vec<_> = corpus::load(&jitlab_testkit::programs_dir(env!("CARGO_MANIFEST_DIR")))
        .into_iter()
        .filter(|p| p.expected_load_error.is_none())
        .collect();
    assert!(
        programs.len() >= 60,
        "only {} corpus programs",
        programs.len()
    );
    let failures = harness().max_failures(programs.len()).each(
        programs.len(),
        |i| programs[i].name.clone(),
        |i| {
            let p = &programs[i];
            for back_edges in [1, 2, 7] {
                check(&p.name, &p.source, from, back_edges)?;
            }
            Ok(())
        },
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus programs went wrong with OSR from the {from:?}: {}\n\n{}",
        failures.len(),
        programs.len(),
        isolate::names(&failures, |i| programs[i].name.clone()),
        isolate::report(&failures[..failures.len().min(3)])
    );
}

/// `default_seeds` random programs (`JITLAB_RANDOM=N`: N), OSR'd from `from` after 3
/// back edges.
fn random_programs_agree(from: From, default_seeds: u64) {
    let name = |seed: usize| format!("random-{seed}.mini");
    let failures = harness().each(random::seed_count(default_seeds) as usize, name, |seed| {
        check(&name(seed), &random::program(seed as u64), from, 3).map(|_| ())
    });
    assert!(
        failures.is_empty(),
        "random programs went wrong with OSR from the {from:?} (first {} shown):\n\n{}",
        failures.len(),
        isolate::report(&failures)
    );
}

#[test]
fn every_corpus_program_agrees_when_its_hot_loops_move_from_the_interpreter_into_osr_code() {
    corpus_agrees(From::Interpreter);
}

#[test]
fn every_corpus_program_agrees_when_its_hot_loops_move_from_baseline_code_into_osr_code() {
    corpus_agrees(From::Baseline);
}

#[test]
fn random_programs_agree_with_osr_from_the_interpreter() {
    random_programs_agree(From::Interpreter, 60);
}

#[test]
fn random_programs_agree_with_osr_from_baseline_code() {
    random_programs_agree(From::Baseline, 60);
}

/// Each frame runs a short loop before it recurses, without end: the hot loop moves
/// into OSR code in an early frame, whose calls recurse natively until the frame
/// limit. The error comes exactly where the interpreter's does (with as many frames
/// in its trace) when the OSR entry takes no frame of its own.
const DEEP: &str = "fn down(n) {\n  let i = 0;\n  while i < 3 {\n    i = i + 1;\n  }\n  return down(n - 1) + i;\n}\nprint down(5);\n";

#[test]
fn a_frame_moved_into_osr_code_counts_once_towards_the_frame_limit() {
    harness().case(|| {
        for from in [From::Interpreter, From::Baseline] {
            for back_edges in [1, 2, 3] {
                let entered = check("deep.mini", DEEP, from, back_edges).unwrap();
                assert!(entered >= 1, "{from:?} after {back_edges}");
            }
        }
    });
}

/// A callout that looks at every frame the interpreter hands over at a loop header
/// (every back edge trips) and keeps it in the interpreter, noting each local that
/// differs from the constant `ir::build::header_constants` says it holds there.
struct ConstantsCheck<'a> {
    verified: &'a Verified,
    counters: &'a Counters,
    seen: usize,
    wrong: Vec<String>,
}

impl Callout for ConstantsCheck<'_> {
    fn call(
        &mut self,
        _heap: &mut Heap,
        _func: FnId,
        _args: &[Value],
        _depth: usize,
        _out: &mut dyn Write,
    ) -> Result<Value, Unwind> {
        unreachable!("no function is installed")
    }

    fn hot_loop(
        &mut self,
        _heap: &mut Heap,
        frame: OsrFrame<'_>,
        _out: &mut dyn Write,
    ) -> Option<Result<Value, Unwind>> {
        self.counters.back_edge(frame.func, frame.loop_pc).set(1);
        let known = stage4_solution::ir::build::header_constants(
            self.verified,
            frame.func,
            frame.target as u32,
        );
        assert_eq!(known.len(), frame.locals.len());
        for (n, (k, v)) in known.iter().zip(frame.locals).enumerate() {
            self.seen += usize::from(k.is_some());
            if let Some(k) = *k {
                if v.to_int() != Some(k) {
                    self.wrong.push(format!(
                        "fn {} at pc {}: local {n} is {:?}, not the constant {k}",
                        frame.func,
                        frame.target,
                        v.to_int()
                    ));
                }
            }
        }
        None
    }
}

#[test]
fn the_constants_an_osr_variant_takes_hold_in_every_frame_at_the_header() {
    let mut programs: Vec<(String, String)> =
        corpus::load(&jitlab_testkit::programs_dir(env!("CARGO_MANIFEST_DIR")))
            .into_iter()
            .filter(|p| p.expected_load_error.is_none())
            .map(|p| (p.name, p.source))
            .collect();
    programs.extend(
        (0..random::seed_count(200))
            .map(|seed| (format!("random-{seed}.mini"), random::program(seed))),
    );
    let mut seen = 0;
    for (name, source) in &programs {
        let verified = load(name, source);
        let program = verified.program();
        let counters = Counters::new(program, NEVER, 1);
        let installed = Installed::new(program.functions.len());
        let mut check = ConstantsCheck {
            verified: &verified,
            counters: &counters,
            seen: 0,
            wrong: Vec::new(),
        };
        let link = Link::Tiered {
            counters: &counters,
            installed: &installed,
            callout: &mut check,
        };
        let mut heap = Heap::new(DEFAULT_HEAP_LIMIT);
        let _ = Interpreter::new().enter(
            &verified,
            &mut heap,
            Entry::call(MAIN, &[], 0),
            Some(link),
            &mut std::io::sink(),
        );
        assert!(
            check.wrong.is_empty(),
            "{name}: {:?}\n{source}",
            check.wrong
        );
        seen += check.seen;
    }
    // The check checked something: loops of the corpus run up to constant bounds.
    assert!(seen >= 100, "only {seen} constant locals seen at headers");
}
