//! Live intervals: positions along the linear order of the blocks, which values are
//! live into each block (a backward dataflow over the CFG), and for each value one
//! interval `[start, end]` of positions that covers every point where it is live.
//!
//! Positions: a block starting at `p` defines its parameters at `p`; its `j`th
//! instruction reads its operands at `p + 2(j + 1)` and writes its result one later;
//! its terminator reads at `p + 2(n + 1)`. An operand's last use and the result of the
//! same instruction are at different positions, so the result may take the operand's
//! register. A value live around a loop is live from the loop's header to its last
//! block, so one interval per value (its first to its last live position) is
//! conservative but exact enough: the order keeps loops contiguous.

use crate::ir::{BinOp, Block, Function, GuardKind, Op, Value};

use super::{clobbers, is_constant};

/// Positions of the blocks and instructions along a linear order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Numbering {
    /// Each block's start (where its parameters are defined); `u32::MAX` when the
    /// block is not in the order (unreachable).
    pub block_start: Vec<u32>,
    /// Each block's terminator position.
    pub block_end: Vec<u32>,
    /// Each instruction's position (where it reads its operands).
    pub inst_pos: Vec<u32>,
    /// The positions of the instructions that call out ([`clobbers`]), ascending.
    pub calls: Vec<u32>,
}

impl Numbering {
    /// Numbers the blocks of `order` and their instructions.
    pub fn new(f: &Function, order: &[Block]) -> Numbering {
        let mut block_start = vec![u32::MAX; f.blocks.len()];
        let mut block_end = vec![u32::MAX; f.blocks.len()];
        let mut inst_pos = vec![u32::MAX; f.insts.len()];
        let mut calls = Vec::new();
        let mut pos = 0u32;
        for &b in order {
            block_start[b.index()] = pos;
            for &inst in &f.blocks[b.index()].insts {
                pos += 2;
                inst_pos[inst.index()] = pos;
                if clobbers(&f.inst(inst).op) {
                    calls.push(pos);
                }
            }
            pos += 2;
            block_end[b.index()] = pos;
            pos += 2;
        }
        Numbering {
            block_start,
            block_end,
            inst_pos,
            calls,
        }
    }

    /// The numbered blocks, in their order.
    pub fn order(&self, f: &Function) -> Vec<Block> {
        let mut blocks: Vec<Block> = (0..f.blocks.len() as u32)
            .map(Block)
            .filter(|b| self.block_start[b.index()] != u32::MAX)
            .collect();
        blocks.sort_by_key(|b| self.block_start[b.index()]);
        blocks
    }

    /// True when some call is strictly inside `[start, end]`: a value live there must
    /// survive it.
    pub fn crosses_call(&self, start: u32, end: u32) -> bool {
        let first_after = self.calls.partition_point(|&c| c <= start);
        self.calls.get(first_after).is_some_and(|&c| c < end)
    }
}

/// A value's live interval: every position where it is live is in `start..=end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub value: Value,
    pub start: u32,
    pub end: u32,
}

/// A set of values as bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueSet(Vec<u64>);

impl ValueSet {
    /// An empty set for values below `n`.
    pub fn new(n: usize) -> ValueSet {
        ValueSet(vec![0; n.div_ceil(64)])
    }

    /// Adds `v`.
    pub fn insert(&mut self, v: Value) {
        self.0[v.index() / 64] |= 1 << (v.index() % 64);
    }

    /// Removes `v`.
    pub fn remove(&mut self, v: Value) {
        self.0[v.index() / 64] &= !(1 << (v.index() % 64));
    }

    /// Whether `v` is in.
    pub fn contains(&self, v: Value) -> bool {
        self.0[v.index() / 64] & (1 << (v.index() % 64)) != 0
    }

    /// Adds every value of `other`; true when that changed the set.
    pub fn union_with(&mut self, other: &ValueSet) -> bool {
        let mut changed = false;
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            let new = *a | b;
            changed |= new != *a;
            *a = new;
        }
        changed
    }

    /// The values in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = Value> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &bits)| {
            (0..64)
                .filter(move |b| bits & (1 << b) != 0)
                .map(move |b| Value((w * 64 + b) as u32))
        })
    }
}

/// The values live into each block (parameters excluded: the block defines them),
/// by the backward dataflow `in(b) = uses(b) ∪ (out(b) − defs(b))`, `out(b) = ∪ in(s)`
/// over the successors `s`. Jump arguments are uses in the jumping block. Constants
/// are never live (they have no location).
pub fn live_in(f: &Function, order: &[Block]) -> Vec<ValueSet> {
    let n = f.values.len();
    let mut live_in = vec![ValueSet::new(n); f.blocks.len()];
    todo!(
        "live-intervals: the backward dataflow: walk each block from its terminator up (a use makes a value live, a definition ends it), until nothing changes — book §4.25"
    );
    live_in
}

/// One interval per value that needs a location, sorted by start: from its
/// definition to its last use, widened over every block it is live into or out of.
pub fn intervals(f: &Function, numbering: &Numbering) -> Vec<Interval> {
    let order = numbering.order(f);
    intervals_with(f, numbering, &live_in(f, &order))
}

/// True for a guard whose instruction is arithmetic that may overflow (see
/// [`intervals_with`]).
fn guards_arithmetic(op: &Op) -> bool {
    match op {
        Op::Guard(guard) => matches!(
            guard.kind,
            GuardKind::Op(Op::Binary(..) | Op::Neg(_) | Op::Shl(..))
        ),
        _ => false,
    }
}

/// Whether `v` is an operand of a guarded `add`, `sub` or `mul` (`op`) that its
/// result may overwrite in place: either operand of an `add` (`a + b` is `b + a`),
/// the left one of a `sub`, the right one of a `mul`, unless both operands are the
/// same value. Its deopt stub gives the operand back before the frame state is read:
/// it undoes an `add` or `sub` (`sub` what was added, `add` what was subtracted:
/// wrapping arithmetic gives the operand back exactly, from the other operand, which
/// nothing wrote), and tags a `mul`'s right operand again from its untagged copy,
/// which the multiplication reads from `rdx` and leaves there. So the operand need
/// not outlive the result's start (see `codegen`'s guard lowering).
pub fn undone_in_place(op: &Op, v: Value) -> bool {
    match op {
        Op::Guard(guard) => match guard.kind {
            GuardKind::Op(Op::Binary(BinOp::Add, a, b)) if a != b => v == a || v == b,
            GuardKind::Op(Op::Binary(BinOp::Sub, a, b)) if a != b => v == a,
            GuardKind::Op(Op::Binary(BinOp::Mul, a, b)) if a != b => v == b,
            _ => false,
        },
        _ => false,
    }
}

/// [`intervals`], from the values `live_in` each block (as [`live_in`] gives them).
pub fn intervals_with(f: &Function, numbering: &Numbering, live_in: &[ValueSet]) -> Vec<Interval> {
    let order = numbering.order(f);
    let mut range: Vec<Option<(u32, u32)>> = vec![None; f.values.len()];
    let mut cover = |v: Value, pos: u32| {
        let r = &mut range[v.index()];
        *r = Some(match *r {
            None => (pos, pos),
            Some((s, e)) => (s.min(pos), e.max(pos)),
        });
    };
    for &b in &order {
        let block = f.block(b);
        let (start, end) = (
            numbering.block_start[b.index()],
            numbering.block_end[b.index()],
        );
        for &p in &block.params {
            cover(p, start);
        }
        for v in live_in[b.index()].iter() {
            cover(v, start);
        }
        for s in block.term.successors() {
            for v in live_in[s.index()].iter() {
                cover(v, end);
            }
        }
        for &inst in &block.insts {
            let data = f.inst(inst);
            let pos = numbering.inst_pos[inst.index()];
            // A guard on arithmetic writes its result before its overflow check, whose
            // deopt exit reads the frame state: the state's values reach past the
            // result's start (the result never shares their register, so it is
            // computed in place). But an operand of an `add` or `sub` that the deopt
            // stub restores (see [`undone_in_place`]); and an operand the state
            // does not hold (`sum + (i*3 - 7)` reassociated by `bounds`: the state has
            // `sum + i*3`, not `i*3 - 7`) is read before the result is written, as
            // any instruction's, so the result may take its register.
            let state_until = if guards_arithmetic(&data.op) {
                pos + 1
            } else {
                pos
            };
            let mut read = |v: Value, until: u32| {
                if !is_constant(f, v) {
                    cover(v, until);
                }
            };
            match &data.op {
                Op::Guard(guard) => {
                    guard.for_each_checked(|v| read(v, pos));
                    guard.state.for_each_value(|v| {
                        read(
                            v,
                            if undone_in_place(&data.op, v) {
                                pos
                            } else {
                                state_until
                            },
                        )
                    });
                }
                op => op.for_each_arg(|v| read(v, pos)),
            }
            if let Some(r) = data.result {
                if !is_constant(f, r) {
                    cover(r, pos + 1);
                }
            }
        }
        block.term.for_each_arg(|v| {
            if !is_constant(f, v) {
                cover(v, end);
            }
        });
    }
    let mut intervals: Vec<Interval> = range
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.map(|(start, end)| Interval {
                value: Value(i as u32),
                start,
                end,
            })
        })
        .collect();
    intervals.sort_by_key(|i| (i.start, i.value));
    intervals
}
