//! Crash safety: a child process writes durably and is killed with SIGKILL; every write it
//! saw acknowledged must be there after reopening, and the file must open cleanly each time.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{set, val};
use store::{Store, StoreError, StoreOptions};

const CHILD_ENV: &str = "STORE_CRASH_CHILD_PATH";
const TASKS: usize = 16;

fn durable_opts(path: &std::path::Path) -> StoreOptions {
    StoreOptions {
        path: path.to_path_buf(),
        compaction_interval: Duration::from_millis(50),
        retain_revisions: 100,
        durable: true,
    }
}

/// The child: runs only when re-executed by `kill_nine_loses_no_acknowledged_write`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper process for the crash test"]
async fn crash_child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let s = Store::open(durable_opts(std::path::Path::new(&path))).unwrap();
    let round = s.revision();
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let s = Arc::clone(&s);
            let out = Arc::clone(&out);
            tokio::spawn(async move {
                let counter = format!("/counter/{t}");
                for i in 0u64.. {
                    let key = format!("/crash/{round}/{t}/{i}");
                    let kv = s.create(&key, val(&"x".repeat(1024))).await.unwrap();
                    let line = format!("ACK {key} {}\n", kv.mod_revision);
                    let step = match s.get(&counter) {
                        Some(_) => s.update(&counter, None, set(&i.to_string())).await,
                        None => s.create(&counter, val(&i.to_string())).await,
                    };
                    let step = step.unwrap();
                    let line = format!("{line}SET {counter} {i} {}\n", step.mod_revision);
                    let mut out = out.lock().unwrap();
                    out.write_all(line.as_bytes()).unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// Runs the child until it has acknowledged `acks` creates, then SIGKILLs it.
fn run_child_and_kill(path: &std::path::Path, acks: usize) -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--ignored", "--exact", "crash_child_writer", "--nocapture"])
        .env(CHILD_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let lines = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("ACK ") || line.starts_with("SET ") {
                    lines.lock().unwrap().push(line);
                }
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines.lock().unwrap().len() < acks * 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    reader.join().unwrap();
    let lines = lines.lock().unwrap().clone();
    assert!(
        lines.len() >= acks * 2,
        "child acknowledged only {} lines",
        lines.len()
    );
    lines
}

#[tokio::test]
async fn kill_nine_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let mut all_acks: Vec<(String, i64)> = Vec::new();
    for (round, acks) in [300usize, 700, 500].into_iter().enumerate() {
        let lines = run_child_and_kill(&path, acks);
        let mut counters: std::collections::HashMap<String, u64> = Default::default();
        for line in &lines {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                ["ACK", key, rev] => all_acks.push((key.to_string(), rev.parse().unwrap())),
                ["SET", key, n, _] => {
                    let n: u64 = n.parse().unwrap();
                    let e = counters.entry(key.to_string()).or_default();
                    *e = (*e).max(n);
                }
                _ => panic!("bad line {line}"),
            }
        }
        let check: String = rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        // The parent does not compact, so the history it watches below stays put.
        let mut o = durable_opts(&path);
        o.compaction_interval = Duration::from_secs(3600);
        let s = Store::open(o).unwrap_or_else(|e| panic!("reopen {round}: {e}"));
        for (key, rev) in &all_acks {
            let kv = s
                .get(key)
                .unwrap_or_else(|| panic!("lost acknowledged {key} (round {round})"));
            assert_eq!(kv.create_revision, *rev, "{key}");
        }
        for (key, n) in &counters {
            let kv = s.get(key).unwrap();
            let stored: u64 = std::str::from_utf8(&kv.value).unwrap().parse().unwrap();
            // The counter may be ahead (committed but not yet acknowledged), never behind.
            assert!(stored >= *n, "{key}: stored {stored} < acknowledged {n}");
        }
        let max_ack = all_acks.iter().map(|a| a.1).max().unwrap();
        assert!(s.revision() >= max_ack);
        let next = s
            .create(&format!("/after/{round}"), val("x"))
            .await
            .unwrap();
        assert_eq!(next.mod_revision, s.revision());
        assert!(next.mod_revision > max_ack);
        // Watching the whole retained history yields strictly consecutive revisions.
        let from = s.compacted_revision();
        let mut w = s.watch("/", from).unwrap();
        let mut expect = from;
        while w.progress() < s.revision() || expect < s.revision() {
            let Some(Ok(e)) = w.next().await else {
                panic!("watch ended")
            };
            expect += 1;
            assert_eq!(e.kv.mod_revision, expect);
        }
        s.close();
        assert_eq!(
            s.create("/x", val("x")).await.unwrap_err(),
            StoreError::Closed
        );
    }
}
