//! Times the six bench kernels under the stage 1 interpreter and the template JIT
//! (best of three runs each), and the JIT's compile speed: a quick check of the
//! margins before `cargo bench` gives the real numbers.
//!
//! `cargo run --release -p stage3-solution --example kernels`

use std::time::{Duration, Instant};

use stage1::interp::Interpreter;
use stage1::Engine;
use stage3_solution::{compile_program, Jit};

/// The best of three runs of `program` on `engine`.
fn best_of_three(engine: &mut dyn Engine, program: &stage1::Verified) -> Duration {
    (0..3)
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

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../benches/kernels");
    println!("| kernel | interpreter | template JIT | speed-up | compile (instr/µs) |");
    println!("|---|---|---|---|---|");
    for name in ["fib", "loop", "sieve", "matmul", "objects", "calls"] {
        let path = format!("{dir}/{name}.mini");
        let source = std::fs::read_to_string(&path).expect("the kernel exists");
        let program = stage1::mini::compile(&path, &source).expect("the kernel compiles");
        let verified = stage1::verify(program, &path).expect("the kernel verifies");
        let interp = best_of_three(&mut Interpreter::new(), &verified);
        let jit = best_of_three(&mut Jit::new(), &verified);
        let instrs: usize = verified
            .program()
            .functions
            .iter()
            .map(|f| f.code.len())
            .sum();
        let start = Instant::now();
        for _ in 0..100 {
            compile_program(verified.program()).expect("the kernel compiles natively");
        }
        let per_compile = start.elapsed().as_secs_f64() * 1e6 / 100.0;
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.1}x | {:.1} |",
            interp.as_secs_f64() * 1e3,
            jit.as_secs_f64() * 1e3,
            interp.as_secs_f64() / jit.as_secs_f64(),
            instrs as f64 / per_compile
        );
    }
}
