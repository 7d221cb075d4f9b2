//! Labels and fixups: forward and backward jumps, many uses of one label, a label
//! bound at the very end, the rel8/rel32 choice, and the errors for misused labels.

use super::common::{decode_all, hex};
use pretty_assertions::assert_eq;
use stage2::{AsmError, Assembler, Cond, Reg};

#[test]
fn forward_jump_is_rel32_fixed_up() {
    let mut a = Assembler::new();
    let end = a.new_label();
    a.jmp(end);
    a.nop();
    a.nop();
    a.nop();
    a.bind(end);
    a.ret();
    let code = a.assemble().unwrap();
    // jmp 0x8 (rel32 = 3, from the end of the jmp at 5 to the ret at 8)
    assert_eq!(hex(&code.bytes), "e9 03 00 00 00 90 90 90 c3");
    assert_eq!(code.label_offset(end), Some(8));
}

#[test]
fn backward_jump_in_reach_is_rel8() {
    let mut a = Assembler::new();
    let top = a.new_label();
    a.bind(top);
    a.nop();
    a.jmp(top);
    // jmp short 0x0: rel8 = -3 from the end of the jmp at 3
    assert_eq!(hex(&a.assemble().unwrap().bytes), "90 eb fd");
}

#[test]
fn rel8_exactly_to_its_limit_then_rel32() {
    for (nops, want) in [(126, "jmp short 0x0"), (127, "jmp 0x0")] {
        let mut a = Assembler::new();
        let top = a.new_label();
        a.bind(top);
        for _ in 0..nops {
            a.nop();
        }
        a.jmp(top);
        let bytes = a.assemble().unwrap().bytes;
        // With 126 nops the rel8 is -128, the farthest a short jump reaches.
        assert_eq!(
            decode_all(&bytes).last().unwrap(),
            want,
            "after {nops} nops"
        );
        let jmp_len = bytes.len() - nops;
        assert_eq!(jmp_len, if nops == 126 { 2 } else { 5 });
    }
}

#[test]
fn backward_jcc_out_of_reach_is_rel32() {
    let mut a = Assembler::new();
    let top = a.new_label();
    a.bind(top);
    for _ in 0..200 {
        a.nop();
    }
    a.jcc(Cond::NE, top);
    let bytes = a.assemble().unwrap().bytes;
    // jne 0x0: 0f 85 and rel32 = -206
    assert_eq!(hex(&bytes[200..]), "0f 85 32 ff ff ff");
    assert_eq!(decode_all(&bytes).last().unwrap(), "jne 0x0");
}

#[test]
fn many_fixups_to_one_label_bound_at_the_end() {
    let mut a = Assembler::new();
    let end = a.new_label();
    for i in 0..100 {
        match i % 3 {
            0 => a.jmp(end),
            1 => a.jcc(Cond::ALL[i % 16], end),
            _ => a.call(end),
        }
    }
    let at = a.offset();
    a.bind(end);
    let code = a.assemble().unwrap();
    assert_eq!(code.label_offset(end), Some(at));
    assert_eq!(
        code.bytes.len(),
        at,
        "the label is bound after the last byte"
    );
    let texts = decode_all(&code.bytes);
    assert_eq!(texts.len(), 100);
    for t in texts {
        assert!(
            t.ends_with(&format!(" 0x{at:x}")),
            "{t} should target 0x{at:x}"
        );
    }
}

#[test]
fn labels_before_and_after_use_mix() {
    // A loop: the back-edge uses a bound label, the exit a label bound later.
    let mut a = Assembler::new();
    let (top, done) = (a.new_label(), a.new_label());
    a.bind(top);
    a.test(Reg::RDI, Reg::RDI);
    a.jcc(Cond::E, done);
    a.sub(Reg::RDI, stage2::Imm32(1));
    a.jmp(top);
    a.bind(done);
    a.ret();
    let code = a.assemble().unwrap();
    assert_eq!(
        decode_all(&code.bytes),
        [
            "test rdi, rdi",
            "je 0xf",
            "sub rdi, 0x1",
            "jmp short 0x0",
            "ret"
        ]
    );
    assert_eq!(code.label_offset(top), Some(0));
    assert_eq!(code.label_offset(done), Some(0xf)); // 3 + 6 + 4 + 2 bytes
}

#[test]
fn unbound_label_is_an_error() {
    let mut a = Assembler::new();
    let nowhere = a.new_label();
    a.nop();
    a.jcc(Cond::O, nowhere);
    let err = a.assemble().unwrap_err();
    assert_eq!(
        err,
        AsmError::UnboundLabel {
            label: nowhere,
            used_at: 3
        }
    );
    assert_eq!(
        err.to_string(),
        "label L0 is used (first at offset 0x3) but never bound"
    );
}

#[test]
fn unbound_label_fails_finish_too() {
    let mut a = Assembler::new();
    let nowhere = a.new_label();
    a.call(nowhere);
    a.ret();
    assert!(matches!(
        a.finish(),
        Err(AsmError::UnboundLabel { label, used_at: 1 }) if label == nowhere
    ));
}

#[test]
fn a_label_never_used_nor_bound_is_fine() {
    let mut a = Assembler::new();
    let unused = a.new_label();
    a.ret();
    let code = a.assemble().unwrap();
    assert_eq!(code.label_offset(unused), None);
    assert_eq!(code.bytes, [0xC3]);
}

#[test]
fn binding_twice_is_an_error() {
    let mut a = Assembler::new();
    let l = a.new_label();
    a.bind(l);
    a.nop();
    a.bind(l);
    assert_eq!(
        a.assemble().unwrap_err(),
        AsmError::LabelBoundTwice {
            label: l,
            first: 0,
            second: 1
        }
    );
}

#[test]
fn a_label_of_another_assembler_is_an_error() {
    let mut other = Assembler::new();
    other.new_label();
    let foreign = other.new_label();
    let mut a = Assembler::new();
    a.jmp(foreign);
    assert_eq!(
        a.assemble().unwrap_err(),
        AsmError::ForeignLabel { label: foreign }
    );
}
