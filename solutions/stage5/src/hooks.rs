//! The tiering hooks: what a tiered run does when a counter reaches zero, in the
//! interpreter (through [`Callout::hot_call`] and [`Callout::hot_loop`]) or in baseline
//! code (through stage 3's [`TierHooks`]), and how it runs a function that is not
//! compiled (an interpreter activation, in tiered mode).
//!
//! ```text
//!              calls / back edges          opt-calls / opt-loops
//!  interpreter ------------------> baseline ----------------------> optimized
//!   (stage 1)    compile on the     (stage 3)  compile on the worker  (stage 4)
//!                spot, install,                (or on the spot with
//!                OSR the frame                 --sync-compile), install,
//!                                              OSR the frame
//! ```
//!
//! Installing is writing the function's entry in the function table (and setting its
//! [`Installed`] flag, which the interpreter reads at each call): callers pick the new
//! code up at their next call; frames already running keep their code until they
//! return or move by OSR. Every block of code made stays mapped until the run ends,
//! since a frame may still be running in it.
//!
//! A deoptimization (stage 7) comes here too ([`TierHooks::deoptimize`]): the
//! extension says what becomes of the code that bet wrong ([`AfterDeopt`]); code
//! taken out of the table goes back to the function's baseline code, to be optimized
//! again later, and the rebuilt frames run in the interpreter, tiered.
//!
//! The hooks are re-entered while they run (an OSR'd frame calls functions whose
//! counters trip in turn), so all their state is in cells, and no borrow of it is held
//! while generated code or the interpreter runs.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use stage1::heap::Heap;
use stage1::interp::tiering::{Counters, Installed, NEVER};
use stage1::interp::{resume_frames, Callout, Link, OsrFrame, Unwind};
use stage1::limits::MAX_FRAMES;
use stage1::{Event, FnId, Instr, Value, Verified};
use stage3::context::{Context, EntryFn, FnEntry};
use stage3::runtime::{call_native, native_result, with_interpreter};
use stage3::{CompiledFunction, Deopt, FrameState, TierHooks, TierOptions};
use stage4::deopt::Deoptimizer;
use stage4::objects::ObjectLowering;
use stage4::speculation::Speculation;
use stage4::tiered::Calls;

use crate::extension::{AfterDeopt, Extension};
use crate::policy::{Policy, Tier, Trigger};
use crate::queue::Queue;
use crate::record::{FunctionRecord, Log, Tally, TierClock};

/// The budget a counter gets while its function's optimized code is being made on
/// the worker: each time it runs out, the hook looks for finished code again. Small
/// enough that code is picked up soon after it is ready, big enough that the checks
/// cost nothing next to the calls between them.
pub const POLL_BUDGET: i64 = 64;

/// How long a job may wait for the worker to start it before the running thread,
/// asking for it again, takes it back and compiles it itself (`Tiering::take_back`,
/// with [`Queue::take_back`]). A worker on an idle core starts a job within a tenth of
/// that (the worker is the running thread's, made at its first job); one that has
/// not started waits for a core the machine gives to others (or finishes an earlier
/// job). Meanwhile the frame runs in a lower tier: on a loaded machine (load 5 on 2 cores) `few_calls` ran its
/// loops in baseline code for most of a run, and `outer_small` took 0.8 ms more CPU
/// than with `--sync-compile` even with a millisecond here.
pub const TAKE_BACK_AFTER: Duration = Duration::from_micros(500);

/// A compilation for the worker: function `func`'s optimized code, or with `osr` its
/// variant entered at that loop header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    /// The function.
    pub func: FnId,
    /// The loop header of an OSR variant; `None`: the function's normal code.
    pub osr: Option<usize>,
    /// What tripped (for the event), and the count then.
    pub trigger: Trigger,
    /// The count of the counter that tripped, when it did.
    pub count: u64,
    /// For an OSR variant: the locals (a bit each, 0 to 63) it may take to be
    /// integers (and, the ones its loop counts with, small integers), as they were in
    /// the frame that asked ([`int_locals`]); 0 for none (and for a normal entry).
    pub ints: u64,
}

/// The locals of the frame state at `state` (a baseline frame at the loop header
/// `header`, in the layout of the OSR calling convention) that an OSR variant for
/// the frame may bet on: a bit each, for locals 0 to 63. Those that hold integers,
/// but of the ones the loop only counts with
/// (`stage4::ir::build::counted_locals`), whose range the variant also bets on, only
/// the small ones (within `stage4::ir::SMALL`; see
/// `stage4::ir::build::build_osr_speculating`).
///
/// # Safety
/// `state` is the frame state of a live frame of `func` of `verified` (its `locals`
/// words at `state - 8n`).
pub unsafe fn int_locals(verified: &Verified, func: FnId, header: usize, state: *const u64) -> u64 {
    let locals = verified.program().functions[func as usize].locals as usize;
    let counted = stage4::ir::build::counted_locals(verified, func, header as stage4::ir::Pc);
    let (lo, hi) = stage4::ir::SMALL;
    (0..locals.min(64)).fold(0, |ints, n| {
        // SAFETY: local `n` of the frame, by the contract.
        let word = unsafe { *state.sub(n) };
        let small = (lo..=hi).contains(&((word as i64) >> stage1::value::INT_SHIFT));
        if word & stage1::value::INT_TAG_MASK == 0 && (small || (counted >> n) & 1 == 0) {
            ints | 1 << n
        } else {
            ints
        }
    })
}

/// A compilation the worker finished.
pub struct Done {
    /// What it was asked.
    pub job: Job,
    /// The code, or why the optimizer declined.
    pub code: Result<CompiledFunction, String>,
    /// How long it took.
    pub time: Duration,
}

/// Compiles `job` with stage 4: what the worker (or, in sync mode, the hook) does.
pub fn compile_optimized(verified: &Verified, job: Job) -> Done {
    compile_optimized_with(verified, job, None)
}

/// [`compile_optimized`] with the object fast paths of `objects`, a snapshot of the
/// caches taken when the job was queued ([`Extension::optimizer`]).
pub fn compile_optimized_with(
    verified: &Verified,
    job: Job,
    objects: Option<&dyn ObjectLowering>,
) -> Done {
    let start = Instant::now();
    let code = stage4::tiered::compile_speculating(
        verified,
        job.func,
        job.osr,
        job.ints,
        objects,
        Calls::Compiled,
    );
    Done {
        job,
        code,
        time: start.elapsed(),
    }
}

/// [`compile_optimized`] from everything the extension gave the job when it was
/// queued: the caches' fast paths and, in a speculating run (stage 7), the bets.
pub fn compile_optimized_from(verified: &Verified, job: Job, snapshot: &JobSnapshot) -> Done {
    let (Some(spec), Some(deopt)) = (snapshot.speculation.as_deref(), snapshot.deoptimizer) else {
        return compile_optimized_with(verified, job, snapshot.objects.as_deref());
    };
    let start = Instant::now();
    let code = compile_betting(
        verified,
        job,
        snapshot.objects.as_deref(),
        spec,
        deopt,
        snapshot.stress,
    );
    Done {
        job,
        code,
        time: start.elapsed(),
    }
}

/// The optimizer's speculative pipeline for `job` with the bets of `spec`, compiled
/// by `deopt` (and a stress check at each guard with `stress`).
fn compile_betting(
    verified: &Verified,
    job: Job,
    objects: Option<&dyn ObjectLowering>,
    spec: &dyn Speculation,
    deopt: &dyn Deoptimizer,
    stress: bool,
) -> Result<CompiledFunction, String> {
    stage4::tiered::compile_speculative(
        verified,
        job.func,
        job.osr,
        job.ints,
        objects,
        spec,
        deopt,
        stress,
        Calls::Compiled,
    )
}

/// What an optimizer's job takes with it besides the [`Job`] itself, made on the
/// run's thread when the job is queued: the worker compiles from these alone, never
/// from the live caches or feedback, which the running program keeps changing.
#[derive(Default)]
pub struct JobSnapshot {
    /// The caches' fast paths ([`Extension::optimizer`]).
    pub objects: Option<Box<dyn ObjectLowering>>,
    /// The bets the code may make ([`Extension::speculation`]); `None`: none.
    pub speculation: Option<Box<dyn Speculation>>,
    /// What compiles the bets ([`Extension::deoptimizer`]); bets need one.
    pub deoptimizer: Option<&'static dyn Deoptimizer>,
    /// Each guard checks the stress countdown ([`Extension::stress`]).
    pub stress: bool,
}

impl JobSnapshot {
    /// Nothing to take along: stage 4's code, as without an extension.
    pub fn is_empty(&self) -> bool {
        self.objects.is_none() && self.speculation.is_none() && !self.stress
    }
}

/// The snapshots of the optimizer's jobs ([`JobSnapshot`]), by function and OSR
/// header: the run's thread puts one in when it queues a job (a function has at most
/// one job of each kind queued), whoever compiles the job takes it out. The worker
/// sees the caches and the feedback through these alone.
#[derive(Default)]
pub struct Snapshots(Mutex<HashMap<JobKey, JobSnapshot>>);

/// A job's function and OSR header: at most one job of each is queued at a time.
type JobKey = (FnId, Option<usize>);

impl Snapshots {
    /// Keeps `snapshot` for `job`.
    pub fn put(&self, job: &Job, snapshot: JobSnapshot) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.insert((job.func, job.osr), snapshot);
    }

    /// The snapshot kept for `job`, if any.
    pub fn take(&self, job: &Job) -> Option<JobSnapshot> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&(job.func, job.osr))
    }
}

/// Code of a function kept for the run: the block and its entries.
struct Code {
    /// Keeps the code mapped.
    _block: stage2::CodeBlock,
    /// Keeps the data the code refers to by address (deopt tables) alive as long.
    _tables: Option<Box<dyn std::any::Any + Send>>,
    /// Names the code's functions and instructions in crash reports while it lives
    /// (under the test harness).
    _registration: Option<stage2::code_map::Registration>,
    /// Absolute address of the normal entry.
    entry: u64,
    /// Absolute address of the fast entry (arguments in registers), if it has one.
    fast: Option<u64>,
    /// Absolute addresses of the OSR entries, by loop header pc.
    osr: Vec<(usize, u64)>,
    /// The locals an optimized OSR variant takes to be integers (a bit each):
    /// a frame enters it only if they are.
    ints: u64,
}

impl Code {
    /// Keeps `c`, the code of function `func`, for the run.
    fn new(verified: &Verified, func: FnId, c: CompiledFunction) -> Code {
        let base = c.code.addr();
        Code {
            _registration: stage3::code_map::register_function(verified.program(), func, &c),
            entry: base + c.entry as u64,
            fast: c.fast_address(),
            osr: c
                .osr_entries
                .iter()
                .map(|&(pc, off)| (pc, base + off as u64))
                .collect(),
            _block: c.code,
            _tables: c.tables,
            ints: 0,
        }
    }

    fn osr_entry(&self, header: usize) -> Option<u64> {
        self.osr
            .iter()
            .find(|&&(pc, _)| pc == header)
            .map(|&(_, a)| a)
    }
}

/// A function's place in the tiers during a run.
struct FnState {
    /// The tier of the code its table entry holds.
    tier: Tier,
    /// Its baseline code, once made (kept: interpreter frames OSR into it).
    baseline: Option<Code>,
    /// Its optimized code, once made.
    optimized: Option<Code>,
    /// Its optimized OSR variants, by loop header (`Err`: declined).
    osr: HashMap<usize, Result<Code, ()>>,
    /// Jobs of it on the worker.
    queued: Vec<Option<usize>>,
    /// Its call counter's tally.
    calls: Tally,
    /// A tier that declined it, and why: it goes no higher.
    declined: Option<(Tier, String)>,
    /// The largest native frame its code may have (the stack is sized for it).
    frame_budget: usize,
    /// Frames of it that moved into an optimized variant from baseline code since its
    /// whole code was last taken out of use: at [`WHOLE_AFTER_OSRS`], the function
    /// itself is optimized.
    optimized_osrs: u32,
    /// Its line in the tier table.
    record: FunctionRecord,
}

/// Frames of a function that moved into its optimized OSR variants, after which the
/// function itself is optimized, however few its calls: its calls keep running loops
/// hot enough for OSR (a function called a few hundred times whose loop runs a
/// thousand trips a call), and each new call would run `loops` back edges in
/// baseline code before it follows — all of a loop that short. HotSpot counts a
/// method's back edges with its invocations for the same reason (`i + b`), and V8's
/// interrupt budget is spent by both. Not at the second: a function called a few
/// times, each call a long loop, is better off in its variant, whose entry bets on
/// the ranges of the loop's counters (the held-out shape `few_calls`, eight calls,
/// took 8% longer in stage 5 when the second entry compiled it whole).
pub const WHOLE_AFTER_OSRS: u32 = 16;

/// The mutable state of a run's tiering.
struct State {
    functions: Vec<FnState>,
    /// The tally of each loop's back-edge counter, by function and `loop` pc.
    loops: HashMap<(FnId, usize), Tally>,
    /// Inner loops whose first trip in baseline code asked for their enclosing loop's
    /// OSR variant instead of their own (by function and `loop` pc).
    redirected: HashSet<(FnId, usize)>,
    /// Optimized code taken out of use by deopts: it stays mapped until the run ends
    /// (frames may still be running it).
    retired: Vec<Code>,
    /// Enclosing loops a frame waits to leave by: they poll often (not at every back
    /// edge: a frame whose code is slow to come would spend its time polling).
    /// Each one's wait between polls, in back edges: 1 at first, doubling at each
    /// poll that finds no code yet, up to [`POLL_BUDGET`] (a poll is a hook call,
    /// hundreds of nanoseconds, where a short iteration of the loop is a few).
    eager: HashMap<(FnId, usize), i64>,
    /// The depths of the interpreter frames running because their optimized code
    /// deoptimized, innermost last: such a frame may move into compiled code again
    /// by OSR only [`REOSR_LIMIT`] times, and only near the bottom of the stack
    /// ([`REOSR_DEPTH`]) — see [`Tiering::may_osr`].
    resumed: Vec<usize>,
    /// Loops whose OSR variant a deopt took out of use, waiting out the back-off
    /// ([`Tiering::invalidate`]), by function and `loop` pc, with the back edges of
    /// the back-off left for baseline code to count: the resumed interpreter frame
    /// moves into baseline code after the interpreter's own threshold (not the whole
    /// back-off in the slowest tier), and when the counter runs out the variant is
    /// asked for at once, in whatever tier the frame runs (not after the optimizer's
    /// threshold once more).
    backed_off: HashMap<(FnId, usize), i64>,
}

/// The frames below which a frame resumed after a deopt may move into compiled
/// code again (a program's long-running loops are there: `main`'s and its callees').
pub const REOSR_DEPTH: usize = 16;

/// How many times one frame may deoptimize and move into compiled code again by
/// OSR. Each time nests the frame's next code under the deopt's interpreter
/// activation on the native stack (the frame below it is still there), so the
/// native stack a level may need is bounded by this (see `crate::engine`'s stack
/// budget) — and a loop that keeps losing its bets settles in the interpreter.
/// Six: stage 7's policy compiles a function with bets at most six times (its first
/// compile and five recompiles, `stage7::policy::MAX_RECOMPILES`), so a frame that
/// re-enters its function's newest code each time has met code without guards by
/// then; with fewer, a million-trip loop stressed at every guard ended its run in
/// the interpreter (seconds in a debug build, past the suite's time limit).
pub const REOSR_LIMIT: usize = 6;

/// A run's tiering: the policy, the shared counters and flags, the function table,
/// and what it made.
pub struct Tiering<'r, 'q> {
    verified: &'r Verified,
    /// Each function's policy.
    policies: Vec<Policy>,
    counters: &'r Counters,
    installed: &'r Installed,
    /// The function table generated code calls through.
    table: &'r [Cell<FnEntry>],
    /// Where optimized code calls each function ([`Setup::compiled`]).
    compiled: &'r [Cell<u64>],
    /// Each function's adapter ([`Setup::adapters`]).
    adapters: &'r [u64],
    /// The entry trampoline.
    entry: EntryFn,
    state: RefCell<State>,
    /// The worker; `None` in sync mode (or when no thread could be made).
    queue: RefCell<Option<Queue<'q, Job, Done>>>,
    /// Starts the queue (and the thread's worker, the first time), at the first
    /// job: most short programs never ask the optimizer for anything, and a thread
    /// costs tens of microseconds.
    start: RefCell<Option<StartWorker<'q>>>,
    /// Optimized code is made on the worker (not in sync mode).
    background: bool,
    /// What a later stage adds to the tiers (stage 6's caches).
    extension: Option<&'r dyn Extension>,
    /// The run's heap, shown to the extension (see [`Tiering::heap_mut`]).
    heap: *mut Heap,
    /// The snapshots of queued jobs.
    snapshots: &'r Snapshots,
    /// Optimized code checks the stress countdown at each guard
    /// ([`Extension::stress`]).
    stress: bool,
    /// The events.
    pub log: RefCell<Log>,
    /// The time spent in each tier's code, counted at the transitions between tiers.
    pub clock: TierClock,
}

/// Starts the optimizing tier's worker (`None`: no thread could be made).
pub type StartWorker<'q> = Box<dyn FnOnce() -> Option<Queue<'q, Job, Done>> + 'q>;

/// What a tiered run needs to start its tiering.
pub struct Setup<'r> {
    pub verified: &'r Verified,
    /// Each function's policy, by index.
    pub policies: Vec<Policy>,
    pub counters: &'r Counters,
    pub installed: &'r Installed,
    pub table: &'r [Cell<FnEntry>],
    /// The compiled-entry table (`NativeContext::compiled_entries`): where optimized
    /// code calls each function with its arguments in registers — its fast entry
    /// once it is optimized, else its adapter.
    pub compiled: &'r [Cell<u64>],
    /// Each function's adapter (`stage4::codegen::adapters`), by index: what its
    /// compiled entry is while it has no optimized code.
    pub adapters: &'r [u64],
    pub entry: EntryFn,
    /// The largest native frame each function's code may have; `Err` (why) for a
    /// function that must stay in the interpreter.
    pub frame_budgets: Vec<Result<usize, String>>,
    pub trace: bool,
    /// What a later stage adds to the tiers.
    pub extension: Option<&'r dyn Extension>,
    /// The run's heap: the one heap every tier of the run uses (the context and the
    /// interpreter only ever lend it), alive for the whole run.
    pub heap: *mut Heap,
    /// Where queued jobs' snapshots wait for the worker.
    pub snapshots: &'r Snapshots,
}

impl<'r, 'q> Tiering<'r, 'q> {
    /// The tiering of a run, every function in the interpreter; `start` makes the
    /// worker of the optimizing tier when it is first needed (`None`: compile on the
    /// spot).
    pub fn new(setup: Setup<'r>, start: Option<StartWorker<'q>>) -> Tiering<'r, 'q> {
        let program = setup.verified.program();
        let functions = program
            .functions
            .iter()
            .zip(&setup.frame_budgets)
            .enumerate()
            .map(|(i, (f, budget))| {
                let mut record = FunctionRecord::new(&f.name);
                let (calls, loops) = setup.policies[i].initial();
                setup.counters.call(i as FnId).set(calls);
                for (_, c) in setup.counters.loops(i as FnId) {
                    c.set(loops);
                }
                let declined = budget.as_ref().err().map(|why| {
                    record.declined = Some(why.clone());
                    // It stays here: its counters never trip.
                    setup.counters.call(i as FnId).set(NEVER);
                    for (_, c) in setup.counters.loops(i as FnId) {
                        c.set(NEVER);
                    }
                    (Tier::Baseline, why.clone())
                });
                FnState {
                    tier: Tier::Interpreter,
                    baseline: None,
                    optimized: None,
                    osr: HashMap::new(),
                    queued: Vec::new(),
                    calls: Tally::new(if declined.is_some() { NEVER } else { calls }),
                    declined,
                    frame_budget: budget.as_ref().map_or(0, |&b| b),
                    optimized_osrs: 0,
                    record,
                }
            })
            .collect();
        let mut loops = HashMap::new();
        for i in 0..program.functions.len() {
            for (pc, c) in setup.counters.loops(i as FnId) {
                loops.insert((i as FnId, pc), Tally::new(c.get()));
            }
        }
        Tiering {
            verified: setup.verified,
            policies: setup.policies,
            counters: setup.counters,
            installed: setup.installed,
            table: setup.table,
            compiled: setup.compiled,
            adapters: setup.adapters,
            entry: setup.entry,
            state: RefCell::new(State {
                functions,
                loops,
                redirected: HashSet::new(),
                retired: Vec::new(),
                eager: HashMap::new(),
                resumed: Vec::new(),
                backed_off: HashMap::new(),
            }),
            queue: RefCell::new(None),
            background: start.is_some(),
            start: RefCell::new(start),
            extension: setup.extension,
            heap: setup.heap,
            snapshots: setup.snapshots,
            stress: setup.extension.is_some_and(|e| e.stress().is_some()),
            log: RefCell::new(Log::new(setup.trace)),
            clock: TierClock::new(program.functions.len()),
        }
    }

    /// Ends the run's tiering: the worker drops its queued jobs and is joined; gives
    /// the tier table and the events, and what the worker left undone.
    pub fn finish(self) -> (Vec<FunctionRecord>, Vec<Event>, crate::queue::Finished) {
        self.extension_events();
        let finished = self
            .queue
            .into_inner()
            .map(Queue::finish)
            .unwrap_or_default();
        let state = self.state.into_inner();
        let times = self.clock.times();
        let mut records: Vec<FunctionRecord> = Vec::with_capacity(state.functions.len());
        for (i, fs) in state.functions.into_iter().enumerate() {
            let mut r = fs.record;
            r.tier = fs.tier;
            r.tier_time = times[i];
            r.calls = fs.calls.count(self.counters.call(i as FnId));
            r.back_edges = self
                .counters
                .loops(i as FnId)
                .map(|(pc, c)| state.loops.get(&(i as FnId, pc)).map_or(0, |t| t.count(c)))
                .sum();
            records.push(r);
        }
        (records, self.log.into_inner().events, finished)
    }

    /// `func`'s policy.
    fn policy(&self, func: FnId) -> &Policy {
        &self.policies[func as usize]
    }

    fn name(&self, func: FnId) -> String {
        self.verified.program().functions[func as usize]
            .name
            .clone()
    }

    /// Resets the back-edge counter of the `loop` at `loop_pc` of `func` to `budget`,
    /// keeping its tally; gives the count so far.
    fn reset_loop(&self, func: FnId, loop_pc: usize, budget: i64) -> u64 {
        let counter = self.counters.back_edge(func, loop_pc);
        let mut state = self.state.borrow_mut();
        let tally = state
            .loops
            .entry((func, loop_pc))
            .or_insert_with(|| Tally::new(counter.get()));
        let count = tally.count(counter);
        tally.reset(counter, budget);
        count
    }

    /// The count of the back-edge counter of the loop at `loop_pc` of `func` so far.
    fn loop_count(&self, func: FnId, loop_pc: usize) -> u64 {
        let counter = self.counters.back_edge(func, loop_pc);
        self.state.borrow().loops.get(&(func, loop_pc)).map_or_else(
            || Tally::new(counter.get()).count(counter),
            |t| t.count(counter),
        )
    }

    /// The count of `func`'s call counter so far.
    fn calls_so_far(&self, func: FnId) -> u64 {
        self.state.borrow().functions[func as usize]
            .calls
            .count(self.counters.call(func))
    }

    /// Sets `func`'s call counter to `budget`, keeping its tally.
    fn reset_calls(&self, func: FnId, budget: i64) {
        let counter = self.counters.call(func);
        self.state.borrow_mut().functions[func as usize]
            .calls
            .reset(counter, budget);
    }

    /// Installs `code` as `func`'s code in `tier`: its table entry, its flag; and
    /// its compiled entry, its code's fast entry (`fast`) or else its adapter.
    fn install(&self, func: FnId, tier: Tier, entry: u64, fast: Option<u64>) {
        // exercise-begin: install make func's new code the one its callers reach
        let slot = &self.table[func as usize];
        slot.set(FnEntry {
            code: entry,
            ..slot.get()
        });
        self.installed.set(func);
        self.state.borrow_mut().functions[func as usize].tier = tier;
        // exercise-end
        self.link(func, fast);
    }

    /// [`Tiering::install`] with the state already borrowed (a deopt's invalidation).
    fn install_in(&self, state: &mut State, func: FnId, tier: Tier, entry: u64) {
        let slot = &self.table[func as usize];
        slot.set(FnEntry {
            code: entry,
            ..slot.get()
        });
        self.installed.set(func);
        state.functions[func as usize].tier = tier;
        self.link(func, None);
    }

    /// Makes `fast` (a fast entry) where optimized code calls `func`, or with `None`
    /// its adapter, which calls whatever the function table holds.
    fn link(&self, func: FnId, fast: Option<u64>) {
        let adapter = self.adapters[func as usize];
        self.compiled[func as usize].set(fast.unwrap_or(adapter));
    }

    /// Makes `func`'s baseline code if it has none (on the spot: the template JIT
    /// is fast), and installs it if its table entry is still the interpreter's.
    /// `false` when the baseline tier declines it.
    fn ensure_baseline(&self, func: FnId, trigger: Trigger, count: u64) -> bool {
        {
            let state = self.state.borrow();
            let fs = &state.functions[func as usize];
            if fs.baseline.is_some() {
                return true;
            }
            if fs.declined.is_some() {
                return false;
            }
        }
        let start = Instant::now();
        let objects = self.extension.and_then(|e| e.baseline(self.heap_mut()));
        let options = TierOptions {
            counters: Some(self.counters),
            countdown: Some(crate::countdown::emit_countdown),
            feedback: self.extension.and_then(|e| e.baseline_feedback()),
            objects: objects.as_deref(),
            ..TierOptions::default()
        };
        let compiled = stage3::compile_function(self.verified, func, &options)
            .map_err(|e| e.reason)
            .and_then(|c| {
                let budget = self.state.borrow().functions[func as usize].frame_budget;
                if c.function.frame_bytes > budget {
                    Err(format!(
                        "its native frame of {} bytes is bigger than the {budget} the run's \
                         stack has room for",
                        c.function.frame_bytes
                    ))
                } else {
                    Ok(c)
                }
            });
        let time = start.elapsed();
        match compiled {
            Ok(c) => {
                let code_bytes = c.function.range.len();
                let code = Code::new(self.verified, func, c);
                let entry = code.entry;
                {
                    let mut state = self.state.borrow_mut();
                    let fs = &mut state.functions[func as usize];
                    fs.baseline = Some(code);
                    fs.record.compile_time[0] += time;
                }
                self.install(func, Tier::Baseline, entry, None);
                self.reset_calls(func, self.policy(func).call_budget(Tier::Baseline));
                self.log.borrow_mut().push(Event::TierUp {
                    function: self.name(func),
                    from: Tier::Interpreter.name(),
                    to: Tier::Baseline.name(),
                    trigger: trigger.name(),
                    count,
                    time,
                    code_bytes,
                });
                true
            }
            Err(reason) => {
                self.decline(func, Tier::Baseline, reason);
                false
            }
        }
    }

    /// `tier` declines `func`: it stays where it is, its counters never trip again.
    fn decline(&self, func: FnId, tier: Tier, reason: String) {
        self.reset_calls(func, NEVER);
        let loops: Vec<usize> = self.counters.loops(func).map(|(pc, _)| pc).collect();
        for pc in loops {
            self.reset_loop(func, pc, NEVER);
        }
        {
            let mut state = self.state.borrow_mut();
            let fs = &mut state.functions[func as usize];
            fs.record.declined = Some(reason.clone());
            fs.declined = Some((tier, reason.clone()));
        }
        self.log.borrow_mut().push(Event::NotCompiled {
            function: self.name(func),
            tier: tier.name(),
            reason,
        });
    }

    /// Installs what the worker finished (at every hook: the running thread is the
    /// only one that touches the table).
    fn collect(&self) {
        let done = match self.queue.borrow_mut().as_mut() {
            Some(q) if q.pending() > 0 => q.poll(),
            _ => return,
        };
        for d in done {
            self.finished(d);
        }
    }

    /// Takes in one finished optimizing compilation.
    fn finished(&self, done: Done) {
        let Done { job, code, time } = done;
        let func = job.func;
        {
            let mut state = self.state.borrow_mut();
            let fs = &mut state.functions[func as usize];
            fs.queued.retain(|&q| q != job.osr);
            fs.record.compile_time[1] += time;
        }
        let budget = self.state.borrow().functions[func as usize].frame_budget;
        let code = code.and_then(|c| {
            if c.function.frame_bytes > budget {
                Err(format!(
                    "its native frame of {} bytes is bigger than the {budget} the run's stack \
                     has room for",
                    c.function.frame_bytes
                ))
            } else {
                Ok(c)
            }
        });
        match (job.osr, code) {
            (None, Ok(c)) => {
                let code_bytes = c.function.range.len();
                let code = Code::new(self.verified, func, c);
                let (entry, fast) = (code.entry, code.fast);
                self.state.borrow_mut().functions[func as usize].optimized = Some(code);
                self.install(func, Tier::Optimized, entry, fast);
                self.reset_calls(func, self.policy(func).call_budget(Tier::Optimized));
                self.log.borrow_mut().push(Event::TierUp {
                    function: self.name(func),
                    from: Tier::Baseline.name(),
                    to: Tier::Optimized.name(),
                    trigger: job.trigger.name(),
                    count: job.count,
                    time,
                    code_bytes,
                });
            }
            (None, Err(reason)) => self.decline(func, Tier::Optimized, reason),
            (Some(header), Ok(c)) => {
                let code = Code {
                    ints: job.ints,
                    ..Code::new(self.verified, func, c)
                };
                self.state.borrow_mut().functions[func as usize]
                    .osr
                    .insert(header, Ok(code));
            }
            (Some(header), Err(reason)) => {
                self.state.borrow_mut().functions[func as usize]
                    .osr
                    .insert(header, Err(()));
                self.log.borrow_mut().push(Event::NotCompiled {
                    function: self.name(func),
                    tier: Tier::Optimized.name(),
                    reason: format!("no OSR entry at pc {header}: {reason}"),
                });
            }
        }
    }

    /// A hot inner loop in baseline code, with the optimizer in the background: its
    /// frame waits in baseline code for the optimized code anyway, so it waits for the
    /// variant entered at the header of the loop around it, which it reaches within one
    /// run of the inner loop. In that variant the inner loop is an ordinary loop of the
    /// optimized code (its values' types known, invariants hoisted out of it), where in
    /// its own variant every value it carries comes in of unknown type and is checked
    /// at each iteration. Once per loop: if the inner loop trips again before the loop
    /// around it came round, it gets a variant of its own (see
    /// [`Tiering::waits_for_enclosing`]). `false`: no loop around it, one that has
    /// not come round once in the run, or it already was redirected.
    fn redirect_to_enclosing(&self, func: FnId, loop_pc: usize, header: usize, ints: u64) -> bool {
        let code = &self.verified.program().functions[func as usize].code;
        let Some((outer_pc, outer_header)) = enclosing_loop(code, loop_pc, header) else {
            return false;
        };
        {
            // A loop frames wait to leave by is not passed on: its back edges come
            // round soonest. Nor is a loop whose loop around has not come round once
            // in the run (every back edge the inner loop made, in the interpreter and
            // in baseline code, was of one trip of the loop around): the frame would
            // wait at least another whole run of the inner loop, and its own variant
            // is asked for when it trips again anyway, behind a compile for nothing
            // (`outer_small`: 20,000 more back edges in baseline code, and a variant
            // never entered).
            let outer = self.counters.back_edge(func, outer_pc);
            let mut state = self.state.borrow_mut();
            let came_round = state
                .loops
                .get(&(func, outer_pc))
                .is_some_and(|tally| tally.count(outer) > 0);
            if !came_round
                || state.eager.contains_key(&(func, loop_pc))
                || !state.redirected.insert((func, loop_pc))
            {
                return false;
            }
        }
        let count = self.reset_loop(func, loop_pc, self.policy(func).loop_budget(Tier::Baseline));
        // The frame asks at the enclosing loop's next back edge, then after 2, 4, ...
        // up to `POLL_BUDGET` more, until the code is there.
        self.reset_loop(func, outer_pc, 1);
        self.state.borrow_mut().eager.insert((func, outer_pc), 1);
        let known = self.state.borrow().functions[func as usize]
            .osr
            .contains_key(&outer_header);
        if !known {
            self.request(Job {
                func,
                osr: Some(outer_header),
                trigger: Trigger::Loop,
                count,
                ints,
            });
        }
        true
    }

    /// Whether a hot inner loop that was sent to wait for the variant of the loop
    /// around it ([`Tiering::redirect_to_enclosing`]) should go on waiting rather than
    /// get a variant of its own: while that variant is being made (or is made, and
    /// the loop around has yet to poll again) and the loop around has come round
    /// since (it polled and found no code yet). Then what the
    /// frame waits for is the worker, not the loop, and the variant comes as soon as
    /// its own would; entered at the inner header, the frame would run the rest of
    /// the function in code whose loops all start there (`matmul`'s multiply: 1.5
    /// times the instructions of stage 4's, when the worker was slow to start).
    /// When the loop around has not come round (a long inner loop, few outer trips),
    /// the inner loop gets its own variant, as before.
    fn waits_for_enclosing(&self, func: FnId, loop_pc: usize, header: usize) -> bool {
        let code = &self.verified.program().functions[func as usize].code;
        let Some((outer_pc, outer_header)) = enclosing_loop(code, loop_pc, header) else {
            return false;
        };
        let state = self.state.borrow();
        let fs = &state.functions[func as usize];
        let coming = match fs.osr.get(&outer_header) {
            // Made: the loop around enters it at its next poll.
            Some(made) => made.is_ok(),
            None => fs.queued.contains(&Some(outer_header)),
        };
        state.redirected.contains(&(func, loop_pc))
            && coming
            && state
                .eager
                .get(&(func, outer_pc))
                .is_some_and(|&wait| wait > 1)
    }

    /// Asks for `job`: on the spot in sync mode, else on the worker (once). Asked
    /// again while it waits for a worker that has not started it for
    /// [`TAKE_BACK_AFTER`], it is compiled on the spot after all.
    fn request(&self, job: Job) {
        let queued = self.state.borrow().functions[job.func as usize]
            .queued
            .contains(&job.osr);
        if queued {
            self.take_back(job);
            return;
        }
        let start = self.start.borrow_mut().take();
        if let Some(start) = start {
            *self.queue.borrow_mut() = start();
        }
        let mut queue = self.queue.borrow_mut();
        if let Some(q) = queue.as_mut() {
            // The caches (and the feedback) as they are now go with the job: the
            // worker never reads the live ones, which the program keeps changing.
            let snapshot = self.snapshot(&job);
            if !snapshot.is_empty() {
                self.snapshots.put(&job, snapshot);
            }
            // exercise-begin: hand-off hand the job to the worker, remember it is queued
            if q.push(job) {
                self.state.borrow_mut().functions[job.func as usize]
                    .queued
                    .push(job.osr);
                return;
            }
            // exercise-end
        }
        drop(queue);
        // Sync mode (or the worker is gone): compile now.
        let snapshot = self
            .snapshots
            .take(&job)
            .unwrap_or_else(|| self.snapshot(&job));
        self.finished(compile_optimized_from(self.verified, job, &snapshot));
    }

    /// `job` (queued) waits for a worker that gets no core: if the worker has not
    /// started it within [`TAKE_BACK_AFTER`], the running thread takes it back and
    /// compiles it on the spot, as in sync mode, rather than run on in a lower tier
    /// for as long as the machine is busy.
    fn take_back(&self, job: Job) {
        let taken =
            self.queue.borrow_mut().as_mut().and_then(|q| {
                q.take_back(TAKE_BACK_AFTER, |j| j.func == job.func && j.osr == job.osr)
            });
        let Some(taken) = taken else {
            return;
        };
        // The snapshot the job was queued with (made on this thread then; none was
        // kept when it was empty).
        let snapshot = self.snapshots.take(&taken).unwrap_or_default();
        self.finished(compile_optimized_from(self.verified, taken, &snapshot));
    }

    /// The extension's snapshot of the caches and bets for `job`, for the optimizer.
    fn snapshot(&self, job: &Job) -> JobSnapshot {
        let Some(e) = self.extension else {
            return JobSnapshot::default();
        };
        let snapshot = JobSnapshot {
            objects: e.optimizer(self.heap_mut(), job.func),
            speculation: e.speculation(self.verified, self.counters, job),
            deoptimizer: e.deoptimizer(),
            stress: self.stress,
        };
        // A recompilation is an event of the extension's.
        self.extension_events();
        snapshot
    }

    /// The extension's events since the last call, into the log (in order, traced).
    fn extension_events(&self) {
        if let Some(e) = self.extension {
            let events = e.take_events();
            if !events.is_empty() {
                let mut log = self.log.borrow_mut();
                for event in events {
                    log.push(event);
                }
            }
        }
    }

    /// Whether an interpreter frame `depth` frames deep may move into compiled code
    /// by OSR: always, unless it runs because its optimized code deoptimized (an
    /// interpreter frame at a depth that a resumed frame holds is that frame) — then
    /// only near the bottom of the stack, and [`REOSR_LIMIT`] times.
    fn may_osr(&self, depth: usize) -> bool {
        let state = self.state.borrow();
        let times = state.resumed.iter().filter(|&&d| d == depth).count();
        times == 0 || (depth < REOSR_DEPTH && times <= REOSR_LIMIT)
    }

    /// Optimized code of `func` deoptimized: the extension learns of it and says what
    /// becomes of the code ([`AfterDeopt`]), which is done here.
    fn deoptimized(&self, ctx: *mut Context, func: FnId, deopt: &Deopt) {
        self.collect();
        let after = self
            .extension
            .map_or_else(AfterDeopt::default, |e| e.deoptimized(func, deopt));
        self.extension_events();
        if let Some(budget) = after.invalidate {
            self.invalidate(func, deopt.code, budget);
        }
        if let Some(countdown) = after.countdown {
            // SAFETY: the context is live (the hooks' contract), and no reference to
            // it is held here.
            unsafe { (*ctx).native.deopt_countdown = countdown };
        }
    }

    /// Takes `func`'s optimized code entered at `code` (its normal code, or an OSR
    /// variant) out of use: callers go back to the baseline code, and the function (or
    /// the loop) may be optimized again after `budget` more calls (back edges: as many
    /// times the ratio of the thresholds). The code stays mapped for the run.
    fn invalidate(&self, func: FnId, code: u64, budget: i64) {
        let made_at = |c: &Code| c.entry == code || c.osr.iter().any(|&(_, a)| a == code);
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        let fs = &mut state.functions[func as usize];
        if fs.optimized.as_ref().is_some_and(made_at) {
            let old = fs.optimized.take().expect("checked above");
            // Its loops' OSR entries count toward a whole-function compile again.
            fs.optimized_osrs = 0;
            let baseline = fs.baseline.as_ref().map(|b| b.entry);
            let installed = self.table[func as usize].get().code == old.entry;
            state.retired.push(old);
            // Optimized code calls it through its adapter again, whatever the table
            // holds.
            self.link(func, None);
            if let (true, Some(entry)) = (installed, baseline) {
                self.install_in(state, func, Tier::Baseline, entry);
            }
            state.functions[func as usize]
                .calls
                .reset(self.counters.call(func), budget.max(1));
            return;
        }
        let header = fs.osr.iter().find_map(|(&h, c)| match c {
            Ok(c) if made_at(c) => Some(h),
            _ => None,
        });
        let Some(header) = header else {
            // Code already out of use (another frame of it deoptimized first).
            return;
        };
        if let Some(Ok(old)) = fs.osr.remove(&header) {
            state.retired.push(old);
        }
        // The loops wait again, scaled as the thresholds are.
        let policy = self.policy(func);
        let (calls, loops) = (
            policy.call_budget(Tier::Baseline).max(1),
            policy.loop_budget(Tier::Baseline).max(1),
        );
        let wait = i64::try_from(i128::from(budget.max(1)) * i128::from(loops) / i128::from(calls))
            .unwrap_or(i64::MAX)
            .max(1);
        // The interpreter's share: what it counts before baseline code takes over.
        let first = wait.min(policy.loop_budget(Tier::Interpreter).max(1));
        state.eager.retain(|&(f, _), _| f != func);
        for (pc, counter) in self.counters.loops(func) {
            let tally = state
                .loops
                .entry((func, pc))
                .or_insert_with(|| Tally::new(counter.get()));
            tally.reset(counter, first);
            state.backed_off.insert((func, pc), wait - first);
        }
    }

    /// The run's heap, for the extension to make baseline code's fast paths or the
    /// optimizer's snapshot from its model's caches (and its allocation pointer,
    /// hence `mut`).
    #[allow(clippy::mut_from_ref)]
    fn heap_mut(&self) -> &mut Heap {
        // SAFETY: `heap` is the run's heap, alive for the whole run (see `Setup`), as
        // the context holds it. The hooks run on the run's thread while the program
        // waits in them; nothing else uses the heap while the hook compiles or takes
        // the snapshot, and the reference does not outlive that.
        unsafe { &mut *self.heap }
    }

    /// `func`'s call counter reached zero (in whatever tier made the call): move it
    /// up a tier as the policy says.
    fn hot_call_any(&self, func: FnId) {
        self.clock.charge();
        self.hot_call_untimed(func);
        // Compiling and installing count for no tier (compile times are apart).
        self.clock.skip();
    }

    /// [`Tiering::hot_call_any`] itself.
    fn hot_call_untimed(&self, func: FnId) {
        self.collect();
        let tier = self.state.borrow().functions[func as usize].tier;
        let count = self.calls_so_far(func);
        // exercise-begin: tier-up-on-calls what a tripped call counter leads to in each tier
        match tier {
            Tier::Interpreter => {
                self.ensure_baseline(func, Trigger::Calls, count);
            }
            Tier::Baseline => {
                self.reset_calls(func, POLL_BUDGET);
                self.request(Job {
                    func,
                    osr: None,
                    trigger: Trigger::Calls,
                    count,
                    ints: 0,
                });
            }
            Tier::Optimized => self.reset_calls(func, NEVER),
        }
        // exercise-end
    }

    /// An interpreted frame's loop is hot: its function's baseline code (made if
    /// need be) takes the frame over at the loop's header. `None`: it stays here.
    fn osr_from_interpreter(
        &self,
        ctx: *mut Context,
        heap: &mut Heap,
        frame: &OsrFrame<'_>,
    ) -> Option<Result<Value, Unwind>> {
        self.clock.charge();
        let moved = self.osr_from_interpreter_untimed(ctx, heap, frame);
        self.clock.skip();
        moved
    }

    /// [`Tiering::osr_from_interpreter`] itself: the frame's baseline code is a
    /// stretch of its own on the tier clock.
    fn osr_from_interpreter_untimed(
        &self,
        ctx: *mut Context,
        heap: &mut Heap,
        frame: &OsrFrame<'_>,
    ) -> Option<Result<Value, Unwind>> {
        self.collect();
        let func = frame.func;
        let left = self
            .state
            .borrow_mut()
            .backed_off
            .remove(&(func, frame.loop_pc));
        let backed_off = left.is_some();
        // The rest of the back-off, for baseline code to count (its counter's trip
        // asks for the variant: `hot_loop`).
        let rest = left.filter(|&rest| rest > 0);
        if backed_off && rest.is_none() && self.ready_variant(func, frame.target).is_none() {
            // The back-off after a deopt is over: the variant is asked for now, as
            // baseline code's hook would (the loop waited once, not the back-off and
            // then the optimizer's threshold again).
            let state = FrameState::new(frame.locals, frame.operands);
            // SAFETY: `state` is the frame's own state at its loop's header, in the
            // OSR layout (`FrameState::new`), and lives across the call.
            let ints = unsafe { int_locals(self.verified, func, frame.target, state.as_ptr()) };
            let count = self.loop_count(func, frame.loop_pc);
            self.request(Job {
                func,
                osr: Some(frame.target),
                trigger: Trigger::Loop,
                count,
                ints,
            });
        }
        let ready = self.ready_variant(func, frame.target);
        let budget = match (ready, rest) {
            (Some(_), _) => self.ready_budget(func),
            (None, Some(rest)) => rest,
            // Asked for and not made yet: the frame polls for it from baseline code.
            (None, None) if backed_off => POLL_BUDGET,
            (None, None) => self.policy(func).loop_budget(Tier::Baseline),
        };
        let count = self.reset_loop(func, frame.loop_pc, budget);
        if !self.may_osr(frame.depth) {
            return None;
        }
        if !self.ensure_baseline(func, Trigger::Loop, count) {
            return None;
        }
        if let Some((address, speculated)) = ready {
            if let Some(moved) = self.osr_into_optimized(ctx, heap, frame, address, speculated) {
                return Some(moved);
            }
        }
        let address = {
            let state = self.state.borrow();
            let baseline = state.functions[func as usize].baseline.as_ref();
            baseline.and_then(|b| b.osr_entry(frame.target))
        };
        let Some(address) = address else {
            self.reset_loop(func, frame.loop_pc, NEVER);
            self.log.borrow_mut().push(Event::NotCompiled {
                function: self.name(func),
                tier: Tier::Baseline.name(),
                reason: format!(
                    "no OSR entry at pc {}: the loop stays interpreted",
                    frame.target
                ),
            });
            return None;
        };
        {
            let mut state = self.state.borrow_mut();
            state.functions[func as usize].record.osr += 1;
        }
        self.log.borrow_mut().push(Event::Osr {
            function: self.name(func),
            pc: frame.target,
            from: Tier::Interpreter.name(),
            to: Tier::Baseline.name(),
        });
        // exercise-begin: osr-enter enter the OSR entry with the frame's state, as a call from its depth
        // Local `n` at `state - 8n`, operand `j` at `state - 8(L + j)`.
        let state = FrameState::new(frame.locals, frame.operands);
        // SAFETY: the context is live; native code reaches the heap the interpreter
        // lends for the call through it.
        unsafe { (*ctx).runtime.heap = heap };
        // The frame keeps its place in the depth limit: a call from its depth.
        let frames_left = (MAX_FRAMES - frame.depth) as u64;
        self.clock.skip();
        self.clock.enter(func, Tier::Baseline);
        let word = (self.entry)(ctx, state.as_ptr(), address, frames_left);
        self.clock.leave();
        // SAFETY: the OSR code is done with the context.
        Some(unsafe { native_result(ctx, word) })
        // exercise-end
    }
}

impl Tiering<'_, '_> {
    /// The entry of `func`'s optimized variant entered at loop header `header`, and
    /// the locals it takes to be integers, once it is made.
    fn ready_variant(&self, func: FnId, header: usize) -> Option<(u64, u64)> {
        let state = self.state.borrow();
        match state.functions[func as usize].osr.get(&header) {
            Some(Ok(code)) => Some((code.entry, code.ints)),
            _ => None,
        }
    }

    /// The budget of a loop's counter once `func`'s optimized variant at its header
    /// is made: the interpreter's threshold, not the optimizer's. The optimizer's
    /// threshold is there to wait before paying for a compile; with the code made,
    /// whatever frame trips next (one running in the interpreter or in baseline code)
    /// moves straight into it. The frames that do are the ones a higher tier never
    /// reaches by a call: those that started before their function moved up (the
    /// older frames of a recursion, a few calls of a function with a long loop).
    /// At the optimizer's threshold, each waited up to 20,000 more back edges in
    /// its tier, an interpreter's among them (a merge sort's top-level merges spent
    /// 15% of the run's instructions there).
    fn ready_budget(&self, func: FnId) -> i64 {
        self.policy(func).loop_budget(Tier::Interpreter)
    }

    /// An interpreted frame whose loop is hot, its function's optimized variant at
    /// the loop's header made: the frame moves straight into it (the baseline tier
    /// has nothing to add), if its locals are integers where the variant takes them
    /// to be. `None`: it does not fit; it goes to baseline code instead.
    fn osr_into_optimized(
        &self,
        ctx: *mut Context,
        heap: &mut Heap,
        frame: &OsrFrame<'_>,
        address: u64,
        speculated: u64,
    ) -> Option<Result<Value, Unwind>> {
        let func = frame.func;
        let state = FrameState::new(frame.locals, frame.operands);
        // SAFETY: `state` is the frame's own state at its loop's header, in the OSR
        // layout (`FrameState::new`), and lives across the call.
        let ints = unsafe { int_locals(self.verified, func, frame.target, state.as_ptr()) };
        if ints & speculated != speculated {
            return None;
        }
        self.state.borrow_mut().functions[func as usize].record.osr += 1;
        self.log.borrow_mut().push(Event::Osr {
            function: self.name(func),
            pc: frame.target,
            from: Tier::Interpreter.name(),
            to: Tier::Optimized.name(),
        });
        // SAFETY: the context is live; native code reaches the heap the interpreter
        // lends for the call through it.
        unsafe { (*ctx).runtime.heap = heap };
        // An optimized OSR entry takes no frame from `FRAMES_LEFT` (it expects the
        // baseline frame it replaces to have taken one): the frame keeps its place in
        // the depth limit as a baseline OSR entry at its depth would have it.
        let frames_left = MAX_FRAMES.saturating_sub(frame.depth + 1) as u64;
        self.clock.skip();
        self.clock.enter(func, Tier::Optimized);
        let word = (self.entry)(ctx, state.as_ptr(), address, frames_left);
        self.clock.leave();
        // SAFETY: the OSR code is done with the context.
        Some(unsafe { native_result(ctx, word) })
    }
}

/// The loop directly around the one whose back edge (`loop` instruction) is at
/// `loop_pc` and jumps to `header`: its `loop` pc and header. Loops of Mini nest (a
/// `while` in a `while`): the one around spans the inner one's range.
fn enclosing_loop(code: &[Instr], loop_pc: usize, header: usize) -> Option<(usize, usize)> {
    code.iter()
        .enumerate()
        .skip(loop_pc + 1)
        .find_map(|(pc, i)| match *i {
            Instr::Loop(h) if (h as usize) <= header => Some((pc, h as usize)),
            _ => None,
        })
}

impl Tiering<'_, '_> {
    /// What [`TierHooks::hot_loop`] does, the tier clock aside: the address of the
    /// optimized OSR entry the baseline frame at `loop_pc` moves to, or 0.
    fn hot_loop_untimed(&self, func: FnId, loop_pc: usize, state: *const u64) -> u64 {
        self.collect();
        let Instr::Loop(header) = self.verified.program().functions[func as usize].code[loop_pc]
        else {
            return 0;
        };
        let header = header as usize;
        // The back-off (if any) is over here too: baseline code's trip asks below.
        self.state.borrow_mut().backed_off.remove(&(func, loop_pc));
        // SAFETY: baseline code passes its own frame, live, at this loop's header.
        let ints = unsafe { int_locals(self.verified, func, header, state) };
        let ready = {
            let state = self.state.borrow();
            state.functions[func as usize]
                .osr
                .get(&header)
                .map(|c| match c {
                    Ok(code) => Some((code.entry, code.ints)),
                    Err(()) => None,
                })
        };
        match ready {
            Some(Some((_, speculated))) if ints & speculated != speculated => {
                // The variant takes a local to be an integer that this frame's is not:
                // the frame stays in baseline code (another may fit).
                self.reset_loop(func, loop_pc, self.policy(func).loop_budget(Tier::Baseline));
                0
            }
            Some(Some((address, _))) => {
                // The frame moves up; other frames of the loop follow at the
                // interpreter's threshold (`ready_budget`).
                self.reset_loop(func, loop_pc, self.ready_budget(func));
                let whole = {
                    let mut state = self.state.borrow_mut();
                    let fs = &mut state.functions[func as usize];
                    fs.record.osr += 1;
                    fs.optimized_osrs += 1;
                    fs.optimized_osrs == WHOLE_AFTER_OSRS && fs.tier == Tier::Baseline
                };
                self.log.borrow_mut().push(Event::Osr {
                    function: self.name(func),
                    pc: header,
                    from: Tier::Baseline.name(),
                    to: Tier::Optimized.name(),
                });
                if whole {
                    // The next calls enter optimized code (this frame goes on in the
                    // variant).
                    self.reset_calls(func, POLL_BUDGET);
                    let count = self.loop_count(func, loop_pc);
                    self.request(Job {
                        func,
                        osr: None,
                        trigger: Trigger::Loop,
                        count,
                        ints: 0,
                    });
                }
                address
            }
            Some(None) => {
                self.reset_loop(func, loop_pc, NEVER);
                0
            }
            None if self.background && self.redirect_to_enclosing(func, loop_pc, header, ints) => 0,
            None if self.waits_for_enclosing(func, loop_pc, header) => {
                self.reset_loop(func, loop_pc, self.policy(func).loop_budget(Tier::Baseline));
                0
            }
            None => {
                let wait = self
                    .state
                    .borrow_mut()
                    .eager
                    .get_mut(&(func, loop_pc))
                    .map(|wait| {
                        *wait = (*wait * 2).min(POLL_BUDGET);
                        *wait
                    });
                let count = self.reset_loop(func, loop_pc, wait.unwrap_or(POLL_BUDGET));
                self.request(Job {
                    func,
                    osr: Some(header),
                    trigger: Trigger::Loop,
                    count,
                    ints,
                });
                // In sync mode the code is there now: this very back edge enters it.
                let now = self.state.borrow().functions[func as usize]
                    .osr
                    .get(&header)
                    .map(|c| c.is_ok());
                if now == Some(true) {
                    self.hot_loop_untimed(func, loop_pc, state)
                } else {
                    0
                }
            }
        }
    }
}

impl TierHooks for Tiering<'_, '_> {
    fn hot_call(&self, _ctx: *mut Context, func: FnId) {
        self.hot_call_any(func);
    }

    fn hot_loop(&self, _ctx: *mut Context, func: FnId, loop_pc: usize, state: *const u64) -> u64 {
        self.clock.charge();
        let address = self.hot_loop_untimed(func, loop_pc, state);
        self.clock.skip();
        if address != 0 {
            // The frame goes on in optimized code.
            self.clock.moved(func, Tier::Optimized);
        }
        address
    }

    // The trait's contract (stage 3's) makes `ctx` the live context of the run, not
    // borrowed elsewhere during the call: the signature is the trait's, not ours.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    fn call_interpreted(
        &self,
        ctx: *mut Context,
        func: FnId,
        args: &[Value],
        depth: usize,
    ) -> Result<Value, Unwind> {
        self.clock.enter(func, Tier::Interpreter);
        // SAFETY: the context is live and nothing else borrows it during the hook.
        let result = unsafe {
            with_interpreter(ctx, |interp, verified, heap, out| {
                let mut callout = TieredCallout { tiering: self, ctx };
                interp.call_function(
                    verified,
                    heap,
                    func,
                    args,
                    depth,
                    Some(Link::Tiered {
                        counters: self.counters,
                        installed: self.installed,
                        callout: &mut callout,
                    }),
                    out,
                )
            })
        };
        self.clock.leave();
        result
    }

    // As `call_interpreted`: the trait's contract makes `ctx` the live context.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    fn deoptimize(&self, ctx: *mut Context, deopt: &Deopt) -> Result<Value, Unwind> {
        let Some(func) = deopt.frames.first().map(|f| f.func) else {
            // SAFETY: the context is live; with no frame, the default says why.
            return unsafe { stage3::runtime::resume_interpreted(ctx, deopt) };
        };
        self.clock.charge();
        self.deoptimized(ctx, func, deopt);
        self.clock.skip();
        // The frames go on in the interpreter, tiered: their calls and loops count,
        // and reach compiled code, as any interpreted frame's do (OSR within bounds:
        // `may_osr`).
        let resumed = {
            let mut state = self.state.borrow_mut();
            let before = state.resumed.len();
            state
                .resumed
                .extend((0..deopt.frames.len()).map(|k| deopt.depth + k));
            before
        };
        self.clock.enter(func, Tier::Interpreter);
        // SAFETY: the context is live and nothing else borrows it during the hook.
        let result = unsafe {
            with_interpreter(ctx, |interp, verified, heap, out| {
                let mut callout = TieredCallout { tiering: self, ctx };
                resume_frames(&deopt.frames, deopt.depth, |entry| {
                    interp.enter(
                        verified,
                        heap,
                        entry,
                        Some(Link::Tiered {
                            counters: self.counters,
                            installed: self.installed,
                            callout: &mut callout,
                        }),
                        out,
                    )
                })
            })
        };
        self.clock.leave();
        self.state.borrow_mut().resumed.truncate(resumed);
        result
    }
}

/// The interpreter's side of a tiered run: its calls of installed functions go to
/// their table entries through the trampoline; its tripped counters go to the
/// tiering.
struct TieredCallout<'t, 'r, 'q> {
    tiering: &'t Tiering<'r, 'q>,
    ctx: *mut Context,
}

impl Callout for TieredCallout<'_, '_, '_> {
    fn call(
        &mut self,
        heap: &mut Heap,
        func: FnId,
        args: &[Value],
        depth: usize,
        _out: &mut dyn Write,
    ) -> Result<Value, Unwind> {
        let t = self.tiering;
        // The interpreter counted this call; baseline code counts its calls in its
        // prologue too: give the interpreter's back so each call counts once.
        let tier = t.state.borrow().functions[func as usize].tier;
        if tier == Tier::Baseline {
            let c = t.counters.call(func);
            c.set(c.get().saturating_add(1));
        }
        let code = t.table[func as usize].get().code;
        // SAFETY: the context is live; native code reaches the heap the interpreter
        // lends for the call through it.
        unsafe { (*self.ctx).runtime.heap = heap };
        t.clock.enter(func, tier);
        // SAFETY: as above; the heap is the interpreter's.
        let result = unsafe { call_native(self.ctx, t.entry, code, args, depth) };
        t.clock.leave();
        result
    }

    fn hot_call(&mut self, _heap: &mut Heap, func: FnId, _depth: usize, _out: &mut dyn Write) {
        self.tiering.hot_call_any(func);
    }

    fn hot_loop(
        &mut self,
        heap: &mut Heap,
        frame: OsrFrame<'_>,
        _out: &mut dyn Write,
    ) -> Option<Result<Value, Unwind>> {
        self.tiering.osr_from_interpreter(self.ctx, heap, &frame)
    }
}
