//! The builder: bytecode → SSA, by abstract interpretation of the operand stack.
//!
//! It runs in two steps, as every bytecode-to-SSA builder does (HotSpot's C1 and C2
//! parsers, V8's Maglev graph builder, Cranelift's Wasm translator):
//!
//! 1. **The control-flow graph.** A basic block starts at pc 0, at every jump target
//!    and after every jump, branch and `return`; it ends where the next one starts.
//! 2. **SSA values.** Each block is walked with an *abstract* frame: every local and
//!    every operand-stack slot holds the IR value that the real frame would hold
//!    there. `load_local 2` pushes the value of local 2 and emits nothing; `add` pops
//!    two values and pushes the value of a new `add` instruction. Nothing of the stack
//!    survives into the IR. Where control flows from one block into another, the
//!    abstract frame travels as jump arguments: each block (but the entry) has one
//!    parameter per local and per stack slot live at its start, in that order.
//!
//! That is the simple and correct form (every local is a parameter of every block,
//! even where it never changes); the passes remove the parameters that carry nothing
//! (see `passes::dce`). The verifier gives the stack depth before each pc
//! (`Verified::depths`), one for every path to it, and rejects unreachable code: so
//! every block's parameters are made before any is walked, and each block is walked
//! once, in order, with a frame of its parameters.
//!
//! The abstract frame at a pc is also exactly what a deoptimization guard of stage 7
//! must carry there (each local and operand as an IR value): a guard is built
//! where its instruction is, from the frame the builder holds at that point.
//!
//! Checks are explicit: `add` becomes `check_int` of each operand, then `add` of the
//! checked values, all at the `add`'s pc, so that the instructions fail in the
//! interpreter's order — `type error` before `division by zero` before `integer
//! overflow`.

use stage1::{FnId, Instr, Verified};

use super::{BinOp, Block, BlockCall, CmpOp, Function, Op, Pc, Terminator, Value};

/// The abstract frame: the IR value in each local and each operand-stack slot.
#[derive(Clone, Debug)]
struct Frame {
    locals: Vec<Value>,
    stack: Vec<Value>,
}

impl Frame {
    fn pop(&mut self) -> Value {
        self.stack
            .pop()
            .expect("the verifier checked the stack depth")
    }

    /// The `n` values on top of the stack, bottom first, popped.
    fn pop_n(&mut self, n: usize) -> Vec<Value> {
        let at = self.stack.len() - n;
        self.stack.split_off(at)
    }

    /// The arguments of a jump: the locals, then the stack from the bottom.
    fn args(&self) -> Vec<Value> {
        self.locals.iter().chain(&self.stack).copied().collect()
    }
}

/// Where each bytecode block starts: `true` at pc 0, at every jump target, and after
/// every instruction that does not fall through to the next.
pub fn block_starts(code: &[Instr]) -> Vec<bool> {
    let mut starts = vec![false; code.len()];
    // exercise-begin: cfg mark where each basic block starts: pc 0, every jump target, and the pc after each jump, branch and return
    if let Some(first) = starts.first_mut() {
        *first = true;
    }
    for (pc, instr) in code.iter().enumerate() {
        if let Some(target) = instr.jump_target() {
            starts[target as usize] = true;
        }
        let ends_block = instr.jump_target().is_some() || matches!(instr, Instr::Return);
        if ends_block && pc + 1 < code.len() {
            starts[pc + 1] = true;
        }
    }
    // exercise-end
    starts
}

/// Builds the SSA form of function `func` of `program`, in the canonical numbering
/// (see [`Function::compact`]).
pub fn build(program: &Verified, func: FnId) -> Function {
    build_entered(program, func, None)
}

/// Builds the SSA form of function `func` entered by on-stack replacement at the loop
/// header `header` (a target of a `loop` instruction, which the caller checked): the
/// entry block's parameters are the frame state there — every local, then the
/// operands bottom first, the order of stage 5's frame-state layout and of the code
/// generator's arguments (`[rdi - 8k]`) — and it jumps to the header's block with
/// them. Like any arguments they are unknown to the passes. Only the code reachable
/// from the header is kept: the function's own entry is not (HotSpot's OSR methods
/// are the same).
pub fn build_osr(program: &Verified, func: FnId, header: Pc) -> Function {
    build_entered(program, func, Some(header))
}

/// [`build`] entered at pc 0 (`osr` is `None`) or at the loop header `osr`.
fn build_entered(program: &Verified, func: FnId, osr: Option<Pc>) -> Function {
    let prog = program.program();
    let source = &prog.functions[func as usize];
    let code = &source.code;
    let mut f = Function::new(source.name.clone(), func);
    let starts = block_starts(code);
    let depths = program.depths(func);

    // The entry block holds the arguments. When pc 0 is a loop header (`loop 0`), it
    // cannot be the entry (the entry has no predecessors): the entry then jumps to it.
    // An OSR entry holds the frame state and jumps to its loop header.
    let pc0_is_target = code.iter().any(|i| i.jump_target() == Some(0));
    let entry = f.new_block(osr.unwrap_or(0));
    let initial = match osr {
        None => {
            let mut locals: Vec<Value> = (0..source.arity).map(|_| f.add_param(entry)).collect();
            if source.locals > source.arity {
                let zero = f.push(entry, Op::Const(0), 0).expect("const has a result");
                locals.resize(source.locals as usize, zero);
            }
            Frame {
                locals,
                stack: Vec::new(),
            }
        }
        Some(header) => Frame {
            locals: (0..source.locals).map(|_| f.add_param(entry)).collect(),
            stack: (0..depths[header as usize])
                .map(|_| f.add_param(entry))
                .collect(),
        },
    };

    // Every other block, with its parameters: one per local, then one per operand the
    // stack holds at its start.
    let mut block_at: Vec<Option<Block>> = vec![None; code.len()];
    let mut blocks: Vec<(Block, Frame)> = Vec::new();
    let entry_is_pc0 = osr.is_none() && !pc0_is_target;
    if entry_is_pc0 {
        block_at[0] = Some(entry);
        blocks.push((entry, initial.clone()));
    }
    for (pc, &start) in starts.iter().enumerate() {
        if start && block_at[pc].is_none() {
            let block = f.new_block(pc as Pc);
            let locals = (0..source.locals).map(|_| f.add_param(block)).collect();
            let stack = (0..depths[pc]).map(|_| f.add_param(block)).collect();
            block_at[pc] = Some(block);
            blocks.push((block, Frame { locals, stack }));
        }
    }
    let block_at = |pc: u32| block_at[pc as usize].expect("a block starts at every target");
    if !entry_is_pc0 {
        let to = block_at(osr.unwrap_or(0));
        f.terminate(entry, Terminator::Jump(call(to, &initial)));
    }

    for (block, mut frame) in blocks {
        let mut pc = f.blocks[block.index()].pc as usize;
        loop {
            let at = pc as Pc;
            let instr = code[pc];
            match instr {
                Instr::Const(k) => {
                    let v = emit(&mut f, block, Op::Const(prog.constants[k as usize]), at);
                    frame.stack.push(v);
                }
                Instr::LoadLocal(n) => frame.stack.push(frame.locals[n as usize]),
                Instr::StoreLocal(n) => frame.locals[n as usize] = frame.pop(),
                Instr::Add | Instr::Sub | Instr::Mul | Instr::Div | Instr::Mod => {
                    let op = match instr {
                        Instr::Add => BinOp::Add,
                        Instr::Sub => BinOp::Sub,
                        Instr::Mul => BinOp::Mul,
                        Instr::Div => BinOp::Div,
                        _ => BinOp::Mod,
                    };
                    let b = frame.pop();
                    let a = frame.pop();
                    // exercise-begin: ssa-binary check both operands, then emit the binary instruction on the checked values
                    let a = emit(&mut f, block, Op::CheckInt(a), at);
                    let b = emit(&mut f, block, Op::CheckInt(b), at);
                    let v = emit(&mut f, block, Op::Binary(op, a, b), at);
                    frame.stack.push(v);
                    // exercise-end
                }
                Instr::Neg | Instr::Not => {
                    let a = frame.pop();
                    let a = emit(&mut f, block, Op::CheckInt(a), at);
                    let op = if instr == Instr::Neg {
                        Op::Neg(a)
                    } else {
                        Op::Not(a)
                    };
                    let v = emit(&mut f, block, op, at);
                    frame.stack.push(v);
                }
                Instr::Lt | Instr::Le | Instr::Gt | Instr::Ge | Instr::Eq | Instr::Ne => {
                    let op = match instr {
                        Instr::Lt => CmpOp::Lt,
                        Instr::Le => CmpOp::Le,
                        Instr::Gt => CmpOp::Gt,
                        Instr::Ge => CmpOp::Ge,
                        Instr::Eq => CmpOp::Eq,
                        _ => CmpOp::Ne,
                    };
                    let mut b = frame.pop();
                    let mut a = frame.pop();
                    // `==` and `!=` compare any two values; the order needs integers.
                    if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                        a = emit(&mut f, block, Op::CheckInt(a), at);
                        b = emit(&mut f, block, Op::CheckInt(b), at);
                    }
                    let v = emit(&mut f, block, Op::Compare(op, a, b), at);
                    frame.stack.push(v);
                }
                Instr::Jump(target) | Instr::Loop(target) => {
                    let to = block_at(target);
                    f.terminate(block, Terminator::Jump(call(to, &frame)));
                    break;
                }
                Instr::JumpIfFalse(target) | Instr::JumpIfTrue(target) => {
                    let c = frame.pop();
                    let cond = emit(&mut f, block, Op::CheckInt(c), at);
                    let jump = block_at(target);
                    let next = block_at(at + 1);
                    let (then, else_) = if matches!(instr, Instr::JumpIfTrue(_)) {
                        (jump, next)
                    } else {
                        (next, jump)
                    };
                    f.terminate(
                        block,
                        Terminator::Branch {
                            cond,
                            then: call(then, &frame),
                            else_: call(else_, &frame),
                        },
                    );
                    break;
                }
                Instr::Return => {
                    let v = frame.pop();
                    f.terminate(block, Terminator::Return(v));
                    break;
                }
                Instr::Call { func, argc } => {
                    let args = frame.pop_n(argc as usize);
                    let v = emit(&mut f, block, Op::Call { func, args }, at);
                    frame.stack.push(v);
                }
                Instr::CallValue(argc) => {
                    let args = frame.pop_n(argc as usize);
                    let callee = frame.pop();
                    let v = emit(&mut f, block, Op::CallValue { callee, args }, at);
                    frame.stack.push(v);
                }
                Instr::Print => {
                    let v = frame.pop();
                    f.push(block, Op::Print(v), at);
                }
                Instr::Dup => {
                    let v = *frame.stack.last().expect("the verifier checked dup");
                    frame.stack.push(v);
                }
                Instr::Pop => {
                    frame.pop();
                }
                Instr::NewArray(n) => {
                    let values = frame.pop_n(n as usize);
                    let v = emit(&mut f, block, Op::NewArray(values), at);
                    frame.stack.push(v);
                }
                Instr::NewArrayFill => {
                    let n = frame.pop();
                    let fill = frame.pop();
                    let v = emit(&mut f, block, Op::NewArrayFill(fill, n), at);
                    frame.stack.push(v);
                }
                Instr::ArrayGet => {
                    let i = frame.pop();
                    let a = frame.pop();
                    let v = emit(&mut f, block, Op::ArrayGet(a, i), at);
                    frame.stack.push(v);
                }
                Instr::ArraySet => {
                    let v = frame.pop();
                    let i = frame.pop();
                    let a = frame.pop();
                    f.push(block, Op::ArraySet(a, i, v), at);
                }
                Instr::ArrayLen => {
                    let a = frame.pop();
                    let v = emit(&mut f, block, Op::ArrayLen(a), at);
                    frame.stack.push(v);
                }
                Instr::NewObject => {
                    let v = emit(&mut f, block, Op::NewObject, at);
                    frame.stack.push(v);
                }
                Instr::GetField(k) => {
                    let o = frame.pop();
                    let v = emit(&mut f, block, Op::GetField(o, k), at);
                    frame.stack.push(v);
                }
                Instr::SetField(k) => {
                    let v = frame.pop();
                    let o = frame.pop();
                    f.push(block, Op::SetField(o, k, v), at);
                }
                Instr::FuncRef(g) => {
                    let v = emit(&mut f, block, Op::FuncRef(g), at);
                    frame.stack.push(v);
                }
            }
            pc += 1;
            // Falling into the next block is a jump to it.
            if starts[pc] {
                let to = block_at(pc as Pc);
                f.terminate(block, Terminator::Jump(call(to, &frame)));
                break;
            }
        }
    }
    f.compact();
    f
}

/// Appends an instruction that has a result, and gives it.
fn emit(f: &mut Function, block: Block, op: Op, pc: Pc) -> Value {
    f.push(block, op, pc).expect("the instruction has a result")
}

/// A jump to `block` passing `frame` (its locals, then its stack).
fn call(block: Block, frame: &Frame) -> BlockCall {
    BlockCall {
        block,
        args: frame.args(),
    }
}
