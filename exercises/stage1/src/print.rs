//! Formatting values as `print` writes them: `42`, `[1, 2]`, `{x: 1, y: 2}`, `<fn f>`.
//!
//! A structure that contains itself prints the inner occurrence as `[...]` or `{...}`.
//! Only true cycles count: an array shared twice, but not inside itself, prints in full
//! each time. The walk keeps its own stack, so a 100,000-deep nesting prints without
//! recursing natively.
//!
//! `print` streams: [`write_value`] writes the text to its writer as it walks, so the
//! memory it takes is the walk's stack (as deep as the value is nested), however long
//! the text. An array doubled 40 times (`a = [a, a]`) has 2^40 elements: it prints for
//! a very long time, in a few KiB, and a failing writer (a closed pipe, a full disk)
//! stops it at once with `cannot write output`.

use std::collections::HashSet;
use std::io::{self, Write};

use crate::bytecode::Program;
use crate::error::ErrorKind;
use crate::heap::Heap;
use crate::value::{Kind, Value};

/// The longest text [`format_value`] makes; past it, the text ends with
/// [`TRUNCATED`]. (`print` has no such limit: it streams.)
pub const FORMAT_LIMIT: usize = 1 << 20;

/// What ends a text [`format_value`] cut at [`FORMAT_LIMIT`].
pub const TRUNCATED: &str = " …(truncated)";

/// `v` as `print` writes it (without the newline), as a string of at most
/// [`FORMAT_LIMIT`] bytes and [`TRUNCATED`]: for the value a run returns, which a
/// test or a tool holds in memory whole.
///
/// # Panics
/// When `v` is an array or object of another heap (see [`Heap::holds`]).
pub fn format_value(program: &Program, heap: &Heap, v: Value) -> String {
    let mut text = Capped(Vec::new());
    let complete = write_value(&mut text, program, heap, v).is_ok();
    let mut text = text.0;
    if !complete {
        // Cut at a character boundary (names are UTF-8).
        while !text.is_empty() && std::str::from_utf8(&text).is_err() {
            text.pop();
        }
    }
    let mut text = String::from_utf8(text).unwrap_or_default();
    if !complete {
        text.push_str(TRUNCATED);
    }
    text
}

/// A writer that takes at most [`FORMAT_LIMIT`] bytes, then fails.
struct Capped(Vec<u8>);

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = FORMAT_LIMIT - self.0.len();
        if room == 0 {
            return Err(io::Error::other("format limit"));
        }
        let n = buf.len().min(room);
        self.0.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Bytes [`Chunked`] gathers before it writes them on.
pub const PRINT_CHUNK: usize = 8 * 1024;

/// A writer that gathers what it is given in `buf` and writes it to `out` in chunks
/// of [`PRINT_CHUNK`] bytes: `print`'s text goes out as it is made, in few writes.
/// Call [`Chunked::finish`] to write the rest.
pub struct Chunked<'a, W: Write + ?Sized> {
    /// What is not written yet (kept by the caller to reuse its allocation).
    pub buf: &'a mut Vec<u8>,
    /// Where the text goes.
    pub out: &'a mut W,
}

impl<W: Write + ?Sized> Chunked<'_, W> {
    /// Writes what is left in the buffer.
    pub fn finish(&mut self) -> io::Result<()> {
        let result = self.out.write_all(self.buf);
        self.buf.clear();
        result
    }
}

impl<W: Write + ?Sized> Write for Chunked<'_, W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PRINT_CHUNK {
            self.finish()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.finish()?;
        self.out.flush()
    }
}

/// A container being printed: the value, and the index of its next element or field.
struct Open {
    container: Value,
    next: usize,
}

/// Writes `v`, as `print` writes it (without the newline), to `out`, as it goes.
/// Fails with `cannot write output` when `out` fails, and `out of memory` when the
/// walk's stack cannot grow; what was written before stays written.
///
/// # Panics
/// When `v` is an array or object of another heap (see [`Heap::holds`]).
pub fn write_value<W: Write + ?Sized>(
    out: &mut W,
    program: &Program,
    heap: &Heap,
    v: Value,
) -> Result<(), ErrorKind> {
    assert!(heap.holds(v), "write_value: a value of another heap");
    let put = |out: &mut W, text: &[u8]| out.write_all(text).map_err(|_| ErrorKind::Output);
    // The containers on the path from `v` to the element being printed, innermost
    // last, and the same as a set to spot a cycle in one step.
    let mut path: Vec<Open> = Vec::new();
    let mut on_path: HashSet<Value> = HashSet::new();
    let mut next = Some(v);
    loop {
        if let Some(v) = next.take() {
            match v.kind() {
                Kind::Int => {
                    write!(out, "{}", v.as_int()).map_err(|_| ErrorKind::Output)?;
                }
                Kind::Function => {
                    let name = v
                        .to_function()
                        .and_then(|f| program.functions.get(f as usize))
                        .map_or("?", |f| f.name.as_str());
                    write!(out, "<fn {name}>").map_err(|_| ErrorKind::Output)?;
                }
                Kind::Array | Kind::Object if on_path.contains(&v) => {
                    let text = if v.kind() == Kind::Array {
                        "[...]"
                    } else {
                        "{...}"
                    };
                    put(out, text.as_bytes())?;
                }
                Kind::Array | Kind::Object => {
                    put(out, if v.kind() == Kind::Array { b"[" } else { b"{" })?;
                    // The walk's memory grows with the nesting: past what the
                    // allocator gives, it is a clean `out of memory`.
                    path.try_reserve(1).map_err(|_| ErrorKind::OutOfMemory)?;
                    on_path.try_reserve(1).map_err(|_| ErrorKind::OutOfMemory)?;
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
            return Ok(());
        };
        let c = top.container;
        let i = top.next;
        top.next += 1;
        if c.kind() == Kind::Array {
            // SAFETY: `c` is `v`, checked above, or was reached from it through blocks
            // of `heap`, which hold only values of `heap` (every store checks it).
            match unsafe { heap.array_elems_unchecked(c) }.get(i) {
                Some(&elem) => {
                    if i > 0 {
                        put(out, b", ")?;
                    }
                    next = Some(elem);
                }
                None => {
                    put(out, b"]")?;
                    on_path.remove(&c);
                    path.pop();
                }
            }
        } else {
            // SAFETY: as for arrays above.
            match unsafe { heap.object_field_at_unchecked(c, i) } {
                Some((field, value)) => {
                    if i > 0 {
                        put(out, b", ")?;
                    }
                    let name = program.fields.get(field as usize).map_or("?", |s| s);
                    put(out, name.as_bytes())?;
                    put(out, b": ")?;
                    next = Some(value);
                }
                None => {
                    put(out, b"}")?;
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
    fn a_formatted_value_is_cut_at_the_limit() {
        let (p, mut h) = (program(), Heap::default());
        let mut a = h.alloc_array(&[Value::int(1), Value::int(2)]).unwrap();
        for _ in 0..20 {
            a = h.alloc_array(&[a, a]).unwrap();
        }
        let text = format_value(&p, &h, a);
        assert_eq!(text.len(), FORMAT_LIMIT + TRUNCATED.len());
        assert!(text.starts_with("[[[[") && text.ends_with(TRUNCATED));
    }

    #[test]
    fn write_value_stops_at_the_first_failed_write() {
        let (p, mut h) = (program(), Heap::default());
        let a = h.alloc_array(&[Value::int(1), Value::int(2)]).unwrap();
        let mut full = [0u8; 3];
        let mut out = &mut full[..];
        assert_eq!(write_value(&mut out, &p, &h, a), Err(ErrorKind::Output));
        assert_eq!(&full, b"[1,");
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
