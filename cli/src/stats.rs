//! `--stats`: what an engine did during a run, as a small aligned table on stderr.

use std::fmt::Write as _;
use std::time::Duration;

use crate::Report;

/// `1234567` as `1,234,567`, so big counters read at a glance.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration in milliseconds with three decimals (microsecond resolution).
pub fn millis(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// The table `--stats` prints: the engine, its counters, then its events and runtime
/// calls.
pub fn table(stats: &Report) -> String {
    let mut rows: Vec<(String, String)> = vec![
        ("engine".into(), stats.engine.clone()),
        (
            "instructions".into(),
            stats.instructions.map_or("not counted".into(), grouped),
        ),
        ("calls".into(), grouped(stats.calls)),
        ("time".into(), millis(stats.time)),
        ("events".into(), grouped(stats.events.len() as u64)),
    ];
    let runtime_calls: u64 = stats.runtime_calls.iter().map(|(_, n)| n).sum();
    rows.push(("runtime calls".into(), grouped(runtime_calls)));
    for (reason, n) in &stats.runtime_calls {
        rows.push((format!("  {reason}"), grouped(*n)));
    }
    for (name, n) in &stats.counters {
        rows.push((name.clone(), grouped(*n)));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::from("stats:\n");
    for (key, value) in &rows {
        let _ = writeln!(out, "  {key:<width$}  {value}");
    }
    for event in &stats.events {
        let _ = writeln!(out, "  event: {event}");
    }
    for table in &stats.tables {
        out.push_str(table);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1234567), "1,234,567");
    }

    #[test]
    fn the_table_is_aligned_and_lists_runtime_calls_and_events() {
        let stats = Report {
            engine: "interpreter".into(),
            instructions: Some(1500),
            calls: 3,
            time: Duration::from_micros(2500),
            events: vec!["not compiled f (baseline): too big".into()],
            runtime_calls: vec![("print".into(), 2)],
            counters: vec![],
            tables: vec!["tiers:\n  main\n".into()],
        };
        assert_eq!(
            table(&stats),
            "stats:\n\
             \x20 engine         interpreter\n\
             \x20 instructions   1,500\n\
             \x20 calls          3\n\
             \x20 time           2.500 ms\n\
             \x20 events         1\n\
             \x20 runtime calls  2\n\
             \x20   print        2\n\
             \x20 event: not compiled f (baseline): too big\n\
             tiers:\n\
             \x20 main\n"
        );
    }

    #[test]
    fn uncounted_instructions_say_so() {
        let text = table(&Report::default());
        let row = |l: &str| l.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            text.lines().any(|l| row(l) == "instructions not counted"),
            "{text}"
        );
    }
}
