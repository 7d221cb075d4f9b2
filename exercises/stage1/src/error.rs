//! The two kinds of error a user sees: a source error (the file does not parse or does
//! not verify, exit status 2) and a runtime error (the program failed, exit status 1).

use std::fmt;

/// A file that does not parse, or a program that does not verify: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceError {
    /// The file name as the user gave it.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What is wrong, in words a user can act on.
    pub message: String,
}

impl SourceError {
    /// An error at `line:column` of `file`.
    pub fn new(file: &str, line: u32, column: u32, message: impl Into<String>) -> SourceError {
        SourceError {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

impl fmt::Display for SourceError {
    /// `file:line:column: error: message`, the form editors and compilers use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for SourceError {}

/// Why a program stopped: the runtime errors of Mini, the same in every stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    DivisionByZero,
    IntegerOverflow,
    IndexOutOfBounds,
    TypeError,
    NoSuchField,
    WrongNumberOfArguments,
    StackOverflow,
    OutOfMemory,
    /// Writing the output failed (a closed pipe, a full disk): not Mini's fault, but
    /// the program cannot go on.
    Output,
    /// An engine broke one of its own invariants (native code returned the error
    /// word with no error recorded, or an unknown error code): a bug in jitlab,
    /// never the Mini program's fault, reported as such rather than as a Mini error.
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order (native code passes a kind as its index here).
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::DivisionByZero,
        ErrorKind::IntegerOverflow,
        ErrorKind::IndexOutOfBounds,
        ErrorKind::TypeError,
        ErrorKind::NoSuchField,
        ErrorKind::WrongNumberOfArguments,
        ErrorKind::StackOverflow,
        ErrorKind::OutOfMemory,
        ErrorKind::Output,
        ErrorKind::Internal,
    ];

    /// The message, exactly as DESIGN.md spells it.
    pub fn message(self) -> &'static str {
        match self {
            ErrorKind::DivisionByZero => "division by zero",
            ErrorKind::IntegerOverflow => "integer overflow",
            ErrorKind::IndexOutOfBounds => "index out of bounds",
            ErrorKind::TypeError => "type error",
            ErrorKind::NoSuchField => "no such field",
            ErrorKind::WrongNumberOfArguments => "wrong number of arguments",
            ErrorKind::StackOverflow => "stack overflow",
            ErrorKind::OutOfMemory => "out of memory",
            ErrorKind::Output => "cannot write output",
            ErrorKind::Internal => "internal error: an engine broke its own invariant",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// One line of a runtime error's trace: a function and the source line it was at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceFrame {
    pub function: String,
    pub line: u32,
}

/// A runtime error: what went wrong, and where, innermost frame first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeError {
    pub kind: ErrorKind,
    /// The call stack when it happened, innermost first (at most the innermost
    /// [`RuntimeError::MAX_TRACE`] frames, then the outermost one).
    pub trace: Vec<TraceFrame>,
    /// How many frames the trace left out, between its innermost frames and the
    /// outermost one (a stack overflow has thousands).
    pub omitted: usize,
}

impl RuntimeError {
    /// How many frames a trace keeps: a stack overflow would otherwise print 10,000.
    pub const MAX_TRACE: usize = 20;
}

impl fmt::Display for RuntimeError {
    /// `error: MESSAGE`, then one `  at FUNCTION (line N)` per frame, with
    /// `  … N frames omitted` before the outermost frame when some were left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.kind)?;
        let last = self.trace.len().saturating_sub(1);
        for (i, frame) in self.trace.iter().enumerate() {
            if i == last && self.omitted > 0 {
                write!(f, "\n  … {} frames omitted", grouped(self.omitted))?;
            }
            write!(f, "\n  at {} (line {})", frame.function, frame.line)?;
        }
        Ok(())
    }
}

impl std::error::Error for RuntimeError {}

/// `9980` as `9,980`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
