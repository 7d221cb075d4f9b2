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

/// The tag tests of arrays in `code` (`lea r11, [a - 1]; test r11d, 7`).
fn array_tag_tests(code: &[String]) -> usize {
    code.iter()
        .filter(|i| i.starts_with("test") && i.ends_with(", 0x7"))
        .count()
}

#[test]
fn accesses_of_an_array_known_to_be_one_test_no_tag() {
    let made = body(
        "fn f(n) { let a = [0; n]; a[1] = 5; return a[1] + len(a); }\nprint f(3);\n",
        "f",
    );
    assert_eq!(array_tag_tests(&made), 0, "{made:#?}");
    // An argument may be anything: its first access tests it, and the accesses after
    // it (a shared `check_array`) do not.
    let argument = body(
        "fn f(a) { a[1] = 5; return a[1] + len(a); }\nprint f([1, 2]);\n",
        "f",
    );
    assert_eq!(array_tag_tests(&argument), 1, "{argument:#?}");
}

#[test]
fn a_second_access_at_the_same_index_reuses_the_untagged_index() {
    let code = body(
        "fn f(a, b, i) { return a[i] + b[i]; }\nprint f([1], [2], 0);\n",
        "f",
    );
    let shifts = code.iter().filter(|i| i.starts_with("sar")).count();
    assert_eq!(shifts, 1, "{code:#?}");
}

#[test]
fn a_loop_ends_in_its_condition_not_in_a_jump_back_to_it() {
    let code = body(
        "fn f(n) { let s = 0; let i = 0; while i < n { s = s + i; i = i + 1; } return s; }\nprint f(5);\n",
        "f",
    );
    assert!(!code.iter().any(|i| i.starts_with("jmp")), "{code:#?}");
    // The condition twice: before the first trip and at the end of each.
    let compares = code.iter().filter(|i| i.starts_with("cmp")).count();
    assert_eq!(compares, 2, "{code:#?}");
}

#[test]
fn a_product_checks_the_operand_it_untags_with_the_shift() {
    // `a[0] * a[1]`: two loaded values, each checked to be an integer; the second
    // is the one `mul` untags, and `sar`'s carry (the tag bit) is its check.
    let code = body("fn f(a) { return a[0] * a[1]; }\nprint f([6, 7]);\n", "f");
    let tag_bit_tests = code
        .iter()
        .filter(|i| i.starts_with("test") && i.ends_with(", 0x1"))
        .count();
    assert_eq!(tag_bit_tests, 1, "{code:#?}");
    let sar = code
        .iter()
        .position(|i| i.starts_with("sar"))
        .unwrap_or_else(|| panic!("{code:#?}"));
    assert!(code[sar + 1].starts_with("jb "), "{code:#?}");
}

/// The instructions from the magic-number multiply (`imul` of one operand, the wide
/// one) to the `sub` that leaves the remainder (the first after the quotient's
/// multiply by the divisor), both included.
fn magic_remainder(code: &[String]) -> &[String] {
    let after = |from: usize, what: &dyn Fn(&str) -> bool| {
        from + code[from..]
            .iter()
            .position(|i| what(i))
            .unwrap_or_else(|| panic!("the sequence is not there:\n{code:#?}"))
    };
    let wide = after(0, &|i| i.starts_with("imul") && !i.contains(','));
    let by_divisor = after(wide + 1, &|i| i.starts_with("imul rdx"));
    &code[wide..=after(by_divisor, &|i| i.starts_with("sub"))]
}

/// Of `magic_remainder`, the instructions on the path from the wide multiply's high
/// half (`rdx`) to the remainder.
fn through_the_quotient(chain: &[String]) -> Vec<&str> {
    chain[1..]
        .iter()
        .filter(|i| i.contains("rdx"))
        .map(|i| i.as_str())
        .collect()
}

#[test]
fn a_loop_carried_remainder_by_a_constant_has_no_tag_operation_and_no_sign_fix() {
    // The held-out shape `once`: `x` never goes negative (it starts at 7, and the
    // remainder of a non-negative is one), so the remainder needs no sign fix, and
    // the quotient in the middle is a plain word: multiply, shift, multiply, subtract.
    let code = body(
        "fn f(n) { let x = 7; let i = 0; while i < n { x = (x * 75 + 74) % 65537; i = i + 1; } return x; }\nprint f(5);\n",
        "f",
    );
    assert!(!code.iter().any(|i| i.starts_with("idiv")), "{code:#?}");
    let chain = magic_remainder(&code);
    assert_eq!(chain.len(), 4, "{chain:#?}");
    let path = through_the_quotient(chain);
    assert_eq!(path.len(), 3, "{chain:#?}");
    assert!(path[0].starts_with("sar rdx"), "{chain:#?}");
    assert!(path[1].starts_with("imul rdx"), "{chain:#?}");
    assert!(
        path[2].starts_with("sub") && path[2].ends_with("rdx"),
        "{chain:#?}"
    );
    // Of a dividend that may be negative: the sign fix (the sign mask, and-ed with
    // -2d and added to the dividend), beside the path, which stays as it was.
    let code = body("fn f(x) { return x % 65537; }\nprint f(-5);\n", "f");
    let chain = magic_remainder(&code);
    assert!(
        chain
            .iter()
            .any(|i| i.starts_with("sar") && i.ends_with("0x3f")),
        "{chain:#?}"
    );
    let fixed = through_the_quotient(chain);
    assert_eq!(fixed.len(), 3, "{chain:#?}");
    assert_eq!(fixed[..2], path[..2], "{chain:#?}");
    assert!(
        fixed[2].starts_with("sub") && fixed[2].ends_with("rdx"),
        "{chain:#?}"
    );
}
