//! The crate's own binary (`cargo run -p stage4 -- run FILE`, here the reference's):
//! the same commands and output as `jitlab`, with this crate's engine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stage4-solution"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn run_prints_the_program_s_output() {
    let out = bin(&["run", "--stats", "examples/fib.mini"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "832040\n");
    let stats = text(&out.stderr);
    assert!(stats.contains("optimizing JIT (stage 4)"), "{stats}");
    assert!(stats.contains("compiled fib (optimizing)"), "{stats}");
}

#[test]
fn errors_have_jitlab_s_exit_statuses() {
    let missing = bin(&["run", "no/such.mini"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        text(&missing.stderr),
        "error: cannot read no/such.mini: No such file or directory\n"
    );
    let dir = std::env::temp_dir().join(format!("stage4-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("div.mini");
    std::fs::write(&file, "print 1;\nprint 1 / 0;\n").unwrap();
    let failed = bin(&["run", file.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(text(&failed.stdout), "1\n");
    assert_eq!(
        text(&failed.stderr),
        "error: division by zero\n  at main (line 2)\n"
    );
}

#[test]
fn dump_asm_lists_the_machine_code() {
    let out = bin(&["dump", "--asm", "examples/fib.mini"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(listing.contains("fn fib (arity 1"), "{listing}");
    assert!(listing.contains("call f1("), "{listing}");
}

#[test]
fn dump_ir_lists_each_function_and_with_passes_each_step() {
    let out = bin(&["dump", "--ir", "examples/fib.mini"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ir = text(&out.stdout);
    assert!(
        ir.contains("function main f0") && ir.contains("function fib f1"),
        "{ir}"
    );
    let passes = bin(&["dump", "--ir", "--passes", "examples/fib.mini"]);
    assert_eq!(passes.status.code(), Some(0), "{}", text(&passes.stderr));
    let steps = text(&passes.stdout);
    assert!(steps.contains("; fib: built"), "{steps}");
    assert!(steps.contains("; fib: after "), "{steps}");
}
