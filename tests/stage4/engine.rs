//! The engine: what it reports (every function compiled by the optimizer, the
//! counters), errors raised by optimized code with the interpreter's message and
//! line, and mixed tiers — optimized code calling template code calling the
//! interpreter and back, on one stack, with one trace.

use stage1::{Engine, Event};
use stage4::{Optimizer, Options};

use super::common::{assert_error, assert_prints, differential, isolated, load, run_on};

const FIB: &str =
    "fn fib(n) { if n < 2 { return n; } return fib(n - 1) + fib(n - 2); }\nprint fib(20);\n";

#[test]
fn every_function_is_compiled_by_the_optimizer() {
    isolated(|| {
        let mut engine = Optimizer::new();
        let run = run_on(&mut engine, &load("fib.mini", FIB));
        assert_eq!(run.lines(), ["6765"]);
        let compiled: Vec<(&str, &str)> = engine
            .stats()
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Compiled {
                    function,
                    tier,
                    code_bytes,
                    ..
                } if *code_bytes > 0 => Some((function.as_str(), *tier)),
                _ => None,
            })
            .collect();
        assert_eq!(compiled, [("main", "optimizing"), ("fib", "optimizing")]);
        assert_eq!(engine.stats().calls, 21_892);
        assert!(
            engine
                .stats()
                .counters
                .iter()
                .any(|(name, _)| name.contains("spill")),
            "{:?}",
            engine.stats().counters
        );
    });
}

#[test]
fn optimized_code_raises_the_interpreters_errors_at_its_lines() {
    isolated(|| {
        assert_prints("let a = [1, 2, 3];\nprint a[1] * 7 - len(a);\n", &["11"]);
        assert_error(
            "let x = 7;\nlet y = x - 7;\nprint 1;\nprint x / y;\n",
            "division by zero",
            4,
        );
        assert_error(
            "let m = 4611686018427387903;\nlet i = 0;\nwhile i < 3 {\n  m = m + i;\n  i = i + 1;\n}\n",
            "integer overflow",
            4,
        );
        assert_error(
            "fn get(a, i) { return a[i]; }\nlet a = [0; 4];\nprint get(a, 3);\nprint get(a, 4);\n",
            "index out of bounds",
            1,
        );
        assert_error("fn f(n) { return f(n + 1); }\nf(0);\n", "stack overflow", 1);
        assert_error("let f = 3;\nprint f(1);\n", "type error", 2);
        assert_error(
            "fn g(a) { return a; }\nlet f = g;\nprint f(1, 2);\n",
            "wrong number of arguments",
            3,
        );
        assert_error(
            "let o = {x: 1};\nprint o.x;\nprint o.y;\n",
            "no such field",
            3,
        );
    });
}

#[test]
fn division_by_every_small_constant_agrees_with_the_interpreter() {
    isolated(|| {
        let mut source = String::from("let xs = [0, 1, -1, 7, -7, 100, -100, 4611686018427387903, -4611686018427387903 - 1];\nlet i = 0;\nwhile i < len(xs) {\n  let x = xs[i];\n");
        for d in [
            1i64,
            -1,
            2,
            -2,
            3,
            -3,
            5,
            7,
            -7,
            10,
            16,
            -16,
            1000,
            4611686018427387903,
        ] {
            source.push_str(&format!(
                "  print x / {d};\n  print x % {d};\n  print x * {d} / 3;\n"
            ));
        }
        source.push_str("  i = i + 1;\n}\n");
        // `x * d` overflows for the big ones: the run ends in that error, like the
        // interpreter's.
        differential("divide.mini", &source).unwrap_or_else(|report| panic!("{report}"));
    });
}

#[test]
fn optimized_template_and_interpreted_functions_call_each_other() {
    isolated(|| {
        let source = "fn leaf(n) { if n == 0 { return 1 / n; } return n; }\n\
                      fn mid(n) { return leaf(n) + 1; }\n\
                      fn top(n) { let f = mid; return f(n) * 2; }\n\
                      print top(3);\nprint top(0);\n";
        let program = load("mixed.mini", source);
        let expected = run_on(&mut stage1::interp::Interpreter::new(), &program);
        let mut engine = Optimizer::with_options(Options {
            baseline: vec!["mid".into()],
            interpret: vec!["leaf".into()],
            ..Options::default()
        });
        let actual = run_on(&mut engine, &program);
        assert_eq!(actual.output, expected.output);
        assert_eq!(actual.result, expected.result);
        assert_eq!(actual.lines(), ["8"]);
        let tiers: Vec<String> = engine
            .stats()
            .events
            .iter()
            .map(|e| match e {
                Event::Compiled { function, tier, .. } => format!("{function}: {tier}"),
                Event::NotCompiled { function, .. } => format!("{function}: declined"),
                _ => String::new(),
            })
            .collect();
        assert_eq!(
            tiers,
            [
                "main: optimizing",
                "leaf: declined",
                "mid: declined",
                "top: optimizing"
            ]
        );
        // The trace crosses all three tiers: leaf (interpreted), mid (template), top
        // (optimized), main (optimized).
        let trace = &actual.result.as_ref().unwrap_err().trace;
        assert_eq!(trace.len(), 4, "{trace:?}");
    });
}

#[test]
fn inlined_calls_keep_the_trace_the_frame_limit_and_the_call_count() {
    isolated(|| {
        // Each callee is small and loop-free, so it is inlined; each error is raised
        // inside the copy (or passes through it), and the trace must still name the
        // callee, then the caller at the call.
        let programs = [
            "fn inv(x) { return 100 / x; }\nfn f(a) { return inv(a) + 1; }\nprint f(5);\nprint f(0);\n",
            "fn sq(x) { return x * x; }\nfn f(a) { return sq(a) - 1; }\nprint f(3);\nprint f(4611686018427387);\n",
            "fn at(a, i) { return a[i]; }\nfn f(a) { return at(a, 1) + at(a, 2); }\nprint f([1, 2, 3]);\nprint f([1, 2]);\n",
            "fn add(a, b) { return a + b; }\nfn f(x) { return add(x, 1); }\nprint f(1);\nprint f([1]);\n",
            "fn leaf(n) { return 1 / n; }\nfn mid(n) { return leaf(n) * 2; }\nfn top(n) { return mid(n) + 1; }\nprint top(1);\nprint top(0);\n",
            // Recursion through an inlined function: the frame limit counts the
            // inlined frames, so the overflow comes at the same depth.
            "fn f(n) { return g(n) + 1; }\nfn g(n) { return f(n + 1); }\nprint f(0);\n",
            "fn down(n) { if n == 0 { return 0; } return down(n - 1) + 1; }\nprint down(5000);\nprint down(100000);\n",
            "fn fib(n) { if n < 2 { return n; } return fib(n - 1) + fib(n - 2); }\nprint fib(20);\n",
        ];
        for (k, source) in programs.iter().enumerate() {
            if let Err(report) = differential(&format!("inline-{k}.mini"), source) {
                panic!("{report}");
            }
            let mut engine = Optimizer::new();
            let _ = run_on(&mut engine, &load("inline.mini", source));
            let inlined = engine
                .stats()
                .counters
                .iter()
                .find(|(name, _)| *name == "calls inlined")
                .map(|&(_, n)| n);
            assert!(inlined > Some(0), "nothing inlined in:\n{source}");
        }
        // The calls are counted as the interpreter counts them.
        let mut interpreter = stage1::interp::Interpreter::new();
        let mut engine = Optimizer::new();
        let program = load("fib.mini", FIB);
        let _ = run_on(&mut interpreter, &program);
        let _ = run_on(&mut engine, &program);
        assert_eq!(engine.stats().calls, interpreter.stats().calls);
    });
}

#[test]
fn inlining_can_be_turned_off() {
    isolated(|| {
        let mut engine = Optimizer::with_options(Options {
            inline: false,
            ..Options::default()
        });
        let run = run_on(&mut engine, &load("fib.mini", FIB));
        assert_eq!(run.lines(), ["6765"]);
        let inlined = engine
            .stats()
            .counters
            .iter()
            .find(|(name, _)| *name == "calls inlined")
            .map(|&(_, n)| n);
        assert_eq!(inlined, Some(0));
    });
}
