//! Code generation: an IR function and its register allocation become x86-64, written
//! through the stage 2 assembler into stage 3's program-wide assembler (see
//! `stage3::codegen::Tier`), so optimized functions, template functions and
//! interpreted ones call each other directly.
//!
//! The calling convention is stage 3's (`stage3::codegen::calls`): the caller passes
//! the address of its first argument in `rdi` (argument `k` at `[rdi - 8k]`), the
//! result comes back in `rax` or the word `ERROR_WORD` when the callee failed, after
//! which the caller leaves through its one error exit, adding its frame
//! (`rt_raise(ctx, kind, func, pc)`). `CTX` (`r12`), `FRAMES_LEFT` (`rbx`) and
//! `CALLS` (`r13`) stay pinned; `r14` and `r15`, when the allocation uses them, are
//! saved in the frame and restored on every way out.
//!
//! ```text
//!   | return address              |
//!   | saved rbp                   | <- rbp
//!   | saved r14 / r15 (if used)   |
//!   | spill slot 0, 1, ...        |
//!   | ... padding to 16 bytes     |
//!   | outgoing arguments          | <- rsp (argument k of a call at [rsp + 8(n-1-k)])
//! ```
//!
//! Values are tagged words in their locations (an integer `n` is `n << 1`): `add` and
//! `sub` work on the words with `jo`; `mul` untags one side; `div` and `mod` untag
//! both. Constants are immediates where they fit. Checks jump to out-of-line stubs,
//! one per error kind and pc, at the end of the function.

pub mod adapters;
mod lower;

use std::ops::Range;
use std::time::Duration;

use stage1::objects::Sites;
use stage1::{ErrorKind, FnId, Program};
use stage2::{Assembler, Cond, Imm32, Label, Mem, Reg};
use stage3::codegen::linkage::Linkage;
use stage3::codegen::{FunctionCode, CALLS, CTX, FRAMES_LEFT};
use stage3::context::DEOPT_COUNTDOWN_OFFSET;
use stage3::runtime::{error_code, rt_raise, KIND_RECORDED, NO_FRAME};

use crate::deopt::{self, Deoptimizer, FrameRecord, GuardRecord, Location, RtCallCounting};
use crate::ir::{Function, GuardKind, Inst, Op, Terminator, Value};
use crate::objects::Objects;
use crate::regalloc::{self, Allocation, Loc};

/// Scratch register: computations happen here before their result goes to its
/// location (also `idiv`'s dividend and quotient).
pub const ACC: Reg = Reg::RAX;
/// Second scratch register (`idiv`'s remainder, tag checks, indices).
pub const TMP: Reg = Reg::RDX;
/// Third scratch register (divisors, stored values, the cycles of parallel moves).
pub const TMP2: Reg = regalloc::MOVE_SCRATCH;

/// What one IR instruction (or a block's start or end) became, for the listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// The prologue.
    Prologue,
    /// The start of a block (its label).
    Block(crate::ir::Block),
    /// An instruction.
    Inst(Inst),
    /// A block's terminator, with the moves of its edges.
    Terminator(crate::ir::Block),
    /// The error stubs and the exit path.
    SlowPaths,
    /// The guards' deopt stubs and the common deopt exit (stage 7).
    DeoptExits,
}

/// One function's code: what stage 3 records of every function, and where each
/// piece of the IR went.
#[derive(Debug)]
pub struct Generated {
    pub code: FunctionCode,
    /// Each piece's code range, in the order written.
    pub pieces: Vec<(Piece, Range<usize>)>,
    /// The deopt table of its guards ([`Deoptimizer::table`]), `None` when it has
    /// none. The code holds its address: keep this box (not a copy) as long as the
    /// code (`CompiledFunction::tables`).
    pub deopt: Option<Box<dyn std::any::Any + Send>>,
    /// The function's fast entry (arguments in [`ARG_REGS`]), when it has one: where
    /// other optimized code may call it directly.
    pub fast_entry: Option<Label>,
}

/// A guard's way out (stage 7): its deopt stub, and the stub the stress countdown
/// jumps to, both on to the common deopt exit with the guard's number.
#[derive(Clone, Copy)]
struct DeoptExit {
    inst: Inst,
    label: Label,
    stress: Option<Label>,
    /// The frames its stub gives back: the inlined calls' around the guard, or in
    /// code whose copies take none ([`InlinedFrames`]), those lent to a call there.
    depth: u32,
}

/// An out-of-line stub that gives back the operand a guarded instruction overwrote
/// in `dst`, then jumps to the guard's deopt stub `to`: the operand is back in its
/// register for the frame state.
#[derive(Clone, Copy)]
struct Undo {
    label: Label,
    dst: Reg,
    how: Undone,
    to: Label,
}

/// How an [`Undo`] stub gives an operand back.
#[derive(Clone, Copy)]
enum Undone {
    /// `dst -= src` after `dst += src` (`dst += src` after a `sub`, with
    /// `subtract`): a guarded `add` or `sub` computed in an operand's register.
    AddSub {
        src: stage2::RegMemImm<Reg>,
        subtract: bool,
    },
    /// `dst = 2 * TMP`: a guarded `mul` computed in its right operand's register,
    /// whose untagged copy it multiplied by is still in `TMP`.
    Retag,
}

/// An out-of-line stub raising error `kind` (a code, or `KIND_RECORDED`) at `pc`.
#[derive(Clone, Copy)]
struct Stub {
    label: Label,
    kind: u64,
    pc: u64,
    /// The instruction's [`crate::ir::InstData::frame`]: 0, or an inlined call's.
    frame: u32,
}

/// The runtime call of an object instruction whose fast path missed, out of line:
/// emitted at `label` after the function's blocks, it goes back to `back`.
#[derive(Clone, Copy)]
struct SlowPath {
    label: Label,
    inst: Inst,
    back: Label,
}

/// The state of generating one function.
pub(crate) struct FnGen<'a> {
    asm: &'a mut Assembler,
    f: &'a Function,
    alloc: &'a Allocation,
    /// Where this function's code starts.
    entry: Label,
    /// Where its calls of known functions go (labels, or the function table).
    linkage: Linkage<'a>,
    /// Calls without a fast entry go through the compiled-entry table
    /// ([`Entry::compiled_calls`]).
    compiled_calls: bool,
    /// An on-stack-replacement entry (see [`Entry::osr`]).
    osr: bool,
    /// The fast entries of direct calls between optimized functions, in a whole
    /// program.
    fast: Option<&'a mut FastEntries>,
    func: FnId,
    /// The program's sites (see [`Entry::sites`]).
    sites: &'a Sites,
    /// Each block's label.
    labels: Vec<Label>,
    stubs: Vec<Stub>,
    /// The undo stubs of guarded `add`s and `sub`s computed in their left operand's
    /// register (see [`FnGen::undo_stub`]).
    undos: Vec<Undo>,
    /// The one exit path of errors.
    raise: Label,
    /// Bytes of saved registers and spill slots below `rbp`.
    saved_bytes: i32,
    /// The frame's size below `rbp`, a multiple of 16.
    frame_size: i32,
    /// How many uses each value has (a compare used once, by the branch right after
    /// it, becomes `cmp; jcc`).
    uses: Vec<u32>,
    /// Which values are integers on every execution ([`known_ints`]): an array index
    /// among them needs no tag test.
    ints: Vec<bool>,
    /// The fast paths of object instructions, when a later stage gives them.
    objects: Option<Objects<'a>>,
    /// The runtime calls of those fast paths' misses.
    slow: Vec<SlowPath>,
    /// The values an earlier field access of the block being generated used as its
    /// object: past that access they are objects (it raised `type error` otherwise),
    /// so the object lowering skips their tag test.
    objects_seen: Vec<Value>,
    /// The objects whose shape is known, with it: each left by a guarded field
    /// access (stage 7) that hit — a miss deoptimizes, nothing runs on after it —
    /// until an instruction that may change shapes (a field added, any call); at
    /// every block's start, none.
    shapes: Vec<(Value, u64)>,
    /// The guards' checks, table and runtime (stage 7), for speculative IR.
    deoptimizer: Option<&'a dyn Deoptimizer>,
    /// Each guard's stress check first (see [`generate_speculative`]).
    stress: bool,
    /// While a guard's instruction is generated: its deopt stub, where every
    /// failure of the instruction goes instead of its error.
    deopt_to: Option<Label>,
    /// The guards' exits, by guard number.
    deopts: Vec<DeoptExit>,
    /// Their records, by guard number.
    records: Vec<GuardRecord>,
    /// A compare that the branch guard after it takes along (see
    /// [`FnGen::guard_takes_along`]): the compare, its result, and the word that
    /// result has when the guard fails.
    cond_compare: Option<(Inst, Value, i64)>,
    /// The value whose untagged integer `TMP` holds, left by an array access's index
    /// for the next access with the same index (`a[k]` then `b[k]`): set by the
    /// access, forgotten at any other instruction and at every block's start.
    untagged: Option<Value>,
    /// The instruction before the one being generated, in its block (a `mul` may
    /// take the `check_int` of its operand along, see
    /// [`FnGen::check_fused_into_mul`]).
    prev_inst: Option<Inst>,
    /// How `enter` and `leave` keep the frame count (see [`InlinedFrames`]).
    frames: InlinedFrames,
    /// How many inlined calls deep each frame is ([`frame_depths`]).
    depths: Vec<u32>,
    /// By block: the calls not yet counted when it starts (see
    /// [`InlinedFrames::pending`]), left by its one predecessor.
    carried: Vec<u32>,
    /// By block: how many jumps of the function lead to it, and its place in the
    /// order of generation (for [`FnGen::count_calls_at_end`]).
    jumps_to: Vec<(u32, usize)>,
    /// Out-of-line ways to an error stub that count calls first:
    /// `label: add r13, k; jmp stub` ([`FnGen::counted_exit`]).
    counting_exits: Vec<(Label, u32, Label)>,
}

/// How the frames of inlined calls are counted in one function's code.
///
/// Stage 4's way (`counted: false`): each `enter` takes its frame from `FRAMES_LEFT`
/// (`sub rbx, 1; jb overflow`) and each `leave` gives it back, as the calls would.
///
/// Speculative code's way (`counted: true`: code with guards, compiled with a
/// deoptimizer; stage 7's fib is three calls deep in copies of itself, and a copy's
/// bookkeeping was a fifth of what it ran; without a bet, the code is stage 4's):
/// `FRAMES_LEFT` stays at the function's own count, and every place that reads it
/// knows statically how many inlined frames are live there (the depth of its
/// instruction's frame). A call in inlined code at depth `d` lends them for the
/// call (`sub rbx, d` before, `add rbx, d` once no other such call follows: the two
/// calls of a copy of fib share one pair); a deopt exit gives nothing back. An
/// `enter` checks without writing (`cmp rbx, d; jbe overflow`: `d` frames live
/// and none left for this one), or, when the entry checked once that frames are
/// left for the deepest nest of inlined calls (`budget`), not at all: one `cmp; jb`
/// per call of the function instead of one per inlined call. When that check fails
/// (fewer than `budget` frames left, only near the limit), the call runs in the
/// interpreter instead (`Deoptimizer::counting_call`), which takes every frame one
/// at a time: `stack overflow` comes at the exact call, with the exact trace.
#[derive(Clone, Copy, Debug, Default)]
struct InlinedFrames {
    /// `FRAMES_LEFT` is the function's own count, not the inlined calls'.
    counted: bool,
    /// Frames the entry checks are left for the inlined calls (0: none, every
    /// `enter` checks), and the runtime function that runs the call when fewer are.
    budget: Option<(u32, RtCallCounting)>,
    /// Frames lent to calls now (`FRAMES_LEFT` is this much below the function's
    /// own count).
    lent: u32,
    /// Where the entry goes when the budget's check fails, and whether the
    /// arguments are in [`ARG_REGS`] there (else at `[rdi - 8k]`).
    short: Option<(Label, bool)>,
    /// Calls of `enter`s passed and not yet added to `CALLS`: they are added at
    /// once (`add r13, k`) before anything that may leave the code or read the
    /// count (an instruction that can fail: a check, a guard, a call) and at a
    /// block's end, unless the block goes on into blocks it alone jumps to, which
    /// take the count along (`carried`). `fib`'s copies nest in such blocks, their
    /// `enter`s three deep are one `add r13, 3` before the real call.
    pending: u32,
}

/// How many inlined calls deep each frame of `f` is (`depths[k]` for
/// `InstData::frame == k`; 0 for the function's own code).
fn frame_depths(f: &Function) -> Vec<u32> {
    let mut depths = vec![0u32; f.frames.len() + 1];
    for (k, frame) in f.frames.iter().enumerate() {
        // A frame's caller comes before it (`inline_at` pushes it first).
        debug_assert!((frame.caller as usize) <= k, "a frame after its caller");
        depths[k + 1] = depths[frame.caller as usize] + 1;
    }
    depths
}

/// The registers of the arguments of a direct call between optimized functions
/// (argument `k` in `ARG_REGS[k]`, through the callee's fast entry, see
/// [`FastEntries`]): the allocator's first choices, so that a callee's parameters
/// are often in them already.
pub const ARG_REGS: [Reg; 6] = [Reg::RCX, Reg::RSI, Reg::RDI, Reg::R8, Reg::R9, Reg::R10];

/// The fast entries of the optimized functions of one program: a direct call from one
/// optimized function to another passes its arguments in [`ARG_REGS`] rather than
/// through memory, and enters the callee after its standard entry, which loads the
/// registers from `[rdi - 8k]` for every other caller (stage 3 code, the interpreter,
/// the function table) and falls into the fast one — as HotSpot's adapters do
/// between its interpreted and compiled conventions.
///
/// A function gets one when the engine says it is generated here, in the same
/// assembler, and its arity fits the registers. Labels are made on first use, by a
/// caller or by the function itself; stage 3 may generate the program again from the
/// start in a new assembler (after declining a function), which is seen as a function
/// generated again: the labels of the old assembler are forgotten then.
#[derive(Clone, Debug, Default)]
pub struct FastEntries {
    eligible: Vec<bool>,
    labels: Vec<Option<Label>>,
    last: Option<FnId>,
}

impl FastEntries {
    /// Fast entries for the functions of `program` that `generated` marks (those this
    /// code generator writes, every time the program is generated).
    pub fn new(program: &Program, generated: &[bool]) -> FastEntries {
        let eligible: Vec<bool> = program
            .functions
            .iter()
            .zip(generated)
            .map(|(f, &g)| g && f.arity as usize <= ARG_REGS.len())
            .collect();
        FastEntries {
            labels: vec![None; eligible.len()],
            eligible,
            last: None,
        }
    }

    /// A fast entry for `func` alone (of `arity` arguments), when the arguments fit
    /// the registers: the function's calls of itself.
    fn only(func: FnId, arity: usize) -> FastEntries {
        let mut eligible = vec![false; func as usize + 1];
        eligible[func as usize] = arity <= ARG_REGS.len();
        FastEntries {
            labels: vec![None; eligible.len()],
            eligible,
            last: None,
        }
    }

    /// Notes that `func` is being generated; a function not after the last one means
    /// a new assembler.
    fn begin(&mut self, func: FnId) {
        if self.last.is_some_and(|last| func <= last) {
            self.labels.iter_mut().for_each(|l| *l = None);
        }
        self.last = Some(func);
    }

    /// The fast entry of `func`, if one was made.
    fn bound(&self, func: FnId) -> Option<Label> {
        self.labels.get(func as usize).copied().flatten()
    }

    /// The fast entry of `func`, if it has one.
    fn label(&mut self, asm: &mut Assembler, func: FnId) -> Option<Label> {
        let i = func as usize;
        (self.eligible.get(i).copied().unwrap_or(false))
            .then(|| *self.labels[i].get_or_insert_with(|| asm.new_label()))
    }
}

/// Generates `f` (allocated by `alloc`) into `asm` at `entries[f.id]`, its calls
/// direct to the other functions' labels (a whole program in one assembler), those
/// of functions with a fast entry (`fast`) to it.
pub fn generate(
    asm: &mut Assembler,
    sites: &Sites,
    f: &Function,
    alloc: &Allocation,
    entries: &[Label],
    fast: &mut FastEntries,
) -> Generated {
    fast.begin(f.id);
    let entry = Entry {
        label: entries[f.id as usize],
        linkage: Linkage::Labels(entries),
        compiled_calls: false,
        sites,
        osr: false,
    };
    generate_with(asm, f, alloc, entry, Some(fast), None, None, false)
}

/// How a function's code is entered and how it reaches its callees.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    /// The label bound at the code's start.
    pub label: Label,
    /// Where its calls of known functions go: `Labels` in a whole-program assembler,
    /// `Table` for a function compiled alone (stage 5's tiers).
    pub linkage: Linkage<'a>,
    /// With `Linkage::Table`: a call of a function with no fast entry here goes
    /// through stage 5's compiled-entry table (`NativeContext::compiled_entries`),
    /// its arguments in [`ARG_REGS`] (`true`), or through the function table, its
    /// arguments in memory (`false`: a run that sets up no compiled-entry table).
    pub compiled_calls: bool,
    /// The code is an on-stack-replacement entry (`f` from `ir::build::build_osr`):
    /// its entry block's parameters (the frame state) come from `[rdi - 8k]` as
    /// arguments do, but the frame it runs in was counted where it began (in a lower
    /// tier), so the prologue takes no frame from `FRAMES_LEFT` and counts no call.
    /// Its `return` gives a frame back, as every return does.
    pub osr: bool,
    /// The program's sites: the runtime helpers of field accesses are told theirs.
    pub sites: &'a Sites,
}

/// Generates `f` (allocated by `alloc`) into `asm` at `entry.label`. A function's
/// ordinary code (not an OSR entry) calls *itself* directly, through its own fast
/// entry, whatever the linkage: the table could only lead back to this code while it
/// runs (a tiered run installs a function's optimized code once, for good), and a
/// recursive function's calls then cost what they cost in a whole program. With
/// `objects`, its object instructions get the fast paths a later stage gives (see
/// [`crate::objects`]).
pub fn generate_entered(
    asm: &mut Assembler,
    f: &Function,
    alloc: &Allocation,
    entry: Entry<'_>,
    objects: Option<Objects<'_>>,
) -> Generated {
    generate_alone(asm, f, alloc, entry, objects, None, false)
}

/// [`generate_entered`] for speculative IR (stage 7), whose guards get deopt exits
/// and metadata ([`Generated::deopt`], see [`crate::deopt`]) from `deopt`. With
/// `stress`, every
/// guard first counts down the context's deopt countdown
/// (`sub qword [CTX + DEOPT_COUNTDOWN_OFFSET], 1`) and deoptimizes (reason
/// `"stress"`) when it reaches zero, so that tests can make any guard fail.
pub fn generate_speculative(
    asm: &mut Assembler,
    f: &Function,
    alloc: &Allocation,
    entry: Entry<'_>,
    objects: Option<Objects<'_>>,
    deopt: &dyn Deoptimizer,
    stress: bool,
) -> Generated {
    generate_alone(asm, f, alloc, entry, objects, Some(deopt), stress)
}

/// A function generated alone ([`generate_entered`]): its own fast entry, unless it
/// is an OSR entry.
fn generate_alone(
    asm: &mut Assembler,
    f: &Function,
    alloc: &Allocation,
    entry: Entry<'_>,
    objects: Option<Objects<'_>>,
    deopt: Option<&dyn Deoptimizer>,
    stress: bool,
) -> Generated {
    let mut own = FastEntries::only(f.id, f.arity());
    let fast = (!entry.osr).then_some(&mut own);
    generate_with(asm, f, alloc, entry, fast, objects, deopt, stress)
}

/// [`generate_entered`], with the fast entries of a whole program.
#[allow(clippy::too_many_arguments)]
fn generate_with<'a>(
    asm: &'a mut Assembler,
    f: &'a Function,
    alloc: &'a Allocation,
    entry: Entry<'a>,
    fast: Option<&'a mut FastEntries>,
    objects: Option<Objects<'a>>,
    deoptimizer: Option<&'a dyn Deoptimizer>,
    stress: bool,
) -> Generated {
    let labels = (0..f.blocks.len()).map(|_| asm.new_label()).collect();
    let raise = asm.new_label();
    let saved = alloc.callee_saved.len() as i32;
    let saved_bytes = 8 * (saved + alloc.slots as i32);
    let outgoing = 8 * max_outgoing(f) as i32;
    let frame_size = (saved_bytes + outgoing + 15) & !15;
    let mut uses = vec![0u32; f.values.len()];
    for &b in &alloc.order {
        let block = f.block(b);
        for &inst in &block.insts {
            f.inst(inst).op.for_each_arg(|v| uses[v.index()] += 1);
        }
        block.term.for_each_arg(|v| uses[v.index()] += 1);
    }
    let mut gen = FnGen {
        asm,
        f,
        alloc,
        entry: entry.label,
        linkage: entry.linkage,
        compiled_calls: entry.compiled_calls,
        osr: entry.osr,
        fast,
        func: f.id,
        sites: entry.sites,
        labels,
        stubs: Vec::new(),
        undos: Vec::new(),
        raise,
        saved_bytes,
        frame_size,
        uses,
        ints: known_ints(f, &alloc.order),
        objects,
        slow: Vec::new(),
        objects_seen: Vec::new(),
        shapes: Vec::new(),
        deoptimizer,
        stress,
        deopt_to: None,
        deopts: Vec::new(),
        records: Vec::new(),
        cond_compare: None,
        untagged: None,
        prev_inst: None,
        frames: InlinedFrames::default(),
        depths: frame_depths(f),
        carried: vec![0; f.blocks.len()],
        counting_exits: Vec::new(),
        jumps_to: Vec::new(),
    };
    if deoptimizer.is_some() && !f.frames.is_empty() && deopt::speculates(f) {
        let deepest = gen.depths.iter().copied().max().unwrap_or(0);
        gen.frames = InlinedFrames {
            counted: true,
            budget: deoptimizer
                .and_then(|d| d.counting_call())
                .filter(|_| !entry.osr && deepest > 0)
                .map(|rt| (deepest, rt)),
            lent: 0,
            short: None,
            pending: 0,
        };
        gen.jumps_to = vec![(0, usize::MAX); f.blocks.len()];
        for (k, &b) in alloc.order.iter().enumerate() {
            gen.jumps_to[b.index()].1 = k;
            for s in f.block(b).term.successors() {
                gen.jumps_to[s.index()].0 += 1;
            }
        }
    }
    gen.gen_function()
}

/// Whether `TMP` still holds the untagged index an array access left there after
/// `op` (see `FnGen::untagged`): another array access, or an integer guard between
/// two (`ai[k]`, its value checked, then `b[k]`), whose check is a `test` of its own
/// register.
fn keeps_untagged(op: &Op) -> bool {
    match op {
        Op::ArrayGet(..) | Op::ArraySet(..) => true,
        Op::Guard(guard) => matches!(guard.kind, crate::ir::GuardKind::Int(_)),
        _ => false,
    }
}

/// For each value of `f`: true when it is an integer on every execution — the result
/// of an instruction that gives one ([`Op::gives_int`]), or a block parameter every
/// jump passes one (solved optimistically: a loop counter is an integer because its
/// increment is, and the other way round). The entry's parameters can be anything.
fn known_ints(f: &Function, order: &[crate::ir::Block]) -> Vec<bool> {
    let mut known: Vec<bool> = f
        .values
        .iter()
        .map(|def| match *def {
            crate::ir::ValueDef::Inst(inst) => f.gives_int(inst),
            crate::ir::ValueDef::Param(b, _) => b != crate::ir::ENTRY,
        })
        .collect();
    let mut changed = true;
    while changed {
        changed = false;
        for &b in order {
            for call in f.block(b).term.calls() {
                let params = &f.block(call.block).params;
                for (&p, &a) in params.iter().zip(&call.args) {
                    if known[p.index()] && !known[a.index()] {
                        known[p.index()] = false;
                        changed = true;
                    }
                }
            }
        }
    }
    known
}

/// The most words a call or `new_array` of `f` passes in memory.
fn max_outgoing(f: &Function) -> usize {
    f.insts
        .iter()
        .map(|i| match &i.op {
            Op::Guard(guard) => match &guard.kind {
                GuardKind::Op(op) => outgoing(op),
                _ => 0,
            },
            op => outgoing(op),
        })
        .max()
        .unwrap_or(0)
}

/// The words `op` passes in memory.
fn outgoing(op: &Op) -> usize {
    match op {
        Op::Call { args, .. } | Op::CallValue { args, .. } | Op::NewArray(args) => args.len(),
        _ => 0,
    }
}

/// Where a value is, as an operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opnd {
    Reg(Reg),
    Mem(Mem),
    /// A constant word.
    Imm(i64),
}

impl FnGen<'_> {
    /// Generates the whole function.
    fn gen_function(&mut self) -> Generated {
        let start = self.asm.offset();
        let mut pieces = Vec::new();
        self.asm.bind(self.entry);
        let fast = self.fast_entry(self.func);
        if let Some(fast) = fast {
            // The standard entry: the arguments from `[rdi - 8k]` into their
            // registers (`rdi`'s last), then on into the fast entry.
            let n = self.f.blocks[0].params.len();
            let rdi_last = (0..n)
                .filter(|&k| ARG_REGS[k] != Reg::RDI)
                .chain((0..n).filter(|&k| ARG_REGS[k] == Reg::RDI));
            for k in rdi_last {
                self.asm
                    .mov(ARG_REGS[k], Mem::base_disp(Reg::RDI, -8 * k as i32));
            }
            self.asm.bind(fast);
        }
        self.gen_prologue(fast.is_some());
        pieces.push((Piece::Prologue, start..self.asm.offset()));
        let order = self.alloc.order.clone();
        for (k, &b) in order.iter().enumerate() {
            let begin = self.asm.offset();
            self.asm.bind(self.labels[b.index()]);
            pieces.push((Piece::Block(b), begin..begin));
            self.frames.pending = self.carried[b.index()];
            let next = order.get(k + 1).copied();
            let insts = &self.f.block(b).insts;
            let fused = self.fused_compare(b);
            self.objects_seen.clear();
            self.shapes.clear();
            self.untagged = None;
            for (j, &inst) in insts.iter().enumerate() {
                if fused.is_some() && j + 1 == insts.len() {
                    break;
                }
                if !keeps_untagged(&self.f.inst(inst).op) {
                    self.untagged = None;
                }
                let begin = self.asm.offset();
                let next_inst = insts.get(j + 1).copied();
                if next_inst.is_some_and(|mul| self.check_fused_into_mul(inst, mul).is_some()) {
                    // Its code is the `mul`'s: the untagging shift's carry is the test.
                    pieces.push((Piece::Inst(inst), begin..begin));
                    continue;
                }
                self.prev_inst = j.checked_sub(1).map(|k| insts[k]);
                self.lend_frames_for(inst);
                if self.guard_takes_along(inst, insts.get(j + 1).copied()) {
                    // Its code is the guard's: `cmp; jcc` to the deopt stub.
                    pieces.push((Piece::Inst(inst), begin..begin));
                    continue;
                }
                if !self.gen_object_fast_path(inst) {
                    let done = self.asm.new_label();
                    self.gen_field_probe(inst, done);
                    self.gen_saved(inst);
                    self.asm.bind(done);
                    if self.f.inst(inst).op.is_call() {
                        self.shapes.clear();
                    }
                }
                self.note_object(inst);
                pieces.push((Piece::Inst(inst), begin..self.asm.offset()));
            }
            let begin = self.asm.offset();
            // Blocks start with no frames lent (and the function returns so).
            self.lend_frames(0);
            self.count_calls_at_end(b, k);
            if let Some(inst) = fused {
                pieces.push((Piece::Inst(inst), begin..begin));
            }
            self.gen_terminator(b, fused, next);
            pieces.push((Piece::Terminator(b), begin..self.asm.offset()));
        }
        let slow = self.asm.offset();
        self.untagged = None;
        self.prev_inst = None;
        for k in 0..self.slow.len() {
            let SlowPath { label, inst, back } = self.slow[k];
            self.asm.bind(label);
            self.gen_field_probe(inst, back);
            self.gen_saved(inst);
            self.asm.jmp(back);
        }
        self.gen_counting_call();
        for (label, calls, exit) in std::mem::take(&mut self.counting_exits) {
            self.asm.bind(label);
            self.asm.add(CALLS, Imm32(calls as i32));
            self.asm.jmp(exit);
        }
        for k in 0..self.stubs.len() {
            let Stub {
                label,
                kind,
                pc,
                frame,
            } = self.stubs[k];
            self.asm.bind(label);
            // In inlined code: the inlined function's frame first, then each caller's
            // at its call (`Frame::caller`, out to this function's), as the calls'
            // own error exits would have added them.
            let (mut kind, mut pc, mut frame) = (kind, pc, frame);
            while frame != 0 {
                let inlined = self.f.frames[frame as usize - 1];
                self.asm.mov(Reg::RDI, CTX);
                self.asm.mov_imm(Reg::RSI, kind as i64);
                self.asm.mov_imm(Reg::RDX, inlined.func as i64);
                self.asm.mov_imm(Reg::RCX, pc as i64);
                self.asm.call_abs(rt_raise as *const () as u64);
                (kind, pc, frame) = (KIND_RECORDED, u64::from(inlined.call_pc), inlined.caller);
            }
            self.asm.mov_imm(Reg::RSI, kind as i64);
            self.asm.mov_imm(Reg::RCX, pc as i64);
            self.asm.jmp(self.raise);
        }
        self.asm.bind(self.raise);
        self.asm.mov(Reg::RDI, CTX);
        self.asm.mov_imm(Reg::RDX, self.func as i64);
        self.asm.call_abs(rt_raise as *const () as u64);
        self.gen_leave();
        let deopts = self.asm.offset();
        pieces.push((Piece::SlowPaths, slow..deopts));
        let table = self.gen_deopt_exits();
        let end = self.asm.offset();
        if table.is_some() {
            pieces.push((Piece::DeoptExits, deopts..end));
        }
        // For the crash describer (`stage3::code_map`): each bytecode pc's code, as the
        // biggest piece of it (an instruction's code may be split by the passes).
        let pcs = self
            .f
            .insts
            .iter()
            .map(|i| i.pc as usize + 1)
            .max()
            .unwrap_or(0);
        let mut instrs: Vec<Range<usize>> = vec![0..0; pcs];
        for (piece, range) in &pieces {
            if let Piece::Inst(inst) = piece {
                if self.f.inst(*inst).frame != 0 {
                    // An inlined function's pc, not this function's.
                    continue;
                }
                let at = &mut instrs[self.f.inst(*inst).pc as usize];
                if range.len() > at.len() {
                    *at = range.clone();
                }
            }
        }
        Generated {
            code: FunctionCode {
                entry: self.entry,
                range: start..end,
                prologue: pieces[0].1.clone(),
                instrs,
                slow_paths: slow..end,
                time: Duration::ZERO,
                frame_bytes: self.frame_size as usize + stage3::codegen::frame::FRAME_OVERHEAD,
            },
            pieces,
            deopt: table,
            fast_entry: self.fast.as_ref().and_then(|f| f.bound(self.func)),
        }
    }

    /// The guards' deopt stubs and the common deopt exit (see [`crate::deopt`]), and
    /// the table their code holds the address of; nothing without guards.
    fn gen_deopt_exits(&mut self) -> Option<Box<dyn std::any::Any + Send>> {
        if self.deopts.is_empty() {
            return None;
        }
        // Only speculative IR has guards, and it is generated with a deoptimizer
        // (`generate_speculative`); `tiered` refuses guards without one.
        let deoptimizer = self
            .deoptimizer
            .expect("guards are generated with a deoptimizer");
        let table = deoptimizer.table(&self.records);
        for undo in std::mem::take(&mut self.undos) {
            self.asm.bind(undo.label);
            match undo.how {
                Undone::AddSub {
                    src,
                    subtract: true,
                } => self.asm.add(undo.dst, src),
                Undone::AddSub { src, .. } => self.asm.sub(undo.dst, src),
                Undone::Retag => {
                    self.asm.mov(undo.dst, TMP);
                    self.asm.add(undo.dst, undo.dst);
                }
            }
            self.asm.jmp(undo.to);
        }
        let common = self.asm.new_label();
        for (number, exit) in self.deopts.clone().into_iter().enumerate() {
            let stubs = [(Some(exit.label), 0), (exit.stress, deopt::STRESS_BIT)];
            for (label, bit) in stubs {
                let Some(label) = label else { continue };
                self.asm.bind(label);
                if exit.depth > 0 {
                    // The frames of the inlined calls around the guard (or, in code
                    // whose copies take none, those lent to a call), given back.
                    self.asm.add(FRAMES_LEFT, Imm32(exit.depth as i32));
                }
                // `rax` is scratch: every allocatable register may hold a value.
                self.asm.mov_imm(ACC, number as i64 | bit as i64);
                self.asm.jmp(common);
            }
        }
        self.asm.bind(common);
        // The save area: `ALLOCATABLE[i]` at `rsp + 8i`; 64 bytes keep `rsp` 16-byte
        // aligned (it is at the frame's bottom at every guard).
        for &r in regalloc::ALLOCATABLE.iter().rev() {
            self.asm.push(r);
        }
        self.asm.mov(Reg::RDX, ACC);
        self.asm.mov(Reg::RCX, Reg::RSP);
        self.asm.mov(Reg::RDI, CTX);
        let address = &*table as *const (dyn std::any::Any + Send) as *const u8;
        self.asm.mov_imm(Reg::RSI, address as i64);
        self.asm.mov(Reg::R8, Reg::RBP);
        self.asm.mov(Reg::R9, FRAMES_LEFT);
        // The seventh argument, the code's entry address, on the stack (twice, for
        // the alignment): from the address of `here`, where a call pushes it.
        let here = self.asm.new_label();
        self.asm.call(here);
        self.asm.bind(here);
        let entry = self
            .asm
            .label_offset(self.entry)
            .expect("the entry is bound");
        let back = (self.asm.offset() - entry) as i32;
        self.asm.pop(ACC);
        self.asm.sub(ACC, Imm32(back));
        self.asm.push(ACC);
        self.asm.push(ACC);
        // The call count through the context, as a declined function's stub passes
        // it: the frames resumed count their calls there (and the native calls they
        // make, through the trampoline).
        self.asm
            .mov_mr(Mem::base_disp(CTX, stage3::context::CALLS_OFFSET), CALLS);
        self.asm.call_abs(deoptimizer.runtime() as *const () as u64);
        self.asm
            .mov(CALLS, Mem::base_disp(CTX, stage3::context::CALLS_OFFSET));
        // The frames' result in `rax`: the function returns it (the error word
        // included: its frames are in the trace already).
        self.asm.add(FRAMES_LEFT, Imm32(1));
        self.gen_leave();
        Some(table)
    }

    /// A label that undoes `dst += src` (`dst -= src` with `subtract`) and goes on to
    /// the deopt stub `to`, emitted out of line with the deopt exits: a guarded
    /// `add` or `sub` that overflowed in its left operand's register gives the
    /// operand back before the frame state is read.
    fn undo_stub(
        &mut self,
        dst: Reg,
        src: stage2::RegMemImm<Reg>,
        subtract: bool,
        to: Label,
    ) -> Label {
        let label = self.asm.new_label();
        self.undos.push(Undo {
            label,
            dst,
            how: Undone::AddSub { src, subtract },
            to,
        });
        label
    }

    /// A label that tags `dst` again from `TMP` (`dst = 2 * TMP`) and goes on to the
    /// deopt stub `to`, out of line as [`FnGen::undo_stub`]'s: a guarded `mul` that
    /// overflowed in its right operand's register, whose untagged copy it
    /// multiplied by, gives the operand back before the frame state is read.
    fn retag_stub(&mut self, dst: Reg, to: Label) -> Label {
        let label = self.asm.new_label();
        self.undos.push(Undo {
            label,
            dst,
            how: Undone::Retag,
            to,
        });
        label
    }

    /// The deopt stub of guard `inst`, made (with its record, and its stress check
    /// emitted here when compiled with stress) on first use.
    fn guard_exit(&mut self, inst: Inst) -> Label {
        if let Some(exit) = self.deopts.iter().rev().find(|d| d.inst == inst) {
            return exit.label;
        }
        let f = self.f;
        let Op::Guard(guard) = &f.inst(inst).op else {
            unreachable!("guard_exit of a guard");
        };
        let frames = guard
            .state
            .frames
            .iter()
            .map(|frame| FrameRecord {
                func: frame.func,
                pc: frame.pc as usize,
                locals: frame.locals.iter().map(|&v| self.location(v)).collect(),
                operands: frame.operands.iter().map(|&v| self.location(v)).collect(),
            })
            .collect();
        let record = GuardRecord {
            reason: guard.reason(),
            frames,
        };
        let depth = if self.frames.counted {
            // Only a guard that calls out may be passed with frames lent: its stress
            // countdown deopts before the call.
            self.frames.lent
        } else {
            record.inline_depth() as u32
        };
        self.records.push(record);
        let label = self.asm.new_label();
        let stress = self.stress.then(|| self.asm.new_label());
        if let Some(stress) = stress {
            self.asm
                .sub_mi(Mem::base_disp(CTX, DEOPT_COUNTDOWN_OFFSET), Imm32(1));
            self.asm.jcc(Cond::E, stress);
        }
        self.deopts.push(DeoptExit {
            inst,
            label,
            stress,
            depth,
        });
        label
    }

    /// Gives guard `inst`'s record (made by [`Self::guard_exit`]) another reason than
    /// its kind's.
    fn rename_guard(&mut self, inst: Inst, reason: &'static str) {
        let k = self
            .deopts
            .iter()
            .rposition(|d| d.inst == inst)
            .expect("the guard's exit is made");
        self.records[k].reason = reason;
    }

    /// True when `inst`, a compare (or a `not`), is taken along by the branch guard
    /// `next` (`cmp; jcc` to its stub, as a branch takes its compare along): the
    /// guard is the only user of its result (as its condition and in its frame
    /// state, where the value is known when the guard fails: 0 for a guard that
    /// wants it true, 1 for one that wants it false). Not with stress, whose deopts
    /// happen with the condition either way.
    fn guard_takes_along(&mut self, inst: Inst, next: Option<Inst>) -> bool {
        let data = self.f.inst(inst);
        let (false, Some(r), Some(next)) = (self.stress, data.result, next) else {
            return false;
        };
        if !matches!(data.op, Op::Compare(..) | Op::Not(_)) {
            return false;
        }
        let next = &self.f.inst(next).op;
        let Op::Guard(guard) = next else {
            return false;
        };
        let GuardKind::Cond(v, expected) = guard.kind else {
            return false;
        };
        let mut uses = 0;
        next.for_each_arg(|a| uses += u32::from(a == r));
        if v != r || uses != self.uses[r.index()] {
            return false;
        }
        let failing = stage1::Value::int(i64::from(!expected)).bits() as i64;
        self.cond_compare = Some((inst, r, failing));
        true
    }

    /// Where `v` is, for the deopt table.
    fn location(&self, v: Value) -> Location {
        if let Some((_, r, failing)) = self.cond_compare {
            if r == v {
                // A compare taken along by the guard: never computed, known when the
                // guard fails.
                return Location::Const(failing);
            }
        }
        if let Some(word) = regalloc::constant_word(self.f, v) {
            return Location::Const(word);
        }
        match self.alloc.loc(v) {
            Loc::Reg(r) => {
                let i = regalloc::ALLOCATABLE.iter().position(|&a| a == r);
                Location::Reg(i.expect("values live in allocatable registers") as u8)
            }
            Loc::Slot(s) => Location::Slot(self.slot_disp(s)),
        }
    }

    /// Generates `inst`; a call has the registers live across it (`saves_at`) stored
    /// before it and loaded after.
    fn gen_saved(&mut self, inst: Inst) {
        let alloc = self.alloc;
        let saves = alloc.saves_at(inst);
        for &(_, r, slot) in saves {
            self.asm.mov_mr(self.slot(slot), r);
        }
        self.gen_inst(inst);
        for &(_, r, slot) in saves {
            self.asm.mov(r, self.slot(slot));
        }
    }

    /// Where the entry goes when fewer frames are left than its inlined calls may
    /// take (see [`InlinedFrames`]): gives its frame and its call back, lays the
    /// arguments out in memory (argument `k` at `[rdx - 8k]`) and has the
    /// deoptimizer's `counting_call` run the call in the interpreter, as a declined
    /// function's stub has `rt_call_interpreted` do (the call count through the
    /// context); its result, or the error word with the frames the interpreter
    /// passed, is this call's. Nothing when the entry checks no budget.
    fn gen_counting_call(&mut self) {
        let (Some((short, in_regs)), Some((_, rt))) = (self.frames.short, self.frames.budget)
        else {
            return;
        };
        self.asm.bind(short);
        self.asm.add(FRAMES_LEFT, Imm32(1));
        self.asm.sub(CALLS, Imm32(1));
        let n = self.f.arity();
        if in_regs {
            // `rsp` is 16-byte aligned here (the frame's size is a multiple of 16):
            // a word of padding above the arguments when they are odd in number.
            if n % 2 == 1 {
                self.asm.sub(Reg::RSP, Imm32(8));
            }
            for &r in &ARG_REGS[..n] {
                self.asm.push(r);
            }
            let first = 8 * n.saturating_sub(1) as i32;
            self.asm.lea(Reg::RDX, Mem::base_disp(Reg::RSP, first));
        } else {
            self.asm.mov(Reg::RDX, Reg::RDI);
        }
        self.asm
            .mov_mr(Mem::base_disp(CTX, stage3::context::CALLS_OFFSET), CALLS);
        self.asm.mov(Reg::RDI, CTX);
        self.asm.mov_imm(Reg::RSI, self.func as i64);
        self.asm.mov(Reg::RCX, FRAMES_LEFT);
        self.asm.call_abs(rt as *const () as u64);
        self.asm
            .mov(CALLS, Mem::base_disp(CTX, stage3::context::CALLS_OFFSET));
        self.gen_leave();
    }

    /// Before `inst`: `FRAMES_LEFT` lowered for the frames of the inlined calls
    /// around it when it calls a function (its callee's prologue reads it), raised
    /// back to the function's own count when it reads it otherwise (an `enter`'s
    /// check, a guard's deopt exit); as it is between other instructions, so that
    /// the calls of one copy share one `sub` and one `add` (see [`InlinedFrames`]).
    fn lend_frames_for(&mut self, inst: Inst) {
        if !self.frames.counted {
            return;
        }
        let data = self.f.inst(inst);
        // An `enter`'s check counts them on its way out only (`counted_exit`).
        if data.op.can_fail() && !matches!(data.op, Op::Enter) {
            self.count_calls();
        }
        let calls = |op: &Op| matches!(op, Op::Call { .. } | Op::CallValue { .. });
        match &data.op {
            op if calls(op) => self.lend_frames(self.depths[data.frame as usize]),
            Op::Guard(guard) => match &guard.kind {
                GuardKind::Op(op) if calls(op) => {
                    self.lend_frames(self.depths[data.frame as usize])
                }
                _ => self.lend_frames(0),
            },
            Op::Enter => self.lend_frames(0),
            _ => {}
        }
    }

    /// At the end of block `b` (at `position` in the order): the calls not yet
    /// counted go along into its successors when it is the only block that jumps to
    /// each and each comes later (see [`InlinedFrames::pending`]); else they are
    /// counted here.
    fn count_calls_at_end(&mut self, b: crate::ir::Block, position: usize) {
        if self.frames.pending == 0 {
            return;
        }
        let successors = self.f.block(b).term.successors();
        let alone = !successors.is_empty()
            && successors.iter().all(|&s| {
                let (jumps, at) = self.jumps_to[s.index()];
                jumps == 1 && at != usize::MAX && at > position
            });
        if alone {
            for s in successors {
                self.carried[s.index()] = self.frames.pending;
            }
            self.frames.pending = 0;
        } else {
            self.count_calls();
        }
    }

    /// `exit`, or when calls are not yet counted (see [`InlinedFrames::pending`]),
    /// an out-of-line way to it that counts them first.
    pub(super) fn counted_exit(&mut self, exit: Label) -> Label {
        if self.frames.pending == 0 {
            return exit;
        }
        let label = self.asm.new_label();
        self.counting_exits.push((label, self.frames.pending, exit));
        label
    }

    /// Adds the calls not yet counted to `CALLS` (see [`InlinedFrames::pending`]).
    fn count_calls(&mut self) {
        if self.frames.pending > 0 {
            self.asm.add(CALLS, Imm32(self.frames.pending as i32));
            self.frames.pending = 0;
        }
    }

    /// Makes `FRAMES_LEFT` `frames` below the function's own count (see
    /// [`InlinedFrames`]).
    fn lend_frames(&mut self, frames: u32) {
        let lent = self.frames.lent;
        if frames > lent {
            self.asm.sub(FRAMES_LEFT, Imm32((frames - lent) as i32));
        } else if frames < lent {
            self.asm.add(FRAMES_LEFT, Imm32((lent - frames) as i32));
        }
        self.frames.lent = frames;
    }

    /// The prologue: the frame, the callee-saved registers it uses, one frame from
    /// `FRAMES_LEFT` (`stack overflow`, charged to the caller, when none is left), the
    /// call counted (neither at an OSR entry), and each argument (or frame-state word)
    /// moved from `[rdi - 8k]` to its location.
    fn gen_prologue(&mut self, in_regs: bool) {
        self.asm.push(Reg::RBP);
        self.asm.mov(Reg::RBP, Reg::RSP);
        if self.frame_size > 0 {
            self.asm.sub(Reg::RSP, Imm32(self.frame_size));
        }
        // Saved before anything can fail: the exit path restores them.
        for (k, &r) in self.alloc.callee_saved.iter().enumerate() {
            self.asm
                .mov_mr(Mem::base_disp(Reg::RBP, -8 * (k as i32 + 1)), r);
        }
        if !self.osr {
            let overflow = self.stub(error_code(ErrorKind::StackOverflow) as u64, NO_FRAME, 0);
            self.asm.sub(FRAMES_LEFT, Imm32(1));
            self.asm.jcc(Cond::B, overflow);
            self.asm.add(CALLS, Imm32(1));
            if let Some((budget, _)) = self.frames.budget {
                // Frames for the deepest nest of inlined calls, or the interpreter
                // (see `InlinedFrames`): the arguments are still where they came.
                let short = self.asm.new_label();
                self.frames.short = Some((short, in_regs));
                self.asm.cmp(FRAMES_LEFT, Imm32(budget as i32));
                self.asm.jcc(Cond::B, short);
            }
        }
        let params = &self.f.blocks[0].params;
        if in_regs {
            let parallel: Vec<(regalloc::MoveSrc, Loc)> = params
                .iter()
                .enumerate()
                .filter_map(|(k, p)| {
                    let dst = self.alloc.locs[p.index()]?;
                    Some((regalloc::MoveSrc::Loc(Loc::Reg(ARG_REGS[k])), dst))
                })
                .collect();
            for m in regalloc::moves::sequence(&parallel, TMP2) {
                self.emit_move(m);
            }
        } else if params.iter().any(|p| self.alloc.locs[p.index()].is_some()) {
            // `rdi` may be some parameter's register: then read the arguments through
            // TMP2.
            let in_rdi = params
                .iter()
                .any(|p| self.alloc.locs[p.index()] == Some(Loc::Reg(Reg::RDI)));
            let base = if in_rdi { TMP2 } else { Reg::RDI };
            if in_rdi {
                self.asm.mov(TMP2, Reg::RDI);
            }
            for (k, &p) in params.iter().enumerate() {
                let arg = Mem::base_disp(base, -8 * k as i32);
                match self.alloc.locs[p.index()] {
                    Some(Loc::Reg(r)) => self.asm.mov(r, arg),
                    Some(Loc::Slot(s)) => {
                        self.asm.mov(ACC, arg);
                        self.asm.mov_mr(self.slot(s), ACC);
                    }
                    None => {}
                }
            }
        }
    }

    /// The fast entry of `func`, when this is a whole program's code and `func` has
    /// one.
    fn fast_entry(&mut self, func: FnId) -> Option<Label> {
        let fast = self.fast.as_mut()?;
        fast.label(self.asm, func)
    }

    /// Restores the callee-saved registers, drops the frame and returns (`rax` is the
    /// result or the error word).
    fn gen_leave(&mut self) {
        for (k, &r) in self.alloc.callee_saved.iter().enumerate() {
            self.asm
                .mov(r, Mem::base_disp(Reg::RBP, -8 * (k as i32 + 1)));
        }
        self.asm.mov(Reg::RSP, Reg::RBP);
        self.asm.pop(Reg::RBP);
        self.asm.ret();
    }

    /// Spill slot `s`, below the saved registers.
    fn slot(&self, s: u32) -> Mem {
        Mem::base_disp(Reg::RBP, self.slot_disp(s))
    }

    /// Spill slot `s`'s offset from `rbp`.
    fn slot_disp(&self, s: u32) -> i32 {
        let saved = self.alloc.callee_saved.len() as i32;
        let disp = -8 * (saved + s as i32 + 1);
        debug_assert!(-disp <= self.saved_bytes);
        disp
    }

    /// The stub raising `kind` at `pc` (of this function's code, or of the inlined
    /// call `frame`), made on first use.
    fn stub(&mut self, kind: u64, pc: u64, frame: u32) -> Label {
        if let Some(s) = self
            .stubs
            .iter()
            .rev()
            .take(8)
            .find(|s| s.kind == kind && s.pc == pc && s.frame == frame)
        {
            return s.label;
        }
        let label = self.asm.new_label();
        self.stubs.push(Stub {
            label,
            kind,
            pc,
            frame,
        });
        label
    }

    /// The function whose code `inst` is: this one, or an inlined one.
    fn func_of(&self, inst: Inst) -> FnId {
        match self.f.inst(inst).frame {
            0 => self.func,
            k => self.f.frames[k as usize - 1].func,
        }
    }

    /// The label raising `kind` at the pc of `inst`; while a guard's instruction is
    /// generated, the guard's deopt stub (the interpreter redoes the instruction).
    fn error(&mut self, kind: ErrorKind, inst: Inst) -> Label {
        if let Some(deopt) = self.deopt_to {
            return deopt;
        }
        let data = self.f.inst(inst);
        let (pc, frame) = (data.pc as u64, data.frame);
        self.stub(error_code(kind) as u64, pc, frame)
    }

    /// After a call: leave through the exit path, adding this frame at the pc of
    /// `inst`, when it returned the error word.
    fn check_error_result(&mut self, inst: Inst) {
        let data = self.f.inst(inst);
        let (pc, frame) = (data.pc as u64, data.frame);
        let exit = self.stub(KIND_RECORDED, pc, frame);
        self.asm.cmp(ACC, Imm32(stage1::value::ERROR_WORD as i32));
        self.asm.jcc(Cond::E, exit);
    }

    /// Where `v` is.
    fn opnd(&self, v: Value) -> Opnd {
        if let Some(word) = regalloc::constant_word(self.f, v) {
            return Opnd::Imm(word);
        }
        match self.alloc.loc(v) {
            Loc::Reg(r) => Opnd::Reg(r),
            Loc::Slot(s) => Opnd::Mem(self.slot(s)),
        }
    }

    /// Loads `v` into `reg`.
    fn load(&mut self, reg: Reg, v: Value) {
        match self.opnd(v) {
            Opnd::Reg(r) if r == reg => {}
            Opnd::Reg(r) => self.asm.mov(reg, r),
            Opnd::Mem(m) => self.asm.mov(reg, m),
            Opnd::Imm(w) => self.asm.mov_imm(reg, w),
        }
    }

    /// Writes `reg` to the location of the value `inst` defines.
    fn store_result(&mut self, inst: Inst, reg: Reg) {
        let Some(v) = self.f.inst(inst).result else {
            return;
        };
        match self.alloc.locs[v.index()] {
            Some(Loc::Reg(r)) if r == reg => {}
            Some(Loc::Reg(r)) => self.asm.mov(r, reg),
            Some(Loc::Slot(s)) => self.asm.mov_mr(self.slot(s), reg),
            None => {}
        }
    }

    /// Writes `v` to memory `dst` (through `ACC` when it is in memory or a big
    /// constant).
    fn store_value(&mut self, dst: Mem, v: Value) {
        self.store_value_through(dst, v, ACC);
    }

    /// Writes `v` to memory `dst`, through `scratch` when it is in memory or a big
    /// constant (an array element's address may use `ACC` and `TMP`).
    fn store_value_through(&mut self, dst: Mem, v: Value, scratch: Reg) {
        match self.opnd(v) {
            Opnd::Reg(r) => self.asm.mov_mr(dst, r),
            Opnd::Imm(w) if i32::try_from(w).is_ok() => self.asm.mov_mi(dst, Imm32(w as i32)),
            _ => {
                self.load(scratch, v);
                self.asm.mov_mr(dst, scratch);
            }
        }
    }

    /// One move of an edge or a helper's arguments.
    fn emit_move(&mut self, m: regalloc::moves::Move) {
        use regalloc::MoveSrc;
        let dst = match m.dst {
            Loc::Reg(r) => Opnd::Reg(r),
            Loc::Slot(s) => Opnd::Mem(self.slot(s)),
        };
        let src = match m.src {
            MoveSrc::Const(w) => Opnd::Imm(w),
            MoveSrc::Loc(Loc::Reg(r)) => Opnd::Reg(r),
            MoveSrc::Loc(Loc::Slot(s)) => Opnd::Mem(self.slot(s)),
        };
        match (dst, src) {
            (Opnd::Reg(d), Opnd::Reg(s)) => self.asm.mov(d, s),
            (Opnd::Reg(d), Opnd::Mem(s)) => self.asm.mov(d, s),
            (Opnd::Reg(d), Opnd::Imm(w)) => self.asm.mov_imm(d, w),
            (Opnd::Mem(d), Opnd::Reg(s)) => self.asm.mov_mr(d, s),
            (Opnd::Mem(d), Opnd::Imm(w)) if i32::try_from(w).is_ok() => {
                self.asm.mov_mi(d, Imm32(w as i32))
            }
            (Opnd::Mem(d), Opnd::Imm(w)) => {
                self.asm.mov_imm(ACC, w);
                self.asm.mov_mr(d, ACC);
            }
            (Opnd::Mem(d), Opnd::Mem(s)) => {
                self.asm.mov(ACC, s);
                self.asm.mov_mr(d, ACC);
            }
            (Opnd::Imm(_), _) => unreachable!("a move never writes a constant"),
        }
    }

    /// The moves of the edge `args -> block`'s parameters, sequenced.
    fn edge_moves(&self, call: &crate::ir::BlockCall) -> Vec<regalloc::moves::Move> {
        let params = &self.f.block(call.block).params;
        let moves = regalloc::edge_moves(self.f, self.alloc, &call.args, params);
        regalloc::moves::sequence(&moves, TMP2)
    }

    /// The compare that the branch ending `b` takes along (`cmp; jcc`), if any: the
    /// block's last instruction, a compare (or a `not`, `test; jz`) whose only use is
    /// the branch's condition.
    fn fused_compare(&self, b: crate::ir::Block) -> Option<Inst> {
        let block = self.f.block(b);
        let Terminator::Branch { cond, .. } = &block.term else {
            return None;
        };
        let &last = block.insts.last()?;
        let data = self.f.inst(last);
        (matches!(data.op, Op::Compare(..) | Op::Not(_))
            && data.result == Some(*cond)
            && self.uses[cond.index()] == 1)
            .then_some(last)
    }

    /// When `check` is `c = check_int x` right before `mul`, which multiplies by `c`
    /// (the operand it untags) and is its only use: `x`, whose check the `mul` makes
    /// itself — `sar` shifts the tag bit out into the carry flag, and `jc` to the
    /// check's `type error` replaces its `test` and `jne`, at the same point.
    /// Stage 7's `c = guard int x` before a (guarded) `mul` too, its `jc` to the
    /// guard's deopt stub, when `c` is where `x` is (the `mul`'s own frame state may
    /// read it there, and nothing writes it).
    fn check_fused_into_mul(&self, check: Inst, mul: Inst) -> Option<Value> {
        use crate::ir::{BinOp, GuardKind};
        let data = self.f.inst(check);
        let c = data.result?;
        let x = match &data.op {
            Op::CheckInt(x) if self.uses[c.index()] == 1 && self.deopt_to.is_none() => *x,
            Op::Guard(guard) => match guard.kind {
                GuardKind::Int(x) if self.alloc.locs[c.index()] == self.alloc.locs[x.index()] => x,
                _ => return None,
            },
            _ => return None,
        };
        let (a, b) = match &self.f.inst(mul).op {
            Op::Binary(BinOp::Mul, a, b) if matches!(data.op, Op::CheckInt(_)) => (*a, *b),
            Op::Guard(guard) if matches!(data.op, Op::Guard(_)) => match guard.kind {
                GuardKind::Op(Op::Binary(BinOp::Mul, a, b)) => (a, b),
                _ => return None,
            },
            _ => return None,
        };
        let untagged_operand = !matches!(self.opnd(a), Opnd::Imm(_)) && b == c;
        (untagged_operand && a != c && !matches!(self.opnd(x), Opnd::Imm(_))).then_some(x)
    }

    /// The compare of a block that holds nothing but a compare fused with its branch.
    fn only_compare(&self, b: crate::ir::Block) -> Option<Inst> {
        let compare = self.fused_compare(b)?;
        (self.f.block(b).insts.len() == 1).then_some(compare)
    }

    /// A block's terminator; `next` is the block laid out after it (no jump there).
    fn gen_terminator(
        &mut self,
        b: crate::ir::Block,
        fused: Option<Inst>,
        next: Option<crate::ir::Block>,
    ) {
        match self.f.block(b).term.clone() {
            Terminator::Return(v) => {
                self.load(ACC, v);
                self.asm.add(FRAMES_LEFT, Imm32(1));
                self.gen_leave();
            }
            Terminator::Jump(call) => {
                for m in self.edge_moves(&call) {
                    self.emit_move(m);
                }
                if next == Some(call.block) {
                    return;
                }
                match self.only_compare(call.block) {
                    // A loop's back edge to a header that only tests the loop's
                    // condition: the test here, so that an iteration ends in one
                    // taken `jcc` rather than a `jmp` to the test (the loop rotated
                    // into do-while form, as compilers lay loops out).
                    Some(compare) if call.block != b => {
                        self.gen_terminator(call.block, Some(compare), next)
                    }
                    _ => self.asm.jmp(self.labels[call.block.index()]),
                }
            }
            Terminator::Branch { cond, then, else_ } => {
                // The condition as flags: `cc` holds when `then` is taken.
                let cc = match fused {
                    Some(inst) => match self.f.inst(inst).op.clone() {
                        Op::Compare(op, a, b) => {
                            self.gen_cmp(a, b);
                            lower::condition(op)
                        }
                        Op::Not(a) => {
                            // `!a` holds when `a` is 0.
                            self.gen_test(a);
                            Cond::E
                        }
                        _ => unreachable!("fused_compare gives a compare or a not"),
                    },
                    None => match self.opnd(cond) {
                        Opnd::Imm(w) => {
                            // A known condition: only one edge is taken.
                            let taken = if w != 0 { then } else { else_ };
                            for m in self.edge_moves(&taken) {
                                self.emit_move(m);
                            }
                            if next != Some(taken.block) {
                                self.asm.jmp(self.labels[taken.block.index()]);
                            }
                            return;
                        }
                        Opnd::Reg(r) => {
                            self.asm.test(r, r);
                            Cond::NE
                        }
                        Opnd::Mem(m) => {
                            self.asm.cmp_mi(m, Imm32(0));
                            Cond::NE
                        }
                    },
                };
                let then_moves = self.edge_moves(&then);
                let else_moves = self.edge_moves(&else_);
                let then_label = self.labels[then.block.index()];
                let else_label = self.labels[else_.block.index()];
                if then_moves.is_empty()
                    && else_moves.is_empty()
                    && next != Some(then.block)
                    && next != Some(else_.block)
                {
                    // Neither falls through: one `jcc` and one `jmp`, and an iteration
                    // of a loop should pass only the `jcc`. So it goes back to the
                    // nearer of the targets laid out already (a loop's body: the
                    // rotated back edge of an inner loop laid out after the code
                    // around it), backward branches being the ones loops take; to
                    // `else` when neither is.
                    let back = |label| self.asm.label_offset(label).map_or(-1, |o| o as i64);
                    let (cc, taken, other) = if back(then_label) > back(else_label) {
                        (cc, then_label, else_label)
                    } else {
                        (cc.invert(), else_label, then_label)
                    };
                    self.asm.jcc(cc, taken);
                    self.asm.jmp(other);
                    return;
                }
                if else_moves.is_empty() {
                    // Not taken: straight to `else`; taken: `then`'s moves, then there.
                    if then_moves.is_empty() && next == Some(else_.block) {
                        self.asm.jcc(cc, then_label);
                        return;
                    }
                    self.asm.jcc(cc.invert(), else_label);
                    for m in then_moves {
                        self.emit_move(m);
                    }
                    if next != Some(then.block) {
                        self.asm.jmp(then_label);
                    }
                } else if then_moves.is_empty() {
                    self.asm.jcc(cc, then_label);
                    for m in else_moves {
                        self.emit_move(m);
                    }
                    if next != Some(else_.block) {
                        self.asm.jmp(else_label);
                    }
                } else {
                    let other = self.asm.new_label();
                    self.asm.jcc(cc.invert(), other);
                    for m in then_moves {
                        self.emit_move(m);
                    }
                    self.asm.jmp(then_label);
                    self.asm.bind(other);
                    for m in else_moves {
                        self.emit_move(m);
                    }
                    if next != Some(else_.block) {
                        self.asm.jmp(else_label);
                    }
                }
            }
        }
    }

    /// `cmp a, b` on the tagged words (any operand forms).
    fn gen_cmp(&mut self, a: Value, b: Value) {
        let (oa, ob) = (self.opnd(a), self.opnd(b));
        match (oa, ob) {
            (Opnd::Reg(r), _) => {
                let src = self.rmi(b, TMP);
                self.asm.cmp(r, src);
            }
            (Opnd::Mem(m), Opnd::Imm(w)) if i32::try_from(w).is_ok() => {
                self.asm.cmp_mi(m, Imm32(w as i32))
            }
            _ => {
                self.load(ACC, a);
                let src = self.rmi(b, TMP);
                self.asm.cmp(ACC, src);
            }
        }
    }

    /// `v` as the source operand of an ALU instruction: its register, its slot, or
    /// an immediate; a constant too big for 32 bits goes to `tmp` first.
    fn rmi(&mut self, v: Value, tmp: Reg) -> stage2::RegMemImm<Reg> {
        match self.opnd(v) {
            Opnd::Reg(r) => r.into(),
            Opnd::Mem(m) => m.into(),
            Opnd::Imm(w) => match i32::try_from(w) {
                Ok(i) => Imm32(i).into(),
                Err(_) => {
                    self.asm.mov_imm(tmp, w);
                    tmp.into()
                }
            },
        }
    }
}
