//! Objects with shapes behave as stage 1's objects did, in every tier, with and
//! without caches: fields print in insertion order (past the inline slots too, and
//! after fields added later), a repeated field keeps its first place, a missing field
//! is `no such field` with the interpreter's line and trace (at a cached site of any
//! state, in any tier), a field of a non-object a `type error`; and the megamorphic
//! cache, a fixed table, gives the right slot when it is full and entries evict each
//! other.

use super::common::{at, configs, each_config, isolated, states, CACHED};

#[test]
fn fields_print_in_insertion_order_with_many_fields_and_fields_added_later() {
    isolated(|| {
        let source = "let o = {b: 1, a: 2, d: 3};\no.c = 4;\no.b = 5;\no.z = 6;\no.y = 7;\no.x = 8;\nprint o;\nlet e = {};\ne.q = 1;\nprint e;\nprint {};\nlet r = {x: 1, y: 2, x: 3};\nprint r;\nlet same = {b: 0, a: 0, d: 0, c: 0, z: 0, y: 0, x: 0};\nprint same;\n";
        each_config(source, &configs(), |config, run, _| {
            assert_eq!(
                run.lines(),
                [
                    "{b: 5, a: 2, d: 3, c: 4, z: 6, y: 7, x: 8}",
                    "{q: 1}",
                    "{}",
                    "{x: 3, y: 2}",
                    "{b: 0, a: 0, d: 0, c: 0, z: 0, y: 0, x: 0}",
                ],
                "{config}"
            );
        });
    });
}

#[test]
fn fields_past_the_inline_slots_read_and_write_through_the_caches() {
    isolated(|| {
        // Eight fields: four inline, four in the overflow block (which grows as
        // fields are added); the loop reads and writes each through its site.
        let source = "fn bump(o, k) {\n  o.h = o.h + k;\n  o.a = o.a + o.h;\n  return o.g + o.h + o.a;\n}\nlet i = 0;\nlet s = 0;\nwhile i < 30 {\n  let o = {a: 1, b: 2, c: 3, d: 4, e: 5};\n  o.f = 6;\n  o.g = 7;\n  o.h = i;\n  s = s + bump(o, 2) + bump(o, 3);\n  i = i + 1;\n}\nprint s;\n";
        // Computed by hand: with h = i, the first bump gives h = i+2, a = i+3 and
        // 7 + (i+2) + (i+3); the second h = i+5, a = 2i+8 and 7 + (i+5) + (2i+8).
        let expected: i64 = (0..30).map(|i| (2 * i + 12) + (3 * i + 20)).sum();
        each_config(source, &configs(), |config, run, _| {
            assert_eq!(run.lines(), [expected.to_string()], "{config}");
        });
    });
}

#[test]
fn a_missing_field_is_no_such_field_at_the_same_line_at_every_state() {
    isolated(|| {
        // `get`'s site is monomorphic, polymorphic or megamorphic by the time the
        // object without `x` comes: the error is the interpreter's in every case
        // (each_config compares the whole trace).
        for shapes in [1, 2, 5] {
            let objects = [
                "{x: 1}",
                "{y: 1, x: 2}",
                "{z: 1, x: 3}",
                "{w: 1, x: 4}",
                "{v: 1, x: 5}",
            ];
            let source = format!(
                "fn get(o) {{\n  return o.x;\n}}\nlet a = [{}];\nlet i = 0;\nwhile i < 40 {{\n  print get(a[i % len(a)]);\n  i = i + 1;\n}}\nprint get({{y: 1}});\nprint 0;\n",
                objects[..shapes].join(", ")
            );
            each_config(&source, &configs(), |config, run, _| {
                let e = run.error();
                assert_eq!(e.kind.message(), "no such field", "{config}");
                let lines: Vec<u32> = e.trace.iter().map(|f| f.line).collect();
                assert_eq!(lines, [2, 10], "{shapes} shapes, {config}: {e}");
                assert_eq!(run.lines().len(), 40, "{config}");
            });
        }
    });
}

#[test]
fn a_field_of_an_integer_or_an_array_is_a_type_error_at_a_cached_site() {
    isolated(|| {
        for bad in ["7", "[1, 2]"] {
            let source = format!(
                "fn get(o) {{\n  return o.x;\n}}\nlet i = 0;\nwhile i < 20 {{\n  print get({{x: i}});\n  i = i + 1;\n}}\nprint get({bad});\n"
            );
            each_config(&source, &configs(), |config, run, _| {
                let e = run.error();
                assert_eq!(e.kind.message(), "type error", "{config}");
                assert_eq!(e.trace.first().map(|f| f.line), Some(2), "{config}: {e}");
            });
        }
    });
}

/// A program that makes 2,048 objects of 2,048 shapes (`x`, then any subset of 11
/// fields, then `y` = 2i: `y`'s slot differs from shape to shape), and reads `y - x`
/// (= i) of each, twice over, at one site (line 18): far more (shape, field) pairs
/// than a megamorphic table of a thousand entries holds, so entries collide and
/// evict each other, and a stale entry would give another shape's slot.
const MANY_SHAPES: &str = "fn make(i) {
  let o = {x: i};
  if i % 2 == 1 { o.a = 1; }
  if i / 2 % 2 == 1 { o.b = 1; }
  if i / 4 % 2 == 1 { o.c = 1; }
  if i / 8 % 2 == 1 { o.d = 1; }
  if i / 16 % 2 == 1 { o.e = 1; }
  if i / 32 % 2 == 1 { o.f = 1; }
  if i / 64 % 2 == 1 { o.g = 1; }
  if i / 128 % 2 == 1 { o.h = 1; }
  if i / 256 % 2 == 1 { o.j = 1; }
  if i / 512 % 2 == 1 { o.k = 1; }
  if i / 1024 % 2 == 1 { o.l = 1; }
  o.y = 2 * i;
  return o;
}
fn read(o) {
  return o.y - o.x;
}
let n = 2048;
let objects = [0; n];
let i = 0;
while i < n {
  objects[i] = make(i);
  i = i + 1;
}
let round = 0;
let wrong = 0;
let sum = 0;
while round < 2 {
  i = 0;
  while i < n {
    let v = read(objects[i]);
    if v != i { wrong = wrong + 1; }
    sum = sum + v;
    i = i + 1;
  }
  round = round + 1;
}
print wrong;
print sum;
print objects[2047];
";

#[test]
fn the_megamorphic_cache_stays_correct_when_full() {
    isolated(|| {
        let sum = 2 * (2047 * 2048 / 2);
        let last =
            "{x: 2047, a: 1, b: 1, c: 1, d: 1, e: 1, f: 1, g: 1, h: 1, j: 1, k: 1, l: 1, y: 4094}";
        each_config(MANY_SHAPES, &configs(), |config, run, _| {
            assert_eq!(
                run.lines(),
                ["0".to_string(), sum.to_string(), last.to_string()],
                "{config}"
            );
        });
        each_config(MANY_SHAPES, &CACHED, |config, _, engine| {
            let site = at(engine, "read", 18, "y");
            assert_eq!(
                states(&site).last().map(String::as_str),
                Some("megamorphic"),
                "{config}: {site:#?}"
            );
            let model = engine.model().expect("a shape model");
            assert!(
                model.shape_count() >= 2048,
                "{config}: {} shapes",
                model.shape_count()
            );
        });
    });
}
