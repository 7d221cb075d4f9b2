//! The stages of the course and the engine each one runs programs with. Adding the
//! engine of a new stage is one line in [`BUILT`].

use jitlab_cli::Stage;
use stage1::Verified;

/// The names of the seven stages, as the book and the grade table call them.
pub const NAMES: [&str; 7] = [
    "interpreter",
    "code buffer",
    "template JIT",
    "optimizer",
    "tiering",
    "inline caches",
    "deopt",
];

/// The name of stage `n` (1-based), or `"?"` past the last one.
pub fn name(n: u32) -> &'static str {
    NAMES
        .get((n as usize).wrapping_sub(1))
        .copied()
        .unwrap_or("?")
}

/// A stage's engine on the command line.
pub type MakeEngine = &'static dyn Stage<Program = Verified>;

/// A stage that is built, and its engine if it adds one (stage 2 adds an assembler,
/// not an engine, and runs programs with the engine of the stage below it).
pub struct Built {
    /// The stage number.
    pub stage: u32,
    /// The engine the stage adds, if any.
    pub engine: Option<MakeEngine>,
}

/// The built stages, in order.
pub const BUILT: &[Built] = &[
    Built {
        stage: 1,
        engine: Some(&stage1::cli::Cli),
    },
    Built {
        stage: 2,
        engine: None,
    },
    Built {
        stage: 3,
        engine: Some(&stage3::cli::Cli),
    },
    Built {
        stage: 4,
        engine: Some(&stage4::cli::Cli),
    },
    Built {
        stage: 5,
        engine: Some(&stage5::cli::Cli),
    },
    Built {
        stage: 6,
        engine: Some(&stage6::cli::Cli),
    },
    Built {
        stage: 7,
        engine: Some(&stage7::cli::Cli),
    },
];

/// The optimizer's IR for `dump --ir`: stage 4's builder and passes (the later stages
/// reuse them), whichever engine runs programs.
pub struct Optimizer;

impl Stage for Optimizer {
    type Program = Verified;

    fn number(&self) -> u32 {
        4
    }

    fn load(&self, file: &str, text: &str) -> Result<Verified, String> {
        stage1::cli::load_source(file, text)
    }

    fn run(
        &self,
        program: &Verified,
        out: &mut dyn std::io::Write,
        options: &jitlab_cli::RunOptions,
    ) -> jitlab_cli::Outcome {
        listing_stage().run(program, out, options)
    }

    fn jasm(&self, program: &Verified) -> String {
        stage1::jasm::print(program.program())
    }

    fn ir(&self, program: &Verified, passes: bool) -> Option<Result<String, String>> {
        Some(Ok(stage4::passes::listing(program, passes)))
    }

    fn ir_osr(
        &self,
        program: &Verified,
        function: &str,
        pc: usize,
        passes: bool,
    ) -> Option<Result<String, String>> {
        stage4::cli::Cli.ir_osr(program, function, pc, passes)
    }
}

/// The stage whose JIT `dump --asm` lists without `--stage`: the highest one, up to
/// stage 4, that makes machine code. The later stages' top tier is stage 4's
/// compiler, which needs no run; what the tiered engines compile (stages 5 to 7:
/// which functions and loops got hot, stage 7's bets on the profile) needs one
/// (`dump --asm --stage 5`), and their code holds addresses of that run.
pub fn listing_stage() -> MakeEngine {
    BUILT
        .iter()
        .rev()
        .filter(|b| b.stage <= 4)
        .filter_map(|b| b.engine)
        .find(|e| e.generates_code())
        .or_else(|| BUILT.iter().find_map(|b| b.engine))
        .expect("stage 1 is built")
}

/// The engine `--stage N` runs with: the one of the highest built stage at or below
/// `N` (default: the highest built stage), with the stage that provides it; or why
/// there is none.
pub fn engine_for(stage: Option<u32>) -> Result<(u32, MakeEngine), String> {
    let last = BUILT.last().map_or(0, |b| b.stage);
    let wanted = stage.unwrap_or(last);
    if wanted as usize > NAMES.len() {
        return Err(format!(
            "there is no stage {wanted}: the course has stages 1 to {}",
            NAMES.len()
        ));
    }
    if wanted > last {
        return Err(format!(
            "stage {wanted} ({}) is not built yet: stages 1 to {last} are",
            name(wanted)
        ));
    }
    BUILT
        .iter()
        .rev()
        .filter(|b| b.stage <= wanted)
        .find_map(|b| b.engine.map(|make| (b.stage, make)))
        .ok_or_else(|| format!("stage {wanted} has no engine"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_two_runs_the_interpreter_and_the_default_is_the_highest() {
        assert_eq!(engine_for(Some(1)).unwrap().0, 1);
        assert_eq!(engine_for(Some(2)).unwrap().0, 1);
        assert_eq!(engine_for(Some(3)).unwrap().0, 3);
        assert_eq!(engine_for(Some(4)).unwrap().0, 4);
        assert_eq!(engine_for(Some(5)).unwrap().0, 5);
        assert_eq!(engine_for(Some(6)).unwrap().0, 6);
        assert_eq!(engine_for(Some(7)).unwrap().0, 7);
        assert_eq!(engine_for(None).unwrap().0, 7);
    }

    #[test]
    fn unbuilt_stages_say_so() {
        let last = BUILT.last().unwrap().stage;
        let err = engine_for(Some(last + 1)).err().unwrap();
        if last as usize == NAMES.len() {
            assert_eq!(
                err,
                format!(
                    "there is no stage {}: the course has stages 1 to 7",
                    last + 1
                )
            );
        } else {
            assert_eq!(
                err,
                format!(
                    "stage {} ({}) is not built yet: stages 1 to {last} are",
                    last + 1,
                    name(last + 1)
                )
            );
        }
    }

    #[test]
    fn names_follow_the_book() {
        assert_eq!(name(1), "interpreter");
        assert_eq!(name(7), "deopt");
        assert_eq!(name(0), "?");
        assert_eq!(name(8), "?");
    }
}
