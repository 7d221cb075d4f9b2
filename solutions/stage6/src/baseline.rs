//! Baseline code's inline caches: the fast paths stage 6 plugs into stage 3's
//! templates ([`ObjectCode`]), reading the IC records of the [`ShapeModel`] (data
//! beside the code: the code never changes, the records do).
//!
//! - `get_field`: check that the operand is an object, load its shape, compare it
//!   with each entry of the site's [`FieldIc`](crate::layout::FieldIc); on a match,
//!   load the slot the entry names — inline, or in the overflow block. Monomorphic,
//!   the hit path is `lea; test; jne` (the tag), a load of the shape, one
//!   `cmp [entry]; jne`, then the slot's offset and the value: no call.
//! - `set_field`: the same check; on a match, store into the slot, and when the entry
//!   is a cached transition (`new_shape` ≠ 0), write the new shape.
//! - `new_object`: the heap's [`Bump`] allocation inline (the native allocation
//!   rule: room in the chunk and under the limit, else the runtime), the empty
//!   shape written into the zeroed block ([`allocation`], shared
//!   with optimized code).
//! - `new_array n` (`n` ≤ [`LITERAL_MAX`]): the same allocation, the length and
//!   the elements copied from the operand slots.
//! - `new_array_fill` (`[v; n]`, `n` a small enough integer): the same allocation,
//!   the length, and `v` stored `n` times (not at all when it is 0).
//! - `call_value`: the callee compared with the site's
//!   [`CallIc`](crate::layout::CallIc) targets; a new target goes to the runtime
//!   (`rt_call_target`), which updates the cache.
//!
//! Every miss falls through to stage 3's runtime call, with the operands as they
//! were: the runtime then does what it always does (updates the IC, raises `type
//! error` or `no such field`), so a fast path never changes what a program does.

use stage1::heap::Heap;
use stage1::value::TAG_MASK;
use stage2::{Assembler, BitOp, Cond, Imm32, IndexReg, Label, Mem, Reg, Scale};
use stage3::codegen::objects::{ObjectCode, Site};
use stage3::codegen::CTX;

use stage1::heap::Bump;
use stage3::runtime::rt_call_target;

use crate::allocation::{self, Operand, Scratch, LITERAL_MAX};

use crate::layout::{
    CALL_IC_TARGETS, FIELD_IC_ENTRIES, IC_ENTRIES, IC_ENTRY_BYTES, IC_NEW_SHAPE, IC_SHAPE, IC_SLOT,
    OVERFLOW_OFFSET, SHAPE_OFFSET, UNTAG,
};
use crate::model::ShapeModel;

/// The object operand of `get_field` and `set_field` (stage 3's register for it).
const OBJ: Reg = Reg::RSI;
/// The value operand of `set_field`.
const VALUE: Reg = Reg::RCX;
/// The shape of the object, then the loaded value of a `get_field`.
const SHAPE: Reg = Reg::RAX;
/// The address of the IC entry being compared (then the one that matched).
const ENTRY: Reg = Reg::RDX;
/// The matched entry's slot.
const SLOT: Reg = Reg::R8;
/// Scratch: the overflow block, the new shape.
const SCRATCH: Reg = Reg::R9;

/// Stage 6's [`ObjectCode`]: where each site's IC record is, the heap's [`Bump`]
/// and the empty shape's word (each stays where it is for the run: the records are
/// boxed slices of the model, the bump pointer is boxed in the heap, shapes are
/// never freed).
#[derive(Clone, Debug)]
pub struct BaselineCode<'m> {
    /// The IC records, by site.
    ics: Ics<'m>,
    /// The heap's bump pointer, for inline allocation; 0: none (no allocation inline).
    bump: u64,
    /// The word of the empty shape, which a new object starts with (0: none).
    empty_shape: u64,
}

/// Where [`BaselineCode`] finds a site's IC record.
#[derive(Clone, Debug)]
enum Ics<'m> {
    /// The model's, asked for each site compiled.
    Model(&'m ShapeModel),
    /// Addresses by site, given.
    Table(Vec<u64>),
}

impl<'m> BaselineCode<'m> {
    /// The fast paths of a run on `heap`, whose model must be a caching
    /// [`ShapeModel`] (`None` otherwise: by-name objects, or `--no-ic`). The model is
    /// borrowed while the result lives (for a compilation); the code made reads the
    /// caches and bumps the allocation pointer at addresses fixed for the heap's life,
    /// so it must not outlive the heap.
    pub fn of_heap(heap: &'m mut Heap) -> Option<BaselineCode<'m>> {
        let bump = heap.bump();
        let heap: &'m Heap = heap;
        let model = heap.model().as_any().downcast_ref::<ShapeModel>()?;
        model.caches().then(|| BaselineCode::new(model, bump))
    }

    /// The fast paths of a run whose heap has `model` and the bump pointer `bump`
    /// (`Heap::bump`): every site's IC record is `model`'s. The code made must not
    /// outlive the heap.
    pub fn new(model: &'m ShapeModel, bump: *const Bump) -> BaselineCode<'m> {
        BaselineCode {
            ics: Ics::Model(model),
            bump: bump as u64,
            empty_shape: model.empty_shape(),
        }
    }

    /// The IC record of field site `site`.
    fn field_ic(&self, site: Site) -> u64 {
        match &self.ics {
            Ics::Model(model) => model.field_ic_ptr(site) as u64,
            Ics::Table(ics) => ics[site as usize],
        }
    }

    /// The IC record of `call_value` site `site`.
    fn call_ic(&self, site: Site) -> u64 {
        match &self.ics {
            Ics::Model(model) => model.call_ic_ptr(site) as u64,
            Ics::Table(ics) => ics[site as usize],
        }
    }
}

impl BaselineCode<'static> {
    /// Fast paths reading the IC records at `ics` (by site), allocating with the
    /// bump pointer at `bump` (null: never inline), new objects getting the shape
    /// word `empty_shape` (0: objects are not allocated inline). The caller vouches
    /// that each address stays valid, with the layout of [`layout`](crate::layout),
    /// for as long as the code made lives (for tests, and code over other records).
    pub fn from_parts(ics: Vec<u64>, bump: *const Bump, empty_shape: u64) -> BaselineCode<'static> {
        BaselineCode {
            ics: Ics::Table(ics),
            bump: bump as u64,
            empty_shape,
        }
    }
}

impl ObjectCode for BaselineCode<'_> {
    fn get_field(&self, asm: &mut Assembler, site: Site, done: Label) {
        emit_get_field(asm, self.field_ic(site), done);
    }

    fn set_field(&self, asm: &mut Assembler, site: Site, done: Label) {
        emit_set_field(asm, self.field_ic(site), done);
    }

    fn new_object(&self, asm: &mut Assembler, done: Label) {
        if self.bump != 0 && self.empty_shape != 0 {
            emit_new_object(asm, self.bump, self.empty_shape, done);
        }
    }

    fn call_value(&self, asm: &mut Assembler, site: Site, callee: Reg) {
        let helper = rt_call_target as *const () as u64;
        emit_call_value(asm, self.call_ic(site), site, callee, helper);
    }

    fn new_array(&self, asm: &mut Assembler, n: u32, first: Mem, done: Label) {
        if self.bump != 0 && n as usize <= LITERAL_MAX {
            emit_new_array(asm, self.bump, n, first, done);
        }
    }

    fn new_array_fill(&self, asm: &mut Assembler, done: Label) {
        if self.bump != 0 {
            emit_new_array_fill(asm, self.bump, done);
        }
    }
}

/// The inline shape check of the object in `OBJ` against the field IC at `ic`:
/// a non-object (any other tag) goes to `miss`; else its shape is compared with
/// each entry's, in order, and the first that matches runs `hit`'s code with
/// `ENTRY` pointing at that entry (`hit`'s code must not fall through). No match
/// falls through: the caller binds `miss` right after. Empty entries (shape 0)
/// never match, so a megamorphic site (every entry empty) always misses. Entry 0
/// falls into the hit code, the others jump back to it (book §6, "Baseline code").
pub fn emit_shape_check(
    asm: &mut Assembler,
    ic: u64,
    miss: Label,
    hit: impl FnOnce(&mut Assembler),
) {
    // exercise-begin: baseline-shape-check check the tag of rsi, load its shape, compare it with each IC entry's shape (ENTRY at the one that matches, entry 0 falling into the hit code), fall through when none matches
    asm.lea(SHAPE, Mem::base_disp(OBJ, UNTAG));
    asm.test(SHAPE.r32(), Imm32(TAG_MASK as i32));
    asm.jcc(Cond::NE, miss);
    asm.mov(SHAPE, Mem::base_disp(SHAPE, SHAPE_OFFSET));
    asm.mov_imm(ENTRY, ic as i64 + i64::from(FIELD_IC_ENTRIES));
    let others = asm.new_label();
    let matched = asm.new_label();
    asm.cmp(SHAPE, Mem::base_disp(ENTRY, IC_SHAPE));
    asm.jcc(Cond::NE, others);
    asm.bind(matched);
    hit(asm);
    asm.bind(others);
    for _ in 1..IC_ENTRIES {
        asm.add(ENTRY, Imm32(IC_ENTRY_BYTES));
        asm.cmp(SHAPE, Mem::base_disp(ENTRY, IC_SHAPE));
        asm.jcc(Cond::E, matched);
    }
    // exercise-end
}

/// Clears the overflow bit of the slot in `SLOT` and loads the object's overflow
/// block into `SCRATCH`: the field is then at `[SCRATCH + SLOT]`.
fn overflow_slot(asm: &mut Assembler) {
    asm.bit(BitOp::Btr, SLOT, 63);
    asm.mov(SCRATCH, Mem::base_disp(OBJ, OVERFLOW_OFFSET + UNTAG));
}

/// The field at `SLOT` of the object in `OBJ`, when it is inline (the slot is its
/// offset from the tagged pointer), or of `SCRATCH`'s overflow block.
fn field(base: Reg) -> Mem {
    let index = match SLOT {
        Reg::R8 => IndexReg::R8,
        _ => unreachable!("SLOT is r8"),
    };
    Mem::sib(base, index, Scale::S1, 0)
}

/// `get_field`'s fast path (the object in `rsi`): on a hit the value in `rax`, then
/// `done`; a miss falls through.
pub fn emit_get_field(asm: &mut Assembler, ic: u64, done: Label) {
    let miss = asm.new_label();
    let overflow = asm.new_label();
    emit_shape_check(asm, ic, miss, |asm| {
        asm.mov(SLOT, Mem::base_disp(ENTRY, IC_SLOT));
        asm.test(SLOT, SLOT);
        asm.jcc(Cond::S, overflow);
        asm.mov(Reg::RAX, field(OBJ));
        asm.jmp(done);
        asm.bind(overflow);
        overflow_slot(asm);
        asm.mov(Reg::RAX, field(SCRATCH));
        asm.jmp(done);
    });
    asm.bind(miss);
}

/// `set_field`'s fast path (the object in `rsi`, the value in `rcx`): on a hit the
/// value stored and, for a cached transition, the new shape written, then `done`; a
/// miss falls through, having written nothing.
pub fn emit_set_field(asm: &mut Assembler, ic: u64, done: Label) {
    let miss = asm.new_label();
    let overflow = asm.new_label();
    let stored = asm.new_label();
    emit_shape_check(asm, ic, miss, |asm| {
        asm.mov(SLOT, Mem::base_disp(ENTRY, IC_SLOT));
        asm.test(SLOT, SLOT);
        asm.jcc(Cond::S, overflow);
        asm.mov_mr(field(OBJ), VALUE);
        asm.bind(stored);
        asm.mov(SCRATCH, Mem::base_disp(ENTRY, IC_NEW_SHAPE));
        asm.test(SCRATCH, SCRATCH);
        asm.jcc(Cond::E, done);
        asm.mov_mr(Mem::base_disp(OBJ, SHAPE_OFFSET + UNTAG), SCRATCH);
        asm.jmp(done);
        asm.bind(overflow);
        overflow_slot(asm);
        asm.mov_mr(field(SCRATCH), VALUE);
        asm.jmp(stored);
    });
    asm.bind(miss);
}

/// The registers inline allocation uses in baseline code: `rdx` is the count of
/// `new_array_fill`, kept for its runtime call.
const ALLOCATION: Scratch = Scratch {
    block: Reg::RAX,
    bump: Reg::R8,
    temp: Reg::R9,
};

/// A fast path of [`allocation`] (which falls through on a hit
/// and jumps on a miss) the way baseline templates take it: a hit jumps to `done`, a
/// miss falls through. `emit` returns whether it emitted anything.
fn hit_to_done(asm: &mut Assembler, done: Label, emit: impl FnOnce(&mut Assembler, Label) -> bool) {
    let miss = asm.new_label();
    if emit(asm, miss) {
        asm.jmp(done);
    }
    asm.bind(miss);
}

/// `new_object`'s fast path: an object block from the bump record at `bump`, its
/// shape the empty shape, tagged in `rax`, then `done`; a miss falls through.
pub fn emit_new_object(asm: &mut Assembler, bump: u64, empty_shape: u64, done: Label) {
    hit_to_done(asm, done, |asm, miss| {
        allocation::emit_new_object(asm, bump, empty_shape, ALLOCATION, miss);
        true
    });
}

/// `new_array n`'s fast path (`n` ≤ [`LITERAL_MAX`]): an array block (the length,
/// then the elements, copied from `first`, `first - 8`, ...) from the bump record at
/// `bump`, tagged in `rax`, then `done`; a miss falls through.
pub fn emit_new_array(asm: &mut Assembler, bump: u64, n: u32, first: Mem, done: Label) {
    let elements: Vec<Operand> = (0..n as i32)
        .map(|i| {
            Operand::Mem(Mem {
                disp: first.disp - 8 * i,
                ..first
            })
        })
        .collect();
    hit_to_done(asm, done, |asm, miss| {
        allocation::emit_new_array(asm, bump, &elements, ALLOCATION, miss);
        true
    });
}

/// `new_array_fill`'s fast path (the value in `rsi`, the count in `rdx`): when the
/// count is an integer the fast path takes (see
/// [`allocation::emit_new_array_fill`]), an array block from the bump record at
/// `bump` filled with the value, tagged in `rax`, then `done`; any other count, or no
/// room, falls through to the runtime call.
pub fn emit_new_array_fill(asm: &mut Assembler, bump: u64, done: Label) {
    hit_to_done(asm, done, |asm, miss| {
        let (value, n) = (Operand::Reg(Reg::RSI), Operand::Reg(Reg::RDX));
        allocation::emit_new_array_fill(asm, bump, value, n, ALLOCATION, miss)
    });
}

/// `call_value`'s target recording: the callee (a function value) in `callee` is
/// compared with each target of the call IC at `ic`; none matching, the runtime
/// records it (`helper(ctx, site, callee)`: stage 3's `rt_call_target`), `callee`
/// kept on the stack around the call (twice: `rsp` stays 16-byte aligned).
pub fn emit_call_value(asm: &mut Assembler, ic: u64, site: Site, callee: Reg, helper: u64) {
    let known = asm.new_label();
    let targets = if callee == Reg::R9 { Reg::R10 } else { Reg::R9 };
    asm.mov_imm(targets, ic as i64);
    for k in 0..IC_ENTRIES as i32 {
        asm.cmp(callee, Mem::base_disp(targets, CALL_IC_TARGETS + 8 * k));
        asm.jcc(Cond::E, known);
    }
    asm.push(callee);
    asm.push(callee);
    asm.mov(Reg::RDX, callee);
    asm.mov_imm(Reg::RSI, i64::from(site));
    asm.mov(Reg::RDI, CTX);
    asm.call_abs(helper);
    asm.pop(callee);
    asm.pop(callee);
    asm.bind(known);
}

#[cfg(test)]
mod tests {
    //! The fast paths run alone on hand-made objects and IC records, each wrapped in
    //! a tiny function: its operands from the arguments, then the fast path, whose
    //! miss returns [`MISS`].

    use super::*;
    use crate::allocation::tests::Chunk;
    use crate::layout::{slot_word, IcEntry, INLINE_SLOTS, OBJECT_BYTES};
    use stage1::value::FUNCTION_TAG;
    use stage1::value::{ARRAY_TAG, OBJECT_TAG};
    use stage2::CodeBlock;

    /// What a wrapped fast path returns on a miss (no value has this word).
    const MISS: u64 = 0xbad7;
    /// What a wrapped `set_field` returns on a hit.
    const HIT: u64 = 0x600d;

    /// Shape words: any non-zero word will do (the code only compares them).
    const S1: u64 = 0x1110;
    const S2: u64 = 0x2220;
    const S3: u64 = 0x3330;
    const S4: u64 = 0x4440;

    /// `fn(a, b) -> u64` made of `setup`, the fast path (given `done`), then
    /// `mov rax, MISS; ret` for the miss and `done:` (`ret`, or `mov rax, HIT; ret`).
    fn wrap(
        setup: impl FnOnce(&mut Assembler),
        fast: impl FnOnce(&mut Assembler, Label),
        done_value: Option<u64>,
    ) -> CodeBlock {
        let mut asm = Assembler::new();
        setup(&mut asm);
        let done = asm.new_label();
        fast(&mut asm, done);
        asm.mov_imm(Reg::RAX, MISS as i64);
        asm.ret();
        asm.bind(done);
        if let Some(v) = done_value {
            asm.mov_imm(Reg::RAX, v as i64);
        }
        asm.ret();
        asm.finish().expect("assembles")
    }

    /// An object block: shape, overflow pointer, inline slots.
    #[repr(C, align(8))]
    struct Object([u64; OBJECT_BYTES / 8]);

    impl Object {
        fn new(shape: u64, overflow: &mut [u64]) -> Box<Object> {
            let mut o = Box::new(Object([0; OBJECT_BYTES / 8]));
            o.0[0] = shape;
            o.0[1] = overflow.as_mut_ptr() as u64;
            o
        }
        fn tagged(&mut self) -> u64 {
            self.0.as_mut_ptr() as u64 + OBJECT_TAG
        }
    }

    /// A field IC as native code reads it: its entries (what comes after them is
    /// the runtime's).
    type FieldIc = [IcEntry; IC_ENTRIES];
    /// A call IC as native code reads it: its targets.
    type CallIc = [u64; IC_ENTRIES];

    /// The IC slot of inline slot `i`, and of word `i` of the overflow block.
    fn inline(i: usize) -> u64 {
        slot_word(i)
    }
    fn overflow(i: usize) -> u64 {
        slot_word(INLINE_SLOTS + i)
    }

    fn entry(shape: u64, slot: u64) -> IcEntry {
        IcEntry {
            shape,
            slot,
            new_shape: 0,
        }
    }

    fn ic(entries: &[IcEntry]) -> Box<FieldIc> {
        let mut ic = Box::<FieldIc>::default();
        ic[..entries.len()].copy_from_slice(entries);
        ic
    }

    fn get(ic: &FieldIc, o: u64) -> u64 {
        let code = wrap(
            |a| a.mov(OBJ, Reg::RDI),
            |a, done| emit_get_field(a, ic as *const FieldIc as u64, done),
            None,
        );
        // SAFETY: the code reads `ic` and, when `o` is an object, its block and
        // overflow block, all live; it keeps the callee-saved registers.
        let f: extern "sysv64" fn(u64) -> u64 = unsafe { code.as_fn() };
        f(o)
    }

    #[test]
    fn get_field_hits_each_entry_inline_and_in_overflow() {
        let mut extra = [0, 0, 70, 0];
        let mut o = Object::new(S3, &mut extra);
        o.0[2 + 1] = 42;
        let t = o.tagged();
        // Monomorphic, inline slot 1.
        assert_eq!(get(&ic(&[entry(S3, inline(1))]), t), 42);
        // The third entry of a polymorphic site, in the overflow block.
        let poly = ic(&[
            entry(S1, inline(0)),
            entry(S2, inline(0)),
            entry(S3, overflow(2)),
        ]);
        assert_eq!(get(&poly, t), 70);
        // The fourth.
        let four = [
            entry(S1, 0),
            entry(S2, 0),
            entry(S4, 0),
            entry(S3, inline(3)),
        ];
        o.0[2 + 3] = 99;
        assert_eq!(get(&ic(&four), t), 99);
    }

    #[test]
    fn get_field_misses_other_shapes_empty_ics_and_other_values() {
        let mut extra = [0; 2];
        let mut o = Object::new(S4, &mut extra);
        let t = o.tagged();
        let full = [entry(S1, 0), entry(S2, 0), entry(S3, 0)];
        assert_eq!(get(&ic(&full), t), MISS);
        // Megamorphic: every entry empty.
        assert_eq!(get(&ic(&[]), t), MISS);
        // Not objects: integers, arrays, functions never read memory.
        let anything = ic(&[entry(S4, inline(0))]);
        for word in [
            0,
            2,
            84,
            t - OBJECT_TAG + ARRAY_TAG,
            (7 << 3) | FUNCTION_TAG,
        ] {
            assert_eq!(get(&anything, word), MISS, "{word:#x}");
        }
        assert_eq!(get(&anything, t), 0);
    }

    fn set(ic: &FieldIc, o: u64, v: u64) -> u64 {
        let code = wrap(
            |a| {
                a.mov(VALUE, Reg::RSI);
                a.mov(OBJ, Reg::RDI);
            },
            |a, done| emit_set_field(a, ic as *const FieldIc as u64, done),
            Some(HIT),
        );
        // SAFETY: as in `get`, and the stores go to the object's slots.
        let f: extern "sysv64" fn(u64, u64) -> u64 = unsafe { code.as_fn() };
        f(o, v)
    }

    #[test]
    fn set_field_stores_and_takes_cached_transitions() {
        let mut extra = [0; 4];
        let mut o = Object::new(S1, &mut extra);
        let t = o.tagged();
        // A plain store: the shape stays.
        assert_eq!(set(&ic(&[entry(S1, inline(2))]), t, 8), HIT);
        assert_eq!((o.0[0], o.0[2 + 2]), (S1, 8));
        // A transition S1 -> S2 adding inline slot 3, from the second entry.
        let mut add = entry(S1, inline(3));
        add.new_shape = S2;
        assert_eq!(set(&ic(&[entry(S3, 0), add]), t, 10), HIT);
        assert_eq!((o.0[0], o.0[2 + 3]), (S2, 10));
        // A transition S2 -> S3 into the overflow block.
        let mut grow = entry(S2, overflow(1));
        grow.new_shape = S3;
        assert_eq!(set(&ic(&[grow]), t, 12), HIT);
        assert_eq!((o.0[0], extra[1]), (S3, 12));
        // A miss writes nothing.
        let before = o.0;
        assert_eq!(set(&ic(&[entry(S1, inline(0))]), t, 14), MISS);
        assert_eq!(set(&ic(&[entry(S3, inline(0))]), 14, 14), MISS);
        assert_eq!(o.0, before);
    }

    fn alloc_object(chunk: &Chunk) -> u64 {
        let code = wrap(
            |_| {},
            |a, done| emit_new_object(a, chunk.bump(), S1, done),
            None,
        );
        // SAFETY: the code bumps `chunk.bump` within its chunk and writes there and
        // in its bitmap, all live.
        let f: extern "sysv64" fn() -> u64 = unsafe { code.as_fn() };
        f()
    }

    #[test]
    fn new_object_bumps_marks_and_sets_the_empty_shape() {
        let words = OBJECT_BYTES / 8;
        // Room for 30 objects, then the chunk is full.
        let chunk = Chunk::new(30 * words, 1000, 1 << 20);
        for k in 0..30u64 {
            let o = alloc_object(&chunk);
            assert_eq!(o, chunk.base() + k * OBJECT_BYTES as u64 + OBJECT_TAG);
            let w = (k as usize) * words;
            assert_eq!(chunk.memory[w], S1, "the empty shape");
            assert!(chunk.memory[w + 1..w + words].iter().all(|&x| x == 0));
            assert_eq!(chunk.objects[w / 64] >> (w % 64) & 1, 1, "marked");
            assert_eq!(chunk.bump.used, 1000 + (k as usize + 1) * OBJECT_BYTES);
        }
        let marks: u32 = chunk.objects.iter().map(|w| w.count_ones()).sum();
        assert_eq!(marks, 30);
        assert!(chunk.arrays.iter().all(|&w| w == 0));
        let (next, used) = (chunk.bump.next, chunk.bump.used);
        assert_eq!(alloc_object(&chunk), MISS, "the chunk is full");
        assert_eq!((chunk.bump.next, chunk.bump.used), (next, used));
    }

    #[test]
    fn new_object_stops_at_the_heap_limit() {
        let limit = 1000 + 2 * OBJECT_BYTES;
        let chunk = Chunk::new(100 * OBJECT_BYTES / 8, 1000, limit);
        assert_ne!(alloc_object(&chunk), MISS);
        assert_ne!(
            alloc_object(&chunk),
            MISS,
            "exactly at the limit is allowed"
        );
        assert_eq!(alloc_object(&chunk), MISS);
        assert_eq!(chunk.bump.used, limit);
        assert_eq!(chunk.objects[0], 1 | 1 << 6);
    }

    #[test]
    fn new_array_copies_the_slots_downwards() {
        let chunk = Chunk::new(64, 0, 1 << 20);
        // Elements 0, 1, 2 at `first`, `first - 8`, `first - 16`.
        let elems = [6u64, 4, 2];
        let first = elems.as_ptr() as u64 + 16;
        let code = wrap(
            |_| {},
            |a, done| emit_new_array(a, chunk.bump(), 3, Mem::base(Reg::RDI), done),
            None,
        );
        // SAFETY: as in `alloc_object`, reading the three words of `elems`.
        let f: extern "sysv64" fn(u64) -> u64 = unsafe { code.as_fn() };
        let a = f(first);
        assert_eq!(a, chunk.base() + ARRAY_TAG);
        assert_eq!(chunk.memory[..4], [3, 2, 4, 6]);
        assert_eq!(chunk.arrays[0], 1);
        assert_eq!(chunk.objects[0], 0);
        let b = f(first);
        assert_eq!(b, chunk.base() + 32 + ARRAY_TAG);
        assert_eq!(chunk.arrays[0], 1 | 1 << 4);
        assert_eq!(chunk.bump.used, 64);
    }

    thread_local! {
        static RECORDED: std::cell::RefCell<Vec<(u64, u64, u64)>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    extern "sysv64" fn record(ctx: u64, site: u64, callee: u64) -> u64 {
        RECORDED.with(|r| r.borrow_mut().push((ctx, site, callee)));
        0xdead_beef
    }

    #[test]
    fn call_value_records_new_targets_only() {
        let mut ic = Box::<CallIc>::default();
        let f3 = (3 << 3) | FUNCTION_TAG;
        let f5 = (5 << 3) | FUNCTION_TAG;
        ic[0] = f3;
        let address = &*ic as *const CallIc as u64;
        // fn(callee, ctx) -> callee: ctx into CTX (saved), the callee in rax.
        let mut asm = Assembler::new();
        asm.push(CTX);
        asm.mov(CTX, Reg::RSI);
        asm.mov(Reg::RAX, Reg::RDI);
        emit_call_value(&mut asm, address, 7, Reg::RAX, record as *const () as u64);
        asm.pop(CTX);
        asm.ret();
        let code = asm.finish().unwrap();
        // SAFETY: the code reads `ic`, calls `record` with the stack aligned (one
        // push after the return address) and keeps `CTX`.
        let f: extern "sysv64" fn(u64, u64) -> u64 = unsafe { code.as_fn() };
        assert_eq!(f(f3, 0x1c), f3);
        assert!(RECORDED.with(|r| r.borrow().is_empty()));
        assert_eq!(f(f5, 0x1c), f5, "the callee is kept");
        assert_eq!(RECORDED.with(|r| r.take()), [(0x1c, 7, f5)]);
        ic[3] = f5;
        assert_eq!(f(f5, 0x1c), f5);
        assert!(RECORDED.with(|r| r.borrow().is_empty()));
    }
}
