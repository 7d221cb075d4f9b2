//! Baseline code for a tiered run (stage 5): one function at a time, each in its own
//! code block, calling through the function table; countdown counters in its
//! prologue and at its back edges; an OSR entry at each loop header; and the code a
//! tiered run shares (the entry trampoline and one interpreter stub per function).
//!
//! The whole-program compile ([`generate`](super::generate)) uses none of this: its
//! calls are direct and it counts nothing, so stage 3 alone keeps its speed.
//!
//! **Counters.** With [`TierOptions::counters`], the prologue ends with
//! `sub qword [call counter], 1; jz` and every `loop` instruction, before its jump,
//! with `sub qword [back-edge counter], 1; jz` ([`emit_countdown`]), the counters
//! being stage 1's [`Counters`] (the interpreter decrements the same ones). The step
//! that reaches zero goes to an out-of-line stub:
//! - for a call: `rt_hot_call(ctx, func)`, then back to the body (this activation
//!   stays in this code; the next call goes through the maybe updated table);
//! - for a back edge: `rt_hot_loop(ctx, func, loop_pc, state)` with `state = rbp - 8`
//!   (the frame-state layout below). 0: take the back edge as usual. Otherwise an OSR
//!   entry's address, which the stub calls with `rdi = state`, then returns its
//!   result at once: an `ERROR_WORD` as it is (the OSR'd frame recorded itself in the
//!   trace), and without giving a frame back to `FRAMES_LEFT` (the OSR entry of a
//!   higher tier takes none, and its `return` gives one back).
//!
//! **Frame state.** `state` points at local 0; local `n` is at `[state - 8n]`,
//! operand `j` (0 = the bottom) at `[state - 8(L + j)]`, `L` being the function's
//! locals count: exactly a baseline frame ([`frame`](super::frame)) at
//! `state = rbp - 8`, where at a loop header every operand is in its slot.
//!
//! **OSR entries.** For each loop header (the target of a `loop`), an out-of-line
//! entry with the compiled-function ABI, `rdi` being a frame state: it builds the
//! frame as the prologue does, takes one frame from `FRAMES_LEFT` (the overflow
//! check included; no call counted in `CALLS` or in the call counter), copies the
//! locals and the header's operands from the state into its slots, and jumps to the
//! header. The interpreter's OSR (stage 5) calls it through the trampoline, with the
//! state as the arguments pointer and the frames left as for a call from that depth.
//! (Baseline code may be handed one by `rt_hot_loop` too, as the tests do: that works,
//! but the frame is then taken twice and given back once, so `FRAMES_LEFT` stays one
//! lower until native code returns to the trampoline. The entries meant for baseline
//! code are a higher tier's, which take no frame.)
//!
//! **Object fast paths.** With [`TierOptions::objects`], the object instructions try
//! the [`ObjectCode`]'s inline fast path before their runtime call (stage 6's inline
//! caches; see [`objects`](super::objects)).

use std::time::Instant;

use stage1::interp::tiering::Counters;
use stage1::{FnId, Instr, Program, Value, Verified};
use stage2::{Assembler, CodeBlock, Cond, Imm32, Label, Mem, Reg};

use super::feedback::{FeedbackCode, TakenArm};
use super::frame::ARGS;
use super::linkage::Linkage;
use super::objects::ObjectCode;
use super::{
    gen_interpreted_stub, gen_one, gen_trampoline, CompileError, FnGen, FunctionCode, Scratch,
    Setup, ACC, BYTES_PER_INSTRUCTION, CTX, FRAME, FRAMES_LEFT, SPILL_TMP, TMP,
};
use crate::context::{EntryFn, FnEntry};
use crate::runtime::{rt_hot_call, rt_hot_loop};
use stage1::ErrorKind;

/// How [`compile_function`] compiles.
#[derive(Clone, Copy, Default)]
pub struct TierOptions<'a> {
    /// The run's counters (of the program being compiled): the code decrements its
    /// function's call counter and its loops' back-edge counters, and calls the
    /// tiering hooks when one reaches zero. `None`: the code counts nothing.
    pub counters: Option<&'a Counters>,
    /// The template of a counter's countdown; `None`: [`emit_countdown`]. Stage 5
    /// passes its own, the learner's exercise of counting in a baseline template
    /// (an extension point, so that stage 5's exercise needs no copy of this
    /// generator).
    pub countdown: Option<Countdown>,
    /// The template that records type feedback into the counters' feedback vectors
    /// (stage 7's, see [`feedback`](super::feedback)); `None`: the code records
    /// nothing, exactly stage 3's. Needs `counters` (the vectors are theirs).
    pub feedback: Option<FeedbackCode>,
    /// Record each instruction's code range ([`FunctionCode::instrs`]), for a
    /// listing.
    pub ranges: bool,
    /// The fast paths of the object instructions (stage 6's inline caches); `None`:
    /// every object instruction is a runtime call, as in stage 3.
    pub objects: Option<&'a dyn ObjectCode>,
}

impl std::fmt::Debug for TierOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TierOptions")
            .field("counters", &self.counters)
            .field("countdown", &self.countdown)
            .field("feedback", &self.feedback)
            .field("ranges", &self.ranges)
            .field("objects", &self.objects.map(|_| "ObjectCode"))
            .finish()
    }
}

/// A countdown template: emits the decrement of the counter at the address, and a
/// jump to the label on the step that reaches zero (see [`emit_countdown`]).
pub type Countdown = fn(&mut Assembler, u64, Label);

/// One function compiled alone, for a tiered run: its code block (read+execute) and
/// where its entries are in it.
pub struct CompiledFunction {
    /// The function's code, nothing else.
    pub code: CodeBlock,
    /// Offset of the normal entry (the compiled-function ABI: arguments at `rdi`).
    pub entry: usize,
    /// The OSR entries: for each loop header (the target of a `loop`), by its pc,
    /// the offset of the entry that takes a frame state in `rdi`; sorted by pc.
    pub osr_entries: Vec<(usize, usize)>,
    /// Offset of the fast entry, where other optimized code calls it with the
    /// arguments in registers (stage 4's optimized code of an ordinary entry; `None`
    /// for baseline code and OSR variants).
    pub fast_entry: Option<usize>,
    /// Where the function's code went, as in a whole program (offsets in `code`).
    pub function: FunctionCode,
    /// Data the code refers to by address (stage 7's deoptimization tables): it
    /// lives as long as the code, wherever the code is kept.
    pub tables: Option<Box<dyn std::any::Any + Send>>,
}

impl CompiledFunction {
    /// The absolute address of the normal entry: what the function table holds.
    pub fn entry_address(&self) -> u64 {
        self.code.addr() + self.entry as u64
    }

    /// The absolute address of the OSR entry at loop header `pc`, if there is one.
    pub fn osr_address(&self, pc: usize) -> Option<u64> {
        self.osr_entries
            .iter()
            .find(|&&(p, _)| p == pc)
            .map(|&(_, offset)| self.code.addr() + offset as u64)
    }

    /// The absolute address of the fast entry, if there is one: what stage 5's
    /// compiled-entry table holds once the function is optimized.
    pub fn fast_address(&self) -> Option<u64> {
        self.fast_entry
            .map(|offset| self.code.addr() + offset as u64)
    }
}

/// Compiles function `func` of `verified` alone into its own code block (written,
/// then mapped read+execute), its calls going through the function table
/// ([`Linkage::Table`]), with an OSR entry at each loop header, and counting as
/// `options` says. The same templates, error stubs and exit path as a whole program.
pub fn compile_function(
    verified: &Verified,
    func: FnId,
    options: &TierOptions,
) -> Result<CompiledFunction, CompileError> {
    let start = Instant::now();
    let program = verified.program();
    let f = &program.functions[func as usize];
    let mut asm = Assembler::new();
    let len = f.code.len();
    asm.reserve(len * BYTES_PER_INSTRUCTION, len + 2, len * 2);
    let entry = asm.new_label();
    let setup = Setup {
        entry,
        linkage: Linkage::Table,
        counters: options.counters,
        countdown: options.countdown.unwrap_or(emit_countdown),
        feedback: options.feedback,
        osr: true,
        // Under the test harness every function records its ranges, for describing
        // a crash.
        ranges: options.ranges || stage2::code_map::enabled(),
        objects: options.objects,
    };
    let mut scratch = Scratch::with_capacity(len);
    let (mut function, osr) = gen_one(&mut asm, verified, func, &setup, &mut scratch);
    let code = asm.finish().map_err(|e| CompileError {
        function: f.name.clone(),
        reason: e.to_string(),
    })?;
    let offset = |label| code.label_offset(label).expect("every entry is bound");
    let entry = offset(entry);
    let osr_entries = osr.into_iter().map(|(pc, l)| (pc, offset(l))).collect();
    function.time = start.elapsed();
    Ok(CompiledFunction {
        code,
        entry,
        osr_entries,
        fast_entry: None,
        function,
        tables: None,
    })
}

/// The code every function of a tiered run shares, made once per run: the entry
/// trampoline and, for each function, the interpreter stub that is its table entry
/// until it is compiled (it runs the function through
/// [`rt_call_interpreted`](crate::runtime::rt_call_interpreted), which a tiered run's
/// [`TierHooks`](crate::runtime::TierHooks) take over).
pub struct SharedCode {
    /// The trampoline and the stubs.
    pub code: CodeBlock,
    /// Offset of the trampoline.
    trampoline: usize,
    /// Offset of each function's interpreter stub.
    stubs: Vec<usize>,
}

impl SharedCode {
    /// The trampoline and one interpreter stub per function of `program`.
    pub fn new(program: &Program) -> Result<SharedCode, CompileError> {
        SharedCode::for_functions(program.functions.len())
    }

    /// The trampoline and interpreter stubs for functions `0..count`: the stubs
    /// depend on nothing else, so one block serves every program with at most
    /// `count` functions (stage 5 makes one per process).
    pub fn for_functions(count: usize) -> Result<SharedCode, CompileError> {
        let mut asm = Assembler::new();
        let trampoline = asm.new_label();
        gen_trampoline(&mut asm, trampoline);
        let labels: Vec<Label> = (0..count)
            .map(|i| {
                let label = asm.new_label();
                asm.bind(label);
                gen_interpreted_stub(&mut asm, i as FnId);
                label
            })
            .collect();
        let code = asm.finish().map_err(|e| CompileError {
            function: "<program>".into(),
            reason: e.to_string(),
        })?;
        let offset = |label| code.label_offset(label).expect("every stub is bound");
        Ok(SharedCode {
            trampoline: offset(trampoline),
            stubs: labels.into_iter().map(offset).collect(),
            code,
        })
    }

    /// The entry trampoline (see `gen_trampoline`): how Rust enters native code,
    /// for `main`, for the interpreter's calls out, and for OSR entries (the state
    /// passed as the arguments pointer).
    pub fn entry(&self) -> EntryFn {
        // SAFETY: the trampoline was generated by `gen_trampoline` with the signature
        // of `EntryFn`; it keeps the callee-saved registers and the stack alignment.
        // What it calls is the caller's to vouch for (code of this run, with its
        // context), as with every `EntryFn`. `self.code` stays mapped while `self`
        // lives: the caller keeps it for the run.
        unsafe { self.code.fn_at(self.trampoline) }
    }

    /// The absolute address of `func`'s interpreter stub.
    pub fn stub_address(&self, func: FnId) -> u64 {
        self.code.addr() + self.stubs[func as usize] as u64
    }

    /// A tiered run's first function table: every function's interpreter stub.
    pub fn initial_table(&self, program: &Program) -> Vec<FnEntry> {
        program
            .functions
            .iter()
            .enumerate()
            .map(|(i, f)| FnEntry {
                code: self.stub_address(i as FnId),
                arity: u64::from(f.arity),
            })
            .collect()
    }
}

/// A frame state in the OSR layout (see the module's documentation), made from an
/// interpreted frame's values: what the interpreter's OSR passes to a baseline OSR
/// entry through the trampoline (as its arguments pointer, [`FrameState::as_ptr`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameState {
    /// The operands top first, then the locals from the last to local 0: local 0 is
    /// the last word, and the others lie below it.
    words: Vec<u64>,
}

impl FrameState {
    /// The state of a frame with these locals (all of the function's, parameters
    /// first) and operands (bottom first).
    pub fn new(locals: &[Value], operands: &[Value]) -> FrameState {
        let words = operands
            .iter()
            .rev()
            .chain(locals.iter().rev())
            .map(|v| v.bits())
            .collect();
        FrameState { words }
    }

    /// The address of local 0: local `n` is at `as_ptr() - 8n` (in bytes), operand
    /// `j` at `as_ptr() - 8(L + j)`. Valid while `self` lives and is not moved from.
    pub fn as_ptr(&self) -> *const u64 {
        let last = self.words.len().saturating_sub(1);
        self.words.as_ptr().wrapping_add(last)
    }
}

/// The countdown of a tiering counter: `sub qword [counter], 1` with the counter's
/// address in `SPILL_TMP`, and `jz hot` on the step that reaches zero. Clobbers
/// `SPILL_TMP` and the flags, nothing else: the value stack must hold nothing there.
pub fn emit_countdown(asm: &mut Assembler, counter: u64, hot: Label) {
    asm.mov_imm(SPILL_TMP, counter as i64);
    asm.sub_mi(Mem::base(SPILL_TMP), Imm32(1));
    asm.jcc(Cond::E, hot);
}

/// A back edge's countdown stub, made after the body.
#[derive(Clone, Copy, Debug)]
struct HotLoop {
    /// Where the countdown jumps on reaching zero.
    label: Label,
    /// The pc of the `loop` instruction.
    pc: usize,
    /// Its target, the loop header.
    header: u32,
}

/// What a function of a tiered run adds to its code while it is generated.
#[derive(Debug, Default)]
pub(crate) struct FnTiering<'a> {
    /// The counters to decrement, if any.
    pub(super) counters: Option<&'a Counters>,
    /// The template of their countdowns.
    countdown: Option<Countdown>,
    /// The template that records feedback, if the code records it.
    pub(super) feedback: Option<FeedbackCode>,
    /// The taken arms' recording stubs (see [`feedback`](super::feedback)).
    pub(super) taken_arms: Vec<TakenArm>,
    /// Whether to make OSR entries.
    osr: bool,
    /// The call countdown's stub and where it goes back to.
    hot_call: Option<(Label, Label)>,
    /// The back-edge countdowns' stubs.
    hot_loops: Vec<HotLoop>,
    /// The OSR entries made, by loop header pc.
    osr_entries: Vec<(usize, Label)>,
}

impl<'a> FnTiering<'a> {
    /// Nothing to add (the whole-program compile) unless `counters` or `osr`.
    pub(crate) fn new(
        counters: Option<&'a Counters>,
        countdown: Countdown,
        feedback: Option<FeedbackCode>,
        osr: bool,
    ) -> FnTiering<'a> {
        FnTiering {
            counters,
            countdown: Some(countdown),
            feedback,
            osr,
            ..FnTiering::default()
        }
    }

    /// The OSR entries' labels, by loop header pc (sorted).
    pub(crate) fn osr_labels(&mut self) -> Vec<(usize, Label)> {
        std::mem::take(&mut self.osr_entries)
    }
}

impl FnGen<'_> {
    /// After the prologue: the call counter's countdown, when counting.
    pub(super) fn gen_call_countdown(&mut self) {
        let Some(counters) = self.tiering.counters else {
            return;
        };
        let hot = self.asm.new_label();
        let countdown = self.tiering.countdown.unwrap_or(emit_countdown);
        countdown(self.asm, counters.call(self.func).as_ptr() as u64, hot);
        let back = self.asm.new_label();
        self.asm.bind(back);
        self.tiering.hot_call = Some((hot, back));
    }

    /// `loop t`: a jump back, after the back-edge counter's countdown when counting.
    pub(super) fn gen_loop(&mut self, target: u32) {
        if let Some(counters) = self.tiering.counters {
            // The stub may leave for an OSR entry, which reads the frame's slots.
            self.spill_all();
            let label = self.asm.new_label();
            let counter = counters.back_edge(self.func, self.pc).as_ptr() as u64;
            let countdown = self.tiering.countdown.unwrap_or(emit_countdown);
            countdown(self.asm, counter, label);
            self.tiering.hot_loops.push(HotLoop {
                label,
                pc: self.pc,
                header: target,
            });
        }
        self.gen_jump(target);
    }

    /// After the body, before the error stubs (an OSR entry may add one): the
    /// countdowns' stubs and the OSR entries. `depths`: the verifier's.
    pub(super) fn gen_tiering_stubs(&mut self, depths: &[u32]) {
        let state = self.frame.local(0);
        if let Some((hot, back)) = self.tiering.hot_call {
            self.asm.bind(hot);
            self.asm.mov(Reg::RDI, CTX);
            self.asm.mov_imm(Reg::RSI, i64::from(self.func));
            self.asm.call_abs(rt_hot_call as *const () as u64);
            self.asm.jmp(back);
        }
        let hot_loops = std::mem::take(&mut self.tiering.hot_loops);
        for &HotLoop { label, pc, header } in &hot_loops {
            self.asm.bind(label);
            self.asm.mov(Reg::RDI, CTX);
            self.asm.mov_imm(Reg::RSI, i64::from(self.func));
            self.asm.mov_imm(Reg::RDX, pc as i64);
            self.asm.lea(Reg::RCX, state);
            self.asm.call_abs(rt_hot_loop as *const () as u64);
            self.asm.test(ACC, ACC);
            self.asm.jcc(Cond::E, self.label_of(header));
            // The rest of this frame runs in the OSR entry's code; its result (or the
            // error word, its frame already traced) is this frame's. It gives the
            // frame back to FRAMES_LEFT when it returns: this frame must not.
            self.asm.lea(ARGS, state);
            self.asm.call_reg(ACC);
            self.asm.mov(Reg::RSP, FRAME);
            self.asm.pop(FRAME);
            self.asm.ret();
        }
        self.tiering.hot_loops = hot_loops;
        if self.tiering.osr {
            let f = &self.program.functions[self.func as usize];
            let mut headers: Vec<u32> = f
                .code
                .iter()
                .filter_map(|instr| match instr {
                    Instr::Loop(t) => Some(*t),
                    _ => None,
                })
                .collect();
            headers.sort_unstable();
            headers.dedup();
            for header in headers {
                let label = self.asm.new_label();
                self.asm.bind(label);
                self.gen_osr_entry(header, depths[header as usize]);
                self.tiering.osr_entries.push((header as usize, label));
            }
        }
    }

    /// The OSR entry of loop header `header`, where the operand stack is `depth`
    /// deep: the frame as the prologue makes it (one frame taken, no call counted),
    /// the locals and operands copied from the state at `rdi`, then the header.
    fn gen_osr_entry(&mut self, header: u32, depth: u32) {
        self.asm.push(FRAME);
        self.asm.mov(FRAME, Reg::RSP);
        let size = self.frame.size();
        if size > 0 {
            self.asm.sub(Reg::RSP, Imm32(size));
        }
        let overflow = self.frameless_exit(ErrorKind::StackOverflow);
        self.asm.sub(FRAMES_LEFT, Imm32(1));
        self.asm.jcc(Cond::B, overflow);
        let locals = self.frame.locals;
        for n in 0..locals {
            self.asm.mov(TMP, Mem::base_disp(ARGS, -8 * n as i32));
            self.asm.mov_mr(self.frame.local(n), TMP);
        }
        for j in 0..depth {
            self.asm
                .mov(TMP, Mem::base_disp(ARGS, -8 * (locals + j) as i32));
            self.asm.mov_mr(self.frame.operand(j), TMP);
        }
        self.asm.jmp(self.label_of(header));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Local `n` at `state - 8n`, operand `j` at `state - 8(L + j)`.
    #[test]
    fn a_frame_state_has_the_osr_layout() {
        let locals = [Value::int(10), Value::int(11), Value::int(12)];
        let operands = [Value::int(20), Value::int(21)];
        let state = FrameState::new(&locals, &operands);
        // SAFETY: the state holds 5 words, the last at `as_ptr()`.
        let word = |k: usize| unsafe { *state.as_ptr().sub(k) };
        let read: Vec<u64> = (0..5).map(word).collect();
        let expected: Vec<u64> = locals.iter().chain(&operands).map(|v| v.bits()).collect();
        assert_eq!(read, expected);
        // No locals, no operands: a pointer nothing reads.
        assert!(!FrameState::new(&[], &[]).as_ptr().is_null());
    }
}
