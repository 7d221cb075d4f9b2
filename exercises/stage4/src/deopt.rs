//! Deoptimization (stage 7): where each guard's frame state is when the guard fails,
//! written as compact metadata beside the code, and the runtime exit that reads it,
//! rebuilds the interpreter frames and hands them over.
//!
//! For every guard of a function the code generator records a [`GuardRecord`]: why
//! it fails (`Guard::reason`) and, for each frame of its state (outermost first), the
//! function, the pc and the [`Location`] of each local and operand — a register, a
//! stack slot or a constant, as the register allocation placed the state's values.
//! The records go into one [`DeoptTable`] per compiled function, encoded as a byte
//! stream of variable-length integers (as HotSpot's debug information is), which the
//! code keeps by address: the table lives as long as the code
//! (`CompiledFunction::tables`).
//!
//! A failing guard jumps to its deopt stub, which gives back the frames of the calls
//! inlined around it (`add FRAMES_LEFT, k`) and goes, with the guard's number, to the
//! function's common deopt exit: that one pushes the allocatable registers (the save
//! area, `regalloc::ALLOCATABLE[i]` at `saves + 8i`) and calls [`rt_deopt`]. The
//! result — the outermost frame's, or `ERROR_WORD` with the error recorded — leaves
//! the function through its ordinary epilogue.
//!
//! ```text
//!   guard i fails ──> stub_i: add rbx, k; mov eax, i; jmp deopt_common
//!   deopt_common:     push r15 ... rcx        (save area, rsp stays 16-aligned)
//!                     rt_deopt(ctx, table, i, rsp, rbp, rbx, entry)
//!                     add rbx, 1; leave; ret  (rax: the frames' result)
//! ```

use stage1::interp::ResumeFrame;
use stage1::limits::MAX_FRAMES;
use stage1::value::ERROR_WORD;
use stage1::Verified;
use stage1::{FnId, Value};
use stage2::Assembler;
use stage3::codegen::linkage::Linkage;
use stage3::context::Context;
use stage3::runtime::{resume_interpreted, Deopt};
use stage3::CompiledFunction;

use crate::codegen::{self, Entry};
use crate::ir::Function;
use crate::objects::{ObjectLowering, Objects};
use crate::regalloc::Allocation;

/// Where a frame-state value is when its guard fails. Values are tagged words in
/// every location.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Location {
    /// Allocatable register `i` (`regalloc::ALLOCATABLE[i]`), read from the deopt
    /// exit's save area.
    Reg(u8),
    /// The word at `rbp + offset` (a spill slot of the optimized frame).
    Slot(i32),
    /// A constant word: constants have no location at run time.
    Const(i64),
}

/// One frame of a guard's state, as the table records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameRecord {
    /// Whose frame it is.
    pub func: FnId,
    /// Where it resumes (see `ir::StateFrame::pc`).
    pub pc: usize,
    /// Each local's location, parameters first.
    pub locals: Vec<Location>,
    /// Each operand's location, bottom first.
    pub operands: Vec<Location>,
}

/// What the table says of one guard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardRecord {
    /// Why the guard fails (`Guard::reason`).
    pub reason: &'static str,
    /// The frames to rebuild, outermost (the compiled function's) first.
    pub frames: Vec<FrameRecord>,
}

impl GuardRecord {
    /// How many calls deep the guard is inlined: the frames its stub gives back.
    pub fn inline_depth(&self) -> usize {
        self.frames.len().saturating_sub(1)
    }
}

/// The deopt metadata of one compiled function: a record per guard, by its number,
/// encoded in one byte stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeoptTable {
    /// The encoded records, one after the other.
    bytes: Vec<u8>,
    /// Where each guard's record starts in `bytes`.
    starts: Vec<u32>,
    /// The reasons, each once: a record holds an index.
    reasons: Vec<&'static str>,
}

/// The bit of the guard number `rt_deopt` receives that says the stress countdown,
/// not the guard's check, sent the code there.
pub const STRESS_BIT: u64 = 1 << 31;

/// The reason of a deoptimization forced by the stress countdown.
pub const STRESS: &str = "stress";

// The low two bits of a location's first varint: its kind.
const REG: u64 = 0;
const SLOT: u64 = 1;
const CONST: u64 = 2;
/// A constant too big for `CONST`'s 62 bits: its word follows as a varint of its own.
const WIDE: u64 = 3;

impl DeoptTable {
    /// An empty table.
    pub fn new() -> DeoptTable {
        DeoptTable::default()
    }

    /// How many guards it describes.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// True when it describes no guard.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The encoded size in bytes (the metadata's cost).
    pub fn encoded_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Appends the record of the next guard; returns its number.
    pub fn push(&mut self, record: &GuardRecord) -> u32 {
        let number = self.starts.len() as u32;
        self.starts.push(self.bytes.len() as u32);
        let reason = match self.reasons.iter().position(|&r| r == record.reason) {
            Some(k) => k,
            None => {
                self.reasons.push(record.reason);
                self.reasons.len() - 1
            }
        };
        let out = &mut self.bytes;
        write_varint(out, reason as u64);
        write_varint(out, record.frames.len() as u64);
        for frame in &record.frames {
            write_varint(out, u64::from(frame.func));
            write_varint(out, frame.pc as u64);
            write_varint(out, frame.locals.len() as u64);
            write_varint(out, frame.operands.len() as u64);
            for &loc in frame.locals.iter().chain(&frame.operands) {
                write_location(out, loc);
            }
        }
        number
    }

    /// The record of guard `number`, decoded.
    pub fn guard(&self, number: u32) -> GuardRecord {
        let mut at = self.starts[number as usize] as usize;
        let bytes = &self.bytes[..];
        let reason = self.reasons[read_varint(bytes, &mut at) as usize];
        let count = read_varint(bytes, &mut at) as usize;
        let frames = (0..count)
            .map(|_| {
                let func = read_varint(bytes, &mut at) as FnId;
                let pc = read_varint(bytes, &mut at) as usize;
                let locals = read_varint(bytes, &mut at) as usize;
                let operands = read_varint(bytes, &mut at) as usize;
                FrameRecord {
                    func,
                    pc,
                    locals: (0..locals).map(|_| read_location(bytes, &mut at)).collect(),
                    operands: (0..operands)
                        .map(|_| read_location(bytes, &mut at))
                        .collect(),
                }
            })
            .collect();
        GuardRecord { reason, frames }
    }
}

/// Appends `n` in LEB128: seven bits a byte, low first, the top bit set on every
/// byte but the last.
fn write_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads a varint at `*at`, moving past it.
fn read_varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut n = 0u64;
    let mut shift = 0;
    loop {
        let byte = bytes[*at];
        *at += 1;
        n |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return n;
        }
        shift += 7;
    }
}

/// A signed number as an unsigned one, small magnitudes small (0, -1, 1, -2, ... as
/// 0, 1, 2, 3, ...): slot offsets are negative, tagged integers of either sign.
fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

/// The inverse of [`zigzag`].
fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// Appends `loc` (see [`location_varints`]).
fn write_location(out: &mut Vec<u8>, loc: Location) {
    let (head, wide) = location_varints(loc);
    write_varint(out, head);
    if let Some(word) = wide {
        write_varint(out, word);
    }
}

/// The varints that encode `loc`: one, its kind in the low two bits (`REG`, `SLOT`,
/// `CONST`) and its number (zigzag-encoded when signed) above them; or, for a
/// constant whose zigzag needs more than 62 bits, `WIDE` and then its word.
fn location_varints(loc: Location) -> (u64, Option<u64>) {
    todo!(
        "deopt-encode: a location as varints: its kind in the low two bits, the register index, the zigzag slot offset or zigzag constant above them; a constant too big for 62 bits as WIDE then its word — book §4.29"
    )
}

/// Reads a location written by [`write_location`].
fn read_location(bytes: &[u8], at: &mut usize) -> Location {
    let head = read_varint(bytes, at);
    match head & 3 {
        REG => Location::Reg((head >> 2) as u8),
        SLOT => Location::Slot(unzigzag(head >> 2) as i32),
        CONST => Location::Const(unzigzag(head >> 2)),
        _ => Location::Const(read_varint(bytes, at) as i64),
    }
}

/// The interpreter frames of `record`, their values read from the failed guard's
/// registers and frame: allocatable register `i` at `saves + 8i` (the save area the
/// deopt exit pushed), a slot at `rbp + offset`, a constant from the record itself.
///
/// # Safety
/// `saves` holds the 8 saved registers and `rbp` is the optimized frame's base, both
/// live (the deopt exit passes them); every `Slot` offset is one of that frame's, and
/// every location holds a value of the running program (a tagged word the optimized
/// code held).
pub unsafe fn rebuild_frames(
    record: &GuardRecord,
    saves: *const u64,
    rbp: *const u8,
) -> Vec<ResumeFrame> {
    todo!(
        "deopt-rebuild: each frame of the record as a ResumeFrame, outermost first: each local's and operand's word from its location (a register from the save area, a slot below rbp, a constant as is) — book §4.30"
    )
}

/// The common deopt exit of optimized code calls this: guard `guard` (with
/// [`STRESS_BIT`] when the stress countdown forced it) of the code whose entry is at
/// `code` failed. Rebuilds its frames from `table` (the registers at `saves`, the
/// frame at `rbp`; `frames_left` is `FRAMES_LEFT` with the inlined frames given back),
/// hands them to the run's hooks (`TierHooks::deoptimize`, or
/// [`resume_interpreted`] in a run without them), and returns the outermost
/// frame's result, or [`ERROR_WORD`] after recording the error and every frame it
/// passed in the context (as `rt_call_interpreted` does).
///
/// # Safety
/// Called only by the deopt exit of optimized code: `ctx` is its live context (of a
/// mixed or tiered run), `table` the table its code was generated with, `saves` and
/// `rbp` as [`rebuild_frames`] needs them.
pub unsafe extern "sysv64" fn rt_deopt(
    ctx: *mut Context,
    table: *const DeoptTable,
    guard: u64,
    saves: *const u64,
    rbp: *const u8,
    frames_left: u64,
    code: u64,
) -> u64 {
    let number = (guard & !STRESS_BIT) as u32;
    // SAFETY: the table lives as long as the code that passed it.
    let record = unsafe { &*table }.guard(number);
    // SAFETY: as this function's contract.
    let frames = unsafe { rebuild_frames(&record, saves, rbp) };
    let deopt = Deopt {
        frames,
        depth: MAX_FRAMES - frames_left as usize - 1,
        reason: if guard & STRESS_BIT != 0 {
            STRESS
        } else {
            record.reason
        },
        code,
        guard: number,
    };
    // SAFETY: `ctx` is the live context; a run's hooks live as long as it.
    let result = unsafe {
        match (*ctx).runtime.hooks {
            Some(hooks) => (*hooks).deoptimize(ctx, &deopt),
            None => resume_interpreted(ctx, &deopt),
        }
    };
    match result {
        Ok(v) => v.bits(),
        Err(unwind) => {
            // SAFETY: the interpreter is done with the context.
            let ctx = unsafe { &mut *ctx };
            ctx.runtime.error = Some(unwind.kind);
            ctx.runtime.trace.extend(unwind.frames);
            ERROR_WORD
        }
    }
}

/// Generates `f` (allocated by `alloc`), a function of `verified` with guards,
/// alone into its own code block (calls through the function table, as
/// `tiered::compile_function`'s code), its deopt table in the result's `tables`.
/// `osr`: `f` is an OSR variant (`ir::build::build_osr`). `stress`: see
/// [`codegen::generate_speculative`]. `function.time` is left at zero for the caller.
pub fn compile_alone(
    verified: &Verified,
    f: &Function,
    alloc: &Allocation,
    osr: Option<usize>,
    objects: Option<&dyn ObjectLowering>,
    stress: bool,
) -> Result<CompiledFunction, String> {
    let objects = objects.map(|lowering| Objects {
        lowering,
        program: verified.program(),
    });
    let mut asm = Assembler::new();
    let label = asm.new_label();
    let entry = Entry {
        label,
        linkage: Linkage::Table,
        osr: osr.is_some(),
        sites: verified.sites(),
    };
    let generated = codegen::generate_speculative(&mut asm, f, alloc, entry, objects, stress);
    let code = asm
        .finish()
        .map_err(|e| format!("cannot load the code: {e}"))?;
    let entry = code.label_offset(label).expect("the entry is bound");
    Ok(CompiledFunction {
        code,
        entry,
        osr_entries: osr.map(|pc| (pc, entry)).into_iter().collect(),
        function: generated.code,
        tables: generated
            .deopt
            .map(|table| table as Box<dyn std::any::Any + Send>),
    })
}

/// The deopt table of `compiled` (from [`compile_alone`]), if it has guards.
pub fn table_of(compiled: &CompiledFunction) -> Option<&DeoptTable> {
    compiled.tables.as_ref()?.downcast_ref::<DeoptTable>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> GuardRecord {
        GuardRecord {
            reason: "overflow",
            frames: vec![
                FrameRecord {
                    func: 0,
                    pc: 7,
                    locals: vec![Location::Reg(7), Location::Slot(-24)],
                    operands: vec![Location::Const(-4)],
                },
                FrameRecord {
                    func: 300,
                    pc: 100_000,
                    locals: vec![
                        Location::Const(i64::MAX),
                        Location::Const(i64::MIN),
                        Location::Const(1 << 61),
                        Location::Const(-(1 << 61)),
                        Location::Slot(-8 * 1000),
                    ],
                    operands: vec![],
                },
            ],
        }
    }

    #[test]
    fn records_read_back_as_written() {
        let mut table = DeoptTable::new();
        let first = record();
        let second = GuardRecord {
            reason: "branch",
            frames: vec![first.frames[1].clone()],
        };
        assert_eq!(table.push(&first), 0);
        assert_eq!(table.push(&second), 1);
        assert_eq!(table.push(&first), 2);
        assert_eq!(table.guard(0), first);
        assert_eq!(table.guard(1), second);
        assert_eq!(table.guard(2), first);
        assert_eq!(first.inline_depth(), 1);
    }

    #[test]
    fn small_locations_take_a_byte() {
        let mut out = Vec::new();
        for loc in [
            Location::Reg(7),
            Location::Slot(-8),
            Location::Slot(-16),
            Location::Const(Value::int(3).bits() as i64),
        ] {
            out.clear();
            write_location(&mut out, loc);
            assert_eq!(out.len(), 1, "{loc:?}");
            assert_eq!(read_location(&out, &mut 0), loc);
        }
    }
}
