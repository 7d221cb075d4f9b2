//! Dominators: block `a` dominates block `b` when every path from the entry to `b`
//! goes through `a`. The verifier checks with them that each use sees its
//! definition; GVN and loop-invariant code motion walk the dominator tree.
//!
//! Computed by the iterative algorithm of Cooper, Harvey and Kennedy ("A Simple,
//! Fast Dominance Algorithm", 2001) over the reverse postorder.

use super::{Block, Function, ENTRY};

/// The dominator tree of a function's reachable blocks.
#[derive(Clone, Debug)]
pub struct Dominators {
    /// The immediate dominator of each block (the entry's is itself; `None` for an
    /// unreachable block).
    idom: Vec<Option<Block>>,
    /// Each block's position in the reverse postorder (`usize::MAX` if unreachable).
    rpo_index: Vec<usize>,
    /// The reachable blocks in reverse postorder.
    rpo: Vec<Block>,
}

impl Dominators {
    /// Computes the dominators of `f`.
    pub fn new(f: &Function) -> Dominators {
        Dominators::with(f.reverse_postorder(), &f.predecessors())
    }

    /// The dominators of the graph whose reachable blocks are `rpo`, in reverse
    /// postorder, and whose blocks' predecessors are `preds` (indexed by block).
    pub fn with(rpo: Vec<Block>, preds: &[Vec<Block>]) -> Dominators {
        let blocks = preds.len();
        let mut rpo_index = vec![usize::MAX; blocks];
        for (i, b) in rpo.iter().enumerate() {
            rpo_index[b.index()] = i;
        }
        let mut idom: Vec<Option<Block>> = vec![None; blocks];
        if rpo.is_empty() {
            return Dominators {
                idom,
                rpo_index,
                rpo,
            };
        }
        idom[ENTRY.index()] = Some(ENTRY);
        let mut changed = true;
        while changed {
            changed = false;
            for &b in rpo.iter().skip(1) {
                let mut new: Option<Block> = None;
                for &p in &preds[b.index()] {
                    if idom[p.index()].is_none() {
                        continue;
                    }
                    new = Some(match new {
                        None => p,
                        Some(q) => intersect(&idom, &rpo_index, p, q),
                    });
                }
                if new.is_some() && idom[b.index()] != new {
                    idom[b.index()] = new;
                    changed = true;
                }
            }
        }
        Dominators {
            idom,
            rpo_index,
            rpo,
        }
    }

    /// The immediate dominator of `b` (`None` for the entry and unreachable blocks).
    pub fn idom(&self, b: Block) -> Option<Block> {
        match self.idom.get(b.index()).copied().flatten() {
            Some(d) if d != b => Some(d),
            _ => None,
        }
    }

    /// True when `b` is reachable from the entry.
    pub fn is_reachable(&self, b: Block) -> bool {
        self.rpo_index
            .get(b.index())
            .is_some_and(|&i| i != usize::MAX)
    }

    /// True when `a` dominates `b` (every block dominates itself). False when either
    /// is unreachable.
    pub fn dominates(&self, a: Block, mut b: Block) -> bool {
        if !self.is_reachable(a) || !self.is_reachable(b) {
            return false;
        }
        loop {
            if a == b {
                return true;
            }
            match self.idom(b) {
                Some(d) if self.rpo_index[d.index()] >= self.rpo_index[a.index()] => b = d,
                _ => return false,
            }
        }
    }

    /// The reachable blocks in reverse postorder.
    pub fn rpo(&self) -> &[Block] {
        &self.rpo
    }

    /// The children of each block in the dominator tree.
    pub fn children(&self) -> Vec<Vec<Block>> {
        let mut children = vec![Vec::new(); self.idom.len()];
        for &b in &self.rpo {
            if let Some(d) = self.idom(b) {
                children[d.index()].push(b);
            }
        }
        children
    }
}

/// The nearest common dominator of `a` and `b`, walking up by reverse postorder.
fn intersect(idom: &[Option<Block>], rpo_index: &[usize], mut a: Block, mut b: Block) -> Block {
    while a != b {
        while rpo_index[a.index()] > rpo_index[b.index()] {
            a = idom[a.index()].expect("processed");
        }
        while rpo_index[b.index()] > rpo_index[a.index()] {
            b = idom[b.index()].expect("processed");
        }
    }
    a
}
