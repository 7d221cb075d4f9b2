//! Calls, returns, the prologue, and the one exit path of errors.
//!
//! Calling convention between compiled functions: the caller's arguments stay in its
//! operand slots; it passes the address of the first one in `rdi` ([`ARGS`]) and calls
//! the callee's label directly (`call_value` calls the address from the function
//! table). The callee's prologue copies argument `k` from `[rdi - 8k]` (slots grow
//! down) into its local `k`. The result comes back in `rax`, or the word
//! [`ERROR_WORD`](stage1::value::ERROR_WORD) when the callee failed; the caller then leaves too,
//! adding its own frame to the trace. Arity and the callee's tag are checked by the
//! caller, the depth limit by the callee's prologue, in the interpreter's order.
//! Before a call every operand goes to its slot (the callee reads its arguments
//! there, and the call clobbers `ACC`); the result stays in `ACC`.

use stage1::{ErrorKind, FnId, Function};
use stage2::{Cond, Imm32, IndexReg, Mem, Reg, Scale};

use super::frame::ARGS;
use super::stack::Operand;
use super::{FnGen, ACC, CALLS, CTX, FRAME, FRAMES_LEFT, TMP};
use crate::context::{
    FN_ENTRY_ARITY_OFFSET, FN_ENTRY_CODE_OFFSET, FN_ENTRY_SHIFT, FUNCTIONS_OFFSET,
};
use crate::runtime::rt_raise;
use stage1::value::{FUNCTION_SHIFT, FUNCTION_TAG, TAG_MASK};

impl FnGen<'_> {
    /// The prologue: make the frame, take one from `FRAMES_LEFT` (`stack overflow`
    /// when none is left: [`MAX_FRAMES`](stage1::limits::MAX_FRAMES) frames, charged to the caller's call), count
    /// the call, copy the arguments in and zero the other locals.
    pub(super) fn gen_prologue(&mut self, f: &Function) {
        todo!(
            "prologue: build the frame, take a frame from FRAMES_LEFT (`frameless_exit(StackOverflow)` when none is left), count the call in CALLS, copy the arguments, zero the locals — book §3.4"
        )
    }

    /// `call f argc`: a call of the callee's label, or of its function-table entry
    /// ([`Linkage`](super::linkage::Linkage)).
    pub(super) fn gen_call(&mut self, func: FnId, argc: u32) {
        todo!(
            "call: spill the operands, pass the address of the first argument, call the callee, check for an error, push the result in ACC — book §3.9"
        )
    }

    /// `call_value argc`: check the value is a function (`type error`) of arity
    /// `argc` (`wrong number of arguments`), then call its code from the table.
    pub(super) fn gen_call_value(&mut self, argc: u32) {
        todo!(
            "call-value: check the callee's tag and arity in the function table, then call its code — book §3.10"
        )
    }

    /// `return`: the result in `rax`, one frame less, back to the caller.
    pub(super) fn gen_return(&mut self) {
        todo!(
            "return: pop the result into ACC, give the frame back to FRAMES_LEFT, drop the frame and return — book §3.11"
        )
    }

    /// An error stub: the kind in `rsi`, the pc in `rcx`, then the exit path.
    pub(super) fn gen_stub(&mut self, kind: u64, pc: usize) {
        self.asm.mov_imm(Reg::RSI, kind as i64);
        self.asm.mov_imm(Reg::RCX, pc as i64);
        self.asm.jmp(self.raise);
    }

    /// The function's one exit path for errors: record the kind and this frame with
    /// `rt_raise(ctx, kind, func, pc)`, then return its error word to the caller.
    pub(super) fn gen_raise(&mut self) {
        todo!(
            "runtime-exit: record the error and this frame with rt_raise, then return the error word — book §3.12"
        )
    }
}
