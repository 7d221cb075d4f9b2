//! Values live across calls. A call clobbers every allocatable register but `r14` and
//! `r15`, so a value live across one has three places to be, each with its cost:
//!
//! - `r14` or `r15`: the prologue saves the register and every way out restores it,
//!   once per call *of this function*, whatever the value does;
//! - any other register, saved by the code generator before each call it crosses and
//!   restored after it ([`call_saves`]): two memory accesses per call *made*;
//! - a stack slot: a store where it is defined and a load (a memory operand) per use.
//!
//! Which is cheapest depends on how often each runs, estimated from loop depth
//! ([`Weights`]: `8^depth` per execution, the depth from [`super::nest`]). `fib`'s `n`, live across one call on the
//! recursive path only, is best saved around that call (the base case then saves
//! nothing); a matrix live across the allocation of each row but read in the inner
//! loops is best in a register saved around that rare call; the loop counter of a
//! loop full of calls is best in `r14`, or in a slot.

use stage2::Reg;

use crate::ir::{Block, Function, Inst, Op, Value};

use super::liveness::{Interval, ValueSet};
use super::{clobbers, is_constant, Loc, CALLEE_SAVED};

/// What an interval's calls allow it (see the module's comment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crossing {
    /// It crosses no call: any register, the ones calls clobber first.
    None,
    /// Saving a register around its calls costs no more than the prologue saving
    /// `r14`: any register, the ones calls clobber first.
    CallerFirst,
    /// Saving around its calls costs more than the prologue's save but less than a
    /// slot: `r14`/`r15` first, else any register.
    CalleeFirst,
    /// Saving around its calls costs more than a slot: only `r14`/`r15`.
    CalleeOnly,
}

/// How often things run, estimated by loop depth, and which values each call must
/// keep.
#[derive(Clone, Debug)]
pub struct Weights {
    /// Each value's weight as saving around calls would cost it: the calls it is live
    /// across.
    across: Vec<u64>,
    /// Each value's weight as a slot would cost it: its definition and its uses.
    value: Vec<u64>,
    /// Each call, with the values live across it (live after it, its result aside).
    pub live_across: Vec<(Inst, Vec<Value>)>,
    /// Each value's partners, whose register it would best share: a jump argument's
    /// parameter and a parameter's arguments (the edge's move goes), an instruction's
    /// operands for its result (the lowering computes in place).
    partners: Vec<Vec<Value>>,
}

/// The weight of one execution at loop depth `depth`.
fn weight(depth: usize) -> u64 {
    8u64.pow(depth.min(7) as u32)
}

impl Weights {
    /// The weights of `f`'s values along the linear `order`, from the values live
    /// into each block and each block's loop depth (`depths`, indexed by block:
    /// [`super::nest::block_depths`]). `lowered`: the object instructions have fast paths (stage 6)
    /// and call the runtime only on a miss, which the code generator moves out of
    /// line with its saves: a value saved around one costs a save per *miss*, next
    /// to nothing, so such calls weigh 1/64 of one that always happens.
    pub fn new(
        f: &Function,
        order: &[Block],
        live_in: &[ValueSet],
        depths: &[u32],
        lowered: bool,
    ) -> Weights {
        let depth = |b: Block| depths[b.index()] as usize;
        let mut value = vec![0u64; f.values.len()];
        let mut across = vec![0u64; f.values.len()];
        let mut live_across = Vec::new();
        let mut partners: Vec<Vec<Value>> = vec![Vec::new(); f.values.len()];
        for &b in order {
            let w = weight(depth(b));
            let block = f.block(b);
            let mut count = |v: Value| {
                if !is_constant(f, v) {
                    value[v.index()] += w;
                }
            };
            block.params.iter().for_each(|&p| count(p));
            for &inst in &block.insts {
                let data = f.inst(inst);
                match &data.op {
                    // A frame state's values are read only by the deopt exit, as well
                    // from a slot as from a register: they cost a slot nothing, and
                    // a value that lives on only for states is the one to spill.
                    Op::Guard(guard) => guard.for_each_checked(&mut count),
                    Op::Checkpoint(_) => {}
                    op => op.for_each_arg(&mut count),
                }
                if let Some(r) = data.result {
                    count(r);
                }
            }
            block.term.for_each_arg(&mut count);
            for &inst in &block.insts {
                let data = f.inst(inst);
                if let Some(r) = data.result {
                    let mut partner = |a: Value| {
                        if !is_constant(f, a) {
                            partners[r.index()].push(a);
                        }
                    };
                    match &data.op {
                        Op::Guard(guard) => guard.for_each_checked(&mut partner),
                        op => op.for_each_arg(&mut partner),
                    }
                }
            }
            for call in block.term.calls() {
                let params = &f.block(call.block).params;
                for (&a, &p) in call.args.iter().zip(params) {
                    if !is_constant(f, a) {
                        partners[a.index()].push(p);
                        partners[p.index()].push(a);
                    }
                }
            }
            if !block.insts.iter().any(|&i| clobbers(&f.inst(i).op)) {
                continue;
            }
            // Backwards from the end: what is live after each call.
            let mut live = ValueSet::new(f.values.len());
            for s in block.term.successors() {
                live.union_with(&live_in[s.index()]);
            }
            block.term.for_each_arg(|v| {
                if !is_constant(f, v) {
                    live.insert(v);
                }
            });
            let mut calls = Vec::new();
            for &inst in block.insts.iter().rev() {
                let data = f.inst(inst);
                if let Some(r) = data.result {
                    live.remove(r);
                }
                if clobbers(&data.op) {
                    let kept: Vec<Value> = live.iter().collect();
                    let fast = lowered
                        && matches!(data.op, Op::GetField(..) | Op::SetField(..) | Op::NewObject);
                    let cost = if fast { w.div_ceil(64) } else { w };
                    for v in &kept {
                        across[v.index()] += cost;
                    }
                    calls.push((inst, kept));
                }
                data.op.for_each_arg(|v| {
                    if !is_constant(f, v) {
                        live.insert(v);
                    }
                });
            }
            live_across.extend(calls.into_iter().rev());
        }
        Weights {
            across,
            value,
            live_across,
            partners,
        }
    }

    /// What keeping `interval`'s value in a slot costs: its definition and each use,
    /// weighted by loop depth.
    pub fn spill_cost(&self, interval: &Interval) -> u64 {
        self.value[interval.value.index()]
    }

    /// What the calls `interval`'s value is live across allow it.
    pub fn crossing(&self, interval: &Interval) -> Crossing {
        let calls = self.across[interval.value.index()];
        if calls == 0 {
            return Crossing::None;
        }
        // Two memory accesses per call crossed, against the prologue's two and the
        // slot's one per definition and use.
        let around = 2 * calls;
        if around <= 2 {
            Crossing::CallerFirst
        } else if around <= self.value[interval.value.index()] {
            Crossing::CalleeFirst
        } else {
            Crossing::CalleeOnly
        }
    }
}

impl Weights {
    /// The registers of `value`'s partners that already have one (in `locs`): the
    /// registers it would best take.
    pub fn hints(&self, value: Value, locs: &[Option<Loc>]) -> Vec<Reg> {
        self.partners[value.index()]
            .iter()
            .filter_map(|p| match locs[p.index()] {
                Some(Loc::Reg(r)) => Some(r),
                _ => None,
            })
            .collect()
    }
}

/// `registers` in the order an interval that `crossing` describes tries them: its
/// `hints` first (for `CalleeFirst`, only callee-saved ones), then the callee-saved
/// registers for `CalleeFirst`, then the rest in their order.
pub fn preference(registers: &[Reg], crossing: Crossing, hints: &[Reg]) -> Vec<Reg> {
    let mut order = registers.to_vec();
    let callee_first = crossing == Crossing::CalleeFirst;
    let rank = |r: &Reg| {
        let callee = CALLEE_SAVED.contains(r);
        match hints.iter().position(|h| h == r) {
            Some(k) if callee || !callee_first => k,
            _ if callee_first && callee => hints.len(),
            _ => hints.len() + 1,
        }
    };
    // Stable: each group keeps its own order.
    order.sort_by_key(rank);
    order
}

/// The registers the code generator saves around each call, with the slot each goes
/// to: every value live across the call in a register the call clobbers. Each
/// register gets one save slot (numbered from `slots` up, which grows); the result is
/// sorted by instruction.
pub fn call_saves(
    weights: &Weights,
    locs: &[Option<Loc>],
    slots: &mut u32,
) -> Vec<(Inst, Reg, u32)> {
    let mut save_slot: Vec<(Reg, u32)> = Vec::new();
    let mut saves = Vec::new();
    for (inst, live) in &weights.live_across {
        for v in live {
            let Some(Loc::Reg(reg)) = locs[v.index()] else {
                continue;
            };
            if CALLEE_SAVED.contains(&reg) {
                continue;
            }
            let slot = match save_slot.iter().find(|(r, _)| *r == reg) {
                Some(&(_, s)) => s,
                None => {
                    let s = *slots;
                    *slots += 1;
                    save_slot.push((reg, s));
                    s
                }
            };
            saves.push((*inst, reg, slot));
        }
    }
    saves.sort_by_key(|&(inst, reg, _)| (inst, reg.number()));
    saves
}
