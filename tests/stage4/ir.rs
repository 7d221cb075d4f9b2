//! The IR's own structure: values, blocks and the orders passes walk.

use stage4::ir::{BlockCall, Function, Op, Terminator, Value, ValueDef, ENTRY};

/// A loop `b1` that jumps back to itself through `b2`, and an exit `b3`.
fn counting_loop() -> Function {
    let mut f = Function::new("count", 0);
    let entry = f.new_block(0);
    let n = f.add_param(entry);
    let header = f.new_block(2);
    let i = f.add_param(header);
    let body = f.new_block(5);
    let exit = f.new_block(9);
    let zero = f.push(entry, Op::Const(0), 0).unwrap();
    f.terminate(
        entry,
        Terminator::Jump(BlockCall {
            block: header,
            args: vec![zero],
        }),
    );
    let more = f
        .push(header, Op::Compare(stage4::ir::CmpOp::Lt, i, n), 3)
        .unwrap();
    f.terminate(
        header,
        Terminator::Branch {
            cond: more,
            then: BlockCall {
                block: body,
                args: vec![],
            },
            else_: BlockCall {
                block: exit,
                args: vec![],
            },
        },
    );
    let one = f.push(body, Op::Const(1), 5).unwrap();
    let next = f
        .push(body, Op::Binary(stage4::ir::BinOp::Add, i, one), 6)
        .unwrap();
    f.terminate(
        body,
        Terminator::Jump(BlockCall {
            block: header,
            args: vec![next],
        }),
    );
    f.terminate(exit, Terminator::Return(i));
    f
}

#[test]
fn a_loop_header_has_the_entry_and_the_back_edge_as_predecessors() {
    let f = counting_loop();
    let preds = f.predecessors();
    assert_eq!(preds[1].len(), 2, "{preds:?}");
    assert!(preds[1].contains(&ENTRY));
    let order = f.reverse_postorder();
    assert_eq!(order.first(), Some(&ENTRY));
    assert_eq!(order.len(), 4);
    let header_at = order.iter().position(|b| b.0 == 1).unwrap();
    let body_at = order.iter().position(|b| b.0 == 2).unwrap();
    assert!(header_at < body_at, "{order:?}");
}

#[test]
fn block_parameters_are_values() {
    let f = counting_loop();
    assert_eq!(f.def(Value(1)), ValueDef::Param(stage4::ir::Block(1), 0));
    assert_eq!(f.arity(), 1);
}
