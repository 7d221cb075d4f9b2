//! Seeded programs that change behaviour after warm-up (`jitlab_testkit::phased`):
//! a hot loop runs tens of thousands of trips, long enough to reach optimized code
//! at the default thresholds with its caches warm, then its field sites meet new
//! shapes, missing fields and values that are no objects, its `call_value` sites new
//! targets (going polymorphic and megamorphic), and its other sites other values,
//! bounds and divisors. Each gives the same output, result and error under the stage
//! 6 engine as under the interpreter, with and without caches, at thresholds 0, 1 and
//! the defaults. `JITLAB_PHASED=N` runs N seeds instead of the default.

use jitlab_testkit::{isolate, phased};

use super::common::{differential, harness, program_label};

/// Seeds run by default: each program runs some 30,000 trips eight times, so a
/// hundred keep the suite cheap; thousands are run on demand.
const DEFAULT_SEEDS: u64 = 100;

#[test]
fn programs_that_change_after_warm_up_agree_with_the_interpreter() {
    let name = |seed: usize| format!("phased-{seed}.mini");
    let failures = harness().each(
        phased::seed_count(DEFAULT_SEEDS) as usize,
        |seed| program_label(&name(seed), &phased::program(seed as u64)),
        |seed| differential(&name(seed), &phased::program(seed as u64)),
    );
    assert!(
        failures.is_empty(),
        "programs that change after warm-up differ under the stage 6 engine (first {} \
         shown):\n\n{}",
        failures.len(),
        isolate::report(&failures)
    );
}
