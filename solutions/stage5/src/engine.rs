//! The stage 5 engine (placeholder while the tiers' pieces land).

use std::io::Write;

use stage1::heap::DEFAULT_HEAP_LIMIT;
use stage1::{Engine, RuntimeError, Stats, Verified};

use crate::policy::Policy;
use crate::record::FunctionRecord;

/// How a [`Tiered`] engine runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// When functions move up a tier.
    pub policy: Policy,
    /// Compile the optimizing tier on the spot, not on the background thread, so
    /// that tier-ups happen at exactly the thresholds (tests assert them).
    pub sync_compile: bool,
    /// Print each tiering event on stderr as it happens (`--trace-tiering`).
    pub trace: bool,
    /// The heap's size limit in bytes; past it, `out of memory`.
    pub heap_limit: usize,
    /// Write a perf map of the code made (`--perf-map`).
    pub perf_map: bool,
}

impl Default for Options {
    /// The default policy, background compilation, no tracing, the default heap.
    fn default() -> Options {
        Options {
            policy: Policy::default(),
            sync_compile: false,
            trace: false,
            heap_limit: DEFAULT_HEAP_LIMIT,
            perf_map: false,
        }
    }
}

/// The stage 5 engine: interpreter, baseline and optimizing tiers.
#[derive(Debug, Default)]
pub struct Tiered {
    options: Options,
    stats: Stats,
    functions: Vec<FunctionRecord>,
}

impl Tiered {
    /// A tiered engine with the default [`Options`].
    pub fn new() -> Tiered {
        Tiered::with_options(Options::default())
    }

    /// A tiered engine with the given options.
    pub fn with_options(options: Options) -> Tiered {
        Tiered {
            options,
            stats: Stats::default(),
            functions: Vec::new(),
        }
    }

    /// Per function of the last run: the tier it reached, its calls and back edges,
    /// its compile times.
    pub fn functions(&self) -> &[FunctionRecord] {
        &self.functions
    }
}

impl Engine for Tiered {
    fn name(&self) -> &'static str {
        "tiered JIT"
    }

    fn run(&mut self, verified: &Verified, out: &mut dyn Write) -> Result<String, RuntimeError> {
        let mut interp = stage1::interp::Interpreter::with_options(stage1::interp::Options {
            heap_limit: self.options.heap_limit,
            ..stage1::interp::Options::default()
        });
        let result = interp.run(verified, out);
        self.stats = interp.stats().clone();
        result
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }
}
