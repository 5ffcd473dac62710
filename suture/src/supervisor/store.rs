//! The children of one supervisor, kept inline in one vector in start order.
//!
//! A pool of a million children costs one allocation rather than a million, and a pass over
//! them (start-up, shutdown, a health summary) walks memory in order. Ids grow by one per
//! `add`, so a child is found at its offset from the first; a removal leaves a hole, and the
//! holes are squeezed out once they are half the vector (then lookups fall back to a binary
//! search until the offsets line up again).

use super::children::Child;

#[derive(Default)]
pub(crate) struct Store {
    /// In id order; `None` is a hole left by a removal.
    slots: Vec<Slot>,
    holes: usize,
}

struct Slot {
    id: u64,
    child: Option<Child>,
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
        self.slots[at].child.as_ref()
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut Child> {
        let at = self.position(id)?;
        self.slots[at].child.as_mut()
    }

    /// Makes room for `more` children at once.
    pub(crate) fn reserve(&mut self, more: usize) {
        self.slots.reserve(more);
    }

    /// Adds a child; ids normally arrive in order, and then this is a push.
    pub(crate) fn insert(&mut self, id: u64, child: Child) {
        let slot = Slot {
            id,
            child: Some(child),
        };
        match self.slots.last() {
            Some(last) if last.id >= id => {
                let at = self.slots.partition_point(|s| s.id < id);
                if self.slots.get(at).is_some_and(|s| s.id == id) {
                    // The same id again (never sent twice): the newer child wins.
                    if self.slots[at].child.is_none() {
                        self.holes -= 1;
                    }
                    self.slots[at] = slot;
                } else {
                    self.slots.insert(at, slot);
                }
            }
            _ => self.slots.push(slot),
        }
    }

    pub(crate) fn remove(&mut self, id: u64) -> Option<Child> {
        let at = self.position(id)?;
        let child = self.slots[at].child.take()?;
        self.holes += 1;
        if self.holes >= MIN_HOLES && self.holes * 2 >= self.slots.len() {
            self.slots.retain(|slot| slot.child.is_some());
            self.holes = 0;
        }
        Some(child)
    }

    /// The children with their ids, in start order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &Child)> {
        self.slots
            .iter()
            .filter_map(|slot| slot.child.as_ref().map(|child| (slot.id, child)))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (u64, &mut Child)> {
        self.slots
            .iter_mut()
            .filter_map(|slot| slot.child.as_mut().map(|child| (slot.id, child)))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Child> {
        self.iter().map(|(_, child)| child)
    }

    pub(crate) fn into_children(self) -> impl Iterator<Item = Child> {
        self.into_entries().map(|(_, child)| child)
    }

    /// The children with their ids, in start order.
    pub(crate) fn into_entries(self) -> impl Iterator<Item = (u64, Child)> {
        self.slots
            .into_iter()
            .filter_map(|slot| Some((slot.id, slot.child?)))
    }

    fn position(&self, id: u64) -> Option<usize> {
        let first = self.slots.first()?.id;
        let guess = usize::try_from(id.checked_sub(first)?).ok()?;
        if self.slots.get(guess).is_some_and(|slot| slot.id == id) {
            return Some(guess);
        }
        self.slots.binary_search_by_key(&id, |slot| slot.id).ok()
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
        Child::new(names.claim(&Arc::from("c")), service, ChildSpec::new())
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
        for id in 10..110 {
            assert_eq!(store.get(id).is_some(), id % 2 == 1, "{id}");
        }
        assert!(store.get(5).is_none() && store.get(500).is_none());
        store.insert(200, child(&mut names));
        assert_eq!(ids(&store).last(), Some(&200));
        assert!(store.get_mut(200).is_some());
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
        assert_eq!(store.into_children().count(), 3);
    }
}
