//! The bytecode: a stack machine with functions, a constant pool and a field table.
//!
//! Instructions are decoded once, when a program is parsed or compiled, into the plain
//! enum [`Instr`]; the interpreter matches on it directly and later stages compile it.
//! Operands are indices: into the constant pool, the locals, the code of the function
//! (jump targets), the functions of the program or its field names. Every stack effect
//! is listed beside its instruction as `before -> after` (top of stack on the right).

/// Index of a function in [`Program::functions`].
pub type FnId = u32;

/// The one list of instructions: for each, its doc, its variant and operands (each
/// with the kind of index it is), its `.jasm` mnemonic, how many values it pops and
/// pushes, and what it may do besides (fail, call, allocate). Everything else that
/// depends on the instruction set is generated from this list by a macro passed as
/// `$callback` — the [`Instr`] enum with [`Instr::mnemonic`], [`Instr::stack_effect`],
/// [`Instr::effects`] and [`Instr::operands`], and the interpreter's own instruction
/// enum ([`crate::interp::superinstr::Op`]) — as Wasmtime's Winch generates its
/// visitors from one operator list. A new instruction is one line here; the compiler
/// then points at every `match` that must learn it.
///
/// An entry reads `Variant(operand: type = Kind) "mnemonic" pops(P) pushes(Q) [EFFECTS]`
/// (or `Variant { a: type = Kind, b: type = Kind }`, or a bare `Variant`), where `P`
/// and `Q` are `u64` expressions of the operands.
#[macro_export]
macro_rules! for_each_instr {
    ($callback:ident) => {
        $callback! {
            /// `-> constants[k]`: push an integer of the constant pool.
            Const(k: u32 = Constant) "const" pops(0) pushes(1) [];
            /// `-> locals[n]`.
            LoadLocal(n: u32 = Local) "load_local" pops(0) pushes(1) [];
            /// `v ->`, and `locals[n] = v`.
            StoreLocal(n: u32 = Local) "store_local" pops(1) pushes(0) [];
            /// `a b -> a + b`; integers only, `integer overflow` past 63 bits.
            Add "add" pops(2) pushes(1) [FAILS];
            /// `a b -> a - b`.
            Sub "sub" pops(2) pushes(1) [FAILS];
            /// `a b -> a * b`.
            Mul "mul" pops(2) pushes(1) [FAILS];
            /// `a b -> a / b`, truncating; `division by zero`, and `MIN / -1` overflows.
            Div "div" pops(2) pushes(1) [FAILS];
            /// `a b -> a % b`, sign of `a`; `division by zero`; `MIN % -1` is 0.
            Mod "mod" pops(2) pushes(1) [FAILS];
            /// `a -> -a`; `-MIN` overflows.
            Neg "neg" pops(1) pushes(1) [FAILS];
            /// `a -> !a`: 1 when the integer is 0, else 0; a heap value is a `type error`.
            Not "not" pops(1) pushes(1) [FAILS];
            /// `a b -> a < b` (0 or 1); integers only.
            Lt "lt" pops(2) pushes(1) [FAILS];
            /// `a b -> a <= b`.
            Le "le" pops(2) pushes(1) [FAILS];
            /// `a b -> a > b`.
            Gt "gt" pops(2) pushes(1) [FAILS];
            /// `a b -> a >= b`.
            Ge "ge" pops(2) pushes(1) [FAILS];
            /// `a b -> a == b`: integers by value, heap values by identity, never an error.
            Eq "eq" pops(2) pushes(1) [];
            /// `a b -> a != b`.
            Ne "ne" pops(2) pushes(1) [];
            /// Go to instruction `target` (forward).
            Jump(target: u32 = Target) "jump" pops(0) pushes(0) [];
            /// `c ->`: go to `target` when `c` is 0; a heap value is a `type error`.
            JumpIfFalse(target: u32 = Target) "jump_if_false" pops(1) pushes(0) [FAILS];
            /// `c ->`: go to `target` when `c` is not 0; a heap value is a `type error`.
            JumpIfTrue(target: u32 = Target) "jump_if_true" pops(1) pushes(0) [FAILS];
            /// Go back to instruction `target` (a loop's back edge, `target <= pc`).
            Loop(target: u32 = Target) "loop" pops(0) pushes(0) [];
            /// `a1 .. an -> r`: call function `func`, whose arity is `argc`. (`argc` is a
            /// `u16`, as parameters are at most 65,535, so that every instruction fits in 8
            /// bytes: the interpreter loads each one as a single word.)
            Call { func: FnId = Function, argc: u16 = Count } "call"
                pops(u64::from(argc)) pushes(1) [FAILS, CALLS];
            /// `f a1 .. an -> r`: call the function value `f`; `type error` when it is not a
            /// function, `wrong number of arguments` when its arity is not `argc`.
            CallValue(argc: u32 = Count) "call_value"
                pops(u64::from(argc) + 1) pushes(1) [FAILS, CALLS];
            /// `r ->`: return `r` to the caller (from main: end the program with `r`).
            Return "return" pops(1) pushes(0) [];
            /// `v ->`, and write `v` and a newline to the output.
            Print "print" pops(1) pushes(0) [FAILS];
            /// `v -> v v`.
            Dup "dup" pops(1) pushes(2) [];
            /// `v ->`.
            Pop "pop" pops(1) pushes(0) [];
            /// `v1 .. vn -> [v1, .., vn]`.
            NewArray(n: u32 = Count) "new_array" pops(u64::from(n)) pushes(1) [FAILS, ALLOCATES];
            /// `v n -> [v; n]`: `index out of bounds` when `n < 0`, `out of memory` when
            /// `n > 2^28` or the heap is full.
            NewArrayFill "new_array_fill" pops(2) pushes(1) [FAILS, ALLOCATES];
            /// `a i -> a[i]`.
            ArrayGet "array_get" pops(2) pushes(1) [FAILS];
            /// `a i v ->`, and `a[i] = v`.
            ArraySet "array_set" pops(3) pushes(0) [FAILS];
            /// `a -> len(a)`.
            ArrayLen "array_len" pops(1) pushes(1) [FAILS];
            /// `-> {}`: a new object with no fields.
            NewObject "new_object" pops(0) pushes(1) [FAILS, ALLOCATES];
            /// `o -> o.f`, `f` being `fields[k]`; `no such field` when it is missing.
            GetField(k: u32 = Field) "get_field" pops(1) pushes(1) [FAILS];
            /// `o v ->`, and `o.f = v` (adding the field when it is new).
            SetField(k: u32 = Field) "set_field" pops(2) pushes(0) [FAILS, ALLOCATES];
            /// `-> f`: push the function value of function `func`.
            FuncRef(func: FnId = Function) "func_ref" pops(0) pushes(1) [];
        }
    };
}

/// What an operand of an instruction indexes, or counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperandKind {
    /// An index into [`Program::constants`].
    Constant,
    /// A local of the running function.
    Local,
    /// An instruction of the same function (a jump target).
    Target,
    /// An index into [`Program::functions`].
    Function,
    /// An index into [`Program::fields`].
    Field,
    /// A number of values (arguments, elements).
    Count,
}

/// What an instruction may do besides moving values: fail with a runtime error, call
/// a function, allocate on the heap. An optimizer may drop or reorder an instruction
/// with none of them once its result is unused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Effects {
    /// It may stop the program with a runtime error.
    pub fails: bool,
    /// It calls a function (and so may do anything a function does).
    pub calls: bool,
    /// It may allocate on the heap.
    pub allocates: bool,
}

impl Effects {
    /// No effect.
    pub const NONE: Effects = Effects {
        fails: false,
        calls: false,
        allocates: false,
    };
    /// May fail.
    pub const FAILS: Effects = Effects {
        fails: true,
        ..Effects::NONE
    };
    /// Calls.
    pub const CALLS: Effects = Effects {
        calls: true,
        ..Effects::NONE
    };
    /// Allocates.
    pub const ALLOCATES: Effects = Effects {
        allocates: true,
        ..Effects::NONE
    };

    /// Both sets of effects.
    pub const fn with(self, other: Effects) -> Effects {
        Effects {
            fails: self.fails || other.fails,
            calls: self.calls || other.calls,
            allocates: self.allocates || other.allocates,
        }
    }
}

/// The operands of one instruction, in order, each with its kind (at most two).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operands {
    items: [(OperandKind, u32); 2],
    len: usize,
}

impl Operands {
    /// The operands as a slice.
    pub fn as_slice(&self) -> &[(OperandKind, u32)] {
        &self.items[..self.len]
    }

    /// Adds one (the generated code knows there are at most two).
    const fn push(mut self, kind: OperandKind, value: u32) -> Operands {
        self.items[self.len] = (kind, value);
        self.len += 1;
        self
    }

    const NONE: Operands = Operands {
        items: [(OperandKind::Count, 0); 2],
        len: 0,
    };
}

/// Generates [`Instr`] and its tables from [`for_each_instr!`]'s list.
macro_rules! define_instr {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident
            $( ( $op:ident : $op_ty:ty = $op_kind:ident ) )?
            $( { $( $field:ident : $field_ty:ty = $field_kind:ident ),* } )?
        $mnemonic:literal pops($pops:expr) pushes($pushes:expr) [$($effect:ident),*];
    )*) => {
        /// One bytecode instruction with its decoded operands (see [`for_each_instr!`]
        /// for the list and each one's stack effect, `before -> after`, top of stack
        /// on the right).
        ///
        /// Jumps name an instruction index in the same function. A backward jump is its
        /// own instruction, [`Instr::Loop`], so that an engine can count loop
        /// iterations (and later enter compiled code there) without looking at the
        /// jump's direction, as V8's `JumpLoop` does.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Instr {
            $(
                $(#[doc = $doc])*
                $name $( ($op_ty) )? $( { $( $field: $field_ty ),* } )?,
            )*
        }

        impl Instr {
            /// How many kinds of instruction there are.
            pub const KINDS: usize = [$(stringify!($name)),*].len();

            /// The name of the instruction in the `.jasm` text form.
            pub fn mnemonic(&self) -> &'static str {
                match self {
                    $( Instr::$name { .. } => $mnemonic, )*
                }
            }

            /// How many values the instruction pops, then pushes.
            #[allow(unused_variables)]
            pub fn stack_effect(&self) -> (u64, u64) {
                match *self {
                    $( Instr::$name $( ($op) )? $( { $( $field ),* } )? => ($pops, $pushes), )*
                }
            }

            /// What the instruction may do besides moving values.
            pub fn effects(&self) -> Effects {
                match self {
                    $( Instr::$name { .. } => Effects::NONE $( .with(Effects::$effect) )*, )*
                }
            }

            /// The operands, each with what it indexes.
            pub fn operands(&self) -> Operands {
                match *self {
                    $(
                        Instr::$name $( ($op) )? $( { $( $field ),* } )? => Operands::NONE
                            $( .push(OperandKind::$op_kind, $op as u32) )?
                            $( $( .push(OperandKind::$field_kind, $field as u32) )* )?,
                    )*
                }
            }

            /// The same kind of instruction with the operands `values`, in the order
            /// of [`Instr::operands`]: `None` when there are too few, or one does not
            /// fit its operand's type. (The `.jasm` parser builds instructions so.)
            #[allow(unused_mut, unused_variables)]
            pub fn with_operands(self, values: &[u32]) -> Option<Instr> {
                let mut next = values.iter().copied();
                Some(match self {
                    $(
                        Instr::$name { .. } => Instr::$name
                            $( ( <$op_ty>::try_from(next.next()?).ok()? ) )?
                            $( { $( $field: <$field_ty>::try_from(next.next()?).ok()? ),* } )?,
                    )*
                })
            }

            /// One instruction of each kind, every operand 0, in the list's order.
            pub const EVERY_KIND: [Instr; Instr::KINDS] = [$(
                Instr::$name
                    $( (0 as $op_ty) )?
                    $( { $( $field: 0 as $field_ty ),* } )?
            ),*];
        }
    };
}

for_each_instr!(define_instr);

impl Instr {
    /// The jump target, for the four jumps.
    pub fn jump_target(&self) -> Option<u32> {
        let operands = self.operands();
        let target = operands.as_slice().iter();
        target
            .filter(|(kind, _)| *kind == OperandKind::Target)
            .map(|&(_, t)| t)
            .next()
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

    use super::*;
    use crate::interp::superinstr::{Arith, Cmp, Op};

    #[test]
    fn with_operands_rebuilds_each_kind_and_refuses_what_does_not_fit() {
        for kind in Instr::EVERY_KIND {
            let n = kind.operands().as_slice().len();
            let values: Vec<u32> = (1..=n as u32).map(|v| v * 7).collect();
            let instr = kind.with_operands(&values).expect("small operands fit");
            assert_eq!(instr.mnemonic(), kind.mnemonic());
            let back: Vec<u32> = instr
                .operands()
                .as_slice()
                .iter()
                .map(|&(_, v)| v)
                .collect();
            assert_eq!(back, values, "{kind:?}");
            if n > 0 {
                assert_eq!(kind.with_operands(&values[..n - 1]), None, "{kind:?}");
            }
        }
        let call = Instr::Call { func: 0, argc: 0 };
        assert_eq!(call.with_operands(&[1, u32::from(u16::MAX) + 1]), None);
        assert_eq!(
            call.with_operands(&[1, u32::from(u16::MAX)]),
            Some(Instr::Call {
                func: 1,
                argc: u16::MAX
            })
        );
    }

    /// Every table derived from [`for_each_instr!`] agrees with it: one mnemonic per
    /// kind, the interpreter's `Op` has the same variant with the same operands, the
    /// subsets name their instruction, the stack effects are what the docs say, and
    /// the `.jasm` printer and parser read back every kind.
    #[test]
    fn every_derived_table_agrees_with_the_one_list() {
        let kinds = Instr::EVERY_KIND;
        let names: std::collections::HashSet<_> = kinds.iter().map(Instr::mnemonic).collect();
        assert_eq!(names.len(), Instr::KINDS);
        for instr in kinds {
            assert_eq!(format!("{:?}", Op::from(instr)), format!("{instr:?}"));
            if let Some(cmp) = Cmp::of(instr) {
                assert_eq!(cmp.instr(), instr);
            }
            if let Some(op) = Arith::of(instr) {
                assert_eq!(op.instr(), instr);
            }
            let (pops, pushes) = instr.stack_effect();
            let effects = instr.effects();
            assert!(
                !effects.calls || effects.fails,
                "{instr:?}: a call can fail"
            );
            assert!(
                !effects.allocates || effects.fails,
                "{instr:?}: out of memory"
            );
            assert!(pops <= 3 && pushes <= 2, "{instr:?}");
        }
        let cmps = kinds.iter().filter(|&&i| Cmp::of(i).is_some()).count();
        assert_eq!(cmps, 6);
        assert_eq!(Instr::Dup.stack_effect(), (1, 2));
        assert_eq!(
            Instr::CallValue(2).stack_effect(),
            (3, 1),
            "callee and arguments"
        );
        assert_eq!(Instr::Loop(7).jump_target(), Some(7));
        assert_eq!(Instr::Call { func: 7, argc: 1 }.jump_target(), None);

        let program = Program {
            functions: vec![Function {
                name: "main".into(),
                arity: 0,
                locals: 1,
                code: kinds.to_vec(),
                lines: (1..=Instr::KINDS as u32).collect(),
            }],
            constants: vec![0],
            fields: vec!["x".into()],
        };
        let text = crate::jasm::print(&program);
        let back = crate::jasm::parse("all.jasm", &text).expect("the printed form parses");
        assert_eq!(back.functions[0].code, program.functions[0].code, "{text}");
    }

    #[test]
    fn an_instruction_is_one_word() {
        // The interpreter loads each instruction as one 8-byte word; a 12-byte
        // instruction was measurably slower (it went through memory on every dispatch).
        assert_eq!(std::mem::size_of::<Instr>(), 8);
    }
}
