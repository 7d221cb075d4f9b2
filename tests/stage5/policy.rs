//! The policy: thresholds from `--tier-up` text, and the budgets of each tier.

use stage5::{Policy, Tier};

#[test]
fn the_default_thresholds_are_the_tuned_ones() {
    // The for the baseline tier, the optimizer's raised on the benches
    // (book, chapter 5).
    let p = Policy::default();
    assert_eq!(
        (p.calls, p.loops, p.opt_calls, p.opt_loops),
        (100, 1000, 5000, 20000)
    );
}

#[test]
fn each_tier_has_its_call_budget() {
    let p: Policy = "calls=3,opt-calls=7".parse().unwrap();
    assert_eq!(p.call_budget(Tier::Interpreter), 3);
    assert_eq!(p.call_budget(Tier::Baseline), 7);
    assert_eq!(p.call_budget(Tier::Optimized), i64::MAX);
    assert_eq!(Policy::all(0).call_budget(Tier::Interpreter), 1);
}
