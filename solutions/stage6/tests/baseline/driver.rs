//! A small driver that runs a whole program in baseline code with stage 6's fast
//! paths, without the stage 6 engine: a heap of shapes ([`ShapeModel`]), every
//! function compiled alone by stage 3 with a [`BaselineCode`] over it, called through
//! the function table from the shared trampoline. It is a stage 1 [`Engine`], so the differential checks of
//! the suites apply to it.

use std::io::Write;
use std::sync::mpsc;

use stage1::bytecode::MAIN;
use stage1::heap::{Heap, DEFAULT_HEAP_LIMIT};
use stage1::interp::trace::runtime_error;
use stage1::limits::MAX_FRAMES;
use stage1::print::format_value;
use stage1::value::ERROR_WORD;
use stage1::{Engine, ErrorKind, FnId, RuntimeError, Stats, Value, Verified};
use stage3::context::Context;
use stage3::runtime::{recorded_error, RuntimeCall};
use stage3::{compile_function, CompiledFunction, SharedCode, TierOptions};

use stage3::codegen::objects::ObjectCode;
use stage6::baseline::BaselineCode;
use stage6::ShapeModel;

/// Runs programs in baseline code with (or, `fast_paths == false`, without) stage
/// 6's fast paths, and keeps what the last run counted.
pub struct BaselineDriver {
    /// Whether to compile with the fast paths.
    pub fast_paths: bool,
    /// The heap's limit in bytes.
    pub limit: usize,
    /// Whether the model caches (`false`: as `--no-ic`, every fast path misses).
    pub caches: bool,
    /// The last run's counts: calls, and runtime calls by name.
    pub stats: Stats,
    /// The heap of the last run.
    pub heap: Heap,
}

impl BaselineDriver {
    pub fn new(fast_paths: bool) -> BaselineDriver {
        BaselineDriver {
            fast_paths,
            limit: DEFAULT_HEAP_LIMIT,
            caches: true,
            stats: Stats::default(),
            heap: Heap::new(0),
        }
    }

    /// How many runtime calls of `name` the last run made.
    pub fn runtime_calls(&self, name: &str) -> u64 {
        let found = self.stats.runtime_calls.iter().find(|(n, _)| *n == name);
        found.map_or(0, |&(_, n)| n)
    }
}

/// What the run's thread gives back.
struct End {
    word: u64,
    error: Option<ErrorKind>,
    trace: Vec<(FnId, usize)>,
    calls: u64,
    runtime_calls: Vec<(&'static str, u64)>,
    flushed: bool,
}

impl Engine for BaselineDriver {
    fn name(&self) -> &'static str {
        "baseline code with inline caches"
    }

    fn run(&mut self, verified: &Verified, out: &mut dyn Write) -> Result<String, RuntimeError> {
        let program = verified.program();
        let model = ShapeModel::new(verified, self.caches);
        let mut heap = Heap::with_model(self.limit, Box::new(model));
        let (sink, chunks) = mpsc::sync_channel::<Vec<u8>>(16);
        let heap_ref = &mut heap;
        let fast_paths = self.fast_paths;
        let (end, write_failed) = std::thread::scope(|scope| {
            let runner = std::thread::Builder::new()
                .stack_size(1 << 30)
                .spawn_scoped(scope, move || {
                    run_here(verified, fast_paths, heap_ref, sink)
                })
                .expect("a thread with a 1 GiB stack");
            let mut write_failed = false;
            for chunk in chunks.iter() {
                write_failed |= out.write_all(&chunk).is_err();
            }
            (runner.join().expect("the run does not panic"), write_failed)
        });
        self.stats = Stats {
            calls: end.calls,
            runtime_calls: end.runtime_calls,
            ..Stats::default()
        };
        self.heap = heap;
        if end.word == ERROR_WORD {
            let kind = recorded_error(end.error);
            return Err(runtime_error(program, kind, end.trace.into_iter()));
        }
        assert!(end.flushed && !write_failed, "the output was written");
        // SAFETY: the entered code's result, a value of this run on `self.heap`.
        let value = unsafe { Value::from_bits(end.word) };
        Ok(format_value(program, &self.heap, value))
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }
}

/// The run itself, on the thread that runs native code.
fn run_here(
    verified: &Verified,
    fast_paths: bool,
    heap: &mut Heap,
    sink: mpsc::SyncSender<Vec<u8>>,
) -> End {
    let program = verified.program();
    // As the tiered engine does: the fast paths asked for each function compiled,
    // `None` when the model caches nothing.
    let compiled: Vec<CompiledFunction> = (0..program.functions.len())
        .map(|f| {
            let objects = BaselineCode::of_heap(heap).filter(|_| fast_paths);
            let options = TierOptions {
                objects: objects.as_ref().map(|o| o as &dyn ObjectCode),
                ..TierOptions::default()
            };
            compile_function(verified, f as FnId, &options).expect("compiles")
        })
        .collect();
    let shared = SharedCode::new(program).expect("the shared code assembles");
    let mut table = shared.initial_table(program);
    for (entry, c) in table.iter_mut().zip(&compiled) {
        entry.code = c.entry_address();
    }
    // Under the harness, a crash in this code names its function and pc.
    let _registrations: Vec<_> = compiled
        .iter()
        .enumerate()
        .filter_map(|(f, c)| stage3::code_map::register_function(program, f as FnId, c))
        .collect();
    let mask = vec![true; program.functions.len()];
    let mut ctx = Context::new(program, heap, &table, Some(sink));
    ctx.runtime.verified = verified;
    ctx.runtime.compiled = mask.as_slice();
    ctx.runtime.entry = Some(shared.entry());
    let entry = shared.entry();
    let word = entry(
        &mut ctx,
        std::ptr::null(),
        table[MAIN as usize].code,
        MAX_FRAMES as u64,
    );
    let flushed = ctx.runtime.flush();
    End {
        word,
        error: ctx.runtime.error,
        trace: std::mem::take(&mut ctx.runtime.trace),
        calls: ctx.native.calls,
        runtime_calls: RuntimeCall::ALL
            .iter()
            .map(|r| (r.name(), ctx.runtime.runtime_calls[*r as usize]))
            .collect(),
        flushed,
    }
}
