//! The command line as a user meets it: the built `jitlab` binary, run on files, judged
//! by its exit status, stdout and stderr.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh directory under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("jitlab-cli-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes `text` to `rel` under the directory and returns its path.
    fn put(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The workspace root (this crate's parent).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn jitlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jitlab"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn run_file(path: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", path.to_str().unwrap()];
    args.extend(extra);
    jitlab(&args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited, not killed by a signal")
}

/// The `// expect: X` lines of a program, in order.
fn expectations(source: &str) -> String {
    source
        .lines()
        .filter_map(|l| {
            l.split_once("// expect: ")
                .map(|(_, e)| format!("{}\n", e.trim()))
        })
        .collect()
}

#[test]
fn fib_prints_its_answer_and_exits_0() {
    let out = jitlab(&["run", "examples/fib.mini"]);
    assert_eq!(stderr(&out), "");
    assert_eq!(stdout(&out), "832040\n");
    assert_eq!(code(&out), 0);
}

#[test]
fn every_example_prints_what_its_comments_expect() {
    let mut examples: Vec<PathBuf> = fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mini"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 4, "{examples:?}");
    for path in examples {
        let expected = expectations(&fs::read_to_string(&path).unwrap());
        assert!(!expected.is_empty(), "{} expects nothing", path.display());
        let out = run_file(&path, &[]);
        assert_eq!(stderr(&out), "", "{}", path.display());
        assert_eq!(stdout(&out), expected, "{}", path.display());
        assert_eq!(code(&out), 0, "{}", path.display());
    }
}

#[test]
fn a_runtime_error_flushes_output_then_reports_on_stderr_with_exit_1() {
    let t = TempDir::new("runtime");
    let file = t.put(
        "div.mini",
        "fn div(a, b) {\n  return a / b;\n}\nprint 1;\nprint div(1, 0);\nprint 2;\n",
    );
    let out = run_file(&file, &[]);
    assert_eq!(stdout(&out), "1\n");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            "error: division by zero",
            "  at div (line 2)",
            "  at main (line 5)"
        ]
    );
    assert_eq!(code(&out), 1);
}

#[test]
fn deep_recursion_is_a_stack_overflow_error_not_a_crash() {
    let t = TempDir::new("deep");
    let file = t.put(
        "deep.mini",
        "fn down(n) {\n  return down(n + 1);\n}\ndown(0);\n",
    );
    let out = run_file(&file, &[]);
    let err = stderr(&out);
    assert_eq!(err.lines().next(), Some("error: stack overflow"), "{err}");
    assert!(err.lines().count() <= 2 + 21, "the trace is capped: {err}");
    assert_eq!(code(&out), 1);
}

#[test]
fn a_file_that_does_not_compile_is_reported_at_its_place_with_exit_2() {
    let t = TempDir::new("load");
    let file = t.put("bad.mini", "print 1;\nprint nope;\n");
    let out = run_file(&file, &[]);
    let err = stderr(&out);
    let first = err.lines().next().unwrap_or_default();
    let prefix = format!("{}:2:7: error: ", file.display());
    assert!(
        first.starts_with(&prefix),
        "{first:?} should start with {prefix:?}"
    );
    assert!(first.contains("nope"), "{first}");
    assert_eq!(stdout(&out), "", "nothing runs before the program loads");
    assert_eq!(code(&out), 2);
}

#[test]
fn a_missing_file_is_exit_2_with_a_message() {
    let out = jitlab(&["run", "no/such/file.mini"]);
    let err = stderr(&out);
    assert_eq!(
        err,
        "error: cannot read no/such/file.mini: No such file or directory\n"
    );
    assert_eq!(stdout(&out), "");
    assert_eq!(code(&out), 2);
}

#[test]
fn a_stage_past_the_course_is_exit_2() {
    let out = jitlab(&["run", "examples/fib.mini", "--stage", "8"]);
    let err = stderr(&out);
    // Every stage is built: the only stage not to be had is one the course has not.
    assert!(
        err.starts_with("error: invalid value '8' for '--stage <STAGE>': 8 is not in 1..=7"),
        "{err}"
    );
    assert_eq!(stdout(&out), "");
    assert_eq!(code(&out), 2);
}

#[test]
fn bad_arguments_are_clap_usage_errors() {
    for args in [
        &["run", "examples/fib.mini", "--stage", "0"][..],
        &["run", "examples/fib.mini", "--stage", "8"],
        &["run"],
        &["frobnicate"],
        &[],
    ] {
        let out = jitlab(args);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{args:?}");
        assert!(
            err.contains("Usage: jitlab") || err.contains("try '--help'"),
            "{args:?}: {err}"
        );
        assert_eq!(stdout(&out), "", "{args:?}");
    }
}

#[test]
fn stage_2_runs_the_stage_1_engine() {
    let one = jitlab(&["run", "examples/shapes.mini", "--stage", "1"]);
    let two = jitlab(&["run", "examples/shapes.mini", "--stage", "2"]);
    assert_eq!(code(&two), 0, "{}", stderr(&two));
    assert_eq!(stdout(&one), stdout(&two));
    assert!(stdout(&two).starts_with("351\n"));
}

#[test]
fn stage_6_runs_with_and_without_inline_caches_alike() {
    let cached = jitlab(&["run", "examples/shapes.mini", "--stage", "6"]);
    assert_eq!(code(&cached), 0, "{}", stderr(&cached));
    let plain = jitlab(&["run", "examples/shapes.mini", "--no-ic"]);
    assert_eq!(code(&plain), 0, "{}", stderr(&plain));
    let one = jitlab(&["run", "examples/shapes.mini", "--stage", "1"]);
    assert_eq!(stdout(&cached), stdout(&one));
    assert_eq!(stdout(&plain), stdout(&one));
    // Engines without caches refuse the flag rather than ignore it.
    let five = jitlab(&["run", "examples/shapes.mini", "--stage", "5", "--no-ic"]);
    assert_eq!(code(&five), 2);
    assert!(stderr(&five).contains("--no-ic"), "{}", stderr(&five));
}

#[test]
fn stage_7_runs_alike_with_and_without_speculation_stressed_or_not() {
    let one = jitlab(&["run", "examples/shapes.mini", "--stage", "1"]);
    for flags in [
        &["--no-speculation"][..],
        &["--tier-up", "0", "--deopt-every", "1"],
        &["--tier-up", "1", "--stress-deopt", "42", "--sync-compile"],
        &["--trace-deopt", "--deopt-every", "3"],
    ] {
        let mut args = vec!["run", "examples/shapes.mini"];
        args.extend_from_slice(flags);
        let out = jitlab(&args);
        assert_eq!(code(&out), 0, "{flags:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), stdout(&one), "{flags:?}");
    }
    // Each deopt traced with the frames it rebuilt, on stderr alone (the first guard
    // main checks may be in a call inlined into it: one frame rebuilt, or two).
    let traced = jitlab(&[
        "run",
        "examples/shapes.mini",
        "--tier-up",
        "0",
        "--sync-compile",
        "--deopt-every",
        "1",
        "--trace-deopt",
    ]);
    assert_eq!(stdout(&traced), stdout(&one));
    let trace = stderr(&traced);
    let first: Vec<&str> = trace.lines().take(2).collect();
    assert!(
        first[0].starts_with("deopt: deopt main at pc ")
            && first[0].contains(": stress, ")
            && first[0].contains(" frames rebuilt (guard "),
        "{trace}"
    );
    assert!(first[1].starts_with("  frame 0: main at pc "), "{trace}");
    assert!(first[1].contains("locals [") && first[1].contains("operands ["));
    // Engines that do not speculate refuse the flags rather than ignore them.
    for flag in [
        &["--no-speculation"][..],
        &["--trace-deopt"],
        &["--stress-deopt", "1"],
        &["--deopt-every", "2"],
    ] {
        let mut args = vec!["run", "examples/shapes.mini", "--stage", "6"];
        args.extend_from_slice(flag);
        let out = jitlab(&args);
        assert_eq!(code(&out), 2, "{flag:?}");
        assert_eq!(
            stderr(&out),
            format!(
                "error: {}: the engine of stage 6 does not speculate; stage 7 adds it\n",
                flag[0]
            )
        );
    }
    // Stress needs guards, and a countdown from 1.
    let zero = jitlab(&["run", "examples/shapes.mini", "--deopt-every", "0"]);
    assert_eq!(code(&zero), 2);
    assert!(
        stderr(&zero).contains("--deopt-every 0"),
        "{}",
        stderr(&zero)
    );
    let both = jitlab(&[
        "run",
        "examples/shapes.mini",
        "--no-speculation",
        "--stress-deopt",
        "5",
    ]);
    assert_eq!(code(&both), 2);
    assert_eq!(
        stderr(&both),
        "error: --stress-deopt 5: with --no-speculation the code has no guards to deoptimize at\n"
    );
}

#[test]
fn dump_shapes_runs_the_program_and_prints_its_transition_tree() {
    let out = jitlab(&["dump", "--shapes", "examples/shapes.mini"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let tree = stdout(&out);
    // What the program prints is not in it; its objects' fields are.
    assert!(!tree.contains("351"), "{tree}");
    for field in ["kind", "w", "h", "r", "x", "y", "z"] {
        assert!(tree.contains(field), "no `{field}` in\n{tree}");
    }
    let asm = jitlab(&["dump", "--shapes", "--asm", "examples/shapes.mini"]);
    assert_eq!(code(&asm), 2, "--shapes and --asm are one or the other");
}

/// The value of the `--stats` row named `key`.
fn stat(table: &str, key: &str) -> String {
    table
        .lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in {table}"))
        .trim()
        .to_string()
}

#[test]
fn stats_show_counters_on_stderr_after_the_run() {
    let t = TempDir::new("stats");
    let file = t.put(
        "fib.mini",
        "fn fib(n) {\n  if n < 2 { return n; }\n  return fib(n - 1) + fib(n - 2);\n}\nprint fib(10);\n",
    );
    let out = run_file(&file, &["--stats", "--stage", "1"]);
    assert_eq!(stdout(&out), "55\n", "stats never go to stdout");
    let table = stderr(&out);
    assert!(table.starts_with("stats:\n"), "{table}");
    assert_eq!(stat(&table, "engine"), "interpreter (stage 1)");
    // fib(10) makes 177 calls; main counts as one more.
    assert_eq!(stat(&table, "calls"), "178");
    let instructions: u64 = stat(&table, "instructions")
        .replace(',', "")
        .parse()
        .unwrap();
    assert!(instructions > 177 * 5, "{instructions}");
    assert!(stat(&table, "time").ends_with(" ms"));
    assert_eq!(code(&out), 0);

    let plain = run_file(&file, &[]);
    assert_eq!(stderr(&plain), "", "no stats unless asked");

    // The default engine is the highest stage's, the speculating JIT (tiers, inline
    // caches, deopts): it reports its tier-ups, its tier table, its shapes and its
    // deopts.
    let jit = run_file(&file, &["--stats", "--sync-compile"]);
    assert_eq!(stdout(&jit), "55\n");
    let table = stderr(&jit);
    assert_eq!(stat(&table, "engine"), "speculating JIT (stage 7)");
    assert!(table.contains("inline caches: "), "{table}");
    assert!(table.contains("\ndeopts:"), "{table}");
    let cached = run_file(&file, &["--stats", "--sync-compile", "--stage", "6"]);
    assert_eq!(
        stat(&stderr(&cached), "engine"),
        "tiered JIT with inline caches (stage 6)"
    );
    let tiered = run_file(&file, &["--stats", "--sync-compile", "--stage", "5"]);
    assert_eq!(stat(&stderr(&tiered), "engine"), "tiered JIT (stage 5)");
    let table = stderr(&jit);
    assert_eq!(stat(&table, "calls"), "178");
    assert!(
        table.contains("event: tier-up fib: interpreter -> baseline after 100 calls"),
        "{table}"
    );
    assert!(table.contains("\ntiers:\n"), "{table}");
    let optimizer = run_file(&file, &["--stats", "--stage", "4"]);
    let table = stderr(&optimizer);
    assert_eq!(stat(&table, "engine"), "optimizing JIT (stage 4)");
    assert!(
        table.contains("event: compiled fib (optimizing)"),
        "{table}"
    );
    let baseline = run_file(&file, &["--stats", "--stage", "3"]);
    let table = stderr(&baseline);
    assert_eq!(stat(&table, "engine"), "template JIT (stage 3)");
    assert!(table.contains("event: compiled fib (baseline)"), "{table}");
}

#[test]
fn dump_prints_jasm_that_runs_the_same_and_dumps_the_same() {
    let t = TempDir::new("dump");
    for example in ["fib", "primes", "shapes", "functions"] {
        let mini = root().join(format!("examples/{example}.mini"));
        let dumped = jitlab(&["dump", mini.to_str().unwrap()]);
        assert_eq!(code(&dumped), 0, "{example}: {}", stderr(&dumped));
        let text = stdout(&dumped);
        assert!(text.contains("main"), "{example}: {text}");
        let jasm = t.put(&format!("{example}.jasm"), &text);

        let from_mini = run_file(&mini, &[]);
        let from_jasm = run_file(&jasm, &[]);
        assert_eq!(code(&from_jasm), 0, "{example}: {}", stderr(&from_jasm));
        assert_eq!(stdout(&from_jasm), stdout(&from_mini), "{example}");

        let again = jitlab(&["dump", jasm.to_str().unwrap()]);
        assert_eq!(stdout(&again), text, "{example}: printing is canonical");
    }
}

#[test]
fn dump_of_a_bad_file_is_exit_2() {
    let t = TempDir::new("dumpbad");
    let file = t.put("bad.mini", "print (1;\n");
    let out = jitlab(&["dump", file.to_str().unwrap()]);
    assert!(
        stderr(&out).starts_with(&format!("{}:1:", file.display())),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "");
    assert_eq!(code(&out), 2);
}

#[test]
fn a_large_output_arrives_whole() {
    let t = TempDir::new("large");
    let file = t.put(
        "count.mini",
        "let i = 0;\nwhile i < 200000 {\n  print i;\n  i = i + 1;\n}\n",
    );
    let out = run_file(&file, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 200_000);
    assert!(text.ends_with("\n199999\n"));
}

/// A workspace with learner crates in four states, graded from inside one of them.
#[test]
fn grade_reports_each_stage_and_the_next_todo() {
    let t = TempDir::new("grade");
    t.put(
        "Cargo.toml",
        "[workspace]\nresolver = \"2\"\nmembers = [\"exercises/*\"]\n",
    );
    let crate_with = |n: u32, lib: &str| {
        t.put(
            &format!("exercises/stage{n}/Cargo.toml"),
            &format!("[package]\nname = \"stage{n}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        );
        t.put(&format!("exercises/stage{n}/src/lib.rs"), lib);
    };
    let tests = "#[cfg(test)]\nmod tests {\n    #[test]\n    fn add() { assert_eq!(super::add(2, 3), 5); }\n    #[test]\n    fn mul() { assert_eq!(super::mul(2, 3), 6); }\n    #[test]\n    fn sub() { assert_eq!(super::sub(2, 3), -1); }\n}\n";
    crate_with(
        1,
        &format!("pub fn add(a: i64, b: i64) -> i64 {{ a + b }}\npub fn mul(a: i64, b: i64) -> i64 {{ todo!(\"mul: Multiply. — book §1.3\") }}\npub fn sub(a: i64, b: i64) -> i64 {{ todo!(\"sub: Subtract. — book §1.2\") }}\n{tests}"),
    );
    crate_with(
        2,
        &format!("pub fn add(a: i64, b: i64) -> i64 {{ todo!(\"add: Add. — book §2.1\") }}\npub fn mul(a: i64, b: i64) -> i64 {{ todo!(\"mul: Multiply. — book §2.2\") }}\npub fn sub(a: i64, b: i64) -> i64 {{ todo!(\"sub: Subtract. — book §2.3\") }}\n{tests}"),
    );
    crate_with(3, "pub fn broken() -> i64 { \"not a number\" }\n");
    crate_with(
        4,
        &format!("pub fn add(a: i64, b: i64) -> i64 {{ a + b }}\npub fn mul(a: i64, b: i64) -> i64 {{ a * b }}\npub fn sub(a: i64, b: i64) -> i64 {{ a - b }}\n{tests}"),
    );

    let out = Command::new(env!("CARGO_BIN_EXE_jitlab"))
        .arg("grade")
        .current_dir(t.0.join("exercises/stage2/src"))
        .env("CARGO_TARGET_DIR", t.0.join("target"))
        .output()
        .unwrap();
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..5],
        [
            "stage  name          status",
            "1      interpreter   1/3 tests passed",
            "2      code buffer   0/3 tests passed",
            "3      template JIT  does not compile",
            "4      optimizer     passed (3 tests)",
        ],
        "{text}\n{}",
        stderr(&out)
    );
    // The first failing test and its one-line reason, then the next hole (in source
    // order here: this workspace has neither book nor solutions, so the holes are its
    // todo!()s and no stage is "not started" without running its tests).
    assert_eq!(
        lines[6],
        "stage 1 first failing test: `tests::mul`: hole `mul` not written yet — book §1.3"
    );
    assert_eq!(
        lines[7],
        "stage 1 next hole: `mul` — (no book section) (jitlab hint mul)"
    );
    assert_eq!(
        lines[8],
        "stage 2 first failing test: `tests::add`: hole `add` not written yet — book §2.1"
    );
    assert!(
        lines[10].starts_with(
            "stage 3 cargo says: error[E0308]: mismatched types --> exercises/stage3/src/lib.rs:1:"
        ),
        "{text}"
    );
    assert_eq!(code(&out), 1, "not every stage passes");

    let one = Command::new(env!("CARGO_BIN_EXE_jitlab"))
        .args(["grade", "--stage", "4"])
        .current_dir(&t.0)
        .env("CARGO_TARGET_DIR", t.0.join("target"))
        .output()
        .unwrap();
    assert_eq!(
        stdout(&one),
        "stage  name       status\n4      optimizer  passed (3 tests)\n"
    );
    assert_eq!(code(&one), 0);

    // The same for an autograder: one JSON object, stage by stage and test by test.
    let json = Command::new(env!("CARGO_BIN_EXE_jitlab"))
        .args(["grade", "--json", "--stage", "1"])
        .current_dir(&t.0)
        .env("CARGO_TARGET_DIR", t.0.join("target"))
        .output()
        .unwrap();
    let text = stdout(&json);
    assert!(text.starts_with("{\"stages\": ["), "{text}");
    assert!(
        text.contains("\"stage\": 1, \"name\": \"interpreter\", \"status\": \"failed\", \"passed\": 1, \"total\": 3"),
        "{text}"
    );
    assert!(
        text.contains(
            "{\"test\": \"tests::add\", \"status\": \"passed\", \"hole\": null, \"message\": null}"
        ),
        "{text}"
    );
    assert!(text.contains("\"next_hole\": \"mul\""), "{text}");
    assert!(
        text.contains("{\"test\": \"tests::mul\", \"status\": \"failed\", \"hole\": \"mul\""),
        "{text}"
    );
    assert_eq!(code(&json), 1);

    let missing = Command::new(env!("CARGO_BIN_EXE_jitlab"))
        .args(["grade", "--stage", "5"])
        .current_dir(&t.0)
        .output()
        .unwrap();
    assert!(stderr(&missing).starts_with("error: stage 5 (tiering) has no exercise crate"));
    assert_eq!(code(&missing), 2);
}

#[test]
fn closed_output_pipes_end_in_a_clean_exit_not_a_panic() {
    // `jitlab run f | head -1`: stdout and stderr closed before the program is done.
    // Writing then fails with EPIPE; that must be an error exit (1), never a Rust
    // panic (101) or a signal.
    let dir = TempDir::new("pipes");
    let file = dir.put(
        "deep.mini",
        "let i = 0;\nwhile i < 50000 { print i; i = i + 1; }\nfn r(n) { return r(n + 1); }\nr(0);\n",
    );
    for stage in ["1", "3", "4"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_jitlab"))
            .args(["run", "--stage", stage, file.to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(1), "stage {stage}: {status:?}");
    }
}

#[test]
fn a_program_that_prints_to_a_closed_stdout_fails_with_cannot_write_output() {
    // No runtime error of its own: only the lost output can make the exit status 1.
    let dir = TempDir::new("closed");
    let prints = dir.put("prints.mini", "print 1;\nprint [1, 2];\n");
    let quiet = dir.put("quiet.mini", "let x = 1;\n");
    // More than a pipe holds, so some write surely comes after the reader is gone.
    let many = dir.put(
        "many.mini",
        "let i = 0;\nwhile i < 100000 { print i; i = i + 1; }\n",
    );
    for stage in ["1", "3", "4", "7"] {
        // `| head -0`: the reading end is gone before the program writes.
        let mut child = Command::new(env!("CARGO_BIN_EXE_jitlab"))
            .args(["run", "--stage", stage, many.to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(code(&out), 1, "stage {stage}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot write output"),
            "{}",
            stderr(&out)
        );
        // `>&-`: standard output closed outright.
        for (file, expected) in [(&prints, 1), (&quiet, 0)] {
            let out = Command::new("sh")
                .args(["-c", "exec \"$0\" run --stage \"$1\" \"$2\" >&-"])
                .args([env!("CARGO_BIN_EXE_jitlab"), stage, file.to_str().unwrap()])
                .output()
                .unwrap();
            assert_eq!(
                code(&out),
                expected,
                "stage {stage} {file:?}: {}",
                stderr(&out)
            );
            if expected == 1 {
                assert!(
                    stderr(&out).contains("cannot write output"),
                    "{}",
                    stderr(&out)
                );
            }
        }
        // `1<>/dev/null`: open, read-write, as Python's `subprocess.DEVNULL` and
        // Node's `'ignore'` give it; indistinguishable from a closed descriptor once
        // Rust's runtime has filled it, but a place a program may print to.
        let out = Command::new("sh")
            .args(["-c", "exec \"$0\" run --stage \"$1\" \"$2\" 1<>/dev/null"])
            .args([
                env!("CARGO_BIN_EXE_jitlab"),
                stage,
                prints.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "stage {stage}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "stage {stage}");
    }
}

#[test]
fn dump_asm_stage_4_prints_each_ir_instruction_with_its_pc_and_machine_code() {
    let fib = root().join("examples/fib.mini");
    for args in [&["dump", "--asm"][..], &["dump", "--asm", "--stage", "4"]] {
        let out = jitlab(&[args, &[fib.to_str().unwrap()]].concat());
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("fn fib (arity 1"), "{text}");
        // IR lines with their bytecode pc, each followed by its x86-64.
        assert!(text.contains("pc "), "{text}");
        assert!(text.contains("call f"), "{text}");
        assert!(text.contains("push rbp"), "{text}");
        assert!(text.contains("ret"), "{text}");
    }
}

#[test]
fn a_native_stack_the_system_refuses_runs_the_program_in_the_interpreter() {
    // f recurses with a 90 KB frame: stage 3 asks for an 880 MB native stack, which
    // `ulimit -v 700000` refuses. The run must still give the interpreter's answer,
    // saying why, never an error of its own.
    let dir = TempDir::new("ulimit");
    let literal = vec!["n"; 11_000].join(",");
    let file = dir.put(
        "frames.mini",
        &format!(
            "fn f(n) {{\n  if n == 0 {{ return 0; }}\n  let a = [{literal}];\n  return f(n - 1) + len(a);\n}}\nprint f(3);\n"
        ),
    );
    let out = Command::new("sh")
        .args([
            "-c",
            "ulimit -v 700000 && exec \"$0\" run --stage 3 --stats \"$1\"",
        ])
        .args([env!("CARGO_BIN_EXE_jitlab"), file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "33000\n");
    assert!(
        stderr(&out).contains("runs in the interpreter"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn dump_asm_prints_each_instruction_with_its_machine_code() {
    let fib = root().join("examples/fib.mini");
    let out = jitlab(&["dump", "--asm", "--stage", "3", fib.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("fn fib (arity 1"), "{text}");
    // Bytecode lines, each followed by the x86-64 the template made of it.
    assert!(text.contains("call fib 1"), "{text}");
    assert!(text.contains("push rbp"), "{text}");
    assert!(text.contains("ret"), "{text}");
}

#[test]
fn dump_asm_is_the_same_on_every_run_and_names_what_it_calls() {
    let file = root().join("examples/shapes.mini");
    let first = jitlab(&["dump", "--asm", "--stage", "3", file.to_str().unwrap()]);
    let second = jitlab(&["dump", "--asm", "--stage", "3", file.to_str().unwrap()]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let text = stdout(&first);
    assert_eq!(text, stdout(&second));
    // A helper's address changes from run to run: the listing names it instead.
    let loads: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("mov r11, rt_"))
        .collect();
    assert!(!loads.is_empty(), "{text}");
    assert!(
        loads.iter().all(|l| l.contains(".. .. .. .. .. .. .. ..")),
        "{loads:?}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("call r11") && l.ends_with("; rt_print")),
        "{text}"
    );
    // No number in the listing is wider than 32 bits (no raw address is left).
    let wide = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.starts_with("0x") && w.len() > 10)
        .collect::<Vec<_>>();
    assert!(wide.is_empty(), "{wide:?}");
}

#[test]
fn dump_asm_names_calls_branches_and_constants() {
    let t = TempDir::new("asmnames");
    let file = t.put(
        "p.mini",
        "fn add(a, b) { return a + b; }\nlet n = 0;\nwhile n < 3 { n = n + 1; }\nprint add(n, 41);\n",
    );
    let out = jitlab(&["dump", "--asm", "--stage", "3", file.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let line_with = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in\n{text}"))
    };
    // A call of another function shows its name for the target.
    assert!(
        text.lines()
            .any(|l| l.contains(": e8 ") && l.ends_with(" call add")),
        "{text}"
    );
    assert!(line_with("0x52").ends_with("; 41"));
    // The loop's back edge goes to the instruction its `loop` names.
    let target = line_with("  loop ")
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    assert!(line_with("jmp short").ends_with(&format!("; pc {target}")));
    assert!(line_with("jb ").ends_with("; stack overflow"));
    assert!(text.contains("; type error at pc "), "{text}");
}

/// The perf map `jitlab run --perf-map --stage STAGE FILE` writes: each line's start,
/// size and name, and the whole text.
fn perf_map(stage: &str, file: &Path) -> (Vec<(u64, u64, String)>, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_jitlab"))
        .args([
            "run",
            "--perf-map",
            "--stage",
            stage,
            file.to_str().unwrap(),
        ])
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let map = PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = fs::read_to_string(&map).expect("the perf map is written");
    let _ = fs::remove_file(&map);
    let entries: Vec<(u64, u64, String)> = text
        .lines()
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let mut hex = || u64::from_str_radix(parts.next().unwrap(), 16).unwrap();
            let (start, size) = (hex(), hex());
            (start, size, parts.next().unwrap().to_string())
        })
        .collect();
    (entries, text)
}

#[test]
fn perf_map_lists_the_trampoline_and_every_function_at_its_address() {
    let fib = root().join("examples/fib.mini");
    let (entries, text) = perf_map("3", &fib);
    let names: Vec<&str> = entries.iter().map(|e| e.2.as_str()).collect();
    assert_eq!(
        names,
        [
            "jitlab::trampoline",
            "mini::main [baseline]",
            "mini::fib [baseline]"
        ]
    );
    // Each range is as long as the listing's function, whose offsets count from the
    // function's start (the map's START), and the ranges tile the code.
    let listing = stdout(&jitlab(&[
        "dump",
        "--asm",
        "--stage",
        "3",
        fib.to_str().unwrap(),
    ]));
    let base = entries[0].0;
    for (start, size, name) in &entries[1..] {
        let function = name
            .trim_start_matches("mini::")
            .trim_end_matches(" [baseline]");
        let header = format!("fn {function} (");
        let at = listing.find(&header).unwrap();
        let bytes = listing[at..].split(": ").nth(1).unwrap();
        let bytes: u64 = bytes.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(*size, bytes, "{name}");
        let first = listing[at..].lines().nth(2).unwrap().trim();
        assert!(first.starts_with("0000: "), "{name}: {first}");
        assert!(*start > base, "{name}");
    }
    for pair in entries.windows(2) {
        assert_eq!(pair[0].0 + pair[0].1, pair[1].0, "{text}");
    }
}

#[test]
fn perf_map_names_the_functions_stage_4_optimized_at_their_addresses() {
    let fib = root().join("examples/fib.mini");
    let (entries, text) = perf_map("4", &fib);
    let names: Vec<&str> = entries.iter().map(|e| e.2.as_str()).collect();
    assert_eq!(
        names,
        [
            "jitlab::trampoline",
            "mini::main [optimized]",
            "mini::fib [optimized]"
        ]
    );
    // Each range is as long as stage 4's listing says its function's code is, and the
    // ranges tile the code.
    let listing = stdout(&jitlab(&[
        "dump",
        "--asm",
        "--stage",
        "4",
        fib.to_str().unwrap(),
    ]));
    for (_, size, name) in &entries[1..] {
        let function = name
            .trim_start_matches("mini::")
            .trim_end_matches(" [optimized]");
        let header = format!("fn {function} (");
        let at = listing.find(&header).unwrap();
        let bytes = listing[at..].split(": ").nth(1).unwrap();
        let bytes: u64 = bytes.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(*size, bytes, "{name}");
    }
    for pair in entries.windows(2) {
        assert_eq!(pair[0].0 + pair[0].1, pair[1].0, "{text}");
    }
}

#[test]
fn perf_map_with_the_interpreter_is_refused() {
    let out = jitlab(&["run", "--perf-map", "--stage", "1", "examples/fib.mini"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("makes no machine code"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn dump_ir_prints_the_optimized_ir_and_passes_prints_each_pass() {
    let t = TempDir::new("dumpir");
    let file = t.put(
        "fold.mini",
        "fn f(x) { let a = 6 * 7; return x + a; }\nprint f(1);\n",
    );
    let out = jitlab(&["dump", "--ir", file.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("function f f1 {"), "{text}");
    assert!(text.contains("const 42"), "6 * 7 is folded:\n{text}");
    assert!(!text.contains("mul"), "{text}");

    let out = jitlab(&["dump", "--ir", "--passes", file.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    for line in ["; f: built", "; f: after sccp", "; f: after cleanup"] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    assert!(
        text.contains("mul"),
        "the built IR still multiplies:\n{text}"
    );

    let out = jitlab(&["dump", "--passes", file.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "--passes needs --ir");
}

#[test]
fn dump_of_stage_7_runs_the_program_and_shows_its_guards_and_deopt_tables() {
    let t = TempDir::new("dumpir7");
    // `xs[i]` has only ever been an integer when `sum`'s loop is compiled: a guard.
    let file = t.put(
        "guard.mini",
        "fn sum(xs) { let s = 0; let i = 0; while i < len(xs) { s = s + xs[i]; i = i + 1; } return s; }\n\
         let xs = [1; 30000];\nprint sum(xs);\n",
    );
    let out = jitlab(&["dump", "--ir", "--stage", "7", file.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        !text.contains("30000\n"),
        "the program's output is dropped:\n{text}"
    );
    assert!(
        text.starts_with("; the program ran with stage 7's engine"),
        "{text}"
    );
    assert!(text.contains("; compile 1 of sum: "), "{text}");
    assert!(text.contains("= guard int "), "{text}");
    // Without --stage, the IR before any run: no guard.
    let out = jitlab(&["dump", "--ir", file.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stdout(&out).contains("guard"), "{}", stdout(&out));
    // --asm --stage 7: each compile's code and its deopt table, decoded.
    let out = jitlab(&["dump", "--asm", "--stage", "7", file.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("fn sum (arity 1)"), "{text}");
    assert!(text.contains("deopt table: "), "{text}");
    assert!(text.contains(": not an integer"), "{text}");
    // Every address it loads is named: the same text on every run.
    assert!(text.contains("mov rsi, deopt table"), "{text}");
    assert!(text.contains("; rt_deopt"), "{text}");
    let again = jitlab(&["dump", "--asm", "--stage", "7", file.to_str().unwrap()]);
    assert_eq!(stdout(&again), text);
    // Without --stage, stage 4's code, before any run: no deopt table.
    let out = jitlab(&["dump", "--asm", file.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stdout(&out).contains("deopt table"), "{}", stdout(&out));
    // --stage is for --asm and --ir.
    let out = jitlab(&["dump", "--stage", "7", file.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(stderr(&out).contains("--stage"), "{}", stderr(&out));
}

#[test]
fn dump_of_stage_5_runs_the_program_and_shows_its_osr_compile() {
    let t = TempDir::new("dumpir5");
    // `main`'s loop gets hot; `count`'s, run three times, never does.
    let file = t.put(
        "osr.mini",
        "fn count(n) {\n  let i = 0;\n  while i < n {\n    i = i + 1;\n  }\n  return i;\n}\n\
         let i = 0;\nlet s = 0;\nwhile i < 50000 {\n  s = (s + i) % 7;\n  i = i + 1;\n}\n\
         print s + count(3);\n",
    );
    let path = file.to_str().unwrap();
    let out = jitlab(&["dump", "--ir", "--stage", "5", path]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "; the program ran with stage 5's engine (its output dropped): 1 optimizing compile\n"
        ),
        "{text}"
    );
    let header = "; compile 1 of main: entered by OSR at the loop header at pc ";
    let pc: String = text
        .split_once(header)
        .map(|(_, rest)| rest.chars().take_while(char::is_ascii_digit).collect())
        .unwrap_or_else(|| panic!("{text}"));
    // `--osr` at that header: the same compile; at `count`'s loop: a clear error.
    let out = jitlab(&["dump", "--ir", "--osr", &pc, "--stage", "5", path]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains(header), "{}", stdout(&out));
    let out = jitlab(&["dump", "--ir", "--osr", "count:2", "--stage", "5", path]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(
        stderr(&out).contains(&format!(
            "the run made no optimizing compile of count entered by OSR at pc 2 (`dump --ir` \
             lists every compile it made); the run's OSR compiles: main at pc {pc}"
        )),
        "{}",
        stderr(&out)
    );
    // `--asm --stage 5`: the same compile's code, the same text on every run.
    let out = jitlab(&["dump", "--asm", "--stage", "5", path]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains(header), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("fn main (arity 0): "),
        "{}",
        stdout(&out)
    );
    let again = jitlab(&["dump", "--asm", "--stage", "5", path]);
    assert_eq!(stdout(&again), stdout(&out));
}

/// Chapter 3 draws `s = s + n` of `examples/sum.mini` next to its code (the virtual
/// stack's table): this is that code, so the drawing cannot drift from the listing.
#[test]
fn the_book_s_virtual_stack_example_is_what_the_jit_makes() {
    let out = jitlab(&["dump", "--asm", "--stage", "3", "examples/sum.mini"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let from = text.find("     6  load_local 1").expect("pc 6 is listed");
    let to = text.find("    10  load_local 0").expect("pc 10 is listed");
    // Each instruction's text, a branch without its target (an offset).
    let code: Vec<&str> = text[from..to]
        .lines()
        .filter(|l| l.starts_with("        "))
        .map(|l| l[45..].split("  ;").next().unwrap().trim())
        .map(|t| {
            if t.starts_with('j') {
                t.split(' ').next().unwrap()
            } else {
                t
            }
        })
        .collect();
    assert_eq!(
        code,
        [
            "mov rax, qword ptr [rbp-0x10]",
            "mov rcx, qword ptr [rbp-0x8]",
            "mov edx, eax",
            "or edx, ecx",
            "test edx, 0x1",
            "jne",
            "add rax, rcx",
            "jo",
            "mov qword ptr [rbp-0x10], rax",
        ],
        "{}",
        &text[from..to]
    );
}

#[test]
fn list_shows_the_holes_in_book_order_and_hint_prints_a_section_with_its_link() {
    let list = jitlab(&["list", "--stage", "3"]);
    assert_eq!(code(&list), 0);
    let text = stdout(&list);
    let frame = text.find("[todo] frame-slots").expect(&text);
    let prologue = text.find("[todo] prologue").expect(&text);
    assert!(frame < prologue, "the book's order: {text}");
    assert!(text.contains("<- next"), "{text}");

    let hint = jitlab(&["hint", "frame-slots"]);
    assert_eq!(code(&hint), 0);
    let text = stdout(&hint);
    assert!(text.contains("{#frame-slots}"), "{text}");
    assert!(
        text.contains("http://localhost:3000/stage3-template-jit.html#frame-slots"),
        "{text}"
    );
    let unknown = jitlab(&["hint", "no-such-hole"]);
    assert_eq!(code(&unknown), 2);
    assert!(stderr(&unknown).contains("no hole `no-such-hole`"));
}

#[test]
fn tiering_flags_set_the_thresholds_and_trace_the_events() {
    let t = TempDir::new("tiering");
    let file = t.put(
        "loop.mini",
        "fn f(x) { return x + 1; }\nlet i = 0;\nlet s = 0;\nwhile i < 30 {\n  s = s + f(i);\n  i = i + 1;\n}\nprint s;\n",
    );
    let traced = run_file(
        &file,
        &[
            "--tier-up",
            "calls=3,loops=10,opt-calls=5,opt-loops=1000",
            "--sync-compile",
            "--trace-tiering",
        ],
    );
    assert_eq!(stdout(&traced), "465\n");
    assert_eq!(code(&traced), 0);
    let lines: Vec<String> = stderr(&traced)
        .lines()
        .map(|l| l.split(',').next().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        lines,
        [
            "tiering: tier-up f: interpreter -> baseline after 3 calls",
            "tiering: tier-up f: baseline -> optimizing after 8 calls",
            "tiering: tier-up main: interpreter -> baseline after 10 loop",
            "tiering: osr main at pc 4: interpreter -> baseline",
        ]
    );
    // `--stage 5` is the default; the same without tracing prints nothing on stderr.
    let quiet = run_file(&file, &["--stage", "5", "--tier-up", "0"]);
    assert_eq!(
        (stdout(&quiet).as_str(), stderr(&quiet).as_str()),
        ("465\n", "")
    );
}

#[test]
fn bad_tiering_flags_are_usage_errors() {
    let t = TempDir::new("tiering-bad");
    let file = t.put("one.mini", "print 1;\n");
    let bad = run_file(&file, &["--tier-up", "calls=x"]);
    assert_eq!(code(&bad), 2);
    assert!(
        stderr(&bad).starts_with("error: --tier-up: calls=x: the threshold is not a whole number"),
        "{}",
        stderr(&bad)
    );
    let unknown = run_file(&file, &["--tier-up", "hot=3"]);
    assert!(
        stderr(&unknown).contains("unknown threshold `hot`"),
        "{}",
        stderr(&unknown)
    );
    let untiered = run_file(&file, &["--stage", "3", "--sync-compile"]);
    assert_eq!(code(&untiered), 2);
    assert_eq!(
        stderr(&untiered),
        "error: --sync-compile: the engine of stage 3 does not tier; the tiered engine is stage 5's\n"
    );
    assert_eq!(stdout(&untiered), "", "nothing runs");
}
