//! The interpreter in a tiered run (stage 5): every function starts here, and the
//! run's [`Counters`] decide when it moves to compiled code.
//!
//! A tiered run ([`Link::Tiered`](super::Link::Tiered)) prepares its own code, in
//! which every call is an [`Op::CallOut`] and every `loop` an [`Op::LoopOut`], both
//! handled out of line, and runs it on its own instance of the machine
//! (`Machine<TIERED = true>`): the loop of `run` and of stages 3 and 4's static mixed
//! runs has no check for tiering, and their calls out none either. Then:
//!
//! - **A call** (direct, through a value, or the entry itself at pc 0) passes its
//!   checks (arity, depth), then counts down its callee's call counter; the step that
//!   reaches zero calls [`Callout::hot_call`] before the call is made. Then it reads
//!   the callee's [`Installed`] flag: set, the call goes to the callout (compiled
//!   code); clear, it is interpreted. The flag is read at each call, so a function
//!   installed while this activation runs, by the hook of this very call or by any
//!   other, is called natively by its next call.
//! - **A back edge** (`loop` at `loop_pc`) counts down its counter; the step that
//!   reaches zero calls [`Callout::hot_loop`] with the frame's state at the jump's
//!   target ([`OsrFrame`]), before jumping. `None`: the loop goes on here.
//!   `Some(Ok(v))`: the rest of the frame ran in compiled code (OSR) and returned `v`,
//!   so the frame returns `v` as a `return` would (to its caller, or ending the
//!   activation). `Some(Err(unwind))`: that code failed; its frames already hold this
//!   one, so the trace gets only this frame's callers after them.
//!
//! ```text
//!   interpreted f          hot_loop(OsrFrame { f, loop_pc, target, locals, operands })
//!   loop_pc: loop T  ----> stage 5 enters f's compiled code at T with that state
//!                           |
//!   return v  <-------------+ Some(Ok(v)): f's frame returns v, here
//! ```

use std::cell::Cell;
use std::io::Write;

use super::calls::Cursor;
use super::feedback;
use super::superinstr::Op;
use super::tiering::{Counters, Installed};
use super::{Callout, Machine, Unwind};
use crate::bytecode::{FnId, Instr};
use crate::error::ErrorKind;
use crate::heap::Heap;
use crate::limits::MAX_FRAMES;
use crate::value::Value;

/// The state of an interpreted frame at a hot loop's back edge, as
/// [`Callout::hot_loop`] sees it: what an OSR entry needs to go on with the frame in
/// compiled code, at the loop's header `target`.
#[derive(Clone, Copy, Debug)]
pub struct OsrFrame<'a> {
    /// The frame's function.
    pub func: FnId,
    /// The pc of the `loop` instruction whose counter ran out.
    pub loop_pc: usize,
    /// Its target, the loop's header: where the frame goes on.
    pub target: usize,
    /// All of the function's locals, parameters first.
    pub locals: &'a [Value],
    /// The frame's operands, bottom first: the verifier's depth at `target` of them.
    pub operands: &'a [Value],
    /// Frames live below this one (all tiers counted): the code that takes the frame
    /// over runs at this depth, as a call of `func` from there would.
    pub depth: usize,
}

/// A tiered run's shared state, as a machine holds it: its [`Counters`] and
/// [`Installed`] flags as the slices they are made of, one load nearer to the hot
/// path.
#[derive(Clone, Copy, Debug)]
pub(super) struct Tiering<'r> {
    /// The call counters, by function.
    calls: &'r [Cell<i64>],
    /// The installed flags, by function.
    installed: &'r [Cell<bool>],
    /// The back-edge counters, and for each function and pc the index there of its
    /// `loop`'s counter (see [`Counters`]).
    back_edges: &'r [Cell<i64>],
    loop_slots: &'r [Box<[u32]>],
    /// The run's type feedback, which the tiered machine records into: where each
    /// function's bytes start, and the bytes ([`Feedback`](feedback::Feedback)).
    feedback_start: &'r [usize],
    feedback: &'r [Cell<u8>],
}

impl<'r> Tiering<'r> {
    /// The shared state of a run linked by [`Link::Tiered`](super::Link::Tiered).
    pub fn new(counters: &'r Counters, installed: &'r Installed) -> Tiering<'r> {
        let (back_edges, loop_slots) = counters.back_edge_slots();
        let (feedback_start, feedback) = counters.feedback().parts();
        Tiering {
            calls: counters.calls(),
            installed: installed.flags(),
            back_edges,
            loop_slots,
            feedback_start,
            feedback,
        }
    }

    /// The call counter of `func` ([`Counters::call`]).
    #[inline(always)]
    fn call(self, func: FnId) -> &'r Cell<i64> {
        &self.calls[func as usize]
    }

    /// Whether `func` is installed now ([`Installed::get`]).
    #[inline(always)]
    fn installed(self, func: FnId) -> bool {
        self.installed[func as usize].get()
    }

    /// The counter of the `loop` at `loop_pc` of `func` ([`Counters::back_edge`];
    /// at another pc, the index `u32::MAX` is out of bounds).
    #[inline(always)]
    fn back_edge(self, func: FnId, loop_pc: usize) -> &'r Cell<i64> {
        &self.back_edges[self.loop_slots[func as usize][loop_pc] as usize]
    }
}

/// Counts a call of `func` (its checks passed, `depth` frames live below the callee):
/// calls the hook when the counter reaches zero, then says whether the call goes to
/// the callout (`func` is installed now) rather than being interpreted.
#[inline(always)]
pub(super) fn count_call(
    tiering: Tiering<'_>,
    callout: &mut dyn Callout,
    heap: &mut Heap,
    func: FnId,
    depth: usize,
    out: &mut dyn Write,
) -> bool {
    if Counters::tick(tiering.call(func)) {
        callout.hot_call(heap, func, depth, out);
    }
    tiering.installed(func)
}

/// The entry of a tiered activation at pc 0, a call of `func` with `args` from
/// another tier (or `main`'s): counts it; `Some` with the call's result when it goes
/// to the callout (`func` installed), `None` when the interpreter runs it. Out of
/// line, so the activation's native frame does not grow for it.
#[inline(never)]
pub(super) fn enter_call(
    tiering: Tiering<'_>,
    callout: &mut dyn Callout,
    heap: &mut Heap,
    func: FnId,
    args: &[Value],
    depth: usize,
    out: &mut dyn Write,
) -> Option<Result<Value, Unwind>> {
    count_call(tiering, callout, heap, func, depth, out)
        .then(|| callout.call(heap, func, args, depth, out))
}

impl<'p, const TIERED: bool> Machine<'p, '_, TIERED> {
    /// A call of `func` in a tiered run, with its `argc` arguments on top of the
    /// stack, as [`Machine::call_counted`] makes it. Inline, the common case only:
    /// an interpreted callee whose counter does not reach zero at this call is
    /// [`Machine::call`] (its checks, then the frame), counted once they passed. Any
    /// other call, and so every hook, goes out of line with the cursor by value (its
    /// address must not escape the loop, that would keep it in memory).
    #[inline(always)]
    pub(super) fn call_tiered(
        &mut self,
        cur: &mut Cursor<'p>,
        func: FnId,
        argc: u32,
    ) -> Result<(), ErrorKind> {
        let Some(tiering) = self.tiering else {
            unreachable!("a tiered machine has its counters")
        };
        let counter = tiering.call(func);
        if counter.get() > 1 && !tiering.installed(func) {
            self.call::<true>(cur, func, argc)?;
            let tripped = Counters::tick(counter);
            debug_assert!(!tripped, "the counter was above 1");
            return Ok(());
        }
        *cur = self.call_counted(*cur, func, argc)?;
        Ok(())
    }

    /// A call of `func` in a tiered run: the checks of [`Machine::call`] (arity, then
    /// depth), then the count (the hook when it reaches zero); then the call goes
    /// out ([`Machine::call_out`]) when `func` is installed now, else it is
    /// interpreted ([`Machine::call`]).
    #[inline(never)]
    pub(crate) fn call_counted(
        &mut self,
        mut cur: Cursor<'p>,
        func: FnId,
        argc: u32,
    ) -> Result<Cursor<'p>, ErrorKind> {
        if self.program.functions[func as usize].arity != argc {
            return Err(ErrorKind::WrongNumberOfArguments);
        }
        if self.frames.len() + 1 >= self.frame_limit {
            return Err(ErrorKind::StackOverflow);
        }
        let Some(tiering) = self.tiering else {
            unreachable!("a tiered machine has its counters")
        };
        if Counters::tick(tiering.call(func)) {
            self.hot_call_slow(func);
        }
        if tiering.installed(func) {
            self.call_out(&mut cur, func, argc)?;
        } else {
            self.call::<true>(&mut cur, func, argc)?;
        }
        Ok(cur)
    }

    /// Tells the hook that the call counter of `func` reached zero, for a call from
    /// the running frame.
    #[cold]
    #[inline(never)]
    fn hot_call_slow(&mut self, func: FnId) {
        let depth = MAX_FRAMES - self.frame_limit + self.frames.len() + 1;
        let callout = self
            .callout
            .as_deref_mut()
            .expect("a tiered run has a callout");
        callout.hot_call(self.heap, func, depth, self.out);
    }

    /// `loop target` in a tiered run ([`Op::LoopOut`]), the `loop` being the
    /// instruction before `cur.pc`: counts the back edge in the profile and on its
    /// counter, and jumps, unless the counter reached zero: then it says so (`true`,
    /// `cur` unmoved), and the loop calls [`Machine::hot_loop_slow`]. Inline, with
    /// the cursor in the loop's registers: the common step is a decrement, a branch
    /// and the jump (the slow path inside it, even out of line, kept the cursor in
    /// memory). Only the tiered instance of the loop meets a `LoopOut` (in the
    /// others it would be a plain `loop`).
    #[inline(always)]
    pub(super) fn loop_out(&mut self, cur: &mut Cursor<'p>, target: u32) -> bool {
        let loop_pc = cur.pc - 1;
        self.profile.count_back_edge(cur.func, loop_pc);
        if TIERED {
            let Some(tiering) = self.tiering else {
                unreachable!("a tiered machine has its counters")
            };
            if Counters::tick(tiering.back_edge(cur.func, loop_pc)) {
                return true;
            }
        }
        cur.pc = target as usize;
        false
    }

    /// The back edge of [`Machine::loop_out`] whose counter reached zero: asks
    /// [`Callout::hot_loop`], and jumps, unless the frame ran to its end elsewhere:
    /// then `cur` is at the `return` that ends each function's tiered code, with the
    /// result on top. An error of that code leaves its frames (this one included) in
    /// `pending`. The cursor goes by value, as in `call_out_slow`.
    #[cold]
    #[inline(never)]
    pub(super) fn hot_loop_slow(
        &mut self,
        mut cur: Cursor<'p>,
        target: u32,
    ) -> Result<Cursor<'p>, ErrorKind> {
        let loop_pc = cur.pc - 1;
        {
            let locals = self.program.functions[cur.func as usize].locals as usize;
            // SAFETY: the running frame's locals are the `locals` slots from its base,
            // its operands the slots from there to `sp`, all inside the value stack,
            // which does not move while the hook runs (it runs other machines).
            let (locals, operands) = unsafe {
                let first_operand = cur.base.add(locals);
                (
                    std::slice::from_raw_parts(cur.base, locals),
                    std::slice::from_raw_parts(
                        first_operand,
                        cur.sp.offset_from(first_operand) as usize,
                    ),
                )
            };
            let frame = OsrFrame {
                func: cur.func,
                loop_pc,
                target: target as usize,
                locals,
                operands,
                depth: MAX_FRAMES - self.frame_limit + self.frames.len(),
            };
            let callout = self
                .callout
                .as_deref_mut()
                .expect("a tiered run has a callout");
            match callout.hot_loop(self.heap, frame, self.out) {
                None => {}
                Some(Ok(v)) => {
                    // The frame returns `v`: the appended `return` pops it from the
                    // frame's base, the slot where the caller takes its result (its
                    // operand slot, or the entry's stack), so the frame's operands,
                    // however many, no longer matter.
                    debug_assert_eq!(cur.code.last(), Some(&Op::Return));
                    // SAFETY: the base slot is inside the stack (see above).
                    unsafe {
                        *cur.base = v;
                        cur.sp = cur.base.add(1);
                    }
                    cur.pc = cur.code.len() - 1;
                    return Ok(cur);
                }
                Some(Err(unwind)) => {
                    self.pending = unwind.frames;
                    self.pending_has_running = true;
                    return Err(unwind.kind);
                }
            }
        }
        cur.pc = target as usize;
        Ok(cur)
    }
}

/// Type feedback (stage 7, see [`feedback`]): what the tiered machine records as it
/// runs. Every method is empty in the other machines (`TIERED` is a constant), so
/// `run` and the static mixed runs pay nothing for it.
impl<'p, const TIERED: bool> Machine<'p, '_, TIERED> {
    /// ORs `flags` into the feedback of the instruction at `pc` of `func`.
    #[inline(always)]
    fn feed(&self, func: FnId, pc: usize, flags: u8) {
        if TIERED {
            if let Some(tiering) = self.tiering {
                let start = tiering.feedback_start;
                debug_assert!(pc < self.program.functions[func as usize].code.len());
                // SAFETY: `func` is a function of the program the feedback was made
                // for and `pc` one of its instructions (each caller passes the pc of
                // an instruction it runs, never the `return` the tiered code
                // appends), so `start[func] + pc` is a byte of `func`'s vector.
                let cell = unsafe {
                    let at = *start.get_unchecked(func as usize) + pc;
                    tiering.feedback.get_unchecked(at)
                };
                cell.set(cell.get() | flags);
            }
        }
    }

    /// The conditional jump at `pc` of `func` jumped (`jumps`) or fell through.
    #[inline(always)]
    pub(super) fn feed_branch(&self, func: FnId, pc: usize, jumps: bool) {
        let flag = if jumps {
            feedback::TAKEN
        } else {
            feedback::NOT_TAKEN
        };
        self.feed(func, pc, flag);
    }

    /// The kind of the value on top of the running frame's operands, which the
    /// instruction before `cur.pc` gave: a load (`array_get`, `get_field`), or a call
    /// whose result just came back (from an interpreted callee's `return`, or from
    /// compiled code).
    #[inline(always)]
    pub(super) fn feed_result(&self, cur: &Cursor<'p>) {
        if TIERED {
            // SAFETY: the instruction before `cur.pc` pushed its result, so the frame
            // has a top operand, inside the stack.
            let v = unsafe { *cur.sp.sub(1) };
            self.feed(cur.func, cur.pc - 1, feedback::kind_of(v));
        }
    }

    /// The operands `a` and `b` of the comparison at `pc` of `func`: [`OTHER`](feedback::OTHER)
    /// unless both are integers (`eq` and `ne` take any values without an error).
    #[inline(always)]
    pub(super) fn feed_operands(&self, func: FnId, pc: usize, a: Value, b: Value) {
        if TIERED && !(a.is_int() && b.is_int()) {
            self.feed(func, pc, feedback::OTHER);
        }
    }

    /// The two operands on top of the running frame, those of the comparison
    /// before `cur.pc` ([`Machine::feed_operands`]).
    #[inline(always)]
    pub(super) fn feed_top_operands(&self, cur: &Cursor<'p>) {
        if TIERED {
            // SAFETY: the verifier guarantees a comparison's two operands are the
            // frame's top two, inside the stack.
            let (a, b) = unsafe { (*cur.sp.sub(2), *cur.sp.sub(1)) };
            self.feed_operands(cur.func, cur.pc - 1, a, b);
        }
    }

    /// On the way to the error `kind` raised by the instruction at `pc` of `func`:
    /// [`OVERFLOW`](feedback::OVERFLOW) for an arithmetic overflow,
    /// [`OTHER`](feedback::OTHER) for arithmetic or an ordering on a non-integer
    /// (Mini's only ways to see them are these errors, so they are recorded here,
    /// on the cold path).
    #[inline(always)]
    pub(super) fn feed_error(&self, kind: ErrorKind, func: FnId, pc: usize) {
        if !TIERED {
            return;
        }
        let Some(&instr) = self.program.functions[func as usize].code.get(pc) else {
            return;
        };
        let flag = match (instr, kind) {
            (Instr::Add | Instr::Sub | Instr::Mul | Instr::Neg, ErrorKind::IntegerOverflow) => {
                feedback::OVERFLOW
            }
            (
                Instr::Add
                | Instr::Sub
                | Instr::Mul
                | Instr::Neg
                | Instr::Lt
                | Instr::Le
                | Instr::Gt
                | Instr::Ge,
                ErrorKind::TypeError,
            ) => feedback::OTHER,
            _ => return,
        };
        self.feed(func, pc, flag);
    }
}

#[cfg(test)]
mod tests;
