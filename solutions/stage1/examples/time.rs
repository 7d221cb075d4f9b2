//! Times one program under the stage 1 interpreter, without the command line around it:
//! `cargo run --release -p stage1-solution --example time -- FILE`.

use std::time::Instant;

use stage1_solution::interp::Interpreter;
use stage1_solution::Engine;

fn main() {
    let path = std::env::args().nth(1).expect("usage: time FILE");
    let program = match stage1_solution::load::load_file(path.as_ref()) {
        Ok(program) => program,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let result = Interpreter::new().run(&program, &mut std::io::sink());
        best = best.min(start.elapsed().as_secs_f64());
        if let Err(e) = result {
            eprintln!("{e}");
        }
    }
    println!("best of 5: {:.1} ms", best * 1e3);
}
