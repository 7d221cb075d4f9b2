//! A late pass over speculative IR: call-target guards that the IR answers itself.
//! The builder guards a `call_value` on the target the feedback saw (`guard callee
//! v, f`) before it knows where `v` comes from; once the callee is inlined into its
//! caller, `v` is often the caller's `func_ref f` (the `calls` kernel hands `add`
//! to `step`, inlined into main's loop). Such a guard can never fail: it goes, and
//! with it a compare and a branch at every call.

use stage4::ir::{Function, GuardKind, Op};
use stage4::passes::{Analyses, PassStats};

/// Removes each `guard callee v, f` whose `v` is `func_ref f`.
pub fn run(f: &mut Function, _: &mut Analyses, _: &mut PassStats) {
    for b in 0..f.blocks.len() {
        let insts = std::mem::take(&mut f.blocks[b].insts);
        let kept = insts
            .into_iter()
            .filter(|&inst| {
                let Op::Guard(guard) = &f.inst(inst).op else {
                    return true;
                };
                let GuardKind::Callee(v, target) = guard.kind else {
                    return true;
                };
                f.def_op(v) != Some(&Op::FuncRef(target))
            })
            .collect();
        f.blocks[b].insts = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stage4::ir::text::{parse, print};

    /// The guard on a known target goes; one on a parameter, or on another
    /// function's value, stays.
    #[test]
    fn a_guard_on_a_known_callee_goes_and_the_others_stay() {
        let mut f = parse(
            "function f f0 {\n\
             b0(v0):  @0\n\
             \x20   v1 = func_ref f2  @1\n\
             \x20   v2 = func_ref f3  @2\n\
             \x20   guard callee v1, f2 [f0@3: v0 | v1]  @3\n\
             \x20   guard callee v2, f2 [f0@4: v0 | v2]  @4\n\
             \x20   guard callee v0, f2 [f0@5: v0 | v0]  @5\n\
             \x20   return v0\n\
             }\n",
        )
        .expect("parses");
        run(&mut f, &mut Analyses::default(), &mut PassStats::default());
        let text = print(&f);
        assert!(!text.contains("guard callee v1"), "{text}");
        assert!(text.contains("guard callee v2, f2"), "{text}");
        assert!(text.contains("guard callee v0, f2"), "{text}");
    }
}
