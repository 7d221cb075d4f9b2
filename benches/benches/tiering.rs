//! `cargo bench --bench tiering`: what tiering buys, as criterion groups.
//!
//! - `warmup/<kernel>`: each kernel at sizes from tiny to full (the `let n = N;` line
//!   rewritten), in every engine of `jitlab_benches::ENGINES`: the interpreter,
//!   stage 3 and stage 4 compiling everything first, and stage 5 tiering. Short runs should cost what the interpreter costs (nothing
//!   is compiled), long ones what the faster of stage 3 and 4 does; criterion's
//!   report (`target/criterion/warmup_*/report/index.html`) plots time against size.
//! - `shapes_long/<shape>/<engine>`: the held-out kernels of
//!   `jitlab_benches::SHAPES` (a hot loop in a function called once or a few times,
//!   recursion that loops, a callee that moves up late, ...) at their own long size,
//!   in every engine but the interpreter: stage 5 must stay within 10% of the faster
//!   of stages 3 and 4 on shapes it was not tuned on, e.g.
//!   `cargo bench --bench tiering -- 'shapes_long/.*/stage[345]$'`.
//! - `startup`: every program of the corpus (`tests/programs/`, each runs in about a
//!   millisecond) once, per engine: tiering must not make short programs slower than
//!   the interpreter.

use std::io::sink;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode};
use jitlab_benches::{size_of, ENGINES, KERNELS, SHAPES};
use stage1::{Engine, Verified};

/// The sizes a kernel runs at: its full size divided by 1000, 100, 10 and 1 (fib,
/// whose work grows as 1.6^n, at n - 15, n - 10, n - 5, n).
fn sizes(name: &str, full: i64) -> Vec<i64> {
    let mut sizes = if name == "fib" {
        vec![full - 15, full - 10, full - 5, full]
    } else {
        [1000, 100, 10, 1]
            .iter()
            .map(|d| (full / d).max(1))
            .collect()
    };
    // A small kernel (matmul's 50) gives the same size twice.
    sizes.dedup();
    sizes
}

/// Runs `program` on a fresh engine of `make`, made outside the timing.
fn row(b: &mut criterion::Bencher, make: fn() -> Box<dyn Engine>, program: &Verified) {
    b.iter_batched_ref(
        make,
        |e| e.run(program, &mut sink()).expect("the kernel runs"),
        BatchSize::PerIteration,
    )
}

fn warmup(c: &mut Criterion) {
    for kernel in KERNELS {
        let full = size_of(kernel.source).expect("every kernel sets its size");
        let mut group = c.benchmark_group(format!("warmup_{}", kernel.name));
        for n in sizes(kernel.name, full) {
            let program = kernel.load_at(n);
            for engine in ENGINES {
                let id = BenchmarkId::new(engine.name, n);
                group.bench_with_input(id, &program, |b, p| row(b, engine.make, p));
            }
        }
        group.finish();
    }
}

fn shapes_long(c: &mut Criterion) {
    let mut group = c.benchmark_group("shapes_long");
    // Runs of tens of milliseconds: the same number of iterations in every sample.
    group.sampling_mode(SamplingMode::Flat);
    for shape in SHAPES {
        let program = shape.load_at(shape.size());
        for engine in ENGINES.iter().filter(|e| e.name != "stage1") {
            let id = BenchmarkId::new(shape.name, engine.name);
            group.bench_with_input(id, &program, |b, p| row(b, engine.make, p));
        }
    }
    group.finish();
}

/// The corpus programs that load (some are meant not to).
fn corpus() -> Vec<Verified> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/programs");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/programs")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "mini" || e == "jasm"))
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            stage1::load::load_source(&p.display().to_string(), &text).ok()
        })
        .collect()
}

fn startup(c: &mut Criterion) {
    let programs = corpus();
    let mut group = c.benchmark_group("startup");
    for engine in ENGINES {
        group.bench_function(engine.name, |b| {
            b.iter(|| {
                for p in &programs {
                    // Runtime errors are part of the corpus.
                    let _ = (engine.make)().run(p, &mut sink());
                }
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = warmup, shapes_long, startup
}
criterion_main!(benches);
