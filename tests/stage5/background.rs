//! Background compilation: the optimizer works on a worker thread while the program
//! goes on; a program that ends with compilations still queued exits cleanly, and no
//! run leaves a thread behind: a thread's runs share the one worker it made first.

use jitlab_testkit::random;
use stage5::{Options, Policy};

use super::common::{isolated, load, tiered};

/// The threads of this process, from the kernel's list, once the threads parked
/// between runs (`stage3::runner`, kept on purpose) are retired.
fn threads() -> usize {
    stage3::runner::retire_parked();
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task lists the threads")
        .count()
}

#[test]
fn hundreds_of_short_programs_end_with_compilations_queued_and_leak_no_thread() {
    isolated(|| {
        let had_worker = stage5::queue::has_worker();
        let before = threads();
        let mut unfinished = 0;
        for seed in 0..300 {
            let program = load("random.mini", &random::program(seed));
            let (_, engine) = tiered(
                &program,
                Options {
                    policy: Policy::all(0),
                    ..Options::default()
                },
            );
            let left = engine.unfinished();
            unfinished += left.cancelled + left.uncollected;
        }
        // Every function asks for its optimized code at its second call; short
        // programs end before the worker is through.
        assert!(unfinished > 0, "no run ended with a compilation pending");
        // The thread's worker, if its first run made it, is the only thread more.
        assert!(stage5::queue::has_worker());
        let made = usize::from(!had_worker);
        assert_eq!(threads(), before + made, "threads left behind");
    });
}

#[test]
fn a_program_ends_while_the_optimizer_works() {
    isolated(|| {
        // Many functions, each called twice: the queue is long when main returns.
        let mut source = String::new();
        for i in 0..200 {
            source.push_str(&format!("fn f{i}(x) {{ return x * {i} + 1; }}\n"));
        }
        source.push_str("let s = 0;\n");
        for i in 0..200 {
            source.push_str(&format!("s = s + f{i}(1) + f{i}(2);\n"));
        }
        source.push_str("print s;\n");
        let program = load("many.mini", &source);
        let had_worker = stage5::queue::has_worker();
        let before = threads();
        let (run, engine) = tiered(
            &program,
            Options {
                policy: Policy::all(0),
                ..Options::default()
            },
        );
        assert_eq!(run.lines(), ["60100"]);
        let left = engine.unfinished();
        assert!(left.cancelled + left.uncollected > 0, "{left:?}");
        assert_eq!(threads(), before + usize::from(!had_worker));
    });
}

#[test]
fn long_runs_reach_the_optimizing_tier_in_the_background_once_per_function() {
    isolated(|| {
        // When the worker's code comes back depends on the machine: a longer run is
        // tried until one outlasts the compilation (fib(30) outlasts it by far).
        let mut reached = None;
        for n in [20, 24, 27, 30] {
            let source = format!(
                "fn fib(n) {{ if n < 2 {{ return n; }} return fib(n - 1) + fib(n - 2); }}\nprint fib({n});\n"
            );
            let (run, engine) = tiered(&load("fib.mini", &source), Options::default());
            let (mut a, mut b) = (0u64, 1u64);
            for _ in 0..n {
                (a, b) = (b, a + b);
            }
            assert_eq!(run.lines(), [a.to_string()]);
            let events = super::common::tiering_events(&engine);
            let optimized = events
                .iter()
                .filter(|e| e.starts_with("fib: baseline -> optimizing"))
                .count();
            assert!(optimized <= 1, "fib optimized twice: {events:?}");
            if optimized == 1 {
                assert_eq!(engine.functions()[1].tier, stage5::Tier::Optimized);
                reached = Some(n);
                break;
            }
        }
        assert!(
            reached.is_some(),
            "fib(30) ended before its optimized code was installed"
        );
    });
}
