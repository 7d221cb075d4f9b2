//! A small tiered-run driver, without stage 5: the shared code (trampoline and
//! interpreter stubs), a function table filled from `compile_function` results, the
//! run's counters, and [`TestHooks`] that record what tripped and answer `hot_loop`
//! with an OSR address of the test's choice. [`Driver`] runs a program this way as a
//! stage 1 [`Engine`], so the suite's differential checks apply to it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::Write;
use std::sync::mpsc;

use stage1::bytecode::MAIN;
use stage1::heap::{Heap, DEFAULT_HEAP_LIMIT};
use stage1::interp::tiering::{Counters, NEVER};
use stage1::interp::trace::runtime_error;
use stage1::interp::Unwind;
use stage1::limits::MAX_FRAMES;
use stage1::print::format_value;
use stage1::value::ERROR_WORD;
use stage1::{Engine, ErrorKind, FnId, RuntimeError, Stats, Value, Verified};
use stage3::context::Context;
use stage3::runtime::{call_interpreted, recorded_error, RuntimeCall};
use stage3::{compile_function, CompiledFunction, FrameState, SharedCode, TierHooks, TierOptions};

/// What a hook saw: a tripped call counter, or a tripped back-edge counter (with the
/// loop's pc and the frame state's locals).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trip {
    Call(FnId),
    Loop {
        func: FnId,
        loop_pc: usize,
        locals: Vec<u64>,
    },
}

/// Where `hot_loop` sends a tripped loop: (function, loop pc) to the loop header's pc
/// whose OSR entry of the function's own baseline code it returns.
pub type OsrPlan = HashMap<(FnId, usize), usize>;

/// Hooks that record every trip and set the tripped counter to `rearm`; `hot_loop`
/// returns the OSR entry the plan names in `compiled` (once per loop: the plan's
/// entry is used up), else 0.
pub struct TestHooks<'a> {
    pub counters: &'a Counters,
    pub compiled: &'a [Option<CompiledFunction>],
    pub locals: Vec<u32>,
    pub rearm: i64,
    pub plan: RefCell<OsrPlan>,
    pub trips: RefCell<Vec<Trip>>,
    /// Calls of `call_interpreted`.
    pub interpreted: Cell<u64>,
}

impl TierHooks for TestHooks<'_> {
    fn hot_call(&self, _ctx: *mut Context, func: FnId) {
        self.trips.borrow_mut().push(Trip::Call(func));
        self.counters.call(func).set(self.rearm);
    }

    fn hot_loop(&self, _ctx: *mut Context, func: FnId, loop_pc: usize, state: *const u64) -> u64 {
        let n = self.locals[func as usize] as usize;
        // SAFETY: baseline code passes its frame state, whose locals lie at
        // `state`, `state - 8`, ... (the OSR layout).
        let locals = (0..n).map(|k| unsafe { *state.wrapping_sub(k) }).collect();
        self.trips.borrow_mut().push(Trip::Loop {
            func,
            loop_pc,
            locals,
        });
        self.counters.back_edge(func, loop_pc).set(self.rearm);
        let Some(header) = self.plan.borrow_mut().remove(&(func, loop_pc)) else {
            return 0;
        };
        self.compiled[func as usize]
            .as_ref()
            .and_then(|c| c.osr_address(header))
            .expect("the plan names a compiled function's loop header")
    }

    fn call_interpreted(
        &self,
        ctx: *mut Context,
        func: FnId,
        args: &[Value],
        depth: usize,
    ) -> Result<Value, Unwind> {
        self.interpreted.set(self.interpreted.get() + 1);
        // SAFETY: the context is live and set up for a mixed run (`Driver::run`).
        unsafe { call_interpreted(ctx, func, args, depth) }
    }
}

/// How the driver runs a program.
#[derive(Debug)]
pub struct Driver {
    /// Which functions to compile (by index), the others staying behind their
    /// interpreter stubs.
    pub compile: fn(FnId) -> bool,
    /// The counters' budgets; `None`: code without counters.
    pub budgets: Option<(i64, i64)>,
    /// What the counters are set to after tripping.
    pub rearm: i64,
    /// OSR targets for `hot_loop`.
    pub plan: OsrPlan,
    /// What the hooks saw in the last run.
    pub trips: Vec<Trip>,
    /// The last run's counts: calls, runtime calls by name, calls of the
    /// interpreter stubs.
    pub stats: Stats,
    pub interpreted: u64,
    /// What was left of the plan after the last run.
    pub plan_left: OsrPlan,
    /// The heap of the last run.
    pub heap: Heap,
}

impl Default for Driver {
    fn default() -> Driver {
        Driver {
            compile: |_| true,
            budgets: None,
            rearm: NEVER,
            plan: OsrPlan::new(),
            trips: Vec::new(),
            stats: Stats::default(),
            interpreted: 0,
            plan_left: OsrPlan::new(),
            heap: Heap::new(0),
        }
    }
}

/// What the run's thread gives back.
struct End {
    trips: Vec<Trip>,
    interpreted: u64,
    plan_left: OsrPlan,
    word: u64,
    error: Option<ErrorKind>,
    trace: Vec<(FnId, usize)>,
    calls: u64,
    runtime_calls: Vec<(&'static str, u64)>,
    flushed: bool,
}

impl Driver {
    /// Compiles what the driver compiles, each function alone.
    pub fn compile_all(
        &self,
        verified: &Verified,
        counters: Option<&Counters>,
    ) -> Vec<Option<CompiledFunction>> {
        let options = TierOptions {
            counters,
            ..TierOptions::default()
        };
        (0..verified.program().functions.len())
            .map(|i| {
                let wanted = (self.compile)(i as FnId);
                wanted.then(|| compile_function(verified, i as FnId, &options).expect("compiles"))
            })
            .collect()
    }
}

/// Where a native run starts: `main`'s table entry, or an OSR entry of a function
/// with a frame state.
#[derive(Clone, Copy)]
pub enum Start<'a> {
    Main,
    Osr {
        func: FnId,
        header: usize,
        state: &'a FrameState,
    },
}

impl Driver {
    /// Runs `verified` natively from `start`, every function compiled alone (those
    /// `self.compile` names), with the counters and hooks `self` says.
    pub fn execute(
        &mut self,
        verified: &Verified,
        start: Start,
        out: &mut dyn Write,
    ) -> Result<String, RuntimeError> {
        let program = verified.program();
        let mut heap = Heap::new(DEFAULT_HEAP_LIMIT);
        let (sink, chunks) = mpsc::sync_channel::<Vec<u8>>(16);
        let heap_ref = &mut heap;
        let this = &*self;
        let (end, write_failed) = std::thread::scope(|scope| {
            let runner = std::thread::Builder::new()
                .stack_size(1 << 30)
                .spawn_scoped(scope, move || {
                    this.run_here(verified, start, heap_ref, sink)
                })
                .expect("a thread with a 1 GiB stack");
            let mut write_failed = false;
            for chunk in chunks.iter() {
                write_failed |= out.write_all(&chunk).is_err();
            }
            (runner.join().expect("the run does not panic"), write_failed)
        });
        self.trips = end.trips;
        self.interpreted = end.interpreted;
        self.plan_left = end.plan_left;
        self.stats = Stats {
            calls: end.calls,
            runtime_calls: end.runtime_calls,
            ..Stats::default()
        };
        self.heap = heap;
        if end.word == ERROR_WORD {
            let kind = recorded_error(end.error);
            return Err(runtime_error(program, kind, end.trace.into_iter()));
        }
        assert!(end.flushed && !write_failed, "the output was written");
        // SAFETY: the entered code's result, a value of this run on `self.heap`.
        let value = unsafe { Value::from_bits(end.word) };
        Ok(format_value(program, &self.heap, value))
    }

    /// The run itself, on the thread that runs native code (counters and hooks
    /// live there: they are cells).
    fn run_here(
        &self,
        verified: &Verified,
        start: Start,
        heap: &mut Heap,
        sink: mpsc::SyncSender<Vec<u8>>,
    ) -> End {
        let program = verified.program();
        let counters = self
            .budgets
            .map(|(calls, loops)| Counters::new(program, calls, loops));
        let compiled = self.compile_all(verified, counters.as_ref());
        // The OSR targets the plan names: the function's baseline code without
        // counters, so that a frame that moved there counts no more back edges.
        let targets: Vec<Option<CompiledFunction>> = (0..program.functions.len())
            .map(|f| {
                let planned = self.plan.keys().any(|&(g, _)| g as usize == f);
                planned.then(|| {
                    compile_function(verified, f as FnId, &TierOptions::default())
                        .expect("compiles")
                })
            })
            .collect();
        let shared = SharedCode::new(program).expect("the shared code assembles");
        let mut table = shared.initial_table(program);
        for (entry, c) in table.iter_mut().zip(&compiled) {
            if let Some(c) = c {
                entry.code = c.entry_address();
            }
        }
        let (code, args) = match start {
            Start::Main => (table[MAIN as usize].code, std::ptr::null()),
            Start::Osr {
                func,
                header,
                state,
            } => {
                let c = compiled[func as usize].as_ref().expect("compiled");
                let address = c.osr_address(header).expect("an OSR entry at the header");
                (address, state.as_ptr())
            }
        };
        // Under the harness, a crash in this code names its function and pc.
        let _registrations: Vec<_> = compiled
            .iter()
            .chain(&targets)
            .enumerate()
            .filter_map(|(i, c)| {
                let func = (i % program.functions.len()) as FnId;
                c.as_ref()
                    .and_then(|c| stage3::code_map::register_function(program, func, c))
            })
            .collect();
        let mask: Vec<bool> = compiled.iter().map(Option::is_some).collect();
        // Counters that never trip when the code has none (the hooks need some).
        let idle = Counters::new(program, NEVER, NEVER);
        let hooks = TestHooks {
            counters: counters.as_ref().unwrap_or(&idle),
            compiled: &targets,
            locals: program.functions.iter().map(|f| f.locals).collect(),
            rearm: self.rearm,
            plan: RefCell::new(self.plan.clone()),
            trips: RefCell::new(Vec::new()),
            interpreted: Cell::new(0),
        };
        let mut ctx = Context::new(program, heap, &table, Some(sink));
        ctx.runtime.verified = verified;
        ctx.runtime.compiled = mask.as_slice();
        ctx.runtime.entry = Some(shared.entry());
        // SAFETY: the hooks outlive the context.
        unsafe { ctx.runtime.set_hooks(&hooks) };
        let entry = shared.entry();
        let word = entry(&mut ctx, args, code, MAX_FRAMES as u64);
        let flushed = ctx.runtime.flush();
        End {
            trips: hooks.trips.take(),
            interpreted: hooks.interpreted.get(),
            plan_left: hooks.plan.take(),
            word,
            error: ctx.runtime.error,
            trace: std::mem::take(&mut ctx.runtime.trace),
            calls: ctx.native.calls,
            runtime_calls: RuntimeCall::ALL
                .iter()
                .map(|r| (r.name(), ctx.runtime.runtime_calls[*r as usize]))
                .collect(),
            flushed,
        }
    }
}

impl Engine for Driver {
    fn name(&self) -> &'static str {
        "baseline functions compiled alone"
    }

    fn run(&mut self, verified: &Verified, out: &mut dyn Write) -> Result<String, RuntimeError> {
        self.execute(verified, Start::Main, out)
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }
}
