//! The facts about a function's control-flow graph that several passes need: the
//! reverse postorder, each block's predecessors and the dominator tree.
//!
//! Each of them walks the whole graph, and most passes leave the graph's edges alone
//! (they rewrite instructions), so the pipeline computes them once and keeps them
//! until a pass changes an edge (SCCP turning a branch into a jump, cleanup merging
//! and dropping blocks): LLVM's pass manager calls such facts *preserved analyses*.
//! See `passes::Analyses`.

use super::{Block, Dominators, Function};

/// The reverse postorder, predecessors and dominators of a function's graph, as it
/// was when they were computed.
#[derive(Clone, Debug)]
pub struct Graph {
    /// Each block's predecessors among the reachable blocks (a block that jumps to
    /// it twice is listed twice), as [`Function::predecessors`] gives them.
    preds: Vec<Vec<Block>>,
    /// The dominator tree, which also holds the reverse postorder.
    doms: Dominators,
}

impl Graph {
    /// The graph facts of `f`.
    pub fn new(f: &Function) -> Graph {
        let rpo = f.reverse_postorder();
        let mut preds = vec![Vec::new(); f.blocks.len()];
        for &b in &rpo {
            for s in f.blocks[b.index()].term.successors() {
                preds[s.index()].push(b);
            }
        }
        let doms = Dominators::with(rpo, &preds);
        Graph { preds, doms }
    }

    /// The reachable blocks in reverse postorder.
    pub fn rpo(&self) -> &[Block] {
        self.doms.rpo()
    }

    /// Each block's predecessors, indexed by block.
    pub fn preds(&self) -> &[Vec<Block>] {
        &self.preds
    }

    /// The dominator tree.
    pub fn doms(&self) -> &Dominators {
        &self.doms
    }
}
