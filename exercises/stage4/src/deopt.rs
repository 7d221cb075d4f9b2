//! Deoptimization (stage 7's, through this extension point): what stage 4's code
//! generator makes of a guard, and what it asks a later stage for.
//!
//! Stage 4 without stage 7 never builds a guard: its builder makes them only when a
//! [`crate::speculation::Speculation`] bets, and code with guards is compiled only
//! with a [`Deoptimizer`] (stage 7's), which supplies the parts that are stage 7's
//! work: the late pass that turns checkpoints into guards, each guard's check in
//! machine code, the encoding of the function's deopt metadata, and the runtime
//! function that reads it and rebuilds the interpreter frames. Stage 4 keeps what
//! only the code generator knows: where the register allocation put each value of a
//! guard's frame state ([`Location`], collected as a [`GuardRecord`] per guard), the
//! deopt stubs and the common deopt exit that saves the registers.
//!
//! A failing guard jumps to its deopt stub, which gives back the frames of the calls
//! inlined around it (`add FRAMES_LEFT, k`, in code whose inlined calls take their
//! frames; speculative code's keep none, see `codegen`'s `InlinedFrames`) and goes,
//! with the guard's number, to the function's common deopt exit: that one pushes the
//! allocatable registers (the save area, `regalloc::ALLOCATABLE[i]` at `saves + 8i`),
//! stores the call count in the context (the resumed frames count on there) and
//! calls the deoptimizer's runtime function ([`RtDeopt`]) with the table
//! ([`Deoptimizer::table`]) the code keeps by address. The result — the outermost
//! frame's, or `ERROR_WORD` with the error recorded — leaves the function through its
//! ordinary epilogue, the call count reloaded.
//!
//! ```text
//!   guard i fails ──> stub_i: [add rbx, k;] mov eax, i; jmp deopt_common
//!   deopt_common:     push r15 ... rcx        (save area, rsp stays 16-aligned)
//!                     ctx.calls = r13
//!                     rt_deopt(ctx, table, i, rsp, rbp, rbx, entry)
//!                     r13 = ctx.calls; add rbx, 1; leave; ret  (rax: the result)
//! ```

use std::any::Any;

use stage1::FnId;
use stage1::Verified;
use stage2::{Assembler, Label, Reg};
use stage3::context::Context;
use stage3::CompiledFunction;

use crate::codegen;
use crate::ir::{Function, Op};
use crate::objects::{ObjectLowering, Objects, Operand};
use crate::passes::Pass;
use crate::regalloc::Allocation;
use crate::tiered::Alone;

/// Where a frame-state value is when its guard fails. Values are tagged words in
/// every location.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Location {
    /// Allocatable register `i` (`regalloc::ALLOCATABLE[i]`), read from the deopt
    /// exit's save area.
    Reg(u8),
    /// The word at `rbp + offset` (a spill slot of the optimized frame).
    Slot(i32),
    /// A constant word: constants have no location at run time.
    Const(i64),
}

/// One frame of a guard's state, as the table records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameRecord {
    /// Whose frame it is.
    pub func: FnId,
    /// Where it resumes (see `ir::StateFrame::pc`).
    pub pc: usize,
    /// Each local's location, parameters first.
    pub locals: Vec<Location>,
    /// Each operand's location, bottom first.
    pub operands: Vec<Location>,
}

/// What the table says of one guard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardRecord {
    /// Why the guard fails (`Guard::reason`).
    pub reason: &'static str,
    /// The frames to rebuild, outermost (the compiled function's) first.
    pub frames: Vec<FrameRecord>,
}

impl GuardRecord {
    /// How many calls deep the guard is inlined: the frames its stub gives back.
    pub fn inline_depth(&self) -> usize {
        self.frames.len().saturating_sub(1)
    }
}

/// The bit of the guard number the runtime function receives that says the stress
/// countdown, not the guard's check, sent the code there.
pub const STRESS_BIT: u64 = 1 << 31;

/// The runtime function a function's deopt exit calls:
/// `rt_deopt(ctx, table, guard, saves, rbp, frames_left, code)` — guard number
/// `guard` (with [`STRESS_BIT`] when the stress countdown forced it) of the code
/// whose entry is at `code` failed; `table` is the table of that code
/// ([`Deoptimizer::table`]), `saves` the save area (allocatable register `i` at
/// `saves + 8i`), `rbp` the optimized frame, `frames_left` `FRAMES_LEFT` with the
/// inlined frames given back. It returns the outermost frame's result word, or
/// `ERROR_WORD` after recording the error and its frames in the context.
pub type RtDeopt = unsafe extern "sysv64" fn(
    ctx: *mut Context,
    table: *const u8,
    guard: u64,
    saves: *const u64,
    rbp: *const u8,
    frames_left: u64,
    code: u64,
) -> u64;

/// The check of a guard of its own (not an instruction's), its operand where the
/// code generator put it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardCheck {
    /// `guard int v`: `v` (in this register) is an integer. The register then holds
    /// the guard's result, which stage 4 stores after the check.
    Int(Reg),
    /// `guard cond v, expected`: the integer `v` is not 0 (`true`) or is 0 (`false`).
    Cond(Operand, bool),
    /// `guard callee v, f`: the word `v` (in this register) is function `f`'s value.
    Callee(Reg, FnId),
}

/// What a later stage (stage 7) adds to stage 4's compiler so that optimized code may
/// bet and deoptimize when a bet is lost: as [`ObjectLowering`] is for the object
/// instructions, stage 4 defines where it is asked and stage 7 answers.
pub trait Deoptimizer: Send + Sync {
    /// The passes that run over speculative IR after the pipeline, with the names
    /// `--passes` prints (stage 7: `speculate`, which turns each checkpoint into the
    /// guard of the arithmetic after it, or drops it).
    fn late_passes(&self) -> &'static [(&'static str, Pass)];

    /// Emits `check` of a guard, jumping to `exit` (its deopt stub) when it fails and
    /// falling through when it holds. May change `ACC` (`rax`, unless the operand is
    /// there) and `TMP`, nothing else.
    fn guard_check(&self, asm: &mut Assembler, check: GuardCheck, exit: Label);

    /// The deopt table of a function whose guards are `records` (guard `i` is
    /// `records[i]`), as the runtime function reads it. The code holds the address of
    /// the box's contents, and the box lives as long as the code
    /// (`CompiledFunction::tables`).
    fn table(&self, records: &[GuardRecord]) -> Box<dyn Any + Send>;

    /// The runtime function the deopt exit calls.
    fn runtime(&self) -> RtDeopt;

    /// The runtime function that runs a call of optimized code in the interpreter
    /// when its entry finds fewer frames left than its inlined calls may take (see
    /// [`RtCallCounting`]). `None` (the default): inlined calls take their frames
    /// one by one, each with its own check.
    fn counting_call(&self) -> Option<RtCallCounting> {
        None
    }
}

/// `rt(ctx, func, args, frames_left)`, with `rt_call_interpreted`'s contract
/// (`stage3::runtime`): runs `func` with the arguments at `args`, `args - 8`, ... in
/// the interpreter, which takes and checks every frame one at a time, and gives its
/// result or `ERROR_WORD`. Optimized code whose inlined calls give their frames no
/// check of their own (one check at the entry covers the deepest nest of them) goes
/// here when that check fails: near the frame limit, where `stack overflow` must
/// come at the exact call the interpreter's would.
pub type RtCallCounting = unsafe extern "sysv64" fn(
    ctx: *mut Context,
    func: u64,
    args: *const u64,
    frames_left: u64,
) -> u64;

/// True when `f` has a guard or a checkpoint: speculative IR, which compiles only
/// with a [`Deoptimizer`].
pub fn speculates(f: &Function) -> bool {
    f.insts
        .iter()
        .any(|i| matches!(i.op, Op::Guard(_) | Op::Checkpoint(_)))
}

/// Generates `f` (allocated by `alloc`), a function of `verified` with guards,
/// alone into its own code block (calls through the function table, as
/// `tiered::compile_function`'s code), its deopt table in the result's `tables`.
/// `alone.osr`: `f` is an OSR variant (`ir::build::build_osr`); `alone.calls`: how it
/// calls other functions. `deopt`: the guards' checks, table and runtime; `stress`:
/// see [`codegen::generate_speculative`]. `function.time` is left at zero for the
/// caller.
pub fn compile_alone(
    verified: &Verified,
    f: &Function,
    alloc: &Allocation,
    alone: Alone,
    objects: Option<&dyn ObjectLowering>,
    deopt: &dyn Deoptimizer,
    stress: bool,
) -> Result<CompiledFunction, String> {
    let objects = objects.map(|lowering| Objects {
        lowering,
        program: verified.program(),
    });
    let mut asm = Assembler::new();
    let label = asm.new_label();
    let entry = alone.entry(label, verified);
    let generated =
        codegen::generate_speculative(&mut asm, f, alloc, entry, objects, deopt, stress);
    let code = asm
        .finish()
        .map_err(|e| format!("cannot load the code: {e}"))?;
    let entry = code.label_offset(label).expect("the entry is bound");
    let fast_entry = generated.fast_entry.and_then(|l| code.label_offset(l));
    Ok(CompiledFunction {
        code,
        entry,
        osr_entries: alone.osr.map(|pc| (pc, entry)).into_iter().collect(),
        fast_entry,
        function: generated.code,
        tables: generated.deopt,
    })
}
