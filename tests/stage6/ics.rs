//! The inline caches' state machine, by the run's events (`Event::IcTransition`): a
//! site that sees one shape is monomorphic, two to four polymorphic, five or more
//! megamorphic; the same for the functions a `call_value` site calls. The states are
//! the caches', whatever tier runs the site: each configuration (thresholds 0 and 1,
//! where the function runs in baseline and optimized code, and the defaults, where it
//! stays in the interpreter) must show the same ones. Without caches (`--no-ic`)
//! there is no transition at all.

use super::common::{at, each_config, isolated, states, transitions, Transition, CACHED, UNCACHED};

/// Objects of five shapes: each has `x`, after another field (or none).
const FIVE_SHAPES: [&str; 5] = [
    "{x: 1}",
    "{y: 0, x: 2}",
    "{z: 0, x: 3}",
    "{w: 0, x: 4}",
    "{next: 0, x: 5}",
];

/// `get`'s site (line 2) reads `x` from objects of the first `shapes` shapes, three
/// rounds over them, and prints the sum.
fn get_x_of(shapes: usize) -> String {
    format!(
        "fn get(o) {{\n  return o.x;\n}}\nlet a = [{}];\nlet s = 0;\nlet r = 0;\nwhile r < 3 {{\n  let i = 0;\n  while i < len(a) {{\n    s = s + get(a[i]);\n    i = i + 1;\n  }}\n  r = r + 1;\n}}\nprint s;\n",
        FIVE_SHAPES[..shapes].join(", ")
    )
}

/// What the site of `get` ends as after seeing `shapes` shapes.
fn expected_states(shapes: usize) -> Vec<&'static str> {
    match shapes {
        1 => vec!["uninitialized", "monomorphic"],
        2..=4 => vec!["uninitialized", "monomorphic", "polymorphic"],
        _ => vec!["uninitialized", "monomorphic", "polymorphic", "megamorphic"],
    }
}

#[test]
fn a_site_seeing_1_2_4_5_shapes_ends_monomorphic_polymorphic_polymorphic_megamorphic() {
    isolated(|| {
        for shapes in [1, 2, 4, 5] {
            let source = get_x_of(shapes);
            let sum: usize = 3 * (1..=shapes).sum::<usize>();
            each_config(&source, &CACHED, |config, run, engine| {
                assert_eq!(run.lines(), [sum.to_string()], "{config}");
                let site = at(engine, "get", 2, "x");
                assert_eq!(
                    states(&site),
                    expected_states(shapes),
                    "{shapes} shapes under {config}: {site:#?}"
                );
                // A shape is a miss once, then a hit: the three rounds over the same
                // objects add no transition past the first round's.
                let distinct: std::collections::HashSet<&str> =
                    site.iter().map(|t| t.seen.as_str()).collect();
                assert_eq!(distinct.len(), site.len(), "{config}: {site:#?}");
                assert!(site.len() <= shapes, "{config}: {site:#?}");
            });
        }
    });
}

#[test]
fn objects_built_in_the_same_order_share_a_shape_and_other_orders_do_not() {
    isolated(|| {
        let program = |second: &str| {
            format!(
                "fn get(o) {{\n  return o.x;\n}}\nlet a = {{x: 1, y: 2}};\nlet b = {second};\nprint get(a) + get(b);\nprint get(a) + get(b);\n"
            )
        };
        each_config(&program("{x: 3, y: 4}"), &CACHED, |config, run, engine| {
            assert_eq!(run.lines(), ["4", "4"], "{config}");
            let site = at(engine, "get", 2, "x");
            assert_eq!(
                states(&site),
                ["uninitialized", "monomorphic"],
                "{config}: {site:#?}"
            );
        });
        each_config(&program("{y: 4, x: 3}"), &CACHED, |config, run, engine| {
            assert_eq!(run.lines(), ["4", "4"], "{config}");
            let site = at(engine, "get", 2, "x");
            assert_eq!(
                states(&site),
                ["uninitialized", "monomorphic", "polymorphic"],
                "{config}: {site:#?}"
            );
            assert_ne!(site[0].seen, site[1].seen, "{config}: {site:#?}");
        });
    });
}

#[test]
fn objects_in_another_order_make_more_shapes() {
    isolated(|| {
        let count = |source: &str| {
            let mut shapes = Vec::new();
            each_config(source, &CACHED[..1], |_, _, engine| {
                let model = engine.model().expect("a stage 6 run has a shape model");
                shapes.push((model.shape_count(), model.transition_count()));
            });
            shapes[0]
        };
        let same = count("let a = {x: 1, y: 2};\nlet b = {x: 3, y: 4};\nprint a;\n");
        let other = count("let a = {x: 1, y: 2};\nlet b = {y: 4, x: 3};\nprint a;\n");
        // `{y, x}` takes the transitions root -> {y} -> {y, x}, two shapes more; `{x,
        // y}` again takes the ones `a` made.
        assert_eq!(
            other.0,
            same.0 + 2,
            "shapes: same order {same:?}, other {other:?}"
        );
        assert_eq!(
            other.1,
            same.1 + 2,
            "transitions: same {same:?}, other {other:?}"
        );
    });
}

#[test]
fn a_field_added_after_construction_takes_the_literal_s_transition() {
    isolated(|| {
        // `b` gets `y` by a store: it ends in the shape of the literal `{x, y}`, so
        // `get`'s site sees one shape.
        let source = "fn get(o) {\n  return o.y;\n}\nlet a = {x: 1, y: 2};\nlet b = {x: 3};\nb.y = 4;\nprint get(a) + get(b);\nprint b;\n";
        each_config(source, &CACHED, |config, run, engine| {
            assert_eq!(run.lines(), ["6", "{x: 3, y: 4}"], "{config}");
            let get = at(engine, "get", 2, "y");
            assert_eq!(
                states(&get),
                ["uninitialized", "monomorphic"],
                "{config}: {get:#?}"
            );
            // The store that added `y` saw `b` in the shape `{x}`, not `{x, y}`.
            let store = at(engine, "main", 6, "y");
            assert_eq!(
                states(&store),
                ["uninitialized", "monomorphic"],
                "{config}: {store:#?}"
            );
            assert_ne!(store[0].seen, get[0].seen, "{config}");
        });
    });
}

#[test]
fn a_store_that_adds_a_field_in_a_loop_is_one_cached_transition() {
    isolated(|| {
        let source = "let i = 0;\nlet s = 0;\nwhile i < 50 {\n  let o = {x: i};\n  o.y = i * 2;\n  s = s + o.y - o.x;\n  i = i + 1;\n}\nprint s;\n";
        each_config(source, &CACHED, |config, run, engine| {
            assert_eq!(run.lines(), ["1225"], "{config}");
            // Every object takes the same transition {x} -> {x, y}: one shape, one
            // miss, then hits.
            let store = at(engine, "main", 5, "y");
            assert_eq!(
                states(&store),
                ["uninitialized", "monomorphic"],
                "{config}: {store:#?}"
            );
            assert_eq!(store.len(), 1, "{config}: {store:#?}");
        });
    });
}

/// Five functions, and a loop that calls the first `targets` of them through one
/// `call_value` site (line 10).
fn call_through_value(targets: usize) -> String {
    format!(
        "fn f0(x) {{ return x; }}\nfn f1(x) {{ return x + 1; }}\nfn f2(x) {{ return x + 2; }}\nfn f3(x) {{ return x + 3; }}\nfn f4(x) {{ return x + 4; }}\nlet fs = [{}];\nlet s = 0;\nlet i = 0;\nwhile i < {} {{\n  s = s + fs[i % len(fs)](i);\n  i = i + 1;\n}}\nprint s;\n",
        (0..targets).map(|i| format!("f{i}")).collect::<Vec<_>>().join(", "),
        4 * targets
    )
}

#[test]
fn a_call_value_site_caches_1_2_and_5_targets_as_mono_poly_and_megamorphic() {
    isolated(|| {
        for targets in [1, 2, 5] {
            let source = call_through_value(targets);
            each_config(&source, &CACHED, |config, _, engine| {
                let site = at(engine, "main", 10, "call");
                assert_eq!(
                    states(&site),
                    expected_states(targets),
                    "{targets} targets under {config}: {site:#?}"
                );
                assert!(site.iter().all(|t| t.seen.starts_with('f')), "{site:#?}");
            });
        }
    });
}

#[test]
fn without_caches_no_site_makes_a_transition_and_the_answers_are_the_same() {
    isolated(|| {
        for source in [get_x_of(5), call_through_value(5)] {
            each_config(&source, &UNCACHED, |config, _, engine| {
                let all: Vec<Transition> = transitions(engine);
                assert!(all.is_empty(), "{config}: {all:#?}");
            });
        }
    });
}

#[test]
fn every_transition_names_a_known_state_and_moves_forward() {
    isolated(|| {
        let order = ["uninitialized", "monomorphic", "polymorphic", "megamorphic"];
        let rank = |s: &str| {
            order
                .iter()
                .position(|o| *o == s)
                .unwrap_or_else(|| panic!("unknown state {s}"))
        };
        each_config(&get_x_of(5), &CACHED, |config, _, engine| {
            let all = transitions(engine);
            assert!(!all.is_empty(), "{config}");
            for t in &all {
                assert!(rank(&t.from) <= rank(&t.to), "{config}: {t:?}");
            }
        });
    });
}
