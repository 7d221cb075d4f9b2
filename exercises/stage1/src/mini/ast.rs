//! The syntax tree of a Mini program, as the parser builds it and the compiler reads it.
//!
//! Every node keeps the position of the token that names it (the operator of a binary
//! expression, the `(` of a call, the `[` of an index, the `.` of a field), because that
//! is the line its instructions carry and the place its errors point at.

/// A 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

/// A binary operator that compiles to one instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A prefix operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `-e`
    Neg,
    /// `!e`
    Not,
}

/// An expression and the position of the token that names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    pub kind: ExprKind,
    pub pos: Pos,
}

/// The kinds of expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    /// An integer literal (`true` and `false` are 1 and 0).
    Int(i64),
    /// A local or a function.
    Name(String),
    /// `callee(args)`; the position is the `(`.
    Call { callee: Box<Expr>, args: Vec<Expr> },
    /// `array[index]`; the position is the `[`.
    Index { array: Box<Expr>, index: Box<Expr> },
    /// `object.name`; the position is the `.`.
    Field { object: Box<Expr>, name: String },
    /// `[a, b, c]`.
    Array(Vec<Expr>),
    /// `[value; count]`.
    ArrayFill { value: Box<Expr>, count: Box<Expr> },
    /// `{x: a, y: b}`, with the position of each field name.
    Object(Vec<(String, Pos, Expr)>),
    /// `len(array)`.
    Len(Box<Expr>),
    /// `-e` or `!e`.
    Unary { op: UnOp, operand: Box<Expr> },
    /// `left op right`.
    Binary {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `left && right`, short-circuit.
    And { left: Box<Expr>, right: Box<Expr> },
    /// `left || right`, short-circuit.
    Or { left: Box<Expr>, right: Box<Expr> },
}

impl ExprKind {
    /// The left operand of a binary, `&&` or `||` node: the link to the rest of a
    /// left-deep chain.
    pub fn chain_left(&self) -> Option<&Expr> {
        match self {
            ExprKind::Binary { left, .. }
            | ExprKind::And { left, .. }
            | ExprKind::Or { left, .. } => Some(left),
            _ => None,
        }
    }
}

impl Drop for Expr {
    /// Unlinks a left-deep chain (`1 + 1 + … + 1`, as long as the input) node by node,
    /// so dropping it takes a loop, not one native frame per operator.
    fn drop(&mut self) {
        let mut next = take_chain_left(&mut self.kind);
        while let Some(mut link) = next {
            next = take_chain_left(&mut link.kind);
            // `link` drops here with its left operand gone: no deep recursion.
        }
    }
}

/// Takes the left operand out of a chain node, leaving a literal in its place.
fn take_chain_left(kind: &mut ExprKind) -> Option<Box<Expr>> {
    match kind {
        ExprKind::Binary { left, .. } | ExprKind::And { left, .. } | ExprKind::Or { left, .. } => {
            let placeholder = Expr {
                kind: ExprKind::Int(0),
                pos: left.pos,
            };
            Some(std::mem::replace(left, Box::new(placeholder)))
        }
        _ => None,
    }
}

/// A statement and the position of its first token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub pos: Pos,
}

/// The kinds of statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StmtKind {
    /// `let name = init;`
    Let { name: String, init: Expr },
    /// `target = value;` where the target is a name, an index or a field; the
    /// statement's position is the `=`.
    Assign { target: Expr, value: Expr },
    /// `if c1 { .. } else if c2 { .. } else { .. }`: the conditions with their blocks,
    /// in order, and the final `else` block.
    If {
        branches: Vec<(Expr, Block)>,
        otherwise: Option<Block>,
    },
    /// `while cond { body }`
    While { cond: Expr, body: Block },
    /// `return;` or `return value;`
    Return(Option<Expr>),
    /// `print value;`
    Print(Expr),
    /// `e;`, whose value is dropped.
    Expr(Expr),
}

/// The statements between `{` and `}`, and the position of the `}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub end: Pos,
}

/// `fn name(params) body`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnDecl {
    pub name: String,
    pub pos: Pos,
    pub params: Vec<(String, Pos)>,
    pub body: Block,
}

/// A whole source file: its functions, and its top-level statements (which form
/// `main`, ending at `end`, the end of the file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    pub functions: Vec<FnDecl>,
    pub main: Block,
}
