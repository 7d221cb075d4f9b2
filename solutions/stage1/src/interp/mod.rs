//! The interpreter: decoded instructions dispatched by one `match` in one loop.
//!
//! One `Vec<Value>` holds every frame's locals and operands (see [`calls`]); frames are
//! a `Vec` too, so Mini recursion never recurses natively. The running function's code,
//! pc and base live in local variables of the loop ([`calls::Cursor`]). Operators take
//! the integer fast path first, and errors are built out of line, with their trace, by
//! [`trace::runtime_error`].
//!
//! Three kinds of run share the loop. [`Engine::run`] interprets the whole program.
//! A *static mixed* run ([`Link::Mixed`], stages 3 and 4) interprets the functions
//! the JIT declined, and sends the calls of compiled ones to a [`Callout`]. A *tiered*
//! run ([`Link::Tiered`], stage 5) starts every function here and counts its calls
//! and back edges on shared [`tiering::Counters`], asking the callout's hooks when
//! one runs out (see [`tiered`]). Only code prepared for another tier holds the
//! instructions that leave it ([`Op::CallOut`], [`Op::LoopOut`]), and a tiered run
//! has its own instance of the dispatch loop (`Machine<TIERED = true>`, a const
//! generic) in which they count, so `run` and the static mixed runs pay nothing for
//! tiering.

pub mod calls;
pub mod feedback;
mod heap_ops;
pub mod ops;
pub mod profile;
pub mod resume;
pub mod superinstr;
pub mod tiered;
pub mod tiering;
pub mod trace;

use std::io::Write;
use std::time::Instant;

use crate::bytecode::{FnId, Instr, Program, MAIN};
use crate::engine::{Engine, Stats};
use crate::error::{ErrorKind, RuntimeError};
use crate::heap::{Heap, DEFAULT_HEAP_LIMIT};
use crate::objects::{Site, SiteKind};
use crate::print::{format_value, write_value, Chunked};
use crate::value::Value;
use crate::verify::Verified;

use crate::limits::MAX_FRAMES;
use calls::{Cursor, Frame};
pub use profile::Profile;
pub use resume::{resume_frames, ResumeFrame};
use superinstr::{superinstructions, Op};
pub use tiered::OsrFrame;
use tiered::Tiering;
use tiering::{Counters, Installed};

/// How an [`Interpreter`] runs.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Count the instructions executed (`Stats::instructions`); off, it costs nothing.
    pub count_instructions: bool,
    /// The heap's size limit in bytes; past it, `out of memory`.
    pub heap_limit: usize,
}

impl Default for Options {
    /// No counting, the default heap limit.
    fn default() -> Options {
        Options {
            count_instructions: false,
            heap_limit: DEFAULT_HEAP_LIMIT,
        }
    }
}

/// Values the stack starts with room for; it grows when a run needs more.
const INITIAL_STACK: usize = 4096;
/// Values the stack of one [`Interpreter::call_function`] starts with room for at least.
const CALL_STACK: usize = 64;

/// A runtime error on its way out through the tiers of a mixed stack: its kind and
/// the frames it passed so far (function and pc of the instruction), innermost first.
/// Each tier appends its own frames; the outermost engine makes the
/// [`RuntimeError`] with [`trace::runtime_error`], so the trace is the one the
/// interpreter alone would give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unwind {
    pub kind: ErrorKind,
    pub frames: Vec<(FnId, usize)>,
}

/// Where [`Interpreter::call_function`] sends the calls of functions that run in
/// another tier (compiled code), and, in a tiered run, whom it tells that a counter
/// ran out (the hooks have default bodies that do nothing, for the static runs).
pub trait Callout {
    /// Calls `func` with `args` (arity already checked), `depth` frames being live
    /// below it (all tiers counted), printing to `out`.
    fn call(
        &mut self,
        heap: &mut Heap,
        func: FnId,
        args: &[Value],
        depth: usize,
        out: &mut dyn Write,
    ) -> Result<Value, Unwind>;

    /// In a tiered run, the call counter of `func` reached zero: the call about to be
    /// made (its checks passed, `depth` frames live below the callee) is the one that
    /// trips it. The hook may compile `func` and mark it [`Installed`]: the
    /// interpreter reads the flag after the hook, so that very call runs the new code.
    /// It sets the counter's next budget.
    fn hot_call(&mut self, _heap: &mut Heap, _func: FnId, _depth: usize, _out: &mut dyn Write) {}

    /// In a tiered run, the back-edge counter of the `loop` at `frame.loop_pc`
    /// reached zero, before it jumps to `frame.target`. `None`: the interpreter goes
    /// on. `Some(result)`: the hook ran the rest of the frame elsewhere (OSR, from
    /// the frame's state at `target`) and it ended with `result`: the interpreter does
    /// what a `return` would, with an `Ok` value; an `Err`'s frames must already hold
    /// this frame (the interpreter adds only its callers). It sets the counter's next
    /// budget.
    fn hot_loop(
        &mut self,
        _heap: &mut Heap,
        _frame: OsrFrame<'_>,
        _out: &mut dyn Write,
    ) -> Option<Result<Value, Unwind>> {
        None
    }
}

/// How an activation of the interpreter is linked to the other tiers of its run
/// (none: [`Engine::run`] alone).
pub enum Link<'a> {
    /// A static mixed run (stages 3 and 4): the calls of the functions `goes_out`
    /// marks go to `callout`, for the whole run.
    Mixed {
        /// One flag per function: true when it runs in another tier.
        goes_out: &'a [bool],
        /// Where those calls go.
        callout: &'a mut dyn Callout,
    },
    /// A tiered run (stage 5): every call, the entered function's at pc 0 included,
    /// and every back edge counts down on `counters`, calling the hooks of `callout`
    /// when one reaches zero; a call goes to `callout` when `installed` says its
    /// function runs in compiled code *at that moment* (the hooks flip the flags).
    Tiered {
        /// The run's counters, shared with compiled code.
        counters: &'a Counters,
        /// Which functions run in compiled code now.
        installed: &'a Installed,
        /// Where their calls go, and the tiering hooks.
        callout: &'a mut dyn Callout,
    },
}

/// What a run needs of a program besides the program: code with superinstructions, tagged
/// constants, frame sizes. Made once per [`Interpreter`] for `call_function`.
#[derive(Debug, Default)]
struct Prepared {
    /// The [`Verified::id`] of the program this was prepared from.
    program: u64,
    code: Vec<Vec<Op>>,
    constants: Vec<Value>,
    max_stack: Vec<usize>,
    /// The functions whose direct calls became [`Op::CallOut`] (whose calls go out).
    goes_out: Vec<bool>,
    /// Prepared for a tiered run (see [`Prepared::new`]).
    tiered: bool,
    /// Prepared with sites (see [`Prepared::new`]).
    sites: bool,
    /// The field of each `get_field`/`set_field` site, by site (0 for the others).
    site_fields: Vec<u32>,
}

impl Prepared {
    /// The program with superinstructions, with every direct call of a function `goes_out`
    /// marks made an [`Op::CallOut`] (so `run`'s calls pay nothing for mixed stacks).
    /// `tiered`: for a tiered run, where any call may go out and every back edge
    /// counts (`goes_out` is ignored): every call is a `CallOut` and every `loop` a
    /// [`Op::LoopOut`], and each function's code ends with an extra `return`, where
    /// a frame whose loop moved elsewhere returns its result ([`tiered`]).
    /// `with_sites`: every `get_field`, `set_field` and `call_value` becomes its
    /// site form ([`Op::GetFieldAt`], ..), so that the heap's object model knows which
    /// instruction asks; stage 1's model needs no sites, and its runs keep the plain
    /// instructions (a site costs a table load per access).
    fn new(verified: &Verified, goes_out: &[bool], tiered: bool, with_sites: bool) -> Prepared {
        let program = verified.program();
        let all = vec![true; program.functions.len()];
        let goes_out = if tiered { &all[..] } else { goes_out };
        let out = |func: FnId| goes_out.get(func as usize) == Some(&true);
        let sites = verified.sites();
        let code = program
            .functions
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let mut ops = superinstructions(&f.code);
                for (pc, op) in ops.iter_mut().enumerate() {
                    let site = || {
                        sites
                            .of(i as FnId, pc)
                            .expect("every field or value call is a site")
                    };
                    match *op {
                        Op::Call { func, argc } if out(func) => *op = Op::CallOut { func, argc },
                        Op::Loop(target) if tiered => *op = Op::LoopOut(target),
                        Op::GetField(_) if with_sites => *op = Op::GetFieldAt(site()),
                        Op::SetField(_) if with_sites => *op = Op::SetFieldAt(site()),
                        Op::CallValue(argc) if with_sites => {
                            if let Ok(argc) = u16::try_from(argc) {
                                *op = Op::CallValueAt { argc, site: site() }
                            }
                        }
                        _ => {}
                    }
                }
                if tiered {
                    ops.push(Op::Return);
                }
                ops
            })
            .collect();
        let site_fields = sites
            .iter()
            .map(|(_, info)| match info.kind {
                SiteKind::GetField(k) | SiteKind::SetField(k) => k,
                SiteKind::CallValue => 0,
            })
            .collect();
        Prepared {
            sites: with_sites,
            site_fields,
            program: verified.id(),
            goes_out: goes_out.to_vec(),
            tiered,
            code,
            constants: program.constants.iter().map(|&c| Value::int(c)).collect(),
            max_stack: verified
                .info()
                .iter()
                .map(|info| info.max_stack as usize)
                .collect(),
        }
    }
}

/// The stage 1 engine: a bytecode interpreter that also gathers profiles.
#[derive(Debug, Default)]
pub struct Interpreter {
    options: Options,
    stats: Stats,
    profile: Profile,
    heap: Heap,
    /// The program prepared for [`Interpreter::call_function`], on its first call.
    prepared: Option<Prepared>,
}

/// Where the interpreter starts: a function, a pc in it and its frame. The one way in,
/// for [`Engine::run`] (`main` at pc 0), for calls from other tiers
/// ([`Interpreter::call_function`]: a function at pc 0 with its arguments), and for
/// what stages 5 and 7 need: entering at a loop header with a native frame's locals
/// and operands (OSR), or resuming at any instruction boundary (deoptimization).
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    /// The function.
    pub func: FnId,
    /// The instruction to run first.
    pub pc: usize,
    /// The first locals, parameters first (at least the arity, at most all of the
    /// function's locals); the others start at 0.
    pub locals: &'a [Value],
    /// The operands, bottom first: exactly the verifier's depth at `pc`
    /// ([`Verified::depths`]).
    pub operands: &'a [Value],
    /// Frames live below this one, in other tiers (the depth limit counts them).
    pub depth: usize,
}

impl<'a> Entry<'a> {
    /// A call of `func` with `args`, `depth` frames being live below it.
    pub fn call(func: FnId, args: &'a [Value], depth: usize) -> Entry<'a> {
        Entry {
            func,
            pc: 0,
            locals: args,
            operands: &[],
            depth,
        }
    }
}

impl Interpreter {
    /// An interpreter with the default [`Options`].
    pub fn new() -> Interpreter {
        Interpreter::with_options(Options::default())
    }

    /// An interpreter with the given options.
    pub fn with_options(options: Options) -> Interpreter {
        Interpreter {
            options,
            stats: Stats::default(),
            profile: Profile::default(),
            heap: Heap::new(0),
            prepared: None,
        }
    }

    /// The call and loop counters of the last run.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The heap of the last run, where the values it returned live.
    pub fn heap(&self) -> &Heap {
        &self.heap
    }

    /// Prepares `verified` with the calls of functions `goes_out` marks going out, or
    /// for a tiered run, unless that is what is prepared already. What was prepared
    /// serves only the program it was prepared from (its [`Verified::id`]); the
    /// profile starts afresh with a new program.
    /// `sites`: the field accesses and value calls carry their sites (for a heap
    /// whose object model keeps caches, see [`Heap::wants_sites`]).
    fn prepare(&mut self, verified: &Verified, goes_out: &[bool], tiered: bool, sites: bool) {
        if self.prepared.as_ref().map(|p| p.program) != Some(verified.id()) {
            self.profile = Profile::new(verified.program());
            self.prepared = None;
        }
        let fits = |p: &Prepared| {
            p.tiered == tiered && p.sites == sites && (tiered || p.goes_out == goes_out)
        };
        if !self.prepared.as_ref().is_some_and(fits) {
            self.prepared = Some(Prepared::new(verified, goes_out, tiered, sites));
        }
    }

    /// Runs `verified` from `entry` on `heap` until the entered frame returns, for an
    /// engine that may run other functions in another tier, as `link` says (see
    /// [`Link`]; in a tiered run, an entry at pc 0 is a call: it counts, and goes to
    /// the callout with the first `arity` locals when its function is installed).
    /// An error comes back as an [`Unwind`]
    /// holding this activation's frames after those of the tiers it came through.
    /// One `Interpreter` keeps one program prepared (another program is prepared
    /// afresh); it counts calls in its [`Profile`] (the entry's, when it is at pc 0)
    /// but not instructions.
    ///
    /// # Panics
    /// When `entry` does not fit the program: no such function or pc, fewer locals
    /// than parameters or more than the function has, or operands other than the
    /// verifier's depth at `pc`; or when a local or operand is an array or object
    /// that `heap` did not make ([`Heap::holds`]).
    pub fn enter<'a>(
        &'a mut self,
        verified: &'a Verified,
        heap: &'a mut Heap,
        entry: Entry<'_>,
        link: Option<Link<'a>>,
        out: &'a mut dyn Write,
    ) -> Result<Value, Unwind> {
        let program = verified.program();
        let f = program
            .functions
            .get(entry.func as usize)
            .unwrap_or_else(|| panic!("enter: no function {}", entry.func));
        assert!(
            entry.pc < f.code.len(),
            "enter: no pc {} in {}",
            entry.pc,
            f.name
        );
        assert!(
            (f.arity as usize..=f.locals as usize).contains(&entry.locals.len()),
            "enter: {} locals for {} (arity {}, {} locals)",
            entry.locals.len(),
            f.name,
            f.arity,
            f.locals
        );
        let depth = verified.depths(entry.func)[entry.pc] as usize;
        assert_eq!(
            entry.operands.len(),
            depth,
            "enter: operands at pc {} of {}",
            entry.pc,
            f.name
        );
        // The run trusts every value it holds to be of `heap`: those it is given are
        // checked here, the others are constants, function values or made by `heap`.
        assert!(
            entry
                .locals
                .iter()
                .chain(entry.operands)
                .all(|&v| heap.holds(v)),
            "enter: a value of another heap"
        );
        if entry.depth + 1 > MAX_FRAMES {
            return Err(Unwind {
                kind: ErrorKind::StackOverflow,
                frames: Vec::new(),
            });
        }
        match link {
            Some(Link::Tiered { .. }) => {
                self.execute_entry::<false, true, true>(verified, heap, entry, link, out)
            }
            Some(Link::Mixed { .. }) => {
                self.execute_entry::<false, true, false>(verified, heap, entry, link, out)
            }
            None if entry.depth > 0 => {
                self.execute_entry::<false, true, false>(verified, heap, entry, link, out)
            }
            None => self.execute_entry::<false, false, false>(verified, heap, entry, link, out),
        }
        .0
    }

    /// [`Interpreter::enter`] at the start of `func`, with `args` (of its arity),
    /// `depth` frames being live below it in other tiers, linked to them by `link`.
    #[allow(clippy::too_many_arguments)]
    pub fn call_function<'a>(
        &'a mut self,
        verified: &'a Verified,
        heap: &'a mut Heap,
        func: FnId,
        args: &[Value],
        depth: usize,
        link: Option<Link<'a>>,
        out: &'a mut dyn Write,
    ) -> Result<Value, Unwind> {
        debug_assert_eq!(
            verified.program().functions[func as usize].arity as usize,
            args.len(),
            "the caller checks the arity"
        );
        if depth + 1 > MAX_FRAMES {
            return Err(Unwind {
                kind: ErrorKind::StackOverflow,
                frames: Vec::new(),
            });
        }
        // `enter`'s checks hold by the caller's (an arity it checked, pc 0, no
        // operands), but for the one that keeps the run sound; a native stack frame
        // less per interpreted activation counts on a mixed stack 10,000 calls deep.
        assert!(
            args.iter().all(|&v| heap.holds(v)),
            "call_function: a value of another heap"
        );
        let entry = Entry::call(func, args, depth);
        if matches!(link, Some(Link::Tiered { .. })) {
            self.execute_entry::<false, true, true>(verified, heap, entry, link, out)
        } else {
            self.execute_entry::<false, true, false>(verified, heap, entry, link, out)
        }
        .0
    }

    /// Prepares `verified` and runs it from `entry`, whose fit the caller checked:
    /// makes the value stack with the entered frame on it, and the machine. Gives the
    /// result and the instructions counted (`COUNT`). `MIXED`: frames may live below
    /// the entry or calls go out (see [`Machine::call`]), as in every run with a
    /// `link`; `TIERED` for a tiered link: its own machine instance (see
    /// [`Machine`]), whose entry at pc 0 counts and may go out at once
    /// ([`tiered::enter_call`]). Every way into the
    /// interpreter ends here; each instance has its one copy of the dispatch loop
    /// (three in one function made its native frame three times as big, and a mixed
    /// stack holds one per interpreted activation).
    fn execute_entry<'a, const COUNT: bool, const MIXED: bool, const TIERED: bool>(
        &'a mut self,
        verified: &'a Verified,
        heap: &'a mut Heap,
        entry: Entry<'_>,
        link: Option<Link<'a>>,
        out: &'a mut dyn Write,
    ) -> (Result<Value, Unwind>, u64) {
        let (goes_out, tiering, mut callout) = match link {
            None => (&[][..], None, None),
            Some(Link::Mixed { goes_out, callout }) => (goes_out, None, Some(callout)),
            Some(Link::Tiered {
                counters,
                installed,
                callout,
            }) => (
                &[][..],
                Some(Tiering::new(counters, installed)),
                Some(callout),
            ),
        };
        self.prepare(verified, goes_out, TIERED, heap.wants_sites());
        if TIERED && entry.pc == 0 {
            if let (Some(tiering), Some(callout)) = (tiering, callout.as_deref_mut()) {
                let f = &verified.program().functions[entry.func as usize];
                let args = &entry.locals[..f.arity as usize];
                if let Some(result) =
                    tiered::enter_call(tiering, callout, heap, entry.func, args, entry.depth, out)
                {
                    return (result, 0);
                }
            }
        }
        let prepared = self.prepared.as_ref().expect("prepared above");
        let program = verified.program();
        let Entry {
            func,
            pc,
            locals,
            operands,
            depth,
        } = entry;
        let f = &program.functions[func as usize];
        debug_assert!(MIXED || (depth == 0 && callout.is_none()));
        debug_assert_eq!(TIERED, tiering.is_some());
        if pc == 0 {
            self.profile.count_call(func);
        }
        let base_room = if MIXED { CALL_STACK } else { INITIAL_STACK };
        let room = f.locals as usize + prepared.max_stack[func as usize];
        let mut stack = vec![Value::ZERO; room.max(base_room)];
        stack[..locals.len()].copy_from_slice(locals);
        let sp = f.locals as usize + operands.len();
        stack[f.locals as usize..sp].copy_from_slice(operands);
        let mut machine = Machine::<TIERED> {
            program,
            code: &prepared.code,
            constants: &prepared.constants,
            site_fields: &prepared.site_fields,
            stack,
            max_stack: &prepared.max_stack,
            frames: Vec::new(),
            heap,
            profile: &mut self.profile,
            out,
            line: Vec::new(),
            instructions: 0,
            frame_limit: MAX_FRAMES - depth,
            goes_out: &prepared.goes_out,
            callout,
            tiering,
            pending: Vec::new(),
            pending_has_running: false,
        };
        let base = machine.stack.as_mut_ptr();
        let cur = Cursor {
            func,
            code: &prepared.code[func as usize],
            pc,
            base,
            // SAFETY: the stack was made with room for the function's locals and its
            // deepest operand stack, and `sp` is its locals plus the operands at `pc`
            // (at most that deepest, as the verifier's depth at `pc`).
            sp: unsafe { base.add(sp) },
        };
        let result = machine.execute::<COUNT, MIXED>(cur);
        (result, machine.instructions)
    }
}

impl Engine for Interpreter {
    fn name(&self) -> &'static str {
        "interpreter"
    }

    fn run(&mut self, verified: &Verified, out: &mut dyn Write) -> Result<String, RuntimeError> {
        let start = Instant::now();
        let program = verified.program();
        // The run's heap is lent to the machine, and kept for the values it returns.
        let mut heap = Heap::new(self.options.heap_limit);
        self.prepare(verified, &[], false, heap.wants_sites());
        self.profile = Profile::new(program);
        let main = Entry::call(MAIN, &[], 0);
        let (result, instructions) = if self.options.count_instructions {
            self.execute_entry::<true, false, false>(verified, &mut heap, main, None, out)
        } else {
            self.execute_entry::<false, false, false>(verified, &mut heap, main, None, out)
        };
        self.heap = heap;
        self.stats = Stats {
            instructions: self.options.count_instructions.then_some(instructions),
            calls: self.profile.calls.iter().sum(),
            run_time: start.elapsed(),
            ..Stats::default()
        };
        result
            .map(|v| format_value(program, &self.heap, v))
            .map_err(|u| trace::runtime_error(program, u.kind, u.frames.into_iter()))
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }
}

/// The state of one run: the value stack, the callers' frames, the heap and the
/// counters. `'p` is the program's lifetime, `'r` the run's borrows. `TIERED`: a
/// tiered run's machine (see [`tiered`]), whose calls count and may go out at any
/// time; the tiered checks are compiled into that instance only, so `run`'s loop and
/// the static mixed runs' have none of them.
pub(crate) struct Machine<'p, 'r, const TIERED: bool> {
    program: &'p Program,
    /// Each function's code, with superinstructions (see [`superinstr`]).
    code: &'p [Vec<Op>],
    /// The constant pool, tagged once so `const` is a copy.
    constants: &'p [Value],
    /// The field of each site (see [`Prepared`]).
    site_fields: &'p [u32],
    /// Every frame's locals and operands; its length is the room made so far.
    stack: Vec<Value>,
    /// The most operands each function's frame holds, from the verifier.
    max_stack: &'p [usize],
    frames: Vec<Frame>,
    heap: &'r mut Heap,
    profile: &'r mut Profile,
    out: &'r mut dyn Write,
    /// The line `print` is building (kept to reuse its allocation).
    line: Vec<u8>,
    instructions: u64,
    /// [`MAX_FRAMES`] less the frames live below this machine's first one, in other
    /// tiers (none for `run`).
    frame_limit: usize,
    /// The functions whose calls go to `callout` (empty for `run`: none). Direct
    /// calls of them are [`Op::CallOut`] in the prepared code; `call_value` looks here.
    goes_out: &'r [bool],
    callout: Option<&'r mut dyn Callout>,
    /// A tiered run's counters and flags (see [`tiered`]); `None` in the others.
    tiering: Option<Tiering<'r>>,
    /// The frames of an error that came back through the callout, innermost first,
    /// until [`Machine::error`] puts this machine's frames after them.
    pending: Vec<(FnId, usize)>,
    /// `pending` holds the running frame already (an error of a frame that moved
    /// elsewhere by OSR): [`Machine::error`] adds only its callers.
    pending_has_running: bool,
}

/// Unwraps `Ok`, or ends `execute` with the error, traced at the instruction `$k`
/// (1-based) of the superinstruction's sequence.
macro_rules! tri_at {
    ($machine:ident, $cur:ident, $k:expr, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(kind) => return Err($machine.error(kind, $cur.func, $cur.pc - 1 + $k)),
        }
    };
}

/// Unwraps `Ok`, or ends `execute` with the error, traced at the running frame.
macro_rules! tri {
    ($machine:ident, $cur:ident, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(kind) => return Err($machine.error(kind, $cur.func, $cur.pc)),
        }
    };
}

impl<'p, const TIERED: bool> Machine<'p, '_, TIERED> {
    /// Pops the top operand of the running frame (the verifier guarantees there is one).
    #[inline(always)]
    fn pop(&mut self, cur: &mut Cursor<'p>) -> Value {
        // SAFETY: `verify` guarantees no instruction pops more operands than its frame
        // holds, so `sp - 1` is a slot this frame pushed, inside the stack.
        unsafe {
            cur.sp = cur.sp.sub(1);
            *cur.sp
        }
    }

    /// Pushes `v` on the running frame's operands (its room was made on entry).
    #[inline(always)]
    fn push(&mut self, cur: &mut Cursor<'p>, v: Value) {
        // SAFETY: `verify` guarantees a frame never holds more than its function's
        // `max_stack` operands, and entering the frame (`run`, `call`) made the stack
        // at least `base + locals + max_stack` long; it never shrinks.
        unsafe {
            *cur.sp = v;
            cur.sp = cur.sp.add(1);
        }
    }

    /// The slot of local `n` of the running frame.
    #[inline(always)]
    fn local(&mut self, cur: &Cursor<'p>, n: u32) -> &mut Value {
        // SAFETY: `verify` guarantees `n < locals`, and the frame's locals
        // `base..base + locals` lie below its operands, inside the stack.
        unsafe { &mut *cur.base.add(n as usize) }
    }

    /// Constant `k` of the pool, tagged.
    #[inline(always)]
    fn constant(&self, k: u32) -> Value {
        // SAFETY: `verify` guarantees `k` indexes the constant pool.
        unsafe { *self.constants.get_unchecked(k as usize) }
    }

    /// Where a compare-and-branch superinstruction goes on: past its four instructions when the
    /// comparison `c` is true, else to the target of its `jump_if_false` (pc + 3).
    #[inline(always)]
    fn branch_unless(&self, cur: &Cursor<'p>, c: Value) -> usize {
        if c != Value::ZERO {
            return cur.pc + 3;
        }
        // SAFETY: `superinstructions` made this one only where pc + 3 holds a
        // `jump_if_false`, which it kept.
        match unsafe { *cur.code.get_unchecked(cur.pc + 2) } {
            Op::JumpIfFalse(target) => target as usize,
            _ => unreachable!("a compare-and-branch without its jump_if_false"),
        }
    }

    /// [`Machine::call_value`], out of line: the rarer instructions stay out of the
    /// dispatch loop, so the hot ones keep its registers. The cursor goes by value,
    /// as its address must not escape the loop (that would keep it in memory).
    #[inline(never)]
    fn call_value_slow(
        &mut self,
        mut cur: Cursor<'p>,
        argc: u32,
        site: Option<Site>,
    ) -> Result<Cursor<'p>, ErrorKind> {
        self.call_value(&mut cur, argc, site)?;
        Ok(cur)
    }

    /// A `CallOut`: in the static runs [`Machine::call_out`], out of line with the
    /// cursor by value (see `call_value_slow`); in a tiered run, where every call is
    /// a `CallOut`, [`Machine::call_tiered`], inline in its own instance of the loop
    /// (an interpreted call there costs about what `run`'s costs).
    #[inline(always)]
    fn call_out_slow(
        &mut self,
        mut cur: Cursor<'p>,
        func: FnId,
        argc: u32,
    ) -> Result<Cursor<'p>, ErrorKind> {
        if TIERED {
            self.call_tiered(&mut cur, func, argc)?;
            return Ok(cur);
        }
        self.call_out_outlined(cur, func, argc)
    }

    /// [`Machine::call_out`], out of line with the cursor by value.
    #[inline(never)]
    pub(crate) fn call_out_outlined(
        &mut self,
        mut cur: Cursor<'p>,
        func: FnId,
        argc: u32,
    ) -> Result<Cursor<'p>, ErrorKind> {
        self.call_out(&mut cur, func, argc)?;
        Ok(cur)
    }

    /// [`Machine::array_op`], out of line, for the allocating instructions.
    #[inline(never)]
    fn array_op_slow(&mut self, mut cur: Cursor<'p>, op: Instr) -> Result<Cursor<'p>, ErrorKind> {
        self.array_op(&mut cur, op)?;
        Ok(cur)
    }

    /// [`Machine::object_op`], out of line.
    #[inline(never)]
    fn object_op_slow(&mut self, mut cur: Cursor<'p>, op: Instr) -> Result<Cursor<'p>, ErrorKind> {
        self.object_op(&mut cur, op, None)?;
        Ok(cur)
    }

    /// Writes `v` and a newline to the output, in chunks as the text is made (a
    /// short line is one write).
    #[inline(never)]
    fn print(&mut self, v: Value) -> Result<(), ErrorKind> {
        self.line.clear();
        let mut out = Chunked {
            buf: &mut self.line,
            out: &mut *self.out,
        };
        if let Err(kind) = write_value(&mut out, self.program, self.heap, v) {
            // What was made of the line goes out before the error, as in stage 3.
            let _ = out.finish();
            return Err(kind);
        }
        out.buf.push(b'\n');
        out.finish().map_err(|_| ErrorKind::Output)
    }

    /// The runtime error `kind`, raised in function `func` by the instruction before
    /// `pc`, with the trace of every frame (each caller is at its call instruction).
    #[cold]
    #[inline(never)]
    fn error(&mut self, kind: ErrorKind, func: FnId, pc: usize) -> Unwind {
        self.feed_error(kind, func, pc - 1);
        let mut frames = std::mem::take(&mut self.pending);
        if !std::mem::take(&mut self.pending_has_running) {
            frames.push((func, pc - 1));
        }
        frames.extend(self.frames.iter().rev().map(|f| (f.func, f.return_pc - 1)));
        Unwind { kind, frames }
    }

    /// Runs from `cur` until `main` returns (or the function `call_function` started
    /// with); counts instructions when `COUNT`; `MIXED` for `call_function` (see
    /// [`Machine::call`]).
    ///
    /// Inlined into each instance of `execute_entry`: with the machine a local
    /// there, its fields can live in registers (one out-of-line copy shared by two
    /// callers made the dispatch loop a fifth slower on calls).
    #[inline(always)]
    fn execute<const COUNT: bool, const MIXED: bool>(
        &mut self,
        mut cur: Cursor<'p>,
    ) -> Result<Value, Unwind> {
        // exercise-begin: dispatch fetch, match and run each instruction until main returns
        // `a b -> f(op, a, b)`, for the operators of `ops`.
        macro_rules! binary {
            ($f:path, $op:expr) => {{
                let b = self.pop(&mut cur);
                let a = self.pop(&mut cur);
                let r = tri!(self, cur, $f($op, a, b));
                self.push(&mut cur, r);
            }};
        }
        loop {
            // SAFETY: `verify` guarantees every jump target is an instruction and that
            // control never falls off the end; frames start at 0 (code is never empty)
            // and return after their call, which is never the last instruction.
            let op = unsafe { *cur.code.get_unchecked(cur.pc) };
            cur.pc += 1;
            if COUNT {
                self.instructions += superinstr::length(op) as u64;
            }
            match op {
                Op::Const(k) => {
                    let v = self.constant(k);
                    self.push(&mut cur, v);
                }
                Op::LoadLocal(n) => {
                    let v = *self.local(&cur, n);
                    self.push(&mut cur, v);
                }
                Op::StoreLocal(n) => {
                    let v = self.pop(&mut cur);
                    *self.local(&cur, n) = v;
                }
                Op::Add => binary!(ops::arith, Instr::Add),
                Op::Sub => binary!(ops::arith, Instr::Sub),
                Op::Mul => binary!(ops::arith, Instr::Mul),
                Op::Neg => {
                    let a = self.pop(&mut cur);
                    let r = tri!(self, cur, ops::arith(Instr::Sub, Value::ZERO, a));
                    self.push(&mut cur, r);
                }
                Op::Div => binary!(ops::divmod, Instr::Div),
                Op::Mod => binary!(ops::divmod, Instr::Mod),
                Op::Lt => binary!(ops::compare, Instr::Lt),
                Op::Le => binary!(ops::compare, Instr::Le),
                Op::Gt => binary!(ops::compare, Instr::Gt),
                Op::Ge => binary!(ops::compare, Instr::Ge),
                Op::Eq => {
                    self.feed_top_operands(&cur);
                    binary!(ops::compare, Instr::Eq)
                }
                Op::Ne => {
                    self.feed_top_operands(&cur);
                    binary!(ops::compare, Instr::Ne)
                }
                Op::Not => {
                    let a = self.pop(&mut cur);
                    let r = Value::bool(!tri!(self, cur, ops::truth(a)));
                    self.push(&mut cur, r);
                }
                Op::Jump(target) => cur.pc = target as usize,
                Op::JumpIfFalse(target) => {
                    let c = self.pop(&mut cur);
                    if !tri!(self, cur, ops::truth(c)) {
                        self.feed_branch(cur.func, cur.pc - 1, true);
                        cur.pc = target as usize;
                    } else {
                        self.feed_branch(cur.func, cur.pc - 1, false);
                    }
                }
                Op::JumpIfTrue(target) => {
                    let c = self.pop(&mut cur);
                    if tri!(self, cur, ops::truth(c)) {
                        self.feed_branch(cur.func, cur.pc - 1, true);
                        cur.pc = target as usize;
                    } else {
                        self.feed_branch(cur.func, cur.pc - 1, false);
                    }
                }
                Op::Loop(target) => {
                    self.profile.count_back_edge(cur.func, cur.pc - 1);
                    cur.pc = target as usize;
                }
                Op::Call { func, argc } => {
                    tri!(
                        self,
                        cur,
                        self.call::<MIXED>(&mut cur, func, u32::from(argc))
                    )
                }
                Op::CallValue(argc) => cur = tri!(self, cur, self.call_value_slow(cur, argc, None)),
                Op::CallValueAt { argc, site } => {
                    cur = tri!(
                        self,
                        cur,
                        self.call_value_slow(cur, argc.into(), Some(site))
                    )
                }
                Op::CallOut { func, argc } => {
                    cur = tri!(self, cur, self.call_out_slow(cur, func, argc.into()))
                }
                Op::LoopOut(target) => {
                    if self.loop_out(&mut cur, target) {
                        cur = tri!(self, cur, self.hot_loop_slow(cur, target));
                    }
                }

                Op::Return => {
                    if let Some(result) = self.ret(&mut cur) {
                        return Ok(result);
                    }
                    // Back in the caller, after its call: the call's result.
                    self.feed_result(&cur);
                }
                Op::Print => {
                    let v = self.pop(&mut cur);
                    tri!(self, cur, self.print(v));
                }
                Op::Dup => {
                    let v = self.pop(&mut cur);
                    self.push(&mut cur, v);
                    self.push(&mut cur, v);
                }
                Op::Pop => {
                    self.pop(&mut cur);
                }
                Op::NewArray(n) => {
                    cur = tri!(self, cur, self.array_op_slow(cur, Instr::NewArray(n)))
                }
                Op::NewArrayFill => {
                    cur = tri!(self, cur, self.array_op_slow(cur, Instr::NewArrayFill))
                }
                Op::ArrayGet => {
                    tri!(self, cur, self.array_op(&mut cur, Instr::ArrayGet));
                    self.feed_result(&cur);
                }
                Op::ArraySet => tri!(self, cur, self.array_op(&mut cur, Instr::ArraySet)),
                Op::ArrayLen => tri!(self, cur, self.array_op(&mut cur, Instr::ArrayLen)),
                Op::NewObject => cur = tri!(self, cur, self.object_op_slow(cur, Instr::NewObject)),
                // Prepared code has the site forms (`GetFieldAt`, ..): these two are
                // for code run as it is, without sites.
                Op::GetField(k) => {
                    tri!(
                        self,
                        cur,
                        self.object_op(&mut cur, Instr::GetField(k), None)
                    );
                    self.feed_result(&cur);
                }
                Op::SetField(k) => tri!(
                    self,
                    cur,
                    self.object_op(&mut cur, Instr::SetField(k), None)
                ),
                Op::GetFieldAt(site) => {
                    let k = self.site_fields[site as usize];
                    tri!(
                        self,
                        cur,
                        self.object_op(&mut cur, Instr::GetField(k), Some(site))
                    );
                    self.feed_result(&cur);
                }
                Op::SetFieldAt(site) => {
                    let k = self.site_fields[site as usize];
                    tri!(
                        self,
                        cur,
                        self.object_op(&mut cur, Instr::SetField(k), Some(site))
                    )
                }
                Op::FuncRef(func) => self.push(&mut cur, Value::function(func)),
                // The superinstructions (see `superinstr`): each runs a whole sequence;
                // an error is reported at the instruction of the sequence that failed.
                Op::JumpUnlessLocals { cmp, a, b } => {
                    let (x, y) = (*self.local(&cur, a.into()), *self.local(&cur, b.into()));
                    self.feed_operands(cur.func, cur.pc + 1, x, y);
                    let c = tri_at!(self, cur, 3, ops::compare(cmp.instr(), x, y));
                    self.feed_branch(cur.func, cur.pc + 2, c == Value::ZERO);
                    cur.pc = self.branch_unless(&cur, c);
                }
                Op::JumpUnlessLocalConst { cmp, a, k } => {
                    let x = *self.local(&cur, a.into());
                    self.feed_operands(cur.func, cur.pc + 1, x, self.constant(k.into()));
                    let c = tri_at!(
                        self,
                        cur,
                        3,
                        ops::compare(cmp.instr(), x, self.constant(k.into()))
                    );
                    self.feed_branch(cur.func, cur.pc + 2, c == Value::ZERO);
                    cur.pc = self.branch_unless(&cur, c);
                }
                Op::LocalArithConst { op, a, k } => {
                    let x = *self.local(&cur, a.into());
                    let r = tri_at!(
                        self,
                        cur,
                        3,
                        ops::arith(op.instr(), x, self.constant(k.into()))
                    );
                    self.push(&mut cur, r);
                    cur.pc += 2;
                }
                Op::ArithConst { op, k } => {
                    let x = self.pop(&mut cur);
                    let r = tri_at!(self, cur, 2, ops::arith(op.instr(), x, self.constant(k)));
                    self.push(&mut cur, r);
                    cur.pc += 1;
                }
            }
        }
        // exercise-end
    }
}

#[cfg(test)]
mod tests;
