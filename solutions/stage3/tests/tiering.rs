//! Baseline code for a tiered run, without stage 5: functions compiled alone
//! (`compile_function`) and called through the function table, the shared trampoline
//! and interpreter stubs, the counters and their hooks, and the OSR entries, driven
//! by a small test driver ([`driver::Driver`]) and compared with the interpreter.

extern crate stage3_solution as stage3;

// The suite's helpers, of which these tests use a part.
#[allow(dead_code)]
#[path = "../../../tests/common/engine_run.rs"]
mod engine_run;

#[path = "tiering/driver.rs"]
mod driver;

use std::collections::HashMap;

use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter};
use jitlab_testkit::{corpus, isolate, random};

use stage1::bytecode::MAIN;
use stage1::heap::{Heap, DEFAULT_HEAP_LIMIT};
use stage1::interp::tiering::{budget, Counters, NEVER};
use stage1::interp::trace::runtime_error;
use stage1::interp::{Entry, Interpreter};
use stage1::{FnId, Instr, Verified};
use stage3::{compile_function, FrameState, TierOptions};

use driver::{Driver, OsrPlan, Start, Trip};
use engine_run::{harness, load_verified, program_label, programs_dir, run_on, Suite};

/// Every function compiled alone, no counters.
const ALONE: Suite = Suite {
    load: load_verified,
    jit: || Box::new(Driver::default()),
    jit_name: "functions compiled alone",
};

/// Every function compiled alone, every counter tripping at every event (hooks that
/// do nothing but record and rearm).
const COUNTING: Suite = Suite {
    load: load_verified,
    jit: || {
        Box::new(Driver {
            budgets: Some((1, 1)),
            rearm: 1,
            ..Driver::default()
        })
    },
    jit_name: "functions compiled alone, counting",
};

/// Every other function compiled alone (`main` interpreted), the others run by the
/// interpreter behind their stubs, whose calls reach the hooks' `call_interpreted`;
/// counters tripping at every event.
const HALF: Suite = Suite {
    load: load_verified,
    jit: || {
        Box::new(Driver {
            compile: |f| f % 2 == 1,
            budgets: Some((1, 1)),
            rearm: 1,
            ..Driver::default()
        })
    },
    jit_name: "every other function compiled alone",
};

/// The corpus programs that load (at least 60 of them).
fn corpus_programs() -> Vec<corpus::CorpusProgram> {
    corpus::runnable(&programs_dir(), 60)
}

/// Every corpus program under `suite`, each in a child process.
fn assert_corpus_agrees(suite: Suite) {
    let programs = corpus_programs();
    let failures = harness().max_failures(programs.len()).each(
        programs.len(),
        |i| program_label(&programs[i].name, &programs[i].source),
        |i| suite.differential(&programs[i].name, &programs[i].source),
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus programs went wrong with {}: {}\n\n{}",
        failures.len(),
        programs.len(),
        suite.jit_name,
        isolate::names(&failures, |i| programs[i].name.clone()),
        isolate::report(&failures[..failures.len().min(3)])
    );
}

#[test]
fn every_corpus_program_agrees_when_each_function_is_compiled_alone() {
    assert_corpus_agrees(ALONE);
}

#[test]
fn every_corpus_program_agrees_with_every_counter_tripping() {
    assert_corpus_agrees(COUNTING);
}

#[test]
fn every_corpus_program_agrees_with_every_other_function_interpreted() {
    assert_corpus_agrees(HALF);
}

#[test]
fn random_programs_agree_when_each_function_is_compiled_alone() {
    let name = |seed: usize| format!("random-{seed}.mini");
    let failures = harness().each(
        random::seed_count(100) as usize,
        |seed| program_label(&name(seed), &random::program(seed as u64)),
        |seed| {
            let source = random::program(seed as u64);
            ALONE.differential(&name(seed), &source)?;
            COUNTING.differential(&name(seed), &source)?;
            HALF.differential(&name(seed), &source)
        },
    );
    assert!(failures.is_empty(), "{}", isolate::report(&failures));
}

/// With every counter tripping at each event, the hooks see exactly the calls and
/// back edges the interpreter counts in its profile, function by function and loop
/// by loop, on every corpus program that runs to its end.
#[test]
fn the_hooks_see_every_call_and_back_edge_the_interpreter_counts() {
    let programs = corpus_programs();
    let failures = harness().max_failures(programs.len()).each(
        programs.len(),
        |i| program_label(&programs[i].name, &programs[i].source),
        |i| {
            let verified = load_verified(&programs[i].name, &programs[i].source);
            let mut interp = Interpreter::new();
            let reference = run_on(&mut interp, &verified);
            let mut driver = Driver {
                budgets: Some((1, 1)),
                rearm: 1,
                ..Driver::default()
            };
            let run = run_on(&mut driver, &verified);
            if run.result != reference.result {
                return Err("the run differs (see the differential tests)".into());
            }
            let program = verified.program();
            let profile = interp.profile();
            let mut calls = vec![0u64; program.functions.len()];
            let mut loops = HashMap::new();
            for trip in &driver.trips {
                match trip {
                    Trip::Call(f) => calls[*f as usize] += 1,
                    Trip::Loop { func, loop_pc, .. } => {
                        *loops.entry((*func, *loop_pc)).or_insert(0u64) += 1
                    }
                }
            }
            // An error stops the interpreter's count and the driver's at the same
            // event; a call that overflows is counted by neither.
            if calls != profile.calls {
                return Err(format!("calls {calls:?}, interpreter {:?}", profile.calls));
            }
            let mut expected = HashMap::new();
            for (f, pcs) in profile.back_edges.iter().enumerate() {
                for (pc, &n) in pcs.iter().enumerate().filter(|&(_, &n)| n > 0) {
                    expected.insert((f as FnId, pc), n);
                }
            }
            if loops != expected {
                return Err(format!("back edges {loops:?}, interpreter {expected:?}"));
            }
            let counted = |name| {
                let found = driver.stats.runtime_calls.iter().find(|(n, _)| *n == name);
                found.map_or(0, |&(_, n)| n)
            };
            let total_calls: u64 = profile.calls.iter().sum();
            let total_loops: u64 = expected.values().sum();
            if (counted("hot_call"), counted("hot_loop")) != (total_calls, total_loops) {
                return Err("the runtime calls are not counted".into());
            }
            Ok(())
        },
    );
    assert!(failures.is_empty(), "{}", isolate::report(&failures));
}

/// `f` is called 12 times, its loop jumps back 5 times per call.
const COUNTED: &str = "fn f(n) { let i = 0; while i < 5 { i = i + 1; } return n + i; }\n\
                       let k = 0; let s = 0;\n\
                       while k < 12 { s = s + f(k); k = k + 1; }\n\
                       print s;";

/// The pc of the only `loop` instruction of `func`.
fn loop_pc(verified: &Verified, func: FnId) -> usize {
    let code = &verified.program().functions[func as usize].code;
    let mut pcs = code
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, Instr::Loop(_)));
    let (pc, _) = pcs.next().expect("a loop");
    assert!(pcs.next().is_none(), "one loop");
    pc
}

/// The function named `name`.
fn func(verified: &Verified, name: &str) -> FnId {
    let functions = &verified.program().functions;
    functions
        .iter()
        .position(|f| f.name == name)
        .expect("the function") as FnId
}

/// A call counter with budget N trips at the N-th call, and again every N calls
/// when rearmed to N; a back-edge counter likewise, at the M-th back edge, the
/// hook seeing the frame's locals as they are then.
#[test]
fn a_counter_trips_exactly_at_its_budget() {
    isolate::case(|| {
        let verified = load_verified("counted.mini", COUNTED);
        let f = func(&verified, "f");
        let pc = loop_pc(&verified, f);
        for (n, trips) in [(1, 12), (2, 6), (5, 2), (7, 1), (12, 1), (13, 0)] {
            let mut driver = Driver {
                budgets: Some((budget(n), NEVER)),
                rearm: budget(n),
                ..Driver::default()
            };
            let run = run_on(&mut driver, &verified);
            assert_eq!(run.output, "126\n");
            let of_f: Vec<&Trip> = driver
                .trips
                .iter()
                .filter(|t| **t == Trip::Call(f))
                .collect();
            assert_eq!(of_f.len(), trips, "budget {n}: {:?}", driver.trips);
            // `main` is called once: its counter trips only at budget 1.
            let of_main = driver
                .trips
                .iter()
                .filter(|t| **t == Trip::Call(MAIN))
                .count();
            assert_eq!(of_main, usize::from(n == 1), "budget {n}");
        }
        // 60 back edges in all: with budget 7 the 7th trips, in the second call of f
        // (k = 1) at its second back edge (i = 2).
        let mut driver = Driver {
            budgets: Some((NEVER, budget(7))),
            ..Driver::default()
        };
        run_on(&mut driver, &verified);
        // main's loop counts too (12 back edges): its 7th trips as well.
        driver
            .trips
            .retain(|t| matches!(t, Trip::Loop { func, .. } if *func == f));
        let expected = Trip::Loop {
            func: f,
            loop_pc: pc,
            // n = 1, i = 2, tagged.
            locals: vec![2, 4],
        };
        assert_eq!(driver.trips, [expected]);
        let hot_loops = driver
            .stats
            .runtime_calls
            .iter()
            .find(|r| r.0 == "hot_loop");
        assert_eq!(hot_loops.map(|r| r.1), Some(2));
    });
}

/// The interpreter stubs of the shared code run their function through the hooks'
/// `call_interpreted`, once per call from native code (and from the trampoline):
/// `main` interpreted calls compiled `f` natively; compiled `main` calls interpreted
/// `f` through its stub, 12 times.
#[test]
fn the_interpreter_stubs_call_the_hooks() {
    isolate::case(|| {
        let verified = load_verified("counted.mini", COUNTED);
        let f = func(&verified, "f");
        assert_eq!(f, 1, "the test's compile masks assume it");
        for (compile, interpreted) in [
            ((|f| f == 1) as fn(FnId) -> bool, 1),
            (|f| f == 0, 12),
            (|_| false, 1),
        ] {
            let mut driver = Driver {
                compile,
                ..Driver::default()
            };
            let run = run_on(&mut driver, &verified);
            assert_eq!(run.output, "126\n");
            assert_eq!(driver.interpreted, interpreted);
        }
    });
}

/// A function compiled alone, registered in the code map, is described by function
/// and instruction, as a whole program is: what the harness prints of a crash.
#[test]
fn a_function_compiled_alone_is_described_by_the_code_map() {
    engine_run::isolated(|| {
        let verified = load_verified("counted.mini", COUNTED);
        let f = func(&verified, "f");
        let pc = loop_pc(&verified, f);
        let compiled = compile_function(&verified, f, &TierOptions::default()).unwrap();
        let registration = stage3::code_map::register_function(verified.program(), f, &compiled);
        assert!(registration.is_some(), "the harness turns the code map on");
        let address = compiled.code.addr() + compiled.function.instrs[pc].start as u64;
        let text = stage2::code_map::describe(address).expect("registered");
        assert!(
            text.contains(&format!("fn f, bytecode pc {pc} `loop")),
            "{text}"
        );
        drop(registration);
        assert_eq!(stage2::code_map::describe(address), None);
    });
}

/// Runs the OSR entry of `func` at `header` with the given locals and operands
/// (integers) through the trampoline, and the interpreter from the same place
/// (`Interpreter::enter`): the same output, the same result or error and trace.
fn assert_osr_agrees(
    verified: &Verified,
    func: FnId,
    header: usize,
    locals: &[i64],
    operands: &[i64],
) {
    use stage1::Value;
    let program = verified.program();
    let values = |v: &[i64]| v.iter().map(|&x| Value::int(x)).collect::<Vec<_>>();
    let (l, o) = (values(locals), values(operands));
    let mut heap = Heap::new(DEFAULT_HEAP_LIMIT);
    let mut expected_out = Vec::new();
    let entry = Entry {
        func,
        pc: header,
        locals: &l,
        operands: &o,
        depth: 0,
    };
    let expected = Interpreter::new()
        .enter(verified, &mut heap, entry, None, &mut expected_out)
        .map(|v| stage1::print::format_value(program, &heap, v))
        .map_err(|u| runtime_error(program, u.kind, u.frames.into_iter()));
    let state = FrameState::new(&l, &o);
    let mut out = Vec::new();
    let start = Start::Osr {
        func,
        header,
        state: &state,
    };
    let actual = Driver::default().execute(verified, start, &mut out);
    assert_eq!(
        (String::from_utf8_lossy(&out), actual),
        (String::from_utf8_lossy(&expected_out), expected),
        "OSR into {} at pc {header}",
        program.functions[func as usize].name
    );
}

/// An OSR entry entered with a frame state the interpreter would have at the loop
/// header finishes the run as the interpreter does from there: output, result, and
/// an error's trace.
#[test]
fn an_osr_entry_finishes_the_frame_as_the_interpreter_does() {
    isolate::case(|| {
        let source = "fn f(n) { let i = 0; let s = 0; while i < n { print i; s = s + 100 / (n - 2 - i); i = i + 1; } return s; }\n\
                      let k = 0; while k < 3 { print f(k); k = k + 1; }";
        let verified = load_verified("osr.mini", source);
        let f = func(&verified, "f");
        let pc = loop_pc(&verified, f);
        let Instr::Loop(header) = verified.program().functions[f as usize].code[pc] else {
            unreachable!()
        };
        let header = header as usize;
        // f(10) from i = 3 (s = 100/7 + 100/6 + 100/5 = 14 + 16 + 20): it divides by
        // zero at i = 8, with f's frame alone in the trace.
        assert_osr_agrees(&verified, f, header, &[10, 3, 50], &[]);
        // f(2) from the loop's last test: returns at once.
        assert_osr_agrees(&verified, f, header, &[2, 2, 7], &[]);
        // main from k = 1, s: prints f(1), f(2), then ends.
        let main_pc = loop_pc(&verified, MAIN);
        let Instr::Loop(main_header) = verified.program().functions[MAIN as usize].code[main_pc]
        else {
            unreachable!()
        };
        let main_locals = verified.program().functions[MAIN as usize].locals as usize;
        let mut locals = vec![0; main_locals];
        locals[0] = 1;
        assert_osr_agrees(&verified, MAIN, main_header as usize, &locals, &[]);
    });
}

/// A loop header with an operand under it (possible in `.jasm`): the OSR entry
/// copies it into its slot.
#[test]
fn an_osr_entry_copies_the_operands_at_its_header() {
    isolate::case(|| {
        let source = ".fn main params=0 locals=1\n\
                      const 100\n\
                      const 3\n\
                      store_local 0\n\
                      top:\n\
                      load_local 0\n\
                      print\n\
                      load_local 0\n\
                      const 1\n\
                      sub\n\
                      dup\n\
                      store_local 0\n\
                      jump_if_true again\n\
                      jump done\n\
                      again:\n\
                      loop top\n\
                      done:\n\
                      print\n\
                      const 7\n\
                      return\n\
                      .end\n";
        let verified = load_verified("operands.jasm", source);
        let pc = loop_pc(&verified, MAIN);
        let Instr::Loop(header) = verified.program().functions[MAIN as usize].code[pc] else {
            unreachable!()
        };
        assert_eq!(verified.depths(MAIN)[header as usize], 1);
        assert_osr_agrees(&verified, MAIN, header as usize, &[5], &[42]);
        let compiled = compile_function(&verified, MAIN, &TierOptions::default()).unwrap();
        assert_eq!(compiled.osr_entries.len(), 1);
        assert_eq!(compiled.osr_entries[0].0, header as usize);
    });
}

/// `rt_hot_loop` answering with an OSR entry (here one of the function's baseline
/// code compiled without counters): the frame goes on there and its result is the
/// frame's; an error thrown after the transfer has the interpreter's trace, with the
/// frame in it once. That the frame moved shows in the back edges counted: none
/// after the transfer in that frame.
#[test]
fn a_hot_loop_transfers_the_frame_to_the_osr_entry_it_is_given() {
    let cases = [
        // f's 60 back edges, counted in threes: the first trip (f(0)'s third back
        // edge) moves f(0)'s frame, whose last 2 then go uncounted: 58 counted, 19
        // trips of f's counter (20 without the transfer).
        ("counted.mini", COUNTED, 19),
        // f(5) moves at i = 3; g(0) fails at i = 5, under the moved frame.
        (
            "fails_after_osr.mini",
            "fn g(x) { return 10 / x; }\n\
             fn f(n) { let i = 0; let s = 0; while i < 10 { s = s + g(n - i); i = i + 1; } return s; }\n\
             print 1; print f(5);",
            1,
        ),
    ];
    for (name, source, trips) in cases {
        isolate::case(|| {
            let verified = load_verified(name, source);
            let f = func(&verified, "f");
            let pc = loop_pc(&verified, f);
            let Instr::Loop(header) = verified.program().functions[f as usize].code[pc] else {
                unreachable!()
            };
            let mut driver = Driver {
                budgets: Some((NEVER, budget(3))),
                rearm: budget(3),
                plan: OsrPlan::from([((f, pc), header as usize)]),
                ..Driver::default()
            };
            let reference = run_on(&mut Interpreter::new(), &verified);
            let run = run_on(&mut driver, &verified);
            assert_eq!(
                (&run.output, &run.result),
                (&reference.output, &reference.result)
            );
            assert!(driver.plan_left.is_empty(), "the OSR entry was handed out");
            let loops = driver
                .trips
                .iter()
                .filter(|t| matches!(t, Trip::Loop { func, .. } if *func == f))
                .count();
            assert_eq!(loops, trips, "{:?}", driver.trips);
        });
    }
}

/// The disassembly of `code` (iced-x86, Intel syntax with `0x` hex), one
/// instruction per line.
fn disassemble(code: &[u8]) -> Vec<String> {
    let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
    let mut formatter = IntelFormatter::new();
    let o = formatter.options_mut();
    o.set_space_after_operand_separator(true);
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_uppercase_hex(false);
    o.set_small_hex_numbers_in_decimal(false);
    let mut instr = Instruction::default();
    let mut lines = Vec::new();
    while decoder.can_decode() {
        decoder.decode_out(&mut instr);
        let mut text = String::new();
        formatter.format(&instr, &mut text);
        lines.push(text);
    }
    lines
}

/// The countdowns' shape: the prologue ends with `sub qword ptr [r11], 1; je` (the
/// counter's address loaded into r11 first), the `loop` has the same before its jump;
/// without counters neither is there, and the whole-program code has none.
#[test]
fn the_countdowns_are_a_sub_from_memory_and_a_je() {
    let verified = load_verified("counted.mini", COUNTED);
    let f = func(&verified, "f");
    let counters = Counters::new(verified.program(), 5, 5);
    let options = TierOptions {
        counters: Some(&counters),
        ranges: true,
        ..TierOptions::default()
    };
    let compiled = compile_function(&verified, f, &options).unwrap();
    let bytes = compiled.code.bytes();
    let prologue = disassemble(&bytes[compiled.function.prologue.clone()]);
    let tail: Vec<&str> = prologue[prologue.len() - 3..]
        .iter()
        .map(String::as_str)
        .collect();
    let address = counters.call(f).as_ptr() as u64;
    assert_eq!(
        tail,
        [
            format!("mov r11, {address:#x}").as_str(),
            "sub qword ptr [r11], 0x1",
            tail[2]
        ],
        "{prologue:#?}"
    );
    assert!(tail[2].starts_with("je "), "{prologue:#?}");
    let pc = loop_pc(&verified, f);
    let back_edge = disassemble(&bytes[compiled.function.instrs[pc].clone()]);
    let loop_address = counters.back_edge(f, pc).as_ptr() as u64;
    assert_eq!(
        back_edge[back_edge.len() - 4],
        format!("mov r11, {loop_address:#x}"),
        "{back_edge:#?}"
    );
    assert_eq!(back_edge[back_edge.len() - 3], "sub qword ptr [r11], 0x1");
    assert!(
        back_edge[back_edge.len() - 2].starts_with("je "),
        "{back_edge:#?}"
    );
    assert!(
        back_edge[back_edge.len() - 1].starts_with("jmp "),
        "{back_edge:#?}"
    );
    // Without counters: no countdown anywhere.
    let plain = compile_function(&verified, f, &TierOptions::default()).unwrap();
    let all = disassemble(plain.code.bytes());
    assert!(
        !all.iter().any(|l| l.starts_with("sub qword ptr")),
        "{all:#?}"
    );
    let whole = stage3::compile_program(&verified).unwrap();
    let all = disassemble(whole.code.bytes());
    assert!(
        !all.iter().any(|l| l.starts_with("sub qword ptr")),
        "{all:#?}"
    );
    // Calls of a known function go through the table.
    let main = compile_function(&verified, MAIN, &TierOptions::default()).unwrap();
    let all = disassemble(main.code.bytes());
    let table_offset = f as usize * 16;
    assert!(
        all.iter()
            .any(|l| l == &format!("call qword ptr [rax+{table_offset:#x}]")),
        "{all:#?}"
    );
}
