//! On-stack replacement in detail: a frame's locals *and* operands move (`.jasm` can
//! keep values on the operand stack across a loop), and a frame that moves at the
//! depth limit keeps its place in it.

use stage1::interp::Interpreter;
use stage1::Verified;
use stage5::{Options, Policy};

use super::common::{isolated, load, run_on, sync, tiered, tiering_events, Run};

/// `f` keeps two values on the operand stack across its loop.
const OPERANDS: &str = include_str!("programs/operands_at_loop_header.jasm");

#[test]
fn osr_carries_the_operands_of_the_loop_header() {
    isolated(|| {
        let program = load("operands.jasm", OPERANDS);
        let expected = run_on(&mut Interpreter::new(), &program);
        assert_eq!(expected.lines(), ["570", "100"]);
        for policy in [
            "calls=100,loops=5,opt-loops=1000000",
            "calls=100,loops=5,opt-loops=3",
            "calls=0,loops=0,opt-calls=100,opt-loops=1",
        ] {
            let (actual, engine) = tiered(&program, sync(policy));
            assert_eq!(
                (&actual.output, &actual.result),
                (&expected.output, &expected.result),
                "{policy}: {:?}",
                tiering_events(&engine)
            );
            assert!(
                tiering_events(&engine)
                    .iter()
                    .any(|e| e.starts_with("osr f at 4")),
                "{policy}: {:?}",
                tiering_events(&engine)
            );
        }
    });
}

#[test]
fn a_frame_that_moves_at_the_depth_limit_keeps_its_depth() {
    isolated(|| {
        // The innermost frame, 9,999 frames deep (main included), runs its loop first
        // and moves into baseline code there: as a call from that depth, it fits; one
        // frame deeper it would not.
        let source = "fn r(n) {\n  if n > 0 { r(n - 1); }\n  let i = 0;\n  while i < 3 { i = i + 1; }\n  return i;\n}\nprint r(DEPTH);\n";
        for depth in ["9998", "9999"] {
            let program = load("deep.mini", &source.replace("DEPTH", depth));
            let expected = run_on(&mut Interpreter::new(), &program);
            let (actual, engine) =
                tiered(&program, sync("calls=1000000,loops=2,opt-loops=1000000"));
            assert_eq!(
                (&actual.output, &actual.result),
                (&expected.output, &expected.result),
                "r({depth})"
            );
            if depth == "9998" {
                assert_eq!(actual.lines(), ["3"]);
                assert!(
                    tiering_events(&engine)[1].starts_with("osr r at"),
                    "{:?}",
                    tiering_events(&engine)
                );
            }
        }
    });
}

/// Runs `program` in stage 5 (sync mode, thresholds that tier `f` up by its loop at
/// once), checks its output and result against the interpreter's `expected`, and that
/// frames of `f` moved by OSR into optimized code `times` times: the frames whose
/// locals fit the variant's bets, the others staying in baseline code.
fn assert_agrees_with_optimized_osrs_of_f(program: &Verified, expected: &Run, times: usize) {
    let (actual, engine) = tiered(program, sync("calls=1,loops=1,opt-calls=100,opt-loops=10"));
    assert_eq!(
        (&actual.output, &actual.result),
        (&expected.output, &expected.result)
    );
    let optimized_osr = tiering_events(&engine)
        .iter()
        .filter(|e| e.starts_with("osr f") && e.ends_with("baseline -> optimizing"))
        .count();
    assert_eq!(optimized_osr, times, "{:?}", tiering_events(&engine));
}

#[test]
fn an_optimized_osr_variant_is_entered_only_by_frames_whose_locals_fit_it() {
    isolated(|| {
        // The first call's frame asks for f's optimized variant at the loop (sync
        // mode: made and entered at once) while `x` is an integer, so the variant
        // takes it to be one; the second call's frame reaches the same header with
        // `x` an array, stays in baseline code, and still computes the right sum.
        let source = "fn f(x) {\n  let s = 0;\n  let i = 0;\n  while i < 40 {\n    s = s + len([i; 2]) + i;\n    i = i + 1;\n  }\n  if x == 0 { return s; }\n  return s + len(x);\n}\nprint f(0);\nprint f([1, 2, 3]);\n";
        let program = load("speculate.mini", source);
        let expected = run_on(&mut Interpreter::new(), &program);
        assert_eq!(expected.lines(), ["860", "863"]);
        assert_agrees_with_optimized_osrs_of_f(&program, &expected, 1);
    });
}

#[test]
fn an_osr_variant_bets_on_the_range_of_counters_but_not_of_sums() {
    isolated(|| {
        // The first call asks for f's optimized variant at the loop (sync mode: made
        // and entered at once); it bets that `i` and `n`, which the loop counts with,
        // are small integers, and that `s`, which it sums into, is an integer. The
        // second call's sum is far past 32 bits: it fits, and its frame enters the
        // variant. The third call's counter is near the top of the integers: it does
        // not fit (there `i * 3` overflows, which the variant's product, proven not
        // to overflow for small `i`, would miss), stays in baseline code, and fails
        // as the interpreter does.
        let source = "fn f(s, i) {\n  let n = i + 40;\n  while i < n {\n    s = s + i * 3;\n    i = i + 1;\n  }\n  return s;\n}\nprint f(0, 0);\nprint f(10000000000000, 0);\nprint f(0, 1537228672809129281);\n";
        let program = load("ranges.mini", source);
        let expected = run_on(&mut Interpreter::new(), &program);
        assert_eq!(expected.lines(), ["2340", "10000000002340"]);
        let message = expected.error().kind.message().to_string();
        assert!(message.contains("overflow"), "{message}");
        assert_agrees_with_optimized_osrs_of_f(&program, &expected, 2);
    });
}

#[test]
fn an_osr_variant_bets_that_counters_are_not_negative() {
    isolated(|| {
        // The first call asks for f's optimized variant at the loop and enters it: its
        // counter `i` starts at 0, so the variant bets that `i` is a small integer that
        // is not negative, and `i % 7` goes without the sign fix. The second call's
        // counter runs from -100 to -70: it never fits, stays in baseline code and
        // gets the negative remainders right (with the bet of either sign it entered
        // the variant). The third starts at 5 and enters the variant.
        let source = "fn f(i) {\n  let s = 0;\n  let n = i + 30;\n  while i < n {\n    s = s * 3 + i % 7;\n    i = i + 1;\n  }\n  return s;\n}\nprint f(0);\nprint f(-100);\nprint f(5);\n";
        let program = load("signs.mini", source);
        let expected = run_on(&mut Interpreter::new(), &program);
        assert_eq!(expected.lines().len(), 3);
        assert_agrees_with_optimized_osrs_of_f(&program, &expected, 2);
    });
}

#[test]
fn interpreted_frames_enter_a_made_optimized_variant_directly_and_keep_their_depth() {
    isolated(|| {
        // Every `r` frame is interpreted (its call counter never trips); the innermost
        // runs its loop first, moves into baseline code, asks for the optimized
        // variant at the loop (made on the spot) and enters it. Each frame around it
        // then reaches the same loop in the interpreter: with the variant made, it
        // moves straight into it at the interpreter's threshold, not through baseline
        // code. The frames near the bottom call `g` in their last trip, after they
        // moved, and its recursion from `r(2)`
        // reaches the depth limit (frame 10,000, main included) exactly at 9,995 and
        // one past it at 9,996 (`r(0)` and `r(1)` stay below it): `r(2)` moved into
        // the variant and keeps its place in the limit, neither a frame more nor less.
        let source = "fn g(k) {\n  if k > 0 { return g(k - 1); }\n  return 1;\n}\nfn r(n) {\n  if n > 0 { r(n - 1); }\n  let s = 0;\n  let i = 0;\n  while i < 3 {\n    if n < 3 && i == 2 { s = s + g(2 * n); }\n    i = i + 1;\n  }\n  return s + i;\n}\nprint r(DEPTH);\n";
        for depth in [9995usize, 9996] {
            let program = load("direct.mini", &source.replace("DEPTH", &depth.to_string()));
            let expected = run_on(&mut Interpreter::new(), &program);
            // `g` (function 1) is compiled at its first call, so that its frames
            // count in native code, from the depth the moved frame hands on.
            let mut options = sync("calls=1000000,loops=2,opt-calls=1000000,opt-loops=1");
            assert_eq!(program.program().functions[1].name, "g");
            options.per_function = vec![options.policy, Policy::all(0)];
            let (actual, engine) = tiered(&program, options);
            assert_eq!(
                (&actual.output, &actual.result),
                (&expected.output, &expected.result),
                "r({depth})"
            );
            if depth == 9995 {
                assert_eq!(actual.lines(), ["3"]);
                let osr: Vec<String> = tiering_events(&engine)
                    .into_iter()
                    .filter(|e| e.starts_with("osr r at"))
                    .collect();
                assert!(
                    osr[0].ends_with("interpreter -> baseline"),
                    "{:?}",
                    &osr[..2]
                );
                assert!(
                    osr[1].ends_with("baseline -> optimizing"),
                    "{:?}",
                    &osr[..2]
                );
                let direct = osr[2..]
                    .iter()
                    .filter(|e| e.ends_with("interpreter -> optimizing"))
                    .count();
                assert_eq!(direct, depth, "{:?}", &osr[..4]);
                assert_eq!(osr.len(), depth + 2);
            }
        }
    });
}

#[test]
fn a_hot_inner_loop_waits_for_the_variant_of_the_loop_around_it_while_the_worker_is_busy() {
    isolated(|| {
        // `big` is queued on the worker first, a long compile; then main's inner loop
        // gets hot in baseline code and asks for the variant of the loop around it
        // (background mode: it has come round ten times by the inner loop's first
        // 1,000 back edges). That loop comes round again (the inner loop's 100 trips
        // are fewer than its threshold of 300) and finds no code yet; the inner loop
        // trips again: what it waits for is the worker, so it keeps waiting
        // rather than asking for a variant of its own (entered at the inner header,
        // the frame would run every loop of the rest of main from there). So if
        // main's frame moves into optimized code at all, it is at the outer header.
        let mut source = String::from("fn big(x) {\n  let s = x;\n");
        for k in 0..400 {
            source.push_str(&format!("  s = (s * 7 + {k}) % 1000003;\n"));
        }
        source.push_str("  return s;\n}\nlet a = big(1) + big(2) + big(3);\n");
        source.push_str("let total = 0;\nlet r = 0;\nwhile r < 100000 {\n  let i = 0;\n  while i < 100 {\n    total = total + i % 7 * r;\n    i = i + 1;\n  }\n  r = r + 1;\n}\nprint total + a;\n");
        let program = load("waits.mini", &source);
        let expected = run_on(&mut Interpreter::new(), &program);
        let options = Options {
            policy: "calls=1,loops=1000,opt-calls=1,opt-loops=300"
                .parse()
                .unwrap(),
            ..Options::default()
        };
        let (actual, engine) = tiered(&program, options);
        assert_eq!(
            (&actual.output, &actual.result),
            (&expected.output, &expected.result)
        );
        let events = tiering_events(&engine);
        let headers = stage4::tiered::loop_headers(&program, 0);
        assert_eq!(headers.len(), 2, "{headers:?}");
        let (outer, inner) = (headers[0], headers[1]);
        let moved: Vec<&String> = events
            .iter()
            .filter(|e| e.starts_with("osr main") && e.ends_with("-> optimizing"))
            .collect();
        assert!(
            moved
                .iter()
                .all(|e| e.starts_with(&format!("osr main at {outer}:"))),
            "main moved at the inner header {inner}: {events:?}"
        );
    });
}
