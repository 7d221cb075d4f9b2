//! Inline allocation, for baseline and optimized code alike: the heap's native
//! allocation rule ([`Bump`](stage1::heap::Bump)) as code, and the objects and arrays
//! made with it. Each tier calls these emitters with the three registers it may use
//! ([`Scratch`]) and says where the operands are ([`Operand`]); the sequence is one.
//!
//! A block of `bytes` (a multiple of 8, at most [`SMALL_MAX`]: a bigger one is a
//! block of its own, which only the runtime makes) is taken at the bump pointer when
//! `next + bytes <= end` (room in the chunk) and `used + bytes <= limit` (the heap's
//! limit); then `next` and `used` grow by `bytes` and the block's start is marked in
//! the chunk's bitmap of objects or of arrays. Otherwise the code jumps to its miss,
//! the runtime call, which takes a new chunk or raises `out of memory` — exactly as
//! when the interpreter allocates, since the rule is the one the heap follows for a
//! small block, and the bytes counted are the same: `out of memory` comes at the same
//! allocation in every tier.
//!
//! ```text
//!     mov  bump, BUMP                  ; the heap's bump record
//!     mov  block, [bump + next]
//!     lea  temp, [block + bytes]       ; the new `next`
//!     cmp  temp, [bump + end]          ; room in the chunk?
//!     ja   miss
//!     sub  temp, block                 ; bytes
//!     add  temp, [bump + used]
//!     cmp  temp, [bump + limit]        ; under the heap's limit?
//!     ja   miss
//!     mov  [bump + used], temp
//!     lea  temp, [block + bytes]
//!     mov  [bump + next], temp
//!     sub  block, [bump + base]        ; mark: bit w of the bitmap, w = (block - base) / 8
//!     shr  block, 3
//!     ...                              ; (the word w / 64, `bts` of bit w % 64)
//!     mov  temp, [bump + base]         ; the block again: base + 8w
//!     lea  block, [temp + block*8]
//! ```
//!
//! The memory of a chunk is zero until it is allocated: a new object needs only its
//! shape written, a new array its length and the elements that are not the integer 0.

use stage1::heap::{
    BUMP_ARRAYS, BUMP_BASE, BUMP_END, BUMP_LIMIT, BUMP_NEXT, BUMP_OBJECTS, BUMP_USED, SMALL_MAX,
};
use stage1::value::{ARRAY_ELEMS_OFFSET, ARRAY_LEN_OFFSET, ARRAY_TAG, INT_TAG_MASK, OBJECT_TAG};
use stage2::{Assembler, BitOp, Cond, Imm32, IndexReg, Label, Mem, Reg, Scale};
pub use stage4::objects::Operand;

use crate::layout::{OBJECT_BYTES, SHAPE_OFFSET};

/// The longest array literal allocated inline: its block, the length and 31
/// elements, is 256 bytes. Longer literals are rare, and their copy would dwarf the
/// call anyway.
pub const LITERAL_MAX: usize = 31;

/// The longest `[v; n]` allocated inline: its block is a small block of the heap
/// (at most [`SMALL_MAX`] bytes); a longer one is a block of its own, which the
/// runtime allocates (and counts with its page overhead).
pub const FILL_MAX: i64 = (SMALL_MAX / 8 - 1) as i64;

/// The longest `[v; n]` allocated inline when `v` is not the integer 0 (which needs
/// no store): past it, the runtime's fill (a vectorized loop) is as fast as the call
/// it costs (measured: `[i; n]` in a loop takes about 60% of the time inline at 8 and
/// 16 elements, about as much at 32, and no less at 64 and beyond).
pub const FILL_LOOP_MAX: i64 = 16;

/// The registers an inline allocation may change, and nothing else: `block` ends
/// with the new value (tagged), `bump` holds the bump record's address and then the
/// bitmap's, `temp` the rest. None of them may hold an operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scratch {
    /// The new block, then the new value.
    pub block: Reg,
    /// The address of the bump record, then of the bitmap word, then a value to store.
    pub bump: Reg,
    /// Sizes, counts and words on their way.
    pub temp: Reg,
}

impl Scratch {
    /// Whether `operand` is one of these registers (which the code would clobber).
    fn holds(&self, operand: Operand) -> bool {
        matches!(operand, Operand::Reg(r) if r == self.block || r == self.bump || r == self.temp)
            || matches!(operand, Operand::Mem(m) if [self.block, self.bump, self.temp].contains(&m.base))
    }
}

/// The size of a block to allocate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Size {
    /// This many bytes (a multiple of 8, at most [`SMALL_MAX`]).
    Bytes(i32),
    /// The block of an array whose length is the tagged integer (`2n`) in this
    /// register or memory word, checked to be `0..=FILL_MAX` already: `8 + 8n`
    /// bytes, `8 + 4 * word`.
    Array(Operand),
}

/// An index register for `reg` (any but `rsp`, which is never a scratch register).
fn index(reg: Reg) -> IndexReg {
    IndexReg::try_from(reg).expect("rsp is no scratch register")
}

/// `temp = block + size`: the end of the new block.
fn block_end(asm: &mut Assembler, size: Size, r: Scratch) {
    match size {
        Size::Bytes(bytes) => asm.lea(r.temp, Mem::base_disp(r.block, bytes)),
        Size::Array(Operand::Reg(n)) => asm.lea(
            r.temp,
            Mem::sib(r.block, index(n), Scale::S4, ARRAY_ELEMS_OFFSET),
        ),
        Size::Array(Operand::Mem(n)) => {
            asm.mov(r.temp, n);
            asm.lea(
                r.temp,
                Mem::sib(r.block, index(r.temp), Scale::S4, ARRAY_ELEMS_OFFSET),
            );
        }
        Size::Array(Operand::Imm(_)) => unreachable!("a constant size is in bytes"),
    }
}

/// The native allocation rule (see the module's documentation), inline: a block of
/// `size` from the bump record at `bump`, its start marked in the bitmap at offset
/// `bitmap` of the record (`BUMP_OBJECTS` or `BUMP_ARRAYS`), its address (untagged)
/// in `r.block`; a jump to `miss`, nothing changed, when the chunk has no room or the
/// heap's limit would be passed.
fn emit_bump(asm: &mut Assembler, bump: u64, size: Size, bitmap: i32, r: Scratch, miss: Label) {
    if let Size::Bytes(bytes) = size {
        assert!(
            bytes > 0 && bytes % 8 == 0 && bytes as usize <= SMALL_MAX,
            "{bytes} bytes is no small block"
        );
    }
    asm.mov_imm(r.bump, bump as i64);
    asm.mov(r.block, Mem::base_disp(r.bump, BUMP_NEXT));
    block_end(asm, size, r);
    asm.cmp(r.temp, Mem::base_disp(r.bump, BUMP_END));
    asm.jcc(Cond::A, miss);
    asm.sub(r.temp, r.block);
    asm.add(r.temp, Mem::base_disp(r.bump, BUMP_USED));
    asm.cmp(r.temp, Mem::base_disp(r.bump, BUMP_LIMIT));
    asm.jcc(Cond::A, miss);
    asm.mov_mr(Mem::base_disp(r.bump, BUMP_USED), r.temp);
    block_end(asm, size, r);
    asm.mov_mr(Mem::base_disp(r.bump, BUMP_NEXT), r.temp);
    // Bit w % 64 of bitmap word w / 64, w = (block - base) / 8; `bts` on a register
    // takes the bit number mod 64. The block is base + 8w again after.
    asm.sub(r.block, Mem::base_disp(r.bump, BUMP_BASE));
    asm.shr(r.block, 3);
    asm.mov(r.temp, r.block);
    asm.shr(r.temp, 6);
    asm.mov(r.bump, Mem::base_disp(r.bump, bitmap));
    asm.lea(r.bump, Mem::sib(r.bump, index(r.temp), Scale::S8, 0));
    asm.mov(r.temp, Mem::base(r.bump));
    asm.bit_reg(BitOp::Bts, r.temp, r.block);
    asm.mov_mr(Mem::base(r.bump), r.temp);
    asm.mov_imm(r.bump, bump as i64);
    asm.mov(r.temp, Mem::base_disp(r.bump, BUMP_BASE));
    asm.lea(r.block, Mem::sib(r.temp, index(r.block), Scale::S8, 0));
}

/// `mov [at], word`: from a register, as an immediate when it fits one, else through
/// `through`.
fn store(asm: &mut Assembler, at: Mem, word: Operand, through: Reg) {
    match word {
        Operand::Reg(r) => asm.mov_mr(at, r),
        Operand::Imm(w) if i32::try_from(w).is_ok() => asm.mov_mi(at, Imm32(w as i32)),
        Operand::Imm(w) => {
            asm.mov_imm(through, w);
            asm.mov_mr(at, through);
        }
        Operand::Mem(m) => {
            asm.mov(through, m);
            asm.mov_mr(at, through);
        }
    }
}

/// `new_object`: an object block from the bump record at `bump`, its shape word
/// `empty_shape` (the rest of the block is zero already); the object in `r.block`,
/// falling through; `miss` when the runtime must allocate.
pub fn emit_new_object(asm: &mut Assembler, bump: u64, empty_shape: u64, r: Scratch, miss: Label) {
    emit_bump(
        asm,
        bump,
        Size::Bytes(OBJECT_BYTES as i32),
        BUMP_OBJECTS,
        r,
        miss,
    );
    let shape = Mem::base_disp(r.block, SHAPE_OFFSET);
    store(asm, shape, Operand::Imm(empty_shape as i64), r.temp);
    asm.add(r.block, Imm32(OBJECT_TAG as i32));
}

/// `new_array` (a literal of at most [`LITERAL_MAX`] elements): an array block from
/// the bump record at `bump`, its length and each element (`elements[i]`, none in a
/// scratch register) stored; the array in `r.block`, falling through; `miss` when
/// the runtime must allocate.
pub fn emit_new_array(
    asm: &mut Assembler,
    bump: u64,
    elements: &[Operand],
    r: Scratch,
    miss: Label,
) {
    let n = elements.len();
    assert!(n <= LITERAL_MAX, "a literal of {n} is not allocated inline");
    debug_assert!(!elements.iter().any(|&e| r.holds(e)), "{elements:?} {r:?}");
    let bytes = ARRAY_ELEMS_OFFSET + 8 * n as i32;
    emit_bump(asm, bump, Size::Bytes(bytes), BUMP_ARRAYS, r, miss);
    if n > 0 {
        asm.mov_mi(Mem::base_disp(r.block, ARRAY_LEN_OFFSET), Imm32(n as i32));
    }
    for (i, &element) in elements.iter().enumerate() {
        // The integer 0 is there already.
        if element != Operand::Imm(0) {
            let at = Mem::base_disp(r.block, ARRAY_ELEMS_OFFSET + 8 * i as i32);
            store(asm, at, element, r.temp);
        }
    }
    asm.add(r.block, Imm32(ARRAY_TAG as i32));
}

/// A jump to `miss` unless the word in `n` is an integer (its tag bit clear) in
/// `0..=FILL_MAX` (as unsigned: a negative one is huge), and at most
/// [`FILL_LOOP_MAX`] unless `value` is the integer 0.
fn check_count(asm: &mut Assembler, n: Reg, value: Operand, miss: Label) {
    asm.test(n.r32(), Imm32(INT_TAG_MASK as i32));
    asm.jcc(Cond::NE, miss);
    asm.cmp(n, Imm32(2 * FILL_MAX as i32));
    asm.jcc(Cond::A, miss);
    if value != Operand::Imm(0) {
        let short = asm.new_label();
        if !matches!(value, Operand::Imm(_)) {
            test_zero(asm, value);
            asm.jcc(Cond::E, short);
        }
        asm.cmp(n, Imm32(2 * FILL_LOOP_MAX as i32));
        asm.jcc(Cond::A, miss);
        asm.bind(short);
    }
}

/// Sets the flags as `test value, value` would (`value` in a register or memory):
/// equal when it is the integer 0.
fn test_zero(asm: &mut Assembler, value: Operand) {
    match value {
        Operand::Reg(v) => asm.test(v, v),
        Operand::Mem(m) => asm.cmp_mi(m, Imm32(0)),
        Operand::Imm(_) => unreachable!("a constant is known"),
    }
}

/// `new_array_fill` (`[value; n]`): when `n` is an integer in `0..=FILL_MAX` (and at
/// most [`FILL_LOOP_MAX`] unless `value` is the integer 0), an array block from the
/// bump record at `bump`, its length stored and, unless `value` is the integer 0
/// (which zeroed memory holds already), every element (a loop from the last); the
/// array in `r.block`, falling through. `miss` when `n` is anything else (the runtime
/// raises `type error`, `index out of bounds` or `out of memory`, allocates a block
/// of its own, or fills a long array faster) or when the runtime must allocate.
/// Emits nothing and returns false when the fast path would always miss.
pub fn emit_new_array_fill(
    asm: &mut Assembler,
    bump: u64,
    value: Operand,
    n: Operand,
    r: Scratch,
    miss: Label,
) -> bool {
    debug_assert!(!r.holds(value) && !r.holds(n), "{value:?} {n:?} {r:?}");
    let size = match n {
        Operand::Imm(word) => {
            if word & INT_TAG_MASK as i64 != 0 || !(0..=2 * FILL_MAX).contains(&word) {
                return false;
            }
            if word > 2 * FILL_LOOP_MAX {
                match value {
                    Operand::Imm(0) => {}
                    Operand::Imm(_) => return false,
                    _ => {
                        test_zero(asm, value);
                        asm.jcc(Cond::NE, miss);
                    }
                }
            }
            Size::Bytes(ARRAY_ELEMS_OFFSET + 4 * word as i32)
        }
        Operand::Reg(reg) => {
            check_count(asm, reg, value, miss);
            Size::Array(n)
        }
        Operand::Mem(m) => {
            asm.mov(r.temp, m);
            check_count(asm, r.temp, value, miss);
            Size::Array(n)
        }
    };
    emit_bump(asm, bump, size, BUMP_ARRAYS, r, miss);
    // The length, untagged, in `temp`: the loop's count.
    match n {
        Operand::Imm(word) => asm.mov_imm(r.temp, word >> 1),
        Operand::Reg(reg) => {
            asm.mov(r.temp, reg);
            asm.shr(r.temp, 1);
        }
        Operand::Mem(m) => {
            asm.mov(r.temp, m);
            asm.shr(r.temp, 1);
        }
    }
    asm.mov_mr(Mem::base_disp(r.block, ARRAY_LEN_OFFSET), r.temp);
    if value != Operand::Imm(0) {
        let filled = asm.new_label();
        // The value in a register (or an immediate), `bump` being free now.
        let value = match value {
            Operand::Mem(m) => {
                asm.mov(r.bump, m);
                Operand::Reg(r.bump)
            }
            Operand::Imm(w) if i32::try_from(w).is_err() => {
                asm.mov_imm(r.bump, w);
                Operand::Reg(r.bump)
            }
            other => other,
        };
        if let Operand::Reg(v) = value {
            // Zeroed memory holds the integer 0 already.
            asm.test(v, v);
            asm.jcc(Cond::E, filled);
        }
        if !matches!(n, Operand::Imm(word) if word > 0) {
            asm.test(r.temp, r.temp);
            asm.jcc(Cond::E, filled);
        }
        // Element i is at block + 8 + 8i: from i = n - 1 down to 0, at block + 8t
        // for t = n down to 1.
        let again = asm.new_label();
        asm.bind(again);
        let at = Mem::sib(r.block, index(r.temp), Scale::S8, ARRAY_ELEMS_OFFSET - 8);
        store(asm, at, value, r.bump);
        asm.sub(r.temp, Imm32(1));
        asm.jcc(Cond::NE, again);
        asm.bind(filled);
    }
    asm.add(r.block, Imm32(ARRAY_TAG as i32));
    true
}

#[cfg(test)]
pub(crate) mod tests {
    //! The emitters run alone on a hand-made chunk, with each tier's registers and
    //! operands in registers, in memory and constant: each wrapped in a function of a
    //! pointer to two words (the value and the count, or the elements), whose miss
    //! returns [`MISS`].

    use super::*;
    use stage1::heap::Bump;
    use stage2::CodeBlock;

    /// What a wrapped fast path returns on a miss (no value has this word).
    const MISS: u64 = 0xbad7;

    /// Baseline code's registers and optimized code's (stage 4's scratch registers).
    const TIERS: [Scratch; 2] = [
        Scratch {
            block: Reg::RAX,
            bump: Reg::R8,
            temp: Reg::R9,
        },
        Scratch {
            block: Reg::RAX,
            bump: Reg::R11,
            temp: Reg::RDX,
        },
    ];

    /// A chunk of zeroed words with its bitmaps, and its bump record (for the tests
    /// of the fast paths that allocate, here and in `baseline`).
    pub(crate) struct Chunk {
        pub(crate) memory: Vec<u64>,
        pub(crate) arrays: Vec<u64>,
        pub(crate) objects: Vec<u64>,
        pub(crate) bump: Box<Bump>,
    }

    impl Chunk {
        /// `words` zeroed words, `used` bytes counted already of `limit`.
        pub(crate) fn new(words: usize, used: usize, limit: usize) -> Chunk {
            let mut memory = vec![0u64; words];
            let mut arrays = vec![0u64; words.div_ceil(64)];
            let mut objects = vec![0u64; words.div_ceil(64)];
            let base = memory.as_mut_ptr() as usize;
            let bump = Box::new(Bump {
                next: base,
                end: base + 8 * words,
                used,
                limit,
                base,
                arrays: arrays.as_mut_ptr(),
                objects: objects.as_mut_ptr(),
            });
            Chunk {
                memory,
                arrays,
                objects,
                bump,
            }
        }

        /// The address of the bump record, for the code.
        pub(crate) fn bump(&self) -> u64 {
            &*self.bump as *const Bump as u64
        }

        /// The address of the chunk's first word.
        pub(crate) fn base(&self) -> u64 {
            self.memory.as_ptr() as u64
        }

        /// The word index of a tagged array in the chunk.
        fn word(&self, array: u64) -> usize {
            ((array - ARRAY_TAG) as usize - self.memory.as_ptr() as usize) / 8
        }

        fn marked(&self, word: usize) -> bool {
            self.arrays[word / 64] >> (word % 64) & 1 == 1
        }
    }

    /// `fn(*const u64) -> u64`: `rsi` and `rcx` loaded with the two words at `rdi`,
    /// then `emit` (given the miss label), its hit returning `rax`. None when `emit`
    /// emitted nothing.
    fn wrap(emit: impl FnOnce(&mut Assembler, Label) -> bool) -> Option<CodeBlock> {
        let mut asm = Assembler::new();
        asm.mov(Reg::RSI, Mem::base(Reg::RDI));
        asm.mov(Reg::RCX, Mem::base_disp(Reg::RDI, 8));
        let miss = asm.new_label();
        if !emit(&mut asm, miss) {
            return None;
        }
        asm.ret();
        asm.bind(miss);
        asm.mov_imm(Reg::RAX, MISS as i64);
        asm.ret();
        Some(asm.finish().expect("assembles"))
    }

    fn call(code: &CodeBlock, words: &[u64]) -> u64 {
        // SAFETY: the code reads the words at `rdi` (at least two, or as many as
        // the operands name) and writes only the chunk, its bitmap and its bump
        // record, which the caller keeps alive; it changes caller-saved registers.
        let f: extern "sysv64" fn(*const u64) -> u64 = unsafe { code.as_fn() };
        f(words.as_ptr())
    }

    /// The ways an operand word can reach a fast path: a register, memory, or a
    /// constant (`word` itself).
    fn places(reg: Reg, disp: i32, word: u64) -> [Operand; 3] {
        [
            Operand::Reg(reg),
            Operand::Mem(Mem::base_disp(Reg::RDI, disp)),
            Operand::Imm(word as i64),
        ]
    }

    #[test]
    fn fills_store_the_length_and_the_value_in_every_element() {
        let values = [0u64, 2, (-6i64) as u64, 0x7fff_ffff_ffff_fffe, 0x1234_5671];
        let lengths = [0u64, 1, 5, 16, 17, FILL_MAX as u64];
        for r in TIERS {
            for &v in &values {
                for n in lengths {
                    for value in places(Reg::RSI, 0, v) {
                        for count in places(Reg::RCX, 8, 2 * n) {
                            let what = format!("{r:?} {value:?} {count:?} v {v:#x} n {n}");
                            let chunk = Chunk::new(3 * 4096, 100, 1 << 30);
                            let code = wrap(|a, miss| {
                                emit_new_array_fill(a, chunk.bump(), value, count, r, miss)
                            });
                            // The integer 0 fills any small block (no store), any
                            // other value up to FILL_LOOP_MAX elements.
                            let inline = v == 0 || n <= FILL_LOOP_MAX as u64;
                            let Some(code) = code else {
                                let known =
                                    matches!((value, count), (Operand::Imm(_), Operand::Imm(_)));
                                assert!(!inline && known, "{what}");
                                continue;
                            };
                            let mut next = chunk.bump.next;
                            for _ in 0..2 {
                                let array = call(&code, &[v, 2 * n]);
                                if !inline {
                                    assert_eq!(array, MISS, "{what}");
                                    assert_eq!((chunk.bump.next, chunk.bump.used), (next, 100));
                                    continue;
                                }
                                assert_eq!(array & TAG_BITS, ARRAY_TAG, "{what}");
                                let w = chunk.word(array);
                                assert_eq!(w * 8, next - chunk.bump.base, "{what}");
                                assert_eq!(chunk.memory[w], n, "{what}");
                                let elements = &chunk.memory[w + 1..w + 1 + n as usize];
                                assert!(elements.iter().all(|&e| e == v), "{what}");
                                assert!(chunk.marked(w), "{what}");
                                next += 8 * (n as usize + 1);
                                assert_eq!(chunk.bump.next, next, "{what}");
                            }
                            let marks: u32 = chunk.arrays.iter().map(|m| m.count_ones()).sum();
                            if inline {
                                let bytes = 2 * 8 * (n as usize + 1);
                                assert_eq!(chunk.bump.used, 100 + bytes, "{what}");
                                assert_eq!(marks, 2, "{what}");
                            } else {
                                assert_eq!(marks, 0, "{what}");
                            }
                            assert!(chunk.objects.iter().all(|&m| m == 0), "{what}");
                        }
                    }
                }
            }
        }
    }

    /// The tag bits of a value.
    const TAG_BITS: u64 = stage1::value::TAG_MASK;

    #[test]
    fn fills_leave_other_counts_to_the_runtime() {
        // Not integers (an array, an object, a function), negative, past the limit.
        let counts = [
            0x1000 | ARRAY_TAG,
            0x1000 | OBJECT_TAG,
            (7 << 3) | stage1::value::FUNCTION_TAG,
            (-2i64) as u64,
            (-2i64 << 40) as u64,
            2 * (FILL_MAX as u64 + 1),
            2 * (1 << 28),
        ];
        for r in TIERS {
            for n in counts {
                for count in places(Reg::RCX, 8, n) {
                    let chunk = Chunk::new(1024, 0, 1 << 30);
                    let code = wrap(|a, miss| {
                        emit_new_array_fill(a, chunk.bump(), Operand::Reg(Reg::RSI), count, r, miss)
                    });
                    let Some(code) = code else {
                        assert!(matches!(count, Operand::Imm(_)), "{count:?}");
                        continue;
                    };
                    let before = (chunk.bump.next, chunk.bump.used);
                    assert_eq!(call(&code, &[2, n]), MISS, "{r:?} {count:?} {n:#x}");
                    assert_eq!((chunk.bump.next, chunk.bump.used), before);
                    assert!(chunk.arrays.iter().all(|&m| m == 0));
                }
            }
        }
    }

    #[test]
    fn fills_stop_at_the_heap_limit_and_the_chunk_end() {
        for r in TIERS {
            // Ten elements: 88 bytes. Exactly at the limit is allowed, past it not.
            let chunk = Chunk::new(1024, 1000, 1000 + 2 * 88);
            let code = wrap(|a, miss| {
                let (value, count) = (Operand::Reg(Reg::RSI), Operand::Reg(Reg::RCX));
                emit_new_array_fill(a, chunk.bump(), value, count, r, miss)
            })
            .unwrap();
            assert_ne!(call(&code, &[2, 20]), MISS);
            assert_ne!(call(&code, &[2, 20]), MISS);
            let before = (chunk.bump.next, chunk.bump.used);
            assert_eq!(call(&code, &[2, 20]), MISS, "past the limit");
            assert_eq!(call(&code, &[2, 0]), MISS, "even 8 bytes");
            assert_eq!((chunk.bump.next, chunk.bump.used), before);
            // A chunk of 12 words.
            let chunk = Chunk::new(11 + 1, 0, 1 << 30);
            let code = wrap(|a, miss| {
                let (value, count) = (Operand::Reg(Reg::RSI), Operand::Reg(Reg::RCX));
                emit_new_array_fill(a, chunk.bump(), value, count, r, miss)
            })
            .unwrap();
            assert_eq!(call(&code, &[2, 2 * 12]), MISS, "past the chunk's end");
            assert_eq!(chunk.bump.next, chunk.bump.base);
            assert_ne!(call(&code, &[2, 2 * 10]), MISS, "up to the chunk's end");
            assert_ne!(call(&code, &[2, 0]), MISS, "and one word after");
            assert_eq!(chunk.bump.next, chunk.bump.end);
            assert_eq!(chunk.memory, [10, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0]);
            assert_eq!(chunk.arrays[0], 1 | 1 << 11);
        }
    }

    #[test]
    fn literals_store_their_length_and_each_element() {
        for r in TIERS {
            for n in 0..=LITERAL_MAX {
                // Element i: a word of the argument block, a register, 0, a small
                // constant or a big one.
                let words: Vec<u64> = (0..n as u64).map(|i| 2 * i + 40).collect();
                let elements: Vec<Operand> = (0..n)
                    .map(|i| match i % 5 {
                        0 => Operand::Mem(Mem::base_disp(Reg::RDI, 8 * i as i32)),
                        1 => Operand::Reg(Reg::RSI),
                        2 => Operand::Imm(0),
                        3 => Operand::Imm(2 * i as i64),
                        _ => Operand::Imm(0x1234_5678_9abc_def0),
                    })
                    .collect();
                let expected: Vec<u64> = (0..n)
                    .map(|i| match i % 5 {
                        0 => words[i],
                        1 => words[0],
                        2 => 0,
                        3 => 2 * i as u64,
                        _ => 0x1234_5678_9abc_def0,
                    })
                    .collect();
                let chunk = Chunk::new(256, 8, 1 << 20);
                let code = wrap(|a, miss| {
                    emit_new_array(a, chunk.bump(), &elements, r, miss);
                    true
                })
                .unwrap();
                let mut args = words.clone();
                args.resize(n.max(2), 0);
                let array = call(&code, &args);
                assert_eq!(array & TAG_BITS, ARRAY_TAG);
                let w = chunk.word(array);
                assert_eq!(w, 0);
                assert_eq!(chunk.memory[0], n as u64, "{r:?} {n}");
                assert_eq!(chunk.memory[1..=n], expected[..], "{r:?} {n}");
                assert!(chunk.memory[n + 1..].iter().all(|&x| x == 0));
                assert!(chunk.marked(0));
                assert_eq!(chunk.bump.used, 8 + 8 * (n + 1));
            }
        }
    }

    #[test]
    fn objects_get_the_empty_shape_and_a_mark_of_their_own() {
        for r in TIERS {
            let chunk = Chunk::new(64, 0, 1 << 20);
            let code = wrap(|a, miss| {
                emit_new_array(a, chunk.bump(), &[Operand::Imm(2)], r, miss);
                emit_new_object(a, chunk.bump(), 0x5_0000_0040, r, miss);
                true
            })
            .unwrap();
            let object = call(&code, &[0, 0]);
            assert_eq!(object & TAG_BITS, OBJECT_TAG);
            let w = (object - OBJECT_TAG - chunk.bump.base as u64) as usize / 8;
            assert_eq!(w, 2, "after the array's two words");
            assert_eq!(chunk.memory[..3], [1, 2, 0x5_0000_0040]);
            assert_eq!((chunk.arrays[0], chunk.objects[0]), (1, 1 << 2));
            assert_eq!(chunk.bump.used, 16 + OBJECT_BYTES);
        }
    }
}
