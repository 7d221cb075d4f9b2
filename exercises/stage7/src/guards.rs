//! A guard's check in machine code: what stage 4's code generator asks the
//! deoptimizer for each guard of its own ([`GuardCheck`]), its operand already placed
//! (a register, or for a branch guard wherever the allocation put it). The check
//! falls through when the bet holds and jumps to the guard's deopt stub (`exit`)
//! when it is lost:
//!
//! ```text
//!   guard int v          test ecx, 1          ; an integer's tag bit is 0
//!                        jne  stub_i
//!   guard cond v, true   test rcx, rcx        ; 0 (false) loses the bet
//!                        je   stub_i
//!   guard callee v, f2   cmp  rcx, <f2's value>
//!                        jne  stub_i
//! ```
//!
//! A guard of an instruction (`guard add ..`) is not here: it is the instruction's
//! own code, its error exits sent to the stub (stage 4), and so is a branch guard
//! whose compare stage 4 takes along (`cmp; jcc` to the stub).

use stage1::Value;
use stage2::{Assembler, Cond, Imm32, Label};
use stage4::codegen::TMP;
use stage4::deopt::GuardCheck;
use stage4::objects::Operand;

/// Emits `check`, jumping to `exit` when it fails (see the module). Changes `TMP`
/// and the flags, nothing else.
pub fn guard_check(asm: &mut Assembler, check: GuardCheck, exit: Label) {
    todo!(
        "guard-lower: Int: the tag bit clear; Cond: the integer zero or not as expected (a constant known now); Callee: the word equal to the function's value; a failure jumps to exit — book §7.6"
    )
}
