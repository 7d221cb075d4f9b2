//! Inline caches: what each site remembers of the objects (or functions) it saw, and
//! the state machine that decides how much it remembers.
//!
//! A site starts *uninitialized*. The first miss makes it *monomorphic* (one entry:
//! the usual case, a site that always sees objects of one shape); more misses make it
//! *polymorphic*, up to [`IC_ENTRIES`] entries; one more and it is *megamorphic*: its
//! entries are cleared for good, and it asks the run's
//! [`MegamorphicCache`](crate::megamorphic::MegamorphicCache) instead. A state only
//! ever moves forward, so a site's code never has to be told to forget.
//!
//! The records are [`FieldIc`] and [`CallIc`], laid out as `layout.rs` says: their
//! entries come first, read by baseline and optimized code at fixed offsets; the
//! state and counts after them are the runtime's. Hits and misses count what the runtime saw: a hit of native code
//! never reaches it (it is the point of the cache), so on a site that runs in native
//! code the counts are those of the interpreter's runs and of native misses.

use stage1::bytecode::FnId;
use stage1::value::FUNCTION_SHIFT;

use crate::layout::{IcEntry, CALL_IC_TARGETS, FIELD_IC_ENTRIES, IC_ENTRIES};

/// Where an inline cache is in its life; `--stats` and the events print its name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IcState {
    /// No miss yet: the site never ran (or only failed).
    #[default]
    Uninitialized,
    /// One entry.
    Monomorphic,
    /// Two to [`IC_ENTRIES`] entries.
    Polymorphic,
    /// More kinds than entries were seen: no entries, the megamorphic cache instead.
    Megamorphic,
}

impl IcState {
    /// The name events and tables use: "uninitialized", "monomorphic", ...
    pub fn name(self) -> &'static str {
        match self {
            IcState::Uninitialized => "uninitialized",
            IcState::Monomorphic => "monomorphic",
            IcState::Polymorphic => "polymorphic",
            IcState::Megamorphic => "megamorphic",
        }
    }

    /// The state after a miss that adds one more kind to a cache holding `used`
    /// entries (at most [`IC_ENTRIES`]).
    pub fn after_miss(self, used: usize) -> IcState {
        todo!(
            "ic-state-machine: the state after a miss adds a kind to `used` entries: mono, then poly up to IC_ENTRIES, then mega for good — book §6.4"
        )
    }
}

/// The inline cache of a `get_field` or `set_field` site. Baseline and optimized
/// code read its entries in place (at [`FIELD_IC_ENTRIES`]); the runtime fills them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct FieldIc {
    /// The shapes seen and where the field is for each, filled from the first; all
    /// empty once megamorphic.
    pub entries: [IcEntry; IC_ENTRIES],
    /// Where the cache is in its life.
    pub state: IcState,
    /// Accesses the runtime answered from this cache (or, megamorphic, the run's).
    pub hits: u64,
    /// Accesses the runtime had to look up in the shape.
    pub misses: u64,
}

/// The inline cache of a `call_value` site: the function values it called. Baseline
/// code compares a callee against the targets in place (at [`CALL_IC_TARGETS`]);
/// optimized code makes guarded direct calls to them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct CallIc {
    /// The function values (their words) called, filled from the first; 0 is empty
    /// (no value is the word 0 with a function tag). All empty once megamorphic.
    pub targets: [u64; IC_ENTRIES],
    /// Where the cache is in its life.
    pub state: IcState,
    /// Calls the runtime found among the targets.
    pub hits: u64,
    /// Calls of a target not cached.
    pub misses: u64,
}

// Native code finds the entries and targets at the start of the records.
const _: () = {
    assert!(std::mem::offset_of!(FieldIc, entries) == FIELD_IC_ENTRIES as usize);
    assert!(std::mem::offset_of!(CallIc, targets) == CALL_IC_TARGETS as usize);
};

/// A state change of one cache, for an event: from, to.
pub type Change = (IcState, IcState);

impl FieldIc {
    /// An uninitialized cache.
    pub fn new() -> FieldIc {
        FieldIc::default()
    }

    /// The entry for objects of the shape whose word is `shape`, if the cache has one.
    pub fn find(&self, shape: u64) -> Option<IcEntry> {
        self.entries.iter().find(|e| e.shape == shape).copied()
    }

    /// How many entries are in use (they fill from the first).
    pub fn used(&self) -> usize {
        self.entries.iter().take_while(|e| e.shape != 0).count()
    }

    /// Records a miss that found `entry` for its shape: adds it, or turns the cache
    /// megamorphic (all entries empty). Returns the change of state, if any.
    pub fn add(&mut self, entry: IcEntry) -> Option<Change> {
        debug_assert!(entry.shape != 0 && self.find(entry.shape).is_none());
        let from = self.state;
        let used = self.used();
        self.state = from.after_miss(used);
        match self.state {
            IcState::Megamorphic => self.entries = Default::default(),
            _ => self.entries[used] = entry,
        }
        (from != self.state).then_some((from, self.state))
    }
}

impl CallIc {
    /// An uninitialized cache.
    pub fn new() -> CallIc {
        CallIc::default()
    }

    /// Whether the function value `target` (its word) is among the cached targets.
    pub fn contains(&self, target: u64) -> bool {
        self.targets.contains(&target)
    }

    /// How many targets are cached (they fill from the first).
    pub fn used(&self) -> usize {
        self.targets.iter().take_while(|&&t| t != 0).count()
    }

    /// The functions of the cached targets, in the order they were first called.
    pub fn functions(&self) -> impl Iterator<Item = FnId> + '_ {
        self.targets[..self.used()]
            .iter()
            .map(|&t| (t >> FUNCTION_SHIFT) as FnId)
    }

    /// Records a call of a target not cached: adds it, or turns the cache megamorphic
    /// (no targets). Returns the change of state, if any.
    pub fn add(&mut self, target: u64) -> Option<Change> {
        debug_assert!(target != 0 && !self.contains(target));
        let from = self.state;
        let used = self.used();
        self.state = from.after_miss(used);
        match self.state {
            IcState::Megamorphic => self.targets = [0; IC_ENTRIES],
            _ => self.targets[used] = target,
        }
        (from != self.state).then_some((from, self.state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(shape: u64) -> IcEntry {
        IcEntry {
            shape,
            slot: 13,
            new_shape: 0,
        }
    }

    /// The state of a fresh cache after misses for `n` shapes, and the changes.
    fn after(n: u64) -> (IcState, Vec<Change>) {
        let mut ic = FieldIc::new();
        let changes = (1..=n).filter_map(|s| ic.add(entry(s * 64))).collect();
        (ic.state, changes)
    }

    #[test]
    fn one_two_four_five_shapes_are_mono_poly_poly_mega() {
        use IcState::*;
        assert_eq!(after(0).0, Uninitialized);
        assert_eq!(after(1), (Monomorphic, vec![(Uninitialized, Monomorphic)]));
        assert_eq!(after(2).0, Polymorphic);
        assert_eq!(after(4).0, Polymorphic);
        assert_eq!(
            after(5),
            (
                Megamorphic,
                vec![
                    (Uninitialized, Monomorphic),
                    (Monomorphic, Polymorphic),
                    (Polymorphic, Megamorphic)
                ]
            )
        );
    }

    #[test]
    fn entries_fill_in_order_and_megamorphic_clears_them() {
        let mut ic = FieldIc::new();
        for s in 1..=4 {
            ic.add(entry(s * 64));
        }
        assert_eq!(ic.used(), 4);
        assert_eq!(ic.find(3 * 64), Some(entry(3 * 64)));
        assert_eq!(ic.find(5 * 64), None);
        assert_eq!(
            ic.add(entry(5 * 64)),
            Some((IcState::Polymorphic, IcState::Megamorphic))
        );
        assert!(ic.entries.iter().all(|e| *e == IcEntry::default()));
        // Megamorphic for good: a miss changes nothing.
        assert_eq!(ic.add(entry(6 * 64)), None);
        assert_eq!((ic.state, ic.used()), (IcState::Megamorphic, 0));
    }

    #[test]
    fn call_caches_go_through_the_same_states() {
        let mut ic = CallIc::new();
        assert_eq!(
            ic.add(13),
            Some((IcState::Uninitialized, IcState::Monomorphic))
        );
        assert!(ic.contains(13) && !ic.contains(21));
        for t in [21, 29, 37] {
            ic.add(t);
        }
        assert_eq!((ic.state, ic.used()), (IcState::Polymorphic, 4));
        assert_eq!(
            ic.add(45),
            Some((IcState::Polymorphic, IcState::Megamorphic))
        );
        assert!(!ic.contains(13));
        assert_eq!(ic.functions().count(), 0);
    }

    #[test]
    fn call_targets_are_function_values() {
        use stage1::value::Value;
        let mut ic = CallIc::new();
        for f in [3, 0, 7] {
            ic.add(Value::function(f).bits());
        }
        assert_eq!(ic.functions().collect::<Vec<_>>(), [3, 0, 7]);
    }
}
