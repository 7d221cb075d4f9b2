//! Integer-tag inference: removes `check_int`s that cannot fail.
//!
//! **What it proves**: that a value is an integer on every execution. Two facts feed
//! it:
//! - *by definition*: constants, arithmetic, comparisons, `!`, `len` and `check_int`
//!   itself give integers ([`Op::gives_int`]), and so does a direct call of a function
//!   that returns only integers ([`Function::gives_int`], see [`super::returns`]);
//! - *by dominance*: after `c = check_int x` has run, `x` is an integer; every use of
//!   `x` that `c` dominates can use `c` instead, and a second `check_int x` there is
//!   redundant on every path (the first one failed already if `x` was not an
//!   integer).
//!
//! Block parameters are solved optimistically, as a fixpoint: every parameter but
//! the entry's (the arguments, which can be anything) starts as "integer", and loses
//! it when some jump to its block passes a value not known to be one, until nothing
//! changes. A loop counter is then an integer because it starts as a constant and
//! is incremented by an `add`, although each fact needs the other. `check_int x` of a
//! known integer is `x` and goes.
//!
//! A speculative `guard int x` (stage 7) is a check like `check_int x` whose failure
//! deoptimizes instead of raising: it makes `x` an integer below it in the same way,
//! and goes in the same way when `x` is known to be one.

use crate::ir::{Dominators, Function, GuardKind, Op, Value, ValueDef, ENTRY};

use super::{Analyses, PassStats, Renames};

/// Removes the redundant `check_int`s of `f`.
pub fn run(f: &mut Function, analyses: &mut Analyses, stats: &mut PassStats) {
    let doms = analyses.graph(f).doms();
    by_dominance(f, doms);
    by_inference(f, stats);
}

/// Walks the dominator tree: uses of `x` dominated by `c = check_int x` use `c`, and a
/// dominated `check_int x` is replaced by the dominating one.
fn by_dominance(f: &mut Function, doms: &Dominators) {
    // The checked value of each checked `x`, in the current dominator-tree scope.
    let mut checked: Vec<Option<Value>> = vec![None; f.values.len()];
    super::walk_dominator_tree(
        doms,
        &mut checked,
        |checked, b| {
            let mut added = Vec::new();
            for i in 0..f.blocks[b.index()].insts.len() {
                let inst = f.blocks[b.index()].insts[i];
                let data = &mut f.insts[inst.index()];
                data.op.map_args(|v| checked[v.index()].unwrap_or(v));
                if let (Some(x), Some(c)) = (checked_value(&data.op), data.result) {
                    // A second `check_int x` has become `check_int c` above: `c` is an
                    // integer by definition, and the inference below removes it.
                    if !super::known_int_def(f, x) && checked[x.index()].is_none() {
                        checked[x.index()] = Some(c);
                        added.push(x);
                    }
                }
            }
            f.blocks[b.index()]
                .term
                .map_args(|v| checked[v.index()].unwrap_or(v));
            added
        },
        |checked, added| {
            for x in added {
                checked[x.index()] = None;
            }
        },
    );
}

/// The value an instruction checks is an integer: `check_int x`, or `guard int x`.
fn checked_value(op: &Op) -> Option<Value> {
    match op {
        Op::CheckInt(x) => Some(*x),
        Op::Guard(guard) => match guard.kind {
            GuardKind::Int(x) => Some(x),
            _ => None,
        },
        _ => None,
    }
}

/// Solves "is an integer" for every value (optimistic for block parameters), then
/// removes each `check_int` of a known integer.
fn by_inference(f: &mut Function, stats: &mut PassStats) {
    let known = known_ints(f);
    let mut renames = Renames::default();
    for b in 0..f.blocks.len() {
        let insts = std::mem::take(&mut f.blocks[b].insts);
        let mut keep = Vec::with_capacity(insts.len());
        for inst in insts {
            let data = f.inst(inst);
            if let (Some(x), Some(c)) = (checked_value(&data.op), data.result) {
                if known[x.index()] && renames.insert(c, x) {
                    stats.checks_eliminated += 1;
                    continue;
                }
            }
            keep.push(inst);
        }
        f.blocks[b].insts = keep;
    }
    renames.apply(f);
}

/// For each value of `f`: true when it is an integer on every execution.
pub fn known_ints(f: &Function) -> Vec<bool> {
    todo!(
        "known-ints: start optimistic (every non-entry parameter an integer), then clear a parameter when some jump passes a value not known to be one, until nothing changes — book §4.12"
    )
}
