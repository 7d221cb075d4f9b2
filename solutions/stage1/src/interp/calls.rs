//! Calls and returns: a call pushes a frame, a return pops one. Frames live in a `Vec`, never on the
//! native stack, so a 10,000-deep Mini recursion needs no deep Rust recursion.
//!
//! The value stack holds every frame's locals and operands, one frame after the other:
//!
//! ```text
//!   | main's locals | main's operands | f's locals (args first) | f's operands ...
//!   ^ base 0                          ^ f's base
//! ```

use super::superinstr::Op;
use super::Machine;
use crate::bytecode::FnId;
use crate::error::ErrorKind;
use crate::limits::MAX_FRAMES;
use crate::objects::Site;
use crate::value::Value;

/// A caller waiting for its callee to return: where to go on in it.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    /// The caller.
    pub func: FnId,
    /// The instruction after the call.
    pub return_pc: usize,
    /// Where the caller's locals start on the value stack (an index: the stack may
    /// move while the callee runs).
    pub base: usize,
}

/// The running frame, kept in local variables of the dispatch loop: the function, its
/// code, the next instruction, the start of its locals and the top of its operands.
///
/// `base` and `sp` are pointers into the value stack rather than indices, so a push or
/// a local access is one memory operation, with no reload of the stack's address from
/// the machine. They stay valid until the stack grows, which only `Machine::call`
/// does, and it rebuilds them right after (callers' frames keep indices).
#[derive(Clone, Copy, Debug)]
pub struct Cursor<'p> {
    /// The running function.
    pub func: FnId,
    /// Its code, with superinstructions.
    pub code: &'p [Op],
    /// The next instruction to run.
    pub pc: usize,
    /// The running frame's first local on the value stack.
    pub base: *mut Value,
    /// One past the top operand: the next free slot of the value stack.
    pub sp: *mut Value,
}

impl<'p, const TIERED: bool> Machine<'p, '_, TIERED> {
    /// Calls `func` with the `argc` arguments on top of the stack: checks the arity
    /// (`wrong number of arguments`) and the depth (`stack overflow`), saves the caller
    /// in a `Frame`, makes the arguments the first locals, zeroes the other locals and
    /// moves `cur` to the callee's first instruction.
    ///
    /// `MIXED`: the run may have frames below its first one (in other tiers), so the
    /// limit is `frame_limit`; otherwise it is the constant `MAX_FRAMES` (which
    /// `frame_limit` then equals), one memory read less per call for `run`.
    #[inline(always)]
    pub(super) fn call<const MIXED: bool>(
        &mut self,
        cur: &mut Cursor<'p>,
        func: FnId,
        argc: u32,
    ) -> Result<(), ErrorKind> {
        // exercise-begin: call push a frame for `func`: check arity, then depth (`self.frame_limit` when MIXED), zero the other locals, count the call, enter it
        let f = &self.program.functions[func as usize];
        if f.arity != argc {
            return Err(ErrorKind::WrongNumberOfArguments);
        }
        let limit = if MIXED { self.frame_limit } else { MAX_FRAMES };
        if self.frames.len() + 1 >= limit {
            return Err(ErrorKind::StackOverflow);
        }
        let base = self.index_of(cur.sp) - argc as usize;
        let sp = base + f.locals as usize;
        self.frames.push(Frame {
            func: cur.func,
            return_pc: cur.pc,
            base: self.index_of(cur.base),
        });
        self.make_room(sp + self.max_stack[func as usize]);
        let stack = self.stack.as_mut_ptr();
        // SAFETY: `make_room` made the stack at least `sp + max_stack` long, so the
        // callee's locals `base..sp` and its operands are inside it; `Value::ZERO` is
        // the all-zero word.
        let (base, sp) = unsafe {
            std::ptr::write_bytes(
                stack.add(base + argc as usize),
                0,
                (f.locals - argc) as usize,
            );
            (stack.add(base), stack.add(sp))
        };
        self.profile.count_call(func);
        *cur = Cursor {
            func,
            code: &self.code[func as usize],
            pc: 0,
            base,
            sp,
        };
        Ok(())
        // exercise-end
    }

    /// Calls `func`, which runs in another tier, through the callout: its `argc`
    /// arguments on top of the stack give way to its result. An error keeps the
    /// frames it passed in `pending`, for [`Machine::error`].
    /// The checks of [`Machine::call`] come first: arity, then depth (frames of every
    /// tier counted). (A tiered run's calls go to [`Machine::call_tiered`] instead.)
    #[inline(never)]
    pub(super) fn call_out(
        &mut self,
        cur: &mut Cursor<'p>,
        func: FnId,
        argc: u32,
    ) -> Result<(), ErrorKind> {
        if self.program.functions[func as usize].arity != argc {
            return Err(ErrorKind::WrongNumberOfArguments);
        }
        if self.frames.len() + 1 >= self.frame_limit {
            return Err(ErrorKind::StackOverflow);
        }
        // SAFETY: the verifier guarantees the `argc` arguments are the top operands of
        // the running frame; the callout runs on other machines' stacks, so this one
        // does not move while it reads them.
        let args = unsafe { std::slice::from_raw_parts(cur.sp.sub(argc as usize), argc as usize) };
        let depth = MAX_FRAMES - self.frame_limit + self.frames.len() + 1;
        let callout = self
            .callout
            .as_deref_mut()
            .expect("goes_out implies a callout");
        match callout.call(self.heap, func, args, depth, self.out) {
            Ok(v) => {
                // SAFETY: as above; the result takes the first argument's slot.
                cur.sp = unsafe { cur.sp.sub(argc as usize) };
                self.push(cur, v);
                self.feed_result(cur);
                Ok(())
            }
            Err(unwind) => {
                self.pending = unwind.frames;
                Err(unwind.kind)
            }
        }
    }

    /// The index on the value stack of `slot`, a pointer into it.
    #[inline(always)]
    pub(super) fn index_of(&self, slot: *mut Value) -> usize {
        // SAFETY: cursors only hold pointers into the current value stack (they are
        // rebuilt whenever it moves), so both are in one allocation.
        unsafe { slot.offset_from(self.stack.as_ptr()) as usize }
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
    /// The heap's object model sees the callee of a call from a `site`.
    #[inline(always)]
    pub(super) fn call_value(
        &mut self,
        cur: &mut Cursor<'p>,
        argc: u32,
        site: Option<Site>,
    ) -> Result<(), ErrorKind> {
        // SAFETY: the verifier guarantees the callee and its `argc` arguments are the
        // top `argc + 1` operands of the running frame, inside the stack.
        unsafe {
            let slot = cur.sp.sub(argc as usize + 1);
            let func = (*slot).to_function().ok_or(ErrorKind::TypeError)?;
            if let Some(site) = site {
                self.heap.call_target(site, func);
            }
            // The callee's slot goes, so the arguments sit where a direct call has them.
            std::ptr::copy(slot.add(1), slot, argc as usize);
            cur.sp = cur.sp.sub(1);
            if self.goes_out.get(func as usize) == Some(&true) {
                if TIERED {
                    return self.call_tiered(cur, func, argc);
                }
                return self.call_out(cur, func, argc);
            }
            self.call::<true>(cur, func, argc)
        }
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
        // SAFETY: the callee's frame started where the caller's arguments were, inside
        // the caller's operands; the stack did not move since the callee was entered
        // (only calls grow it, and they rebuild the cursor), and `caller.base` is an
        // index into it.
        unsafe {
            *cur.base = result;
            *cur = Cursor {
                func: caller.func,
                code: &self.code[caller.func as usize],
                pc: caller.return_pc,
                base: self.stack.as_mut_ptr().add(caller.base),
                sp: cur.base.add(1),
            };
        }
        None
        // exercise-end
    }
}
