//! The macros never panic, whatever the input: every prefix, every single-token deletion and
//! a few hand-picked oddities of valid blocks and derives expand to something.

use proc_macro2::{TokenStream, TokenTree};
use quote::quote;

use crate::{service_derive, supervisor_block};

fn block() -> TokenStream {
    quote! {
        /// Docs.
        #[supervisor(strategy = one_for_one, intensity = 5 / 30s, backoff = 15s, jitter = 10%,
                     shutdown = 10s, on_exceeded = backoff, shutdown_order = reverse,
                     propagate_termination = false, pass_through_panics, auto_shutdown = any_significant,
                     name = "app", crate = ::suture)]
        pub struct App {
            /// The database.
            database: Database,
            #[child(restart = transient, after = [database, listeners], shutdown = 5s, ready = 250us,
                    significant, name = "c")]
            cache: Cache,
            #[child(shutdown = abort)]
            listeners: Listeners,
        }

        #[supervisor(strategy = one_for_all, intensity = 2.5 / 1m, jitter = 0.1)]
        pub(crate) struct Listeners {
            http: Listener,
            #[child(shutdown = infinity, restart = temporary)]
            https: Listener,
        }
    }
}

fn derive() -> TokenStream {
    quote! {
        #[service(name = "db", restart = transient, shutdown = 5s, ready = 10s, method = go)]
        struct Database { pool: Pool }
    }
}

/// Every prefix of `input`, every variant with one token tree left out, and the same inside
/// each group, recursively.
fn mutations(input: &TokenStream) -> Vec<TokenStream> {
    let tokens: Vec<TokenTree> = input.clone().into_iter().collect();
    let mut out = Vec::new();
    for n in 0..=tokens.len() {
        out.push(tokens[..n].iter().cloned().collect());
    }
    for skip in 0..tokens.len() {
        out.push(
            tokens
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, t)| t.clone())
                .collect(),
        );
    }
    for (i, token) in tokens.iter().enumerate() {
        if let TokenTree::Group(group) = token {
            for inner in mutations(&group.stream()) {
                let mut changed = tokens.clone();
                let mut g = proc_macro2::Group::new(group.delimiter(), inner);
                g.set_span(group.span());
                changed[i] = TokenTree::Group(g);
                out.push(changed.into_iter().collect());
            }
        }
    }
    out
}

#[test]
fn no_input_makes_the_block_panic() {
    for input in mutations(&block()) {
        let _ = supervisor_block(input);
    }
}

#[test]
fn no_input_makes_the_derive_panic() {
    for input in mutations(&derive()) {
        let _ = service_derive(input);
    }
}

#[test]
fn odd_values_are_errors_not_panics() {
    let odd = [
        quote!(intensity = 1e400 / 1s),
        quote!(intensity = -1 / 1s),
        quote!(intensity = 5 / 0s),
        quote!(intensity = 5 / 1e400s),
        quote!(jitter = 1e400%),
        quote!(jitter = -0.5),
        quote!(jitter = 5),
        quote!(backoff = 1e30h),
        quote!(backoff = 0.0000000001ns),
        quote!(backoff = 18446744073709551616ns),
        quote!(backoff = "10s"),
        quote!(name = ""),
        quote!(name = "a/b"),
        quote!(crate = 5),
        quote!(strategy = [one_for_one]),
        quote!(strategy),
        quote!(strategy = ),
        quote!(= 5),
        quote!(,,),
        quote!(strategy = OneForAll),
        quote!(strategy = ::suture::Strategy::OneForAll),
        quote!(strategy = one_for_all backoff = 1s),
        quote!(jitter = 10 % backoff = 1s),
        quote!(event_hook = 5),
        quote!(event_hook),
    ];
    for option in odd {
        let input = quote! {
            #[supervisor(#option)]
            struct App { worker: Worker }
        };
        let out = supervisor_block(input).to_string();
        assert!(out.contains("compile_error"), "{option}: {out}");
    }
}

#[test]
fn a_valid_block_has_no_errors() {
    let out = supervisor_block(block()).to_string();
    assert!(!out.contains("compile_error"), "{out}");
    let out = service_derive(derive()).to_string();
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn a_broken_struct_keeps_its_name() {
    let out = supervisor_block(quote! {
        pub struct Broken { a: Worker b: Worker }
        struct Fine { a: Worker }
    })
    .to_string();
    assert!(out.contains("compile_error"), "{out}");
    assert!(out.contains("struct Broken"), "{out}");
    assert!(out.contains("struct Fine"), "{out}");
}

#[test]
fn child_shapes_and_odd_child_options() {
    // Pools, optional children, raw identifiers and paths expand without errors.
    let out = supervisor_block(quote! {
        struct App {
            r#type: Worker,
            pool: Vec<Worker>,
            maybe: Option<Worker>,
            nested: self::Inner,
        }
        struct Inner { a: Worker }
    })
    .to_string();
    assert!(!out.contains("compile_error"), "{out}");
    assert!(out.contains("add_pool"), "{out}");
    assert!(out.contains("add_optional"), "{out}");
    assert!(out.contains("add_declared"), "{out}");

    let odd = [
        quote!(after = a, b),
        quote!(after = a b = c),
        quote!(restart = transient shutdown = 5s),
        quote!(restart = Restart::Transient),
        quote!(after = [a, b] ready),
    ];
    for option in odd {
        let input = quote! {
            struct App {
                #[child(#option)]
                worker: Worker,
                a: Worker,
                b: Worker,
            }
        };
        let out = supervisor_block(input).to_string();
        assert!(out.contains("compile_error"), "{option}: {out}");
    }
}
