//! Helpers shared by the suite: loading programs, running them on the interpreter and
//! on the stage 6 engine (stage 5's tiers with shapes and inline caches) with and
//! without its caches, at thresholds 0, 1 and the defaults, and reading the caches'
//! transitions out of the run's events. `tests/common/engine_run.rs`, shared with the
//! earlier suites, does the loading, running and isolation.
//!
//! Every test that runs generated code does it through [`isolated`] or [`harness`]
//! (`jitlab_testkit::isolate`): in a child process with a timeout, so that a crash or
//! a hang in the learner's code fails that test alone.

#[path = "../common/engine_run.rs"]
#[allow(dead_code)]
mod engine_run;

use stage1::heap::DEFAULT_HEAP_LIMIT;
use stage1::interp::Interpreter;
use stage1::{Engine, Event, Verified};
use stage5::Policy;
use stage6::{Cached, Options};

pub use engine_run::{
    harness, isolated, load_verified as load, program_label, programs_dir, run_on, Run,
};

/// One way to run the stage 6 engine: thresholds, compile mode, caches on or off.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// How failure reports name it.
    pub name: &'static str,
    /// The engine's options.
    pub options: fn() -> Options,
}

/// Thresholds `n` everywhere, compiling on the spot (`sync`) or in the background.
fn all(n: u64, sync: bool, caches: bool) -> Options {
    Options {
        tiered: stage5::Options {
            policy: Policy::all(n),
            sync_compile: sync,
            ..stage5::Options::default()
        },
        caches,
    }
}

/// The default thresholds, compiling on the spot (`sync`) or in the background.
fn default(sync: bool, caches: bool) -> Options {
    Options {
        tiered: stage5::Options {
            sync_compile: sync,
            ..stage5::Options::default()
        },
        caches,
    }
}

/// The configurations with the caches on: thresholds 0 (everything compiled at first
/// sight, optimized code from the second call), 1, and the defaults (short programs
/// stay in the interpreter, whose sites use the caches too).
pub const CACHED: [Config; 4] = [
    Config {
        name: "thresholds 0, sync, caches",
        options: || all(0, true, true),
    },
    Config {
        name: "thresholds 1, sync, caches",
        options: || all(1, true, true),
    },
    Config {
        name: "thresholds 1, background, caches",
        options: || all(1, false, true),
    },
    Config {
        name: "default thresholds, background, caches",
        options: || default(false, true),
    },
];

/// The same with every cache off (`--no-ic`): shapes, but no cache and no fast path.
pub const UNCACHED: [Config; 3] = [
    Config {
        name: "thresholds 0, sync, no caches",
        options: || all(0, true, false),
    },
    Config {
        name: "thresholds 1, background, no caches",
        options: || all(1, false, false),
    },
    Config {
        name: "default thresholds, sync, no caches",
        options: || default(true, false),
    },
];

/// Every configuration the differential tests run.
pub fn configs() -> Vec<Config> {
    CACHED.iter().chain(&UNCACHED).copied().collect()
}

/// Runs `program` on a stage 6 engine with `options`.
pub fn cached(program: &Verified, options: Options) -> (Run, Cached) {
    let mut engine = Cached::with_options(options);
    let run = run_on(&mut engine, program);
    (run, engine)
}

/// Runs `source` on the interpreter and on the stage 6 engine under each of
/// `configs`: `Err` with a report naming the first configuration that differs in
/// output, result or error (with its whole trace).
pub fn differential_in(name: &str, source: &str, configs: &[Config]) -> Result<(), String> {
    differential_limited(name, source, configs, DEFAULT_HEAP_LIMIT)
}

/// [`differential_in`] with a heap of `heap_limit` bytes, in the interpreter and the
/// engine alike (`out of memory` must come at the same allocation).
pub fn differential_limited(
    name: &str,
    source: &str,
    configs: &[Config],
    heap_limit: usize,
) -> Result<(), String> {
    let program = load(name, source);
    let mut interpreter = Interpreter::with_options(stage1::interp::Options {
        heap_limit,
        ..stage1::interp::Options::default()
    });
    let expected = run_on(&mut interpreter, &program);
    for config in configs {
        let mut options = (config.options)();
        options.tiered.heap_limit = heap_limit;
        let (actual, _) = cached(&program, options);
        if expected.output != actual.output || expected.result != actual.result {
            let mut report =
                jitlab_testkit::describe(name, source, &expected.outcome(), &actual.outcome());
            report.push_str(&format!("--- under {} ---\n", config.name));
            report.push_str(
                &pretty_assertions::Comparison::new(&expected.result, &actual.result).to_string(),
            );
            return Err(report);
        }
    }
    Ok(())
}

/// [`differential_in`] under every configuration.
pub fn differential(name: &str, source: &str) -> Result<(), String> {
    differential_in(name, source, &configs())
}

/// One cache transition of a run: at the site of `name` (a field, or `call`) on
/// source line `line` of `function`, from state `from` to `to`, on seeing `seen` (a
/// shape, or the function called).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub function: String,
    pub line: u32,
    pub name: String,
    pub from: String,
    pub to: String,
    pub seen: String,
}

/// The cache transitions of the engine's last run, in order.
pub fn transitions(engine: &Cached) -> Vec<Transition> {
    engine
        .stats()
        .events
        .iter()
        .filter_map(|e| match e {
            Event::IcTransition {
                function,
                line,
                name,
                from,
                to,
                seen,
                ..
            } => Some(Transition {
                function: function.clone(),
                line: *line,
                name: name.clone(),
                from: from.to_string(),
                to: to.to_string(),
                seen: seen.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// The transitions at the site of `name` on line `line` of `function`.
pub fn at(engine: &Cached, function: &str, line: u32, name: &str) -> Vec<Transition> {
    transitions(engine)
        .into_iter()
        .filter(|t| t.function == function && t.line == line && t.name == name)
        .collect()
}

/// The states a site went through, from its first: `uninitialized`, then each new
/// state it moved to (a transition that keeps the state, a polymorphic cache taking
/// one more shape, is not a new state).
pub fn states(transitions: &[Transition]) -> Vec<String> {
    let mut states: Vec<String> = transitions.iter().take(1).map(|t| t.from.clone()).collect();
    for t in transitions {
        if states.last() != Some(&t.to) {
            states.push(t.to.clone());
        }
    }
    states
}

/// Runs `source` under each of `configs` (and the interpreter, which must agree),
/// and calls `check` with each run and its engine, naming the configuration.
pub fn each_config(source: &str, configs: &[Config], mut check: impl FnMut(&str, &Run, &Cached)) {
    if let Err(report) = differential_in("test.mini", source, configs) {
        panic!("{report}");
    }
    let program = load("test.mini", source);
    for config in configs {
        let (run, engine) = cached(&program, (config.options)());
        check(config.name, &run, &engine);
    }
}
