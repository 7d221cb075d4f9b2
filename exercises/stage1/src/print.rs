//! Formatting values as `print` writes them: `42`, `[1, 2]`, `{x: 1, y: 2}`, `<fn f>`.
//!
//! A structure that contains itself prints the inner occurrence as `[...]` or `{...}`.
//! Only true cycles count: an array shared twice, but not inside itself, prints in full
//! each time. The walk keeps its own stack, so a 100,000-deep nesting prints without
//! recursing natively.

use std::collections::HashSet;
use std::fmt::Write;

use crate::bytecode::Program;
use crate::heap::Heap;
use crate::value::{Kind, Value};

/// `v` as `print` writes it (without the newline).
pub fn format_value(program: &Program, heap: &Heap, v: Value) -> String {
    let mut text = String::new();
    write_value(&mut text, program, heap, v);
    text
}

/// A container being printed: the value, and the index of its next element or field.
struct Open {
    container: Value,
    next: usize,
}

/// Appends `v`, as `print` writes it, to `out`.
pub fn write_value(out: &mut String, program: &Program, heap: &Heap, v: Value) {
    // The containers on the path from `v` to the element being printed, innermost
    // last, and the same as a set to spot a cycle in one step.
    let mut path: Vec<Open> = Vec::new();
    let mut on_path: HashSet<Value> = HashSet::new();
    let mut next = Some(v);
    loop {
        if let Some(v) = next.take() {
            match v.kind() {
                Kind::Int => {
                    let _ = write!(out, "{}", v.as_int());
                }
                Kind::Function => {
                    let name = v
                        .to_function()
                        .and_then(|f| program.functions.get(f as usize))
                        .map_or("?", |f| f.name.as_str());
                    let _ = write!(out, "<fn {name}>");
                }
                Kind::Array | Kind::Object if on_path.contains(&v) => {
                    out.push_str(if v.kind() == Kind::Array {
                        "[...]"
                    } else {
                        "{...}"
                    });
                }
                Kind::Array | Kind::Object => {
                    out.push(if v.kind() == Kind::Array { '[' } else { '{' });
                    on_path.insert(v);
                    path.push(Open {
                        container: v,
                        next: 0,
                    });
                }
            }
        }
        // Take the next element of the innermost open container, or close it.
        let Some(top) = path.last_mut() else {
            return;
        };
        let c = top.container;
        let i = top.next;
        top.next += 1;
        if c.kind() == Kind::Array {
            match heap.array_elems(c).get(i) {
                Some(&elem) => {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    next = Some(elem);
                }
                None => {
                    out.push(']');
                    on_path.remove(&c);
                    path.pop();
                }
            }
        } else {
            match heap.object_fields(c).get(i) {
                Some(&(field, value)) => {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let name = program.fields.get(field as usize).map_or("?", |s| s);
                    out.push_str(name);
                    out.push_str(": ");
                    next = Some(value);
                }
                None => {
                    out.push('}');
                    on_path.remove(&c);
                    path.pop();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::Function;

    fn program() -> Program {
        Program {
            functions: vec![Function {
                name: "main".into(),
                arity: 0,
                locals: 0,
                code: vec![],
                lines: vec![],
            }],
            constants: vec![],
            fields: vec!["x".into(), "y".into()],
        }
    }

    #[test]
    fn scalars_print_plainly() {
        let (p, h) = (program(), Heap::default());
        assert_eq!(format_value(&p, &h, Value::int(-42)), "-42");
        assert_eq!(
            format_value(&p, &h, Value::int(crate::value::INT_MIN)),
            "-4611686018427387904"
        );
        assert_eq!(format_value(&p, &h, Value::function(0)), "<fn main>");
    }

    #[test]
    fn arrays_and_objects_print_nested() {
        let (p, mut h) = (program(), Heap::default());
        let empty = h.alloc_array(&[]).unwrap();
        let o = h.alloc_object().unwrap();
        h.set_field(o, 1, Value::int(2)).unwrap();
        h.set_field(o, 0, empty).unwrap();
        let a = h
            .alloc_array(&[Value::int(1), o, Value::function(0)])
            .unwrap();
        assert_eq!(format_value(&p, &h, a), "[1, {y: 2, x: []}, <fn main>]");
        let e = h.alloc_object().unwrap();
        assert_eq!(format_value(&p, &h, e), "{}");
    }

    #[test]
    fn cycles_print_as_ellipses_but_sharing_prints_in_full() {
        let (p, mut h) = (program(), Heap::default());
        let a = h.alloc_array_fill(Value::ZERO, 2).unwrap();
        h.array_set(a, Value::int(1), a).unwrap();
        assert_eq!(format_value(&p, &h, a), "[0, [...]]");

        let o = h.alloc_object().unwrap();
        h.set_field(o, 0, o).unwrap();
        h.set_field(o, 1, a).unwrap();
        assert_eq!(format_value(&p, &h, o), "{x: {...}, y: [0, [...]]}");

        let shared = h.alloc_array(&[Value::int(7)]).unwrap();
        let twice = h.alloc_array(&[shared, shared]).unwrap();
        assert_eq!(format_value(&p, &h, twice), "[[7], [7]]");
    }

    #[test]
    fn deep_nesting_prints_without_native_recursion() {
        let (p, mut h) = (program(), Heap::default());
        let mut a = h.alloc_array(&[]).unwrap();
        for _ in 0..100_000 {
            a = h.alloc_array(&[a]).unwrap();
        }
        // A small native stack proves the walk does not recurse.
        let text = std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn_scoped(s, || format_value(&p, &h, a))
                .unwrap()
                .join()
                .unwrap()
        });
        assert_eq!(text.len(), 2 * 100_001);
        assert!(text.starts_with("[[[") && text.ends_with("]]]"));
    }
}
