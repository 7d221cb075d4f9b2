//! What a tiered run (stage 5) shares between its tiers, as data: the countdown
//! counters that decide when a function is worth compiling, and the flags that say
//! which functions run in compiled code now.
//!
//! Every tier reads and bumps the same counters: the interpreter in its tiered
//! dispatch loop, baseline code with a `sub qword [counter], 1` of its own (the
//! counters never move during a run, so their addresses can be baked into code).
//! A counter counts *down*; the step that makes it reach zero calls the tiering
//! policy, which compiles (or not) and sets the counter to the next budget. So a
//! counter costs one decrement and a branch, and the thresholds are data, not code.

use std::cell::Cell;

use crate::bytecode::{FnId, Instr, Program};

/// A budget that never runs out: what a counter is set to when its function has
/// nothing more to gain (it reached the top tier).
pub const NEVER: i64 = i64::MAX;

/// The budget a threshold of `n` events gives: the `n`-th event is the one that
/// reaches zero; thresholds 0 and 1 both mean the first event.
pub fn budget(n: u64) -> i64 {
    n.clamp(1, NEVER as u64) as i64
}

/// The countdown counters of one run: one per function for its calls, one per `loop`
/// instruction for its back edges. Each is an `i64` at an address that does not change
/// while the `Counters` lives (`Cell<i64>` has the layout of `i64`), so generated code
/// can decrement it in place.
#[derive(Debug)]
pub struct Counters {
    /// Calls left before each function's next tiering decision.
    calls: Box<[Cell<i64>]>,
    /// Back edges left before each loop's next tiering decision, every function's
    /// loops one after the other.
    back_edges: Box<[Cell<i64>]>,
    /// For each function, for each pc: the index in `back_edges` of the `loop`
    /// instruction there (`u32::MAX` at every other pc).
    slot: Vec<Box<[u32]>>,
    /// What each instruction saw (stage 7's type feedback), beside the counters.
    feedback: super::feedback::Feedback,
}

impl Counters {
    /// Counters for `program`, every call counter at `calls` and every back-edge
    /// counter at `back_edges` (budgets: see [`budget`]).
    pub fn new(program: &Program, calls: i64, back_edges: i64) -> Counters {
        let mut count = 0u32;
        let slot = program
            .functions
            .iter()
            .map(|f| {
                f.code
                    .iter()
                    .map(|instr| match instr {
                        Instr::Loop(_) => {
                            count += 1;
                            count - 1
                        }
                        _ => u32::MAX,
                    })
                    .collect()
            })
            .collect();
        Counters {
            calls: (0..program.functions.len())
                .map(|_| Cell::new(calls))
                .collect(),
            back_edges: (0..count).map(|_| Cell::new(back_edges)).collect(),
            slot,
            feedback: super::feedback::Feedback::new(program),
        }
    }

    /// The run's type feedback (see [`super::feedback`]).
    #[inline(always)]
    pub fn feedback(&self) -> &super::feedback::Feedback {
        &self.feedback
    }

    /// The call counter of `func`.
    #[inline(always)]
    pub fn call(&self, func: FnId) -> &Cell<i64> {
        &self.calls[func as usize]
    }

    /// Every function's call counter, by function.
    pub(crate) fn calls(&self) -> &[Cell<i64>] {
        &self.calls
    }

    /// The back-edge counters, and for each function and pc the index there of its
    /// `loop`'s counter (`u32::MAX` at every other pc): what [`Counters::back_edge`]
    /// reads.
    pub(crate) fn back_edge_slots(&self) -> (&[Cell<i64>], &[Box<[u32]>]) {
        (&self.back_edges, &self.slot)
    }

    /// The back-edge counter of the `loop` instruction at `loop_pc` of `func`.
    ///
    /// # Panics
    /// When there is no `loop` instruction at `loop_pc`.
    #[inline(always)]
    pub fn back_edge(&self, func: FnId, loop_pc: usize) -> &Cell<i64> {
        let slot = self.slot[func as usize][loop_pc];
        assert!(slot != u32::MAX, "no loop instruction at pc {loop_pc}");
        &self.back_edges[slot as usize]
    }

    /// The `loop` instructions of `func`, by pc, with their counters.
    pub fn loops(&self, func: FnId) -> impl Iterator<Item = (usize, &Cell<i64>)> + '_ {
        self.slot[func as usize]
            .iter()
            .enumerate()
            .filter(|(_, &s)| s != u32::MAX)
            .map(|(pc, &s)| (pc, &self.back_edges[s as usize]))
    }

    /// Counts one event on `counter`: `true` when this one made it reach zero (the
    /// caller then asks the policy, which sets the next budget).
    #[inline(always)]
    pub fn tick(counter: &Cell<i64>) -> bool {
        let left = counter.get() - 1;
        counter.set(left);
        left == 0
    }
}

/// Which functions run in compiled code now: the interpreter of a tiered run sends
/// its calls of them out (to the function table) rather than interpreting them. The
/// engine sets a flag when it installs a function's code, while interpreter
/// activations are live; they see it at their next call.
#[derive(Debug)]
pub struct Installed {
    flags: Box<[Cell<bool>]>,
}

impl Installed {
    /// No function installed yet, for a program of `functions` functions.
    pub fn new(functions: usize) -> Installed {
        Installed {
            flags: (0..functions).map(|_| Cell::new(false)).collect(),
        }
    }

    /// Whether calls of `func` go to compiled code.
    #[inline(always)]
    pub fn get(&self, func: FnId) -> bool {
        self.flags[func as usize].get()
    }

    /// Every function's flag, by function.
    pub(crate) fn flags(&self) -> &[Cell<bool>] {
        &self.flags
    }

    /// Marks `func` as running in compiled code from now on.
    pub fn set(&self, func: FnId) {
        self.flags[func as usize].set(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program() -> Program {
        crate::mini::compile(
            "tiering.mini",
            "fn f(n) { let i = 0; while i < n { i = i + 1; } return i; }\n\
             let j = 0; while j < 3 { j = j + f(j); } print j;",
        )
        .expect("compiles")
    }

    #[test]
    fn every_loop_instruction_has_its_own_counter() {
        let p = program();
        let c = Counters::new(&p, 5, 7);
        let loops: Vec<(usize, usize)> = (0..p.functions.len())
            .map(|f| (f, c.loops(f as FnId).count()))
            .collect();
        assert!(loops.iter().all(|&(_, n)| n == 1), "{loops:?}");
        for (f, func) in p.functions.iter().enumerate() {
            for (pc, instr) in func.code.iter().enumerate() {
                if matches!(instr, Instr::Loop(_)) {
                    assert_eq!(c.back_edge(f as FnId, pc).get(), 7);
                }
            }
        }
        assert_eq!(c.call(0).get(), 5);
    }

    #[test]
    fn a_counter_trips_on_the_step_that_reaches_zero() {
        let p = program();
        let c = Counters::new(&p, budget(3), budget(0));
        let trips: Vec<bool> = (0..4).map(|_| Counters::tick(c.call(0))).collect();
        assert_eq!(trips, [false, false, true, false]);
        let (pc, counter) = c.loops(0).next().expect("a loop");
        assert!(Counters::tick(counter), "threshold 0 trips at once");
        assert!(!Counters::tick(c.back_edge(0, pc)));
    }

    #[test]
    fn installed_flags_flip_through_a_shared_reference() {
        let installed = Installed::new(2);
        let seen = &installed;
        assert!(!seen.get(1));
        installed.set(1);
        assert!(seen.get(1) && !seen.get(0));
    }
}
