//! Lists: prefix, start_after, limit, remaining, and consistent lists at older revisions.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{open, open_small, pairs, set, tomb, val};
use store::{Store, StoreError};

async fn fill(s: &Store) {
    for key in ["/r/a/1", "/r/a/2", "/r/a/3", "/r/ab/1", "/r/b/1", "/r/b/2"] {
        s.create(key, val(key)).await.unwrap();
    }
}

fn keys(s: &Store, prefix: &str, after: Option<&str>, limit: usize) -> (Vec<String>, usize) {
    let l = s.list(prefix, after, limit, None).unwrap();
    (
        pairs(&l.items).into_iter().map(|p| p.0).collect(),
        l.remaining,
    )
}

#[tokio::test]
async fn list_filters_by_prefix_in_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    fill(&s).await;
    assert_eq!(
        keys(&s, "/r/a/", None, 0),
        (vec!["/r/a/1".into(), "/r/a/2".into(), "/r/a/3".into()], 0)
    );
    assert_eq!(keys(&s, "/r/", None, 0).0.len(), 6);
    assert_eq!(keys(&s, "/nothing/", None, 0), (vec![], 0));
    assert_eq!(s.count("/r/a"), 4);
    assert_eq!(s.count("/r/b/"), 2);
    let l = s.list("/r/", None, 0, None).unwrap();
    assert_eq!(l.revision, 6);
}

#[tokio::test]
async fn list_pages_with_limit_start_after_and_remaining() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    fill(&s).await;
    assert_eq!(
        keys(&s, "/r/", None, 2),
        (vec!["/r/a/1".into(), "/r/a/2".into()], 4)
    );
    assert_eq!(
        keys(&s, "/r/", Some("/r/a/2"), 2),
        (vec!["/r/a/3".into(), "/r/ab/1".into()], 2)
    );
    assert_eq!(
        keys(&s, "/r/", Some("/r/ab/1"), 2),
        (vec!["/r/b/1".into(), "/r/b/2".into()], 0)
    );
    // A start_after before the prefix is ignored; one after every key gives nothing.
    assert_eq!(keys(&s, "/r/b/", Some("/a"), 1), (vec!["/r/b/1".into()], 1));
    assert_eq!(keys(&s, "/r/a/", Some("/r/z"), 0), (vec![], 0));
}

#[tokio::test]
async fn list_rejects_future_and_compacted_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    fill(&s).await;
    assert_eq!(
        s.list("/", None, 0, Some(7)).unwrap_err(),
        StoreError::FutureRevision { current: 6 }
    );
    s.compact(3).unwrap();
    assert_eq!(
        s.list("/", None, 0, Some(2)).unwrap_err(),
        StoreError::Compacted { compacted: 3 }
    );
    assert_eq!(s.list("/", None, 0, Some(3)).unwrap().items.len(), 3);
}

/// Applies a deterministic mix of writes and records the full state after each revision.
async fn churn(s: &Store, rounds: usize) -> Vec<BTreeMap<String, String>> {
    let mut model: BTreeMap<String, String> = BTreeMap::new();
    let mut history = vec![model.clone()];
    for i in 0..rounds {
        let key = format!("/p/{:02}", (i * 7) % 13);
        let value = format!("v{i}");
        let rev = if model.contains_key(&key) {
            if i % 3 == 0 {
                model.remove(&key);
                s.delete(&key, None, tomb()).await.unwrap().mod_revision
            } else {
                model.insert(key.clone(), value.clone());
                s.update(&key, None, set(&value))
                    .await
                    .unwrap()
                    .mod_revision
            }
        } else {
            model.insert(key.clone(), value.clone());
            s.create(&key, val(&value)).await.unwrap().mod_revision
        };
        assert_eq!(rev as usize, history.len());
        history.push(model.clone());
    }
    history
}

fn check_every_revision(s: &Store, history: &[BTreeMap<String, String>]) {
    for (rev, want) in history.iter().enumerate() {
        let rev = rev as i64;
        let got = s.list("/p/", None, 0, Some(rev)).unwrap();
        let want: Vec<(String, String)> = want.clone().into_iter().collect();
        assert_eq!(pairs(&got.items), want, "state at revision {rev}");
        assert_eq!(got.revision, rev);
        // Pages of two at the same revision reassemble to the same state.
        let mut paged = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = s.list("/p/", after.as_deref(), 2, Some(rev)).unwrap();
            paged.extend(pairs(&page.items));
            assert_eq!(paged.len() + page.remaining, want.len());
            match page.items.last() {
                Some(last) if page.remaining > 0 => after = Some(last.key.to_string()),
                _ => break,
            }
        }
        assert_eq!(paged, want, "paged state at revision {rev}");
    }
}

#[tokio::test]
async fn list_at_every_older_revision_equals_that_state_from_ring() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let history = churn(&s, 60).await;
    check_every_revision(&s, &history);
}

#[tokio::test]
async fn list_at_every_older_revision_equals_that_state_from_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    // A four-event ring forces almost every older list through the SQLite log.
    let s = open_small(dir.path());
    let history = churn(&s, 60).await;
    check_every_revision(&s, &history);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paginated_list_stays_consistent_while_writes_continue() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_small(dir.path());
    for i in 0..50 {
        s.create(&format!("/c/{i:03}"), val("0")).await.unwrap();
    }
    let first = s.list("/c/", None, 10, None).unwrap();
    let at = first.revision;
    let writer = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            for i in 0..50 {
                let key = format!("/c/{i:03}");
                s.update(&key, None, set("1")).await.unwrap();
                s.create(&format!("/c/{i:03}x"), val("new")).await.unwrap();
            }
        })
    };
    let mut all = pairs(&first.items);
    let mut after = first.items.last().map(|kv| kv.key.to_string());
    while let Some(a) = after.take() {
        let page = s.list("/c/", Some(&a), 10, Some(at)).unwrap();
        all.extend(pairs(&page.items));
        if page.remaining > 0 {
            after = page.items.last().map(|kv| kv.key.to_string());
        }
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    assert_eq!(all.len(), 50);
    assert!(all.iter().all(|(k, v)| v == "0" && !k.ends_with('x')));
}

#[tokio::test]
async fn non_ascii_keys_order_bytewise_in_memory_and_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_small(dir.path());
    for key in ["/u/é", "/u/z", "/u/ä", "/u/a", "/u/日本"] {
        s.create(key, val(key)).await.unwrap();
    }
    let at = s.revision();
    for i in 0..10 {
        s.create(&format!("/v/{i}"), val("later")).await.unwrap();
    }
    let want = vec!["/u/a", "/u/z", "/u/ä", "/u/é", "/u/日本"];
    let latest: Vec<String> = pairs(&s.list("/u/", None, 0, None).unwrap().items)
        .into_iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(latest, want);
    // The ring holds four events, so this older list is answered by SQLite.
    let older = s.list("/u/", Some("/u/z"), 2, Some(at)).unwrap();
    let older_keys: Vec<String> = pairs(&older.items).into_iter().map(|p| p.0).collect();
    assert_eq!(older_keys, vec!["/u/ä", "/u/é"]);
    assert_eq!(older.remaining, 1);
}
