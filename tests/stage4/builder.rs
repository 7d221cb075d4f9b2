//! The SSA builder over the whole corpus and random programs: every function builds,
//! passes the IR verifier, and its text reads back to the same function.

use jitlab_testkit::{corpus, random};
use stage1::Verified;
use stage4::ir::{self, text, Op};

use super::common::programs_dir;

pub use super::common::load;

/// Every program of the corpus that loads, by name.
pub fn corpus_programs() -> Vec<(String, Verified)> {
    corpus::loaded(&programs_dir(), 60, load)
}

/// Builds every function of `program`, verifies it and round-trips its text.
fn check_program(name: &str, program: &Verified) {
    for id in 0..program.program().functions.len() as u32 {
        let f = ir::build(program, id);
        let printed = text::print(&f);
        if let Err(e) = ir::verify::verify(&f) {
            panic!("{name}: the built IR does not verify: {e}\n{printed}");
        }
        let parsed = text::parse(&printed)
            .unwrap_or_else(|e| panic!("{name}: the printed IR does not parse: {e}\n{printed}"));
        assert_eq!(parsed, f, "{name}: parse(print(f)) != f\n{printed}");
    }
}

#[test]
fn every_corpus_function_builds_verifies_and_reads_back() {
    let programs = corpus_programs();
    assert!(programs.len() > 50);
    for (name, program) in &programs {
        check_program(name, program);
    }
}

#[test]
fn random_programs_build_verify_and_read_back() {
    for seed in 0..random::seed_count(300) {
        let source = random::program(seed);
        let name = format!("random-{seed}.mini");
        check_program(&name, &load(&name, &source));
    }
}

/// The IR of `main` of a Mini program.
fn main_ir(source: &str) -> ir::Function {
    ir::build(&load("test.mini", source), 0)
}

#[test]
fn no_stack_traffic_survives_and_checks_are_explicit() {
    let f = main_ir("let a = 7; let b = a + 3; print b * a;");
    let printed = text::print(&f);
    // Straight-line code is one block: locals and stack slots are values.
    assert_eq!(f.blocks.len(), 1, "{printed}");
    let ops: Vec<&Op> = f.insts.iter().map(|i| &i.op).collect();
    let checks = ops.iter().filter(|o| matches!(o, Op::CheckInt(_))).count();
    assert_eq!(
        checks, 4,
        "two operands checked per arithmetic instruction:\n{printed}"
    );
    assert!(printed.contains("print v"), "{printed}");
}

#[test]
fn a_check_has_the_pc_of_its_instruction_and_comes_before_it() {
    let program = load("t.mini", "let a = 7; print a / 0;");
    let code = &program.program().functions[0].code;
    let div_pc = code.iter().position(|i| *i == stage1::Instr::Div).unwrap() as u32;
    let f = ir::build(&program, 0);
    let at_div: Vec<&ir::InstData> = f.insts.iter().filter(|i| i.pc == div_pc).collect();
    assert_eq!(at_div.len(), 3, "{}", text::print(&f));
    assert!(matches!(at_div[0].op, Op::CheckInt(_)));
    assert!(matches!(at_div[1].op, Op::CheckInt(_)));
    assert!(matches!(at_div[2].op, Op::Binary(ir::BinOp::Div, ..)));
}

#[test]
fn a_loop_header_gets_a_parameter_per_local_and_a_back_edge() {
    let f = main_ir("let i = 0; let s = 0; while i < 10 { s = s + i; i = i + 1; } print s;");
    let printed = text::print(&f);
    let preds = f.predecessors();
    let header = (0..f.blocks.len())
        .find(|&b| preds[b].len() == 2)
        .unwrap_or_else(|| panic!("no loop header:\n{printed}"));
    assert_eq!(f.blocks[header].params.len(), 2, "{printed}");
}

#[test]
fn a_loop_at_pc_0_gets_an_entry_block_of_its_own() {
    let source = ".fn main params=0 locals=1
top:
    load_local 0
    const 1
    add
    dup
    store_local 0
    const 5
    lt
    jump_if_false done
    loop top
done:
    const 0
    return
.end
";
    let f = ir::build(&load("loop0.jasm", source), 0);
    let printed = text::print(&f);
    ir::verify::verify(&f).unwrap_or_else(|e| panic!("{e}\n{printed}"));
    // entry, header (pc 0), the back edge's block, the exit.
    assert_eq!(f.blocks.len(), 4, "{printed}");
    assert!(f.blocks[0]
        .insts
        .iter()
        .all(|&i| matches!(f.inst(i).op, Op::Const(0))));
}
