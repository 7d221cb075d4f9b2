//! `cargo xtask mutants`: plants the plausible mistakes of `xtask/mutants/stageN.txt`
//! one at a time into a learner's crate built from the solution, runs the stage's
//! suite on each, and reports the mistakes no test catches (the survivors).
//!
//! The data file is a list of mutants, each a header and a diff of the hole's lines:
//!
//! ```text
//! # Why this mistake is plausible (comment lines start with #).
//! == prologue signed-depth-check
//! - self.asm.jcc(Cond::B, overflow);
//! + self.asm.jcc(Cond::L, overflow);
//! ```
//!
//! The `-` lines (compared trimmed) must occur exactly once in the hole; they are
//! replaced by the `+` lines, indented like the first line replaced. A `-` line after
//! `+` lines starts another replacement of the same mutant (a hunk), applied after
//! the ones before it.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::scratch::{learner_tree, Hunk, Mutant, Scratch, Status, SuiteRun};

/// Reads a mutant file (`file` names it in errors).
pub fn parse(file: &str, text: &str) -> Result<Vec<Mutant>, String> {
    let mut mutants: Vec<Mutant> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = || format!("{file}:{}", i + 1);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(head) = line.strip_prefix("== ") {
            let mut words = head.split_whitespace();
            let (Some(hole), Some(name), None) = (words.next(), words.next(), words.next()) else {
                return Err(format!("{}: write `== <hole> <name>`", at()));
            };
            if mutants.iter().any(|m| m.hole == hole && m.name == name) {
                return Err(format!("{}: mutant `{hole} {name}` is listed twice", at()));
            }
            mutants.push(Mutant {
                hole: hole.to_string(),
                name: name.to_string(),
                hunks: Vec::new(),
            });
            continue;
        }
        let Some(m) = mutants.last_mut() else {
            return Err(format!("{}: a mutant starts with `== <hole> <name>`", at()));
        };
        if let Some(l) = line.strip_prefix('-') {
            if m.hunks.last().is_none_or(|h| !h.replace.is_empty()) {
                m.hunks.push(Hunk::default());
            }
            let hunk = m.hunks.last_mut().expect("pushed above");
            hunk.find.push(l.strip_prefix(' ').unwrap_or(l).to_string());
        } else if let Some(l) = line.strip_prefix('+') {
            let Some(hunk) = m.hunks.last_mut() else {
                return Err(format!("{}: `+` lines follow `-` lines", at()));
            };
            hunk.replace
                .push(l.strip_prefix(' ').unwrap_or(l).to_string());
        } else {
            return Err(format!("{}: expected `-`, `+`, `#` or `==`", at()));
        }
    }
    if let Some(m) = mutants.iter().find(|m| m.hunks.is_empty()) {
        return Err(format!(
            "{file}: mutant `{} {}` has no `-` lines",
            m.hole, m.name
        ));
    }
    Ok(mutants)
}

/// What happened to one mutant.
enum Verdict {
    /// A test failed: the mistake is caught (the first failing tests named).
    Killed(Vec<String>),
    /// The run crashed or hung without a test reporting it.
    Uncaught(String),
    /// Every test passed.
    Survived,
    /// The mutant does not compile: a broken entry of the data file.
    Invalid(String),
}

fn verdict(run: SuiteRun) -> Verdict {
    let failed = |tests: &std::collections::BTreeMap<String, Status>| -> Vec<String> {
        tests
            .iter()
            .filter(|(_, s)| **s == Status::Failed)
            .map(|(n, _)| n.clone())
            .collect()
    };
    match run {
        SuiteRun::DoesNotCompile(e) => Verdict::Invalid(format!("does not compile: {e}")),
        SuiteRun::Finished(t) => {
            let f = failed(&t);
            if f.is_empty() {
                Verdict::Survived
            } else {
                Verdict::Killed(f)
            }
        }
        SuiteRun::TimedOut(t) => {
            let f = failed(&t);
            if f.is_empty() {
                Verdict::Uncaught("the run timed out with no test failing".into())
            } else {
                Verdict::Killed(f)
            }
        }
        SuiteRun::Crashed(t, why) => {
            let f = failed(&t);
            if f.is_empty() {
                Verdict::Uncaught(format!("the run crashed with no test failing: {why}"))
            } else {
                Verdict::Killed(f)
            }
        }
    }
}

/// How many times the unmutated suite's run a mutant's run may take (a mutant that
/// makes programs loop is stopped by the suite's own per-program timeouts; this bounds
/// the rest).
pub const TIMEOUT_FACTOR: u32 = 3;
/// The least timeout per run of a suite, however fast the unmutated run was.
pub const MIN_TIMEOUT: Duration = Duration::from_secs(90);
/// The timeout of the unmutated run when none is given: long enough for any stage.
const BASELINE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Options of `cargo xtask mutants`.
pub struct Options {
    /// Only these stages (all with a data file when empty).
    pub stages: Vec<u32>,
    /// Only the mutants of this hole.
    pub hole: Option<String>,
    /// Per run of the suite with a mutant; `None`: [`TIMEOUT_FACTOR`] times the
    /// unmutated suite's run, at least [`MIN_TIMEOUT`] (a stage 7 suite takes minutes
    /// on a loaded machine, a stage 1 suite seconds).
    pub timeout: Option<Duration>,
    /// Only plant each mutant (checking that it applies), run nothing.
    pub dry_run: bool,
}

/// Runs the mutation check; fails when a mutant survives or is invalid.
pub fn run(root: &Path, options: &Options) -> Result<(), String> {
    let mut stages = options.stages.clone();
    if stages.is_empty() {
        stages = (1..=9)
            .filter(|n| root.join(format!("xtask/mutants/stage{n}.txt")).is_file())
            .collect();
    }
    let scratch = if options.dry_run {
        None
    } else {
        Some(Scratch::new(root, "mutants")?)
    };
    let mut bad = 0;
    for stage in stages {
        let file = format!("xtask/mutants/stage{stage}.txt");
        let text = std::fs::read_to_string(root.join(&file)).map_err(|e| format!("{file}: {e}"))?;
        let mutants: Vec<Mutant> = parse(&file, &text)?
            .into_iter()
            .filter(|m| options.hole.as_ref().is_none_or(|h| *h == m.hole))
            .collect();
        println!("stage {stage}: {} mutants", mutants.len());
        if options.dry_run {
            for m in &mutants {
                if let Err(e) = learner_tree(root, stage, &|_| true, Some(m)) {
                    println!("  INVALID   {} {}: {e}", m.hole, m.name);
                    bad += 1;
                }
            }
            continue;
        }
        let scratch = scratch.as_ref().expect("made unless a dry run");
        // The unmutated solution must pass, or no verdict means anything.
        scratch.set_learner(stage, &learner_tree(root, stage, &|_| true, None)?)?;
        let start = Instant::now();
        let baseline = scratch.run_suite(stage, options.timeout.unwrap_or(BASELINE_TIMEOUT));
        let timeout = options
            .timeout
            .unwrap_or_else(|| (start.elapsed() * TIMEOUT_FACTOR).max(MIN_TIMEOUT));
        println!(
            "  the solution's suite ran {} s; each mutant's run may take {} s",
            start.elapsed().as_secs(),
            timeout.as_secs()
        );
        match baseline {
            SuiteRun::Finished(t) if t.values().all(|s| *s != Status::Failed) => {}
            other => {
                return Err(format!(
                    "stage {stage}: the solution itself does not pass its suite here: {}",
                    match verdict(other) {
                        Verdict::Killed(f) => format!("failing: {}", f.join(", ")),
                        Verdict::Uncaught(w) | Verdict::Invalid(w) => w,
                        Verdict::Survived => String::new(),
                    }
                ))
            }
        }
        let (mut killed, mut survived, mut uncaught, mut invalid) = (0, 0, 0, 0);
        for m in &mutants {
            let start = Instant::now();
            let v = match learner_tree(root, stage, &|_| true, Some(m)) {
                Ok(tree) => {
                    scratch.set_learner(stage, &tree)?;
                    verdict(scratch.run_suite(stage, timeout))
                }
                Err(e) => Verdict::Invalid(e),
            };
            let secs = start.elapsed().as_secs();
            let label = format!("{} {}", m.hole, m.name);
            match v {
                Verdict::Killed(f) => {
                    killed += 1;
                    let more = if f.len() > 1 {
                        format!(" (+{} more)", f.len() - 1)
                    } else {
                        String::new()
                    };
                    println!("  killed    {label:<40} by {}{more} [{secs}s]", f[0]);
                }
                Verdict::Survived => {
                    survived += 1;
                    println!("  SURVIVED  {label:<40} every test passed [{secs}s]");
                }
                Verdict::Uncaught(why) => {
                    uncaught += 1;
                    println!("  UNCAUGHT  {label:<40} {why} [{secs}s]");
                }
                Verdict::Invalid(why) => {
                    invalid += 1;
                    println!("  INVALID   {label:<40} {why}");
                }
            }
        }
        println!(
            "stage {stage}: {} mutants: {killed} killed, {survived} survived, {uncaught} crashed or hung uncaught, {invalid} invalid",
            mutants.len()
        );
        bad += survived + uncaught + invalid;
    }
    if bad == 0 {
        Ok(())
    } else {
        Err(format!(
            "{bad} mutants not caught by a failing test (or invalid)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_format_reads_headers_and_diffs() {
        let text = "# note\n== add wrong-op\n- self.asm.add(ACC, b);\n+ self.asm.sub(ACC, b);\n- x\n\n== add no-jo\n- self.asm.jcc(Cond::O, overflow);\n";
        let m = parse("s.txt", text).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].hunks.len(), 2);
        assert_eq!(m[0].hunks[0].find, ["self.asm.add(ACC, b);"]);
        assert_eq!(m[0].hunks[0].replace, ["self.asm.sub(ACC, b);"]);
        assert_eq!(m[0].hunks[1].find, ["x"]);
        assert!(m[1].hunks[0].replace.is_empty());
    }

    #[test]
    fn malformed_data_is_an_error_with_its_line() {
        assert!(parse("s.txt", "- x\n").unwrap_err().contains("s.txt:1"));
        assert!(parse("s.txt", "== a b\n+ x\n")
            .unwrap_err()
            .contains("s.txt:2"));
        assert!(parse("s.txt", "== a b\n")
            .unwrap_err()
            .contains("no `-` lines"));
        assert!(parse("s.txt", "== a b\n- x\n== a b\n- y\n")
            .unwrap_err()
            .contains("twice"));
    }
}
