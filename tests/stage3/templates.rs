//! Every template on its own: constants, locals, arithmetic at the 63-bit edges,
//! comparisons, jumps, calls, arrays, objects and `print`, each giving what the
//! interpreter gives.

use super::common::{assert_prints, differential, isolated};

/// The smallest and largest Mini integers, as Mini expressions.
const MIN: &str = "(-4611686018427387903 - 1)";
const MAX: &str = "4611686018427387903";

#[test]
fn constants_small_and_wide() {
    isolated(|| {
        assert_prints(
            &format!("print 0; print -7; print 1073741824; print {MAX}; print {MIN};"),
            &["0", "-7", "1073741824", MAX, "-4611686018427387904"],
        );
    });
}

#[test]
fn locals_load_and_store() {
    isolated(|| {
        assert_prints(
            "let a = 1; let b = a + 1; a = b * 10; print a; print b;",
            &["20", "2"],
        );
    });
}

#[test]
fn arithmetic_at_the_edges() {
    isolated(|| {
        assert_prints(
            &format!(
                "print {MAX} - 1 + 1; print {MIN} + 0; print -{MAX}; print 1518500249 * 3037000499 / 3037000499;
                 print 2147483648 * 2147483647; print -6 * 7; print 0 - {MAX};"
            ),
            &[
                MAX,
                "-4611686018427387904",
                "-4611686018427387903",
                "1518500249",
                "4611686016279904256",
                "-42",
                "-4611686018427387903",
            ],
        );
    });
}

#[test]
fn division_and_modulo_truncate_like_rust() {
    isolated(|| {
        assert_prints(
            &format!(
                "print 7 / -2; print -7 / 2; print -7 % 2; print 7 % -2; print {MIN} % -1; print {MAX} / -1; print 5 / 1; print -5 % -1;"
            ),
            &["-3", "-3", "-1", "1", "0", "-4611686018427387903", "5", "0"],
        );
    });
}

#[test]
fn comparisons_give_zero_or_one() {
    isolated(|| {
        assert_prints(
            &format!(
                "print 1 < 2; print 2 < 1; print 2 <= 2; print 3 > 2; print 2 >= 3; print 4 == 4; print 4 != 4;
                 print {MIN} < {MAX}; print !0; print !5; let a = [1]; print a == a; print a == [1]; print a != 1;"
            ),
            &["1", "0", "1", "1", "0", "1", "0", "1", "1", "0", "1", "0", "1"],
        );
    });
}

#[test]
fn jumps_loops_and_short_circuits() {
    isolated(|| {
        assert_prints(
            "let i = 0; let s = 0; while i < 10 { if i % 2 == 0 { s = s + i; } else { s = s - 1; } i = i + 1; }
             print s; print 0 && 1; print 1 && 2; print 0 || 0; print 0 || 3;",
            &["15", "0", "1", "0", "1"],
        );
    });
}

#[test]
fn calls_direct_and_through_values() {
    isolated(|| {
        assert_prints(
            "fn add3(a, b, c) { return a * 100 + b * 10 + c; }
             fn none() { }
             fn twice(f, x) { return f(f(x)); }
             fn inc(x) { return x + 1; }
             print add3(1, 2, 3); print none(); print twice(inc, 5); let g = add3; print g(4, 5, 6);
             print g; print g == add3;",
            &["123", "0", "7", "456", "<fn add3>", "1"],
        );
    });
}

#[test]
fn deep_recursion_within_the_limit() {
    isolated(|| {
        assert_prints(
            "fn down(n) { if n == 0 { return 0; } return 1 + down(n - 1); } print down(9998);",
            &["9998"],
        );
    });
}

#[test]
fn arrays_inline() {
    isolated(|| {
        assert_prints(
            "let a = [1, 2, 3]; a[1] = 20; print a; print len(a); print a[2] + a[0];
             let z = [7; 4]; z[3] = a; print z; print len([]);",
            &["[1, 20, 3]", "3", "4", "[7, 7, 7, [1, 20, 3]]", "0"],
        );
    });
}

#[test]
fn objects_and_printing_through_helpers() {
    isolated(|| {
        assert_prints(
            "let p = {x: 1, y: 2}; p.z = p.x + p.y; p.x = 10; print p; print p.z; let q = {}; print q;",
            &["{x: 10, y: 2, z: 3}", "3", "{}"],
        );
    });
}

#[test]
fn main_returns_its_value() {
    isolated(|| {
        let run = super::common::jit("let a = [1, {k: 2}]; return a;");
        assert_eq!(run.result, Ok("[1, {k: 2}]".to_string()));
        let run = super::common::jit("print 1;");
        assert_eq!(run.result, Ok("0".to_string()));
    });
}

#[test]
fn output_larger_than_one_chunk_streams_in_order() {
    isolated(|| {
        let source = "let i = 0; while i < 5000 { print i; i = i + 1; }";
        let run = super::common::jit(source);
        let lines = run.lines();
        assert_eq!(lines.len(), 5000);
        assert_eq!(lines[0], "0");
        assert_eq!(lines[4999], "4999");
        differential("stream.mini", source).unwrap_or_else(|r| panic!("{r}"));
    });
}
