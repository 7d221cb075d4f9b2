//! Sparse conditional constant propagation (Wegman and Zadeck, 1991).
//!
//! **What it proves**: for each value, that it is the same integer on every execution
//! that can happen (`Const(n)`), and for each block and edge, whether any execution
//! can reach it. It runs optimistically — every value starts at `Top` ("no
//! execution defines it yet"), only the entry is reachable — and lowers values
//! through the lattice `Top > Const(n) > Bottom` as executable code defines them. A
//! block parameter is the meet of the arguments of the *executable* jumps to it
//! only, and a branch on a constant makes only one of its edges executable: so a
//! constant survives a join whose other arm is dead, and a dead arm's constants do
//! not spoil the join. That is what plain constant folding followed by dead-branch
//! removal cannot find (in a loop, each needs the other first).
//!
//! Folding is exact ([`super::fold`]): an instruction that would fail on its constant
//! operands is `Bottom`, stays in the IR and fails at run time. Then the function is
//! rewritten: values proved constant become `const` instructions, branches with one
//! executable edge become jumps, and the blocks no execution reaches are left
//! unreachable (for `cleanup`).

use crate::ir::{Block, FastMap, Function, Op, Terminator, Value, ENTRY};

use super::{fold, Analyses, PassStats, Uses};

/// What SCCP knows of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lattice {
    /// Nothing yet: no executable code has defined it (optimistic start).
    Top,
    /// The integer `n` on every execution.
    Const(i64),
    /// Not a known constant (several integers, a heap value, or unknown).
    Bottom,
}

/// The meet (greatest lower bound) of two facts: what is true of a value that may be
/// either.
pub fn meet(a: Lattice, b: Lattice) -> Lattice {
    todo!(
        "meet: combine two lattice facts: Top is the identity, equal constants stay, anything else is Bottom — book §4.9"
    )
}

/// What an instruction gives, from what its operands are.
pub fn eval(op: &Op, lat: impl Fn(Value) -> Lattice) -> Lattice {
    use Lattice::{Bottom, Const, Top};
    // The integers of the operands, or the lattice value to give when one is not a
    // constant (Top when any is Top: wait for it; else Bottom).
    // (At most two operands: no allocation, this runs for every visit.)
    let consts = |vs: &[Value]| -> Result<[i64; 2], Lattice> {
        let mut ints = [0; 2];
        let mut unknown = false;
        for (n, &v) in ints.iter_mut().zip(vs) {
            match lat(v) {
                Top => return Err(Top),
                Const(c) => *n = c,
                Bottom => unknown = true,
            }
        }
        if unknown {
            Err(Bottom)
        } else {
            Ok(ints)
        }
    };
    let of = |r: Option<i64>| r.map_or(Bottom, Const);
    match *op {
        Op::Const(n) => Const(n),
        Op::CheckInt(x) => lat(x),
        Op::Binary(op, a, b) => match consts(&[a, b]) {
            Ok(c) => of(fold::binary(op, c[0], c[1])),
            Err(l) => l,
        },
        Op::Neg(a) => match consts(&[a]) {
            Ok(c) => of(fold::neg(c[0])),
            Err(l) => l,
        },
        Op::Not(a) => match consts(&[a]) {
            Ok(c) => Const(fold::not(c[0])),
            Err(l) => l,
        },
        Op::Compare(op, a, b) => match consts(&[a, b]) {
            Ok(c) => Const(fold::compare(op, c[0], c[1])),
            // A value equals itself, whatever it is (integers by value, heap values
            // by identity).
            Err(_) if a == b && lat(a) != Top => {
                use crate::ir::CmpOp;
                match op {
                    CmpOp::Eq => Const(1),
                    CmpOp::Ne => Const(0),
                    // `<` and friends take integers: checked, so `a op a` is known too.
                    CmpOp::Le | CmpOp::Ge => Const(1),
                    CmpOp::Lt | CmpOp::Gt => Const(0),
                }
            }
            Err(l) => l,
        },
        Op::Shl(a, k) => match consts(&[a]) {
            Ok(c) => of(fold::shl(c[0], k)),
            Err(l) => l,
        },
        Op::Sar(a, k) => match consts(&[a]) {
            Ok(c) => Const(fold::sar(c[0], k)),
            Err(l) => l,
        },
        Op::And(a, m) => match consts(&[a]) {
            Ok(c) => Const(c[0] & m),
            Err(l) => l,
        },
        Op::MagicDiv(a, magic) => match consts(&[a]) {
            Ok(c) if magic.remainder => Const(c[0] % magic.divisor),
            Ok(c) => Const(c[0] / magic.divisor),
            Err(l) => l,
        },
        Op::IAdd(a, b) => match consts(&[a, b]) {
            Ok(c) => of(c[0].checked_add(c[1]).and_then(fold::int)),
            Err(l) => l,
        },
        Op::ISub(a, b) => match consts(&[a, b]) {
            Ok(c) => of(c[0].checked_sub(c[1]).and_then(fold::int)),
            Err(l) => l,
        },
        Op::IMul(a, k) => match consts(&[a]) {
            Ok(c) => of(c[0].checked_mul(k).and_then(fold::int)),
            Err(l) => l,
        },
        Op::Min(a, b) => match consts(&[a, b]) {
            Ok(c) => Const(c[0].min(c[1])),
            Err(l) => l,
        },
        // Heap values, calls and loads are not integer constants.
        _ => Bottom,
    }
}

/// The analysis' state.
struct Sccp<'f> {
    f: &'f Function,
    uses: Uses,
    lat: Vec<Lattice>,
    block_live: Vec<bool>,
    /// Per block: whether its `then`/jump edge (0) and `else_` edge (1) can run.
    edge_live: Vec<[bool; 2]>,
    /// Edges that became executable, to follow.
    flow: Vec<(Block, usize)>,
    /// Values whose fact went down, whose uses to revisit.
    ssa: Vec<Value>,
    /// The block and position of each instruction.
    place: Vec<Option<(Block, usize)>>,
}

impl Sccp<'_> {
    fn set(&mut self, v: Value, l: Lattice) {
        let new = meet(self.lat[v.index()], l);
        if new != self.lat[v.index()] {
            self.lat[v.index()] = new;
            self.ssa.push(v);
        }
    }

    fn visit_inst(&mut self, inst: crate::ir::Inst) {
        let data = self.f.inst(inst);
        if let Some(r) = data.result {
            let l = eval(&data.op, |v| self.lat[v.index()]);
            self.set(r, l);
        }
    }

    /// Marks the terminator's feasible edges, and passes the arguments of the
    /// executable ones to their blocks' parameters.
    fn visit_term(&mut self, b: Block) {
        let term = &self.f.block(b).term;
        let feasible: [bool; 2] = match term {
            Terminator::Jump(_) => [true, false],
            Terminator::Branch { cond, .. } => match self.lat[cond.index()] {
                Lattice::Top => [false, false],
                Lattice::Const(c) => [c != 0, c == 0],
                Lattice::Bottom => [true, true],
            },
            Terminator::Return(_) => [false, false],
        };
        for (k, &can_run) in feasible.iter().enumerate().take(term.calls().len()) {
            if !can_run {
                continue;
            }
            if !self.edge_live[b.index()][k] {
                self.edge_live[b.index()][k] = true;
                self.flow.push((b, k));
            } else {
                self.pass_args(b, k);
            }
        }
    }

    /// Meets the parameters of the block that edge `k` of `b` goes to with the
    /// arguments it passes.
    fn pass_args(&mut self, b: Block, k: usize) {
        let f = self.f;
        let call = f.block(b).term.calls()[k];
        let params = &f.block(call.block).params;
        for (&p, &a) in params.iter().zip(&call.args) {
            let l = self.lat[a.index()];
            self.set(p, l);
        }
    }

    fn visit_block(&mut self, b: Block) {
        for &inst in &self.f.block(b).insts {
            self.visit_inst(inst);
        }
        self.visit_term(b);
    }

    fn solve(&mut self) {
        self.block_live[ENTRY.index()] = true;
        for &p in &self.f.block(ENTRY).params {
            self.lat[p.index()] = Lattice::Bottom;
        }
        self.visit_block(ENTRY);
        loop {
            if let Some((b, k)) = self.flow.pop() {
                self.pass_args(b, k);
                let to = self.f.block(b).term.calls()[k].block;
                if !self.block_live[to.index()] {
                    self.block_live[to.index()] = true;
                    self.visit_block(to);
                }
            } else if let Some(v) = self.ssa.pop() {
                for i in 0..self.uses.insts(v).len() {
                    let inst = self.uses.insts(v)[i];
                    if self.inst_live(inst) {
                        self.visit_inst(inst);
                    }
                }
                for i in 0..self.uses.terms(v).len() {
                    let b = self.uses.terms(v)[i];
                    if self.block_live[b.index()] {
                        self.visit_term(b);
                    }
                }
            } else {
                break;
            }
        }
    }

    fn inst_live(&self, inst: crate::ir::Inst) -> bool {
        self.place[inst.index()].is_some_and(|(b, _)| self.block_live[b.index()])
    }
}

/// Runs SCCP on `f` and rewrites it with what it proved.
pub fn run(f: &mut Function, analyses: &mut Analyses, stats: &mut PassStats) {
    let (lat, block_live, edge_live) = {
        let mut s = Sccp {
            f,
            uses: Uses::new(f),
            lat: vec![Lattice::Top; f.values.len()],
            block_live: vec![false; f.blocks.len()],
            edge_live: vec![[false; 2]; f.blocks.len()],
            flow: Vec::new(),
            ssa: Vec::new(),
            place: super::inst_places(f),
        };
        s.solve();
        (s.lat, s.block_live, s.edge_live)
    };
    // Instructions proved constant become `const` (in place, keeping their pc).
    for (b, &live) in block_live.iter().enumerate() {
        if !live {
            continue;
        }
        for i in 0..f.blocks[b].insts.len() {
            let inst = f.blocks[b].insts[i];
            let data = &mut f.insts[inst.index()];
            if let Lattice::Const(n) = lat_of(&lat, data.result) {
                if data.op != Op::Const(n) {
                    data.op = Op::Const(n);
                    stats.folded += 1;
                }
            }
        }
    }
    // Parameters proved constant: a `const` at the top of their block replaces them
    // (the parameter itself goes when DCE finds it unused).
    let mut renamed: FastMap<Value, Value> = FastMap::default();
    for (b, &live) in block_live.iter().enumerate() {
        if !live || b == ENTRY.index() {
            continue;
        }
        let block = Block(b as u32);
        let params = f.blocks[b].params.clone();
        let mut at = 0;
        for p in params {
            if let Lattice::Const(n) = lat[p.index()] {
                let pc = f.blocks[b].pc;
                let c = f.insert(block, at, Op::Const(n), pc).expect("const");
                at += 1;
                renamed.insert(p, c);
                stats.folded += 1;
            }
        }
    }
    if !renamed.is_empty() {
        f.map_uses(|v| renamed.get(&v).copied().unwrap_or(v));
    }
    // Branches with one executable edge become jumps.
    for (b, &live) in block_live.iter().enumerate() {
        if !live {
            continue;
        }
        if let Terminator::Branch { then, else_, .. } = &f.blocks[b].term {
            let live = edge_live[b];
            let taken = match live {
                [true, false] => Some(then.clone()),
                [false, true] => Some(else_.clone()),
                _ => None,
            };
            if let Some(call) = taken {
                f.blocks[b].term = Terminator::Jump(call);
                stats.branches_folded += 1;
                analyses.graph_changed();
            }
        }
    }
}

fn lat_of(lat: &[Lattice], v: Option<Value>) -> Lattice {
    v.map_or(Lattice::Bottom, |v| lat[v.index()])
}
