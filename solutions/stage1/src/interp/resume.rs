//! Resuming frames that another tier stopped (stage 7's deoptimization): optimized
//! code that bet wrong hands the interpreter the frames it was running — the
//! function's own, and one for each call inlined into it around the failed guard —
//! and the interpreter finishes them.
//!
//! The frames come outermost first. The innermost one resumes *at* its pc (the
//! instruction whose guard failed is redone here). Each outer one was stopped at a
//! `call` (the inlined call): once the frame inside it returns, the result is pushed
//! on its operands and it resumes at the instruction after the call. Each runs as an
//! [`super::Entry`] of its own, innermost first, one frame deeper than the
//! one around it, so the depth limit counts them as the calls they were. An error
//! in an inner frame passes through the outer ones as a call's error would: each
//! adds its frame, at its call, to the trace.
//!
//! ```text
//!   frames[0]  main  @ call (pc 7)        3. resumes at pc 8 with g's result
//!   frames[1]  g     @ call (pc 2)        2. resumes at pc 3 with h's result
//!   frames[2]  h     @ pc 5 (the guard)   1. resumes at pc 5
//! ```

use crate::bytecode::FnId;
use crate::value::Value;

use super::{Entry, Unwind};

/// One interpreter frame to resume: whose, where, and the values of its locals and
/// operands there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumeFrame {
    /// The function.
    pub func: FnId,
    /// The innermost frame resumes at `pc`; an outer one is stopped at the `call` at
    /// `pc` and resumes at `pc + 1` with the inner frame's result pushed.
    pub pc: usize,
    /// All of the function's locals, parameters first.
    pub locals: Vec<Value>,
    /// The operands, bottom first (an outer frame's without the call's arguments).
    pub operands: Vec<Value>,
}

/// Runs `frames` (outermost first, see the module's documentation) to the end, the
/// outermost at `depth` (frames live below it), each through `enter`: the
/// outermost frame's result, or the error with every frame it passed.
pub fn resume_frames(
    frames: &[ResumeFrame],
    depth: usize,
    mut enter: impl FnMut(Entry<'_>) -> Result<Value, Unwind>,
) -> Result<Value, Unwind> {
    let mut result: Option<Value> = None;
    for (k, frame) in frames.iter().enumerate().rev() {
        let mut operands = frame.operands.clone();
        let pc = match result {
            None => frame.pc,
            Some(v) => {
                operands.push(v);
                frame.pc + 1
            }
        };
        let entry = Entry {
            func: frame.func,
            pc,
            locals: &frame.locals,
            operands: &operands,
            depth: depth + k,
        };
        match enter(entry) {
            Ok(v) => result = Some(v),
            Err(mut unwind) => {
                unwind
                    .frames
                    .extend(frames[..k].iter().rev().map(|f| (f.func, f.pc)));
                return Err(unwind);
            }
        }
    }
    Ok(result.expect("a deoptimization has a frame"))
}
