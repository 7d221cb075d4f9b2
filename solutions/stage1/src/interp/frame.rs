//! Frames: calls push one, returns pop one. Frames live in a `Vec`, never on the
//! native stack, so a 10,000-deep Mini recursion needs no deep Rust recursion.
//!
//! The value stack holds every frame's locals and operands, one frame after the other:
//!
//! ```text
//!   | main's locals | main's operands | f's locals (args first) | f's operands ...
//!   ^ base 0                          ^ f's base
//! ```

use super::Machine;
use crate::bytecode::{FnId, Instr};
use crate::error::ErrorKind;
use crate::value::Value;

/// The most frames a run may hold, `main` included: the 10,001st call is a
/// `stack overflow`.
pub const MAX_FRAMES: usize = 10_000;

/// A caller waiting for its callee to return: where to go on in it.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    /// The caller.
    pub func: FnId,
    /// The instruction after the call.
    pub return_pc: usize,
    /// Where the caller's locals start on the value stack.
    pub base: usize,
}

/// The running frame, kept in local variables of the dispatch loop: the function, its
/// code, the next instruction, the start of its locals and the top of its operands.
#[derive(Clone, Copy, Debug)]
pub struct Cursor<'p> {
    pub func: FnId,
    pub code: &'p [Instr],
    pub pc: usize,
    pub base: usize,
    /// One past the top operand: the next free slot of the value stack.
    pub sp: usize,
}

impl<'p> Machine<'p, '_> {
    /// Calls `func` with the `argc` arguments on top of the stack: checks the arity
    /// (`wrong number of arguments`) and the depth (`stack overflow`), saves the caller
    /// in a `Frame`, makes the arguments the first locals, zeroes the other locals and
    /// moves `cur` to the callee's first instruction.
    #[inline(always)]
    pub(super) fn call(
        &mut self,
        cur: &mut Cursor<'p>,
        func: FnId,
        argc: u32,
    ) -> Result<(), ErrorKind> {
        // exercise-begin: call push a frame for `func`: check arity and depth, zero the other locals, enter it
        let f = &self.program.functions[func as usize];
        if f.arity != argc {
            return Err(ErrorKind::WrongNumberOfArguments);
        }
        if self.frames.len() + 1 >= MAX_FRAMES {
            return Err(ErrorKind::StackOverflow);
        }
        let base = cur.sp - argc as usize;
        let sp = base + f.locals as usize;
        self.make_room(sp + self.max_stack[func as usize]);
        self.stack[base + argc as usize..sp].fill(Value::ZERO);
        self.frames.push(Frame {
            func: cur.func,
            return_pc: cur.pc,
            base: cur.base,
        });
        self.profile.count_call(func);
        *cur = Cursor {
            func,
            code: &f.code,
            pc: 0,
            base,
            sp,
        };
        Ok(())
        // exercise-end
    }

    /// Grows the value stack to at least `len` slots.
    #[inline(always)]
    pub(super) fn make_room(&mut self, len: usize) {
        if len > self.stack.len() {
            self.grow(len);
        }
    }

    /// Grows the value stack to at least `len` slots, doubling to keep growth rare.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, len: usize) {
        let new_len = len.max(2 * self.stack.len());
        self.stack.resize(new_len, Value::ZERO);
    }

    /// Calls the function value under the `argc` arguments on top of the stack:
    /// `type error` when it is not a function, then the checks of [`Machine::call`].
    #[inline(always)]
    pub(super) fn call_value(&mut self, cur: &mut Cursor<'p>, argc: u32) -> Result<(), ErrorKind> {
        let slot = cur.sp - argc as usize - 1;
        let func = self.stack[slot].to_function().ok_or(ErrorKind::TypeError)?;
        // The callee's slot goes, so the arguments sit where a direct call has them.
        self.stack.copy_within(slot + 1..cur.sp, slot);
        cur.sp -= 1;
        self.call(cur, func, argc)
    }

    /// Returns from the running frame with the value on top of the stack: drops the
    /// frame's locals and operands, pushes the value for the caller and moves `cur`
    /// back into the caller. From `main`, gives the value that ends the program.
    #[inline(always)]
    pub(super) fn ret(&mut self, cur: &mut Cursor<'p>) -> Option<Value> {
        // exercise-begin: return pop the frame, hand the result to the caller (or end the program from main)
        let result = self.pop(cur);
        let Some(caller) = self.frames.pop() else {
            return Some(result);
        };
        // The callee's frame started where the caller's arguments were.
        self.stack[cur.base] = result;
        *cur = Cursor {
            func: caller.func,
            code: &self.program.functions[caller.func as usize].code,
            pc: caller.return_pc,
            base: caller.base,
            sp: cur.base + 1,
        };
        None
        // exercise-end
    }
}
