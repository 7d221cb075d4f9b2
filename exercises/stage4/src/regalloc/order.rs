//! The linear order of the blocks that live intervals are measured along: a reverse
//! postorder (each block after the blocks that lead to it, loops aside) in which the
//! blocks of each loop stay together.
//!
//! A plain depth-first search that takes a loop's body before its exit puts the code
//! after the loop *between* the header and the body; every value live around the loop
//! would then be live over that code too. So the search first finds the loops (a back
//! edge `latch -> header`, and the blocks that reach the latch without passing the
//! header), then searches again taking, at each block, the successors that leave its
//! loops first: they finish first, so they come last in reverse postorder, after the
//! whole loop.

use crate::ir::{Block, Function, ENTRY};

/// The reachable blocks of `f`, entry first, in reverse postorder with loops
/// contiguous.
pub fn linear_order(f: &Function) -> Vec<Block> {
    let n = f.blocks.len();
    if n == 0 {
        return Vec::new();
    }
    let loops = find_loops(f);
    // How many of `b`'s loops `s` is in too: fewer means `s` leaves more of them.
    let shared = |b: Block, s: Block| {
        loops
            .iter()
            .filter(|body| body[b.index()] && body[s.index()])
            .count()
    };
    let mut post = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    let mut stack: Vec<(Block, Vec<Block>)> = Vec::new();
    let succs_of = |b: Block| {
        let mut succs = f.blocks[b.index()].term.successors().to_vec();
        // Stable: among equals, `then` before `else`.
        succs.sort_by_key(|&s| shared(b, s));
        succs.reverse();
        succs
    };
    seen[ENTRY.index()] = true;
    stack.push((ENTRY, succs_of(ENTRY)));
    while let Some((block, succs)) = stack.last_mut() {
        // `succs` is reversed: pop takes the exits first.
        match succs.pop() {
            Some(s) if !seen[s.index()] => {
                seen[s.index()] = true;
                let next = succs_of(s);
                stack.push((s, next));
            }
            Some(_) => {}
            None => {
                post.push(*block);
                stack.pop();
            }
        }
    }
    post.reverse();
    post
}

/// The loops of `f`, as the set of blocks of each (header included), one per header
/// that some back edge reaches.
pub fn find_loops(f: &Function) -> Vec<Vec<bool>> {
    loops_by_header(f)
        .into_iter()
        .map(|(_, body)| body)
        .collect()
}

/// [`find_loops`], each loop with its header.
pub fn loops_by_header(f: &Function) -> Vec<(Block, Vec<bool>)> {
    let n = f.blocks.len();
    let preds = f.predecessors();
    // Back edges: to a block still on the search's stack.
    let mut on_stack = vec![false; n];
    let mut seen = vec![false; n];
    let mut back_edges: Vec<(Block, Block)> = Vec::new();
    let mut stack = vec![(ENTRY, 0usize)];
    seen[0] = true;
    on_stack[0] = true;
    while let Some((block, next)) = stack.pop() {
        let succs = f.blocks[block.index()].term.successors();
        if let Some(&s) = succs.get(next) {
            stack.push((block, next + 1));
            if on_stack[s.index()] {
                back_edges.push((block, s));
            } else if !seen[s.index()] {
                seen[s.index()] = true;
                on_stack[s.index()] = true;
                stack.push((s, 0));
            }
        } else {
            on_stack[block.index()] = false;
        }
    }
    let mut headers: Vec<Block> = back_edges.iter().map(|&(_, h)| h).collect();
    headers.sort();
    headers.dedup();
    headers
        .into_iter()
        .map(|h| {
            let mut body = vec![false; n];
            body[h.index()] = true;
            let mut work: Vec<Block> = back_edges
                .iter()
                .filter(|&&(_, hh)| hh == h)
                .map(|&(latch, _)| latch)
                .collect();
            while let Some(b) = work.pop() {
                if body[b.index()] {
                    continue;
                }
                body[b.index()] = true;
                work.extend(preds[b.index()].iter().copied());
            }
            (h, body)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{BlockCall, CmpOp, Op, Terminator};

    fn jump(block: Block) -> Terminator {
        Terminator::Jump(BlockCall {
            block,
            args: vec![],
        })
    }

    #[test]
    fn the_loop_body_comes_before_the_code_after_the_loop() {
        // b0 -> b1 (header) -> then b2 (body) -> b1; else b3 -> b4 (return)
        let mut f = Function::new("loop", 0);
        let b0 = f.new_block(0);
        let n = f.add_param(b0);
        let b1 = f.new_block(1);
        let b2 = f.new_block(2);
        let b3 = f.new_block(3);
        let b4 = f.new_block(4);
        f.terminate(b0, jump(b1));
        let c = f.push(b1, Op::Compare(CmpOp::Lt, n, n), 1).unwrap();
        f.terminate(
            b1,
            Terminator::Branch {
                cond: c,
                then: BlockCall {
                    block: b2,
                    args: vec![],
                },
                else_: BlockCall {
                    block: b3,
                    args: vec![],
                },
            },
        );
        f.terminate(b2, jump(b1));
        f.terminate(b3, jump(b4));
        f.terminate(b4, Terminator::Return(n));
        assert_eq!(linear_order(&f), vec![b0, b1, b2, b3, b4]);
        let loops = find_loops(&f);
        assert_eq!(loops.len(), 1);
        assert_eq!(loops[0], vec![false, true, true, false, false]);
    }
}
