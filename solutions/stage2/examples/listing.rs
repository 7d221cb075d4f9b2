//! Prints the listings that chapter 2 of the book shows: a small loop, and the
//! special cases of memory operands, each as bytes next to iced-x86's reading.
//!
//! `cargo run -p stage2-solution --example listing`

use stage2_solution::{Assembler, Cond, Imm32, IndexReg, Mem, Reg, Scale};

fn main() -> Result<(), stage2_solution::AsmError> {
    // sum(n) = n + (n-1) + ... + 1
    let mut a = Assembler::new();
    let (top, done) = (a.new_label(), a.new_label());
    a.xor(Reg::RAX.r32(), Reg::RAX.r32());
    a.bind(top);
    a.test(Reg::RDI, Reg::RDI);
    a.jcc(Cond::LE, done);
    a.add(Reg::RAX, Reg::RDI);
    a.sub(Reg::RDI, Imm32(1));
    a.jmp(top);
    a.bind(done);
    a.ret();
    let code = a.finish()?;
    print!("{}", code.listing());
    // SAFETY: the loop reads rdi, returns in rax and touches nothing else.
    let sum: extern "sysv64" fn(i64) -> i64 = unsafe { code.as_fn() };
    println!("sum(100) = {}\n", sum(100));

    let mut a = Assembler::new();
    a.mov(Reg::RAX, Mem::base(Reg::RDI));
    a.mov(Reg::RAX, Mem::base(Reg::RSP));
    a.mov(Reg::RAX, Mem::base(Reg::R12));
    a.mov(Reg::RAX, Mem::base(Reg::RBP));
    a.mov(Reg::RAX, Mem::base(Reg::R13));
    a.mov(Reg::R9, Mem::sib(Reg::RDI, IndexReg::RCX, Scale::S8, 16));
    a.mov(Reg::RAX, Mem::base_disp(Reg::RDI, 128));
    a.setcc(Cond::E, Reg::RAX.r8());
    a.setcc(Cond::E, Reg::RSI.r8());
    print!(
        "{}",
        stage2_solution::listing(&stage2_solution::disasm(&a.assemble()?.bytes, 0))
    );
    Ok(())
}
