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
        // exercise-begin: arrays pop the operands of an array instruction, run it on the heap, push its result
        let result = match op {
            Instr::NewArray(n) => {
                // SAFETY: the verifier guarantees the `n` elements are the top `n`
                // operands of the running frame, inside the stack.
                let elements = unsafe {
                    cur.sp = cur.sp.sub(n as usize);
                    std::slice::from_raw_parts(cur.sp, n as usize)
                };
                // SAFETY: every value of a run is of its heap (see `Interpreter::enter`).
                unsafe { self.heap.alloc_array_unchecked(elements)? }
            }
            Instr::NewArrayFill => {
                let n = self.pop(cur);
                let fill = self.pop(cur);
                let n = n.to_int().ok_or(ErrorKind::TypeError)?;
                // SAFETY: every value of a run is of its heap (see `Interpreter::enter`).
                unsafe { self.heap.alloc_array_fill_unchecked(fill, n)? }
            }
            Instr::ArrayGet => {
                let i = self.pop(cur);
                let a = self.pop(cur);
                // SAFETY: every value of a run is of its heap (see `Interpreter::enter`).
                unsafe { self.heap.array_get_unchecked(a, i)? }
            }
            Instr::ArraySet => {
                let v = self.pop(cur);
                let i = self.pop(cur);
                let a = self.pop(cur);
                // SAFETY: every value of a run is of its heap (see `Interpreter::enter`).
                return unsafe { self.heap.array_set_unchecked(a, i, v) };
            }
            Instr::ArrayLen => {
                let a = self.pop(cur);
                // SAFETY: every value of a run is of its heap (see `Interpreter::enter`).
                Value::int(unsafe { self.heap.array_len_unchecked(a)? })
            }
            _ => unreachable!("array_op of {op:?}"),
        };
        self.push(cur, result);
        Ok(())
        // exercise-end
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
        // exercise-begin: objects pop the operands of an object instruction, run it on the heap (with its site, when it has one), push its result
        let result = match op {
            Instr::NewObject => self.heap.alloc_object()?,
            Instr::GetField(field) => {
                let o = self.pop(cur);
                // SAFETY: every value of a run is of its heap (see `Interpreter::enter`).
                unsafe { self.heap.get_field_at_unchecked(o, field, site)? }
            }
            Instr::SetField(field) => {
                let v = self.pop(cur);
                let o = self.pop(cur);
                // SAFETY: every value of a run is of its heap (see `Interpreter::enter`).
                return unsafe { self.heap.set_field_at_unchecked(o, field, v, site) };
            }
            _ => unreachable!("object_op of {op:?}"),
        };
        self.push(cur, result);
        Ok(())
        // exercise-end
    }
}
