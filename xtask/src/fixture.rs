//! `cargo xtask fixture KIND DIR`: a copy of the workspace whose learner crates are in
//! a given state, made from the solutions, for testing `jitlab grade` the way a
//! learner's clone would be graded; and `cargo xtask grade-fixtures`, which grades
//! each kind with the `jitlab` binary and checks what it says (run by CI).
//!
//! - `fresh`: the exercises as generated (every hole a `todo!()`);
//! - `partial`: stage 1 finished, stage 2 fresh, stage 3's first three holes (in book
//!   order) filled from the solution;
//! - `crashing`: stage 3 finished, but its `add` template first loads from address
//!   0x10, so every program that adds crashes in generated code (the others fresh);
//! - `finished`: every hole filled from the solution.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::book::load_chapter;
use crate::generate::{stages, tree_with, write};
use crate::holes::{find_holes, GenError};

/// The kinds of fixture.
pub const KINDS: [&str; 4] = ["fresh", "partial", "crashing", "finished"];

/// What a fixture does with one hole.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Action {
    /// Leave it a `todo!()`.
    Todo,
    /// Fill it with the solution's code.
    Fill,
    /// Fill it with the solution's code after these lines.
    Plant(Vec<&'static str>),
}

/// The code planted at the start of stage 3's `add` by the `crashing` fixture: a
/// load from address 0x10, inside generated code.
const CRASH: [&str; 3] = [
    "// Planted by `cargo xtask fixture crashing`: load from address 0x10.",
    "self.asm.mov_imm(stage2::Reg::R11, 0x10);",
    "self.asm.mov(stage2::Reg::R11, stage2::Mem::base_disp(stage2::Reg::R11, 0));",
];

/// How many of stage 3's holes the `partial` fixture fills.
const PARTIAL_HOLES: usize = 3;

/// The ids of stage `stage`'s holes in book order (sections that are not holes left
/// out).
fn book_order(root: &Path, stage: u32) -> Result<Vec<String>, GenError> {
    let chapter = load_chapter(root, stage)?;
    let mut holes = Vec::new();
    let mut work = vec![root.join(format!("solutions/stage{stage}/src"))];
    while let Some(dir) = work.pop() {
        let entries = fs::read_dir(&dir)
            .map_err(|e| GenError::new(&dir.display().to_string(), 0, e.to_string()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                work.push(path);
            } else if let Ok(text) = fs::read_to_string(&path) {
                let name = path.display().to_string();
                holes.extend(find_holes(&name, &text)?.into_iter().map(|h| h.id));
            }
        }
    }
    Ok(chapter
        .sections
        .into_iter()
        .filter_map(|s| s.id)
        .filter(|id| holes.contains(id))
        .collect())
}

/// What `kind` does with hole `id` of `stage` (`order`: the stage's holes in book
/// order).
fn action(kind: &str, stage: u32, id: &str, order: &[String]) -> Action {
    match (kind, stage) {
        ("finished", _) | ("partial", 1) => Action::Fill,
        ("partial", 3) => {
            if order.iter().take(PARTIAL_HOLES).any(|h| h == id) {
                Action::Fill
            } else {
                Action::Todo
            }
        }
        ("crashing", 3) if id == "add" => Action::Plant(CRASH.to_vec()),
        ("crashing", 3) => Action::Fill,
        _ => Action::Todo,
    }
}

/// `text` with the markers of the holes that `act` fills removed (and planted lines
/// put in), so that only the `Todo` holes become `todo!()`s.
fn prepare(file: &str, text: &str, act: &dyn Fn(&str) -> Action) -> Result<String, GenError> {
    let holes = find_holes(file, text)?;
    let mut out: Vec<String> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let begins = holes.iter().find(|h| h.begin_line == number);
        let ends = holes.iter().find(|h| h.end_line == number);
        match (begins, ends) {
            (Some(h), _) => match act(&h.id) {
                Action::Todo => out.push(line.to_string()),
                Action::Fill => {}
                Action::Plant(lines) => {
                    out.extend(lines.iter().map(|l| format!("{}{l}", h.indent)));
                }
            },
            (_, Some(h)) if act(&h.id) != Action::Todo => {}
            _ => out.push(line.to_string()),
        }
    }
    let mut result = out.join("\n");
    if text.ends_with('\n') {
        result.push('\n');
    }
    Ok(result)
}

/// Copies the workspace at `root` to `dest`, without build output and git data,
/// writing only the files that differ.
fn copy_workspace(root: &Path, dest: &Path) -> std::io::Result<()> {
    let mut work = vec![PathBuf::new()];
    while let Some(rel) = work.pop() {
        fs::create_dir_all(dest.join(&rel))?;
        for entry in fs::read_dir(root.join(&rel))? {
            let entry = entry?;
            let name = entry.file_name();
            let path = rel.join(&name);
            if entry.file_type()?.is_dir() {
                let skip = [".git", "target", "node_modules"]
                    .iter()
                    .any(|s| name == *s)
                    || path == Path::new("book/book");
                if !skip {
                    work.push(path);
                }
            } else if entry.file_type()?.is_file() {
                // Only what differs: an unchanged file keeps its time, so cargo
                // rebuilds only the crates a new kind of fixture changes.
                let bytes = fs::read(root.join(&path))?;
                if fs::read(dest.join(&path)).ok().as_ref() != Some(&bytes) {
                    fs::write(dest.join(&path), bytes)?;
                }
            }
        }
    }
    Ok(())
}

/// Writes the fixture `kind` of the workspace at `root` into `dest` (which must not
/// be inside `root`'s sources; under `target/` is fine). An existing `dest` is
/// updated in place, touching only the files that change.
pub fn write_fixture(root: &Path, kind: &str, dest: &Path) -> Result<(), String> {
    if !KINDS.contains(&kind) {
        return Err(format!(
            "unknown fixture kind `{kind}`: one of {}",
            KINDS.join(", ")
        ));
    }
    copy_workspace(root, dest).map_err(|e| format!("copying to {}: {e}", dest.display()))?;
    for stage in stages(root).map_err(|e| e.to_string())? {
        let order = book_order(root, stage).unwrap_or_default();
        let act = |id: &str| action(kind, stage, id, &order);
        let tree = tree_with(root, stage, &|file, text| prepare(file, text, &act))
            .map_err(|e| e.to_string())?;
        let dir = dest.join(format!("exercises/stage{stage}/src"));
        write(&tree, &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok(())
}

/// Runs `jitlab grade --json --stage N` in `dir`: its JSON and exit status.
fn grade_json(
    jitlab: &Path,
    dir: &Path,
    target: &Path,
    stage: u32,
) -> Result<(String, i32), String> {
    let out = Command::new(jitlab)
        .args(["grade", "--json", "--stage", &stage.to_string()])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", jitlab.display()))?;
    Ok((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    ))
}

/// The value of `"key": ` in one-level JSON `text`: the raw text up to the next
/// comma or brace (strings keep their quotes).
fn json_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text.find(&format!("\"{key}\": "))? + key.len() + 4;
    let rest = &text[at..];
    if let Some(s) = rest.strip_prefix('"') {
        let mut end = 0;
        let bytes = s.as_bytes();
        while end < bytes.len() && !(bytes[end] == b'"' && (end == 0 || bytes[end - 1] != b'\\')) {
            end += 1;
        }
        return Some(&rest[..end + 2]);
    }
    let end = rest.find([',', '}', '\n']).unwrap_or(rest.len());
    Some(rest[..end].trim())
}

/// `cargo xtask grade-fixtures`: builds `jitlab`, writes every fixture under
/// `target/fixtures/`, grades stages 1 to 3 of each and checks the verdicts.
pub fn grade_fixtures(root: &Path) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(root)
        .args(["build", "--quiet", "-p", "jitlab"])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("cargo build -p jitlab failed".into());
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let jitlab = target_dir.join("debug/jitlab");
    let base = target_dir.join("fixtures");
    // One workspace, rewritten in place for each kind, and one target directory: the
    // registry crates build once and each kind rebuilds only the crates it changes.
    // (Several workspaces sharing one target directory would not do: cargo names a
    // workspace's crates by their path inside the workspace, so their builds collide.)
    let shared_target = base.join("target");
    let order = book_order(root, 3).map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    for kind in KINDS {
        let dir = base.join("workspace");
        write_fixture(root, kind, &dir)?;
        for stage in 1..=3u32 {
            let started = std::time::Instant::now();
            let (json, code) = grade_json(&jitlab, &dir, &shared_target, stage)?;
            let status = json_field(&json, "status").unwrap_or("?").to_string();
            let next = json_field(&json, "next_hole").unwrap_or("?").to_string();
            println!(
                "{kind:>8} stage {stage}: {status} (passed {}, total {}, next hole {next}, exit {code}) in {:.0?}",
                json_field(&json, "passed").unwrap_or("?"),
                json_field(&json, "total").unwrap_or("?"),
                started.elapsed()
            );
            let mut expect = |ok: bool, what: &str| {
                if !ok {
                    problems.push(format!("{kind} stage {stage}: {what}\n{json}"));
                }
            };
            let filled = match (kind, stage) {
                ("finished", _) | ("partial", 1) | ("crashing", 3) => "filled",
                ("partial", 3) => "partial",
                _ => "fresh",
            };
            match filled {
                "fresh" => {
                    expect(status == "\"not started\"", "expected `not started`");
                    expect(code == 1, "expected exit status 1");
                }
                "filled" if kind == "crashing" => {
                    expect(status == "\"failed\"", "expected `failed`");
                    expect(
                        json.contains("SIGSEGV at 0x10 (pc 0x"),
                        "expected a test to report `SIGSEGV at 0x10`",
                    );
                    expect(
                        json.contains("in generated code: fn ")
                            && json.contains("`add` (code offset"),
                        "expected the crash placed at an `add` in generated code",
                    );
                    // Every test reported, and most passed: the crash stayed in its tests.
                    let passed: u32 = json_field(&json, "passed")
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(0);
                    expect(passed > 0, "expected the tests that do not add to pass");
                    expect(
                        !json.contains("\"status\": \"not finished\""),
                        "expected every test to report",
                    );
                }
                "filled" => {
                    expect(status == "\"passed\"", "expected `passed`");
                    expect(code == 0, "expected exit status 0");
                }
                _ => {
                    expect(status == "\"failed\"", "expected `failed`");
                    let want = format!("\"{}\"", order.get(PARTIAL_HOLES).map_or("", |s| s));
                    expect(next == want, &format!("expected the next hole {want}"));
                    expect(
                        json.contains("not written yet"),
                        "expected a failure naming a hole not written yet",
                    );
                }
            }
        }
    }
    if problems.is_empty() {
        println!("every fixture graded as expected");
        Ok(())
    } else {
        Err(problems.join("\n\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_fills_plants_and_keeps_holes() {
        let text = "fn a() {\n    // exercise-begin: one do one\n    1\n    // exercise-end\n}\n\
                    fn b() {\n    // exercise-begin: two do two\n    2\n    // exercise-end\n}\n";
        let act = |id: &str| match id {
            "one" => Action::Fill,
            _ => Action::Plant(vec!["boom();"]),
        };
        assert_eq!(
            prepare("f.rs", text, &act).unwrap(),
            "fn a() {\n    1\n}\nfn b() {\n    boom();\n    2\n}\n"
        );
        let keep = |_: &str| Action::Todo;
        assert_eq!(prepare("f.rs", text, &keep).unwrap(), text);
    }

    #[test]
    fn json_fields_read_strings_numbers_and_null() {
        let json =
            "{\"stage\": 3, \"status\": \"not started\", \"next_hole\": null, \"m\": \"a\\\"b\"}";
        assert_eq!(json_field(json, "stage"), Some("3"));
        assert_eq!(json_field(json, "status"), Some("\"not started\""));
        assert_eq!(json_field(json, "next_hole"), Some("null"));
        assert_eq!(json_field(json, "m"), Some("\"a\\\"b\""));
    }

    /// The one fast fixture test of `cargo test`: a partial fixture of this workspace
    /// has stage 1's holes filled, stage 2's left, and stage 3's first three (in book
    /// order) filled. The heavy part (grading fixtures) is `cargo xtask grade-fixtures`.
    #[test]
    fn a_partial_fixture_fills_the_holes_it_says() {
        let root = crate::workspace_root();
        let dest = std::env::temp_dir().join(format!("jitlab-fixture-{}", std::process::id()));
        write_fixture(&root, "partial", &dest).unwrap();
        let todos = |stage: u32| -> Vec<String> {
            let mut ids = Vec::new();
            let mut work = vec![dest.join(format!("exercises/stage{stage}/src"))];
            while let Some(d) = work.pop() {
                for e in fs::read_dir(&d).unwrap().flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        work.push(p);
                    } else if let Ok(text) = fs::read_to_string(&p) {
                        for (i, _) in text.match_indices("todo!(") {
                            let rest = text[i + 6..].trim_start();
                            if let Some((id, _)) = rest.trim_start_matches('"').split_once(':') {
                                ids.push(id.to_string());
                            }
                        }
                    }
                }
            }
            ids
        };
        assert!(todos(1).is_empty(), "{:?}", todos(1));
        assert!(!todos(2).is_empty());
        let order = book_order(&root, 3).unwrap();
        let three = todos(3);
        for (k, id) in order.iter().enumerate() {
            assert_eq!(three.contains(id), k >= PARTIAL_HOLES, "{id}: {three:?}");
        }
        assert!(dest.join("Cargo.toml").is_file() && !dest.join("target").exists());
        fs::remove_dir_all(&dest).unwrap();
    }
}
