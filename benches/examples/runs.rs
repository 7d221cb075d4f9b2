//! `cargo run --release -p jitlab-benches --example runs -- KERNEL ENGINE [RUNS [SIZE]]`:
//! runs one kernel in one engine RUNS times (default 200) in one process, each run
//! with a fresh engine as in the bench rows, and prints the time per run. Run it under
//! `perf stat -e page-faults,task-clock`, `strace -c -f` or `perf record` to see what
//! a run costs beyond its code. ENGINE `rust` runs the Rust twin; SIZE (default: the
//! file's, `long`: the kernel's long size) sets the kernel's `n`; KERNEL may also be
//! the path of a Mini file (say, `print 1;` for the fixed cost of a run).

use std::time::Instant;

use jitlab_benches::{ENGINES, KERNELS};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: runs KERNEL ENGINE [RUNS [SIZE|long]]";
    let kernel_name = args.first().expect(usage);
    let engine_name = args.get(1).expect(usage);
    let runs: u32 = args.get(2).map_or(200, |r| r.parse().expect(usage));
    let kernel = KERNELS.iter().find(|k| k.name == kernel_name);
    let size = match (kernel, args.get(3).map(String::as_str)) {
        (Some(k), Some("long")) => Some(k.long_size),
        (Some(_), Some(n)) => Some(n.parse().expect(usage)),
        (Some(k), None) => Some(k.size),
        (None, _) => None,
    };
    let program = match (kernel, size) {
        (Some(k), Some(n)) => k.load_at(n),
        _ => stage1::load::load_source(
            kernel_name,
            &std::fs::read_to_string(kernel_name)
                .unwrap_or_else(|e| panic!("no kernel or file {kernel_name}: {e}")),
        )
        .expect("loads"),
    };
    let start = Instant::now();
    if engine_name == "rust" {
        let rust = kernel.expect("only kernels have a Rust twin").rust;
        let n = size.expect("a kernel has a size");
        for _ in 0..runs {
            std::hint::black_box(rust(std::hint::black_box(n)));
        }
    } else {
        let engine = ENGINES
            .iter()
            .find(|e| e.name == engine_name)
            .unwrap_or_else(|| panic!("no engine {engine_name}"));
        for _ in 0..runs {
            let mut e = (engine.make)();
            e.run(&program, &mut std::io::sink())
                .expect("the program runs");
        }
    }
    let per_run = start.elapsed() / runs;
    println!("{kernel_name} {engine_name}: {runs} runs, {per_run:?} per run");
}
