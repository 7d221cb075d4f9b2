//! What a tiered run records for `--stats` and `--trace-tiering`: its events (printed
//! as they happen when traced), and per function the tier it reached, its calls and
//! back edges (counted by the tiering counters themselves, at no cost), its
//! compilations and its OSR entries.

use std::cell::Cell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use jitlab_cli::stats::{grouped, millis};
use stage1::Event;

use crate::policy::Tier;

/// The events of a run, in order; with `trace`, each is printed on stderr as it
/// happens (`tiering: tier-up fib: interpreter -> baseline after 100 calls, ...`), as
/// V8's `--trace-opt` and `--trace-osr` do.
#[derive(Debug, Default)]
pub struct Log {
    /// The events so far.
    pub events: Vec<Event>,
    /// Print each event when it happens.
    pub trace: bool,
}

impl Log {
    /// A log that prints its events when `trace` is set.
    pub fn new(trace: bool) -> Log {
        Log {
            events: Vec::new(),
            trace,
        }
    }

    /// Records `event` (and prints it when tracing).
    pub fn push(&mut self, event: Event) {
        if self.trace {
            let _ = writeln!(
                std::io::stderr(),
                "tiering: {}",
                stage1::cli::event_line(&event)
            );
        }
        self.events.push(event);
    }
}

/// How many events a counter counted in a run, over all the budgets it was given: a
/// countdown counter only knows what is left of its current budget, so each time the
/// engine sets a new budget it adds what the old one counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Events counted under the budgets before the current one.
    before: u64,
    /// The budget the counter was last set to.
    budget: i64,
}

impl Tally {
    /// A tally of a counter that starts at `budget`.
    pub fn new(budget: i64) -> Tally {
        Tally { before: 0, budget }
    }

    /// Events counted so far by `counter`.
    pub fn count(&self, counter: &Cell<i64>) -> u64 {
        self.before + (self.budget - counter.get()).max(0) as u64
    }

    /// Sets `counter` to a new `budget`, keeping the count.
    pub fn reset(&mut self, counter: &Cell<i64>, budget: i64) {
        self.before = self.count(counter);
        self.budget = budget;
        counter.set(budget);
    }
}

/// One function's line in the tier table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionRecord {
    /// The function's name.
    pub name: String,
    /// The tier whose code its function-table entry holds at the end.
    pub tier: Tier,
    /// Calls, over all tiers.
    pub calls: u64,
    /// Back edges of all its loops, over all tiers.
    pub back_edges: u64,
    /// Time spent compiling it with the baseline tier and with the optimizer (OSR
    /// variants included).
    pub compile_time: [Duration; 2],
    /// Frames of it that moved up a tier by OSR.
    pub osr: u64,
    /// Why a tier declined it, if one did.
    pub declined: Option<String>,
}

impl FunctionRecord {
    /// A function that has run only in the interpreter so far.
    pub fn new(name: &str) -> FunctionRecord {
        FunctionRecord {
            name: name.to_string(),
            tier: Tier::Interpreter,
            calls: 0,
            back_edges: 0,
            compile_time: [Duration::ZERO; 2],
            osr: 0,
            declined: None,
        }
    }
}

/// The tier table `--stats` prints: one line per function that ran, hottest first.
pub fn tier_table(records: &[FunctionRecord]) -> String {
    let mut rows: Vec<[String; 7]> = vec![[
        "function".into(),
        "tier".into(),
        "calls".into(),
        "back edges".into(),
        "baseline compile".into(),
        "optimizing compile".into(),
        "osr".into(),
    ]];
    let mut ran: Vec<&FunctionRecord> = records
        .iter()
        .filter(|r| r.calls > 0 || r.back_edges > 0)
        .collect();
    ran.sort_by_key(|r| std::cmp::Reverse(r.calls.saturating_add(r.back_edges)));
    let time = |d: Duration| {
        if d.is_zero() {
            "-".to_string()
        } else {
            millis(d)
        }
    };
    for r in ran {
        rows.push([
            r.name.clone(),
            r.tier.name().to_string(),
            grouped(r.calls),
            grouped(r.back_edges),
            time(r.compile_time[0]),
            time(r.compile_time[1]),
            grouped(r.osr),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::from("tiers:\n");
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            // Names and tiers to the left, numbers to the right.
            if c < 2 {
                let _ = write!(line, "  {cell:<w$}", w = widths[c]);
            } else {
                let _ = write!(line, "  {cell:>w$}", w = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for r in records {
        if let Some(why) = &r.declined {
            let _ = writeln!(out, "  {} stays in the {}: {why}", r.name, r.tier);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_counts_across_budgets() {
        let counter = Cell::new(3);
        let mut tally = Tally::new(3);
        for _ in 0..3 {
            stage1::interp::tiering::Counters::tick(&counter);
        }
        assert_eq!(tally.count(&counter), 3);
        tally.reset(&counter, 10);
        assert_eq!(counter.get(), 10);
        counter.set(counter.get() - 4);
        assert_eq!(tally.count(&counter), 7);
        tally.reset(&counter, i64::MAX);
        counter.set(counter.get() - 5);
        assert_eq!(tally.count(&counter), 12);
    }

    #[test]
    fn the_tier_table_lists_the_functions_that_ran_hottest_first() {
        let mut fib = FunctionRecord::new("fib");
        fib.tier = Tier::Optimized;
        fib.calls = 21_891;
        fib.compile_time = [Duration::from_micros(50), Duration::from_micros(1500)];
        let mut main = FunctionRecord::new("main");
        main.calls = 1;
        main.back_edges = 10;
        main.osr = 1;
        main.tier = Tier::Baseline;
        let idle = FunctionRecord::new("idle");
        let mut big = FunctionRecord::new("big");
        big.calls = 2;
        big.declined = Some("too big".into());
        assert_eq!(
            tier_table(&[main, fib, idle, big]),
            "tiers:\n\
             \x20 function  tier          calls  back edges  baseline compile  optimizing compile  osr\n\
             \x20 fib       optimizing   21,891           0          0.050 ms            1.500 ms    0\n\
             \x20 main      baseline          1          10                 -                   -    1\n\
             \x20 big       interpreter       2           0                 -                   -    0\n\
             \x20 big stays in the interpreter: too big\n"
        );
    }

    #[test]
    fn a_traced_log_keeps_its_events_too() {
        let mut log = Log::new(false);
        log.push(Event::Osr {
            function: "main".into(),
            pc: 3,
            from: "interpreter",
            to: "baseline",
        });
        assert_eq!(log.events.len(), 1);
    }
}
