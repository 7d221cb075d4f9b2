//! The optimizer's passes over the SSA IR, and the pipeline that runs them.
//!
//! Each pass is a module with a paragraph on what it proves. They share one rule,
//! the one that makes optimizing a language with runtime errors delicate: **an
//! instruction that can fail is an effect**. It is never folded to a value it would
//! not give, never removed because its result is unused, never moved before an
//! earlier visible effect — unless the pass proves it cannot fail there. A removed or
//! moved error would change what the program prints.
//!
//! [`optimize`] runs the pipeline and calls an observer after each pass (what `jitlab
//! dump --ir --passes` prints); [`PassStats`] counts what the passes did.

pub mod checks;
pub mod cleanup;
pub mod dce;
pub mod fold;
pub mod gvn;
pub mod licm;
pub mod params;
pub mod sccp;
pub mod strength;

use crate::ir::{Function, Inst, Op, Value, ValueDef};

/// What the passes did to a function (summed over functions by the engine).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassStats {
    /// Instructions and block parameters replaced by a constant (SCCP).
    pub folded: u64,
    /// Branches on a known condition turned into jumps (SCCP).
    pub branches_folded: u64,
    /// `check_int`s removed (integer-tag inference).
    pub checks_eliminated: u64,
    /// Instructions removed because nothing used them (DCE).
    pub removed: u64,
    /// Block parameters removed (redundant or unused).
    pub params_removed: u64,
    /// Instructions replaced by an equal dominating one (GVN).
    pub merged: u64,
    /// Instructions moved out of loops (LICM).
    pub hoisted: u64,
    /// Multiplications, divisions and remainders by constants rewritten (strength
    /// reduction).
    pub reduced: u64,
}

impl PassStats {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &PassStats) {
        self.folded += other.folded;
        self.branches_folded += other.branches_folded;
        self.checks_eliminated += other.checks_eliminated;
        self.removed += other.removed;
        self.params_removed += other.params_removed;
        self.merged += other.merged;
        self.hoisted += other.hoisted;
        self.reduced += other.reduced;
    }
}

/// A pass: it rewrites the function and counts what it did.
pub type Pass = fn(&mut Function, &mut PassStats);

/// The pipeline, in order, with the names `--passes` prints (a name may come twice).
pub const PIPELINE: &[(&str, Pass)] = &[
    ("params", params::run),
    ("sccp", sccp::run),
    ("checks", checks::run),
    ("gvn", gvn::run),
    ("licm", licm::run),
    ("strength", strength::run),
    // Again: constants that LICM gathered in a preheader, and the sign masks of
    // several divisions of one value, are now equal and dominate each other.
    ("gvn", gvn::run),
    ("dce", dce::run),
    ("cleanup", cleanup::run),
];

/// Runs every pass of [`PIPELINE`] on `f`, calling `observer` with each pass's name
/// and the function after it.
pub fn optimize(
    f: &mut Function,
    stats: &mut PassStats,
    mut observer: impl FnMut(&str, &Function),
) {
    for (name, pass) in PIPELINE {
        pass(f, stats);
        observer(name, f);
    }
}

/// The IR of every function of `program` as text (`jitlab dump --ir`): with
/// `passes`, after the builder and then after each pass that changed it
/// (`--passes`), else once optimized.
pub fn listing(program: &stage1::Verified, passes: bool) -> String {
    let mut out = String::new();
    for id in 0..program.program().functions.len() as u32 {
        let mut f = crate::ir::build(program, id);
        let mut stats = PassStats::default();
        if passes {
            let mut last = crate::ir::text::print(&f);
            out.push_str(&format!("; {}: built\n{last}", f.name));
            optimize(&mut f, &mut stats, |pass, f| {
                let now = crate::ir::text::print(f);
                if now == last {
                    out.push_str(&format!("; {}: after {pass}: no change\n", f.name));
                } else {
                    out.push_str(&format!("; {}: after {pass}\n{now}", f.name));
                    last = now;
                }
            });
        } else {
            optimize(&mut f, &mut stats, |_, _| {});
            out.push_str(&crate::ir::text::print(&f));
        }
    }
    out
}

/// Runs the pass called `name` (for tests: text in, text out).
pub fn run_pass(name: &str, f: &mut Function, stats: &mut PassStats) -> Result<(), String> {
    match PIPELINE.iter().find(|(n, _)| *n == name) {
        Some((_, pass)) => {
            pass(f, stats);
            Ok(())
        }
        None => Err(format!("no pass is called '{name}'")),
    }
}

/// True when the value is known to be an array (made by `new_array` or
/// `new_array_fill`), whatever path led here.
pub fn is_array(f: &Function, v: Value) -> bool {
    matches!(f.def_op(v), Some(Op::NewArray(_) | Op::NewArrayFill(..)))
}

/// True when `inst` cannot raise an error where it is, given what its operands are:
/// [`Op::can_fail`], sharpened by what is provable locally — `len` of a value known
/// to be an array, `a[i]` of an array literal at a constant index inside it.
pub fn cannot_fail(f: &Function, inst: Inst) -> bool {
    let op = &f.inst(inst).op;
    if !op.can_fail() {
        return true;
    }
    match *op {
        Op::ArrayLen(a) => is_array(f, a),
        Op::ArrayGet(a, i) => match (f.def_op(a), f.as_const(i)) {
            (Some(Op::NewArray(elems)), Some(i)) => i >= 0 && (i as usize) < elems.len(),
            _ => false,
        },
        Op::CheckInt(x) => known_int_def(f, x),
        _ => false,
    }
}

/// True when the instruction defining `v` always gives an integer.
pub fn known_int_def(f: &Function, v: Value) -> bool {
    f.def_op(v).is_some_and(Op::gives_int)
}

/// Where each value is used: the instructions (in any block) and the blocks whose
/// terminators use it.
pub struct Uses {
    /// Per value: the instructions using it.
    pub insts: Vec<Vec<Inst>>,
    /// Per value: the blocks whose terminator uses it.
    pub terms: Vec<Vec<crate::ir::Block>>,
}

impl Uses {
    /// The uses of every value of `f` in the blocks' instructions and terminators.
    pub fn new(f: &Function) -> Uses {
        let mut insts = vec![Vec::new(); f.values.len()];
        let mut terms = vec![Vec::new(); f.values.len()];
        for (b, data) in f.blocks.iter().enumerate() {
            for &inst in &data.insts {
                f.inst(inst)
                    .op
                    .for_each_arg(|v| insts[v.index()].push(inst));
            }
            data.term
                .for_each_arg(|v| terms[v.index()].push(crate::ir::Block(b as u32)));
        }
        Uses { insts, terms }
    }
}

/// The block and position of each instruction that is in a block.
pub fn inst_places(f: &Function) -> Vec<Option<(crate::ir::Block, usize)>> {
    let mut places = vec![None; f.insts.len()];
    for (b, data) in f.blocks.iter().enumerate() {
        for (i, &inst) in data.insts.iter().enumerate() {
            places[inst.index()] = Some((crate::ir::Block(b as u32), i));
        }
    }
    places
}

/// Values to be replaced by others, applied to the whole function at once (one pass
/// over it, where replacing each value as it is found would be one pass per value).
#[derive(Default)]
pub struct Renames(crate::ir::FastMap<Value, Value>);

impl Renames {
    /// What `v` stands for now, following chains (`a → b → c` gives `c`).
    pub fn resolve(&self, mut v: Value) -> Value {
        while let Some(&next) = self.0.get(&v) {
            v = next;
        }
        v
    }

    /// Records that `from` is `to`; false (and nothing recorded) when `to` already
    /// stands for `from`, which would make a cycle.
    pub fn insert(&mut self, from: Value, to: Value) -> bool {
        let to = self.resolve(to);
        if to == from {
            return false;
        }
        self.0.insert(from, to);
        true
    }

    /// True when nothing is to be renamed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Replaces every use in `f` of a renamed value.
    pub fn apply(&self, f: &mut Function) {
        if !self.0.is_empty() {
            f.map_uses(|v| self.resolve(v));
        }
    }
}

/// True when `v` is a parameter of a block.
pub fn is_param(f: &Function, v: Value) -> bool {
    matches!(f.def(v), ValueDef::Param(..))
}
