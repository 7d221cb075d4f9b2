//! Stage 1's objects: each a list of `(field id, value)` pairs in insertion order,
//! searched from the start. A linear search is fast for the small objects of Mini
//! programs and needs nothing shared between objects; stage 6 replaces it with
//! shapes and inline caches.

use std::any::Any;

use super::{ObjectModel, Site};
use crate::error::ErrorKind;
use crate::heap::Blocks;
use crate::value::{Value, OBJECT_TAG, TAG_MASK};

/// An object: how many fields it has and where they are, each a field id
/// (`Program::fields`) and its value.
#[derive(Debug)]
#[repr(C)]
struct Object {
    len: u32,
    capacity: u32,
    /// A block of `capacity` pairs of this heap, the first `len` in use (dangling
    /// while `capacity` is 0).
    fields: *mut (u32, Value),
}

/// Bytes an object costs before its fields.
pub(crate) const OBJECT_BYTES: usize = std::mem::size_of::<Object>();
/// Bytes each field of an object takes in its field array.
pub(crate) const FIELD_BYTES: usize = std::mem::size_of::<(u32, Value)>();
/// The fields an object's first field array holds; each new one holds twice as many.
pub(crate) const FIRST_FIELDS: u32 = 4;

/// The by-name object model, stage 1's and the default of every heap. It keeps no
/// state: everything is in the objects.
#[derive(Clone, Copy, Debug, Default)]
pub struct ByName;

/// The object behind `o`.
///
/// # Safety
/// `o` is an object that `ByName::new_object` made in a heap that is still alive.
unsafe fn object<'a>(o: Value) -> &'a mut Object {
    debug_assert_eq!(o.bits() & TAG_MASK, OBJECT_TAG);
    // SAFETY: by the caller's promise the untagged word points to an `Object` that
    // `new_object` wrote in a block of a live heap; the heap's borrow rules (shared
    // for reads, exclusive for writes, see `Heap`) keep other references out.
    unsafe { &mut *((o.bits() & !TAG_MASK) as *mut Object) }
}

/// The fields of `o`, in insertion order.
///
/// # Safety
/// As for [`object`]; nothing writes to the object while the slice is used.
unsafe fn fields<'a>(o: Value) -> &'a [(u32, Value)] {
    // SAFETY: the caller's promise.
    let object = unsafe { &*object(o) };
    // SAFETY: `fields` holds `capacity >= len` pairs, the first `len` written by
    // `set` (or is dangling with `len` 0, which a slice allows).
    unsafe { std::slice::from_raw_parts(object.fields, object.len as usize) }
}

/// `o.field`, searched from the first field. The heap calls this directly (not through
/// the trait object) when its model is `ByName`: a predictable branch instead of a
/// call the compiler cannot inline, which cost stage 1's interpreter a quarter more
/// instructions on field-heavy code.
///
/// # Safety
/// `o` is an object that [`ByName`] made, of a heap that is still alive.
#[inline(always)]
pub(crate) unsafe fn lookup(o: Value, field: u32) -> Option<Value> {
    // SAFETY: the caller's promise: `o` is an object of the live heap.
    unsafe { fields(o) }
        .iter()
        .find(|(id, _)| *id == field)
        .map(|&(_, v)| v)
}

/// `o.field = v`: replaces the value, or adds the field at the end, its pairs in a
/// block twice as big when full (the old one left behind, counted).
///
/// # Safety
/// As for [`lookup`]; `blocks` is the memory of `o`'s heap, and the caller holds that
/// heap exclusively.
#[inline(always)]
pub(crate) unsafe fn set(
    blocks: &mut Blocks,
    o: Value,
    field: u32,
    v: Value,
) -> Result<(), ErrorKind> {
    // SAFETY: the caller's promise; the exclusive borrow of the heap (this model and
    // `blocks` are its parts) keeps every other reference to `o` out.
    let object = unsafe { object(o) };
    // SAFETY: as in `fields`, mutable: this is the only reference to the pairs.
    let pairs = unsafe { std::slice::from_raw_parts_mut(object.fields, object.len as usize) };
    if let Some(slot) = pairs.iter_mut().find(|(id, _)| *id == field) {
        slot.1 = v;
        return Ok(());
    }
    let (len, capacity, old) = (object.len, object.capacity, object.fields);
    if len == capacity {
        // A field array twice as big; the old one stays behind, counted.
        let capacity = capacity
            .checked_mul(2)
            .ok_or(ErrorKind::OutOfMemory)?
            .max(FIRST_FIELDS);
        let bytes = capacity as usize * FIELD_BYTES;
        let fields = blocks.alloc_raw(bytes)? as *mut (u32, Value);
        // SAFETY: the new block holds `capacity > len` pairs and does not overlap the
        // old one, whose first `len` pairs are written.
        unsafe { std::ptr::copy_nonoverlapping(old, fields, len as usize) };
        object.fields = fields;
        object.capacity = capacity;
    }
    // SAFETY: `len < capacity`: slot `len` is inside the field array.
    unsafe { object.fields.add(object.len as usize).write((field, v)) };
    object.len += 1;
    Ok(())
}

impl ObjectModel for ByName {
    fn name(&self) -> &'static str {
        "by name"
    }

    fn new_object(&mut self, blocks: &mut Blocks) -> Result<Value, ErrorKind> {
        let object = blocks.alloc_object_block(OBJECT_BYTES)? as *mut Object;
        // SAFETY: a fresh block, big and aligned enough for an `Object`.
        unsafe {
            object.write(Object {
                len: 0,
                capacity: 0,
                fields: std::ptr::NonNull::dangling().as_ptr(),
            })
        };
        // SAFETY: a fresh object block, marked as one, tagged as an object.
        Ok(unsafe { Value::from_bits(object as u64 | OBJECT_TAG) })
    }

    unsafe fn lookup(&self, o: Value, field: u32) -> Option<Value> {
        // SAFETY: the caller's promise.
        unsafe { lookup(o, field) }
    }

    unsafe fn set(
        &mut self,
        blocks: &mut Blocks,
        o: Value,
        field: u32,
        v: Value,
        _site: Option<Site>,
    ) -> Result<(), ErrorKind> {
        // SAFETY: the caller's promise.
        unsafe { set(blocks, o, field, v) }
    }

    unsafe fn field_at(&self, o: Value, i: usize) -> Option<(u32, Value)> {
        // SAFETY: the caller's promise.
        unsafe { fields(o) }.get(i).copied()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
