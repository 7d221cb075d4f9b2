//! Measuring how much memory an engine's heap limit lets the process take: the
//! programs that fill a heap, the peak resident memory from `/proc/self/status`, and
//! a parent that runs each case in a child process of its own (so that each peak is
//! its own) and checks what the child reports. What runs in the child is the suite's:
//! the kit knows no engine.

use std::process::Command;

/// Programs that allocate until the heap is full, by kind of block.
pub const FILL_THE_HEAP: [(&str, &str); 3] = [
    (
        "arrays",
        "let k = 0;\nwhile 1 { let a = [k, k, k]; k = k + 1; }\n",
    ),
    ("empty arrays", "while 1 { let a = []; }\n"),
    (
        "objects with fields",
        "let k = 0;\nwhile 1 { let o = {a: k, b: 2, c: 3, d: 4, e: 5}; o.f = 6; k = k + 1; }\n",
    ),
];

/// The variable that names, in a measuring child, the case of [`FILL_THE_HEAP`] to run.
const CASE_VAR: &str = "JITLAB_PEAK_CASE";

/// A line of `/proc/self/status` in bytes (`VmHWM`: the peak resident memory).
pub fn proc_status_bytes(key: &str) -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: usize = line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// In a measuring child started by [`assert_peaks`]: the source of the case of
/// [`FILL_THE_HEAP`] it runs; `None` in any other process.
pub fn child_case() -> Option<&'static str> {
    let case = std::env::var(CASE_VAR).ok()?;
    let (_, source) = FILL_THE_HEAP
        .iter()
        .find(|(name, _)| *name == case)
        .expect("a known case");
    Some(source)
}

/// In a measuring child: runs `fill` (which fills the heap) and reports the resident
/// memory before it and the process's peak to the parent, on stdout.
pub fn report_peak(fill: impl FnOnce()) {
    let before = proc_status_bytes("VmRSS:").unwrap_or(0);
    fill();
    let peak = proc_status_bytes("VmHWM:").unwrap_or(0);
    println!("\nPEAK {before} {peak}");
}

/// In the parent: runs the test `test` (this test binary, filtered to it) once per
/// case of [`FILL_THE_HEAP`] in a child process, and asserts each child succeeded and
/// grew the process by at most `limit + slack` bytes. Does nothing without `/proc`.
#[track_caller]
pub fn assert_peaks(test: &str, limit: usize, slack: usize) {
    if proc_status_bytes("VmHWM:").is_none() {
        return; // No /proc here: nothing to measure with.
    }
    for (case, _) in FILL_THE_HEAP {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([test, "--nocapture", "--test-threads=1"])
            .env(CASE_VAR, case)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{case}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let numbers: Vec<usize> = text
            .split("PEAK ")
            .nth(1)
            .unwrap_or_else(|| panic!("{case}: no peak reported:\n{text}"))
            .split_whitespace()
            .take(2)
            .map(|n| n.parse().unwrap())
            .collect();
        let (before, peak) = (numbers[0], numbers[1]);
        assert!(
            peak <= before + limit + slack,
            "{case}: the process grew from {} MiB to a peak of {} MiB with a {} MiB heap limit",
            before >> 20,
            peak >> 20,
            limit >> 20
        );
    }
}
