//! Stage 7 of jitlab: speculation and deoptimization. The optimizing compiler bets on
//! what the profile says — integers where only integers were seen, branches that
//! always went one way, fields that always hit their cache, the one function a
//! `call_value` site ever called, small callees copied into their callers — and each
//! bet is a guard carrying the interpreter frames it stands for. When a bet is lost
//! the code deoptimizes: the runtime rebuilds those frames from registers and stack
//! slots and the interpreter goes on from the exact instruction, so the output, the
//! result and every error trace stay the interpreter's.
//!
//! Nothing of the earlier stages is copied here: stage 7 plugs in where they were
//! built to be extended — stage 1's feedback vectors and resumable frames, stage 3's
//! baseline templates, stage 4's speculative builder and guards (its
//! `Speculation` extension point), stage 5's tiered engine (its `Extension`) and
//! stage 6's caches.
