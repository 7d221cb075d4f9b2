//! Stage 7 of jitlab: speculation and deoptimization. The optimizing compiler bets on
//! what the profile says — integers where only integers were seen, branches that
//! always went one way, fields that always hit their cache, the one function a
//! `call_value` site ever called, small callees copied into their callers — and each
//! bet is a guard carrying the interpreter frames it stands for. When a bet is lost
//! the code deoptimizes: the runtime rebuilds those frames from registers and stack
//! slots and the interpreter goes on from the exact instruction, so the output, the
//! result and every error trace stay the interpreter's.
//!
//! Nothing of the earlier stages is copied here: stage 7 plugs in where they were
//! built to be extended — stage 1's feedback vectors and resumable frames, stage 3's
//! baseline templates, stage 4's speculative builder and guards (its
//! `Speculation` and `Deoptimizer` extension points), stage 5's tiered engine (its `Extension`) and
//! stage 6's caches.
//!
//! - [`feedback`]: the template baseline code records type feedback with, and the
//!   optimizer's bets made from a snapshot of it ([`feedback::FeedbackSpeculation`]);
//! - [`entry`]: the late pass that checks the arrays a loop entered by OSR reads
//!   once, at the entry, by guards;
//! - [`speculate`]: the late pass that turns checkpoints into overflow guards;
//! - [`guards`]: each guard's check in machine code;
//! - [`frame_state`]: the deopt table (frame states as bytes) and the frames rebuilt
//!   from it;
//! - [`deopt`]: [`deopt::Deoptimizing`], the parts above as stage 4's
//!   `Deoptimizer`, and `rt_deopt`, the runtime of a failing guard;
//! - [`policy`]: the recompilation policy — deopts counted per function and per
//!   guard, bets dropped, back-off, giving up;
//! - [`stress`]: deopts forced at guards to test them ([`Stress`]);
//! - [`engine`]: [`Speculating`], stage 5's tiered engine with stage 6's caches and
//!   this stage's [`engine::Speculator`] as its extension;
//! - [`cli`]: the engine on the command line (`cargo run -p stage7 -- run FILE`);
//! - [`dump`]: `dump --ir`, the speculative IR of each compile of a run.
#![allow(
    unused,
    unreachable_code,
    clippy::diverging_sub_expression,
    clippy::never_loop
)]

pub mod callees;
pub mod cli;
pub mod deopt;
pub mod dump;
pub mod engine;
pub mod entry;
pub mod feedback;
pub mod frame_state;
pub mod guards;
pub mod policy;
pub mod speculate;
pub mod stress;

pub use engine::{Options, Speculating};
pub use policy::{Bet, DeoptPolicy};
pub use stress::Stress;
