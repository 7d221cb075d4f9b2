//! Exercise holes: find the `// exercise-begin: <id> <task>` … `// exercise-end` regions
//! of a solution file and replace each with one `todo!()` that points to the book.

use std::fmt;

/// What starts a hole, after the `//` of a line comment.
const BEGIN: &str = "exercise-begin";
/// What ends a hole, after the `//` of a line comment.
const END: &str = "exercise-end";

/// A mistake in a solution file or in the book, with the place a maintainer must fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenError {
    /// The file, relative to the workspace root.
    pub file: String,
    /// 1-based line, or 0 when the error is about the whole file.
    pub line: usize,
    /// What is wrong and, where it helps, what to do.
    pub message: String,
}

impl GenError {
    /// An error at `line` of `file`.
    pub fn new(file: &str, line: usize, message: impl Into<String>) -> GenError {
        GenError {
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for GenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: error: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: error: {}", self.file, self.line, self.message)
        }
    }
}

/// One marked region of a solution file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hole {
    /// The hole's id: also the `{#id}` of its book section.
    pub id: String,
    /// The one-line task the learner reads in the `todo!()`.
    pub task: String,
    /// 1-based line of the begin marker.
    pub begin_line: usize,
    /// 1-based line of the end marker.
    pub end_line: usize,
    /// The begin marker's indentation, which the `todo!()` line takes.
    pub indent: String,
}

/// What a line is, as far as holes are concerned.
enum Marker {
    Begin { id: String, task: String },
    End,
}

/// Reads a marker from one line; `Ok(None)` for an ordinary line.
fn parse_marker(file: &str, number: usize, line: &str) -> Result<Option<Marker>, GenError> {
    let Some(comment) = line.trim_start().strip_prefix("//") else {
        return Ok(None);
    };
    let comment = comment.trim();
    if let Some(rest) = comment.strip_prefix(BEGIN) {
        let Some(rest) = rest.strip_prefix(':') else {
            return Err(GenError::new(
                file,
                number,
                format!("malformed marker: write `// {BEGIN}: <id> <task>`"),
            ));
        };
        let rest = rest.trim();
        let (id, task) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let task = task.trim();
        if id.is_empty() || task.is_empty() {
            return Err(GenError::new(
                file,
                number,
                format!("`{BEGIN}` needs an id and a one-line task: `// {BEGIN}: <id> <task>`"),
            ));
        }
        if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(GenError::new(
                file,
                number,
                format!("hole id `{id}` may hold only letters, digits, `-` and `_`"),
            ));
        }
        return Ok(Some(Marker::Begin {
            id: id.to_string(),
            task: task.to_string(),
        }));
    }
    if let Some(rest) = comment.strip_prefix(END) {
        if !rest.trim().is_empty() {
            return Err(GenError::new(
                file,
                number,
                format!("malformed marker: `// {END}` takes nothing after it"),
            ));
        }
        return Ok(Some(Marker::End));
    }
    Ok(None)
}

/// Finds the holes of `text` (the contents of `file`), checking that markers pair up
/// and do not nest.
pub fn find_holes(file: &str, text: &str) -> Result<Vec<Hole>, GenError> {
    let mut holes = Vec::new();
    let mut open: Option<Hole> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        match parse_marker(file, number, line)? {
            None => {}
            Some(Marker::Begin { id, task }) => {
                if let Some(outer) = &open {
                    return Err(GenError::new(
                        file,
                        number,
                        format!(
                            "hole `{id}` begins inside hole `{}` (line {}): holes do not nest",
                            outer.id, outer.begin_line
                        ),
                    ));
                }
                let indent = &line[..line.len() - line.trim_start().len()];
                open = Some(Hole {
                    id,
                    task,
                    begin_line: number,
                    end_line: 0,
                    indent: indent.to_string(),
                });
            }
            Some(Marker::End) => match open.take() {
                Some(mut hole) => {
                    hole.end_line = number;
                    holes.push(hole);
                }
                None => {
                    return Err(GenError::new(
                        file,
                        number,
                        format!("`// {END}` without a `// {BEGIN}` before it"),
                    ))
                }
            },
        }
    }
    match open {
        Some(hole) => Err(GenError::new(
            file,
            hole.begin_line,
            format!("hole `{}` has no `// {END}`", hole.id),
        )),
        None => Ok(holes),
    }
}

/// The width rustfmt wraps at: a `todo!()` line longer than this is written the way
/// rustfmt would write it, so that `cargo fmt --check` passes on the exercises.
const MAX_WIDTH: usize = 100;

/// Writes `s` as the body of a Rust string literal that is also a format string (in
/// edition 2021 a lone `todo!` argument is one, so braces are doubled).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '{' => out.push_str("{{"),
            '}' => out.push_str("}}"),
            _ => out.push(c),
        }
    }
    out
}

/// The lines that replace `hole`: `todo!("<id>: <task> — book §<section>")` at the
/// hole's indentation, followed by `;` when code follows it in the same block.
fn todo_lines(hole: &Hole, section: &str, tail: bool) -> Vec<String> {
    let literal = format!(
        "\"{}: {} — book §{}\"",
        escape(&hole.id),
        escape(&hole.task),
        section
    );
    let semi = if tail { "" } else { ";" };
    let indent = &hole.indent;
    let one_line = format!("{indent}todo!({literal}){semi}");
    if one_line.chars().count() <= MAX_WIDTH {
        return vec![one_line];
    }
    vec![
        format!("{indent}todo!("),
        format!("{indent}    {literal}"),
        format!("{indent}){semi}"),
    ]
}

/// Replaces every hole of `text` (the contents of `file`) with its `todo!()`.
/// `section` gives the book section (`"1.3"`) of a hole, or the error to report.
pub fn replace_holes(
    file: &str,
    text: &str,
    mut section: impl FnMut(&Hole) -> Result<String, GenError>,
) -> Result<String, GenError> {
    let holes = find_holes(file, text)?;
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut next = 0; // index of the next line to copy
    for hole in &holes {
        out.extend(
            lines[next..hole.begin_line - 1]
                .iter()
                .map(|l| l.to_string()),
        );
        // The `todo!()` is the block's value when only a closing brace follows it
        // (comments aside); otherwise it is a statement and needs its semicolon.
        let tail = lines[hole.end_line..]
            .iter()
            .map(|l| l.trim())
            .find(|l| !l.is_empty() && !l.starts_with("//"))
            .is_some_and(|l| l.starts_with('}'));
        out.extend(todo_lines(hole, &section(hole)?, tail));
        next = hole.end_line;
    }
    out.extend(lines[next..].iter().map(|l| l.to_string()));
    let mut result = out.join("\n");
    if text.ends_with('\n') {
        result.push('\n');
    }
    Ok(result)
}

/// What the generated `lib.rs` allows: the code a hole leaves behind is unused or
/// unreachable, and a `todo!()` in a loop or an argument trips these lints. Written
/// the way rustfmt writes it, so `cargo fmt --check` passes on the exercises.
pub const ALLOW_LINE: &str = "#![allow(
    unused,
    unreachable_code,
    clippy::diverging_sub_expression,
    clippy::never_loop
)]";

/// Puts [`ALLOW_LINE`] into a crate root, right after its inner doc comment (or at the
/// top when it has none).
pub fn add_allow_line(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let docs = lines
        .iter()
        .take_while(|l| l.trim_start().starts_with("//!"))
        .count();
    let mut out: Vec<&str> = Vec::with_capacity(lines.len() + 1);
    out.extend(&lines[..docs]);
    out.push(ALLOW_LINE);
    out.extend(&lines[docs..]);
    let mut result = out.join("\n");
    result.push('\n');
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section_1_2(_: &Hole) -> Result<String, GenError> {
        Ok("1.2".to_string())
    }

    #[test]
    fn a_function_body_becomes_one_todo_at_the_marker_indentation() {
        let text = "fn f(x: i64) -> i64 {\n    // exercise-begin: add-one Return x plus one.\n    let y = x + 1;\n    y\n    // exercise-end\n}\n";
        let out = replace_holes("a.rs", text, section_1_2).unwrap();
        assert_eq!(
            out,
            "fn f(x: i64) -> i64 {\n    todo!(\"add-one: Return x plus one. — book §1.2\")\n}\n"
        );
    }

    #[test]
    fn a_statement_block_followed_by_code_gets_a_semicolon() {
        let text = "fn f() {\n        // exercise-begin: step Do the step.\n        a();\n        // exercise-end\n        b();\n}";
        let out = replace_holes("a.rs", text, section_1_2).unwrap();
        assert_eq!(
            out,
            "fn f() {\n        todo!(\"step: Do the step. — book §1.2\");\n        b();\n}"
        );
    }

    #[test]
    fn text_outside_the_holes_is_copied_verbatim() {
        let text = "// a comment\n\nfn g() {\n    // exercise-begin: one First.\n    1;\n    // exercise-end\n}\n\nfn h() -> u8 {\n  // exercise-begin: two Second.\n  2\n  // exercise-end\n}\n// tail\n";
        let out = replace_holes("a.rs", text, section_1_2).unwrap();
        assert_eq!(
            out,
            "// a comment\n\nfn g() {\n    todo!(\"one: First. — book §1.2\")\n}\n\nfn h() -> u8 {\n  todo!(\"two: Second. — book §1.2\")\n}\n// tail\n"
        );
    }

    #[test]
    fn quotes_backslashes_and_braces_are_escaped() {
        let text = "fn f() {\n// exercise-begin: q Print \"{x}\" with a \\n.\n// exercise-end\n}\n";
        let out = replace_holes("a.rs", text, section_1_2).unwrap();
        assert!(
            out.contains(r#"todo!("q: Print \"{{x}}\" with a \\n. — book §1.2")"#),
            "{out}"
        );
    }

    #[test]
    fn a_long_todo_is_wrapped_as_rustfmt_wraps_it() {
        let task = "Decode the instruction at pc and dispatch it to its handler, then loop.";
        let text = format!(
            "fn f() {{\n        // exercise-begin: dispatch {task}\n        x();\n        // exercise-end\n}}\n"
        );
        let out = replace_holes("a.rs", &text, section_1_2).unwrap();
        assert_eq!(
            out,
            format!("fn f() {{\n        todo!(\n            \"dispatch: {task} — book §1.2\"\n        )\n}}\n")
        );
    }

    #[test]
    fn the_section_callback_sees_each_hole_and_its_error_is_returned() {
        let text = "fn f() {\n// exercise-begin: a A.\n// exercise-end\n}\n";
        let err = replace_holes("a.rs", text, |hole| {
            Err(GenError::new("book.md", 0, format!("no {}", hole.id)))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "book.md: error: no a");
    }

    #[test]
    fn an_end_without_a_begin_is_an_error_at_its_line() {
        let text = "fn f() {}\n    // exercise-end\n";
        let err = find_holes("src/a.rs", text).unwrap_err();
        assert_eq!(err.file, "src/a.rs");
        assert_eq!(err.line, 2);
        assert!(err.message.contains("without"), "{}", err.message);
    }

    #[test]
    fn a_begin_without_an_end_is_an_error_at_the_begin() {
        let text = "fn f() {\n    // exercise-begin: open Never closed.\n    1\n}\n";
        let err = find_holes("src/a.rs", text).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("has no `// exercise-end`"));
    }

    #[test]
    fn nested_holes_are_an_error_at_the_inner_begin() {
        let text = "// exercise-begin: outer Outer.\n// exercise-begin: inner Inner.\n// exercise-end\n// exercise-end\n";
        let err = find_holes("a.rs", text).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("do not nest"), "{}", err.message);
    }

    #[test]
    fn malformed_markers_are_errors_not_ordinary_comments() {
        for (text, needle) in [
            ("// exercise-begin dispatch Do it.\n", "malformed"),
            (
                "// exercise-begin: dispatch\n",
                "needs an id and a one-line task",
            ),
            ("// exercise-begin: dis/patch Do it.\n", "may hold only"),
            (
                "// exercise-begin: a A.\n// exercise-end now\n",
                "takes nothing",
            ),
        ] {
            let err = find_holes("a.rs", text).unwrap_err();
            assert!(err.message.contains(needle), "{text:?}: {}", err.message);
        }
    }

    #[test]
    fn doc_comments_that_mention_markers_are_not_markers() {
        let text = "//! Holes are marked with `// exercise-begin: id task`.\n/// exercise-end\nfn f() {}\n";
        assert_eq!(find_holes("a.rs", text).unwrap(), vec![]);
    }

    #[test]
    fn the_allow_line_goes_after_the_inner_doc_comment() {
        let text = "//! Stage 1.\n//! More.\n\npub mod a;\n";
        assert_eq!(
            add_allow_line(text),
            format!("//! Stage 1.\n//! More.\n{ALLOW_LINE}\n\npub mod a;\n")
        );
        assert_eq!(
            add_allow_line("pub mod a;\n"),
            format!("{ALLOW_LINE}\npub mod a;\n")
        );
    }
}
