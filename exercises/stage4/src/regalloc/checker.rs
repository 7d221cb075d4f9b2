//! The allocation checker: proves that an [`Allocation`] computes what the IR says,
//! by abstract interpretation of the machine's locations (as regalloc2's checker
//! does).
//!
//! The abstract state says, for each register and stack slot, which SSA value it
//! surely holds (or nothing known). Walking the code the way the code generator lays
//! it out: an instruction's result goes into its location; a call stores the registers
//! saved around it ([`Allocation::call_saves`]) to their slots, forgets every register
//! it may change and loads the saved ones back; any instruction forgets the scratch
//! registers; an edge runs
//! its sequenced parallel moves ([`moves::sequence`](super::moves::sequence)), then
//! renames each argument to the parameter it became. Where paths join, a location
//! keeps a value only if it holds it on every path (iterated to a fixed point). Then
//! every use must find its value in its location: a register reused too early, a
//! value not saved across a call, a wrong or mis-ordered edge move — each shows up as
//! a use that finds something else.

use std::collections::VecDeque;

use stage2::Reg;

use crate::ir::{Block, Function, Terminator, Value, ENTRY};

use super::moves::{sequence, Move};
use super::{
    clobbers, edge_moves, is_constant, Allocation, Loc, MoveSrc, CALL_CLOBBERED, MOVE_SCRATCH,
    SCRATCH,
};

/// What a location holds: a known value, or nothing known.
type State = Vec<Option<Value>>;

/// An allocation error: where, and what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckError {
    /// The block where it was found.
    pub block: Block,
    /// What went wrong, in words.
    pub message: String,
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b{}: {}", self.block.0, self.message)
    }
}

/// The index of a location in the state: the 16 registers, then the slots.
fn index(loc: Loc) -> usize {
    match loc {
        Loc::Reg(r) => r.number() as usize,
        Loc::Slot(k) => 16 + k as usize,
    }
}

/// Checks `alloc` against `f`: every use of every value finds it in its location.
pub fn check(f: &Function, alloc: &Allocation) -> Result<(), Vec<CheckError>> {
    let size = 16 + alloc.slots as usize;
    let mut errors = Vec::new();
    // Every non-constant value of a reachable block has a location, and no value is
    // in a register the code generator keeps for itself.
    let in_order = |b: Block| alloc.order.contains(&b);
    for &b in &alloc.order {
        let block = f.block(b);
        let defs = block
            .params
            .iter()
            .copied()
            .chain(block.insts.iter().filter_map(|&i| f.inst(i).result));
        for v in defs {
            match alloc.locs[v.index()] {
                None if !is_constant(f, v) => errors.push(CheckError {
                    block: b,
                    message: format!("v{} has no location", v.0),
                }),
                Some(Loc::Reg(r)) if SCRATCH.contains(&r) || !is_allocatable(r) => {
                    errors.push(CheckError {
                        block: b,
                        message: format!("v{} is in {}, which is not allocatable", v.0, r.name()),
                    })
                }
                Some(Loc::Slot(k)) if k >= alloc.slots => errors.push(CheckError {
                    block: b,
                    message: format!("v{} is in slot {k} of {}", v.0, alloc.slots),
                }),
                _ => {}
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // The entry: the prologue puts each argument in its parameter's location.
    let mut states: Vec<Option<State>> = vec![None; f.blocks.len()];
    let mut entry = vec![None; size];
    for &p in &f.block(ENTRY).params {
        entry[index(alloc.loc(p))] = Some(p);
    }
    states[ENTRY.index()] = Some(entry);
    let mut work: VecDeque<Block> = VecDeque::from([ENTRY]);
    let mut queued = vec![false; f.blocks.len()];
    queued[ENTRY.index()] = true;
    while let Some(b) = work.pop_front() {
        queued[b.index()] = false;
        let state = states[b.index()]
            .clone()
            .expect("a queued block has a state");
        for (succ, out) in run_block(f, alloc, b, state, &mut Vec::new()) {
            if !in_order(succ) {
                continue;
            }
            let changed = match &mut states[succ.index()] {
                slot @ None => {
                    *slot = Some(out);
                    true
                }
                Some(old) => meet(old, &out),
            };
            if changed && !queued[succ.index()] {
                queued[succ.index()] = true;
                work.push_back(succ);
            }
        }
    }
    // The fixed point reached, check every use once.
    for &b in &alloc.order {
        let Some(state) = states[b.index()].clone() else {
            continue;
        };
        run_block(f, alloc, b, state, &mut errors);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Whether the allocator may hand out `r`.
fn is_allocatable(r: Reg) -> bool {
    super::ALLOCATABLE.contains(&r)
}

/// Keeps in `old` only what `new` agrees on; true when `old` changed.
fn meet(old: &mut State, new: &State) -> bool {
    let mut changed = false;
    for (a, b) in old.iter_mut().zip(new) {
        if a.is_some() && a != b {
            *a = None;
            changed = true;
        }
    }
    changed
}

/// Runs block `b` from `state`, recording failed uses in `errors`; gives the state on
/// each edge out, after its moves and renaming.
fn run_block(
    f: &Function,
    alloc: &Allocation,
    b: Block,
    mut state: State,
    errors: &mut Vec<CheckError>,
) -> Vec<(Block, State)> {
    let block = f.block(b);
    let use_of = |state: &State, v: Value, what: &str, errors: &mut Vec<CheckError>| {
        if is_constant(f, v) {
            return;
        }
        let Some(loc) = alloc.locs[v.index()] else {
            errors.push(CheckError {
                block: b,
                message: format!("{what} uses v{}, which has no location", v.0),
            });
            return;
        };
        let held = state[index(loc)];
        if held != Some(v) {
            errors.push(CheckError {
                block: b,
                message: format!(
                    "{what} reads v{} from {loc}, which holds {}",
                    v.0,
                    held.map_or("nothing known".to_string(), |h| format!("v{}", h.0))
                ),
            });
        }
    };
    for &inst in &block.insts {
        let data = f.inst(inst);
        let what = format!("{:?} (pc {})", data.op, data.pc);
        data.op.for_each_arg(|v| use_of(&state, v, &what, errors));
        if clobbers(&data.op) {
            // The registers saved around the call go to their slots and come back.
            let saves = alloc.saves_at(inst);
            for &(_, r, slot) in saves {
                state[index(Loc::Slot(slot))] = state[index(Loc::Reg(r))];
            }
            for r in CALL_CLOBBERED {
                state[index(Loc::Reg(r))] = None;
            }
            for &(_, r, slot) in saves {
                state[index(Loc::Reg(r))] = state[index(Loc::Slot(slot))];
            }
        }
        for r in SCRATCH {
            state[index(Loc::Reg(r))] = None;
        }
        if let Some(r) = data.result {
            if let Some(loc) = alloc.locs[r.index()] {
                state[index(loc)] = Some(r);
            }
        }
    }
    let mut outs = Vec::new();
    match &block.term {
        Terminator::Return(v) => use_of(&state, *v, "return", errors),
        Terminator::Branch { cond, .. } => use_of(&state, *cond, "branch", errors),
        Terminator::Jump(_) => {}
    }
    for call in block.term.calls() {
        let params = &f.block(call.block).params;
        let mut edge = state.clone();
        // The arguments must be where the moves read them.
        for &arg in &call.args {
            use_of(&state, arg, &format!("jump to b{}", call.block.0), errors);
        }
        let moves = edge_moves(f, alloc, &call.args, params);
        for Move { src, dst } in sequence(&moves, MOVE_SCRATCH) {
            edge[index(dst)] = match src {
                MoveSrc::Loc(l) => edge[index(l)],
                // A constant's move writes the argument it passes (destinations are
                // distinct: one parameter each).
                MoveSrc::Const(_) => call
                    .args
                    .iter()
                    .zip(params)
                    .find(|(_, p)| alloc.locs[p.index()] == Some(dst))
                    .map(|(&a, _)| a),
            };
        }
        // Each parameter's location now holds its argument: it becomes the parameter.
        for (&arg, &param) in call.args.iter().zip(params) {
            let Some(loc) = alloc.locs[param.index()] else {
                continue;
            };
            if edge[index(loc)] != Some(arg) {
                errors.push(CheckError {
                    block: b,
                    message: format!(
                        "the edge to b{} leaves {loc} holding {}, not v{} for v{}",
                        call.block.0,
                        edge[index(loc)]
                            .map_or("nothing known".to_string(), |h| format!("v{}", h.0)),
                        arg.0,
                        param.0
                    ),
                });
            }
        }
        let renamed: Vec<(Loc, Value)> = call
            .args
            .iter()
            .zip(params)
            .filter_map(|(_, &p)| alloc.locs[p.index()].map(|l| (l, p)))
            .collect();
        for (loc, p) in renamed {
            edge[index(loc)] = Some(p);
        }
        outs.push((call.block, edge));
    }
    outs
}
