//! The suture benchmarks (see README).

fn main() {}
