//! Seeded programs that change behaviour after warm-up (`jitlab_testkit::phased`):
//! a hot loop runs tens of thousands of trips on one behaviour, long enough for
//! optimized code at the default thresholds to bet on it, then its sites meet
//! something else (an integer turned into an array, object or function, a late
//! overflow, a branch first taken, a new shape or a missing field, a new call
//! target or the wrong arity, an index out of bounds, a division by zero, a deep
//! recursion), often inside an inlined callee, with prints between the phases.
//! Each gives the same output, result and error (the whole trace) under the stage 7
//! engine as under the interpreter, at thresholds 0, 1 and the defaults, compiling
//! on the spot and in the background, and under a stress mode. `JITLAB_PHASED=N`
//! runs N seeds instead of the default.

use jitlab_testkit::{isolate, phased};

use super::common::{
    differential_in, harness, program_label, Config, Stressing, Thresholds, STRESS,
};

/// Seeds run by default: each program runs some 30,000 trips eight times (the
/// interpreter and seven configurations), so a few hundred keep the suite cheap;
/// thousands are run on demand.
const DEFAULT_SEEDS: u64 = 200;

/// Thresholds 0, 1 and the defaults, each compiling on the spot and in the
/// background (as `jitlab run` does), without stress: the programs lose their bets
/// by themselves; and the defaults on the spot with one of the stress modes (turning
/// from seed to seed), so that guards fail at other places of the warm code too.
fn configs(seed: u64) -> Vec<Config> {
    let mut configs: Vec<Config> = [Thresholds::Zero, Thresholds::One, Thresholds::Default]
        .into_iter()
        .flat_map(|t| [true, false].map(|sync| Config::new((t, sync), Stressing::Off)))
        .collect();
    let stress = STRESS[(seed % STRESS.len() as u64) as usize];
    configs.push(Config::new((Thresholds::Default, true), stress));
    configs
}

#[test]
fn programs_that_change_after_warm_up_agree_with_the_interpreter() {
    let name = |seed: usize| format!("phased-{seed}.mini");
    let failures = harness().each(
        phased::seed_count(DEFAULT_SEEDS) as usize,
        |seed| program_label(&name(seed), &phased::program(seed as u64)),
        |seed| {
            differential_in(
                &name(seed),
                &phased::program(seed as u64),
                seed as u64,
                &configs(seed as u64),
            )
        },
    );
    assert!(
        failures.is_empty(),
        "programs that change after warm-up differ under the stage 7 engine (first {} \
         shown):\n\n{}",
        failures.len(),
        isolate::report(&failures)
    );
}
