//! Exhaustive differential tests against iced-x86: every register pair, every
//! base/index/scale with the displacements at their boundaries, immediates at their
//! width boundaries. Each encoding must decode to exactly one instruction of the same
//! length whose Intel text is the expected one.

use super::common::{assemble, decode_one, hex, mem_text, num, CC, R32, R64, R8};
use pretty_assertions::assert_eq;
use stage2::{AluOp, Assembler, BitOp, Cond, Imm32, IndexReg, Mem, Reg, Scale, ShiftOp};

/// Displacements at the edges of the disp8 and disp32 forms.
const DISPS: [i32; 9] = [0, 1, -1, 127, -128, 128, -129, i32::MIN, i32::MAX];
/// 32-bit immediates at the edges of the imm8 and imm32 forms.
const IMMS: [i32; 9] = [0, 1, -1, 127, -128, 128, -129, i32::MIN, i32::MAX];

/// Checks cases of (expected text, bytes): each must decode to one instruction of the
/// same length with the expected text. On failure, shows the first mismatch as a diff,
/// with the bytes, how many failed, and a few more. Returns the number of cases.
fn check(cases: impl IntoIterator<Item = (String, Vec<u8>)>) -> usize {
    let mut n = 0;
    let mut failures = Vec::new();
    for (text, bytes) in cases {
        n += 1;
        let decoded = decode_one(&bytes);
        if decoded != text {
            failures.push((text, decoded, hex(&bytes)));
        }
    }
    if let Some((want, got, bytes)) = failures.first() {
        let more: Vec<String> = failures[1..]
            .iter()
            .take(8)
            .map(|(w, g, b)| format!("  expected `{w}`, iced-x86 read `{g}` in {b}"))
            .collect();
        assert_eq!(
            want,
            got,
            "{} of {n} encodings differ from iced-x86; the first (left: expected, right: \
             what iced-x86 read in {bytes}), then more:\n{}",
            failures.len(),
            more.join("\n")
        );
    }
    n
}

/// Every memory operand of the sweep: each base, alone and with each index (never
/// rsp) at each scale, with each displacement.
fn all_mems() -> Vec<Mem> {
    let mut mems = Vec::new();
    for base in Reg::ALL {
        for disp in DISPS {
            mems.push(Mem::base_disp(base, disp));
            for index in IndexReg::ALL {
                for scale in Scale::ALL {
                    mems.push(Mem::sib(base, index, scale, disp));
                }
            }
        }
    }
    mems
}

const BITS: [(BitOp, &str); 3] = [(BitOp::Bt, "bt"), (BitOp::Bts, "bts"), (BitOp::Btr, "btr")];

const ALU: [(AluOp, &str); 6] = [
    (AluOp::Add, "add"),
    (AluOp::Or, "or"),
    (AluOp::And, "and"),
    (AluOp::Sub, "sub"),
    (AluOp::Xor, "xor"),
    (AluOp::Cmp, "cmp"),
];

#[test]
fn reg_reg_forms_every_pair() {
    let mut cases = Vec::new();
    for d in Reg::ALL {
        for s in Reg::ALL {
            let (d64, s64) = (R64[d as usize], R64[s as usize]);
            let (d32, s32) = (R32[d as usize], R32[s as usize]);
            let s8 = R8[s as usize];
            let cc = Cond::ALL[(d as usize + s as usize) % 16];
            let c = CC[cc as usize];
            cases.push((format!("mov {d64}, {s64}"), assemble(|a| a.mov(d, s))));
            cases.push((
                format!("mov {d32}, {s32}"),
                assemble(|a| a.mov(d.r32(), s.r32())),
            ));
            for (op, name) in ALU {
                cases.push((
                    format!("{name} {d64}, {s64}"),
                    assemble(|a| a.alu(op, d, s)),
                ));
                cases.push((
                    format!("{name} {d32}, {s32}"),
                    assemble(|a| a.alu(op, d.r32(), s.r32())),
                ));
            }
            cases.push((format!("test {d64}, {s64}"), assemble(|a| a.test(d, s))));
            cases.push((format!("imul {d64}, {s64}"), assemble(|a| a.imul(d, s))));
            cases.push((
                format!("imul {d32}, {s32}"),
                assemble(|a| a.imul(d.r32(), s.r32())),
            ));
            cases.push((
                format!("cmov{c} {d64}, {s64}"),
                assemble(|a| a.cmov(cc, d, s)),
            ));
            cases.push((
                format!("cmov{c} {d32}, {s32}"),
                assemble(|a| a.cmov(cc, d.r32(), s.r32())),
            ));
            cases.push((
                format!("movzx {d64}, {s8}"),
                assemble(|a| a.movzx(d, s.r8())),
            ));
            cases.push((
                format!("movzx {d32}, {s8}"),
                assemble(|a| a.movzx(d.r32(), s.r8())),
            ));
            for (op, name) in BITS {
                cases.push((
                    format!("{name} {d64}, {s64}"),
                    assemble(|a| a.bit_reg(op, d, s)),
                ));
            }
        }
    }
    assert_eq!(check(cases), 256 * 24);
}

#[test]
fn one_register_forms_every_register() {
    let mut cases = Vec::new();
    for r in Reg::ALL {
        let (r64, r32, r8) = (R64[r as usize], R32[r as usize], R8[r as usize]);
        cases.push((format!("neg {r64}"), assemble(|a| a.neg(r))));
        cases.push((format!("not {r64}"), assemble(|a| a.not(r))));
        cases.push((format!("idiv {r64}"), assemble(|a| a.idiv(r))));
        cases.push((format!("imul {r64}"), assemble(|a| a.imul_wide(r))));
        cases.push((format!("neg {r32}"), assemble(|a| a.neg(r.r32()))));
        cases.push((format!("idiv {r32}"), assemble(|a| a.idiv(r.r32()))));
        cases.push((format!("push {r64}"), assemble(|a| a.push(r))));
        cases.push((format!("pop {r64}"), assemble(|a| a.pop(r))));
        cases.push((format!("call {r64}"), assemble(|a| a.call_reg(r))));
        cases.push((format!("jmp {r64}"), assemble(|a| a.jmp_reg(r))));
        for (op, name) in [
            (ShiftOp::Shl, "shl"),
            (ShiftOp::Shr, "shr"),
            (ShiftOp::Sar, "sar"),
        ] {
            cases.push((format!("{name} {r64}, cl"), assemble(|a| a.shift_cl(op, r))));
            cases.push((
                format!("{name} {r32}, cl"),
                assemble(|a| a.shift_cl(op, r.r32())),
            ));
            // iced-x86 prints the count byte signed: 255 reads as -0x1.
            for count in [0u8, 1, 31, 63, 127, 128, 255] {
                cases.push((
                    format!("{name} {r64}, {}", num(count as i8 as i64)),
                    assemble(|a| a.shift(op, r, count)),
                ));
            }
        }
        for (op, name) in BITS {
            for bit in [0u8, 31, 63] {
                cases.push((
                    format!("{name} {r64}, {}", num(bit as i64)),
                    assemble(|a| a.bit(op, r, bit)),
                ));
                cases.push((
                    format!("{name} {r32}, {}", num(bit as i64)),
                    assemble(|a| a.bit(op, r.r32(), bit)),
                ));
            }
        }
        for cc in Cond::ALL {
            cases.push((
                format!("set{} {r8}", CC[cc as usize]),
                assemble(|a| a.setcc(cc, r.r8())),
            ));
        }
    }
    assert_eq!(check(cases), 16 * (10 + 3 * 9 + 3 * 6 + 16));
}

#[test]
fn immediates_at_width_boundaries() {
    let mut cases = Vec::new();
    for r in Reg::ALL {
        let (r64, r32) = (R64[r as usize], R32[r as usize]);
        for v in IMMS {
            let i = num(v as i64);
            for (op, name) in ALU {
                cases.push((
                    format!("{name} {r64}, {i}"),
                    assemble(|a| a.alu(op, r, Imm32(v))),
                ));
                cases.push((
                    format!("{name} {r32}, {i}"),
                    assemble(|a| a.alu(op, r.r32(), Imm32(v))),
                ));
            }
            cases.push((format!("mov {r64}, {i}"), assemble(|a| a.mov(r, Imm32(v)))));
            cases.push((
                format!("mov {r32}, {i}"),
                assemble(|a| a.mov(r.r32(), Imm32(v))),
            ));
            cases.push((
                format!("test {r64}, {i}"),
                assemble(|a| a.test(r, Imm32(v))),
            ));
            cases.push((
                format!("imul {r64}, {i}"),
                assemble(|a| a.imul(r, Imm32(v))),
            ));
        }
        for v in [0, 1, -1, i64::MAX, i64::MIN, 1 << 32, -(1 << 32)] {
            cases.push((
                format!("mov {r64}, {}", num(v)),
                assemble(|a| a.mov_imm64(r, v)),
            ));
        }
    }
    assert_eq!(check(cases), 16 * (9 * 16 + 7));
}

/// `mov_imm` picks the shortest form: 32-bit zero-extending for `0..=u32::MAX`,
/// 64-bit sign-extending imm32 for the other i32 values, `imm64` for the rest.
#[test]
fn mov_imm_picks_the_shortest_form() {
    let mut cases = Vec::new();
    for r in Reg::ALL {
        let rex = usize::from(r.is_extended());
        for v in [
            0,
            1,
            i32::MAX as i64,
            i32::MAX as i64 + 1,
            u32::MAX as i64,
            -1,
            i32::MIN as i64,
            u32::MAX as i64 + 1,
            i32::MIN as i64 - 1,
            i64::MAX,
            i64::MIN,
        ] {
            let (text, len) = if (0..=u32::MAX as i64).contains(&v) {
                (
                    format!("mov {}, {}", R32[r as usize], num(v as u32 as i32 as i64)),
                    5 + rex,
                )
            } else if i32::try_from(v).is_ok() {
                (format!("mov {}, {}", R64[r as usize], num(v)), 7)
            } else {
                (format!("mov {}, {}", R64[r as usize], num(v)), 10)
            };
            let bytes = assemble(|a| a.mov_imm(r, v));
            assert_eq!(bytes.len(), len, "length of mov_imm({r:?}, {v:#x})");
            cases.push((text, bytes));
        }
    }
    check(cases);
}

#[test]
fn memory_forms_every_base_index_scale_disp() {
    let mems = all_mems();
    assert_eq!(mems.len(), 16 * 9 * (1 + 15 * 4));
    let mut cases = Vec::new();
    for (k, &m) in mems.iter().enumerate() {
        // Rotate the register operand so its REX.R bit meets every base and index.
        let r = Reg::ALL[k % 16];
        let (r64, r32) = (R64[r as usize], R32[r as usize]);
        let mt = mem_text(m);
        let cc = Cond::ALL[k % 16];
        cases.push((
            format!("mov {r64}, qword ptr {mt}"),
            assemble(|a| a.mov(r, m)),
        ));
        cases.push((
            format!("mov {r32}, dword ptr {mt}"),
            assemble(|a| a.mov(r.r32(), m)),
        ));
        cases.push((
            format!("mov qword ptr {mt}, {r64}"),
            assemble(|a| a.mov_mr(m, r)),
        ));
        cases.push((
            format!("mov dword ptr {mt}, {r32}"),
            assemble(|a| a.mov_mr(m, r.r32())),
        ));
        let imm = IMMS[k % IMMS.len()];
        cases.push((
            format!("mov qword ptr {mt}, {}", num(imm as i64)),
            assemble(|a| a.mov_mi(m, Imm32(imm))),
        ));
        cases.push((
            format!("cmp qword ptr {mt}, {}", num(imm as i64)),
            assemble(|a| a.cmp_mi(m, Imm32(imm))),
        ));
        cases.push((format!("lea {r64}, {mt}"), assemble(|a| a.lea(r, m))));
        let (op, name) = ALU[k % ALU.len()];
        cases.push((
            format!("{name} {r64}, qword ptr {mt}"),
            assemble(|a| a.alu(op, r, m)),
        ));
        cases.push((
            format!("test qword ptr {mt}, {r64}"),
            assemble(|a| a.test(r, m)),
        ));
        cases.push((
            format!("imul {r64}, qword ptr {mt}"),
            assemble(|a| a.imul(r, m)),
        ));
        cases.push((
            format!("cmov{} {r64}, qword ptr {mt}", CC[cc as usize]),
            assemble(|a| a.cmov(cc, r, m)),
        ));
    }
    assert_eq!(check(cases), mems.len() * 11);
}

/// The encoder picks the shortest displacement: none, disp8, disp32, by value, and a
/// zero disp8 for the rbp/r13 bases; a SIB byte exactly when there is an index or the
/// base is rsp/r12.
#[test]
fn memory_forms_are_the_shortest() {
    for m in all_mems() {
        let low = m.base as u8 & 7;
        let disp_len = match m.disp {
            0 if low != 5 => 0,
            d if i8::try_from(d).is_ok() => 1,
            _ => 4,
        };
        let sib_len = usize::from(m.index.is_some() || low == 4);
        // REX.W 8B /r: rex + opcode + modrm.
        let len = assemble(|a| a.mov(Reg::RAX, m)).len();
        assert_eq!(
            len,
            3 + sib_len + disp_len,
            "length of mov rax, {}",
            mem_text(m)
        );
    }
}

/// All 16 conditions of `jcc`, forward (rel32) and backward (rel8).
#[test]
fn jcc_every_condition() {
    let mut cases = Vec::new();
    for cc in Cond::ALL {
        let c = CC[cc as usize];
        let fwd = assemble(|a: &mut Assembler| {
            let l = a.new_label();
            a.jcc(cc, l);
            a.bind(l);
        });
        cases.push((format!("j{c} 0x6"), fwd));
        let back = assemble(|a: &mut Assembler| {
            let l = a.new_label();
            a.bind(l);
            a.jcc(cc, l);
        });
        cases.push((format!("j{c} short 0x0"), back));
        assert_eq!(cc.invert().invert(), cc);
        assert_ne!(cc.invert(), cc);
    }
    check(cases);
}
