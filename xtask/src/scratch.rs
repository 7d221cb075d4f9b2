//! A scratch copy of the workspace (under `target/xtask/`) where a learner's crate is
//! built from the solution with some holes filled, some left as `todo!()` and at most
//! one mistake planted, and its stage's suite is run against it. `progress` and
//! `mutants` both work this way; the real `exercises/` are never touched.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::book::{load_chapter, Chapter};
use crate::generate::{display, write, Tree};
use crate::holes::{add_allow_line, find_holes, replace_holes, GenError, Hole};

/// A mistake planted in one hole: runs of lines of the hole's solution replaced by
/// others (see `xtask/mutants/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mutant {
    /// The hole it goes in.
    pub hole: String,
    /// A short name, unique within the hole.
    pub name: String,
    /// The replacements, applied in order.
    pub hunks: Vec<Hunk>,
}

/// One replacement of a [`Mutant`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hunk {
    /// The lines it replaces, compared with leading and trailing blanks trimmed.
    pub find: Vec<String>,
    /// The lines it writes instead (indented like the first line found).
    pub replace: Vec<String>,
}

/// The solution's files of `stage`: path relative to `src/` → contents.
fn solution_files(root: &Path, stage: u32) -> Result<Tree, String> {
    let src = root.join(format!("solutions/stage{stage}/src"));
    let mut tree = Tree::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let entries =
            fs::read_dir(src.join(&rel)).map_err(|e| format!("{}: {e}", src.display()))?;
        for entry in entries.flatten() {
            let path = rel.join(entry.file_name());
            if entry.path().is_dir() {
                pending.push(path);
            } else {
                let bytes = fs::read(entry.path()).map_err(|e| e.to_string())?;
                tree.insert(path, bytes);
            }
        }
    }
    Ok(tree)
}

/// Every hole of `stage`, in book order (the order of their sections in the chapter).
pub fn holes_in_book_order(root: &Path, stage: u32) -> Result<Vec<Hole>, String> {
    let chapter = load_chapter(root, stage).map_err(|e| e.to_string())?;
    let mut holes = Vec::new();
    for (rel, bytes) in solution_files(root, stage)? {
        if rel.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let name = display(&rel);
        let text = String::from_utf8_lossy(&bytes);
        for hole in find_holes(&name, &text).map_err(|e| e.to_string())? {
            holes.push(hole);
        }
    }
    let position = |id: &str| {
        chapter
            .sections
            .iter()
            .position(|s| s.id.as_deref() == Some(id))
            .unwrap_or(usize::MAX)
    };
    holes.sort_by_key(|h| position(&h.id));
    Ok(holes)
}

/// Applies the hunks of `mutant` to the lines of its hole in `text`.
fn plant(file: &str, text: &str, mutant: &Mutant) -> Result<String, String> {
    let mut text = text.to_string();
    for hunk in &mutant.hunks {
        let holes = find_holes(file, &text).map_err(|e| e.to_string())?;
        let hole = holes
            .iter()
            .find(|h| h.id == mutant.hole)
            .ok_or_else(|| format!("{file}: no hole `{}`", mutant.hole))?;
        text = plant_hunk(file, &text, hole, mutant, hunk)?;
    }
    Ok(text)
}

/// Applies `hunk` to the lines of `hole` in `text`; an error unless its `find` lines
/// occur exactly once in the hole.
fn plant_hunk(
    file: &str,
    text: &str,
    hole: &Hole,
    mutant: &Mutant,
    hunk: &Hunk,
) -> Result<String, String> {
    let lines: Vec<&str> = text.lines().collect();
    let body = hole.begin_line..hole.end_line - 1; // 0-based indices of the hole's lines
    let n = hunk.find.len();
    let matches: Vec<usize> = (body.start..body.end.saturating_sub(n) + 1)
        .filter(|&i| {
            i + n <= body.end && (0..n).all(|k| lines[i + k].trim() == hunk.find[k].trim())
        })
        .collect();
    let [at] = matches[..] else {
        return Err(format!(
            "{file}: mutant `{}` of hole `{}`: the `-` lines starting `{}` occur {} times in the hole, not once",
            mutant.name,
            mutant.hole,
            hunk.find[0].trim(),
            matches.len()
        ));
    };
    let indent = &lines[at][..lines[at].len() - lines[at].trim_start().len()];
    let mut out: Vec<String> = lines[..at].iter().map(|l| l.to_string()).collect();
    out.extend(hunk.replace.iter().map(|l| format!("{indent}{l}")));
    out.extend(lines[at + n..].iter().map(|l| l.to_string()));
    let mut result = out.join("\n");
    result.push('\n');
    Ok(result)
}

/// The learner's `src/` for `stage` built from the solution: the holes `filled` says
/// are done keep the solution's code (with `mutant` planted, if any), the others are
/// the `todo!()` that `cargo xtask exercises` writes.
pub fn learner_tree(
    root: &Path,
    stage: u32,
    filled: &dyn Fn(&str) -> bool,
    mutant: Option<&Mutant>,
) -> Result<Tree, String> {
    let mut chapter: Option<Chapter> = None;
    let mut planted = false;
    let mut tree = Tree::new();
    for (rel, bytes) in solution_files(root, stage)? {
        if rel.extension().is_none_or(|e| e != "rs") {
            tree.insert(rel, bytes);
            continue;
        }
        let name = display(&rel);
        let mut text = String::from_utf8(bytes).map_err(|_| format!("{name}: not UTF-8"))?;
        if let Some(m) = mutant {
            let holes = find_holes(&name, &text).map_err(|e| e.to_string())?;
            if holes.iter().any(|h| h.id == m.hole) {
                text = plant(&name, &text, m)?;
                planted = true;
            }
        }
        // Drop the markers of the filled holes, so that only the others become todo!().
        let holes = find_holes(&name, &text).map_err(|e| e.to_string())?;
        let drop: Vec<usize> = holes
            .iter()
            .filter(|h| filled(&h.id))
            .flat_map(|h| [h.begin_line, h.end_line])
            .collect();
        let kept: Vec<&str> = text
            .lines()
            .enumerate()
            .filter(|(i, _)| !drop.contains(&(i + 1)))
            .map(|(_, l)| l)
            .collect();
        let text = kept.join("\n") + "\n";
        let mut out = replace_holes(&name, &text, |hole| {
            if chapter.is_none() {
                chapter = Some(load_chapter(root, stage)?);
            }
            let chapter = chapter.as_ref().expect("loaded just above");
            chapter
                .section_of(&hole.id)
                .map_err(|message| GenError::new(&name, hole.begin_line, message))
        })
        .map_err(|e| e.to_string())?;
        if rel == Path::new("lib.rs") {
            out = add_allow_line(&out);
        }
        tree.insert(rel, out.into_bytes());
    }
    match mutant {
        Some(m) if !planted => Err(format!(
            "mutant `{}`: stage {stage} has no hole `{}`",
            m.name, m.hole
        )),
        _ => Ok(tree),
    }
}

/// How one test ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// It passed.
    Ok,
    /// It failed (a panic, or a crash the harness turned into a failure).
    Failed,
    /// It was ignored.
    Ignored,
}

/// What a run of a stage's suite gave.
#[derive(Clone, Debug)]
pub enum SuiteRun {
    /// The learner's crate (or the suite) did not compile.
    DoesNotCompile(String),
    /// The run did not finish in time and was killed.
    TimedOut(BTreeMap<String, Status>),
    /// The test binary died without reporting (a crash no test caught).
    Crashed(BTreeMap<String, Status>, String),
    /// Every test reported.
    Finished(BTreeMap<String, Status>),
}

/// The scratch workspace: a copy of the real one under `target/xtask/<name>/ws`, with
/// its own target directory beside it (so its builds never wait for the real one's).
pub struct Scratch {
    /// The copy's root.
    pub root: PathBuf,
    target: PathBuf,
}

impl Scratch {
    /// Makes (or refreshes) the copy of `root`: every file but `target/` and `.git/`,
    /// writing only what changed so cargo rebuilds only that.
    pub fn new(root: &Path, name: &str) -> Result<Scratch, String> {
        let base = root.join("target").join("xtask").join(name);
        let ws = base.join("ws");
        copy_tree(root, &ws, true).map_err(|e| format!("copying the workspace: {e}"))?;
        Ok(Scratch {
            root: ws,
            target: base.join("target"),
        })
    }

    /// Puts `tree` in the copy's `exercises/stage<stage>/src`.
    pub fn set_learner(&self, stage: u32, tree: &Tree) -> Result<(), String> {
        let dir = self.root.join(format!("exercises/stage{stage}/src"));
        write(tree, &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(())
    }

    fn cargo(&self, stage: u32) -> Command {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(&self.root)
            .env("CARGO_TARGET_DIR", &self.target)
            .env("CARGO_TERM_COLOR", "never")
            .args(["test", "-p", &format!("stage{stage}")])
            .args(["--test", &format!("stage{stage}")]);
        cmd
    }

    /// Builds the learner's crate of `stage` and runs its suite, killing the run after
    /// `timeout`.
    pub fn run_suite(&self, stage: u32, timeout: Duration) -> SuiteRun {
        let build = self.cargo(stage).args(["--no-run", "--quiet"]).output();
        match build {
            Err(e) => return SuiteRun::DoesNotCompile(format!("cannot run cargo: {e}")),
            Ok(out) if !out.status.success() => {
                let text = String::from_utf8_lossy(&out.stderr);
                let first = text
                    .lines()
                    .find(|l| l.starts_with("error"))
                    .unwrap_or("cargo failed");
                return SuiteRun::DoesNotCompile(first.to_string());
            }
            Ok(_) => {}
        }
        let mut cmd = self.cargo(stage);
        cmd.args(["--quiet", "--no-fail-fast", "--", "--format", "pretty"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return SuiteRun::DoesNotCompile(format!("cannot run cargo: {e}")),
        };
        // Read both pipes on threads so a chatty suite cannot fill one and stall.
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let out_thread = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let err_thread = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let start = Instant::now();
        let mut timed_out = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if start.elapsed() > timeout => {
                    // The whole process group: cargo and the test binary it started.
                    let _ = Command::new("kill")
                        .args(["-s", "KILL", "--", &format!("-{}", child.id())])
                        .status();
                    let _ = child.wait();
                    timed_out = true;
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(100)),
                Err(_) => break None,
            }
        };
        let stdout = out_thread.join().unwrap_or_default();
        let stderr = err_thread.join().unwrap_or_default();
        let tests = parse_results(&stdout);
        if timed_out {
            return SuiteRun::TimedOut(tests);
        }
        let reported = stdout.lines().any(|l| l.starts_with("test result:"));
        match status {
            Some(_) if reported => SuiteRun::Finished(tests),
            _ => {
                let why = stderr
                    .lines()
                    .find_map(|l| l.find("(signal").map(|at| &l[at..]))
                    .or_else(|| stderr.lines().rev().find(|l| l.contains("error")))
                    .unwrap_or("the test binary ended without a report")
                    .trim()
                    .to_string();
                SuiteRun::Crashed(tests, why)
            }
        }
    }
}

/// The `test NAME ... ok|FAILED|ignored` lines of libtest's output.
pub fn parse_results(stdout: &str) -> BTreeMap<String, Status> {
    let mut tests = BTreeMap::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        let Some((name, result)) = rest.rsplit_once(" ... ") else {
            continue;
        };
        let status = match result.trim() {
            "ok" => Status::Ok,
            "FAILED" => Status::Failed,
            r if r.starts_with("ignored") => Status::Ignored,
            _ => continue,
        };
        tests.insert(name.trim().to_string(), status);
    }
    tests
}

/// Copies `from` into `to`, writing a file only when its contents differ; at the top
/// level `target` and `.git` are skipped.
fn copy_tree(from: &Path, to: &Path, top: bool) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if top && (name == "target" || name == ".git") {
            continue;
        }
        let src = entry.path();
        let dst = to.join(&name);
        if entry.file_type()?.is_dir() {
            copy_tree(&src, &dst, false)?;
        } else {
            let bytes = fs::read(&src)?;
            if fs::read(&dst).ok().as_deref() != Some(&bytes[..]) {
                fs::write(&dst, &bytes)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_read_from_libtest_lines() {
        let out = "running 3 tests\ntest a::b ... ok\ntest c ... FAILED\ntest d ... ignored, slow\nnoise\n";
        let r = parse_results(out);
        assert_eq!(r["a::b"], Status::Ok);
        assert_eq!(r["c"], Status::Failed);
        assert_eq!(r["d"], Status::Ignored);
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn a_mutant_replaces_its_lines_once_inside_the_hole() {
        let text = "fn f() {\n    x();\n    // exercise-begin: h Do it.\n    x();\n    y();\n    // exercise-end\n}\n";
        let m = Mutant {
            hole: "h".into(),
            name: "swap".into(),
            hunks: vec![
                Hunk {
                    find: vec!["x();".into()],
                    replace: vec!["z();".into(), "w();".into()],
                },
                Hunk {
                    find: vec!["y();".into()],
                    replace: vec![],
                },
            ],
        };
        let out = plant("a.rs", text, &m).unwrap();
        assert_eq!(
            out,
            "fn f() {\n    x();\n    // exercise-begin: h Do it.\n    z();\n    w();\n    // exercise-end\n}\n"
        );
        let missing = Mutant {
            hunks: vec![Hunk {
                find: vec!["q();".into()],
                replace: vec![],
            }],
            ..m
        };
        assert!(plant("a.rs", text, &missing).is_err());
    }
}
