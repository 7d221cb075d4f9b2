//! Times the six bench kernels under the stage 1 interpreter and the template JIT
//! (best of ten runs each, a run including compilation and the native thread), and
//! the JIT's compile speed: a quick check of the margins before `cargo bench` gives
//! the real numbers.
//!
//! Compile speed is reported two ways, because a small kernel is dominated by a fixed
//! cost: `generate` is the code generator and linker alone (bytecode instructions per
//! µs), `compile_program` adds mapping the code executable (a few system calls per
//! program, whatever its size). The last row is a large generated program
//! (`jitlab_benches::large_program`, as in `cargo bench`), where the fixed cost no
//! longer matters.
//!
//! `cargo run --release -p stage3-solution --example kernels`

use std::time::{Duration, Instant};

use jitlab_benches::{large_program, LARGE_FUNCTIONS};
use stage1::interp::Interpreter;
use stage1::{Engine, Verified};
use stage3_solution::codegen::generate;
use stage3_solution::{compile_program, Jit};

/// Runs per engine and kernel; the best one counts (the others see noise).
const RUNS: usize = 10;

/// The best of [`RUNS`] runs of `program` on `engine`.
fn best_run(engine: &mut dyn Engine, program: &Verified) -> Duration {
    (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            engine
                .run(program, &mut std::io::sink())
                .expect("the kernel runs");
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// The best time per call of `f` in µs, over batches long enough to time.
fn best_micros(mut f: impl FnMut()) -> f64 {
    const BATCH: u32 = 200;
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..BATCH {
                f();
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(BATCH)
        })
        .fold(f64::INFINITY, f64::min)
}

/// Compile speeds of `program` in instructions per µs: generation alone, and the
/// whole `compile_program`.
fn compile_speed(verified: &Verified) -> (f64, f64) {
    let n = verified.program().instruction_count() as f64;
    let generate = best_micros(|| {
        let generated = generate(verified).expect("the program compiles");
        generated.asm.assemble().expect("the code links");
    });
    let compile = best_micros(|| {
        compile_program(verified).expect("the program compiles natively");
    });
    (n / generate, n / compile)
}

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../benches/kernels");
    println!("| kernel | interpreter | template JIT | speed-up | generate (instr/µs) | compile_program (instr/µs) |");
    println!("|---|---|---|---|---|---|");
    for name in ["fib", "loop", "sieve", "matmul", "objects", "calls"] {
        let path = format!("{dir}/{name}.mini");
        let source = std::fs::read_to_string(&path).expect("the kernel exists");
        let verified = stage1::load::load_source(&path, &source).expect("the kernel loads");
        let interp = best_run(&mut Interpreter::new(), &verified);
        let jit = best_run(&mut Jit::new(), &verified);
        let (generate, compile) = compile_speed(&verified);
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {:.1}x | {generate:.1} | {compile:.1} |",
            interp.as_secs_f64() * 1e3,
            jit.as_secs_f64() * 1e3,
            interp.as_secs_f64() / jit.as_secs_f64(),
        );
    }
    let source = large_program(LARGE_FUNCTIONS);
    let verified = stage1::load::load_source("large.mini", &source).expect("it loads");
    let (generate, compile) = compile_speed(&verified);
    println!(
        "| large ({} instructions) | | | | {generate:.1} | {compile:.1} |",
        verified.program().instruction_count()
    );
    let empty = stage1::load::load_source("empty.mini", "return 0;").expect("it loads");
    let fixed = best_micros(|| {
        compile_program(&empty).expect("it compiles");
    });
    let run = best_micros(|| {
        Jit::new()
            .run(&empty, &mut std::io::sink())
            .expect("it runs");
    });
    println!("\nfixed costs: compile_program of an empty program {fixed:.1} µs, a whole run of it {run:.1} µs");
}
