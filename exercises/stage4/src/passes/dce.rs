//! Dead-code elimination: removes the instructions and block parameters whose
//! results nothing needs.
//!
//! **What it proves**: that removing an instruction changes nothing a program can
//! observe. An instruction is *needed* when it has a visible effect (a store, a call,
//! `print`), when it can fail where it stands (a dead `a[i]` still raises `index out
//! of bounds`, a dead `x / y` still raises `division by zero`; see
//! [`super::cannot_fail`] for the cases proved safe), or when a needed instruction,
//! a branch condition or a returned value uses its result. Liveness runs backward
//! from those roots: a needed block parameter makes the matching argument of every
//! jump to its block needed, and nothing else does — so a loop whose only work is
//! to count itself keeps its counter only if the condition or the exit uses it.
//! Unneeded parameters go with their arguments; the entry's parameters (the
//! function's arguments) stay.

use crate::ir::{Function, Inst, Terminator, Value, ValueDef, ENTRY};

use super::{cannot_fail, Analyses, PassStats};

/// Removes the dead instructions and parameters of `f`.
pub fn run(f: &mut Function, analyses: &mut Analyses, stats: &mut PassStats) {
    let live = live_values(f);
    let order = analyses.graph(f).rpo();
    for &b in order {
        let insts = std::mem::take(&mut f.blocks[b.index()].insts);
        let mut keep = Vec::with_capacity(insts.len());
        for inst in insts {
            if is_root(f, inst) || f.inst(inst).result.is_some_and(|r| live[r.index()]) {
                keep.push(inst);
            } else {
                stats.removed += 1;
            }
        }
        f.blocks[b.index()].insts = keep;
    }
    let jumpers = f.all_predecessors();
    for &b in order {
        if b == ENTRY {
            continue;
        }
        let keep: Vec<bool> = f.blocks[b.index()]
            .params
            .iter()
            .map(|p| live[p.index()])
            .collect();
        if keep.contains(&false) {
            stats.params_removed += keep.iter().filter(|k| !**k).count() as u64;
            f.retain_params_in(b, &keep, &jumpers[b.index()]);
        }
    }
}

/// True when the instruction must run whether or not its result is used: it has a
/// visible effect, or it can fail where it is.
pub fn is_root(f: &Function, inst: Inst) -> bool {
    let op = &f.inst(inst).op;
    op.has_effect() || !cannot_fail(f, inst)
}

/// For each value of `f`: true when a root needs it (over the reachable blocks).
pub fn live_values(f: &Function) -> Vec<bool> {
    let mut live = vec![false; f.values.len()];
    let mut work: Vec<Value> = Vec::new();
    let order = f.reverse_postorder();
    let preds = f.predecessors();
    todo!(
        "liveness: mark the operands of every root instruction, branch condition and returned value live, then propagate: a live instruction's operands are live, a live parameter makes the matching argument of each jump to its block live — book §4.19"
    );
    live
}
