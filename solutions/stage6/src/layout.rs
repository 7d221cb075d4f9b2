//! What native code knows of stage 6's objects and inline caches: the offsets it
//! reads, shared by the object model (which writes them) and the baseline and
//! optimized code (which read them without calling the runtime).
//!
//! An object is one block of [`OBJECT_BYTES`]:
//!
//! ```text
//!   tagged pointer - 3 ─► +0   shape      (its word: the shape's id + 1, never 0)
//!                         +8   overflow   (slots 4.. : a block of the heap, or null)
//!                         +16  slot 0
//!                         +24  slot 1
//!                         +32  slot 2
//!                         +40  slot 3
//! ```
//!
//! An inline cache is an array of [`IcEntry`]s at the start of a `#[repr(C)]` record
//! ([`FIELD_IC_ENTRIES`] for a field site, [`CALL_IC_TARGETS`] for a value call), the
//! state and counts after them for the runtime alone.

use stage1::value::OBJECT_TAG;

/// Slots kept in the object block itself; the others are in its overflow block.
pub const INLINE_SLOTS: usize = 4;
/// Bytes of an object block: shape, overflow pointer, inline slots.
pub const OBJECT_BYTES: usize = 8 * (2 + INLINE_SLOTS);
/// Offset of the shape pointer in an object block.
pub const SHAPE_OFFSET: i32 = 0;
/// Offset of the overflow-slots pointer in an object block.
pub const OVERFLOW_OFFSET: i32 = 8;
/// Offset of inline slot 0 in an object block.
pub const SLOTS_OFFSET: i32 = 16;
/// What native code adds to a tagged object pointer to reach its block's start.
pub const UNTAG: i32 = -(OBJECT_TAG as i32);

/// Entries of a polymorphic cache: a site that sees a fifth shape (or target) is
/// megamorphic.
pub const IC_ENTRIES: usize = 4;

/// In [`IcEntry::slot`]: the slot is in the overflow block, at the byte offset in the
/// low bits.
pub const OVERFLOW_BIT: u64 = 1 << 63;

/// One entry of a field site's cache, as native code reads it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct IcEntry {
    /// The shape this entry is for (its word, the id plus one); 0 for an empty entry, which no
    /// object's shape equals.
    pub shape: u64,
    /// Where the field is: for an inline slot, its byte offset from the *tagged*
    /// object pointer (`SLOTS_OFFSET + 8 * i + UNTAG`); for an overflow slot,
    /// [`OVERFLOW_BIT`] with the byte offset in the overflow block.
    pub slot: u64,
    /// For a `set_field` that adds the field (a transition): the shape after it; 0
    /// for a store to a field the object has. Only transitions that need no new
    /// overflow block are cached.
    pub new_shape: u64,
}

/// The slot word of [`IcEntry::slot`] for slot `i` of an object.
pub const fn slot_word(i: usize) -> u64 {
    if i < INLINE_SLOTS {
        (SLOTS_OFFSET + 8 * i as i32 + UNTAG) as u64
    } else {
        OVERFLOW_BIT | (8 * (i - INLINE_SLOTS)) as u64
    }
}

/// Bytes of an [`IcEntry`].
pub const IC_ENTRY_BYTES: i32 = std::mem::size_of::<IcEntry>() as i32;
/// Offset of [`IcEntry::shape`] in an entry.
pub const IC_SHAPE: i32 = std::mem::offset_of!(IcEntry, shape) as i32;
/// Offset of [`IcEntry::slot`] in an entry.
pub const IC_SLOT: i32 = std::mem::offset_of!(IcEntry, slot) as i32;
/// Offset of [`IcEntry::new_shape`] in an entry.
pub const IC_NEW_SHAPE: i32 = std::mem::offset_of!(IcEntry, new_shape) as i32;
/// Offset of the entries in a field site's cache record (they come first).
pub const FIELD_IC_ENTRIES: i32 = 0;
/// Offset of the targets (function values, 0 for empty) in a value call's cache
/// record (they come first).
pub const CALL_IC_TARGETS: i32 = 0;

/// The cache records themselves, whose entries native code reads at the offsets
/// above (they are defined with their state machine, in [`crate::ics`]).
pub use crate::ics::{CallIc, FieldIc};

// The layout native code assumes, checked when this compiles.
const _: () = {
    assert!(IC_ENTRY_BYTES == 24 && IC_SHAPE == 0 && IC_SLOT == 8 && IC_NEW_SHAPE == 16);
    assert!(OBJECT_BYTES == 48);
    assert!(OBJECT_BYTES <= stage1::heap::SMALL_MAX);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_words_reach_inline_and_overflow_slots() {
        // Slot 0 is 16 bytes into the block, 13 past the tagged pointer.
        assert_eq!(slot_word(0), 13);
        assert_eq!(slot_word(3), 37);
        assert_eq!(slot_word(4), OVERFLOW_BIT);
        assert_eq!(slot_word(6), OVERFLOW_BIT | 16);
    }
}
