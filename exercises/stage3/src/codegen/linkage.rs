//! How a call of a known function (`call f argc`) reaches the callee's code, in every
//! tier that makes native code.
//!
//! A program compiled whole (stage 3 and stage 4 on their own) has every function in
//! one assembler, under its own label: the call is a direct `call label`. A tiered run
//! (stage 5) compiles one function at a time, when it gets hot, and moves a function
//! from tier to tier by rewriting its entry in the function table: its calls go
//! through the table, so that callers compiled earlier reach the callee's newest code
//! with nothing patched.

use stage1::FnId;
use stage2::{Assembler, Label, Mem, Reg};

use super::CTX;
use crate::context::{FN_ENTRY_CODE_OFFSET, FN_ENTRY_SIZE, FUNCTIONS_OFFSET};

/// Where the calls of a function being compiled go.
#[derive(Clone, Copy, Debug)]
pub enum Linkage<'a> {
    /// Each function's entry label in the one assembler of the whole program.
    Labels(&'a [Label]),
    /// The entry of the function table the context points at (`FUNCTIONS_OFFSET`).
    Table,
}

impl Linkage<'_> {
    /// Emits a call of `func`'s code, with the arguments already where the callee
    /// reads them. `scratch` is clobbered (through the table) before the call, which
    /// clobbers every caller-saved register anyway.
    pub fn call(&self, asm: &mut Assembler, func: FnId, scratch: Reg) {
        match self {
            Linkage::Labels(entries) => asm.call(entries[func as usize]),
            Linkage::Table => {
                let offset =
                    i64::from(func) * i64::from(FN_ENTRY_SIZE) + i64::from(FN_ENTRY_CODE_OFFSET);
                match i32::try_from(offset) {
                    Ok(disp) => {
                        asm.mov(scratch, Mem::base_disp(CTX, FUNCTIONS_OFFSET));
                        asm.call_mem(Mem::base_disp(scratch, disp));
                    }
                    // Past 2^27 functions the entry's offset needs a register.
                    Err(_) => {
                        asm.mov_imm(scratch, offset);
                        asm.add(scratch, Mem::base_disp(CTX, FUNCTIONS_OFFSET));
                        asm.call_mem(Mem::base(scratch));
                    }
                }
            }
        }
    }
}
