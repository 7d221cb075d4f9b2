//! Shapes (hidden classes): which fields an object has, in which order, and so where
//! each field's value is — one shape shared by every object built the same way.
//!
//! Every object starts with the empty shape. Adding a field moves it along a
//! *transition* to the shape with that field appended: `{}` `+x` → `{x}` `+y` →
//! `{x, y}`. Transitions are remembered, so the next object that adds `x` and then `y`
//! reaches the very same shapes, and the shapes of a run form a tree rooted at the
//! empty shape (`jitlab dump --shapes` prints it). An object built in another order
//! (`y` first) takes another branch and has another shape, since its slots differ.
//!
//! A field's slot is its place in the insertion order — Mini never deletes a field —
//! so a shape is only its parent and the field it adds, and `print`'s order is the
//! shape's order. What makes a shape worth having is that it is one machine word that
//! says where every field is: an inline cache remembers "shape S → slot 2" and
//! answers every later object of shape S with a compare and a load.
//!
//! The fields in order are kept as V8 keeps its *descriptor arrays*: shared along a
//! chain. A shape that adds a field to the shape owning the end of an array appends
//! to that array and takes it over; only a second branch from the same shape copies
//! its prefix. Building an object of n fields costs n appends, not n²/2 copies.
//!
//! Shapes are never freed during a run. Ids are small integers in creation order:
//! events and tables say `shape 3`, and an object's first word is its shape's
//! *word*, the id plus one — never 0, which marks an empty cache entry, and small
//! enough to be an instruction's 32-bit immediate, so that native code compares an
//! object's shape with a cached one in one `cmp` (see `layout.rs`). A shape's address
//! would do as well for finding it, but an address does not fit an immediate: every
//! compare would first load the 64-bit constant into a register.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

use stage1::bytecode::Program;

/// A shape's number: its place in creation order, the empty shape being 0.
pub type ShapeId = u32;

/// The shape of an object with no fields, where every object starts.
pub const EMPTY: ShapeId = 0;

/// One shape, immutable once made.
#[derive(Debug)]
pub struct Shape {
    /// Its number, in creation order.
    id: ShapeId,
    /// How many fields an object of this shape has: the first `len` of its
    /// descriptor array.
    len: u32,
    /// Which of the tree's descriptor arrays holds its fields.
    descriptors: u32,
    /// The field it adds to its parent (unused for the empty shape).
    field: u32,
    /// The shape it was made from (itself for the empty shape).
    parent: ShapeId,
}

impl Shape {
    /// Its number.
    pub fn id(&self) -> ShapeId {
        self.id
    }

    /// How many fields objects of this shape have.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether it is the empty shape.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The transitions out of one shape: field id → the shape that adds it.
pub type Transitions = HashMap<u32, ShapeId, BuildHasherDefault<FieldHasher>>;

/// The hash of a field id in [`Transitions`]: one multiply. Field ids are small
/// integers that the program fixed, not keys an attacker chooses, so the default
/// SipHash's defence costs time (a transition is looked up at every field added
/// without a cache) and buys nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct FieldHasher(u64);

impl Hasher for FieldHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: the odd multiplier spreads consecutive ids over the
        // high bits and keeps them apart in the low ones.
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Every shape of a run and the transitions between them.
#[derive(Debug)]
pub struct ShapeTree {
    /// The shapes, by id.
    shapes: Vec<Shape>,
    /// The transitions out of each shape, by id: field → the shape that adds it.
    transitions: Vec<Transitions>,
    /// The descriptor arrays: field ids in insertion order, each shared by a chain
    /// of shapes (a shape uses a prefix).
    descriptors: Vec<Vec<u32>>,
}

impl Default for ShapeTree {
    fn default() -> ShapeTree {
        ShapeTree::new()
    }
}

impl ShapeTree {
    /// A tree holding only the empty shape.
    pub fn new() -> ShapeTree {
        let mut tree = ShapeTree {
            shapes: Vec::new(),
            transitions: Vec::new(),
            descriptors: vec![Vec::new()],
        };
        tree.push(Shape {
            id: EMPTY,
            len: 0,
            descriptors: 0,
            field: 0,
            parent: EMPTY,
        });
        tree
    }

    /// Keeps `shape`, the next id's.
    fn push(&mut self, shape: Shape) -> ShapeId {
        debug_assert_eq!(shape.id as usize, self.shapes.len());
        let id = shape.id;
        self.shapes.push(shape);
        self.transitions.push(Transitions::default());
        id
    }

    /// Shape `id`.
    ///
    /// # Panics
    /// When there is no such shape.
    pub fn shape(&self, id: ShapeId) -> &Shape {
        &self.shapes[id as usize]
    }

    /// The word of shape `id`: what an object of that shape holds first, and what
    /// caches and native code compare (its id plus one).
    pub fn word(&self, id: ShapeId) -> u64 {
        debug_assert!((id as usize) < self.shapes.len());
        u64::from(id) + 1
    }

    /// The shape whose word is `word` (an object's first word, or a cache entry's
    /// shape).
    ///
    /// # Panics
    /// When no shape of this tree has that word.
    pub fn at(&self, word: u64) -> &Shape {
        let id = word.checked_sub(1).expect("a shape word is not 0");
        self.shape(ShapeId::try_from(id).expect("a shape word is an id plus one"))
    }

    /// How many shapes there are, the empty one included.
    pub fn count(&self) -> usize {
        self.shapes.len()
    }

    /// How many transitions were made: one for every shape but the empty one.
    pub fn transition_count(&self) -> usize {
        self.transitions.iter().map(HashMap::len).sum()
    }

    /// The fields of objects of shape `id`, in insertion order (the slot of each is
    /// its index).
    pub fn fields(&self, id: ShapeId) -> &[u32] {
        let shape = self.shape(id);
        &self.descriptors[shape.descriptors as usize][..shape.len()]
    }

    /// The slot of `field` in objects of shape `id`, or `None` when they have no
    /// such field: what a cache miss looks up.
    pub fn slot(&self, id: ShapeId, field: u32) -> Option<u32> {
        todo!(
            "slot-lookup: the slot of `field` in shape `id`: its place in the shape's fields — book §6.3"
        )
    }

    /// The shape of an object of shape `from` once `field` (which it does not have)
    /// is added: the transition made earlier for the same field, or a new shape.
    pub fn transition(&mut self, from: ShapeId, field: u32) -> ShapeId {
        debug_assert!(self.slot(from, field).is_none());
        todo!(
            "transition-lookup: follow the transition for `field` out of `from`, making it (with `add_shape`) the first time — book §6.2"
        )
    }

    /// A new shape: `parent` with `field` appended (no transition recorded).
    fn add_shape(&mut self, parent: ShapeId, field: u32) -> ShapeId {
        let (len, array) = {
            let p = self.shape(parent);
            (p.len(), p.descriptors as usize)
        };
        // The parent owns the end of its array when no other shape extended it: then
        // the new shape shares it; otherwise it gets a copy of the parent's prefix.
        let descriptors = if self.descriptors[array].len() == len {
            self.descriptors[array].push(field);
            array
        } else {
            let mut copy = Vec::with_capacity(len + 1);
            copy.extend_from_slice(&self.descriptors[array][..len]);
            copy.push(field);
            self.descriptors.push(copy);
            self.descriptors.len() - 1
        };
        let id = self.shapes.len() as ShapeId;
        self.push(Shape {
            id,
            len: len as u32 + 1,
            descriptors: descriptors as u32,
            field,
            parent,
        })
    }

    /// The transition tree, one shape per line, each child indented under its
    /// parent after the field it adds: `+y -> shape 2 {x, y}`. A deep tree stops
    /// indenting at [`DUMP_DEPTH`] levels and says the depth instead, and a long
    /// field list shows its first and last fields, so the text stays proportional to
    /// the number of shapes.
    pub fn dump(&self, program: &Program) -> String {
        let name = |f: u32| {
            program
                .fields
                .get(f as usize)
                .map_or_else(|| format!("#{f}"), Clone::clone)
        };
        let mut children: Vec<Vec<ShapeId>> = vec![Vec::new(); self.count()];
        for id in 1..self.count() as ShapeId {
            children[self.shape(id).parent as usize].push(id);
        }
        let mut out = String::from("shape 0 {}\n");
        // Depth-first with a stack of its own: a chain of 100,000 fields is fine.
        let mut stack: Vec<(ShapeId, usize)> = children[EMPTY as usize]
            .iter()
            .rev()
            .map(|&child| (child, 1))
            .collect();
        while let Some((id, depth)) = stack.pop() {
            let fields = self.fields(id);
            let listed: Vec<String> = if fields.len() <= DUMP_FIELDS {
                fields.iter().map(|&f| name(f)).collect()
            } else {
                let (first, last) = (&fields[..DUMP_FIELDS - 2], fields[fields.len() - 1]);
                let mut listed: Vec<String> = first.iter().map(|&f| name(f)).collect();
                listed.push(format!(".. {} more", fields.len() - DUMP_FIELDS + 1));
                listed.push(name(last));
                listed
            };
            out.push_str(&"  ".repeat(depth.min(DUMP_DEPTH)));
            if depth > DUMP_DEPTH {
                let _ = write!(out, "[depth {depth}] ");
            }
            let _ = writeln!(
                out,
                "+{} -> shape {id} {{{}}}",
                name(self.shape(id).field),
                listed.join(", ")
            );
            for &child in children[id as usize].iter().rev() {
                stack.push((child, depth + 1));
            }
        }
        out
    }
}

/// The deepest level [`ShapeTree::dump`] indents.
pub const DUMP_DEPTH: usize = 24;
/// The most fields [`ShapeTree::dump`] lists of one shape.
pub const DUMP_FIELDS: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_built_the_same_way_share_shapes() {
        let mut tree = ShapeTree::new();
        let x = tree.transition(EMPTY, 0);
        let xy = tree.transition(x, 1);
        assert_eq!(tree.transition(EMPTY, 0), x);
        assert_eq!(tree.transition(x, 1), xy);
        assert_eq!(tree.count(), 3);
        assert_eq!(tree.transition_count(), 2);
        assert_eq!((x, xy), (1, 2));
        assert_eq!(tree.fields(xy), &[0, 1]);
    }

    #[test]
    fn another_order_is_another_shape_with_other_slots() {
        let mut tree = ShapeTree::new();
        let x = tree.transition(EMPTY, 0);
        let xy = tree.transition(x, 1);
        let y = tree.transition(EMPTY, 1);
        let yx = tree.transition(y, 0);
        assert_ne!(xy, yx);
        assert_eq!(tree.fields(yx), &[1, 0]);
        assert_eq!(tree.slot(xy, 0), Some(0));
        assert_eq!(tree.slot(yx, 0), Some(1));
        assert_eq!(tree.slot(yx, 1), Some(0));
        assert_eq!(tree.slot(x, 1), None);
        assert_eq!(tree.slot(EMPTY, 0), None);
    }

    #[test]
    fn branches_keep_their_own_fields() {
        let mut tree = ShapeTree::new();
        let a = tree.transition(EMPTY, 0);
        let ab = tree.transition(a, 1);
        let abc = tree.transition(ab, 2);
        // A second child of `a` copies its prefix; the first chain is untouched.
        let ad = tree.transition(a, 3);
        let ade = tree.transition(ad, 4);
        assert_eq!(tree.fields(abc), &[0, 1, 2]);
        assert_eq!(tree.fields(ab), &[0, 1]);
        assert_eq!(tree.fields(ade), &[0, 3, 4]);
        assert_eq!(tree.fields(a), &[0]);
        assert_eq!(tree.slot(ade, 4), Some(2));
        assert_eq!(tree.slot(ade, 1), None);
        // The chain shares one array: 3 fields, plus the branch's copy of 3.
        assert_eq!(tree.descriptors.iter().map(Vec::len).sum::<usize>(), 6);
    }

    #[test]
    fn a_shape_is_found_again_by_its_word() {
        let mut tree = ShapeTree::new();
        let x = tree.transition(EMPTY, 7);
        // Many more shapes: the first ones keep their words.
        let word = tree.word(x);
        let mut s = x;
        for f in 0..1000 {
            s = tree.transition(s, 100 + f);
        }
        assert_eq!(tree.word(x), word);
        assert_ne!(tree.word(EMPTY), 0, "0 marks an empty cache entry");
        assert!(i32::try_from(tree.word(s)).is_ok(), "an immediate");
        let shape = tree.at(word);
        assert_eq!((shape.id(), shape.len()), (x, 1));
        assert_eq!(tree.shape(s).len(), 1001);
    }

    #[test]
    fn the_dump_is_the_tree() {
        let mut tree = ShapeTree::new();
        let x = tree.transition(EMPTY, 0);
        tree.transition(x, 1);
        tree.transition(EMPTY, 1);
        let program = Program {
            fields: vec!["x".into(), "y".into()],
            ..Program::default()
        };
        assert_eq!(
            tree.dump(&program),
            "shape 0 {}\n  +x -> shape 1 {x}\n    +y -> shape 2 {x, y}\n  +y -> shape 3 {y}\n"
        );
    }

    #[test]
    fn a_deep_dump_stays_short() {
        let mut tree = ShapeTree::new();
        let mut s = EMPTY;
        for f in 0..30 {
            s = tree.transition(s, f);
        }
        let dump = tree.dump(&Program::default());
        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(lines.len(), 31);
        assert_eq!(lines[3], "      +#2 -> shape 3 {#0, #1, #2}");
        assert_eq!(
            lines[30],
            format!(
                "{}[depth 30] +#29 -> shape 30 {{#0, #1, #2, #3, #4, #5, .. 23 more, #29}}",
                "  ".repeat(DUMP_DEPTH)
            )
        );
    }
}
