//! Redundant block parameters: the builder gives a loop header a parameter for every
//! local stored in the loop, even where the stored value never gets back to the
//! header, and a join a parameter for values that differ only until this pass
//! merges them. A parameter whose every incoming argument is one value `v` — or the
//! parameter itself, passed around a loop — is that value (Braun et al., "Simple and
//! Efficient Construction of SSA Form", 2013, remove such "trivial phis" the same
//! way).
//!
//! **What it proves**: parameter `p` of block `b` equals `v` on every execution,
//! because each jump to `b` passes `v` or `p` (which, by induction on the executions
//! reaching `b`, is `v`). `v` dominates `b`: every path into `b` from outside the
//! cycle passes `v`, so `v` is defined on it. Uses of `p` become uses of `v`, and `p`
//! goes. Removing one parameter can make another trivial, so it runs to a fixpoint.
//! This is what makes a loop's unchanged locals loop-invariant for LICM.

use crate::ir::{Block, Function, ENTRY};

use super::{Analyses, PassStats, Renames};

/// Removes the trivial parameters of every block of `f`.
pub fn run(f: &mut Function, analyses: &mut Analyses, stats: &mut PassStats) {
    // The jumps do not move in this pass: who jumps where is computed once.
    let jumpers = f.all_predecessors();
    let preds = analyses.graph(f).preds();
    loop {
        let mut changed = false;
        let mut renames = Renames::default();
        for (b, block_preds) in preds.iter().enumerate() {
            let block = Block(b as u32);
            if block == ENTRY || block_preds.is_empty() {
                continue;
            }
            let params = f.blocks[b].params.clone();
            let mut keep = vec![true; params.len()];
            for (i, &p) in params.iter().enumerate() {
                // The one value other than `p` that the jumps pass, if there is one.
                let mut same = None;
                let mut trivial = true;
                for (j, &pred) in block_preds.iter().enumerate() {
                    // A block listed twice (both arms of a branch) is read once.
                    if block_preds[..j].contains(&pred) {
                        continue;
                    }
                    for call in f.blocks[pred.index()].term.calls() {
                        if call.block != block {
                            continue;
                        }
                        let a = renames.resolve(call.args[i]);
                        if a == p || Some(a) == same {
                            continue;
                        }
                        if same.is_none() {
                            same = Some(a);
                        } else {
                            trivial = false;
                        }
                    }
                }
                if let (true, Some(v)) = (trivial, same) {
                    if renames.insert(p, v) {
                        keep[i] = false;
                    }
                }
            }
            if keep.contains(&false) {
                stats.params_removed += keep.iter().filter(|k| !**k).count() as u64;
                f.retain_params_in(block, &keep, &jumpers[b]);
                changed = true;
            }
        }
        renames.apply(f);
        if !changed {
            break;
        }
    }
}
