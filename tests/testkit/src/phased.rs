//! A seeded generator of programs that change behaviour after warm-up, for the
//! differential tests of the tiering and speculating engines (stages 5 to 7).
//!
//! [`random`](crate::random)'s programs are short: at the default thresholds they
//! stay in the interpreter and baseline code. These run one hot loop for tens of
//! thousands of trips (past the default thresholds of calls, back edges and the
//! optimizer, so that optimized code has bet on what the warm-up showed), then
//! change what its sites see, between phases or at a trip of the loop itself: an
//! integer turns into an array, object or function; an add overflows late; a branch
//! is first taken late; a field site meets a new shape or a missing field; a
//! `call_value` site a new target (or the wrong arity); an index goes out of bounds
//! late (the loop's own counter included, where range checks leave the loop); a
//! division by zero late; `MIN` meets `-`, `/ -1` and `% -1`; an array made each
//! trip gets a bad length; a recursion goes to the frame limit or one past it; and
//! each of these may happen inside a small callee that the optimizer inlines. A
//! program combines one to four such sites, prints between its phases, and at most
//! one change is an error, which ends it (after a print at that very trip, in half
//! of them, so that an error raised early shows). The other changes go on: a value
//! changes back, a site goes polymorphic, a local carried around the loop turns
//! into an array.
//!
//! The hot code takes one of several shapes, so that every way into optimized code
//! is met: a loop in `main` (entered by OSR), a loop in a function called once per
//! phase (OSR, then an entry compile when the next phase calls it), or called per
//! chunk of trips (entry compiles by call counts), with the sites in the loop body
//! or in a `step` function it calls (inlined into the loop's code).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The accumulator of a program stays below this in magnitude (every site adds to
/// it modulo this prime), so that only the overflows a site plans happen.
const MODULUS: i64 = 1_000_003;
/// The largest integer (2^62 - 1).
const MAX: i64 = (1 << 62) - 1;
/// Trips of the warm-up phase at least: past the default thresholds (1,000 back
/// edges to baseline code, 20,000 more to optimized code, by OSR).
const WARM_MIN: u64 = 22_000;
/// Trips of the warm-up phase at most.
const WARM_MAX: u64 = 36_000;
/// Lengths the later phases draw from: a trip, a few, a while, long.
const LATER: [u64; 5] = [1, 7, 300, 2_000, 8_000];

/// The functions that `call_value` sites call: four of one parameter, one of two.
const TARGETS: [(&str, &str); 5] = [
    ("tgt0", "fn tgt0(x) {\n  return x + 1;\n}\n"),
    ("tgt1", "fn tgt1(x) {\n  return x * 3 - 7;\n}\n"),
    ("tgt2", "fn tgt2(x) {\n  return x % 17;\n}\n"),
    ("tgt3", "fn tgt3(x) {\n  return -x;\n}\n"),
    ("tgt4", "fn tgt4(x, y) {\n  return x + y;\n}\n"),
];

/// How many seeds a suite runs: `JITLAB_PHASED=N` when set (more on demand), else
/// `default`. Panics with a clear message when the variable is not a number.
pub fn seed_count(default: u64) -> u64 {
    match std::env::var("JITLAB_PHASED") {
        Ok(n) => n
            .parse()
            .unwrap_or_else(|_| panic!("JITLAB_PHASED must be a number of seeds, not `{n}`")),
        Err(_) => default,
    }
}

/// A program that changes behaviour after warm-up, the same for the same seed.
pub fn program(seed: u64) -> String {
    Generator::new(seed).program()
}

/// What a site does each trip, and how it changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Reads integers out of an array; one of them turns into something else.
    Value,
    /// `x + i * d`, which overflows once `i` passes a trip.
    Overflow,
    /// A branch on the trip count, first taken late (or never).
    Branch,
    /// Reads (and maybe writes) a field of objects of one shape; one of them gets
    /// another shape, lacks the field or is no object.
    Field,
    /// Calls the function values of an array; one of them becomes another target,
    /// a function of another arity, or no function.
    Call,
    /// Indexes an array with an index that leaves its bounds late.
    Index,
    /// Divides by a divisor that reaches zero at a trip.
    Divide,
    /// Recurses a little each trip, and deep once.
    Recurse,
    /// Makes a small array each trip; its length changes (to a negative one, one
    /// past the heap's limit, or zero, where the read of its first element fails).
    Alloc,
    /// Reads or writes an array at the trip count itself (`b[i]`, `b[i + 1]`): the
    /// access a range-check elimination takes out of the loop. The array is as long
    /// as the run, or ends at the change's trip, or is swapped for another mid-loop.
    Sweep,
}

const KINDS: [Kind; 10] = [
    Kind::Value,
    Kind::Overflow,
    Kind::Branch,
    Kind::Field,
    Kind::Call,
    Kind::Index,
    Kind::Divide,
    Kind::Recurse,
    Kind::Alloc,
    Kind::Sweep,
];

/// When a site's change happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    /// Never: the site keeps its warm-up behaviour.
    Never,
    /// Between phases: `main` changes the site's data before phase `p` (1 or more).
    Phase(usize),
    /// At trip `t` of the loop (counting across phases), from inside the loop.
    Trip(u64),
}

/// Where the hot loop is and where its sites are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Driver {
    /// One loop in `main` over every phase; `main` changes data at phase starts.
    Main,
    /// `run(lo, hi, s, ..)` loops over a phase's trips, called once per phase.
    Once,
    /// `run` loops over chunks of `n` trips, calling `kernel` for each chunk.
    Chunks(u64),
}

/// One site: its setup in `main`, its code in the loop body, the change.
#[derive(Default)]
struct Site {
    /// Statements of `main` before the first phase.
    setup: Vec<String>,
    /// The names `main` passes to the hot code (its data).
    params: Vec<String>,
    /// Statements of the loop body (with `i` the trip and `s` the accumulator).
    body: Vec<String>,
    /// Integer expressions the loop body adds to `s` after them.
    terms: Vec<String>,
    /// Locals the loop carries from trip to trip, declared before it (only when
    /// the body is in the loop's function, not in `step`).
    carried: Vec<String>,
    /// Statements of `main` before phase `p` (`Phase(p)` changes).
    change: Vec<(usize, String)>,
    /// Functions it needs (by name, so that sites share them).
    functions: Vec<(&'static str, &'static str)>,
    /// What `main` may print after a phase to show the site's data.
    show: Option<String>,
}

impl Site {
    /// Writes the integers `main` passes and never changes into the loop body as
    /// literals: the optimizer then sees the constants (a divisor's, a bound's, a
    /// multiplier's) and its range analysis must still leave the checks that fail.
    fn inline_constants(&mut self) {
        let mut kept = Vec::new();
        for line in std::mem::take(&mut self.setup) {
            let constant = line
                .strip_prefix("let ")
                .and_then(|rest| rest.strip_suffix(';'))
                .and_then(|rest| rest.split_once(" = "))
                .filter(|(_, value)| value.parse::<i64>().is_ok())
                .map(|(name, value)| (name.to_string(), value.to_string()));
            let Some((name, value)) = constant else {
                kept.push(line);
                continue;
            };
            let assigned = format!("{name} = ");
            let changed = self.change.iter().any(|(_, text)| text.contains(&assigned))
                || self
                    .body
                    .iter()
                    .any(|text| text.lines().any(|l| l.trim_start().starts_with(&assigned)));
            if changed {
                kept.push(line);
                continue;
            }
            let literal = if value.starts_with('-') {
                format!("({value})")
            } else {
                value
            };
            for text in self.body.iter_mut().chain(self.terms.iter_mut()) {
                *text = replace_name(text, &name, &literal);
            }
            self.params.retain(|p| *p != name);
        }
        self.setup = kept;
    }
}

/// `text` with every occurrence of the identifier `name` (not part of a longer
/// identifier) replaced by `with`.
fn replace_name(text: &str, name: &str, with: &str) -> String {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + name.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(ident) || after.is_some_and(ident) {
            out.push_str(name);
        } else {
            out.push_str(with);
        }
        rest = &rest[at + name.len()..];
    }
    out.push_str(rest);
    out
}

struct Generator {
    rng: SmallRng,
    /// Whether the loop body is a function of its own (`step`), called each trip.
    step: bool,
    /// Where the loop is.
    driver: Driver,
    /// First trip of each phase, and the end of the last.
    bounds: Vec<u64>,
}

impl Generator {
    fn new(seed: u64) -> Generator {
        let mut rng = SmallRng::seed_from_u64(seed ^ 0x7068_6173_6573);
        let warm = rng.gen_range(WARM_MIN..=WARM_MAX);
        let phases = rng.gen_range(2..=4);
        let mut bounds = vec![0, warm];
        for _ in 1..phases {
            let len = LATER[rng.gen_range(0..LATER.len())];
            let last = *bounds.last().unwrap();
            bounds.push(last + len);
        }
        let step = rng.gen_bool(0.4);
        let driver = match rng.gen_range(0..4) {
            0 => Driver::Main,
            1 => Driver::Once,
            _ => Driver::Chunks([1, 50, 1_000][rng.gen_range(0..3)]),
        };
        Generator {
            rng,
            step,
            driver,
            bounds,
        }
    }

    fn phases(&self) -> usize {
        self.bounds.len() - 1
    }

    fn end(&self) -> u64 {
        *self.bounds.last().unwrap()
    }

    /// When a site changes: mostly after the warm-up (late in it, between phases or
    /// inside a later phase), sometimes early or never.
    fn when(&mut self) -> When {
        let warm = self.bounds[1];
        match self.rng.gen_range(0..10) {
            0 => When::Never,
            1..=3 if self.phases() > 1 => When::Phase(self.rng.gen_range(1..self.phases())),
            4..=5 => When::Trip(warm - self.rng.gen_range(1..=2_000)),
            6 => When::Trip(self.rng.gen_range(0..warm / 8)),
            _ => {
                let end = self.end();
                if end > warm {
                    When::Trip(self.rng.gen_range(warm..end))
                } else {
                    When::Trip(warm - 1)
                }
            }
        }
    }

    /// When an error happens: after the warm-up (late in it, between phases or in a
    /// later phase), rarely early.
    fn late(&mut self) -> When {
        match self.when() {
            When::Trip(t) if t < self.bounds[1] / 8 && self.rng.gen_bool(0.8) => {
                When::Trip(self.bounds[1] - 1)
            }
            When::Never => When::Trip(self.end() - 1),
            when => when,
        }
    }

    /// The trip a change happens at: a `Phase` change at the phase's first trip, a
    /// `Never` one past the end.
    fn trip_of(&self, when: When) -> u64 {
        match when {
            When::Never => self.end() + 1,
            When::Phase(p) => self.bounds[p],
            When::Trip(t) => t,
        }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.gen_range(0..items.len())]
    }

    fn program(mut self) -> String {
        let count = self.rng.gen_range(1..=4);
        // At most one site's change is an error (which ends the program), mostly
        // after the warm-up; the others change what the code does and go on.
        let fatal = self
            .rng
            .gen_bool(0.85)
            .then(|| self.rng.gen_range(0..count));
        let mut sites = Vec::new();
        let mut error_trip = None;
        for k in 0..count {
            let kind = self.pick(&KINDS);
            let fatal = fatal == Some(k);
            let when = if fatal { self.late() } else { self.when() };
            if fatal {
                error_trip = Some(self.trip_of(when));
            }
            sites.push(self.site(k, kind, when, fatal));
        }
        let driver = self.driver;
        let mut body = self.body(&sites);
        if let Some(t) = error_trip.filter(|_| self.rng.gen_bool(0.5)) {
            // A print every `p` trips, one of them at the trip of the error, first in
            // the body: an engine that raises the error early (a check hoisted out of
            // the loop, say) misses it. Taken all along, so not a branch to bet on.
            let p = self.pick(&[97, 1_000]);
            body.insert(
                0,
                format!("if i % {p} == {} {{\n  print [i, s];\n}}", t % p),
            );
        }
        let step = self.step;
        self.assemble(&sites, body, driver, step)
    }

    /// The loop body: each site's statements and the sum of its terms added to `s`,
    /// or every site's statements and then one sum of all terms (so that a deopt in
    /// one of them leaves the others' values on the operand stack); and maybe a
    /// count of trips kept in an array (an effect that must happen once per trip,
    /// deopt or not) and prints every so many trips.
    fn body(&mut self, sites: &[Site]) -> Vec<String> {
        let mut body = Vec::new();
        if self.rng.gen_bool(0.5) {
            for site in sites {
                body.extend(site.body.iter().cloned());
                if !site.terms.is_empty() {
                    body.push(Self::add(&site.terms.join(" + ")));
                }
            }
        } else {
            body.extend(sites.iter().flat_map(|s| s.body.iter().cloned()));
            let terms: Vec<String> = sites.iter().flat_map(|s| s.terms.clone()).collect();
            if !terms.is_empty() {
                body.push(Self::add(&terms.join(" + ")));
            }
        }
        if self.rng.gen_bool(0.4) {
            let at = self.rng.gen_range(0..=body.len());
            body.insert(
                at,
                format!("log[0] = log[0] + 1;\nlog[1] = (log[1] + s) % {MODULUS};"),
            );
        }
        if self.rng.gen_bool(0.25) {
            let every = self.pick(&[997, 4_999, 10_007]);
            let at = self.rng.gen_range(0..=body.len());
            body.insert(at, format!("if i % {every} == 0 {{\n  print s;\n}}"));
        }
        body
    }

    /// The whole program: functions, then `main`.
    fn assemble(
        &mut self,
        sites: &[Site],
        body: Vec<String>,
        driver: Driver,
        step: bool,
    ) -> String {
        let mut out = String::new();
        let mut defined: Vec<&str> = Vec::new();
        for site in sites {
            for (name, text) in &site.functions {
                if !defined.contains(name) {
                    defined.push(name);
                    out.push_str(text);
                }
            }
        }
        let logs = body.iter().any(|line| line.starts_with("log[0]"));
        let mut params: Vec<String> = sites.iter().flat_map(|s| s.params.clone()).collect();
        if logs {
            params.push("log".to_string());
        }
        let args = if params.is_empty() {
            String::new()
        } else {
            format!(", {}", params.join(", "))
        };
        // The loop body: the sites' code, or a call of `step` that holds it.
        let trip_body = if step {
            out.push_str(&format!(
                "fn step(i, s{args}) {{\n{}  return s;\n}}\n",
                indent(&body, 1)
            ));
            vec![format!("s = step(i, s{args});")]
        } else {
            body
        };
        let carried: Vec<String> = sites.iter().flat_map(|s| s.carried.clone()).collect();
        let loop_text = |lo: &str, hi: &str, depth: usize| {
            let pad = "  ".repeat(depth);
            format!(
                "{}{pad}let i = {lo};\n{pad}while i < {hi} {{\n{}{pad}  i = i + 1;\n{pad}}}\n",
                indent(&carried, depth),
                indent(&trip_body, depth + 1)
            )
        };
        match driver {
            Driver::Main => {}
            Driver::Once => out.push_str(&format!(
                "fn run(lo, hi, s{args}) {{\n{}  return s;\n}}\n",
                loop_text("lo", "hi", 1)
            )),
            Driver::Chunks(n) => {
                out.push_str(&format!(
                    "fn kernel(lo, hi, s{args}) {{\n{}  return s;\n}}\n",
                    loop_text("lo", "hi", 1)
                ));
                out.push_str(&format!(
                    "fn run(lo, hi, s{args}) {{\n  let r = lo;\n  while r < hi {{\n    \
                     let e = r + {n};\n    if e > hi {{\n      e = hi;\n    }}\n    \
                     s = kernel(r, e, s{args});\n    r = e;\n  }}\n  return s;\n}}\n"
                ));
            }
        }
        // `main`: the setup, then the phases with their changes and prints.
        for site in sites {
            for line in &site.setup {
                out.push_str(line);
                out.push('\n');
            }
        }
        if logs {
            out.push_str("let log = [0, 0];\n");
        }
        out.push_str("let s = 0;\n");
        let changes = |p: usize| -> Vec<String> {
            sites
                .iter()
                .flat_map(|s| s.change.iter())
                .filter(|(at, _)| *at == p)
                .map(|(_, text)| text.clone())
                .collect()
        };
        let mut shows: Vec<String> = sites.iter().filter_map(|s| s.show.clone()).collect();
        if logs {
            shows.push("log".to_string());
        }
        let show_after = logs || self.rng.gen_bool(0.3);
        match driver {
            Driver::Main => {
                let mut body = Vec::new();
                for p in 1..self.phases() {
                    let mut lines = vec!["print s;".to_string()];
                    if show_after {
                        lines.extend(shows.iter().map(|v| format!("print {v};")));
                    }
                    lines.extend(changes(p));
                    body.push(format!(
                        "if i == {} {{\n{}}}",
                        self.bounds[p],
                        indent(&lines, 1)
                    ));
                }
                body.extend(trip_body.iter().cloned());
                out.push_str(&format!(
                    "{}let i = 0;\nwhile i < {} {{\n{}  i = i + 1;\n}}\nprint s;\n",
                    indent(&carried, 0),
                    self.end(),
                    indent(&body, 1)
                ));
                if show_after {
                    for v in &shows {
                        out.push_str(&format!("print {v};\n"));
                    }
                }
            }
            Driver::Once | Driver::Chunks(_) => {
                for p in 0..self.phases() {
                    for line in changes(p) {
                        out.push_str(&line);
                        out.push('\n');
                    }
                    out.push_str(&format!(
                        "s = run({}, {}, s{args});\nprint s;\n",
                        self.bounds[p],
                        self.bounds[p + 1]
                    ));
                    if show_after {
                        for v in &shows {
                            out.push_str(&format!("print {v};\n"));
                        }
                    }
                }
            }
        }
        if self.rng.gen_bool(0.2) {
            out.push_str("return s;\n");
        }
        out
    }

    /// Site number `k` of `kind`, changing `when`: to an error (`fatal`), or to
    /// another behaviour that goes on.
    fn site(&mut self, k: usize, kind: Kind, when: When, fatal: bool) -> Site {
        let mut site = self.site_of(k, kind, when, fatal);
        if self.rng.gen_bool(0.5) {
            site.inline_constants();
        }
        site
    }

    fn site_of(&mut self, k: usize, kind: Kind, when: When, fatal: bool) -> Site {
        match kind {
            Kind::Value => self.value_site(k, when, fatal),
            Kind::Overflow => self.overflow_site(k, when, fatal),
            Kind::Branch => self.branch_site(k, when),
            Kind::Field => self.field_site(k, when, fatal),
            Kind::Call => self.call_site(k, when, fatal),
            Kind::Index => self.index_site(k, when, fatal),
            Kind::Divide => self.divide_site(k, when, fatal),
            Kind::Recurse => self.recurse_site(k, when, fatal),
            Kind::Alloc => self.alloc_site(k, when, fatal),
            Kind::Sweep => self.sweep_site(k, when, fatal),
        }
    }

    /// `s = (s + EXPR) % MODULUS;`
    fn add(expr: &str) -> String {
        format!("s = (s + {expr}) % {MODULUS};")
    }

    /// A change of `array[index] = value`: from `main` before a phase, or from the
    /// loop at a trip.
    fn change_element(site: &mut Site, when: When, array: &str, index: u64, value: &str) {
        let store = format!("{array}[{index}] = {value};");
        match when {
            When::Never => {}
            When::Phase(p) => site.change.push((p, store)),
            When::Trip(t) => site
                .body
                .insert(0, format!("if i == {t} {{\n  {store}\n}}")),
        }
    }

    /// After a `Phase` change of `array[index]`, maybe its old `value` back a phase
    /// later: the code that deoptimized meets its first behaviour again.
    fn restore_element(
        &mut self,
        site: &mut Site,
        when: When,
        array: &str,
        index: u64,
        value: &str,
    ) {
        if let When::Phase(p) = when {
            if p + 1 < self.phases() && self.rng.gen_bool(0.4) {
                site.change
                    .push((p + 1, format!("{array}[{index}] = {value};")));
            }
        }
    }

    /// A change of the local `name` to `value`: from `main` before a phase, or from
    /// the loop at a trip (where it lasts as long as the function that runs the trip,
    /// `name` being its parameter).
    fn change_local(site: &mut Site, when: When, name: &str, value: &str) {
        let store = format!("{name} = {value};");
        match when {
            When::Never => {}
            When::Phase(p) => site.change.push((p, store)),
            When::Trip(t) => site
                .body
                .insert(0, format!("if i == {t} {{\n  {store}\n}}")),
        }
    }

    /// An array `name` of `len` elements, element `j` being `element` with `{j}` for
    /// the index, filled by a loop in `main`.
    fn filled(name: &str, len: u64, element: &str) -> String {
        let j = format!("j_{name}");
        let element = element.replace("{j}", &j);
        format!(
            "let {name} = [0; {len}];\nlet {j} = 0;\nwhile {j} < {len} {{\n  \
             {name}[{j}] = {element};\n  {j} = {j} + 1;\n}}"
        )
    }

    /// Integers read from an array; one turns into a heap value or a big integer.
    fn value_site(&mut self, k: usize, when: When, fatal: bool) -> Site {
        let mut site = Site::default();
        let xs = format!("xs{k}");
        let len = self.rng.gen_range(1..=40);
        let (a, b) = (self.rng.gen_range(-5..=9), self.rng.gen_range(-20..=20));
        site.setup
            .push(Self::filled(&xs, len, &format!("{{j}} * {a} + {b}")));
        site.params.push(xs.clone());
        let read = format!("{xs}[i % {len}]");
        let c = self.rng.gen_range(2..=9);
        // Whether the site survives a heap value (`==` and `!=` take anything), and
        // the smallest integer (`-MIN` and `MIN / -1` overflow, `MIN % -1` is 0).
        let mut min_ok = false;
        let mut min_fatal = false;
        let (expr, any) = match self.rng.gen_range(0..10) {
            0 => (format!("{read} * {c}"), false),
            1 => (format!("({read} == {b})"), true),
            2 => {
                site.functions
                    .push(("scale", "fn scale(x, c) {\n  return x * c + 1;\n}\n"));
                (format!("scale({read}, {c})"), false)
            }
            3 if !self.step => {
                // The previous trip's value, carried in a local: after the change
                // it holds a heap value, on the loop's back edge.
                let prev = format!("prev{k}");
                site.carried.push(format!("let {prev} = {b};"));
                site.body.push(format!(
                    "if {read} == {prev} {{\n  s = s + 2;\n}}\n{prev} = {read};"
                ));
                ("1".to_string(), true)
            }
            4 => {
                site.body
                    .push(format!("if {read} != {b} {{\n  s = s + 1;\n}}"));
                ("1".to_string(), true)
            }
            5 => {
                min_fatal = true;
                (format!("(-{read}) % 1000"), false)
            }
            6 => {
                min_fatal = true;
                (format!("({read} / -1) % 1000"), false)
            }
            7 => {
                min_ok = true;
                (format!("{read} % -1"), false)
            }
            8 => {
                // One value added to itself: both operands of the add are one
                // register, which the overflow must give back intact.
                site.functions
                    .push(("dbl", "fn dbl(x) {\n  return x + x;\n}\n"));
                (format!("dbl({read}) % 1000"), false)
            }
            _ => {
                // `<` of a heap value is a type error.
                site.body
                    .push(format!("if {read} < {b} {{\n  s = s + 3;\n}}"));
                ("1".to_string(), false)
            }
        };
        site.terms.push(expr);
        let min = "(-4611686018427387903 - 1)";
        let value = if (fatal && min_fatal && self.rng.gen_bool(0.5))
            || (min_ok && self.rng.gen_bool(0.3))
        {
            min
        } else if fatal && !any {
            // `x * c` of a heap value is a type error; of 2^62 - 1, an overflow.
            self.pick(&["[1, 2]", "{x: 3}", "tgt0", "[]", "4611686018427387903"])
        } else if any {
            self.pick(&["[1, 2]", "{x: 3}", "tgt0", "[]", "-3", "1073741824"])
        } else {
            self.pick(&["-3", "1073741824", "-1099511627776"])
        };
        if value == "tgt0" {
            site.functions.push(TARGETS[0]);
        }
        let j = self.rng.gen_range(0..len);
        Self::change_element(&mut site, when, &xs, j, value);
        self.restore_element(&mut site, when, &xs, j, &(j as i64 * a + b).to_string());
        if len <= 8 {
            site.show = Some(xs);
        }
        site
    }

    /// `x + i * d`, near the limit: it passes it just after the change's trip
    /// (`fatal`), or a little after the last trip.
    fn overflow_site(&mut self, k: usize, when: When, fatal: bool) -> Site {
        let mut site = Site::default();
        let (x, d) = (format!("x{k}"), format!("d{k}"));
        let t = if fatal {
            self.trip_of(when).max(1)
        } else {
            self.end() + self.rng.gen_range(1..=100)
        };
        let limit = self.end() + 100;
        let step = self.rng.gen_range(1..=MAX / limit as i64);
        // `i * d` stays in range; `x + i * d` passes MAX at trip `t` or `t + 1`.
        let start = MAX - step * t as i64 + self.rng.gen_range(0..step.min(1000));
        match when {
            // A `Phase` change moves `x` up to the edge before that phase.
            When::Phase(p) if fatal => {
                let small = self.rng.gen_range(-50..50);
                site.setup.push(format!("let {x} = {small};"));
                site.change.push((p, format!("{x} = {start};")));
            }
            _ => site.setup.push(format!("let {x} = {start};")),
        }
        site.setup.push(format!("let {d} = {step};"));
        site.params.extend([x.clone(), d.clone()]);
        let expr = if self.rng.gen_bool(0.4) {
            site.functions
                .push(("plus", "fn plus(a, b) {\n  return a + b;\n}\n"));
            format!("plus({x}, i * {d}) % 1009")
        } else {
            format!("({x} + i * {d}) % 1009")
        };
        site.terms.push(expr);
        site
    }

    /// A branch on the trip count, first taken at the change.
    fn branch_site(&mut self, k: usize, when: When) -> Site {
        let mut site = Site::default();
        let t = format!("t{k}");
        let first = self.trip_of(when);
        match when {
            When::Phase(p) => {
                site.setup.push(format!("let {t} = {};", self.end() + 5));
                site.change.push((p, format!("{t} = {first};")));
            }
            _ => site.setup.push(format!("let {t} = {first};")),
        }
        site.params.push(t.clone());
        let m = self.rng.gen_range(2..=13);
        site.body.push(match self.rng.gen_range(0..3) {
            0 => format!("if i == {t} {{\n  print [i, s];\n}}"),
            1 => format!(
                "if i >= {t} {{\n  s = (s + i % {m}) % {MODULUS};\n}} else {{\n  s = s + 1;\n}}"
            ),
            _ => format!("if i > {t} && i % {m} == 0 {{\n  s = (s * 3 - i) % {MODULUS};\n}}"),
        });
        site
    }

    /// Fields of objects of one shape; one object gets another shape, or lacks the
    /// field or is no object (`fatal`).
    fn field_site(&mut self, k: usize, when: When, fatal: bool) -> Site {
        let mut site = Site::default();
        let os = format!("os{k}");
        let len = self.rng.gen_range(1..=24);
        let shape = self.pick(&[
            "{x: {j}, y: 2}",
            "{y: 1, x: {j}}",
            "{x: {j}}",
            "{w: 0, x: {j}, z: 1}",
        ]);
        site.setup.push(Self::filled(&os, len, shape));
        site.params.push(os.clone());
        let read = format!("{os}[i % {len}]");
        let expr = if self.rng.gen_bool(0.4) {
            site.functions
                .push(("getx", "fn getx(o) {\n  return o.x;\n}\n"));
            if self.rng.gen_bool(0.4) {
                // Two calls deep: the miss is in a function inlined into one inlined.
                site.functions.push((
                    "twice",
                    "fn twice(o) {\n  let a = getx(o);\n  return a + getx(o);\n}\n",
                ));
                format!("twice({read})")
            } else {
                format!("getx({read})")
            }
        } else {
            format!("{read}.x")
        };
        site.terms.push(expr);
        if self.rng.gen_bool(0.4) {
            site.body.push(format!("{read}.y = i % 100;"));
        }
        let value = if fatal {
            self.pick(&["{y: 1}", "7", "[1]"])
        } else {
            self.pick(&[
                "{y: 5, x: 1}",
                "{x: 2, y: 1, z: 2}",
                "{x: 4, a: 1, b: 2, c: 3, d: 4, e: 5}",
                "{z: 9, x: 7}",
            ])
        };
        // Several objects change (each a new shape), or one.
        let n = if fatal { 1 } else { self.rng.gen_range(1..=3) };
        let j = self.rng.gen_range(0..len);
        for m in 0..n {
            let value = if m == 0 {
                value.to_string()
            } else {
                format!("{{x: {m}, n{m}: 0}}")
            };
            Self::change_element(&mut site, when, &os, (j + m) % len, &value);
        }
        let first = shape.replace("{j}", &j.to_string());
        self.restore_element(&mut site, when, &os, j, &first);
        if len <= 4 {
            site.show = Some(os);
        }
        site
    }

    /// Function values called from an array; one becomes another target (or several
    /// do: the site goes polymorphic or megamorphic), or the wrong arity or no
    /// function (`fatal`).
    fn call_site(&mut self, k: usize, when: When, fatal: bool) -> Site {
        let mut site = Site::default();
        let fs = format!("fs{k}");
        let len = self.rng.gen_range(1..=16);
        let first = self.rng.gen_range(0..4);
        site.functions.push(TARGETS[first]);
        site.setup
            .push(format!("let {fs} = [{}; {len}];", TARGETS[first].0));
        site.params.push(fs.clone());
        let f = format!("f{k}");
        site.body.push(format!("let {f} = {fs}[i % {len}];"));
        if self.rng.gen_bool(0.3) {
            // Called from a small function: the target is a bet inside inlined code.
            site.functions
                .push(("apply1", "fn apply1(f, x) {\n  return f(x);\n}\n"));
            site.terms.push(format!("apply1({f}, i % 1000)"));
        } else {
            site.terms.push(format!("{f}(i % 1000)"));
        }
        let j = self.rng.gen_range(0..len);
        if fatal {
            let value = self.pick(&["tgt4", "5", "[tgt0]"]);
            site.functions.push(TARGETS[4]);
            site.functions.push(TARGETS[0]);
            Self::change_element(&mut site, when, &fs, j, value);
        } else {
            let n = self.rng.gen_range(1..=4);
            for m in 0..n {
                let target = TARGETS[(first + 1 + m as usize) % 4];
                site.functions.push(target);
                Self::change_element(&mut site, when, &fs, (j + m) % len, target.0);
            }
            self.restore_element(&mut site, when, &fs, j, TARGETS[first].0);
        }
        site
    }

    /// An array indexed by `i % m` (the change makes `m` longer than the array,
    /// `fatal`, or shorter), or by `i / m`, which leaves the bounds at the change.
    fn index_site(&mut self, k: usize, when: When, fatal: bool) -> Site {
        let mut site = Site::default();
        let a = format!("a{k}");
        let len = self.rng.gen_range(2..=30);
        site.setup.push(Self::filled(&a, len, "{j} * 3 + 1"));
        site.params.push(a.clone());
        let m = format!("m{k}");
        let index = if self.rng.gen_bool(0.5) {
            let other = if fatal {
                len + self.rng.gen_range(1..=3)
            } else {
                self.rng.gen_range(1..len)
            };
            site.setup.push(format!("let {m} = {len};"));
            Self::change_local(&mut site, when, &m, &other.to_string());
            format!("i % {m}")
        } else {
            let t = if fatal {
                self.trip_of(when)
            } else {
                self.end() + 1
            };
            let per = t.div_ceil(len).max(1);
            site.setup.push(format!("let {m} = {per};"));
            if self.rng.gen_bool(0.5) {
                format!("i / {m}")
            } else {
                format!("{} - i / {m}", len - 1)
            }
        };
        site.params.push(m);
        match self.rng.gen_range(0..3) {
            0 => site.terms.push(format!("{a}[{index}]")),
            1 => {
                site.functions
                    .push(("at", "fn at(a, j) {\n  return a[j];\n}\n"));
                site.terms.push(format!("at({a}, {index})"));
            }
            _ => site.body.push(format!("{a}[{index}] = i % 50;")),
        }
        site
    }

    /// A division by `z - i`, zero at the change (`fatal`), or by `(z - i) * 2 + 1`,
    /// which changes sign there.
    fn divide_site(&mut self, k: usize, when: When, fatal: bool) -> Site {
        let mut site = Site::default();
        let z = format!("z{k}");
        let t = self.trip_of(when);
        match when {
            When::Phase(p) => {
                site.setup.push(format!("let {z} = {};", self.end() + 100));
                site.change.push((p, format!("{z} = {t};")));
            }
            _ => site.setup.push(format!("let {z} = {t};")),
        }
        site.params.push(z.clone());
        let c = self.rng.gen_range(1..=100_000);
        let op = self.pick(&["/", "%"]);
        let divisor = if fatal {
            format!("{z} - i")
        } else {
            format!("({z} - i) * 2 + 1")
        };
        let expr = if self.rng.gen_bool(0.4) {
            let function = if op == "/" {
                ("quot", "fn quot(a, b) {\n  return a / b;\n}\n")
            } else {
                ("rem", "fn rem(a, b) {\n  return a % b;\n}\n")
            };
            site.functions.push(function);
            format!("{}({c}, {divisor})", function.0)
        } else {
            format!("{c} {op} ({divisor})")
        };
        site.terms.push(expr);
        site
    }

    /// `[i % 7; n]` each trip, with its length and first element added up; `n`
    /// changes to a length that fails (`fatal`) or another that does not.
    fn alloc_site(&mut self, k: usize, when: When, fatal: bool) -> Site {
        let mut site = Site::default();
        let (n, arr) = (format!("n{k}"), format!("arr{k}"));
        let len = self.rng.gen_range(1..=6);
        site.setup.push(format!("let {n} = {len};"));
        site.params.push(n.clone());
        site.body.push(format!("let {arr} = [i % 7; {n}];"));
        site.terms.push(format!("len({arr}) + {arr}[0]"));
        let other = if fatal {
            self.pick(&["-1", "268435457", "0"])
        } else {
            self.pick(&["1", "40"])
        };
        Self::change_local(&mut site, when, &n, other);
        site
    }

    /// `b[i + o]` (`o` 0 or 1) read or written each trip, `b` filled in `main`: as
    /// long as the run (plus a few), or ending at the change's trip (`fatal`); a
    /// change from the loop swaps in an array of another length (which fails at
    /// once when `fatal`).
    fn sweep_site(&mut self, k: usize, when: When, fatal: bool) -> Site {
        if self.rng.gen_bool(0.4) {
            return self.inner_sweep_site(k, when, fatal);
        }
        let mut site = Site::default();
        let b = format!("b{k}");
        let offset = self.rng.gen_range(0..=1);
        let t = self.trip_of(when);
        let len = match when {
            When::Trip(_) if !fatal => self.end() + 3,
            _ if fatal => t + offset + 1 - u64::from(matches!(when, When::Trip(_))),
            _ => self.end() + 3,
        };
        let m = self.rng.gen_range(2..=97);
        site.setup
            .push(Self::filled(&b, len, &format!("{{j}} % {m}")));
        site.params.push(b.clone());
        let index = if offset == 0 {
            "i".to_string()
        } else {
            "i + 1".to_string()
        };
        match self.rng.gen_range(0..3) {
            0 => site.terms.push(format!("{b}[{index}]")),
            1 => site.body.push(format!("{b}[{index}] = i % 13;")),
            _ => {
                site.body.push(format!("{b}[{index}] = s % 89;"));
                site.terms.push(format!("{b}[{index}]"));
            }
        }
        match when {
            // A shorter array from the change on (the trip's own index fails).
            When::Trip(t) if fatal => site.body.insert(
                0,
                format!("if i == {t} {{\n  {b} = [5; {}];\n}}", t + offset),
            ),
            // A longer one, read past the old length.
            When::Trip(t) => site.body.insert(
                0,
                format!("if i == {t} {{\n  {b} = [6; {}];\n}}", self.end() + 5),
            ),
            _ => {}
        }
        site
    }

    /// An inner loop each trip over a small array, `while q < w` reading or writing
    /// `c[q]`: `w` is the array's length until the change makes it one more
    /// (`fatal`: the last trip of the inner loop fails) or one less.
    fn inner_sweep_site(&mut self, k: usize, when: When, fatal: bool) -> Site {
        let mut site = Site::default();
        let (c, w, q) = (format!("c{k}"), format!("w{k}"), format!("q{k}"));
        let len = self.rng.gen_range(2..=16);
        site.setup.push(Self::filled(&c, len, "{j} * {j} % 11"));
        site.setup.push(format!("let {w} = {len};"));
        site.params.extend([c.clone(), w.clone()]);
        let other = if fatal { len + 1 } else { len - 1 };
        let step = if self.rng.gen_bool(0.5) {
            format!("s = (s + {c}[{q}] * ({q} + 1)) % {MODULUS};")
        } else {
            format!("{c}[{q}] = (s + {q}) % 89;")
        };
        site.body.push(format!(
            "let {q} = 0;\nwhile {q} < {w} {{\n  {step}\n  {q} = {q} + 1;\n}}"
        ));
        Self::change_local(&mut site, when, &w, &other.to_string());
        site
    }

    /// A shallow recursion each trip, and a deep one at the change: past the frame
    /// limit (`fatal`), or within it.
    fn recurse_site(&mut self, k: usize, when: When, fatal: bool) -> Site {
        let mut site = Site::default();
        let (r, deep) = (format!("r{k}"), format!("deep{k}"));
        let t = self.trip_of(when);
        site.setup.push(format!("let {r} = {t};"));
        let down = match self.rng.gen_range(0..3) {
            0 => (
                "down",
                "fn down(n) {\n  if n <= 0 {\n    return 0;\n  }\n  return down(n - 1) + 1;\n}\n",
            ),
            // A recursion that also loops.
            1 => (
                "down",
                "fn down(n) {\n  if n <= 0 {\n    return 0;\n  }\n  let q = 0;\n  \
                 let j = 0;\n  while j < 3 {\n    q = q + j;\n    j = j + 1;\n  }\n  \
                 return down(n - 1) + q - 2;\n}\n",
            ),
            // One more frame at the bottom, in a call that optimized code inlines: at
            // the limit, that call is the one that overflows.
            _ => (
                "down",
                "fn down(n) {\n  if n <= 0 {\n    return plus(n, 1);\n  }\n  \
                 return down(n - 1) + 1;\n}\n",
            ),
        };
        if down.1.contains("plus(") {
            site.functions
                .push(("plus", "fn plus(a, b) {\n  return a + b;\n}\n"));
        }
        site.functions.push(down);
        // The frames below `down`'s: `main`, then those of the driver and `step`.
        let below = match self.driver {
            Driver::Main => 1,
            Driver::Once => 2,
            Driver::Chunks(_) => 3,
        } + u64::from(self.step);
        // The deepest `down(n)` within the 10,000 frames (`n + 1` of them, one more
        // for `plus` when it calls it).
        let limit = 10_000 - below - 1 - u64::from(down.1.contains("plus("));
        let depth = if fatal {
            self.pick(&[limit + 1, limit + 2, 20_000])
        } else {
            self.pick(&[500, limit - 1, limit])
        };
        site.setup.push(format!("let {deep} = {depth};"));
        site.params.extend([r.clone(), deep.clone()]);
        let small = self.rng.gen_range(1..=6);
        site.body.push(format!(
            "if i == {r} {{\n  s = (s + down({deep})) % {MODULUS};\n}} else {{\n  \
             s = (s + down(i % {small})) % {MODULUS};\n}}"
        ));
        site
    }
}
/// `lines` indented by `depth` levels, each line of a multi-line statement too.
fn indent(lines: &[String], depth: usize) -> String {
    let pad = "  ".repeat(depth);
    let mut out = String::new();
    for line in lines {
        for part in line.lines() {
            out.push_str(&pad);
            out.push_str(part);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_program() {
        for seed in 0..50 {
            assert_eq!(program(seed), program(seed));
        }
    }

    #[test]
    fn seeds_give_varied_programs_with_every_change() {
        let programs: Vec<String> = (0..400).map(program).collect();
        let distinct: std::collections::HashSet<_> = programs.iter().collect();
        assert!(distinct.len() > 390, "only {} distinct", distinct.len());
        let all = programs.concat();
        for feature in [
            "fn run(",
            "fn kernel(",
            "fn step(",
            "] = [1, 2];",
            "] = {y: 1};",
            "] = tgt4;",
            "] = 7;",
            "print [i, s];",
            "plus(",
            "quot(",
            "rem(",
            "getx(",
            "dbl(",
            "at(",
            "down(",
            "= 20000;",
            ".y = i % 100;",
            "4611686018427387903",
            "log[0] = log[0] + 1;",
            "if i % ",
            "apply1(",
            "twice(",
            "prev",
            "[i % 7; ",
            "268435457",
            "% -1",
            "/ -1",
            "(-4611686018427387903 - 1)",
            "return plus(n, 1);",
            "[i] = ",
            "[i + 1]",
            "while q",
        ] {
            assert!(all.contains(feature), "no program has `{feature}`");
        }
    }

    #[test]
    fn every_program_warms_up_for_tens_of_thousands_of_trips() {
        for seed in 0..200 {
            let text = program(seed);
            let generator = Generator::new(seed);
            assert!(generator.bounds[1] >= WARM_MIN, "seed {seed}");
            assert!(
                text.contains(&generator.bounds[1].to_string()),
                "seed {seed}\n{text}"
            );
        }
    }

    #[test]
    fn braces_and_brackets_balance() {
        for seed in 0..300 {
            let text = program(seed);
            for (open, close) in [('{', '}'), ('[', ']'), ('(', ')')] {
                assert_eq!(
                    text.matches(open).count(),
                    text.matches(close).count(),
                    "seed {seed}: {open}{close} unbalanced\n{text}"
                );
            }
        }
    }
}
