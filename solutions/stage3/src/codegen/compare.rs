//! Comparison templates: `setcc` of a `cmp` on the tagged words (tagging keeps the
//! order), widened and retagged to 0 or 1. Ordering needs integers; equality compares
//! any two words.

use stage1::{ErrorKind, Instr};
use stage2::{Cond, Imm32};

use super::{FnGen, ACC};

impl FnGen<'_> {
    /// `rax = cond ? 1 : 0`, tagged, from the flags.
    fn flags_to_bool(&mut self, cond: Cond) {
        self.asm.setcc(cond, ACC.r8());
        self.asm.movzx(ACC.r32(), ACC.r8());
        self.asm.add(ACC.r32(), ACC.r32());
    }

    /// `lt`, `le`, `gt`, `ge`: integers only.
    pub(super) fn gen_order(&mut self, op: Instr) {
        // exercise-begin: compare check both tags, compare the tagged words, store 0 or 1 tagged
        let cond = match op {
            Instr::Lt => Cond::L,
            Instr::Le => Cond::LE,
            Instr::Gt => Cond::G,
            _ => Cond::GE,
        };
        self.load_int_pair();
        self.asm.cmp(ACC, super::TMP);
        self.flags_to_bool(cond);
        self.asm.mov_mr(self.top(1), ACC);
        // exercise-end
    }

    /// `eq`, `ne`: word equality, never an error.
    pub(super) fn gen_equality(&mut self, op: Instr) {
        let cond = if op == Instr::Eq { Cond::E } else { Cond::NE };
        self.asm.mov(ACC, self.top(1));
        self.asm.cmp(ACC, self.top(0));
        self.flags_to_bool(cond);
        self.asm.mov_mr(self.top(1), ACC);
    }

    /// `not`: 1 for the integer 0, else 0; a heap value is a `type error`.
    pub(super) fn gen_not(&mut self) {
        let type_error = self.error_exit(Some(ErrorKind::TypeError));
        self.asm.mov(ACC, self.top(0));
        self.asm.test(ACC.r32(), Imm32(1));
        self.asm.jcc(Cond::NE, type_error);
        self.asm.test(ACC, ACC);
        self.flags_to_bool(Cond::E);
        self.asm.mov_mr(self.top(0), ACC);
    }
}
