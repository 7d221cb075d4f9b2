//! The limits of the language: how deep calls go, how big a function, a program or an
//! array may be. Every engine of every stage enforces the same ones, so they live here
//! once; the integer range is the value encoding's ([`INT_MIN`], [`INT_MAX`]).

pub use crate::value::{INT_MAX, INT_MIN};

/// The most frames a run may hold, `main` included, across every tier: the 10,001st
/// call is a `stack overflow`.
pub const MAX_FRAMES: usize = 10_000;
/// The most instructions one function may have (2^24).
pub const MAX_CODE: usize = 1 << 24;
/// The most locals (parameters included) one function may have.
pub const MAX_LOCALS: u32 = 65_535;
/// The most functions a program may have (2^24).
pub const MAX_FUNCTIONS: usize = 1 << 24;
/// The longest array `[v; n]` may make; a longer one is `out of memory` at once.
pub const MAX_ARRAY_LEN: i64 = 1 << 28;
