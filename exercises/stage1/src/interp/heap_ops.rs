//! The instructions on arrays and objects: they pop their operands, all of them before
//! any check, and let the heap do the checked work. Every value of a run is of the
//! run's heap, so they skip the heap's check that it made the value.

use super::calls::Cursor;
use super::Machine;
use crate::bytecode::Instr;
use crate::error::ErrorKind;
use crate::objects::Site;
use crate::value::Value;

impl<'p, const TIERED: bool> Machine<'p, '_, TIERED> {
    /// Runs `op`, one of `NewArray`, `NewArrayFill`, `ArrayGet`, `ArraySet` and
    /// `ArrayLen`, on the operands on top of the stack.
    #[inline(always)]
    pub(super) fn array_op(&mut self, cur: &mut Cursor<'p>, op: Instr) -> Result<(), ErrorKind> {
        todo!(
            "arrays: pop the operands of an array instruction, run it on the heap, push its result — book §1.12"
        )
    }

    /// Runs `op`, one of `NewObject`, `GetField` and `SetField`, on the operands on
    /// top of the stack; `site` is the instruction's site, for the heap's object model
    /// (`None` for code run without sites).
    #[inline(always)]
    pub(super) fn object_op(
        &mut self,
        cur: &mut Cursor<'p>,
        op: Instr,
        site: Option<Site>,
    ) -> Result<(), ErrorKind> {
        todo!(
            "objects: pop the operands of an object instruction, run it on the heap (with its site, when it has one), push its result — book §1.13"
        )
    }
}
