//! The holes of every stage, in book order, and whether each is still a `todo!()`:
//! what `jitlab list` prints, and what `grade`, `hint` and `watch` use to name the
//! next hole.
//!
//! The holes a stage has are the `// exercise-begin: <id> <task>` markers of its
//! solution (`solutions/stageN/src`, what `cargo xtask` generates the exercises
//! from); a hole is still to do while the learner's crate (`exercises/stageN/src`)
//! holds its `todo!("<id>: …")`. The order is the book's: the line of the hole's
//! `## … {#id}` section in the stage's chapter (`book/src/stageN-*.md`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::run::USAGE_ERROR;
use crate::stages;

/// Where `mdbook serve book` serves the book.
pub const BOOK_URL: &str = "http://localhost:3000";

/// One hole of a stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hole {
    /// The stage.
    pub stage: u32,
    /// The hole's id (also its book section's `{#id}`).
    pub id: String,
    /// Its one-line task.
    pub task: String,
    /// Whether the learner's crate still holds its `todo!()`.
    pub todo: bool,
    /// Its book section, if the chapter has one.
    pub section: Option<Section>,
}

/// A hole's book section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The chapter's file name (`stage3-template-jit.md`).
    pub chapter: String,
    /// `§N.S`: the stage and the section's index among the chapter's `## ` headings.
    pub number: String,
    /// The heading without its `{#id}`.
    pub title: String,
    /// 1-based line of the heading.
    pub line: usize,
}

impl Section {
    /// The section's address in `mdbook serve`.
    pub fn url(&self, id: &str) -> String {
        format!(
            "{BOOK_URL}/{}.html#{id}",
            self.chapter.trim_end_matches(".md")
        )
    }
}

impl Hole {
    /// `§3.3 The native frame`, or the task when the book has no section.
    pub fn where_in_book(&self) -> String {
        match &self.section {
            Some(s) => format!("§{} {}", s.number, s.title),
            None => "(no book section)".to_string(),
        }
    }
}

/// The stages that have an exercise crate in `root`.
pub fn stages_in(root: &Path) -> Vec<u32> {
    (1..=7)
        .filter(|n| {
            root.join(format!("exercises/stage{n}/Cargo.toml"))
                .is_file()
        })
        .collect()
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut work = vec![dir.to_path_buf()];
    while let Some(d) = work.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                work.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// The `(id, task)` of each `// exercise-begin: <id> <task>` marker in `text`.
pub fn markers(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix("//")?.trim();
            let rest = rest.strip_prefix("exercise-begin:")?.trim();
            let (id, task) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            Some((id.to_string(), task.trim().to_string()))
        })
        .collect()
}

/// The ids of the `todo!("<id>: …")`s in `text` (the string may start on the line
/// after `todo!(`).
pub fn todo_ids(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("todo!(") {
        rest = &rest[at + "todo!(".len()..];
        let after = rest.trim_start();
        if let Some(s) = after.strip_prefix('"') {
            if let Some((id, _)) = s.split_once(':') {
                if !id.is_empty()
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    ids.push(id.to_string());
                }
            }
        }
    }
    ids
}

/// The `## ` headings of a chapter outside code fences: `(line, title, id)`.
pub fn headings(text: &str) -> Vec<(usize, String, Option<String>)> {
    let mut out = Vec::new();
    let mut fence = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = !fence;
            continue;
        }
        if fence {
            continue;
        }
        let Some(title) = line.strip_prefix("## ") else {
            continue;
        };
        let title = title.trim();
        let (title, id) = match title.rfind("{#") {
            Some(at) if title.ends_with('}') => (
                title[..at].trim().to_string(),
                Some(title[at + 2..title.len() - 1].trim().to_string()),
            ),
            _ => (title.to_string(), None),
        };
        out.push((i + 1, title, id));
    }
    out
}

/// The chapter file of stage `n` (`book/src/stageN-*.md`), if there is one.
pub fn chapter_of(root: &Path, n: u32) -> Option<PathBuf> {
    let prefix = format!("stage{n}-");
    let mut found: Vec<PathBuf> = std::fs::read_dir(root.join("book/src"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|f| f.to_str())
                .is_some_and(|f| f.starts_with(&prefix) && f.ends_with(".md"))
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

/// The holes of stage `n` in book order (holes without a section last, in source
/// order), each with its state.
pub fn holes(root: &Path, n: u32) -> Vec<Hole> {
    // The holes the stage has: the solution's markers; without a solution, the
    // learner's own todo!()s.
    let mut known: Vec<(String, String)> = Vec::new();
    for file in rust_files(&root.join(format!("solutions/stage{n}/src"))) {
        if let Ok(text) = std::fs::read_to_string(&file) {
            for m in markers(&text) {
                if !known.iter().any(|k| k.0 == m.0) {
                    known.push(m);
                }
            }
        }
    }
    let mut todos: Vec<String> = Vec::new();
    for file in rust_files(&root.join(format!("exercises/stage{n}/src"))) {
        if let Ok(text) = std::fs::read_to_string(&file) {
            todos.extend(todo_ids(&text));
        }
    }
    for id in &todos {
        if !known.iter().any(|k| &k.0 == id) {
            known.push((id.clone(), String::new()));
        }
    }
    let chapter = chapter_of(root, n);
    let sections: Vec<(usize, String, Option<String>)> = chapter
        .as_ref()
        .and_then(|c| std::fs::read_to_string(c).ok())
        .map(|t| headings(&t))
        .unwrap_or_default();
    let chapter_name = chapter
        .as_ref()
        .and_then(|c| c.file_name())
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut holes: Vec<Hole> = known
        .into_iter()
        .map(|(id, task)| {
            let section = sections
                .iter()
                .enumerate()
                .find(|(_, s)| s.2.as_deref() == Some(id.as_str()))
                .map(|(k, s)| Section {
                    chapter: chapter_name.clone(),
                    number: format!("{n}.{}", k + 1),
                    title: s.1.clone(),
                    line: s.0,
                });
            Hole {
                stage: n,
                todo: todos.contains(&id),
                id,
                task,
                section,
            }
        })
        .collect();
    // Stable: holes without a section keep their source order, after the others.
    holes.sort_by_key(|h| h.section.as_ref().map_or(usize::MAX, |s| s.line));
    holes
}

/// `jitlab list [--stage N]`: every hole with its state, in book order.
pub fn list(stage: Option<u32>) -> ExitCode {
    let Some(root) = crate::grade::root_or_complain() else {
        return ExitCode::from(USAGE_ERROR);
    };
    let wanted: Vec<u32> = match stage {
        Some(n) => vec![n],
        None => stages_in(&root),
    };
    print!("{}", listing(&root, &wanted));
    ExitCode::SUCCESS
}

/// The text of `jitlab list` for `wanted` stages.
pub fn listing(root: &Path, wanted: &[u32]) -> String {
    let mut out = String::new();
    for &n in wanted {
        let holes = holes(root, n);
        let done = holes.iter().filter(|h| !h.todo).count();
        out.push_str(&format!(
            "stage {n}  {}  ({done}/{} holes written)\n",
            stages::name(n),
            holes.len()
        ));
        let width = holes.iter().map(|h| h.id.len()).max().unwrap_or(0);
        let next = holes.iter().position(|h| h.todo);
        for (k, h) in holes.iter().enumerate() {
            let state = if h.todo { "todo" } else { "done" };
            let mark = if Some(k) == next { "  <- next" } else { "" };
            out.push_str(&format!(
                "  [{state}] {:<width$}  {}{mark}\n",
                h.id,
                h.where_in_book()
            ));
        }
        if let Some(k) = next {
            out.push_str(&format!("  next: jitlab hint {}\n", holes[k].id));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn todo_ids_are_found_on_one_line_or_two() {
        let text = "fn a() { todo!(\"dispatch: loop — book §1.3\") }\n\
                    fn b() {\n    todo!(\n        \"frame-slots: lay out — book §3.3\"\n    )\n}\n\
                    fn c() { todo!() }\n";
        assert_eq!(todo_ids(text), ["dispatch", "frame-slots"]);
    }

    #[test]
    fn markers_give_id_and_task() {
        let text =
            "    // exercise-begin: add pop and check both operands\n    x\n    // exercise-end\n";
        assert_eq!(
            markers(text),
            [("add".to_string(), "pop and check both operands".to_string())]
        );
    }

    #[test]
    fn headings_skip_code_fences_and_split_ids() {
        let text = "# Ch\n## Intro\n```\n## not a heading\n```\n## The frame {#frame-slots}\n";
        assert_eq!(
            headings(text),
            [
                (2, "Intro".to_string(), None),
                (6, "The frame".to_string(), Some("frame-slots".to_string()))
            ]
        );
    }

    #[test]
    fn the_workspace_holes_follow_the_book() {
        let root = crate::grade::find_root(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        for n in stages_in(&root) {
            let holes = holes(&root, n);
            let lines: Vec<usize> = holes
                .iter()
                .filter_map(|h| h.section.as_ref().map(|s| s.line))
                .collect();
            assert!(
                lines.windows(2).all(|w| w[0] < w[1]),
                "stage {n}: {holes:?}"
            );
        }
        // Stage 3's chapter starts with the frame, before the prologue.
        let three = holes(&root, 3);
        let pos = |id: &str| three.iter().position(|h| h.id == id);
        assert!(pos("frame-slots") < pos("prologue"), "{three:?}");
        let url = three[0].section.as_ref().unwrap().url(&three[0].id);
        assert!(
            url.starts_with("http://localhost:3000/stage3-template-jit.html#"),
            "{url}"
        );
    }
}
