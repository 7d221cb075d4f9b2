//! The stage 7 suite: the speculating engine against the stage 1 interpreter under
//! stress (the corpus, the designed programs and random programs, with guards failing
//! at random from seeds and at every n-th check, at thresholds 0, 1 and the
//! defaults; and seeded programs that warm a loop up for tens of thousands of trips
//! and then change behaviour), programs designed to deoptimize checked by their events (a value that
//! turns from an integer to an array, an add that overflows at the millionth trip, a
//! branch first taken late, a field site meeting a new shape, a call site meeting a
//! new target, a deopt three inlined calls deep, a function that deopts again and
//! again and settles), errors raised in inlined code and recursion to the frame
//! limit under stress, a recursive function inlined into itself (a deopt, an error
//! and the frame limit's `stack overflow` at each of its inlined depths), the frames
//! of inlined calls near the limit (an entry short of frames for its copies, an OSR
//! variant's inlined calls), the
//! stress modes themselves, the recompilation policy at
//! its edges (when a bet is dropped, the back-off, giving up), and `dump --ir`'s
//! speculative IR (the guards a profile implies, their frame states, read back).
//!
//! Written once, run against the learner's crate (`cargo test -p stage7`) and the
//! reference (`cargo test -p stage7-solution`); both call the crate `stage7`.

mod backoff;
mod callers;
mod common;
mod corpus;
mod deopt;
mod designed;
mod dump;
mod entry;
mod errors;
mod feedback;
mod frames;
mod phased;
mod policy;
mod random;
mod recursive;
mod speculation;
mod speed;
mod stress;
mod weights;
