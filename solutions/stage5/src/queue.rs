//! Background compilation: a worker thread that takes jobs from a queue and sends
//! back what it made, while the program keeps running in a lower tier (as HotSpot's
//! and V8's compiler threads do).
//!
//! The running thread pushes a job and goes on; at its next tiering hook it collects
//! what is finished ([`Queue::poll`]) and installs it. Only the running thread ever
//! touches the function table or the counters: the worker sees nothing but its job
//! and the (immutable) program, so there is nothing to race on but the channels.
//!
//! **One worker per thread, kept across runs.** The worker is made the first time a
//! thread's run needs one and lives as long as that thread (a thread-local, joined
//! when the thread ends), as a VM's compiler threads live as long as the VM: a run
//! makes no thread and joins none. On this machine that is what a scoped thread per
//! run cost each run: about 20 µs to make it and 30 to 150 µs to join it (the idle
//! worker has to wake up to see its queue close), on kernels that run in 2 to 8 ms.
//!
//! **Jobs that borrow from the run.** A job's work borrows the run's program and
//! snapshots, but the worker outlives the run. [`scope`] makes that sound the way
//! `std::thread::scope` does: everything pushed in a scope is done or dropped by the
//! worker before `scope` returns, so nothing a job borrows for `'scope` is gone
//! while the job exists. When the run ends, [`Queue::finish`] (or dropping the queue)
//! tells the worker to skip the jobs still queued and waits for the one it may be
//! compiling: a program that ends with compilations pending exits cleanly.

use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The worker's stack: the optimizer's passes walk the IR with explicit stacks, but
/// its builder and the allocator recurse a little; address space is cheap.
const WORKER_STACK: usize = 64 << 20;

/// A job on its way to the worker, with the flag that whoever starts it sets: the
/// worker before doing it, or the running thread taking it back
/// ([`Queue::take_back`]). Whoever sets it first does the job; the other skips it.
type Claimed<J> = (Arc<AtomicBool>, J);

/// What the worker runs: one job of some run, its lifetime erased (see [`scope`]),
/// and the count of its scope's jobs not yet done, which it brings down after;
/// `None` tells it to end (its owning thread is ending).
type Task = Option<(Box<dyn FnOnce() + Send>, Arc<Open>)>;

/// The jobs of a scope that the worker has not yet done or dropped.
#[derive(Default)]
struct Open {
    count: Mutex<usize>,
    zero: Condvar,
}

impl Open {
    fn add(&self) {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    }

    fn done(&self) {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        *count -= 1;
        if *count == 0 {
            self.zero.notify_all();
        }
    }

    /// Waits until every job counted is done or dropped.
    fn wait(&self) {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        while *count > 0 {
            count = self
                .zero
                .wait(count)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A thread's worker: where its tasks go, and its thread, joined when the owning
/// thread ends.
struct Worker {
    tasks: Option<Sender<Task>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Told, rather than left to see the channel close: a queue that was leaked
        // would keep it open.
        if let Some(tasks) = self.tasks.take() {
            let _ = tasks.send(None);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

thread_local! {
    /// This thread's worker, made at its first run that needs one.
    static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
}

/// Where this thread's worker takes tasks: the worker made now if there is none
/// yet. `Err` when the system will not make a thread.
fn worker() -> std::io::Result<Sender<Task>> {
    WORKER.with(|w| {
        let mut w = w.borrow_mut();
        if let Some(tasks) = w.as_ref().and_then(|w| w.tasks.clone()) {
            return Ok(tasks);
        }
        let (tasks, inbox) = mpsc::channel::<Task>();
        let thread = std::thread::Builder::new()
            .name("jitlab-compile".into())
            .stack_size(WORKER_STACK)
            .spawn(move || {
                while let Ok(Some((task, open))) = inbox.recv() {
                    // A task catches its own work's panic (see `Queue::push`).
                    let _ = catch_unwind(AssertUnwindSafe(task));
                    open.done();
                }
            })?;
        *w = Some(Worker {
            tasks: Some(tasks.clone()),
            thread: Some(thread),
        });
        Ok(tasks)
    })
}

/// Whether this thread has a worker (made by its first [`Queue::start`]).
pub fn has_worker() -> bool {
    WORKER.with(|w| w.borrow().is_some())
}

/// A scope for queues whose jobs borrow what outlives it (`'env`): see [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    /// The jobs pushed in this scope that the worker has not done or dropped.
    open: Arc<Open>,
    /// Invariance over `'scope` and `'env`, as `std::thread::Scope`.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// Runs `f` with a scope in which queues may be started whose jobs borrow from
/// outside it; returns when `f` has returned *and* every job pushed in the scope
/// has been done or dropped by the worker (a panic of `f` is passed on after that
/// wait). This wait, not a queue's `Drop`, is what keeps the borrowed data alive
/// while the worker may use it: it holds even for a queue that was never finished.
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        open: Arc::new(Open::default()),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    scope.open.wait();
    match result {
        Ok(t) => t,
        Err(panic) => resume_unwind(panic),
    }
}

/// A job's result, or the panic of the work.
type Outcome<R> = Result<R, Box<dyn Any + Send>>;

/// What the jobs of one queue share with the running thread.
struct Shared<R> {
    /// Set when the run ends: the worker skips what is still queued.
    cancel: AtomicBool,
    /// Where results go back, in the order of their jobs.
    results: Sender<Outcome<R>>,
}

/// A queue of jobs that the thread's worker does in order.
pub struct Queue<'scope, J, R> {
    /// Where jobs go; `None` once the queue is finishing.
    tasks: Option<Sender<Task>>,
    /// The work, shared by the jobs.
    work: Arc<Mutex<dyn FnMut(J) -> R + Send + 'scope>>,
    /// What the jobs share with this thread.
    shared: Arc<Shared<R>>,
    /// The scope's count of jobs not yet done or dropped.
    open: Arc<Open>,
    /// The jobs pushed that may not have been started yet, oldest first, with when
    /// they were pushed: what [`Queue::take_back`] looks through.
    unstarted: VecDeque<(Arc<AtomicBool>, J, Instant)>,
    /// Where results come back, in the order of their jobs.
    done: Receiver<Outcome<R>>,
    /// The first panic of the work, passed on by [`Queue::finish`].
    panic: Option<Box<dyn Any + Send>>,
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
    /// A queue in `scope` whose jobs the thread's worker does by calling `work` on
    /// each, in order (the worker is made now if the thread has none). `Err` when the
    /// system will not make a thread (the caller then compiles on the spot).
    pub fn start(
        scope: &'scope Scope<'scope, '_>,
        work: impl FnMut(J) -> R + Send + 'scope,
    ) -> std::io::Result<Queue<'scope, J, R>> {
        let tasks = worker()?;
        let (results, done) = mpsc::channel::<Outcome<R>>();
        Ok(Queue {
            tasks: Some(tasks),
            work: Arc::new(Mutex::new(work)),
            shared: Arc::new(Shared {
                cancel: AtomicBool::new(false),
                results,
            }),
            open: Arc::clone(&scope.open),
            unstarted: VecDeque::new(),
            done,
            panic: None,
            pending: 0,
            taken_back: 0,
        })
    }

    /// Hands `job` to the worker; `false` (and the job dropped) when the worker is
    /// gone.
    pub fn push(&mut self, job: J) -> bool {
        let Some(tasks) = self.tasks.as_ref() else {
            return false;
        };
        let claim = Arc::new(AtomicBool::new(false));
        let claimed: Claimed<J> = (Arc::clone(&claim), job.clone());
        let (work, shared) = (Arc::clone(&self.work), Arc::clone(&self.shared));
        let task: Box<dyn FnOnce() + Send + 'scope> =
            Box::new(move || Self::run_job(claimed, &work, &shared));
        // SAFETY: only the lifetime bound changes. The task is sent to the worker with
        // this scope's count raised; the worker brings it down only after the task
        // has run and been dropped (a task the channel drops unrun, when the worker
        // is gone, is dropped on the spot, see below). `scope` waits for that count
        // to reach zero before it returns, so everything the task borrows for
        // `'scope` outlives the task.
        let task: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(task) };
        self.open.add();
        if let Err(mpsc::SendError(Some((task, open)))) =
            tasks.send(Some((task, Arc::clone(&self.open))))
        {
            // The worker is gone: nothing will run the task.
            drop(task);
            open.done();
            return false;
        }
        self.pending += 1;
        self.unstarted.push_back((claim, job, Instant::now()));
        true
    }

    /// One job on the worker: done unless cancelled or taken back, its result (or the
    /// panic of the work) sent back.
    fn run_job(
        (claim, job): Claimed<J>,
        work: &Mutex<dyn FnMut(J) -> R + Send + 'scope>,
        shared: &Shared<R>,
    ) {
        // exercise-begin: worker the worker's side of a job: skip it if cancelled or taken back, else do it and send the result back
        if shared.cancel.load(Ordering::Acquire) {
            return;
        }
        // Taken back by the running thread, which did it itself.
        if claim.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut work = work.lock().unwrap_or_else(PoisonError::into_inner);
        let outcome = catch_unwind(AssertUnwindSafe(|| work(job)));
        // When nobody listens any more, the result is dropped.
        let _ = shared.results.send(outcome);
        // exercise-end
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

    /// The results finished since the last poll, without waiting (a job whose work
    /// panicked gives none: [`Queue::finish`] passes the panic on).
    pub fn poll(&mut self) -> Vec<R> {
        let mut out = Vec::new();
        loop {
            match self.done.try_recv() {
                Ok(outcome) => out.extend(self.collect(outcome)),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return out,
            }
        }
    }

    /// Waits for the next result; `None` when no job is pending, or when the work
    /// panicked ([`Queue::finish`] passes the panic on).
    pub fn wait(&mut self) -> Option<R> {
        if self.pending == 0 {
            return None;
        }
        let outcome = self.done.recv().ok()?;
        self.collect(outcome)
    }

    /// Takes in one job's outcome: its result, or the work's panic kept.
    fn collect(&mut self, outcome: Outcome<R>) -> Option<R> {
        self.pending -= 1;
        match outcome {
            Ok(r) => Some(r),
            Err(panic) => {
                self.panic.get_or_insert(panic);
                None
            }
        }
    }

    /// Jobs pushed whose results have not been collected.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Ends the queue: the worker skips the jobs it has not started and finishes the
    /// one it is on, which this waits for. A panic of the work is passed on.
    pub fn finish(mut self) -> Finished {
        let finished = self.stop();
        if let Some(panic) = self.panic.take() {
            resume_unwind(panic);
        }
        finished
    }

    /// Cancels what is queued and waits until the worker is through with every job
    /// of the scope; what it finished is counted and dropped.
    fn stop(&mut self) -> Finished {
        self.cancel();
        self.open.wait();
        let mut uncollected = 0;
        while let Ok(outcome) = self.done.try_recv() {
            match outcome {
                Ok(_) => uncollected += 1,
                Err(panic) => {
                    self.panic.get_or_insert(panic);
                }
            }
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
    /// still cancels its jobs; [`scope`] waits for the worker to be through with them.
    fn drop(&mut self) {
        self.cancel();
    }
}

impl<J, R> Queue<'_, J, R> {
    /// Tells the worker to skip this queue's jobs not yet started, and takes no more.
    fn cancel(&mut self) {
        self.shared.cancel.store(true, Ordering::Release);
        self.tasks = None;
    }
}
