//! What the templates emit, graded by the properties that matter, not byte for byte:
//! the instructions are decoded with iced-x86 and checked for what a correct
//! template must do (the prologue checks the depth before it writes the frame's
//! slots, a constant is an immediate with no tag check, a fused compare makes no 0 or
//! 1, a fast path calls nothing, the exit path reaches `rt_raise` and returns). Any
//! correct alternative passes — `xor eax, eax` for `mov eax, 0`, `add rsp, N` or
//! `leave` for `mov rsp, rbp`. A failure shows your listing and, as an example of
//! good output, the reference's.

use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic, OpKind, Register};
use stage1::{Function, Instr, Program, Verified};
use stage3::codegen::generate_with_ranges;

/// `main` alone, from hand-written bytecode (so the code does not depend on the Mini
/// compiler): `constants` and `code`, one source line per instruction.
fn program(locals: u32, constants: Vec<i64>, code: Vec<Instr>) -> Verified {
    let lines = (1..=code.len() as u32).collect();
    let program = Program {
        functions: vec![Function {
            name: "main".into(),
            arity: 0,
            locals,
            code,
            lines,
        }],
        constants,
        fields: vec![],
    };
    stage1::verify(program, "golden.jasm").expect("the program verifies")
}

/// One function's code, decoded: the prologue, each bytecode instruction's code, the
/// slow paths, and the listing to show on failure.
struct Decoded {
    prologue: Vec<Instruction>,
    instrs: Vec<Vec<Instruction>>,
    slow: Vec<Instruction>,
    /// Where the function's fast code ends (slow paths start).
    slow_start: u64,
    listing: String,
    example: &'static str,
}

fn decode(code: &[u8], range: std::ops::Range<usize>) -> Vec<Instruction> {
    let mut decoder = Decoder::with_ip(
        64,
        &code[range.clone()],
        range.start as u64,
        DecoderOptions::NONE,
    );
    let mut out = Vec::new();
    while decoder.can_decode() {
        out.push(decoder.decode());
    }
    out
}

fn compile(verified: &Verified, example: &'static str) -> Decoded {
    let generated = generate_with_ranges(verified).expect("the program compiles");
    let code = generated.asm.assemble().expect("the code assembles");
    let f = &generated.functions[0];
    Decoded {
        prologue: decode(&code.bytes, f.prologue.clone()),
        instrs: f
            .instrs
            .iter()
            .map(|r| decode(&code.bytes, r.clone()))
            .collect(),
        slow: decode(&code.bytes, f.slow_paths.clone()),
        slow_start: f.slow_paths.start as u64,
        listing: stage3::listing(verified).expect("the program compiles"),
        example,
    }
}

impl Decoded {
    /// Fails with `what`, the learner's listing and the reference's example.
    fn check(&self, ok: bool, what: &str) {
        assert!(
            ok,
            "{what}\n--- your listing ---\n{}--- the reference's listing, an example of good output ---\n{}",
            self.listing, self.example
        );
    }

    /// The instructions of pcs `pcs`, in order.
    fn body(&self, pcs: std::ops::Range<usize>) -> Vec<Instruction> {
        self.instrs[pcs].iter().flatten().copied().collect()
    }
}

fn is(i: &Instruction, m: Mnemonic) -> bool {
    i.mnemonic() == m
}

/// Operand `n` of `i` when it is an immediate, sign-extended.
fn imm(i: &Instruction, n: u32) -> Option<i64> {
    if n >= i.op_count() {
        return None;
    }
    match i.op_kind(n) {
        OpKind::Immediate8
        | OpKind::Immediate16
        | OpKind::Immediate32
        | OpKind::Immediate64
        | OpKind::Immediate8to16
        | OpKind::Immediate8to32
        | OpKind::Immediate8to64
        | OpKind::Immediate32to64 => Some(i.immediate(n) as i64),
        _ => None,
    }
}

/// `sub reg, 1` or `dec reg`.
fn decrements(i: &Instruction, reg: Register) -> bool {
    i.op_count() >= 1
        && i.op0_kind() == OpKind::Register
        && i.op0_register() == reg
        && (is(i, Mnemonic::Dec) || (is(i, Mnemonic::Sub) && imm(i, 1) == Some(1)))
}

/// `add reg, 1` or `inc reg`.
fn increments(i: &Instruction, reg: Register) -> bool {
    i.op_count() >= 1
        && i.op0_kind() == OpKind::Register
        && i.op0_register() == reg
        && (is(i, Mnemonic::Inc) || (is(i, Mnemonic::Add) && imm(i, 1) == Some(1)))
}

/// A write to memory addressed from `rbp` (a local or operand slot).
fn stores_to_frame(i: &Instruction) -> bool {
    i.op_count() >= 1
        && i.op0_kind() == OpKind::Memory
        && i.memory_base() == Register::RBP
        && !matches!(i.mnemonic(), Mnemonic::Cmp | Mnemonic::Test)
}

fn calls(i: &Instruction) -> bool {
    is(i, Mnemonic::Call)
}

/// A conditional jump.
fn branches(i: &Instruction) -> bool {
    use Mnemonic::*;
    matches!(
        i.mnemonic(),
        Jo | Jno | Jb | Jae | Je | Jne | Jbe | Ja | Js | Jns | Jp | Jnp | Jl | Jge | Jle | Jg
    )
}

/// The frame is dropped (`mov rsp, rbp`, `add rsp, N`, `leave`), then `pop rbp; ret`
/// (with `leave`, the `pop` is part of it): where the code at `tail` ends.
fn drops_frame_and_returns(tail: &[Instruction]) -> bool {
    let n = tail.len();
    if n >= 2 && is(&tail[n - 1], Mnemonic::Ret) && is(&tail[n - 2], Mnemonic::Leave) {
        return true;
    }
    if n < 3 || !is(&tail[n - 1], Mnemonic::Ret) {
        return false;
    }
    let pop = &tail[n - 2];
    let drop = &tail[n - 3];
    let pops_rbp = is(pop, Mnemonic::Pop) && pop.op0_register() == Register::RBP;
    let restores = (is(drop, Mnemonic::Mov)
        && drop.op0_register() == Register::RSP
        && drop.op1_kind() == OpKind::Register
        && drop.op1_register() == Register::RBP)
        || (is(drop, Mnemonic::Add) && drop.op0_register() == Register::RSP);
    pops_rbp && restores
}

/// Checks a prologue: the frame, the depth check before any slot is written and
/// before the call is counted, the count, and the overflow going out of line.
fn check_prologue(d: &Decoded) {
    let p = &d.prologue;
    d.check(
        p.len() >= 2
            && is(&p[0], Mnemonic::Push)
            && p[0].op0_register() == Register::RBP
            && is(&p[1], Mnemonic::Mov)
            && p[1].op0_register() == Register::RBP
            && p[1].op1_kind() == OpKind::Register
            && p[1].op1_register() == Register::RSP,
        "the prologue starts with `push rbp ; mov rbp, rsp`",
    );
    let reserve = p
        .iter()
        .find(|i| is(i, Mnemonic::Sub) && i.op0_register() == Register::RSP);
    d.check(
        reserve.is_some_and(|i| imm(i, 1).is_some_and(|n| n % 16 == 0)),
        "the prologue reserves the frame with `sub rsp, N`, N a multiple of 16 (keeps calls aligned)",
    );
    let check = p.iter().position(|i| decrements(i, Register::RBX));
    d.check(
        check.is_some(),
        "the prologue takes a frame from FRAMES_LEFT (`sub rbx, 1`)",
    );
    let check = check.unwrap_or(0);
    let jump = p.get(check + 1);
    d.check(
        jump.is_some_and(|j| {
            branches(j)
                && is(j, Mnemonic::Jb)
                && j.near_branch_target() >= d.slow_start
        }),
        "right after `sub rbx, 1`, `jb` to a stack-overflow stub in the slow paths (borrowing means none was left)",
    );
    let count = p.iter().position(|i| increments(i, Register::R13));
    d.check(
        count.is_some_and(|c| c > check),
        "the prologue counts the call (`add r13, 1`) after the depth check, so a call that overflows is not counted",
    );
    let first_store = p.iter().position(stores_to_frame).unwrap_or(usize::MAX);
    d.check(
        first_store > check,
        "the prologue checks the depth before it writes the frame's slots",
    );
}

/// Checks a `return` whose value is already in `rax`: one frame given back, then the
/// frame dropped and `ret`.
fn check_return(d: &Decoded, code: &[Instruction]) {
    d.check(
        code.iter().any(|i| increments(i, Register::RBX)),
        "`return` gives the frame back to FRAMES_LEFT (`add rbx, 1`)",
    );
    d.check(
        drops_frame_and_returns(code),
        "`return` ends with `mov rsp, rbp` (or `add rsp, N`, or `leave`), `pop rbp`, `ret`",
    );
    d.check(!code.iter().any(calls), "`return` calls nothing");
}

const EXAMPLE_ADD: &str = "\
fn main (arity 0, locals 0): 102 bytes of code
  prologue
        0000: 55                             push rbp
        0001: 48 89 e5                       mov rbp, rsp
        0004: 48 83 ec 10                    sub rsp, 0x10
        0008: 48 83 eb 01                    sub rbx, 0x1
        000c: 0f 82 1c 00 00 00              jb 0x2e                           ; stack overflow
        0012: 49 83 c5 01                    add r13, 0x1
     0  const 20
     1  const 22
     2  add
        0016: b8 28 00 00 00                 mov eax, 0x28                     ; 20
        001b: 48 83 c0 2c                    add rax, 0x2c                     ; 22
        001f: 0f 80 18 00 00 00              jo 0x3d                           ; integer overflow at pc 2
     3  return
        0025: 48 83 c3 01                    add rbx, 0x1
        0029: 48 89 ec                       mov rsp, rbp
        002c: 5d                             pop rbp
        002d: c3                             ret
  slow paths
        002e: be 06 00 00 00                 mov esi, 0x6                      ; stack overflow
        0033: b9 ff ff ff ff                 mov ecx, -0x1
        0038: e9 0f 00 00 00                 jmp 0x4c                          ; error exit
        003d: be 01 00 00 00                 mov esi, 0x1                      ; integer overflow at pc 2
        0042: b9 02 00 00 00                 mov ecx, 0x2
        0047: e9 00 00 00 00                 jmp 0x4c                          ; error exit
        004c: 4c 89 e7                       mov rdi, r12                      ; error exit
        004f: ba 00 00 00 00                 mov edx, 0x0
        0054: 49 bb .. .. .. .. .. .. .. ..  mov r11, rt_raise
        005e: 41 ff d3                       call r11                          ; rt_raise
        0061: 48 89 ec                       mov rsp, rbp
        0064: 5d                             pop rbp
        0065: c3                             ret
";

fn add_of_two_constants() -> Decoded {
    compile(
        &program(
            0,
            vec![20, 22],
            vec![Instr::Const(0), Instr::Const(1), Instr::Add, Instr::Return],
        ),
        EXAMPLE_ADD,
    )
}

#[test]
fn golden_add_of_two_constants() {
    let d = add_of_two_constants();
    if std::env::var("GOLDEN_PRINT").is_ok() {
        println!("{}", d.listing);
    }
    check_prologue(&d);
    d.check(
        d.instrs[0].is_empty() && d.instrs[1].is_empty(),
        "`const` emits no code: the constant waits on the value stack",
    );
    let add = &d.instrs[2];
    d.check(
        !add.iter().any(|i| is(i, Mnemonic::Test)),
        "two constants are known integers: `add` needs no tag check",
    );
    d.check(
        add.iter().any(|i| {
            is(i, Mnemonic::Add)
                && i.op0_register() == Register::RAX
                && i.op1_kind() != OpKind::Register
        }),
        "the second constant is an immediate of the `add` (`add rax, imm`)",
    );
    let jo = add.iter().position(|i| is(i, Mnemonic::Jo));
    d.check(
        jo.is_some_and(|j| j + 1 == add.len() && add[j].near_branch_target() >= d.slow_start),
        "`add` ends with `jo` to an overflow stub in the slow paths",
    );
    d.check(
        !add.iter().any(|i| stores_to_frame(i) || calls(i)),
        "`add` keeps its result in rax: no store, no call",
    );
    check_return(&d, &d.instrs[3]);
}

const EXAMPLE_LOCALS: &str = "\
fn main (arity 0, locals 2): 205 bytes of code
  prologue
        0000: 55                             push rbp
        0001: 48 89 e5                       mov rbp, rsp
        0004: 48 83 ec 20                    sub rsp, 0x20
        0008: 48 83 eb 01                    sub rbx, 0x1
        000c: 0f 82 65 00 00 00              jb 0x77                           ; stack overflow
        0012: 49 83 c5 01                    add r13, 0x1
        0016: 48 c7 45 f8 00 00 00 00        mov qword ptr [rbp-0x8], 0x0      ; 0
        001e: 48 c7 45 f0 00 00 00 00        mov qword ptr [rbp-0x10], 0x0     ; 0
     0  load_local 0
     1  const 22
     2  add
        0026: 48 8b 45 f8                    mov rax, qword ptr [rbp-0x8]
        002a: a9 01 00 00 00                 test eax, 0x1
        002f: 0f 85 51 00 00 00              jne 0x86                          ; type error at pc 2
        0035: 48 83 c0 2c                    add rax, 0x2c                     ; 22
        0039: 0f 80 56 00 00 00              jo 0x95                           ; integer overflow at pc 2
     3  store_local 1
        003f: 48 89 45 f0                    mov qword ptr [rbp-0x10], rax
     4  load_local 1
     5  const 1
     6  lt
        0043: 48 8b 45 f0                    mov rax, qword ptr [rbp-0x10]
        0047: a9 01 00 00 00                 test eax, 0x1
        004c: 0f 85 52 00 00 00              jne 0xa4                          ; type error at pc 6
        0052: 48 83 f8 02                    cmp rax, 0x2                      ; 1
        0056: 0f 8d 0d 00 00 00              jge 0x69                          ; pc 10
     7  jump_if_false 10
     8  load_local 1
     9  return
        005c: 48 8b 45 f0                    mov rax, qword ptr [rbp-0x10]
        0060: 48 83 c3 01                    add rbx, 0x1
        0064: 48 89 ec                       mov rsp, rbp
        0067: 5d                             pop rbp
        0068: c3                             ret
    10  const 0
    11  return
        0069: b8 00 00 00 00                 mov eax, 0x0                      ; 0
        006e: 48 83 c3 01                    add rbx, 0x1
        0072: 48 89 ec                       mov rsp, rbp
        0075: 5d                             pop rbp
        0076: c3                             ret
  slow paths
        0077: be 06 00 00 00                 mov esi, 0x6                      ; stack overflow
        007c: b9 ff ff ff ff                 mov ecx, -0x1
        0081: e9 2d 00 00 00                 jmp 0xb3                          ; error exit
        0086: be 03 00 00 00                 mov esi, 0x3                      ; type error at pc 2
        008b: b9 02 00 00 00                 mov ecx, 0x2
        0090: e9 1e 00 00 00                 jmp 0xb3                          ; error exit
        0095: be 01 00 00 00                 mov esi, 0x1                      ; integer overflow at pc 2
        009a: b9 02 00 00 00                 mov ecx, 0x2
        009f: e9 0f 00 00 00                 jmp 0xb3                          ; error exit
        00a4: be 03 00 00 00                 mov esi, 0x3                      ; type error at pc 6
        00a9: b9 06 00 00 00                 mov ecx, 0x6
        00ae: e9 00 00 00 00                 jmp 0xb3                          ; error exit
        00b3: 4c 89 e7                       mov rdi, r12                      ; error exit
        00b6: ba 00 00 00 00                 mov edx, 0x0
        00bb: 49 bb .. .. .. .. .. .. .. ..  mov r11, rt_raise
        00c5: 41 ff d3                       call r11                          ; rt_raise
        00c8: 48 89 ec                       mov rsp, rbp
        00cb: 5d                             pop rbp
        00cc: c3                             ret
";

#[test]
fn golden_locals_and_a_fused_compare_and_jump() {
    // x = l0 + 22; if x < 1 { return x } else { return 0 }: the constant is an
    // immediate with no tag check, the sum stays in rax until `store_local`, and
    // `lt; jump_if_false` is one `cmp; jge`.
    let d = compile(
        &program(
            2,
            vec![22, 1, 0],
            vec![
                Instr::LoadLocal(0),
                Instr::Const(0),
                Instr::Add,
                Instr::StoreLocal(1),
                Instr::LoadLocal(1),
                Instr::Const(1),
                Instr::Lt,
                Instr::JumpIfFalse(10),
                Instr::LoadLocal(1),
                Instr::Return,
                Instr::Const(2),
                Instr::Return,
            ],
        ),
        EXAMPLE_LOCALS,
    );
    if std::env::var("GOLDEN_PRINT").is_ok() {
        println!("{}", d.listing);
    }
    check_prologue(&d);
    let add = d.body(0..3);
    d.check(
        add.iter().filter(|i| is(i, Mnemonic::Test)).count() == 1,
        "`l0 + 22` checks one tag: the local's (the constant is known to be an integer)",
    );
    d.check(
        add.iter().any(|i| {
            is(i, Mnemonic::Add)
                && i.op1_kind() != OpKind::Register
                && i.op1_kind() != OpKind::Memory
        }),
        "`+ 22` is an immediate operand of the `add`",
    );
    d.check(
        !add.iter().any(|i| stores_to_frame(i) || calls(i)),
        "`l0 + 22` stores nothing: the operands are read where they are, the sum stays in rax",
    );
    let store = &d.instrs[3];
    d.check(
        store.len() == 1 && stores_to_frame(&store[0]) && store[0].op1_register() == Register::RAX,
        "`store_local 1` is one store of rax",
    );
    let fused = d.body(4..8);
    d.check(
        d.instrs[7].is_empty(),
        "`jump_if_false` after `lt` is fused into the compare (no code of its own)",
    );
    d.check(
        !fused.iter().any(|i| {
            matches!(
                i.mnemonic(),
                Mnemonic::Setl | Mnemonic::Setge | Mnemonic::Movzx
            )
        }),
        "a compare followed by a jump makes no 0 or 1 (no setcc, no movzx)",
    );
    d.check(
        fused.iter().filter(|i| is(i, Mnemonic::Cmp)).count() == 1,
        "the fused compare is one `cmp`",
    );
    let jumps: Vec<&Instruction> = fused
        .iter()
        .filter(|i| branches(i) && i.near_branch_target() < d.slow_start)
        .collect();
    let ge = matches!(jumps[..], [j] if is(j, Mnemonic::Jge));
    d.check(
        ge,
        "`lt; jump_if_false` jumps on the opposite condition: one `jge` (with `cmp rax, 2`)",
    );
    d.check(!fused.iter().any(calls), "the compare calls nothing");
    check_return(&d, &d.body(8..10));
    check_return(&d, &d.body(10..12));
}

#[test]
fn golden_slow_paths_raise_through_one_exit() {
    let d = add_of_two_constants();
    // The stubs jump to one exit; the exit passes the context and the function, calls
    // `rt_raise`, drops the frame and returns.
    let exits: Vec<u64> = d
        .slow
        .iter()
        .filter(|i| is(i, Mnemonic::Jmp))
        .map(|i| i.near_branch_target())
        .collect();
    d.check(
        exits.len() == 2 && exits[0] == exits[1],
        "two stubs (stack overflow, overflow at pc 2), each jumping to the one exit",
    );
    let exit: Vec<Instruction> = d
        .slow
        .iter()
        .filter(|i| exits.first().is_some_and(|&e| i.ip() >= e))
        .copied()
        .collect();
    d.check(
        exit.iter().any(|i| {
            is(i, Mnemonic::Mov)
                && i.op0_register() == Register::RDI
                && i.op1_kind() == OpKind::Register
                && i.op1_register() == Register::R12
        }),
        "the exit passes the context: `mov rdi, r12`",
    );
    d.check(
        exit.iter().any(|i| {
            i.op0_kind() == OpKind::Register
                && matches!(i.op0_register(), Register::EDX | Register::RDX)
                && (is(i, Mnemonic::Xor) || (is(i, Mnemonic::Mov) && imm(i, 1) == Some(0)))
        }),
        "the exit passes the function's index (0, `main`) in edx",
    );
    let call = exit.iter().position(calls);
    d.check(call.is_some(), "the exit calls `rt_raise`");
    d.check(
        drops_frame_and_returns(&exit) && call.is_some_and(|c| c + 1 < exit.len()),
        "after `rt_raise` the exit drops the frame and returns (the error word is in rax)",
    );
}

#[test]
fn fast_paths_make_no_runtime_calls() {
    // Arithmetic, compares, jumps and array reads are inline; only calls, `print` and
    // allocation go out.
    let source = "fn f(a, i) {\n  let s = 0;\n  while i < len(a) { s = s + a[i] * 2 - 1; if s > 100 { s = s / 3 % 7; } i = i + 1; }\n  return -s;\n}\nprint f([1, 2, 3], 0);";
    let verified = super::common::load("fast.mini", source);
    let generated = generate_with_ranges(&verified).expect("the program compiles");
    let code = generated.asm.assemble().expect("the code assembles");
    let listing = stage3::listing(&verified).expect("the program compiles");
    let program = verified.program();
    let f = program.function_named("f").expect("f exists") as usize;
    for (pc, range) in generated.functions[f].instrs.iter().enumerate() {
        let instr = program.functions[f].code[pc];
        let went_out = decode(&code.bytes, range.clone()).iter().any(calls);
        assert!(
            !went_out,
            "pc {pc} of f ({}) calls out of line; its fast path must be inline\n--- your listing ---\n{listing}",
            instr.mnemonic()
        );
    }
}

#[test]
fn division_checks_zero_and_minus_one_before_idiv() {
    let source = "fn f(a, b) { return a / b + a % b; }\nprint f(7, 2);";
    let verified = super::common::load("div.mini", source);
    let generated = generate_with_ranges(&verified).expect("the program compiles");
    let code = generated.asm.assemble().expect("the code assembles");
    let listing = stage3::listing(&verified).expect("the program compiles");
    let program = verified.program();
    let f = program.function_named("f").expect("f exists") as usize;
    let mut idivs = 0;
    for (pc, range) in generated.functions[f].instrs.iter().enumerate() {
        let code = decode(&code.bytes, range.clone());
        let Some(at) = code.iter().position(|i| is(i, Mnemonic::Idiv)) else {
            continue;
        };
        idivs += 1;
        let before = &code[..at];
        let divisor = code[at].op0_register();
        let tests_zero = before.iter().any(|i| {
            (is(i, Mnemonic::Test) && i.op0_register() == divisor && i.op1_register() == divisor)
                || (is(i, Mnemonic::Cmp) && i.op0_register() == divisor && imm(i, 1) == Some(0))
        });
        let tests_minus_one = before
            .iter()
            .any(|i| is(i, Mnemonic::Cmp) && i.op0_register() == divisor && imm(i, 1) == Some(-1));
        let sign_extends = at > 0 && is(&code[at - 1], Mnemonic::Cqo);
        assert!(
            tests_zero && tests_minus_one && sign_extends,
            "pc {pc} of f: before `idiv` test the divisor for 0 and for -1, and `cqo` right before it\n--- your listing ---\n{listing}"
        );
    }
    assert_eq!(idivs, 2, "`/` and `%` each divide with idiv\n{listing}");
}

#[test]
fn the_listing_shows_every_instruction_of_every_function() {
    let source = "fn sq(x) { return x * x; }\nlet a = [sq(3), 4];\nprint a[0] + len(a);";
    let verified = super::common::load("listing.mini", source);
    let text = stage3::listing(&verified).unwrap();
    for f in &verified.program().functions {
        assert!(text.contains(&format!("fn {} (", f.name)), "{text}");
        for (pc, instr) in f.code.iter().enumerate() {
            assert!(
                text.contains(&format!("{pc:6}  {}", instr.mnemonic())),
                "pc {pc} ({}) of {} missing:\n{text}",
                instr.mnemonic(),
                f.name
            );
        }
    }
    assert!(text.contains("imul rax, rcx"), "{text}");
    assert!(text.contains("call r11"), "{text}");
}
