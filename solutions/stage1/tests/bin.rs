//! The crate's own binary (`cargo run -p stage1 -- run FILE`, here the reference's):
//! the same commands and output as `jitlab`, with this crate's engine.

use jitlab_testkit::binary::{text, Binary};
use std::process::Output;

fn binary() -> Binary {
    Binary::new(
        env!("CARGO_BIN_EXE_stage1-solution"),
        env!("CARGO_MANIFEST_DIR"),
    )
}

fn bin(args: &[&str]) -> Output {
    binary().run(args)
}

#[test]
fn run_prints_the_program_s_output() {
    let stats = binary().run_fib_with_stats();
    assert!(stats.contains("interpreter (stage 1)"), "{stats}");
}

#[test]
fn errors_have_jitlab_s_exit_statuses() {
    binary().assert_jitlab_exit_statuses();
}

#[test]
fn dump_prints_the_bytecode_and_asm_says_there_is_none() {
    let out = bin(&["dump", "examples/fib.mini"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(".fn fib"),
        "{}",
        text(&out.stdout)
    );
    let asm = bin(&["dump", "--asm", "examples/fib.mini"]);
    assert_eq!(asm.status.code(), Some(2));
    assert!(
        text(&asm.stderr).contains("makes no machine code"),
        "{}",
        text(&asm.stderr)
    );
}
