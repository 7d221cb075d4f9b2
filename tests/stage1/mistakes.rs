//! Behaviour the usual mistakes in the holes break, each checked on its own: which
//! error wins when two apply, locals that start at 0 whatever the stack held, the
//! depth limit against the arity check, exact call counts when a run fails, the
//! frame limit `call_function` is given, and the superinstructions (one dispatch for
//! a sequence) counting and failing like the sequence they stand for.

use stage1::heap::Heap;
use stage1::interp::{Interpreter, Options};
use stage1::limits::MAX_FRAMES;
use stage1::{Engine, ErrorKind};

use super::common::{harness, load, run, run_named};

/// Asserts `source` stops with `kind` at source line `line`.
fn assert_error(source: &str, kind: ErrorKind, line: u32) {
    let run = run(source);
    let e = run.error();
    assert_eq!(e.kind, kind, "{e}\n--- source ---\n{source}");
    assert_eq!(run.error_line(), line, "{e}\n--- source ---\n{source}");
}

#[test]
fn a_type_error_wins_over_division_by_zero() {
    if harness().this_test() {
        return;
    }
    assert_error("print [1] / 0;", ErrorKind::TypeError, 1);
    assert_error("print [1] % 0;", ErrorKind::TypeError, 1);
    for expr in ["a / 0", "a % 0", "a / z", "a % z", "z / a", "1 % a"] {
        let source = format!("let a = [1];\nlet z = 0;\nprint {expr};");
        assert_error(&source, ErrorKind::TypeError, 3);
    }
}

#[test]
fn a_type_error_wins_over_overflow() {
    if harness().this_test() {
        return;
    }
    const MAX: &str = "4611686018427387903";
    assert_error("print [1] + [2];", ErrorKind::TypeError, 1);
    for expr in [
        "a + b", "a - b", "a * b", "a + m", "m + a", "m * a", "a - m",
    ] {
        let source = format!("let a = [1];\nlet b = [2];\nlet m = {MAX};\nprint {expr};");
        assert_error(&source, ErrorKind::TypeError, 4);
    }
}

/// `dirty` fills its locals and returns; `fresh`, called next from the same place,
/// has its frame where `dirty`'s was and must still see its locals as 0.
pub const FRESH_LOCALS: &str = "\
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
        return;
    }
    let run = run_named("fresh.jasm", FRESH_LOCALS);
    if let Err(e) = &run.result {
        panic!("{e}");
    }
    assert_eq!(
        run.lines(),
        ["5"],
        "locals 1..3 of `fresh` must be 0 (only its argument, 5, is set)"
    );
}

/// `down(9998)` makes 9,999 calls below `main`: 10,000 frames, the limit. The call
/// through `h` in the deepest frame has the wrong arity, which is checked first.
pub const ARITY_AT_THE_LIMIT: &str = "\
fn one(x) { return x; }
fn down(n) {
  if n == 0 { let h = one; return h(1, 2); }
  return down(n - 1);
}
print down(9998);";

#[test]
fn a_wrong_arity_at_the_depth_limit_is_an_arity_error() {
    if harness().this_test() {
        return;
    }
    assert_eq!(
        MAX_FRAMES, 10_000,
        "the program above is written for this limit"
    );
    assert_error(ARITY_AT_THE_LIMIT, ErrorKind::WrongNumberOfArguments, 3);
}

#[test]
fn the_call_count_is_exact_when_a_run_ends_in_stack_overflow() {
    if harness().this_test() {
        return;
    }
    let run = run("fn down(n) {\n  return down(n + 1);\n}\nprint down(0);");
    assert_eq!(run.error().kind, ErrorKind::StackOverflow);
    // main and 9,999 calls of `down` ran; the call that failed ran nothing.
    assert_eq!(run.interpreter.stats().calls, MAX_FRAMES as u64);
}

#[test]
fn the_call_count_is_exact_when_a_run_ends_in_a_wrong_arity_call() {
    if harness().this_test() {
        return;
    }
    let run = run(
        "fn two(a, b) { return a + b; }\nprint two(1, 2);\nprint two(3, 4);\nlet f = two;\nprint f(1);",
    );
    assert_eq!(run.error().kind, ErrorKind::WrongNumberOfArguments);
    assert_eq!(
        run.interpreter.stats().calls,
        3,
        "main and two calls of `two`"
    );
}

/// `down(n)` needs `n + 1` frames.
const DOWN: &str = "fn down(n) { if n == 0 { return 0; } return down(n - 1); }\nprint 0;";

#[test]
fn call_function_respects_the_frame_limit_it_is_given() {
    if harness().this_test() {
        return;
    }
    let verified = load("down.mini", DOWN);
    let down = verified
        .program()
        .function_named("down")
        .expect("down exists");
    for below in [0, 1, 5_000, MAX_FRAMES - 10] {
        let room = MAX_FRAMES - below; // frames left for this activation and its calls
        for (n, fits) in [(room - 1, true), (room, false)] {
            let mut interp = Interpreter::new();
            let mut heap = Heap::new(1 << 20);
            let mut out = Vec::new();
            let result = interp.call_function(
                &verified,
                &mut heap,
                down,
                &[stage1::Value::int(n as i64)],
                below,
                None,
                &mut out,
            );
            match result {
                Ok(_) => assert!(
                    fits,
                    "down({n}) with {below} frames below ran past the limit"
                ),
                Err(e) => {
                    assert!(!fits, "down({n}) with {below} frames below: {:?}", e.kind);
                    assert_eq!(e.kind, ErrorKind::StackOverflow);
                }
            }
        }
    }
}

/// Straight-line `.jasm` holding every sequence the interpreter runs as one super-
/// instruction (a local and a constant into arithmetic, a constant into arithmetic, two
/// locals or a local and a constant into a compare and `jump_if_false`), each falling
/// through. Local 0 is 10, local 1 is 3.
const SUPER: &str = "\
.fn main params=0 locals=3
    const 10
    store_local 0
    const 3
    store_local 1
    load_local 0
    const 7
    add
    const 2
    mul
    store_local 2
    load_local 1
    load_local 0
    lt
    jump_if_false out
    load_local 0
    const 3
    gt
    jump_if_false out
    load_local 2
    const 1
    sub
    print
out:
    const 0
    return
.end
";

#[test]
fn superinstructions_count_every_instruction_they_stand_for() {
    if harness().this_test() {
        return;
    }
    let verified = load("super.jasm", SUPER);
    let mut interp = Interpreter::with_options(Options {
        count_instructions: true,
        ..Options::default()
    });
    let mut out = Vec::new();
    interp.run(&verified, &mut out).expect("the program runs");
    assert_eq!(String::from_utf8(out).unwrap(), "33\n");
    // No jump is taken: every instruction runs exactly once.
    let executed = verified.program().functions[0].code.len() as u64;
    assert_eq!(interp.stats().instructions, Some(executed));
}

#[test]
fn superinstructions_fail_at_the_pc_of_the_instruction_that_fails() {
    if harness().this_test() {
        return;
    }
    const MAX: &str = "4611686018427387903";
    // In a .jasm function without `.line`, an instruction's line is its own line.
    let cases = [
        // load_local; const; add — overflow at the add (line 6).
        (format!(".fn main params=0 locals=1\n    const {MAX}\n    store_local 0\n    load_local 0\n    const 1\n    add\n    return\n.end\n"), ErrorKind::IntegerOverflow, 6),
        // const; mul on the top operand — overflow at the mul (line 4).
        (format!(".fn main params=0 locals=0\n    const {MAX}\n    const 2\n    mul\n    return\n.end\n"), ErrorKind::IntegerOverflow, 4),
        // load_local; load_local; lt; jump_if_false — type error at the lt (line 6).
        (".fn main params=0 locals=2\n    new_object\n    store_local 0\n    load_local 0\n    load_local 1\n    lt\n    jump_if_false end\nend:\n    const 0\n    return\n.end\n".to_string(), ErrorKind::TypeError, 6),
        // load_local; const; ge; jump_if_false — type error at the ge (line 6).
        (".fn main params=0 locals=1\n    new_object\n    store_local 0\n    load_local 0\n    const 1\n    ge\n    jump_if_false end\nend:\n    const 0\n    return\n.end\n".to_string(), ErrorKind::TypeError, 6),
        // load_local; const; sub on an object — type error at the sub (line 6).
        (".fn main params=0 locals=1\n    new_object\n    store_local 0\n    load_local 0\n    const 1\n    sub\n    return\n.end\n".to_string(), ErrorKind::TypeError, 6),
    ];
    for (source, kind, line) in cases {
        let run = run_named("super_error.jasm", &source);
        let e = run.error();
        assert_eq!(e.kind, kind, "{e}\n--- source ---\n{source}");
        assert_eq!(run.error_line(), line, "{e}\n--- source ---\n{source}");
    }
}

/// A writer that fails every write, like a closed pipe.
struct Broken;

impl std::io::Write for Broken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::new(
            std::io::ErrorKind::BrokenPipe,
            "closed",
        ))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Err(std::io::Error::new(
            std::io::ErrorKind::BrokenPipe,
            "closed",
        ))
    }
}

#[test]
fn a_print_that_cannot_be_written_is_an_output_error() {
    if harness().this_test() {
        return;
    }
    let verified = load("print.mini", "print 1;\nprint 2;");
    let e = Interpreter::new()
        .run(&verified, &mut Broken)
        .expect_err("printing to a closed pipe fails the run");
    assert_eq!(e.kind, ErrorKind::Output);
}

#[test]
fn an_array_fill_count_must_be_an_integer() {
    if harness().this_test() {
        return;
    }
    assert_error("print [0; [1]];", ErrorKind::TypeError, 1);
    assert_error("let n = {};\nlet a = [7; n];", ErrorKind::TypeError, 2);
}
