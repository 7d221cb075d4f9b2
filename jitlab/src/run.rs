//! `jitlab run` and `jitlab dump`: load a `.mini` or `.jasm` file, then run it with
//! the engine of a stage, or print its bytecode.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use stage1::{load, Verified};

use crate::stages::{self, EngineOptions};
use crate::stats;

/// `eprintln!` that cannot panic: a closed stderr (`jitlab run f 2>&1 | head -1`) must
/// not turn a clean error into a Rust panic, so a failed write is ignored.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `eprint!` that cannot panic (see [`say!`]).
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

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

/// Reads, parses and verifies `path`, or prints why not (on stderr): a file that
/// cannot be read is a source error too, `file:1:1: error: cannot read the file: …`.
fn load(path: &Path) -> Result<Verified, ExitCode> {
    load::load_file(path).map_err(|e| {
        say!("{e}");
        ExitCode::from(USAGE_ERROR)
    })
}

/// Runs `f` on a thread with a big stack and returns what it returns.
fn on_big_stack(f: impl FnOnce() -> ExitCode + Send + 'static) -> ExitCode {
    let thread = std::thread::Builder::new()
        .name("engine".into())
        .stack_size(ENGINE_STACK)
        .spawn(f);
    match thread.map(|t| t.join()) {
        Ok(Ok(code)) => code,
        // The panic hook has printed the message: the engine has a bug.
        Ok(Err(_)) => ExitCode::from(101),
        Err(e) => {
            say!("error: cannot start the engine's thread: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `jitlab run FILE [--stage N] [--stats]`.
pub fn run(path: &Path, stage: Option<u32>, show_stats: bool) -> ExitCode {
    let (engine_stage, make) = match stages::engine_for(stage) {
        Ok(found) => found,
        Err(message) => {
            say!("error: {message}");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    let path = path.to_path_buf();
    on_big_stack(move || {
        let program = match load(&path) {
            Ok(program) => program,
            Err(code) => return code,
        };
        let mut engine = make(EngineOptions {
            count_instructions: show_stats,
        });
        let stdout = io::stdout();
        let mut out = BufWriter::with_capacity(OUTPUT_BUFFER, stdout.lock());
        let result = engine.run(&program, &mut out);
        // Whatever happened, what the program printed comes before what went wrong.
        let flushed = out.flush();
        let code = match (result, flushed) {
            (Err(error), _) => {
                say!("{error}");
                ExitCode::from(RUNTIME_ERROR)
            }
            (Ok(_), Err(e)) => {
                say!("error: cannot write output: {e}");
                ExitCode::from(RUNTIME_ERROR)
            }
            (Ok(_), Ok(())) => ExitCode::SUCCESS,
        };
        if show_stats {
            let name = format!("{} (stage {engine_stage})", engine.name());
            say_raw!("{}", stats::table(&name, engine.stats()));
        }
        code
    })
}

/// `jitlab dump FILE [--asm]`: the verified program as `.jasm` text, which `run` reads
/// back; with `--asm`, each instruction with the template JIT's x86-64 under it.
pub fn dump(path: &Path, asm: bool) -> ExitCode {
    let path = path.to_path_buf();
    on_big_stack(move || {
        let program = match load(&path) {
            Ok(program) => program,
            Err(code) => return code,
        };
        let text = if asm {
            match stage3::listing(&program) {
                Ok(text) => text,
                Err(e) => {
                    say!("error: cannot compile {}: {e}", path.display());
                    return ExitCode::from(RUNTIME_ERROR);
                }
            }
        } else {
            stage1::jasm::print(program.program())
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
