//! The code by its shape, decoded by iced-x86 (`stage2::disasm`): what the optimizer
//! removed is not in the machine code. A function that folds completely is only
//! moves and a return; division and remainder by a constant have no `idiv` (and by a
//! variable they do, so the check can fail). And every corpus function's register
//! allocation passes the checker, with all registers and with only two.

use stage2::{disasm_range, Reg};
use stage4::codegen::Piece;
use stage4::engine::{compile, prepare, Options};
use stage4::regalloc::{self, checker};

use super::common::{load, programs_dir};

/// The instructions (mnemonic and operands) of function `name`'s body: every piece
/// but the prologue and the slow paths.
fn body(source: &str, name: &str) -> Vec<String> {
    let verified = load("shape.mini", source);
    let compiled = compile(&verified, &Options::default()).expect("compiles");
    let index = verified
        .program()
        .functions
        .iter()
        .position(|f| f.name == name)
        .expect("the function exists");
    let (_, generated) = compiled.functions[index]
        .as_ref()
        .unwrap_or_else(|why| panic!("{name} was not optimized: {why}"));
    let bytes = compiled.program.code.bytes();
    generated
        .pieces
        .iter()
        .filter(|(piece, _)| !matches!(piece, Piece::Prologue | Piece::SlowPaths))
        .flat_map(|(_, range)| disasm_range(bytes, 0, range.clone()))
        .map(|line| line.text)
        .collect()
}

#[test]
fn a_function_that_folds_completely_is_only_moves_and_a_return() {
    let code = body(
        "fn f() { let a = 6; let b = a * 7 - 2; if b > 10 { return b / 4; } return 0; }\nprint f();\n",
        "f",
    );
    assert!(
        code.iter()
            .any(|i| i.starts_with("mov eax,0x14") || i.starts_with("mov eax, 0x14")),
        "{code:#?}"
    );
    for i in &code {
        let frame_bookkeeping = i.starts_with("add rbx") || i.starts_with("pop rbp");
        assert!(
            i.starts_with("mov") || i == "ret" || frame_bookkeeping,
            "`{i}` in a folded function:\n{code:#?}"
        );
    }
}

#[test]
fn division_by_a_constant_has_no_idiv_and_by_a_variable_has_one() {
    let reduced = body(
        "fn f(x) { return x / 7 + x % 10 + x / -3 + x % 16 + x * 8; }\nprint f(100);\n",
        "f",
    );
    assert!(
        !reduced.iter().any(|i| i.starts_with("idiv")),
        "{reduced:#?}"
    );
    assert!(!reduced.is_empty());
    let variable = body("fn f(x, y) { return x / y; }\nprint f(100, 7);\n", "f");
    assert!(
        variable.iter().any(|i| i.starts_with("idiv")),
        "{variable:#?}"
    );
}

#[test]
fn every_corpus_function_is_allocated_correctly_with_many_and_few_registers() {
    let mut functions = 0;
    for program in jitlab_testkit::corpus::load(&programs_dir()) {
        if program.expected_load_error.is_some() {
            continue;
        }
        let verified = load(&program.name, &program.source);
        for id in 0..verified.program().functions.len() as u32 {
            let prepared =
                prepare(&verified, id).unwrap_or_else(|e| panic!("{}: {e}", program.name));
            for regs in [&regalloc::ALLOCATABLE[..], &[Reg::RCX, Reg::R14]] {
                let alloc = regalloc::allocate_with(&prepared.ir, regs);
                if let Err(errors) = checker::check(&prepared.ir, &alloc) {
                    panic!("{} function {id}: {}", program.name, errors[0]);
                }
            }
            functions += 1;
        }
    }
    assert!(functions > 60, "only {functions} corpus functions");
}
