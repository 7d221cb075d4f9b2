//! Type feedback, recorded and read: the template with which baseline code records
//! what it sees, and the optimizer's bets made from a snapshot of it.
//!
//! **Recording.** Every tier below the optimizer ORs flags into the run's feedback
//! vectors (`stage1::interp::feedback`: a byte per bytecode instruction, per
//! function, as V8's feedback vectors): the tiered interpreter as it runs, and
//! baseline code through [`emit_feedback`], the template stage 3's code generator
//! calls where a branch goes one way or the other and where a load or a call gives
//! its value (`TierOptions::feedback`). The vector never moves during a run, so the
//! template bakes each byte's address into the code and ORs into it in place:
//!
//! ```text
//!   jump_if_false L          mov r11, <feedback of f> + pc
//!                            jz  taken_stub  ------>  taken_stub: mov r11, ..; or byte [r11], TAKEN; jmp L
//!                            or  byte [r11], NOT_TAKEN   (the fall-through arm)
//!   array_get                ...the load, the element in rax...
//!                            mov r11, <feedback of f> + pc
//!                            mov edx, eax; and edx, 1; add edx, 1   ; INT = 1, OTHER = 2
//!                            or  byte [r11], dl
//! ```
//!
//! **Reading.** When a function is queued for the optimizer, [`FeedbackSpeculation`]
//! is made from a copy of the vectors (`Feedback::snapshot`), of stage 6's caches
//! ([`OptimizedCode`]) and of the bets the deopt policy dropped; the optimizer's
//! worker asks it, as stage 4's [`Speculation`], what to bet on. A flag never seen is
//! a bet; a flag seen is a fact: integers only where `INT` and never `OTHER`, a
//! branch pruned where only one way was ever taken, no overflow unless it happened.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use stage1::interp::feedback::{Snapshot, INT, NOT_TAKEN, OTHER, OVERFLOW, TAKEN};
use stage1::objects::{Site, SiteKind, Sites};
use stage1::value::INT_TAG_MASK;
use stage1::{FnId, Instr, Verified};
use stage2::{AluOp, Assembler, Imm32, Mem};
use stage3::codegen::{ACC, SPILL_TMP, TMP2};
use stage3::Observed;
use stage4::ir::Pc;
use stage4::objects::ObjectLowering;
use stage4::speculation::Speculation;
use stage6::optimized::OptimizedCode;

use crate::policy::Bet;

// The kind is computed from the tag bit: an integer's low bit is 0, every other
// value's 1, so `bit + 1` is `INT` or `OTHER`.
const _: () = assert!(INT_TAG_MASK == 1 && INT == 1 && OTHER == 2);

/// The feedback template (stage 3's `FeedbackCode`): ORs what `observed` says into
/// the feedback byte at `address` — a constant flag (a branch's arm), or the kind of
/// the value in `ACC` (`INT` for an integer, else `OTHER`), with no branch. Clobbers
/// `SPILL_TMP` (`r11`), `TMP2` (`rdx`) and the flags, nothing else.
pub fn emit_feedback(asm: &mut Assembler, address: u64, observed: Observed) {
    // exercise-begin: record-feedback load the byte's address into SPILL_TMP, then OR into the byte there the flag, or the kind of ACC's value (its tag bit plus one, made in TMP2)
    asm.mov_imm(SPILL_TMP, address as i64);
    match observed {
        Observed::Flag(flag) => asm.alu_mi8(AluOp::Or, Mem::base(SPILL_TMP), flag),
        Observed::KindOfAcc => {
            asm.mov(TMP2.r32(), ACC.r32());
            asm.and(TMP2.r32(), Imm32(INT_TAG_MASK as i32));
            asm.add(TMP2.r32(), Imm32(1));
            asm.alu_mr8(AluOp::Or, Mem::base(SPILL_TMP), TMP2.r8());
        }
    }
    // exercise-end
}

/// The instruction whose bet `bet`'s guard checked, as [`Speculation`] names it:
/// a guard on a value entering (`"not an integer"`, after `array_get`,
/// `get_field`, `call`, `call_value`) resumes after its instruction, every other
/// guard at it (see `stage4::ir::Guard`).
pub fn bet_instruction(bet: &Bet) -> (FnId, Pc) {
    let pc = match bet.reason {
        "not an integer" => bet.pc.saturating_sub(1),
        _ => bet.pc,
    };
    (bet.func, pc as Pc)
}

/// The largest callee the optimizer inlines, in bytecode instructions: the
/// kernels' small helpers (a getter, an `add`, a `fib` step) fit, a loop nest does
/// not. V8's TurboFan has the same kind of bound (`max_inlined_bytecode_size`, 460
/// bytes of its bytecode).
pub const INLINE_MAX_SIZE: usize = 60;
/// How deep inlined calls nest: a call inside code inlined twice is the last one
/// copied, so a recursion unrolls at most three times.
pub const INLINE_MAX_DEPTH: u32 = 3;
/// Bytecode instructions one compile may inline in all (V8's cumulative budget is
/// 920 bytes of bytecode): it bounds the code a compile makes, whatever the calls.
pub const INLINE_BUDGET: u32 = 400;

/// The ways out of loops in `code`: `(pc, jumped)` for each conditional jump at `pc`
/// whose successor that way (its target when `jumped`, else `pc + 1`) is outside a
/// loop the jump is in — a loop being the pcs from a `loop` instruction's target (its
/// header) to the `loop` itself.
///
/// The optimizer never bets that such a way is not taken. The profile of a loop that
/// was entered by on-stack replacement, or that is still in its first run when its
/// function is compiled, has never seen the loop end: its exit is a way not seen
/// yet, not one never taken. Betting on it costs a deopt when the loop ends (and,
/// on an inner loop, the time until the recompile), and gains nothing — worse, the
/// guard hides from the passes the range the loop's test gives its variable (the
/// `bounds` pass reads a branch's condition, not a guard's). HotSpot is as careful:
/// it prunes a branch by its counts, and a loop's exit has counted every trip.
pub fn loop_exits(code: &[Instr]) -> Vec<(Pc, bool)> {
    let loops: Vec<(usize, usize)> = code
        .iter()
        .enumerate()
        .filter_map(|(end, instr)| match instr {
            Instr::Loop(header) => Some((*header as usize, end)),
            _ => None,
        })
        .collect();
    let mut exits = Vec::new();
    for (pc, instr) in code.iter().enumerate() {
        let (Instr::JumpIfFalse(target) | Instr::JumpIfTrue(target)) = *instr else {
            continue;
        };
        for (jumped, to) in [(true, target as usize), (false, pc + 1)] {
            let leaves = loops.iter().any(|&(header, end)| {
                (header..=end).contains(&pc) && !(header..=end).contains(&to)
            });
            if leaves {
                exits.push((pc as Pc, jumped));
            }
        }
    }
    exits
}

/// What the bets read of a program's code, the same for every compile of a run:
/// each function's bytecode length (the inlining bound), its direct calls, and the
/// ways out of loops.
#[derive(Debug)]
pub struct ProgramFacts {
    /// Each function's bytecode length.
    sizes: Vec<usize>,
    /// The functions each function calls directly (`call`), each once.
    calls: Vec<Vec<FnId>>,
    /// `(function, pc of a conditional jump, jumped)` for each way that leaves a
    /// loop the jump is in (see [`loop_exits`]). Never a bet.
    exits: HashSet<(FnId, Pc, bool)>,
}

impl ProgramFacts {
    /// The facts of `verified`'s program.
    pub fn of(verified: &Verified) -> ProgramFacts {
        let program = verified.program();
        let calls = program
            .functions
            .iter()
            .map(|f| {
                let mut callees: Vec<FnId> = f
                    .code
                    .iter()
                    .filter_map(|instr| match *instr {
                        Instr::Call { func, .. } => Some(func),
                        _ => None,
                    })
                    .collect();
                callees.sort_unstable();
                callees.dedup();
                callees
            })
            .collect();
        ProgramFacts {
            sizes: program.functions.iter().map(|f| f.code.len()).collect(),
            calls,
            exits: (0..program.functions.len() as FnId)
                .flat_map(|func| {
                    let code = &program.functions[func as usize].code;
                    loop_exits(code)
                        .into_iter()
                        .map(move |(pc, jumped)| (func, pc, jumped))
                })
                .collect(),
        }
    }

    /// The functions whose code a compile of `func` may hold: `func`, and each
    /// function small enough to inline that a call of one of them reaches, directly
    /// or through a `call_value` site whose cache holds it (`targets`), at most
    /// [`INLINE_MAX_DEPTH`] calls deep — the functions whose sites' caches the
    /// compile may read (every bet [`FeedbackSpeculation::inline`] can say yes to is
    /// on such a path).
    pub fn inlinable_from(
        &self,
        func: FnId,
        sites: &Sites,
        targets: impl Fn(Site) -> Vec<FnId>,
    ) -> Vec<FnId> {
        let mut seen: HashSet<FnId> = HashSet::from([func]);
        let mut order = vec![func];
        let mut level = vec![func];
        for _ in 0..INLINE_MAX_DEPTH {
            let mut next = Vec::new();
            for &f in &level {
                let direct = self.calls.get(f as usize).into_iter().flatten().copied();
                let through_values = sites
                    .in_function(f)
                    .filter(|(_, info)| info.kind == SiteKind::CallValue)
                    .flat_map(|(site, _)| targets(site));
                for g in direct.chain(through_values) {
                    let small = self
                        .sizes
                        .get(g as usize)
                        .is_some_and(|&n| n <= INLINE_MAX_SIZE);
                    if small && seen.insert(g) {
                        order.push(g);
                        next.push(g);
                    }
                }
            }
            level = next;
        }
        order
    }
}

/// What stage 6's caches said of one site when the snapshot was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SiteBet {
    /// A field site whose cache is monomorphic or polymorphic.
    FieldHit,
    /// A `call_value` site whose cache holds this one function, of the call's arity.
    Target(FnId),
}

/// The optimizer's bets for one compile, from a snapshot of the run's profile: the
/// feedback vectors, the caches' sites and the bets the deopt policy dropped (see the
/// module's documentation). A snapshot: the running program's later feedback does not
/// change it. The inlining budget is spent as the builder asks ([`Speculation::inline`]
/// answers yes while it lasts), so one is made per compile.
#[derive(Debug)]
pub struct FeedbackSpeculation {
    /// Each function's feedback vector, a byte per pc.
    feedback: Snapshot,
    /// The sites whose caches allow a bet, by function and pc.
    sites: HashMap<(FnId, usize), SiteBet>,
    /// The field sites that never ran (their caches uninitialized), by function
    /// and pc.
    never_run: HashSet<(FnId, usize)>,
    /// Bets that failed too often: no bet at these instructions.
    dropped: HashSet<(FnId, Pc)>,
    /// What the bets read of the program's code (shared by a run's compiles).
    program: Arc<ProgramFacts>,
    /// Bytecode instructions left to inline in this compile.
    budget: AtomicU32,
    /// For a compile entered by OSR: its function and the pcs of the loop it enters
    /// (header to `loop`). No branch of the function outside them is a bet (see
    /// [`FeedbackSpeculation::entered_at`]).
    entered: Option<(FnId, std::ops::RangeInclusive<Pc>)>,
}

impl FeedbackSpeculation {
    /// The bets for a compile of `verified`'s program from `feedback` (a
    /// `Feedback::snapshot` of the run's counters), `caches` (stage 6's snapshot of
    /// the caches of every site the compile may meet, inlined callees' included;
    /// `None`: no cache bets) and the `dropped` bets, `(function, pc)` of each
    /// instruction the deopt policy no longer bets on.
    pub fn new(
        verified: &Verified,
        feedback: Snapshot,
        caches: Option<&OptimizedCode>,
        dropped: impl IntoIterator<Item = (FnId, Pc)>,
    ) -> FeedbackSpeculation {
        let facts = Arc::new(ProgramFacts::of(verified));
        FeedbackSpeculation::with_facts(verified, facts, feedback, caches, dropped)
    }

    /// [`FeedbackSpeculation::new`] with the [`ProgramFacts`] of `verified` made
    /// already: a run makes them once for all its compiles, as reading every
    /// function's code at each compile would make a program of thousands of
    /// functions cost time in the square of their number.
    pub fn with_facts(
        verified: &Verified,
        facts: Arc<ProgramFacts>,
        feedback: Snapshot,
        caches: Option<&OptimizedCode>,
        dropped: impl IntoIterator<Item = (FnId, Pc)>,
    ) -> FeedbackSpeculation {
        let program = verified.program();
        let mut sites = HashMap::new();
        let mut never_run = HashSet::new();
        if let Some(caches) = caches {
            for site in caches.never_run_sites() {
                let info = verified.sites().info(site);
                never_run.insert((info.func, info.pc));
            }
            // The sites the snapshot knows (those of the functions the compile may
            // inline), not every site of the program at every compile.
            for site in caches.known_sites() {
                let info = verified.sites().info(site);
                let bet = match info.kind {
                    SiteKind::GetField(_) | SiteKind::SetField(_) => {
                        (!caches.field_cases(site).is_empty()).then_some(SiteBet::FieldHit)
                    }
                    SiteKind::CallValue => {
                        let code = &program.functions[info.func as usize].code;
                        let Instr::CallValue(argc) = code[info.pc] else {
                            unreachable!("a call_value site is a call_value")
                        };
                        match caches.call_targets(site)[..] {
                            [target] if program.functions[target as usize].arity == argc => {
                                Some(SiteBet::Target(target))
                            }
                            _ => None,
                        }
                    }
                };
                if let Some(bet) = bet {
                    sites.insert((info.func, info.pc), bet);
                }
            }
        }
        FeedbackSpeculation {
            feedback,
            sites,
            never_run,
            dropped: dropped.into_iter().collect(),
            program: facts,
            budget: AtomicU32::new(INLINE_BUDGET),
            entered: None,
        }
    }

    /// These bets for a compile of `func` entered by on-stack replacement at the loop
    /// header `header`: none on a branch of `func` outside that loop. That code ran as
    /// often as the loops around the entered one went round — in a loop nest entered
    /// at its inner loop (the sieve's, after the inner loop of the first prime or
    /// two), a few times — too few to call a way never taken: HotSpot prunes a branch
    /// only once its counts are mature. And it is cold beside the loop, so a bet there
    /// gains little, while a lost one costs a deopt, the time in the lower tiers and a
    /// recompile.
    pub fn entered_at(mut self, verified: &Verified, func: FnId, header: usize) -> Self {
        let code = &verified.program().functions[func as usize].code;
        let end = code
            .iter()
            .enumerate()
            .filter(|(_, instr)| matches!(instr, Instr::Loop(h) if *h as usize == header))
            .map(|(pc, _)| pc)
            .max();
        if let Some(end) = end {
            self.entered = Some((func, header as Pc..=end as Pc));
        }
        self
    }

    /// Whether `pc` of `func` is outside the loop this compile enters by OSR: code
    /// the frame may yet run in this code, but whose profile is too young to go by
    /// (none outside for a compile of a whole function).
    fn outside_entered(&self, func: FnId, pc: Pc) -> bool {
        matches!(&self.entered, Some((entered, pcs)) if *entered == func && !pcs.contains(&pc))
    }

    /// The flags seen at `pc` of `func` (none for an instruction never run).
    fn flags(&self, func: FnId, pc: Pc) -> u8 {
        self.feedback.get(func, pc as usize)
    }

    /// Whether the policy dropped the bet at `pc` of `func`.
    fn dropped(&self, func: FnId, pc: Pc) -> bool {
        self.dropped.contains(&(func, pc))
    }

    /// The cache bet at `pc` of `func`, unless dropped.
    fn site(&self, func: FnId, pc: Pc) -> Option<SiteBet> {
        if self.dropped(func, pc) {
            return None;
        }
        self.sites.get(&(func, pc as usize)).copied()
    }
}

impl Speculation for FeedbackSpeculation {
    fn int_result(&self, func: FnId, pc: Pc) -> bool {
        self.flags(func, pc) & (INT | OTHER) == INT && !self.dropped(func, pc)
    }

    fn no_overflow(&self, func: FnId, pc: Pc) -> bool {
        self.flags(func, pc) & OVERFLOW == 0 && !self.dropped(func, pc)
    }

    fn branch(&self, func: FnId, pc: Pc) -> Option<bool> {
        if self.dropped(func, pc) {
            return None;
        }
        if self.outside_entered(func, pc) {
            // Outside the loop an OSR compile enters: too little seen there.
            return None;
        }
        let jumped = match self.flags(func, pc) & (TAKEN | NOT_TAKEN) {
            TAKEN => true,
            NOT_TAKEN => false,
            _ => return None,
        };
        // A loop's exit not seen yet is a loop still running, not a way never taken.
        (!self.program.exits.contains(&(func, pc, !jumped))).then_some(jumped)
    }

    fn field_hit(&self, func: FnId, pc: Pc) -> bool {
        // A site whose cache hit; and, outside the loop an OSR compile enters, one
        // that never ran: its cache is empty, so reaching it deopts, and the
        // interpreter goes on and profiles it (V8's soft deopt for "insufficient type
        // feedback").
        self.site(func, pc) == Some(SiteBet::FieldHit)
            || (self.outside_entered(func, pc)
                && self.never_run.contains(&(func, pc as usize))
                && !self.dropped(func, pc))
    }

    fn call_target(&self, func: FnId, pc: Pc) -> Option<FnId> {
        match self.site(func, pc)? {
            SiteBet::Target(target) => Some(target),
            SiteBet::FieldHit => None,
        }
    }

    fn inline(&self, func: FnId, pc: Pc, callee: FnId, depth: u32) -> bool {
        let size = self
            .program
            .sizes
            .get(callee as usize)
            .copied()
            .unwrap_or(usize::MAX);
        if self.dropped(func, pc) || depth >= INLINE_MAX_DEPTH || size > INLINE_MAX_SIZE {
            return false;
        }
        if self.outside_entered(func, pc) && self.flags(func, pc) == 0 {
            // A call after the entered loop that never returned: its callee may not
            // have run either, and inlined here it would run without a profile
            // for as long as this frame does. Called, it tiers up on its own.
            return false;
        }
        // Spend the budget (a compile is one thread, the atomic only makes the
        // snapshot `Sync`).
        let size = size as u32;
        self.budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(size)
            })
            .is_ok()
    }

    fn entry_arrays(&self, func: FnId, header: Pc) -> bool {
        // The guards' bet, named by the header their frame resumes at.
        !self.dropped(func, header)
    }
}

#[cfg(test)]
mod tests;
