//! Arrays allocated inline, in baseline and optimized code: `[v; n]` with every kind
//! of `n` (0, 1, large, past the inline limits, negative, not an integer, past the
//! heap) and of `v` (0, small and big integers, arrays, objects, functions), array
//! literals of 0 to 33 elements (the inline ones and past them, elements in
//! registers, in spill slots and constants), and `out of memory` at the very
//! allocation where the interpreter meets it, with several heap limits; every run
//! agrees with the interpreter under every configuration. A hot loop of array
//! allocations reaches the runtime once (for the heap's first chunk), and on every
//! allocation with the caches off.

use stage6::{Cached, Options};

use super::common::{
    configs, differential, differential_limited, isolated, load, run_on, CACHED, UNCACHED,
};
use super::native::baseline_only;

/// Panics with the report when `source` differs from the interpreter anywhere.
fn agrees(source: &str) {
    if let Err(report) = differential("arrays.mini", source) {
        panic!("{report}");
    }
}

#[test]
fn fills_of_every_length_and_value_agree_with_the_interpreter() {
    isolated(|| {
        // Inline: fills of up to 16 elements, and of 0 up to 4095 (a small block of
        // the heap); longer ones go to the runtime. `bad` counts wrong elements.
        let source = "fn fill(v, n) { return [v; n]; }\n\
            fn bad(a, v) { let b = 0; let i = 0; while i < len(a) { if a[i] != v { b = b + 1; } i = i + 1; } return b; }\n\
            let ns = [0, 1, 2, 7, 16, 17, 64, 4095, 4096, 5000];\n\
            let vs = [0, 1, -3, 4611686018427387903, -4611686018427387903 - 1, 1099511627776, [1, 2], {a: 1}, fill];\n\
            let r = 0;\n\
            while r < 3 {\n\
              let i = 0;\n\
              while i < len(ns) {\n\
                let j = 0;\n\
                while j < len(vs) {\n\
                  let a = fill(vs[j], ns[i]);\n\
                  print len(a);\n\
                  print bad(a, vs[j]);\n\
                  j = j + 1;\n\
                }\n\
                i = i + 1;\n\
              }\n\
              r = r + 1;\n\
            }\n\
            fn zeros(n) { return [0; n]; }\n\
            fn sevens() { return [7; 5]; }\n\
            fn bigs(n) { return [4611686018427387903; n]; }\n\
            fn rows(n) { return [[1, 2]; n]; }\n\
            fn none() { return [9; 0]; }\n\
            fn many() { return [3; 4095]; }\n\
            fn shared(n) { let m = [[0, 0]; n]; m[0][1] = 5; return m; }\n\
            let k = 0;\n\
            while k < 4 {\n\
              print zeros(k);\n\
              print sevens();\n\
              print bigs(k);\n\
              print rows(k);\n\
              print none();\n\
              print bad(many(), 3);\n\
              print shared(3);\n\
              print [{x: k}; 2];\n\
              k = k + 1;\n\
            }\n";
        agrees(source);
    });
}

/// A program that fills well for a while (so that `fill` is baseline code, then
/// optimized code, at thresholds 0 and 1), then calls it with `n`.
fn warm_then(n: &str) -> String {
    format!(
        "fn fill(v, n) {{ return [v; n]; }}\n\
         let i = 0; let s = 0;\n\
         while i < 300 {{ s = s + len(fill(i, i % 9)); i = i + 1; }}\n\
         print s;\n\
         print fill(1, {n});\n"
    )
}

#[test]
fn fills_that_fail_raise_the_interpreter_s_error_at_its_line() {
    isolated(|| {
        // Negative: index out of bounds; not an integer: type error; past 2^28 or
        // past the heap: out of memory.
        for n in [
            "-1",
            "0 - 4611686018427387903 - 1",
            "[1]",
            "{}",
            "fill",
            "268435457",
            "268435456",
        ] {
            agrees(&warm_then(n));
        }
        // Constant counts the fast path never takes.
        agrees("fn neg() { return [1; -2]; }\nprint neg();\n");
        agrees("fn arr() { return [1; [2]]; }\nprint arr();\n");
        agrees("fn big() { return [1; 5000]; }\nprint len(big());\nprint len(big());\n");
    });
}

/// A function returning an array literal of `n` elements mixing parameters,
/// constants (0, small, too big for an immediate) and locals, and a loop calling it.
fn literal_program(n: usize) -> String {
    let mut locals = String::new();
    let mut elements = Vec::new();
    for j in 0..n {
        elements.push(match j % 5 {
            0 => "a".to_string(),
            1 => format!("{j}"),
            2 => "0".to_string(),
            3 => format!("{}", 4611686018427387903i64 - j as i64),
            _ => {
                locals.push_str(&format!("let x{j} = a * {j} + b; "));
                format!("x{j}")
            }
        });
    }
    format!(
        "fn lit(a, b) {{ {locals}return [{}]; }}\n\
         let i = 0;\n\
         while i < 3 {{ print lit(i, [i]); print len(lit(i, i)); i = i + 1; }}\n",
        elements.join(", ")
    )
}

#[test]
fn literals_of_0_to_33_elements_agree_with_the_interpreter() {
    isolated(|| {
        for n in 0..=33 {
            agrees(&literal_program(n));
        }
        // Twenty values live at once: some in spill slots, read from there.
        let mut lets = String::new();
        let mut names = Vec::new();
        for j in 0..20 {
            lets.push_str(&format!("let v{j} = a + {j};\n"));
            names.push(format!("v{j}"));
        }
        let source = format!(
            "fn spill(a) {{\n{lets}let s = [{}];\nreturn [s, {}];\n}}\n\
             let i = 0;\nwhile i < 4 {{ print spill(i); i = i + 1; }}\n",
            names.join(", "),
            names.join(" + ")
        );
        agrees(&source);
    });
}

#[test]
fn out_of_memory_comes_at_the_interpreter_s_allocation() {
    isolated(|| {
        // Only arrays (objects take other bytes with shapes than with stage 1's
        // objects), in functions that become baseline and optimized code; each
        // iteration prints its number, so the output shows where the heap ran out,
        // and the error's line which allocation. Limits under the first chunk, and
        // past it (the rest of a chunk counted when the next is taken).
        let source = "fn fill(i) { return [i; i % 37]; }\n\
            fn lit(i) { return [i, i + 1, i + 2]; }\n\
            fn both(i) { return [fill(i), lit(i)]; }\n\
            let i = 0;\n\
            while i < 100000 {\n\
              let a = both(i);\n\
              print i;\n\
              i = i + 1;\n\
            }\n";
        for limit in [4096, 65536, 65536 + 8, 65536 + 16, 65536 + 24, 65536 + 40] {
            if let Err(report) = differential_limited("oom.mini", source, &configs(), limit) {
                panic!("heap limit {limit}:\n{report}");
            }
        }
        let big = "fn fill(i) { return [i; i % 300]; }\n\
            let i = 0;\n\
            while i < 100000 { let a = fill(i); let b = [i, a]; print i; i = i + 1; }\n";
        for limit in [(1 << 20) + (1 << 19), (1 << 20) + (1 << 19) + 8] {
            if let Err(report) = differential_limited("oom.mini", big, &configs(), limit) {
                panic!("heap limit {limit}:\n{report}");
            }
        }
    });
}

/// The runtime calls of `new_array` and of `new_array_fill` in a run of `source`
/// with `options` (which must agree with the interpreter).
fn array_calls(source: &str, options: Options) -> (u64, u64) {
    let program = load("test.mini", source);
    let expected = run_on(&mut stage1::interp::Interpreter::new(), &program);
    let mut engine = Cached::with_options(options);
    let run = run_on(&mut engine, &program);
    assert_eq!(run.output, expected.output, "{source}");
    assert_eq!(run.result, expected.result, "{source}");
    let calls = &stage1::Engine::stats(&engine).runtime_calls;
    let count = |name: &str| {
        calls
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |&(_, n)| n)
    };
    (count("new_array"), count("new_array_fill"))
}

#[test]
fn a_hot_loop_of_array_allocations_makes_no_runtime_call() {
    isolated(|| {
        // `make` is baseline code, then (thresholds 0) optimized from its second call.
        // The first literal takes the heap's first chunk through the runtime; all
        // the rest (under 1 MiB) fits in it.
        let source = "fn make(i) { return [[i; 3], [i, i + 1], [0; i % 5]]; }\n\
            let first = [1];\n\
            let s = 0; let i = 0;\n\
            while i < 1000 { let a = make(i); s = s + a[0][2] + a[1][1] + len(a[2]); i = i + 1; }\n\
            print s;\n";
        let inline = [
            ("baseline only", baseline_only()),
            (CACHED[0].name, (CACHED[0].options)()),
        ];
        for (name, options) in inline {
            assert_eq!(array_calls(source, options), (1, 0), "{name}");
        }
        // Without caches, no fast path: a call per allocation.
        assert_eq!(
            array_calls(source, (UNCACHED[0].options)()),
            (1 + 2 * 1000, 2 * 1000),
            "{}",
            UNCACHED[0].name
        );
    });
}
