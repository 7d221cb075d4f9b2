//! `jitlab watch`: re-grades the stage being worked on whenever one of its files is
//! saved, and shows the next hole — the loop rustlings gives its learners.
//!
//! It polls modification times (twice a second) rather than using a file-system
//! notification crate: a stage is a few dozen files, and polling works the same
//! everywhere, in containers and on network file systems included.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use crate::grade::{self, Status};
use crate::list;
use crate::run::USAGE_ERROR;

/// How often the files are checked.
const POLL: Duration = Duration::from_millis(500);

/// The stage to watch: the first, in order, with a hole still to do; else the last.
pub fn current_stage(root: &Path) -> Option<u32> {
    let stages = list::stages_in(root);
    stages
        .iter()
        .copied()
        .find(|&n| list::holes(root, n).iter().any(|h| h.todo))
        .or_else(|| stages.last().copied())
}

/// The files whose change re-grades stage `n`: its crate and its suite.
fn watched_files(root: &Path, n: u32) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut work = vec![
        root.join(format!("exercises/stage{n}")),
        root.join(format!("tests/stage{n}")),
    ];
    while let Some(dir) = work.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                work.push(p);
            } else if p
                .extension()
                .is_some_and(|x| x == "rs" || x == "toml" || x == "mini" || x == "jasm")
            {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// The newest modification time among `files` (and their count, so a new or
/// deleted file counts as a change).
fn fingerprint(files: &[PathBuf]) -> (usize, Option<SystemTime>) {
    let newest = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .max();
    (files.len(), newest)
}

/// `jitlab watch [--stage N] [--timeout SECS]`: grade, then again after each save;
/// stops with Ctrl-C.
pub fn watch(stage: Option<u32>, timeout: Option<u64>) -> ExitCode {
    let Some(root) = grade::root_or_complain() else {
        return ExitCode::from(USAGE_ERROR);
    };
    let fixed = stage;
    let Some(mut n) = fixed.or_else(|| current_stage(&root)) else {
        eprintln!(
            "error: no exercise crates (exercises/stageN) in {}",
            root.display()
        );
        return ExitCode::from(USAGE_ERROR);
    };
    let timeout = timeout.map_or(grade::DEFAULT_TIMEOUT, Duration::from_secs);
    let mut last = None;
    loop {
        let files = watched_files(&root, n);
        let print = fingerprint(&files);
        if last != Some(print) {
            // Clear the screen, as rustlings does, so the newest grade is all there is.
            print!("\x1b[2J\x1b[H");
            println!(
                "jitlab watch: stage {n}, grading (save a file to grade again, Ctrl-C to stop) ..."
            );
            match grade::grade_stage(&root, n, timeout) {
                Ok(g) => {
                    print!("{}", grade::table(std::slice::from_ref(&g)));
                    if g.run.status == Status::NotStarted {
                        if let Some(hole) = g.next_hole() {
                            println!("\nStart with `{}`:\n", hole.id);
                            print!("{}", crate::hint::hint_text(&root, hole));
                        }
                    }
                    if g.run.status == Status::Passed && fixed.is_none() {
                        if let Some(next) = current_stage(&root).filter(|&m| m != n) {
                            println!("\nstage {n} passes: on to stage {next}");
                            n = next;
                            last = None;
                            continue;
                        }
                    }
                }
                Err(message) => eprintln!("error: {message}"),
            }
            // Grading may have touched nothing, but take the files' state afresh.
            last = Some(fingerprint(&watched_files(&root, n)));
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fresh_workspace_is_watched_at_stage_one_and_its_files_are_the_crate_and_suite() {
        let root = grade::find_root(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert_eq!(current_stage(&root), Some(1));
        let files = watched_files(&root, 3);
        assert!(files
            .iter()
            .any(|f| f.ends_with("exercises/stage3/src/lib.rs")));
        assert!(files.iter().any(|f| f.ends_with("tests/stage3/main.rs")));
        assert!(fingerprint(&files).1.is_some());
    }
}
