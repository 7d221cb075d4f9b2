//! The compiler: a [`Module`] to a [`Program`] of stack bytecode.
//!
//! `main` is function 0 and holds the top-level statements; the declared functions
//! follow in the order of the source. Each `let` gets a local slot of its own, and the
//! slots of a block are free again after it. The compiler never emits unreachable code
//! (after a `return`, the rest of a block is checked but not emitted), so that every
//! instruction of a compiled program has one known stack depth, which the verifier
//! requires. Constants and field names are interned when the instruction that uses them
//! is emitted, so the pools are in order of first appearance, as `.jasm` writes them.

use std::collections::HashMap;

use super::ast::{BinOp, Block, Expr, ExprKind, Module, Pos, Stmt, StmtKind, UnOp};
use crate::bytecode::{FnId, Function, Instr, Program};
use crate::error::SourceError;
use crate::verify::MAX_LOCALS;

type Result<T> = std::result::Result<T, SourceError>;

/// Compiles a parsed module (read from `file`, for error positions).
pub fn compile_module(file: &str, module: &Module) -> Result<Program> {
    let mut functions: HashMap<&str, (FnId, u32)> = HashMap::new();
    for (i, decl) in module.functions.iter().enumerate() {
        let error =
            |message: String| SourceError::new(file, decl.pos.line, decl.pos.column, message);
        if decl.name == "main" {
            return Err(error(
                "'main' names the program's top-level code; choose another name".to_string(),
            ));
        }
        if functions.contains_key(decl.name.as_str()) {
            return Err(error(format!("function '{}' is declared twice", decl.name)));
        }
        if decl.params.len() > MAX_LOCALS as usize {
            return Err(error(format!(
                "function '{}' has more than {MAX_LOCALS} parameters",
                decl.name
            )));
        }
        functions.insert(&decl.name, ((i + 1) as FnId, decl.params.len() as u32));
    }

    let mut pools = Pools::default();
    let mut program = Program::default();
    let mut first_error: Option<SourceError> = None;
    let mut keep = |result: Result<Function>, program: &mut Program| match result {
        Ok(function) => program.functions.push(function),
        Err(e) => {
            let earlier = match &first_error {
                Some(f) => (e.line, e.column) < (f.line, f.column),
                None => true,
            };
            if earlier {
                first_error = Some(e);
            }
        }
    };
    let main = ("main", &[][..], &module.main);
    let declared = module
        .functions
        .iter()
        .map(|f| (f.name.as_str(), &f.params[..], &f.body));
    for (name, params, body) in std::iter::once(main).chain(declared) {
        let result = FunctionCompiler::new(file, &functions, &mut pools, params)
            .and_then(|fc| fc.compile(name, params.len() as u32, body));
        keep(result, &mut program);
    }
    match first_error {
        Some(e) => Err(e),
        None => {
            program.constants = pools.constants;
            program.fields = pools.fields;
            Ok(program)
        }
    }
}

/// The constant and field pools, with an index for interning in constant time.
#[derive(Default)]
struct Pools {
    constants: Vec<i64>,
    constant_index: HashMap<i64, u32>,
    fields: Vec<String>,
    field_index: HashMap<String, u32>,
}

impl Pools {
    fn constant(&mut self, value: i64) -> u32 {
        *self.constant_index.entry(value).or_insert_with(|| {
            self.constants.push(value);
            (self.constants.len() - 1) as u32
        })
    }

    fn field(&mut self, name: &str) -> u32 {
        if let Some(&k) = self.field_index.get(name) {
            return k;
        }
        self.fields.push(name.to_string());
        let k = (self.fields.len() - 1) as u32;
        self.field_index.insert(name.to_string(), k);
        k
    }
}

/// A forward jump waiting for its target: the index of the jump, or `None` when it
/// was not emitted because the code was unreachable.
type Pending = Option<usize>;

/// The state of compiling one function.
struct FunctionCompiler<'a> {
    file: &'a str,
    functions: &'a HashMap<&'a str, (FnId, u32)>,
    pools: &'a mut Pools,
    code: Vec<Instr>,
    lines: Vec<u32>,
    /// False after a `return`, `jump` or `loop`, until a label with a jump to it.
    reachable: bool,
    /// The names declared in each open block, innermost block last.
    scopes: Vec<Vec<String>>,
    /// The slots of each name in scope, innermost last: a lookup is one hash, however
    /// many locals the function has.
    bindings: HashMap<String, Vec<u32>>,
    next_slot: u32,
    max_slots: u32,
}

impl<'a> FunctionCompiler<'a> {
    fn new(
        file: &'a str,
        functions: &'a HashMap<&'a str, (FnId, u32)>,
        pools: &'a mut Pools,
        declared: &[(String, Pos)],
    ) -> Result<FunctionCompiler<'a>> {
        let mut params: Vec<String> = Vec::new();
        let mut bindings: HashMap<String, Vec<u32>> = HashMap::new();
        for (name, pos) in declared {
            if bindings.contains_key(name) {
                return Err(SourceError::new(
                    file,
                    pos.line,
                    pos.column,
                    format!("parameter '{name}' is declared twice"),
                ));
            }
            bindings.insert(name.clone(), vec![params.len() as u32]);
            params.push(name.clone());
        }
        let arity = params.len() as u32;
        Ok(FunctionCompiler {
            file,
            functions,
            pools,
            code: Vec::new(),
            lines: Vec::new(),
            reachable: true,
            scopes: vec![params],
            bindings,
            next_slot: arity,
            max_slots: arity,
        })
    }

    fn compile(mut self, name: &str, arity: u32, body: &Block) -> Result<Function> {
        self.statements(&body.stmts)?;
        let end = body.end.line;
        self.constant(0, end);
        self.emit(Instr::Return, end);
        Ok(Function {
            name: name.to_string(),
            arity,
            locals: self.max_slots,
            code: self.code,
            lines: self.lines,
        })
    }

    fn error(&self, pos: Pos, message: impl Into<String>) -> SourceError {
        SourceError::new(self.file, pos.line, pos.column, message)
    }

    /// Appends `instr` when the code is reachable.
    fn emit(&mut self, instr: Instr, line: u32) {
        if !self.reachable {
            return;
        }
        self.code.push(instr);
        self.lines.push(line);
        if matches!(instr, Instr::Return | Instr::Jump(_) | Instr::Loop(_)) {
            self.reachable = false;
        }
    }

    fn constant(&mut self, value: i64, line: u32) {
        if self.reachable {
            let k = self.pools.constant(value);
            self.emit(Instr::Const(k), line);
        }
    }

    fn field_instr(&mut self, make: fn(u32) -> Instr, name: &str, line: u32) {
        if self.reachable {
            let k = self.pools.field(name);
            self.emit(make(k), line);
        }
    }

    /// Emits a forward jump made by `make`, to be aimed by [`Self::bind`].
    fn jump(&mut self, make: fn(u32) -> Instr, line: u32) -> Pending {
        let at = self.reachable.then_some(self.code.len());
        self.emit(make(u32::MAX), line);
        at
    }

    /// Aims `jumps` at the next instruction, which is reachable when one of them is.
    fn bind(&mut self, jumps: &[Pending]) {
        let target = self.code.len() as u32;
        for &at in jumps.iter().flatten() {
            self.code[at] = match self.code[at] {
                Instr::Jump(_) => Instr::Jump(target),
                Instr::JumpIfFalse(_) => Instr::JumpIfFalse(target),
                Instr::JumpIfTrue(_) => Instr::JumpIfTrue(target),
                other => other,
            };
            self.reachable = true;
        }
    }

    fn lookup_local(&self, name: &str) -> Option<u32> {
        self.bindings
            .get(name)
            .and_then(|slots| slots.last())
            .copied()
    }

    fn statements(&mut self, stmts: &[Stmt]) -> Result<()> {
        stmts.iter().try_for_each(|s| self.statement(s))
    }

    fn block(&mut self, block: &Block) -> Result<()> {
        self.scopes.push(Vec::new());
        let saved = self.next_slot;
        let result = self.statements(&block.stmts);
        for name in self.scopes.pop().into_iter().flatten() {
            if let Some(slots) = self.bindings.get_mut(&name) {
                slots.pop();
            }
        }
        self.next_slot = saved;
        result
    }

    fn statement(&mut self, stmt: &Stmt) -> Result<()> {
        let line = stmt.pos.line;
        match &stmt.kind {
            StmtKind::Let { name, init } => {
                self.expr(init)?;
                if self.next_slot >= MAX_LOCALS {
                    return Err(self.error(
                        stmt.pos,
                        format!("too many local variables (more than {MAX_LOCALS})"),
                    ));
                }
                let slot = self.next_slot;
                self.next_slot += 1;
                self.max_slots = self.max_slots.max(self.next_slot);
                self.scopes
                    .last_mut()
                    .expect("a function always has its parameter scope")
                    .push(name.clone());
                self.bindings.entry(name.clone()).or_default().push(slot);
                self.emit(Instr::StoreLocal(slot), line);
            }
            StmtKind::Assign { target, value } => match &target.kind {
                ExprKind::Name(name) => {
                    let Some(slot) = self.lookup_local(name) else {
                        let message = if self.functions.contains_key(name.as_str()) {
                            format!("cannot assign to function '{name}'")
                        } else {
                            format!("unknown name '{name}': declare it with 'let'")
                        };
                        return Err(self.error(target.pos, message));
                    };
                    self.expr(value)?;
                    self.emit(Instr::StoreLocal(slot), line);
                }
                ExprKind::Index { array, index } => {
                    self.expr(array)?;
                    self.expr(index)?;
                    self.expr(value)?;
                    self.emit(Instr::ArraySet, target.pos.line);
                }
                ExprKind::Field { object, name } => {
                    self.expr(object)?;
                    self.expr(value)?;
                    self.field_instr(Instr::SetField, name, target.pos.line);
                }
                _ => return Err(self.error(stmt.pos, "cannot assign to this expression")),
            },
            StmtKind::If {
                branches,
                otherwise,
            } => {
                let mut ends = Vec::new();
                for (i, (cond, body)) in branches.iter().enumerate() {
                    self.expr(cond)?;
                    let next = self.jump(Instr::JumpIfFalse, cond.pos.line);
                    self.block(body)?;
                    if i + 1 < branches.len() || otherwise.is_some() {
                        ends.push(self.jump(Instr::Jump, body.end.line));
                    }
                    self.bind(&[next]);
                }
                if let Some(body) = otherwise {
                    self.block(body)?;
                }
                self.bind(&ends);
            }
            StmtKind::While { cond, body } => {
                let start = self.code.len() as u32;
                self.expr(cond)?;
                let exit = self.jump(Instr::JumpIfFalse, line);
                self.block(body)?;
                self.emit(Instr::Loop(start), line);
                self.bind(&[exit]);
            }
            StmtKind::Return(value) => {
                match value {
                    Some(value) => self.expr(value)?,
                    None => self.constant(0, line),
                }
                self.emit(Instr::Return, line);
            }
            StmtKind::Print(value) => {
                self.expr(value)?;
                self.emit(Instr::Print, line);
            }
            StmtKind::Expr(value) => {
                self.expr(value)?;
                self.emit(Instr::Pop, line);
            }
        }
        Ok(())
    }

    fn expr(&mut self, expr: &Expr) -> Result<()> {
        let line = expr.pos.line;
        match &expr.kind {
            ExprKind::Int(n) => self.constant(*n, line),
            ExprKind::Name(name) => {
                if let Some(slot) = self.lookup_local(name) {
                    self.emit(Instr::LoadLocal(slot), line);
                } else if let Some(&(func, _)) = self.functions.get(name.as_str()) {
                    self.emit(Instr::FuncRef(func), line);
                } else {
                    return Err(self.error(expr.pos, format!("unknown name '{name}'")));
                }
            }
            ExprKind::Call { callee, args } => {
                if let ExprKind::Name(name) = &callee.kind {
                    if self.lookup_local(name).is_none() {
                        let Some(&(func, arity)) = self.functions.get(name.as_str()) else {
                            return Err(self.error(callee.pos, format!("unknown name '{name}'")));
                        };
                        if args.len() != arity as usize {
                            return Err(self.error(
                                callee.pos,
                                format!(
                                    "function '{name}' takes {arity} argument{}, but {} {} given",
                                    if arity == 1 { "" } else { "s" },
                                    args.len(),
                                    if args.len() == 1 { "is" } else { "are" },
                                ),
                            ));
                        }
                        for arg in args {
                            self.expr(arg)?;
                        }
                        // The arity fits: parameters are at most MAX_LOCALS (u16::MAX).
                        let argc = arity as u16;
                        self.emit(Instr::Call { func, argc }, line);
                        return Ok(());
                    }
                }
                self.expr(callee)?;
                for arg in args {
                    self.expr(arg)?;
                }
                self.emit(Instr::CallValue(args.len() as u32), line);
            }
            ExprKind::Index { array, index } => {
                self.expr(array)?;
                self.expr(index)?;
                self.emit(Instr::ArrayGet, line);
            }
            ExprKind::Field { object, name } => {
                self.expr(object)?;
                self.field_instr(Instr::GetField, name, line);
            }
            ExprKind::Array(elements) => {
                for e in elements {
                    self.expr(e)?;
                }
                self.emit(Instr::NewArray(elements.len() as u32), line);
            }
            ExprKind::ArrayFill { value, count } => {
                self.expr(value)?;
                self.expr(count)?;
                self.emit(Instr::NewArrayFill, line);
            }
            ExprKind::Object(fields) => {
                self.emit(Instr::NewObject, line);
                for (name, pos, value) in fields {
                    self.emit(Instr::Dup, pos.line);
                    self.expr(value)?;
                    self.field_instr(Instr::SetField, name, pos.line);
                }
            }
            ExprKind::Len(array) => {
                self.expr(array)?;
                self.emit(Instr::ArrayLen, line);
            }
            ExprKind::Unary { op, operand } => match (op, &operand.kind) {
                // A negative literal is one constant (it cannot overflow: literals
                // are at most 2^62 - 1).
                (UnOp::Neg, ExprKind::Int(n)) => self.constant(-n, line),
                (UnOp::Neg, _) => {
                    self.expr(operand)?;
                    self.emit(Instr::Neg, line);
                }
                (UnOp::Not, _) => {
                    self.expr(operand)?;
                    self.emit(Instr::Not, line);
                }
            },
            // A chain is left-deep and as long as the input: walked by a loop.
            ExprKind::Binary { .. } | ExprKind::And { .. } | ExprKind::Or { .. } => {
                self.chain(expr)?
            }
        }
        Ok(())
    }

    /// A chain of binary, `&&` and `||` operators, `((a op b) op c) op …`: the same
    /// code as compiling each node recursively, made by a loop over the chain's left
    /// spine, so a chain of any length takes no native stack.
    fn chain(&mut self, expr: &Expr) -> Result<()> {
        let mut links = Vec::new();
        let mut first = expr;
        while let Some(left) = first.kind.chain_left() {
            links.push(first);
            first = left;
        }
        self.expr(first)?;
        for link in links.iter().rev() {
            let line = link.pos.line;
            match &link.kind {
                ExprKind::Binary { op, right, .. } => {
                    self.expr(right)?;
                    let instr = match op {
                        BinOp::Add => Instr::Add,
                        BinOp::Sub => Instr::Sub,
                        BinOp::Mul => Instr::Mul,
                        BinOp::Div => Instr::Div,
                        BinOp::Mod => Instr::Mod,
                        BinOp::Lt => Instr::Lt,
                        BinOp::Le => Instr::Le,
                        BinOp::Gt => Instr::Gt,
                        BinOp::Ge => Instr::Ge,
                        BinOp::Eq => Instr::Eq,
                        BinOp::Ne => Instr::Ne,
                    };
                    self.emit(instr, line);
                }
                // `a && b`: both are checked as conditions; the result is 0 or 1.
                //     a; jump_if_false F; b; jump_if_false F; const 1; jump E; F: const 0; E:
                ExprKind::And { right, .. } => {
                    self.short_circuit(right, Instr::JumpIfFalse, line)?
                }
                ExprKind::Or { right, .. } => self.short_circuit(right, Instr::JumpIfTrue, line)?,
                _ => unreachable!("a chain link is a binary, && or || node"),
            }
        }
        Ok(())
    }

    /// The rest of `left && right` (with `jump_if_false`) or `left || right` (with
    /// `jump_if_true`), `left` being compiled already.
    fn short_circuit(&mut self, right: &Expr, jump: fn(u32) -> Instr, line: u32) -> Result<()> {
        let decided = (jump(0) == Instr::JumpIfTrue(0)) as i64;
        let first = self.jump(jump, line);
        self.expr(right)?;
        let second = self.jump(jump, line);
        self.constant(1 - decided, line);
        let end = self.jump(Instr::Jump, line);
        self.bind(&[first, second]);
        self.constant(decided, line);
        self.bind(&[end]);
        Ok(())
    }
}
