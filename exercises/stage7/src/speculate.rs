//! The late speculation pass (stage 7): where the speculative builder bet that an
//! `add`, `sub`, `mul` or `neg` does not overflow, it left a `checkpoint` before the
//! instruction — a frame state with no check. The passes ran meanwhile on plain
//! arithmetic (SCCP folded some, `bounds` proved others cannot overflow, strength
//! reduction turned `x * 8` into `shl x, 3`), so only now is it known which
//! instructions can still fail. Each of those that follows its checkpoint in the
//! block — at the same pc and in the same inlined frame, nothing of another
//! bytecode instruction between them — becomes a guard (`GuardKind::Op`) with the
//! checkpoint's state: an overflow deoptimizes to the interpreter before the
//! instruction, which redoes it and raises the error (or the program goes on in the
//! interpreter, where the bet was simply wrong). Then every checkpoint goes, and
//! `dce` removes what only checkpoints used. V8's Turbofan does the same with its
//! `Checkpoint` nodes: the checks that survive optimization take the frame state of
//! the checkpoint before them.
//!
//! Stage 4's speculative pipeline runs it through its extension point
//! (`stage4::deopt::Deoptimizer::late_passes`, [`crate::deopt::Deoptimizing`]).

use stage4::ir::{BinOp, FrameState, Function, Guard, GuardKind, Op, Pc};
use stage4::passes::{dce, Analyses, PassStats};

/// Turns the arithmetic that follows its checkpoint into guards, removes every
/// checkpoint, then the code only they kept alive.
pub fn run(f: &mut Function, analyses: &mut Analyses, stats: &mut PassStats) {
    for b in 0..f.blocks.len() {
        let insts = std::mem::take(&mut f.blocks[b].insts);
        let mut keep = Vec::with_capacity(insts.len());
        // The checkpoint in effect: its state, pc and frame.
        let mut pending: Option<(FrameState, Pc, u32)> = None;
        for inst in insts {
            let data = &mut f.insts[inst.index()];
            todo!(
                "speculate: take the state of a checkpoint (which goes), and hand it to the next still-failing add, sub, mul, neg or shl of the same pc and frame as a guard; an instruction of another pc or frame ends the checkpoint's reach — book §7.5"
            )
        }
        f.blocks[b].insts = keep;
    }
    dce::run(f, analyses, stats);
}
