//! The extension point of speculation (stage 7): what the optimizer may bet on, asked
//! by the speculative builder ([`crate::ir::build`]) at each bytecode instruction
//! where a bet is possible. Stage 7 answers from the run's profile (feedback vectors,
//! stage 6's caches) and from what earlier deopts taught it; stage 4 alone never
//! speculates ([`NoSpeculation`]).
//!
//! A bet becomes a guard ([`crate::ir::Guard`]) with the frame state the builder holds
//! there: if the bet is lost at run time, the code deoptimizes to that state and the
//! interpreter goes on, so a wrong bet costs time, never a wrong answer.

use stage1::FnId;

use crate::ir::Pc;

/// What the optimizer may bet on, instruction by instruction. `func` and `pc` name
/// a bytecode instruction of the program (of the function being compiled, or of one
/// inlined into it). Answers must not change during one compile. Shared with the
/// optimizer's worker thread, hence `Send + Sync`: an implementation is a snapshot.
pub trait Speculation: Send + Sync {
    /// The value the instruction at `pc` gives (`array_get`, `get_field`, `call`,
    /// `call_value`) is an integer: check it once there (a guard) so no use of it
    /// checks it again.
    fn int_result(&self, func: FnId, pc: Pc) -> bool;

    /// The arithmetic instruction at `pc` (`add`, `sub`, `mul`, `neg`) never
    /// overflows: its overflow check deoptimizes instead of raising.
    fn no_overflow(&self, func: FnId, pc: Pc) -> bool;

    /// The conditional jump at `pc` only ever went one way: `Some(true)` if it always
    /// jumped, `Some(false)` if it never did. The other way is pruned.
    fn branch(&self, func: FnId, pc: Pc) -> Option<bool>;

    /// The `get_field`/`set_field` at `pc` hits its cache (stage 6) on every run
    /// that matters: a miss deoptimizes instead of calling the runtime.
    fn field_hit(&self, func: FnId, pc: Pc) -> bool;

    /// The `call_value` at `pc` always called this function (of the right arity):
    /// a guard on the callee, then a direct call (which may be inlined).
    fn call_target(&self, func: FnId, pc: Pc) -> Option<FnId>;

    /// Inline the direct call of `callee` at `pc` of `func`, `depth` calls deep
    /// already (0 for a call of the function being compiled).
    fn inline(&self, func: FnId, pc: Pc, callee: FnId, depth: u32) -> bool;
}

/// No bets at all: stage 4's own compiles, and stage 7's last resort for a function
/// that deoptimized too often.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSpeculation;

impl Speculation for NoSpeculation {
    fn int_result(&self, _: FnId, _: Pc) -> bool {
        false
    }

    fn no_overflow(&self, _: FnId, _: Pc) -> bool {
        false
    }

    fn branch(&self, _: FnId, _: Pc) -> Option<bool> {
        None
    }

    fn field_hit(&self, _: FnId, _: Pc) -> bool {
        false
    }

    fn call_target(&self, _: FnId, _: Pc) -> Option<FnId> {
        None
    }

    fn inline(&self, _: FnId, _: Pc, _: FnId, _: u32) -> bool {
        false
    }
}
