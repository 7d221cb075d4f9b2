//! What a later stage adds to optimized code's object instructions: the extension
//! point stage 6 plugs its inline caches into (through stage 5's `Extension`).
//!
//! On its own, stage 4 lowers `get_field` and `set_field` to a call of the runtime
//! (`rt_get_field`, `rt_set_field`) and `call_value` to a tag check, an arity check
//! and an indirect call through the function table. Given an [`ObjectLowering`], it
//! asks it for a fast path of each `get_field`/`set_field` site and of `new_object`,
//! `new_array` and `new_array_fill`, emitted inline, and moves the runtime call out of line (at the end of the
//! function, with the saves of the registers live across it): a hit touches no
//! register the allocator gave out and pays no save. For a `call_value` site it asks for the known targets and calls
//! each one directly behind a compare of the callee word, the generic call after them.
//!
//! The lowering is consulted on the compile's thread (stage 5's worker): it must hold
//! what it needs (a snapshot), never read state the running program changes.

use stage1::{FnId, Program};
use stage2::{Assembler, Label, Mem, Reg};

pub use crate::codegen::{ACC, TMP, TMP2};
pub use stage1::objects::Site;

/// Where an operand of an object instruction is, for a fast path that reads it: a
/// register the allocator gave it (never a scratch register), its spill slot
/// (`rbp`-based, so a fast path may read it at any point), or a constant word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// In this register.
    Reg(Reg),
    /// In this memory word.
    Mem(Mem),
    /// This constant word.
    Imm(i64),
}

/// What a later stage adds to optimized code's object instructions (stage 6: inline
/// shape dispatch from the ICs' states when the function was compiled).
///
/// Registers: a fast path may change [`ACC`] (`rax`), [`TMP`] and [`TMP2`], the
/// scratch registers of stage 4's code generator, and nothing else: every other
/// register may hold a value the allocator placed there (the saves of a call happen
/// only on the miss path). The operands are in the registers named, which are either
/// allocated registers or, for an operand that lives in memory or is a constant,
/// `TMP` (the object) and `TMP2` (a stored value).
pub trait ObjectLowering: Send + Sync {
    /// `get_field` at `site`: the object in `obj` (never `rax`; it may be `TMP`, so
    /// read it before writing `TMP`). Hit: the field's value in `rax`, falling
    /// through. Miss: a jump to `miss` (stage 4's runtime call, which also raises the
    /// errors). Returns false when it emitted nothing (no case known at the site: then
    /// stage 4 emits the runtime call in line, as without a lowering). `checked`: an
    /// earlier access of the same block used this object, so it is one (no tag test
    /// needed; its shape may have changed since).
    fn get_field(
        &self,
        asm: &mut Assembler,
        site: Site,
        obj: Reg,
        checked: bool,
        miss: Label,
    ) -> bool;

    /// `set_field` at `site`: the object in `obj` (never `rax`, maybe `TMP`), the value
    /// in `value` (never `rax` nor `TMP`; maybe `TMP2`, which must then be kept until
    /// the store). Hit: stored (the object's shape changed when the field is new),
    /// falling through; miss: a jump to `miss`. False when it emitted nothing.
    /// `checked` as for [`ObjectLowering::get_field`].
    fn set_field(
        &self,
        asm: &mut Assembler,
        site: Site,
        obj: Reg,
        value: Reg,
        checked: bool,
        miss: Label,
    ) -> bool;

    /// What a `get_field` at `site` whose fast path missed (or that has none) tries
    /// before the runtime's call (stage 6: the run's megamorphic cache): the object in
    /// `obj` (any value: a non-object must jump to `miss`), registers as for
    /// [`ObjectLowering::get_field`]. Hit: the field's value in `rax`, falling
    /// through; miss: a jump to `miss`, the runtime's call. False (the default) when it
    /// emitted nothing. Never for a guarded access (stage 7), whose miss deoptimizes.
    fn get_field_probe(&self, asm: &mut Assembler, site: Site, obj: Reg, miss: Label) -> bool {
        let _ = (asm, site, obj, miss);
        false
    }

    /// The addresses of run data that its code embeds, each with the name a listing
    /// gives it (so that a listing is the same on every run). None by default.
    fn named_addresses(&self) -> Vec<(u64, &'static str)> {
        Vec::new()
    }

    /// The shapes of an object before and after a hit of the field access at `site`
    /// when the site has one case: `(shape, shape)` for a `get_field` or a store to a
    /// field the object has, `(shape, new shape)` for a `set_field` that adds the
    /// field. `None` (the default): several cases, or none. After a guarded access
    /// (stage 7) hits, its object is known to be in the `after` shape — a miss
    /// deoptimizes, nothing runs on — until something may change shapes, and a later
    /// access of the same site's shape need not check it
    /// ([`ObjectLowering::get_field_known`]).
    fn monomorphic(&self, site: Site) -> Option<(u64, u64)> {
        let _ = site;
        None
    }

    /// `get_field` at `site` on an object (in `obj`, as for
    /// [`ObjectLowering::get_field`]) known to be in the site's one shape
    /// ([`ObjectLowering::monomorphic`]): the value in `rax`, no check. By default the
    /// checked access, its object known to be one.
    fn get_field_known(&self, asm: &mut Assembler, site: Site, obj: Reg, miss: Label) -> bool {
        self.get_field(asm, site, obj, true, miss)
    }

    /// `set_field` at `site` on an object known to be in the site's one shape
    /// ([`ObjectLowering::monomorphic`]): the store (and the new shape, for a field
    /// it adds), no check; registers as for [`ObjectLowering::set_field`]. By default
    /// the checked access, its object known to be one.
    fn set_field_known(
        &self,
        asm: &mut Assembler,
        site: Site,
        obj: Reg,
        value: Reg,
        miss: Label,
    ) -> bool {
        self.set_field(asm, site, obj, value, true, miss)
    }

    /// `new_object`: hit: a new empty object in `rax`, falling through; miss (no room
    /// in the chunk, or the heap's limit): a jump to `miss`, nothing allocated (the
    /// runtime call takes over). False when it emitted nothing; by default there is no
    /// fast path.
    fn new_object(&self, asm: &mut Assembler, miss: Label) -> bool {
        let _ = (asm, miss);
        false
    }

    /// `new_array` (a literal): element `i` is `elements[i]`. Hit: the new array in
    /// `rax`, falling through; miss: a jump to `miss`, nothing allocated (the runtime
    /// call takes over). False when it emitted nothing; by default there is no fast
    /// path.
    fn new_array(&self, asm: &mut Assembler, elements: &[Operand], miss: Label) -> bool {
        let _ = (asm, elements, miss);
        false
    }

    /// `new_array_fill` (`[value; n]`): `n` is any value (checking that it is a
    /// non-negative integer is the fast path's; the runtime raises the errors). Hit:
    /// the new array in `rax`, falling through; miss: a jump to `miss`, nothing
    /// allocated. False when it emitted nothing; by default there is no fast path.
    fn new_array_fill(&self, asm: &mut Assembler, value: Operand, n: Operand, miss: Label) -> bool {
        let _ = (asm, value, n, miss);
        false
    }

    /// The known call targets of a `call_value` site (monomorphic or polymorphic),
    /// most likely first, for guarded direct calls; empty when there are none to guard
    /// for (never run, or megamorphic). A target whose arity does not fit the call is
    /// skipped by stage 4.
    fn call_targets(&self, site: Site) -> Vec<FnId>;
}

/// An [`ObjectLowering`] with what stage 4 needs beside it to use it: the program
/// (the arity of a call target).
#[derive(Clone, Copy)]
pub struct Objects<'a> {
    /// The lowering.
    pub lowering: &'a dyn ObjectLowering,
    /// The program.
    pub program: &'a Program,
}
