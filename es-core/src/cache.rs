//! The repository's cache of recently used aggregates: their state and the
//! version it was folded up to, so that a command can skip the load.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use lru::LruCache;

/// The states of the most recently used streams, at most `capacity` of
/// them; the least recently used one makes room for a new one.
///
/// A state at a version never goes wrong (events are immutable), it can
/// only fall behind the stream: the appends that follow a cached state
/// expect its version and so find out.
pub(crate) struct StateCache<A> {
    entries: Mutex<LruCache<String, Entry<A>>>,
    /// The aggregate's `Clone`, kept here so that the repository itself
    /// needs no `Clone` bound.
    clone: fn(&A) -> A,
}

struct Entry<A> {
    version: u64,
    state: Arc<A>,
}

impl<A> StateCache<A> {
    pub(crate) fn new(capacity: NonZeroUsize, clone: fn(&A) -> A) -> Self {
        StateCache { entries: Mutex::new(LruCache::new(capacity)), clone }
    }

    /// A copy of the cached state of `stream_id` and its version.
    pub(crate) fn get(&self, stream_id: &str) -> Option<(u64, A)> {
        // Only the `Arc` is cloned under the lock; the state outside it.
        let (version, state) = self.lock().get(stream_id).map(|e| (e.version, Arc::clone(&e.state)))?;
        Some((version, (self.clone)(&state)))
    }

    /// Caches a copy of `state` as the state of `stream_id` at `version`,
    /// unless a later one is cached already.
    pub(crate) fn put(&self, stream_id: &str, version: u64, state: &A) {
        let state = Arc::new((self.clone)(state));
        let mut entries = self.lock();
        match entries.get_mut(stream_id) {
            Some(entry) if entry.version > version => {}
            Some(entry) => *entry = Entry { version, state },
            None => {
                entries.put(stream_id.to_owned(), Entry { version, state });
            }
        }
    }

    /// Forgets the state of `stream_id`.
    pub(crate) fn evict(&self, stream_id: &str) {
        self.lock().pop(stream_id);
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<String, Entry<A>>> {
        // Every operation leaves the entries whole: a panic elsewhere while
        // the lock was held cannot have broken them.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<A> fmt::Debug for StateCache<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.lock();
        f.debug_struct("StateCache").field("capacity", &entries.cap()).field("len", &entries.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(capacity: usize) -> StateCache<String> {
        StateCache::new(NonZeroUsize::new(capacity).unwrap(), String::clone)
    }

    #[test]
    fn keeps_the_most_recently_used_streams() {
        let cache = cache(2);
        cache.put("a", 1, &"a1".to_owned());
        cache.put("b", 1, &"b1".to_owned());
        assert_eq!(cache.get("a"), Some((1, "a1".to_owned())));
        cache.put("c", 1, &"c1".to_owned());
        assert_eq!(cache.get("b"), None, "b was the least recently used");
        assert_eq!(cache.get("a"), Some((1, "a1".to_owned())));
        assert_eq!(cache.get("c"), Some((1, "c1".to_owned())));
    }

    #[test]
    fn a_later_state_is_never_replaced_by_an_earlier_one() {
        let cache = cache(4);
        cache.put("a", 5, &"a5".to_owned());
        cache.put("a", 3, &"a3".to_owned());
        assert_eq!(cache.get("a"), Some((5, "a5".to_owned())));
        cache.put("a", 6, &"a6".to_owned());
        assert_eq!(cache.get("a"), Some((6, "a6".to_owned())));
    }

    #[test]
    fn evicted_streams_are_forgotten() {
        let cache = cache(4);
        cache.put("a", 1, &"a1".to_owned());
        cache.evict("a");
        assert_eq!(cache.get("a"), None);
        cache.evict("never cached");
    }
}
