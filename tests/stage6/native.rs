//! Baseline code by what it is (issue #12, "native code by its shape"): a
//! monomorphic `get_field` is a tag check, one compare with the cache's entry and a
//! load, with no call on its hit path (read on the disassembly, iced-x86); and in a
//! run of baseline code (the stage 6 engine compiling everything at first sight and
//! never optimizing), sites of one to four shapes reach the runtime only on their
//! misses, megamorphic ones on every access.

use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, Mnemonic, OpKind, Register};
use stage1::{FnId, Instr, Verified};
use stage3::{compile_function, TierOptions};
use stage5::Policy;
use stage6::baseline::BaselineCode;
use stage6::layout::{IcEntry, IC_ENTRIES};
use stage6::{Cached, Options};

use super::common::{isolated, load, run_on};

/// A function reading a field, writing one and allocating.
const SOURCE: &str = "fn f(o) { o.y = 1; let p = {}; return o.x; }\nprint f({x: 1});";

/// The decoded code of instruction `pc` of `func` in baseline code made with
/// `objects`, and the offset where the next instruction's code begins.
fn template(
    verified: &Verified,
    func: FnId,
    pc: usize,
    objects: &BaselineCode,
) -> (Vec<Instruction>, u64) {
    let options = TierOptions {
        objects: Some(objects),
        ranges: true,
        ..TierOptions::default()
    };
    let c = compile_function(verified, func, &options).expect("compiles");
    let range = c.function.instrs[pc].clone();
    let bytes = &c.code.bytes()[range.clone()];
    let mut decoder = Decoder::with_ip(64, bytes, range.start as u64, DecoderOptions::NONE);
    (decoder.iter().collect(), range.end as u64)
}

/// The instructions executed from the template's first when no conditional branch
/// is taken and every `jmp` is, until the path leaves the template.
fn fall_through_path(code: &[Instruction], end: u64) -> Vec<Instruction> {
    let mut path = Vec::new();
    let mut ip = code[0].ip();
    while ip < end {
        let Some(&i) = code.iter().find(|i| i.ip() == ip) else {
            panic!("a jump inside the template to {ip:#x}, between instructions");
        };
        path.push(i);
        assert!(path.len() < 100, "the fall-through path loops");
        ip = match i.mnemonic() {
            Mnemonic::Jmp => i.near_branch_target(),
            _ => i.next_ip(),
        };
    }
    path
}

fn text(path: &[Instruction]) -> String {
    let mut f = stage2::disasm::formatter();
    let mut out = String::new();
    for i in path {
        f.format(i, &mut out);
        out.push('\n');
    }
    out
}

#[test]
fn a_monomorphic_get_field_in_baseline_code_is_a_compare_and_a_load() {
    let verified = load("t.mini", SOURCE);
    let program = verified.program();
    let f = program.function_named("f").unwrap();
    let pc = program.functions[f as usize]
        .code
        .iter()
        .position(|i| matches!(i, Instr::GetField(_)))
        .unwrap();
    // The hit path does not depend on what the entries hold.
    let ic = Box::new([IcEntry::default(); IC_ENTRIES]);
    let ics = vec![ic.as_ptr() as u64; verified.sites().len()];
    let objects = BaselineCode::from_parts(ics, std::ptr::null(), 0);
    let (code, end) = template(&verified, f, pc, &objects);
    let path = fall_through_path(&code, end);
    let listing = text(&path);
    assert!(
        path.iter().all(|i| i.mnemonic() != Mnemonic::Call),
        "a call on the hit path:\n{listing}"
    );
    let compares = path
        .iter()
        .filter(|i| i.mnemonic() == Mnemonic::Cmp && i.op1_kind() == OpKind::Memory)
        .count();
    assert_eq!(
        compares, 1,
        "one compare with the entry's shape:\n{listing}"
    );
    let last = path[path.len() - 1];
    assert_eq!(last.mnemonic(), Mnemonic::Jmp, "{listing}");
    assert_eq!(
        last.near_branch_target(),
        end,
        "the hit leaves the template\n{listing}"
    );
    let load = path[path.len() - 2];
    assert_eq!(
        load.mnemonic(),
        Mnemonic::Mov,
        "the field's load last:\n{listing}"
    );
    assert_eq!(load.op0_register(), Register::RAX, "{listing}");
    assert_eq!(load.op1_kind(), OpKind::Memory, "{listing}");
    assert_eq!(
        load.memory_base(),
        Register::RSI,
        "from the object:\n{listing}"
    );
    assert!(path.len() <= 13, "{} instructions:\n{listing}", path.len());
}

/// Everything in baseline code from its first call, never optimized.
pub fn baseline_only() -> Options {
    Options {
        tiered: stage5::Options {
            policy: Policy {
                calls: 0,
                loops: 0,
                opt_calls: u64::MAX,
                opt_loops: u64::MAX,
            },
            sync_compile: true,
            ..stage5::Options::default()
        },
        caches: true,
    }
}

/// Everything optimized from its first call, on the spot.
fn optimized_only() -> Options {
    Options {
        tiered: stage5::Options {
            policy: Policy {
                calls: 0,
                loops: 0,
                opt_calls: 0,
                opt_loops: 0,
            },
            sync_compile: true,
            ..stage5::Options::default()
        },
        caches: true,
    }
}

/// The runtime calls of `name` in a baseline run of `source` (which must agree with
/// the interpreter).
fn runtime_calls(source: &str, name: &str) -> u64 {
    runtime_calls_in(baseline_only(), source, name)
}

/// The runtime calls of `name` in a run of `source` with `options` (which must agree
/// with the interpreter).
fn runtime_calls_in(options: Options, source: &str, name: &str) -> u64 {
    let program = load("test.mini", source);
    let expected = run_on(&mut stage1::interp::Interpreter::new(), &program);
    let mut engine = Cached::with_options(options);
    let run = run_on(&mut engine, &program);
    assert_eq!(run.output, expected.output, "{source}");
    assert_eq!(run.result, expected.result, "{source}");
    let calls = &stage1::Engine::stats(&engine).runtime_calls;
    calls
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |&(_, n)| n)
}

/// `get(o)` over objects of the given literals, 100 rounds.
fn reads(shapes: &str) -> String {
    format!(
        "fn get(o) {{ return o.x; }}\nlet os = [{shapes}];\nlet s = 0; let r = 0;\n\
         while r < 100 {{ let i = 0; while i < len(os) {{ s = s + get(os[i]); i = i + 1; }} r = r + 1; }}\n\
         print s;"
    )
}

#[test]
fn baseline_and_optimized_code_go_to_the_runtime_only_on_misses() {
    isolated(|| {
        // One miss per shape fills the cache; then every read hits inline.
        assert_eq!(runtime_calls(&reads("{x: 1}"), "get_field"), 1);
        let four = "{x: 1}, {y: 0, x: 2}, {z: 0, x: 3}, {y: 0, z: 0, x: 4}";
        assert_eq!(runtime_calls(&reads(four), "get_field"), 4);
        // Megamorphic: the runtime answers every read.
        let six = format!("{four}, {{w: 0, x: 5}}, {{v: 0, x: 6}}");
        assert_eq!(runtime_calls(&reads(&six), "get_field"), 600);
        // Optimized code probes the megamorphic cache before it calls the runtime:
        // the runtime sees each shape until the site is megamorphic (the four
        // entries, the fifth shape), then once more each to fill the cache.
        let calls = runtime_calls_in(optimized_only(), &reads(&six), "get_field");
        assert!(
            (5..=12).contains(&calls),
            "{calls} runtime calls of 600 reads"
        );
        // Stores and the transitions of a literal: one miss per site.
        let literals = "let i = 0; let s = 0;\nwhile i < 500 { let p = {x: i, y: 1}; p.z = p.x + p.y; s = s + p.z; i = i + 1; }\nprint s;";
        assert_eq!(runtime_calls(literals, "set_field"), 3);
        assert_eq!(runtime_calls(literals, "get_field"), 3);
    });
}
