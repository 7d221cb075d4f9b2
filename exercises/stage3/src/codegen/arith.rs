//! Arithmetic templates on tagged words: the tag checks and the overflow checks
//! inline (`jo`), the errors out of line.
//!
//! Integers are `n << 1`, so `add` and `sub` work on the tagged words as they are and
//! their 64-bit overflow is exactly the 63-bit overflow of the integers. `mul` untags
//! one side: `(2a) * b = 2ab`. Division untags both, and checks zero and `-1` before
//! `idiv`, so `idiv` never traps: no SIGFPE, ever. A constant operand is an
//! immediate and needs no tag check.

use stage1::ErrorKind;
use stage2::{Cond, Imm32, Label, Reg, RegMemImm};

use super::stack::Operand;
use super::{FnGen, ACC, TMP, TMP2};

impl FnGen<'_> {
    /// Pops `a b` (`a` in `rax`, `b` an immediate or in `rcx`) and jumps to a `type
    /// error` unless both are integers (tag bit 0 clear), checking only what the
    /// value stack does not know already.
    pub(super) fn pop_int_pair(&mut self) -> RegMemImm<Reg> {
        let (b, a_int, b_int) = self.pop_binary();
        match (a_int, b_int) {
            (true, true) => {}
            (false, true) => self.asm.test(ACC.r32(), Imm32(1)),
            (true, false) => self.asm.test(TMP.r32(), Imm32(1)),
            (false, false) => {
                self.asm.mov(TMP2.r32(), ACC.r32());
                self.asm.or(TMP2.r32(), TMP.r32());
                self.asm.test(TMP2.r32(), Imm32(1));
            }
        }
        if !(a_int && b_int) {
            let type_error = self.error_exit(Some(ErrorKind::TypeError));
            self.asm.jcc(Cond::NE, type_error);
        }
        b
    }

    /// `add`: `a + b` on the tagged words, `jo` to `integer overflow`.
    pub(super) fn gen_add(&mut self) {
        todo!(
            "add: pop and check both operands, add the tagged words, jump out on overflow, push the result in ACC — book §3.5"
        )
    }

    /// `sub`: `a - b`, like `add`.
    pub(super) fn gen_sub(&mut self) {
        let b = self.pop_int_pair();
        let overflow = self.error_exit(Some(ErrorKind::IntegerOverflow));
        self.asm.sub(ACC, b);
        self.asm.jcc(Cond::O, overflow);
        self.push(Operand::Acc);
    }

    /// `mul`: untag `b` (an immediate is untagged at compile time), `imul`, `jo`.
    pub(super) fn gen_mul(&mut self) {
        let b = self.pop_int_pair();
        let overflow = self.error_exit(Some(ErrorKind::IntegerOverflow));
        match b {
            RegMemImm::Imm(Imm32(w)) => self.asm.imul(ACC, Imm32(w >> 1)),
            _ => {
                self.asm.sar(TMP, 1);
                self.asm.imul(ACC, TMP);
            }
        }
        self.asm.jcc(Cond::O, overflow);
        self.push(Operand::Acc);
    }

    /// `neg`: `0 - a`; `neg` sets `OF` for the tagged `MIN`, which is `-MIN` overflowing.
    pub(super) fn gen_neg(&mut self) {
        let [a] = self.pop_into([ACC]);
        if !a.known_int() {
            let type_error = self.error_exit(Some(ErrorKind::TypeError));
            self.asm.test(ACC.r32(), Imm32(1));
            self.asm.jcc(Cond::NE, type_error);
        }
        let overflow = self.error_exit(Some(ErrorKind::IntegerOverflow));
        self.asm.neg(ACC);
        self.asm.jcc(Cond::O, overflow);
        self.push(Operand::Acc);
    }

    /// `div`.
    pub(super) fn gen_div(&mut self) {
        self.gen_div_mod(true);
    }

    /// `mod`.
    pub(super) fn gen_mod(&mut self) {
        self.gen_div_mod(false);
    }

    /// `div` or `mod` (`quotient`): `division by zero` when `b` is 0; `b = -1` is
    /// done without `idiv` (`MIN / -1` overflows the 63 bits, `MIN % -1` is 0).
    fn gen_div_mod(&mut self, quotient: bool) {
        todo!(
            "divmod: pop and check both operands into rax and rcx, untag, check zero and -1 before idiv, retag the quotient or remainder — book §3.6"
        )
    }
}
