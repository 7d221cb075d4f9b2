//! `jitlab hint ID`: a hole's book section, printed in the terminal, with its link in
//! `mdbook serve`.

use std::path::Path;
use std::process::ExitCode;

use crate::list::{self, Hole};
use crate::run::USAGE_ERROR;

/// The text of the `## … {#id}` section of `chapter` (the heading and everything up
/// to the next `## ` heading outside a code fence), if it has one.
pub fn section_text(chapter: &str, id: &str) -> Option<String> {
    let lines: Vec<&str> = chapter.lines().collect();
    let headings = list::headings(chapter);
    let k = headings.iter().position(|h| h.2.as_deref() == Some(id))?;
    let start = headings[k].0 - 1;
    let end = headings.get(k + 1).map_or(lines.len(), |h| h.0 - 1);
    let mut text = lines[start..end].join("\n");
    text.truncate(text.trim_end().len());
    text.push('\n');
    Some(text)
}

/// What `jitlab hint` prints for `hole`: where it is, its task, its section and the
/// link.
pub fn hint_text(root: &Path, hole: &Hole) -> String {
    let state = if hole.todo { "to do" } else { "done" };
    let mut out = format!("stage {} hole `{}` ({state})", hole.stage, hole.id);
    if !hole.task.is_empty() {
        out.push_str(&format!(": {}", hole.task));
    }
    out.push_str("\n\n");
    match &hole.section {
        Some(section) => {
            let chapter = std::fs::read_to_string(root.join("book/src").join(&section.chapter))
                .unwrap_or_default();
            if let Some(text) = section_text(&chapter, &hole.id) {
                out.push_str(&text);
                out.push('\n');
            }
            out.push_str(&format!(
                "book §{} ({}:{}), in `mdbook serve book`: {}\n",
                section.number,
                format_args!("book/src/{}", section.chapter),
                section.line,
                section.url(&hole.id)
            ));
        }
        None => out.push_str("the book has no section for this hole\n"),
    }
    out
}

/// `jitlab hint ID [--stage N]`. Without an id, the next hole of the first stage
/// that has one.
pub fn hint(id: Option<&str>, stage: Option<u32>) -> ExitCode {
    let Some(root) = crate::grade::root_or_complain() else {
        return ExitCode::from(USAGE_ERROR);
    };
    let stages = match stage {
        Some(n) => vec![n],
        None => list::stages_in(&root),
    };
    let holes: Vec<Hole> = stages.iter().flat_map(|&n| list::holes(&root, n)).collect();
    let chosen: Vec<&Hole> = match id {
        Some(id) => holes.iter().filter(|h| h.id == id).collect(),
        None => holes.iter().find(|h| h.todo).into_iter().collect(),
    };
    if chosen.is_empty() {
        match id {
            Some(id) => {
                eprintln!("error: no hole `{id}`; `jitlab list` shows every hole");
                return ExitCode::from(USAGE_ERROR);
            }
            None => {
                println!("every hole is written: `jitlab grade` tells whether they pass");
                return ExitCode::SUCCESS;
            }
        }
    }
    let texts: Vec<String> = chosen.iter().map(|h| hint_text(&root, h)).collect();
    print!("{}", texts.join("\n---\n\n"));
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_runs_to_the_next_heading_outside_fences() {
        let chapter = "# Ch\n## A {#a}\ntext a\n```\n## inside\n```\nmore\n## B {#b}\ntext b\n";
        assert_eq!(
            section_text(chapter, "a").unwrap(),
            "## A {#a}\ntext a\n```\n## inside\n```\nmore\n"
        );
        assert_eq!(section_text(chapter, "b").unwrap(), "## B {#b}\ntext b\n");
        assert_eq!(section_text(chapter, "c"), None);
    }

    #[test]
    fn the_hint_of_frame_slots_prints_its_section_and_link() {
        let root = crate::grade::find_root(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let hole = list::holes(&root, 3)
            .into_iter()
            .find(|h| h.id == "frame-slots")
            .unwrap();
        let text = hint_text(&root, &hole);
        assert!(text.contains("{#frame-slots}"), "{text}");
        assert!(
            text.contains("http://localhost:3000/stage3-template-jit.html#frame-slots"),
            "{text}"
        );
    }
}
