//! Compile-pass and compile-fail cases of `supervisor!` and `#[derive(Service)]`.
//!
//! The `.stderr` snapshots are pinned to the toolchain they were reviewed with: compiler
//! messages change between releases, so other toolchains skip this test rather than fail it.
//! Regenerate with `TRYBUILD=overwrite cargo test -p suture-ui-tests`, then review each file.

#[rustversion::attr(not(stable(1.95)), ignore = "snapshots are pinned to rustc 1.95")]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
