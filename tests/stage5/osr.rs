//! On-stack replacement in detail: a frame's locals *and* operands move (`.jasm` can
//! keep values on the operand stack across a loop), and a frame that moves at the
//! depth limit keeps its place in it.

use stage1::interp::Interpreter;

use super::common::{isolated, load, run_on, sync, tiered, tiering_events};

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
        let (actual, engine) = tiered(&program, sync("calls=1,loops=1,opt-calls=100,opt-loops=10"));
        assert_eq!(
            (&actual.output, &actual.result),
            (&expected.output, &expected.result)
        );
        let optimized_osr = tiering_events(&engine)
            .iter()
            .filter(|e| e.starts_with("osr f") && e.ends_with("baseline -> optimizing"))
            .count();
        assert_eq!(optimized_osr, 1, "{:?}", tiering_events(&engine));
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
        let (actual, engine) = tiered(&program, sync("calls=1,loops=1,opt-calls=100,opt-loops=10"));
        assert_eq!(
            (&actual.output, &actual.result),
            (&expected.output, &expected.result)
        );
        let optimized_osr = tiering_events(&engine)
            .iter()
            .filter(|e| e.starts_with("osr f") && e.ends_with("baseline -> optimizing"))
            .count();
        assert_eq!(optimized_osr, 2, "{:?}", tiering_events(&engine));
    });
}
