//! The stage 4 engine: every function goes through the optimizer (bytecode → SSA IR
//! → passes → linear-scan registers → x86-64); a function it declines is left to
//! stage 3's templates, and the two kinds of code are written into one program by
//! stage 3's generator ([`stage3::codegen::Tier`]) and run by stage 3's native run
//! ([`stage3::run_compiled`]): one function table, one frame limit, one error exit.

use std::io::Write;
use std::time::{Duration, Instant};

use stage1::heap::{Heap, DEFAULT_HEAP_LIMIT};
use stage1::print::format_value;
use stage1::{Engine, Event, FnId, RuntimeError, Stats, Verified};
use stage2::{Assembler, Label};
use stage3::codegen::FunctionCode;
use stage3::CompiledProgram;

use crate::codegen::{self, Generated};
use crate::ir::{self, Function};
use crate::passes::{inline, optimize, returns, PassStats};
use crate::regalloc::{self, Allocation};

/// The tier name in events.
pub const TIER: &str = "optimizing";

/// The largest function (in IR values) the optimizer takes: the allocator's live
/// sets grow with the square of a function's size, so a huge generated function is
/// left to the templates, which compile in linear time.
pub const MAX_VALUES: usize = 200_000;

/// How an [`Optimizer`] runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The heap's size limit in bytes; past it, `out of memory`.
    pub heap_limit: usize,
    /// Functions to run in the interpreter (as stage 3's option does).
    pub interpret: Vec<String>,
    /// Functions to leave to stage 3's templates (for tests of mixed tiers).
    pub baseline: Vec<String>,
    /// Write `/tmp/perf-PID.map` (as stage 3 does), so that `perf report` names the
    /// generated functions.
    pub perf_map: bool,
    /// Copy small callees into their callers (`passes::inline`).
    pub inline: bool,
}

impl Default for Options {
    /// The default heap limit, every function optimized.
    fn default() -> Options {
        Options {
            heap_limit: DEFAULT_HEAP_LIMIT,
            interpret: Vec::new(),
            baseline: Vec::new(),
            perf_map: false,
            inline: true,
        }
    }
}

/// One function through the optimizer, up to its code.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The optimized IR.
    pub ir: Function,
    /// Its registers.
    pub alloc: Allocation,
    /// What the passes did to it.
    pub passes: PassStats,
    /// How long the IR, the passes and the allocation took.
    pub time: Duration,
}

/// Runs function `func` through the optimizer up to register allocation, or says why
/// it declines.
pub fn prepare(verified: &Verified, func: FnId) -> Result<Prepared, String> {
    prepare_ir(Instant::now(), ir::build::build(verified, func), verified)
}

/// [`prepare`] of the function's IR `ir` as built, timed from `start`.
pub(crate) fn prepare_ir(
    start: Instant,
    mut ir: Function,
    verified: &Verified,
) -> Result<Prepared, String> {
    let mut passes = PassStats::default();
    optimize(&mut ir, &mut passes, |_, _| {});
    allocate(start, ir, passes, false, verified)
}

/// The rest of [`prepare_ir`] once the passes have run: checks and registers, the
/// spill weights from the loops of `verified`'s program ([`regalloc::allocate_in`]).
pub(crate) fn allocate(
    start: Instant,
    ir: Function,
    passes: PassStats,
    lowered: bool,
    verified: &Verified,
) -> Result<Prepared, String> {
    if cfg!(debug_assertions) {
        // Debug builds (the tests) check the passes' output before using it.
        ir::verify::verify(&ir).map_err(|e| format!("the optimized IR is invalid: {e}"))?;
    }
    if ir.values.len() > MAX_VALUES {
        return Err(format!(
            "too big for the optimizer: {} IR values (the limit is {MAX_VALUES})",
            ir.values.len()
        ));
    }
    let funcs = std::iter::once(ir.id).chain(ir.frames.iter().map(|frame| frame.func));
    let nest = regalloc::nest::LoopNest::of_functions(verified.program(), funcs);
    let alloc = regalloc::allocate_in(&ir, &nest, lowered);
    if cfg!(debug_assertions) {
        // Debug builds (the tests) prove every allocation before using it.
        regalloc::checker::check(&ir, &alloc)
            .map_err(|errors| format!("register allocation failed its check: {}", errors[0]))?;
    }
    Ok(Prepared {
        ir,
        alloc,
        passes,
        time: start.elapsed(),
    })
}

/// A program compiled by the optimizer and the templates together.
pub struct Compiled {
    /// The code, the function table and what stage 3 records of each function.
    pub program: CompiledProgram,
    /// For each function: what the optimizer made of it, or why it declined.
    pub functions: Vec<Result<(Prepared, Generated), String>>,
}

/// Compiles `verified`: each function the optimizer takes, the others by the
/// templates (or the interpreter for those `interpret` names).
pub fn compile(verified: &Verified, options: &Options) -> Result<Compiled, String> {
    let program = verified.program();
    // Every function through the passes, then what the whole program knows (which
    // functions return only integers) back into each, then registers.
    let mut times = Vec::with_capacity(program.functions.len());
    let mut stats = Vec::with_capacity(program.functions.len());
    let mut irs: Vec<Function> = (0..program.functions.len())
        .map(|i| {
            let start = Instant::now();
            let mut ir = ir::build(verified, i as FnId);
            let mut passes = PassStats::default();
            optimize(&mut ir, &mut passes, |_, _| {});
            times.push(start.elapsed());
            stats.push(passes);
            ir
        })
        .collect();
    let start = Instant::now();
    returns::apply(&mut irs, &mut stats);
    if options.inline {
        // Small callees (as optimized, before any inlining) copied into their
        // callers, which then go through the passes again. A function another tier
        // is asked to run stays a call.
        let callees: Vec<Function> = irs.clone();
        let offered: Vec<Option<&Function>> = callees
            .iter()
            .zip(&program.functions)
            .map(|(g, code)| {
                let elsewhere =
                    options.baseline.contains(&code.name) || options.interpret.contains(&code.name);
                (!elsewhere && g.values.len() <= MAX_VALUES).then_some(g)
            })
            .collect();
        for (ir, passes) in irs.iter_mut().zip(stats.iter_mut()) {
            let inlined = inline::run(ir, &offered);
            if inlined > 0 {
                passes.inlined += inlined as u64;
                optimize(ir, passes, |_, _| {});
            }
        }
    }
    let share = start.elapsed() / program.functions.len().max(1) as u32;
    let mut prepared: Vec<Result<Prepared, String>> = irs
        .into_iter()
        .zip(times.into_iter().zip(stats))
        .zip(&program.functions)
        .map(|((ir, (time, passes)), f)| {
            if options.baseline.contains(&f.name) {
                return Err("asked to leave it to the templates (Options::baseline)".to_string());
            }
            let start = Instant::now();
            let mut p = allocate(start, ir, passes, false, verified)?;
            p.time += time + share;
            Ok(p)
        })
        .collect();
    let mut generated: Vec<Option<Generated>> =
        (0..program.functions.len()).map(|_| None).collect();
    let interpret: Vec<bool> = program
        .functions
        .iter()
        .map(|f| options.interpret.contains(&f.name))
        .collect();
    // Every function prepared here (and not interpreted) is generated here.
    let here: Vec<bool> = prepared
        .iter()
        .zip(&interpret)
        .map(|(p, &i)| p.is_ok() && !i)
        .collect();
    let mut fast = codegen::FastEntries::new(program, &here);
    let mut tier = |asm: &mut Assembler, func: FnId, entries: &[Label]| -> Option<FunctionCode> {
        let p = prepared[func as usize].as_ref().ok()?;
        let g = codegen::generate(asm, verified.sites(), &p.ir, &p.alloc, entries, &mut fast);
        let code = g.code.clone();
        generated[func as usize] = Some(g);
        Some(code)
    };
    let compiled = stage3::compile_program_with_tier(verified, &interpret, &mut tier)
        .map_err(|e| e.to_string())?;
    let functions = prepared
        .iter_mut()
        .zip(generated)
        .zip(&compiled.declined)
        .map(
            |((p, g), declined)| match (std::mem::replace(p, Err(String::new())), g) {
                _ if declined.is_some() => Err(declined.clone().unwrap_or_default()),
                (Ok(p), Some(g)) => Ok((p, g)),
                (Err(why), _) => Err(why),
                (Ok(_), None) => Err("not generated".to_string()),
            },
        )
        .collect();
    Ok(Compiled {
        program: compiled,
        functions,
    })
}

/// The stage 4 engine: the optimizing compiler.
#[derive(Debug, Default)]
pub struct Optimizer {
    options: Options,
    stats: Stats,
    heap: Heap,
}

impl Optimizer {
    /// An optimizer with the default [`Options`].
    pub fn new() -> Optimizer {
        Optimizer::with_options(Options::default())
    }

    /// An optimizer with the given options.
    pub fn with_options(options: Options) -> Optimizer {
        Optimizer {
            options,
            stats: Stats::default(),
            heap: Heap::new(0),
        }
    }
}

impl Engine for Optimizer {
    fn name(&self) -> &'static str {
        "optimizing JIT"
    }

    fn run(&mut self, verified: &Verified, out: &mut dyn Write) -> Result<String, RuntimeError> {
        let start = Instant::now();
        let program = verified.program();
        self.stats = Stats::default();
        self.heap = Heap::new(self.options.heap_limit);
        let compiled = match compile(verified, &self.options) {
            Ok(compiled) => compiled,
            Err(reason) => {
                // Nothing native: the whole program in stage 3's engine, which says
                // what it did.
                let mut jit = stage3::Jit::with_options(stage3::Options {
                    heap_limit: self.options.heap_limit,
                    interpret: self.options.interpret.clone(),
                    perf_map: self.options.perf_map,
                });
                let result = jit.run(verified, out);
                self.stats = jit.stats().clone();
                self.stats.events.insert(
                    0,
                    Event::NotCompiled {
                        function: "<program>".into(),
                        tier: TIER,
                        reason,
                    },
                );
                return result;
            }
        };
        let mut spilled = 0u64;
        let mut values = 0u64;
        let mut passes = PassStats::default();
        for ((f, fc), made) in program
            .functions
            .iter()
            .zip(&compiled.program.functions)
            .zip(&compiled.functions)
        {
            match made {
                Ok((p, _)) => {
                    spilled += u64::from(p.alloc.spilled);
                    passes.add(&p.passes);
                    values += p.alloc.locs.iter().filter(|l| l.is_some()).count() as u64;
                    self.stats.events.push(Event::Compiled {
                        function: f.name.clone(),
                        tier: TIER,
                        bytecode_len: f.code.len(),
                        code_bytes: fc.range.len(),
                        time: p.time + fc.time,
                    });
                }
                Err(reason) => {
                    self.stats.events.push(Event::NotCompiled {
                        function: f.name.clone(),
                        tier: TIER,
                        reason: reason.clone(),
                    });
                }
            }
        }
        self.stats.counters = vec![
            ("folded", passes.folded),
            ("branches folded", passes.branches_folded),
            ("checks eliminated", passes.checks_eliminated),
            ("removed", passes.removed),
            ("parameters removed", passes.params_removed),
            ("merged", passes.merged),
            ("hoisted", passes.hoisted),
            ("strength-reduced", passes.reduced),
            ("overflow checks proved away", passes.bounded),
            ("calls inlined", passes.inlined),
            ("array checks shared", passes.array_checks_shared),
            ("loops peeled", passes.peeled),
            ("values in registers or slots", values),
            ("spilled values", spilled),
        ];
        if self.options.perf_map {
            // The functions the optimizer made are `[optimized]`, the others
            // `[baseline]` (the templates) or `[interpreted stub]`.
            let text =
                stage3::listing::perf_map_with_tiers(
                    &compiled.program,
                    program,
                    |i| match compiled.functions[i] {
                        Ok(_) => "optimized",
                        Err(_) => "baseline",
                    },
                );
            if let Err(e) = stage3::listing::write_perf_map_text(&text) {
                let _ = writeln!(std::io::stderr(), "warning: no perf map: {e}");
            }
        }
        let registration = stage3::code_map::register(program, &compiled.program);
        let recursive = stage3::stack::recursive_functions(program);
        let result = stage3::run_compiled(
            verified,
            &compiled.program,
            &recursive,
            &mut self.heap,
            out,
            &mut self.stats,
        );
        drop(registration);
        let result = match result {
            Ok(result) => result,
            Err(reason) => {
                // No native stack to be had: the interpreter runs the whole program.
                let mut interp =
                    stage1::interp::Interpreter::with_options(stage1::interp::Options {
                        heap_limit: self.options.heap_limit,
                        ..stage1::interp::Options::default()
                    });
                let result = interp.run(verified, out);
                let events = std::mem::take(&mut self.stats.events);
                self.stats = interp.stats().clone();
                self.stats.events = events;
                self.stats.events.push(Event::NotCompiled {
                    function: "<program>".into(),
                    tier: TIER,
                    reason,
                });
                self.stats.run_time = start.elapsed();
                return result;
            }
        };
        self.stats.run_time = start.elapsed();
        result.map(|v| format_value(program, &self.heap, v))
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }
}
