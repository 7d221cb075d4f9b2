//! The object model: what an object is, as one trait every tier goes through, and the
//! *sites* of a program where objects are used.
//!
//! Stage 1's objects are found by name ([`ByName`]: a list of `(field, value)` pairs
//! searched from the start). Stage 6 gives objects hidden classes and every site an
//! inline cache; it does so by installing another [`ObjectModel`] in the run's
//! [`Heap`](crate::heap::Heap) ([`Heap::with_model`](crate::heap::Heap::with_model)),
//! not by changing the interpreter or the code generators. They only ever ask the
//! heap, and say *where* they ask from: each `get_field`, `set_field` and `call_value`
//! instruction of a program is a [`Site`], numbered once per program by [`Sites`], so
//! that a model can keep a cache per site.
//!
//! The heap keeps the memory ([`Blocks`]) and checks what it can before a model sees
//! an object: the tag (a `type error` is the heap's), and that the object is of this
//! heap. A model answers `None` for a missing field; the heap turns that into
//! `no such field`.

pub(crate) mod by_name;

use std::any::Any;

use crate::bytecode::{FnId, Instr, Program};
use crate::engine::Event;
use crate::error::ErrorKind;
use crate::heap::Blocks;
use crate::value::Value;

pub use by_name::ByName;

/// A `get_field`, `set_field` or `call_value` instruction of a program, by its number
/// in program order (function by function, pc by pc).
pub type Site = u32;

/// What a site does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteKind {
    /// `get_field` of this field id.
    GetField(u32),
    /// `set_field` of this field id.
    SetField(u32),
    /// `call_value`.
    CallValue,
}

/// Where a site is and what it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SiteInfo {
    /// The function it is in.
    pub func: FnId,
    /// Its pc in that function.
    pub pc: usize,
    /// Its instruction.
    pub kind: SiteKind,
}

/// Every site of a program, numbered in program order: what every tier agrees on when
/// it names a site to the object model.
#[derive(Clone, Debug, Default)]
pub struct Sites {
    /// The sites, in order.
    sites: Vec<SiteInfo>,
    /// The first site of each function, and one past the last function's last.
    first: Vec<Site>,
}

impl Sites {
    /// The sites of `program`.
    pub fn new(program: &Program) -> Sites {
        let mut sites = Vec::new();
        let mut first = Vec::with_capacity(program.functions.len() + 1);
        for (func, f) in program.functions.iter().enumerate() {
            first.push(sites.len() as Site);
            for (pc, instr) in f.code.iter().enumerate() {
                let kind = match *instr {
                    Instr::GetField(k) => SiteKind::GetField(k),
                    Instr::SetField(k) => SiteKind::SetField(k),
                    Instr::CallValue(_) => SiteKind::CallValue,
                    _ => continue,
                };
                sites.push(SiteInfo {
                    func: func as FnId,
                    pc,
                    kind,
                });
            }
        }
        first.push(sites.len() as Site);
        Sites { sites, first }
    }

    /// How many sites there are.
    pub fn len(&self) -> usize {
        self.sites.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// The site of the instruction at `pc` of `func`, if it is one.
    pub fn of(&self, func: FnId, pc: usize) -> Option<Site> {
        let (start, end) = (
            *self.first.get(func as usize)?,
            *self.first.get(func as usize + 1)?,
        );
        let within = &self.sites[start as usize..end as usize];
        let i = within.binary_search_by_key(&pc, |s| s.pc).ok()?;
        Some(start + i as Site)
    }

    /// Where site `site` is and what it does.
    ///
    /// # Panics
    /// When there is no such site.
    pub fn info(&self, site: Site) -> &SiteInfo {
        &self.sites[site as usize]
    }

    /// Every site with its number, in order.
    pub fn iter(&self) -> impl Iterator<Item = (Site, &SiteInfo)> {
        self.sites.iter().enumerate().map(|(i, s)| (i as Site, s))
    }

    /// The sites of function `func` with their numbers, in order (none for a function
    /// the program does not have).
    pub fn in_function(&self, func: FnId) -> impl Iterator<Item = (Site, &SiteInfo)> {
        let start = self.first.get(func as usize).copied().unwrap_or(0);
        let end = self.first.get(func as usize + 1).copied().unwrap_or(start);
        (start..end).map(|site| (site, &self.sites[site as usize]))
    }
}

/// What an object is, for every tier: how one is made, how a field is found and
/// added, and in what order `print` shows them. The run's [`Heap`](crate::heap::Heap)
/// holds one; every object operation of every tier comes here, with its [`Site`]
/// when it comes from an instruction (so a model may cache per site).
///
/// The objects given to these methods are objects of the heap that holds the model
/// (its tag checked, and held by it): a model trusts that, which is what its
/// `unsafe` methods ask of their callers.
pub trait ObjectModel: Send + Sync + Any {
    /// A short name for tables ("by name", "shapes").
    fn name(&self) -> &'static str;

    /// A new object with no fields, its memory from `blocks`.
    fn new_object(&mut self, blocks: &mut Blocks) -> Result<Value, ErrorKind>;

    /// Field `field` of object `o`, found without any cache; `None` when `o` has no
    /// such field.
    ///
    /// # Safety
    /// `o` is an object of the heap that holds this model.
    unsafe fn lookup(&self, o: Value, field: u32) -> Option<Value>;

    /// `o.field` as instruction `site` asks it (a model may use and update the
    /// site's cache); `None` when `o` has no such field.
    ///
    /// # Safety
    /// As for [`ObjectModel::lookup`].
    unsafe fn get(&mut self, o: Value, field: u32, site: Site) -> Option<Value> {
        let _ = site;
        // SAFETY: the caller's promise.
        unsafe { self.lookup(o, field) }
    }

    /// `o.field = v`: replaces the field's value, or adds the field after the others
    /// (its memory from `blocks`, which may be `out of memory`); `site` is the
    /// instruction that asks, if one does.
    ///
    /// # Safety
    /// `o` is an object of the heap that holds this model, and `v` is not an array or
    /// object or is one of that heap.
    unsafe fn set(
        &mut self,
        blocks: &mut Blocks,
        o: Value,
        field: u32,
        v: Value,
        site: Option<Site>,
    ) -> Result<(), ErrorKind>;

    /// The `i`th field of `o` in insertion order, with its value; `None` past the
    /// last (`print` walks `0, 1, ..` until then).
    ///
    /// # Safety
    /// As for [`ObjectModel::lookup`].
    unsafe fn field_at(&self, o: Value, i: usize) -> Option<(u32, Value)>;

    /// A `call_value` at `site` is calling function `callee`: a model with call-target
    /// caches records it (the by-name model keeps none).
    fn call_target(&mut self, site: Site, callee: FnId) {
        let _ = (site, callee);
    }

    /// Moves the events the model made since it was last asked (stage 6: inline-cache
    /// transitions) to the end of `out`, in order.
    fn take_events(&mut self, out: &mut Vec<Event>) {
        let _ = out;
    }

    /// The model as `Any`, so the stage that installed it can reach its own type.
    fn as_any(&self) -> &dyn Any;

    /// The model as `Any`, mutable.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::Function;

    fn function(name: &str, code: Vec<Instr>) -> Function {
        Function {
            name: name.into(),
            arity: 0,
            locals: 1,
            lines: vec![1; code.len()],
            code,
        }
    }

    #[test]
    fn sites_are_numbered_in_program_order_and_found_by_pc() {
        use Instr::*;
        let program = Program {
            functions: vec![
                function("main", vec![NewObject, GetField(1), Pop, Const(0), Return]),
                function("f", vec![Const(0), Return]),
                function(
                    "g",
                    vec![NewObject, Dup, Const(0), SetField(0), CallValue(0), Return],
                ),
            ],
            constants: vec![0],
            fields: vec!["a".into(), "b".into()],
        };
        let sites = Sites::new(&program);
        assert_eq!(sites.len(), 3);
        assert_eq!(sites.of(0, 1), Some(0));
        assert_eq!(sites.of(0, 0), None);
        assert_eq!(sites.of(1, 0), None);
        assert_eq!(sites.of(2, 3), Some(1));
        assert_eq!(sites.of(2, 4), Some(2));
        assert_eq!(sites.of(3, 0), None);
        assert_eq!(sites.info(1).kind, SiteKind::SetField(0));
        assert_eq!(sites.info(2).kind, SiteKind::CallValue);
        let all: Vec<_> = sites.iter().map(|(s, i)| (s, i.func, i.pc)).collect();
        assert_eq!(all, vec![(0, 0, 1), (1, 2, 3), (2, 2, 4)]);
    }
}
