//! The extension point of a tiered run: what a later stage adds to every tier without
//! a copy of any of them. Stage 6's shapes and inline caches are one: an object model
//! for the run's heap (which the interpreter, the runtime and both compilers' slow
//! paths go through), inline fast paths for baseline code, and for the optimizer a
//! snapshot of what the caches have seen.
//!
//! The engine asks the extension (given in [`Options::extension`](crate::Options)):
//!
//! - at the start of a run, for the heap's object model ([`Extension::object_model`]);
//! - each time it compiles a function with the baseline tier, on the run's thread, for
//!   the fast paths of its object instructions ([`Extension::baseline`]);
//! - each time it queues an optimizing compilation, on the run's thread, for a
//!   snapshot of the caches the optimizer may read ([`Extension::optimizer`]): the
//!   worker thread compiles from the snapshot and never reads the live caches, which
//!   the running program keeps changing;
//! - after the run, for the tables of `--stats` ([`Extension::tables`]); the model's
//!   events (cache transitions) join the run's events
//!   ([`ObjectModel::take_events`]).

use stage1::heap::Heap;
use stage1::interp::tiering::Counters;
use stage1::objects::ObjectModel;
use stage1::{Event, FnId, Verified};
use stage3::codegen::objects::ObjectCode;
use stage3::{Deopt, FeedbackCode};
use stage4::deopt::Deoptimizer;
use stage4::objects::ObjectLowering;
use stage4::speculation::Speculation;

use crate::hooks::Job;

/// What a later stage plugs into the tiered engine (stage 6: shapes and inline
/// caches). Shared by the run's thread and the optimizer's worker, hence `Send +
/// Sync`; the worker only ever holds what [`Extension::optimizer`] made.
pub trait Extension: Send + Sync {
    /// The object model of a run of `verified`'s program: the heap is made with it.
    fn object_model(&self, verified: &Verified) -> Box<dyn ObjectModel>;

    /// Baseline code's object fast paths for this run, reading the caches of the
    /// heap's model (`None`: every object instruction is a runtime call). Asked on
    /// the run's thread for each baseline compilation, with the heap mutable for its
    /// allocation pointer ([`Heap::bump`], which inline allocation bumps); nothing
    /// else uses the heap while the result lives.
    fn baseline<'h>(&self, heap: &'h mut Heap) -> Option<Box<dyn ObjectCode + 'h>>;

    /// A snapshot of what the caches of `func` have seen, for the optimizer, taken on
    /// the run's thread when `func`'s optimizing compilation is queued (`None`: the
    /// optimizer's object instructions are runtime calls). The heap is mutable for its
    /// allocation pointer's address ([`Heap::bump`]), which optimized code's inline
    /// allocation bumps; the snapshot holds no reference to the heap.
    fn optimizer(&self, heap: &mut Heap, func: FnId) -> Option<Box<dyn ObjectLowering>>;

    /// The tables `--stats` prints after a run (stage 6: each site's cache, the number
    /// of shapes and transitions), from the run's heap.
    fn tables(&self, heap: &Heap, verified: &Verified) -> Vec<String>;

    /// What the optimizer may bet on in `job` (stage 7), a snapshot taken on the
    /// run's thread when the optimizing compilation is queued, from the run's
    /// feedback (`counters.feedback()`) and what the extension learned from deopts.
    /// `None` (the default): no bets, stage 4's code. The job says which function,
    /// which entry (an OSR variant's loop header) and why, for an extension that
    /// records what was compiled (stage 7's `dump --ir`).
    fn speculation(
        &self,
        _verified: &Verified,
        _counters: &Counters,
        _job: &Job,
    ) -> Option<Box<dyn Speculation>> {
        None
    }

    /// What compiles the bets of [`Extension::speculation`] into code that
    /// deoptimizes when one is lost (stage 7's guards, deopt tables and runtime).
    /// `Some`: the run's optimized code may deoptimize, and the run reserves native
    /// stack for the interpreter activations that finish deoptimized frames. `None`
    /// (the default): no bets are compiled.
    fn deoptimizer(&self) -> Option<&'static dyn Deoptimizer> {
        None
    }

    /// The template with which baseline code records type feedback into the run's
    /// counters (stage 7's, through stage 3's `TierOptions::feedback`). `None` (the
    /// default): baseline code records nothing, exactly stage 3's templates.
    fn baseline_feedback(&self) -> Option<FeedbackCode> {
        None
    }

    /// The first value of the stress countdown (`NativeContext::deopt_countdown`),
    /// and whether optimized code checks it at every guard: `None` (the default)
    /// for a run that does not stress deoptimization.
    fn stress(&self) -> Option<i64> {
        None
    }

    /// Optimized code of `func` deoptimized (`deopt`, its frames already run or
    /// not yet: this is asked first). Says what becomes of that code; the extension
    /// counts, records and learns here.
    fn deoptimized(&self, _func: FnId, _deopt: &Deopt) -> AfterDeopt {
        AfterDeopt::default()
    }

    /// Events the extension made since last asked (stage 7's `Deopt` and
    /// `Recompiled`): the run's log takes them in at once, in order.
    fn take_events(&self) -> Vec<Event> {
        Vec::new()
    }
}

/// What becomes of optimized code that deoptimized ([`Extension::deoptimized`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AfterDeopt {
    /// Take the code out of the function table (callers go back to baseline code,
    /// frames running it finish in it) and let the function be optimized again after
    /// `budget` more calls (and its loops after as many back edges, times the
    /// thresholds' ratio). `None`: the code stays installed.
    pub invalidate: Option<i64>,
    /// The next value of the stress countdown (when the run stresses deopts).
    pub countdown: Option<i64>,
}
