//! Tiering by its events, in sync mode (`--sync-compile`), where tier-ups happen at
//! exactly the configured counts: the N-th call of a function is the one that
//! compiles it, the M-th back edge of a loop the one that moves its frame (OSR), and
//! only the loop that is hot moves.

use stage5::{Options, Policy, Tier};

use super::common::{isolated, load, sync, tiered, tiering_events};

/// A program that calls `f` `n` times from a loop in `main` (which stays in the
/// interpreter: its loop's threshold is out of reach).
fn calls(n: u32) -> String {
    format!(
        "fn f(x) {{ return x + 1; }}\nlet i = 0;\nlet s = 0;\nwhile i < {n} {{\n  s = s + f(i);\n  i = i + 1;\n}}\nprint s;\n"
    )
}

#[test]
fn the_nth_call_compiles_with_the_baseline_and_n_plus_m_with_the_optimizer() {
    isolated(|| {
        let program = load("calls.mini", &calls(12));
        let (run, engine) = tiered(&program, sync("calls=5,opt-calls=7,loops=1000000"));
        assert_eq!(run.lines(), ["78"]);
        // `main` is called once: it stays in the interpreter.
        assert_eq!(
            tiering_events(&engine),
            [
                "f: interpreter -> baseline (calls 5)",
                "f: baseline -> optimizing (calls 12)"
            ]
        );
        let f = &engine.functions()[1];
        assert_eq!(
            (f.name.as_str(), f.tier, f.calls),
            ("f", Tier::Optimized, 12)
        );
    });
}

#[test]
fn one_call_short_of_a_threshold_compiles_nothing() {
    isolated(|| {
        let policy = "calls=5,opt-calls=7,loops=1000000";
        let (run, engine) = tiered(&load("calls.mini", &calls(4)), sync(policy));
        assert_eq!(run.lines(), ["10"]);
        assert!(
            tiering_events(&engine).is_empty(),
            "{:?}",
            tiering_events(&engine)
        );
        let (_, five) = tiered(&load("calls.mini", &calls(5)), sync(policy));
        assert_eq!(
            tiering_events(&five),
            ["f: interpreter -> baseline (calls 5)"]
        );
        let (_, eleven) = tiered(&load("calls.mini", &calls(11)), sync(policy));
        assert_eq!(
            tiering_events(&eleven),
            ["f: interpreter -> baseline (calls 5)"]
        );
    });
}

#[test]
fn thresholds_zero_and_one_compile_at_first_sight() {
    isolated(|| {
        // `f` has a loop, so main's optimized code calls it (a small loop-free `f`
        // would be inlined there, its copy never called, and `f` would stay in its
        // baseline code).
        let source = calls(3).replace(
            "fn f(x) { return x + 1; }",
            "fn f(x) { while x < 0 { x = x + 1; } return x + 1; }",
        );
        let program = load("calls.mini", &source);
        let loop_header = header(&program, 0);
        for n in [0, 1] {
            let (run, engine) = tiered(
                &program,
                Options {
                    policy: Policy::all(n),
                    sync_compile: true,
                    ..Options::default()
                },
            );
            assert_eq!(run.lines(), ["6"]);
            assert_eq!(
                tiering_events(&engine),
                [
                    "main: interpreter -> baseline (calls 1)".to_string(),
                    "f: interpreter -> baseline (calls 1)".to_string(),
                    // main's first back edge, in its baseline code.
                    format!("osr main at {loop_header}: baseline -> optimizing"),
                    // f's second call, counted by its baseline code's prologue.
                    "f: baseline -> optimizing (calls 2)".to_string(),
                ],
                "thresholds {n}"
            );
        }
    });
}

/// `main` with a short loop (pc 4..) then a long one.
const TWO_LOOPS: &str = "let s = 0;\nlet i = 0;\nwhile i < 3 {\n  s = s + i;\n  i = i + 1;\n}\nlet j = 0;\nwhile j < 50 {\n  s = s + j;\n  j = j + 1;\n}\nprint s;\n";

/// The pc of the target of the `k`-th `loop` instruction of `main` (a loop header).
fn header(program: &stage1::Verified, k: usize) -> usize {
    program.program().functions[0]
        .code
        .iter()
        .filter_map(|i| match i {
            stage1::Instr::Loop(t) => Some(*t as usize),
            _ => None,
        })
        .nth(k)
        .expect("a loop")
}

#[test]
fn osr_moves_the_hot_loop_at_its_mth_back_edge() {
    isolated(|| {
        let program = load("loops.mini", TWO_LOOPS);
        let second = header(&program, 1);
        // main is called once: calls=2 keeps it in the interpreter but for OSR.
        let (run, engine) = tiered(&program, sync("calls=2,loops=10,opt-loops=1000000"));
        assert_eq!(run.lines(), ["1228"]);
        assert_eq!(
            tiering_events(&engine),
            [
                "main: interpreter -> baseline (loop 10)".to_string(),
                format!("osr main at {second}: interpreter -> baseline"),
            ]
        );
        let main = &engine.functions()[0];
        assert_eq!((main.back_edges, main.osr), (53, 1));
        // Nine back edges of the long loop are not enough.
        let short = TWO_LOOPS.replace("j < 50", "j < 9");
        let (_, engine) = tiered(
            &load("loops.mini", &short),
            sync("calls=2,loops=10,opt-loops=1000000"),
        );
        assert!(
            tiering_events(&engine).is_empty(),
            "{:?}",
            tiering_events(&engine)
        );
    });
}

#[test]
fn a_frame_moves_from_baseline_to_optimized_code_by_osr() {
    isolated(|| {
        let program = load("loops.mini", TWO_LOOPS);
        let second = header(&program, 1);
        let (run, engine) = tiered(&program, sync("calls=2,loops=10,opt-loops=20"));
        assert_eq!(run.lines(), ["1228"]);
        assert_eq!(
            tiering_events(&engine),
            [
                "main: interpreter -> baseline (loop 10)".to_string(),
                format!("osr main at {second}: interpreter -> baseline"),
                format!("osr main at {second}: baseline -> optimizing"),
            ]
        );
        assert_eq!(engine.functions()[0].osr, 2);
    });
}

#[test]
fn the_stats_count_tier_ups_and_osr_entries() {
    isolated(|| {
        let program = load("loops.mini", TWO_LOOPS);
        let (_, engine) = tiered(&program, sync("calls=2,loops=10,opt-loops=20"));
        let counter = |name: &str| {
            stage1::Engine::stats(&engine)
                .counters
                .iter()
                .find(|(n, _)| *n == name)
                .map(|&(_, v)| v)
        };
        assert_eq!(counter("tier-ups"), Some(1));
        assert_eq!(counter("OSR entries"), Some(2));
    });
}

#[test]
fn the_call_that_trips_the_counter_already_runs_the_new_code() {
    isolated(|| {
        // Only native code prints through the runtime's `print` helper, which the
        // stats count: calls 5 to 9 of f run in baseline code, the first four in the
        // interpreter.
        let source =
            "fn f(x) { print x; return 0; }\nlet i = 0;\nwhile i < 9 { f(i); i = i + 1; }\n";
        let (run, engine) = tiered(&load("prints.mini", source), sync("calls=5,loops=1000000"));
        assert_eq!(run.lines().len(), 9);
        let prints = stage1::Engine::stats(&engine)
            .runtime_calls
            .iter()
            .find(|(name, _)| *name == "print")
            .map(|&(_, n)| n);
        assert_eq!(prints, Some(5));
    });
}

#[test]
fn the_tier_table_times_each_tier_where_the_frame_ran() {
    isolated(|| {
        // main's frame runs in the interpreter, moves to baseline code at the 10th
        // back edge of the long loop and to optimized code 20 back edges later.
        let program = load("loops.mini", TWO_LOOPS);
        let (_, engine) = tiered(&program, sync("calls=1000000,loops=10,opt-loops=20"));
        let main = &engine.functions()[0];
        let [interpreted, baseline, optimized] = main.tier_time;
        assert!(interpreted > std::time::Duration::ZERO, "{main:?}");
        assert!(baseline > std::time::Duration::ZERO, "{main:?}");
        assert!(optimized > std::time::Duration::ZERO, "{main:?}");
        // Nothing compiled: all of it in the interpreter.
        let (_, engine) = tiered(&program, sync("1000000"));
        let [_, baseline, optimized] = engine.functions()[0].tier_time;
        assert_eq!(
            (baseline, optimized),
            (std::time::Duration::ZERO, std::time::Duration::ZERO)
        );
    });
}

#[test]
fn a_function_whose_calls_keep_entering_its_osr_variant_is_optimized_whole() {
    isolated(|| {
        // `work` is called 30 times and never trips its call counter; its loop of 40
        // trips is hot in every call. The first call moves into baseline code at the
        // 5th back edge and into the optimized variant (made on the spot) at the 15th;
        // each later call enters baseline code and follows into the variant at the
        // interpreter's threshold (5 back edges), until the WHOLE_AFTER_OSRS-th such
        // entry has `work` optimized whole: the calls after it run optimized code
        // from their start, and no frame of it moves any more.
        let source = "fn work(n) {\n  let s = 0;\n  let i = 0;\n  while i < n { s = s + i; i = i + 1; }\n  return s;\n}\nlet t = 0;\nlet k = 0;\nwhile k < 30 { t = t + work(40); k = k + 1; }\nprint t;\n";
        let program = load("work.mini", source);
        let policy = "calls=1000000,loops=5,opt-calls=1000000,opt-loops=10";
        let (run, engine) = tiered(&program, sync(policy));
        assert_eq!(run.lines(), ["23400"]);
        let events: Vec<String> = tiering_events(&engine)
            .into_iter()
            .filter(|e| e.contains("work"))
            .collect();
        let whole = stage5::hooks::WHOLE_AFTER_OSRS as usize;
        assert_eq!(whole, 16);
        let mut expected = vec![
            "work: interpreter -> baseline (loop 5)".to_string(),
            "osr work at 4: interpreter -> baseline".to_string(),
        ];
        expected.extend((0..whole).map(|_| "osr work at 4: baseline -> optimizing".to_string()));
        // The first frame's 15 back edges, then 5 for each frame that followed.
        expected.push(format!(
            "work: baseline -> optimizing (loop {})",
            15 + 5 * (whole - 1)
        ));
        assert_eq!(events, expected);
        let work = &engine.functions()[1];
        assert_eq!(work.tier, Tier::Optimized);
    });
}
