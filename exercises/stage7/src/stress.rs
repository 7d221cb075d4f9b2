//! Stress testing deoptimization: with stress on, every guard of optimized code first
//! counts down the context's `deopt_countdown` and deoptimizes (reason `"stress"`)
//! when it reaches zero, whether its bet holds or not. A wrong frame state, a value
//! read from the wrong register, a frame rebuilt at the wrong pc: each shows up as a
//! wrong answer on ordinary programs, not only on the few that really deoptimize
//! there (HotSpot's `-XX:+DeoptimizeALot`, V8's `--deopt-every-n-times`).
//!
//! [`Stress::Every`] deopts at every n-th guard check; [`Stress::Seed`] after a
//! random 1 to 16 checks each time, from a seeded generator, so that a failing run is
//! repeated by giving its seed again (`--stress-deopt SEED`).

use std::fmt;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The longest wait between two stress deopts of [`Stress::Seed`], in guard checks.
pub const MAX_SEEDED_WAIT: i64 = 16;

/// How a run stresses deoptimization.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stress {
    /// Guards deoptimize only when their bet is lost (and check no countdown).
    #[default]
    Off,
    /// Every `n`-th guard check deoptimizes (`--deopt-every N`; 0 counts as 1).
    Every(u64),
    /// A guard check deoptimizes after a random 1 to [`MAX_SEEDED_WAIT`] checks,
    /// drawn anew after each stress deopt from a generator seeded with this
    /// (`--stress-deopt SEED`).
    Seed(u64),
}

impl fmt::Display for Stress {
    /// The command-line flag that asks for this stress.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stress::Off => f.write_str("no stress"),
            Stress::Every(n) => write!(f, "--deopt-every {n}"),
            Stress::Seed(s) => write!(f, "--stress-deopt {s}"),
        }
    }
}

/// The countdown values of one run's stress: the first one, then one after each
/// deopt.
#[derive(Clone, Debug)]
pub struct Countdown {
    stress: Stress,
    rng: SmallRng,
}

impl Countdown {
    /// The countdown of a run stressed by `stress` (the generator seeded afresh: two
    /// runs with one seed deopt at the same guard checks).
    pub fn new(stress: Stress) -> Countdown {
        let seed = match stress {
            Stress::Seed(s) => s,
            _ => 0,
        };
        Countdown {
            stress,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// Whether the run stresses deopts at all.
    pub fn on(&self) -> bool {
        self.stress != Stress::Off
    }

    /// The next value of the countdown: the guard checks until the next stress
    /// deopt (`None`: no stress).
    pub fn draw(&mut self) -> Option<i64> {
        match self.stress {
            Stress::Off => None,
            Stress::Every(n) => Some(i64::try_from(n.max(1)).unwrap_or(i64::MAX)),
            Stress::Seed(_) => Some(self.rng.gen_range(1..=MAX_SEEDED_WAIT)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_gives_no_countdown() {
        let mut c = Countdown::new(Stress::Off);
        assert!(!c.on());
        assert_eq!(c.draw(), None);
    }

    #[test]
    fn every_n_counts_n_each_time() {
        for n in [1u64, 2, 7] {
            let mut c = Countdown::new(Stress::Every(n));
            assert!(c.on());
            let values: Vec<Option<i64>> = (0..5).map(|_| c.draw()).collect();
            assert_eq!(values, vec![Some(n as i64); 5]);
        }
        assert_eq!(Countdown::new(Stress::Every(0)).draw(), Some(1));
        assert_eq!(
            Countdown::new(Stress::Every(u64::MAX)).draw(),
            Some(i64::MAX)
        );
    }

    #[test]
    fn a_seed_gives_waits_from_1_to_16_the_same_each_time() {
        let draw = |seed| {
            let mut c = Countdown::new(Stress::Seed(seed));
            (0..200).map(|_| c.draw().unwrap()).collect::<Vec<i64>>()
        };
        let a = draw(7);
        assert!(
            a.iter().all(|&v| (1..=MAX_SEEDED_WAIT).contains(&v)),
            "{a:?}"
        );
        // Every wait is drawn in 200 tries, the shortest and the longest included.
        for v in 1..=MAX_SEEDED_WAIT {
            assert!(a.contains(&v), "{v} never drawn: {a:?}");
        }
        assert_eq!(a, draw(7), "a seed repeats its run");
        assert_ne!(a, draw(8), "another seed, other waits");
    }

    #[test]
    fn flags_name_the_stress() {
        assert_eq!(Stress::Every(3).to_string(), "--deopt-every 3");
        assert_eq!(Stress::Seed(42).to_string(), "--stress-deopt 42");
        assert_eq!(Stress::default(), Stress::Off);
    }
}
