//! `dump --ir` of stage 7 (`stage7::dump::ir_listing`): after a run, the IR of each
//! compile the run made, with its guards and their frame states. Checked on the
//! designed programs (`tests/programs/deopt/`): the dump has, for each line a
//! program marks `// deopt: REASON`, a guard of that reason at that line, the guard
//! the profile implies (a bet the run then lost); every guard's state has one frame
//! per call the guard is inlined in, plus the compiled function's, and passes stage
//! 4's frame-state check; and the text parses back to functions that print as the
//! same text (`stage4::ir::text`), inlined frames included. `dump --ir --osr` shows
//! the same text for the compiles the run entered by OSR at one loop header, and
//! refuses a loop the run never compiled.

use jitlab_cli::Stage;
use rstest::rstest;
use stage1::{FnId, Verified};
use stage4::ir::{text, Function, Op};
use stage7::cli::Cli;

use super::common::{designed, isolated, load};

/// A dump of the designed program `file`: its text and the functions it reads back
/// as, after checking that every guard's state is one the program can resume from
/// and, without `passes`, that they print as the same text (the `;` lines aside;
/// with `passes`, the IR between passes is not in the canonical numbering that
/// reading renumbers to).
fn dump(file: &str, passes: bool) -> (String, Vec<Function>, Verified) {
    let program = designed(file);
    let verified = load(&program.name, &program.source);
    let dumped = stage7::dump::ir_listing(&verified, passes);
    assert!(
        !dumped.contains("this is not the run's code"),
        "{file}: a compile built again asked other bets than in the run:\n{dumped}"
    );
    let functions = text::parse_all(&dumped).unwrap_or_else(|e| panic!("{file}: {e}\n{dumped}"));
    let uncommented: String = dumped
        .lines()
        .filter(|l| !l.starts_with(';'))
        .map(|l| format!("{l}\n"))
        .collect();
    let printed: String = functions.iter().map(text::print).collect();
    if !passes {
        pretty_assertions::assert_eq!(printed, uncommented, "{file}: read back");
    }
    assert_eq!(
        functions.len(),
        uncommented.matches("function ").count(),
        "{file}: every function read"
    );
    for f in &functions {
        stage4::ir::verify::verify_states(f, &verified)
            .unwrap_or_else(|e| panic!("{file}: {e}\n{}", text::print(f)));
    }
    (dumped, functions, verified)
}

/// One guard of a dump: the function whose bytecode it checks, the source line, why
/// it fails, and how many frames its state rebuilds and how deep it is inlined.
#[derive(Debug)]
struct Guard {
    func: FnId,
    line: u32,
    reason: &'static str,
    frames: usize,
    depth: usize,
}

/// The guards of `functions`, checking on the way that each one's state has a frame
/// per inlined call around it (and the compiled function's), the innermost of the
/// function whose bytecode the guard checks.
fn guards(functions: &[Function], verified: &Verified) -> Vec<Guard> {
    let program = verified.program();
    let mut all = Vec::new();
    for f in functions {
        for inst in &f.insts {
            let Op::Guard(guard) = &inst.op else { continue };
            // Whose bytecode the instruction is, and how many calls deep.
            let (mut func, mut depth, mut frame) = (f.id, 0, inst.frame);
            if frame != 0 {
                func = f.frames[frame as usize - 1].func;
            }
            while frame != 0 {
                depth += 1;
                frame = f.frames[frame as usize - 1].caller;
            }
            let state = &guard.state;
            assert_eq!(
                state.frames.len(),
                depth + 1,
                "a frame per inlined call:\n{}",
                text::print(f)
            );
            assert_eq!(state.frames[0].func, f.id, "{}", text::print(f));
            assert_eq!(state.innermost().func, func, "{}", text::print(f));
            all.push(Guard {
                func,
                line: program.functions[func as usize].lines[inst.pc as usize],
                reason: guard.reason(),
                frames: state.frames.len(),
                depth,
            });
        }
    }
    all
}

/// Each designed program: its dump has, at each line it marks `// deopt: REASON`
/// (for "overflow", the line of the error it expects), a guard of that reason in
/// the function of that line.
#[rstest]
#[case("int_to_array.mini")]
#[case("overflow_at_the_millionth_trip.mini")]
#[case("branch_taken_late.mini")]
#[case("field_meets_a_new_shape.mini")]
#[case("call_meets_a_new_target.mini")]
#[case("inlined_three_deep.mini")]
#[case("deopts_and_settles.mini")]
fn the_dump_of_a_designed_program_has_the_guards_its_profile_implies(#[case] file: &str) {
    isolated(|| {
        let program = designed(file);
        let (dumped, functions, verified) = dump(file, false);
        let all = guards(&functions, &verified);
        let marks: Vec<(u32, &str)> = program
            .source
            .lines()
            .enumerate()
            .filter_map(|(i, l)| Some((i as u32 + 1, l.split_once("// deopt: ")?.1.trim())))
            .collect();
        assert!(!marks.is_empty(), "{file} marks its deopts");
        for (line, reason) in marks {
            let line = match &program.expected_error {
                Some((_, error_line)) if reason == "overflow" => *error_line,
                _ => line,
            };
            // The function whose body holds the line: the last one declared above it.
            let p = verified.program();
            let func = (0..p.functions.len() as FnId)
                .rev()
                .find(|&g| p.functions[g as usize].lines.contains(&line))
                .unwrap_or_else(|| panic!("{file}: no function has line {line}"));
            assert!(
                all.iter()
                    .any(|g| g.func == func && g.line == line && g.reason == reason),
                "{file}: no `{reason}` guard at line {line} of {}:\n{all:#?}\n{dumped}",
                p.functions[func as usize].name
            );
        }
    });
}

#[test]
fn a_guard_three_inlined_calls_deep_carries_four_frames_and_its_frames_are_listed() {
    isolated(|| {
        let (dumped, functions, verified) = dump("inlined_three_deep.mini", false);
        let all = guards(&functions, &verified);
        assert!(
            all.iter().any(|g| g.depth == 3 && g.frames == 4),
            "{all:#?}\n{dumped}"
        );
        // The compile with the deepest guard lists its three inlined calls, each
        // called from the one before.
        assert!(dumped.contains("frame 3: "), "{dumped}");
        let deep = functions
            .iter()
            .find(|f| f.frames.len() >= 3)
            .unwrap_or_else(|| panic!("{dumped}"));
        assert_eq!(deep.frames[0].caller, 0);
        assert_eq!(deep.frames[1].caller, 1);
        assert_eq!(deep.frames[2].caller, 2);
    });
}

#[test]
fn with_passes_each_compile_is_shown_as_built_then_after_each_pass() {
    isolated(|| {
        let (dumped, functions, _) = dump("int_to_array.mini", true);
        let compiles = dumped.lines().filter(|l| l.ends_with(": built")).count();
        assert!(compiles >= 1, "{dumped}");
        for pass in ["sccp", "gvn", "cleanup", "speculate"] {
            let shown = dumped
                .lines()
                .filter(|l| l.starts_with("; ") && l.contains(&format!(": after {pass}")))
                .count();
            assert!(shown >= compiles, "after {pass}:\n{dumped}");
        }
        // As built, the overflow bets are checkpoints; the late pass makes them
        // guards, so the last text of a compile has none.
        let built = functions.first().unwrap();
        assert!(
            built
                .insts
                .iter()
                .any(|i| matches!(i.op, Op::Checkpoint(_))),
            "{}",
            text::print(built)
        );
        let last = functions.last().unwrap();
        assert!(
            !last.insts.iter().any(|i| matches!(i.op, Op::Checkpoint(_))),
            "{}",
            text::print(last)
        );
    });
}

/// `dump --asm` (`stage7::dump::asm_listing`) of the same run: each compile's code
/// and its deopt table decoded, a record per guard of the compile's IR with as many
/// frames as the guard's state (the same multiset of reasons and frame counts),
/// each frame with a location per local and operand.
#[test]
fn the_asm_dump_decodes_a_table_record_for_each_guard_of_the_ir() {
    isolated(|| {
        let file = "field_meets_a_new_shape.mini";
        let (_, functions, verified) = dump(file, false);
        let program = designed(file);
        let asm = stage7::dump::asm_listing(&load(&program.name, &program.source));
        let sections: Vec<&str> = asm.split("\n; compile ").skip(1).collect();
        assert_eq!(
            sections.len(),
            functions.len(),
            "a listing per compile:\n{asm}"
        );
        for (f, section) in functions.iter().zip(&sections) {
            let mut from_ir: Vec<(String, usize)> = f
                .insts
                .iter()
                .filter_map(|i| match &i.op {
                    Op::Guard(g) => Some((g.reason().to_string(), g.state.frames.len())),
                    _ => None,
                })
                .collect();
            // `    guard N: REASON[, inlined K deep]`, then a line per frame.
            let lines: Vec<&str> = section.lines().collect();
            let mut from_table: Vec<(String, usize)> = Vec::new();
            for (k, line) in lines.iter().enumerate() {
                let Some(rest) = line.strip_prefix("    guard ") else {
                    continue;
                };
                let what = rest.split_once(": ").map_or("", |(_, w)| w);
                let reason = what.split(", inlined").next().unwrap_or("").to_string();
                let frames: Vec<&str> = lines[k + 1..]
                    .iter()
                    .take_while(|l| l.starts_with("      "))
                    .copied()
                    .collect();
                for frame in &frames {
                    assert!(
                        frame.contains(" at pc ")
                            && frame.contains("locals [")
                            && frame.contains("operands ["),
                        "{frame}"
                    );
                }
                from_table.push((reason, frames.len()));
            }
            from_ir.sort();
            from_table.sort();
            assert_eq!(from_table, from_ir, "{}\n{section}", text::print(f));
        }
        let guards = guards(&functions, &verified);
        assert!(guards.iter().any(|g| g.depth == 1), "{guards:#?}");
        assert!(asm.contains("field cache miss, inlined 1 deep"), "{asm}");
    });
}

/// The compiles of a dump (each from its `; compile N of f: ...` line to the next)
/// whose header line contains `title`.
fn sections(dumped: &str, title: &str) -> Vec<String> {
    dumped
        .split("\n; compile ")
        .skip(1)
        .filter(|s| s.lines().next().is_some_and(|l| l.contains(title)))
        .map(|s| s.trim_end().to_string())
        .collect()
}

/// `dump --ir --osr weigh:PC --stage 7` (the command line's `ir_osr`) at the loop
/// header of `weigh`: the speculative compiles the run entered by OSR there, the
/// same text as in the whole dump, with the guard the designed program marks.
#[test]
fn the_osr_dump_shows_the_runs_speculative_compiles_entered_at_that_loop_header() {
    isolated(|| {
        let file = "int_to_array.mini";
        let (whole, _, verified) = dump(file, false);
        let weigh = verified.program().function_named("weigh").expect("weigh");
        let header = stage4::tiered::loop_headers(&verified, weigh)[0];
        let osr = Cli
            .ir_osr(&verified, "weigh", header, false)
            .expect("stage 7 dumps OSR variants")
            .unwrap_or_else(|e| panic!("{e}\n{whole}"));
        let title = format!(" of weigh: entered by OSR at the loop header at pc {header},");
        let expected = sections(&whole, &title);
        assert!(!expected.is_empty(), "no OSR compile of weigh:\n{whole}");
        assert_eq!(sections(&osr, &title), expected, "{osr}");
        assert_eq!(
            osr.matches("\n; compile ").count(),
            expected.len(),
            "only weigh's OSR compiles:\n{osr}"
        );
        let functions = text::parse_all(&osr).unwrap_or_else(|e| panic!("{e}\n{osr}"));
        assert!(
            guards(&functions, &verified)
                .iter()
                .any(|g| g.func == weigh && g.reason == "not an integer"),
            "{osr}"
        );
    });
}

/// `dump --ir --osr` at a loop the run never got hot, or at a pc that heads no loop:
/// an error that says so (stage 4's non-speculative variant is not what ran).
#[test]
fn the_osr_dump_refuses_a_loop_the_run_did_not_compile() {
    isolated(|| {
        let source = "fn count(n) {\n  let i = 0;\n  while i < n {\n    i = i + 1;\n  }\n  \
                      return i;\n}\nprint count(3);\n";
        let verified = load("cold_loop.mini", source);
        let count = verified.program().function_named("count").expect("count");
        let header = stage4::tiered::loop_headers(&verified, count)[0];
        let refused = |pc: usize| match Cli.ir_osr(&verified, "count", pc, false) {
            Some(Err(e)) => e,
            other => panic!("at pc {pc}: {other:?}"),
        };
        let cold = refused(header);
        assert!(
            cold.contains(&format!(
                "no optimizing compile of count entered by OSR at pc {header}"
            )) && cold.contains("the run entered no compile by OSR"),
            "{cold}"
        );
        let nowhere = refused(header + 1);
        assert!(nowhere.contains("is not a loop header"), "{nowhere}");
    });
}
