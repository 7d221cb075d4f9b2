//! A big stack for a tiered run, on the caller's own thread.
//!
//! A tiered run may end up with mixed stacks 10,000 levels deep (an interpreter
//! activation, a baseline frame and an optimized frame at each), far more than the
//! caller's thread has. Stage 3 sends such runs to a parked thread with a big stack
//! (`stage3::runner`), but handing a run to another thread and back costs 20–60 µs
//! (two wake-ups of a sleeping thread), ten times what the interpreter needs for a
//! short program — and most programs a tiered engine runs are short. So a tiered run
//! stays on the caller's thread and only *switches stacks*: [`run_on_own_stack`]
//! points `rsp` at a stack of its own (mapped once, with a guard page below it, and
//! kept for the next run), calls the run there, and points `rsp` back. That costs a
//! few instructions, and everything else — thread-local state, the output writer, the
//! optimizer's worker (a scoped thread) — is the caller's as in any function call.
//!
//! ```text
//!   caller's thread stack          own stack (mapped here, kept between runs)
//!   +-----------------------+      +-----------------------+ top (16-aligned)
//!   | Tiered::run           |      | enter::<F> (the run)  |
//!   | run_on_own_stack      | rsp  |   interpreter, hooks, |
//!   |   switch_stack: keep -+----> |   native frames ...   |
//!   |     rsp in rbp        | <----+- return: rsp = rbp    |
//!   +-----------------------+      |         ...           |
//!                                  +-----------------------+
//!                                  | guard page (no access)|
//!                                  +-----------------------+
//! ```
//!
//! The run must not unwind across the switch (the unwinder could not follow it): a
//! panic is caught on the own stack and resumed on the caller's once back. Stacks
//! are kept like stage 3's parked threads: at most [`MAX_KEPT`], each at most
//! [`stage3::stack::NATIVE_STACK_MAX`]; one bigger than
//! [`stage3::runner::KEEP_TOUCHED_MAX`] gives the pages a run touched below its top
//! `KEEP_TOUCHED_MAX` back to the system after it (`madvise`), so a deep recursion
//! leaves no more memory behind than a small stack keeps.

use std::any::Any;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, PoisonError};

use stage3::runner::{KEEP_TOUCHED_MAX, MIN_STACK, PARK_STACK_MAX};

/// The most stacks kept between runs: as many as runs usually go on at once (a test
/// binary runs tests in parallel).
pub const MAX_KEPT: usize = 4;

const PAGE: usize = 4096;

/// A mapped stack: `len` bytes at `base`, the lowest page a guard.
struct Stack {
    base: usize,
    len: usize,
}

/// The stacks waiting for a run.
static KEPT: Mutex<Vec<Stack>> = Mutex::new(Vec::new());

impl Stack {
    /// Maps a stack with at least `bytes` usable above its guard page.
    fn map(bytes: usize) -> io::Result<Stack> {
        // Rounded up as stage 3's runner rounds its threads' stacks, so that runs of
        // different needs share one.
        let usable = if bytes > KEEP_TOUCHED_MAX {
            bytes.checked_next_power_of_two()
        } else {
            bytes.max(MIN_STACK).checked_next_multiple_of(1 << 20)
        }
        .and_then(|b| b.checked_add(PAGE))
        .ok_or_else(|| io::Error::other("no stack that big"))?;
        let base = sys::map(usable)?;
        let stack = Stack { base, len: usable };
        if let Err(e) = sys::protect_none(base, PAGE) {
            drop(stack);
            return Err(e);
        }
        Ok(stack)
    }

    /// The usable bytes above the guard page.
    fn usable(&self) -> usize {
        self.len - PAGE
    }

    /// The first address above the stack (16-aligned: `base` and `len` are pages).
    fn top(&self) -> usize {
        self.base + self.len
    }

    /// A kept stack with at least `bytes` (the smallest), or a new one. A run that
    /// needs no more than [`KEEP_TOUCHED_MAX`] takes no bigger stack (it would
    /// pay for releasing the big one's pages after it).
    fn take(bytes: usize) -> io::Result<Stack> {
        let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
        let small = bytes <= KEEP_TOUCHED_MAX;
        let best = (0..kept.len())
            .filter(|&i| kept[i].usable() >= bytes)
            .filter(|&i| !small || kept[i].usable() <= KEEP_TOUCHED_MAX)
            .min_by_key(|&i| kept[i].usable());
        match best {
            Some(i) => Ok(kept.swap_remove(i)),
            None => {
                drop(kept);
                Stack::map(bytes)
            }
        }
    }

    /// Keeps the stack for the next run (a big one without the pages this run
    /// touched), or unmaps it.
    fn put_back(self) {
        if self.usable() > PARK_STACK_MAX {
            return;
        }
        if self.usable() > KEEP_TOUCHED_MAX {
            // The top `KEEP_TOUCHED_MAX` stay: a short run on a big stack would
            // otherwise fault its few pages in again at every run.
            sys::release(self.base + PAGE, self.usable() - KEEP_TOUCHED_MAX);
        }
        let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() < MAX_KEPT {
            kept.push(self);
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        sys::unmap(self.base, self.len);
    }
}

/// Unmaps every kept stack: for a host that wants its address space back.
pub fn release_kept() {
    drop(std::mem::take(
        &mut *KEPT.lock().unwrap_or_else(PoisonError::into_inner),
    ));
}

/// The closure and its outcome, where the code on the own stack finds them.
struct Call<F, R> {
    job: Option<F>,
    outcome: Option<Result<R, Box<dyn Any + Send>>>,
}

/// Runs the job of the [`Call`] at `call` (on the own stack), catching its panic:
/// nothing unwinds across the switch.
extern "sysv64" fn enter<F: FnOnce() -> R, R>(call: *mut Call<F, R>) {
    // SAFETY: `call` is the `Call` of `run_on_own_stack`'s frame, live and borrowed
    // by nobody else while the job runs.
    let call = unsafe { &mut *call };
    if let Some(job) = call.job.take() {
        call.outcome = Some(panic::catch_unwind(AssertUnwindSafe(job)));
    }
}

/// Runs `job` on this thread with at least `stack_bytes` of stack (a kept one when
/// there is one), and returns its result; a panic of `job` goes on in the caller.
/// `Err` when no such stack can be mapped; then `job` did not run.
pub fn run_on_own_stack<R>(stack_bytes: usize, job: impl FnOnce() -> R) -> io::Result<R> {
    let stack = Stack::take(stack_bytes)?;
    let mut call = Call {
        job: Some(job),
        outcome: None,
    };
    switch(stack.top(), &mut call);
    stack.put_back();
    match call.outcome.expect("the job ran") {
        Ok(value) => Ok(value),
        Err(payload) => panic::resume_unwind(payload),
    }
}

/// Calls [`enter`] with `call` on the stack whose top is `top`, and comes back.
fn switch<F: FnOnce() -> R, R>(top: usize, call: &mut Call<F, R>) {
    let enter: extern "sysv64" fn(*mut Call<F, R>) = enter::<F, R>;
    // SAFETY: `top` is the 16-aligned end of a mapped, writable stack of ours that
    // nothing else uses (see `switch_stack`); `enter` takes `call`, a live `Call` of
    // this very type, and cannot unwind (it catches every panic).
    unsafe { switch_stack(top, enter as usize, (call as *mut Call<F, R>).cast()) }
}

/// Calls the `sysv64` function at `enter` with `arg` on the stack whose top is `top`
/// and comes back to this stack: `rbp` keeps the caller's stack pointer meanwhile,
/// and the call frame information says so, so that a backtrace taken on the own stack
/// (a panic's, with `RUST_BACKTRACE`) walks on into the caller's frames instead of
/// off the top of the own stack.
///
/// # Safety
/// `top` is the 16-aligned end of writable memory nothing else uses, big enough for
/// what `enter` does; `enter` is an `extern "sysv64" fn(*mut u8)` that does not unwind,
/// and `arg` what it expects.
#[unsafe(naked)]
unsafe extern "sysv64" fn switch_stack(top: usize, enter: usize, arg: *mut u8) {
    std::arch::naked_asm!(
        ".cfi_startproc",
        "push rbp",
        ".cfi_def_cfa_offset 16",
        ".cfi_offset rbp, -16",
        "mov rbp, rsp",
        ".cfi_def_cfa_register rbp",
        "mov rsp, rdi",
        "mov rdi, rdx",
        "call rsi",
        "mov rsp, rbp",
        "pop rbp",
        ".cfi_def_cfa rsp, 8",
        "ret",
        ".cfi_endproc",
    )
}

/// The system calls for mapping stacks (Linux on x86-64, like the code the JIT makes).
mod sys {
    use std::io;

    const SYS_MMAP: usize = 9;
    const SYS_MPROTECT: usize = 10;
    const SYS_MUNMAP: usize = 11;
    const SYS_MADVISE: usize = 28;
    const PROT_NONE: usize = 0;
    const PROT_READ_WRITE: usize = 0x1 | 0x2;
    /// `MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK`: address space only
    /// (pages become memory when touched), like a thread's stack.
    const MAP_FLAGS: usize = 0x02 | 0x20 | 0x4000 | 0x20000;
    const MADV_DONTNEED: usize = 4;

    /// A raw system call with up to six arguments: its result (`-errno` on failure).
    ///
    /// # Safety
    /// The call, with these arguments, touches no memory in use.
    unsafe fn syscall(n: usize, a: [usize; 6]) -> isize {
        let ret: isize;
        // SAFETY: the caller's contract; `syscall` clobbers rcx and r11 only.
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") n as isize => ret,
                in("rdi") a[0],
                in("rsi") a[1],
                in("rdx") a[2],
                in("r10") a[3],
                in("r8") a[4],
                in("r9") a[5],
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        ret
    }

    fn check(ret: isize) -> io::Result<usize> {
        if ret < 0 && ret > -4096 {
            Err(io::Error::from_raw_os_error(-ret as i32))
        } else {
            Ok(ret as usize)
        }
    }

    /// Maps `len` bytes of fresh read-write memory; its address.
    pub fn map(len: usize) -> io::Result<usize> {
        // SAFETY: a new mapping at an address the system picks touches nothing else.
        check(unsafe {
            syscall(
                SYS_MMAP,
                [0, len, PROT_READ_WRITE, MAP_FLAGS, usize::MAX, 0],
            )
        })
    }

    /// Makes `[addr, addr + len)` of one of our stacks inaccessible (the guard page).
    pub fn protect_none(addr: usize, len: usize) -> io::Result<()> {
        // SAFETY: the range is the lowest page of a stack just mapped, unused.
        check(unsafe { syscall(SYS_MPROTECT, [addr, len, PROT_NONE, 0, 0, 0]) }).map(|_| ())
    }

    /// Unmaps one of our stacks (no run is on it).
    pub fn unmap(addr: usize, len: usize) {
        // SAFETY: the whole mapping of a stack no run uses any more. Its result is
        // ignored: at worst the address space stays taken.
        unsafe { syscall(SYS_MUNMAP, [addr, len, 0, 0, 0, 0]) };
    }

    /// Gives the pages of `[addr, addr + len)` back to the system (they read as
    /// zeros when touched again).
    pub fn release(addr: usize, len: usize) {
        // SAFETY: the usable part of a stack no run is on. Ignored result: at worst
        // the pages stay.
        unsafe { syscall(SYS_MADVISE, [addr, len, MADV_DONTNEED, 0, 0, 0]) };
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
    fn a_job_gets_the_stack_it_asked_for_on_this_thread() {
        let words = [1u64, 2, 3];
        let me = std::thread::current().id();
        let (sum, thread) = run_on_own_stack(100 << 20, || {
            (
                deep(10_000) + words.iter().sum::<u64>() as usize,
                std::thread::current().id(),
            )
        })
        .unwrap();
        // 10,000 frames of 4 KiB: 40 MiB of stack, far more than a test thread's.
        assert_eq!(sum, (1..=10_000usize).map(|d| d % 256).sum::<usize>() + 6);
        assert_eq!(thread, me);
        // Again, on the kept stack.
        assert_eq!(run_on_own_stack(1 << 20, || deep(100)).unwrap(), deep(100));
    }

    #[test]
    fn a_panic_in_the_job_reaches_the_caller_and_runs_go_on() {
        let result = panic::catch_unwind(|| run_on_own_stack(1 << 20, || panic!("in the job")));
        let payload = result.expect_err("the panic goes on in the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"in the job"));
        assert_eq!(run_on_own_stack(1 << 20, || 7).unwrap(), 7);
    }

    #[test]
    fn runs_nest_and_spawn_threads() {
        let v = run_on_own_stack(1 << 20, || {
            let inner = run_on_own_stack(1 << 20, || deep(10)).unwrap();
            let spawned = std::thread::scope(|s| s.spawn(|| deep(10)).join().unwrap());
            inner + spawned
        })
        .unwrap();
        assert_eq!(v, 2 * deep(10));
    }

    #[test]
    fn an_impossible_stack_is_an_error_before_anything_runs() {
        let mut ran = false;
        assert!(run_on_own_stack(usize::MAX / 2, || ran = true).is_err());
        assert!(!ran);
    }
}
