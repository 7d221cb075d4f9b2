//! Kernels shared by the benches (being written).
