//! Whole programs through optimized code compiled from warm caches: a program runs
//! once in the interpreter on a heap with stage 6's [`ShapeModel`] (which fills the
//! caches of field and call sites), then every function is compiled by stage 4 alone
//! with an [`OptimizedCode`] snapshot of its caches and installed in the function
//! table of stage 3's program (its trampoline and context), and the program runs again
//! on the same heap (the same shapes): both runs must print and end as the interpreter
//! does on stage 1's own objects. The second
//! run's accesses at monomorphic and polymorphic sites are the inline fast paths.

extern crate stage6_solution as stage6;

use std::path::PathBuf;

use jitlab_testkit::isolate::{self, Harness};
use jitlab_testkit::{corpus, describe, random, End, Outcome};
use stage1::bytecode::MAIN;
use stage1::heap::{Heap, DEFAULT_HEAP_LIMIT};
use stage1::interp::trace::runtime_error;
use stage1::interp::{Entry, Interpreter};
use stage1::print::format_value;
use stage1::{Engine, FnId, RuntimeError, Stats, Verified};
use stage3::CompiledProgram;
use stage4::tiered::{compile_function, CompiledFunction};
use stage6::optimized::OptimizedCode;
use stage6::ShapeModel;

fn harness() -> Harness {
    isolate::install_panic_hook();
    Harness::new().describer(stage2::code_map::describe)
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

/// `Err` with a report when the runs differ.
fn compare(what: &str, source: &str, expected: &Run, actual: &Run) -> Result<(), String> {
    if expected == actual {
        return Ok(());
    }
    let mut report = describe(what, source, &expected.outcome(), &actual.outcome());
    report.push_str(&format!(
        "\nexpected {:?}\nactual   {:?}\n",
        expected.result, actual.result
    ));
    Err(report)
}

fn interpreted(verified: &Verified) -> Run {
    let mut out = Vec::new();
    let result = Interpreter::new().run(verified, &mut out);
    Run {
        output: String::from_utf8(out).expect("UTF-8"),
        result,
    }
}

/// Runs `compiled` (its table as it is) from `main` on `heap`; the stats too.
fn run_native(verified: &Verified, compiled: &CompiledProgram, heap: &mut Heap) -> (Run, Stats) {
    let program = verified.program();
    let recursive = stage3::stack::recursive_functions(program);
    let mut out = Vec::new();
    let mut stats = Stats::default();
    let result = stage3::run_compiled(verified, compiled, &recursive, heap, &mut out, &mut stats)
        .expect("a native stack");
    let run = Run {
        output: String::from_utf8(out).expect("UTF-8"),
        result: result.map(|v| format_value(program, heap, v)),
    };
    (run, stats)
}

fn model(heap: &Heap) -> &ShapeModel {
    heap.model()
        .as_any()
        .downcast_ref::<ShapeModel>()
        .expect("a shape model")
}

/// A program run twice on one shape-model heap: first in the interpreter, then with
/// every function optimized from its caches' snapshot after the first run.
struct Twice {
    first: Run,
    second: Run,
    /// The second run's stats.
    stats: Stats,
    /// Field sites compiled with a fast path, and call sites with guarded calls.
    fast_fields: usize,
    guarded_calls: usize,
    heap: Heap,
}

fn twice(verified: &Verified) -> Twice {
    let mut heap = Heap::with_model(
        DEFAULT_HEAP_LIMIT,
        Box::new(ShapeModel::new(verified, true)),
    );
    let mut compiled = stage3::compile_program_declining(verified, &[])
        .expect("the templates compile the program");
    let first = {
        let mut out = Vec::new();
        let entry = Entry::call(MAIN, &[], 0);
        let result = Interpreter::new().enter(verified, &mut heap, entry, None, &mut out);
        let program = verified.program();
        Run {
            output: String::from_utf8(out).expect("UTF-8"),
            result: match result {
                Ok(v) => Ok(format_value(program, &heap, v)),
                Err(unwind) => Err(runtime_error(
                    program,
                    unwind.kind,
                    unwind.frames.into_iter(),
                )),
            },
        }
    };
    let sites = verified.sites();
    let (mut fast_fields, mut guarded_calls) = (0, 0);
    let mut optimized: Vec<CompiledFunction> = Vec::new();
    for func in 0..verified.program().functions.len() {
        if compiled.declined[func].is_some() {
            continue;
        }
        let snapshot = OptimizedCode::of_heap(&mut heap, func as FnId).expect("caches");
        for (site, _) in sites.iter().filter(|(_, i)| i.func == func as FnId) {
            fast_fields += usize::from(!snapshot.field_cases(site).is_empty());
            guarded_calls += usize::from(
                !stage4::objects::ObjectLowering::call_targets(&snapshot, site).is_empty(),
            );
        }
        let Ok(c) = compile_function(verified, func as FnId, None, Some(&snapshot)) else {
            continue;
        };
        compiled.table[func].code = c.code.addr() + c.entry as u64;
        let fc = &mut compiled.functions[func];
        fc.frame_bytes = fc.frame_bytes.max(c.function.frame_bytes);
        optimized.push(c);
    }
    let (second, stats) = run_native(verified, &compiled, &mut heap);
    drop(optimized);
    Twice {
        first,
        second,
        stats,
        fast_fields,
        guarded_calls,
        heap,
    }
}

/// Checks both runs of `source` against the interpreter; the numbers of fast field
/// sites and guarded call sites.
fn agrees(name: &str, source: &str) -> Result<(usize, usize), String> {
    let verified = load(name, source);
    let expected = interpreted(&verified);
    let t = twice(&verified);
    compare(&format!("{name} (warming)"), source, &expected, &t.first)?;
    compare(&format!("{name} (optimized)"), source, &expected, &t.second)?;
    Ok((t.fast_fields, t.guarded_calls))
}

#[test]
fn every_corpus_program_agrees_in_optimized_code_from_warm_caches() {
    let dir: PathBuf = jitlab_testkit::programs_dir(env!("CARGO_MANIFEST_DIR"));
    let programs: Vec<_> = corpus::load(&dir)
        .into_iter()
        .filter(|p| p.expected_load_error.is_none())
        .collect();
    assert!(programs.len() >= 60, "only {} programs", programs.len());
    let failures = harness().max_failures(programs.len()).each(
        programs.len(),
        |i| programs[i].name.clone(),
        |i| agrees(&programs[i].name, &programs[i].source).map(|_| ()),
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

/// Random programs with objects of many shapes (fields in other orders, added after
/// construction, sites that see up to seven shapes).
const RANDOM_PROGRAMS: u64 = 300;

#[test]
fn random_object_programs_agree_in_optimized_code_from_warm_caches() {
    let n = RANDOM_PROGRAMS as usize;
    let failures = harness().max_failures(5).each(
        n,
        |i| format!("object program seed {i}"),
        |i| {
            let source = random::object_program(i as u64);
            agrees(&format!("seed {i}"), &source).map(|_| ())
        },
    );
    assert!(
        failures.is_empty(),
        "{} random object programs went wrong: {}\n\n{}",
        failures.len(),
        isolate::names(&failures, |i| format!("seed {i}")),
        isolate::report(&failures[..failures.len().min(3)])
    );
}

const SHAPES: &str = "\
fn norm(p) { return p.x * p.x + p.y * p.y; }
fn move(p, d) { p.x = p.x + d; return p; }
fn apply(f, p) { return f(p); }
fn first(p) { return p.x; }
let ps = [{x: 1, y: 2}, {y: 3, x: 4}, {x: 5, y: 6, z: 7}];
let i = 0;
let total = 0;
while i < 30 {
  let p = ps[i % 3];
  total = total + norm(move(p, 1)) + apply(first, p);
  i = i + 1;
}
print total;
";

#[test]
fn optimized_code_from_warm_caches_reaches_no_field_runtime_call() {
    harness().case(|| {
        let (fields, calls) = agrees("shapes.mini", SHAPES).unwrap();
        // norm's 4 gets, move's get and set, first's get, and the 7 stores of main's
        // object literals (each a cached transition): one fast path each; apply's
        // call has its one target.
        assert_eq!((fields, calls), (14, 1));
        let verified = load("shapes.mini", SHAPES);
        let t = twice(&verified);
        // Every site saw at most three shapes: the second run's accesses (and
        // allocations) never leave the inline code.
        let calls = |name: &str| {
            t.stats
                .runtime_calls
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0, |&(_, c)| c)
        };
        assert_eq!(calls("get_field"), 0, "{:?}", t.stats.runtime_calls);
        assert_eq!(calls("set_field"), 0, "{:?}", t.stats.runtime_calls);
        assert_eq!(calls("call_target"), 0, "{:?}", t.stats.runtime_calls);
        // main's three objects made inline.
        assert_eq!(calls("new_object"), 0, "{:?}", t.stats.runtime_calls);
        // The caches saw three shapes at norm's sites: polymorphic.
        let model = model(&t.heap);
        let norm = verified.program().function_named("norm").unwrap();
        let site = verified
            .sites()
            .iter()
            .find(|(_, i)| i.func == norm)
            .unwrap()
            .0;
        assert_eq!(model.field_ic(site).state.name(), "polymorphic");
    });
}

#[test]
fn only_a_caching_shape_model_gives_a_snapshot() {
    let verified = load("shapes.mini", SHAPES);
    let mut by_name = Heap::new(DEFAULT_HEAP_LIMIT);
    assert!(OptimizedCode::of_heap(&mut by_name, 0).is_none());
    let mut no_ic = Heap::with_model(
        DEFAULT_HEAP_LIMIT,
        Box::new(ShapeModel::new(&verified, false)),
    );
    assert!(OptimizedCode::of_heap(&mut no_ic, 0).is_none());
    let mut caching = Heap::with_model(
        DEFAULT_HEAP_LIMIT,
        Box::new(ShapeModel::new(&verified, true)),
    );
    assert!(OptimizedCode::of_heap(&mut caching, 0).is_some());
}
