//! The operators on values: arithmetic, division, comparisons and truth.
//!
//! Each works on tagged words (see `value.rs`): integers are `n << 1`, so adding or
//! subtracting two tagged words gives the tagged result, and the 64-bit overflow of that
//! word is exactly the 63-bit overflow of the integers. The dispatch loop calls these
//! with a constant `Instr`, so after inlining each `match` folds to its one arm.

use crate::bytecode::Instr;
use crate::error::ErrorKind;
use crate::value::Value;

/// `a + b`, `a - b` or `a * b` for `op` in `Add`, `Sub`, `Mul` (`-a` is `0 - a`):
/// `type error` unless both are integers, `integer overflow` past 63 bits.
#[inline(always)]
pub fn arith(op: Instr, a: Value, b: Value) -> Result<Value, ErrorKind> {
    // exercise-begin: arith add, subtract or multiply two tagged integers, with overflow checks
    if !(a.is_int() && b.is_int()) {
        return Err(ErrorKind::TypeError);
    }
    let (x, y) = (a.bits() as i64, b.bits() as i64);
    let word = match op {
        Instr::Add => x.checked_add(y),
        Instr::Sub => x.checked_sub(y),
        // (2a) * b = 2(ab): one tagged operand times one plain integer.
        Instr::Mul => x.checked_mul(b.as_int()),
        _ => unreachable!("arith of {op:?}"),
    };
    // SAFETY: both words are even (integers), and so are their sum, difference and
    // their product with an integer: the result is an integer's word. (The safe
    // `Value::from_int_word` would clear the tag bit again, which the compiler cannot
    // prove clear: 2% more instructions on the loop kernel.)
    word.map(|w| unsafe { Value::from_bits(w as u64) })
        .ok_or(ErrorKind::IntegerOverflow)
    // exercise-end
}

/// `a / b` or `a % b` for `op` in `Div`, `Mod`, truncating like Rust: `type error`
/// unless both are integers, `division by zero`, and `MIN / -1` overflows (`MIN % -1`
/// is 0).
#[inline(always)]
pub fn divmod(op: Instr, a: Value, b: Value) -> Result<Value, ErrorKind> {
    // exercise-begin: divmod divide or take the remainder, with division by zero and MIN / -1
    if !(a.is_int() && b.is_int()) {
        return Err(ErrorKind::TypeError);
    }
    let (x, y) = (a.as_int(), b.as_int());
    if y == 0 {
        return Err(ErrorKind::DivisionByZero);
    }
    // 63-bit integers cannot overflow i64 here; only MIN / -1 = 2^62 leaves 63 bits.
    let n = match op {
        Instr::Div => x / y,
        Instr::Mod => x % y,
        _ => unreachable!("divmod of {op:?}"),
    };
    Value::try_int(n).ok_or(ErrorKind::IntegerOverflow)
    // exercise-end
}

/// `a OP b` for the comparisons `Lt`, `Le`, `Gt`, `Ge` (integers only, else
/// `type error`) and `Eq`, `Ne` (any values, compared as words): 1 or 0.
#[inline(always)]
pub fn compare(op: Instr, a: Value, b: Value) -> Result<Value, ErrorKind> {
    // exercise-begin: compare compare two values, giving 0 or 1; order only integers
    if let Instr::Eq | Instr::Ne = op {
        return Ok(Value::bool((a == b) == (op == Instr::Eq)));
    }
    if !(a.is_int() && b.is_int()) {
        return Err(ErrorKind::TypeError);
    }
    // Tagging (n << 1) keeps the order, so the words compare like the integers.
    let (x, y) = (a.bits() as i64, b.bits() as i64);
    let r = match op {
        Instr::Lt => x < y,
        Instr::Le => x <= y,
        Instr::Gt => x > y,
        Instr::Ge => x >= y,
        _ => unreachable!("compare of {op:?}"),
    };
    Ok(Value::bool(r))
    // exercise-end
}

/// The truth of a condition (`if`, `while`, `!`, `&&`, `||`): an integer is true
/// when it is not 0; a heap value is a `type error`.
#[inline(always)]
pub fn truth(v: Value) -> Result<bool, ErrorKind> {
    if v.is_int() {
        Ok(v != Value::ZERO)
    } else {
        Err(ErrorKind::TypeError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{INT_MAX, INT_MIN};

    fn int(n: i64) -> Value {
        Value::int(n)
    }

    const HEAPISH: Value = Value::function(3);

    #[test]
    fn arithmetic_on_integers() {
        assert_eq!(arith(Instr::Add, int(2), int(-5)), Ok(int(-3)));
        assert_eq!(arith(Instr::Sub, int(2), int(-5)), Ok(int(7)));
        assert_eq!(arith(Instr::Mul, int(-6), int(7)), Ok(int(-42)));
        assert_eq!(arith(Instr::Mul, int(INT_MIN), int(1)), Ok(int(INT_MIN)));
        assert_eq!(arith(Instr::Sub, int(0), int(INT_MAX)), Ok(int(-INT_MAX)));
    }

    #[test]
    fn arithmetic_overflows_past_63_bits() {
        let overflow = Err(ErrorKind::IntegerOverflow);
        assert_eq!(arith(Instr::Add, int(INT_MAX), int(1)), overflow);
        assert_eq!(arith(Instr::Sub, int(INT_MIN), int(1)), overflow);
        assert_eq!(arith(Instr::Mul, int(1 << 31), int(1 << 31)), overflow);
        assert_eq!(arith(Instr::Mul, int(INT_MIN), int(-1)), overflow);
        // Negation is 0 - a: -MIN overflows.
        assert_eq!(arith(Instr::Sub, int(0), int(INT_MIN)), overflow);
    }

    #[test]
    fn arithmetic_rejects_heap_values() {
        assert_eq!(
            arith(Instr::Add, HEAPISH, int(1)),
            Err(ErrorKind::TypeError)
        );
        assert_eq!(
            arith(Instr::Mul, int(1), HEAPISH),
            Err(ErrorKind::TypeError)
        );
    }

    #[test]
    fn division_truncates_like_rust() {
        assert_eq!(divmod(Instr::Div, int(7), int(-2)), Ok(int(-3)));
        assert_eq!(divmod(Instr::Div, int(-7), int(2)), Ok(int(-3)));
        assert_eq!(divmod(Instr::Mod, int(-7), int(2)), Ok(int(-1)));
        assert_eq!(divmod(Instr::Mod, int(7), int(-2)), Ok(int(1)));
    }

    #[test]
    fn division_errors() {
        assert_eq!(
            divmod(Instr::Div, int(1), int(0)),
            Err(ErrorKind::DivisionByZero)
        );
        assert_eq!(
            divmod(Instr::Mod, int(1), int(0)),
            Err(ErrorKind::DivisionByZero)
        );
        assert_eq!(
            divmod(Instr::Div, int(INT_MIN), int(-1)),
            Err(ErrorKind::IntegerOverflow)
        );
        assert_eq!(divmod(Instr::Mod, int(INT_MIN), int(-1)), Ok(int(0)));
        assert_eq!(
            divmod(Instr::Div, HEAPISH, int(0)),
            Err(ErrorKind::TypeError)
        );
    }

    #[test]
    fn comparisons_give_zero_or_one() {
        let cases = [
            (Instr::Lt, [1, 0, 0]),
            (Instr::Le, [1, 1, 0]),
            (Instr::Gt, [0, 0, 1]),
            (Instr::Ge, [0, 1, 1]),
            (Instr::Eq, [0, 1, 0]),
            (Instr::Ne, [1, 0, 1]),
        ];
        for (op, expect) in cases {
            for (b, e) in [-3, -4, -5].into_iter().zip(expect) {
                assert_eq!(compare(op, int(-4), int(b)), Ok(int(e)), "-4 {op:?} {b}");
            }
        }
        assert_eq!(compare(Instr::Lt, int(INT_MIN), int(INT_MAX)), Ok(int(1)));
    }

    #[test]
    fn equality_compares_words_and_order_rejects_heap_values() {
        assert_eq!(compare(Instr::Eq, HEAPISH, HEAPISH), Ok(int(1)));
        assert_eq!(compare(Instr::Eq, HEAPISH, int(3)), Ok(int(0)));
        assert_eq!(compare(Instr::Ne, int(3), HEAPISH), Ok(int(1)));
        assert_eq!(
            compare(Instr::Lt, HEAPISH, HEAPISH),
            Err(ErrorKind::TypeError)
        );
        assert_eq!(
            compare(Instr::Ge, int(1), HEAPISH),
            Err(ErrorKind::TypeError)
        );
    }

    #[test]
    fn truth_takes_integers_only() {
        assert_eq!(truth(int(0)), Ok(false));
        assert_eq!(truth(int(-1)), Ok(true));
        assert_eq!(truth(HEAPISH), Err(ErrorKind::TypeError));
    }
}
