//! Adapters from the optimized calling convention to the ordinary one, for a tiered
//! run (stage 5), as HotSpot's c2i adapters.
//!
//! Optimized code compiled alone calls another function through stage 5's
//! compiled-entry table (`NativeContext::compiled_entries`) with the arguments in
//! [`ARG_REGS`]. Once the callee is optimized its entry there is its fast entry,
//! which takes them so. Until then it is the callee's adapter: the adapter puts the
//! registers in memory where every tier's ordinary entry reads its arguments
//! (argument `k` at `[rdi - 8k]`) and calls what the function table holds — the
//! interpreter stub or the baseline code, whichever the function is in now.
//!
//! ```text
//! push rbp ; mov rbp, rsp ; sub rsp, 48      six slots, rsp still 16-byte aligned
//! mov [rsp+40], rcx ... mov [rsp], r10       ARG_REGS[k] at [rsp+40 - 8k]
//! lea rdi, [rsp+40]
//! mov rax, [r12+8] ; call [rax + 16*func]    the table's entry: any tier's code
//! mov rsp, rbp ; pop rbp ; ret               rax: the result or the error word
//! ```
//!
//! An adapter stores all six registers whatever the arity (the callee reads only
//! its own), so it depends on nothing but the function's index, and stage 5 makes
//! them once per process, beside the interpreter stubs. It is no Mini frame: an
//! error passes through it in `rax` as through any return, and its 64 bytes of
//! native stack fit in the page of room each level of a tiered run's stack has
//! (`stage5::engine::frame_budgets`).

use stage1::FnId;
use stage2::{Assembler, CodeBlock, Imm32, Label, Mem, Reg};
use stage3::codegen::linkage::Linkage;

use super::{ACC, ARG_REGS};

/// The adapters of functions `0..count`, in one block (read+execute), and each
/// one's offset in it.
pub fn adapters(count: usize) -> Result<(CodeBlock, Vec<usize>), String> {
    let mut asm = Assembler::new();
    let labels: Vec<Label> = (0..count)
        .map(|i| {
            let label = asm.new_label();
            asm.bind(label);
            gen_adapter(&mut asm, i as FnId);
            label
        })
        .collect();
    let code = asm
        .finish()
        .map_err(|e| format!("cannot load the adapters: {e}"))?;
    let offsets = labels
        .into_iter()
        .map(|l| code.label_offset(l).expect("every adapter is bound"))
        .collect();
    Ok((code, offsets))
}

/// Bytes of the adapter's slots for the argument registers: a multiple of 16, so
/// that the stack stays aligned at its call.
const SLOTS: i32 = 8 * ARG_REGS.len() as i32;

/// The adapter of `func` (see the module's documentation).
fn gen_adapter(asm: &mut Assembler, func: FnId) {
    const _: () = assert!(SLOTS % 16 == 0);
    asm.push(Reg::RBP);
    asm.mov(Reg::RBP, Reg::RSP);
    asm.sub(Reg::RSP, Imm32(SLOTS));
    let first = SLOTS - 8;
    for (k, &reg) in ARG_REGS.iter().enumerate() {
        asm.mov_mr(Mem::base_disp(Reg::RSP, first - 8 * k as i32), reg);
    }
    asm.lea(Reg::RDI, Mem::base_disp(Reg::RSP, first));
    Linkage::Table.call(asm, func, ACC);
    asm.mov(Reg::RSP, Reg::RBP);
    asm.pop(Reg::RBP);
    asm.ret();
}
