//! `.jasm`, the bytecode assembly text: a program written one instruction per line,
//! which [`parse`] reads and [`print()`] writes back the same.
//!
//! ```text
//! ; a comment runs from ';' to the end of the line
//! .fn main params=0 locals=1
//! .line 1
//!     const 10
//!     store_local 0
//! L0:
//! .line 2
//!     load_local 0
//!     jump_if_false L1
//!     load_local 0
//!     call dec 1
//!     store_local 0
//!     loop L0
//! L1:
//!     const 0
//!     return
//! .end
//!
//! .fn dec params=1 locals=1
//! .line 5
//!     load_local 0
//!     const 1
//!     sub
//!     return
//! .end
//! ```
//!
//! - A function is `.fn NAME params=N locals=M`, its instructions, and `.end`. The
//!   function named `main` becomes function 0 wherever it stands; the others keep
//!   their order.
//! - Operands are written as what they mean: `const -42` is the integer (the constant
//!   pool is built in order of first appearance), `call fib 1` and `func_ref fib` name
//!   the function (which may come later in the file), `get_field x` names the field,
//!   `load_local 3`, `call_value 2` and `new_array 3` are counts and indices, and the
//!   four jumps name a label.
//! - A label is a word followed by `:` on its own line (or before an instruction) and
//!   stands for the next instruction of its function. [`print()`] numbers them `L0`,
//!   `L1`, ... in order of position.
//! - `.line N` gives the source line of the instructions after it, until the next
//!   `.line` or the end of the function. Before any `.line`, an instruction's line is
//!   its own line in the `.jasm` file. [`print()`] writes `.line` where the line
//!   changes, so that `parse(print(p)) == p` for every program whose pools are in order
//!   of first appearance (all that [`parse`] and the Mini compiler make).
//!
//! Errors carry the line and column of the word at fault. Parsing checks the text,
//! not the program: a stack underflow, for one, is the verifier's to find.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use crate::bytecode::{FnId, Function, Instr, OperandKind, Program};
use crate::error::SourceError;
use crate::value::{INT_MAX, INT_MIN};

/// Reads a `.jasm` text (from `file`, for error positions) into a program.
pub fn parse(file: &str, text: &str) -> Result<Program, SourceError> {
    let lines: Vec<Vec<Word>> = text.lines().map(split_words).collect();
    let error = |line: usize, column: u32, message: String| {
        SourceError::new(file, line_number(line), column, message)
    };

    // First pass: the functions' names, so that calls may name later functions.
    // (A set beside the list: a file of 100,000 functions must not take n^2 steps.)
    let mut names: Vec<&str> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, words) in lines.iter().enumerate() {
        if words.first().map(|w| w.text) == Some(".fn") {
            let Some(name) = words.get(1) else {
                return Err(error(
                    i,
                    words[0].column,
                    "'.fn' needs a function name".into(),
                ));
            };
            if !seen.insert(name.text) {
                return Err(error(
                    i,
                    name.column,
                    format!("function '{}' is defined twice", name.text),
                ));
            }
            names.push(name.text);
        }
    }
    // main first, then the others in the order of the file.
    let has_main = seen.contains("main");
    let mut order: Vec<&str> = if has_main { vec!["main"] } else { vec![] };
    order.extend(names.iter().copied().filter(|&n| n != "main"));
    let ids: HashMap<&str, FnId> = order
        .iter()
        .enumerate()
        .map(|(i, &n)| (n, i as FnId))
        .collect();

    let mut parser = Parser {
        file,
        ids: &ids,
        program: Program::default(),
        constant_index: HashMap::new(),
        field_index: HashMap::new(),
        current: None,
        done: Vec::new(),
    };
    for (i, words) in lines.iter().enumerate() {
        parser.line(i, words)?;
    }
    if let Some(open) = &parser.current {
        return Err(error(
            lines.len().saturating_sub(1),
            1,
            format!("function '{}' has no '.end'", open.function.name),
        ));
    }
    if !has_main {
        return Err(error(0, 1, "the program has no function 'main'".into()));
    }
    let mut done = parser.done;
    done.sort_by_key(|(id, _)| *id);
    let mut program = parser.program;
    program.functions = done.into_iter().map(|(_, f)| f).collect();
    renumber_pools(&mut program);
    Ok(program)
}

/// Renumbers the constant pool and the field table in order of first appearance in
/// function order (main first), which is the order [`print()`] writes them in. The file
/// may define `main` after other functions; without this, the pools would follow the
/// file and `parse(print(p))` would not give `p` back.
fn renumber_pools(program: &mut Program) {
    // The parser's pools hold each value once, so an old index maps to one new index,
    // given at its first use: one pass, no search.
    let constants = std::mem::take(&mut program.constants);
    let fields = std::mem::take(&mut program.fields);
    let mut constant_ids: Vec<Option<u32>> = vec![None; constants.len()];
    let mut field_ids: Vec<Option<u32>> = vec![None; fields.len()];
    let mut fields: Vec<Option<String>> = fields.into_iter().map(Some).collect();
    for instr in program.functions.iter_mut().flat_map(|f| f.code.iter_mut()) {
        match instr {
            Instr::Const(k) => {
                let old = *k as usize;
                *k = *constant_ids[old].get_or_insert_with(|| {
                    program.constants.push(constants[old]);
                    (program.constants.len() - 1) as u32
                });
            }
            Instr::GetField(k) | Instr::SetField(k) => {
                let old = *k as usize;
                *k = *field_ids[old].get_or_insert_with(|| {
                    program.fields.push(fields[old].take().unwrap_or_default());
                    (program.fields.len() - 1) as u32
                });
            }
            _ => {}
        }
    }
}

/// Writes `program` as `.jasm` text. Never fails: an index that points nowhere (in a
/// program that would not verify) is written as `#N`, which [`parse`] rejects.
pub fn print(program: &Program) -> String {
    let mut out = String::new();
    for (i, f) in program.functions.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, ".fn {} params={} locals={}", f.name, f.arity, f.locals);
        let mut targets: Vec<u32> = f.code.iter().filter_map(Instr::jump_target).collect();
        targets.sort_unstable();
        targets.dedup();
        let label = |t: u32| targets.binary_search(&t).ok().map(|k| format!("L{k}"));
        let mut line = None;
        for (pc, instr) in f.code.iter().enumerate() {
            if let Some(name) = label(pc as u32) {
                let _ = writeln!(out, "{name}:");
            }
            let here = f.lines.get(pc).copied();
            if here.is_some() && here != line {
                line = here;
                let _ = writeln!(out, ".line {}", here.unwrap_or_default());
            }
            let _ = writeln!(out, "    {}", instruction(program, instr, &label));
        }
        // Targets past the end (only in programs that do not verify).
        for (k, _) in targets
            .iter()
            .enumerate()
            .filter(|&(_, &t)| t as usize >= f.code.len())
        {
            let _ = writeln!(out, "L{k}:");
        }
        out.push_str(".end\n");
    }
    out
}

/// One instruction with its operands, as [`print()`] writes it.
fn instruction(program: &Program, instr: &Instr, label: &dyn Fn(u32) -> Option<String>) -> String {
    let name = instr.mnemonic();
    let function = |g: FnId| match program.functions.get(g as usize) {
        Some(f) => f.name.clone(),
        None => format!("#{g}"),
    };
    let field = |k: u32| match program.fields.get(k as usize) {
        Some(f) => f.clone(),
        None => format!("#{k}"),
    };
    // Each operand is written by its kind, as `for_each_instr!` lists them.
    let mut text = name.to_string();
    for &(kind, value) in instr.operands().as_slice() {
        let operand = match kind {
            OperandKind::Constant => match program.constants.get(value as usize) {
                Some(c) => c.to_string(),
                None => format!("#{value}"),
            },
            OperandKind::Local | OperandKind::Count => value.to_string(),
            OperandKind::Target => label(value).unwrap_or_default(),
            OperandKind::Function => function(value),
            OperandKind::Field => field(value),
        };
        text.push(' ');
        text.push_str(&operand);
    }
    text
}

/// A word of a line and its 1-based column.
#[derive(Clone, Copy, Debug)]
struct Word<'t> {
    text: &'t str,
    column: u32,
}

/// The words of one line, its comment (from `;`) left out.
fn split_words(line: &str) -> Vec<Word<'_>> {
    let line = line.split(';').next().unwrap_or("");
    let mut words = Vec::new();
    let mut start: Option<(usize, u32)> = None;
    let mut column = 0u32;
    for (at, c) in line.char_indices() {
        column = column.saturating_add(1);
        match (c.is_whitespace(), start) {
            (false, None) => start = Some((at, column)),
            (true, Some((from, col))) => {
                words.push(Word {
                    text: &line[from..at],
                    column: col,
                });
                start = None;
            }
            _ => {}
        }
    }
    if let Some((from, col)) = start {
        words.push(Word {
            text: &line[from..],
            column: col,
        });
    }
    words
}

/// The 1-based line number of the line at index `i`.
fn line_number(i: usize) -> u32 {
    u32::try_from(i + 1).unwrap_or(u32::MAX)
}

/// A function being read.
struct Open {
    id: FnId,
    function: Function,
    /// The line that `.line` set, if any.
    line: Option<u32>,
    labels: HashMap<String, u32>,
    /// Jumps waiting for their label: pc, label, and where the label was written.
    uses: Vec<(usize, String, usize, u32)>,
}

struct Parser<'a> {
    file: &'a str,
    ids: &'a HashMap<&'a str, FnId>,
    program: Program,
    constant_index: HashMap<i64, u32>,
    field_index: HashMap<String, u32>,
    current: Option<Open>,
    done: Vec<(FnId, Function)>,
}

type Result<T, E = SourceError> = std::result::Result<T, E>;

impl Parser<'_> {
    fn error(&self, line: usize, word: Word, message: impl Into<String>) -> SourceError {
        SourceError::new(self.file, line_number(line), word.column, message)
    }

    /// Reads the line at index `i`, split into `words`.
    fn line(&mut self, i: usize, words: &[Word]) -> Result<()> {
        let Some(&first) = words.first() else {
            return Ok(());
        };
        match first.text {
            ".fn" => self.begin_function(i, words),
            ".end" => {
                self.no_more(i, words, 1)?;
                self.end_function(i, first)
            }
            ".line" => {
                let n = self.number(i, words, 1, ".line", u64::from(u32::MAX))?;
                self.no_more(i, words, 2)?;
                self.open(i, first)?.line = Some(n as u32);
                Ok(())
            }
            text if text.starts_with('.') => {
                Err(self.error(i, first, format!("unknown directive '{text}'")))
            }
            text if text.ends_with(':') => {
                let name = &text[..text.len() - 1];
                if !is_label(name) {
                    return Err(self.error(i, first, format!("invalid label '{name}'")));
                }
                let open = self.open(i, first)?;
                let pc = open.function.code.len() as u32;
                if open.labels.insert(name.to_string(), pc).is_some() {
                    return Err(self.error(i, first, format!("label {name} is defined twice")));
                }
                match words.get(1) {
                    Some(&next) if next.text.starts_with('.') || next.text.ends_with(':') => {
                        Err(self.error(
                            i,
                            next,
                            "only an instruction may follow a label on its line",
                        ))
                    }
                    _ => self.line(i, &words[1..]),
                }
            }
            _ => self.instruction(i, words),
        }
    }

    fn open(&mut self, i: usize, word: Word) -> Result<&mut Open> {
        if self.current.is_none() {
            return Err(self.error(
                i,
                word,
                format!("'{}' outside a function: begin one with '.fn'", word.text),
            ));
        }
        Ok(self.current.as_mut().expect("checked just above"))
    }

    /// Fails when `words` has more than `count` words.
    fn no_more(&self, i: usize, words: &[Word], count: usize) -> Result<()> {
        match words.get(count) {
            Some(&extra) => Err(self.error(
                i,
                extra,
                format!("unexpected '{}' after '{}'", extra.text, words[0].text),
            )),
            None => Ok(()),
        }
    }

    /// The unsigned number at `words[k]`, at most `max`.
    fn number(&self, i: usize, words: &[Word], k: usize, what: &str, max: u64) -> Result<u64> {
        let Some(&word) = words.get(k) else {
            let last = words[words.len() - 1];
            return Err(self.error(i, last, format!("'{what}' needs a number")));
        };
        if !word.text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.error(i, word, format!("expected a number, found '{}'", word.text)));
        }
        match word.text.parse::<u64>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(self.error(i, word, format!("integer out of range: {}", word.text))),
        }
    }

    fn begin_function(&mut self, i: usize, words: &[Word]) -> Result<()> {
        if let Some(open) = &self.current {
            return Err(self.error(
                i,
                words[0],
                format!(
                    "'.fn' inside function '{}': end it with '.end' first",
                    open.function.name
                ),
            ));
        }
        // The first pass saw this line: the name is there and has an id.
        let (Some(&name), Some(&id)) = (
            words.get(1),
            words.get(1).and_then(|w| self.ids.get(w.text)),
        ) else {
            return Err(self.error(i, words[0], "'.fn' needs a function name"));
        };
        let (mut params, mut locals) = (None, None);
        for &word in &words[2..] {
            let (key, value) = word.text.split_once('=').unwrap_or((word.text, ""));
            let slot = match key {
                "params" => &mut params,
                "locals" => &mut locals,
                _ => {
                    return Err(self.error(
                        i,
                        word,
                        format!("unexpected '{}': expected params=N or locals=N", word.text),
                    ))
                }
            };
            if slot.is_some() {
                return Err(self.error(i, word, format!("'{key}' is given twice")));
            }
            let n = match value.parse::<u32>() {
                Ok(n) if value.bytes().all(|b| b.is_ascii_digit()) => n,
                _ if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                    return Err(self.error(i, word, format!("integer out of range: {value}")))
                }
                _ => {
                    return Err(self.error(
                        i,
                        word,
                        format!("expected {key}=N, found '{}'", word.text),
                    ))
                }
            };
            *slot = Some(n);
        }
        let (Some(arity), Some(locals)) = (params, locals) else {
            return Err(self.error(i, name, "'.fn' needs params=N and locals=N"));
        };
        self.current = Some(Open {
            id,
            function: Function {
                name: name.text.to_string(),
                arity,
                locals,
                code: Vec::new(),
                lines: Vec::new(),
            },
            line: None,
            labels: HashMap::new(),
            uses: Vec::new(),
        });
        Ok(())
    }

    fn end_function(&mut self, i: usize, word: Word) -> Result<()> {
        self.open(i, word)?;
        let mut open = self.current.take().expect("open checked it");
        for (pc, label, line, column) in &open.uses {
            let Some(&target) = open.labels.get(label) else {
                return Err(SourceError::new(
                    self.file,
                    line_number(*line),
                    *column,
                    format!(
                        "label {label} is not defined in function '{}'",
                        open.function.name
                    ),
                ));
            };
            let instr = open.function.code[*pc];
            let values: Vec<u32> = (instr.operands().as_slice().iter())
                .map(|&(kind, v)| {
                    if kind == OperandKind::Target {
                        target
                    } else {
                        v
                    }
                })
                .collect();
            open.function.code[*pc] = instr.with_operands(&values).expect("same operands");
        }
        self.done.push((open.id, open.function));
        Ok(())
    }

    fn instruction(&mut self, i: usize, words: &[Word]) -> Result<()> {
        let op = words[0];
        self.open(i, op)?;
        let count = |this: &Self, k: usize| {
            this.number(i, words, k, op.text, u64::from(u32::MAX))
                .map(|n| n as u32)
        };
        let operand = |this: &Self, k: usize, what: &str| match words.get(k) {
            Some(&w) => Ok(w),
            None => Err(this.error(i, words[k - 1], format!("'{}' needs {what}", op.text))),
        };
        // The kind of instruction, then each operand read by what it indexes (the one
        // list, `for_each_instr!`, says which): adding an instruction there is enough.
        let Some(&kind) = Instr::EVERY_KIND.iter().find(|k| k.mnemonic() == op.text) else {
            return Err(self.error(i, op, format!("unknown instruction '{}'", op.text)));
        };
        let kinds = kind.operands();
        let mut values = Vec::with_capacity(kinds.as_slice().len());
        let mut label = None;
        for (j, &(operand_kind, _)) in kinds.as_slice().iter().enumerate() {
            let k = j + 1;
            let value = match operand_kind {
                OperandKind::Constant => {
                    let word = operand(self, k, "an integer")?;
                    let value = parse_integer(word.text).ok_or_else(|| {
                        self.error(
                            i,
                            word,
                            format!("expected an integer, found '{}'", word.text),
                        )
                    })?;
                    let Some(value) = value.filter(|v| (INT_MIN..=INT_MAX).contains(v)) else {
                        return Err(self.error(
                            i,
                            word,
                            format!("integer out of range: {}", word.text),
                        ));
                    };
                    *self.constant_index.entry(value).or_insert_with(|| {
                        self.program.constants.push(value);
                        (self.program.constants.len() - 1) as u32
                    })
                }
                OperandKind::Local | OperandKind::Count => {
                    let n = count(self, k)?;
                    // The operand's own type may be narrower than 32 bits.
                    let mut probe = vec![0; kinds.as_slice().len()];
                    probe[j] = n;
                    if kind.with_operands(&probe).is_none() {
                        return Err(self.error(
                            i,
                            words[k],
                            format!("integer out of range: {}", words[k].text),
                        ));
                    }
                    n
                }
                OperandKind::Target => {
                    let word = operand(self, k, "a label")?;
                    if !is_label(word.text) {
                        return Err(self.error(
                            i,
                            word,
                            format!("expected a label, found '{}'", word.text),
                        ));
                    }
                    label = Some(word);
                    // Set at the function's end, when every label is known.
                    0
                }
                OperandKind::Function => {
                    let word = operand(self, k, "a function name")?;
                    let Some(&func) = self.ids.get(word.text) else {
                        return Err(self.error(
                            i,
                            word,
                            format!("unknown function '{}'", word.text),
                        ));
                    };
                    func
                }
                OperandKind::Field => {
                    let word = operand(self, k, "a field name")?;
                    match self.field_index.get(word.text) {
                        Some(&k) => k,
                        None => {
                            self.program.fields.push(word.text.to_string());
                            let k = (self.program.fields.len() - 1) as u32;
                            self.field_index.insert(word.text.to_string(), k);
                            k
                        }
                    }
                }
            };
            values.push(value);
        }
        let instr = kind
            .with_operands(&values)
            .expect("each operand was read and fits");
        let used = 1 + values.len();
        if let Some(word) = label {
            let open = self.current.as_mut().expect("open checked it");
            let pc = open.function.code.len();
            open.uses.push((pc, word.text.to_string(), i, word.column));
        }
        self.no_more(i, words, used)?;
        let open = self.current.as_mut().expect("open checked it");
        let line = open.line.unwrap_or(line_number(i));
        open.function.code.push(instr);
        open.function.lines.push(line);
        Ok(())
    }
}

/// A label name: letters, digits and `_`, not starting with a digit.
fn is_label(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A decimal integer with an optional `-`: `None` when it is not one, `Some(None)`
/// when it does not fit in 64 bits.
fn parse_integer(text: &str) -> Option<Option<i64>> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse::<i64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::verify;
    use Instr::*;

    const COUNTDOWN: &str = "\
; counts down from 10 by calling dec
.fn main params=0 locals=1
.line 1
    const 10
    store_local 0
L0:
.line 2
    load_local 0
    jump_if_false L1
    load_local 0
    call dec 1
    store_local 0
    loop L0
L1:
    const 0
    return
.end

.fn dec params=1 locals=1
.line 5
    load_local 0
    const 1
    sub
    return
.end
";

    fn parse_ok(text: &str) -> Program {
        parse("t.jasm", text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// Both round trips: `parse(print(p)) == p` and `print(parse(print(p))) == print(p)`.
    fn assert_round_trip(p: &Program) {
        let printed = print(p);
        let back = parse_ok(&printed);
        assert_eq!(&back, p, "parse(print(p)) differs, printed:\n{printed}");
        assert_eq!(print(&back), printed);
    }

    #[test]
    fn the_documented_example_reads_as_written() {
        let p = parse_ok(COUNTDOWN);
        assert_eq!(p.constants, vec![10, 0, 1]);
        assert_eq!(p.functions.len(), 2);
        let main = &p.functions[0];
        assert_eq!(
            (main.name.as_str(), main.arity, main.locals),
            ("main", 0, 1)
        );
        assert_eq!(
            main.code,
            vec![
                Const(0),
                StoreLocal(0),
                LoadLocal(0),
                JumpIfFalse(8),
                LoadLocal(0),
                Call { func: 1, argc: 1 },
                StoreLocal(0),
                Loop(2),
                Const(1),
                Return
            ]
        );
        assert_eq!(main.lines, vec![1, 1, 2, 2, 2, 2, 2, 2, 2, 2]);
        assert_eq!(
            p.functions[1].code,
            vec![LoadLocal(0), Const(2), Sub, Return]
        );
        // It is also exactly what `print` writes.
        let without_comment = COUNTDOWN.split_once('\n').unwrap().1;
        assert_eq!(print(&p), without_comment);
        verify(p, "t.jasm").expect("the example verifies");
    }

    #[test]
    fn without_line_directives_an_instruction_has_its_own_line() {
        let p = parse_ok("\n.fn main params=0 locals=0\n  const 1\n\n  return ; done\n.end\n");
        assert_eq!(p.functions[0].lines, vec![3, 5]);
        // `.line` holds until the next one, and a new function starts afresh.
        let p = parse_ok(
            ".fn main params=0 locals=0\n.line 7\n const 1\n pop\n.line 9\n const 2\n return\n.end\n\
             .fn g params=0 locals=0\n const 3\n return\n.end\n",
        );
        assert_eq!(p.functions[0].lines, vec![7, 7, 9, 9]);
        assert_eq!(p.functions[1].lines, vec![10, 11]);
    }

    #[test]
    fn main_comes_first_wherever_it_is_written() {
        let p = parse_ok(
            ".fn one params=0 locals=0\n const 1\n return\n.end\n\
             .fn main params=0 locals=0\n func_ref one\n call_value 0\n return\n.end\n",
        );
        assert_eq!(p.functions[0].name, "main");
        assert_eq!(p.functions[1].name, "one");
        assert_eq!(p.functions[0].code[0], FuncRef(1));
    }

    #[test]
    fn labels_may_have_any_name_and_share_a_line_with_an_instruction() {
        let p = parse_ok(
            ".fn main params=0 locals=0\n top: const 1\n jump_if_true done\n loop top\ndone:\n const 0\n return\n.end\n",
        );
        assert_eq!(p.functions[0].code[1..3], [JumpIfTrue(3), Loop(0)]);
        assert!(print(&p).contains("L0:\n"));
    }

    #[test]
    fn every_instruction_round_trips() {
        let code = vec![
            Const(0),
            Const(1),
            LoadLocal(3),
            StoreLocal(2),
            Add,
            Sub,
            Mul,
            Div,
            Mod,
            Neg,
            Not,
            Lt,
            Le,
            Gt,
            Ge,
            Eq,
            Ne,
            Jump(20),
            JumpIfFalse(19),
            JumpIfTrue(19),
            Loop(0),
            Call { func: 1, argc: 2 },
            CallValue(4),
            Print,
            Dup,
            Pop,
            NewArray(5),
            NewArrayFill,
            ArrayGet,
            ArraySet,
            ArrayLen,
            NewObject,
            GetField(0),
            SetField(1),
            FuncRef(1),
            Return,
        ];
        let lines = (0..code.len() as u32).map(|pc| 1 + pc / 3).collect();
        let p = Program {
            functions: vec![
                Function {
                    name: "main".into(),
                    arity: 0,
                    locals: 4,
                    code,
                    lines,
                },
                Function {
                    name: "two".into(),
                    arity: 2,
                    locals: 2,
                    code: vec![LoadLocal(0), Return],
                    lines: vec![40, 40],
                },
            ],
            constants: vec![-4611686018427387904, 4611686018427387903],
            fields: vec!["x".into(), "next".into()],
        };
        assert_round_trip(&p);
    }

    #[test]
    fn compiled_programs_round_trip() {
        let dir = jitlab_testkit::programs_dir(env!("CARGO_MANIFEST_DIR"));
        let mut count = 0;
        for entry in std::fs::read_dir(&dir).expect("the corpus directory") {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "mini") {
                let text = std::fs::read_to_string(&path).unwrap();
                if let Ok(p) = crate::mini::compile("t.mini", &text) {
                    assert_round_trip(&p);
                    count += 1;
                }
            }
        }
        assert!(count >= 10, "only {count} corpus programs compiled");
        for seed in 0..50 {
            let source = jitlab_testkit::random::program(seed);
            assert_round_trip(&crate::mini::compile("t.mini", &source).expect("compiles"));
        }
    }

    #[test]
    fn errors_point_at_the_word_at_fault() {
        const MAIN: &str = ".fn main params=0 locals=1\n";
        #[rustfmt::skip]
        let cases: &[(&str, u32, u32, &str)] = &[
            (" add\n",                                   1, 2, "'add' outside a function"),
            (".fn main params=0 locals=0\n  ad\n.end\n", 2, 3, "unknown instruction 'ad'"),
            ("x:\n",                                     1, 1, "'x:' outside a function"),
            (".fn f params=0 locals=0\n return\n.end\n", 1, 1, "no function 'main'"),
            (".fn main params=0 locals=0\n.end\n.fn main params=0 locals=0\n.end\n",
                                                         3, 5, "function 'main' is defined twice"),
            (".fn main params=0\n.end\n",                1, 5, "needs params=N and locals=N"),
            (".fn main params=0 locals=x\n.end\n",       1, 19, "expected locals=N"),
            (".fn main params=0 locals=4294967296\n.end\n", 1, 19, "integer out of range"),
            (".fn main params=0 locals=0 extra=1\n.end\n", 1, 28, "expected params=N or locals=N"),
            (".fn main params=0 locals=0\n",             1, 1, "function 'main' has no '.end'"),
            (".fn main params=0 locals=0\n.fn g params=0 locals=0\n",
                                                         2, 1, "'.fn' inside function 'main'"),
            (".end\n",                                   1, 1, "'.end' outside a function"),
        ];
        #[rustfmt::skip]
        let in_main: &[(&str, u32, u32, &str)] = &[
            ("  jump L3\n  return\n",                   2, 8, "label L3 is not defined"),
            ("  call g 0\n",                             2, 8, "unknown function 'g'"),
            ("  func_ref g\n",                           2, 12, "unknown function 'g'"),
            ("  const 4611686018427387904\n",            2, 9, "integer out of range"),
            ("  const -4611686018427387905\n",           2, 9, "integer out of range"),
            ("  const 99999999999999999999\n",           2, 9, "integer out of range"),
            ("  const x\n",                              2, 9, "expected an integer, found 'x'"),
            ("  const\n",                                2, 3, "'const' needs an integer"),
            ("  load_local 4294967296\n",                2, 14, "integer out of range"),
            ("  load_local -1\n",                        2, 14, "expected a number"),
            ("  add 1\n",                                2, 7, "unexpected '1' after 'add'"),
            ("  call main\n",                            2, 8, "'call' needs a number"),
            ("  call main 65536\n",                      2, 13, "integer out of range: 65536"),
            ("  jump 5\n",                               2, 8, "expected a label, found '5'"),
            ("L0:\nL0:\n",                               3, 1, "label L0 is defined twice"),
            ("L0: .end\n",                               2, 5, "only an instruction may follow a label"),
            ("  .lines 3\n",                             2, 3, "unknown directive '.lines'"),
            (".line -3\n",                               2, 7, "expected a number"),
            ("  get_field\n",                            2, 3, "'get_field' needs a field name"),
        ];
        let in_main = in_main
            .iter()
            .map(|&(text, l, c, m)| (format!("{MAIN}{text}.end\n"), l, c, m));
        let cases = cases.iter().map(|&(t, l, c, m)| (t.to_string(), l, c, m));
        for (text, line, column, message) in cases.chain(in_main) {
            let e = parse("t.jasm", &text).expect_err(&text);
            assert!(
                (e.line, e.column) == (line, column) && e.message.contains(message),
                "{text:?}: expected {line}:{column} {message:?}, got {e}"
            );
        }
    }

    #[test]
    fn printing_a_broken_program_does_not_panic() {
        let p = Program {
            functions: vec![Function {
                name: "main".into(),
                arity: 0,
                locals: 0,
                code: vec![Const(9), Call { func: 4, argc: 0 }, GetField(2), Jump(7)],
                lines: vec![],
            }],
            constants: vec![],
            fields: vec![],
        };
        let text = print(&p);
        assert!(
            text.contains("const #9") && text.contains("call #4 0"),
            "{text}"
        );
        assert!(text.contains("jump L0\nL0:\n.end"), "{text}");
        assert!(parse("t.jasm", &text).is_err());
        assert_eq!(print(&Program::default()), "");
    }
}
