//! The verifier: every program is checked before any engine runs it, so engines can
//! trust stack depths, jump targets, indices and arities without checking them again.
//!
//! What a verified program guarantees, function by function:
//! - `main` is function 0, is named `main` and takes no parameters; no two functions
//!   share a name; every constant of the pool is a 63-bit integer;
//! - `arity <= locals <= MAX_LOCALS`, `1 <= code.len() <= MAX_CODE`, one line per
//!   instruction;
//! - every instruction is reachable from the entry and is entered with one stack depth,
//!   whatever the path (so a single pass can give each instruction its depth); no
//!   instruction pops more than the stack holds; `return` finds exactly its value on
//!   the stack; control never falls off the end;
//! - `jump`, `jump_if_false` and `jump_if_true` go forward (`target > pc`), `loop`
//!   goes backward or to itself (`target <= pc`), and every target is an instruction;
//! - local, constant, field and function indices exist, and `call f n` has `n` equal
//!   to the arity of `f`.
//!
//! It also hands its users what it learned: the operand-stack depth before every
//! instruction ([`Verified::depths`]) and each function's deepest operand stack
//! ([`FunctionInfo::max_stack`]), so no engine walks the code again to find them.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::bytecode::{FnId, Function, Instr, Program};
use crate::error::SourceError;
use crate::objects::Sites;
use crate::value::{INT_MAX, INT_MIN};

pub use crate::limits::{MAX_CODE, MAX_FUNCTIONS, MAX_LOCALS};

/// What the verifier learned about one function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionInfo {
    /// The deepest the operand stack gets (locals not included).
    pub max_stack: u32,
    /// The operand-stack depth before each instruction (every instruction of a
    /// verified function is reachable, and reached with one depth).
    pub depths: Vec<u32>,
}

/// A program that passed the verifier. It can only be made by [`verify`].
#[derive(Debug)]
pub struct Verified {
    program: Program,
    info: Vec<FunctionInfo>,
    /// The program's sites, numbered once for every tier (see [`Sites`]).
    sites: Sites,
    id: u64,
}

/// The id of the next [`Verified`] made: ids are unique within the process.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl Clone for Verified {
    /// A copy, with an id of its own (so what is prepared for one is never taken for
    /// the other's, should either change).
    fn clone(&self) -> Verified {
        Verified::new(self.program.clone(), self.info.clone())
    }
}

impl Verified {
    fn new(program: Program, info: Vec<FunctionInfo>) -> Verified {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let sites = Sites::new(&program);
        Verified {
            program,
            info,
            sites,
            id,
        }
    }

    /// The program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// What the verifier learned about each function, indexed like the functions.
    pub fn info(&self) -> &[FunctionInfo] {
        &self.info
    }

    /// The operand-stack depth before each instruction of function `func` (locals
    /// not included), indexed by pc.
    pub fn depths(&self, func: FnId) -> &[u32] {
        &self.info[func as usize].depths
    }

    /// The program's `get_field`, `set_field` and `call_value` sites, as every tier
    /// names them to the heap's object model.
    pub fn sites(&self) -> &Sites {
        &self.sites
    }

    /// An id no other `Verified` of this process has: what an engine prepares from a
    /// program (quickened code, compiled code) records it, and checks it before use.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// Checks `program` (read from `file`, for the error's position). An error points at
/// the source line of the offending instruction, column 1, and names the function and
/// the instruction's index (pc).
pub fn verify(program: Program, file: &str) -> Result<Verified, SourceError> {
    let at_start = |message: String| SourceError::new(file, 1, 1, message);
    let Some(main) = program.functions.first() else {
        return Err(at_start(
            "the program has no functions: it needs a 'main'".to_string(),
        ));
    };
    if main.name != "main" {
        return Err(at_start(format!(
            "function 0 must be 'main', not '{}'",
            main.name
        )));
    }
    if main.arity != 0 {
        return Err(at_start(format!(
            "'main' must take no parameters, not {}",
            main.arity
        )));
    }
    if program.functions.len() > MAX_FUNCTIONS {
        return Err(at_start(format!(
            "too many functions: {} (at most {MAX_FUNCTIONS})",
            program.functions.len()
        )));
    }
    let mut names = HashSet::new();
    for f in &program.functions {
        if !names.insert(f.name.as_str()) {
            return Err(at_start(format!("two functions are named '{}'", f.name)));
        }
    }
    if let Some((k, c)) = program
        .constants
        .iter()
        .enumerate()
        .find(|(_, &c)| !(INT_MIN..=INT_MAX).contains(&c))
    {
        return Err(at_start(format!(
            "constant {k} ({c}) is outside the 63-bit integer range"
        )));
    }
    let info = program
        .functions
        .iter()
        .map(|f| verify_function(&program, f, file))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Verified::new(program, info))
}

/// Checks one function and computes its deepest stack.
fn verify_function(
    program: &Program,
    f: &Function,
    file: &str,
) -> Result<FunctionInfo, SourceError> {
    // The error of instruction `pc` (or of the function as a whole, at its first line).
    let error = |pc: Option<usize>, message: String| {
        let line = pc
            .and_then(|pc| f.lines.get(pc))
            .or(f.lines.first())
            .copied()
            .unwrap_or(1)
            .max(1);
        let place = match pc {
            Some(pc) => format!("in function '{}' at pc {pc}", f.name),
            None => format!("in function '{}'", f.name),
        };
        SourceError::new(file, line, 1, format!("{place}: {message}"))
    };
    if f.code.is_empty() {
        return Err(error(None, "the function has no code".to_string()));
    }
    if f.code.len() > MAX_CODE {
        return Err(error(
            None,
            format!("{} instructions, more than {MAX_CODE}", f.code.len()),
        ));
    }
    if f.lines.len() != f.code.len() {
        return Err(error(
            None,
            format!("{} lines for {} instructions", f.lines.len(), f.code.len()),
        ));
    }
    if f.locals > MAX_LOCALS {
        return Err(error(
            None,
            format!("{} locals, more than {MAX_LOCALS}", f.locals),
        ));
    }
    if f.locals < f.arity {
        return Err(error(
            None,
            format!("{} locals cannot hold its {} parameters", f.locals, f.arity),
        ));
    }

    // Operands first, so that the walk below can trust them.
    for (pc, &instr) in f.code.iter().enumerate() {
        let name = instr.mnemonic();
        let check = |ok: bool, what: &str, index: u32, count: usize| {
            if ok {
                Ok(())
            } else {
                Err(error(
                    Some(pc),
                    format!("'{name}' names {what} {index}, but there are only {count}"),
                ))
            }
        };
        match instr {
            Instr::Const(k) => check(
                (k as usize) < program.constants.len(),
                "constant",
                k,
                program.constants.len(),
            )?,
            Instr::LoadLocal(n) | Instr::StoreLocal(n) => {
                check(n < f.locals, "local", n, f.locals as usize)?
            }
            Instr::GetField(k) | Instr::SetField(k) => check(
                (k as usize) < program.fields.len(),
                "field",
                k,
                program.fields.len(),
            )?,
            Instr::FuncRef(g) | Instr::Call { func: g, .. } => check(
                (g as usize) < program.functions.len(),
                "function",
                g,
                program.functions.len(),
            )?,
            _ => {}
        }
        if let Instr::Call { func, argc } = instr {
            let callee = &program.functions[func as usize];
            if u32::from(argc) != callee.arity {
                return Err(error(
                    Some(pc),
                    format!(
                        "'call {} {argc}', but '{}' takes {} arguments",
                        callee.name, callee.name, callee.arity
                    ),
                ));
            }
        }
        if let Some(target) = instr.jump_target() {
            let target = target as usize;
            if target >= f.code.len() {
                return Err(error(
                    Some(pc),
                    format!(
                        "'{name}' to {target}, past the last instruction ({})",
                        f.code.len() - 1
                    ),
                ));
            }
            let backward = matches!(instr, Instr::Loop(_));
            if backward && target > pc {
                return Err(error(
                    Some(pc),
                    format!("'loop' to {target} goes forward: use 'jump'"),
                ));
            }
            if !backward && target <= pc {
                return Err(error(
                    Some(pc),
                    format!("'{name}' to {target} does not go forward: a back edge is 'loop'"),
                ));
            }
        }
    }

    // The stack depth at each instruction, by a walk over every path from the entry.
    let mut depth: Vec<Option<u32>> = vec![None; f.code.len()];
    let mut work = vec![0usize];
    depth[0] = Some(0);
    let mut max_stack = 0u32;
    while let Some(pc) = work.pop() {
        let instr = f.code[pc];
        let before = depth[pc].expect("instructions on the work list have a depth");
        let (pops, pushes) = instr.stack_effect();
        if pops > u64::from(before) {
            return Err(error(
                Some(pc),
                format!(
                    "stack underflow: '{}' takes {pops} value{}, the stack holds {before}",
                    instr.mnemonic(),
                    if pops == 1 { "" } else { "s" }
                ),
            ));
        }
        // At most one push per instruction, and at most MAX_CODE instructions: the
        // depth stays far below u32::MAX.
        let after = (u64::from(before) - pops + pushes) as u32;
        max_stack = max_stack.max(after);
        if instr == Instr::Return && before != 1 {
            return Err(error(
                Some(pc),
                format!("'return' with {before} values on the stack; it needs exactly 1"),
            ));
        }
        let mut successors = [None, None];
        match instr {
            Instr::Return => {}
            Instr::Jump(t) | Instr::Loop(t) => successors[0] = Some(t as usize),
            Instr::JumpIfFalse(t) | Instr::JumpIfTrue(t) => {
                successors = [Some(pc + 1), Some(t as usize)]
            }
            _ => successors[0] = Some(pc + 1),
        }
        for next in successors.into_iter().flatten() {
            if next >= f.code.len() {
                return Err(error(
                    Some(pc),
                    "control falls off the end of the function: the last instruction \
                     must be 'return', 'jump' or 'loop'"
                        .to_string(),
                ));
            }
            match depth[next] {
                None => {
                    depth[next] = Some(after);
                    work.push(next);
                }
                Some(d) if d != after => {
                    return Err(error(
                        Some(next),
                        format!(
                            "inconsistent stack depth: {d} on one path to this \
                             instruction, {after} on another (from pc {pc})"
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    if let Some(pc) = depth.iter().position(Option::is_none) {
        return Err(error(
            Some(pc),
            format!(
                "unreachable instruction '{}': no path from the entry leads here",
                f.code[pc].mnemonic()
            ),
        ));
    }
    let depths = depth.into_iter().flatten().collect();
    Ok(FunctionInfo { max_stack, depths })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Instr::*;

    /// A function whose instruction `pc` is on line `10 + pc`.
    fn func(name: &str, arity: u32, locals: u32, code: Vec<Instr>) -> Function {
        Function {
            name: name.into(),
            arity,
            locals,
            lines: (10..10 + code.len() as u32).collect(),
            code,
        }
    }

    fn program(functions: Vec<Function>) -> Program {
        Program {
            functions,
            constants: vec![1, 2],
            fields: vec!["x".into()],
        }
    }

    fn main_only(locals: u32, code: Vec<Instr>) -> Program {
        program(vec![func("main", 0, locals, code)])
    }

    /// The verifier's error for `p`: its line and message.
    fn rejects(p: Program) -> (u32, String) {
        match verify(p, "v.jasm") {
            Ok(v) => panic!("verified: {:?}", v.program()),
            Err(e) => {
                assert_eq!((e.file.as_str(), e.column), ("v.jasm", 1));
                (e.line, e.message)
            }
        }
    }

    fn assert_rejects(p: Program, line: u32, message: &str) {
        let (l, m) = rejects(p);
        assert!(
            l == line && m.contains(message),
            "expected line {line} {message:?}, got line {l} {m:?}"
        );
    }

    #[test]
    fn max_stack_is_the_deepest_point() {
        let p = program(vec![
            func(
                "main",
                0,
                1,
                vec![
                    Const(0),
                    Const(1),
                    Const(0),
                    Add,
                    Dup,
                    NewArray(3),
                    Pop,
                    FuncRef(1),
                    CallValue(0),
                    Return,
                ],
            ),
            func("f", 0, 0, vec![Const(0), Return]),
        ]);
        let v = verify(p, "v.jasm").expect("verifies");
        let max: Vec<u32> = v.info().iter().map(|i| i.max_stack).collect();
        assert_eq!(max, [3, 1]);
        assert_eq!(v.depths(0), [0, 1, 2, 3, 2, 3, 1, 0, 1, 1]);
        assert_eq!(v.depths(1), [0, 1]);
    }

    #[test]
    fn joins_with_equal_depths_and_loops_are_accepted() {
        // let i = 2; while i { i = i - 1; }  with an if/else that joins at depth 1.
        let code = vec![
            Const(1),
            StoreLocal(0), // 0
            LoadLocal(0),
            JumpIfFalse(9), // 2: loop head
            LoadLocal(0),
            Const(0),
            Sub,
            StoreLocal(0),
            Loop(2), // 4
            LoadLocal(0),
            JumpIfTrue(13),
            Const(0),
            Jump(14), // 9
            Const(1), // 13
            Return,   // 14
        ];
        let v = verify(main_only(1, code), "v.jasm").expect("verifies");
        assert_eq!(v.info()[0].max_stack, 2);
    }

    #[test]
    fn every_broken_rule_is_named_with_function_and_pc() {
        #[rustfmt::skip]
        let cases: Vec<(Program, u32, &str)> = vec![
            (main_only(0, vec![]), 1, "in function 'main': the function has no code"),
            (main_only(0, vec![Const(0)]), 10, "at pc 0: control falls off the end"),
            (main_only(0, vec![Const(0), Pop]), 11, "at pc 1: control falls off the end"),
            (main_only(1, vec![Const(0), JumpIfFalse(4), Const(0), Return]), 11, "past the last instruction (3)"),
            (main_only(1, vec![Const(0), Loop(2), Return]), 11, "'loop' to 2 goes forward"),
            (main_only(1, vec![Const(0), Jump(1), Return]), 11, "does not go forward"),
            (main_only(1, vec![Const(0), Return, Loop(0)]), 12, "at pc 2: unreachable instruction"),
            (main_only(0, vec![Add, Return]), 10, "at pc 0: stack underflow: 'add' takes 2 values, the stack holds 0"),
            (main_only(0, vec![Return]), 10, "stack underflow"),
            (main_only(0, vec![Const(0), Const(0), Return]), 12, "at pc 2: 'return' with 2 values"),
            // At pc 4 one path arrives with 1 value, the other with 2.
            (main_only(0, vec![Const(0), Const(0), JumpIfFalse(4), Const(0), Return]), 14, "inconsistent stack depth"),
            (main_only(1, vec![LoadLocal(1), Return]), 10, "'load_local' names local 1, but there are only 1"),
            (main_only(1, vec![Const(0), StoreLocal(5), Const(0), Return]), 11, "local 5"),
            (main_only(0, vec![Const(2), Return]), 10, "'const' names constant 2, but there are only 2"),
            (main_only(0, vec![NewObject, GetField(1), Return]), 11, "field 1"),
            (main_only(0, vec![Call { func: 3, argc: 0 }, Return]), 10, "function 3"),
            (main_only(0, vec![FuncRef(1), Return]), 10, "function 1"),
            (program(vec![
                func("main", 0, 0, vec![Const(0), Call { func: 1, argc: 1 }, Return]),
                func("two", 2, 2, vec![Const(0), Return]),
            ]), 11, "'call two 1', but 'two' takes 2 arguments"),
            (program(vec![
                func("main", 0, 0, vec![Const(0), Return]),
                func("g", 2, 1, vec![Const(0), Return]),
            ]), 10, "in function 'g': 1 locals cannot hold its 2 parameters"),
            (program(vec![]), 1, "needs a 'main'"),
            (program(vec![func("start", 0, 0, vec![Const(0), Return])]), 1, "function 0 must be 'main'"),
            (program(vec![func("main", 1, 1, vec![Const(0), Return])]), 1, "'main' must take no parameters"),
            (program(vec![
                func("main", 0, 0, vec![Const(0), Return]),
                func("main", 0, 0, vec![Const(0), Return]),
            ]), 1, "two functions are named 'main'"),
            (main_only(MAX_LOCALS + 1, vec![Const(0), Return]), 10, "65536 locals, more than 65535"),
            (Program { constants: vec![1 << 62], ..main_only(0, vec![Const(0), Return]) }, 1, "outside the 63-bit integer range"),
            (main_only(0, vec![Const(0), Return]).with_lines(vec![1]), 1, "1 lines for 2 instructions"),
            (main_only(0, vec![Const(0); MAX_CODE + 1]), 10, "16777217 instructions, more than 16777216"),
        ];
        for (p, line, message) in cases {
            assert_rejects(p, line, message);
        }
    }

    #[test]
    fn huge_operands_do_not_overflow() {
        assert_rejects(
            main_only(0, vec![CallValue(u32::MAX), Return]),
            10,
            "stack underflow",
        );
        assert_rejects(
            main_only(0, vec![NewArray(u32::MAX), Return]),
            10,
            "stack underflow",
        );
        assert_rejects(
            main_only(0, vec![Const(0), Jump(u32::MAX)]),
            11,
            "past the last",
        );
    }

    #[test]
    fn an_error_in_a_later_function_names_it() {
        let p = program(vec![
            func("main", 0, 0, vec![Const(0), Return]),
            func(
                "helper",
                0,
                0,
                vec![Const(0), Const(1), Pop, Pop, Pop, Const(0), Return],
            ),
        ]);
        let (line, message) = rejects(p);
        assert_eq!(line, 14);
        assert!(
            message.starts_with("in function 'helper' at pc 4: stack underflow"),
            "{message}"
        );
    }

    impl Program {
        /// The program with main's lines replaced (to break their count).
        fn with_lines(mut self, lines: Vec<u32>) -> Program {
            self.functions[0].lines = lines;
            self
        }
    }
}
