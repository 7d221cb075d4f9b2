//! A reference evaluator of the IR: what each instruction means, as executable Rust.
//!
//! It runs a whole program from the IR of its functions (built, or optimized), with
//! stage 1's heap and printer, and reports what the interpreter reports: the output,
//! `main`'s value, or the runtime error with the line of the instruction that raised
//! it. The suite runs every corpus program and random programs through it after the
//! passes and compares with the interpreter, so that a pass is checked by what its
//! output computes, independently of the code generator.
//!
//! It also checks the IR's own invariants as it goes: an arithmetic instruction
//! handed a value that is not an integer means a pass removed a `check_int` it
//! should not have, and panics (with the instruction) instead of computing nonsense.
//!
//! **Guards (stage 7).** A guard whose check fails deoptimizes as compiled code
//! does: the frames of its [`FrameState`](super::FrameState), filled with the
//! evaluator's values, resume in the stage 1 interpreter
//! ([`stage1::interp::resume_frames`]) on the same heap and output, and the function
//! returns what the outermost frame returns (or the interpreter's error, with the
//! trace of every frame). So the evaluator is an oracle of speculative IR too: a
//! wrong bet costs nothing but time, and a wrong frame state shows up as a wrong
//! answer. [`run_stressed`] also deoptimizes guards that pass, every `n`-th one, as
//! stage 7's stress mode does: every frame state must be right, not only those of
//! the bets that fail.

use std::io::Write;

use stage1::heap::{Heap, DEFAULT_HEAP_LIMIT};
use stage1::interp::trace::runtime_error;
use stage1::interp::{ops, resume_frames, Interpreter, ResumeFrame};
use stage1::limits::MAX_FRAMES;
use stage1::print::format_value;
use stage1::{ErrorKind, FnId, Instr, RuntimeError, Value, Verified};

use super::{BinOp, CmpOp, Function, Guard, GuardKind, Inst, Op, Terminator, ENTRY};
use crate::passes::fold;

/// How many blocks a run may enter before the evaluator gives up. It is a tool for
/// tests: a pass that wrongly proves a loop's condition constant turns a program that
/// ends into one that never does, and a test should then fail with a message, not
/// hang (the corpus' longest program enters a few million blocks).
pub const BLOCK_LIMIT: u64 = 50_000_000;

/// Runs `program` from the IR of its functions (`functions[i]` is function `i`),
/// printing to `out`: `main`'s value, formatted as `print` would, or the error.
///
/// # Panics
/// After [`BLOCK_LIMIT`] blocks: the IR does not end where the program would.
pub fn run(
    program: &Verified,
    functions: &[Function],
    out: &mut dyn Write,
) -> Result<String, RuntimeError> {
    run_stressed(program, functions, out, None)
}

/// [`run`], and with `stress = Some(n)` every `n`-th guard run deoptimizes even when
/// its check passes (`Some(1)`: every guard).
pub fn run_stressed(
    program: &Verified,
    functions: &[Function],
    out: &mut dyn Write,
    stress: Option<u64>,
) -> Result<String, RuntimeError> {
    run_counted(program, functions, out, stress).0
}

/// What the guards did in a run of [`run_counted`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuardCounts {
    /// Guards run.
    pub run: u64,
    /// Deoptimizations: guards that failed, or that stress made deoptimize.
    pub deopts: u64,
}

/// [`run_stressed`], and how many guards ran and deoptimized (so a test can tell
/// that its bets were put to the test).
pub fn run_counted(
    program: &Verified,
    functions: &[Function],
    out: &mut dyn Write,
    stress: Option<u64>,
) -> (Result<String, RuntimeError>, GuardCounts) {
    let prog = program.program();
    let mut e = Evaluator {
        verified: program,
        functions,
        heap: Heap::new(DEFAULT_HEAP_LIMIT),
        out,
        depth: 1,
        interpreter: None,
        stress,
        counts: GuardCounts::default(),
        blocks: 0,
    };
    let result = match e.call(stage1::bytecode::MAIN, &[]) {
        Ok(v) => Ok(format_value(prog, &e.heap, v)),
        Err((kind, frames)) => Err(runtime_error(prog, kind, frames.into_iter())),
    };
    (result, e.counts)
}

/// An error on its way out: the kind, and the frames it left (function and pc),
/// innermost first.
type Unwind = (ErrorKind, Vec<(FnId, usize)>);

/// Why an instruction did not complete: an error it raised, or one passed up from a
/// callee.
type Failure = Result<ErrorKind, Unwind>;

struct Evaluator<'a> {
    verified: &'a Verified,
    functions: &'a [Function],
    heap: Heap,
    out: &'a mut dyn Write,
    /// Frames active, `main` included.
    depth: usize,
    /// The interpreter that resumes deoptimized frames, made at the first deopt.
    interpreter: Option<Interpreter>,
    /// Deoptimize every `n`-th guard, whether its check passes or not.
    stress: Option<u64>,
    /// Guards run and deoptimizations so far (`run` paces `stress`).
    counts: GuardCounts,
    /// Blocks entered so far, against [`BLOCK_LIMIT`].
    blocks: u64,
}

/// The integer in `v`, which an IR invariant says is one.
fn int(v: Value, inst: &Op) -> i64 {
    v.to_int()
        .unwrap_or_else(|| panic!("broken IR invariant: {inst:?} got the non-integer {v:?}"))
}

impl Evaluator<'_> {
    fn call(&mut self, id: u32, args: &[Value]) -> Result<Value, Unwind> {
        let f = &self.functions[id as usize];
        let mut vals = vec![Value::ZERO; f.values.len()];
        for (&p, &a) in f.block(ENTRY).params.iter().zip(args) {
            vals[p.index()] = a;
        }
        let mut block = ENTRY;
        loop {
            self.blocks += 1;
            assert!(
                self.blocks <= BLOCK_LIMIT,
                "the IR evaluator entered {BLOCK_LIMIT} blocks without the program ending: \
                 the IR loops where the program may end (a pass that proves a loop's \
                 condition constant, or a lattice that forgets a value varies?)"
            );
            let data = f.block(block);
            for &inst in &data.insts {
                let result = match &f.inst(inst).op {
                    Op::Guard(guard) => match self.guard(f, inst, guard, &mut vals) {
                        Ok(passed) => passed,
                        Err(resumed) => return resumed,
                    },
                    op => self.exec(op, f.inst(inst).result, &mut vals),
                };
                if let Err(kind) = result {
                    return Err(self.frame(f, inst, kind));
                }
            }
            match &data.term {
                Terminator::Return(v) => return Ok(vals[v.index()]),
                Terminator::Jump(call) => {
                    let args: Vec<Value> = call.args.iter().map(|a| vals[a.index()]).collect();
                    for (&p, a) in f.block(call.block).params.iter().zip(args) {
                        vals[p.index()] = a;
                    }
                    block = call.block;
                }
                Terminator::Branch { cond, then, else_ } => {
                    let c = vals[cond.index()];
                    let call = if int(c, &Op::CheckInt(*cond)) != 0 {
                        then
                    } else {
                        else_
                    };
                    let args: Vec<Value> = call.args.iter().map(|a| vals[a.index()]).collect();
                    for (&p, a) in f.block(call.block).params.iter().zip(args) {
                        vals[p.index()] = a;
                    }
                    block = call.block;
                }
            }
        }
    }

    /// The error `kind` raised at `inst` of `f` (or passed up through it): its frame,
    /// then (for inlined code) the frame of each call it was inlined at, outwards.
    fn frame(&self, f: &Function, inst: Inst, kind: Failure) -> Unwind {
        let data = f.inst(inst);
        let mut frames = Vec::new();
        let (mut frame, mut pc) = (data.frame, data.pc);
        while frame > 0 {
            let inlined = f.frames[frame as usize - 1];
            frames.push((inlined.func, pc as usize));
            (frame, pc) = (inlined.caller, inlined.call_pc);
        }
        frames.push((f.id, pc as usize));
        match kind {
            Ok(kind) => (kind, frames),
            Err((kind, mut trace)) => {
                trace.extend(frames);
                (kind, trace)
            }
        }
    }

    /// Runs the guard `inst` of `f`: `Ok` with the result of its check (as any
    /// instruction's), or `Err` with what the function returns when it deoptimized.
    fn guard(
        &mut self,
        f: &Function,
        inst: Inst,
        guard: &Guard,
        vals: &mut [Value],
    ) -> Result<Result<(), Failure>, Result<Value, Unwind>> {
        self.counts.run += 1;
        if self
            .stress
            .is_some_and(|n| self.counts.run.is_multiple_of(n.max(1)))
        {
            return Err(self.deoptimize(guard, vals));
        }
        let op = &f.inst(inst).op;
        let result = f.inst(inst).result;
        let holds = match &guard.kind {
            GuardKind::Op(check) => match self.exec(check, result, vals) {
                // The instruction failed: the interpreter redoes it (a call that
                // failed inside is not redone: its error goes on).
                Err(Ok(_)) => false,
                other => return Ok(other),
            },
            GuardKind::Int(x) => {
                let value = vals[x.index()];
                if let Some(r) = result {
                    vals[r.index()] = value;
                }
                value.is_int()
            }
            GuardKind::Cond(x, nonzero) => (int(vals[x.index()], op) != 0) == *nonzero,
            GuardKind::Callee(x, g) => vals[x.index()].to_function() == Some(*g),
        };
        if holds {
            Ok(Ok(()))
        } else {
            Err(self.deoptimize(guard, vals))
        }
    }

    /// Resumes the frames of `guard`'s state in the interpreter, with their values
    /// from `vals`: what the function returns, or the error with every frame.
    fn deoptimize(&mut self, guard: &Guard, vals: &[Value]) -> Result<Value, Unwind> {
        self.counts.deopts += 1;
        let frames: Vec<ResumeFrame> = guard
            .state
            .frames
            .iter()
            .map(|frame| ResumeFrame {
                func: frame.func,
                pc: frame.pc as usize,
                locals: frame.locals.iter().map(|x| vals[x.index()]).collect(),
                operands: frame.operands.iter().map(|x| vals[x.index()]).collect(),
            })
            .collect();
        // Each inlined frame took a frame of the limit (`enter`): the outermost one
        // is the function's own, `depth - 1` frames live below it.
        let inlined = frames.len() - 1;
        self.depth -= inlined;
        let interpreter = self.interpreter.get_or_insert_with(Interpreter::new);
        let (verified, heap, out) = (self.verified, &mut self.heap, &mut *self.out);
        resume_frames(&frames, self.depth - 1, |entry| {
            interpreter.enter(verified, heap, entry, None, out)
        })
        .map_err(|unwind| (unwind.kind, unwind.frames))
    }

    /// Runs one operation (whose result is the value `dest`); `Err(Ok(kind))` is an
    /// error raised here, `Err(Err(..))` one passed up from a callee.
    fn exec(
        &mut self,
        op: &Op,
        dest: Option<super::Value>,
        vals: &mut [Value],
    ) -> Result<(), Failure> {
        let v = |x: &super::Value| vals[x.index()];
        let i = |x: &super::Value| int(vals[x.index()], op);
        let num = |n: Option<i64>, kind: ErrorKind| n.map(Value::int).ok_or(Ok(kind));
        let result: Value = match op {
            Op::Const(n) => Value::int(*n),
            Op::FuncRef(g) => Value::function(*g),
            Op::CheckInt(x) => {
                if v(x).is_int() {
                    v(x)
                } else {
                    return Err(Ok(ErrorKind::TypeError));
                }
            }
            // Arithmetic is the interpreter's own (stage 1's `ops`), so that this
            // oracle does not share the folding code it checks.
            Op::Binary(b, x, y) => {
                let (a, c) = (v(x), v(y));
                i(x);
                i(y);
                let instr = match b {
                    BinOp::Add => Instr::Add,
                    BinOp::Sub => Instr::Sub,
                    BinOp::Mul => Instr::Mul,
                    BinOp::Div => Instr::Div,
                    BinOp::Mod => Instr::Mod,
                };
                match b {
                    BinOp::Div | BinOp::Mod => ops::divmod(instr, a, c),
                    _ => ops::arith(instr, a, c),
                }
                .map_err(Ok)?
            }
            Op::Neg(x) => {
                i(x);
                ops::arith(Instr::Sub, Value::ZERO, v(x)).map_err(Ok)?
            }
            Op::Not(x) => Value::bool(i(x) == 0),
            Op::Compare(c, x, y) => {
                if !matches!(c, CmpOp::Eq | CmpOp::Ne) {
                    i(x);
                    i(y);
                }
                let instr = match c {
                    CmpOp::Lt => Instr::Lt,
                    CmpOp::Le => Instr::Le,
                    CmpOp::Gt => Instr::Gt,
                    CmpOp::Ge => Instr::Ge,
                    CmpOp::Eq => Instr::Eq,
                    CmpOp::Ne => Instr::Ne,
                };
                ops::compare(instr, v(x), v(y)).map_err(Ok)?
            }
            Op::NewArray(xs) => {
                let elems: Vec<Value> = xs.iter().map(v).collect();
                self.heap.alloc_array(&elems).map_err(Ok)?
            }
            Op::NewArrayFill(x, n) => {
                let n = v(n).to_int().ok_or(Ok(ErrorKind::TypeError))?;
                self.heap.alloc_array_fill(v(x), n).map_err(Ok)?
            }
            Op::ArrayLen(a) => Value::int(self.heap.array_len(v(a)).map_err(Ok)?),
            Op::CheckArray(a) => {
                // `len` fails with the same `type error` on anything but an array.
                self.heap.array_len(v(a)).map_err(Ok)?;
                v(a)
            }
            Op::ArrayGet(a, x) => self.heap.array_get(v(a), v(x)).map_err(Ok)?,
            Op::ArraySet(a, x, y) => {
                self.heap.array_set(v(a), v(x), v(y)).map_err(Ok)?;
                return Ok(());
            }
            Op::NewObject => self.heap.alloc_object().map_err(Ok)?,
            Op::GetField(o, k) => self.heap.get_field(v(o), *k).map_err(Ok)?,
            Op::SetField(o, k, x) => {
                self.heap.set_field(v(o), *k, v(x)).map_err(Ok)?;
                return Ok(());
            }
            Op::Call { func, args } => {
                let args: Vec<Value> = args.iter().map(v).collect();
                self.enter(*func, &args)?
            }
            Op::CallValue { callee, args } => {
                let g = v(callee).to_function().ok_or(Ok(ErrorKind::TypeError))?;
                if self.verified.program().functions[g as usize].arity as usize != args.len() {
                    return Err(Ok(ErrorKind::WrongNumberOfArguments));
                }
                let args: Vec<Value> = args.iter().map(v).collect();
                self.enter(g, &args)?
            }
            Op::Print(x) => {
                let line = format_value(self.verified.program(), &self.heap, v(x));
                writeln!(self.out, "{line}").map_err(|_| Ok(ErrorKind::Output))?;
                return Ok(());
            }
            Op::Enter => {
                if self.depth >= MAX_FRAMES {
                    return Err(Ok(ErrorKind::StackOverflow));
                }
                self.depth += 1;
                return Ok(());
            }
            Op::Leave => {
                self.depth -= 1;
                return Ok(());
            }
            Op::Shl(x, k) => num(fold::shl(i(x), *k), ErrorKind::IntegerOverflow)?,
            Op::Sar(x, k) => Value::int(fold::sar(i(x), *k)),
            Op::And(x, m) => Value::int(i(x) & m),
            Op::MagicDiv(x, magic) => {
                // The definition (Rust's truncating `/` and `%`), not the sequence it
                // stands for: the property tests of `passes::strength` check that one.
                let (x, d) = (i(x), magic.divisor);
                assert!(!magic.nonneg || x >= 0, "broken proof: {op:?} of {x}");
                Value::int(if magic.remainder { x % d } else { x / d })
            }
            Op::IAdd(x, y) => Value::int(proved(i(x).checked_add(i(y)), op)),
            Op::ISub(x, y) => Value::int(proved(i(x).checked_sub(i(y)), op)),
            Op::IMul(x, c) => Value::int(proved(i(x).checked_mul(*c), op)),
            Op::Min(x, y) => Value::int(i(x).min(i(y))),
            Op::LoadElement(a, x) => self
                .heap
                .array_get(v(a), v(x))
                .unwrap_or_else(|e| panic!("broken proof: {op:?} failed with {e:?}")),
            Op::StoreElement(a, x, y) => {
                self.heap
                    .array_set(v(a), v(x), v(y))
                    .unwrap_or_else(|e| panic!("broken proof: {op:?} failed with {e:?}"));
                return Ok(());
            }
            // A guard inside a guard is not made by anything.
            Op::Guard(_) => panic!("a guard's check is a guard: {op:?}"),
            Op::Checkpoint(_) => return Ok(()),
        };
        if let Some(r) = dest {
            vals[r.index()] = result;
        }
        Ok(())
    }

    /// Calls function `g`: `stack overflow` past the frame limit.
    fn enter(&mut self, g: u32, args: &[Value]) -> Result<Value, Failure> {
        if self.depth >= MAX_FRAMES {
            return Err(Ok(ErrorKind::StackOverflow));
        }
        self.depth += 1;
        let r = self.call(g, args);
        self.depth -= 1;
        r.map_err(Err)
    }
}

/// The result of an operation a pass proved stays in the 63-bit range.
fn proved(n: Option<i64>, op: &Op) -> i64 {
    n.and_then(fold::int)
        .unwrap_or_else(|| panic!("broken proof: {op:?} left the 63-bit range"))
}
