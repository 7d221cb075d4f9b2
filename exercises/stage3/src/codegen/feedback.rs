//! Type feedback in baseline code (stage 7): with [`TierOptions::feedback`], code
//! compiled for a tiered run ORs what it sees into the run's feedback vectors
//! (`stage1::interp::feedback`, owned by the [`Counters`]), as the tiered
//! interpreter does, so the optimizer's profile does not stop growing when a
//! function leaves the interpreter. Without it, the code is exactly stage 3's.
//!
//! The vectors do not move during a run, so the address of each instruction's byte
//! (`Feedback::address(func) + pc`) is baked into the code; nothing is patched. What
//! is recorded where:
//!
//! - **conditional jumps** (`jump_if_false`, `jump_if_true`, also fused with the
//!   compare before them): the fall-through arm records
//!   [`NOT_TAKEN`] right after the jump; the
//!   jump goes to an out-of-line stub that records
//!   [`TAKEN`] and jumps on to the target;
//! - **loads and calls** (`array_get`, `get_field`, `call`, `call_value`): the kind
//!   of the result in `ACC`, right after it is made.
//!
//! The instructions that record are a template of the later stage's
//! ([`FeedbackCode`]), as the countdowns' are (stage 7's exercise of recording
//! feedback in one template): this module decides where it goes, the template what
//! it is. Errors record nothing here: in Mini they end the run, and the interpreter
//! records them when it raises them.
//!
//! [`TierOptions::feedback`]: super::tiering::TierOptions::feedback
//! [`Counters`]: stage1::interp::tiering::Counters

use stage1::interp::feedback::{NOT_TAKEN, TAKEN};
use stage1::interp::superinstr::Cmp;
use stage1::Instr;
use stage2::{Assembler, Label};

use super::FnGen;

/// What a feedback template records ([`FeedbackCode`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observed {
    /// This flag, always: `TAKEN` or `NOT_TAKEN` on a branch's arm.
    Flag(u8),
    /// The kind of the value in `ACC` (`rax`): `INT` for an integer, else `OTHER`
    /// (`stage1::interp::feedback::kind_of`).
    KindOfAcc,
}

/// A feedback template: emits the instructions that OR what `Observed` says into
/// the byte at the address. It may clobber `SPILL_TMP` (`r11`), `TMP2` (`rdx`) and
/// the flags, nothing else: `ACC` holds a live value when it records a kind.
pub type FeedbackCode = fn(&mut Assembler, u64, Observed);

/// A taken arm's out-of-line stub, made after the body.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TakenArm {
    /// Where the conditional jump goes.
    label: Label,
    /// The pc of the jump, whose byte records the arm.
    pc: usize,
    /// The jump's target.
    target: u32,
}

impl FnGen<'_> {
    /// The address of the feedback byte of `pc` of this function, when the code
    /// records feedback (a template and counters to hold it).
    fn feedback_byte(&self, pc: usize) -> Option<(FeedbackCode, u64)> {
        let template = self.tiering.feedback?;
        let counters = self.tiering.counters?;
        Some((template, counters.feedback().address(self.func) + pc as u64))
    }

    /// Generates `instr` (with the jump after it when they are a fusable `pair`) by
    /// [`FnGen::gen_template`], with the feedback it records around it.
    pub(super) fn gen_recorded(&mut self, instr: Instr, pair: Option<(Cmp, bool, u32)>) -> bool {
        if self.tiering.feedback.is_none() {
            return self.gen_template(instr, pair);
        }
        let branch = match (instr, pair) {
            (_, Some((_, _, target))) => Some((self.pc + 1, target)),
            (Instr::JumpIfFalse(target) | Instr::JumpIfTrue(target), None) => {
                Some((self.pc, target))
            }
            _ => None,
        };
        if let Some((pc, target)) = branch {
            return self.gen_recorded_branch(instr, pair, pc, target);
        }
        let fused = self.gen_template(instr, pair);
        if matches!(
            instr,
            Instr::ArrayGet | Instr::GetField(_) | Instr::Call { .. } | Instr::CallValue(_)
        ) {
            if let Some((template, address)) = self.feedback_byte(self.pc) {
                template(self.asm, address, Observed::KindOfAcc);
            }
        }
        fused
    }

    /// A conditional jump at `pc` to `target`: its template jumps to a stub that
    /// records the taken arm instead (the target's label stands for the stub while
    /// the template is generated), and the fall-through records the other arm.
    fn gen_recorded_branch(
        &mut self,
        instr: Instr,
        pair: Option<(Cmp, bool, u32)>,
        pc: usize,
        target: u32,
    ) -> bool {
        let Some((template, address)) = self.feedback_byte(pc) else {
            return self.gen_template(instr, pair);
        };
        let stub = self.asm.new_label();
        let real = self.targets[target as usize].replace(stub);
        let fused = self.gen_template(instr, pair);
        self.targets[target as usize] = real;
        template(self.asm, address, Observed::Flag(NOT_TAKEN));
        self.tiering.taken_arms.push(TakenArm {
            label: stub,
            pc,
            target,
        });
        fused
    }

    /// After the body: the taken arms' stubs, each recording its arm and jumping on.
    pub(super) fn gen_taken_arms(&mut self) {
        let arms = std::mem::take(&mut self.tiering.taken_arms);
        for &TakenArm { label, pc, target } in &arms {
            self.asm.bind(label);
            if let Some((template, address)) = self.feedback_byte(pc) {
                template(self.asm, address, Observed::Flag(TAKEN));
            }
            self.asm.jmp(self.label_of(target));
        }
        self.tiering.taken_arms = arms;
    }
}
