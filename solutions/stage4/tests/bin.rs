//! The crate's own binary (`cargo run -p stage4 -- run FILE`, here the reference's):
//! the same commands and output as `jitlab`, with this crate's engine.

use jitlab_testkit::binary::{text, Binary};
use std::process::Output;

fn binary() -> Binary {
    Binary::new(
        env!("CARGO_BIN_EXE_stage4-solution"),
        env!("CARGO_MANIFEST_DIR"),
    )
}

fn bin(args: &[&str]) -> Output {
    binary().run(args)
}

#[test]
fn run_prints_the_program_s_output() {
    let stats = binary().run_fib_with_stats();
    assert!(stats.contains("optimizing JIT (stage 4)"), "{stats}");
    assert!(stats.contains("compiled fib (optimizing)"), "{stats}");
}

#[test]
fn errors_have_jitlab_s_exit_statuses() {
    binary().assert_jitlab_exit_statuses();
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

#[test]
fn dump_ir_osr_lists_the_variant_entered_at_a_loop_header() {
    let out = bin(&["dump", "--ir", "--osr", "sum:2", "examples/sum.mini"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ir = text(&out.stdout);
    // The entry takes the frame state (locals n and s) and jumps to the header.
    assert!(
        ir.starts_with("function sum f1 {\nb0(v0, v1):  @2\n"),
        "{ir}"
    );
    assert!(ir.contains("jump b1(v0, v1)"), "{ir}");
    let wrong = bin(&["dump", "--ir", "--osr", "sum:0", "examples/sum.mini"]);
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong.stdout));
    let why = text(&wrong.stderr);
    assert!(why.contains("its loop headers are at pcs [2]"), "{why}");
}
