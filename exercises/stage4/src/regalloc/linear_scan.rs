//! Linear scan (Poletto and Sarkar, 1999): walk the intervals by start, keeping the
//! *active* ones (those holding a register) sorted by end; an interval that starts
//! frees the registers of those that ended, takes a free register, or — none being
//! free — the register of the active interval that is cheapest to keep in memory
//! (its uses weighted by loop depth, [`Weights::spill_cost`]), which is spilled: it
//! lives in a stack slot for its whole life. If the new interval itself is cheaper,
//! the new one is spilled instead. (Poletto and Sarkar spill the interval that ends
//! last; in a loop nest that is the matrix used in the inner loop, which the loop
//! counters of the outer loops are cheaper to give up for.)
//!
//! One constraint: an interval that crosses a call may take a register the call
//! clobbers only when saving it around its calls costs less than a slot
//! ([`Weights::crossing`]); else only a callee-saved register
//! ([`super::CALLEE_SAVED`]), competing only for those (and only
//! stealing those). The order in which it tries the registers comes from the same
//! weights and from *hints* ([`preference`], [`Weights::hints`]): the register of a
//! value it is passed to or from at an edge, or of an operand, so that the edge's
//! move or the lowering's copy goes.

use stage2::Reg;

use crate::ir::{Block, Function};

use super::liveness::Interval;
use super::saves::{preference, Crossing, Weights};
use super::{Allocation, Loc, CALLEE_SAVED};

/// An interval holding a register.
#[derive(Clone, Copy, Debug)]
struct Active {
    end: u32,
    reg: Reg,
    interval: usize,
}

/// Assigns a location to each interval (sorted by start); `weights` say what the
/// calls an interval crosses allow it, `registers` are the registers to use, in order
/// of preference.
pub fn scan(
    f: &Function,
    order: Vec<Block>,
    intervals: &[Interval],
    weights: &Weights,
    registers: &[Reg],
) -> Allocation {
    let mut locs: Vec<Option<Loc>> = vec![None; f.values.len()];
    let mut active: Vec<Active> = Vec::new();
    let mut free: Vec<Reg> = registers.to_vec();
    let mut slots = 0u32;
    let mut spilled = 0u32;
    todo!(
        "linear-scan: walk the intervals by start: expire the active intervals that ended (their registers are free again), then take the first free register the interval may use (`weights.crossing`: only a callee-saved one for `CalleeOnly`), in the order `preference` gives (with `weights.hints`), or call `spill_at` — book §4.26"
    );
    let mut callee_saved: Vec<Reg> = CALLEE_SAVED
        .iter()
        .copied()
        .filter(|r| locs.contains(&Some(Loc::Reg(*r))))
        .collect();
    callee_saved.sort_by_key(|r| r.number());
    Allocation {
        order,
        locs,
        slots,
        spilled,
        callee_saved,
        call_saves: Vec::new(),
    }
}

/// No register is free for interval `k`: spill the active interval with an allowed
/// register that costs least in memory ([`Weights::spill_cost`]; of equals, the one
/// that ends last), if it costs less than `k` or as much and ends after it (then `k`
/// takes its register), else spill `k` itself. A spilled value gets a fresh stack
/// slot.
// `active` is a `Vec` because the body removes and inserts (the exercise's stub does
// neither, which clippy would take for a slice).
// The scan's state goes in piece by piece, so that the exercise's stub names each.
#[allow(clippy::ptr_arg, clippy::too_many_arguments)]
fn spill_at(
    intervals: &[Interval],
    k: usize,
    weights: &Weights,
    allowed: &dyn Fn(&Reg) -> bool,
    active: &mut Vec<Active>,
    locs: &mut [Option<Loc>],
    slots: &mut u32,
    spilled: &mut u32,
) {
    todo!(
        "spill: choose the active interval (with a register `allowed` here) of least `weights.spill_cost`, the last-ending of equals; if it costs less than interval `k` (or as much and ends after it), move it to a fresh slot and give its register to `k`, else put `k` in a fresh slot — book §4.27"
    )
}
