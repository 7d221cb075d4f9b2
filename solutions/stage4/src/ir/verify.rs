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

use super::{Block, Dominators, Function, Terminator, Value, ValueDef, ENTRY};

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
