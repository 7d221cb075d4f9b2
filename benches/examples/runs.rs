//! `cargo run --release -p jitlab-benches --example runs -- KERNEL ENGINE [RUNS [SIZE]]`:
//! runs one kernel in one engine RUNS times (default 200) in one process, each run
//! with a fresh engine as in the bench rows, and prints the time per run (wall clock,
//! and the CPU time of the whole process: a worker thread's compiles count). Run it under
//! `perf stat -e page-faults,task-clock`, `strace -c -f` or `perf record` to see what
//! a run costs beyond its code. ENGINE `rust` runs the Rust twin; SIZE (default: the
//! file's, `long`: the kernel's long size) sets the kernel's `n`; KERNEL may also be
//! the path of a Mini file (say, `print 1;` for the fixed cost of a run).
//!
//! `runs corpus ENGINE [RUNS [BASE]]`: every program of `tests/programs/` that ends
//! without an error, RUNS times each (default 100), in ENGINE and in BASE (default
//! `stage1`), in five rounds alternating the two, program by program: each
//! program's best CPU time per run in both (`CORPUS=DIR` takes another directory,
//! `TIER_UP=calls=..,loops=..` other thresholds for stage 5, `SYNC_COMPILE=1` its
//! `--sync-compile`) (the process's, so a worker thread's
//! compiles count; on a loaded machine wall time mostly measures the wait for a
//! core),
//! their ratio, the totals and the median ratio (the start-up target of stage 5).

use std::time::Instant;

use jitlab_benches::{ENGINES, KERNELS};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: runs KERNEL ENGINE [RUNS [SIZE|long]]";
    let kernel_name = args.first().expect(usage);
    let engine_name = args.get(1).expect(usage);
    if kernel_name == "corpus" {
        let runs: u32 = args.get(2).map_or(100, |r| r.parse().expect(usage));
        let base = args.get(3).map_or("stage1", String::as_str);
        return corpus(engine_name, base, runs);
    }
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
    let cpu = cpu_seconds();
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
            let mut e = make(engine);
            e.run(&program, &mut std::io::sink())
                .expect("the program runs");
        }
    }
    let per_run = start.elapsed() / runs;
    let cpu_ms = (cpu_seconds() - cpu) * 1e3 / f64::from(runs);
    println!(
        "{kernel_name} {engine_name}: {runs} runs, {per_run:?} per run ({cpu_ms:.2} ms of CPU)"
    );
}

/// The engine row called `name`.
fn engine(name: &str) -> &'static jitlab_benches::EngineRow {
    ENGINES
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no engine {name}"))
}

/// `struct timespec` of the C library.
#[repr(C)]
struct Timespec {
    seconds: i64,
    nanos: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
}

/// The CPU time of the whole process so far, in seconds (`CLOCK_PROCESS_CPUTIME_ID`).
fn cpu_seconds() -> f64 {
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut t = Timespec {
        seconds: 0,
        nanos: 0,
    };
    // SAFETY: the C library's `clock_gettime` (which std links) writes one
    // `timespec`, the one given.
    let ok = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut t) } == 0;
    assert!(ok, "clock_gettime");
    t.seconds as f64 + t.nanos as f64 * 1e-9
}

/// CPU time per run of `program` over `runs` runs, each on a fresh engine of `row`.
fn per_run(row: &jitlab_benches::EngineRow, program: &stage1::Verified, runs: u32) -> f64 {
    let start = cpu_seconds();
    for _ in 0..runs {
        let mut e = make(row);
        let _ = std::hint::black_box(e.run(program, &mut std::io::sink()));
    }
    (cpu_seconds() - start) / f64::from(runs)
}

/// A fresh engine of `row`; stage 5 with the thresholds of `TIER_UP` (as
/// `--tier-up` takes them) when it is set, for tuning them.
fn make(row: &jitlab_benches::EngineRow) -> Box<dyn stage1::Engine> {
    let policy = std::env::var("TIER_UP").ok();
    let sync_compile = std::env::var_os("SYNC_COMPILE").is_some();
    if row.name != "stage5" || (policy.is_none() && !sync_compile) {
        return (row.make)();
    }
    let defaults = stage5::Options::default();
    Box::new(stage5::Tiered::with_options(stage5::Options {
        policy: policy.map_or(defaults.policy, |p| {
            p.parse().expect("TIER_UP as --tier-up takes it")
        }),
        sync_compile,
        ..defaults
    }))
}

/// The corpus mode (see the module docs).
fn corpus(engine_name: &str, base_name: &str, runs: u32) {
    let (engine, base) = (engine(engine_name), engine(base_name));
    let dir = std::env::var_os("CORPUS").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/programs"),
        std::path::PathBuf::from,
    );
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/programs")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "mini" || e == "jasm"))
        .collect();
    files.sort();
    let (mut total, mut total_base, mut ratios) = (0.0, 0.0, Vec::new());
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(program) = stage1::load::load_source(&path.display().to_string(), &text) else {
            continue;
        };
        // Programs that end with an error are left out, as in the book's count.
        let mut probe = (base.make)();
        if probe.run(&program, &mut std::io::sink()).is_err() {
            continue;
        }
        // The best of five rounds, alternating the engines: on a loaded machine the
        // minimum is the run least disturbed.
        let (mut b, mut t) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..5 {
            b = b.min(per_run(base, &program, runs));
            t = t.min(per_run(engine, &program, runs));
        }
        total += t;
        total_base += b;
        ratios.push(t / b);
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        println!(
            "{name:40} {base_name} {:9.2} µs  {engine_name} {:9.2} µs  x{:.2}",
            b * 1e6,
            t * 1e6,
            t / b
        );
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN);
    println!(
        "{} programs, one run of each: {base_name} {:.3} ms, {engine_name} {:.3} ms \
         (x{:.2}); median program x{median:.2}",
        ratios.len(),
        total_base * 1e3,
        total * 1e3,
        total / total_base
    );
}
