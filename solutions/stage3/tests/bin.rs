//! The crate's own binary (`cargo run -p stage3 -- run FILE`, here the reference's):
//! the same commands and output as `jitlab`, with this crate's engine.

use jitlab_testkit::binary::{text, Binary};
use std::process::Output;

fn binary() -> Binary {
    Binary::new(
        env!("CARGO_BIN_EXE_stage3-solution"),
        env!("CARGO_MANIFEST_DIR"),
    )
}

fn bin(args: &[&str]) -> Output {
    binary().run(args)
}

#[test]
fn run_prints_the_program_s_output() {
    let stats = binary().run_fib_with_stats();
    assert!(stats.contains("template JIT (stage 3)"), "{stats}");
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
    assert!(
        listing.contains("call r11") && listing.contains("; rt_print"),
        "{listing}"
    );
}
