//! One lowering per IR instruction: operands from their locations (registers, slots
//! or immediates), the computation in the scratch registers, the result to its
//! location. Checks jump to the function's out-of-line stubs.

use stage1::value::{
    ARRAY_ELEMS_OFFSET, ARRAY_LEN_OFFSET, ARRAY_TAG, FUNCTION_SHIFT, FUNCTION_TAG, TAG_MASK,
};
use stage1::{ErrorKind, FnId};
use stage2::{Cond, Imm32, IndexReg, Label, Mem, Reg, Scale};
use stage3::context::{
    COMPILED_ENTRIES_OFFSET, FN_ENTRY_ARITY_OFFSET, FN_ENTRY_CODE_OFFSET, FN_ENTRY_SHIFT,
    FUNCTIONS_OFFSET,
};
use stage3::runtime;

use super::{FnGen, Opnd, ACC, TMP, TMP2};
use crate::deopt::GuardCheck;
use crate::ir::{BinOp, CmpOp, GuardKind, Inst, Magic, Op, Value};
use crate::objects::Operand;
use crate::regalloc::{moves, Loc, MoveSrc};

/// The condition under which compare `op` holds (signed: tagging keeps the order).
pub fn condition(op: CmpOp) -> Cond {
    match op {
        CmpOp::Lt => Cond::L,
        CmpOp::Le => Cond::LE,
        CmpOp::Gt => Cond::G,
        CmpOp::Ge => Cond::GE,
        CmpOp::Eq => Cond::E,
        CmpOp::Ne => Cond::NE,
    }
}

/// The tagged pointer's distance from the untagged one, for arrays.
const TAG: i32 = ARRAY_TAG as i32;

/// Constant indexes below this are displacements (`8k` fits 32 bits with room).
const MAX_CONST_INDEX: i64 = 1 << 24;

impl FnGen<'_> {
    /// Generates instruction `inst`.
    pub(super) fn gen_inst(&mut self, inst: Inst) {
        let op = self.f.inst(inst).op.clone();
        self.gen_op(inst, op);
    }

    /// Generates `op`, the operation of instruction `inst` (or of its guard).
    fn gen_op(&mut self, inst: Inst, op: Op) {
        match op {
            // Constants live nowhere: their uses take them as immediates.
            Op::Const(_) | Op::FuncRef(_) => {}
            Op::CheckInt(x) => self.gen_check_int(inst, x),
            Op::CheckArray(x) => self.gen_check_array(inst, x),
            Op::Binary(BinOp::Add, a, b) => self.gen_add_sub(inst, a, b, false),
            Op::Binary(BinOp::Sub, a, b) => self.gen_add_sub(inst, a, b, true),
            Op::Binary(BinOp::Mul, a, b) => self.gen_mul(inst, a, b),
            Op::Binary(BinOp::Div, a, b) => self.gen_div_mod(inst, a, b, true),
            Op::Binary(BinOp::Mod, a, b) => self.gen_div_mod(inst, a, b, false),
            Op::Neg(a) => {
                let overflow = self.error(ErrorKind::IntegerOverflow, inst);
                self.load(ACC, a);
                self.asm.neg(ACC);
                self.asm.jcc(Cond::O, overflow);
                self.store_result(inst, ACC);
            }
            Op::Not(a) => {
                self.gen_test(a);
                self.flags_to_bool(Cond::E);
                self.store_result(inst, ACC);
            }
            Op::Compare(op, a, b) => {
                self.gen_cmp(a, b);
                self.flags_to_bool(condition(op));
                self.store_result(inst, ACC);
            }
            Op::NewArray(values) => {
                self.write_outgoing(&values);
                self.asm.lea(Reg::RSI, Self::outgoing_first(values.len()));
                self.asm.mov_imm(Reg::RDX, values.len() as i64);
                self.call_helper(inst, &[], runtime::rt_new_array as *const () as u64);
            }
            Op::NewArrayFill(v, n) => self.call_helper(
                inst,
                &[(Reg::RSI, Some(v)), (Reg::RDX, Some(n))],
                runtime::rt_new_array_fill as *const () as u64,
            ),
            Op::NewObject => {
                self.call_helper(inst, &[], runtime::rt_new_object as *const () as u64)
            }
            Op::GetField(o, k) => {
                let site = self.site(inst);
                self.call_helper_with(
                    inst,
                    &[(Reg::RSI, Some(o))],
                    &[(Reg::RDX, k as i64), (Reg::RCX, site as i64)],
                    runtime::rt_get_field as *const () as u64,
                );
            }
            Op::SetField(o, k, v) => {
                let site = self.site(inst);
                self.call_helper_with(
                    inst,
                    &[(Reg::RSI, Some(o)), (Reg::RCX, Some(v))],
                    &[(Reg::RDX, k as i64), (Reg::R8, site as i64)],
                    runtime::rt_set_field as *const () as u64,
                );
            }
            Op::Print(v) => self.call_helper(
                inst,
                &[(Reg::RSI, Some(v))],
                runtime::rt_print as *const () as u64,
            ),
            Op::ArrayLen(a) => {
                let base = self.array_reg(a);
                self.check_array(inst, a, base);
                let dst = self.result_reg(inst, &[]);
                self.asm
                    .mov(dst, Mem::base_disp(base, ARRAY_LEN_OFFSET - TAG));
                self.asm.add(dst, dst);
                self.store_result(inst, dst);
            }
            Op::ArrayGet(a, i) => {
                let element = self.gen_element(inst, a, i);
                let dst = self.result_reg(inst, &[]);
                self.asm.mov(dst, element);
                self.store_result(inst, dst);
            }
            Op::ArraySet(a, i, v) => {
                let element = self.gen_element(inst, a, i);
                self.store_value_through(element, v, TMP2);
            }
            Op::LoadElement(a, i) => {
                let element = self.element_in_bounds(a, i);
                let dst = self.result_reg(inst, &[]);
                self.asm.mov(dst, element);
                self.store_result(inst, dst);
            }
            Op::StoreElement(a, i, v) => {
                let element = self.element_in_bounds(a, i);
                self.store_value_through(element, v, TMP2);
            }
            Op::Min(a, b) => {
                // On the tagged words: tagging keeps the order.
                let dst = self.result_reg(inst, &[b]);
                self.load(dst, a);
                // `cmov` takes no immediate.
                if let Opnd::Imm(w) = self.opnd(b) {
                    self.asm.mov_imm(TMP, w);
                    self.asm.cmp(dst, TMP);
                    self.asm.cmov(Cond::G, dst, TMP);
                } else {
                    let src = self.rmi(b, TMP);
                    self.asm.cmp(dst, src);
                    match self.opnd(b) {
                        Opnd::Reg(r) => self.asm.cmov(Cond::G, dst, r),
                        Opnd::Mem(m) => self.asm.cmov(Cond::G, dst, m),
                        Opnd::Imm(_) => unreachable!("handled above"),
                    }
                }
                self.store_result(inst, dst);
            }
            Op::Enter => {
                // An inlined call's prologue: a frame from the limit (`stack
                // overflow` at the call when none is left), the call counted.
                if !self.frames.counted {
                    let overflow = self.error(ErrorKind::StackOverflow, inst);
                    self.asm.sub(stage3::codegen::FRAMES_LEFT, Imm32(1));
                    self.asm.jcc(Cond::B, overflow);
                } else if self.frames.budget.is_none() {
                    // `d` inlined frames live (not taken from `FRAMES_LEFT`, see
                    // `InlinedFrames`): overflow when no more than `d` are left.
                    let overflow = self.error(ErrorKind::StackOverflow, inst);
                    let overflow = self.counted_exit(overflow);
                    let live = self.depths[self.f.inst(inst).frame as usize];
                    self.asm
                        .cmp(stage3::codegen::FRAMES_LEFT, Imm32(live as i32));
                    self.asm.jcc(Cond::BE, overflow);
                }
                if self.frames.counted {
                    // Counted later, with others (see `InlinedFrames::pending`).
                    self.frames.pending += 1;
                } else {
                    self.asm.add(stage3::codegen::CALLS, Imm32(1));
                }
            }
            Op::Leave => {
                if !self.frames.counted {
                    self.asm.add(stage3::codegen::FRAMES_LEFT, Imm32(1));
                }
            }
            // A frame state for the late passes (stage 7): no code.
            Op::Checkpoint(_) => {}
            Op::Guard(guard) => self.gen_guard(inst, &guard),
            Op::Call { func, args } => {
                self.call_known(func, &args, false);
                self.check_error_result(inst);
                self.store_result(inst, ACC);
            }
            Op::CallValue { callee, args } => self.gen_call_value(inst, callee, &args),
            Op::Shl(x, k) => {
                // (2x) * 2^k with imul, whose overflow flag is the 63-bit overflow.
                let overflow = self.error(ErrorKind::IntegerOverflow, inst);
                let dst = self.result_reg(inst, &[]);
                self.load(dst, x);
                self.imul_const(dst, 1i64 << k);
                self.asm.jcc(Cond::O, overflow);
                self.store_result(inst, dst);
            }
            Op::Sar(x, k) => {
                // (2x) >> (k + 1) is floor(x / 2^k); past 62 it is the sign, 0 or -1.
                let dst = self.result_reg(inst, &[]);
                self.load(dst, x);
                self.asm.sar(dst, (k + 1).min(63) as u8);
                self.asm.add(dst, dst);
                self.store_result(inst, dst);
            }
            Op::And(x, m) => {
                // (2x) & (2m) = 2(x & m).
                self.load(ACC, x);
                match i32::try_from(m << 1) {
                    Ok(imm) => self.asm.and(ACC, Imm32(imm)),
                    Err(_) => {
                        self.asm.mov_imm(TMP, m << 1);
                        self.asm.and(ACC, TMP);
                    }
                }
                self.store_result(inst, ACC);
            }
            Op::MagicDiv(x, magic) => self.gen_magic_div(inst, x, magic),
            Op::IAdd(a, b) => {
                let dst = self.result_reg(inst, &[b]);
                self.load(dst, a);
                let src = self.rmi(b, TMP);
                self.asm.add(dst, src);
                self.store_result(inst, dst);
            }
            Op::ISub(a, b) => {
                let dst = self.result_reg(inst, &[b]);
                self.load(dst, a);
                let src = self.rmi(b, TMP);
                self.asm.sub(dst, src);
                self.store_result(inst, dst);
            }
            Op::IMul(x, c) => {
                // (2x) * c = 2xc: the tagged word times the plain constant.
                let dst = self.result_reg(inst, &[]);
                self.load(dst, x);
                self.imul_const(dst, c);
                self.store_result(inst, dst);
            }
        }
    }

    /// `div_magic`/`mod_magic x, d`: the magic-number quotient or remainder on the
    /// tagged word `2x` itself, the quotient a plain word in `TMP` and never tagged
    /// for the remainder (`passes::strength::magic_word` is this sequence, step for
    /// step, and its property tests check it). The remainder's sign fix is applied
    /// to the dividend, off the path through the multiplies.
    fn gen_magic_div(&mut self, inst: Inst, x: Value, magic: Magic) {
        let (m, s) = crate::passes::strength::magic(magic.divisor as u64);
        let d2 = 2 * magic.divisor; // < 2^63: `d` is no power of two
                                    // rdx = the high word of (2x) * m, floor(x * m / 2^63): no untagging.
        self.load(ACC, x);
        self.asm.mov_imm(TMP2, m);
        self.asm.imul_wide(TMP2);
        // q = floor(x * m / 2^(62+s)) (s >= 2), untagged; for a negative x, one
        // less than the quotient.
        self.asm.sar(TMP, (s - 1) as u8);
        if !magic.remainder {
            if !magic.nonneg {
                // One more for a negative x: minus its sign mask (0 or -1).
                self.load(TMP2, x);
                self.asm.sar(TMP2, 63);
                self.asm.sub(TMP, TMP2);
            }
            // The quotient, tagged: the division's one tag operation.
            self.asm.add(TMP, TMP);
            self.store_result(inst, TMP);
            return;
        }
        // 2x - q * 2d = 2(x - qd): the remainder, tagged.
        match i32::try_from(d2) {
            Ok(imm) => self.asm.imul(TMP, Imm32(imm)),
            Err(_) => {
                self.asm.mov_imm(TMP2, d2);
                self.asm.imul(TMP, TMP2);
            }
        }
        if !magic.nonneg {
            // (q + 1) * 2d for a negative x is q * 2d + 2d: subtract 2d from the
            // dividend instead, (sign mask) & -2d, which does not wait for q.
            self.load(TMP2, x);
            self.asm.sar(TMP2, 63);
            match i32::try_from(-d2) {
                Ok(imm) => self.asm.and(TMP2, Imm32(imm)),
                Err(_) => {
                    self.asm.mov_imm(ACC, -d2);
                    self.asm.and(TMP2, ACC);
                }
            }
        }
        let dst = self.result_reg(inst, &[]);
        self.load(dst, x);
        if !magic.nonneg {
            self.asm.add(dst, TMP2);
        }
        self.asm.sub(dst, TMP);
        self.store_result(inst, dst);
    }

    /// The flags of `a` compared with 0 (`ZF` set when it is 0).
    pub(super) fn gen_test(&mut self, a: Value) {
        match self.opnd(a) {
            Opnd::Reg(r) => self.asm.test(r, r),
            Opnd::Mem(m) => self.asm.cmp_mi(m, Imm32(0)),
            Opnd::Imm(_) => {
                self.load(ACC, a);
                self.asm.test(ACC, ACC);
            }
        }
    }

    /// `dst *= c`, an immediate when it fits 32 bits; `OF` is set on overflow.
    fn imul_const(&mut self, dst: Reg, c: i64) {
        match i32::try_from(c) {
            Ok(imm) => self.asm.imul(dst, Imm32(imm)),
            Err(_) => {
                self.asm.mov_imm(TMP, c);
                self.asm.imul(dst, TMP);
            }
        }
    }

    /// The register to compute `inst`'s result in: its own register when it has one
    /// that none of `keep` (operands still to be read) is in, else `ACC`. Writing it
    /// early is safe: the only values that end where the result starts are the
    /// instruction's operands.
    fn result_reg(&self, inst: Inst, keep: &[Value]) -> Reg {
        let Some(v) = self.f.inst(inst).result else {
            return ACC;
        };
        let Some(Loc::Reg(r)) = self.alloc.locs[v.index()] else {
            return ACC;
        };
        if keep.iter().any(|&k| self.opnd(k) == Opnd::Reg(r)) {
            return ACC;
        }
        if self.deopt_to.is_some() {
            // A guard's result may share a register with a value of its frame state,
            // which its deopt exit still reads: then it is computed in `ACC` and
            // written after the checks. (The exit reads nothing else: a register no
            // state value is in may be written before them, an operand's included.)
            // An operand of an `add` or `sub` may be overwritten: its deopt stub undoes
            // the operation first (`regalloc::liveness::undone_in_place`).
            let op = &self.f.inst(inst).op;
            let undone = |a| crate::regalloc::liveness::undone_in_place(op, a);
            let mut shared = false;
            if let Op::Guard(guard) = op {
                guard
                    .state
                    .for_each_value(|a| shared |= !undone(a) && self.opnd(a) == Opnd::Reg(r));
            }
            if shared {
                return ACC;
            }
        }
        r
    }

    /// `rax = cond ? 1 : 0`, tagged, from the flags.
    fn flags_to_bool(&mut self, cond: Cond) {
        self.asm.setcc(cond, ACC.r8());
        self.asm.movzx(ACC.r32(), ACC.r8());
        self.asm.add(ACC.r32(), ACC.r32());
    }

    /// `check_int x`: `type error` unless the tag bit is clear; the result is `x`.
    fn gen_check_int(&mut self, inst: Inst, x: Value) {
        match self.opnd(x) {
            Opnd::Imm(w) if w & 1 == 0 => {}
            Opnd::Imm(_) => {
                let type_error = self.error(ErrorKind::TypeError, inst);
                self.asm.jmp(type_error);
                return;
            }
            Opnd::Reg(r) => {
                let type_error = self.error(ErrorKind::TypeError, inst);
                self.asm.test(r.r32(), Imm32(1));
                self.asm.jcc(Cond::NE, type_error);
            }
            Opnd::Mem(m) => {
                let type_error = self.error(ErrorKind::TypeError, inst);
                self.asm.mov(ACC, m);
                self.asm.test(ACC.r32(), Imm32(1));
                self.asm.jcc(Cond::NE, type_error);
            }
        }
        let result = self.f.inst(inst).result.expect("check_int gives a value");
        if let Some(dst) = self.alloc.locs[result.index()] {
            if self.opnd(result) != self.opnd(x) {
                let src = match self.opnd(x) {
                    Opnd::Imm(w) => MoveSrc::Const(w),
                    _ => MoveSrc::Loc(self.alloc.loc(x)),
                };
                self.emit_move(moves::Move { src, dst });
            }
        }
    }

    /// `check_array x`: `type error` unless `x` is an array; the result is `x`.
    fn gen_check_array(&mut self, inst: Inst, x: Value) {
        if let Opnd::Imm(_) = self.opnd(x) {
            // An integer constant is never an array.
            let type_error = self.error(ErrorKind::TypeError, inst);
            self.asm.jmp(type_error);
            return;
        }
        let reg = self.array_reg(x);
        self.check_array(inst, x, reg);
        let result = self.f.inst(inst).result.expect("check_array gives a value");
        if let Some(dst) = self.alloc.locs[result.index()] {
            if self.opnd(result) != self.opnd(x) {
                self.emit_move(moves::Move {
                    src: MoveSrc::Loc(self.alloc.loc(x)),
                    dst,
                });
            }
        }
    }

    /// `add`/`sub` on the tagged words, `jo` to `integer overflow`.
    fn gen_add_sub(&mut self, inst: Inst, a: Value, b: Value, subtract: bool) {
        todo!(
            "lower-add: the operation on the tagged words in ACC (b as a register, slot or immediate), jump out on overflow, the result to its location — book §4.29"
        )
    }

    /// `mul`: `(2a) * b = 2ab`: one side untagged (a constant at compile time).
    fn gen_mul(&mut self, inst: Inst, a: Value, b: Value) {
        let overflow = self.error(ErrorKind::IntegerOverflow, inst);
        let (a, b) = if matches!(self.opnd(a), Opnd::Imm(_)) {
            (b, a)
        } else {
            (a, b)
        };
        match self.opnd(b) {
            Opnd::Imm(w) if i32::try_from(w >> 1).is_ok() => {
                let dst = self.guarded_mul_reg(inst, a);
                self.load(dst, a);
                self.asm.imul(dst, Imm32((w >> 1) as i32));
                self.asm.jcc(Cond::O, overflow);
                self.store_result(inst, dst);
                return;
            }
            _ => {
                // `b` untagged in TMP first: the result's register may then be `b`'s.
                let check = self
                    .prev_inst
                    .and_then(|check| Some((check, self.check_fused_into_mul(check, inst)?)));
                match check {
                    Some((check, x)) => {
                        // `b` is `check_int x` (or `guard int x`: then its deopt
                        // stub), made here: the bit shifted out is the tag.
                        let type_error = match self.f.inst(check).op {
                            Op::Guard(_) => self.guard_exit(check),
                            _ => self.error(ErrorKind::TypeError, check),
                        };
                        self.load(TMP, x);
                        self.asm.sar(TMP, 1);
                        self.asm.jcc(Cond::B, type_error);
                    }
                    None => {
                        self.load(TMP, b);
                        self.asm.sar(TMP, 1);
                    }
                }
            }
        }
        let dst = self.guarded_mul_reg(inst, a);
        // A guard's right operand overwritten by the product: it is in `TMP`,
        // untagged, and the deopt stub tags it back (`undone_in_place`).
        let overflow = if self.deopt_to.is_some() && self.opnd(b) == Opnd::Reg(dst) {
            self.retag_stub(dst, overflow)
        } else {
            overflow
        };
        self.load(dst, a);
        self.asm.imul(dst, TMP);
        self.asm.jcc(Cond::O, overflow);
        self.store_result(inst, dst);
    }

    /// The register a `mul` computes its product in, its left operand `a` loaded
    /// there first (the operands as `gen_mul` ordered them): the result's. But a
    /// guard's deopt stub gives back only the right operand of the instruction
    /// (`undone_in_place`): when a constant made `gen_mul` swap them, the result's
    /// register may be `a`'s, which the state still needs, and the product is made
    /// in `ACC` instead.
    fn guarded_mul_reg(&mut self, inst: Inst, a: Value) -> Reg {
        let dst = self.result_reg(inst, &[]);
        if self.deopt_to.is_some() && self.opnd(a) == Opnd::Reg(dst) {
            ACC
        } else {
            dst
        }
    }

    /// `div`/`mod` (`quotient`): untag both, `division by zero` for 0, `-1` apart
    /// (its quotient `-a` is the one that can outgrow 63 bits), `idiv`, retag. A
    /// constant divisor needs only the checks it can fail.
    fn gen_div_mod(&mut self, inst: Inst, a: Value, b: Value, quotient: bool) {
        let zero = self.error(ErrorKind::DivisionByZero, inst);
        let overflow = self.error(ErrorKind::IntegerOverflow, inst);
        let divisor = match self.opnd(b) {
            Opnd::Imm(w) => Some(w >> 1),
            _ => None,
        };
        match divisor {
            Some(0) => {
                self.asm.jmp(zero);
                return;
            }
            Some(-1) => {
                if quotient {
                    // -a on the tagged word: overflows exactly for MIN.
                    self.load(ACC, a);
                    self.asm.neg(ACC);
                    self.asm.jcc(Cond::O, overflow);
                } else {
                    self.asm.mov(ACC.r32(), Imm32(0));
                }
                self.store_result(inst, ACC);
                return;
            }
            Some(n) => {
                self.load(ACC, a);
                self.asm.sar(ACC, 1);
                self.asm.mov_imm(TMP2, n);
                self.asm.cqo();
                self.asm.idiv(TMP2);
                if !quotient {
                    self.asm.mov(ACC, TMP);
                }
                self.asm.add(ACC, ACC);
                self.store_result(inst, ACC);
                return;
            }
            None => {}
        }
        let minus_one = self.asm.new_label();
        let done = self.asm.new_label();
        self.load(TMP2, b);
        self.load(ACC, a);
        self.asm.sar(ACC, 1);
        self.asm.sar(TMP2, 1);
        self.asm.test(TMP2, TMP2);
        self.asm.jcc(Cond::E, zero);
        self.asm.cmp(TMP2, Imm32(-1));
        self.asm.jcc(Cond::E, minus_one);
        self.asm.cqo();
        self.asm.idiv(TMP2);
        if !quotient {
            self.asm.mov(ACC, TMP);
        }
        // |a / b| <= |a| and |a % b| < |b|: retagging cannot overflow here.
        self.asm.add(ACC, ACC);
        self.asm.jmp(done);
        self.asm.bind(minus_one);
        if quotient {
            self.asm.neg(ACC);
            self.asm.add(ACC, ACC);
            self.asm.jcc(Cond::O, overflow);
        } else {
            self.asm.mov(ACC.r32(), Imm32(0));
        }
        self.asm.bind(done);
        self.store_result(inst, ACC);
    }

    /// The register holding array `a`: its own, or `ACC` loaded with it.
    fn array_reg(&mut self, a: Value) -> Reg {
        match self.opnd(a) {
            Opnd::Reg(r) => r,
            _ => {
                self.load(ACC, a);
                ACC
            }
        }
    }

    /// Jumps to a `type error` unless `reg`, holding `a`, holds an array (`reg - TAG`
    /// has its tag bits clear: one `lea` and a `test` that fuses with its jump); no
    /// code when `a` is known to be one (`passes::is_array`: made as an array, or
    /// checked by a `check_array`).
    fn check_array(&mut self, inst: Inst, a: Value, reg: Reg) {
        if crate::passes::is_array(self.f, a) {
            return;
        }
        let type_error = self.error(ErrorKind::TypeError, inst);
        // In `TMP2`: `TMP` may hold an untagged index the access reuses.
        self.asm.lea(TMP2, Mem::base_disp(reg, -TAG));
        self.asm.test(TMP2.r32(), Imm32(TAG_MASK as i32));
        self.asm.jcc(Cond::NE, type_error);
    }

    /// Checks `a[i]` (`type error` for `a`, then for `i`, then `index out of
    /// bounds`) and gives the element's address: through `a`'s own register (or
    /// `ACC`), and a constant index as a displacement or the untagged index in `rdx`.
    /// An index known to be an integer needs no tag test.
    fn gen_element(&mut self, inst: Inst, a: Value, i: Value) -> Mem {
        let base = self.array_reg(a);
        self.check_array(inst, a, base);
        let bounds = self.error(ErrorKind::IndexOutOfBounds, inst);
        let len = Mem::base_disp(base, ARRAY_LEN_OFFSET - TAG);
        match self.opnd(i) {
            // A small constant index: `len <= k` (unsigned) is out of bounds.
            Opnd::Imm(w) if w & 1 == 0 && (0..MAX_CONST_INDEX).contains(&(w >> 1)) => {
                let k = (w >> 1) as i32;
                self.asm.cmp_mi(len, Imm32(k));
                self.asm.jcc(Cond::BE, bounds);
                return Mem::base_disp(base, ARRAY_ELEMS_OFFSET - TAG + 8 * k);
            }
            Opnd::Imm(w) if w & 1 == 0 => {
                self.asm.mov_imm(TMP, w >> 1);
                self.untagged = None;
            }
            // The access before this one (with nothing between) had the same index:
            // `TMP` holds it untagged, and it was checked there.
            _ if self.untagged == Some(i) => {}
            _ => {
                self.load(TMP, i);
                if !self.ints[i.index()] {
                    let type_error = self.error(ErrorKind::TypeError, inst);
                    self.asm.test(TMP.r32(), Imm32(1));
                    self.asm.jcc(Cond::NE, type_error);
                }
                self.asm.sar(TMP, 1);
                self.untagged = Some(i);
            }
        }
        // Unsigned: a negative index is huge, out of bounds like any other.
        self.asm.cmp(TMP, len);
        self.asm.jcc(Cond::AE, bounds);
        Mem::sib(base, IndexReg::RDX, Scale::S8, ARRAY_ELEMS_OFFSET - TAG)
    }

    /// The address of element `i` of array `a`, an access proved in bounds (`rce`):
    /// no check. A tagged index is twice the integer, so it addresses the element
    /// scaled by 4 with no untagging.
    fn element_in_bounds(&mut self, a: Value, i: Value) -> Mem {
        let base = self.array_reg(a);
        let elems = ARRAY_ELEMS_OFFSET - TAG;
        match self.opnd(i) {
            Opnd::Imm(w) if (0..MAX_CONST_INDEX).contains(&(w >> 1)) => {
                Mem::base_disp(base, elems + 4 * w as i32)
            }
            Opnd::Reg(r) => {
                let index = IndexReg::try_from(r).expect("an allocatable register indexes");
                Mem::sib(base, index, Scale::S4, elems)
            }
            _ => {
                self.load(TMP, i);
                self.untagged = None;
                Mem::sib(base, IndexReg::RDX, Scale::S4, elems)
            }
        }
    }

    /// The address of the first of `n` outgoing words (argument `k` is 8k below).
    fn outgoing_first(n: usize) -> Mem {
        Mem::base_disp(Reg::RSP, 8 * (n as i32 - 1))
    }

    /// Writes `values` to the outgoing area, the first at the highest address.
    fn write_outgoing(&mut self, values: &[Value]) {
        let n = values.len() as i32;
        for (k, &v) in values.iter().enumerate() {
            self.store_value(Mem::base_disp(Reg::RSP, 8 * (n - 1 - k as i32)), v);
        }
    }

    /// Calls runtime helper `helper` with the context in `rdi` and `args` in their
    /// registers (one parallel move: an argument may sit in another's register),
    /// leaves on the error word, and stores the result.
    fn call_helper(&mut self, inst: Inst, args: &[(Reg, Option<Value>)], helper: u64) {
        self.call_helper_with(inst, args, &[], helper);
    }

    /// [`FnGen::call_helper`] with constant arguments too (`consts`), set by the same
    /// parallel move, so that no constant overwrites a value before it is read.
    fn call_helper_with(
        &mut self,
        inst: Inst,
        args: &[(Reg, Option<Value>)],
        consts: &[(Reg, i64)],
        helper: u64,
    ) {
        let mut parallel: Vec<(MoveSrc, Loc)> =
            vec![(MoveSrc::Loc(Loc::Reg(super::CTX)), Loc::Reg(Reg::RDI))];
        for &(reg, v) in args {
            let Some(v) = v else { continue };
            parallel.push((self.move_src(v), Loc::Reg(reg)));
        }
        for &(reg, k) in consts {
            parallel.push((MoveSrc::Const(k), Loc::Reg(reg)));
        }
        for m in moves::sequence(&parallel, TMP2) {
            self.emit_move(m);
        }
        self.asm.call_abs(helper);
        self.check_error_result(inst);
        self.store_result(inst, ACC);
    }

    /// The site of `inst`, an object instruction (see [`stage1::objects::Sites`]).
    fn site(&self, inst: Inst) -> u32 {
        self.sites
            .of(self.func_of(inst), self.f.inst(inst).pc as usize)
            .expect("every object instruction is a site")
    }

    /// A call of the known function `func` with `args`: an optimized callee of the
    /// same code through its fast entry, and in a tiered run any callee through the
    /// compiled-entry table ([`super::Entry::compiled_calls`]), the arguments in
    /// registers; any other through the linkage, the arguments in the outgoing area
    /// (written here unless `written` already).
    fn call_known(&mut self, func: FnId, args: &[Value], written: bool) {
        let fast = self.fast_entry(func);
        let registers = args.len() <= super::ARG_REGS.len();
        if fast.is_some() || (self.compiled_calls && registers) {
            let parallel: Vec<(MoveSrc, Loc)> = args
                .iter()
                .enumerate()
                .map(|(k, &v)| (self.move_src(v), Loc::Reg(super::ARG_REGS[k])))
                .collect();
            for m in moves::sequence(&parallel, TMP2) {
                self.emit_move(m);
            }
            match fast {
                Some(fast) => self.asm.call(fast),
                None => {
                    // The callee's fast entry once it is optimized, else its adapter:
                    // the table says which, as the callee moves from tier to tier.
                    self.asm
                        .mov(ACC, Mem::base_disp(super::CTX, COMPILED_ENTRIES_OFFSET));
                    match i32::try_from(8 * i64::from(func)) {
                        Ok(disp) => self.asm.call_mem(Mem::base_disp(ACC, disp)),
                        Err(_) => {
                            self.asm.mov_imm(TMP2, 8 * i64::from(func));
                            self.asm.add(ACC, TMP2);
                            self.asm.call_mem(Mem::base(ACC));
                        }
                    }
                }
            }
        } else {
            if !written {
                self.write_outgoing(args);
            }
            self.asm.lea(Reg::RDI, Self::outgoing_first(args.len()));
            self.linkage.call(self.asm, func, ACC);
        }
    }

    /// Where a move reads `v`: its location, or its constant word.
    fn move_src(&self, v: Value) -> MoveSrc {
        match self.opnd(v) {
            Opnd::Imm(w) => MoveSrc::Const(w),
            _ => MoveSrc::Loc(self.alloc.loc(v)),
        }
    }

    /// A guard (stage 7): its check, failing to its deopt stub (see
    /// [`crate::deopt`]). `GuardKind::Op` is the instruction itself with each of its
    /// failures sent there instead of its error; one that calls out (its errors come
    /// back from the call, after the call's effects) is the plain instruction, whose
    /// errors raise as the interpreter's would, and a field access with an object
    /// lowering is its fast path alone ([`Self::gen_object_fast_path`]).
    fn gen_guard(&mut self, inst: Inst, guard: &crate::ir::Guard) {
        let exit = self.guard_exit(inst);
        match &guard.kind {
            GuardKind::Cond(v, expected) if self.cond_compare.is_some_and(|c| c.1 == *v) => {
                let (compare, _, _) = self.cond_compare.take().expect("checked above");
                // `cc` holds when the compare gives 1.
                let cc = match self.f.inst(compare).op.clone() {
                    Op::Compare(op, a, b) => {
                        self.gen_cmp(a, b);
                        condition(op)
                    }
                    Op::Not(a) => {
                        self.gen_test(a);
                        Cond::E
                    }
                    _ => unreachable!("guard_takes_along takes a compare or a not"),
                };
                self.asm.jcc(if *expected { cc.invert() } else { cc }, exit);
            }
            GuardKind::Op(op) if op.is_call() => self.gen_op(inst, op.clone()),
            GuardKind::Op(op) => {
                self.deopt_to = Some(exit);
                self.gen_op(inst, op.clone());
                self.deopt_to = None;
            }
            kind => self.gen_guard_check(inst, kind, exit),
        }
    }

    /// The check of a guard of kind `Int`, `Cond` or `Callee`, jumping to `exit`
    /// when it fails: its operand placed, the check itself the deoptimizer's
    /// ([`crate::deopt::Deoptimizer::guard_check`]), then an `Int` guard's result.
    fn gen_guard_check(&mut self, inst: Inst, kind: &GuardKind, exit: Label) {
        let check = match *kind {
            GuardKind::Int(v) => GuardCheck::Int(self.operand_reg(v, ACC)),
            GuardKind::Cond(v, expected) => GuardCheck::Cond(self.operand(v), expected),
            GuardKind::Callee(v, func) => GuardCheck::Callee(self.operand_reg(v, ACC), func),
            GuardKind::Op(_) => unreachable!("an instruction's guard is its code"),
        };
        let deoptimizer = self
            .deoptimizer
            .expect("guards are generated with a deoptimizer");
        deoptimizer.guard_check(self.asm, check, exit);
        if let GuardCheck::Int(reg) = check {
            self.store_result(inst, reg);
        }
    }

    /// The fast path of object instruction `inst` from the object lowering (see
    /// [`crate::objects`]), when it gives one: emitted here, its hit falling through to
    /// the result's store, its miss jumping to the runtime call, which goes out of line
    /// ([`super::SlowPath`]) with the saves of the registers live across it. False
    /// when there is none (then `inst` is generated as usual). A guarded field access
    /// always has one: with no case, the jump to its deopt stub alone.
    pub(super) fn gen_object_fast_path(&mut self, inst: Inst) -> bool {
        let (op, guarded) = match &self.f.inst(inst).op {
            // A guarded field access (stage 7): the fast path, its miss the guard's
            // deopt stub, no runtime call.
            Op::Guard(guard) => match &guard.kind {
                GuardKind::Op(op @ (Op::GetField(..) | Op::SetField(..))) => (op.clone(), true),
                _ => return false,
            },
            op => (op.clone(), false),
        };
        if !matches!(
            op,
            Op::GetField(..)
                | Op::SetField(..)
                | Op::NewObject
                | Op::NewArray(..)
                | Op::NewArrayFill(..)
        ) {
            return false;
        }
        let Some(objects) = self.objects else {
            return false;
        };
        let lowering = objects.lowering;
        let miss = if guarded {
            self.guard_exit(inst)
        } else {
            self.asm.new_label()
        };
        // A guarded access of one case whose object an earlier one left in that
        // case's shape: no check (see `FnGen::shapes`).
        let shapes = match op {
            Op::GetField(..) | Op::SetField(..) if guarded => lowering.monomorphic(self.site(inst)),
            _ => None,
        };
        let accessed = match op {
            Op::GetField(o, _) | Op::SetField(o, ..) => Some(o),
            _ => None,
        };
        let known = |o: Value, this: &Self| {
            shapes.is_some_and(|(before, _)| this.shapes.contains(&(o, before)))
        };
        let emitted = match op {
            Op::GetField(o, _) if known(o, self) => {
                let site = self.site(inst);
                let obj = self.operand_reg(o, TMP);
                lowering.get_field_known(self.asm, site, obj, miss)
            }
            Op::SetField(o, _, v) if known(o, self) => {
                let site = self.site(inst);
                let obj = self.operand_reg(o, TMP);
                let value = self.operand_reg(v, TMP2);
                lowering.set_field_known(self.asm, site, obj, value, miss)
            }
            Op::GetField(o, _) => {
                let site = self.site(inst);
                let checked = self.objects_seen.contains(&o);
                let obj = self.operand_reg(o, TMP);
                lowering.get_field(self.asm, site, obj, checked, miss)
            }
            Op::SetField(o, _, v) => {
                let site = self.site(inst);
                let checked = self.objects_seen.contains(&o);
                let obj = self.operand_reg(o, TMP);
                let value = self.operand_reg(v, TMP2);
                lowering.set_field(self.asm, site, obj, value, checked, miss)
            }
            Op::NewObject => lowering.new_object(self.asm, miss),
            Op::NewArray(values) => {
                let elements: Vec<Operand> = values.iter().map(|&v| self.operand(v)).collect();
                lowering.new_array(self.asm, &elements, miss)
            }
            Op::NewArrayFill(v, n) => {
                let (value, n) = (self.operand(v), self.operand(n));
                lowering.new_array_fill(self.asm, value, n, miss)
            }
            _ => false,
        };
        if !emitted && guarded {
            // A bet on an empty cache: that the access is not reached. Reaching it
            // deoptimizes, and the interpreter does the access (and fills the cache).
            self.rename_guard(inst, crate::ir::NO_FEEDBACK);
            self.asm.jmp(miss);
            return true;
        }
        if !emitted {
            return false;
        }
        self.store_result(inst, ACC);
        match (accessed, shapes) {
            (Some(o), Some((before, after))) => {
                if before != after {
                    // A field added: any object may be this one, under another name.
                    self.shapes.clear();
                }
                self.shapes.retain(|&(v, _)| v != o);
                self.shapes.push((o, after));
            }
            // A polymorphic guarded access may have added a field; an unguarded
            // one's miss calls the runtime, which may.
            _ => self.shapes.clear(),
        }
        if guarded {
            return true;
        }
        let back = self.asm.new_label();
        self.asm.bind(back);
        self.slow.push(super::SlowPath {
            label: miss,
            inst,
            back,
        });
        true
    }

    /// What an unguarded `get_field` tries before the runtime's call, when the object
    /// lowering has it ([`crate::objects::ObjectLowering::get_field_probe`]: stage 6's
    /// probe of the megamorphic cache): on a hit, the value stored and a jump to
    /// `done`; on a miss it falls through, to the call. Nothing for other
    /// instructions, or without a probe.
    pub(super) fn gen_field_probe(&mut self, inst: Inst, done: Label) {
        let (Op::GetField(o, _), Some(objects)) = (&self.f.inst(inst).op, self.objects) else {
            return;
        };
        let o = *o;
        let site = self.site(inst);
        let obj = self.operand_reg(o, TMP);
        let runtime = self.asm.new_label();
        if objects
            .lowering
            .get_field_probe(self.asm, site, obj, runtime)
        {
            self.store_result(inst, ACC);
            self.asm.jmp(done);
        }
        self.asm.bind(runtime);
    }

    /// After `inst`: when it is a field access, its object is an object from here to
    /// the end of the block (the access raised `type error` otherwise, and an error
    /// leaves the function), whether its fast path or the runtime did the access.
    pub(super) fn note_object(&mut self, inst: Inst) {
        let op = match &self.f.inst(inst).op {
            Op::Guard(guard) => match &guard.kind {
                GuardKind::Op(op) => op,
                _ => return,
            },
            op => op,
        };
        if let Op::GetField(o, _) | Op::SetField(o, _, _) = *op {
            if !self.objects_seen.contains(&o) {
                self.objects_seen.push(o);
            }
        }
    }

    /// Where `v` is, for an object lowering (see [`crate::objects::Operand`]).
    fn operand(&self, v: Value) -> Operand {
        match self.opnd(v) {
            Opnd::Reg(r) => Operand::Reg(r),
            Opnd::Mem(m) => Operand::Mem(m),
            Opnd::Imm(w) => Operand::Imm(w),
        }
    }

    /// The register holding `v`: its own, or `scratch` loaded with it.
    fn operand_reg(&mut self, v: Value, scratch: Reg) -> Reg {
        match self.opnd(v) {
            Opnd::Reg(r) => r,
            _ => {
                self.load(scratch, v);
                scratch
            }
        }
    }

    /// The guarded direct calls of a `call_value` of `argc` arguments (the callee in
    /// `ACC`, the arguments written out) whose site has known targets (see
    /// [`crate::objects::ObjectLowering::call_targets`]): for each target of that
    /// arity, a compare of the callee with the function's value and, when equal, a
    /// call of it as a known function (its fast entry when it has one), which goes on
    /// at the returned label. `None` when there is nothing to guard; otherwise the
    /// generic call follows, for a callee that matched none, after telling the
    /// site's cache (`rt_call_target`).
    fn gen_guarded_calls(&mut self, inst: Inst, args: &[Value]) -> Option<Label> {
        let objects = self.objects?;
        let site = self.site(inst);
        let functions = &objects.program.functions;
        let targets: Vec<FnId> = objects
            .lowering
            .call_targets(site)
            .into_iter()
            .filter(|&t| {
                functions
                    .get(t as usize)
                    .is_some_and(|f| f.arity as usize == args.len())
            })
            .collect();
        if targets.is_empty() {
            return None;
        }
        let after = self.asm.new_label();
        for target in targets {
            let next = self.asm.new_label();
            let word = stage1::Value::function(target).bits() as i64;
            match i32::try_from(word) {
                Ok(imm) => self.asm.cmp(ACC, Imm32(imm)),
                Err(_) => {
                    self.asm.mov_imm(TMP, word);
                    self.asm.cmp(ACC, TMP);
                }
            }
            self.asm.jcc(Cond::NE, next);
            self.call_known(target, args, true);
            self.asm.jmp(after);
            self.asm.bind(next);
        }
        // None matched: the site's cache hears of the callee (any value; the runtime
        // ignores what is no function), which stays in `ACC` for the generic call. Two
        // pushes keep the stack aligned; the arguments are above them.
        self.asm.push(ACC);
        self.asm.push(ACC);
        self.asm.mov(Reg::RDI, super::CTX);
        self.asm.mov_imm(Reg::RSI, site as i64);
        self.asm.mov(Reg::RDX, ACC);
        self.asm
            .call_abs(runtime::rt_call_target as *const () as u64);
        self.asm.pop(ACC);
        self.asm.pop(ACC);
        Some(after)
    }

    /// `call_value`: `type error` unless the callee is a function, `wrong number of
    /// arguments` unless its arity (from the function table) is `args.len()`, then a
    /// call of its code; a site with known targets calls them directly first
    /// ([`Self::gen_guarded_calls`]).
    fn gen_call_value(&mut self, inst: Inst, callee: Value, args: &[Value]) {
        let type_error = self.error(ErrorKind::TypeError, inst);
        let arity_error = self.error(ErrorKind::WrongNumberOfArguments, inst);
        self.write_outgoing(args);
        self.load(ACC, callee);
        let guarded = self.gen_guarded_calls(inst, args);
        self.asm.mov(TMP.r32(), ACC.r32());
        self.asm.and(TMP.r32(), Imm32(TAG_MASK as i32));
        self.asm.cmp(TMP.r32(), Imm32(FUNCTION_TAG as i32));
        self.asm.jcc(Cond::NE, type_error);
        // index << 3 | 5 becomes the offset of the index's table entry.
        self.asm.and(ACC, Imm32(!(TAG_MASK as i32)));
        self.asm.shl(ACC, (FN_ENTRY_SHIFT - FUNCTION_SHIFT) as u8);
        self.asm
            .mov(TMP, Mem::base_disp(super::CTX, FUNCTIONS_OFFSET));
        let entry = |disp| Mem::sib(TMP, IndexReg::RAX, Scale::S1, disp);
        self.asm
            .cmp_mi(entry(FN_ENTRY_ARITY_OFFSET), Imm32(args.len() as i32));
        self.asm.jcc(Cond::NE, arity_error);
        self.asm.mov(ACC, entry(FN_ENTRY_CODE_OFFSET));
        self.asm.lea(Reg::RDI, Self::outgoing_first(args.len()));
        self.asm.call_reg(ACC);
        if let Some(after) = guarded {
            self.asm.bind(after);
        }
        self.check_error_result(inst);
        self.store_result(inst, ACC);
    }
}
