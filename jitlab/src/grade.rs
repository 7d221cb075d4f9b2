//! `jitlab grade`: runs each learner crate's suite (`cargo test -p stageN`) and prints
//! a progress table, with the `todo!()` to tackle next in each unfinished stage.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use crate::run::USAGE_ERROR;
use crate::stages;

/// What `todo!("msg")` panics with: `not yet implemented: msg`.
const TODO_PANIC: &str = "not yet implemented: ";

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

/// How a stage's suite went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Every test passed.
    Passed { tests: u32 },
    /// Some tests failed (on a `todo!()` or otherwise).
    Failed { failed: u32, total: u32 },
    /// Every test failed on a `todo!()`: nothing written yet.
    NotStarted { tests: u32 },
    /// The crate or its suite does not build.
    DoesNotCompile,
    /// The suite has no tests (a crate still being written).
    NoTests,
}

impl Status {
    /// The status column of the table.
    pub fn describe(&self) -> String {
        match self {
            Status::Passed { tests } => format!("passed ({tests} tests)"),
            Status::Failed { failed, total } => format!("failed: {failed} of {total} tests"),
            Status::NotStarted { .. } => "not started".to_string(),
            Status::DoesNotCompile => "does not compile".to_string(),
            Status::NoTests => "no tests".to_string(),
        }
    }
}

/// The grade of one stage: its status and what to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grade {
    /// How the suite went.
    pub status: Status,
    /// The `todo!()` message with the lowest book section, the first failing test, or
    /// the first compiler error; `None` when the stage passed.
    pub next: Option<String>,
}

/// The book section `(chapter, section)` a todo message cites (`… — book §1.3`).
fn section(message: &str) -> (u32, u32) {
    let cited = message.rsplit_once('§').map_or("", |(_, s)| s);
    let mut parts = cited.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or(u32::MAX)
    });
    (
        parts.next().unwrap_or(u32::MAX),
        parts.next().unwrap_or(u32::MAX),
    )
}

/// Reads the output of `cargo test` (stdout and stderr together) and whether it
/// succeeded, into a grade.
pub fn parse(output: &str, success: bool) -> Grade {
    let (mut passed, mut failed, mut results) = (0u32, 0u32, 0u32);
    for line in output.lines() {
        let Some(rest) = line.strip_prefix("test result: ") else {
            continue;
        };
        results += 1;
        for part in rest.split(['.', ';']) {
            let mut words = part.split_whitespace();
            if let (Some(n), Some(what)) = (words.next(), words.next()) {
                match (n.parse::<u32>(), what) {
                    (Ok(n), "passed") => passed += n,
                    (Ok(n), "failed") => failed += n,
                    _ => {}
                }
            }
        }
    }

    // The failures: `---- NAME stdout ----` then what the test printed.
    let mut failures: Vec<(String, Option<String>)> = Vec::new();
    for line in output.lines() {
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        {
            failures.push((name.to_string(), None));
        } else if let Some((_, message)) = line.split_once(TODO_PANIC) {
            if let Some((_, todo @ None)) = failures.last_mut() {
                *todo = Some(message.trim().to_string());
            }
        }
    }
    let todos: Vec<&String> = failures.iter().filter_map(|(_, t)| t.as_ref()).collect();
    let first_todo = todos
        .iter()
        .min_by_key(|t| section(t))
        .map(|t| t.to_string());

    if results == 0 && !success {
        let error = output
            .lines()
            .position(|l| l.starts_with("error"))
            .map(|i| {
                let lines: Vec<&str> = output.lines().collect();
                let at = lines
                    .get(i + 1)
                    .map(|l| l.trim())
                    .filter(|l| l.starts_with("-->"));
                match at {
                    Some(at) => format!("{} {at}", lines[i]),
                    None => lines[i].to_string(),
                }
            });
        return Grade {
            status: Status::DoesNotCompile,
            next: error,
        };
    }
    let total = passed + failed;
    let status = if failed == 0 && total > 0 && success {
        Status::Passed { tests: total }
    } else if total == 0 {
        Status::NoTests
    } else if passed == 0 && todos.len() as u32 == failed {
        Status::NotStarted { tests: total }
    } else {
        Status::Failed { failed, total }
    };
    let next = match status {
        Status::Passed { .. } | Status::NoTests => None,
        _ => first_todo.or_else(|| {
            failures
                .first()
                .map(|(name, _)| format!("make the test `{name}` pass"))
        }),
    };
    Grade { status, next }
}

/// Runs `cargo test -p stage<n>` in `root` and grades what it printed.
fn grade_stage(root: &Path, n: u32) -> Result<Grade, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let package = format!("stage{n}");
    let output = Command::new(cargo)
        .current_dir(root)
        .args(["test", "--color", "never", "--no-fail-fast", "-p", &package])
        .env("RUST_BACKTRACE", "0")
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(parse(&text, output.status.success()))
}

/// `jitlab grade [--stage N]`: exit 0 when every graded stage passes, 1 otherwise,
/// 2 when there is nothing to grade.
pub fn grade(stage: Option<u32>) -> ExitCode {
    let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let Some(root) = find_root(&here) else {
        eprintln!(
            "error: no Cargo workspace above {}: run `jitlab grade` inside your jitlab clone",
            here.display()
        );
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
        None => (1..=7).filter(|&n| exists(n)).collect(),
    };
    if wanted.is_empty() {
        eprintln!(
            "error: no exercise crates (exercises/stageN) in {}",
            root.display()
        );
        return ExitCode::from(USAGE_ERROR);
    }

    let mut grades = Vec::new();
    for &n in &wanted {
        eprintln!("grading stage {n}: cargo test -p stage{n} ...");
        match grade_stage(&root, n) {
            Ok(grade) => grades.push((n, grade)),
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(USAGE_ERROR);
            }
        }
    }
    print!("{}", table(&grades));
    if grades
        .iter()
        .all(|(_, g)| matches!(g.status, Status::Passed { .. }))
    {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The progress table, then what to do next in each unfinished stage.
pub fn table(grades: &[(u32, Grade)]) -> String {
    let rows: Vec<[String; 3]> = grades
        .iter()
        .map(|(n, g)| {
            [
                n.to_string(),
                stages::name(*n).to_string(),
                g.status.describe(),
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
    let mut first = true;
    for (n, grade) in grades {
        if let Some(next) = &grade.next {
            if first {
                out.push('\n');
                first = false;
            }
            out.push_str(&format!("stage {n} next: {next}\n"));
        }
    }
    out
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

thread 'b' panicked at src/lib.rs:9:5:
not yet implemented: frames: Push a frame. — book §1.4
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

---- c stdout ----

thread 'c' panicked at src/lib.rs:3:5:
not yet implemented: dispatch: Write the loop. — book §1.2

failures:
    b
    c

test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
";

    #[test]
    fn failures_count_and_the_lowest_section_comes_next() {
        let grade = parse(SOME_PASS, false);
        assert_eq!(
            grade.status,
            Status::Failed {
                failed: 2,
                total: 3
            }
        );
        assert_eq!(
            grade.next.as_deref(),
            Some("dispatch: Write the loop. — book §1.2")
        );
    }

    #[test]
    fn all_todo_failures_is_not_started() {
        let output = SOME_PASS
            .replace("test a ... ok\n", "")
            .replace("1 passed; 2 failed", "0 passed; 2 failed");
        assert_eq!(
            parse(&output, false).status,
            Status::NotStarted { tests: 2 }
        );
    }

    #[test]
    fn results_of_several_test_binaries_add_up() {
        let output = "test result: ok. 4 passed; 0 failed; 1 ignored;\n\
                      test result: ok. 6 passed; 0 failed; 0 ignored;\n";
        let grade = parse(output, true);
        assert_eq!(grade.status, Status::Passed { tests: 10 });
        assert_eq!(grade.next, None);
    }

    #[test]
    fn a_failure_that_is_not_a_todo_names_the_test() {
        let output = "---- suite::fib stdout ----\nassertion failed\n\
                      test result: FAILED. 0 passed; 1 failed; 0 ignored;\n";
        let grade = parse(output, false);
        assert_eq!(
            grade.status,
            Status::Failed {
                failed: 1,
                total: 1
            }
        );
        assert_eq!(
            grade.next.as_deref(),
            Some("make the test `suite::fib` pass")
        );
    }

    #[test]
    fn a_build_error_is_does_not_compile_with_its_place() {
        let output = "   Compiling stage1 v0.1.0\n\
                      error[E0308]: mismatched types\n  --> src/lib.rs:5:5\n";
        let grade = parse(output, false);
        assert_eq!(grade.status, Status::DoesNotCompile);
        assert_eq!(
            grade.next.as_deref(),
            Some("error[E0308]: mismatched types --> src/lib.rs:5:5")
        );
    }

    #[test]
    fn sections_order_numerically() {
        assert!(section("a — book §1.10") > section("b — book §1.9"));
        assert!(section("a — book §2.1") > section("b — book §1.9"));
        assert_eq!(section("no section"), (u32::MAX, u32::MAX));
    }

    #[test]
    fn the_table_is_aligned_and_lists_what_comes_next() {
        let grades = vec![
            (
                1,
                Grade {
                    status: Status::Passed { tests: 40 },
                    next: None,
                },
            ),
            (
                2,
                Grade {
                    status: Status::NotStarted { tests: 9 },
                    next: Some("rex: Write REX. — book §2.3".into()),
                },
            ),
        ];
        assert_eq!(
            table(&grades),
            "stage  name         status\n\
             1      interpreter  passed (40 tests)\n\
             2      code buffer  not started\n\
             \n\
             stage 2 next: rex: Write REX. — book §2.3\n"
        );
    }

    #[test]
    fn the_root_is_the_nearest_workspace_manifest() {
        let root = find_root(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert!(root.join("jitlab").is_dir());
        assert!(root.join("Cargo.toml").is_file());
    }
}
