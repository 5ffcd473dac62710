//! The error path. The expansion of what was valid is kept (structs whose options were
//! partly wrong still exist, with the runtime's defaults in place of the wrong options), and
//! the errors are added as `compile_error!`s: the user sees each mistake once, spanned on its
//! token, and no follow-on error about a missing struct, constructor or impl.

use proc_macro2::TokenStream;
use quote::quote;

use crate::parse::{Broken, Errors};

/// `expanded`, followed by a `compile_error!` per error.
pub(crate) fn with_errors(mut expanded: TokenStream, errors: Errors) -> TokenStream {
    if let Some(errors) = errors {
        expanded.extend(errors.into_compile_error());
    }
    expanded
}

/// A struct of the block that did not parse: its name is kept, as a service, so that uses
/// of it report nothing more than the syntax error.
pub(crate) fn broken(broken: &Broken, p: &TokenStream) -> TokenStream {
    let Broken { attrs, vis, ident } = broken;
    quote! {
        #(#attrs)*
        #vis struct #ident {
            __suture: #p::Declared,
        }

        impl #p::Service for #ident {
            fn serve(
                &mut self,
                ctx: #p::Context,
            ) -> impl #p::core::future::Future<Output = #p::ServiceResult>
                   + #p::core::marker::Send {
                #p::Service::serve(&mut self.__suture, ctx)
            }
        }

        impl #p::TypedSupervisor for #ident {
            type Handle = #p::SupervisorHandle;
            fn typed_handle(&self) -> #p::SupervisorHandle {
                self.__suture.handle()
            }
        }

        impl #p::core::fmt::Debug for #ident {
            fn fmt(&self, f: &mut #p::core::fmt::Formatter<'_>) -> #p::core::fmt::Result {
                #p::core::fmt::Debug::fmt(&self.__suture, f)
            }
        }
    }
}
