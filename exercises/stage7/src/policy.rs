//! The recompilation policy: what a run learns from its deopts. Each deopt is counted
//! per function (by reason) and per guard ([`Bet`]: the guard's function, pc and
//! reason); each one takes the code that bet wrong out of use; the function is
//! optimized again later, without the bets that keep failing, and after too many
//! recompiles without any bet at all. This is what keeps a program whose profile
//! lied from looping between optimizing and deoptimizing: V8 counts deopts per
//! function and stops optimizing past a limit; HotSpot counts "traps" per bytecode
//! and per reason, and recompiles without the failing speculation.
//!
//! - A bet is **dropped** once its guard has failed [`DROP_AFTER`] times (twice): the
//!   first failure may be a phase change the profile will catch up with, the second
//!   says the bet is wrong. A `"stress"` deopt ([`STRESS`]) says nothing about the
//!   bet and never drops it.
//! - **Back-off**: the function waits `base` calls before its first recompile, and
//!   twice as many before each one after it.
//! - **Giving up**: after [`MAX_RECOMPILES`] recompiles, the function is compiled
//!   without speculation (stage 4's code, which never deoptimizes).
//! - **Soft deopts**: a deopt for [`NO_FEEDBACK`] (code reached that had never run
//!   when it was compiled) says the profile was young, not that a bet was wrong.
//!   It takes the code out of use like any other, so that the function is compiled
//!   again with what the interpreter now records there; but it counts no failure
//!   against a bet, its wait is `base`, and the recompile after it is a *refill*,
//!   not counted toward [`MAX_RECOMPILES`] — unless a bet was lost since the last
//!   compile too. There are at most as many as the function has field sites: a site
//!   once reached is never bet unreached again.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use stage1::FnId;
pub use stage4::ir::NO_FEEDBACK;

/// Failures of one guard after which its bet is dropped.
pub const DROP_AFTER: u32 = 2;

/// Recompiles of a function that still bet; the next one bets nothing.
pub const MAX_RECOMPILES: u32 = 5;

/// The reason of a deopt forced by stress testing (`crate::stress`).
pub const STRESS: &str = "stress";

/// One guard of the program, as its deopts name it: the function it checks in (the
/// optimized function, or one inlined into it), the pc its frame resumes at, and
/// why it fails. A bet the optimizer makes is dropped by naming its guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bet {
    /// The function the guard checks in.
    pub func: FnId,
    /// The pc its innermost frame resumes at (the instruction for a check, the one
    /// after it for a value that entered: see `stage4::ir::Guard`).
    pub pc: usize,
    /// Why it fails (`stage4::ir::Guard::reason`).
    pub reason: &'static str,
}

/// What a run learned of one function's deopts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionDeopts {
    /// Its optimized code's deopts, by reason.
    pub deopts: BTreeMap<&'static str, u64>,
    /// Times it was optimized again after a deopt that lost a bet.
    pub recompiles: u32,
    /// Times it was optimized again after soft deopts only ([`NO_FEEDBACK`]).
    pub refills: u32,
    /// A deopt since its last compile lost a bet (was not a soft one).
    pub lost: bool,
    /// Its next (or last) optimizing compile may bet.
    pub speculating: bool,
    /// Its code was taken out of use, and it was not compiled again since.
    pub invalidated: bool,
    /// Bets dropped since it was last compiled (by its deopts), for the
    /// `Recompiled` event.
    pub dropped: Vec<Bet>,
}

impl Default for FunctionDeopts {
    fn default() -> FunctionDeopts {
        FunctionDeopts {
            deopts: BTreeMap::new(),
            recompiles: 0,
            refills: 0,
            lost: false,
            speculating: true,
            invalidated: false,
            dropped: Vec::new(),
        }
    }
}

impl FunctionDeopts {
    /// Its deopts, all reasons together.
    pub fn total(&self) -> u64 {
        self.deopts.values().sum()
    }
}

/// A recompilation of a function that deoptimized: its number, the bets dropped
/// since its last compile, and whether it still bets (for `Event::Recompiled`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recompile {
    /// The function's optimizing compile this is: 2 for the first recompile.
    pub count: u32,
    /// The bets dropped since the last compile.
    pub dropped: Vec<Bet>,
    /// It still bets (`false`: it gave up).
    pub speculating: bool,
}

/// The deopt counts and decisions of one run.
#[derive(Clone, Debug)]
pub struct DeoptPolicy {
    /// Calls a function waits before its first recompile.
    base: i64,
    /// By function index.
    functions: Vec<FunctionDeopts>,
    /// Failures of each guard.
    failures: HashMap<Bet, u32>,
    /// The bets dropped for the rest of the run.
    dropped: BTreeSet<Bet>,
}

impl DeoptPolicy {
    /// The policy of a run of a program of `functions` functions, whose functions
    /// wait `base` calls (at least 1) before their first recompile.
    pub fn new(functions: usize, base: i64) -> DeoptPolicy {
        DeoptPolicy {
            base: base.max(1),
            functions: vec![FunctionDeopts::default(); functions],
            failures: HashMap::new(),
            dropped: BTreeSet::new(),
        }
    }

    /// Optimized code of `func` deoptimized at the guard of `bet`: counts it, and
    /// decides what the function's next compile is. The code is always taken out of
    /// use; gives the calls the function waits before it is optimized again.
    pub fn deopt(&mut self, func: FnId, bet: Bet) -> i64 {
        let f = &mut self.functions[func as usize];
        *f.deopts.entry(bet.reason).or_insert(0) += 1;
        f.invalidated = true;
        if bet.reason == NO_FEEDBACK && !f.lost {
            // A soft deopt: no bet lost, and the recompile it leads to is no
            // failure (unless a lost bet's deopt comes before it).
            return self.base;
        }
        f.lost = true;
        todo!(
            "recompile-decision: count the guard's failure, drop its bet at the DROP_AFTER-th (never for a stress deopt), say whether the next compile still bets (not after MAX_RECOMPILES recompiles), and give the wait: base, doubled per recompile so far — book §7.11"
        )
    }

    /// `func` is being optimized (its job queued): the recompilation it is, if its
    /// code was taken out of use since its last compile (`None`: a first compile, or
    /// another variant of the same one).
    pub fn compiling(&mut self, func: FnId) -> Option<Recompile> {
        let f = &mut self.functions[func as usize];
        if !f.invalidated {
            return None;
        }
        f.invalidated = false;
        if std::mem::take(&mut f.lost) {
            f.recompiles += 1;
        } else {
            f.refills += 1;
        }
        Some(Recompile {
            count: f.recompiles + f.refills + 1,
            dropped: std::mem::take(&mut f.dropped),
            speculating: f.speculating,
        })
    }

    /// Whether `func`'s next compile may bet at all.
    pub fn speculating(&self, func: FnId) -> bool {
        self.functions[func as usize].speculating
    }

    /// Whether the bet of `bet`'s guard was dropped.
    pub fn is_dropped(&self, bet: &Bet) -> bool {
        self.dropped.contains(bet)
    }

    /// Every bet dropped so far, in order.
    pub fn dropped(&self) -> &BTreeSet<Bet> {
        &self.dropped
    }

    /// Failures of `bet`'s guard so far.
    pub fn failures(&self, bet: &Bet) -> u32 {
        self.failures.get(bet).copied().unwrap_or(0)
    }

    /// What the run learned of each function's deopts, by function index.
    pub fn functions(&self) -> &[FunctionDeopts] {
        &self.functions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BRANCH: Bet = Bet {
        func: 1,
        pc: 4,
        reason: "branch",
    };

    #[test]
    fn a_bet_is_dropped_at_its_second_failure_not_its_first() {
        let mut p = DeoptPolicy::new(2, 10);
        p.deopt(0, BRANCH);
        assert!(!p.is_dropped(&BRANCH));
        assert_eq!(p.failures(&BRANCH), 1);
        assert_eq!(p.compiling(0).unwrap().dropped, vec![]);
        p.deopt(0, BRANCH);
        assert!(p.is_dropped(&BRANCH));
        assert_eq!(p.compiling(0).unwrap().dropped, vec![BRANCH]);
        // Dropped once: a third failure (of older code still running) names it no
        // more.
        p.deopt(0, BRANCH);
        assert_eq!(p.compiling(0).unwrap().dropped, vec![]);
        assert_eq!(p.dropped().iter().copied().collect::<Vec<_>>(), [BRANCH]);
    }

    #[test]
    fn guards_are_told_apart_by_function_pc_and_reason() {
        let mut p = DeoptPolicy::new(3, 1);
        let others = [
            Bet { pc: 5, ..BRANCH },
            Bet { func: 2, ..BRANCH },
            Bet {
                reason: "overflow",
                ..BRANCH
            },
        ];
        p.deopt(0, BRANCH);
        for b in others {
            p.deopt(0, b);
        }
        assert!(p.dropped().is_empty(), "{:?}", p.dropped());
        assert_eq!(p.functions()[0].total(), 4);
        assert_eq!(p.functions()[0].deopts.get("branch"), Some(&3));
        assert_eq!(p.functions()[0].deopts.get("overflow"), Some(&1));
    }

    #[test]
    fn stress_deopts_never_drop_a_bet() {
        let mut p = DeoptPolicy::new(1, 1);
        let stress = Bet {
            reason: STRESS,
            ..BRANCH
        };
        for _ in 0..10 {
            p.deopt(0, stress);
        }
        assert_eq!(p.failures(&stress), 10);
        assert!(p.dropped().is_empty());
        assert_eq!(p.functions()[0].deopts.get(STRESS), Some(&10));
    }

    #[test]
    fn the_wait_doubles_per_recompile() {
        let mut p = DeoptPolicy::new(1, 100);
        let mut waits = Vec::new();
        for _ in 0..4 {
            waits.push(p.deopt(0, BRANCH));
            // Two deopts before a recompile (stale frames) wait the same.
            assert_eq!(p.deopt(0, BRANCH), *waits.last().unwrap());
            p.compiling(0);
        }
        assert_eq!(waits, [100, 200, 400, 800]);
        let mut big = DeoptPolicy::new(1, i64::MAX / 2);
        for _ in 0..3 {
            big.deopt(0, BRANCH);
            big.compiling(0);
        }
        assert_eq!(big.deopt(0, BRANCH), i64::MAX, "the wait saturates");
    }

    #[test]
    fn after_five_recompiles_the_function_stops_betting() {
        let mut p = DeoptPolicy::new(2, 1);
        let mut events = Vec::new();
        assert!(p.speculating(0));
        assert_eq!(p.compiling(0), None, "a first compile is no recompile");
        for _ in 0..7 {
            p.deopt(
                0,
                Bet {
                    reason: STRESS,
                    ..BRANCH
                },
            );
            events.push(p.compiling(0).unwrap());
        }
        let seen: Vec<(u32, bool)> = events.iter().map(|r| (r.count, r.speculating)).collect();
        assert_eq!(
            seen,
            [
                (2, true),
                (3, true),
                (4, true),
                (5, true),
                (6, true),
                (7, false),
                (8, false)
            ]
        );
        assert_eq!(p.functions()[0].recompiles, 7);
        assert!(p.speculating(1), "another function still bets");
        assert_eq!(p.compiling(0), None, "compiled, not invalidated since");
    }
}
