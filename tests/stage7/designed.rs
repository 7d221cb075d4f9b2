//! Programs designed to deoptimize (`tests/programs/deopt/`), each checked by its
//! output (what its comments expect, and the interpreter's run to the last frame of
//! an error's trace) and by its events: the bet that was lost (`Event::Deopt`'s
//! reason, the function and source line of its guard, how deep it was inlined and
//! how many frames were rebuilt) and, for the program that keeps changing, that the
//! engine stops betting on what failed and settles. The line of each guard is the
//! one the program marks with `// deopt: REASON`.
//!
//! The runs use the default thresholds, compiling on the spot: the loops run long
//! enough to bet on thousands of trips before their behaviour changes, and the
//! deopts happen at the same trips every run.

use jitlab_testkit::CorpusProgram;
use stage1::{Engine, Event};
use stage7::{Options, Speculating};

use super::common::{
    deopts, designed, isolated, load, marked_line, recompiles, run_designed, speculating, Deopt,
    DESIGNED,
};

/// Runs the designed program `file` and returns it with its deopts and the engine,
/// after checking what every deopt of any designed run must be: not a stress deopt
/// (stress is off), one rebuilt frame per inlined level and one for the optimized
/// function, and the compiled function named as the guard's one when nothing was
/// inlined.
fn run(file: &str) -> (CorpusProgram, Vec<Deopt>, Speculating) {
    let program = designed(file);
    let (_, engine, verified) = run_designed(&program, DESIGNED);
    let all = deopts(&engine, &verified);
    for d in &all {
        assert_ne!(d.reason, "stress", "{file}: stress is off: {all:#?}");
        assert_eq!(d.frames, d.inlined_depth + 1, "{file}: {d:#?}");
        if d.inlined_depth == 0 {
            assert_eq!(d.function, d.guard_function, "{file}: {d:#?}");
        }
    }
    (program, all, engine)
}

/// [`run`] without the engine.
fn deopts_of(file: &str) -> (CorpusProgram, Vec<Deopt>) {
    let (program, all, _) = run(file);
    (program, all)
}

/// The deopts for `reason` at a guard of `function` on `line`.
fn at<'a>(all: &'a [Deopt], function: &str, reason: &str, line: u32) -> Vec<&'a Deopt> {
    all.iter()
        .filter(|d| d.guard_function == function && d.reason == reason && d.line == line)
        .collect()
}

/// The deopts of the designed program `file` for `reason` at the guard of
/// `function` on the line the program marks (or, for "overflow", the line its
/// error is reported at): at least one, at most `copies` (one per optimized copy of
/// the site made before its behaviour changed: its function's own code, a caller's
/// inlined one), with at most `others` deopts elsewhere (a loop's exit, first taken
/// at its end, is a branch bet lost too).
fn lost(file: &str, function: &str, reason: &str, copies: usize, others: usize) -> Vec<Deopt> {
    let (program, all) = deopts_of(file);
    let line = match &program.expected_error {
        Some((_, line)) if reason == "overflow" => *line,
        _ => marked_line(&program, reason),
    };
    let lost: Vec<Deopt> = at(&all, function, reason, line)
        .into_iter()
        .cloned()
        .collect();
    assert!(
        (1..=copies).contains(&lost.len()),
        "{file}: {} deopts for {reason} at line {line} of {function}, expected 1 to {copies}: \
         {all:#?}",
        lost.len()
    );
    assert!(
        all.len() - lost.len() <= others,
        "{file}: more deopts than the designed ones: {all:#?}"
    );
    lost
}

#[test]
fn a_loop_value_that_turns_from_an_integer_to_an_array_deopts_at_its_load_once() {
    isolated(|| {
        // Once: the interpreter goes on from the first array, and what is compiled
        // after it has seen arrays there and no longer bets.
        let lost = lost("int_to_array.mini", "weigh", "not an integer", 1, 2);
        assert_eq!(lost[0].function, "weigh", "{lost:#?}");
    });
}

#[test]
fn an_add_that_overflows_at_the_millionth_trip_deopts_and_raises_the_same_error() {
    isolated(|| {
        // `run_designed` has checked the error and its trace (bump, count, main).
        let lost = lost(
            "overflow_at_the_millionth_trip.mini",
            "bump",
            "overflow",
            1,
            2,
        );
        // `bump` runs inlined into `count`'s loop, or as its own optimized code.
        let d = &lost[0];
        assert!(
            (d.function == "count" && d.inlined_depth == 1)
                || (d.function == "bump" && d.inlined_depth == 0),
            "{d:#?}"
        );
    });
}

#[test]
fn a_branch_taken_for_the_first_time_late_deopts_at_its_condition() {
    isolated(|| {
        let lost = lost("branch_taken_late.mini", "scan", "branch", 1, 2);
        assert_eq!(lost[0].function, "scan", "{lost:#?}");
    });
}

#[test]
fn a_field_site_meeting_a_new_shape_deopts_at_its_shape_check() {
    isolated(|| {
        lost(
            "field_meets_a_new_shape.mini",
            "getx",
            "field cache miss",
            2,
            2,
        );
    });
}

#[test]
fn code_after_an_osr_loop_deopts_softly_at_its_first_unprofiled_field_site_and_is_entered_again() {
    isolated(|| {
        let (program, all, engine) = run("code_after_the_osr_loop.mini");
        let line = marked_line(&program, "no feedback");
        let lost = at(&all, "main", "no feedback", line);
        assert_eq!((lost.len(), all.len()), (1, 1), "{all:#?}");
        // A soft deopt: main was compiled again, and that was no lost bet's
        // recompile.
        let main = &engine.deopts()[0];
        assert_eq!((main.recompiles, main.refills), (0, 1), "{main:#?}");
        // The bet was made in main's own code: `probe`, never called then, was not
        // inlined (its sites would have been compiled as runtime calls).
        assert_eq!(lost[0].inlined_depth, 0, "{lost:#?}");
        // Main went back into optimized code, at the second loop's header.
        let osrs: Vec<usize> = engine
            .stats()
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Osr {
                    function, pc, to, ..
                } if function == "main" && *to == "optimizing" => Some(*pc),
                _ => None,
            })
            .collect();
        assert_eq!(osrs.len(), 2, "{osrs:?}");
        assert!(
            osrs[1] > osrs[0] && osrs[1] < lost[0].pc,
            "{osrs:?} {lost:#?}"
        );
    });
}

#[test]
fn a_call_value_site_meeting_a_new_target_deopts_at_its_callee_check() {
    isolated(|| {
        lost("call_meets_a_new_target.mini", "apply", "call target", 2, 2);
    });
}

#[test]
fn a_deopt_three_inlined_calls_deep_rebuilds_four_frames_and_keeps_the_trace() {
    isolated(|| {
        // `run_designed` has checked the output and the error's five frames
        // (c, b, a, run, main) against the interpreter's.
        let lost = lost("inlined_three_deep.mini", "c", "branch", 1, 2);
        let d = &lost[0];
        assert_eq!(d.function, "run", "{d:#?}");
        assert_eq!(d.inlined_depth, 3, "{d:#?}");
        assert_eq!(d.frames, 4, "{d:#?}");
    });
}

/// `deopts_and_settles.mini` with `phases` phases (the file has 12).
fn settling(phases: u32) -> String {
    let program = designed("deopts_and_settles.mini");
    assert!(program.source.contains("while phase < 12 {"));
    program
        .source
        .replace("while phase < 12 {", &format!("while phase < {phases} {{"))
}

#[test]
fn a_function_that_keeps_deopting_stops_betting_and_settles() {
    isolated(|| {
        let (program, all, engine) = run("deopts_and_settles.mini");
        let of_step: Vec<&Deopt> = all.iter().filter(|d| d.guard_function == "step").collect();
        assert!(of_step.len() >= 2, "deopts again and again: {all:#?}");
        // Three new shapes and three new branches, each lost in at most the copies
        // of `step` compiled before it came (its own code, `run`'s inlined one).
        let field = marked_line(&program, "field cache miss");
        let shapes = at(&all, "step", "field cache miss", field);
        assert!(
            !shapes.is_empty() && shapes.len() <= 6,
            "a field site seeing three new shapes: {all:#?}"
        );
        assert!(of_step.len() <= 12, "too many deopts: {all:#?}");

        let recompiled = recompiles(&engine);
        assert!(
            recompiled
                .iter()
                .any(|r| r.function == "step" || r.function == "run"),
            "no recompile: {recompiled:#?}"
        );
        // The shape guard failed more than once: its bet is dropped, or betting
        // given up altogether.
        assert!(
            recompiled
                .iter()
                .any(|r| !r.dropped.is_empty() || !r.speculating),
            "no recompile dropped a bet: {recompiled:#?}"
        );
        assert!(
            recompiled.len() <= 20,
            "recompiles without end: {recompiled:#?}"
        );

        // Settled: 28 phases more, bringing nothing new, deopt nothing more.
        let longer = load("settles_longer.mini", &settling(40));
        let (longer_run, engine) = speculating(&longer, DESIGNED.options(0));
        assert_eq!(longer_run.lines(), ["2380000"], "{:?}", longer_run.result);
        let more = deopts(&engine, &longer);
        assert_eq!(
            more.len(),
            all.len(),
            "the quiet phases deoptimized:\n{all:#?}\nthen\n{more:#?}"
        );
    });
}

#[test]
fn without_speculation_no_designed_program_deopts() {
    isolated(|| {
        for file in [
            "int_to_array.mini",
            "overflow_at_the_millionth_trip.mini",
            "branch_taken_late.mini",
            "field_meets_a_new_shape.mini",
            "call_meets_a_new_target.mini",
            "inlined_three_deep.mini",
            "deopts_and_settles.mini",
            "code_after_the_osr_loop.mini",
        ] {
            let program = designed(file);
            let verified = load(&program.name, &program.source);
            let mut options: Options = DESIGNED.options(0);
            options.speculation = false;
            let (run, engine) = speculating(&verified, options);
            if let Err(report) = program.check(&run.outcome()) {
                panic!("without speculation:\n{report}");
            }
            let all = deopts(&engine, &verified);
            assert!(all.is_empty(), "{file} without speculation: {all:#?}");
            assert!(recompiles(&engine).is_empty(), "{file}");
        }
    });
}
