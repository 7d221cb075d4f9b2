//! The frames of inlined calls. Optimized code with bets keeps `FRAMES_LEFT` at its
//! own function's count: an inlined call takes no frame of its own, one check at the
//! entry says that frames are left for the deepest nest of inlined calls, and when
//! they are not (only the last few frames before the limit) the call runs in the
//! interpreter, which checks every frame; an OSR variant, entered with no such check,
//! checks each inlined call against the frames left instead. Either way `stack
//! overflow` must come at the interpreter's call, with its trace, and every call —
//! inlined, real, or run in the interpreter — must be counted as the interpreter
//! counts it.

use jitlab_testkit::isolate;
use stage1::interp::Interpreter;
use stage1::Engine;

use super::common::{
    compare, deopts, every_config, harness, isolated, load, run_on, speculating, DESIGNED,
};

/// `fib` optimized (inlined into itself, three deep), then called below `pad(k)`:
/// `main`, `k + 1` frames of `pad` and `fib(7)`'s 7 levels make `k + 9` frames, so
/// that `k = 9991` fills the limit exactly and `9992` is one frame past it. `pad`
/// has a loop, so nothing is inlined into it and its frames take one each, as the
/// interpreter's: only `fib`'s entry meets the limit.
fn fib_below(k: usize) -> String {
    format!(
        "fn fib(n) {{
  if n < 2 {{ return n; }}
  return fib(n - 1) + fib(n - 2);
}}
fn pad(k) {{
  let j = 0;
  while j < 1 {{ j = j + 1; }}
  if k == 0 {{ return fib(7); }}
  return pad(k - 1);
}}
print fib(20);
print pad({k});
"
    )
}

/// `spin(n)` loops `n` times calling `leaf2`, which calls `leaf3` only once its
/// argument passes 50,000: `warm` has made that branch's profile, so `spin`'s loop is
/// optimized by OSR with both calls inlined and the deeper one first made at trip
/// 50,001. `spin` runs under `down(d)` (which has a loop, so no copies of its own):
/// `main`, `d + 1` frames of `down`, `spin`, `leaf2` and `leaf3` make `d + 5`, so
/// that `d = 9995` fills the limit and the inlined `leaf3` of `d = 9996` is one frame
/// past it.
fn spin_below(d: usize) -> String {
    format!(
        "fn leaf3(x) {{ return x + 1; }}
fn leaf2(x) {{
  if x > 50000 {{ return leaf3(x) + 1; }}
  return x;
}}
fn warm() {{
  let i = 0;
  let s = 0;
  while i < 3000 {{
    s = (s + leaf2(i * 40)) % 1000003;
    i = i + 1;
  }}
  return s;
}}
fn spin(n) {{
  let i = 0;
  let s = 0;
  while i < n {{
    s = (s + leaf2(i)) % 1000003;
    i = i + 1;
  }}
  return s;
}}
fn down(d, n) {{
  let j = 0;
  while j < 1 {{ j = j + 1; }}
  if d == 0 {{ return spin(n); }}
  return down(d - 1, n);
}}
print warm();
print down({d}, 100000);
"
    )
}

/// Runs `source` under every configuration (run number `seed`) and checks each run
/// against the interpreter's: output, result, the error's whole trace, and the calls
/// counted.
fn agrees_and_counts(name: &str, source: &str, seed: u64) -> Result<(), String> {
    let program = load(name, source);
    let mut interpreter = Interpreter::new();
    let expected = run_on(&mut interpreter, &program);
    let want = interpreter.stats().calls;
    for config in every_config() {
        let (run, engine) = speculating(&program, config.options(seed));
        compare(name, source, &expected, &run).map_err(|e| format!("under {config}:\n{e}"))?;
        let got = engine.stats().calls;
        if got != want {
            return Err(format!(
                "{name} under {config}: {got} calls counted, the interpreter made {want}"
            ));
        }
    }
    Ok(())
}

/// `chain(k, 7)` recurses `k` levels (inlined into itself) and then calls `fib(7)`,
/// whose 41 calls the warm-up never saw from there: the branch to it was pruned, so
/// the code deopts and the interpreter makes them.
fn chain(k: usize) -> String {
    format!(
        "fn fib(n) {{
  if n < 2 {{ return n; }}
  return fib(n - 1) + fib(n - 2);
}}
fn chain(k, n) {{
  if k == 0 {{ return fib(n); }}
  return chain(k - 1, n);
}}
print fib(20);
print chain({k}, 7);
"
    )
}

#[test]
fn the_calls_of_frames_resumed_by_a_deopt_are_counted() {
    isolated(|| {
        let source = chain(6000);
        let program = load("chain.mini", &source);
        let (_, engine) = speculating(&program, DESIGNED.options(0));
        assert!(
            !deopts(&engine, &program).is_empty(),
            "chain's code deopts at `k == 0`"
        );
        if let Err(report) = agrees_and_counts("chain.mini", &source, 0) {
            panic!("{report}");
        }
    });
}

#[test]
fn an_entry_short_of_frames_for_its_copies_runs_the_call_in_the_interpreter() {
    // At `k` from 9986 to 9992, `fib`'s optimized entry finds from 5 frames down to
    // none left beyond its own: some calls fit in the copies, some go to the
    // interpreter, the last one overflows.
    let ks: Vec<usize> = (9986..=9992).collect();
    let failures = harness().max_failures(ks.len()).each(
        ks.len(),
        |i| format!("pad {}\n", ks[i]),
        |i| {
            let k = ks[i];
            let source = fib_below(k);
            let program = load("fib_below.mini", &source);
            let expected = run_on(&mut Interpreter::new(), &program);
            if k <= 9991 {
                assert_eq!(expected.lines(), ["6765", "13"]);
            } else {
                assert_eq!(expected.error().kind.message(), "stack overflow");
            }
            agrees_and_counts("fib_below.mini", &source, k as u64)
        },
    );
    assert!(failures.is_empty(), "{}", isolate::report(&failures));
}

#[test]
fn an_osr_variant_checks_each_inlined_call_against_the_frames_left() {
    let ds: Vec<usize> = (9993..=9997).collect();
    let failures = harness().max_failures(ds.len()).each(
        ds.len(),
        |i| format!("down {}\n", ds[i]),
        |i| {
            let d = ds[i];
            let source = spin_below(d);
            let program = load("spin_below.mini", &source);
            let expected = run_on(&mut Interpreter::new(), &program);
            if d <= 9995 {
                assert_eq!(expected.lines().len(), 2);
            } else {
                assert_eq!(expected.error().kind.message(), "stack overflow");
            }
            agrees_and_counts("spin_below.mini", &source, d as u64)
        },
    );
    assert!(failures.is_empty(), "{}", isolate::report(&failures));
}

#[test]
fn the_copies_of_fib_take_no_frame_each_and_its_entry_checks_once() {
    // What the tests above pin down, in the code: one `sub rbx, 1` (the prologue's
    // frame) in fib's optimized code, however many copies of itself it holds.
    isolated(|| {
        let source = "fn fib(n) {\n  if n < 2 { return n; }\n  return fib(n - 1) + fib(n - 2);\n}\nprint fib(20);\n";
        let listing = stage7::dump::asm_listing(&load("fib.mini", source));
        let fib = listing
            .split("; compile ")
            .find(|section| section.starts_with("1 of fib:"))
            .unwrap_or_else(|| panic!("no optimizing compile of fib:\n{listing}"));
        let enters = fib
            .lines()
            .filter(|l| l.trim_end().ends_with("enter"))
            .count();
        assert!(enters >= 2, "fib is inlined into itself:\n{fib}");
        let takes = fib.matches("sub rbx, 0x1").count();
        assert_eq!(takes, 1, "one frame taken, at the entry:\n{fib}");
        assert_eq!(
            fib.matches("cmp rbx,").count(),
            1,
            "one budget check:\n{fib}"
        );
    });
}
