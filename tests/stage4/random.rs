//! Seeded random programs (`jitlab_testkit::random`): each gives the same output,
//! result and error under the optimizing JIT as under the interpreter. `JITLAB_RANDOM=N` runs N
//! seeds instead of the default.

use super::common::assert_random_programs_agree;

/// Seeds run by default (the issue asks for at least 2,000).
const DEFAULT_SEEDS: u64 = 2_000;

#[test]
fn random_programs_agree_with_the_interpreter() {
    assert_random_programs_agree(DEFAULT_SEEDS);
}
