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

/// The listing up to its slow paths (which hold the runtime's absolute address).
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
fn main (arity 0, locals 0): 193 bytes of code
  prologue
        0014: 55                             push rbp
        0015: 48 89 e5                       mov rbp, rsp
        0018: 48 83 ec 10                    sub rsp, 0x10
        001c: 49 8b 04 24                    mov rax, qword ptr [r12]
        0020: 48 3d 10 27 00 00              cmp rax, 0x2710
        0026: 0f 83 62 00 00 00              jae 0x8e
        002c: 48 83 c0 01                    add rax, 0x1
        0030: 49 89 04 24                    mov qword ptr [r12], rax
        0034: 49 8b 44 24 08                 mov rax, qword ptr [r12+0x8]
        0039: 48 83 c0 01                    add rax, 0x1
        003d: 49 89 44 24 08                 mov qword ptr [r12+0x8], rax
     0  const 20
        0042: 48 c7 45 f8 28 00 00 00        mov qword ptr [rbp-0x8], 0x28
     1  const 22
        004a: 48 c7 45 f0 2c 00 00 00        mov qword ptr [rbp-0x10], 0x2c
     2  add
        0052: 48 8b 45 f8                    mov rax, qword ptr [rbp-0x8]
        0056: 48 8b 4d f0                    mov rcx, qword ptr [rbp-0x10]
        005a: 48 89 c2                       mov rdx, rax
        005d: 48 09 ca                       or rdx, rcx
        0060: f7 c2 01 00 00 00              test edx, 0x1
        0066: 0f 85 31 00 00 00              jne 0x9d
        006c: 48 01 c8                       add rax, rcx
        006f: 0f 80 37 00 00 00              jo 0xac
        0075: 48 89 45 f8                    mov qword ptr [rbp-0x8], rax
     3  return
        0079: 48 8b 45 f8                    mov rax, qword ptr [rbp-0x8]
        007d: 49 8b 0c 24                    mov rcx, qword ptr [r12]
        0081: 48 83 e9 01                    sub rcx, 0x1
        0085: 49 89 0c 24                    mov qword ptr [r12], rcx
        0089: 48 89 ec                       mov rsp, rbp
        008c: 5d                             pop rbp
        008d: c3                             ret
";
    if std::env::var("GOLDEN_PRINT").is_ok() {
        println!("{listing}");
    }
    pretty_assertions::assert_eq!(up_to_slow_paths(&listing), expected);
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
        .map(|l| l.get(45..).unwrap_or("").trim())
        .collect();
    // Three stubs (stack overflow from the prologue: no frame; type error and
    // overflow at pc 2), then the exit path calling `rt_raise(ctx, kind, func, pc)`.
    assert_eq!(texts.len(), 16, "{slow}");
    assert_eq!(
        &texts[..9],
        [
            "mov esi, 0x6",
            "mov ecx, -0x1",
            "jmp 0xbb",
            "mov esi, 0x3",
            "mov ecx, 0x2",
            "jmp 0xbb",
            "mov esi, 0x1",
            "mov ecx, 0x2",
            "jmp 0xbb",
        ]
    );
    assert_eq!(&texts[9..11], ["mov rdi, r12", "mov edx, 0x0"]);
    assert!(texts[11].starts_with("mov r11, 0x"), "{slow}");
    assert_eq!(&texts[12..], ["call r11", "mov rsp, rbp", "pop rbp", "ret"]);
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
