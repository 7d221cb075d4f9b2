//! The stage 7 engine: stage 5's tiered engine with an extension ([`Speculator`])
//! that is stage 6's [`Caches`] (every method of the object model, the baseline fast
//! paths and the site table delegated to it) plus what this stage adds: the bets the
//! optimizer may make ([`Extension::speculation`], a snapshot taken when a job is
//! queued), feedback recorded by baseline code, stress testing ([`Stress`]), and the
//! recompilation policy ([`DeoptPolicy`]) that each deopt consults.
//!
//! Stage 5 does the rest: a deopt's frames run in the interpreter, tiered; the code
//! that bet wrong is taken out of the function table (callers go back to baseline
//! code) and the function is queued again after the policy's wait.
//!
//! An extension that only changes the bets of the compiles (the dump's recorder of
//! them, a test's random bets) is a [`Wrapper`] of another, which [`Wrapped`] makes
//! an extension of without delegating each method by hand.
//!
//! The bets are [`crate::feedback::FeedbackSpeculation`]s, made from the feedback
//! that the interpreter and baseline code record, the caches and the bets the policy
//! dropped; stage 4's speculative pipeline (`stage4::tiered::compile_speculative`)
//! compiles them into guards, with a stress check at each when the run stresses.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use stage1::heap::Heap;
use stage1::interp::tiering::Counters;
use stage1::interp::ResumeFrame;
use stage1::objects::ObjectModel;
use stage1::value::Kind;
use stage1::{Engine, Event, FnId, RuntimeError, Stats, Value, Verified};
use stage3::codegen::objects::ObjectCode;
use stage3::{Deopt, FeedbackCode};
use stage4::deopt::Deoptimizer;
use stage4::objects::ObjectLowering;
use stage4::speculation::Speculation;
use stage5::extension::AfterDeopt;
use stage5::hooks::Job;
use stage5::queue::Finished;
use stage5::record::FunctionRecord;
use stage5::{Extension, Tier, Tiered};
use stage6::engine::{shape_model, Caches};
use stage6::model::ShapeModel;
use stage6::optimized::{function_index, OptimizedCode};

use crate::feedback::{bet_instruction, emit_feedback, FeedbackSpeculation, ProgramFacts};
use crate::policy::{Bet, DeoptPolicy, FunctionDeopts};
use crate::stress::{Countdown, Stress};

/// How a [`Speculating`] engine runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The tiering: thresholds, compile mode, `--trace-tiering`, heap limit (stage
    /// 5's options; their `extension` is replaced by this stage's [`Speculator`]).
    pub tiered: stage5::Options,
    /// Inline caches on (`false`: `--no-ic`, shapes without caches).
    pub caches: bool,
    /// The optimizer bets on the profile (`false`: `--no-speculation`, stage 6's
    /// engine with stage 4's code, which never deoptimizes).
    pub speculation: bool,
    /// Deopts forced at guards, to test them (`--stress-deopt`, `--deopt-every`).
    pub stress: Stress,
    /// Print each deopt on stderr as it happens, with the frames it rebuilt
    /// (`--trace-deopt`).
    pub trace_deopt: bool,
}

impl Default for Options {
    /// Stage 5's defaults, caches and speculation on, no stress, no tracing.
    fn default() -> Options {
        Options {
            tiered: stage5::Options::default(),
            caches: true,
            speculation: true,
            stress: Stress::Off,
            trace_deopt: false,
        }
    }
}

/// What one run of a [`Speculator`] learns: the policy's counts, the stress
/// countdown, the events not yet taken, and the names the events use.
struct RunState {
    policy: DeoptPolicy,
    countdown: Countdown,
    /// The stress countdown's first value (asked more than once per run).
    first: Option<i64>,
    events: Vec<Event>,
    /// Each function's name and source lines, by index.
    functions: Vec<(String, Vec<u32>)>,
    /// The caches as the last queued job's snapshot saw them (`Extension::optimizer`
    /// is asked just before `Extension::speculation`), for the cache bets.
    caches: Option<OptimizedCode>,
    /// What the bets read of the program's code, made once for the run's compiles
    /// (`None` before a run).
    facts: Option<Arc<ProgramFacts>>,
}

impl RunState {
    fn new(verified: Option<&Verified>, base: i64, stress: Stress) -> RunState {
        let functions: Vec<(String, Vec<u32>)> = verified.map_or_else(Vec::new, |v| {
            v.program()
                .functions
                .iter()
                .map(|f| (f.name.clone(), f.lines.clone()))
                .collect()
        });
        let mut countdown = Countdown::new(stress);
        RunState {
            policy: DeoptPolicy::new(functions.len(), base),
            first: countdown.draw(),
            countdown,
            events: Vec::new(),
            functions,
            caches: None,
            facts: verified.map(|v| Arc::new(ProgramFacts::of(v))),
        }
    }

    fn name(&self, func: FnId) -> &str {
        self.functions
            .get(func as usize)
            .map_or("?", |(name, _)| name.as_str())
    }

    /// How `Event::Recompiled` names a dropped bet: `branch at line 4`, and the
    /// function when it is another than the one compiled (`..., in g`).
    fn bet_name(&self, compiled: FnId, bet: &Bet) -> String {
        let line = self
            .functions
            .get(bet.func as usize)
            .and_then(|(_, lines)| lines.get(bet.pc.min(lines.len().saturating_sub(1))))
            .copied()
            .unwrap_or(0);
        if bet.func == compiled {
            format!("{} at line {line}", bet.reason)
        } else {
            format!("{} at line {line} of {}", bet.reason, self.name(bet.func))
        }
    }
}

/// Stage 7's extension of the tiered engine: stage 6's caches, and speculation with
/// its deopt policy. One run at a time (its state is reset when a run asks for its
/// object model).
pub struct Speculator {
    caches: Caches,
    speculation: bool,
    stress: Stress,
    trace_deopt: bool,
    /// Calls a function waits before its first recompile: the baseline tier's
    /// optimizing threshold.
    base: i64,
    run: Mutex<RunState>,
}

impl std::fmt::Debug for Speculator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speculator")
            .field("caches", &self.caches)
            .field("speculation", &self.speculation)
            .field("stress", &self.stress)
            .field("trace_deopt", &self.trace_deopt)
            .field("base", &self.base)
            .finish()
    }
}

impl Speculator {
    /// The extension of a run with `options`.
    pub fn new(options: &Options) -> Speculator {
        let base = options.tiered.policy.call_budget(Tier::Baseline);
        Speculator {
            caches: Caches {
                caches: options.caches,
            },
            speculation: options.speculation,
            stress: options.stress,
            trace_deopt: options.trace_deopt,
            base,
            run: Mutex::new(RunState::new(None, base, options.stress)),
        }
    }

    fn state(&self) -> MutexGuard<'_, RunState> {
        self.run.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The caches a speculating compile of `func` reads, now: those of the sites of
    /// `func` and of every function it may inline ([`ProgramFacts::inlinable_from`];
    /// every site of the program before a run has started). Not every site of the
    /// program at every compile: a program of thousands of functions would make each
    /// compile cost as much as the program is long.
    pub fn caches_for(&self, heap: &mut Heap, func: FnId) -> Option<OptimizedCode> {
        let facts = self.state().facts.clone();
        let funcs = facts
            .zip(heap.model().as_any().downcast_ref::<ShapeModel>())
            .map(|(facts, model)| {
                let targets = |site| {
                    let words = model.call_ic(site).targets;
                    words.iter().filter_map(|&w| function_index(w)).collect()
                };
                facts.inlinable_from(func, model.sites(), targets)
            });
        OptimizedCode::of_heap_sites(heap, funcs.as_deref())
    }

    /// What the last run learned of each function's deopts, by function index.
    pub fn deopts(&self) -> Vec<FunctionDeopts> {
        self.state().policy.functions().to_vec()
    }

    /// The deopt table of `--stats`: per function that deoptimized, its deopts by
    /// reason, its recompiles (and the refills after soft deopts, in parentheses),
    /// and whether it still bets.
    pub fn deopt_table(&self) -> String {
        let state = self.state();
        let mut rows: Vec<[String; 5]> = vec![[
            "function".into(),
            "deopts".into(),
            "reasons".into(),
            "recompiles".into(),
            "speculating".into(),
        ]];
        for (i, f) in state.policy.functions().iter().enumerate() {
            if f.total() == 0 && f.recompiles + f.refills == 0 {
                continue;
            }
            let reasons: Vec<String> = f
                .deopts
                .iter()
                .map(|(reason, n)| format!("{reason} {n}"))
                .collect();
            rows.push([
                state.name(i as FnId).to_string(),
                jitlab_cli::stats::grouped(f.total()),
                reasons.join(", "),
                match f.refills {
                    0 => f.recompiles.to_string(),
                    soft => format!("{} (+{soft} soft)", f.recompiles),
                },
                if f.speculating { "yes" } else { "no" }.into(),
            ]);
        }
        if rows.len() == 1 {
            return "deopts: none\n".into();
        }
        let widths: Vec<usize> = (0..5)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::from("deopts:\n");
        for row in &rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                // Names and reasons to the left, numbers to the right.
                if c == 0 || c == 2 || c == 4 {
                    let _ = write!(line, "  {cell:<w$}", w = widths[c]);
                } else {
                    let _ = write!(line, "  {cell:>w$}", w = widths[c]);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A value as `--trace-deopt` shows it: integers in decimal, heap values by kind.
fn show(value: Value, state: &RunState) -> String {
    match value.kind() {
        Kind::Int => value.as_int().to_string(),
        Kind::Array => "<array>".into(),
        Kind::Object => "<object>".into(),
        Kind::Function => format!(
            "<fn {}>",
            value.to_function().map_or("?", |f| state.name(f))
        ),
    }
}

/// `--trace-deopt`'s lines for one deopt: the event, then each frame rebuilt
/// (outermost first) with its pc, line, locals and operands.
fn trace_lines(event: &Event, deopt: &Deopt, state: &RunState) -> String {
    let mut out = format!(
        "deopt: {} (guard {})\n",
        stage1::cli::event_line(event),
        deopt.guard
    );
    for (
        k,
        ResumeFrame {
            func,
            pc,
            locals,
            operands,
        },
    ) in deopt.frames.iter().enumerate()
    {
        let line = state
            .functions
            .get(*func as usize)
            .and_then(|(_, lines)| lines.get(*pc))
            .copied()
            .unwrap_or(0);
        let values = |vs: &[Value]| vs.iter().map(|&v| show(v, state)).collect::<Vec<_>>();
        let _ = writeln!(
            out,
            "  frame {k}: {} at pc {pc} (line {line}){}: locals [{}], operands [{}]",
            state.name(*func),
            if k + 1 < deopt.frames.len() {
                ", in the inlined call"
            } else {
                ""
            },
            values(locals).join(", "),
            values(operands).join(", "),
        );
    }
    out
}

impl Extension for Speculator {
    fn object_model(&self, verified: &Verified) -> Box<dyn ObjectModel> {
        // A run starts: what the last one learned goes.
        *self.state() = RunState::new(Some(verified), self.base, self.stress);
        self.caches.object_model(verified)
    }

    fn baseline<'h>(&self, heap: &'h mut Heap) -> Option<Box<dyn ObjectCode + 'h>> {
        self.caches.baseline(heap)
    }

    fn optimizer(&self, heap: &mut Heap, func: FnId) -> Option<Box<dyn ObjectLowering>> {
        if !self.speculation {
            return self.caches.optimizer(heap, func);
        }
        // The optimizer inlines callees and compiles their sites too: the caches of
        // every function it may inline go with the job.
        let code = self.caches_for(heap, func);
        self.state().caches = code.clone();
        Some(Box::new(code?))
    }

    fn tables(&self, heap: &Heap, verified: &Verified) -> Vec<String> {
        let mut tables = self.caches.tables(heap, verified);
        tables.push(self.deopt_table());
        tables
    }

    fn deoptimizer(&self) -> Option<&'static dyn Deoptimizer> {
        self.speculation
            .then_some(&crate::deopt::DEOPTIMIZER as &'static dyn Deoptimizer)
    }

    fn speculation(
        &self,
        verified: &Verified,
        counters: &Counters,
        job: &Job,
    ) -> Option<Box<dyn Speculation>> {
        let func = job.func;
        if !self.speculation {
            return None;
        }
        let mut state = self.state();
        if let Some(r) = state.policy.compiling(func) {
            let dropped = r.dropped.iter().map(|b| state.bet_name(func, b)).collect();
            let event = Event::Recompiled {
                function: state.name(func).to_string(),
                count: r.count,
                dropped,
                speculating: r.speculating,
            };
            state.events.push(event);
        }
        if !state.policy.speculating(func) {
            // Given up: stage 4's code, which never deoptimizes.
            return None;
        }
        // The profile as it is now, the caches as `optimizer` just saw them, and
        // every bet dropped so far.
        let dropped = state.policy.dropped().iter().map(bet_instruction);
        let facts = state
            .facts
            .clone()
            .unwrap_or_else(|| Arc::new(ProgramFacts::of(verified)));
        let bets = FeedbackSpeculation::with_facts(
            verified,
            facts,
            counters.feedback().snapshot(),
            state.caches.as_ref(),
            dropped,
        );
        Some(Box::new(match job.osr {
            Some(header) => bets.entered_at(verified, func, header),
            None => bets,
        }))
    }

    fn baseline_feedback(&self) -> Option<FeedbackCode> {
        self.speculation.then_some(emit_feedback as FeedbackCode)
    }

    fn stress(&self) -> Option<i64> {
        if !self.speculation {
            return None;
        }
        self.state().first
    }

    fn deoptimized(&self, func: FnId, deopt: &Deopt) -> AfterDeopt {
        let mut state = self.state();
        let Some(inner) = deopt.frames.last() else {
            return AfterDeopt::default();
        };
        let bet = Bet {
            func: inner.func,
            pc: inner.pc,
            reason: deopt.reason,
        };
        let wait = state.policy.deopt(func, bet);
        let event = Event::Deopt {
            function: state.name(func).to_string(),
            guard_function: state.name(inner.func).to_string(),
            pc: inner.pc,
            reason: deopt.reason,
            inlined_depth: deopt.frames.len() - 1,
            frames: deopt.frames.len(),
        };
        if self.trace_deopt {
            let lines = trace_lines(&event, deopt, &state);
            let _ = std::io::stderr().write_all(lines.as_bytes());
        }
        state.events.push(event);
        AfterDeopt {
            invalidate: Some(wait),
            countdown: state.countdown.draw(),
        }
    }

    fn take_events(&self) -> Vec<Event> {
        std::mem::take(&mut self.state().events)
    }
}

/// An extension that mostly is another one ([`Wrapper::inner`]): a wrapper gives
/// the bets of each optimizing compile and may do differently what else concerns
/// those compiles (their cache snapshot, the deoptimizer, the events), and
/// [`Wrapped`] asks the inner extension for everything else. `dump --ir` wraps the
/// [`Speculator`] to write down each compile of a run and its bets; a test of this
/// crate wraps stage 6's caches to bet at random.
pub trait Wrapper: Send + Sync {
    /// The extension that does what the wrapper does not.
    fn inner(&self) -> &dyn Extension;

    /// [`Extension::speculation`]: the bets of a compile (the inner extension's,
    /// perhaps, written down).
    fn speculation(
        &self,
        verified: &Verified,
        counters: &Counters,
        job: &Job,
    ) -> Option<Box<dyn Speculation>>;

    /// [`Extension::optimizer`]; by default the inner extension's.
    fn optimizer(&self, heap: &mut Heap, func: FnId) -> Option<Box<dyn ObjectLowering>> {
        self.inner().optimizer(heap, func)
    }

    /// [`Extension::deoptimizer`]; by default the inner extension's.
    fn deoptimizer(&self) -> Option<&'static dyn Deoptimizer> {
        self.inner().deoptimizer()
    }

    /// [`Extension::take_events`]; by default the inner extension's.
    fn take_events(&self) -> Vec<Event> {
        self.inner().take_events()
    }
}

/// A [`Wrapper`] as the tiered engine's extension: each method is the wrapper's
/// where the wrapper has it, else the inner extension's.
#[derive(Debug)]
pub struct Wrapped<W>(pub W);

impl<W: Wrapper> Extension for Wrapped<W> {
    fn object_model(&self, verified: &Verified) -> Box<dyn ObjectModel> {
        self.0.inner().object_model(verified)
    }

    fn baseline<'h>(&self, heap: &'h mut Heap) -> Option<Box<dyn ObjectCode + 'h>> {
        self.0.inner().baseline(heap)
    }

    fn optimizer(&self, heap: &mut Heap, func: FnId) -> Option<Box<dyn ObjectLowering>> {
        self.0.optimizer(heap, func)
    }

    fn tables(&self, heap: &Heap, verified: &Verified) -> Vec<String> {
        self.0.inner().tables(heap, verified)
    }

    fn speculation(
        &self,
        verified: &Verified,
        counters: &Counters,
        job: &Job,
    ) -> Option<Box<dyn Speculation>> {
        self.0.speculation(verified, counters, job)
    }

    fn deoptimizer(&self) -> Option<&'static dyn Deoptimizer> {
        self.0.deoptimizer()
    }

    fn baseline_feedback(&self) -> Option<FeedbackCode> {
        self.0.inner().baseline_feedback()
    }

    fn stress(&self) -> Option<i64> {
        self.0.inner().stress()
    }

    fn deoptimized(&self, func: FnId, deopt: &Deopt) -> AfterDeopt {
        self.0.inner().deoptimized(func, deopt)
    }

    fn take_events(&self) -> Vec<Event> {
        self.0.take_events()
    }
}

/// The stage 7 engine: stage 6's tiers and caches, with speculation and
/// deoptimization.
#[derive(Debug)]
pub struct Speculating {
    tiered: Tiered,
    extension: Arc<Speculator>,
}

impl Default for Speculating {
    fn default() -> Speculating {
        Speculating::new()
    }
}

impl Speculating {
    /// An engine with the default [`Options`]: stage 5's thresholds, caches and
    /// speculation on.
    pub fn new() -> Speculating {
        Speculating::with_options(Options::default())
    }

    /// An engine with the given options.
    pub fn with_options(options: Options) -> Speculating {
        let extension = Arc::new(Speculator::new(&options));
        let shared: Arc<dyn Extension> = extension.clone();
        Speculating {
            tiered: Tiered::with_options(stage5::Options {
                extension: Some(shared),
                ..options.tiered
            }),
            extension,
        }
    }

    /// Per function of the last run: its tier, calls, back edges, compile times
    /// (the tier table).
    pub fn functions(&self) -> &[FunctionRecord] {
        self.tiered.functions()
    }

    /// The tables of `--stats` of the last run after the tier table: each site's
    /// cache (with caches on), then the deopt table.
    pub fn tables(&self) -> &[String] {
        self.tiered.tables()
    }

    /// What the last run learned of each function's deopts, by function index (the
    /// names are [`Speculating::functions`]'s).
    pub fn deopts(&self) -> Vec<FunctionDeopts> {
        self.extension.deopts()
    }

    /// The shapes and caches of the last run (`None` before the first run, or when
    /// the run could not start its tiers).
    pub fn model(&self) -> Option<&ShapeModel> {
        shape_model(self.tiered.heap())
    }

    /// What became of the optimizing compilations still queued when the last run
    /// ended.
    pub fn unfinished(&self) -> Finished {
        self.tiered.unfinished()
    }
}

impl Engine for Speculating {
    fn name(&self) -> &'static str {
        "speculating JIT"
    }

    fn run(&mut self, verified: &Verified, out: &mut dyn Write) -> Result<String, RuntimeError> {
        self.tiered.run(verified, out)
    }

    fn stats(&self) -> &Stats {
        self.tiered.stats()
    }
}
