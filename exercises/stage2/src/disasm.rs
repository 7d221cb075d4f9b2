//! Disassembly with iced-x86: what the code generators print next to their input,
//! and what the tests compare against.
//!
//! The text is Intel syntax as iced-x86 formats it, with a space after each comma,
//! lowercase hexadecimal with a `0x` prefix (even for small numbers), signed
//! immediates (`add rax, -0x1`), and memory sizes always shown
//! (`mov rax, qword ptr [rdi+0x8]`).

use std::fmt::Write;
use std::ops::Range;

use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter, MemorySizeOptions};

/// One decoded instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Offset of the instruction from the start of the decoded code.
    pub offset: usize,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its Intel-syntax text (`(bad)` for bytes that do not decode).
    pub text: String,
}

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
    let bytes = &code[range.clone()];
    let mut decoder = Decoder::with_ip(64, bytes, base + range.start as u64, DecoderOptions::NONE);
    let mut fmt = formatter();
    let mut lines = Vec::new();
    for ins in &mut decoder {
        let start = (ins.ip() - base) as usize;
        let mut text = String::new();
        if ins.is_invalid() {
            text.push_str("(bad)");
        } else {
            fmt.format(&ins, &mut text);
        }
        lines.push(Line {
            offset: start,
            bytes: code[start..start + ins.len()].to_vec(),
            text,
        });
    }
    lines
}

/// Formats one line: `0004: 48 83 c0 01    add rax, 0x1` (bytes padded to 30 columns).
pub fn format_line(line: &Line) -> String {
    let hex: Vec<String> = line.bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{:04x}: {:<30} {}", line.offset, hex.join(" "), line.text)
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
