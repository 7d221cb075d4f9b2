//! What the suites share (being written).
