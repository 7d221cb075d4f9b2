//! Hand-picked encodings, one line per instruction form: the expected bytes, the
//! instruction as text, and the call that makes it. Each line is also decoded by
//! iced-x86, so a wrong expectation in this table cannot hide either.

use super::common::{assemble, decode_one, hex};
use pretty_assertions::assert_eq;
use stage2::{AluOp, Assembler, BitOp, Cond, Imm32, IndexReg, Mem, Reg, Scale};

type Build = fn(&mut Assembler);

#[rustfmt::skip]
const TABLE: &[(&str, &str, Build)] = &[
    // mov
    ("48 89 f8",                      "mov rax, rdi",                         |a| a.mov(Reg::RAX, Reg::RDI)),
    ("4d 89 c8",                      "mov r8, r9",                           |a| a.mov(Reg::R8, Reg::R9)),
    ("89 f8",                         "mov eax, edi",                         |a| a.mov(Reg::RAX.r32(), Reg::RDI.r32())),
    ("48 c7 c0 ff ff ff ff",          "mov rax, -0x1",                        |a| a.mov(Reg::RAX, Imm32(-1))),
    ("41 b8 2a 00 00 00",             "mov r8d, 0x2a",                        |a| a.mov(Reg::R8.r32(), Imm32(42))),
    ("48 b8 f0 de bc 9a 78 56 34 12", "mov rax, 0x123456789abcdef0",          |a| a.mov_imm64(Reg::RAX, 0x1234_5678_9abc_def0)),
    ("b9 05 00 00 00",                "mov ecx, 0x5",                         |a| a.mov_imm(Reg::RCX, 5)),
    ("48 c7 c1 fb ff ff ff",          "mov rcx, -0x5",                        |a| a.mov_imm(Reg::RCX, -5)),
    ("49 bf 00 00 00 00 01 00 00 00", "mov r15, 0x100000000",                 |a| a.mov_imm(Reg::R15, 1 << 32)),
    ("48 8b 47 08",                   "mov rax, qword ptr [rdi+0x8]",         |a| a.mov(Reg::RAX, Mem::base_disp(Reg::RDI, 8))),
    ("8b 07",                         "mov eax, dword ptr [rdi]",             |a| a.mov(Reg::RAX.r32(), Mem::base(Reg::RDI))),
    ("48 89 47 f8",                   "mov qword ptr [rdi-0x8], rax",         |a| a.mov_mr(Mem::base_disp(Reg::RDI, -8), Reg::RAX)),
    ("48 c7 07 07 00 00 00",          "mov qword ptr [rdi], 0x7",             |a| a.mov_mi(Mem::base(Reg::RDI), Imm32(7))),
    // the special cases of ModRM/SIB
    ("48 8b 04 24",                   "mov rax, qword ptr [rsp]",             |a| a.mov(Reg::RAX, Mem::base(Reg::RSP))),
    ("49 8b 04 24",                   "mov rax, qword ptr [r12]",             |a| a.mov(Reg::RAX, Mem::base(Reg::R12))),
    ("48 8b 45 00",                   "mov rax, qword ptr [rbp]",             |a| a.mov(Reg::RAX, Mem::base(Reg::RBP))),
    ("49 8b 45 00",                   "mov rax, qword ptr [r13]",             |a| a.mov(Reg::RAX, Mem::base(Reg::R13))),
    ("48 8b 80 80 00 00 00",          "mov rax, qword ptr [rax+0x80]",        |a| a.mov(Reg::RAX, Mem::base_disp(Reg::RAX, 128))),
    ("48 8b 44 c8 10",                "mov rax, qword ptr [rax+rcx*8+0x10]",  |a| a.mov(Reg::RAX, Mem::sib(Reg::RAX, IndexReg::RCX, Scale::S8, 16))),
    ("4b 8b 44 25 00",                "mov rax, qword ptr [r13+r12]",         |a| a.mov(Reg::RAX, Mem::sib(Reg::R13, IndexReg::R12, Scale::S1, 0))),
    ("48 8d 04 37",                   "lea rax, [rdi+rsi]",                   |a| a.lea(Reg::RAX, Mem::sib(Reg::RDI, IndexReg::RSI, Scale::S1, 0))),
    ("4c 8d 5c 24 f0",                "lea r11, [rsp-0x10]",                  |a| a.lea(Reg::R11, Mem::base_disp(Reg::RSP, -16))),
    // ALU
    ("48 01 c8",                      "add rax, rcx",                         |a| a.add(Reg::RAX, Reg::RCX)),
    ("48 29 c8",                      "sub rax, rcx",                         |a| a.sub(Reg::RAX, Reg::RCX)),
    ("48 21 c8",                      "and rax, rcx",                         |a| a.and(Reg::RAX, Reg::RCX)),
    ("48 09 c8",                      "or rax, rcx",                          |a| a.or(Reg::RAX, Reg::RCX)),
    ("31 c0",                         "xor eax, eax",                         |a| a.xor(Reg::RAX.r32(), Reg::RAX.r32())),
    ("4d 31 ff",                      "xor r15, r15",                         |a| a.xor(Reg::R15, Reg::R15)),
    ("48 39 f7",                      "cmp rdi, rsi",                         |a| a.cmp(Reg::RDI, Reg::RSI)),
    ("48 83 c7 01",                   "add rdi, 0x1",                         |a| a.add(Reg::RDI, Imm32(1))),
    ("48 83 ef 80",                   "sub rdi, -0x80",                       |a| a.sub(Reg::RDI, Imm32(-128))),
    ("48 81 ff 80 00 00 00",          "cmp rdi, 0x80",                        |a| a.cmp(Reg::RDI, Imm32(128))),
    ("48 3d 00 01 00 00",             "cmp rax, 0x100",                       |a| a.cmp(Reg::RAX, Imm32(256))),
    ("48 83 e0 fe",                   "and rax, -0x2",                        |a| a.and(Reg::RAX, Imm32(-2))),
    ("48 03 47 10",                   "add rax, qword ptr [rdi+0x10]",        |a| a.add(Reg::RAX, Mem::base_disp(Reg::RDI, 16))),
    ("48 3b 06",                      "cmp rax, qword ptr [rsi]",             |a| a.cmp(Reg::RAX, Mem::base(Reg::RSI))),
    ("48 83 7f 08 03",                "cmp qword ptr [rdi+0x8], 0x3",         |a| a.cmp_mi(Mem::base_disp(Reg::RDI, 8), Imm32(3))),
    ("49 83 2b 01",                   "sub qword ptr [r11], 0x1",             |a| a.sub_mi(Mem::base(Reg::R11), Imm32(1))),
    ("48 81 6d f8 00 01 00 00",       "sub qword ptr [rbp-0x8], 0x100",       |a| a.sub_mi(Mem::base_disp(Reg::RBP, -8), Imm32(256))),
    ("48 81 3f 00 00 00 80",          "cmp qword ptr [rdi], -0x80000000",     |a| a.cmp_mi(Mem::base(Reg::RDI), Imm32(i32::MIN))),
    ("41 80 0b 04",                   "or byte ptr [r11], 0x4",               |a| a.alu_mi8(AluOp::Or, Mem::base(Reg::R11), 4)),
    ("41 08 13",                      "or byte ptr [r11], dl",                |a| a.alu_mr8(AluOp::Or, Mem::base(Reg::R11), Reg::RDX.r8())),
    ("40 08 70 10",                   "or byte ptr [rax+0x10], sil",          |a| a.alu_mr8(AluOp::Or, Mem::base_disp(Reg::RAX, 16), Reg::RSI.r8())),
    ("49 83 44 24 08 ff",             "add qword ptr [r12+0x8], -0x1",        |a| a.alu_mi(AluOp::Add, Mem::base_disp(Reg::R12, 8), Imm32(-1))),
    ("48 85 c0",                      "test rax, rax",                        |a| a.test(Reg::RAX, Reg::RAX)),
    ("48 a9 01 00 00 00",             "test rax, 0x1",                        |a| a.test(Reg::RAX, Imm32(1))),
    ("48 f7 c7 01 00 00 00",          "test rdi, 0x1",                        |a| a.test(Reg::RDI, Imm32(1))),
    ("48 85 07",                      "test qword ptr [rdi], rax",            |a| a.test(Reg::RAX, Mem::base(Reg::RDI))),
    ("48 0f af c6",                   "imul rax, rsi",                        |a| a.imul(Reg::RAX, Reg::RSI)),
    ("48 6b c0 0a",                   "imul rax, 0xa",                        |a| a.imul(Reg::RAX, Imm32(10))),
    ("48 69 c0 e8 03 00 00",          "imul rax, 0x3e8",                      |a| a.imul(Reg::RAX, Imm32(1000))),
    ("48 0f af 07",                   "imul rax, qword ptr [rdi]",            |a| a.imul(Reg::RAX, Mem::base(Reg::RDI))),
    ("48 f7 e9",                      "imul rcx",                             |a| a.imul_wide(Reg::RCX)),
    ("49 f7 eb",                      "imul r11",                             |a| a.imul_wide(Reg::R11)),
    ("48 99",                         "cqo",                                  |a| a.cqo()),
    ("48 f7 f9",                      "idiv rcx",                             |a| a.idiv(Reg::RCX)),
    ("48 f7 d8",                      "neg rax",                              |a| a.neg(Reg::RAX)),
    ("49 f7 d2",                      "not r10",                              |a| a.not(Reg::R10)),
    // shifts
    ("48 c1 e0 03",                   "shl rax, 0x3",                         |a| a.shl(Reg::RAX, 3)),
    ("48 c1 e8 3f",                   "shr rax, 0x3f",                        |a| a.shr(Reg::RAX, 63)),
    ("48 c1 f8 01",                   "sar rax, 0x1",                         |a| a.sar(Reg::RAX, 1)),
    ("48 d3 e7",                      "shl rdi, cl",                          |a| a.shl_cl(Reg::RDI)),
    ("48 d3 ef",                      "shr rdi, cl",                          |a| a.shr_cl(Reg::RDI)),
    ("49 d3 f8",                      "sar r8, cl",                           |a| a.sar_cl(Reg::R8)),
    // bit tests
    ("49 0f ba f0 3f",                "btr r8, 0x3f",                         |a| a.bit(BitOp::Btr, Reg::R8, 63)),
    ("0f ba e0 05",                   "bt eax, 0x5",                          |a| a.bit(BitOp::Bt, Reg::RAX.r32(), 5)),
    ("4d 0f ab c8",                   "bts r8, r9",                           |a| a.bit_reg(BitOp::Bts, Reg::R8, Reg::R9)),
    ("48 0f a3 c8",                   "bt rax, rcx",                          |a| a.bit_reg(BitOp::Bt, Reg::RAX, Reg::RCX)),
    ("48 0f b3 d0",                   "btr rax, rdx",                         |a| a.bit_reg(BitOp::Btr, Reg::RAX, Reg::RDX)),
    // flags to values
    ("0f 9c c0",                      "setl al",                              |a| a.setcc(Cond::L, Reg::RAX.r8())),
    ("40 0f 94 c6",                   "sete sil",                             |a| a.setcc(Cond::E, Reg::RSI.r8())),
    ("41 0f 9f c0",                   "setg r8b",                             |a| a.setcc(Cond::G, Reg::R8.r8())),
    ("0f b6 c0",                      "movzx eax, al",                        |a| a.movzx(Reg::RAX.r32(), Reg::RAX.r8())),
    ("48 0f b6 c7",                   "movzx rax, dil",                       |a| a.movzx(Reg::RAX, Reg::RDI.r8())),
    ("48 0f 4c c1",                   "cmovl rax, rcx",                       |a| a.cmov(Cond::L, Reg::RAX, Reg::RCX)),
    ("4c 0f 44 47 08",                "cmove r8, qword ptr [rdi+0x8]",        |a| a.cmov(Cond::E, Reg::R8, Mem::base_disp(Reg::RDI, 8))),
    // calls, stack, traps
    ("41 ff d3",                      "call r11",                             |a| a.call_reg(Reg::R11)),
    ("ff 50 10",                      "call qword ptr [rax+0x10]",            |a| a.call_mem(Mem::base_disp(Reg::RAX, 16))),
    ("41 ff 54 24 08",                "call qword ptr [r12+0x8]",             |a| a.call_mem(Mem::base_disp(Reg::R12, 8))),
    ("ff e0",                         "jmp rax",                              |a| a.jmp_reg(Reg::RAX)),
    ("c3",                            "ret",                                  |a| a.ret()),
    ("55",                            "push rbp",                             |a| a.push(Reg::RBP)),
    ("41 57",                         "push r15",                             |a| a.push(Reg::R15)),
    ("5d",                            "pop rbp",                              |a| a.pop(Reg::RBP)),
    ("41 5c",                         "pop r12",                              |a| a.pop(Reg::R12)),
    ("0f 0b",                         "ud2",                                  |a| a.ud2()),
    ("cc",                            "int3",                                 |a| a.int3()),
    ("90",                            "nop",                                  |a| a.nop()),
];

/// Every line of the table: the bytes the assembler writes, and what iced-x86 reads
/// in them. A failure shows the whole table with the differing lines marked.
#[test]
fn hand_picked_encodings() {
    let mut want = String::new();
    let mut got = String::new();
    for (bytes, text, build) in TABLE {
        want += &format!("{bytes:<32} {text}\n");
        let actual = assemble(build);
        got += &format!("{:<32} {}\n", hex(&actual), decode_one(&actual));
    }
    assert_eq!(want, got);
}

/// `call_abs` loads the target into r11 (the shortest `mov`) and calls through it.
#[test]
fn call_abs_goes_through_r11() {
    let far = assemble(|a| a.call_abs(0x7fff_1234_5678));
    assert_eq!(
        hex(&far),
        "49 bb 78 56 34 12 ff 7f 00 00 41 ff d3" // mov r11, 0x7fff12345678; call r11
    );
    let near = assemble(|a| a.call_abs(0x40_0000));
    assert_eq!(hex(&near), "41 bb 00 00 40 00 41 ff d3"); // mov r11d, 0x400000; call r11
}
