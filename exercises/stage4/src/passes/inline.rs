//! Inlining: a direct call of a small function becomes a copy of the callee's
//! optimized code, so that the call sequence goes (the prologue, the epilogue, the
//! arguments through registers, the test of the error word) and the passes see the
//! callee's code with the caller's facts (`fib(n - 1)` knows its argument is an
//! integer, so the copy's `check_int` goes).
//!
//! **What it keeps exact**: everything a call can show. The copy starts with `enter`,
//! which takes a frame from the frame limit as the call would (`stack overflow` at
//! the call when none is left) and counts the call, and each of its returns ends in
//! `leave`, which gives the frame back. Its instructions keep their pcs and name the
//! inlined call as their [`Frame`] ([`crate::ir::InstData::frame`]), so an error
//! there reports the callee's function and line, then the caller's at the call — the
//! trace the call would have left. One level only: calls in a copy stay calls.
//!
//! **The splice** ([`inline_at`]) is also stage 7's: the speculative builder
//! (`ir::build::build_speculative`) inlines at build time, where a callee may have
//! loops, calls inlined into it already (its [`Function::frames`], chained to the
//! new frame by [`Frame::caller`]), and guards whose frame states get the caller's
//! frame at the call put in front (the interpreter resumes the caller after the
//! call with the callee's result).

use crate::ir::{
    Block, BlockCall, Frame, Function, Inst, Op, StateFrame, Terminator, Value, ENTRY,
};

/// The largest callee inlined, in instructions.
pub const MAX_CALLEE_INSTS: usize = 40;

/// The most calls inlined into one function.
pub const MAX_INLINED: usize = 6;

/// True when `g` may be copied into a caller: small, with no inlined code of its
/// own, and no loop (so nothing jumps back to its entry, whose parameters are the
/// arguments).
pub fn inlinable(g: &Function) -> bool {
    if !g.frames.is_empty() {
        return false;
    }
    let order = g.reverse_postorder();
    let size: usize = order.iter().map(|&b| g.block(b).insts.len() + 1).sum();
    // A jump to a block no later in reverse postorder is a loop's back edge (or one
    // to the entry): a callee with a loop runs long enough that its call costs
    // little, and its copy would only crowd the caller's registers.
    let mut position = vec![usize::MAX; g.blocks.len()];
    for (k, &b) in order.iter().enumerate() {
        position[b.index()] = k;
    }
    size <= MAX_CALLEE_INSTS
        && order.iter().all(|&b| {
            g.block(b)
                .term
                .successors()
                .iter()
                .all(|&s| position[s.index()] > position[b.index()])
        })
}

/// Inlines into `f` its direct calls of the functions `callees` offers (by id; `None`
/// for one that must stay a call), up to [`MAX_INLINED`], and says how many.
pub fn run(f: &mut Function, callees: &[Option<&Function>]) -> usize {
    let mut count = 0;
    while count < MAX_INLINED {
        let Some((b, at, g)) = next_call(f, callees) else {
            break;
        };
        inline_at(f, b, at, g, None);
        count += 1;
    }
    count
}

/// The first call of `f` (in its own code, not a copy) of an inlinable callee.
fn next_call<'g>(
    f: &Function,
    callees: &[Option<&'g Function>],
) -> Option<(Block, usize, &'g Function)> {
    for b in f.reverse_postorder() {
        for (at, &inst) in f.block(b).insts.iter().enumerate() {
            let data = f.inst(inst);
            if data.frame != 0 {
                continue;
            }
            if let Op::Call { func, .. } = data.op {
                if let Some(Some(g)) = callees.get(func as usize) {
                    if inlinable(g) {
                        return Some((b, at, g));
                    }
                }
            }
        }
    }
    None
}

/// Replaces the call at `f.blocks[b].insts[at]` by a copy of `g` (whose entry block
/// no block jumps to, as the builder makes it). The copy's code is a new frame of
/// `f.frames`, called from the call's frame, and `g`'s own inlined frames follow it.
/// `caller` is the frame of `f` at the call (its operands without the call's
/// arguments, as `StateFrame` says), put in front of every frame state in the copy;
/// `None` when `g` has no frame states (stage 4's inlining of optimized callees).
/// Gives the value that stands for the call's result from now on (the parameter of
/// the block after the copy; every use of the result in `f` is replaced by it).
pub fn inline_at(
    f: &mut Function,
    b: Block,
    at: usize,
    g: &Function,
    caller: Option<&StateFrame>,
) -> Value {
    let call: Inst = f.blocks[b.index()].insts[at];
    let (args, result, call_pc) = match &f.inst(call).op {
        Op::Call { args, .. } => (args.clone(), f.inst(call).result, f.inst(call).pc),
        _ => unreachable!("inline_at is given a call"),
    };
    let call_frame = f.inst(call).frame;
    // The rest of `b` after the call moves to a continuation block, whose parameter
    // is the call's result.
    let cont = f.new_block(f.block(b).pc);
    let r = f.add_param(cont);
    let tail = f.blocks[b.index()].insts.split_off(at + 1);
    f.blocks[b.index()].insts.pop();
    f.blocks[cont.index()].insts = tail;
    let term = std::mem::replace(
        &mut f.blocks[b.index()].term,
        Terminator::Return(Value(u32::MAX)),
    );
    f.blocks[cont.index()].term = term;
    if let Some(result) = result {
        f.replace_uses(result, r);
    }
    f.frames.push(Frame {
        func: g.id,
        call_pc,
        caller: call_frame,
    });
    // Frame `k` of `g` (0 for its own code) is frame `frame + k` of `f`.
    let frame = f.frames.len() as u32;
    for inner in &g.frames {
        f.frames.push(Frame {
            caller: frame + inner.caller,
            ..*inner
        });
    }
    // The copy: blocks, then parameters (the entry's are the arguments), then
    // instructions in reverse postorder (definitions before their uses), then the
    // terminators (which may pass values defined later, around a loop).
    let order = g.reverse_postorder();
    let mut blocks: Vec<Option<Block>> = vec![None; g.blocks.len()];
    for &gb in &order {
        blocks[gb.index()] = Some(f.new_block(call_pc));
    }
    let block = |gb: Block| blocks[gb.index()].expect("a reachable block");
    let mut values: Vec<Option<Value>> = vec![None; g.values.len()];
    for &gb in &order {
        for (k, &p) in g.block(gb).params.iter().enumerate() {
            values[p.index()] = Some(if gb == ENTRY {
                args[k]
            } else {
                f.add_param(block(gb))
            });
        }
    }
    for &gb in &order {
        for &inst in &g.block(gb).insts {
            let data = g.inst(inst);
            let mut op = data.op.clone();
            op.map_args(|v| values[v.index()].expect("defined before its use"));
            if let Op::Guard(guard) = &mut op {
                outer(&mut guard.state, caller);
            } else if let Op::Checkpoint(state) = &mut op {
                outer(state, caller);
            }
            let new = f.make_inst(op, data.pc);
            f.insts[new.index()].frame = frame + data.frame;
            if let Some(v) = data.result {
                values[v.index()] = f.inst(new).result;
            }
            f.blocks[block(gb).index()].insts.push(new);
        }
    }
    let value = |v: Value| values[v.index()].expect("a value of the callee");
    for &gb in &order {
        let copy = block(gb);
        let term = match &g.block(gb).term {
            Terminator::Return(v) => {
                let leave = f.make_inst(Op::Leave, call_pc);
                f.insts[leave.index()].frame = call_frame;
                f.blocks[copy.index()].insts.push(leave);
                Terminator::Jump(BlockCall {
                    block: cont,
                    args: vec![value(*v)],
                })
            }
            other => {
                let mut t = other.clone();
                t.map_args(value);
                for c in t.calls_mut() {
                    c.block = block(c.block);
                }
                t
            }
        };
        f.blocks[copy.index()].term = term;
    }
    let enter = f.make_inst(Op::Enter, call_pc);
    f.insts[enter.index()].frame = call_frame;
    f.blocks[b.index()].insts.push(enter);
    f.blocks[b.index()].term = Terminator::Jump(BlockCall {
        block: block(ENTRY),
        args: Vec::new(),
    });
    r
}

/// Puts the caller's frame `caller` in front of `state`, a frame state of inlined
/// code (its values are the caller's, not the copy's: they are not renamed).
fn outer(state: &mut crate::ir::FrameState, caller: Option<&StateFrame>) {
    let caller = caller.expect("a callee with frame states is inlined with the caller's frame");
    state.frames.insert(0, caller.clone());
}
