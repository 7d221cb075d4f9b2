//! Jump templates: every instruction has a label, so a jump is one `jmp`/`jcc`, after
//! the value stack puts every operand in its slot (the target expects them there).
//! Conditions must be integers (`type error` otherwise), 0 being false.

use stage2::Cond;

use super::{FnGen, ACC};

impl FnGen<'_> {
    /// `jump t` and `loop t`.
    pub(super) fn gen_jump(&mut self, target: u32) {
        self.spill_all();
        self.asm.jmp(self.label_of(target));
    }

    /// `jump_if_true t` (`when` = true) and `jump_if_false t`.
    pub(super) fn gen_jump_if(&mut self, when: bool, target: u32) {
        // exercise-begin: jumps pop the condition into ACC, spill the rest, check it is an integer (`check_int_acc`), then jump when it is (not) zero
        let [cond] = self.pop_into([ACC]);
        self.spill_all();
        self.check_int_acc(cond);
        self.asm.test(ACC, ACC);
        let cond = if when { Cond::NE } else { Cond::E };
        self.asm.jcc(cond, self.label_of(target));
        // exercise-end
    }
}
