//! Heap templates: arrays inline (tag, index and bounds checks, then one load or
//! store through the tagged pointer), allocation, objects and `print` through the
//! runtime helpers.
//!
//! An array value is `ptr | 1`, `ptr` pointing at `len: u64` then the elements, so
//! through the tagged word the length is at `-1` and element `i` at `8i + 7`.
//! Helpers are calls: every operand goes to its slot first, and the result stays in
//! `ACC`.

use stage1::value::{
    ARRAY_ELEMS_OFFSET, ARRAY_LEN_OFFSET, ARRAY_TAG, INT_SHIFT, INT_TAG_MASK, TAG_MASK,
};
use stage1::ErrorKind;
use stage2::{Cond, Imm32, IndexReg, Mem, Reg, Scale};

use super::stack::Operand;
use super::{FnGen, ACC, CTX, TMP, TMP2};
use crate::runtime;

/// The tagged pointer's distance from the untagged one.
const TAG: i32 = ARRAY_TAG as i32;

impl FnGen<'_> {
    /// Calls a runtime helper (its other arguments already in `rsi`, `rdx`, `rcx`),
    /// leaving through the exit path when it fails.
    fn call_helper(&mut self, helper: u64) {
        self.asm.mov(Reg::RDI, CTX);
        self.asm.call_abs(helper);
        self.check_error_result();
    }

    /// Jumps to a `type error` unless `rax` is an array.
    fn check_array(&mut self) {
        let type_error = self.error_exit(Some(ErrorKind::TypeError));
        self.asm.mov(TMP2.r32(), ACC.r32());
        self.asm.and(TMP2.r32(), Imm32(TAG_MASK as i32));
        self.asm.cmp(TMP2.r32(), Imm32(TAG));
        self.asm.jcc(Cond::NE, type_error);
    }

    /// Checks the array in `rax` and the index in `rcx` (`type error`, then
    /// `index out of bounds`), leaving the untagged index in `rcx`.
    fn check_element(&mut self) {
        self.check_array();
        let type_error = self.error_exit(Some(ErrorKind::TypeError));
        let bounds = self.error_exit(Some(ErrorKind::IndexOutOfBounds));
        self.asm.test(TMP.r32(), Imm32(INT_TAG_MASK as i32));
        self.asm.jcc(Cond::NE, type_error);
        self.asm.sar(TMP, INT_SHIFT as u8);
        // Unsigned: a negative index is huge, out of bounds like any other.
        self.asm
            .cmp(TMP, Mem::base_disp(ACC, ARRAY_LEN_OFFSET - TAG));
        self.asm.jcc(Cond::AE, bounds);
    }

    /// Element `rcx` of the array `rax`.
    fn element() -> Mem {
        Mem::sib(ACC, IndexReg::RCX, Scale::S8, ARRAY_ELEMS_OFFSET - TAG)
    }

    /// `array_get`: `a i -> a[i]`.
    pub(super) fn gen_array_get(&mut self) {
        self.pop_into([ACC, TMP]);
        self.check_element();
        self.asm.mov(ACC, Self::element());
        self.push(Operand::Acc);
    }

    /// `array_set`: `a i v ->`, and `a[i] = v` (`v` in `rsi`: the checks use `rdx`).
    pub(super) fn gen_array_set(&mut self) {
        self.pop_into([ACC, TMP, Reg::RSI]);
        self.check_element();
        self.asm.mov_mr(Self::element(), Reg::RSI);
    }

    /// `array_len`: the length word, tagged.
    pub(super) fn gen_array_len(&mut self) {
        self.pop_into([ACC]);
        self.check_array();
        self.asm
            .mov(ACC, Mem::base_disp(ACC, ARRAY_LEN_OFFSET - TAG));
        self.asm.add(ACC, ACC);
        self.push(Operand::Acc);
    }

    /// Spills the operands below the top `N` for a helper call, then pops the top `regs.len()` into
    /// `regs` (the helper's arguments after the context).
    fn pop_args<const N: usize>(&mut self, regs: [Reg; N]) {
        for j in 0..self.depth() - N as u32 {
            self.spill(j);
        }
        self.pop_into(regs);
    }

    /// `new_array n`: the helper copies the `n` slots from the first one down.
    pub(super) fn gen_new_array(&mut self, n: u32) {
        self.spill_all();
        let first = self.frame.operand(self.depth() - n);
        let done = self.fast_path(|objects, asm, done| objects.new_array(asm, n, first, done));
        self.asm.lea(Reg::RSI, first);
        self.asm.mov_imm(Reg::RDX, n as i64);
        self.call_helper(runtime::rt_new_array as *const () as u64);
        self.bind_done(done);
        self.stack.truncate((self.depth() - n) as usize);
        self.push(Operand::Acc);
    }

    /// `new_array_fill`: `v n -> [v; n]`.
    pub(super) fn gen_new_array_fill(&mut self) {
        self.pop_args([Reg::RSI, Reg::RDX]);
        let done = self.fast_path(|objects, asm, done| objects.new_array_fill(asm, done));
        self.call_helper(runtime::rt_new_array_fill as *const () as u64);
        self.bind_done(done);
        self.push(Operand::Acc);
    }

    /// `new_object`.
    pub(super) fn gen_new_object(&mut self) {
        self.spill_all();
        let done = self.fast_path(|objects, asm, done| objects.new_object(asm, done));
        self.call_helper(runtime::rt_new_object as *const () as u64);
        self.bind_done(done);
        self.push(Operand::Acc);
    }

    /// `get_field k`.
    pub(super) fn gen_get_field(&mut self, field: u32) {
        let site = self.site();
        self.pop_args([Reg::RSI]);
        let done = self.fast_path(|objects, asm, done| objects.get_field(asm, site, done));
        self.asm.mov_imm(Reg::RDX, field as i64);
        self.asm.mov_imm(Reg::RCX, site as i64);
        self.call_helper(runtime::rt_get_field as *const () as u64);
        self.bind_done(done);
        self.push(Operand::Acc);
    }

    /// `set_field k`.
    pub(super) fn gen_set_field(&mut self, field: u32) {
        let site = self.site();
        self.pop_args([Reg::RSI, Reg::RCX]);
        let done = self.fast_path(|objects, asm, done| objects.set_field(asm, site, done));
        self.asm.mov_imm(Reg::RDX, field as i64);
        self.asm.mov_imm(Reg::R8, site as i64);
        self.call_helper(runtime::rt_set_field as *const () as u64);
        self.bind_done(done);
    }

    /// Where an object instruction's fast path jumps on a hit (see [`objects`](super::objects)).
    fn bind_done(&mut self, done: Option<stage2::Label>) {
        if let Some(done) = done {
            self.asm.bind(done);
        }
    }

    /// `print`.
    pub(super) fn gen_print(&mut self) {
        self.pop_args([Reg::RSI]);
        self.call_helper(runtime::rt_print as *const () as u64);
    }
}
