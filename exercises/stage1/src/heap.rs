//! The heap: arrays and objects, with a size limit and no garbage collector yet.
//!
//! An array is one block of 8-byte aligned memory, `len: u64` then `len` values, so
//! that native code (stage 3) reads and writes elements directly through the tagged
//! pointer (see `value::ARRAY_LEN_OFFSET`). An object is a Rust struct, a list of
//! `(field id, value)` pairs in insertion order, that native code reaches only through
//! runtime functions. Everything lives until the `Heap` is dropped, which frees it all.
//!
//! The invariant every `unsafe` block here relies on: a heap value (tag array or
//! object) handed to a `Heap` method was made by that same `Heap`, which is still
//! alive. Who keeps it:
//! - [`Value`] has no safe way to make a word with an array or object tag: only this
//!   heap's `alloc_*` methods make one, and [`Value::from_bits`] is `unsafe`, its
//!   caller promising the word came from a live value of the heap it is used with
//!   (native code's results, in stage 3's runtime);
//! - each engine owns its heap and gives it only the values of its own run (the
//!   program's constants, function values, and what this heap returned);
//! - a caller that holds values of several heaps (tests, tools) keeps each with its
//!   own heap; a value is not checked for membership, as that would cost every array
//!   access a lookup.

use std::alloc::{self, Layout};
use std::mem;

use crate::error::ErrorKind;
use crate::value::{Kind, Value, ARRAY_ELEMS_OFFSET, ARRAY_TAG, OBJECT_TAG, TAG_MASK};

/// The default heap limit: 2 GiB, so the default heap holds at least 1 GiB of values.
pub const DEFAULT_HEAP_LIMIT: usize = 2 << 30;

pub use crate::limits::MAX_ARRAY_LEN;

/// Bytes an object costs before its fields (a rough stand-in for the allocator's).
const OBJECT_BYTES: usize = mem::size_of::<Object>();
/// Bytes each field of an object costs.
const FIELD_BYTES: usize = mem::size_of::<(u32, Value)>();

/// An object: its fields in insertion order, each a field id (`Program::fields`) and
/// its value. A linear search is fast for the small objects of Mini programs; shapes
/// replace it in stage 6.
#[derive(Debug, Default)]
pub struct Object {
    fields: Vec<(u32, Value)>,
}

/// The memory of every array and object of one run, with byte accounting.
#[derive(Debug)]
pub struct Heap {
    limit: usize,
    used: usize,
    /// Every array block, as allocated (untagged); freed on drop.
    arrays: Vec<*mut u64>,
    /// Every object, from `Box::into_raw`; freed on drop.
    objects: Vec<*mut Object>,
}

impl Heap {
    /// An empty heap that holds at most `limit_bytes` of arrays and objects.
    pub fn new(limit_bytes: usize) -> Heap {
        Heap {
            limit: limit_bytes,
            used: 0,
            arrays: Vec::new(),
            objects: Vec::new(),
        }
    }

    /// Bytes in use, by the heap's own accounting.
    pub fn used_bytes(&self) -> usize {
        self.used
    }

    /// The most bytes this heap will hold.
    pub fn limit_bytes(&self) -> usize {
        self.limit
    }

    /// Counts `bytes` more, or fails with `out of memory` past the limit.
    fn reserve(&mut self, bytes: usize) -> Result<(), ErrorKind> {
        match self.used.checked_add(bytes) {
            Some(total) if total <= self.limit => {
                self.used = total;
                Ok(())
            }
            _ => Err(ErrorKind::OutOfMemory),
        }
    }

    /// The layout of an array block of `len` elements.
    fn array_layout(len: usize) -> Layout {
        // Cannot fail: len <= 2^28 (or a slice's length), so the size is far below isize::MAX.
        Layout::from_size_align(ARRAY_ELEMS_OFFSET as usize + len * 8, 8)
            .expect("array layout fits in isize")
    }

    /// Allocates an array block of `len` elements, filled with `fill`.
    fn alloc_array_block(&mut self, len: usize, fill: Value) -> Result<Value, ErrorKind> {
        let layout = Heap::array_layout(len);
        self.reserve(layout.size())?;
        self.arrays.reserve(1);
        // SAFETY: the layout has a non-zero size (at least the 8-byte length).
        let block = unsafe {
            if fill == Value::ZERO {
                // Zeroed memory already holds `len` copies of the integer 0 (word 0),
                // and the allocator can hand out untouched pages for large arrays.
                alloc::alloc_zeroed(layout)
            } else {
                alloc::alloc(layout)
            }
        } as *mut u64;
        if block.is_null() {
            self.used -= layout.size();
            return Err(ErrorKind::OutOfMemory);
        }
        // SAFETY: `block` is a fresh allocation of 1 + len aligned u64 words.
        unsafe {
            block.write(len as u64);
            if fill != Value::ZERO {
                let elems = block.add(1);
                for i in 0..len {
                    elems.add(i).write(fill.bits());
                }
            }
        }
        self.arrays.push(block);
        // SAFETY: a fresh array block of this heap, tagged as an array.
        Ok(unsafe { Value::from_bits(block as u64 | ARRAY_TAG) })
    }

    /// `[fill; n]`: `index out of bounds` when `n < 0`, `out of memory` when
    /// `n > 2^28` (before trying) or when the heap is full. Every element is `fill`.
    pub fn alloc_array_fill(&mut self, fill: Value, n: i64) -> Result<Value, ErrorKind> {
        if n < 0 {
            return Err(ErrorKind::IndexOutOfBounds);
        }
        if n > MAX_ARRAY_LEN {
            return Err(ErrorKind::OutOfMemory);
        }
        self.alloc_array_block(n as usize, fill)
    }

    /// A new array holding a copy of `elems`.
    pub fn alloc_array(&mut self, elems: &[Value]) -> Result<Value, ErrorKind> {
        let array = self.alloc_array_block(elems.len(), Value::ZERO)?;
        self.array_elems_mut(array).copy_from_slice(elems);
        Ok(array)
    }

    /// A new object with no fields.
    pub fn alloc_object(&mut self) -> Result<Value, ErrorKind> {
        self.reserve(OBJECT_BYTES)?;
        self.objects.reserve(1);
        let object = Box::into_raw(Box::<Object>::default());
        self.objects.push(object);
        // SAFETY: a fresh object of this heap, tagged as an object.
        Ok(unsafe { Value::from_bits(object as u64 | OBJECT_TAG) })
    }

    /// The untagged block of an array value.
    #[inline(always)]
    fn block(array: Value) -> *mut u64 {
        debug_assert_eq!(array.kind(), Kind::Array);
        (array.bits() & !TAG_MASK) as *mut u64
    }

    /// The elements of `array`, which must be an array of this heap.
    #[inline(always)]
    pub fn array_elems(&self, array: Value) -> &[Value] {
        assert_eq!(array.kind(), Kind::Array, "array_elems of a non-array");
        let block = Heap::block(array);
        // SAFETY: by the heap invariant `block` is a live array block of this heap:
        // a u64 length followed by that many initialised words, and `Value` is a
        // transparent u64. The shared borrow of `self` keeps writers out meanwhile.
        unsafe { std::slice::from_raw_parts(block.add(1) as *const Value, *block as usize) }
    }

    /// The elements of `array`, mutable.
    #[inline(always)]
    pub fn array_elems_mut(&mut self, array: Value) -> &mut [Value] {
        assert_eq!(array.kind(), Kind::Array, "array_elems_mut of a non-array");
        let block = Heap::block(array);
        // SAFETY: as in `array_elems`; the exclusive borrow of `self` makes this the
        // only reference to the block's elements.
        unsafe { std::slice::from_raw_parts_mut(block.add(1) as *mut Value, *block as usize) }
    }

    /// `len(a)`: `type error` when `a` is not an array.
    #[inline(always)]
    pub fn array_len(&self, a: Value) -> Result<i64, ErrorKind> {
        if a.kind() != Kind::Array {
            return Err(ErrorKind::TypeError);
        }
        Ok(self.array_elems(a).len() as i64)
    }

    /// `a[i]`: `type error` unless `a` is an array and `i` an integer, then
    /// `index out of bounds` unless `0 <= i < len(a)`.
    #[inline(always)]
    pub fn array_get(&self, a: Value, i: Value) -> Result<Value, ErrorKind> {
        if a.kind() != Kind::Array || !i.is_int() {
            return Err(ErrorKind::TypeError);
        }
        let elems = self.array_elems(a);
        // A negative index becomes a huge usize, out of bounds like any other.
        elems
            .get(i.as_int() as usize)
            .copied()
            .ok_or(ErrorKind::IndexOutOfBounds)
    }

    /// `a[i] = v`, with the checks of [`Heap::array_get`].
    #[inline(always)]
    pub fn array_set(&mut self, a: Value, i: Value, v: Value) -> Result<(), ErrorKind> {
        if a.kind() != Kind::Array || !i.is_int() {
            return Err(ErrorKind::TypeError);
        }
        let slot = self
            .array_elems_mut(a)
            .get_mut(i.as_int() as usize)
            .ok_or(ErrorKind::IndexOutOfBounds)?;
        *slot = v;
        Ok(())
    }

    /// The object behind `o`, which must be an object of this heap.
    #[inline(always)]
    fn object(&self, o: Value) -> &Object {
        assert_eq!(o.kind(), Kind::Object, "object of a non-object");
        // SAFETY: by the heap invariant the untagged word is a pointer from
        // `Box::into_raw` in `alloc_object`, freed only when the heap drops; the shared
        // borrow of `self` keeps `object_mut` out meanwhile.
        unsafe { &*((o.bits() & !TAG_MASK) as *const Object) }
    }

    /// The object behind `o`, mutable.
    #[inline(always)]
    fn object_mut(&mut self, o: Value) -> &mut Object {
        assert_eq!(o.kind(), Kind::Object, "object_mut of a non-object");
        // SAFETY: as in `object`; the exclusive borrow of `self` makes this the only
        // reference to the object.
        unsafe { &mut *((o.bits() & !TAG_MASK) as *mut Object) }
    }

    /// The fields of object `o`, in insertion order: `(field id, value)`.
    pub fn object_fields(&self, o: Value) -> &[(u32, Value)] {
        &self.object(o).fields
    }

    /// `o.f`, `f` being field id `field`: `type error` when `o` is not an object,
    /// `no such field` when it has no such field.
    #[inline(always)]
    pub fn get_field(&self, o: Value, field: u32) -> Result<Value, ErrorKind> {
        if o.kind() != Kind::Object {
            return Err(ErrorKind::TypeError);
        }
        self.object(o)
            .fields
            .iter()
            .find(|(id, _)| *id == field)
            .map(|&(_, v)| v)
            .ok_or(ErrorKind::NoSuchField)
    }

    /// `o.f = v`: replaces the field's value, or adds the field at the end (which may
    /// be `out of memory`); `type error` when `o` is not an object.
    #[inline(always)]
    pub fn set_field(&mut self, o: Value, field: u32, v: Value) -> Result<(), ErrorKind> {
        if o.kind() != Kind::Object {
            return Err(ErrorKind::TypeError);
        }
        if let Some(slot) = self
            .object_mut(o)
            .fields
            .iter_mut()
            .find(|(id, _)| *id == field)
        {
            slot.1 = v;
            return Ok(());
        }
        self.reserve(FIELD_BYTES)?;
        self.object_mut(o).fields.push((field, v));
        Ok(())
    }
}

// SAFETY: a `Heap` owns its blocks and objects outright (like a `Vec<Box<_>>`): the raw
// pointers are never shared with another heap, so moving the heap to another thread
// moves sole ownership with it.
unsafe impl Send for Heap {}
// SAFETY: through `&Heap` the blocks and objects are only read; every write takes
// `&mut Heap`, so shared references on several threads never race.
unsafe impl Sync for Heap {}

impl Default for Heap {
    /// A heap with the default limit.
    fn default() -> Heap {
        Heap::new(DEFAULT_HEAP_LIMIT)
    }
}

impl Drop for Heap {
    /// Frees every array and object: no value of this heap may be used after this.
    fn drop(&mut self) {
        for &block in &self.arrays {
            // SAFETY: `block` came from `alloc`/`alloc_zeroed` with the layout of its
            // length, which it still holds (lengths never change), and is freed once.
            unsafe {
                let layout = Heap::array_layout(*block as usize);
                alloc::dealloc(block as *mut u8, layout);
            }
        }
        for &object in &self.objects {
            // SAFETY: `object` came from `Box::into_raw` and is freed once, here.
            drop(unsafe { Box::from_raw(object) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut heap = Heap::new(OBJECT_BYTES + FIELD_BYTES);
        let o = heap.alloc_object().unwrap();
        heap.set_field(o, 0, Value::ONE).unwrap();
        // Overwriting costs nothing; a new field is past the limit.
        heap.set_field(o, 0, Value::ZERO).unwrap();
        assert_eq!(
            heap.set_field(o, 1, Value::ONE),
            Err(ErrorKind::OutOfMemory)
        );
        assert_eq!(heap.object_fields(o).len(), 1);
    }
}
