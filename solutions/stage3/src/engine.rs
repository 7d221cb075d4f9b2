//! The stage 3 engine: compile every function, then run `main` natively on a thread
//! with a stack big enough for the deepest recursion the depth limit allows (sized by
//! [`crate::stack`]: a function that cannot recurse counts once; the thread is one
//! kept between runs by [`crate::runner`]). A function the JIT
//! declines (it cannot compile it, `Options::interpret` names it, or its frame is too
//! big for the deepest recursion in [`NATIVE_STACK_MAX`](crate::stack::NATIVE_STACK_MAX)) runs in the interpreter
//! behind a stub, on mixed stacks (see
//! [`runtime::rt_call_interpreted`](crate::runtime::rt_call_interpreted)). When the
//! thread cannot be made at all, the whole program runs in the interpreter.

use std::io::Write;
use std::sync::mpsc;
use std::time::Instant;

use stage1::bytecode::MAIN;
use stage1::heap::{Heap, DEFAULT_HEAP_LIMIT};
use stage1::interp::trace::runtime_error;
use stage1::interp::{self, Interpreter};
use stage1::limits::MAX_FRAMES;
use stage1::print::format_value;
use stage1::value::ERROR_WORD;
use stage1::{Engine, ErrorKind, Event, Program, RuntimeError, Stats, Value, Verified};
use stage2::CodeBlock;

use crate::codegen::frame::FRAME_OVERHEAD;
use crate::codegen::{
    generate, generate_declining, generate_with_tier, CompileError, FunctionCode, Tier,
};
use crate::context::{Context, EntryFn, FnEntry};
use crate::runner;
use crate::runtime::{call_interpreted, recorded_error, RuntimeCall};
use crate::stack::{self, stack_need, too_big_to_run_natively, INTERPRETED_ACTIVATION};

/// The tier name in events.
pub const TIER: &str = "baseline";

/// How many output chunks may wait for the caller's writer before `print` blocks.
const OUTPUT_QUEUE: usize = 16;

/// How a [`Jit`] runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The heap's size limit in bytes; past it, `out of memory`.
    pub heap_limit: usize,
    /// Functions to run in the interpreter rather than compile (for tests of mixed
    /// stacks); a function the code generator cannot take runs there too.
    pub interpret: Vec<String>,
    /// Write a perf map (`/tmp/perf-PID.map`) of the code before running it, so that
    /// `perf report` names the generated functions ([`crate::listing::perf_map`]).
    pub perf_map: bool,
}

impl Default for Options {
    /// The default heap limit.
    fn default() -> Options {
        Options {
            heap_limit: DEFAULT_HEAP_LIMIT,
            interpret: Vec::new(),
            perf_map: false,
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
    /// For each declined function (run in the interpreter), why; `None`: compiled.
    pub declined: Vec<Option<String>>,
}

impl CompiledProgram {
    /// The stack a thread needs to run this program to the depth limit, given which
    /// functions can recurse ([`stack::recursive_functions`]).
    pub fn stack_bytes(&self, recursive: &[bool]) -> usize {
        stack_need(&self.stack_costs(), recursive)
    }

    /// The native stack each function's activation takes: its frame, or for a
    /// declined function its stub's frame and the interpreter's activation.
    fn stack_costs(&self) -> Vec<usize> {
        self.functions
            .iter()
            .zip(&self.declined)
            .map(|(fc, why)| match why {
                Some(_) => fc.frame_bytes + INTERPRETED_ACTIVATION,
                None => fc.frame_bytes,
            })
            .collect()
    }
}

/// Compiles every function of `verified` into one block of executable code.
pub fn compile_program(verified: &Verified) -> Result<CompiledProgram, CompileError> {
    let program = verified.program();
    link(
        generate(verified)?,
        vec![None; program.functions.len()],
        program,
    )
}

/// Compiles every function of `verified` but those `declined` marks or that cannot be
/// compiled: those get a stub that runs them in the interpreter
/// ([`CompiledProgram::declined`] says why).
pub fn compile_program_declining(
    verified: &Verified,
    declined: &[bool],
) -> Result<CompiledProgram, CompileError> {
    let (generated, reasons) = generate_declining(verified, declined);
    link(generated, reasons, verified.program())
}

/// [`compile_program_declining`], with the functions `tier` takes made by it: how a
/// higher tier (stage 4) mixes its code with the templates (see
/// [`crate::codegen::Tier`]).
pub fn compile_program_with_tier(
    verified: &Verified,
    declined: &[bool],
    tier: &mut Tier,
) -> Result<CompiledProgram, CompileError> {
    let (generated, reasons) = generate_with_tier(verified, declined, tier);
    link(generated, reasons, verified.program())
}

/// Makes the generated code executable and the function table.
fn link(
    generated: crate::codegen::Generated,
    declined: Vec<Option<String>>,
    program: &Program,
) -> Result<CompiledProgram, CompileError> {
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
        declined,
    })
}

/// What a native run gives back from its thread.
struct NativeEnd {
    word: u64,
    error: Option<ErrorKind>,
    trace: Vec<(stage1::FnId, usize)>,
    runtime_calls: [u64; RuntimeCall::COUNT],
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

    /// Runs `compiled` from `main` on a thread of its own; `Err` (why) when no thread
    /// with the stack it needs can be made, before anything ran.
    fn run_native(
        &mut self,
        verified: &Verified,
        compiled: &CompiledProgram,
        recursive: &[bool],
        out: &mut dyn Write,
    ) -> Result<Result<Value, RuntimeError>, String> {
        run_compiled(
            verified,
            compiled,
            recursive,
            &mut self.heap,
            out,
            &mut self.stats,
        )
    }

    /// Runs the whole program in the interpreter, the tier below, with an event that
    /// says why (`function` names what could not be compiled, or `<program>`).
    fn run_interpreted(
        &mut self,
        verified: &Verified,
        out: &mut dyn Write,
        function: String,
        reason: String,
        start: Instant,
    ) -> Result<String, RuntimeError> {
        let mut interp = Interpreter::with_options(interp::Options {
            heap_limit: self.options.heap_limit,
            ..interp::Options::default()
        });
        let result = interp.run(verified, out);
        let events = std::mem::take(&mut self.stats.events);
        self.stats = interp.stats().clone();
        self.stats.events = events;
        self.stats.events.push(Event::NotCompiled {
            function,
            tier: TIER,
            reason,
        });
        self.stats.run_time = start.elapsed();
        result
    }
}

/// Runs `compiled` (by the templates alone or mixed with a higher tier, see
/// [`compile_program_with_tier`]) from `main` on a native thread ([`runner`]), with the
/// program's output streamed to `out`; the calls made and the runtime calls go to
/// `stats`, and the values live on `heap`. `recursive` says which functions can
/// recurse ([`stack::recursive_functions`]), which sizes the stack; `Err` (why) when
/// no thread with that stack can be made, before anything ran.
pub fn run_compiled(
    verified: &Verified,
    compiled: &CompiledProgram,
    recursive: &[bool],
    heap: &mut Heap,
    out: &mut dyn Write,
    stats: &mut Stats,
) -> Result<Result<Value, RuntimeError>, String> {
    let program = verified.program();
    let compiled_mask: Vec<bool> = compiled.declined.iter().map(Option::is_none).collect();
    let compiled_mask = &compiled_mask;
    let (sink, chunks) = mpsc::sync_channel::<Vec<u8>>(OUTPUT_QUEUE);
    let stack_bytes = compiled.stack_bytes(recursive);
    let job = move || {
        let mut ctx = Context::new(program, heap, &compiled.table, Some(sink));
        // SAFETY: the trampoline was generated by `gen_trampoline` with the signature
        // of `EntryFn`; it keeps the callee-saved registers and the stack alignment,
        // and the code it calls only touches its own frames, the heap's arrays
        // (checked) and the context, which lives until the call returns. The code
        // block outlives the call.
        let entry: EntryFn = unsafe { compiled.code.fn_at(compiled.trampoline) };
        ctx.runtime.verified = verified;
        ctx.runtime.compiled = compiled_mask.as_slice();
        ctx.runtime.entry = Some(entry);
        let word = if compiled_mask[MAIN as usize] {
            let main = compiled.table[MAIN as usize].code;
            entry(&mut ctx, std::ptr::null(), main, MAX_FRAMES as u64)
        } else {
            // SAFETY: the context is live and set up for a mixed run.
            match unsafe { call_interpreted(&mut ctx, MAIN, &[], 0) } {
                Ok(v) => v.bits(),
                Err(unwind) => {
                    ctx.runtime.error = Some(unwind.kind);
                    ctx.runtime.trace = unwind.frames;
                    ERROR_WORD
                }
            }
        };
        let flushed = ctx.runtime.flush();
        NativeEnd {
            word,
            error: ctx.runtime.error,
            trace: std::mem::take(&mut ctx.runtime.trace),
            runtime_calls: ctx.runtime.runtime_calls,
            calls: ctx.native.calls,
            flushed,
        }
        // The context, and with it the output's sender, is dropped here: the loop
        // below ends.
    };
    // Stream the output to the caller's writer while the program runs; on a write
    // failure stop listening, so the program's next flush fails.
    let stream = move || {
        for chunk in chunks.iter() {
            if out.write_all(&chunk).is_err() {
                return true;
            }
        }
        false
    };
    // A panic of the run is a bug of the engine: it goes on as one, in this thread.
    let (end, write_failed) = match runner::run_on_native_stack(stack_bytes, job, stream) {
        Ok(ended) => ended,
        // No thread with that stack to be had (address space is short: `ulimit -v`):
        // nothing has run yet, so the tier below runs the whole program.
        Err(e) => {
            return Err(format!(
                "no thread with a native stack of {stack_bytes} bytes could be made ({e}): \
                 the program runs in the interpreter"
            ))
        }
    };
    stats.calls = end.calls;
    stats.runtime_calls = RuntimeCall::ALL
        .iter()
        .map(|r| (r.name(), end.runtime_calls[*r as usize]))
        .collect();
    if end.word == ERROR_WORD {
        let kind = recorded_error(end.error);
        return Ok(Err(runtime_error(program, kind, end.trace.into_iter())));
    }
    if write_failed || !end.flushed {
        return Ok(Err(RuntimeError {
            kind: ErrorKind::Output,
            trace: vec![],
            omitted: 0,
        }));
    }
    // SAFETY: `main`'s result, a value of this run on `heap`, not the error word.
    Ok(Ok(unsafe { Value::from_bits(end.word) }))
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
        let declined: Vec<bool> = program
            .functions
            .iter()
            .map(|f| self.options.interpret.contains(&f.name))
            .collect();
        let mut declined = declined;
        let recursive = stack::recursive_functions(program);
        let mut compiled = compile_program_declining(verified, &declined);
        // Functions whose frames, as deep as they may recurse, do not fit in the
        // native stack a run may reserve: they run in the interpreter.
        if let Ok(c) = &compiled {
            let frames: Vec<usize> = c.functions.iter().map(|fc| fc.frame_bytes).collect();
            let already: Vec<bool> = c.declined.iter().map(Option::is_some).collect();
            let too_big = too_big_to_run_natively(
                &frames,
                &already,
                &recursive,
                FRAME_OVERHEAD + INTERPRETED_ACTIVATION,
            );
            if !too_big.is_empty() {
                let mut reasons = c.declined.clone();
                for (i, reason) in too_big {
                    declined[i] = true;
                    reasons[i] = Some(reason);
                }
                compiled = compile_program_declining(verified, &declined).map(|mut c| {
                    for (why, reason) in c.declined.iter_mut().zip(reasons) {
                        if reason.is_some() {
                            *why = reason;
                        }
                    }
                    c
                });
            }
        }
        let compiled = match compiled {
            Ok(compiled) => compiled,
            // Run the whole program in the tier below, and say why.
            Err(e) => return self.run_interpreted(verified, out, e.function, e.reason, start),
        };
        if self.options.perf_map {
            // A map that cannot be written only costs perf its names: say so, run on.
            if let Err(e) = crate::listing::write_perf_map(&compiled, program) {
                let _ = writeln!(std::io::stderr(), "warning: cannot write the perf map: {e}");
            }
        }
        for ((fc, f), why) in compiled
            .functions
            .iter()
            .zip(&program.functions)
            .zip(&compiled.declined)
        {
            if let Some(reason) = why {
                self.stats.events.push(Event::NotCompiled {
                    function: f.name.clone(),
                    tier: TIER,
                    reason: reason.clone(),
                });
                continue;
            }
            self.stats.events.push(Event::Compiled {
                function: f.name.clone(),
                tier: TIER,
                bytecode_len: f.code.len(),
                code_bytes: fc.range.len(),
                time: fc.time,
            });
        }
        // Under the test harness, a crash in this code names its function and pc.
        let registration = crate::code_map::register(program, &compiled);
        let result = self.run_native(verified, &compiled, &recursive, out);
        drop(registration);
        let result = match result {
            Ok(result) => result,
            Err(reason) => {
                let function = "<program>".to_string();
                return self.run_interpreted(verified, out, function, reason, start);
            }
        };
        self.stats.run_time = start.elapsed();
        result.map(|v| format_value(program, &self.heap, v))
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }
}
