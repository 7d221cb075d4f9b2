//! Speculative IR (stage 7's use of stage 4): the builder's bets, the late
//! `speculate` pass, and the evaluator as the oracle of both.
//!
//! The backbone is differential: every corpus program and random programs, built
//! with a seeded *random* [`Speculation`] — bets that are right and bets that are
//! wrong, calls inlined at random, recursion included — verified (SSA and frame
//! states), then run by the IR evaluator, must print and end (value, or error with
//! its whole trace) exactly as the interpreter does. A lost bet deoptimizes: the
//! evaluator resumes the interpreter from the guard's frame state, so a wrong frame
//! state is a wrong answer. Under stress every `n`-th guard deoptimizes even when it
//! holds, so every frame state is tried, not only the lost bets'.

use jitlab_testkit::random;
use stage1::interp::Interpreter;
use stage1::{Engine, FnId, Instr, Verified};
use stage4::ir::{self, text, Function, Op, Pc};
use stage4::passes::{self, PassStats};
use stage4::speculation::{NoSpeculation, Speculation};

use super::builder::{corpus_programs, load};

/// A speculation that bets at random, the same way for the same seed and site (its
/// answers never change during a compile, as the trait asks).
struct RandomBets {
    seed: u64,
    /// Each function's code (to pick a call target of the right arity).
    code: Vec<Vec<Instr>>,
    arities: Vec<u32>,
}

impl RandomBets {
    fn new(program: &Verified, seed: u64) -> RandomBets {
        let prog = program.program();
        RandomBets {
            seed,
            code: prog.functions.iter().map(|f| f.code.clone()).collect(),
            arities: prog.functions.iter().map(|f| f.arity).collect(),
        }
    }

    /// A number from the seed, the site and what is asked (splitmix64).
    fn roll(&self, func: FnId, pc: Pc, question: u64) -> u64 {
        let mut z = self.seed
            ^ (u64::from(func) << 40)
            ^ (u64::from(pc) << 8)
            ^ question.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability `percent` / 100.
    fn chance(&self, func: FnId, pc: Pc, question: u64, percent: u64) -> bool {
        self.roll(func, pc, question) % 100 < percent
    }
}

impl Speculation for RandomBets {
    fn int_result(&self, func: FnId, pc: Pc) -> bool {
        self.chance(func, pc, 1, 60)
    }

    fn no_overflow(&self, func: FnId, pc: Pc) -> bool {
        self.chance(func, pc, 2, 70)
    }

    fn branch(&self, func: FnId, pc: Pc) -> Option<bool> {
        match self.roll(func, pc, 3) % 4 {
            0 => Some(true),
            1 => Some(false),
            _ => None,
        }
    }

    fn field_hit(&self, func: FnId, pc: Pc) -> bool {
        self.chance(func, pc, 4, 50)
    }

    fn call_target(&self, func: FnId, pc: Pc) -> Option<FnId> {
        let Some(Instr::CallValue(argc)) = self.code[func as usize].get(pc as usize) else {
            return None;
        };
        let fitting: Vec<FnId> = (0..self.arities.len() as FnId)
            .filter(|&g| self.arities[g as usize] == *argc)
            .collect();
        if fitting.is_empty() || !self.chance(func, pc, 5, 70) {
            return None;
        }
        Some(fitting[(self.roll(func, pc, 6) % fitting.len() as u64) as usize])
    }

    fn inline(&self, func: FnId, pc: Pc, callee: FnId, depth: u32) -> bool {
        depth < 3 && self.chance(func, pc, 7 + u64::from(callee) * 16 + u64::from(depth), 40)
    }
}

/// How a run ended: output, then the value or the error with its whole trace.
#[derive(Debug, PartialEq, Eq)]
struct Ending {
    output: String,
    end: Result<String, String>,
}

fn ending(out: Vec<u8>, result: Result<String, stage1::RuntimeError>) -> Ending {
    Ending {
        output: String::from_utf8(out).expect("UTF-8 output"),
        end: result.map_err(|e| e.to_string()),
    }
}

/// Every function of `program` built with `spec`'s bets, checked (SSA and frame
/// states), and optimized as stage 7 compiles it when `optimize` is set (the
/// pipeline, then the late passes).
fn speculative(
    program: &Verified,
    spec: &dyn Speculation,
    optimize: bool,
) -> Result<Vec<Function>, String> {
    let mut fs = Vec::new();
    for id in 0..program.program().functions.len() as u32 {
        let mut f = ir::build::build_speculative(program, id, None, 0, spec);
        let check = |f: &Function, when: &str| {
            ir::verify::verify(f)
                .and_then(|()| ir::verify::verify_states(f, program))
                .map_err(|e| format!("{when}: {e}\n{}", text::print(f)))
        };
        check(&f, "built")?;
        if optimize {
            let mut stats = PassStats::default();
            passes::optimize(&mut f, &mut stats, |_, _| {});
            check(&f, "optimized")?;
            for name in ["speculate"] {
                passes::run_pass(name, &mut f, &mut stats)?;
            }
            check(&f, "speculated")?;
            let left = f
                .blocks
                .iter()
                .flat_map(|b| &b.insts)
                .any(|&i| matches!(f.inst(i).op, Op::Checkpoint(_)));
            if left {
                return Err(format!("a checkpoint is left\n{}", text::print(&f)));
            }
        }
        fs.push(f);
    }
    Ok(fs)
}

/// Runs on a thread with a big stack (the evaluator recurses once per Mini call).
fn on_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(f)
        .expect("a thread")
        .join()
        .unwrap_or_else(|_| panic!("the evaluator panicked (see above)"))
}

/// The interpreter's ending of `program`.
fn interpreted(program: &Verified) -> Ending {
    let mut out = Vec::new();
    let result = Interpreter::new().run(program, &mut out);
    ending(out, result)
}

/// Compares the interpreter with the evaluator on `program` built with random bets
/// of each of `seeds`, optimized or not, and under stress (`stress`): what the
/// guards did, summed.
fn compare(
    name: &str,
    program: Verified,
    seeds: std::ops::Range<u64>,
    stress: &'static [Option<u64>],
) -> Result<Counts, String> {
    let name = name.to_string();
    on_big_stack(move || {
        let mut counts = Counts::default();
        let expected = interpreted(&program);
        for seed in seeds {
            let spec = RandomBets::new(&program, seed);
            for optimize in [false, true] {
                let fs = speculative(&program, &spec, optimize)
                    .map_err(|e| format!("{name} (bets {seed}, optimized: {optimize}): {e}"))?;
                for &n in stress {
                    let mut out = Vec::new();
                    let (result, c) = ir::eval::run_counted(&program, &fs, &mut out, n);
                    counts.add(c, n.is_some());
                    let actual = ending(out, result);
                    if expected != actual {
                        let ir: String = fs.iter().map(text::print).collect();
                        return Err(format!(
                            "{name} (bets {seed}, optimized: {optimize}, stress {n:?}): \
                             expected {expected:?}\n  got {actual:?}\n{ir}"
                        ));
                    }
                }
            }
        }
        Ok(counts)
    })
}

/// What the guards of many runs did: guards run, and deopts without and with stress.
#[derive(Debug, Default)]
struct Counts {
    guards: u64,
    lost_bets: u64,
    stressed: u64,
}

impl Counts {
    fn add(&mut self, c: ir::eval::GuardCounts, stressed: bool) {
        self.guards += c.run;
        if stressed {
            self.stressed += c.deopts;
        } else {
            self.lost_bets += c.deopts;
        }
    }

    /// Asserts the bets were put to the test: many guards, lost bets and stress deopts.
    fn assert_tested(&self, what: &str) {
        eprintln!("{what}: {self:?}");
        assert!(
            self.guards > 1000 && self.lost_bets > 100 && self.stressed > 100,
            "{what}: too few guards or deopts to test anything: {self:?}"
        );
    }

    fn sum(&mut self, other: Counts) {
        self.guards += other.guards;
        self.lost_bets += other.lost_bets;
        self.stressed += other.stressed;
    }
}

#[test]
fn speculative_ir_computes_what_the_interpreter_does_on_the_corpus() {
    let mut counts = Counts::default();
    for (name, program) in corpus_programs() {
        counts
            .sum(compare(&name, program, 0..3, &[None, Some(3)]).unwrap_or_else(|e| panic!("{e}")));
    }
    counts.assert_tested("corpus");
}

#[test]
fn speculative_ir_computes_what_the_interpreter_does_on_random_programs() {
    let mut counts = Counts::default();
    for seed in 0..random::seed_count(300) {
        let name = format!("random-{seed}.mini");
        let program = load(&name, &random::program(seed));
        let c = compare(&name, program, seed..seed + 2, &[None, Some(1), Some(5)]);
        counts.sum(c.unwrap_or_else(|e| panic!("{e}")));
    }
    counts.assert_tested("random programs");
}

#[test]
fn speculative_ir_computes_what_the_interpreter_does_on_random_object_programs() {
    let mut counts = Counts::default();
    for seed in 0..random::seed_count(150) {
        let name = format!("random-objects-{seed}.mini");
        let program = load(&name, &random::object_program(seed));
        let c = compare(&name, program, seed..seed + 2, &[None, Some(2)]);
        counts.sum(c.unwrap_or_else(|e| panic!("{e}")));
    }
    counts.assert_tested("random object programs");
}

#[test]
fn without_bets_the_speculative_builder_is_the_builder() {
    for (name, program) in corpus_programs() {
        for id in 0..program.program().functions.len() as u32 {
            let plain = ir::build(&program, id);
            let spec = ir::build::build_speculative(&program, id, None, 0, &NoSpeculation);
            assert_eq!(text::print(&spec), text::print(&plain), "{name}");
        }
    }
}
