//! Which functions return only integers: a fact about the whole program, so that the
//! result of a direct call of such a function needs no tag check in its caller.
//!
//! **What it proves**: that every `return` of a function returns an integer on every
//! execution that returns at all (an error leaves through the error word, which the
//! caller tests before it looks at the result). A direct call names its callee when
//! the program is loaded, and every tier runs a function with the same meaning, so
//! the fact holds whichever tier runs the callee. It is a greatest fixpoint: every
//! function starts as "returns integers", and one whose `return` passes a value not
//! known to be an integer loses it, until nothing changes — so `fib`, whose results
//! are sums of its own results, returns integers because its base case does.
//!
//! The facts are solved on the optimized IR (where a returned parameter has become
//! the value its dominating `check_int` gives); [`apply`] then runs the integer-tag
//! inference again with them.

use std::sync::Arc;

use crate::ir::{Function, Terminator};

use super::{checks, Analyses, PassStats};

/// Solves the facts over the optimized IR of every function of a program (indexed
/// by id), gives each function the facts, and removes the `check_int`s they make
/// redundant (of call results, and of what follows from them), counting them in
/// each function's `stats`.
pub fn apply(functions: &mut [Function], stats: &mut [PassStats]) {
    let facts = int_results(functions);
    let any = facts.iter().any(|&int| int);
    for (f, stats) in functions.iter_mut().zip(stats) {
        f.int_results = facts.clone();
        if any {
            checks::run(f, &mut Analyses::default(), stats);
        }
    }
}

/// For each function of `functions` (indexed by id): true when it returns only
/// integers. Leaves each function with the facts.
pub fn int_results(functions: &mut [Function]) -> Arc<[bool]> {
    let mut facts = vec![true; functions.len()];
    let mut changed = true;
    while changed {
        changed = false;
        let shared: Arc<[bool]> = facts.clone().into();
        for (i, f) in functions.iter_mut().enumerate() {
            if !facts[i] {
                continue;
            }
            f.int_results = shared.clone();
            if !returns_ints(f) {
                facts[i] = false;
                changed = true;
            }
        }
    }
    facts.into()
}

/// True when every `return` of `f` returns a value known to be an integer, given the
/// facts `f` holds ([`Function::int_results`]): one step of the fixpoint.
pub fn returns_ints(f: &Function) -> bool {
    let known = checks::known_ints(f);
    f.reverse_postorder()
        .into_iter()
        .all(|b| match f.block(b).term {
            Terminator::Return(v) => known[v.index()],
            _ => true,
        })
}
