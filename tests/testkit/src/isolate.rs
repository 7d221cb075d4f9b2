//! Runs generated code where a crash or a hang cannot take the whole suite down: in a
//! child process, with a timeout.
//!
//! A test that runs generated code wraps that work in [`case`] (one body) or [`each`]
//! (a numbered list of checks, such as the corpus or a thousand random programs), or
//! starts with `if harness.this_test() { return; }` ([`Harness::this_test`]). The
//! test's process re-runs its own binary for just that test
//! (`<test binary> NAME --exact --nocapture --test-threads=1`) with `JITLAB_ISOLATE_*`
//! variables set; in that child the same test reaches the same call, which now runs
//! the work and reports each check's result on stdout between markers. The parent
//! reads the reports, and turns a child that dies or hangs into one failure that
//! names the check that was running, what happened (`SIGSEGV at 0x10`,
//! `timed out after 10 s`, a panic's message) and, when the fault is in generated
//! code that an engine registered in `stage2::code_map`, where in the program it was.
//! The checks after a crash run in a new child, so the other checks still report.
//!
//! ```ignore
//! use jitlab_testkit::isolate;
//! // One test body in a child: a crash fails this test only, with a message.
//! isolate::case(|| assert_eq!(run("print 1;"), "1"));
//! // Many checks, one child for all of them (a new one after each crash).
//! let failures = isolate::each(
//!     programs.len(),
//!     |i| format!("program {}", programs[i].name),
//!     |i| check(&programs[i]),
//! );
//! assert!(failures.is_empty(), "{}", isolate::report(&failures));
//! ```
//!
//! Re-running the test binary (rather than `fork`) keeps the child an ordinary
//! process: the test harness is multithreaded, and after `fork` only
//! async-signal-safe work would be allowed, while an engine allocates. Without a test
//! name to re-run (a test run on the main thread, a doc test), the work runs in
//! process.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

/// The variable that marks a child: the name of the test it runs.
const CHILD: &str = "JITLAB_ISOLATE_CHILD";
/// Which isolated call of the test the child runs (0 is the first).
const CALL: &str = "JITLAB_ISOLATE_CALL";
/// The value of [`CALL`] for a child that runs a whole test ([`Harness::this_test`]).
const WHOLE_TEST: usize = usize::MAX;
/// The first check the child runs.
const FROM: &str = "JITLAB_ISOLATE_FROM";
/// How many failures the child may report before it stops.
const MAX: &str = "JITLAB_ISOLATE_MAX";
/// Tells engines to record their code in `stage2::code_map`, so a fault in generated
/// code can be described.
pub const CODE_MAP_ENV: &str = "JITLAB_CODE_MAP";
/// Overrides the default timeout of every check, in seconds (`JITLAB_TIMEOUT=30`).
pub const TIMEOUT_ENV: &str = "JITLAB_TIMEOUT";

/// Every marker starts a line with this.
const MARK: &[u8] = b"@@jitlab-isolate:";

/// The timeout of one check unless [`TIMEOUT_ENV`] or [`Harness::timeout`] says
/// otherwise, in CPU time of the child: generous for one program (the corpus's
/// slowest takes well under a second in a debug build), short enough that a hang is
/// reported soon.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many failing checks an [`each`] reports before it stops: enough to see a
/// pattern, few enough that a crash in every program does not cost a child each.
pub const DEFAULT_MAX_FAILURES: usize = 3;

/// One failing check: which one, and what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The check's index.
    pub index: usize,
    /// What went wrong: the check's own report, or how its child died (with the
    /// check's label first).
    pub message: String,
}

/// A describer of code addresses: for an address in generated code, which function
/// and instruction it is in, with the listing around it (`stage2::code_map::describe`).
pub type Describer = fn(u64) -> Option<String>;

/// How checks are isolated: the timeout, how many failures to collect, and how to
/// describe a faulting address.
#[derive(Clone, Copy, Debug)]
pub struct Harness {
    timeout: Duration,
    max_failures: usize,
    describe: Option<Describer>,
}

impl Default for Harness {
    fn default() -> Harness {
        Harness::new()
    }
}

impl Harness {
    /// The defaults: [`DEFAULT_TIMEOUT`] (or [`TIMEOUT_ENV`]), [`DEFAULT_MAX_FAILURES`],
    /// and the describer set by [`set_describer`], if any.
    pub fn new() -> Harness {
        let timeout = std::env::var(TIMEOUT_ENV)
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| *s > 0.0)
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs_f64);
        Harness {
            timeout,
            max_failures: DEFAULT_MAX_FAILURES,
            describe: DESCRIBER.get().copied(),
        }
    }

    /// The time one check may take before its child is killed.
    pub fn timeout(mut self, timeout: Duration) -> Harness {
        self.timeout = timeout;
        self
    }

    /// How many failures to collect before stopping (at least one).
    pub fn max_failures(mut self, max: usize) -> Harness {
        self.max_failures = max.max(1);
        self
    }

    /// How the child describes a faulting address in generated code.
    pub fn describer(mut self, describe: Describer) -> Harness {
        self.describe = Some(describe);
        self
    }

    /// [`each`] with these settings.
    pub fn each(
        &self,
        count: usize,
        label: impl Fn(usize) -> String,
        check: impl Fn(usize) -> Result<(), String>,
    ) -> Vec<Failure> {
        let call = next_call();
        match mode() {
            // Inside a child that runs the whole test, everything runs here.
            Mode::Child {
                call: WHOLE_TEST, ..
            } => in_process(self, count, &label, &check),
            Mode::Child { call: wanted, .. } if wanted != call => Vec::new(),
            Mode::Child { from, max, .. } => child_run(self, count, from, max, &label, &check),
            Mode::InProcess => in_process(self, count, &label, &check),
            Mode::Parent { test } => self.parent(&test, call, count, &label),
        }
    }

    /// [`case`] with these settings.
    #[track_caller]
    pub fn case(&self, body: impl FnOnce()) {
        let body = Mutex::new(Some(body));
        let failures = self.each(
            1,
            |_| String::new(),
            |_| {
                let body = body.lock().ok().and_then(|mut b| b.take());
                if let Some(body) = body {
                    body();
                }
                Ok(())
            },
        );
        if let Some(failure) = failures.first() {
            // The child's message says where it failed; the hook adds no place of its own.
            NO_PLACE.with(|n| n.set(true));
            panic!("{}", failure.message.trim_start());
        }
    }

    /// Runs the calling test again, whole, in a child process: in the test's own
    /// process it returns `true` once the child passed (and panics with the child's
    /// failure, crash or timeout otherwise); in the child it returns `false`, and the
    /// test's body runs there. The first line of a test that runs generated code:
    ///
    /// ```ignore
    /// if harness().this_test() { return; } // the body below ran in a child
    /// ```
    ///
    /// (With no test name to re-run, it returns `false` and the body runs here.)
    #[track_caller]
    pub fn this_test(&self) -> bool {
        match mode() {
            Mode::InProcess | Mode::Child { .. } => {
                install_panic_hook();
                if std::env::var_os(CHILD).is_some() {
                    fault::install(self.describe);
                    marker("start 0", None);
                }
                false
            }
            Mode::Parent { test } => {
                let end = match self.spawn(&test, WHOLE_TEST, 0, 1) {
                    Ok(end) => end,
                    Err(message) => panic!("{message}"),
                };
                if end.exit_ok {
                    return true;
                }
                // A failed assertion: the child's panic messages say it all.
                let panics: Vec<String> = end
                    .panics
                    .iter()
                    .map(|p| match p.split_once("': ") {
                        Some((_, message)) if p.starts_with("thread '") => message.to_string(),
                        _ => p.clone(),
                    })
                    .collect();
                let message = match end.death {
                    Some(death) if death.starts_with("the process exited with status 101") => {
                        panics.join("\n")
                    }
                    Some(death) => death + &while_running(end.running.as_deref()),
                    None => panics.join("\n"),
                };
                NO_PLACE.with(|n| n.set(true));
                panic!("{}", message.trim_start());
            }
        }
    }

    /// Runs checks `from..count` in children, a new child after each one that dies.
    fn parent(
        &self,
        test: &str,
        call: usize,
        count: usize,
        label: &dyn Fn(usize) -> String,
    ) -> Vec<Failure> {
        let mut failures = Vec::new();
        let mut from = 0;
        while from < count && failures.len() < self.max_failures {
            let left = self.max_failures - failures.len();
            match self.spawn(test, call, from, left) {
                Ok(ChildEnd {
                    reports,
                    death,
                    running,
                    ..
                }) => {
                    let mut next = count;
                    let mut last_started = None;
                    for report in reports {
                        match report {
                            Report::Started(i) => last_started = Some(i),
                            Report::Passed(i) => {
                                last_started = None;
                                next = i + 1;
                            }
                            Report::Failed(i, message) => {
                                last_started = None;
                                next = i + 1;
                                failures.push(Failure { index: i, message });
                            }
                        }
                    }
                    match (death, last_started) {
                        (None, None) => from = count,
                        (Some(death), Some(i)) => {
                            let label = label(i);
                            let mut message = format!("{}{death}", with_colon(&label));
                            if label.is_empty() {
                                message.push_str(&while_running(running.as_deref()));
                            }
                            failures.push(Failure { index: i, message });
                            from = i + 1;
                        }
                        (Some(death), None) => {
                            // Died between checks (or before the first): say so, and
                            // do not try again.
                            failures.push(Failure {
                                index: next.min(count.saturating_sub(1)),
                                message: format!(
                                    "the isolated child of test `{test}` died outside any check: {death}"
                                ),
                            });
                            from = count;
                        }
                        (None, Some(i)) => {
                            failures.push(Failure {
                                index: i,
                                message: format!(
                                    "{}the child stopped without finishing this check",
                                    with_colon(&label(i))
                                ),
                            });
                            from = i + 1;
                        }
                    }
                }
                Err(message) => {
                    failures.push(Failure {
                        index: from,
                        message,
                    });
                    break;
                }
            }
        }
        failures.truncate(self.max_failures);
        failures
    }

    /// Runs one child from check `from`, collecting its reports until it exits, dies
    /// or hangs.
    fn spawn(&self, test: &str, call: usize, from: usize, max: usize) -> Result<ChildEnd, String> {
        let exe =
            std::env::current_exe().map_err(|e| format!("cannot find the test binary: {e}"))?;
        let mut child = Command::new(exe)
            .args([
                test,
                "--exact",
                "--nocapture",
                "--test-threads=1",
                "--include-ignored",
            ])
            .env(CHILD, test)
            .env(
                CALL,
                if call == WHOLE_TEST {
                    "test".to_string()
                } else {
                    call.to_string()
                },
            )
            .env(FROM, from.to_string())
            .env(MAX, max.to_string())
            .env(CODE_MAP_ENV, "1")
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the isolated child of `{test}`: {e}"))?;
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let mut stdout = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let stderr_text = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stderr.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        });

        let mut parser = Parser::default();
        // The timeout counts the child's CPU time since the check started, so that a
        // loaded machine does not time out a slow but working check; a child that
        // makes no progress without using the CPU (a deadlock) is stopped after
        // `STALL_FACTOR` times the timeout of wall time.
        let pid = child.id();
        let mut started_at = Instant::now();
        let mut cpu_at_start = cpu_time(pid);
        let mut timed_out = None;
        loop {
            match rx.recv_timeout(POLL) {
                Ok(bytes) => {
                    if parser.feed(&bytes) {
                        started_at = Instant::now();
                        cpu_at_start = cpu_time(pid);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            let cpu = match (cpu_time(pid), cpu_at_start) {
                (Some(now), Some(then)) => Some(now.saturating_sub(then)),
                _ => None,
            };
            let wall = started_at.elapsed();
            let spinning = cpu.is_some_and(|cpu| cpu >= self.timeout);
            let message = match cpu {
                Some(_) if spinning => Some(format!(
                    "timed out after {} (of CPU time: an endless loop?)",
                    seconds(self.timeout)
                )),
                // No CPU time to read: the wall clock is the timeout.
                None if wall >= self.timeout => {
                    Some(format!("timed out after {}", seconds(self.timeout)))
                }
                // Hardly computing for a long time: blocked.
                Some(cpu) if wall >= self.timeout * STALL_FACTOR && cpu < self.timeout / 4 => {
                    Some(format!(
                        "timed out: no progress for {} (blocked, not computing)",
                        seconds(self.timeout * STALL_FACTOR)
                    ))
                }
                // Computing, but the machine is too busy to let it finish.
                _ if wall >= self.timeout * BUSY_FACTOR => Some(format!(
                    "timed out after {} of wall time (the machine is too busy?)",
                    seconds(self.timeout * BUSY_FACTOR)
                )),
                _ => None,
            };
            if message.is_some() {
                timed_out = message;
                // Ask the spinning thread where it is (the child's handler of
                // `WHERE_SIGNAL` reports its pc), give it a moment, then kill.
                if spinning {
                    if let Some(tid) = busiest_thread(pid) {
                        // SAFETY: `tgkill` sends a signal to one thread of our child;
                        // it touches no memory of ours.
                        unsafe {
                            libc::syscall(
                                libc::SYS_tgkill,
                                pid as i64,
                                tid as i64,
                                WHERE_SIGNAL as i64,
                            )
                        };
                        let until = Instant::now() + Duration::from_secs(2);
                        while Instant::now() < until {
                            match rx.recv_timeout(POLL) {
                                Ok(bytes) => {
                                    parser.feed(&bytes);
                                }
                                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                                Err(mpsc::RecvTimeoutError::Timeout) => {}
                            }
                        }
                    }
                }
                let _ = child.kill();
                break;
            }
        }
        let status = child
            .wait()
            .map_err(|e| format!("cannot wait for the child: {e}"))?;
        let stderr = stderr_text.join().unwrap_or_default();
        let exit_ok = timed_out.is_none() && status.success();
        let panics = parser.panics.clone();
        let running = parser.running.clone();
        let death = if let Some(mut text) = timed_out {
            if let Some(signal) = &parser.signal {
                // "SIGXCPU at pc 0x…" from the thread that was spinning.
                let pc = signal.split_once(" at ").map_or("", |(_, pc)| pc);
                text.push_str(&format!("\nit was running the code at {pc}"));
                if let Some(place) = &parser.fault_place {
                    text.push('\n');
                    text.push_str(place.trim_end());
                }
            }
            for panic in &parser.panics {
                text.push_str(&format!("\n(a thread had panicked: {panic})"));
            }
            Some(text)
        } else if parser.done {
            None
        } else {
            Some(describe_death(&status, &parser, &stderr))
        };
        Ok(ChildEnd {
            reports: parser.reports,
            death,
            exit_ok,
            panics,
            running,
        })
    }
}

/// How often the parent looks at its child's clock.
const POLL: Duration = Duration::from_millis(50);

/// A check that uses (almost) no CPU is stopped after this many timeouts of wall
/// time.
const STALL_FACTOR: u32 = 6;

/// A check is stopped after this many timeouts of wall time whatever it does.
const BUSY_FACTOR: u32 = 30;

/// The CPU time (user and system) process `pid` has used, from `/proc/PID/stat`.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (in parentheses, which may hold spaces): the
    // 14th and 15th fields of the line are utime and stime, in clock ticks.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: `sysconf` only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_second = if per_second > 0 {
        per_second as u64
    } else {
        100
    };
    Some(Duration::from_nanos(ticks * 1_000_000_000 / per_second))
}

/// The signal the parent sends to a child's busiest thread on a timeout, whose
/// handler reports the thread's pc (`SIGXCPU`: "CPU time limit exceeded").
const WHERE_SIGNAL: i32 = libc::SIGXCPU;

/// The thread of process `pid` that has used the most CPU time.
fn busiest_thread(pid: u32) -> Option<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    tasks
        .flatten()
        .filter_map(|t| {
            let tid: u32 = t.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
            Some((ticks, tid))
        })
        .max()
        .map(|(_, tid)| tid)
}

/// What one child reported, and how it died if it did.
struct ChildEnd {
    reports: Vec<Report>,
    death: Option<String>,
    /// The child exited with status 0.
    exit_ok: bool,
    /// The panics its threads reported.
    panics: Vec<String>,
    /// What the check that died said it was running.
    running: Option<String>,
}

/// One report of a child.
#[derive(Debug)]
enum Report {
    Started(usize),
    Passed(usize),
    Failed(usize, String),
}

/// Reads the markers out of a child's stdout.
#[derive(Default)]
struct Parser {
    buf: Vec<u8>,
    reports: Vec<Report>,
    /// The panics the threads of the child reported since the last check started.
    panics: Vec<String>,
    /// What the child's fault handler said: the signal line, then where.
    signal: Option<String>,
    fault_place: Option<String>,
    /// The child finished its checks.
    done: bool,
    /// What the current check said it was running ([`running`]).
    running: Option<String>,
}

impl Parser {
    /// Takes in more bytes; true when a check started (the timeout restarts).
    fn feed(&mut self, bytes: &[u8]) -> bool {
        self.buf.extend_from_slice(bytes);
        let mut started = false;
        loop {
            let Some(at) = find(&self.buf, MARK) else {
                // Keep a tail that could be the start of a marker.
                let keep = self.buf.len().min(MARK.len());
                self.buf.drain(..self.buf.len() - keep);
                return started;
            };
            let rest = &self.buf[at + MARK.len()..];
            let Some(eol) = rest.iter().position(|&b| b == b'\n') else {
                self.buf.drain(..at);
                return started;
            };
            let header = String::from_utf8_lossy(&rest[..eol]).into_owned();
            let mut words = header.split_whitespace();
            let kind = words.next().unwrap_or("");
            let numbers: Vec<usize> = words.filter_map(|w| w.parse().ok()).collect();
            // Markers with a body give its length last.
            let body_len = match kind {
                "fail" | "panic" | "signal" | "where" | "running" => numbers.last().copied(),
                _ => None,
            };
            let body_start = at + MARK.len() + eol + 1;
            let mut consumed = body_start;
            let mut body = String::new();
            if let Some(len) = body_len {
                if self.buf.len() < body_start + len {
                    self.buf.drain(..at);
                    return started;
                }
                body =
                    String::from_utf8_lossy(&self.buf[body_start..body_start + len]).into_owned();
                consumed = body_start + len;
            }
            match (kind, numbers.first().copied()) {
                ("start", Some(i)) => {
                    started = true;
                    self.panics.clear();
                    self.running = None;
                    self.reports.push(Report::Started(i));
                }
                ("pass", Some(i)) => self.reports.push(Report::Passed(i)),
                ("fail", Some(i)) => self.reports.push(Report::Failed(i, body)),
                ("panic", _) => self.panics.push(body),
                ("signal", _) => self.signal = Some(body),
                ("where", _) => self.fault_place = Some(body),
                ("running", _) => self.running = Some(body),
                ("done", _) => self.done = true,
                _ => {}
            }
            self.buf.drain(..consumed);
        }
    }
}

/// The first position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The label to put before a panic's `message`: only its first line when the panic
/// is a hole not written yet (the program's source says nothing about that).
fn short_label(label: &str, message: &str) -> String {
    if todo_line_is(message) {
        label.lines().next().unwrap_or("").to_string()
    } else {
        label.to_string()
    }
}

/// `label: ` when there is a label.
fn with_colon(label: &str) -> String {
    if label.is_empty() {
        String::new()
    } else if label.ends_with('\n') {
        label.to_string()
    } else {
        format!("{label}: ")
    }
}

/// `10 s`, `2.5 s`.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s} s")
    }
}

/// How a child that did not finish died, in one line and the details after it.
fn describe_death(status: &std::process::ExitStatus, parser: &Parser, stderr: &str) -> String {
    use std::os::unix::process::ExitStatusExt;
    let mut text = match (&parser.signal, status.signal()) {
        (Some(line), _) => line.clone(),
        (None, Some(sig)) => format!("killed by {}", signal_name(sig)),
        (None, None) => match status.code() {
            Some(code) => format!("the process exited with status {code}"),
            None => "the process ended".to_string(),
        },
    };
    if let Some(place) = &parser.fault_place {
        text.push('\n');
        text.push_str(place.trim_end());
    }
    for panic in &parser.panics {
        text.push_str(&format!("\nafter a panic: {panic}"));
    }
    // The last lines the child wrote on stderr, minus the harness's own noise.
    let tail: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("note: run with"))
        .collect();
    if parser.signal.is_none() && parser.panics.is_empty() && !tail.is_empty() {
        let from = tail.len().saturating_sub(5);
        text.push_str("\nits stderr ended with:\n");
        text.push_str(&tail[from..].join("\n"));
    }
    text
}

/// `SIGSEGV`, `SIGFPE`, … by number (Linux x86-64).
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        31 => "SIGSYS",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

/// Where this call runs.
enum Mode {
    /// A test process: run the checks in a child re-running `test`.
    Parent { test: String },
    /// The child of `test`'s isolated call `call`.
    Child {
        call: usize,
        from: usize,
        max: usize,
    },
    /// No test name to re-run: run here.
    InProcess,
}

fn mode() -> Mode {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("main").to_string();
    if let Ok(child) = std::env::var(CHILD) {
        if child == name {
            let number = |var: &str| {
                std::env::var(var)
                    .ok()
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0)
            };
            let call = match std::env::var(CALL).as_deref() {
                Ok("test") => WHOLE_TEST,
                _ => number(CALL),
            };
            return Mode::Child {
                call,
                from: number(FROM),
                max: number(MAX).max(1),
            };
        }
        return Mode::InProcess;
    }
    if name == "main" || name.is_empty() {
        Mode::InProcess
    } else {
        Mode::Parent { test: name }
    }
}

thread_local! {
    /// How many isolated calls this test (thread) has made.
    static CALLS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The index of this isolated call within its test.
fn next_call() -> usize {
    CALLS.with(|c| {
        let n = c.get();
        c.set(n + 1);
        n
    })
}

/// Runs the checks here, with no isolation (no test name to re-run).
fn in_process(
    harness: &Harness,
    count: usize,
    label: &dyn Fn(usize) -> String,
    check: &dyn Fn(usize) -> Result<(), String>,
) -> Vec<Failure> {
    install_panic_hook();
    let mut failures = Vec::new();
    for i in 0..count {
        if failures.len() >= harness.max_failures {
            break;
        }
        match run_one(check, i) {
            Ok(()) => {}
            Err(Ran::Failed(message)) => failures.push(Failure { index: i, message }),
            Err(Ran::Panicked(message)) => failures.push(Failure {
                index: i,
                message: format!("{}{message}", with_colon(&short_label(&label(i), &message))),
            }),
        }
    }
    failures
}

/// How a check that did not pass went.
enum Ran {
    /// It returned this report.
    Failed(String),
    /// It panicked with this message.
    Panicked(String),
}

/// Runs check `i`, turning a panic into its message.
fn run_one(check: &dyn Fn(usize) -> Result<(), String>, i: usize) -> Result<(), Ran> {
    take_panic();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(i)));
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(report)) => {
            let mut report = report;
            if let Some(panic) = take_panic() {
                report.push_str(&format!("\n(a thread panicked meanwhile: {panic})"));
            }
            Err(Ran::Failed(report))
        }
        Err(payload) => Err(Ran::Panicked(
            take_panic().unwrap_or_else(|| payload_text(&*payload)),
        )),
    }
}

/// The child's side: run checks `from..count`, reporting each, then exit.
fn child_run(
    harness: &Harness,
    count: usize,
    from: usize,
    max: usize,
    label: &dyn Fn(usize) -> String,
    check: &dyn Fn(usize) -> Result<(), String>,
) -> Vec<Failure> {
    install_panic_hook();
    fault::install(harness.describe);
    // A labelled check needs no note of what it runs; a test body ([`case`]) does.
    let labelled = from < count && !label(from).is_empty();
    IN_BATCH.with(|b| b.set(labelled));
    let mut failed = 0;
    for i in from..count {
        marker(&format!("start {i}"), None);
        match run_one(check, i) {
            Ok(()) => marker(&format!("pass {i}"), None),
            Err(Ran::Panicked(message)) => {
                let label = short_label(&label(i), &message);
                marker(
                    &format!("fail {i}"),
                    Some(&format!("{}{message}", with_colon(&label))),
                );
                failed += 1;
                if failed >= max {
                    break;
                }
            }
            Err(Ran::Failed(report)) => {
                marker(&format!("fail {i}"), Some(&report));
                failed += 1;
                if failed >= max {
                    break;
                }
            }
        }
    }
    marker("done", None);
    // The rest of the test is the parent's business: leave now, before the test's
    // own assertions (made on what the parent collects) run here.
    std::process::exit(0);
}

/// Serializes markers written by the threads of a child.
static WRITE: Mutex<()> = Mutex::new(());

/// Writes a marker line (and its body, length-prefixed) to fd 1.
fn marker(header: &str, body: Option<&str>) {
    let _guard = WRITE.lock().unwrap_or_else(|e| e.into_inner());
    let mut bytes = Vec::with_capacity(64 + body.map_or(0, str::len));
    bytes.push(b'\n');
    bytes.extend_from_slice(MARK);
    bytes.extend_from_slice(header.as_bytes());
    if let Some(body) = body {
        bytes.extend_from_slice(format!(" {}", body.len()).as_bytes());
    }
    bytes.push(b'\n');
    if let Some(body) = body {
        bytes.extend_from_slice(body.as_bytes());
    }
    fault::write_all(1, &bytes);
}

/// The text a crash report gives for what the check said it was running.
fn while_running(running: Option<&str>) -> String {
    match running {
        Some(r) => format!("\nwhile running {}", r.trim_end()),
        None => String::new(),
    }
}

/// Says, in a child, what the check is about to run (`describe()`: a program's name
/// and source, say), so that a crash or a hang in a test that runs several programs
/// names the one it happened in. Outside a child it does nothing (and `describe` is
/// not called).
pub fn running(describe: impl FnOnce() -> String) {
    // In a batch ([`each`]) the label already names the check.
    if std::env::var_os(CHILD).is_some() && !IN_BATCH.with(|b| b.get()) {
        marker("running", Some(&describe()));
    }
}

/// The describer [`Harness::new`] uses by default.
static DESCRIBER: OnceLock<Describer> = OnceLock::new();

/// Sets the describer every [`Harness::new`] uses (the first call wins): a suite's
/// common module calls it with `stage2::code_map::describe`.
pub fn set_describer(describe: Describer) {
    let _ = DESCRIBER.set(describe);
}

/// Runs `body` in a child process with the default [`Harness`]: a crash, a hang or a
/// failed assertion fails the calling test with one message.
#[track_caller]
pub fn case(body: impl FnOnce()) {
    Harness::new().case(body)
}

/// Runs `check(i)` for `i` in `0..count` in a child process (a new one after each
/// crash or hang) with the default [`Harness`], and returns the failures (at most
/// [`DEFAULT_MAX_FAILURES`]). `label(i)` names check `i` in the message of a crash or
/// hang; a check's own `Err` report should name it too.
pub fn each(
    count: usize,
    label: impl Fn(usize) -> String,
    check: impl Fn(usize) -> Result<(), String>,
) -> Vec<Failure> {
    Harness::new().each(count, label, check)
}

/// The names of the failing checks, `name(index)` each, comma-separated; past ten,
/// `… and N more`.
pub fn names(failures: &[Failure], name: impl Fn(usize) -> String) -> String {
    let mut shown: Vec<String> = failures.iter().take(10).map(|f| name(f.index)).collect();
    if failures.len() > 10 {
        shown.push(format!("… and {} more", failures.len() - 10));
    }
    shown.join(", ")
}

/// The failures' messages, one after the other, separated by blank lines.
pub fn report(failures: &[Failure]) -> String {
    let messages: Vec<&str> = failures.iter().map(|f| f.message.as_str()).collect();
    messages.join("\n\n")
}

// ---------------------------------------------------------------------------------
// Panics: one short line per panic.

/// Installs (once) a panic hook that records each panic's message for the harness
/// and prints one short line instead of the standard report: a `todo!()` becomes
/// `hole `dispatch` not written yet — book §1.3`. Called by every isolated run; a
/// suite may call it itself (its common module) to quiet panics outside them.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let text = payload_text(info.payload());
            let text = todo_line(&text).unwrap_or(text);
            let place = info
                .location()
                .map(|l| format!(" ({}:{})", l.file(), l.line()))
                .unwrap_or_default();
            let thread = std::thread::current();
            let thread = thread.name().unwrap_or("<unnamed>");
            let no_place = NO_PLACE.with(|n| n.replace(false));
            let message = if todo_line_is(&text) || no_place {
                text.clone()
            } else {
                format!("{text}{place}")
            };
            if std::env::var_os(CHILD).is_some() {
                marker("panic", Some(&format!("thread '{thread}': {message}")));
            }
            if let Ok(mut last) = LAST_PANIC.lock() {
                *last = Some(message.clone());
            }
            eprintln!("thread '{thread}' panicked: {message}");
            // A backtrace only when asked for, and never for a hole not written yet.
            let wanted = std::env::var("RUST_BACKTRACE").is_ok_and(|v| v != "0");
            if wanted && !no_place && !todo_line_is(&message) {
                eprintln!("{}", std::backtrace::Backtrace::force_capture());
            }
        }));
    });
}

/// Installs [`install_panic_hook`] before `main` in every test binary that links the
/// kit, so that every suite's failures are short from its first test on (libtest has
/// no hook of its own to run first). An entry of the ELF `.init_array` section is a
/// function the loader calls before `main`; rustc keeps `#[used]` statics of a
/// dependency in the link.
#[used]
#[link_section = ".init_array"]
static INSTALL_PANIC_HOOK_BEFORE_MAIN: extern "C" fn() = {
    extern "C" fn install() {
        install_panic_hook();
    }
    install
};

thread_local! {
    /// Set while a child runs the checks of an [`each`].
    static IN_BATCH: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Set just before a panic whose message already says where it happened.
    static NO_PLACE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The message of the last panic since [`take_panic`] was called.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

fn take_panic() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|mut p| p.take())
}

/// A panic payload as text.
fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with no message".to_string()
    }
}

/// What `todo!("msg")` panics with.
const TODO_PANIC: &str = "not yet implemented: ";

/// `hole `id` not written yet — book §N.M` for a `todo!("id: task — book §N.M")`
/// panic message.
pub fn todo_line(message: &str) -> Option<String> {
    let rest = message.strip_prefix(TODO_PANIC)?;
    let (id, task) = rest.split_once(':')?;
    let id = id.trim();
    if id.is_empty() || id.contains(' ') {
        return None;
    }
    let book = task
        .rsplit_once("book §")
        .map(|(_, s)| format!(" — book §{}", s.trim()))
        .unwrap_or_default();
    Some(format!("hole `{id}` not written yet{book}"))
}

fn todo_line_is(text: &str) -> bool {
    text.starts_with("hole `") && text.contains("` not written yet")
}

/// The hole id of a one-line `todo!` message made by [`todo_line`] or of a raw
/// `todo!` panic message.
pub fn hole_of(message: &str) -> Option<String> {
    if let Some(rest) = message.strip_prefix("hole `") {
        return rest.split_once('`').map(|(id, _)| id.to_string());
    }
    let line = todo_line(message)?;
    hole_of(&line)
}

pub(crate) mod fault {
    //! The child's fault handler: on SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGTRAP it
    //! writes the signal, the faulting address and the pc as a marker (only
    //! async-signal-safe calls: `write`), then hands the pc to a reporter thread that
    //! asks the describer where it is (normal Rust: it allocates, which the faulting
    //! thread, stopped in generated code, cannot be in the middle of) and writes that
    //! too. Then the handler restores the default action and returns, so the fault
    //! happens again and the child dies of it.

    use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

    use super::Describer;

    /// The pipe to the reporter thread (write end) and back (read end).
    static TO_REPORTER: AtomicI32 = AtomicI32::new(-1);
    static FROM_REPORTER: AtomicI32 = AtomicI32::new(-1);
    /// Set by the first fault: a second one (in the handler or another thread) does
    /// not report again.
    static FAULTED: AtomicUsize = AtomicUsize::new(0);

    /// The signals that mean "this code is broken".
    /// (And `SIGXCPU`, which the parent sends on a timeout to learn where the child
    /// was.)
    const SIGNALS: [i32; 6] = [
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGFPE,
        libc::SIGILL,
        libc::SIGTRAP,
        super::WHERE_SIGNAL,
    ];

    /// Writes all of `bytes` to `fd`, retrying short writes (async-signal-safe).
    pub fn write_all(fd: i32, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            // SAFETY: `bytes` is a live slice; `write` reads at most its length.
            let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
            if n <= 0 {
                if n < 0
                    && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
                {
                    continue;
                }
                return;
            }
            bytes = &bytes[n as usize..];
        }
    }

    /// Installs the handler (once) and starts the reporter thread.
    pub fn install(describe: Option<Describer>) {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let mut to = [0i32; 2];
            let mut back = [0i32; 2];
            // SAFETY: `pipe` writes two descriptors into each array of two.
            let ok =
                unsafe { libc::pipe(to.as_mut_ptr()) == 0 && libc::pipe(back.as_mut_ptr()) == 0 };
            if ok {
                TO_REPORTER.store(to[1], Ordering::SeqCst);
                FROM_REPORTER.store(back[0], Ordering::SeqCst);
                let (from_handler, to_handler) = (to[0], back[1]);
                std::thread::Builder::new()
                    .name("jitlab-fault-reporter".into())
                    .spawn(move || reporter(from_handler, to_handler, describe))
                    .ok();
            }
            ensure_alt_stack();
            for sig in SIGNALS {
                // SAFETY: a zeroed `sigaction` is a valid empty one; we fill in the
                // handler (a `extern "C" fn(i32, *mut siginfo_t, *mut c_void)`, as
                // SA_SIGINFO requires) and the flags before passing it.
                unsafe {
                    let mut action: libc::sigaction = std::mem::zeroed();
                    action.sa_sigaction = handler as *const () as usize;
                    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
                    libc::sigemptyset(&mut action.sa_mask);
                    libc::sigaction(sig, &action, std::ptr::null_mut());
                }
            }
        });
    }

    /// Gives the calling thread an alternate signal stack if it has none, so a
    /// stack overflow in generated code can still be reported. (Threads that Rust's
    /// standard library starts have one already.)
    fn ensure_alt_stack() {
        const SIZE: usize = 64 << 10;
        // SAFETY: `sigaltstack` with a null new stack only reads the current one into
        // `old`, a valid zeroed `stack_t`.
        let mut old: libc::stack_t = unsafe { std::mem::zeroed() };
        let has = unsafe { libc::sigaltstack(std::ptr::null(), &mut old) } == 0
            && old.ss_flags & libc::SS_DISABLE == 0;
        if has {
            return;
        }
        let stack: &'static mut [u8] = Box::leak(vec![0u8; SIZE].into_boxed_slice());
        let new = libc::stack_t {
            ss_sp: stack.as_mut_ptr().cast(),
            ss_flags: 0,
            ss_size: SIZE,
        };
        // SAFETY: the stack is leaked, so it stays valid for the thread's life.
        unsafe { libc::sigaltstack(&new, std::ptr::null_mut()) };
    }

    /// The reporter thread: waits for a fault record `(signal, addr, pc)`, describes
    /// `pc`, writes it as a marker and tells the handler to go on.
    fn reporter(from_handler: i32, to_handler: i32, describe: Option<Describer>) {
        let mut record = [0u8; 24];
        let mut got = 0;
        while got < record.len() {
            // SAFETY: reads into the unfilled tail of `record`.
            let n = unsafe {
                libc::read(
                    from_handler,
                    record[got..].as_mut_ptr().cast(),
                    record.len() - got,
                )
            };
            if n <= 0 {
                return;
            }
            got += n as usize;
        }
        let pc = u64::from_le_bytes(record[16..24].try_into().expect("8 bytes"));
        if let Some(text) = describe.and_then(|d| d(pc)) {
            super::marker("where", Some(&text));
        }
        write_all(to_handler, &[1]);
    }

    /// Writes `n` in hex into `buf` from `at`; returns the new end.
    fn hex(buf: &mut [u8], mut at: usize, n: u64) -> usize {
        buf[at] = b'0';
        buf[at + 1] = b'x';
        at += 2;
        let digits = if n == 0 {
            1
        } else {
            (67 - n.leading_zeros() as usize) / 4
        };
        for k in (0..digits).rev() {
            let d = ((n >> (4 * k)) & 0xf) as u8;
            buf[at] = if d < 10 { b'0' + d } else { b'a' + d - 10 };
            at += 1;
        }
        at
    }

    fn put(buf: &mut [u8], at: usize, s: &[u8]) -> usize {
        buf[at..at + s.len()].copy_from_slice(s);
        at + s.len()
    }

    /// The signal handler (SA_SIGINFO form). Only async-signal-safe calls until it
    /// hands over to the reporter thread.
    extern "C" fn handler(sig: i32, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
        if FAULTED.fetch_add(1, Ordering::SeqCst) == 0 {
            // SAFETY: the kernel passes a valid `siginfo_t` for SA_SIGINFO handlers;
            // `si_addr` is meaningful for the fault signals we handle.
            let addr = unsafe { (*info).si_addr() } as u64;
            // SAFETY: for SA_SIGINFO the third argument is the interrupted thread's
            // `ucontext_t`; on x86-64 Linux `gregs[REG_RIP]` is its pc.
            let pc = unsafe {
                let uc = context as *const libc::ucontext_t;
                (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] as u64
            };
            let name: &[u8] = match sig {
                libc::SIGSEGV => b"SIGSEGV",
                libc::SIGBUS => b"SIGBUS",
                libc::SIGFPE => b"SIGFPE",
                libc::SIGILL => b"SIGILL",
                libc::SIGXCPU => b"SIGXCPU",
                _ => b"SIGTRAP",
            };
            // "SIGSEGV at 0x10 (pc 0x7f...)" as the body of a `signal` marker.
            let mut body = [0u8; 96];
            let mut at = put(&mut body, 0, name);
            if sig == libc::SIGSEGV || sig == libc::SIGBUS {
                at = put(&mut body, at, b" at ");
                at = hex(&mut body, at, addr);
                at = put(&mut body, at, b" (pc ");
            } else {
                at = put(&mut body, at, b" at pc ");
            }
            at = hex(&mut body, at, pc);
            if sig == libc::SIGSEGV || sig == libc::SIGBUS {
                at = put(&mut body, at, b")");
            }
            let mut head = [0u8; 64];
            let mut h = put(&mut head, 0, b"\n");
            h = put(&mut head, h, super::MARK);
            h = put(&mut head, h, b"signal ");
            // The body length in decimal.
            let mut digits = [0u8; 4];
            let mut len = at;
            let mut nd = 0;
            loop {
                digits[nd] = b'0' + (len % 10) as u8;
                nd += 1;
                len /= 10;
                if len == 0 {
                    break;
                }
            }
            for k in (0..nd).rev() {
                h = put(&mut head, h, &[digits[k]]);
            }
            h = put(&mut head, h, b"\n");
            write_all(1, &head[..h]);
            write_all(1, &body[..at]);
            // Hand the pc to the reporter and wait for it.
            let to = TO_REPORTER.load(Ordering::SeqCst);
            let back = FROM_REPORTER.load(Ordering::SeqCst);
            if to >= 0 && back >= 0 {
                let mut record = [0u8; 24];
                record[0..8].copy_from_slice(&(sig as u64).to_le_bytes());
                record[8..16].copy_from_slice(&addr.to_le_bytes());
                record[16..24].copy_from_slice(&pc.to_le_bytes());
                write_all(to, &record);
                let mut ack = [0u8; 1];
                // SAFETY: reads one byte into `ack`.
                unsafe { libc::read(back, ack.as_mut_ptr().cast(), 1) };
            }
        }
        // Die of the signal: back to the default action; returning re-runs the
        // faulting instruction (SIGTRAP and a few others do not fault again, so
        // raise it as well).
        // SAFETY: `signal` and `raise` are async-signal-safe.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            if sig == libc::SIGTRAP || sig == libc::SIGFPE || sig == libc::SIGXCPU {
                libc::raise(sig);
            }
        }
    }
}
