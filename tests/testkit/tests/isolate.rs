//! The isolation harness against deliberately broken "engines": code that jumps to a
//! bad address, divides by zero natively, loops forever, panics, aborts or hits a
//! `todo!()`. Each becomes exactly one failure with the right message, and the checks
//! around it still run and report.

use std::time::Duration;

use jitlab_testkit::isolate::{self, Failure, Harness};
use stage2::{Assembler, Reg};

/// Loads `build`'s code and calls it as `extern "sysv64" fn() -> i64`.
fn run_code(build: impl FnOnce(&mut Assembler)) -> i64 {
    let mut asm = Assembler::new();
    build(&mut asm);
    let code = asm.finish().expect("the snippet finishes");
    // The registration names the block in a crash report, as an engine's does.
    let _registered = stage2::code_map::enabled().then(|| {
        stage2::code_map::register(code.addr(), code.len(), |addr| {
            format!("in generated code: the broken engine's block, at {addr:#x}")
        })
    });
    // SAFETY: none — these snippets are broken on purpose, and run only in the
    // harness's child process, which is expected to die of them.
    let f: extern "sysv64" fn() -> i64 = unsafe { code.as_fn() };
    f()
}

/// A harness with a short timeout that describes addresses through the registry.
fn harness() -> Harness {
    Harness::new()
        .timeout(Duration::from_secs(2))
        .describer(stage2::code_map::describe)
}

/// The one failure of a one-check run of `body`.
fn one_failure(body: impl Fn() + Sync) -> Failure {
    let failures = harness().each(
        1,
        |_| "program broken.mini".to_string(),
        |_| {
            body();
            Ok(())
        },
    );
    assert_eq!(failures.len(), 1, "{failures:#?}");
    failures.into_iter().next().unwrap()
}

#[test]
fn a_jump_to_a_bad_address_is_a_sigsegv_at_that_address() {
    let failure = one_failure(|| {
        run_code(|a| {
            a.mov_imm(Reg::RAX, 0x10);
            a.jmp_reg(Reg::RAX);
        });
    });
    assert_eq!(failure.index, 0);
    assert!(
        failure
            .message
            .starts_with("program broken.mini: SIGSEGV at 0x10 (pc 0x10)"),
        "{}",
        failure.message
    );
}

#[test]
fn a_native_division_by_zero_is_a_sigfpe_in_the_registered_code() {
    let failure = one_failure(|| {
        run_code(|a| {
            a.mov_imm(Reg::RAX, 7);
            a.xor(Reg::RCX.r32(), Reg::RCX.r32());
            a.cqo();
            a.idiv(Reg::RCX);
            a.ret();
        });
    });
    let message = &failure.message;
    assert!(
        message.starts_with("program broken.mini: SIGFPE at pc 0x"),
        "{message}"
    );
    assert!(
        message.contains("\nin generated code: the broken engine's block, at 0x"),
        "{message}"
    );
}

#[test]
fn an_endless_loop_times_out_and_the_next_check_still_runs() {
    let failures = harness().timeout(Duration::from_millis(700)).each(
        3,
        |i| format!("program loop-{i}.mini"),
        |i| {
            if i == 1 {
                run_code(|a| {
                    let top = a.new_label();
                    a.bind(top);
                    a.jmp(top);
                });
            }
            if i == 2 {
                return Err("program loop-2.mini: prints 1, expected 2".into());
            }
            Ok(())
        },
    );
    // The first line of each (a timeout goes on to say where the loop was).
    let messages: Vec<(usize, &str)> = failures
        .iter()
        .map(|f| (f.index, f.message.lines().next().unwrap_or("")))
        .collect();
    assert_eq!(
        messages,
        [
            (
                1,
                "program loop-1.mini: timed out after 0.7 s (of CPU time: an endless loop?)"
            ),
            (2, "program loop-2.mini: prints 1, expected 2"),
        ]
    );
}

#[test]
fn an_endless_loop_in_generated_code_says_where_it_was_spinning() {
    let failure = one_failure(|| {
        run_code(|a| {
            let top = a.new_label();
            a.bind(top);
            a.add(Reg::RAX, stage2::Imm32(1));
            a.jmp(top);
        });
    });
    let message = &failure.message;
    assert!(
        message.starts_with("program broken.mini: timed out after 2 s (of CPU time"),
        "{message}"
    );
    assert!(
        message.contains("\nit was running the code at pc 0x"),
        "{message}"
    );
    assert!(
        message.contains("\nin generated code: the broken engine's block"),
        "{message}"
    );
}

#[test]
fn a_check_blocked_without_using_the_cpu_times_out_on_the_wall_clock() {
    let failure = harness().timeout(Duration::from_millis(200)).each(
        1,
        |_| "program blocked.mini".into(),
        |_| {
            std::thread::sleep(Duration::from_secs(60));
            Ok(())
        },
    );
    assert_eq!(failure.len(), 1);
    assert_eq!(
        failure[0].message,
        "program blocked.mini: timed out: no progress for 1.2 s (blocked, not computing)"
    );
}

#[test]
fn a_panic_is_one_failure_with_its_message() {
    let failure = one_failure(|| panic!("the value stack is empty at pc 4"));
    assert!(
        failure
            .message
            .starts_with("program broken.mini: the value stack is empty at pc 4"),
        "{}",
        failure.message
    );
}

#[test]
fn an_abort_names_the_signal_and_the_panic_before_it() {
    let failure = one_failure(|| {
        extern "C" fn cannot_unwind() {
            panic!("a helper panicked");
        }
        cannot_unwind();
    });
    let message = &failure.message;
    assert!(
        message.starts_with("program broken.mini: killed by SIGABRT"),
        "{message}"
    );
    assert!(message.contains("a helper panicked"), "{message}");
}

#[test]
fn a_todo_is_one_line_naming_the_hole_and_its_section() {
    let failure = one_failure(|| todo!("dispatch: write the dispatch loop — book §1.3"));
    assert_eq!(
        failure.message,
        "program broken.mini: hole `dispatch` not written yet — book §1.3"
    );
}

#[test]
fn a_crash_in_the_middle_of_a_batch_is_attributed_and_the_rest_run() {
    let failures = harness().max_failures(10).each(
        6,
        |i| format!("program p{i}.mini"),
        |i| {
            if i == 2 || i == 4 {
                run_code(|a| {
                    a.xor(Reg::RAX.r32(), Reg::RAX.r32());
                    a.mov(Reg::RAX, stage2::Mem::base_disp(Reg::RAX, 0));
                    a.ret();
                });
            }
            Ok(())
        },
    );
    let got: Vec<(usize, String)> = failures
        .iter()
        .map(|f| (f.index, f.message.lines().next().unwrap_or("").to_string()))
        .collect();
    assert_eq!(got.len(), 2, "{failures:#?}");
    assert_eq!(got[0].0, 2);
    assert!(
        got[0]
            .1
            .starts_with("program p2.mini: SIGSEGV at 0x0 (pc 0x"),
        "{got:?}"
    );
    assert_eq!(got[1].0, 4);
}

#[test]
fn failures_stop_at_the_maximum() {
    let failures = harness().max_failures(2).each(
        50,
        |i| format!("program p{i}.mini"),
        |i| Err(format!("program p{i}.mini differs")),
    );
    let indices: Vec<usize> = failures.iter().map(|f| f.index).collect();
    assert_eq!(indices, [0, 1]);
}

#[test]
fn a_case_that_passes_passes_and_one_that_crashes_fails_its_test_with_the_signal() {
    isolate::case(|| assert_eq!(1 + 1, 2));
    let panic = std::panic::catch_unwind(|| {
        harness().case(|| {
            isolate::running(|| "program second.mini".to_string());
            run_code(|a| {
                a.mov_imm(Reg::RAX, 0x20);
                a.jmp_reg(Reg::RAX);
            });
        })
    })
    .expect_err("the case crashed");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.starts_with("SIGSEGV at 0x20"), "{message}");
    assert!(
        message.ends_with("\nwhile running program second.mini"),
        "{message}"
    );
}

#[test]
fn todo_lines_parse_back_to_their_hole() {
    let line =
        isolate::todo_line("not yet implemented: frame-slots: lay out the frame — book §3.3")
            .unwrap();
    assert_eq!(line, "hole `frame-slots` not written yet — book §3.3");
    assert_eq!(isolate::hole_of(&line).as_deref(), Some("frame-slots"));
    assert_eq!(isolate::todo_line("index out of bounds"), None);
}

#[test]
fn a_whole_test_in_a_child_passes_or_fails_with_its_message() {
    if harness().this_test() {
        // The body below ran in the child, and passed.
        assert!(std::env::var_os("JITLAB_ISOLATE_CHILD").is_none());
        return;
    }
    assert!(std::env::var_os("JITLAB_ISOLATE_CHILD").is_some());
    // A nested isolated call runs in place inside the whole-test child.
    let failures = harness().each(
        2,
        |i| format!("p{i}"),
        |i| {
            if i == 1 {
                Err("p1 differs".into())
            } else {
                Ok(())
            }
        },
    );
    assert_eq!(failures.len(), 1);
}

/// Run by the test below, in a child: it crashes.
#[test]
#[ignore = "crashes on purpose; run through a_whole_test_that_crashes_fails_with_the_signal"]
fn crashes_in_a_child() {
    if harness().this_test() {
        return;
    }
    run_code(|a| {
        a.mov_imm(Reg::RAX, 0x30);
        a.jmp_reg(Reg::RAX);
    });
}

#[test]
fn a_whole_test_that_crashes_fails_with_the_signal() {
    // Run the ignored test's binary for that test alone, as its parent.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["crashes_in_a_child", "--exact", "--include-ignored"])
        .env_remove("JITLAB_ISOLATE_CHILD")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("panicked: SIGSEGV at 0x30 (pc 0x30)"),
        "{text}"
    );
    assert!(
        text.contains("test result: FAILED. 0 passed; 1 failed"),
        "{text}"
    );
}
