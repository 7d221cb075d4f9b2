//! Sign facts: which values are never negative integers. Strength reduction asks it
//! of a dividend: division by a constant needs no correction for a negative one
//! when there is none.
//!
//! **What it proves**: a value marked non-negative is, whenever it is an integer, at
//! least 0 — on every execution. The facts come from constants, `len`, comparisons
//! and masks, the entry's parameter ranges (an OSR variant's bet, checked by its
//! caller), and the arithmetic that keeps the sign: a sum or product of two
//! non-negatives (a checked one that overflowed raised its error instead of giving
//! a value), `x * x`, a quotient of two, the remainder of a non-negative (it has the
//! dividend's sign), a shift of one. A block parameter is non-negative when every
//! value passed to it is; around a loop that is circular, so the analysis is
//! optimistic (it starts from "every parameter is", and drops a parameter when an
//! incoming value is not, until nothing changes), as Wegman and Zadeck's constant
//! propagation is. What is left holds by induction on the execution: each value is
//! computed from values computed before it, for which the facts already held. The
//! loop-carried `x = (x * 75 + 74) % 65537` is the case it is for.

use crate::ir::{BinOp, Function, GuardKind, Op, Value, ValueDef, ENTRY};

/// For each value of `f` (indexed by [`Value`]), true when it is never a negative
/// integer.
pub fn nonnegative(f: &Function) -> Vec<bool> {
    // What each block parameter is passed, from every jump to its block.
    let mut incoming: Vec<Vec<Value>> = vec![Vec::new(); f.values.len()];
    for block in &f.blocks {
        for call in block.term.calls() {
            let params = &f.block(call.block).params;
            for (&p, &a) in params.iter().zip(&call.args) {
                incoming[p.index()].push(a);
            }
        }
    }
    // Optimistic start: every value but an argument is, until what it is computed
    // from says otherwise (the facts only ever go from true to false).
    let mut facts: Vec<bool> = f
        .values
        .iter()
        .enumerate()
        .map(|(v, def)| match *def {
            ValueDef::Param(ENTRY, k) => f
                .param_ranges
                .get(k as usize)
                .is_some_and(|&(lo, _)| lo >= 0),
            ValueDef::Param(..) => !incoming[v].is_empty(),
            ValueDef::Inst(_) => true,
        })
        .collect();
    let order = f.reverse_postorder();
    loop {
        let mut changed = false;
        for &b in &order {
            let block = f.block(b);
            for &p in &block.params {
                if facts[p.index()] && !incoming[p.index()].iter().all(|a| facts[a.index()]) {
                    facts[p.index()] = false;
                    changed = true;
                }
            }
            for &inst in &block.insts {
                if let Some(r) = f.inst(inst).result {
                    let now = gives_nonnegative(&f.inst(inst).op, &facts);
                    if facts[r.index()] && !now {
                        facts[r.index()] = now;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            return facts;
        }
    }
}

/// Whether `op` gives a non-negative integer (or no integer) when its operands'
/// `facts` hold.
fn gives_nonnegative(op: &Op, facts: &[bool]) -> bool {
    let nn = |v: Value| facts[v.index()];
    match *op {
        Op::Const(n) => n >= 0,
        Op::CheckInt(x) | Op::Sar(x, _) | Op::Shl(x, _) => nn(x),
        Op::Compare(..) | Op::Not(_) | Op::ArrayLen(_) | Op::And(..) => true,
        Op::Binary(BinOp::Mul, a, b) if a == b => true,
        Op::Binary(BinOp::Add | BinOp::Mul | BinOp::Div, a, b) | Op::IAdd(a, b) => nn(a) && nn(b),
        Op::Binary(BinOp::Mod, a, _) => nn(a),
        Op::IMul(x, c) => nn(x) && c >= 0,
        Op::MagicDiv(x, _) => nn(x),
        Op::Min(a, b) => nn(a) && nn(b),
        Op::Guard(ref guard) => match guard.kind {
            GuardKind::Op(ref inner) => gives_nonnegative(inner, facts),
            GuardKind::Int(x) => nn(x),
            GuardKind::Cond(..) | GuardKind::Callee(..) => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::text::parse;

    fn facts(text: &str) -> Vec<bool> {
        nonnegative(&parse(text).expect("the test's IR parses"))
    }

    #[test]
    fn a_loop_carried_remainder_of_a_non_negative_is_non_negative() {
        // x = (x * 75 + 74) % 65537, from 7.
        let f = facts(
            "\
function f f0 {
b0(v0):  @0
    v1 = const 7  @0
    v2 = const 75  @0
    v3 = const 74  @0
    v4 = const 65537  @0
    jump b1(v1)
b1(v5):  @1
    v6 = mul v5, v2  @2
    v7 = add v6, v3  @3
    v8 = mod v7, v4  @4
    v9 = lt v8, v0  @5
    branch v9, b1(v8), b2
b2:  @6
    return v5
}
",
        );
        assert!(f[5] && f[6] && f[7] && f[8], "{f:?}");
        assert!(!f[0], "an argument may be negative");
    }

    #[test]
    fn one_negative_way_in_makes_the_parameter_unknown() {
        // The same loop, but it may start at -7 or subtract.
        let f = facts(
            "\
function f f0 {
b0(v0):  @0
    v1 = const -7  @0
    v2 = const 3  @0
    jump b1(v1)
b1(v3):  @1
    v4 = mod v3, v2  @2
    v5 = lt v4, v0  @3
    branch v5, b1(v4), b2
b2:  @4
    return v3
}
",
        );
        assert!(!f[3] && !f[4], "{f:?}");
        let f = facts(
            "\
function f f0 {
b0(v0):  @0
    v1 = const 7  @0
    v2 = const 3  @0
    jump b1(v1)
b1(v3):  @1
    v4 = sub v3, v2  @2
    v5 = mul v4, v4  @3
    v6 = lt v4, v0  @4
    branch v6, b1(v4), b2
b2:  @5
    return v3
}
",
        );
        assert!(!f[3] && !f[4], "a difference may be negative: {f:?}");
        assert!(f[5], "a square is not: {f:?}");
    }
}
