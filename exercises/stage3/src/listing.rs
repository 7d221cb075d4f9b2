//! The listing `jitlab dump --asm` (and `cargo run -p stage3 -- dump --asm`) prints:
//! each function's bytecode with the x86-64 of each instruction under it, decoded by
//! iced-x86, then its slow paths; and the perf map `run --perf-map` writes.
//!
//! The listing is the same text on every run, so that two listings can be diffed:
//! offsets are from the start of each function (so a change to one function moves
//! no other's), and what changes from run to run is named instead:
//! `mov r11, rt_print` (its bytes `..`) and `call r11  ; rt_print`. Branches say
//! where they go (`; pc 4`, `; type error at pc 6`, `call fib`), and tagged constants
//! their value (`mov eax, 0x52  ; 41`).

use std::collections::HashMap;
use std::fmt::Write;
use std::io;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use stage1::{Instr, Program, Verified};
use stage2::iced_x86::{Instruction, Mnemonic, OpKind, Register};
use stage2::{disasm_annotated, listing as format_lines, Annotate};

use crate::codegen::{generate_with_ranges, CompileError, FunctionCode};
use crate::context::{CALLS_OFFSET, FUNCTIONS_OFFSET};
use crate::engine::CompiledProgram;
use crate::runtime::{self, ERROR_KINDS, KIND_RECORDED, NO_FRAME};
use stage1::value::ERROR_WORD;

/// The listing of every function of `verified` (code offsets from the start of each
/// function).
pub fn listing(verified: &Verified) -> Result<String, CompileError> {
    let program = verified.program();
    let generated = generate_with_ranges(verified)?;
    let code = generated.asm.assemble().map_err(|e| CompileError {
        function: "<program>".into(),
        reason: e.to_string(),
    })?;
    let names = Names::new(program, &generated.functions, &code.bytes);
    let mut out = String::new();
    for (fc, f) in generated.functions.iter().zip(&program.functions) {
        let start = fc.range.start;
        let body = Notes::new(&names, start, true);
        let slow = Notes::new(&names, start, false);
        // Decoded from the function's own bytes: offsets count from its start.
        let function = &code.bytes[fc.range.clone()];
        let lines = |range: Range<usize>, notes: &Notes| {
            let local = range.start - start..range.end - start;
            indent(&format_lines(&disasm_annotated(function, 0, local, notes)))
        };
        let _ = writeln!(
            out,
            "fn {} (arity {}, locals {}): {} bytes of code",
            f.name,
            f.arity,
            f.locals,
            fc.range.len()
        );
        let _ = writeln!(out, "  prologue");
        out.push_str(&lines(fc.prologue.clone(), &body));
        for (pc, (&instr, range)) in f.code.iter().zip(&fc.instrs).enumerate() {
            let _ = writeln!(out, "  {pc:4}  {}", instr_text(program, instr));
            out.push_str(&lines(range.clone(), &body));
        }
        let _ = writeln!(out, "  slow paths");
        out.push_str(&lines(fc.slow_paths.clone(), &slow));
    }
    Ok(out)
}

/// The runtime helpers native code calls, by name and address.
pub fn helpers() -> [(&'static str, u64); 8] {
    [
        ("rt_raise", runtime::rt_raise as *const () as u64),
        ("rt_print", runtime::rt_print as *const () as u64),
        ("rt_new_array", runtime::rt_new_array as *const () as u64),
        (
            "rt_new_array_fill",
            runtime::rt_new_array_fill as *const () as u64,
        ),
        ("rt_new_object", runtime::rt_new_object as *const () as u64),
        ("rt_get_field", runtime::rt_get_field as *const () as u64),
        ("rt_set_field", runtime::rt_set_field as *const () as u64),
        (
            "rt_call_interpreted",
            runtime::rt_call_interpreted as *const () as u64,
        ),
    ]
}

/// An [`Annotate`] that names the runtime helpers and nothing else, for any listing
/// of code that calls them (stage 4's too): its text is then the same on every run.
pub struct HelperNames;

impl Annotate for HelperNames {
    fn absolute(&self, value: u64) -> Option<String> {
        helpers()
            .into_iter()
            .find(|&(_, address)| address == value)
            .map(|(name, _)| name.to_string())
    }
}

/// What the listing calls the places code jumps to and the addresses it loads.
struct Names {
    /// Branch targets (code offsets): function entries, instructions, error stubs.
    targets: HashMap<u64, String>,
    /// Absolute addresses: the runtime helpers.
    absolute: HashMap<u64, &'static str>,
}

impl Names {
    fn new(program: &Program, functions: &[FunctionCode], code: &[u8]) -> Names {
        let mut targets = HashMap::new();
        targets.insert(0, "trampoline".to_string());
        for (fc, f) in functions.iter().zip(&program.functions) {
            for (pc, range) in fc.instrs.iter().enumerate().rev() {
                // An instruction with no code of its own (a `const`) shares its
                // offset with the next: the first one that starts there names it.
                targets.insert(range.start as u64, format!("pc {pc}"));
            }
            stub_names(code, fc.slow_paths.clone(), &mut targets);
            targets.insert(fc.range.start as u64, f.name.clone());
        }
        Names {
            targets,
            absolute: helpers().into_iter().map(|(n, a)| (a, n)).collect(),
        }
    }
}

/// Names the error stubs of one function's slow paths (`mov esi, KIND; mov ecx, PC;
/// jmp EXIT`) after their error and pc, and their exit path `error exit`.
fn stub_names(code: &[u8], slow: Range<usize>, targets: &mut HashMap<u64, String>) {
    let lines = stage2::disasm_range(code, 0, slow);
    let mut at = 0;
    while at + 2 < lines.len() {
        let (kind, pc, jmp) = (&lines[at], &lines[at + 1], &lines[at + 2]);
        let (Some(k), Some(p)) = (
            immediate_of(&kind.text, "si, "),
            immediate_of(&pc.text, "cx, "),
        ) else {
            break;
        };
        let what = if k as u64 == KIND_RECORDED {
            "error from a call".to_string()
        } else {
            ERROR_KINDS
                .get(k as usize)
                .map_or_else(|| format!("error {k}"), ToString::to_string)
        };
        let name = if u64::from(p as u32) == NO_FRAME {
            what
        } else {
            format!("{what} at pc {p}")
        };
        targets.insert(kind.offset as u64, name);
        if let Some(exit) = jmp.text.rsplit(' ').next().and_then(parse_hex) {
            targets.insert(exit, "error exit".to_string());
        }
        at += 3;
    }
}

/// The immediate of `mov REG, IMM` when the text has `after` before it (`si, `).
fn immediate_of(text: &str, after: &str) -> Option<i64> {
    let rest = text.strip_prefix("mov ")?;
    let imm = rest.split_once(after)?.1;
    match imm.strip_prefix('-') {
        Some(neg) => parse_hex(neg).map(|v| (v as i64).wrapping_neg()),
        None => parse_hex(imm).map(|v| v as i64),
    }
}

/// `0x1f6` as a number.
fn parse_hex(text: &str) -> Option<u64> {
    u64::from_str_radix(text.strip_prefix("0x")?, 16).ok()
}

/// The [`Annotate`] of one function's listing: [`Names`], plus tagged constants in
/// the body.
struct Notes<'a> {
    names: &'a Names,
    /// Where the function starts in the code block: its code is decoded from 0.
    start: usize,
    /// Whether immediates are noted as tagged constants (not in the slow paths,
    /// whose immediates are error codes and pcs).
    constants: bool,
}

impl<'a> Notes<'a> {
    fn new(names: &'a Names, start: usize, constants: bool) -> Notes<'a> {
        Notes {
            names,
            start,
            constants,
        }
    }

    /// The name of `offset`, counted from the function's start.
    fn name(&self, offset: u64) -> Option<String> {
        let at = offset.wrapping_add(self.start as u64);
        self.names.targets.get(&at).cloned()
    }
}

impl Annotate for Notes<'_> {
    fn absolute(&self, value: u64) -> Option<String> {
        self.names.absolute.get(&value).map(|n| n.to_string())
    }

    fn target(&self, target: u64) -> Option<String> {
        self.name(target)
    }

    fn note(&self, ins: &Instruction) -> Option<String> {
        if let Some(place) = context_field(ins) {
            return Some(place.to_string());
        }
        if !self.constants {
            // A stub's first instruction: what it raises.
            return self.name(ins.ip());
        }
        if ins.op_count() != 2 {
            return None;
        }
        let value = match ins.op1_kind() {
            OpKind::Immediate8to64
            | OpKind::Immediate32to64
            | OpKind::Immediate32
            | OpKind::Immediate64 => ins.immediate(1) as i64,
            _ => return None,
        };
        if ins.mnemonic() == Mnemonic::Cmp && value as u64 == ERROR_WORD {
            return Some("the error word".into());
        }
        if !holds_values(ins) {
            return None;
        }
        // A small integer is tagged by shifting it left: its word is even.
        (value & 1 == 0).then(|| (value >> 1).to_string())
    }
}

/// Whether `ins` is a move, add, subtract or compare of a value: into the
/// accumulator, a scratch register or a frame slot (not `rsp`, the counters, or the
/// untagged counts and codes passed to helpers).
fn holds_values(ins: &Instruction) -> bool {
    let value_op = matches!(
        ins.mnemonic(),
        Mnemonic::Mov | Mnemonic::Add | Mnemonic::Sub | Mnemonic::Cmp
    );
    let place = match ins.op0_kind() {
        OpKind::Register => matches!(
            ins.op0_register(),
            Register::RAX | Register::EAX | Register::RCX | Register::ECX | Register::R11
        ),
        OpKind::Memory => ins.memory_base() == Register::RBP,
        _ => false,
    };
    value_op && place
}

/// The field of the VM context (through `r12`) that `ins` reads or writes.
fn context_field(ins: &Instruction) -> Option<&'static str> {
    let memory = (0..ins.op_count()).any(|i| ins.op_kind(i) == OpKind::Memory);
    if !memory || ins.memory_base() != Register::R12 {
        return None;
    }
    let disp = ins.memory_displacement64() as i64;
    if disp == i64::from(FUNCTIONS_OFFSET) {
        Some("the function table")
    } else if disp == i64::from(CALLS_OFFSET) {
        Some("the call counter")
    } else {
        None
    }
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

/// The perf map of `compiled` (Linux `perf`'s format for JIT code, as V8 and LuaJIT
/// write it): one `START SIZE name` line per function and the trampoline, addresses
/// and sizes in hex.
pub fn perf_map(compiled: &CompiledProgram, program: &Program) -> String {
    perf_map_with_tiers(compiled, program, |_| "baseline")
}

/// [`perf_map`] with each compiled function's tier named by `tier(index)` (stage 4
/// names those it optimized); a declined function is an `interpreted stub`.
pub fn perf_map_with_tiers(
    compiled: &CompiledProgram,
    program: &Program,
    tier: impl Fn(usize) -> &'static str,
) -> String {
    let base = compiled.code.addr();
    let mut out = String::new();
    let first = compiled
        .functions
        .iter()
        .map(|fc| fc.range.start)
        .min()
        .unwrap_or(0);
    // The trampoline is the code before the first function (see
    // `codegen::start_with_trampoline`).
    if first > 0 {
        let _ = writeln!(out, "{base:x} {first:x} jitlab::trampoline");
    }
    for (i, ((fc, f), why)) in compiled
        .functions
        .iter()
        .zip(&program.functions)
        .zip(&compiled.declined)
        .enumerate()
    {
        let kind = if why.is_some() {
            "interpreted stub"
        } else {
            tier(i)
        };
        let _ = writeln!(
            out,
            "{:x} {:x} mini::{} [{kind}]",
            base + fc.range.start as u64,
            fc.range.len(),
            f.name
        );
    }
    out
}

/// Where `perf` looks for the map of this process: `/tmp/perf-PID.map`.
pub fn perf_map_path() -> PathBuf {
    PathBuf::from(format!("/tmp/perf-{}.map", std::process::id()))
}

/// Writes [`perf_map`] to [`perf_map_path`]: the first program of the process
/// replaces a stale file of the same name, later ones are appended.
pub fn write_perf_map(compiled: &CompiledProgram, program: &Program) -> io::Result<PathBuf> {
    write_perf_map_text(&perf_map(compiled, program))
}

/// Writes a perf map's `text` to [`perf_map_path`], as [`write_perf_map`] does.
pub fn write_perf_map_text(text: &str) -> io::Result<PathBuf> {
    static STARTED: AtomicBool = AtomicBool::new(false);
    let path = perf_map_path();
    let first = !STARTED.swap(true, Ordering::SeqCst);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(!first)
        .truncate(first)
        .open(&path)?;
    io::Write::write_all(&mut file, text.as_bytes())?;
    Ok(path)
}
