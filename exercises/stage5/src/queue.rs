//! Background compilation: one worker thread that takes jobs from a queue and sends
//! back what it made, while the program keeps running in a lower tier (as HotSpot's
//! and V8's compiler threads do).
//!
//! The running thread pushes a job and goes on; at its next tiering hook it collects
//! what is finished ([`Queue::poll`]) and installs it. Only the running thread ever
//! touches the function table or the counters: the worker sees nothing but its job
//! and the (immutable) program, so there is nothing to race on but the two channels.
//!
//! The worker is a *scoped* thread: it cannot outlive the run that started it. When
//! the run ends, [`Queue::finish`] (or dropping the queue) tells the worker to drop
//! the jobs still queued, waits for the one it may be compiling, and joins it — a
//! program that ends with compilations pending exits cleanly, leaking no thread.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

/// The worker's stack: the optimizer's passes walk the IR with explicit stacks, but
/// its builder and the allocator recurse a little; address space is cheap.
const WORKER_STACK: usize = 64 << 20;

/// A job on its way to the worker, with the flag that whoever starts it sets: the
/// worker before doing it, or the running thread taking it back
/// ([`Queue::take_back`]). Whoever sets it first does the job; the other skips it.
type Claimed<J> = (Arc<AtomicBool>, J);

/// A queue of jobs and the worker thread that does them in order.
pub struct Queue<'scope, J, R> {
    /// Where jobs go; `None` once the queue is finishing.
    jobs: Option<Sender<Claimed<J>>>,
    /// The jobs pushed that may not have been started yet, oldest first, with when
    /// they were pushed: what [`Queue::take_back`] looks through.
    unstarted: VecDeque<(Arc<AtomicBool>, J, Instant)>,
    /// Where results come back, in the order of their jobs.
    done: Receiver<R>,
    /// Set when the run ends: the worker drops what is still queued.
    cancel: Arc<AtomicBool>,
    /// The worker, joined when the queue finishes.
    worker: Option<ScopedJoinHandle<'scope, ()>>,
    /// Jobs pushed and not yet collected.
    pending: usize,
    /// Jobs taken back.
    taken_back: usize,
}

/// What became of the jobs when a queue finished.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Finished {
    /// Jobs done whose results nobody collected (their code is dropped).
    pub uncollected: usize,
    /// Jobs the worker never started.
    pub cancelled: usize,
    /// Jobs taken back from the worker before it started them, and done by the
    /// running thread ([`Queue::take_back`]).
    pub taken_back: usize,
}

impl<'scope, J: Clone + Send + 'scope, R: Send + 'scope> Queue<'scope, J, R> {
    /// Starts the worker in `scope`; it calls `work` on each job, in order. `Err`
    /// when the system will not make a thread (the caller then compiles on the spot).
    pub fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        mut work: impl FnMut(J) -> R + Send + 'scope,
    ) -> std::io::Result<Queue<'scope, J, R>> {
        let (jobs, inbox) = mpsc::channel::<Claimed<J>>();
        let (results, done) = mpsc::channel::<R>();
        let cancel = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&cancel);
        let worker = std::thread::Builder::new()
            .name("jitlab-compile".into())
            .stack_size(WORKER_STACK)
            .spawn_scoped(scope, move || {
                todo!(
                    "worker: the worker: do each job unless cancelled, send the result back — book §5.13"
                )
            })?;
        Ok(Queue {
            jobs: Some(jobs),
            unstarted: VecDeque::new(),
            done,
            cancel,
            worker: Some(worker),
            pending: 0,
            taken_back: 0,
        })
    }

    /// Hands `job` to the worker; `false` (and the job dropped) when the worker is
    /// gone (it panicked).
    pub fn push(&mut self, job: J) -> bool {
        let claim = Arc::new(AtomicBool::new(false));
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send((Arc::clone(&claim), job.clone())).is_ok());
        if sent {
            self.pending += 1;
            self.unstarted.push_back((claim, job, Instant::now()));
        }
        sent
    }

    /// Takes back the oldest job for which `which` holds, if the worker has not
    /// started it although it was pushed at least `after` ago: the caller does it
    /// itself, and the worker skips it. For a worker that gets no core (a loaded
    /// machine): a job that waits for it is not worth waiting for much longer than it
    /// takes to do. `None`: no such job, or the worker started it.
    pub fn take_back(&mut self, after: Duration, which: impl Fn(&J) -> bool) -> Option<J> {
        // The jobs the worker started (or that were taken back) are never taken back.
        self.unstarted
            .retain(|(claim, _, _)| !claim.load(Ordering::Acquire));
        let now = Instant::now();
        let at = self
            .unstarted
            .iter()
            .position(|(_, job, pushed)| which(job) && now.duration_since(*pushed) >= after)?;
        let (claim, job, _) = self.unstarted.remove(at)?;
        if claim.swap(true, Ordering::AcqRel) {
            // The worker started it just now.
            return None;
        }
        self.pending -= 1;
        self.taken_back += 1;
        Some(job)
    }

    /// The results finished since the last poll, without waiting.
    pub fn poll(&mut self) -> Vec<R> {
        let mut out = Vec::new();
        loop {
            match self.done.try_recv() {
                Ok(r) => {
                    self.pending -= 1;
                    out.push(r);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return out,
            }
        }
    }

    /// Waits for the next result; `None` when no job is pending.
    pub fn wait(&mut self) -> Option<R> {
        if self.pending == 0 {
            return None;
        }
        let r = self.done.recv().ok()?;
        self.pending -= 1;
        Some(r)
    }

    /// Jobs pushed whose results have not been collected.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Ends the queue: the worker drops the jobs it has not started, finishes the one
    /// it is on, and is joined. A panic of the worker is passed on.
    pub fn finish(mut self) -> Finished {
        let finished = self.stop();
        if let Some(Err(panic)) = self.worker.take().map(ScopedJoinHandle::join) {
            std::panic::resume_unwind(panic);
        }
        finished
    }

    /// Cancels what is queued and waits for the worker to stop; what it finished is
    /// counted and dropped.
    fn stop(&mut self) -> Finished {
        self.cancel.store(true, Ordering::Release);
        // Closing the queue ends the worker's loop once it is empty or cancelled.
        self.jobs = None;
        let mut uncollected = 0;
        // The results channel closes when the worker ends.
        while self.done.recv().is_ok() {
            uncollected += 1;
        }
        let cancelled = self.pending.saturating_sub(uncollected);
        self.pending = 0;
        Finished {
            uncollected,
            cancelled,
            taken_back: self.taken_back,
        }
    }
}

impl<J, R> Drop for Queue<'_, J, R> {
    /// A queue dropped without [`Queue::finish`] (a panic unwinding through the run)
    /// still stops and joins its worker.
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Release);
        self.jobs = None;
        while self.done.recv().is_ok() {}
        if let Some(worker) = self.worker.take() {
            // Its panic, if any, is not passed on while unwinding already.
            let _ = worker.join();
        }
    }
}
