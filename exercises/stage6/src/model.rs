//! [`ShapeModel`]: stage 6's object model — objects with shapes, and an inline cache
//! at every site — installed in a run's heap in place of stage 1's by-name objects.
//!
//! An object is `layout.rs`'s block: its shape's word, a pointer to its overflow
//! slots, then [`INLINE_SLOTS`] slots; field `i` (in insertion order) is inline slot
//! `i`, or overflow slot `i - INLINE_SLOTS`. The overflow block holds 4, 8, 16, ..
//! slots, a size that follows from the shape, so an object need not store it; a full
//! one is copied into one twice as big, the old one left behind and counted, as stage
//! 1's field arrays are.
//!
//! Every access from an instruction comes with its [`Site`]: the model looks for the
//! object's shape in the site's [`FieldIc`] (what baseline and optimized code do
//! inline, so a site's cache serves all three tiers), then, for a megamorphic site, in
//! the run's [`MegamorphicCache`]; only a miss looks the field up in the shape, and
//! records what it found for next time. The records hold exactly what native code
//! needs: the shape's word, the slot as a byte offset (see `layout.rs`'s
//! [`slot_word`]), and for a `set_field` that adds a field, the shape after.
//!
//! With caches off (`--no-ic`), objects still have shapes, and every access looks the
//! field up in its shape: no entry is ever written, no site leaves `uninitialized`.

use std::any::Any;
use std::fmt::Write as _;

use stage1::bytecode::{FnId, Program};
use stage1::engine::Event;
use stage1::error::ErrorKind;
use stage1::heap::{Blocks, Heap};
use stage1::objects::{ObjectModel, Site, SiteKind, Sites};
use stage1::value::{Kind, Value, OBJECT_TAG};
use stage1::verify::Verified;

use crate::ics::{CallIc, Change, FieldIc, IcState};
use crate::layout::{
    slot_word, IcEntry, INLINE_SLOTS, OBJECT_BYTES, OVERFLOW_BIT, OVERFLOW_OFFSET, SHAPE_OFFSET,
    UNTAG,
};
use crate::megamorphic::MegamorphicCache;
use crate::shapes::{ShapeId, ShapeTree, EMPTY};

/// The overflow slots of an object's first overflow block; each next one has twice
/// as many (few objects of Mini programs outgrow the inline slots, and those that do
/// often grow on: doubling keeps the copies linear).
pub const FIRST_OVERFLOW: usize = 4;

/// The slots an object's overflow block has room for when it holds `n` fields: none
/// for none, then [`FIRST_OVERFLOW`], doubling.
pub fn overflow_capacity(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        n.next_power_of_two().max(FIRST_OVERFLOW)
    }
}

/// Whether adding field number `len` (0-based: an object with `len` fields gets one
/// more) needs a new overflow block: the field is not inline, and the overflow block
/// is full (or missing). Such an addition is never cached: native code does not
/// allocate for it.
pub fn needs_new_block(len: usize) -> bool {
    len >= INLINE_SLOTS && overflow_capacity(len - INLINE_SLOTS) == len - INLINE_SLOTS
}

/// The address of the word at byte `offset` from the tagged object pointer `o`
/// (computing it is safe; reading or writing it is what needs `o` to be an object of
/// this model and `offset` inside its block).
fn word(o: Value, offset: u64) -> *mut u64 {
    o.bits().wrapping_add(offset) as *mut u64
}

/// The offset of an object's shape word from its tagged pointer.
const TAGGED_SHAPE: u64 = (SHAPE_OFFSET + UNTAG) as u64;
/// The offset of an object's overflow pointer from its tagged pointer.
const TAGGED_OVERFLOW: u64 = (OVERFLOW_OFFSET + UNTAG) as u64;

/// The object's shape word (its shape's id plus one, see `shapes.rs`).
///
/// # Safety
/// `o` is an object of a live heap with this model.
unsafe fn shape_word(o: Value) -> u64 {
    // SAFETY: the caller's promise; every object of this model has its shape word.
    unsafe { *word(o, TAGGED_SHAPE) }
}

/// The address of slot word `slot` of `o`.
///
/// # Safety
/// `o` is an object of a live heap with this model, and its shape has the field of
/// `slot` (so an overflow slot is inside its overflow block).
unsafe fn slot_address(o: Value, slot: u64) -> *mut u64 {
    if slot & OVERFLOW_BIT == 0 {
        word(o, slot)
    } else {
        // SAFETY: the object has an overflow field, so it has an overflow block with
        // room for it.
        unsafe {
            let overflow = *word(o, TAGGED_OVERFLOW);
            (overflow + (slot & !OVERFLOW_BIT)) as *mut u64
        }
    }
}

/// The value in slot word `slot` of `o`.
///
/// # Safety
/// As for [`slot_address`].
unsafe fn load(o: Value, slot: u64) -> Value {
    // SAFETY: the caller's promise; a written slot holds a value of this heap (the
    // heap checked every value stored), and a slot is written before its shape says
    // it is there.
    unsafe { Value::from_bits(*slot_address(o, slot)) }
}

/// Stores `v` in slot word `slot` of `o`.
///
/// # Safety
/// As for [`slot_address`], and `v` is not an array or object or is one of the heap.
unsafe fn store(o: Value, slot: u64, v: Value) {
    // SAFETY: the caller's promise.
    unsafe { *slot_address(o, slot) = v.bits() }
}

/// Stores `v` in `o` as store entry `entry` says: in its slot, and for a transition,
/// the new shape after the value.
///
/// # Safety
/// `o` is an object of a live heap with this model, `entry` a store entry of its
/// shape (a slot it has, or the next slot with room for it, inline or in its overflow
/// block), and `v` is not an array or object or is one of the heap.
unsafe fn store_with(o: Value, entry: IcEntry, v: Value) {
    // SAFETY: the caller's promise.
    unsafe {
        store(o, entry.slot, v);
        if entry.new_shape != 0 {
            *word(o, TAGGED_SHAPE) = entry.new_shape;
        }
    }
}

/// Where a site is, and which record is its cache.
#[derive(Clone, Copy, Debug)]
struct SiteCache {
    /// What it does (a field id for field sites).
    kind: SiteKind,
    /// Index of its record in `field_ics` or `call_ics` (by its kind).
    ic: u32,
    /// Its function and source line, for events.
    func: FnId,
    line: u32,
}

/// Stage 6's object model: shapes and inline caches. See the module docs.
#[derive(Debug)]
pub struct ShapeModel {
    shapes: ShapeTree,
    /// Whether sites cache (`false`: `--no-ic`).
    caches: bool,
    /// Every site of the program, by number.
    sites: Box<[SiteCache]>,
    /// The same sites as every tier numbers them (for snapshots of the caches).
    numbering: Sites,
    /// The caches of the `get_field` and `set_field` sites, at fixed addresses for
    /// the run (native code reads them).
    field_ics: Box<[FieldIc]>,
    /// The caches of the `call_value` sites, as fixed.
    call_ics: Box<[CallIc]>,
    /// The megamorphic cache of loads.
    loads: MegamorphicCache,
    /// The megamorphic cache of stores: a key of a store may be a transition, which
    /// a load must never take for a field that is there.
    stores: MegamorphicCache,
    /// Names for events: of functions, and of fields.
    functions: Vec<String>,
    fields: Vec<String>,
    /// Events not taken yet.
    events: Vec<Event>,
}

impl ShapeModel {
    /// A model for runs of `verified`, with an uninitialized cache at each of its
    /// sites; they never leave that state when `caches` is false.
    pub fn new(verified: &Verified, caches: bool) -> ShapeModel {
        let program = verified.program();
        let (mut fields, mut calls) = (0u32, 0u32);
        let sites: Box<[SiteCache]> = verified
            .sites()
            .iter()
            .map(|(_, info)| {
                let counter = match info.kind {
                    SiteKind::CallValue => &mut calls,
                    SiteKind::GetField(_) | SiteKind::SetField(_) => &mut fields,
                };
                *counter += 1;
                SiteCache {
                    kind: info.kind,
                    ic: *counter - 1,
                    func: info.func,
                    line: program.functions[info.func as usize]
                        .lines
                        .get(info.pc)
                        .copied()
                        .unwrap_or(0),
                }
            })
            .collect();
        ShapeModel {
            shapes: ShapeTree::new(),
            caches,
            sites,
            numbering: verified.sites().clone(),
            field_ics: (0..fields).map(|_| FieldIc::new()).collect(),
            call_ics: (0..calls).map(|_| CallIc::new()).collect(),
            loads: MegamorphicCache::new(),
            stores: MegamorphicCache::new(),
            functions: program.functions.iter().map(|f| f.name.clone()).collect(),
            fields: program.fields.clone(),
            events: Vec::new(),
        }
    }

    /// Whether sites cache (false with `--no-ic`).
    pub fn caches(&self) -> bool {
        self.caches
    }

    /// The sites of the program, numbered as every tier numbers them: what a
    /// snapshot of the caches of one function's sites (the optimizer's) walks.
    pub fn sites(&self) -> &Sites {
        &self.numbering
    }

    /// The shapes of the run.
    pub fn shapes(&self) -> &ShapeTree {
        &self.shapes
    }

    /// How many shapes the run made, the empty one included.
    pub fn shape_count(&self) -> usize {
        self.shapes.count()
    }

    /// How many transitions the run made (edges of the shape tree).
    pub fn transition_count(&self) -> usize {
        self.shapes.transition_count()
    }

    /// The word of the empty shape: the shape word of a new object (native code
    /// that allocates an object inline writes it).
    pub fn empty_shape(&self) -> u64 {
        self.shapes.word(EMPTY)
    }

    /// The megamorphic caches of loads and of stores (for tables and tests).
    pub fn megamorphic(&self) -> (&MegamorphicCache, &MegamorphicCache) {
        (&self.loads, &self.stores)
    }

    /// The shape of `o`, an object of `heap` (whose model is a `ShapeModel`); `None`
    /// when `o` is not an object of that heap, or the heap has another model.
    pub fn shape_of(heap: &Heap, o: Value) -> Option<ShapeId> {
        let model = heap.model().as_any().downcast_ref::<ShapeModel>()?;
        if o.kind() != Kind::Object || !heap.holds(o) {
            return None;
        }
        // SAFETY: `o` is an object of `heap`, whose model made it: it has its shape
        // word.
        Some(model.shape_id(unsafe { shape_word(o) }))
    }

    /// The cache of `get_field`/`set_field` site `site`.
    ///
    /// # Panics
    /// When `site` is not a field site of the program.
    pub fn field_ic(&self, site: Site) -> &FieldIc {
        &self.field_ics[self.field_index(site)]
    }

    /// The address of [`field_ic`](ShapeModel::field_ic)`(site)`, the same for the
    /// model's life: what native code reads.
    ///
    /// # Panics
    /// As for [`ShapeModel::field_ic`].
    pub fn field_ic_ptr(&self, site: Site) -> *const FieldIc {
        self.field_ic(site)
    }

    /// The cache of `call_value` site `site`.
    ///
    /// # Panics
    /// When `site` is not a `call_value` site of the program.
    pub fn call_ic(&self, site: Site) -> &CallIc {
        &self.call_ics[self.call_index(site)]
    }

    /// The address of [`call_ic`](ShapeModel::call_ic)`(site)`, the same for the
    /// model's life.
    ///
    /// # Panics
    /// As for [`ShapeModel::call_ic`].
    pub fn call_ic_ptr(&self, site: Site) -> *const CallIc {
        self.call_ic(site)
    }

    /// The state of site `site`'s cache, whatever its kind.
    pub fn state(&self, site: Site) -> IcState {
        match self.sites[site as usize].kind {
            SiteKind::CallValue => self.call_ic(site).state,
            _ => self.field_ic(site).state,
        }
    }

    /// Index of a field site's record in `field_ics`.
    fn field_index(&self, site: Site) -> usize {
        let s = &self.sites[site as usize];
        assert!(
            !matches!(s.kind, SiteKind::CallValue),
            "site {site} is a call_value site"
        );
        s.ic as usize
    }

    /// Index of a call site's record in `call_ics`.
    fn call_index(&self, site: Site) -> usize {
        let s = &self.sites[site as usize];
        assert!(
            matches!(s.kind, SiteKind::CallValue),
            "site {site} is not a call_value site"
        );
        s.ic as usize
    }

    /// Records that site `site`'s cache changed state, as an event; `seen` is what
    /// made it change.
    fn changed(&mut self, site: Site, (from, to): Change, seen: String) {
        let s = self.sites[site as usize];
        let name = match s.kind {
            SiteKind::GetField(f) | SiteKind::SetField(f) => self.field_name(f),
            SiteKind::CallValue => "call".to_string(),
        };
        self.events.push(Event::IcTransition {
            function: self.functions[s.func as usize].clone(),
            line: s.line,
            name,
            from: from.name(),
            to: to.name(),
            seen,
        });
    }

    /// The name of field `f`.
    fn field_name(&self, f: u32) -> String {
        self.fields
            .get(f as usize)
            .map_or_else(|| format!("#{f}"), Clone::clone)
    }

    /// The id of the shape whose word is `shape` (an object's shape word, or the
    /// shape of a cache entry: the model writes no other).
    fn shape_id(&self, shape: u64) -> ShapeId {
        self.shapes.at(shape).id()
    }

    /// Site `site`'s own entry for objects of shape `shape`, counted as a hit: the
    /// fast path of every access from an instruction.
    #[inline(always)]
    fn own_entry(&mut self, site: Site, shape: u64) -> Option<IcEntry> {
        let index = self.field_index(site);
        let ic = &mut self.field_ics[index];
        let entry = ic.find(shape)?;
        ic.hits += 1;
        Some(entry)
    }

    /// After a miss in site `site`'s own entries: the run's megamorphic entry for
    /// (`shape`, `field`) when the site is megamorphic, counted as a hit, or a miss.
    fn megamorphic_entry(
        &mut self,
        site: Site,
        shape: u64,
        field: u32,
        store: bool,
    ) -> Option<IcEntry> {
        let index = self.field_index(site);
        let mut found = None;
        if self.field_ics[index].state == IcState::Megamorphic {
            let mega = if store {
                &mut self.stores
            } else {
                &mut self.loads
            };
            found = mega.probe(shape, field);
        }
        let ic = &mut self.field_ics[index];
        match found {
            Some(_) => ic.hits += 1,
            None => ic.misses += 1,
        }
        found
    }

    /// `o.field` at `site` when the site's own entries do not have `o`'s shape: the
    /// megamorphic cache, or a lookup in the shape that the site remembers.
    ///
    /// # Safety
    /// As for [`ObjectModel::get`]; `shape` is `o`'s shape word.
    #[inline(never)]
    unsafe fn get_missed(&mut self, o: Value, field: u32, site: Site, shape: u64) -> Option<Value> {
        if let Some(entry) = self.megamorphic_entry(site, shape, field, false) {
            // SAFETY: entries of loads are for shapes that have the field.
            return Some(unsafe { load(o, entry.slot) });
        }
        let id = self.shape_id(shape);
        let slot = slot_word(self.shapes.slot(id, field)? as usize);
        let entry = IcEntry {
            shape,
            slot,
            new_shape: 0,
        };
        self.remember(site, field, entry, false);
        // SAFETY: the object's shape has the field.
        Some(unsafe { load(o, slot) })
    }

    /// `o.field = v` at `site` when the site's own entries do not have `o`'s shape:
    /// the megamorphic cache, or the store without a cache, which the site remembers
    /// when it may.
    ///
    /// # Safety
    /// As for [`ObjectModel::set`]; `shape` is `o`'s shape word.
    #[inline(never)]
    unsafe fn set_missed(
        &mut self,
        blocks: &mut Blocks,
        o: Value,
        field: u32,
        v: Value,
        site: Site,
        shape: u64,
    ) -> Result<(), ErrorKind> {
        if let Some(entry) = self.megamorphic_entry(site, shape, field, true) {
            // SAFETY: as for a hit in `set`.
            unsafe { store_with(o, entry, v) };
            return Ok(());
        }
        // SAFETY: the caller's promise.
        let (entry, cacheable) = unsafe { self.set_uncached(blocks, o, field, v) }?;
        if cacheable {
            self.remember(site, field, entry, true);
        }
        Ok(())
    }

    /// Remembers `entry` at site `site` after a miss: in its own cache, and in the
    /// run's megamorphic cache once it is megamorphic.
    fn remember(&mut self, site: Site, field: u32, entry: IcEntry, store: bool) {
        let index = self.field_index(site);
        let change = self.field_ics[index].add(entry);
        if self.field_ics[index].state == IcState::Megamorphic {
            let mega = if store {
                &mut self.stores
            } else {
                &mut self.loads
            };
            mega.insert(field, entry);
        }
        if let Some(change) = change {
            let seen = format!("shape {}", self.shape_id(entry.shape));
            self.changed(site, change, seen);
        }
    }

    /// `o.field = v` without any cache: the entry that describes what it did, and
    /// whether a cache may keep it. `out of memory` (and `o` unchanged) when a new
    /// overflow block does not fit.
    ///
    /// # Safety
    /// As for [`ObjectModel::set`].
    unsafe fn set_uncached(
        &mut self,
        blocks: &mut Blocks,
        o: Value,
        field: u32,
        v: Value,
    ) -> Result<(IcEntry, bool), ErrorKind> {
        // SAFETY: the caller's promise: `o` is an object of this model.
        let shape = unsafe { shape_word(o) };
        let id = self.shape_id(shape);
        if let Some(slot) = self.shapes.slot(id, field) {
            let slot = slot_word(slot as usize);
            // SAFETY: the object's shape has this field.
            unsafe { store(o, slot, v) };
            let entry = IcEntry {
                shape,
                slot,
                new_shape: 0,
            };
            return Ok((entry, true));
        }
        let len = self.shapes.shape(id).len();
        let grows = needs_new_block(len);
        if grows {
            // SAFETY: the caller's promise.
            unsafe { grow_overflow(blocks, o, len - INLINE_SLOTS) }?;
        }
        let to = self.shapes.transition(id, field);
        let new_shape = self.shapes.word(to);
        let slot = slot_word(len);
        // SAFETY: slot `len` is inline, or inside the overflow block (just grown if it
        // was full); the shape word is written last, once the slot holds the value.
        unsafe {
            store(o, slot, v);
            *word(o, TAGGED_SHAPE) = new_shape;
        }
        let entry = IcEntry {
            shape,
            slot,
            new_shape,
        };
        Ok((entry, !grows))
    }

    /// The table of `--stats`: each site's place, what it does, its cache's final
    /// state, hits and misses, and what it holds (shapes, or call targets).
    pub fn site_table(&self, program: &Program, sites: &Sites) -> String {
        let mut rows = vec![[
            "site".to_string(),
            "where".to_string(),
            "access".to_string(),
            "state".to_string(),
            "hits".to_string(),
            "misses".to_string(),
            "cached".to_string(),
        ]];
        for (site, info) in sites.iter() {
            let f = &program.functions[info.func as usize];
            let line = f.lines.get(info.pc).copied().unwrap_or(0);
            let name = |k: u32| {
                program
                    .fields
                    .get(k as usize)
                    .map_or_else(|| format!("#{k}"), Clone::clone)
            };
            let (access, state, hits, misses, cached) = match info.kind {
                SiteKind::GetField(k) | SiteKind::SetField(k) => {
                    let ic = self.field_ic(site);
                    let verb = if matches!(info.kind, SiteKind::GetField(_)) {
                        "get"
                    } else {
                        "set"
                    };
                    let shapes: Vec<String> = ic
                        .entries
                        .iter()
                        .filter(|e| e.shape != 0)
                        // SAFETY: a cache entry's shape.
                        .map(|e| self.shape_id(e.shape).to_string())
                        .collect();
                    let cached = if shapes.is_empty() {
                        String::new()
                    } else {
                        format!("shapes {}", shapes.join(", "))
                    };
                    (
                        format!("{verb} {}", name(k)),
                        ic.state,
                        ic.hits,
                        ic.misses,
                        cached,
                    )
                }
                SiteKind::CallValue => {
                    let ic = self.call_ic(site);
                    let targets: Vec<&str> = ic
                        .functions()
                        .map(|f| program.functions.get(f as usize).map_or("?", |f| &f.name))
                        .collect();
                    (
                        "call".to_string(),
                        ic.state,
                        ic.hits,
                        ic.misses,
                        targets.join(", "),
                    )
                }
            };
            rows.push([
                site.to_string(),
                format!("{}:{line}", f.name),
                access,
                state.name().to_string(),
                hits.to_string(),
                misses.to_string(),
                cached,
            ]);
        }
        let mut widths = [0; 7];
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = format!(
            "inline caches{}: {} sites, {} shapes, {} transitions\n",
            if self.caches { "" } else { " (off)" },
            sites.len(),
            self.shape_count(),
            self.transition_count()
        );
        for row in &rows {
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
                // Numbers to the right, words to the left.
                if matches!(i, 0 | 4 | 5) {
                    let _ = write!(line, "{cell:>w$}  ");
                } else {
                    let _ = write!(line, "{cell:<w$}  ");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// The transition tree of the run, with `program`'s field names (`jitlab dump
    /// --shapes`).
    pub fn dump_tree(&self, program: &Program) -> String {
        self.shapes.dump(program)
    }
}

/// Gives `o`, whose overflow block holds `n` fields and is full (or missing), a block
/// twice as big with them copied; the old one stays behind, counted.
///
/// # Safety
/// `o` is an object of a live heap with this model whose `blocks` are `blocks`.
unsafe fn grow_overflow(blocks: &mut Blocks, o: Value, n: usize) -> Result<(), ErrorKind> {
    let capacity = overflow_capacity(n + 1);
    let block = blocks.alloc_raw(8 * capacity)?;
    // SAFETY: the overflow pointer is the object's second word; the old block (if
    // any) holds `n` written slots, and the new one room for `capacity > n`, apart.
    unsafe {
        let at = word(o, TAGGED_OVERFLOW);
        if n > 0 {
            std::ptr::copy_nonoverlapping(*at as *const u64, block, n);
        }
        *at = block as u64;
    }
    Ok(())
}

impl ObjectModel for ShapeModel {
    fn name(&self) -> &'static str {
        "shapes"
    }

    fn new_object(&mut self, blocks: &mut Blocks) -> Result<Value, ErrorKind> {
        let block = blocks.alloc_object_block(OBJECT_BYTES)?;
        // SAFETY: a fresh zeroed block of OBJECT_BYTES: its first word is the shape's.
        unsafe {
            block
                .add(SHAPE_OFFSET as usize / 8)
                .write(self.empty_shape())
        };
        // SAFETY: a fresh object block of this heap, marked as one, tagged as an object.
        Ok(unsafe { Value::from_bits(block as u64 | OBJECT_TAG) })
    }

    unsafe fn lookup(&self, o: Value, field: u32) -> Option<Value> {
        // SAFETY: the caller's promise: `o` is an object of this model, whose first
        // word is its shape's.
        let id = self.shape_id(unsafe { shape_word(o) });
        let slot = self.shapes.slot(id, field)?;
        // SAFETY: the object's shape has the field.
        Some(unsafe { load(o, slot_word(slot as usize)) })
    }

    unsafe fn get(&mut self, o: Value, field: u32, site: Site) -> Option<Value> {
        if !self.caches {
            // SAFETY: the caller's promise.
            return unsafe { self.lookup(o, field) };
        }
        // SAFETY: the caller's promise: `o` is an object of this model.
        let shape = unsafe { shape_word(o) };
        if let Some(entry) = self.own_entry(site, shape) {
            // SAFETY: entries of loads are for shapes that have the field.
            return Some(unsafe { load(o, entry.slot) });
        }
        // SAFETY: the caller's promise; `shape` is `o`'s.
        unsafe { self.get_missed(o, field, site, shape) }
    }

    unsafe fn set(
        &mut self,
        blocks: &mut Blocks,
        o: Value,
        field: u32,
        v: Value,
        site: Option<Site>,
    ) -> Result<(), ErrorKind> {
        let Some(site) = site.filter(|_| self.caches) else {
            // SAFETY: the caller's promise.
            return unsafe { self.set_uncached(blocks, o, field, v) }.map(|_| ());
        };
        // SAFETY: the caller's promise: `o` is an object of this model.
        let shape = unsafe { shape_word(o) };
        if let Some(entry) = self.own_entry(site, shape) {
            // SAFETY: a store entry of `o`'s shape.
            unsafe { store_with(o, entry, v) };
            return Ok(());
        }
        // SAFETY: the caller's promise; `shape` is `o`'s.
        unsafe { self.set_missed(blocks, o, field, v, site, shape) }
    }

    unsafe fn field_at(&self, o: Value, i: usize) -> Option<(u32, Value)> {
        // SAFETY: the caller's promise: `o` is an object of this model, whose first
        // word is its shape's.
        let id = self.shape_id(unsafe { shape_word(o) });
        let &field = self.shapes.fields(id).get(i)?;
        // SAFETY: the object's shape has its `i`th field.
        Some((field, unsafe { load(o, slot_word(i)) }))
    }

    fn call_target(&mut self, site: Site, callee: FnId) {
        if !self.caches {
            return;
        }
        let index = self.call_index(site);
        let target = Value::function(callee).bits();
        let ic = &mut self.call_ics[index];
        if ic.contains(target) {
            ic.hits += 1;
            return;
        }
        ic.misses += 1;
        if let Some(change) = ic.add(target) {
            let seen = self
                .functions
                .get(callee as usize)
                .map_or_else(|| format!("#{callee}"), Clone::clone);
            self.changed(site, change, seen);
        }
    }

    fn take_events(&mut self, out: &mut Vec<Event>) {
        out.append(&mut self.events);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stage1::heap::DEFAULT_HEAP_LIMIT;
    use stage1::load::load_source;

    /// A program with a `get_field x`, a `set_field x` and a `call_value` site, each
    /// in a function of its own, and the fields `a` .. `e` and `x`.
    const SOURCE: &str = "\
fn get(o) { return o.x; }
fn put(o) {
  o.x = 7;
  return 0;
}
fn call(f) { return f(); }
fn f1() { return 1; }
fn f2() { return 2; }
fn f3() { return 3; }
fn f4() { return 4; }
fn f5() { return 5; }
print {a: 1, b: 2, c: 3, d: 4, e: 5, x: 6};
";

    /// A run's pieces: the program, a heap with a shape model, and its sites.
    struct Run {
        verified: Verified,
        heap: Heap,
        sites: Sites,
    }

    impl Run {
        fn new(caches: bool) -> Run {
            Run::with_limit(caches, DEFAULT_HEAP_LIMIT)
        }

        fn with_limit(caches: bool, limit: usize) -> Run {
            let verified = load_source("test.mini", SOURCE).expect("the test program loads");
            let model = ShapeModel::new(&verified, caches);
            let sites = Sites::new(verified.program());
            Run {
                heap: Heap::with_model(limit, Box::new(model)),
                verified,
                sites,
            }
        }

        fn model(&self) -> &ShapeModel {
            self.heap
                .model()
                .as_any()
                .downcast_ref()
                .expect("a shape model")
        }

        /// The one site of function `name`.
        fn site(&self, name: &str) -> Site {
            let func = self
                .verified
                .program()
                .function_named(name)
                .expect("a function");
            let mut sites = self.sites.iter().filter(|(_, s)| s.func == func);
            let (site, _) = sites.next().expect("a site");
            assert!(sites.next().is_none());
            site
        }

        /// The id of field `name`.
        fn field(&self, name: &str) -> u32 {
            let fields = &self.verified.program().fields;
            fields.iter().position(|f| f == name).expect("a field") as u32
        }

        /// A new object with `fields` set to 10, 11, .. in that order (no site).
        fn object(&mut self, fields: &[u32]) -> Value {
            let o = self.heap.alloc_object().expect("memory");
            for (i, &f) in fields.iter().enumerate() {
                self.heap
                    .set_field(o, f, Value::int(10 + i as i64))
                    .expect("memory");
            }
            o
        }

        /// `o.field` at `site`.
        fn get_at(&mut self, o: Value, field: u32, site: Site) -> Result<Value, ErrorKind> {
            assert!(self.heap.holds(o));
            // SAFETY: `o` is of this heap, just checked.
            unsafe { self.heap.get_field_at_unchecked(o, field, Some(site)) }
        }

        /// `o.field = v` at `site`.
        fn set_at(&mut self, o: Value, field: u32, v: Value, site: Site) -> Result<(), ErrorKind> {
            assert!(self.heap.holds(o));
            // SAFETY: `o` is of this heap, just checked; `v` is an integer.
            unsafe { self.heap.set_field_at_unchecked(o, field, v, Some(site)) }
        }

        fn shape(&self, o: Value) -> ShapeId {
            ShapeModel::shape_of(&self.heap, o).expect("an object of this heap")
        }

        fn events(&mut self) -> Vec<Event> {
            let mut events = Vec::new();
            self.heap.model_mut().take_events(&mut events);
            events
        }
    }

    fn transition(
        function: &str,
        line: u32,
        name: &str,
        from: IcState,
        to: IcState,
        seen: &str,
    ) -> Event {
        Event::IcTransition {
            function: function.into(),
            line,
            name: name.into(),
            from: from.name(),
            to: to.name(),
            seen: seen.into(),
        }
    }

    #[test]
    fn a_site_seeing_one_two_four_five_shapes_is_mono_poly_poly_mega() {
        use IcState::*;
        let mut run = Run::new(true);
        let (site, x) = (run.site("get"), run.field("x"));
        let [a, b, c, d] = ["a", "b", "c", "d"].map(|f| run.field(f));
        // Five shapes with `x`, at slot 0 or 1.
        let objects = [
            run.object(&[x]),
            run.object(&[a, x]),
            run.object(&[b, x]),
            run.object(&[c, x]),
            run.object(&[d, x]),
        ];
        let mut states = Vec::new();
        for (n, &o) in objects.iter().enumerate() {
            // Twice each: the second is a hit, until the site is megamorphic.
            for _ in 0..2 {
                let expected = Value::int(10 + (n > 0) as i64);
                assert_eq!(run.get_at(o, x, site), Ok(expected));
            }
            states.push(run.model().field_ic(site).state);
        }
        assert_eq!(
            states,
            [
                Monomorphic,
                Polymorphic,
                Polymorphic,
                Polymorphic,
                Megamorphic
            ]
        );
        let shapes = objects.map(|o| run.shape(o));
        assert_eq!(
            run.events(),
            vec![
                transition(
                    "get",
                    1,
                    "x",
                    Uninitialized,
                    Monomorphic,
                    &format!("shape {}", shapes[0])
                ),
                transition(
                    "get",
                    1,
                    "x",
                    Monomorphic,
                    Polymorphic,
                    &format!("shape {}", shapes[1])
                ),
                transition(
                    "get",
                    1,
                    "x",
                    Polymorphic,
                    Megamorphic,
                    &format!("shape {}", shapes[4])
                ),
            ]
        );
        let ic = run.model().field_ic(site);
        assert_eq!((ic.hits, ic.misses), (5, 5));
        assert!(ic.entries.iter().all(|e| e.shape == 0));
        // Megamorphic: the run's cache answers the fifth shape now, and the others
        // after one miss each.
        for (n, &o) in objects.iter().enumerate() {
            assert_eq!(run.get_at(o, x, site), Ok(Value::int(10 + (n > 0) as i64)));
        }
        let ic = run.model().field_ic(site);
        assert_eq!((ic.hits, ic.misses), (6, 9));
        assert_eq!(run.model().megamorphic().0.len(), 5);
    }

    #[test]
    fn a_megamorphic_site_stays_right_past_the_size_of_its_cache() {
        let mut run = Run::new(true);
        let (site, x) = (run.site("get"), run.field("x"));
        // 3,000 shapes {k, x} (field ids need no name), x at slot 1.
        let objects: Vec<Value> = (100..3100).map(|k| run.object(&[k, x])).collect();
        // Forward, then backward: the keys still in the table after the first pass
        // (the last ones written) are the first asked again, and hit.
        for &o in objects.iter().chain(objects.iter().rev()) {
            assert_eq!(run.get_at(o, x, site), Ok(Value::int(11)));
        }
        let (hits, misses, evictions) = run.model().megamorphic().0.counts();
        assert!(evictions > 0, "the keys outnumber the entries");
        assert!(hits > 0 && misses > 0);
        // A shape without the field is still `no such field`.
        let other = run.object(&[1]);
        assert_eq!(run.get_at(other, x, site), Err(ErrorKind::NoSuchField));
        assert_eq!(run.model().field_ic(site).state, IcState::Megamorphic);
    }

    #[test]
    fn objects_built_the_same_way_share_a_shape_and_other_orders_do_not() {
        let mut run = Run::new(true);
        let [a, b] = ["a", "b"].map(|f| run.field(f));
        let ab1 = run.object(&[a, b]);
        let ab2 = run.object(&[a, b]);
        let ba = run.object(&[b, a]);
        let a_only = run.object(&[a]);
        assert_eq!(run.shape(ab1), run.shape(ab2));
        assert_ne!(run.shape(ab1), run.shape(ba));
        assert_ne!(run.shape(ab1), run.shape(a_only));
        // {}, {a}, {a, b}, {b}, {b, a}.
        assert_eq!(run.model().shape_count(), 5);
        assert_eq!(run.model().transition_count(), 4);
        let empty = run.heap.alloc_object().unwrap();
        assert_eq!(run.shape(empty), EMPTY);
        assert_eq!(
            run.model().dump_tree(run.verified.program()),
            "shape 0 {}\n  +a -> shape 1 {a}\n    +b -> shape 2 {a, b}\n  +b -> shape 3 {b}\n    +a -> shape 4 {b, a}\n"
        );
    }

    #[test]
    fn shape_of_answers_only_for_objects_of_a_shape_heap() {
        let mut run = Run::new(true);
        let o = run.object(&[]);
        assert_eq!(ShapeModel::shape_of(&run.heap, o), Some(EMPTY));
        assert_eq!(ShapeModel::shape_of(&run.heap, Value::int(3)), None);
        let a = run.heap.alloc_array(&[]).unwrap();
        assert_eq!(ShapeModel::shape_of(&run.heap, a), None);
        // Another heap's object; a heap of stage 1's objects.
        let other = Run::new(true).object(&[]);
        assert_eq!(ShapeModel::shape_of(&run.heap, other), None);
        let mut by_name = Heap::default();
        let b = by_name.alloc_object().unwrap();
        assert_eq!(ShapeModel::shape_of(&by_name, b), None);
    }

    #[test]
    fn a_field_added_at_a_site_caches_the_transition() {
        use IcState::*;
        let mut run = Run::new(true);
        let (site, x, a) = (run.site("put"), run.field("x"), run.field("a"));
        let first = run.object(&[]);
        run.set_at(first, x, Value::int(7), site).unwrap();
        let with_x = run.shape(first);
        let ic = run.model().field_ic(site);
        assert_eq!(ic.state, Monomorphic);
        assert_eq!(
            ic.entries[0],
            IcEntry {
                shape: run.model().empty_shape(),
                slot: slot_word(0),
                new_shape: run.model().shapes().word(with_x),
            }
        );
        // The next empty object takes the cached transition to the same shape.
        let second = run.object(&[]);
        run.set_at(second, x, Value::int(8), site).unwrap();
        assert_eq!(run.shape(second), with_x);
        assert_eq!(run.heap.get_field(second, x), Ok(Value::int(8)));
        // Storing to a field that is there is a plain store, another entry.
        run.set_at(second, x, Value::int(9), site).unwrap();
        assert_eq!(run.heap.object_fields(second), vec![(x, Value::int(9))]);
        let ic = run.model().field_ic(site);
        assert_eq!((ic.state, ic.hits, ic.misses), (Polymorphic, 1, 2));
        assert_eq!(ic.entries[1].new_shape, 0);
        // Adding after another field: a transition from another shape.
        let third = run.object(&[a]);
        run.set_at(third, x, Value::int(7), site).unwrap();
        assert_eq!(
            run.heap.object_fields(third),
            vec![(a, Value::int(10)), (x, Value::int(7))]
        );
        assert_eq!(
            run.events(),
            vec![
                transition("put", 3, "x", Uninitialized, Monomorphic, "shape 0"),
                transition(
                    "put",
                    3,
                    "x",
                    Monomorphic,
                    Polymorphic,
                    &format!("shape {with_x}")
                ),
            ]
        );
    }

    #[test]
    fn an_addition_that_needs_an_overflow_block_is_not_cached() {
        let mut run = Run::new(true);
        let site = run.site("put");
        let x = run.field("x");
        // Four inline fields: x is the first overflow field, which needs a block.
        let four = run.object(&[100, 101, 102, 103]);
        run.set_at(four, x, Value::int(7), site).unwrap();
        assert_eq!(run.heap.get_field(four, x), Ok(Value::int(7)));
        let ic = run.model().field_ic(site);
        assert_eq!((ic.state, ic.misses), (IcState::Uninitialized, 1));
        // Five: x goes in the block's second slot, which is there.
        let five = run.object(&[100, 101, 102, 103, 104]);
        run.set_at(five, x, Value::int(8), site).unwrap();
        let ic = run.model().field_ic(site);
        assert_eq!(ic.state, IcState::Monomorphic);
        assert_eq!(ic.entries[0].slot, OVERFLOW_BIT | 8);
        let again = run.object(&[100, 101, 102, 103, 104]);
        run.set_at(again, x, Value::int(9), site).unwrap();
        assert_eq!(run.heap.get_field(again, x), Ok(Value::int(9)));
        assert_eq!(run.heap.get_field(again, 104), Ok(Value::int(14)));
        assert_eq!(run.model().field_ic(site).hits, 1);
    }

    #[test]
    fn big_objects_keep_insertion_order_and_count_every_block() {
        let mut run = Run::new(true);
        // 40 fields in a scrambled order: 4 inline, 36 in blocks of 4, 8, .., 64.
        let fields: Vec<u32> = (0..40).map(|i| (i * 17) % 40 + 1000).collect();
        let o = run.object(&fields);
        let expected: Vec<(u32, Value)> = fields
            .iter()
            .enumerate()
            .map(|(i, &f)| (f, Value::int(10 + i as i64)))
            .collect();
        assert_eq!(run.heap.object_fields(o), expected);
        for &(f, v) in &expected {
            assert_eq!(run.heap.get_field(o, f), Ok(v));
        }
        let blocks: usize = [4, 8, 16, 32, 64].iter().sum();
        assert_eq!(run.heap.used_bytes(), OBJECT_BYTES + 8 * blocks);
        // What print writes: the order of the program's fields.
        let (x, a) = (run.field("x"), run.field("a"));
        let p = run.object(&[x, a]);
        assert_eq!(
            stage1::print::format_value(run.verified.program(), &run.heap, p),
            "{x: 10, a: 11}"
        );
    }

    #[test]
    fn a_full_heap_is_out_of_memory_and_leaves_the_object_as_it_was() {
        let mut run = Run::with_limit(true, OBJECT_BYTES);
        let site = run.site("put");
        let x = run.field("x");
        let o = run.object(&[100, 101, 102, 103]);
        let before = run.shape(o);
        assert_eq!(
            run.set_at(o, x, Value::ONE, site),
            Err(ErrorKind::OutOfMemory)
        );
        assert_eq!(run.shape(o), before);
        assert_eq!(run.heap.object_fields(o).len(), 4);
        assert_eq!(run.heap.get_field(o, x), Err(ErrorKind::NoSuchField));
        assert_eq!(run.heap.alloc_object(), Err(ErrorKind::OutOfMemory));
    }

    #[test]
    fn without_caches_objects_have_shapes_and_sites_stay_uninitialized() {
        let mut run = Run::new(false);
        let (get, put, call) = (run.site("get"), run.site("put"), run.site("call"));
        let x = run.field("x");
        for k in 0..10 {
            let o = run.object(&[100 + k]);
            run.set_at(o, x, Value::int(k as i64), put).unwrap();
            assert_eq!(run.get_at(o, x, get), Ok(Value::int(k as i64)));
            run.heap.model_mut().call_target(call, k % 3);
        }
        assert_eq!(run.model().shape_count(), 21);
        for site in [get, put, call] {
            assert_eq!(run.model().state(site), IcState::Uninitialized);
        }
        let ic = run.model().field_ic(get);
        assert_eq!((ic.hits, ic.misses), (0, 0));
        assert!(run.events().is_empty());
        assert!(run.model().megamorphic().0.is_empty());
    }

    #[test]
    fn call_sites_cache_their_targets() {
        use IcState::*;
        let mut run = Run::new(true);
        let site = run.site("call");
        let program = run.verified.program();
        let [f1, f2, f3, f4, f5] =
            ["f1", "f2", "f3", "f4", "f5"].map(|f| program.function_named(f).unwrap());
        let model = run.heap.model_mut();
        for f in [f1, f1, f2, f3, f4, f2] {
            model.call_target(site, f);
        }
        let ic = run.model().call_ic(site);
        assert_eq!((ic.state, ic.hits, ic.misses), (Polymorphic, 2, 4));
        assert_eq!(ic.targets[0], Value::function(f1).bits());
        run.heap.model_mut().call_target(site, f5);
        assert_eq!(run.model().call_ic(site).state, Megamorphic);
        assert_eq!(
            run.events(),
            vec![
                transition("call", 6, "call", Uninitialized, Monomorphic, "f1"),
                transition("call", 6, "call", Monomorphic, Polymorphic, "f2"),
                transition("call", 6, "call", Polymorphic, Megamorphic, "f5"),
            ]
        );
    }

    #[test]
    fn the_site_table_shows_each_sites_state_and_counts() {
        let mut run = Run::new(true);
        let (get, call, x) = (run.site("get"), run.site("call"), run.field("x"));
        let o = run.object(&[x]);
        for _ in 0..3 {
            run.get_at(o, x, get).unwrap();
        }
        let program = run.verified.program();
        let [f2, f1] = ["f2", "f1"].map(|f| program.function_named(f).unwrap());
        for f in [f2, f1, f2] {
            run.heap.model_mut().call_target(call, f);
        }
        // The model numbers the sites as the tiers do.
        let numbered: Vec<_> = run.model().sites().iter().map(|(s, i)| (s, *i)).collect();
        let expected: Vec<_> = run.sites.iter().map(|(s, i)| (s, *i)).collect();
        assert_eq!(numbered, expected);
        let table = run.model().site_table(run.verified.program(), &run.sites);
        // Each line's words, one space apart.
        let lines: Vec<String> = table
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        // main's object literal has six sites, then get, put and call one each.
        assert_eq!(
            lines,
            [
                "inline caches: 9 sites, 2 shapes, 1 transitions",
                "site where access state hits misses cached",
                "0 main:12 set a uninitialized 0 0",
                "1 main:12 set b uninitialized 0 0",
                "2 main:12 set c uninitialized 0 0",
                "3 main:12 set d uninitialized 0 0",
                "4 main:12 set e uninitialized 0 0",
                "5 main:12 set x uninitialized 0 0",
                "6 get:1 get x monomorphic 2 1 shapes 1",
                "7 put:3 set x uninitialized 0 0",
                "8 call:6 call polymorphic 1 2 f2, f1",
            ]
        );
    }

    /// Random field traffic on two heaps, stage 1's by-name objects and this model,
    /// through the sites of a program with two `get_field` and two `set_field` sites
    /// per field: every read and every object's fields, in order, agree.
    #[test]
    fn random_field_traffic_agrees_with_the_by_name_model() {
        const FIELDS: usize = 12;
        let mut source = String::new();
        for f in 0..FIELDS {
            for copy in ["a", "b"] {
                source.push_str(&format!(
                    "fn get{f}{copy}(o) {{ return o.f{f}; }}\n\
                     fn set{f}{copy}(o, v) {{ o.f{f} = v; return 0; }}\n"
                ));
            }
        }
        let verified = load_source("traffic.mini", &source).expect("the program loads");
        let program = verified.program();
        let sites = verified.sites();
        // The get and set sites of each field id, and the field id of `f{f}`.
        let field_id = |f: usize| {
            let name = format!("f{f}");
            program.fields.iter().position(|n| *n == name).unwrap() as u32
        };
        let site_of = |name: String| {
            let func = program.function_named(&name).unwrap();
            sites.iter().find(|(_, i)| i.func == func).unwrap().0
        };
        for caches in [true, false] {
            for seed in 1..=12u64 {
                let mut by_name = Heap::default();
                let mut shapes = Heap::with_model(
                    DEFAULT_HEAP_LIMIT,
                    Box::new(ShapeModel::new(&verified, caches)),
                );
                let mut objects: Vec<(Value, Value)> = Vec::new();
                let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                let mut next = |n: usize| {
                    // xorshift64
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state % n as u64) as usize
                };
                for _ in 0..3000 {
                    let roll = next(20);
                    if objects.is_empty() || (roll < 2 && objects.len() < 64) {
                        objects.push((
                            by_name.alloc_object().unwrap(),
                            shapes.alloc_object().unwrap(),
                        ));
                        continue;
                    }
                    let (a, b) = objects[next(objects.len())];
                    let f = next(FIELDS);
                    let copy = ["a", "b"][next(2)];
                    if roll < 11 {
                        let v = Value::int(next(1000) as i64);
                        let site = site_of(format!("set{f}{copy}"));
                        by_name.set_field(a, field_id(f), v).unwrap();
                        assert!(shapes.holds(b));
                        // SAFETY: `b` is of `shapes`, just checked; `v` an integer.
                        unsafe { shapes.set_field_at_unchecked(b, field_id(f), v, Some(site)) }
                            .unwrap();
                    } else {
                        let site = site_of(format!("get{f}{copy}"));
                        let expected = by_name.get_field(a, field_id(f));
                        assert!(shapes.holds(b));
                        // SAFETY: `b` is of `shapes`, just checked.
                        let got =
                            unsafe { shapes.get_field_at_unchecked(b, field_id(f), Some(site)) };
                        assert_eq!(got, expected, "seed {seed}, caches {caches}");
                    }
                }
                for &(a, b) in &objects {
                    assert_eq!(
                        shapes.object_fields(b),
                        by_name.object_fields(a),
                        "seed {seed}"
                    );
                }
                let model: &ShapeModel = shapes.model().as_any().downcast_ref().unwrap();
                if caches {
                    // The traffic is polymorphic enough to reach every state.
                    let states: std::collections::HashSet<IcState> =
                        sites.iter().map(|(site, _)| model.state(site)).collect();
                    assert!(states.contains(&IcState::Megamorphic), "seed {seed}");
                }
            }
        }
    }
}
