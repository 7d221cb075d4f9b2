//! The profile the interpreter gathers for the tiering of later stages: calls per
//! function and back edges per loop instruction, on a program whose counts are known.

use pretty_assertions::assert_eq;
use stage1::{Engine, Instr};

use super::common::{harness, load, run_verified};

const SOURCE: &str = "\
fn count(n) {
  let i = 0;
  while i < n {
    i = i + 1;
  }
  return i;
}
fn never() { return 0; }
let k = 0;
let total = 0;
while k < 3 {
  let f = count;
  total = total + count(k + 2) + f(1);
  k = k + 1;
}
let j = 0;
while j < 5 { j = j + 1; }
print total;
";

/// The pcs of the `loop` instructions of function `func`, in order.
fn loop_pcs(code: &[Instr]) -> Vec<usize> {
    code.iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, Instr::Loop(_)))
        .map(|(pc, _)| pc)
        .collect()
}

#[test]
fn calls_and_back_edges_are_counted_per_function_and_loop() {
    if harness().this_test() {
        return;
    }
    let verified = load("profile.mini", SOURCE);
    let program = verified.program();
    let main = 0usize;
    let count = program.function_named("count").unwrap() as usize;
    let never = program.function_named("never").unwrap() as usize;
    let run = run_verified(&verified);
    // 2+1 + 3+1 + 4+1
    assert_eq!(run.lines(), ["12"]);
    let profile = run.interpreter.profile();
    assert_eq!(profile.calls.len(), program.functions.len());
    assert_eq!(profile.calls[main], 1);
    // Three direct calls and three through a value.
    assert_eq!(profile.calls[count], 6);
    assert_eq!(profile.calls[never], 0);
    assert_eq!(run.interpreter.stats().calls, 7);

    assert_eq!(profile.back_edges.len(), program.functions.len());
    for (f, counts) in profile.back_edges.iter().enumerate() {
        assert_eq!(
            counts.len(),
            program.functions[f].code.len(),
            "function {f}"
        );
    }
    // Each loop's back edge is taken once per iteration: main's loops 3 and 5 times,
    // count's 2 + 1 + 3 + 1 + 4 + 1 times in all.
    let main_loops = loop_pcs(&program.functions[main].code);
    assert_eq!(main_loops.len(), 2);
    let counted: Vec<u64> = main_loops
        .iter()
        .map(|&pc| profile.back_edges[main][pc])
        .collect();
    assert_eq!(counted, [3, 5]);
    let count_loops = loop_pcs(&program.functions[count].code);
    assert_eq!(count_loops.len(), 1);
    assert_eq!(profile.back_edges[count][count_loops[0]], 12);
    // Nothing else is counted.
    let total: u64 = profile.back_edges.iter().flatten().sum();
    assert_eq!(total, 3 + 5 + 12);
}

#[test]
fn each_run_starts_a_fresh_profile() {
    if harness().this_test() {
        return;
    }
    let verified = load("profile.mini", SOURCE);
    let mut interpreter = stage1::interp::Interpreter::new();
    interpreter.run(&verified, &mut Vec::new()).unwrap();
    interpreter.run(&verified, &mut Vec::new()).unwrap();
    let count = verified.program().function_named("count").unwrap() as usize;
    assert_eq!(interpreter.profile().calls[count], 6);
    assert_eq!(interpreter.profile().calls[0], 1);
}
