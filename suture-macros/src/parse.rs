//! Syntax: the block and the attributes, read into a plain model. What the options *mean* is
//! for `validate`; this module only knows their shape (`key` or `key = tokens`).

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, Fields, Ident, ItemStruct, Token, Type, Visibility};

/// A whole `supervisor! { ... }` block.
pub(crate) struct Block {
    pub(crate) supervisors: Vec<SupervisorDef>,
}

/// One supervisor struct of the block.
pub(crate) struct SupervisorDef {
    /// Attributes kept on the generated struct (docs, derives, cfgs...).
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) ident: Ident,
    /// The options of `#[supervisor(...)]`.
    pub(crate) options: Vec<Opt>,
    pub(crate) children: Vec<ChildDef>,
    /// Where to point errors about the struct as a whole.
    pub(crate) span: Span,
}

/// One field of a supervisor struct: a child.
pub(crate) struct ChildDef {
    /// The field's doc comments, kept for the constructor's documentation.
    pub(crate) docs: Vec<Attribute>,
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

impl Parse for Block {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut supervisors = Vec::new();
        let mut errors: Option<syn::Error> = None;
        while !input.is_empty() {
            let item: ItemStruct = input.parse()?;
            match SupervisorDef::from_item(item) {
                Ok(def) => supervisors.push(def),
                Err(e) => push_error(&mut errors, e),
            }
        }
        match errors {
            Some(e) => Err(e),
            None => Ok(Block { supervisors }),
        }
    }
}

impl SupervisorDef {
    fn from_item(item: ItemStruct) -> syn::Result<Self> {
        if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
            return Err(syn::Error::new(
                item.generics.span(),
                "a supervisor struct cannot be generic; declare a concrete child type for each field",
            ));
        }
        let span = item.ident.span();
        let (options, attrs) = take_options(item.attrs, "supervisor")?;
        let fields = match item.fields {
            Fields::Named(named) => named.named,
            Fields::Unit => Default::default(),
            Fields::Unnamed(unnamed) => {
                return Err(syn::Error::new(
                    unnamed.span(),
                    "a supervisor struct needs named fields, one per child: `name: ServiceType`",
                ));
            }
        };
        let mut children = Vec::with_capacity(fields.len());
        for field in fields {
            let ident = field
                .ident
                .clone()
                .ok_or_else(|| syn::Error::new(field.span(), "expected a named field"))?;
            let (options, rest) = take_options(field.attrs, "child")?;
            let docs = rest
                .into_iter()
                .filter(|a| a.path().is_ident("doc"))
                .collect();
            children.push(ChildDef {
                docs,
                ident,
                ty: field.ty,
                options,
            });
        }
        Ok(SupervisorDef {
            attrs,
            vis: item.vis,
            ident: item.ident,
            options,
            children,
            span,
        })
    }
}

/// Splits the options of every `#[name(...)]` attribute from the other attributes.
pub(crate) fn take_options(
    attrs: Vec<Attribute>,
    name: &str,
) -> syn::Result<(Vec<Opt>, Vec<Attribute>)> {
    let mut options = Vec::new();
    let mut rest = Vec::new();
    for attr in attrs {
        if attr.path().is_ident(name) {
            options.extend(attr.parse_args_with(parse_options)?);
        } else {
            rest.push(attr);
        }
    }
    Ok((options, rest))
}

/// `key, key = value tokens, ...`; a value runs to the next comma outside any brackets.
pub(crate) fn parse_options(input: ParseStream<'_>) -> syn::Result<Vec<Opt>> {
    let mut options = Vec::new();
    while !input.is_empty() {
        let key = if input.peek(Token![crate]) {
            let token: Token![crate] = input.parse()?;
            Ident::new("crate", token.span)
        } else {
            input.parse::<Ident>().map_err(|e| {
                syn::Error::new(e.span(), "expected an option name, such as `strategy`")
            })?
        };
        let value = if input.peek(Token![=]) {
            let eq: Token![=] = input.parse()?;
            let mut tokens = TokenStream::new();
            while !input.is_empty() && !input.peek(Token![,]) {
                tokens.extend([input.parse::<TokenTree>()?]);
            }
            if tokens.is_empty() {
                return Err(syn::Error::new(
                    eq.span,
                    format!("expected a value after `{key} =`"),
                ));
            }
            Some(tokens)
        } else {
            None
        };
        options.push(Opt { key, value });
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(options)
}

/// Adds `error` to the errors collected so far.
pub(crate) fn push_error(errors: &mut Option<syn::Error>, error: syn::Error) {
    match errors {
        Some(all) => all.combine(error),
        None => *errors = Some(error),
    }
}
