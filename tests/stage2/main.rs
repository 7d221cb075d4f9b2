//! The stage 2 suite.
