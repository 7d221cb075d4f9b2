//! Stage 4's code in the registry of generated code (`stage2::code_map`): with
//! `JITLAB_CODE_MAP` set, as the test harness sets it in its children, a crash in an
//! optimized function is reported by function and bytecode instruction.

use std::process::Command;

use stage1::Instr;

const TEST: &str = "an_address_in_optimized_code_names_its_function_and_bytecode_instruction";

#[test]
fn an_address_in_optimized_code_names_its_function_and_bytecode_instruction() {
    if !stage2::code_map::enabled() {
        // The registry is turned on once per process, by the environment: run this
        // test again in a child that has it on.
        let out = Command::new(std::env::current_exe().unwrap())
            .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
            .env(stage2::code_map::ENV, "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("1 passed"), "{text}");
        assert!(
            text.contains("described: in generated code: fn fib"),
            "{text}"
        );
        return;
    }
    let verified = stage1::load::load_source(
        "fib.mini",
        "fn fib(n) { if (n < 2) { return n; } return fib(n - 1) + fib(n - 2); }\nprint fib(10);",
    )
    .unwrap();
    let program = verified.program();
    let compiled = stage4_solution::engine::compile(&verified, &Default::default()).unwrap();
    let fib = program.function_named("fib").unwrap() as usize;
    assert!(compiled.functions[fib].is_ok(), "fib is optimized");
    let registration = stage3::code_map::register(program, &compiled.program);
    assert!(registration.is_some(), "registered when the registry is on");
    // The subtraction's code: the optimizer keeps one `sub` per bytecode `sub`.
    let code = &compiled.program.functions[fib];
    let (pc, range) = program.functions[fib]
        .code
        .iter()
        .zip(&code.instrs)
        .enumerate()
        .find(|(_, (i, r))| matches!(i, Instr::Sub) && !r.is_empty())
        .map(|(pc, (_, r))| (pc, r.clone()))
        .expect("a `sub` with code of its own");
    let addr = compiled.program.code.addr() + range.start as u64;
    let text = stage2::code_map::describe(addr).expect("the address is registered");
    println!("described: {text}");
    assert!(
        text.starts_with(&format!(
            "in generated code: fn fib, bytecode pc {pc} `sub`"
        )),
        "{text}"
    );
    assert!(text.contains(&format!("=> {pc:4}  sub")), "{text}");
    drop(registration);
    assert_eq!(stage2::code_map::describe(addr), None, "unregistered");
}
