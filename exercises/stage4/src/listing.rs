//! The listing `jitlab dump --asm --stage 4` prints: for each function the optimizer
//! compiled, each block of its IR with, under each instruction, the bytecode pc it
//! came from and the x86-64 it became (decoded by iced-x86); the functions it
//! declined say why and are left to stage 3's templates.

use std::fmt::Write;

use stage1::Verified;
use stage2::{disasm_annotated, listing as format_lines, Annotate};
use stage3::listing::HelperNames;

use crate::codegen::{Generated, Piece};
use crate::engine::{compile, Options};
use crate::ir::text::{op_text, term_text};

/// The listing of every function of `verified`.
pub fn listing(verified: &Verified) -> Result<String, String> {
    let program = verified.program();
    let compiled = compile(verified, &Options::default())?;
    let bytes = compiled.program.code.bytes();
    let mut out = String::new();
    for (f, made) in program.functions.iter().zip(&compiled.functions) {
        let (p, g) = match made {
            Ok(made) => made,
            Err(why) => {
                let _ = writeln!(out, "fn {}: left to the templates ({why})\n", f.name);
                continue;
            }
        };
        out.push_str(&function_listing(f, p, g, bytes, &HelperNames));
        out.push('\n');
    }
    Ok(out)
}

/// The code of function `f` (`p` made into `g`, its code in `bytes`) as [`listing`]
/// prints it: a line with its name, arity, code size and spill slots, then
/// [`pieces_listing`]. The dumps of the compiles of a tiered run (stages 5 to 7) list
/// each compile with it.
pub fn function_listing(
    f: &stage1::Function,
    p: &crate::engine::Prepared,
    g: &Generated,
    bytes: &[u8],
    names: &dyn Annotate,
) -> String {
    let mut out = format!(
        "fn {} (arity {}): {} bytes of code, {} spill slots\n",
        f.name,
        f.arity,
        g.code.range.len(),
        p.alloc.slots
    );
    out.push_str(&pieces_listing(p, &g.pieces, bytes, names));
    out
}

/// Each piece of a function's code (`pieces`, ranges in `bytes`) under its head: the
/// prologue, each block with its parameters' registers, each instruction with its
/// pc, result register and IR text, each terminator, the slow paths and the deopt
/// exits, as [`listing`] prints them (and stage 7's `dump --asm`, for the code of a
/// speculative compile). `names` names the addresses the code loads ([`HelperNames`]:
/// the runtime helpers), so that the text is the same on every run.
pub fn pieces_listing(
    p: &crate::engine::Prepared,
    pieces: &[(Piece, std::ops::Range<usize>)],
    bytes: &[u8],
    names: &dyn Annotate,
) -> String {
    let mut out = String::new();
    for (piece, range) in pieces {
        let head = match piece {
            Piece::Prologue => "  prologue".to_string(),
            Piece::Block(b) => {
                let params: Vec<String> =
                    p.ir.block(*b)
                        .params
                        .iter()
                        .map(|v| format!("v{}@{}", v.0, loc_text(p, *v)))
                        .collect();
                format!("b{}({}):", b.0, params.join(", "))
            }
            Piece::Inst(inst) => {
                let data = p.ir.inst(*inst);
                let result = data
                    .result
                    .map(|v| format!("v{}@{} = ", v.0, loc_text(p, v)))
                    .unwrap_or_default();
                // An instruction of an inlined callee: its pc is the callee's.
                let pc = match data.frame {
                    0 => data.pc.to_string(),
                    k => format!("{} in {k}", data.pc),
                };
                format!("  pc {pc:<4} {result}{}", op_text(&data.op))
            }
            Piece::Terminator(b) => format!("  {}", term_text(&p.ir.block(*b).term)),
            Piece::SlowPaths => "  slow paths".to_string(),
            Piece::DeoptExits => "  deopt exits".to_string(),
        };
        let _ = writeln!(out, "{head}");
        // Helpers by name, not by an address that changes from run to run.
        let lines = disasm_annotated(bytes, 0, range.clone(), names);
        for line in format_lines(&lines).lines() {
            let _ = writeln!(out, "        {line}");
        }
    }
    out
}

/// Where value `v` lives, or `const` for a constant.
fn loc_text(p: &crate::engine::Prepared, v: crate::ir::Value) -> String {
    p.alloc.locs[v.index()].map_or("const".to_string(), |l| l.to_string())
}
