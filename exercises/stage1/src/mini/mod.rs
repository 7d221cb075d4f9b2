//! Mini, the source language: a lexer, a parser to a syntax tree, and a compiler from
//! the tree to bytecode. DESIGN.md § "Mini, the source language" is its definition.
//!
//! Every error is a [`SourceError`] with the 1-based line and column of the token at
//! fault; nothing here panics or recurses without bound, whatever the input.

pub mod ast;
pub mod compiler;
pub mod lexer;
pub mod parser;

use crate::bytecode::Program;
use crate::error::SourceError;

/// Compiles the Mini program `source`, read from `file` (the name errors carry).
///
/// `main` is function 0 and holds the top-level statements; the `fn` declarations
/// follow in source order. The program is not verified yet: see [`mod@crate::verify`].
pub fn compile(file: &str, source: &str) -> Result<Program, SourceError> {
    // The parser and the compiler recurse once per level of nesting, up to
    // `parser::MAX_DEPTH` levels of a few KiB each in a debug build: more than a
    // 2 MiB test thread holds. So they run on a thread of their own with room for it,
    // as rustc does (the stack is reserved, and only touched as deep as it is used).
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("mini compiler".to_string())
            .stack_size(COMPILER_STACK)
            .spawn_scoped(scope, || compile_here(file, source));
        match worker {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had: compile here, where most inputs fit anyway.
            Err(_) => compile_here(file, source),
        }
    })
}

/// The stack of the compiler's thread: `MAX_DEPTH` levels at up to 16 KiB each, twice.
const COMPILER_STACK: usize = 2 * parser::MAX_DEPTH as usize * 16 * 1024;

/// Parses and compiles on the current thread.
fn compile_here(file: &str, source: &str) -> Result<Program, SourceError> {
    let module = parser::parse(file, source)?;
    compiler::compile_module(file, &module)
}

#[cfg(test)]
mod tests;
