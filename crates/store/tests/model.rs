//! Property test: random operations against the store equal a plain `BTreeMap` model at every
//! revision — lists at each retained revision, the latest state, and the watch stream.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use store::{EventType, Store, StoreError, StoreTuning, UpdateFn};

const KEYS: [&str; 6] = ["/m/a/0", "/m/a/1", "/m/a/2", "/m/b/0", "/m/b/1", "/m/c"];

#[derive(Clone, Debug)]
enum Expect {
    Any,
    Current,
    Stale,
}

#[derive(Clone, Debug)]
enum Op {
    Create(usize, u8),
    Update(usize, Expect, u8, bool),
    Delete(usize, Expect),
    Compact(u8),
    Reopen,
}

fn expect() -> impl Strategy<Value = Expect> {
    prop_oneof![
        Just(Expect::Any),
        Just(Expect::Current),
        Just(Expect::Stale)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..KEYS.len(), any::<u8>()).prop_map(|(k, v)| Op::Create(k, v)),
        4 => (0..KEYS.len(), expect(), any::<u8>(), proptest::bool::weighted(0.1))
            .prop_map(|(k, e, v, abort)| Op::Update(k, e, v, abort)),
        2 => (0..KEYS.len(), expect()).prop_map(|(k, e)| Op::Delete(k, e)),
        1 => any::<u8>().prop_map(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

/// key -> (value, create_revision, mod_revision)
type Model = BTreeMap<String, (String, i64, i64)>;

struct Harness {
    dir: tempfile::TempDir,
    tuning: StoreTuning,
    store: Arc<Store>,
    history: Vec<Model>,
    /// (revision, kind, key, value) of every successful write.
    events: Vec<(i64, EventType, String, String)>,
    compacted: i64,
}

impl Harness {
    fn open(dir: &tempfile::TempDir, tuning: &StoreTuning) -> Arc<Store> {
        Store::open_tuned(common::opts(dir.path()), tuning.clone()).unwrap()
    }

    fn latest(&self) -> &Model {
        self.history.last().unwrap()
    }

    fn expected(&self, key: &str, e: &Expect) -> Option<i64> {
        let cur = self.latest().get(key).map_or(0, |v| v.2);
        match e {
            Expect::Any => None,
            Expect::Current => Some(cur),
            Expect::Stale => Some(cur + 1000),
        }
    }

    fn record(&mut self, kind: EventType, key: &str, next: Option<(String, i64)>, value: String) {
        let rev = self.history.len() as i64;
        let mut m = self.latest().clone();
        match next {
            Some((v, create)) => m.insert(key.to_string(), (v, create, rev)),
            None => m.remove(key),
        };
        self.history.push(m);
        self.events.push((rev, kind, key.to_string(), value));
    }

    async fn step(&mut self, op: Op) -> Result<(), TestCaseError> {
        let rev = self.history.len() as i64;
        match op {
            Op::Create(k, v) => {
                let key = KEYS[k];
                let got = self
                    .store
                    .create(key, Box::new(move |r| format!("{v}@{r}").into_bytes()))
                    .await;
                if self.latest().contains_key(key) {
                    prop_assert_eq!(got.unwrap_err(), StoreError::AlreadyExists);
                } else {
                    let value = format!("{v}@{rev}");
                    prop_assert_eq!(got.unwrap().mod_revision, rev);
                    self.record(EventType::Created, key, Some((value.clone(), rev)), value);
                }
            }
            Op::Update(k, e, v, abort) => {
                let key = KEYS[k];
                let want = self.expected(key, &e);
                let f: UpdateFn = Box::new(move |cur, r| {
                    if abort {
                        return Err(StoreError::Backend("abort".into()));
                    }
                    Ok(format!("{}+{v}@{r}", cur.value.len()).into_bytes())
                });
                let got = self.store.update(key, want, f).await;
                match (self.latest().get(key).cloned(), e) {
                    (None, _) => prop_assert_eq!(got.unwrap_err(), StoreError::NotFound),
                    (Some((_, _, m)), Expect::Stale) => {
                        prop_assert_eq!(got.unwrap_err(), StoreError::Conflict { current: m })
                    }
                    (Some(_), _) if abort => {
                        prop_assert_eq!(got.unwrap_err(), StoreError::Backend("abort".into()))
                    }
                    (Some((old, create, _)), _) => {
                        let value = format!("{}+{v}@{rev}", old.len());
                        let kv = got.unwrap();
                        prop_assert_eq!((kv.create_revision, kv.mod_revision), (create, rev));
                        self.record(
                            EventType::Updated,
                            key,
                            Some((value.clone(), create)),
                            value,
                        );
                    }
                }
            }
            Op::Delete(k, e) => {
                let key = KEYS[k];
                let want = self.expected(key, &e);
                let got = self
                    .store
                    .delete(
                        key,
                        want,
                        Box::new(|_, r| format!("final@{r}").into_bytes()),
                    )
                    .await;
                match (self.latest().get(key).cloned(), e) {
                    (None, _) => prop_assert_eq!(got.unwrap_err(), StoreError::NotFound),
                    (Some((_, _, m)), Expect::Stale) => {
                        prop_assert_eq!(got.unwrap_err(), StoreError::Conflict { current: m })
                    }
                    (Some(_), _) => {
                        prop_assert_eq!(got.unwrap().mod_revision, rev);
                        self.record(EventType::Deleted, key, None, format!("final@{rev}"));
                    }
                }
            }
            Op::Compact(fraction) => {
                let current = rev - 1;
                let target = current * i64::from(fraction) / 255;
                self.store.compact(target).unwrap();
                self.compacted = self.compacted.max(target);
                prop_assert_eq!(self.store.compacted_revision(), self.compacted);
            }
            Op::Reopen => {
                self.store.close();
                self.store = Self::open(&self.dir, &self.tuning);
            }
        }
        prop_assert_eq!(self.store.revision(), self.history.len() as i64 - 1);
        Ok(())
    }

    async fn check(&self) -> Result<(), TestCaseError> {
        let current = self.history.len() as i64 - 1;
        for rev in 0..=current {
            for prefix in ["/m/", "/m/a/", "/m/b"] {
                let got = self.store.list(prefix, None, 0, Some(rev));
                if rev < self.compacted {
                    prop_assert_eq!(
                        got.unwrap_err(),
                        StoreError::Compacted {
                            compacted: self.compacted
                        }
                    );
                    continue;
                }
                let got: Vec<(String, String, i64, i64)> = got
                    .unwrap()
                    .items
                    .iter()
                    .map(|kv| {
                        let v = String::from_utf8_lossy(&kv.value).into_owned();
                        (kv.key.to_string(), v, kv.create_revision, kv.mod_revision)
                    })
                    .collect();
                let want: Vec<(String, String, i64, i64)> = self.history[rev as usize]
                    .iter()
                    .filter(|(k, _)| k.starts_with(prefix))
                    .map(|(k, (v, c, m))| (k.clone(), v.clone(), *c, *m))
                    .collect();
                prop_assert_eq!(got, want, "list {} at {}", prefix, rev);
            }
        }
        let mut w = self.store.watch("/m/a/", self.compacted).unwrap();
        let want: Vec<_> = self
            .events
            .iter()
            .filter(|e| e.0 > self.compacted && e.2.starts_with("/m/a/"))
            .cloned()
            .collect();
        for expected in want {
            let e = w.next().await.unwrap().unwrap();
            let v = String::from_utf8_lossy(&e.kv.value).into_owned();
            prop_assert_eq!(
                (e.kv.mod_revision, e.kind, e.kv.key.to_string(), v),
                expected
            );
        }
        prop_assert_eq!(w.poll_progress(), current);
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_model(ops in proptest::collection::vec(op(), 1..40), small in any::<bool>()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let tuning = if small {
                StoreTuning {
                    ring_capacity: 3,
                    ring_max_bytes: 1 << 20,
                    broadcast_capacity: 1,
                    max_batch: 4,
                    compaction_step: 2,
                }
            } else {
                StoreTuning::default()
            };
            let store = Harness::open(&dir, &tuning);
            let mut h = Harness { dir, tuning, store, history: vec![Model::new()], events: vec![], compacted: 0 };
            for op in ops {
                h.step(op).await?;
            }
            h.check().await?;
            h.store.close();
            Ok::<(), TestCaseError>(())
        })?;
    }
}
