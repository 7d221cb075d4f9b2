//! The arrays a loop entered by OSR reads, checked once at the entry (the late pass
//! `entry`): the guard is there when the speculation bets on it and nowhere else,
//! the loop's accesses then check no tag, and a value that turns out not to be an
//! array deoptimizes back to the loop header, where the interpreter goes on with the
//! program's own output and error.

use stage1::interp::Interpreter;
use stage1::{FnId, Instr, Verified};
use stage4::ir::{text, Pc};
use stage4::speculation::{NoSpeculation, Speculation};

use super::common::{compare, deopts, isolated, load, run_on, speculating, DESIGNED};

/// No bet but the entry's arrays (when `yes`).
struct EntryArrays {
    yes: bool,
}

impl Speculation for EntryArrays {
    fn int_result(&self, _: FnId, _: Pc) -> bool {
        false
    }
    fn no_overflow(&self, _: FnId, _: Pc) -> bool {
        false
    }
    fn branch(&self, _: FnId, _: Pc) -> Option<bool> {
        None
    }
    fn field_hit(&self, _: FnId, _: Pc) -> bool {
        false
    }
    fn call_target(&self, _: FnId, _: Pc) -> Option<FnId> {
        None
    }
    fn inline(&self, _: FnId, _: Pc, _: FnId, _: u32) -> bool {
        false
    }
    fn entry_arrays(&self, _: FnId, _: Pc) -> bool {
        self.yes
    }
}

/// `count`'s loop: `a` read at `i`, `n` a count, `b` printed (used as anything).
const COUNT: &str = "fn count(a, b, n) {\n\
                     let s = 0;\n\
                     let i = 0;\n\
                     while i < n {\n\
                       if a[i % 4] { s = s + 1; }\n\
                       i = i + 1;\n\
                     }\n\
                     print b;\n\
                     return s;\n\
                     }\n\
                     print count([1, 0, 1, 1], [2], 40);";

/// The speculative IR of `count` entered at its loop's header, with `spec`'s bets.
fn entered(verified: &Verified, spec: &dyn Speculation) -> String {
    let count = verified.program().function_named("count").expect("defined");
    let header = verified.program().functions[count as usize]
        .code
        .iter()
        .find_map(|instr| match *instr {
            Instr::Loop(header) => Some(header as usize),
            _ => None,
        })
        .expect("count loops");
    let (ir, _) = stage4::tiered::speculative_ir(
        verified,
        count,
        Some(header),
        0,
        false,
        spec,
        &stage7::deopt::DEOPTIMIZER,
    )
    .expect("compiles");
    text::print(&ir)
}

/// With the bet, `a` (only ever indexed) gets one guard at the entry, whose frame
/// is the header's with every local, and the access in the loop is of the guard's
/// result; `b` (printed) and `n` (compared) get none. Without it, no guard at all.
#[test]
fn the_arrays_a_loop_only_indexes_are_checked_once_at_its_osr_entry() {
    let verified = load("count.mini", COUNT);
    let betting = entered(&verified, &EntryArrays { yes: true });
    assert_eq!(betting.matches("guard check_array").count(), 1, "{betting}");
    let guard = betting
        .lines()
        .find(|l| l.contains("guard check_array"))
        .expect("counted above");
    // `v0` is the local `a`, the first of the entry block's parameters; the frame
    // is the entry's: the five locals, no operand.
    assert!(guard.contains("check_array v0 ["), "{guard}");
    assert!(guard.contains(": v0, v1, v2, v3, v4 |]"), "{guard}");
    let checked = guard
        .split_whitespace()
        .next()
        .expect("the guard gives a value");
    // The accesses read the guard's result (or the peeled iteration's check of
    // it, which then checks nothing), never `v0` again.
    assert!(!betting.contains("array_get v0,"), "{betting}");
    assert_eq!(betting.matches("check_array v0 ").count(), 1, "{betting}");
    assert!(
        betting.contains(&format!("array_get {checked},"))
            || betting.contains(&format!("check_array {checked} ")),
        "the loop reads the checked value:\n{betting}"
    );
    for quiet in [
        &EntryArrays { yes: false } as &dyn Speculation,
        &NoSpeculation,
    ] {
        let text = entered(&verified, quiet);
        assert!(!text.contains("check_array v0 ["), "{text}");
        assert!(!text.contains("guard check_array"), "{text}");
    }
}

/// The second call of `count` enters its loop in the code compiled by OSR during
/// the first, with `a` an integer that it does not index (`use` is 0): the guard at
/// the entry fails, and the interpreter goes on at the loop header with the frame
/// the guard kept. The third call indexes the integer: the `type error`, with the
/// interpreter's trace.
#[test]
fn a_value_that_is_no_array_at_the_entry_deoptimizes_to_the_header() {
    isolated(|| {
        let source = "fn count(a, n, use) {\n\
                      let s = 0;\n\
                      let i = 0;\n\
                      while i < n {\n\
                        if use { s = s + a[i % 4]; }\n\
                        s = s + 1;\n\
                        i = i + 1;\n\
                      }\n\
                      return s;\n\
                      }\n\
                      print count([1, 0, 2, 1], 60000, 1);\n\
                      print count(7, 60000, 0);\n\
                      print count(7, 60000, 1);";
        let verified = load("entry_not_array.mini", source);
        let (run, engine) = speculating(&verified, DESIGNED.options(0));
        let expected = run_on(&mut Interpreter::new(), &verified);
        compare("entry_not_array.mini", source, &expected, &run).unwrap();
        let all = deopts(&engine, &verified);
        assert!(
            all.iter()
                .any(|d| d.reason == "array check" && d.function == "count" && d.line == 4),
            "{all:#?}"
        );
    });
}
