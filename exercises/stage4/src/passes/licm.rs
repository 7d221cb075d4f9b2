//! Loop-invariant code motion: moves instructions whose operands do not change in a
//! loop to the loop's preheader, so that they run once instead of once per
//! iteration.
//!
//! Loops are natural loops: a back edge `s → h` where `h` dominates `s`, and the
//! blocks that reach `s` without passing `h`. The preheader is `h`'s one predecessor
//! outside the loop, when it ends in a jump to `h` (what the builder makes of
//! `while`); a loop without one is left alone. Inner loops go first, so that what
//! leaves an inner loop can leave the outer one next.
//!
//! **What it proves**, per moved instruction: its operands are defined outside the
//! loop (or moved already), so it gives the same value on every iteration, and
//! running it in the preheader is invisible:
//! - a *pure* instruction ([`Op::is_pure`]), or `len(a)` of a value known to be an
//!   array, cannot fail and has no effect: it may run even when the loop body would
//!   not have (speculation is safe);
//! - an invariant instruction that *can* fail but reads nothing else — `check_int`,
//!   arithmetic, `len` — moves only when it is in the loop header and nothing before
//!   it in the header can fail or has an effect (after what moved): the header runs
//!   whenever the loop is entered, so the moved instruction fails exactly when, and
//!   with the same pc as, its first execution in the loop would have, after the same
//!   prints. `len(a)` in `while i < len(a)` moves by this rule.
//!
//! Loads (`a[i]`, `o.f`) never move: a store in the loop may change them.

use crate::ir::{Block, Dominators, Function, Op, Terminator, Value, ValueDef};

use super::{cannot_fail, is_array, Analyses, PassStats};

/// A natural loop.
pub(super) struct Loop {
    pub(super) header: Block,
    /// Per block: whether it is in the loop.
    pub(super) body: Vec<bool>,
    pub(super) size: usize,
}

impl Loop {
    /// The instructions in its blocks.
    pub(super) fn insts(&self, f: &Function) -> usize {
        (0..f.blocks.len())
            .filter(|&b| self.body[b])
            .map(|b| f.blocks[b].insts.len())
            .sum()
    }

    /// True when `v` is defined outside the loop (before it: the loop's blocks see
    /// it).
    pub(super) fn defined_outside(&self, f: &Function, v: Value) -> bool {
        match f.def(v) {
            ValueDef::Inst(def) => {
                !(0..f.blocks.len()).any(|b| self.body[b] && f.blocks[b].insts.contains(&def))
            }
            ValueDef::Param(b, _) => !self.body[b.index()],
        }
    }
}

/// The natural loops of `f` (one per header, back edges merged), smallest first.
pub(super) fn loops(f: &Function, doms: &Dominators, preds: &[Vec<Block>]) -> Vec<Loop> {
    let mut found: Vec<Loop> = Vec::new();
    for &s in doms.rpo() {
        for h in f.block(s).term.successors() {
            if !doms.dominates(h, s) {
                continue;
            }
            let at = match found.iter().position(|l| l.header == h) {
                Some(at) => at,
                None => {
                    let mut body = vec![false; f.blocks.len()];
                    body[h.index()] = true;
                    found.push(Loop {
                        header: h,
                        body,
                        size: 1,
                    });
                    found.len() - 1
                }
            };
            let l = &mut found[at];
            let mut work = vec![s];
            while let Some(b) = work.pop() {
                if l.body[b.index()] {
                    continue;
                }
                l.body[b.index()] = true;
                l.size += 1;
                work.extend(preds[b.index()].iter().copied());
            }
        }
    }
    found.sort_by_key(|l| l.size);
    found
}

/// True when `op` may fail but reads nothing but its operands, so that running it
/// first in the preheader is the same as running it first in the header.
fn deterministic(op: &Op) -> bool {
    matches!(
        op,
        Op::CheckInt(_)
            | Op::CheckArray(_)
            | Op::Binary(..)
            | Op::Neg(_)
            | Op::Shl(..)
            | Op::ArrayLen(_)
    )
}

/// Hoists the invariant instructions of every loop of `f` that has a preheader.
pub fn run(f: &mut Function, analyses: &mut Analyses, stats: &mut PassStats) {
    let graph = analyses.graph(f);
    let (doms, preds) = (graph.doms(), graph.preds());
    for l in loops(f, doms, preds) {
        let h = l.header;
        let outside: Vec<Block> = preds[h.index()]
            .iter()
            .copied()
            .filter(|p| !l.body[p.index()])
            .collect();
        let [pre] = outside.as_slice() else { continue };
        let pre = *pre;
        if !matches!(&f.block(pre).term, Terminator::Jump(call) if call.block == h) {
            continue;
        }
        // Values defined in the loop (and not moved out of it).
        let mut inside = vec![false; f.values.len()];
        for (b, data) in f.blocks.iter().enumerate() {
            if l.body[b] {
                for &p in &data.params {
                    inside[p.index()] = true;
                }
                for &i in &data.insts {
                    if let Some(r) = f.inst(i).result {
                        inside[r.index()] = true;
                    }
                }
            }
        }
        for &b in doms.rpo() {
            if !l.body[b.index()] {
                continue;
            }
            // In the header: true while nothing kept before can fail or has an effect.
            let mut clean_prefix = b == h;
            let insts = std::mem::take(&mut f.blocks[b.index()].insts);
            let mut keep = Vec::with_capacity(insts.len());
            for inst in insts {
                let op = &f.inst(inst).op;
                let mut invariant = true;
                op.for_each_arg(|v| invariant &= !inside[v.index()]);
                let safe_anywhere =
                    op.is_pure() || matches!(*op, Op::ArrayLen(a) if is_array(f, a));
                let first_in_header = clean_prefix && deterministic(op);
                if invariant && (safe_anywhere || first_in_header) {
                    if let Some(r) = f.inst(inst).result {
                        inside[r.index()] = false;
                    }
                    f.blocks[pre.index()].insts.push(inst);
                    stats.hoisted += 1;
                    continue;
                }
                if op.has_effect() || !cannot_fail(f, inst) {
                    clean_prefix = false;
                }
                keep.push(inst);
            }
            f.blocks[b.index()].insts = keep;
        }
    }
}
