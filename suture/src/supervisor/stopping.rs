//! Stop and ready deadlines, and who waits for a child to stop.
//!
//! Children told to stop together share one deadline entry (a pool of a million stopping
//! at once costs one entry, not a million). An entry counts its live members and is
//! released as soon as the last of them is done, not when its deadline would have fired:
//! memory follows live children only.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::num::NonZeroU64;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::error::SupervisorError;

/// `now + duration`, or `None` ("never") when that is past the end of time.
pub(crate) fn deadline(now: Instant, duration: Duration) -> Option<Instant> {
    now.checked_add(duration)
}

/// Names one armed deadline entry; never reused, so a stale key finds nothing. Just a
/// number (8 bytes, and `Option<Key>` too): every child's record has room for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key(NonZeroU64);

struct Entry {
    at: Instant,
    ids: Vec<u64>,
    live: usize,
}

/// The armed deadlines, soonest first.
#[derive(Default)]
pub(crate) struct Deadlines {
    /// The entry armed when no other was. A supervisor seldom has two stops pending at once,
    /// and this one costs no index: two ordered maps would allocate a node each per stop.
    lone: Option<(Key, Entry)>,
    /// Every other entry, by key (no hashing: a stop disarms its key once per child).
    entries: BTreeMap<Key, Entry>,
    /// The same entries in deadline order.
    order: BTreeSet<(Instant, Key)>,
    /// How many keys were handed out.
    last: u64,
    /// The newest entry: children armed at the same instant join it.
    newest: Option<Key>,
    /// How many arms the next new entry should make room for (see `expect`).
    expected: usize,
}

impl Deadlines {
    /// Says that the next `count` arms will likely share an entry (children stopped
    /// together), so that its member list is sized once rather than grown by doubling.
    pub(crate) fn expect(&mut self, count: usize) {
        self.expected = count;
    }

    fn entry_mut(&mut self, key: Key) -> Option<&mut Entry> {
        match &mut self.lone {
            Some((lone, entry)) if *lone == key => Some(entry),
            _ => self.entries.get_mut(&key),
        }
    }

    /// Arms a deadline for child `id` at `at`.
    pub(crate) fn arm(&mut self, id: u64, at: Instant) -> Key {
        if let Some(key) = self.newest
            && let Some(entry) = self.entry_mut(key)
            && entry.at == at
        {
            entry.ids.push(id);
            entry.live += 1;
            return key;
        }
        let key = Key(NonZeroU64::MIN.saturating_add(self.last));
        self.last += 1;
        let mut ids = Vec::with_capacity(std::mem::take(&mut self.expected).max(1));
        ids.push(id);
        let entry = Entry { at, ids, live: 1 };
        if self.lone.is_none() && self.entries.is_empty() {
            self.lone = Some((key, entry));
        } else {
            self.entries.insert(key, entry);
            self.order.insert((at, key));
        }
        self.newest = Some(key);
        key
    }

    /// One member of `key` no longer needs it; the entry goes with its last member.
    pub(crate) fn disarm(&mut self, key: Key) {
        let Some(entry) = self.entry_mut(key) else {
            return;
        };
        entry.live -= 1;
        if entry.live > 0 {
            return;
        }
        let at = entry.at;
        if self.lone.as_ref().is_some_and(|(lone, _)| *lone == key) {
            self.lone = None;
        } else {
            self.entries.remove(&key);
            self.order.remove(&(at, key));
        }
    }

    /// Frees the index's memory when nothing is armed (keys keep counting up).
    pub(crate) fn release_if_empty(&mut self) {
        if self.lone.is_none() && self.entries.is_empty() {
            self.entries = BTreeMap::new();
            self.order = BTreeSet::new();
            self.newest = None;
        }
    }

    /// The soonest deadline and its key, and whether it is the lone entry.
    fn soonest(&self) -> Option<(Instant, Key, bool)> {
        let indexed = self.order.first().map(|&(at, key)| (at, key, false));
        let lone = self
            .lone
            .as_ref()
            .map(|(key, entry)| (entry.at, *key, true));
        match (lone, indexed) {
            (Some(lone), Some(indexed)) => Some(lone.min(indexed)),
            (lone, indexed) => lone.or(indexed),
        }
    }

    /// When the soonest deadline is.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.soonest().map(|(at, ..)| at)
    }

    /// Takes the soonest entry if it is due at `now`: its key and its members (some of
    /// which may have finished meanwhile; the caller checks each against its key).
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Key, Vec<u64>)> {
        let (at, key, lone) = self.soonest()?;
        if at > now {
            return None;
        }
        let entry = if lone {
            self.lone.take().map(|(_, entry)| entry)
        } else {
            self.order.pop_first();
            self.entries.remove(&key)
        }?;
        Some((key, entry.ids))
    }

    /// How many entries are armed (for tests of memory use).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        usize::from(self.lone.is_some()) + self.entries.len()
    }
}

type Waiter = oneshot::Sender<Result<(), SupervisorError>>;

/// Who waits for which child to stop. Rare, so kept here rather than in every child.
#[derive(Default)]
pub(crate) struct Waiters(HashMap<u64, Vec<Waiter>>);

impl Waiters {
    pub(crate) fn add(&mut self, id: u64, waiter: Waiter) {
        self.0.entry(id).or_default().push(waiter);
    }

    /// Answers whoever waits for `id` (usually nobody: no lookup then).
    pub(crate) fn notify(&mut self, id: u64, result: &Result<(), SupervisorError>) {
        if self.0.is_empty() {
            return;
        }
        for waiter in self.0.remove(&id).into_iter().flatten() {
            let _ = waiter.send(result.clone());
        }
    }

    /// Answers everyone still waiting with `error` (the serve is being dropped mid-way).
    pub(crate) fn refuse_all(&mut self, error: &SupervisorError) {
        for waiter in self.0.drain().flat_map(|(_, waiters)| waiters) {
            let _ = waiter.send(Err(error.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expected_group_sizes_its_entry_once_and_an_unused_hint_is_withdrawn() {
        let now = Instant::now();
        let mut deadlines = Deadlines::default();
        deadlines.expect(100);
        let key = deadlines.arm(1, now);
        assert!(deadlines.entry_mut(key).unwrap().ids.capacity() >= 100);
        deadlines.expect(1_000_000);
        deadlines.expect(0);
        let later = deadlines.arm(2, now + Duration::from_secs(1));
        assert!(deadlines.entry_mut(later).unwrap().ids.capacity() < 100);
    }

    #[test]
    fn children_stopped_together_share_an_entry() {
        let now = Instant::now();
        let mut deadlines = Deadlines::default();
        let a = deadlines.arm(1, now);
        let b = deadlines.arm(2, now);
        assert_eq!(a, b);
        assert_eq!(deadlines.len(), 1);
        assert_eq!(deadlines.pop_due(now), Some((a, vec![1, 2])));
        assert_eq!(deadlines.next(), None);
    }

    #[test]
    fn an_entry_is_released_with_its_last_member() {
        let now = Instant::now();
        let mut deadlines = Deadlines::default();
        let key = deadlines.arm(1, now + Duration::from_secs(3600));
        deadlines.arm(2, now + Duration::from_secs(3600));
        deadlines.disarm(key);
        assert_eq!(deadlines.len(), 1);
        deadlines.disarm(key);
        assert_eq!(deadlines.len(), 0);
        // A stale key (already released) finds nothing, even at the same instant.
        let fresh = deadlines.arm(3, now + Duration::from_secs(3600));
        deadlines.disarm(key);
        assert_eq!(deadlines.len(), 1);
        assert_ne!(fresh, key);
    }

    #[test]
    fn an_index_released_when_empty_keeps_counting_its_keys() {
        let now = Instant::now();
        let mut deadlines = Deadlines::default();
        let old = deadlines.arm(1, now);
        deadlines.release_if_empty();
        assert_eq!(deadlines.len(), 1, "not released while armed");
        deadlines.disarm(old);
        deadlines.release_if_empty();
        let new = deadlines.arm(2, now);
        assert_ne!(new, old, "a stale key must not name the new entry");
        deadlines.disarm(old);
        assert_eq!(deadlines.pop_due(now), Some((new, vec![2])));
    }

    #[test]
    fn many_stops_one_after_another_keep_no_memory() {
        let now = Instant::now();
        let mut deadlines = Deadlines::default();
        for id in 0..100_000 {
            let key = deadlines.arm(id, now + Duration::from_secs(3600));
            deadlines.disarm(key);
        }
        assert_eq!(deadlines.len(), 0);
    }

    #[test]
    fn a_second_pending_stop_is_indexed_and_the_soonest_comes_first() {
        let now = Instant::now();
        let mut deadlines = Deadlines::default();
        let later = deadlines.arm(1, now + Duration::from_secs(2));
        let sooner = deadlines.arm(2, now + Duration::from_secs(1));
        let last = deadlines.arm(3, now + Duration::from_secs(3));
        assert_eq!(deadlines.len(), 3);
        assert_eq!(deadlines.next(), Some(now + Duration::from_secs(1)));
        // The lone entry is not released while it is armed, whatever the index holds.
        deadlines.disarm(last);
        deadlines.release_if_empty();
        assert_eq!(deadlines.len(), 2);
        assert_eq!(
            deadlines.pop_due(now + Duration::from_secs(5)),
            Some((sooner, vec![2]))
        );
        assert_eq!(
            deadlines.pop_due(now + Duration::from_secs(5)),
            Some((later, vec![1]))
        );
        assert_eq!(deadlines.pop_due(now + Duration::from_secs(5)), None);
        // With the lone entry gone, the next stop takes its place and the index is freed.
        deadlines.release_if_empty();
        let next = deadlines.arm(4, now);
        assert!(deadlines.lone.as_ref().is_some_and(|(key, _)| *key == next));
        assert!(deadlines.entries.is_empty());
    }

    #[test]
    fn nothing_is_due_before_its_time() {
        let now = Instant::now();
        let mut deadlines = Deadlines::default();
        deadlines.arm(1, now + Duration::from_secs(1));
        assert_eq!(deadlines.pop_due(now), None);
        assert!(deadlines.pop_due(now + Duration::from_secs(1)).is_some());
    }

    #[test]
    fn a_deadline_past_the_end_of_time_is_never() {
        assert_eq!(deadline(Instant::now(), Duration::MAX), None);
    }
}
