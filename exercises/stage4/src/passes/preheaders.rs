//! Preheaders: every loop gets a block of its own before its header — LLVM's loop
//! simplification — where the passes that work on loops put what runs once per
//! entry into the loop (LICM's hoisted instructions, peeling's first iteration,
//! range-check elimination's bound).
//!
//! Which edges enter a loop: all those into its header but the back edges of its
//! innermost cycle — for a `while` loop, its one back edge. An OSR variant's inner
//! loop needs the distinction: entered from the OSR entry, its header dominates
//! the loops around it too, so the edge from the outer loop's body into it is a
//! back edge as well, of a bigger cycle; that edge enters the inner loop, and gets
//! the preheader with the OSR entry's. The inner loop is then a loop of its own
//! again, with a preheader, and the loop passes treat it as in a whole-function
//! compile.
//!
//! **What it proves**: nothing; it only moves edges. A loop entered from several
//! places, or from a branch, gets a new block with one parameter per parameter of
//! the header, which every edge into the loop now enters with the same arguments,
//! and which jumps on to the header with its parameters: each edge does what it did,
//! one jump later.

use crate::ir::{Block, BlockCall, Function, Terminator, Value};

use super::{Analyses, PassStats};

/// Gives each loop of `f` without a preheader one.
pub fn run(f: &mut Function, analyses: &mut Analyses, _stats: &mut PassStats) {
    let graph = analyses.graph(f);
    let (doms, preds) = (graph.doms(), graph.preds());
    let mut missing: Vec<(Block, Vec<Block>)> = Vec::new();
    for &h in doms.rpo() {
        // The smallest cycle through a back edge into `h`: the blocks that reach
        // the edge's source without passing `h`.
        let cycle = preds[h.index()]
            .iter()
            .filter(|&&s| doms.dominates(h, s))
            .map(|&s| {
                let mut body = vec![false; f.blocks.len()];
                body[h.index()] = true;
                let mut work = vec![s];
                while let Some(b) = work.pop() {
                    if !std::mem::replace(&mut body[b.index()], true) {
                        work.extend(preds[b.index()].iter().copied());
                    }
                }
                body
            })
            .min_by_key(|body| body.iter().filter(|&&b| b).count());
        let Some(cycle) = cycle else { continue };
        let mut entering: Vec<Block> = preds[h.index()]
            .iter()
            .copied()
            .filter(|p| !cycle[p.index()])
            .collect();
        entering.dedup();
        let has_one = matches!(
            entering.as_slice(),
            [p] if matches!(&f.block(*p).term, Terminator::Jump(call) if call.block == h)
        );
        if !has_one && !entering.is_empty() {
            missing.push((h, entering));
        }
    }
    if missing.is_empty() {
        return;
    }
    for (header, entering) in missing {
        let pre = f.new_block(f.block(header).pc);
        let params: Vec<Value> = (0..f.block(header).params.len())
            .map(|_| f.add_param(pre))
            .collect();
        for p in entering {
            for call in f.blocks[p.index()].term.calls_mut() {
                if call.block == header {
                    call.block = pre;
                }
            }
        }
        f.terminate(
            pre,
            Terminator::Jump(BlockCall {
                block: header,
                args: params,
            }),
        );
    }
    analyses.graph_changed();
}
