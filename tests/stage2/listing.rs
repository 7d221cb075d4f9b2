//! The disassembly helper: offsets, bytes and text of each instruction, a range of
//! the code, and the printed listing (the one the book shows).

use pretty_assertions::assert_eq;
use stage2::{disasm, disasm_range, listing, Assembler, Cond, Imm32, Reg};

/// `sum(n) = n + (n-1) + … + 1`, the loop the book prints.
fn sum_loop() -> Assembler {
    let mut a = Assembler::new();
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
    a
}

#[test]
fn lines_have_offsets_bytes_and_text() {
    let bytes = sum_loop().assemble().unwrap().bytes;
    let lines = disasm(&bytes, 0);
    let got: Vec<(usize, usize, &str)> = lines
        .iter()
        .map(|l| (l.offset, l.bytes.len(), l.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (0x00, 2, "xor eax, eax"),
            (0x02, 3, "test rdi, rdi"),
            (0x05, 6, "jle 0x14"),
            (0x0b, 3, "add rax, rdi"),
            (0x0e, 4, "sub rdi, 0x1"),
            (0x12, 2, "jmp short 0x2"),
            (0x14, 1, "ret"),
        ]
    );
    let joined: Vec<u8> = lines.iter().flat_map(|l| l.bytes.clone()).collect();
    assert_eq!(joined, bytes);
}

#[test]
fn the_printed_listing() {
    let code = sum_loop().finish().unwrap();
    let expected = "\
0000: 31 c0                          xor eax, eax
0002: 48 85 ff                       test rdi, rdi
0005: 0f 8e 09 00 00 00              jle 0x14
000b: 48 01 f8                       add rax, rdi
000e: 48 83 ef 01                    sub rdi, 0x1
0012: eb ee                          jmp short 0x2
0014: c3                             ret
";
    assert_eq!(code.listing(), expected);
    assert_eq!(listing(&code.disasm()), expected);
}

#[test]
fn a_range_keeps_offsets_from_the_start() {
    let bytes = sum_loop().assemble().unwrap().bytes;
    let lines = disasm_range(&bytes, 0x1000, 0x0b..0x12);
    let got: Vec<(usize, &str)> = lines.iter().map(|l| (l.offset, l.text.as_str())).collect();
    assert_eq!(got, [(0x0b, "add rax, rdi"), (0x0e, "sub rdi, 0x1")]);
}

#[test]
fn branch_targets_print_at_the_base_address() {
    let bytes = sum_loop().assemble().unwrap().bytes;
    let lines = disasm(&bytes, 0x7f00_0000_0000);
    assert_eq!(lines[5].text, "jmp short 0x7f0000000002");
}

#[test]
fn bytes_that_do_not_decode_are_marked() {
    let lines = disasm(&[0x0f, 0xff], 0);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].text, "(bad)");
}
