//! `cargo bench --bench kernels`: every kernel of `benches/kernels/` in Rust (the
//! ceiling) and in every engine of `jitlab_benches::ENGINES`, one criterion group per
//! kernel with one row per engine, at two sizes: the group `fib` runs `fib.mini` as it
//! is (a run of about a millisecond in a JIT, start-up included), the group
//! `fib_long` at the kernel's long size (`Kernel::long_size`: 10–40 ms in stage 3,
//! where start-up is a few percent and the ratios say what the generated code buys).
//! Then the `load` group, the cost of turning each kernel's source into a verified
//! program (parse, compile, verify); and the `stage3_compile` and `stage4_compile`
//! groups, the template and the optimizing JIT's compile speed on each kernel and on
//! a large generated program.
//!
//! The criterion settings below keep the whole bench within a few minutes; a filter
//! picks groups, e.g. `cargo bench --bench kernels -- _long/` for the long sizes only.

use std::io::sink;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use jitlab_benches::{large_program, Kernel, ENGINES, KERNELS, LARGE_FUNCTIONS};

/// One group per kernel at its file's size: `rust` (and `rust_inlined` where the
/// kernel has it), then a row per engine.
fn kernels(c: &mut Criterion) {
    for kernel in KERNELS {
        kernel_group(c, kernel, kernel.name.to_string(), kernel.size);
    }
}

/// One group per kernel at its long size, `fib_long` and so on.
fn kernels_long(c: &mut Criterion) {
    for kernel in KERNELS {
        kernel_group(c, kernel, format!("{}_long", kernel.name), kernel.long_size);
    }
}

/// The group `name`: `kernel` at size `n` in Rust, then in each engine.
fn kernel_group(c: &mut Criterion, kernel: &Kernel, name: String, n: i64) {
    let program = kernel.load_at(n);
    let mut group = c.benchmark_group(name);
    if n > kernel.size {
        // Runs of up to a few hundred milliseconds (stage 1): the same number of
        // iterations in every sample, rather than criterion's growing ones.
        group.sampling_mode(SamplingMode::Flat);
    }
    group.bench_function("rust", |b| b.iter(|| (kernel.rust)(n)));
    if let Some(inlined) = kernel.rust_inlined {
        group.bench_function("rust_inlined", |b| b.iter(|| inlined(n)));
    }
    for engine in ENGINES {
        // A fresh engine per run, made outside the timing: a run leaves its heap
        // behind (there is no garbage collector), and the next run must not pay for
        // it. (Dropping it, also outside, gives its chunks to the pool the next run's
        // heap takes from, as in any process that runs programs one after another.)
        group.bench_function(engine.name, |b| {
            b.iter_batched_ref(
                engine.make,
                |e| e.run(&program, &mut sink()).expect("the kernel runs"),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// Parse, compile and verify each kernel: the front end every engine shares.
fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    for kernel in KERNELS {
        let file = kernel.file();
        group.bench_function(kernel.name, |b| {
            b.iter(|| stage1::load::load_source(&file, kernel.source).expect("loads"))
        });
    }
    group.finish();
}

/// The template JIT's compile speed: `stage3::compile_program` on each kernel and on
/// `large`, a generated program of about 10,000 instructions (on a small kernel the
/// fixed cost of mapping the code executable dominates), with the bytecode
/// instructions as criterion's elements (so it prints instructions per second; the
/// issue's target is above 10 per microsecond).
fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("stage3_compile");
    let large = large_program(LARGE_FUNCTIONS);
    let programs = KERNELS
        .iter()
        .map(|kernel| (kernel.name, kernel.file(), kernel.source))
        .chain([("large", "large.mini".to_string(), large.as_str())]);
    for (name, file, source) in programs {
        let program = stage1::load::load_source(&file, source).expect("loads");
        let instructions = program.program().instruction_count();
        group.throughput(Throughput::Elements(instructions as u64));
        group.bench_function(name, |b| {
            b.iter(|| stage3::compile_program(&program).expect("compiles"))
        });
    }
    group.finish();
}

/// The optimizing JIT's compile speed, as [`compile`] measures the template JIT's:
/// `stage4::engine::compile` (IR, passes, registers, code for every function) on
/// each kernel and on `large`, in bytecode instructions per second.
fn compile_optimized(c: &mut Criterion) {
    let mut group = c.benchmark_group("stage4_compile");
    let large = large_program(LARGE_FUNCTIONS);
    let programs = KERNELS
        .iter()
        .map(|kernel| (kernel.name, kernel.file(), kernel.source))
        .chain([("large", "large.mini".to_string(), large.as_str())]);
    for (name, file, source) in programs {
        let program = stage1::load::load_source(&file, source).expect("loads");
        let instructions = program.program().instruction_count();
        group.throughput(Throughput::Elements(instructions as u64));
        let options = stage4::Options::default();
        group.bench_function(name, |b| {
            b.iter(|| stage4::engine::compile(&program, &options).expect("compiles"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Ten samples in two seconds per row: the kernels are long enough (milliseconds)
    // for that to be steady, and 6 kernels x 2 rows + 6 loads stay near a minute.
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = kernels, kernels_long, load, compile, compile_optimized
}
criterion_main!(benches);
