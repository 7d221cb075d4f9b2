//! The engine interface: what the JIT reports (compilations with code sizes, calls,
//! runtime calls by helper), and compiling without running.

use stage1::{Engine, Event};
use stage3::Jit;

use super::common::{isolated, load, run_on};

#[test]
fn every_function_is_compiled_and_reported_with_its_size() {
    isolated(|| {
        let verified = load(
            "events.mini",
            "fn f(x) { return x + 1; }\nfn g() { return f(1); }\nprint g();",
        );
        let mut jit = Jit::new();
        let run = run_on(&mut jit, &verified);
        assert_eq!(run.lines(), ["2"]);
        let compiled: Vec<(&str, usize, usize)> = jit
            .stats()
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Compiled {
                    function,
                    bytecode_len,
                    code_bytes,
                    ..
                } => Some((function.as_str(), *bytecode_len, *code_bytes)),
                _ => None,
            })
            .collect();
        let names: Vec<&str> = compiled.iter().map(|c| c.0).collect();
        assert_eq!(names, ["main", "f", "g"]);
        for (name, bytecode_len, code_bytes) in compiled {
            let f = &verified.program().functions
                [verified.program().function_named(name).unwrap() as usize];
            assert_eq!(bytecode_len, f.code.len());
            assert!(
                code_bytes > 16 * bytecode_len / 2,
                "{name}: only {code_bytes} bytes"
            );
        }
        assert_eq!(jit.stats().calls, 3, "main, g and f");
    });
}

#[test]
fn runtime_calls_are_counted_by_name() {
    isolated(|| {
        let mut jit = Jit::new();
        let verified = load(
            "runtime_calls.mini",
            "let o = {x: 1};\nprint o.x;\nprint [1, 2];\nlet a = [0; 3];\nprint 1 / 0;",
        );
        let run = run_on(&mut jit, &verified);
        assert_eq!(run.lines(), ["1", "[1, 2]"]);
        let calls = &jit.stats().runtime_calls;
        let count = |name: &str| calls.iter().find(|e| e.0 == name).map(|e| e.1);
        assert_eq!(count("print"), Some(2));
        assert_eq!(count("new_object"), Some(1));
        assert_eq!(count("set_field"), Some(1));
        assert_eq!(count("get_field"), Some(1));
        assert_eq!(count("new_array"), Some(1));
        assert_eq!(count("new_array_fill"), Some(1));
        assert_eq!(count("runtime_error"), Some(1));
    });
}

#[test]
fn compile_program_gives_one_entry_per_function() {
    let verified = load("compile.mini", "fn f(a, b) { return a; }\nprint f(1, 2);");
    let compiled = stage3::compile_program(&verified).unwrap();
    assert_eq!(compiled.functions.len(), 2);
    assert_eq!(compiled.table.len(), 2);
    assert_eq!(compiled.table[1].arity, 2);
    assert!(compiled.code.len() >= compiled.functions[1].range.end);
    // Only a listing records each instruction's code, inside its function's code.
    assert!(compiled.functions.iter().all(|fc| fc.instrs.is_empty()));
    let generated = stage3::codegen::generate_with_ranges(&verified).unwrap();
    for (fc, f) in generated
        .functions
        .iter()
        .zip(&verified.program().functions)
    {
        assert_eq!(fc.instrs.len(), f.code.len());
        for r in &fc.instrs {
            assert!(fc.range.start <= r.start && r.end <= fc.range.end);
        }
    }
}

#[test]
fn the_engine_can_run_twice_with_fresh_state() {
    isolated(|| {
        let verified = load("twice.mini", "let a = [1, 2];\nprint a;\nreturn len(a);");
        let mut jit = Jit::new();
        for _ in 0..2 {
            let run = run_on(&mut jit, &verified);
            assert_eq!(run.lines(), ["[1, 2]"]);
            assert_eq!(run.result, Ok("2".to_string()));
        }
        assert_eq!(jit.name(), "template JIT");
    });
}
