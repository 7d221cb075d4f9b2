//! The stage 5 suite: the tiered engine against the stage 1 interpreter (the corpus,
//! random programs and programs that change behaviour after a long warm-up, under
//! every threshold), and its tiering itself by its events:
//! tier-ups at exactly the configured counts, OSR in the right loop, deep mixed
//! stacks, errors through every tier, background compilation that ends cleanly, and
//! the extension point later stages plug into (`stage5::Extension`), and the dumps of
//! what a run compiled (`dump --ir`, `dump --asm`).
//!
//! Written once, run against the learner's crate (`cargo test -p stage5`) and the
//! reference (`cargo test -p stage5-solution`); both call the crate `stage5`.

mod background;
mod common;
mod corpus;
mod dump;
mod extension;
mod osr;
mod phased;
mod policy;
mod queue;
mod random;
mod stacks;
mod tiering;
