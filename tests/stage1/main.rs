//! The stage 1 suite.
