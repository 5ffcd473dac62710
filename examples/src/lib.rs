//! Runnable examples of suture live in `examples/`; this library is empty.
