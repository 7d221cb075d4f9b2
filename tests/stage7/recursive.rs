//! Recursive inlining: the optimizer copies a recursive function into itself, up to
//! the inlining depth (`fib` three deep: one real call per four levels of the
//! recursion), and everything a call can show stays exact in the copies. A deopt at
//! any level of the recursion rebuilds one interpreter frame per inlined copy and
//! resumes there; an error raised at any level reports every frame, as the
//! interpreter does; and the frame limit counts the copies' frames, so `stack
//! overflow` comes at the interpreter's depth whichever copy (or the real call's
//! prologue) takes the 10,001st frame.
//!
//! The recursion levels that land at each inlined depth are worked out from the
//! programs: `main` calls the optimized function (depth 0 of its code), whose copies
//! are depths 1 to 3, and the call in the deepest copy is a real call again, so
//! recursion level `L` runs at inlined depth `L % 4`.
//!
//! The runs use the default thresholds: a warm-up loop in a function of its own
//! (which `main` calls once) optimizes the recursive function, and `main`'s later
//! calls, made once each, reach its optimized code through the function table.

use jitlab_testkit::isolate;
use stage1::interp::Interpreter;

use super::common::{
    compare, deopts, differential_in, every_config, harness, isolated, load, run_on, speculating,
    stressed_at, DESIGNED, THRESHOLDS,
};

/// Recursion levels one optimized activation of a self-recursive function runs: its
/// own code and a copy per level of the engine's inlining depth.
const LEVELS_PER_ACTIVATION: usize = stage7::feedback::INLINE_MAX_DEPTH as usize + 1;

// The optimizer inlines recursion (what this file is about).
const _: () = assert!(stage7::feedback::INLINE_MAX_DEPTH >= 1);

/// `walk(n, x)` recurses `n` levels, passing `step` (`x + 1`, or an expression
/// equal to it until it fails) down; at the level where `x` first exceeds `limit` it
/// takes a branch that the warm-up never took (`warm` compiles `walk` with the
/// branch pruned and `walk` inlined into itself) and passes `pick` down instead.
/// `main` calls `walk` directly (it runs once, so its calls go through the function
/// table to `walk`'s optimized code), starting at `start`.
fn walking(limit: i64, start: i64, step: &str, pick: &str) -> String {
    format!(
        "fn walk(n, x) {{
  if n == 0 {{ return x; }}
  let y = {step};
  if x > {limit} {{ y = {pick}; }}
  return walk(n - 1, y) + 1;
}}
fn warm() {{
  let i = 0;
  let s = 0;
  while i < 3000 {{
    s = (s + walk(9, i % 100)) % 1000003;
    i = i + 1;
  }}
  return s;
}}
print warm();
print walk(9, {start});
print walk(9, 5);
"
    )
}

#[test]
fn a_branch_first_taken_in_a_recursive_copy_deopts_there_and_the_run_agrees() {
    isolated_cases(|level| {
        // `x` passes the limit at recursion level `level`.
        let limit = 1_000_000;
        let source = walking(limit, limit + 1 - level as i64, "x + 1", "x * 3");
        let program = load("walk.mini", &source);
        let expected = run_on(&mut Interpreter::new(), &program);
        let (run, engine) = speculating(&program, DESIGNED.options(0));
        compare("walk.mini", &source, &expected, &run)?;
        let all = deopts(&engine, &program);
        let first = all
            .first()
            .ok_or_else(|| format!("level {level}: no deopt at all\n{source}"))?;
        let depth = level % LEVELS_PER_ACTIVATION;
        let wanted = ("walk", "walk", "branch", 4, depth, depth + 1);
        let got = (
            first.function.as_str(),
            first.guard_function.as_str(),
            first.reason.as_str(),
            first.line,
            first.inlined_depth,
            first.frames,
        );
        if got != wanted {
            return Err(format!(
                "level {level}: the first deopt is {got:?}, not {wanted:?} (function, \
                 guard's function, reason, line, inlined depth, frames rebuilt)\n\
                 all: {all:#?}\n{source}"
            ));
        }
        Ok(())
    });
}

/// An error at recursion level `level`: raised by the interpreter after the pruned
/// branch's deopt (a division by zero in `pick`), or by the optimized code itself
/// (a division by zero in `step`, of the level where `x` is `limit + 1`).
fn failing(level: usize, in_optimized_code: bool) -> String {
    let limit = 1_000_000;
    let start = limit + 1 - level as i64;
    if in_optimized_code {
        // `(x - L) / (x - L - 1)` is 0 for every other `x` the program passes.
        let step = format!("x + 1 + (x - {limit}) / (x - {limit} - 1)");
        walking(limit, start, &step, "x * 3")
    } else {
        walking(limit, start, "x + 1", "x / (x - x)")
    }
}

#[test]
fn errors_raised_in_recursive_copies_name_every_frame() {
    let failures = harness().max_failures(16).each(
        16,
        |i| {
            format!(
                "level {} ({})\n",
                i % 8,
                ["after a deopt", "in optimized code"][i / 8]
            )
        },
        |i| {
            let source = failing(i % 8, i >= 8);
            let program = load("walk.mini", &source);
            let expected = run_on(&mut Interpreter::new(), &program);
            // The program means what it says: a division by zero with a frame per
            // recursion level, and `main`'s.
            let error = expected.error();
            assert_eq!(error.kind.message(), "division by zero", "{source}");
            assert_eq!(error.trace.len(), i % 8 + 2, "{error}\n{source}");
            let (run, _) = speculating(&program, DESIGNED.options(0));
            compare("walk.mini", &source, &expected, &run)?;
            differential_in(
                "walk.mini",
                &source,
                i as u64,
                &stressed_at(&THRESHOLDS[..2]),
            )
        },
    );
    assert!(failures.is_empty(), "{}", isolate::report(&failures));
}

/// `down(n)` recurses `n` levels below a `pad` of `k` frames, after a warm-up that
/// optimizes `down` with itself inlined: the first at the frame limit exactly, the
/// second one frame past it.
fn padded(k: usize) -> String {
    // main + (k + 1) pad frames + (n + 1) down frames: at most 10,000.
    let fits = 9997 - k;
    format!(
        "fn down(n) {{
  if n == 0 {{ return 0; }}
  return down(n - 1) + 1;
}}
fn pad(k, n) {{
  if k == 0 {{ return down(n); }}
  return pad(k - 1, n);
}}
fn warm() {{
  let i = 0;
  let s = 0;
  while i < 2000 {{
    s = s + down(10);
    i = i + 1;
  }}
  return s;
}}
print warm();
print pad({k}, {fits});
print pad({k}, {past});
",
        past = fits + 1
    )
}

#[test]
fn stack_overflow_comes_at_the_interpreters_depth_in_every_recursive_copy() {
    // With `k` pad frames the 10,001st frame is `down`'s level `9998 - k`: with the
    // engine's depth of 3, at inlined depth 2, 1, 0 (a real call's prologue) and 3
    // for k = 0 to 3, so that the frame past the limit is once at every inlined depth
    // (whose copies take no frame of their own: the entry checks that frames are left
    // for the deepest, and the interpreter runs the calls that find too few).
    let failures = harness().max_failures(4).each(
        4,
        |k| format!("pad {k}\n"),
        |k| {
            let source = padded(k);
            let program = load("padded.mini", &source);
            let expected = run_on(&mut Interpreter::new(), &program);
            assert_eq!(expected.lines(), ["20000", &(9997 - k).to_string()]);
            assert_eq!(expected.error().kind.message(), "stack overflow");
            differential_in("padded.mini", &source, k as u64, &every_config())
        },
    );
    assert!(failures.is_empty(), "{}", isolate::report(&failures));
}

#[test]
fn the_optimized_recursion_is_inlined_to_every_depth_below_the_bound() {
    // What the tests above rely on: a branch first taken at each recursion level of
    // one optimized activation deopts at that inlined depth, and at the next level
    // at depth 0 of the next activation (the deepest copy's call stays a call).
    isolated(|| {
        let limit = 1_000_000;
        let depths: Vec<usize> = (0..=LEVELS_PER_ACTIVATION)
            .map(|level| {
                let source = walking(limit, limit + 1 - level as i64, "x + 1", "x * 3");
                let program = load("walk.mini", &source);
                let (_, engine) = speculating(&program, DESIGNED.options(0));
                let all = deopts(&engine, &program);
                all.first().map_or(usize::MAX, |d| d.inlined_depth)
            })
            .collect();
        let wanted: Vec<usize> = (0..=LEVELS_PER_ACTIVATION)
            .map(|level| level % LEVELS_PER_ACTIVATION)
            .collect();
        assert_eq!(depths, wanted);
    });
}

/// Runs `case` for recursion levels 0 to 7 (two optimized activations), each in its
/// own child process, and fails with every level that failed.
fn isolated_cases(case: impl Fn(usize) -> Result<(), String>) {
    let failures = harness()
        .max_failures(8)
        .each(8, |level| format!("level {level}\n"), case);
    assert!(failures.is_empty(), "{}", isolate::report(&failures));
}
