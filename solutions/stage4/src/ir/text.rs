//! The IR's text form: what `jitlab dump --ir` prints, and what pass tests are
//! written in (text in, text out, as Cranelift's filetests and LLVM's `opt` tests).
//!
//! ```text
//! function fib f1 {
//! b0(v0):  @0
//!     v1 = const 2  @1
//!     v2 = check_int v0  @2
//!     v3 = check_int v1  @2
//!     v4 = lt v2, v3  @2
//!     v5 = check_int v4  @3
//!     branch v5, b1(v0), b2(v0)
//! b1(v6):  @4
//!     return v6
//! ...
//! }
//! ```
//!
//! A block is its name, its parameters and the bytecode pc where it starts; each
//! instruction ends with `@pc`, the bytecode instruction it came from. Calls name
//! functions by index (`call f2(v1)`), fields by index (`get_field v3, 0`).
//!
//! A function with calls inlined into it ([`Function::frames`]) lists them before
//! its first block, `frame 1: f2 called at @5` (a call in the function itself) or
//! `frame 2: f2 called at @7 in 1` (a call inside frame 1's copy), and each
//! instruction copied from an inlined callee says whose pc it carries:
//! `v9 = mul v8, v8  @3 in 1` is pc 3 of frame 1's function.
//!
//! [`parse`] reads back what [`print()`] writes: `parse(print(f)) == f` for a function
//! in canonical numbering ([`Function::compact`]) whose `int_results` are empty (the
//! facts about other functions are not part of the text); the parser numbers values
//! and blocks in the order the text defines them, so hand-written text may use any
//! names.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{
    BinOp, Block, BlockCall, CmpOp, FrameState, Function, GuardKind, Op, Pc, Terminator, Value,
};

/// The text of one function.
pub fn print(f: &Function) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "function {} f{} {{", f.name, f.id);
    for (k, frame) in f.frames.iter().enumerate() {
        let _ = writeln!(
            out,
            "    frame {}: f{} called at @{}{}",
            k + 1,
            frame.func,
            frame.call_pc,
            in_frame(frame.caller)
        );
    }
    for (i, block) in f.blocks.iter().enumerate() {
        let _ = write!(out, "b{i}");
        if !block.params.is_empty() {
            let _ = write!(out, "({})", list(&block.params));
        }
        let _ = writeln!(out, ":  @{}", block.pc);
        for &inst in &block.insts {
            let data = f.inst(inst);
            out.push_str("    ");
            if let Some(r) = data.result {
                let _ = write!(out, "v{} = ", r.0);
            }
            let _ = writeln!(
                out,
                "{}  @{}{}",
                op_text(&data.op),
                data.pc,
                in_frame(data.frame)
            );
        }
        let _ = writeln!(out, "    {}", term_text(&block.term));
    }
    out.push_str("}\n");
    out
}

/// ` in K` after a pc of inlined frame `K`, nothing for the function's own (0).
fn in_frame(frame: u32) -> String {
    if frame == 0 {
        String::new()
    } else {
        format!(" in {frame}")
    }
}

/// `v1, v2, v3`.
fn list(values: &[Value]) -> String {
    let names: Vec<String> = values.iter().map(|v| format!("v{}", v.0)).collect();
    names.join(", ")
}

/// The mnemonic of a binary operation.
pub fn binop_name(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "add",
        BinOp::Sub => "sub",
        BinOp::Mul => "mul",
        BinOp::Div => "div",
        BinOp::Mod => "mod",
    }
}

/// The mnemonic of a comparison.
pub fn cmpop_name(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Lt => "lt",
        CmpOp::Le => "le",
        CmpOp::Gt => "gt",
        CmpOp::Ge => "ge",
        CmpOp::Eq => "eq",
        CmpOp::Ne => "ne",
    }
}

/// An instruction's operation and operands, as printed (without result and pc).
pub fn op_text(op: &Op) -> String {
    let v = |v: &Value| format!("v{}", v.0);
    match op {
        Op::Const(n) => format!("const {n}"),
        Op::FuncRef(g) => format!("func_ref f{g}"),
        Op::CheckInt(a) => format!("check_int {}", v(a)),
        Op::CheckArray(a) => format!("check_array {}", v(a)),
        Op::Binary(op, a, b) => format!("{} {}, {}", binop_name(*op), v(a), v(b)),
        Op::Neg(a) => format!("neg {}", v(a)),
        Op::Not(a) => format!("not {}", v(a)),
        Op::Compare(op, a, b) => format!("{} {}, {}", cmpop_name(*op), v(a), v(b)),
        Op::NewArray(values) => format!("new_array [{}]", list(values)),
        Op::NewArrayFill(x, n) => format!("new_array_fill {}, {}", v(x), v(n)),
        Op::ArrayLen(a) => format!("array_len {}", v(a)),
        Op::ArrayGet(a, i) => format!("array_get {}, {}", v(a), v(i)),
        Op::ArraySet(a, i, x) => format!("array_set {}, {}, {}", v(a), v(i), v(x)),
        Op::NewObject => "new_object".to_string(),
        Op::GetField(o, k) => format!("get_field {}, {k}", v(o)),
        Op::SetField(o, k, x) => format!("set_field {}, {k}, {}", v(o), v(x)),
        Op::Call { func, args } => format!("call f{func}({})", list(args)),
        Op::CallValue { callee, args } => format!("call_value {}({})", v(callee), list(args)),
        Op::Print(a) => format!("print {}", v(a)),
        Op::Enter => "enter".to_string(),
        Op::Leave => "leave".to_string(),
        Op::Shl(a, k) => format!("shl {}, {k}", v(a)),
        Op::Sar(a, k) => format!("sar {}, {k}", v(a)),
        Op::And(a, m) => format!("and {}, {m}", v(a)),
        Op::MagicDiv(a, magic) => format!(
            "{} {}, {}{}",
            if magic.remainder {
                "mod_magic"
            } else {
                "div_magic"
            },
            v(a),
            magic.divisor,
            if magic.nonneg { ", nonneg" } else { "" }
        ),
        Op::IAdd(a, b) => format!("iadd {}, {}", v(a), v(b)),
        Op::ISub(a, b) => format!("isub {}, {}", v(a), v(b)),
        Op::IMul(a, c) => format!("imul {}, {c}", v(a)),
        Op::Min(a, b) => format!("min {}, {}", v(a), v(b)),
        Op::LoadElement(a, i) => format!("load_element {}, {}", v(a), v(i)),
        Op::StoreElement(a, i, x) => {
            format!("store_element {}, {}, {}", v(a), v(i), v(x))
        }
        Op::Guard(guard) => {
            let check = match &guard.kind {
                GuardKind::Op(op) => op_text(op),
                GuardKind::Int(a) => format!("int {}", v(a)),
                GuardKind::Cond(a, expected) => format!("cond {}, {expected}", v(a)),
                GuardKind::Callee(a, g) => format!("callee {}, f{g}", v(a)),
            };
            format!("guard {check} {}", state_text(&guard.state))
        }
        Op::Checkpoint(state) => format!("checkpoint {}", state_text(state)),
    }
}

/// A frame state, as guards and checkpoints print it: each frame as
/// `f<func>@<pc>: <locals> | <operands>`, the outermost first, each calling the next
/// (`>`): `[f0@12: v0, v1 | v3 > f2@4: v7 |]`.
pub fn state_text(state: &FrameState) -> String {
    let frames: Vec<String> = state
        .frames
        .iter()
        .map(|fr| {
            let mut text = format!("f{}@{}: {} |", fr.func, fr.pc, list(&fr.locals));
            if !fr.operands.is_empty() {
                text.push(' ');
                text.push_str(&list(&fr.operands));
            }
            text
        })
        .collect();
    format!("[{}]", frames.join(" > "))
}

/// `b3(v1, v2)`, or `b3` without arguments.
fn call_text(call: &BlockCall) -> String {
    if call.args.is_empty() {
        format!("b{}", call.block.0)
    } else {
        format!("b{}({})", call.block.0, list(&call.args))
    }
}

/// A terminator, as printed.
pub fn term_text(term: &Terminator) -> String {
    match term {
        Terminator::Jump(call) => format!("jump {}", call_text(call)),
        Terminator::Branch { cond, then, else_ } => format!(
            "branch v{}, {}, {}",
            cond.0,
            call_text(then),
            call_text(else_)
        ),
        Terminator::Return(v) => format!("return v{}", v.0),
    }
}

/// A parse error: the line (from 1) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Reads one function (the first of the text).
pub fn parse(text: &str) -> Result<Function, ParseError> {
    let mut all = parse_all(text)?;
    if all.is_empty() {
        return Err(ParseError {
            line: 1,
            message: "no function in the text".to_string(),
        });
    }
    Ok(all.swap_remove(0))
}

/// Reads every function of the text.
pub fn parse_all(text: &str) -> Result<Vec<Function>, ParseError> {
    // Lines without comments (`;` to the end of the line) and blank lines.
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split(';').next().unwrap_or("").trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let mut functions = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        let end = lines[at..]
            .iter()
            .position(|(_, l)| *l == "}")
            .map(|p| at + p)
            .ok_or_else(|| ParseError {
                line: lines[at].0,
                message: "the function has no closing '}'".to_string(),
            })?;
        functions.push(parse_function(&lines[at..=end])?);
        at = end + 1;
    }
    Ok(functions)
}

/// What a line of a function body is.
enum Line<'a> {
    /// `frame K: fN called at @pc [in J]`
    Frame { index: u32, frame: super::Frame },
    /// `bN(params):  @pc`
    Header {
        name: &'a str,
        params: Vec<&'a str>,
        pc: Pc,
    },
    /// `[vN =] op  @pc [in K]`
    Inst {
        result: Option<&'a str>,
        body: &'a str,
        pc: Pc,
        frame: u32,
    },
    /// `jump`, `branch`, `return`
    Term(&'a str),
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        line,
        message: message.into(),
    })
}

/// Splits `text  @pc` (or `text  @pc in K`) into the text, the pc and the frame
/// (0 without `in`).
fn split_pc(line: usize, text: &str) -> Result<(&str, Pc, u32), ParseError> {
    let Some((body, pc)) = text.rsplit_once('@') else {
        return err(line, format!("'{text}' has no '@pc'"));
    };
    let (pc, frame) = match pc.split_once(" in ") {
        Some((pc, frame)) => (pc, number(line, frame)?),
        None => (pc, 0),
    };
    match pc.trim().parse() {
        Ok(pc) => Ok((body.trim(), pc, frame)),
        Err(_) => err(line, format!("'{}' is not a pc", pc.trim())),
    }
}

fn classify(line: usize, text: &str) -> Result<Line<'_>, ParseError> {
    let first = text.split_whitespace().next().unwrap_or("");
    if matches!(first, "jump" | "branch" | "return") {
        return Ok(Line::Term(text));
    }
    if first == "frame" {
        return parse_frame(line, text);
    }
    let (body, pc, frame) = split_pc(line, text)?;
    if let Some(head) = body.strip_suffix(':') {
        let (name, params) = match head.split_once('(') {
            Some((name, rest)) => {
                let Some(inner) = rest.trim().strip_suffix(')') else {
                    return err(line, "a block's parameters end with ')'");
                };
                (name.trim(), names(inner))
            }
            None => (head.trim(), Vec::new()),
        };
        if frame != 0 {
            return err(line, "a block belongs to no inlined frame");
        }
        return Ok(Line::Header { name, params, pc });
    }
    match body.split_once('=') {
        Some((result, rest)) => Ok(Line::Inst {
            result: Some(result.trim()),
            body: rest.trim(),
            pc,
            frame,
        }),
        None => Ok(Line::Inst {
            result: None,
            body,
            pc,
            frame,
        }),
    }
}

/// `frame K: fN called at @pc [in J]`: an inlined call (see [`print`]).
fn parse_frame(line: usize, text: &str) -> Result<Line<'_>, ParseError> {
    let expected = "expected 'frame K: fN called at @pc' (or '... in J')";
    let Some((head, rest)) = text.split_once(':') else {
        return err(line, expected);
    };
    let Some(index) = head.trim().strip_prefix("frame") else {
        return err(line, expected);
    };
    let Some((func, at)) = rest.split_once("called at") else {
        return err(line, expected);
    };
    let (_, call_pc, caller) = split_pc(line, at)?;
    Ok(Line::Frame {
        index: number(line, index)?,
        frame: super::Frame {
            func: function_index(line, func)?,
            call_pc,
            caller,
        },
    })
}

/// `v1, v2` → `["v1", "v2"]` (empty for an empty list).
fn names(text: &str) -> Vec<&str> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Names to values and blocks, in the order the text defines them.
struct Scope<'a> {
    values: HashMap<&'a str, Value>,
    blocks: HashMap<&'a str, Block>,
}

impl Scope<'_> {
    fn value(&self, line: usize, name: &str) -> Result<Value, ParseError> {
        match self.values.get(name.trim()) {
            Some(&v) => Ok(v),
            None => err(line, format!("'{}' is not a defined value", name.trim())),
        }
    }

    fn values(&self, line: usize, text: &str) -> Result<Vec<Value>, ParseError> {
        names(text).iter().map(|n| self.value(line, n)).collect()
    }

    fn block(&self, line: usize, name: &str) -> Result<Block, ParseError> {
        match self.blocks.get(name.trim()) {
            Some(&b) => Ok(b),
            None => err(line, format!("'{}' is not a block", name.trim())),
        }
    }

    /// `b3(v1, v2)` or `b3`.
    fn call(&self, line: usize, text: &str) -> Result<BlockCall, ParseError> {
        let text = text.trim();
        match text.split_once('(') {
            Some((name, rest)) => {
                let Some(inner) = rest.strip_suffix(')') else {
                    return err(line, format!("'{text}' lacks its ')'"));
                };
                Ok(BlockCall {
                    block: self.block(line, name)?,
                    args: self.values(line, inner)?,
                })
            }
            None => Ok(BlockCall {
                block: self.block(line, text)?,
                args: Vec::new(),
            }),
        }
    }
}

fn parse_function(lines: &[(usize, &str)]) -> Result<Function, ParseError> {
    let (line0, head) = lines[0];
    let words: Vec<&str> = head.split_whitespace().collect();
    let (name, id) = match words.as_slice() {
        ["function", name, id, "{"] => (*name, *id),
        _ => return err(line0, "expected 'function NAME fN {'"),
    };
    let id = match id.strip_prefix('f').and_then(|n| n.parse().ok()) {
        Some(id) => id,
        None => return err(line0, format!("'{id}' is not a function index 'fN'")),
    };
    let body = &lines[1..lines.len() - 1];
    let parsed = body
        .iter()
        .map(|&(line, text)| classify(line, text).map(|l| (line, l)))
        .collect::<Result<Vec<_>, _>>()?;

    // First pass: number the blocks and values in the order they are defined.
    let mut scope = Scope {
        values: HashMap::new(),
        blocks: HashMap::new(),
    };
    fn define<'a>(scope: &mut Scope<'a>, line: usize, name: &'a str) -> Result<(), ParseError> {
        let next = Value(scope.values.len() as u32);
        if scope.values.insert(name, next).is_some() {
            return err(line, format!("'{name}' is defined twice"));
        }
        Ok(())
    }
    for (line, l) in &parsed {
        match l {
            Line::Header { name, params, .. } => {
                let b = Block(scope.blocks.len() as u32);
                if scope.blocks.insert(name, b).is_some() {
                    return err(*line, format!("block '{name}' is defined twice"));
                }
                for p in params {
                    define(&mut scope, *line, p)?;
                }
            }
            Line::Inst {
                result: Some(r), ..
            } => define(&mut scope, *line, r)?,
            _ => {}
        }
    }

    // Second pass: build, in the same order, so that the values come out as numbered.
    let mut f = Function::new(name, id);
    let mut current: Option<Block> = None;
    let mut terminated = true;
    for (line, l) in &parsed {
        let line = *line;
        match l {
            Line::Frame { index, frame } => {
                if current.is_some() {
                    return err(line, "the inlined frames come before the first block");
                }
                if *index as usize != f.frames.len() + 1 {
                    return err(line, format!("expected frame {}", f.frames.len() + 1));
                }
                if frame.caller >= *index {
                    return err(
                        line,
                        "a frame is called from the function or an earlier frame",
                    );
                }
                f.frames.push(*frame);
            }
            Line::Header { params, pc, .. } => {
                if !terminated {
                    return err(line, "the block before has no terminator");
                }
                let b = f.new_block(*pc);
                for _ in params {
                    f.add_param(b);
                }
                current = Some(b);
                terminated = false;
            }
            Line::Inst {
                result,
                body,
                pc,
                frame,
            } => {
                let Some(b) = current.filter(|_| !terminated) else {
                    return err(line, "an instruction outside a block");
                };
                let op = parse_op(&scope, line, body)?;
                if op.has_result() != result.is_some() {
                    return err(
                        line,
                        if op.has_result() {
                            "this instruction gives a value: name it 'vN = ...'"
                        } else {
                            "this instruction gives no value"
                        },
                    );
                }
                if *frame as usize > f.frames.len() {
                    return err(line, format!("there is no inlined frame {frame}"));
                }
                f.push(b, op, *pc);
                if let Some(inst) = f.insts.last_mut() {
                    inst.frame = *frame;
                }
            }
            Line::Term(text) => {
                let Some(b) = current.filter(|_| !terminated) else {
                    return err(line, "a terminator outside a block");
                };
                let term = parse_term(&scope, line, text)?;
                f.terminate(b, term);
                terminated = true;
            }
        }
    }
    if !terminated {
        return err(lines[lines.len() - 1].0, "the last block has no terminator");
    }
    if f.blocks.is_empty() {
        return err(line0, "a function needs at least one block");
    }
    Ok(f)
}

fn parse_term(scope: &Scope<'_>, line: usize, text: &str) -> Result<Terminator, ParseError> {
    let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    match word {
        "jump" => Ok(Terminator::Jump(scope.call(line, rest)?)),
        "return" => Ok(Terminator::Return(scope.value(line, rest)?)),
        "branch" => {
            let parts = split_top(rest);
            let [cond, then, else_] = parts.as_slice() else {
                return err(line, "expected 'branch vC, bT(..), bE(..)'");
            };
            Ok(Terminator::Branch {
                cond: scope.value(line, cond)?,
                then: scope.call(line, then)?,
                else_: scope.call(line, else_)?,
            })
        }
        _ => err(line, format!("'{word}' is not a terminator")),
    }
}

/// Splits at the commas outside parentheses and brackets.
fn split_top(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = text[start..].trim();
    if !last.is_empty() || !parts.is_empty() {
        parts.push(last);
    }
    parts
}

/// Splits `check [state]` at the last `[` (the state comes last; a `new_array`
/// before it has brackets of its own): the check, and the state without brackets.
fn split_state(line: usize, text: &str) -> Result<(&str, &str), ParseError> {
    let Some((check, state)) = text.rsplit_once('[') else {
        return err(
            line,
            "a frame state '[fN@pc: locals | operands > ...]' is missing",
        );
    };
    let Some(state) = state.trim().strip_suffix(']') else {
        return err(line, "a frame state ends with ']'");
    };
    Ok((check.trim(), state))
}

/// `f0@12: v0, v1 | v3 > f2@4: v7 |` (see [`state_text`]).
fn parse_state(scope: &Scope<'_>, line: usize, text: &str) -> Result<FrameState, ParseError> {
    let mut frames = Vec::new();
    for frame in text.split('>') {
        let Some((head, values)) = frame.split_once(':') else {
            return err(
                line,
                format!("'{}' is not 'fN@pc: locals | operands'", frame.trim()),
            );
        };
        let Some((func, pc)) = head.trim().split_once('@') else {
            return err(line, format!("'{}' is not 'fN@pc'", head.trim()));
        };
        let Some((locals, operands)) = values.split_once('|') else {
            return err(line, "a frame's locals and operands are split by '|'");
        };
        frames.push(super::StateFrame {
            func: function_index(line, func)?,
            pc: number(line, pc)?,
            locals: scope.values(line, locals)?,
            operands: scope.values(line, operands)?,
        });
    }
    if frames.is_empty() {
        return err(line, "a frame state has a frame");
    }
    Ok(FrameState { frames })
}

fn number<T: std::str::FromStr>(line: usize, text: &str) -> Result<T, ParseError> {
    text.trim()
        .parse()
        .or_else(|_| err(line, format!("'{}' is not a number", text.trim())))
}

fn function_index(line: usize, text: &str) -> Result<u32, ParseError> {
    match text.trim().strip_prefix('f').and_then(|n| n.parse().ok()) {
        Some(g) => Ok(g),
        None => err(line, format!("'{}' is not a function 'fN'", text.trim())),
    }
}

fn parse_op(scope: &Scope<'_>, line: usize, body: &str) -> Result<Op, ParseError> {
    let (word, rest) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
    let rest = rest.trim();
    let args = split_top(rest);
    let value = |i: usize| -> Result<Value, ParseError> {
        match args.get(i) {
            Some(a) => scope.value(line, a),
            None => err(line, format!("'{word}' needs operand {}", i + 1)),
        }
    };
    let imm = |i: usize| -> Result<&str, ParseError> {
        match args.get(i) {
            Some(a) => Ok(*a),
            None => err(line, format!("'{word}' needs operand {}", i + 1)),
        }
    };
    let want = |n: usize| -> Result<(), ParseError> {
        if args.len() == n {
            Ok(())
        } else {
            err(line, format!("'{word}' takes {n} operands"))
        }
    };
    let binop = |op| -> Result<Op, ParseError> {
        want(2)?;
        Ok(Op::Binary(op, value(0)?, value(1)?))
    };
    let cmp = |op| -> Result<Op, ParseError> {
        want(2)?;
        Ok(Op::Compare(op, value(0)?, value(1)?))
    };
    // `f2(v1, v2)` / `v3(v1)`: what is before the parenthesis, and the list.
    let callish = || -> Result<(&str, Vec<Value>), ParseError> {
        let Some((head, inner)) = rest.split_once('(') else {
            return err(line, format!("'{word}' needs '(args)'"));
        };
        let Some(inner) = inner.trim().strip_suffix(')') else {
            return err(line, format!("'{word}' needs '(args)'"));
        };
        Ok((head.trim(), scope.values(line, inner)?))
    };
    Ok(match word {
        "guard" => {
            let (check, state) = split_state(line, rest)?;
            let state = parse_state(scope, line, state)?;
            let (what, operands) = check.split_once(char::is_whitespace).unwrap_or((check, ""));
            let parts = split_top(operands.trim());
            let kind = match (what, parts.as_slice()) {
                ("int", [v]) => GuardKind::Int(scope.value(line, v)?),
                ("cond", [v, expected]) => GuardKind::Cond(
                    scope.value(line, v)?,
                    match *expected {
                        "true" => true,
                        "false" => false,
                        _ => return err(line, format!("'{expected}' is not true or false")),
                    },
                ),
                ("callee", [v, g]) => {
                    GuardKind::Callee(scope.value(line, v)?, function_index(line, g)?)
                }
                ("int" | "cond" | "callee", _) => {
                    return err(line, format!("wrong operands for 'guard {what}'"))
                }
                _ => GuardKind::Op(parse_op(scope, line, check)?),
            };
            Op::Guard(Box::new(super::Guard { kind, state }))
        }
        "checkpoint" => {
            let (check, state) = split_state(line, rest)?;
            if !check.is_empty() {
                return err(line, "a checkpoint has only a frame state");
            }
            Op::Checkpoint(Box::new(parse_state(scope, line, state)?))
        }
        "const" => {
            want(1)?;
            Op::Const(number(line, imm(0)?)?)
        }
        "func_ref" => {
            want(1)?;
            Op::FuncRef(function_index(line, imm(0)?)?)
        }
        "check_int" => {
            want(1)?;
            Op::CheckInt(value(0)?)
        }
        "check_array" => {
            want(1)?;
            Op::CheckArray(value(0)?)
        }
        "add" => binop(BinOp::Add)?,
        "sub" => binop(BinOp::Sub)?,
        "mul" => binop(BinOp::Mul)?,
        "div" => binop(BinOp::Div)?,
        "mod" => binop(BinOp::Mod)?,
        "neg" => {
            want(1)?;
            Op::Neg(value(0)?)
        }
        "not" => {
            want(1)?;
            Op::Not(value(0)?)
        }
        "lt" => cmp(CmpOp::Lt)?,
        "le" => cmp(CmpOp::Le)?,
        "gt" => cmp(CmpOp::Gt)?,
        "ge" => cmp(CmpOp::Ge)?,
        "eq" => cmp(CmpOp::Eq)?,
        "ne" => cmp(CmpOp::Ne)?,
        "new_array" => {
            let Some(inner) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
                return err(line, "expected 'new_array [v1, ..]'");
            };
            Op::NewArray(scope.values(line, inner)?)
        }
        "new_array_fill" => {
            want(2)?;
            Op::NewArrayFill(value(0)?, value(1)?)
        }
        "array_len" => {
            want(1)?;
            Op::ArrayLen(value(0)?)
        }
        "array_get" => {
            want(2)?;
            Op::ArrayGet(value(0)?, value(1)?)
        }
        "array_set" => {
            want(3)?;
            Op::ArraySet(value(0)?, value(1)?, value(2)?)
        }
        "new_object" => {
            want(0)?;
            Op::NewObject
        }
        "get_field" => {
            want(2)?;
            Op::GetField(value(0)?, number(line, imm(1)?)?)
        }
        "set_field" => {
            want(3)?;
            Op::SetField(value(0)?, number(line, imm(1)?)?, value(2)?)
        }
        "call" => {
            let (head, args) = callish()?;
            Op::Call {
                func: function_index(line, head)?,
                args,
            }
        }
        "call_value" => {
            let (head, args) = callish()?;
            Op::CallValue {
                callee: scope.value(line, head)?,
                args,
            }
        }
        "print" => {
            want(1)?;
            Op::Print(value(0)?)
        }
        "enter" => {
            want(0)?;
            Op::Enter
        }
        "leave" => {
            want(0)?;
            Op::Leave
        }
        "shl" => {
            want(2)?;
            Op::Shl(value(0)?, number(line, imm(1)?)?)
        }
        "sar" => {
            want(2)?;
            Op::Sar(value(0)?, number(line, imm(1)?)?)
        }
        "and" => {
            want(2)?;
            Op::And(value(0)?, number(line, imm(1)?)?)
        }
        "div_magic" | "mod_magic" => {
            let nonneg = match args.get(2) {
                None => false,
                Some(&"nonneg") if args.len() == 3 => true,
                _ => return err(line, format!("'{word}' takes 2 operands and 'nonneg'")),
            };
            let divisor: i64 = number(line, imm(1)?)?;
            if !(3..=stage1::value::INT_MAX).contains(&divisor) || divisor.count_ones() == 1 {
                return err(
                    line,
                    format!("'{word}' divides by 3..=INT_MAX but no power of two, not {divisor}"),
                );
            }
            Op::MagicDiv(
                value(0)?,
                super::Magic {
                    divisor,
                    remainder: word == "mod_magic",
                    nonneg,
                },
            )
        }
        "iadd" => {
            want(2)?;
            Op::IAdd(value(0)?, value(1)?)
        }
        "isub" => {
            want(2)?;
            Op::ISub(value(0)?, value(1)?)
        }
        "imul" => {
            want(2)?;
            Op::IMul(value(0)?, number(line, imm(1)?)?)
        }
        "min" => {
            want(2)?;
            Op::Min(value(0)?, value(1)?)
        }
        "load_element" => {
            want(2)?;
            Op::LoadElement(value(0)?, value(1)?)
        }
        "store_element" => {
            want(3)?;
            Op::StoreElement(value(0)?, value(1)?, value(2)?)
        }
        _ => return err(line, format!("'{word}' is not an instruction")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
function sample f1 {
b0(v0):  @0
    v1 = check_int v0  @1
    branch v1, b1, b2(v0)
b1:  @3
    v2 = call f2(v0, v1)  @3
    print v2  @4
    return v0
b2(v3):  @5
    v4 = const -7  @5
    v5 = new_array [v3, v4]  @6
    v6 = mod_magic v4, 65537, nonneg  @7
    v7 = div_magic v3, 7  @7
    jump b1
}
";

    #[test]
    fn print_reads_back_what_parse_read() {
        let f = parse(SAMPLE).unwrap();
        assert_eq!(print(&f), SAMPLE);
        assert_eq!(parse(&print(&f)).unwrap(), f);
    }

    const GUARDED: &str = "\
function guarded f1 {
b0(v0, v1):  @0
    v2 = array_get v0, v1  @2
    v3 = guard int v2 [f1@3: v0, v1 | v2]  @2
    checkpoint [f1@4: v0, v1 | v3, v3]  @4
    v4 = guard add v3, v3 [f1@4: v0, v1 | v3, v3]  @4
    guard cond v4, true [f0@7: v0 | > f1@5: v0, v1 | v4]  @5
    guard callee v0, f2 [f1@6: v0, v1 | v0]  @6
    guard set_field v0, 1, v4 [f1@8: v0, v1 | v0, v4]  @8
    return v4
}
";

    #[test]
    fn guards_and_checkpoints_read_back() {
        let f = parse(GUARDED).unwrap();
        assert_eq!(print(&f), GUARDED);
        let Op::Guard(guard) = &f.insts[4].op else {
            panic!("the fifth instruction is a guard");
        };
        assert_eq!(guard.kind, GuardKind::Cond(Value(4), true));
        assert_eq!(guard.state.frames.len(), 2);
        assert_eq!(guard.state.frames[0].operands, vec![]);
        assert_eq!(guard.state.innermost().pc, 5);
        // A guard's frame state is made of operands: every pass sees them as uses.
        assert_eq!(
            f.insts[4].op.args(),
            vec![Value(4), Value(0), Value(0), Value(1), Value(4)]
        );
        assert!(!f.insts[4].op.has_result() && f.insts[4].op.can_fail());
        assert!(f.insts[1].op.gives_int() && f.insts[3].op.gives_int());
        let bad = GUARDED.replace("[f1@3: v0, v1 | v2]", "[f1@3 v0]");
        assert_eq!(parse(&bad).unwrap_err().line, 4);
    }

    const INLINED: &str = "\
function outer f0 {
    frame 1: f2 called at @4
    frame 2: f3 called at @1 in 1
b0(v0):  @0
    enter  @4
    v1 = guard int v0 [f0@4: v0 | > f2@2: v0 | v0]  @1 in 1
    enter  @1 in 1
    v2 = mul v1, v1  @3 in 2
    leave  @5 in 2
    leave  @6 in 1
    return v2
}
";

    #[test]
    fn inlined_frames_read_back() {
        let f = parse(INLINED).unwrap();
        assert_eq!(print(&f), INLINED);
        assert_eq!(
            f.frames,
            vec![
                super::super::Frame {
                    func: 2,
                    call_pc: 4,
                    caller: 0
                },
                super::super::Frame {
                    func: 3,
                    call_pc: 1,
                    caller: 1
                },
            ]
        );
        let frames: Vec<u32> = f.insts.iter().map(|i| i.frame).collect();
        assert_eq!(frames, vec![0, 1, 1, 2, 2, 1]);
        assert_eq!(f.insts[3].pc, 3);
        // An instruction of a frame not declared, a frame declared late or out of
        // order, and a block in a frame are refused, each at its line.
        let bad = INLINED.replace("@3 in 2", "@3 in 3");
        assert_eq!(parse(&bad).unwrap_err().line, 8);
        let bad = INLINED.replace("frame 2: f3 called at @1 in 1", "frame 3: f3 called at @1");
        assert_eq!(parse(&bad).unwrap_err().line, 3);
        let bad = INLINED.replace("called at @1 in 1", "called at @1 in 2");
        assert_eq!(parse(&bad).unwrap_err().line, 3);
        let bad = INLINED.replace("b0(v0):  @0", "b0(v0):  @0 in 1");
        assert_eq!(parse(&bad).unwrap_err().line, 4);
    }

    #[test]
    fn errors_name_the_line() {
        let bad = SAMPLE.replace("check_int v0", "check_int v9");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let bad = SAMPLE.replace("print v2", "v7 = print v2");
        assert!(parse(&bad).is_err());
    }
}
