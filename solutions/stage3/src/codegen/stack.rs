//! The compile-time value stack (as Wasmtime's Winch keeps one): for each operand of
//! the bytecode's stack, where its value is right now — in its own frame slot, a
//! constant not yet stored, a local not yet copied, or the accumulator.
//!
//! `const` and `load_local` emit no code at all; the template that uses the operand
//! reads it straight from the local or as an immediate, and a template's result stays
//! in `ACC` until something needs the register. Everything goes back to its slot
//! ("spilled") where the frame must be exact: before a jump, at a jump target, and
//! before any call, since native code and the runtime read arguments from the slots
//! and calls clobber `ACC`. Error exits need no spilling: an error ends the run.

use stage2::{Imm32, Reg, RegMemImm};

use super::{FnGen, ACC, SPILL_TMP, TMP};

/// Where one operand of the bytecode's stack is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// In its own slot of the frame, `frame.operand(depth)`.
    Slot,
    /// A constant word (a tagged integer or a function value), not yet stored.
    Const(i64),
    /// The current value of local `n`, not yet copied (spilled before `n` changes).
    Local(u32),
    /// In the accumulator register `ACC`; at most one operand is.
    Acc,
}

impl Operand {
    /// Whether the operand is an integer known at compile time (no tag check needed).
    pub fn known_int(self) -> bool {
        matches!(self, Operand::Const(w) if w & 1 == 0)
    }

    /// The operand as an `imm32`, when it is a constant that fits one.
    pub fn imm32(self) -> Option<Imm32> {
        match self {
            Operand::Const(w) => i32::try_from(w).ok().map(Imm32),
            _ => None,
        }
    }
}

/// The most operands kept out of their slots (in `ACC`, as constants, as locals)
/// before `FnGen::push` spills them all: real code keeps a handful; a straight line of
/// 400,000 pushes would otherwise make every search of the stack long.
pub const UNSPILLED_MAX: usize = 256;

impl FnGen<'_> {
    /// The operand-stack depth (how many operands there are).
    pub fn depth(&self) -> u32 {
        self.stack.len() as u32
    }

    /// Pushes an operand. When more than [`UNSPILLED_MAX`] operands are out of their
    /// slots, they are spilled first, so no search of the stack takes longer.
    pub fn push(&mut self, op: Operand) {
        // The stack may have been cut below `clean` since: what is pushed now is new.
        self.clean = self.clean.min(self.stack.len());
        if self.stack.len() - self.clean >= UNSPILLED_MAX {
            self.spill_all();
        }
        debug_assert!(op != Operand::Acc || !self.stack[self.clean..].contains(&Operand::Acc));
        self.stack.push(op);
    }

    /// The depth from which operands may be out of their slots (see `clean`).
    fn dirty_from(&self) -> usize {
        self.clean.min(self.stack.len())
    }

    /// Pops the top operand, with the depth it had (the index of its slot).
    pub fn pop(&mut self) -> (Operand, u32) {
        let op = self
            .stack
            .pop()
            .expect("the verifier keeps the stack non-empty");
        (op, self.depth())
    }

    /// Writes operand `j` to its slot, if it is not there yet.
    pub fn spill(&mut self, j: u32) {
        let slot = self.frame.operand(j);
        match self.stack[j as usize] {
            Operand::Slot => return,
            Operand::Acc => self.asm.mov_mr(slot, ACC),
            Operand::Const(w) => match i32::try_from(w) {
                Ok(imm) => self.asm.mov_mi(slot, Imm32(imm)),
                Err(_) => {
                    self.asm.mov_imm(SPILL_TMP, w);
                    self.asm.mov_mr(slot, SPILL_TMP);
                }
            },
            Operand::Local(n) => {
                self.asm.mov(SPILL_TMP, self.frame.local(n));
                self.asm.mov_mr(slot, SPILL_TMP);
            }
        }
        self.stack[j as usize] = Operand::Slot;
    }

    /// Writes every operand to its slot: before jumps, at jump targets, before calls.
    pub fn spill_all(&mut self) {
        for j in self.dirty_from() as u32..self.depth() {
            self.spill(j);
        }
        self.clean = self.stack.len();
    }

    /// Writes the operand held in `ACC` (if any) to its slot, so `ACC` is free.
    pub fn spill_acc(&mut self) {
        let from = self.dirty_from();
        if let Some(j) = self.stack[from..].iter().position(|&op| op == Operand::Acc) {
            self.spill((from + j) as u32);
        }
    }

    /// Writes every operand that reads local `n` to its slot, before `n` changes.
    pub fn spill_local(&mut self, n: u32) {
        for j in self.dirty_from() as u32..self.depth() {
            if self.stack[j as usize] == Operand::Local(n) {
                self.spill(j);
            }
        }
    }

    /// Loads popped operand `op` (of depth `j`) into `reg`.
    pub fn load(&mut self, op: Operand, j: u32, reg: Reg) {
        match op {
            Operand::Slot => self.asm.mov(reg, self.frame.operand(j)),
            Operand::Const(w) => self.asm.mov_imm(reg, w),
            Operand::Local(n) => self.asm.mov(reg, self.frame.local(n)),
            Operand::Acc if reg == ACC => {}
            Operand::Acc => self.asm.mov(reg, ACC),
        }
    }

    /// Pops the top `regs.len()` operands into `regs` (`regs[0]` gets the deepest),
    /// after freeing `ACC` of any operand left below them. The operand in `ACC`, if
    /// popped, moves first, so that no load overwrites it.
    pub fn pop_into<const N: usize>(&mut self, regs: [Reg; N]) -> [Operand; N] {
        let base = self.stack.len() - N;
        if self.stack[self.dirty_from().min(base)..base].contains(&Operand::Acc) {
            self.spill_acc();
        }
        let mut ops = [Operand::Slot; N];
        ops.copy_from_slice(&self.stack[base..]);
        self.stack.truncate(base);
        if let Some(k) = ops.iter().position(|&op| op == Operand::Acc) {
            self.load(Operand::Acc, (base + k) as u32, regs[k]);
        }
        for (k, (&op, reg)) in ops.iter().zip(regs).enumerate() {
            if op != Operand::Acc {
                self.load(op, (base + k) as u32, reg);
            }
        }
        ops
    }

    /// Pops `a b` for a binary operator: `a` into `ACC`, `b` as the right operand —
    /// an immediate when it is a small constant, else in `TMP`. Returns the right
    /// operand and whether each side is known to be an integer.
    pub fn pop_binary(&mut self) -> (RegMemImm<Reg>, bool, bool) {
        let b = self.stack[self.stack.len() - 1];
        if let Some(imm) = b.imm32().filter(|_| b.known_int()) {
            self.stack.pop();
            let a = self.pop_into([ACC])[0];
            return (RegMemImm::Imm(imm), a.known_int(), true);
        }
        let ops = self.pop_into([ACC, TMP]);
        (RegMemImm::Reg(TMP), ops[0].known_int(), ops[1].known_int())
    }
}
