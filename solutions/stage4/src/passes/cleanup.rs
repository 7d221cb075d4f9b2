//! Cleanup: simplifies the control-flow graph that the other passes leave, then
//! drops the blocks no path from the entry reaches (SCCP leaves the dead arms of
//! branches unreachable) and renumbers blocks, instructions and values densely in
//! the canonical order ([`Function::compact`]).
//!
//! **What it proves**: that each change keeps every path's instructions in order.
//! - A jump to an *empty forwarding block* (no instructions, ending in a jump) goes
//!   straight to where that block goes, with the arguments it would pass (its
//!   parameters replaced by what the jump passes to them), provided nothing but
//!   that jump uses its parameters; other values it passes dominate it, hence every
//!   block jumping to it.
//! - A branch whose two arms go to the same block with the same arguments is a jump
//!   (the condition was checked to be an integer before, so nothing can fail).
//! - A block whose only predecessor jumps to it is appended to that predecessor, its
//!   parameters replaced by the jump's arguments.
//! - An unreachable block never runs; renumbering changes names, not meaning.

use crate::ir::{Block, BlockCall, Function, Terminator, Value, ENTRY};

use super::{Analyses, PassStats, Renames, Uses};

/// Simplifies the CFG of `f`, drops unreachable blocks and renumbers.
pub fn run(f: &mut Function, analyses: &mut Analyses, _stats: &mut PassStats) {
    let order = analyses.graph(f).rpo();
    thread_jumps(f, order);
    merge_blocks(f);
    f.compact();
    analyses.graph_changed();
}

/// Where a jump to `call` can go instead, when `call.block` is an empty forwarding
/// block.
fn forward(f: &Function, uses: &Uses, call: &BlockCall) -> Option<BlockCall> {
    let via = f.block(call.block);
    if call.block == ENTRY || !via.insts.is_empty() {
        return None;
    }
    // Its parameters must be used by its own jump only: a block it dominates may
    // use them, and bypassing it would leave them undefined.
    let local =
        |p: &Value| uses.insts(*p).is_empty() && uses.terms(*p).iter().all(|&b| b == call.block);
    if !via.params.iter().all(local) {
        return None;
    }
    let Terminator::Jump(next) = &via.term else {
        return None;
    };
    if next.block == call.block {
        return None;
    }
    let subst = |v: Value| match via.params.iter().position(|&p| p == v) {
        Some(i) => call.args[i],
        None => v,
    };
    Some(BlockCall {
        block: next.block,
        args: next.args.iter().map(|&v| subst(v)).collect(),
    })
}

/// Retargets jumps past empty forwarding blocks, and turns branches with two equal
/// arms into jumps.
fn thread_jumps(f: &mut Function, order: &[Block]) {
    let uses = Uses::new(f);
    for &b in order {
        // Each edge is forwarded a bounded number of times (a cycle of empty blocks
        // would otherwise spin).
        for _ in 0..8 {
            let mut term = f.block(b).term.clone();
            let mut changed = false;
            for call in term.calls_mut() {
                if let Some(next) = forward(f, &uses, call) {
                    *call = next;
                    changed = true;
                }
            }
            if let Terminator::Branch { then, else_, .. } = &term {
                if then == else_ {
                    term = Terminator::Jump(then.clone());
                    changed = true;
                }
            }
            f.blocks[b.index()].term = term;
            if !changed {
                break;
            }
        }
    }
}

/// Appends each block whose only predecessor jumps to it to that predecessor.
fn merge_blocks(f: &mut Function) {
    let mut preds = f.predecessors();
    let mut renames = Renames::default();
    for a in f.reverse_postorder() {
        while let Terminator::Jump(call) = f.block(a).term.clone() {
            let b = call.block;
            if b == a || b == ENTRY || preds[b.index()].len() != 1 {
                break;
            }
            let params = std::mem::take(&mut f.blocks[b.index()].params);
            for (&p, &arg) in params.iter().zip(&call.args) {
                renames.insert(p, arg);
            }
            let insts = std::mem::take(&mut f.blocks[b.index()].insts);
            f.blocks[a.index()].insts.extend(insts);
            let term = std::mem::replace(
                &mut f.blocks[b.index()].term,
                Terminator::Return(Value(u32::MAX)),
            );
            for succ in term.successors() {
                for p in preds[succ.index()].iter_mut() {
                    if *p == b {
                        *p = a;
                    }
                }
            }
            preds[b.index()].clear();
            f.blocks[a.index()].term = term;
        }
    }
    renames.apply(f);
}
