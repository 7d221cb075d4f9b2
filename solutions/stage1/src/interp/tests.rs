//! The interpreter on programs built from `Instr` values: every instruction, every
//! runtime error, the depth limit, traces, counters.

use super::*;
use crate::bytecode::Function;
use crate::error::TraceFrame;
use crate::value::{INT_MAX, INT_MIN};
use crate::verify::verify;
use Instr::*;

/// A function whose instruction `pc` is on source line `pc + 1`.
fn func(name: &str, arity: u32, locals: u32, code: Vec<Instr>) -> Function {
    Function {
        name: name.to_string(),
        arity,
        locals,
        lines: (1..=code.len() as u32).collect(),
        code,
    }
}

/// A verified program of `functions` (main first) with `constants` and the fields
/// `x`, `y`, `z`.
fn program(constants: &[i64], functions: Vec<Function>) -> Verified {
    let program = Program {
        functions,
        constants: constants.to_vec(),
        fields: vec!["x".into(), "y".into(), "z".into()],
    };
    verify(program, "test.jasm").expect("test program verifies")
}

/// Runs `program` with instruction counting on: what it returned, what it printed,
/// and the interpreter (for its stats and profile).
fn run(program: &Verified) -> (Result<String, RuntimeError>, String, Interpreter) {
    let mut interp = Interpreter::with_options(Options {
        count_instructions: true,
        ..Options::default()
    });
    let mut out = Vec::new();
    let result = interp.run(program, &mut out);
    (result, String::from_utf8(out).unwrap(), interp)
}

/// What main returns, when it is `code` over `constants`.
fn main_result(constants: &[i64], code: Vec<Instr>) -> Result<String, ErrorKind> {
    let p = program(constants, vec![func("main", 0, 2, code)]);
    run(&p).0.map_err(|e| e.kind)
}

/// `a OP b` evaluated by the interpreter.
fn binary(op: Instr, a: i64, b: i64) -> Result<String, ErrorKind> {
    main_result(&[a, b], vec![Const(0), Const(1), op, Return])
}

#[test]
fn constants_locals_dup_pop_and_print() {
    let p = program(
        &[20, 22],
        vec![func(
            "main",
            0,
            2,
            vec![
                Const(0),
                StoreLocal(1),
                LoadLocal(1),
                Const(1),
                Add,
                Dup,
                Print,
                Const(1),
                Pop,
                LoadLocal(0), // never stored: locals start at 0
                Print,
                Return,
            ],
        )],
    );
    let (result, out, interp) = run(&p);
    assert_eq!(result.unwrap(), "42");
    assert_eq!(out, "42\n0\n");
    assert_eq!(interp.stats().instructions, Some(12));
    assert_eq!(interp.stats().calls, 1);
}

#[test]
fn instructions_are_not_counted_unless_asked() {
    let p = program(&[1], vec![func("main", 0, 0, vec![Const(0), Return])]);
    let mut interp = Interpreter::new();
    assert_eq!(interp.run(&p, &mut Vec::new()).unwrap(), "1");
    assert_eq!(interp.stats().instructions, None);
    assert_eq!(interp.name(), "interpreter");
}

#[test]
fn arithmetic_instructions() {
    assert_eq!(binary(Add, 40, 2), Ok("42".into()));
    assert_eq!(binary(Sub, 40, 2), Ok("38".into()));
    assert_eq!(binary(Mul, -6, 7), Ok("-42".into()));
    assert_eq!(binary(Div, -7, 2), Ok("-3".into()));
    assert_eq!(binary(Mod, -7, 2), Ok("-1".into()));
    assert_eq!(binary(Mod, INT_MIN, -1), Ok("0".into()));
    assert_eq!(
        main_result(&[5], vec![Const(0), Neg, Return]),
        Ok("-5".into())
    );
}

#[test]
fn arithmetic_errors() {
    assert_eq!(binary(Add, INT_MAX, 1), Err(ErrorKind::IntegerOverflow));
    assert_eq!(binary(Sub, INT_MIN, 1), Err(ErrorKind::IntegerOverflow));
    assert_eq!(binary(Mul, INT_MAX, 2), Err(ErrorKind::IntegerOverflow));
    assert_eq!(binary(Div, 1, 0), Err(ErrorKind::DivisionByZero));
    assert_eq!(binary(Mod, 1, 0), Err(ErrorKind::DivisionByZero));
    assert_eq!(binary(Div, INT_MIN, -1), Err(ErrorKind::IntegerOverflow));
    assert_eq!(
        main_result(&[INT_MIN], vec![Const(0), Neg, Return]),
        Err(ErrorKind::IntegerOverflow)
    );
    assert_eq!(
        main_result(&[1], vec![NewObject, Const(0), Add, Return]),
        Err(ErrorKind::TypeError)
    );
    assert_eq!(
        main_result(&[], vec![FuncRef(0), Neg, Return]),
        Err(ErrorKind::TypeError)
    );
}

#[test]
fn comparisons_and_not() {
    assert_eq!(binary(Lt, 1, 2), Ok("1".into()));
    assert_eq!(binary(Le, 2, 2), Ok("1".into()));
    assert_eq!(binary(Gt, 1, 2), Ok("0".into()));
    assert_eq!(binary(Ge, 1, 2), Ok("0".into()));
    assert_eq!(binary(Eq, 3, 3), Ok("1".into()));
    assert_eq!(binary(Ne, 3, 3), Ok("0".into()));
    assert_eq!(
        main_result(&[0], vec![Const(0), Not, Return]),
        Ok("1".into())
    );
    assert_eq!(
        main_result(&[7], vec![Const(0), Not, Return]),
        Ok("0".into())
    );
    assert_eq!(
        main_result(&[], vec![NewObject, Not, Return]),
        Err(ErrorKind::TypeError)
    );
    assert_eq!(
        main_result(&[], vec![NewObject, NewObject, Lt, Return]),
        Err(ErrorKind::TypeError)
    );
}

#[test]
fn equality_is_identity_on_heap_values() {
    // a = {}; [a == a, a == {}, a == 0, f == f]
    let code = vec![
        NewObject,
        StoreLocal(0),
        LoadLocal(0),
        LoadLocal(0),
        Eq,
        LoadLocal(0),
        NewObject,
        Eq,
        LoadLocal(0),
        Const(0),
        Ne,
        FuncRef(0),
        FuncRef(0),
        Eq,
        NewArray(4),
        Return,
    ];
    assert_eq!(main_result(&[0], code), Ok("[1, 0, 1, 1]".into()));
}

#[test]
fn jumps_take_integer_conditions_only() {
    // v = if 0 { 1 } else { 2 }; if 5 { return v + 5 } return v
    let code = vec![
        Const(0),
        JumpIfFalse(4),
        Const(1),
        Jump(5),
        Const(3),
        Const(2), // 5
        JumpIfTrue(8),
        Return,
        Const(2), // 8
        Add,
        Return,
    ];
    assert_eq!(main_result(&[0, 1, 5, 2], code), Ok("7".into()));
    for jump in [JumpIfFalse(4), JumpIfTrue(4)] {
        let code = vec![NewObject, jump, FuncRef(0), Return, FuncRef(0), Return];
        assert_eq!(main_result(&[], code), Err(ErrorKind::TypeError));
    }
}

/// `i = 0; s = 0; while i < n { s = s + i; i = i + 1 } return s`, the `loop` at pc 13.
fn sum_below(n: i64) -> Verified {
    let code = vec![
        Const(0),
        StoreLocal(0),
        Const(0),
        StoreLocal(1),
        LoadLocal(0), // 4: loop head
        Const(1),
        Lt,
        JumpIfFalse(17),
        LoadLocal(1),
        LoadLocal(0),
        Add,
        StoreLocal(1),
        LoadLocal(0),
        Const(2),
        Add,
        StoreLocal(0),
        Loop(4),      // 16
        LoadLocal(1), // 17
        Return,
    ];
    program(&[0, n, 1], vec![func("main", 0, 2, code)])
}

#[test]
fn loops_run_and_back_edges_are_counted() {
    let (result, _, interp) = run(&sum_below(10));
    assert_eq!(result.unwrap(), "45");
    let profile = interp.profile();
    assert_eq!(profile.calls, vec![1]);
    let mut expected = vec![0; 19];
    expected[16] = 10;
    assert_eq!(profile.back_edges, vec![expected]);
    // 4 setup + 10 trips of 13 + the last test (4) + load and return (2).
    assert_eq!(interp.stats().instructions, Some(4 + 10 * 13 + 4 + 2));
}

#[test]
fn profile_starts_afresh_each_run() {
    let p = sum_below(3);
    let mut interp = Interpreter::new();
    interp.run(&p, &mut Vec::new()).unwrap();
    interp.run(&p, &mut Vec::new()).unwrap();
    assert_eq!(interp.profile().back_edges[0][16], 3);
    assert_eq!(interp.profile().calls, vec![1]);
}

/// main calls `add(a, b)`, directly and through a value; `add` counts its calls.
#[test]
fn direct_calls_and_calls_through_values() {
    let main = func(
        "main",
        0,
        0,
        vec![
            Const(0),
            Const(1),
            Call { func: 1, argc: 2 },
            FuncRef(1),
            Const(1),
            Const(1),
            CallValue(2),
            Sub,
            Return,
        ],
    );
    let add = func("add", 2, 3, vec![LoadLocal(0), LoadLocal(1), Add, Return]);
    let (result, _, interp) = run(&program(&[40, 2], vec![main, add]));
    assert_eq!(result.unwrap(), "38");
    assert_eq!(interp.profile().calls, vec![1, 2]);
    assert_eq!(interp.stats().calls, 3);
}

#[test]
fn call_value_checks_function_then_arity() {
    let add = || func("add", 2, 2, vec![LoadLocal(0), Return]);
    let not_a_function = func(
        "main",
        0,
        0,
        vec![NewObject, Const(0), CallValue(1), Return],
    );
    let p = program(&[1], vec![not_a_function, add()]);
    assert_eq!(run(&p).0.unwrap_err().kind, ErrorKind::TypeError);
    let wrong_arity = func(
        "main",
        0,
        0,
        vec![FuncRef(1), Const(0), CallValue(1), Return],
    );
    let p = program(&[1], vec![wrong_arity, add()]);
    assert_eq!(
        run(&p).0.unwrap_err().kind,
        ErrorKind::WrongNumberOfArguments
    );
}

#[test]
fn callee_locals_start_at_zero_even_on_reused_stack() {
    let main = func(
        "main",
        0,
        0,
        vec![
            Call { func: 1, argc: 0 },
            Pop,
            Call { func: 2, argc: 0 },
            Return,
        ],
    );
    let dirty = func(
        "dirty",
        0,
        2,
        vec![Const(0), StoreLocal(1), Const(0), Return],
    );
    let clean = func("clean", 0, 2, vec![LoadLocal(1), Return]);
    let (result, _, _) = run(&program(&[99], vec![main, dirty, clean]));
    assert_eq!(result.unwrap(), "0");
}

/// main calls `down(n)`, which recurses down to 0: `n + 2` frames in all.
fn recursion(n: i64) -> Verified {
    let main = func(
        "main",
        0,
        0,
        vec![Const(0), Call { func: 1, argc: 1 }, Return],
    );
    let down = func(
        "down",
        1,
        1,
        vec![
            LoadLocal(0), // 0
            Const(1),
            Eq,
            JumpIfFalse(6),
            Const(1),
            Return,
            LoadLocal(0), // 6
            Const(2),
            Sub,
            Call { func: 1, argc: 1 }, // 9
            Const(2),
            Add,
            Return,
        ],
    );
    program(&[n, 0, 1], vec![main, down])
}

#[test]
fn the_call_depth_limit_is_ten_thousand_frames_with_main() {
    // On a small native stack: frames must not be native recursion.
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            // 9,999 nested calls below main: 10,000 frames, the limit.
            let (result, _, interp) = run(&recursion(9_998));
            assert_eq!(result.unwrap(), "9998");
            assert_eq!(interp.profile().calls, vec![1, 9_999]);

            let (result, _, _) = run(&recursion(9_999));
            let error = result.unwrap_err();
            assert_eq!(error.kind, ErrorKind::StackOverflow);
            // The innermost frames first, at the call (line 10), then main.
            assert_eq!(error.trace.len(), RuntimeError::MAX_TRACE);
            let down = TraceFrame {
                function: "down".into(),
                line: 10,
            };
            assert!(error.trace[..RuntimeError::MAX_TRACE - 1]
                .iter()
                .all(|f| *f == down));
            assert_eq!(
                error.trace.last(),
                Some(&TraceFrame {
                    function: "main".into(),
                    line: 2
                })
            );
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn errors_trace_every_frame_innermost_first() {
    let main = func(
        "main",
        0,
        0,
        vec![Const(0), Call { func: 1, argc: 1 }, Return],
    );
    let divide = func(
        "divide",
        1,
        1,
        vec![Const(0), Call { func: 2, argc: 1 }, Return],
    );
    let inner = func("inner", 1, 1, vec![LoadLocal(0), Const(1), Div, Return]);
    let (result, _, _) = run(&program(&[7, 0], vec![main, divide, inner]));
    let error = result.unwrap_err();
    assert_eq!(error.kind, ErrorKind::DivisionByZero);
    let at = |function: &str, line| TraceFrame {
        function: function.into(),
        line,
    };
    assert_eq!(
        error.trace,
        vec![at("inner", 3), at("divide", 2), at("main", 2)]
    );
}

#[test]
fn arrays() {
    // a = [1, 2, 3]; a[1] = [0; 2]; [len(a), a[1], a]
    let code = vec![
        Const(0),
        Const(1),
        Const(2),
        NewArray(3),
        StoreLocal(0),
        LoadLocal(0),
        Const(0),
        Const(3),
        Const(1),
        NewArrayFill,
        ArraySet,
        LoadLocal(0),
        ArrayLen,
        LoadLocal(0),
        Const(0),
        ArrayGet,
        NewArray(2),
        Return,
    ];
    assert_eq!(main_result(&[1, 2, 3, 0], code), Ok("[3, [0, 0]]".into()));
    assert_eq!(main_result(&[], vec![NewArray(0), Return]), Ok("[]".into()));
}

#[test]
fn array_errors() {
    let oob = Err(ErrorKind::IndexOutOfBounds);
    let get = |i| vec![Const(0), Const(0), NewArray(2), Const(i), ArrayGet, Return];
    // The constants: the element 5, then the indices 1, 2 and -1.
    let constants = [5, 1, 2, -1];
    assert_eq!(main_result(&constants, get(1)), Ok("5".into()));
    assert_eq!(main_result(&constants, get(2)), oob);
    assert_eq!(main_result(&constants, get(3)), oob);
    let set = vec![
        Const(0),
        NewArray(1),
        Const(0),
        Const(0),
        ArraySet,
        Const(0),
        Return,
    ];
    assert_eq!(main_result(&[1], set), oob);
    assert_eq!(
        main_result(&[0, -1], vec![Const(0), Const(1), NewArrayFill, Return]),
        oob
    );
    assert_eq!(
        main_result(
            &[0, (1 << 28) + 1],
            vec![Const(0), Const(1), NewArrayFill, Return]
        ),
        Err(ErrorKind::OutOfMemory)
    );
    assert_eq!(
        main_result(&[0], vec![Const(0), NewObject, NewArrayFill, Return]),
        Err(ErrorKind::TypeError)
    );
    assert_eq!(
        main_result(&[0], vec![Const(0), ArrayLen, Return]),
        Err(ErrorKind::TypeError)
    );
    assert_eq!(
        main_result(&[0], vec![NewObject, Const(0), ArrayGet, Return]),
        Err(ErrorKind::TypeError)
    );
    assert_eq!(
        main_result(
            &[0],
            vec![NewArray(0), NewObject, Const(0), ArraySet, Const(0), Return]
        ),
        Err(ErrorKind::TypeError)
    );
}

#[test]
fn the_heap_limit_is_out_of_memory() {
    let p = program(
        &[0, 1000],
        vec![func(
            "main",
            0,
            0,
            vec![Const(0), Const(1), NewArrayFill, Return],
        )],
    );
    let mut small = Interpreter::with_options(Options {
        heap_limit: 4000,
        ..Options::default()
    });
    let error = small.run(&p, &mut Vec::new()).unwrap_err();
    assert_eq!(error.kind, ErrorKind::OutOfMemory);
    assert_eq!(
        error.trace,
        vec![TraceFrame {
            function: "main".into(),
            line: 3
        }]
    );
    let mut big = Interpreter::with_options(Options {
        heap_limit: 8008,
        ..Options::default()
    });
    assert!(big.run(&p, &mut Vec::new()).is_ok());
    assert_eq!(big.heap().used_bytes(), 8008);
}

#[test]
fn objects() {
    // o = {}; o.y = 1; o.x = 2; o.y = 3; [o.x, o]
    let code = vec![
        NewObject,
        StoreLocal(0),
        LoadLocal(0),
        Const(0),
        SetField(1),
        LoadLocal(0),
        Const(1),
        SetField(0),
        LoadLocal(0),
        Const(2),
        SetField(1),
        LoadLocal(0),
        GetField(0),
        LoadLocal(0),
        NewArray(2),
        Return,
    ];
    assert_eq!(
        main_result(&[1, 2, 3], code),
        Ok("[2, {y: 3, x: 2}]".into())
    );
}

#[test]
fn object_errors() {
    assert_eq!(
        main_result(&[], vec![NewObject, GetField(2), Return]),
        Err(ErrorKind::NoSuchField)
    );
    assert_eq!(
        main_result(&[1], vec![Const(0), GetField(0), Return]),
        Err(ErrorKind::TypeError)
    );
    assert_eq!(
        main_result(
            &[1],
            vec![NewArray(0), Const(0), SetField(0), Const(0), Return]
        ),
        Err(ErrorKind::TypeError)
    );
}

#[test]
fn print_formats_values_and_functions() {
    let main = func(
        "main",
        0,
        1,
        vec![
            FuncRef(1),
            Print,
            Const(0),
            NewArray(0),
            FuncRef(0),
            NewArray(3),
            StoreLocal(0),
            LoadLocal(0),
            Const(1),
            LoadLocal(0),
            ArraySet, // a[1] = a
            LoadLocal(0),
            Print,
            FuncRef(1),
            Return,
        ],
    );
    let helper = func("helper", 0, 0, vec![Const(0), Return]);
    let (result, out, _) = run(&program(&[-5, 1], vec![main, helper]));
    assert_eq!(result.unwrap(), "<fn helper>");
    assert_eq!(out, "<fn helper>\n[-5, [...], <fn main>]\n");
}

#[test]
fn return_in_main_ends_the_program() {
    let code = vec![
        Const(0),
        Print,
        Const(1),
        JumpIfFalse(6),
        Const(0),
        Return,
        Const(0), // 6
        Print,
        Const(0),
        Return,
    ];
    let p = program(&[3, 1], vec![func("main", 0, 0, code)]);
    let (result, out, _) = run(&p);
    assert_eq!(result.unwrap(), "3");
    assert_eq!(out, "3\n");
}

/// A writer that always fails, like a closed pipe.
struct Broken;

impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_output_is_an_error() {
    let p = program(
        &[1],
        vec![func("main", 0, 0, vec![Const(0), Print, Const(0), Return])],
    );
    let error = Interpreter::new().run(&p, &mut Broken).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Output);
}

/// Each superinstruction's sequence, failing at its last operator: the error names
/// that operator's line (instruction `pc` is on line `pc + 1`), and a run that does not
/// fail counts every instruction of the sequence.
#[test]
fn superinstructions_fail_where_the_plain_ones_would() {
    // Local 0 holds an array, so every operator on it is a type error.
    let setup = vec![Const(0), NewArray(1), StoreLocal(0)];
    let cases: Vec<(Vec<Instr>, u32)> = vec![
        // load_local; load_local; lt; jump_if_false  -> fails at the lt (pc 5).
        (
            vec![
                LoadLocal(0),
                LoadLocal(1),
                Lt,
                JumpIfFalse(7),
                Const(0),
                Return,
            ],
            6,
        ),
        // load_local; const; gt; jump_if_false       -> fails at the gt.
        (
            vec![LoadLocal(0), Const(0), Gt, JumpIfFalse(7), Const(0), Return],
            6,
        ),
        // load_local; const; mul                     -> fails at the mul.
        (vec![LoadLocal(0), Const(0), Mul, Return], 6),
        // const; add (on the array below it)         -> fails at the add (pc 4).
        (vec![LoadLocal(0), Const(0), Pop, Const(0), Add, Return], 8),
    ];
    for (tail, line) in cases {
        let mut code = setup.clone();
        code.extend(tail);
        let p = program(&[1], vec![func("main", 0, 2, code.clone())]);
        let fused = superinstr::superinstructions(&code);
        assert!(
            fused.iter().any(|op| superinstr::length(*op) > 1),
            "{code:?} has a superinstruction"
        );
        let error = run(&p).0.expect_err("a type error");
        assert_eq!(error.kind, ErrorKind::TypeError, "{code:?}");
        assert_eq!(error.trace[0].line, line, "{code:?}");
    }
}

#[test]
fn superinstructions_branch_and_count_like_the_plain_ones() {
    // i = 0; while i < 3 { i = i + 1 }; return i * 10
    let code = vec![
        Const(0),        // 0
        StoreLocal(0),   // 1
        LoadLocal(0),    // 2  fused: i < 3, else to 11
        Const(1),        // 3
        Lt,              // 4
        JumpIfFalse(11), // 5
        LoadLocal(0),    // 6  fused: i + 1
        Const(2),        // 7
        Add,             // 8
        StoreLocal(0),   // 9
        Loop(2),         // 10
        LoadLocal(0),    // 11 fused: i * 10
        Const(3),        // 12
        Mul,             // 13
        Return,          // 14
    ];
    let p = program(&[0, 3, 1, 10], vec![func("main", 0, 1, code)]);
    let (result, _, interp) = run(&p);
    assert_eq!(result, Ok("30".to_string()));
    // 2 to start, 4 + 5 per trip for 3 trips, 4 to leave the loop, 4 to return.
    assert_eq!(interp.stats().instructions, Some(2 + 3 * 9 + 4 + 4));
    assert_eq!(interp.profile().back_edges[0][10], 3);
}

/// `call_function` on one program, then on another through the same interpreter:
/// each runs its own code on its own frames (the second once ran the first one's
/// code, prepared for the first program, writing past its frame).
#[test]
fn call_function_runs_the_program_it_is_given() {
    // f(a) = a + 1 in the first program; f(a, b) = a * b + 7 with an extra local and
    // a deeper stack in the second.
    let first = program(
        &[1],
        vec![
            func("main", 0, 0, vec![Const(0), Return]),
            func("f", 1, 1, vec![LoadLocal(0), Const(0), Add, Return]),
        ],
    );
    let second = program(
        &[7, 3],
        vec![
            func("main", 0, 0, vec![Const(0), Return]),
            func(
                "f",
                2,
                3,
                vec![
                    LoadLocal(0),
                    LoadLocal(1),
                    Const(1),
                    Mul,
                    Mul,
                    Const(0),
                    Add,
                    StoreLocal(2),
                    LoadLocal(2),
                    Return,
                ],
            ),
        ],
    );
    let mut interp = Interpreter::new();
    let mut heap = Heap::new(1 << 20);
    let mut out = Vec::new();
    let mut call = |verified: &Verified, args: &[Value]| {
        interp
            .call_function(verified, &mut heap, 1, args, 0, None, &mut out)
            .map(Value::as_int)
    };
    assert_eq!(call(&first, &[Value::int(41)]), Ok(42));
    assert_eq!(call(&second, &[Value::int(5), Value::int(2)]), Ok(37));
    assert_eq!(call(&first, &[Value::int(1)]), Ok(2));
    // A clone is a program of its own too.
    assert_eq!(
        call(&second.clone(), &[Value::int(1), Value::int(1)]),
        Ok(10)
    );
}

/// Entering `sum_below(10)` mid-way — at its loop header with the locals of the
/// fourth trip, or at its `lt` with the two operands on the stack — gives what a
/// full run gives, as an OSR entry (stage 5) or a deoptimization (stage 7) will.
#[test]
fn entering_mid_way_gives_the_full_runs_result() {
    let p = sum_below(10);
    let full = run(&p).0.unwrap();
    assert_eq!(full, "45");
    let mut interp = Interpreter::new();
    let mut heap = Heap::new(1 << 20);
    let mut enter = |pc: usize, locals: &[Value], operands: &[Value]| {
        let entry = Entry {
            func: MAIN,
            pc,
            locals,
            operands,
            depth: 0,
        };
        let result = interp.enter(&p, &mut heap, entry, None, &mut Vec::new());
        result.map(|v| v.as_int().to_string())
    };
    // i = 3, s = 0 + 1 + 2 = 3, about to test i < n.
    let locals = [Value::int(3), Value::int(3)];
    assert_eq!(enter(4, &locals, &[]).as_deref(), Ok(full.as_str()));
    let operands = [Value::int(3), Value::int(10)];
    assert_eq!(enter(6, &locals, &operands).as_deref(), Ok(full.as_str()));
    // The last trip's test: i = 10 leaves the loop at once.
    let done = [Value::int(10), Value::int(45)];
    assert_eq!(enter(4, &done, &[]).as_deref(), Ok(full.as_str()));
}

/// An entry that does not fit the verifier's depth is refused before it runs.
#[test]
#[should_panic(expected = "enter: operands at pc 6")]
fn entering_with_the_wrong_operands_is_refused() {
    let p = sum_below(10);
    let entry = Entry {
        func: MAIN,
        pc: 6,
        locals: &[Value::ZERO, Value::ZERO],
        operands: &[],
        depth: 0,
    };
    let _ = Interpreter::new().enter(&p, &mut Heap::new(1 << 20), entry, None, &mut Vec::new());
}
