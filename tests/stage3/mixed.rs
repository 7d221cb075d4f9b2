//! Mixed stacks: functions the JIT declines (here, those named in
//! `Options::interpret`) run in the interpreter, calling and called by compiled code.
//! Whatever the split, a program prints, returns and fails (trace included) as under
//! the interpreter alone, and the depth limit counts the frames of both tiers.

use jitlab_testkit::{corpus, isolate, random};

use stage1::interp::Interpreter;
use stage1::{Engine, Event, Instr, Verified};
use stage3::{Jit, Options};

use super::common::{harness, isolated, load, program_label, programs_dir, run_on, Run};

/// The ways of splitting a program between the tiers.
const SPLITS: [&str; 5] = ["even", "odd", "main", "leaves", "random"];

/// The functions `split` sends to the interpreter (`seed` for `random`).
fn interpreted(verified: &Verified, split: &str, seed: u64) -> Vec<String> {
    let functions = &verified.program().functions;
    let leaf = |code: &[Instr]| {
        !code
            .iter()
            .any(|i| matches!(i, Instr::Call { .. } | Instr::CallValue(_)))
    };
    functions
        .iter()
        .enumerate()
        .filter(|&(i, f)| match split {
            "even" => i % 2 == 0,
            "odd" => i % 2 == 1,
            "main" => i == stage1::bytecode::MAIN as usize,
            "leaves" => leaf(&f.code),
            // A fixed mix of the seed and the index: about half of the functions.
            _ => (seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (i % 61)) & 1 == 1,
        })
        .map(|(_, f)| f.name.clone())
        .collect()
}

/// A JIT that interprets `names`.
fn jit_interpreting(names: Vec<String>) -> Jit {
    Jit::with_options(Options {
        interpret: names,
        ..Options::default()
    })
}

/// Runs `source` on the interpreter and on the JIT with every split: `Err` naming
/// the first split that differs in output, result or error trace.
fn differential_mixed(name: &str, source: &str, seed: u64) -> Result<(), String> {
    let program = load(name, source);
    let expected = run_on(&mut Interpreter::new(), &program);
    for split in SPLITS {
        let names = interpreted(&program, split, seed);
        let mut jit = jit_interpreting(names.clone());
        let actual: Run = run_on(&mut jit, &program);
        if expected.output != actual.output || expected.result != actual.result {
            return Err(format!(
                "{name}, split {split} (interpreting {names:?}):\n{}\n--- source ---\n{source}",
                pretty_assertions::Comparison::new(
                    &(&expected.output, &expected.result),
                    &(&actual.output, &actual.result)
                )
            ));
        }
    }
    Ok(())
}

#[test]
fn every_corpus_program_agrees_with_the_interpreter_on_mixed_stacks() {
    let programs: Vec<_> = corpus::load(&programs_dir())
        .into_iter()
        .filter(|p| p.expected_load_error.is_none())
        .collect();
    assert!(
        programs.len() >= 60,
        "only {} corpus programs",
        programs.len()
    );
    let failures = harness().each(
        programs.len(),
        |i| program_label(&programs[i].name, &programs[i].source),
        |i| differential_mixed(&programs[i].name, &programs[i].source, i as u64),
    );
    assert!(
        failures.is_empty(),
        "{} corpus programs differ on mixed stacks (first ones shown):\n\n{}",
        failures.len(),
        isolate::report(&failures)
    );
}

#[test]
fn random_programs_agree_with_the_interpreter_on_mixed_stacks() {
    let failures = harness().each(
        500,
        |seed| {
            program_label(
                &format!("random-{seed}.mini"),
                &random::program(seed as u64),
            )
        },
        |seed| {
            let seed = seed as u64;
            differential_mixed(&format!("random-{seed}.mini"), &random::program(seed), seed)
        },
    );
    assert!(failures.is_empty(), "{}", isolate::report(&failures));
}

/// `ping` and `pong` call each other; one of them is interpreted.
const PING_PONG: &str = "\
fn ping(n) {
  if n == 0 { return 0; }
  return pong(n - 1) + 1;
}
fn pong(n) {
  if n == 0 { return 0; }
  return ping(n - 1) + 1;
}
";

#[test]
fn deep_mutual_recursion_across_tiers_overflows_at_the_interpreters_depth() {
    isolated(|| {
        for interpret in [vec!["ping"], vec!["pong"], vec!["main", "pong"]] {
            let names: Vec<String> = interpret.iter().map(|s| s.to_string()).collect();
            // 9,999 calls fit (main is the 10,000th frame), whichever tier each is in.
            let fits = load("fits.mini", &format!("{PING_PONG}print ping(9998);"));
            let run = run_on(&mut jit_interpreting(names.clone()), &fits);
            assert_eq!(run.result.as_ref().map(|_| run.lines()), Ok(vec!["9998"]));
            // One more is a stack overflow, with the interpreter's trace.
            let over = load("over.mini", &format!("{PING_PONG}print ping(9999);"));
            let expected = run_on(&mut Interpreter::new(), &over);
            let run = run_on(&mut jit_interpreting(names.clone()), &over);
            assert_eq!(
                run.error().kind,
                stage1::ErrorKind::StackOverflow,
                "{names:?}"
            );
            pretty_assertions::assert_eq!(run.result, expected.result, "{names:?}");
        }
    });
}

#[test]
fn errors_cross_both_tiers_with_the_whole_trace() {
    let source = "\
fn inner(a) {
  return a[5];
}
fn middle(a) {
  return inner(a) + 1;
}
fn outer(a) {
  return middle(a) * 2;
}
print outer([1, 2]);
";
    isolated(|| {
        let program = load("trace.mini", source);
        let expected = run_on(&mut Interpreter::new(), &program);
        assert_eq!(expected.error().trace.len(), 4);
        for interpret in [
            vec!["inner"],
            vec!["middle"],
            vec!["outer", "inner"],
            vec!["main"],
        ] {
            let names: Vec<String> = interpret.iter().map(|s| s.to_string()).collect();
            let run = run_on(&mut jit_interpreting(names.clone()), &program);
            pretty_assertions::assert_eq!(run.result, expected.result, "{names:?}");
        }
    });
}

#[test]
fn the_events_name_the_declined_functions() {
    isolated(|| {
        let program = load(
            "events.mini",
            "fn f(x) { return g(x) + 1; }\nfn g(x) { return x * 2; }\nprint f(20);",
        );
        let mut jit = jit_interpreting(vec!["g".into()]);
        let run = run_on(&mut jit, &program);
        assert_eq!(run.lines(), ["41"]);
        let events = &jit.stats().events;
        let declined: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                Event::NotCompiled { function, .. } => Some(function.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(declined, ["g"]);
        let compiled = events
            .iter()
            .filter(|e| matches!(e, Event::Compiled { .. }))
            .count();
        assert_eq!(compiled, 2, "main and f: {events:?}");
        assert_eq!(jit.stats().calls, 3, "main, f and g");
    });
}
