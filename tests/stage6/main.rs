//! The stage 6 suite: the engine with shapes and inline caches against the stage 1
//! interpreter (the corpus, random programs with objects of many shapes and programs
//! whose warm sites meet new shapes and targets late, with and without caches, at
//! thresholds 0, 1 and the defaults), and the caches themselves by
//! their events: the state machine of a site (monomorphic, polymorphic, megamorphic),
//! shapes shared by objects built alike, transitions of fields added later, print
//! order, errors at cached sites, and a full megamorphic cache; arrays allocated
//! inline in both tiers, down to `out of memory` at the interpreter's allocation; and
//! the dump of a run's compiles, the caches' fast paths in them.
//!
//! Written once, run against the learner's crate (`cargo test -p stage6`) and the
//! reference (`cargo test -p stage6-solution`); both call the crate `stage6`.

mod arrays;
mod common;
mod corpus;
mod dump;
mod ics;
mod megamorphic;
mod native;
mod objects;
mod optimized;
mod phased;
mod random;
