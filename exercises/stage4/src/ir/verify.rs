//! The IR verifier: checks that a function is well-formed SSA. The tests run it after
//! the builder and after every pass, so a pass that breaks the IR is caught where it
//! did, not later as wrong machine code.
//!
//! What it checks:
//! - the tables agree: each value is defined once, where `values` says; each
//!   instruction is in at most one block; operands, blocks and values exist;
//! - each jump passes one argument per parameter of its block; nothing jumps to the
//!   entry; the entry's parameters are the arguments;
//! - every use is dominated by its definition: an instruction's operands are defined
//!   earlier in its block or in a block that dominates it, a block's parameters
//!   at its start; a jump's arguments are uses at the end of the jumping block.
//!   Unreachable blocks (which passes leave behind for `cleanup`) are checked for
//!   their structure, not for their uses.
//!
//! [`verify_states`] checks the frame states of guards and checkpoints (stage 7)
//! against the program they were built from: each frame has its function's locals
//! and the operands the bytecode verifier found at its pc, the innermost frame is
//! the instruction's own (at its pc, or after it for `guard int`), and the frames
//! around it are the calls it was inlined at ([`super::Frame::caller`]), each
//! stopped at its call with the operands left once the call has popped its
//! arguments (the depth after the call, less its result).

use stage1::{FnId, Instr, Verified};

use super::{
    Block, Dominators, FrameState, Function, GuardKind, Op, Terminator, Value, ValueDef, ENTRY,
};

/// Checks `f`; the error names the first problem found.
pub fn verify(f: &Function) -> Result<(), String> {
    check(f).map_err(|m| format!("function {}: {m}", f.name))
}

fn check(f: &Function) -> Result<(), String> {
    let fail = Err::<(), String>;
    if f.blocks.is_empty() {
        return fail("no blocks".to_string());
    }
    // Definitions: where each value is defined, checked against `values`.
    let mut defined: Vec<Option<ValueDef>> = vec![None; f.values.len()];
    let mut inst_block: Vec<Option<Block>> = vec![None; f.insts.len()];
    let mut define = |v: Value, def: ValueDef| -> Result<(), String> {
        match defined.get_mut(v.index()) {
            None => Err(format!("v{} is not in the value table", v.0)),
            Some(Some(_)) => Err(format!("v{} is defined twice", v.0)),
            Some(slot) => {
                if f.values[v.index()] != def {
                    return Err(format!(
                        "v{} is defined at {def:?}, but the table says {:?}",
                        v.0,
                        f.values[v.index()]
                    ));
                }
                *slot = Some(def);
                Ok(())
            }
        }
    };
    for (b, data) in f.blocks.iter().enumerate() {
        let block = Block(b as u32);
        for (i, &p) in data.params.iter().enumerate() {
            define(p, ValueDef::Param(block, i as u32))?;
        }
        for &inst in &data.insts {
            let Some(slot) = inst_block.get_mut(inst.index()) else {
                return fail(format!("b{b} lists a missing instruction {}", inst.0));
            };
            if slot.is_some() {
                return fail(format!("instruction {} is in two blocks", inst.0));
            }
            *slot = Some(block);
            let data = &f.insts[inst.index()];
            if data.op.has_result() != data.result.is_some() {
                return fail(format!("instruction {} has a wrong result", inst.0));
            }
            if let Some(r) = data.result {
                define(r, ValueDef::Inst(inst))?;
            }
        }
    }
    // Jumps.
    for (b, data) in f.blocks.iter().enumerate() {
        for call in data.term.calls() {
            let Some(target) = f.blocks.get(call.block.index()) else {
                return fail(format!("b{b} jumps to a missing block b{}", call.block.0));
            };
            if call.block == ENTRY {
                return fail(format!("b{b} jumps to the entry"));
            }
            if call.args.len() != target.params.len() {
                return fail(format!(
                    "b{b} passes {} arguments to b{}, which has {} parameters",
                    call.args.len(),
                    call.block.0,
                    target.params.len()
                ));
            }
        }
    }
    // Uses: each dominated by its definition.
    let doms = Dominators::new(f);
    // For each instruction, its position in its block (to order uses within one).
    let mut position = vec![usize::MAX; f.insts.len()];
    for data in &f.blocks {
        for (i, &inst) in data.insts.iter().enumerate() {
            position[inst.index()] = i;
        }
    }
    // Whether the definition of `v` is available at instruction `at` (index `at` in
    // `block`, `usize::MAX` for the terminator).
    let available = |v: Value, block: Block, at: usize| -> Result<(), String> {
        if !doms.is_reachable(block) {
            return Ok(());
        }
        let def = defined
            .get(v.index())
            .copied()
            .flatten()
            .ok_or_else(|| format!("v{} is used in b{} but never defined", v.0, block.0))?;
        let (def_block, def_at) = match def {
            ValueDef::Param(b, _) => (b, None),
            ValueDef::Inst(i) => (
                inst_block[i.index()].expect("defined in a block"),
                Some(position[i.index()]),
            ),
        };
        let ok = if def_block == block {
            def_at.is_none_or(|d| d < at)
        } else {
            doms.dominates(def_block, block)
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "v{} is used in b{} where its definition (in b{}) does not dominate",
                v.0, block.0, def_block.0
            ))
        }
    };
    for (b, data) in f.blocks.iter().enumerate() {
        let block = Block(b as u32);
        for (i, &inst) in data.insts.iter().enumerate() {
            let mut result = Ok(());
            f.inst(inst).op.for_each_arg(|v| {
                if result.is_ok() {
                    result = available(v, block, i);
                }
            });
            result?;
        }
        let mut result = Ok(());
        data.term.for_each_arg(|v| {
            if result.is_ok() {
                result = available(v, block, usize::MAX);
            }
        });
        result?;
        if let Terminator::Return(v) = data.term {
            if v.index() >= f.values.len() {
                return fail(format!("b{b} has no terminator"));
            }
        }
    }
    Ok(())
}

/// Checks the frame states of `f`'s guards and checkpoints against `program` (see
/// the module's documentation); the error names the first wrong one.
pub fn verify_states(f: &Function, program: &Verified) -> Result<(), String> {
    for data in &f.blocks {
        for &inst in &data.insts {
            let inst = f.inst(inst);
            let (state, after) = match &inst.op {
                Op::Guard(guard) => (&guard.state, matches!(guard.kind, GuardKind::Int(_))),
                Op::Checkpoint(state) => (&**state, false),
                _ => continue,
            };
            let pc = inst.pc + u32::from(after);
            check_state(f, program, inst.frame, pc, state).map_err(|m| {
                format!(
                    "function {}: the state of `{}` at pc {}: {m}",
                    f.name,
                    super::text::op_text(&inst.op),
                    inst.pc
                )
            })?;
        }
    }
    Ok(())
}

/// Checks `state`, of an instruction of inlined frame `frame` of `f` (0: its own
/// code) whose interpreter frame resumes at `pc`.
fn check_state(
    f: &Function,
    program: &Verified,
    mut frame: u32,
    mut pc: u32,
    state: &FrameState,
) -> Result<(), String> {
    let prog = program.program();
    let mut innermost = true;
    for (k, sf) in state.frames.iter().enumerate().rev() {
        let func: FnId = match frame {
            0 => f.id,
            k => {
                f.frames
                    .get(k as usize - 1)
                    .ok_or("no such inlined frame")?
                    .func
            }
        };
        if sf.func != func || sf.pc != pc {
            return Err(format!(
                "frame {k} is f{}@{}, where f{func}@{pc} is",
                sf.func, sf.pc
            ));
        }
        let source = prog
            .functions
            .get(func as usize)
            .ok_or_else(|| format!("no function f{func}"))?;
        let depths = program.depths(func);
        let operands = if innermost {
            depths.get(pc as usize).copied()
        } else {
            // Stopped at its call, which must be one: the operands once the call has
            // popped its arguments (the depth after it, less the result).
            match source.code.get(pc as usize) {
                Some(Instr::Call { .. } | Instr::CallValue(_)) => {}
                other => return Err(format!("frame {k} is stopped at {other:?}, not a call")),
            }
            depths.get(pc as usize + 1).map(|d| d - 1)
        };
        if sf.locals.len() != source.locals as usize {
            return Err(format!(
                "frame {k} has {} locals, f{func} has {}",
                sf.locals.len(),
                source.locals
            ));
        }
        if Some(sf.operands.len() as u32) != operands {
            return Err(format!(
                "frame {k} has {} operands, where the verifier has {operands:?}",
                sf.operands.len()
            ));
        }
        innermost = false;
        if k == 0 {
            if frame != 0 {
                return Err(format!("the outermost frame is inlined frame {frame}"));
            }
        } else {
            if frame == 0 {
                return Err("more frames than calls inlined around it".to_string());
            }
            let inlined = f.frames[frame as usize - 1];
            (frame, pc) = (inlined.caller, inlined.call_pc);
        }
    }
    if state.frames.is_empty() {
        return Err("no frame".to_string());
    }
    Ok(())
}
