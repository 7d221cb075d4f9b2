//! The `.jasm` text form: every corpus program (and a batch of random ones) compiles,
//! prints as assembly and parses back to the same program, and prints again to the
//! same text; bad assembly is an error with its position.

use jitlab_testkit::{corpus, random};
use pretty_assertions::assert_eq;
use stage1::{jasm, mini, Program};

use super::common::programs_dir;

/// Prints `program`, parses the text back and prints that: both must be the same.
fn round_trip(name: &str, program: &Program) -> Result<(), String> {
    let text = jasm::print(program);
    let back = jasm::parse(name, &text)
        .map_err(|e| format!("{name}: the printed text does not parse: {e}\n{text}"))?;
    if &back != program {
        return Err(format!(
            "{name}: parsing the printed text gives another program ({})\n--- printed ---\n{text}",
            difference(program, &back)
        ));
    }
    let again = jasm::print(&back);
    if again != text {
        return Err(format!(
            "{name}: printing twice gives two texts\n--- first ---\n{text}--- second ---\n{again}"
        ));
    }
    Ok(())
}

/// Where two programs differ, in words.
fn difference(want: &Program, got: &Program) -> String {
    if want.constants != got.constants {
        return format!(
            "constant pool {:?}, parsed back as {:?}",
            want.constants, got.constants
        );
    }
    if want.fields != got.fields {
        return format!("fields {:?}, parsed back as {:?}", want.fields, got.fields);
    }
    if want.functions.len() != got.functions.len() {
        return format!(
            "{} functions, parsed back as {}",
            want.functions.len(),
            got.functions.len()
        );
    }
    for (a, b) in want.functions.iter().zip(&got.functions) {
        if a != b {
            return format!("function '{}': {a:?}, parsed back as {b:?}", a.name);
        }
    }
    "no difference found".to_string()
}

/// The program of a corpus file, compiled from Mini or parsed from assembly.
fn program_of(name: &str, source: &str) -> Program {
    let program = if name.ends_with(".jasm") {
        jasm::parse(name, source)
    } else {
        mini::compile(name, source)
    };
    program.unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_corpus_program_prints_and_parses_back_to_itself() {
    let programs = corpus::load(&programs_dir());
    let failures: Vec<String> = programs
        .iter()
        .filter_map(|p| round_trip(&p.name, &program_of(&p.name, &p.source)).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} programs do not round trip:\n\n{}",
        failures.len(),
        programs.len(),
        failures.join("\n")
    );
}

#[test]
fn random_programs_print_and_parse_back_to_themselves() {
    for seed in 0..100 {
        let source = random::program(seed);
        let program = mini::compile("random.mini", &source)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{source}"));
        if let Err(report) = round_trip(&format!("random-{seed}"), &program) {
            panic!("{report}\n--- source ---\n{source}");
        }
    }
}

#[test]
fn compiling_and_loading_agree() {
    // `load_source` is `mini::compile` and `verify`, nothing else.
    let source = std::fs::read_to_string(programs_dir().join("sieve.mini")).unwrap();
    let compiled = mini::compile("sieve.mini", &source).unwrap();
    let loaded = stage1::load::load_source("sieve.mini", &source).unwrap();
    assert_eq!(loaded.program(), &compiled);
}

#[test]
fn line_directives_and_labels_are_read_as_documented() {
    let text = "\
; a comment line
.fn main params=0 locals=1
    const 2          ; line 3 of the file
.line 40
    store_local 0
top:
    load_local 0
.line 7
    jump_if_false done
    load_local 0
    const 1
    sub
    store_local 0
    loop top
done:
    const 0
    return
.end
";
    let program = jasm::parse("lines.jasm", text).unwrap();
    let main = &program.functions[0];
    assert_eq!(main.code[6], stage1::Instr::Sub);
    assert_eq!(main.code[3], stage1::Instr::JumpIfFalse(9));
    assert_eq!(main.code[8], stage1::Instr::Loop(2));
    assert_eq!(main.lines, [3, 40, 40, 7, 7, 7, 7, 7, 7, 7, 7]);
    assert_eq!(program.constants, [2, 1, 0]);
    // The printed form numbers labels in order and writes `.line` where it changes.
    let printed = jasm::print(&program);
    assert!(
        printed.contains("L0:\n    load_local 0\n.line 7\n    jump_if_false L1\n"),
        "{printed}"
    );
    assert!(
        printed.contains("    loop L0\nL1:\n    const 0\n"),
        "{printed}"
    );
    assert_eq!(jasm::parse("again.jasm", &printed).unwrap(), program);
}

#[test]
fn bad_assembly_is_an_error_at_the_word_at_fault() {
    let cases = [
        (".fn main params=0 locals=0\n    frobnicate\n.end\n", 2, 5),
        (".fn main params=0 locals=0\n    const\n.end\n", 2, 5),
        (
            ".fn main params=0 locals=0\n    call nobody 0\n    return\n.end\n",
            2,
            10,
        ),
        (
            ".fn main params=0 locals=0\n    const 1\n    return\n",
            3,
            1,
        ),
        ("    const 1\n", 1, 5),
        (".fn main params=0\n    const 1\n    return\n.end\n", 1, 5),
    ];
    for (text, line, column) in cases {
        let e = jasm::parse("bad.jasm", text).unwrap_err();
        assert_eq!((e.line, e.column), (line, column), "{e}\n{text}");
        assert_eq!(e.file, "bad.jasm");
    }
}
