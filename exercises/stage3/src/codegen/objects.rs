//! The extension point of baseline code's object instructions: a later stage (stage
//! 6's inline caches) hands the code generator an [`ObjectCode`], which emits an
//! inline fast path before the runtime call of `get_field`, `set_field`,
//! `new_object`, `new_array` and `new_array_fill`, and records the targets of
//! `call_value`.
//!
//! Without one ([`TierOptions::objects`](super::tiering::TierOptions) is `None`, and
//! always in a whole-program compile) the templates are exactly stage 3's: a runtime
//! call per object instruction. With one, each template is
//!
//! ```text
//!   <operands into their registers, as for the call>
//!   <the fast path: on a hit, the result in rax, jmp done>
//!   <the runtime call, as without a fast path>    ; the miss
//! done:
//! ```
//!
//! so the fast path is only ever an addition: on a miss it falls through to the same
//! call with the same registers, and the runtime does what it always does (raises the
//! `type error` or `no such field`, updates the cache).

use stage1::Instr;
use stage2::{Assembler, Label, Mem, Reg};

use super::FnGen;

/// A `get_field`, `set_field` or `call_value` instruction of the program, numbered
/// once per program, in program order (stage 1's [`Sites`](stage1::objects::Sites)).
pub use stage1::objects::Site;

/// What a later stage adds to baseline code's object instructions: an inline fast path
/// tried before the runtime call. Registers: the operand(s) are in the registers named;
/// a fast path may use `rax`, `rdx`, `r8`–`r11` and must leave the operands' registers
/// intact for the runtime call that follows it on a miss. Every operand of the value
/// stack is in its slot, and `rsp` is 16-byte aligned.
pub trait ObjectCode {
    /// `get_field` at `site`: the object in `rsi` (any value: checking that it is an
    /// object is the fast path's). Hit: the field's value in `rax`, jump to `done`.
    /// Miss: fall through.
    fn get_field(&self, asm: &mut Assembler, site: Site, done: Label);

    /// `set_field` at `site`: the object in `rsi`, the value in `rcx`. Hit: the field
    /// stored, jump to `done`. Miss: fall through, nothing written.
    fn set_field(&self, asm: &mut Assembler, site: Site, done: Label);

    /// `new_object`: hit: the new empty object in `rax`, jump to `done`. Miss (no room
    /// in the current chunk, or the heap limit): fall through, nothing allocated.
    fn new_object(&self, asm: &mut Assembler, done: Label);

    /// `call_value` at `site`: the callee, a function value (already checked), in
    /// `callee`. Records the target: compares it with the site's cache inline and, on
    /// a miss, tells the runtime (`rt_call_target`). Falls through in every case, with
    /// `callee` as it was; it may use the scratch registers above (and `rcx`, `rsi`,
    /// `rdi` around its call), nothing else.
    fn call_value(&self, asm: &mut Assembler, site: Site, callee: Reg);

    /// `new_array n`: element `i` is the word at `first - 8i` (operand slots, `rbp`
    /// based). Hit: the new array in `rax`, jump to `done`. Miss: fall through,
    /// nothing allocated. By default there is no fast path.
    fn new_array(&self, asm: &mut Assembler, n: u32, first: Mem, done: Label) {
        let _ = (asm, n, first, done);
    }

    /// `new_array_fill` (`[v; n]`): the value in `rsi`, `n` (any value: checking that
    /// it is a non-negative integer is the fast path's) in `rdx`, both to be kept for
    /// the runtime call (so `rdx` is not scratch here). Hit: the new array in `rax`,
    /// jump to `done`. Miss: fall through, nothing allocated (the runtime raises the
    /// errors). By default there is no fast path.
    fn new_array_fill(&self, asm: &mut Assembler, done: Label) {
        let _ = (asm, done);
    }
}

/// Whether `instr` is a site: an instruction with an inline cache (numbered by
/// [`Sites`](stage1::objects::Sites) in program order).
pub fn is_site(instr: &Instr) -> bool {
    matches!(
        instr,
        Instr::GetField(_) | Instr::SetField(_) | Instr::CallValue(_)
    )
}

impl FnGen<'_> {
    /// The site of the instruction being generated (a field access or value call).
    pub(crate) fn site(&self) -> Site {
        self.sites
            .of(self.func, self.pc)
            .expect("every field access and value call is a site")
    }

    /// The fast path of an object instruction, if there is an [`ObjectCode`]: `emit`
    /// writes it with a fresh `done` label, which is returned, for the template to
    /// bind after its runtime call.
    pub(crate) fn fast_path(
        &mut self,
        emit: impl FnOnce(&dyn ObjectCode, &mut Assembler, Label),
    ) -> Option<Label> {
        let objects = self.objects?;
        let done = self.asm.new_label();
        emit(objects, self.asm, done);
        Some(done)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use stage2::{Imm32, Reg};

    use super::*;
    use crate::{compile_function, TierOptions};
    use stage1::FnId;

    /// Records each call and emits nothing, or (`hit`) a recognizable fast path.
    #[derive(Default)]
    struct Recorder {
        hit: bool,
        calls: RefCell<Vec<String>>,
    }

    impl Recorder {
        fn emit(&self, asm: &mut Assembler, what: String, done: Option<Label>) {
            self.calls.borrow_mut().push(what);
            if let (true, Some(done)) = (self.hit, done) {
                asm.mov(Reg::RAX, Imm32(0x1234));
                asm.jmp(done);
            }
        }
    }

    impl ObjectCode for Recorder {
        fn get_field(&self, asm: &mut Assembler, site: Site, done: Label) {
            self.emit(asm, format!("get {site}"), Some(done));
        }
        fn set_field(&self, asm: &mut Assembler, site: Site, done: Label) {
            self.emit(asm, format!("set {site}"), Some(done));
        }
        fn new_object(&self, asm: &mut Assembler, done: Label) {
            self.emit(asm, "new".into(), Some(done));
        }
        fn call_value(&self, asm: &mut Assembler, site: Site, callee: Reg) {
            self.emit(asm, format!("call {site} {callee}"), None);
        }
        fn new_array(&self, asm: &mut Assembler, n: u32, first: Mem, done: Label) {
            self.emit(asm, format!("array {n} {}", first.disp), Some(done));
        }
        fn new_array_fill(&self, asm: &mut Assembler, done: Label) {
            self.emit(asm, "fill".into(), Some(done));
        }
    }

    const SOURCE: &str = "fn f(o) { o.x = o.y; return o; }\n\
                          fn g(h) { return h({y: 1}).x; }\n\
                          print [[g(f)]; 2];";

    fn code(verified: &stage1::Verified, func: FnId, objects: Option<&dyn ObjectCode>) -> Vec<u8> {
        let options = TierOptions {
            objects,
            ..TierOptions::default()
        };
        let c = compile_function(verified, func, &options).expect("compiles");
        c.code.bytes()[c.function.range.clone()].to_vec()
    }

    /// A hook that emits nothing changes no byte: the hook is only an addition.
    #[test]
    fn an_empty_hook_changes_nothing() {
        let verified = stage1::load::load_source("t.mini", SOURCE).unwrap();
        let recorder = Recorder::default();
        for func in 0..3 {
            assert_eq!(
                code(&verified, func, None),
                code(&verified, func, Some(&recorder))
            );
        }
    }

    /// The hooks see every object instruction with its site, numbered in program
    /// order (function by function, pc by pc) whichever function is compiled.
    #[test]
    fn every_object_instruction_reaches_the_hook_with_its_site() {
        let verified = stage1::load::load_source("t.mini", SOURCE).unwrap();
        let program = verified.program();
        let seen = |func: FnId| {
            let recorder = Recorder::default();
            code(&verified, func, Some(&recorder));
            recorder.calls.take()
        };
        let (f, g) = (program.function_named("f"), program.function_named("g"));
        let (f, g) = (f.unwrap(), g.unwrap());
        assert!(f < g, "f before g in the program");
        let sites = verified.sites();
        let first = |func: FnId| {
            let code = &program.functions[func as usize].code;
            (0..code.len()).find_map(|pc| sites.of(func, pc)).unwrap()
        };
        let before_f = first(f);
        assert_eq!(
            seen(f),
            [format!("get {before_f}"), format!("set {}", before_f + 1)]
        );
        let before_g = first(g);
        assert_eq!(before_g, before_f + 2);
        let g_calls = seen(g);
        assert_eq!(g_calls[0], "new");
        assert_eq!(g_calls[1], format!("set {before_g}"));
        assert_eq!(g_calls[2], format!("call {} rax", before_g + 1));
        assert_eq!(g_calls[3], format!("get {}", before_g + 2));
        assert_eq!(g_calls.len(), 4);
        let main = seen(program.function_named("main").unwrap());
        assert!(main.iter().any(|c| c.starts_with("array 1 ")), "{main:?}");
        assert!(main.iter().any(|c| c == "fill"), "{main:?}");
    }

    /// A fast path goes before the runtime call, which stays as the miss path, and
    /// its hit jumps past that call.
    #[test]
    fn the_fast_path_goes_before_the_call() {
        let verified = stage1::load::load_source("t.mini", SOURCE).unwrap();
        let f = verified.program().function_named("f").unwrap();
        let recorder = Recorder {
            hit: true,
            ..Recorder::default()
        };
        let text = |code: &[u8]| -> Vec<String> {
            stage2::disasm(code, 0)
                .into_iter()
                .map(|l| l.text)
                .collect()
        };
        let plain = text(&code(&verified, f, None));
        let with = text(&code(&verified, f, Some(&recorder)));
        let calls = |lines: &[String]| lines.iter().filter(|l| l.starts_with("call ")).count();
        assert_eq!(calls(&plain), calls(&with), "the runtime calls stay");
        // get_field, then set_field: each mark comes before its own call, and its
        // `jmp` lands right after that call.
        let marks: Vec<usize> = (0..with.len())
            .filter(|&i| with[i] == "mov rax, 0x1234")
            .collect();
        assert_eq!(marks.len(), 2, "{with:#?}");
        for &m in &marks {
            assert!(with[m + 1].starts_with("jmp "), "{with:#?}");
            let call = (m..with.len())
                .find(|&i| with[i].starts_with("call "))
                .unwrap();
            assert!(call > m + 1, "{with:#?}");
        }
    }
}
