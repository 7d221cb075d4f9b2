//! Files that must be rejected before they run (`tests/programs/errors/`): each says
//! where (`LINE:COL`) and part of the message, and the loader must agree.

use std::path::Path;

use jitlab_testkit::corpus;

use super::common::{outcome, programs_dir};

#[test]
fn every_file_of_the_errors_folder_is_rejected_where_it_says() {
    let programs = corpus::load(&programs_dir().join("errors"));
    assert!(programs.len() >= 10, "only {} files", programs.len());
    let mut failures = Vec::new();
    for program in &programs {
        assert!(
            program.expected_load_error.is_some(),
            "{}: a file in errors/ must say `expect load error: LINE:COL message`",
            program.name
        );
        if let Err(report) = program.check(&outcome(&program.name, &program.source)) {
            failures.push(report);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files were not rejected as expected:\n\n{}",
        failures.len(),
        programs.len(),
        failures.join("\n")
    );
}

#[test]
fn a_load_error_names_the_file_and_its_position() {
    let e = stage1::load::load_source("dir/bad.mini", "print 1;\nprint 2 +;\n").unwrap_err();
    assert_eq!(e.file, "dir/bad.mini");
    assert_eq!(e.line, 2);
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("dir/bad.mini:2:{}: error: ", e.column)),
        "{shown}"
    );
}

#[test]
fn a_missing_file_is_a_source_error_naming_it() {
    let path = Path::new("/nonexistent/jitlab/missing.mini");
    let e = stage1::load::load_file(path).unwrap_err();
    assert_eq!(e.file, path.display().to_string());
    assert!(!e.message.is_empty());
}

#[test]
fn a_corpus_file_loads_from_its_path() {
    let verified = stage1::load::load_file(&programs_dir().join("fib.mini")).unwrap();
    assert!(verified.program().function_named("fib").is_some());
}

#[test]
fn the_extension_picks_the_text_form() {
    // Mini text is not assembly, and assembly text is not Mini.
    assert!(stage1::load::load_source("x.jasm", "print 1;\n").is_err());
    assert!(stage1::load::load_source("x.mini", "print 1;\n").is_ok());
}

#[test]
fn garbage_input_is_an_error_never_a_panic() {
    let inputs = [
        "",
        "\0\u{1}\u{7f}",
        "fn",
        "fn f(",
        "print",
        "let = 5;",
        "}}}}",
        "{{{{",
        "print [1, 2;",
        "print {x 1};",
        "print 1 +* 2;",
        "while { }",
        "🦀",
        "print 99999999999999999999999999999;",
    ];
    for input in inputs {
        let _ = stage1::load::load_source("garbage.mini", input);
        let _ = stage1::load::load_source("garbage.jasm", input);
    }
}

#[test]
fn nesting_100_000_deep_is_an_error_not_a_native_stack_overflow() {
    // On a thread with the stack a program's main thread usually has (8 MiB).
    let result = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| {
            let parens = format!("print {}1{};", "(".repeat(100_000), ")".repeat(100_000));
            let brackets = format!("print {}1{};", "[".repeat(100_000), "]".repeat(100_000));
            let negations = format!("print {}1;", "-".repeat(100_000));
            [parens, brackets, negations]
                .iter()
                .map(|text| stage1::load::load_source("deep.mini", text).is_err())
                .collect::<Vec<bool>>()
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(result, [true, true, true]);
}
