//! Stage 3 of jitlab: a template JIT. Every function of a verified program becomes
//! x86-64 in one linear pass, one template per bytecode instruction (as V8's
//! Sparkplug does), and the whole program runs natively.
//!
//! - [`codegen`]: the templates, the native frame ([`codegen::frame`]) and the calls;
//! - [`context`]: the `#[repr(C)]` VM context native code reaches through `r12`;
//! - [`runtime`]: the `extern "sysv64"` helpers native code calls (print, heap,
//!   errors);
//! - [`engine`]: [`Jit`], the engine behind the stage 1 interface;
//! - [`runner`]: the threads with big stacks that native code runs on, kept between
//!   runs, and [`stack`]: how big a stack a run needs;
//! - [`cli`]: the engine on the command line (`cargo run -p stage3 -- run FILE`);
//! - [`listing`](mod@listing): bytecode with its x86-64, for `jitlab dump --asm`;
//! - [`code_map`]: the compiled program registered for the test harness, which names
//!   the function and instruction of a crash in generated code.
#![allow(
    unused,
    unreachable_code,
    clippy::diverging_sub_expression,
    clippy::never_loop
)]

pub mod cli;
pub mod code_map;
pub mod codegen;
pub mod context;
pub mod engine;
pub mod listing;
pub mod runner;
pub mod runtime;
pub mod stack;

pub use codegen::feedback::{FeedbackCode, Observed};
pub use codegen::tiering::{
    compile_function, CompiledFunction, Countdown, FrameState, SharedCode, TierOptions,
};
pub use codegen::CompileError;
pub use engine::{
    compile_program, compile_program_declining, compile_program_with_tier, run_compiled,
    CompiledProgram, Jit, Options,
};
pub use listing::listing;
pub use runtime::{Deopt, TierHooks};
