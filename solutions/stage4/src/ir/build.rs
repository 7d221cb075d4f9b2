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
//!    abstract frame travels as jump arguments: a block's parameters are the slots of
//!    its frame (locals, then stack slots) that may hold different values on
//!    different ways in.
//!
//! Which slots those are is decided as each block is walked. The blocks are walked
//! in reverse postorder, so every jump into a block has been walked before it, but
//! for the jumps back to a loop header. Where the walked jumps pass different values
//! for a slot, it is a parameter; where they all pass one value, the slot simply
//! holds it. A loop header cannot wait for its back edges: it also gets a parameter
//! for every stack slot and for every local stored inside the loop (found by a scan
//! of the bytecode before the walk). Every jump passes its whole frame while the
//! blocks are walked; at the end each keeps the arguments of its target's
//! parameters. That can still leave parameters that carry one value (a local
//! stored in the loop, but only on a path that leaves it); `passes::params` removes
//! those. The verifier gives the stack depth before each pc (`Verified::depths`),
//! one for every path to it, and rejects unreachable code.
//!
//! The abstract frame at a pc is also exactly what a deoptimization guard of stage 7
//! must carry there (each local and operand as an IR value): a guard is built
//! where its instruction is, from the frame the builder holds at that point.
//!
//! Checks are explicit: `add` becomes `check_int` of each operand, then `add` of the
//! checked values, all at the `add`'s pc, so that the instructions fail in the
//! interpreter's order — `type error` before `division by zero` before `integer
//! overflow`.
//!
//! **Speculation (stage 7).** [`build_speculative`] asks a [`Speculation`] at each
//! instruction where a bet is possible and emits the bet as a guard carrying the
//! abstract frame there: before the instruction (its operands on the stack) for a
//! check of the instruction itself — a pruned branch (`guard cond`, then a jump the
//! way it always went), a call target (`guard callee`, then a direct call), a field
//! cache hit (`guard get_field`) — and after it (`pc + 1`, the result pushed) for
//! `guard int` of a loaded value or a call's result, so that a call never runs
//! twice. An `add`/`sub`/`mul`/`neg` bet not to overflow gets a `checkpoint` before
//! it, which stage 7's late pass `speculate` (a `deopt::Deoptimizer` late pass) hands
//! to the instruction if the other passes leave it able to fail. A direct call the speculation inlines is built
//! speculatively too, one level deeper, and spliced in at the call
//! ([`crate::passes::inline::inline_at`]): its frame states get the caller's frame at
//! the call in front.

use stage1::value::{INT_MAX, INT_MIN};
use stage1::{FnId, Instr, Verified};

use super::{
    BinOp, Block, BlockCall, CmpOp, FrameState, Function, Guard, GuardKind, Inst, Op, Pc,
    StateFrame, Terminator, Value, ENTRY, SMALL,
};
use crate::speculation::{NoSpeculation, Speculation};

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
    build_entered(program, func, None, 0, &NoSpeculation, 0, None)
}

/// Builds function `func` (entered at pc 0, or by OSR at the loop header `osr` with
/// the locals of `ints` checked, as [`build_osr_speculating`]) with the bets `spec`
/// makes: guards with frame states, checkpoints before arithmetic that should not
/// overflow, and the calls it says to inline built the same way and spliced in (see
/// the module's documentation).
pub fn build_speculative(
    program: &Verified,
    func: FnId,
    osr: Option<Pc>,
    ints: u64,
    spec: &dyn Speculation,
) -> Function {
    build_entered(program, func, osr, ints, spec, 0, None)
}

/// Builds the SSA form of function `func` entered by on-stack replacement at the loop
/// header `header` (a target of a `loop` instruction, which the caller checked): the
/// entry block's parameters are the frame state there — every local, then the
/// operands bottom first, the order of stage 5's frame-state layout and of the code
/// generator's arguments (`[rdi - 8k]`) — and it jumps to the header's block with
/// them. Like any arguments they are unknown to the passes. Only the code reachable
/// from the header is kept: the function's own entry is not (HotSpot's OSR methods
/// are the same). Inside other loops, the entry jumps to a copy of them instead, for
/// the trip it is in, so that the nest after it is whole ([`osr_nest`]).
pub fn build_osr(program: &Verified, func: FnId, header: Pc) -> Function {
    build_entered(program, func, Some(header), 0, &NoSpeculation, 0, None)
}

/// [`build_osr`], speculating that local `n` is an integer for each bit `n` set in
/// `ints` (locals 0 to 63), and a small one (within [`SMALL`]: 32 bits, not negative) if the loop
/// only counts with it ([`counted_locals`]): the entry block checks each such
/// local's type once (`check_int`, at the header's pc) and the loop gets the checked
/// value, so the passes know its type inside the loop — where the unspecialized
/// variant checks the loop's carried values at every iteration — and the small
/// ones' range ([`Function::param_ranges`]), so the bounds pass knows that `i * 3`
/// cannot overflow in `while i < n` as it knows when `i` starts at a constant. The
/// caller enters the code only with a frame state whose locals are such integers
/// (stage 5 looks before it enters), so the checks never fail (a failing one would
/// report its error at the header) and the ranges hold.
pub fn build_osr_speculating(program: &Verified, func: FnId, header: Pc, ints: u64) -> Function {
    build_entered(program, func, Some(header), ints, &NoSpeculation, 0, None)
}

/// For each local of function `func`, the constant it holds at the loop header
/// `header` whenever the function gets there, if the code before the loop leaves one
/// there that the loop never changes (`let n = 1000;` before `while i < n`): the
/// value of the local at the header's block in the function's SSA form ([`build`])
/// is a `const`. Every frame that reaches the header got there from the function's
/// start, so an OSR variant ([`build_osr`]) takes the constant for the local as the
/// whole-function compile does, rather than an unknown argument (that is sound
/// without any check, where [`build_osr_speculating`]'s bets are checked).
pub fn header_constants(program: &Verified, func: FnId, header: Pc) -> Vec<Option<i64>> {
    let mut locals = Vec::new();
    build_entered(
        program,
        func,
        None,
        0,
        &NoSpeculation,
        0,
        Some((header, &mut locals)),
    );
    locals
}

/// The locals of function `func` that the loop with header `header` leaves alone or
/// only counts with (every store to them in the loop is `x = x + k` or `x = x - k`,
/// `k` a constant): a bit each, locals 0 to 63. Where an OSR variant takes such a
/// local to be an integer it also takes it to be small ([`build_osr_speculating`]):
/// the loop's bounds and counters are, and knowing it drops the loop's overflow
/// checks; a value the loop computes (a sum) may grow past any bound while the
/// variant is being compiled, and its range would help nothing. The loop is the
/// code from `header` to its last `loop` back to it.
pub fn counted_locals(program: &Verified, func: FnId, header: Pc) -> u64 {
    let prog = program.program();
    let code = &prog.functions[func as usize].code;
    let header = header as usize;
    let Some(end) = (header..code.len())
        .rev()
        .find(|&pc| code[pc] == Instr::Loop(header as u32))
    else {
        return 0;
    };
    let locals = (prog.functions[func as usize].locals as usize).min(64);
    let mut counted = if locals == 64 {
        u64::MAX
    } else {
        (1u64 << locals) - 1
    };
    for pc in header..=end {
        let Instr::StoreLocal(n) = code[pc] else {
            continue;
        };
        let steps = pc >= 3
            && code[pc - 3] == Instr::LoadLocal(n)
            && matches!(code[pc - 2], Instr::Const(_))
            && matches!(code[pc - 1], Instr::Add | Instr::Sub);
        if !steps && n < 64 {
            counted &= !(1 << n);
        }
    }
    counted
}

/// The most loops around an OSR header that [`osr_nest`] peels.
pub const MAX_OSR_NEST: usize = 3;

/// The most bytecode instructions the copies of [`osr_nest`] take in all.
pub const MAX_OSR_COPIED: usize = 400;

/// The loops around the loop with header `header` (outermost first, each as the pcs
/// of its header and of its last `loop` back to it) that an OSR variant entered
/// there gets a copy of: V8's OSR "loop peeling". The variant starts in the middle
/// of each such loop's trip. Built as is, its entry would jump into them past their
/// headers, and the header's block would head them all at once: one loop with a
/// back edge for each, where what the outer loops change (`r` in
/// `while i < n / r`) varies in the inner loop too, so that nothing about it can be
/// hoisted or proved there. With a copy of each outer loop for the trip the frame
/// is in, the entry goes into the innermost copy's header; a copy leaves where its
/// loop would and goes back to its header in the copy around it (the outermost in
/// the function's own blocks), where the loops are whole again, each entered
/// through its header — the nest the whole-function compile has. Empty when the
/// header is in no other loop, when the loops are not nested as `while` loops
/// compile (a `.jasm` jump into a loop past its header: the variant then has no
/// copies, as before), or when the copies would pass [`MAX_OSR_NEST`] loops or
/// [`MAX_OSR_COPIED`] instructions.
pub fn osr_nest(code: &[Instr], header: Pc) -> Vec<(usize, usize)> {
    let header = header as usize;
    // Each loop header's last back edge.
    let mut last: Vec<Option<usize>> = vec![None; code.len()];
    for (pc, instr) in code.iter().enumerate() {
        if let Instr::Loop(h) = *instr {
            last[h as usize] = Some(pc);
        }
    }
    let Some(own) = last[header] else {
        return Vec::new();
    };
    let nest: Vec<(usize, usize)> = (0..header)
        .filter_map(|h| last[h].map(|end| (h, end)))
        .filter(|&(_, end)| end > header)
        .collect();
    let nested =
        nest.windows(2).all(|w| w[0].1 >= w[1].1) && nest.iter().all(|&(_, end)| end >= own);
    let copied: usize = nest.iter().map(|&(h, end)| end - h + 1).sum();
    if nest.is_empty() || !nested || nest.len() > MAX_OSR_NEST || copied > MAX_OSR_COPIED {
        return Vec::new();
    }
    // Each loop (the header's own too) is entered only through its header, and
    // only its `loop`s jump back to it.
    let whole = nest
        .iter()
        .chain(std::iter::once(&(header, own)))
        .all(|&(h, end)| {
            code.iter()
                .enumerate()
                .all(|(pc, instr)| match instr.jump_target() {
                    Some(t) => {
                        let t = t as usize;
                        let inside = (h..=end).contains(&pc);
                        (t <= h || t > end || inside)
                            && (t != h || !inside || matches!(instr, Instr::Loop(_)))
                    }
                    None => true,
                })
        });
    if whole {
        nest
    } else {
        Vec::new()
    }
}

/// A direct call to inline once the walk is done: the call, and the caller's frame
/// at it (the operands without the arguments).
struct InlineSite {
    call: Inst,
    caller: StateFrame,
}

/// [`build`] entered at pc 0 (`osr` is `None`) or at the loop header `osr`, with the
/// locals of `ints` known to be integers there ([`build_osr_speculating`]), making
/// the bets of `spec` (`depth` calls deep in the function being compiled). With
/// `watch = Some((pc, locals))`, `locals` gets, for each local at the start of the
/// block at `pc`, the constant it holds there if its value is a `const`
/// ([`header_constants`]).
fn build_entered(
    program: &Verified,
    func: FnId,
    osr: Option<Pc>,
    ints: u64,
    spec: &dyn Speculation,
    depth: u32,
    mut watch: Option<(Pc, &mut Vec<Option<i64>>)>,
) -> Function {
    let prog = program.program();
    let source = &prog.functions[func as usize];
    let code = &source.code;
    let mut f = Function::new(source.name.clone(), func);
    let starts = block_starts(code);
    let depths = program.depths(func);
    // The way each conditional jump always went, where the speculation bets on it.
    let pruned: Vec<Option<bool>> = code
        .iter()
        .enumerate()
        .map(|(pc, instr)| match instr {
            Instr::JumpIfFalse(_) | Instr::JumpIfTrue(_) => spec.branch(func, pc as Pc),
            _ => None,
        })
        .collect();
    // The frame state at `pc` with the abstract frame `frame`.
    let state = |pc: usize, frame: &Frame| FrameState {
        frames: vec![StateFrame {
            func,
            pc: pc as Pc,
            locals: frame.locals.clone(),
            operands: frame.stack.clone(),
        }],
    };
    let guard = |kind: GuardKind, state: FrameState| Op::Guard(Box::new(Guard { kind, state }));
    let mut inlines: Vec<InlineSite> = Vec::new();
    // After an instruction at `pc` that pushed a loaded value or a call's result: a
    // guard that it is an integer when the speculation bets so, with the frame after
    // the instruction (`pc + 1`, the value pushed), and the checked value in its place.
    let int_result = |f: &mut Function, block: Block, frame: &mut Frame, pc: usize| {
        if spec.int_result(func, pc as Pc) {
            let v = *frame.stack.last().expect("the value was pushed");
            let check = guard(GuardKind::Int(v), state(pc + 1, frame));
            let checked = emit(f, block, check, pc as Pc);
            *frame.stack.last_mut().expect("the value was pushed") = checked;
        }
    };

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
        Some(header) => {
            let locals: Vec<Value> = (0..source.locals).map(|_| f.add_param(entry)).collect();
            let stack: Vec<Value> = (0..depths[header as usize])
                .map(|_| f.add_param(entry))
                .collect();
            // The frame as the interpreter left it, for the guards a late pass of
            // stage 7 puts at the entry (`Speculation::entry_arrays`).
            if depth == 0 && spec.entry_arrays(func, header) {
                let entered = FrameState {
                    frames: vec![StateFrame {
                        func,
                        pc: header,
                        locals: locals.clone(),
                        operands: stack.clone(),
                    }],
                };
                f.push(entry, Op::Checkpoint(Box::new(entered)), header);
            }
            // The bet's ranges, for the bounds pass; the other locals' are unknown.
            let small = ints & counted_locals(program, func, header);
            if small != 0 {
                f.param_ranges = (0..locals.len())
                    .map(|n| {
                        if n < 64 && (small >> n) & 1 == 1 {
                            SMALL
                        } else {
                            (INT_MIN, INT_MAX)
                        }
                    })
                    .collect();
            }
            // What the code before the loop made constant is known; the rest is
            // checked where the frame is bet on.
            let known = header_constants(program, func, header);
            let locals = locals
                .into_iter()
                .enumerate()
                .map(|(n, v)| {
                    if let Some(&Some(k)) = known.get(n) {
                        emit(&mut f, entry, Op::Const(k), header)
                    } else if n < 64 && (ints >> n) & 1 == 1 {
                        emit(&mut f, entry, Op::CheckInt(v), header)
                    } else {
                        v
                    }
                })
                .collect();
            Frame { locals, stack }
        }
    };

    // Every other block, in pc order; its parameters come when it is walked. An OSR
    // variant entered inside nested loops also gets a copy of each loop around the
    // header's, for the trip the frame is in ([`osr_nest`]).
    let nest = match osr {
        Some(header) => osr_nest(code, header),
        None => Vec::new(),
    };
    let mut copies: Vec<Vec<Option<Block>>> = vec![vec![None; code.len()]; nest.len() + 1];
    let entry_is_pc0 = osr.is_none() && !pc0_is_target;
    if entry_is_pc0 {
        copies[0][0] = Some(entry);
    }
    let mut copy_of: Vec<usize> = vec![0];
    for (copy, blocks) in copies.iter_mut().enumerate() {
        let (first, last) = match copy {
            0 => (0, code.len() - 1),
            j => nest[j - 1],
        };
        for pc in first..=last {
            if starts[pc] && blocks[pc].is_none() {
                blocks[pc] = Some(f.new_block(pc as Pc));
                copy_of.push(copy);
            }
        }
    }
    // The block that a jump (or a fall) from `from` to `pc` goes to: the innermost
    // copy around `pc` at most as deep as `from`'s, but a jump back to a peeled loop's
    // header, which goes to that loop in the copy around it.
    let block_at = |from: Block, pc: u32| -> Block {
        let depth = copy_of[from.index()];
        let pc = pc as usize;
        let copy = match nest[..depth].iter().position(|&(first, _)| first == pc) {
            Some(i) => i,
            None => nest[..depth]
                .iter()
                .rposition(|&(first, last)| (first..=last).contains(&pc))
                .map_or(0, |i| i + 1),
        };
        copies[copy][pc].expect("a block starts at every target")
    };
    if !entry_is_pc0 {
        let to = match osr {
            Some(header) => copies[nest.len()][header as usize].expect("the header starts a block"),
            None => copies[0][0].expect("pc 0 starts a block"),
        };
        f.terminate(entry, Terminator::Jump(call(to, &initial)));
    }
    let cfg = Cfg::new(
        &f,
        code,
        &starts,
        &block_at,
        source.locals as usize,
        &pruned,
    );

    // Which slots (locals, then stack) of each block's frame are parameters.
    let mut params: Vec<Vec<bool>> = vec![Vec::new(); f.blocks.len()];
    for &block in &cfg.rpo {
        let mut frame = if block != entry {
            let pc = f.blocks[block.index()].pc as usize;
            let (frame, made) = entry_frame(&mut f, &cfg, block, source.locals, depths[pc]);
            params[block.index()] = made;
            if let Some((at, locals)) = watch.as_mut() {
                if *at as usize == pc {
                    // Now: the values are renumbered when the function is done.
                    **locals = frame.locals.iter().map(|&v| f.as_const(v)).collect();
                }
            }
            frame
        } else if !entry_is_pc0 {
            continue; // the entry only jumps to the loop at pc 0 or to the OSR header
        } else {
            initial.clone()
        };
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
                    if matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul)
                        && spec.no_overflow(func, at)
                    {
                        let checkpoint = Op::Checkpoint(Box::new(state(pc, &frame)));
                        f.push(block, checkpoint, at);
                    }
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
                    if instr == Instr::Neg && spec.no_overflow(func, at) {
                        let checkpoint = Op::Checkpoint(Box::new(state(pc, &frame)));
                        f.push(block, checkpoint, at);
                    }
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
                    let to = block_at(block, target);
                    f.terminate(block, Terminator::Jump(call(to, &frame)));
                    break;
                }
                Instr::JumpIfFalse(target) | Instr::JumpIfTrue(target) => {
                    let before = state(pc, &frame);
                    let c = frame.pop();
                    let cond = emit(&mut f, block, Op::CheckInt(c), at);
                    let jump = block_at(block, target);
                    let next = block_at(block, at + 1);
                    if let Some(jumped) = pruned[pc] {
                        // The way the branch always went, and a guard that it still
                        // does: `jump_if_true` jumps when the condition is not 0.
                        let nonzero = jumped == matches!(instr, Instr::JumpIfTrue(_));
                        f.push(block, guard(GuardKind::Cond(cond, nonzero), before), at);
                        let to = if jumped { jump } else { next };
                        f.terminate(block, Terminator::Jump(call(to, &frame)));
                        break;
                    }
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
                Instr::Call { func: g, argc } => {
                    let args = frame.pop_n(argc as usize);
                    let v = emit(&mut f, block, Op::Call { func: g, args }, at);
                    if spec.inline(func, at, g, depth) {
                        let call = Inst(f.insts.len() as u32 - 1);
                        let caller = state(pc, &frame).frames.remove(0);
                        inlines.push(InlineSite { call, caller });
                    }
                    frame.stack.push(v);
                    int_result(&mut f, block, &mut frame, pc);
                }
                Instr::CallValue(argc) => {
                    let before = state(pc, &frame);
                    let args = frame.pop_n(argc as usize);
                    let callee = frame.pop();
                    let target = spec
                        .call_target(func, at)
                        .filter(|&g| prog.functions.get(g as usize).map(|g| g.arity) == Some(argc));
                    let v = match target {
                        Some(g) => {
                            let check = guard(GuardKind::Callee(callee, g), before);
                            f.push(block, check, at);
                            let v = emit(&mut f, block, Op::Call { func: g, args }, at);
                            if spec.inline(func, at, g, depth) {
                                let call = Inst(f.insts.len() as u32 - 1);
                                let caller = state(pc, &frame).frames.remove(0);
                                inlines.push(InlineSite { call, caller });
                            }
                            v
                        }
                        None => emit(&mut f, block, Op::CallValue { callee, args }, at),
                    };
                    frame.stack.push(v);
                    int_result(&mut f, block, &mut frame, pc);
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
                    int_result(&mut f, block, &mut frame, pc);
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
                    let before = state(pc, &frame);
                    let o = frame.pop();
                    let mut op = Op::GetField(o, k);
                    if spec.field_hit(func, at) {
                        op = guard(GuardKind::Op(op), before);
                    }
                    let v = emit(&mut f, block, op, at);
                    frame.stack.push(v);
                    int_result(&mut f, block, &mut frame, pc);
                }
                Instr::SetField(k) => {
                    let before = state(pc, &frame);
                    let v = frame.pop();
                    let o = frame.pop();
                    let mut op = Op::SetField(o, k, v);
                    if spec.field_hit(func, at) {
                        op = guard(GuardKind::Op(op), before);
                    }
                    f.push(block, op, at);
                }
                Instr::FuncRef(g) => {
                    let v = emit(&mut f, block, Op::FuncRef(g), at);
                    frame.stack.push(v);
                }
            }
            pc += 1;
            // Falling into the next block is a jump to it.
            if starts[pc] {
                let to = block_at(block, pc as Pc);
                f.terminate(block, Terminator::Jump(call(to, &frame)));
                break;
            }
        }
    }
    // Each jump passed its whole frame: keep the arguments of its target's parameters.
    for data in &mut f.blocks {
        for call in data.term.calls_mut() {
            let keep = &params[call.block.index()];
            let mut i = 0;
            call.args.retain(|_| {
                i += 1;
                keep[i - 1]
            });
        }
    }
    // The calls to inline, each built (speculatively, one call deeper) and spliced in
    // where it is now (an earlier splice may have moved it to a continuation block).
    for k in 0..inlines.len() {
        let site = &inlines[k];
        let Op::Call { func: g, .. } = f.inst(site.call).op else {
            unreachable!("an inline site is a direct call")
        };
        let result = f.inst(site.call).result.expect("a call has a result");
        let callee = build_entered(program, g, None, 0, spec, depth + 1, None);
        let (b, at) = f
            .blocks
            .iter()
            .enumerate()
            .find_map(|(b, data)| {
                let at = data.insts.iter().position(|&i| i == site.call)?;
                Some((Block(b as u32), at))
            })
            .expect("the call is in a block");
        let r = crate::passes::inline::inline_at(&mut f, b, at, &callee, Some(&site.caller));
        // The later sites' frames held the result too: it is `r` now.
        for later in &mut inlines[k + 1..] {
            let values = later.caller.locals.iter_mut();
            for v in values.chain(later.caller.operands.iter_mut()) {
                if *v == result {
                    *v = r;
                }
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

/// The bytecode's control-flow graph, before any block is walked: what decides which
/// slots of a block's frame need a parameter.
struct Cfg {
    /// The blocks reachable from the entry, in reverse postorder: every block comes
    /// after the blocks that jump to it, but for the jumps back to a loop header.
    rpo: Vec<Block>,
    /// Each block's predecessors (a block jumping twice to it is listed twice).
    preds: Vec<Vec<Block>>,
    /// Per block: its position in `rpo`.
    rpo_index: Vec<usize>,
    /// Per loop header (a block that a later block in `rpo` jumps back to): the
    /// locals that may change around the loop, `None` for other blocks.
    varies: Vec<Option<Vec<bool>>>,
}

impl Cfg {
    fn new(
        f: &Function,
        code: &[Instr],
        starts: &[bool],
        block_at: &dyn Fn(Block, u32) -> Block,
        locals: usize,
        pruned: &[Option<bool>],
    ) -> Cfg {
        let n = f.blocks.len();
        // Each block's successors and the locals it stores to.
        let mut succs: Vec<Vec<Block>> = vec![Vec::new(); n];
        let mut stores: Vec<Vec<bool>> = vec![vec![false; locals]; n];
        for (b, data) in f.blocks.iter().enumerate() {
            if let Terminator::Jump(call) = &data.term {
                // The entry of a function whose pc 0 is a loop header: no code.
                succs[b].push(call.block);
                continue;
            }
            let from = Block(b as u32);
            let mut pc = data.pc as usize;
            loop {
                let instr = code[pc];
                if let Instr::StoreLocal(x) = instr {
                    stores[b][x as usize] = true;
                }
                match instr {
                    Instr::Jump(t) | Instr::Loop(t) => succs[b].push(block_at(from, t)),
                    Instr::JumpIfFalse(t) | Instr::JumpIfTrue(t) => match pruned[pc] {
                        // A branch the speculation prunes goes one way only.
                        Some(true) => succs[b].push(block_at(from, t)),
                        Some(false) => succs[b].push(block_at(from, pc as u32 + 1)),
                        None => {
                            succs[b].push(block_at(from, pc as u32 + 1));
                            succs[b].push(block_at(from, t));
                        }
                    },
                    Instr::Return => {}
                    _ if starts[pc + 1] => succs[b].push(block_at(from, pc as u32 + 1)),
                    _ => {
                        pc += 1;
                        continue;
                    }
                }
                break;
            }
        }
        // Reverse postorder, by a depth-first walk with an explicit stack.
        let mut rpo = Vec::with_capacity(n);
        let mut seen = vec![false; n];
        let mut stack = vec![(ENTRY, 0)];
        seen[ENTRY.index()] = true;
        while let Some((b, next)) = stack.pop() {
            if let Some(&s) = succs[b.index()].get(next) {
                stack.push((b, next + 1));
                if !seen[s.index()] {
                    seen[s.index()] = true;
                    stack.push((s, 0));
                }
            } else {
                rpo.push(b);
            }
        }
        rpo.reverse();
        let mut rpo_index = vec![usize::MAX; n];
        for (i, b) in rpo.iter().enumerate() {
            rpo_index[b.index()] = i;
        }
        let mut preds: Vec<Vec<Block>> = vec![Vec::new(); n];
        for &b in &rpo {
            for &s in &succs[b.index()] {
                preds[s.index()].push(b);
            }
        }
        // A loop header's varying locals: those stored in a block that reaches a
        // jump back to it without passing it. When such a block is the entry, the
        // loop has a second way in (an irreducible graph): every local varies.
        let mut varies = vec![None; n];
        for &h in &rpo {
            let back: Vec<Block> = preds[h.index()]
                .iter()
                .copied()
                .filter(|p| rpo_index[p.index()] >= rpo_index[h.index()])
                .collect();
            if back.is_empty() {
                continue;
            }
            let mut inside = vec![false; n];
            inside[h.index()] = true;
            let mut work = back;
            while let Some(b) = work.pop() {
                if !inside[b.index()] {
                    inside[b.index()] = true;
                    work.extend(&preds[b.index()]);
                }
            }
            let mut varying = vec![inside[ENTRY.index()] && h != ENTRY; locals];
            for (b, _) in inside.iter().enumerate().filter(|(_, i)| **i) {
                for (v, &stored) in varying.iter_mut().zip(&stores[b]) {
                    *v |= stored;
                }
            }
            varies[h.index()] = Some(varying);
        }
        Cfg {
            rpo,
            preds,
            rpo_index,
            varies,
        }
    }
}

/// The frame at the start of `block` (not the entry), from the jumps to it already
/// walked, and which of its slots are parameters. A slot is a parameter where those
/// jumps pass different values, and in a loop header where it may change around the
/// loop (every stack slot, the locals of [`Cfg::varies`]); elsewhere it is the one
/// value every jump passes. `passes::params` removes the parameters that still turn
/// out to carry one value.
fn entry_frame(
    f: &mut Function,
    cfg: &Cfg,
    block: Block,
    locals: u32,
    depth: u32,
) -> (Frame, Vec<bool>) {
    let slots = (locals + depth) as usize;
    let mut first: Option<Vec<Value>> = None;
    let mut made = vec![false; slots];
    if let Some(varying) = &cfg.varies[block.index()] {
        made[..varying.len()].copy_from_slice(varying);
        made[varying.len()..].fill(true);
    }
    let here = cfg.rpo_index[block.index()];
    for &pred in &cfg.preds[block.index()] {
        if cfg.rpo_index[pred.index()] >= here {
            continue;
        }
        for call in f.blocks[pred.index()].term.calls() {
            if call.block != block {
                continue;
            }
            match &first {
                None => first = Some(call.args.clone()),
                Some(values) => {
                    for ((m, a), b) in made.iter_mut().zip(&call.args).zip(values) {
                        *m |= a != b;
                    }
                }
            }
        }
    }
    let mut values = first.expect("a block has a predecessor before it in reverse postorder");
    for (v, &m) in values.iter_mut().zip(&made) {
        if m {
            *v = f.add_param(block);
        }
    }
    let stack = values.split_off(locals as usize);
    (
        Frame {
            locals: values,
            stack,
        },
        made,
    )
}
