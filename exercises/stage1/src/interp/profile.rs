//! Profiling counters: how often each function is called and each loop goes round.
//!
//! Stage 5 reads them to decide what to compile (tiering thresholds) and where to
//! enter compiled code (OSR at a hot loop's back edge).

use crate::bytecode::{FnId, Program};

/// Counters of one run, indexed by function (and by instruction for loops).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// Calls of each function, `main`'s one included.
    pub calls: Vec<u64>,
    /// For each function, for each pc: how often the `loop` instruction there jumped
    /// back (0 at every other pc).
    pub back_edges: Vec<Vec<u64>>,
}

impl Profile {
    /// All-zero counters shaped like `program`.
    pub fn new(program: &Program) -> Profile {
        Profile {
            calls: vec![0; program.functions.len()],
            back_edges: program
                .functions
                .iter()
                .map(|f| vec![0; f.code.len()])
                .collect(),
        }
    }

    /// Counts one call of `func`.
    #[inline(always)]
    pub fn count_call(&mut self, func: FnId) {
        self.calls[func as usize] += 1;
    }

    /// Counts one trip round the loop whose `loop` instruction is at `pc` of `func`.
    #[inline(always)]
    pub fn count_back_edge(&mut self, func: FnId, pc: usize) {
        todo!("profile: count one trip of the back edge at `pc` of function `func` — book §1.16")
    }
}
