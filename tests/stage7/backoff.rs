//! The back-off after a deopt, counted once: when a deopt takes an OSR variant out of
//! use, its loop waits the back-off's back edges and then asks for the variant again.
//! The frame that deoptimized goes on in the interpreter, but only for the
//! interpreter's own threshold: then it moves into baseline code, which counts the
//! rest of the back-off (the slowest tier does not wait it all out), and when that
//! runs out the variant is asked for — not made to wait the optimizer's threshold
//! once more.

use stage1::{Engine, Event};
use stage5::{Policy, Tier};
use stage7::Options;

use super::common::{isolated, load, recompiles, speculating};

/// A loop of `main` whose branch is first taken at trip 500: the variant's bet that it
/// is not fails there once, and the loop goes on to trip 3,000.
const LATE_BRANCH: &str = "\
let i = 0;
let s = 0;
while i < 3000 {
  if i == 500 {
    s = s + 7;
  }
  s = s + i % 3;
  i = i + 1;
}
print s;
";

#[test]
fn after_a_deopt_a_loop_waits_the_back_off_once() {
    isolated(|| {
        let verified = load("late_branch.mini", LATE_BRANCH);
        let policy: Policy = "calls=100,loops=10,opt-calls=100,opt-loops=40"
            .parse()
            .unwrap();
        let options = Options {
            tiered: stage5::Options {
                policy,
                sync_compile: true,
                ..stage5::Options::default()
            },
            ..Options::default()
        };
        let (run, engine) = speculating(&verified, options);
        let expected: i64 = (0..3000).map(|i| i % 3).sum::<i64>() + 7;
        assert_eq!(run.output, format!("{expected}\n"));
        let events = &engine.stats().events;
        let deopts = events
            .iter()
            .filter(|e| matches!(e, Event::Deopt { .. }))
            .count();
        assert_eq!(deopts, 1, "{events:#?}");
        assert_eq!(recompiles(&engine).len(), 1, "{events:#?}");
        // After the deopt: `loops` back edges in the interpreter, then baseline code,
        // then (the back-off over) the variant made again and entered.
        let deopt = events
            .iter()
            .position(|e| matches!(e, Event::Deopt { .. }))
            .expect("one deopt");
        let after: Vec<(&str, &str)> = events[deopt..]
            .iter()
            .filter_map(|e| match e {
                Event::Osr { from, to, .. } => Some((*from, *to)),
                _ => None,
            })
            .collect();
        assert_eq!(
            after,
            [("interpreter", "baseline"), ("baseline", "optimizing")],
            "{events:#?}"
        );
        // Back edges counted below the optimized tier: `loops` in the interpreter,
        // `opt-loops` in baseline code before the first variant, then after the
        // deopt the back-off (the first recompile waits `opt-calls` calls, for a
        // loop as many back edges times `opt-loops / opt-calls`), the interpreter's
        // share and baseline code's, and no more: the variant is made again when the
        // counter runs out.
        let main = &engine.functions()[0];
        let (opt_calls, opt_loops) = (
            policy.call_budget(Tier::Baseline),
            policy.loop_budget(Tier::Baseline),
        );
        let wait = opt_calls * opt_loops / opt_calls;
        assert_eq!(
            main.back_edges,
            (policy.loop_budget(Tier::Interpreter) + policy.loop_budget(Tier::Baseline) + wait)
                as u64,
            "{events:#?}"
        );
    });
}
