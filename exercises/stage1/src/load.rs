//! Loading a program: read a file, parse it by its kind (`.jasm` assembly or Mini
//! source) and verify it. This is the one door through which the command line, the
//! suites and the benches get a program to run.

use std::path::Path;

use crate::error::SourceError;
use crate::verify::{verify, Verified};
use crate::{jasm, mini};

/// Parses `text` as `.jasm` when `file` ends in `.jasm`, as Mini otherwise, and
/// verifies it; `file` is the name errors carry.
pub fn load_source(file: &str, text: &str) -> Result<Verified, SourceError> {
    let is_jasm = Path::new(file)
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("jasm"));
    let program = if is_jasm {
        jasm::parse(file, text)?
    } else {
        mini::compile(file, text)?
    };
    verify(program, file)
}

/// Reads the file at `path` and loads it as [`load_source`] does. A file that cannot
/// be read (missing, not UTF-8) is an error at 1:1 with the system's reason.
pub fn load_file(path: &Path) -> Result<Verified, SourceError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| SourceError::new(&file, 1, 1, format!("cannot read the file: {e}")))?;
    load_source(&file, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_picks_the_parser() {
        let mini = load_source("p.mini", "print 1 + 2;").expect("Mini loads");
        let jasm = load_source("p.jasm", &jasm::print(mini.program())).expect("jasm loads");
        assert_eq!(mini.program(), jasm.program());
        // Mini text in a .jasm file is read as assembly, and fails as such.
        let e = load_source("p.jasm", "print 1 + 2;").unwrap_err();
        assert!(e.message.contains("'print' outside a function"), "{e}");
        // Any other name is Mini.
        assert!(load_source("p.txt", "print 1;").is_ok());
    }

    #[test]
    fn load_errors_carry_the_file_name() {
        let e = load_source("dir/bad.mini", "print x;").unwrap_err();
        assert_eq!(e.to_string(), "dir/bad.mini:1:7: error: unknown name 'x'");
        // A program that parses but does not verify.
        let e = load_source(
            "bad.jasm",
            ".fn main params=0 locals=0\n  add\n  return\n.end\n",
        )
        .unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("bad.jasm", 2));
        assert!(e.message.contains("stack underflow"), "{e}");
    }

    #[test]
    fn an_unreadable_file_is_an_error_at_its_start() {
        let path = Path::new("/nonexistent/jitlab/missing.mini");
        let e = load_file(path).unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.line, e.column),
            ("/nonexistent/jitlab/missing.mini", 1, 1)
        );
        assert!(e.message.starts_with("cannot read the file"), "{e}");
    }

    #[test]
    fn a_file_on_disk_loads() {
        let dir = std::env::temp_dir().join(format!("jitlab-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ok.mini");
        std::fs::write(&path, "fn f(x) { return x * 2; }\nprint f(21);\n").unwrap();
        let loaded = load_file(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        let program = loaded.expect("the file loads");
        assert_eq!(program.program().functions.len(), 2);
    }
}
