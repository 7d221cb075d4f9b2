//! The heap: arrays and objects, with a size limit and no garbage collector yet.
//!
//! An array is one block of 8-byte aligned memory, `len: u64` then `len` values, so
//! that native code (stage 3) reads and writes elements directly through the tagged
//! pointer (see `value::ARRAY_LEN_OFFSET`). What an object looks like is the heap's
//! [`ObjectModel`]'s business ([`crate::objects`]): stage 1's keeps `(field id,
//! value)` pairs in insertion order, that native code reaches only through runtime
//! functions; stage 6 installs shapes. A heap is its memory ([`Blocks`], which the
//! model carves its objects from) and its model. Everything lives until the `Heap`
//! is dropped, which frees it all.
//!
//! The limit bounds the memory the heap really takes. Blocks up to [`SMALL_MAX`]
//! bytes are carved from 1 MiB chunks of the heap's own, one after the other, so an
//! empty array costs its 8 bytes and nothing else: no allocator header, no rounding,
//! no list of pointers to free. The end of a chunk too short for the next block is
//! counted as used. A bigger block has an allocation of its own, counted with a page
//! for the allocator's header and rounding. A field array that grows leaves the old
//! one behind, counted. So `used_bytes` is what the heap holds from the system, less
//! the untouched rest of the current chunk.
//!
//! The invariant every `unsafe` block here relies on: a heap value (tag array or
//! object) that a block is read through was made by this same `Heap`, which is still
//! alive. Who keeps it:
//! - [`Value`] has no safe way to make a word with an array or object tag: only the
//!   `alloc_*` methods make one, and [`Value::from_bits`] is `unsafe`;
//! - the public methods that follow a value ([`Heap::array_get`], [`Heap::get_field`],
//!   ..) and those that store one in a block check it first with [`Heap::holds`]
//!   and panic on a value of another heap (or of a heap that is gone): safe code
//!   cannot break the invariant, whatever values it mixes;
//! - the hot paths skip that check: the interpreter (inside this crate) and stage 3's
//!   runtime call the `*_unchecked` methods, whose callers promise the invariant.
//!   The interpreter keeps it by checking what comes in ([`Interpreter::enter`]'s
//!   locals and operands, with [`Heap::holds`]): every other value of its run is a
//!   constant, a function value, or one this heap returned.
//!
//! [`Heap::holds`] is exact and cheap: each chunk has a bitmap of the words where an
//! array or an object starts (1 bit per word for each, 3% of a chunk, the heap's own
//! bookkeeping, not counted in `used_bytes`), and blocks of their own are in a set.
//!
//! A dropped heap does not give its chunks back to the system at once: up to
//! [`POOL_CHUNKS`] of them wait in a process-wide pool for the next heap, zeroed and
//! with empty bitmaps again. Engines make a fresh heap for every run, and a fresh
//! mapping costs a page fault and the kernel's zeroing for every page a run touches;
//! a pooled chunk costs only the clearing of the part the last heap used (matmul's
//! stage 3 run spent half its time in those faults). Only the chunks' memory is
//! shared this way, never a value: a chunk belongs to one heap at a time, and its
//! cleared bitmaps make [`Heap::holds`] forget what the last heap made there.
//!
//! Blocks of their own are kept the same way, up to [`POOL_LARGE_BYTES`] of them (the
//! most recently dropped): a heap that needs a big block takes a pooled one of about
//! its size ([`LARGE_FIT`]) and clears the part it uses, if it asked for zeros. Left to
//! the allocator, whether a freed megabyte block comes back without faults depends on
//! its heuristics and on the thread: the main thread's arena gives the top of its
//! heap back to the system past a threshold, so a run on it (stage 5 runs on the
//! caller's thread) faulted in every page of its big arrays afresh at every run, where
//! the same run on another thread's arena (stage 3's runner) did not (`build`, a
//! growing array of 8 MiB: 1.8 times stage 3's time in the same process). What a block
//! costs against the limit depends on its request only, never on the pooled block it
//! got, so `out of memory` comes at the same point in every run.
//!
//! [`Interpreter::enter`]: crate::interp::Interpreter::enter

use std::alloc::{self, Layout};
use std::collections::HashSet;
use std::mem;
use std::sync::Mutex;

use crate::error::ErrorKind;
use crate::objects::{by_name, ByName, ObjectModel, Site};
use crate::value::{Kind, Value, ARRAY_ELEMS_OFFSET, ARRAY_LEN_OFFSET, ARRAY_TAG, TAG_MASK};

/// The default heap limit: 2 GiB, so the default heap holds at least 1 GiB of values.
pub const DEFAULT_HEAP_LIMIT: usize = 2 << 30;

pub use crate::limits::MAX_ARRAY_LEN;

// Native code reads an array through its tagged pointer at these offsets: the block
// this heap makes is the length word, then the elements, one word each.
const _: () = {
    assert!(ARRAY_LEN_OFFSET == 0);
    assert!(ARRAY_ELEMS_OFFSET as usize == mem::size_of::<u64>());
    assert!(mem::size_of::<Value>() == mem::size_of::<u64>());
};

/// Bytes of each chunk that small blocks are carved from.
const CHUNK_BYTES: usize = 1 << 20;
/// The most chunks that dropped heaps keep for the next heaps (see the module docs):
/// 16 MiB, what a heap of small runs needs many times over, and a bound on the
/// memory that stays with the process between runs.
pub const POOL_CHUNKS: usize = 16;
/// The chunks dropped heaps left for the next ones, each all zero and with empty
/// bitmaps.
static POOL: Mutex<Vec<Chunk>> = Mutex::new(Vec::new());
/// The most bytes of blocks of their own that dropped heaps keep for the next heaps
/// (the most recently dropped; see the module docs): what a run of the benches'
/// kernels allocates in big arrays several times over (`build` needs 16 MiB), and a
/// bound on the memory that stays with the process between runs.
pub const POOL_LARGE_BYTES: usize = 64 << 20;
/// A pooled block serves a request of `bytes` when it holds at least `bytes` and at
/// most a quarter more: the memory a request may take beyond its size, unused.
pub const LARGE_FIT: usize = 4;
/// The blocks of their own that dropped heaps left for the next ones (contents
/// unspecified), oldest first.
static LARGE_POOL: Mutex<LargePool> = Mutex::new(LargePool {
    blocks: Vec::new(),
    bytes: 0,
});
/// The biggest block carved from a chunk: at most this much of a chunk's end is lost
/// (3%); a bigger block gets an allocation of its own.
pub const SMALL_MAX: usize = 32 << 10;
/// What a block of its own costs beyond its bytes: the allocator's header and its
/// rounding to pages (a block this big is mapped, not carved from the allocator's
/// arena).
const LARGE_OVERHEAD: usize = 4096;

/// The heap's allocation pointer and count: what native code reads and bumps when it
/// allocates inline (stage 6), at the offsets `BUMP_*` below. The rule it follows is
/// the one [`Blocks`] follows for a small block: when `next + bytes <= end` and
/// `used + bytes <= limit`, the block is at `next` (zeroed memory), `next` and `used`
/// grow by `bytes`, and the block's start is marked in the current chunk's bitmap
/// (`objects` or `arrays`, bit `w % 64` of word `w / 64` for `w = (block - base) / 8`);
/// otherwise the runtime allocates (and raises `out of memory` past the limit).
#[derive(Debug)]
#[repr(C)]
pub struct Bump {
    /// The free part of the current chunk, `next..end` (0..0 before the first).
    pub next: usize,
    /// The end of the current chunk.
    pub end: usize,
    /// Bytes counted against the limit.
    pub used: usize,
    /// The most bytes the heap will hold.
    pub limit: usize,
    /// The current chunk's first byte (0 before the first chunk).
    pub base: usize,
    /// The current chunk's bitmap of array starts.
    pub arrays: *mut u64,
    /// The current chunk's bitmap of object starts.
    pub objects: *mut u64,
}

/// Offset of [`Bump::next`], for native code.
pub const BUMP_NEXT: i32 = mem::offset_of!(Bump, next) as i32;
/// Offset of [`Bump::end`], for native code.
pub const BUMP_END: i32 = mem::offset_of!(Bump, end) as i32;
/// Offset of [`Bump::used`], for native code.
pub const BUMP_USED: i32 = mem::offset_of!(Bump, used) as i32;
/// Offset of [`Bump::limit`], for native code.
pub const BUMP_LIMIT: i32 = mem::offset_of!(Bump, limit) as i32;
/// Offset of [`Bump::base`], for native code.
pub const BUMP_BASE: i32 = mem::offset_of!(Bump, base) as i32;
/// Offset of [`Bump::arrays`], for native code.
pub const BUMP_ARRAYS: i32 = mem::offset_of!(Bump, arrays) as i32;
/// Offset of [`Bump::objects`], for native code.
pub const BUMP_OBJECTS: i32 = mem::offset_of!(Bump, objects) as i32;

/// The memory of a heap: chunks, blocks of their own, and which words start an array
/// or an object. An [`ObjectModel`] carves its objects from it.
#[derive(Debug)]
pub struct Blocks {
    /// The allocation pointer and count, boxed so that its address stays the same
    /// while the heap moves (native code holds it).
    bump: Box<Bump>,
    /// Every chunk small blocks were carved from (each `CHUNK_BYTES`, all zero when
    /// this heap took it), sorted by address; given back to the pool on drop.
    chunks: Vec<Chunk>,
    /// Every block of its own; given back to the large pool (or freed) on drop.
    large: Vec<Large>,
    /// The addresses of the arrays among the blocks of their own.
    large_arrays: HashSet<usize>,
    /// The index in `chunks` of the chunk `next..end` is in.
    current: usize,
}

/// The memory of every array and object of one run, with byte accounting, and the
/// object model that says what an object is (see [`crate::objects`]).
pub struct Heap {
    blocks: Blocks,
    model: Box<dyn ObjectModel>,
    /// The model is stage 1's [`ByName`]: field accesses call it directly (inlined),
    /// not through the trait object — a devirtualized call behind one predictable
    /// branch, the interpreter's own monomorphic inline cache.
    by_name: bool,
}

impl std::fmt::Debug for Heap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Heap")
            .field("blocks", &self.blocks)
            .field("model", &self.model.name())
            .finish()
    }
}

/// A chunk and where its arrays and objects start, one bit per word for each.
#[derive(Debug)]
struct Chunk {
    base: *mut u8,
    arrays: Box<[u64]>,
    objects: Box<[u64]>,
    /// How many bytes from `base` blocks were carved from, once the heap moved on to
    /// another chunk (the current chunk's is `Heap::next`): all beyond is still zero.
    filled: usize,
}

// SAFETY: a chunk owns its memory outright (it came from `alloc_zeroed` and only the
// one heap or the pool that holds the `Chunk` uses it), so moving it to another
// thread moves sole ownership with it.
unsafe impl Send for Chunk {}

impl Chunk {
    /// A chunk from the pool, or a fresh one; `None` when the system has no memory.
    fn take() -> Option<Chunk> {
        if let Some(chunk) = POOL.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Some(chunk);
        }
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { alloc::alloc_zeroed(Blocks::chunk_layout()) };
        (!base.is_null()).then(|| Chunk {
            base,
            arrays: vec![0; MAP_WORDS].into_boxed_slice(),
            objects: vec![0; MAP_WORDS].into_boxed_slice(),
            filled: 0,
        })
    }

    /// Gives the chunk to the pool, zeroed and with empty bitmaps, or back to the
    /// system when the pool is full. Its heap is being dropped: no value of it may be
    /// used after this.
    fn give_back(mut self) {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() >= POOL_CHUNKS {
            drop(pool);
            // SAFETY: `base` came from `alloc_zeroed` with the chunk layout and is
            // freed once, here (nothing in a heap block needs dropping).
            unsafe { alloc::dealloc(self.base, Blocks::chunk_layout()) };
            return;
        }
        // Only the first `filled` bytes were handed out; the rest is still zero.
        // SAFETY: `base..base + filled` is inside the chunk, which this `Chunk` owns
        // alone now that its heap is gone.
        unsafe { self.base.write_bytes(0, self.filled) };
        let words = self.filled.div_ceil(8 * 64);
        self.arrays[..words].fill(0);
        self.objects[..words].fill(0);
        self.filled = 0;
        pool.push(self);
    }
}

/// A block of its own: memory from the allocator with `layout` (its size a multiple
/// of the page), owned by one heap or by the pool.
#[derive(Debug)]
struct Large {
    block: *mut u8,
    layout: Layout,
}

// SAFETY: a block of its own is owned outright by the one heap or the pool that holds
// the `Large` (as a chunk is), so moving it to another thread moves sole ownership.
unsafe impl Send for Large {}

impl Large {
    /// Frees the block: it is nobody's any more.
    fn free(self) {
        // SAFETY: `block` came from `alloc`/`alloc_zeroed` with `layout`, and is
        // freed once, here (the `Large` is consumed).
        unsafe { alloc::dealloc(self.block, self.layout) };
    }
}

/// The blocks of their own that wait for the next heaps, and their bytes in all.
struct LargePool {
    blocks: Vec<Large>,
    bytes: usize,
}

impl LargePool {
    /// The smallest pooled block that serves a request of `bytes` (see
    /// [`LARGE_FIT`]), out of the pool.
    fn take(&mut self, bytes: usize) -> Option<Large> {
        let most = bytes.saturating_add(bytes / LARGE_FIT);
        let best = (0..self.blocks.len())
            .filter(|&i| (bytes..=most).contains(&self.blocks[i].layout.size()))
            .min_by_key(|&i| self.blocks[i].layout.size())?;
        let large = self.blocks.remove(best);
        self.bytes -= large.layout.size();
        Some(large)
    }

    /// Keeps `large` for the next heaps, freeing the oldest blocks beyond
    /// [`POOL_LARGE_BYTES`]; returns what is to be freed.
    fn give_back(&mut self, large: Large, freed: &mut Vec<Large>) {
        if large.layout.size() > POOL_LARGE_BYTES {
            freed.push(large);
            return;
        }
        self.bytes += large.layout.size();
        self.blocks.push(large);
        let mut first = 0;
        while self.bytes > POOL_LARGE_BYTES {
            self.bytes -= self.blocks[first].layout.size();
            first += 1;
        }
        freed.extend(self.blocks.drain(..first));
    }
}

/// The `u64`s of a chunk's bitmap: one bit per word.
const MAP_WORDS: usize = CHUNK_BYTES / 8 / 64;

/// Sets the bit of the word at byte `offset` in `map`.
fn mark(map: &mut [u64], offset: usize) {
    let word = offset / 8;
    map[word / 64] |= 1 << (word % 64);
}

/// Whether the bit of the word at byte `offset` is set in `map`.
fn marked(map: &[u64], offset: usize) -> bool {
    let word = offset / 8;
    map[word / 64] & (1 << (word % 64)) != 0
}

impl Blocks {
    /// No memory yet, and at most `limit_bytes` to come.
    fn new(limit_bytes: usize) -> Blocks {
        Blocks {
            bump: Box::new(Bump {
                next: 0,
                end: 0,
                used: 0,
                limit: limit_bytes,
                base: 0,
                arrays: std::ptr::null_mut(),
                objects: std::ptr::null_mut(),
            }),
            chunks: Vec::new(),
            large: Vec::new(),
            large_arrays: HashSet::new(),
            current: 0,
        }
    }

    /// Bytes in use: every block handed out, chunk ends too short to use, and the
    /// allocator's share of the blocks of their own.
    pub fn used_bytes(&self) -> usize {
        self.bump.used
    }

    /// The most bytes this heap will hold.
    pub fn limit_bytes(&self) -> usize {
        self.bump.limit
    }

    /// A block for an object: `bytes` (a multiple of 8, at most [`SMALL_MAX`]) of
    /// zeroed memory, counted against the limit and marked as an object's start (so
    /// that [`Blocks::holds`] knows it).
    pub fn alloc_object_block(&mut self, bytes: usize) -> Result<*mut u64, ErrorKind> {
        assert!(bytes <= SMALL_MAX, "an object block is small");
        let block = self.alloc_block(bytes, true)?;
        self.mark_start(block as usize, bytes, false);
        Ok(block as *mut u64)
    }

    /// `bytes` (a multiple of 8, not 0) of zeroed memory counted against the limit,
    /// not an array or object of its own: an object's field or slot array.
    pub fn alloc_raw(&mut self, bytes: usize) -> Result<*mut u64, ErrorKind> {
        Ok(self.alloc_block(bytes, true)? as *mut u64)
    }

    /// Counts `bytes` more, or fails with `out of memory` past the limit.
    fn reserve(&mut self, bytes: usize) -> Result<(), ErrorKind> {
        match self.bump.used.checked_add(bytes) {
            Some(total) if total <= self.bump.limit => {
                self.bump.used = total;
                Ok(())
            }
            _ => Err(ErrorKind::OutOfMemory),
        }
    }

    /// `bytes` (a multiple of 8, not 0) of 8-byte aligned memory, counted against the
    /// limit: zeroed, or (when `zeroed` is false and the block is big) uninitialised.
    fn alloc_block(&mut self, bytes: usize, zeroed: bool) -> Result<*mut u8, ErrorKind> {
        debug_assert!(bytes > 0 && bytes.is_multiple_of(8));
        if bytes > SMALL_MAX {
            return self.alloc_large(bytes, zeroed);
        }
        if self.bump.end - self.bump.next < bytes {
            // A new chunk; what is left of the current one is lost, and counted.
            let lost = self.bump.end - self.bump.next;
            self.reserve(lost + bytes)?;
            let Some(chunk) = self.chunks.try_reserve(1).ok().and_then(|()| Chunk::take()) else {
                self.bump.used -= lost + bytes;
                return Err(ErrorKind::OutOfMemory);
            };
            if let Some(old) = self.chunks.get_mut(self.current) {
                old.filled = self.bump.next - old.base as usize;
            }
            let base = chunk.base;
            let at = self.chunks.partition_point(|c| c.base < base);
            self.current = at;
            self.chunks.insert(at, chunk);
            let chunk = &mut self.chunks[at];
            *self.bump = Bump {
                next: base as usize,
                end: base as usize + CHUNK_BYTES,
                base: base as usize,
                arrays: chunk.arrays.as_mut_ptr(),
                objects: chunk.objects.as_mut_ptr(),
                ..*self.bump
            };
        } else {
            self.reserve(bytes)?;
        }
        let block = self.bump.next as *mut u8;
        self.bump.next += bytes;
        Ok(block)
    }

    /// A block of its own, for `alloc_block`: a pooled one that fits, or a new one.
    #[cold]
    fn alloc_large(&mut self, bytes: usize, zeroed: bool) -> Result<*mut u8, ErrorKind> {
        // The block's size is its request rounded up to the page; what it costs does
        // not depend on which block serves it.
        let size = bytes
            .checked_next_multiple_of(4096)
            .ok_or(ErrorKind::OutOfMemory)?;
        let layout = Layout::from_size_align(size, 8).map_err(|_| ErrorKind::OutOfMemory)?;
        let cost = size
            .checked_add(LARGE_OVERHEAD)
            .ok_or(ErrorKind::OutOfMemory)?;
        self.reserve(cost)?;
        if self.large.try_reserve(1).is_err() {
            self.bump.used -= cost;
            return Err(ErrorKind::OutOfMemory);
        }
        let pooled = LARGE_POOL
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(size);
        if let Some(large) = pooled {
            let block = large.block;
            if zeroed {
                // SAFETY: the block holds at least `size >= bytes` bytes, and is this
                // heap's alone now.
                unsafe { block.write_bytes(0, bytes) };
            }
            self.large.push(large);
            return Ok(block);
        }
        // SAFETY: the layout has a non-zero size.
        let block = unsafe {
            if zeroed {
                // The allocator can hand out untouched pages for large blocks.
                alloc::alloc_zeroed(layout)
            } else {
                alloc::alloc(layout)
            }
        };
        if block.is_null() {
            self.bump.used -= cost;
            return Err(ErrorKind::OutOfMemory);
        }
        self.large.push(Large { block, layout });
        Ok(block)
    }

    /// The layout of a chunk. Its alignment is the allocator's own (16), so that
    /// `alloc_zeroed` can hand out fresh pages untouched instead of clearing them.
    fn chunk_layout() -> Layout {
        Layout::from_size_align(CHUNK_BYTES, 16).expect("a chunk's layout is valid")
    }

    /// Whether `v` can be used with this heap: it is not an array or object, or it is
    /// one this heap made (so it is alive). Exact: a word inside a block, or a block
    /// of the other kind, is not held.
    pub fn holds(&self, v: Value) -> bool {
        let is_array = match v.kind() {
            Kind::Array => true,
            Kind::Object => false,
            _ => return true,
        };
        let p = (v.bits() & !TAG_MASK) as usize;
        let after = self.chunks.partition_point(|c| c.base as usize <= p);
        if let Some(chunk) = after.checked_sub(1).map(|i| &self.chunks[i]) {
            let offset = p - chunk.base as usize;
            if offset < CHUNK_BYTES {
                let map = if is_array {
                    &chunk.arrays
                } else {
                    &chunk.objects
                };
                return marked(map, offset);
            }
        }
        is_array && self.large_arrays.contains(&p)
    }

    /// Records that an array (or an object) of `bytes` starts at `block`, just
    /// carved or allocated.
    fn mark_start(&mut self, block: usize, bytes: usize, is_array: bool) {
        if bytes > SMALL_MAX {
            debug_assert!(is_array);
            self.large_arrays.insert(block);
            return;
        }
        let chunk = &mut self.chunks[self.current];
        let map = if is_array {
            &mut chunk.arrays
        } else {
            &mut chunk.objects
        };
        mark(map, block - chunk.base as usize);
    }
}

impl Heap {
    /// An empty heap that holds at most `limit_bytes` of arrays and objects, with
    /// stage 1's objects ([`ByName`]).
    pub fn new(limit_bytes: usize) -> Heap {
        Heap::with_model(limit_bytes, Box::new(ByName))
    }

    /// An empty heap whose objects are `model`'s (stage 6 installs its shapes).
    pub fn with_model(limit_bytes: usize, model: Box<dyn ObjectModel>) -> Heap {
        Heap {
            blocks: Blocks::new(limit_bytes),
            by_name: model.as_any().is::<ByName>(),
            model,
        }
    }

    /// The object model.
    pub fn model(&self) -> &dyn ObjectModel {
        &*self.model
    }

    /// The object model, mutable.
    pub fn model_mut(&mut self) -> &mut dyn ObjectModel {
        &mut *self.model
    }

    /// Whether field accesses and value calls should tell their sites: the model
    /// keeps caches by site (stage 1's keeps none).
    pub fn wants_sites(&self) -> bool {
        !self.by_name
    }

    /// A `call_value` at `site` calls function `callee`: the model records it, if it
    /// keeps call-target caches (stage 1's keeps none, and is not even asked).
    #[inline(always)]
    pub fn call_target(&mut self, site: Site, callee: crate::bytecode::FnId) {
        if !self.by_name {
            self.model.call_target(site, callee);
        }
    }

    /// The heap's memory.
    pub fn blocks(&self) -> &Blocks {
        &self.blocks
    }

    /// The allocation pointer that native code bumps (see [`Bump`]): its address
    /// stays the same for the heap's life.
    pub fn bump(&mut self) -> *mut Bump {
        &mut *self.blocks.bump
    }

    /// Bytes in use (see [`Blocks::used_bytes`]).
    pub fn used_bytes(&self) -> usize {
        self.blocks.used_bytes()
    }

    /// The most bytes this heap will hold.
    pub fn limit_bytes(&self) -> usize {
        self.blocks.limit_bytes()
    }

    /// Whether `v` can be used with this heap (see [`Blocks::holds`]).
    pub fn holds(&self, v: Value) -> bool {
        self.blocks.holds(v)
    }

    /// Panics unless this heap [holds](Heap::holds) `v`.
    #[inline]
    #[track_caller]
    fn check(&self, v: Value) {
        assert!(
            self.holds(v),
            "a value of another heap, or of a heap that is gone"
        );
    }

    /// Allocates an array block of `len` elements, filled with `fill`.
    fn alloc_array_block(&mut self, len: usize, fill: Value) -> Result<Value, ErrorKind> {
        // Cannot overflow: len <= 2^28 (or a slice's length, far below 2^61).
        let bytes = ARRAY_ELEMS_OFFSET as usize + len * 8;
        // Zeroed memory already holds `len` copies of the integer 0 (word 0).
        let block = self.blocks.alloc_block(bytes, fill == Value::ZERO)? as *mut u64;
        // SAFETY: `block` is a fresh block of 1 + len aligned u64 words.
        unsafe {
            block.write(len as u64);
            if fill != Value::ZERO {
                let elems = block.add(1);
                for i in 0..len {
                    elems.add(i).write(fill.bits());
                }
            }
        }
        self.blocks.mark_start(block as usize, bytes, true);
        // SAFETY: a fresh array block of this heap, tagged as an array.
        Ok(unsafe { Value::from_bits(block as u64 | ARRAY_TAG) })
    }

    /// `[fill; n]`: `index out of bounds` when `n < 0`, `out of memory` when
    /// `n > 2^28` (before trying) or when the heap is full. Every element is `fill`.
    ///
    /// # Panics
    /// When `fill` is an array or object of another heap (see [`Heap::holds`]).
    pub fn alloc_array_fill(&mut self, fill: Value, n: i64) -> Result<Value, ErrorKind> {
        self.check(fill);
        // SAFETY: `fill` was just checked.
        unsafe { self.alloc_array_fill_unchecked(fill, n) }
    }

    /// [`Heap::alloc_array_fill`] without the check of `fill`.
    ///
    /// # Safety
    /// `fill` is not an array or object, or this heap made it ([`Heap::holds`]).
    pub unsafe fn alloc_array_fill_unchecked(
        &mut self,
        fill: Value,
        n: i64,
    ) -> Result<Value, ErrorKind> {
        if n < 0 {
            return Err(ErrorKind::IndexOutOfBounds);
        }
        if n > MAX_ARRAY_LEN {
            return Err(ErrorKind::OutOfMemory);
        }
        self.alloc_array_block(n as usize, fill)
    }

    /// A new array holding a copy of `elems`.
    ///
    /// # Panics
    /// When an element is an array or object of another heap (see [`Heap::holds`]).
    pub fn alloc_array(&mut self, elems: &[Value]) -> Result<Value, ErrorKind> {
        for &v in elems {
            self.check(v);
        }
        // SAFETY: every element was just checked.
        unsafe { self.alloc_array_unchecked(elems) }
    }

    /// [`Heap::alloc_array`] without the checks of the elements.
    ///
    /// # Safety
    /// Every element is not an array or object, or this heap made it ([`Heap::holds`]).
    pub unsafe fn alloc_array_unchecked(&mut self, elems: &[Value]) -> Result<Value, ErrorKind> {
        let array = self.alloc_array_block(elems.len(), Value::ZERO)?;
        // SAFETY: `array` is an array this heap just made.
        unsafe { self.array_elems_mut_unchecked(array) }.copy_from_slice(elems);
        Ok(array)
    }

    /// A new object with no fields, as the heap's object model makes it.
    pub fn alloc_object(&mut self) -> Result<Value, ErrorKind> {
        self.model.new_object(&mut self.blocks)
    }

    /// The untagged block of an array value.
    #[inline(always)]
    fn block(array: Value) -> *mut u64 {
        debug_assert_eq!(array.kind(), Kind::Array);
        (array.bits() & !TAG_MASK) as *mut u64
    }

    /// The elements of `array`, an array.
    ///
    /// # Panics
    /// When `array` is not an array, or is one of another heap.
    pub fn array_elems(&self, array: Value) -> &[Value] {
        self.check(array);
        // SAFETY: `array` was just checked.
        unsafe { self.array_elems_unchecked(array) }
    }

    /// [`Heap::array_elems`] without the check that this heap made `array`.
    ///
    /// # Safety
    /// `array` is not an array or object, or this heap made it ([`Heap::holds`]).
    #[inline(always)]
    pub unsafe fn array_elems_unchecked(&self, array: Value) -> &[Value] {
        assert_eq!(array.kind(), Kind::Array, "array_elems of a non-array");
        let block = Heap::block(array);
        // SAFETY: by the caller's promise `block` is a live array block of this heap:
        // a u64 length followed by that many initialised words, and `Value` is a
        // transparent u64. The shared borrow of `self` keeps writers out meanwhile.
        unsafe { std::slice::from_raw_parts(block.add(1) as *const Value, *block as usize) }
    }

    /// [`Heap::array_elems`], mutable.
    ///
    /// # Safety
    /// As for [`Heap::array_elems_unchecked`]; and the caller stores in the slice only
    /// values that are not arrays or objects or that this heap made.
    #[inline(always)]
    pub unsafe fn array_elems_mut_unchecked(&mut self, array: Value) -> &mut [Value] {
        assert_eq!(array.kind(), Kind::Array, "array_elems_mut of a non-array");
        let block = Heap::block(array);
        // SAFETY: as in `array_elems_unchecked`; the exclusive borrow of `self` makes
        // this the only reference to the block's elements.
        unsafe { std::slice::from_raw_parts_mut(block.add(1) as *mut Value, *block as usize) }
    }

    /// `len(a)`: `type error` when `a` is not an array.
    ///
    /// # Panics
    /// When `a` is an array of another heap.
    pub fn array_len(&self, a: Value) -> Result<i64, ErrorKind> {
        self.check(a);
        // SAFETY: `a` was just checked.
        unsafe { self.array_len_unchecked(a) }
    }

    /// [`Heap::array_len`] without the check of `a`.
    ///
    /// # Safety
    /// `a` is not an array or object, or this heap made it ([`Heap::holds`]).
    #[inline(always)]
    pub unsafe fn array_len_unchecked(&self, a: Value) -> Result<i64, ErrorKind> {
        if a.kind() != Kind::Array {
            return Err(ErrorKind::TypeError);
        }
        // SAFETY: the caller's promise.
        Ok(unsafe { self.array_elems_unchecked(a) }.len() as i64)
    }

    /// `a[i]`: `type error` unless `a` is an array and `i` an integer, then
    /// `index out of bounds` unless `0 <= i < len(a)`.
    ///
    /// # Panics
    /// When `a` is an array or object of another heap.
    pub fn array_get(&self, a: Value, i: Value) -> Result<Value, ErrorKind> {
        self.check(a);
        // SAFETY: `a` was just checked.
        unsafe { self.array_get_unchecked(a, i) }
    }

    /// [`Heap::array_get`] without the check of `a`.
    ///
    /// # Safety
    /// `a` is not an array or object, or this heap made it ([`Heap::holds`]).
    #[inline(always)]
    pub unsafe fn array_get_unchecked(&self, a: Value, i: Value) -> Result<Value, ErrorKind> {
        if a.kind() != Kind::Array || !i.is_int() {
            return Err(ErrorKind::TypeError);
        }
        // SAFETY: the caller's promise.
        let elems = unsafe { self.array_elems_unchecked(a) };
        // A negative index becomes a huge usize, out of bounds like any other.
        elems
            .get(i.as_int() as usize)
            .copied()
            .ok_or(ErrorKind::IndexOutOfBounds)
    }

    /// `a[i] = v`, with the checks of [`Heap::array_get`].
    ///
    /// # Panics
    /// When `a` or `v` is an array or object of another heap.
    pub fn array_set(&mut self, a: Value, i: Value, v: Value) -> Result<(), ErrorKind> {
        self.check(a);
        self.check(v);
        // SAFETY: `a` and `v` were just checked.
        unsafe { self.array_set_unchecked(a, i, v) }
    }

    /// [`Heap::array_set`] without the checks of `a` and `v`.
    ///
    /// # Safety
    /// `a` and `v` are each not an array or object, or this heap made it
    /// ([`Heap::holds`]).
    #[inline(always)]
    pub unsafe fn array_set_unchecked(
        &mut self,
        a: Value,
        i: Value,
        v: Value,
    ) -> Result<(), ErrorKind> {
        if a.kind() != Kind::Array || !i.is_int() {
            return Err(ErrorKind::TypeError);
        }
        // SAFETY: the caller's promise, for `a` and for `v` stored in it.
        let slot = unsafe { self.array_elems_mut_unchecked(a) }
            .get_mut(i.as_int() as usize)
            .ok_or(ErrorKind::IndexOutOfBounds)?;
        *slot = v;
        Ok(())
    }

    /// Field `i` of object `o` in insertion order, with its value (`None` past the
    /// last): how `print` walks an object.
    ///
    /// # Safety
    /// This heap made `o`, an object ([`Heap::holds`]).
    pub unsafe fn object_field_at_unchecked(&self, o: Value, i: usize) -> Option<(u32, Value)> {
        assert_eq!(o.kind(), Kind::Object, "object_field_at of a non-object");
        // SAFETY: the caller's promise.
        unsafe { self.model.field_at(o, i) }
    }

    /// The fields of object `o`, in insertion order: `(field id, value)`.
    ///
    /// # Panics
    /// When `o` is not an object, or is one of another heap.
    pub fn object_fields(&self, o: Value) -> Vec<(u32, Value)> {
        self.check(o);
        // SAFETY: `o` was just checked.
        (0..)
            .map_while(|i| unsafe { self.object_field_at_unchecked(o, i) })
            .collect()
    }

    /// `o.f`, `f` being field id `field`: `type error` when `o` is not an object,
    /// `no such field` when it has no such field.
    ///
    /// # Panics
    /// When `o` is an array or object of another heap.
    pub fn get_field(&self, o: Value, field: u32) -> Result<Value, ErrorKind> {
        self.check(o);
        // SAFETY: `o` was just checked.
        unsafe { self.get_field_unchecked(o, field) }
    }

    /// [`Heap::get_field`] without the check of `o`.
    ///
    /// # Safety
    /// `o` is not an array or object, or this heap made it ([`Heap::holds`]).
    #[inline(always)]
    pub unsafe fn get_field_unchecked(&self, o: Value, field: u32) -> Result<Value, ErrorKind> {
        if o.kind() != Kind::Object {
            return Err(ErrorKind::TypeError);
        }
        // SAFETY: the caller's promise; `o` is an object (of the model's making).
        let found = unsafe {
            if self.by_name {
                by_name::lookup(o, field)
            } else {
                self.model.lookup(o, field)
            }
        };
        found.ok_or(ErrorKind::NoSuchField)
    }

    /// [`Heap::get_field_unchecked`] for the instruction at `site`, whose cache the
    /// object model may use and update (`None`: no instruction asks, no cache).
    ///
    /// # Safety
    /// As for [`Heap::get_field_unchecked`].
    #[inline(always)]
    pub unsafe fn get_field_at_unchecked(
        &mut self,
        o: Value,
        field: u32,
        site: Option<Site>,
    ) -> Result<Value, ErrorKind> {
        if o.kind() != Kind::Object {
            return Err(ErrorKind::TypeError);
        }
        // SAFETY: the caller's promise; `o` is an object.
        let found = unsafe {
            match site {
                _ if self.by_name => by_name::lookup(o, field),
                Some(site) => self.model.get(o, field, site),
                None => self.model.lookup(o, field),
            }
        };
        found.ok_or(ErrorKind::NoSuchField)
    }

    /// `o.f = v`: replaces the field's value, or adds the field at the end (which may
    /// be `out of memory`); `type error` when `o` is not an object.
    ///
    /// # Panics
    /// When `o` or `v` is an array or object of another heap.
    pub fn set_field(&mut self, o: Value, field: u32, v: Value) -> Result<(), ErrorKind> {
        self.check(o);
        self.check(v);
        // SAFETY: `o` and `v` were just checked.
        unsafe { self.set_field_unchecked(o, field, v) }
    }

    /// [`Heap::set_field`] without the checks of `o` and `v`.
    ///
    /// # Safety
    /// `o` and `v` are each not an array or object, or this heap made it
    /// ([`Heap::holds`]).
    #[inline(always)]
    pub unsafe fn set_field_unchecked(
        &mut self,
        o: Value,
        field: u32,
        v: Value,
    ) -> Result<(), ErrorKind> {
        if o.kind() != Kind::Object {
            return Err(ErrorKind::TypeError);
        }
        // SAFETY: as in `set_field_at_unchecked`.
        unsafe { self.set_field_at_unchecked(o, field, v, None) }
    }

    /// [`Heap::set_field_unchecked`] for the instruction at `site`, whose cache the
    /// object model may use and update (`None`: no instruction asks, no cache).
    ///
    /// # Safety
    /// As for [`Heap::set_field_unchecked`].
    #[inline(always)]
    pub unsafe fn set_field_at_unchecked(
        &mut self,
        o: Value,
        field: u32,
        v: Value,
        site: Option<Site>,
    ) -> Result<(), ErrorKind> {
        if o.kind() != Kind::Object {
            return Err(ErrorKind::TypeError);
        }
        // SAFETY: the caller's promise; `o` is an object (of the model's making).
        unsafe {
            if self.by_name {
                by_name::set(&mut self.blocks, o, field, v)
            } else {
                self.model.set(&mut self.blocks, o, field, v, site)
            }
        }
    }
}

// SAFETY: `Blocks` owns its memory outright (like a `Vec<Box<_>>`): the raw pointers
// (its own, and the bump's into its current chunk) are never shared with another
// heap, so moving it to another thread moves sole ownership with it.
unsafe impl Send for Blocks {}
// SAFETY: through `&Blocks` the memory is only read; every write takes `&mut Blocks`
// (or `&mut Heap`), so shared references on several threads never race.
unsafe impl Sync for Blocks {}

impl Default for Heap {
    /// A heap with the default limit.
    fn default() -> Heap {
        Heap::new(DEFAULT_HEAP_LIMIT)
    }
}

impl Drop for Blocks {
    /// Frees every array and object: no value of this heap may be used after this.
    fn drop(&mut self) {
        if let Some(current) = self.chunks.get_mut(self.current) {
            current.filled = self.bump.next - current.base as usize;
        }
        for chunk in self.chunks.drain(..) {
            chunk.give_back();
        }
        // The big blocks go to the pool (their contents are never read again: a
        // heap that takes one clears what it uses); what the pool cannot keep is
        // freed once the lock is released.
        let mut freed = Vec::new();
        {
            let mut pool = LARGE_POOL.lock().unwrap_or_else(|e| e.into_inner());
            for large in self.large.drain(..) {
                pool.give_back(large, &mut freed);
            }
        }
        for large in freed {
            large.free();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::by_name::{FIELD_BYTES, FIRST_FIELDS, OBJECT_BYTES};
    use crate::value::OBJECT_TAG;

    #[test]
    fn arrays_have_the_layout_native_code_expects() {
        let mut heap = Heap::default();
        let a = heap
            .alloc_array(&[Value::int(7), Value::int(8), Value::int(9)])
            .unwrap();
        assert_eq!(a.kind(), Kind::Array);
        assert_eq!(a.bits() & TAG_MASK, ARRAY_TAG);
        let block = (a.bits() & !TAG_MASK) as *const u64;
        assert_eq!(block as usize % 8, 0);
        // SAFETY: `a` is a live array of `heap` with 3 elements.
        let (len, second) = unsafe { (*block, *block.add(2)) };
        assert_eq!(len, 3);
        assert_eq!(second, Value::int(8).bits());
        assert_eq!(heap.array_len(a), Ok(3));
    }

    #[test]
    fn filled_arrays_share_one_value() {
        let mut heap = Heap::default();
        let inner = heap.alloc_array(&[]).unwrap();
        let a = heap.alloc_array_fill(inner, 4).unwrap();
        assert!(heap.array_elems(a).iter().all(|&v| v == inner));
        let z = heap.alloc_array_fill(Value::ZERO, 1000).unwrap();
        assert!(heap.array_elems(z).iter().all(|&v| v == Value::ZERO));
        let e = heap.alloc_array_fill(Value::int(5), 0).unwrap();
        assert_eq!(heap.array_len(e), Ok(0));
    }

    #[test]
    fn array_access_checks_types_then_bounds() {
        let mut heap = Heap::default();
        let a = heap.alloc_array_fill(Value::int(1), 3).unwrap();
        assert_eq!(heap.array_set(a, Value::int(2), Value::int(9)), Ok(()));
        assert_eq!(heap.array_get(a, Value::int(2)), Ok(Value::int(9)));
        assert_eq!(
            heap.array_get(a, Value::int(3)),
            Err(ErrorKind::IndexOutOfBounds)
        );
        assert_eq!(
            heap.array_get(a, Value::int(-1)),
            Err(ErrorKind::IndexOutOfBounds)
        );
        assert_eq!(
            heap.array_set(a, Value::int(-1), Value::ZERO),
            Err(ErrorKind::IndexOutOfBounds)
        );
        assert_eq!(heap.array_get(a, a), Err(ErrorKind::TypeError));
        assert_eq!(
            heap.array_get(Value::int(0), Value::int(0)),
            Err(ErrorKind::TypeError)
        );
        assert_eq!(
            heap.array_len(Value::function(0)),
            Err(ErrorKind::TypeError)
        );
        let o = heap.alloc_object().unwrap();
        assert_eq!(heap.array_len(o), Err(ErrorKind::TypeError));
    }

    #[test]
    fn fill_lengths_out_of_range_fail_before_allocating() {
        let mut heap = Heap::default();
        assert_eq!(
            heap.alloc_array_fill(Value::ZERO, -1),
            Err(ErrorKind::IndexOutOfBounds)
        );
        assert_eq!(
            heap.alloc_array_fill(Value::ZERO, MAX_ARRAY_LEN + 1),
            Err(ErrorKind::OutOfMemory)
        );
        assert_eq!(heap.used_bytes(), 0);
    }

    #[test]
    fn the_limit_gives_out_of_memory_and_accounting_stays_right() {
        let mut heap = Heap::new(1000);
        heap.alloc_array_fill(Value::ZERO, 100).unwrap(); // 808 bytes
        assert_eq!(heap.used_bytes(), 808);
        assert_eq!(
            heap.alloc_array_fill(Value::ZERO, 24),
            Err(ErrorKind::OutOfMemory)
        );
        assert_eq!(heap.used_bytes(), 808);
        heap.alloc_array_fill(Value::ZERO, 23).unwrap(); // 192 bytes: exactly full
        assert_eq!(heap.used_bytes(), 1000);
        assert_eq!(heap.alloc_object(), Err(ErrorKind::OutOfMemory));
    }

    #[test]
    fn the_default_heap_holds_a_gibibyte() {
        let mut heap = Heap::default();
        // 2^27 zeroed elements: 1 GiB that the allocator need not touch.
        let a = heap.alloc_array_fill(Value::ZERO, 1 << 27).unwrap();
        assert_eq!(heap.array_len(a), Ok(1 << 27));
        assert_eq!(
            heap.array_get(a, Value::int((1 << 27) - 1)),
            Ok(Value::ZERO)
        );
    }

    #[test]
    fn objects_keep_fields_in_insertion_order() {
        let mut heap = Heap::default();
        let o = heap.alloc_object().unwrap();
        assert_eq!(o.kind(), Kind::Object);
        assert_eq!(heap.get_field(o, 0), Err(ErrorKind::NoSuchField));
        heap.set_field(o, 3, Value::int(1)).unwrap();
        heap.set_field(o, 1, Value::int(2)).unwrap();
        heap.set_field(o, 3, Value::int(5)).unwrap();
        assert_eq!(
            heap.object_fields(o),
            &[(3, Value::int(5)), (1, Value::int(2))]
        );
        assert_eq!(heap.get_field(o, 1), Ok(Value::int(2)));
        assert_eq!(heap.get_field(Value::ONE, 1), Err(ErrorKind::TypeError));
        assert_eq!(
            heap.set_field(Value::function(1), 1, Value::ONE),
            Err(ErrorKind::TypeError)
        );
        let a = heap.alloc_array(&[]).unwrap();
        assert_eq!(heap.get_field(a, 1), Err(ErrorKind::TypeError));
    }

    #[test]
    fn adding_fields_counts_against_the_limit() {
        let first = FIRST_FIELDS as usize;
        let mut heap = Heap::new(OBJECT_BYTES + first * FIELD_BYTES);
        let o = heap.alloc_object().unwrap();
        assert_eq!(heap.used_bytes(), OBJECT_BYTES);
        for f in 0..FIRST_FIELDS {
            heap.set_field(o, f, Value::ONE).unwrap();
        }
        assert_eq!(heap.used_bytes(), OBJECT_BYTES + first * FIELD_BYTES);
        // Overwriting costs nothing; one more field needs a bigger array, past the limit.
        heap.set_field(o, 0, Value::ZERO).unwrap();
        assert_eq!(
            heap.set_field(o, FIRST_FIELDS, Value::ONE),
            Err(ErrorKind::OutOfMemory)
        );
        assert_eq!(heap.object_fields(o).len(), first);
        assert_eq!(heap.get_field(o, 0), Ok(Value::ZERO));
    }

    #[test]
    fn growing_objects_keep_their_fields_and_count_every_array() {
        let mut heap = Heap::default();
        let o = heap.alloc_object().unwrap();
        for f in 0..100 {
            heap.set_field(o, f, Value::int(f as i64)).unwrap();
        }
        let fields: Vec<(u32, Value)> = (0..100).map(|f| (f, Value::int(f as i64))).collect();
        assert_eq!(heap.object_fields(o), &fields[..]);
        // Arrays of 4, 8, .., 128 fields.
        let arrays: usize = [4, 8, 16, 32, 64, 128].iter().sum();
        assert_eq!(heap.used_bytes(), OBJECT_BYTES + arrays * FIELD_BYTES);
    }

    #[test]
    fn small_blocks_cost_their_bytes_and_chunk_ends_are_counted() {
        let mut heap = Heap::default();
        for _ in 0..1000 {
            heap.alloc_array(&[]).unwrap();
        }
        assert_eq!(heap.used_bytes(), 8000);
        assert_eq!(heap.blocks.chunks.len(), 1);
        // Fill the first chunk to one word short of its end: that word is lost.
        let mut words = (CHUNK_BYTES - 8000) / 8 - 1;
        while words > 0 {
            let k = words.min(SMALL_MAX / 8);
            heap.alloc_array_fill(Value::ONE, k as i64 - 1).unwrap();
            words -= k;
        }
        assert_eq!(heap.used_bytes(), CHUNK_BYTES - 8);
        assert_eq!(heap.blocks.chunks.len(), 1);
        heap.alloc_array(&[Value::ONE]).unwrap();
        assert_eq!(heap.blocks.chunks.len(), 2);
        assert_eq!(heap.used_bytes(), CHUNK_BYTES + 16);
        // A big block costs its pages and one more.
        let mut heap = Heap::default();
        heap.alloc_array_fill(Value::ZERO, 10_000).unwrap();
        assert_eq!(heap.used_bytes(), 80_008usize.next_multiple_of(4096) + 4096);
    }

    #[test]
    fn a_heap_holds_exactly_the_values_it_made() {
        let mut heap = Heap::default();
        let mut other = Heap::default();
        let a = heap.alloc_array(&[Value::ONE, Value::ONE]).unwrap();
        let big = heap.alloc_array_fill(Value::ZERO, 10_000).unwrap();
        let o = heap.alloc_object().unwrap();
        let foreign = other.alloc_array(&[Value::ONE]).unwrap();
        let foreign_object = other.alloc_object().unwrap();
        for v in [a, big, o, Value::int(3), Value::function(2)] {
            assert!(heap.holds(v));
        }
        assert!(!heap.holds(foreign));
        assert!(!heap.holds(foreign_object));
        assert!(!other.holds(a) && !other.holds(big) && !other.holds(o));
        // SAFETY: these words are only asked about, never followed.
        let (inside, as_object, big_as_object) = unsafe {
            (
                Value::from_bits(a.bits() + 8),
                Value::from_bits(a.bits() & !TAG_MASK | OBJECT_TAG),
                Value::from_bits(big.bits() & !TAG_MASK | OBJECT_TAG),
            )
        };
        assert!(!heap.holds(inside));
        assert!(!heap.holds(as_object));
        assert!(!heap.holds(big_as_object));
        drop(other);
        // A new heap may reuse the old one's memory, but holds only what it made.
        let fresh = Heap::default();
        assert!(!fresh.holds(foreign) && !fresh.holds(a));
    }

    #[test]
    fn a_dropped_heaps_chunks_come_back_zeroed_and_forgotten() {
        let mut old = Heap::default();
        let mut objects = Vec::new();
        for k in 0..2000 {
            old.alloc_array_fill(Value::int(k), 30).unwrap();
            objects.push(old.alloc_object().unwrap());
        }
        drop(old);
        // The next heap takes a chunk from the pool (this one's, unless a test on
        // another thread took it first): every `[0; n]` it makes reads as zeros, and
        // it holds no object, since it made none.
        let mut new = Heap::default();
        for _ in 0..2000 {
            let a = new.alloc_array_fill(Value::ZERO, 30).unwrap();
            assert!(new.array_elems(a).iter().all(|&v| v == Value::ZERO));
        }
        assert!(objects.iter().all(|&o| !new.holds(o)));
    }

    #[test]
    fn a_dropped_heaps_big_blocks_come_back_cleared_where_zeros_are_asked() {
        // Bigger than `SMALL_MAX`: blocks of their own, which go to the large pool.
        let n = 100_003;
        let mut old = Heap::default();
        for k in 1..=3 {
            old.alloc_array_fill(Value::int(k), n).unwrap();
        }
        let before = old.used_bytes();
        drop(old);
        // The next heap takes them from the pool (unless a test on another thread
        // took them first): `[0; n]` reads as zeros, `[5; n]` as fives, and each
        // costs what it cost the first heap.
        let mut new = Heap::default();
        for k in 0..3 {
            let fill = if k == 1 { Value::int(5) } else { Value::ZERO };
            let a = new.alloc_array_fill(fill, n).unwrap();
            assert_eq!(new.array_len(a), Ok(n));
            assert!(new.array_elems(a).iter().all(|&v| v == fill));
        }
        assert_eq!(new.used_bytes(), before);
    }

    /// A block of its own of `bytes`, for the pool's tests.
    fn large(bytes: usize) -> Large {
        let layout = Layout::from_size_align(bytes, 8).unwrap();
        // SAFETY: the layout has a non-zero size.
        let block = unsafe { alloc::alloc(layout) };
        assert!(!block.is_null());
        Large { block, layout }
    }

    #[test]
    fn the_large_pool_serves_the_smallest_fit_and_keeps_the_newest() {
        let mut pool = LargePool {
            blocks: Vec::new(),
            bytes: 0,
        };
        let mut freed = Vec::new();
        for kib in [40, 12, 8, 16] {
            pool.give_back(large(kib << 10), &mut freed);
        }
        assert!(freed.is_empty());
        assert_eq!(pool.bytes, 76 << 10);
        // 10 KiB: 12 KiB is the smallest that holds it, within a quarter more.
        let got = pool.take(10 << 10).expect("12 KiB fits");
        assert_eq!(got.layout.size(), 12 << 10);
        got.free();
        // 30 KiB: 40 KiB is a third more, too big; nothing else holds it.
        assert!(pool.take(30 << 10).is_none());
        // 8 KiB exactly.
        pool.take(8 << 10).expect("8 KiB fits").free();
        assert_eq!(pool.bytes, 56 << 10);
        // Past `POOL_LARGE_BYTES`, the oldest blocks go (40 KiB, then 16 KiB).
        pool.give_back(large(POOL_LARGE_BYTES - (8 << 10)), &mut freed);
        let sizes: Vec<usize> = freed.iter().map(|l| l.layout.size()).collect();
        assert_eq!(sizes, [40 << 10, 16 << 10]);
        assert_eq!(pool.bytes, POOL_LARGE_BYTES - (8 << 10));
        // A block bigger than the pool is never kept.
        let mut too_big = Vec::new();
        pool.give_back(large(POOL_LARGE_BYTES + 8), &mut too_big);
        assert_eq!(too_big.len(), 1);
        for l in freed
            .into_iter()
            .chain(too_big)
            .chain(pool.blocks.drain(..))
        {
            l.free();
        }
    }

    #[test]
    #[should_panic(expected = "another heap")]
    fn reading_through_a_value_of_another_heap_panics() {
        let mut heap = Heap::default();
        let mut other = Heap::new(1 << 20);
        let _ = heap.alloc_array(&[]);
        let foreign = other.alloc_array_fill(Value::ONE, 3).unwrap();
        let _ = heap.array_get(foreign, Value::ZERO);
    }

    #[test]
    fn storing_a_value_of_another_heap_panics() {
        let mut heap = Heap::default();
        let mut other = Heap::default();
        let a = heap.alloc_array_fill(Value::ZERO, 2).unwrap();
        let o = heap.alloc_object().unwrap();
        let foreign = other.alloc_object().unwrap();
        let mut refused = |f: &mut dyn FnMut(&mut Heap)| {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut heap)));
            assert!(result.is_err());
        };
        refused(&mut |h| {
            let _ = h.array_set(a, Value::ZERO, foreign);
        });
        refused(&mut |h| {
            let _ = h.set_field(o, 0, foreign);
        });
        refused(&mut |h| {
            let _ = h.alloc_array(&[Value::ONE, foreign]);
        });
        refused(&mut |h| {
            let _ = h.alloc_array_fill(foreign, 2);
        });
        refused(&mut |h| {
            let _ = h.get_field(foreign, 0);
        });
        refused(&mut |h| {
            let _ = h.array_len(foreign);
        });
        assert_eq!(heap.array_get(a, Value::ZERO), Ok(Value::ZERO));
        assert_eq!(heap.object_fields(o), &[]);
    }
}
