//! Arithmetic templates on tagged words: the tag checks and the overflow checks
//! inline (`jo`), the errors out of line.
//!
//! Integers are `n << 1`, so `add` and `sub` work on the tagged words as they are and
//! their 64-bit overflow is exactly the 63-bit overflow of the integers. `mul` untags
//! one side: `(2a) * b = 2ab`. Division untags both and checks for zero before
//! `idiv`; untagged operands have 63 bits, so `idiv` cannot overflow either (no
//! SIGFPE, ever). A divisor of `-1` has its own branch for another reason: its
//! quotient `-a` is the only one that can outgrow 63 bits (`MIN / -1 = 2^62`), so its
//! retagging needs the overflow check. A constant operand is an immediate and needs
//! no tag check.

use stage1::value::{INT_SHIFT, INT_TAG_MASK};
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
            (false, true) => self.asm.test(ACC.r32(), Imm32(INT_TAG_MASK as i32)),
            (true, false) => self.asm.test(TMP.r32(), Imm32(INT_TAG_MASK as i32)),
            (false, false) => {
                self.asm.mov(TMP2.r32(), ACC.r32());
                self.asm.or(TMP2.r32(), TMP.r32());
                self.asm.test(TMP2.r32(), Imm32(INT_TAG_MASK as i32));
            }
        }
        if !(a_int && b_int) {
            let type_error = self.error_exit(Some(ErrorKind::TypeError));
            self.asm.jcc(Cond::NE, type_error);
        }
        b
    }

    /// Jumps to a `type error` unless `ACC`, which holds operand `a`, is an integer
    /// (tag bit 0 clear); no code when the value stack knows it is one.
    pub(super) fn check_int_acc(&mut self, a: Operand) {
        if !a.known_int() {
            let type_error = self.error_exit(Some(ErrorKind::TypeError));
            self.asm.test(ACC.r32(), Imm32(INT_TAG_MASK as i32));
            self.asm.jcc(Cond::NE, type_error);
        }
    }

    /// `add`: `a + b` on the tagged words ([`gen_add_sub`](Self::gen_add_sub)).
    pub(super) fn gen_add(&mut self) {
        self.gen_add_sub(false);
    }

    /// `sub`: `a - b`, the same template.
    pub(super) fn gen_sub(&mut self) {
        self.gen_add_sub(true);
    }

    /// `add`, or `sub` when `subtract`: the operation on the tagged words, `jo` to
    /// `integer overflow`.
    fn gen_add_sub(&mut self, subtract: bool) {
        // exercise-begin: add pop and check both operands, add (sub when `subtract`) the tagged words, jump out on overflow, push the result in ACC
        let b = self.pop_int_pair();
        let overflow = self.error_exit(Some(ErrorKind::IntegerOverflow));
        if subtract {
            self.asm.sub(ACC, b);
        } else {
            self.asm.add(ACC, b);
        }
        self.asm.jcc(Cond::O, overflow);
        self.push(Operand::Acc);
        // exercise-end
    }

    /// `mul`: untag `b` (an immediate is untagged at compile time), `imul`, `jo`.
    pub(super) fn gen_mul(&mut self) {
        let b = self.pop_int_pair();
        let overflow = self.error_exit(Some(ErrorKind::IntegerOverflow));
        match b {
            RegMemImm::Imm(Imm32(w)) => self.asm.imul(ACC, Imm32(w >> INT_SHIFT)),
            _ => {
                self.asm.sar(TMP, INT_SHIFT as u8);
                self.asm.imul(ACC, TMP);
            }
        }
        self.asm.jcc(Cond::O, overflow);
        self.push(Operand::Acc);
    }

    /// `neg`: `0 - a`; `neg` sets `OF` for the tagged `MIN`, which is `-MIN` overflowing.
    pub(super) fn gen_neg(&mut self) {
        let [a] = self.pop_into([ACC]);
        self.check_int_acc(a);
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

    /// `div` or `mod` (`quotient`): `division by zero` when `b` is 0. `b = -1` is
    /// done without `idiv`, not because `idiv` would trap (after untagging,
    /// `-2^62 / -1 = 2^62` fits 64 bits) but because that quotient does not fit 63
    /// bits: `-a` is retagged with an overflow check; `a % -1` is 0.
    fn gen_div_mod(&mut self, quotient: bool) {
        // exercise-begin: divmod pop and check both operands into rax and rcx, untag, check zero before idiv, give -1 its own branch (its quotient can overflow when retagged), retag the quotient or remainder
        let b = self.pop_int_pair();
        if let RegMemImm::Imm(imm) = b {
            self.asm.mov(TMP, imm);
        }
        let zero = self.error_exit(Some(ErrorKind::DivisionByZero));
        let overflow = self.error_exit(Some(ErrorKind::IntegerOverflow));
        let minus_one: Label = self.asm.new_label();
        let done: Label = self.asm.new_label();
        self.asm.sar(ACC, INT_SHIFT as u8);
        self.asm.sar(TMP, INT_SHIFT as u8);
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
        self.push(Operand::Acc);
        // exercise-end
    }
}
