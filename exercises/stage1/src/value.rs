//! Values: every Mini value is one 64-bit word.
//!
//! The low bits of the word say what it is:
//!
//! ```text
//!   ...xxxxxxx0   integer n, stored as n << 1 (63-bit signed)
//!   ...pppppp001  array:    pointer to an ArrayHeader, plus 1
//!   ...pppppp011  object:   pointer to an Object, plus 3
//!   ...iiiiii101  function: function index << 3, plus 5
//! ```
//!
//! Integers carry a zero tag so that adding or subtracting two tagged words gives the
//! tagged sum, and 64-bit signed overflow of that sum is exactly 63-bit overflow of the
//! integers: native code adds the words and tests the overflow flag (`jo`). Heap
//! references point at 8-byte aligned memory, leaving the three low bits for the tag.
//! Because every kind of value is a unique word, `==` on values is `==` on words.
//!
//! Every fact of the encoding that native code relies on is a named constant here
//! (tags, shifts, the error word, array offsets), and the `const` assertions below tie
//! them together, so a change that would break a template fails to compile.
//!
//! Who may make which word: integers and function values are safe to make from
//! anything ([`Value::int`], [`Value::function`], [`Value::from_int_word`]); a word
//! with an array or object tag comes only from a [`Heap`](crate::heap::Heap) or from
//! the `unsafe` [`Value::from_bits`], whose caller promises it is one that heap made.

use std::fmt;

/// The smallest Mini integer, −2^62.
pub const INT_MIN: i64 = -(1 << 62);
/// The largest Mini integer, 2^62 − 1.
pub const INT_MAX: i64 = (1 << 62) - 1;

/// Mask of the three low bits that tell heap values apart.
pub const TAG_MASK: u64 = 0b111;
/// Low bit of an integer (the other heap tags all have this bit set).
pub const INT_TAG_MASK: u64 = 0b1;
/// Tag of an array reference.
pub const ARRAY_TAG: u64 = 0b001;
/// Tag of an object reference.
pub const OBJECT_TAG: u64 = 0b011;
/// Tag of a function value.
pub const FUNCTION_TAG: u64 = 0b101;

/// How far an integer is shifted left in its word: `word = n << INT_SHIFT`.
pub const INT_SHIFT: u32 = 1;
/// How far a function index is shifted left in its word:
/// `word = index << FUNCTION_SHIFT | FUNCTION_TAG`.
pub const FUNCTION_SHIFT: u32 = 3;
/// The word a failing runtime helper or native function returns instead of a value:
/// tag `0b111`, which no value has (see [`Value::kind`]).
pub const ERROR_WORD: u64 = 0b111;

/// Byte offset of an array's length (a plain `u64`) from its untagged pointer.
pub const ARRAY_LEN_OFFSET: i32 = 0;
/// Byte offset of an array's first element from its untagged pointer.
pub const ARRAY_ELEMS_OFFSET: i32 = 8;

// The encoding's facts that native code builds on, checked when this compiles.
const _: () = {
    // Integers have a zero tag, so tagged words add and subtract as they are.
    assert!(INT_TAG_MASK == (1 << INT_SHIFT) - 1);
    assert!(INT_MAX == i64::MAX >> INT_SHIFT && INT_MIN == i64::MIN >> INT_SHIFT);
    // Every heap tag has the integer bit set, and fits under the mask.
    assert!(ARRAY_TAG & INT_TAG_MASK != 0 && OBJECT_TAG & INT_TAG_MASK != 0);
    assert!(FUNCTION_TAG & INT_TAG_MASK != 0);
    assert!(ARRAY_TAG & !TAG_MASK == 0 && OBJECT_TAG & !TAG_MASK == 0);
    assert!(FUNCTION_TAG & !TAG_MASK == 0 && TAG_MASK == (1 << FUNCTION_SHIFT) - 1);
    // The error word is no value: not an integer, and none of the three heap tags.
    assert!(ERROR_WORD & INT_TAG_MASK != 0 && ERROR_WORD & !TAG_MASK == 0);
    assert!(ERROR_WORD != ARRAY_TAG && ERROR_WORD != OBJECT_TAG && ERROR_WORD != FUNCTION_TAG);
    // An array is its length word, then its elements, one word each.
    assert!(ARRAY_LEN_OFFSET == 0 && ARRAY_ELEMS_OFFSET == 8);
    assert!(std::mem::size_of::<Value>() == 8);
};

/// What kind of value a word holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    Array,
    Object,
    Function,
}

/// A Mini value: one tagged 64-bit word (see the module docs for the encoding).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Value(u64);

impl Value {
    /// The integer 0, which is also the false of conditions.
    pub const ZERO: Value = Value(0);
    /// The integer 1, the true that comparisons give.
    pub const ONE: Value = Value(2);

    /// The integer `n`, which must lie in `INT_MIN..=INT_MAX`.
    #[inline(always)]
    pub const fn int(n: i64) -> Value {
        debug_assert!(n >= INT_MIN && n <= INT_MAX);
        Value((n << INT_SHIFT) as u64)
    }

    /// The integer `n`, or `None` when it does not fit in 63 bits.
    #[inline(always)]
    pub const fn try_int(n: i64) -> Option<Value> {
        if n >= INT_MIN && n <= INT_MAX {
            Some(Value((n << INT_SHIFT) as u64))
        } else {
            None
        }
    }

    /// 1 for true, 0 for false: what comparisons and `!` give.
    #[inline(always)]
    pub const fn bool(b: bool) -> Value {
        Value((b as u64) << INT_SHIFT)
    }

    /// The function value of function `index`.
    #[inline(always)]
    pub const fn function(index: u32) -> Value {
        Value(((index as u64) << FUNCTION_SHIFT) | FUNCTION_TAG)
    }

    /// The integer whose tagged word is `word` (an integer's word is even: this
    /// clears the tag bit, so the result is an integer whatever `word` is). For
    /// arithmetic on tagged words, which keeps the tag bit 0 by itself.
    #[inline(always)]
    pub const fn from_int_word(word: i64) -> Value {
        Value(word as u64 & !INT_TAG_MASK)
    }

    /// Rebuilds a value from its raw word, as native code hands it back.
    ///
    /// # Safety
    /// `bits` is a word some `Value` had (an integer, a function value, or a heap
    /// reference), and when it has an array or object tag, the heap that made it is
    /// alive and is the one the value will be used with: the heap's methods trust
    /// that (see [`Heap`](crate::heap::Heap)). [`ERROR_WORD`] is not a value.
    ///
    /// Safe code cannot forge a heap reference, which the heap would then follow:
    ///
    /// ```compile_fail,E0133
    /// # use stage1_solution as stage1;
    /// let mut heap = stage1::heap::Heap::new(1 << 20);
    /// let forged = stage1::Value::from_bits(0x1001); // an "array" at 0x1000
    /// let _ = heap.array_len(forged);
    /// ```
    #[inline(always)]
    pub const unsafe fn from_bits(bits: u64) -> Value {
        Value(bits)
    }

    /// The raw word, as native code sees it.
    #[inline(always)]
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// True when the value is an integer.
    #[inline(always)]
    pub const fn is_int(self) -> bool {
        self.0 & INT_TAG_MASK == 0
    }

    /// The integer in the value; meaningful only when `is_int()`.
    #[inline(always)]
    pub const fn as_int(self) -> i64 {
        (self.0 as i64) >> INT_SHIFT
    }

    /// The integer, or `None` for a heap value.
    #[inline(always)]
    pub const fn to_int(self) -> Option<i64> {
        if self.is_int() {
            Some(self.as_int())
        } else {
            None
        }
    }

    /// The function index, or `None` when the value is not a function.
    #[inline(always)]
    pub const fn to_function(self) -> Option<u32> {
        if self.0 & TAG_MASK == FUNCTION_TAG {
            Some((self.0 >> FUNCTION_SHIFT) as u32)
        } else {
            None
        }
    }

    /// What kind of value this is.
    #[inline(always)]
    pub const fn kind(self) -> Kind {
        if self.is_int() {
            return Kind::Int;
        }
        match self.0 & TAG_MASK {
            ARRAY_TAG => Kind::Array,
            OBJECT_TAG => Kind::Object,
            _ => Kind::Function,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            Kind::Int => write!(f, "Int({})", self.as_int()),
            Kind::Array => write!(f, "Array({:#x})", self.0 & !TAG_MASK),
            Kind::Object => write!(f, "Object({:#x})", self.0 & !TAG_MASK),
            Kind::Function => write!(f, "Function({})", self.0 >> FUNCTION_SHIFT),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_at_the_edges() {
        for n in [0, 1, -1, INT_MIN, INT_MAX, 12345, -98765] {
            let v = Value::int(n);
            assert!(v.is_int());
            assert_eq!(v.as_int(), n);
            assert_eq!(v.kind(), Kind::Int);
        }
        assert_eq!(Value::try_int(INT_MAX + 1), None);
        assert_eq!(Value::try_int(INT_MIN - 1), None);
    }

    #[test]
    fn tagged_addition_overflows_exactly_when_the_integers_do() {
        let (a, b) = (Value::int(INT_MAX), Value::int(1));
        assert!((a.bits() as i64).checked_add(b.bits() as i64).is_none());
        let (a, b) = (Value::int(INT_MAX - 1), Value::int(1));
        let sum = (a.bits() as i64).checked_add(b.bits() as i64).unwrap();
        assert_eq!(Value::from_int_word(sum).as_int(), INT_MAX);
    }

    #[test]
    fn functions_are_their_own_kind() {
        let f = Value::function(7);
        assert_eq!(f.kind(), Kind::Function);
        assert_eq!(f.to_function(), Some(7));
        assert_eq!(Value::int(7).to_function(), None);
    }
}
