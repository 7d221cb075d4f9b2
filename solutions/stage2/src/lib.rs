//! Stage 2 of jitlab: executable memory and an x86-64 assembler (being written).
