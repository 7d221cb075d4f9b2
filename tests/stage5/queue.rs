//! The background compile queue on its own, with stand-in jobs: results come back in
//! order, finishing cancels what is still queued and joins the worker, a job the
//! worker has not started can be taken back (and the worker skips it), and no queue
//! leaves a thread behind.

use std::sync::mpsc::sync_channel;
use std::time::Duration;

use stage5::queue::{Finished, Queue};

use super::common::isolated;

/// The threads of this process, from the kernel's list.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task lists the threads")
        .count()
}

#[test]
fn jobs_are_done_in_order_and_come_back() {
    isolated(|| {
        std::thread::scope(|s| {
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
        std::thread::scope(|s| {
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
fn finishing_cancels_what_is_queued_and_joins_the_worker() {
    isolated(|| {
        // The worker blocks in its first job until it is let go, so every other job is
        // still queued when the queue finishes.
        let (started, on_start) = sync_channel::<()>(1);
        let (gate, wait) = sync_channel::<()>(0);
        std::thread::scope(|s| {
            let mut q = Queue::start(s, move |n: u32| {
                if n == 0 {
                    started.send(()).expect("the test listens");
                    wait.recv().expect("the test lets it go");
                }
                n
            })
            .expect("a worker");
            for n in 0..100 {
                q.push(n);
            }
            on_start.recv().expect("the worker starts");
            let release = s.spawn(move || {
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
        let (started, on_start) = sync_channel::<()>(1);
        let (gate, wait) = sync_channel::<()>(0);
        let done = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|s| {
            let done = &done;
            let mut q = Queue::start(s, move |n: u32| {
                if n == 0 {
                    started.send(()).expect("the test listens");
                    wait.recv().expect("the test lets it go");
                }
                done.lock().unwrap().push(n);
                n
            })
            .expect("a worker");
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
fn hundreds_of_queues_leave_no_thread_behind() {
    isolated(|| {
        let before = threads();
        for round in 0..300u64 {
            std::thread::scope(|s| {
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
        }
        // Other tests of this binary may run threads meanwhile: the count may move by a
        // few, never by hundreds.
        let after = threads();
        assert!(after < before + 8, "{before} threads before, {after} after");
    });
}
