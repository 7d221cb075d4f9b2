//! Behaviour the usual mistakes in the templates break, each checked on its own in
//! native code: which error wins when two apply, locals that start at 0 whatever the
//! stack held, the depth limit against the arity check, exact call counts when a run
//! fails, and values at the edges of 32 bits (a template that works on 32-bit
//! registers passes every small test).

use stage1::interp::Interpreter;
use stage1::limits::MAX_FRAMES;
use stage1::Engine;
use stage3::Jit;

use super::common::{assert_error, assert_prints, differential, harness, load, run_on};

const MIN: &str = "(-4611686018427387903 - 1)";
const MAX: &str = "4611686018427387903";

#[test]
fn a_type_error_wins_over_division_by_zero() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    assert_error("print [1] / 0;", "type error", 1);
    assert_error("print [1] % 0;", "type error", 1);
    for expr in ["a / 0", "a % 0", "a / z", "a % z", "z / a", "1 % a"] {
        let source = format!("let a = [1];\nlet z = 0;\nprint {expr};");
        assert_error(&source, "type error", 3);
    }
}

#[test]
fn a_type_error_wins_over_overflow() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    assert_error("print [1] + [2];", "type error", 1);
    for expr in [
        "a + b", "a - b", "a * b", "a + m", "m + a", "m * a", "a - m",
    ] {
        let source = format!("let a = [1];\nlet b = [2];\nlet m = {MAX};\nprint {expr};");
        assert_error(&source, "type error", 4);
    }
}

/// The same program as stage 1's: `dirty` fills its locals, `fresh` reuses its stack.
const FRESH_LOCALS: &str = "\
.fn main params=0 locals=0
    call dirty 0
    pop
    const 5
    call fresh 1
    print
    const 0
    return
.end
.fn dirty params=0 locals=4
    const 111
    store_local 0
    const 222
    store_local 1
    const 333
    store_local 2
    const 444
    store_local 3
    const 0
    return
.end
.fn fresh params=1 locals=4
    load_local 1
    load_local 2
    add
    load_local 3
    add
    load_local 0
    add
    return
.end
";

#[test]
fn a_callees_locals_start_at_zero_whatever_the_stack_held() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    let run = run_on(&mut Jit::new(), &load("fresh.jasm", FRESH_LOCALS));
    if let Err(e) = &run.result {
        panic!("{e}");
    }
    assert_eq!(
        run.lines(),
        ["5"],
        "locals 1..3 of `fresh` must be 0 (only its argument, 5, is set)"
    );
}

#[test]
fn a_wrong_arity_at_the_depth_limit_is_an_arity_error() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    assert_eq!(MAX_FRAMES, 10_000, "the program is written for this limit");
    // down(9998) makes 9,999 calls below main: 10,000 frames, the limit.
    let source = "fn one(x) { return x; }\nfn down(n) {\n  if n == 0 { let h = one; return h(1, 2); }\n  return down(n - 1);\n}\nprint down(9998);";
    assert_error(source, "wrong number of arguments", 3);
}

/// The calls both engines count for `source`, which must fail with `message`.
fn calls_of_failing_run(source: &str, message: &str) -> (u64, u64) {
    let program = load("calls.mini", source);
    let mut interp = Interpreter::new();
    let expected = run_on(&mut interp, &program);
    let mut jit = Jit::new();
    let actual = run_on(&mut jit, &program);
    assert_eq!(expected.error().kind.message(), message);
    assert_eq!(actual.error().kind.message(), message);
    (interp.stats().calls, jit.stats().calls)
}

#[test]
fn the_call_count_is_exact_when_a_run_ends_in_stack_overflow() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    let (interp, jit) = calls_of_failing_run(
        "fn down(n) {\n  return down(n + 1);\n}\nprint down(0);",
        "stack overflow",
    );
    // main and 9,999 calls of `down` ran; the call that failed ran nothing.
    assert_eq!(interp, MAX_FRAMES as u64);
    assert_eq!(jit, interp, "the JIT's call count");
}

#[test]
fn the_call_count_is_exact_when_a_run_ends_in_a_wrong_arity_call() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    let (interp, jit) = calls_of_failing_run(
        "fn two(a, b) { return a + b; }\nprint two(1, 2);\nprint two(3, 4);\nlet f = two;\nprint f(1);",
        "wrong number of arguments",
    );
    assert_eq!(interp, 3, "main and two calls of `two`");
    assert_eq!(jit, interp, "the JIT's call count");
}

#[test]
fn values_past_32_bits_compare_add_and_branch_on_all_64() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    // 2^31 and 2^32 are tagged 2^32 and 2^33: their low 32 bits are all zero.
    let source = "\
let big = 2147483648;
let bigger = 4294967296;
if big { print 1; } else { print 0; }
let w = bigger;
while w { print 2; w = 0; }
print big < 1;
print big > 1;
print bigger == 0;
print big != 0;
let a = -2147483648;
print a < 0;
print a + big;
print big - 1;
print big * 2;
print bigger / 2;
print bigger % 3;";
    if let Err(report) = differential("wide.mini", source) {
        panic!("{report}");
    }
    // The first two lines, which a 32-bit test of the condition gets wrong.
    let run = super::common::jit(source);
    assert_eq!(
        run.lines().get(..2),
        Some(&["1", "2"][..]),
        "{}",
        run.output
    );
}

#[test]
fn division_by_minus_one_at_the_edges() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    let cases = [
        (MAX, "/", format!("-{MAX}")),
        (MIN, "%", "0".to_string()),
        (MAX, "%", "0".to_string()),
        ("7", "%", "0".to_string()),
        ("-7", "/", "7".to_string()),
    ];
    for (a, op, expected) in cases {
        // The divisor in a local (a register operand) and as a constant (an immediate).
        let in_local = format!("let a = {a};\nlet d = -1;\nprint a {op} d;");
        assert_prints(&in_local, &[expected.as_str()]);
        let constant = format!("let a = {a};\nprint a {op} -1;");
        assert_prints(&constant, &[expected.as_str()]);
    }
}

#[test]
fn an_array_fill_count_must_be_an_integer() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    assert_error("print [0; [1]];", "type error", 1);
    assert_error("let n = {};\nlet a = [7; n];", "type error", 2);
}
