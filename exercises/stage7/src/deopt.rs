//! Deoptimization, stage 7's side of stage 4's extension point
//! ([`stage4::deopt::Deoptimizer`]): [`Deoptimizing`] gives stage 4's compiler the
//! late pass ([`crate::speculate`]), each guard's check in machine code
//! ([`crate::guards`]), the deopt table ([`crate::frame_state`]) and [`rt_deopt`],
//! the runtime function a failing guard's deopt exit calls: it rebuilds the
//! interpreter frames from the table and hands them over.
//!
//! ```text
//!   guard i fails ──> stub_i: mov eax, i; jmp deopt_common               (stage 4)
//!   deopt_common:     push r15 ... rcx        (save area)                 (stage 4)
//!                     ctx.calls = r13
//!                     rt_deopt(ctx, table, i, rsp, rbp, rbx, entry)      (here)
//!                       decode guard i's record, read each value, build the
//!                       frames, TierHooks::deoptimize (stage 5: resume them)
//!                     r13 = ctx.calls; add rbx, 1; leave; ret            (stage 4)
//! ```

use std::any::Any;

use stage1::limits::MAX_FRAMES;
use stage1::FnId;
use stage2::{Assembler, Label};
use stage3::context::Context;
use stage3::runtime::{native_args, result_word, resume_interpreted, with_interpreter, Deopt};
use stage3::CompiledFunction;
use stage4::deopt::{Deoptimizer, GuardCheck, GuardRecord, RtCallCounting, RtDeopt, STRESS_BIT};
use stage4::passes::Pass;

use crate::frame_state::{rebuild_frames, DeoptTable};
use crate::policy::STRESS;

/// Stage 7's [`Deoptimizer`]: what stage 4's compiler asks when it compiles bets.
#[derive(Clone, Copy, Debug, Default)]
pub struct Deoptimizing;

/// The one [`Deoptimizing`] (stage 5's `Extension::deoptimizer` hands out a
/// `&'static`).
pub static DEOPTIMIZER: Deoptimizing = Deoptimizing;

/// The late passes over speculative IR: the checkpoints become guards or go
/// ([`crate::speculate`]), call-target guards on a known function go
/// ([`crate::callees`]), then stage 4's `checks` again — value numbering may have
/// forwarded a stored integer to a load whose result the builder guarded, and a
/// `guard int` of a known integer goes — and `cleanup`, which numbers the values
/// densely again (the IR text reads back as printed).
const LATE: &[(&str, Pass)] = &[
    ("entry", crate::entry::run),
    ("speculate", crate::speculate::run),
    ("callees", crate::callees::run),
    ("checks", stage4::passes::checks::run),
    ("cleanup", stage4::passes::cleanup::run),
];

impl Deoptimizer for Deoptimizing {
    fn late_passes(&self) -> &'static [(&'static str, Pass)] {
        LATE
    }

    fn guard_check(&self, asm: &mut Assembler, check: GuardCheck, exit: Label) {
        crate::guards::guard_check(asm, check, exit);
    }

    fn table(&self, records: &[GuardRecord]) -> Box<dyn Any + Send> {
        let mut table = DeoptTable::new();
        for record in records {
            table.push(record);
        }
        Box::new(table)
    }

    fn runtime(&self) -> RtDeopt {
        rt_deopt
    }

    fn counting_call(&self) -> Option<RtCallCounting> {
        Some(rt_call_counting)
    }
}

/// A call of optimized code whose entry found fewer frames left than its inlined
/// calls may take (`stage4::deopt::RtCallCounting`): runs `func` with the arguments
/// at `args`, `args - 8`, ... in the interpreter, on its own (its calls stay in the
/// interpreter, so none comes back here), where each call takes and checks its
/// frame. Only the last few frames before the limit run so; `stack overflow` comes
/// at the interpreter's call, with its trace. Its result as a word for the code, as
/// `rt_call_interpreted` gives it ([`result_word`]).
///
/// # Safety
/// Called only by the entry of optimized code: `ctx` is its live context (of a
/// tiered run), `args` the address of the first of `func`'s arguments, the others
/// below it, all values of the run.
pub unsafe extern "sysv64" fn rt_call_counting(
    ctx: *mut Context,
    func: u64,
    args: *const u64,
    frames_left: u64,
) -> u64 {
    // SAFETY: as this function's own contract.
    let args = unsafe { native_args(ctx, func as FnId, args) };
    let depth = MAX_FRAMES - frames_left as usize;
    // SAFETY: `ctx` is the live context; the interpreter runs on its heap and
    // output, and no native code runs meanwhile.
    let result = unsafe {
        with_interpreter(ctx, |interp, verified, heap, out| {
            interp.call_function(verified, heap, func as FnId, &args, depth, None, out)
        })
    };
    // SAFETY: the interpreter is done with the context.
    unsafe { result_word(ctx, result) }
}

/// The deopt table of `compiled` (compiled with [`DEOPTIMIZER`]), if it has guards.
pub fn table_of(compiled: &CompiledFunction) -> Option<&DeoptTable> {
    compiled.tables.as_ref()?.downcast_ref::<DeoptTable>()
}

/// The common deopt exit of optimized code calls this: guard `guard` (with
/// [`STRESS_BIT`] when the stress countdown forced it) of the code whose entry is at
/// `code` failed. Rebuilds its frames from `table` (a [`DeoptTable`]) (the registers at `saves`, the
/// frame at `rbp`; `frames_left` is `FRAMES_LEFT` with the inlined frames given back),
/// hands them to the run's hooks (`TierHooks::deoptimize`, or
/// [`resume_interpreted`] in a run without them), and returns the outermost
/// frame's result as a word for the code ([`result_word`]: `ERROR_WORD` after
/// recording the error and every frame it passed in the context).
///
/// # Safety
/// Called only by the deopt exit of optimized code: `ctx` is its live context (of a
/// mixed or tiered run), `table` the table its code was generated with, `saves` and
/// `rbp` as [`rebuild_frames`] needs them.
pub unsafe extern "sysv64" fn rt_deopt(
    ctx: *mut Context,
    table: *const u8,
    guard: u64,
    saves: *const u64,
    rbp: *const u8,
    frames_left: u64,
    code: u64,
) -> u64 {
    let number = (guard & !STRESS_BIT) as u32;
    // SAFETY: the code was generated with this deoptimizer, whose tables are
    // `DeoptTable`s (`Deoptimizing::table`), and the table lives as long as the code.
    let record = unsafe { &*(table as *const DeoptTable) }.guard(number);
    // SAFETY: as this function's contract.
    let frames = unsafe { rebuild_frames(&record, saves, rbp) };
    let deopt = Deopt {
        frames,
        depth: MAX_FRAMES - frames_left as usize - 1,
        reason: if guard & STRESS_BIT != 0 {
            STRESS
        } else {
            record.reason
        },
        code,
        guard: number,
    };
    // SAFETY: `ctx` is the live context; a run's hooks live as long as it.
    let result = unsafe {
        match (*ctx).runtime.hooks {
            Some(hooks) => (*hooks).deoptimize(ctx, &deopt),
            None => resume_interpreted(ctx, &deopt),
        }
    };
    // SAFETY: the interpreter is done with the context.
    unsafe { result_word(ctx, result) }
}
