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

/// Each piece of an `asm_listing`: an IR line (`pc N  vK@.. = op ..`) and the
/// machine-code lines under it, as `(ir, code)`.
fn pieces(listing: &str) -> Vec<(&str, Vec<&str>)> {
    let mut pieces: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in listing.lines() {
        if line.starts_with("  pc ") {
            pieces.push((line, Vec::new()));
        } else if line.starts_with("        ") {
            if let Some((_, code)) = pieces.last_mut() {
                code.push(line);
            }
        } else if !line.starts_with("  pc") {
            // A block's head, a terminator, the slow paths: no instruction's.
            pieces.push((line, Vec::new()));
        }
    }
    pieces
}

/// `s = s + a[k] * b[k]`: each load's value is guarded as an integer where it
/// enters. The second load takes the index the first untagged (the integer guard
/// between them touches no register but its own), and the guard on `b[k]`'s value
/// is the `mul`'s own untagging shift (`sar; jb` to the guard's deopt stub) rather
/// than a `test; jne` of its own — as stage 4 fuses a plain `check_int` into a
/// `mul`. (What it saves: stage 7 is not to be slower than stage 5 on matmul.)
#[test]
fn loads_by_one_index_untag_it_once_and_a_guard_on_a_factor_is_the_muls_shift() {
    isolated(|| {
        let source = "fn dot(a, b, n) {\n\
                      let s = 0;\n\
                      let k = 0;\n\
                      while k < n { s = s + a[k] * b[k]; k = k + 1; }\n\
                      return s;\n\
                      }\n\
                      let a = [3; 100];\n\
                      let b = [5; 100];\n\
                      let t = 0;\n\
                      let r = 0;\n\
                      while r < 1000 { t = t + dot(a, b, 100); r = r + 1; }\n\
                      print t;";
        let verified = load("dot.mini", source);
        let listing = stage7::dump::asm_listing(&verified);
        let dot = listing
            .split("\n; compile ")
            .find(|c| c.contains("fn dot"))
            .unwrap_or_else(|| panic!("dot was compiled:\n{listing}"));
        let pieces = pieces(dot);
        let is = |k: usize, what: &str| pieces[k].0.contains(what);
        // Each copy of the loop's body (the optimizer may peel one).
        let bodies: Vec<usize> = (0..pieces.len().saturating_sub(4))
            .filter(|&k| {
                is(k, "= array_get")
                    && is(k + 1, "guard int")
                    && is(k + 2, "= array_get")
                    && is(k + 3, "guard int")
                    && is(k + 4, "guard mul")
            })
            .collect();
        assert!(!bodies.is_empty(), "a[k], b[k] and their product:\n{dot}");
        for k in bodies {
            let code = |k: usize| &pieces[k].1;
            assert!(code(k).iter().any(|l| l.contains("sar rdx")), "{dot}");
            assert!(
                !code(k + 2).iter().any(|l| l.contains("sar")),
                "b[k] reuses the index a[k] untagged:\n{dot}"
            );
            assert!(code(k + 3).is_empty(), "the guard is the mul's:\n{dot}");
            assert!(
                code(k + 4).iter().any(|l| l.contains(" jb ")),
                "the mul's shift tests the tag:\n{dot}"
            );
        }
        assert!(!listing.contains("; deopt"), "no deopt:\n{listing}");
    });
}

/// Where neither way of a branch falls through, one is a `jcc` and the other a
/// `jmp`: a loop that iterates should pass only the `jcc`. So when a way goes back
/// to code laid out already — a loop's body, as at the rotated back edge of an
/// inner loop laid out after the code around it (OSR into loops whose header's
/// block heads the loops around it too) — the `jcc` takes the nearer such target
/// and the `jmp` the other: never a `jcc` forward or to a farther block followed by
/// a `jmp` back to the nearer one.
#[test]
fn a_branch_neither_way_falls_through_takes_its_nearer_backward_way_with_the_jcc() {
    isolated(|| {
        let kernels =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches/kernels");
        let read = |name: &str| std::fs::read_to_string(kernels.join(name)).expect("a kernel");
        // `sieve` with a jump from before its loops to its inner loop's header, as
        // no `while` compiles (never taken: `n` is not negative): entered there by
        // OSR, the outer loop is entered past its header too, so the variant gets
        // no copy of it (`stage4::ir::build::osr_nest`) and the header's block
        // heads both loops, the inner one laid out after the outer one's code.
        let entered = {
            let sieve = load("sieve.mini", &read("sieve.mini"));
            let jasm = stage1::jasm::print(sieve.program());
            let at = jasm.find(".fn sieve").expect("sieve");
            let body = at + jasm[at..].find('\n').expect("a line") + 1;
            assert!(jasm.contains("\nL1:\n"), "{jasm}");
            let into = "    load_local 0\n    const 0\n    lt\n    jump_if_true L1\n";
            format!("{}{into}{}", &jasm[..body], &jasm[body..])
        };
        let mut pairs = 0;
        for (name, source) in [
            ("matmul.mini", read("matmul.mini")),
            ("sieve.mini", read("sieve.mini")),
            ("entered.jasm", entered),
        ] {
            let verified = load(name, &source);
            let listing = stage7::dump::asm_listing(&verified);
            for compile in listing.split("\n; compile ").skip(1) {
                pairs += back_edge_pairs(name, compile);
            }
        }
        assert!(pairs > 0, "some branch jumps back both ways");
    });
}

/// The `jcc; jmp` pairs of one compile's listing whose `jmp` goes back, each
/// checked (see above); a `jcc` to the slow paths or deopt exits (an overflow's
/// `jo` before a back edge's `jmp`) is no branch of the IR.
fn back_edge_pairs(name: &str, compile: &str) -> usize {
    let offset = |l: &str| {
        let (at, _) = l.trim_start().split_once(": ")?;
        u64::from_str_radix(at, 16).ok()
    };
    let cold = compile
        .lines()
        .skip_while(|l| *l != "  slow paths")
        .find_map(offset)
        .unwrap_or(u64::MAX);
    // Every instruction, with its jump's mnemonic and target if it is one.
    let code: Vec<(u64, Option<(&str, u64)>)> = compile
        .lines()
        .filter_map(|l| {
            let at = offset(l)?;
            let mut words = l.split_whitespace().rev();
            let jump = words
                .next()
                .and_then(|t| u64::from_str_radix(t.strip_prefix("0x")?, 16).ok())
                .and_then(|target| Some((words.find(|w| w.starts_with('j'))?, target)));
            Some((at, jump))
        })
        .collect();
    let mut pairs = 0;
    for pair in code.windows(2) {
        let [(_, Some((jcc, taken))), (at, Some(("jmp", other)))] = pair else {
            continue;
        };
        if *jcc == "jmp" || taken >= &cold || other >= at {
            continue;
        }
        pairs += 1;
        // The `jmp` goes back: so does the `jcc`, to a nearer block.
        assert!(
            taken < at && taken > other,
            "{name}: {jcc} {taken:#x} then jmp {other:#x}:\n{compile}"
        );
    }
    pairs
}

/// `m = s + a[k] * 3` with `s` read on after it: the sum overwrites the product,
/// its right operand, in place — one `add`, no copy of `s` — and when it overflows
/// (the last element is huge), the deopt stub subtracts `s` again, so the frame
/// state gives the interpreter the product as it was, and the same error follows.
#[test]
fn an_add_that_overflows_into_its_right_operand_deopts_with_it_restored() {
    isolated(|| {
        let source = "fn run(a, n) {\n\
                      let s = 0;\n\
                      let k = 0;\n\
                      while k < n {\n\
                        let m = s + a[k] * 3;\n\
                        if m > s { s = m; }\n\
                        k = k + 1;\n\
                      }\n\
                      return s;\n\
                      }\n\
                      let n = 30000;\n\
                      let a = [1; n];\n\
                      a[n - 1] = 1537228672809129301;\n\
                      print run(a, n);";
        let verified = load("right_operand.mini", source);
        let (run, engine) = speculating(&verified, DESIGNED.options(0));
        let expected = run_on(&mut Interpreter::new(), &verified);
        compare("right_operand.mini", source, &expected, &run).unwrap();
        let all = deopts(&engine, &verified);
        assert!(
            all.iter().any(|d| d.reason == "overflow" && d.line == 5),
            "{all:#?}"
        );
        let listing = stage7::dump::asm_listing(&verified);
        let sums: Vec<Vec<&str>> = pieces(&listing)
            .into_iter()
            .filter(|(ir, _)| ir.contains("= guard add"))
            .map(|(_, code)| code)
            .collect();
        assert!(!sums.is_empty(), "{listing}");
        for code in sums {
            assert_eq!(code.len(), 2, "add; jo:\n{listing}");
        }
    });
}

/// A guarded field access that hits leaves its object in the shape its one case
/// names (a miss deoptimizes: nothing runs on after it), so the next accesses of
/// that object in the block, of sites of that shape, load and store with no check
/// at all: `p.x = (p.x + p.y) % 1000; p.hits = p.hits + 1` checks `p`'s shape once.
/// (Stage 6 checks it at each access: a miss there calls the runtime and goes on.)
#[test]
fn after_a_guarded_field_access_its_objects_shape_is_not_checked_again() {
    isolated(|| {
        let source = "fn walk(points, rounds) {\n\
                      let sum = 0;\n\
                      let r = 0;\n\
                      while r < rounds {\n\
                        let i = 0;\n\
                        while i < len(points) {\n\
                          let p = points[i];\n\
                          p.x = (p.x + p.y) % 1000;\n\
                          p.hits = p.hits + 1;\n\
                          sum = sum + p.x;\n\
                          i = i + 1;\n\
                        }\n\
                        r = r + 1;\n\
                      }\n\
                      return sum;\n\
                      }\n\
                      let points = [0; 50];\n\
                      let i = 0;\n\
                      while i < 50 { points[i] = {x: i, y: 2 * i, hits: 0}; i = i + 1; }\n\
                      print walk(points, 1000);";
        let verified = load("walk.mini", source);
        let (run, _) = speculating(&verified, DESIGNED.options(0));
        let expected = run_on(&mut Interpreter::new(), &verified);
        compare("walk.mini", source, &expected, &run).unwrap();
        let listing = stage7::dump::asm_listing(&verified);
        let walk = listing
            .split("\n; compile ")
            .find(|c| c.contains("fn walk"))
            .unwrap_or_else(|| panic!("walk was compiled:\n{listing}"));
        // In each block the first access of `p` checks it, and no other one.
        let mut seen = false;
        let mut unchecked = 0;
        for (ir, code) in pieces(walk) {
            if ir.starts_with('b') {
                seen = false;
            }
            if !(ir.contains("guard get_field") || ir.contains("guard set_field")) {
                continue;
            }
            let checks = code.iter().any(|l| l.contains("jne") || l.contains("cmp"));
            if seen {
                assert!(!checks, "{ir}: checked again:\n{walk}");
                unchecked += 1;
            } else {
                assert!(checks, "{ir}: the first access checks:\n{walk}");
                seen = true;
            }
        }
        assert!(unchecked >= 4, "{walk}");
    });
}

/// The shape known after a guarded access is forgotten when a field is added to any
/// object, which may be the same one under another name: here `q` is `p` on the
/// last call, so `q.z = a` changes `p`'s shape under the code's feet and `p.w = 5`
/// must check it again (else it would store `w` over `z`, under a shape without
/// `z`): it deoptimizes, and the object prints as the interpreter's.
#[test]
fn a_field_added_under_another_name_makes_the_next_access_check_the_shape() {
    isolated(|| {
        let source = "fn f(p, q) {\n\
                      let a = p.x;\n\
                      q.z = a;\n\
                      p.w = 5;\n\
                      return p;\n\
                      }\n\
                      let i = 0;\n\
                      let last = 0;\n\
                      while i < 30000 {\n\
                        let p = {x: i, y: 1};\n\
                        let q = {x: 0, y: 0};\n\
                        if i == 29999 { q = p; }\n\
                        last = f(p, q);\n\
                        i = i + 1;\n\
                      }\n\
                      print last;";
        let verified = load("aliased_shape.mini", source);
        let (run, engine) = speculating(&verified, DESIGNED.options(0));
        let expected = run_on(&mut Interpreter::new(), &verified);
        compare("aliased_shape.mini", source, &expected, &run).unwrap();
        let all = deopts(&engine, &verified);
        assert!(
            all.iter()
                .any(|d| d.reason == "field cache miss" && d.line == 4),
            "{all:#?}"
        );
    });
}

/// The sieve enters its inner loop by OSR while the first prime's multiples are
/// being crossed out: `if !composite[i]` has then run for two `i`s, both prime, and
/// a bet on it would be lost at `i = 4` (a deopt, the time back in the lower tiers,
/// a recompile). The code outside the loop an OSR compile enters is no place to
/// bet on branches: the run never deoptimizes.
#[test]
fn a_branch_outside_the_loop_an_osr_compile_enters_is_no_bet() {
    isolated(|| {
        let kernels =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches/kernels");
        let source = std::fs::read_to_string(kernels.join("sieve.mini")).expect("a kernel");
        let verified = load("sieve.mini", &source);
        let (run, engine) = speculating(&verified, DESIGNED.options(0));
        let expected = run_on(&mut Interpreter::new(), &verified);
        compare("sieve.mini", &source, &expected, &run).unwrap();
        let sieve = engine
            .functions()
            .iter()
            .find(|f| f.name == "sieve")
            .expect("sieve ran");
        assert!(sieve.osr >= 1, "the sieve's loop was entered by OSR");
        let all = deopts(&engine, &verified);
        assert!(all.is_empty(), "{all:#?}");
    });
}
