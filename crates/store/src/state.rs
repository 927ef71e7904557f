//! The in-memory side: the latest state, the ring of recent events and the watch broadcast.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::{Event, EventType, KeyValue, Revision};

/// The events of one committed transaction, shared by every watcher.
pub(crate) struct Batch {
    /// Events in revision order, with consecutive revisions.
    pub events: Vec<Event>,
}

impl Batch {
    /// The revision of the first event (batches are never empty).
    pub fn first(&self) -> Revision {
        self.events.first().map_or(0, |e| e.kv.mod_revision)
    }

    /// The revision of the last event.
    pub fn last(&self) -> Revision {
        self.events.last().map_or(0, |e| e.kv.mod_revision)
    }
}

/// Everything readers need, behind one lock that only the writer thread takes for writing.
pub(crate) struct State {
    /// Live keys and their latest versions; the key `Arc` is shared with the value's `key`.
    pub map: BTreeMap<Arc<str>, KeyValue>,
    /// The latest committed revision.
    pub revision: Revision,
    /// History at or before this revision may be gone.
    pub compacted: Revision,
    /// Every event with revision > `ring_floor`, oldest first.
    pub ring: VecDeque<Event>,
    /// See `ring`.
    pub ring_floor: Revision,
    /// How many events `ring` keeps.
    pub ring_capacity: usize,
    /// Value bytes referenced by `ring` events (shared bytes counted per reference).
    pub ring_bytes: usize,
    /// The most value bytes `ring` keeps.
    pub ring_max_bytes: usize,
    /// Live events for watchers; `None` once the store is closed.
    pub sender: Option<broadcast::Sender<Arc<Batch>>>,
}

/// Whether `key` is in the half-open key space "has `prefix`, strictly after `start_after`".
fn lower_bound<'a>(prefix: &'a str, start_after: Option<&'a str>) -> Bound<&'a str> {
    match start_after {
        Some(after) if after >= prefix => Bound::Excluded(after),
        _ => Bound::Included(prefix),
    }
}

impl State {
    /// The latest items with `prefix` after `start_after`, at most `limit` (0 = all), and how
    /// many more there are.
    pub fn list_latest(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> (Vec<KeyValue>, usize) {
        let mut iter = self
            .map
            .range::<str, _>((lower_bound(prefix, start_after), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, kv)| kv);
        let take = if limit == 0 { usize::MAX } else { limit };
        let items: Vec<KeyValue> = iter.by_ref().take(take).cloned().collect();
        (items, iter.count())
    }

    /// How many live keys have this prefix.
    pub fn count(&self, prefix: &str) -> usize {
        self.map
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .count()
    }

    /// Lists the state at an older revision `rev` by undoing the ring's newer events on top of
    /// the latest map, or `None` if the ring does not reach back to `rev`.
    pub fn list_from_ring(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        rev: Revision,
    ) -> Option<(Vec<KeyValue>, usize)> {
        if rev < self.ring_floor {
            return None;
        }
        let lower = lower_bound(prefix, start_after);
        let in_range = |k: &str| {
            k.starts_with(prefix)
                && match lower {
                    Bound::Excluded(a) => k > a,
                    _ => true,
                }
        };
        // The state at `rev` of every key changed after `rev` is the `prev` of its first change.
        let mut undone: BTreeMap<&str, Option<&KeyValue>> = BTreeMap::new();
        let start = self.ring.partition_point(|e| e.kv.mod_revision <= rev);
        for event in self.ring.range(start..) {
            if in_range(&event.kv.key) {
                undone
                    .entry(&event.kv.key)
                    .or_insert_with(|| event.prev.as_ref());
            }
        }
        let latest = self
            .map
            .range::<str, _>((lower, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| !undone.contains_key(&***k))
            .map(|(_, kv)| kv);
        let older = undone.values().filter_map(|kv| *kv);
        let mut merged = MergeByKey::new(latest, older);
        let take = if limit == 0 { usize::MAX } else { limit };
        let items: Vec<KeyValue> = merged.by_ref().take(take).cloned().collect();
        Some((items, merged.count()))
    }

    /// The ring's events after `after` on keys with `prefix`.
    pub fn ring_since(&self, prefix: &str, after: Revision) -> Vec<Event> {
        let start = self.ring.partition_point(|e| e.kv.mod_revision <= after);
        self.ring
            .range(start..)
            .filter(|e| e.kv.key.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Applies a committed batch: the map, the ring, the revision, then the broadcast.
    pub fn apply(&mut self, events: Vec<Event>) {
        let Some(last) = events.last().map(|e| e.kv.mod_revision) else {
            return;
        };
        for event in &events {
            match event.kind {
                EventType::Deleted => {
                    self.map.remove(&*event.kv.key);
                }
                EventType::Created | EventType::Updated => {
                    self.map.insert(event.kv.key.clone(), event.kv.clone());
                }
            }
            self.ring_bytes += event_bytes(event);
            self.ring.push_back(event.clone());
        }
        while self.ring.len() > self.ring_capacity || self.ring_bytes > self.ring_max_bytes {
            let Some(old) = self.ring.pop_front() else {
                break;
            };
            self.ring_bytes = self.ring_bytes.saturating_sub(event_bytes(&old));
            self.ring_floor = old.kv.mod_revision;
        }
        self.revision = last;
        if let Some(sender) = &self.sender {
            // An error only means nobody is watching right now.
            let _ = sender.send(Arc::new(Batch { events }));
        }
    }
}

fn event_bytes(event: &Event) -> usize {
    event.kv.value.len() + event.prev.as_ref().map_or(0, |p| p.value.len())
}

/// Merges two key-ordered iterators over disjoint key sets.
struct MergeByKey<'a, A: Iterator<Item = &'a KeyValue>, B: Iterator<Item = &'a KeyValue>> {
    a: std::iter::Peekable<A>,
    b: std::iter::Peekable<B>,
}

impl<'a, A: Iterator<Item = &'a KeyValue>, B: Iterator<Item = &'a KeyValue>> MergeByKey<'a, A, B> {
    fn new(a: A, b: B) -> Self {
        MergeByKey {
            a: a.peekable(),
            b: b.peekable(),
        }
    }
}

impl<'a, A: Iterator<Item = &'a KeyValue>, B: Iterator<Item = &'a KeyValue>> Iterator
    for MergeByKey<'a, A, B>
{
    type Item = &'a KeyValue;

    fn next(&mut self) -> Option<&'a KeyValue> {
        match (self.a.peek(), self.b.peek()) {
            (Some(x), Some(y)) if y.key < x.key => self.b.next(),
            (Some(_), _) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn state(ring_capacity: usize, ring_max_bytes: usize) -> State {
        State {
            map: BTreeMap::new(),
            revision: 0,
            compacted: 0,
            ring: VecDeque::new(),
            ring_floor: 0,
            ring_capacity,
            ring_bytes: 0,
            ring_max_bytes,
            sender: None,
        }
    }

    fn put(st: &mut State, key: &str, value: &str) {
        let rev = st.revision + 1;
        let prev = st.map.get(key).cloned();
        let kv = KeyValue {
            key: Arc::from(key),
            value: Bytes::from(value.to_owned()),
            create_revision: prev.as_ref().map_or(rev, |p| p.create_revision),
            mod_revision: rev,
        };
        let kind = if prev.is_some() {
            EventType::Updated
        } else {
            EventType::Created
        };
        st.apply(vec![Event { kind, kv, prev }]);
    }

    fn keys(items: &[KeyValue]) -> Vec<(&str, &[u8])> {
        items.iter().map(|kv| (&*kv.key, &kv.value[..])).collect()
    }

    #[test]
    fn ring_is_bounded_by_bytes_and_moves_its_floor() {
        let mut st = state(100, 25);
        for i in 0..10 {
            put(&mut st, &format!("/k{i}"), "0123456789");
        }
        assert_eq!(st.ring.len(), 2);
        assert_eq!(st.ring_floor, 8);
        assert!(st.list_from_ring("/", None, 0, 7).is_none());
        assert!(st.list_from_ring("/", None, 0, 8).is_some());
    }

    #[test]
    fn ring_list_undoes_newer_events_and_pages() {
        let mut st = state(100, 1 << 20);
        put(&mut st, "/a", "a1"); // 1
        put(&mut st, "/c", "c1"); // 2
        put(&mut st, "/a", "a2"); // 3
        put(&mut st, "/b", "b1"); // 4
        let (items, remaining) = st.list_from_ring("/", None, 0, 2).unwrap_or_default();
        assert_eq!(keys(&items), vec![("/a", &b"a1"[..]), ("/c", &b"c1"[..])]);
        assert_eq!(remaining, 0);
        let (items, remaining) = st.list_from_ring("/", None, 1, 3).unwrap_or_default();
        assert_eq!(keys(&items), vec![("/a", &b"a2"[..])]);
        assert_eq!(remaining, 1);
        let (items, _) = st.list_from_ring("/", Some("/a"), 0, 3).unwrap_or_default();
        assert_eq!(keys(&items), vec![("/c", &b"c1"[..])]);
        let (latest, _) = st.list_latest("/", None, 0);
        let (at_head, _) = st.list_from_ring("/", None, 0, 4).unwrap_or_default();
        assert_eq!(latest, at_head);
    }
}
