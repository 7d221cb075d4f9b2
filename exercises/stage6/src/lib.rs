//! Stage 6 of jitlab: shapes and inline caches. Objects get hidden classes (a shape
//! pointer and slots, shapes shared by every object built the same way and linked by
//! transitions), and every field access and value call gets an inline cache that goes
//! uninitialized → monomorphic → polymorphic → megamorphic, in all three tiers of
//! stage 5: the interpreter asks the cache through the heap's object model, baseline
//! code compares shapes inline against the cache's entries, optimized code turns a
//! cache's shapes into a chain of compares and direct slot loads. Caches are data
//! beside the code, never patched instructions.
//!
//! Nothing of the earlier stages is copied here: stage 6 plugs in where they were
//! built to be extended — stage 1's [`ObjectModel`](stage1::objects::ObjectModel),
//! stage 3's baseline object templates, stage 4's object lowering and stage 5's
//! extension of a tiered run.
//!
//! - [`layout`]: what an object and an inline cache look like to native code;
//! - [`shapes`]: shapes (hidden classes) and the transition tree;
//! - [`ics`]: the inline cache records of field and call sites, and their states;
//! - [`megamorphic`]: the run's cache for sites past their own entries;
//! - [`model`]: [`ShapeModel`], the object model over them, installed in a run's
//!   heap;
//! - [`allocation`]: inline allocation of objects and arrays, for both tiers;
//! - [`baseline`]: baseline code's fast paths, reading the caches inline;
//! - [`optimized`]: optimized code's object instructions from a snapshot of the
//!   caches (stage 4's object lowering);
//! - [`engine`]: [`Cached`], stage 5's tiered engine with [`Caches`] as its
//!   extension;
//! - [`cli`]: the engine on the command line (`cargo run -p stage6 -- run FILE`).
#![allow(
    unused,
    unreachable_code,
    clippy::diverging_sub_expression,
    clippy::never_loop
)]

pub mod allocation;
pub mod baseline;
pub mod cli;
pub mod engine;
pub mod ics;
pub mod layout;
pub mod megamorphic;
pub mod model;
pub mod optimized;
pub mod shapes;

pub use engine::{Cached, Caches, Options};
pub use ics::{CallIc, FieldIc, IcState};
pub use model::ShapeModel;
