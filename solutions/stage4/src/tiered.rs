//! Stage 4 in a tiered run (stage 5): one function at a time, when it is hot, into a
//! code block of its own, and the variant entered by on-stack replacement (OSR) in
//! the middle of a running loop.
//!
//! A function compiled alone calls the others through a table: stage 5 moves a
//! callee from tier to tier by rewriting its table entries, and this code follows
//! with nothing patched. In a tiered run ([`Calls::Compiled`]) that is the
//! compiled-entry table, the arguments in registers as between the functions of a
//! whole program: a callee's entry there is its fast entry once it is optimized,
//! else its adapter ([`crate::codegen::adapters`]), which calls whatever its
//! function-table entry holds. A harness that sets up only the function table
//! compiles with [`Calls::Table`], the arguments in memory. Its calls of itself are
//! the exception: the table could only lead back to this very code while it runs (an
//! optimized function is installed once, for good), so they go straight to its fast
//! entry with the arguments in registers, as in a whole program — measured on the
//! `fib` kernel (fib(32)), table linkage for those calls cost 2.6 times the
//! whole-program run time, direct ones about 1.05 times. The calling convention,
//! the pinned registers, the frame limit and the error exit are the whole-program
//! compile's (see [`crate::codegen`]).
//!
//! **OSR.** A frame of a lower tier (the interpreter, or stage 3's baseline code) that
//! reaches a hot loop's header hands its *frame state* to code compiled for that
//! header: `rdi` points at local 0, local `n` is at `[rdi - 8n]` and operand `j`
//! (0 = bottom) at `[rdi - 8(L + j)]`, `L` being the function's locals. That is the
//! layout of arguments, so the OSR variant is the function's IR with a different
//! entry block ([`crate::ir::build::build_osr`]): its parameters are the state's
//! words, the passes know nothing of them (as of any argument), and it jumps to the
//! header's block. Only what the header reaches is compiled. The frame was counted
//! where it began, so the OSR entry takes no frame from `FRAMES_LEFT` and counts no
//! call; its `return` is the function's (one frame given back), and an error adds its
//! frame (the function, at the failing pc) as the function would.
//!
//! **What the whole program tells it.** A function compiled alone gets what
//! [`crate::engine::compile`] gives each function: the facts of
//! [`crate::passes::returns`] (which functions return only integers, so a direct
//! call's result needs no tag check) and copies of its small callees
//! ([`crate::passes::inline`]), made from their optimized IR. Both come from the
//! verified program alone, never from the run, so they hold whichever tier runs a
//! callee. Each function's IR through the pipeline is made once per program
//! ([`ProgramIr`], cached by [`Verified::id`]) when a compile first needs it (on
//! stage 5's worker), and only for the functions the compiled one reaches by direct
//! calls: nothing the running program changes is read. An inlined callee has
//! no call at all, so its tier in the run does not matter; its object instructions
//! keep their own sites (the callee's). Given an object lowering, though, a callee
//! with object sites stays a call: stage 6 snapshots the caches of the compiled
//! function's own sites only.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use stage1::{FnId, Instr, Verified};
use stage2::Assembler;
use stage3::codegen::linkage::Linkage;

use crate::codegen::{self, Entry};
use crate::deopt::Deoptimizer;
use crate::engine::{allocate, Prepared, MAX_VALUES};
use crate::ir::{self, Function, Op, Pc};
use crate::objects::{ObjectLowering, Objects};
use crate::passes::{checks, inline, optimize, returns, Analyses, PassStats};
use crate::speculation::Speculation;

/// One function compiled alone: its own executable block, where to enter it, and
/// what stage 3 records of every function (code ranges, frame size, compile time) —
/// the type of stage 3's one-function compile, so a tiered run keeps both tiers'
/// code alike. From [`compile_function`]: `entry` is the function's first
/// instruction, called as any function (arguments at `[rdi - 8k]`), and
/// `osr_entries` is empty; from an OSR compile, `entry` is the OSR entry (`rdi` =
/// the frame state), the only way in (never a table entry), and `osr_entries` is
/// `[(loop header pc, entry)]`. `function.time` is the whole compile's (IR, passes,
/// registers, code).
pub use stage3::CompiledFunction;

/// Compiles function `func` of `verified` alone, its calls through the function
/// table ([`Calls::Table`]: all a harness needs to set up to run it). With `osr = Some(pc)`, the variant entered at the loop header `pc` (a
/// target of a `loop` instruction) with the frame state (see the module's
/// documentation). `Err` says why the optimizer declines (a function too big, a pc
/// that is no loop header, or — in debug builds — an IR or allocation that fails
/// its check). With `objects`, the object instructions get the fast paths a later
/// stage gives (stage 6's inline caches, see [`crate::objects`]), and a callee with
/// object instructions is not inlined (the lowering knows the caller's sites).
pub fn compile_function(
    verified: &Verified,
    func: FnId,
    osr: Option<usize>,
    objects: Option<&dyn ObjectLowering>,
) -> Result<CompiledFunction, String> {
    compile_speculating(verified, func, osr, 0, objects, Calls::Table)
}

/// [`compile_function`]; an OSR variant speculates that the locals of `ints` (a bit
/// per local, 0 to 63) are integers at the header, and small ones ([`ir::SMALL`])
/// where its loop counts with them, checking their type once on entry
/// ([`ir::build::build_osr_speculating`]): enter it only with a frame state whose
/// locals are. Stage 5 takes the mask from the frame that asked for the variant.
pub fn compile_speculating(
    verified: &Verified,
    func: FnId,
    osr: Option<usize>,
    ints: u64,
    objects: Option<&dyn ObjectLowering>,
    calls: Calls,
) -> Result<CompiledFunction, String> {
    let start = Instant::now();
    let prepared = prepare_speculating(verified, func, osr, ints, objects.is_some())?;
    generate(verified, start, prepared, osr, objects, calls)
}

/// [`compile_speculating`] with the bets of `spec` (stage 7): the function built by
/// [`ir::build::build_speculative`] (guards with frame states, checkpoints, the
/// calls `spec` inlines), through the pipeline, then `deopt`'s late passes
/// (stage 7's `speculate`: checkpoints to overflow guards, then DCE). A failing
/// guard deoptimizes: the code hands its frames to `deopt`'s runtime (stage 7's,
/// which resumes the interpreter) instead of raising. `stress`: each guard also
/// counts down the context's deopt countdown and deoptimizes when it reaches 0
/// (stage 7's stress mode).
#[allow(clippy::too_many_arguments)]
pub fn compile_speculative(
    verified: &Verified,
    func: FnId,
    osr: Option<usize>,
    ints: u64,
    objects: Option<&dyn ObjectLowering>,
    spec: &dyn Speculation,
    deopt: &dyn Deoptimizer,
    stress: bool,
    calls: Calls,
) -> Result<CompiledFunction, String> {
    let start = Instant::now();
    let lowered = objects.is_some();
    let prepared = prepare_speculative(verified, func, osr, ints, lowered, spec, deopt)?;
    let (ir, alloc) = (&prepared.ir, &prepared.alloc);
    let entry = Alone { osr, calls };
    let mut compiled =
        crate::deopt::compile_alone(verified, ir, alloc, entry, objects, deopt, stress)?;
    compiled.function.time = start.elapsed();
    Ok(compiled)
}

/// The machine code of a function `prepare_*` made (its compile started at `start`).
fn generate(
    verified: &Verified,
    start: Instant,
    prepared: Prepared,
    osr: Option<usize>,
    objects: Option<&dyn ObjectLowering>,
    calls: Calls,
) -> Result<CompiledFunction, String> {
    if crate::deopt::speculates(&prepared.ir) {
        // Guards compile only with a deoptimizer (`compile_speculative`).
        return Err("speculative IR needs a deoptimizer".to_string());
    }
    let objects = objects.map(|lowering| Objects {
        lowering,
        program: verified.program(),
    });
    let mut asm = Assembler::new();
    let label = asm.new_label();
    let entry = Alone { osr, calls }.entry(label, verified);
    let generated =
        codegen::generate_entered(&mut asm, &prepared.ir, &prepared.alloc, entry, objects);
    let code = asm
        .finish()
        .map_err(|e| format!("cannot load the code: {e}"))?;
    let entry = code.label_offset(label).expect("the entry is bound");
    let fast_entry = generated.fast_entry.and_then(|l| code.label_offset(l));
    let mut function = generated.code;
    function.time = start.elapsed();
    Ok(CompiledFunction {
        code,
        entry,
        osr_entries: osr.map(|pc| (pc, entry)).into_iter().collect(),
        fast_entry,
        function,
        tables: None,
    })
}

/// How code compiled alone reaches the functions it calls and does not inline
/// (other than itself, which it calls directly).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Calls {
    /// Through the function table (`NativeContext::functions`), the arguments in
    /// memory: what any tier's code takes, and all a harness that runs compiled
    /// functions needs to set up.
    #[default]
    Table,
    /// Through stage 5's compiled-entry table (`NativeContext::compiled_entries`),
    /// the arguments in registers: an optimized callee's fast entry, else its
    /// adapter. Measured on the `calls` kernel (`main`'s OSR variant calls `step`
    /// 1.5 million times), a stage 5 run executes 140.1M instructions with `Table`,
    /// 135.8M with `Compiled` (stage 4's whole program: 132.1M).
    Compiled,
}

/// What makes a function compiled alone: an OSR variant or not, and its [`Calls`].
#[derive(Clone, Copy, Debug)]
pub struct Alone {
    /// `Some(pc)`: the variant entered at loop header `pc`.
    pub osr: Option<usize>,
    /// How it calls other functions.
    pub calls: Calls,
}

impl Alone {
    /// The code generator's [`Entry`] for it, at `label`.
    pub fn entry<'a>(&self, label: stage2::Label, verified: &'a Verified) -> Entry<'a> {
        Entry {
            label,
            linkage: Linkage::Table,
            compiled_calls: self.calls == Calls::Compiled,
            osr: self.osr.is_some(),
            sites: verified.sites(),
        }
    }
}

/// Runs function `func` through the optimizer up to register allocation: its
/// ordinary IR, or with `osr = Some(pc)` the one entered at loop header `pc`.
pub fn prepare_function(
    verified: &Verified,
    func: FnId,
    osr: Option<usize>,
) -> Result<Prepared, String> {
    prepare_speculating(verified, func, osr, 0, false)
}

/// [`prepare_function`], an OSR variant speculating on the locals of `ints`
/// ([`compile_speculating`]), with `lowered` as an object lowering will be given
/// to its code generator (a callee with object sites is then not inlined): what a
/// tiered run compiles for a job, up to register allocation (stage 5's `dump --asm`
/// lists its code).
pub fn prepare_speculating(
    verified: &Verified,
    func: FnId,
    osr: Option<usize>,
    ints: u64,
    lowered: bool,
) -> Result<Prepared, String> {
    let start = Instant::now();
    let (ir, passes) = ir_observed(verified, func, osr, ints, lowered, &mut |_, _| {})?;
    allocate(start, ir, passes, lowered, verified)
}

/// The optimized IR of `func` as [`compile_speculating`] makes it (an OSR variant
/// at loop header `osr`, betting on the locals of `ints`) and what the passes did,
/// calling `observer` with the IR as built (`"built"`), after each pass of the
/// pipeline (by its name) and after the callees are inlined (`"inline"`): what
/// `jitlab dump --ir --stage 5` prints of each compile of a run.
pub fn ir_observed(
    verified: &Verified,
    func: FnId,
    osr: Option<usize>,
    ints: u64,
    lowered: bool,
    observer: &mut dyn FnMut(&str, &Function),
) -> Result<(Function, PassStats), String> {
    if verified.program().functions.get(func as usize).is_none() {
        return Err(format!("no function {func}"));
    }
    let ir = match osr {
        None => ir::build(verified, func),
        Some(pc) => {
            let header = loop_header(verified, func, pc)?;
            ir::build::build_osr_speculating(verified, func, header, ints)
        }
    };
    observer("built", &ir);
    let mut passes = PassStats::default();
    let ir = optimize_alone(verified, ir, &mut passes, lowered, observer);
    Ok((ir, passes))
}

/// `prepare_speculating` with the bets of `spec` and the late passes of `deopt`
/// ([`compile_speculative`]).
pub fn prepare_speculative(
    verified: &Verified,
    func: FnId,
    osr: Option<usize>,
    ints: u64,
    lowered: bool,
    spec: &dyn Speculation,
    deopt: &dyn Deoptimizer,
) -> Result<Prepared, String> {
    let start = Instant::now();
    let ir = speculative_ir(verified, func, osr, ints, lowered, spec, deopt)?;
    allocate(start, ir.0, ir.1, lowered, verified)
}

/// The optimized speculative IR of `func` ([`compile_speculative`]) and what the
/// passes did: built with `spec`'s bets, the pipeline as `optimize_alone` runs it,
/// then the late passes of `deopt` ([`Deoptimizer::late_passes`]). Debug builds
/// check its frame states.
pub fn speculative_ir(
    verified: &Verified,
    func: FnId,
    osr: Option<usize>,
    ints: u64,
    lowered: bool,
    spec: &dyn Speculation,
    deopt: &dyn Deoptimizer,
) -> Result<(Function, PassStats), String> {
    speculative_ir_observed(
        verified,
        func,
        osr,
        ints,
        lowered,
        spec,
        deopt,
        &mut |_, _| {},
    )
}

/// [`speculative_ir`], calling `observer` with the IR as built (`"built"`), after
/// each pass of the pipeline (by its name), after the callees are inlined
/// (`"inline"`) and after each late pass: what `jitlab dump --ir --passes --stage 7`
/// prints of each speculative compile.
#[allow(clippy::too_many_arguments)]
pub fn speculative_ir_observed(
    verified: &Verified,
    func: FnId,
    osr: Option<usize>,
    ints: u64,
    lowered: bool,
    spec: &dyn Speculation,
    deopt: &dyn Deoptimizer,
    observer: &mut dyn FnMut(&str, &Function),
) -> Result<(Function, PassStats), String> {
    if verified.program().functions.get(func as usize).is_none() {
        return Err(format!("no function {func}"));
    }
    let osr = osr.map(|pc| loop_header(verified, func, pc)).transpose()?;
    let ir = ir::build::build_speculative(verified, func, osr, ints, spec);
    observer("built", &ir);
    let mut passes = PassStats::default();
    let mut ir = optimize_alone(verified, ir, &mut passes, lowered, observer);
    for (name, pass) in deopt.late_passes() {
        pass(&mut ir, &mut Analyses::default(), &mut passes);
        observer(name, &ir);
    }
    if cfg!(debug_assertions) {
        ir::verify::verify_states(&ir, verified)
            .map_err(|e| format!("the speculative IR is invalid: {e}"))?;
    }
    Ok((ir, passes))
}

/// The passes over `ir` (of a function of `verified`) as the whole-program compile
/// runs them: the pipeline, the program's facts of [`returns`] and the `check_int`s
/// they remove, then the small callees inlined and the pipeline again. With
/// `lowered` (an object lowering will be asked about the sites), a callee with
/// object sites stays a call: stage 6's snapshot of the caller's caches holds only
/// the caller's sites, so a copy would lose the callee's fast paths. `observer` sees
/// the IR after each pass, and after the inlining (`"inline"`) when it inlined.
fn optimize_alone(
    verified: &Verified,
    mut ir: Function,
    passes: &mut PassStats,
    lowered: bool,
    observer: &mut dyn FnMut(&str, &Function),
) -> Function {
    optimize(&mut ir, passes, &mut *observer);
    let program = ProgramIr::of(verified);
    let callees = direct_callees(&ir);
    let facts = program.int_results(verified, &callees);
    ir.int_results = facts.clone();
    if facts.iter().any(|&int| int) {
        checks::run(&mut ir, &mut Analyses::default(), passes);
    }
    // Each callee as the whole-program compile offers it: optimized, with the facts.
    let mut copies: Vec<(FnId, Function)> = Vec::new();
    for &g in &callees {
        let mut callee = program.optimized(verified, g).clone();
        callee.int_results = facts.clone();
        if facts.iter().any(|&int| int) {
            checks::run(
                &mut callee,
                &mut Analyses::default(),
                &mut PassStats::default(),
            );
        }
        if callee.values.len() <= MAX_VALUES
            && inline::inlinable(&callee)
            && !(lowered && has_sites(&callee))
        {
            copies.push((g, callee));
        }
    }
    let mut offered: Vec<Option<&Function>> = vec![None; facts.len()];
    for (g, callee) in &copies {
        offered[*g as usize] = Some(callee);
    }
    let inlined = inline::run(&mut ir, &offered);
    if inlined > 0 {
        passes.inlined += inlined as u64;
        observer("inline", &ir);
        optimize(&mut ir, passes, &mut *observer);
    }
    ir
}

/// True when `f` has object instructions that are sites (of the object lowering).
fn has_sites(f: &Function) -> bool {
    f.blocks.iter().flat_map(|b| &b.insts).any(|&inst| {
        matches!(
            f.inst(inst).op,
            Op::GetField(..) | Op::SetField(..) | Op::CallValue { .. }
        )
    })
}

/// The functions `f` calls directly, each once.
fn direct_callees(f: &Function) -> Vec<FnId> {
    let mut callees: Vec<FnId> = f
        .reverse_postorder()
        .into_iter()
        .flat_map(|b| f.block(b).insts.iter())
        .filter_map(|&inst| match f.inst(inst).op {
            Op::Call { func, .. } => Some(func),
            _ => None,
        })
        .collect();
    callees.sort_unstable();
    callees.dedup();
    callees
}

/// What a function compiled alone learns from the rest of its program: the
/// optimized IR of each function (the copies inlining makes, and the returns that
/// [`returns`] judges), made when first needed and kept, from the verified program
/// only — a tiered run optimizes only what its hot functions call, not the whole
/// program as [`crate::engine::compile`] does.
pub struct ProgramIr {
    /// For each function (by id): its IR through the pipeline, without facts.
    functions: Vec<OnceLock<Function>>,
}

/// How many programs [`ProgramIr::of`] keeps (the most recently asked): a run has
/// one program, a test process many.
const PROGRAMS_KEPT: usize = 8;

/// The programs' IR, by [`Verified::id`], the newest last.
static PROGRAMS: Mutex<Vec<(u64, Arc<ProgramIr>)>> = Mutex::new(Vec::new());

impl ProgramIr {
    /// The IR kept for `verified` (ids are unique within the process, and a verified
    /// program never changes), empty at first.
    pub fn of(verified: &Verified) -> Arc<ProgramIr> {
        let mut programs = PROGRAMS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(k) = programs.iter().position(|(id, _)| *id == verified.id()) {
            let entry = programs.remove(k);
            let program = entry.1.clone();
            programs.push(entry);
            return program;
        }
        if programs.len() >= PROGRAMS_KEPT {
            programs.remove(0);
        }
        let count = verified.program().functions.len();
        let program = Arc::new(ProgramIr {
            functions: (0..count).map(|_| OnceLock::new()).collect(),
        });
        programs.push((verified.id(), program.clone()));
        program
    }

    /// Function `func` of `verified` through the pipeline (made now unless it was).
    pub fn optimized(&self, verified: &Verified, func: FnId) -> &Function {
        self.functions[func as usize].get_or_init(|| {
            let mut ir = ir::build(verified, func);
            optimize(&mut ir, &mut PassStats::default(), |_, _| {});
            ir
        })
    }

    /// Which functions return only integers ([`returns`]), for a function calling
    /// `callees`: solved over the functions they reach by direct calls (a function's
    /// fact depends on those alone, so it is the whole program's), false for the
    /// others.
    pub fn int_results(&self, verified: &Verified, callees: &[FnId]) -> Arc<[bool]> {
        let count = self.functions.len();
        let mut reached = vec![false; count];
        let mut members: Vec<FnId> = Vec::new();
        let mut work: Vec<FnId> = callees.to_vec();
        while let Some(g) = work.pop() {
            if std::mem::replace(&mut reached[g as usize], true) {
                continue;
            }
            members.push(g);
            work.extend(direct_callees(self.optimized(verified, g)));
        }
        // The greatest fixpoint of `returns::int_results`, over the members.
        let mut irs: Vec<Function> = members
            .iter()
            .map(|&g| self.optimized(verified, g).clone())
            .collect();
        let mut facts = reached;
        let mut changed = true;
        while changed {
            changed = false;
            let shared: Arc<[bool]> = facts.clone().into();
            for (f, &g) in irs.iter_mut().zip(&members) {
                if !facts[g as usize] {
                    continue;
                }
                f.int_results = shared.clone();
                if !returns::returns_ints(f) {
                    facts[g as usize] = false;
                    changed = true;
                }
            }
        }
        facts.into()
    }
}

/// The IR of function `func` entered by OSR at loop header `pc`, optimized (what its
/// code is made from), as text, after the IR as built when `passes`: `dump --ir
/// --osr [FUNCTION:]PC`.
pub fn osr_listing(
    verified: &Verified,
    func: FnId,
    pc: usize,
    passes: bool,
) -> Result<String, String> {
    let header = loop_header(verified, func, pc)?;
    let mut f = ir::build::build_osr(verified, func, header);
    let mut out = String::new();
    if passes {
        out.push_str(&format!("; {} entered at pc {pc}: built\n", f.name));
        out.push_str(&ir::text::print(&f));
        out.push_str(&format!("; {} entered at pc {pc}: optimized\n", f.name));
    }
    // As its code is made: the program's facts and small callees included.
    f = optimize_alone(
        verified,
        f,
        &mut PassStats::default(),
        false,
        &mut |_, _| {},
    );
    out.push_str(&ir::text::print(&f));
    Ok(out)
}

/// The loop headers of function `func`: the targets of its `loop` instructions, in
/// order, each once.
pub fn loop_headers(verified: &Verified, func: FnId) -> Vec<usize> {
    let code = &verified.program().functions[func as usize].code;
    let mut headers: Vec<usize> = code
        .iter()
        .filter_map(|i| match i {
            Instr::Loop(target) => Some(*target as usize),
            _ => None,
        })
        .collect();
    headers.sort_unstable();
    headers.dedup();
    headers
}

/// `pc` as a loop header of `func`, or why it is not one (naming its loop headers).
pub fn loop_header(verified: &Verified, func: FnId, pc: usize) -> Result<Pc, String> {
    let program = verified.program();
    let Some(f) = program.functions.get(func as usize) else {
        return Err(format!("no function {func}"));
    };
    let headers = loop_headers(verified, func);
    if !headers.contains(&pc) {
        let list: Vec<String> = headers.iter().map(usize::to_string).collect();
        return Err(format!(
            "pc {pc} of {} is not a loop header (the target of a loop instruction); \
             its loop headers are at pcs [{}]",
            f.name,
            list.join(", ")
        ));
    }
    Ok(pc as Pc)
}
