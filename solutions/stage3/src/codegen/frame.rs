//! The native frame of a compiled function.
//!
//! ```text
//!   higher addresses
//!   | caller's frame ...          |
//!   | return address              |
//!   | saved rbp                   | <- rbp (FRAME)
//!   | local 0        [rbp - 8]    |
//!   | local 1        [rbp - 16]   |
//!   | ...                         |
//!   | operand 0      [rbp - 8(L+1)]
//!   | operand 1      [rbp - 8(L+2)]
//!   | ... (padding to 16 bytes)   | <- rsp, 16-byte aligned
//!   lower addresses
//! ```
//!
//! Every slot is at a fixed offset from `rbp`: the verifier's rules give each
//! instruction one operand-stack depth, which it hands over
//! ([`Verified::depths`](stage1::Verified::depths)), so the code generator knows at
//! compile time which slot is the top of the stack.

use stage2::{Mem, Reg};

use super::FRAME;

/// The layout of one function's native frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Locals (parameters first).
    pub locals: u32,
    /// The deepest the operand stack gets.
    pub max_stack: u32,
}

impl Frame {
    /// Bytes the prologue reserves below the saved `rbp`: every local and operand
    /// slot, rounded up to 16 so that `rsp` stays aligned for calls.
    pub fn size(&self) -> i32 {
        let bytes = 8 * (self.locals + self.max_stack) as i32;
        (bytes + 15) & !15
    }

    /// Local `n`: `[rbp - 8(n+1)]`.
    pub fn local(&self, n: u32) -> Mem {
        Mem::base_disp(FRAME, -8 * (n as i32 + 1))
    }

    /// Operand slot `j` (0 is the bottom of the operand stack): below the locals.
    pub fn operand(&self, j: u32) -> Mem {
        // exercise-begin: frame-slots the slot of operand `j`, below the locals
        Mem::base_disp(FRAME, -8 * ((self.locals + j) as i32 + 1))
        // exercise-end
    }
}

/// Stack bytes a native frame needs beyond its slots: return address and saved `rbp`.
pub const FRAME_OVERHEAD: usize = 16;

/// The register that holds the address of a callee's first argument on entry.
pub const ARGS: Reg = Reg::RDI;
