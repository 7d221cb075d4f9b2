//! Constant folding under Mini's exact semantics: what each integer instruction gives
//! on known integers, or `None` when it would raise a runtime error.
//!
//! `None` is the whole point: `1 / 0`, `INT_MAX + 1`, `-INT_MIN` and `INT_MIN / -1`
//! are not values, and folding them to anything (a wrapped integer, a panic, a
//! compile-time error) would change what the program does. The instruction stays, and
//! raises its error when and where the interpreter does, after every earlier print.
//! These functions are the interpreter's `ops.rs` on plain integers, with the 63-bit
//! range checked explicitly (`i64` arithmetic alone would accept `2^62`).

use stage1::value::{INT_MAX, INT_MIN};

use crate::ir::{BinOp, CmpOp};

/// `n` when it is a Mini integer (63 bits), else `None`.
pub fn int(n: i64) -> Option<i64> {
    (INT_MIN..=INT_MAX).contains(&n).then_some(n)
}

/// `a op b` on two integers, or `None` when it raises `integer overflow` or
/// `division by zero`.
pub fn binary(op: BinOp, a: i64, b: i64) -> Option<i64> {
    todo!(
        "fold-binary: fold a op b exactly as the interpreter computes it, or None when it would fail (overflow past 63 bits, division by zero) — book §4.10"
    )
}

/// `-a`, or `None` for `-INT_MIN`.
pub fn neg(a: i64) -> Option<i64> {
    int(-a)
}

/// `!a`: 1 when `a` is 0, else 0.
pub fn not(a: i64) -> i64 {
    (a == 0) as i64
}

/// `a op b` on two integers: 0 or 1.
pub fn compare(op: CmpOp, a: i64, b: i64) -> i64 {
    let r = match op {
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
    };
    r as i64
}

/// `shl a, k`: `a * 2^k`, or `None` on overflow.
pub fn shl(a: i64, k: u32) -> Option<i64> {
    int(a.checked_mul(1i64.checked_shl(k)?)?)
}

/// `sar a, k`: `floor(a / 2^k)`.
pub fn sar(a: i64, k: u32) -> i64 {
    a >> k.min(63)
}

/// `mul_high a, m`: the high word of the 128-bit product.
pub fn mul_high(a: i64, m: i64) -> i64 {
    ((i128::from(a) * i128::from(m)) >> 64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_expressions_do_not_fold() {
        assert_eq!(binary(BinOp::Add, INT_MAX, 1), None);
        assert_eq!(binary(BinOp::Sub, INT_MIN, 1), None);
        assert_eq!(binary(BinOp::Mul, 1 << 31, 1 << 31), None);
        assert_eq!(binary(BinOp::Div, 1, 0), None);
        assert_eq!(binary(BinOp::Mod, 1, 0), None);
        assert_eq!(binary(BinOp::Div, INT_MIN, -1), None);
        assert_eq!(neg(INT_MIN), None);
        assert_eq!(shl(1, 62), None);
    }

    #[test]
    fn the_boundaries_fold() {
        assert_eq!(binary(BinOp::Add, INT_MAX - 1, 1), Some(INT_MAX));
        assert_eq!(binary(BinOp::Mod, INT_MIN, -1), Some(0));
        assert_eq!(binary(BinOp::Div, -7, 2), Some(-3));
        assert_eq!(binary(BinOp::Mod, -7, 2), Some(-1));
        assert_eq!(neg(INT_MAX), Some(-INT_MAX));
        assert_eq!(shl(-1, 62), Some(INT_MIN));
        assert_eq!(sar(-1, 63), -1);
        assert_eq!(mul_high(1 << 62, 1 << 62), 1 << 60);
    }
}
