//! Threads with big stacks, kept between runs: where native code runs.
//!
//! Native code needs a stack as deep as the deepest recursion a program may reach
//! ([`crate::stack`]), far more than the caller's thread may have, so every run goes to
//! a thread of its own. Making one costs tens of microseconds (`clone`, mapping the
//! stack and its guard page, the signal stack), and its stack pages are new memory
//! each time: for a run of a millisecond that was a tenth of its time. So a thread
//! that finished a run is *parked*: it waits, stack still mapped, for the next run
//! that fits on its stack. [`run_on_native_stack`] takes the smallest parked thread
//! whose stack is big enough, or makes one; at most [`MAX_PARKED`] threads wait, and
//! only those whose stack is at most [`PARK_STACK_MAX`]. A thread whose stack is
//! bigger than [`KEEP_TOUCHED_MAX`] gives the pages its run touched back to the system
//! after each run (`madvise`), so that a deep recursion leaves no memory behind while
//! the next run that may recurse as deep still finds its thread (a tiered run of a
//! recursive program asks for hundreds of MiB). A thread that is not parked again is joined
//! before the run returns, so runs leave no thread behind but the parked ones, which
//! [`retire_parked`] ends (for a test that counts threads). When the process exits,
//! the parked threads, blocked waiting for work, end with it.
//!
//! A run may borrow from its caller (the program, the heap, the code): the caller
//! waits until the thread has finished the run and dropped everything the run
//! captured, even when the caller's own work meanwhile panics. A panic in the run is
//! caught on the thread (which stays usable) and goes on in the caller.

use std::any::Any;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, PoisonError};
use std::thread::{self, JoinHandle};

/// The name of the threads that run native code (`perf` and `gdb` show it).
pub const THREAD_NAME: &str = "jitlab-native";

/// The most threads that wait for work between runs: as many as runs usually go on
/// at once (a test binary runs tests in parallel).
pub const MAX_PARKED: usize = 4;

/// The biggest stack a thread may keep while it waits for work (address space: what
/// a run touched beyond [`KEEP_TOUCHED_MAX`] goes back to the system): a thread with a
/// bigger stack ends after its run.
pub const PARK_STACK_MAX: usize = crate::stack::NATIVE_STACK_MAX;

/// The biggest stack whose touched pages a parked thread keeps: a thread with a bigger
/// stack releases, after each run, the pages below the frame of its loop.
pub const KEEP_TOUCHED_MAX: usize = 64 << 20;

/// The part of a big stack, at each end, that [`release_stack`] leaves alone: at the
/// top the frames of the thread's loop (and the release itself), at the bottom
/// whatever the thread library keeps between the mapping's start and the stack
/// (the guard page; thread-local storage is at the top).
const RELEASE_MARGIN: usize = 1 << 20;

/// The smallest stack a thread is made with: most programs need 1–3 MiB
/// ([`crate::stack::stack_need`]), so rounding up lets them all share one thread;
/// only what a run touches becomes memory.
pub const MIN_STACK: usize = 8 << 20;

/// A run, its lifetime erased (see the safety argument in [`run_on_native_stack`]).
type Task = Box<dyn FnOnce() + Send + 'static>;

/// A thread that runs tasks one after the other, and how to talk to it.
struct Worker {
    /// The size of its stack in bytes.
    stack_bytes: usize,
    /// Where its tasks go; dropping it ends the thread.
    tasks: Sender<Task>,
    /// One message after each task has run and been dropped.
    done: Receiver<()>,
    thread: JoinHandle<()>,
}

/// The threads waiting for work.
static PARKED: Mutex<Vec<Worker>> = Mutex::new(Vec::new());

impl Worker {
    /// Makes a thread with `stack_bytes` of stack (or more), waiting for tasks.
    fn spawn(stack_bytes: usize) -> io::Result<Worker> {
        // Rounded up so that programs of different needs share a thread (big stacks
        // to a power of two: they are address space, not memory); when the system
        // refuses that much (`ulimit -v`), exactly what was asked.
        let rounded = if stack_bytes > KEEP_TOUCHED_MAX {
            stack_bytes.checked_next_power_of_two()
        } else {
            stack_bytes.max(MIN_STACK).checked_next_multiple_of(1 << 20)
        }
        .unwrap_or(stack_bytes);
        Worker::spawn_exact(rounded).or_else(|_| Worker::spawn_exact(stack_bytes))
    }

    /// Makes a thread with exactly `stack_bytes` of stack, waiting for tasks.
    fn spawn_exact(stack_bytes: usize) -> io::Result<Worker> {
        let (tasks, inbox) = mpsc::channel::<Task>();
        let (finished, done) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name(THREAD_NAME.into())
            .stack_size(stack_bytes)
            .spawn(move || {
                let top = stack_address();
                for task in inbox {
                    // `task` catches its own panics (see `run_on_native_stack`).
                    task();
                    if stack_bytes > KEEP_TOUCHED_MAX {
                        release_stack(top, stack_bytes);
                    }
                    if finished.send(()).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Worker {
            stack_bytes,
            tasks,
            done,
            thread,
        })
    }

    /// A parked thread with at least `stack_bytes` of stack (the smallest), or a new
    /// one.
    fn take(stack_bytes: usize) -> io::Result<Worker> {
        let mut parked = PARKED.lock().unwrap_or_else(PoisonError::into_inner);
        let best = (0..parked.len())
            .filter(|&i| parked[i].stack_bytes >= stack_bytes)
            .min_by_key(|&i| parked[i].stack_bytes);
        match best {
            Some(i) => Ok(parked.swap_remove(i)),
            None => {
                drop(parked);
                Worker::spawn(stack_bytes)
            }
        }
    }

    /// Parks the thread for the next run, or ends it (and waits until it has ended)
    /// when its stack is too big to keep or enough threads wait already.
    fn put_back(self) {
        if self.stack_bytes <= PARK_STACK_MAX {
            let mut parked = PARKED.lock().unwrap_or_else(PoisonError::into_inner);
            if parked.len() < MAX_PARKED {
                parked.push(self);
                return;
            }
        }
        self.retire();
    }

    /// Ends the thread: no more tasks, and it returns from its loop.
    fn retire(self) {
        drop(self.tasks);
        // The loop catches every panic of a task: the thread cannot have panicked.
        let _ = self.thread.join();
    }
}

/// An address in the caller's frame: where the stack is now.
#[inline(never)]
fn stack_address() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// Gives the pages of this thread's stack below the caller's frame back to the system
/// (they read as zeros when touched again): `top` is an address near the top of the
/// stack, `stack_bytes` the size the thread was made with. The thread library maps
/// at least `stack_bytes` below the top of the stack (plus its guard page).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn release_stack(top: usize, stack_bytes: usize) {
    const PAGE: usize = 4096;
    const MADV_DONTNEED: usize = 4;
    const SYS_MADVISE: usize = 28;
    let high = stack_address().saturating_sub(RELEASE_MARGIN) & !(PAGE - 1);
    let low = (top.saturating_sub(stack_bytes) + RELEASE_MARGIN).next_multiple_of(PAGE);
    if high <= low {
        return;
    }
    // SAFETY: `[low, high)` lies inside this thread's stack mapping (below `top` by
    // less than `stack_bytes` minus a margin bigger than what the thread library puts
    // above the stack) and below every live frame of this thread (a margin below the
    // caller's), so no memory in use is zeroed; `madvise` touches nothing else (rcx
    // and r11 are clobbered by `syscall`; its result is ignored: at worst the pages
    // stay).
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") SYS_MADVISE => _,
            in("rdi") low,
            in("rsi") high - low,
            in("rdx") MADV_DONTNEED,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
}

/// Elsewhere the pages stay with the thread.
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn release_stack(_top: usize, _stack_bytes: usize) {}

/// Ends every parked thread and waits until they have ended: after it, the only
/// threads native code left are those of runs still going on. For tests that count
/// the process's threads, and for a host that wants its memory back.
pub fn retire_parked() {
    let parked = std::mem::take(&mut *PARKED.lock().unwrap_or_else(PoisonError::into_inner));
    for worker in parked {
        worker.retire();
    }
}

/// How many threads wait for work now.
pub fn parked_threads() -> usize {
    PARKED.lock().unwrap_or_else(PoisonError::into_inner).len()
}

/// A task handed to a worker, until the worker says it has run: dropping it waits
/// for that, then parks or ends the worker.
struct Running {
    worker: Option<Worker>,
    finished: bool,
}

impl Running {
    /// Waits until the task has run and been dropped.
    fn wait(&mut self) {
        if !self.finished {
            if let Some(worker) = &self.worker {
                // An error means the thread is gone, which it can only be after the
                // task (and everything it borrowed) is gone too.
                let _ = worker.done.recv();
            }
            self.finished = true;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Also on a panic of the caller's `meanwhile`: the task may still be using
        // what it borrowed from the caller's frame, which must outlive it.
        self.wait();
        if let Some(worker) = self.worker.take() {
            worker.put_back();
        }
    }
}

/// Runs `job` on a thread with at least `stack_bytes` of stack, a parked one when
/// there is one (see the module docs), while `meanwhile` runs on the calling thread
/// (say, writing out what the job sends it through a channel: `job` should drop its
/// sender when it ends, so that `meanwhile` sees the end). Returns both results once
/// both are done. `Err` when no thread with such a stack can be made; then neither
/// closure ran. A panic of `job` goes on in the caller, after `meanwhile` returned.
///
/// (Stage 5 switches stacks on the caller's thread instead: a short tiered run could
/// not afford the hop to another thread; see its `stack` module.)
pub fn run_on_native_stack<J, R, M, T>(
    stack_bytes: usize,
    job: J,
    meanwhile: M,
) -> io::Result<(R, T)>
where
    J: FnOnce() -> R + Send,
    R: Send,
    M: FnOnce() -> T,
{
    let worker = Worker::take(stack_bytes)?;
    // The job's result, or its panic, written by the worker on this frame.
    let result: Mutex<Option<Result<R, Box<dyn Any + Send>>>> = Mutex::new(None);
    let slot = &result;
    let task = move || {
        let outcome = panic::catch_unwind(AssertUnwindSafe(job));
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
    };
    let task: Box<dyn FnOnce() + Send + '_> = Box::new(task);
    // SAFETY: only the lifetime changes (the layout of a boxed trait object does not
    // depend on it). The task borrows `result` and whatever `job` borrows, all of
    // which outlive this call; and this call does not return or unwind before the
    // worker has run the task and dropped it: the worker reports `done` only after
    // that, and `Running` waits for `done` on every way out, panics included (or for
    // the worker's end, which comes after it dropped the task).
    let task: Task = unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + '_>, Task>(task) };
    let mut running = Running {
        worker: Some(worker),
        finished: false,
    };
    if let Some(worker) = &running.worker {
        if let Err(mpsc::SendError(task)) = worker.tasks.send(task) {
            // The thread is gone (it cannot be: it only ends when told). The task
            // never ran; drop it here, while what it borrows is alive.
            drop(task);
            running.finished = true;
            running.worker = None;
            return Err(io::Error::other("the native thread ended"));
        }
    }
    let side = meanwhile();
    running.wait();
    drop(running);
    let outcome = result
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .expect("the worker ran the job");
    match outcome {
        Ok(value) => Ok((value, side)),
        Err(payload) => panic::resume_unwind(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recurses `depth` times with a 4 KiB frame each, so the stack must hold about
    /// `depth * 4` KiB.
    fn deep(depth: usize) -> usize {
        let frame = std::hint::black_box([depth as u8; 4096]);
        if depth == 0 {
            return frame[0] as usize;
        }
        deep(depth - 1) + frame[4095] as usize
    }

    #[test]
    fn a_job_gets_the_stack_it_asked_for_and_borrows_from_the_caller() {
        let words = [1u64, 2, 3];
        let (sum, side) = run_on_native_stack(
            100 << 20,
            || deep(10_000) + words.iter().sum::<u64>() as usize,
            || "meanwhile",
        )
        .unwrap();
        // 10,000 frames of 4 KiB: 40 MiB of stack, far more than a test thread's.
        assert_eq!(sum, (1..=10_000usize).map(|d| d % 256).sum::<usize>() + 6);
        assert_eq!(side, "meanwhile");
    }

    #[test]
    fn the_caller_meanwhile_receives_what_the_job_sends() {
        let (tx, rx) = mpsc::sync_channel::<u32>(1);
        let (n, got) = run_on_native_stack(
            1 << 20,
            move || {
                for i in 0..100 {
                    tx.send(i).unwrap();
                }
                100
            },
            move || rx.iter().collect::<Vec<u32>>(),
        )
        .unwrap();
        assert_eq!(n, 100);
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn a_panic_in_the_job_reaches_the_caller_and_the_thread_lives_on() {
        let result = panic::catch_unwind(|| {
            run_on_native_stack(1 << 20, || panic!("in the job"), || ()).map(|_: ((), ())| ())
        });
        let payload = result.expect_err("the panic goes on in the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"in the job"));
        // Runs go on working afterwards.
        let (v, ()) = run_on_native_stack(1 << 20, || 7, || ()).unwrap();
        assert_eq!(v, 7);
    }

    #[test]
    fn a_panic_meanwhile_waits_for_the_job_to_finish() {
        let flag = Mutex::new(false);
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            run_on_native_stack(
                1 << 20,
                || {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    *flag.lock().unwrap() = true;
                },
                || panic!("meanwhile"),
            )
        }));
        assert!(result.is_err());
        // The job had finished before the caller's frame unwound.
        assert!(*flag.lock().unwrap());
    }

    /// The threads of this process named [`THREAD_NAME`] (`None` without `/proc`).
    fn native_threads() -> Option<usize> {
        let tasks = std::fs::read_dir("/proc/self/task").ok()?;
        Some(
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.trim_end() == THREAD_NAME)
                .count(),
        )
    }

    /// The process's resident memory in bytes (`None` without `/proc`).
    fn resident_bytes() -> Option<usize> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib << 10)
    }

    #[test]
    fn runs_leave_only_the_parked_threads_and_retiring_ends_them() {
        const CHILD: &str = "JITLAB_RUNNER_THREADS_CHILD";
        if std::env::var_os(CHILD).is_none() {
            // In a child process running only this test, so that no other test's
            // runs come and go while it counts.
            let test = "runner::tests::runs_leave_only_the_parked_threads_and_retiring_ends_them";
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([test, "--exact", "--test-threads=1", "--nocapture"])
                .env(CHILD, "1")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(stdout.contains("1 passed"), "{stdout}");
            return;
        }
        let Some(before) = native_threads() else {
            return; // No /proc here: nothing to count with.
        };
        assert_eq!(before, 0);
        // Runs one after the other share one thread while their stacks fit in it.
        for bytes in [1 << 20, 3 << 20, MIN_STACK, 2 << 20] {
            run_on_native_stack(bytes, || deep(100), || ()).unwrap();
            assert_eq!(native_threads(), Some(1));
            assert_eq!(parked_threads(), 1);
        }
        // A bigger stack is a second thread, which then serves every size.
        for bytes in [MIN_STACK + 1, 1 << 20] {
            run_on_native_stack(bytes, || deep(100), || ()).unwrap();
            assert_eq!(native_threads(), Some(2));
        }
        // A big stack is parked too, but gives back the pages its run touched: a run
        // that touched 40 MiB of it leaves the process's memory about as it was.
        let before = resident_bytes();
        run_on_native_stack(KEEP_TOUCHED_MAX + 1, || deep(10_000), || ()).unwrap();
        assert_eq!(native_threads(), Some(3));
        assert_eq!(parked_threads(), 3);
        if let (Some(before), Some(after)) = (before, resident_bytes()) {
            assert!(
                after < before + (8 << 20),
                "{before} bytes resident before the run, {after} after"
            );
        }
        // A thread with a stack too big to keep ends with its run.
        run_on_native_stack(PARK_STACK_MAX + 1, || deep(100), || ()).unwrap();
        assert_eq!(native_threads(), Some(3));
        // Runs at once each get a thread; at most `MAX_PARKED` wait afterwards.
        std::thread::scope(|scope| {
            for _ in 0..MAX_PARKED + 2 {
                scope.spawn(|| run_on_native_stack(1 << 20, || deep(100), || ()).unwrap());
            }
        });
        let parked = parked_threads();
        assert!((1..=MAX_PARKED).contains(&parked), "{parked} parked");
        assert_eq!(native_threads(), Some(parked));
        retire_parked();
        assert_eq!(native_threads(), Some(0));
        assert_eq!(parked_threads(), 0);
    }

    #[test]
    fn an_impossible_stack_is_an_error_before_anything_runs() {
        let ran = Mutex::new(false);
        let result = run_on_native_stack(
            usize::MAX / 2,
            || *ran.lock().unwrap() = true,
            || *ran.lock().unwrap() = true,
        );
        assert!(result.is_err());
        assert!(!*ran.lock().unwrap());
    }
}
