//! Syntax: the block and the attributes, read into a plain model. What the options *mean* is
//! for `validate`; this module only knows their shape (`key` or `key = tokens`).
//!
//! Parsing never gives up on the whole block: a struct that is not valid Rust is kept as a
//! [`Broken`] stub (so that its name still exists and uses of it do not cascade into errors),
//! and a malformed option is reported and skipped, the other options being kept.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Attribute, Fields, Ident, ItemStruct, Token, Type, Visibility};

/// The errors found so far, combined; `None` when there are none.
pub(crate) type Errors = Option<syn::Error>;

/// A whole `supervisor! { ... }` block.
pub(crate) struct Block {
    pub(crate) supervisors: Vec<SupervisorDef>,
    /// Structs that are not valid Rust: only their name could be read.
    pub(crate) broken: Vec<Broken>,
}

/// A struct of the block that could not be parsed; a stub keeps its name defined.
pub(crate) struct Broken {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) ident: Ident,
}

/// One supervisor struct of the block.
pub(crate) struct SupervisorDef {
    /// Attributes kept on the generated struct (docs, cfgs, lints...).
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) ident: Ident,
    /// The options of `#[supervisor(...)]`.
    pub(crate) options: Vec<Opt>,
    pub(crate) children: Vec<ChildDef>,
    /// Where to point errors about the struct as a whole.
    pub(crate) span: Span,
    /// The fields were not named fields (already reported): `children` means nothing.
    pub(crate) unnamed: bool,
}

/// One field of a supervisor struct: a child.
pub(crate) struct ChildDef {
    /// The field's doc comments, kept for the constructor's documentation.
    pub(crate) docs: Vec<Attribute>,
    /// The field's visibility: that of its handle, on the struct and on the typed handle.
    pub(crate) vis: Visibility,
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
    /// The options of `#[child(...)]`.
    pub(crate) options: Vec<Opt>,
}

/// One `key` or `key = value` option of an attribute.
pub(crate) struct Opt {
    pub(crate) key: Ident,
    /// The tokens after `=`, if any.
    pub(crate) value: Option<TokenStream>,
}

/// Reads a block. Never fails: every syntax error is added to `errors` and parsing goes on
/// with the next struct, field or option.
pub(crate) fn block(input: TokenStream, errors: &mut Errors) -> Block {
    let mut block = Block {
        supervisors: Vec::new(),
        broken: Vec::new(),
    };
    for item in items(input) {
        match syn::parse2::<ItemStruct>(item.clone()) {
            Ok(item) => block
                .supervisors
                .push(SupervisorDef::from_item(item, errors)),
            Err(e) => {
                push_error(errors, e);
                if let Ok(Some(broken)) = Parser::parse2(broken_head, item) {
                    block.broken.push(broken);
                }
            }
        }
    }
    block
}

/// Splits a block into its items: each ends with a brace-delimited body or a `;`.
fn items(input: TokenStream) -> Vec<TokenStream> {
    let mut items = Vec::new();
    let mut current = TokenStream::new();
    for token in input {
        let ends = match &token {
            TokenTree::Group(g) => g.delimiter() == Delimiter::Brace,
            TokenTree::Punct(p) => p.as_char() == ';',
            _ => false,
        };
        current.extend([token]);
        if ends {
            items.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        items.push(current);
    }
    items
}

/// The attributes, visibility and name at the head of an item that did not parse as a struct.
fn broken_head(input: ParseStream<'_>) -> syn::Result<Option<Broken>> {
    let attrs = input.call(Attribute::parse_outer)?;
    let vis: Visibility = input.parse()?;
    if !input.peek(Token![struct]) {
        return Ok(None);
    }
    input.parse::<Token![struct]>()?;
    let ident: Ident = input.parse()?;
    // The rest is what did not parse; it was reported already.
    input.parse::<TokenStream>()?;
    let (_, attrs) = take_options(attrs, "supervisor", &mut None);
    Ok(Some(Broken { attrs, vis, ident }))
}

impl SupervisorDef {
    fn from_item(item: ItemStruct, errors: &mut Errors) -> Self {
        if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
            push_error(
                errors,
                syn::Error::new(
                    item.generics.span(),
                    "a supervisor struct cannot be generic; give each child a concrete type",
                ),
            );
        }
        let span = item.ident.span();
        let (options, attrs) = take_options(item.attrs, "supervisor", errors);
        for attr in &attrs {
            if attr.path().is_ident("derive") {
                push_error(
                    errors,
                    syn::Error::new_spanned(
                        attr,
                        "a supervisor struct cannot derive traits: it holds a running \
                         supervisor, not its fields (`Debug` is implemented already)",
                    ),
                );
            }
        }
        let attrs = attrs
            .into_iter()
            .filter(|a| !a.path().is_ident("derive"))
            .collect();
        let unnamed = matches!(item.fields, Fields::Unnamed(_));
        let fields = match item.fields {
            Fields::Named(named) => named.named.into_iter().collect(),
            Fields::Unit => Vec::new(),
            Fields::Unnamed(unnamed) => {
                push_error(
                    errors,
                    syn::Error::new(
                        unnamed.span(),
                        "a supervisor struct needs named fields, one per child: \
                         `name: ServiceType`",
                    ),
                );
                Vec::new()
            }
        };
        let mut children = Vec::with_capacity(fields.len());
        for field in fields {
            let Some(ident) = field.ident.clone() else {
                continue;
            };
            let (options, rest) = take_options(field.attrs, "child", errors);
            let mut docs = Vec::new();
            for attr in rest {
                if attr.path().is_ident("doc") {
                    docs.push(attr);
                } else {
                    push_error(
                        errors,
                        syn::Error::new_spanned(
                            attr.path(),
                            "unsupported attribute on a child; expected doc comments and \
                             `#[child(...)]` only",
                        ),
                    );
                }
            }
            children.push(ChildDef {
                docs,
                vis: field.vis,
                ident,
                ty: field.ty,
                options,
            });
        }
        SupervisorDef {
            attrs,
            vis: item.vis,
            ident: item.ident,
            options,
            children,
            span,
            unnamed,
        }
    }
}

/// Splits the options of every `#[name(...)]` attribute from the other attributes. A
/// malformed attribute or option is reported and skipped.
pub(crate) fn take_options(
    attrs: Vec<Attribute>,
    name: &str,
    errors: &mut Errors,
) -> (Vec<Opt>, Vec<Attribute>) {
    let mut options = Vec::new();
    let mut rest = Vec::new();
    for attr in attrs {
        if attr.path().is_ident(name) {
            match attr.parse_args_with(|input: ParseStream<'_>| input.parse::<TokenStream>()) {
                Ok(tokens) => options.extend(parse_options(tokens, errors)),
                Err(e) => push_error(errors, e),
            }
        } else {
            rest.push(attr);
        }
    }
    (options, rest)
}

/// `key, key = value tokens, ...`; a value runs to the next comma outside any brackets.
fn parse_options(tokens: TokenStream, errors: &mut Errors) -> Vec<Opt> {
    let mut options = Vec::new();
    let mut segments = vec![Vec::new()];
    for token in tokens {
        match &token {
            TokenTree::Punct(p) if p.as_char() == ',' => segments.push(Vec::new()),
            _ => {
                if let Some(segment) = segments.last_mut() {
                    segment.push(token);
                }
            }
        }
    }
    let segments: Vec<Vec<TokenTree>> = segments
        .into_iter()
        .flat_map(|segment| split_missing_commas(segment, errors))
        .collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.into_iter().enumerate() {
        let mut tokens = segment.into_iter();
        let key = match tokens.next() {
            Some(TokenTree::Ident(key)) => key,
            // A trailing comma, e.g. `#[child(after = a,)]`.
            None if i == last => break,
            other => {
                let span = other.map_or_else(Span::call_site, |t| t.span());
                push_error(
                    errors,
                    syn::Error::new(span, "expected an option name, such as `restart`"),
                );
                continue;
            }
        };
        let value = match tokens.next() {
            None => None,
            Some(TokenTree::Punct(eq)) if eq.as_char() == '=' => {
                let value: TokenStream = tokens.collect();
                if value.is_empty() {
                    push_error(
                        errors,
                        syn::Error::new(eq.span(), format!("expected a value after `{key} =`")),
                    );
                    continue;
                }
                Some(value)
            }
            Some(other) => {
                push_error(
                    errors,
                    syn::Error::new(other.span(), format!("expected `=` or `,` after `{key}`")),
                );
                continue;
            }
        };
        options.push(Opt { key, value });
    }
    options
}

/// `a = x b = y` (a forgotten comma): reported, and read as `a = x, b = y`. A new option
/// starts at an identifier followed by a lone `=`, past the first `key =`.
fn split_missing_commas(segment: Vec<TokenTree>, errors: &mut Errors) -> Vec<Vec<TokenTree>> {
    let is_eq = |t: Option<&TokenTree>| matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == '=' && p.spacing() == proc_macro2::Spacing::Alone);
    let mut parts = vec![Vec::new()];
    let mut seen_eq = false;
    let mut i = 0;
    while i < segment.len() {
        let token = &segment[i];
        let starts_option = seen_eq
            && matches!(token, TokenTree::Ident(_))
            && is_eq(segment.get(i + 1))
            && !matches!(segment.get(i.wrapping_sub(1)), Some(TokenTree::Punct(p)) if p.as_char() != '%');
        if starts_option {
            push_error(
                errors,
                syn::Error::new(
                    token.span(),
                    format!("expected `,` before `{token}`: options are separated by commas"),
                ),
            );
            parts.push(Vec::new());
            seen_eq = false;
        }
        if is_eq(Some(token)) {
            seen_eq = true;
        }
        if let Some(part) = parts.last_mut() {
            part.push(token.clone());
        }
        i += 1;
    }
    parts
}

/// Adds `error` to the errors collected so far.
pub(crate) fn push_error(errors: &mut Errors, error: syn::Error) {
    match errors {
        Some(all) => all.combine(error),
        None => *errors = Some(error),
    }
}
