//! Frame states as bytes: the deopt table of a compiled function, which stage 4's
//! code generator asks for ([`stage4::deopt::Deoptimizer::table`]) with a
//! [`GuardRecord`] per guard — why it fails and, for each frame of its state
//! (outermost first), the function, the pc and the [`Location`] of each local and
//! operand: a register, a stack slot or a constant, as the register allocation placed
//! the state's values — and the frames rebuilt from a record when the guard fails.
//!
//! The records are encoded as one byte stream of variable-length integers (LEB128,
//! as HotSpot's debug information is): per guard its reason (an index into the
//! table's reasons), its frame count, and per frame the function, the pc, the counts
//! and one varint per location, its kind in the two low bits (`location_varints`).
//! Small registers, slot offsets and integers take one byte each.

use stage1::interp::ResumeFrame;
use stage1::{FnId, Value};
pub use stage4::deopt::{FrameRecord, GuardRecord, Location};

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
    // exercise-begin: deopt-encode a location as varints: its kind in the low two bits, the register index, the zigzag slot offset or zigzag constant above them; a constant too big for 62 bits as WIDE then its word
    match loc {
        Location::Reg(i) => (u64::from(i) << 2 | REG, None),
        Location::Slot(offset) => (zigzag(i64::from(offset)) << 2 | SLOT, None),
        Location::Const(word) => {
            let z = zigzag(word);
            if z < 1 << 62 {
                (z << 2 | CONST, None)
            } else {
                (WIDE, Some(word as u64))
            }
        }
    }
    // exercise-end
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
    // exercise-begin: deopt-rebuild each frame of the record as a ResumeFrame, outermost first: each local's and operand's word from its location (a register from the save area, a slot below rbp, a constant as is)
    let word = |loc: Location| match loc {
        // SAFETY: `i` < 8, the save area's size (the allocator's registers).
        Location::Reg(i) => unsafe { *saves.add(usize::from(i)) },
        // SAFETY: a slot of the live frame at `rbp`, 8-byte aligned below it.
        Location::Slot(offset) => unsafe { *(rbp.offset(offset as isize) as *const u64) },
        Location::Const(word) => word as u64,
    };
    let values = |locs: &[Location]| -> Vec<Value> {
        // SAFETY: as this function's contract: each location holds a value.
        let value = |loc| unsafe { Value::from_bits(word(loc)) };
        locs.iter().map(|&loc| value(loc)).collect()
    };
    record
        .frames
        .iter()
        .map(|frame| ResumeFrame {
            func: frame.func,
            pc: frame.pc,
            locals: values(&frame.locals),
            operands: values(&frame.operands),
        })
        .collect()
    // exercise-end
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
