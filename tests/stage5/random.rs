//! Seeded random programs (`jitlab_testkit::random`): each gives the same output,
//! result and error under the tiered engine as under the interpreter, under every
//! configuration of `common::CONFIGS` (thresholds 0 and 1, the defaults, random
//! thresholds per function; on the spot and in the background). `JITLAB_RANDOM=N`
//! runs N seeds instead of the default.

use jitlab_testkit::{isolate, random};

use super::common::{differential, harness, program_label};

/// Seeds run by default (the issue asks for at least 2,000).
const DEFAULT_SEEDS: u64 = 2_000;

#[test]
fn random_programs_agree_with_the_interpreter_under_every_threshold() {
    let name = |seed: usize| format!("random-{seed}.mini");
    let failures = harness().each(
        random::seed_count(DEFAULT_SEEDS) as usize,
        |seed| program_label(&name(seed), &random::program(seed as u64)),
        |seed| differential(&name(seed), &random::program(seed as u64), seed as u64),
    );
    assert!(
        failures.is_empty(),
        "random programs differ under the tiered engine (first {} shown):\n\n{}",
        failures.len(),
        isolate::report(&failures)
    );
}
