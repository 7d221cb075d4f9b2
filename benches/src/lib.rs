//! The benchmark kernels of jitlab, and the engines that run them.
//!
//! Each kernel exists three times: as a Mini program in `benches/kernels/` (what the
//! engines run), as a plain Rust function here (the ceiling: what native code compiled
//! ahead of time by rustc does), and as a Lua program in `benches/peers/` (what real
//! interpreters do, timed by `benches/peers/compare.sh`). All three print or return
//! the same checksum, which the tests below check.
//!
//! Each Mini and Lua kernel sets its size on one line, `let n = N;` (`local n = N`),
//! so that one program runs at any size without a second copy of it:
//! [`Kernel::source_at`] rewrites the line, and the Rust twin takes the size as its
//! argument. Two sizes are the benches': [`Kernel::size`], the file's, where a run in
//! a JIT takes about a millisecond and start-up (compiling, the native thread, a
//! fresh heap) is a good part of it; and [`Kernel::long_size`], 10–40 times more
//! work, where start-up is a few percent of a run and the ratios say what the
//! generated code buys (the size `peers/compare.sh` runs the Lua peers at, too).
//! Stage 5's warm-up benches run each kernel from tiny sizes up to these.
//!
//! [`SHAPES`] are more kernels, in `benches/kernels/shapes/`, of other shapes than
//! these seven (where a hot loop sits, how often its function is called): stage 5's
//! held-out check against stages 3 and 4, the bench group `shapes_long`.

use std::hint::black_box;

use stage1::Engine;

/// One benchmark kernel: its Mini source and its Rust twin.
pub struct Kernel {
    /// The short name, as in the bench group and the file name (`fib` for `fib.mini`).
    pub name: &'static str,
    /// What the kernel exercises, in a few words.
    pub what: &'static str,
    /// The Mini program, at its own [`size`](Kernel::size).
    pub source: &'static str,
    /// The size set in `source`: a run of about a millisecond in a JIT.
    pub size: i64,
    /// The long size: a run of 10–40 ms in stage 3, where start-up no longer counts.
    pub long_size: i64,
    /// The same computation in Rust at size `n`, returning the printed checksum.
    pub rust: fn(i64) -> i64,
    /// For a kernel whose cost is its calls: the same Rust with every call inlined
    /// (the row `rust_inlined`), the floor that a JIT's inlining can approach but
    /// not pass, since what is left is the kernel's own arithmetic.
    pub rust_inlined: Option<fn(i64) -> i64>,
}

impl Kernel {
    /// The file name the source is loaded as (errors and traces name it).
    pub fn file(&self) -> String {
        format!("{}.mini", self.name)
    }

    /// The Mini program at size `n`: its `let n = N;` line rewritten.
    pub fn source_at(&self, n: i64) -> String {
        with_size(self.name, self.source, n)
    }

    /// The program at size `n`, loaded and verified.
    pub fn load_at(&self, n: i64) -> stage1::Verified {
        load_sized(&self.file(), &self.source_at(n))
    }
}

/// `source` with its first `let n = N;` line rewritten to size `n` (`name` says whose,
/// should it have none).
fn with_size(name: &str, source: &str, n: i64) -> String {
    let mut found = false;
    let lines: Vec<String> = source
        .lines()
        .map(|line| match line.strip_prefix("let n = ") {
            Some(_) if !found => {
                found = true;
                format!("let n = {n};")
            }
            _ => line.to_string(),
        })
        .collect();
    assert!(found, "kernel {name} has no size line");
    lines.join("\n") + "\n"
}

/// A kernel's source, loaded and verified as `file`.
fn load_sized(file: &str, source: &str) -> stage1::Verified {
    stage1::load::load_source(file, source)
        .unwrap_or_else(|e| panic!("kernel {file} does not load: {e}"))
}

/// A kernel of another shape than the seven of [`KERNELS`] (shape as in where its
/// hot code sits, not stage 6's shapes of objects), for stage 5's held-out
/// check (#11: "held-out kernels timed against stages 3 and 4"): the seven put their
/// hot loop in `main` or in a function called once or very often, where the tiers
/// were tuned; these put it where tiering has to decide otherwise (a loop in a
/// function called a few times, recursion whose frames started in the interpreter, a
/// callee that moves up long after its caller's loop). No Rust twin: what a shape
/// measures is stage 5 against the faster of stages 3 and 4, and each file states its
/// output at its own size in a `// expect:` comment, as the corpus does.
pub struct ShapeKernel {
    /// The short name, as in the bench rows and the file name (`benches/kernels/shapes/`).
    pub name: &'static str,
    /// Where the hot code sits, in a few words.
    pub what: &'static str,
    /// The Mini program, at its own size: a run of 10–40 ms in stage 3 (a long size,
    /// as [`Kernel::long_size`]), where what the tiers decide shows.
    pub source: &'static str,
}

impl ShapeKernel {
    /// The file name the source is loaded as.
    pub fn file(&self) -> String {
        format!("shapes/{}.mini", self.name)
    }

    /// The size set on the file's `let n = N;` line.
    pub fn size(&self) -> i64 {
        size_of(self.source).expect("every shape sets its size")
    }

    /// The Mini program at size `n`: its `let n = N;` line rewritten.
    pub fn source_at(&self, n: i64) -> String {
        with_size(self.name, self.source, n)
    }

    /// The program at size `n`, loaded and verified.
    pub fn load_at(&self, n: i64) -> stage1::Verified {
        load_sized(&self.file(), &self.source_at(n))
    }

    /// What the program prints at its own size: its `// expect:` comment.
    pub fn expected(&self) -> &'static str {
        self.source
            .lines()
            .find_map(|l| Some(l.split_once("// expect: ")?.1.trim()))
            .expect("every shape states its output")
    }
}

/// The held-out shapes ([`ShapeKernel`]), the bench group `shapes_long`.
pub const SHAPES: &[ShapeKernel] = &[
    ShapeKernel {
        name: "once",
        what: "a hot loop in a function called once",
        source: include_str!("../kernels/shapes/once.mini"),
    },
    ShapeKernel {
        name: "outer_small",
        what: "nested loops in main, a few outer trips",
        source: include_str!("../kernels/shapes/outer_small.mini"),
    },
    ShapeKernel {
        name: "few_calls",
        what: "a hot loop in a function called 8 times",
        source: include_str!("../kernels/shapes/few_calls.mini"),
    },
    ShapeKernel {
        name: "recursive",
        what: "recursion that loops (merge sort)",
        source: include_str!("../kernels/shapes/recursive.mini"),
    },
    ShapeKernel {
        name: "late_callee",
        what: "a hot loop calling a function that moves up late",
        source: include_str!("../kernels/shapes/late_callee.mini"),
    },
    ShapeKernel {
        name: "build",
        what: "a building loop: a growable array",
        source: include_str!("../kernels/shapes/build.mini"),
    },
    ShapeKernel {
        name: "repeated",
        what: "a short loop in a function called 6,000 times",
        source: include_str!("../kernels/shapes/repeated.mini"),
    },
    ShapeKernel {
        name: "after_loop",
        what: "code first run after main's OSR'd loop: fields and a new callee",
        source: include_str!("../kernels/shapes/after_loop.mini"),
    },
];

/// The six kernels of DESIGN.md, in the order of the tables, and stage 6's
/// `polymorphic`.
pub const KERNELS: &[Kernel] = &[
    Kernel {
        name: "fib",
        what: "recursive calls",
        source: include_str!("../kernels/fib.mini"),
        size: FIB_N,
        long_size: FIB_LONG,
        rust: |n| fib(black_box(n)),
        rust_inlined: None,
    },
    Kernel {
        name: "loop",
        what: "arithmetic loop",
        source: include_str!("../kernels/loop.mini"),
        size: LOOP_N,
        long_size: LOOP_LONG,
        rust: |n| arith_loop(black_box(n)),
        rust_inlined: None,
    },
    Kernel {
        name: "sieve",
        what: "array loop",
        source: include_str!("../kernels/sieve.mini"),
        size: SIEVE_N,
        long_size: SIEVE_LONG,
        rust: |n| sieve(black_box(n)),
        rust_inlined: None,
    },
    Kernel {
        name: "matmul",
        what: "matrix multiply",
        source: include_str!("../kernels/matmul.mini"),
        size: MATMUL_N,
        long_size: MATMUL_LONG,
        rust: |n| matmul(black_box(n)),
        rust_inlined: None,
    },
    Kernel {
        name: "objects",
        what: "object field access",
        source: include_str!("../kernels/objects.mini"),
        size: OBJECTS_N,
        long_size: OBJECTS_LONG,
        rust: |n| objects(black_box(n)),
        rust_inlined: None,
    },
    Kernel {
        name: "calls",
        what: "small calls",
        source: include_str!("../kernels/calls.mini"),
        size: CALLS_N,
        long_size: CALLS_LONG,
        rust: |n| calls(black_box(n)),
        rust_inlined: Some(|n| calls_inlined(black_box(n))),
    },
    Kernel {
        name: "polymorphic",
        what: "objects of three shapes",
        source: include_str!("../kernels/polymorphic.mini"),
        size: POLYMORPHIC_N,
        long_size: POLYMORPHIC_LONG,
        rust: |n| polymorphic(black_box(n)),
        rust_inlined: None,
    },
];

/// One engine the benches compare: a row of every kernel's table.
pub struct EngineRow {
    /// The row's name in criterion's output (`stage1`, later `stage3`, ...).
    pub name: &'static str,
    /// Makes a fresh engine with its default settings.
    pub make: fn() -> Box<dyn Engine>,
}

/// The engines, lowest stage first. A stage that brings an engine adds one line here,
/// and every bench and test below picks it up.
pub const ENGINES: &[EngineRow] = &[
    EngineRow {
        name: "stage1",
        make: || Box::new(stage1::interp::Interpreter::new()),
    },
    EngineRow {
        name: "stage3",
        make: || Box::new(stage3::Jit::new()),
    },
    EngineRow {
        name: "stage4",
        make: || Box::new(stage4::Optimizer::new()),
    },
    EngineRow {
        name: "stage5",
        make: || Box::new(stage5::Tiered::new()),
    },
    EngineRow {
        name: "stage6",
        make: || Box::new(stage6::Cached::new()),
    },
    EngineRow {
        name: "stage7",
        make: || Box::new(stage7::Speculating::new()),
    },
];

/// The size of `fib.mini`: fib(25).
pub const FIB_N: i64 = 25;
/// The size of `loop.mini`: iterations.
pub const LOOP_N: i64 = 400_000;
/// The size of `sieve.mini`: the primes up to this bound.
pub const SIEVE_N: i64 = 200_000;
/// The size of `matmul.mini`: the matrices are `n x n`.
pub const MATMUL_N: i64 = 50;
/// The size of `objects.mini`: rounds over 100 objects.
pub const OBJECTS_N: i64 = 1_000;
/// The size of `calls.mini`: iterations of three calls each.
pub const CALLS_N: i64 = 150_000;
/// The size of `polymorphic.mini`: objects made and passed to one function.
pub const POLYMORPHIC_N: i64 = 10_000;

/// The long size of `fib`: fib(32), 29 times the calls of fib(25).
pub const FIB_LONG: i64 = 32;
/// The long size of `loop`: 10 times the iterations.
pub const LOOP_LONG: i64 = 4_000_000;
/// The long size of `sieve`: 10 times the bound (a 16 MB array).
pub const SIEVE_LONG: i64 = 2_000_000;
/// The long size of `matmul`: 170 x 170, 39 times the multiply-adds of 50 x 50.
pub const MATMUL_LONG: i64 = 170;
/// The long size of `objects`: 20 times the rounds.
pub const OBJECTS_LONG: i64 = 20_000;
/// The long size of `calls`: 10 times the iterations.
pub const CALLS_LONG: i64 = 1_500_000;
/// The long size of `polymorphic`: 30 times the objects (300,000 objects, some 15 MB
/// of heap in stage 6, more before: there is no garbage collector).
pub const POLYMORPHIC_LONG: i64 = 300_000;

/// Recursive Fibonacci, as `fib.mini`.
pub fn fib(n: i64) -> i64 {
    if n < 2 {
        return n;
    }
    fib(n - 1) + fib(n - 2)
}

/// The arithmetic loop of `loop.mini`.
pub fn arith_loop(n: i64) -> i64 {
    let mut sum = 0;
    for i in 0..n {
        sum = sum + i * 3 - 7;
        if sum > 1_000_003 {
            sum -= 1_000_003;
        }
    }
    sum
}

/// The number of primes up to `n`, by the sieve of `sieve.mini`.
pub fn sieve(n: i64) -> i64 {
    let n = n as usize;
    let mut composite = vec![false; n + 1];
    let mut count = 0;
    for i in 2..=n {
        if !composite[i] {
            count += 1;
            let mut j = i * i;
            while j <= n {
                composite[j] = true;
                j += i;
            }
        }
    }
    count
}

/// The `n x n` matrix of `matmul.mini` whose entry `(i, j)` is `(i * seed + j) % 10`.
fn matrix(n: usize, seed: i64) -> Vec<Vec<i64>> {
    (0..n as i64)
        .map(|i| (0..n as i64).map(|j| (i * seed + j) % 10).collect())
        .collect()
}

/// The sum of the entries of the product of `matmul.mini`'s two matrices.
pub fn matmul(n: i64) -> i64 {
    let n = n as usize;
    let (a, b) = (matrix(n, 3), matrix(n, 7));
    let mut c = vec![vec![0; n]; n];
    for i in 0..n {
        for j in 0..n {
            c[i][j] = (0..n).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    c.iter().flatten().sum()
}

/// A point of `objects.mini` (a Rust struct: the field offsets are known statically).
struct Point {
    x: i64,
    y: i64,
    hits: i64,
}

/// `rounds` walks over 100 points, as `objects.mini`.
pub fn objects(rounds: i64) -> i64 {
    let mut points: Vec<Point> = (0..100)
        .map(|i| Point {
            x: i,
            y: 2 * i,
            hits: 0,
        })
        .collect();
    let mut sum = 0;
    for _ in 0..rounds {
        for p in points.iter_mut() {
            p.x = (p.x + p.y) % 1000;
            p.hits += 1;
            sum += p.x;
        }
    }
    sum + points[0].hits
}

/// `calls.mini`'s `add`, kept out of line so that the calls stay calls.
#[inline(never)]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// `calls.mini`'s `square`, kept out of line.
#[inline(never)]
fn square(x: i64) -> i64 {
    x * x
}

/// `calls.mini`'s `step`, calling `f` through a function pointer as Mini calls a value.
#[inline(never)]
fn step(sum: i64, i: i64, f: fn(i64, i64) -> i64) -> i64 {
    f(sum, square(i % 10)) % 1_000_003
}

/// The loop of small calls of `calls.mini`.
pub fn calls(n: i64) -> i64 {
    let f = black_box(add as fn(i64, i64) -> i64);
    let mut sum = 0;
    for i in 0..n {
        sum = step(sum, i, f);
    }
    sum
}

/// `calls.mini` with every call inlined: `add` still called through a function
/// value, which the compiler sees is always `add`, as a JIT's guarded inlining
/// does. What remains is the loop-carried chain `(sum + sq) % 1000003`, whose
/// latency bounds the loop.
pub fn calls_inlined(n: i64) -> i64 {
    #[inline(always)]
    fn add(a: i64, b: i64) -> i64 {
        a + b
    }
    let f: fn(i64, i64) -> i64 = add;
    let mut sum = 0;
    for i in 0..n {
        let x = i % 10;
        sum = f(sum, x * x) % 1_000_003;
    }
    sum
}

/// An object of `polymorphic.mini`: in Rust one struct, whatever order the Mini
/// program wrote its fields in (the ceiling a shape check can only approach).
struct Shape {
    x: i64,
    w: i64,
    h: i64,
}

/// `polymorphic.mini`'s `area`, kept out of line as the Mini function is a call.
#[inline(never)]
fn area(s: &mut Shape) -> i64 {
    s.x += 1;
    s.w * s.h + s.x
}

/// The loop of `polymorphic.mini`: `n` objects of three kinds, each made (on the
/// heap, as Mini's are) and passed to `area`.
pub fn polymorphic(n: i64) -> i64 {
    let mut sum = 0;
    for i in 0..n {
        let shape = match i % 3 {
            0 => Shape {
                x: i % 100,
                w: 2,
                h: 3,
            },
            1 => Shape {
                w: 4,
                h: i % 7,
                x: 1,
            },
            _ => Shape {
                h: 5,
                x: 2,
                w: i % 11,
            },
        };
        let mut s = black_box(Box::new(shape));
        sum = (sum + area(&mut s)) % 1_000_003;
    }
    sum
}

/// The number of functions of the large program the compile-speed benches use: about
/// 10,000 bytecode instructions, where the fixed cost of a compile (mapping the code
/// executable) no longer hides the code generator's speed.
pub const LARGE_FUNCTIONS: usize = 200;

/// A large generated Mini program for compile-speed benches: `count` functions (at
/// least 1), each but the first a loop with arithmetic, a comparison, an array and a
/// call of the one before, and a `main` that calls the last and prints the result.
/// Its size grows linearly with `count` (about 53 bytecode instructions a function).
pub fn large_program(count: usize) -> String {
    let mut source = String::from("fn f0(x) { return x; }\n");
    for i in 1..count {
        source.push_str(&format!(
            "fn f{i}(x) {{\n  let a = [x, x + 1, 0];\n  let s = 0;\n  let k = 0;\n  while k < 3 {{\n    if a[k] > 10 {{ s = s + a[k] * 3 - 1; }} else {{ s = s - k; }}\n    a[2] = s;\n    k = k + 1;\n  }}\n  return f{}(s % 1000 + len(a));\n}}\n",
            i - 1
        ));
    }
    source.push_str(&format!("print f{}(7);\n", count.max(1) - 1));
    source
}

/// A Mini program of `count` functions (at least 1), each `fn fI(x) { return x + I; }`
/// (4 bytecode instructions), and a `main` that calls the last: for load benches,
/// whose time must grow linearly with the number of functions.
pub fn many_functions(count: usize) -> String {
    let mut source = String::with_capacity(count * 40);
    for i in 0..count.max(1) {
        source.push_str(&format!("fn f{i}(x) {{ return x + {i}; }}\n"));
    }
    source.push_str(&format!("print f{}(1);\n", count.max(1) - 1));
    source
}

/// A Mini program whose `main` has about `instructions` bytecode instructions: a
/// straight line of `s = s + K;` (4 instructions each, K cycling through 1,000
/// constants and 1,000 locals so the pools and the scopes are not trivial).
pub fn long_function(instructions: usize) -> String {
    let lines = instructions / 4;
    let mut source = String::with_capacity(lines * 24);
    let locals = lines.min(1000);
    for k in 0..locals {
        source.push_str(&format!("let s{k} = {k};\n"));
    }
    for i in 0..lines.saturating_sub(locals) {
        let k = i % locals.max(1);
        source.push_str(&format!("s{k} = s{k} + {};\n", i % 1000 + 1));
    }
    source.push_str("print s0;\n");
    source
}

/// The size set on the kernel's `let n = N;` line, which `compare.sh` rewrites.
pub fn size_of(source: &str) -> Option<i64> {
    source
        .lines()
        .find_map(|line| line.strip_prefix("let n = ")?.strip_suffix(';'))
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a kernel at size `n` in an engine and returns what it printed, without
    /// the newline.
    fn run_in(engine: &EngineRow, kernel: &Kernel, n: i64) -> String {
        let program = kernel.load_at(n);
        let mut out = Vec::new();
        let mut e = (engine.make)();
        e.run(&program, &mut out)
            .unwrap_or_else(|e| panic!("{} fails in {}: {e}", kernel.name, engine.name));
        String::from_utf8(out).unwrap().trim_end().to_string()
    }

    #[test]
    fn every_engine_prints_the_rust_checksum() {
        for kernel in KERNELS {
            let expected = (kernel.rust)(kernel.size).to_string();
            for engine in ENGINES {
                assert_eq!(
                    run_in(engine, kernel, kernel.size),
                    expected,
                    "kernel {} in engine {}",
                    kernel.name,
                    engine.name
                );
            }
        }
    }

    #[test]
    fn every_engine_prints_the_rust_checksum_at_other_sizes() {
        // Tiny sizes, the edge cases of each loop included (no iteration at all).
        for kernel in KERNELS {
            for n in [0, 1, 2, 3, 7, kernel.size / 10 + 1] {
                let expected = (kernel.rust)(n).to_string();
                for engine in ENGINES {
                    assert_eq!(
                        run_in(engine, kernel, n),
                        expected,
                        "kernel {} at size {n} in engine {}",
                        kernel.name,
                        engine.name
                    );
                }
            }
        }
    }

    #[test]
    fn a_kernel_at_a_size_differs_from_its_file_only_in_the_size_line() {
        for kernel in KERNELS {
            assert_eq!(kernel.source_at(kernel.size), kernel.source);
            let long = kernel.source_at(kernel.long_size);
            assert_eq!(size_of(&long), Some(kernel.long_size), "{}", kernel.name);
            let differing = long
                .lines()
                .zip(kernel.source.lines())
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(differing, 1, "{}", kernel.name);
            assert_eq!(long.lines().count(), kernel.source.lines().count());
        }
    }

    #[test]
    fn the_long_sizes_are_the_peers_sizes() {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/compare.sh");
        let script = std::fs::read_to_string(&script).unwrap();
        for kernel in KERNELS {
            let line = format!("  [{}]=", kernel.name);
            let size = script
                .lines()
                .find_map(|l| l.strip_prefix(&line))
                .and_then(|n| n.parse::<i64>().ok());
            assert_eq!(size, Some(kernel.long_size), "PEER_SIZE of {}", kernel.name);
        }
    }

    #[test]
    fn the_rust_kernels_give_the_known_checksums() {
        // Computed independently (Python and Lua 5.4), so that a bug shared by the
        // Rust twin and an engine cannot hide.
        let known = [
            ("fib", 75_025),
            ("loop", 6_666_900_013),
            ("sieve", 17_984),
            ("matmul", 2_531_250),
            ("objects", 49_421_000),
            ("calls", 274_988),
            ("polymorphic", 328_349),
        ];
        for (kernel, (name, checksum)) in KERNELS.iter().zip(known) {
            assert_eq!(kernel.name, name);
            assert_eq!((kernel.rust)(kernel.size), checksum, "kernel {name}");
        }
        // At the long sizes (computed in Python).
        let long = [
            2_178_309,
            20_166_625_500_013,
            148_933,
            99_488_250,
            988_420_000,
            749_874,
            849_944,
        ];
        for (kernel, checksum) in KERNELS.iter().zip(long) {
            let n = kernel.long_size;
            assert_eq!((kernel.rust)(n), checksum, "kernel {} at {n}", kernel.name);
            if let Some(inlined) = kernel.rust_inlined {
                for n in [0, 1, 9, 10, 11, kernel.size, n] {
                    assert_eq!(
                        inlined(n),
                        (kernel.rust)(n),
                        "{} inlined at {n}",
                        kernel.name
                    );
                }
            }
        }
    }

    #[test]
    fn the_large_program_is_large_and_runs_alike_in_every_engine() {
        let source = large_program(LARGE_FUNCTIONS);
        let program = stage1::load::load_source("large.mini", &source).expect("it loads");
        let instructions = program.program().instruction_count();
        assert!(
            (9_000..12_000).contains(&instructions),
            "{instructions} instructions: the bench rows say about 10,000"
        );
        let outputs: Vec<String> = ENGINES
            .iter()
            .map(|engine| {
                let mut out = Vec::new();
                (engine.make)()
                    .run(&program, &mut out)
                    .unwrap_or_else(|e| panic!("large program fails in {}: {e}", engine.name));
                String::from_utf8(out).unwrap()
            })
            .collect();
        assert!(outputs.windows(2).all(|w| w[0] == w[1]), "{outputs:?}");
    }

    #[test]
    fn every_kernel_has_one_size_line_matching_its_rust_size() {
        for kernel in KERNELS {
            let size = kernel.size;
            let lines = kernel
                .source
                .lines()
                .filter(|l| l.starts_with("let n = "))
                .count();
            assert_eq!(
                lines, 1,
                "{}: compare.sh rewrites one size line",
                kernel.name
            );
            assert_eq!(size_of(kernel.source), Some(size), "kernel {}", kernel.name);
        }
    }

    /// Runs `program` in an engine: what it printed, without the last newline.
    fn output(engine: &EngineRow, program: &stage1::Verified, what: &str) -> String {
        let mut out = Vec::new();
        (engine.make)()
            .run(program, &mut out)
            .unwrap_or_else(|e| panic!("{what} fails in {}: {e}", engine.name));
        String::from_utf8(out).unwrap().trim_end().to_string()
    }

    #[test]
    fn every_compiling_engine_prints_each_shapes_expected_output() {
        // At the shape's own (long) size; the interpreter, which would take seconds
        // in a debug build, is the reference at the smaller sizes below.
        for shape in SHAPES {
            let program = shape.load_at(shape.size());
            for engine in ENGINES.iter().filter(|e| e.name != "stage1") {
                assert_eq!(
                    output(engine, &program, shape.name),
                    shape.expected(),
                    "shape {} in engine {}",
                    shape.name,
                    engine.name
                );
            }
        }
    }

    #[test]
    fn every_engine_agrees_with_the_interpreter_on_each_shape_at_other_sizes() {
        let interpreter = &ENGINES[0];
        assert_eq!(interpreter.name, "stage1");
        for shape in SHAPES {
            for n in [0, 1, 2, 3, 7, 100, shape.size() / 100] {
                let program = shape.load_at(n);
                let expected = output(interpreter, &program, shape.name);
                for engine in &ENGINES[1..] {
                    assert_eq!(
                        output(engine, &program, shape.name),
                        expected,
                        "shape {} at size {n} in engine {}",
                        shape.name,
                        engine.name
                    );
                }
            }
        }
    }

    #[test]
    fn every_shape_has_one_size_line_and_one_expectation() {
        for shape in SHAPES {
            let count = |prefix: &str| shape.source.lines().filter(|l| l.contains(prefix)).count();
            assert_eq!(count("let n = "), 1, "{}", shape.name);
            assert_eq!(count("// expect: "), 1, "{}", shape.name);
            let sized = shape.source_at(shape.size());
            assert_eq!(sized, shape.source, "{}", shape.name);
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels/shapes");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut names: Vec<String> = SHAPES.iter().map(|s| format!("{}.mini", s.name)).collect();
        names.sort();
        assert_eq!(
            files, names,
            "every file of kernels/shapes/ is a shape of SHAPES"
        );
    }

    #[test]
    fn every_kernel_has_a_lua_peer_of_the_same_size() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers");
        for kernel in KERNELS {
            let path = dir.join(format!("{}.lua", kernel.name));
            let lua = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let size = lua
                .lines()
                .find_map(|l| l.strip_prefix("local n = "))
                .and_then(|n| n.parse::<i64>().ok());
            assert_eq!(size, size_of(kernel.source), "{}", path.display());
        }
    }
}
