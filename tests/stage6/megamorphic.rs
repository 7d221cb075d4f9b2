//! The megamorphic cache by itself: a probe answers only for the whole key it was
//! given, shape *and* field.

use stage6::layout::{slot_word, IcEntry};
use stage6::megamorphic::{index, MegamorphicCache};

/// Two keys of one shape, with other fields, that hash to the same entry.
fn colliding_fields() -> (u64, u32, u32) {
    for shape in 1..64u64 {
        let mut seen = std::collections::HashMap::new();
        for field in 0..4096u32 {
            if let Some(&other) = seen.get(&index(shape, field)) {
                return (shape, other, field);
            }
            seen.insert(index(shape, field), field);
        }
    }
    unreachable!("4,096 fields cannot all hash apart in 1,024 entries")
}

#[test]
fn a_probe_answers_only_for_the_field_it_was_given() {
    let (shape, a, b) = colliding_fields();
    assert_eq!(index(shape, a), index(shape, b));
    let mut cache = MegamorphicCache::new();
    let entry = IcEntry {
        shape,
        slot: slot_word(1),
        new_shape: 0,
    };
    cache.insert(a, entry);
    assert_eq!(cache.probe(shape, a), Some(entry));
    // Same shape, same entry of the table, another field: not this key.
    assert_eq!(cache.probe(shape, b), None);
    // And another shape with the first field is not it either.
    assert_eq!(cache.probe(shape + 1, a), None);
}
