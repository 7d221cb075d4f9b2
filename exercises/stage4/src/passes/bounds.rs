//! Bounds from branches: an `add`, `sub` or `mul` that cannot overflow loses its
//! overflow check.
//!
//! **What it proves**: an interval `lo..=hi` that holds an integer value on every
//! execution of a block, from three facts:
//! - a constant is itself;
//! - a *counter* — a block parameter whose every incoming value is a constant or the
//!   parameter itself plus a constant `>= 0` — is at least its smallest constant (a
//!   step that overflowed raised its error and never came back), and symmetrically
//!   one that only steps down is at most its largest constant;
//! - a branch on `a < b` (`<=`, `>`, `>=`, either way) bounds `a` by `b` in the
//!   blocks that only its taken edge leads to: a block whose one predecessor is the
//!   branch, and every block it dominates. `i < n` gives `i <= hi(n) - 1`, whatever
//!   `n` is, so `i + 1` fits even when `n` is unknown.
//!
//! An `add`, `sub` or `mul` whose result lies in `INT_MIN..=INT_MAX` for every pair of
//! operands in their intervals cannot overflow, so it becomes the reduced `iadd`,
//! `isub` or `imul`, which never fail: its result is the same integer, and there is
//! no error to lose. The loop counter of `while i < n { ..; i = i + 1; }` is the
//! common case, and `i * 3` in it when `n` is a constant.

use stage1::value::{INT_MAX, INT_MIN};

use crate::ir::{BinOp, Block, CmpOp, Function, Op, Terminator, Value, ValueDef};

use super::{Analyses, PassStats};

/// An interval of integers (never empty for a value that exists).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    lo: i128,
    hi: i128,
}

/// Every integer.
const FULL: Range = Range {
    lo: INT_MIN as i128,
    hi: INT_MAX as i128,
};

impl Range {
    fn meet(self, other: Range) -> Range {
        Range {
            lo: self.lo.max(other.lo),
            hi: self.hi.min(other.hi),
        }
    }

    fn fits(self) -> bool {
        self.lo >= FULL.lo && self.hi <= FULL.hi
    }
}

/// The most facts a block keeps (a bound per comparison it is nested in).
const MAX_FACTS: usize = 16;

/// Rewrites the `add`s, `sub`s and `mul`s of `f` that cannot overflow.
pub fn run(f: &mut Function, analyses: &mut Analyses, stats: &mut PassStats) {
    let graph = analyses.graph(f);
    let base = base_ranges(f);
    // The facts each reachable block starts with, from the branch edge into it (when
    // it is that edge's only way in), then inherited down the dominator tree.
    let mut facts: Vec<Vec<(Value, Range)>> = vec![Vec::new(); f.blocks.len()];
    for &b in graph.rpo() {
        let mut own = match graph.doms().idom(b) {
            Some(d) => facts[d.index()].clone(),
            None => Vec::new(),
        };
        if let [p] = graph.preds()[b.index()][..] {
            own.extend(edge_facts(f, p, b, &base));
        }
        // The nearest facts are the likeliest to matter; a deep nest keeps a few.
        if own.len() > MAX_FACTS {
            own.drain(..own.len() - MAX_FACTS);
        }
        facts[b.index()] = own;
    }
    let rpo = graph.rpo().to_vec();
    for &b in &rpo {
        for i in 0..f.blocks[b.index()].insts.len() {
            let inst = f.blocks[b.index()].insts[i];
            let range = |v: Value| range_in(f, &base, &facts[b.index()], v, 2);
            let reduced = match f.inst(inst).op {
                Op::Binary(BinOp::Add, a, c) => {
                    add(range(a), range(c)).fits().then_some(Op::IAdd(a, c))
                }
                Op::Binary(BinOp::Sub, a, c) => {
                    sub(range(a), range(c)).fits().then_some(Op::ISub(a, c))
                }
                Op::Binary(BinOp::Mul, a, c) => {
                    // `imul` takes its constant as the second operand.
                    let (x, k) = match (known(&base, a), known(&base, c)) {
                        (_, Range { lo, hi }) if lo == hi => (a, lo),
                        (Range { lo, hi }, _) if lo == hi => (c, lo),
                        _ => continue,
                    };
                    mul(range(x), k).fits().then_some(Op::IMul(x, k as i64))
                }
                _ => None,
            };
            if let Some(op) = reduced {
                f.insts[inst.index()].op = op;
                stats.bounded += 1;
            }
        }
    }
    for &b in &rpo {
        reassociate(f, b, &base, &facts[b.index()], stats);
    }
}

/// `(a + b) ± k` becomes `a + (b ± k)` when `b ± k` cannot overflow and `a` is a
/// block parameter, the first sum staying for its check: in a loop that adds to `a`,
/// the chain from one iteration's
/// `a` to the next is one instruction shorter, and the code fails exactly as before.
/// The first sum raises its overflow as it did; when it did not overflow, `a + (b ±
/// k)` is the same integer as `(a + b) ± k` and overflows exactly when it does, at the
/// same pc.
fn reassociate(
    f: &mut Function,
    b: Block,
    base: &[Range],
    facts: &[(Value, Range)],
    stats: &mut PassStats,
) {
    let mut i = 0;
    while i < f.blocks[b.index()].insts.len() {
        let inst = f.blocks[b.index()].insts[i];
        i += 1;
        let (negate, sum, k) = match f.inst(inst).op {
            Op::Binary(BinOp::Add, s, k) if known(base, k).lo == known(base, k).hi => (false, s, k),
            Op::Binary(BinOp::Sub, s, k) if known(base, k).lo == known(base, k).hi => (true, s, k),
            _ => continue,
        };
        let Some(&Op::Binary(BinOp::Add, x, y)) = f.def_op(sum) else {
            continue;
        };
        let range = |v: Value| range_in(f, base, facts, v, 2);
        let shifted = |v: Value| {
            if negate {
                sub(range(v), range(k))
            } else {
                add(range(v), range(k))
            }
        };
        // The operand that stays `a`: the one that is not bounded (the accumulator).
        // Only an accumulator (a block parameter: a value carried around a loop)
        // gains; elsewhere the extra instruction would be a loss.
        let (a, bounded) = if shifted(y).fits() && super::is_param(f, x) {
            (x, y)
        } else if shifted(x).fits() && super::is_param(f, y) {
            (y, x)
        } else {
            continue;
        };
        let pc = f.inst(inst).pc;
        let op = if negate {
            Op::ISub(bounded, k)
        } else {
            Op::IAdd(bounded, k)
        };
        let t = f
            .insert(b, i - 1, op, pc)
            .expect("a reduced op has a result");
        i += 1;
        f.insts[inst.index()].op = Op::Binary(BinOp::Add, a, t);
        stats.bounded += 1;
    }
}

/// The least integer `v` can be on any execution, from constants, counters and the
/// reduced arithmetic on them (no branch facts); `None` when nothing bounds it (it
/// may not even be an integer). Range-check elimination asks it of a counter's
/// start.
pub(super) fn least(f: &Function, v: Value) -> Option<i128> {
    let lo = range_in(f, &base_ranges(f), &[], v, 2).lo;
    (lo > FULL.lo).then_some(lo)
}

/// The range of `v` in a block with `facts`, through up to `depth` reduced ops.
fn range_in(f: &Function, base: &[Range], facts: &[(Value, Range)], v: Value, depth: u32) -> Range {
    let own = facts
        .iter()
        .filter(|(x, _)| *x == v)
        .fold(known(base, v), |r, &(_, fact)| r.meet(fact));
    if depth == 0 {
        return own;
    }
    let range = |x: Value| range_in(f, base, facts, x, depth - 1);
    let derived = match f.def_op(v) {
        Some(&Op::IAdd(a, b)) => add(range(a), range(b)),
        Some(&Op::ISub(a, b)) => sub(range(a), range(b)),
        Some(&Op::IMul(x, k)) => mul(range(x), i128::from(k)),
        _ => FULL,
    };
    own.meet(derived)
}

fn add(a: Range, b: Range) -> Range {
    Range {
        lo: a.lo + b.lo,
        hi: a.hi + b.hi,
    }
}

fn sub(a: Range, b: Range) -> Range {
    Range {
        lo: a.lo - b.hi,
        hi: a.hi - b.lo,
    }
}

fn mul(x: Range, k: i128) -> Range {
    let corners = [x.lo * k, x.hi * k];
    Range {
        lo: corners[0].min(corners[1]),
        hi: corners[0].max(corners[1]),
    }
}

/// What `base` knows of `v` (nothing of a value made after it).
fn known(base: &[Range], v: Value) -> Range {
    base.get(v.index()).copied().unwrap_or(FULL)
}

/// What is known of each value without looking at branches: constants, the ranges
/// of the entry's parameters ([`Function::param_ranges`], an OSR variant's bet) and
/// the values checked from them, and the bounds of counters.
fn base_ranges(f: &Function) -> Vec<Range> {
    let mut ranges = vec![FULL; f.values.len()];
    for (v, def) in f.values.iter().enumerate() {
        match *def {
            ValueDef::Param(crate::ir::ENTRY, k) => {
                if let Some(&(lo, hi)) = f.param_ranges.get(k as usize) {
                    ranges[v] = Range {
                        lo: lo as i128,
                        hi: hi as i128,
                    };
                }
            }
            ValueDef::Inst(inst) => match f.inst(inst).op {
                Op::Const(n) => {
                    ranges[v] = Range {
                        lo: n as i128,
                        hi: n as i128,
                    };
                }
                // The checked value is the value (made before it, as the builder
                // makes the entry's checks).
                Op::CheckInt(x) if x.index() < v => ranges[v] = ranges[x.index()],
                _ => {}
            },
            ValueDef::Param(..) => {}
        }
    }
    // Counters: every incoming value the parameter itself, the parameter plus
    // (minus) a constant step, or a start: a constant, or a value of known range.
    let mut incoming: Vec<Vec<Value>> = vec![Vec::new(); f.values.len()];
    let mut seen = vec![false; f.values.len()];
    for b in f.reverse_postorder() {
        for call in f.block(b).term.calls() {
            for (&p, &a) in f.block(call.block).params.iter().zip(&call.args) {
                incoming[p.index()].push(a);
                seen[p.index()] = true;
            }
        }
    }
    let constant = |v: Value| f.as_const(v).map(i128::from);
    for (p, args) in incoming.iter().enumerate() {
        if !seen[p] || matches!(f.values[p], ValueDef::Param(crate::ir::ENTRY, _)) {
            continue;
        }
        let p = Value(p as u32);
        // The step of `a` from `p`: `p + c` or `p - c` (or `p` itself, step 0).
        let step = |a: Value| -> Option<i128> {
            if a == p {
                return Some(0);
            }
            match *f.def_op(a)? {
                Op::Binary(BinOp::Add, x, c) | Op::IAdd(x, c) if x == p => constant(c),
                Op::Binary(BinOp::Add, c, x) | Op::IAdd(c, x) if x == p => constant(c),
                Op::Binary(BinOp::Sub, x, c) | Op::ISub(x, c) if x == p => constant(c).map(|c| -c),
                _ => None,
            }
        };
        let (steps, starts): (Vec<Value>, Vec<Value>) = args
            .iter()
            .partition(|&&a| constant(a).is_none() && step(a).is_some());
        let steps: Vec<i128> = steps.into_iter().filter_map(step).collect();
        let (lo, hi) = (
            starts.iter().map(|a| ranges[a.index()].lo).min(),
            starts.iter().map(|a| ranges[a.index()].hi).max(),
        );
        if let (Some(lo), Some(hi)) = (lo, hi) {
            if steps.iter().all(|&s| s >= 0) {
                ranges[p.index()].lo = lo;
            }
            if steps.iter().all(|&s| s <= 0) {
                ranges[p.index()].hi = hi;
            }
        }
    }
    ranges
}

/// The bounds that hold on the edge from `p` into `b`: those of `p`'s branch on a
/// comparison, when `b` is one of its two different targets.
fn edge_facts(f: &Function, p: Block, b: Block, base: &[Range]) -> Vec<(Value, Range)> {
    let Terminator::Branch { cond, then, else_ } = &f.block(p).term else {
        return Vec::new();
    };
    if then.block == else_.block {
        return Vec::new();
    }
    let Some(&Op::Compare(op, x, y)) = f.def_op(*cond) else {
        return Vec::new();
    };
    // The relation that holds on this edge, as `l < r` or `l <= r`.
    let taken = b == then.block;
    let (l, r, strict) = match (op, taken) {
        (CmpOp::Lt, true) | (CmpOp::Ge, false) => (x, y, true),
        (CmpOp::Le, true) | (CmpOp::Gt, false) => (x, y, false),
        (CmpOp::Gt, true) | (CmpOp::Le, false) => (y, x, true),
        (CmpOp::Ge, true) | (CmpOp::Lt, false) => (y, x, false),
        _ => return Vec::new(),
    };
    let gap = i128::from(strict);
    let (rl, rr) = (known(base, l), known(base, r));
    vec![
        (
            l,
            Range {
                lo: FULL.lo,
                hi: rr.hi - gap,
            },
        ),
        (
            r,
            Range {
                lo: rl.lo + gap,
                hi: FULL.hi,
            },
        ),
    ]
}
