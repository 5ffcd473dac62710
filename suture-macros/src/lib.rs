//! Procedural macros for `suture`: the `supervisor!` block and `#[derive(Service)]`.
//!
//! Use them through the `suture` crate, which re-exports them and documents them with
//! examples. Each macro runs in three steps: `parse` reads the syntax into a plain model,
//! `validate` gives it meaning and checks every rule (collecting all errors, each spanned
//! on the offending token), and `expand` writes the code. On errors, the expansion still
//! runs on what was valid, so the user sees their mistakes and not a cascade after them.

use proc_macro::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput};

mod expand;
mod parse;
mod validate;

/// Declares a tree of supervisors; see `suture::supervisor!` for the full documentation.
#[proc_macro]
pub fn supervisor(input: TokenStream) -> TokenStream {
    let block = match syn::parse::<parse::Block>(input) {
        Ok(block) => block,
        Err(e) => return e.into_compile_error().into(),
    };
    let (checked, errors) = validate::block(&block);
    let mut out = expand::block(&checked);
    if let Some(errors) = errors {
        out.extend(errors.into_compile_error());
    }
    out.into()
}

/// Implements `suture::Service` for a struct with an inherent `async fn run(&mut self, ctx)`;
/// see `suture::Service` (the derive) for the full documentation.
#[proc_macro_derive(Service, attributes(service))]
pub fn derive_service(input: TokenStream) -> TokenStream {
    let input = match syn::parse::<DeriveInput>(input) {
        Ok(input) => input,
        Err(e) => return e.into_compile_error().into(),
    };
    let mut errors = None;
    if !matches!(input.data, Data::Struct(_)) {
        parse::push_error(
            &mut errors,
            syn::Error::new(
                input.ident.span(),
                "`#[derive(Service)]` supports structs only; implement `suture::Service` by \
                 hand for enums and unions",
            ),
        );
    }
    let options = match parse::take_options(input.attrs.clone(), "service") {
        Ok((options, _)) => options,
        Err(e) => {
            parse::push_error(&mut errors, e);
            Vec::new()
        }
    };
    let policy = validate::service(&options, &mut errors);
    let mut out = match input.data {
        Data::Struct(_) => expand::derive(&input, &policy),
        _ => quote!(),
    };
    if let Some(errors) = errors {
        out.extend(errors.into_compile_error());
    }
    out.into()
}
