//! The extension point of a tiered run (`stage5::Extension`, what stage 6 plugs its
//! caches into): the run's heap gets the extension's object model, each baseline
//! compilation asks it for fast paths, each optimizing job for a snapshot taken on
//! the run's thread (never on the worker, which must not read live caches), the
//! model's events join the run's, and the extension's tables are kept for `--stats`.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use stage1::heap::{Blocks, Heap};
use stage1::interp::tiering::Counters;
use stage1::objects::{ByName, ObjectModel, Site};
use stage1::{Engine, ErrorKind, Event, FnId, Value, Verified};
use stage3::codegen::objects::ObjectCode;
use stage4::objects::ObjectLowering;
use stage4::speculation::Speculation;
use stage5::hooks::Job;
use stage5::{Extension, Options, Policy, Tier, Tiered};

use super::common::{isolated, load, run_on};

/// Stage 1's objects, with an event at the first `get` of each site.
struct Recording {
    objects: ByName,
    seen: Vec<Site>,
    events: Vec<Event>,
}

impl ObjectModel for Recording {
    fn name(&self) -> &'static str {
        "recording"
    }

    fn new_object(&mut self, blocks: &mut Blocks) -> Result<Value, ErrorKind> {
        self.objects.new_object(blocks)
    }

    unsafe fn lookup(&self, o: Value, field: u32) -> Option<Value> {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.objects.lookup(o, field) }
    }

    unsafe fn get(&mut self, o: Value, field: u32, site: Site) -> Option<Value> {
        if !self.seen.contains(&site) {
            self.seen.push(site);
            self.events.push(Event::IcTransition {
                function: "recording".into(),
                line: site,
                name: format!("field {field}"),
                from: "uninitialized",
                to: "monomorphic",
                seen: String::new(),
            });
        }
        // SAFETY: the caller's promise, passed on.
        unsafe { self.objects.lookup(o, field) }
    }

    unsafe fn set(
        &mut self,
        blocks: &mut Blocks,
        o: Value,
        field: u32,
        v: Value,
        site: Option<Site>,
    ) -> Result<(), ErrorKind> {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.objects.set(blocks, o, field, v, site) }
    }

    unsafe fn field_at(&self, o: Value, i: usize) -> Option<(u32, Value)> {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.objects.field_at(o, i) }
    }

    fn take_events(&mut self, out: &mut Vec<Event>) {
        out.append(&mut self.events);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// What the engine asked of the extension.
#[derive(Default)]
struct Asked {
    models: AtomicUsize,
    baselines: AtomicUsize,
    /// The function of each snapshot, and the name of the thread it was taken on.
    snapshots: Mutex<Vec<(FnId, Option<String>)>>,
    /// The function and OSR header of each optimizing job, in order.
    jobs: Mutex<Vec<(FnId, Option<usize>)>>,
}

/// An extension that records what it is asked, and adds no fast path.
struct Recorder(Arc<Asked>);

impl Extension for Recorder {
    fn object_model(&self, _: &Verified) -> Box<dyn ObjectModel> {
        self.0.models.fetch_add(1, Ordering::SeqCst);
        Box::new(Recording {
            objects: ByName,
            seen: Vec::new(),
            events: Vec::new(),
        })
    }

    fn baseline<'h>(&self, _: &'h mut Heap) -> Option<Box<dyn ObjectCode + 'h>> {
        self.0.baselines.fetch_add(1, Ordering::SeqCst);
        None
    }

    fn optimizer(&self, heap: &mut Heap, func: FnId) -> Option<Box<dyn ObjectLowering>> {
        assert_eq!(heap.model().name(), "recording");
        let thread = std::thread::current().name().map(str::to_string);
        self.0.snapshots.lock().unwrap().push((func, thread));
        None
    }

    fn tables(&self, heap: &Heap, _: &Verified) -> Vec<String> {
        vec![format!("model: {}\n", heap.model().name())]
    }

    fn speculation(&self, _: &Verified, _: &Counters, job: &Job) -> Option<Box<dyn Speculation>> {
        self.0.jobs.lock().unwrap().push((job.func, job.osr));
        None
    }
}

/// `get` reads a field of objects in a loop: hot enough to reach optimized code at
/// small thresholds.
const PROGRAM: &str = "fn get(o) {\n  return o.x + o.y;\n}\nlet i = 0;\nlet s = 0;\nwhile i < 40 {\n  s = s + get({x: i, y: 1});\n  i = i + 1;\n}\nprint s;\n";

fn with_recorder(sync: bool) -> (Tiered, Arc<Asked>, Vec<String>) {
    let asked = Arc::new(Asked::default());
    let mut engine = Tiered::with_options(Options {
        policy: Policy::all(2),
        sync_compile: sync,
        extension: Some(Arc::new(Recorder(Arc::clone(&asked)))),
        ..Options::default()
    });
    let run = run_on(&mut engine, &load("get.mini", PROGRAM));
    (
        engine,
        asked,
        run.lines().iter().map(|l| l.to_string()).collect(),
    )
}

#[test]
fn the_heap_gets_the_extension_s_model_and_the_tiers_ask_it_for_fast_paths() {
    isolated(|| {
        let (engine, asked, lines) = with_recorder(true);
        assert_eq!(lines, ["820"]);
        assert_eq!(engine.heap().model().name(), "recording");
        assert_eq!(asked.models.load(Ordering::SeqCst), 1);
        let baseline_tier_ups = engine
            .stats()
            .events
            .iter()
            .filter(|e| matches!(e, Event::TierUp { to, .. } if *to == Tier::Baseline.name()))
            .count();
        assert!(baseline_tier_ups >= 1, "{:?}", engine.stats().events);
        assert_eq!(asked.baselines.load(Ordering::SeqCst), baseline_tier_ups);
        let snapshots = asked.snapshots.lock().unwrap().clone();
        assert!(
            snapshots.iter().any(|&(f, _)| f == 1),
            "no snapshot of `get`: {snapshots:?}"
        );
        assert_eq!(engine.tables(), ["model: recording\n"]);
    });
}

#[test]
fn snapshots_are_taken_on_the_run_s_thread_not_the_worker_s() {
    isolated(|| {
        let (_, asked, lines) = with_recorder(false);
        assert_eq!(lines, ["820"]);
        let snapshots = asked.snapshots.lock().unwrap().clone();
        assert!(!snapshots.is_empty());
        for (func, thread) in snapshots {
            assert_ne!(
                thread.as_deref(),
                Some("jitlab-compile"),
                "the snapshot of function {func} was taken on the worker"
            );
        }
    });
}

#[test]
fn the_model_s_events_join_the_run_s_events() {
    isolated(|| {
        let (engine, _, _) = with_recorder(true);
        let model_events: Vec<&Event> = engine
            .stats()
            .events
            .iter()
            .filter(
                |e| matches!(e, Event::IcTransition { function, .. } if function == "recording"),
            )
            .collect();
        // `get`'s two sites, each once, whatever tier ran them.
        assert_eq!(model_events.len(), 2, "{:?}", engine.stats().events);
    });
}

#[test]
fn without_an_extension_the_heap_keeps_stage_1_s_objects_and_no_tables() {
    isolated(|| {
        let mut engine = Tiered::with_options(Options {
            policy: Policy::all(2),
            sync_compile: true,
            ..Options::default()
        });
        let run = run_on(&mut engine, &load("get.mini", PROGRAM));
        assert_eq!(run.lines(), ["820"]);
        assert_eq!(engine.heap().model().name(), "by name");
        assert!(engine.tables().is_empty());
    });
}

#[test]
fn a_hot_inner_loop_asks_for_the_variant_around_it_only_if_that_loop_came_round() {
    isolated(|| {
        // Background mode, each optimizing job seen through the extension, in order.
        // In `main` the loop around the first inner loop has two trips (each inner
        // run longer than the thresholds): it has not come round when the inner loop
        // first trips in baseline code, so the frame asks for the inner loop's own
        // variant. `f`'s inner loop is short, its loop around has come round long
        // before: it asks for the variant of the loop around it.
        let source = "fn f() {\n  let s = 0;\n  let r = 0;\n  while r < 1000 {\n    let i = 0;\n    while i < 30 {\n      s = s + i;\n      i = i + 1;\n    }\n    r = r + 1;\n  }\n  return s;\n}\nlet t = 0;\nlet r = 0;\nwhile r < 2 {\n  let i = 0;\n  while i < 60000 {\n    t = t + i % 7;\n    i = i + 1;\n  }\n  r = r + 1;\n}\nprint t + f();\n";
        let program = load("nested.mini", source);
        let asked = Arc::new(Asked::default());
        let mut engine = Tiered::with_options(Options {
            policy: "calls=1,loops=100,opt-calls=1000000,opt-loops=1000"
                .parse()
                .unwrap(),
            extension: Some(Arc::new(Recorder(Arc::clone(&asked)))),
            ..Options::default()
        });
        let run = run_on(&mut engine, &program);
        let expected = run_on(&mut stage1::interp::Interpreter::new(), &program);
        assert_eq!(run.output, expected.output);
        let headers = |func: FnId| stage4::tiered::loop_headers(&program, func);
        let (main, f) = (headers(0), headers(1));
        let jobs = asked.jobs.lock().unwrap().clone();
        let first = |func: FnId| jobs.iter().find(|j| j.0 == func).copied();
        assert_eq!(first(0), Some((0, Some(main[1]))), "{jobs:?}");
        assert_eq!(first(1), Some((1, Some(f[0]))), "{jobs:?}");
    });
}

#[test]
fn a_hot_inner_loop_keeps_waiting_for_the_variant_around_it_while_the_worker_makes_it() {
    isolated(|| {
        // `big` goes to the worker first, a long compile. Then main's inner loop (100
        // trips a run) gets hot in baseline code, after its loop around came round:
        // it asks for that loop's variant. The loop around comes round again and
        // finds no code; the inner loop trips again and again (every 300 back edges)
        // while the worker is busy: it never asks for a variant of its own.
        let mut source = String::from("fn big(x) {\n  let s = x;\n");
        for k in 0..400 {
            source.push_str(&format!("  s = (s * 7 + {k}) % 1000003;\n"));
        }
        source.push_str("  return s;\n}\nlet a = big(1) + big(2) + big(3);\n");
        source.push_str("let total = 0;\nlet r = 0;\nwhile r < 20000 {\n  let i = 0;\n  while i < 100 {\n    total = total + i % 7 * r;\n    i = i + 1;\n  }\n  r = r + 1;\n}\nprint total + a;\n");
        let program = load("waits.mini", &source);
        let asked = Arc::new(Asked::default());
        let mut engine = Tiered::with_options(Options {
            policy: "calls=1,loops=1000,opt-calls=1,opt-loops=300"
                .parse()
                .unwrap(),
            extension: Some(Arc::new(Recorder(Arc::clone(&asked)))),
            ..Options::default()
        });
        let run = run_on(&mut engine, &program);
        let expected = run_on(&mut stage1::interp::Interpreter::new(), &program);
        assert_eq!(run.output, expected.output);
        let headers = stage4::tiered::loop_headers(&program, 0);
        let jobs = asked.jobs.lock().unwrap().clone();
        let main: Vec<Option<usize>> = jobs.iter().filter(|j| j.0 == 0).map(|j| j.1).collect();
        assert_eq!(main, [Some(headers[0])], "{jobs:?}");
    });
}
