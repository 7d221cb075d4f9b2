//! `jitlab grade`: each learner crate's state, from its holes and its suite.
//!
//! A stage whose holes are all still `todo!()`s is `not started` (read from the
//! sources: [`crate::list`]), without running anything. Otherwise its suite runs
//! (`cargo test -p stageN`, with a timeout, in a process group killed on expiry) and
//! the stage is `passed`, `k/n tests passed` with the first failing test and its
//! one-line reason, `does not compile` (only when cargo says a crate could not
//! compile) or `timed out`. `--json` prints the same as one JSON object for an
//! autograder (see the book's appendix "Grading").

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::list::{self, Hole};
use crate::run::USAGE_ERROR;
use crate::stages;

/// How long one stage's `cargo test` may take (build included) unless `--timeout`
/// says otherwise: a cold build of a stage and its suite take about two minutes on a
/// small machine; every test that runs generated code has its own timeout inside.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The workspace root above `start`: the nearest directory whose `Cargo.toml` has a
/// `[workspace]` table.
pub fn find_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        manifest
            .lines()
            .any(|l| l.trim() == "[workspace]")
            .then(|| dir.to_path_buf())
    })
}

/// The workspace root above the current directory, or `None` after saying why.
pub fn root_or_complain() -> Option<PathBuf> {
    let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let root = find_root(&here);
    if root.is_none() {
        eprintln!(
            "error: no Cargo workspace above {}: run jitlab inside your jitlab clone",
            here.display()
        );
    }
    root
}

/// How a stage stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Every test passed.
    Passed,
    /// Some tests failed (or the test binary died).
    Failed,
    /// Every hole is still a `todo!()`.
    NotStarted,
    /// Cargo could not compile the crate or its suite.
    DoesNotCompile,
    /// `cargo test` did not finish in time.
    TimedOut(Duration),
    /// The suite ran no test.
    NoTests,
}

impl Status {
    /// The status as the JSON output names it.
    pub fn key(&self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::NotStarted => "not started",
            Status::DoesNotCompile => "does not compile",
            Status::TimedOut(_) => "timed out",
            Status::NoTests => "no tests",
        }
    }
}

/// One test's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestResult {
    /// Its name as libtest prints it.
    pub name: String,
    /// `passed`, `failed`, `ignored`, or `not finished` (its binary died first).
    pub status: &'static str,
    /// For a failure, what it printed (the first line is the reason).
    pub message: Option<String>,
}

/// What one run of a suite said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuiteRun {
    /// How it went.
    pub status: Status,
    /// Every test with a result, in the order libtest printed them.
    pub tests: Vec<TestResult>,
    /// How many tests the suite announced (`running N tests`).
    pub announced: u32,
    /// One line: the first failing test and why, the compiler's first error, or how
    /// the run died.
    pub message: Option<String>,
}

impl SuiteRun {
    /// How many tests passed.
    pub fn passed(&self) -> u32 {
        self.tests.iter().filter(|t| t.status == "passed").count() as u32
    }
    /// How many tests count: the announced ones, ignored ones aside.
    pub fn total(&self) -> u32 {
        let ignored = self.tests.iter().filter(|t| t.status == "ignored").count() as u32;
        self.announced.max(self.tests.len() as u32) - ignored
    }
}

/// The grade of one stage.
#[derive(Clone, Debug)]
pub struct Grade {
    /// The stage.
    pub stage: u32,
    /// The suite's run (or, for a stage not started, none).
    pub run: SuiteRun,
    /// Its holes in book order.
    pub holes: Vec<Hole>,
}

impl Grade {
    /// The first hole still to do, in book order.
    pub fn next_hole(&self) -> Option<&Hole> {
        self.holes.iter().find(|h| h.todo)
    }

    /// The status column: `passed (40 tests)`, `12/38 tests passed`, ….
    pub fn describe(&self) -> String {
        let run = &self.run;
        match &run.status {
            Status::Passed => format!("passed ({} tests)", run.total()),
            Status::Failed => format!("{}/{} tests passed", run.passed(), run.total()),
            Status::NotStarted => "not started".to_string(),
            Status::DoesNotCompile => "does not compile".to_string(),
            Status::TimedOut(d) => format!("timed out after {} s", d.as_secs()),
            Status::NoTests => "no tests".to_string(),
        }
    }
}

/// The one-line reason of a failure block: the panic's message (its first line),
/// with a raw `todo!()` message said as the suites' panic hook says it.
fn reason(block: &str) -> String {
    let line = with_crash(block, panic_line(block));
    match line.strip_prefix("not yet implemented: ") {
        Some(rest) => match rest.split_once(':') {
            Some((id, task)) if !id.trim().is_empty() && !id.contains(' ') => {
                let book = task
                    .rsplit_once("book §")
                    .map(|(_, s)| format!(" — book §{}", s.trim()))
                    .unwrap_or_default();
                format!("hole `{}` not written yet{book}", id.trim())
            }
            _ => line,
        },
        None => line,
    }
}

/// How a child process died, when the failure block says so (the isolation
/// harness's `SIGSEGV at 0x10 (pc …)`, `killed by SIGABRT`, `timed out after 10 s`)
/// and `line` does not already: appended to `line`.
fn with_crash(block: &str, line: String) -> String {
    const DEATHS: [&str; 7] = [
        "SIGSEGV",
        "SIGBUS",
        "SIGFPE",
        "SIGILL",
        "SIGTRAP",
        "killed by",
        "timed out",
    ];
    let death = block
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("thread '"))
        .find(|l| DEATHS.iter().any(|d| l.starts_with(d)) || l.contains(": timed out"));
    match death {
        Some(d) if !line.contains(d) => format!("{line}: {d}"),
        _ => line,
    }
}

/// The first line of a failure block's panic message.
fn panic_line(block: &str) -> String {
    let mut lines = block.lines().map(str::trim).filter(|l| !l.is_empty());
    let Some(first) = lines.next() else {
        return "failed (no message)".to_string();
    };
    if first.starts_with("thread '") {
        if let Some((_, msg)) = first.split_once("' panicked: ") {
            return msg.to_string();
        }
        if let Some((_, rest)) = first.split_once(" panicked at ") {
            // The standard hook: the place, then the message on the next line.
            let next = lines.next().unwrap_or("");
            let place = rest.trim_end_matches(':');
            return if next.is_empty() {
                format!("panicked at {place}")
            } else {
                next.to_string()
            };
        }
    }
    first.to_string()
}

/// Reads the output of `cargo test` (stdout and stderr together) and whether it
/// succeeded.
pub fn parse(output: &str, success: bool) -> SuiteRun {
    let mut tests: Vec<TestResult> = Vec::new();
    let mut announced = 0u32;
    // Between `failures:` and `test result:` is what failing tests printed, which may
    // quote the output of other test runs: not this run's results.
    let mut in_failures = false;
    for line in output.lines() {
        if line == "failures:" {
            in_failures = true;
            continue;
        }
        if line.starts_with("test result: ") {
            in_failures = false;
            continue;
        }
        if in_failures {
            continue;
        }
        if let Some(rest) = line.strip_prefix("running ") {
            if let Some(n) = rest
                .strip_suffix(" tests")
                .or_else(|| rest.strip_suffix(" test"))
            {
                announced += n.trim().parse::<u32>().unwrap_or(0);
            }
            continue;
        }
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        let Some((name, result)) = rest.rsplit_once(" ... ") else {
            continue;
        };
        let status = match result.trim() {
            "ok" => "passed",
            "FAILED" => "failed",
            r if r.starts_with("ignored") => "ignored",
            _ => continue,
        };
        tests.push(TestResult {
            name: name.to_string(),
            status,
            message: None,
        });
    }
    // The failure blocks: `---- NAME stdout ----` up to the next block or the list.
    let lines: Vec<&str> = output.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let Some(name) = lines[i]
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        else {
            i += 1;
            continue;
        };
        let mut j = i + 1;
        while j < lines.len()
            && !lines[j].starts_with("---- ")
            && lines[j] != "failures:"
            && !lines[j].starts_with("test result: ")
        {
            j += 1;
        }
        let block = lines[i + 1..j].join("\n").trim().to_string();
        if let Some(t) = tests.iter_mut().find(|t| t.name == name) {
            t.message = Some(block);
        }
        i = j;
    }

    let compile_error = output.contains("error: could not compile")
        || (output.contains("error[E") && announced == 0);
    if compile_error {
        let error = lines
            .iter()
            .position(|l| l.starts_with("error[") || l.starts_with("error: "))
            .map(|k| {
                let at = lines
                    .get(k + 1)
                    .map(|l| l.trim())
                    .filter(|l| l.starts_with("-->"));
                match at {
                    Some(at) => format!("{} {at}", lines[k]),
                    None => lines[k].to_string(),
                }
            });
        return SuiteRun {
            status: Status::DoesNotCompile,
            tests,
            announced,
            message: error,
        };
    }
    // A test binary that died (a crash outside the harness) leaves tests with no result.
    let died = lines
        .iter()
        .find(|l| l.contains("process didn't exit successfully") && l.contains("signal"))
        .map(|l| {
            let signal = l
                .rsplit_once('(')
                .map_or("", |(_, s)| s.trim_end_matches(')'));
            format!("the test binary died ({signal})")
        });
    // The first failing test by name, as libtest lists them: the same on every run.
    let first_failure = tests
        .iter()
        .filter(|t| t.status == "failed")
        .min_by(|a, b| a.name.cmp(&b.name))
        .map(|t| {
            format!(
                "`{}`: {}",
                t.name,
                reason(t.message.as_deref().unwrap_or(""))
            )
        });
    let failed = tests.iter().any(|t| t.status == "failed");
    let status = if died.is_some() || failed || !success {
        Status::Failed
    } else if announced == 0 && tests.is_empty() {
        Status::NoTests
    } else {
        Status::Passed
    };
    let message = match status {
        Status::Passed | Status::NoTests => None,
        _ => match (first_failure, died) {
            (Some(f), Some(d)) => Some(format!("{f}; then {d}")),
            (Some(f), None) => Some(f),
            (None, Some(d)) => Some(format!(
                "{d} after {} of {} tests reported",
                tests.len(),
                announced
            )),
            (None, None) => lines
                .iter()
                .rev()
                .find(|l| l.starts_with("error"))
                .map(|l| l.to_string()),
        },
    };
    SuiteRun {
        status,
        tests,
        announced,
        message,
    }
}

/// Runs `cargo test -p stage<n>` in `root`, killed after `timeout`.
fn run_suite(root: &Path, n: u32, timeout: Duration) -> Result<SuiteRun, String> {
    use std::os::unix::process::CommandExt;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let package = format!("stage{n}");
    let mut child = Command::new(cargo)
        .current_dir(root)
        .args(["test", "--color", "never", "--no-fail-fast", "-p", &package])
        .env("RUST_BACKTRACE", "0")
        .env("CARGO_TERM_COLOR", "never")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: on a timeout, cargo and the test binaries go together.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let collect = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let out = collect(Box::new(child.stdout.take().expect("piped")));
    let err = collect(Box::new(child.stderr.take().expect("piped")));
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= timeout => {
                // SAFETY: `kill` with a negative pid signals the process group we
                // created for this child; it touches no memory of ours.
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("cannot wait for cargo: {e}")),
        }
    };
    let text = format!(
        "{}\n{}",
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default()
    );
    let Some(status) = status else {
        let mut run = parse(&text, false);
        run.status = Status::TimedOut(timeout);
        run.message = Some(format!(
            "`cargo test -p {package}` did not finish within {} s",
            timeout.as_secs()
        ));
        return Ok(run);
    };
    Ok(parse(&text, status.success()))
}

/// Grades stage `n` of the workspace at `root`.
pub fn grade_stage(root: &Path, n: u32, timeout: Duration) -> Result<Grade, String> {
    grade_stage_saying(root, n, timeout, false)
}

/// [`grade_stage`], saying on stderr when it runs the suite if `say`.
fn grade_stage_saying(root: &Path, n: u32, timeout: Duration, say: bool) -> Result<Grade, String> {
    let holes = list::holes(root, n);
    // "Not started" is read from the holes the solution marks; without the solution
    // the hole list is only the learner's remaining todo!()s, so the suite decides.
    let known = root.join(format!("solutions/stage{n}/src")).is_dir();
    let run = if known && !holes.is_empty() && holes.iter().all(|h| h.todo) {
        SuiteRun {
            status: Status::NotStarted,
            tests: Vec::new(),
            announced: 0,
            message: None,
        }
    } else {
        if say {
            eprintln!("grading stage {n}: cargo test -p stage{n} ...");
        }
        run_suite(root, n, timeout)?
    };
    Ok(Grade {
        stage: n,
        run,
        holes,
    })
}

/// `jitlab grade [--stage N] [--json] [--timeout SECS]`: exit 0 when every graded
/// stage passes, 1 otherwise, 2 when there is nothing to grade.
pub fn grade(stage: Option<u32>, json: bool, timeout: Option<u64>) -> ExitCode {
    let Some(root) = root_or_complain() else {
        return ExitCode::from(USAGE_ERROR);
    };
    let exists = |n: u32| {
        root.join(format!("exercises/stage{n}/Cargo.toml"))
            .is_file()
    };
    let wanted: Vec<u32> = match stage {
        Some(n) if !exists(n) => {
            eprintln!(
                "error: stage {n} ({}) has no exercise crate in {} (no exercises/stage{n}/Cargo.toml)",
                stages::name(n),
                root.display()
            );
            return ExitCode::from(USAGE_ERROR);
        }
        Some(n) => vec![n],
        None => list::stages_in(&root),
    };
    if wanted.is_empty() {
        eprintln!(
            "error: no exercise crates (exercises/stageN) in {}",
            root.display()
        );
        return ExitCode::from(USAGE_ERROR);
    }
    let timeout = timeout.map_or(DEFAULT_TIMEOUT, Duration::from_secs);
    let mut grades = Vec::new();
    for &n in &wanted {
        match grade_stage_saying(&root, n, timeout, !json) {
            Ok(grade) => grades.push(grade),
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(USAGE_ERROR);
            }
        }
    }
    if json {
        println!("{}", to_json(&grades));
    } else {
        print!("{}", table(&grades));
    }
    if grades.iter().all(|g| g.run.status == Status::Passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The progress table, then for each unfinished stage its first failure and the
/// next hole.
pub fn table(grades: &[Grade]) -> String {
    let rows: Vec<[String; 3]> = grades
        .iter()
        .map(|g| {
            [
                g.stage.to_string(),
                stages::name(g.stage).to_string(),
                g.describe(),
            ]
        })
        .collect();
    let header = ["stage", "name", "status"].map(String::from);
    let width = |col: usize| {
        rows.iter()
            .chain([&header])
            .map(|r| r[col].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1) = (width(0), width(1));
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        out.push_str(&format!("{:<w0$}  {:<w1$}  {}\n", row[0], row[1], row[2]));
    }
    let mut notes = String::new();
    for g in grades {
        if let Some(message) = &g.run.message {
            let first = message.lines().next().unwrap_or("");
            let label = match g.run.status {
                Status::Failed => "first failing test",
                Status::DoesNotCompile => "cargo says",
                _ => "why",
            };
            notes.push_str(&format!("stage {} {label}: {first}\n", g.stage));
        }
        if g.run.status != Status::Passed {
            if let Some(hole) = g.next_hole() {
                notes.push_str(&format!(
                    "stage {} next hole: `{}` — {} (jitlab hint {})\n",
                    g.stage,
                    hole.id,
                    hole.where_in_book(),
                    hole.id
                ));
            }
        }
    }
    if !notes.is_empty() {
        out.push('\n');
        out.push_str(&notes);
    }
    out
}

/// `s` as a JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An optional string as JSON.
fn json_opt(s: Option<&str>) -> String {
    s.map_or("null".to_string(), json_string)
}

/// Longest failure message kept in the JSON (a crash report with its listing fits).
const JSON_MESSAGE_MAX: usize = 8_000;

/// The grades as one JSON object:
/// `{"stages": [{"stage", "name", "status", "passed", "total", "message",
/// "next_hole", "holes": [{"hole", "section", "status"}], "tests": [{"test",
/// "status", "hole", "message"}]}]}` (a test's `hole`: the `todo!()` it stopped at).
pub fn to_json(grades: &[Grade]) -> String {
    let mut stages_json = Vec::new();
    for g in grades {
        let holes: Vec<String> = g
            .holes
            .iter()
            .map(|h| {
                format!(
                    "{{\"hole\": {}, \"section\": {}, \"status\": {}}}",
                    json_string(&h.id),
                    json_opt(h.section.as_ref().map(|s| s.number.as_str())),
                    json_string(if h.todo { "todo" } else { "done" })
                )
            })
            .collect();
        let tests: Vec<String> = g
            .run
            .tests
            .iter()
            .map(|t| {
                let message = t.message.as_deref().map(|m| {
                    let mut end = m.len().min(JSON_MESSAGE_MAX);
                    while !m.is_char_boundary(end) {
                        end -= 1;
                    }
                    &m[..end]
                });
                // The hole a failure stopped at, when it stopped at a todo!().
                let hole = t.message.as_deref().and_then(|m| {
                    let reason = reason(m);
                    let rest = reason.split_once("hole `")?.1;
                    rest.split_once("` not written yet")
                        .map(|(id, _)| id.to_string())
                });
                format!(
                    "{{\"test\": {}, \"status\": {}, \"hole\": {}, \"message\": {}}}",
                    json_string(&t.name),
                    json_string(t.status),
                    json_opt(hole.as_deref()),
                    json_opt(message)
                )
            })
            .collect();
        let (passed, total) = match g.run.status {
            Status::NotStarted => (0, 0),
            _ => (g.run.passed(), g.run.total()),
        };
        stages_json.push(format!(
            "{{\"stage\": {}, \"name\": {}, \"status\": {}, \"passed\": {passed}, \"total\": {total}, \
             \"message\": {}, \"next_hole\": {},\n  \"holes\": [{}],\n  \"tests\": [{}]}}",
            g.stage,
            json_string(stages::name(g.stage)),
            json_string(g.run.status.key()),
            json_opt(g.run.message.as_deref()),
            json_opt(g.next_hole().map(|h| h.id.as_str())),
            holes.join(", "),
            tests.join(",\n    ")
        ));
    }
    format!("{{\"stages\": [\n {}\n]}}", stages_json.join(",\n "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOME_PASS: &str = "\
running 3 tests
test a ... ok
test b ... FAILED
test c ... FAILED

failures:

---- b stdout ----
thread 'b' panicked: hole `frames` not written yet — book §1.4

---- c stdout ----

thread 'c' (123) panicked at src/lib.rs:3:5:
assertion `left == right` failed
  left: 1
 right: 2
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

failures:
    b
    c

test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
";

    #[test]
    fn failures_count_and_the_first_one_gives_its_reason() {
        let run = parse(SOME_PASS, false);
        assert_eq!(run.status, Status::Failed);
        assert_eq!((run.passed(), run.total()), (1, 3));
        assert_eq!(
            run.message.as_deref(),
            Some("`b`: hole `frames` not written yet — book §1.4")
        );
        assert_eq!(
            reason(run.tests[2].message.as_deref().unwrap()),
            "assertion `left == right` failed"
        );
    }

    #[test]
    fn a_crash_report_gives_its_signal_in_the_one_line_reason() {
        let block = "thread 'random::r' panicked: program random-0.mini\n--- source ---\n   1 | print 1;\n\
                     --- what happened ---\nSIGSEGV at 0x10 (pc 0x7f00)\nin generated code: fn main";
        assert_eq!(
            reason(block),
            "program random-0.mini: SIGSEGV at 0x10 (pc 0x7f00)"
        );
        let timeout = "thread 't' panicked: timed out after 10 s (of CPU time: an endless loop?)";
        assert_eq!(
            reason(timeout),
            "timed out after 10 s (of CPU time: an endless loop?)"
        );
    }

    #[test]
    fn results_of_several_test_binaries_add_up_and_ignored_ones_do_not_count() {
        let output = "running 2 tests\ntest a ... ok\ntest b ... ignored\n\
                      test result: ok. 1 passed; 0 failed; 1 ignored;\n\
                      running 1 test\ntest c ... ok\ntest result: ok. 1 passed;\n";
        let run = parse(output, true);
        assert_eq!(run.status, Status::Passed);
        assert_eq!(run.total(), 2);
        assert_eq!(run.message, None);
    }

    #[test]
    fn output_quoted_by_a_failing_test_is_not_counted() {
        let output = "running 2 tests\ntest a ... ok\ntest b ... FAILED\n\nfailures:\n\n\
                      ---- b stdout ----\nthread 'b' panicked: the child said:\nrunning 1 test\n\
                      test c ... ok\n\nfailures:\n    b\n\n\
                      test result: FAILED. 1 passed; 1 failed; 0 ignored;\n";
        let run = parse(output, false);
        assert_eq!((run.passed(), run.total()), (1, 2));
        assert_eq!(run.tests.len(), 2);
    }

    #[test]
    fn a_build_error_is_does_not_compile_with_its_place() {
        let output = "   Compiling stage1 v0.1.0\n\
                      error[E0308]: mismatched types\n  --> src/lib.rs:5:5\n\
                      error: could not compile `stage1` (lib) due to 1 previous error\n";
        let run = parse(output, false);
        assert_eq!(run.status, Status::DoesNotCompile);
        assert_eq!(
            run.message.as_deref(),
            Some("error[E0308]: mismatched types --> src/lib.rs:5:5")
        );
    }

    #[test]
    fn a_test_binary_that_dies_is_a_failure_not_a_compile_error() {
        let output = "running 5 tests\ntest a ... ok\ntest b ... ok\n\
                      error: test failed, to rerun pass `-p stage3 --test stage3`\n\n\
                      Caused by:\n  process didn't exit successfully: `/t/stage3-abc` \
                      (signal: 11, SIGSEGV: invalid memory reference)\n";
        let run = parse(output, false);
        assert_eq!(run.status, Status::Failed);
        assert_eq!(
            run.message.as_deref(),
            Some("the test binary died (signal: 11, SIGSEGV: invalid memory reference) after 2 of 5 tests reported")
        );
        assert_eq!((run.passed(), run.total()), (2, 5));
    }

    fn hole(id: &str, todo: bool) -> Hole {
        Hole {
            stage: 3,
            id: id.into(),
            task: String::new(),
            todo,
            section: Some(list::Section {
                chapter: "stage3-template-jit.md".into(),
                number: "3.3".into(),
                title: "The native frame".into(),
                line: 1,
            }),
        }
    }

    #[test]
    fn the_table_shows_counts_the_first_failure_and_the_next_hole_in_book_order() {
        let grades = vec![
            Grade {
                stage: 1,
                run: parse("running 1 test\ntest a ... ok\n", true),
                holes: vec![],
            },
            Grade {
                stage: 3,
                run: parse(SOME_PASS, false),
                holes: vec![hole("frame-slots", false), hole("prologue", true)],
            },
        ];
        assert_eq!(
            table(&grades),
            "stage  name          status\n\
             1      interpreter   passed (1 tests)\n\
             3      template JIT  1/3 tests passed\n\
             \n\
             stage 3 first failing test: `b`: hole `frames` not written yet — book §1.4\n\
             stage 3 next hole: `prologue` — §3.3 The native frame (jitlab hint prologue)\n"
        );
        let json = to_json(&grades);
        assert!(json.contains("\"stage\": 3, \"name\": \"template JIT\", \"status\": \"failed\", \"passed\": 1, \"total\": 3"), "{json}");
        assert!(json.contains("\"next_hole\": \"prologue\""), "{json}");
        assert!(
            json.contains(
                "{\"hole\": \"frame-slots\", \"section\": \"3.3\", \"status\": \"done\"}"
            ),
            "{json}"
        );
        assert!(
            json.contains(
                "{\"test\": \"a\", \"status\": \"passed\", \"hole\": null, \"message\": null}"
            ),
            "{json}"
        );
        assert!(
            json.contains("{\"test\": \"b\", \"status\": \"failed\", \"hole\": \"frames\", "),
            "{json}"
        );
    }

    #[test]
    fn json_strings_escape_what_json_needs() {
        assert_eq!(json_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }

    #[test]
    fn a_fresh_workspace_is_not_started_without_running_anything() {
        let root = find_root(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        // The exercises of this checkout are as generated: every hole is a todo!().
        let grade = grade_stage(&root, 3, Duration::from_secs(1)).unwrap();
        assert_eq!(grade.run.status, Status::NotStarted);
        assert_eq!(grade.describe(), "not started");
        assert_eq!(
            grade.next_hole().map(|h| h.id.as_str()),
            Some("frame-slots")
        );
    }

    #[test]
    fn the_root_is_the_nearest_workspace_manifest() {
        let root = find_root(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert!(root.join("jitlab").is_dir());
        assert!(root.join("Cargo.toml").is_file());
    }
}
