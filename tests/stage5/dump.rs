//! `dump --ir` and `dump --asm` of stage 5 (`stage5::dump`, through the command
//! line's `stage5::cli::Cli`): after a run with the default thresholds, each
//! optimizing compile the run made, in order, under a line that says which function,
//! which entry and after how many calls or back edges. A hot loop in `main` shows
//! its OSR variant at the loop's header after the loop thresholds' back edges (the
//! IR entered with the frame's locals), a hot function its compile after the call
//! thresholds' calls; the text is the same on every run; `--osr` shows only the
//! compiles entered at that header, and refuses a header the run never entered.

use jitlab_cli::Stage;
use stage1::bytecode::MAIN;
use stage1::{FnId, Verified};
use stage4::ir::text;
use stage5::cli::Cli;
use stage5::Policy;

use super::common::{isolated, load};

/// `main` runs its loop 100,000 times, calling nothing: past both loop thresholds.
const HOT_LOOP: &str = "let i = 0;\nlet s = 0;\nwhile i < 100000 {\n  s = (s + i * i) % 1000;\n  \
                        i = i + 1;\n}\nprint s;\n";

/// `square` is called 10,000 times, from a loop that stays below the thresholds
/// that would move `main` into optimized code.
const HOT_CALLS: &str = "fn square(x) {\n  return x * x;\n}\nlet i = 0;\nlet s = 0;\n\
                         while i < 10000 {\n  s = (s + square(i)) % 1000;\n  i = i + 1;\n}\n\
                         print s;\n";

/// Both: `square` gets hot first, then `main`'s loop.
const BOTH: &str = "fn square(x) {\n  return x * x;\n}\nlet i = 0;\nlet s = 0;\n\
                    while i < 100000 {\n  s = (s + square(i)) % 1000;\n  i = i + 1;\n}\n\
                    print s;\n";

/// A loop of three trips, in a function called once: nothing gets hot.
const COLD: &str = "fn count(n) {\n  let i = 0;\n  while i < n {\n    i = i + 1;\n  }\n  \
                    return i;\n}\nprint count(3);\n";

/// What `dump --ir --stage 5` prints of `verified`.
fn ir(verified: &Verified) -> String {
    match Cli.ir(verified, false) {
        Some(Ok(text)) => text,
        other => panic!("stage 5 dumps its IR: {other:?}"),
    }
}

/// What `dump --asm --stage 5` prints of `verified`.
fn asm(verified: &Verified) -> String {
    match Cli.asm(verified) {
        Some(Ok(text)) => text,
        other => panic!("stage 5 lists its code: {other:?}"),
    }
}

/// The header lines of the compiles of a dump (`; compile N of f: ...`).
fn headers(dumped: &str) -> Vec<&str> {
    dumped
        .lines()
        .filter(|l| l.starts_with("; compile "))
        .collect()
}

/// The one loop header of `func`.
fn header(verified: &Verified, func: FnId) -> usize {
    let headers = stage4::tiered::loop_headers(verified, func);
    assert_eq!(headers.len(), 1, "{headers:?}");
    headers[0]
}

#[test]
fn a_hot_loop_in_main_shows_its_osr_compile_at_the_loop_header() {
    isolated(|| {
        let verified = load("hot_loop.mini", HOT_LOOP);
        let dumped = ir(&verified);
        let pc = header(&verified, MAIN);
        let policy = Policy::default();
        // In the interpreter up to the baseline threshold, then in baseline code up
        // to the optimizer's.
        let back_edges = policy.loops + policy.opt_loops;
        assert_eq!(
            headers(&dumped),
            [format!(
                "; compile 1 of main: entered by OSR at the loop header at pc {pc}, after \
                 {back_edges} back edges"
            )],
            "{dumped}"
        );
        assert!(
            dumped.starts_with(
                "; the program ran with stage 5's engine (its output dropped): 1 optimizing \
                 compile\n"
            ),
            "{dumped}"
        );
        // The OSR variant's IR: entered with the frame's two locals, not as `main`
        // is called (with no arguments).
        let functions = text::parse_all(&dumped).unwrap_or_else(|e| panic!("{e}\n{dumped}"));
        assert_eq!(functions.len(), 1, "{dumped}");
        let f = &functions[0];
        assert_eq!(f.id, MAIN);
        assert_eq!(f.blocks[0].params.len(), 2, "{dumped}");
    });
}

#[test]
fn a_hot_function_shows_its_compile_after_the_call_thresholds() {
    isolated(|| {
        let verified = load("hot_calls.mini", HOT_CALLS);
        let policy = Policy::default();
        let calls = policy.calls + policy.opt_calls;
        let expected = format!("; compile 1 of square: the whole function, after {calls} calls");
        let dumped = ir(&verified);
        assert_eq!(headers(&dumped), [expected.as_str()], "{dumped}");
        let functions = text::parse_all(&dumped).unwrap_or_else(|e| panic!("{e}\n{dumped}"));
        let square = verified.program().function_named("square").expect("square");
        assert_eq!(functions.len(), 1, "{dumped}");
        assert_eq!(functions[0].id, square);
        // The machine code of the same compile, under the same line.
        let listed = asm(&verified);
        assert_eq!(headers(&listed), [expected.as_str()], "{listed}");
        let after = listed.split_once(&format!("{expected}\n")).map(|(_, a)| a);
        assert!(
            after.is_some_and(|a| a.starts_with("fn square (arity 1): ")),
            "{listed}"
        );
    });
}

#[test]
fn the_dumps_list_the_compiles_in_the_order_the_run_made_them() {
    isolated(|| {
        let verified = load("both.mini", BOTH);
        let pc = header(&verified, MAIN);
        for dumped in [ir(&verified), asm(&verified)] {
            let lines = headers(&dumped);
            assert_eq!(lines.len(), 2, "{dumped}");
            assert!(
                lines[0].starts_with("; compile 1 of square: the whole function, after "),
                "{dumped}"
            );
            assert!(
                lines[1].starts_with(&format!(
                    "; compile 1 of main: entered by OSR at the loop header at pc {pc}, "
                )),
                "{dumped}"
            );
        }
    });
}

#[test]
fn the_dumps_are_the_same_on_every_run() {
    isolated(|| {
        let verified = load("both.mini", BOTH);
        let (first, second) = (asm(&verified), asm(&verified));
        assert_eq!(headers(&first).len(), 2, "{first}");
        pretty_assertions::assert_eq!(first, second);
        // Loaded again: another program to the engine, the same text.
        let again = load("both.mini", BOTH);
        pretty_assertions::assert_eq!(asm(&again), first);
        pretty_assertions::assert_eq!(ir(&again), ir(&verified));
    });
}

#[test]
fn the_osr_dump_shows_only_the_compiles_entered_at_that_loop_header() {
    isolated(|| {
        let verified = load("both.mini", BOTH);
        let pc = header(&verified, MAIN);
        let whole = ir(&verified);
        let osr = match Cli.ir_osr(&verified, "main", pc, false) {
            Some(Ok(text)) => text,
            other => panic!("{other:?}\n{whole}"),
        };
        let lines = headers(&osr);
        assert_eq!(lines.len(), 1, "{osr}");
        assert!(lines[0].contains(" of main: entered by OSR"), "{osr}");
        // The same text as under the same line of the whole dump.
        let section = |dumped: &str| -> String {
            let at = dumped.find(lines[0]).unwrap_or_else(|| panic!("{dumped}"));
            dumped[at..].to_string()
        };
        assert_eq!(section(&osr), section(&whole));
        assert!(!osr.contains("function square"), "{osr}");
    });
}

#[test]
fn the_osr_dump_refuses_a_loop_header_the_run_never_entered() {
    isolated(|| {
        let refused = |verified: &Verified, function: &str, pc: usize| -> String {
            match Cli.ir_osr(verified, function, pc, false) {
                Some(Err(e)) => e,
                other => panic!("{function} at pc {pc}: {other:?}"),
            }
        };
        let cold = load("cold_loop.mini", COLD);
        let count = cold.program().function_named("count").expect("count");
        let pc = header(&cold, count);
        let e = refused(&cold, "count", pc);
        assert!(
            e.contains(&format!(
                "no optimizing compile of count entered by OSR at pc {pc}"
            )) && e.contains("the run entered no compile by OSR"),
            "{e}"
        );
        let e = refused(&cold, "count", pc + 1);
        assert!(e.contains("is not a loop header"), "{e}");
        // `main`'s loop, short of the thresholds, while `square` got hot.
        let hot = load("hot_calls.mini", HOT_CALLS);
        let e = refused(&hot, "main", header(&hot, MAIN));
        assert!(
            e.contains("the run entered no compile by OSR"),
            "{e}\n{}",
            ir(&hot)
        );
        // A run that entered another loop by OSR names it.
        let pc = header(&load("both.mini", BOTH), MAIN);
        let two_loops = load(
            "two_loops.mini",
            &format!("{BOTH}let j = 0;\nwhile j < 3 {{\n  j = j + 1;\n}}\n"),
        );
        let headers = stage4::tiered::loop_headers(&two_loops, MAIN);
        assert_eq!(headers.len(), 2, "{headers:?}");
        assert_eq!(headers[0], pc, "the hot loop comes first");
        let e = refused(&two_loops, "main", headers[1]);
        assert!(
            e.contains(&format!("the run's OSR compiles: main at pc {pc}")),
            "{e}"
        );
    });
}
