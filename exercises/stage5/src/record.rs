//! What a tiered run records for `--stats` and `--trace-tiering`: its events (printed
//! as they happen when traced), and per function the tier it reached, its calls and
//! back edges (counted by the tiering counters themselves, at no cost), its
//! compilations, its OSR entries, and the time spent in each tier's code (counted at
//! tier transitions by a [`TierClock`]).

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, Instant};

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
    /// Time spent in each tier's code (interpreter, baseline, optimized) by the
    /// stretches of the stack entered at this function: see [`TierClock`].
    pub tier_time: [Duration; 3],
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
            tier_time: [Duration::ZERO; 3],
            declined: None,
        }
    }
}

/// The time-stamp counter: a cheap clock (a few nanoseconds, no system call), in
/// ticks of a constant rate that [`TierClock::times`] converts to time.
pub fn ticks() -> u64 {
    // SAFETY: `rdtsc` reads the time-stamp counter; it has no other effect.
    unsafe { std::arch::x86_64::_rdtsc() }
}

/// Time spent in each tier's code per function, counted at tier transitions: the
/// stack of a tiered run is a pile of *stretches*, each running one tier's code (an
/// interpreter activation, or native frames calling each other directly), and the
/// Rust side sees every place one begins or ends — the interpreter calling compiled
/// code, compiled code calling the interpreter, an OSR entry — and every hook. At each
/// the clock is read, and the time since the last reading goes to the stretch on top:
/// to its tier and to the function it was entered at (its callees in the same tier
/// count with it, as in an inclusive profile; a baseline frame that moves to
/// optimized code by OSR moves its stretch along). Time in the hooks themselves
/// (compiling, installing) goes to no tier: compile times are counted apart.
///
/// No word is written while code runs, so it costs nothing but a clock reading per
/// transition, which already costs a trampoline; it cannot see a baseline function
/// calling an optimized one directly through the function table (the callee's time
/// stays with the caller's stretch).
pub struct TierClock {
    /// The stretches, innermost last: the function each was entered at, its tier.
    stack: RefCell<Vec<(u32, Tier)>>,
    /// The clock when time was last given out.
    last: Cell<u64>,
    /// Ticks per function and tier.
    ticks: RefCell<Vec<[u64; 3]>>,
    /// The clock source (the time-stamp counter; tests give their own).
    now: fn() -> u64,
    /// When the clock started, by the source and by the system's clock, to convert.
    start: (u64, Instant),
    /// The source is the time-stamp counter (converted at its measured rate).
    tsc: bool,
}

impl TierClock {
    /// A clock for `functions` functions, reading the time-stamp counter.
    pub fn new(functions: usize) -> TierClock {
        TierClock {
            tsc: true,
            ..TierClock::with_source(functions, ticks)
        }
    }

    /// A clock for `functions` functions that reads `now`.
    pub fn with_source(functions: usize, now: fn() -> u64) -> TierClock {
        let t = now();
        TierClock {
            stack: RefCell::new(Vec::new()),
            last: Cell::new(t),
            ticks: RefCell::new(vec![[0; 3]; functions]),
            now,
            start: (t, Instant::now()),
            tsc: false,
        }
    }

    /// Gives the time since the last reading to the stretch on top.
    pub fn charge(&self) {
        let now = (self.now)();
        let spent = now.saturating_sub(self.last.replace(now));
        if let Some(&(func, tier)) = self.stack.borrow().last() {
            self.ticks.borrow_mut()[func as usize][tier as usize] += spent;
        }
    }

    /// Gives the time since the last reading to nobody (the hooks' own work).
    pub fn skip(&self) {
        self.last.set((self.now)());
    }

    /// A stretch of `tier`'s code begins, entered at `func`.
    pub fn enter(&self, func: u32, tier: Tier) {
        self.charge();
        self.stack.borrow_mut().push((func, tier));
    }

    /// The stretch on top ends.
    pub fn leave(&self) {
        self.charge();
        self.stack.borrow_mut().pop();
    }

    /// A frame of `func` moves to `tier` by OSR: if the stretch on top was entered at
    /// `func`, its time from now on is `tier`'s.
    pub fn moved(&self, func: u32, tier: Tier) {
        self.charge();
        if let Some(top) = self.stack.borrow_mut().last_mut() {
            if top.0 == func {
                top.1 = tier;
            }
        }
    }

    /// Each function's time per tier, the ticks converted at the rate the source ran
    /// at since the clock started (when the source is not the time-stamp counter, or
    /// too little time went by to tell, one tick is a nanosecond).
    pub fn times(&self) -> Vec<[Duration; 3]> {
        let elapsed = (self.now)().saturating_sub(self.start.0);
        let nanos = self.start.1.elapsed().as_nanos() as f64;
        let per_tick = if self.tsc && elapsed > 0 && nanos > 0.0 {
            nanos / elapsed as f64
        } else {
            1.0
        };
        self.ticks
            .borrow()
            .iter()
            .map(|t| t.map(|n| Duration::from_nanos((n as f64 * per_tick) as u64)))
            .collect()
    }
}

/// The tier table `--stats` prints: one line per function that ran, hottest first;
/// the last three columns are the time spent in each tier's code ([`TierClock`]).
pub fn tier_table(records: &[FunctionRecord]) -> String {
    let mut rows: Vec<[String; 10]> = vec![[
        "function".into(),
        "tier".into(),
        "calls".into(),
        "back edges".into(),
        "baseline compile".into(),
        "optimizing compile".into(),
        "osr".into(),
        "in interpreter".into(),
        "in baseline".into(),
        "in optimized".into(),
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
            time(r.tier_time[0]),
            time(r.tier_time[1]),
            time(r.tier_time[2]),
        ]);
    }
    let widths: Vec<usize> = (0..10)
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
        fib.tier_time = [
            Duration::from_micros(200),
            Duration::from_micros(700),
            Duration::from_millis(9),
        ];
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
             \x20 function  tier          calls  back edges  baseline compile  optimizing compile  osr  \
             in interpreter  in baseline  in optimized\n\
             \x20 fib       optimizing   21,891           0          0.050 ms            1.500 ms    0  \
             \x20     0.200 ms     0.700 ms      9.000 ms\n\
             \x20 main      baseline          1          10                 -                   -    1  \
             \x20            -            -             -\n\
             \x20 big       interpreter       2           0                 -                   -    0  \
             \x20            -            -             -\n\
             \x20 big stays in the interpreter: too big\n"
        );
    }

    thread_local! {
        static NOW: Cell<u64> = const { Cell::new(0) };
    }

    fn fake_now() -> u64 {
        NOW.with(Cell::get)
    }

    fn advance(n: u64) {
        NOW.with(|c| c.set(c.get() + n));
    }

    #[test]
    fn the_tier_clock_gives_each_stretch_its_time_and_the_hooks_none() {
        let clock = TierClock::with_source(2, fake_now);
        // main in the interpreter for 10, calls f's baseline code for 5, which calls
        // back into the interpreter (g, function 1 too) for 3; a hook takes 100
        // (compiling), then f's frame moves to optimized code by OSR and runs 7.
        clock.enter(0, Tier::Interpreter);
        advance(10);
        clock.enter(1, Tier::Baseline);
        advance(5);
        clock.enter(1, Tier::Interpreter);
        advance(3);
        clock.leave();
        clock.charge();
        advance(100);
        clock.skip();
        clock.moved(1, Tier::Optimized);
        advance(7);
        clock.leave();
        advance(2);
        clock.leave();
        let ns = |n| Duration::from_nanos(n);
        assert_eq!(
            clock.times(),
            vec![[ns(12), ns(0), ns(0)], [ns(3), ns(5), ns(7)]]
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
