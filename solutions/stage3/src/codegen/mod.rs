//! The code generator: one linear pass over each function's bytecode, one
//! `gen_<instruction>` template per instruction, no IR (as V8's Sparkplug does).
//!
//! Every function of the program goes into one [`Assembler`], each under its own
//! label, so that direct calls are `call label`. Operands live in fixed slots of the
//! native frame ([`frame`]); templates load them into the scratch registers, work, and
//! store the result back. Checks jump to out-of-line stubs at the end of the function
//! (one per failing instruction and error kind), which all leave through the
//! function's one exit path (`calls::gen_raise`).

mod arith;
mod calls;
mod compare;
pub mod frame;
mod heap;
mod jumps;

use std::ops::Range;
use std::time::{Duration, Instant};

use stage1::{ErrorKind, FnId, Function, Instr, Program};
use stage2::{Assembler, Imm32, Label, Mem, Reg};

use crate::runtime::{error_code, KIND_RECORDED};
use frame::Frame;

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

/// Where one function's code went, for the engine's statistics and the listing.
#[derive(Clone, Debug)]
pub struct FunctionCode {
    /// The function's entry label.
    pub entry: Label,
    /// The whole function: prologue, body, slow paths.
    pub range: Range<usize>,
    /// The prologue.
    pub prologue: Range<usize>,
    /// The code of each bytecode instruction (empty for unreachable ones).
    pub instrs: Vec<Range<usize>>,
    /// The out-of-line error stubs and the exit path.
    pub slow_paths: Range<usize>,
    /// How long the function took to generate.
    pub time: Duration,
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

/// Generates the code of every function of `program`, and the entry trampoline.
pub fn generate(program: &Program) -> Result<Generated, CompileError> {
    let mut asm = Assembler::new();
    let entries: Vec<Label> = program.functions.iter().map(|_| asm.new_label()).collect();
    let trampoline = asm.new_label();
    gen_trampoline(&mut asm, trampoline);
    let mut functions = Vec::with_capacity(program.functions.len());
    for (i, f) in program.functions.iter().enumerate() {
        let start = Instant::now();
        let (depths, max_stack) = frame::depths(f).map_err(|reason| CompileError {
            function: f.name.clone(),
            reason,
        })?;
        let raise = asm.new_label();
        let mut gen = FnGen {
            asm: &mut asm,
            program,
            func: i as FnId,
            frame: Frame {
                locals: f.locals,
                max_stack,
            },
            entries: &entries,
            pc_labels: Vec::new(),
            pc: 0,
            depth: 0,
            stubs: Vec::new(),
            raise,
        };
        let mut code = gen.gen_function(f, &depths);
        code.time = start.elapsed();
        functions.push(code);
    }
    Ok(Generated {
        asm,
        trampoline,
        functions,
    })
}

/// The entry trampoline, `extern "sysv64" fn(ctx, args, code) -> u64`: saves the
/// callee-saved registers it uses, pins `ctx` in `CTX`, and calls `code` with `args`
/// in [`frame::ARGS`] as compiled functions expect.
fn gen_trampoline(asm: &mut Assembler, label: Label) {
    asm.bind(label);
    asm.push(Reg::RBP);
    asm.mov(Reg::RBP, Reg::RSP);
    asm.push(CTX);
    // A second push keeps rsp 16-byte aligned at the call below.
    asm.push(Reg::RBX);
    asm.mov(CTX, Reg::RDI);
    asm.mov(frame::ARGS, Reg::RSI);
    asm.call_reg(Reg::RDX);
    asm.pop(Reg::RBX);
    asm.pop(CTX);
    asm.pop(Reg::RBP);
    asm.ret();
}

/// An out-of-line stub: raise `kind` (a code, or `KIND_RECORDED`) at `pc`.
struct Stub {
    label: Label,
    kind: u64,
    pc: usize,
}

/// The state of generating one function.
pub(crate) struct FnGen<'a> {
    pub asm: &'a mut Assembler,
    pub program: &'a Program,
    pub func: FnId,
    pub frame: Frame,
    /// Every function's entry label, for direct calls.
    pub entries: &'a [Label],
    /// The label of each instruction, for jumps.
    pub pc_labels: Vec<Label>,
    /// The instruction being generated.
    pub pc: usize,
    /// The operand-stack depth before it.
    pub depth: u32,
    stubs: Vec<Stub>,
    /// The function's one exit path for errors.
    raise: Label,
}

impl FnGen<'_> {
    /// The slot of the operand `k` places below the top (0 is the top).
    pub fn top(&self, k: u32) -> Mem {
        self.frame.operand(self.depth - 1 - k)
    }

    /// The slot the next push goes to.
    pub fn push_slot(&self) -> Mem {
        self.frame.operand(self.depth)
    }

    /// A label that raises `kind` at the current instruction (shared by every check
    /// of that kind in the instruction). `None`: the error is already recorded.
    pub fn error_exit(&mut self, kind: Option<ErrorKind>) -> Label {
        let code = kind.map_or(KIND_RECORDED, |k| error_code(k) as u64);
        self.stub(code, self.pc)
    }

    /// The stub raising error code `code` at `pc`, made on first use.
    fn stub(&mut self, code: u64, pc: usize) -> Label {
        if let Some(s) = self.stubs.iter().find(|s| s.pc == pc && s.kind == code) {
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
        self.asm.cmp(ACC, Imm32(crate::runtime::ERROR as i32));
        self.asm.jcc(stage2::Cond::E, exit);
    }

    /// Generates `f`: prologue, one template per reachable instruction, then the
    /// error stubs and the exit path.
    fn gen_function(&mut self, f: &Function, depths: &[Option<u32>]) -> FunctionCode {
        let entry = self.entries[self.func as usize];
        self.pc_labels = f.code.iter().map(|_| self.asm.new_label()).collect();
        let start = self.asm.offset();
        self.asm.bind(entry);
        self.gen_prologue(f);
        let prologue = start..self.asm.offset();
        let mut instrs = Vec::with_capacity(f.code.len());
        for (pc, &instr) in f.code.iter().enumerate() {
            self.asm.bind(self.pc_labels[pc]);
            let begin = self.asm.offset();
            if let Some(depth) = depths[pc] {
                self.pc = pc;
                self.depth = depth;
                self.gen_instr(instr);
            }
            instrs.push(begin..self.asm.offset());
        }
        let slow = self.asm.offset();
        for stub in std::mem::take(&mut self.stubs) {
            self.asm.bind(stub.label);
            self.gen_stub(stub.kind, stub.pc);
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
        }
    }

    /// The driver's `match`: one template per instruction.
    fn gen_instr(&mut self, instr: Instr) {
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
            Instr::Lt | Instr::Le | Instr::Gt | Instr::Ge => self.gen_order(instr),
            Instr::Eq | Instr::Ne => self.gen_equality(instr),
            Instr::Jump(t) | Instr::Loop(t) => self.gen_jump(t),
            Instr::JumpIfFalse(t) => self.gen_jump_if(false, t),
            Instr::JumpIfTrue(t) => self.gen_jump_if(true, t),
            Instr::Call { func, argc } => self.gen_call(func, argc),
            Instr::CallValue(argc) => self.gen_call_value(argc),
            Instr::Return => self.gen_return(),
            Instr::Print => self.gen_print(),
            Instr::Dup => self.gen_dup(),
            Instr::Pop => {}
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
    }

    /// `const k`: the tagged constant, stored straight when it fits an `imm32`.
    fn gen_const(&mut self, k: u32) {
        let word = self.program.constants[k as usize] << 1;
        let slot = self.push_slot();
        match i32::try_from(word) {
            Ok(imm) => self.asm.mov_mi(slot, Imm32(imm)),
            Err(_) => {
                self.asm.mov_imm(ACC, word);
                self.asm.mov_mr(slot, ACC);
            }
        }
    }

    /// `load_local n`.
    fn gen_load_local(&mut self, n: u32) {
        self.asm.mov(ACC, self.frame.local(n));
        self.asm.mov_mr(self.push_slot(), ACC);
    }

    /// `store_local n`.
    fn gen_store_local(&mut self, n: u32) {
        self.asm.mov(ACC, self.top(0));
        self.asm.mov_mr(self.frame.local(n), ACC);
    }

    /// `dup`.
    fn gen_dup(&mut self) {
        self.asm.mov(ACC, self.top(0));
        self.asm.mov_mr(self.push_slot(), ACC);
    }

    /// `func_ref f`: the function value, a constant word.
    fn gen_func_ref(&mut self, f: FnId) {
        let word = stage1::Value::function(f).bits() as i64;
        self.asm.mov_imm(ACC, word);
        self.asm.mov_mr(self.push_slot(), ACC);
    }
}
