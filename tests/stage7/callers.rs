//! Optimized callers of a function whose optimized code a deopt takes out of use:
//! they call it through the compiled-entry table (`NativeContext::compiled_entries`),
//! which goes back to the function's adapter (and so to its baseline code) at the
//! deopt. Calls that kept going to the retired code would fail its guard again, one
//! deopt per call.

use stage1::Engine;
use stage5::Policy;
use stage7::Options;

use super::common::{deopts, isolated, load, speculating};

/// `big` (over `INLINE_MAX_SIZE` bytecode instructions: the optimizer calls it,
/// never inlines it) bets that its branch is never taken; from trip 3,000 of
/// `main`'s loop on, it always is. `caller` is optimized long before.
const LATE_BRANCH_IN_A_CALLEE: &str = "\
fn big(x) {
  let k = 0;
  while k < x % 3 { k = k + 1; }
  k = k + 0; k = k + 0; k = k + 0; k = k + 0;
  k = k + 0; k = k + 0; k = k + 0; k = k + 0;
  k = k + 0; k = k + 0; k = k + 0; k = k + 0;
  k = k + 0; k = k + 0; k = k + 0; k = k + 0;
  k = k + 0; k = k + 0; k = k + 0; k = k + 0;
  if x >= 3000 { return x * 2 + k; }
  return x + k;
}
fn caller(i) { return big(i) + 1; }
let i = 0;
let s = 0;
while i < 6000 {
  s = s + caller(i);
  i = i + 1;
}
print s;
";

#[test]
fn a_callee_that_deoptimizes_once_is_not_called_in_its_retired_code_again() {
    isolated(|| {
        let verified = load("late_branch_in_a_callee.mini", LATE_BRANCH_IN_A_CALLEE);
        let policy: Policy = "calls=100,loops=100000000,opt-calls=100,opt-loops=100000000"
            .parse()
            .unwrap();
        for sync_compile in [true, false] {
            let options = Options {
                tiered: stage5::Options {
                    policy,
                    sync_compile,
                    ..stage5::Options::default()
                },
                ..Options::default()
            };
            let (run, engine) = speculating(&verified, options);
            let expected: i64 = (0..6000)
                .map(|x: i64| if x >= 3000 { x * 2 } else { x } + x % 3 + 1)
                .sum();
            assert_eq!(run.output, format!("{expected}\n"));
            let deopts = deopts(&engine, &verified);
            let in_big = deopts.iter().filter(|d| d.function == "big").count();
            let events = &engine.stats().events;
            if sync_compile {
                assert_eq!(in_big, 1, "sync: {events:#?}");
            } else {
                // In the background, calls may reach the code before it is retired
                // only while the deopt that retires it is under way: none.
                assert!(in_big <= 1, "background: {events:#?}");
            }
        }
    });
}
