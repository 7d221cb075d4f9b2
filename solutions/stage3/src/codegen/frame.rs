//! The native frame of a compiled function, and the operand-stack depth at each
//! instruction (which fixes where each operand lives).
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
//! instruction one operand-stack depth, which [`depths`] computes, so the code
//! generator knows at compile time which slot is the top of the stack.

use stage1::{Function, Instr};
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

/// How `instr` changes the operand stack: (values popped, values pushed).
pub fn stack_effect(instr: Instr) -> (u32, u32) {
    use Instr::*;
    match instr {
        Const(_) | LoadLocal(_) | FuncRef(_) | NewObject | Dup => (0, 1),
        StoreLocal(_) | Print | Pop | JumpIfFalse(_) | JumpIfTrue(_) | Return => (1, 0),
        Add | Sub | Mul | Div | Mod | Lt | Le | Gt | Ge | Eq | Ne => (2, 1),
        Neg | Not | ArrayLen | GetField(_) => (1, 1),
        Jump(_) | Loop(_) => (0, 0),
        Call { argc, .. } => (u32::from(argc), 1),
        CallValue(argc) => (argc + 1, 1),
        NewArray(n) => (n, 1),
        NewArrayFill | ArrayGet => (2, 1),
        ArraySet => (3, 0),
        SetField(_) => (2, 0),
    }
}

/// The operand-stack depth before each instruction (`None` where no path reaches),
/// and the deepest the stack gets (returned). Fails, saying where, when two paths reach an
/// instruction at different depths, an instruction pops more than there is, a jump
/// leaves the code or the code can fall off its end: what a verified program never
/// does, but the code generator checks it rather than emit wrong slots.
///
/// The depths go to `depth` (one per instruction), and `work` is the work list: both
/// are buffers the caller reuses from one function to the next.
pub fn depths(
    f: &Function,
    depth: &mut Vec<Option<u32>>,
    work: &mut Vec<(usize, u32)>,
) -> Result<u32, String> {
    depth.clear();
    depth.resize(f.code.len(), None);
    work.clear();
    work.push((0, 0));
    let mut max = 0;
    while let Some((pc, d)) = work.pop() {
        let Some(&instr) = f.code.get(pc) else {
            return Err(format!("control reaches pc {pc}, past the end of the code"));
        };
        match depth[pc] {
            Some(seen) if seen == d => continue,
            Some(seen) => {
                return Err(format!(
                    "pc {pc} is reached with stack depths {seen} and {d}"
                ))
            }
            None => depth[pc] = Some(d),
        }
        let (pops, pushes) = stack_effect(instr);
        let Some(after) = d.checked_sub(pops) else {
            return Err(format!(
                "{} at pc {pc} pops an empty stack",
                instr.mnemonic()
            ));
        };
        let after = after + pushes;
        max = max.max(after).max(d);
        if let Some(target) = instr.jump_target() {
            work.push((target as usize, after));
        }
        if !matches!(instr, Instr::Jump(_) | Instr::Loop(_) | Instr::Return) {
            work.push((pc + 1, after));
        }
    }
    Ok(max)
}
