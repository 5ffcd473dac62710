//! Procedural macros for `suture`: the `supervisor!` block and `#[derive(Service)]`.
//!
//! Use them through the `suture` crate, which re-exports them and documents them with
//! examples. Each macro runs in three steps: `parse` reads the syntax into a plain model,
//! `validate` gives it meaning and checks every rule (collecting all errors, each spanned
//! on the offending token), and `expand` writes the code. On errors, `fallback` adds the
//! `compile_error!`s to an expansion of what was valid (and stubs for what could not be
//! parsed), so the user sees their mistakes and not a cascade after them.

use proc_macro::TokenStream;

mod expand;
mod fallback;
mod parse;
mod validate;

/// Declares a tree of supervisors, one struct per supervisor and one field per child.
///
/// Use it as `suture::supervisor!`, whose documentation has the options and examples.
#[proc_macro]
pub fn supervisor(input: TokenStream) -> TokenStream {
    supervisor_block(input.into()).into()
}

/// Implements `Service` for a type with an inherent `async fn run(&mut self, ctx: Context)`.
///
/// Use it as `#[derive(suture::Service)]`, whose documentation has the options and examples.
#[proc_macro_derive(Service, attributes(service))]
pub fn derive_service(input: TokenStream) -> TokenStream {
    service_derive(input.into()).into()
}

fn supervisor_block(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let mut errors = None;
    let block = parse::block(input, &mut errors);
    let checked = validate::block(&block, &mut errors);
    fallback::with_errors(expand::block(&checked, &block.broken), errors)
}

fn service_derive(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let input = match syn::parse2::<syn::DeriveInput>(input) {
        Ok(input) => input,
        Err(e) => return e.into_compile_error(),
    };
    let mut errors = None;
    let policy = validate::service(&input, &mut errors);
    fallback::with_errors(expand::derive(&input, &policy), errors)
}

#[cfg(test)]
mod tests;
