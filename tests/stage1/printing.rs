//! What `print` writes and how `main`'s value is formatted: integers, arrays, objects,
//! functions, shared and cyclic structures, and very deep nesting.

use pretty_assertions::assert_eq;
use rstest::rstest;

use super::common::{harness, output_of, run};

#[rstest]
#[case::zero("print 0;", "0")]
#[case::negative("print -12;", "-12")]
#[case::max("print 4611686018427387903;", "4611686018427387903")]
#[case::min("print -4611686018427387903 - 1;", "-4611686018427387904")]
#[case::empty_array("print [];", "[]")]
#[case::array("print [1, -2, 3];", "[1, -2, 3]")]
#[case::nested_array("print [[1], [[]], 2];", "[[1], [[]], 2]")]
#[case::empty_object("print {};", "{}")]
#[case::object_in_insertion_order("print {b: 1, a: 2};", "{b: 1, a: 2}")]
#[case::field_added_last("let o = {y: 1};\no.x = 2;\nprint o;", "{y: 1, x: 2}")]
#[case::function("fn go() { return 0; }\nprint go;", "<fn go>")]
#[case::mixed(
    "fn go() { return 0; }\nprint {f: go, a: [go, {}]};",
    "{f: <fn go>, a: [<fn go>, {}]}"
)]
#[case::array_cycle("let a = [0];\na[0] = a;\nprint a;", "[[...]]")]
#[case::object_cycle("let o = {};\no.o = o;\nprint o;", "{o: {...}}")]
#[case::shared_not_cyclic("let s = {v: 1};\nprint [s, s, [s]];", "[{v: 1}, {v: 1}, [{v: 1}]]")]
fn print_writes_one_line_per_value(#[case] source: &str, #[case] line: &str) {
    if harness().this_test() {
        return;
    }
    assert_eq!(output_of(source), [line]);
}

#[rstest]
#[case::nothing("let x = 1;", "0")]
#[case::integer("return 6 * 7;", "42")]
#[case::array("return [1, [2]];", "[1, [2]]")]
#[case::object("return {k: 3};", "{k: 3}")]
#[case::function("fn f() { return 0; }\nreturn f;", "<fn f>")]
#[case::cycle("let a = [1, 0];\na[1] = a;\nreturn a;", "[1, [...]]")]
fn main_returns_its_value_formatted_as_print_writes_it(#[case] source: &str, #[case] value: &str) {
    if harness().this_test() {
        return;
    }
    assert_eq!(run(source).result, Ok(value.to_string()));
}

#[test]
fn a_structure_100_000_deep_prints_without_overflowing_the_native_stack() {
    if harness().this_test() {
        return;
    }
    // Printing runs on a thread with a small (2 MiB) stack: the printer must not
    // recurse once per level.
    let text = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let source = "let a = 0;\nlet i = 0;\nwhile i < 100000 {\n  a = [a];\n  i = i + 1;\n}\nprint a;\n";
            output_of(source)
        })
        .unwrap()
        .join()
        .expect("printing a deep structure does not crash");
    let expected = format!("{}0{}", "[".repeat(100_000), "]".repeat(100_000));
    // Not assert_eq: a diff of two 200,000-character lines helps nobody.
    assert!(
        text.len() == 1 && text[0] == expected,
        "the deep structure printed wrong"
    );
}
