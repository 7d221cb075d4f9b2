//! Counting in a baseline template: the instructions stage 3's code generator
//! emits, when it compiles a function for a tiered run, at the end of the prologue
//! (the call counter) and before every `loop` instruction's jump (that loop's
//! back-edge counter).
//!
//! The counter is data beside the code (`stage1::interp::tiering::Counters`, which
//! the interpreter decrements too), at an address that does not move during the run,
//! so the template bakes the address in and decrements the counter in place: no
//! register is set aside for it and nothing in the code is ever patched. Stage 3
//! generates the rest (the out-of-line stubs that call the hooks when the counter
//! trips) and takes this template through `TierOptions::countdown`.

use stage2::{Assembler, Cond, Imm32, Label, Mem};
use stage3::codegen::SPILL_TMP;

/// Emits the countdown of the counter at address `counter`: subtract 1 from it in
/// place and jump to `hot` on the step that makes it reach zero. Clobbers only
/// `SPILL_TMP` (`r11`, which never holds an operand) and the flags.
pub fn emit_countdown(asm: &mut Assembler, counter: u64, hot: Label) {
    todo!(
        "countdown: load the counter's address into SPILL_TMP, subtract 1 from the qword there, and jump to `hot` when that made it zero — book §5.3"
    )
}
