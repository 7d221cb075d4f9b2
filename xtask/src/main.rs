//! `cargo xtask`: maintenance of the course. `exercises` regenerates the learner's
//! crates (`exercises/stageN/src/`) from the solutions, and `check` fails when they
//! differ from what it would generate, so exercises and solutions never drift apart.
//! `fixture` and `grade-fixtures` make learner workspaces in known states from the
//! solutions and check what `jitlab grade` says of them.

mod book;
mod fixture;
mod generate;
mod holes;
mod listings;
mod mutants;
mod progress;
mod scratch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use generate::{compare, display, expected_tree, stages, write};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  exercises   regenerate exercises/stageN/src/ from solutions/stageN/src/
  check       fail if exercises/ differs from what `exercises` would write, or a
              listing of the book from what its command prints
  listings    run the commands of the book's listings again and write their output
  fixture KIND DIR
              write a copy of the workspace whose learner crates are KIND:
              fresh, partial, crashing or finished (holes filled from the solutions)
  grade-fixtures
              grade every fixture kind with `jitlab grade --json` and check the
              verdicts (slow: run by CI)
  progress [--stage N]... [--write]
              fill the holes in book order in a scratch copy and check (or --write)
              the book's \"Passing after this hole\" lines against the tests that go green
  mutants [--stage N]... [--hole ID] [--timeout SECS] [--dry-run]
              plant each mistake of xtask/mutants/stageN.txt and report the survivors
              (--dry-run: only check that each one applies; --timeout: per run of a
              suite, by default 3 times the unmutated suite's run and at least 90 s)";

/// The workspace root: the parent of this crate's directory, which `cargo run` (and
/// so `cargo xtask`) names at run time. The path compiled in would be wrong for a
/// binary reused from another checkout sharing the target directory.
fn workspace_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or(manifest_dir)
}

/// What went wrong, printed as is; the exit status is 1.
type Failure = String;

/// Regenerates every stage's exercise sources, printing what changed.
fn exercises(root: &Path) -> Result<(), Failure> {
    for stage in stages(root).map_err(|e| e.to_string())? {
        let tree = expected_tree(root, stage).map_err(|e| e.to_string())?;
        let rel = format!("exercises/stage{stage}/src");
        require_manifest(root, stage)?;
        let diff = write(&tree, &root.join(&rel)).map_err(|e| format!("{rel}: {e}"))?;
        for (what, files) in [
            ("created", &diff.missing),
            ("updated", &diff.changed),
            ("deleted", &diff.extra),
        ] {
            for file in files {
                println!("{what} {rel}/{}", display(file));
            }
        }
        if diff.is_empty() {
            println!("{rel}: up to date");
        }
    }
    Ok(())
}

/// Checks that every stage's exercise sources are what `exercises` would write.
fn check(root: &Path) -> Result<(), Failure> {
    let mut problems = Vec::new();
    for stage in stages(root).map_err(|e| e.to_string())? {
        let tree = expected_tree(root, stage).map_err(|e| e.to_string())?;
        require_manifest(root, stage)?;
        let rel = format!("exercises/stage{stage}/src");
        let diff = compare(&tree, &root.join(&rel)).map_err(|e| format!("{rel}: {e}"))?;
        for (what, files) in [
            ("missing", &diff.missing),
            ("differs", &diff.changed),
            ("not in the solution", &diff.extra),
        ] {
            for file in files {
                problems.push(format!("  {rel}/{}: {what}", display(file)));
            }
        }
    }
    if problems.is_empty() {
        println!("exercises/ agrees with solutions/");
        return check_listings(root);
    }
    Err(format!(
        "error: exercises/ is not what the generator writes from solutions/:\n{}\n\
         fix: run `cargo xtask exercises` (edit the solution, never the exercise)",
        problems.join("\n")
    ))
}

/// Checks that every listing of the book is what its command prints now.
fn check_listings(root: &Path) -> Result<(), Failure> {
    let report = listings::listings(root, false)?;
    if report.stale.is_empty() {
        println!("the book's {} listings agree with the tools", report.count);
        return Ok(());
    }
    Err(format!(
        "error: these listings of the book differ from what their commands print now:\n  {}\n\
         fix: run `cargo xtask listings` (and read the diff: the prose around a listing may \
         need to change too)",
        report.stale.join("\n  ")
    ))
}

/// Runs every listing's commands again and writes their output into the book.
fn refresh_listings(root: &Path) -> Result<(), Failure> {
    let report = listings::listings(root, true)?;
    for at in &report.stale {
        println!("updated the listing at {at}");
    }
    println!("{} listings, {} updated", report.count, report.stale.len());
    Ok(())
}

/// The exercise crate's `Cargo.toml` is written by hand; the generator needs it there.
fn require_manifest(root: &Path, stage: u32) -> Result<(), Failure> {
    let manifest = format!("exercises/stage{stage}/Cargo.toml");
    if root.join(&manifest).is_file() {
        Ok(())
    } else {
        Err(format!(
            "error: {manifest} is missing: write it by hand (like exercises/stage1/Cargo.toml) \
             and add the crate to the workspace members"
        ))
    }
}

/// The `--stage N` values of `args`, and the other arguments.
fn take_stages<'a>(args: &[&'a str]) -> Result<(Vec<u32>, Vec<&'a str>), Failure> {
    let mut stages = Vec::new();
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(&a) = it.next() {
        if a == "--stage" {
            let n = it.next().and_then(|n| n.parse().ok());
            stages.push(n.ok_or_else(|| format!("--stage takes a number\n{USAGE}"))?);
        } else {
            rest.push(a);
        }
    }
    Ok((stages, rest))
}

/// `cargo xtask progress`.
fn progress_command(root: &Path, args: &[&str]) -> Result<(), Failure> {
    let (stages, rest) = take_stages(args)?;
    let write = match rest[..] {
        [] => false,
        ["--write"] => true,
        _ => return Err(USAGE.to_string()),
    };
    progress::run(root, &stages, write)
}

/// `cargo xtask mutants`.
fn mutants_command(root: &Path, args: &[&str]) -> Result<(), Failure> {
    let (stages, rest) = take_stages(args)?;
    let mut options = mutants::Options {
        stages,
        hole: None,
        timeout: None,
        dry_run: false,
    };
    let mut it = rest.iter();
    while let Some(&a) = it.next() {
        if a == "--dry-run" {
            options.dry_run = true;
            continue;
        }
        match (a, it.next()) {
            ("--hole", Some(id)) => options.hole = Some(id.to_string()),
            ("--timeout", Some(s)) => {
                let secs = s
                    .parse()
                    .map_err(|_| format!("--timeout takes seconds\n{USAGE}"))?;
                options.timeout = Some(std::time::Duration::from_secs(secs));
            }
            _ => return Err(USAGE.to_string()),
        }
    }
    mutants::run(root, &options)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["exercises"] => exercises(&root),
        ["check"] => check(&root),
        ["listings"] => refresh_listings(&root),
        ["fixture", kind, dir] => fixture::write_fixture(&root, kind, Path::new(dir)),
        ["grade-fixtures"] => fixture::grade_fixtures(&root),
        ["progress", ref rest @ ..] => progress_command(&root, rest),
        ["mutants", ref rest @ ..] => mutants_command(&root, rest),
        ["help" | "-h" | "--help"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
