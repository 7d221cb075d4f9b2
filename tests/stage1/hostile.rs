//! What hostile inputs found (issue 8), kept fixed: long operator chains are not
//! nesting, loading is linear, `print` streams in bounded memory, and the heap limit
//! bounds the process's memory.

use pretty_assertions::assert_eq;

use super::common::{load, output_of};

#[test]
fn a_chain_of_a_thousand_and_two_terms_is_not_nesting() {
    let source = format!("print 1{};\n", " + 1".repeat(1_001));
    assert_eq!(output_of(&source), ["1002"]);
}

#[test]
fn long_and_or_chains_load_and_run() {
    let and = format!("print 1{};\n", " && 1".repeat(20_000));
    assert_eq!(output_of(&and), ["1"]);
    let or = format!("print 0{} || 7 > 3;\n", " || 0".repeat(20_000));
    assert_eq!(output_of(&or), ["1"]);
    let mixed = format!("print 5{};\n", " * 1 - 2 + 4 / 2".repeat(10_000));
    assert_eq!(output_of(&mixed), ["5"]);
}

#[test]
fn a_hundred_thousand_term_chain_loads_on_a_small_thread() {
    let source = format!("print 0{};\n", " + 1 - 1".repeat(50_000));
    let verified = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || load("chain.mini", &source).program().instruction_count())
        .unwrap()
        .join()
        .expect("loading a long chain does not overflow the stack");
    assert!(verified > 200_000, "{verified} instructions");
}

#[test]
fn real_nesting_is_still_limited() {
    let source = format!("print {}1{};\n", "(".repeat(5_000), ")".repeat(5_000));
    let e = stage1::load::load_source("deep.mini", &source).unwrap_err();
    assert!(e.message.contains("nested too deeply"), "{e}");
}

#[test]
fn many_functions_load_in_linear_time() {
    // 20,000 functions: a quadratic search for duplicate names would take seconds
    // in a debug build; each load path here is linear.
    let mut mini = String::new();
    for i in 0..20_000 {
        mini.push_str(&format!("fn f{i}(x) {{ return x + {i}; }}\n"));
    }
    mini.push_str("print f19999(1);\n");
    let start = std::time::Instant::now();
    let program = load("many.mini", &mini);
    let jasm = stage1::jasm::print(program.program());
    let again = load("many.jasm", &jasm);
    assert_eq!(again.program(), program.program());
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "loading 20,000 functions took {:?}",
        start.elapsed()
    );
    // A duplicate among them is still found.
    let twice = format!("{jasm}\n.fn f7 params=0 locals=0\n  const 0\n  return\n.end\n");
    let e = stage1::load::load_source("twice.jasm", &twice).unwrap_err();
    assert!(e.message.contains("'f7' is defined twice"), "{e}");
}
