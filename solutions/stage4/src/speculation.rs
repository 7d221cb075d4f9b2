//! The extension point of speculation (stage 7): what the optimizer may bet on, asked
//! by the speculative builder ([`mod@crate::ir::build`]) at each bytecode instruction
//! where a bet is possible. Stage 7 answers from the run's profile (feedback vectors,
//! stage 6's caches) and from what earlier deopts taught it; stage 4 alone never
//! speculates ([`NoSpeculation`]).
//!
//! A bet becomes a guard ([`crate::ir::Guard`]) with the frame state the builder holds
//! there: if the bet is lost at run time, the code deoptimizes to that state and the
//! interpreter goes on, so a wrong bet costs time, never a wrong answer.

use stage1::{FnId, Instr, Verified};

use crate::ir::Pc;

/// What the optimizer may bet on, instruction by instruction. `func` and `pc` name
/// a bytecode instruction of the program (of the function being compiled, or of one
/// inlined into it). Answers must not change during one compile. Shared with the
/// optimizer's worker thread, hence `Send + Sync`: an implementation is a snapshot.
pub trait Speculation: Send + Sync {
    /// The value the instruction at `pc` gives (`array_get`, `get_field`, `call`,
    /// `call_value`) is an integer: check it once there (a guard) so no use of it
    /// checks it again.
    fn int_result(&self, func: FnId, pc: Pc) -> bool;

    /// The arithmetic instruction at `pc` (`add`, `sub`, `mul`, `neg`) never
    /// overflows: its overflow check deoptimizes instead of raising.
    fn no_overflow(&self, func: FnId, pc: Pc) -> bool;

    /// The conditional jump at `pc` only ever went one way: `Some(true)` if it always
    /// jumped, `Some(false)` if it never did. The other way is pruned.
    fn branch(&self, func: FnId, pc: Pc) -> Option<bool>;

    /// The `get_field`/`set_field` at `pc` hits its cache (stage 6) on every run
    /// that matters: a miss deoptimizes instead of calling the runtime. A bet on a
    /// site whose cache is empty is a bet that it is not reached: reaching it
    /// deoptimizes.
    fn field_hit(&self, func: FnId, pc: Pc) -> bool;

    /// The `call_value` at `pc` always called this function (of the right arity):
    /// a guard on the callee, then a direct call (which may be inlined).
    fn call_target(&self, func: FnId, pc: Pc) -> Option<FnId>;

    /// Inline the direct call of `callee` at `pc` of `func`, `depth` calls deep
    /// already (0 for a call of the function being compiled).
    fn inline(&self, func: FnId, pc: Pc, callee: FnId, depth: u32) -> bool;

    /// Entered by on-stack replacement at the loop header `header` of `func`: each
    /// local that the code only reads as an array holds one there, so a guard at the
    /// entry checks it once (deoptimizing back to the header when it fails) and no
    /// access in the loop checks its tag again. No bet unless a speculation says so.
    fn entry_arrays(&self, func: FnId, header: Pc) -> bool {
        let _ = (func, header);
        false
    }
}

/// No bets at all: stage 4's own compiles, and stage 7's last resort for a function
/// that deoptimized too often.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSpeculation;

impl Speculation for NoSpeculation {
    fn int_result(&self, _: FnId, _: Pc) -> bool {
        false
    }

    fn no_overflow(&self, _: FnId, _: Pc) -> bool {
        false
    }

    fn branch(&self, _: FnId, _: Pc) -> Option<bool> {
        None
    }

    fn field_hit(&self, _: FnId, _: Pc) -> bool {
        false
    }

    fn call_target(&self, _: FnId, _: Pc) -> Option<FnId> {
        None
    }

    fn inline(&self, _: FnId, _: Pc, _: FnId, _: u32) -> bool {
        false
    }
}

/// A speculation that bets at random, the same way for the same seed and site (its
/// answers never change during a compile, as the trait asks): right and wrong bets,
/// calls inlined at random (recursion too, three deep at most). A stress tool, as
/// HotSpot's `-XX:+DeoptimizeALot` and V8's `--deopt-every-n-times` are: every frame
/// state gets built, and many guards fail, so a wrong frame state or a broken deopt
/// path shows as a wrong answer. The tests of stages 4 and 7 run programs with it.
pub struct RandomBets {
    seed: u64,
    /// Each function's code (to pick a call target of the right arity).
    code: Vec<Vec<Instr>>,
    arities: Vec<u32>,
    /// Bets on field sites too (`false` for code compiled without an object
    /// lowering, where a field guard would only be the runtime call).
    fields: bool,
}

impl RandomBets {
    /// Bets on `program`'s instructions, drawn from `seed`.
    pub fn new(program: &Verified, seed: u64) -> RandomBets {
        let prog = program.program();
        RandomBets {
            seed,
            code: prog.functions.iter().map(|f| f.code.clone()).collect(),
            arities: prog.functions.iter().map(|f| f.arity).collect(),
            fields: true,
        }
    }

    /// The same bets, with or without bets on field sites.
    pub fn with_fields(self, fields: bool) -> RandomBets {
        RandomBets { fields, ..self }
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
        self.fields && self.chance(func, pc, 4, 50)
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

    fn entry_arrays(&self, func: FnId, header: Pc) -> bool {
        self.chance(func, header, 1 << 40, 50)
    }
}

/// A speculation that bets where it is told to, and nowhere else: a test's script of
/// bets, each site by function and pc (the stage 4 and stage 7 suites build and run
/// code with it).
#[derive(Clone, Debug, Default)]
pub struct Scripted {
    /// Sites whose value is bet an integer ([`Speculation::int_result`]).
    pub ints: Vec<(FnId, Pc)>,
    /// Arithmetic bet not to overflow ([`Speculation::no_overflow`]).
    pub no_overflow: Vec<(FnId, Pc)>,
    /// Branches bet always to go one way: `true`, always jumped.
    pub branches: Vec<(FnId, Pc, bool)>,
    /// Field sites bet to hit ([`Speculation::field_hit`]).
    pub fields: Vec<(FnId, Pc)>,
    /// `call_value` sites bet to call one target.
    pub targets: Vec<(FnId, Pc, FnId)>,
    /// Calls inlined: function, pc, callee, and the deepest inlining depth at which
    /// this call is still inlined.
    pub inline: Vec<(FnId, Pc, FnId, u32)>,
}

impl Speculation for Scripted {
    fn int_result(&self, func: FnId, pc: Pc) -> bool {
        self.ints.contains(&(func, pc))
    }

    fn no_overflow(&self, func: FnId, pc: Pc) -> bool {
        self.no_overflow.contains(&(func, pc))
    }

    fn branch(&self, func: FnId, pc: Pc) -> Option<bool> {
        let found = self.branches.iter().find(|b| (b.0, b.1) == (func, pc));
        found.map(|b| b.2)
    }

    fn field_hit(&self, func: FnId, pc: Pc) -> bool {
        self.fields.contains(&(func, pc))
    }

    fn call_target(&self, func: FnId, pc: Pc) -> Option<FnId> {
        let found = self.targets.iter().find(|t| (t.0, t.1) == (func, pc));
        found.map(|t| t.2)
    }

    fn inline(&self, func: FnId, pc: Pc, callee: FnId, depth: u32) -> bool {
        let found = self
            .inline
            .iter()
            .find(|i| (i.0, i.1, i.2) == (func, pc, callee));
        found.is_some_and(|i| depth <= i.3)
    }
}
