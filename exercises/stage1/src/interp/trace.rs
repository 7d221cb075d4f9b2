//! Runtime errors with their trace: the function and source line of each frame.
//!
//! Every engine builds its errors here, so that all stages report the same frames for
//! the same failure.

use crate::bytecode::{FnId, Program};
use crate::error::{ErrorKind, RuntimeError, TraceFrame};

/// A runtime error of `kind`, at `frames` (function and pc, innermost first): the
/// trace keeps the innermost `MAX_TRACE - 1` frames and then the outermost one, so it
/// never holds more than [`RuntimeError::MAX_TRACE`].
#[cold]
#[inline(never)]
pub fn runtime_error(
    program: &Program,
    kind: ErrorKind,
    frames: impl ExactSizeIterator<Item = (FnId, usize)>,
) -> RuntimeError {
    let n = frames.len();
    let trace = frames
        .enumerate()
        .filter(|&(i, _)| i + 1 < RuntimeError::MAX_TRACE || i + 1 == n)
        .map(|(_, (func, pc))| {
            let f = &program.functions[func as usize];
            TraceFrame {
                function: f.name.clone(),
                line: f.lines.get(pc).copied().unwrap_or(0),
            }
        })
        .collect::<Vec<_>>();
    let omitted = n - trace.len();
    RuntimeError {
        kind,
        trace,
        omitted,
    }
}
