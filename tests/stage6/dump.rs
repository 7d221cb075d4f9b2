//! `dump --asm` and `dump --ir` of stage 6 (`stage6::cli::Cli`, stage 5's dump with
//! this stage's caches as the engine's extension): the compiles of a run with what
//! the caches gave them — an object allocated inline from the heap's bump pointer,
//! named so that the listing is the same on every run — where stage 5's dump of the
//! same program calls the runtime.

use jitlab_cli::Stage;

use super::common::{isolated, load};

/// `main` makes an object at each of 100,000 trips and reads its fields: its loop
/// moves into optimized code by OSR, with the caches' fast paths.
const OBJECTS: &str = "let i = 0;\nlet s = 0;\nwhile i < 100000 {\n  let p = {x: i, y: 2};\n  \
                       s = (s + p.x + p.y) % 1000;\n  i = i + 1;\n}\nprint s;\n";

#[test]
fn the_asm_dump_shows_the_runs_compiles_with_the_caches_fast_paths() {
    isolated(|| {
        let verified = load("objects.mini", OBJECTS);
        let asm = |stage: &dyn Stage<Program = stage1::Verified>| match stage.asm(&verified) {
            Some(Ok(text)) => text,
            other => panic!("{other:?}"),
        };
        let listed = asm(&stage6::cli::Cli);
        assert!(
            listed.starts_with("; the program ran with stage 6's engine (its output dropped): 1 optimizing compile\n"),
            "{listed}"
        );
        assert!(
            listed.contains("; compile 1 of main: entered by OSR at the loop header at pc "),
            "{listed}"
        );
        // The object is allocated inline: the code loads the bump pointer's address.
        assert!(listed.contains("heap bump"), "{listed}");
        pretty_assertions::assert_eq!(asm(&stage6::cli::Cli), listed);
        // Without the caches (stage 5's dump of the same run), no inline allocation.
        let plain = asm(&stage5::cli::Cli);
        assert!(
            plain.contains("; compile 1 of main: entered by OSR"),
            "{plain}"
        );
        assert!(!plain.contains("heap bump"), "{plain}");
        // The IR of the same compile, through stage 6's `dump --ir`.
        let ir = match stage6::cli::Cli.ir(&verified, false) {
            Some(Ok(text)) => text,
            other => panic!("{other:?}"),
        };
        let functions = stage4::ir::text::parse_all(&ir).unwrap_or_else(|e| panic!("{e}\n{ir}"));
        assert_eq!(functions.len(), 1, "{ir}");
    });
}
