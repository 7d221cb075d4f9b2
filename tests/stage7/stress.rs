//! The stress modes themselves: they make guards fail (`Event::Deopt` with reason
//! "stress") in every mode, inlined guards included; a seed fails the same guards
//! every run (compiling on the spot) and other seeds fail others; and without
//! speculation there is no guard to fail.

use stage1::Verified;
use stage7::{Options, Stress};

use super::common::{deopts, isolated, load, speculating, Deopt, Run};

/// A loop with bets of every kind (integer loads, a branch that goes one way, a
/// monomorphic field, a `call_value` site with one target, small calls inlined)
/// that never lose by themselves.
const BETTING: &str = "fn inc(x) {
  return x + 1;
}
fn field(o) {
  return o.x;
}
fn apply(f, x) {
  return f(x);
}
fn work(xs, o, n) {
  let s = 0;
  let i = 0;
  while i < n {
    let v = xs[i % len(xs)];
    if v < 0 {
      s = s - 1;
    }
    s = s + field(o) + apply(inc, v);
    i = i + 1;
  }
  return s;
}
let xs = [1, 2, 3, 4];
let o = {x: 10};
let r = 0;
let total = 0;
while r < 40 {
  total = total + work(xs, o, 50);
  r = r + 1;
}
print total;
";

/// `BETTING` at thresholds 1, compiling on the spot, under `stress`.
fn stressed(stress: Stress, speculation: bool) -> (Run, Vec<Deopt>) {
    let program: Verified = load("betting.mini", BETTING);
    let options = Options {
        tiered: stage5::Options {
            policy: stage5::Policy::all(1),
            sync_compile: true,
            ..stage5::Options::default()
        },
        stress,
        speculation,
        ..Options::default()
    };
    let (run, engine) = speculating(&program, options);
    assert_eq!(run.lines(), ["26920"], "under {stress:?}: {:?}", run.result);
    let all = deopts(&engine, &program);
    (run, all)
}

#[test]
fn every_stress_mode_fails_guards_and_the_answer_stays() {
    isolated(|| {
        let (_, quiet) = stressed(Stress::Off, true);
        assert!(
            quiet.iter().all(|d| d.reason != "stress"),
            "stress off: {quiet:#?}"
        );
        let mut inlined = 0;
        for stress in [
            Stress::Every(1),
            Stress::Every(2),
            Stress::Every(7),
            Stress::Seed(1),
            Stress::Seed(2),
        ] {
            let (_, all) = stressed(stress, true);
            let forced: Vec<&Deopt> = all.iter().filter(|d| d.reason == "stress").collect();
            assert!(!forced.is_empty(), "no stress deopt under {stress:?}");
            for d in &forced {
                assert_eq!(d.frames, d.inlined_depth + 1, "{d:#?}");
            }
            inlined += forced.iter().filter(|d| d.inlined_depth > 0).count();
        }
        // The calls are inlined, and their guards fail too (not under `Every(1)`
        // alone: there the first guard a code checks fails each time, and in `work`
        // and `apply` that one is their own, before any inlined call).
        assert!(inlined > 0, "no stress deopt in inlined code");
    });
}

#[test]
fn a_stress_seed_fails_the_same_guards_every_run_and_other_seeds_others() {
    isolated(|| {
        let runs: Vec<Vec<Deopt>> = (1..=4).map(|s| stressed(Stress::Seed(s), true).1).collect();
        for (s, deopts) in runs.iter().enumerate() {
            let again = stressed(Stress::Seed(s as u64 + 1), true).1;
            assert_eq!(&again, deopts, "seed {} twice", s + 1);
        }
        assert!(
            runs.windows(2).any(|w| w[0] != w[1]),
            "four seeds, the same deopts: {runs:#?}"
        );
    });
}

#[test]
fn without_speculation_stress_has_no_guard_to_fail() {
    isolated(|| {
        for stress in [Stress::Every(1), Stress::Seed(3)] {
            let (_, all) = stressed(stress, false);
            assert!(all.is_empty(), "{stress:?} without speculation: {all:#?}");
        }
    });
}
