//! Quickening: the interpreter runs its own copy of each function's code, in which the
//! first instruction of a few common sequences is replaced by one "quick" instruction
//! that does the work of the whole sequence in a single dispatch.
//!
//! A dispatch (fetch, indirect jump, often mispredicted) costs more than the work of a
//! simple instruction, and `i < n` compiles to four of them. Lua's register machine
//! avoids most of them by design; HotSpot's interpreter and CPython 3.11 rewrite hot
//! bytecodes into `_fast` / specialised forms. We rewrite once, before the run:
//!
//! ```text
//!   pc  bytecode          quickened
//!    7  load_local 2      jump_unless_locals lt 2 0   (runs 7..=10, reads 10's target)
//!    8  load_local 0      load_local 0                (kept: a jump may land here)
//!    9  lt                lt
//!   10  jump_if_false L2  jump_if_false L2
//! ```
//!
//! Only the first slot changes; the others stay as they were, so a jump into the middle
//! of a sequence still runs the plain instructions, and pcs (for errors, lines and
//! the profile counters) mean what they meant.

use crate::bytecode::{FnId, Instr};

/// A comparison, for the quick compare-and-branch instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Cmp {
    /// The comparison instruction this stands for.
    #[inline(always)]
    pub fn instr(self) -> Instr {
        match self {
            Cmp::Lt => Instr::Lt,
            Cmp::Le => Instr::Le,
            Cmp::Gt => Instr::Gt,
            Cmp::Ge => Instr::Ge,
            Cmp::Eq => Instr::Eq,
            Cmp::Ne => Instr::Ne,
        }
    }

    fn of(instr: Instr) -> Option<Cmp> {
        Some(match instr {
            Instr::Lt => Cmp::Lt,
            Instr::Le => Cmp::Le,
            Instr::Gt => Cmp::Gt,
            Instr::Ge => Cmp::Ge,
            Instr::Eq => Cmp::Eq,
            Instr::Ne => Cmp::Ne,
            _ => return None,
        })
    }
}

/// An arithmetic operator that cannot fail but by type or overflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
}

impl Arith {
    /// The arithmetic instruction this stands for.
    #[inline(always)]
    pub fn instr(self) -> Instr {
        match self {
            Arith::Add => Instr::Add,
            Arith::Sub => Instr::Sub,
            Arith::Mul => Instr::Mul,
        }
    }

    fn of(instr: Instr) -> Option<Arith> {
        Some(match instr {
            Instr::Add => Arith::Add,
            Instr::Sub => Arith::Sub,
            Instr::Mul => Arith::Mul,
            _ => return None,
        })
    }
}

/// One instruction of the interpreter's code: a bytecode instruction (the variants
/// named as in [`Instr`], with its operands), or a quick one that stands for the
/// sequence starting at its pc. Like [`Instr`], it is one 8-byte word, so the dispatch
/// loop loads it in one go; that is why it repeats `Instr`'s variants rather than
/// wrapping an `Instr` (a wrapper would take 12 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Const(u32),
    LoadLocal(u32),
    StoreLocal(u32),
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Neg,
    Not,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Jump(u32),
    JumpIfFalse(u32),
    JumpIfTrue(u32),
    Loop(u32),
    Call {
        func: FnId,
        argc: u16,
    },
    CallValue(u32),
    Return,
    Print,
    Dup,
    Pop,
    NewArray(u32),
    NewArrayFill,
    ArrayGet,
    ArraySet,
    ArrayLen,
    NewObject,
    GetField(u32),
    SetField(u32),
    FuncRef(FnId),
    /// `call func argc` of a function that runs in another tier (only in the code
    /// [`Interpreter::call_function`](super::Interpreter::call_function) prepares).
    CallOut {
        func: FnId,
        argc: u16,
    },
    /// `load_local a; load_local b; CMP; jump_if_false T` (T read from pc + 3).
    JumpUnlessLocals {
        cmp: Cmp,
        a: u16,
        b: u16,
    },
    /// `load_local a; const k; CMP; jump_if_false T` (T read from pc + 3).
    JumpUnlessLocalConst {
        cmp: Cmp,
        a: u16,
        k: u16,
    },
    /// `load_local a; const k; ARITH`: pushes `a ARITH k`.
    LocalArithConst {
        op: Arith,
        a: u16,
        k: u16,
    },
    /// `const k; ARITH`: replaces the top operand `x` by `x ARITH k`.
    ArithConst {
        op: Arith,
        k: u32,
    },
}

impl From<Instr> for Op {
    /// The instruction as it is.
    fn from(instr: Instr) -> Op {
        match instr {
            Instr::Const(x) => Op::Const(x),
            Instr::LoadLocal(x) => Op::LoadLocal(x),
            Instr::StoreLocal(x) => Op::StoreLocal(x),
            Instr::Add => Op::Add,
            Instr::Sub => Op::Sub,
            Instr::Mul => Op::Mul,
            Instr::Div => Op::Div,
            Instr::Mod => Op::Mod,
            Instr::Neg => Op::Neg,
            Instr::Not => Op::Not,
            Instr::Lt => Op::Lt,
            Instr::Le => Op::Le,
            Instr::Gt => Op::Gt,
            Instr::Ge => Op::Ge,
            Instr::Eq => Op::Eq,
            Instr::Ne => Op::Ne,
            Instr::Jump(x) => Op::Jump(x),
            Instr::JumpIfFalse(x) => Op::JumpIfFalse(x),
            Instr::JumpIfTrue(x) => Op::JumpIfTrue(x),
            Instr::Loop(x) => Op::Loop(x),
            Instr::Call { func, argc } => Op::Call { func, argc },
            Instr::CallValue(x) => Op::CallValue(x),
            Instr::Return => Op::Return,
            Instr::Print => Op::Print,
            Instr::Dup => Op::Dup,
            Instr::Pop => Op::Pop,
            Instr::NewArray(x) => Op::NewArray(x),
            Instr::NewArrayFill => Op::NewArrayFill,
            Instr::ArrayGet => Op::ArrayGet,
            Instr::ArraySet => Op::ArraySet,
            Instr::ArrayLen => Op::ArrayLen,
            Instr::NewObject => Op::NewObject,
            Instr::GetField(x) => Op::GetField(x),
            Instr::SetField(x) => Op::SetField(x),
            Instr::FuncRef(x) => Op::FuncRef(x),
        }
    }
}

/// How many bytecode instructions the quick instruction `op` stands for.
#[inline(always)]
pub fn length(op: Op) -> usize {
    match op {
        Op::ArithConst { .. } => 2,
        Op::LocalArithConst { .. } => 3,
        Op::JumpUnlessLocals { .. } | Op::JumpUnlessLocalConst { .. } => 4,
        _ => 1,
    }
}

/// The interpreter's code for `code`: each instruction as it is, with the first slot of
/// every sequence above replaced by its quick instruction.
pub fn quicken(code: &[Instr]) -> Vec<Op> {
    let mut ops: Vec<Op> = code.iter().map(|&i| Op::from(i)).collect();
    let local = |i: Instr| match i {
        Instr::LoadLocal(n) => u16::try_from(n).ok(),
        _ => None,
    };
    let constant = |i: Instr| match i {
        Instr::Const(k) => u16::try_from(k).ok(),
        _ => None,
    };
    for (pc, slot) in ops.iter_mut().enumerate() {
        let at = |k: usize| code.get(pc + k).copied().unwrap_or(Instr::Return);
        let branch = matches!(at(3), Instr::JumpIfFalse(_));
        let quick = match (local(at(0)), local(at(1)), constant(at(1))) {
            (Some(a), Some(b), _) if branch => {
                Cmp::of(at(2)).map(|cmp| Op::JumpUnlessLocals { cmp, a, b })
            }
            (Some(a), _, Some(k)) if branch && Cmp::of(at(2)).is_some() => {
                Cmp::of(at(2)).map(|cmp| Op::JumpUnlessLocalConst { cmp, a, k })
            }
            (Some(a), _, Some(k)) => Arith::of(at(2)).map(|op| Op::LocalArithConst { op, a, k }),
            _ => match (at(0), Arith::of(at(1))) {
                (Instr::Const(k), Some(op)) => Some(Op::ArithConst { op, k }),
                _ => None,
            },
        };
        if let Some(quick) = quick {
            *slot = quick;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use Instr::*;

    #[test]
    fn a_quick_instruction_is_one_word() {
        assert_eq!(std::mem::size_of::<Op>(), 8);
    }

    #[test]
    fn sequences_become_quick_and_the_rest_stays() {
        let code = [
            LoadLocal(2),
            LoadLocal(0),
            Lt,
            JumpIfFalse(9),
            LoadLocal(1),
            Const(3),
            Mul,
            Const(0),
            Add,
            Return,
        ];
        let ops = quicken(&code);
        assert_eq!(
            ops[0],
            Op::JumpUnlessLocals {
                cmp: Cmp::Lt,
                a: 2,
                b: 0
            }
        );
        assert_eq!(
            ops[1..4],
            code[1..4].iter().map(|&i| Op::from(i)).collect::<Vec<_>>()
        );
        assert_eq!(
            ops[4],
            Op::LocalArithConst {
                op: Arith::Mul,
                a: 1,
                k: 3
            }
        );
        assert_eq!(
            ops[7],
            Op::ArithConst {
                op: Arith::Add,
                k: 0
            }
        );
        assert_eq!(ops[9], Op::Return);
    }
}
