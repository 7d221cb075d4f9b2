//! The parser: tokens to a [`Module`], by recursive descent with precedence climbing.
//!
//! Recursion is bounded: every level of real nesting (a parenthesis, a bracket, a
//! brace, a prefix or postfix operator, a block) counts against [`MAX_DEPTH`], so that
//! no input — 100,000 `(` — can overflow the native stack here, in the compiler that
//! walks the tree, or when the tree is dropped. A chain of binary operators
//! (`1 + 1 + … + 1`, `a && b && …`) is not nesting: it is read by a loop, whatever its
//! length, and the compiler and the tree's drop walk it by loops too.

use super::ast::{BinOp, Block, Expr, ExprKind, FnDecl, Module, Pos, Stmt, StmtKind, UnOp};
use super::lexer::{Lexer, Tok, Token, RESERVED};
use crate::error::SourceError;

/// How deeply expressions and blocks may nest. Real programs stay far below it; the
/// parser and the compiler use a few hundred bytes of stack per level, so even a
/// 2 MiB test thread has room for it.
pub const MAX_DEPTH: u32 = 1000;

/// Parses `source` (from `file`, for error positions).
pub fn parse(file: &str, source: &str) -> Result<Module> {
    let mut lexer = Lexer::new(source);
    let mut parser = Parser {
        file,
        current: lexer.next_token(),
        lexer,
        depth: 0,
    };
    parser.module()
}

struct Parser<'a> {
    file: &'a str,
    /// Where the next tokens come from, one at a time.
    lexer: Lexer<'a>,
    /// The current token; once it is `Eof` or `Error`, it stays.
    current: Token,
    /// Current nesting, bounded by [`MAX_DEPTH`].
    depth: u32,
}

type Result<T> = std::result::Result<T, SourceError>;

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.current.tok
    }

    fn pos(&self) -> Pos {
        let t = &self.current;
        Pos {
            line: t.line,
            column: t.column,
        }
    }

    /// Moves past the current token, returning its position.
    fn advance(&mut self) -> Pos {
        let pos = self.pos();
        if !matches!(self.current.tok, Tok::Eof | Tok::Error(_)) {
            self.current = self.lexer.next_token();
        }
        pos
    }

    fn error_at(&self, pos: Pos, message: impl Into<String>) -> SourceError {
        SourceError::new(self.file, pos.line, pos.column, message)
    }

    /// An error at the current token; when that token is a lexical error, that error.
    fn error_here(&self, message: impl Into<String>) -> SourceError {
        match self.peek() {
            Tok::Error(lexical) => self.error_at(self.pos(), lexical.clone()),
            _ => self.error_at(self.pos(), message),
        }
    }

    /// "expected X WHERE, found Y" at the current token.
    fn expected(&self, what: &str) -> SourceError {
        self.error_here(format!("expected {what}, found {}", self.peek().describe()))
    }

    fn at_sym(&self, sym: &str) -> bool {
        matches!(self.peek(), Tok::Sym(s) if *s == sym)
    }

    fn at_word(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Word(w) if w == word)
    }

    /// Consumes `sym` or fails with "expected 'sym' CONTEXT".
    fn expect_sym(&mut self, sym: &str, context: &str) -> Result<Pos> {
        if self.at_sym(sym) {
            Ok(self.advance())
        } else {
            Err(self.expected(&format!("'{sym}' {context}")))
        }
    }

    /// Consumes a name that is not reserved: a variable, function or parameter.
    fn name(&mut self, what: &str) -> Result<(String, Pos)> {
        match self.peek() {
            Tok::Word(w) if RESERVED.contains(&w.as_str()) => {
                Err(self.error_here(format!("'{w}' is reserved")))
            }
            Tok::Word(w) => {
                let w = w.clone();
                Ok((w, self.advance()))
            }
            _ => Err(self.expected(what)),
        }
    }

    /// Enters one level of nesting at `pos`.
    fn enter(&mut self, pos: Pos, what: &str) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_at(
                pos,
                format!("{what} nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self, levels: u32) {
        self.depth -= levels;
    }

    fn module(&mut self) -> Result<Module> {
        let mut functions = Vec::new();
        let mut stmts = Vec::new();
        loop {
            match self.peek() {
                Tok::Eof => break,
                Tok::Word(w) if w == "fn" => functions.push(self.function()?),
                _ => stmts.push(self.statement()?),
            }
        }
        let end = self.pos();
        Ok(Module {
            functions,
            main: Block { stmts, end },
        })
    }

    fn function(&mut self) -> Result<FnDecl> {
        self.advance(); // fn
        let (name, pos) = self.name("a function name after 'fn'")?;
        self.expect_sym("(", "after the function name")?;
        let mut params = Vec::new();
        while !self.at_sym(")") {
            params.push(self.name("a parameter name")?);
            if !self.at_sym(")") {
                self.expect_sym(",", "between parameters")?;
            }
        }
        self.advance(); // )
        let body = self.block("the function body")?;
        Ok(FnDecl {
            name,
            pos,
            params,
            body,
        })
    }

    fn block(&mut self, what: &str) -> Result<Block> {
        let open = self.expect_sym("{", &format!("to begin {what}"))?;
        self.enter(open, "block")?;
        let mut stmts = Vec::new();
        while !self.at_sym("}") {
            if matches!(self.peek(), Tok::Eof) {
                return Err(self.expected(&format!(
                    "'}}' to close the block opened at {}:{}",
                    open.line, open.column
                )));
            }
            stmts.push(self.statement()?);
        }
        let end = self.advance();
        self.leave(1);
        Ok(Block { stmts, end })
    }

    fn statement(&mut self) -> Result<Stmt> {
        let pos = self.pos();
        let word = match self.peek() {
            Tok::Word(w) => w.clone(),
            _ => String::new(),
        };
        let kind = match word.as_str() {
            "fn" => {
                return Err(self.error_here(
                    "functions are declared at the top level only, not inside a block",
                ))
            }
            "let" => {
                self.advance();
                let (name, _) = self.name("a variable name after 'let'")?;
                self.expect_sym("=", "after the variable name")?;
                let init = self.expression()?;
                self.expect_sym(";", "after the 'let' statement")?;
                StmtKind::Let { name, init }
            }
            "if" => {
                self.advance();
                let mut branches = vec![(self.expression()?, self.block("the 'if' body")?)];
                let mut otherwise = None;
                while self.at_word("else") {
                    self.advance();
                    if self.at_word("if") {
                        self.advance();
                        branches.push((self.expression()?, self.block("the 'if' body")?));
                    } else {
                        otherwise = Some(self.block("the 'else' body")?);
                        break;
                    }
                }
                StmtKind::If {
                    branches,
                    otherwise,
                }
            }
            "while" => {
                self.advance();
                let cond = self.expression()?;
                let body = self.block("the 'while' body")?;
                StmtKind::While { cond, body }
            }
            "return" => {
                self.advance();
                let value = if self.at_sym(";") {
                    None
                } else {
                    Some(self.expression()?)
                };
                self.expect_sym(";", "after the 'return' statement")?;
                StmtKind::Return(value)
            }
            "print" => {
                self.advance();
                let value = self.expression()?;
                self.expect_sym(";", "after the 'print' statement")?;
                StmtKind::Print(value)
            }
            "else" => return Err(self.error_here("'else' without an 'if' before it")),
            _ => {
                let target = self.expression()?;
                if self.at_sym("=") {
                    let eq = self.advance();
                    if !matches!(
                        target.kind,
                        ExprKind::Name(_) | ExprKind::Index { .. } | ExprKind::Field { .. }
                    ) {
                        return Err(self.error_at(
                            eq,
                            "cannot assign to this expression: only a name, `a[i]` or `o.f`",
                        ));
                    }
                    let value = self.expression()?;
                    self.expect_sym(";", "after the assignment")?;
                    return Ok(Stmt {
                        kind: StmtKind::Assign { target, value },
                        pos: eq,
                    });
                }
                self.expect_sym(";", "after expression")?;
                StmtKind::Expr(target)
            }
        };
        Ok(Stmt { kind, pos })
    }

    fn expression(&mut self) -> Result<Expr> {
        self.binary(0)
    }

    /// The binary operator at the current token and its precedence (higher binds
    /// tighter), if there is one.
    fn binary_operator(&self) -> Option<(Option<BinOp>, u8)> {
        let Tok::Sym(s) = self.peek() else {
            return None;
        };
        Some(match *s {
            "||" => (None, 0),
            "&&" => (None, 1),
            "==" => (Some(BinOp::Eq), 2),
            "!=" => (Some(BinOp::Ne), 2),
            "<" => (Some(BinOp::Lt), 3),
            "<=" => (Some(BinOp::Le), 3),
            ">" => (Some(BinOp::Gt), 3),
            ">=" => (Some(BinOp::Ge), 3),
            "+" => (Some(BinOp::Add), 4),
            "-" => (Some(BinOp::Sub), 4),
            "*" => (Some(BinOp::Mul), 5),
            "/" => (Some(BinOp::Div), 5),
            "%" => (Some(BinOp::Mod), 5),
            _ => return None,
        })
    }

    /// Binary operators of precedence `min` and above, left associative.
    ///
    /// A chain `a + b + c` is read by this loop, not by recursion, so its length is
    /// not nesting: it may be as long as the input. Its tree is left-deep (its depth is
    /// its length), which is why the compiler walks a chain's left spine in a loop and
    /// [`Expr`]'s drop unlinks it. The right operand is parsed one precedence level
    /// up, so recursion here is bounded by the levels of precedence per real nesting.
    fn binary(&mut self, min: u8) -> Result<Expr> {
        let mut left = self.unary()?;
        while let Some((op, precedence)) = self.binary_operator() {
            if precedence < min {
                break;
            }
            let is_and = self.at_sym("&&");
            let pos = self.advance();
            let right = Box::new(self.binary(precedence + 1)?);
            let left_box = Box::new(left);
            let kind = match op {
                Some(op) => ExprKind::Binary {
                    op,
                    left: left_box,
                    right,
                },
                None if is_and => ExprKind::And {
                    left: left_box,
                    right,
                },
                None => ExprKind::Or {
                    left: left_box,
                    right,
                },
            };
            left = Expr { kind, pos };
        }
        Ok(left)
    }

    /// Prefix `-` and `!`, then a postfix expression.
    fn unary(&mut self) -> Result<Expr> {
        let mut ops = Vec::new();
        loop {
            let op = if self.at_sym("-") {
                UnOp::Neg
            } else if self.at_sym("!") {
                UnOp::Not
            } else {
                break;
            };
            let pos = self.advance();
            self.enter(pos, "expression")?;
            ops.push((op, pos));
        }
        let mut expr = self.postfix()?;
        self.leave(ops.len() as u32);
        while let Some((op, pos)) = ops.pop() {
            expr = Expr {
                kind: ExprKind::Unary {
                    op,
                    operand: Box::new(expr),
                },
                pos,
            };
        }
        Ok(expr)
    }

    /// A primary expression followed by calls, indexing and field accesses.
    fn postfix(&mut self) -> Result<Expr> {
        let mut expr = self.primary()?;
        let mut levels = 0;
        loop {
            let pos = self.pos();
            let kind = if self.at_sym("(") {
                self.advance();
                self.enter(pos, "expression")?;
                let args = self.arguments()?;
                ExprKind::Call {
                    callee: Box::new(expr),
                    args,
                }
            } else if self.at_sym("[") {
                self.advance();
                self.enter(pos, "expression")?;
                let index = self.expression()?;
                self.expect_sym("]", "after the index")?;
                ExprKind::Index {
                    array: Box::new(expr),
                    index: Box::new(index),
                }
            } else if self.at_sym(".") {
                self.advance();
                self.enter(pos, "expression")?;
                let name = self.field_name()?.0;
                ExprKind::Field {
                    object: Box::new(expr),
                    name,
                }
            } else {
                break;
            };
            levels += 1;
            expr = Expr { kind, pos };
        }
        self.leave(levels);
        Ok(expr)
    }

    /// The arguments of a call, after its `(`, up to and including the `)`.
    fn arguments(&mut self) -> Result<Vec<Expr>> {
        let mut args = Vec::new();
        while !self.at_sym(")") {
            args.push(self.expression()?);
            if !self.at_sym(")") {
                self.expect_sym(",", "between arguments")?;
            }
        }
        self.advance();
        Ok(args)
    }

    /// A field name: any word, reserved ones included (`o.len` is a field).
    fn field_name(&mut self) -> Result<(String, Pos)> {
        match self.peek() {
            Tok::Word(w) => {
                let w = w.clone();
                Ok((w, self.advance()))
            }
            _ => Err(self.expected("a field name")),
        }
    }

    fn primary(&mut self) -> Result<Expr> {
        let pos = self.pos();
        let kind = match self.peek().clone() {
            Tok::Int(n) => {
                self.advance();
                ExprKind::Int(n)
            }
            Tok::Word(w) => match w.as_str() {
                "true" | "false" => {
                    self.advance();
                    ExprKind::Int((w == "true") as i64)
                }
                "len" => {
                    self.advance();
                    if !self.at_sym("(") {
                        return Err(
                            self.error_at(pos, "'len' is reserved: it is the built-in len(array)")
                        );
                    }
                    let open = self.advance();
                    self.enter(open, "expression")?;
                    let mut args = self.arguments()?;
                    self.leave(1);
                    if args.len() != 1 {
                        return Err(self.error_at(
                            pos,
                            format!(
                                "len takes exactly one argument (an array), not {}",
                                args.len()
                            ),
                        ));
                    }
                    return Ok(Expr {
                        kind: ExprKind::Len(Box::new(args.remove(0))),
                        pos: open,
                    });
                }
                _ if RESERVED.contains(&w.as_str()) => {
                    return Err(self.expected("an expression"));
                }
                _ => {
                    self.advance();
                    ExprKind::Name(w)
                }
            },
            Tok::Sym("(") => {
                self.advance();
                self.enter(pos, "expression")?;
                let inner = self.expression()?;
                self.expect_sym(")", "to close the parenthesis")?;
                self.leave(1);
                return Ok(inner);
            }
            Tok::Sym("[") => {
                self.advance();
                self.enter(pos, "expression")?;
                let kind = self.array_literal()?;
                self.leave(1);
                kind
            }
            Tok::Sym("{") => {
                self.advance();
                self.enter(pos, "expression")?;
                let mut fields = Vec::new();
                while !self.at_sym("}") {
                    let (name, at) = self.field_name()?;
                    self.expect_sym(":", "after the field name")?;
                    fields.push((name, at, self.expression()?));
                    if !self.at_sym("}") {
                        self.expect_sym(",", "between fields")?;
                    }
                }
                self.advance();
                self.leave(1);
                ExprKind::Object(fields)
            }
            _ => return Err(self.expected("an expression")),
        };
        Ok(Expr { kind, pos })
    }

    /// After `[`: `]`, `a, b, c]` or `v; n]`.
    fn array_literal(&mut self) -> Result<ExprKind> {
        let mut elements = Vec::new();
        while !self.at_sym("]") {
            let element = self.expression()?;
            if elements.is_empty() && self.at_sym(";") {
                self.advance();
                let count = self.expression()?;
                self.expect_sym("]", "after the array length")?;
                return Ok(ExprKind::ArrayFill {
                    value: Box::new(element),
                    count: Box::new(count),
                });
            }
            elements.push(element);
            if !self.at_sym("]") {
                self.expect_sym(",", "between array elements")?;
            }
        }
        self.advance();
        Ok(ExprKind::Array(elements))
    }
}
