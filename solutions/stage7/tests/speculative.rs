//! Stage 7's pipeline in stage 4 (`tiered::speculative_ir`, what
//! `tiered::compile_speculative` compiles, with this stage's `Deoptimizer`): each function of the corpus built with
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
use stage1::{Engine, FnId, Verified};
use stage4::ir;
use stage4::speculation::{NoSpeculation, RandomBets};
use stage4::tiered::{self, Calls};
use stage7_solution::deopt::DEOPTIMIZER;

fn corpus_programs() -> Vec<(String, Verified)> {
    let dir = jitlab_testkit::programs_dir(env!("CARGO_MANIFEST_DIR"));
    corpus::loaded(&dir, 60, |name, source| {
        stage1::load::load_source(name, source).unwrap_or_else(|e| panic!("{name}: {e}"))
    })
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
                    let spec = RandomBets::new(program, seed);
                    let fs: Vec<ir::Function> = (0..prog.functions.len() as FnId)
                        .map(|id| {
                            tiered::speculative_ir(program, id, None, 0, false, &spec, &DEOPTIMIZER)
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
                            let spec = &spec;
                            tiered::speculative_ir(
                                program,
                                id,
                                Some(header),
                                0,
                                false,
                                spec,
                                &DEOPTIMIZER,
                            )
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
        for (id, calls) in (0..program.program().functions.len() as FnId)
            .flat_map(|id| [(id, Calls::Table), (id, Calls::Compiled)])
        {
            let plain = tiered::compile_speculating(&program, id, None, 0, None, calls);
            let spec = tiered::compile_speculative(
                &program,
                id,
                None,
                0,
                None,
                &NoSpeculation,
                &DEOPTIMIZER,
                false,
                calls,
            );
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
