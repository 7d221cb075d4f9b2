//! Every instruction, each in a small program that shows what it does, and a check
//! that the corpus as a whole exercises every kind of instruction.

use std::collections::BTreeSet;

use jitlab_testkit::corpus;
use pretty_assertions::assert_eq;
use rstest::rstest;
use stage1::{jasm, mini, Instr};

use super::common::{harness, output_of, programs_dir};

use Instr::*;

/// One instruction of every kind. The `match` makes a new kind a compile error here,
/// so that it gets a test.
fn every_kind() -> Vec<Instr> {
    let all = vec![
        Const(0),
        LoadLocal(0),
        StoreLocal(0),
        Add,
        Sub,
        Mul,
        Div,
        Mod,
        Neg,
        Not,
        Lt,
        Le,
        Gt,
        Ge,
        Eq,
        Ne,
        Jump(0),
        JumpIfFalse(0),
        JumpIfTrue(0),
        Loop(0),
        Call { func: 0, argc: 0 },
        CallValue(0),
        Return,
        Print,
        Dup,
        Pop,
        NewArray(0),
        NewArrayFill,
        ArrayGet,
        ArraySet,
        ArrayLen,
        NewObject,
        GetField(0),
        SetField(0),
        FuncRef(0),
    ];
    for instr in &all {
        match instr {
            Const(_)
            | LoadLocal(_)
            | StoreLocal(_)
            | Add
            | Sub
            | Mul
            | Div
            | Mod
            | Neg
            | Not
            | Lt
            | Le
            | Gt
            | Ge
            | Eq
            | Ne
            | Jump(_)
            | JumpIfFalse(_)
            | JumpIfTrue(_)
            | Loop(_)
            | Call { .. }
            | CallValue(_)
            | Return
            | Print
            | Dup
            | Pop
            | NewArray(_)
            | NewArrayFill
            | ArrayGet
            | ArraySet
            | ArrayLen
            | NewObject
            | GetField(_)
            | SetField(_)
            | FuncRef(_) => {}
        }
    }
    all
}

#[test]
fn the_corpus_exercises_every_instruction() {
    let mut seen = BTreeSet::new();
    for p in corpus::load(&programs_dir()) {
        let program = if p.name.ends_with(".jasm") {
            jasm::parse(&p.name, &p.source)
        } else {
            mini::compile(&p.name, &p.source)
        }
        .unwrap_or_else(|e| panic!("{e}"));
        for f in &program.functions {
            seen.extend(f.code.iter().map(Instr::mnemonic));
        }
    }
    let missing: Vec<&str> = every_kind()
        .iter()
        .map(Instr::mnemonic)
        .filter(|m| !seen.contains(m))
        .collect();
    assert!(missing.is_empty(), "no corpus program uses {missing:?}");
}

#[test]
fn mnemonics_are_distinct() {
    let kinds = every_kind();
    let names: BTreeSet<&str> = kinds.iter().map(Instr::mnemonic).collect();
    assert_eq!(names.len(), kinds.len());
}

#[rstest]
#[case::constant("print 42;", &["42"])]
#[case::locals("let a = 1;\nlet b = 2;\na = b + 10;\nprint a;\nprint b;", &["12", "2"])]
#[case::add("print 40 + 2;", &["42"])]
#[case::sub("print 2 - 44;", &["-42"])]
#[case::mul("print -6 * 7;", &["-42"])]
#[case::div("print -85 / 2;", &["-42"])]
#[case::modulo("print -85 % 43;", &["-42"])]
#[case::neg("let a = 42;\nprint -a;\nprint -(-a);", &["-42", "42"])]
#[case::not("print !0;\nprint !42;", &["1", "0"])]
#[case::lt("print 1 < 2;\nprint 2 < 1;\nprint 1 < 1;", &["1", "0", "0"])]
#[case::le("print 1 <= 2;\nprint 2 <= 1;\nprint 1 <= 1;", &["1", "0", "1"])]
#[case::gt("print 1 > 2;\nprint 2 > 1;\nprint 1 > 1;", &["0", "1", "0"])]
#[case::ge("print 1 >= 2;\nprint 2 >= 1;\nprint 1 >= 1;", &["0", "1", "1"])]
#[case::eq("print 3 == 3;\nprint 3 == 4;\nlet a = [];\nprint a == a;", &["1", "0", "1"])]
#[case::ne("print 3 != 3;\nprint 3 != 4;\nprint [] != [];", &["0", "1", "1"])]
#[case::jumps(
    "let i = 0;\nwhile i < 3 {\n  if i == 1 { print 10; } else { print i; }\n  i = i + 1;\n}",
    &["0", "10", "2"]
)]
#[case::short_circuit("print 0 && 1;\nprint 2 && 3;\nprint 0 || 0;\nprint 0 || 4;", &["0", "1", "0", "1"])]
#[case::call("fn f(a, b) { return a - b; }\nprint f(50, 8);", &["42"])]
#[case::call_value("fn f(a, b) { return a - b; }\nlet g = f;\nprint g(50, 8);", &["42"])]
#[case::return_from_a_loop(
    "fn f() {\n  let i = 0;\n  while 1 {\n    if i == 42 { return i; }\n    i = i + 1;\n  }\n}\nprint f();",
    &["42"]
)]
#[case::pop("fn f() { print 1; return 2; }\nf();\nprint 3;", &["1", "3"])]
#[case::new_array("print [1, [2, 3], []];", &["[1, [2, 3], []]"])]
#[case::new_array_fill("print [5; 3];", &["[5, 5, 5]"])]
#[case::array_get("let a = [7, 8, 9];\nprint a[2] + a[0];", &["16"])]
#[case::array_set("let a = [0, 0];\na[1] = 4;\nprint a;", &["[0, 4]"])]
#[case::array_len("print len([1, 2, 3]);\nprint len([]);", &["3", "0"])]
#[case::new_object("print {};\nprint {a: 1, b: 2};", &["{}", "{a: 1, b: 2}"])]
#[case::get_field("let o = {a: 1, b: 2};\nprint o.b;", &["2"])]
#[case::set_field("let o = {a: 1};\no.a = 3;\no.c = 4;\nprint o;", &["{a: 3, c: 4}"])]
#[case::func_ref("fn f() { return 0; }\nprint f;\nprint f == f;", &["<fn f>", "1"])]
fn each_instruction_does_what_it_says(#[case] source: &str, #[case] expected: &[&str]) {
    if harness().this_test() {
        return;
    }
    assert_eq!(output_of(source), expected);
}

#[test]
fn dup_and_jump_if_true_run_as_documented() {
    if harness().this_test() {
        return;
    }
    // Hand-written bytecode: `dup` copies the top, `jump_if_true` jumps on non-zero.
    use stage1::{verify, Function, Program};
    let main = Function {
        name: "main".to_string(),
        arity: 0,
        locals: 0,
        code: vec![
            Const(0),      // 0: 7
            Dup,           // 1
            Add,           // 2: 14
            Print,         // 3
            Const(1),      // 4: 1
            JumpIfTrue(8), // 5
            Const(0),      // 6
            Print,         // 7: skipped
            Const(1),      // 8
            Print,         // 9
            Const(1),      // 10
            Return,        // 11
        ],
        lines: (1..=12).collect(),
    };
    let program = Program {
        functions: vec![main],
        constants: vec![7, 1],
        fields: vec![],
    };
    let run = super::common::run_verified(&verify(program, "dup.jasm").unwrap());
    assert_eq!(run.lines(), ["14", "1"]);
    assert_eq!(run.result, Ok("1".to_string()));
}
