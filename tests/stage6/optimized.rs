//! Optimized code's object instructions (`stage6::optimized`): the fast paths a
//! snapshot of the ICs gives stage 4, by the shape of their code (a monomorphic load
//! is one shape compare and a load, no call; a polymorphic one a compare per shape) and
//! by running them on objects laid out as `stage6::layout` says, and in functions
//! stage 4 compiles with them (hit path in line, the runtime call out of line).

use stage1::heap::Bump;
use stage1::value::OBJECT_TAG;
use stage2::disasm::{disasm, format_line};
use stage2::{Assembler, CodeBlock, Label, Reg};
use stage4::objects::{ObjectLowering, TMP, TMP2};
use stage6::ics::FieldIc;
use stage6::layout::{slot_word, IcEntry, IC_ENTRIES, INLINE_SLOTS, OBJECT_BYTES, SLOTS_OFFSET};
use stage6::megamorphic::{index, MegamorphicCache};
use stage6::optimized::{FieldCase, OptimizedCode};

/// Shape words: one too big for an immediate, two that fit one.
const SHAPES: [u64; 4] = [0x7f3a_1c00_2040, 0x4000, 0x5558_0000_1180, 0x4040];

/// What the miss path returns in the test functions.
const MISS: u64 = 0xdead;

/// The slot word of inline slot `i`.
fn inline(i: usize) -> u64 {
    slot_word(i)
}

/// The slot word of overflow slot `j` (slot `INLINE_SLOTS + j` of the object).
fn overflow(j: usize) -> u64 {
    slot_word(INLINE_SLOTS + j)
}

fn get(shape: u64, slot: u64) -> FieldCase {
    FieldCase {
        shape,
        slot,
        new_shape: 0,
    }
}

/// A one-site snapshot: site 0 with `cases`.
fn snapshot(cases: Vec<FieldCase>) -> OptimizedCode {
    OptimizedCode::new().with_field(0, cases)
}

/// `extern "sysv64" fn(obj) -> value`: the get_field fast path of site 0 with the
/// object in `obj_reg` (moved there from `rdi`), `MISS` on a miss.
fn get_function(code: &OptimizedCode, obj_reg: Reg) -> CodeBlock {
    load_function(obj_reg, |asm, miss| {
        code.get_field(asm, 0, obj_reg, false, miss)
    })
}

/// `extern "sysv64" fn(obj) -> value` around the load `emit` makes with the object
/// in `obj_reg` (moved there from `rdi`): its value, or `MISS` when it jumps to the
/// label it is given.
fn load_function(obj_reg: Reg, emit: impl FnOnce(&mut Assembler, Label) -> bool) -> CodeBlock {
    let mut asm = Assembler::new();
    let miss = asm.new_label();
    asm.mov(obj_reg, Reg::RDI);
    assert!(emit(&mut asm, miss));
    asm.ret();
    asm.bind(miss);
    asm.mov_imm(Reg::RAX, MISS as i64);
    asm.ret();
    asm.finish().expect("the code loads")
}

/// `extern "sysv64" fn(obj, value) -> 0 or MISS`: the set_field fast path of site 0.
fn set_function(code: &OptimizedCode, obj_reg: Reg, value_reg: Reg) -> CodeBlock {
    let mut asm = Assembler::new();
    let miss = asm.new_label();
    asm.mov(value_reg, Reg::RSI);
    asm.mov(obj_reg, Reg::RDI);
    assert!(code.set_field(&mut asm, 0, obj_reg, value_reg, false, miss));
    asm.mov_imm(Reg::RAX, 0);
    asm.ret();
    asm.bind(miss);
    asm.mov_imm(Reg::RAX, MISS as i64);
    asm.ret();
    asm.finish().expect("the code loads")
}

/// The fast path's instructions alone (get_field of site 0, object in `rsi`).
fn get_listing(code: &OptimizedCode) -> Vec<String> {
    let mut asm = Assembler::new();
    let miss = asm.new_label();
    assert!(code.get_field(&mut asm, 0, Reg::RSI, false, miss));
    asm.bind(miss);
    let machine = asm.assemble().expect("the code assembles");
    disasm(&machine.bytes, 0).iter().map(format_line).collect()
}

/// An object laid out as stage 6's: shape, overflow pointer, inline slots.
#[repr(C, align(8))]
struct Object {
    shape: u64,
    overflow: u64,
    slots: [u64; INLINE_SLOTS],
}

impl Object {
    fn new(shape: u64, overflow: *mut u64) -> Box<Object> {
        let mut slots = [0; INLINE_SLOTS];
        for (i, s) in slots.iter_mut().enumerate() {
            *s = 100 + 2 * i as u64;
        }
        Box::new(Object {
            shape,
            overflow: overflow as u64,
            slots,
        })
    }

    /// The tagged pointer native code gets.
    fn value(&mut self) -> u64 {
        self as *mut Object as u64 + OBJECT_TAG
    }
}

fn count(lines: &[String], what: &str) -> usize {
    lines.iter().filter(|l| l.contains(what)).count()
}

#[test]
fn a_monomorphic_get_field_is_a_shape_compare_and_a_load_with_no_call() {
    let code = snapshot(vec![get(SHAPES[0], inline(1))]);
    let lines = get_listing(&code);
    let text = lines.join("\n");
    // The object's tag tested, then one compare of its shape word and one load.
    assert_eq!(count(&lines, "cmp "), 1, "{text}");
    assert_eq!(count(&lines, "call"), 0, "{text}");
    assert_eq!(count(&lines, &format!("{:#x}", SHAPES[0])), 1, "{text}");
    let slot = SLOTS_OFFSET + 8; // slot 1
    assert_eq!(
        count(&lines, &format!("mov rax, qword ptr [rdx+{slot:#x}]")),
        1,
        "{text}"
    );
    // Nothing more: lea, test, jne, mov shape, cmp, jne, load.
    assert!(lines.len() <= 7, "{text}");
}

#[test]
fn a_polymorphic_get_field_compares_each_shape_in_turn() {
    for n in 2..=4 {
        let cases = (0..n).map(|k| get(SHAPES[k], inline(k))).collect();
        let lines = get_listing(&snapshot(cases));
        let text = lines.join("\n");
        assert_eq!(count(&lines, "cmp "), n, "{text}");
        assert_eq!(count(&lines, "call"), 0, "{text}");
        for shape in &SHAPES[..n] {
            assert_eq!(count(&lines, &format!("{shape:#x}")), 1, "{text}");
        }
    }
}

#[test]
fn a_site_with_no_cases_gets_no_fast_path() {
    let code = OptimizedCode::new();
    let mut asm = Assembler::new();
    let miss = asm.new_label();
    assert!(!code.get_field(&mut asm, 0, Reg::RSI, false, miss));
    assert!(!code.set_field(&mut asm, 0, Reg::RSI, Reg::RCX, false, miss));
    assert_eq!(asm.offset(), 0);
    assert!(code.call_targets(3).is_empty());
    let code = code.with_call(3, vec![2, 5]);
    assert_eq!(code.call_targets(3), [2, 5]);
}

#[test]
fn get_field_fast_paths_load_the_field_of_the_shape_that_matches() {
    let cases = vec![
        get(SHAPES[0], inline(2)),
        get(SHAPES[1], overflow(1)),
        get(SHAPES[2], inline(0)),
    ];
    let code = snapshot(cases);
    let mut spill = [7u64, 9, 11];
    let spill = spill.as_mut_ptr();
    for obj_reg in [Reg::RSI, Reg::RCX, TMP, TMP2] {
        let block = get_function(&code, obj_reg);
        // SAFETY: the code reads its argument from rdi, returns in rax, changes only
        // caller-saved registers, and reads only the object it is given (when its tag
        // says it is one) and that object's overflow block, all alive here.
        let f: extern "sysv64" fn(u64) -> u64 = unsafe { block.as_fn() };
        let mut a = Object::new(SHAPES[0], spill);
        let mut b = Object::new(SHAPES[1], spill);
        let mut c = Object::new(SHAPES[2], spill);
        let mut d = Object::new(SHAPES[3], spill);
        assert_eq!(f(a.value()), 104);
        assert_eq!(f(b.value()), 9);
        assert_eq!(f(c.value()), 100);
        // A shape seen by no case, and no object at all: the runtime's.
        assert_eq!(f(d.value()), MISS);
        assert_eq!(f(84), MISS);
        assert_eq!(f(stage1::Value::function(1).bits()), MISS);
    }
}

#[test]
fn set_field_fast_paths_store_and_make_the_transitions_they_cached() {
    let cases = vec![
        get(SHAPES[0], inline(3)),
        FieldCase {
            shape: SHAPES[1],
            slot: inline(1),
            new_shape: SHAPES[3],
        },
        FieldCase {
            shape: SHAPES[2],
            slot: overflow(2),
            new_shape: SHAPES[0],
        },
    ];
    let code = snapshot(cases);
    for (obj_reg, value_reg) in [(Reg::RCX, Reg::RSI), (TMP, TMP2)] {
        let block = set_function(&code, obj_reg, value_reg);
        // SAFETY: the code reads its arguments from rdi and rsi, returns in rax,
        // changes only caller-saved registers, and writes only the object it is given
        // (when its tag says it is one) and that object's overflow block.
        let f: extern "sysv64" fn(u64, u64) -> u64 = unsafe { block.as_fn() };
        let mut words = [1u64, 2, 3];
        let spill = words.as_mut_ptr();
        let mut a = Object::new(SHAPES[0], spill);
        assert_eq!(f(a.value(), 42), 0);
        assert_eq!((a.shape, a.slots[3]), (SHAPES[0], 42));
        let mut b = Object::new(SHAPES[1], spill);
        assert_eq!(f(b.value(), 44), 0);
        assert_eq!((b.shape, b.slots[1]), (SHAPES[3], 44));
        let mut c = Object::new(SHAPES[2], spill);
        assert_eq!(f(c.value(), 46), 0);
        assert_eq!(c.shape, SHAPES[0]);
        // SAFETY: `spill` points at `words`' three words, alive.
        assert_eq!(unsafe { *spill.add(2) }, 46);
        // Unknown shape, not an object: nothing written.
        let mut d = Object::new(SHAPES[3], spill);
        assert_eq!(f(d.value(), 48), MISS);
        assert_eq!(d.shape, SHAPES[3]);
        assert_eq!(d.slots, [100, 102, 104, 106]);
        assert_eq!(f(6, 48), MISS);
    }
}

#[test]
fn a_snapshot_holds_the_cases_and_targets_of_one_function_s_sites() {
    let verified = stage1::load::load_source(
        "sites.mini",
        "fn f(o, g) { o.x = o.y; return g(o); }\n\
         fn h(o) { return o.y; }\n\
         print f({y: 1}, h).x;\n",
    )
    .unwrap();
    let program = verified.program();
    let sites = verified.sites();
    let f = program.function_named("f").unwrap();
    // Every field site has seen shape 0x100 + site (slot 1); the set adds x (0x200);
    // every call site has called functions 1 and 2 (one entry left empty).
    let field = |site: u32| {
        let mut entries = [IcEntry::default(); IC_ENTRIES];
        entries[0] = IcEntry {
            shape: 0x100 + u64::from(site),
            slot: inline(1),
            new_shape: if site % 2 == 1 { 0x200 } else { 0 },
        };
        entries
    };
    let call = |_: u32| {
        let f1 = stage1::Value::function(1).bits();
        let f2 = stage1::Value::function(2).bits();
        [f1, 0, f2, 0]
    };
    let code = OptimizedCode::snapshot_with(sites, f, field, call);
    let mut seen = 0;
    for (site, info) in sites.iter() {
        let cases = code.field_cases(site);
        let targets = code.call_targets(site);
        if info.func != f {
            assert!(cases.is_empty() && targets.is_empty(), "site {site}");
            continue;
        }
        seen += 1;
        match info.kind {
            stage1::objects::SiteKind::CallValue => {
                assert!(cases.is_empty());
                assert_eq!(targets, [1, 2]);
            }
            _ => {
                assert_eq!(
                    cases,
                    [field(site)[0]].map(|e| FieldCase {
                        shape: e.shape,
                        slot: e.slot,
                        new_shape: e.new_shape,
                    })
                );
                assert!(targets.is_empty());
            }
        }
    }
    // f's get of y, set of x, and call of g.
    assert_eq!(seen, 3);
}

/// The code of function `name` of `source`, compiled alone by stage 4 with `code` as
/// its object lowering, as text, and how many lines come before its first `ret` (the
/// straight path through a function without branches of its own).
fn compiled(source: &str, name: &str, code: impl Fn(u32) -> OptimizedCode) -> (Vec<String>, usize) {
    let verified = stage1::load::load_source("t.mini", source).unwrap();
    let func = verified.program().function_named(name).unwrap();
    let site = verified
        .sites()
        .iter()
        .find(|(_, info)| info.func == func)
        .map(|(site, _)| site)
        .expect("the function has a site");
    let lowering = code(site);
    let c = stage4::tiered::compile_function(&verified, func, None, Some(&lowering)).unwrap();
    let lines: Vec<String> = disasm(c.code.bytes(), 0).iter().map(format_line).collect();
    let ret = lines.iter().position(|l| l.ends_with("ret")).unwrap();
    (lines, ret)
}

#[test]
fn optimized_code_gets_a_field_inline_and_calls_the_runtime_out_of_line() {
    let source = "fn getx(o) { return o.x; }\nprint getx({x: 1});\n";
    for n in 1..=IC_ENTRIES {
        let cases = (0..n)
            .map(|k| get(SHAPES[k], inline(k)))
            .collect::<Vec<_>>();
        let (lines, ret) = compiled(source, "getx", |site| {
            OptimizedCode::new().with_field(site, cases.clone())
        });
        let text = lines.join("\n");
        let path = &lines[..ret];
        // Up to the return: a compare per shape, a load, no call.
        assert_eq!(count(path, "cmp "), n, "{text}");
        for shape in &SHAPES[..n] {
            assert_eq!(count(path, &format!("{shape:#x}")), 1, "{text}");
        }
        assert_eq!(count(path, "call"), 0, "{text}");
        // After it, the runtime call of a miss.
        assert!(count(&lines[ret..], "call") >= 1, "{text}");
    }
    // No cases: the runtime call in line, as stage 4 alone makes it.
    let (lines, ret) = compiled(source, "getx", |_| OptimizedCode::new());
    assert_eq!(count(&lines[..ret], "call"), 1, "{}", lines.join("\n"));
}

#[test]
fn a_second_access_to_an_object_in_a_block_tests_its_shape_but_not_its_tag() {
    // Both sites of `sum` (numbered one after the other) see one shape.
    let source = "fn sum(o) { return o.x + o.y; }\nprint sum({x: 1, y: 2});\n";
    let (lines, ret) = compiled(source, "sum", |site| {
        OptimizedCode::new()
            .with_field(site, vec![get(SHAPES[0], inline(0))])
            .with_field(site + 1, vec![get(SHAPES[0], inline(1))])
    });
    let text = lines.join("\n");
    let path = &lines[..ret];
    // Two shape compares (the first access may have changed nothing, but a miss
    // could have met another shape), one tag test (the mask, 7): after the first
    // access `o` is an object, or the function raised `type error` and left.
    assert_eq!(count(path, &format!("{:#x}", SHAPES[0])), 2, "{text}");
    let tag_tests = path
        .iter()
        .filter(|l| l.contains("test") && l.ends_with(", 0x7"));
    assert_eq!(tag_tests.count(), 1, "{text}");
}

#[test]
fn optimized_code_stores_a_field_inline_and_makes_a_cached_transition() {
    let source = "fn setx(o) { o.x = 5; return 0; }\nprint setx({y: 1});\n";
    let case = FieldCase {
        shape: SHAPES[1],
        slot: inline(1),
        new_shape: SHAPES[3],
    };
    let (lines, ret) = compiled(source, "setx", |site| {
        OptimizedCode::new().with_field(site, vec![case])
    });
    let text = lines.join("\n");
    let path = &lines[..ret];
    assert_eq!(count(path, "cmp "), 1, "{text}");
    assert_eq!(count(path, "call"), 0, "{text}");
    // The value stored in slot 1, the new shape in the shape word.
    let slot = SLOTS_OFFSET + 8;
    assert_eq!(
        count(path, &format!("qword ptr [rdx+{slot:#x}],")),
        1,
        "{text}"
    );
    assert_eq!(
        count(path, &format!("mov qword ptr [rdx], {:#x}", SHAPES[3])),
        1,
        "{text}"
    );
}

/// `extern "sysv64" fn() -> object or MISS`: the new_object fast path with the bump
/// pointer at `bump`.
fn new_object_function(bump: *mut Bump, empty_shape: u64) -> CodeBlock {
    let code = OptimizedCode::new().with_allocation(bump as u64, empty_shape);
    let mut asm = Assembler::new();
    let miss = asm.new_label();
    assert!(code.new_object(&mut asm, miss));
    asm.ret();
    asm.bind(miss);
    asm.mov_imm(Reg::RAX, MISS as i64);
    asm.ret();
    asm.finish().expect("the code loads")
}

#[test]
fn new_object_bumps_counts_marks_and_writes_the_empty_shape() {
    // A chunk of 4 object blocks, and a bitmap with a word of marks already there.
    let mut chunk = vec![0u64; 4 * OBJECT_BYTES / 8];
    let mut marks = vec![0b100u64; 1];
    let base = chunk.as_mut_ptr() as usize;
    let mut bump = Box::new(Bump {
        next: base + OBJECT_BYTES,
        end: base + 4 * OBJECT_BYTES,
        used: 1000,
        limit: 1000 + 2 * OBJECT_BYTES,
        base,
        arrays: std::ptr::null_mut(),
        objects: marks.as_mut_ptr(),
    });
    let bump_ptr: *mut Bump = &mut *bump;
    for shape in [SHAPES[0], SHAPES[1]] {
        let block = new_object_function(bump_ptr, shape);
        // SAFETY: the code takes no argument, returns in rax, changes only
        // caller-saved registers, and writes only `bump`, the chunk and the bitmap,
        // alive here (within the chunk: it checks `end`).
        let f: extern "sysv64" fn() -> u64 = unsafe { block.as_fn() };
        // SAFETY: as above; the bump record is read between the calls only.
        let (next, used) = unsafe { ((*bump_ptr).next, (*bump_ptr).used) };
        let o = f();
        assert_eq!(
            o,
            next as u64 + OBJECT_TAG,
            "the block at the bump pointer, tagged"
        );
        // SAFETY: as above.
        let after = unsafe { ((*bump_ptr).next, (*bump_ptr).used) };
        assert_eq!(after, (next + OBJECT_BYTES, used + OBJECT_BYTES));
        let word = (next - base) / 8;
        // SAFETY: `o - 3` is a block of `chunk`, alive.
        assert_eq!(unsafe { *((o - OBJECT_TAG) as *const u64) }, shape);
        // SAFETY: `marks` is alive; the code wrote it through a pointer to it.
        let mark = unsafe { *marks.as_ptr() };
        assert_ne!(
            mark & (1 << word),
            0,
            "block start {word} marked: {mark:#b}"
        );
        assert_ne!(mark & 0b100, 0, "other marks kept");
    }
    // The limit reached (two blocks counted): the runtime's turn, nothing changed.
    let block = new_object_function(bump_ptr, SHAPES[2]);
    // SAFETY: as above.
    let f: extern "sysv64" fn() -> u64 = unsafe { block.as_fn() };
    // SAFETY: as above.
    let before = unsafe { ((*bump_ptr).next, (*bump_ptr).used) };
    assert_eq!(f(), MISS);
    // SAFETY: as above.
    assert_eq!(unsafe { ((*bump_ptr).next, (*bump_ptr).used) }, before);
    // Room under the limit but not in the chunk: the runtime's turn too.
    // SAFETY: as above.
    unsafe {
        (*bump_ptr).limit = usize::MAX / 2;
        (*bump_ptr).end = (*bump_ptr).next + OBJECT_BYTES - 8;
    }
    assert_eq!(f(), MISS);
    drop(chunk);
}

/// `extern "sysv64" fn(obj) -> value`: the probe of the megamorphic cache that a
/// `get_field` at `site` tries before the runtime's call, the object in `obj_reg`,
/// `MISS` on a miss.
fn probe_function(code: &OptimizedCode, site: u32, obj_reg: Reg) -> CodeBlock {
    load_function(obj_reg, |asm, miss| {
        code.get_field_probe(asm, site, obj_reg, miss)
    })
}

#[test]
fn the_megamorphic_probe_in_line_answers_as_the_cache_does() {
    // Two fields whose keys, for one shape, hash to the same entry (the whole key
    // must match: the field too).
    let (shape, x, y) = (1..1u64 << 16)
        .map(|k| k << 6)
        .find_map(|shape| {
            let at = index(shape, 1);
            (2..4096u32)
                .find(|&f| index(shape, f) == at)
                .map(|f| (shape, 1, f))
        })
        .expect("some fields share an entry");
    // Site 3 loads `x`, site 5 `y`.
    let mut cache = MegamorphicCache::new();
    let code = OptimizedCode::new().with_megamorphic_loads([(3, x), (5, y)], cache.table_word());
    let mut spill = [7u64, 9, 11];
    let spill = spill.as_mut_ptr();
    let mut a = Object::new(SHAPES[0], spill);
    let mut b = Object::new(SHAPES[1], spill);
    let mut c = Object::new(shape, spill);
    let run = |f: &CodeBlock, o: u64| {
        // SAFETY: as in the fast paths' test; the code also reads the cache's entries
        // (through its table word), alive here.
        let f: extern "sysv64" fn(u64) -> u64 = unsafe { f.as_fn() };
        f(o)
    };
    for obj_reg in [Reg::RSI, Reg::RCX, TMP, TMP2] {
        // Before the cache has entries: a miss, which reads nothing past the word.
        let block = probe_function(&code, 3, obj_reg);
        assert_eq!(run(&block, a.value()), MISS);
    }
    let entry = |shape, slot| IcEntry {
        shape,
        slot,
        new_shape: 0,
    };
    cache.insert(x, entry(SHAPES[0], inline(2)));
    cache.insert(x, entry(SHAPES[1], overflow(1)));
    cache.insert(y, entry(shape, inline(1)));
    for obj_reg in [Reg::RSI, Reg::RCX, TMP, TMP2] {
        // The code was made before the inserts: it reads where the entries are.
        let load_x = probe_function(&code, 3, obj_reg);
        assert_eq!(run(&load_x, a.value()), 104, "an inline slot");
        assert_eq!(run(&load_x, b.value()), 9, "an overflow slot");
        // `c`'s shape is cached for `y`, in the entry `x` probes too.
        assert_eq!(
            run(&load_x, c.value()),
            MISS,
            "the field is part of the key"
        );
        assert_eq!(run(&probe_function(&code, 5, obj_reg), c.value()), 102);
        // No object at all: the runtime's.
        assert_eq!(run(&load_x, 84), MISS);
        assert_eq!(run(&load_x, stage1::Value::function(1).bits()), MISS);
    }
    // No probe for a site that is no load, nor without the cache.
    let mut asm = Assembler::new();
    let miss = asm.new_label();
    assert!(!code.get_field_probe(&mut asm, 4, Reg::RSI, miss));
    assert!(!OptimizedCode::new().get_field_probe(&mut asm, 3, Reg::RSI, miss));
}

#[test]
fn the_probe_reads_the_site_s_own_cache_as_it_is_when_the_code_runs() {
    let mut ic = Box::new(FieldIc::default());
    let code = OptimizedCode::new().with_load_ics([(3, &*ic as *const FieldIc as u64)]);
    let mut spill = [7u64, 9, 11];
    let spill = spill.as_mut_ptr();
    let mut a = Object::new(SHAPES[0], spill);
    let mut b = Object::new(SHAPES[1], spill);
    let mut c = Object::new(SHAPES[2], spill);
    let run = |f: &CodeBlock, o: u64| {
        // SAFETY: as in the fast paths' test; the code also reads the cache's
        // entries, alive here.
        let f: extern "sysv64" fn(u64) -> u64 = unsafe { f.as_fn() };
        f(o)
    };
    let blocks: Vec<CodeBlock> = [Reg::RSI, Reg::RCX, TMP, TMP2]
        .into_iter()
        .map(|r| probe_function(&code, 3, r))
        .collect();
    // Uninitialized: every entry empty, no object's shape matches.
    for block in &blocks {
        assert_eq!(run(block, a.value()), MISS);
    }
    // The runtime fills the entries after the code was made: the code sees them,
    // the fourth entry as the first, an overflow slot as an inline one.
    let entry = |shape, slot| IcEntry {
        shape,
        slot,
        new_shape: 0,
    };
    ic.entries[0] = entry(SHAPES[0], inline(2));
    ic.entries[IC_ENTRIES - 1] = entry(SHAPES[1], overflow(1));
    for block in &blocks {
        assert_eq!(run(block, a.value()), 104);
        assert_eq!(run(block, b.value()), 9);
        assert_eq!(run(block, c.value()), MISS, "a shape of no entry");
        assert_eq!(run(block, 84), MISS, "no object");
    }
}
