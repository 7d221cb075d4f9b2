//! The verifier: every bad program it must reject, built directly as `Program` values
//! (as a buggy compiler or a hand-written `.jasm` file could make them), each rejected
//! with the file, the line of the offending instruction and a message naming the
//! function; and what it computes for good programs.

use pretty_assertions::assert_eq;
use rstest::rstest;
use stage1::{verify, Function, Instr, Program};

use Instr::*;

/// A function whose instruction `pc` is on line `100 + pc`, so an error's line says
/// which instruction it is about.
fn function(name: &str, arity: u32, locals: u32, code: Vec<Instr>) -> Function {
    let lines = (0..code.len() as u32).map(|pc| 100 + pc).collect();
    Function {
        name: name.to_string(),
        arity,
        locals,
        code,
        lines,
    }
}

/// A program of `main` (no parameters, two locals) with `code`, a function `two(a, b)`,
/// the constants 7 and 0 and the field `x`.
fn main_with(code: Vec<Instr>) -> Program {
    Program {
        functions: vec![
            function("main", 0, 2, code),
            function("two", 2, 2, vec![LoadLocal(0), Return]),
        ],
        constants: vec![7, 0],
        fields: vec!["x".to_string()],
    }
}

#[test]
fn a_good_program_verifies_and_gets_its_stack_depths() {
    let program = main_with(vec![
        Const(0),
        Const(1),
        Call { func: 1, argc: 2 },
        Const(0),
        Const(0),
        Const(0),
        NewArray(3),
        Pop,
        Return,
    ]);
    let verified = verify(program.clone(), "good.jasm").unwrap();
    assert_eq!(verified.program(), &program);
    let depths: Vec<u32> = verified.info().iter().map(|i| i.max_stack).collect();
    assert_eq!(depths, [4, 1]);
    // The depth before each instruction, as stage 3 and later tiers read it.
    assert_eq!(verified.depths(0), [0, 1, 2, 1, 2, 3, 4, 2, 1]);
    assert_eq!(verified.depths(1), [0, 1]);
}

#[test]
fn branches_that_agree_on_the_depth_verify() {
    // if c { 1 } else { 0 }, then return it; and a loop that keeps the depth at 0.
    let program = main_with(vec![
        Const(0),       // 0
        JumpIfFalse(4), // 1
        Const(0),       // 2
        Jump(5),        // 3
        Const(1),       // 4
        StoreLocal(0),  // 5
        LoadLocal(0),   // 6: loop head
        JumpIfFalse(9), // 7
        Loop(6),        // 8
        Const(1),       // 9
        Return,         // 10
    ]);
    assert!(verify(program, "good.jasm").is_ok());
}

#[rstest]
#[case::stack_underflow(vec![Add, Const(0), Return], 100, "underflow")]
#[case::underflow_in_a_call(vec![Const(0), Call { func: 1, argc: 2 }, Return], 101, "underflow")]
#[case::return_with_two_values(vec![Const(0), Const(0), Return], 102, "return")]
#[case::return_with_nothing(vec![Return], 100, "return")]
#[case::falls_off_the_end(vec![Const(0), Print], 101, "end")]
#[case::conditional_jump_off_the_end(vec![Const(0), Const(0), JumpIfTrue(4), Return], 102, "past")]
#[case::jump_out_of_range(vec![Jump(9), Const(0), Return], 100, "past")]
#[case::jump_backward(vec![Const(0), Const(0), JumpIfFalse(1), Return], 102, "forward")]
#[case::loop_forward(vec![Loop(1), Const(0), Return], 100, "forward")]
#[case::depths_disagree_at_a_join(
    vec![Const(0), JumpIfFalse(3), Const(0), Const(0), Return],
    103,
    "depth"
)]
#[case::unreachable_code(vec![Const(0), Return, Const(0), Return], 102, "unreachable")]
#[case::constant_out_of_range(vec![Const(2), Return], 100, "constant")]
#[case::local_out_of_range(vec![LoadLocal(2), Return], 100, "local")]
#[case::store_local_out_of_range(vec![Const(0), StoreLocal(5), Const(0), Return], 101, "local")]
#[case::field_out_of_range(vec![NewObject, GetField(1), Return], 101, "field")]
#[case::function_out_of_range(vec![FuncRef(2), Return], 100, "function")]
#[case::call_out_of_range(vec![Call { func: 9, argc: 0 }, Return], 100, "function")]
#[case::call_with_the_wrong_arity(vec![Const(0), Call { func: 1, argc: 1 }, Return], 101, "two")]
fn a_bad_instruction_is_rejected_at_its_line(
    #[case] code: Vec<Instr>,
    #[case] line: u32,
    #[case] words: &str,
) {
    let e = verify(main_with(code.clone()), "bad.jasm").unwrap_err();
    assert_eq!(e.file, "bad.jasm");
    assert_eq!(e.line, line, "{code:?}: {e}");
    assert!(
        e.message.contains("main"),
        "the message names the function: {e}"
    );
    assert!(e.message.contains(words), "`{words}` not in: {e}");
}

#[rstest]
#[case::no_functions(Program::default(), "main")]
#[case::main_with_parameters(
    Program { functions: vec![function("main", 1, 1, vec![LoadLocal(0), Return])], ..Program::default() },
    "main"
)]
#[case::function_zero_is_not_main(
    Program { functions: vec![function("start", 0, 0, vec![FuncRef(0), Return])], ..Program::default() },
    "main"
)]
#[case::empty_code(
    Program { functions: vec![function("main", 0, 0, vec![])], ..Program::default() },
    "code"
)]
#[case::fewer_locals_than_parameters(
    Program {
        functions: vec![
            function("main", 0, 0, vec![FuncRef(1), Return]),
            function("f", 2, 1, vec![FuncRef(1), Return]),
        ],
        ..Program::default()
    },
    "parameters"
)]
#[case::too_many_locals(
    Program { functions: vec![function("main", 0, 70_000, vec![FuncRef(0), Return])], ..Program::default() },
    "locals"
)]
#[case::lines_do_not_match_the_code(
    Program {
        functions: vec![Function { lines: vec![1], ..function("main", 0, 0, vec![FuncRef(0), Return]) }],
        ..Program::default()
    },
    "lines"
)]
#[case::two_functions_with_one_name(
    Program {
        functions: vec![
            function("main", 0, 0, vec![FuncRef(0), Return]),
            function("f", 0, 0, vec![FuncRef(0), Return]),
            function("f", 0, 0, vec![FuncRef(0), Return]),
        ],
        ..Program::default()
    },
    "'f'"
)]
#[case::constant_past_63_bits(
    Program {
        functions: vec![function("main", 0, 0, vec![Const(0), Return])],
        constants: vec![1 << 62],
        ..Program::default()
    },
    "constant"
)]
fn a_malformed_program_is_rejected(#[case] program: Program, #[case] words: &str) {
    let e = verify(program, "bad.jasm").unwrap_err();
    assert_eq!(e.file, "bad.jasm");
    assert!(e.line >= 1 && e.column >= 1, "{e}");
    assert!(e.message.contains(words), "`{words}` not in: {e}");
}

#[test]
fn a_bad_instruction_in_another_function_names_that_function() {
    let mut program = main_with(vec![Const(0), Return]);
    program.functions[1].code = vec![LoadLocal(0), LoadLocal(1), Return];
    program.functions[1].lines = vec![7, 8, 9];
    let e = verify(program, "bad.jasm").unwrap_err();
    assert_eq!(e.line, 9);
    assert!(e.message.contains("two"), "{e}");
}

#[test]
fn a_program_that_parses_but_does_not_verify_does_not_load() {
    let text = ".fn main params=0 locals=0\n    const 1\n    add\n    return\n.end\n";
    assert!(stage1::jasm::parse("bad.jasm", text).is_ok());
    let e = stage1::load::load_source("bad.jasm", text).unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("bad.jasm", 3));
    assert!(e.message.contains("underflow"), "{e}");
}
