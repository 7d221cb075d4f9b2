//! The VM context of a run, which native code reaches through the pinned register
//! `CTX` (`r12`): two parts, kept apart so that what generated code relies on is
//! small and fixed.
//!
//! - [`NativeContext`], `#[repr(C)]`, at offset 0: the fields generated code reads
//!   and writes, at the offsets named below (`CALLS_OFFSET`, `FUNCTIONS_OFFSET`,
//!   checked when this compiles);
//! - [`Runtime`]: the Rust-side state of the runtime helpers of [`crate::runtime`]
//!   (heap, output, errors, the interpreters of a mixed stack), which native code
//!   never touches; the helpers get the whole [`Context`] as their first argument.
//!
//! The depth and call counters live in pinned registers while native code runs
//! (`codegen::FRAMES_LEFT`, `codegen::CALLS`).

use std::mem::offset_of;
use std::sync::mpsc::SyncSender;

use stage1::heap::Heap;
use stage1::interp::Interpreter;
use stage1::value::FUNCTION_SHIFT;
use stage1::{ErrorKind, FnId, Program, Verified};

use crate::runtime::{RuntimeCall, TierHooks};

/// One entry of the function table that `call_value` reads: where the function's
/// code starts and how many arguments it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct FnEntry {
    /// The absolute address of the function's first instruction.
    pub code: u64,
    /// The function's arity.
    pub arity: u64,
}

/// Size in bytes of a [`FnEntry`]: native code scales function indices by it.
pub const FN_ENTRY_SIZE: i32 = std::mem::size_of::<FnEntry>() as i32;
/// Offset of [`FnEntry::code`] in an entry.
pub const FN_ENTRY_CODE_OFFSET: i32 = offset_of!(FnEntry, code) as i32;
/// Offset of [`FnEntry::arity`] in an entry.
pub const FN_ENTRY_ARITY_OFFSET: i32 = offset_of!(FnEntry, arity) as i32;
/// `FN_ENTRY_SIZE` is `1 << FN_ENTRY_SHIFT`: `call_value` turns a function value
/// (`index << FUNCTION_SHIFT | FUNCTION_TAG`) into its entry's offset by clearing the
/// tag and shifting left by `FN_ENTRY_SHIFT - FUNCTION_SHIFT`.
pub const FN_ENTRY_SHIFT: u32 = FN_ENTRY_SIZE.trailing_zeros();

// The layout native code assumes, checked when this compiles.
const _: () = {
    assert!(FN_ENTRY_SIZE == 1 << FN_ENTRY_SHIFT);
    assert!(FN_ENTRY_SHIFT >= FUNCTION_SHIFT);
    assert!(FN_ENTRY_CODE_OFFSET == 0 && FN_ENTRY_ARITY_OFFSET == 8);
};

/// Bytes of output `print` gathers before sending them to the caller's writer.
pub const OUTPUT_CHUNK: usize = 8 * 1024;

/// The part of the context generated code reads and writes, at fixed offsets.
#[derive(Debug)]
#[repr(C)]
pub struct NativeContext {
    /// Calls made, `main` included: the trampoline stores its `CALLS` register here
    /// when the run ends (and loads it when native code is entered again).
    pub calls: u64,
    /// The function table, indexed by function index (read by `call_value`).
    pub functions: *const FnEntry,
    /// Stage 7's stress mode: guards compiled for stress testing decrement it and
    /// deoptimize on the step that reaches zero (the runtime then sets the next
    /// countdown). [`NO_STRESS`] in every other run.
    pub deopt_countdown: i64,
    /// Stage 5's compiled-entry table, indexed by function index: where optimized
    /// code calls a function with its arguments in registers (stage 4's `ARG_REGS`),
    /// the callee's own fast entry once it is optimized, else an adapter that puts
    /// the arguments in memory and calls its [`FnEntry::code`] (as HotSpot's
    /// `_from_compiled_entry` and its c2i adapters). Null in runs without tiers,
    /// whose code never reads it.
    pub compiled_entries: *const u64,
}

/// The countdown of a run that does not stress deoptimization: it never runs out.
pub const NO_STRESS: i64 = i64::MAX;

/// The runtime's own state for one native run, which only Rust code touches.
pub struct Runtime {
    /// The heap of the run (arrays, objects).
    pub heap: *mut Heap,
    /// The program being run (for `print`'s names and fields).
    pub program: *const Program,
    /// The error that stopped the run, once one happened.
    pub error: Option<ErrorKind>,
    /// The frames the error passed through, innermost first: function and pc.
    pub trace: Vec<(FnId, usize)>,
    /// Output not yet sent to the caller's writer.
    pub output: Vec<u8>,
    /// Where full chunks of output go; `None` when nobody listens (no output wanted).
    pub sink: Option<SyncSender<Vec<u8>>>,
    /// Where full chunks of output go when the run is on the caller's own thread
    /// ([`Runtime::set_writer`]): the caller's writer itself, before any sink.
    pub writer: Option<*mut (dyn std::io::Write + 'static)>,
    /// How often native code called each runtime helper, by [`RuntimeCall`].
    pub runtime_calls: [u64; RuntimeCall::COUNT],
    /// The verified program, for the interpreter (null when nothing is interpreted).
    pub verified: *const Verified,
    /// Which functions are compiled: the interpreter's calls of them go out to
    /// native code (through `entry`).
    pub compiled: *const [bool],
    /// The entry trampoline, for the interpreter's calls into native code.
    pub entry: Option<EntryFn>,
    /// Interpreters not in use, one per interpreted activation at most (reused, as
    /// each keeps the program prepared; one in use is never shared).
    pub interpreters: Vec<Interpreter>,
    /// A tiered run's policy ([`Runtime::set_hooks`]); `None` in other runs.
    pub hooks: Option<*const dyn TierHooks>,
}

/// The state of one native run: what generated code reads first (where `CTX`
/// points), then the runtime's own.
#[repr(C)]
pub struct Context {
    /// The fields of generated code.
    pub native: NativeContext,
    /// The runtime helpers' state.
    pub runtime: Runtime,
}

/// The entry trampoline's type: context, arguments, code address, frames left; the
/// result word.
pub type EntryFn = extern "sysv64" fn(*mut Context, *const u64, u64, u64) -> u64;

/// Offset of [`NativeContext::calls`] from `CTX`, for native code.
pub const CALLS_OFFSET: i32 =
    (offset_of!(Context, native) + offset_of!(NativeContext, calls)) as i32;
/// Offset of [`NativeContext::functions`] from `CTX`, for native code.
pub const FUNCTIONS_OFFSET: i32 =
    (offset_of!(Context, native) + offset_of!(NativeContext, functions)) as i32;
/// Offset of [`NativeContext::deopt_countdown`] from `CTX`, for native code.
pub const DEOPT_COUNTDOWN_OFFSET: i32 =
    (offset_of!(Context, native) + offset_of!(NativeContext, deopt_countdown)) as i32;
/// Offset of [`NativeContext::compiled_entries`] from `CTX`, for native code.
pub const COMPILED_ENTRIES_OFFSET: i32 =
    (offset_of!(Context, native) + offset_of!(NativeContext, compiled_entries)) as i32;

// `CTX` points at the context, whose native part comes first, with the two words
// generated code addresses (`[CTX + 0]`, `[CTX + 8]`).
const _: () = {
    assert!(offset_of!(Context, native) == 0);
    assert!(CALLS_OFFSET == 0 && FUNCTIONS_OFFSET == 8);
};

impl Context {
    /// A context for a run of `program` on `heap`, calling through `functions`.
    pub fn new(
        program: &Program,
        heap: &mut Heap,
        functions: &[FnEntry],
        sink: Option<SyncSender<Vec<u8>>>,
    ) -> Context {
        Context {
            native: NativeContext {
                calls: 0,
                functions: functions.as_ptr(),
                deopt_countdown: NO_STRESS,
                compiled_entries: std::ptr::null(),
            },
            runtime: Runtime {
                heap,
                program,
                error: None,
                trace: Vec::new(),
                output: Vec::new(),
                sink,
                writer: None,
                runtime_calls: [0; RuntimeCall::COUNT],
                verified: std::ptr::null(),
                compiled: &[],
                entry: None,
                interpreters: Vec::new(),
                hooks: None,
            },
        }
    }
}

impl Runtime {
    /// Makes `hooks` the run's tiering policy: baseline code's tripped counters and
    /// the interpreter stubs reach it (see [`TierHooks`]).
    ///
    /// # Safety
    /// `hooks` outlives every use of this context by native code and the runtime
    /// (the run), or is replaced before it ends: the context keeps it as a raw
    /// pointer, its lifetime erased.
    pub unsafe fn set_hooks(&mut self, hooks: &dyn TierHooks) {
        let hooks: *const (dyn TierHooks + '_) = hooks;
        // SAFETY: only the trait object's lifetime bound changes (the same fat
        // pointer); the caller keeps the object alive while the context may use it.
        let hooks: *const (dyn TierHooks + 'static) = unsafe { std::mem::transmute(hooks) };
        self.hooks = Some(hooks);
    }

    /// Makes `writer` where the run's output goes, chunk by chunk, on the thread
    /// that runs it: for a run on the caller's own thread (stage 5 switches stacks
    /// rather than threads), which has no other thread to stream to.
    ///
    /// # Safety
    /// `writer` outlives every use of this context (the run), or is replaced before
    /// it ends, and nothing else uses it meanwhile: the context keeps it as a raw
    /// pointer, its lifetime erased.
    pub unsafe fn set_writer(&mut self, writer: &mut dyn std::io::Write) {
        let writer: *mut (dyn std::io::Write + '_) = writer;
        // SAFETY: only the trait object's lifetime bound changes (the same fat
        // pointer); the caller keeps the writer alive while the context may use it.
        let writer: *mut (dyn std::io::Write + 'static) = unsafe { std::mem::transmute(writer) };
        self.writer = Some(writer);
    }

    /// Sends the gathered output to the writer or the sink; `false` when the writer
    /// failed or the receiver is gone.
    pub fn flush(&mut self) -> bool {
        if self.output.is_empty() {
            return true;
        }
        if let Some(writer) = self.writer {
            // SAFETY: `set_writer`'s contract: the writer is live and not in use.
            let ok = unsafe { (*writer).write_all(&self.output) }.is_ok();
            self.output.clear();
            return ok;
        }
        let chunk = std::mem::take(&mut self.output);
        match &self.sink {
            Some(sink) => sink.send(chunk).is_ok(),
            None => true,
        }
    }
}
