//! The reference's own tests of its engine (the graded suite is tests/stage7/): the
//! engine's options and tables, and runs that agree with the interpreter with
//! speculation on and off, stressed or not.

extern crate stage7_solution as stage7;

#[allow(dead_code)]
#[path = "../../../tests/common/engine_run.rs"]
mod engine_run;

use engine_run::{isolated, load_verified, run_on};
use stage1::interp::Interpreter;
use stage1::{Engine, Event};
use stage5::Policy;
use stage7::{Options, Speculating, Stress};

/// Loops, calls, objects, arrays and an error: a bit of everything the bets are about.
const PROGRAM: &str = "
fn area(s) { if s.kind == 1 { return s.w * s.h; } return 3 * s.r * s.r; }
fn sum(a) { let i = 0; let t = 0; while i < len(a) { t = t + a[i]; i = i + 1; } return t; }
let shapes = [{kind: 1, w: 2, h: 3}, {kind: 2, r: 4}];
let a = [0; 50];
let i = 0;
let total = 0;
while i < 200 {
  a[i % 50] = area(shapes[i % 2]) + i;
  total = total + sum(a);
  i = i + 1;
}
print total;
print 10 / (total - total);
";

/// Options at thresholds 0 (compiled at first sight, on the spot).
fn eager(options: Options) -> Options {
    Options {
        tiered: stage5::Options {
            policy: Policy::all(0),
            sync_compile: true,
            ..stage5::Options::default()
        },
        ..options
    }
}

/// Every way the engine can be asked to run, at thresholds 0 and the defaults.
fn configurations() -> Vec<Options> {
    let mut all = Vec::new();
    for policy in [Policy::all(0), Policy::default()] {
        for (speculation, stress) in [
            (false, Stress::Off),
            (true, Stress::Off),
            (true, Stress::Every(1)),
            (true, Stress::Every(7)),
            (true, Stress::Seed(3)),
        ] {
            for caches in [true, false] {
                all.push(Options {
                    tiered: stage5::Options {
                        policy,
                        sync_compile: true,
                        ..stage5::Options::default()
                    },
                    caches,
                    speculation,
                    stress,
                    trace_deopt: false,
                });
            }
        }
    }
    all
}

#[test]
fn every_configuration_agrees_with_the_interpreter() {
    isolated(|| {
        let verified = load_verified("mixed", PROGRAM);
        let expected = run_on(&mut Interpreter::new(), &verified);
        assert!(expected.result.is_err(), "the program ends in an error");
        for options in configurations() {
            let label = format!("{options:?}");
            let mut engine = Speculating::with_options(options);
            let got = run_on(&mut engine, &verified);
            assert_eq!(got.output, expected.output, "{label}");
            assert_eq!(
                got.result.as_ref().map_err(|e| e.to_string()),
                expected.result.as_ref().map_err(|e| e.to_string()),
                "{label}"
            );
        }
    });
}

#[test]
fn the_stats_tables_are_the_caches_and_the_deopts() {
    isolated(|| {
        let verified = load_verified("mixed", PROGRAM);
        let mut engine = Speculating::with_options(eager(Options::default()));
        assert_eq!(engine.name(), "speculating JIT");
        let _ = run_on(&mut engine, &verified);
        let names: Vec<&str> = engine.functions().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["main", "area", "sum"]);
        let tables = engine.tables();
        assert_eq!(tables.len(), 2, "{tables:?}");
        assert!(tables[0].starts_with("inline caches: "), "{}", tables[0]);
        // The deopt table lists what the events say, function by function.
        let deopts = engine.deopts();
        assert_eq!(deopts.len(), 3);
        let events = engine.stats().events.iter();
        let counted = events.filter(|e| matches!(e, Event::Deopt { .. })).count() as u64;
        assert_eq!(deopts.iter().map(|d| d.total()).sum::<u64>(), counted);
        if counted == 0 {
            assert_eq!(tables[1], "deopts: none\n");
        } else {
            assert!(
                tables[1].starts_with("deopts:\n  function"),
                "{}",
                tables[1]
            );
        }
    });
}

#[test]
fn a_second_run_starts_afresh() {
    isolated(|| {
        let verified = load_verified("mixed", PROGRAM);
        let mut engine = Speculating::with_options(eager(Options {
            stress: Stress::Every(1),
            ..Options::default()
        }));
        let first = run_on(&mut engine, &verified);
        let events = engine.stats().events.clone();
        let deopts = engine.deopts();
        let second = run_on(&mut engine, &verified);
        assert_eq!(first.output, second.output);
        assert_eq!(
            engine.deopts(),
            deopts,
            "the counts are the second run's alone"
        );
        let kinds = |es: &[Event]| {
            es.iter()
                .filter(|e| matches!(e, Event::Deopt { .. } | Event::Recompiled { .. }))
                .count()
        };
        assert_eq!(kinds(&engine.stats().events), kinds(&events));
    });
}

/// A loop whose calls are inlined and whose every guard check is made to fail
/// (`Stress::Every(1)`).
const EVERY_ITERATION: &str = "
fn g(a, i) { return a[i % 10] + i; }
fn f(a, i) { if i % 3 == 0 { return g(a, i) * 2; } return g(a, i) - 1; }
let a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
let i = 0;
let t = 0;
while i < 20000 {
  t = t + f(a, i);
  i = i + 1;
}
print t;
";

#[test]
fn a_program_that_deopts_at_every_guard_settles() {
    isolated(|| {
        let verified = load_verified("every-iteration", EVERY_ITERATION);
        let expected = run_on(&mut Interpreter::new(), &verified);
        for n in [0, 1] {
            let mut engine = Speculating::with_options(Options {
                tiered: stage5::Options {
                    policy: Policy::all(n),
                    sync_compile: true,
                    ..stage5::Options::default()
                },
                stress: Stress::Every(1),
                ..Options::default()
            });
            let got = run_on(&mut engine, &verified);
            assert_eq!(got.output, expected.output, "thresholds {n}");
            let events = &engine.stats().events;
            let mut total = 0;
            for name in ["main", "f", "g"] {
                let deopts = events
                    .iter()
                    .filter(|e| matches!(e, Event::Deopt { function, .. } if function == name))
                    .count();
                let recompiles: Vec<(u32, bool)> = events
                    .iter()
                    .filter_map(|e| match e {
                        Event::Recompiled {
                            function,
                            count,
                            speculating,
                            ..
                        } if function == name => Some((*count, *speculating)),
                        _ => None,
                    })
                    .collect();
                // Each speculating compile deopts once at most (its first guard
                // check) and may be made again (not for a loop whose frame may not
                // OSR again), then the function gives up: no optimize/deopt loop.
                let max = stage7::policy::MAX_RECOMPILES as usize + 1;
                assert!(deopts <= max, "{name} at thresholds {n}: {events:#?}");
                assert!(recompiles.len() <= deopts, "{name} at thresholds {n}");
                let expected: Vec<(u32, bool)> = (2..=max as u32 + 1)
                    .map(|c| (c, c <= max as u32))
                    .take(recompiles.len())
                    .collect();
                assert_eq!(recompiles, expected, "{name} at thresholds {n}");
                total += deopts;
            }
            // The stress did make code deoptimize, and the table counts it.
            assert!(total > 0, "no deopt at thresholds {n}");
            assert!(
                engine.tables()[1].contains("stress "),
                "{:?}",
                engine.tables()
            );
        }
    });
}
