//! Seeded random programs (`jitlab_testkit::random`): each must load and run to an
//! end, a value or a runtime error, without a panic. `JITLAB_RANDOM=N` runs N seeds
//! instead of the default.

use jitlab_testkit::random;
use stage1::ErrorKind;

use super::common::{harness, outcome, run_verified};

/// Seeds run by default; the later stages compare their engines on these same seeds.
const DEFAULT_SEEDS: u64 = 300;

fn seeds() -> u64 {
    random::seed_count(DEFAULT_SEEDS)
}

#[test]
fn random_programs_load_and_run_to_a_value_or_a_runtime_error() {
    if harness().this_test() {
        return;
    }
    let mut finished = 0;
    let mut errors = std::collections::BTreeMap::<&str, u32>::new();
    for seed in 0..seeds() {
        let source = random::program(seed);
        let name = format!("random-{seed}.mini");
        let verified = stage1::load::load_source(&name, &source)
            .unwrap_or_else(|e| panic!("seed {seed} does not load: {e}\n{source}"));
        let run = run_verified(&verified);
        match &run.result {
            Ok(_) => finished += 1,
            Err(e) => {
                assert_ne!(e.kind, ErrorKind::Output, "seed {seed}");
                assert!(!e.trace.is_empty(), "seed {seed}: an error without a trace");
                *errors.entry(e.kind.message()).or_default() += 1;
            }
        }
    }
    // Variety: most programs run to the end, some fail in several ways.
    if seeds() >= DEFAULT_SEEDS {
        let total = seeds() as u32;
        assert!(finished * 2 > total, "only {finished} of {total} finished");
        assert!(errors.len() >= 3, "too few kinds of errors: {errors:?}");
    }
}

#[test]
fn a_random_program_gives_the_same_outcome_every_time() {
    if harness().this_test() {
        return;
    }
    for seed in 0..20 {
        let source = random::program(seed);
        let name = format!("random-{seed}.mini");
        assert_eq!(
            outcome(&name, &source),
            outcome(&name, &source),
            "seed {seed}"
        );
    }
}
