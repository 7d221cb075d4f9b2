//! The corpus: small programs that state their expectations in their own comments,
//! next to the code they are about (as in Crafting Interpreters' test suite).
//!
//! In a `.mini` file the comments start with `//`, in a `.jasm` file with `;`:
//!
//! ```text
//! print fib(10);            // expect: 55
//! print 1 / 0;              // expect runtime error: division by zero
//! return 7;                 // expect result: 7
//! let let = 1;              // expect load error: 1:5 'let' is reserved
//! ```
//!
//! `expect:` is one printed line, in order. `expect runtime error:` is the message of
//! the error that ends the program, and the line of the comment is the line the error
//! must report. `expect result:` is `main`'s value. `expect load error: LINE:COL TEXT`
//! says the file is rejected at LINE:COL with a message containing TEXT.

use std::fs;
use std::path::{Path, PathBuf};

use crate::outcome::{describe, End, Outcome};

/// Where a file must be rejected, and part of the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadErrorExpectation {
    pub line: u32,
    pub column: u32,
    /// A substring of the expected message.
    pub message: String,
}

/// One program of the corpus with the expectations read from its comments.
#[derive(Clone, Debug)]
pub struct CorpusProgram {
    /// The file name, e.g. `fib.mini`.
    pub name: String,
    /// The full path.
    pub path: PathBuf,
    /// The text of the file.
    pub source: String,
    /// The printed lines, in order.
    pub expected_output: Vec<String>,
    /// The runtime error that ends the program: message and line.
    pub expected_error: Option<(String, u32)>,
    /// `main`'s value, when the program states it.
    pub expected_result: Option<String>,
    /// For a file that must not load: where and why.
    pub expected_load_error: Option<LoadErrorExpectation>,
}

impl CorpusProgram {
    /// Reads one program and its expectations; panics with the file and line on a
    /// malformed expectation or when the program expects nothing at all.
    pub fn read(path: &Path) -> CorpusProgram {
        let source = fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read corpus file {}: {e}", path.display()));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let comment = if name.ends_with(".jasm") { ";" } else { "//" };
        let mut program = CorpusProgram {
            name,
            path: path.to_path_buf(),
            source: String::new(),
            expected_output: Vec::new(),
            expected_error: None,
            expected_result: None,
            expected_load_error: None,
        };
        for (index, line) in source.lines().enumerate() {
            let line_number = index as u32 + 1;
            let where_ = || format!("{}:{line_number}", path.display());
            let Some(at) = line.find(comment) else {
                continue;
            };
            let text = line[at + comment.len()..].trim_start();
            let Some(rest) = text.strip_prefix("expect") else {
                continue;
            };
            if let Some(out) = rest.strip_prefix(':') {
                program.expected_output.push(out.trim().to_string());
            } else if let Some(message) = rest.strip_prefix(" runtime error:") {
                assert!(
                    program.expected_error.is_none(),
                    "{}: a second `expect runtime error`",
                    where_()
                );
                program.expected_error = Some((message.trim().to_string(), line_number));
            } else if let Some(value) = rest.strip_prefix(" result:") {
                program.expected_result = Some(value.trim().to_string());
            } else if let Some(spec) = rest.strip_prefix(" load error:") {
                program.expected_load_error = Some(parse_load_error(spec.trim(), &where_()));
            } else {
                panic!(
                    "{}: unknown expectation `{text}` (expect:, expect runtime error:, \
                     expect result:, expect load error:)",
                    where_()
                );
            }
        }
        let expects_something = !program.expected_output.is_empty()
            || program.expected_error.is_some()
            || program.expected_result.is_some()
            || program.expected_load_error.is_some();
        assert!(
            expects_something,
            "{}: the program expects nothing; add `{comment} expect: ...` comments",
            path.display()
        );
        assert!(
            program.expected_load_error.is_none()
                || (program.expected_error.is_none() && program.expected_output.is_empty()),
            "{}: a program that must not load cannot expect output or a runtime error",
            path.display()
        );
        program.source = source;
        program
    }

    /// Compares what a run did with what the program expects; on a difference, the
    /// error is a report with the program, a diff of its output and both ends.
    pub fn check(&self, actual: &Outcome) -> Result<(), String> {
        let end_ok = match (&self.expected_load_error, &self.expected_error, &actual.end) {
            (
                Some(want),
                _,
                End::LoadError {
                    line,
                    column,
                    message,
                },
            ) => want.line == *line && want.column == *column && message.contains(&want.message),
            (Some(_), _, _) => false,
            (None, Some((want, want_line)), End::RuntimeError { message, line }) => {
                want == message && want_line == line
            }
            (None, Some(_), _) => false,
            (None, None, End::Returned(value)) => self
                .expected_result
                .as_ref()
                .is_none_or(|want| want == value),
            (None, None, _) => false,
        };
        if end_ok && self.expected_output == actual.output {
            return Ok(());
        }
        let expected = Outcome {
            output: self.expected_output.clone(),
            end: self.expected_end(&actual.end),
        };
        Err(describe(&self.name, &self.source, &expected, actual))
    }

    /// The expected end, for reports; where the program leaves a detail open (the
    /// result, the rest of a load error's message) the actual one fills it in.
    fn expected_end(&self, actual: &End) -> End {
        if let Some(want) = &self.expected_load_error {
            return End::LoadError {
                line: want.line,
                column: want.column,
                message: format!("(a message containing) {}", want.message),
            };
        }
        if let Some((message, line)) = &self.expected_error {
            return End::RuntimeError {
                message: message.clone(),
                line: *line,
            };
        }
        match (&self.expected_result, actual) {
            (Some(value), _) => End::Returned(value.clone()),
            (None, End::Returned(value)) => End::Returned(value.clone()),
            (None, _) => End::Returned("(any value)".to_string()),
        }
    }
}

/// `LINE:COL TEXT`.
fn parse_load_error(spec: &str, where_: &str) -> LoadErrorExpectation {
    let parsed = spec.split_once(' ').and_then(|(position, message)| {
        let (line, column) = position.split_once(':')?;
        Some(LoadErrorExpectation {
            line: line.parse().ok()?,
            column: column.parse().ok()?,
            message: message.trim().to_string(),
        })
    });
    parsed.unwrap_or_else(|| {
        panic!("{where_}: expected `expect load error: LINE:COL message`, got `{spec}`")
    })
}

/// Every `.mini` and `.jasm` file directly in `dir` (not in its subfolders), sorted by
/// name. Panics with a clear message when the directory is missing or empty, or when a
/// file states no expectation.
pub fn load(dir: &Path) -> Vec<CorpusProgram> {
    let entries = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("the corpus directory {} cannot be read: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| {
            path.is_file()
                && matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("mini" | "jasm")
                )
        })
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "the corpus directory {} holds no .mini or .jasm file",
        dir.display()
    );
    paths.iter().map(|path| CorpusProgram::read(path)).collect()
}

/// The programs of [`load`]`(dir)` that load (those that must not are stage 1's to
/// check), for a suite that runs them; panics when there are fewer than `at_least`
/// (a corpus that went missing must not pass for an empty one).
pub fn runnable(dir: &Path, at_least: usize) -> Vec<CorpusProgram> {
    let programs: Vec<CorpusProgram> = load(dir)
        .into_iter()
        .filter(|p| p.expected_load_error.is_none())
        .collect();
    assert!(
        programs.len() >= at_least,
        "only {} runnable programs in {}",
        programs.len(),
        dir.display()
    );
    programs
}

/// The programs of [`runnable`]`(dir, at_least)`, each by name with what `load` makes
/// of its name and source (a stage's verified program: the kit knows no stage), for
/// a suite that works on loaded programs rather than runs them.
pub fn loaded<T>(
    dir: &Path,
    at_least: usize,
    mut load: impl FnMut(&str, &str) -> T,
) -> Vec<(String, T)> {
    runnable(dir, at_least)
        .into_iter()
        .map(|p| {
            let program = load(&p.name, &p.source);
            (p.name, program)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("jitlab-testkit-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_every_kind_of_expectation_in_order() {
        let dir = temp_dir("kinds");
        fs::write(
            dir.join("b.mini"),
            "print 1; // expect: 1\nprint [1]; // expect: [1]\n\nprint 1/0; // expect runtime error: division by zero\n",
        )
        .unwrap();
        fs::write(dir.join("a.jasm"), "; expect result: 7\n").unwrap();
        fs::write(dir.join("notes.txt"), "not a program").unwrap();
        let programs = load(&dir);
        let names: Vec<_> = programs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a.jasm", "b.mini"]);
        assert_eq!(programs[0].expected_result.as_deref(), Some("7"));
        assert_eq!(programs[1].expected_output, ["1", "[1]"]);
        assert_eq!(
            programs[1].expected_error,
            Some(("division by zero".to_string(), 4))
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_a_load_error_position_and_message() {
        let dir = temp_dir("load");
        let path = dir.join("e.mini");
        fs::write(
            &path,
            "let let = 1; // expect load error: 1:5 'let' is reserved\n",
        )
        .unwrap();
        let program = CorpusProgram::read(&path);
        assert_eq!(
            program.expected_load_error,
            Some(LoadErrorExpectation {
                line: 1,
                column: 5,
                message: "'let' is reserved".to_string()
            })
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    #[should_panic(expected = "expects nothing")]
    fn a_program_without_expectations_is_refused() {
        let dir = temp_dir("none");
        let path = dir.join("quiet.mini");
        fs::write(&path, "let x = 1; // a comment\n").unwrap();
        CorpusProgram::read(&path);
    }

    #[test]
    #[should_panic(expected = "unknown expectation")]
    fn a_misspelt_expectation_is_refused() {
        let dir = temp_dir("typo");
        let path = dir.join("typo.mini");
        fs::write(&path, "print 1; // expect runtime eror: x\n").unwrap();
        CorpusProgram::read(&path);
    }

    #[test]
    fn check_accepts_a_match_and_reports_a_difference() {
        let dir = temp_dir("check");
        let path = dir.join("c.mini");
        fs::write(
            &path,
            "print 1; // expect: 1\nprint 2/0; // expect runtime error: division by zero\n",
        )
        .unwrap();
        let program = CorpusProgram::read(&path);
        let good = Outcome::new(
            b"1\n",
            End::RuntimeError {
                message: "division by zero".into(),
                line: 2,
            },
        );
        assert_eq!(program.check(&good), Ok(()));
        let wrong_line = Outcome::new(
            b"1\n",
            End::RuntimeError {
                message: "division by zero".into(),
                line: 1,
            },
        );
        let report = program.check(&wrong_line).unwrap_err();
        assert!(report.contains("DIFFERS"), "{report}");
        let wrong_output = Outcome::new(b"2\n", good.end.clone());
        let report = program.check(&wrong_output).unwrap_err();
        assert!(report.contains("- 1\n+ 2\n"), "{report}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn loaded_gives_each_runnable_program_as_the_loader_makes_it() {
        let dir = temp_dir("loaded");
        fs::write(dir.join("a.mini"), "print 1; // expect: 1\n").unwrap();
        fs::write(
            dir.join("b.mini"),
            "let let = 1; // expect load error: 1:5 'let' is reserved\n",
        )
        .unwrap();
        fs::write(dir.join("c.mini"), "print 22; // expect: 22\n").unwrap();
        let programs = loaded(&dir, 2, |name, source| format!("{name}: {}", source.len()));
        assert_eq!(
            programs,
            [
                ("a.mini".to_string(), "a.mini: 22".to_string()),
                ("c.mini".to_string(), "c.mini: 24".to_string()),
            ]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    #[should_panic(expected = "cannot be read")]
    fn a_missing_directory_is_a_clear_panic() {
        load(Path::new("/nonexistent/jitlab/programs"));
    }
}
