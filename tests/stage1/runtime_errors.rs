//! Every runtime error: its kind, the line it reports, the trace and how it is shown;
//! and what was printed before it stays printed.

use std::io::{self, Write};

use pretty_assertions::assert_eq;
use rstest::rstest;
use stage1::interp::Interpreter;
use stage1::{Engine, ErrorKind, RuntimeError, TraceFrame};

use super::common::{harness, load, run};

#[rstest]
#[case::division_by_zero("let z = 0;\nprint 1 / z;", ErrorKind::DivisionByZero, 2)]
#[case::modulo_by_zero("print 1;\nprint 5 % 0;", ErrorKind::DivisionByZero, 2)]
#[case::add_overflow("print 4611686018427387903 + 1;", ErrorKind::IntegerOverflow, 1)]
#[case::sub_overflow(
    "let m = -4611686018427387903;\nprint m - 1;\nprint m - 2;",
    ErrorKind::IntegerOverflow,
    3
)]
#[case::mul_overflow("print 2147483648 * 2147483648;", ErrorKind::IntegerOverflow, 1)]
#[case::min_div_minus_one(
    "let m = -4611686018427387903 - 1;\nprint m / -1;",
    ErrorKind::IntegerOverflow,
    2
)]
#[case::negate_min(
    "let m = -4611686018427387903 - 1;\nprint -m;",
    ErrorKind::IntegerOverflow,
    2
)]
#[case::index_high("let a = [1];\nprint a[1];", ErrorKind::IndexOutOfBounds, 2)]
#[case::index_negative("let a = [1];\nprint a[-1];", ErrorKind::IndexOutOfBounds, 2)]
#[case::store_high("let a = [1];\na[1] = 0;", ErrorKind::IndexOutOfBounds, 2)]
#[case::fill_negative("print [0; -1];", ErrorKind::IndexOutOfBounds, 1)]
#[case::fill_too_long("print [0; 268435457];", ErrorKind::OutOfMemory, 1)]
#[case::add_array("print [1] + 1;", ErrorKind::TypeError, 1)]
#[case::compare_objects("print {} < {};", ErrorKind::TypeError, 1)]
#[case::condition_array("if [] { print 1; }", ErrorKind::TypeError, 1)]
#[case::not_function("fn f() { return 1; }\nprint !f;", ErrorKind::TypeError, 2)]
#[case::index_object("let o = {x: 1};\nprint o[0];", ErrorKind::TypeError, 2)]
#[case::field_of_array("let a = [];\nprint a.x;", ErrorKind::TypeError, 2)]
#[case::len_of_object("print len({});", ErrorKind::TypeError, 1)]
#[case::call_integer("let f = 1;\nprint f();", ErrorKind::TypeError, 2)]
#[case::missing_field("let o = {x: 1};\nprint o.y;", ErrorKind::NoSuchField, 2)]
#[case::arity_through_value(
    "fn f(a) { return a; }\nlet g = f;\nprint g(1, 2);",
    ErrorKind::WrongNumberOfArguments,
    3
)]
#[case::stack_overflow(
    "fn f(n) {\n  return f(n + 1);\n}\nprint f(0);",
    ErrorKind::StackOverflow,
    2
)]
fn each_runtime_error_has_its_kind_and_line(
    #[case] source: &str,
    #[case] kind: ErrorKind,
    #[case] line: u32,
) {
    if harness().this_test() {
        return;
    }
    let run = run(source);
    assert_eq!(run.error().kind, kind, "{source}");
    assert_eq!(run.error_line(), line, "{source}");
}

#[test]
fn every_message_is_spelt_as_the_design_says() {
    let messages: Vec<&str> = [
        ErrorKind::DivisionByZero,
        ErrorKind::IntegerOverflow,
        ErrorKind::IndexOutOfBounds,
        ErrorKind::TypeError,
        ErrorKind::NoSuchField,
        ErrorKind::WrongNumberOfArguments,
        ErrorKind::StackOverflow,
        ErrorKind::OutOfMemory,
    ]
    .iter()
    .map(|k| k.message())
    .collect();
    assert_eq!(
        messages,
        [
            "division by zero",
            "integer overflow",
            "index out of bounds",
            "type error",
            "no such field",
            "wrong number of arguments",
            "stack overflow",
            "out of memory",
        ]
    );
}

#[test]
fn the_trace_names_every_frame_innermost_first() {
    if harness().this_test() {
        return;
    }
    let source = "\
fn inner(x) {
  return 10 / x;
}
fn outer(x) {
  let y = x - 1;
  return inner(y) + 1;
}
print outer(2);
print outer(1);
";
    let run = run(source);
    assert_eq!(run.lines(), ["11"]);
    let e = run.error();
    assert_eq!(e.kind, ErrorKind::DivisionByZero);
    let frame = |function: &str, line| TraceFrame {
        function: function.to_string(),
        line,
    };
    assert_eq!(
        e.trace,
        [frame("inner", 2), frame("outer", 6), frame("main", 9)]
    );
    assert_eq!(
        e.to_string(),
        "error: division by zero\n  at inner (line 2)\n  at outer (line 6)\n  at main (line 9)"
    );
}

#[test]
fn a_call_through_a_value_is_traced_at_the_call() {
    if harness().this_test() {
        return;
    }
    let source = "\
fn bad() {
  return [].x;
}
let f = bad;
print f();
";
    let e = run(source).error().clone();
    assert_eq!(e.kind, ErrorKind::TypeError);
    let lines: Vec<(&str, u32)> = e
        .trace
        .iter()
        .map(|f| (f.function.as_str(), f.line))
        .collect();
    assert_eq!(lines, [("bad", 2), ("main", 5)]);
}

#[test]
fn a_stack_overflow_trace_is_capped_and_keeps_main() {
    if harness().this_test() {
        return;
    }
    let source = "fn f(n) {\n  return f(n + 1);\n}\nf(0);\n";
    let e = run(source).error().clone();
    assert_eq!(e.kind, ErrorKind::StackOverflow);
    assert_eq!(e.trace.len(), RuntimeError::MAX_TRACE);
    assert!(e.trace[..RuntimeError::MAX_TRACE - 1]
        .iter()
        .all(|f| f.function == "f" && f.line == 2));
    assert_eq!(
        e.trace.last(),
        Some(&TraceFrame {
            function: "main".to_string(),
            line: 4
        })
    );
    // 9,999 frames of `f` and `main`: the ones between the 19th and `main` are
    // counted, and the printed trace says so just above `main`.
    assert_eq!(e.omitted, 10_000 - RuntimeError::MAX_TRACE);
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "error: stack overflow");
    assert_eq!(lines.len(), 1 + RuntimeError::MAX_TRACE + 1, "{text}");
    assert_eq!(lines[lines.len() - 2], "  … 9,980 frames omitted");
    assert_eq!(lines[lines.len() - 1], "  at main (line 4)");
}

#[test]
fn output_before_an_error_is_kept() {
    if harness().this_test() {
        return;
    }
    let run = run("print 1;\nprint [2];\nprint 3 / 0;\nprint 4;");
    assert_eq!(run.lines(), ["1", "[2]"]);
    assert_eq!(run.error().kind, ErrorKind::DivisionByZero);
}

#[test]
fn operands_are_all_evaluated_before_the_check() {
    if harness().this_test() {
        return;
    }
    // The index is out of bounds, but the value is computed (and printed) first.
    let source = "fn say(x) { print x; return x; }\nlet a = [0];\na[say(3)] = say(4);\n";
    let first = run(source);
    assert_eq!(first.lines(), ["3", "4"]);
    assert_eq!(first.error().kind, ErrorKind::IndexOutOfBounds);
    // The callee is evaluated, then the arguments, and only then is it checked.
    let source = "fn say(x) { print x; return x; }\nlet a = 7;\na(say(1), say(2));\n";
    let second = run(source);
    assert_eq!(second.lines(), ["1", "2"]);
    assert_eq!(second.error().kind, ErrorKind::TypeError);
    // A call through a value checks it is a function before its arity.
    let third = run("let a = 7;\na(1, 2, 3);\n");
    assert_eq!(third.error().kind, ErrorKind::TypeError);
}

/// A writer that refuses everything, like a closed pipe.
struct Closed;

impl Write for Closed {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_writer_stops_the_program_with_an_output_error() {
    if harness().this_test() {
        return;
    }
    let program = load("out.mini", "print 1;\nprint 2;\n");
    let e = Interpreter::new().run(&program, &mut Closed).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Output);
    assert_eq!(e.trace.first().map(|f| f.line), Some(1));
}
