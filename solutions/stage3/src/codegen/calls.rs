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
        // exercise-begin: prologue build the frame, take a frame from FRAMES_LEFT (`frameless_exit(StackOverflow)` when none is left), count the call in CALLS, copy the arguments, zero the locals
        self.asm.push(FRAME);
        self.asm.mov(FRAME, Reg::RSP);
        let size = self.frame.size();
        if size > 0 {
            self.asm.sub(Reg::RSP, Imm32(size));
        }
        let overflow = self.frameless_exit(ErrorKind::StackOverflow);
        // Borrowing (`jb`) means FRAMES_LEFT was 0: the trampoline starts it at
        // MAX_FRAMES, so this is the interpreter's limit exactly.
        self.asm.sub(FRAMES_LEFT, Imm32(1));
        self.asm.jcc(Cond::B, overflow);
        self.asm.add(CALLS, Imm32(1));
        for k in 0..f.arity {
            self.asm.mov(TMP, Mem::base_disp(ARGS, -8 * k as i32));
            self.asm.mov_mr(self.frame.local(k), TMP);
        }
        for k in f.arity..f.locals {
            self.asm.mov_mi(self.frame.local(k), Imm32(0));
        }
        // exercise-end
    }

    /// `call f argc`: a call of the callee's label, or of its function-table entry
    /// ([`Linkage`](super::linkage::Linkage)).
    pub(super) fn gen_call(&mut self, func: FnId, argc: u32) {
        // exercise-begin: call spill the operands, pass the address of the first argument, call the callee, check for an error, push the result in ACC
        self.spill_all();
        let first = self.frame.operand(self.depth() - argc);
        self.asm.lea(ARGS, first);
        self.linkage.call(self.asm, func, ACC);
        self.check_error_result();
        self.stack.truncate((self.depth() - argc) as usize);
        self.push(Operand::Acc);
        // exercise-end
    }

    /// `call_value argc`: check the value is a function (`type error`) of arity
    /// `argc` (`wrong number of arguments`), then call its code from the table.
    pub(super) fn gen_call_value(&mut self, argc: u32) {
        // exercise-begin: call-value check the callee's tag and arity in the function table, then call its code
        self.spill_all();
        let callee = self.top(argc);
        let type_error = self.error_exit(Some(ErrorKind::TypeError));
        let arity_error = self.error_exit(Some(ErrorKind::WrongNumberOfArguments));
        self.asm.mov(ACC, callee);
        self.asm.mov(TMP.r32(), ACC.r32());
        self.asm.and(TMP.r32(), Imm32(TAG_MASK as i32));
        self.asm.cmp(TMP.r32(), Imm32(FUNCTION_TAG as i32));
        self.asm.jcc(Cond::NE, type_error);
        if let Some(objects) = self.objects {
            objects.call_value(self.asm, self.site(), ACC);
        }
        // index << FUNCTION_SHIFT | tag becomes index * FN_ENTRY_SIZE, the offset of
        // its table entry.
        self.asm.and(ACC, Imm32(!(TAG_MASK as i32)));
        self.asm.shl(ACC, (FN_ENTRY_SHIFT - FUNCTION_SHIFT) as u8);
        self.asm.mov(TMP, Mem::base_disp(CTX, FUNCTIONS_OFFSET));
        let entry = |disp| Mem::sib(TMP, IndexReg::RAX, Scale::S1, disp);
        self.asm
            .cmp_mi(entry(FN_ENTRY_ARITY_OFFSET), Imm32(argc as i32));
        self.asm.jcc(Cond::NE, arity_error);
        self.asm.mov(ACC, entry(FN_ENTRY_CODE_OFFSET));
        self.asm.lea(ARGS, self.frame.operand(self.depth() - argc));
        self.asm.call_reg(ACC);
        self.check_error_result();
        self.stack.truncate((self.depth() - argc - 1) as usize);
        self.push(Operand::Acc);
        // exercise-end
    }

    /// `return`: the result in `rax`, one frame less, back to the caller.
    pub(super) fn gen_return(&mut self) {
        // exercise-begin: return pop the result into ACC, give the frame back to FRAMES_LEFT, drop the frame and return
        self.pop_into([ACC]);
        self.asm.add(FRAMES_LEFT, Imm32(1));
        self.asm.mov(Reg::RSP, FRAME);
        self.asm.pop(FRAME);
        self.asm.ret();
        // exercise-end
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
        // exercise-begin: runtime-exit record the error and this frame with rt_raise, then return the error word
        self.asm.bind(self.raise);
        self.asm.mov(Reg::RDI, CTX);
        self.asm.mov_imm(Reg::RDX, self.func as i64);
        self.asm.call_abs(rt_raise as *const () as u64);
        self.asm.mov(Reg::RSP, FRAME);
        self.asm.pop(FRAME);
        self.asm.ret();
        // exercise-end
    }
}
