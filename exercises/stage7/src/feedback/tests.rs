//! The bets [`FeedbackSpeculation`] makes from a feedback snapshot, stage 6's caches
//! and the dropped bets. (What baseline code records with [`emit_feedback`] is
//! checked by the stage 7 suite, `tests/stage7/feedback.rs`, against the tiered
//! interpreter's feedback.)

use super::*;
use stage1::bytecode::MAIN;
use stage1::interp::tiering::{Counters, NEVER};
use stage1::load::load_source;
use stage3::{compile_function, TierOptions};
use stage6::optimized::FieldCase;

fn load(source: &str) -> Verified {
    load_source("feedback.mini", source).expect("the test program loads")
}

/// The pcs of `func`'s instructions that `is` picks.
fn pcs(verified: &Verified, func: FnId, is: impl Fn(&Instr) -> bool) -> Vec<usize> {
    let code = &verified.program().functions[func as usize].code;
    (0..code.len()).filter(|&pc| is(&code[pc])).collect()
}

/// Without the template, baseline code never names a feedback byte (stage 3's
/// code); with it, every function's code does, at its loads, calls and branches.
#[test]
fn without_the_template_baseline_code_records_nothing() {
    let p = load(
        "fn get(a, i) { return a[i]; }\n\
         let xs = [1, [2]]; let i = 0; while i < 2 { get(xs, i); i = i + 1; }",
    );
    let counters = Counters::new(p.program(), NEVER, NEVER);
    // How many 8-byte words of `func`'s code are the address of one of its bytes.
    let addresses = |feedback: Option<stage3::FeedbackCode>, func: FnId| {
        let options = TierOptions {
            counters: Some(&counters),
            feedback,
            ..TierOptions::default()
        };
        let c = compile_function(&p, func, &options).expect("compiles");
        let bytes = &c.code.bytes()[c.function.range.clone()];
        let base = counters.feedback().address(func);
        let len = p.program().functions[func as usize].code.len() as u64;
        bytes
            .windows(8)
            .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")))
            .filter(|word| (base..base + len).contains(word))
            .count()
    };
    for func in 0..p.program().functions.len() as FnId {
        assert_eq!(addresses(None, func), 0, "fn {func}");
        assert!(addresses(Some(emit_feedback), func) >= 1, "fn {func}");
    }
}

/// `bet_instruction` names the instruction a guard checked: the one before its
/// resume pc for a value that entered, its own for the others.
#[test]
fn a_dropped_bet_names_its_instruction() {
    let bet = |pc, reason| Bet {
        func: 2,
        pc,
        reason,
    };
    assert_eq!(bet_instruction(&bet(5, "not an integer")), (2, 4));
    for reason in ["branch", "overflow", "field cache miss", "call target"] {
        assert_eq!(bet_instruction(&bet(5, reason)), (2, 5), "{reason}");
    }
}

// ---- the bets ------------------------------------------------------------------------

/// A program with one instruction of each kind a bet is about: `main` calls `f`
/// (a branch, an add, a load, a field, a call through a value).
fn bets_program() -> Verified {
    load(
        "fn one(x) { return x; }\n\
         fn two(x, y) { return x; }\n\
         fn f(a, o, g) { if a[0] { return o.x + g(1); } return 0; }\n\
         print f([1], {x: 2}, one);",
    )
}

/// The pc of the first instruction of `f` that `is` picks.
fn pc_of(p: &Verified, is: impl Fn(&Instr) -> bool) -> Pc {
    let f = p.program().function_named("f").expect("defined");
    pcs(p, f, is)[0] as Pc
}

#[test]
fn bets_follow_the_flags_seen() {
    let p = bets_program();
    let f = p.program().function_named("f").expect("defined");
    let load = pc_of(&p, |i| matches!(i, Instr::ArrayGet));
    let jump = pc_of(&p, |i| matches!(i, Instr::JumpIfFalse(_)));
    let add = pc_of(&p, |i| matches!(i, Instr::Add));
    let mut feedback: Vec<Vec<u8>> = p
        .program()
        .functions
        .iter()
        .map(|g| vec![0; g.code.len()])
        .collect();
    let spec = |feedback: &Vec<Vec<u8>>, dropped: &[(FnId, Pc)]| {
        FeedbackSpeculation::new(&p, feedback.clone().into(), None, dropped.iter().copied())
    };
    // Never run: no bet but on overflow (never seen).
    let s = spec(&feedback, &[]);
    assert!(!s.int_result(f, load) && s.branch(f, jump).is_none());
    assert!(s.no_overflow(f, add));
    let cases: [(u8, bool); 4] = [
        (INT, true),
        (OTHER, false),
        (INT | OTHER, false),
        (0, false),
    ];
    for (flags, bet) in cases {
        feedback[f as usize][load as usize] = flags;
        assert_eq!(spec(&feedback, &[]).int_result(f, load), bet, "{flags:#b}");
    }
    let branches = [
        (TAKEN, Some(true)),
        (NOT_TAKEN, Some(false)),
        (TAKEN | NOT_TAKEN, None),
    ];
    for (flags, bet) in branches {
        feedback[f as usize][jump as usize] = flags;
        assert_eq!(spec(&feedback, &[]).branch(f, jump), bet, "{flags:#b}");
    }
    feedback[f as usize][jump as usize] = TAKEN;
    feedback[f as usize][load as usize] = INT;
    feedback[f as usize][add as usize] = OVERFLOW;
    let s = spec(&feedback, &[]);
    assert!(!s.no_overflow(f, add));
    // Every bet goes once dropped.
    let s = spec(&feedback, &[(f, load), (f, jump)]);
    assert!(!s.int_result(f, load) && s.branch(f, jump).is_none());
    feedback[f as usize][add as usize] = 0;
    assert!(!spec(&feedback, &[(f, add)]).no_overflow(f, add));
    assert!(spec(&feedback, &[]).no_overflow(f, add));
}

#[test]
fn cache_bets_follow_the_caches() {
    let p = bets_program();
    let program = p.program();
    let id = |name| program.function_named(name).expect("defined");
    let (f, one, two) = (id("f"), id("one"), id("two"));
    let field = pc_of(&p, |i| matches!(i, Instr::GetField(_)));
    let call = pc_of(&p, |i| matches!(i, Instr::CallValue(_)));
    let site = |pc: Pc| p.sites().of(f, pc as usize).expect("a site");
    let case = |shape| FieldCase {
        shape,
        slot: 16,
        new_shape: 0,
    };
    let feedback = vec![Vec::new(); program.functions.len()];
    let spec = |caches: OptimizedCode, dropped: &[(FnId, Pc)]| {
        FeedbackSpeculation::new(
            &p,
            feedback.clone().into(),
            Some(&caches),
            dropped.iter().copied(),
        )
    };
    // Uninitialized (or megamorphic: no entries left): no bet.
    let s = spec(OptimizedCode::new(), &[]);
    assert!(!s.field_hit(f, field) && s.call_target(f, call).is_none());
    // Monomorphic and polymorphic field sites hit.
    for shapes in [vec![case(64)], vec![case(64), case(128)]] {
        let caches = OptimizedCode::new().with_field(site(field), shapes);
        assert!(spec(caches, &[]).field_hit(f, field));
    }
    // One target of the call's arity; not two, not one of another arity.
    let targets = [
        (vec![one], Some(one)),
        (vec![one, two], None),
        (vec![two], None),
    ];
    for (targets, bet) in targets {
        let caches = OptimizedCode::new().with_call(site(call), targets.clone());
        assert_eq!(spec(caches, &[]).call_target(f, call), bet, "{targets:?}");
    }
    // A field bet is no call bet, and dropped bets go.
    let caches = OptimizedCode::new()
        .with_field(site(field), vec![case(64)])
        .with_call(site(call), vec![one]);
    let s = spec(caches.clone(), &[]);
    assert!(s.call_target(f, field).is_none() && !s.field_hit(f, call));
    let s = spec(caches, &[(f, field), (f, call)]);
    assert!(!s.field_hit(f, field) && s.call_target(f, call).is_none());
}

#[test]
fn inlining_is_bounded_by_size_depth_and_budget() {
    // `small` has 4 instructions; `big` more than the limit.
    let body: String = (0..INLINE_MAX_SIZE)
        .map(|k| format!("x = x + {k}; "))
        .collect();
    let p = load(&format!(
        "fn small(x) {{ return x + 1; }}\n\
         fn big(x) {{ {body}return x; }}\n\
         print small(1) + big(1);"
    ));
    let program = p.program();
    let id = |name| program.function_named(name).expect("defined");
    let (small, big) = (id("small"), id("big"));
    let small_size = program.functions[small as usize].code.len() as u32;
    assert!(small_size <= INLINE_MAX_SIZE as u32);
    assert!(program.functions[big as usize].code.len() > INLINE_MAX_SIZE);
    let spec = |dropped: &[(FnId, Pc)]| {
        FeedbackSpeculation::new(
            &p,
            Vec::<Vec<u8>>::new().into(),
            None,
            dropped.iter().copied(),
        )
    };
    let s = spec(&[]);
    assert!(!s.inline(MAIN, 3, big, 0), "too big");
    for depth in 0..INLINE_MAX_DEPTH {
        assert!(s.inline(MAIN, 3, small, depth), "depth {depth}");
    }
    assert!(!s.inline(MAIN, 3, small, INLINE_MAX_DEPTH), "too deep");
    assert!(!spec(&[(MAIN, 3)]).inline(MAIN, 3, small, 0), "dropped");
    // The budget: as many copies of `small` as it pays for, then none.
    let s = spec(&[]);
    let copies = (0..1000)
        .take_while(|_| s.inline(MAIN, 3, small, 0))
        .count();
    assert_eq!(copies as u32, INLINE_BUDGET / small_size);
    assert!(!s.inline(MAIN, 3, small, 0));
}

/// The functions a compile may inline, whose caches its snapshot takes: those small
/// enough that a direct call or a `call_value` target reaches, at most
/// `INLINE_MAX_DEPTH` calls deep, and no other (not the rest of the program).
#[test]
fn a_compile_reads_the_caches_of_what_it_may_inline_only() {
    let body: String = (0..INLINE_MAX_SIZE)
        .map(|k| format!("x = x + {k}; "))
        .collect();
    let p = load(&format!(
        "fn d4(x) {{ return x; }}\n\
         fn d3(x) {{ return d4(x); }}\n\
         fn d2(x) {{ return d3(x); }}\n\
         fn d1(x, f) {{ return d2(x) + f(x); }}\n\
         fn big(x) {{ {body}return x; }}\n\
         fn target(x) {{ return x; }}\n\
         fn other(x) {{ return x; }}\n\
         fn top(x) {{ return d1(x, target) + big(x); }}\n\
         print top(1) + other(2);"
    ));
    let program = p.program();
    let id = |name| program.function_named(name).expect("defined");
    let facts = ProgramFacts::of(&p);
    let call = p
        .sites()
        .in_function(id("d1"))
        .find(|(_, info)| info.kind == SiteKind::CallValue)
        .map(|(site, _)| site)
        .expect("d1 calls through a value");
    let names = |targets: Vec<FnId>| {
        let mut funcs = facts.inlinable_from(id("top"), p.sites(), |site| {
            if site == call {
                targets.clone()
            } else {
                Vec::new()
            }
        });
        funcs.sort_unstable();
        let mut names: Vec<&str> = funcs
            .iter()
            .map(|&f| program.functions[f as usize].name.as_str())
            .collect();
        names.sort_unstable();
        names
    };
    // Three calls deep from `top`: d1, d2, d3 (not d4); `big` is too big to inline.
    assert_eq!(names(Vec::new()), ["d1", "d2", "d3", "top"]);
    // The target d1's cache holds is two calls deep.
    assert_eq!(
        names(vec![id("target")]),
        ["d1", "d2", "d3", "target", "top"]
    );
}

/// A way out of a loop that the profile has not seen is a loop still running, not a
/// way never taken: no bet on it (an OSR compile would deoptimize when the loop
/// ends). A branch seen one way that stays in its loop, or leaves no loop, is a bet.
#[test]
fn a_loops_exit_not_seen_yet_is_no_bet() {
    let p = load(
        "fn f(n, a) {\n\
         let i = 0; let s = 0;\n\
         while i < n {\n\
           let j = 0;\n\
           while j < n { if a[j] { s = s + 1; } j = j + 1; }\n\
           i = i + 1;\n\
         }\n\
         if s { return s; }\n\
         return 0;\n\
         }\n\
         print f(3, [1, 1, 1]);",
    );
    let f = p.program().function_named("f").expect("defined");
    let jumps = pcs(&p, f, |i| matches!(i, Instr::JumpIfFalse(_)));
    // The outer loop's test, the inner loop's, the `if` in the inner loop, the `if`
    // after the loops: each jumps when its condition is false.
    let [outer, inner, inside, after] = jumps[..] else {
        panic!("four conditional jumps: {jumps:?}")
    };
    let exits = loop_exits(&p.program().functions[f as usize].code);
    let leaves = |pc: usize, jumped| exits.contains(&(pc as Pc, jumped));
    assert!(leaves(outer, true) && leaves(inner, true), "{exits:?}");
    for (pc, jumped) in [
        (outer, false),
        (inner, false),
        (inside, true),
        (inside, false),
    ] {
        assert!(!leaves(pc, jumped), "pc {pc} jumped {jumped}: {exits:?}");
    }
    assert!(!leaves(after, true) && !leaves(after, false), "{exits:?}");
    // Each seen staying in its loop only (not jumping), or the `if`s one way.
    let mut feedback: Vec<Vec<u8>> = p
        .program()
        .functions
        .iter()
        .map(|g| vec![0; g.code.len()])
        .collect();
    for pc in [outer, inner, inside, after] {
        feedback[f as usize][pc] = NOT_TAKEN;
    }
    let s = FeedbackSpeculation::new(&p, feedback.clone().into(), None, []);
    assert_eq!(s.branch(f, outer as Pc), None);
    assert_eq!(s.branch(f, inner as Pc), None);
    assert_eq!(s.branch(f, inside as Pc), Some(false));
    assert_eq!(s.branch(f, after as Pc), Some(false));
    // A loop that only ever exited (its body never ran) bets on exiting again.
    feedback[f as usize][inner] = TAKEN;
    let s = FeedbackSpeculation::new(&p, feedback.into(), None, []);
    assert_eq!(s.branch(f, inner as Pc), Some(true));
}

/// In a compile entered by OSR, the code after the entered loop has not run yet: a
/// field site there whose cache is empty is a bet that it is not reached (its
/// access deoptimizes), and a call there that never returned is not inlined. Inside
/// the loop, or in a whole-function compile, neither: an empty cache is no bet, and
/// inlining goes by size and budget alone.
#[test]
fn after_the_entered_loop_an_empty_cache_is_a_bet_and_a_call_never_made_is_not_inlined() {
    let p = load(
        "fn probe(o) { return o.x; }\n\
         let o = {x: 1};\n\
         let i = 0;\n\
         while i < 10 { i = i + o.x; }\n\
         print probe(o) + o.x;",
    );
    let program = p.program();
    let probe = program.function_named("probe").expect("defined");
    let fields = pcs(&p, MAIN, |i| matches!(i, Instr::GetField(_)));
    let [inside, after] = fields[..] else {
        panic!("two field loads in main: {fields:?}")
    };
    let call = pcs(&p, MAIN, |i| matches!(i, Instr::Call { .. }))[0] as Pc;
    let header = pcs(&p, MAIN, |i| matches!(i, Instr::Loop(_)))
        .iter()
        .find_map(|&pc| match program.functions[MAIN as usize].code[pc] {
            Instr::Loop(h) => Some(h as usize),
            _ => None,
        })
        .expect("main has a loop");
    assert!(header < inside && inside < call as usize && (call as usize) < after);
    // Both of main's sites never ran; probe's neither.
    let never_run = [inside, after]
        .iter()
        .map(|&pc| p.sites().of(MAIN, pc).expect("a site"))
        .fold(OptimizedCode::new(), OptimizedCode::with_never_run);
    let mut feedback: Vec<Vec<u8>> = program
        .functions
        .iter()
        .map(|g| vec![0; g.code.len()])
        .collect();
    let spec = |feedback: &[Vec<u8>], dropped: &[(FnId, Pc)]| {
        FeedbackSpeculation::new(
            &p,
            feedback.to_vec().into(),
            Some(&never_run),
            dropped.to_vec(),
        )
    };
    let whole = spec(&feedback, &[]);
    assert!(!whole.field_hit(MAIN, inside as Pc) && !whole.field_hit(MAIN, after as Pc));
    assert!(whole.inline(MAIN, call, probe, 0));
    let entered = spec(&feedback, &[]).entered_at(&p, MAIN, header);
    assert!(!entered.field_hit(MAIN, inside as Pc), "inside the loop");
    assert!(entered.field_hit(MAIN, after as Pc), "after it");
    assert!(!entered.inline(MAIN, call, probe, 0), "a call never made");
    // A call that returned is inlined; a dropped bet is none.
    feedback[MAIN as usize][call as usize] = INT;
    assert!(spec(&feedback, &[])
        .entered_at(&p, MAIN, header)
        .inline(MAIN, call, probe, 0));
    let dropped = spec(&feedback, &[(MAIN, after as Pc)]).entered_at(&p, MAIN, header);
    assert!(!dropped.field_hit(MAIN, after as Pc));
}
