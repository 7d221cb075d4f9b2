//! Optimized code's object instructions from the inline caches: stage 6's
//! [`ObjectLowering`] for stage 4.
//!
//! When stage 5 queues a function for the optimizer, [`OptimizedCode::snapshot`] copies
//! the state of the function's ICs, on the run's thread: for each `get_field` and
//! `set_field` site the shapes it has seen (as the words objects hold) with the slot
//! of the field and, for a `set_field` that adds the field, the shape after; for each
//! `call_value` site the functions it has called. The compile runs on stage 5's worker
//! while the program goes on changing its ICs; it reads only the snapshot. Shapes are
//! never freed during a run, so their addresses are constants of the code.
//!
//! A site the snapshot knows (monomorphic or polymorphic) becomes a chain of shape
//! compares, each followed by its direct access:
//!
//! ```text
//!     lea   rdx, [obj - 3]            ; the object's block (an object is tagged 3)
//!     test  edx, 7                    ; not an object: the runtime says why
//!     jne   miss
//!     mov   rax, SHAPE_0              ; one compare per shape seen (up to 4)
//!     cmp   [rdx], rax
//!     jne   next_0
//!     mov   rax, [rdx + 16 + 8i]      ; an inline slot
//!     jmp   hit
//! next_0:
//!     mov   rax, SHAPE_1
//!     cmp   [rdx], rax
//!     jne   miss                      ; the last one misses to the runtime call
//!     mov   rax, [rdx + 8]            ; a slot in the overflow block
//!     mov   rax, [rax + 8j]
//! hit:
//! ```
//!
//! A miss is stage 4's runtime call (which updates the IC: the code stays as it was
//! compiled — stage 7 is where code is made again). A site never run, or megamorphic,
//! gets no fast path. A `call_value` site's targets become stage 4's guarded direct
//! calls. `new_object`, array literals and `[v; n]` allocate inline
//! ([`allocation`], the emitters baseline code uses too, here in
//! stage 4's three scratch registers).

use std::collections::{HashMap, HashSet};

use stage1::heap::Heap;
use stage1::objects::{Site, SiteInfo, SiteKind, Sites};
use stage1::value::{FUNCTION_SHIFT, FUNCTION_TAG, TAG_MASK};
use stage1::FnId;
use stage2::{Assembler, BitOp, Cond, Imm32, IndexReg, Label, Mem, Reg, Scale};
use stage4::objects::{ObjectLowering, Operand, ACC, TMP, TMP2};

use crate::allocation::{self, Scratch, LITERAL_MAX};

use crate::ics::IcState;
use crate::layout::{
    IcEntry, FIELD_IC_ENTRIES, IC_ENTRIES, IC_ENTRY_BYTES, IC_SHAPE, IC_SLOT, OVERFLOW_BIT,
    OVERFLOW_OFFSET, SHAPE_OFFSET, UNTAG,
};
use crate::megamorphic::{
    MEGA_ENTRY_BYTES, MEGA_FIELD, MEGA_FIELD_SHIFT, MEGA_HASH, MEGA_INDEX_SHIFT, MEGA_SHAPE,
    MEGA_SLOT,
};
use crate::model::ShapeModel;

/// One shape a field site has seen, as optimized code uses it (an IC entry's words).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldCase {
    /// The shape word of the objects this case is for.
    pub shape: u64,
    /// Where the field is: the byte offset from the tagged object pointer of an
    /// inline slot, or `OVERFLOW_BIT |` the byte offset in the overflow block.
    pub slot: u64,
    /// For a `set_field` that adds the field, the shape after; 0 for a plain store.
    pub new_shape: u64,
}

/// A snapshot of the ICs of one function's sites, for its optimized code (see the
/// module's documentation): what the code generator reads on the worker thread.
#[derive(Clone, Debug, Default)]
pub struct OptimizedCode {
    /// The cases of each `get_field`/`set_field` site that has some, most recent last
    /// (as the IC holds them).
    fields: HashMap<Site, Vec<FieldCase>>,
    /// The targets of each `call_value` site that has some.
    calls: HashMap<Site, Vec<FnId>>,
    /// The `get_field`/`set_field` sites whose cache is still uninitialized: they
    /// never ran. Stage 7's optimizer may bet that one is not reached at all.
    never_run: HashSet<Site>,
    /// The field of each `get_field` site, for the probe of the megamorphic cache.
    load_fields: HashMap<Site, u32>,
    /// The address of each `get_field` site's cache (a `FieldIc`, which stays where
    /// it is for the run), for the probe of its live entries.
    load_ics: HashMap<Site, u64>,
    /// Where the run's megamorphic cache of loads keeps the address of its entries
    /// (`MegamorphicCache::table_word`; none: no probe).
    loads_table: Option<u64>,
    /// Where `new_object`, `new_array` and `new_array_fill` allocate: the heap's
    /// bump pointer (`stage1::heap::Bump`), and the empty shape's word for objects;
    /// `None`: through the runtime.
    allocation: Option<(u64, u64)>,
}

impl OptimizedCode {
    /// A snapshot with no sites (every access through the runtime).
    pub fn new() -> OptimizedCode {
        OptimizedCode::default()
    }

    /// The snapshot for function `func` of a run on `heap`, for stage 5's
    /// `Extension::optimizer`: `None` unless the heap's model is a caching
    /// [`ShapeModel`] (by-name objects, or `--no-ic`: stage 4's runtime calls). Taken
    /// on the run's thread.
    /// Its `new_object`, `new_array` and `new_array_fill` allocate inline from the
    /// heap's bump pointer (an address fixed for the heap's life): the code must not
    /// outlive the heap.
    pub fn of_heap(heap: &mut Heap, func: FnId) -> Option<OptimizedCode> {
        OptimizedCode::of_heap_sites(heap, Some(&[func]))
    }

    /// [`OptimizedCode::of_heap`] for the sites of the functions `funcs` (`None`: of
    /// every function of the program), for an optimizer that inlines callees and
    /// compiles their sites too: stage 7's.
    pub fn of_heap_sites(heap: &mut Heap, funcs: Option<&[FnId]>) -> Option<OptimizedCode> {
        let bump = heap.bump() as u64;
        let heap: &Heap = heap;
        let model = heap.model().as_any().downcast_ref::<ShapeModel>()?;
        model.caches().then(|| {
            let code = OptimizedCode::snapshot_sites(
                model.sites(),
                funcs,
                |site| model.field_ic(site).entries,
                |site| model.call_ic(site).targets,
            )
            .with_allocation(bump, model.empty_shape());
            // The same functions' sites: those that never ran, and the loads.
            let chosen: Vec<(Site, &SiteInfo)> = sites_of(model.sites(), funcs).collect();
            let never_run = chosen.iter().filter(|(site, info)| {
                !matches!(info.kind, SiteKind::CallValue)
                    && model.state(*site) == IcState::Uninitialized
            });
            let code = never_run.fold(code, |code, &(site, _)| code.with_never_run(site));
            let loads: Vec<(Site, u32)> = chosen
                .iter()
                .filter_map(|&(site, info)| match info.kind {
                    SiteKind::GetField(field) => Some((site, field)),
                    _ => None,
                })
                .collect();
            let ics = loads
                .iter()
                .map(|&(site, _)| (site, model.field_ic_ptr(site) as u64));
            code.with_load_ics(ics)
                .with_megamorphic_loads(loads, model.megamorphic().0.table_word())
        })
    }

    /// The state of the caches of function `func`'s sites in `model`, now. Taken on
    /// the run's thread, the one that changes the caches (stage 5 does it when it
    /// queues the function for the optimizer).
    pub fn snapshot(model: &ShapeModel, func: FnId) -> OptimizedCode {
        OptimizedCode::snapshot_with(
            model.sites(),
            func,
            |site| model.field_ic(site).entries,
            |site| model.call_ic(site).targets,
        )
    }

    /// [`OptimizedCode::snapshot`] from any caches: `field` gives a
    /// `get_field`/`set_field` site's entries (empty ones have shape 0), `call` a
    /// `call_value` site's targets (function values, 0 for empty).
    pub fn snapshot_with(
        sites: &Sites,
        func: FnId,
        field: impl Fn(Site) -> [IcEntry; IC_ENTRIES],
        call: impl Fn(Site) -> [u64; IC_ENTRIES],
    ) -> OptimizedCode {
        OptimizedCode::snapshot_sites(sites, Some(&[func]), field, call)
    }

    /// [`OptimizedCode::snapshot_with`] for the sites of the functions `funcs`, or
    /// with `None` of every function.
    pub fn snapshot_sites(
        sites: &Sites,
        funcs: Option<&[FnId]>,
        field: impl Fn(Site) -> [IcEntry; IC_ENTRIES],
        call: impl Fn(Site) -> [u64; IC_ENTRIES],
    ) -> OptimizedCode {
        let mut code = OptimizedCode::new();
        for (site, info) in sites_of(sites, funcs) {
            match info.kind {
                SiteKind::GetField(_) | SiteKind::SetField(_) => {
                    let cases = field(site)
                        .iter()
                        .filter(|e| e.shape != 0)
                        .map(|e| FieldCase {
                            shape: e.shape,
                            slot: e.slot,
                            new_shape: e.new_shape,
                        })
                        .collect();
                    code = code.with_field(site, cases);
                }
                SiteKind::CallValue => {
                    let targets = call(site)
                        .iter()
                        .filter_map(|&word| function_index(word))
                        .collect();
                    code = code.with_call(site, targets);
                }
            }
        }
        code
    }

    /// This snapshot with field site `site`'s cases set to `cases` (none: no fast
    /// path).
    pub fn with_field(mut self, site: Site, cases: Vec<FieldCase>) -> OptimizedCode {
        if cases.is_empty() {
            self.fields.remove(&site);
        } else {
            self.fields.insert(site, cases);
        }
        self
    }

    /// This snapshot with field site `site` among those that never ran.
    pub fn with_never_run(mut self, site: Site) -> OptimizedCode {
        self.never_run.insert(site);
        self
    }

    /// This snapshot with the caches of `get_field` sites, each site with the address
    /// of its `FieldIc`, whose entries a miss of its cases (or an access with none)
    /// probes as they are then, before the megamorphic cache and the runtime.
    pub fn with_load_ics(mut self, ics: impl IntoIterator<Item = (Site, u64)>) -> OptimizedCode {
        self.load_ics.extend(ics);
        self
    }

    /// This snapshot with the megamorphic cache of loads whose entries' address is
    /// kept at `table_word` (`MegamorphicCache::table_word`, 0 there until it has
    /// entries), probed when a `get_field` of `loads` (its site and field) misses
    /// its cases (or has none) before the runtime is called.
    pub fn with_megamorphic_loads(
        mut self,
        loads: impl IntoIterator<Item = (Site, u32)>,
        table_word: u64,
    ) -> OptimizedCode {
        self.load_fields.extend(loads);
        self.loads_table = Some(table_word);
        self
    }

    /// The field sites that had never run when the snapshot was taken, in no
    /// particular order.
    pub fn never_run_sites(&self) -> impl Iterator<Item = Site> + '_ {
        self.never_run.iter().copied()
    }

    /// This snapshot with call site `site`'s known targets set to `targets`.
    pub fn with_call(mut self, site: Site, targets: Vec<FnId>) -> OptimizedCode {
        if targets.is_empty() {
            self.calls.remove(&site);
        } else {
            self.calls.insert(site, targets);
        }
        self
    }

    /// This snapshot with `new_object`, `new_array` and `new_array_fill` allocating
    /// inline from the bump pointer at `bump` (`Heap::bump`), a new object's shape
    /// `empty_shape`.
    pub fn with_allocation(mut self, bump: u64, empty_shape: u64) -> OptimizedCode {
        self.allocation = Some((bump, empty_shape));
        self
    }

    /// The cases of field site `site` (empty: none known).
    pub fn field_cases(&self, site: Site) -> &[FieldCase] {
        self.fields.get(&site).map_or(&[], Vec::as_slice)
    }

    /// The sites this snapshot knows something of: field sites with cases and
    /// `call_value` sites with targets, in no particular order.
    pub fn known_sites(&self) -> impl Iterator<Item = Site> + '_ {
        self.fields.keys().chain(self.calls.keys()).copied()
    }
}

impl ObjectLowering for OptimizedCode {
    fn get_field(
        &self,
        asm: &mut Assembler,
        site: Site,
        obj: Reg,
        checked: bool,
        miss: Label,
    ) -> bool {
        let cases = self.field_cases(site);
        if cases.is_empty() {
            return false;
        }
        let block = object_block(asm, obj, checked, miss);
        dispatch(asm, block, cases, miss, |asm, case| {
            let field = slot_address(asm, block, case.slot);
            asm.mov(ACC, field);
        });
        true
    }

    fn set_field(
        &self,
        asm: &mut Assembler,
        site: Site,
        obj: Reg,
        value: Reg,
        checked: bool,
        miss: Label,
    ) -> bool {
        let cases = self.field_cases(site);
        if cases.is_empty() {
            return false;
        }
        debug_assert!(
            value != ACC && value != TMP,
            "stage 4 keeps rax and rdx free"
        );
        let block = object_block(asm, obj, checked, miss);
        dispatch(asm, block, cases, miss, |asm, case| {
            let field = slot_address(asm, block, case.slot);
            asm.mov_mr(field, value);
            if case.new_shape != 0 {
                // A transition: the field is new, its slot already there.
                store_word(asm, Mem::base_disp(block, SHAPE_OFFSET), case.new_shape);
            }
        });
        true
    }

    fn named_addresses(&self) -> Vec<(u64, &'static str)> {
        self.loads_table
            .map(|word| (word, "megamorphic loads"))
            .into_iter()
            .collect()
    }

    fn get_field_probe(&self, asm: &mut Assembler, site: Site, obj: Reg, miss: Label) -> bool {
        let ic = self.load_ics.get(&site).copied();
        let mega = self.load_fields.get(&site).copied().zip(self.loads_table);
        if ic.is_none() && mega.is_none() {
            return false;
        }
        let block = object_block(asm, obj, false, miss);
        let done = asm.new_label();
        if let Some(ic) = ic {
            let next = asm.new_label();
            own_entries_load(asm, block, ic, next);
            asm.jmp(done);
            asm.bind(next);
        }
        match mega {
            Some((field, table)) => megamorphic_load(asm, block, field, table, miss),
            None => asm.jmp(miss),
        }
        asm.bind(done);
        true
    }

    fn monomorphic(&self, site: Site) -> Option<(u64, u64)> {
        match self.field_cases(site) {
            [case] if case.new_shape != 0 => Some((case.shape, case.new_shape)),
            [case] => Some((case.shape, case.shape)),
            _ => None,
        }
    }

    fn get_field_known(&self, asm: &mut Assembler, site: Site, obj: Reg, miss: Label) -> bool {
        let [case] = self.field_cases(site) else {
            return self.get_field(asm, site, obj, true, miss);
        };
        let field = known_slot_address(asm, obj, case.slot);
        asm.mov(ACC, field);
        true
    }

    fn set_field_known(
        &self,
        asm: &mut Assembler,
        site: Site,
        obj: Reg,
        value: Reg,
        miss: Label,
    ) -> bool {
        let [case] = self.field_cases(site) else {
            return self.set_field(asm, site, obj, value, true, miss);
        };
        let field = known_slot_address(asm, obj, case.slot);
        asm.mov_mr(field, value);
        if case.new_shape != 0 {
            store_word(
                asm,
                Mem::base_disp(obj, UNTAG + SHAPE_OFFSET),
                case.new_shape,
            );
        }
        true
    }

    fn new_object(&self, asm: &mut Assembler, miss: Label) -> bool {
        let Some((bump, empty_shape)) = self.allocation else {
            return false;
        };
        allocation::emit_new_object(asm, bump, empty_shape, ALLOCATION, miss);
        true
    }

    fn new_array(&self, asm: &mut Assembler, elements: &[Operand], miss: Label) -> bool {
        let Some((bump, _)) = self.allocation else {
            return false;
        };
        if elements.len() > LITERAL_MAX {
            return false;
        }
        allocation::emit_new_array(asm, bump, elements, ALLOCATION, miss);
        true
    }

    fn new_array_fill(&self, asm: &mut Assembler, value: Operand, n: Operand, miss: Label) -> bool {
        let Some((bump, _)) = self.allocation else {
            return false;
        };
        allocation::emit_new_array_fill(asm, bump, value, n, ALLOCATION, miss)
    }

    fn call_targets(&self, site: Site) -> Vec<FnId> {
        self.calls.get(&site).cloned().unwrap_or_default()
    }
}

/// The registers inline allocation uses in optimized code: stage 4's scratch
/// registers, no allocated one.
const ALLOCATION: Scratch = Scratch {
    block: ACC,
    bump: TMP2,
    temp: TMP,
};

/// Checks that `obj` is an object (else a jump to `miss`: the runtime raises the
/// error) — unless it is `checked` already, by an earlier access of the block — and
/// gives the register holding its block's address (`TMP`).
fn object_block(asm: &mut Assembler, obj: Reg, checked: bool, miss: Label) -> Reg {
    asm.lea(TMP, Mem::base_disp(obj, UNTAG));
    if !checked {
        asm.test(TMP.r32(), Imm32(TAG_MASK as i32));
        asm.jcc(Cond::NE, miss);
    }
    TMP
}

/// The polymorphic dispatch: for each case in turn, the object's shape (at
/// `[block]`) compared with the case's, and `access` on a match; a shape matching no
/// case jumps to `miss`. Every access ends at the same place, after the chain.
fn dispatch(
    asm: &mut Assembler,
    block: Reg,
    cases: &[FieldCase],
    miss: Label,
    mut access: impl FnMut(&mut Assembler, &FieldCase),
) {
    // exercise-begin: optimized-dispatch for each cached shape in turn, compare the object's shape word with it (compare_word) and on a match do the access and go past the chain; the last mismatch jumps to `miss`
    let hit = asm.new_label();
    for (k, case) in cases.iter().enumerate() {
        let last = k + 1 == cases.len();
        let next = if last { miss } else { asm.new_label() };
        compare_word(asm, Mem::base_disp(block, SHAPE_OFFSET), case.shape);
        asm.jcc(Cond::NE, next);
        access(asm, case);
        if !last {
            asm.jmp(hit);
            asm.bind(next);
        }
    }
    asm.bind(hit);
    // exercise-end
}

/// The probe of the run's megamorphic cache of loads, in line: the entry that the
/// key (the shape of the object whose block is in `block`, `field`) hashes to, as
/// `megamorphic::index` computes it, in the entries whose address is the word at
/// `table_word`; when the entry holds that very key, the field's value from the
/// entry's slot (inline, or in the overflow block), in `rax`; else (or before the
/// cache has entries) a jump to `miss`, the runtime's call, which fills the site's
/// cache and, at a megamorphic site, the entry. V8's megamorphic loads probe its
/// stub cache so, in a builtin, before they call the runtime.
///
/// ```text
///   mov  rax, FIELD << 40 ; xor rax, [block]       ; the key
///   mov  tmp2, HASH ; imul rax, tmp2 ; shr rax, 54 ; its entry's index
///   shl  rax, 5
///   mov  tmp2, TABLE_WORD ; mov tmp2, [tmp2]       ; the entries
///   test tmp2, tmp2 ; jz miss ; add rax, tmp2      ; the entry
///   mov  tmp2, [block] ; cmp tmp2, [rax] ; jne miss  ; the shape ...
///   mov  tmp2d, FIELD ; cmp tmp2d, [rax+24] ; jne miss  ; ... and the field
///   mov  rax, [rax+8] ; test rax, rax ; js overflow
///   mov  rax, [block + rax - UNTAG]                ; an inline slot
/// ```
fn megamorphic_load(asm: &mut Assembler, block: Reg, field: u32, table_word: u64, miss: Label) {
    let shape = Mem::base_disp(block, SHAPE_OFFSET);
    asm.mov_imm(ACC, (u64::from(field) << MEGA_FIELD_SHIFT) as i64);
    asm.xor(ACC, shape);
    asm.mov_imm(TMP2, MEGA_HASH as i64);
    asm.imul(ACC, TMP2);
    asm.shr(ACC, MEGA_INDEX_SHIFT as u8);
    asm.shl(ACC, MEGA_ENTRY_BYTES.trailing_zeros() as u8);
    asm.mov_imm(TMP2, table_word as i64);
    asm.mov(TMP2, Mem::base(TMP2));
    asm.test(TMP2, TMP2);
    asm.jcc(Cond::E, miss);
    asm.add(ACC, TMP2);
    asm.mov(TMP2, shape);
    asm.cmp(TMP2, Mem::base_disp(ACC, MEGA_SHAPE));
    asm.jcc(Cond::NE, miss);
    asm.mov(TMP2.r32(), Imm32(field as i32));
    asm.cmp(TMP2.r32(), Mem::base_disp(ACC, MEGA_FIELD));
    asm.jcc(Cond::NE, miss);
    asm.mov(ACC, Mem::base_disp(ACC, MEGA_SLOT));
    load_slot(asm, block);
}

/// A `get_field` site's own cache probed in line, as it is when the code runs (the
/// runtime fills it after the code was made): the shape of the object whose block is
/// in `block` compared with each entry's, at `ic` (a `FieldIc`); on a match the field's
/// value in `rax`, falling through; else a jump to `next`. An empty entry's shape, 0,
/// is no object's.
fn own_entries_load(asm: &mut Assembler, block: Reg, ic: u64, next: Label) {
    asm.mov(ACC, Mem::base_disp(block, SHAPE_OFFSET));
    asm.mov_imm(TMP2, ic as i64 + i64::from(FIELD_IC_ENTRIES));
    let hits: Vec<Label> = (0..IC_ENTRIES).map(|_| asm.new_label()).collect();
    for (k, &hit) in hits.iter().enumerate() {
        asm.cmp(
            ACC,
            Mem::base_disp(TMP2, k as i32 * IC_ENTRY_BYTES + IC_SHAPE),
        );
        asm.jcc(Cond::E, hit);
    }
    asm.jmp(next);
    let found = asm.new_label();
    for (k, &hit) in hits.iter().enumerate() {
        asm.bind(hit);
        asm.mov(
            ACC,
            Mem::base_disp(TMP2, k as i32 * IC_ENTRY_BYTES + IC_SLOT),
        );
        if k + 1 < hits.len() {
            asm.jmp(found);
        }
    }
    asm.bind(found);
    load_slot(asm, block);
}

/// The field whose slot word (an IC entry's) is in `rax`, of the object whose block is
/// in `block`, loaded into `rax`: an inline slot is an offset from the tagged pointer,
/// an overflow slot (its top bit set) one in the overflow block.
fn load_slot(asm: &mut Assembler, block: Reg) {
    // The slot in `rax` indexes the object: `rax` is ACC.
    const _: () = assert!(matches!(ACC, Reg::RAX));
    let overflow = asm.new_label();
    let done = asm.new_label();
    asm.test(ACC, ACC);
    asm.jcc(Cond::S, overflow);
    asm.mov(ACC, Mem::sib(block, IndexReg::RAX, Scale::S1, -UNTAG));
    asm.jmp(done);
    asm.bind(overflow);
    asm.bit(BitOp::Btr, ACC, 63);
    asm.mov(TMP2, Mem::base_disp(block, OVERFLOW_OFFSET));
    asm.mov(ACC, Mem::sib(TMP2, IndexReg::RAX, Scale::S1, 0));
    asm.bind(done);
}

/// The sites of the functions `funcs` (`None`: of every function).
fn sites_of<'a>(
    sites: &'a Sites,
    funcs: Option<&'a [FnId]>,
) -> Box<dyn Iterator<Item = (Site, &'a SiteInfo)> + 'a> {
    match funcs {
        Some(funcs) => Box::new(funcs.iter().flat_map(|&f| sites.in_function(f))),
        None => Box::new(sites.iter()),
    }
}

/// The address of the field at `slot` (an IC entry's slot word) of the object whose
/// block is in `block`: an inline slot directly, an overflow slot through the overflow
/// pointer (loaded into `rax`).
fn slot_address(asm: &mut Assembler, block: Reg, slot: u64) -> Mem {
    if slot & OVERFLOW_BIT != 0 {
        asm.mov(ACC, Mem::base_disp(block, OVERFLOW_OFFSET));
        Mem::base_disp(ACC, (slot & !OVERFLOW_BIT) as i32)
    } else {
        // The slot is an offset from the tagged pointer; `block` is untagged.
        Mem::base_disp(block, slot as i32 - UNTAG)
    }
}

/// [`slot_address`] from the tagged pointer in `obj` (an object whose shape is known,
/// see `ObjectLowering::monomorphic`): an inline slot is one displacement away.
fn known_slot_address(asm: &mut Assembler, obj: Reg, slot: u64) -> Mem {
    if slot & OVERFLOW_BIT != 0 {
        asm.mov(ACC, Mem::base_disp(obj, UNTAG + OVERFLOW_OFFSET));
        Mem::base_disp(ACC, (slot & !OVERFLOW_BIT) as i32)
    } else {
        Mem::base_disp(obj, slot as i32)
    }
}

/// `cmp [at], word`: an immediate when the word fits one, else through `rax`.
fn compare_word(asm: &mut Assembler, at: Mem, word: u64) {
    match i32::try_from(word as i64) {
        Ok(imm) => asm.cmp_mi(at, Imm32(imm)),
        Err(_) => {
            asm.mov_imm(ACC, word as i64);
            asm.cmp(ACC, at);
        }
    }
}

/// `mov [at], word`: an immediate when the word fits one, else through `rax`.
fn store_word(asm: &mut Assembler, at: Mem, word: u64) {
    match i32::try_from(word as i64) {
        Ok(imm) => asm.mov_mi(at, Imm32(imm)),
        Err(_) => {
            asm.mov_imm(ACC, word as i64);
            asm.mov_mr(at, ACC);
        }
    }
}

/// The function a call cache's word names (a function value), if any (0 is empty).
pub fn function_index(word: u64) -> Option<FnId> {
    (word & TAG_MASK == FUNCTION_TAG).then_some((word >> FUNCTION_SHIFT) as FnId)
}
