//! Stage 4 in a tiered run: functions compiled one at a time with table linkage
//! (`stage4::tiered::compile_function`), and the variants entered by on-stack
//! replacement (OSR) at a loop header with a frame state.
//!
//! The run harness is stage 3's: a whole program compiled by the templates gives the
//! entry trampoline, the context and the function table; the table's entries are then
//! pointed at the functions stage 4 compiled alone, so every call between them goes
//! through the table. An OSR test points `main`'s entry at a small stub that enters
//! the OSR code with a frame state, and compares with the interpreter entered at the
//! same loop header with the same state (`Interpreter::enter`): the output, the result
//! and the error with its whole trace.

use std::path::PathBuf;

use jitlab_testkit::isolate::{self, Harness};
use jitlab_testkit::{corpus, describe, End, Outcome};
use stage1::bytecode::MAIN;
use stage1::heap::{Heap, DEFAULT_HEAP_LIMIT};
use stage1::interp::trace::runtime_error;
use stage1::interp::{Entry, Interpreter};
use stage1::limits::MAX_FRAMES;
use stage1::print::format_value;
use stage1::{Engine, FnId, RuntimeError, Stats, Value, Verified};
use stage2::{Assembler, CodeBlock, Imm32, Reg};
use stage3::codegen::FRAMES_LEFT;
use stage3::CompiledProgram;
use stage4_solution::objects::{ObjectLowering, Site};
use stage4_solution::tiered::{self, compile_function, Calls, CompiledFunction};
use stage4_solution::{ir, passes, regalloc};

/// The harness: children with the default timeout, crashes in generated code
/// described.
fn harness() -> Harness {
    isolate::install_panic_hook();
    Harness::new().describer(stage2::code_map::describe)
}

fn programs_dir() -> PathBuf {
    jitlab_testkit::programs_dir(env!("CARGO_MANIFEST_DIR"))
}

/// The corpus programs that load (at least 60 of them).
fn corpus_programs() -> Vec<corpus::CorpusProgram> {
    corpus::runnable(&programs_dir(), 60)
}

fn load(name: &str, source: &str) -> Verified {
    stage1::load::load_source(name, source)
        .unwrap_or_else(|e| panic!("{e}\n--- {name} ---\n{source}"))
}

/// What one run printed and how it ended.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    output: String,
    result: Result<String, RuntimeError>,
}

impl Run {
    fn outcome(&self) -> Outcome {
        let end = match &self.result {
            Ok(v) => End::Returned(v.clone()),
            Err(e) => End::RuntimeError {
                message: e.kind.message().to_string(),
                line: e.trace.first().map_or(0, |f| f.line),
            },
        };
        Outcome::new(self.output.as_bytes(), end)
    }
}

/// `Err` with a report when the two runs differ.
fn compare(name: &str, source: &str, expected: &Run, actual: &Run) -> Result<(), String> {
    if expected == actual {
        return Ok(());
    }
    let mut report = describe(name, source, &expected.outcome(), &actual.outcome());
    report.push_str(&format!(
        "\nexpected {:?}\nactual   {:?}\n",
        expected.result, actual.result
    ));
    Err(report)
}

/// The interpreter's run of the whole program.
fn interpreted(verified: &Verified) -> Run {
    let mut out = Vec::new();
    let result = Interpreter::new().run(verified, &mut out);
    Run {
        output: String::from_utf8(out).expect("UTF-8"),
        result,
    }
}

/// Which tier makes each function's code in a table-linked run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mix {
    /// Every function compiled alone by stage 4.
    Optimized,
    /// Every other function by stage 4 alone, the others stage 3's templates.
    Alternating,
}

/// A program whose function table points at code compiled function by function:
/// stage 3's whole-program compile gives the trampoline and the table, whose entries
/// then go to `optimized` (kept alive here).
struct TableLinked {
    program: CompiledProgram,
    optimized: Vec<Option<CompiledFunction>>,
    /// Extra code the table points at (the OSR stub).
    stubs: Vec<CodeBlock>,
}

impl TableLinked {
    fn new(verified: &Verified, mix: Mix) -> TableLinked {
        TableLinked::with_objects(verified, mix, None)
    }

    /// [`TableLinked::new`], stage 4's object instructions lowered with `objects`.
    fn with_objects(
        verified: &Verified,
        mix: Mix,
        objects: Option<&dyn ObjectLowering>,
    ) -> TableLinked {
        let mut program = stage3::compile_program_declining(verified, &[])
            .expect("the templates compile the program");
        let optimized: Vec<Option<CompiledFunction>> = (0..verified.program().functions.len())
            .map(|i| {
                let take = mix == Mix::Optimized || i % 2 == 1;
                let compiled = compile_function(verified, i as FnId, None, objects);
                match compiled {
                    Ok(c) if take && program.declined[i].is_none() => Some(c),
                    Ok(_) => None,
                    Err(why) => panic!("function {i} not compiled: {why}"),
                }
            })
            .collect();
        for (i, c) in optimized.iter().enumerate() {
            if let Some(c) = c {
                program.table[i].code = c.code.addr() + c.entry as u64;
                let fc = &mut program.functions[i];
                fc.frame_bytes = fc.frame_bytes.max(c.function.frame_bytes);
            }
        }
        TableLinked {
            program,
            optimized,
            stubs: Vec::new(),
        }
    }

    /// Runs the program from `main`'s table entry on `heap`.
    fn run(&self, verified: &Verified, heap: &mut Heap) -> Run {
        let program = verified.program();
        let recursive = stage3::stack::recursive_functions(program);
        let mut out = Vec::new();
        let mut stats = Stats::default();
        let result = stage3::run_compiled(
            verified,
            &self.program,
            &recursive,
            heap,
            &mut out,
            &mut stats,
        )
        .expect("a native stack");
        Run {
            output: String::from_utf8(out).expect("UTF-8"),
            result: result.map(|v| format_value(program, heap, v)),
        }
    }

    /// Points `main`'s entry at a stub that enters `osr` (an OSR compile) with the
    /// frame state `state` (local 0 first, then the operands), as a frame `depth`
    /// frames deep: the stub takes the frames below and the OSR'd one from
    /// `FRAMES_LEFT`, which the OSR entry does not. `state` must outlive the run.
    fn enter_osr_from_main(&mut self, osr: &CompiledFunction, state: &[u64], depth: usize) {
        let mut asm = Assembler::new();
        asm.sub(FRAMES_LEFT, Imm32(depth as i32 + 1));
        // Local 0 at the highest address: `state` is laid out reversed.
        let base = state.as_ptr() as u64 + 8 * (state.len().max(1) as u64 - 1);
        asm.mov_imm(Reg::RDI, base as i64);
        asm.mov_imm(Reg::RAX, (osr.code.addr() + osr.entry as u64) as i64);
        // The stack as at a call: 16-byte aligned before `call`.
        asm.sub(Reg::RSP, Imm32(8));
        asm.call_reg(Reg::RAX);
        asm.add(Reg::RSP, Imm32(8));
        asm.ret();
        let stub = asm.finish().expect("the stub loads");
        self.program.table[MAIN as usize].code = stub.addr();
        self.stubs.push(stub);
    }
}

#[test]
fn every_corpus_program_agrees_when_each_function_is_compiled_alone() {
    let programs = corpus_programs();
    let failures = harness().max_failures(programs.len()).each(
        programs.len(),
        |i| programs[i].name.clone(),
        |i| {
            let p = &programs[i];
            let verified = load(&p.name, &p.source);
            let expected = interpreted(&verified);
            for mix in [Mix::Optimized, Mix::Alternating] {
                let linked = TableLinked::new(&verified, mix);
                assert!(linked.optimized.iter().any(Option::is_some) || mix == Mix::Alternating);
                let actual = linked.run(&verified, &mut Heap::new(DEFAULT_HEAP_LIMIT));
                compare(&p.name, &p.source, &expected, &actual)?;
            }
            Ok(())
        },
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus programs went wrong with table linkage: {}\n\n{}",
        failures.len(),
        programs.len(),
        isolate::names(&failures, |i| programs[i].name.clone()),
        isolate::report(&failures[..failures.len().min(3)])
    );
}

/// A frame state for function `func` at pc `header`, made on a run's heap: the
/// locals (all of them) and the operands.
type MakeState<'a> = &'a dyn Fn(&mut Heap) -> (Vec<Value>, Vec<Value>);

/// Enters function `func` at loop header `header` with the state `make` gives, in the
/// interpreter and in the OSR code, `depth` frames deep; `Err` with a report when
/// they differ in output, result or error.
fn osr_differential(
    name: &str,
    source: &str,
    func: &str,
    header: usize,
    depth: usize,
    make: MakeState,
) -> Result<(), String> {
    osr_differential_betting(name, source, func, header, depth, make, 0)
}

/// [`osr_differential`] with the OSR variant that bets on the locals of `ints`
/// (`tiered::compile_speculating`): `make` must give a state that fits the bets.
fn osr_differential_betting(
    name: &str,
    source: &str,
    func: &str,
    header: usize,
    depth: usize,
    make: MakeState,
    ints: u64,
) -> Result<(), String> {
    let verified = load(name, source);
    let program = verified.program();
    let id = program.function_named(func).expect("the function exists");

    let mut heap = Heap::new(DEFAULT_HEAP_LIMIT);
    let (locals, operands) = make(&mut heap);
    let mut out = Vec::new();
    let entry = Entry {
        func: id,
        pc: header,
        locals: &locals,
        operands: &operands,
        depth,
    };
    let result = Interpreter::new().enter(&verified, &mut heap, entry, None, &mut out);
    let expected = Run {
        output: String::from_utf8(out).expect("UTF-8"),
        result: match result {
            Ok(v) => Ok(format_value(program, &heap, v)),
            Err(unwind) => Err(runtime_error(
                program,
                unwind.kind,
                unwind.frames.into_iter(),
            )),
        },
    };

    let osr = tiered::compile_speculating(&verified, id, Some(header), ints, None, Calls::Table)?;
    assert_eq!(osr.osr_entries, [(header, osr.entry)]);
    let mut linked = TableLinked::new(&verified, Mix::Optimized);
    let mut heap = Heap::new(DEFAULT_HEAP_LIMIT);
    let (locals, operands) = make(&mut heap);
    let mut state: Vec<u64> = locals.iter().chain(&operands).map(|v| v.bits()).collect();
    state.reverse();
    linked.enter_osr_from_main(&osr, &state, depth);
    let actual = linked.run(&verified, &mut heap);
    compare(name, source, &expected, &actual)
}

/// The pcs of `func`'s loop headers.
fn headers(source_name: &str, source: &str, func: &str) -> Vec<usize> {
    let verified = load(source_name, source);
    let id = verified.program().function_named(func).unwrap();
    tiered::loop_headers(&verified, id)
}

fn ints(values: &[i64]) -> Vec<Value> {
    values.iter().map(|&n| Value::int(n)).collect()
}

const SUM: &str = "let i = 0;\nlet s = 0;\nprint 99;\nwhile i < 10 {\n  s = s + i;\n  i = i + 1;\n}\nprint s;\nreturn i;\n";

#[test]
fn osr_into_mains_loop_finishes_it_from_the_frame_state() {
    harness().case(|| {
        let header = headers("sum.mini", SUM, "main");
        assert_eq!(header.len(), 1);
        // Mid-loop: i = 7, s = 100: the rest adds 7 + 8 + 9; nothing before the
        // loop (`print 99`) runs again.
        let state = |_: &mut Heap| (ints(&[7, 100]), vec![]);
        osr_differential("sum.mini", SUM, "main", header[0], 0, &state).unwrap();
        // The loop already done: straight out.
        let done = |_: &mut Heap| (ints(&[10, -5]), vec![]);
        osr_differential("sum.mini", SUM, "main", header[0], 0, &done).unwrap();
    });
}

#[test]
fn osr_state_values_are_unknown_to_the_optimizer() {
    harness().case(|| {
        let header = headers("sum.mini", SUM, "main")[0];
        // `s` an array, `i` a function value: the checks the state's values need
        // stay, and fail where the interpreter fails, with its trace.
        let array = |heap: &mut Heap| {
            let a = heap.alloc_array(&ints(&[1, 2])).unwrap();
            (vec![Value::int(3), a], vec![])
        };
        osr_differential("sum.mini", SUM, "main", header, 0, &array).unwrap();
        let function = |_: &mut Heap| (vec![Value::function(0), Value::int(0)], vec![]);
        osr_differential("sum.mini", SUM, "main", header, 0, &function).unwrap();
        // Near the limits of integers: the overflow check stays too.
        let big = |_: &mut Heap| (ints(&[8, stage1::value::INT_MAX - 3]), vec![]);
        osr_differential("sum.mini", SUM, "main", header, 0, &big).unwrap();
    });
}

/// A loop whose product cannot overflow when its counter and bound are small.
const COUNTED: &str = "fn f(n) {\n  let s = 0;\n  let i = 0;\n  let k = 1;\n  while i < n {\n    s = s + i * 3 - 7;\n    k = 2;\n    i = i + 1;\n  }\n  print k;\n  return s;\n}\nprint f(5);\n";

#[test]
fn an_osr_variant_bets_on_the_range_of_the_locals_its_loop_counts_with() {
    let verified = load("counted.mini", COUNTED);
    let id = verified.program().function_named("f").unwrap();
    let header = tiered::loop_headers(&verified, id)[0];
    // n is left alone, i counts; s sums and k is stored a constant: no range helps.
    let counted = ir::build::counted_locals(&verified, id, header as u32);
    assert_eq!(counted, 0b0101, "n and i, not s and k");
    let optimized = |ints: u64| {
        let f = ir::build::build_osr_speculating(&verified, id, header as u32, ints);
        let mut f = f;
        passes::optimize(&mut f, &mut Default::default(), |_, _| {});
        ir::text::print(&f)
    };
    // Betting on every local: `i * 3` cannot overflow (i < n, both small), and the
    // sum's chain is `s + (i * 3 - 7)`, as when the loop starts at constants.
    let betting = optimized(0b1111);
    assert!(betting.contains("imul"), "{betting}");
    assert!(!betting.contains("= mul"), "{betting}");
    assert!(betting.contains("isub"), "{betting}");
    // Betting on the types only where the loop does not count (s and k): the
    // counter and the bound are any integers, and the checks stay.
    let typed = optimized(0b1010);
    assert!(typed.contains("= mul"), "{typed}");
    assert!(!typed.contains("imul"), "{typed}");
}

#[test]
fn osr_with_range_bets_agrees_at_the_edges_of_the_small_integers() {
    harness().case(|| {
        let header = headers("counted.mini", COUNTED, "f")[0];
        let (lo, hi) = ir::SMALL;
        // Locals: n, s, i, k. The counter and the bound at the top and the bottom
        // of the bet's range, the sum far outside it (no bet on its range).
        for (n, s, i) in [
            (hi, 0, hi - 4),
            (lo + 3, stage1::value::INT_MAX / 2, lo),
            (10, stage1::value::INT_MIN / 2, 0),
            (hi, stage1::value::INT_MAX - 3, hi - 2),
        ] {
            let state = move |_: &mut Heap| (ints(&[n, s, i, 1]), vec![]);
            osr_differential_betting("counted.mini", COUNTED, "f", header, 1, &state, 0b1111)
                .unwrap_or_else(|e| panic!("n = {n}, s = {s}, i = {i}: {e}"));
        }
    });
}

/// `n` is a constant when the loop starts, `m` one of two; `s` and `i` change in it.
const CONSTANTS: &str = "let n = 40;\nlet m = 0;\nif n > 3 { m = 1; } else { m = 2; }\nlet s = 0;\nlet i = 0;\nwhile i < n {\n  s = s + i * m;\n  i = i + 1;\n}\nprint s;\n";

#[test]
fn an_osr_variant_knows_the_constants_the_code_before_the_loop_leaves() {
    let verified = load("constants.mini", CONSTANTS);
    let header = tiered::loop_headers(&verified, 0)[0];
    let known = ir::build::header_constants(&verified, 0, header as u32);
    assert_eq!(known, [Some(40), None, None, None]);
    // The variant compares with the constant, as the whole-function compile does,
    // not with the frame's `n` (an argument the passes know nothing of).
    let mut f = ir::build::build_osr(&verified, 0, header as u32);
    passes::optimize(&mut f, &mut Default::default(), |_, _| {});
    let text = ir::text::print(&f);
    assert!(text.contains("const 40"), "{text}");
    let bound = f
        .reverse_postorder()
        .into_iter()
        .flat_map(|b| f.block(b).insts.clone())
        .find_map(|i| match f.inst(i).op {
            ir::Op::Compare(ir::CmpOp::Lt, _, bound) => Some(bound),
            _ => None,
        })
        .expect("the loop's test");
    assert_eq!(f.as_const(bound), Some(40), "{text}");
    // Entered with a frame the program makes (mid-loop: i = 7, s = 21).
    harness().case(|| {
        let state = |_: &mut Heap| (ints(&[40, 1, 21, 7]), vec![]);
        osr_differential("constants.mini", CONSTANTS, "main", header, 0, &state).unwrap();
    });
}

const CALLS: &str = "fn depth(n) { if n == 0 { return 0; } return 1 + depth(n - 1); }\n\
fn walk(a, n) {\n  let i = 0;\n  let total = 0;\n  while i < n {\n    total = total + a[i] + depth(i);\n    print total;\n    i = i + 1;\n  }\n  return total;\n}\n\
let a = [1, 2, 3, 4, 5];\nprint walk(a, 5);\n";

#[test]
fn osr_into_a_callee_calls_through_the_table_and_reports_errors_with_its_frame() {
    harness().case(|| {
        let header = headers("calls.mini", CALLS, "walk");
        assert_eq!(header.len(), 1);
        let header = header[0];
        let state = |n: i64, i: i64| {
            move |heap: &mut Heap| {
                let a = heap.alloc_array(&ints(&[10, 20, 30, 40, 50])).unwrap();
                (
                    vec![a, Value::int(n), Value::int(i), Value::int(1000)],
                    vec![],
                )
            }
        };
        osr_differential("calls.mini", CALLS, "walk", header, 0, &state(5, 2)).unwrap();
        // Past the array's end: `index out of bounds` in walk's frame.
        osr_differential("calls.mini", CALLS, "walk", header, 0, &state(9, 3)).unwrap();
        // Deep: the OSR'd frame runs 9,990 frames below the limit, so `depth`'s
        // recursion overflows the stack where the interpreter's does (exactly when
        // the OSR entry takes no frame of its own).
        let deep = MAX_FRAMES - 10;
        for n in [5, 9, 12] {
            let s = |heap: &mut Heap| {
                let a = heap.alloc_array(&ints(&[0; 20])).unwrap();
                (vec![a, Value::int(n), Value::int(0), Value::int(0)], vec![])
            };
            osr_differential("calls.mini", CALLS, "walk", header, deep, &s).unwrap();
        }
    });
}

/// A loop whose header has two operands on the stack (possible in `.jasm` only).
const STACKED: &str = ".fn main params=0 locals=1
    const 100
    const 5
    store_local 0
    const 7
top:
    load_local 0
    jump_if_false done
    sub
    load_local 0
    const 1
    sub
    store_local 0
    const 3
    loop top
done:
    add
    print
    const 0
    return
.end
";

#[test]
fn osr_at_a_header_with_operands_loads_them_from_the_state() {
    harness().case(|| {
        let header = headers("stacked.jasm", STACKED, "main");
        assert_eq!(header.len(), 1);
        let header = header[0];
        let state = |_: &mut Heap| (ints(&[4]), ints(&[1000, 7]));
        osr_differential("stacked.jasm", STACKED, "main", header, 0, &state).unwrap();
        // The operand under the top one not an integer: `type error` at `add`.
        let bad = |_: &mut Heap| (ints(&[2]), vec![Value::function(0), Value::int(1)]);
        osr_differential("stacked.jasm", STACKED, "main", header, 0, &bad).unwrap();
    });
}

/// A loop whose header is pc 0 (the function's first instruction).
const LOOP_AT_0: &str = ".fn main params=0 locals=2
top:
    load_local 0
    const 5
    lt
    jump_if_false done
    load_local 1
    load_local 0
    sub
    store_local 1
    load_local 0
    const 1
    add
    store_local 0
    loop top
done:
    load_local 1
    return
.end
";

#[test]
fn osr_at_pc_0_enters_the_loop_not_the_function() {
    harness().case(|| {
        assert_eq!(headers("loop0.jasm", LOOP_AT_0, "main"), [0]);
        let state = |_: &mut Heap| (ints(&[2, 40]), vec![]);
        osr_differential("loop0.jasm", LOOP_AT_0, "main", 0, 0, &state).unwrap();
        let bad = |_: &mut Heap| (vec![Value::int(1), Value::function(0)], vec![]);
        osr_differential("loop0.jasm", LOOP_AT_0, "main", 0, 0, &bad).unwrap();
    });
}

const NESTED: &str = "let n = 6;\nlet total = 0;\nlet i = 0;\nwhile i < n {\n  let j = 0;\n  while j < i {\n    total = total + i * j;\n    j = j + 1;\n  }\n  i = i + 1;\n}\nprint total;\nreturn total;\n";

#[test]
fn osr_into_an_inner_loop_finishes_the_outer_one_too() {
    harness().case(|| {
        let h = headers("nested.mini", NESTED, "main");
        assert_eq!(h.len(), 2);
        let verified = load("nested.mini", NESTED);
        let locals = verified.program().functions[0].locals as usize;
        for &header in &h {
            let state = move |_: &mut Heap| {
                // n, total, i, j, then any block-scoped slots at 0.
                let mut l = ints(&[6, 11, 3, 1]);
                l.resize(locals, Value::int(0));
                (l, vec![])
            };
            osr_differential("nested.mini", NESTED, "main", header, 0, &state).unwrap();
        }
    });
}

#[test]
fn the_osr_ir_enters_at_the_loop_header_with_the_frame_state() {
    let verified = load("sum.mini", SUM);
    let header = tiered::loop_headers(&verified, 0)[0];
    let f = ir::build::build_osr(&verified, 0, header as u32);
    // Two locals, no operands: the entry's parameters, passed to the header's block.
    assert_eq!(f.arity(), 2);
    assert_eq!(f.blocks[0].pc as usize, header);
    let ir::Terminator::Jump(call) = &f.blocks[0].term else {
        panic!(
            "the OSR entry jumps to the header:\n{}",
            ir::text::print(&f)
        );
    };
    assert_eq!(call.args, f.blocks[0].params);
    assert_eq!(f.block(call.block).pc as usize, header);
    assert!(f.blocks[0].insts.is_empty());
    // Only what the header reaches: the `print 99` before the loop is not there.
    let text = tiered::osr_listing(&verified, 0, header, false).unwrap();
    assert!(!text.contains("99"), "{text}");
    assert!(text.contains("print"), "{text}");
    // A pc that is no loop header is declined.
    let err = compile_function(&verified, 0, Some(header + 1), None)
        .err()
        .unwrap();
    assert!(err.contains("not a loop header"), "{err}");
    // No such function: declined too, not a panic.
    let err = compile_function(&verified, 7, None, None).err().unwrap();
    assert_eq!(err, "no function 7");
}

#[test]
fn osr_ir_of_every_corpus_loop_verifies_and_its_allocation_checks() {
    let mut headers_seen = 0;
    for p in corpus_programs() {
        let verified = load(&p.name, &p.source);
        for func in 0..verified.program().functions.len() as FnId {
            for header in tiered::loop_headers(&verified, func) {
                headers_seen += 1;
                let mut f = ir::build::build_osr(&verified, func, header as u32);
                let what = format!("{} fn {func} at pc {header}", p.name);
                ir::verify::verify(&f).unwrap_or_else(|e| panic!("{what}: built: {e}"));
                passes::optimize(&mut f, &mut Default::default(), |_, _| {});
                ir::verify::verify(&f).unwrap_or_else(|e| panic!("{what}: optimized: {e}"));
                let alloc = regalloc::allocate(&f);
                if let Err(errors) = regalloc::checker::check(&f, &alloc) {
                    panic!("{what}: {}\n{}", errors[0], ir::text::print(&f));
                }
                compile_function(&verified, func, Some(header), None)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
            }
        }
    }
    assert!(
        headers_seen >= 30,
        "only {headers_seen} loop headers in the corpus"
    );
}

#[test]
fn code_compiled_alone_calls_itself_directly_and_the_others_through_the_table() {
    let verified = load(
        "calls.mini",
        "fn fib(n) { if n < 2 { return n; } return fib(n - 1) + fib(n - 2); }\n\
         fn twice(n) { return fib(n) + fib(n); }\n\
         fn spin(n) { let i = 0; while i < n { i = i + 1; } if n > 0 { return spin(n - 1); } return i; }\n\
         print twice(10) + spin(3);\n",
    );
    let program = verified.program();
    let calls = |func: &str, osr: Option<usize>| {
        let id = program.function_named(func).unwrap();
        let c = compile_function(&verified, id, osr, None).unwrap();
        let lines = stage2::disasm::disasm(c.code.bytes(), 0);
        let text: Vec<String> = lines.iter().map(stage2::disasm::format_line).collect();
        let direct = text.iter().filter(|l| l.contains("call 0x")).count();
        let table = text.iter().filter(|l| l.contains("call qword ptr")).count();
        (direct, table, text.join("\n"))
    };
    // fib's two calls of itself are inlined (one level), and the copies' two calls
    // each go straight to its own (fast) entry.
    let (direct, table, text) = calls("fib", None);
    assert_eq!((direct, table), (4, 0), "{text}");
    // twice's calls of fib are inlined too; the copies' calls of fib read fib's
    // table entry, whose code may change.
    let (direct, table, text) = calls("twice", None);
    assert_eq!((direct, table), (0, 4), "{text}");
    // An OSR variant has no ordinary entry: its calls of itself use the table.
    let spin = program.function_named("spin").unwrap();
    let header = tiered::loop_headers(&verified, spin)[0];
    let (direct, table, text) = calls("spin", Some(header));
    assert_eq!((direct, table), (0, 1), "{text}");
    let (direct, table, text) = calls("spin", None);
    assert_eq!((direct, table), (1, 0), "{text}");
}

/// An object lowering whose fast paths (field accesses, new objects) always miss (a
/// jump to the runtime call, out of line) and which names the functions it is given
/// as the call targets of every `call_value` site (most of them wrong, some of the
/// wrong arity): what stage 4 makes of its answers must not change what a program
/// does.
struct Missing {
    functions: Vec<FnId>,
}

impl ObjectLowering for Missing {
    fn get_field(
        &self,
        asm: &mut Assembler,
        _: Site,
        _: Reg,
        _: bool,
        miss: stage2::Label,
    ) -> bool {
        asm.jmp(miss);
        true
    }

    fn set_field(
        &self,
        asm: &mut Assembler,
        _: Site,
        _: Reg,
        _: Reg,
        _: bool,
        miss: stage2::Label,
    ) -> bool {
        asm.jmp(miss);
        true
    }

    fn new_object(&self, asm: &mut Assembler, miss: stage2::Label) -> bool {
        asm.jmp(miss);
        true
    }

    fn call_targets(&self, _: Site) -> Vec<FnId> {
        self.functions.clone()
    }
}

#[test]
fn every_corpus_program_agrees_with_object_fast_paths_that_miss_and_guessed_call_targets() {
    let programs = corpus_programs();
    let failures = harness().max_failures(programs.len()).each(
        programs.len(),
        |i| programs[i].name.clone(),
        |i| {
            let p = &programs[i];
            let verified = load(&p.name, &p.source);
            let expected = interpreted(&verified);
            let functions = (0..verified.program().functions.len() as FnId)
                .rev()
                .collect();
            let missing = Missing { functions };
            let linked = TableLinked::with_objects(&verified, Mix::Optimized, Some(&missing));
            let actual = linked.run(&verified, &mut Heap::new(DEFAULT_HEAP_LIMIT));
            compare(&p.name, &p.source, &expected, &actual)
        },
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus programs went wrong with missing object fast paths: {}\n\n{}",
        failures.len(),
        programs.len(),
        isolate::names(&failures, |i| programs[i].name.clone()),
        isolate::report(&failures[..failures.len().min(3)])
    );
}

#[test]
fn a_guarded_call_value_compares_the_callee_and_calls_the_target_directly() {
    let verified = load(
        "values.mini",
        "fn inc(n) { return n + 1; }\nfn apply(f, n) { return f(n); }\nprint apply(inc, 1);\n",
    );
    let program = verified.program();
    let inc = program.function_named("inc").unwrap();
    let apply = program.function_named("apply").unwrap();
    let calls = |objects: Option<&dyn ObjectLowering>| {
        let c = compile_function(&verified, apply, None, objects).unwrap();
        let lines = stage2::disasm::disasm(c.code.bytes(), 0);
        let text: Vec<String> = lines.iter().map(stage2::disasm::format_line).collect();
        let guard = format!("cmp rax, {:#x}", Value::function(inc).bits());
        let guards = text.iter().filter(|l| l.contains(&guard)).count();
        let table = text.iter().filter(|l| l.contains("call qword ptr")).count();
        let indirect = text.iter().filter(|l| l.contains("call rax")).count();
        // Runtime helpers: `rt_raise` on the error path, `rt_call_target`.
        let helpers = text.iter().filter(|l| l.contains("call r11")).count();
        ((guards, table, indirect, helpers), text.join("\n"))
    };
    // Alone: one indirect call of whatever the callee is.
    let (counts, text) = calls(None);
    assert_eq!(counts, (0, 0, 1, 1), "{text}");
    // `inc` known: a compare with its value, a call through its table entry, and
    // the indirect call for any other callee. `main` (arity 0) is no target of a
    // call of one argument, `apply` (arity 2) neither. Before the indirect call,
    // the runtime hears of the callee that matched no guard.
    let missing = Missing {
        functions: vec![inc, program.function_named("main").unwrap_or(0), apply],
    };
    let (counts, text) = calls(Some(&missing));
    assert_eq!(counts, (1, 1, 1, 2), "{text}");
}

/// Records what stage 4 asks, and emits nothing.
#[derive(Default)]
struct Asked(std::sync::Mutex<Vec<String>>);

impl ObjectLowering for Asked {
    fn get_field(&self, _: &mut Assembler, site: Site, _: Reg, _: bool, _: stage2::Label) -> bool {
        self.0.lock().unwrap().push(format!("get {site}"));
        false
    }

    fn set_field(
        &self,
        _: &mut Assembler,
        site: Site,
        _: Reg,
        _: Reg,
        _: bool,
        _: stage2::Label,
    ) -> bool {
        self.0.lock().unwrap().push(format!("set {site}"));
        false
    }

    fn call_targets(&self, site: Site) -> Vec<FnId> {
        self.0.lock().unwrap().push(format!("call {site}"));
        Vec::new()
    }
}

#[test]
fn the_lowering_is_asked_about_each_object_instruction_with_its_site() {
    // Sites are numbered in program order, function by function, pc by pc: `main`'s
    // (the program's last function here) come after f's two and g's three.
    let verified = load(
        "sites.mini",
        "fn f(o) { o.x = o.y; return o; }\n\
         fn g(h) { return h({y: 1}).x; }\n\
         print [g(f).x];\n",
    );
    let program = verified.program();
    let asked = |name: &str| {
        let asked = Asked::default();
        let func = program.function_named(name).unwrap();
        compile_function(&verified, func, None, Some(&asked)).unwrap();
        let mut seen = asked.0.into_inner().unwrap();
        seen.sort();
        seen
    };
    let first = |name: &str| {
        let func = program.function_named(name).unwrap() as usize;
        let before = program.functions[..func].iter().flat_map(|f| &f.code);
        before
            .filter(|i| stage3::codegen::objects::is_site(i))
            .count()
    };
    let f = first("f");
    assert_eq!(asked("f"), [format!("get {f}"), format!("set {}", f + 1)]);
    let g = first("g");
    assert_eq!(g, f + 2);
    assert_eq!(
        asked("g"),
        [
            format!("call {}", g + 1),
            format!("get {}", g + 2),
            format!("set {g}")
        ]
    );
    // `main` calls `g`, which is small enough to be inlined, but has sites of its
    // own: given a lowering, it stays a call.
    let main = first("main");
    assert_eq!(asked("main"), [format!("get {main}")]);
}

/// The IR `compile_function` makes of function `name` (alone, not entered by OSR).
fn prepared_ir(verified: &Verified, name: &str) -> ir::Function {
    let func = verified.program().function_named(name).unwrap();
    tiered::prepare_function(verified, func, None).unwrap().ir
}

/// The direct calls in `f`'s IR, by callee.
fn direct_calls(f: &ir::Function) -> Vec<FnId> {
    f.insts
        .iter()
        .filter_map(|d| match d.op {
            ir::Op::Call { func, .. } => Some(func),
            _ => None,
        })
        .collect()
}

#[test]
fn a_function_compiled_alone_inlines_small_callees_and_knows_which_return_integers() {
    let verified = load(
        "inline.mini",
        "fn sq(x) { return x * x; }
         fn count(n) { let i = 0; while i < n { i = i + 1; } return i; }
         fn user(n) { return sq(n) + count(n) + 1; }
         print user(5);
",
    );
    let program = verified.program();
    let sq = program.function_named("sq").unwrap();
    let count = program.function_named("count").unwrap();
    let user = prepared_ir(&verified, "user");
    // `sq` is copied in (one inlined frame), `count` (a loop) stays a call.
    assert_eq!(user.frames.len(), 1, "{}", ir::text::print(&user));
    assert_eq!(user.frames[0].func, sq);
    assert_eq!(direct_calls(&user), [count], "{}", ir::text::print(&user));
    // `count` returns only integers (the program's facts): its result needs no
    // check, and `n` is checked in the copy of `sq` — one check left.
    assert_eq!(user.int_results.get(count as usize), Some(&true));
    let checks = user
        .blocks
        .iter()
        .flat_map(|b| &b.insts)
        .filter(|&&i| matches!(user.inst(i).op, ir::Op::CheckInt(_)))
        .count();
    assert_eq!(checks, 1, "{}", ir::text::print(&user));
    // The code has one call through the table (count's), none of sq.
    let id = program.function_named("user").unwrap();
    let c = compile_function(&verified, id, None, None).unwrap();
    let lines = stage2::disasm::disasm(c.code.bytes(), 0);
    let text: Vec<String> = lines.iter().map(stage2::disasm::format_line).collect();
    let table = text.iter().filter(|l| l.contains("call qword ptr")).count();
    assert_eq!(table, 1, "{}", text.join("\n"));
    // The OSR variant of a loop inlines too.
    let outer = load(
        "osr_inline.mini",
        "fn sq(x) { return x * x; }
         fn sum(n) { let i = 0; let s = 0; while i < n { s = s + sq(i); i = i + 1; } return s; }
         print sum(5);
",
    );
    let sum = outer.program().function_named("sum").unwrap();
    let header = tiered::loop_headers(&outer, sum)[0];
    let c = compile_function(&outer, sum, Some(header), None).unwrap();
    let lines = stage2::disasm::disasm(c.code.bytes(), 0);
    let text: Vec<String> = lines.iter().map(stage2::disasm::format_line).collect();
    let calls = text.iter().filter(|l| l.contains("call qword ptr")).count();
    assert_eq!(calls, 0, "{}", text.join("\n"));
}

#[test]
fn an_error_in_an_inlined_callee_compiled_alone_gives_the_interpreters_trace() {
    // Each program fails inside a small callee inlined into its caller: by its own
    // instruction, by a runtime call (a field read; given a lowering, `getx` stays a
    // call and fails in its miss path), and by the frame limit at the inlined call
    // (deep recursion).
    let programs = [
        (
            "divide.mini",
            "fn half(x) {
  return 10 / x;
}
fn caller(n) {
  print n;
  return half(n) + 1;
}
print caller(2);
print caller(0);
",
            "caller",
        ),
        (
            "field.mini",
            "fn getx(o) {
  return o.x;
}
fn caller(o) {
  return getx(o) + 1;
}
print caller({x: 1});
print caller({y: 2});
",
            "caller",
        ),
        (
            "deep.mini",
            "fn leaf(n) {
  return n + 1;
}
fn down(n) {
  if n == 0 {
    return 0;
  }
  return leaf(n) + down(n - 1);
}
print down(100000000);
",
            "down",
        ),
    ];
    for (name, source, caller) in programs {
        let verified = load(name, source);
        let ir = prepared_ir(&verified, caller);
        assert!(!ir.frames.is_empty(), "{name}: nothing inlined");
        let expected = interpreted(&verified);
        let Err(error) = &expected.result else {
            panic!("{name} does not fail: {:?}", expected.result)
        };
        assert!(error.trace.len() >= 3, "{name}: {error:?}");
        let functions = (0..verified.program().functions.len() as FnId).collect();
        let missing = Missing { functions };
        for objects in [None, Some(&missing as &dyn ObjectLowering)] {
            let linked = TableLinked::with_objects(&verified, Mix::Optimized, objects);
            let actual = linked.run(&verified, &mut Heap::new(DEFAULT_HEAP_LIMIT));
            if let Err(report) = compare(name, source, &expected, &actual) {
                panic!("{report}");
            }
        }
    }
}
