//! Sibling names: unique under one supervisor, so that every path names one child.
//!
//! A name already taken gets the lowest free suffix: `worker`, `worker#2`, `worker#3`. A
//! name may not contain `#` (nor `/`), so a suffixed name always parses back to its base.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::sync::Arc;

/// A child's name, as its supervisor keeps it: the base, shared by every sibling added under
/// it (a pool's elements share one string), and the suffix that makes it unique. The text
/// `worker#7` is built only when something reads it.
///
/// The base is an `Arc<String>` rather than an `Arc<str>`: a thin pointer, 8 bytes less in
/// the record a pool keeps per child, for one more hop when the name is read.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Name {
    base: Base,
    /// 1 for the bare name.
    suffix: u32,
}

/// The shared text of a base name.
pub(crate) type Base = Arc<String>;

impl Name {
    /// The name as one string of its own (for events, which outlive the child).
    pub(crate) fn shared(&self) -> Arc<str> {
        if self.suffix == 1 {
            Arc::from(self.base.as_str())
        } else {
            Arc::from(self.to_string())
        }
    }

    /// Stands for a child forgotten before its service came back.
    pub(crate) fn removed() -> Name {
        Name {
            base: Arc::new("(removed)".to_owned()),
            suffix: 1,
        }
    }

    /// The name it was given, shared by its namesakes.
    pub(crate) fn shared_base(&self) -> &Base {
        &self.base
    }

    /// The number after `#` (1 for the bare name, which shows none).
    pub(crate) fn suffix_number(&self) -> u32 {
        self.suffix
    }
}

/// The `#N` of a [`Name`], as ASCII bytes.
struct Suffix {
    bytes: [u8; 11],
    from: usize,
}

impl Suffix {
    /// The `#N` of suffix number `n`, written without the formatting machinery (nothing for
    /// 1, the bare name).
    fn of(n: u32) -> Suffix {
        let mut suffix = Suffix {
            bytes: [0; 11],
            from: 11,
        };
        if n == 1 {
            return suffix;
        }
        let mut rest = n;
        loop {
            suffix.from -= 1;
            suffix.bytes[suffix.from] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        suffix.from -= 1;
        suffix.bytes[suffix.from] = b'#';
        suffix
    }

    fn as_str(&self) -> &str {
        // `#` and digits only: always ASCII.
        std::str::from_utf8(&self.bytes[self.from..]).unwrap_or_default()
    }
}

/// Writes `base` and the `#N` of suffix number `n`: a name, or a path ending in one.
pub(crate) fn write_suffixed(f: &mut fmt::Formatter<'_>, base: &str, n: u32) -> fmt::Result {
    f.write_str(base)?;
    if n == 1 {
        // Logged with every event: one write fewer for the common bare name.
        return Ok(());
    }
    f.write_str(Suffix::of(n).as_str())
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_suffixed(f, &self.base, self.suffix)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The names in use among one supervisor's children. Claimed by `add` (so the caller learns
/// the name at once), released by the machine when a child is gone for good.
#[derive(Default)]
pub(crate) struct Names {
    /// Per base name: which suffixes are taken. Pools share one entry, not one per child.
    taken: HashMap<Base, Slots>,
    /// The last static name claimed: the children of a pool, added one after another under
    /// their type's name, share its string instead of allocating one each.
    last_static: Option<(&'static str, Base)>,
}

/// The suffixes of one base name: `1..next` minus `freed` are in use (1 is the bare name).
struct Slots {
    next: u32,
    freed: BinaryHeap<Reverse<u32>>,
    live: u32,
}

/// Whether `name` can name a supervisor or a child: non-empty, without the path separator
/// `/` or the suffix mark `#`. (The one home of this rule, for the builder and for specs.)
pub(crate) fn is_valid(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '#'])
}

impl Names {
    /// The shared string of `name`: a static name repeated is not allocated again.
    pub(crate) fn intern(&mut self, name: Cow<'static, str>) -> Base {
        let Cow::Borrowed(name) = name else {
            return Arc::new(name.into_owned());
        };
        match &self.last_static {
            Some((text, shared)) if *text == name => shared.clone(),
            _ => {
                let shared = Arc::new(name.to_owned());
                self.last_static = Some((name, shared.clone()));
                shared
            }
        }
    }

    /// Takes `base` for a new child, or its lowest free suffixed form.
    pub(crate) fn claim(&mut self, base: &Base) -> Name {
        let Some(slots) = self.taken.get_mut(base) else {
            self.taken.insert(
                base.clone(),
                Slots {
                    next: 2,
                    freed: BinaryHeap::new(),
                    live: 1,
                },
            );
            return Name {
                base: base.clone(),
                suffix: 1,
            };
        };
        slots.live += 1;
        let suffix = match slots.freed.pop() {
            Some(Reverse(suffix)) => suffix,
            None => {
                slots.next += 1;
                slots.next - 1
            }
        };
        Name {
            base: base.clone(),
            suffix,
        }
    }

    /// Gives back the name of a child that is gone for good.
    pub(crate) fn release(&mut self, name: &Name) {
        let Some(slots) = self.taken.get_mut(&*name.base) else {
            return;
        };
        slots.live -= 1;
        if slots.live == 0 {
            self.taken.remove(&*name.base);
        } else {
            slots.freed.push(Reverse(name.suffix));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(names: &mut Names, name: &str) -> String {
        names.claim(&Arc::new(name.to_owned())).to_string()
    }

    fn release(names: &mut Names, name: &str) {
        let (base, suffix) = name.split_once('#').unwrap_or((name, "1"));
        names.release(&Name {
            base: Arc::new(base.to_owned()),
            suffix: suffix.parse().unwrap(),
        });
    }

    #[test]
    fn a_name_joined_from_its_parts_reads_as_it_displays() {
        for suffix in [1, 2, 9, 10, 99, 100, 12_345, u32::MAX] {
            let name = Name {
                base: Arc::new("worker".to_owned()),
                suffix,
            };
            let joined = [
                name.shared_base().as_str(),
                Suffix::of(name.suffix_number()).as_str(),
            ]
            .concat();
            assert_eq!(joined, name.to_string());
        }
    }

    #[test]
    fn a_taken_name_gets_the_lowest_free_suffix() {
        let mut names = Names::default();
        assert_eq!(claim(&mut names, "worker"), "worker");
        assert_eq!(claim(&mut names, "worker"), "worker#2");
        assert_eq!(claim(&mut names, "worker"), "worker#3");
        assert_eq!(claim(&mut names, "db"), "db");
        release(&mut names, "worker#2");
        release(&mut names, "worker");
        assert_eq!(claim(&mut names, "worker"), "worker");
        assert_eq!(claim(&mut names, "worker"), "worker#2");
        assert_eq!(claim(&mut names, "worker"), "worker#4");
    }

    #[test]
    fn a_name_freed_by_every_sibling_starts_over() {
        let mut names = Names::default();
        claim(&mut names, "job");
        claim(&mut names, "job");
        release(&mut names, "job");
        release(&mut names, "job#2");
        assert!(names.taken.is_empty());
        assert_eq!(claim(&mut names, "job"), "job");
        assert_eq!(claim(&mut names, "job"), "job#2");
    }

    #[test]
    fn siblings_of_a_pool_share_their_name_until_it_is_taken() {
        let mut names = Names::default();
        let shared: Base = Arc::new("worker".to_owned());
        assert!(Arc::ptr_eq(&names.claim(&shared).base, &shared));
        assert!(
            Arc::ptr_eq(&names.claim(&shared).base, &shared),
            "and so do the suffixed"
        );
    }
}
