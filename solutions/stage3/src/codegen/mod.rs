//! The code generator: one linear pass over each function's bytecode, one
//! `gen_<instruction>` template per instruction, no IR (as V8's Sparkplug does).
//!
//! Every function of the program goes into one [`Assembler`], each under its own
//! label, so that direct calls are `call label`. Every operand has a fixed slot in the
//! native frame ([`frame`]), but the code generator keeps a value stack ([`stack`])
//! that knows where each operand is right now (its slot, a constant, a local, or
//! `ACC`), so most operands never go through their slot. A compare followed by a
//! conditional jump becomes one `cmp; jcc`. Checks jump to out-of-line stubs at the
//! end of the function (one per failing instruction and error kind), which all leave
//! through the function's one exit path (`calls::gen_raise`).
//!
//! A tiered run (stage 5) compiles one function at a time instead, with the same
//! per-function generator (`gen_one`) and a few additions: see [`tiering`].

mod arith;
mod calls;
mod compare;
pub mod feedback;
pub mod frame;
mod heap;
mod jumps;
pub mod linkage;
pub mod objects;
pub mod stack;
pub mod tiering;

use std::ops::Range;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use stage1::interp::superinstr::{compare_and_branch, Cmp};
use stage1::interp::tiering::Counters;
use stage1::objects::Sites;
use stage1::{ErrorKind, FnId, Function, Instr, Program, Verified};
use stage2::{Assembler, Cond, Imm32, Label, Mem, Reg};

use crate::context::CALLS_OFFSET;
use stage1::value::{ERROR_WORD, INT_SHIFT};

use crate::runtime::{error_code, KIND_RECORDED};
use frame::Frame;
use linkage::Linkage;
use objects::ObjectCode;
use stack::Operand;

// Templates retag an untagged integer (and make 0 or 1) with `add r, r`, a shift
// left by one: the encoding must keep integers shifted by exactly one bit.
const _: () = assert!(INT_SHIFT == 1, "the templates retag with `add r, r`");

/// The pinned register holding the VM context for the whole run (callee-saved in
/// System V, so Rust helpers keep it for us).
pub const CTX: Reg = Reg::R12;
/// The frame pointer: every local and operand slot is at a fixed offset from it.
pub const FRAME: Reg = Reg::RBP;
/// The accumulator: templates compute their result here.
pub const ACC: Reg = Reg::RAX;
/// First scratch register (the right operand of binary templates).
pub const TMP: Reg = Reg::RCX;
/// Second scratch register (also `idiv`'s remainder).
pub const TMP2: Reg = Reg::RDX;
/// The scratch register of spills (never holds an operand; `call_abs` clobbers it).
pub const SPILL_TMP: Reg = stage2::CALL_SCRATCH;
/// Pinned: how many more frames may start before `stack overflow` (callee-saved, so
/// Rust helpers keep it; a register makes the prologue's check one `sub; jb`).
pub const FRAMES_LEFT: Reg = Reg::RBX;
/// Pinned: calls made so far, for `Stats::calls` (the trampoline stores it at the end).
pub const CALLS: Reg = Reg::R13;

/// Where one function's code went, for the engine's statistics and the listing.
#[derive(Clone, Debug)]
pub struct FunctionCode {
    /// The function's entry label.
    pub entry: Label,
    /// The whole function: prologue, body, slow paths.
    pub range: Range<usize>,
    /// The prologue.
    pub prologue: Range<usize>,
    /// The code of each bytecode instruction (empty for one with no code of its own:
    /// `const`, `load_local`, a jump fused into the compare before it), for the
    /// listing: recorded by [`generate_with_ranges`] only, empty otherwise.
    pub instrs: Vec<Range<usize>>,
    /// The out-of-line error stubs and the exit path.
    pub slow_paths: Range<usize>,
    /// How long the function took to generate.
    pub time: Duration,
    /// The native frame's size: slots, saved `rbp` and return address.
    pub frame_bytes: usize,
}

/// The whole program's code, not yet linked: the assembler, the entry trampoline's
/// label and each function's [`FunctionCode`].
pub struct Generated {
    pub asm: Assembler,
    /// `extern "sysv64" fn(ctx, args, code) -> u64`: sets `CTX` and calls `code`.
    pub trampoline: Label,
    pub functions: Vec<FunctionCode>,
}

/// Why a function could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    /// The function's name.
    pub function: String,
    /// Why, in words.
    pub reason: String,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot compile {}: {}", self.function, self.reason)
    }
}

impl std::error::Error for CompileError {}

/// A higher tier's code generator, plugged into [`generate_with_tier`]: stage 4's
/// optimizer takes over the functions it compiles and leaves the others to the
/// templates, in one [`Assembler`] with one entry label per function.
///
/// Called once per function the templates would compile, with the assembler, the
/// function's index and every function's entry label (direct calls are `call
/// entries[f]`, whichever tier made `f`). To take the function it binds
/// `entries[func]`, writes the whole function there with this module's calling
/// convention (`calls`: arguments from `[rdi - 8k]`, result or `ERROR_WORD` in `rax`,
/// the pinned `CTX`, `FRAMES_LEFT` and `CALLS`, the callee-saved registers kept) and
/// returns its [`FunctionCode`]; `None` leaves it to the templates, with nothing
/// written. So any mix of template, optimized and interpreted functions calls each
/// other directly, shares the function table of `call_value`, the frame limit and the
/// error exit (`runtime::rt_raise`), and runs on one stack.
pub type Tier<'a> = dyn FnMut(&mut Assembler, FnId, &[Label]) -> Option<FunctionCode> + 'a;

/// Generates the code of every function of `verified`, and the entry trampoline.
/// [`FunctionCode::instrs`] stays empty: only a listing needs it
/// ([`generate_with_ranges`]).
pub fn generate(verified: &Verified) -> Result<Generated, CompileError> {
    generate_program(verified, false, &[], &mut |_, _, _| None)
}

/// [`generate`], except that each function `declined` marks (or that cannot be
/// compiled) gets a stub that runs it in the interpreter (`gen_interpreted_stub`).
/// Also gives, for each function, why it was declined (`None`: compiled).
pub fn generate_declining(
    verified: &Verified,
    declined: &[bool],
) -> (Generated, Vec<Option<String>>) {
    generate_with_tier(verified, declined, &mut |_, _, _| None)
}

/// [`generate_declining`], with the functions `tier` takes made by it (see [`Tier`]).
pub fn generate_with_tier(
    verified: &Verified,
    declined: &[bool],
    tier: &mut Tier,
) -> (Generated, Vec<Option<String>>) {
    let program = verified.program();
    let mut reasons: Vec<Option<String>> = declined
        .iter()
        .map(|&d| d.then(|| "asked to interpret it (Options::interpret)".to_string()))
        .collect();
    reasons.resize(program.functions.len(), None);
    // A function the code generator cannot take is declined too, and the rest again.
    loop {
        let marks: Vec<bool> = reasons.iter().map(Option::is_some).collect();
        match generate_program(verified, false, &marks, tier) {
            Ok(generated) => return (generated, reasons),
            Err(e) => {
                let i = program
                    .functions
                    .iter()
                    .position(|f| f.name == e.function)
                    .filter(|&i| reasons[i].is_none())
                    .expect("a compile error names a compiled function");
                reasons[i] = Some(e.reason);
            }
        }
    }
}

/// [`generate`], also recording where each bytecode instruction's code is
/// ([`FunctionCode::instrs`]), for the listing.
pub fn generate_with_ranges(verified: &Verified) -> Result<Generated, CompileError> {
    generate_program(verified, true, &[], &mut |_, _, _| None)
}

/// Code bytes reserved per bytecode instruction before generating (an estimate:
/// too little only means the buffer grows).
const BYTES_PER_INSTRUCTION: usize = 16;

/// Buffers that one function's generation needs and the next one reuses, sized once
/// per program for its longest function, so that a function costs no allocation of
/// its own: on the small kernels, allocating and growing them for every function
/// was about a tenth of the compile time.
pub(crate) struct Scratch {
    /// The label of each jump target.
    targets: Vec<Option<Label>>,
    /// The value stack.
    stack: Vec<Operand>,
    /// The out-of-line stubs.
    stubs: Vec<Stub>,
}

impl Scratch {
    /// Buffers for functions of up to `len` instructions (they grow if need be).
    pub(crate) fn with_capacity(len: usize) -> Scratch {
        Scratch {
            targets: Vec::with_capacity(len),
            // The stack is rarely deeper than a handful of operands.
            stack: Vec::with_capacity(16),
            // About one stub per instruction: most instructions check one thing.
            stubs: Vec::with_capacity(len + 1),
        }
    }
}

/// [`generate`], recording the instructions' code ranges when `ranges` is set.
fn generate_program(
    verified: &Verified,
    ranges: bool,
    declined: &[bool],
    tier: &mut Tier,
) -> Result<Generated, CompileError> {
    let program = verified.program();
    // Under the test harness every run records its ranges, for describing a crash.
    let ranges = ranges || stage2::code_map::enabled();
    let (mut asm, trampoline) = start_with_trampoline();
    let instructions = program.instruction_count();
    // Templates average about 15 bytes of code and 1.5 jumps to a label per
    // instruction (checks included) on the kernels: room for that up front.
    asm.reserve(
        instructions * BYTES_PER_INSTRUCTION,
        program.functions.len() + instructions,
        instructions * 2,
    );
    let entries: Vec<Label> = program.functions.iter().map(|_| asm.new_label()).collect();
    let mut functions = Vec::with_capacity(program.functions.len());
    let longest = program.functions.iter().map(|f| f.code.len()).max();
    let mut scratch = Scratch::with_capacity(longest.unwrap_or(0));
    // One clock reading per function: where one function ends the next begins.
    let mut start = Instant::now();
    for i in 0..program.functions.len() {
        if declined.get(i).copied().unwrap_or(false) {
            let begin = asm.offset();
            asm.bind(entries[i]);
            gen_interpreted_stub(&mut asm, i as FnId);
            let end = Instant::now();
            functions.push(FunctionCode {
                entry: entries[i],
                range: begin..asm.offset(),
                prologue: begin..begin,
                instrs: Vec::new(),
                slow_paths: asm.offset()..asm.offset(),
                time: end - start,
                frame_bytes: frame::FRAME_OVERHEAD,
            });
            start = end;
            continue;
        }
        if let Some(mut code) = tier(&mut asm, i as FnId, &entries) {
            let end = Instant::now();
            code.time = end - start;
            start = end;
            functions.push(code);
            continue;
        }
        let setup = Setup {
            entry: entries[i],
            linkage: Linkage::Labels(&entries),
            counters: None,
            countdown: tiering::emit_countdown,
            feedback: None,
            osr: false,
            ranges,
            objects: None,
        };
        let (mut code, _) = gen_one(&mut asm, verified, i as FnId, &setup, &mut scratch);
        let end = Instant::now();
        code.time = end - start;
        start = end;
        functions.push(code);
    }
    Ok(Generated {
        asm,
        trampoline,
        functions,
    })
}

/// How one function is generated: the parts that differ between a whole program
/// ([`generate`]) and a function compiled alone for a tiered run
/// ([`tiering::compile_function`]).
pub(crate) struct Setup<'a> {
    /// The function's entry label.
    pub entry: Label,
    /// Where its calls go.
    pub linkage: Linkage<'a>,
    /// The tiering counters it decrements (its calls, its back edges), if any.
    pub counters: Option<&'a Counters>,
    /// The template of their countdowns.
    pub countdown: tiering::Countdown,
    /// The template that records type feedback, if the code records it
    /// ([`feedback`]).
    pub feedback: Option<feedback::FeedbackCode>,
    /// Whether to make an OSR entry for each loop header.
    pub osr: bool,
    /// Whether to record each instruction's code range (for the listing).
    pub ranges: bool,
    /// The fast paths of object instructions ([`objects`]), if any.
    pub objects: Option<&'a dyn ObjectCode>,
}

/// Generates function `func` of `verified` into `asm` as `setup` says, with the
/// buffers of `scratch`: the one per-function generator of every way to compile.
/// Gives its [`FunctionCode`] (its `time` left to the caller) and, when `setup.osr`,
/// the label of the OSR entry of each loop header, by the header's pc.
pub(crate) fn gen_one(
    asm: &mut Assembler,
    verified: &Verified,
    func: FnId,
    setup: &Setup,
    scratch: &mut Scratch,
) -> (FunctionCode, Vec<(usize, Label)>) {
    let program = verified.program();
    let f = &program.functions[func as usize];
    // The verifier gave every instruction its operand-stack depth, which fixes
    // each operand's slot.
    let max_stack = verified.info()[func as usize].max_stack;
    let depths = verified.depths(func);
    let raise = asm.new_label();
    // A label for each jump target (and none for the other instructions).
    let mut targets = std::mem::take(&mut scratch.targets);
    targets.clear();
    targets.resize(f.code.len(), None);
    for instr in &f.code {
        if let Some(t) = instr.jump_target() {
            targets[t as usize].get_or_insert_with(|| asm.new_label());
        }
    }
    let mut stack = std::mem::take(&mut scratch.stack);
    stack.clear();
    let mut stubs = std::mem::take(&mut scratch.stubs);
    stubs.clear();
    let mut gen = FnGen {
        asm,
        program,
        sites: verified.sites(),
        func,
        frame: Frame {
            locals: f.locals,
            max_stack,
        },
        entry: setup.entry,
        linkage: setup.linkage,
        pc: 0,
        stack,
        clean: 0,
        targets,
        stubs,
        raise,
        tiering: tiering::FnTiering::new(
            setup.counters,
            setup.countdown,
            setup.feedback,
            setup.osr,
        ),
        objects: setup.objects,
    };
    let code = gen.gen_function(f, depths, setup.ranges);
    let osr = gen.tiering.osr_labels();
    scratch.stack = gen.stack;
    scratch.targets = gen.targets;
    scratch.stubs = gen.stubs;
    (code, osr)
}

/// An assembler holding the entry trampoline (at offset 0) and its label. The
/// trampoline is the same in every program, so it is encoded once per process and
/// each program starts from a copy: encoding it every time was a tenth of the
/// compile time of a small program.
fn start_with_trampoline() -> (Assembler, Label) {
    static PROTOTYPE: OnceLock<(Assembler, Label)> = OnceLock::new();
    let (asm, label) = PROTOTYPE.get_or_init(|| {
        let mut asm = Assembler::new();
        let label = asm.new_label();
        gen_trampoline(&mut asm, label);
        (asm, label)
    });
    (asm.clone(), *label)
}

/// The stub of a function that runs in the interpreter, with the compiled-function
/// ABI: `rt_call_interpreted(ctx, func, args, frames_left)`, the call count passed
/// through the context (the interpreter may enter compiled code again, through the
/// trampoline, which counts on from there). The helper's result (or `ERROR_WORD`) is
/// the stub's; the depth check is the interpreter's.
fn gen_interpreted_stub(asm: &mut Assembler, func: FnId) {
    asm.push(FRAME);
    asm.mov(FRAME, Reg::RSP);
    asm.mov_mr(Mem::base_disp(CTX, CALLS_OFFSET), CALLS);
    asm.mov(Reg::RDX, frame::ARGS);
    asm.mov(Reg::RDI, CTX);
    asm.mov_imm(Reg::RSI, i64::from(func));
    asm.mov(Reg::RCX, FRAMES_LEFT);
    asm.call_abs(crate::runtime::rt_call_interpreted as *const () as u64);
    asm.mov(CALLS, Mem::base_disp(CTX, CALLS_OFFSET));
    asm.pop(FRAME);
    asm.ret();
}

/// The entry trampoline, `extern "sysv64" fn(ctx, args, code, frames_left) -> u64`:
/// saves the callee-saved registers it uses, pins `ctx` in `CTX` and the counters in
/// `FRAMES_LEFT` (from `frames_left`: `MAX_FRAMES` for `main`, fewer when the
/// interpreter calls in) and `CALLS` (from the context), calls `code` with `args` in
/// [`frame::ARGS`] as compiled functions expect, and stores the call count back.
fn gen_trampoline(asm: &mut Assembler, label: Label) {
    asm.bind(label);
    asm.push(Reg::RBP);
    asm.mov(Reg::RBP, Reg::RSP);
    // Four pushes after rbp's keep rsp 16-byte aligned at the call below.
    asm.push(CTX);
    asm.push(FRAMES_LEFT);
    asm.push(CALLS);
    asm.push(Reg::R14);
    asm.mov(CTX, Reg::RDI);
    asm.mov(FRAMES_LEFT, Reg::RCX);
    asm.mov(CALLS, Mem::base_disp(CTX, CALLS_OFFSET));
    asm.mov(frame::ARGS, Reg::RSI);
    asm.call_reg(Reg::RDX);
    asm.mov_mr(Mem::base_disp(CTX, CALLS_OFFSET), CALLS);
    asm.pop(Reg::R14);
    asm.pop(CALLS);
    asm.pop(FRAMES_LEFT);
    asm.pop(CTX);
    asm.pop(Reg::RBP);
    asm.ret();
}

/// An out-of-line stub: raise `kind` (a code, or `KIND_RECORDED`) at `pc`.
#[derive(Clone, Copy)]
struct Stub {
    label: Label,
    kind: u64,
    pc: usize,
}

/// The state of generating one function.
pub(crate) struct FnGen<'a> {
    pub asm: &'a mut Assembler,
    pub program: &'a Program,
    /// The program's sites (field accesses, value calls), which the runtime helpers
    /// of object instructions are told.
    pub sites: &'a Sites,
    pub func: FnId,
    pub frame: Frame,
    /// The function's entry label (where its code starts).
    pub entry: Label,
    /// Where `call f` goes: the callee's label, or its function-table entry.
    pub linkage: Linkage<'a>,
    /// The instruction being generated.
    pub pc: usize,
    /// Where each operand is ([`stack`]); its length is the operand-stack depth.
    pub stack: Vec<Operand>,
    /// Every operand below this depth is in its slot (`Operand::Slot`), so the
    /// searches of [`stack`] start here: a 400,000-deep stack is not searched whole
    /// on every instruction.
    pub(crate) clean: usize,
    /// The label of each jump target (where the stack must be in slots).
    targets: Vec<Option<Label>>,
    stubs: Vec<Stub>,
    /// The function's one exit path for errors.
    raise: Label,
    /// What a tiered run adds: counters, their stubs, OSR entries ([`tiering`]).
    tiering: tiering::FnTiering<'a>,
    /// The fast paths of object instructions, if any ([`objects`]).
    pub(crate) objects: Option<&'a dyn ObjectCode>,
}

impl FnGen<'_> {
    /// The slot of the operand `k` places below the top (0 is the top); its value is
    /// there once spilled.
    pub fn top(&self, k: u32) -> Mem {
        self.frame.operand(self.depth() - 1 - k)
    }

    /// A label that raises `kind` at the current instruction (shared by every check
    /// of that kind in the instruction). `None`: the error is already recorded.
    pub fn error_exit(&mut self, kind: Option<ErrorKind>) -> Label {
        let code = kind.map_or(KIND_RECORDED, |k| error_code(k) as u64);
        self.stub(code, self.pc)
    }

    /// A label that raises `kind` without adding this function's frame to the trace:
    /// the prologue's `stack overflow`, which belongs to the caller's call instruction.
    pub fn frameless_exit(&mut self, kind: ErrorKind) -> Label {
        self.stub(error_code(kind) as u64, crate::runtime::NO_FRAME as usize)
    }

    /// The label of jump target `pc`.
    pub fn label_of(&self, pc: u32) -> Label {
        self.targets[pc as usize].expect("every jump target has a label")
    }

    /// The stub raising error code `code` at `pc`, made on first use (the stubs of
    /// one instruction are the last ones made).
    fn stub(&mut self, code: u64, pc: usize) -> Label {
        let same_pc = self.stubs.iter().rev().take_while(|s| s.pc == pc);
        if let Some(s) = same_pc.into_iter().find(|s| s.kind == code) {
            return s.label;
        }
        let label = self.asm.new_label();
        self.stubs.push(Stub {
            label,
            kind: code,
            pc,
        });
        label
    }

    /// After a call (of a helper or a function): leave through the exit path when it
    /// returned the error word.
    pub fn check_error_result(&mut self) {
        let exit = self.error_exit(None);
        self.asm.cmp(ACC, Imm32(ERROR_WORD as i32));
        self.asm.jcc(Cond::E, exit);
    }

    /// Generates `f`: prologue, one template per reachable instruction, then the
    /// error stubs and the exit path. `ranges`: record each instruction's code.
    fn gen_function(&mut self, f: &Function, depths: &[u32], ranges: bool) -> FunctionCode {
        let entry = self.entry;
        let start = self.asm.offset();
        self.asm.bind(entry);
        self.gen_prologue(f);
        self.gen_call_countdown();
        let prologue = start..self.asm.offset();
        let mut instrs = Vec::with_capacity(if ranges { f.code.len() } else { 0 });
        // Whether control can fall into `pc` from `pc - 1`; and whether `pc` was
        // generated already, fused into the instruction before it.
        let mut falls_in = false;
        let mut fused = false;
        for (pc, &instr) in f.code.iter().enumerate() {
            let begin = self.asm.offset();
            let skip = std::mem::take(&mut fused);
            if !skip {
                let depth = depths[pc];
                if let Some(label) = self.targets[pc] {
                    // A join: every path arrives with the operands in their slots.
                    if falls_in {
                        self.spill_all();
                    }
                    self.stack.clear();
                    self.stack.resize(depth as usize, Operand::Slot);
                    self.asm.bind(label);
                }
                debug_assert_eq!(self.depth(), depth, "pc {pc} of {}", f.name);
                self.pc = pc;
                // A compare and the conditional jump after it are one `cmp; jcc` when
                // nothing else jumps to that jump: the superinstructions' rule.
                let targets = &self.targets;
                let pair = compare_and_branch(&f.code, |p| targets[p].is_some(), pc);
                fused = self.gen_recorded(instr, pair);
            }
            falls_in = !matches!(instr, Instr::Jump(_) | Instr::Loop(_) | Instr::Return);
            if ranges {
                instrs.push(begin..self.asm.offset());
            }
        }
        let slow = self.asm.offset();
        self.gen_taken_arms();
        self.gen_tiering_stubs(depths);
        for k in 0..self.stubs.len() {
            let Stub { label, kind, pc } = self.stubs[k];
            self.asm.bind(label);
            self.gen_stub(kind, pc);
        }
        self.gen_raise();
        let end = self.asm.offset();
        FunctionCode {
            entry,
            range: start..end,
            prologue,
            instrs,
            slow_paths: slow..end,
            time: Duration::ZERO,
            frame_bytes: self.frame.size() as usize + frame::FRAME_OVERHEAD,
        }
    }

    /// The driver's `match`: one template per instruction. A compare takes the
    /// conditional jump after it along when they are a fusable `pair`
    /// ([`compare_and_branch`]): it returns `true` then, and the driver skips the jump.
    /// (The driver calls it through [`feedback`], which adds what records feedback.)
    fn gen_template(&mut self, instr: Instr, pair: Option<(Cmp, bool, u32)>) -> bool {
        if let Some((cmp, when, target)) = pair {
            self.gen_compare_and_jump(cmp.instr(), when, target);
            return true;
        }
        match instr {
            Instr::Const(k) => self.gen_const(k),
            Instr::LoadLocal(n) => self.gen_load_local(n),
            Instr::StoreLocal(n) => self.gen_store_local(n),
            Instr::Add => self.gen_add(),
            Instr::Sub => self.gen_sub(),
            Instr::Mul => self.gen_mul(),
            Instr::Div => self.gen_div(),
            Instr::Mod => self.gen_mod(),
            Instr::Neg => self.gen_neg(),
            Instr::Not => self.gen_not(),
            Instr::Lt | Instr::Le | Instr::Gt | Instr::Ge | Instr::Eq | Instr::Ne => {
                self.gen_compare(instr)
            }
            Instr::Jump(t) => self.gen_jump(t),
            Instr::Loop(t) => self.gen_loop(t),
            Instr::JumpIfFalse(t) => self.gen_jump_if(false, t),
            Instr::JumpIfTrue(t) => self.gen_jump_if(true, t),
            Instr::Call { func, argc } => self.gen_call(func, u32::from(argc)),
            Instr::CallValue(argc) => self.gen_call_value(argc),
            Instr::Return => self.gen_return(),
            Instr::Print => self.gen_print(),
            Instr::Dup => self.gen_dup(),
            Instr::Pop => {
                self.pop();
            }
            Instr::NewArray(n) => self.gen_new_array(n),
            Instr::NewArrayFill => self.gen_new_array_fill(),
            Instr::ArrayGet => self.gen_array_get(),
            Instr::ArraySet => self.gen_array_set(),
            Instr::ArrayLen => self.gen_array_len(),
            Instr::NewObject => self.gen_new_object(),
            Instr::GetField(k) => self.gen_get_field(k),
            Instr::SetField(k) => self.gen_set_field(k),
            Instr::FuncRef(f) => self.gen_func_ref(f),
        }
        false
    }

    /// `const k`: no code; the tagged constant goes on the value stack, for the
    /// template that uses it to take as an immediate.
    fn gen_const(&mut self, k: u32) {
        let word = self.program.constants[k as usize] << INT_SHIFT;
        self.push(Operand::Const(word));
    }

    /// `load_local n`: no code; the template that uses it reads the local's slot.
    fn gen_load_local(&mut self, n: u32) {
        self.push(Operand::Local(n));
    }

    /// `store_local n`: operands still reading the old `n` go to their slots first.
    fn gen_store_local(&mut self, n: u32) {
        let (value, j) = self.pop();
        self.spill_local(n);
        let local = self.frame.local(n);
        match value {
            Operand::Acc => self.asm.mov_mr(local, ACC),
            Operand::Local(m) if m == n => {}
            _ => match value.imm32() {
                Some(imm) => self.asm.mov_mi(local, imm),
                None => {
                    self.load(value, j, SPILL_TMP);
                    self.asm.mov_mr(local, SPILL_TMP);
                }
            },
        }
    }

    /// `dup`: a constant or local is copied on the value stack; any other operand
    /// goes to its slot and its copy to `ACC`.
    fn gen_dup(&mut self) {
        let top = self.stack[self.stack.len() - 1];
        match top {
            Operand::Const(_) | Operand::Local(_) => self.push(top),
            Operand::Acc => {
                self.spill(self.depth() - 1);
                self.push(Operand::Acc);
            }
            Operand::Slot => {
                let j = self.depth() - 1;
                self.spill_acc();
                self.asm.mov(ACC, self.frame.operand(j));
                self.push(Operand::Acc);
            }
        }
    }

    /// `func_ref f`: no code; the function value is a constant word.
    fn gen_func_ref(&mut self, f: FnId) {
        let word = stage1::Value::function(f).bits() as i64;
        self.push(Operand::Const(word));
    }
}
