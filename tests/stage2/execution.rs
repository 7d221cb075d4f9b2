//! Generated code that runs: System V arguments in, `rax` out, loops, division,
//! flags, memory, calls inside the code and into Rust, callee-saved registers kept.

use super::common::isolated;
use std::sync::atomic::{AtomicUsize, Ordering};

use stage2::{Assembler, CodeBlock, Cond, Imm32, IndexReg, Mem, Reg, Scale};

/// Assembles and loads `build`'s code; panics with the error otherwise.
fn load(build: impl FnOnce(&mut Assembler)) -> CodeBlock {
    let mut a = Assembler::new();
    build(&mut a);
    a.finish().expect("the code finishes")
}

type Fn1 = extern "sysv64" fn(i64) -> i64;
type Fn2 = extern "sysv64" fn(i64, i64) -> i64;

#[test]
fn two_arguments_add() {
    isolated(|| {
        let code = load(|a| {
            a.lea(Reg::RAX, Mem::sib(Reg::RDI, IndexReg::RSI, Scale::S1, 0));
            a.ret();
        });
        // SAFETY: the code reads rdi and rsi, returns in rax, touches nothing else.
        let add: Fn2 = unsafe { code.as_fn() };
        assert_eq!(add(2, 3), 5);
        assert_eq!(add(-7, 3), -4);
    });
}

#[test]
fn six_arguments_in_their_registers() {
    isolated(|| {
        type Fn6 = extern "sysv64" fn(i64, i64, i64, i64, i64, i64) -> i64;
        let code = load(|a| {
            // ((((a*10 + b)*10 + c)*10 + d)*10 + e)*10 + f
            a.mov(Reg::RAX, Reg::RDI);
            for r in [Reg::RSI, Reg::RDX, Reg::RCX, Reg::R8, Reg::R9] {
                a.imul(Reg::RAX, Imm32(10));
                a.add(Reg::RAX, r);
            }
            a.ret();
        });
        // SAFETY: reads the six argument registers, returns in rax.
        let f: Fn6 = unsafe { code.as_fn() };
        assert_eq!(f(1, 2, 3, 4, 5, 6), 123456);
    });
}

#[test]
fn mov_imm_values_survive_the_round_trip() {
    isolated(|| {
        for v in [
            0,
            1,
            -1,
            i32::MAX as i64,
            i32::MIN as i64,
            u32::MAX as i64,
            1 << 32,
            i64::MAX,
            i64::MIN,
        ] {
            for r in [Reg::RAX, Reg::R10] {
                let code = load(|a| {
                    a.mov_imm(Reg::RAX, 0x5555);
                    a.mov_imm(r, v);
                    a.mov(Reg::RAX, r);
                    a.ret();
                });
                // SAFETY: takes no arguments, returns in rax, clobbers only r10.
                let f: extern "sysv64" fn() -> i64 = unsafe { code.as_fn() };
                assert_eq!(f(), v, "mov_imm({r:?}, {v:#x})");
            }
        }
    });
}

#[test]
fn a_loop_with_labels() {
    isolated(|| {
        let code = load(|a| {
            let (top, done) = (a.new_label(), a.new_label());
            a.xor(Reg::RAX.r32(), Reg::RAX.r32());
            a.bind(top);
            a.test(Reg::RDI, Reg::RDI);
            a.jcc(Cond::LE, done);
            a.add(Reg::RAX, Reg::RDI);
            a.sub(Reg::RDI, Imm32(1));
            a.jmp(top);
            a.bind(done);
            a.ret();
        });
        // SAFETY: reads rdi, returns in rax.
        let sum: Fn1 = unsafe { code.as_fn() };
        assert_eq!(sum(100), 5050);
        assert_eq!(sum(0), 0);
        assert_eq!(sum(-5), 0);
    });
}

#[test]
fn signed_division_and_remainder() {
    isolated(|| {
        let div = |remainder: bool| {
            load(move |a| {
                a.mov(Reg::RAX, Reg::RDI);
                a.cqo();
                a.idiv(Reg::RSI);
                if remainder {
                    a.mov(Reg::RAX, Reg::RDX);
                }
                a.ret();
            })
        };
        let (q, r) = (div(false), div(true));
        // SAFETY: reads rdi and rsi (never 0 or MIN/-1 here), returns in rax.
        let (q, r): (Fn2, Fn2) = unsafe { (q.as_fn(), r.as_fn()) };
        for (x, y) in [(7, 2), (-7, 2), (7, -2), (i64::MIN, 3), (100, 7)] {
            assert_eq!(q(x, y), x / y, "{x} / {y}");
            assert_eq!(r(x, y), x % y, "{x} % {y}");
        }
    });
}

#[test]
fn comparisons_give_zero_or_one_and_cmov_picks() {
    isolated(|| {
        let less = load(|a| {
            a.cmp(Reg::RDI, Reg::RSI);
            a.setcc(Cond::L, Reg::RAX.r8());
            a.movzx(Reg::RAX.r32(), Reg::RAX.r8());
            a.ret();
        });
        let max = load(|a| {
            a.mov(Reg::RAX, Reg::RDI);
            a.cmp(Reg::RSI, Reg::RDI);
            a.cmov(Cond::G, Reg::RAX, Reg::RSI);
            a.ret();
        });
        // SAFETY: both read rdi and rsi and return in rax.
        let (less, max): (Fn2, Fn2) = unsafe { (less.as_fn(), max.as_fn()) };
        for (x, y) in [(1, 2), (2, 1), (-1, 0), (5, 5), (i64::MIN, i64::MAX)] {
            assert_eq!(less(x, y), (x < y) as i64, "{x} < {y}");
            assert_eq!(max(x, y), x.max(y), "max({x}, {y})");
        }
    });
}

#[test]
fn shifts_by_cl_negation_and_not() {
    isolated(|| {
        let shift = |which: u8| {
            load(move |a| {
                a.mov(Reg::RAX, Reg::RDI);
                a.mov(Reg::RCX, Reg::RSI);
                match which {
                    0 => a.shl_cl(Reg::RAX),
                    1 => a.shr_cl(Reg::RAX),
                    _ => a.sar_cl(Reg::RAX),
                }
                a.ret();
            })
        };
        let (shl, shr, sar) = (shift(0), shift(1), shift(2));
        // SAFETY: read rdi and rsi, clobber rcx, return in rax.
        let (shl, shr, sar): (Fn2, Fn2, Fn2) = unsafe { (shl.as_fn(), shr.as_fn(), sar.as_fn()) };
        assert_eq!(shl(3, 4), 48);
        assert_eq!(shr(-16, 60), 15);
        assert_eq!(sar(-16, 2), -4);
        let negnot = load(|a| {
            a.mov(Reg::RAX, Reg::RDI);
            a.neg(Reg::RAX);
            a.not(Reg::RAX);
            a.ret();
        });
        // SAFETY: reads rdi, returns in rax.
        let negnot: Fn1 = unsafe { negnot.as_fn() };
        assert_eq!(negnot(5), 4); // !(-5) == 4
    });
}

#[test]
fn overflow_jumps_out_of_line() {
    isolated(|| {
        let code = load(|a| {
            let overflow = a.new_label();
            a.mov(Reg::RAX, Reg::RDI);
            a.add(Reg::RAX, Reg::RSI);
            a.jcc(Cond::O, overflow);
            a.ret();
            a.bind(overflow);
            a.mov_imm(Reg::RAX, 0xdead);
            a.ret();
        });
        // SAFETY: reads rdi and rsi, returns in rax.
        let add: Fn2 = unsafe { code.as_fn() };
        assert_eq!(add(40, 2), 42);
        assert_eq!(add(i64::MAX, 1), 0xdead);
        assert_eq!(add(i64::MIN, -1), 0xdead);
    });
}

#[test]
fn loads_and_stores_through_memory_operands() {
    isolated(|| {
        let code = load(|a| {
            // a[i + 1] = a[i] * 2 + a[0]; return a[i + 1]
            a.mov(Reg::RAX, Mem::sib(Reg::RDI, IndexReg::RSI, Scale::S8, 0));
            a.shl(Reg::RAX, 1);
            a.add(Reg::RAX, Mem::base(Reg::RDI));
            a.mov_mr(Mem::sib(Reg::RDI, IndexReg::RSI, Scale::S8, 8), Reg::RAX);
            a.mov_mi(Mem::base_disp(Reg::RDI, 24), Imm32(-9));
            a.ret();
        });
        let mut arr = [1i64, 10, 20, 30];
        // SAFETY: the code reads a[0], a[i], writes a[i+1] and a[3]: in bounds for i = 1.
        let f: extern "sysv64" fn(*mut i64, i64) -> i64 = unsafe { code.as_fn() };
        assert_eq!(f(arr.as_mut_ptr(), 1), 21);
        assert_eq!(arr, [1, 10, 21, -9]);
    });
}

#[test]
fn call_a_label_inside_the_code() {
    isolated(|| {
        let code = load(|a| {
            let double = a.new_label();
            a.push(Reg::RBX); // keeps the stack 16-byte aligned at the calls, and rbx
            a.mov(Reg::RBX, Reg::RDI);
            a.call(double);
            a.add(Reg::RAX, Reg::RBX);
            a.mov(Reg::RDI, Reg::RAX);
            a.call(double);
            a.pop(Reg::RBX);
            a.ret();
            a.bind(double);
            a.lea(Reg::RAX, Mem::sib(Reg::RDI, IndexReg::RDI, Scale::S1, 0));
            a.ret();
        });
        // SAFETY: reads rdi, returns in rax, saves and restores rbx.
        let f: Fn1 = unsafe { code.as_fn() };
        assert_eq!(f(5), 30); // (5*2 + 5) * 2
    });
}

static RUST_CALLS: AtomicUsize = AtomicUsize::new(0);

/// A Rust function that generated code calls.
extern "sysv64" fn triple_plus(x: i64, y: i64) -> i64 {
    RUST_CALLS.fetch_add(1, Ordering::SeqCst);
    x * 3 + y
}

#[test]
fn call_into_rust_and_back() {
    isolated(|| {
        let code = load(|a| {
            a.push(Reg::RBX); // callee-saved, and aligns the stack for the call
            a.mov(Reg::RBX, Reg::RDI);
            a.mov(Reg::RDI, Reg::RSI);
            a.mov_imm(Reg::RSI, 1);
            a.call_abs(triple_plus as *const () as u64);
            a.add(Reg::RAX, Reg::RBX);
            a.pop(Reg::RBX);
            a.ret();
        });
        // SAFETY: reads rdi and rsi, returns in rax, calls a sysv64 Rust function with
        // an aligned stack, keeps rbx.
        let f: Fn2 = unsafe { code.as_fn() };
        let before = RUST_CALLS.load(Ordering::SeqCst);
        assert_eq!(f(10, 5), 10 + 5 * 3 + 1);
        assert_eq!(RUST_CALLS.load(Ordering::SeqCst), before + 1);
    });
}

const CALLEE_SAVED: [Reg; 6] = [Reg::RBX, Reg::RBP, Reg::R12, Reg::R13, Reg::R14, Reg::R15];

/// Code that sets every callee-saved register to a known value, calls `inner`
/// (which clobbers them all, restoring those it saves), and returns the OR of the
/// XOR-differences: 0 when the inner function kept them all.
fn callee_saved_harness(inner_restores_r12: bool) -> CodeBlock {
    load(|a| {
        let inner = a.new_label();
        for r in CALLEE_SAVED {
            a.push(r);
        }
        a.sub(Reg::RSP, Imm32(8)); // 6 pushes + return address: realign to 16
        for (k, r) in CALLEE_SAVED.into_iter().enumerate() {
            a.mov_imm(r, 0x1111_1111_1111_1111 * (k as i64 + 1));
        }
        a.call(inner);
        a.xor(Reg::RAX.r32(), Reg::RAX.r32());
        for (k, r) in CALLEE_SAVED.into_iter().enumerate() {
            a.mov_imm(Reg::RCX, 0x1111_1111_1111_1111 * (k as i64 + 1));
            a.xor(Reg::RCX, r);
            a.or(Reg::RAX, Reg::RCX);
        }
        a.add(Reg::RSP, Imm32(8));
        for r in CALLEE_SAVED.into_iter().rev() {
            a.pop(r);
        }
        a.ret();

        // inner: saves what it uses, clobbers, restores.
        a.bind(inner);
        let saved: Vec<Reg> = CALLEE_SAVED
            .into_iter()
            .filter(|&r| inner_restores_r12 || r != Reg::R12)
            .collect();
        for &r in &saved {
            a.push(r);
        }
        for r in CALLEE_SAVED {
            a.mov_imm(r, -1);
        }
        for &r in saved.iter().rev() {
            a.pop(r);
        }
        a.ret();
    })
}

#[test]
fn callee_saved_registers_are_preserved() {
    isolated(|| {
        let good = callee_saved_harness(true);
        // SAFETY: takes no arguments, returns in rax, saves and restores every
        // callee-saved register it touches (the outer function saves all of them).
        let f: extern "sysv64" fn() -> i64 = unsafe { good.as_fn() };
        assert_eq!(f(), 0);
        // The check can fail: an inner function that forgets r12 is caught.
        let bad = callee_saved_harness(false);
        // SAFETY: as above; the outer function still restores r12 for Rust.
        let f: extern "sysv64" fn() -> i64 = unsafe { bad.as_fn() };
        assert_eq!(f(), 0x3333_3333_3333_3333 ^ -1);
    });
}

#[test]
fn entry_at_a_label() {
    isolated(|| {
        let mut a = Assembler::new();
        let second = a.new_label();
        a.mov_imm(Reg::RAX, 1);
        a.ret();
        a.bind(second);
        a.mov_imm(Reg::RAX, 2);
        a.ret();
        let code = a.finish().unwrap();
        let off = code.label_offset(second).unwrap();
        assert_eq!(off, 6);
        assert_eq!(
            code.label_ptr(second).unwrap() as usize,
            code.entry_ptr() as usize + off
        );
        // SAFETY: both entries take no arguments and return in rax.
        let (f, g): (extern "sysv64" fn() -> i64, extern "sysv64" fn() -> i64) =
            unsafe { (code.as_fn(), code.fn_at(off)) };
        assert_eq!((f(), g()), (1, 2));
    });
}
