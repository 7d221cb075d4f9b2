//! The limits every engine shares: 10,000 frames with `main` counted, deep recursion
//! that ends in `stack overflow` on any thread, and the heap's size limit.

use pretty_assertions::assert_eq;
use stage1::interp::{Interpreter, Options};
use stage1::{Engine, ErrorKind};

use super::common::{harness, load, run};

/// `down(n)` recurses `n` times below itself: main plus `n + 1` frames of `down`.
const DOWN: &str = "fn down(n) {\n  if n == 0 { return 0; }\n  return down(n - 1) + 1;\n}\n";

#[test]
fn ten_thousand_frames_work_and_one_more_fails() {
    if harness().this_test() {
        return;
    }
    // main + down(9998) .. down(0) = 10,000 frames.
    let ok = run(&format!("{DOWN}print down(9998);\n"));
    assert_eq!(ok.result, Ok("0".to_string()));
    assert_eq!(ok.lines(), ["9998"]);
    // main + down(9999) .. down(0) = 10,001 frames: the call of down(0) fails, in down(1).
    let over = run(&format!("{DOWN}print down(9999);\n"));
    assert_eq!(over.lines(), Vec::<&str>::new());
    assert_eq!(over.error().kind, ErrorKind::StackOverflow);
    assert_eq!(over.error_line(), 3);
}

#[test]
fn the_frame_limit_is_the_same_through_function_values() {
    if harness().this_test() {
        return;
    }
    let source = "\
fn down(n, again) {
  if n == 0 { return 0; }
  return again(n - 1, again) + 1;
}
print down(DEPTH, down);
";
    let ok = run(&source.replace("DEPTH", "9998"));
    assert_eq!(ok.lines(), ["9998"]);
    let over = run(&source.replace("DEPTH", "9999"));
    assert_eq!(over.error().kind, ErrorKind::StackOverflow);
    assert_eq!(over.error_line(), 3);
}

#[test]
fn the_limit_counts_frames_not_calls() {
    if harness().this_test() {
        return;
    }
    // 100,000 calls in sequence, never more than two frames deep.
    let source = "fn one() { return 1; }\nlet s = 0;\nlet i = 0;\nwhile i < 100000 {\n  s = s + one();\n  i = i + 1;\n}\nprint s;\n";
    assert_eq!(run(source).lines(), ["100000"]);
}

#[test]
fn a_frame_limit_error_leaves_the_engine_usable() {
    if harness().this_test() {
        return;
    }
    let program = load("overflow.mini", "fn f() { return f(); }\nf();\n");
    let mut interpreter = Interpreter::new();
    for _ in 0..3 {
        let e = interpreter.run(&program, &mut Vec::new()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::StackOverflow);
    }
    let fine = load("fine.mini", "print 1;\n");
    let mut out = Vec::new();
    assert_eq!(interpreter.run(&fine, &mut out), Ok("0".to_string()));
    assert_eq!(out, b"1\n");
}

#[test]
fn deep_recursion_on_a_2_mib_thread_is_a_stack_overflow_error_not_a_crash() {
    if harness().this_test() {
        return;
    }
    let (kind, finished) = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let forever = run("fn f(n) { return f(n + 1) + 1; }\nprint f(0);\n");
            let deep = run(&format!("{DOWN}print down(9998);\n"));
            (forever.error().kind, deep.lines().join(","))
        })
        .unwrap()
        .join()
        .expect("the interpreter does not crash on a 2 MiB stack");
    assert_eq!(kind, ErrorKind::StackOverflow);
    assert_eq!(finished, "9998");
}

#[test]
fn a_small_heap_runs_out_of_memory_cleanly() {
    if harness().this_test() {
        return;
    }
    let source = "\
let keep = [0; 100];
let i = 0;
while i < 100 {
  keep[i] = [i; 1000];
  i = i + 1;
}
print 1;
";
    let program = load("heap.mini", source);
    let mut small = Interpreter::with_options(Options {
        heap_limit: 64 * 1024,
        ..Options::default()
    });
    let e = small.run(&program, &mut Vec::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::OutOfMemory);
    assert_eq!(e.trace.first().map(|f| f.line), Some(4));
    let mut out = Vec::new();
    assert_eq!(
        Interpreter::new().run(&program, &mut out),
        Ok("0".to_string())
    );
    assert_eq!(out, b"1\n");
}

#[test]
fn arrays_up_to_two_to_the_28_are_allowed_and_one_more_is_out_of_memory() {
    if harness().this_test() {
        return;
    }
    // The length limit is checked before anything is allocated.
    let over = run("print len([0; 268435457]);");
    assert_eq!(over.error().kind, ErrorKind::OutOfMemory);
    let huge = run("print len([0; 4611686018427387903]);");
    assert_eq!(huge.error().kind, ErrorKind::OutOfMemory);
    let empty = run("print len([0; 0]);");
    assert_eq!(empty.lines(), ["0"]);
}
