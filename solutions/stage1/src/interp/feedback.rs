//! Type feedback (stage 7): what each instruction saw during a tiered run, as data
//! beside the code — one byte of flags per bytecode instruction, per function, as
//! V8's feedback vectors are. The tiered interpreter and baseline code (stage 3,
//! when asked) OR flags into it; the optimizer reads a snapshot of it and bets on
//! what was never seen (stage 7's `Speculation`).
//!
//! | instruction                              | flags it records                 |
//! |------------------------------------------|----------------------------------|
//! | `array_get`, `get_field`, `call`, `call_value` | [`INT`] or [`OTHER`]: the kind of value it gave |
//! | `jump_if_false`, `jump_if_true`          | [`TAKEN`] or [`NOT_TAKEN`]       |
//! | `add`, `sub`, `mul`, `neg`               | [`OVERFLOW`] when it overflowed; [`OTHER`] when an operand was not an integer |
//! | `lt`, `le`, `gt`, `ge`, `eq`, `ne`       | [`OTHER`] when an operand was not an integer |
//!
//! A byte never loses a flag during a run: the flags say what was *ever* seen. An
//! instruction never run has none, so the optimizer knows it has nothing to bet on.
//! In Mini, arithmetic on a non-integer and overflow are runtime errors, so those
//! flags are set only on the way to an error; they are recorded all the same, on
//! the error's (cold) path.

use std::cell::Cell;
use std::sync::Arc;

use crate::bytecode::{FnId, Program};

/// The instruction gave (or was given) an integer.
pub const INT: u8 = 1;
/// The instruction gave (or was given) something else: an array, an object, a
/// function.
pub const OTHER: u8 = 2;
/// The conditional jump jumped.
pub const TAKEN: u8 = 4;
/// The conditional jump fell through.
pub const NOT_TAKEN: u8 = 8;
/// The arithmetic overflowed.
pub const OVERFLOW: u8 = 16;

/// The flag of a value's kind: [`INT`] or [`OTHER`].
#[inline(always)]
pub fn kind_of(value: crate::value::Value) -> u8 {
    if value.is_int() {
        INT
    } else {
        OTHER
    }
}

/// The feedback vectors of one run: a byte per instruction of every function, at
/// addresses that do not change while it lives (`Cell<u8>` has the layout of `u8`),
/// so baseline code ORs flags into them in place.
#[derive(Debug)]
pub struct Feedback {
    bytes: Box<[Cell<u8>]>,
    /// Where each function's bytes start (shared with every [`Snapshot`]).
    start: Arc<[usize]>,
}

impl Feedback {
    /// Empty feedback (no flag seen) for every instruction of `program`.
    pub fn new(program: &Program) -> Feedback {
        let mut start = Vec::with_capacity(program.functions.len());
        let mut total = 0;
        for f in &program.functions {
            start.push(total);
            total += f.code.len();
        }
        Feedback {
            bytes: (0..total).map(|_| Cell::new(0)).collect(),
            start: start.into(),
        }
    }

    /// The vector of `func`: a byte per pc.
    #[inline(always)]
    pub fn function(&self, func: FnId) -> &[Cell<u8>] {
        let start = self.start[func as usize];
        let end = self
            .start
            .get(func as usize + 1)
            .copied()
            .unwrap_or(self.bytes.len());
        &self.bytes[start..end]
    }

    /// ORs `flags` into the byte of `pc` of `func`.
    #[inline(always)]
    pub fn record(&self, func: FnId, pc: usize, flags: u8) {
        let cell = &self.bytes[self.start[func as usize] + pc];
        cell.set(cell.get() | flags);
    }

    /// Where each function's bytes start, and the bytes: what the tiered
    /// interpreter indexes without the checks of [`Feedback::record`].
    pub(crate) fn parts(&self) -> (&[usize], &[Cell<u8>]) {
        (&self.start, &self.bytes)
    }

    /// The flags of `pc` of `func`.
    pub fn get(&self, func: FnId, pc: usize) -> u8 {
        self.bytes[self.start[func as usize] + pc].get()
    }

    /// The address of `func`'s byte for pc 0, for generated code (pc `k` at `+ k`).
    pub fn address(&self, func: FnId) -> u64 {
        self.function(func).as_ptr() as u64
    }

    /// A copy of every vector: what the optimizer's worker reads. One copy of the
    /// bytes in a single block (the starts are shared), as a compile takes one: a
    /// vector per function would make each compile of a program of thousands of
    /// functions allocate (and free) thousands of them.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            bytes: self.bytes.iter().map(Cell::get).collect(),
            start: Arc::clone(&self.start),
        }
    }
}

/// The feedback vectors of a run as they were at one moment ([`Feedback::snapshot`]):
/// a byte per instruction of every function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    bytes: Box<[u8]>,
    /// Where each function's bytes start.
    start: Arc<[usize]>,
}

impl Snapshot {
    /// The vector of `func`, a byte per pc (empty for a function the program does
    /// not have).
    pub fn function(&self, func: FnId) -> &[u8] {
        let Some(&start) = self.start.get(func as usize) else {
            return &[];
        };
        let end = self
            .start
            .get(func as usize + 1)
            .copied()
            .unwrap_or(self.bytes.len());
        &self.bytes[start..end]
    }

    /// The flags of `pc` of `func` (none for an instruction the program does not
    /// have).
    pub fn get(&self, func: FnId, pc: usize) -> u8 {
        self.function(func).get(pc).copied().unwrap_or(0)
    }

    /// Each function's vector, by function.
    pub fn vectors(&self) -> Vec<Vec<u8>> {
        (0..self.start.len())
            .map(|f| self.function(f as FnId).to_vec())
            .collect()
    }
}

/// Vectors made by hand, one per function (as tests write them).
impl From<Vec<Vec<u8>>> for Snapshot {
    fn from(vectors: Vec<Vec<u8>>) -> Snapshot {
        let mut start = Vec::with_capacity(vectors.len());
        let mut bytes = Vec::new();
        for v in vectors {
            start.push(bytes.len());
            bytes.extend(v);
        }
        Snapshot {
            bytes: bytes.into(),
            start: start.into(),
        }
    }
}
