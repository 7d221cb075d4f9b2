//! What hostile inputs found (issue 8), kept fixed: huge frames and huge functions
//! give the interpreter's answer, never an error of their own; long operator chains
//! run; `print` streams and a failing output is a clean error.

use jitlab_testkit::memory;
use jitlab_testkit::output::{doubled, Limited};
use stage1::interp::Interpreter;
use stage1::ErrorKind;
use stage3::Jit;

use super::common::{differential, harness, load, run_on};

/// `print len([0, 0, …, 0]);` with `n` elements.
fn big_literal(n: usize) -> String {
    format!("print len([{}]);\n", vec!["0"; n].join(","))
}

#[test]
fn a_big_array_literal_gives_the_interpreters_answer() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    let source = big_literal(100_000);
    differential("big.mini", &source).unwrap_or_else(|report| panic!("{report}"));
    let run = run_on(&mut Jit::new(), &load("big.mini", &source));
    assert_eq!(run.lines(), ["100000"]);
}

#[test]
#[ignore = "400,000 elements: slow in a debug build; `cargo test -- --ignored`"]
fn a_400_000_element_literal_gives_the_interpreters_answer() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    let run = run_on(&mut Jit::new(), &load("big.mini", &big_literal(400_000)));
    assert_eq!(run.lines(), ["400000"]);
}

#[test]
fn a_big_frame_beside_deep_recursion_keeps_the_depth_limit() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    // main's frame is big (a 50,000-element literal) but main cannot recurse; down()
    // recurses to the limit with a small frame.
    let down = "fn down(n) {\n  if n == 0 { return 0; }\n  return down(n - 1) + 1;\n}\n";
    let literal = format!("let a = [{}];\n", vec!["1"; 50_000].join(","));
    let ok = format!("{down}{literal}print len(a) + down(9998);\n");
    let run = run_on(&mut Jit::new(), &load("ok.mini", &ok));
    assert_eq!(run.lines(), ["59998"]);
    let over = format!("{down}{literal}print len(a) + down(9999);\n");
    differential("over.mini", &over).unwrap_or_else(|report| panic!("{report}"));
    let run = run_on(&mut Jit::new(), &load("over.mini", &over));
    assert_eq!(run.error().kind, ErrorKind::StackOverflow);
}

#[test]
fn a_recursive_function_with_a_huge_frame_gives_the_interpreters_answer() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    // 10,000 frames of 60,000 operands would be 4.8 GB of native stack: the engine
    // must still give the interpreter's output and errors.
    let literal = vec!["n"; 60_000].join(",");
    let source = format!(
        "fn f(n) {{\n  if n == 0 {{ return 0; }}\n  let a = [{literal}];\n  return f(n - 1) + len(a) - a[59999] + n;\n}}\nprint f(30);\nprint f(5) + [1];\n"
    );
    differential("huge_frame.mini", &source).unwrap_or_else(|report| panic!("{report}"));
    let run = run_on(&mut Jit::new(), &load("huge_frame.mini", &source));
    assert_eq!(run.lines()[0], "1800000");
}

/// A `.jasm` function of about `n` instructions whose operand stack gets `n / 3`
/// deep: `const 1` pushed, then summed by `add`s, then printed.
fn long_jasm(n: usize) -> String {
    let k = n / 3;
    let mut text = String::from(".fn main params=0 locals=0\n");
    text.push_str(&"    const 1\n".repeat(k));
    text.push_str(&"    add\n".repeat(k - 1));
    text.push_str("    print\n    const 0\n    return\n.end\n");
    text
}

#[test]
fn a_long_deep_jasm_function_gives_the_interpreters_answer() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    let source = long_jasm(150_000);
    differential("long.jasm", &source).unwrap_or_else(|report| panic!("{report}"));
}

#[test]
#[ignore = "1,000,000 instructions: slow in a debug build; `cargo test -- --ignored`"]
fn a_million_instruction_jasm_function_gives_the_interpreters_answer() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    let source = long_jasm(1_000_000);
    differential("long.jasm", &source).unwrap_or_else(|report| panic!("{report}"));
    let program = load("long.jasm", &source);
    let run = run_on(&mut Interpreter::new(), &program);
    assert_eq!(run.lines(), ["333333"]);
}

#[test]
fn long_operator_chains_run_natively() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    for source in [
        format!("print 1{};\n", " + 1".repeat(1_001)),
        format!("let x = 3;\nprint x{};\n", " * 1 + x - x".repeat(30_000)),
        format!("let t = 1;\nprint t{} && 2 > 1;\n", " && t".repeat(20_000)),
        format!("let f = 0;\nprint f{} || f;\n", " || f".repeat(20_000)),
        format!("print 1{} + [1];\n", " + 1".repeat(5_000)),
    ] {
        differential("chain.mini", &source).unwrap_or_else(|report| panic!("{report}"));
    }
}

#[test]
fn print_streams_a_value_whose_text_is_larger_than_memory() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    use stage1::Engine;
    let program = load("doubled.mini", &doubled(40));
    let mut out = Limited::new(1 << 20);
    let e = Jit::new().run(&program, &mut out).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Output);
    out.assert_streamed_until_full();
}

#[test]
fn a_long_print_agrees_with_the_interpreter() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    differential("doubled.mini", &doubled(14)).unwrap_or_else(|report| panic!("{report}"));
    // Printed inside an interpreted function, on a mixed stack, too.
    let source = format!(
        "fn show(a) {{ print a; return 0; }}\n{}show(a);\n",
        doubled(12)
    );
    let program = load("mixed.mini", &source);
    let expected = run_on(&mut Interpreter::new(), &program);
    let mut jit = Jit::with_options(stage3::Options {
        interpret: vec!["show".to_string()],
        ..stage3::Options::default()
    });
    let actual = run_on(&mut jit, &program);
    assert_eq!(actual.output, expected.output);
    assert_eq!(actual.result, expected.result);
}

/// The heap limit of the memory test: small, so that it fills fast.
const PEAK_LIMIT: usize = 32 << 20;
/// What the process may take beyond the heap limit: the program, its code, the
/// native stack it touches, the allocator's own, the test harness.
const PEAK_SLACK: usize = 8 << 20;

#[test]
fn the_heap_limit_bounds_the_process_memory() {
    if harness().this_test() {
        return; // ran in a child process (a crash fails this test alone)
    }
    use stage1::{Engine, ErrorKind};
    // In the child: run one program into the limit and report the peak.
    if let Some(source) = memory::child_case() {
        let program = load("fill.mini", source);
        memory::report_peak(|| {
            let mut jit = stage3::Jit::with_options(stage3::Options {
                heap_limit: PEAK_LIMIT,
                ..stage3::Options::default()
            });
            let e = jit.run(&program, &mut Vec::new()).unwrap_err();
            assert_eq!(e.kind, ErrorKind::OutOfMemory);
        });
        return;
    }
    // In the parent: each case in a process of its own, so each peak is its own.
    memory::assert_peaks(
        "the_heap_limit_bounds_the_process_memory",
        PEAK_LIMIT,
        PEAK_SLACK,
    );
}
