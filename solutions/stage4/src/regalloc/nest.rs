//! How often each block runs, as the depth of the loops around it: the estimate the
//! spill weights ([`super::saves::Weights`]) are `8^depth` of.
//!
//! The graph's own loops ([`find_loops`]) say it well for a whole function as built,
//! whose graph nests its loops as the program does. Two kinds of compiles it misleads:
//!
//! - An OSR variant starts at the loop header it is entered at. It runs a copy of
//!   each loop around that one for the trip the frame is in, then the nest whole
//!   ([`crate::ir::build::osr_nest`]): the copy of `matmul`'s middle loop is a cycle
//!   of the graph inside the outer loop's code, yet it runs once per entry. Where
//!   the builder makes no copies (a `.jasm` loop entered past its header, a nest
//!   too deep), the code of the loops around the entered one runs after its exit
//!   and goes back to its header: the graph nests the *outer* loops inside the
//!   entered one. Entered so at `matmul`'s middle loop, the outer loop's
//!   `i = i + 1; row = [0; n]` was as deep in the graph as the inner loop's loads,
//!   though it runs once per 170 × 170 inner trips, and the allocator spilled the
//!   inner loop's temporaries to keep `i` and `row` in registers.
//! - Passes copy loops: `peel` runs a loop's first iteration before it, once per
//!   entry, and `rce` leaves the loop as it was after its main loop, for iterations
//!   that are left only when an access would fail (its *post loop*). Their blocks
//!   carry the loop's pcs but run far less often than its body.
//!
//! The program knows better: a bytecode loop runs from its header to its `loop`
//! instruction, and those ranges nest as the source's `while`s do, whatever the
//! entry. So when the program is known ([`LoopNest`]), a block's depth counts the
//! program's loops around the bytecode instruction it runs (for code inlined from a
//! callee, the callee's loops around it, then those around each call it was inlined
//! at) that the block goes round in: those for which it lies on a cycle of the graph
//! that stays inside the loop and leaves the loop inside it that holds the block's
//! own code (a cycle round the copy of a middle loop is no trip of the outer loop).
//! The outer loop's code in an OSR variant without copies lies on a cycle inside
//! the outer loop only; a peeled first iteration lies on no cycle
//! inside its own loop (it leaves the loop to come back); a post loop is taken out
//! of its own loop's cycles (it is a graph loop whose header its main loop's header
//! jumps to on its way out, both running the same instruction); a block on no cycle
//! at all runs once per entry, whatever its pc (an OSR variant's entry block is at
//! its loop header's pc). Without the program (a function read from text), the
//! graph's depths.
//!
//! A profile's counts would say the same of loops, measured; stage 7's profile
//! records what each instruction saw (flags), not how often it ran, and the loop
//! nest gives the ratios that matter here: an inner loop's trip against its outer
//! loop's.

use stage1::{FnId, Instr, Program};

use crate::ir::{Block, Function, Pc, Terminator};

use super::order::{find_loops, loops_by_header};

/// The loops of a program's bytecode: for each function read, each `loop`
/// instruction's range of pcs, from its header (the jump's target) to the `loop`
/// itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoopNest {
    /// By function, in the order read.
    loops: Vec<(FnId, Vec<(Pc, Pc)>)>,
}

impl LoopNest {
    /// The loops of every function of `program`.
    pub fn of(program: &Program) -> LoopNest {
        LoopNest::of_functions(program, 0..program.functions.len() as FnId)
    }

    /// The loops of the functions `funcs` of `program` (none for the others): a
    /// compile needs its own function's and those of the calls inlined into it, and
    /// reading the whole program at each compile would make a program of thousands of
    /// functions cost time in the square of their number.
    pub fn of_functions(program: &Program, funcs: impl IntoIterator<Item = FnId>) -> LoopNest {
        let mut loops: Vec<(FnId, Vec<(Pc, Pc)>)> = Vec::new();
        for func in funcs {
            if loops.iter().any(|&(f, _)| f == func) {
                continue;
            }
            let Some(f) = program.functions.get(func as usize) else {
                continue;
            };
            let ranges = f
                .code
                .iter()
                .enumerate()
                .filter_map(|(end, instr)| match instr {
                    Instr::Loop(header) => Some((*header as Pc, end as Pc)),
                    _ => None,
                })
                .collect();
            loops.push((func, ranges));
        }
        LoopNest { loops }
    }

    /// The loops of `func` that contain the instruction at `pc`, as pc ranges.
    pub fn around(&self, func: FnId, pc: Pc) -> impl Iterator<Item = (Pc, Pc)> + '_ {
        self.loops
            .iter()
            .find(|&&(f, _)| f == func)
            .map_or(&[][..], |(_, ranges)| ranges.as_slice())
            .iter()
            .copied()
            .filter(move |&(header, end)| (header..=end).contains(&pc))
    }
}

/// Where a block runs in the program: the frame and pc of its bytecode instruction,
/// then of each call it was inlined at, out to the function compiled (frame 0).
type Place = Vec<(u32, Pc)>;

/// One loop of the program as the compile meets it: the frame whose code it is in,
/// and its range of pcs.
type ProgramLoop = (u32, (Pc, Pc));

/// The depth of each block of `f` (indexed by block): from the program's loops when
/// `nest` is given, else from the graph's (see the module's documentation).
pub fn block_depths(f: &Function, nest: Option<&LoopNest>) -> Vec<u32> {
    let loops = find_loops(f);
    let graph: Vec<u32> = (0..f.blocks.len())
        .map(|b| loops.iter().filter(|body| body[b]).count() as u32)
        .collect();
    let Some(nest) = nest else {
        return graph;
    };
    let places: Vec<Option<Place>> = (0..f.blocks.len())
        .map(|b| runs_at(f, Block(b as u32)).map(|(frame, pc)| place(f, frame, pc)))
        .collect();
    // The program's loops around each block.
    let around = |place: &Place| -> Vec<ProgramLoop> {
        place
            .iter()
            .flat_map(|&(frame, pc)| nest.around(func_of(f, frame), pc).map(move |r| (frame, r)))
            .collect()
    };
    let mut program_loops: Vec<ProgramLoop> = places.iter().flatten().flat_map(around).collect();
    program_loops.sort_unstable();
    program_loops.dedup();
    let posts = post_loops(f, &places, nest);
    let mut depth: Vec<u32> = places
        .iter()
        .zip(&graph)
        .map(|(p, &g)| if p.is_some() { 0 } else { g })
        .collect();
    for &(frame, (start, end)) in &program_loops {
        // The blocks that run inside this loop (a block that says nothing is taken
        // to), but a post loop of it.
        let inside: Vec<bool> = places
            .iter()
            .enumerate()
            .map(|(b, p)| {
                let post = posts
                    .iter()
                    .any(|(body, of)| body[b] && *of == (frame, (start, end)));
                !post
                    && p.as_ref().is_none_or(|p| {
                        p.iter()
                            .any(|&(k, pc)| k == frame && (start..=end).contains(&pc))
                    })
            })
            .collect();
        // A cycle goes round this loop, not only round a loop inside it, when it
        // leaves the outermost loop inside this one around the block's own code:
        // the copy of a middle loop that an OSR variant runs for the outer loop's
        // trip it was entered in is a cycle inside the outer loop, but never
        // leaves the middle loop.
        let pc_in = |b: usize| {
            places[b]
                .as_ref()
                .and_then(|p| p.iter().find(|&&(k, _)| k == frame).map(|&(_, pc)| pc))
        };
        let func = func_of(f, frame);
        let child = |pc: Pc| {
            nest.around(func, pc)
                .filter(|&r| r != (start, end) && start <= r.0 && r.1 <= end)
                .max_by_key(|&(first, last)| last - first)
        };
        let components = cycles(f, &inside);
        // Each cycle's lowest and highest pc in this loop's frame.
        let mut spans: Vec<Option<(Pc, Pc)>> = vec![None; f.blocks.len()];
        for (b, component) in components.iter().enumerate() {
            if let (Some(c), Some(pc)) = (component, pc_in(b)) {
                let span = spans[*c].get_or_insert((pc, pc));
                *span = (span.0.min(pc), span.1.max(pc));
            }
        }
        for b in 0..f.blocks.len() {
            let (Some(component), Some(_)) = (components[b], &places[b]) else {
                continue;
            };
            let round = match pc_in(b).and_then(child) {
                None => true,
                Some((first, last)) => {
                    spans[component].is_some_and(|(low, high)| low < first || high > last)
                }
            };
            if round {
                depth[b] += 1;
            }
        }
    }
    depth
}

/// The post loops of `f` that `rce` left (see `passes::rce`), each as its blocks and
/// the program loop it is a copy of: a graph loop whose header another graph
/// loop's header (its main loop) jumps to on its way out, both running the same
/// bytecode instruction. `peel`'s copy of a first iteration is no loop, and no
/// other pass copies loops, so no other pair looks like that.
fn post_loops(
    f: &Function,
    places: &[Option<Place>],
    nest: &LoopNest,
) -> Vec<(Vec<bool>, ProgramLoop)> {
    let all = loops_by_header(f);
    let first = |b: Block| places[b.index()].as_ref().and_then(|p| p.first().copied());
    all.iter()
        .filter(|(h, _)| {
            all.iter().any(|(main, body)| {
                main != h
                    && !body[h.index()]
                    && first(*main).is_some()
                    && first(*main) == first(*h)
                    && f.block(*main).term.successors().contains(h)
            })
        })
        .filter_map(|(h, body)| {
            let (frame, pc) = first(*h)?;
            // The innermost loop around the header: the shortest range.
            let range = nest
                .around(func_of(f, frame), pc)
                .min_by_key(|&(start, end)| end - start)?;
            Some((body.clone(), (frame, range)))
        })
        .collect()
}

/// For each block of `f` that lies on a cycle of the graph that stays `inside` (a
/// strongly connected component of the blocks inside, of two blocks or more or with
/// an edge to itself): its component's number; by Tarjan's algorithm without
/// recursion.
fn cycles(f: &Function, inside: &[bool]) -> Vec<Option<usize>> {
    let n = f.blocks.len();
    let succs = |b: usize| -> Vec<usize> {
        f.blocks[b]
            .term
            .successors()
            .iter()
            .map(|s| s.index())
            .filter(|&s| inside[s])
            .collect()
    };
    let mut index = vec![u32::MAX; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut cycle: Vec<Option<usize>> = vec![None; n];
    let mut components = 0;
    let mut next = 0u32;
    for root in (0..n).filter(|&b| inside[b]) {
        if index[root] != u32::MAX {
            continue;
        }
        // The search's path: each block with its successors left to visit.
        let mut path: Vec<(usize, Vec<usize>)> = Vec::new();
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        path.push((root, succs(root)));
        while let Some((b, left)) = path.last_mut() {
            let b = *b;
            if let Some(s) = left.pop() {
                if index[s] == u32::MAX {
                    index[s] = next;
                    low[s] = next;
                    next += 1;
                    stack.push(s);
                    on_stack[s] = true;
                    path.push((s, succs(s)));
                } else if on_stack[s] {
                    low[b] = low[b].min(index[s]);
                }
                continue;
            }
            path.pop();
            if let Some(&(parent, _)) = path.last() {
                low[parent] = low[parent].min(low[b]);
            }
            if low[b] == index[b] {
                let mut component = Vec::new();
                while let Some(v) = stack.pop() {
                    on_stack[v] = false;
                    component.push(v);
                    if v == b {
                        break;
                    }
                }
                if component.len() > 1 || succs(b).contains(&b) {
                    for v in component {
                        cycle[v] = Some(components);
                    }
                    components += 1;
                }
            }
        }
    }
    cycle
}

/// The function whose bytecode `frame` runs: `f`'s own for frame 0.
fn func_of(f: &Function, frame: u32) -> FnId {
    match frame.checked_sub(1).and_then(|k| f.frames.get(k as usize)) {
        Some(inlined) => inlined.func,
        None => f.id,
    }
}

/// The bytecode instruction block `b` runs, as `(frame, pc)` ([`crate::ir::InstData`]):
/// its first instruction's; for a block with none, that of the block it jumps to
/// (an edge's block runs as often as the block after it, near enough). `None` when
/// no instruction says (a chain of empty blocks that ends in a branch or a return).
fn runs_at(f: &Function, mut b: Block) -> Option<(u32, Pc)> {
    for _ in 0..f.blocks.len() {
        let block = f.block(b);
        if let Some(&first) = block.insts.first() {
            let data = f.inst(first);
            return Some((data.frame, data.pc));
        }
        match &block.term {
            Terminator::Jump(call) => b = call.block,
            _ => return None,
        }
    }
    None
}

/// The place of the instruction at `pc` of `frame`: it, then each call its frame was
/// inlined at, out to frame 0.
fn place(f: &Function, mut frame: u32, mut pc: Pc) -> Place {
    let mut place = vec![(frame, pc)];
    // A frame's caller is an earlier frame: at most one step per frame.
    for _ in 0..f.frames.len() {
        let Some(inlined) = frame.checked_sub(1).and_then(|k| f.frames.get(k as usize)) else {
            break;
        };
        pc = inlined.call_pc;
        frame = inlined.caller;
        place.push((frame, pc));
    }
    place
}
