//! Speculative IR in stage 4 (the builder's side of stage 7's bets): what the builder
//! makes of a scripted [`Speculation`] — guards with their frame states, checkpoints,
//! pruned branches, calls inlined with the caller's frame — and what the pipeline's
//! passes do with guards. Stage 7's suite runs speculative IR from random bets
//! through its late pass and the evaluator (`tests/stage7/speculation.rs`).

use stage1::Instr;
use stage4::ir::{self, text};
use stage4::passes::{self, PassStats};
use stage4::speculation::{NoSpeculation, Scripted, Speculation};

use super::builder::{corpus_programs, load};

#[test]
fn without_bets_the_speculative_builder_is_the_builder() {
    for (name, program) in corpus_programs() {
        for id in 0..program.program().functions.len() as u32 {
            let plain = ir::build(&program, id);
            let spec = ir::build::build_speculative(&program, id, None, 0, &NoSpeculation);
            assert_eq!(text::print(&spec), text::print(&plain), "{name}");
        }
    }
}

/// Function `name` of `source` built with `spec`'s bets, checked, as text.
fn built(source: &str, name: &str, spec: &dyn Speculation) -> String {
    let program = load("test.mini", source);
    let id = program
        .program()
        .function_named(name)
        .expect("the function");
    let f = ir::build::build_speculative(&program, id, None, 0, spec);
    let printed = text::print(&f);
    ir::verify::verify(&f).unwrap_or_else(|e| panic!("{e}\n{printed}"));
    ir::verify::verify_states(&f, &program).unwrap_or_else(|e| panic!("{e}\n{printed}"));
    printed
}

/// `f` (function 2) of this program: pc 2 `array_get`, 4 `add`, 9 `jump_if_false`
/// (over the call), 11 `call sq`; `sq` (function 1): pc 2 `mul`.
const LOAD_ADD_CALL: &str = "fn sq(x) { return x * x; }
fn f(a, i) {
  let s = a[i] + 1;
  if s > 0 { s = sq(s); }
  return s;
}
print f([1, 2], 0);";

#[test]
fn the_builder_guards_a_loaded_integer_after_its_load_and_checkpoints_the_add_before_it() {
    let spec = Scripted {
        ints: vec![(2, 2)],
        no_overflow: vec![(2, 4)],
        ..Scripted::default()
    };
    let expected = "function f f2 {
b0(v0, v1):  @0
    v2 = const 0  @0
    v3 = array_get v0, v1  @2
    v4 = guard int v3 [f2@3: v0, v1, v2 | v3]  @2
    v5 = const 1  @3
    checkpoint [f2@4: v0, v1, v2 | v4, v5]  @4
    v6 = check_int v4  @4
    v7 = check_int v5  @4
    v8 = add v6, v7  @4
    v9 = const 0  @7
    v10 = check_int v8  @8
    v11 = check_int v9  @8
    v12 = gt v10, v11  @8
    v13 = check_int v12  @9
    branch v13, b1, b2(v8)
b1:  @10
    v14 = call f1(v8)  @11
    jump b2(v14)
b2(v15):  @13
    return v15
}
";
    pretty_assertions::assert_eq!(built(LOAD_ADD_CALL, "f", &spec), expected);
}

#[test]
fn the_builder_prunes_a_branch_behind_a_guard_and_inlines_with_the_callers_frame() {
    let spec = Scripted {
        branches: vec![(2, 9, false)],
        no_overflow: vec![(1, 2)],
        inline: vec![(2, 11, 1, 0)],
        ..Scripted::default()
    };
    let expected = "function f f2 {
    frame 1: f1 called at @11
b0(v0, v1):  @0
    v2 = const 0  @0
    v3 = array_get v0, v1  @2
    v4 = const 1  @3
    v5 = check_int v3  @4
    v6 = check_int v4  @4
    v7 = add v5, v6  @4
    v8 = const 0  @7
    v9 = check_int v7  @8
    v10 = check_int v8  @8
    v11 = gt v9, v10  @8
    v12 = check_int v11  @9
    guard cond v12, true [f2@9: v0, v1, v7 | v11]  @9
    jump b1
b1:  @10
    enter  @11
    jump b4
b2:  @13
    return v13
b3(v13):  @10
    jump b2
b4:  @11
    checkpoint [f2@11: v0, v1, v7 | > f1@2: v7 | v7, v7]  @2 in 1
    v14 = check_int v7  @2 in 1
    v15 = check_int v7  @2 in 1
    v16 = mul v14, v15  @2 in 1
    leave  @11
    jump b3(v16)
}
";
    pretty_assertions::assert_eq!(built(LOAD_ADD_CALL, "f", &spec), expected);
}

/// `f` read from `input`, through the pass `pass`, verified, as text.
fn after_pass(pass: &str, input: &str) -> String {
    let mut f = text::parse(input).unwrap_or_else(|e| panic!("{e}\n{input}"));
    passes::run_pass(pass, &mut f, &mut PassStats::default()).expect("the pass");
    let printed = text::print(&f);
    ir::verify::verify(&f).unwrap_or_else(|e| panic!("{e}\n{printed}"));
    printed
}

#[test]
fn the_builder_guards_a_call_target_and_a_field_site_and_the_callers_result() {
    // `apply` (function 1): pc 0 `load_local 0` (the object), 1 `get_field`, 2
    // `load_local 1`, 3 `call_value 0`, then `return`. The target is `seven`
    // (function 2, no parameters); its result is bet an integer.
    let source = "fn apply(o, g) { return o.f + g(); }
fn seven() { return 7; }
print apply({f: 1}, seven);";
    let program = load("test.mini", source);
    let code = &program.program().functions[1].code;
    assert!(matches!(code[1], Instr::GetField(_)), "{code:?}");
    assert!(matches!(code[3], Instr::CallValue(0)), "{code:?}");
    let spec = Scripted {
        fields: vec![(1, 1)],
        targets: vec![(1, 3, 2)],
        ints: vec![(1, 3)],
        ..Scripted::default()
    };
    let expected = "function apply f1 {
b0(v0, v1):  @0
    v2 = guard get_field v0, 0 [f1@1: v0, v1 | v0]  @1
    guard callee v1, f2 [f1@3: v0, v1 | v2, v1]  @3
    v3 = call f2()  @3
    v4 = guard int v3 [f1@4: v0, v1 | v2, v3]  @3
    v5 = check_int v2  @4
    v6 = check_int v4  @4
    v7 = add v5, v6  @4
    return v7
}
";
    pretty_assertions::assert_eq!(built(source, "apply", &spec), expected);
}

#[test]
fn checks_removes_a_guard_of_a_known_integer_and_the_checks_a_guard_dominates() {
    let input = "function f f0 {
b0(v0):  @0
    v1 = const 1  @1
    v2 = guard int v1 [f0@2: v0 | v1]  @1
    v3 = guard int v0 [f0@3: v0 | v0]  @2
    v4 = check_int v0  @3
    v5 = add v4, v2  @3
    return v5
}
";
    let expected = "function f f0 {
b0(v0):  @0
    v1 = const 1  @1
    v3 = guard int v0 [f0@3: v0 | v0]  @2
    v5 = add v3, v1  @3
    return v5
}
";
    pretty_assertions::assert_eq!(after_pass("checks", input), expected);
}

#[test]
fn value_numbering_and_code_motion_leave_guards_where_they_are() {
    // Two equal guarded loads of one block, and a guard in a loop on a value defined
    // outside it: the second load is the first's value (load forwarding: the first
    // one hit, nothing between stored), and nothing else merges or moves.
    let input = "function f f0 {
b0(v0, v1):  @0
    v2 = guard get_field v0, 0 [f0@1: v0, v1 | v0]  @1
    v3 = guard get_field v0, 0 [f0@5: v0, v1 | v0]  @5
    jump b1(v2)
b1(v4):  @7
    guard cond v1, true [f0@8: v0, v4 | v1]  @8
    v5 = guard int v3 [f0@9: v0, v4 | v3]  @8
    jump b1(v5)
}
";
    for (pass, guards) in [("gvn", 3), ("licm", 4)] {
        let out = after_pass(pass, input);
        assert_eq!(out.matches("guard").count(), guards, "{pass}:\n{out}");
        assert!(
            out.contains("b1(v4):  @7\n    guard cond"),
            "{pass}:\n{out}"
        );
    }
}

#[test]
fn a_guarded_store_ends_what_value_numbering_knows_of_the_field() {
    // `p.n` read, then a guarded `p.n = ..`: a later `p.n` is the stored value, never
    // the one read before the store (a wrong answer this pass once gave).
    let input = "function f f0 {
b0(v0, v1):  @0
    v2 = get_field v0, 0  @2
    guard set_field v0, 0, v1 [f0@5: v0, v1 | v0, v1]  @5
    v3 = get_field v0, 0  @7
    return v3
}
";
    let out = after_pass("gvn", input);
    assert!(out.contains("return v1"), "{out}");
}
