//! What speculation must not cost: the bets the engine does not make because they
//! only lose, and the checks the speculative pipeline leaves out. (The speed itself
//! is measured by `cargo bench`, never timed here.)

use stage1::interp::Interpreter;
use stage1::{FnId, Verified};
use stage4::ir::{text, Pc};
use stage4::speculation::Speculation;

use super::common::{compare, deopts, isolated, load, run_on, speculating, DESIGNED};

/// A loop compiled by OSR in its first run has never seen its exit, nor has the
/// loop around it: the engine bets on neither (it would deoptimize as each ends),
/// so a nested loop whose inner loop's first run is hot runs with no deopt at all.
#[test]
fn a_loops_exit_not_seen_yet_is_no_bet_so_nested_loops_never_deopt() {
    isolated(|| {
        let source = "fn grid(rows, cols) {\n\
                      let s = 0;\n\
                      let i = 0;\n\
                      while i < rows {\n\
                        let j = 0;\n\
                        while j < cols { s = s + j % 7; j = j + 1; }\n\
                        i = i + 1;\n\
                      }\n\
                      return s;\n\
                      }\n\
                      print grid(3, 60000);";
        let verified = load("nested_loops.mini", source);
        let (run, engine) = speculating(&verified, DESIGNED.options(0));
        let expected = run_on(&mut Interpreter::new(), &verified);
        compare("nested_loops.mini", source, &expected, &run).unwrap();
        let all = deopts(&engine, &verified);
        assert!(all.is_empty(), "{all:#?}");
        let optimized = engine
            .functions()
            .iter()
            .find(|f| f.name == "grid")
            .expect("grid ran");
        assert!(optimized.osr >= 1, "grid's inner loop was entered by OSR");
    });
}

/// Bets on every integer and every field site (the pipeline's own test of them is
/// stage 4's; here only what they leave behind matters).
struct IntsAndFields;

impl Speculation for IntsAndFields {
    fn int_result(&self, _: FnId, _: Pc) -> bool {
        true
    }
    fn no_overflow(&self, _: FnId, _: Pc) -> bool {
        true
    }
    fn branch(&self, _: FnId, _: Pc) -> Option<bool> {
        None
    }
    fn field_hit(&self, _: FnId, _: Pc) -> bool {
        true
    }
    fn call_target(&self, _: FnId, _: Pc) -> Option<FnId> {
        None
    }
    fn inline(&self, _: FnId, _: Pc, _: FnId, _: u32) -> bool {
        false
    }
}

/// A field stored and loaded again: value numbering forwards the stored sum to the
/// load, whose result the builder guarded as an integer. The sum is one, so the
/// late passes drop that guard: one `guard int` is left (the first load's).
#[test]
fn a_guard_on_a_value_known_to_be_an_integer_goes() {
    let verified: Verified = load(
        "forwarded.mini",
        "fn bump(p) { p.x = p.x + 1; return p.x * 2; }\n\
         print bump({x: 1});",
    );
    let bump = verified.program().function_named("bump").expect("defined");
    let (ir, _) = stage4::tiered::speculative_ir(
        &verified,
        bump,
        None,
        0,
        true,
        &IntsAndFields,
        &stage7::deopt::DEOPTIMIZER,
    )
    .expect("compiles");
    let printed = text::print(&ir);
    assert_eq!(printed.matches("guard int").count(), 1, "{printed}");
    assert_eq!(printed.matches("guard get_field").count(), 1, "{printed}");
}

/// A guarded `add` computes its sum in its left operand's register (`s`, which no
/// one reads after the loop): when it overflows, its deopt stub subtracts again
/// before the frame state is read, so the interpreter redoes the add on the sum's
/// true operand and raises the same error at the same trip (with the operand left
/// wrapped, it would add on, finish the loop and print).
#[test]
fn an_add_that_overflows_in_place_deopts_with_its_operand_restored() {
    isolated(|| {
        let source = "fn run(n, step) {\n\
                      let s = 0;\n\
                      let i = 0;\n\
                      while i < n { s = s + step; i = i + 1; }\n\
                      return i;\n\
                      }\n\
                      print run(30000, 184467440737095);";
        let verified = load("overflow_in_place.mini", source);
        let (run, engine) = speculating(&verified, DESIGNED.options(0));
        let expected = run_on(&mut Interpreter::new(), &verified);
        compare("overflow_in_place.mini", source, &expected, &run).unwrap();
        let all = deopts(&engine, &verified);
        assert!(
            all.iter().any(|d| d.reason == "overflow" && d.line == 4),
            "{all:#?}"
        );
    });
}

/// `s = s + i * 3 - 7`: `bounds` makes it `s + (i*3 - 7)`, and the frame state of
/// that add holds what the interpreter has at its pc, `s + i*3` and 7 — not
/// `i*3 - 7`, which dies there. So the sum is computed in that operand's register
/// (no copy of `s`, which lives on), and when it overflows, the state is intact:
/// the interpreter redoes the subtraction on `s + i*3` and raises the same error at
/// the same trip.
#[test]
fn an_add_whose_operand_no_state_holds_overflows_into_the_same_error() {
    isolated(|| {
        let source = "fn run(n, s) {\n\
                      let r = 0;\n\
                      while r < n {\n\
                        let i = 0;\n\
                        while i < 2 { s = s + i * 3 - 7; i = i + 1; }\n\
                        r = r + 1;\n\
                      }\n\
                      return s;\n\
                      }\n\
                      print run(40000, -4611686018427387903 - 1 + 11 * 30000 + 5);";
        let verified = load("reassociated_overflow.mini", source);
        let (run, engine) = speculating(&verified, DESIGNED.options(0));
        let expected = run_on(&mut Interpreter::new(), &verified);
        compare("reassociated_overflow.mini", source, &expected, &run).unwrap();
        let all = deopts(&engine, &verified);
        assert!(
            all.iter().any(|d| d.reason == "overflow" && d.line == 5),
            "{all:#?}"
        );
    });
}
