//! Helpers shared by the suite: the configurations the engine runs under (thresholds
//! 0, 1 and the defaults; no stress, stress at random from a seed, a deopt at every
//! n-th guard check), running a program on the interpreter and on the stage 7 engine
//! and comparing them, the designed programs of `tests/programs/deopt/` with the
//! lines they mark, and the run's deopts and recompiles read out of its events.
//! `tests/common/engine_run.rs`, shared with the earlier suites, does the loading,
//! running and isolation.
//!
//! Every test that runs generated code does it through [`isolated`] or [`harness`]
//! (`jitlab_testkit::isolate`): in a child process with a timeout, so that a crash or
//! a hang in the learner's code fails that test alone.

#[path = "../common/engine_run.rs"]
#[allow(dead_code)]
mod engine_run;

use std::fmt;

use jitlab_testkit::{corpus, CorpusProgram};
use stage1::interp::Interpreter;
use stage1::{Engine, Event, Verified};
use stage5::Policy;
use stage7::{Options, Speculating, Stress};

pub use engine_run::{
    compare, differential_under, harness, isolated, load_verified as load, program_label,
    programs_dir, run_on, Run,
};

/// Every program of the corpus that loads, by name.
pub fn corpus_programs() -> Vec<(String, Verified)> {
    corpus::loaded(&programs_dir(), 60, load)
}

/// When functions move up a tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Thresholds {
    /// Everything compiled at first sight: optimized code from the second call or
    /// back edge, with almost no feedback to bet on.
    Zero,
    /// At the first call or back edge of each tier: optimized code that bet on what
    /// one or two runs of an instruction showed (bets that often lose).
    One,
    /// The engine's own: short programs stay in the interpreter, long loops bet on
    /// thousands of runs.
    Default,
}

/// How the guards of optimized code are made to fail on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stressing {
    /// They fail only when a bet is lost.
    Off,
    /// Every `n`-th guard check fails (`--deopt-every N`).
    Every(u64),
    /// Guards fail at random (`--stress-deopt SEED`); the seed is the `k`-th of the
    /// run's own ([`Config::options`]), so that every program meets other failures.
    Seed(u64),
}

/// One way to run the stage 7 engine.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// When functions tier up.
    pub thresholds: Thresholds,
    /// Compile on the spot (`true`: tier-ups and deopts at the same points every
    /// run) or in the background, as `jitlab run` does.
    pub sync: bool,
    /// Guards failing on purpose.
    pub stress: Stressing,
}

impl Config {
    /// `stress` at `thresholds`, one of [`THRESHOLDS`] with its compile mode.
    pub fn new((thresholds, sync): (Thresholds, bool), stress: Stressing) -> Config {
        Config {
            thresholds,
            sync,
            stress,
        }
    }

    /// The engine's options for the run numbered `seed` (a corpus program's index, a
    /// random program's seed): `Stressing::Seed(k)` becomes stress seed
    /// `3 * seed + k`.
    pub fn options(&self, seed: u64) -> Options {
        let policy = match self.thresholds {
            Thresholds::Zero => Policy::all(0),
            Thresholds::One => Policy::all(1),
            Thresholds::Default => Policy::default(),
        };
        let stress = match self.stress {
            Stressing::Off => Stress::Off,
            Stressing::Every(n) => Stress::Every(n),
            Stressing::Seed(k) => Stress::Seed(seed.wrapping_mul(3).wrapping_add(k)),
        };
        Options {
            tiered: stage5::Options {
                policy,
                sync_compile: self.sync,
                ..stage5::Options::default()
            },
            stress,
            ..Options::default()
        }
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let thresholds = match self.thresholds {
            Thresholds::Zero => "thresholds 0",
            Thresholds::One => "thresholds 1",
            Thresholds::Default => "default thresholds",
        };
        let mode = if self.sync { "sync" } else { "background" };
        write!(f, "{thresholds}, {mode}, ")?;
        match self.stress {
            Stressing::Off => write!(f, "no stress"),
            Stressing::Every(n) => write!(f, "a deopt every {n} guard checks"),
            Stressing::Seed(k) => write!(f, "stress seed number {k} of the run"),
        }
    }
}

/// The thresholds the differential tests run at, each with its compile mode: 0 and
/// 1 on the spot (a failure shows again when the test is run again), the defaults
/// in the background (as `jitlab run`).
pub const THRESHOLDS: [(Thresholds, bool); 3] = [
    (Thresholds::Zero, true),
    (Thresholds::One, true),
    (Thresholds::Default, false),
];

/// The stress modes of the differential tests: three seeds and a deopt at every
/// 1st, 2nd and 7th guard check.
pub const STRESS: [Stressing; 6] = [
    Stressing::Seed(0),
    Stressing::Seed(1),
    Stressing::Seed(2),
    Stressing::Every(1),
    Stressing::Every(2),
    Stressing::Every(7),
];

/// Each of `thresholds` with every stress mode, and with none (the bets lost by
/// themselves).
pub fn stressed_at(thresholds: &[(Thresholds, bool)]) -> Vec<Config> {
    let modes = [Stressing::Off].into_iter().chain(STRESS);
    thresholds
        .iter()
        .flat_map(|&t| modes.clone().map(move |stress| Config::new(t, stress)))
        .collect()
}

/// Every threshold with every stress mode, and with none: 21 configurations.
pub fn every_config() -> Vec<Config> {
    stressed_at(&THRESHOLDS)
}

/// The configuration the designed programs' events are checked under: the default
/// thresholds (the loops run long enough to bet on thousands of trips), compiling
/// on the spot (the deopts happen at the same trips every run), no stress.
pub const DESIGNED: Config = Config {
    thresholds: Thresholds::Default,
    sync: true,
    stress: Stressing::Off,
};

/// Runs `program` on a stage 7 engine with `options`.
pub fn speculating(program: &Verified, options: Options) -> (Run, Speculating) {
    let mut engine = Speculating::with_options(options);
    let run = run_on(&mut engine, program);
    (run, engine)
}

/// Runs `source` on the interpreter and on the stage 7 engine under each of
/// `configs` (run number `seed`): `Err` with a report naming the first configuration
/// that differs in output, result or error (with its whole trace).
pub fn differential_in(
    name: &str,
    source: &str,
    seed: u64,
    configs: &[Config],
) -> Result<(), String> {
    differential_under(name, source, configs, |program, config| {
        speculating(program, config.options(seed)).0
    })
    .map_err(|report| format!("{report}(run {seed})\n"))
}

/// A designed program of `tests/programs/deopt/`, by file name.
pub fn designed(file: &str) -> CorpusProgram {
    corpus::load(&programs_dir().join("deopt"))
        .into_iter()
        .find(|p| p.name == file)
        .unwrap_or_else(|| panic!("no tests/programs/deopt/{file}"))
}

/// Runs a designed program under `config` and checks it against what its comments
/// expect and against the interpreter (every frame of an error's trace); returns the
/// run, the engine (its events) and the verified program (its lines).
pub fn run_designed(program: &CorpusProgram, config: Config) -> (Run, Speculating, Verified) {
    let verified = load(&program.name, &program.source);
    let (run, engine) = speculating(&verified, config.options(0));
    if let Err(report) = program.check(&run.outcome()) {
        panic!("under {config}:\n{report}");
    }
    let expected = run_on(&mut Interpreter::new(), &verified);
    if let Err(report) = compare(&program.name, &program.source, &expected, &run) {
        panic!("under {config}:\n{report}");
    }
    (run, engine, verified)
}

/// The line a designed program marks with `// deopt: REASON` (exactly one).
pub fn marked_line(program: &CorpusProgram, reason: &str) -> u32 {
    let marker = format!("// deopt: {reason}");
    let lines: Vec<u32> = program
        .source
        .lines()
        .enumerate()
        .filter(|(_, line)| line.trim_end().ends_with(&marker))
        .map(|(i, _)| i as u32 + 1)
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "{}: `{marker}` must mark one line",
        program.name
    );
    lines[0]
}

/// One `Event::Deopt` of a run, with the source line of its guard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deopt {
    /// The optimized function whose code deoptimized.
    pub function: String,
    /// The function the guard's instruction belongs to (`function`, or one inlined
    /// into it).
    pub guard_function: String,
    /// The guard's bytecode pc in `guard_function`.
    pub pc: usize,
    /// The source line of that pc.
    pub line: u32,
    pub reason: String,
    pub inlined_depth: usize,
    pub frames: usize,
}

/// The deopts of the engine's last run of `program`, in order.
pub fn deopts(engine: &Speculating, program: &Verified) -> Vec<Deopt> {
    engine
        .stats()
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Deopt {
                function,
                guard_function,
                pc,
                reason,
                inlined_depth,
                frames,
            } => Some(Deopt {
                function: function.clone(),
                guard_function: guard_function.clone(),
                pc: *pc,
                line: line_of(program, guard_function, *pc),
                reason: reason.to_string(),
                inlined_depth: *inlined_depth,
                frames: *frames,
            }),
            _ => None,
        })
        .collect()
}

/// The source line of `pc` in the function called `name` (0 when the pc is past
/// its end: a guard's state may stand after the last instruction's result).
fn line_of(program: &Verified, name: &str, pc: usize) -> u32 {
    let program = program.program();
    let function = program
        .function_named(name)
        .map(|f| &program.functions[f as usize])
        .unwrap_or_else(|| panic!("a deopt names `{name}`, which is no function"));
    function.lines.get(pc).copied().unwrap_or(0)
}

/// One `Event::Recompiled` of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recompile {
    pub function: String,
    pub count: u32,
    pub dropped: Vec<String>,
    pub speculating: bool,
}

/// The recompiles of the engine's last run, in order.
pub fn recompiles(engine: &Speculating) -> Vec<Recompile> {
    engine
        .stats()
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Recompiled {
                function,
                count,
                dropped,
                speculating,
            } => Some(Recompile {
                function: function.clone(),
                count: *count,
                dropped: dropped.clone(),
                speculating: *speculating,
            }),
            _ => None,
        })
        .collect()
}
