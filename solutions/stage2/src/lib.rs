//! Stage 2 of jitlab: executable memory and an x86-64 assembler with labels.
//!
//! The code generators of stages 3 to 7 write machine code with an [`Assembler`]
//! (one method per mnemonic, typed operands that cannot name an unencodable
//! operand), jump to [`Label`]s bound before or after use, and [`Assembler::finish`]
//! into a [`CodeBlock`]: read+execute pages, never writable at the same time, callable
//! as an `extern "sysv64"` function. [`disasm()`] prints any of it with iced-x86.
//!
//! ```ignore
//! use stage2::{Assembler, Imm32, Reg};
//! let mut asm = Assembler::new();
//! asm.lea(Reg::RAX, stage2::Mem::sib(Reg::RDI, stage2::IndexReg::RSI, stage2::Scale::S1, 0));
//! asm.ret();
//! let code = asm.finish()?;
//! let add: extern "sysv64" fn(i64, i64) -> i64 = unsafe { code.as_fn() };
//! assert_eq!(add(2, 3), 5);
//! ```

pub mod assembler;
pub mod buffer;
pub mod code_map;
pub mod disasm;
pub mod encoding;
pub mod exec;
pub mod operand;

pub use assembler::{AluOp, Assembler, BitOp, ShiftOp, CALL_SCRATCH};
pub use buffer::{AsmError, CodeBuffer, Label, MachineCode};
pub use disasm::{disasm, disasm_annotated, disasm_range, listing, Annotate, Line};
pub use exec::{CodeBlock, FILLER};
/// The decoder the listings use, for [`Annotate::note`]s that look at an instruction.
pub use iced_x86;
pub use operand::{Cond, Gpr, Imm32, IndexReg, Mem, Reg, Reg32, Reg8, RegMem, RegMemImm, Scale};
