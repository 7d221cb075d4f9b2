//! Array-check sharing: one `check_array` of a value for all the accesses it
//! dominates, instead of a tag check in each of them.
//!
//! **What it proves**: that a value is an array at an access. Each array access
//! (`a[i]`, `a[i] = v`, `len(a)`) checks first that `a` is an array — a `type error`
//! otherwise, at the access's pc. When an access of `a` dominates other accesses of
//! `a`, the pass puts `c = check_array a` just before it (the same check, at the same
//! pc, so the first access fails exactly as before) and renames every use of `a`
//! that `c` dominates to `c`. `c` is an array by definition (`passes::is_array`), so
//! the accesses that use it check nothing but their index: the later ones are on
//! every path after the first, which failed already if `a` was not an array. A
//! `check_array` that another one dominates goes the same way (GVN merges the two).
//!
//! With loop peeling (`passes::peel`), the peeled first iteration's access of an
//! array the loop does not change dominates the loop's own: the loop checks the
//! array once, not once per iteration. Guarded accesses (stage 7) are left as they
//! are.

use crate::ir::{Dominators, Function, Inst, Op, Value};

use super::{inst_places, is_array, Analyses, PassStats};

/// The array operand of an unguarded array access.
fn accessed(op: &Op) -> Option<Value> {
    match *op {
        Op::ArrayGet(a, _) | Op::ArraySet(a, _, _) | Op::ArrayLen(a) => Some(a),
        _ => None,
    }
}

/// Puts a shared `check_array` before each access of a value that dominates other
/// accesses of it, and renames the uses it dominates.
pub fn run(f: &mut Function, analyses: &mut Analyses, stats: &mut PassStats) {
    let doms = analyses.graph(f).doms();
    // The accesses of each value not known to be an array, by instruction.
    let mut accesses: Vec<Vec<Inst>> = vec![Vec::new(); f.values.len()];
    for data in &f.blocks {
        for &inst in &data.insts {
            if let Some(a) = accessed(&f.inst(inst).op) {
                if !is_array(f, a) {
                    accesses[a.index()].push(inst);
                }
            }
        }
    }
    if accesses.iter().all(|uses| uses.len() < 2) {
        return;
    }
    let places = inst_places(f);
    // True when `inst` (at its place) comes before `other` on every path.
    let dominates = |doms: &Dominators, inst: Inst, other: Inst| -> bool {
        match (places[inst.index()], places[other.index()]) {
            (Some((b, i)), Some((c, j))) if b == c => i < j,
            (Some((b, _)), Some((c, _))) => doms.dominates(b, c),
            _ => false,
        }
    };
    let mut checked: Vec<Option<Value>> = vec![None; f.values.len()];
    super::walk_dominator_tree(
        doms,
        &mut checked,
        |checked, b| {
            let mut added = Vec::new();
            let insts = std::mem::take(&mut f.blocks[b.index()].insts);
            let mut keep = Vec::with_capacity(insts.len());
            for inst in insts {
                let rename = |v: Value| checked.get(v.index()).copied().flatten().unwrap_or(v);
                f.insts[inst.index()].op.map_args(rename);
                let data = f.inst(inst);
                let shared = match (&data.op, data.result) {
                    // An existing check: the accesses it dominates use its result.
                    (&Op::CheckArray(a), Some(c)) if !is_array(f, a) => Some((a, c)),
                    (op, _) => match accessed(op) {
                        Some(a)
                            if !is_array(f, a)
                                && accesses[a.index()]
                                    .iter()
                                    .any(|&other| dominates(doms, inst, other)) =>
                        {
                            let (pc, frame) = (data.pc, data.frame);
                            let check = f.make_inst(Op::CheckArray(a), pc);
                            f.insts[check.index()].frame = frame;
                            keep.push(check);
                            let c = f.inst(check).result.expect("check_array gives a value");
                            f.insts[inst.index()]
                                .op
                                .map_args(|v| if v == a { c } else { v });
                            stats.array_checks_shared += 1;
                            Some((a, c))
                        }
                        _ => None,
                    },
                };
                if let Some((a, c)) = shared {
                    checked[a.index()] = Some(c);
                    added.push(a);
                }
                keep.push(inst);
            }
            f.blocks[b.index()].insts = keep;
            f.blocks[b.index()]
                .term
                .map_args(|v| checked.get(v.index()).copied().flatten().unwrap_or(v));
            added
        },
        |checked, added| {
            for a in added {
                checked[a.index()] = None;
            }
        },
    );
}
