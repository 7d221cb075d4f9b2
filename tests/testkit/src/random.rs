//! A seeded generator of random Mini programs, for differential testing: every engine
//! must give the same output and the same end as the stage 1 interpreter on each.
//!
//! The programs always terminate quickly. Loops count a fresh counter to a small
//! bound; a function calls only functions generated before it (a DAG), or itself with
//! a depth argument that starts at most at `MAX_DEPTH` and goes down; and a static
//! cost estimate (statements run, multiplied by loop counts and callee costs) keeps
//! every program under a budget. Values are mostly well typed, so that programs run
//! for a while, with a per-program rate of risky operations (division by values that
//! may be zero, indices that may be out of bounds, missing fields, wrong arities,
//! type errors) so that many of them end in a runtime error somewhere.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The largest depth argument a recursive function is first called with.
const MAX_DEPTH: i64 = 5;
/// Cost budget of one function's body (recursive bodies get a tenth).
const FUNCTION_BUDGET: u64 = 1_500;
/// Cost budget of `main`: with the functions' costs folded in, a bound on the work of
/// the whole program (a cost unit is a statement, some ten instructions).
const MAIN_BUDGET: u64 = 12_000;
/// Field names that objects draw from.
const FIELDS: [&str; 5] = ["x", "y", "z", "w", "next"];
/// Field names of [`object_program`]'s objects: more of them, so that objects have
/// many shapes and some have more fields than an object holds inline (stage 6 keeps
/// four in the object, the rest in an overflow block).
const OBJECT_FIELDS: [&str; 12] = [
    "x", "y", "z", "w", "next", "a", "b", "c", "d", "e", "f", "g",
];
/// The fields [`object_program`]'s shared objects all have (so that one site reads
/// them from objects of many shapes): the first ones of [`OBJECT_FIELDS`].
const COMMON_FIELDS: usize = 3;
/// Integers at the interesting edges: the limits, around 2^31 and 2^32, and
/// 2^31 * 2^31 = 2^62, which just overflows.
const EDGES: [&str; 10] = [
    "4611686018427387903",
    "-4611686018427387903",
    "(-4611686018427387903 - 1)",
    "2147483648",
    "2147483647",
    "4294967296",
    "-2147483648",
    "3037000499",
    "1099511627776",
    "-1",
];

/// How many seeds a suite runs: `JITLAB_RANDOM=N` when set (more on demand), else
/// `default`. Panics with a clear message when the variable is not a number.
pub fn seed_count(default: u64) -> u64 {
    match std::env::var("JITLAB_RANDOM") {
        Ok(n) => n
            .parse()
            .unwrap_or_else(|_| panic!("JITLAB_RANDOM must be a number of seeds, not `{n}`")),
        Err(_) => default,
    }
}

/// A random Mini program, the same for the same seed.
pub fn program(seed: u64) -> String {
    Generator::new(seed, false).program()
}

/// A random Mini program of [`program`]'s kind that also builds objects of many
/// shapes (the same fields in other orders, up to eight fields, fields added after
/// construction), reads and writes them at sites that see several shapes (a loop
/// over an array of differently built objects, accessor functions called with any
/// object) and now and then reads a field an object lacks: what stage 6's shapes and
/// inline caches must get right. The same for the same seed; [`program`]'s seeds
/// give the programs they always gave.
pub fn object_program(seed: u64) -> String {
    Generator::new(seed, true).program()
}

/// What the generator knows about a local's value.
#[derive(Clone, Debug, PartialEq)]
enum Ty {
    /// An integer; `bound` is `Some(n)` for a loop counter, always in `0..n`.
    Int { bound: Option<u32> },
    /// An array of integers of a known length.
    Array(u32),
    /// An object that has at least these fields, all integers.
    Object(Vec<&'static str>),
    /// The function value of function `index`.
    Func(usize),
    /// A structure only printed and compared: nested, cyclic, mixed.
    Other,
}

#[derive(Clone, Debug)]
struct Var {
    name: String,
    ty: Ty,
    /// Loop counters and depth parameters must keep their value.
    assignable: bool,
}

#[derive(Clone, Debug)]
struct FnInfo {
    name: String,
    arity: usize,
    /// Estimated cost of one call, calls it makes included.
    cost: u64,
    /// Whether its first parameter is a decreasing depth.
    recursive: bool,
}

/// The function being generated.
struct Context {
    scopes: Vec<Vec<Var>>,
    /// Index and arity of the function, when it is recursive (it may call itself).
    recursive_self: Option<(usize, usize)>,
    self_calls: u32,
    cost: u64,
    budget: u64,
    /// How many times the current statement may run per call (loop counts multiplied).
    multiplier: u64,
    loop_depth: u32,
    block_depth: u32,
    statements_left: u32,
    /// A name being declared, not visible in its own initializer.
    hidden: Option<String>,
}

struct Generator {
    rng: SmallRng,
    functions: Vec<FnInfo>,
    next_name: u32,
    /// Chance that a risky choice goes the risky way, fixed per program.
    risk: f64,
    /// Chance that a literal is big (near the limits, where arithmetic overflows),
    /// fixed per program: some programs stay small and run long, others live at the
    /// edges.
    big: f64,
    /// Make objects of many shapes ([`object_program`]): object statements, more
    /// fields, accessor functions.
    objects: bool,
    /// The field names objects draw from.
    fields: &'static [&'static str],
    /// The accessor functions (`o0`, `o1`, ..) of an object program.
    accessors: Vec<Accessor>,
    cx: Context,
}

/// A function of an object program that reads or writes fields of any object it is
/// given: its sites see the shapes of every caller's objects.
#[derive(Clone, Debug)]
struct Accessor {
    name: String,
    /// The fields it reads (an object without one of them is `no such field`).
    reads: Vec<&'static str>,
    /// Whether it takes a second argument (the value it stores).
    stores: bool,
}

impl Generator {
    fn new(seed: u64, objects: bool) -> Generator {
        let mut rng = SmallRng::seed_from_u64(seed);
        let risk = [0.0, 0.01, 0.03, 0.08][rng.gen_range(0..4)];
        let big = [0.01, 0.04, 0.15][rng.gen_range(0..3)];
        Generator {
            rng,
            functions: Vec::new(),
            next_name: 0,
            risk,
            big,
            objects,
            fields: if objects { &OBJECT_FIELDS } else { &FIELDS },
            accessors: Vec::new(),
            cx: Context::new(0, 0),
        }
    }

    fn program(mut self) -> String {
        let mut before = String::new();
        let mut after = String::new();
        // An object program's accessors come first: every function may call them.
        if self.objects {
            for index in 0..self.rng.gen_range(1..=3) {
                let text = self.accessor(index);
                if self.rng.gen_bool(0.5) {
                    before.push_str(&text);
                } else {
                    after.push_str(&text);
                }
            }
        }
        let count = self.rng.gen_range(0..=5);
        for index in 0..count {
            let text = self.function(index);
            // Functions are visible everywhere: some come after the code that calls them.
            if self.rng.gen_bool(0.7) {
                before.push_str(&text);
            } else {
                after.push_str(&text);
            }
        }
        self.cx = Context::new(MAIN_BUDGET, self.rng.gen_range(8..=30));
        let mut main = String::new();
        self.statements(&mut main, 0, u32::MAX);
        if self.rng.gen_bool(0.3) {
            let value = self.any_expr(2);
            main.push_str(&format!("return {value};\n"));
        }
        format!("{before}{main}{after}")
    }

    /// One function declaration; it may call the functions before it.
    fn function(&mut self, index: usize) -> String {
        let recursive = self.rng.gen_bool(0.35);
        let arity = self.rng.gen_range(usize::from(recursive)..=3);
        let name = format!("f{index}");
        let budget = if recursive {
            FUNCTION_BUDGET / 10
        } else {
            FUNCTION_BUDGET
        };
        self.cx = Context::new(budget, self.rng.gen_range(2..=8));
        let mut params = Vec::new();
        for i in 0..arity {
            let (pname, assignable) = if recursive && i == 0 {
                ("n".to_string(), false)
            } else {
                (format!("p{i}"), true)
            };
            params.push(pname.clone());
            self.cx.scopes[0].push(Var {
                name: pname,
                ty: Ty::Int { bound: None },
                assignable,
            });
        }
        let mut body = String::new();
        if recursive {
            // The base case is written before the function may call itself: a
            // self-call there would never reach a smaller `n`.
            let base = self.int_expr(1);
            body.push_str(&format!("  if n <= 0 {{ return {base}; }}\n"));
            self.cx.recursive_self = Some((index, arity));
        }
        self.statements(&mut body, 1, u32::MAX);
        if self.rng.gen_bool(0.85) {
            let value = self.int_expr(3);
            body.push_str(&format!("  return {value};\n"));
        }
        let mut cost = self.cx.cost.max(1);
        if recursive {
            // At most `sites^0 + .. + sites^MAX_DEPTH` calls of the body.
            let sites = u64::from(self.cx.self_calls);
            cost *= (0..=MAX_DEPTH as u32).map(|d| sites.pow(d)).sum::<u64>();
        }
        self.functions.push(FnInfo {
            name: name.clone(),
            arity,
            cost,
            recursive,
        });
        format!("fn {name}({}) {{\n{body}}}\n", params.join(", "))
    }

    /// Statements into `out` at `indent` levels, until the function's statement
    /// allowance or `limit` runs out.
    fn statements(&mut self, out: &mut String, indent: usize, limit: u32) {
        let mut written = 0;
        while self.cx.statements_left > 0 && written < limit {
            self.cx.statements_left -= 1;
            written += 1;
            let text = self.statement(indent);
            out.push_str(&text);
        }
    }

    fn statement(&mut self, indent: usize) -> String {
        let pad = "  ".repeat(indent);
        let nested_ok = self.cx.block_depth < 3;
        // Object programs draw an object statement now and then (other programs draw
        // nothing here, so that their seeds keep their programs).
        if self.objects && self.rng.gen_bool(0.25) {
            if let Some(text) = self.object_statement(indent) {
                self.cx.cost += self.cx.multiplier;
                return format!("{pad}{text}\n");
            }
        }
        loop {
            let text = match self.rng.gen_range(0..100) {
                0..=13 => self.let_int(),
                14..=24 => self.assign_int(),
                25..=38 => {
                    let value = self.int_expr(3);
                    Some(format!("print {value};"))
                }
                39..=44 => Some(format!("print {};", self.any_expr(2))),
                45..=53 if nested_ok => Some(self.if_statement(indent)),
                54..=60 if nested_ok => self.while_statement(indent),
                61..=65 => Some(self.let_array()),
                66..=70 => self.array_set(),
                71..=74 => Some(self.let_object()),
                75..=78 => self.field_set(),
                79..=81 => self.let_function(),
                82..=86 => self.call_statement(),
                87..=89 if nested_ok => Some(self.shadowing_block(indent)),
                90..=92 => Some(self.structure().replace('\n', &format!("\n{pad}"))),
                93..=94 => self.bad_condition(indent),
                95..=96 if self.cx.block_depth > 0 && self.rng.gen_bool(0.3) => {
                    let value = self.int_expr(2);
                    Some(format!("return {value};"))
                }
                _ => {
                    let value = self.int_expr(2);
                    Some(format!("print {value};"))
                }
            };
            if let Some(text) = text {
                self.cx.cost += self.cx.multiplier;
                // Multi-line statements carry their own inner indentation.
                return format!("{pad}{text}\n");
            }
        }
    }

    fn let_int(&mut self) -> Option<String> {
        let name = self.new_local_name();
        self.cx.hidden = Some(name.clone());
        let value = self.int_expr(3);
        self.cx.hidden = None;
        self.declare(&name, Ty::Int { bound: None }, true);
        Some(format!("let {name} = {value};"))
    }

    fn assign_int(&mut self) -> Option<String> {
        let target = self.pick_var(|v| v.assignable && matches!(v.ty, Ty::Int { .. }))?;
        let value = self.int_expr(3);
        Some(format!("{target} = {value};"))
    }

    fn if_statement(&mut self, indent: usize) -> String {
        let pad = "  ".repeat(indent);
        let mut text = String::new();
        let branches = self.rng.gen_range(1..=3);
        for branch in 0..branches {
            let cond = self.condition();
            let keyword = if branch == 0 { "if" } else { " else if" };
            text.push_str(&format!("{keyword} {cond} {{\n"));
            self.block(&mut text, indent + 1, 3);
            text.push_str(&format!("{pad}}}"));
        }
        if self.rng.gen_bool(0.5) {
            text.push_str(" else {\n");
            self.block(&mut text, indent + 1, 3);
            text.push_str(&format!("{pad}}}"));
        }
        text
    }

    /// A bounded loop: a fresh counter that the body cannot assign.
    fn while_statement(&mut self, indent: usize) -> Option<String> {
        if self.cx.loop_depth >= 2 {
            return None;
        }
        let count = self.rng.gen_range(0..=6u32);
        let inner = self.cx.multiplier * u64::from(count + 1);
        if self.cx.cost + inner * 4 > self.cx.budget {
            return None;
        }
        let pad = "  ".repeat(indent);
        let counter = self.new_local_name();
        self.declare(&counter, Ty::Int { bound: None }, false);
        let saved = self.cx.multiplier;
        self.cx.multiplier = inner;
        self.cx.loop_depth += 1;
        let extra = if self.rng.gen_bool(0.2) {
            format!(" && {}", self.condition())
        } else {
            String::new()
        };
        let mut text = format!("let {counter} = 0;\n{pad}while {counter} < {count}{extra} {{\n");
        self.cx.scopes.push(Vec::new());
        self.cx.block_depth += 1;
        self.cx.scopes.last_mut().unwrap().push(Var {
            name: counter.clone(),
            ty: Ty::Int { bound: Some(count) },
            assignable: false,
        });
        let n = self.rng.gen_range(1..=4);
        self.statements(&mut text, indent + 1, n);
        self.cx.block_depth -= 1;
        self.cx.scopes.pop();
        text.push_str(&format!("{pad}  {counter} = {counter} + 1;\n{pad}}}"));
        self.cx.loop_depth -= 1;
        self.cx.multiplier = saved;
        Some(text)
    }

    /// A block in braces (the caller writes them) with its own scope.
    fn block(&mut self, out: &mut String, indent: usize, max: u32) {
        self.cx.scopes.push(Vec::new());
        self.cx.block_depth += 1;
        let n = self.rng.gen_range(1..=max);
        self.statements(out, indent, n);
        self.cx.block_depth -= 1;
        self.cx.scopes.pop();
    }

    /// `if 1 { let x = ...; ... }` where `x` shadows an outer local or a function.
    fn shadowing_block(&mut self, indent: usize) -> String {
        let pad = "  ".repeat(indent);
        let mut names: Vec<String> = self
            .cx
            .scopes
            .iter()
            .flatten()
            // The depth parameter keeps its meaning: a self-call in the block must
            // still pass a smaller `n`.
            .filter(|v| !(self.cx.recursive_self.is_some() && v.name == "n"))
            .map(|v| v.name.clone())
            .collect();
        names.extend(self.functions.iter().map(|f| f.name.clone()));
        let mut text = "if 1 {\n".to_string();
        self.cx.scopes.push(Vec::new());
        self.cx.block_depth += 1;
        if !names.is_empty() {
            let name = names[self.rng.gen_range(0..names.len())].clone();
            self.cx.hidden = Some(name.clone());
            let (value, ty) = if self.rng.gen_bool(0.7) {
                (self.int_expr(2), Ty::Int { bound: None })
            } else {
                self.array_literal()
            };
            self.cx.hidden = None;
            text.push_str(&format!("{pad}  let {name} = {value};\n"));
            self.declare(&name, ty, true);
            text.push_str(&format!("{pad}  print {name};\n"));
        }
        let n = self.rng.gen_range(1..=3);
        self.statements(&mut text, indent + 1, n);
        self.cx.block_depth -= 1;
        self.cx.scopes.pop();
        text.push_str(&format!("{pad}}}"));
        text
    }

    fn let_array(&mut self) -> String {
        let name = self.new_local_name();
        self.cx.hidden = Some(name.clone());
        let (value, ty) = self.array_literal();
        self.cx.hidden = None;
        self.declare(&name, ty, false);
        format!("let {name} = {value};")
    }

    /// `[a, b, c]` or `[v; n]`, with its type; `n` is a literal, rarely negative or
    /// past the size limit.
    fn array_literal(&mut self) -> (String, Ty) {
        if self.rng.gen_bool(0.5) {
            let n = self.rng.gen_range(0..=5);
            let items: Vec<String> = (0..n).map(|_| self.int_expr(2)).collect();
            (format!("[{}]", items.join(", ")), Ty::Array(n))
        } else {
            let fill = self.int_expr(1);
            if self.risky() {
                let n = ["-1", "-7", "268435457", "1099511627776"][self.rng.gen_range(0..4)];
                (format!("[{fill}; {n}]"), Ty::Array(0))
            } else {
                let n = self.rng.gen_range(0..=8);
                (format!("[{fill}; {n}]"), Ty::Array(n))
            }
        }
    }

    fn array_set(&mut self) -> Option<String> {
        let (name, ty) = self.pick_typed(|t| matches!(t, Ty::Array(_)))?;
        let Ty::Array(len) = ty else { return None };
        let index = self.index_for(len);
        let value = self.int_expr(2);
        Some(format!("{name}[{index}] = {value};"))
    }

    fn let_object(&mut self) -> String {
        let name = self.new_local_name();
        self.cx.hidden = Some(name.clone());
        let n = self.rng.gen_range(0..=if self.objects { 7 } else { 4 });
        let mut fields: Vec<&'static str> = Vec::new();
        let mut parts = Vec::new();
        for _ in 0..n {
            let field = self.fields[self.rng.gen_range(0..self.fields.len())];
            let value = self.int_expr(2);
            parts.push(format!("{field}: {value}"));
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        self.cx.hidden = None;
        self.declare(&name, Ty::Object(fields), false);
        format!("let {name} = {{{}}};", parts.join(", "))
    }

    fn field_set(&mut self) -> Option<String> {
        let (name, _) = self.pick_typed(|t| matches!(t, Ty::Object(_)))?;
        let field = self.fields[self.rng.gen_range(0..self.fields.len())];
        let value = self.int_expr(2);
        if self.objects {
            // A store in the object's own scope runs before every later statement
            // of that scope: they may read the field it adds.
            self.learn_field(&name, field);
        }
        Some(format!("{name}.{field} = {value};"))
    }

    /// `name`, a local of the innermost scope, has `field` from here on.
    fn learn_field(&mut self, name: &str, field: &'static str) {
        let hidden = self.cx.hidden.as_deref() == Some(name);
        if let Some(var) = self
            .cx
            .scopes
            .last_mut()
            .unwrap()
            .iter_mut()
            .rev()
            .find(|v| v.name == name)
        {
            if let (Ty::Object(fields), false) = (&mut var.ty, hidden) {
                if !fields.contains(&field) {
                    fields.push(field);
                }
            }
        }
    }

    /// An accessor function of an object program: reads (or stores and reads) a
    /// field or two of whatever object it is given.
    fn accessor(&mut self, index: usize) -> String {
        let name = format!("o{index}");
        let field = OBJECT_FIELDS[self.rng.gen_range(0..COMMON_FIELDS)];
        let (text, reads, stores) = match self.rng.gen_range(0..3) {
            0 => (
                format!("fn {name}(o) {{\n  return o.{field};\n}}\n"),
                vec![field],
                false,
            ),
            1 => {
                let other = OBJECT_FIELDS[self.rng.gen_range(0..COMMON_FIELDS)];
                (
                    format!("fn {name}(o) {{\n  return o.{field} * 3 + o.{other};\n}}\n"),
                    vec![field, other],
                    false,
                )
            }
            _ => {
                // A store that adds the field to an object without it: a transition
                // at a site that sees many shapes.
                let stored = OBJECT_FIELDS[self.rng.gen_range(0..OBJECT_FIELDS.len())];
                (
                    format!(
                        "fn {name}(o, v) {{\n  o.{stored} = v;\n  return o.{stored} + o.{field};\n}}\n"
                    ),
                    vec![field],
                    true,
                )
            }
        };
        self.accessors.push(Accessor {
            name,
            reads,
            stores,
        });
        text
    }

    /// A statement of an object program: a loop over objects of many shapes, an
    /// object built field by field, or an accessor called with an object.
    fn object_statement(&mut self, indent: usize) -> Option<String> {
        match self.rng.gen_range(0..3) {
            0 => self.shape_loop(indent),
            1 => Some(self.built_object(indent)),
            _ => self.accessor_call(),
        }
    }

    /// An object literal with the common fields (one may be missing when the program
    /// is feeling risky) and some others, in a random order.
    fn shaped_literal(&mut self) -> String {
        let mut fields: Vec<&'static str> = OBJECT_FIELDS[..COMMON_FIELDS].to_vec();
        if self.risky() && self.rng.gen_bool(0.5) {
            fields.remove(self.rng.gen_range(0..COMMON_FIELDS));
        }
        for _ in 0..self.rng.gen_range(0..=5) {
            let field = OBJECT_FIELDS[self.rng.gen_range(0..OBJECT_FIELDS.len())];
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        // Shuffle: the same fields in another order make another shape.
        for i in (1..fields.len()).rev() {
            let j = self.rng.gen_range(0..=i);
            fields.swap(i, j);
        }
        let parts: Vec<String> = fields
            .iter()
            .map(|f| format!("{f}: {}", self.int_expr(1)))
            .collect();
        format!("{{{}}}", parts.join(", "))
    }

    /// An array of objects of several shapes and a loop whose sites read and write
    /// each of them: a site that sees 1 to 7 shapes (monomorphic to megamorphic).
    fn shape_loop(&mut self, indent: usize) -> Option<String> {
        if self.cx.loop_depth >= 2 {
            return None;
        }
        let count = self.rng.gen_range(1..=7u32);
        let inner = self.cx.multiplier * u64::from(count + 1);
        if self.cx.cost + inner * 8 > self.cx.budget {
            return None;
        }
        let pad = "  ".repeat(indent);
        let array = self.new_local_name();
        let counter = self.new_local_name();
        self.cx.hidden = Some(array.clone());
        let objects: Vec<String> = (0..count).map(|_| self.shaped_literal()).collect();
        self.cx.hidden = None;
        let mut text = format!("let {array} = [{}];\n", objects.join(", "));
        text.push_str(&format!(
            "{pad}let {counter} = 0;\n{pad}while {counter} < {count} {{\n"
        ));
        let saved = self.cx.multiplier;
        self.cx.multiplier = inner;
        self.cx.loop_depth += 1;
        let item = format!("{array}[{counter}]");
        for _ in 0..self.rng.gen_range(1..=3) {
            let common = OBJECT_FIELDS[self.rng.gen_range(0..COMMON_FIELDS)];
            let line = match self.rng.gen_range(0..5) {
                0 | 1 => format!("print {item}.{common};"),
                2 => {
                    let field = OBJECT_FIELDS[self.rng.gen_range(0..OBJECT_FIELDS.len())];
                    let value = self.int_expr(1);
                    format!("{item}.{field} = {value};")
                }
                3 => format!("{item}.{common} = {item}.{common} + {counter};"),
                _ => match self.accessor_text(&item) {
                    Some(call) => format!("print {call};"),
                    None => format!("print {item};"),
                },
            };
            text.push_str(&format!("{pad}  {line}\n"));
        }
        text.push_str(&format!("{pad}  {counter} = {counter} + 1;\n{pad}}}"));
        self.cx.loop_depth -= 1;
        self.cx.multiplier = saved;
        self.declare(&array, Ty::Other, false);
        self.declare(&counter, Ty::Int { bound: None }, false);
        Some(text)
    }

    /// `let v = {..};` and then fields added to it one by one (past the inline slots
    /// now and then), in a random order.
    fn built_object(&mut self, indent: usize) -> String {
        let pad = "  ".repeat(indent);
        let name = self.new_local_name();
        self.cx.hidden = Some(name.clone());
        let mut fields: Vec<&'static str> = Vec::new();
        let mut text = if self.rng.gen_bool(0.5) {
            format!("let {name} = {{}};")
        } else {
            let first = OBJECT_FIELDS[self.rng.gen_range(0..OBJECT_FIELDS.len())];
            fields.push(first);
            format!("let {name} = {{{first}: {}}};", self.int_expr(1))
        };
        for _ in 0..self.rng.gen_range(1..=7) {
            let field = OBJECT_FIELDS[self.rng.gen_range(0..OBJECT_FIELDS.len())];
            let value = self.int_expr(1);
            text.push_str(&format!("\n{pad}{name}.{field} = {value};"));
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        self.cx.hidden = None;
        self.declare(&name, Ty::Object(fields), false);
        text
    }

    /// Any accessor called with `object`, whatever its fields (the call may be `no
    /// such field`); `None` when the program has no accessor.
    fn accessor_text(&mut self, object: &str) -> Option<String> {
        if self.accessors.is_empty() {
            return None;
        }
        let a = self.accessors[self.rng.gen_range(0..self.accessors.len())].clone();
        Some(self.accessor_text_for(&a, object))
    }

    /// `print oK(v);` with an object local that has what the accessor reads (any
    /// object when the program is feeling risky).
    fn accessor_call(&mut self) -> Option<String> {
        if self.accessors.is_empty() {
            return None;
        }
        let a = self.accessors[self.rng.gen_range(0..self.accessors.len())].clone();
        let risky = self.risky();
        let (object, _) = self.pick_typed(|t| match t {
            Ty::Object(fields) => risky || a.reads.iter().all(|r| fields.contains(r)),
            _ => false,
        })?;
        let call = self.accessor_text_for(&a, &object);
        Some(format!("print {call};"))
    }

    /// The call of accessor `a` with `object`.
    fn accessor_text_for(&mut self, a: &Accessor, object: &str) -> String {
        if a.stores {
            let value = self.int_expr(1);
            format!("{}({object}, {value})", a.name)
        } else {
            format!("{}({object})", a.name)
        }
    }

    fn let_function(&mut self) -> Option<String> {
        let index = self.callable_function()?;
        let name = self.new_local_name();
        let fname = self.functions[index].name.clone();
        self.declare(&name, Ty::Func(index), false);
        Some(format!("let {name} = {fname};"))
    }

    fn call_statement(&mut self) -> Option<String> {
        let call = self.call_expr()?;
        Some(format!("{call};"))
    }

    /// A structure that is only printed: nested, cyclic or mixed.
    fn structure(&mut self) -> String {
        let name = self.new_local_name();
        self.cx.hidden = Some(name.clone());
        let text = match self.rng.gen_range(0..4) {
            0 => {
                let a = self.int_expr(1);
                format!("let {name} = [{a}, 0];\n{name}[1] = {name};\nprint {name};")
            }
            1 => {
                let a = self.int_expr(1);
                format!("let {name} = {{x: {a}}};\n{name}.next = {name};\nprint {name};")
            }
            2 => {
                let items: Vec<String> = (0..self.rng.gen_range(1..=4))
                    .map(|_| self.any_expr(1))
                    .collect();
                format!("let {name} = [{}];\nprint {name};", items.join(", "))
            }
            _ => {
                let (inner, _) = self.array_literal();
                let value = self.int_expr(1);
                format!("let {name} = {{a: {inner}, b: [{value}, {inner}]}};\nprint {name};")
            }
        };
        self.cx.hidden = None;
        self.declare(&name, Ty::Other, false);
        text
    }

    /// A condition on a heap value, a type error when it runs.
    fn bad_condition(&mut self, indent: usize) -> Option<String> {
        if !self.risky() {
            return None;
        }
        let (name, _) =
            self.pick_typed(|t| matches!(t, Ty::Array(_) | Ty::Object(_) | Ty::Func(_)))?;
        let pad = "  ".repeat(indent);
        Some(match self.rng.gen_range(0..3) {
            0 => format!("if {name} {{\n{pad}  print 1;\n{pad}}}"),
            1 => format!("print !{name};"),
            _ => format!("print 1 && {name};"),
        })
    }

    /// An integer (or 0/1) condition.
    fn condition(&mut self) -> String {
        match self.rng.gen_range(0..4) {
            0 => self.int_expr(2),
            _ => {
                let a = self.int_expr(2);
                let b = self.int_expr(2);
                let op = ["<", "<=", ">", ">=", "==", "!="][self.rng.gen_range(0..6)];
                format!("{a} {op} {b}")
            }
        }
    }

    /// An expression of any type, for print and `==`.
    fn any_expr(&mut self, depth: u32) -> String {
        match self.rng.gen_range(0..6) {
            0 | 1 => self.int_expr(depth),
            2 => self.array_literal().0,
            _ => match self.pick_typed(|t| !matches!(t, Ty::Int { .. })) {
                Some((name, _)) => name,
                None => self.int_expr(depth),
            },
        }
    }

    /// An integer expression, nested at most `depth` deep.
    fn int_expr(&mut self, depth: u32) -> String {
        if depth == 0 {
            return self.int_leaf();
        }
        let d = depth - 1;
        for _ in 0..8 {
            let expr = match self.rng.gen_range(0..100) {
                0..=19 => Some(self.int_leaf()),
                20..=39 => {
                    let op = ["+", "-", "*", "+", "-"][self.rng.gen_range(0..5)];
                    let (a, b) = (self.int_expr(d), self.int_expr(d));
                    Some(self.maybe_paren(format!("{a} {op} {b}")))
                }
                40..=46 => {
                    let op = ["/", "%"][self.rng.gen_range(0..2)];
                    let a = self.int_expr(d);
                    let b = if self.risky() || self.rng.gen_bool(0.1) {
                        self.int_expr(d)
                    } else {
                        let n: i64 = self.rng.gen_range(1..=9);
                        if self.rng.gen_bool(0.3) {
                            format!("-{n}")
                        } else {
                            n.to_string()
                        }
                    };
                    Some(self.maybe_paren(format!("{a} {op} {b}")))
                }
                47..=54 => {
                    let op = ["<", "<=", ">", ">=", "==", "!="][self.rng.gen_range(0..6)];
                    let (a, b) = (self.int_expr(d), self.int_expr(d));
                    Some(format!("({a} {op} {b})"))
                }
                55..=60 => {
                    let op = ["&&", "||"][self.rng.gen_range(0..2)];
                    let (a, b) = (self.int_expr(d), self.int_expr(d));
                    Some(format!("({a} {op} {b})"))
                }
                61..=63 => Some(format!("!({})", self.int_expr(d))),
                64..=66 => Some(format!("-({})", self.int_expr(d))),
                67..=74 => self.call_expr(),
                75..=79 => self.array_get(),
                80..=81 => self
                    .pick_typed(|t| matches!(t, Ty::Array(_)))
                    .map(|(name, _)| format!("len({name})")),
                82..=86 => self.field_get(),
                87..=90 => self.heap_compare(),
                91..=92 => Some(if self.rng.gen_bool(0.5) {
                    "true".into()
                } else {
                    "false".into()
                }),
                93..=94 if self.risky() => self.type_error_expr(),
                _ => Some(self.int_leaf()),
            };
            if let Some(expr) = expr {
                return expr;
            }
        }
        self.int_leaf()
    }

    fn maybe_paren(&mut self, expr: String) -> String {
        if self.rng.gen_bool(0.6) {
            format!("({expr})")
        } else {
            expr
        }
    }

    /// A literal or an integer local.
    fn int_leaf(&mut self) -> String {
        if self.rng.gen_bool(0.5) {
            if let Some(name) = self.pick_var(|v| matches!(v.ty, Ty::Int { .. })) {
                return name;
            }
        }
        self.literal()
    }

    fn literal(&mut self) -> String {
        if self.rng.gen_bool(self.big) {
            return if self.rng.gen_bool(0.7) {
                EDGES[self.rng.gen_range(0..EDGES.len())].to_string()
            } else {
                self.rng
                    .gen_range(-(1i64 << 62) + 1..(1i64 << 62))
                    .to_string()
            };
        }
        if self.rng.gen_bool(0.8) {
            self.rng.gen_range(-10..=20i64).to_string()
        } else {
            self.rng.gen_range(0..=1000i64).to_string()
        }
    }

    fn risky(&mut self) -> bool {
        self.rng.gen_bool(self.risk)
    }

    /// An index for an array of `len` elements: in bounds unless the program is
    /// feeling risky.
    fn index_for(&mut self, len: u32) -> String {
        if len > 0 && !self.risky() {
            if self.rng.gen_bool(0.4) {
                if let Some(name) =
                    self.pick_var(|v| matches!(v.ty, Ty::Int { bound: Some(b) } if b <= len))
                {
                    return name;
                }
            }
            return self.rng.gen_range(0..len).to_string();
        }
        match self.rng.gen_range(0..3) {
            0 => len.to_string(),
            1 => "-1".to_string(),
            _ => self.int_expr(1),
        }
    }

    fn array_get(&mut self) -> Option<String> {
        let (name, ty) = self.pick_typed(|t| matches!(t, Ty::Array(_)))?;
        let Ty::Array(len) = ty else { return None };
        let index = self.index_for(len);
        Some(format!("{name}[{index}]"))
    }

    fn field_get(&mut self) -> Option<String> {
        let (name, ty) = self.pick_typed(|t| matches!(t, Ty::Object(_)))?;
        let Ty::Object(fields) = ty else { return None };
        let field = if self.risky() {
            self.fields[self.rng.gen_range(0..self.fields.len())]
        } else if fields.is_empty() {
            return None;
        } else {
            fields[self.rng.gen_range(0..fields.len())]
        };
        Some(format!("{name}.{field}"))
    }

    /// `==`/`!=` where a side is a heap value: identity, or int against heap.
    fn heap_compare(&mut self) -> Option<String> {
        let (a, _) = self.pick_typed(|t| !matches!(t, Ty::Int { .. }))?;
        let b = match self.rng.gen_range(0..3) {
            0 => a.clone(),
            1 => self.any_expr(1),
            _ => self.int_leaf(),
        };
        let op = if self.rng.gen_bool(0.5) { "==" } else { "!=" };
        Some(format!("({a} {op} {b})"))
    }

    /// An operation that is a type error at run time.
    fn type_error_expr(&mut self) -> Option<String> {
        let (heap, _) = self.pick_typed(|t| !matches!(t, Ty::Int { .. }))?;
        let int = self.int_leaf();
        Some(match self.rng.gen_range(0..6) {
            0 => format!("({heap} + {int})"),
            1 => format!("({int} * {heap})"),
            2 => format!("({heap} < {int})"),
            3 => format!("-{heap}"),
            4 => match self.pick_var(|v| matches!(v.ty, Ty::Int { .. })) {
                Some(name) => format!("{name}(1)"),
                None => format!("len({int})"),
            },
            _ => format!("len({int})"),
        })
    }

    /// A call of an earlier function (direct or through a value), of a recursive
    /// function by itself, or nothing when none fits the budget.
    fn call_expr(&mut self) -> Option<String> {
        if let Some((index, arity)) = self.cx.recursive_self {
            if self.cx.loop_depth == 0 && self.cx.self_calls < 2 && self.rng.gen_bool(0.5) {
                self.cx.self_calls += 1;
                let step = self.rng.gen_range(1..=2);
                let mut args = vec![format!("n - {step}")];
                args.extend((1..arity).map(|_| self.int_expr(1)));
                return Some(format!("f{index}({})", args.join(", ")));
            }
        }
        if self.rng.gen_bool(0.3) {
            if let Some((name, Ty::Func(index))) = self.pick_typed(|t| matches!(t, Ty::Func(_))) {
                if self.affordable(index) {
                    let mut arity = self.functions[index].arity;
                    if self.risky() {
                        arity = (arity + 1) % 4;
                    }
                    let args = self.arguments(index, arity);
                    return Some(format!("{name}({args})"));
                }
            }
        }
        let index = self.callable_function()?;
        let arity = self.functions[index].arity;
        let args = self.arguments(index, arity);
        Some(format!("{}({args})", self.functions[index].name))
    }

    /// `count` arguments for function `index`; a depth argument is a small literal.
    fn arguments(&mut self, index: usize, count: usize) -> String {
        let recursive = self.functions[index].recursive;
        let args: Vec<String> = (0..count)
            .map(|i| {
                if recursive && i == 0 {
                    self.rng.gen_range(0..=MAX_DEPTH).to_string()
                } else {
                    self.int_expr(1)
                }
            })
            .collect();
        args.join(", ")
    }

    /// Can one more call of function `index` run here within the budget? If so, its
    /// cost is charged.
    fn affordable(&mut self, index: usize) -> bool {
        let cost = self.cx.multiplier * self.functions[index].cost;
        if self.cx.cost + cost > self.cx.budget {
            return false;
        }
        self.cx.cost += cost;
        true
    }

    /// A function that is not shadowed here and fits the budget (its cost charged).
    fn callable_function(&mut self) -> Option<usize> {
        if self.functions.is_empty() {
            return None;
        }
        let index = self.rng.gen_range(0..self.functions.len());
        let name = self.functions[index].name.clone();
        if self.lookup(&name).is_some() || self.cx.hidden.as_deref() == Some(name.as_str()) {
            return None;
        }
        self.affordable(index).then_some(index)
    }

    fn new_local_name(&mut self) -> String {
        self.next_name += 1;
        format!("v{}", self.next_name)
    }

    fn declare(&mut self, name: &str, ty: Ty, assignable: bool) {
        self.cx.scopes.last_mut().unwrap().push(Var {
            name: name.to_string(),
            ty,
            assignable,
        });
    }

    /// The innermost local called `name`.
    fn lookup(&self, name: &str) -> Option<&Var> {
        self.cx
            .scopes
            .iter()
            .rev()
            .flatten()
            .rev()
            .find(|v| v.name == name)
    }

    /// A random visible local satisfying `keep` (a shadowed one is not visible).
    fn pick_var(&mut self, keep: impl Fn(&Var) -> bool) -> Option<String> {
        let visible: Vec<&Var> = self
            .cx
            .scopes
            .iter()
            .flatten()
            .filter(|v| {
                self.cx.hidden.as_deref() != Some(v.name.as_str())
                    && self
                        .lookup(&v.name)
                        .is_some_and(|inner| std::ptr::eq(inner, *v))
                    && keep(v)
            })
            .collect();
        if visible.is_empty() {
            return None;
        }
        Some(visible[self.rng.gen_range(0..visible.len())].name.clone())
    }

    fn pick_typed(&mut self, keep: impl Fn(&Ty) -> bool) -> Option<(String, Ty)> {
        let name = self.pick_var(|v| keep(&v.ty))?;
        let ty = self.lookup(&name)?.ty.clone();
        Some((name, ty))
    }
}

impl Context {
    fn new(budget: u64, statements: u32) -> Context {
        Context {
            scopes: vec![Vec::new()],
            recursive_self: None,
            self_calls: 0,
            cost: 0,
            budget,
            multiplier: 1,
            loop_depth: 0,
            block_depth: 0,
            statements_left: statements,
            hidden: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_program() {
        for seed in 0..50 {
            assert_eq!(program(seed), program(seed));
        }
    }

    #[test]
    fn seeds_give_varied_programs_with_every_feature() {
        let programs: Vec<String> = (0..300).map(program).collect();
        let distinct: std::collections::HashSet<_> = programs.iter().collect();
        assert!(
            distinct.len() > 290,
            "only {} distinct programs",
            distinct.len()
        );
        let all = programs.concat();
        for feature in [
            "fn ",
            "while ",
            "if ",
            "else",
            "print ",
            "return ",
            "&&",
            "||",
            "!(",
            " / ",
            " % ",
            "len(",
            "[",
            "{x",
            ".x",
            "f0(",
            "4611686018427387903",
            "] = ",
            "n - ",
        ] {
            assert!(all.contains(feature), "no program uses `{feature}`");
        }
    }

    #[test]
    fn a_base_case_never_recurses_and_the_depth_is_never_shadowed() {
        for seed in 0..500 {
            let text = program(seed);
            for line in text.lines() {
                if line.starts_with("  if n <= 0 { return") {
                    // A self-call is `fK(n - 1, ...)`: a digit, then `(n - `.
                    let self_call = line
                        .match_indices("(n - ")
                        .any(|(at, _)| line[..at].ends_with(|c: char| c.is_ascii_digit()));
                    assert!(!self_call, "seed {seed}: {line}\n{text}");
                }
                assert!(
                    !line.trim_start().starts_with("let n "),
                    "seed {seed}: {line}\n{text}"
                );
            }
        }
    }

    #[test]
    fn object_programs_build_objects_of_many_shapes() {
        let programs: Vec<String> = (0..300).map(object_program).collect();
        let distinct: std::collections::HashSet<_> = programs.iter().collect();
        assert!(distinct.len() > 290, "only {} distinct", distinct.len());
        let all = programs.concat();
        for feature in [
            "fn o0(o", "o0(", " = {};", "[{", "].x", "].y = ", ".g = ", "{g: ", "while ", "print ",
        ] {
            assert!(all.contains(feature), "no object program uses `{feature}`");
        }
        // Objects with more fields than fit inline: a literal of six or more.
        assert!(
            programs.iter().any(|p| p
                .lines()
                .any(|l| l.matches(": ").count() >= 6 && l.contains("= {"))),
            "no object literal with six fields"
        );
    }

    #[test]
    fn object_programs_leave_the_other_programs_alone() {
        // The suites of earlier stages run `program(seed)`: the object forms must not
        // change what those seeds give, so `program` draws nothing for them.
        for seed in 0..50 {
            let plain = program(seed);
            assert!(!plain.contains("fn o0("), "seed {seed}:\n{plain}");
            assert_ne!(plain, object_program(seed));
        }
    }

    #[test]
    fn braces_and_brackets_balance() {
        for seed in 0..300 {
            for text in [program(seed), object_program(seed)] {
                for (open, close) in [('{', '}'), ('[', ']'), ('(', ')')] {
                    let opens = text.matches(open).count();
                    let closes = text.matches(close).count();
                    assert_eq!(
                        opens, closes,
                        "seed {seed}: {open}{close} unbalanced\n{text}"
                    );
                }
            }
        }
    }
}
