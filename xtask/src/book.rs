//! The book's side of a hole: each hole of stage N has a `## Title {#id}` section in
//! chapter N (`book/src/stageN-*.md`), and its `todo!()` cites that section as `§N.S`.

use std::fs;
use std::path::Path;

use crate::holes::GenError;

/// One `## ` heading of a chapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// 1-based index among the chapter's `## ` headings.
    pub number: usize,
    /// The `{#id}` attribute of the heading, if it has one.
    pub id: Option<String>,
    /// 1-based line of the heading in the chapter file.
    pub line: usize,
}

/// A chapter's numbered sections, read from its markdown.
#[derive(Clone, Debug)]
pub struct Chapter {
    /// The chapter file, relative to the workspace root (for messages).
    pub file: String,
    /// The chapter number: the stage number.
    pub number: u32,
    /// Its `## ` headings, in order.
    pub sections: Vec<Section>,
}

impl Chapter {
    /// Reads the sections of `text`, the markdown of chapter `number` in `file`.
    /// Two headings with one id are an error: a hole could not tell them apart.
    pub fn parse(file: &str, number: u32, text: &str) -> Result<Chapter, GenError> {
        let mut sections: Vec<Section> = Vec::new();
        let mut fence: Option<String> = None; // the opening fence while inside a code block
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if let Some(open) = &fence {
                if trimmed.starts_with(open.as_str())
                    && trimmed.trim_end() == trimmed_fence(trimmed)
                {
                    fence = None;
                }
                continue;
            }
            if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
                fence = Some(trimmed_fence(trimmed).to_string());
                continue;
            }
            let Some(title) = line.strip_prefix("## ") else {
                continue;
            };
            let id = heading_id(title);
            if let Some(id) = &id {
                if let Some(first) = sections.iter().find(|s| s.id.as_ref() == Some(id)) {
                    return Err(GenError::new(
                        file,
                        index + 1,
                        format!("section id `{id}` is already used at line {}", first.line),
                    ));
                }
            }
            sections.push(Section {
                number: sections.len() + 1,
                id,
                line: index + 1,
            });
        }
        Ok(Chapter {
            file: file.to_string(),
            number,
            sections,
        })
    }

    /// The section `N.S` of the hole `id`, or an error saying which heading to write.
    pub fn section_of(&self, id: &str) -> Result<String, String> {
        match self.sections.iter().find(|s| s.id.as_deref() == Some(id)) {
            Some(section) => Ok(format!("{}.{}", self.number, section.number)),
            None => Err(format!(
                "hole `{id}` has no `## … {{#{id}}}` section in {}",
                self.file
            )),
        }
    }
}

/// The run of backticks or tildes that opens (or closes) a fenced code block.
fn trimmed_fence(line: &str) -> &str {
    let c = line.chars().next().unwrap_or('`');
    let len = line.chars().take_while(|&x| x == c).count();
    &line[..len]
}

/// The id of a heading's attribute block: `Title {#id .class}` gives `id`.
fn heading_id(title: &str) -> Option<String> {
    let title = title.trim_end();
    let attrs = title.strip_suffix('}')?;
    let open = attrs.rfind('{')?;
    attrs[open + 1..]
        .split_whitespace()
        .find_map(|a| a.strip_prefix('#'))
        .map(str::to_string)
}

/// Finds and reads chapter `stage` in `book_src` (`book/src` under `root`): the one
/// file named `stage<N>-*.md`.
pub fn load_chapter(root: &Path, stage: u32) -> Result<Chapter, GenError> {
    let dir = root.join("book").join("src");
    let prefix = format!("stage{stage}-");
    let mut found = Vec::new();
    if let Ok(entries) = fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) && name.ends_with(".md") {
                found.push(name);
            }
        }
    }
    found.sort();
    let wanted = format!("book/src/{prefix}*.md");
    match found.as_slice() {
        [] => Err(GenError::new(
            &wanted,
            0,
            format!("stage {stage} has holes but no chapter: write {wanted}"),
        )),
        [name] => {
            let file = format!("book/src/{name}");
            let text = fs::read_to_string(dir.join(name))
                .map_err(|e| GenError::new(&file, 0, format!("cannot read: {e}")))?;
            Chapter::parse(&file, stage, &text)
        }
        several => Err(GenError::new(
            &wanted,
            0,
            format!(
                "stage {stage} has several chapters ({}); keep one",
                several.join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAPTER: &str = "# Stage 1: the interpreter\n\
        \n\
        ## What it is for\n\
        ### A subsection {#not-counted}\n\
        ## The dispatch loop {#dispatch}\n\
        ```text\n\
        ## not a heading {#fenced}\n\
        ```\n\
        ~~~~\n\
        ## also not {#tilde}\n\
        ```\n\
        ~~~~\n\
        ## Frames {#frames .important}\n\
        ##Not a heading {#no-space}\n";

    fn chapter() -> Chapter {
        Chapter::parse("book/src/stage1-interpreter.md", 1, CHAPTER).unwrap()
    }

    #[test]
    fn sections_are_numbered_among_level_two_headings_outside_code() {
        let c = chapter();
        assert_eq!(c.section_of("dispatch"), Ok("1.2".to_string()));
        assert_eq!(c.section_of("frames"), Ok("1.3".to_string()));
        assert_eq!(c.sections.len(), 3);
        assert_eq!(c.sections[0].id, None);
    }

    #[test]
    fn headings_in_code_blocks_and_deeper_levels_are_not_sections() {
        let c = chapter();
        for id in ["not-counted", "fenced", "tilde", "no-space"] {
            assert!(c.section_of(id).is_err(), "{id}");
        }
    }

    #[test]
    fn a_missing_section_names_the_heading_to_write() {
        assert_eq!(
            chapter().section_of("heap"),
            Err(
                "hole `heap` has no `## … {#heap}` section in book/src/stage1-interpreter.md"
                    .to_string()
            )
        );
    }

    #[test]
    fn a_repeated_section_id_is_an_error_at_its_second_heading() {
        let err = Chapter::parse("c.md", 2, "## A {#a}\n\n## B {#a}\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("already used at line 1"));
    }
}
