//! The assembler: one method per mnemonic, each its opcode bytes plus a call to
//! [`encode`], over a [`CodeBuffer`] with labels.
//!
//! The operand size is the size of the register operand: `asm.add(Reg::RAX, ..)` is a
//! 64-bit add, `asm.add(Reg::RAX.r32(), ..)` a 32-bit one. Forms with a memory
//! destination carry the Intel manual's operand-encoding suffix (`mov_mr`, `mov_mi`).

use crate::buffer::{AsmError, CodeBuffer, Label, MachineCode};
use crate::encoding::{encode, Operands, Rm};
use crate::exec::CodeBlock;
use crate::operand::{Cond, Gpr, Imm32, Mem, Reg, Reg8, RegMem, RegMemImm};

/// The eight classic ALU operations share their encodings; this is their `/digit`
/// (the ModRM `reg` field of the immediate forms, and bits 3–5 of the other opcodes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum AluOp {
    /// `add`
    Add = 0,
    /// `or`
    Or = 1,
    /// `and`
    And = 4,
    /// `sub`
    Sub = 5,
    /// `xor`
    Xor = 6,
    /// `cmp` (a `sub` that only sets flags)
    Cmp = 7,
}

/// The shift operations and their `/digit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ShiftOp {
    /// `shl`: shift left.
    Shl = 4,
    /// `shr`: logical shift right (zeros come in).
    Shr = 5,
    /// `sar`: arithmetic shift right (the sign comes in).
    Sar = 7,
}

/// The bit-test operations: their `/digit` in `0F BA /digit ib` (the immediate
/// form); the register form's opcode is `0F A3 + 8 * (digit - 4)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BitOp {
    /// `bt`: `CF` = the bit.
    Bt = 4,
    /// `bts`: `CF` = the bit, then set it.
    Bts = 5,
    /// `btr`: `CF` = the bit, then clear it.
    Btr = 6,
}

/// `/digit` of `F7` for the one-operand group: `not`, `neg`, `idiv`, `test r/m, imm`.
const F7_TEST: u8 = 0;
const F7_NOT: u8 = 2;
const F7_NEG: u8 = 3;
const F7_IMUL: u8 = 5;
const F7_IDIV: u8 = 7;
/// `/digit` of `FF` for indirect `call` and `jmp`.
const FF_CALL: u8 = 2;
const FF_JMP: u8 = 4;

/// The scratch register `call_abs` loads the target into: caller-saved and not an
/// argument register in the System V ABI, so a call clobbers nothing the caller keeps.
pub const CALL_SCRATCH: Reg = Reg::R11;

/// An x86-64 assembler writing into a [`CodeBuffer`].
///
/// ```ignore
/// let mut asm = Assembler::new();
/// asm.mov(Reg::RAX, Reg::RDI);
/// asm.add(Reg::RAX, Imm32(1));
/// asm.ret();
/// let code = asm.finish()?;
/// let f: extern "sysv64" fn(i64) -> i64 = unsafe { code.as_fn() };
/// ```
#[derive(Clone, Debug, Default)]
pub struct Assembler {
    buf: CodeBuffer,
}

impl Assembler {
    /// An empty assembler.
    pub fn new() -> Assembler {
        Assembler::default()
    }

    /// Makes room for about `code_bytes` more bytes, `labels` labels and `fixups`
    /// jumps to labels: a code generator that knows its input's size saves the
    /// vectors' repeated growth (a tenth of a small program's compile time).
    pub fn reserve(&mut self, code_bytes: usize, labels: usize, fixups: usize) {
        self.buf.bytes.reserve(code_bytes);
        self.buf.labels.reserve(labels);
        self.buf.fixups.reserve(fixups);
    }

    // ---- the buffer ----------------------------------------------------------------

    /// The offset of the next instruction: record it to map source positions to code.
    pub fn offset(&self) -> usize {
        self.buf.offset()
    }

    /// The bytes written so far (jumps to labels not yet linked read as `rel32 = 0`).
    pub fn bytes(&self) -> &[u8] {
        self.buf.bytes()
    }

    /// A fresh label, to be bound with [`Assembler::bind`] before or after its uses.
    pub fn new_label(&mut self) -> Label {
        self.buf.new_label()
    }

    /// Binds `label` to the current offset.
    pub fn bind(&mut self, label: Label) {
        self.buf.bind(label)
    }

    /// Where `label` is bound, if it is.
    pub fn label_offset(&self, label: Label) -> Option<usize> {
        self.buf.label_offset(label)
    }

    /// Resolves the jumps and returns the bytes with the label offsets, without
    /// mapping them executable (for tests, listings and code caches).
    pub fn assemble(self) -> Result<MachineCode, AsmError> {
        self.buf.link()
    }

    /// Resolves the jumps and loads the code into fresh read+execute memory.
    pub fn finish(self) -> Result<CodeBlock, AsmError> {
        CodeBlock::load(&self.assemble()?)
    }

    /// Writes `opcode` and the operand bytes of `reg` and `rm`.
    fn op(&mut self, opcode: &[u8], w: bool, reg: u8, rm: Rm) {
        encode(
            &mut self.buf,
            opcode,
            Operands {
                w,
                reg,
                rm,
                byte_reg_needs_rex: false,
            },
        );
    }

    /// Appends a little-endian 32-bit immediate.
    fn imm32(&mut self, v: i32) {
        self.buf.extend(&v.to_le_bytes());
    }

    /// Writes an opcode with the register in its low three bits (`push`, `pop`,
    /// `mov r, imm`): REX.B carries the fourth bit.
    fn op_plus_reg(&mut self, opcode: u8, w: bool, reg: Reg) {
        if w || reg.is_extended() {
            self.buf
                .byte(crate::encoding::rex(w, false, false, reg.is_extended()));
        }
        self.buf.byte(opcode + reg.low3());
    }

    // ---- moves ---------------------------------------------------------------------

    /// `mov dst, src`: from a register (`89 /r`), from memory (`8B /r`) or an
    /// immediate (64-bit: `C7 /0 id`, sign-extended; 32-bit: `B8+r id`).
    pub fn mov<R: Gpr>(&mut self, dst: R, src: impl Into<RegMemImm<R>>) {
        let (w, d) = (dst.is_64(), dst.reg());
        match src.into() {
            RegMemImm::Reg(s) => self.op(&[0x89], w, s.reg().number(), Rm::Reg(d)),
            RegMemImm::Mem(m) => self.op(&[0x8B], w, d.number(), Rm::Mem(m)),
            RegMemImm::Imm(Imm32(v)) if w => {
                self.op(&[0xC7], true, 0, Rm::Reg(d));
                self.imm32(v);
            }
            RegMemImm::Imm(Imm32(v)) => {
                self.op_plus_reg(0xB8, false, d);
                self.imm32(v);
            }
        }
    }

    /// `mov dst, value` in the shortest form that keeps the flags: `mov r32, imm32`
    /// (zero-extends) for `0..=u32::MAX`, `mov r64, imm32` (sign-extends) for other
    /// values that fit 32 bits, and `mov r64, imm64` for the rest.
    pub fn mov_imm(&mut self, dst: Reg, value: i64) {
        todo!(
            "mov: pick the shortest of mov r32/imm32, mov r64/simm32 and mov r64/imm64 for `value` — book §2.4"
        )
    }

    /// `mov dst, imm64` (`REX.W B8+r io`), always the 10-byte form, e.g. for a
    /// constant that will be patched or must have a fixed size.
    pub fn mov_imm64(&mut self, dst: Reg, value: i64) {
        self.op_plus_reg(0xB8, true, dst);
        self.buf.extend(&value.to_le_bytes());
    }

    /// `mov [dst], src` (`89 /r`): a store of the register's width.
    pub fn mov_mr<R: Gpr>(&mut self, dst: Mem, src: R) {
        self.op(&[0x89], src.is_64(), src.reg().number(), Rm::Mem(dst));
    }

    /// `mov qword ptr [dst], imm32` (`REX.W C7 /0 id`), sign-extended to 64 bits.
    pub fn mov_mi(&mut self, dst: Mem, imm: Imm32) {
        self.op(&[0xC7], true, 0, Rm::Mem(dst));
        self.imm32(imm.0);
    }

    /// `lea dst, [src]` (`REX.W 8D /r`): the address, no memory access.
    pub fn lea(&mut self, dst: Reg, src: Mem) {
        self.op(&[0x8D], true, dst.number(), Rm::Mem(src));
    }

    /// `movzx dst, src` (`0F B6 /r`): a byte register zero-extended, e.g. after `setcc`.
    pub fn movzx<R: Gpr>(&mut self, dst: R, src: Reg8) {
        encode(
            &mut self.buf,
            &[0x0F, 0xB6],
            Operands {
                w: dst.is_64(),
                reg: dst.reg().number(),
                rm: Rm::Reg(src.0),
                byte_reg_needs_rex: src.needs_rex(),
            },
        );
    }

    /// `cmovcc dst, src` (`0F 40+cc /r`): move if `cond` holds.
    pub fn cmov<R: Gpr>(&mut self, cond: Cond, dst: R, src: impl Into<RegMem<R>>) {
        let rm = match src.into() {
            RegMem::Reg(s) => Rm::Reg(s.reg()),
            RegMem::Mem(m) => Rm::Mem(m),
        };
        self.op(
            &[0x0F, 0x40 + cond.code()],
            dst.is_64(),
            dst.reg().number(),
            rm,
        );
    }

    // ---- arithmetic and logic ------------------------------------------------------

    /// `op dst, src` for the ALU group: register (`op r/m, r`, opcode `8*op + 1`),
    /// memory (`op r, r/m`, `8*op + 3`) or immediate — `83 /op ib` when it fits a
    /// byte, `8*op + 5 id` for `rax`/`eax`, else `81 /op id`.
    pub fn alu<R: Gpr>(&mut self, op: AluOp, dst: R, src: impl Into<RegMemImm<R>>) {
        todo!(
            "alu: encode the register, memory and immediate forms, picking imm8 when the value fits — book §2.5"
        )
    }

    /// `add dst, src`.
    pub fn add<R: Gpr>(&mut self, dst: R, src: impl Into<RegMemImm<R>>) {
        self.alu(AluOp::Add, dst, src)
    }

    /// `sub dst, src`.
    pub fn sub<R: Gpr>(&mut self, dst: R, src: impl Into<RegMemImm<R>>) {
        self.alu(AluOp::Sub, dst, src)
    }

    /// `and dst, src`.
    pub fn and<R: Gpr>(&mut self, dst: R, src: impl Into<RegMemImm<R>>) {
        self.alu(AluOp::And, dst, src)
    }

    /// `or dst, src`.
    pub fn or<R: Gpr>(&mut self, dst: R, src: impl Into<RegMemImm<R>>) {
        self.alu(AluOp::Or, dst, src)
    }

    /// `xor dst, src` (`xor eax, eax` is the short way to zero a register).
    pub fn xor<R: Gpr>(&mut self, dst: R, src: impl Into<RegMemImm<R>>) {
        self.alu(AluOp::Xor, dst, src)
    }

    /// `cmp dst, src`: flags of `dst - src`.
    pub fn cmp<R: Gpr>(&mut self, dst: R, src: impl Into<RegMemImm<R>>) {
        self.alu(AluOp::Cmp, dst, src)
    }

    /// `op qword ptr [dst], imm` for the ALU group (`83 /op ib` when the value fits a
    /// byte, else `81 /op id`, sign-extended): arithmetic on a word in memory, e.g. a
    /// counter that generated code decrements in place.
    pub fn alu_mi(&mut self, op: AluOp, dst: Mem, imm: Imm32) {
        if let Ok(b) = i8::try_from(imm.0) {
            self.op(&[0x83], true, op as u8, Rm::Mem(dst));
            self.buf.byte(b as u8);
        } else {
            self.op(&[0x81], true, op as u8, Rm::Mem(dst));
            self.imm32(imm.0);
        }
    }

    /// `op byte ptr [dst], imm8` (`80 /op ib`) for the ALU group: a byte in memory,
    /// e.g. a flag that generated code sets in place in a feedback vector.
    pub fn alu_mi8(&mut self, op: AluOp, dst: Mem, imm: u8) {
        self.op(&[0x80], false, op as u8, Rm::Mem(dst));
        self.buf.byte(imm);
    }

    /// `op byte ptr [dst], src` (`8*op + 0 /r`) for the ALU group: a byte register
    /// into a byte in memory, e.g. flags computed in a register.
    pub fn alu_mr8(&mut self, op: AluOp, dst: Mem, src: Reg8) {
        encode(
            &mut self.buf,
            &[(op as u8) << 3],
            Operands {
                w: false,
                reg: src.0.number(),
                rm: Rm::Mem(dst),
                byte_reg_needs_rex: src.needs_rex(),
            },
        );
    }

    /// `cmp qword ptr [dst], imm` (`83 /7 ib` or `81 /7 id`), e.g. to check a tag or
    /// a shape in memory.
    pub fn cmp_mi(&mut self, dst: Mem, imm: Imm32) {
        self.alu_mi(AluOp::Cmp, dst, imm)
    }

    /// `sub qword ptr [dst], imm` (`83 /5 ib` or `81 /5 id`): a countdown in memory,
    /// whose `ZF` says it reached zero.
    pub fn sub_mi(&mut self, dst: Mem, imm: Imm32) {
        self.alu_mi(AluOp::Sub, dst, imm)
    }

    /// `test dst, src`: flags of `dst & src`. Register and memory use `85 /r` (the
    /// disassembler prints a memory operand first: `test` is symmetric); an immediate
    /// uses `A9 id` for the accumulator, else `F7 /0 id`.
    pub fn test<R: Gpr>(&mut self, dst: R, src: impl Into<RegMemImm<R>>) {
        let (w, d) = (dst.is_64(), dst.reg());
        match src.into() {
            RegMemImm::Reg(s) => self.op(&[0x85], w, s.reg().number(), Rm::Reg(d)),
            RegMemImm::Mem(m) => self.op(&[0x85], w, d.number(), Rm::Mem(m)),
            RegMemImm::Imm(Imm32(v)) if d == Reg::RAX => {
                if w {
                    self.buf
                        .byte(crate::encoding::rex(true, false, false, false));
                }
                self.buf.byte(0xA9);
                self.imm32(v);
            }
            RegMemImm::Imm(Imm32(v)) => {
                self.op(&[0xF7], w, F7_TEST, Rm::Reg(d));
                self.imm32(v);
            }
        }
    }

    /// `imul dst, src` (`0F AF /r`), or `imul dst, dst, imm` (`6B /r ib`, `69 /r id`):
    /// signed multiply keeping the low half, `OF` set on overflow.
    pub fn imul<R: Gpr>(&mut self, dst: R, src: impl Into<RegMemImm<R>>) {
        let (w, d) = (dst.is_64(), dst.reg());
        match src.into() {
            RegMemImm::Reg(s) => self.op(&[0x0F, 0xAF], w, d.number(), Rm::Reg(s.reg())),
            RegMemImm::Mem(m) => self.op(&[0x0F, 0xAF], w, d.number(), Rm::Mem(m)),
            RegMemImm::Imm(Imm32(v)) => match i8::try_from(v) {
                Ok(b) => {
                    self.op(&[0x6B], w, d.number(), Rm::Reg(d));
                    self.buf.byte(b as u8);
                }
                Err(_) => {
                    self.op(&[0x69], w, d.number(), Rm::Reg(d));
                    self.imm32(v);
                }
            },
        }
    }

    /// `imul src` (`F7 /5`), the one-operand form: the full signed product of `rax`
    /// and `src` in `rdx:rax` (its high half is what division by a constant
    /// multiplies for).
    pub fn imul_wide<R: Gpr>(&mut self, src: R) {
        self.op(&[0xF7], src.is_64(), F7_IMUL, Rm::Reg(src.reg()));
    }

    /// `cqo` (`REX.W 99`): sign-extend `rax` into `rdx:rax` before `idiv`.
    pub fn cqo(&mut self) {
        self.buf.extend(&[0x48, 0x99]);
    }

    /// `idiv src` (`F7 /7`): signed divide `rdx:rax` by `src`; quotient in `rax`,
    /// remainder in `rdx`. Traps (`#DE`) on zero and on `MIN / -1`: check first.
    pub fn idiv<R: Gpr>(&mut self, src: R) {
        self.op(&[0xF7], src.is_64(), F7_IDIV, Rm::Reg(src.reg()));
    }

    /// `neg dst` (`F7 /3`): two's-complement negation, `OF` set for `MIN`.
    pub fn neg<R: Gpr>(&mut self, dst: R) {
        self.op(&[0xF7], dst.is_64(), F7_NEG, Rm::Reg(dst.reg()));
    }

    /// `not dst` (`F7 /2`): bitwise complement.
    pub fn not<R: Gpr>(&mut self, dst: R) {
        self.op(&[0xF7], dst.is_64(), F7_NOT, Rm::Reg(dst.reg()));
    }

    /// `shl/shr/sar dst, count` (`C1 /op ib`); the CPU masks the count to 6 bits
    /// (5 for 32-bit operands).
    pub fn shift<R: Gpr>(&mut self, op: ShiftOp, dst: R, count: u8) {
        self.op(&[0xC1], dst.is_64(), op as u8, Rm::Reg(dst.reg()));
        self.buf.byte(count);
    }

    /// `shl/shr/sar dst, cl` (`D3 /op`): shift by the count in `cl`.
    pub fn shift_cl<R: Gpr>(&mut self, op: ShiftOp, dst: R) {
        self.op(&[0xD3], dst.is_64(), op as u8, Rm::Reg(dst.reg()));
    }

    /// `shl dst, count`.
    pub fn shl<R: Gpr>(&mut self, dst: R, count: u8) {
        self.shift(ShiftOp::Shl, dst, count)
    }

    /// `shr dst, count`.
    pub fn shr<R: Gpr>(&mut self, dst: R, count: u8) {
        self.shift(ShiftOp::Shr, dst, count)
    }

    /// `sar dst, count`.
    pub fn sar<R: Gpr>(&mut self, dst: R, count: u8) {
        self.shift(ShiftOp::Sar, dst, count)
    }

    /// `shl dst, cl`.
    pub fn shl_cl<R: Gpr>(&mut self, dst: R) {
        self.shift_cl(ShiftOp::Shl, dst)
    }

    /// `shr dst, cl`.
    pub fn shr_cl<R: Gpr>(&mut self, dst: R) {
        self.shift_cl(ShiftOp::Shr, dst)
    }

    /// `sar dst, cl`.
    pub fn sar_cl<R: Gpr>(&mut self, dst: R) {
        self.shift_cl(ShiftOp::Sar, dst)
    }

    /// `setcc dst` (`0F 90+cc /0`): the byte register becomes 1 if `cond` holds, else 0.
    /// Follow with [`Assembler::movzx`] to widen it.
    pub fn setcc(&mut self, cond: Cond, dst: Reg8) {
        encode(
            &mut self.buf,
            &[0x0F, 0x90 + cond.code()],
            Operands {
                w: false,
                reg: 0,
                rm: Rm::Reg(dst.0),
                byte_reg_needs_rex: dst.needs_rex(),
            },
        );
    }

    /// `bt/bts/btr dst, bit` (`0F BA /op ib`): test (and set or clear) bit `bit`
    /// (masked to 6 bits, 5 for 32-bit operands) of a register, `CF` its old value.
    /// E.g. `btr r, 63` clears the top bit, which no `and` with a sign-extended
    /// `imm32` can.
    pub fn bit<R: Gpr>(&mut self, op: BitOp, dst: R, bit: u8) {
        self.op(&[0x0F, 0xBA], dst.is_64(), op as u8, Rm::Reg(dst.reg()));
        self.buf.byte(bit);
    }

    /// `bt/bts/btr dst, bit` (`0F A3/AB/B3 /r`): the bit number in a register (masked
    /// as above), e.g. to mark word `w` of a bitmap word. Registers only: with a memory
    /// destination the CPU reads the index as a bit string offset, unmasked.
    pub fn bit_reg<R: Gpr>(&mut self, op: BitOp, dst: R, bit: R) {
        let opcode = 0xA3 + 8 * (op as u8 - BitOp::Bt as u8);
        self.op(
            &[0x0F, opcode],
            dst.is_64(),
            bit.reg().number(),
            Rm::Reg(dst.reg()),
        );
    }

    // ---- control flow --------------------------------------------------------------

    /// Writes a jump to `label`: the 2-byte `short` form (`opcode rel8`) when the label
    /// is already bound within reach, else the `near` opcode and a `rel32` fixup.
    fn jump(&mut self, short: u8, near: &[u8], label: Label) {
        todo!(
            "jumps-labels: emit rel8 for a bound label in reach, else the near opcode and a rel32 fixup — book §2.6"
        )
    }

    /// `jmp label` (`EB cb` backward in reach, else `E9 cd`).
    pub fn jmp(&mut self, label: Label) {
        self.jump(0xEB, &[0xE9], label)
    }

    /// `jcc label` (`70+cc cb` backward in reach, else `0F 80+cc cd`): jump if `cond`.
    pub fn jcc(&mut self, cond: Cond, label: Label) {
        self.jump(0x70 + cond.code(), &[0x0F, 0x80 + cond.code()], label)
    }

    /// `call label` (`E8 cd`).
    pub fn call(&mut self, label: Label) {
        self.buf.byte(0xE8);
        self.buf.rel32(label);
    }

    /// Calls an absolute address: `mov r11, target; call r11`. Clobbers
    /// [`CALL_SCRATCH`] (`r11`), which no System V call preserves anyway.
    pub fn call_abs(&mut self, target: u64) {
        self.mov_imm(CALL_SCRATCH, target as i64);
        self.call_reg(CALL_SCRATCH);
    }

    /// `call reg` (`FF /2`): call the address in a register.
    pub fn call_reg(&mut self, target: Reg) {
        self.op(&[0xFF], false, FF_CALL, Rm::Reg(target));
    }

    /// `call [mem]` (`FF /2`): call the address stored in memory (a function table's
    /// entry).
    pub fn call_mem(&mut self, target: Mem) {
        self.op(&[0xFF], false, FF_CALL, Rm::Mem(target));
    }

    /// `jmp reg` (`FF /4`): jump to the address in a register.
    pub fn jmp_reg(&mut self, target: Reg) {
        self.op(&[0xFF], false, FF_JMP, Rm::Reg(target));
    }

    /// `ret` (`C3`).
    pub fn ret(&mut self) {
        self.buf.byte(0xC3);
    }

    /// `push reg` (`50+r`).
    pub fn push(&mut self, reg: Reg) {
        self.op_plus_reg(0x50, false, reg);
    }

    /// `pop reg` (`58+r`).
    pub fn pop(&mut self, reg: Reg) {
        self.op_plus_reg(0x58, false, reg);
    }

    /// `ud2` (`0F 0B`): an instruction guaranteed to fault, for "cannot happen" paths.
    pub fn ud2(&mut self) {
        self.buf.extend(&[0x0F, 0x0B]);
    }

    /// `int3` (`CC`): a breakpoint trap, also the filler of unused code memory.
    pub fn int3(&mut self) {
        self.buf.byte(0xCC);
    }

    /// `nop` (`90`).
    pub fn nop(&mut self) {
        self.buf.byte(0x90);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Imm32;

    #[test]
    fn reserving_room_changes_nothing_but_capacity() {
        let emit = |asm: &mut Assembler| {
            let top = asm.new_label();
            asm.bind(top);
            asm.add(Reg::RAX, Imm32(1));
            asm.jmp(top);
        };
        let mut plain = Assembler::new();
        emit(&mut plain);
        let mut reserved = Assembler::new();
        reserved.reserve(4096, 64, 64);
        assert!(reserved.buf.bytes.capacity() >= 4096);
        emit(&mut reserved);
        assert_eq!(reserved.bytes(), plain.bytes());
        assert_eq!(reserved.assemble().unwrap(), plain.assemble().unwrap());
    }
}
