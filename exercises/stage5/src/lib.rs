//! Stage 5 of jitlab: tiering. Every function starts in stage 1's interpreter;
//! countdown counters beside the code (calls per function, back edges per loop) decide
//! when it is worth compiling with stage 3's baseline templates and later with stage
//! 4's optimizer; a long-running loop moves into compiled code while it runs
//! (on-stack replacement), and the optimizer works on a background thread while the
//! program goes on in the tier below. This is how HotSpot, V8 and JavaScriptCore run
//! code: pay for compilation only where it pays back.
//!
//! - [`policy`]: the thresholds as one type ([`Policy`], `--tier-up`), and the tiers;
//! - [`countdown`]: the template baseline code counts with (a counter decremented
//!   in place);
//! - [`queue`]: the background compile queue, a scoped worker thread;
//! - [`record`]: what a run records: events (traced as they happen) and the tier
//!   table of `--stats`;
//! - [`hooks`]: what happens when a counter reaches zero: compile, install, OSR;
//! - [`extension`]: what a later stage plugs into every tier ([`Extension`]: stage
//!   6's object model and inline caches);
//! - [`stack`]: the big stack a run switches to, on the caller's own thread;
//! - [`engine`]: [`Tiered`], the engine behind the stage 1 interface;
//! - [`dump`]: what the optimizing tier compiled in a run, as IR or machine code
//!   (`dump --ir`, `dump --asm`);
//! - [`cli`]: the engine on the command line (`cargo run -p stage5 -- run FILE`).
#![allow(
    unused,
    unreachable_code,
    clippy::diverging_sub_expression,
    clippy::never_loop
)]

pub mod cli;
pub mod countdown;
pub mod dump;
pub mod engine;
pub mod extension;
pub mod hooks;
pub mod policy;
pub mod queue;
pub mod record;
pub mod stack;

pub use engine::{Options, Tiered};
pub use extension::Extension;
pub use policy::{Policy, Tier};
