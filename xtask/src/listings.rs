//! The book's listings, printed by the tools: a fenced block right after a
//! `<!-- listing -->` line (or `<!-- listing: OPTIONS -->`) holds commands (`$ …`
//! lines) and what they print. `cargo xtask listings` runs every command again and
//! writes its output under it; `cargo xtask check` fails when a listing differs from
//! what the command prints now, so no listing in the book can go stale.
//!
//! Commands are run from the workspace root exactly as written, `cargo` with
//! `--quiet` added (so that only the program's output is kept, stdout then stderr, as a
//! terminal shows them); `cat FILE` is read directly, and `jitlab ARGS` is
//! `cargo run -p jitlab -- ARGS`. OPTIONS narrow what is shown of each command's
//! output (never of a `cat`), separated by spaces:
//!
//! - `fn=NAME`: of a `dump --asm`, only function `NAME`;
//! - `cut=slow-paths`: the slow paths as one `...` line;
//! - `skip=N`, `take=N`: drop the first `N` lines, keep only `N` lines.

use std::fs;
use std::path::Path;
use std::process::Command;

/// The marker line before a listing's block.
const MARKER: &str = "<!-- listing";

/// What the listings of the book are, against what the commands print.
pub struct Report {
    /// Listings that differ, as `file:line` (1-based line of the marker).
    pub stale: Vec<String>,
    /// Listings checked.
    pub count: usize,
}

/// Checks (or, with `write`, refreshes) every listing of `book/src/*.md`.
pub fn listings(root: &Path, write: bool) -> Result<Report, String> {
    let dir = root.join("book/src");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    let mut report = Report {
        stale: Vec::new(),
        count: 0,
    };
    for path in files {
        let rel = format!(
            "book/src/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        let text = fs::read_to_string(&path).map_err(|e| format!("cannot read {rel}: {e}"))?;
        let (fresh, stale, count) = refresh(root, &rel, &text)?;
        report.count += count;
        if !stale.is_empty() && write {
            fs::write(&path, fresh).map_err(|e| format!("cannot write {rel}: {e}"))?;
        }
        report.stale.extend(stale);
    }
    Ok(report)
}

/// `text` (the chapter `file`) with every listing printed afresh, the `file:line` of
/// those that changed, and how many there are.
fn refresh(root: &Path, file: &str, text: &str) -> Result<(String, Vec<String>, usize), String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    let mut stale = Vec::new();
    let mut count = 0;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        out.push_str(line);
        out.push('\n');
        i += 1;
        let Some(options) = marker_options(line) else {
            continue;
        };
        let at = format!("{file}:{i}");
        let open = lines
            .get(i)
            .filter(|l| l.starts_with("```"))
            .ok_or_else(|| format!("{at}: a listing marker must be followed by a ``` block"))?;
        let close = (i + 1..lines.len())
            .find(|&k| lines[k] == "```")
            .ok_or_else(|| format!("{at}: the listing's block is not closed"))?;
        let block = &lines[i + 1..close];
        let printed = print_block(root, &at, block, &Options::parse(&at, options)?)?;
        count += 1;
        if printed != block.iter().map(|l| format!("{l}\n")).collect::<String>() {
            stale.push(at);
        }
        out.push_str(open);
        out.push('\n');
        out.push_str(&printed);
        out.push_str("```\n");
        i = close + 1;
    }
    Ok((out, stale, count))
}

/// The options of a marker line, or `None` if the line is not a marker.
fn marker_options(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix(MARKER)?.strip_suffix("-->")?;
    Some(rest.trim().strip_prefix(':').unwrap_or(rest).trim())
}

/// What a marker asks to keep of each command's output.
#[derive(Default)]
struct Options {
    function: Option<String>,
    cut_slow_paths: bool,
    skip: usize,
    take: Option<usize>,
}

impl Options {
    fn parse(at: &str, text: &str) -> Result<Options, String> {
        let mut options = Options::default();
        for word in text.split_whitespace() {
            let number = |v: &str| {
                v.parse::<usize>()
                    .map_err(|_| format!("{at}: `{word}` needs a number"))
            };
            match word.split_once('=') {
                Some(("fn", name)) => options.function = Some(name.to_string()),
                Some(("cut", "slow-paths")) => options.cut_slow_paths = true,
                Some(("skip", n)) => options.skip = number(n)?,
                Some(("take", n)) => options.take = Some(number(n)?),
                _ => return Err(format!("{at}: unknown listing option `{word}`")),
            }
        }
        Ok(options)
    }

    /// The part of `output` to show.
    fn apply(&self, output: &str) -> String {
        let mut lines: Vec<&str> = output.lines().collect();
        if let Some(name) = &self.function {
            let header = format!("fn {name} (");
            let start = lines.iter().position(|l| l.starts_with(&header));
            lines = match start {
                Some(s) => {
                    let end = (s + 1..lines.len())
                        .find(|&k| lines[k].starts_with("fn "))
                        .unwrap_or(lines.len());
                    lines[s..end].to_vec()
                }
                None => vec!["(no such function in the listing)"],
            };
        }
        if self.cut_slow_paths {
            if let Some(s) = lines.iter().position(|l| *l == "  slow paths") {
                lines.truncate(s + 1);
                lines.push("        ...");
            }
        }
        let lines = lines.into_iter().skip(self.skip);
        let lines: Vec<&str> = match self.take {
            Some(n) => lines.take(n).collect(),
            None => lines.collect(),
        };
        lines.iter().map(|l| format!("{l}\n")).collect()
    }
}

/// The block with the output of each of its `$` commands under it.
fn print_block(root: &Path, at: &str, block: &[&str], options: &Options) -> Result<String, String> {
    let commands: Vec<&str> = block.iter().filter_map(|l| l.strip_prefix("$ ")).collect();
    if commands.is_empty() {
        return Err(format!("{at}: a listing's block has no `$ command` line"));
    }
    let mut out = String::new();
    for command in commands {
        out.push_str(&format!("$ {command}\n"));
        let words: Vec<&str> = command.split_whitespace().collect();
        let printed = match words[..] {
            ["cat", file] => fs::read_to_string(root.join(file))
                .map_err(|e| format!("{at}: cannot read {file}: {e}"))?,
            ["jitlab", ref args @ ..] => {
                let mut cargo = vec!["run", "-p", "jitlab", "--"];
                cargo.extend(args);
                options.apply(&run(root, at, &cargo)?)
            }
            ["cargo", "run", ref args @ ..] => {
                let mut cargo = vec!["run"];
                cargo.extend(args);
                options.apply(&run(root, at, &cargo)?)
            }
            _ => return Err(format!("{at}: cannot run `{command}` in a listing")),
        };
        out.push_str(&printed);
    }
    Ok(out)
}

/// Runs `cargo ARGS --quiet` from `root`: what the program printed, stdout then stderr.
fn run(root: &Path, at: &str, args: &[&str]) -> Result<String, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let (before, after) = match args.iter().position(|a| *a == "--") {
        Some(p) => args.split_at(p),
        None => (args, &[][..]),
    };
    let output = Command::new(cargo)
        .args(before)
        .arg("--quiet")
        .args(after)
        .current_dir(root)
        .env("RUST_BACKTRACE", "0")
        .output()
        .map_err(|e| format!("{at}: cannot run cargo: {e}"))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_and_their_options() {
        assert_eq!(marker_options("<!-- listing -->"), Some(""));
        assert_eq!(
            marker_options("<!-- listing: fn=sum cut=slow-paths -->"),
            Some("fn=sum cut=slow-paths")
        );
        assert_eq!(marker_options("<!-- a comment -->"), None);
        assert!(Options::parse("x", "bogus=1").is_err());
    }

    #[test]
    fn options_narrow_a_dump() {
        let dump = "fn main (arity 0)\n  prologue\n  slow paths\n    a\nfn f (arity 1)\n  0  ret\n  slow paths\n    b\n";
        let options = Options::parse("x", "fn=f cut=slow-paths").unwrap();
        assert_eq!(
            options.apply(dump),
            "fn f (arity 1)\n  0  ret\n  slow paths\n        ...\n"
        );
        let options = Options::parse("x", "skip=1 take=2").unwrap();
        assert_eq!(options.apply(dump), "  prologue\n  slow paths\n");
    }

    #[test]
    fn a_cat_listing_is_refreshed_and_reported() {
        let root = std::env::temp_dir().join(format!("xtask-listings-{}", std::process::id()));
        fs::create_dir_all(&root).unwrap();
        fs::write(root.join("p.mini"), "print 1;\n").unwrap();
        let text = "Intro.\n<!-- listing -->\n```console\n$ cat p.mini\nprint 2;\n```\nAfter.\n";
        let (fresh, stale, count) = refresh(&root, "ch.md", text).unwrap();
        assert_eq!(
            fresh,
            "Intro.\n<!-- listing -->\n```console\n$ cat p.mini\nprint 1;\n```\nAfter.\n"
        );
        assert_eq!((stale, count), (vec!["ch.md:2".to_string()], 1));
        let (again, stale, _) = refresh(&root, "ch.md", &fresh).unwrap();
        assert_eq!((again, stale.len()), (fresh, 0));
        let _ = fs::remove_dir_all(&root);
    }
}
