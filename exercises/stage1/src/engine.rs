//! The interface every engine of every stage implements, so that the suites, the
//! benches and the command line treat the interpreter and the JITs alike.

use std::io::Write;
use std::time::Duration;

use crate::error::RuntimeError;
use crate::verify::Verified;

/// An engine runs verified programs: the interpreter of stage 1, the JITs after it.
pub trait Engine {
    /// A short name for listings and tables ("interpreter", "template JIT", ...).
    fn name(&self) -> &'static str;

    /// Runs `program` from `main`, writing what it prints to `out`, and returns what
    /// `main` returned, formatted as `print` would write it; or the runtime error
    /// that stopped it.
    fn run(&mut self, program: &Verified, out: &mut dyn Write) -> Result<String, RuntimeError>;

    /// What the last run did.
    fn stats(&self) -> &Stats;
}

/// What an engine did during a run: counters, times and events.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Bytecode instructions executed by the interpreter (counted only when asked
    /// for, as counting costs time in the dispatch loop).
    pub instructions: Option<u64>,
    /// Calls made (direct and through values), main included.
    pub calls: u64,
    /// Wall time of the run, compilation included.
    pub run_time: Duration,
    /// What happened, in order: compilations, tier-ups, OSR entries, deopts.
    pub events: Vec<Event>,
    /// How often native code called each runtime helper, by name.
    pub runtime_calls: Vec<(&'static str, u64)>,
    /// What a compiler counted, by name (values folded, checks removed, values
    /// spilled, ...): each engine reports its own.
    pub counters: Vec<(&'static str, u64)>,
}

/// Something an engine did that a test may assert on and `--stats` prints.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A function was compiled to native code.
    Compiled {
        function: String,
        tier: &'static str,
        bytecode_len: usize,
        code_bytes: usize,
        time: Duration,
    },
    /// A function could not be compiled and runs in a lower tier; `reason` says why.
    NotCompiled {
        function: String,
        tier: &'static str,
        reason: String,
    },
    /// A function moved up a tier (stage 5): its code in the function table is now
    /// `to`'s, because its call counter (`trigger` "calls") or one of its loops'
    /// back-edge counter ("loop") reached `count`.
    TierUp {
        function: String,
        from: &'static str,
        to: &'static str,
        trigger: &'static str,
        count: u64,
        time: Duration,
        code_bytes: usize,
    },
    /// A running frame of `function` moved from tier `from` to tier `to` at the loop
    /// header `pc` (on-stack replacement, stage 5).
    Osr {
        function: String,
        pc: usize,
        from: &'static str,
        to: &'static str,
    },
    /// The inline cache of a site moved from state `from` to state `to` (stage 6:
    /// "uninitialized", "monomorphic", "polymorphic", "megamorphic") when it saw
    /// `seen` ("shape 3", or the callee of a `call_value`). The site is the
    /// `get_field`/`set_field` of field `name`, or a `call_value` (`name` "call"), at
    /// `line` of `function`.
    IcTransition {
        function: String,
        line: u32,
        name: String,
        from: &'static str,
        to: &'static str,
        seen: String,
    },
    /// Optimized code of `function` bet wrong (stage 7): the guard at `pc` of
    /// `guard_function` (the function itself, or one inlined into it `inlined_depth`
    /// calls deep) failed for `reason`, and `frames` interpreter frames were rebuilt
    /// to go on from there.
    Deopt {
        function: String,
        guard_function: String,
        pc: usize,
        reason: &'static str,
        inlined_depth: usize,
        frames: usize,
    },
    /// `function` was optimized again (stage 7), its `count`th compile, after deopts;
    /// `dropped` lists the bets it no longer makes ("branch at line 4"), and
    /// `speculating` is false once it gave up betting at all.
    Recompiled {
        function: String,
        count: u32,
        dropped: Vec<String>,
        speculating: bool,
    },
}
