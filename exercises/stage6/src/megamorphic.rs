//! The megamorphic cache: one table per run, keyed by (shape, field), for the sites
//! that saw too many shapes to cache them each.
//!
//! A site that has seen more than [`IC_ENTRIES`](crate::layout::IC_ENTRIES) shapes
//! gives up its own entries (its inline checks would only grow and miss) and asks this
//! table instead, as V8's sites do with its *stub cache*. The table is direct-mapped:
//! a key hashes to exactly one entry, a probe is one compare, and a new key simply
//! replaces whatever was there. So the table never fills up and never grows; a
//! collision costs the evicted key one full lookup the next time it is asked, never a
//! wrong answer, because an entry is only used when its whole key matches.
//!
//! Loads and stores have a table each: for a store, (shape, field) may mean "add the
//! field" (an entry with a new shape), which a load of the same key must never take
//! for "the field is here".

use crate::layout::IcEntry;

/// Entries of a table: a power of two, for the mask. 1,024 keys of the few dozen
/// shapes × fields a megamorphic site of a Mini program sees, with room to spare, in
/// 32 KiB (V8's primary stub cache has 2,048).
pub const MEGA_ENTRIES: usize = 1024;

/// One entry: what an inline cache entry would hold (its `shape` is half of the key;
/// 0 is an empty entry), and the field, the other half. `#[repr(C)]`: optimized
/// code probes the table in line (`crate::optimized`), at the offsets below.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
struct MegaEntry {
    entry: IcEntry,
    field: u32,
}

/// The bytes of an entry: a power of two, so that an index is scaled by a shift.
pub const MEGA_ENTRY_BYTES: i32 = std::mem::size_of::<MegaEntry>() as i32;
/// The offset of an entry's shape word.
pub const MEGA_SHAPE: i32 =
    (std::mem::offset_of!(MegaEntry, entry) + std::mem::offset_of!(IcEntry, shape)) as i32;
/// The offset of an entry's slot word.
pub const MEGA_SLOT: i32 =
    (std::mem::offset_of!(MegaEntry, entry) + std::mem::offset_of!(IcEntry, slot)) as i32;
/// The offset of an entry's field (32 bits).
pub const MEGA_FIELD: i32 = std::mem::offset_of!(MegaEntry, field) as i32;
const _: () = assert!(MEGA_ENTRY_BYTES.count_ones() == 1);

/// The golden-ratio multiplier of [`index`]'s hash.
pub const MEGA_HASH: u64 = 0x9E37_79B9_7F4A_7C15;
/// How far [`index`] shifts a key's field before it mixes it with the shape word.
pub const MEGA_FIELD_SHIFT: u32 = 40;
/// How far [`index`] shifts the product right: what is left is the entry's index.
pub const MEGA_INDEX_SHIFT: u32 = 64 - MEGA_ENTRIES.trailing_zeros();

/// A direct-mapped table from (shape word, field id) to an [`IcEntry`].
#[derive(Debug)]
pub struct MegamorphicCache {
    /// [`MEGA_ENTRIES`] entries, or none before the first insert.
    entries: Box<[MegaEntry]>,
    /// The address of the entries (0 before the first insert), where optimized code
    /// reads it ([`MegamorphicCache::table_word`]). Boxed: the word stays where it
    /// is when the cache moves.
    table: Box<u64>,
    /// Probes that found their key.
    hits: u64,
    /// Probes that did not.
    misses: u64,
    /// Inserts that replaced another key.
    evictions: u64,
}

impl Default for MegamorphicCache {
    fn default() -> MegamorphicCache {
        MegamorphicCache::new()
    }
}

/// The entry a key maps to: the high bits of a Fibonacci hash of the shape word and
/// the field (the field shifted past any shape word a run makes; multiplying mixes
/// both into the top).
pub fn index(shape: u64, field: u32) -> usize {
    let key = shape ^ (u64::from(field) << MEGA_FIELD_SHIFT);
    (key.wrapping_mul(MEGA_HASH) >> MEGA_INDEX_SHIFT) as usize
}

impl MegamorphicCache {
    /// An empty table. Its entries are allocated by the first insert: most runs
    /// have no megamorphic site, and a run costs the table nothing until one does.
    pub fn new() -> MegamorphicCache {
        MegamorphicCache {
            entries: Box::default(),
            table: Box::new(0),
            hits: 0,
            misses: 0,
            evictions: 0,
        }
    }

    /// The entry cached for `field` of objects of the shape whose word is `shape`, if
    /// it is still there.
    pub fn probe(&mut self, shape: u64, field: u32) -> Option<IcEntry> {
        debug_assert_ne!(shape, 0);
        todo!(
            "megamorphic-probe: the entry of (shape, field), if the one slot it hashes to holds exactly that key; count the hit or miss — book §6.5"
        )
    }

    /// Caches `entry` (for the shape `entry.shape`) for `field`, replacing the key
    /// that hashed to the same slot, if any.
    pub fn insert(&mut self, field: u32, entry: IcEntry) {
        debug_assert_ne!(entry.shape, 0);
        if self.entries.is_empty() {
            self.entries = vec![MegaEntry::default(); MEGA_ENTRIES].into_boxed_slice();
            *self.table = self.entries.as_ptr() as u64;
        }
        let slot = &mut self.entries[index(entry.shape, field)];
        if slot.entry.shape != 0 && (slot.entry.shape, slot.field) != (entry.shape, field) {
            self.evictions += 1;
        }
        *slot = MegaEntry { field, entry };
    }

    /// The address of the word that holds the address of the entries (0 until the
    /// first insert makes them; they never move after that), the same for the
    /// cache's life: what optimized code reads to probe the cache in line.
    pub fn table_word(&self) -> u64 {
        &*self.table as *const u64 as u64
    }

    /// Probes that found their key, probes that did not, and keys evicted.
    pub fn counts(&self) -> (u64, u64, u64) {
        (self.hits, self.misses, self.evictions)
    }

    /// How many entries hold a key.
    pub fn len(&self) -> usize {
        self.entries.iter().filter(|e| e.entry.shape != 0).count()
    }

    /// Whether no entry holds a key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(shape: u64, slot: u64) -> IcEntry {
        IcEntry {
            shape,
            slot,
            new_shape: 0,
        }
    }

    /// Shape words: ids plus one.
    fn shape(n: u64) -> u64 {
        n + 1
    }

    #[test]
    fn a_key_is_found_until_something_replaces_it() {
        let mut cache = MegamorphicCache::new();
        assert_eq!(cache.probe(shape(1), 3), None);
        cache.insert(3, entry(shape(1), 21));
        assert_eq!(cache.probe(shape(1), 3), Some(entry(shape(1), 21)));
        // Same shape, other field; same field, other shape: other keys.
        assert_eq!(cache.probe(shape(1), 4), None);
        assert_eq!(cache.probe(shape(2), 3), None);
        assert_eq!(cache.counts(), (1, 3, 0));
    }

    #[test]
    fn a_collision_evicts_and_never_answers_for_the_other_key() {
        let mut cache = MegamorphicCache::new();
        let first = (shape(1), 0);
        // Another key of the same slot.
        let other = (2..)
            .flat_map(|n| (0..8).map(move |f| (shape(n), f)))
            .find(|&(s, f)| index(s, f) == index(first.0, first.1))
            .expect("some key collides");
        cache.insert(first.1, entry(first.0, 21));
        cache.insert(other.1, entry(other.0, 29));
        assert_eq!(cache.probe(first.0, first.1), None);
        assert_eq!(cache.probe(other.0, other.1), Some(entry(other.0, 29)));
        assert_eq!(cache.counts().2, 1);
        // Putting the first back evicts the other in turn.
        cache.insert(first.1, entry(first.0, 21));
        assert_eq!(cache.probe(other.0, other.1), None);
        assert_eq!(cache.probe(first.0, first.1), Some(entry(first.0, 21)));
    }

    #[test]
    fn two_fields_of_one_shape_in_one_slot_are_two_keys() {
        let mut cache = MegamorphicCache::new();
        let s = shape(1);
        // Of MEGA_ENTRIES + 1 fields, two share a slot.
        let mut slots = std::collections::HashMap::new();
        let (f, g) = (0..=MEGA_ENTRIES as u32)
            .find_map(|g| slots.insert(index(s, g), g).map(|f| (f, g)))
            .expect("two fields share a slot");
        cache.insert(f, entry(s, 21));
        assert_eq!(cache.probe(s, g), None);
        assert_eq!(cache.probe(s, f), Some(entry(s, 21)));
    }

    #[test]
    fn a_full_table_stays_correct() {
        let mut cache = MegamorphicCache::new();
        // Four times as many keys as entries: every probe is a hit with the right
        // entry or a miss, never another key's entry.
        let keys: Vec<(u64, u32)> = (0..512)
            .flat_map(|n| (0..8).map(move |f| (shape(n), f)))
            .collect();
        for (i, &(s, f)) in keys.iter().enumerate() {
            cache.insert(f, entry(s, i as u64));
        }
        let mut found = 0;
        for (i, &(s, f)) in keys.iter().enumerate() {
            if let Some(e) = cache.probe(s, f) {
                assert_eq!(e, entry(s, i as u64));
                found += 1;
            }
        }
        assert_eq!(found, cache.len());
        assert!(cache.len() > MEGA_ENTRIES / 2, "the hash spreads the keys");
        assert_eq!(cache.counts().2 as usize, keys.len() - cache.len());
    }
}
