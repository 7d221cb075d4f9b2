//! The `run` and `dump` commands, written once for every engine: `jitlab run` uses
//! them with the reference engines, and each stage's own binary
//! (`cargo run -p stage3 -- run FILE`) with the crate it is built from, so the
//! learner's engine and the reference print the same things the same way.
//!
//! A stage plugs in through [`Stage`]: how to load a file, run a program, and print
//! its bytecode and machine code. This crate owns everything around that: reading
//! the file, the exit statuses (1: runtime error, 2: the file does not load), the
//! engine's thread, the output buffering and `--stats`.

pub mod stats;

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

/// Exit status of a program that stopped with a runtime error.
pub const RUNTIME_ERROR: u8 = 1;
/// Exit status of a file that cannot be read, parsed or verified, or a bad request.
pub const USAGE_ERROR: u8 = 2;

/// The stack of the thread the engine runs on: deep enough that no engine, printer or
/// parser recursion can overflow it on any program the limits allow.
const ENGINE_STACK: usize = 256 << 20;

/// How much program output is gathered before it is written: big writes keep a
/// program that prints a lot fast.
const OUTPUT_BUFFER: usize = 64 << 10;

/// `eprintln!` that cannot panic: a closed stderr (`jitlab run f 2>&1 | head -1`) must
/// not turn a clean error into a Rust panic, so a failed write is ignored.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// What one stage's engine offers the command line.
pub trait Stage: Sync {
    /// A program loaded and verified, ready to run.
    type Program: Sync;

    /// The stage number (1-based).
    fn number(&self) -> u32;

    /// Parses and verifies `text`, read from `file`; the error is printed as it is
    /// (`file:line:column: error: …`).
    fn load(&self, file: &str, text: &str) -> Result<Self::Program, String>;

    /// Runs `program`, its prints going to `out`.
    fn run(&self, program: &Self::Program, out: &mut dyn Write, options: &RunOptions) -> Outcome;

    /// The program as `.jasm` text, which `run` reads back.
    fn jasm(&self, program: &Self::Program) -> String;

    /// Each instruction with the machine code the stage makes of it, or why it
    /// cannot; `None` when the stage makes no machine code.
    fn asm(&self, program: &Self::Program) -> Option<Result<String, String>> {
        let _ = program;
        None
    }

    /// The optimizer's IR of each function (with `passes`: as built, then after each
    /// pass), or why it cannot be made; `None` when the stage has no optimizer
    /// (stages 1 to 3).
    fn ir(&self, program: &Self::Program, passes: bool) -> Option<Result<String, String>> {
        let _ = (program, passes);
        None
    }

    /// The IR of function `function` compiled for on-stack replacement at the loop
    /// header `pc` (with `passes`: as built, then optimized), or why it cannot be
    /// made; `None` when the stage compiles no OSR variant.
    fn ir_osr(
        &self,
        program: &Self::Program,
        function: &str,
        pc: usize,
        passes: bool,
    ) -> Option<Result<String, String>> {
        let _ = (program, function, pc, passes);
        None
    }

    /// The shapes (hidden classes) a run of `program` made, as their transition tree
    /// (`dump --shapes`), or why it cannot; `None` when the stage's objects have no
    /// shapes (stages 1 to 5). The program's output is dropped; a run that stops with
    /// a runtime error still gives the shapes made before it.
    fn shapes(&self, program: &Self::Program) -> Option<Result<String, String>> {
        let _ = program;
        None
    }

    /// Whether the engine makes machine code (and so can write a perf map).
    fn generates_code(&self) -> bool {
        false
    }

    /// Whether the engine has inline caches, which `--no-ic` turns off (stage 6 on).
    fn has_inline_caches(&self) -> bool {
        false
    }

    /// Whether the engine speculates and deoptimizes (stage 7 on), which
    /// `--no-speculation`, `--trace-deopt`, `--stress-deopt` and `--deopt-every` are
    /// for.
    fn speculates(&self) -> bool {
        false
    }

    /// Whether the engine can run `options` (checked before the file is read): the
    /// tiering options (`--tier-up`, `--sync-compile`, `--trace-tiering`) are for a
    /// tiered engine only; the error is printed as `error: …` with exit status 2.
    fn check(&self, options: &RunOptions) -> Result<(), String> {
        let tiering = [
            ("--tier-up", options.tier_up.is_some()),
            ("--sync-compile", options.sync_compile),
            ("--trace-tiering", options.trace_tiering),
        ];
        match tiering.iter().find(|(_, given)| *given) {
            Some((flag, _)) => Err(format!(
                "{flag}: the engine of stage {} does not tier; the tiered engine is stage 5's",
                self.number()
            )),
            None => Ok(()),
        }
    }
}

/// How the command line wants a program run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Count what `--stats` shows, even what costs time (the interpreter's
    /// instruction counter).
    pub stats: bool,
    /// Write a perf map of the generated code (`/tmp/perf-PID.map`).
    pub perf_map: bool,
    /// The tiering thresholds, as given to `--tier-up` (parsed by the tiered engine).
    pub tier_up: Option<String>,
    /// Compile on the spot rather than on a background thread.
    pub sync_compile: bool,
    /// Print each tiering event (tier-up, OSR) on stderr as it happens.
    pub trace_tiering: bool,
    /// Run with every inline cache off (shapes still): each field access and call
    /// through a value takes the runtime's slow path.
    pub no_ic: bool,
    /// Optimize without betting on the profile: no guard, no deopt.
    pub no_speculation: bool,
    /// Print each deopt on stderr as it happens, with the frames it rebuilt.
    pub trace_deopt: bool,
    /// Force deopts at guards after random waits from this seed.
    pub stress_deopt: Option<u64>,
    /// Force a deopt at every N-th guard check.
    pub deopt_every: Option<u64>,
}

/// How a run ended, and what the engine did.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The runtime error that stopped the program, as it is printed
    /// (`error: MESSAGE` and the trace), or `None` if it ran to its end.
    pub error: Option<String>,
    /// What `--stats` shows.
    pub report: Report,
}

/// What an engine did during a run, for `--stats`.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The engine and its stage (`template JIT (stage 3)`).
    pub engine: String,
    /// Bytecode instructions executed, when counted.
    pub instructions: Option<u64>,
    /// Calls made, `main` included.
    pub calls: u64,
    /// Wall time of the run, compilation included.
    pub time: Duration,
    /// One line per event (compilations, declined functions).
    pub events: Vec<String>,
    /// Calls of native code into the runtime's helpers, by helper.
    pub runtime_calls: Vec<(String, u64)>,
    /// What the compiler counted (values spilled, checks removed, ...), by name.
    pub counters: Vec<(String, u64)>,
    /// Tables of the engine's own, printed as they are after the rest (the tiered
    /// engine's per-function tier table).
    pub tables: Vec<String>,
}

/// `run FILE`: run a program.
#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    /// The program to run (.mini or .jasm).
    pub file: PathBuf,
    /// Print what the engine did (instructions, calls, time, events) on stderr.
    #[arg(long)]
    pub stats: bool,
    /// Write /tmp/perf-PID.map (`START SIZE name` per generated function, in hex) so
    /// that `perf report` names the generated code.
    #[arg(long)]
    pub perf_map: bool,
    /// Tiering thresholds (stage 5): calls=N,loops=M,opt-calls=N,opt-loops=M, any of
    /// them (defaults calls=100,loops=1000,opt-calls=5000,opt-loops=20000), or one
    /// number for all four; 0 or 1 compiles every function at its first call.
    #[arg(long, value_name = "THRESHOLDS")]
    pub tier_up: Option<String>,
    /// Compile on the spot when a counter trips, not on a background thread (stage
    /// 5), so tier-ups happen at exactly the thresholds.
    #[arg(long)]
    pub sync_compile: bool,
    /// Print each tier-up and OSR on stderr as it happens (stage 5).
    #[arg(long)]
    pub trace_tiering: bool,
    /// Turn every inline cache off (stage 6): objects keep their shapes, but each
    /// field access and call through a value takes the runtime's slow path (for
    /// comparison, and to tell a cache's bug from the rest).
    #[arg(long)]
    pub no_ic: bool,
    /// Optimize without betting on the profile (stage 7): no guard, no deopt, stage
    /// 4's code (for comparison, and to tell a bet's bug from the rest).
    #[arg(long)]
    pub no_speculation: bool,
    /// Print each deopt on stderr as it happens (stage 7): the guard that failed and
    /// why, and each interpreter frame rebuilt with its locals and operands.
    #[arg(long)]
    pub trace_deopt: bool,
    /// Force deopts at guards (stage 7): each after a random 1 to 16 guard checks,
    /// from a generator seeded with SEED (the same seed, the same deopts).
    #[arg(long, value_name = "SEED", conflicts_with = "deopt_every")]
    pub stress_deopt: Option<u64>,
    /// Force a deopt at every N-th guard check (stage 7; 1: at every one).
    #[arg(long, value_name = "N")]
    pub deopt_every: Option<u64>,
}

/// `dump FILE`: print a program.
#[derive(Args, Clone, Debug)]
pub struct DumpArgs {
    /// The program to print.
    pub file: PathBuf,
    /// Show the machine code the stage's JIT makes under each instruction.
    #[arg(long, conflicts_with = "ir")]
    pub asm: bool,
    /// Show the optimizer's IR of each function (stage 4 and above).
    #[arg(long)]
    pub ir: bool,
    /// With --ir: the IR as built, then after each pass that changed it.
    #[arg(long, requires = "ir")]
    pub passes: bool,
    /// With --ir: only the variant of one function entered by on-stack replacement
    /// at a loop header: `PC` (in main) or `FUNCTION:PC`.
    #[arg(long, requires = "ir", value_name = "[FUNCTION:]PC")]
    pub osr: Option<String>,
    /// Run the program (its output dropped), then print the shapes its objects got:
    /// the transition tree from the empty shape (stage 6 and above).
    #[arg(long, conflicts_with_all = ["asm", "ir"])]
    pub shapes: bool,
}

/// The commands of a stage's own binary.
#[derive(Subcommand, Clone, Debug)]
pub enum Command {
    /// Run a .mini or .jasm program with this crate's engine: its prints on stdout,
    /// errors on stderr (exit 1: runtime error, 2: the file does not load).
    Run(RunArgs),
    /// Print a program's bytecode as .jasm text, with `--asm` each instruction with
    /// the x86-64 this crate's JIT makes of it, with `--ir` the optimizer's IR, or
    /// with `--shapes` the transition tree of the shapes a run made.
    Dump(DumpArgs),
}

/// The arguments of a stage's own binary.
#[derive(Parser, Debug)]
struct StageCli {
    #[command(subcommand)]
    command: Command,
}

/// The `main` of a stage's own binary (`cargo run -p stageN -- run FILE`): parses the
/// arguments and runs the command with `stage`'s engine. A panic of the engine (a
/// hole still `todo!()`) is reported in one line, with a backtrace only when
/// `RUST_BACKTRACE` asks for one.
pub fn main<S: Stage>(name: &'static str, stage: &S) -> ExitCode {
    let command = StageCli::command()
        .name(name)
        .about(format!(
            "Run Mini programs with the engine of this crate (stage {}).",
            stage.number()
        ))
        .version(env!("CARGO_PKG_VERSION"));
    let parsed = StageCli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        let place = info
            .location()
            .map_or(String::new(), |l| format!(" at {}:{}", l.file(), l.line()));
        say!("error: the engine panicked{place}: {message}");
        if message.starts_with("not yet implemented") {
            say!("(a hole still to fill: the book section it names explains it)");
        }
        // With RUST_BACKTRACE=1, the backtrace too.
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            say!("{backtrace}");
        }
    }));
    match parsed.command {
        Command::Run(args) => run(stage, &args),
        Command::Dump(args) => dump(stage, &args),
    }
}

/// Reads `path` as text, or says why not (`error: cannot read F: REASON`).
fn read(path: &Path) -> Result<String, ExitCode> {
    std::fs::read_to_string(path).map_err(|e| {
        say!("error: cannot read {}: {}", path.display(), io_reason(&e));
        ExitCode::from(USAGE_ERROR)
    })
}

/// The system's reason without Rust's ` (os error N)` suffix.
fn io_reason(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Runs `f` on a thread with a big stack and returns what it returns.
fn on_big_stack(f: impl FnOnce() -> ExitCode + Send) -> ExitCode {
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("engine".into())
            .stack_size(ENGINE_STACK)
            .spawn_scoped(scope, f);
        match thread.map(|t| t.join()) {
            Ok(Ok(code)) => code,
            // The panic hook has printed the message: the engine has a bug.
            Ok(Err(_)) => ExitCode::from(101),
            Err(e) => {
                say!("error: cannot start the engine's thread: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// `run FILE [--stats] [--perf-map]` with `stage`'s engine.
pub fn run<S: Stage + ?Sized>(stage: &S, args: &RunArgs) -> ExitCode {
    if args.perf_map && !stage.generates_code() {
        say!(
            "error: --perf-map: the engine of stage {} makes no machine code; \
             run with a JIT (stage 3 or above)",
            stage.number()
        );
        return ExitCode::from(USAGE_ERROR);
    }
    if args.no_ic && !stage.has_inline_caches() {
        say!(
            "error: --no-ic: the engine of stage {} has no inline caches; stage 6 adds them",
            stage.number()
        );
        return ExitCode::from(USAGE_ERROR);
    }
    let speculation = [
        ("--no-speculation", args.no_speculation),
        ("--trace-deopt", args.trace_deopt),
        ("--stress-deopt", args.stress_deopt.is_some()),
        ("--deopt-every", args.deopt_every.is_some()),
    ];
    if let Some((flag, _)) = speculation.iter().find(|(_, given)| *given) {
        if !stage.speculates() {
            say!(
                "error: {flag}: the engine of stage {} does not speculate; stage 7 adds it",
                stage.number()
            );
            return ExitCode::from(USAGE_ERROR);
        }
    }
    let options = RunOptions {
        stats: args.stats,
        perf_map: args.perf_map,
        tier_up: args.tier_up.clone(),
        sync_compile: args.sync_compile,
        trace_tiering: args.trace_tiering,
        no_ic: args.no_ic,
        no_speculation: args.no_speculation,
        trace_deopt: args.trace_deopt,
        stress_deopt: args.stress_deopt,
        deopt_every: args.deopt_every,
    };
    if let Err(message) = stage.check(&options) {
        say!("error: {message}");
        return ExitCode::from(USAGE_ERROR);
    }
    let closed = stdout_is_closed();
    on_big_stack(|| {
        let program = match load(stage, &args.file) {
            Ok(program) => program,
            Err(code) => return code,
        };
        let stdout: Box<dyn Write> = if closed {
            Box::new(ClosedStdout)
        } else {
            Box::new(io::stdout().lock())
        };
        let mut out = BufWriter::with_capacity(OUTPUT_BUFFER, stdout);
        let outcome = stage.run(&program, &mut out, &options);
        // Whatever happened, what the program printed comes before what went wrong.
        let flushed = out.flush();
        let code = match (&outcome.error, flushed) {
            (Some(error), _) => {
                say!("{error}");
                ExitCode::from(RUNTIME_ERROR)
            }
            (None, Err(e)) => {
                say!("error: cannot write output: {e}");
                ExitCode::from(RUNTIME_ERROR)
            }
            (None, Ok(())) => ExitCode::SUCCESS,
        };
        if args.stats {
            let _ = write!(io::stderr(), "{}", stats::table(&outcome.report));
        }
        code
    })
}

/// Whether standard output was closed when `jitlab` started (`jitlab run f >&-`).
/// Rust's runtime puts `/dev/null`, opened read-write, in place of a closed standard
/// descriptor before `main`, so what a program prints would vanish and the run exit
/// 0; a program that prints must fail with `cannot write output` instead. The
/// answer is recorded before Rust's runtime starts ([`RECORD_STDOUT_BEFORE_MAIN`]):
/// afterwards a closed descriptor cannot be told from a `/dev/null` the caller
/// opened read-write on purpose, as Python's `subprocess.DEVNULL` and Node's
/// `'ignore'` do — output sent there is discarded, and the run succeeds.
fn stdout_is_closed() -> bool {
    STDOUT_CLOSED_AT_START.load(Ordering::Relaxed)
}

/// Set before `main` when descriptor 1 was not open at process start.
static STDOUT_CLOSED_AT_START: AtomicBool = AtomicBool::new(false);

/// Records [`STDOUT_CLOSED_AT_START`] before `main`: an entry of the ELF
/// `.init_array` section is a function the loader calls before the program's
/// `main`, where Rust's runtime fills closed standard descriptors. `#[used]` keeps
/// the entry in every binary that links this crate (`jitlab`, `cargo run -p stageN`).
/// On Linux `/proc/self/fd/1` is a link while descriptor 1 is open; where `/proc`
/// is not mounted nothing is recorded and output is written as usual.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static RECORD_STDOUT_BEFORE_MAIN: extern "C" fn() = {
    extern "C" fn record() {
        let fds = Path::new("/proc/self/fd");
        let closed = fds.is_dir()
            && std::fs::read_link(fds.join("1"))
                .is_err_and(|e| e.kind() == io::ErrorKind::NotFound);
        STDOUT_CLOSED_AT_START.store(closed, Ordering::Relaxed);
    }
    record
};

/// The program's output when standard output is closed: every write fails.
struct ClosedStdout;

impl Write for ClosedStdout {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "standard output is closed",
        ))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads, parses and verifies `path`, or prints why not.
fn load<S: Stage + ?Sized>(stage: &S, path: &Path) -> Result<S::Program, ExitCode> {
    let text = read(path)?;
    stage.load(&path.display().to_string(), &text).map_err(|e| {
        say!("{e}");
        ExitCode::from(USAGE_ERROR)
    })
}

/// `dump FILE [--asm | --ir [--passes] | --shapes]`: the program as `.jasm` text; with
/// `--asm`, each instruction with the machine code under it; with `--ir`, the
/// optimizer's IR; with `--shapes`, the transition tree of the shapes a run made.
pub fn dump<S: Stage + ?Sized>(stage: &S, args: &DumpArgs) -> ExitCode {
    on_big_stack(|| {
        let program = match load(stage, &args.file) {
            Ok(program) => program,
            Err(code) => return code,
        };
        let text = if let (true, Some(osr)) = (args.ir, &args.osr) {
            let (function, pc) = osr.rsplit_once(':').unwrap_or(("main", osr));
            let Ok(pc) = pc.parse::<usize>() else {
                say!("error: --osr {osr}: expected PC or FUNCTION:PC");
                return ExitCode::from(USAGE_ERROR);
            };
            match stage.ir_osr(&program, function, pc, args.passes) {
                Some(Ok(text)) => text,
                Some(Err(e)) => {
                    say!("error: cannot optimize {}: {e}", args.file.display());
                    return ExitCode::from(RUNTIME_ERROR);
                }
                None => {
                    say!(
                        "error: --osr: stage {} compiles no OSR variant (stage 4 does)",
                        stage.number()
                    );
                    return ExitCode::from(USAGE_ERROR);
                }
            }
        } else if args.ir {
            match stage.ir(&program, args.passes) {
                Some(Ok(text)) => text,
                Some(Err(e)) => {
                    say!("error: cannot optimize {}: {e}", args.file.display());
                    return ExitCode::from(RUNTIME_ERROR);
                }
                None => {
                    say!(
                        "error: --ir: stage {} has no optimizer (stage 4 adds it)",
                        stage.number()
                    );
                    return ExitCode::from(USAGE_ERROR);
                }
            }
        } else if args.shapes {
            match stage.shapes(&program) {
                Some(Ok(text)) => text,
                Some(Err(e)) => {
                    say!("error: cannot run {}: {e}", args.file.display());
                    return ExitCode::from(RUNTIME_ERROR);
                }
                None => {
                    say!(
                        "error: --shapes: the objects of stage {} have no shapes (stage 6 adds them)",
                        stage.number()
                    );
                    return ExitCode::from(USAGE_ERROR);
                }
            }
        } else if args.asm {
            match stage.asm(&program) {
                Some(Ok(text)) => text,
                Some(Err(e)) => {
                    say!("error: cannot compile {}: {e}", args.file.display());
                    return ExitCode::from(RUNTIME_ERROR);
                }
                None => {
                    say!(
                        "error: --asm: stage {} makes no machine code; \
                         `dump` without --asm prints the bytecode",
                        stage.number()
                    );
                    return ExitCode::from(USAGE_ERROR);
                }
            }
        } else {
            stage.jasm(&program)
        };
        let mut out = io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                say!("error: cannot write output: {e}");
                ExitCode::from(RUNTIME_ERROR)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_reasons_drop_the_os_error_number() {
        let e = std::fs::read_to_string("/no/such/file/here").unwrap_err();
        assert_eq!(io_reason(&e), "No such file or directory");
    }
}
