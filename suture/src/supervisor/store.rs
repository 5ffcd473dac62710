//! The children of one supervisor, kept inline in one vector in start order.
//!
//! A pool of a million children costs one allocation rather than a million, and a pass over
//! them (start-up, shutdown, a health summary) walks memory in order. Ids grow by one per
//! `add`, so while they are consecutive the first one names them all and a child is found
//! at its offset. A removal leaves a hole; the holes are squeezed out once they are half the
//! vector, and only then (or when an id arrives out of order) are the ids listed, one per
//! child, and looked up by binary search.

use super::children::Child;

#[derive(Default)]
pub(crate) struct Store {
    /// In id order; `None` is a hole left by a removal.
    slots: Vec<Option<Child>>,
    /// The id of each slot.
    ids: Ids,
    holes: usize,
}

/// The ids of a store's slots: a pool that only grows keeps none per child.
enum Ids {
    /// Slot `i` has id `first + i`.
    Consecutive { first: u64 },
    /// Slot `i` has id `ids[i]`, ascending.
    Listed(Vec<u64>),
}

impl Default for Ids {
    fn default() -> Self {
        Ids::Consecutive { first: 0 }
    }
}

impl Ids {
    /// The id of slot `at` (which exists).
    fn at(&self, at: usize) -> u64 {
        match self {
            Ids::Consecutive { first } => first + at as u64,
            Ids::Listed(ids) => ids[at],
        }
    }
}

/// Holes are squeezed out only past this many: a small supervisor never moves its children.
const MIN_HOLES: usize = 16;

impl Store {
    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.holes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Child> {
        let at = self.position(id)?;
        self.slots[at].as_ref()
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut Child> {
        let at = self.position(id)?;
        self.slots[at].as_mut()
    }

    /// Makes room for `more` children at once.
    pub(crate) fn reserve(&mut self, more: usize) {
        self.slots.reserve(more);
        if let Ids::Listed(ids) = &mut self.ids {
            ids.reserve(more);
        }
    }

    /// Adds a child; ids normally arrive in order, and then this is a push.
    pub(crate) fn insert(&mut self, id: u64, child: Child) {
        let len = self.slots.len();
        match &mut self.ids {
            _ if len == 0 => self.ids = Ids::Consecutive { first: id },
            Ids::Consecutive { first } if first.checked_add(len as u64) == Some(id) => {}
            Ids::Listed(ids) if ids.last().is_some_and(|&last| last < id) => ids.push(id),
            _ => return self.insert_out_of_order(id, child),
        }
        self.slots.push(Some(child));
    }

    /// An id not past the last one: its place is found, and from now on ids are listed.
    fn insert_out_of_order(&mut self, id: u64, child: Child) {
        let mut ids = match std::mem::take(&mut self.ids) {
            Ids::Consecutive { first } => (first..).take(self.slots.len()).collect(),
            Ids::Listed(ids) => ids,
        };
        let at = ids.partition_point(|&other| other < id);
        if ids.get(at) == Some(&id) {
            // The same id again (never sent twice): the newer child wins.
            if self.slots[at].is_none() {
                self.holes -= 1;
            }
            self.slots[at] = Some(child);
        } else {
            ids.insert(at, id);
            self.slots.insert(at, Some(child));
        }
        self.ids = Ids::Listed(ids);
    }

    pub(crate) fn remove(&mut self, id: u64) -> Option<Child> {
        let at = self.position(id)?;
        let child = self.slots[at].take()?;
        self.holes += 1;
        if self.holes >= MIN_HOLES && self.holes * 2 >= self.slots.len() {
            self.squeeze();
        }
        Some(child)
    }

    /// Drops the holes; the ids left are listed, unless they happen to be consecutive.
    fn squeeze(&mut self) {
        let kept: Vec<u64> = self.iter().map(|(id, _)| id).collect();
        self.slots.retain(Option::is_some);
        self.holes = 0;
        self.ids = match (kept.first(), kept.last()) {
            (Some(&first), Some(&last)) if last - first + 1 == kept.len() as u64 => {
                Ids::Consecutive { first }
            }
            _ => Ids::Listed(kept),
        };
    }

    /// The children with their ids, in start order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &Child)> {
        let ids = &self.ids;
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(at, slot)| Some((ids.at(at), slot.as_ref()?)))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (u64, &mut Child)> {
        let ids = &self.ids;
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(at, slot)| Some((ids.at(at), slot.as_mut()?)))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Child> {
        self.slots.iter().flatten()
    }

    pub(crate) fn into_children(self) -> impl Iterator<Item = Child> {
        self.slots.into_iter().flatten()
    }

    /// The children with their ids, in start order.
    pub(crate) fn into_entries(self) -> impl Iterator<Item = (u64, Child)> {
        let Store { slots, ids, .. } = self;
        slots
            .into_iter()
            .enumerate()
            .filter_map(move |(at, slot)| Some((ids.at(at), slot?)))
    }

    fn position(&self, id: u64) -> Option<usize> {
        match &self.ids {
            Ids::Consecutive { first } => {
                let at = usize::try_from(id.checked_sub(*first)?).ok()?;
                (at < self.slots.len()).then_some(at)
            }
            Ids::Listed(ids) => {
                let guess = usize::try_from(id.checked_sub(*ids.first()?)?).ok()?;
                if ids.get(guess) == Some(&id) {
                    return Some(guess);
                }
                ids.binary_search(&id).ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::service::{self, service_fn};
    use crate::spec::ChildSpec;
    use crate::supervisor::names::Names;

    fn child(names: &mut Names) -> Child {
        let service = service::boxed(service_fn("c", |_ctx| async { Ok(()) }));
        Child::new(
            names.claim(&Arc::new("c".to_owned())),
            service,
            ChildSpec::new(),
        )
    }

    fn ids(store: &Store) -> Vec<u64> {
        store.iter().map(|(id, _)| id).collect()
    }

    #[test]
    fn children_are_found_by_id_through_removals_and_compaction() {
        let mut names = Names::default();
        let mut store = Store::default();
        for id in 10..110 {
            store.insert(id, child(&mut names));
        }
        // Every other child goes: enough holes to squeeze them out.
        for id in (10..110).step_by(2) {
            assert!(store.remove(id).is_some());
            assert!(store.remove(id).is_none(), "removed once");
        }
        assert_eq!(store.len(), 50);
        assert_eq!(store.slots.len(), 50, "compacted");
        assert!(
            matches!(store.ids, Ids::Listed(_)),
            "every other id is left"
        );
        for id in 10..110 {
            assert_eq!(store.get(id).is_some(), id % 2 == 1, "{id}");
        }
        assert!(store.get(5).is_none() && store.get(500).is_none());
        store.insert(200, child(&mut names));
        assert_eq!(ids(&store).last(), Some(&200));
        assert!(store.get_mut(200).is_some());
    }

    #[test]
    fn a_pool_that_only_grows_keeps_no_id_per_child() {
        let mut names = Names::default();
        let mut store = Store::default();
        for id in 7..1007 {
            store.insert(id, child(&mut names));
        }
        assert!(matches!(store.ids, Ids::Consecutive { first: 7 }));
        assert_eq!(
            std::mem::size_of::<Option<Child>>(),
            std::mem::size_of::<Child>(),
            "a slot is its child"
        );
        assert_eq!(ids(&store), (7..1007).collect::<Vec<_>>());
        assert!(store.get(6).is_none() && store.get(1007).is_none());
        assert!(store.get(500).is_some());
        // The oldest half goes: what is left is consecutive again once squeezed.
        for id in 7..507 {
            assert!(store.remove(id).is_some());
        }
        assert_eq!(store.slots.len(), 500, "compacted");
        assert!(matches!(store.ids, Ids::Consecutive { first: 507 }));
        assert!(store.get(506).is_none() && store.get(507).is_some());
        store.insert(1007, child(&mut names));
        assert_eq!(store.len(), 501);
        assert_eq!(
            store.into_entries().map(|(id, _)| id).collect::<Vec<_>>(),
            (507..1008).collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_id_out_of_order_takes_its_place() {
        let mut names = Names::default();
        let mut store = Store::default();
        store.insert(3, child(&mut names));
        store.insert(1, child(&mut names));
        store.insert(2, child(&mut names));
        assert_eq!(ids(&store), [1, 2, 3]);
        assert!(store.remove(2).is_some());
        store.insert(2, child(&mut names));
        assert_eq!(ids(&store), [1, 2, 3]);
        assert_eq!(store.len(), 3);
        assert!(store.get(2).is_some() && store.get(4).is_none());
        assert_eq!(store.into_children().count(), 3);
    }
}
