//! Running a stage's own binary (`cargo run -p stageN -- run FILE`) from a test: every
//! stage's binary has `jitlab`'s commands, output and exit statuses, and these checks
//! are the same for each; what differs (the engine's name, the dump) stays with each.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A stage's binary, run from the workspace root (where `examples/` is).
pub struct Binary {
    exe: PathBuf,
    root: PathBuf,
}

impl Binary {
    /// The binary at `exe` (`env!("CARGO_BIN_EXE_…")`) of the crate whose manifest
    /// directory, two levels below the root, is `manifest_dir`.
    pub fn new(exe: &str, manifest_dir: &str) -> Binary {
        Binary {
            exe: PathBuf::from(exe),
            root: Path::new(manifest_dir).join("../.."),
        }
    }

    /// Runs the binary with `args` and waits for it.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.exe)
            .args(args)
            .current_dir(&self.root)
            .output()
            .unwrap()
    }

    /// Runs `run --stats examples/fib.mini`, asserts it printed fib's answer and
    /// exited 0, and returns what it wrote on stderr (the stats).
    #[track_caller]
    pub fn run_fib_with_stats(&self) -> String {
        let out = self.run(&["run", "--stats", "examples/fib.mini"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "832040\n");
        text(&out.stderr)
    }

    /// Asserts `jitlab`'s exit statuses and messages: 2 for a file that cannot be read,
    /// 1 for a runtime error, after the output printed before it.
    #[track_caller]
    pub fn assert_jitlab_exit_statuses(&self) {
        let missing = self.run(&["run", "no/such.mini"]);
        assert_eq!(missing.status.code(), Some(2));
        assert_eq!(
            text(&missing.stderr),
            "error: cannot read no/such.mini: No such file or directory\n"
        );
        let stem = self.exe.file_stem().unwrap().to_string_lossy();
        let dir = std::env::temp_dir().join(format!("{stem}-bin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("div.mini");
        std::fs::write(&file, "print 1;\nprint 1 / 0;\n").unwrap();
        let failed = self.run(&["run", file.to_str().unwrap()]);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(failed.status.code(), Some(1));
        assert_eq!(text(&failed.stdout), "1\n");
        assert_eq!(
            text(&failed.stderr),
            "error: division by zero\n  at main (line 2)\n"
        );
    }
}

/// Bytes a binary wrote, as text (they are UTF-8).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}
