//! Integration tests of suture live in `tests/`; this library is empty.
