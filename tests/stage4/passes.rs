//! The passes, checked by the shape of what they make (as text), and by the IR
//! verifier after every pass over the corpus and random programs.

use jitlab_testkit::random;
use stage4::ir::{self, text, Function, Op};
use stage4::passes::{self, PassStats};

use super::builder::{corpus_programs, load};

/// Optimizes `f` with the whole pipeline, verifying the IR after every pass.
fn optimize(f: &mut Function) -> PassStats {
    let mut stats = PassStats::default();
    let before = text::print(f);
    passes::optimize(f, &mut stats, |pass, f| {
        if let Err(e) = ir::verify::verify(f) {
            panic!(
                "the IR does not verify after {pass}: {e}\n--- before the pipeline ---\n{before}\n--- after {pass} ---\n{}",
                text::print(f)
            );
        }
    });
    stats
}

/// The optimized IR of function `name` of a Mini program.
fn optimized(source: &str, name: &str) -> Function {
    let program = load("test.mini", source);
    let id = program
        .program()
        .function_named(name)
        .unwrap_or_else(|| panic!("no function {name}"));
    let mut f = ir::build(&program, id);
    optimize(&mut f);
    f
}

/// The operations of every instruction in the reachable blocks.
fn ops(f: &Function) -> Vec<&Op> {
    f.reverse_postorder()
        .into_iter()
        .flat_map(|b| f.block(b).insts.iter().map(|&i| &f.inst(i).op))
        .collect()
}

fn count(f: &Function, pred: impl Fn(&Op) -> bool) -> usize {
    ops(f).into_iter().filter(|op| pred(op)).count()
}

#[test]
fn every_corpus_function_verifies_after_every_pass() {
    for (name, program) in corpus_programs() {
        for id in 0..program.program().functions.len() as u32 {
            let mut f = ir::build(&program, id);
            let stats = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| optimize(&mut f)));
            if stats.is_err() {
                panic!("{name}: function {id} broke a pass (see above)");
            }
        }
    }
}

#[test]
fn random_programs_verify_after_every_pass() {
    for seed in 0..random::seed_count(300) {
        let source = random::program(seed);
        let program = load(&format!("random-{seed}.mini"), &source);
        for id in 0..program.program().functions.len() as u32 {
            optimize(&mut ir::build(&program, id));
        }
    }
}

#[test]
fn a_function_that_folds_completely_is_a_return_of_a_constant() {
    let f = optimized(
        "fn f() { let a = 6; let b = 7; let c = a * b - 2; if c > 10 { c = c / 4; } else { c = 0; } return c % 7 + -(3 - 5); }\nprint f();",
        "f",
    );
    let printed = text::print(&f);
    assert_eq!(f.blocks.len(), 1, "{printed}");
    assert_eq!(ops(&f), vec![&Op::Const(5)], "{printed}");
    assert!(
        matches!(f.blocks[0].term, ir::Terminator::Return(_)),
        "{printed}"
    );
}

#[test]
fn failing_expressions_are_not_folded_and_stay_after_the_prints() {
    let f = optimized(
        "fn f() { print 1; print 4611686018427387903 + 1; return 0; }\nprint f();",
        "f",
    );
    let printed = text::print(&f);
    let ops = ops(&f);
    let add = ops
        .iter()
        .position(|op| matches!(op, Op::Binary(ir::BinOp::Add, ..)))
        .unwrap_or_else(|| panic!("MAX + 1 was folded away:\n{printed}"));
    let first_print = ops
        .iter()
        .position(|op| matches!(op, Op::Print(_)))
        .unwrap();
    assert!(first_print < add, "{printed}");
    for (source, what) in [
        ("return 1 / 0;", "division by zero"),
        ("return 5 % 0;", "remainder by zero"),
        ("return (-4611686018427387903 - 1) / -1;", "MIN / -1"),
        ("return -(-4611686018427387903 - 1);", "-MIN"),
        ("return (-4611686018427387903 - 1) - 1;", "MIN - 1"),
        ("return 3037000500 * 3037000500;", "a product past 2^62"),
    ] {
        let f = optimized(&format!("fn f() {{ {source} }}\nprint f();"), "f");
        let failing = count(&f, |op| op.can_fail() && !matches!(op, Op::CheckInt(_)));
        assert!(failing >= 1, "{what} was folded:\n{}", text::print(&f));
    }
}

#[test]
fn the_63_bit_boundaries_fold_exactly() {
    let f = optimized(
        "fn f() { return (4611686018427387903 - 1) + 1 + (-4611686018427387903 - 1) % -1; }\nprint f();",
        "f",
    );
    assert_eq!(ops(&f), vec![&Op::Const(4611686018427387903)]);
}

#[test]
fn a_branch_on_a_constant_loses_its_dead_arm() {
    let f = optimized(
        "fn f(x) { if 1 < 2 { print x; } else { print 0 - x; } return 0; }\nprint f(1);",
        "f",
    );
    let printed = text::print(&f);
    assert_eq!(f.blocks.len(), 1, "{printed}");
    assert_eq!(count(&f, |op| matches!(op, Op::Print(_))), 1, "{printed}");
    assert_eq!(count(&f, |op| matches!(op, Op::Binary(..))), 0, "{printed}");
}

#[test]
fn a_loop_that_never_runs_is_gone() {
    let f = optimized(
        "fn f() { let n = 0; let i = 0; while i < n { print i; i = i + 1; } return i; }\nprint f();",
        "f",
    );
    assert_eq!(ops(&f), vec![&Op::Const(0)], "{}", text::print(&f));
}

#[test]
fn constants_flow_through_loops_until_they_do_not() {
    // `k` stays 3 around the loop; `i` does not stay constant.
    let f = optimized(
        "fn f(n) { let i = 0; let k = 3; while i < n { k = k * 1; i = i + 1; } return k + i; }\nprint f(4);",
        "f",
    );
    let printed = text::print(&f);
    assert_eq!(
        count(&f, |op| matches!(op, Op::Binary(ir::BinOp::Mul, ..))),
        0,
        "{printed}"
    );
    assert!(printed.contains("const 3"), "{printed}");
}

#[test]
fn a_check_proved_redundant_is_absent() {
    // `a` is checked once; the second use of `a` and the sum need no check.
    let f = optimized("fn f(a, b) { return a + b + a; }\nprint f(1, 2);", "f");
    assert_eq!(
        count(&f, |op| matches!(op, Op::CheckInt(_))),
        2,
        "{}",
        text::print(&f)
    );
    // A loop counter is an integer: no check of it is left in the loop.
    let f = optimized(
        "fn f(n) { let i = 0; let s = 0; while i < n { s = s + i; i = i + 1; } return s; }\nprint f(5);",
        "f",
    );
    assert_eq!(
        count(&f, |op| matches!(op, Op::CheckInt(_))),
        1,
        "only the argument n is checked:\n{}",
        text::print(&f)
    );
}

#[test]
fn equal_computations_are_merged() {
    let f = optimized("fn f(a, b) { return a * b + a * b; }\nprint f(3, 4);", "f");
    assert_eq!(
        count(&f, |op| matches!(op, Op::Binary(ir::BinOp::Mul, ..))),
        1,
        "{}",
        text::print(&f)
    );
}

#[test]
fn the_length_in_a_loop_condition_leaves_the_loop() {
    let f = optimized(
        "fn f(a) { let i = 0; let s = 0; while i < len(a) { s = s + a[i]; i = i + 1; } return s; }\nprint f([1, 2, 3]);",
        "f",
    );
    let printed = text::print(&f);
    let preds = f.predecessors();
    // The loop blocks are those with a predecessor at or after them.
    for (b, data) in f.blocks.iter().enumerate() {
        let in_loop = preds[b].iter().any(|p| p.index() >= b)
            || (0..f.blocks.len()).any(|h| h <= b && preds[h].iter().any(|p| p.index() >= b));
        if in_loop {
            for &i in &data.insts {
                assert!(
                    !matches!(f.inst(i).op, Op::ArrayLen(_)),
                    "len(a) is still in the loop (b{b}):\n{printed}"
                );
            }
        }
    }
    assert_eq!(
        count(&f, |op| matches!(op, Op::ArrayLen(_))),
        1,
        "{printed}"
    );
}

#[test]
fn a_length_that_may_fail_stays_in_a_body_that_may_not_run() {
    // `len(a)` is in the body, which does not run when n <= 0: moving it out would
    // raise `type error` for f(0, 0).
    let f = optimized(
        "fn f(a, n) { let i = 0; let s = 0; while i < n { s = s + len(a); i = i + 1; } return s; }\nprint f(0, 0);",
        "f",
    );
    let printed = text::print(&f);
    let entry_has_len = f
        .block(ir::ENTRY)
        .insts
        .iter()
        .any(|&i| matches!(f.inst(i).op, Op::ArrayLen(_)));
    assert!(!entry_has_len, "{printed}");
    assert_eq!(
        count(&f, |op| matches!(op, Op::ArrayLen(_))),
        1,
        "{printed}"
    );
}

#[test]
fn a_dead_load_that_can_fail_stays() {
    let f = optimized("fn f(a) { let x = a[5]; return 0; }\nprint f([1]);", "f");
    assert_eq!(
        count(&f, |op| matches!(op, Op::ArrayGet(..))),
        1,
        "{}",
        text::print(&f)
    );
    // ... but one proved in bounds goes.
    let f = optimized(
        "fn f() { let a = [1, 2]; let x = a[1]; return 0; }\nprint f();",
        "f",
    );
    assert_eq!(
        count(&f, |op| matches!(op, Op::ArrayGet(..))),
        0,
        "{}",
        text::print(&f)
    );
}

#[test]
fn division_by_constants_has_no_division_left() {
    for (source, reduced) in [
        ("return x / 7;", "div_magic"),
        ("return x % 10;", "mod_magic"),
        ("return x / -3;", "div_magic"),
        ("return x / 8;", "sar"),
        ("return x % -16;", "sar"),
        ("return x * 8;", "shl"),
        ("return x % 4 == 0;", "and"),
    ] {
        let f = optimized(&format!("fn f(x) {{ {source} }}\nprint f(100);"), "f");
        let printed = text::print(&f);
        assert_eq!(
            count(&f, |op| matches!(op, Op::Binary(..))),
            0,
            "{source}:\n{printed}"
        );
        assert!(printed.contains(reduced), "{source}:\n{printed}");
    }
    // Division by -1 keeps its overflow (it is a negation); by 0 it stays a division.
    let f = optimized("fn f(x) { return x / -1; }\nprint f(1);", "f");
    assert_eq!(
        count(&f, |op| matches!(op, Op::Neg(_))),
        1,
        "{}",
        text::print(&f)
    );
    let f = optimized("fn f(x) { return x / 0; }\nprint f(1);", "f");
    assert_eq!(
        count(&f, |op| matches!(op, Op::Binary(ir::BinOp::Div, ..))),
        1
    );
}

/// Runs one pass on text, and gives the result as text (renumbered).
fn pass_on_text(pass: &str, input: &str) -> String {
    let mut f = text::parse(input).unwrap_or_else(|e| panic!("{e}\n{input}"));
    ir::verify::verify(&f).unwrap();
    passes::run_pass(pass, &mut f, &mut PassStats::default()).unwrap();
    ir::verify::verify(&f).unwrap_or_else(|e| panic!("{e}\n{}", text::print(&f)));
    f.compact();
    text::print(&f)
}

/// `expected` as the printer writes it.
fn canonical(expected: &str) -> String {
    text::print(&text::parse(expected).unwrap_or_else(|e| panic!("{e}\n{expected}")))
}

#[test]
fn strength_renames_through_a_value_a_later_block_renames_again() {
    // b1 comes before b2, which dominates it: `q / 1` becomes `p`, and `p` (in b2,
    // rewritten after) becomes `x`; b1's return must end at `x`.
    let input = "
function f f1 {
b0(x):  @0
    one = const 1  @0
    jump b2
b1:  @3
    q = div p, one  @3
    return q
b2:  @1
    p = div x, one  @1
    jump b1
}
";
    let expected = "
function f f1 {
b0(x):  @0
    one = const 1  @0
    jump b2
b1:  @3
    return x
b2:  @1
    jump b1
}
";
    assert_eq!(pass_on_text("strength", input), canonical(expected));
}

#[test]
fn sccp_as_text() {
    let input = "
function f f1 {
b0(x):  @0
    one = const 1  @0
    two = const 2  @1
    c = lt one, two  @2
    branch c, b1(one), b2(x)
b1(p):  @3
    q = add p, two  @3
    return q
b2(r):  @5
    return r
}";
    let expected = "
function f f1 {
b0(x):  @0
    one = const 1  @0
    two = const 2  @1
    c = const 1  @2
    jump b1(one)
b1(p):  @3
    k = const 1  @3
    q = const 3  @3
    return q
}";
    assert_eq!(pass_on_text("sccp", input), canonical(expected));
}

#[test]
fn gvn_forwards_field_loads_within_a_block() {
    // o.0 after storing it is the value stored; o.1 read twice is read once; a store
    // to field 1 of another object (maybe `o`) and a call make the next reads real.
    let input = "
function f f1 {
b0(o, p, v):  @0
    set_field o, 0, v  @0
    a = get_field o, 0  @1
    b = get_field o, 1  @2
    c = get_field o, 1  @3
    set_field p, 1, v  @4
    d = get_field o, 1  @5
    e = get_field o, 0  @6
    r = call f1(o, p, v)  @7
    g = get_field o, 0  @8
    return g
}";
    let expected = "
function f f1 {
b0(o, p, v):  @0
    set_field o, 0, v  @0
    b = get_field o, 1  @2
    set_field p, 1, v  @4
    d = get_field o, 1  @5
    r = call f1(o, p, v)  @7
    g = get_field o, 0  @8
    return g
}";
    assert_eq!(pass_on_text("gvn", input), canonical(expected));
}

#[test]
fn dce_as_text() {
    let input = "
function f f1 {
b0(x, y):  @0
    d = div x, y  @0
    s = add x, y  @1
    n = not x  @2
    jump b1(n, s)
b1(p, q):  @3
    return q
}";
    // `div` can fail and stays; `not` is pure and unused; p is unused.
    let expected = "
function f f1 {
b0(x, y):  @0
    d = div x, y  @0
    s = add x, y  @1
    jump b1(s)
b1(q):  @3
    return q
}";
    assert_eq!(pass_on_text("dce", input), canonical(expected));
}

#[test]
fn bounds_as_text() {
    // `i < n` bounds `i + 1` whatever `n` is; `x + 1` with no branch, and `x + 2`
    // under `x < n` (n unknown), may overflow and keep their checks; `i * 3` under
    // `i < 100` of a counter from 0 fits.
    let input = "
function f f1 {
b0(n, x):  @0
    zero = const 0  @0
    one = const 1  @0
    two = const 2  @0
    three = const 3  @0
    hundred = const 100  @0
    a = add x, one  @1
    jump b1(zero)
b1(i):  @2
    c = lt i, n  @2
    branch c, b2, b3
b2:  @3
    j = add i, one  @3
    k = add i, two  @4
    d = lt i, hundred  @5
    branch d, b4, b1(j)
b4:  @6
    m = mul i, three  @6
    jump b1(j)
b3:  @7
    return a
}";
    let expected = "
function f f1 {
b0(n, x):  @0
    zero = const 0  @0
    one = const 1  @0
    two = const 2  @0
    three = const 3  @0
    hundred = const 100  @0
    a = add x, one  @1
    jump b1(zero)
b1(i):  @2
    c = lt i, n  @2
    branch c, b2, b3
b2:  @3
    j = iadd i, one  @3
    k = add i, two  @4
    d = lt i, hundred  @5
    branch d, b4, b1(j)
b4:  @6
    m = imul i, 3  @6
    jump b1(j)
b3:  @7
    return a
}";
    assert_eq!(pass_on_text("bounds", input), canonical(expected));
}

#[test]
fn bounds_keep_the_first_check_of_a_reassociated_sum() {
    // `(s + i * 3) - 7` with `s` carried around the loop: `i * 3 - 7` cannot overflow,
    // so the loop adds it to `s`; `s + i * 3` stays for its check.
    let input = "
function f f1 {
b0(n):  @0
    zero = const 0  @0
    one = const 1  @0
    three = const 3  @0
    seven = const 7  @0
    limit = const 1000  @0
    jump b1(zero, zero)
b1(s, i):  @2
    c = lt i, limit  @2
    branch c, b2, b3
b2:  @3
    t = mul i, three  @3
    u = add s, t  @4
    w = sub u, seven  @5
    j = add i, one  @6
    jump b1(w, j)
b3:  @7
    return s
}";
    let expected = "
function f f1 {
b0(n):  @0
    zero = const 0  @0
    one = const 1  @0
    three = const 3  @0
    seven = const 7  @0
    limit = const 1000  @0
    jump b1(zero, zero)
b1(s, i):  @2
    c = lt i, limit  @2
    branch c, b2, b3
b2:  @3
    t = imul i, 3  @3
    u = add s, t  @4
    r = isub t, seven  @5
    w = add s, r  @5
    j = iadd i, one  @6
    jump b1(w, j)
b3:  @7
    return s
}";
    assert_eq!(pass_on_text("bounds", input), canonical(expected));
}

#[test]
fn functions_that_return_only_integers_are_found_over_the_program() {
    let program = load(
        "test.mini",
        "fn fib(n) { if n < 2 { return n; } return fib(n - 1) + fib(n - 2); }
fn even(n) { if n == 0 { return [0]; } return odd(n - 1); }
fn odd(n) { if n == 0 { return 0; } return even(n - 1); }
fn twice(n) { return fib(n) * 2; }
fn first(n) { return fib(n) + odd(n); }
print first(3) + twice(2);",
    );
    let names = ["fib", "even", "odd", "twice", "first"];
    let mut functions: Vec<Function> = (0..program.program().functions.len() as u32)
        .map(|id| {
            let mut f = ir::build(&program, id);
            optimize(&mut f);
            f
        })
        .collect();
    let mut stats = vec![PassStats::default(); functions.len()];
    passes::returns::apply(&mut functions, &mut stats);
    let facts: Vec<bool> = names
        .iter()
        .map(|name| {
            let id = program.program().function_named(name).unwrap();
            functions[id as usize].int_results[id as usize]
        })
        .collect();
    // `odd` returns what `even` returns, an array at its base case; `first` adds,
    // which gives an integer whatever it adds (or fails).
    assert_eq!(facts, [true, false, false, true, true]);
    // `fib`'s own results need no check; `first` still checks `odd`'s.
    let checks = |name: &str| {
        let id = program.program().function_named(name).unwrap();
        count(&functions[id as usize], |op| matches!(op, Op::CheckInt(_)))
    };
    assert_eq!(checks("fib"), 1, "{}", text::print(&functions[1]));
    assert_eq!(checks("first"), 1);
    assert_eq!(checks("twice"), 0);
}

#[test]
fn an_inlined_call_is_a_copy_between_enter_and_leave() {
    let program = load(
        "test.mini",
        "fn sq(x) { return x * x; }\nfn f(a) { return sq(a) + 1; }\nprint f(3);",
    );
    let functions: Vec<Function> = (0..program.program().functions.len() as u32)
        .map(|id| {
            let mut f = ir::build(&program, id);
            optimize(&mut f);
            f
        })
        .collect();
    let offered: Vec<Option<&Function>> = functions.iter().map(Some).collect();
    let id = program.program().function_named("f").unwrap() as usize;
    let mut f = functions[id].clone();
    assert_eq!(passes::inline::run(&mut f, &offered), 1);
    ir::verify::verify(&f).unwrap_or_else(|e| panic!("{e}\n{}", text::print(&f)));
    optimize(&mut f);
    let printed = text::print(&f);
    assert_eq!(
        count(&f, |op| matches!(op, Op::Call { .. })),
        0,
        "{printed}"
    );
    assert_eq!(count(&f, |op| matches!(op, Op::Enter)), 1, "{printed}");
    assert_eq!(count(&f, |op| matches!(op, Op::Leave)), 1, "{printed}");
    // The copy's multiply names the inlined frame (an overflow there reports `sq`).
    let mul = ops(&f)
        .iter()
        .position(|op| matches!(op, Op::Binary(ir::BinOp::Mul, ..)))
        .expect("the copy's multiply");
    let order = f.reverse_postorder();
    let insts: Vec<_> = order
        .iter()
        .flat_map(|&b| f.block(b).insts.clone())
        .collect();
    assert_eq!(f.inst(insts[mul]).frame, 1, "{printed}");
    assert_eq!(f.frames[0].func, functions[1].id);
    // A callee with a loop stays a call.
    let program = load(
        "test.mini",
        "fn count(n) { let i = 0; while i < n { i = i + 1; } return i; }\nfn f(a) { return count(a); }\nprint f(3);",
    );
    let functions: Vec<Function> = (0..program.program().functions.len() as u32)
        .map(|id| {
            let mut f = ir::build(&program, id);
            optimize(&mut f);
            f
        })
        .collect();
    let offered: Vec<Option<&Function>> = functions.iter().map(Some).collect();
    let id = program.program().function_named("f").unwrap() as usize;
    let mut f = functions[id].clone();
    assert_eq!(passes::inline::run(&mut f, &offered), 0);
}

#[test]
fn arrays_as_text() {
    // `a[i]` dominates `a[j]` and `len(a)`: one `check_array a` before it, and the
    // three use its result (no tag check of their own). `b` is read in two arms,
    // neither before the other: nothing to share.
    let input = "
function f f1 {
b0(a, b, i, j):  @0
    x = array_get a, i  @0
    y = array_get a, j  @1
    k = check_int y  @2
    branch k, b1, b2
b1:  @3
    n = array_len a  @3
    u = array_get b, i  @4
    return n
b2:  @5
    w = array_get b, j  @5
    return x
}";
    let expected = "
function f f1 {
b0(a, b, i, j):  @0
    c = check_array a  @0
    x = array_get c, i  @0
    y = array_get c, j  @1
    k = check_int y  @2
    branch k, b1, b2
b1:  @3
    n = array_len c  @3
    u = array_get b, i  @4
    return n
b2:  @5
    w = array_get b, j  @5
    return x
}";
    assert_eq!(pass_on_text("arrays", input), canonical(expected));
}

/// The blocks of `f` that are in a loop (reach themselves).
fn in_loops(f: &Function) -> Vec<ir::Block> {
    let reaches = |from: ir::Block, to: ir::Block| {
        let mut seen = vec![false; f.blocks.len()];
        let mut work: Vec<ir::Block> = f.block(from).term.successors().to_vec();
        while let Some(b) = work.pop() {
            if b == to {
                return true;
            }
            if !std::mem::replace(&mut seen[b.index()], true) {
                work.extend(f.block(b).term.successors());
            }
        }
        false
    };
    f.reverse_postorder()
        .into_iter()
        .filter(|&b| reaches(b, b))
        .collect()
}

#[test]
fn a_loop_reading_an_array_it_does_not_change_checks_it_once_before_the_loop() {
    let source = "fn f(a, n) { let s = 0; let i = 0; while i < n { s = s + a[i]; i = i + 1; } return s; }\nprint f([1, 2], 2);";
    let program = load("test.mini", source);
    let mut f = ir::build(&program, program.program().function_named("f").unwrap());
    let stats = optimize(&mut f);
    let printed = text::print(&f);
    assert_eq!(stats.peeled, 1, "{printed}");
    // The loop's first trip, peeled, reads `a` before the loop: `check_array a` there,
    // and the loop's own read uses it.
    assert_eq!(
        count(&f, |op| matches!(op, Op::CheckArray(_))),
        1,
        "{printed}"
    );
    let loop_blocks = in_loops(&f);
    let mut reads_in_loop = 0;
    for &b in &loop_blocks {
        for &inst in &f.block(b).insts {
            match f.inst(inst).op {
                Op::CheckArray(_) => panic!("a check of `a` in the loop:\n{printed}"),
                Op::ArrayGet(a, _) => {
                    assert!(passes::is_array(&f, a), "{printed}");
                    reads_in_loop += 1;
                }
                _ => {}
            }
        }
    }
    assert_eq!(reads_in_loop, 1, "{printed}");
    assert_eq!(
        count(&f, |op| matches!(op, Op::ArrayGet(..))),
        2,
        "{printed}"
    );
}

#[test]
fn loops_with_nothing_to_check_once_are_not_peeled() {
    for source in [
        // The array is made in the function: known to be one.
        "fn f(n) { let a = [1; n]; let s = 0; let i = 0; while i < n { s = s + a[i]; i = i + 1; } return s; }\nprint f(2);",
        // The array changes every trip (a list's cells): each trip checks its own.
        "fn f(r, n) { let s = 0; let i = 0; while i < n { s = s + r[0]; r = r[1]; i = i + 1; } return s; }\nprint f([1, [2, 0]], 2);",
        // No array at all.
        "fn f(n) { let s = 0; let i = 0; while i < n { s = s + i; i = i + 1; } return s; }\nprint f(2);",
    ] {
        let program = load("test.mini", source);
        let mut f = ir::build(&program, program.program().function_named("f").unwrap());
        let stats = optimize(&mut f);
        assert_eq!(stats.peeled, 0, "{source}\n{}", text::print(&f));
    }
}

#[test]
fn rce_as_text() {
    // `a[i]` at the counter of `while i < n`: a main loop runs while `i` is below
    // `min(n, len(a))`, its read unchecked, and hands over to the loop as it was.
    let input = "
function f f1 {
b0(a, n):  @0
    zero = const 0  @0
    one = const 1  @1
    m = check_int n  @2
    c = check_array a  @3
    jump b1(zero, zero)
b1(s, i):  @4
    t = lt i, m  @4
    branch t, b2, b3(s)
b2:  @5
    x = array_get c, i  @5
    y = check_int x  @6
    s2 = add s, y  @6
    i2 = iadd i, one  @7
    jump b1(s2, i2)
b3(r):  @8
    return r
}";
    let expected = "
function f f1 {
b0(a, n):  @0
    zero = const 0  @0
    one = const 1  @1
    m = check_int n  @2
    c = check_array a  @3
    l = array_len c  @4
    bound = min m, l  @4
    jump b4(zero, zero)
b1(s, i):  @4
    t = lt i, m  @4
    branch t, b2, b3(s)
b2:  @5
    x = array_get c, i  @5
    y = check_int x  @6
    s2 = add s, y  @6
    i2 = iadd i, one  @7
    jump b1(s2, i2)
b3(r):  @8
    return r
b4(ms, mi):  @4
    mt = lt mi, bound  @4
    branch mt, b5, b1(ms, mi)
b5:  @5
    mx = load_element c, mi  @5
    my = check_int mx  @6
    ms2 = add ms, my  @6
    mi2 = iadd mi, one  @7
    jump b4(ms2, mi2)
}";
    assert_eq!(pass_on_text("rce", input), canonical(expected));
}

/// The optimized IR of `f` in `source`, and what the passes did.
fn optimized_with_stats(source: &str) -> (Function, PassStats) {
    let program = load("test.mini", source);
    let mut f = ir::build(&program, program.program().function_named("f").unwrap());
    let stats = optimize(&mut f);
    (f, stats)
}

#[test]
fn a_loop_over_arrays_at_its_counter_gets_a_main_loop_without_range_checks() {
    let source = "fn f(a, b, n) { let s = 0; let i = 0; while i < n { b[i] = a[i]; s = s + a[i]; i = i + 1; } return s; }\nprint f([1, 2], [0, 0], 2);";
    let (f, stats) = optimized_with_stats(source);
    let printed = text::print(&f);
    // The read twice and the write, in the main loop.
    assert_eq!(stats.range_checks_removed, 3, "{printed}");
    let unchecked = |op: &Op| matches!(op, Op::LoadElement(..) | Op::StoreElement(..));
    let checked = |op: &Op| matches!(op, Op::ArrayGet(..) | Op::ArraySet(..));
    // Two loops: the main loop checks no index, the loop after it every one.
    let loop_blocks = in_loops(&f);
    let in_loop = |b: &ir::Block| f.block(*b).insts.iter().map(|&i| &f.inst(i).op);
    let main: Vec<_> = loop_blocks
        .iter()
        .filter(|b| in_loop(b).any(unchecked))
        .collect();
    assert!(!main.is_empty(), "{printed}");
    assert!(
        main.iter().all(|b| !in_loop(b).any(checked)),
        "a checked access in the main loop:\n{printed}"
    );
    assert_eq!(
        loop_blocks
            .iter()
            .map(|b| in_loop(b).filter(|op| checked(op)).count())
            .sum::<usize>(),
        3,
        "{printed}"
    );
    // The bound: `n` and the two lengths, once, before the loops.
    assert_eq!(count(&f, |op| matches!(op, Op::Min(..))), 2, "{printed}");
}

#[test]
fn loops_that_may_index_outside_an_array_keep_their_range_checks() {
    for source in [
        // The counter steps down (from 3, into an array known to be one: no peeling).
        "fn f(n) { let a = [1; 4]; let s = 0; let i = 3; while i < n { s = s + a[i]; i = i - 1; } return s; }\nprint f(0);",
        // The index is not the counter.
        "fn f(a, n) { let s = 0; let i = 0; while i < n { s = s + a[i + 1]; i = i + 1; } return s; }\nprint f([1, 2], 1);",
        // The step changes in the loop.
        "fn f(a, n) { let s = 0; let i = 0; while i < n { s = s + a[i]; i = i + s; } return s; }\nprint f([1, 2], 2);",
        // The bound changes in the loop.
        "fn f(a, n) { let s = 0; let i = 0; while i < n { s = s + a[i]; n = n - 1; i = i + 1; } return s; }\nprint f([1, 2], 2);",
        // The loop leaves from its body too.
        "fn f(a, n) { let i = 0; while i < n { if a[i] == 0 { return i; } i = i + 1; } return n; }\nprint f([1, 0], 2);",
    ] {
        let (f, stats) = optimized_with_stats(source);
        let printed = text::print(&f);
        assert_eq!(stats.range_checks_removed, 0, "{source}\n{printed}");
        assert_eq!(
            count(&f, |op| matches!(op, Op::LoadElement(..) | Op::StoreElement(..))),
            0,
            "{source}\n{printed}"
        );
    }
}

#[test]
fn a_counter_that_may_start_below_zero_is_tested_before_the_main_loop() {
    for (source, tested) in [
        ("fn f(a, i, n) { let s = 0; while i < n { s = s + a[i]; i = i + 1; } return s; }\nprint f([1, 2], 0, 2);", 0),
        // The step is an argument too: the least of the two is tested.
        ("fn f(a, i, n, k) { let s = 0; while i < n { s = s + a[i]; i = i + k; } return s; }\nprint f([1, 2], 0, 2, 1);", 1),
    ] {
        let (f, stats) = optimized_with_stats(source);
        let printed = text::print(&f);
        assert_eq!(stats.range_checks_removed, 1, "{printed}");
        // `start < 0` enters the loop as it was; the main loop only from 0 up.
        let below_zero =
            |op: &Op| matches!(op, &Op::Compare(ir::CmpOp::Lt, _, z) if f.as_const(z) == Some(0));
        assert_eq!(count(&f, below_zero), 1, "{printed}");
        assert_eq!(count(&f, |op| matches!(op, Op::Min(..))), 1 + tested, "{printed}");
    }
}

#[test]
fn an_osr_variants_inner_loop_gets_a_preheader_and_the_loop_passes() {
    // Entered at the inner loop's header, the variant runs a copy of the outer
    // loop's trip it is in, then the nest whole (`ir::build::osr_nest`): two inner
    // loops, each with a preheader of its own, each peeled and split. (Built with
    // the header's block heading the outer loop too, there was one loop, which
    // needed `passes::preheaders` to be peeled at all.)
    let source = "fn f(a, n) { let s = 0; let i = 0; while i < n { let j = 0; while j < n { s = s + a[j]; j = j + 1; } i = i + 1; } return s; }\nprint f([1, 2], 2);";
    let program = load("test.mini", source);
    let id = program.program().function_named("f").unwrap();
    let inner = *stage4::tiered::loop_headers(&program, id)
        .last()
        .expect("two loops");
    // Locals: a, n, s, i, j; all but `a` integers.
    let mut f = ir::build::build_osr_speculating(&program, id, inner as u32, 0b11110);
    let stats = optimize(&mut f);
    let printed = text::print(&f);
    assert_eq!(stats.peeled, 2, "{printed}");
    assert_eq!(stats.range_checks_removed, 2, "{printed}");
}

#[test]
fn a_loop_up_to_the_length_of_the_array_it_indexes_needs_no_main_loop() {
    let source = "fn f(a) { let s = 0; let i = 0; while i < len(a) { s = s + a[i]; i = i + 1; } return s; }\nprint f([1, 2]);";
    let (f, stats) = optimized_with_stats(source);
    let printed = text::print(&f);
    assert_eq!(stats.range_checks_removed, 1, "{printed}");
    // One loop, its read unchecked where it was: no bound to compute, no copy.
    assert_eq!(count(&f, |op| matches!(op, Op::Min(..))), 0, "{printed}");
    let loop_blocks = in_loops(&f);
    let in_loop = |op: fn(&Op) -> bool| {
        loop_blocks
            .iter()
            .flat_map(|&b| f.block(b).insts.iter())
            .filter(|&&i| op(&f.inst(i).op))
            .count()
    };
    assert_eq!(
        in_loop(|op| matches!(op, Op::LoadElement(..))),
        1,
        "{printed}"
    );
    assert_eq!(in_loop(|op| matches!(op, Op::ArrayGet(..))), 0, "{printed}");
}

#[test]
fn a_loop_up_to_and_including_its_bound_with_a_counted_step_gets_a_main_loop() {
    // A sieve's inner loop: `j <= n`, stepping by the outer counter (2 and up).
    let source = "fn f(n) { let a = [0; n + 1]; let i = 2; while i <= n { let j = i * i; while j <= n { a[j] = 1; j = j + i; } i = i + 1; } return a; }\nprint f(10);";
    let (f, stats) = optimized_with_stats(source);
    let printed = text::print(&f);
    assert_eq!(stats.range_checks_removed, 1, "{printed}");
    // The array's bound is its last index: `len(a) - 1`.
    assert_eq!(count(&f, |op| matches!(op, Op::ISub(..))), 1, "{printed}");
    assert_eq!(
        count(&f, |op| matches!(op, Op::StoreElement(..))),
        1,
        "{printed}"
    );
}
