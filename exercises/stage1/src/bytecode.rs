//! The bytecode: a stack machine with functions, a constant pool and a field table.
//!
//! Instructions are decoded once, when a program is parsed or compiled, into the plain
//! enum [`Instr`]; the interpreter matches on it directly and later stages compile it.
//! Operands are indices: into the constant pool, the locals, the code of the function
//! (jump targets), the functions of the program or its field names. Every stack effect
//! is listed beside its instruction as `before -> after` (top of stack on the right).

/// Index of a function in [`Program::functions`].
pub type FnId = u32;

/// One bytecode instruction with its decoded operands.
///
/// Jumps name an instruction index in the same function. A backward jump is its own
/// instruction, [`Instr::Loop`], so that an engine can count loop iterations (and
/// later enter compiled code there) without looking at the jump's direction, as V8's
/// `JumpLoop` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instr {
    /// `-> constants[k]`: push an integer of the constant pool.
    Const(u32),
    /// `-> locals[n]`.
    LoadLocal(u32),
    /// `v ->`, and `locals[n] = v`.
    StoreLocal(u32),
    /// `a b -> a + b`; integers only, `integer overflow` past 63 bits.
    Add,
    /// `a b -> a - b`.
    Sub,
    /// `a b -> a * b`.
    Mul,
    /// `a b -> a / b`, truncating; `division by zero`, and `MIN / -1` overflows.
    Div,
    /// `a b -> a % b`, sign of `a`; `division by zero`; `MIN % -1` is 0.
    Mod,
    /// `a -> -a`; `-MIN` overflows.
    Neg,
    /// `a -> !a`: 1 when the integer is 0, else 0; a heap value is a `type error`.
    Not,
    /// `a b -> a < b` (0 or 1); integers only.
    Lt,
    /// `a b -> a <= b`.
    Le,
    /// `a b -> a > b`.
    Gt,
    /// `a b -> a >= b`.
    Ge,
    /// `a b -> a == b`: integers by value, heap values by identity, never an error.
    Eq,
    /// `a b -> a != b`.
    Ne,
    /// Go to instruction `target` (forward).
    Jump(u32),
    /// `c ->`: go to `target` when `c` is 0; a heap value is a `type error`.
    JumpIfFalse(u32),
    /// `c ->`: go to `target` when `c` is not 0; a heap value is a `type error`.
    JumpIfTrue(u32),
    /// Go back to instruction `target` (a loop's back edge, `target <= pc`).
    Loop(u32),
    /// `a1 .. an -> r`: call function `func`, whose arity is `argc`. (`argc` is a
    /// `u16`, as parameters are at most 65,535, so that every instruction fits in 8
    /// bytes: the interpreter loads each one as a single word.)
    Call { func: FnId, argc: u16 },
    /// `f a1 .. an -> r`: call the function value `f`; `type error` when it is not a
    /// function, `wrong number of arguments` when its arity is not `argc`.
    CallValue(u32),
    /// `r ->`: return `r` to the caller (from main: end the program with `r`).
    Return,
    /// `v ->`, and write `v` and a newline to the output.
    Print,
    /// `v -> v v`.
    Dup,
    /// `v ->`.
    Pop,
    /// `v1 .. vn -> [v1, .., vn]`.
    NewArray(u32),
    /// `v n -> [v; n]`: `index out of bounds` when `n < 0`, `out of memory` when
    /// `n > 2^28` or the heap is full.
    NewArrayFill,
    /// `a i -> a[i]`.
    ArrayGet,
    /// `a i v ->`, and `a[i] = v`.
    ArraySet,
    /// `a -> len(a)`.
    ArrayLen,
    /// `-> {}`: a new object with no fields.
    NewObject,
    /// `o -> o.f`, `f` being `fields[k]`; `no such field` when it is missing.
    GetField(u32),
    /// `o v ->`, and `o.f = v` (adding the field when it is new).
    SetField(u32),
    /// `-> f`: push the function value of function `func`.
    FuncRef(FnId),
}

impl Instr {
    /// The name of the instruction in the `.jasm` text form.
    pub fn mnemonic(&self) -> &'static str {
        match self {
            Instr::Const(_) => "const",
            Instr::LoadLocal(_) => "load_local",
            Instr::StoreLocal(_) => "store_local",
            Instr::Add => "add",
            Instr::Sub => "sub",
            Instr::Mul => "mul",
            Instr::Div => "div",
            Instr::Mod => "mod",
            Instr::Neg => "neg",
            Instr::Not => "not",
            Instr::Lt => "lt",
            Instr::Le => "le",
            Instr::Gt => "gt",
            Instr::Ge => "ge",
            Instr::Eq => "eq",
            Instr::Ne => "ne",
            Instr::Jump(_) => "jump",
            Instr::JumpIfFalse(_) => "jump_if_false",
            Instr::JumpIfTrue(_) => "jump_if_true",
            Instr::Loop(_) => "loop",
            Instr::Call { .. } => "call",
            Instr::CallValue(_) => "call_value",
            Instr::Return => "return",
            Instr::Print => "print",
            Instr::Dup => "dup",
            Instr::Pop => "pop",
            Instr::NewArray(_) => "new_array",
            Instr::NewArrayFill => "new_array_fill",
            Instr::ArrayGet => "array_get",
            Instr::ArraySet => "array_set",
            Instr::ArrayLen => "array_len",
            Instr::NewObject => "new_object",
            Instr::GetField(_) => "get_field",
            Instr::SetField(_) => "set_field",
            Instr::FuncRef(_) => "func_ref",
        }
    }

    /// The jump target, for the four jumps.
    pub fn jump_target(&self) -> Option<u32> {
        match *self {
            Instr::Jump(t) | Instr::JumpIfFalse(t) | Instr::JumpIfTrue(t) | Instr::Loop(t) => {
                Some(t)
            }
            _ => None,
        }
    }
}

/// One function: its code, and what a frame of it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// The name, as `print` shows it (`<fn name>`) and errors report it.
    pub name: String,
    /// Number of parameters; they are locals `0..arity`.
    pub arity: u32,
    /// Number of locals, parameters included (`locals >= arity`).
    pub locals: u32,
    /// The instructions.
    pub code: Vec<Instr>,
    /// The source line of each instruction (`lines.len() == code.len()`).
    pub lines: Vec<u32>,
}

/// A whole program: its functions (main first), the integer constants and the field
/// names that instructions refer to by index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Program {
    /// The functions; `functions[0]` is `main`, where the program starts.
    pub functions: Vec<Function>,
    /// The constant pool: integers in `INT_MIN..=INT_MAX`.
    pub constants: Vec<i64>,
    /// The field names used by `get_field` and `set_field`.
    pub fields: Vec<String>,
}

/// Index of the function where every program starts.
pub const MAIN: FnId = 0;

impl Program {
    /// The number of instructions of all functions: the size of the program, as
    /// compile speeds are measured (instructions per µs).
    pub fn instruction_count(&self) -> usize {
        self.functions.iter().map(|f| f.code.len()).sum()
    }

    /// The function called `name`, if there is one.
    pub fn function_named(&self, name: &str) -> Option<FnId> {
        self.functions
            .iter()
            .position(|f| f.name == name)
            .map(|i| i as FnId)
    }
}

#[cfg(test)]
mod tests {
    use super::Instr;

    #[test]
    fn an_instruction_is_one_word() {
        // The interpreter loads each instruction as one 8-byte word; a 12-byte
        // instruction was measurably slower (it went through memory on every dispatch).
        assert_eq!(std::mem::size_of::<Instr>(), 8);
    }
}
