//! `jitlab dump --ir --stage 5 FILE` (and `cargo run -p stage5 -- dump --ir FILE`):
//! the IR of each optimizing compile a tiered run made; `dump --asm --stage 5`: their
//! machine code; `dump --ir --osr [FUNCTION:]PC --stage 5`: the compiles entered by
//! OSR at that loop header.
//!
//! A tiered run does not compile the program: it compiles one function when its
//! calls make it hot, and the variant of a function entered by on-stack replacement
//! at the header of a hot loop, betting that the locals the frame held as integers
//! are integers (`Job::ints`). What the optimizing tier made depends on the run, so
//! the dump runs the program first with this stage's engine (its output dropped;
//! default thresholds, compiling on the spot so that the same program gives the same
//! dump), writes down each job of the optimizing tier, in the order the run asked
//! for them, then compiles each one again as the run did and prints it — its IR in
//! stage 4's text form (which parses back, `stage4::ir::text::parse_all`), or its
//! machine code in stage 4's listing (the addresses it loads named, so that the text
//! is the same on every run):
//!
//! ```text
//! ; the program ran with stage 5's engine (its output dropped): 1 optimizing compile
//! ; compile 1 of main: entered by OSR at the loop header at pc 4, after 20000 back edges
//! function main f0 {
//! ...
//! ```
//!
//! With `--passes`, each compile is printed as built and after every pass. With
//! `--osr [FUNCTION:]PC`, only the compiles of that function that the run entered by
//! OSR at that loop header; none is an error that names the OSR compiles the run
//! made. Stage 6 dumps its runs with the same code, its caches as the engine's
//! extension ([`Dump::with_extension`]); stage 7, whose compiles also bet on the
//! profile, has a dump of its own that shares the pieces here ([`Shown`],
//! [`compile_header`], [`osr_only`], [`Names`]).

use std::sync::{Arc, Mutex, PoisonError};

use stage1::heap::Heap;
use stage1::interp::tiering::Counters;
use stage1::objects::{ByName, ObjectModel};
use stage1::{Engine, Event, FnId, RuntimeError, Verified};
use stage2::{Annotate, Assembler};
use stage3::codegen::objects::ObjectCode;
use stage3::listing::HelperNames;
use stage3::{Deopt, FeedbackCode};
use stage4::deopt::Deoptimizer;
use stage4::objects::{ObjectLowering, Objects};
use stage4::passes::compile_text;
use stage4::speculation::Speculation;
use stage4::tiered::{Alone, Calls};

use crate::extension::AfterDeopt;
use crate::hooks::Job;
use crate::policy::Trigger;
use crate::{Extension, Options, Tiered};

/// Which optimizing compiles of a run a dump shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// Every one, in the order the run asked for them.
    All,
    /// Those of function `.0` entered by OSR at the loop header at pc `.1`
    /// (`dump --ir --osr`).
    Osr(FnId, usize),
}

impl Shown {
    /// Whether the compile of `job` is one shown.
    pub fn shows(self, job: &Job) -> bool {
        match self {
            Shown::All => true,
            Shown::Osr(func, pc) => job.func == func && job.osr == Some(pc),
        }
    }

    /// The line under the dump's first that says which compiles are shown (none
    /// when all are), with its newline.
    pub fn line(self, verified: &Verified) -> String {
        match self {
            Shown::All => String::new(),
            Shown::Osr(func, pc) => format!(
                "; shown: the compiles of {} entered by OSR at the loop header at pc {pc}\n",
                verified.program().functions[func as usize].name
            ),
        }
    }
}

/// The line that heads a compile `what` (`compile 2 of f`) of `job`, without its
/// newline: `; compile 2 of f: the whole function, after 1000 calls`, or
/// `; compile 1 of main: entered by OSR at the loop header at pc 4, after 20000 back
/// edges`.
pub fn compile_header(what: &str, job: &Job) -> String {
    let entry = match job.osr {
        None => "the whole function".to_string(),
        Some(pc) => format!("entered by OSR at the loop header at pc {pc}"),
    };
    let trigger = match job.trigger {
        Trigger::Calls => format!("after {} calls", job.count),
        Trigger::Loop => format!("after {} back edges", job.count),
    };
    format!("; {what}: {entry}, {trigger}")
}

/// The first line of a dump, without its newline: which stage's engine ran the
/// program, how it ended (`ended`), and how many optimizing compiles it made.
pub fn run_line(stage: u32, ended: &Result<String, RuntimeError>, compiles: usize) -> String {
    format!(
        "; the program ran with stage {stage}'s engine (its output dropped){}: {compiles} \
         optimizing compile{}",
        match ended {
            Ok(_) => String::new(),
            Err(e) => format!(", stopped by `{}`", e.kind.message()),
        },
        if compiles == 1 { "" } else { "s" },
    )
}

/// What `dump --ir --osr [FUNCTION:]PC` prints: the text `ir_of` gives of the
/// compiles of `func` that the run entered by OSR at the loop header `pc` (it is
/// given [`Shown::Osr`] and returns the text and the jobs of all the run's
/// compiles). An error when `pc` is no loop header of `func`, or when the run made
/// no such compile (the loop never got hot enough, or the whole function was
/// optimized first): it names the OSR compiles the run made.
pub fn osr_only(
    verified: &Verified,
    func: FnId,
    pc: usize,
    ir_of: impl FnOnce(Shown) -> (String, Vec<Job>),
) -> Result<String, String> {
    stage4::tiered::loop_header(verified, func, pc)?;
    let shown = Shown::Osr(func, pc);
    let (text, jobs) = ir_of(shown);
    if jobs.iter().any(|job| shown.shows(job)) {
        Ok(text)
    } else {
        Err(no_osr_compile(verified, func, pc, &jobs))
    }
}

/// Why `dump --ir --osr` of `func` at the loop header `pc` has nothing to show: the
/// run (whose compiles were `jobs`) made no compile of `func` entered there; names
/// the OSR compiles it made.
fn no_osr_compile(verified: &Verified, func: FnId, pc: usize, jobs: &[Job]) -> String {
    let name = |g: FnId| verified.program().functions[g as usize].name.as_str();
    let mut entered: Vec<String> = Vec::new();
    for job in jobs {
        if let Some(at) = job.osr.map(|pc| format!("{} at pc {pc}", name(job.func))) {
            if !entered.contains(&at) {
                entered.push(at);
            }
        }
    }
    format!(
        "the run made no optimizing compile of {} entered by OSR at pc {pc} (`dump --ir` \
         lists every compile it made); {}",
        name(func),
        if entered.is_empty() {
            "the run entered no compile by OSR".to_string()
        } else {
            format!("the run's OSR compiles: {}", entered.join(", "))
        }
    )
}

/// What the dumps of a tiered run call the addresses optimized code loads: the
/// runtime helpers ([`HelperNames`]) and the heap's bump pointer (which stage 6's
/// inline allocation reads), so that a listing is the same on every run.
pub struct Names {
    /// The address of the run's heap's bump pointer (`Heap::bump`); 0 for none.
    pub bump: u64,
    /// The run data the object lowering's code embeds
    /// (`ObjectLowering::named_addresses`).
    pub objects: Vec<(u64, &'static str)>,
}

impl Names {
    /// The names of a compile's listing: the heap's bump pointer at `bump`, and what
    /// `objects` embeds.
    pub fn of(bump: u64, objects: Option<&dyn ObjectLowering>) -> Names {
        Names {
            bump,
            objects: objects.map_or_else(Vec::new, |o| o.named_addresses()),
        }
    }
}

impl Annotate for Names {
    fn absolute(&self, value: u64) -> Option<String> {
        if value == self.bump && value != 0 {
            return Some("heap bump".to_string());
        }
        match self.objects.iter().find(|&&(address, _)| address == value) {
            Some(&(_, name)) => Some(name.to_string()),
            None => HelperNames.absolute(value),
        }
    }
}

/// One optimizing compile of the run.
struct Compile {
    job: Job,
    /// The caches' fast paths the compile had (stage 6's snapshot, taken again when
    /// its job was queued); `None`: its object instructions are runtime calls.
    objects: Option<Box<dyn ObjectLowering>>,
    /// The address of the heap's bump pointer, which inline allocation reads.
    bump: u64,
}

/// The engine's extension for a dump: the inner extension (stage 6's caches; none:
/// stage 1's objects by name, no fast paths, as a run without an extension) in
/// everything, and each optimizing job written down. The engine asks for a job's
/// snapshot once when it asks for the job (in sync mode, on the spot): first
/// `optimizer`, then `speculation`, which sees the job.
struct Recorder {
    inner: Option<Arc<dyn Extension>>,
    /// What the last `optimizer` call gave the compile, taken again, and the heap's
    /// bump pointer's address then.
    last: Mutex<(Option<Box<dyn ObjectLowering>>, u64)>,
    compiles: Mutex<Vec<Compile>>,
}

impl Extension for Recorder {
    fn object_model(&self, verified: &Verified) -> Box<dyn ObjectModel> {
        match &self.inner {
            Some(e) => e.object_model(verified),
            // What `Heap::new` gives a run without an extension.
            None => Box::new(ByName),
        }
    }

    fn baseline<'h>(&self, heap: &'h mut Heap) -> Option<Box<dyn ObjectCode + 'h>> {
        self.inner.as_ref()?.baseline(heap)
    }

    fn optimizer(&self, heap: &mut Heap, func: FnId) -> Option<Box<dyn ObjectLowering>> {
        let inner = self.inner.as_ref()?;
        let lowering = inner.optimizer(heap, func);
        // The same snapshot again, for the dump: the caches as they are now (stage
        // 6's snapshot only reads them).
        let copy = lowering.as_ref().and_then(|_| inner.optimizer(heap, func));
        let bump = heap.bump() as u64;
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = (copy, bump);
        lowering
    }

    fn tables(&self, heap: &Heap, verified: &Verified) -> Vec<String> {
        self.inner
            .as_ref()
            .map_or_else(Vec::new, |e| e.tables(heap, verified))
    }

    fn speculation(
        &self,
        verified: &Verified,
        counters: &Counters,
        job: &Job,
    ) -> Option<Box<dyn Speculation>> {
        let (objects, bump) =
            std::mem::take(&mut *self.last.lock().unwrap_or_else(PoisonError::into_inner));
        self.compiles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Compile {
                job: *job,
                objects,
                bump,
            });
        // A dump of compiles that bet is stage 7's: stage 5's and 6's make none.
        self.inner.as_ref()?.speculation(verified, counters, job)
    }

    fn deoptimizer(&self) -> Option<&'static dyn Deoptimizer> {
        self.inner.as_ref()?.deoptimizer()
    }

    fn baseline_feedback(&self) -> Option<FeedbackCode> {
        self.inner.as_ref()?.baseline_feedback()
    }

    fn stress(&self) -> Option<i64> {
        self.inner.as_ref()?.stress()
    }

    fn deoptimized(&self, func: FnId, deopt: &Deopt) -> AfterDeopt {
        self.inner
            .as_ref()
            .map_or_else(AfterDeopt::default, |e| e.deoptimized(func, deopt))
    }

    fn take_events(&self) -> Vec<Event> {
        self.inner
            .as_ref()
            .map_or_else(Vec::new, |e| e.take_events())
    }
}

/// The dump of a tiered run: which engine runs the program (stage 5's, or with a
/// later stage's extension, stage 6's caches) and prints what its optimizing tier
/// compiled ([`Dump::ir`], [`Dump::osr_ir`], [`Dump::asm`]).
#[derive(Clone)]
pub struct Dump {
    /// The stage whose engine it is (the dump's first line says it).
    stage: u32,
    /// The engine's extension; `None`: stage 5's engine as it is.
    extension: Option<Arc<dyn Extension>>,
}

impl Default for Dump {
    fn default() -> Dump {
        Dump::new()
    }
}

impl Dump {
    /// The dump of stage 5's engine.
    pub fn new() -> Dump {
        Dump {
            stage: 5,
            extension: None,
        }
    }

    /// The dump of stage `stage`'s engine: stage 5's with `extension` (stage 6's
    /// caches). An extension that bets on the profile (stage 7's) needs a dump that
    /// records its bets too: the compiles here are built again without any.
    pub fn with_extension(stage: u32, extension: Arc<dyn Extension>) -> Dump {
        Dump {
            stage,
            extension: Some(extension),
        }
    }

    /// What `dump --ir` prints of `verified`: the run's first line, then the IR of
    /// each optimizing compile of the run under its header line, in the order the
    /// run asked for them; with `passes`, each as built and after every pass.
    pub fn ir(&self, verified: &Verified, passes: bool) -> String {
        self.ir_of(verified, Shown::All, passes).0
    }

    /// What `dump --ir --osr [FUNCTION:]PC` prints of `verified`: [`Dump::ir`]'s text
    /// of each compile of `func` that the run entered by OSR at the loop header `pc`.
    /// An error when `pc` is no loop header of `func`, or when the run made no such
    /// compile (the loop never got hot enough, or the whole function was optimized
    /// first): it names the OSR compiles the run made.
    pub fn osr_ir(
        &self,
        verified: &Verified,
        func: FnId,
        pc: usize,
        passes: bool,
    ) -> Result<String, String> {
        osr_only(verified, func, pc, |shown| {
            self.ir_of(verified, shown, passes)
        })
    }

    /// What `dump --asm` prints of `verified`: the run's first line, then the
    /// machine code of each optimizing compile of the run under its header line
    /// (stage 4's listing: each instruction of the IR with its x86-64).
    pub fn asm(&self, verified: &Verified) -> String {
        self.each_compile(
            verified,
            Shown::All,
            |out, what, compile| match compile_listing(verified, compile) {
                Ok(text) => out.push_str(&text),
                Err(why) => out.push_str(&format!("; {what}: not compiled: {why}\n")),
            },
        )
        .0
    }

    /// [`Dump::each_compile`] showing the IR of each compile `shown` takes.
    fn ir_of(&self, verified: &Verified, shown: Shown, passes: bool) -> (String, Vec<Job>) {
        self.each_compile(verified, shown, |out, what, compile| {
            let job = compile.job;
            let lowered = compile.objects.is_some();
            out.push_str(&compile_text(what, passes, |observer| {
                stage4::tiered::ir_observed(
                    verified, job.func, job.osr, job.ints, lowered, observer,
                )
            }));
        })
    }

    /// Runs `verified` with the engine (output dropped, on-the-spot compiles) and
    /// returns the dump's first line, then for each optimizing compile of the run
    /// that `shown` takes its header line and what `show` writes of it, given the
    /// compile's name (`compile 2 of f`, numbered among all the function's compiles);
    /// and the jobs of all the run's compiles.
    fn each_compile(
        &self,
        verified: &Verified,
        shown: Shown,
        mut show: impl FnMut(&mut String, &str, &Compile),
    ) -> (String, Vec<Job>) {
        let recorder = Arc::new(Recorder {
            inner: self.extension.clone(),
            last: Mutex::new((None, 0)),
            compiles: Mutex::new(Vec::new()),
        });
        let extension: Arc<dyn Extension> = recorder.clone();
        let mut engine = Tiered::with_options(Options {
            // Compiles on the spot, at exactly the thresholds: the same dump every
            // time.
            sync_compile: true,
            extension: Some(extension),
            ..Options::default()
        });
        let ended = engine.run(verified, &mut std::io::sink());
        let compiles = std::mem::take(
            &mut *recorder
                .compiles
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let program = verified.program();
        let name = |func: FnId| program.functions[func as usize].name.as_str();
        let mut out = run_line(self.stage, &ended, compiles.len());
        out.push('\n');
        out.push_str(&shown.line(verified));
        let mut count = vec![0u32; program.functions.len()];
        for compile in &compiles {
            let job = compile.job;
            count[job.func as usize] += 1;
            if !shown.shows(&job) {
                continue;
            }
            let what = format!("compile {} of {}", count[job.func as usize], name(job.func));
            out.push_str(&compile_header(&what, &job));
            out.push('\n');
            show(&mut out, &what, compile);
        }
        // The heap the compiles' object fast paths point into lived until now.
        drop(engine);
        (out, compiles.iter().map(|c| c.job).collect())
    }
}

/// The machine code of one compile, as the run made it: stage 4's optimizer for the
/// job (an OSR variant with its bets on the frame's integers), calls through the
/// compiled-entry table, the caches' fast paths it had.
fn compile_listing(verified: &Verified, compile: &Compile) -> Result<String, String> {
    let job = compile.job;
    let program = verified.program();
    let lowering = compile.objects.as_deref();
    let prepared = stage4::tiered::prepare_speculating(
        verified,
        job.func,
        job.osr,
        job.ints,
        lowering.is_some(),
    )?;
    let objects = lowering.map(|lowering| Objects { lowering, program });
    let mut asm = Assembler::new();
    let label = asm.new_label();
    let entry = Alone {
        osr: job.osr,
        calls: Calls::Compiled,
    }
    .entry(label, verified);
    let generated =
        stage4::codegen::generate_entered(&mut asm, &prepared.ir, &prepared.alloc, entry, objects);
    let code = asm
        .finish()
        .map_err(|e| format!("cannot load the code: {e}"))?;
    Ok(stage4::listing::function_listing(
        &program.functions[job.func as usize],
        &prepared,
        &generated,
        code.bytes(),
        &Names::of(compile.bump, compile.objects.as_deref()),
    ))
}
