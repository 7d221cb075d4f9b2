//! Executable memory: finished code copied into pages that are never writable and
//! executable at once (W^X), callable as `extern "sysv64"` functions.
//!
//! The pages are mapped read+write, filled with `int3` and the code, then switched to
//! read+execute before anyone can call them; they stay that way until they are freed
//! when the [`CodeBlock`] is dropped.

use crate::buffer::{AsmError, Label, MachineCode};
use crate::disasm::{self, Line};

/// The byte unused code memory is filled with: `int3`, so a stray jump past the end
/// of the code traps at once instead of running whatever was there.
pub const FILLER: u8 = 0xCC;

/// Machine code in read+execute memory, freed when dropped.
pub struct CodeBlock {
    /// The mapping (whole pages: the code, then [`FILLER`] to the end).
    mem: region::Allocation,
    /// The length of the code proper.
    len: usize,
    /// The offset of each label.
    labels: Vec<Option<usize>>,
}

// SAFETY: after `load` the memory is read+execute and never written again; a
// `CodeBlock` only hands out pointers and shared byte slices into it, so sharing or
// moving it between threads cannot race.
unsafe impl Send for CodeBlock {}
// SAFETY: as above: nothing reachable through `&CodeBlock` mutates the memory.
unsafe impl Sync for CodeBlock {}

impl std::fmt::Debug for CodeBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeBlock")
            .field("addr", &format_args!("{:#x}", self.addr()))
            .field("len", &self.len)
            .finish()
    }
}

/// Turns a `region` failure into an [`AsmError`].
fn memory_error(action: &'static str) -> impl FnOnce(region::Error) -> AsmError {
    move |e| AsmError::Memory {
        action,
        message: e.to_string(),
    }
}

impl CodeBlock {
    /// Maps `code` into fresh memory: allocate read+write, fill with [`FILLER`], copy
    /// the code, then protect read+execute. The memory is never writable and
    /// executable at the same time.
    pub fn load(code: &MachineCode) -> Result<CodeBlock, AsmError> {
        todo!(
            "finish-wx: allocate RW pages, fill them with int3, copy the code in, then protect them RX — book §2.8"
        )
    }

    /// The address of the first instruction.
    pub fn entry_ptr(&self) -> *const u8 {
        self.mem.as_ptr()
    }

    /// The address of the first instruction as a number (for listings and `call_abs`).
    pub fn addr(&self) -> u64 {
        self.entry_ptr() as u64
    }

    /// The length of the code in bytes (without the filler).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the block holds no code.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The length of the whole mapping (whole pages), filler included.
    pub fn mapped_len(&self) -> usize {
        self.mem.len()
    }

    /// The code bytes, readable from the read+execute pages.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is readable, at least `len` bytes long, lives as long as
        // `self`, and is never written after `load`.
        unsafe { std::slice::from_raw_parts(self.entry_ptr(), self.len) }
    }

    /// The offset of `label` in the code, if it was bound.
    pub fn label_offset(&self, label: Label) -> Option<usize> {
        self.labels.get(label.index()).copied().flatten()
    }

    /// The address of `label`, if it was bound.
    pub fn label_ptr(&self, label: Label) -> Option<*const u8> {
        // `wrapping_add` keeps this safe code; the offset is within the mapping anyway.
        self.label_offset(label)
            .map(|o| self.entry_ptr().wrapping_add(o))
    }

    /// The code as a typed function pointer, e.g.
    /// `let f: extern "sysv64" fn(i64, i64) -> i64 = unsafe { code.as_fn() };`.
    ///
    /// # Safety
    /// The caller promises that `F` is an `extern "sysv64" fn` type whose signature
    /// matches what the code at the entry does: it was produced by this assembler,
    /// reads its arguments from the System V registers of `F`'s parameters, returns
    /// in `rax`, keeps the callee-saved registers (`rbx`, `rbp`, `r12`–`r15`) and a
    /// 16-byte-aligned stack at its own calls, and touches only memory it is given.
    /// The pointer must not be called after this `CodeBlock` is dropped.
    ///
    /// # Panics
    /// If `F` is not the size of a pointer.
    pub unsafe fn as_fn<F: Copy>(&self) -> F {
        self.fn_at(0)
    }

    /// Like [`CodeBlock::as_fn`], for an entry point at `offset` (e.g. a label's).
    ///
    /// # Safety
    /// As for [`CodeBlock::as_fn`], for the code at `offset`, which must be the start
    /// of an instruction.
    ///
    /// # Panics
    /// If `F` is not the size of a pointer or `offset` is outside the code.
    pub unsafe fn fn_at<F: Copy>(&self, offset: usize) -> F {
        assert_eq!(
            std::mem::size_of::<F>(),
            std::mem::size_of::<*const u8>(),
            "as_fn needs a function pointer type"
        );
        assert!(offset < self.len, "entry offset {offset} outside the code");
        let ptr = self.entry_ptr().wrapping_add(offset);
        // SAFETY: `F` is pointer-sized (checked above) and, by the caller's promise, a
        // function pointer type matching the code at `ptr`, which lies in our mapping.
        unsafe { std::mem::transmute_copy::<*const u8, F>(&ptr) }
    }

    /// The code decoded by iced-x86, with branch targets as offsets from the start.
    pub fn disasm(&self) -> Vec<Line> {
        disasm::disasm(self.bytes(), 0)
    }

    /// The listing of the code: one `offset: bytes  instruction` line per instruction.
    pub fn listing(&self) -> String {
        disasm::listing(&self.disasm())
    }
}
