//! Disassembly with iced-x86: what the code generators print next to their input,
//! and what the tests compare against.
//!
//! The text is Intel syntax as iced-x86 formats it, with a space after each comma,
//! lowercase hexadecimal with a `0x` prefix (even for small numbers), signed
//! immediates (`add rax, -0x1`), and memory sizes always shown
//! (`mov rax, qword ptr [rdi+0x8]`).
//!
//! A code generator makes its listing readable through [`Annotate`]: names for the
//! absolute addresses its code loads (a runtime helper's address changes from run to
//! run, its name does not) and for branch targets, and a note on any instruction
//! (`mov eax, 0x52  ; 41`). [`disasm_annotated`] applies them.

use std::fmt::Write;
use std::ops::Range;

use iced_x86::{
    Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter, MemorySizeOptions, Mnemonic,
    OpKind, Register,
};

/// One decoded instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Offset of the instruction from the start of the decoded code.
    pub offset: usize,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its Intel-syntax text (`(bad)` for bytes that do not decode).
    pub text: String,
    /// What an [`Annotate`] says about it, printed after `;`.
    pub note: Option<String>,
    /// How many of its last bytes hold an absolute address that was named: they
    /// print as `..`, since they change from run to run.
    pub named_bytes: usize,
}

/// What a listing knows beyond the bytes, so that it names what code calls and
/// prints the same text on every run. Every method has a default that says nothing.
pub trait Annotate {
    /// The name of `value` when an instruction loads it as a 64-bit immediate (the
    /// absolute address of a runtime helper or a table).
    fn absolute(&self, value: u64) -> Option<String> {
        let _ = value;
        None
    }

    /// The name of the branch or call target `target` (as decoded, so an offset when
    /// the base is 0).
    fn target(&self, target: u64) -> Option<String> {
        let _ = target;
        None
    }

    /// A note on an instruction that is neither a named load nor a named branch
    /// (`41` for the tagged constant `0x52`).
    fn note(&self, ins: &Instruction) -> Option<String> {
        let _ = ins;
        None
    }
}

/// The [`Annotate`] that says nothing: plain disassembly.
pub struct Plain;

impl Annotate for Plain {}

/// The formatter every listing and test uses, so their texts agree.
pub fn formatter() -> IntelFormatter {
    let mut f = IntelFormatter::new();
    let o = f.options_mut();
    o.set_space_after_operand_separator(true);
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_uppercase_hex(false);
    o.set_memory_size_options(MemorySizeOptions::Always);
    o.set_branch_leading_zeros(false);
    o.set_small_hex_numbers_in_decimal(false);
    o.set_signed_immediate_operands(true);
    f
}

/// Decodes `code` as if it were loaded at `base` (which only changes how branch
/// targets print: with `base = 0` they are offsets into the code).
pub fn disasm(code: &[u8], base: u64) -> Vec<Line> {
    disasm_range(code, base, 0..code.len())
}

/// Decodes the instructions of `code[range]`, the rest of `code` being context (for
/// printing the native code of one bytecode instruction). Offsets are from the start
/// of `code`; `base` is the address `code` is loaded at.
pub fn disasm_range(code: &[u8], base: u64, range: Range<usize>) -> Vec<Line> {
    disasm_annotated(code, base, range, &Plain)
}

/// [`disasm_range`] with what `annotate` knows: a 64-bit immediate it names prints as
/// the name (its bytes as `..`), and a register call right after such a load
/// (`mov r11, rt_print` then `call r11`) is noted with the name; a branch to a
/// target it names is noted with that name, or, when the target is outside `code`,
/// shows the name instead of the number (`call fib`); any other instruction gets its
/// [`Annotate::note`].
pub fn disasm_annotated(
    code: &[u8],
    base: u64,
    range: Range<usize>,
    annotate: &dyn Annotate,
) -> Vec<Line> {
    let bytes = &code[range.clone()];
    let mut decoder = Decoder::with_ip(64, bytes, base + range.start as u64, DecoderOptions::NONE);
    let mut fmt = formatter();
    let mut lines = Vec::new();
    // The register last loaded with a named address, and the name.
    let mut loaded: Option<(Register, String)> = None;
    for ins in &mut decoder {
        let start = (ins.ip() - base) as usize;
        let mut text = String::new();
        let mut note = None;
        let mut named_bytes = 0;
        if ins.is_invalid() {
            text.push_str("(bad)");
        } else {
            fmt.format(&ins, &mut text);
        }
        let named = named_absolute(&ins, annotate);
        if let Some(name) = &named {
            let number = format!("0x{:x}", ins.immediate64());
            text = text.replace(&number, name);
            named_bytes = 8;
        } else if let Some((reg, name)) = &loaded {
            let indirect = matches!(ins.mnemonic(), Mnemonic::Call | Mnemonic::Jmp);
            if indirect && ins.op0_kind() == OpKind::Register && ins.op0_register() == *reg {
                note = Some(name.clone());
            }
        }
        if note.is_none() && named.is_none() {
            match branch_target(&ins).map(|t| (t, annotate.target(t))) {
                // A named target outside `code` (another function): the name stands
                // for the number, which means nothing in this code's numbering.
                Some((t, Some(name))) if t < base || t >= base + code.len() as u64 => {
                    text = text.replace(&format!("0x{t:x}"), &name);
                }
                Some((_, Some(name))) => note = Some(name),
                _ => note = annotate.note(&ins),
            }
        }
        loaded = named.map(|name| (ins.op0_register(), name));
        lines.push(Line {
            offset: start,
            bytes: code[start..start + ins.len()].to_vec(),
            text,
            note,
            named_bytes,
        });
    }
    lines
}

/// The name `annotate` gives the 64-bit immediate `ins` loads, if any.
fn named_absolute(ins: &Instruction, annotate: &dyn Annotate) -> Option<String> {
    let loads_imm64 = ins.op_count() == 2 && ins.op1_kind() == OpKind::Immediate64;
    if loads_imm64 {
        annotate.absolute(ins.immediate64())
    } else {
        None
    }
}

/// Where a direct branch or call goes.
fn branch_target(ins: &Instruction) -> Option<u64> {
    match ins.op0_kind() {
        OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
            Some(ins.near_branch_target())
        }
        _ => None,
    }
}

/// Column at which a line's note starts (after `;`), when the text is shorter.
const NOTE_COLUMN: usize = 32;

/// Formats one line: `0004: 48 83 c0 01    add rax, 0x1` (bytes padded to 30 columns),
/// then its note, if any (`  ; 41`). Named address bytes print as `..`.
pub fn format_line(line: &Line) -> String {
    let shown = line.bytes.len() - line.named_bytes.min(line.bytes.len());
    let hex: Vec<String> = line
        .bytes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if i < shown {
                format!("{b:02x}")
            } else {
                "..".to_string()
            }
        })
        .collect();
    let text = format!("{:04x}: {:<30} {}", line.offset, hex.join(" "), line.text);
    match &line.note {
        Some(note) => format!("{:<width$}  ; {note}", text, width = 37 + NOTE_COLUMN),
        None => text,
    }
}

/// Formats lines as a listing, one instruction per line, each ending in a newline.
pub fn listing(lines: &[Line]) -> String {
    let mut out = String::new();
    for l in lines {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{}", format_line(l));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Assembler, Cond, Imm32, Reg};

    /// Names `HELPER` and offset 0, and notes every `add`.
    struct Names;

    const HELPER: u64 = 0x5555_1234_5678;

    impl Annotate for Names {
        fn absolute(&self, value: u64) -> Option<String> {
            (value == HELPER).then(|| "helper".into())
        }
        fn target(&self, target: u64) -> Option<String> {
            (target == 0).then(|| "top".into())
        }
        fn note(&self, ins: &Instruction) -> Option<String> {
            (ins.mnemonic() == Mnemonic::Add).then(|| "an add".into())
        }
    }

    #[test]
    fn annotations_name_addresses_calls_targets_and_notes() {
        let mut a = Assembler::new();
        let top = a.new_label();
        a.bind(top);
        a.add(Reg::RAX, Imm32(2));
        a.call_abs(HELPER);
        a.jcc(Cond::O, top);
        let code = a.assemble().unwrap().bytes;
        // Code loaded at 0x10 calling 0 (`top`), outside it: the name replaces the
        // number, which would mean nothing in this code's numbering.
        let outside = [0xe8, 0xeb, 0xff, 0xff, 0xff];
        let call = disasm_annotated(&outside, 0x10, 0..outside.len(), &Names);
        assert_eq!(
            format_line(&call[0]),
            "0000: e8 eb ff ff ff                 call top"
        );
        let text = listing(&disasm_annotated(&code, 0, 0..code.len(), &Names));
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].ends_with("add rax, 0x2                      ; an add"),
            "{text}"
        );
        assert!(
            lines[1].contains("49 bb .. .. .. .. .. .. .. ..  mov r11, helper"),
            "{text}"
        );
        assert!(lines[1].ends_with("mov r11, helper"), "{text}");
        assert!(
            lines[2].ends_with("call r11                          ; helper"),
            "{text}"
        );
        assert!(lines[3].ends_with("; top"), "{text}");
        // The plain listing is unchanged: no notes, every byte shown.
        let plain = listing(&disasm(&code, 0));
        assert!(!plain.contains(';') && !plain.contains(".."), "{plain}");
    }
}
