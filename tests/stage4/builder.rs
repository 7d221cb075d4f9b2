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

/// The loops of `f` as (header, back edges): an edge to a block that dominates its
/// source is a back edge. Panics on an edge that goes back (to a block no later in
/// reverse postorder) without being one: a loop with a second way in.
fn loops(f: &ir::Function) -> Vec<(ir::Block, usize)> {
    let dom = ir::dom::Dominators::new(f);
    let order = f.reverse_postorder();
    let position = |b: ir::Block| order.iter().position(|&o| o == b).expect("reachable");
    let mut headers: Vec<(ir::Block, usize)> = Vec::new();
    for &b in &order {
        for s in f.block(b).term.successors() {
            if position(s) > position(b) {
                continue;
            }
            assert!(
                dom.dominates(s, b),
                "b{} jumps back to b{} without it dominating: an irreducible loop\n{}",
                b.index(),
                s.index(),
                text::print(f)
            );
            match headers.iter_mut().find(|(h, _)| *h == s) {
                Some((_, n)) => *n += 1,
                None => headers.push((s, 1)),
            }
        }
    }
    headers
}

/// A nest of three `while` loops in `f`: (Verified, function, the three headers).
fn three_loops() -> (Verified, u32, Vec<usize>) {
    let source = "fn f(n) { let t = 0; let r = 0; while r < n { let q = 0; while q < n { let i = 0; while i < n { t = t + i * (r + q); i = i + 1; } q = q + 1; } r = r + 1; } return t; }\nprint f(3);";
    let program = load("nest.mini", source);
    let id = program.program().function_named("f").unwrap();
    let headers = stage4::tiered::loop_headers(&program, id);
    assert_eq!(headers.len(), 3);
    (program, id, headers)
}

#[test]
fn an_osr_variant_entered_in_an_inner_loop_gets_the_whole_nest_back() {
    let (program, id, headers) = three_loops();
    let code = &program.program().functions[id as usize].code;
    for (depth, &header) in headers.iter().enumerate() {
        // The loops around the header, outermost first: the headers before it.
        let nest = ir::build::osr_nest(code, header as u32);
        let around: Vec<usize> = nest.iter().map(|&(h, _)| h).collect();
        assert_eq!(around, headers[..depth]);
        let f = ir::build::build_osr(&program, id, header as u32);
        let printed = text::print(&f);
        ir::verify::verify(&f).unwrap_or_else(|e| panic!("{e}\n{printed}"));
        // Each loop has one header with one back edge: the entry's trip through
        // the copies, then the nest whole. Without the copies the header's block
        // heads every loop around it, with a back edge for each.
        let found = loops(&f);
        assert!(
            found.iter().all(|&(_, back)| back == 1),
            "{found:?}\n{printed}"
        );
        // Entered at depth d, copy j (1 to d) of the loop around at depth j - 1
        // holds the loops from depth j in: 3 - j of them; the function's own
        // blocks, all three.
        let copies: usize = (1..=depth).map(|j| 3 - j).sum();
        assert_eq!(found.len(), 3 + copies, "{printed}");
    }
}

#[test]
fn an_osr_variant_of_loops_entered_past_their_header_gets_no_copies() {
    // `.jasm` may jump into a loop past its header: then the loops are not nested
    // as `while` loops compile, and the variant is built as it is, one block per
    // bytecode block, the header's heading the outer loop too.
    let source = ".fn main params=0 locals=2
    jump inner
outer:
    load_local 0
    const 3
    lt
    jump_if_false done
inner:
    load_local 1
    const 1
    add
    dup
    store_local 1
    const 5
    lt
    jump_if_false next
    loop inner
next:
    load_local 0
    const 1
    add
    store_local 0
    loop outer
done:
    load_local 1
    return
.end
";
    let program = load("into.jasm", source);
    let code = &program.program().functions[0].code;
    let inner = stage4::tiered::loop_headers(&program, 0)[1];
    assert_eq!(ir::build::osr_nest(code, inner as u32), Vec::new());
    let f = ir::build::build_osr(&program, 0, inner as u32);
    let printed = text::print(&f);
    ir::verify::verify(&f).unwrap_or_else(|e| panic!("{e}\n{printed}"));
    // Entered at `inner`, its block heads both loops.
    assert_eq!(
        loops(&f),
        vec![(f.block(ir::ENTRY).term.successors()[0], 2)],
        "{printed}"
    );
}
