//! Global value numbering, dominator-based (the scoped hash table of Briggs, Cooper
//! and Simpson's "Value Numbering", 1997): an instruction equal to one that dominates
//! it is replaced by it.
//!
//! **What it proves**: that the later instruction gives the same value as the earlier
//! one and that dropping it is invisible. Equal means same operation on the same
//! operands (commutative operands sorted). Two kinds of instruction qualify:
//! - *pure* ones ([`Op::is_pure`]): their result depends on their operands only;
//! - *deterministic checks and arithmetic* that can fail but read nothing else —
//!   `check_int`, `check_array`, `add`/`sub`/`mul`/`div`/`mod`, `neg`, `shl`, and
//!   `len` (an array's length never changes): the dominating copy ran first on the
//!   same operands, so
//!   if they fail, it failed there already, and if it succeeded, so would this one.
//!
//! Loads of array elements (`a[i]`) are not merged — a store between them may change
//! the answer — and neither are allocations (each gives a new array) nor calls. Field
//! loads are, within a block: `o.f` after an `o.f` or an `o.f = v` of the same block
//! is the value read or stored there (*load forwarding*), unless something between
//! could have changed `o.f` — a store to field `f` of any object (it may be `o`), or
//! a call (it may store anything). The earlier access succeeded, so `o` is an object
//! with a field `f`, and this one cannot fail. A guarded access (stage 7's
//! `guard get_field`, `guard set_field`) counts as the access it guards.

use crate::ir::{BinOp, CmpOp, FastMap, Function, GuardKind, Op, Value};

use super::{Analyses, PassStats};

/// True when an equal dominating instruction makes `op` redundant.
pub fn mergeable(op: &Op) -> bool {
    op.is_pure()
        || matches!(
            op,
            Op::CheckInt(_)
                | Op::CheckArray(_)
                | Op::Binary(..)
                | Op::Neg(_)
                | Op::Shl(..)
                | Op::ArrayLen(_)
        )
}

/// `op` with the operands of a commutative operation in a fixed order.
fn key(op: &Op) -> Op {
    let sorted = |a: Value, b: Value| if a <= b { (a, b) } else { (b, a) };
    match *op {
        Op::Binary(o @ (BinOp::Add | BinOp::Mul), a, b) => {
            let (a, b) = sorted(a, b);
            Op::Binary(o, a, b)
        }
        Op::Compare(o @ (CmpOp::Eq | CmpOp::Ne), a, b) => {
            let (a, b) = sorted(a, b);
            Op::Compare(o, a, b)
        }
        Op::IAdd(a, b) => {
            let (a, b) = sorted(a, b);
            Op::IAdd(a, b)
        }
        _ => op.clone(),
    }
}

/// Replaces each mergeable instruction of `f` by an equal dominating one.
pub fn run(f: &mut Function, analyses: &mut Analyses, stats: &mut PassStats) {
    let doms = analyses.graph(f).doms();
    let mut table: FastMap<Op, Value> =
        FastMap::with_capacity_and_hasher(f.insts.len(), Default::default());
    // What each merged value became, by value (uses are renamed as the walk meets
    // them).
    let mut renamed: Vec<Option<Value>> = vec![None; f.values.len()];
    let mut merged = false;
    super::walk_dominator_tree(
        doms,
        &mut table,
        |table, b| {
            let mut added = Vec::new();
            let insts = std::mem::take(&mut f.blocks[b.index()].insts);
            let mut keep = Vec::with_capacity(insts.len());
            // The fields known so far in this block: object, field, value.
            let mut fields: Vec<(Value, u32, Value)> = Vec::new();
            for inst in insts {
                let data = &mut f.insts[inst.index()];
                data.op.map_args(|v| renamed[v.index()].unwrap_or(v));
                // A guarded access (stage 7) reads or writes the field as the access
                // itself does: what it leaves known is the same.
                let access = match &data.op {
                    Op::Guard(guard) => match &guard.kind {
                        GuardKind::Op(op) => op,
                        _ => &data.op,
                    },
                    op => op,
                };
                match *access {
                    Op::GetField(o, k) => {
                        let known = fields.iter().find(|&&(fo, fk, _)| (fo, fk) == (o, k));
                        if let (Some(&(_, _, v)), Some(r)) = (known, data.result) {
                            renamed[r.index()] = Some(v);
                            merged = true;
                            stats.merged += 1;
                            continue;
                        }
                        if let Some(r) = data.result {
                            fields.push((o, k, r));
                        }
                    }
                    Op::SetField(o, k, v) => {
                        fields.retain(|&(_, fk, _)| fk != k);
                        fields.push((o, k, v));
                    }
                    Op::Call { .. } | Op::CallValue { .. } => fields.clear(),
                    _ => {}
                }
                if let (true, Some(r)) = (mergeable(&data.op), data.result) {
                    let k = key(&data.op);
                    if let Some(&earlier) = table.get(&k) {
                        renamed[r.index()] = Some(earlier);
                        merged = true;
                        stats.merged += 1;
                        continue;
                    }
                    table.insert(k.clone(), r);
                    added.push(k);
                }
                keep.push(inst);
            }
            f.blocks[b.index()].insts = keep;
            added
        },
        |table, added| {
            for op in added {
                table.remove(&op);
            }
        },
    );
    // Terminators and uses in blocks walked before the renaming (jump arguments
    // flowing around loops) see the final names.
    if merged {
        f.map_uses(|v| renamed[v.index()].unwrap_or(v));
    }
}
