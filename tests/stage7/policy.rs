//! The recompilation policy by itself (`stage7::policy`): what each deopt counts, when
//! a bet is dropped, how long a function waits before it is optimized again, and when
//! it stops betting. The engine's events show the same decisions on whole programs
//! (`designed.rs`); here each one is checked at its edge.

use stage7::policy::{Bet, DeoptPolicy, DROP_AFTER, MAX_RECOMPILES, NO_FEEDBACK, STRESS};

/// A guard of function 1 at pc 4.
const BRANCH: Bet = Bet {
    func: 1,
    pc: 4,
    reason: "branch",
};

/// The same guard failing under stress.
const STRESSED: Bet = Bet {
    reason: STRESS,
    ..BRANCH
};

#[test]
fn the_policy_s_constants_are_the_book_s() {
    assert_eq!(DROP_AFTER, 2);
    assert_eq!(MAX_RECOMPILES, 5);
    assert_eq!(STRESS, "stress");
    assert_eq!(NO_FEEDBACK, "no feedback");
}

#[test]
fn a_bet_is_dropped_at_its_second_failure_not_its_first() {
    let mut p = DeoptPolicy::new(2, 10);
    p.deopt(0, BRANCH);
    assert!(!p.is_dropped(&BRANCH), "one failure may be a phase change");
    let first = p.compiling(0).expect("the deopt invalidated the code");
    assert_eq!(first.dropped, vec![], "nothing dropped after one failure");
    p.deopt(0, BRANCH);
    assert!(p.is_dropped(&BRANCH), "two failures drop the bet");
    let second = p.compiling(0).expect("invalidated again");
    assert_eq!(second.dropped, vec![BRANCH]);
    assert_eq!(p.dropped().iter().copied().collect::<Vec<_>>(), [BRANCH]);
}

#[test]
fn guards_are_told_apart_by_function_pc_and_reason() {
    let mut p = DeoptPolicy::new(3, 1);
    p.deopt(0, BRANCH);
    for other in [
        Bet { pc: 5, ..BRANCH },
        Bet { func: 2, ..BRANCH },
        Bet {
            reason: "overflow",
            ..BRANCH
        },
    ] {
        p.deopt(0, other);
    }
    assert!(p.dropped().is_empty(), "{:?}", p.dropped());
    let f = &p.functions()[0];
    assert_eq!(f.total(), 4);
    assert_eq!(f.deopts.get("branch"), Some(&3));
    assert_eq!(f.deopts.get("overflow"), Some(&1));
}

#[test]
fn stress_deopts_never_drop_a_bet() {
    let mut p = DeoptPolicy::new(1, 1);
    for _ in 0..10 {
        p.deopt(0, STRESSED);
        p.compiling(0);
    }
    assert_eq!(p.failures(&STRESSED), 10);
    assert!(p.dropped().is_empty(), "{:?}", p.dropped());
    assert_eq!(p.functions()[0].deopts.get(STRESS), Some(&10));
}

#[test]
fn the_wait_before_a_recompile_doubles_each_time() {
    let mut p = DeoptPolicy::new(1, 100);
    let mut waits = Vec::new();
    for _ in 0..4 {
        waits.push(p.deopt(0, STRESSED));
        p.compiling(0);
    }
    assert_eq!(waits, [100, 200, 400, 800]);
}

#[test]
fn after_five_recompiles_a_function_stops_betting() {
    let mut p = DeoptPolicy::new(2, 1);
    assert_eq!(p.compiling(0), None, "a first compile is no recompile");
    let mut seen = Vec::new();
    for _ in 0..7 {
        p.deopt(0, STRESSED);
        let r = p.compiling(0).expect("each deopt invalidates");
        seen.push((r.count, r.speculating));
    }
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
    assert!(!p.speculating(0));
    assert!(p.speculating(1), "another function still bets");
}

/// A field site of function 1 that had never run, reached (a soft deopt).
const UNREACHED: Bet = Bet {
    func: 1,
    pc: 9,
    reason: NO_FEEDBACK,
};

#[test]
fn a_soft_deopt_waits_the_base_and_its_recompile_is_a_refill() {
    let mut p = DeoptPolicy::new(1, 100);
    // Two lost bets first: the wait has doubled once.
    for _ in 0..2 {
        p.deopt(0, STRESSED);
        p.compiling(0);
    }
    // Then soft deopts, each at another site: counted, the code out of use, but the
    // wait stays the base, no failure is counted, and the function keeps betting
    // long past MAX_RECOMPILES compiles.
    let mut counts = Vec::new();
    for k in 0..MAX_RECOMPILES + 2 {
        let site = Bet {
            pc: 9 + k as usize,
            ..UNREACHED
        };
        assert_eq!(p.deopt(0, site), 100, "soft deopt {k}");
        assert_eq!(p.failures(&site), 0);
        let r = p.compiling(0).expect("a soft deopt invalidates too");
        assert!(r.speculating, "soft deopt {k}");
        counts.push(r.count);
    }
    assert_eq!(counts, (4..4 + MAX_RECOMPILES + 2).collect::<Vec<_>>());
    let f = &p.functions()[0];
    assert_eq!((f.recompiles, f.refills), (2, MAX_RECOMPILES + 2));
    assert_eq!(
        f.deopts.get(NO_FEEDBACK),
        Some(&u64::from(MAX_RECOMPILES + 2))
    );
    // A lost bet doubles on from where the lost bets left it.
    assert_eq!(p.deopt(0, STRESSED), 400);
}

#[test]
fn a_soft_deopt_after_a_lost_bet_waits_as_the_lost_bet_does() {
    let mut p = DeoptPolicy::new(1, 100);
    p.deopt(0, STRESSED);
    p.compiling(0);
    // A lost bet, then a soft deopt (another frame of the same code) before the
    // recompile: the soft one does not shorten the wait, and the recompile counts.
    assert_eq!(p.deopt(0, STRESSED), 200);
    assert_eq!(p.deopt(0, UNREACHED), 200);
    let r = p.compiling(0).expect("invalidated");
    assert_eq!(r.count, 3);
    assert_eq!(p.functions()[0].recompiles, 2);
    assert_eq!(p.functions()[0].refills, 0);
}
