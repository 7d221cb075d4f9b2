//! Stage 1 of jitlab: the Mini language, its bytecode, a verifier and a fast
//! interpreter. Every later stage runs the programs this crate reads and checks its
//! answers against this crate's interpreter.

pub mod bytecode;
pub mod cli;
pub mod engine;
pub mod error;
pub mod heap;
pub mod interp;
pub mod jasm;
pub mod limits;
pub mod load;
pub mod mini;
pub mod objects;
pub mod print;
pub mod value;
pub mod verify;

pub use bytecode::{FnId, Function, Instr, Program};
pub use engine::{Engine, Event, Stats};
pub use error::{ErrorKind, RuntimeError, SourceError, TraceFrame};
pub use value::Value;
pub use verify::{verify, Verified};
