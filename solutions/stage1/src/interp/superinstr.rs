//! Superinstructions: the interpreter runs its own copy of each function's code, in
//! which the first instruction of a few fixed, common sequences is replaced by one
//! *superinstruction* that does the work of the whole sequence in a single dispatch.
//!
//! A dispatch (fetch, indirect jump, often mispredicted) costs more than the work of a
//! simple instruction, and `i < n` compiles to four of them. Superinstructions are
//! chosen by the shape of the code alone, once, before the run. That is not
//! *quickening*, which rewrites an instruction as it runs into a form specialised for
//! what it saw (HotSpot's `_fast` bytecodes once a field is resolved, CPython 3.11's
//! specializing interpreter turning `BINARY_OP` into `BINARY_OP_ADD_INT` after a few
//! integer additions, with a guard and a way back): that needs the running values,
//! which a superinstruction never looks at.
//!
//! ```text
//!   pc  bytecode          superinstructions
//!    7  load_local 2      jump_unless_locals lt 2 0   (runs 7..=10, reads 10's target)
//!    8  load_local 0      load_local 0                (kept)
//!    9  lt                lt
//!   10  jump_if_false L2  jump_if_false L2
//! ```
//!
//! The rules of fusion live here, for every tier: a sequence is fused only when no
//! instruction after its first is a jump target ([`fusable`]), so control enters it at
//! its start or not at all; stage 3's compare-and-branch ([`compare_and_branch`]) obeys
//! the same rule. Only the first slot changes; the others stay as they were, so pcs
//! (for errors, lines and the profile counters) mean what they meant.

use crate::bytecode::{FnId, Instr};

/// Makes an enum of some operand-less instructions of [`Instr`], each named once, with
/// the conversions both ways (so the subset cannot drift from the instructions).
macro_rules! instr_subset {
    ($(#[doc = $doc:literal])* $name:ident: $($variant:ident),*) => {
        $(#[doc = $doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $(
                #[doc = concat!("[`Instr::", stringify!($variant), "`].")]
                $variant
            ),*
        }

        impl $name {
            /// The instruction this stands for.
            #[inline(always)]
            pub fn instr(self) -> Instr {
                match self {
                    $( $name::$variant => Instr::$variant, )*
                }
            }

            /// `instr` as one of these, when it is one.
            pub fn of(instr: Instr) -> Option<$name> {
                match instr {
                    $( Instr::$variant => Some($name::$variant), )*
                    _ => None,
                }
            }
        }
    };
}

instr_subset!(
    /// A comparison, for the compare-and-branch superinstructions (one byte, so the
    /// superinstruction stays one word).
    Cmp: Lt, Le, Gt, Ge, Eq, Ne
);

instr_subset!(
    /// An arithmetic operator that fails only by type or overflow.
    Arith: Add, Sub, Mul
);

/// Generates [`Op`] from [`for_each_instr!`](crate::for_each_instr)'s list: each
/// instruction's variant as in [`Instr`], then the superinstructions.
macro_rules! define_op {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident
            $( ( $op:ident : $op_ty:ty = $op_kind:ident ) )?
            $( { $( $field:ident : $field_ty:ty = $field_kind:ident ),* } )?
        $mnemonic:literal pops($pops:expr) pushes($pushes:expr) [$($effect:ident),*];
    )*) => {
        /// One instruction of the interpreter's code: a bytecode instruction (the
        /// variants named as in [`Instr`], with its operands), or a superinstruction
        /// that stands for the sequence starting at its pc. Like [`Instr`], it is one
        /// 8-byte word, so the dispatch loop loads it in one go; that is why it has
        /// `Instr`'s variants (generated from the same list) rather than wrapping an
        /// `Instr` (a wrapper would take 12 bytes, and was measurably slower).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Op {
            $(
                $(#[doc = $doc])*
                $name $( ($op_ty) )? $( { $( $field: $field_ty ),* } )?,
            )*
            /// `call func argc` of a function that runs in another tier (only in the
            /// code [`Interpreter::call_function`](super::Interpreter::call_function)
            /// prepares).
            CallOut { func: FnId, argc: u16 },
            /// `loop target` in the code of a tiered run: counts the back edge on the
            /// run's counters, and may move the frame into compiled code (OSR) before
            /// it jumps (see [`super::tiered`]).
            LoopOut(u32),
            /// `get_field` at a site ([`Site`](crate::objects::Site)): the prepared code's
            /// form of every `get_field`, so that the heap's object model knows which
            /// instruction asks (its field is the site's).
            GetFieldAt(u32),
            /// `set_field` at a site, as [`Op::GetFieldAt`].
            SetFieldAt(u32),
            /// `call_value argc` at a site: the model sees each callee (a call-target
            /// cache in stage 6).
            CallValueAt { argc: u16, site: u32 },
            /// `load_local a; load_local b; CMP; jump_if_false T` (T read from pc + 3).
            JumpUnlessLocals { cmp: Cmp, a: u16, b: u16 },
            /// `load_local a; const k; CMP; jump_if_false T` (T read from pc + 3).
            JumpUnlessLocalConst { cmp: Cmp, a: u16, k: u16 },
            /// `load_local a; const k; ARITH`: pushes `a ARITH k`.
            LocalArithConst { op: Arith, a: u16, k: u16 },
            /// `const k; ARITH`: replaces the top operand `x` by `x ARITH k`.
            ArithConst { op: Arith, k: u32 },
        }

        impl From<Instr> for Op {
            /// The instruction as it is.
            fn from(instr: Instr) -> Op {
                match instr {
                    $(
                        Instr::$name $( ($op) )? $( { $( $field ),* } )?
                            => Op::$name $( ($op) )? $( { $( $field ),* } )?,
                    )*
                }
            }
        }
    };
}

crate::for_each_instr!(define_op);

/// Whether the `len` instructions from `pc` may be fused into one: no instruction
/// after the first is a jump target (`is_target`), so control enters the sequence at
/// its start or not at all. The one rule of every tier's fusion.
#[inline]
pub fn fusable(is_target: impl Fn(usize) -> bool, pc: usize, len: usize) -> bool {
    (pc + 1..pc + len).all(|p| !is_target(p))
}

/// Marks the instructions of `code` that some jump targets.
pub fn jump_targets(code: &[Instr]) -> Vec<bool> {
    let mut targets = vec![false; code.len()];
    for t in code.iter().filter_map(Instr::jump_target) {
        if let Some(slot) = targets.get_mut(t as usize) {
            *slot = true;
        }
    }
    targets
}

/// A compare at `pc` followed by a conditional jump, the pair [`fusable`]: the pair
/// that stage 3 compiles as one `cmp; jcc`. Gives the comparison, whether it jumps
/// when the comparison is true (`jump_if_true`) or false, and the target.
pub fn compare_and_branch(
    code: &[Instr],
    is_target: impl Fn(usize) -> bool,
    pc: usize,
) -> Option<(Cmp, bool, u32)> {
    let cmp = Cmp::of(*code.get(pc)?)?;
    let (when, target) = match *code.get(pc + 1)? {
        Instr::JumpIfFalse(t) => (false, t),
        Instr::JumpIfTrue(t) => (true, t),
        _ => return None,
    };
    fusable(is_target, pc, 2).then_some((cmp, when, target))
}

/// How many bytecode instructions `op` stands for (1 unless a superinstruction).
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
/// every [`fusable`] sequence above replaced by its superinstruction.
pub fn superinstructions(code: &[Instr]) -> Vec<Op> {
    let mut ops: Vec<Op> = code.iter().map(|&i| Op::from(i)).collect();
    let targets = jump_targets(code);
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
        let fused = match (local(at(0)), local(at(1)), constant(at(1))) {
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
        if let Some(fused) = fused.filter(|&op| fusable(|p| targets[p], pc, length(op))) {
            *slot = fused;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use Instr::*;

    #[test]
    fn a_superinstruction_is_one_word() {
        assert_eq!(std::mem::size_of::<Op>(), 8);
    }

    #[test]
    fn sequences_become_superinstructions_and_the_rest_stays() {
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
        let ops = superinstructions(&code);
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

    #[test]
    fn no_sequence_spans_a_join_point() {
        // pc 3 is a jump target: `load_local 0; const 0; add` at 2..=4 and the
        // compare-and-branch pairs that would include pc 3 are not fused.
        let code = [
            Const(0),
            JumpIfFalse(3),
            LoadLocal(0),
            Const(0), // 3: a join
            Add,
            LoadLocal(0),
            Lt,
            JumpIfTrue(9),
            Pop,
            Return,
        ];
        let ops = superinstructions(&code);
        assert_eq!(ops[2], Op::LoadLocal(0));
        // From the join on, fusing is fine: `const 0; add` starts at the target.
        assert_eq!(
            ops[3],
            Op::ArithConst {
                op: Arith::Add,
                k: 0
            }
        );
        let targets = jump_targets(&code);
        assert_eq!(
            compare_and_branch(&code, |p| targets[p], 6),
            Some((Cmp::Lt, true, 9))
        );
        assert_eq!(compare_and_branch(&code, |p| p == 7, 6), None);
        assert_eq!(compare_and_branch(&code, |_| false, 5), None);
        assert!(fusable(|p| p == 2, 2, 3));
        assert!(!fusable(|p| p == 3, 2, 3));
    }
}
