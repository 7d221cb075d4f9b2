//! Stage 7's pipeline in stage 4 (`tiered::speculative_ir`, what
//! `tiered::compile_speculative` compiles): each function of the corpus built with
//! seeded random bets, through the pipeline as a function compiled alone gets it
//! (the program's facts, stage 4's own inlining of small callees on top of the
//! speculation's), then the late passes. Its frame states are checked (debug builds
//! check them in `speculative_ir`), and the program run by the IR evaluator from
//! those functions — lost bets deoptimizing into the interpreter, and every third
//! guard under stress — computes what the interpreter does. The OSR variants of each
//! loop header build and check too. Without bets, `compile_speculative` compiles
//! what `compile_speculating` does.

use jitlab_testkit::corpus;
use stage1::interp::Interpreter;
use stage1::{Engine, FnId, Instr, Verified};
use stage4_solution::ir::{self, Pc};
use stage4_solution::speculation::{NoSpeculation, Speculation};
use stage4_solution::tiered;

/// Bets at random, the same way for the same seed and site.
struct RandomBets {
    seed: u64,
    arities: Vec<u32>,
    code: Vec<Vec<Instr>>,
}

impl RandomBets {
    fn roll(&self, func: FnId, pc: Pc, question: u64) -> u64 {
        let mut z = self.seed ^ (u64::from(func) << 40) ^ (u64::from(pc) << 8) ^ question;
        z = z
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn chance(&self, func: FnId, pc: Pc, question: u64, percent: u64) -> bool {
        self.roll(func, pc, question) % 100 < percent
    }
}

impl Speculation for RandomBets {
    fn int_result(&self, func: FnId, pc: Pc) -> bool {
        self.chance(func, pc, 1, 70)
    }

    fn no_overflow(&self, func: FnId, pc: Pc) -> bool {
        self.chance(func, pc, 2, 80)
    }

    fn branch(&self, func: FnId, pc: Pc) -> Option<bool> {
        match self.roll(func, pc, 3) % 5 {
            0 => Some(true),
            1 => Some(false),
            _ => None,
        }
    }

    fn field_hit(&self, func: FnId, pc: Pc) -> bool {
        self.chance(func, pc, 4, 60)
    }

    fn call_target(&self, func: FnId, pc: Pc) -> Option<FnId> {
        let Some(Instr::CallValue(argc)) = self.code[func as usize].get(pc as usize) else {
            return None;
        };
        let fitting: Vec<FnId> = (0..self.arities.len() as FnId)
            .filter(|&g| self.arities[g as usize] == *argc)
            .collect();
        let k = self.roll(func, pc, 5) as usize % (fitting.len() + 1);
        fitting.get(k).copied()
    }

    fn inline(&self, func: FnId, pc: Pc, callee: FnId, depth: u32) -> bool {
        depth < 2 && self.chance(func, pc, 6 + u64::from(callee) * 8, 50)
    }
}

fn corpus_programs() -> Vec<(String, Verified)> {
    let dir = jitlab_testkit::programs_dir(env!("CARGO_MANIFEST_DIR"));
    corpus::load(&dir)
        .into_iter()
        .filter(|p| p.expected_load_error.is_none())
        .map(|p| {
            let program = stage1::load::load_source(&p.name, &p.source)
                .unwrap_or_else(|e| panic!("{}: {e}", p.name));
            (p.name, program)
        })
        .collect()
}

/// Output and ending (the value, or the error with its whole trace).
fn ending(out: Vec<u8>, result: Result<String, stage1::RuntimeError>) -> (String, String) {
    let end = match result {
        Ok(v) => v,
        Err(e) => e.to_string(),
    };
    (String::from_utf8(out).expect("UTF-8"), end)
}

#[test]
fn the_speculative_pipeline_computes_what_the_interpreter_does_on_the_corpus() {
    let programs = corpus_programs();
    std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || {
            let mut deopts = 0;
            for (name, program) in &programs {
                let mut out = Vec::new();
                let result = Interpreter::new().run(program, &mut out);
                let expected = ending(out, result);
                let prog = program.program();
                for seed in 0..2 {
                    let spec = RandomBets {
                        seed,
                        arities: prog.functions.iter().map(|f| f.arity).collect(),
                        code: prog.functions.iter().map(|f| f.code.clone()).collect(),
                    };
                    let fs: Vec<ir::Function> = (0..prog.functions.len() as FnId)
                        .map(|id| {
                            tiered::speculative_ir(program, id, None, 0, false, &spec)
                                .unwrap_or_else(|e| panic!("{name}: {e}"))
                                .0
                        })
                        .collect();
                    for stress in [None, Some(3)] {
                        let mut out = Vec::new();
                        let (result, counts) =
                            ir::eval::run_counted(program, &fs, &mut out, stress);
                        deopts += counts.deopts;
                        let actual = ending(out, result);
                        assert_eq!(actual, expected, "{name} (bets {seed}, stress {stress:?})");
                    }
                    for id in 0..prog.functions.len() as FnId {
                        for header in tiered::loop_headers(program, id) {
                            tiered::speculative_ir(program, id, Some(header), 0, false, &spec)
                                .unwrap_or_else(|e| panic!("{name} at {header}: {e}"));
                        }
                    }
                }
            }
            assert!(deopts > 1000, "too few deopts to test anything: {deopts}");
        })
        .expect("a thread")
        .join()
        .unwrap_or_else(|_| panic!("see above"));
}

#[test]
fn without_bets_compile_speculative_compiles_what_compile_speculating_does() {
    for (name, program) in corpus_programs().into_iter().take(40) {
        for id in 0..program.program().functions.len() as FnId {
            let plain = tiered::compile_speculating(&program, id, None, 0, None);
            let spec =
                tiered::compile_speculative(&program, id, None, 0, None, &NoSpeculation, false);
            match (plain, spec) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.code.bytes(), b.code.bytes(), "{name}: function {id}")
                }
                (Err(a), Err(b)) => assert_eq!(a, b, "{name}: function {id}"),
                (a, b) => panic!("{name}: function {id}: {:?} / {:?}", a.err(), b.err()),
            }
        }
    }
}
