//! Meaning: every option is read into a typed policy and every rule of the block is checked.
//! All errors are collected (one per mistake, spanned on the offending token), and a policy
//! is still produced from the options that were valid, so that expansion can go on and the
//! user sees only the real mistakes, not a cascade.

use std::collections::{BTreeMap, HashMap};

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Ident, Lit, Type};

use crate::parse::{Block, ChildDef, Errors, Opt, SupervisorDef, push_error, take_options};

/// A supervisor's settings, each `None` when left to the runtime's default.
#[derive(Default)]
pub(crate) struct SupervisorPolicy {
    pub(crate) strategy: Option<Strategy>,
    pub(crate) intensity: Option<(f64, u64)>,
    pub(crate) on_exceeded: Option<OnExceeded>,
    pub(crate) backoff: Option<u64>,
    pub(crate) jitter: Option<f64>,
    pub(crate) shutdown: Option<u64>,
    pub(crate) shutdown_order: Option<ShutdownOrder>,
    pub(crate) propagate_termination: Option<bool>,
    pub(crate) pass_through_panics: Option<bool>,
    pub(crate) auto_shutdown: Option<AutoShutdown>,
    pub(crate) name: Option<String>,
    pub(crate) krate: Option<syn::Path>,
    pub(crate) event_hook: Option<syn::Path>,
}

/// What a field holds, which decides how it is added and what its handle is.
pub(crate) enum ChildKind {
    /// A service: a `ChildRef<T>`.
    Plain,
    /// A supervisor of the same block: its typed handle.
    Declared,
    /// `Vec<T>`: a pool of `T`, a `PoolHandle<T>`.
    Pool(Type),
    /// `Option<T>`: an `Option<ChildRef<T>>`.
    Optional(Type),
}

/// How long a child gets to stop.
#[derive(Clone, Copy)]
pub(crate) enum StopBudget {
    Timeout(u64),
    Abort,
    Infinity,
}

/// A child's settings, each `None` when left to the child type's own `child_spec()`.
#[derive(Default)]
pub(crate) struct ChildPolicy {
    pub(crate) restart: Option<Restart>,
    pub(crate) shutdown: Option<StopBudget>,
    pub(crate) ready: Option<u64>,
    pub(crate) significant: Option<bool>,
    pub(crate) after: Vec<Ident>,
    pub(crate) name: Option<String>,
}

/// The settings of `#[derive(Service)]`'s `#[service(...)]`.
#[derive(Default)]
pub(crate) struct ServicePolicy {
    pub(crate) name: Option<String>,
    pub(crate) restart: Option<Restart>,
    pub(crate) shutdown: Option<StopBudget>,
    pub(crate) ready: Option<u64>,
    pub(crate) method: Option<Ident>,
    pub(crate) krate: Option<syn::Path>,
}

/// A supervisor of the block with its meaning.
pub(crate) struct Checked<'a> {
    pub(crate) def: &'a SupervisorDef,
    pub(crate) policy: SupervisorPolicy,
    pub(crate) children: Vec<ChildPolicy>,
    /// What each field holds, in field order.
    pub(crate) kinds: Vec<ChildKind>,
    /// Indices into `def.children`, in start order.
    pub(crate) start_order: Vec<usize>,
}

/// A word-valued option: the snake_case words users write, each with its value.
pub(crate) trait Word: Copy + PartialEq + 'static {
    /// Each word with its value and the runtime enum's variant.
    const WORDS: &'static [(&'static str, Self, &'static str)];

    /// The runtime enum's variant, for the expansion.
    fn variant(self) -> Ident {
        let name = Self::WORDS
            .iter()
            .find(|(_, value, _)| *value == self)
            .map_or("Default", |(_, _, variant)| variant);
        Ident::new(name, Span::call_site())
    }
}

/// Declares a word-valued option's enum and its words, in one place.
macro_rules! words {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        pub(crate) enum $name {
            $($variant),+
        }
        impl Word for $name {
            const WORDS: &'static [(&'static str, Self, &'static str)] =
                &[$(($word, $name::$variant, stringify!($variant))),+];
        }
    };
}

words!(
    /// `strategy = ...`.
    Strategy { OneForOne = "one_for_one", OneForAll = "one_for_all", RestForOne = "rest_for_one" }
);
words!(
    /// `on_exceeded = ...`.
    OnExceeded { Backoff = "backoff", Escalate = "escalate" }
);
words!(
    /// `shutdown_order = ...`.
    ShutdownOrder { Reverse = "reverse", Concurrent = "concurrent" }
);
words!(
    /// `auto_shutdown = ...`.
    AutoShutdown {
        Never = "never",
        AnySignificant = "any_significant",
        AllSignificant = "all_significant",
    }
);
words!(
    /// `restart = ...`.
    Restart { Permanent = "permanent", Transient = "transient", Temporary = "temporary" }
);

/// How one option is read into its policy.
type Apply<P> = fn(&Opt, &mut P) -> syn::Result<()>;

/// The one table of an attribute's options: its keys (for "unknown option" and "did you
/// mean") and how each is read. An option cannot be listed without being read, or read
/// without being listed.
type Table<P> = &'static [(&'static str, Apply<P>)];

const SUPERVISOR_OPTIONS: Table<SupervisorPolicy> = &[
    ("strategy", |o, p| {
        p.strategy = Some(word(o)?);
        Ok(())
    }),
    ("intensity", |o, p| {
        p.intensity = Some(intensity(o)?);
        Ok(())
    }),
    ("on_exceeded", |o, p| {
        p.on_exceeded = Some(word(o)?);
        Ok(())
    }),
    ("backoff", |o, p| {
        p.backoff = Some(positive_duration(o)?);
        Ok(())
    }),
    ("jitter", |o, p| {
        p.jitter = Some(jitter(o)?);
        Ok(())
    }),
    ("shutdown", |o, p| {
        p.shutdown = Some(positive_duration(o)?);
        Ok(())
    }),
    ("shutdown_order", |o, p| {
        p.shutdown_order = Some(word(o)?);
        Ok(())
    }),
    ("propagate_termination", |o, p| {
        p.propagate_termination = Some(flag(o)?);
        Ok(())
    }),
    ("pass_through_panics", |o, p| {
        p.pass_through_panics = Some(flag(o)?);
        Ok(())
    }),
    ("auto_shutdown", |o, p| {
        p.auto_shutdown = Some(word(o)?);
        Ok(())
    }),
    ("name", |o, p| {
        p.name = Some(name(o)?);
        Ok(())
    }),
    ("crate", |o, p| {
        p.krate = Some(krate(o)?);
        Ok(())
    }),
    ("event_hook", |o, p| {
        p.event_hook = Some(single(
            o,
            "the path of a `fn(&suture::Event)`, e.g. `event_hook = log_event`",
        )?);
        Ok(())
    }),
];

const CHILD_OPTIONS: Table<ChildPolicy> = &[
    ("restart", |o, p| {
        p.restart = Some(word(o)?);
        Ok(())
    }),
    ("shutdown", |o, p| {
        p.shutdown = Some(stop_budget(o)?);
        Ok(())
    }),
    ("ready", |o, p| {
        p.ready = Some(positive_duration(o)?);
        Ok(())
    }),
    ("significant", |o, p| {
        p.significant = Some(flag(o)?);
        Ok(())
    }),
    ("after", |o, p| {
        p.after.extend(after(o)?);
        Ok(())
    }),
    ("name", |o, p| {
        p.name = Some(name(o)?);
        Ok(())
    }),
];

const SERVICE_OPTIONS: Table<ServicePolicy> = &[
    ("name", |o, p| {
        p.name = Some(name(o)?);
        Ok(())
    }),
    ("restart", |o, p| {
        p.restart = Some(word(o)?);
        Ok(())
    }),
    ("shutdown", |o, p| {
        p.shutdown = Some(stop_budget(o)?);
        Ok(())
    }),
    ("ready", |o, p| {
        p.ready = Some(positive_duration(o)?);
        Ok(())
    }),
    ("method", |o, p| {
        p.method = Some(single(o, "a method name, e.g. `method = run`")?);
        Ok(())
    }),
    ("crate", |o, p| {
        p.krate = Some(krate(o)?);
        Ok(())
    }),
];

/// Reads every known, unrepeated option of an attribute with its table; reports the others.
fn apply<'a, P>(
    options: impl IntoIterator<Item = &'a Opt>,
    table: Table<P>,
    what: &str,
    policy: &mut P,
    errors: &mut Errors,
) {
    let keys: Vec<&str> = table.iter().map(|(key, _)| *key).collect();
    for opt in known_options(options, &keys, what, errors) {
        if let Some((_, read)) = table.iter().find(|(key, _)| opt.key == key)
            && let Err(e) = read(opt, policy)
        {
            push_error(errors, e);
        }
    }
}

/// The key of the option `key` of `options`, if it was read (its value is in the policy).
fn key_of(options: &[Opt], key: &str) -> Option<Ident> {
    options.iter().find(|o| o.key == key).map(|o| o.key.clone())
}

/// An identifier as the language compares it: `r#type` is `type`.
fn text(ident: &Ident) -> String {
    ident.unraw().to_string()
}

/// Checks the whole block.
pub(crate) fn block<'a>(block: &'a Block, errors: &mut Errors) -> Vec<Checked<'a>> {
    let mut checked = Vec::with_capacity(block.supervisors.len());
    let mut seen: HashMap<String, Span> = HashMap::new();
    for b in &block.broken {
        seen.insert(text(&b.ident), b.ident.span());
    }
    let names: Vec<String> = block
        .supervisors
        .iter()
        .map(|s| text(&s.ident))
        .chain(block.broken.iter().map(|b| text(&b.ident)))
        .collect();
    for def in &block.supervisors {
        if let Some(first) = seen.insert(text(&def.ident), def.ident.span()) {
            let mut e = syn::Error::new(
                def.ident.span(),
                format!("supervisor `{}` is declared twice in this block", def.ident),
            );
            e.combine(syn::Error::new(first, "first declared here"));
            push_error(errors, e);
            // Checked, but not generated a second time.
            supervisor(def, &names, errors);
            continue;
        }
        // `App` generates `AppHandle`: no other struct of the block may take that name.
        if let Some(owner) = block
            .supervisors
            .iter()
            .find(|s| def.ident == format!("{}Handle", s.ident))
        {
            push_error(
                errors,
                syn::Error::new(
                    def.ident.span(),
                    format!(
                        "`{}` is the name of the typed handle generated for `{}`; rename one \
                         of the two",
                        def.ident, owner.ident
                    ),
                ),
            );
            // Checked, but not generated.
            supervisor(def, &names, errors);
            continue;
        }
        checked.push(supervisor(def, &names, errors));
    }
    // A field closing a containment cycle is expanded as a plain child, so that the error
    // above is the only one (its typed handle would be a type of infinite size).
    for (sup, field) in containment_cycles(block, errors) {
        let ident = &block.supervisors[sup].ident;
        if let Some(c) = checked.iter_mut().find(|c| c.def.ident == *ident) {
            c.kinds[field] = ChildKind::Plain;
        }
    }
    checked
}

fn supervisor<'a>(def: &'a SupervisorDef, block: &[String], errors: &mut Errors) -> Checked<'a> {
    let mut policy = SupervisorPolicy::default();
    apply(
        &def.options,
        SUPERVISOR_OPTIONS,
        "supervisor",
        &mut policy,
        errors,
    );
    let backoff_key = policy.backoff.and_then(|_| key_of(&def.options, "backoff"));
    let jitter_key = policy.jitter.and_then(|_| key_of(&def.options, "jitter"));
    if policy.on_exceeded == Some(OnExceeded::Escalate) {
        for key in [backoff_key, jitter_key].into_iter().flatten() {
            push_error(
                errors,
                syn::Error::new(
                    key.span(),
                    format!(
                        "`{key}` has no effect with `on_exceeded = escalate`: an escalating \
                         supervisor never backs off; remove one of the two"
                    ),
                ),
            );
        }
    }
    if def.children.is_empty() && !def.unnamed {
        push_error(
            errors,
            syn::Error::new(
                def.span,
                format!(
                    "supervisor `{}` has no children: add one field per child, e.g. \
                     `database: Database`",
                    def.ident
                ),
            ),
        );
    }
    let auto_shutdown = policy
        .auto_shutdown
        .is_some_and(|v| v != AutoShutdown::Never);
    let kinds: Vec<ChildKind> = def.children.iter().map(|c| kind(&c.ty, block)).collect();
    let children: Vec<ChildPolicy> = def
        .children
        .iter()
        .zip(&kinds)
        .map(|(c, kind)| child(c, kind, auto_shutdown, errors))
        .collect();
    unique_child_names(def, &children, errors);
    let start_order = start_order(def, &children, errors);
    Checked {
        def,
        policy,
        children,
        kinds,
        start_order,
    }
}

/// What a field of type `ty` holds: a pool (`Vec<T>`), an optional child (`Option<T>`), a
/// supervisor of the block (named by its last path segment), or a plain service.
fn kind(ty: &Type, block: &[String]) -> ChildKind {
    if let Some((wrapper, inner)) = wrapped(ty) {
        match wrapper.as_str() {
            "Vec" => return ChildKind::Pool(inner.clone()),
            "Option" => return ChildKind::Optional(inner.clone()),
            _ => {}
        }
    }
    match block_type(ty) {
        Some(name) if block.contains(&name) => ChildKind::Declared,
        _ => ChildKind::Plain,
    }
}

/// `Wrapper<T>` (the last path segment, with one type argument) as `("Wrapper", T)`.
fn wrapped(ty: &Type) -> Option<(String, &Type)> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let segment = p.path.segments.last()?;
    let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    let mut args = args.args.iter();
    match (args.next(), args.next()) {
        (Some(syn::GenericArgument::Type(inner)), None) => Some((segment.ident.to_string(), inner)),
        _ => None,
    }
}

fn child(
    def: &ChildDef,
    kind: &ChildKind,
    auto_shutdown: bool,
    errors: &mut Errors,
) -> ChildPolicy {
    if text(&def.ident) == "supervisor" {
        push_error(
            errors,
            syn::Error::new(
                def.ident.span(),
                "a child field cannot be named `supervisor`: the typed handle's `supervisor()` \
                 gives the untyped handle; rename the field (and keep the run-time name with \
                 `#[child(name = \"supervisor\")]`)",
            ),
        );
    }
    let mut policy = ChildPolicy::default();
    let options = after_list_without_brackets(&def.options, errors);
    apply(options, CHILD_OPTIONS, "child", &mut policy, errors);
    let significant_key = policy
        .significant
        .and_then(|_| key_of(&def.options, "significant"));
    if let (Some(key), Some(true)) = (significant_key, policy.significant) {
        if matches!(kind, ChildKind::Pool(_)) {
            push_error(
                errors,
                syn::Error::new(
                    key.span(),
                    "`significant` cannot apply to a pool's elements: a pool is its own \
                     supervisor, which never shuts down automatically",
                ),
            );
        } else if policy.restart == Some(Restart::Permanent) {
            push_error(
                errors,
                syn::Error::new(
                    key.span(),
                    "`significant` needs a transient or temporary child: a permanent child is \
                     always restarted, so it never ends for good",
                ),
            );
        } else if !auto_shutdown {
            push_error(
                errors,
                syn::Error::new(
                    key.span(),
                    "`significant` has no effect unless the supervisor sets `auto_shutdown = \
                     any_significant` or `auto_shutdown = all_significant`",
                ),
            );
        }
    }
    policy
}

/// Each child's run-time name (`#[child(name)]`, else the field's name without `r#`) is
/// unique among its siblings, so that its typed handle names it exactly.
fn unique_child_names(def: &SupervisorDef, children: &[ChildPolicy], errors: &mut Errors) {
    let mut seen: HashMap<String, &Ident> = HashMap::new();
    for (c, policy) in def.children.iter().zip(children) {
        let name = policy.name.clone().unwrap_or_else(|| text(&c.ident));
        if let Some(first) = seen.insert(name.clone(), &c.ident) {
            push_error(
                errors,
                syn::Error::new(
                    c.ident.span(),
                    format!(
                        "two children of `{}` are named `{name}` (`{first}` and `{}`): give one \
                         another `#[child(name = ...)]`",
                        def.ident, c.ident
                    ),
                ),
            );
        }
    }
}

/// Declaration order, reordered so that each child starts after those it names in `after`.
/// A stable topological sort: among the children that may start, the first declared goes.
fn start_order(def: &SupervisorDef, children: &[ChildPolicy], errors: &mut Errors) -> Vec<usize> {
    let index: HashMap<String, usize> = def
        .children
        .iter()
        .enumerate()
        .map(|(i, c)| (text(&c.ident), i))
        .collect();
    // Edges: child -> the children it waits for.
    let mut waits: Vec<Vec<usize>> = vec![Vec::new(); children.len()];
    for (i, policy) in children.iter().enumerate() {
        for name in &policy.after {
            let sibling = index.get(&text(name)).copied();
            match sibling {
                Some(j) if j == i => push_error(
                    errors,
                    syn::Error::new(name.span(), format!("`{name}` cannot start after itself")),
                ),
                Some(j) => waits[i].push(j),
                None => {
                    let names: Vec<String> = def.children.iter().map(|c| text(&c.ident)).collect();
                    push_error(
                        errors,
                        unknown(
                            name,
                            "sibling",
                            &names,
                            "`after` names a field of this supervisor",
                        ),
                    );
                }
            }
        }
    }
    let mut order = Vec::with_capacity(children.len());
    let mut placed = vec![false; children.len()];
    while order.len() < children.len() {
        let next = (0..children.len()).find(|&i| !placed[i] && waits[i].iter().all(|&j| placed[j]));
        match next {
            Some(i) => {
                placed[i] = true;
                order.push(i);
            }
            None => {
                let stuck: Vec<usize> = (0..children.len()).filter(|&i| !placed[i]).collect();
                let cycle = find_cycle(&stuck, &waits);
                if let Some(&first) = cycle.first() {
                    let names: Vec<String> = cycle
                        .iter()
                        .chain(std::iter::once(&first))
                        .map(|&i| def.children[i].ident.to_string())
                        .collect();
                    let span = children[first]
                        .after
                        .iter()
                        .find(|a| cycle.iter().any(|&j| def.children[j].ident == **a))
                        .map_or(def.children[first].ident.span(), |a| a.span());
                    push_error(
                        errors,
                        syn::Error::new(
                            span,
                            format!(
                                "`after` forms a cycle: {}; no start order satisfies it",
                                names.join(" after ")
                            ),
                        ),
                    );
                }
                // Keep going in declaration order so that expansion still has an order.
                for i in stuck {
                    placed[i] = true;
                    order.push(i);
                }
            }
        }
    }
    order
}

/// A cycle among `nodes` of the graph `edges` (every node in `nodes` has an edge to another
/// node in `nodes`, or it would have been placed).
fn find_cycle(nodes: &[usize], edges: &[Vec<usize>]) -> Vec<usize> {
    let Some(&start) = nodes.first() else {
        return Vec::new();
    };
    let mut path = vec![start];
    let mut current = start;
    loop {
        let Some(&next) = edges[current].iter().find(|j| nodes.contains(j)) else {
            return path;
        };
        if let Some(pos) = path.iter().position(|&p| p == next) {
            return path.split_off(pos);
        }
        path.push(next);
        current = next;
    }
}

/// Supervisors of the block that contain each other (directly or through others): reports
/// each cycle once, and returns the field closing it (supervisor index, field index).
fn containment_cycles(block: &Block, errors: &mut Errors) -> Vec<(usize, usize)> {
    let index: BTreeMap<String, usize> = block
        .supervisors
        .iter()
        .enumerate()
        .map(|(i, s)| (text(&s.ident), i))
        .collect();
    // For each supervisor, the block supervisors its fields hold, with the field's type.
    let edges: Vec<Vec<(usize, &Type, usize)>> = block
        .supervisors
        .iter()
        .map(|s| {
            s.children
                .iter()
                .enumerate()
                .filter_map(|(f, c)| {
                    block_type(&c.ty)
                        .and_then(|n| index.get(&n))
                        .map(|&j| (j, &c.ty, f))
                })
                .collect()
        })
        .collect();
    let mut closing = Vec::new();
    // Each cycle once, whichever of its members the search starts from.
    let mut reported: Vec<Vec<usize>> = Vec::new();
    for start in 0..edges.len() {
        // Depth-first search for a path back to `start`.
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        let mut on_path = vec![start];
        while let Some((node, edge)) = stack.pop() {
            if edge >= edges[node].len() {
                on_path.pop();
                continue;
            }
            stack.push((node, edge + 1));
            let (next, ty, field) = edges[node][edge];
            if next == start {
                let mut members = on_path.clone();
                members.sort_unstable();
                if !reported.contains(&members) {
                    reported.push(members);
                    closing.push((node, field));
                    let names: Vec<String> = on_path
                        .iter()
                        .chain(std::iter::once(&start))
                        .map(|&i| block.supervisors[i].ident.to_string())
                        .collect();
                    push_error(
                        errors,
                        syn::Error::new(
                            ty.span(),
                            format!(
                                "supervisors cannot contain each other: {}; a supervisor cannot be \
                                 its own descendant",
                                names.join(" contains ")
                            ),
                        ),
                    );
                }
                break;
            }
            if !on_path.contains(&next) {
                on_path.push(next);
                stack.push((next, 0));
            }
        }
    }
    closing
}

/// The name a type path ends with, without generic arguments: a block supervisor may be
/// written `App`, `self::App` or `crate::m::App`.
fn block_type(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            let segment = p.path.segments.last()?;
            segment.arguments.is_none().then(|| text(&segment.ident))
        }
        _ => None,
    }
}

/// Checks `#[derive(Service)]`'s input and its `#[service(...)]` options.
pub(crate) fn service(input: &syn::DeriveInput, errors: &mut Errors) -> ServicePolicy {
    let kind = match input.data {
        syn::Data::Struct(_) => None,
        syn::Data::Enum(_) => Some("enums"),
        syn::Data::Union(_) => Some("unions"),
    };
    if let Some(kind) = kind {
        push_error(
            errors,
            syn::Error::new(
                input.ident.span(),
                format!(
                    "`#[derive(Service)]` supports structs only; for {kind}, implement \
                     `suture::Service` by hand"
                ),
            ),
        );
    }
    let (options, _) = take_options(input.attrs.clone(), "service", errors);
    let mut policy = ServicePolicy::default();
    apply(&options, SERVICE_OPTIONS, "service", &mut policy, errors);
    policy
}

// ---- options ----------------------------------------------------------------------------

/// `after = a, b`: the comma ends the option, so `b` reads as an option of its own. Each such
/// stray name after `after` is reported with the list syntax, and dropped.
fn after_list_without_brackets<'a>(options: &'a [Opt], errors: &mut Errors) -> Vec<&'a Opt> {
    let mut kept = Vec::with_capacity(options.len());
    let mut after: Option<String> = None;
    for opt in options {
        let stray = opt.value.is_none() && !CHILD_OPTIONS.iter().any(|(key, _)| opt.key == key);
        match (&mut after, stray) {
            (Some(list), true) => {
                list.push_str(&format!(", {}", opt.key));
                push_error(
                    errors,
                    syn::Error::new(
                        opt.key.span(),
                        format!(
                            "`after` takes one sibling, or a list in brackets: write \
                             `after = [{list}]`"
                        ),
                    ),
                );
            }
            _ => {
                after = match (&opt.value, opt.key == "after") {
                    (Some(value), true) => Some(value.to_string()),
                    _ => None,
                };
                kept.push(opt);
            }
        }
    }
    kept
}

/// The options whose key is known and not repeated; reports the others.
fn known_options<'a>(
    options: impl IntoIterator<Item = &'a Opt>,
    keys: &[&str],
    what: &str,
    errors: &mut Errors,
) -> Vec<&'a Opt> {
    let mut seen: HashMap<String, Span> = HashMap::new();
    let mut known = Vec::new();
    for opt in options {
        let key = opt.key.to_string();
        if !keys.contains(&key.as_str()) {
            push_error(
                errors,
                unknown(&opt.key, &format!("{what} option"), keys, "valid options"),
            );
        } else if seen.insert(key.clone(), opt.key.span()).is_some() {
            push_error(
                errors,
                syn::Error::new(opt.key.span(), format!("duplicate option `{key}`")),
            );
        } else {
            known.push(opt);
        }
    }
    known
}

/// "unknown WHAT `x`; did you mean `y`? (LIST: a, b, c)".
fn unknown(found: &Ident, what: &str, valid: &[impl AsRef<str>], list: &str) -> syn::Error {
    let found_text = found.to_string();
    let mut message = format!("unknown {what} `{found_text}`");
    if let Some(near) = nearest(&found_text, valid) {
        message.push_str(&format!("; did you mean `{near}`?"));
    }
    let all: Vec<String> = valid.iter().map(|v| format!("`{}`", v.as_ref())).collect();
    message.push_str(&format!(" ({list}: {})", all.join(", ")));
    syn::Error::new(found.span(), message)
}

/// The valid word closest to `found`, if it is close enough to be a likely misspelling.
fn nearest<'a>(found: &str, valid: &'a [impl AsRef<str>]) -> Option<&'a str> {
    valid
        .iter()
        .map(|v| (edit_distance(found, v.as_ref()), v.as_ref()))
        .filter(|(d, v)| *d <= (v.len().max(found.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn value<'a>(opt: &'a Opt, expected: &str) -> syn::Result<&'a TokenStream> {
    opt.value.as_ref().ok_or_else(|| {
        syn::Error::new(
            opt.key.span(),
            format!("`{}` needs a value: expected {expected}", opt.key),
        )
    })
}

fn single<T: syn::parse::Parse>(opt: &Opt, expected: &str) -> syn::Result<T> {
    let tokens = value(opt, expected)?;
    syn::parse2::<T>(tokens.clone())
        .map_err(|_| syn::Error::new(span_of(tokens), format!("expected {expected}")))
}

fn span_of(tokens: &TokenStream) -> Span {
    let mut iter = tokens.clone().into_iter();
    let first = iter.next().map_or_else(Span::call_site, |t| t.span());
    let last = iter.last().map(|t| t.span());
    last.and_then(|l| first.join(l)).unwrap_or(first)
}

/// A word-valued option: one of `W`'s words.
fn word<W: Word>(opt: &Opt) -> syn::Result<W> {
    let words: Vec<&str> = W::WORDS.iter().map(|(w, _, _)| *w).collect();
    let expected = format!(
        "one of {}",
        words
            .iter()
            .map(|w| format!("`{w}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // `OneForAll`, `Strategy::OneForAll`, `suture::Strategy::OneForAll`: the Rust spelling.
    if let Some(tokens) = &opt.value
        && let Ok(path) = syn::parse2::<syn::Path>(tokens.clone())
        && let Some(last) = path.segments.last()
    {
        let snake = crate::expand::snake_case(&last.ident.to_string());
        let rust_spelling = path.segments.len() > 1 || last.ident != snake.as_str();
        if rust_spelling && words.contains(&snake.as_str()) {
            return Err(syn::Error::new(
                last.ident.span(),
                format!(
                    "write `{} = {snake}`: options take the snake_case word, not a Rust path",
                    opt.key
                ),
            ));
        }
    }
    let word: Ident = single(opt, &expected)?;
    match W::WORDS.iter().find(|(w, _, _)| word == w) {
        Some((_, value, _)) => Ok(*value),
        None => Err(unknown(
            &word,
            &opt.key.to_string(),
            &words,
            "expected one of",
        )),
    }
}

fn flag(opt: &Opt) -> syn::Result<bool> {
    match &opt.value {
        None => Ok(true),
        Some(_) => single::<syn::LitBool>(opt, "`true` or `false`").map(|b| b.value),
    }
}

fn name(opt: &Opt) -> syn::Result<String> {
    let lit: syn::LitStr = single(opt, "a string, e.g. `name = \"db\"`")?;
    let value = lit.value();
    // The runtime's rule (`names::is_valid`), checked here to point at the literal.
    if value.is_empty() || value.contains(['/', '#']) {
        return Err(syn::Error::new(
            lit.span(),
            "a name must be non-empty and contain neither `/` (it separates the tree's paths) \
             nor `#` (it marks a sibling's number, as in `worker#2`)",
        ));
    }
    Ok(value)
}

fn krate(opt: &Opt) -> syn::Result<syn::Path> {
    single(
        opt,
        "the path of the suture crate, e.g. `crate = my_suture`",
    )
}

fn after(opt: &Opt) -> syn::Result<Vec<Ident>> {
    let tokens = value(opt, "a sibling field, or a list `[a, b]`")?;
    let mut iter = tokens.clone().into_iter();
    match (iter.next(), iter.next()) {
        (Some(TokenTree::Ident(ident)), None) => Ok(vec![ident]),
        (Some(TokenTree::Group(group)), None)
            if group.delimiter() == proc_macro2::Delimiter::Bracket =>
        {
            let list = syn::parse::Parser::parse2(
                syn::punctuated::Punctuated::<Ident, syn::Token![,]>::parse_terminated,
                group.stream(),
            )
            .map_err(|_| {
                syn::Error::new(
                    group.span(),
                    "expected a list of sibling fields, e.g. `[a, b]`",
                )
            })?;
            Ok(list.into_iter().collect())
        }
        _ => Err(syn::Error::new(
            span_of(tokens),
            "expected a sibling field, or a list `[a, b]`",
        )),
    }
}

fn stop_budget(opt: &Opt) -> syn::Result<StopBudget> {
    let tokens = value(opt, "a duration such as `5s`, or `abort`, or `infinity`")?;
    if let Ok(word) = syn::parse2::<Ident>(tokens.clone()) {
        return match word.to_string().as_str() {
            "abort" => Ok(StopBudget::Abort),
            "infinity" => Ok(StopBudget::Infinity),
            _ => Err(unknown(
                &word,
                "shutdown",
                &["abort", "infinity"],
                "expected a duration such as `5s`, or one of",
            )),
        };
    }
    positive_duration(opt).map(StopBudget::Timeout)
}

fn positive_duration(opt: &Opt) -> syn::Result<u64> {
    let tokens = value(opt, "a duration such as `500ms` or `10s`")?;
    let lit: Lit = syn::parse2(tokens.clone()).map_err(|_| {
        syn::Error::new(
            span_of(tokens),
            "expected a duration such as `500ms` or `10s`",
        )
    })?;
    let nanos = duration(&lit)?;
    if nanos == 0 {
        return Err(syn::Error::new(
            lit.span(),
            format!("`{}` must be greater than zero", opt.key),
        ));
    }
    Ok(nanos)
}

/// A suffixed literal (`250us`, `1.5s`, `2m`) as nanoseconds.
pub(crate) fn duration(lit: &Lit) -> syn::Result<u64> {
    const UNITS: &[(&str, u128)] = &[
        ("ns", 1),
        ("us", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    let units = "`ns`, `us`, `ms`, `s`, `m`, `h`";
    let (digits, suffix, fraction) = match lit {
        Lit::Int(int) => (int.base10_digits().to_owned(), int.suffix(), false),
        Lit::Float(float) => (float.base10_digits().to_owned(), float.suffix(), true),
        _ => {
            return Err(syn::Error::new(
                lit.span(),
                "expected a duration such as `500ms` or `10s`",
            ));
        }
    };
    if suffix.is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            format!("a duration needs a unit: write e.g. `{digits}s` (units: {units})"),
        ));
    }
    let Some(&(_, scale)) = UNITS.iter().find(|(u, _)| *u == suffix) else {
        return Err(syn::Error::new(
            lit.span(),
            format!("unknown duration unit `{suffix}` (units: {units})"),
        ));
    };
    let overflow = || {
        syn::Error::new(
            lit.span(),
            "this duration is too long: it must fit in 584 years (u64 nanoseconds)",
        )
    };
    let nanos: u128 = if fraction {
        let value: f64 = digits.parse().map_err(|_| overflow())?;
        let nanos = value * scale as f64;
        if !nanos.is_finite() || nanos >= u64::MAX as f64 {
            return Err(overflow());
        }
        nanos.round() as u128
    } else {
        let value: u128 = digits.parse().map_err(|_| overflow())?;
        value.checked_mul(scale).ok_or_else(overflow)?
    };
    u64::try_from(nanos).map_err(|_| overflow())
}

fn intensity(opt: &Opt) -> syn::Result<(f64, u64)> {
    let expected = "`FAILURES / HALF_LIFE`, e.g. `5 / 30s`";
    let tokens = value(opt, expected)?;
    let parts: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let [threshold, TokenTree::Punct(slash), half_life] = parts.as_slice() else {
        return Err(syn::Error::new(
            span_of(tokens),
            format!("expected {expected}"),
        ));
    };
    if slash.as_char() != '/' {
        return Err(syn::Error::new(
            slash.span(),
            format!("expected {expected}"),
        ));
    }
    let threshold_lit: Lit = syn::parse2(threshold.clone().into())
        .map_err(|_| syn::Error::new(threshold.span(), format!("expected {expected}")))?;
    let failures = match &threshold_lit {
        Lit::Int(i) if i.suffix().is_empty() => i.base10_parse::<f64>().ok(),
        Lit::Float(f) if f.suffix().is_empty() => f.base10_parse::<f64>().ok(),
        _ => None,
    };
    let failures = failures.ok_or_else(|| {
        syn::Error::new(
            threshold.span(),
            "expected the failure threshold as a plain number, e.g. `5`",
        )
    })?;
    if !(failures.is_finite() && failures > 0.0) {
        return Err(syn::Error::new(
            threshold.span(),
            "the failure threshold must be greater than zero",
        ));
    }
    let half_life_lit: Lit = syn::parse2(half_life.clone().into()).map_err(|_| {
        syn::Error::new(
            half_life.span(),
            "expected the half-life as a duration, e.g. `30s`",
        )
    })?;
    let nanos = duration(&half_life_lit)?;
    if nanos == 0 {
        return Err(syn::Error::new(
            half_life.span(),
            "the half-life must be greater than zero",
        ));
    }
    Ok((failures, nanos))
}

fn jitter(opt: &Opt) -> syn::Result<f64> {
    let expected = "a percentage such as `10%`, or a fraction such as `0.1`";
    let tokens = value(opt, expected)?;
    let parts: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let (number, percent) = match parts.as_slice() {
        [number, TokenTree::Punct(p)] if p.as_char() == '%' => (number, true),
        [number] => (number, false),
        _ => {
            return Err(syn::Error::new(
                span_of(tokens),
                format!("expected {expected}"),
            ));
        }
    };
    let lit: Lit = syn::parse2(number.clone().into())
        .map_err(|_| syn::Error::new(number.span(), format!("expected {expected}")))?;
    let value = match &lit {
        Lit::Int(i) if i.suffix().is_empty() && percent => i.base10_parse::<f64>().ok(),
        Lit::Float(f) if f.suffix().is_empty() => f.base10_parse::<f64>().ok(),
        Lit::Int(i) if i.suffix().is_empty() => {
            return Err(syn::Error::new(
                i.span(),
                format!(
                    "a bare integer is ambiguous here: write `{}%` or a fraction such as `0.1`",
                    i.base10_digits()
                ),
            ));
        }
        _ => None,
    }
    .ok_or_else(|| syn::Error::new(lit.span(), format!("expected {expected}")))?;
    let fraction = if percent { value / 100.0 } else { value };
    if !(0.0..=1.0).contains(&fraction) {
        return Err(syn::Error::new(
            span_of(tokens),
            "jitter must be between 0% and 100% (0.0 and 1.0)",
        ));
    }
    Ok(fraction)
}
