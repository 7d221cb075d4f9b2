//! The crate's own binary (`cargo run -p stage6 -- run FILE`, here the reference's):
//! the same commands and output as `jitlab`, with this crate's engine: `--stats` with
//! the caches' table and the shapes made, `--no-ic`, and `dump --shapes`.

use jitlab_testkit::binary::{text, Binary};

fn binary() -> Binary {
    Binary::new(
        env!("CARGO_BIN_EXE_stage6-solution"),
        env!("CARGO_MANIFEST_DIR"),
    )
}

#[test]
fn run_prints_the_program_s_output_the_tier_table_and_the_caches() {
    let stats = binary().run_fib_with_stats();
    assert!(
        stats.contains("tiered JIT with inline caches (stage 6)"),
        "{stats}"
    );
    assert!(stats.contains("\ntiers:\n"), "{stats}");
    assert!(stats.contains("inline caches: "), "{stats}");
}

#[test]
fn errors_have_jitlab_s_exit_statuses() {
    binary().assert_jitlab_exit_statuses();
}

#[test]
fn stats_show_each_site_s_cache_and_no_ic_turns_them_off() {
    let out = binary().run(&["run", "--stats", "examples/shapes.mini"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stats = text(&out.stderr);
    assert!(stats.contains("event: ic area line "), "{stats}");
    assert!(stats.contains("-> monomorphic"), "{stats}");
    let plain = binary().run(&["run", "--stats", "--no-ic", "examples/shapes.mini"]);
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain.stderr));
    assert_eq!(text(&plain.stdout), text(&out.stdout));
    let stats = text(&plain.stderr);
    assert!(!stats.contains("event: ic "), "{stats}");
    assert!(stats.contains("inline caches (off): "), "{stats}");
}

#[test]
fn dump_shapes_prints_the_transition_tree_of_a_run() {
    let out = binary().run(&["dump", "--shapes", "examples/shapes.mini"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let tree = text(&out.stdout);
    assert!(!tree.is_empty());
    // The program's own output is not part of it, and the same run gives the same
    // tree.
    let again = binary().run(&["dump", "--shapes", "examples/shapes.mini"]);
    assert_eq!(text(&again.stdout), tree);
}
