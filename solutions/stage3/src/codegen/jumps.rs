//! Jump templates: every instruction has a label, so a jump is one `jmp`/`jcc`.
//! Conditions must be integers (`type error` otherwise), 0 being false.

use stage1::ErrorKind;
use stage2::{Cond, Imm32};

use super::{FnGen, ACC};

impl FnGen<'_> {
    /// `jump t` and `loop t`.
    pub(super) fn gen_jump(&mut self, target: u32) {
        self.asm.jmp(self.pc_labels[target as usize]);
    }

    /// `jump_if_true t` (`when` = true) and `jump_if_false t`.
    pub(super) fn gen_jump_if(&mut self, when: bool, target: u32) {
        // exercise-begin: jumps check the condition is an integer, then jump when it is (not) zero
        let type_error = self.error_exit(Some(ErrorKind::TypeError));
        self.asm.mov(ACC, self.top(0));
        self.asm.test(ACC.r32(), Imm32(1));
        self.asm.jcc(Cond::NE, type_error);
        self.asm.test(ACC, ACC);
        let cond = if when { Cond::NE } else { Cond::E };
        self.asm.jcc(cond, self.pc_labels[target as usize]);
        // exercise-end
    }
}
