//! The one place that knows the REX, ModRM and SIB rules of x86-64.
//!
//! Every instruction with a register or memory operand is an opcode plus the same
//! operand bytes, so the assembler's mnemonics each call [`encode`] with their opcode
//! and operands, and the special cases of the encoding live here, each under a name:
//!
//! ```text
//! [REX] opcode... ModRM [SIB] [disp8 | disp32]
//!
//! REX    0100 W R X B   W: 64-bit operand; R, X, B: 4th bit of reg, index, base
//! ModRM  mod:2 reg:3 rm:3
//! SIB    scale:2 index:3 base:3
//! ```

use crate::buffer::CodeBuffer;
use crate::operand::{Mem, Reg};

/// The `r/m` operand of an instruction: a register (ModRM `mod = 11`) or memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rm {
    /// A register, encoded directly in ModRM.
    Reg(Reg),
    /// A memory operand, encoded with ModRM, maybe a SIB byte and a displacement.
    Mem(Mem),
}

/// The ModRM `rm` value that says "a SIB byte follows" (and, as a base, is `rsp`/`r12`).
pub const RM_SIB: u8 = 0b100;
/// The low bits of `rbp`/`r13`: as a base with `mod = 00`, they mean "no base,
/// disp32" (RIP-relative in ModRM), so these bases always carry a displacement.
pub const BASE_NEEDS_DISP: u8 = 0b101;
/// The SIB index value that means "no index" (without REX.X): why `rsp` is no index.
pub const SIB_NO_INDEX: u8 = 0b100;

/// `mod = 00`: memory, no displacement.
const MOD_NO_DISP: u8 = 0b00;
/// `mod = 01`: memory, 8-bit displacement.
const MOD_DISP8: u8 = 0b01;
/// `mod = 10`: memory, 32-bit displacement.
const MOD_DISP32: u8 = 0b10;
/// `mod = 11`: register direct.
const MOD_REG: u8 = 0b11;

/// The operand bytes every form shares: what the ModRM `reg` field holds and the
/// `r/m` operand, plus the size and byte-register facts that decide the REX prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operands {
    /// REX.W: the operation is 64 bits wide.
    pub w: bool,
    /// The ModRM `reg` field: a register number (0–15) or an opcode extension (the
    /// `/digit` of the Intel manual, 0–7).
    pub reg: u8,
    /// The `r/m` operand.
    pub rm: Rm,
    /// Some register operand is an 8-bit `spl`/`bpl`/`sil`/`dil`, which exists only
    /// with a REX prefix (without one, the same numbers mean `ah`/`ch`/`dh`/`bh`).
    pub byte_reg_needs_rex: bool,
}

/// Writes `[REX] opcode ModRM [SIB] [disp]` for `ops` to `out`
/// (with [`CodeBuffer::byte`] and [`CodeBuffer::extend`]).
///
/// The opcode may be several bytes (`0F AF` for `imul`); the REX prefix goes before
/// all of them. Immediates, if any, are the caller's to write afterwards.
pub fn encode(out: &mut CodeBuffer, opcode: &[u8], ops: Operands) {
    todo!(
        "rex-modrm-sib: write the REX prefix, the opcode, ModRM, SIB and displacement of `ops` — book §2.3"
    )
}

/// The REX prefix `0100WRXB`.
pub const fn rex(w: bool, r: bool, x: bool, b: bool) -> u8 {
    0x40 | (w as u8) << 3 | (r as u8) << 2 | (x as u8) << 1 | b as u8
}

/// The ModRM byte `mod:2 reg:3 rm:3`.
pub const fn modrm(md: u8, reg: u8, rm: u8) -> u8 {
    md << 6 | (reg & 7) << 3 | (rm & 7)
}

/// The SIB byte `scale:2 index:3 base:3`.
pub const fn sib(scale: u8, index: u8, base: u8) -> u8 {
    scale << 6 | (index & 7) << 3 | (base & 7)
}
