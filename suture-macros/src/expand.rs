//! Code: the generated structs, constructors and `Service` impls. Every path is absolute,
//! through the hidden `__private` module of the suture crate (or the path given with
//! `crate = ...`), so that renamed dependencies and shadowed prelude names do not matter.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, LitStr};

use crate::fallback;
use crate::parse::Broken;
use crate::validate::{Checked, ChildPolicy, ServicePolicy, StopBudget};

fn krate_path(krate: Option<&syn::Path>) -> TokenStream {
    match krate {
        Some(path) => quote!(#path),
        None => quote!(::suture),
    }
}

/// The whole block: one struct, constructor and `Service` impl per supervisor, and a stub
/// for each struct that did not parse.
///
/// `crate = path` given on one supervisor applies to the whole block (unless another
/// supervisor gives its own), since a block is written against one dependency.
pub(crate) fn block(checked: &[Checked<'_>], broken: &[Broken]) -> TokenStream {
    let block_krate = checked.iter().find_map(|c| c.policy.krate.as_ref());
    let mut out: TokenStream = checked
        .iter()
        .map(|c| supervisor(c, c.policy.krate.as_ref().or(block_krate)))
        .collect();
    let krate = krate_path(block_krate);
    let p = quote!(#krate::__private);
    for b in broken {
        out.extend(fallback::broken(b, &p));
    }
    out
}

fn supervisor(checked: &Checked<'_>, krate: Option<&syn::Path>) -> TokenStream {
    let def = checked.def;
    let policy = &checked.policy;
    let krate = krate_path(krate);
    let p = quote!(#krate::__private);
    let (attrs, vis, ident) = (&def.attrs, &def.vis, &def.ident);
    // A `#[cfg(...)]` on the struct applies to everything generated for it.
    let cfgs: Vec<&syn::Attribute> = attrs.iter().filter(|a| a.path().is_ident("cfg")).collect();
    let name = policy
        .name
        .clone()
        .unwrap_or_else(|| snake_case(&ident.to_string()));

    let mut builder = quote!(#p::Supervisor::builder(#name));
    if let Some(strategy) = &policy.strategy {
        builder.extend(quote!(.strategy(#p::Strategy::#strategy)));
    }
    if let Some((threshold, half_life)) = policy.intensity {
        builder.extend(quote!(.intensity(#threshold, #p::Duration::from_nanos(#half_life))));
    }
    if let Some(on_exceeded) = &policy.on_exceeded {
        builder.extend(quote!(.on_exceeded(#p::OnExceeded::#on_exceeded)));
    }
    if let Some(backoff) = policy.backoff {
        builder.extend(quote!(.backoff(#p::Duration::from_nanos(#backoff))));
    }
    if let Some(jitter) = policy.jitter {
        builder.extend(quote!(.jitter(#jitter)));
    }
    if let Some(shutdown) = policy.shutdown {
        builder.extend(quote!(.shutdown(#p::Duration::from_nanos(#shutdown))));
    }
    if let Some(order) = &policy.shutdown_order {
        builder.extend(quote!(.shutdown_order(#p::ShutdownOrder::#order)));
    }
    if let Some(propagate) = policy.propagate_termination {
        builder.extend(quote!(.propagate_termination(#propagate)));
    }
    if let Some(pass) = policy.pass_through_panics {
        builder.extend(quote!(.pass_through_panics(#pass)));
    }
    if let Some(auto) = &policy.auto_shutdown {
        builder.extend(quote!(.auto_shutdown(#p::AutoShutdown::#auto)));
    }

    let names: Vec<String> = def
        .children
        .iter()
        .zip(&checked.children)
        .map(|(c, policy)| policy.name.clone().unwrap_or_else(|| c.ident.to_string()))
        .collect();
    let start: Vec<&String> = checked.start_order.iter().map(|&i| &names[i]).collect();
    let stop: Vec<&String> = start.iter().rev().copied().collect();
    let params = def.children.iter().map(|c| {
        let (field, ty) = (&c.ident, &c.ty);
        quote!(#field: #ty)
    });
    let adds = checked.start_order.iter().map(|&i| {
        let child = &def.children[i];
        let (field, ty) = (&child.ident, &child.ty);
        let configure = child_spec(&p, &checked.children[i], &names[i]);
        // Spanned on the field's type: a type that is not a service is reported there, once.
        quote_spanned! {ty.span()=>
            __suture.add_child::<#ty>(#field, |spec: #p::ChildSpec| spec #configure);
        }
    });

    let mut new_doc = format!("Creates `{ident}` with its children, started in this order:\n");
    for (&i, name) in checked.start_order.iter().zip(&start) {
        let child = &def.children[i];
        let summary = doc_text(&child.docs);
        if summary.is_empty() {
            new_doc.push_str(&format!("\n- `{name}`"));
        } else {
            new_doc.push_str(&format!("\n- `{name}`: {summary}"));
        }
    }
    new_doc.push_str("\n\nIt does nothing until it is served (as a child, or with `suture::run`).");
    let start_doc = format!("The names of `{ident}`'s children, in start order.");
    let stop_doc =
        format!("The names of `{ident}`'s children, in stop order (reverse start order).");
    let debug_name = ident.to_string();

    quote! {
        #(#attrs)*
        #vis struct #ident {
            __suture: #p::Declared,
        }

        // Generated items may go unused in a given program.
        #(#cfgs)*
        #[allow(dead_code)]
        impl #ident {
            #[doc = #start_doc]
            #vis const START_ORDER: &'static [&'static str] = &[#(#start),*];
            #[doc = #stop_doc]
            #vis const STOP_ORDER: &'static [&'static str] = &[#(#stop),*];

            #[doc = #new_doc]
            #[allow(clippy::too_many_arguments)]
            #vis fn new(#(#params),*) -> Self {
                let mut __suture = #p::Declared::new(#builder);
                #(#adds)*
                Self { __suture }
            }

            /// The handle of this supervisor: add or remove children at run time, and read
            /// the live tree.
            #vis fn handle(&self) -> #p::SupervisorHandle {
                self.__suture.handle()
            }
        }

        #(#cfgs)*
        #[automatically_derived]
        impl #p::Service for #ident {
            fn serve(
                &mut self,
                ctx: #p::Context,
            ) -> impl #p::core::future::Future<Output = #p::ServiceResult>
                   + #p::core::marker::Send {
                #p::Service::serve(&mut self.__suture, ctx)
            }

            fn name(&self) -> #p::Cow<'static, str> {
                #p::Service::name(&self.__suture)
            }

            fn child_spec(&self) -> #p::ChildSpec {
                #p::Service::child_spec(&self.__suture)
            }

            fn __supervisor_handle(&self) -> #p::core::option::Option<#p::SupervisorHandle> {
                #p::Service::__supervisor_handle(&self.__suture)
            }
        }

        #(#cfgs)*
        #[automatically_derived]
        impl #p::core::fmt::Debug for #ident {
            fn fmt(&self, f: &mut #p::core::fmt::Formatter<'_>) -> #p::core::fmt::Result {
                f.debug_struct(#debug_name)
                    .field("supervisor", &self.__suture)
                    .finish()
            }
        }
    }
}

/// The `ChildSpec` method calls that apply a child's `#[child(...)]` options.
fn child_spec(p: &TokenStream, policy: &ChildPolicy, name: &str) -> TokenStream {
    let mut calls = quote!();
    if let Some(restart) = &policy.restart {
        calls.extend(quote!(.restart(#p::Restart::#restart)));
    }
    if let Some(budget) = policy.shutdown {
        let budget = stop_budget(p, budget);
        calls.extend(quote!(.shutdown(#budget)));
    }
    if let Some(ready) = policy.ready {
        calls.extend(quote!(.ready_within(#p::Duration::from_nanos(#ready))));
    }
    if let Some(significant) = policy.significant {
        calls.extend(quote!(.significant(#significant)));
    }
    calls.extend(quote!(.name(#name)));
    calls
}

fn stop_budget(p: &TokenStream, budget: StopBudget) -> TokenStream {
    match budget {
        StopBudget::Timeout(nanos) => {
            quote!(#p::Shutdown::Timeout(#p::Duration::from_nanos(#nanos)))
        }
        StopBudget::Abort => quote!(#p::Shutdown::Abort),
        StopBudget::Infinity => quote!(#p::Shutdown::Infinity),
    }
}

/// `#[derive(Service)]`.
pub(crate) fn derive(input: &DeriveInput, policy: &ServicePolicy) -> TokenStream {
    let krate = krate_path(policy.krate.as_ref());
    let p = quote!(#krate::__private);
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let method = policy
        .method
        .clone()
        .unwrap_or_else(|| Ident::new("run", Span::call_site()));
    let method_call = quote_spanned!(method.span()=> Self::#method(self, ctx));
    let name = policy.name.as_ref().map(|name| {
        let name = LitStr::new(name, Span::call_site());
        quote! {
            fn name(&self) -> #p::Cow<'static, str> {
                #p::Cow::Borrowed(#name)
            }
        }
    });
    let spec = if policy.restart.is_some() || policy.shutdown.is_some() || policy.ready.is_some() {
        let mut calls = quote!();
        if let Some(restart) = &policy.restart {
            calls.extend(quote!(.restart(#p::Restart::#restart)));
        }
        if let Some(budget) = policy.shutdown {
            let budget = stop_budget(&p, budget);
            calls.extend(quote!(.shutdown(#budget)));
        }
        if let Some(ready) = policy.ready {
            calls.extend(quote!(.ready_within(#p::Duration::from_nanos(#ready))));
        }
        Some(quote! {
            fn child_spec(&self) -> #p::ChildSpec {
                <#p::ChildSpec as #p::core::default::Default>::default() #calls
            }
        })
    } else {
        None
    };
    quote! {
        #[automatically_derived]
        impl #impl_generics #p::Service for #ident #ty_generics #where_clause {
            fn serve(
                &mut self,
                ctx: #p::Context,
            ) -> impl #p::core::future::Future<Output = #p::ServiceResult>
                   + #p::core::marker::Send {
                #method_call
            }
            #name
            #spec
        }
    }
}

/// The first paragraph of a field's doc comments, on one line.
fn doc_text(docs: &[syn::Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in docs {
        if let syn::Meta::NameValue(nv) = &attr.meta
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
        {
            let line = s.value().trim().to_owned();
            if line.is_empty() && !lines.is_empty() {
                break;
            }
            if !line.is_empty() {
                lines.push(line);
            }
        }
    }
    lines.join(" ")
}

/// `ChatApp` -> `chat_app`.
fn snake_case(ident: &str) -> String {
    let mut out = String::with_capacity(ident.len() + 4);
    let chars: Vec<char> = ident.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let after_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let before_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (after_lower || (before_lower && chars[i - 1].is_uppercase())) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn snake_case_splits_words_and_acronyms() {
        assert_eq!(snake_case("ChatApp"), "chat_app");
        assert_eq!(snake_case("HTTPServer"), "http_server");
        assert_eq!(snake_case("Listeners"), "listeners");
        assert_eq!(snake_case("Db2Pool"), "db2_pool");
    }
}
