//! Stage 4 of jitlab: an optimizing compiler. Where stage 3 copies one template per
//! bytecode instruction and keeps every value in memory, stage 4 builds an SSA IR of
//! each function ([`ir`]), proves facts about its values and removes work with passes,
//! allocates registers by linear scan, and generates x86-64 that calls and is called
//! by stage 3's code and the interpreter (one function table, one frame limit, one
//! error exit).
//!
//! - [`ir`]: the control-flow graph of basic blocks in SSA form, its builder
//!   ([`mod@ir::build`]), text form ([`ir::text`]) and verifier ([`ir::verify`]).
//! - [`passes`]: the optimizations (SCCP, integer-tag inference, GVN, LICM, strength
//!   reduction, DCE) and the pipeline [`passes::optimize`].
//! - [`regalloc`]: linear-scan register allocation and its checker.
//! - [`codegen`]: x86-64 from the IR and its allocation, into stage 3's program-wide
//!   assembler (stage 3's calling convention, function table and error exit).
//! - [`deopt`]: stage 7's deoptimization metadata (where each guard's frame state
//!   is) and the runtime exit that rebuilds interpreter frames from it.
//! - [`engine`]: [`Optimizer`], the engine behind the stage 1 interface.
//! - [`objects`]: the extension point of the object instructions' fast paths (stage
//!   6's inline caches).
//! - [`speculation`]: the extension point of stage 7's bets (guards and inlining).
//! - [`tiered`]: one function compiled alone for a tiered run (stage 5), through the
//!   function table, and its variant entered by on-stack replacement at a loop header.
//! - [`listing`](mod@listing): bytecode pc, IR and x86-64 side by side, for
//!   `jitlab dump --asm --stage 4`.
#![allow(
    unused,
    unreachable_code,
    clippy::diverging_sub_expression,
    clippy::never_loop
)]

pub mod cli;
pub mod codegen;
pub mod deopt;
pub mod engine;
pub mod ir;
pub mod listing;
pub mod objects;
pub mod passes;
pub mod regalloc;
pub mod speculation;
pub mod tiered;

pub use engine::{Optimizer, Options};
pub use listing::listing;
