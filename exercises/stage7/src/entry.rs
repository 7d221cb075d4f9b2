//! A late pass over speculative IR entered by on-stack replacement: the arrays a
//! loop reads are checked once, at the entry, by guards. A local that the loop never
//! assigns is the same value at every iteration (after the pipeline, the entry
//! block's parameter itself), yet each `a[i]` of it checks its tag again: in the
//! `sieve` kernel's loop over the numbers, `composite[i]` costs a `lea`, a `test`
//! and a jump at each of two million iterations. Stage 4 cannot move that check
//! before the loop: it raises `type error`, and the loop might have ended (or
//! printed) before reaching the access. A guard can: when it fails, the code
//! deoptimizes to the frame the interpreter left at the loop header — nothing has
//! happened yet — and the interpreter runs the loop as it would have. HotSpot makes
//! the same bet on the interpreter's locals at an OSR entry, and JavaScriptCore's
//! DFG checks the types of an OSR entry's values once, where it enters.
//!
//! The builder leaves a checkpoint with that frame in the entry block when the
//! speculation bets on it (`Speculation::entry_arrays`, dropped like any bet once
//! its guard fails twice). Each entry value that is used, apart from frame states,
//! only as the array of `array_get`, `array_set`, `len` or `check_array` — so a
//! value that is not an array would have raised at its first use — gets a guard
//! `check_array` there with the checkpoint's frame, and its uses take the guard's
//! result, an array the code generator checks no more (`stage4::passes::is_array`).
//! Then the checkpoint goes.

use stage4::ir::{Block, Function, Guard, GuardKind, Inst, Op, Value};
use stage4::passes::{Analyses, PassStats};

/// Guards, at the entry, each entry value used only as an array, and removes the
/// entry's checkpoint (see the module).
pub fn run(f: &mut Function, _: &mut Analyses, stats: &mut PassStats) {
    let entry = Block(0);
    let Some(at) = f.blocks[entry.index()]
        .insts
        .iter()
        .position(|&inst| is_entered(f, inst))
    else {
        return;
    };
    let checkpoint = f.blocks[entry.index()].insts.remove(at);
    let data = f.inst(checkpoint);
    let (pc, Op::Checkpoint(state)) = (data.pc, &data.op) else {
        unreachable!("found above");
    };
    let state = (**state).clone();
    let arrays = only_arrays(f);
    let params = f.blocks[entry.index()].params.clone();
    // The checked value of each value a guard checks.
    let mut checked: Vec<Option<Value>> = vec![None; f.values.len()];
    let mut guards = Vec::new();
    for v in params.into_iter().filter(|v| arrays[v.index()]) {
        let check = Op::Guard(Box::new(Guard {
            kind: GuardKind::Op(Op::CheckArray(v)),
            state: state.clone(),
        }));
        let inst = f.make_inst(check, pc);
        checked[v.index()] = f.insts[inst.index()].result;
        guards.push(inst);
        stats.speculated += 1;
    }
    if guards.is_empty() {
        return;
    }
    // Every use takes the checked value (no terminator uses one: see `only_arrays`),
    // but the guards themselves.
    for (i, data) in f.insts.iter_mut().enumerate() {
        if !guards.iter().any(|g| g.index() == i) {
            data.op
                .map_args(|v| checked.get(v.index()).copied().flatten().unwrap_or(v));
        }
    }
    let insts = &mut f.blocks[entry.index()].insts;
    for (n, &inst) in guards.iter().enumerate() {
        insts.insert(at + n, inst);
    }
}

/// Whether `inst` is a checkpoint of the frame the function is entered with: one
/// frame, at the entry block's pc, holding the entry block's parameters in order
/// (the builder's checkpoint of an OSR entry). Every other checkpoint holds an
/// arithmetic instruction's operands besides the locals, and is `speculate`'s.
fn is_entered(f: &Function, inst: Inst) -> bool {
    let Op::Checkpoint(state) = &f.inst(inst).op else {
        return false;
    };
    let entry = &f.blocks[0];
    let [frame] = state.frames.as_slice() else {
        return false;
    };
    frame.pc == entry.pc
        && frame.locals.len() + frame.operands.len() == entry.params.len()
        && frame
            .locals
            .iter()
            .chain(&frame.operands)
            .eq(entry.params.iter())
}

/// For each value: whether it is read somewhere as an array and, frame states
/// aside, nowhere as anything else (not by a terminator either).
fn only_arrays(f: &Function) -> Vec<bool> {
    let mut array = vec![false; f.values.len()];
    let mut other = vec![false; f.values.len()];
    for block in &f.blocks {
        block.term.for_each_arg(|v| other[v.index()] = true);
        for &inst in &block.insts {
            let op = match &f.inst(inst).op {
                Op::Checkpoint(_) => continue,
                // A guard's frame state is no use of a value: only its check is.
                Op::Guard(guard) => match &guard.kind {
                    GuardKind::Op(op) => op,
                    GuardKind::Int(v) | GuardKind::Cond(v, _) | GuardKind::Callee(v, _) => {
                        other[v.index()] = true;
                        continue;
                    }
                },
                op => op,
            };
            match *op {
                Op::ArrayGet(a, i) => {
                    array[a.index()] = true;
                    other[i.index()] = true;
                }
                Op::ArraySet(a, i, x) => {
                    array[a.index()] = true;
                    other[i.index()] = true;
                    other[x.index()] = true;
                }
                Op::ArrayLen(a) | Op::CheckArray(a) => array[a.index()] = true,
                ref op => op.for_each_arg(|v| other[v.index()] = true),
            }
        }
    }
    array.iter().zip(&other).map(|(&a, &o)| a && !o).collect()
}
