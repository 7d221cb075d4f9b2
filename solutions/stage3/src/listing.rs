//! The listing `jitlab dump --asm` prints: each function's bytecode with the x86-64
//! of each instruction under it, decoded by iced-x86, then its slow paths.

use std::fmt::Write;

use stage1::{Instr, Program, Verified};
use stage2::{disasm_range, listing as format_lines};

use crate::codegen::{generate_with_ranges, CompileError};

/// The listing of every function of `verified` (code offsets from the start of the
/// program's code block).
pub fn listing(verified: &Verified) -> Result<String, CompileError> {
    let program = verified.program();
    let generated = generate_with_ranges(verified)?;
    let code = generated.asm.assemble().map_err(|e| CompileError {
        function: "<program>".into(),
        reason: e.to_string(),
    })?;
    let mut out = String::new();
    for (fc, f) in generated.functions.iter().zip(&program.functions) {
        let _ = writeln!(
            out,
            "fn {} (arity {}, locals {}): {} bytes of code",
            f.name,
            f.arity,
            f.locals,
            fc.range.len()
        );
        let _ = writeln!(out, "  prologue");
        out.push_str(&indent(&format_lines(&disasm_range(
            &code.bytes,
            0,
            fc.prologue.clone(),
        ))));
        for (pc, (&instr, range)) in f.code.iter().zip(&fc.instrs).enumerate() {
            let _ = writeln!(out, "  {pc:4}  {}", instr_text(program, instr));
            out.push_str(&indent(&format_lines(&disasm_range(
                &code.bytes,
                0,
                range.clone(),
            ))));
        }
        let _ = writeln!(out, "  slow paths");
        out.push_str(&indent(&format_lines(&disasm_range(
            &code.bytes,
            0,
            fc.slow_paths.clone(),
        ))));
    }
    Ok(out)
}

/// Indents every line of `text` by eight spaces.
fn indent(text: &str) -> String {
    text.lines().map(|l| format!("        {l}\n")).collect()
}

/// One instruction with its operands resolved: constants' values, names of
/// functions and fields.
pub fn instr_text(program: &Program, instr: Instr) -> String {
    let m = instr.mnemonic();
    let fn_name = |f: u32| {
        program
            .functions
            .get(f as usize)
            .map_or("?", |f| f.name.as_str())
    };
    let field = |k: u32| program.fields.get(k as usize).map_or("?", |s| s.as_str());
    match instr {
        Instr::Const(k) => format!("{m} {}", program.constants[k as usize]),
        Instr::LoadLocal(n) | Instr::StoreLocal(n) => format!("{m} {n}"),
        Instr::Jump(t) | Instr::JumpIfFalse(t) | Instr::JumpIfTrue(t) | Instr::Loop(t) => {
            format!("{m} {t}")
        }
        Instr::Call { func, argc } => format!("{m} {} {argc}", fn_name(func)),
        Instr::CallValue(argc) | Instr::NewArray(argc) => format!("{m} {argc}"),
        Instr::GetField(k) | Instr::SetField(k) => format!("{m} {}", field(k)),
        Instr::FuncRef(f) => format!("{m} {}", fn_name(f)),
        _ => m.to_string(),
    }
}
