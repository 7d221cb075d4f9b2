//! Encoding throughput of the stage 2 assembler: a mix of the instructions a template
//! JIT writes (moves, memory operands, ALU with immediates, compare and branch),
//! reported by criterion as instructions per second (divide by 10^6 for per µs).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use stage2::{Assembler, Cond, Imm32, IndexReg, Mem, Reg, Scale};

/// Instructions written per round of [`round`].
const PER_ROUND: u64 = 10;
/// Rounds per iteration: a code buffer of a typical compiled function (~10k instrs).
const ROUNDS: u64 = 1_000;

/// One round of a typical template mix: 10 instructions.
fn round(asm: &mut Assembler, back: stage2::Label, i: i32) {
    asm.mov(Reg::RAX, Mem::base_disp(Reg::R12, 8 * (i & 15)));
    asm.mov(Reg::RCX, Mem::sib(Reg::R12, IndexReg::RDX, Scale::S8, 16));
    asm.add(Reg::RAX, Reg::RCX);
    asm.jcc(Cond::O, back);
    asm.cmp(Reg::RAX, Imm32(i));
    asm.setcc(Cond::L, Reg::RAX.r8());
    asm.movzx(Reg::RAX.r32(), Reg::RAX.r8());
    asm.mov_mr(Mem::base_disp(Reg::R12, -8), Reg::RAX);
    asm.mov_imm(Reg::RDX, i as i64);
    asm.sub(Reg::R13, Imm32(1000));
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("stage2_encode");
    g.throughput(Throughput::Elements(PER_ROUND * ROUNDS));
    g.bench_function("template_mix", |b| {
        b.iter(|| {
            let mut asm = Assembler::new();
            let back = asm.new_label();
            asm.bind(back);
            for i in 0..ROUNDS as i32 {
                round(&mut asm, back, black_box(i));
            }
            black_box(asm.assemble().expect("links"))
        })
    });
    g.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
