//! The stage 3 engine: compile every function, then run `main` natively on a thread
//! with a stack big enough for the deepest recursion the depth limit allows.

use std::io::Write;
use std::sync::mpsc;
use std::time::Instant;

use stage1::bytecode::MAIN;
use stage1::heap::{Heap, DEFAULT_HEAP_LIMIT};
use stage1::interp::frame::MAX_FRAMES;
use stage1::interp::trace::runtime_error;
use stage1::interp::{self, Interpreter};
use stage1::print::format_value;
use stage1::{Engine, ErrorKind, Event, Program, RuntimeError, Stats, Value, Verified};
use stage2::CodeBlock;

use crate::codegen::frame::FRAME_OVERHEAD;
use crate::codegen::{generate, CompileError, FunctionCode};
use crate::context::{Context, FnEntry};
use crate::runtime::{ExitReason, ERROR};

/// The tier name in events.
pub const TIER: &str = "baseline";

/// Stack kept free beyond the deepest native recursion, for the runtime helpers and
/// the thread's own start (`print` and the allocator need a few KiB; be generous).
const STACK_MARGIN: usize = 1 << 20;
/// How many output chunks may wait for the caller's writer before `print` blocks.
const OUTPUT_QUEUE: usize = 16;

/// How a [`Jit`] runs.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The heap's size limit in bytes; past it, `out of memory`.
    pub heap_limit: usize,
}

impl Default for Options {
    /// The default heap limit.
    fn default() -> Options {
        Options {
            heap_limit: DEFAULT_HEAP_LIMIT,
        }
    }
}

/// A whole program compiled: the code, where each function went, and the function
/// table that `call_value` reads.
pub struct CompiledProgram {
    /// The executable code of every function and the entry trampoline.
    pub code: CodeBlock,
    /// Each function's code, indexed like the program's functions.
    pub functions: Vec<FunctionCode>,
    /// The function table: absolute entry address and arity of each function.
    pub table: Vec<FnEntry>,
    /// Offset of the entry trampoline in `code`.
    trampoline: usize,
    /// The largest native frame in bytes (slots plus overhead).
    pub max_frame: usize,
}

impl CompiledProgram {
    /// The stack a thread needs to run this program to the depth limit.
    pub fn stack_bytes(&self) -> usize {
        MAX_FRAMES * self.max_frame + STACK_MARGIN
    }
}

/// Compiles every function of `program` into one block of executable code.
pub fn compile_program(program: &Program) -> Result<CompiledProgram, CompileError> {
    let generated = generate(program)?;
    let code = generated.asm.finish().map_err(|e| CompileError {
        function: "<program>".into(),
        reason: e.to_string(),
    })?;
    let functions = generated.functions;
    let table = functions
        .iter()
        .zip(&program.functions)
        .map(|(fc, f)| FnEntry {
            code: code.addr() + fc.range.start as u64,
            arity: f.arity as u64,
        })
        .collect();
    let trampoline = code
        .label_offset(generated.trampoline)
        .expect("the trampoline is bound");
    let max_frame = functions
        .iter()
        .map(|fc| fc.frame_bytes)
        .max()
        .unwrap_or(FRAME_OVERHEAD);
    Ok(CompiledProgram {
        code,
        functions,
        table,
        trampoline,
        max_frame,
    })
}

/// The entry trampoline's type: context, arguments, code address; the result word.
type EntryFn = extern "sysv64" fn(*mut Context, *const u64, u64) -> u64;

/// What a native run gives back from its thread.
struct NativeEnd {
    word: u64,
    error: Option<ErrorKind>,
    trace: Vec<(stage1::FnId, usize)>,
    exits: [u64; ExitReason::COUNT],
    calls: u64,
    flushed: bool,
}

/// The stage 3 engine: a template JIT.
#[derive(Debug, Default)]
pub struct Jit {
    options: Options,
    stats: Stats,
    heap: Heap,
}

impl Jit {
    /// A JIT with the default [`Options`].
    pub fn new() -> Jit {
        Jit::with_options(Options::default())
    }

    /// A JIT with the given options.
    pub fn with_options(options: Options) -> Jit {
        Jit {
            options,
            stats: Stats::default(),
            heap: Heap::new(0),
        }
    }

    /// The heap of the last run, where the values it returned live.
    pub fn heap(&self) -> &Heap {
        &self.heap
    }

    /// Runs `compiled` from `main` on a thread of its own.
    fn run_native(
        &mut self,
        program: &Program,
        compiled: &CompiledProgram,
        out: &mut dyn Write,
    ) -> Result<Value, RuntimeError> {
        let (sink, chunks) = mpsc::sync_channel::<Vec<u8>>(OUTPUT_QUEUE);
        let heap = &mut self.heap;
        let (end, write_failed) = std::thread::scope(|scope| {
            let runner = std::thread::Builder::new()
                .name("jitlab-native".into())
                .stack_size(compiled.stack_bytes())
                .spawn_scoped(scope, move || {
                    let mut ctx = Context::new(program, heap, &compiled.table, Some(sink));
                    // SAFETY: the trampoline was generated by `gen_trampoline` with the
                    // signature of `EntryFn`; it keeps the callee-saved registers and the
                    // stack alignment, and the code it calls only touches its own frames,
                    // the heap's arrays (checked) and the context, which lives until the
                    // call returns. The code block outlives the call.
                    let entry: EntryFn = unsafe { compiled.code.fn_at(compiled.trampoline) };
                    let main = compiled.table[MAIN as usize].code;
                    let word = entry(&mut ctx, std::ptr::null(), main);
                    let flushed = ctx.flush();
                    NativeEnd {
                        word,
                        error: ctx.error,
                        trace: std::mem::take(&mut ctx.trace),
                        exits: ctx.exits,
                        calls: ctx.calls,
                        flushed,
                    }
                });
            // Stream the output to the caller's writer while the program runs; on a
            // write failure stop listening, so the program's next flush fails.
            let mut write_failed = false;
            for chunk in chunks.iter() {
                if out.write_all(&chunk).is_err() {
                    write_failed = true;
                    break;
                }
            }
            drop(chunks);
            let end = match runner {
                Ok(handle) => handle.join().ok(),
                Err(_) => None,
            };
            (end, write_failed)
        });
        let Some(end) = end else {
            // The thread could not start (or died): report it as the one error
            // that is not Mini's fault.
            return Err(RuntimeError {
                kind: ErrorKind::Output,
                trace: vec![],
            });
        };
        self.stats.calls = end.calls;
        self.stats.exits = ExitReason::ALL
            .iter()
            .map(|r| (r.name(), end.exits[*r as usize]))
            .collect();
        if end.word == ERROR {
            let kind = end.error.unwrap_or(ErrorKind::TypeError);
            return Err(runtime_error(program, kind, end.trace.into_iter()));
        }
        if write_failed || !end.flushed {
            return Err(RuntimeError {
                kind: ErrorKind::Output,
                trace: vec![],
            });
        }
        Ok(Value::from_bits(end.word))
    }
}

impl Engine for Jit {
    fn name(&self) -> &'static str {
        "template JIT"
    }

    fn run(&mut self, verified: &Verified, out: &mut dyn Write) -> Result<String, RuntimeError> {
        let start = Instant::now();
        let program = verified.program();
        self.stats = Stats::default();
        self.heap = Heap::new(self.options.heap_limit);
        let compiled = match compile_program(program) {
            Ok(compiled) => compiled,
            Err(e) => {
                // Run the whole program in the tier below, and say why.
                let mut interp = Interpreter::with_options(interp::Options {
                    heap_limit: self.options.heap_limit,
                    ..interp::Options::default()
                });
                let result = interp.run(verified, out);
                self.stats = interp.stats().clone();
                self.stats.events.push(Event::NotCompiled {
                    function: e.function,
                    tier: TIER,
                    reason: e.reason,
                });
                self.stats.run_time = start.elapsed();
                return result;
            }
        };
        for (fc, f) in compiled.functions.iter().zip(&program.functions) {
            self.stats.events.push(Event::Compiled {
                function: f.name.clone(),
                tier: TIER,
                bytecode_len: f.code.len(),
                code_bytes: fc.range.len(),
                time: fc.time,
            });
        }
        let result = self.run_native(program, &compiled, out);
        self.stats.run_time = start.elapsed();
        result.map(|v| format_value(program, &self.heap, v))
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }
}
