//! Register allocation, checked by the checker (`regalloc::checker`): over thousands
//! of random IR functions with many values live at once, with all the registers and
//! with only a few (so that most values spill), every use finds its value in its
//! location. And the checker itself rejects allocations that are wrong.

use stage2::Reg;
use stage4::ir::{BinOp, Block, BlockCall, CmpOp, Function, Op, Terminator, Value};
use stage4::regalloc::{self, checker, Loc, ALLOCATABLE};

/// Seeds of random functions checked by default.
const DEFAULT_SEEDS: u64 = 2_000;

/// A small deterministic generator (xorshift), so the suite needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick(&mut self, values: &[Value]) -> Value {
        values[self.below(values.len())]
    }
}

/// Builds random structured SSA: straight code, diamonds joining with block
/// parameters, and loops whose headers carry parameters around the back edge.
struct Gen {
    rng: Rng,
    f: Function,
}

impl Gen {
    fn call(&mut self, block: Block, args: Vec<Value>) -> BlockCall {
        let _ = self;
        BlockCall { block, args }
    }

    /// Straight-line instructions in `cur`, adding their results to `avail`.
    fn straight(&mut self, cur: Block, avail: &mut Vec<Value>) {
        for _ in 0..1 + self.rng.below(6) {
            let a = self.rng.pick(avail);
            let b = self.rng.pick(avail);
            let op = match self.rng.below(9) {
                0 => Op::Const(self.rng.below(100) as i64 - 50),
                1 => Op::Call {
                    func: 0,
                    args: (0..self.rng.below(4))
                        .map(|_| self.rng.pick(avail))
                        .collect(),
                },
                2 => Op::Print(a),
                3 => Op::Compare(CmpOp::Lt, a, b),
                4 => Op::CheckInt(a),
                5 => Op::ArrayGet(a, b),
                6 => Op::Binary(BinOp::Mul, a, b),
                7 => Op::NewArray(
                    (0..self.rng.below(3))
                        .map(|_| self.rng.pick(avail))
                        .collect(),
                ),
                _ => Op::Binary(BinOp::Add, a, b),
            };
            if let Some(v) = self.f.push(cur, op, 1) {
                avail.push(v);
            }
        }
    }

    /// A region at nesting `depth`, starting in `cur`; gives the block it ends in.
    fn region(&mut self, depth: u32, mut cur: Block, avail: &mut Vec<Value>) -> Block {
        for _ in 0..1 + self.rng.below(3) {
            match self.rng.below(if depth == 0 { 1 } else { 3 }) {
                0 => self.straight(cur, avail),
                1 => {
                    let cond = self.rng.pick(avail);
                    let (then, else_, join) = (
                        self.f.new_block(2),
                        self.f.new_block(3),
                        self.f.new_block(4),
                    );
                    let params = 1 + self.rng.below(3);
                    let joined: Vec<Value> = (0..params).map(|_| self.f.add_param(join)).collect();
                    let (tc, ec) = (self.call(then, vec![]), self.call(else_, vec![]));
                    self.f.terminate(
                        cur,
                        Terminator::Branch {
                            cond,
                            then: tc,
                            else_: ec,
                        },
                    );
                    for arm in [then, else_] {
                        let mut inner = avail.clone();
                        let end = self.region(depth - 1, arm, &mut inner);
                        let args = (0..params).map(|_| self.rng.pick(&inner)).collect();
                        let call = self.call(join, args);
                        self.f.terminate(end, Terminator::Jump(call));
                    }
                    avail.extend(joined);
                    cur = join;
                }
                _ => {
                    let (header, body, exit) = (
                        self.f.new_block(5),
                        self.f.new_block(6),
                        self.f.new_block(7),
                    );
                    let params = 1 + self.rng.below(4);
                    let carried: Vec<Value> =
                        (0..params).map(|_| self.f.add_param(header)).collect();
                    let init = (0..params).map(|_| self.rng.pick(avail)).collect();
                    let call = self.call(header, init);
                    self.f.terminate(cur, Terminator::Jump(call));
                    avail.extend(carried.iter().copied());
                    let limit = self.f.push(header, Op::Const(10), 5).unwrap();
                    let counter = carried[0];
                    let cond = self
                        .f
                        .push(header, Op::Compare(CmpOp::Lt, counter, limit), 5)
                        .unwrap();
                    let (bc, xc) = (self.call(body, vec![]), self.call(exit, vec![]));
                    self.f.terminate(
                        header,
                        Terminator::Branch {
                            cond,
                            then: bc,
                            else_: xc,
                        },
                    );
                    let mut inner = avail.clone();
                    let end = self.region(depth - 1, body, &mut inner);
                    // Permute the carried values sometimes: a cycle of moves at the back edge.
                    let mut args: Vec<Value> = (0..params).map(|_| self.rng.pick(&inner)).collect();
                    if self.rng.below(2) == 0 {
                        args = carried.iter().rev().copied().collect();
                    }
                    let call = self.call(header, args);
                    self.f.terminate(end, Terminator::Jump(call));
                    cur = exit;
                }
            }
        }
        cur
    }
}

/// A random function of seed `seed`, in SSA form.
fn random_function(seed: u64) -> Function {
    let mut gen = Gen {
        rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
        f: Function::new("random", 0),
    };
    let entry = gen.f.new_block(0);
    let arity = 1 + gen.rng.below(4);
    let mut avail: Vec<Value> = (0..arity).map(|_| gen.f.add_param(entry)).collect();
    let end = gen.region(3, entry, &mut avail);
    // Use many of the values at the end, so that they all stay live to there.
    let mut acc = gen.rng.pick(&avail);
    for _ in 0..gen.rng.below(8) {
        let v = gen.rng.pick(&avail);
        acc = gen.f.push(end, Op::Binary(BinOp::Add, acc, v), 9).unwrap();
    }
    gen.f.terminate(end, Terminator::Return(acc));
    gen.f
}

#[test]
fn random_functions_pass_the_checker_with_few_and_many_registers() {
    let seeds = jitlab_testkit::random::seed_count(DEFAULT_SEEDS);
    let register_sets: [&[Reg]; 4] = [
        &ALLOCATABLE,
        &[Reg::RCX, Reg::RSI, Reg::R14],
        &[Reg::RCX, Reg::R15],
        &[Reg::R14],
    ];
    let mut spilled = 0;
    for seed in 0..seeds {
        let f = random_function(seed);
        for regs in register_sets {
            let alloc = regalloc::allocate_with(&f, regs);
            spilled += alloc.spilled;
            if let Err(errors) = checker::check(&f, &alloc) {
                panic!(
                    "seed {seed} with {} registers: {}\n{f:#?}\n{alloc:#?}",
                    regs.len(),
                    errors
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
        }
    }
    assert!(
        spilled > seeds as u32,
        "the random functions should force spills"
    );
}

/// `fn f(a, b) { let c = a + b; print c; return c + a; }` by hand.
fn small() -> (Function, [Value; 4]) {
    let mut f = Function::new("small", 0);
    let entry = f.new_block(0);
    let a = f.add_param(entry);
    let b = f.add_param(entry);
    let c = f.push(entry, Op::Binary(BinOp::Add, a, b), 1).unwrap();
    f.push(entry, Op::Print(c), 2);
    let d = f.push(entry, Op::Binary(BinOp::Add, c, a), 3).unwrap();
    f.terminate(entry, Terminator::Return(d));
    (f, [a, b, c, d])
}

#[test]
fn values_live_across_a_call_get_callee_saved_registers_slots_or_saves_around_it() {
    let (f, [a, _, c, _]) = small();
    let print = f.blocks[0].insts[1];
    let alloc = regalloc::allocate(&f);
    checker::check(&f, &alloc).unwrap();
    for v in [a, c] {
        let saved = |r| alloc.saves_at(print).iter().any(|&(_, s, _)| s == r);
        assert!(
            match alloc.loc(v) {
                Loc::Reg(Reg::R14 | Reg::R15) | Loc::Slot(_) => true,
                Loc::Reg(r) => saved(r),
            },
            "v{} lives across print in {}, unsaved: {alloc:#?}",
            v.0,
            alloc.loc(v)
        );
    }
    // Crossing one call outside any loop, they are saved around it rather than making
    // the prologue save `r14`.
    assert!(alloc.callee_saved.is_empty(), "{alloc:#?}");
    // With only `r14` for the two, one of them is saved around the call or spilled.
    let few = regalloc::allocate_with(&f, &[Reg::RCX, Reg::R14]);
    checker::check(&f, &few).unwrap();
    assert!(few.spilled + few.call_saves.len() as u32 >= 1, "{few:#?}");
}

#[test]
fn the_checker_rejects_a_register_not_saved_around_a_call() {
    let (f, _) = small();
    let mut alloc = regalloc::allocate(&f);
    assert!(!alloc.call_saves.is_empty(), "{alloc:#?}");
    alloc.call_saves.clear();
    let errors = checker::check(&f, &alloc).unwrap_err();
    assert!(
        errors.iter().any(|e| e.message.contains("nothing known")),
        "{errors:?}"
    );
}

#[test]
fn the_checker_rejects_a_register_shared_by_two_live_values() {
    let (f, [a, b, ..]) = small();
    let mut alloc = regalloc::allocate(&f);
    alloc.locs[b.index()] = alloc.locs[a.index()];
    let errors = checker::check(&f, &alloc).unwrap_err();
    assert!(errors[0].message.contains("reads"), "{errors:?}");
}

#[test]
fn the_checker_rejects_a_value_left_in_a_register_a_call_clobbers() {
    let (f, [a, ..]) = small();
    let mut alloc = regalloc::allocate(&f);
    alloc.locs[a.index()] = Some(Loc::Reg(Reg::R8));
    let errors = checker::check(&f, &alloc).unwrap_err();
    assert!(
        errors.iter().any(|e| e.message.contains("nothing known")),
        "{errors:?}"
    );
}

#[test]
fn the_checker_rejects_a_swap_done_as_two_plain_moves() {
    // A loop whose back edge swaps its two parameters: correct as allocated, wrong
    // once the two parameters share a location.
    let mut f = Function::new("swap", 0);
    let entry = f.new_block(0);
    let x = f.add_param(entry);
    let y = f.add_param(entry);
    let header = f.new_block(1);
    let p = f.add_param(header);
    let q = f.add_param(header);
    let exit = f.new_block(2);
    f.terminate(
        entry,
        Terminator::Jump(BlockCall {
            block: header,
            args: vec![x, y],
        }),
    );
    let cond = f.push(header, Op::Compare(CmpOp::Lt, p, q), 1).unwrap();
    f.terminate(
        header,
        Terminator::Branch {
            cond,
            then: BlockCall {
                block: header,
                args: vec![q, p],
            },
            else_: BlockCall {
                block: exit,
                args: vec![],
            },
        },
    );
    let sum = f.push(exit, Op::Binary(BinOp::Sub, p, q), 2).unwrap();
    f.terminate(exit, Terminator::Return(sum));
    let alloc = regalloc::allocate(&f);
    checker::check(&f, &alloc).unwrap();
    let mut wrong = alloc.clone();
    wrong.locs[q.index()] = wrong.locs[p.index()];
    assert!(checker::check(&f, &wrong).is_err());
}

/// A guard on arithmetic writes its result before its overflow check, whose deopt
/// exit still reads the frame state: the result never shares a register with a
/// value of the state, even with an operand whose last use the guard is — but an
/// operand of an `add` (either), `sub` (the left) or `mul` (the right), which the
/// deopt stub restores (so the code computes the sum in place, with no `rax` and no
/// move back).
#[test]
fn a_guards_result_takes_no_register_its_deopt_exit_reads_but_the_undone_operand() {
    let f = stage4::ir::text::parse(
        "function f f0 {\n\
         b0(v0, v1):  @0\n\
         \x20   v2 = guard add v0, v1 [f0@2: v0, v1 | v0, v1]  @2\n\
         \x20   v3 = guard sub v2, v0 [f0@5: v0, v1 | v2, v0]  @5\n\
         \x20   v4 = guard mul v3, v1 [f0@8: v0, v1 | v3, v1]  @8\n\
         \x20   return v4\n\
         }\n",
    )
    .expect("parses");
    for registers in [&ALLOCATABLE[..], &[Reg::RCX, Reg::RSI, Reg::RDI][..]] {
        let alloc = regalloc::allocate_with(&f, registers);
        checker::check(&f, &alloc).unwrap();
        for &inst in &f.blocks[0].insts {
            let data = f.inst(inst);
            let result = alloc.loc(data.result.expect("an add has a result"));
            let Op::Guard(guard) = &data.op else {
                unreachable!("every instruction is a guard")
            };
            guard.state.for_each_value(|v| {
                if !regalloc::liveness::undone_in_place(&data.op, v) {
                    assert_ne!(alloc.loc(v), result, "v{} in {alloc:#?}", v.0);
                }
            });
        }
    }
    // The sum overwrites its left operand, whose last use it is: v0 lives on, v2's
    // does not, so the difference takes v2's register.
    let alloc = regalloc::allocate(&f);
    assert_eq!(alloc.loc(Value(3)), alloc.loc(Value(2)), "{alloc:#?}");
}

/// `a + b` is `b + a`: the sum may overwrite its right operand as well, when that
/// is the one whose last use it is (matmul's `sum + a[k] * b[k][j]`, the product
/// dying there and `sum` in a slot): the deopt stub subtracts the left operand
/// again, from wherever it is.
#[test]
fn a_guarded_add_may_overwrite_its_right_operand() {
    let f = stage4::ir::text::parse(
        "function f f0 {\n\
         b0(v0, v1):  @0\n\
         \x20   v2 = guard add v0, v1 [f0@2: v0 | v0, v1]  @2\n\
         \x20   v3 = guard add v2, v0 [f0@5: v0 | v2, v0]  @5\n\
         \x20   return v3\n\
         }\n",
    )
    .expect("parses");
    let alloc = regalloc::allocate(&f);
    checker::check(&f, &alloc).unwrap();
    // v0 lives on (v3 reads it); v1, read by v2 and v2's state alone, gives v2 its
    // register.
    assert_eq!(alloc.loc(Value(2)), alloc.loc(Value(1)), "{alloc:#?}");
    assert!(matches!(alloc.loc(Value(2)), Loc::Reg(_)), "{alloc:#?}");
}

/// An operand that the guard's frame state does not hold is read before the result
/// is written, as any instruction's operand: its deopt exit never reads it, so the
/// result may take its register. This is the loop kernel's `sum + i*3 - 7` once
/// `bounds` made it `sum + (i*3 - 7)`: the state of the second add holds `sum + i*3`
/// (the operand stack at that pc), not `i*3 - 7`, which dies there — the sum is
/// computed in its register, with no copy of `sum` (still live) to add to.
#[test]
fn a_guards_operand_that_no_frame_state_holds_gives_its_register_to_the_result() {
    let f = stage4::ir::text::parse(
        "function f f0 {\n\
         b0(v0, v1):  @0\n\
         \x20   v2 = guard add v0, v1 [f0@2: v0, v1 | v0, v1]  @2\n\
         \x20   v3 = iadd v1, v1  @3\n\
         \x20   v4 = guard add v0, v3 [f0@5: v0, v1 | v2, v1]  @5\n\
         \x20   v5 = guard add v4, v0 [f0@8: v0, v1 | v4, v0]  @8\n\
         \x20   return v5\n\
         }\n",
    )
    .expect("parses");
    let alloc = regalloc::allocate(&f);
    checker::check(&f, &alloc).unwrap();
    // v0 lives on past v4 (v5 reads it); v3, read by v4 alone and by no state,
    // gives v4 its register.
    assert_eq!(alloc.loc(Value(4)), alloc.loc(Value(3)), "{alloc:#?}");
    assert!(matches!(alloc.loc(Value(4)), Loc::Reg(_)), "{alloc:#?}");
}

/// A value read only by frame states (a local the loop keeps for its deopts) costs
/// nothing in a slot, where the deopt exit reads it as well: when registers run out
/// it is the one spilled, not a temporary the loop computes with.
#[test]
fn a_value_only_frame_states_read_is_spilled_first() {
    let f = stage4::ir::text::parse(
        "function f f0 {\n\
         b0(v0, v1):  @0\n\
         \x20   jump b1(v0)\n\
         b1(v2):  @1\n\
         \x20   v3 = guard add v2, v2 [f0@1: v1, v2 |]  @1\n\
         \x20   v4 = guard add v3, v3 [f0@2: v1, v3 |]  @2\n\
         \x20   v5 = guard add v4, v3 [f0@3: v1, v4 |]  @3\n\
         \x20   v6 = lt v5, v2  @4\n\
         \x20   branch v6, b1(v5), b2\n\
         b2:  @5\n\
         \x20   return v2\n\
         }\n",
    )
    .expect("parses");
    let alloc = regalloc::allocate_with(&f, &[Reg::RCX, Reg::RSI, Reg::RDI]);
    checker::check(&f, &alloc).unwrap();
    assert!(matches!(alloc.loc(Value(1)), Loc::Slot(_)), "{alloc:#?}");
}
