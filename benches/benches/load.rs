//! `cargo bench --bench load`: how long loading takes (parse, compile or assemble,
//! verify) as programs grow, for Mini and `.jasm`, by number of functions and by
//! number of instructions in one function, at 10k, 100k and 1M. Loading must be
//! linear (or `n log n`): the throughput criterion prints (elements per second)
//! stays about the same from one size to the next.
//!
//! The 1M sizes take about a second per load, so each group takes the fewest samples
//! criterion allows: `cargo bench --bench load -- functions` runs in a few minutes.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use jitlab_benches::{long_function, many_functions};

/// The sizes: 10k, 100k and 1M functions or instructions.
const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];

/// One group: Mini and `.jasm` loads of `make(size)` at each size.
fn group(c: &mut Criterion, name: &str, make: fn(usize) -> String) {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for size in SIZES {
        let mini = make(size);
        let program = stage1::load::load_source("bench.mini", &mini).expect("loads");
        let jasm = stage1::jasm::print(program.program());
        drop(program);
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::new("mini", size), &mini, |b, text| {
            b.iter(|| stage1::load::load_source("bench.mini", text).expect("loads"))
        });
        group.bench_with_input(BenchmarkId::new("jasm", size), &jasm, |b, text| {
            b.iter(|| stage1::load::load_source("bench.jasm", text).expect("loads"))
        });
        group.bench_with_input(BenchmarkId::new("dump", size), &jasm, |b, text| {
            let program = stage1::load::load_source("bench.jasm", text).expect("loads");
            b.iter(|| stage1::jasm::print(program.program()))
        });
    }
    group.finish();
}

/// Programs of many small functions.
fn functions(c: &mut Criterion) {
    group(c, "functions", many_functions);
}

/// One function of many instructions.
fn instructions(c: &mut Criterion) {
    group(c, "instructions", long_function);
}

criterion_group!(benches, functions, instructions);
criterion_main!(benches);
