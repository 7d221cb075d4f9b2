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

pub mod arrays;
pub mod bounds;
pub mod checks;
pub mod cleanup;
pub mod dce;
pub mod fold;
pub mod gvn;
pub mod inline;
pub mod licm;
pub mod params;
pub mod peel;
pub mod preheaders;
pub mod rce;
pub mod returns;
pub mod sccp;
pub mod signs;
pub mod strength;

use crate::ir::{Function, Graph, GuardKind, Inst, Op, Value, ValueDef};

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
    /// `add`s, `sub`s and `mul`s proved not to overflow (bounds from branches).
    pub bounded: u64,
    /// Direct calls replaced by a copy of the callee (inlining).
    pub inlined: u64,
    /// `check_array`s put before an access that dominates other accesses of the
    /// same value (array-check sharing).
    pub array_checks_shared: u64,
    /// Loops whose first iteration was peeled off (loop peeling).
    pub peeled: u64,
    /// Array accesses that lost their range check in a main loop (range-check
    /// elimination).
    pub range_checks_removed: u64,
    /// Arithmetic made a guard: its overflow deoptimizes (stage 7's `speculate`).
    pub speculated: u64,
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
        self.bounded += other.bounded;
        self.inlined += other.inlined;
        self.array_checks_shared += other.array_checks_shared;
        self.peeled += other.peeled;
        self.range_checks_removed += other.range_checks_removed;
        self.speculated += other.speculated;
    }
}

/// What the passes of one pipeline share besides the function: the facts about its
/// control-flow graph ([`Graph`]), computed when a pass first asks for them and kept
/// until a pass changes an edge of the graph.
#[derive(Default)]
pub struct Analyses {
    graph: Option<Graph>,
}

impl Analyses {
    /// The graph facts of `f`, computed now unless they are still valid.
    pub fn graph(&mut self, f: &Function) -> &Graph {
        self.graph.get_or_insert_with(|| Graph::new(f))
    }

    /// Forgets the graph facts: a pass that changed an edge (or renumbered the
    /// blocks) says so before it returns.
    pub fn graph_changed(&mut self) {
        self.graph = None;
    }
}

/// A pass: it rewrites the function, counts what it did, and tells `Analyses` when it
/// changed the graph.
pub type Pass = fn(&mut Function, &mut Analyses, &mut PassStats);

/// The pipeline, in order, with the names `--passes` prints (a name may come twice).
pub const PIPELINE: &[(&str, Pass)] = &[
    // Every loop a block of its own before it (an OSR variant's loops have none),
    // for what the loop passes put there; then a value the loop only carries
    // around is the preheader's parameter, defined outside the loop.
    ("preheaders", preheaders::run),
    ("params", params::run),
    ("sccp", sccp::run),
    ("checks", checks::run),
    ("gvn", gvn::run),
    ("licm", licm::run),
    ("bounds", bounds::run),
    ("strength", strength::run),
    // A loop's first iteration, peeled, checks once what the loop would check on
    // every iteration (the arrays it reads); the shared checks make the loop's own
    // redundant.
    ("peel", peel::run),
    // Again: the peeled iteration checked what enters the loop, so a counter that
    // starts at an argument is known to be an integer in the loop.
    ("checks", checks::run),
    ("arrays", arrays::run),
    // With the arrays checked once, a loop over them at its counter gets a main loop
    // that checks no index.
    ("rce", rce::run),
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
    let mut analyses = Analyses::default();
    for (name, pass) in PIPELINE {
        pass(f, &mut analyses, stats);
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
            let name = f.name.clone();
            let mut printer = PassPrinter::new(&mut out, &name);
            printer.observe("built", &f);
            optimize(&mut f, &mut stats, |pass, f| printer.observe(pass, f));
        } else {
            optimize(&mut f, &mut stats, |_, _| {});
            out.push_str(&crate::ir::text::print(&f));
        }
    }
    out
}

/// Writes a function's IR as `dump --ir --passes` shows it, given to
/// [`PassPrinter::observe`] as built (`"built"`) and after each pass: each text under
/// a `; NAME: built` or `; NAME: after PASS` line, or only `; NAME: after PASS: no
/// change` when the pass left the text as it was. Stage 4's listing, and the dumps
/// of the compiles of a tiered run (stages 5 to 7), print their passes with it.
pub struct PassPrinter<'a> {
    out: &'a mut String,
    name: &'a str,
    /// The text printed last.
    last: Option<String>,
}

impl<'a> PassPrinter<'a> {
    /// A printer that appends to `out`, heading each text with `name` (`fib`, or
    /// `compile 2 of fib`).
    pub fn new(out: &'a mut String, name: &'a str) -> PassPrinter<'a> {
        PassPrinter {
            out,
            name,
            last: None,
        }
    }

    /// `f` after the pass called `pass` (`"built"`: as the builder made it).
    pub fn observe(&mut self, pass: &str, f: &Function) {
        let now = crate::ir::text::print(f);
        let name = self.name;
        if self.last.as_deref() == Some(now.as_str()) {
            self.out
                .push_str(&format!("; {name}: after {pass}: no change\n"));
            return;
        }
        if pass == "built" {
            self.out.push_str(&format!("; {name}: built\n{now}"));
        } else {
            self.out.push_str(&format!("; {name}: after {pass}\n{now}"));
        }
        self.last = Some(now);
    }
}

/// What `dump --ir` shows of one compile named `what` (`compile 2 of fib`): with
/// `passes`, its IR as built and after each pass ([`PassPrinter`]), else the IR it
/// ends with; or why it was not compiled. `build` compiles it, calling the observer
/// it is given after each pass (as `tiered::ir_observed` does).
pub fn compile_text(
    what: &str,
    passes: bool,
    build: impl FnOnce(&mut dyn FnMut(&str, &Function)) -> Result<(Function, PassStats), String>,
) -> String {
    let mut text = String::new();
    let built = {
        let mut printer = PassPrinter::new(&mut text, what);
        build(&mut |pass: &str, f: &Function| {
            if passes {
                printer.observe(pass, f);
            }
        })
    };
    match built {
        Ok((f, _)) if !passes => text.push_str(&crate::ir::text::print(&f)),
        Ok(_) => {}
        Err(why) => text.push_str(&format!("; {what}: not compiled: {why}\n")),
    }
    text
}

/// Runs the pass called `name` of [`PIPELINE`] (for tests: text in, text out).
pub fn run_pass(name: &str, f: &mut Function, stats: &mut PassStats) -> Result<(), String> {
    run_pass_of(PIPELINE, name, f, stats)
}

/// Runs the pass called `name` of `passes` (a later stage's too: stage 7's late
/// passes, `deopt::Deoptimizer::late_passes`).
pub fn run_pass_of(
    passes: &[(&str, Pass)],
    name: &str,
    f: &mut Function,
    stats: &mut PassStats,
) -> Result<(), String> {
    match passes.iter().find(|(n, _)| *n == name) {
        Some((_, pass)) => {
            pass(f, &mut Analyses::default(), stats);
            Ok(())
        }
        None => Err(format!("no pass is called '{name}'")),
    }
}

/// True when the value is known to be an array (made by `new_array` or
/// `new_array_fill`, or checked by `check_array` or a guard of one), whatever path
/// led here.
pub fn is_array(f: &Function, v: Value) -> bool {
    match f.def_op(v) {
        Some(Op::NewArray(_) | Op::NewArrayFill(..) | Op::CheckArray(_)) => true,
        Some(Op::Guard(guard)) => matches!(guard.kind, GuardKind::Op(Op::CheckArray(_))),
        _ => false,
    }
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
        Op::ArrayLen(a) | Op::CheckArray(a) => is_array(f, a),
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
    match f.def(v) {
        ValueDef::Inst(inst) => f.gives_int(inst),
        ValueDef::Param(..) => false,
    }
}

/// Where each value is used: the instructions (in any block) and the blocks whose
/// terminators use it. Stored flat (one list of all uses, sorted by value, with
/// where each value's uses start), so that building it allocates four arrays, not
/// two per value.
pub struct Uses {
    /// `insts[inst_start[v]..inst_start[v + 1]]` are the instructions using `v`.
    inst_start: Vec<u32>,
    insts: Vec<Inst>,
    /// `terms[term_start[v]..term_start[v + 1]]` are the blocks whose terminator
    /// uses `v`.
    term_start: Vec<u32>,
    terms: Vec<crate::ir::Block>,
}

impl Uses {
    /// The uses of every value of `f` in the blocks' instructions and terminators.
    pub fn new(f: &Function) -> Uses {
        // Count each value's uses, turn the counts into starts, then fill.
        let n = f.values.len();
        let mut inst_start = vec![0u32; n + 1];
        let mut term_start = vec![0u32; n + 1];
        for data in &f.blocks {
            for &inst in &data.insts {
                f.inst(inst)
                    .op
                    .for_each_arg(|v| inst_start[v.index() + 1] += 1);
            }
            data.term.for_each_arg(|v| term_start[v.index() + 1] += 1);
        }
        for i in 0..n {
            inst_start[i + 1] += inst_start[i];
            term_start[i + 1] += term_start[i];
        }
        let mut inst_next = inst_start.clone();
        let mut term_next = term_start.clone();
        let mut insts = vec![Inst(0); inst_start[n] as usize];
        let mut terms = vec![crate::ir::Block(0); term_start[n] as usize];
        for (b, data) in f.blocks.iter().enumerate() {
            for &inst in &data.insts {
                f.inst(inst).op.for_each_arg(|v| {
                    insts[inst_next[v.index()] as usize] = inst;
                    inst_next[v.index()] += 1;
                });
            }
            data.term.for_each_arg(|v| {
                terms[term_next[v.index()] as usize] = crate::ir::Block(b as u32);
                term_next[v.index()] += 1;
            });
        }
        Uses {
            inst_start,
            insts,
            term_start,
            terms,
        }
    }

    /// The instructions using `v` (one entry per use).
    pub fn insts(&self, v: Value) -> &[Inst] {
        let i = v.index();
        &self.insts[self.inst_start[i] as usize..self.inst_start[i + 1] as usize]
    }

    /// The blocks whose terminator uses `v` (one entry per use).
    pub fn terms(&self, v: Value) -> &[crate::ir::Block] {
        let i = v.index();
        &self.terms[self.term_start[i] as usize..self.term_start[i + 1] as usize]
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
/// A table indexed by value, not a hash map: `apply` looks up every operand of the
/// function.
#[derive(Default)]
pub struct Renames {
    /// Per value up to the highest one renamed: what it stands for, if anything.
    to: Vec<Option<Value>>,
    /// How many values are renamed.
    count: usize,
}

impl Renames {
    /// What `v` stands for now, following chains (`a → b → c` gives `c`).
    pub fn resolve(&self, mut v: Value) -> Value {
        while let Some(next) = self.to.get(v.index()).copied().flatten() {
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
        if from.index() >= self.to.len() {
            self.to.resize(from.index() + 1, None);
        }
        if self.to[from.index()].replace(to).is_none() {
            self.count += 1;
        }
        true
    }

    /// True when nothing is to be renamed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Replaces every use in `f` of a renamed value.
    pub fn apply(&self, f: &mut Function) {
        if !self.is_empty() {
            f.map_uses(|v| self.resolve(v));
        }
    }
}

/// Walks the dominator tree from the entry, depth first, for the passes that keep
/// facts in a scoped table (array-check sharing, check elimination by dominance,
/// GVN): `enter` sees each reachable block after every block that dominates it, with
/// the table (`scope`), and returns what it added there; `leave` takes that back out
/// once the walk is done with the blocks the block dominates, so the table holds
/// only what the dominators of the current block added. The stack is explicit: a
/// deep tree cannot overflow the native one.
pub fn walk_dominator_tree<S, T>(
    doms: &crate::ir::Dominators,
    scope: &mut S,
    mut enter: impl FnMut(&mut S, crate::ir::Block) -> T,
    mut leave: impl FnMut(&mut S, T),
) {
    enum Step<T> {
        Enter(crate::ir::Block),
        Leave(T),
    }
    let children = doms.children();
    let mut work = vec![Step::Enter(crate::ir::ENTRY)];
    while let Some(step) = work.pop() {
        match step {
            Step::Enter(b) => {
                work.push(Step::Leave(enter(scope, b)));
                for &child in children[b.index()].iter().rev() {
                    work.push(Step::Enter(child));
                }
            }
            Step::Leave(added) => leave(scope, added),
        }
    }
}

/// True when `v` is a parameter of a block.
pub fn is_param(f: &Function, v: Value) -> bool {
    matches!(f.def(v), ValueDef::Param(..))
}
