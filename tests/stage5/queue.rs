//! The background compile queue on its own, with stand-in jobs: results come back in
//! order, finishing cancels what is still queued and waits for the job the worker is
//! on, a job the worker has not started can be taken back (and the worker skips it),
//! a thread keeps one worker for all its queues, and the worker ends with the thread.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;
use std::time::Duration;

use stage5::queue::{has_worker, scope, Finished, Queue};

use super::common::isolated;

/// The threads of this process, from the kernel's list.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task lists the threads")
        .count()
}

/// Work for a queue whose worker is held in job 0 until the test lets it go, so
/// that the jobs pushed after it are still queued: the work (each job it does is
/// added to `done`, and is its own result), what hears job 0 start, and what lets it
/// go.
fn held_in_first_job(
    done: &Mutex<Vec<u32>>,
) -> (
    impl FnMut(u32) -> u32 + Send + '_,
    Receiver<()>,
    SyncSender<()>,
) {
    let (started, on_start) = sync_channel::<()>(1);
    let (gate, wait) = sync_channel::<()>(0);
    let work = move |n: u32| {
        if n == 0 {
            started.send(()).expect("the test listens");
            wait.recv().expect("the test lets it go");
        }
        done.lock().unwrap().push(n);
        n
    };
    (work, on_start, gate)
}

#[test]
fn jobs_are_done_in_order_and_come_back() {
    isolated(|| {
        scope(|s| {
            let mut q = Queue::start(s, |n: u64| n * n).expect("a worker");
            for n in 0..10 {
                assert!(q.push(n));
            }
            assert_eq!(q.pending(), 10);
            let got: Vec<u64> = std::iter::from_fn(|| q.wait()).collect();
            assert_eq!(got, (0..10).map(|n| n * n).collect::<Vec<_>>());
            assert_eq!(q.pending(), 0);
            assert!(q.poll().is_empty());
            assert_eq!(q.finish(), Finished::default());
        });
    });
}

#[test]
fn polling_collects_what_is_finished_without_waiting() {
    isolated(|| {
        scope(|s| {
            let mut q = Queue::start(s, |n: u32| n + 1).expect("a worker");
            q.push(1);
            q.push(2);
            let mut got = Vec::new();
            while got.len() < 2 {
                got.extend(q.poll());
                std::thread::yield_now();
            }
            assert_eq!(got, [2, 3]);
            assert_eq!(q.pending(), 0);
        });
    });
}

#[test]
fn finishing_cancels_what_is_queued_and_waits_for_the_job_the_worker_is_on() {
    isolated(|| {
        // The worker blocks in its first job until it is let go, so every other job is
        // still queued when the queue finishes.
        let done = Mutex::new(Vec::new());
        let (work, on_start, gate) = held_in_first_job(&done);
        scope(|s| {
            let mut q = Queue::start(s, work).expect("a worker");
            for n in 0..100 {
                q.push(n);
            }
            on_start.recv().expect("the worker starts");
            let release = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                gate.send(()).expect("the worker waits");
            });
            let finished = q.finish();
            release.join().expect("released");
            assert_eq!(
                finished,
                Finished {
                    uncollected: 1,
                    cancelled: 99,
                    taken_back: 0,
                }
            );
        });
    });
}

#[test]
fn a_job_the_worker_has_not_started_can_be_taken_back_once_it_waited() {
    isolated(|| {
        // The worker blocks in its first job until it is let go: the others wait.
        let done = Mutex::new(Vec::new());
        let (work, on_start, gate) = held_in_first_job(&done);
        scope(|s| {
            let mut q = Queue::start(s, work).expect("a worker");
            for n in 0..3 {
                assert!(q.push(n));
            }
            on_start.recv().expect("the worker starts");
            // Not before it waited as long as asked.
            assert_eq!(q.take_back(Duration::from_secs(3600), |&n| n == 2), None);
            // Job 0 is started: it stays the worker's.
            assert_eq!(q.take_back(Duration::ZERO, |&n| n == 0), None);
            // Job 2 has waited long enough: it is the caller's now, once.
            assert_eq!(q.take_back(Duration::ZERO, |&n| n == 2), Some(2));
            assert_eq!(q.take_back(Duration::ZERO, |&n| n == 2), None);
            assert_eq!(q.pending(), 2);
            gate.send(()).expect("the worker waits");
            let got: Vec<u32> = std::iter::from_fn(|| q.wait()).collect();
            assert_eq!(got, [0, 1]);
            assert_eq!(
                q.finish(),
                Finished {
                    uncollected: 0,
                    cancelled: 0,
                    taken_back: 1,
                }
            );
        });
        // The worker skipped the job taken back.
        assert_eq!(*done.lock().unwrap(), [0, 1]);
    });
}

#[test]
fn a_thread_keeps_one_worker_for_all_its_queues_and_it_ends_with_the_thread() {
    isolated(|| {
        let before = threads();
        // On a thread of its own: 300 queues, finished or dropped, some with jobs
        // still queued, all served by the one worker the thread made first.
        let counts = std::thread::spawn(move || {
            assert!(!has_worker());
            let mut counts = Vec::new();
            for round in 0..300u64 {
                scope(|s| {
                    let mut q = Queue::start(s, |n: u64| n + 1).expect("a worker");
                    for n in 0..round % 7 {
                        q.push(n);
                    }
                    if round % 2 == 0 {
                        q.poll();
                        drop(q);
                    } else {
                        q.finish();
                    }
                });
                assert!(has_worker());
                if round % 50 == 0 {
                    counts.push(threads());
                }
            }
            counts
        })
        .join()
        .expect("the thread runs");
        // Other tests of this binary may start and end threads meanwhile: the count
        // may move by a few, never by hundreds.
        for during in counts {
            assert!(
                during < before + 8,
                "{before} threads before, {during} during"
            );
        }
        // The worker was joined when its thread ended.
        let after = threads();
        assert!(after < before + 6, "{before} threads before, {after} after");
    });
}

#[test]
fn a_scope_waits_for_the_jobs_of_a_queue_it_never_saw_finish() {
    isolated(|| {
        // A queue that is forgotten (never finished, never dropped) still has its
        // jobs done before the scope returns: what they borrow outlives them.
        let done = Mutex::new(Vec::new());
        let (work, on_start, gate) = held_in_first_job(&done);
        scope(|s| {
            let mut q = Queue::start(s, work).expect("a worker");
            for n in 0..3 {
                assert!(q.push(n));
            }
            on_start.recv().expect("the worker starts");
            std::mem::forget(q);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                gate.send(()).expect("the worker waits");
            });
        });
        assert_eq!(*done.lock().unwrap(), [0, 1, 2]);
    });
}
