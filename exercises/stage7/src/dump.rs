//! `jitlab dump --ir --stage 7 FILE` (and `cargo run -p stage7 -- dump --ir FILE`):
//! the speculative IR the optimizer made during a run, guards and frame states
//! included; `dump --asm --stage 7`: the machine code of the same compiles, each with
//! its deopt table decoded (where each frame-state value is after register
//! allocation: [`asm_listing`]).
//!
//! What the optimizer bets on comes from the profile, so there is nothing to show
//! before the program has run: the dump runs it first with this stage's engine (its
//! output dropped; default thresholds, compiling on the spot so that the same
//! program gives the same dump), and records each optimizing compile the run asked
//! for — the function, its entry (whole function or an OSR variant's loop header),
//! and every question the builder asked of the bets with the answer it got. Then it
//! builds each compile again from those answers (a replay: the builder asks the same
//! questions in the same order) and prints its IR in stage 4's text form, which
//! parses back (`stage4::ir::text::parse_all`):
//!
//! ```text
//! ; compile 1 of weigh: the whole function, after 5000 calls
//! function weigh f1 {
//! ...
//!     v7 = array_get v0, v3  @8
//!     v8 = guard int v7 [f1@9: v0, v1, v2, v3, v4 | v7]  @8
//! ...
//! ```
//!
//! A guard's state lists each frame it rebuilds, the compiled function's first and
//! one more per inlined call (`[f0@4: v0 | > f2@2: v0 | v0]`: pc, locals, then
//! operands), and the calls inlined are listed before the first block
//! (`frame 1: f2 called at @4`). With `--passes`, each compile is printed as built
//! and after every pass, the late `speculate` last. With `--osr [FUNCTION:]PC`, only
//! the compiles of that function that the run entered by OSR at that loop header
//! ([`osr_ir_listing`]); none is an error that names the OSR compiles the run made.
//!
//! Stage 5's dump (`stage5::dump`) is the same without bets: the lines that head the
//! dump and each compile, which compiles `--osr` shows and its refusal are its own,
//! shared here; what this one adds is the record and replay of the bets and the
//! decoded deopt tables.

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use stage1::heap::Heap;
use stage1::interp::tiering::Counters;
use stage1::value::INT_TAG_MASK;
use stage1::{Engine, Event, FnId, Verified};
use stage2::{Annotate, Assembler};
use stage4::deopt::{Deoptimizer, GuardRecord, Location};
use stage4::ir::Pc;
use stage4::objects::{ObjectLowering, Objects};
use stage4::passes::compile_text;
use stage4::regalloc::ALLOCATABLE;
use stage4::speculation::{NoSpeculation, Speculation};
use stage4::tiered::{Alone, Calls};
use stage5::dump::{compile_header, osr_only, run_line, Shown};
use stage5::hooks::Job;
use stage5::{Extension, Tiered};
use stage6::optimized::OptimizedCode;

use crate::deopt::DEOPTIMIZER;
use crate::engine::{Speculator, Wrapped, Wrapper};
use crate::frame_state::DeoptTable;
use crate::Options;

/// A question the speculative builder asks ([`Speculation`]'s methods and their
/// arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Question {
    IntResult(FnId, Pc),
    NoOverflow(FnId, Pc),
    Branch(FnId, Pc),
    FieldHit(FnId, Pc),
    CallTarget(FnId, Pc),
    Inline(FnId, Pc, FnId, u32),
    EntryArrays(FnId, Pc),
}

/// The answer it got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Yes(bool),
    Branch(Option<bool>),
    Target(Option<FnId>),
}

/// The questions of one compile with their answers, in the order asked.
type Log = Arc<Mutex<Vec<(Question, Answer)>>>;

/// The run's bets, passed on and written down: what the compile of a job gets in
/// place of the engine's own snapshot.
struct Recording {
    bets: Box<dyn Speculation>,
    log: Log,
}

impl Recording {
    fn note(&self, question: Question, answer: Answer) {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.push((question, answer));
    }
}

impl Speculation for Recording {
    fn int_result(&self, func: FnId, pc: Pc) -> bool {
        let yes = self.bets.int_result(func, pc);
        self.note(Question::IntResult(func, pc), Answer::Yes(yes));
        yes
    }

    fn no_overflow(&self, func: FnId, pc: Pc) -> bool {
        let yes = self.bets.no_overflow(func, pc);
        self.note(Question::NoOverflow(func, pc), Answer::Yes(yes));
        yes
    }

    fn branch(&self, func: FnId, pc: Pc) -> Option<bool> {
        let way = self.bets.branch(func, pc);
        self.note(Question::Branch(func, pc), Answer::Branch(way));
        way
    }

    fn field_hit(&self, func: FnId, pc: Pc) -> bool {
        let yes = self.bets.field_hit(func, pc);
        self.note(Question::FieldHit(func, pc), Answer::Yes(yes));
        yes
    }

    fn call_target(&self, func: FnId, pc: Pc) -> Option<FnId> {
        let target = self.bets.call_target(func, pc);
        self.note(Question::CallTarget(func, pc), Answer::Target(target));
        target
    }

    fn inline(&self, func: FnId, pc: Pc, callee: FnId, depth: u32) -> bool {
        let yes = self.bets.inline(func, pc, callee, depth);
        self.note(Question::Inline(func, pc, callee, depth), Answer::Yes(yes));
        yes
    }

    fn entry_arrays(&self, func: FnId, header: Pc) -> bool {
        let yes = self.bets.entry_arrays(func, header);
        self.note(Question::EntryArrays(func, header), Answer::Yes(yes));
        yes
    }
}

/// The answers of a [`Recording`] given again, in order. A question that is not the
/// next one recorded (which a deterministic builder never asks) gets no bet, and
/// the replay says it [`Replay::diverged`].
struct Replay {
    log: Vec<(Question, Answer)>,
    next: AtomicUsize,
    diverged: AtomicBool,
}

impl Replay {
    fn new(log: Vec<(Question, Answer)>) -> Replay {
        Replay {
            log,
            next: AtomicUsize::new(0),
            diverged: AtomicBool::new(false),
        }
    }

    /// The recorded answer to `question`, if it is the next one asked.
    fn answer(&self, question: Question) -> Option<Answer> {
        let at = self.next.fetch_add(1, Ordering::Relaxed);
        match self.log.get(at) {
            Some(&(asked, answer)) if asked == question => Some(answer),
            _ => {
                self.diverged.store(true, Ordering::Relaxed);
                None
            }
        }
    }

    /// Whether the build asked other questions than the run's compile did.
    fn diverged(&self) -> bool {
        self.diverged.load(Ordering::Relaxed) || self.next.load(Ordering::Relaxed) != self.log.len()
    }

    fn yes(&self, question: Question) -> bool {
        matches!(self.answer(question), Some(Answer::Yes(true)))
    }
}

impl Speculation for Replay {
    fn int_result(&self, func: FnId, pc: Pc) -> bool {
        self.yes(Question::IntResult(func, pc))
    }

    fn no_overflow(&self, func: FnId, pc: Pc) -> bool {
        self.yes(Question::NoOverflow(func, pc))
    }

    fn branch(&self, func: FnId, pc: Pc) -> Option<bool> {
        match self.answer(Question::Branch(func, pc)) {
            Some(Answer::Branch(way)) => way,
            _ => None,
        }
    }

    fn field_hit(&self, func: FnId, pc: Pc) -> bool {
        self.yes(Question::FieldHit(func, pc))
    }

    fn call_target(&self, func: FnId, pc: Pc) -> Option<FnId> {
        match self.answer(Question::CallTarget(func, pc)) {
            Some(Answer::Target(target)) => target,
            _ => None,
        }
    }

    fn inline(&self, func: FnId, pc: Pc, callee: FnId, depth: u32) -> bool {
        self.yes(Question::Inline(func, pc, callee, depth))
    }

    fn entry_arrays(&self, func: FnId, header: Pc) -> bool {
        self.yes(Question::EntryArrays(func, header))
    }
}

/// One optimizing compile the run asked for.
struct Compile {
    job: Job,
    /// It had stage 6's caches to lower object instructions with (a callee with
    /// object instructions then stays a call in stage 4's inlining).
    lowered: bool,
    /// The bets' questions and answers; `None`: it made no bets (the function
    /// deoptimized too often, or the run does not speculate).
    bets: Option<Log>,
    /// The caches as the compile saw them (stage 6's snapshot of the sites of every
    /// function the compile may inline), for the fast paths of `dump --asm`.
    objects: Option<OptimizedCode>,
    /// The address of the heap's bump pointer, which inline allocation reads.
    bump: u64,
    /// What its `Event::Recompiled` said, for a compile after deopts: the bets
    /// dropped (`branch at line 4`), or that it bets as before.
    recompiled: Option<String>,
}

/// Stage 7's extension ([`Speculator`]) with every optimizing compile of the run
/// written down: as the engine's extension ([`Wrapped`]) each method is the
/// speculator's, and `speculation` also keeps the job and a [`Recording`] of its
/// bets.
struct Recorder {
    speculator: Speculator,
    /// Whether the last `optimizer` call gave the compile an object lowering
    /// (`speculation` is asked just after it, for the same job).
    lowered: AtomicBool,
    /// A copy of the snapshot the last `optimizer` call made.
    objects: Mutex<Option<OptimizedCode>>,
    /// The heap's bump pointer's address, as `optimizer` last saw it.
    bump: AtomicU64,
    compiles: Mutex<Vec<Compile>>,
}

impl Wrapper for Recorder {
    fn inner(&self) -> &dyn Extension {
        &self.speculator
    }

    fn optimizer(&self, heap: &mut Heap, func: FnId) -> Option<Box<dyn ObjectLowering>> {
        let lowering = self.speculator.optimizer(heap, func);
        self.lowered.store(lowering.is_some(), Ordering::Relaxed);
        // The speculator's snapshot goes with the job: the same again, for the dump
        // (the sites of every function the compile may inline, as the speculator
        // takes it).
        let copy = lowering
            .as_ref()
            .and_then(|_| self.speculator.caches_for(heap, func));
        self.bump.store(heap.bump() as u64, Ordering::Relaxed);
        *self.objects.lock().unwrap_or_else(PoisonError::into_inner) = copy;
        lowering
    }

    fn speculation(
        &self,
        verified: &Verified,
        counters: &Counters,
        job: &Job,
    ) -> Option<Box<dyn Speculation>> {
        let bets = self.speculator.speculation(verified, counters, job);
        let log = bets.as_ref().map(|_| Log::default());
        let mut compiles = self.compiles.lock().unwrap_or_else(PoisonError::into_inner);
        compiles.push(Compile {
            job: *job,
            lowered: self.lowered.load(Ordering::Relaxed),
            objects: self
                .objects
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
            bump: self.bump.load(Ordering::Relaxed),
            bets: log.clone(),
            recompiled: None,
        });
        Some(Box::new(Recording {
            bets: bets?,
            log: log?,
        }))
    }

    fn take_events(&self) -> Vec<Event> {
        let events = self.speculator.take_events();
        // The engine takes the events just after it asked for a job's bets: a
        // `Recompiled` among them is that compile's.
        let mut compiles = self.compiles.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(last) = compiles.last_mut() {
            for event in &events {
                if let Event::Recompiled {
                    dropped,
                    speculating: true,
                    ..
                } = event
                {
                    last.recompiled = Some(if dropped.is_empty() {
                        "with the same bets".to_string()
                    } else {
                        format!("dropping the bets on the {}", dropped.join(", "))
                    });
                }
            }
        }
        events
    }
}

/// Runs `verified` with this stage's engine (output dropped, on-the-spot compiles)
/// and returns the dump's first line, then for each optimizing compile of the run
/// that `shown` takes its header line and what `show` writes of it, given the
/// compile's name (`compile 2 of f`, numbered among all the function's compiles) and
/// its bets (a replay of the run's, or none); and the jobs of all the run's compiles.
fn each_compile(
    verified: &Verified,
    shown: Shown,
    mut show: impl FnMut(&mut String, &str, &Compile, &dyn Speculation),
) -> (String, Vec<Job>) {
    let mut options = Options::default();
    // Compiles on the spot, at exactly the thresholds: the same dump every time.
    options.tiered.sync_compile = true;
    let recorder = Arc::new(Wrapped(Recorder {
        speculator: Speculator::new(&options),
        lowered: AtomicBool::new(false),
        objects: Mutex::new(None),
        bump: AtomicU64::new(0),
        compiles: Mutex::new(Vec::new()),
    }));
    let extension: Arc<dyn Extension> = recorder.clone();
    let mut engine = Tiered::with_options(stage5::Options {
        extension: Some(extension),
        ..options.tiered
    });
    let ended = engine.run(verified, &mut std::io::sink());
    let program = verified.program();
    let name = |func: FnId| program.functions[func as usize].name.as_str();
    let compiles = std::mem::take(
        &mut *recorder
            .0
            .compiles
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    let deopts = engine
        .stats()
        .events
        .iter()
        .filter(|e| matches!(e, Event::Deopt { .. }))
        .count();
    let mut out = format!(
        "{}, {deopts} deopt{}\n",
        run_line(7, &ended, compiles.len()),
        if deopts == 1 { "" } else { "s" },
    );
    out.push_str(&shown.line(verified));
    let mut count = vec![0u32; program.functions.len()];
    for compile in &compiles {
        let job = compile.job;
        count[job.func as usize] += 1;
        if !shown.shows(&job) {
            continue;
        }
        let what = format!("compile {} of {}", count[job.func as usize], name(job.func));
        let bets = match (&compile.bets, &compile.recompiled) {
            (Some(_), None) => String::new(),
            (Some(_), Some(how)) => format!(", recompiled after deopts {how}"),
            (None, _) => ", without bets".to_string(),
        };
        out.push_str(&format!("{}{bets}\n", compile_header(&what, &job)));
        let replay = Replay::new(compile.bets.as_ref().map_or_else(Vec::new, |log| {
            log.lock().unwrap_or_else(PoisonError::into_inner).clone()
        }));
        let spec: &dyn Speculation = match compile.bets {
            Some(_) => &replay,
            None => &NoSpeculation,
        };
        show(&mut out, &what, compile, spec);
        if compile.bets.is_some() && replay.diverged() {
            out.push_str(&format!(
                "; {what}: the builder asked other bets than in the run: this is not the \
                 run's code\n"
            ));
        }
    }
    // The heap the compiles' object fast paths point into lived until now.
    drop(engine);
    (out, compiles.iter().map(|c| c.job).collect())
}

/// Writes the IR of `compile` (named `what`, with the bets `spec`) to `out`: as
/// [`ir_listing`] shows each compile.
fn compile_ir(
    out: &mut String,
    verified: &Verified,
    passes: bool,
    what: &str,
    compile: &Compile,
    spec: &dyn Speculation,
) {
    let job = compile.job;
    out.push_str(&compile_text(what, passes, |observer| {
        stage4::tiered::speculative_ir_observed(
            verified,
            job.func,
            job.osr,
            job.ints,
            compile.lowered,
            spec,
            &DEOPTIMIZER,
            observer,
        )
    }));
}

/// What `dump --ir --stage 7` prints of `verified`: its run (output dropped), then
/// each optimizing compile of it, in the order the run asked for them (see the
/// module's documentation); with `passes`, each as built and after every pass.
pub fn ir_listing(verified: &Verified, passes: bool) -> String {
    ir_of(verified, Shown::All, passes).0
}

/// [`each_compile`] showing the IR of each compile `shown` takes.
fn ir_of(verified: &Verified, shown: Shown, passes: bool) -> (String, Vec<Job>) {
    each_compile(verified, shown, |out, what, compile, spec| {
        compile_ir(out, verified, passes, what, compile, spec)
    })
}

/// What `dump --ir --osr [FUNCTION:]PC --stage 7` prints of `verified`: its run
/// (output dropped), then [`ir_listing`]'s text of each speculative compile of `func`
/// that the run entered by OSR at the loop header `pc`. An error when `pc` is no
/// loop header of `func`, or when the run made no such compile (the loop never got
/// hot enough, or the whole function was optimized first): it names the OSR
/// compiles the run made.
pub fn osr_ir_listing(
    verified: &Verified,
    func: FnId,
    pc: usize,
    passes: bool,
) -> Result<String, String> {
    osr_only(verified, func, pc, |shown| ir_of(verified, shown, passes))
}

/// What `dump --asm --stage 7` prints of `verified`: its run (output dropped), then
/// the machine code of each optimizing compile of it (stage 4's listing: each
/// instruction of the IR with its x86-64, the guards' deopt stubs and the common
/// deopt exit last), and its deopt table decoded: for each guard, by the number its
/// stub passes, why it fails and, for each frame it rebuilds, where each local and
/// operand is when it fails — a register, a slot of the frame, or a constant.
/// The addresses the code loads are named (the runtime helpers, `rt_deopt`, the
/// deopt table, the heap's bump pointer), so the listing of a program is the same on
/// every run.
pub fn asm_listing(verified: &Verified) -> String {
    each_compile(
        verified,
        Shown::All,
        |out, what, compile, spec| match compile_listing(verified, compile, spec) {
            Ok(text) => out.push_str(&text),
            Err(why) => out.push_str(&format!("; {what}: not compiled: {why}\n")),
        },
    )
    .0
}

/// The listing of one compile of [`asm_listing`].
fn compile_listing(
    verified: &Verified,
    compile: &Compile,
    spec: &dyn Speculation,
) -> Result<String, String> {
    let job = compile.job;
    let program = verified.program();
    let prepared = stage4::tiered::prepare_speculative(
        verified,
        job.func,
        job.osr,
        job.ints,
        compile.lowered,
        spec,
        &DEOPTIMIZER,
    )?;
    let lowering = compile.objects.as_ref().map(|o| o as &dyn ObjectLowering);
    let objects = lowering.map(|lowering| Objects { lowering, program });
    let mut asm = Assembler::new();
    let label = asm.new_label();
    // As the run compiles it: calls through the compiled-entry table.
    let entry = Alone {
        osr: job.osr,
        calls: Calls::Compiled,
    }
    .entry(label, verified);
    let generated = stage4::codegen::generate_speculative(
        &mut asm,
        &prepared.ir,
        &prepared.alloc,
        entry,
        objects,
        &DEOPTIMIZER,
        false,
    );
    let code = asm
        .finish()
        .map_err(|e| format!("cannot load the code: {e}"))?;
    let names = Names {
        table: generated
            .deopt
            .as_ref()
            .map(|t| &**t as *const (dyn Any + Send) as *const u8 as u64),
        runtime: DEOPTIMIZER.runtime() as *const () as u64,
        tiered: stage5::dump::Names::of(
            compile.bump,
            compile.objects.as_ref().map(|o| o as &dyn ObjectLowering),
        ),
    };
    let mut out = stage4::listing::function_listing(
        &program.functions[job.func as usize],
        &prepared,
        &generated,
        code.bytes(),
        &names,
    );
    let table = generated
        .deopt
        .as_ref()
        .and_then(|t| t.downcast_ref::<DeoptTable>());
    if let Some(table) = table {
        out.push_str(&format!(
            "  deopt table: {} guard{}, {} bytes\n",
            table.len(),
            if table.len() == 1 { "" } else { "s" },
            table.encoded_bytes()
        ));
        for number in 0..table.len() as u32 {
            out.push_str(&guard_text(verified, number, &table.guard(number)));
        }
    }
    Ok(out)
}

/// What `dump --asm --stage 7` calls the addresses speculative code loads: the
/// deopt table and the deopt runtime (`rt_deopt`), and those of any tiered run's
/// code (the runtime helpers, the heap's bump pointer), so that a listing is the
/// same on every run.
struct Names {
    /// The address of the compile's deopt table, when it has one.
    table: Option<u64>,
    /// The deopt exit's runtime function.
    runtime: u64,
    /// The names of stage 5's dumps.
    tiered: stage5::dump::Names,
}

impl Annotate for Names {
    fn absolute(&self, value: u64) -> Option<String> {
        if Some(value) == self.table {
            Some("deopt table".to_string())
        } else if value == self.runtime {
            Some("rt_deopt".to_string())
        } else {
            self.tiered.absolute(value)
        }
    }
}

/// One guard of a deopt table, decoded: `guard 3: branch, inlined 1 deep`, then
/// each frame it rebuilds, outermost first, with where each value is.
fn guard_text(verified: &Verified, number: u32, record: &GuardRecord) -> String {
    let program = verified.program();
    let depth = record.inline_depth();
    let mut out = format!(
        "    guard {number}: {}{}\n",
        record.reason,
        match depth {
            0 => String::new(),
            d => format!(", inlined {d} deep"),
        }
    );
    for frame in &record.frames {
        let f = &program.functions[frame.func as usize];
        let line = f.lines.get(frame.pc).copied().unwrap_or(0);
        let locations = |ls: &[Location]| -> String {
            let names: Vec<String> = ls.iter().map(|&l| location_text(l)).collect();
            names.join(", ")
        };
        out.push_str(&format!(
            "      {} at pc {} (line {line}): locals [{}], operands [{}]\n",
            f.name,
            frame.pc,
            locations(&frame.locals),
            locations(&frame.operands)
        ));
    }
    out
}

/// Where a frame-state value is: a register's name, `[rbp-16]` for a slot of the
/// optimized frame, or a constant as the value it is (`7`, or its word in hex for
/// a heap value).
fn location_text(location: Location) -> String {
    match location {
        Location::Reg(i) => ALLOCATABLE
            .get(usize::from(i))
            .map_or_else(|| format!("r?{i}"), |r| r.name().to_string()),
        Location::Slot(offset) if offset < 0 => format!("[rbp-{}]", -i64::from(offset)),
        Location::Slot(offset) => format!("[rbp+{offset}]"),
        Location::Const(word) if word as u64 & INT_TAG_MASK == 0 => (word >> 1).to_string(),
        Location::Const(word) => format!("{:#x}", word as u64),
    }
}
