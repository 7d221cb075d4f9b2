//! Errors under speculation and stress: each runtime error raised in a function
//! inlined 0 to 3 calls deep, at the last trip of a loop that ran without it, and
//! recursion to the frame limit and past it through a small function that is
//! inlined: the output, the error and every frame of its trace are the
//! interpreter's, with no stress and with every stress mode.

use jitlab_testkit::isolate;

use super::common::{
    differential_in, every_config, harness, stressed_at, Config, Stressing, DESIGNED, THRESHOLDS,
};

/// A failing expression of `x` and `k`, one per runtime error: it fails when
/// `x == k` and gives a small integer otherwise, with no branch (so that the error
/// is raised by the optimized code itself, not after a lost branch bet).
const FAILURES: [(&str, &str); 6] = [
    ("division by zero", "x / (x - k)"),
    ("index out of bounds", "[1, 2, 3][(x == k) * 7]"),
    ("no such field", "[{w: 1, v: 2}, {v: 3}][x == k].w"),
    ("type error", "[1, [2]][x == k] + 1"),
    ("wrong number of arguments", "[one, two][x == k](x)"),
    (
        "integer overflow",
        "(x == k) * 4611686018427387903 * 2 + x % 3",
    ),
];

/// A program whose loop in `run` calls `g1`, which calls `g2` ... down to
/// `g{depth}`, where `failure` is computed: `n` trips that never fail, then `n`
/// more whose last one does. With `depth` 0 `run` computes it itself.
fn failing_at_depth(failure: &str, depth: usize, n: u32) -> String {
    let mut source =
        String::from("fn one(x) {\n  return x % 5;\n}\nfn two(x, y) {\n  return x;\n}\n");
    for level in (1..=depth).rev() {
        let body = if level == depth {
            format!("  return {failure};\n")
        } else {
            format!("  return g{}(x, k) + 1;\n", level + 1)
        };
        source.push_str(&format!("fn g{level}(x, k) {{\n{body}}}\n"));
    }
    let step = if depth == 0 {
        failure.replace('x', "i")
    } else {
        "g1(i, k)".to_string()
    };
    source.push_str(&format!(
        "fn run(n, k) {{\n  let s = 0;\n  let i = 0;\n  while i < n {{\n    s = s + {step};\n    i = i + 1;\n  }}\n  return s;\n}}\nprint run({n}, -1);\nprint run({n}, {last});\n",
        last = n - 1
    ));
    source
}

#[test]
fn failing_expressions_fail_only_at_k() {
    // The generator's own check: the interpreter raises each error, at the line of
    // the failing expression, in the innermost function.
    use stage1::interp::Interpreter;
    for (message, failure) in FAILURES {
        for depth in 0..=3 {
            let source = failing_at_depth(failure, depth, 20);
            let program = super::common::load("failing.mini", &source);
            let run = super::common::run_on(&mut Interpreter::new(), &program);
            let error = run.error();
            assert_eq!(error.kind.message(), message, "{source}");
            assert_eq!(error.trace.len(), depth + 2, "{error}\n{source}");
            assert_eq!(run.lines().len(), 1, "{source}");
        }
    }
}

/// Each failure at each depth, `n` trips a call, under `configs`.
fn assert_errors_agree(n: u32, configs: &[Config]) {
    let cases: Vec<(usize, &str, &str)> = FAILURES
        .iter()
        .flat_map(|&(message, failure)| (0..=3).map(move |depth| (depth, message, failure)))
        .collect();
    let name = |i: usize| {
        format!(
            "{}-at-depth-{}.mini",
            cases[i].1.replace(' ', "-"),
            cases[i].0
        )
    };
    let failures = harness().max_failures(cases.len()).each(
        cases.len(),
        |i| format!("{} ({} trips)\n", name(i), n),
        |i| {
            let source = failing_at_depth(cases[i].2, cases[i].0, n);
            differential_in(&name(i), &source, i as u64, configs)
        },
    );
    assert!(
        failures.is_empty(),
        "errors in inlined code differ:\n\n{}",
        isolate::report(&failures)
    );
}

#[test]
fn errors_in_code_inlined_up_to_three_deep_keep_their_trace_under_stress() {
    // Short loops: thresholds 0 and 1 optimize them from the first trips.
    assert_errors_agree(40, &stressed_at(&THRESHOLDS[..2]));
}

#[test]
fn errors_in_code_inlined_up_to_three_deep_keep_their_trace_after_warm_up() {
    // Loops long enough for the default thresholds to optimize `run` (an OSR entry
    // with the calls inlined) before the failing trip; and once with stress.
    let stressed = Config {
        stress: Stressing::Seed(0),
        ..DESIGNED
    };
    assert_errors_agree(25_000, &[DESIGNED, stressed]);
}

/// `down(0, limit)` recurses through `helper`, one frame each, `2 * limit + 1`
/// frames below `main`: after 200 short recursions (which compile both, `helper`
/// inlined into `down`), at the frame limit exactly and one level past it.
const DEEP: &str = "fn down(n, limit) {
  if n == limit { return 0; }
  return helper(n, limit);
}
fn helper(n, limit) {
  return down(n + 1, limit) + 1;
}
fn through_value(n, limit) {
  if n == limit { return 0; }
  let f = through_value;
  return f(n + 1, limit) + 1;
}
let i = 0;
let s = 0;
while i < 200 {
  s = s + down(0, 20) + through_value(0, 20);
  i = i + 1;
}
print s;
print down(0, 4999);
print through_value(0, 9998);
print down(0, 5000);
";

#[test]
fn recursion_to_the_frame_limit_and_past_it_agrees_under_stress() {
    let failures = harness().each(
        1,
        |_| "deep.mini\n".to_string(),
        |_| {
            let configs = every_config();
            differential_in("deep.mini", DEEP, 0, &configs)?;
            // Past the limit through a value call as well.
            let past = DEEP.replace("print down(0, 5000);", "print through_value(0, 9999);");
            differential_in("deep_value.mini", &past, 1, &configs)
        },
    );
    assert!(failures.is_empty(), "{}", isolate::report(&failures));
}

#[test]
fn the_deep_program_ends_in_a_stack_overflow_after_the_limit_fitted() {
    // The programs above mean what they say: under the interpreter, the recursion
    // at the limit works and the one past it overflows.
    use stage1::interp::Interpreter;
    let program = super::common::load("deep.mini", DEEP);
    let run = super::common::run_on(&mut Interpreter::new(), &program);
    assert_eq!(run.lines(), ["8000", "4999", "9998"]);
    assert_eq!(run.error().kind.message(), "stack overflow");
}
