//! Loop peeling: a copy of an inner loop's first iteration runs before the loop, so
//! that what the loop checks on every iteration about values it does not change
//! is checked once, in the copy (LuaJIT peels every loop for the same reason).
//!
//! **What it proves**: nothing by itself — the peeled function does what the loop
//! did, in the same order: the copy is the loop's blocks (header and body) with new
//! values, its back edges going to the original header, and the preheader going to
//! the copy's header. The copy's first iteration runs exactly when the loop's first
//! did, and leaves to the same exit; the original loop runs the second iteration on.
//! What it makes provable is the point: the copy's access `a[i]` of an array `a`
//! defined outside the loop dominates the loop's own, so array-check sharing
//! (`passes::arrays`) checks `a` once, in the copy, and the loop's accesses check
//! only their index.
//!
//! It peels an innermost loop when that pays and is simple: the loop reads an array
//! defined outside it (not known to be one), has a preheader (as LICM wants one),
//! is small (the copy doubles its code), and leaves it through one exit block
//! whose predecessors are all in the loop. That block then dominates every use of
//! the loop's values after the loop: each such value becomes a new parameter of
//! it, which the loop passes and the copy passes the copy of.

use crate::ir::{Block, Dominators, Function, Op, Terminator, Value};

use super::licm::{loops, Loop};
use super::{is_array, Analyses, PassStats};

/// The most instructions a loop may have to be peeled.
pub const MAX_PEELED: usize = 64;

/// Peels each innermost loop of `f` that reads an invariant array.
pub fn run(f: &mut Function, analyses: &mut Analyses, stats: &mut PassStats) {
    let mut peeled: Vec<Block> = Vec::new();
    loop {
        // Peeling changes the graph: find the next loop on a fresh one.
        let graph = analyses.graph(f);
        let all = loops(f, graph.doms(), graph.preds());
        let next = all.iter().find_map(|l| {
            if peeled.contains(&l.header) {
                return None;
            }
            let innermost = !all
                .iter()
                .any(|o| o.header != l.header && l.body[o.header.index()]);
            if !innermost || !pays(f, l, graph.doms()) {
                return None;
            }
            let pre = preheader(f, l, graph.preds())?;
            let exit = single_exit(f, l, graph.preds())?;
            Some((l.header, l.body.clone(), pre, exit))
        });
        let Some((header, body, pre, exit)) = next else {
            return;
        };
        peeled.push(header);
        peel(f, header, &body, pre, exit);
        analyses.graph_changed();
        stats.peeled += 1;
    }
}

/// The array operand of an unguarded array access.
fn accessed(op: &Op) -> Option<Value> {
    match *op {
        Op::ArrayGet(a, _) | Op::ArraySet(a, _, _) | Op::ArrayLen(a) => Some(a),
        _ => None,
    }
}

/// True when the loop is small and reads an array defined outside it that is not
/// known to be one, and that no access before the loop (dominating its header)
/// checks already: that check is what peeling saves.
fn pays(f: &Function, l: &Loop, doms: &Dominators) -> bool {
    if l.insts(f) > MAX_PEELED {
        return false;
    }
    let checked_before = |a: Value| {
        f.blocks.iter().enumerate().any(|(b, data)| {
            !l.body[b]
                && doms.dominates(Block(b as u32), l.header)
                && data
                    .insts
                    .iter()
                    .any(|&i| accessed(&f.inst(i).op) == Some(a))
        })
    };
    (0..f.blocks.len()).filter(|&b| l.body[b]).any(|b| {
        f.blocks[b].insts.iter().any(|&inst| {
            accessed(&f.inst(inst).op)
                .is_some_and(|a| !is_array(f, a) && l.defined_outside(f, a) && !checked_before(a))
        })
    })
}

/// The loop's one predecessor outside it, when it ends in a jump to the header.
pub(super) fn preheader(f: &Function, l: &Loop, preds: &[Vec<Block>]) -> Option<Block> {
    let outside: Vec<Block> = preds[l.header.index()]
        .iter()
        .copied()
        .filter(|p| !l.body[p.index()])
        .collect();
    let [pre] = outside.as_slice() else {
        return None;
    };
    matches!(&f.block(*pre).term, Terminator::Jump(call) if call.block == l.header).then_some(*pre)
}

/// The one block outside the loop that the loop jumps to, when all its predecessors
/// are in the loop.
fn single_exit(f: &Function, l: &Loop, preds: &[Vec<Block>]) -> Option<Block> {
    let mut exit = None;
    for (b, data) in f.blocks.iter().enumerate() {
        if !l.body[b] {
            continue;
        }
        for s in data.term.successors() {
            if l.body[s.index()] {
                continue;
            }
            match exit {
                None => exit = Some(s),
                Some(e) if e == s => {}
                Some(_) => return None,
            }
        }
    }
    let exit = exit?;
    preds[exit.index()]
        .iter()
        .all(|p| l.body[p.index()])
        .then_some(exit)
}

/// A copy of a loop's blocks ([`copy_loop`]): the copy of each block and of each
/// value the loop defines.
pub(super) struct LoopCopy {
    blocks: Vec<Option<Block>>,
    values: Vec<Option<Value>>,
    /// The loop's values that have a copy, in the order they were copied.
    pub(super) defined: Vec<Value>,
}

impl LoopCopy {
    /// The copy of loop block `b`.
    pub(super) fn block(&self, b: Block) -> Block {
        self.blocks[b.index()].expect("a block of the loop")
    }

    /// The copy of `v`: `v` itself when the loop does not define it.
    pub(super) fn value(&self, v: Value) -> Value {
        self.values.get(v.index()).copied().flatten().unwrap_or(v)
    }
}

/// Copies the blocks of a loop (`body`) into new blocks, in reverse postorder, with
/// new values: the copies use the copies of the loop's values, and their edges
/// between loop blocks go to the copies (a back edge to the header's copy). Nothing
/// jumps to the copy yet; its edges out of the loop are the loop's.
pub(super) fn copy_loop(f: &mut Function, body: &[bool]) -> LoopCopy {
    let blocks: Vec<Block> = f
        .reverse_postorder()
        .into_iter()
        .filter(|b| body[b.index()])
        .collect();
    let mut copy = LoopCopy {
        blocks: vec![None; f.blocks.len()],
        values: vec![None; f.values.len()],
        defined: Vec::new(),
    };
    for &b in &blocks {
        let new = f.new_block(f.block(b).pc);
        copy.blocks[b.index()] = Some(new);
        for k in 0..f.block(b).params.len() {
            let p = f.block(b).params[k];
            copy.values[p.index()] = Some(f.add_param(new));
            copy.defined.push(p);
        }
        for k in 0..f.block(b).insts.len() {
            let inst = f.block(b).insts[k];
            let data = f.inst(inst).clone();
            let made = f.make_inst(data.op, data.pc);
            f.insts[made.index()].frame = data.frame;
            if let (Some(r), Some(c)) = (data.result, f.inst(made).result) {
                copy.values[r.index()] = Some(c);
                copy.defined.push(r);
            }
            f.blocks[new.index()].insts.push(made);
        }
    }
    for &b in &blocks {
        let new = copy.block(b);
        for k in 0..f.block(new).insts.len() {
            let inst = f.block(new).insts[k];
            f.insts[inst.index()].op.map_args(|v| copy.value(v));
        }
        let mut term = f.block(b).term.clone();
        term.map_args(|v| copy.value(v));
        for call in term.calls_mut() {
            if let Some(c) = copy.blocks[call.block.index()] {
                call.block = c;
            }
        }
        f.terminate(new, term);
    }
    copy
}

/// Copies the loop (blocks `body`, header `header`) before itself: `pre` jumps to
/// the copy, whose back edges go to `header`; `exit` gets a parameter for each
/// loop value used after the loop.
fn peel(f: &mut Function, header: Block, body: &[bool], pre: Block, exit: Block) {
    let copy = copy_loop(f, body);
    let header_copy = copy.block(header);
    // A back edge of the copy enters the loop: the copy is the first iteration.
    for b in body.len()..f.blocks.len() {
        for call in f.blocks[b].term.calls_mut() {
            if call.block == header_copy {
                call.block = header;
            }
        }
    }
    if let Terminator::Jump(call) = &mut f.blocks[pre.index()].term {
        call.block = header_copy;
    }
    // The loop's values used after it: each through a new parameter of `exit`.
    let copies: Vec<bool> = (0..f.blocks.len())
        .map(|b| body.get(b).copied().unwrap_or(false) || b >= body.len())
        .collect();
    let mut used_after = vec![false; f.values.len()];
    for (b, data) in f.blocks.iter().enumerate() {
        if copies[b] {
            continue;
        }
        for &inst in &data.insts {
            f.inst(inst)
                .op
                .for_each_arg(|v| used_after[v.index()] = true);
        }
        data.term.for_each_arg(|v| used_after[v.index()] = true);
    }
    let mut exit_map: Vec<Option<Value>> = vec![None; f.values.len()];
    for &v in &copy.defined {
        if !used_after[v.index()] {
            continue;
        }
        let p = f.add_param(exit);
        exit_map[v.index()] = Some(p);
        let copied = copy.value(v);
        for (b, data) in f.blocks.iter_mut().enumerate() {
            if !copies[b] {
                continue;
            }
            let from_copy = b >= body.len();
            for call in data.term.calls_mut() {
                if call.block == exit {
                    call.args.push(if from_copy { copied } else { v });
                }
            }
        }
    }
    let after = |v: Value| exit_map.get(v.index()).copied().flatten().unwrap_or(v);
    for b in 0..f.blocks.len() {
        if copies.get(b).copied().unwrap_or(true) {
            continue;
        }
        for k in 0..f.blocks[b].insts.len() {
            let inst = f.blocks[b].insts[k];
            f.insts[inst.index()].op.map_args(after);
        }
        f.blocks[b].term.map_args(after);
    }
}
