//! Baseline code with stage 6's fast paths ([`BaselineCode`]), checked by what it is:
//! the disassembly (iced-x86) of each object instruction's template, its hit path
//! traced instruction by instruction.

extern crate stage6_solution as stage6;

// The suite's helpers, of which these tests use a part.
#[allow(dead_code)]
#[path = "../../../tests/common/engine_run.rs"]
mod engine_run;

#[path = "baseline/driver.rs"]
mod driver;

use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, Mnemonic, OpKind};
use stage1::{FnId, Instr, Verified};
use stage3::{compile_function, TierOptions};

use driver::BaselineDriver;
use engine_run::{harness, isolated, load_verified, program_label, programs_dir, run_on, Suite};
use jitlab_testkit::{corpus, isolate, random};
use stage1::heap::DEFAULT_HEAP_LIMIT;
use stage1::interp::{Interpreter, Options};
use stage6::baseline::BaselineCode;
use stage6::layout::{IcEntry, IC_ENTRIES};

/// A program whose function `f` reads a field, writes one and allocates.
const SOURCE: &str = "fn f(o) { o.y = 1; let p = {}; return o.x; }\nprint f({x: 1});";

/// The instructions of `f`'s instruction number `pc` in its baseline code made with
/// `objects`, decoded, with the offset where the next instruction's code begins.
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

/// The path an execution takes through `code` when no conditional branch is taken
/// (and every `jmp` is), from its first instruction until it leaves the template.
fn fall_through_path(code: &[Instruction], end: u64) -> Vec<Instruction> {
    let mut path = Vec::new();
    let mut ip = code[0].ip();
    while ip < end {
        let i = *code
            .iter()
            .find(|i| i.ip() == ip)
            .expect("a jump inside the template lands on an instruction");
        path.push(i);
        assert!(path.len() < 100, "the path loops");
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
fn a_monomorphic_get_field_is_a_compare_and_a_load() {
    let verified = stage1::load::load_source("t.mini", SOURCE).unwrap();
    let program = verified.program();
    let f = program.function_named("f").unwrap();
    let pc = program.functions[f as usize]
        .code
        .iter()
        .position(|i| matches!(i, Instr::GetField(_)))
        .unwrap();
    // Every site's IC: monomorphic on one shape, `x` in inline slot 0.
    let ic = Box::new([IcEntry::default(); IC_ENTRIES]);
    let sites = verified.sites().len();
    let objects = BaselineCode::from_parts(vec![ic.as_ptr() as u64; sites], std::ptr::null(), 0);
    let (code, end) = template(&verified, f, pc, &objects);
    let path = fall_through_path(&code, end);
    let listing = text(&path);
    // No call on the hit path...
    assert!(
        path.iter().all(|i| i.mnemonic() != Mnemonic::Call),
        "{listing}"
    );
    // ... one compare of the shape with the entry's, in memory ...
    let compares: Vec<_> = path
        .iter()
        .filter(|i| i.mnemonic() == Mnemonic::Cmp && i.op1_kind() == OpKind::Memory)
        .collect();
    assert_eq!(compares.len(), 1, "{listing}");
    // ... and the field's load from the object (base rsi, the object operand),
    // the last thing before leaving.
    let last = path.last().unwrap();
    assert_eq!(last.mnemonic(), Mnemonic::Jmp, "{listing}");
    assert_eq!(
        last.near_branch_target(),
        end,
        "the hit leaves the template\n{listing}"
    );
    let load = path[path.len() - 2];
    assert_eq!(load.mnemonic(), Mnemonic::Mov, "{listing}");
    assert_eq!(load.op1_kind(), OpKind::Memory, "{listing}");
    assert_eq!(load.memory_base(), iced_x86::Register::RSI, "{listing}");
    // Short: the operand (1), the tag check (3), the shape (1), the IC's address (1),
    // the compare and its branch (2), the slot and its kind (3), the load and the
    // jump (2).
    assert!(path.len() <= 13, "{} instructions\n{listing}", path.len());
}

/// Runs every function in baseline code with the fast paths.
const FAST: Suite = Suite {
    load: load_verified,
    jit: || Box::new(BaselineDriver::new(true)),
    jit_name: "baseline code with inline caches",
};

/// The same, the model caching nothing (as `--no-ic`).
const NO_IC: Suite = Suite {
    load: load_verified,
    jit: || {
        let mut driver = BaselineDriver::new(true);
        driver.caches = false;
        Box::new(driver)
    },
    jit_name: "baseline code with the caches off",
};

#[test]
fn every_corpus_program_agrees_in_baseline_code_with_inline_caches() {
    let programs: Vec<_> = corpus::load(&programs_dir())
        .into_iter()
        .filter(|p| p.expected_load_error.is_none())
        .collect();
    assert!(programs.len() >= 60, "only {} programs", programs.len());
    let failures = harness().max_failures(programs.len()).each(
        programs.len(),
        |i| program_label(&programs[i].name, &programs[i].source),
        |i| FAST.differential(&programs[i].name, &programs[i].source),
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus programs went wrong: {}\n\n{}",
        failures.len(),
        programs.len(),
        isolate::names(&failures, |i| programs[i].name.clone()),
        isolate::report(&failures[..failures.len().min(3)])
    );
}

#[test]
fn random_programs_agree_in_baseline_code_with_inline_caches() {
    FAST.assert_random_programs_agree(200);
}

/// Random programs with objects of many shapes (fields in other orders, added
/// after construction, sites seeing up to seven shapes), with the caches on, and
/// with them off (every fast path misses: the runtime alone).
#[test]
fn random_object_programs_agree_in_baseline_code_with_and_without_caches() {
    let name = |seed: usize| format!("objects-{seed}.mini");
    let failures = harness().each(
        random::seed_count(300) as usize,
        |seed| program_label(&name(seed), &random::object_program(seed as u64)),
        |seed| {
            let source = random::object_program(seed as u64);
            FAST.differential(&name(seed), &source)?;
            NO_IC.differential(&name(seed), &source)
        },
    );
    assert!(failures.is_empty(), "{}", isolate::report(&failures));
}

/// Runs `source` in the driver (fast paths on, heap of `limit` bytes) and in the
/// interpreter with the same limit; panics unless they agree. Gives the driver.
fn agree(source: &str, limit: usize) -> BaselineDriver {
    let verified = load_verified("test.mini", source);
    let options = Options {
        heap_limit: limit,
        ..Options::default()
    };
    let expected = run_on(&mut Interpreter::with_options(options), &verified);
    let mut driver = BaselineDriver::new(true);
    driver.limit = limit;
    let actual = run_on(&mut driver, &verified);
    assert_eq!(actual.output, expected.output, "{source}");
    assert_eq!(actual.result, expected.result, "{source}");
    driver
}

/// Array literals are bump allocations inline: the runtime allocates only when the
/// chunk is full (the first allocation finds no chunk at all).
#[test]
fn small_arrays_are_allocated_inline() {
    isolated(|| {
        let source = "let i = 0; let s = 0;\n\
                      while i < 10000 { let a = [i, i + 1, [i]]; s = s + a[1] + a[2][0]; i = i + 1; }\n\
                      print s; print [1, [2, 3], []];";
        let driver = agree(source, DEFAULT_HEAP_LIMIT);
        let runtime = driver.runtime_calls("new_array");
        assert!(runtime <= 2, "{runtime} runtime calls for 20,001 arrays");
    });
}

/// Inline allocation counts against the heap's limit as the runtime does: the same
/// `out of memory` at the same line, for arrays made inline and by the runtime.
#[test]
fn inline_allocation_runs_out_of_memory_where_the_interpreter_does() {
    isolated(|| {
        let source = "let a = [0];\nlet n = 0;\nwhile 1 {\n  a = [a, n];\n  n = n + 1;\n}";
        for limit in [4096, 100_000, 1 << 20, 3 << 20] {
            let driver = agree(source, limit);
            assert!(driver.heap.used_bytes() <= limit);
        }
        let mixed = "let a = [0];\nwhile 1 {\n  a = [a, [0; 3]];\n}";
        agree(mixed, 1 << 20);
    });
}

/// Field accesses of one shape in a loop: after the first access of each site
/// fills its cache, every access hits inline; objects are allocated inline.
#[test]
fn monomorphic_sites_hit_inline() {
    isolated(|| {
        let source = "fn f(n) {\n\
                        let s = 0; let i = 0;\n\
                        while i < n { let p = {x: i, y: 1}; p.z = p.x + p.y; s = s + p.z; i = i + 1; }\n\
                        return s;\n\
                      }\n\
                      print f(1000);";
        let driver = agree(source, DEFAULT_HEAP_LIMIT);
        // Per site, the first access misses (and fills the cache): 3 reads, 3 writes.
        assert_eq!(driver.runtime_calls("get_field"), 3);
        assert_eq!(driver.runtime_calls("set_field"), 3);
        // The first object finds no chunk yet.
        assert_eq!(driver.runtime_calls("new_object"), 1);
    });
}

/// One site sees four shapes: polymorphic, every shape hits inline once cached;
/// with six it is megamorphic and the runtime answers every access.
#[test]
fn polymorphic_sites_hit_inline_and_megamorphic_ones_do_not() {
    isolated(|| {
        let source = |shapes: &str| {
            format!(
                "fn get(o) {{ return o.x; }}\n\
                 let os = [{shapes}];\n\
                 let s = 0; let r = 0;\n\
                 while r < 100 {{ let i = 0; while i < len(os) {{ s = s + get(os[i]); i = i + 1; }} r = r + 1; }}\n\
                 print s;"
            )
        };
        let four = "{x: 1}, {y: 0, x: 2}, {z: 0, x: 3}, {y: 0, z: 0, x: 4}";
        let driver = agree(&source(four), DEFAULT_HEAP_LIMIT);
        assert_eq!(driver.runtime_calls("get_field"), 4, "one miss per shape");
        let six =
            "{x: 1}, {y: 0, x: 2}, {z: 0, x: 3}, {y: 0, z: 0, x: 4}, {w: 0, x: 5}, {v: 0, x: 6}";
        let driver = agree(&source(six), DEFAULT_HEAP_LIMIT);
        assert_eq!(driver.runtime_calls("get_field"), 600, "every access");
    });
}

/// Fields past the inline slots live in the overflow block: loads and stores there
/// hit inline too, and adding a field there is a cached transition while the block
/// has room.
#[test]
fn overflow_slots_hit_inline() {
    isolated(|| {
        let source = "let i = 0; let s = 0;\n\
                      while i < 500 {\n\
                        let o = {a: 1, b: 2, c: 3, d: 4, e: i};\n\
                        o.f = o.e + 1; o.e = o.f + o.a;\n\
                        s = s + o.e + o.f; i = i + 1;\n\
                      }\n\
                      print s;";
        let driver = agree(source, DEFAULT_HEAP_LIMIT);
        let (gets, sets) = (
            driver.runtime_calls("get_field"),
            driver.runtime_calls("set_field"),
        );
        assert_eq!(gets, 5, "one runtime read per site, of 2,500");
        // A transition that needs a new overflow block goes to the runtime each time
        // (`e`, the fifth field, makes the block); the others are cached.
        assert_eq!(sets, 500 + 6, "runtime writes of 3,500");
    });
}

/// A value call's target is recorded inline: the runtime hears of each target
/// once (while the cache has room), however many calls.
#[test]
fn call_targets_are_recorded_once() {
    isolated(|| {
        let source = "fn a(x) { return x + 1; }\nfn b(x) { return x * 2; }\n\
                      let fs = [a, b, a]; let s = 0; let i = 0;\n\
                      while i < 300 { let f = fs[i % 3]; s = s + f(i); i = i + 1; }\n\
                      print s;";
        let driver = agree(source, DEFAULT_HEAP_LIMIT);
        assert_eq!(driver.runtime_calls("call_target"), 2);
    });
}

/// The fast path of a monomorphic `get_field` as the book prints it: from the tag
/// check to the miss (where stage 3's runtime call begins), offsets from its start,
/// the IC's address as `<ic>`.
fn get_field_fast_path() -> String {
    let verified = stage1::load::load_source("t.mini", SOURCE).unwrap();
    let program = verified.program();
    let f = program.function_named("f").unwrap();
    let pc = get_field_pc(&verified, f);
    let ic = Box::new([IcEntry::default(); IC_ENTRIES]);
    let address = ic.as_ptr() as u64;
    let objects =
        BaselineCode::from_parts(vec![address; verified.sites().len()], std::ptr::null(), 0);
    let (code, _) = template(&verified, f, pc, &objects);
    let start = code
        .iter()
        .position(|i| i.mnemonic() == Mnemonic::Lea)
        .expect("the tag check");
    // The tag check's `jne` goes to the miss.
    let miss = code[start + 2].near_branch_target();
    let base = code[start].ip();
    let mut out = String::new();
    let mut f = stage2::disasm::formatter();
    for i in code[start..].iter().take_while(|i| i.ip() < miss) {
        let mut t = String::new();
        let mut i = *i;
        if i.op0_kind() == OpKind::NearBranch64 {
            i.set_near_branch64(i.near_branch_target() - base);
        }
        f.format(&i, &mut t);
        let t = t.replace(&format!("{address:#x}"), "<ic>");
        out.push_str(&format!("{:3x}  {t}\n", i.ip() - base));
    }
    out.push_str(&format!(
        "{:3x}  (the miss: stage 3's runtime call)\n",
        miss - base
    ));
    out
}

/// The pc of the first `get_field` of `func`.
fn get_field_pc(verified: &Verified, func: FnId) -> usize {
    verified.program().functions[func as usize]
        .code
        .iter()
        .position(|i| matches!(i, Instr::GetField(_)))
        .unwrap()
}

/// The book's listing of the fast path is the code's.
#[test]
fn the_books_listing_of_the_shape_check_is_the_codes() {
    let book = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../book/src/stage6-inline-caches.md"
    ))
    .unwrap();
    let marker = "<!-- checked by solutions/stage6/tests/baseline.rs -->\n```text\n";
    let at = book.find(marker).expect("the book has the listing") + marker.len();
    let listing = &book[at..at + book[at..].find("```").unwrap()];
    pretty_assertions::assert_eq!(listing, get_field_fast_path());
}
