//! Procedural macros for `suture`: the `supervisor!` block and `#[derive(Service)]`.
//!
//! Use them through the `suture` crate, which re-exports them.
