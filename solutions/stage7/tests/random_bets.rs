//! Native code under random bets: stage 5's tiers with stage 6's caches and an
//! optimizer that bets at random (`stage4::speculation::RandomBets`) — right bets and
//! wrong ones, branches pruned either way, calls inlined three deep, recursion
//! included — compiled at first sight, so almost every function runs optimized code
//! whose guards fail. Each program must print and end exactly as the interpreter
//! does, and never crash: a wrong frame state, a deopt stub that loses a register or
//! a frame count, or a table that names the wrong slot shows here as a wrong answer
//! or a signal. The profile-driven bets of the stage 7 engine are a subset of these.
//!
//! What it found when it was written: a field load forwarded past a guarded store of
//! the same field (GVN did not see through guards), and a loop whose frame
//! deoptimized, moved into compiled code again by OSR and deoptimized again without
//! end, each time one interpreter activation deeper on the native stack, until the
//! stack ran out (`sieve.mini`, thresholds 0: now bounded by stage 5's
//! `REOSR_LIMIT`).

use std::sync::Arc;

use jitlab_testkit::isolate::{self, Harness};
use jitlab_testkit::random;
use stage1::interp::tiering::Counters;
use stage1::interp::Interpreter;
use stage1::{Engine, Verified};
use stage4::deopt::Deoptimizer;
use stage4::speculation::{RandomBets, Speculation};
use stage5::hooks::Job;
use stage5::{Extension, Policy, Tiered};
use stage6::Caches;
use stage7_solution::engine::{Wrapped, Wrapper};

/// Stage 6's caches, and bets drawn from `seed` for every optimizing compile.
struct AtRandom {
    caches: Caches,
    seed: u64,
}

impl Wrapper for AtRandom {
    fn inner(&self) -> &dyn Extension {
        &self.caches
    }

    fn deoptimizer(&self) -> Option<&'static dyn Deoptimizer> {
        Some(&stage7_solution::deopt::DEOPTIMIZER)
    }

    fn speculation(
        &self,
        verified: &Verified,
        _counters: &Counters,
        job: &Job,
    ) -> Option<Box<dyn Speculation>> {
        // Each function's compiles bet alike; functions differ.
        let seed = self.seed ^ u64::from(job.func).wrapping_mul(0x9e37_79b9);
        Some(Box::new(RandomBets::new(verified, seed)))
    }
}

/// The engine: thresholds `n` (0: optimized from the second call), on the spot.
fn engine(seed: u64, n: u64) -> Tiered {
    Tiered::with_options(stage5::Options {
        policy: Policy::all(n),
        sync_compile: true,
        extension: Some(Arc::new(Wrapped(AtRandom {
            caches: Caches { caches: true },
            seed,
        }))),
        ..stage5::Options::default()
    })
}

/// Output and ending of a run, errors with their whole trace.
fn run(engine: &mut dyn Engine, program: &Verified) -> (String, String) {
    let mut out = Vec::new();
    let end = match engine.run(program, &mut out) {
        Ok(v) => v,
        Err(e) => format!("{} {:?}", e.kind.message(), e.trace),
    };
    (String::from_utf8_lossy(&out).into_owned(), end)
}

/// The program of `seed`, as `(name, source)`: odd seeds have objects.
fn program(seed: u64) -> (String, String) {
    if seed.is_multiple_of(2) {
        (format!("random-{seed}.mini"), random::program(seed))
    } else {
        (format!("objects-{seed}.mini"), random::object_program(seed))
    }
}

fn harness() -> Harness {
    isolate::install_panic_hook();
    Harness::new().describer(stage2::code_map::describe)
}

/// Checks `source` under bets from `seed` at thresholds 0 and 1.
fn agrees(name: &str, source: &str, seed: u64) -> Result<(), String> {
    let program = stage1::load::load_source(name, source).map_err(|e| e.to_string())?;
    let expected = run(&mut Interpreter::new(), &program);
    for n in [0, 1] {
        let actual = run(&mut engine(seed, n), &program);
        if actual != expected {
            return Err(format!(
                "{name} at thresholds {n}, bets from seed {seed}: got {actual:?}, \
                 the interpreter {expected:?}\n{source}"
            ));
        }
    }
    Ok(())
}

#[test]
fn random_programs_agree_under_random_bets() {
    let failures = harness().each(
        random::seed_count(300) as usize,
        |seed| program(seed as u64).0,
        |seed| {
            let (name, source) = program(seed as u64);
            agrees(&name, &source, seed as u64)
        },
    );
    assert!(failures.is_empty(), "{}", isolate::report(&failures));
}

#[test]
fn the_corpus_agrees_under_random_bets() {
    let dir = jitlab_testkit::programs_dir(env!("CARGO_MANIFEST_DIR"));
    let programs = jitlab_testkit::corpus::runnable(&dir, 10);
    let failures = harness().each(
        programs.len(),
        |k| programs[k].name.clone(),
        |k| (1..=3).try_for_each(|seed| agrees(&programs[k].name, &programs[k].source, seed)),
    );
    assert!(failures.is_empty(), "{}", isolate::report(&failures));
}
