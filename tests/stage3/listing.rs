//! Golden disassembly: what the templates emit for small functions, byte for byte
//! and as text, so a learner sees what good output looks like.

use stage1::{Function, Instr, Program};

/// `main` alone, from hand-written bytecode (so the listing does not depend on the
/// Mini compiler): `constants` and `code`, one source line per instruction.
fn listing_of(locals: u32, constants: Vec<i64>, code: Vec<Instr>) -> String {
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
    let verified = stage1::verify(program, "golden.jasm").expect("the program verifies");
    stage3::listing(&verified).expect("the program compiles")
}

/// The listing up to its slow paths.
fn up_to_slow_paths(listing: &str) -> &str {
    let end = listing
        .find("  slow paths")
        .expect("the listing has slow paths");
    &listing[..end]
}

#[test]
fn golden_add_of_two_constants() {
    let listing = listing_of(
        0,
        vec![20, 22],
        vec![Instr::Const(0), Instr::Const(1), Instr::Add, Instr::Return],
    );
    let expected = "\
fn main (arity 0, locals 0): 102 bytes of code
  prologue
        0027: 55                             push rbp
        0028: 48 89 e5                       mov rbp, rsp
        002b: 48 83 ec 10                    sub rsp, 0x10
        002f: 48 83 eb 01                    sub rbx, 0x1
        0033: 0f 82 1c 00 00 00              jb 0x55                           ; stack overflow
        0039: 49 83 c5 01                    add r13, 0x1
     0  const 20
     1  const 22
     2  add
        003d: b8 28 00 00 00                 mov eax, 0x28                     ; 20
        0042: 48 83 c0 2c                    add rax, 0x2c                     ; 22
        0046: 0f 80 18 00 00 00              jo 0x64                           ; integer overflow at pc 2
     3  return
        004c: 48 83 c3 01                    add rbx, 0x1
        0050: 48 89 ec                       mov rsp, rbp
        0053: 5d                             pop rbp
        0054: c3                             ret
";
    if std::env::var("GOLDEN_PRINT").is_ok() {
        println!("{listing}");
    }
    pretty_assertions::assert_eq!(up_to_slow_paths(&listing), expected);
}

#[test]
fn golden_locals_and_a_fused_compare_and_jump() {
    // x = l0 + 22; if x < 1 { return x } else { return 0 }: the constant is an
    // immediate with no tag check, the sum stays in rax until `store_local`, and
    // `lt; jump_if_false` is one `cmp; jge`.
    let listing = listing_of(
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
    );
    if std::env::var("GOLDEN_PRINT").is_ok() {
        println!("{listing}");
    }
    let body = up_to_slow_paths(&listing);
    // From pc 0 on (its indent dropped: the string continuation below eats it).
    let body = &body[body.find("0  load_local").expect("pc 0 is listed")..];
    let expected = "\
0  load_local 0
     1  const 22
     2  add
        004d: 48 8b 45 f8                    mov rax, qword ptr [rbp-0x8]
        0051: a9 01 00 00 00                 test eax, 0x1
        0056: 0f 85 51 00 00 00              jne 0xad                          ; type error at pc 2
        005c: 48 83 c0 2c                    add rax, 0x2c                     ; 22
        0060: 0f 80 56 00 00 00              jo 0xbc                           ; integer overflow at pc 2
     3  store_local 1
        0066: 48 89 45 f0                    mov qword ptr [rbp-0x10], rax
     4  load_local 1
     5  const 1
     6  lt
        006a: 48 8b 45 f0                    mov rax, qword ptr [rbp-0x10]
        006e: a9 01 00 00 00                 test eax, 0x1
        0073: 0f 85 52 00 00 00              jne 0xcb                          ; type error at pc 6
        0079: 48 83 f8 02                    cmp rax, 0x2                      ; 1
        007d: 0f 8d 0d 00 00 00              jge 0x90                          ; pc 10
     7  jump_if_false 10
     8  load_local 1
     9  return
        0083: 48 8b 45 f0                    mov rax, qword ptr [rbp-0x10]
        0087: 48 83 c3 01                    add rbx, 0x1
        008b: 48 89 ec                       mov rsp, rbp
        008e: 5d                             pop rbp
        008f: c3                             ret
    10  const 0
    11  return
        0090: b8 00 00 00 00                 mov eax, 0x0                      ; 0
        0095: 48 83 c3 01                    add rbx, 0x1
        0099: 48 89 ec                       mov rsp, rbp
        009c: 5d                             pop rbp
        009d: c3                             ret
";
    pretty_assertions::assert_eq!(body, expected);
}

#[test]
fn golden_slow_paths_raise_through_one_exit() {
    let listing = listing_of(
        0,
        vec![20, 22],
        vec![Instr::Const(0), Instr::Const(1), Instr::Add, Instr::Return],
    );
    let slow = &listing[listing.find("  slow paths").unwrap()..];
    let texts: Vec<&str> = slow
        .lines()
        .skip(1)
        // The instruction's text, without the listing's note (`; error exit`).
        .map(|l| {
            l.get(45..)
                .unwrap_or("")
                .split("  ;")
                .next()
                .unwrap()
                .trim()
        })
        .collect();
    // Two stubs (stack overflow from the prologue: no frame; overflow at pc 2 — two
    // constants need no type check), then the exit path calling
    // `rt_raise(ctx, kind, func, pc)`.
    assert_eq!(texts.len(), 13, "{slow}");
    assert_eq!(
        &texts[..6],
        [
            "mov esi, 0x6",
            "mov ecx, -0x1",
            "jmp 0x73",
            "mov esi, 0x1",
            "mov ecx, 0x2",
            "jmp 0x73",
        ]
    );
    assert_eq!(&texts[6..8], ["mov rdi, r12", "mov edx, 0x0"]);
    // The helper's address changes from run to run: the listing names it.
    assert_eq!(texts[8], "mov r11, rt_raise", "{slow}");
    assert_eq!(&texts[9..], ["call r11", "mov rsp, rbp", "pop rbp", "ret"]);
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
