//! A supervisor's inbox: many senders, one receiver, which takes everything queued at once.
//!
//! What reaches a supervisor comes in bursts (a pool stopping sends one end per child, all
//! at once) and is read by one loop. A queue behind a lock, swapped whole for the reader's
//! spare buffer, costs a push per message and a lock per burst; and an inbox nobody writes
//! to allocates nothing, where a channel allocates its first block up front (several KiB
//! per supervisor, in a tree of thousands of small ones).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// Creates an inbox and its first sender.
pub(crate) fn inbox<T>() -> (Sender<T>, Inbox<T>) {
    let shared = Arc::new(Mutex::new(Queue {
        items: Vec::new(),
        waiting: None,
        closed: false,
    }));
    (
        Sender {
            shared: shared.clone(),
        },
        Inbox {
            shared,
            batch: VecDeque::new(),
        },
    )
}

/// Writes to an [`Inbox`]; cloned for every writer.
pub(crate) struct Sender<T> {
    shared: Arc<Mutex<Queue<T>>>,
}

/// The reading end: it owns what it took until it is read.
pub(crate) struct Inbox<T> {
    shared: Arc<Mutex<Queue<T>>>,
    /// The last burst taken, read from the front.
    batch: VecDeque<T>,
}

struct Queue<T> {
    items: Vec<T>,
    /// The reader, when it found nothing and waits: woken by the next message only.
    waiting: Option<Waker>,
    /// The inbox is gone: messages are handed back to their senders.
    closed: bool,
}

/// A spare buffer larger than this (in messages) is let go rather than kept for the next
/// burst: a supervisor keeps no memory for a burst that is over.
const KEEP_AT_MOST: usize = 1024;

fn lock<T>(shared: &Mutex<Queue<T>>) -> MutexGuard<'_, Queue<T>> {
    // Nothing panics while the lock is held (pushes and swaps only).
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T> Sender<T> {
    /// Queues `item`, or gives it back if the inbox was dropped.
    pub(crate) fn send(&self, item: T) -> Result<(), T> {
        let mut queue = lock(&self.shared);
        if queue.closed {
            return Err(item);
        }
        queue.items.push(item);
        let waiting = queue.waiting.take();
        drop(queue);
        if let Some(reader) = waiting {
            reader.wake();
        }
        Ok(())
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Inbox<T> {
    /// The next message, if one is queued.
    pub(crate) fn try_recv(&mut self) -> Option<T> {
        self.take(None)
    }

    /// The next message of the burst already taken, without looking for newer ones (which
    /// would cost a lock, as each burst ends, to learn that none came).
    pub(crate) fn next_taken(&mut self) -> Option<T> {
        self.batch.pop_front()
    }

    /// The next message; with none queued, the task is woken by the next one sent.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<T> {
        match self.take(Some(cx.waker())) {
            Some(item) => Poll::Ready(item),
            None => Poll::Pending,
        }
    }

    /// Once the reader is done for now: frees the buffers kept for the next burst, if they
    /// hold nothing, and forgets the reader's waker (which keeps its finished task's memory
    /// alive for as long as it is held).
    pub(crate) fn release_buffers(&mut self) {
        if self.batch.is_empty() {
            self.batch = VecDeque::new();
        }
        let (spare, waker) = {
            let mut queue = lock(&self.shared);
            let spare = if queue.items.is_empty() {
                std::mem::take(&mut queue.items)
            } else {
                Vec::new()
            };
            (spare, queue.waiting.take())
        };
        drop((spare, waker));
    }

    fn take(&mut self, waker: Option<&Waker>) -> Option<T> {
        if let Some(item) = self.batch.pop_front() {
            return Some(item);
        }
        let mut queue = lock(&self.shared);
        if queue.items.is_empty() {
            if let Some(waker) = waker
                && !queue.waiting.as_ref().is_some_and(|w| w.will_wake(waker))
            {
                queue.waiting = Some(waker.clone());
            }
            return None;
        }
        // The drained batch's buffer (empty: converting it moves nothing) becomes the queue's,
        // unless a burst made it large.
        let mut spare = Vec::from(std::mem::take(&mut self.batch));
        let large = (spare.capacity() > KEEP_AT_MOST).then(|| std::mem::take(&mut spare));
        std::mem::swap(&mut queue.items, &mut spare);
        drop(queue);
        drop(large);
        self.batch = VecDeque::from(spare);
        self.batch.pop_front()
    }
}

impl<T> Drop for Inbox<T> {
    fn drop(&mut self) {
        let left = {
            let mut queue = lock(&self.shared);
            queue.closed = true;
            queue.waiting = None;
            std::mem::take(&mut queue.items)
        };
        // Dropped outside the lock: a message may own a supervisor, whose drop closes its
        // own inbox.
        drop(left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    /// Counts its wake-ups.
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A waker, and the count of its wake-ups.
    fn counting_waker() -> (Arc<Counter>, Waker) {
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        (counter.clone(), Waker::from(counter))
    }

    #[test]
    fn the_rest_of_a_taken_burst_is_read_without_what_came_since() {
        let (tx, mut rx) = inbox();
        tx.send(0).unwrap();
        tx.send(1).unwrap();
        assert_eq!(rx.try_recv(), Some(0));
        tx.send(2).unwrap();
        assert_eq!(rx.next_taken(), Some(1));
        assert_eq!(rx.next_taken(), None, "2 came after the burst was taken");
        assert_eq!(rx.try_recv(), Some(2));
    }

    #[test]
    fn messages_arrive_in_order_across_bursts() {
        let (tx, mut rx) = inbox();
        for i in 0..3 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.try_recv(), Some(0));
        tx.send(3).unwrap();
        let rest: Vec<_> = std::iter::from_fn(|| rx.try_recv()).collect();
        assert_eq!(rest, [1, 2, 3]);
        assert_eq!(rx.try_recv(), None);
    }

    #[test]
    fn a_waiting_reader_is_woken_once_per_burst() {
        let (tx, mut rx) = inbox::<u32>();
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(rx.poll_recv(&mut cx).is_pending());
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(1));
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(2));
        // Not waiting now: a message sent while the reader runs wakes nobody.
        assert!(rx.poll_recv(&mut cx).is_pending());
        tx.send(3).unwrap();
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_message_to_a_dropped_inbox_comes_back_and_queued_ones_are_dropped() {
        let (tx, rx) = inbox();
        let queued = Arc::new(());
        tx.send(queued.clone()).unwrap();
        drop(rx);
        assert_eq!(Arc::strong_count(&queued), 1, "dropped with the inbox");
        let back = tx.send(queued.clone()).unwrap_err();
        assert!(Arc::ptr_eq(&back, &queued));
    }

    #[test]
    fn released_buffers_hold_no_memory_and_the_inbox_still_works() {
        let (tx, mut rx) = inbox();
        for i in 0..100 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.try_recv(), Some(0));
        rx.release_buffers();
        assert_eq!(rx.batch.len(), 99, "what was taken is kept");
        while rx.try_recv().is_some() {}
        let (counter, waker) = counting_waker();
        assert!(rx.poll_recv(&mut Context::from_waker(&waker)).is_pending());
        rx.release_buffers();
        assert_eq!(rx.batch.capacity(), 0);
        assert_eq!(lock(&rx.shared).items.capacity(), 0);
        assert_eq!(Arc::strong_count(&counter), 2, "the waker is let go");
        tx.send(7).unwrap();
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);
        assert_eq!(rx.try_recv(), Some(7));
    }

    #[test]
    fn a_large_burst_is_not_kept_as_the_spare_buffer() {
        let (tx, mut rx) = inbox();
        for i in 0..KEEP_AT_MOST * 2 {
            tx.send(i).unwrap();
        }
        while rx.try_recv().is_some() {}
        tx.send(0).unwrap();
        assert_eq!(rx.try_recv(), Some(0));
        assert!(lock(&rx.shared).items.capacity() <= KEEP_AT_MOST);
    }
}
