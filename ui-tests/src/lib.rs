//! Compile-pass and compile-fail tests of suture's macros live in `tests/`; this library is empty.
