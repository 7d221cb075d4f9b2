//! The code buffer: bytes, labels, and the fixups that connect them.
//!
//! A jump to a label that is not bound yet is written with a placeholder `rel32` and a
//! [`Fixup`] saying where that field is; [`CodeBuffer::link`] fills every field in
//! when the code is finished, and reports a label that was used but never bound.

use std::fmt;

/// A position in the code that jumps and calls can target, bound before or after use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(pub(crate) u32);

impl Label {
    /// The label's number in its assembler (0, 1, …, in creation order).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{}", self.0)
    }
}

/// Why code could not be finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AsmError {
    /// A jump or call targets a label that was never bound.
    UnboundLabel {
        /// The label.
        label: Label,
        /// The offset of the first `rel32` field that refers to it.
        used_at: usize,
    },
    /// A label was bound twice.
    LabelBoundTwice {
        /// The label.
        label: Label,
        /// Where it was bound first.
        first: usize,
        /// Where it was bound again.
        second: usize,
    },
    /// A label that this assembler did not create (it came from another one).
    ForeignLabel {
        /// The label.
        label: Label,
    },
    /// The operating system refused to map or protect the executable memory.
    Memory {
        /// What was being done (`"allocate"`, `"protect"`).
        action: &'static str,
        /// The system's message.
        message: String,
    },
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsmError::UnboundLabel { label, used_at } => write!(
                f,
                "label {label} is used (first at offset {used_at:#x}) but never bound"
            ),
            AsmError::LabelBoundTwice {
                label,
                first,
                second,
            } => write!(
                f,
                "label {label} is bound twice, at offsets {first:#x} and {second:#x}"
            ),
            AsmError::ForeignLabel { label } => {
                write!(f, "label {label} was not created by this assembler")
            }
            AsmError::Memory { action, message } => {
                write!(f, "could not {action} executable memory: {message}")
            }
        }
    }
}

impl std::error::Error for AsmError {}

/// A `rel32` field waiting for its label: the field's offset and the label.
///
/// The field is always the last four bytes of its instruction, so the displacement is
/// `target - (at + 4)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fixup {
    /// Offset of the 4-byte field in the code.
    pub at: usize,
    /// The label whose offset the field must reach.
    pub label: Label,
}

/// Bytes under construction, with labels and pending fixups.
#[derive(Clone, Debug, Default)]
pub struct CodeBuffer {
    /// The code written so far (`rel32` fields of pending fixups hold zero).
    pub(crate) bytes: Vec<u8>,
    /// The offset of each label, once bound.
    pub(crate) labels: Vec<Option<usize>>,
    /// The `rel32` fields to fill in when linking.
    pub(crate) fixups: Vec<Fixup>,
    /// The first misuse of a label, reported by [`CodeBuffer::link`].
    pub(crate) error: Option<AsmError>,
}

/// Finished, position-independent machine code: the bytes with every jump resolved,
/// and where each label ended up. Load it with [`crate::CodeBlock::load`] to run it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineCode {
    /// The code.
    pub bytes: Vec<u8>,
    /// The offset of each label (`None` for a label never bound and never used).
    pub labels: Vec<Option<usize>>,
}

impl MachineCode {
    /// The offset of `label` in the code, if it was bound.
    pub fn label_offset(&self, label: Label) -> Option<usize> {
        self.labels.get(label.index()).copied().flatten()
    }
}

impl CodeBuffer {
    /// An empty buffer.
    pub fn new() -> CodeBuffer {
        CodeBuffer::default()
    }

    /// The offset the next byte will be written at.
    pub fn offset(&self) -> usize {
        self.bytes.len()
    }

    /// The bytes so far (unresolved `rel32` fields read as zero).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// A fresh, unbound label.
    pub fn new_label(&mut self) -> Label {
        self.labels.push(None);
        Label((self.labels.len() - 1) as u32)
    }

    /// Binds `label` to the current offset. Binding twice is an error that
    /// [`CodeBuffer::link`] reports.
    pub fn bind(&mut self, label: Label) {
        let here = self.offset();
        match self.labels.get_mut(label.index()) {
            None => self.fail(AsmError::ForeignLabel { label }),
            Some(Some(first)) => {
                let first = *first;
                self.fail(AsmError::LabelBoundTwice {
                    label,
                    first,
                    second: here,
                })
            }
            Some(slot) => *slot = Some(here),
        }
    }

    /// Where `label` is bound, if it is (and belongs to this buffer).
    pub fn label_offset(&self, label: Label) -> Option<usize> {
        self.labels.get(label.index()).copied().flatten()
    }

    /// Writes a `rel32` field for `label`: a fixup, filled in by [`CodeBuffer::link`].
    pub fn rel32(&mut self, label: Label) {
        if label.index() >= self.labels.len() {
            self.fail(AsmError::ForeignLabel { label });
        }
        self.fixups.push(Fixup {
            at: self.offset(),
            label,
        });
        self.bytes.extend_from_slice(&[0; 4]);
    }

    /// Appends one byte.
    pub fn byte(&mut self, b: u8) {
        self.bytes.push(b);
    }

    /// Appends bytes.
    pub fn extend(&mut self, bs: &[u8]) {
        self.bytes.extend_from_slice(bs);
    }

    /// Remembers the first error; later ones follow from it or are reported next time.
    fn fail(&mut self, e: AsmError) {
        self.error.get_or_insert(e);
    }

    /// Resolves every fixup and returns the finished code, or the first label error.
    pub fn link(self) -> Result<MachineCode, AsmError> {
        let CodeBuffer {
            mut bytes,
            labels,
            fixups,
            error,
        } = self;
        if let Some(e) = error {
            return Err(e);
        }
        todo!(
            "fixups: fill each fixup's rel32 field with `target - end of field`, or report an unbound label — book §2.7"
        )
    }
}
