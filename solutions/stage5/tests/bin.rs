//! The crate's own binary (`cargo run -p stage5 -- run FILE`, here the reference's):
//! the same commands and output as `jitlab`, with this crate's engine.

use jitlab_testkit::binary::{text, Binary};

fn binary() -> Binary {
    Binary::new(
        env!("CARGO_BIN_EXE_stage5-solution"),
        env!("CARGO_MANIFEST_DIR"),
    )
}

#[test]
fn run_prints_the_program_s_output_and_the_tier_table() {
    let stats = binary().run_fib_with_stats();
    assert!(stats.contains("tiered JIT (stage 5)"), "{stats}");
    assert!(
        stats.contains("tier-up fib: interpreter -> baseline"),
        "{stats}"
    );
    assert!(stats.contains("\ntiers:\n"), "{stats}");
}

#[test]
fn errors_have_jitlab_s_exit_statuses() {
    binary().assert_jitlab_exit_statuses();
}

#[test]
fn thresholds_come_from_the_command_line() {
    let out = binary().run(&[
        "run",
        "--tier-up",
        "0",
        "--sync-compile",
        "--trace-tiering",
        "examples/fib.mini",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "832040\n");
    let trace = text(&out.stderr);
    assert!(
        trace.contains("tiering: tier-up fib: baseline -> optimizing after 2 calls"),
        "{trace}"
    );
    let bad = binary().run(&["run", "--tier-up", "calls=1,calls=2", "examples/fib.mini"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("`calls` is given twice"),
        "{}",
        text(&bad.stderr)
    );
}
