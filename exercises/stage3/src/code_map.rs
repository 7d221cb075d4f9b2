//! A compiled program registered in [`stage2::code_map`], so that a fault in its code
//! is reported by function, bytecode instruction and listing — what the test harness
//! prints when a learner's template crashes.

use std::fmt::Write;
use std::ops::Range;

use stage1::{FnId, Function, Program};
use stage2::code_map::{self, Registration};
use stage2::disasm::{disasm_range, format_line};
use stage2::CodeBlock;

use crate::codegen::tiering::CompiledFunction;
use crate::codegen::FunctionCode;
use crate::engine::CompiledProgram;
use crate::listing::instr_text;

/// Bytecode instructions shown before and after the one that faulted.
const CONTEXT: usize = 2;

/// What the describer keeps of one function.
struct FnMap {
    name: String,
    range: Range<usize>,
    prologue: Range<usize>,
    /// Each instruction's text and code range (empty when ranges were not recorded).
    instrs: Vec<(String, Range<usize>)>,
    slow_paths: Range<usize>,
}

/// Registers `compiled` when the registry is on ([`code_map::enabled`]); the
/// registration must be dropped before the code is.
pub fn register(program: &Program, compiled: &CompiledProgram) -> Option<Registration> {
    let functions = compiled.functions.iter().zip(&program.functions);
    register_code(program, &compiled.code, functions)
}

/// Registers one function compiled alone for a tiered run
/// ([`compile_function`](crate::compile_function)), as [`register`] does a program.
pub fn register_function(
    program: &Program,
    func: FnId,
    compiled: &CompiledFunction,
) -> Option<Registration> {
    let f = &program.functions[func as usize];
    register_code(
        program,
        &compiled.code,
        std::iter::once((&compiled.function, f)),
    )
}

/// Registers the code of `functions` in `code` when the registry is on.
fn register_code<'a>(
    program: &Program,
    code: &CodeBlock,
    functions: impl Iterator<Item = (&'a FunctionCode, &'a Function)>,
) -> Option<Registration> {
    if !code_map::enabled() {
        return None;
    }
    let base = code.addr();
    let bytes = code.bytes().to_vec();
    let functions: Vec<FnMap> = functions
        .map(|(fc, f)| FnMap {
            name: f.name.clone(),
            range: fc.range.clone(),
            prologue: fc.prologue.clone(),
            instrs: f
                .code
                .iter()
                .zip(&fc.instrs)
                .map(|(&i, r)| (instr_text(program, i), r.clone()))
                .collect(),
            slow_paths: fc.slow_paths.clone(),
        })
        .collect();
    Some(code_map::register(base, bytes.len(), move |addr| {
        describe(&bytes, base, &functions, (addr - base) as usize)
    }))
}

/// Where `offset` is in the program's code, with the listing around it.
fn describe(bytes: &[u8], base: u64, functions: &[FnMap], offset: usize) -> String {
    let Some(f) = functions.iter().find(|f| f.range.contains(&offset)) else {
        return format!(
            "in generated code at offset {offset:#x}, outside every function (the entry trampoline)"
        );
    };
    let code = |range: Range<usize>| -> String {
        let mut out = String::new();
        for line in disasm_range(bytes, 0, range) {
            let mark = if line.offset <= offset && offset < line.offset + line.bytes.len() {
                "=>"
            } else {
                "  "
            };
            let _ = writeln!(out, "      {mark} {}", format_line(&line));
        }
        out
    };
    let _ = base;
    let mut out = String::new();
    if f.prologue.contains(&offset) {
        let _ = writeln!(
            out,
            "in generated code: fn {}, its prologue (code offset {offset:#x})",
            f.name
        );
        out.push_str(&code(f.prologue.clone()));
        return out;
    }
    if f.slow_paths.contains(&offset) {
        let _ = writeln!(
            out,
            "in generated code: fn {}, its slow paths (code offset {offset:#x})",
            f.name
        );
        out.push_str(&code(f.slow_paths.clone()));
        return out;
    }
    let Some(pc) = f.instrs.iter().position(|(_, r)| r.contains(&offset)) else {
        let _ = writeln!(
            out,
            "in generated code: fn {} (code offset {offset:#x})",
            f.name
        );
        out.push_str(&code(f.range.clone()));
        return out;
    };
    let _ = writeln!(
        out,
        "in generated code: fn {}, bytecode pc {pc} `{}` (code offset {offset:#x})",
        f.name, f.instrs[pc].0
    );
    let _ = writeln!(out, "listing around it:");
    let from = pc.saturating_sub(CONTEXT);
    let to = (pc + CONTEXT + 1).min(f.instrs.len());
    for (k, (text, range)) in f.instrs.iter().enumerate().take(to).skip(from) {
        let mark = if k == pc { "=>" } else { "  " };
        let _ = writeln!(out, "  {mark} {k:4}  {text}");
        out.push_str(&code(range.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::compile_program;

    #[test]
    fn an_address_inside_an_instruction_names_the_function_and_the_pc() {
        let verified =
            stage1::load::load_source("t.mini", "fn f(x) { return x + 1; }\nprint f(2);").unwrap();
        let program = verified.program();
        // Ranges are recorded only when the registry is on; record them here.
        let generated = crate::codegen::generate_with_ranges(&verified).unwrap();
        let compiled = compile_program(&verified).unwrap();
        let f = program.function_named("f").unwrap() as usize;
        let add_pc = program.functions[f]
            .code
            .iter()
            .position(|i| i.mnemonic() == "add")
            .unwrap();
        let functions: Vec<FnMap> = generated
            .functions
            .iter()
            .zip(&program.functions)
            .map(|(fc, f)| FnMap {
                name: f.name.clone(),
                range: fc.range.clone(),
                prologue: fc.prologue.clone(),
                instrs: f
                    .code
                    .iter()
                    .zip(&fc.instrs)
                    .map(|(&i, r)| (instr_text(program, i), r.clone()))
                    .collect(),
                slow_paths: fc.slow_paths.clone(),
            })
            .collect();
        let bytes = generated.asm.assemble().unwrap().bytes;
        let offset = functions[f].instrs[add_pc].1.start;
        let text = describe(&bytes, 0, &functions, offset);
        assert!(
            text.starts_with(&format!(
                "in generated code: fn f, bytecode pc {add_pc} `add`"
            )),
            "{text}"
        );
        assert!(text.contains(&format!("=> {add_pc:4}  add")), "{text}");
        assert!(text.contains("      => "), "{text}");
        drop(compiled);
        let prologue = describe(&bytes, 0, &functions, functions[f].prologue.start);
        assert!(prologue.contains("fn f, its prologue"), "{prologue}");
        assert!(describe(&bytes, 0, &functions, 0).contains("trampoline"));
    }
}
