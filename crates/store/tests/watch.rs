//! Watch: replay from a revision, follow live writes, per prefix, lag, progress.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{open, open_small, set, tomb, val};
use store::{Event, EventType, Store, StoreError, Watcher};

async fn next(w: &mut Watcher) -> Event {
    tokio::time::timeout(Duration::from_secs(10), w.next())
        .await
        .expect("event within 10 s")
        .expect("stream open")
        .expect("no error")
}

async fn collect(w: &mut Watcher, n: usize) -> Vec<Event> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(next(w).await);
    }
    out
}

fn revs(events: &[Event]) -> Vec<i64> {
    events.iter().map(|e| e.kv.mod_revision).collect()
}

async fn fill(s: &Store) {
    s.create("/a/1", val("a1")).await.unwrap(); // 1
    s.create("/b/1", val("b1")).await.unwrap(); // 2
    s.update("/a/1", Some(1), set("a1'")).await.unwrap(); // 3
    s.delete(
        "/a/1",
        None,
        Box::new(|_, rev| format!("gone@{rev}").into_bytes()),
    )
    .await
    .unwrap(); // 4
    s.create("/a/2", val("a2")).await.unwrap(); // 5
}

fn check_fill_events(events: &[Event]) {
    let kinds: Vec<EventType> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EventType::Created,
            EventType::Updated,
            EventType::Deleted,
            EventType::Created
        ]
    );
    assert_eq!(revs(events), vec![1, 3, 4, 5]);
    assert!(events[0].prev.is_none());
    let upd = &events[1];
    assert_eq!(
        upd.prev.as_ref().map(|p| (&*p.value, p.mod_revision)),
        Some((&b"a1"[..], 1))
    );
    let del = &events[2];
    assert_eq!(&*del.kv.value, b"gone@4");
    assert_eq!(del.kv.create_revision, 1);
    assert_eq!(del.prev.as_ref().map(|p| p.mod_revision), Some(3));
}

#[tokio::test]
async fn watch_replays_from_memory_then_follows() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    fill(&s).await;
    let mut w = s.watch("/a/", 0).unwrap();
    check_fill_events(&collect(&mut w, 4).await);
    s.create("/b/2", val("x")).await.unwrap(); // 6, other prefix
    s.update("/a/2", None, set("a2'")).await.unwrap(); // 7
    let live = next(&mut w).await;
    assert_eq!((live.kind, live.kv.mod_revision), (EventType::Updated, 7));
    assert_eq!(w.progress(), 7);
}

#[tokio::test]
async fn watch_replays_from_sqlite_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        fill(&s).await;
        s.close();
    }
    let s = open(dir.path());
    let mut w = s.watch("/a/", 0).unwrap();
    check_fill_events(&collect(&mut w, 4).await);
    let mut from_middle = s.watch("/", 3).unwrap();
    assert_eq!(revs(&collect(&mut from_middle, 2).await), vec![4, 5]);
}

#[tokio::test]
async fn watch_from_current_revision_sees_only_new_events() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    fill(&s).await;
    let mut w = s.watch("/", 5).unwrap();
    assert_eq!(w.progress(), 5);
    s.create("/c", val("c")).await.unwrap();
    assert_eq!(next(&mut w).await.kv.mod_revision, 6);
}

#[tokio::test]
async fn watch_of_a_future_revision_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    fill(&s).await;
    assert_eq!(
        s.watch("/", 6).unwrap_err(),
        StoreError::FutureRevision { current: 5 }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_watcher_resyncs_without_gaps() {
    let dir = tempfile::tempdir().unwrap();
    // Broadcast of two batches and a ring of four events: a watcher that sleeps lags at once.
    let s = open_small(dir.path());
    let mut w = s.watch("/k/", 0).unwrap();
    let mut other = s.watch("/", 0).unwrap();
    let writer = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            for i in 0..300 {
                let key = format!("/k/{}", i % 10);
                if s.get(&key).is_some() {
                    s.update(&key, None, set(&i.to_string())).await.unwrap();
                } else {
                    s.create(&key, val(&i.to_string())).await.unwrap();
                }
                s.create(&format!("/z/{i}"), val("noise")).await.unwrap();
            }
        })
    };
    writer.await.unwrap();
    let events = collect(&mut w, 300).await;
    assert_eq!(
        revs(&events),
        (0..300).map(|i| 2 * i + 1).collect::<Vec<i64>>()
    );
    for (i, e) in events.iter().enumerate() {
        assert_eq!(&*e.kv.value, i.to_string().as_bytes());
    }
    let all = collect(&mut other, 600).await;
    assert_eq!(revs(&all), (1..=600).collect::<Vec<i64>>());
}

#[tokio::test]
async fn progress_advances_with_writes_to_other_prefixes() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let mut w = s.watch("/quiet/", 0).unwrap();
    for i in 0..5 {
        s.create(&format!("/busy/{i}"), val("x")).await.unwrap();
    }
    assert_eq!(w.progress(), 0);
    assert_eq!(w.poll_progress(), 5);
    // A next() cancelled by a timer also absorbs batches of other prefixes.
    s.create("/busy/5", val("x")).await.unwrap();
    let timed_out = tokio::time::timeout(Duration::from_millis(50), w.next()).await;
    assert!(timed_out.is_err());
    assert_eq!(w.progress(), 6);
    s.create("/quiet/1", val("q")).await.unwrap();
    assert_eq!(next(&mut w).await.kv.mod_revision, 7);
}

#[tokio::test]
async fn progress_stays_below_unreturned_events() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    fill(&s).await;
    let mut w = s.watch("/a/", 0).unwrap();
    assert_eq!(w.progress(), 0);
    next(&mut w).await;
    assert_eq!(w.progress(), 2);
    collect(&mut w, 3).await;
    assert_eq!(w.progress(), 5);
}

#[tokio::test]
async fn watch_before_compaction_point_is_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    fill(&s).await;
    s.compact(4).unwrap();
    assert_eq!(
        s.watch("/", 3).unwrap_err(),
        StoreError::Compacted { compacted: 4 }
    );
    let mut w = s.watch("/", 4).unwrap();
    assert_eq!(next(&mut w).await.kv.mod_revision, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_watcher_whose_history_was_compacted_gets_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_small(dir.path());
    let mut w = s.watch("/", 0).unwrap();
    for i in 0..20 {
        s.create(&format!("/k/{i}"), val("x")).await.unwrap();
    }
    s.compact(15).unwrap();
    // The watcher can return what it already holds, then must report the gap.
    let mut outcome = None;
    for _ in 0..25 {
        match w.next().await {
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                outcome = Some(e);
                break;
            }
            None => break,
        }
    }
    assert_eq!(outcome, Some(StoreError::Compacted { compacted: 15 }));
    assert!(w.next().await.is_none());
}

#[tokio::test]
async fn deleted_event_from_memory_and_sqlite_agree() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    fill(&s).await;
    s.delete("/b/1", Some(2), tomb()).await.unwrap();
    let live = collect(&mut s.watch("/", 0).unwrap(), 6).await;
    s.close();
    drop(s);
    let s = open(dir.path());
    let replay = collect(&mut s.watch("/", 0).unwrap(), 6).await;
    assert_eq!(live, replay);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_watchers_all_receive_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let watchers: Vec<_> = (0..200)
        .map(|_| {
            let mut w = s.watch("/w/", 0).unwrap();
            tokio::spawn(async move { revs(&collect(&mut w, 50).await) })
        })
        .collect();
    for i in 0..50 {
        s.create(&format!("/w/{i}"), val("x")).await.unwrap();
    }
    for w in watchers {
        assert_eq!(w.await.unwrap(), (1..=50).collect::<Vec<i64>>());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_sees_contiguous_revisions_under_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let mut w = s.watch("/", 0).unwrap();
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                for i in 0..100 {
                    s.create(&format!("/t{t}/{i}"), val("x")).await.unwrap();
                }
            })
        })
        .collect();
    let events = collect(&mut w, 800).await;
    for wr in writers {
        wr.await.unwrap();
    }
    assert_eq!(revs(&events), (1..=800).collect::<Vec<i64>>());
    // Each writer's own creates arrive in the order it made them.
    for t in 0..8 {
        let mine: Vec<String> = events
            .iter()
            .filter(|e| e.kv.key.starts_with(&format!("/t{t}/")))
            .map(|e| e.kv.key.to_string())
            .collect();
        let want: Vec<String> = (0..100).map(|i| format!("/t{t}/{i}")).collect();
        assert_eq!(mine, want);
    }
}
