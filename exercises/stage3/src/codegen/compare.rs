//! Comparison templates: `setcc` of a `cmp` on the tagged words (tagging keeps the
//! order), widened and retagged to 0 or 1. Ordering needs integers; equality compares
//! any two words. A compare followed by a conditional jump is one `cmp; jcc`, with no
//! 0 or 1 made at all.

use stage1::Instr;
use stage2::{Cond, Reg, RegMemImm};

use super::stack::Operand;
use super::{FnGen, ACC};

/// The condition under which `op` (a compare) is true.
fn condition(op: Instr) -> Cond {
    match op {
        Instr::Lt => Cond::L,
        Instr::Le => Cond::LE,
        Instr::Gt => Cond::G,
        Instr::Ge => Cond::GE,
        Instr::Eq => Cond::E,
        _ => Cond::NE,
    }
}

/// The condition that is true when `cond` is false.
fn negate(cond: Cond) -> Cond {
    match cond {
        Cond::L => Cond::GE,
        Cond::LE => Cond::G,
        Cond::G => Cond::LE,
        Cond::GE => Cond::L,
        Cond::E => Cond::NE,
        _ => Cond::E,
    }
}

impl FnGen<'_> {
    /// `rax = cond ? 1 : 0`, tagged, from the flags.
    fn flags_to_bool(&mut self, cond: Cond) {
        self.asm.setcc(cond, ACC.r8());
        self.asm.movzx(ACC.r32(), ACC.r8());
        self.asm.add(ACC.r32(), ACC.r32());
    }

    /// Pops the operands of compare `op` and sets the flags with `cmp`: integers only
    /// for the ordering ones (`type error`), any two words for `eq` and `ne`. Both
    /// [`gen_compare`](Self::gen_compare) and the fused compare-and-jump use it.
    fn pop_and_cmp(&mut self, op: Instr) {
        todo!(
            "compare: pop both operands (checked integers for lt/le/gt/ge, any two words for eq/ne) and cmp the tagged words — book §3.7"
        )
    }

    /// `lt`, `le`, `gt`, `ge`, `eq`, `ne`: the flags of the compare made into a tagged
    /// 0 or 1 in `ACC`.
    pub(super) fn gen_compare(&mut self, op: Instr) {
        self.pop_and_cmp(op);
        self.flags_to_bool(condition(op));
        self.push(Operand::Acc);
    }

    /// A compare `op` fused with the `jump_if_true`/`jump_if_false` after it
    /// (`when`): the operands below go to their slots (a jump follows), then
    /// `cmp; jcc target`. The result is never a value, so it needs no tag check.
    pub(super) fn gen_compare_and_jump(&mut self, op: Instr, when: bool, target: u32) {
        let below = self.depth() - 2;
        for j in 0..below {
            self.spill(j);
        }
        self.pop_and_cmp(op);
        let cond = condition(op);
        let cond = if when { cond } else { negate(cond) };
        self.asm.jcc(cond, self.label_of(target));
    }

    /// `not`: 1 for the integer 0, else 0; a heap value is a `type error`.
    pub(super) fn gen_not(&mut self) {
        let [a] = self.pop_into([ACC]);
        self.check_int_acc(a);
        self.asm.test(ACC, ACC);
        self.flags_to_bool(Cond::E);
        self.push(Operand::Acc);
    }
}
