//! Operands: registers, memory references, immediates and condition codes.
//!
//! The types are built so that an operand the CPU cannot encode cannot be written:
//! an index register is never `rsp`, a scale is 1, 2, 4 or 8, an immediate says its
//! width in its type, and an 8-bit register is always one of the sixteen REX-era byte
//! registers (`al` … `r15b`, with `spl`/`bpl`/`sil`/`dil`, never `ah`).

use std::fmt;

/// One of the 16 general-purpose registers, as a 64-bit operand.
///
/// The discriminant is the register's number in the encoding: the low three bits go
/// in ModRM/SIB/opcode, the fourth in a REX prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Reg {
    /// `rax`.
    RAX = 0,
    /// `rcx`.
    RCX = 1,
    /// `rdx`.
    RDX = 2,
    /// `rbx`.
    RBX = 3,
    /// `rsp`.
    RSP = 4,
    /// `rbp`.
    RBP = 5,
    /// `rsi`.
    RSI = 6,
    /// `rdi`.
    RDI = 7,
    /// `r8`.
    R8 = 8,
    /// `r9`.
    R9 = 9,
    /// `r10`.
    R10 = 10,
    /// `r11`.
    R11 = 11,
    /// `r12`.
    R12 = 12,
    /// `r13`.
    R13 = 13,
    /// `r14`.
    R14 = 14,
    /// `r15`.
    R15 = 15,
}

impl Reg {
    /// All 16 registers in encoding order, for tables and exhaustive tests.
    pub const ALL: [Reg; 16] = [
        Reg::RAX,
        Reg::RCX,
        Reg::RDX,
        Reg::RBX,
        Reg::RSP,
        Reg::RBP,
        Reg::RSI,
        Reg::RDI,
        Reg::R8,
        Reg::R9,
        Reg::R10,
        Reg::R11,
        Reg::R12,
        Reg::R13,
        Reg::R14,
        Reg::R15,
    ];

    /// The register's number, 0 to 15.
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// The low three bits of the number: what goes in a ModRM, SIB or opcode field.
    pub const fn low3(self) -> u8 {
        self as u8 & 7
    }

    /// Whether the register is `r8`…`r15`, which needs a REX bit to be named.
    pub const fn is_extended(self) -> bool {
        self as u8 >= 8
    }

    /// The 32-bit view of this register (`eax`, `r8d`, …).
    pub const fn r32(self) -> Reg32 {
        Reg32(self)
    }

    /// The 8-bit view of this register (`al`, `sil`, `r8b`, …).
    pub const fn r8(self) -> Reg8 {
        Reg8(self)
    }

    /// The register's name in Intel syntax, as iced-x86 prints it.
    pub const fn name(self) -> &'static str {
        const NAMES: [&str; 16] = [
            "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11",
            "r12", "r13", "r14", "r15",
        ];
        NAMES[self as usize]
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The 32-bit view of a register. Writing it zeroes the upper 32 bits, which makes
/// `xor eax, eax` and `mov eax, imm32` the short ways to set a whole register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reg32(pub Reg);

impl Reg32 {
    /// The register's name in Intel syntax (`eax`, `r8d`, …).
    pub const fn name(self) -> &'static str {
        const NAMES: [&str; 16] = [
            "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d",
            "r12d", "r13d", "r14d", "r15d",
        ];
        NAMES[self.0 as usize]
    }
}

impl fmt::Display for Reg32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The 8-bit view of a register: the low byte (`al`, `spl`, `r8b`, …). The legacy
/// high-byte registers (`ah`, …) are not representable, so every `Reg8` can be
/// encoded together with a REX prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reg8(pub Reg);

impl Reg8 {
    /// Whether naming this byte register needs a REX prefix even without extended
    /// registers: `spl`, `bpl`, `sil`, `dil` are `ah`, `ch`, `dh`, `bh` without one.
    pub const fn needs_rex(self) -> bool {
        matches!(self.0, Reg::RSP | Reg::RBP | Reg::RSI | Reg::RDI)
    }

    /// The register's name in Intel syntax (`al`, `spl`, `r8b`, …).
    pub const fn name(self) -> &'static str {
        const NAMES: [&str; 16] = [
            "al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b",
            "r12b", "r13b", "r14b", "r15b",
        ];
        NAMES[self.0 as usize]
    }
}

impl fmt::Display for Reg8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A register operand of 64 or 32 bits: the operand size of an instruction is the
/// size of its register, so `asm.add(Reg::RAX, ..)` is a 64-bit add and
/// `asm.add(Reg::RAX.r32(), ..)` a 32-bit one. Sealed: only [`Reg`] and [`Reg32`].
pub trait Gpr: Copy + fmt::Display + sealed::Sealed {
    /// The underlying register.
    fn reg(self) -> Reg;
    /// Whether the operand is 64 bits wide (REX.W set).
    fn is_64(self) -> bool;
}

impl Gpr for Reg {
    fn reg(self) -> Reg {
        self
    }
    fn is_64(self) -> bool {
        true
    }
}

impl Gpr for Reg32 {
    fn reg(self) -> Reg {
        self.0
    }
    fn is_64(self) -> bool {
        false
    }
}

mod sealed {
    /// Keeps [`super::Gpr`] closed to the two register widths the encoder handles.
    pub trait Sealed {}
    impl Sealed for super::Reg {}
    impl Sealed for super::Reg32 {}
}

/// A register that can be the index of a memory operand: any but `rsp`.
///
/// In the SIB byte, index number 4 (`100`) without REX.X means "no index", so `rsp`
/// cannot be an index; `r12` (also `100`, with REX.X) can.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum IndexReg {
    /// `rax`.
    RAX = 0,
    /// `rcx`.
    RCX = 1,
    /// `rdx`.
    RDX = 2,
    /// `rbx`.
    RBX = 3,
    /// `rbp`.
    RBP = 5,
    /// `rsi`.
    RSI = 6,
    /// `rdi`.
    RDI = 7,
    /// `r8`.
    R8 = 8,
    /// `r9`.
    R9 = 9,
    /// `r10`.
    R10 = 10,
    /// `r11`.
    R11 = 11,
    /// `r12`.
    R12 = 12,
    /// `r13`.
    R13 = 13,
    /// `r14`.
    R14 = 14,
    /// `r15`.
    R15 = 15,
}

impl IndexReg {
    /// All 15 index registers in encoding order.
    pub const ALL: [IndexReg; 15] = [
        IndexReg::RAX,
        IndexReg::RCX,
        IndexReg::RDX,
        IndexReg::RBX,
        IndexReg::RBP,
        IndexReg::RSI,
        IndexReg::RDI,
        IndexReg::R8,
        IndexReg::R9,
        IndexReg::R10,
        IndexReg::R11,
        IndexReg::R12,
        IndexReg::R13,
        IndexReg::R14,
        IndexReg::R15,
    ];

    /// The same register as a [`Reg`].
    pub const fn reg(self) -> Reg {
        Reg::ALL[self as usize]
    }
}

impl TryFrom<Reg> for IndexReg {
    type Error = Reg;

    /// Every register but `rsp` converts; `rsp` comes back as the error.
    fn try_from(reg: Reg) -> Result<IndexReg, Reg> {
        IndexReg::ALL
            .iter()
            .copied()
            .find(|i| i.reg() == reg)
            .ok_or(reg)
    }
}

/// The factor an index register is multiplied by: 1, 2, 4 or 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Scale {
    /// Times 1.
    S1 = 0,
    /// Times 2.
    S2 = 1,
    /// Times 4.
    S4 = 2,
    /// Times 8.
    S8 = 3,
}

impl Scale {
    /// All four scales.
    pub const ALL: [Scale; 4] = [Scale::S1, Scale::S2, Scale::S4, Scale::S8];

    /// The two-bit field of the SIB byte (log2 of the factor).
    pub const fn bits(self) -> u8 {
        self as u8
    }

    /// The factor itself.
    pub const fn factor(self) -> u8 {
        1 << self as u8
    }
}

/// A memory operand `[base + index*scale + disp]`.
///
/// A base register is always present (generated code addresses memory through a
/// register); the index is optional and can never be `rsp` ([`IndexReg`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mem {
    /// The base register.
    pub base: Reg,
    /// The optional scaled index.
    pub index: Option<(IndexReg, Scale)>,
    /// The signed 32-bit displacement.
    pub disp: i32,
}

impl Mem {
    /// `[base]`.
    pub const fn base(base: Reg) -> Mem {
        Mem {
            base,
            index: None,
            disp: 0,
        }
    }

    /// `[base + disp]`.
    pub const fn base_disp(base: Reg, disp: i32) -> Mem {
        Mem {
            base,
            index: None,
            disp,
        }
    }

    /// `[base + index*scale + disp]`.
    pub const fn sib(base: Reg, index: IndexReg, scale: Scale, disp: i32) -> Mem {
        Mem {
            base,
            index: Some((index, scale)),
            disp,
        }
    }
}

/// A 32-bit immediate. In a 64-bit instruction the CPU sign-extends it to 64 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Imm32(pub i32);

/// A register or a memory operand, the `r/m` of the Intel manual, with the register's
/// width given by `R`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegMem<R> {
    /// A register.
    Reg(R),
    /// A memory operand of the same width as `R`.
    Mem(Mem),
}

/// A register, a memory operand or a 32-bit immediate: the source of an ALU
/// instruction, with the register's width given by `R`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegMemImm<R> {
    /// A register.
    Reg(R),
    /// A memory operand of the same width as `R`.
    Mem(Mem),
    /// An immediate, sign-extended to the operand width.
    Imm(Imm32),
}

impl<R: Gpr> From<R> for RegMem<R> {
    fn from(r: R) -> RegMem<R> {
        RegMem::Reg(r)
    }
}

impl<R: Gpr> From<Mem> for RegMem<R> {
    fn from(m: Mem) -> RegMem<R> {
        RegMem::Mem(m)
    }
}

impl<R: Gpr> From<R> for RegMemImm<R> {
    fn from(r: R) -> RegMemImm<R> {
        RegMemImm::Reg(r)
    }
}

impl<R: Gpr> From<Mem> for RegMemImm<R> {
    fn from(m: Mem) -> RegMemImm<R> {
        RegMemImm::Mem(m)
    }
}

impl<R: Gpr> From<Imm32> for RegMemImm<R> {
    fn from(i: Imm32) -> RegMemImm<R> {
        RegMemImm::Imm(i)
    }
}

/// A condition code, as used by `jcc`, `setcc` and `cmovcc`; the discriminant is the
/// low four bits of their opcodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Cond {
    /// Overflow (`OF = 1`): the `jo` after a tagged add.
    O = 0x0,
    /// No overflow.
    NO = 0x1,
    /// Below, unsigned `<` (`CF = 1`).
    B = 0x2,
    /// Above or equal, unsigned `>=`.
    AE = 0x3,
    /// Equal / zero.
    E = 0x4,
    /// Not equal / not zero.
    NE = 0x5,
    /// Below or equal, unsigned `<=`.
    BE = 0x6,
    /// Above, unsigned `>`.
    A = 0x7,
    /// Sign (negative).
    S = 0x8,
    /// No sign.
    NS = 0x9,
    /// Parity even.
    P = 0xA,
    /// Parity odd.
    NP = 0xB,
    /// Less, signed `<`.
    L = 0xC,
    /// Greater or equal, signed `>=`.
    GE = 0xD,
    /// Less or equal, signed `<=`.
    LE = 0xE,
    /// Greater, signed `>`.
    G = 0xF,
}

impl Cond {
    /// All 16 conditions in encoding order.
    pub const ALL: [Cond; 16] = [
        Cond::O,
        Cond::NO,
        Cond::B,
        Cond::AE,
        Cond::E,
        Cond::NE,
        Cond::BE,
        Cond::A,
        Cond::S,
        Cond::NS,
        Cond::P,
        Cond::NP,
        Cond::L,
        Cond::GE,
        Cond::LE,
        Cond::G,
    ];

    /// The opposite condition: flipping the lowest bit of the code negates it.
    pub const fn invert(self) -> Cond {
        Cond::ALL[(self as u8 ^ 1) as usize]
    }

    /// The four bits that go in the opcode.
    pub const fn code(self) -> u8 {
        self as u8
    }
}
