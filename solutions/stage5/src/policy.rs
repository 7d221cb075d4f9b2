//! The tiering policy, as one type: when a function moves from the interpreter to
//! baseline code and from baseline code to optimized code. Every tier counts down the
//! same counters (`stage1::interp::tiering::Counters`); the policy says what each
//! counter starts at, and what a counter that reaches zero leads to.
//!
//! `--tier-up calls=N,loops=M,opt-calls=N2,opt-loops=M2` sets the four thresholds;
//! thresholds 0 and 1 both mean "at the first call or back edge".

use std::fmt;
use std::str::FromStr;

use stage1::interp::tiering::{budget, NEVER};

/// The tiers a function's code can be in, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// Stage 1's interpreter: every function starts here.
    Interpreter,
    /// Stage 3's template JIT: fast to make, several times faster than the
    /// interpreter.
    Baseline,
    /// Stage 4's optimizer: slower to make, the fastest code.
    Optimized,
}

impl Tier {
    /// Every tier, lowest first.
    pub const ALL: [Tier; 3] = [Tier::Interpreter, Tier::Baseline, Tier::Optimized];

    /// The name events use (`stage3::engine::TIER`, `stage4::engine::TIER`).
    pub fn name(self) -> &'static str {
        match self {
            Tier::Interpreter => "interpreter",
            Tier::Baseline => stage3::engine::TIER,
            Tier::Optimized => stage4::engine::TIER,
        }
    }

    /// The tier above this one, if any.
    pub fn next(self) -> Option<Tier> {
        match self {
            Tier::Interpreter => Some(Tier::Baseline),
            Tier::Baseline => Some(Tier::Optimized),
            Tier::Optimized => None,
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What made a counter reach zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The function's call counter.
    Calls,
    /// The back-edge counter of one of its loops.
    Loop,
}

impl Trigger {
    /// The name `Event::TierUp` uses.
    pub fn name(self) -> &'static str {
        match self {
            Trigger::Calls => "calls",
            Trigger::Loop => "loop",
        }
    }
}

/// When functions move up a tier. Thresholds count events in the tier a function is
/// in: `calls` calls in the interpreter compile it with the baseline tier, then
/// `opt_calls` more calls (in baseline code) with the optimizer; likewise back edges
/// of one loop for `loops` and `opt_loops`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Calls in the interpreter before a function is compiled by the baseline tier.
    pub calls: u64,
    /// Back edges of one loop in the interpreter before its function is compiled by
    /// the baseline tier (and the frame moves into it: OSR).
    pub loops: u64,
    /// Calls in baseline code before a function is compiled by the optimizer.
    pub opt_calls: u64,
    /// Back edges of one loop in baseline code before the optimizer compiles an OSR
    /// entry for it (and the frame moves into it).
    pub opt_loops: u64,
}

impl Default for Policy {
    /// The starting points for the baseline tier (in the range HotSpot and V8
    /// use: baseline code pays for itself within about a hundred calls of an average
    /// function, and a loop's back edge is a tenth of a call's worth of work), and
    /// the optimizer's tuned on the benches: at the 1,000 calls and 5,000
    /// back edges, most optimizing compiles of the corpus' short programs finished
    /// after the program had ended (a worker thread and hundreds of microseconds
    /// of compiling, for nothing: the corpus cost 2.65 ms of CPU time in all against
    /// 1.49 ms at 5,000 and 20,000), while on the long kernels the later start costs
    /// at most some thousands of baseline iterations, within the measurements' noise.
    fn default() -> Policy {
        Policy {
            calls: 100,
            loops: 1_000,
            opt_calls: 5_000,
            opt_loops: 20_000,
        }
    }
}

impl Policy {
    /// Every threshold `n`: `Policy::all(0)` compiles everything at first sight.
    pub fn all(n: u64) -> Policy {
        Policy {
            calls: n,
            loops: n,
            opt_calls: n,
            opt_loops: n,
        }
    }

    /// What a function's call counter is set to when its code enters `tier`: the
    /// calls it must make there before it moves up again (never, at the top).
    pub fn call_budget(&self, tier: Tier) -> i64 {
        // exercise-begin: call-budget the call counter's budget in each tier
        match tier {
            Tier::Interpreter => budget(self.calls),
            Tier::Baseline => budget(self.opt_calls),
            Tier::Optimized => NEVER,
        }
        // exercise-end
    }

    /// What a loop's back-edge counter is set to when the frame running it is in
    /// `tier`: the back edges it must make there before OSR moves it up.
    pub fn loop_budget(&self, tier: Tier) -> i64 {
        match tier {
            Tier::Interpreter => budget(self.loops),
            Tier::Baseline => budget(self.opt_loops),
            Tier::Optimized => NEVER,
        }
    }

    /// The counter's initial values for a run: every function in the interpreter.
    pub fn initial(&self) -> (i64, i64) {
        (
            self.call_budget(Tier::Interpreter),
            self.loop_budget(Tier::Interpreter),
        )
    }
}

impl fmt::Display for Policy {
    /// The `--tier-up` text that gives this policy.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "calls={},loops={},opt-calls={},opt-loops={}",
            self.calls, self.loops, self.opt_calls, self.opt_loops
        )
    }
}

/// Why a `--tier-up` text is not a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--tier-up: {}; expected calls=N,loops=N,opt-calls=N,opt-loops=N \
             (any of them, defaults {}), or one N for all four",
            self.0,
            Policy::default()
        )
    }
}

impl std::error::Error for PolicyError {}

impl FromStr for Policy {
    type Err = PolicyError;

    /// `calls=N,loops=M,opt-calls=..,opt-loops=..` in any order, any of them (the
    /// others keep their defaults); or one number for all four (`0`: compile at
    /// first sight).
    fn from_str(text: &str) -> Result<Policy, PolicyError> {
        let number = |key: &str, value: &str| {
            value.trim().parse::<u64>().map_err(|_| {
                PolicyError(format!(
                    "{key}={value}: the threshold is not a whole number \
                     from 0 to {}",
                    u64::MAX
                ))
            })
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(PolicyError("no thresholds given".into()));
        }
        if !text.contains('=') {
            return Ok(Policy::all(number("all", text)?));
        }
        let mut policy = Policy::default();
        let mut seen: Vec<&str> = Vec::new();
        for item in text.split(',') {
            let Some((key, value)) = item.split_once('=') else {
                return Err(PolicyError(format!("`{item}` is not KEY=N")));
            };
            let key = key.trim();
            let slot = match key {
                "calls" => &mut policy.calls,
                "loops" => &mut policy.loops,
                "opt-calls" => &mut policy.opt_calls,
                "opt-loops" => &mut policy.opt_loops,
                _ => return Err(PolicyError(format!("unknown threshold `{key}`"))),
            };
            if seen.contains(&key) {
                return Err(PolicyError(format!("`{key}` is given twice")));
            }
            seen.push(key);
            *slot = number(key, value)?;
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_tuned_ones() {
        assert_eq!(
            Policy::default(),
            Policy {
                calls: 100,
                loops: 1000,
                opt_calls: 5000,
                opt_loops: 20000
            }
        );
        assert_eq!(
            Policy::default().to_string(),
            "calls=100,loops=1000,opt-calls=5000,opt-loops=20000"
        );
    }

    #[test]
    fn any_subset_parses_and_the_rest_keep_their_defaults() {
        let p: Policy = "opt-calls=7, calls=3".parse().unwrap();
        assert_eq!(
            p,
            Policy {
                calls: 3,
                opt_calls: 7,
                ..Policy::default()
            }
        );
        let all: Policy = "calls=1,loops=2,opt-calls=3,opt-loops=4".parse().unwrap();
        assert_eq!(all.to_string(), "calls=1,loops=2,opt-calls=3,opt-loops=4");
        assert_eq!(all.to_string().parse::<Policy>(), Ok(all));
        assert_eq!("0".parse::<Policy>(), Ok(Policy::all(0)));
    }

    #[test]
    fn bad_texts_say_what_is_wrong() {
        let err = |t: &str| t.parse::<Policy>().unwrap_err().0;
        assert_eq!(
            err("calls=x"),
            format!(
                "calls=x: the threshold is not a whole number from 0 to {}",
                u64::MAX
            )
        );
        assert_eq!(err("calls=-1").split(':').next(), Some("calls=-1"));
        assert_eq!(err("call=3"), "unknown threshold `call`");
        assert_eq!(err("calls=3,calls=4"), "`calls` is given twice");
        assert_eq!(err("calls=3,loops"), "`loops` is not KEY=N");
        assert_eq!(err(""), "no thresholds given");
        let full = "x=1".parse::<Policy>().unwrap_err().to_string();
        assert!(
            full.starts_with("--tier-up: unknown threshold `x`; expected"),
            "{full}"
        );
    }

    #[test]
    fn thresholds_zero_and_one_both_trip_at_the_first_event() {
        for n in [0, 1] {
            let p = Policy::all(n);
            assert_eq!(p.initial(), (1, 1));
            assert_eq!(p.call_budget(Tier::Baseline), 1);
            assert_eq!(p.loop_budget(Tier::Baseline), 1);
        }
    }

    #[test]
    fn budgets_follow_the_tier_and_stop_at_the_top() {
        let p = Policy::default();
        assert_eq!(p.initial(), (100, 1000));
        assert_eq!(p.call_budget(Tier::Baseline), 5000);
        assert_eq!(p.loop_budget(Tier::Baseline), 20000);
        assert_eq!(p.call_budget(Tier::Optimized), NEVER);
        assert_eq!(p.loop_budget(Tier::Optimized), NEVER);
        assert_eq!(Tier::Interpreter.next(), Some(Tier::Baseline));
        assert_eq!(Tier::Optimized.next(), None);
        let names: Vec<&str> = Tier::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(names, ["interpreter", "baseline", "optimizing"]);
    }
}
