//! Mixed stacks: frames of the three tiers call each other in every order, a function
//! tiers up while thousands of its own interpreter frames are live, and an error
//! thrown in any tier under frames of the others gives the interpreter's exact trace.

use stage1::interp::Interpreter;
use stage5::{Options, Policy, Tier};

use super::common::{isolated, load, run_on, sync, tiered, tiering_events};

const RECURSION: &str =
    "fn r(n) {\n  if n == 0 { return 0; }\n  return r(n - 1) + 1;\n}\nprint r(9000);\n";

#[test]
fn a_recursive_function_tiers_up_under_5000_of_its_interpreter_frames() {
    isolated(|| {
        let program = load("recursion.mini", RECURSION);
        // The 5,000th call (4,999 frames of r live) compiles r; the calls below it
        // run its baseline code, then from the 7,000th its optimized code, and the
        // results return through every interpreter frame above.
        let (run, engine) = tiered(&program, sync("calls=5000,opt-calls=2000,loops=1000000"));
        assert_eq!(run.lines(), ["9000"]);
        assert_eq!(
            tiering_events(&engine),
            [
                "r: interpreter -> baseline (calls 5000)",
                "r: baseline -> optimizing (calls 7000)"
            ]
        );
        // In the background too, whenever the optimized code comes.
        let (run, _) = tiered(
            &program,
            Options {
                policy: "calls=5000,opt-calls=1".parse().expect("a policy"),
                ..Options::default()
            },
        );
        assert_eq!(run.lines(), ["9000"]);
    });
}

#[test]
fn the_depth_limit_counts_the_frames_of_every_tier() {
    isolated(|| {
        for depth in [9998, 9999] {
            let source = RECURSION.replace("9000", &depth.to_string());
            let program = load("recursion.mini", &source);
            let expected = run_on(&mut Interpreter::new(), &program);
            for policy in [
                "calls=5000,opt-calls=2000",
                "calls=0",
                "calls=1,opt-calls=9000",
            ] {
                let (actual, _) = tiered(&program, sync(policy));
                assert_eq!(
                    (&actual.output, &actual.result),
                    (&expected.output, &expected.result),
                    "depth {depth}, {policy}"
                );
            }
        }
        // main and 9,999 frames of r fit; one more is a stack overflow.
        let fits = load("r.mini", &RECURSION.replace("9000", "9998"));
        assert_eq!(tiered(&fits, sync("calls=0")).0.lines(), ["9998"]);
        let over = load("r.mini", &RECURSION.replace("9000", "9999"));
        let (run, _) = tiered(&over, sync("calls=0"));
        assert_eq!(run.error().kind.message(), "stack overflow");
    });
}

/// Three functions that call each other in a ring; the one reached with `k == 0`
/// divides by `x`. Each is called 3 times by the warm-up, so that its thresholds
/// put it in its tier before the failing call.
const RING: &str = "fn t0(x, k) { if k == 0 { return 100 / x; } return t1(x, k - 1) + 1; }\n\
fn t1(x, k) { if k == 0 { return 100 / x; } return t2(x, k - 1) + 1; }\n\
fn t2(x, k) { if k == 0 { return 100 / x; } return t0(x, k - 1) + 1; }\n\
let i = 0;\n\
while i < 3 { print t0(1, 2); i = i + 1; }\n\
print t0(0, K);\n";

/// Thresholds that leave a function in `tier` after three calls.
fn policy_for(tier: Tier) -> Policy {
    let never = 1_000_000;
    match tier {
        Tier::Interpreter => Policy::all(never),
        Tier::Baseline => Policy {
            calls: 1,
            loops: never,
            opt_calls: never,
            opt_loops: never,
        },
        Tier::Optimized => Policy {
            calls: 1,
            loops: never,
            opt_calls: 1,
            opt_loops: never,
        },
    }
}

#[test]
fn errors_from_each_tier_under_frames_of_the_others_give_the_interpreters_trace() {
    isolated(|| {
        use Tier::{Baseline as B, Interpreter as I, Optimized as O};
        let orders = [
            [I, B, O],
            [I, O, B],
            [B, I, O],
            [B, O, I],
            [O, I, B],
            [O, B, I],
        ];
        for k in 0..6 {
            let source = RING.replace('K', &k.to_string());
            let program = load("ring.mini", &source);
            let expected = run_on(&mut Interpreter::new(), &program);
            assert_eq!(expected.error().kind.message(), "division by zero");
            assert_eq!(expected.error().trace.len(), k + 2, "{k}");
            for order in orders {
                let mut per_function = vec![Policy::all(1_000_000)];
                per_function.extend(order.iter().map(|&t| policy_for(t)));
                for sync_compile in [true, false] {
                    let (actual, engine) = tiered(
                        &program,
                        Options {
                            per_function: per_function.clone(),
                            sync_compile,
                            ..Options::default()
                        },
                    );
                    assert_eq!(
                        (&actual.output, &actual.result),
                        (&expected.output, &expected.result),
                        "k = {k}, tiers {order:?}, sync {sync_compile}"
                    );
                    if sync_compile {
                        let tiers: Vec<Tier> =
                            engine.functions()[1..].iter().map(|f| f.tier).collect();
                        assert_eq!(tiers, order, "{:?}", tiering_events(&engine));
                    }
                }
            }
        }
    });
}

#[test]
fn stack_overflow_in_a_ring_of_tiers_gives_the_interpreters_trace() {
    isolated(|| {
        let source = "fn d(n) { return e(n + 1); }\nfn e(n) { return f(n + 1); }\nfn f(n) { return d(n + 1); }\nprint d(0);\n";
        let program = load("ring.mini", source);
        let expected = run_on(&mut Interpreter::new(), &program);
        assert_eq!(expected.error().kind.message(), "stack overflow");
        for policy in [
            "calls=0",
            "calls=1,opt-calls=3000",
            "calls=2000,opt-calls=1000",
            "calls=3000",
        ] {
            for sync_compile in [true, false] {
                let mut options = sync(policy);
                options.sync_compile = sync_compile;
                let (actual, _) = tiered(&program, options);
                assert_eq!(
                    (&actual.output, &actual.result),
                    (&expected.output, &expected.result),
                    "{policy}, sync {sync_compile}"
                );
            }
        }
    });
}

/// `main` calls four functions of 0, 1, 6 and 7 arguments 41 times through
/// `caller`; each weighs its arguments differently, so an argument in the wrong place
/// changes the sum, and has a loop, so that the optimizer calls it rather than
/// inlining it. At the last call `a6` divides by zero.
const ARITIES: &str = "fn a0() { let k = 0; while k < 2 { k = k + 1; } return 5 + k; }\n\
fn a1(x) { let k = 0; while k < 2 { k = k + 1; } return x * 3 + k; }\n\
fn a6(p, q, r, s, t, u) {\n\
  let k = 0; while k < 2 { k = k + 1; }\n\
  return p + 2 * q + 3 * r + 4 * s + 5 * t + 100 / u + k;\n\
}\n\
fn a7(p, q, r, s, t, u, v) {\n\
  let k = 0; while k < 2 { k = k + 1; }\n\
  return p + 2 * q + 3 * r + 4 * s + 5 * t + 6 * u + 7 * v + k;\n\
}\n\
fn caller(i) { return a0() + a1(i) + a6(i, 1, 2, 3, 4, 40 - i) + a7(1, i, 2, 3, 4, 5, i); }\n\
let i = 0;\n\
let sum = 0;\n\
while i <= 40 { sum = sum + caller(i); print sum; i = i + 1; }\n";

#[test]
fn optimized_code_passes_arguments_to_callees_of_every_tier() {
    // `caller`, optimized at its first call, reaches the callees through the
    // compiled-entry table: up to six arguments in registers (the adapter of a
    // callee not yet optimized puts them in memory), seven in memory. The error of
    // the last call passes back through the adapter.
    isolated(|| {
        use Tier::{Baseline as B, Interpreter as I, Optimized as O};
        let program = load("arities.mini", ARITIES);
        let expected = run_on(&mut Interpreter::new(), &program);
        assert_eq!(expected.error().kind.message(), "division by zero");
        for callees in [I, B, O] {
            let mut per_function = vec![Policy::all(1_000_000)];
            per_function.extend([policy_for(callees); 4]);
            per_function.push(policy_for(O));
            for sync_compile in [true, false] {
                let (actual, engine) = tiered(
                    &program,
                    Options {
                        per_function: per_function.clone(),
                        sync_compile,
                        ..Options::default()
                    },
                );
                assert_eq!(
                    (&actual.output, &actual.result),
                    (&expected.output, &expected.result),
                    "callees {callees:?}, sync {sync_compile}"
                );
                if sync_compile {
                    let tiers: Vec<Tier> = engine.functions()[1..].iter().map(|f| f.tier).collect();
                    assert_eq!(tiers, [callees, callees, callees, callees, O]);
                }
            }
        }
    });
}

#[test]
fn stack_overflow_through_optimized_calls_of_lower_tiers_gives_the_interpreters_trace() {
    // d is optimized and calls e (interpreted) and f (baseline code) through their
    // adapters, thousands of times over, until the depth limit.
    isolated(|| {
        use Tier::{Baseline as B, Interpreter as I, Optimized as O};
        let source = "fn d(n) { return e(n + 1); }\nfn e(n) { return f(n + 1); }\nfn f(n) { return d(n + 1); }\nprint d(0);\n";
        let program = load("ring.mini", source);
        let expected = run_on(&mut Interpreter::new(), &program);
        assert_eq!(expected.error().kind.message(), "stack overflow");
        for order in [[O, I, B], [O, B, I], [O, O, I]] {
            let mut per_function = vec![Policy::all(1_000_000)];
            per_function.extend(order.iter().map(|&t| policy_for(t)));
            let (actual, _) = tiered(
                &program,
                Options {
                    per_function,
                    sync_compile: true,
                    ..Options::default()
                },
            );
            assert_eq!(
                (&actual.output, &actual.result),
                (&expected.output, &expected.result),
                "tiers {order:?}"
            );
        }
    });
}
