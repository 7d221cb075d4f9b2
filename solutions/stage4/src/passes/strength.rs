//! Strength reduction: multiplication, division and remainder by a constant without
//! `imul`'s overflow check where it is not needed and without `idiv` at all.
//!
//! **What it proves**: each rewrite gives exactly what the interpreter gives — the same
//! integer, and the same error in the same cases — for every 63-bit dividend. It works
//! on the *integers* (the reduced ops of [`Op`] are defined on them, not on tagged
//! words), with dividends `|x| <= 2^62`:
//!
//! - `x * 0` is 0 and `x * 1` is `x` (the operand is a checked integer, so neither can
//!   fail), `x * -1` is `neg x` (overflowing exactly for `MIN`, as the multiply
//!   would), `x * 2` is `add x, x`, `x * 2^k` is `shl x, k` (overflow checked).
//! - `x / 1` is `x`; `x / -1` is `neg x`, which overflows exactly for `MIN`, like
//!   `MIN / -1`. `x % 1` and `x % -1` are 0 (`MIN % -1` is 0 too). A zero divisor is
//!   left alone: it fails at run time.
//! - `x / 2^k` truncates toward zero: `sar` rounds toward minus infinity, so a
//!   negative `x` first gets `2^k - 1` added (the *bias*, `and (sar x, 63), 2^k-1`).
//!   A dividend proved non-negative (`passes::signs`) needs no bias: `sar x, k`.
//! - `x / d` for any other `d` is the magic-number multiply of Granlund and Montgomery
//!   ("Division by Invariant Integers using Multiplication", 1994; Hacker's Delight
//!   §10): with `s = ceil(log2 |d|)` and `m = ceil(2^(62+s) / |d|)`,
//!   `floor(x * m / 2^(62+s))` is `floor(x / |d|)` for `0 <= x <= 2^62`, and one less
//!   than `trunc(x / |d|)` for negative `x`, so `q = floor(x * m / 2^(62+s)) - sar(x,
//!   63)`. Why: `m * |d| = 2^(62+s) + e` with `0 < e < |d| <= 2^s`, so `x * m /
//!   2^(62+s) = x/|d| + x*e / (|d| 2^(62+s))`, and the error term is below `1/|d|`
//!   (as `|x| * e < 2^62 * 2^s`): it never crosses an integer. 63-bit dividends are
//!   what make `m < 2^63` fit a signed word (64-bit division needs a 65-bit magic
//!   and an extra add). A negative `d` negates the quotient, which cannot overflow.
//!   A non-negative dividend drops the `- sar(x, 63)`.
//! - `x % d` is `x - (x / |d|) * |d|` (the remainder has the sign of `x`); for a
//!   non-negative `x` and `|d| = 2^k` it is `x & (2^k - 1)`. Compared with 0 and
//!   `|d| = 2^k`, it is `x & (2^k - 1)` compared with 0, for either sign of `x` (the
//!   low `k` bits of a two's complement integer are zero exactly when `2^k` divides
//!   it).
//!
//! The magic-number quotient and remainder are one instruction each,
//! [`Op::MagicDiv`], rather than a sequence of reduced ones: each reduced op gives an
//! integer, which the code generator keeps tagged (`2x`), so a sequence would untag
//! and re-tag at every step — five extra instructions on the path from the dividend
//! to the remainder, which in a loop-carried chain like `x = (x * 75 + 74) % 65537`
//! is latency on every iteration. As one instruction, the code generator works on the
//! tagged word itself: the high word of `2x * m` is `floor(x * m / 2^63)`, so `q` is
//! that shifted right by `s - 1` — a plain machine word, never tagged — and the
//! remainder is `2x - q * 2|d|`, the tagged `x - q|d|` with no tag operation at all
//! ([`magic_word`] is that computation, step for step).
//!
//! The sequences are written once, against [`Sink`]: the pass emits them as IR, and
//! [`Model`] evaluates them on integers (an [`Op::MagicDiv`] through [`magic_word`],
//! on the tagged word, as the code generator computes it), so the property tests
//! check the exact instructions the code generator gets.

use crate::ir::{BinOp, CmpOp, FastMap, Function, Inst, Magic, Op, Pc, Value};

use super::{fold, signs, Analyses, PassStats};

/// The operations of the reduced sequences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduced<V> {
    Const(i64),
    Sar(V, u32),
    And(V, i64),
    Magic(V, Magic),
    IAdd(V, V),
    ISub(V, V),
    IMul(V, i64),
}

/// Where a reduced sequence goes: into the IR, or into an evaluation.
pub trait Sink {
    /// What a value is to this sink.
    type V: Copy;
    /// Adds one operation and gives its result.
    fn emit(&mut self, op: Reduced<Self::V>) -> Self::V;
}

/// The magic number and shift for dividing by `d` (`3 <= d <= 2^62`, not a power of
/// two): `(m, s)` with `s = ceil(log2 d)` and `m = ceil(2^(62+s) / d) < 2^63`.
pub fn magic(d: u64) -> (i64, u32) {
    debug_assert!(d >= 3 && !d.is_power_of_two());
    let s = 64 - (d - 1).leading_zeros();
    let m = (1u128 << (62 + s)).div_ceil(u128::from(d));
    (i64::try_from(m).expect("m < 2^63 for 63-bit dividends"), s)
}

/// The result of [`Op::MagicDiv`] as the code generator computes it, on the tagged
/// word `2x` of the dividend, one step per instruction of its lowering
/// (`codegen::lower`), giving the tagged word of the result. The intermediate
/// quotient is a plain (untagged) word; the arithmetic wraps as the machine's does.
pub fn magic_word(word: i64, op: Magic) -> i64 {
    let (m, s) = magic(op.divisor as u64);
    // `imul m` (one operand): rdx = the high word of 2x * m = floor(x * m / 2^63).
    let high = fold::mul_high(word, m);
    // `sar rdx, s - 1`: floor(x * m / 2^(62+s)), untagged: one less than the
    // quotient when x < 0.
    let q = high >> (s - 1);
    // The sign mask of the dividend (`sar r11, 63`): 0, or -1 when x < 0.
    let sign = word >> 63;
    let d2 = op.divisor.wrapping_mul(2);
    if op.remainder {
        // `imul rdx, 2d`.
        let product = q.wrapping_mul(d2);
        // The fix on the dividend, not on q: `and r11, -2d`, `add` to the word.
        let base = if op.nonneg {
            word
        } else {
            word.wrapping_add(sign & d2.wrapping_neg())
        };
        // `sub`: 2x (- 2d) - 2qd = 2(x - (q (+ 1)) d), the remainder tagged.
        base.wrapping_sub(product)
    } else {
        // `sub rdx, r11`: one more when x < 0.
        let q = if op.nonneg { q } else { q.wrapping_sub(sign) };
        // `add rdx, rdx`: the quotient tagged, the one tag operation of the division.
        q.wrapping_add(q)
    }
}

/// `trunc(x / d)` for a constant `d` with `|d| >= 2` (`d` may be `-2^62`);
/// `nonneg`: `x` is proved non-negative.
pub fn quotient<S: Sink>(sink: &mut S, x: S::V, d: i64, nonneg: bool) -> S::V {
    let a = d.unsigned_abs();
    let q = if a.is_power_of_two() {
        let k = a.trailing_zeros();
        if nonneg {
            sink.emit(Reduced::Sar(x, k))
        } else {
            let sign = sink.emit(Reduced::Sar(x, 63));
            let bias = sink.emit(Reduced::And(sign, (a - 1) as i64));
            let t = sink.emit(Reduced::IAdd(x, bias));
            sink.emit(Reduced::Sar(t, k))
        }
    } else {
        sink.emit(Reduced::Magic(
            x,
            Magic {
                divisor: a as i64,
                remainder: false,
                nonneg,
            },
        ))
    };
    if d < 0 {
        let zero = sink.emit(Reduced::Const(0));
        sink.emit(Reduced::ISub(zero, q))
    } else {
        q
    }
}

/// `x % d` (sign of `x`) for a constant `d` with `|d| >= 2`; `nonneg`: `x` is proved
/// non-negative.
pub fn remainder<S: Sink>(sink: &mut S, x: S::V, d: i64, nonneg: bool) -> S::V {
    let a = d.unsigned_abs();
    if !a.is_power_of_two() {
        return sink.emit(Reduced::Magic(
            x,
            Magic {
                divisor: a as i64,
                remainder: true,
                nonneg,
            },
        ));
    }
    if nonneg {
        return sink.emit(Reduced::And(x, (a - 1) as i64));
    }
    let q = quotient(sink, x, a as i64, nonneg);
    let p = sink.emit(Reduced::IMul(q, a as i64));
    sink.emit(Reduced::ISub(x, p))
}

/// Evaluates reduced sequences on integers, with the semantics of the IR's ops (an
/// [`Op::MagicDiv`] as the code generator computes it, [`magic_word`]); panics when a
/// result leaves the 63-bit range or a dividend proved non-negative is not (the
/// proof would be wrong).
pub struct Model;

impl Sink for Model {
    type V = i64;
    fn emit(&mut self, op: Reduced<i64>) -> i64 {
        let r = match op {
            Reduced::Const(n) => Some(n),
            Reduced::Sar(x, k) => Some(fold::sar(x, k)),
            Reduced::And(x, m) => Some(x & m),
            Reduced::Magic(x, op) => {
                assert!(!op.nonneg || x >= 0, "{x} is not non-negative");
                let word = magic_word(x << 1, op);
                assert_eq!(word & 1, 0, "{op:?} of {x} gives an untagged word");
                Some(word >> 1)
            }
            Reduced::IAdd(a, b) => a.checked_add(b),
            Reduced::ISub(a, b) => a.checked_sub(b),
            Reduced::IMul(a, c) => a.checked_mul(c),
        };
        r.and_then(fold::int)
            .unwrap_or_else(|| panic!("{op:?} leaves the 63-bit range"))
    }
}

/// Emits reduced sequences as IR instructions (not yet in a block).
struct IrSink<'f> {
    f: &'f mut Function,
    pc: Pc,
    out: Vec<Inst>,
}

impl Sink for IrSink<'_> {
    type V = Value;
    fn emit(&mut self, op: Reduced<Value>) -> Value {
        let op = match op {
            Reduced::Const(n) => Op::Const(n),
            Reduced::Sar(x, k) => Op::Sar(x, k),
            Reduced::And(x, m) => Op::And(x, m),
            Reduced::Magic(x, m) => Op::MagicDiv(x, m),
            Reduced::IAdd(a, b) => Op::IAdd(a, b),
            Reduced::ISub(a, b) => Op::ISub(a, b),
            Reduced::IMul(a, c) => Op::IMul(a, c),
        };
        let inst = self.f.make_inst(op, self.pc);
        self.out.push(inst);
        self.f.inst(inst).result.expect("reduced ops give values")
    }
}

/// What one instruction becomes.
enum Rewrite {
    /// Its result is this existing value (the instruction goes).
    Value(Value),
    /// It becomes this op (in place, keeping its result).
    Op(Op),
    /// Its result is the last of these instructions, inserted before it.
    Sequence(Vec<Inst>, Value),
}

fn rewrite(f: &mut Function, op: &Op, pc: Pc, nonneg: &[bool]) -> Option<Rewrite> {
    let Op::Binary(bin, a, b) = *op else {
        return None;
    };
    let (x, c) = match (f.as_const(a), f.as_const(b)) {
        (_, Some(c)) => (a, c),
        (Some(c), None) if bin == BinOp::Mul => (b, c),
        _ => return None,
    };
    let nonneg = nonneg.get(x.index()).copied().unwrap_or(false);
    let sink = |f: &mut Function, make: &dyn Fn(&mut IrSink) -> Value| {
        let mut s = IrSink {
            f,
            pc,
            out: Vec::new(),
        };
        let v = make(&mut s);
        Rewrite::Sequence(s.out, v)
    };
    Some(match (bin, c) {
        (BinOp::Mul, 0) => Rewrite::Op(Op::Const(0)),
        (BinOp::Mul, 1) | (BinOp::Div, 1) => Rewrite::Value(x),
        (BinOp::Mul | BinOp::Div, -1) => Rewrite::Op(Op::Neg(x)),
        (BinOp::Mul, 2) => Rewrite::Op(Op::Binary(BinOp::Add, x, x)),
        (BinOp::Mul, c) if c > 0 && (c as u64).is_power_of_two() => {
            Rewrite::Op(Op::Shl(x, c.trailing_zeros()))
        }
        (BinOp::Mod, 1 | -1) => Rewrite::Op(Op::Const(0)),
        (BinOp::Div, c) if c != 0 => sink(f, &|s| quotient(s, x, c, nonneg)),
        (BinOp::Mod, c) if c != 0 => sink(f, &|s| remainder(s, x, c, nonneg)),
        _ => return None,
    })
}

/// Rewrites every multiplication, division and remainder by a constant in `f`.
pub fn run(f: &mut Function, _analyses: &mut Analyses, stats: &mut PassStats) {
    // Which dividends are never negative; a rewritten value inherits the fact of what
    // it replaces (a remainder of a remainder).
    let mut nonneg = signs::nonnegative(f);
    let mut renamed: FastMap<Value, Value> = FastMap::default();
    // The remainders by ±2^k rewritten so far: what they became → (x, 2^k - 1).
    let mut low_bits: FastMap<Value, (Value, i64)> = FastMap::default();
    for b in 0..f.blocks.len() {
        let insts = std::mem::take(&mut f.blocks[b].insts);
        let mut keep = Vec::with_capacity(insts.len());
        for inst in insts {
            f.insts[inst.index()]
                .op
                .map_args(|v| final_name(&renamed, v));
            let (op, pc, result) = {
                let d = f.inst(inst);
                (d.op.clone(), d.pc, d.result)
            };
            // `x % 2^k == 0` is `x & (2^k - 1) == 0`, whatever the sign of `x`.
            if let Op::Compare(c @ (CmpOp::Eq | CmpOp::Ne), a, b) = op {
                let zero_and = |r: Value, z: Value| {
                    (f.as_const(z) == Some(0))
                        .then(|| low_bits.get(&r).copied())
                        .flatten()
                };
                if let Some((x, mask)) = zero_and(a, b).or_else(|| zero_and(b, a)) {
                    let zero = if f.as_const(b) == Some(0) { b } else { a };
                    let and = f.make_inst(Op::And(x, mask), pc);
                    keep.push(and);
                    let and = f.inst(and).result.expect("and gives a value");
                    f.insts[inst.index()].op = Op::Compare(c, and, zero);
                    keep.push(inst);
                    stats.reduced += 1;
                    continue;
                }
            }
            if let Op::Binary(BinOp::Mod, x, d) = op {
                if let Some(d) = f.as_const(d).filter(|d| d.unsigned_abs().is_power_of_two()) {
                    if d.unsigned_abs() >= 2 {
                        let r = result.expect("mod gives a value");
                        low_bits.insert(r, (x, (d.unsigned_abs() - 1) as i64));
                    }
                }
            }
            match rewrite(f, &op, pc, &nonneg) {
                None => keep.push(inst),
                Some(Rewrite::Value(v)) => {
                    renamed.insert(result.expect("binary gives a value"), v);
                    stats.reduced += 1;
                }
                Some(Rewrite::Op(new)) => {
                    f.insts[inst.index()].op = new;
                    keep.push(inst);
                    stats.reduced += 1;
                }
                Some(Rewrite::Sequence(seq, v)) => {
                    keep.extend(seq);
                    let r = result.expect("binary gives a value");
                    renamed.insert(r, v);
                    if nonneg.len() <= v.index() {
                        nonneg.resize(v.index() + 1, false);
                    }
                    nonneg[v.index()] = nonneg[r.index()];
                    if let Some(bits) = low_bits.remove(&r) {
                        low_bits.insert(v, bits);
                    }
                    stats.reduced += 1;
                }
            }
        }
        f.blocks[b].insts = keep;
    }
    if !renamed.is_empty() {
        f.map_uses(|v| final_name(&renamed, v));
    }
}

/// What `v` became: blocks are visited in their order, not their dominators' first,
/// so a value may be renamed to one that a later block renames again (`x / 1` in a
/// block, `(x / 1) / 1` in a block before it): follow the chain to its end.
fn final_name(renamed: &FastMap<Value, Value>, mut v: Value) -> Value {
    while let Some(&w) = renamed.get(&v) {
        v = w;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use stage1::value::{INT_MAX, INT_MIN};

    /// Dividends at the edges: 0, ±1, the limits, and around every power of two.
    fn boundary_dividends() -> Vec<i64> {
        let mut xs = vec![0, 1, -1, INT_MIN, INT_MAX, INT_MIN + 1, INT_MAX - 1];
        for k in 0..62 {
            let p = 1i64 << k;
            for x in [p - 1, p, p + 1] {
                xs.push(x);
                xs.push(-x);
            }
        }
        xs
    }

    /// The divisors the issue names: ±1..=1000 (but ±1 and 0, rewritten otherwise),
    /// ±2^k, and the largest magnitudes.
    fn divisors() -> Vec<i64> {
        let mut ds: Vec<i64> = (2..=1000).flat_map(|d| [d, -d]).collect();
        for k in 1..=62 {
            let p = 1i64 << k;
            ds.push(-p);
            if p <= INT_MAX {
                ds.push(p);
            }
            for d in [p - 1, p + 1] {
                if (2..=INT_MAX).contains(&d) {
                    ds.push(d);
                    ds.push(-d);
                }
            }
        }
        ds.extend([
            INT_MAX,
            -INT_MAX,
            INT_MIN,
            INT_MAX - 1,
            3_037_000_499,
            641,
            6_700_417,
        ]);
        ds
    }

    /// A small deterministic generator (xorshift), so the test needs no crate.
    fn dividends(seed: u64, n: usize) -> Vec<i64> {
        let mut s = seed | 1;
        (0..n)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                // Spread over magnitudes: shift away a random number of bits.
                let x = (s as i64) >> (1 + (i as u32 % 62));
                x.clamp(INT_MIN, INT_MAX)
            })
            .collect()
    }

    /// Both sequences, and for a non-negative `x` also those that rely on it.
    fn check(d: i64, xs: &[i64]) {
        for &x in xs {
            assert_eq!(quotient(&mut Model, x, d, false), x / d, "{x} / {d}");
            assert_eq!(remainder(&mut Model, x, d, false), x % d, "{x} % {d}");
            if x >= 0 {
                assert_eq!(quotient(&mut Model, x, d, true), x / d, "{x} / {d}, x >= 0");
                assert_eq!(
                    remainder(&mut Model, x, d, true),
                    x % d,
                    "{x} % {d}, x >= 0"
                );
            }
        }
    }

    /// Records the ops a sequence emits (its values are the ops' positions).
    struct Recorder(Vec<Reduced<usize>>);

    impl Sink for Recorder {
        type V = usize;
        fn emit(&mut self, op: Reduced<usize>) -> usize {
            self.0.push(op);
            self.0.len()
        }
    }

    fn ops(make: impl Fn(&mut Recorder) -> usize) -> Vec<Reduced<usize>> {
        let mut r = Recorder(Vec::new());
        make(&mut r);
        r.0
    }

    #[test]
    fn a_non_negative_dividend_needs_no_sign_fix() {
        let magic = |remainder, nonneg| {
            vec![Reduced::Magic(
                0,
                Magic {
                    divisor: 65537,
                    remainder,
                    nonneg,
                },
            )]
        };
        assert_eq!(ops(|s| remainder(s, 0, 65537, true)), magic(true, true));
        assert_eq!(ops(|s| remainder(s, 0, -65537, false)), magic(true, false));
        assert_eq!(ops(|s| quotient(s, 0, 65537, true)), magic(false, true));
        assert_eq!(ops(|s| remainder(s, 0, 16, true)), [Reduced::And(0, 15)]);
        assert_eq!(ops(|s| quotient(s, 0, 16, true)), [Reduced::Sar(0, 4)]);
        // Without the proof, the bias of a negative dividend.
        assert_eq!(ops(|s| quotient(s, 0, 16, false)).len(), 4);
        // The sign fix is in the code generator's sequence only without the proof.
        let fixed = Magic {
            divisor: 7,
            remainder: true,
            nonneg: false,
        };
        let unfixed = Magic {
            nonneg: true,
            ..fixed
        };
        assert_eq!(magic_word(-14, fixed), 0);
        assert_ne!(magic_word(-16, unfixed), magic_word(-16, fixed));
    }

    #[test]
    fn reduced_division_equals_rust_division() {
        let edges = boundary_dividends();
        for (i, d) in divisors().into_iter().enumerate() {
            check(d, &edges);
            check(d, &dividends(i as u64 + 1, 1_000));
        }
    }

    /// The long version: `cargo test -p stage4-solution --release -- --ignored`.
    #[test]
    #[ignore]
    fn reduced_division_equals_rust_division_over_millions() {
        for (i, d) in divisors().into_iter().enumerate() {
            check(d, &dividends(i as u64 + 7, 200_000));
        }
    }

    #[test]
    fn magic_numbers_fit_a_signed_word() {
        assert_eq!(magic(3), (6_148_914_691_236_517_206, 2));
        for d in [3u64, 5, 7, 641, 1000, (1 << 62) - 1, (1 << 61) + 1] {
            let (m, s) = magic(d);
            assert!(m > 0 && s >= 2, "{d}");
        }
    }
}
