//! Range-check elimination: a loop `while i < n { .. a[i] .. }` runs as two loops —
//! a *main loop* while `i < min(n, len(a), ..)`, whose accesses at `i` check
//! nothing, then the loop as it was, for whatever iterations are left (none, unless
//! an access would have been out of bounds). These are HotSpot's main and post loops
//! and LLVM's inductive range-check elimination, without a pre-loop: a counter
//! that starts below 0 skips the main loop.
//!
//! **What it proves**: `0 <= i < len(a)` at each access `a[i]` of the main loop,
//! where `i` is the loop's counter and `a` an array defined before the loop. The
//! counter starts at 0 or above — the bounds analysis knows it, or the preheader
//! tests it and enters the loop as it was when it is negative — and only steps up
//! (by a constant or a value from before the loop, known not to be negative),
//! so it is never negative; the main loop runs an iteration only when `i` is below
//! the bound, computed once before it (an array's length never changes), and is
//! below `len(a)` then. So the access cannot fail: it becomes `load_element` or
//! `store_element`, a load or a store and nothing else.
//!
//! The iterations are the same, in the same order: when `i` reaches the bound, the
//! main loop jumps to the original loop's header with every value the loop carries,
//! and the original loop tests `i < n` again and goes on with its checks — the first
//! access out of bounds fails there, at the same pc, after the same effects, as it
//! did before. The header runs once more at the hand-over, so the loop qualifies only
//! when the header does nothing but compute pure values and test its condition. A
//! loop `while i < len(a)` that only indexes `a` and counts from 0 or above needs no
//! second loop: its own condition is the bound, and its accesses lose their check
//! where they are.
//!
//! A loop qualifies when it is innermost and small (it is copied), has a preheader,
//! is left only from its header, through a branch on `i < n` (`n > i`) or `i <= n`
//! (then an array's bound is its last index, `len(a) - 1`) with `n` an integer
//! defined before the loop and the condition used by nothing else, and reads
//! or writes at `i` an array defined before the loop and known to be one (after
//! array-check sharing: run it after `passes::arrays`).

use crate::ir::{BinOp, Block, BlockCall, CmpOp, Function, Inst, Op, Terminator, Value, ValueDef};

use super::licm::{loops, Loop};
use super::peel::{copy_loop, preheader};
use super::{cannot_fail, is_array, Analyses, PassStats, Uses};

/// The most instructions a loop may have to be split (its code doubles).
pub const MAX_SPLIT: usize = 64;

/// A loop that qualifies: what the split needs to know of it.
struct Candidate {
    header: Block,
    body: Vec<bool>,
    pre: Block,
    /// The condition `i < n` in the header, and its `n`.
    cond: Inst,
    n: Value,
    /// The counter: a parameter of the header.
    counter: Value,
    /// The arrays accessed at the counter (each once).
    arrays: Vec<Value>,
    /// The counter's start and steps that the preheader must test are `>= 0`.
    tests: Vec<Value>,
    /// The condition is `i <= n`: the bound of an array is its last index.
    inclusive: bool,
}

/// Splits each qualifying loop of `f` into a main loop without range checks and the
/// loop as it was.
pub fn run(f: &mut Function, analyses: &mut Analyses, stats: &mut PassStats) {
    let mut done: Vec<Block> = Vec::new();
    loop {
        // Splitting changes the graph: find the next loop on a fresh one.
        let graph = analyses.graph(f);
        let all = loops(f, graph.doms(), graph.preds());
        let known = super::checks::known_ints(f);
        let uses = Uses::new(f);
        let next = all.iter().find_map(|l| {
            let innermost = !all
                .iter()
                .any(|o| o.header != l.header && l.body[o.header.index()]);
            if done.contains(&l.header) || !innermost {
                return None;
            }
            candidate(f, l, graph.preds(), &known, &uses)
        });
        let Some(c) = next else {
            return;
        };
        done.push(c.header);
        let (main, removed) = split(f, &c);
        done.push(main);
        analyses.graph_changed();
        stats.range_checks_removed += removed;
    }
}

/// The loop as a [`Candidate`], when it qualifies.
fn candidate(
    f: &Function,
    l: &Loop,
    preds: &[Vec<Block>],
    known_ints: &[bool],
    uses: &Uses,
) -> Option<Candidate> {
    let h = l.header;
    let in_loop = |b: Block| l.body[b.index()];
    if l.insts(f) > MAX_SPLIT {
        return None;
    }
    let pre = preheader(f, l, preds)?;
    // Left only from the header, whose branch enters the body on `i < n`.
    let Terminator::Branch { cond, then, else_ } = &f.block(h).term else {
        return None;
    };
    if !in_loop(then.block) || in_loop(else_.block) || then.block == h {
        return None;
    }
    if preds[then.block.index()] != [h] {
        return None;
    }
    let leaves_elsewhere = (0..f.blocks.len()).any(|b| {
        l.body[b] && b != h.index() && f.blocks[b].term.successors().iter().any(|&s| !in_loop(s))
    });
    if leaves_elsewhere {
        return None;
    }
    let ValueDef::Inst(cond_inst) = f.def(*cond) else {
        return None;
    };
    let (counter, n, inclusive) = match f.inst(cond_inst).op {
        Op::Compare(CmpOp::Lt, i, n) | Op::Compare(CmpOp::Gt, n, i) => (i, n, false),
        Op::Compare(CmpOp::Le, i, n) | Op::Compare(CmpOp::Ge, n, i) => (i, n, true),
        _ => return None,
    };
    // The condition is the branch's only use; the header's other instructions may
    // run twice (pure).
    if !uses.insts(*cond).is_empty() || uses.terms(*cond) != [h] {
        return None;
    }
    let header_insts = &f.block(h).insts;
    if !header_insts.contains(&cond_inst)
        || header_insts
            .iter()
            .any(|&inst| f.inst(inst).op.has_effect() || !cannot_fail(f, inst))
    {
        return None;
    }
    // `n` an integer from before the loop.
    let outside = |v: Value| l.defined_outside(f, v);
    if !outside(n) || !known_ints[n.index()] {
        return None;
    }
    // The counter: a parameter of the header, `>= 0` on entry, stepping up.
    let ValueDef::Param(b, k) = f.def(counter) else {
        return None;
    };
    if b != h {
        return None;
    }
    let k = k as usize;
    let start = match &f.block(pre).term {
        Terminator::Jump(call) => call.args[k],
        _ => return None,
    };
    // The start and the steps: each known to be `>= 0`, or an integer from before
    // the loop that the preheader tests.
    let mut tests = Vec::new();
    let mut not_negative = |v: Value| match least(f, v) {
        Some(lo) if lo >= 0 => true,
        _ if known_ints[v.index()] && l.defined_outside(f, v) => {
            if !tests.contains(&v) {
                tests.push(v);
            }
            true
        }
        _ => false,
    };
    if !not_negative(start) {
        return None;
    }
    // The counter steps by a constant or a value from before the loop.
    let step = |a: Value| {
        if a == counter {
            return None;
        }
        let (Some(&Op::IAdd(x, y)) | Some(&Op::Binary(BinOp::Add, x, y))) = f.def_op(a) else {
            return Some(None);
        };
        match (x == counter, y == counter) {
            (true, _) => Some(Some(y)),
            (_, true) => Some(Some(x)),
            _ => Some(None),
        }
    };
    for &p in &preds[h.index()] {
        if !in_loop(p) {
            continue;
        }
        for call in f.block(p).term.calls() {
            if call.block != h {
                continue;
            }
            match step(call.args[k]) {
                None => {}
                Some(Some(by)) if not_negative(by) => {}
                Some(_) => return None,
            }
        }
    }
    // The arrays read or written at the counter.
    let mut arrays = Vec::new();
    for b in (0..f.blocks.len()).filter(|&b| l.body[b] && b != h.index()) {
        for &inst in &f.blocks[b].insts {
            if let Some(a) = checked_at(&f.inst(inst).op, counter) {
                if is_array(f, a) && outside(a) && !arrays.contains(&a) {
                    arrays.push(a);
                }
            }
        }
    }
    if arrays.is_empty() {
        return None;
    }
    Some(Candidate {
        header: h,
        body: l.body.clone(),
        pre,
        cond: cond_inst,
        n,
        counter,
        arrays,
        tests,
        inclusive,
    })
}

/// The least integer `v` can be ([`super::bounds::least`]), also when it is a
/// checked `add` (as the peeled first iteration passes a counter's next value on):
/// an `add` that did not fail gives the exact sum.
fn least(f: &Function, v: Value) -> Option<i128> {
    let bounded = |x: Value| super::bounds::least(f, x);
    let sum = match f.def_op(v) {
        Some(&Op::Binary(BinOp::Add, x, y)) => bounded(x).zip(bounded(y)).map(|(x, y)| x + y),
        _ => None,
    };
    bounded(v).max(sum)
}

/// The array of an unguarded, checked access `a[i]` (read or write) at index `i`.
fn checked_at(op: &Op, i: Value) -> Option<Value> {
    match *op {
        Op::ArrayGet(a, j) | Op::ArraySet(a, j, _) if j == i => Some(a),
        _ => None,
    }
}

/// Makes the accesses of `blocks` to `arrays` at `counter` unchecked; gives how
/// many there were.
fn uncheck(f: &mut Function, blocks: &[usize], counter: Value, arrays: &[Value]) -> u64 {
    let mut removed = 0;
    for &b in blocks {
        for k in 0..f.blocks[b].insts.len() {
            let inst = f.blocks[b].insts[k];
            let op = &mut f.insts[inst.index()].op;
            *op = match *op {
                Op::ArrayGet(a, i) if i == counter && arrays.contains(&a) => Op::LoadElement(a, i),
                Op::ArraySet(a, i, v) if i == counter && arrays.contains(&a) => {
                    Op::StoreElement(a, i, v)
                }
                _ => continue,
            };
            removed += 1;
        }
    }
    removed
}

/// Makes the main loop: the bound before it, in the preheader; a copy of the loop
/// that tests the bound and hands over to the loop; its accesses at the counter
/// unchecked. Gives the main loop's header and how many accesses lost their check.
/// When the bound is the loop's own (`while i < len(a)`) and the counter starts at
/// 0 or above, the loop is the main loop, and nothing is copied.
fn split(f: &mut Function, c: &Candidate) -> (Block, u64) {
    let (pc, frame) = (f.inst(c.cond).pc, f.inst(c.cond).frame);
    let push = |f: &mut Function, op: Op| {
        let v = f.push(c.pre, op, pc).expect("gives a value");
        let ValueDef::Inst(inst) = f.def(v) else {
            unreachable!("an instruction's value")
        };
        f.insts[inst.index()].frame = frame;
        v
    };
    let mut bound = c.n;
    let one = c.inclusive.then(|| push(f, Op::Const(1)));
    for &a in &c.arrays {
        // `while i < len(a)`: `n` is that length already.
        if !c.inclusive && matches!(f.def_op(c.n), Some(&Op::ArrayLen(x)) if x == a) {
            continue;
        }
        let mut len = push(f, Op::ArrayLen(a));
        if let Some(one) = one {
            // `i <= len(a) - 1`, which cannot overflow (a length is not negative).
            len = push(f, Op::ISub(len, one));
        }
        bound = push(f, Op::Min(bound, len));
    }
    if bound == c.n && c.tests.is_empty() {
        // `i < n` is `i < len(a)` already: the loop is its own main loop.
        let blocks: Vec<usize> = (0..c.body.len()).filter(|&b| c.body[b]).collect();
        return (c.header, uncheck(f, &blocks, c.counter, &c.arrays));
    }
    let copy = copy_loop(f, &c.body);
    let main = copy.block(c.header);
    // The main loop's condition: the counter below the bound.
    let ValueDef::Inst(cond) = f.def(copy.value(f.inst(c.cond).result.expect("a compare"))) else {
        unreachable!("the copy of an instruction's value")
    };
    f.insts[cond.index()]
        .op
        .map_args(|v| if v == c.n { bound } else { v });
    // Its exit hands every value the loop carries over to the loop.
    let carried = f.block(main).params.clone();
    if let Terminator::Branch { else_, .. } = &mut f.blocks[main.index()].term {
        *else_ = BlockCall {
            block: c.header,
            args: carried,
        };
    }
    // Its accesses at the counter check nothing.
    let blocks: Vec<usize> = (c.body.len()..f.blocks.len()).collect();
    let removed = uncheck(f, &blocks, copy.value(c.counter), &c.arrays);
    // The preheader enters the main loop (when the counter starts at 0 or above and
    // steps up).
    let Terminator::Jump(call) = f.block(c.pre).term.clone() else {
        unreachable!("a preheader jumps to its header")
    };
    let into_main = BlockCall {
        block: main,
        args: call.args.clone(),
    };
    let term = match c.tests.split_first() {
        None => Terminator::Jump(into_main),
        Some((&first, rest)) => {
            // The least of them below 0: the loop as it was.
            let least = rest.iter().fold(first, |m, &v| push(f, Op::Min(m, v)));
            let zero = push(f, Op::Const(0));
            let negative = push(f, Op::Compare(CmpOp::Lt, least, zero));
            Terminator::Branch {
                cond: negative,
                then: call,
                else_: into_main,
            }
        }
    };
    f.terminate(c.pre, term);
    (main, removed)
}
