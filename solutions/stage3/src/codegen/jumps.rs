//! Jump templates: every instruction has a label, so a jump is one `jmp`/`jcc`, after
//! the value stack puts every operand in its slot (the target expects them there).
//! Conditions must be integers (`type error` otherwise), 0 being false.

use stage1::value::INT_TAG_MASK;
use stage1::ErrorKind;
use stage2::{Cond, Imm32};

use super::{FnGen, ACC};

impl FnGen<'_> {
    /// `jump t` and `loop t`.
    pub(super) fn gen_jump(&mut self, target: u32) {
        self.spill_all();
        self.asm.jmp(self.label_of(target));
    }

    /// `jump_if_true t` (`when` = true) and `jump_if_false t`.
    pub(super) fn gen_jump_if(&mut self, when: bool, target: u32) {
        // exercise-begin: jumps pop the condition into ACC, spill the rest, check it is an integer, then jump when it is (not) zero
        let [cond] = self.pop_into([ACC]);
        self.spill_all();
        if !cond.known_int() {
            let type_error = self.error_exit(Some(ErrorKind::TypeError));
            self.asm.test(ACC.r32(), Imm32(INT_TAG_MASK as i32));
            self.asm.jcc(Cond::NE, type_error);
        }
        self.asm.test(ACC, ACC);
        let cond = if when { Cond::NE } else { Cond::E };
        self.asm.jcc(cond, self.label_of(target));
        // exercise-end
    }
}
