//! Every error path of every template: the JIT stops with the interpreter's error,
//! message, line and whole trace (`assert_error` also runs the differential).

use super::common::{assert_error, isolated, jit};

const MIN: &str = "(-4611686018427387903 - 1)";
const MAX: &str = "4611686018427387903";

#[test]
fn overflow_at_the_boundaries() {
    isolated(|| {
        assert_error(
            &format!("print 1;\nprint {MAX} + 1;"),
            "integer overflow",
            2,
        );
        assert_error(
            &format!("let m = {MIN};\nprint m - 1;"),
            "integer overflow",
            2,
        );
        assert_error("let a = 2147483648;\nprint a * a;", "integer overflow", 2);
        assert_error(
            &format!("let m = {MIN};\nprint m * -1;"),
            "integer overflow",
            2,
        );
        assert_error(&format!("let m = {MIN};\nprint -m;"), "integer overflow", 2);
    });
}

#[test]
fn division_by_zero_and_min_over_minus_one() {
    isolated(|| {
        assert_error("let z = 0;\nprint 1 / z;", "division by zero", 2);
        assert_error("let z = 0;\nprint 1 % z;", "division by zero", 2);
        assert_error(
            &format!("let m = {MIN};\nprint m / -1;"),
            "integer overflow",
            2,
        );
    });
}

#[test]
fn type_errors_in_every_template() {
    isolated(|| {
        for expr in [
            "a + 1", "1 - a", "a * 2", "a / 1", "1 % a", "-a", "!a", "a < 1", "1 >= a", "f[0]",
            "len(1)", "1[0]", "a[a]", "a.x", "(1).x", "f(1)",
        ] {
            let source = format!("let a = [1];\nlet f = 3;\nprint {expr};");
            assert_error(&source, "type error", 3);
        }
        assert_error("let a = [1];\nif a { print 1; }", "type error", 2);
        assert_error("let a = {};\nwhile a { }", "type error", 2);
        assert_error("let a = [1];\na[a] = 1;", "type error", 2);
        assert_error("let a = 1;\na.x = 1;", "type error", 2);
    });
}

#[test]
fn bounds_on_both_sides() {
    isolated(|| {
        assert_error("let a = [1, 2];\nprint a[2];", "index out of bounds", 2);
        assert_error("let a = [1, 2];\nprint a[-1];", "index out of bounds", 2);
        assert_error("let a = [];\na[0] = 1;", "index out of bounds", 2);
        assert_error("let n = -1;\nlet a = [0; n];", "index out of bounds", 2);
    });
}

#[test]
fn fields_and_memory() {
    isolated(|| {
        assert_error("let p = {x: 1};\nprint p.y;", "no such field", 2);
        assert_error("let n = 268435457;\nlet a = [0; n];", "out of memory", 2);
    });
}

#[test]
fn arity_through_values() {
    isolated(|| {
        assert_error(
            "fn two(a, b) { return a + b; }\nlet f = two;\nprint f(1);",
            "wrong number of arguments",
            3,
        );
        assert_error(
            "fn none() { return 0; }\nlet f = none;\nprint f(1, 2, 3);",
            "wrong number of arguments",
            3,
        );
    });
}

#[test]
fn errors_carry_the_trace_of_every_native_frame() {
    isolated(|| {
        let source = "fn inner(x) {\n  return 1 / x;\n}\nfn outer(x) {\n  let r = inner(x);\n  return r;\n}\nprint outer(0);";
        assert_error(source, "division by zero", 2);
        let run = jit(source);
        let trace: Vec<(String, u32)> = run
            .error()
            .trace
            .iter()
            .map(|f| (f.function.clone(), f.line))
            .collect();
        assert_eq!(
            trace,
            [
                ("inner".to_string(), 2),
                ("outer".to_string(), 5),
                ("main".to_string(), 8)
            ]
        );
    });
}

#[test]
fn stack_overflow_at_the_interpreters_depth() {
    isolated(|| {
        let source = "fn down(n) {\n  return down(n + 1);\n}\nprint down(0);";
        assert_error(source, "stack overflow", 2);
        let run = jit(source);
        let e = run.error();
        assert_eq!(e.trace.len(), stage1::RuntimeError::MAX_TRACE);
        assert_eq!(e.trace.last().map(|f| f.function.as_str()), Some("main"));
        // 9,999 calls of `down` fit (main is the 10,000th frame).
        super::common::assert_prints(
            "fn down(n) { if n == 0 { return 0; } return down(n - 1); }\nprint down(9998);",
            &["0"],
        );
    });
}

#[test]
fn stack_overflow_is_an_error_also_on_a_small_thread() {
    isolated(|| {
        let source = "fn down(n) {\n  let a = n; let b = a; let c = b; let d = c;\n  return down(d + 1);\n}\nprint down(0);";
        let kind = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || jit(source).error().kind)
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(kind, stage1::ErrorKind::StackOverflow);
    });
}

#[test]
fn output_before_an_error_is_kept() {
    isolated(|| {
        let run = jit("print 1;\nprint 2;\nprint 1 / 0;");
        assert_eq!(run.lines(), ["1", "2"]);
        assert_eq!(run.error().kind, stage1::ErrorKind::DivisionByZero);
    });
}
