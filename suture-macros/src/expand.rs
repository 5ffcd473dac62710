//! Code: the generated structs, constructors and `Service` impls. Every path is absolute,
//! through the hidden `__private` module of the suture crate (or the path given with
//! `crate = ...`), so that renamed dependencies and shadowed prelude names do not matter.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, LitStr};

use crate::fallback;
use crate::parse::Broken;
use crate::validate::{Checked, ChildKind, ChildPolicy, ServicePolicy, StopBudget, Word};

fn krate_path(krate: Option<&syn::Path>) -> TokenStream {
    match krate {
        Some(path) => quote!(#path),
        None => quote!(::suture),
    }
}

/// The whole block: one struct, constructor and `Service` impl per supervisor, and a stub
/// for each struct that did not parse.
///
/// `crate = path` applies to the supervisor that gives it, and to no sibling. The stubs of
/// structs that did not parse (whose options are unknown) use the first one given.
pub(crate) fn block(checked: &[Checked<'_>], broken: &[Broken]) -> TokenStream {
    let block_krate = checked.iter().find_map(|c| c.policy.krate.as_ref());
    let mut out: TokenStream = checked
        .iter()
        .map(|c| supervisor(c, c.policy.krate.as_ref()))
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
        .unwrap_or_else(|| snake_case(&ident.unraw().to_string()));

    let mut builder = quote!(#p::Supervisor::builder(#name));
    if let Some(strategy) = policy.strategy.map(Word::variant) {
        builder.extend(quote!(.strategy(#p::Strategy::#strategy)));
    }
    if let Some((threshold, half_life)) = policy.intensity {
        builder.extend(quote!(.intensity(#threshold, #p::Duration::from_nanos(#half_life))));
    }
    if let Some(on_exceeded) = policy.on_exceeded.map(Word::variant) {
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
    if let Some(order) = policy.shutdown_order.map(Word::variant) {
        builder.extend(quote!(.shutdown_order(#p::ShutdownOrder::#order)));
    }
    if let Some(propagate) = policy.propagate_termination {
        builder.extend(quote!(.propagate_termination(#propagate)));
    }
    if let Some(pass) = policy.pass_through_panics {
        builder.extend(quote!(.pass_through_panics(#pass)));
    }
    if let Some(auto) = policy.auto_shutdown.map(Word::variant) {
        builder.extend(quote!(.auto_shutdown(#p::AutoShutdown::#auto)));
    }

    if let Some(hook) = &policy.event_hook {
        // Spanned on the path: a hook of the wrong type is reported there.
        builder.extend(quote_spanned!(hook.span()=> .event_hook(#hook)));
    }

    // The run-time names: `#[child(name)]`, else the field's name without `r#`.
    let names: Vec<String> = def
        .children
        .iter()
        .zip(&checked.children)
        .map(|(c, policy)| {
            policy
                .name
                .clone()
                .unwrap_or_else(|| c.ident.unraw().to_string())
        })
        .collect();
    // The one generated field (and local) of the struct: a name no field has.
    let hidden = hidden_ident(def.children.iter().map(|c| &c.ident));
    let handle_ident = format_ident!("{}Handle", ident);
    let start: Vec<&String> = checked.start_order.iter().map(|&i| &names[i]).collect();
    let stop: Vec<&String> = start.iter().rev().copied().collect();
    let params = def.children.iter().map(|c| {
        let (field, ty) = (&c.ident, &c.ty);
        quote!(#field: #ty)
    });
    let handle_types: Vec<TokenStream> = def
        .children
        .iter()
        .zip(&checked.kinds)
        .map(|(c, kind)| handle_type(&p, &c.ty, kind))
        .collect();
    let pool_budget = match policy.shutdown {
        Some(nanos) => quote!(#p::Option::Some(#p::Duration::from_nanos(#nanos))),
        None => quote!(#p::Option::None),
    };
    let adds = checked.start_order.iter().map(|&i| {
        let child = &def.children[i];
        let (field, ty) = (&child.ident, &child.ty);
        let name = &names[i];
        // Spanned on the field's type: a type that is not a service is reported there, once.
        let span = ty.span();
        let add = match &checked.kinds[i] {
            ChildKind::Plain => {
                let configure = child_spec(&p, &checked.children[i], Some(name));
                quote_spanned!(span=> #hidden.add_child::<#ty>(#field, |spec: #p::ChildSpec| spec #configure))
            }
            ChildKind::Declared => {
                let configure = child_spec(&p, &checked.children[i], Some(name));
                quote_spanned!(span=> #hidden.add_declared::<#ty>(#field, |spec: #p::ChildSpec| spec #configure))
            }
            ChildKind::Optional(inner) => {
                let configure = child_spec(&p, &checked.children[i], Some(name));
                quote_spanned!(inner.span()=> #hidden.add_optional::<#inner>(#field, |spec: #p::ChildSpec| spec #configure))
            }
            ChildKind::Pool(inner) => {
                // Each element gets the options, and its own name unless one is given.
                let configure = child_spec(&p, &checked.children[i], None);
                quote_spanned!(inner.span()=> #hidden.add_pool::<#inner>(
                    #name,
                    #pool_budget,
                    #field,
                    |spec: #p::ChildSpec| spec #configure,
                    |spec: #p::ChildSpec| spec.name(#name),
                ))
            }
        };
        quote_spanned! {ty.span()=>
            let #field = #add;
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
    let handle_debug_name = handle_ident.to_string();
    let handle_doc = format!(
        "The typed handle of [`{ident}`]: one method per child, and \
         [`supervisor`](Self::supervisor) for the untyped handle. Cheap to clone, usable \
         before, while and after the tree runs."
    );
    let get_handle_doc = format!(
        "The typed handle of this supervisor, [`{handle_ident}`]: reach, stop, start or \
         restart each child by its field, before, while or after it runs."
    );

    let fields: Vec<TokenStream> = def
        .children
        .iter()
        .zip(&handle_types)
        .zip(&names)
        .map(|((c, handle_ty), name)| {
            let (field, vis) = (&c.ident, &c.vis);
            let docs = if c.docs.is_empty() {
                let doc = format!("The handle of the child `{name}`.");
                quote!(#[doc = #doc])
            } else {
                let docs = &c.docs;
                quote!(#(#docs)*)
            };
            quote!(#docs #vis #field: #handle_ty)
        })
        .collect();
    let handle_fields = def
        .children
        .iter()
        .zip(&handle_types)
        .map(|(c, handle_ty)| {
            let field = &c.ident;
            quote!(#field: #handle_ty)
        });
    let field_idents: Vec<&Ident> = def.children.iter().map(|c| &c.ident).collect();
    let methods = def
        .children
        .iter()
        .zip(&handle_types)
        .zip(&names)
        .zip(&checked.kinds)
        .map(|(((c, handle_ty), name), kind)| {
            let (field, vis) = (&c.ident, &c.vis);
            let what = match kind {
                ChildKind::Plain => "The child",
                ChildKind::Declared => "The typed handle of the child supervisor",
                ChildKind::Pool(_) => "The pool",
                ChildKind::Optional(_) => "The optional child (`None` if absent)",
            };
            let doc = format!("{what} `{name}`.");
            quote! {
                #[doc = #doc]
                #vis fn #field(&self) -> #handle_ty {
                    #p::core::clone::Clone::clone(&self.#field)
                }
            }
        });

    // A field named `supervisor` is an error already: its method takes the name.
    let untyped = (!def.children.iter().any(|c| c.ident.unraw() == "supervisor")).then(|| {
        quote! {
            /// The untyped handle of this supervisor: add or remove children, read the live
            /// tree.
            #vis fn supervisor(&self) -> #p::SupervisorHandle {
                #p::core::clone::Clone::clone(&self.#hidden)
            }
        }
    });

    quote! {
        #(#attrs)*
        #vis struct #ident {
            #(#fields,)*
            #hidden: #p::Declared,
        }

        #[doc = #handle_doc]
        #(#cfgs)*
        #vis struct #handle_ident {
            #(#handle_fields,)*
            #hidden: #p::SupervisorHandle,
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
                // An item: it sees no parameter, so a field cannot shadow a path it uses.
                fn #hidden() -> #p::SupervisorBuilder {
                    #builder
                }
                let mut #hidden = #p::Declared::new(#hidden());
                #(#adds)*
                Self {
                    #(#field_idents,)*
                    #hidden,
                }
            }

            #[doc = #get_handle_doc]
            #vis fn handle(&self) -> #handle_ident {
                #handle_ident {
                    #(#field_idents: #p::core::clone::Clone::clone(&self.#field_idents),)*
                    #hidden: self.#hidden.handle(),
                }
            }
        }

        #(#cfgs)*
        #[allow(dead_code)]
        impl #handle_ident {
            #(#methods)*

            #untyped
        }

        #(#cfgs)*
        #[automatically_derived]
        impl #p::core::clone::Clone for #handle_ident {
            fn clone(&self) -> Self {
                #handle_ident {
                    #(#field_idents: #p::core::clone::Clone::clone(&self.#field_idents),)*
                    #hidden: #p::core::clone::Clone::clone(&self.#hidden),
                }
            }
        }

        #(#cfgs)*
        #[automatically_derived]
        impl #p::core::fmt::Debug for #handle_ident {
            fn fmt(&self, f: &mut #p::core::fmt::Formatter<'_>) -> #p::core::fmt::Result {
                f.debug_struct(#handle_debug_name)
                    .field("supervisor", &self.#hidden)
                    .finish_non_exhaustive()
            }
        }

        #(#cfgs)*
        #[automatically_derived]
        impl #p::TypedSupervisor for #ident {
            type Handle = #handle_ident;
            fn typed_handle(&self) -> #handle_ident {
                self.handle()
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
                #p::Service::serve(&mut self.#hidden, ctx)
            }

            fn name(&self) -> #p::Cow<'static, str> {
                #p::Service::name(&self.#hidden)
            }

            fn child_spec(&self) -> #p::ChildSpec {
                #p::Service::child_spec(&self.#hidden)
            }

            fn __supervisor_handle(&self) -> #p::core::option::Option<#p::SupervisorHandle> {
                #p::Service::__supervisor_handle(&self.#hidden)
            }
        }

        #(#cfgs)*
        #[automatically_derived]
        impl #p::core::fmt::Debug for #ident {
            fn fmt(&self, f: &mut #p::core::fmt::Formatter<'_>) -> #p::core::fmt::Result {
                f.debug_struct(#debug_name)
                    .field("supervisor", &self.#hidden)
                    .finish_non_exhaustive()
            }
        }
    }
}

/// What the struct's field and the typed handle's method give for a child.
fn handle_type(p: &TokenStream, ty: &syn::Type, kind: &ChildKind) -> TokenStream {
    match kind {
        ChildKind::Plain => quote!(#p::ChildRef<#ty>),
        ChildKind::Declared => quote!(<#ty as #p::TypedSupervisor>::Handle),
        ChildKind::Pool(inner) => quote!(#p::PoolHandle<#inner>),
        ChildKind::Optional(inner) => quote!(#p::Option<#p::ChildRef<#inner>>),
    }
}

/// `__suture`, or `__suture_2`... : the first such name no field has.
fn hidden_ident<'a>(fields: impl Iterator<Item = &'a Ident> + Clone) -> Ident {
    (1..)
        .map(|n| match n {
            1 => "__suture".to_owned(),
            n => format!("__suture_{n}"),
        })
        .find(|name| fields.clone().all(|f| f.unraw() != name))
        .map_or_else(
            || format_ident!("__suture"),
            |name| format_ident!("{}", name),
        )
}

/// The `ChildSpec` method calls that apply a child's `#[child(...)]` options, then name it
/// `name` if given (else only by its `name` option).
fn child_spec(p: &TokenStream, policy: &ChildPolicy, name: Option<&String>) -> TokenStream {
    let mut calls = quote!();
    if let Some(restart) = policy.restart.map(Word::variant) {
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
    if let Some(name) = name.or(policy.name.as_ref()) {
        calls.extend(quote!(.name(#name)));
    }
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
    // A service is `Send + 'static`: each type parameter must be too.
    let mut generics = input.generics.clone();
    for param in generics.type_params_mut() {
        param.bounds.push(syn::parse_quote!(#p::core::marker::Send));
        param.bounds.push(syn::parse_quote!('static));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let method = policy
        .method
        .clone()
        .unwrap_or_else(|| Ident::new("run", Span::call_site()));
    let method_call = quote_spanned!(method.span()=> Self::#method(self, ctx));
    let into_result = quote_spanned!(method.span()=> #p::RunFuture::into_service_result);
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
        if let Some(restart) = policy.restart.map(Word::variant) {
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
                // Any `Result<(), E>` with `E: Into<ServiceError>`.
                #into_result(#method_call)
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
pub(crate) fn snake_case(ident: &str) -> String {
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
