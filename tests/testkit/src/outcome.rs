//! What running a program did, in plain strings that any stage can produce, and a
//! readable report when two outcomes differ: the program with line numbers, then a
//! diff of the printed lines, then how each run ended.

use std::fmt;

/// How a program ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// `main` returned this value, formatted as `print` writes it.
    Returned(String),
    /// A runtime error: its message and the source line of the innermost frame.
    RuntimeError { message: String, line: u32 },
    /// The program was rejected before it ran: where, and why.
    LoadError {
        line: u32,
        column: u32,
        message: String,
    },
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::Returned(value) => write!(f, "finished, main returned {value}"),
            End::RuntimeError { message, line } => {
                write!(f, "runtime error `{message}` at line {line}")
            }
            End::LoadError {
                line,
                column,
                message,
            } => write!(f, "load error at {line}:{column}: {message}"),
        }
    }
}

/// Everything observable about one run: the printed lines and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// What the program printed, one entry per line, without the newlines.
    pub output: Vec<String>,
    /// How it ended.
    pub end: End,
}

impl Outcome {
    /// An outcome from the raw bytes a program wrote and how it ended.
    pub fn new(output: &[u8], end: End) -> Outcome {
        Outcome {
            output: String::from_utf8_lossy(output)
                .lines()
                .map(str::to_string)
                .collect(),
            end,
        }
    }
}

/// A report for a program whose `actual` outcome differs from the `expected` one:
/// its name, its source with line numbers, a line diff of the output (`-` expected,
/// `+` actual) and both ends.
pub fn describe(name: &str, source: &str, expected: &Outcome, actual: &Outcome) -> String {
    let mut report = format!("program {name}\n--- source ---\n");
    for (i, line) in source.lines().enumerate() {
        report.push_str(&format!("{:4} | {line}\n", i + 1));
    }
    if expected.output == actual.output {
        report.push_str(&format!(
            "--- output: {} line(s), as expected ---\n",
            actual.output.len()
        ));
    } else {
        report.push_str("--- output (- expected, + actual) ---\n");
        report.push_str(&diff_lines(&expected.output, &actual.output));
    }
    let mark = if expected.end == actual.end {
        "as expected"
    } else {
        "DIFFERS"
    };
    report.push_str(&format!(
        "--- end ({mark}) ---\nexpected: {}\nactual:   {}\n",
        expected.end, actual.end
    ));
    report
}

/// The longest common subsequence of two line lists, as a unified-style listing.
/// Past a few thousand lines it falls back to a line-by-line comparison.
fn diff_lines(expected: &[String], actual: &[String]) -> String {
    const MAX_LCS_CELLS: usize = 4_000_000;
    let mut out = String::new();
    let (n, m) = (expected.len(), actual.len());
    if (n + 1) * (m + 1) > MAX_LCS_CELLS {
        for i in 0..n.max(m) {
            match (expected.get(i), actual.get(i)) {
                (Some(e), Some(a)) if e == a => out.push_str(&format!("  {e}\n")),
                (e, a) => {
                    if let Some(e) = e {
                        out.push_str(&format!("- {e}\n"));
                    }
                    if let Some(a) = a {
                        out.push_str(&format!("+ {a}\n"));
                    }
                }
            }
        }
        return out;
    }
    // lcs[i][j]: length of the longest common subsequence of expected[i..], actual[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if expected[i] == actual[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && expected[i] == actual[j] {
            out.push_str(&format!("  {}\n", expected[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("- {}\n", expected[i]));
            i += 1;
        } else {
            out.push_str(&format!("+ {}\n", actual[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn diff_marks_a_missing_and_an_extra_line() {
        let diff = diff_lines(&lines("1\n2\n3"), &lines("1\n3\n4"));
        assert_eq!(diff, "  1\n- 2\n  3\n+ 4\n");
    }

    #[test]
    fn describe_shows_numbered_source_and_both_ends() {
        let expected = Outcome::new(
            b"1\n",
            End::RuntimeError {
                message: "division by zero".into(),
                line: 2,
            },
        );
        let actual = Outcome::new(b"1\n", End::Returned("0".into()));
        let report = describe("t.mini", "print 1;\nprint 1 / 0;", &expected, &actual);
        assert!(report.contains("   2 | print 1 / 0;"), "{report}");
        assert!(report.contains("as expected ---"), "{report}");
        assert!(
            report.contains("expected: runtime error `division by zero` at line 2"),
            "{report}"
        );
        assert!(
            report.contains("actual:   finished, main returned 0"),
            "{report}"
        );
    }
}
