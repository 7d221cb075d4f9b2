//! The optimizer's intermediate representation: each function is a control-flow graph
//! of basic blocks in SSA form.
//!
//! - Every value is defined once: by an instruction ([`InstData`]) or as a parameter of
//!   a block. Block parameters replace phis, as in Cranelift and MLIR: a jump passes
//!   one argument per parameter of the block it goes to ([`BlockCall`]). The entry
//!   block's parameters are the function's arguments.
//! - Values are Mini values, one tagged word each (as in the interpreter and stage 3);
//!   `Const(n)` names the integer `n`, and the code generator materializes its tagged
//!   word.
//! - The checks a bytecode instruction makes are explicit where passes can reason about
//!   them: `add a b` becomes `check_int a; check_int b; add`, and the arithmetic
//!   instructions take integers. A pass that proves a value is an integer removes its
//!   `check_int` (see `passes`); stage 7 turns the same instruction into a guard.
//! - Every instruction keeps the bytecode pc it came from ([`InstData::pc`]), so that
//!   an error raised by optimized code reports the function and line the interpreter
//!   reports. An instruction that can leave native code (an error, a call, `print`)
//!   leaves *before* any visible effect of its bytecode instruction, so the tiers
//!   below can redo that instruction: this is what stage 7's guards and frame states
//!   build on.
//!
//! The text form (`jitlab dump --ir`) prints and parses this structure; see `text`.

use stage1::FnId;

pub mod build;
pub mod dom;
pub mod eval;
pub mod graph;
pub mod text;
pub mod verify;

pub use build::build;
pub use dom::Dominators;
pub use graph::Graph;

/// A bytecode pc: the index of an instruction in its function's code.
pub type Pc = u32;

/// An SSA value, written `v7` in the text form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value(pub u32);

/// A basic block, written `b2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Block(pub u32);

/// An instruction: an index into [`Function::insts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Inst(pub u32);

impl Value {
    /// The value's index, for tables indexed by value.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl Block {
    /// The block's index in [`Function::blocks`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl Inst {
    /// The instruction's index in [`Function::insts`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Integer arithmetic: both operands are integers (a `check_int` or a proof put them
/// there); the result is an integer or a runtime error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `integer overflow` past 63 bits.
    Add,
    /// `integer overflow` past 63 bits.
    Sub,
    /// `integer overflow` past 63 bits.
    Mul,
    /// Truncating; `division by zero`; `MIN / -1` is `integer overflow`.
    Div,
    /// Sign of the dividend; `division by zero`; `MIN % -1` is 0.
    Mod,
}

/// A comparison, giving 0 or 1. `Eq` and `Ne` compare any two values (integers by
/// value, heap values by identity) and never fail; the others take integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// What an instruction does, with its operands.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// The integer `n` (in `INT_MIN..=INT_MAX`).
    Const(i64),
    /// The function value of function `func`.
    FuncRef(FnId),
    /// `x` itself when it is an integer, else `type error`. Its result is known to be
    /// an integer.
    CheckInt(Value),
    /// `a op b` on two integers.
    Binary(BinOp, Value, Value),
    /// `-a` on an integer; `-MIN` is `integer overflow`.
    Neg(Value),
    /// `!a` on an integer: 1 when it is 0, else 0.
    Not(Value),
    /// `a op b`: 0 or 1 (see [`CmpOp`] for what the operands may be).
    Compare(CmpOp, Value, Value),
    /// `x` itself when it is an array, else `type error`. Its result is known to be
    /// an array, so that the accesses that use it need no tag check (see
    /// `passes::arrays`: the check of a value shared by the accesses it dominates).
    CheckArray(Value),
    /// `[v1, .., vn]`; `out of memory`.
    NewArray(Vec<Value>),
    /// `[v; n]`: `type error` when `n` is not an integer, `index out of bounds` when it
    /// is negative, `out of memory` when it is too big.
    NewArrayFill(Value, Value),
    /// `len(a)`: `type error` when `a` is not an array.
    ArrayLen(Value),
    /// `a[i]`: `type error` when `a` is not an array or `i` not an integer, `index out
    /// of bounds` when `i` is outside it.
    ArrayGet(Value, Value),
    /// `a[i] = v`, with `array_get`'s errors.
    ArraySet(Value, Value, Value),
    /// `{}`; `out of memory`.
    NewObject,
    /// `o.f`, `f` being field `k` of the program: `type error` when `o` is not an
    /// object, `no such field` when it has no `f`.
    GetField(Value, u32),
    /// `o.f = v` (adding the field when it is new); `type error` when `o` is not an
    /// object.
    SetField(Value, u32, Value),
    /// A direct call of `func` (the arity was checked when the program was loaded);
    /// anything the callee raises, and `stack overflow`.
    Call { func: FnId, args: Vec<Value> },
    /// A call of the function value `callee`: `type error` when it is not a function,
    /// `wrong number of arguments` when its arity is not `args.len()`.
    CallValue { callee: Value, args: Vec<Value> },
    /// Writes `v` and a newline; fails only when the output does.
    Print(Value),
    /// The start of an inlined call: takes a frame from the frame limit (`stack
    /// overflow` when none is left, as the call would) and counts the call.
    Enter,
    /// The end of an inlined call: gives its frame back.
    Leave,
    /// A speculation (stage 7): a check that, when it fails, leaves the optimized
    /// code for the interpreter at its frame state (see [`Guard`]) instead of raising
    /// an error. Its frame state's values are operands of the instruction, as LLVM's
    /// deopt operand bundles are, so every pass sees them as uses.
    Guard(Box<Guard>),
    /// A frame state with no check of its own (stage 7), V8's `Checkpoint`: the
    /// frame before the bytecode instruction that follows it in its block. The
    /// speculative builder puts one before each arithmetic instruction; stage 7's late
    /// pass `speculate` hands it to a guard for that instruction if the
    /// instruction still can fail after the other passes, and removes it.
    Checkpoint(Box<FrameState>),

    // The reduced forms that strength reduction (`passes::strength`) writes. Each
    // works on the *integer* its operands hold (not on their tagged words: how the
    // code generator represents an integer is its business), and each but `Shl`
    // never fails: the pass proved that its result is an integer in
    // `INT_MIN..=INT_MAX` whenever its operands are.
    /// `x * 2^k` (`1 <= k <= 62`) on an integer: `integer overflow` exactly when the
    /// product leaves 63 bits (as `mul` would).
    Shl(Value, u32),
    /// `floor(x / 2^k)` (`1 <= k <= 63`): the arithmetic shift right of the integer
    /// (so `sar x, 63` is 0 or -1, the sign mask). Never fails.
    Sar(Value, u32),
    /// `x & m`, bitwise on the two's complement integer, with `0 <= m <= INT_MAX`.
    /// Never fails.
    And(Value, i64),
    /// `trunc(x / d)` or `x % d` for a constant `d` that is no power of two, by the
    /// magic-number multiply (see [`Magic`] and `passes::strength`). One instruction
    /// rather than a sequence of reduced ones, so that the code generator keeps the
    /// intermediate quotient a plain machine word and tags only the result. Never
    /// fails.
    MagicDiv(Value, Magic),
    /// `a + b` on integers, proved not to overflow. Never fails.
    IAdd(Value, Value),
    /// `a - b` on integers, proved not to overflow. Never fails.
    ISub(Value, Value),
    /// `x * c` for the constant `c`, proved not to overflow. Never fails.
    IMul(Value, i64),

    // The forms that range-check elimination (`passes::rce`) writes.
    /// The smaller of the integers `a` and `b`. Never fails.
    Min(Value, Value),
    /// `a[i]` of a value known to be an array at an index proved to lie inside it
    /// (`0 <= i < len(a)`): a load and nothing else. Never fails; not pure (a store
    /// may change what it reads).
    LoadElement(Value, Value),
    /// `a[i] = v` on the same proof as [`Op::LoadElement`]: a store and nothing else.
    /// Never fails.
    StoreElement(Value, Value, Value),
}

/// What an [`Op::MagicDiv`] divides by and gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Magic {
    /// The divisor `d`: `3..=INT_MAX`, not a power of two (a negative divisor is the
    /// negated quotient; the remainder takes `|d|`).
    pub divisor: i64,
    /// `x % d` when true, else `trunc(x / d)`.
    pub remainder: bool,
    /// The dividend was proved non-negative (`passes::signs`), so the quotient needs
    /// no correction for a negative one.
    pub nonneg: bool,
}

/// One frame of a [`FrameState`]: a function, the bytecode pc where its interpreter
/// frame resumes, and the IR value of each of its locals and operands there.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StateFrame {
    /// Whose frame it is.
    pub func: FnId,
    /// The innermost frame resumes *at* `pc` (the instruction is redone in the
    /// interpreter, before any visible effect of it); an outer frame is stopped at
    /// the `call` at `pc` of the function inlined into it, and resumes at `pc + 1`
    /// with the inner frame's result pushed on its operands.
    pub pc: Pc,
    /// All of the function's locals, parameters first.
    pub locals: Vec<Value>,
    /// The operands, bottom first (for an outer frame: without the call's arguments).
    pub operands: Vec<Value>,
}

/// The interpreter frames a guard rebuilds when it fails: outermost first (the
/// function being compiled), then one per call inlined around the guard, the
/// guard's own frame last.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FrameState {
    pub frames: Vec<StateFrame>,
}

impl FrameState {
    /// Calls `f` with each value of each frame, outermost frame first, locals before
    /// operands.
    pub fn for_each_value(&self, mut f: impl FnMut(Value)) {
        for frame in &self.frames {
            frame
                .locals
                .iter()
                .chain(&frame.operands)
                .copied()
                .for_each(&mut f);
        }
    }

    /// Replaces each value `v` with `f(v)`, in the order of [`FrameState::for_each_value`].
    pub fn map_values(&mut self, mut f: impl FnMut(Value) -> Value) {
        for frame in &mut self.frames {
            for v in frame.locals.iter_mut().chain(frame.operands.iter_mut()) {
                *v = f(*v);
            }
        }
    }

    /// The innermost frame: the guard's own.
    pub fn innermost(&self) -> &StateFrame {
        self.frames.last().expect("a frame state has a frame")
    }
}

/// What a guard checks. A failing check deoptimizes: the function's frame (and the
/// frames inlined into it) move to the interpreter at the guard's [`FrameState`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GuardKind {
    /// The instruction itself, any instruction that can fail: each of its failures
    /// deoptimizes instead of raising its error (the interpreter redoes it, and
    /// raises the error with the exact trace, or goes on if the failure was a
    /// speculation's: a cache miss of `get_field`). Its result is the instruction's.
    /// Speculative integer arithmetic is `Op(Binary(..))`: overflow deoptimizes.
    Op(Op),
    /// `v` is an integer; its result is `v`, known to be one. The check of a value
    /// where it enters (a load, a call's result), so that no use checks it again.
    Int(Value),
    /// The integer `v` is not 0 (`true`) or is 0 (`false`): a branch the profile
    /// never saw go the other way, pruned.
    Cond(Value, bool),
    /// `v` is the function value of `FnId`: the one target a `call_value` site saw,
    /// which then becomes a direct call (and may be inlined).
    Callee(Value, FnId),
}

/// The reason of a guarded field access compiled with no case to check (a bet on an
/// empty cache, that the access is not reached: see
/// [`crate::speculation::Speculation::field_hit`]), in place of its guard's
/// "field cache miss": its deopt says that the profile had nothing there yet, not
/// that a bet was lost. V8 calls such a deopt *soft* ("insufficient type feedback").
pub const NO_FEEDBACK: &str = "no feedback";

/// A guard: a check and the frame state it deoptimizes to (see [`Op::Guard`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Guard {
    pub kind: GuardKind,
    pub state: FrameState,
}

impl Guard {
    /// Calls `f` with the checked operands (not the frame state's values).
    pub fn for_each_checked(&self, mut f: impl FnMut(Value)) {
        self.for_each_checked_dyn(&mut f)
    }

    /// [`Guard::for_each_checked`] through a trait object (see `Op::map_args_dyn`).
    fn for_each_checked_dyn(&self, f: &mut dyn FnMut(Value)) {
        match &self.kind {
            GuardKind::Op(op) => op.for_each_arg(f),
            GuardKind::Int(v) | GuardKind::Cond(v, _) | GuardKind::Callee(v, _) => f(*v),
        }
    }

    /// Why it deoptimizes, as `Event::Deopt` and `--stats` name it.
    pub fn reason(&self) -> &'static str {
        match &self.kind {
            GuardKind::Op(Op::Binary(..) | Op::Neg(_) | Op::Shl(..)) => "overflow",
            GuardKind::Op(Op::GetField(..) | Op::SetField(..)) => "field cache miss",
            GuardKind::Op(Op::CheckInt(_)) | GuardKind::Int(_) => "not an integer",
            GuardKind::Op(
                Op::ArrayGet(..) | Op::ArraySet(..) | Op::ArrayLen(_) | Op::CheckArray(_),
            ) => "array check",
            GuardKind::Op(_) => "check",
            GuardKind::Cond(..) => "branch",
            GuardKind::Callee(..) => "call target",
        }
    }
}

impl Op {
    /// Calls `f` with each operand, in order.
    pub fn for_each_arg(&self, mut f: impl FnMut(Value)) {
        match self {
            Op::Const(_) | Op::FuncRef(_) | Op::NewObject | Op::Enter | Op::Leave => {}
            Op::CheckInt(a)
            | Op::CheckArray(a)
            | Op::Neg(a)
            | Op::Not(a)
            | Op::ArrayLen(a)
            | Op::GetField(a, _)
            | Op::Print(a)
            | Op::Shl(a, _)
            | Op::Sar(a, _)
            | Op::And(a, _)
            | Op::MagicDiv(a, _)
            | Op::IMul(a, _) => f(*a),
            Op::Binary(_, a, b)
            | Op::Compare(_, a, b)
            | Op::NewArrayFill(a, b)
            | Op::ArrayGet(a, b)
            | Op::SetField(a, _, b)
            | Op::IAdd(a, b)
            | Op::ISub(a, b)
            | Op::Min(a, b)
            | Op::LoadElement(a, b) => {
                f(*a);
                f(*b);
            }
            Op::ArraySet(a, i, v) | Op::StoreElement(a, i, v) => {
                f(*a);
                f(*i);
                f(*v);
            }
            Op::NewArray(values) | Op::Call { args: values, .. } => {
                values.iter().copied().for_each(f)
            }
            Op::CallValue { callee, args } => {
                f(*callee);
                args.iter().copied().for_each(f);
            }
            Op::Guard(guard) => {
                guard.for_each_checked_dyn(&mut f);
                guard.state.for_each_value(f);
            }
            Op::Checkpoint(state) => state.for_each_value(f),
        }
    }

    /// [`Op::map_args`] through a trait object: a guard's instruction is an `Op`
    /// inside an `Op`, and a generic call there would instantiate without end.
    fn map_args_dyn(&mut self, f: &mut dyn FnMut(Value) -> Value) {
        self.map_args(f)
    }

    /// Replaces each operand `v` with `f(v)`, in order.
    pub fn map_args(&mut self, mut f: impl FnMut(Value) -> Value) {
        match self {
            Op::Const(_) | Op::FuncRef(_) | Op::NewObject | Op::Enter | Op::Leave => {}
            Op::CheckInt(a)
            | Op::CheckArray(a)
            | Op::Neg(a)
            | Op::Not(a)
            | Op::ArrayLen(a)
            | Op::GetField(a, _)
            | Op::Print(a)
            | Op::Shl(a, _)
            | Op::Sar(a, _)
            | Op::And(a, _)
            | Op::MagicDiv(a, _)
            | Op::IMul(a, _) => *a = f(*a),
            Op::Binary(_, a, b)
            | Op::Compare(_, a, b)
            | Op::NewArrayFill(a, b)
            | Op::ArrayGet(a, b)
            | Op::SetField(a, _, b)
            | Op::IAdd(a, b)
            | Op::ISub(a, b)
            | Op::Min(a, b)
            | Op::LoadElement(a, b) => {
                *a = f(*a);
                *b = f(*b);
            }
            Op::ArraySet(a, i, v) | Op::StoreElement(a, i, v) => {
                *a = f(*a);
                *i = f(*i);
                *v = f(*v);
            }
            Op::NewArray(values) | Op::Call { args: values, .. } => {
                values.iter_mut().for_each(|v| *v = f(*v))
            }
            Op::CallValue { callee, args } => {
                *callee = f(*callee);
                args.iter_mut().for_each(|v| *v = f(*v));
            }
            Op::Guard(guard) => {
                match &mut guard.kind {
                    GuardKind::Op(op) => op.map_args_dyn(&mut f),
                    GuardKind::Int(v) | GuardKind::Cond(v, _) | GuardKind::Callee(v, _) => {
                        *v = f(*v)
                    }
                }
                guard.state.map_values(f);
            }
            Op::Checkpoint(state) => state.map_values(f),
        }
    }

    /// The operands, in order (allocates: for tests and printing, not hot loops).
    pub fn args(&self) -> Vec<Value> {
        let mut args = Vec::new();
        self.for_each_arg(|v| args.push(v));
        args
    }

    /// True when the instruction gives a value (every one but the stores and `print`).
    pub fn has_result(&self) -> bool {
        match self {
            Op::Guard(guard) => match &guard.kind {
                GuardKind::Op(op) => op.has_result(),
                GuardKind::Int(_) => true,
                GuardKind::Cond(..) | GuardKind::Callee(..) => false,
            },
            _ => !matches!(
                self,
                Op::ArraySet(..)
                    | Op::StoreElement(..)
                    | Op::SetField(..)
                    | Op::Print(_)
                    | Op::Enter
                    | Op::Leave
                    | Op::Checkpoint(_)
            ),
        }
    }

    /// True when the instruction can raise a runtime error, so it must run (and in
    /// its place) even when its result is unused, unless a pass proves it cannot fail.
    pub fn can_fail(&self) -> bool {
        match self {
            Op::Const(_) | Op::FuncRef(_) | Op::Not(_) => false,
            Op::Compare(..) => false,
            Op::Binary(..) | Op::Neg(_) | Op::CheckInt(_) | Op::CheckArray(_) => true,
            Op::NewArray(_) | Op::NewArrayFill(..) | Op::NewObject => true,
            Op::ArrayLen(_) | Op::ArrayGet(..) | Op::ArraySet(..) => true,
            Op::GetField(..) | Op::SetField(..) => true,
            Op::Call { .. } | Op::CallValue { .. } | Op::Print(_) => true,
            Op::Enter => true,
            Op::Leave => false,
            Op::Shl(..) => true,
            Op::Sar(..) | Op::And(..) | Op::MagicDiv(..) => false,
            Op::IAdd(..) | Op::ISub(..) | Op::IMul(..) => false,
            Op::Min(..) | Op::LoadElement(..) | Op::StoreElement(..) => false,
            // A guard leaves the code when its check fails; a checkpoint has no code.
            Op::Guard(_) => true,
            Op::Checkpoint(_) => false,
        }
    }

    /// True when the result is known to be an integer whatever the operands are
    /// (arithmetic, comparisons, `len`, checked values): a `check_int` of it can go.
    pub fn gives_int(&self) -> bool {
        if let Op::Guard(guard) = self {
            return match &guard.kind {
                GuardKind::Op(op) => op.gives_int(),
                GuardKind::Int(_) => true,
                GuardKind::Cond(..) | GuardKind::Callee(..) => false,
            };
        }
        matches!(
            self,
            Op::Const(_)
                | Op::CheckInt(_)
                | Op::Binary(..)
                | Op::Neg(_)
                | Op::Not(_)
                | Op::Compare(..)
                | Op::ArrayLen(_)
                | Op::Shl(..)
                | Op::Sar(..)
                | Op::And(..)
                | Op::MagicDiv(..)
                | Op::IAdd(..)
                | Op::ISub(..)
                | Op::IMul(..)
                | Op::Min(..)
        )
    }

    /// True when the instruction does something visible besides giving its result
    /// (writes the heap or the output, or calls code that may).
    pub fn has_effect(&self) -> bool {
        if let Op::Guard(guard) = self {
            return matches!(&guard.kind, GuardKind::Op(op) if op.has_effect());
        }
        matches!(
            self,
            // A checkpoint stays where it is (nothing may remove it before the pass
            // that hands it to a guard).
            Op::Checkpoint(_)
                | Op::ArraySet(..)
                | Op::StoreElement(..)
                | Op::SetField(..)
                | Op::Call { .. }
                | Op::CallValue { .. }
                | Op::Print(_)
                | Op::Enter
                | Op::Leave
        )
    }

    /// True when the instruction calls code (a Mini function or a runtime helper that
    /// may run for long or allocate): the register allocator saves live values
    /// across it.
    pub fn is_call(&self) -> bool {
        if let Op::Guard(guard) = self {
            return matches!(&guard.kind, GuardKind::Op(op) if op.is_call());
        }
        matches!(
            self,
            Op::Call { .. }
                | Op::CallValue { .. }
                | Op::Print(_)
                | Op::NewArray(_)
                | Op::NewArrayFill(..)
                | Op::NewObject
                | Op::GetField(..)
                | Op::SetField(..)
        )
    }

    /// True when the result depends only on the operands and nothing else can tell
    /// whether it ran: such an instruction may be merged with an equal one, moved out
    /// of a loop, or removed when unused (`Compare` on integers is pure; a failing
    /// instruction is not, see [`Op::can_fail`]; nor is a load, which a store may
    /// change).
    pub fn is_pure(&self) -> bool {
        !self.has_effect()
            && !self.can_fail()
            && !matches!(
                self,
                Op::NewArray(_) | Op::NewArrayFill(..) | Op::NewObject | Op::LoadElement(..)
            )
    }
}

/// One instruction: what it does, the value it defines, and the bytecode pc it came
/// from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstData {
    pub op: Op,
    /// The value it defines (`None` for the stores and `print`).
    pub result: Option<Value>,
    /// The bytecode instruction it implements (errors are reported there).
    pub pc: Pc,
    /// Whose bytecode `pc` is: 0 for the function's own, `k` for the function
    /// inlined as [`Function::frames`]`[k - 1]` (an error there names that function,
    /// then the call it was inlined at).
    pub frame: u32,
}

/// A call inlined into a function: which function's code it is, and the pc of the
/// call in the function itself (its frame in an error's trace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    pub func: FnId,
    pub call_pc: Pc,
    /// The frame the call is in: 0 for the function itself, `k` for
    /// [`Function::frames`]`[k - 1]` (a call inlined into inlined code, stage 7).
    pub caller: u32,
}

/// A jump to `block`, passing one argument per parameter of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlockCall {
    pub block: Block,
    pub args: Vec<Value>,
}

/// How a block ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Terminator {
    /// Go to a block.
    Jump(BlockCall),
    /// Go to `then` when the integer `cond` is not 0, else to `else_` (a condition
    /// that may be a heap value has a `check_int` before the branch).
    Branch {
        cond: Value,
        then: BlockCall,
        else_: BlockCall,
    },
    /// Return `value` to the caller.
    Return(Value),
}

/// At most two items kept inline (a terminator's successors or jumps): a slice by
/// deref, and iterable by value, with no allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpToTwo<T> {
    items: [T; 2],
    len: usize,
}

impl<T> std::ops::Deref for UpToTwo<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.items[..self.len]
    }
}

impl<T> IntoIterator for UpToTwo<T> {
    type Item = T;
    type IntoIter = std::iter::Take<std::array::IntoIter<T, 2>>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter().take(self.len)
    }
}

/// The successors of a block.
pub type Successors = UpToTwo<Block>;

/// The jump that a `return` does not make: the filler of an empty [`UpToTwo`].
static NO_CALL: BlockCall = BlockCall {
    block: ENTRY,
    args: Vec::new(),
};

/// The hasher of the passes' tables (of values and instructions): the
/// multiply-and-rotate of rustc's FxHash, several times cheaper than std's SipHash,
/// whose protection against chosen keys a compiler's own tables do not need. The
/// tables are only looked up, never iterated, so no output depends on their order.
#[derive(Clone, Copy, Debug, Default)]
pub struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A hash map with [`FastHasher`].
pub type FastMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

impl Terminator {
    /// The blocks control may go to next (`then` before `else_`), without allocating:
    /// passes ask for them at every step of every walk over the graph.
    pub fn successors(&self) -> Successors {
        match self {
            Terminator::Jump(call) => UpToTwo {
                items: [call.block, call.block],
                len: 1,
            },
            Terminator::Branch { then, else_, .. } => UpToTwo {
                items: [then.block, else_.block],
                len: 2,
            },
            Terminator::Return(_) => UpToTwo {
                items: [ENTRY, ENTRY],
                len: 0,
            },
        }
    }

    /// The jumps to other blocks, with their arguments (without allocating).
    pub fn calls(&self) -> UpToTwo<&BlockCall> {
        match self {
            Terminator::Jump(call) => UpToTwo {
                items: [call, call],
                len: 1,
            },
            Terminator::Branch { then, else_, .. } => UpToTwo {
                items: [then, else_],
                len: 2,
            },
            Terminator::Return(_) => UpToTwo {
                items: [&NO_CALL, &NO_CALL],
                len: 0,
            },
        }
    }

    /// The jumps to other blocks, mutably.
    pub fn calls_mut(&mut self) -> impl Iterator<Item = &mut BlockCall> {
        let calls = match self {
            Terminator::Jump(call) => [Some(call), None],
            Terminator::Branch { then, else_, .. } => [Some(then), Some(else_)],
            Terminator::Return(_) => [None, None],
        };
        calls.into_iter().flatten()
    }

    /// Calls `f` with every value the terminator uses (condition, returned value,
    /// jump arguments).
    pub fn for_each_arg(&self, mut f: impl FnMut(Value)) {
        match self {
            Terminator::Jump(call) => call.args.iter().copied().for_each(f),
            Terminator::Branch { cond, then, else_ } => {
                f(*cond);
                then.args.iter().chain(&else_.args).copied().for_each(f);
            }
            Terminator::Return(v) => f(*v),
        }
    }

    /// Replaces every value `v` the terminator uses with `f(v)`.
    pub fn map_args(&mut self, mut f: impl FnMut(Value) -> Value) {
        match self {
            Terminator::Jump(call) => call.args.iter_mut().for_each(|v| *v = f(*v)),
            Terminator::Branch { cond, then, else_ } => {
                *cond = f(*cond);
                then.args
                    .iter_mut()
                    .chain(else_.args.iter_mut())
                    .for_each(|v| *v = f(*v));
            }
            Terminator::Return(v) => *v = f(*v),
        }
    }
}

/// A basic block: parameters, straight-line instructions, one terminator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockData {
    /// The values the block receives from the jumps to it.
    pub params: Vec<Value>,
    /// The instructions, in order.
    pub insts: Vec<Inst>,
    /// How the block ends.
    pub term: Terminator,
    /// The bytecode pc where the block starts (a loop header's pc is where on-stack
    /// replacement will enter, in stage 5).
    pub pc: Pc,
}

/// Where a value is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueDef {
    /// The result of an instruction.
    Inst(Inst),
    /// Parameter `index` of a block.
    Param(Block, u32),
}

/// One function in SSA form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// The function's name, as the bytecode has it.
    pub name: String,
    /// Its index in the program (for calls, errors and the function table).
    pub id: FnId,
    /// The blocks; `blocks[0]` is the entry, whose parameters are the arguments.
    /// A pass that unlinks a block leaves it unreachable; `cleanup` drops those.
    pub blocks: Vec<BlockData>,
    /// Every instruction, referenced from the blocks' lists.
    pub insts: Vec<InstData>,
    /// Where each value is defined, indexed by [`Value`].
    pub values: Vec<ValueDef>,
    /// A fact about the other functions of the program, indexed by [`FnId`]: true
    /// when the function returns only integers (or fails), so that the result of a
    /// direct call of it is an integer (see `passes::returns`). Empty when nothing is
    /// known (a function read from text, or compiled alone). Shared: every function
    /// of a program holds the same facts.
    pub int_results: std::sync::Arc<[bool]>,
    /// An interval for each of the entry block's first parameters (by position),
    /// holding its value whenever that value is an integer; empty when nothing is
    /// known, as for any arguments. Only an OSR variant has them: its bet that the
    /// locals its loop counts with are small integers ([`SMALL`]), which the caller
    /// checks before it enters (see `build::build_osr_speculating`), so that the
    /// bounds pass can drop overflow checks in the loop as it does when the loop's
    /// start is a constant. Not printed: like `int_results`, a fact from outside the
    /// text.
    pub param_ranges: Vec<(i64, i64)>,
    /// The calls inlined into this function (see [`InstData::frame`]).
    pub frames: Vec<Frame>,
}

/// The integers an OSR variant bets a local holds ([`Function::param_ranges`]):
/// the non-negative ones of 32 bits (V8's small integers, Smis, on 64-bit machines,
/// less their negative half). Counters, bounds and indexes in a loop are almost always
/// small and not negative: with both operands within it, a sum or a product by a small
/// constant cannot overflow a Mini integer, and `i % 7` needs no sign fix
/// (`passes::signs`). A frame whose counter is negative gets no bet on it (its loop
/// checks the counter's type at each trip instead).
pub const SMALL: (i64, i64) = (0, i32::MAX as i64);

/// The entry block, where a function starts.
pub const ENTRY: Block = Block(0);

impl Function {
    /// An empty function (no blocks yet): the builder and the text parser add them.
    pub fn new(name: impl Into<String>, id: FnId) -> Function {
        Function {
            name: name.into(),
            id,
            blocks: Vec::new(),
            insts: Vec::new(),
            values: Vec::new(),
            int_results: std::sync::Arc::from([]),
            param_ranges: Vec::new(),
            frames: Vec::new(),
        }
    }

    /// True when instruction `inst` always gives an integer: by its operation
    /// ([`Op::gives_int`]), or as a direct call of a function known to return only
    /// integers ([`Function::int_results`]).
    pub fn gives_int(&self, inst: Inst) -> bool {
        match self.inst(inst).op {
            Op::Call { func, .. } => self.int_results.get(func as usize) == Some(&true),
            ref op => op.gives_int(),
        }
    }

    /// A new, empty block starting at bytecode `pc`, ending in a placeholder
    /// `return` of no value that the builder replaces.
    pub fn new_block(&mut self, pc: Pc) -> Block {
        let block = Block(self.blocks.len() as u32);
        self.blocks.push(BlockData {
            params: Vec::new(),
            insts: Vec::new(),
            term: Terminator::Return(Value(u32::MAX)),
            pc,
        });
        block
    }

    /// Adds a parameter to `block` and gives its value.
    pub fn add_param(&mut self, block: Block) -> Value {
        let value = Value(self.values.len() as u32);
        let index = self.blocks[block.index()].params.len() as u32;
        self.values.push(ValueDef::Param(block, index));
        self.blocks[block.index()].params.push(value);
        value
    }

    /// Makes an instruction (not yet in any block) and its result value, if it has one.
    pub fn make_inst(&mut self, op: Op, pc: Pc) -> Inst {
        let inst = Inst(self.insts.len() as u32);
        let result = op.has_result().then(|| {
            let value = Value(self.values.len() as u32);
            self.values.push(ValueDef::Inst(inst));
            value
        });
        self.insts.push(InstData {
            op,
            result,
            pc,
            frame: 0,
        });
        inst
    }

    /// Appends an instruction to `block` and gives its result (`None` for the stores
    /// and `print`).
    pub fn push(&mut self, block: Block, op: Op, pc: Pc) -> Option<Value> {
        let inst = self.make_inst(op, pc);
        self.blocks[block.index()].insts.push(inst);
        self.insts[inst.index()].result
    }

    /// Ends `block` with `term`.
    pub fn terminate(&mut self, block: Block, term: Terminator) {
        self.blocks[block.index()].term = term;
    }

    /// The instruction `inst`.
    pub fn inst(&self, inst: Inst) -> &InstData {
        &self.insts[inst.index()]
    }

    /// The block `block`.
    pub fn block(&self, block: Block) -> &BlockData {
        &self.blocks[block.index()]
    }

    /// Where `value` is defined.
    pub fn def(&self, value: Value) -> ValueDef {
        self.values[value.index()]
    }

    /// The instruction that defines `value`, if an instruction does.
    pub fn def_op(&self, value: Value) -> Option<&Op> {
        match self.def(value) {
            ValueDef::Inst(inst) => Some(&self.inst(inst).op),
            ValueDef::Param(..) => None,
        }
    }

    /// The integer `value` is, when an instruction `const` defines it.
    pub fn as_const(&self, value: Value) -> Option<i64> {
        match self.def_op(value) {
            Some(Op::Const(n)) => Some(*n),
            _ => None,
        }
    }

    /// The function's arity: the number of the entry block's parameters.
    pub fn arity(&self) -> usize {
        self.blocks.first().map_or(0, |b| b.params.len())
    }

    /// The blocks reachable from the entry, in reverse postorder (each block before
    /// its successors, loops aside): the order passes and the code generator walk.
    pub fn reverse_postorder(&self) -> Vec<Block> {
        let mut order = Vec::with_capacity(self.blocks.len());
        if self.blocks.is_empty() {
            return order;
        }
        let mut seen = vec![false; self.blocks.len()];
        // (block, next successor to visit): an explicit stack, so that deep CFGs
        // cannot overflow the native stack.
        let mut stack = Vec::with_capacity(self.blocks.len() + 1);
        stack.push((ENTRY, 0usize));
        seen[ENTRY.index()] = true;
        while let Some((block, next)) = stack.pop() {
            let succs = self.blocks[block.index()].term.successors();
            if let Some(&succ) = succs.get(next) {
                stack.push((block, next + 1));
                if !seen[succ.index()] {
                    seen[succ.index()] = true;
                    stack.push((succ, 0));
                }
            } else {
                order.push(block);
            }
        }
        order.reverse();
        order
    }

    /// Drops the blocks unreachable from the entry and the instructions in no block,
    /// and renumbers what is left in the canonical order that the text parser also
    /// makes: blocks in their order (the entry first), instructions in block order,
    /// values in order of definition (each block's parameters, then its
    /// instructions' results). Panics when a kept instruction uses a value that no
    /// kept block defines (the IR was not in SSA form).
    pub fn compact(&mut self) {
        const NONE: u32 = u32::MAX;
        let mut block_map = vec![NONE; self.blocks.len()];
        for b in self.reverse_postorder() {
            block_map[b.index()] = 0;
        }
        let mut kept = 0;
        for m in block_map.iter_mut().filter(|m| **m != NONE) {
            *m = kept;
            kept += 1;
        }
        // The kept blocks, instructions and values move into their new places (the
        // instructions' operations are moved, not copied); the uses are renamed after.
        let mut value_map = vec![NONE; self.values.len()];
        let mut old_insts = std::mem::take(&mut self.insts);
        let old_blocks = std::mem::take(&mut self.blocks);
        self.values.clear();
        self.insts.reserve(old_insts.len());
        self.blocks.reserve(kept as usize);
        for (mut data, &m) in old_blocks.into_iter().zip(&block_map) {
            if m == NONE {
                continue;
            }
            let b = Block(m);
            for (k, p) in data.params.iter_mut().enumerate() {
                let v = Value(self.values.len() as u32);
                self.values.push(ValueDef::Param(b, k as u32));
                value_map[p.index()] = v.0;
                *p = v;
            }
            for inst in data.insts.iter_mut() {
                let old = &mut old_insts[inst.index()];
                let new = Inst(self.insts.len() as u32);
                let result = old.result.map(|r| {
                    let v = Value(self.values.len() as u32);
                    self.values.push(ValueDef::Inst(new));
                    value_map[r.index()] = v.0;
                    v
                });
                let op = std::mem::replace(&mut old.op, Op::NewObject);
                self.insts.push(InstData {
                    op,
                    result,
                    pc: old.pc,
                    frame: old.frame,
                });
                *inst = new;
            }
            self.blocks.push(data);
        }
        let map = |v: Value| match value_map.get(v.index()) {
            Some(&n) if n != NONE => Value(n),
            _ => panic!("v{} is used but not defined", v.0),
        };
        for inst in &mut self.insts {
            inst.op.map_args(map);
        }
        for block in &mut self.blocks {
            block.term.map_args(map);
            for call in block.term.calls_mut() {
                let m = block_map[call.block.index()];
                assert!(m != NONE, "a successor is reachable");
                call.block = Block(m);
            }
        }
    }

    /// Inserts an instruction at position `at` of `block`'s list and gives its result.
    pub fn insert(&mut self, block: Block, at: usize, op: Op, pc: Pc) -> Option<Value> {
        let inst = self.make_inst(op, pc);
        self.blocks[block.index()].insts.insert(at, inst);
        self.insts[inst.index()].result
    }

    /// Keeps the parameters of `block` for which `keep` is true (indexed like them)
    /// and drops the matching argument of every jump to it, in every block.
    pub fn retain_params(&mut self, block: Block, keep: &[bool]) {
        let all: Vec<Block> = (0..self.blocks.len() as u32).map(Block).collect();
        self.retain_params_in(block, keep, &all);
    }

    /// [`Function::retain_params`] when the blocks that jump to `block` are known
    /// (`jumpers`, reachable or not: see [`Function::all_predecessors`]): only they
    /// are rewritten.
    pub fn retain_params_in(&mut self, block: Block, keep: &[bool], jumpers: &[Block]) {
        let params = std::mem::take(&mut self.blocks[block.index()].params);
        let mut kept = Vec::with_capacity(params.len());
        for (&p, &k) in params.iter().zip(keep) {
            if k {
                self.values[p.index()] = ValueDef::Param(block, kept.len() as u32);
                kept.push(p);
            }
        }
        self.blocks[block.index()].params = kept;
        for &j in jumpers {
            for call in self.blocks[j.index()].term.calls_mut() {
                if call.block == block && call.args.len() == keep.len() {
                    let mut i = 0;
                    call.args.retain(|_| {
                        i += 1;
                        keep[i - 1]
                    });
                }
            }
        }
    }

    /// Each block's predecessors over *every* block, reachable or not (each listed
    /// once per block that jumps to it).
    pub fn all_predecessors(&self) -> Vec<Vec<Block>> {
        let mut preds = vec![Vec::new(); self.blocks.len()];
        for (b, data) in self.blocks.iter().enumerate() {
            let succs = data.term.successors();
            for (i, &succ) in succs.iter().enumerate() {
                // A branch with both arms to one block lists it once.
                if i == 0 || succs[i - 1] != succ {
                    preds[succ.index()].push(Block(b as u32));
                }
            }
        }
        preds
    }

    /// Each use of `from` (in instructions and terminators) becomes a use of `to`.
    pub fn replace_uses(&mut self, from: Value, to: Value) {
        let swap = |v: Value| if v == from { to } else { v };
        for inst in &mut self.insts {
            inst.op.map_args(swap);
        }
        for block in &mut self.blocks {
            block.term.map_args(swap);
        }
    }

    /// Applies `map` to every use of a value (in instructions and terminators).
    pub fn map_uses(&mut self, mut map: impl FnMut(Value) -> Value) {
        for inst in &mut self.insts {
            inst.op.map_args(&mut map);
        }
        for block in &mut self.blocks {
            block.term.map_args(&mut map);
        }
    }

    /// Each block's predecessors (a block jumping twice to the same block is listed
    /// twice), over the blocks reachable from the entry.
    pub fn predecessors(&self) -> Vec<Vec<Block>> {
        let mut preds = vec![Vec::new(); self.blocks.len()];
        for block in self.reverse_postorder() {
            for succ in self.blocks[block.index()].term.successors() {
                preds[succ.index()].push(block);
            }
        }
        preds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `fn id_or_zero(x) { if x { return x; } return 0; }`, built by hand.
    fn sample() -> Function {
        let mut f = Function::new("sample", 1);
        let entry = f.new_block(0);
        let x = f.add_param(entry);
        let then = f.new_block(3);
        let other = f.new_block(5);
        let c = f.push(entry, Op::CheckInt(x), 1).unwrap();
        f.terminate(
            entry,
            Terminator::Branch {
                cond: c,
                then: BlockCall {
                    block: then,
                    args: vec![],
                },
                else_: BlockCall {
                    block: other,
                    args: vec![],
                },
            },
        );
        f.terminate(then, Terminator::Return(x));
        let zero = f.push(other, Op::Const(0), 5).unwrap();
        f.terminate(other, Terminator::Return(zero));
        f
    }

    #[test]
    fn values_know_where_they_are_defined() {
        let f = sample();
        assert_eq!(f.arity(), 1);
        assert_eq!(f.def(Value(0)), ValueDef::Param(ENTRY, 0));
        assert_eq!(f.def_op(Value(1)), Some(&Op::CheckInt(Value(0))));
        assert_eq!(f.as_const(Value(2)), Some(0));
    }

    #[test]
    fn reverse_postorder_puts_the_entry_first_and_skips_unreachable_blocks() {
        let mut f = sample();
        let dead = f.new_block(9);
        let zero = f.push(dead, Op::Const(0), 9).unwrap();
        f.terminate(dead, Terminator::Return(zero));
        let order = f.reverse_postorder();
        assert_eq!(order[0], ENTRY);
        assert_eq!(order.len(), 3);
        assert!(!order.contains(&dead));
        assert_eq!(f.predecessors()[1], vec![ENTRY]);
    }

    #[test]
    fn operands_are_visited_and_mapped_in_order() {
        let mut op = Op::CallValue {
            callee: Value(1),
            args: vec![Value(2), Value(3)],
        };
        assert_eq!(op.args(), vec![Value(1), Value(2), Value(3)]);
        op.map_args(|v| Value(v.0 + 10));
        assert_eq!(op.args(), vec![Value(11), Value(12), Value(13)]);
        assert!(op.is_call() && op.has_effect() && !op.is_pure());
        assert!(Op::Compare(CmpOp::Lt, Value(0), Value(1)).is_pure());
        assert!(!Op::Binary(BinOp::Add, Value(0), Value(1)).is_pure());
    }
}
