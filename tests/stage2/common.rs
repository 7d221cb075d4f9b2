//! Helpers shared by the suite: assembling a snippet, hex text, the iced-x86 oracle
//! with its own register names, so the checks do not trust the code under test, and
//! [`isolated`], which every test that runs generated code goes through.

use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter, MemorySizeOptions};
use stage2::{Assembler, Mem};

/// Intel names of the 64-bit registers, by encoding number.
pub const R64: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];
/// Intel names of the 32-bit registers, by encoding number.
pub const R32: [&str; 16] = [
    "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d",
    "r13d", "r14d", "r15d",
];
/// Intel names of the 8-bit registers (REX forms), by encoding number.
pub const R8: [&str; 16] = [
    "al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b", "r12b",
    "r13b", "r14b", "r15b",
];
/// Condition-code suffixes as iced-x86 prints them, by code.
pub const CC: [&str; 16] = [
    "o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g",
];

/// Runs a test's body in a child process with a timeout
/// (`jitlab_testkit::isolate`): generated code that crashes or loops fails that test
/// alone, with the signal and the faulting address.
#[track_caller]
pub fn isolated(body: impl FnOnce()) {
    jitlab_testkit::isolate::install_panic_hook();
    jitlab_testkit::isolate::case(body)
}

/// The bytes `build` writes, linked.
pub fn assemble(build: impl FnOnce(&mut Assembler)) -> Vec<u8> {
    let mut asm = Assembler::new();
    build(&mut asm);
    asm.assemble().expect("the snippet assembles").bytes
}

/// Bytes as lowercase hex pairs separated by spaces: `48 89 f8`.
pub fn hex(bytes: &[u8]) -> String {
    let pairs: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    pairs.join(" ")
}

/// The oracle's formatter: Intel syntax, `0x` hex, signed immediates, sizes shown.
fn formatter() -> IntelFormatter {
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

/// Decodes `bytes` (at address 0) with iced-x86: the text of the one instruction they
/// hold, or a description of what is wrong (invalid, shorter, longer).
pub fn decode_one(bytes: &[u8]) -> String {
    let mut decoder = Decoder::with_ip(64, bytes, 0, DecoderOptions::NONE);
    let ins = decoder.decode();
    if ins.is_invalid() {
        return format!("(invalid: {})", hex(bytes));
    }
    let mut text = String::new();
    formatter().format(&ins, &mut text);
    if ins.len() != bytes.len() {
        return format!(
            "({} bytes decode as `{text}` of {} bytes: {})",
            bytes.len(),
            ins.len(),
            hex(bytes)
        );
    }
    text
}

/// Decodes every instruction of `bytes` at address 0: their texts.
pub fn decode_all(bytes: &[u8]) -> Vec<String> {
    let mut fmt = formatter();
    Decoder::with_ip(64, bytes, 0, DecoderOptions::NONE)
        .into_iter()
        .map(|ins| {
            let mut text = String::new();
            fmt.format(&ins, &mut text);
            text
        })
        .collect()
}

/// A signed number as the oracle prints it: `0x7f`, `-0x80`.
pub fn num(v: i64) -> String {
    if v < 0 {
        format!("-0x{:x}", v.unsigned_abs())
    } else {
        format!("0x{v:x}")
    }
}

/// A memory operand as the oracle prints it, without the size: `[rbp+r12*8-0x80]`.
pub fn mem_text(m: Mem) -> String {
    let mut s = format!("[{}", R64[m.base as usize]);
    if let Some((index, scale)) = m.index {
        s += "+";
        s += R64[index.reg() as usize];
        if scale.factor() != 1 {
            s += &format!("*{}", scale.factor());
        }
    }
    if m.disp != 0 {
        let d = num(m.disp as i64);
        if !d.starts_with('-') {
            s += "+";
        }
        s += &d;
    }
    s + "]"
}
