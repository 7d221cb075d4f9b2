//! Parallel moves: at an edge, every block argument goes to its parameter's location
//! *at once* — `(r1, r2) <- (r2, r1)` swaps. Done one move at a time, a move must not
//! overwrite a location another move still has to read. So: emit a move whose
//! destination no pending move reads; when every pending destination is still to be
//! read, the moves form a cycle — save one destination in the scratch register, let
//! the moves that read it read the scratch instead, and go on.
//!
//! Each location is the destination of one move at most but may be read by several,
//! so the pending moves form trees hanging off at most one cycle each; the moves that
//! read the scratch are all emitted before another cycle needs it.

use stage2::Reg;

use super::{Loc, MoveSrc};

/// One move of a sequence: `dst <- src`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    pub src: MoveSrc,
    pub dst: Loc,
}

/// Sequences the parallel move `moves` (each `(src, dst)`, destinations distinct)
/// into single moves with the same effect, using `scratch` (not a source or
/// destination) to break cycles.
pub fn sequence(moves: &[(MoveSrc, Loc)], scratch: Reg) -> Vec<Move> {
    let mut pending: Vec<Move> = moves
        .iter()
        .filter(|(src, dst)| *src != MoveSrc::Loc(*dst))
        .map(|&(src, dst)| Move { src, dst })
        .collect();
    let mut out = Vec::with_capacity(pending.len() + 1);
    while !pending.is_empty() {
        // A move whose destination nobody still reads.
        let ready = pending
            .iter()
            .position(|m| !pending.iter().any(|other| other.src == MoveSrc::Loc(m.dst)));
        match ready {
            Some(i) => out.push(pending.remove(i)),
            None => {
                // A cycle: keep the first move's destination in the scratch register.
                let saved = pending[0].dst;
                out.push(Move {
                    src: MoveSrc::Loc(saved),
                    dst: Loc::Reg(scratch),
                });
                for m in &mut pending {
                    if m.src == MoveSrc::Loc(saved) {
                        m.src = MoveSrc::Loc(Loc::Reg(scratch));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Runs `seq` on a machine where each location holds its own name.
    fn run(seq: &[Move], locs: &[Loc]) -> HashMap<Loc, MoveSrc> {
        let mut state: HashMap<Loc, MoveSrc> = locs.iter().map(|&l| (l, MoveSrc::Loc(l))).collect();
        for m in seq {
            let v = match m.src {
                MoveSrc::Loc(l) => state[&l],
                c => c,
            };
            state.insert(m.dst, v);
        }
        state
    }

    #[test]
    fn cycles_chains_and_fan_out_end_where_they_should() {
        let r = |r| Loc::Reg(r);
        let (a, b, c, d) = (r(Reg::RCX), r(Reg::RSI), r(Reg::RDI), Loc::Slot(0));
        let all = [a, b, c, d, r(Reg::R11)];
        let cases: Vec<Vec<(MoveSrc, Loc)>> = vec![
            // swap
            vec![(MoveSrc::Loc(b), a), (MoveSrc::Loc(a), b)],
            // rotate three, with a fan-out of `a` into a slot
            vec![
                (MoveSrc::Loc(b), a),
                (MoveSrc::Loc(c), b),
                (MoveSrc::Loc(a), c),
                (MoveSrc::Loc(a), d),
            ],
            // chain and constant
            vec![
                (MoveSrc::Loc(b), a),
                (MoveSrc::Loc(c), b),
                (MoveSrc::Const(4), c),
            ],
        ];
        for moves in cases {
            let seq = sequence(&moves, Reg::R11);
            let state = run(&seq, &all);
            for (src, dst) in &moves {
                assert_eq!(state[dst], *src, "{moves:?} gave {seq:?}");
            }
        }
    }
}
