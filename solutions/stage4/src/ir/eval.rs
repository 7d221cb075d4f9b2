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

use std::io::Write;

use stage1::heap::{Heap, DEFAULT_HEAP_LIMIT};
use stage1::interp::ops;
use stage1::limits::MAX_FRAMES;
use stage1::print::format_value;
use stage1::{ErrorKind, Instr, Program, RuntimeError, TraceFrame, Value, Verified};

use super::{BinOp, CmpOp, Function, Inst, Op, Terminator, ENTRY};
use crate::passes::fold;

/// Runs `program` from the IR of its functions (`functions[i]` is function `i`),
/// printing to `out`: `main`'s value, formatted as `print` would, or the error.
pub fn run(
    program: &Verified,
    functions: &[Function],
    out: &mut dyn Write,
) -> Result<String, RuntimeError> {
    let prog = program.program();
    let mut e = Evaluator {
        program: prog,
        functions,
        heap: Heap::new(DEFAULT_HEAP_LIMIT),
        out,
        depth: 1,
    };
    match e.call(stage1::bytecode::MAIN, &[]) {
        Ok(v) => Ok(format_value(prog, &e.heap, v)),
        Err(trace) => Err(RuntimeError {
            kind: trace.0,
            trace: trace.1,
            omitted: 0,
        }),
    }
}

/// An error on its way out: the kind, and the frames it left, innermost first.
type Unwind = (ErrorKind, Vec<TraceFrame>);

struct Evaluator<'a> {
    program: &'a Program,
    functions: &'a [Function],
    heap: Heap,
    out: &'a mut dyn Write,
    /// Frames active, `main` included.
    depth: usize,
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
            let data = f.block(block);
            for &inst in &data.insts {
                if let Err(kind) = self.exec(f, inst, &mut vals) {
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

    /// The error `kind` raised at `inst` of `f` (or passed up through it).
    fn frame(&self, f: &Function, inst: Inst, kind: Result<ErrorKind, Unwind>) -> Unwind {
        let data = f.inst(inst);
        let at = |func: u32, pc: u32| {
            let code = &self.program.functions[func as usize];
            TraceFrame {
                function: code.name.clone(),
                line: code.lines.get(pc as usize).copied().unwrap_or(0),
            }
        };
        // An inlined call's frame, then the function's own at the call.
        let mut frames = Vec::new();
        if data.frame > 0 {
            let inlined = f.frames[data.frame as usize - 1];
            frames.push(at(inlined.func, data.pc));
            frames.push(at(f.id, inlined.call_pc));
        } else {
            frames.push(at(f.id, data.pc));
        }
        match kind {
            Ok(kind) => (kind, frames),
            Err((kind, mut trace)) => {
                trace.extend(frames);
                (kind, trace)
            }
        }
    }

    /// Runs one instruction; `Err(Ok(kind))` is an error raised here, `Err(Err(..))`
    /// one passed up from a callee.
    fn exec(
        &mut self,
        f: &Function,
        inst: Inst,
        vals: &mut [Value],
    ) -> Result<(), Result<ErrorKind, Unwind>> {
        let data = f.inst(inst);
        let op = &data.op;
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
                if self.program.functions[g as usize].arity as usize != args.len() {
                    return Err(Ok(ErrorKind::WrongNumberOfArguments));
                }
                let args: Vec<Value> = args.iter().map(v).collect();
                self.enter(g, &args)?
            }
            Op::Print(x) => {
                let line = format_value(self.program, &self.heap, v(x));
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
            Op::MulHigh(x, m) => Value::int(fold::mul_high(i(x), *m)),
            Op::IAdd(x, y) => Value::int(proved(i(x).checked_add(i(y)), op)),
            Op::ISub(x, y) => Value::int(proved(i(x).checked_sub(i(y)), op)),
            Op::IMul(x, c) => Value::int(proved(i(x).checked_mul(*c), op)),
            // Speculative IR (stage 7): the evaluator's model of a failing guard (resume
            // the interpreter at its frame state) comes with the speculative builder.
            Op::Guard(_) => panic!("the evaluator does not run guards yet: {op:?}"),
            Op::Checkpoint(_) => return Ok(()),
        };
        if let Some(r) = data.result {
            vals[r.index()] = result;
        }
        Ok(())
    }

    /// Calls function `g`: `stack overflow` past the frame limit.
    fn enter(&mut self, g: u32, args: &[Value]) -> Result<Value, Result<ErrorKind, Unwind>> {
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
