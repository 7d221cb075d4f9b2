//! Helpers shared by the suite: loading programs, running them on the interpreter and
//! on the tiered engine under the configurations that make every mix of tiers happen
//! (`tests/common/engine_run.rs`, shared with the stage 3 and 4 suites, does the
//! loading, running and isolation).
//!
//! Every test that runs generated code does it through [`isolated`] or [`harness`]
//! (`jitlab_testkit::isolate`): in a child process with a timeout, so that a crash or
//! a hang in the learner's code fails that test alone.

#[path = "../common/engine_run.rs"]
#[allow(dead_code)]
mod engine_run;

use stage1::interp::Interpreter;
use stage1::{Engine, Event, Verified};
use stage5::{Options, Policy, Tiered};

pub use engine_run::{
    harness, isolated, load_verified as load, program_label, programs_dir, run_on, Run,
};

/// One way to run the tiered engine: thresholds and compile mode.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// How failure reports name it.
    pub name: &'static str,
    /// The engine's options for a program (`seed` picks random thresholds).
    pub options: fn(&Verified, u64) -> Options,
}

/// Thresholds `n` everywhere.
fn all(n: u64, sync: bool) -> Options {
    Options {
        policy: Policy::all(n),
        sync_compile: sync,
        ..Options::default()
    }
}

/// A small random threshold (mostly tiny, so that tiers change within a short
/// program; sometimes big, so that some functions stay put).
fn threshold(state: &mut u64) -> u64 {
    // SplitMix64: a fixed sequence per seed.
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    match z % 8 {
        0 => 0,
        1 => 1,
        2..=5 => 2 + z % 7,
        6 => 10 + z % 40,
        _ => 1_000_000,
    }
}

/// Per-function random thresholds from `seed`: each function its own four.
pub fn random_policies(verified: &Verified, seed: u64) -> Vec<Policy> {
    let mut state = seed ^ 0x5745_5f53_5441_4745;
    (0..verified.program().functions.len())
        .map(|_| Policy {
            calls: threshold(&mut state),
            loops: threshold(&mut state),
            opt_calls: threshold(&mut state),
            opt_loops: threshold(&mut state),
        })
        .collect()
}

/// Every configuration the differential tests run.
pub const CONFIGS: [Config; 7] = [
    Config {
        name: "thresholds 0, sync",
        options: |_, _| all(0, true),
    },
    Config {
        name: "thresholds 1, sync",
        options: |_, _| all(1, true),
    },
    Config {
        name: "thresholds 0, background",
        options: |_, _| all(0, false),
    },
    Config {
        name: "default thresholds, sync",
        options: |_, _| Options {
            sync_compile: true,
            ..Options::default()
        },
    },
    Config {
        name: "default thresholds, background",
        options: |_, _| Options::default(),
    },
    Config {
        name: "random thresholds per function, sync",
        options: |v, seed| Options {
            per_function: random_policies(v, seed),
            sync_compile: true,
            ..Options::default()
        },
    },
    Config {
        name: "random thresholds per function, background",
        options: |v, seed| Options {
            per_function: random_policies(v, seed),
            ..Options::default()
        },
    },
];

/// Runs `program` on a tiered engine with `options`.
pub fn tiered(program: &Verified, options: Options) -> (Run, Tiered) {
    let mut engine = Tiered::with_options(options);
    let run = run_on(&mut engine, program);
    (run, engine)
}

/// Runs `source` on the interpreter and on the tiered engine under each of
/// `configs`: `Err` with a report naming the first configuration that differs in
/// output, result or error (with its whole trace).
pub fn differential_in(
    name: &str,
    source: &str,
    seed: u64,
    configs: &[Config],
) -> Result<(), String> {
    let program = load(name, source);
    let expected = run_on(&mut Interpreter::new(), &program);
    for config in configs {
        let (actual, _) = tiered(&program, (config.options)(&program, seed));
        if expected.output != actual.output || expected.result != actual.result {
            let mut report =
                jitlab_testkit::describe(name, source, &expected.outcome(), &actual.outcome());
            report.push_str(&format!("--- under {} (seed {seed}) ---\n", config.name));
            report.push_str(
                &pretty_assertions::Comparison::new(&expected.result, &actual.result).to_string(),
            );
            return Err(report);
        }
    }
    Ok(())
}

/// [`differential_in`] under every configuration.
pub fn differential(name: &str, source: &str, seed: u64) -> Result<(), String> {
    differential_in(name, source, seed, &CONFIGS)
}

/// The tier-ups and OSR entries of a run, one line each, in order:
/// `fib: interpreter -> baseline (calls 100)`, `osr main at 4: interpreter -> baseline`.
pub fn tiering_events(engine: &Tiered) -> Vec<String> {
    engine
        .stats()
        .events
        .iter()
        .filter_map(|e| match e {
            Event::TierUp {
                function,
                from,
                to,
                trigger,
                count,
                ..
            } => Some(format!("{function}: {from} -> {to} ({trigger} {count})")),
            Event::Osr {
                function,
                pc,
                from,
                to,
            } => Some(format!("osr {function} at {pc}: {from} -> {to}")),
            _ => None,
        })
        .collect()
}

/// Options with `policy`, compiling on the spot.
pub fn sync(policy: &str) -> Options {
    Options {
        policy: policy.parse().expect("a policy"),
        sync_compile: true,
        ..Options::default()
    }
}
