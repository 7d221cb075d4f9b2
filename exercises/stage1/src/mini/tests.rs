//! The Mini front end: errors and their positions, the shape of the code it emits, and
//! that whatever it accepts, the verifier accepts too.

use super::compile;
use crate::bytecode::{Instr, Program};
use crate::verify::verify;
use Instr::*;

/// The error of compiling `source`: `(line, column, message)`.
fn error(source: &str) -> (u32, u32, String) {
    match compile("t.mini", source) {
        Ok(p) => panic!("expected an error for {source:?}, got {p:?}"),
        Err(e) => {
            assert_eq!(e.file, "t.mini");
            (e.line, e.column, e.message)
        }
    }
}

fn program(source: &str) -> Program {
    let program = compile("t.mini", source).unwrap_or_else(|e| panic!("{source:?}: {e}"));
    verify(program.clone(), "t.mini").unwrap_or_else(|e| panic!("{source:?} verifies: {e}"));
    program
}

/// The code of function `index`.
fn code(source: &str, index: usize) -> Vec<Instr> {
    program(source).functions[index].code.clone()
}

#[test]
fn errors_point_at_the_token_at_fault() {
    #[rustfmt::skip]
    let cases: &[(&str, u32, u32, &str)] = &[
        ("print 1\nprint 2;",                        2, 1, "expected ';' after the 'print' statement"),
        ("let a = 1;\na\n",                          3, 1, "expected ';' after expression"),
        ("print x;",                                 1, 7, "unknown name 'x'"),
        ("let let = 1;",                             1, 5, "'let' is reserved"),
        ("fn print() {}",                            1, 4, "'print' is reserved"),
        ("fn f(true) {}",                            1, 6, "'true' is reserved"),
        ("print len;",                               1, 7, "'len' is reserved"),
        ("print len(1, 2);",                         1, 7, "len takes exactly one argument"),
        ("print len();",                             1, 7, "len takes exactly one argument"),
        ("print 4611686018427387904;",               1, 7, "integer literal too large"),
        ("print -4611686018427387904;",              1, 8, "integer literal too large"),
        ("print 12x;",                               1, 7, "invalid integer literal"),
        ("print 1 # 2;",                             1, 9, "unexpected character '#'"),
        ("print 1 2; #",                             1, 9, "expected ';'"),
        ("print (1;",                                1, 9, "expected ')'"),
        ("print [1, 2;",                             1, 12, "expected ','"),
        ("print {x 1};",                             1, 10, "expected ':'"),
        ("print;",                                   1, 6, "expected an expression, found ';'"),
        ("let x = if;",                              1, 9, "expected an expression, found 'if'"),
        ("fn main() {}",                             1, 4, "'main' names the program's top-level code"),
        ("fn f() {}\nfn f(a) {}",                    2, 4, "function 'f' is declared twice"),
        ("fn f(a, b, a) {}",                         1, 12, "parameter 'a' is declared twice"),
        ("fn f(a) { return a; }\nprint f(1, 2);",    2, 7, "function 'f' takes 1 argument, but 2 are given"),
        ("print g();\nfn g(a, b) {}",                1, 7, "function 'g' takes 2 arguments, but 0 are given"),
        ("let x = 1;\nfn f() { return x; }",         2, 17, "unknown name 'x'"),
        ("fn f(a) { return 0; }\nprint a;",          2, 7, "unknown name 'a'"),
        ("if 1 { let y = 1; }\nprint y;",            2, 7, "unknown name 'y'"),
        ("let z = z;",                               1, 9, "unknown name 'z'"),
        ("if 1 { fn g() {} }",                       1, 8, "functions are declared at the top level only"),
        ("1 + 2 = 3;",                               1, 7, "cannot assign to this expression"),
        ("fn f() {}\nf = 1;",                        2, 1, "cannot assign to function 'f'"),
        ("q = 1;",                                   1, 1, "unknown name 'q'"),
        ("else { }",                                 1, 1, "'else' without an 'if'"),
        ("fn f() {\n  print 1;\n",                  3, 1, "expected '}' to close the block opened at 1:8"),
        ("while 1 print 1;",                         1, 9, "expected '{' to begin the 'while' body"),
        ("print o.;",                                1, 9, "expected a field name"),
        ("print main;",                              1, 7, "unknown name 'main'"),
    ];
    for &(source, line, column, message) in cases {
        let (l, c, m) = error(source);
        assert!(
            (l, c) == (line, column) && m.contains(message),
            "{source:?}: expected {line}:{column} {message:?}, got {l}:{c} {m:?}"
        );
    }
}

#[test]
fn the_earliest_error_of_the_file_is_reported() {
    // `f` is compiled after `main`, but its error comes first in the text.
    let (line, column, message) = error("fn f() { return y; }\nprint z;");
    assert_eq!(
        (line, column, message.as_str()),
        (1, 17, "unknown name 'y'")
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for source in [
        format!("print {}1{};", "(".repeat(100_000), ")".repeat(100_000)),
        format!("print {}", "(".repeat(100_000)),
        format!("print {}1;", "-!".repeat(100_000)),
        format!("let a = 0; print a{};", "[0]".repeat(100_000)),
        format!("print {}1{};", "{x: ".repeat(100_000), "}".repeat(100_000)),
        format!(
            "{}print 1;{}",
            "if 1 { ".repeat(100_000),
            "}".repeat(100_000)
        ),
    ] {
        let (_, _, message) = error(&source);
        assert!(message.contains("nested too deeply"), "{message}");
    }
    // Just below the limit is fine, even on a small thread: the compiler has its own.
    let source = format!("print {}1{};", "(".repeat(900), ")".repeat(900));
    let ok = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || compile("t.mini", &source).is_ok())
        .unwrap()
        .join()
        .unwrap();
    assert!(ok);
}

#[test]
fn long_operator_chains_are_not_nesting() {
    // Chains are read by a loop, compiled by a loop and dropped by a loop: a 100,000
    // term chain compiles on a small thread, to one instruction per operand and
    // operator.
    let sum = format!("print 1{};", " + 1".repeat(100_000));
    let and = format!("print 1{};", " && 1".repeat(100_000));
    let mixed = format!("print 1{};", " * 2 - 1 < 3 || 0".repeat(20_000));
    let compiled = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            [sum, and, mixed].map(|source| {
                // Here, not on the compiler's own big thread.
                let module = crate::mini::parser::parse("t.mini", &source).expect("parses");
                let program = crate::mini::compiler::compile_module("t.mini", &module);
                drop(module);
                program.map(|p| p.functions[0].code.len())
            })
        })
        .unwrap()
        .join()
        .unwrap();
    let [sum, and, mixed] = compiled;
    // const 1, then (const 1; add) per term, then print, const 0, return.
    assert_eq!(sum, Ok(1 + 2 * 100_000 + 3));
    // const 1, then per link: jump_if_false, const 1, jump_if_false, const 1, jump,
    // const 0 (6 instructions), then print, const 0, return.
    assert_eq!(and, Ok(1 + 6 * 100_000 + 3));
    assert!(mixed.is_ok(), "{mixed:?}");
    // Real nesting inside a chain still counts.
    let (_, _, message) = error(&format!(
        "print 1 + {}1{};",
        "(".repeat(2_000),
        ")".repeat(2_000)
    ));
    assert!(message.contains("nested too deeply"), "{message}");
}

#[test]
fn statements_compile_to_the_expected_code() {
    let p = program("let x = 1;\nx = x + 2;\nprint x;");
    assert_eq!(p.constants, vec![1, 2, 0]);
    let main = &p.functions[0];
    assert_eq!(main.name, "main");
    assert_eq!((main.arity, main.locals), (0, 1));
    assert_eq!(
        main.code,
        vec![
            Const(0),
            StoreLocal(0),
            LoadLocal(0),
            Const(1),
            Add,
            StoreLocal(0),
            LoadLocal(0),
            Print,
            Const(2),
            Return
        ]
    );
    assert_eq!(main.lines, vec![1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
}

#[test]
fn while_loops_jump_back_with_loop() {
    let code = code("let i = 0;\nwhile i < 3 { i = i + 1; }", 0);
    assert_eq!(
        code,
        vec![
            Const(0),
            StoreLocal(0),
            LoadLocal(0), // 2: the loop's head
            Const(1),
            Lt,
            JumpIfFalse(11),
            LoadLocal(0),
            Const(2),
            Add,
            StoreLocal(0),
            Loop(2),
            Const(0), // 11
            Return,
        ]
    );
}

#[test]
fn if_else_chains_jump_forward_to_their_end() {
    let code = code(
        "let a = 1;\nif a { print 1; } else if a { print 2; } else { print 3; }",
        0,
    );
    assert_eq!(
        code,
        vec![
            Const(0),
            StoreLocal(0),
            LoadLocal(0),
            JumpIfFalse(7),
            Const(0),
            Print,
            Jump(14),
            LoadLocal(0), // 7
            JumpIfFalse(12),
            Const(1),
            Print,
            Jump(14),
            Const(2), // 12
            Print,
            Const(3), // 14
            Return,
        ]
    );
}

#[test]
fn and_or_check_both_sides_and_give_0_or_1() {
    let p = program("let a = 5;\nprint a && a;\nprint a || a;");
    assert_eq!(p.constants, vec![5, 1, 0]);
    assert_eq!(
        p.functions[0].code,
        vec![
            Const(0),
            StoreLocal(0),
            LoadLocal(0), // 2: a && a
            JumpIfFalse(8),
            LoadLocal(0),
            JumpIfFalse(8),
            Const(1),
            Jump(9),
            Const(2),     // 8
            Print,        // 9
            LoadLocal(0), // 10: a || a
            JumpIfTrue(16),
            LoadLocal(0),
            JumpIfTrue(16),
            Const(2),
            Jump(17),
            Const(1), // 16
            Print,    // 17
            Const(2),
            Return,
        ]
    );
}

#[test]
fn calls_evaluate_the_callee_then_the_arguments() {
    let source = "fn add(a, b) { return a + b; }\nlet f = add;\nprint f(1, 2);\nprint add(3, 4);\nadd(5, 6);";
    let p = program(source);
    assert_eq!(p.functions[1].name, "add");
    assert_eq!((p.functions[1].arity, p.functions[1].locals), (2, 2));
    assert_eq!(
        p.functions[0].code,
        vec![
            FuncRef(1),
            StoreLocal(0),
            LoadLocal(0),
            Const(0),
            Const(1),
            CallValue(2),
            Print,
            Const(2),
            Const(3),
            Call { func: 1, argc: 2 },
            Print,
            Const(4),
            Const(5),
            Call { func: 1, argc: 2 },
            Pop,
            Const(6),
            Return,
        ]
    );
}

#[test]
fn functions_are_visible_before_their_declaration_and_locals_shadow_them() {
    let p = program("print later(1);\nfn later(x) { return x; }\nlet later = 7;\nprint later;");
    let main = &p.functions[0].code;
    assert_eq!(main[1], Call { func: 1, argc: 1 });
    assert_eq!(main[3..5], [Const(1), StoreLocal(0)]);
    assert_eq!(main[5], LoadLocal(0));
    // A call through the shadowing local is a call of a value.
    let code = code("fn f() { return 1; }\nlet f = 2;\nf();", 0);
    assert_eq!(code[2..5], [LoadLocal(0), CallValue(0), Pop]);
}

#[test]
fn arrays_objects_and_fields() {
    let p = program("let a = [1, 2, 3];\na[0] = [0; 4];\nlet o = {x: 1, y: 2, x: 3};\no.y = len(a);\nprint o.x;");
    assert_eq!(p.fields, vec!["x", "y"]);
    assert_eq!(
        p.functions[0].code,
        vec![
            Const(0),
            Const(1),
            Const(2),
            NewArray(3),
            StoreLocal(0),
            LoadLocal(0),
            Const(3),
            Const(3),
            Const(4),
            NewArrayFill,
            ArraySet,
            NewObject,
            Dup,
            Const(0),
            SetField(0),
            Dup,
            Const(1),
            SetField(1),
            Dup,
            Const(2),
            SetField(0),
            StoreLocal(1),
            LoadLocal(1),
            LoadLocal(0),
            ArrayLen,
            SetField(1),
            LoadLocal(1),
            GetField(0),
            Print,
            Const(3),
            Return,
        ]
    );
}

#[test]
fn literals_unary_operators_and_precedence() {
    let p = program("print -5;\nprint !true;\nprint -(1 + 2) * 3 % 4 - 1 < 2 == 1 != 0;\nprint -4611686018427387903;");
    assert_eq!(p.constants, vec![-5, 1, 2, 3, 4, 0, -4611686018427387903]);
    let code = &p.functions[0].code;
    assert_eq!(code[..5], [Const(0), Print, Const(1), Not, Print]);
    // (((((-(1 + 2)) * 3) % 4) - 1) < 2) == 1) != 0
    assert_eq!(
        code[5..20],
        [
            Const(1),
            Const(2),
            Add,
            Neg,
            Const(3),
            Mul,
            Const(4),
            Mod,
            Const(1),
            Sub,
            Const(2),
            Lt,
            Const(1),
            Eq,
            Const(5)
        ]
    );
    assert_eq!(code[20], Ne);
}

#[test]
fn each_instruction_carries_the_line_of_its_construct() {
    let p = program("let a = [1];\nprint a\n[\n0\n]\n+\n1;\nfn f(x) {\n  return x;\n}\n");
    let main = &p.functions[0];
    let line_of = |instr: Instr| main.lines[main.code.iter().position(|&i| i == instr).unwrap()];
    assert_eq!(line_of(ArrayGet), 3);
    assert_eq!(line_of(Add), 6);
    assert_eq!(line_of(Print), 2);
    // Falling off the end returns from the line of the closing brace (of main: the
    // end of the file).
    let f = &p.functions[1];
    assert_eq!(f.lines, vec![9, 9]);
    assert_eq!(*main.lines.last().unwrap(), 11);
}

#[test]
fn no_code_is_emitted_after_a_return_but_it_is_still_checked() {
    let code = code(
        "fn f(n) { if n { return 1; } else { return 2; } print 3; }",
        1,
    );
    assert_eq!(
        code,
        // Constant 0 is main's implicit `return 0`.
        vec![
            LoadLocal(0),
            JumpIfFalse(4),
            Const(1),
            Return,
            Const(2),
            Return
        ]
    );
    let (_, _, message) = error("fn f() { return 1; print nope; }");
    assert!(message.contains("unknown name 'nope'"));
    // `return;` gives 0, and main may return.
    assert_eq!(code_of_main("return;\nprint 1;"), vec![Const(0), Return]);
}

fn code_of_main(source: &str) -> Vec<Instr> {
    code(source, 0)
}

#[test]
fn let_is_block_scoped_and_slots_are_reused() {
    let p = program("let x = 1;\nif x { let x = 2; let y = x; print y; }\nif x { let z = 3; print z; }\nprint x;");
    assert_eq!(p.functions[0].locals, 3);
    let code = &p.functions[0].code;
    // The inner x is slot 1, y slot 2, and z reuses slot 1; the last print reads slot 0.
    assert!(code.contains(&StoreLocal(2)));
    assert_eq!(code[code.len() - 4], LoadLocal(0));
}

#[test]
fn whatever_compiles_verifies_and_nothing_panics() {
    // Every prefix of a program that uses every construct, and byte-flipped copies of
    // it: each either fails to compile with an error or compiles to a program that
    // the verifier accepts.
    let source = "fn fib(n) { if n < 2 { return n; } return fib(n - 1) + fib(n - 2); }\n\
        let a = [0; 10]; let i = 0;\n\
        while i < len(a) && !(i == 7) || false { a[i] = i * i % 3 / 1; i = i + 1; }\n\
        let p = {x: 1, y: -2}; p.z = p.x + p.y; let f = fib;\n\
        print f(20); print [p, a[3], f]; if p.x { return; } else if 0 { } else { print 1; }\n";
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let check = |text: &str| {
        if let Ok(program) = compile("t.mini", text) {
            if let Err(e) = verify(program, "t.mini") {
                panic!("{text:?} compiles but does not verify: {e}");
            }
        }
    };
    for end in 0..=source.len() {
        check(&source[..end]);
    }
    let alphabet = b"(){}[];,.:=<>!&|+-*/% 0123456789abcfnxyz\n";
    for _ in 0..2000 {
        let mut bytes = source.as_bytes().to_vec();
        for _ in 0..(1 + next() % 4) {
            let at = (next() % bytes.len() as u64) as usize;
            bytes[at] = alphabet[(next() % alphabet.len() as u64) as usize];
        }
        check(&String::from_utf8(bytes).unwrap());
    }
}

#[test]
fn the_random_programs_of_the_testkit_compile_and_verify() {
    for seed in 0..50 {
        let source = jitlab_testkit::random::program(seed);
        program(&source);
    }
}
