//! The stage 6 engine: stage 5's tiered engine with this stage's [`Caches`] as its
//! extension. Nothing of the tiers is copied here: the run's heap gets a
//! [`ShapeModel`] (shapes, and an inline cache per site that the interpreter and the
//! runtime use), baseline code gets its inline shape checks from [`BaselineCode`],
//! and the optimizer a snapshot of the caches ([`OptimizedCode`]), taken when its job
//! is queued.
//!
//! With `caches: false` (`--no-ic`) objects keep their shapes but no cache is ever
//! filled and no tier gets a fast path: every field access is the runtime's lookup,
//! for comparison and for telling a cache's bug from the rest.

use std::io::Write;
use std::sync::Arc;

use stage1::heap::Heap;
use stage1::objects::ObjectModel;
use stage1::{Engine, FnId, RuntimeError, Stats, Verified};
use stage3::codegen::objects::ObjectCode;
use stage4::objects::ObjectLowering;
use stage5::record::FunctionRecord;
use stage5::{Extension, Tiered};

use crate::baseline::BaselineCode;
use crate::model::ShapeModel;
use crate::optimized::OptimizedCode;

/// How a [`Cached`] engine runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The tiering: thresholds, compile mode, tracing, heap limit (stage 5's options;
    /// their `extension` is replaced by this stage's [`Caches`]).
    pub tiered: stage5::Options,
    /// Inline caches on (`false`: `--no-ic`, shapes without caches).
    pub caches: bool,
}

impl Default for Options {
    /// Stage 5's defaults, caches on.
    fn default() -> Options {
        Options {
            tiered: stage5::Options::default(),
            caches: true,
        }
    }
}

/// Stage 6's extension of the tiered engine: the shapes model, and the fast paths
/// that read its caches.
#[derive(Clone, Copy, Debug)]
pub struct Caches {
    /// Caches on (`false`: shapes only).
    pub caches: bool,
}

/// The [`ShapeModel`] of `heap`, if it has one (a heap of a stage 6 run does).
pub fn shape_model(heap: &Heap) -> Option<&ShapeModel> {
    heap.model().as_any().downcast_ref::<ShapeModel>()
}

impl Extension for Caches {
    fn object_model(&self, verified: &Verified) -> Box<dyn ObjectModel> {
        Box::new(ShapeModel::new(verified, self.caches))
    }

    fn baseline<'h>(&self, heap: &'h mut Heap) -> Option<Box<dyn ObjectCode + 'h>> {
        if !self.caches {
            return None;
        }
        let bump = heap.bump();
        let model = shape_model(heap)?;
        Some(Box::new(BaselineCode::new(model, bump)))
    }

    fn optimizer(&self, heap: &mut Heap, func: FnId) -> Option<Box<dyn ObjectLowering>> {
        if !self.caches {
            return None;
        }
        // The caches' state now, and the allocation pointer's address: nothing that
        // the running program changes is read by the worker that compiles from it.
        let code = OptimizedCode::of_heap(heap, func)?;
        Some(Box::new(code))
    }

    fn tables(&self, heap: &Heap, verified: &Verified) -> Vec<String> {
        let Some(model) = shape_model(heap) else {
            return Vec::new();
        };
        // The table's head line counts the sites, the shapes and the transitions.
        vec![model.site_table(verified.program(), verified.sites())]
    }
}

/// The stage 6 engine: stage 5's tiers with shapes and inline caches.
#[derive(Debug)]
pub struct Cached {
    tiered: Tiered,
}

impl Default for Cached {
    fn default() -> Cached {
        Cached::new()
    }
}

impl Cached {
    /// An engine with the default [`Options`]: stage 5's thresholds, caches on.
    pub fn new() -> Cached {
        Cached::with_options(Options::default())
    }

    /// An engine with the given options.
    pub fn with_options(options: Options) -> Cached {
        let extension: Arc<dyn Extension> = Arc::new(Caches {
            caches: options.caches,
        });
        Cached {
            tiered: Tiered::with_options(stage5::Options {
                extension: Some(extension),
                ..options.tiered
            }),
        }
    }

    /// The shapes and caches of the last run (`None` before the first run, or when
    /// the run could not start its tiers and ran in a plain interpreter).
    pub fn model(&self) -> Option<&ShapeModel> {
        shape_model(self.tiered.heap())
    }

    /// Per function of the last run: its tier, calls, back edges, compile times.
    pub fn functions(&self) -> &[FunctionRecord] {
        self.tiered.functions()
    }

    /// The tables of `--stats` of the last run: each site's cache, the shapes made.
    pub fn tables(&self) -> &[String] {
        self.tiered.tables()
    }
}

impl Engine for Cached {
    fn name(&self) -> &'static str {
        "tiered JIT with inline caches"
    }

    fn run(&mut self, verified: &Verified, out: &mut dyn Write) -> Result<String, RuntimeError> {
        self.tiered.run(verified, out)
    }

    fn stats(&self) -> &Stats {
        self.tiered.stats()
    }
}
