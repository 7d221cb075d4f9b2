//! The stage 5 engine: a run makes the tiering counters and flags, the function table
//! (every entry the function's interpreter stub at first) and the context whose
//! [`stage3::TierHooks`] are the run's [`Tiering`], then runs `main` in the
//! interpreter, in tiered mode, on the caller's thread but on a stack of its own,
//! sized for mixed stacks ([`crate::stack`]). The optimizing tier's worker is the
//! calling thread's, kept across runs; a run's jobs, which borrow from it, are all
//! done or dropped before the run returns ([`crate::queue::scope`]). With an
//! [`Extension`] (stage 6's
//! caches), the heap gets its object model, and the tiers their fast paths, from it.

use std::cell::Cell;
use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use stage1::bytecode::MAIN;
use stage1::heap::{Heap, DEFAULT_HEAP_LIMIT};
use stage1::interp::tiering::{Counters, Installed};
use stage1::interp::trace::runtime_error;
use stage1::interp::{self, Interpreter};
use stage1::print::format_value;
use stage1::value::ERROR_WORD;
use stage1::{Engine, ErrorKind, Event, FnId, RuntimeError, Stats, Value, Verified};
use stage3::codegen::frame::FRAME_OVERHEAD;
use stage3::context::{Context, EntryFn, FnEntry};
use stage3::runtime::{recorded_error, RuntimeCall};
use stage3::stack::{
    recursive_functions, stack_need, too_big_to_run_natively, INTERPRETED_ACTIVATION,
};
use stage3::CompileError;
use stage3::TierHooks;

use crate::extension::Extension;
use crate::hooks::{
    compile_optimized_from, Setup, Snapshots, StartWorker, Tiering, REOSR_DEPTH, REOSR_LIMIT,
};
use crate::policy::Policy;
use crate::queue::{Finished, Queue};
use crate::record::FunctionRecord;

/// How a [`Tiered`] engine runs.
#[derive(Clone)]
pub struct Options {
    /// When functions move up a tier.
    pub policy: Policy,
    /// A policy of its own for some functions, by index (those past its end follow
    /// `policy`): for tests that make every mix of tiers happen.
    pub per_function: Vec<Policy>,
    /// Compile the optimizing tier on the spot, not on the background thread, so
    /// that tier-ups happen at exactly the thresholds (tests assert them).
    pub sync_compile: bool,
    /// Print each tiering event on stderr as it happens (`--trace-tiering`).
    pub trace: bool,
    /// The heap's size limit in bytes; past it, `out of memory`.
    pub heap_limit: usize,
    /// What a later stage adds to every tier (stage 6: shapes and inline caches);
    /// `None`: stage 1's objects, by name, and runtime calls for every object
    /// instruction.
    pub extension: Option<Arc<dyn Extension>>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("policy", &self.policy)
            .field("per_function", &self.per_function)
            .field("sync_compile", &self.sync_compile)
            .field("trace", &self.trace)
            .field("heap_limit", &self.heap_limit)
            .field("extension", &self.extension.as_ref().map(|_| "Extension"))
            .finish()
    }
}

impl Default for Options {
    /// The default policy, background compilation, no tracing, the default heap.
    fn default() -> Options {
        Options {
            policy: Policy::default(),
            per_function: Vec::new(),
            sync_compile: false,
            trace: false,
            heap_limit: DEFAULT_HEAP_LIMIT,
            extension: None,
        }
    }
}

/// The stage 5 engine: interpreter, baseline and optimizing tiers.
#[derive(Debug, Default)]
pub struct Tiered {
    options: Options,
    stats: Stats,
    functions: Vec<FunctionRecord>,
    heap: Heap,
    finished: Finished,
    /// The extension's tables of the last run.
    tables: Vec<String>,
}

impl Tiered {
    /// A tiered engine with the default [`Options`].
    pub fn new() -> Tiered {
        Tiered::with_options(Options::default())
    }

    /// A tiered engine with the given options.
    pub fn with_options(options: Options) -> Tiered {
        Tiered {
            options,
            stats: Stats::default(),
            functions: Vec::new(),
            heap: Heap::new(0),
            finished: Finished::default(),
            tables: Vec::new(),
        }
    }

    /// The heap of the last run (its object model holds what the extension's caches
    /// learned).
    pub fn heap(&self) -> &Heap {
        &self.heap
    }

    /// The extension's tables of the last run, for `--stats` (none without one).
    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// Per function of the last run: the tier it reached, its calls and back edges,
    /// its compile times.
    pub fn functions(&self) -> &[FunctionRecord] {
        &self.functions
    }

    /// What became of the optimizing compilations still queued when the last run
    /// ended (cancelled, or done and dropped).
    pub fn unfinished(&self) -> Finished {
        self.finished
    }

    /// Runs the whole program in the interpreter, with an event that says why.
    fn run_interpreted(
        &mut self,
        verified: &Verified,
        out: &mut dyn Write,
        reason: String,
        start: Instant,
    ) -> Result<String, RuntimeError> {
        let mut interp = Interpreter::with_options(interp::Options {
            heap_limit: self.options.heap_limit,
            ..interp::Options::default()
        });
        let result = interp.run(verified, out);
        self.stats = interp.stats().clone();
        self.stats.events.push(Event::NotCompiled {
            function: "<program>".into(),
            tier: crate::Tier::Baseline.name(),
            reason,
        });
        self.stats.run_time = start.elapsed();
        result
    }
}

/// The largest native frame each function's code may have, and the native stack a
/// tiered run needs: at each of up to `MAX_FRAMES` levels, an interpreter activation
/// (the helper, the dispatch loop, the trampoline), a baseline frame and an OSR'd
/// optimized frame above it. A function whose frames would not fit in the most a run
/// may reserve stays in the interpreter (`Err` with why).
///
/// When the run's optimized code may deoptimize (`deopts`, stage 7), a level may also
/// hold the interpreter activation that finishes a deoptimized frame (over the
/// optimized frame, still on the native stack), and the [`REOSR_DEPTH`] levels at the
/// bottom may each move into compiled code and deoptimize again [`REOSR_LIMIT`] times
/// (see `hooks::Tiering::may_osr`).
pub fn frame_budgets(verified: &Verified, deopts: bool) -> (Vec<Result<usize, String>>, usize) {
    let program = verified.program();
    let recursive = recursive_functions(program);
    // A baseline frame is exactly its slots; optimized code spills into fewer slots
    // than the baseline has, but give it twice as many and a page of room.
    let budgets: Vec<usize> = program
        .functions
        .iter()
        .zip(verified.info())
        .map(|(f, info)| {
            let slots = (8 * (f.locals as usize + info.max_stack as usize) + 15) & !15;
            2 * (slots + FRAME_OVERHEAD) + 4096
        })
        .collect();
    let resumed = if deopts { INTERPRETED_ACTIVATION } else { 0 };
    let cost = |b: usize| INTERPRETED_ACTIVATION + resumed + 2 * b;
    let frames: Vec<usize> = budgets.iter().map(|&b| cost(b)).collect();
    let none = vec![false; frames.len()];
    let too_big = too_big_to_run_natively(&frames, &none, &recursive, INTERPRETED_ACTIVATION);
    let mut out: Vec<Result<usize, String>> = budgets.into_iter().map(Ok).collect();
    let mut costs = frames;
    for (i, why) in too_big {
        out[i] = Err(why);
        costs[i] = INTERPRETED_ACTIVATION;
    }
    // The levels at the bottom that may OSR again after a deopt: each time, the
    // deopt's activation, a baseline and an optimized frame more.
    let reosr = if deopts {
        let biggest = costs.iter().copied().max().unwrap_or(0);
        REOSR_DEPTH * REOSR_LIMIT * (INTERPRETED_ACTIVATION + biggest)
    } else {
        0
    };
    (out, stack_need(&costs, &recursive).saturating_add(reosr))
}

/// The entry trampoline, the interpreter stubs and the adapters
/// (`stage4::codegen::adapters`) of functions `0..stubs.len()`, mapped once for
/// the process (they depend on nothing but a function's index):
/// mapping, filling and unmapping a block of code at every run cost a short program
/// more than running it.
pub struct SharedStubs {
    /// The entry trampoline.
    pub entry: EntryFn,
    /// The absolute address of each function's interpreter stub, by index.
    pub stubs: Vec<u64>,
    /// The absolute address of each function's adapter, by index: its entry in the
    /// compiled-entry table until it is optimized.
    pub adapters: Vec<u64>,
}

/// The process's [`SharedStubs`]: the latest made, for the most functions yet.
static SHARED: Mutex<Option<&'static SharedStubs>> = Mutex::new(None);

/// Shared stubs for at least `functions` functions: the process's, or new ones for
/// a power of two as many (kept for the rest of the process: runs of other threads
/// may still be in the older ones, so none is ever unmapped).
pub fn shared_code(functions: usize) -> Result<&'static SharedStubs, CompileError> {
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(s) = *shared {
        if s.stubs.len() >= functions {
            return Ok(s);
        }
    }
    let count = functions.max(64).next_power_of_two();
    let code = stage3::SharedCode::for_functions(count)?;
    let (adapters, offsets) =
        stage4::codegen::adapters::adapters(count).map_err(|reason| CompileError {
            function: "<program>".into(),
            reason,
        })?;
    let stubs = SharedStubs {
        entry: code.entry(),
        stubs: (0..count).map(|i| code.stub_address(i as FnId)).collect(),
        adapters: offsets
            .iter()
            .map(|&o| adapters.addr() + o as u64)
            .collect(),
    };
    // The code stays mapped for the process: `entry`, `stubs` and `adapters` point
    // into it.
    std::mem::forget(code);
    std::mem::forget(adapters);
    let stubs: &'static SharedStubs = Box::leak(Box::new(stubs));
    *shared = Some(stubs);
    Ok(stubs)
}

/// What the run's thread gives back.
struct End {
    word: u64,
    error: Option<ErrorKind>,
    trace: Vec<(FnId, usize)>,
    runtime_calls: [u64; RuntimeCall::COUNT],
    calls: u64,
    flushed: bool,
    records: Vec<FunctionRecord>,
    events: Vec<Event>,
    finished: Finished,
}

impl Engine for Tiered {
    fn name(&self) -> &'static str {
        "tiered JIT"
    }

    fn run(&mut self, verified: &Verified, out: &mut dyn Write) -> Result<String, RuntimeError> {
        let start = Instant::now();
        let program = verified.program();
        self.stats = Stats::default();
        self.functions = Vec::new();
        self.finished = Finished::default();
        self.tables = Vec::new();
        let extension = self.options.extension.as_deref();
        self.heap = match extension {
            Some(e) => Heap::with_model(self.options.heap_limit, e.object_model(verified)),
            None => Heap::new(self.options.heap_limit),
        };
        let shared = match shared_code(program.functions.len()) {
            Ok(shared) => shared,
            Err(e) => return self.run_interpreted(verified, out, e.reason, start),
        };
        let policy = self.options.policy;
        let policies: Vec<Policy> = (0..program.functions.len())
            .map(|i| self.options.per_function.get(i).copied().unwrap_or(policy))
            .collect();
        let first_table: Vec<FnEntry> = program
            .functions
            .iter()
            .zip(&shared.stubs)
            .map(|(f, &stub)| FnEntry {
                code: stub,
                arity: u64::from(f.arity),
            })
            .collect();
        let deopts = self
            .options
            .extension
            .as_ref()
            .is_some_and(|e| e.deoptimizer().is_some());
        let (frame_budgets, stack_bytes) = frame_budgets(verified, deopts);
        let entry = shared.entry;
        let sync = self.options.sync_compile;
        let trace = self.options.trace;
        let heap = &mut self.heap;
        // The run: on this thread, on a stack of its own big enough for mixed stacks
        // (`crate::stack`), writing straight to the caller's writer.
        let writer = &mut *out;
        let job = move || {
            // The counters, flags and table are the run's alone (cells: generated code
            // and the hooks write them in place).
            let (calls, loops) = policy.initial();
            let counters = Counters::new(program, calls, loops);
            let installed = Installed::new(program.functions.len());
            let table: Box<[Cell<FnEntry>]> = first_table.into_iter().map(Cell::new).collect();
            // Optimized code calls each function through its adapter until it is
            // optimized too.
            let adapters = &shared.adapters[..program.functions.len()];
            let compiled: Box<[Cell<u64>]> = adapters.iter().copied().map(Cell::new).collect();
            // The caches' snapshots the optimizer's jobs take with them.
            let snapshots = Snapshots::default();
            let snapshots = &snapshots;
            // The optimizer's jobs borrow from this run: the scope returns only when
            // the thread's worker is through with every one of them.
            crate::queue::scope(|inner| {
                let start: Option<StartWorker> = if sync {
                    None
                } else {
                    // No worker to be had: compile on the spot.
                    Some(Box::new(move || {
                        Queue::start(inner, move |job| {
                            let snapshot = snapshots.take(&job).unwrap_or_default();
                            compile_optimized_from(verified, job, &snapshot)
                        })
                        .ok()
                    }))
                };
                let mut ctx = Context::new(program, heap, &[], None);
                // SAFETY: the writer outlives the run; only the context writes to it
                // while the run goes on.
                unsafe { ctx.runtime.set_writer(writer) };
                // The table is written while the run goes on: generated code reads it
                // through this pointer (`Cell<FnEntry>` is laid out as `FnEntry`).
                ctx.native.functions = table.as_ptr().cast::<FnEntry>();
                ctx.native.compiled_entries = compiled.as_ptr().cast::<u64>();
                ctx.runtime.verified = verified;
                ctx.runtime.entry = Some(entry);
                // A run that stresses deopts starts its countdown (stage 7).
                if let Some(countdown) = extension.and_then(|e| e.stress()) {
                    ctx.native.deopt_countdown = countdown;
                }
                let tiering = Tiering::new(
                    Setup {
                        verified,
                        policies,
                        counters: &counters,
                        installed: &installed,
                        table: &table,
                        compiled: &compiled,
                        adapters,
                        entry,
                        frame_budgets,
                        trace,
                        extension,
                        // The one heap of the run, as the context holds it.
                        heap: ctx.runtime.heap,
                        snapshots,
                    },
                    start,
                );
                // SAFETY: `tiering` outlives every use of the context by the run: the
                // hooks are unset below, before `tiering` is finished.
                unsafe { ctx.runtime.set_hooks(&tiering) };
                let word = match tiering.call_interpreted(&mut ctx, MAIN, &[], 0) {
                    Ok(v) => v.bits(),
                    Err(unwind) => {
                        ctx.runtime.error = Some(unwind.kind);
                        ctx.runtime.trace = unwind.frames;
                        ERROR_WORD
                    }
                };
                ctx.runtime.hooks = None;
                let flushed = ctx.runtime.flush();
                ctx.runtime.writer = None;
                let (records, events, finished) = tiering.finish();
                End {
                    word,
                    error: ctx.runtime.error,
                    trace: std::mem::take(&mut ctx.runtime.trace),
                    runtime_calls: ctx.runtime.runtime_calls,
                    calls: ctx.native.calls,
                    flushed,
                    records,
                    events,
                    finished,
                }
            })
        };
        let end = match crate::stack::run_on_own_stack(stack_bytes, job) {
            Ok(end) => end,
            Err(e) => {
                // No stack that big (address space is short: `ulimit -v`): nothing has
                // run yet, so the interpreter runs the whole program.
                let reason = format!(
                    "no native stack of {stack_bytes} bytes could be mapped ({e}): \
                     the program runs in the interpreter"
                );
                return self.run_interpreted(verified, out, reason, start);
            }
        };
        self.stats.calls = end.calls;
        self.stats.runtime_calls = RuntimeCall::ALL
            .iter()
            .map(|r| (r.name(), end.runtime_calls[*r as usize]))
            .collect();
        let count = |f: &dyn Fn(&Event) -> bool| end.events.iter().filter(|e| f(e)).count() as u64;
        self.stats.counters = vec![
            ("tier-ups", count(&|e| matches!(e, Event::TierUp { .. }))),
            ("OSR entries", count(&|e| matches!(e, Event::Osr { .. }))),
            (
                "compilations cancelled at the end",
                end.finished.cancelled as u64,
            ),
            (
                "compilations finished but not installed",
                end.finished.uncollected as u64,
            ),
            (
                "compilations taken back from a worker that had not started them",
                end.finished.taken_back as u64,
            ),
        ];
        self.stats.events = end.events;
        // The model's events (cache transitions), after the tiering's.
        self.heap.model_mut().take_events(&mut self.stats.events);
        if let Some(e) = extension {
            self.tables = e.tables(&self.heap, verified);
        }
        self.functions = end.records;
        self.finished = end.finished;
        self.stats.run_time = start.elapsed();
        if end.word == ERROR_WORD {
            let kind = recorded_error(end.error);
            return Err(runtime_error(program, kind, end.trace.into_iter()));
        }
        if !end.flushed {
            return Err(RuntimeError {
                kind: ErrorKind::Output,
                trace: vec![],
                omitted: 0,
            });
        }
        // SAFETY: `main`'s result, a value of this run on its heap, not the error word.
        let value = unsafe { Value::from_bits(end.word) };
        Ok(format_value(program, &self.heap, value))
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }
}
