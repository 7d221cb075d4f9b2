//! Arithmetic templates on tagged words: the tag checks and the overflow checks
//! inline (`jo`), the errors out of line.
//!
//! Integers are `n << 1`, so `add` and `sub` work on the tagged words as they are and
//! their 64-bit overflow is exactly the 63-bit overflow of the integers. `mul` untags
//! one side: `(2a) * b = 2ab`. Division untags both, and checks zero and `-1` before
//! `idiv`, so `idiv` never traps: no SIGFPE, ever.

use stage1::ErrorKind;
use stage2::{Cond, Imm32, Label, Mem, Reg};

use super::{FnGen, ACC, TMP, TMP2};

impl FnGen<'_> {
    /// Loads the two operands `a b` (in `rax`, `rcx`) and jumps to a `type error`
    /// unless both are integers (tag bit 0 clear in `a | b`).
    pub(super) fn load_int_pair(&mut self) {
        let type_error = self.error_exit(Some(ErrorKind::TypeError));
        self.asm.mov(ACC, self.top(1));
        self.asm.mov(TMP, self.top(0));
        self.asm.mov(TMP2, ACC);
        self.asm.or(TMP2, TMP);
        self.asm.test(TMP2.r32(), Imm32(1));
        self.asm.jcc(Cond::NE, type_error);
    }

    /// Stores `rax` as the result of a binary operator (the slot of `a`).
    fn store_binary_result(&mut self) {
        let slot: Mem = self.top(1);
        self.asm.mov_mr(slot, ACC);
    }

    /// `add`: `a + b` on the tagged words, `jo` to `integer overflow`.
    pub(super) fn gen_add(&mut self) {
        // exercise-begin: add check both tags, add the tagged words, jump out on overflow, store
        self.load_int_pair();
        let overflow = self.error_exit(Some(ErrorKind::IntegerOverflow));
        self.asm.add(ACC, TMP);
        self.asm.jcc(Cond::O, overflow);
        self.store_binary_result();
        // exercise-end
    }

    /// `sub`: `a - b`, like `add`.
    pub(super) fn gen_sub(&mut self) {
        self.load_int_pair();
        let overflow = self.error_exit(Some(ErrorKind::IntegerOverflow));
        self.asm.sub(ACC, TMP);
        self.asm.jcc(Cond::O, overflow);
        self.store_binary_result();
    }

    /// `mul`: untag `b`, `imul`, `jo`.
    pub(super) fn gen_mul(&mut self) {
        self.load_int_pair();
        let overflow = self.error_exit(Some(ErrorKind::IntegerOverflow));
        self.asm.sar(TMP, 1);
        self.asm.imul(ACC, TMP);
        self.asm.jcc(Cond::O, overflow);
        self.store_binary_result();
    }

    /// `neg`: `0 - a`; `neg` sets `OF` for the tagged `MIN`, which is `-MIN` overflowing.
    pub(super) fn gen_neg(&mut self) {
        let type_error = self.error_exit(Some(ErrorKind::TypeError));
        let overflow = self.error_exit(Some(ErrorKind::IntegerOverflow));
        self.asm.mov(ACC, self.top(0));
        self.asm.test(ACC.r32(), Imm32(1));
        self.asm.jcc(Cond::NE, type_error);
        self.asm.neg(ACC);
        self.asm.jcc(Cond::O, overflow);
        self.asm.mov_mr(self.top(0), ACC);
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
        // exercise-begin: divmod untag, check zero and -1 before idiv, retag the quotient or remainder
        self.load_int_pair();
        let zero = self.error_exit(Some(ErrorKind::DivisionByZero));
        let overflow = self.error_exit(Some(ErrorKind::IntegerOverflow));
        let minus_one: Label = self.asm.new_label();
        let done: Label = self.asm.new_label();
        self.asm.sar(ACC, 1);
        self.asm.sar(TMP, 1);
        self.asm.test(TMP, TMP);
        self.asm.jcc(Cond::E, zero);
        self.asm.cmp(TMP, Imm32(-1));
        self.asm.jcc(Cond::E, minus_one);
        self.asm.cqo();
        self.asm.idiv(TMP);
        if !quotient {
            self.asm.mov(ACC, TMP2);
        }
        // |a / b| <= |a| and |a % b| < |b|: retagging cannot overflow here.
        self.asm.add(ACC, ACC);
        self.asm.jmp(done);
        self.asm.bind(minus_one);
        if quotient {
            // -a fits 64 bits (a has 63); retagging overflows exactly for a = MIN.
            self.asm.neg(ACC);
            self.asm.add(ACC, ACC);
            self.asm.jcc(Cond::O, overflow);
        } else {
            self.asm.mov(Reg::RAX.r32(), Imm32(0));
        }
        self.asm.bind(done);
        self.store_binary_result();
        // exercise-end
    }
}
