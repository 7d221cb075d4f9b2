//! The runtime helpers: `extern "sysv64"` functions that native code calls for what
//! is too big to inline (printing, allocating, objects) and to record errors.
//!
//! Each takes the [`Context`] first (native code passes `CTX`). A helper that fails
//! records the error kind in the context and returns [`ERROR_WORD`], a word no value has;
//! native code tests for it after every call and leaves through its function's one
//! exit path, which adds the frame to the trace (see `codegen::calls`).

use std::io::Write;

use stage1::heap::Heap;
use stage1::interp::{resume_frames, Callout, Interpreter, Link, ResumeFrame, Unwind};
use stage1::limits::MAX_FRAMES;
use stage1::objects::Site;
use stage1::print::write_value;
use stage1::value::ERROR_WORD;
use stage1::{ErrorKind, FnId, Value, Verified};

use crate::context::{Context, EntryFn, OUTPUT_CHUNK};

/// The `kind` argument of [`rt_raise`] when the error was already recorded (by a
/// helper or a callee) and only the frame is to be added.
pub const KIND_RECORDED: u64 = u64::MAX;
/// The `pc` argument of [`rt_raise`] when no frame is to be added (a stack overflow
/// found in a prologue belongs to the caller's call instruction).
pub const NO_FRAME: u64 = u32::MAX as u64;

/// The runtime errors in the order of their codes, as native code passes them.
pub const ERROR_KINDS: [ErrorKind; ErrorKind::ALL.len()] = ErrorKind::ALL;

/// The error a run that ended with [`ERROR_WORD`] reports: the one recorded, or,
/// when none was (a broken invariant of the code generator: every path to the error
/// word records one first), [`ErrorKind::Internal`] — never a made-up Mini error.
pub fn recorded_error(error: Option<ErrorKind>) -> ErrorKind {
    debug_assert!(error.is_some(), "the error word with no error recorded");
    error.unwrap_or(ErrorKind::Internal)
}

/// The code native code passes for `kind` (its index in [`ERROR_KINDS`]).
pub fn error_code(kind: ErrorKind) -> u32 {
    ERROR_KINDS
        .iter()
        .position(|&k| k == kind)
        .expect("every kind has a code") as u32
}

/// A call of native code into a runtime helper, counted under its name in
/// `Stats::runtime_calls`. These are calls that come back: native code goes on after
/// them (or, for `Error`, leaves through its error path); they are not the exits of
/// stage 7, which leave native code for the interpreter for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum RuntimeCall {
    /// `rt_print`.
    Print,
    /// `rt_new_array`.
    NewArray,
    /// `rt_new_array_fill`.
    NewArrayFill,
    /// `rt_new_object`.
    NewObject,
    /// `rt_get_field`.
    GetField,
    /// `rt_set_field`.
    SetField,
    /// `rt_raise`, recording a new runtime error.
    Error,
    /// `rt_hot_call`: a call counter of baseline code reached zero (tiered runs).
    HotCall,
    /// `rt_hot_loop`: a back-edge counter of baseline code reached zero.
    HotLoop,
    /// `rt_call_target`: a `call_value`'s inline check of its site's cache missed
    /// (stage 6).
    CallTarget,
}

impl RuntimeCall {
    /// How many helpers are counted.
    pub const COUNT: usize = 10;
    /// Every one, in order.
    pub const ALL: [RuntimeCall; RuntimeCall::COUNT] = [
        RuntimeCall::Print,
        RuntimeCall::NewArray,
        RuntimeCall::NewArrayFill,
        RuntimeCall::NewObject,
        RuntimeCall::GetField,
        RuntimeCall::SetField,
        RuntimeCall::Error,
        RuntimeCall::HotCall,
        RuntimeCall::HotLoop,
        RuntimeCall::CallTarget,
    ];

    /// The name `Stats::runtime_calls` shows.
    pub fn name(self) -> &'static str {
        match self {
            RuntimeCall::Print => "print",
            RuntimeCall::NewArray => "new_array",
            RuntimeCall::NewArrayFill => "new_array_fill",
            RuntimeCall::NewObject => "new_object",
            RuntimeCall::GetField => "get_field",
            RuntimeCall::SetField => "set_field",
            RuntimeCall::Error => "runtime_error",
            RuntimeCall::HotCall => "hot_call",
            RuntimeCall::HotLoop => "hot_loop",
            RuntimeCall::CallTarget => "call_target",
        }
    }
}

/// Turns a helper's result into the word native code gets back.
fn finish(ctx: &mut Context, result: Result<Value, ErrorKind>) -> u64 {
    match result {
        Ok(v) => v.bits(),
        Err(kind) => {
            ctx.runtime.error = Some(kind);
            ERROR_WORD
        }
    }
}

/// The value in a word that native code handed to the runtime.
///
/// # Safety
/// `word` is an operand, local or result of the native code of the run `ctx` is for:
/// generated code only holds values of that run (constants, function values, and
/// what its heap returned), and never passes [`ERROR_WORD`] as a value.
unsafe fn value(word: u64) -> Value {
    // SAFETY: guaranteed by the caller, see above.
    unsafe { Value::from_bits(word) }
}

/// Borrows the context native code passed.
///
/// # Safety
/// `ctx` is the context of the running program (native code passes `CTX`, which the
/// entry set to a live `&mut Context`), and no other reference to it is in use.
unsafe fn context<'a>(ctx: *mut Context) -> &'a mut Context {
    // SAFETY: guaranteed by the caller, see above.
    unsafe { &mut *ctx }
}

/// Records a runtime error: the kind (unless [`KIND_RECORDED`]) and the frame
/// `func`/`pc` (unless `pc` is [`NO_FRAME`]). Returns [`ERROR_WORD`].
///
/// # Safety
/// Called only by native code, with `ctx` its live context (see `context`).
pub unsafe extern "sysv64" fn rt_raise(ctx: *mut Context, kind: u64, func: u64, pc: u64) -> u64 {
    // SAFETY: called by native code with its `CTX` (see `context`).
    let ctx = unsafe { context(ctx) };
    if kind != KIND_RECORDED {
        ctx.runtime.runtime_calls[RuntimeCall::Error as usize] += 1;
        // Native code passes codes of `error_code` only; another is a code
        // generator bug, reported as one.
        let known = ERROR_KINDS.get(kind as usize).copied();
        debug_assert!(known.is_some(), "unknown error code {kind}");
        ctx.runtime.error = Some(known.unwrap_or(ErrorKind::Internal));
    }
    if pc != NO_FRAME {
        ctx.runtime.trace.push((func as FnId, pc as usize));
    }
    ERROR_WORD
}

/// `print v`: formats `v` and a newline into the output, sending full chunks on.
///
/// # Safety
/// Called only by native code, with `ctx` its live context (see `context`).
pub unsafe extern "sysv64" fn rt_print(ctx: *mut Context, v: u64) -> u64 {
    // SAFETY: called by native code with its `CTX` (see `context`); this borrow ends
    // before the output writer makes its own.
    let (program, heap) = unsafe {
        let c = context(ctx);
        c.runtime.runtime_calls[RuntimeCall::Print as usize] += 1;
        (c.runtime.program, c.runtime.heap)
    };
    // SAFETY: the program and the heap outlive the run that the context is for, and
    // only this helper uses them while it runs (the output writer touches only the
    // context's output and sink).
    let (program, heap) = unsafe { (&*program, &*heap) };
    // The text goes to the context's output as it is made, a chunk at a time.
    let mut out = ContextOutput { ctx };
    // SAFETY: `v` is the operand of native code's `print`.
    let result = write_value(&mut out, program, heap, unsafe { value(v) })
        .and_then(|()| out.write_all(b"\n").map_err(|_| ErrorKind::Output));
    match result {
        Ok(()) => 0,
        // SAFETY: as above; the writer is done.
        Err(kind) => finish(unsafe { context(ctx) }, Err(kind)),
    }
}

/// `new_array n`: an array of the `n` values at `first`, `first - 8`, ... (operand
/// slots grow down in the native frame).
///
/// # Safety
/// Called only by native code, with `ctx` its live context (see `context`).
pub unsafe extern "sysv64" fn rt_new_array(ctx: *mut Context, first: *const u64, n: u64) -> u64 {
    // SAFETY: called by native code with its `CTX` (see `context`).
    let ctx = unsafe { context(ctx) };
    ctx.runtime.runtime_calls[RuntimeCall::NewArray as usize] += 1;
    let elems: Vec<Value> = (0..n as usize)
        // SAFETY: native code passes the address of the first of `n` operand slots of
        // its own live frame; the others lie below it, 8 bytes apart, holding values.
        .map(|i| unsafe { value(*first.wrapping_sub(i)) })
        .collect();
    // SAFETY: the heap outlives the run; only this helper uses it while it runs; the
    // elements are native code's values, all of this run's heap.
    let result = unsafe { (*ctx.runtime.heap).alloc_array_unchecked(&elems) };
    finish(ctx, result)
}

/// `new_array_fill`: `[fill; n]`, `n` being a tagged word still to check.
///
/// # Safety
/// Called only by native code, with `ctx` its live context (see `context`).
pub unsafe extern "sysv64" fn rt_new_array_fill(ctx: *mut Context, fill: u64, n: u64) -> u64 {
    // SAFETY: called by native code with its `CTX` (see `context`).
    let ctx = unsafe { context(ctx) };
    ctx.runtime.runtime_calls[RuntimeCall::NewArrayFill as usize] += 1;
    // SAFETY: `fill` and `n` are the operands of native code's `new_array_fill`.
    let (fill, n) = unsafe { (value(fill), value(n)) };
    let result = match n.to_int() {
        // SAFETY: the heap outlives the run; only this helper uses it while it runs;
        // `fill` is a value of native code, of this run's heap.
        Some(n) => unsafe { (*ctx.runtime.heap).alloc_array_fill_unchecked(fill, n) },
        None => Err(ErrorKind::TypeError),
    };
    finish(ctx, result)
}

/// `new_object`: an object with no fields.
///
/// # Safety
/// Called only by native code, with `ctx` its live context (see `context`).
pub unsafe extern "sysv64" fn rt_new_object(ctx: *mut Context) -> u64 {
    // SAFETY: called by native code with its `CTX` (see `context`).
    let ctx = unsafe { context(ctx) };
    ctx.runtime.runtime_calls[RuntimeCall::NewObject as usize] += 1;
    // SAFETY: the heap outlives the run; only this helper uses it while it runs.
    let result = unsafe { &mut *ctx.runtime.heap }.alloc_object();
    finish(ctx, result)
}

/// `get_field k` at site `site`: `o.f`, through the heap's object model (which may
/// update the site's cache).
///
/// # Safety
/// Called only by native code, with `ctx` its live context (see `context`).
pub unsafe extern "sysv64" fn rt_get_field(
    ctx: *mut Context,
    o: u64,
    field: u64,
    site: u64,
) -> u64 {
    // SAFETY: called by native code with its `CTX` (see `context`).
    let ctx = unsafe { context(ctx) };
    ctx.runtime.runtime_calls[RuntimeCall::GetField as usize] += 1;
    // SAFETY: the heap outlives the run; only this helper uses it while it runs; `o`
    // is the operand of native code's `get_field`, a value of this run's heap.
    let result = unsafe {
        (*ctx.runtime.heap).get_field_at_unchecked(value(o), field as u32, Some(site as Site))
    };
    finish(ctx, result)
}

/// `set_field k` at site `site`: `o.f = v`; returns 0 (or [`ERROR_WORD`]).
///
/// # Safety
/// Called only by native code, with `ctx` its live context (see `context`).
pub unsafe extern "sysv64" fn rt_set_field(
    ctx: *mut Context,
    o: u64,
    field: u64,
    v: u64,
    site: u64,
) -> u64 {
    // SAFETY: called by native code with its `CTX` (see `context`).
    let ctx = unsafe { context(ctx) };
    ctx.runtime.runtime_calls[RuntimeCall::SetField as usize] += 1;
    // SAFETY: the heap outlives the run; only this helper uses it while it runs; `o`
    // and `v` are the operands of native code's `set_field`.
    let (heap, o, v) = unsafe { (&mut *ctx.runtime.heap, value(o), value(v)) };
    // SAFETY: `o` and `v` are native code's values, of this run's heap.
    let result = unsafe { heap.set_field_at_unchecked(o, field as u32, v, Some(site as Site)) }
        .map(|()| Value::ZERO);
    finish(ctx, result)
}

/// A `call_value` at site `site` of native code is calling the function value
/// `callee` and its inline check of the site's cache missed: the heap's object model
/// records the target. Returns 0; never fails.
///
/// # Safety
/// Called only by native code, with `ctx` its live context (see `context`).
pub unsafe extern "sysv64" fn rt_call_target(ctx: *mut Context, site: u64, callee: u64) -> u64 {
    // SAFETY: called by native code with its `CTX` (see `context`).
    let ctx = unsafe { context(ctx) };
    ctx.runtime.runtime_calls[RuntimeCall::CallTarget as usize] += 1;
    // SAFETY: `callee` is a word of native code, a value of this run.
    if let Some(func) = unsafe { value(callee) }.to_function() {
        // SAFETY: the heap outlives the run; only this helper uses it while it runs.
        unsafe { &mut *ctx.runtime.heap }
            .model_mut()
            .call_target(site as Site, func);
    }
    0
}

/// A declined function's stub calls this: runs `func` in the interpreter with the
/// arguments at `args`, `args - 8`, ... (the caller's operand slots), `frames_left`
/// being the native depth counter. An error records its kind and every frame it
/// passed in the context, as native exits do, and gives [`ERROR_WORD`].
///
/// # Safety
/// Called only by native code, with `ctx` its live context (see `context`), set up
/// for mixed runs (`verified`, `compiled`, `entry`).
pub unsafe extern "sysv64" fn rt_call_interpreted(
    ctx: *mut Context,
    func: u64,
    args: *const u64,
    frames_left: u64,
) -> u64 {
    // SAFETY: as this function's own contract.
    let args = unsafe { native_args(ctx, func as FnId, args) };
    let depth = MAX_FRAMES - frames_left as usize;
    // SAFETY: as this function's own contract; a tiered run's hooks live as long as
    // its context (`Runtime::set_hooks`).
    let result = unsafe {
        match (*ctx).runtime.hooks {
            Some(hooks) => (*hooks).call_interpreted(ctx, func as FnId, &args, depth),
            None => call_interpreted(ctx, func as FnId, &args, depth),
        }
    };
    // SAFETY: the interpreter is done with the context.
    unsafe { result_word(ctx, result) }
}

/// The arguments of `func` that native code passes at `args`, `args - 8`, ... (its
/// first argument's address, the others below it), for a helper that runs `func`
/// in the interpreter.
///
/// # Safety
/// `ctx` is the live context of the native code that called the helper, and `args`
/// the address of the first of `func`'s arguments in its live frame, each holding a
/// value of the run.
pub unsafe fn native_args(ctx: *mut Context, func: FnId, args: *const u64) -> Vec<Value> {
    // SAFETY: the program outlives the run.
    let arity = unsafe { (&(*(*ctx).runtime.program).functions)[func as usize].arity };
    (0..arity as usize)
        // SAFETY: as this function's own contract: `arity` slots from `args` down.
        .map(|k| unsafe { value(*args.wrapping_sub(k)) })
        .collect()
}

/// The word a helper that ran interpreted frames returns to native code: the
/// value's bits, or [`ERROR_WORD`] after recording the error's kind and every frame
/// it passed in the context, as native exits do.
///
/// # Safety
/// `ctx` is the live context of the native code that called the helper, and the
/// interpreter is done with it.
pub unsafe fn result_word(ctx: *mut Context, result: Result<Value, Unwind>) -> u64 {
    match result {
        Ok(v) => v.bits(),
        Err(unwind) => {
            // SAFETY: as this function's own contract.
            let ctx = unsafe { context(ctx) };
            ctx.runtime.error = Some(unwind.kind);
            ctx.runtime.trace.extend(unwind.frames);
            ERROR_WORD
        }
    }
}

/// What a tiered run (stage 5) does when baseline code's counters trip, and how it
/// runs a function that is not compiled: the tiering policy, reached from native code
/// through [`rt_hot_call`], [`rt_hot_loop`] and [`rt_call_interpreted`] once set with
/// [`Runtime::set_hooks`](crate::context::Runtime::set_hooks).
///
/// The methods take `&self`: they are re-entered while they run (an interpreted
/// function calls native code, whose counters trip), so an implementation keeps its
/// mutable state in cells and holds no borrow of it across running code. `ctx` is the
/// running program's context, for the implementation to reach the heap, the output
/// and the function table; no other reference to it is in use during the call.
pub trait TierHooks {
    /// The call counter of `func` reached zero in its baseline code (after the
    /// prologue): compile it further and install that in the table, or not. The
    /// running activation goes on in its baseline code either way.
    fn hot_call(&self, ctx: *mut Context, func: FnId);

    /// The back-edge counter of the `loop` instruction at `loop_pc` of `func` reached
    /// zero in its baseline code, whose frame state is at `state` (local `n` at
    /// `state - 8n`, operand `j` at `state - 8(L + j)`: see `codegen::tiering`).
    /// Returns 0 to take the back edge in baseline code, or the address of an OSR
    /// entry for the loop's header, which the baseline code calls at once with
    /// `rdi = state` and whose result becomes the frame's (such an entry takes no
    /// frame from `FRAMES_LEFT`, its `return` gives one back).
    fn hot_loop(&self, ctx: *mut Context, func: FnId, loop_pc: usize, state: *const u64) -> u64;

    /// Runs `func` (not compiled: its table entry is its interpreter stub) with
    /// `args`, `depth` frames being live below it, as [`call_interpreted`] does for a
    /// mixed run; an error's `Unwind` holds the frames it passed.
    fn call_interpreted(
        &self,
        ctx: *mut Context,
        func: FnId,
        args: &[Value],
        depth: usize,
    ) -> Result<Value, Unwind>;

    /// Optimized code deoptimized (stage 7): run `deopt`'s frames in the interpreter
    /// to the end of the outermost one, whose result (or error, with every frame it
    /// passed) becomes the optimized function's. The default runs them as
    /// [`resume_interpreted`] does, with no tiering; a tiered run's hooks run them
    /// tiered, and learn from the deopt.
    // The trait's contract makes `ctx` the live context: the signature is the
    // trait's, as for the other hooks.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    fn deoptimize(&self, ctx: *mut Context, deopt: &Deopt) -> Result<Value, Unwind> {
        // SAFETY: the trait's contract: `ctx` is the live context, not borrowed
        // elsewhere during the call.
        unsafe { resume_interpreted(ctx, deopt) }
    }
}

/// A deoptimization, as the runtime hands it to the tiering: the interpreter frames
/// rebuilt from the optimized frame (see [`stage1::interp::resume`]) and what failed.
#[derive(Clone, Debug)]
pub struct Deopt {
    /// The frames, outermost (the optimized function's own) first.
    pub frames: Vec<ResumeFrame>,
    /// Frames live below the outermost one (all tiers counted).
    pub depth: usize,
    /// Why the guard failed (`"branch"`, `"not an integer"`, ..., or `"stress"`).
    pub reason: &'static str,
    /// The code that deoptimized: the address of its entry (which the function
    /// table may still hold).
    pub code: u64,
    /// The guard's number in that code.
    pub guard: u32,
}

/// Runs `deopt`'s frames in the interpreter on the context's heap and output, their
/// calls of compiled functions going to native code (as [`call_interpreted`] does):
/// what a deoptimization does in a run without tiering hooks.
///
/// # Safety
/// As [`call_interpreted`].
pub unsafe fn resume_interpreted(ctx: *mut Context, deopt: &Deopt) -> Result<Value, Unwind> {
    // SAFETY: see the contract; the borrow ends before the interpreter runs.
    let compiled = unsafe { &*context(ctx).runtime.compiled };
    // SAFETY: as this function's own contract.
    unsafe {
        with_interpreter(ctx, |interp, verified, heap, out| {
            let mut callout = NativeCallout { ctx };
            resume_frames(&deopt.frames, deopt.depth, |entry| {
                interp.enter(
                    verified,
                    heap,
                    entry,
                    Some(Link::Mixed {
                        goes_out: compiled,
                        callout: &mut callout,
                    }),
                    out,
                )
            })
        })
    }
}

/// Baseline code's call counter of `func` reached zero: the hooks' `hot_call`, if
/// the run has hooks.
///
/// # Safety
/// Called only by native code, with `ctx` its live context (see `context`).
pub unsafe extern "sysv64" fn rt_hot_call(ctx: *mut Context, func: u64) {
    // SAFETY: called by native code with its `CTX` (see `context`); the borrow ends
    // before the hook runs.
    let hooks = unsafe {
        let c = context(ctx);
        c.runtime.runtime_calls[RuntimeCall::HotCall as usize] += 1;
        c.runtime.hooks
    };
    if let Some(hooks) = hooks {
        // SAFETY: the hooks outlive the run (`Runtime::set_hooks`).
        unsafe { (*hooks).hot_call(ctx, func as FnId) };
    }
}

/// Baseline code's back-edge counter of the `loop` at `loop_pc` of `func` reached
/// zero, its frame state at `state`: the hooks' `hot_loop` (0 without hooks: go on).
///
/// # Safety
/// Called only by native code, with `ctx` its live context (see `context`), and
/// `state` its frame state.
pub unsafe extern "sysv64" fn rt_hot_loop(
    ctx: *mut Context,
    func: u64,
    loop_pc: u64,
    state: *const u64,
) -> u64 {
    // SAFETY: called by native code with its `CTX` (see `context`); the borrow ends
    // before the hook runs.
    let hooks = unsafe {
        let c = context(ctx);
        c.runtime.runtime_calls[RuntimeCall::HotLoop as usize] += 1;
        c.runtime.hooks
    };
    match hooks {
        // SAFETY: the hooks outlive the run (`Runtime::set_hooks`).
        Some(hooks) => unsafe { (*hooks).hot_loop(ctx, func as FnId, loop_pc as usize, state) },
        None => 0,
    }
}

/// Runs `func` in the interpreter on the context's heap and output, `depth` frames
/// being live below it; its calls of compiled functions go through the trampoline.
/// The interpreter's calls are added to the context's count.
///
/// # Safety
/// `ctx` is the live context of a mixed run, not borrowed elsewhere meanwhile.
pub unsafe fn call_interpreted(
    ctx: *mut Context,
    func: FnId,
    args: &[Value],
    depth: usize,
) -> Result<Value, Unwind> {
    // SAFETY: see the contract; the borrow ends before the interpreter runs.
    let compiled = unsafe { &*context(ctx).runtime.compiled };
    // SAFETY: as this function's own contract.
    unsafe {
        with_interpreter(ctx, |interp, verified, heap, out| {
            let mut callout = NativeCallout { ctx };
            interp.call_function(
                verified,
                heap,
                func,
                args,
                depth,
                Some(Link::Mixed {
                    goes_out: compiled,
                    callout: &mut callout,
                }),
                out,
            )
        })
    }
}

/// Runs `run` with an interpreter of the context's pool (one not in use, or a new
/// one), the run's program and heap, and the context's output; the calls the
/// interpreter makes are added to the context's count, and the interpreter goes
/// back to the pool. The one way every tier enters the interpreter from native code
/// (stage 3's mixed runs, stage 5's tiered runs), whatever link it gives it.
///
/// # Safety
/// `ctx` is the live context of a mixed or tiered run (`verified` and `heap` set),
/// not borrowed elsewhere meanwhile.
pub unsafe fn with_interpreter<R>(
    ctx: *mut Context,
    run: impl FnOnce(&mut Interpreter, &Verified, &mut Heap, &mut ContextOutput) -> R,
) -> R {
    // SAFETY: see the contract; each borrow below ends before native code runs.
    let (mut interp, verified, heap) = unsafe {
        let c = context(ctx);
        (
            c.runtime.interpreters.pop().unwrap_or_default(),
            &*c.runtime.verified,
            &mut *c.runtime.heap,
        )
    };
    let before: u64 = interp.profile().calls.iter().sum();
    let mut out = ContextOutput { ctx };
    let result = run(&mut interp, verified, heap, &mut out);
    let after: u64 = interp.profile().calls.iter().sum();
    // SAFETY: the interpreter is done; nothing else borrows the context.
    let c = unsafe { context(ctx) };
    c.native.calls += after - before;
    c.runtime.interpreters.push(interp);
    result
}

/// The interpreter's output in a mixed or tiered run: the context's, in order with
/// native `print`s.
pub struct ContextOutput {
    ctx: *mut Context,
}

impl Write for ContextOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // SAFETY: the context outlives the interpreter's run; only `print` uses it
        // while this runs.
        let ctx = unsafe { context(self.ctx) };
        ctx.runtime.output.extend_from_slice(buf);
        if ctx.runtime.output.len() >= OUTPUT_CHUNK && !ctx.runtime.flush() {
            return Err(std::io::Error::other("the output's receiver is gone"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Calls native code at `code` through the entry trampoline `entry` with `args`
/// (laid out as native code reads them: argument k at `first - 8k`), `depth` frames
/// being live below it: its result, or the error it recorded in the context with
/// the frames it passed. The interpreter's way into compiled code, in every run
/// that mixes them.
///
/// # Safety
/// `ctx` is the live context of the run `code` was compiled for, its heap set to
/// the one `args` belong to, and not borrowed elsewhere meanwhile.
pub unsafe fn call_native(
    ctx: *mut Context,
    entry: EntryFn,
    code: u64,
    args: &[Value],
    depth: usize,
) -> Result<Value, Unwind> {
    // Native code reads argument k at `args - 8k`.
    let words: Vec<u64> = args.iter().rev().map(|v| v.bits()).collect();
    let first = words.as_ptr().wrapping_add(words.len().saturating_sub(1));
    let word = entry(ctx, first, code, (MAX_FRAMES - depth) as u64);
    // SAFETY: as this function's own contract: native code is done with it.
    unsafe { native_result(ctx, word) }
}

/// What native code's result word means: a value, or the error it recorded (with
/// its frames) in the context, taken out of it.
///
/// # Safety
/// `word` is what native code of the run `ctx` is the live context of returned, and
/// nothing else borrows the context.
pub unsafe fn native_result(ctx: *mut Context, word: u64) -> Result<Value, Unwind> {
    if word != ERROR_WORD {
        // SAFETY: a compiled function's result on this run's heap.
        return Ok(unsafe { value(word) });
    }
    // SAFETY: native code is done with the context.
    let c = unsafe { context(ctx) };
    Err(Unwind {
        kind: recorded_error(c.runtime.error.take()),
        frames: std::mem::take(&mut c.runtime.trace),
    })
}

/// The interpreter's calls of compiled functions: into native code through the
/// trampoline, starting at the interpreter's depth.
struct NativeCallout {
    ctx: *mut Context,
}

impl Callout for NativeCallout {
    fn call(
        &mut self,
        heap: &mut Heap,
        func: FnId,
        args: &[Value],
        depth: usize,
        _out: &mut dyn Write,
    ) -> Result<Value, Unwind> {
        // SAFETY: the context outlives the run; the interpreter lends its heap for
        // the call, which native code reaches through the context.
        let (entry, code) = unsafe {
            let c = context(self.ctx);
            c.runtime.heap = heap;
            (
                c.runtime.entry.expect("a mixed run has the trampoline"),
                (*c.native.functions.add(func as usize)).code,
            )
        };
        // SAFETY: the context is live, its heap the interpreter's.
        unsafe { call_native(self.ctx, entry, code, args, depth) }
    }
}
