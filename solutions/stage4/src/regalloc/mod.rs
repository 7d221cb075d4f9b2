//! Register allocation: every SSA value that needs a place at run time gets one
//! location for its whole life — a register, or a stack slot when the registers run
//! out — by linear scan over live intervals (Poletto and Sarkar, 1999).
//!
//! The steps, one module each:
//!
//! - [`order`]: a linear order of the blocks, reverse postorder with each loop's
//!   blocks kept together (so a value live in a loop does not stay live over code
//!   after it);
//! - [`liveness`]: positions along that order, live sets by dataflow, and one live
//!   interval per value;
//! - [`nest`]: how deep in loops each block runs, from the program's loops when it is
//!   known (an OSR variant's graph nests them inside out), else the graph's;
//! - [`saves`]: what a value live across calls may use, from loop-depth weights, and
//!   the registers saved around each call;
//! - [`linear_scan`]: the scan, which spills when no register is free;
//! - [`moves`]: the parallel moves that pass block arguments at an edge, sequenced
//!   (cycles included) with one scratch register;
//! - [`checker`]: proves an allocation right by abstract interpretation of which value
//!   each register and slot holds, as regalloc2's checker does.
//!
//! The registers (the calling convention is stage 3's, see `stage3::codegen::calls`):
//! `rbp`, `rsp`, `r12` (`CTX`), `rbx` (`FRAMES_LEFT`) and `r13` (`CALLS`) are pinned;
//! `rax`, `rdx` and `r11` are the code generator's scratch registers (division wants
//! `rax:rdx`, a call through an absolute address clobbers `r11`); the other eight are
//! allocated. Of those, only `r14` and `r15` survive calls (stage 3's code, the
//! interpreter and the Rust helpers all keep them); a value live across a call gets one
//! of the two, another register that the code generator saves around the calls, or a
//! stack slot, whichever costs least ([`saves`]). Constants get no location at all:
//! the code generator writes them as immediates where they are used
//! ("rematerialization").

pub mod checker;
pub mod linear_scan;
pub mod liveness;
pub mod moves;
pub mod nest;
pub mod order;
pub mod saves;

use stage2::Reg;

use crate::ir::{Block, Function, Inst, Op, Value, ValueDef};

/// Where a value lives for its whole life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Loc {
    /// A register.
    Reg(Reg),
    /// Stack slot `k` of the function's frame (the code generator decides where).
    Slot(u32),
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Loc::Reg(r) => write!(f, "{}", r.name()),
            Loc::Slot(k) => write!(f, "slot{k}"),
        }
    }
}

/// The registers the allocator hands out, in the order it tries them: the ones calls
/// clobber first (they cost nothing to use), then the two that survive calls (the
/// prologue must save them).
pub const ALLOCATABLE: [Reg; 8] = [
    Reg::RCX,
    Reg::RSI,
    Reg::RDI,
    Reg::R8,
    Reg::R9,
    Reg::R10,
    Reg::R14,
    Reg::R15,
];

/// The allocatable registers every call keeps (callee-saved in System V and kept by
/// every tier's code).
pub const CALLEE_SAVED: [Reg; 2] = [Reg::R14, Reg::R15];

/// The registers a call may change: every register that is not pinned or callee-saved.
pub const CALL_CLOBBERED: [Reg; 9] = [
    Reg::RAX,
    Reg::RCX,
    Reg::RDX,
    Reg::RSI,
    Reg::RDI,
    Reg::R8,
    Reg::R9,
    Reg::R10,
    Reg::R11,
];

/// The code generator's scratch registers, never allocated: any instruction may
/// change them. `MOVE_SCRATCH` breaks cycles of parallel moves.
pub const SCRATCH: [Reg; 3] = [Reg::RAX, Reg::RDX, MOVE_SCRATCH];

/// The scratch register of parallel moves (a cycle `a <- b <- a` goes through it).
pub const MOVE_SCRATCH: Reg = Reg::R11;

/// True when the instruction calls out of the function (a Mini function or a runtime
/// helper): every register but the callee-saved ones is lost across it.
pub fn clobbers(op: &Op) -> bool {
    op.is_call()
}

/// True when `value` needs no location: a constant (an integer or a function value),
/// which the code generator writes where it is used.
pub fn is_constant(f: &Function, value: Value) -> bool {
    matches!(f.def_op(value), Some(Op::Const(_) | Op::FuncRef(_)))
}

/// The tagged word of a constant value (see [`is_constant`]).
pub fn constant_word(f: &Function, value: Value) -> Option<i64> {
    match f.def_op(value)? {
        Op::Const(n) => Some(stage1::Value::int(*n).bits() as i64),
        Op::FuncRef(func) => Some(stage1::Value::function(*func).bits() as i64),
        _ => None,
    }
}

/// The result of register allocation for one function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    /// The blocks in the order the code generator lays them out.
    pub order: Vec<Block>,
    /// Each value's location (`None`: a constant, or a value of an unreachable block).
    pub locs: Vec<Option<Loc>>,
    /// How many stack slots the spilled values take.
    pub slots: u32,
    /// How many values were spilled (live in a slot rather than a register).
    pub spilled: u32,
    /// The callee-saved registers the function uses (its prologue saves them).
    pub callee_saved: Vec<Reg>,
    /// The registers saved around calls: `(call, register, slot)`, sorted by call —
    /// the code generator stores the register to the slot before the call and loads
    /// it back after ([`saves::call_saves`]).
    pub call_saves: Vec<(Inst, Reg, u32)>,
}

impl Allocation {
    /// The registers saved around call `inst`, each with its slot.
    pub fn saves_at(&self, inst: Inst) -> &[(Inst, Reg, u32)] {
        let from = self.call_saves.partition_point(|s| s.0 < inst);
        let to = self.call_saves.partition_point(|s| s.0 <= inst);
        &self.call_saves[from..to]
    }

    /// Where `value` lives; panics for a constant (which lives nowhere).
    pub fn loc(&self, value: Value) -> Loc {
        self.locs[value.index()].unwrap_or_else(|| panic!("v{} has no location", value.0))
    }
}

/// Allocates registers for `f` from [`ALLOCATABLE`].
pub fn allocate(f: &Function) -> Allocation {
    allocate_with(f, &ALLOCATABLE)
}

/// Allocates registers for `f`, whose object instructions get fast paths from an
/// object lowering (stage 6): their runtime calls run only when a fast path misses,
/// so saving a register around one costs next to nothing (see [`saves::Weights`]).
pub fn allocate_lowered(f: &Function) -> Allocation {
    allocate_weighted(f, &ALLOCATABLE, true, None)
}

/// Allocates registers for `f`, a function of the program whose loops are `nest`:
/// its blocks weigh as deep as the program's loops around their code, not as the
/// graph nests them ([`nest`]: an OSR variant's graph nests the loops around its
/// entry inside the entered one). `lowered` as for [`allocate_lowered`].
pub fn allocate_in(f: &Function, nest: &nest::LoopNest, lowered: bool) -> Allocation {
    allocate_weighted(f, &ALLOCATABLE, lowered, Some(nest))
}

/// Allocates registers for `f` from `registers` only (tests pass few registers to
/// force spilling): the order, the intervals, the scan.
pub fn allocate_with(f: &Function, registers: &[Reg]) -> Allocation {
    allocate_weighted(f, registers, false, None)
}

/// [`allocate_with`]; `lowered` as for [`allocate_lowered`], `nest` as for
/// [`allocate_in`].
fn allocate_weighted(
    f: &Function,
    registers: &[Reg],
    lowered: bool,
    nest: Option<&nest::LoopNest>,
) -> Allocation {
    let order = order::linear_order(f);
    let numbering = liveness::Numbering::new(f, &order);
    let live_in = liveness::live_in(f, &order);
    let intervals = liveness::intervals_with(f, &numbering, &live_in);
    let depths = nest::block_depths(f, nest);
    let weights = saves::Weights::new(f, &order, &live_in, &depths, lowered);
    let mut alloc = linear_scan::scan(f, order, &intervals, &weights, registers);
    alloc.call_saves = saves::call_saves(&weights, &alloc.locs, &mut alloc.slots);
    alloc
}

/// The location an edge's parallel move reads: a value's location, or a constant word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MoveSrc {
    /// The contents of a location.
    Loc(Loc),
    /// A constant word (a tagged integer or function value).
    Const(i64),
}

/// The moves that pass `args` to the parameters `params` of a block (one parallel
/// move), as a source for each destination; moves that do nothing are left out.
pub fn edge_moves(
    f: &Function,
    alloc: &Allocation,
    args: &[Value],
    params: &[Value],
) -> Vec<(MoveSrc, Loc)> {
    args.iter()
        .zip(params)
        .filter_map(|(&arg, &param)| {
            let dst = alloc.locs[param.index()]?;
            let src = match constant_word(f, arg) {
                Some(word) => MoveSrc::Const(word),
                None => MoveSrc::Loc(alloc.loc(arg)),
            };
            (src != MoveSrc::Loc(dst)).then_some((src, dst))
        })
        .collect()
}

/// Where `value` is defined, as the block that defines it (for tests and printing).
pub fn def_block(f: &Function, value: Value) -> Option<Block> {
    match f.def(value) {
        ValueDef::Param(b, _) => Some(b),
        ValueDef::Inst(inst) => f
            .blocks
            .iter()
            .position(|b| b.insts.contains(&inst))
            .map(|i| Block(i as u32)),
    }
}
