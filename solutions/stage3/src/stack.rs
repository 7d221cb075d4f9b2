//! How much native stack a run needs, and which functions cannot run natively.
//!
//! The native thread's stack must hold the deepest stack the depth limit allows:
//! at most [`MAX_FRAMES`] frames. Sizing it as `MAX_FRAMES` × the largest frame is
//! far too much for a program whose largest frame belongs to a function that cannot
//! recurse — a `main` with a 400,000-element array literal has a 3.2 MB frame, and
//! 10,000 of those would be 32 GB. A function that is on no cycle of the call graph
//! appears at most once on any stack, so the bound used here is the sum of the
//! biggest `MAX_FRAMES` frames of the multiset made of each non-recursive function's
//! frame once and each recursive function's frame `MAX_FRAMES` times.
//!
//! When even that bound is more than [`NATIVE_STACK_MAX`], the functions that make
//! it so are declined, biggest first: they run in the interpreter (the tier below,
//! whose frames live on the heap), and the run says why with a `NotCompiled` event.

use stage1::limits::MAX_FRAMES;
use stage1::{Instr, Program};

/// The most native stack a run reserves: 1 GiB of address space (only what a run
/// touches becomes memory). A program that would need more runs its biggest frames
/// in the interpreter instead.
pub const NATIVE_STACK_MAX: usize = 1 << 30;

/// Stack kept free beyond the deepest native recursion, for the runtime helpers and
/// the thread's own start (`print` and the allocator need a few KiB; be generous).
pub const STACK_MARGIN: usize = 1 << 20;

/// Native stack kept per interpreted activation when some functions are interpreted
/// (the helper, the interpreter's loop and the trampoline between two native frames).
pub const INTERPRETED_ACTIVATION: usize = 16 << 10;

/// Which functions may be on the stack more than once: those on a cycle of the call
/// graph. `call_value` may call any function whose value is taken (`func_ref`), so
/// it is an edge to each of them.
pub fn recursive_functions(program: &Program) -> Vec<bool> {
    let n = program.functions.len();
    // Node `n` stands for "any function value": call_value goes there, and it goes
    // to every function whose value is taken.
    let any = n;
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); n + 1];
    for (i, f) in program.functions.iter().enumerate() {
        for instr in &f.code {
            match *instr {
                Instr::Call { func, .. } => edges[i].push(func as usize),
                Instr::CallValue(_) => edges[i].push(any),
                Instr::FuncRef(g) => edges[any].push(g as usize),
                _ => {}
            }
        }
    }
    for e in &mut edges {
        e.sort_unstable();
        e.dedup();
    }
    let component = strongly_connected(&edges);
    let mut size = vec![0usize; n + 1];
    for &c in &component {
        size[c] += 1;
    }
    (0..n)
        .map(|i| size[component[i]] > 1 || edges[i].binary_search(&i).is_ok())
        .collect()
}

/// The strongly connected component of each node (Tarjan's algorithm, with its own
/// stack: a call graph of a million functions must not recurse natively).
fn strongly_connected(edges: &[Vec<usize>]) -> Vec<usize> {
    const UNSEEN: usize = usize::MAX;
    let n = edges.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut component = vec![UNSEEN; n];
    let mut stack: Vec<usize> = Vec::new();
    // The walk: a node and how many of its edges it has followed.
    let mut walk: Vec<(usize, usize)> = Vec::new();
    let mut next_index = 0;
    let mut components = 0;
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        walk.push((root, 0));
        while let Some(&(v, k)) = walk.last() {
            if k == 0 && index[v] == UNSEEN {
                index[v] = next_index;
                low[v] = next_index;
                next_index += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = edges[v].get(k) {
                if let Some(top) = walk.last_mut() {
                    top.1 += 1;
                }
                if index[w] == UNSEEN {
                    walk.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            walk.pop();
            if let Some(&(parent, _)) = walk.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component[w] = components;
                    if w == v {
                        break;
                    }
                }
                components += 1;
            }
        }
    }
    component
}

/// The native stack a run needs when function `i` costs `costs[i]` bytes of stack per
/// activation and `recursive[i]` says whether it can be active more than once: the
/// biggest `MAX_FRAMES` costs of the multiset described in the module docs, plus
/// [`STACK_MARGIN`].
pub fn stack_need(costs: &[usize], recursive: &[bool]) -> usize {
    let deepest = costs
        .iter()
        .zip(recursive)
        .filter(|&(_, &r)| r)
        .map(|(&c, _)| c)
        .max()
        .unwrap_or(0);
    let mut once: Vec<usize> = costs
        .iter()
        .zip(recursive)
        .filter(|&(&c, &r)| !r && c > deepest)
        .map(|(&c, _)| c)
        .collect();
    once.sort_unstable_by(|a, b| b.cmp(a));
    once.truncate(MAX_FRAMES);
    let repeated = MAX_FRAMES - once.len();
    once.iter()
        .fold(STACK_MARGIN, |sum, &c| sum.saturating_add(c))
        .saturating_add(deepest.saturating_mul(if deepest > 0 { repeated } else { 0 }))
}

/// The functions to run in the interpreter so that the stack need fits in
/// [`NATIVE_STACK_MAX`]: each with why. `frames` are the native frames of the
/// compiled functions, `declined` those already declined (which cost
/// `declined_cost` each).
pub fn too_big_to_run_natively(
    frames: &[usize],
    declined: &[bool],
    recursive: &[bool],
    declined_cost: usize,
) -> Vec<(usize, String)> {
    let mut costs: Vec<usize> = frames
        .iter()
        .zip(declined)
        .map(|(&f, &d)| if d { declined_cost } else { f })
        .collect();
    let mut out = Vec::new();
    let mut taken = declined.to_vec();
    // Each round declines every function within half of the heaviest one's weight,
    // so there are few rounds whatever the number of functions.
    loop {
        let need = stack_need(&costs, recursive);
        if need <= NATIVE_STACK_MAX {
            return out;
        }
        let weight = |i: usize| {
            if recursive[i] {
                costs[i].saturating_mul(MAX_FRAMES)
            } else {
                costs[i]
            }
        };
        let candidates = || (0..costs.len()).filter(|&i| !taken[i]);
        let Some(heaviest) = candidates().map(weight).max() else {
            return out;
        };
        if heaviest <= declined_cost {
            return out;
        }
        let round: Vec<usize> = candidates()
            .filter(|&i| weight(i) >= heaviest / 2 && costs[i] > declined_cost)
            .collect();
        for i in round {
            let reason = format!(
                "its native frame of {} bytes{} would need {} bytes of native stack, more \
                 than the {} a run may reserve: it runs in the interpreter",
                costs[i],
                if recursive[i] {
                    format!(", {MAX_FRAMES} deep,")
                } else {
                    String::new()
                },
                need,
                NATIVE_STACK_MAX
            );
            costs[i] = declined_cost;
            taken[i] = true;
            out.push((i, reason));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(source: &str) -> Program {
        stage1::load::load_source("t.mini", source)
            .unwrap()
            .program()
            .clone()
    }

    #[test]
    fn recursion_is_found_through_calls_and_function_values() {
        let p = program(
            "fn a() { return b(); }\nfn b() { return a(); }\nfn c() { return 1; }\n\
             fn d(n) { return d(n); }\nfn e(f) { return f(f); }\nfn g() { return c(); }\n\
             print g(); let x = e;",
        );
        // main, a, b, c, d, e, g
        assert_eq!(
            recursive_functions(&p),
            [false, true, true, false, true, true, false]
        );
    }

    #[test]
    fn a_big_frame_that_cannot_recurse_counts_once() {
        let big = 3_200_000;
        assert_eq!(
            stack_need(&[big, 100], &[false, true]),
            STACK_MARGIN + big + 100 * (MAX_FRAMES - 1)
        );
        assert_eq!(
            stack_need(&[big, 100], &[true, true]),
            STACK_MARGIN + big * MAX_FRAMES
        );
        let declined = too_big_to_run_natively(&[big, 100], &[false, false], &[true, true], 1000);
        assert_eq!(declined.len(), 1);
        assert_eq!(declined[0].0, 0);
        assert!(too_big_to_run_natively(&[big, 100], &[false; 2], &[false, true], 1000).is_empty());
    }
}
