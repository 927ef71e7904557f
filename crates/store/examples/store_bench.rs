//! Store benchmarks: durable create throughput, list latency, watch fan-out, memory and
//! restart time. Run with `cargo run --release -p store --example store_bench`.
//!
//! The store file goes to `$STORE_BENCH_DIR` (default: a temporary directory under the system
//! temp dir), which should be on a real disk for the durable numbers to mean anything.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use store::{Revision, Store, StoreOptions};

const VALUE_SIZE: usize = 1024;
const WRITERS: usize = 16;
const CREATES: usize = 20_000;
const LIST_ITEMS: usize = 10_000;
const WATCHERS: usize = 1_000;
const WATCHED_WRITES: usize = 200;
const OBJECTS: usize = 100_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    // Memory and restart are measured in a fresh child process so earlier phases' heap does
    // not count.
    if args.get(1).map(String::as_str) == Some("reopen") {
        let path = args.get(2).ok_or("reopen needs a path")?;
        return reopen_child(Path::new(path));
    }
    let base = match std::env::var_os("STORE_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir()?,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        creates_per_second(&base.path().join("creates.db")).await?;
        list_latency(&base.path().join("list.db")).await?;
        watch_fanout(&base.path().join("watch.db")).await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    let big = base.path().join("big.db");
    rt.block_on(fill(&big, OBJECTS))?;
    let exe = std::env::current_exe()?;
    let out = std::process::Command::new(exe)
        .arg("reopen")
        .arg(&big)
        .output()?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        return Err(format!(
            "reopen child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

fn opts(path: &Path, durable: bool) -> StoreOptions {
    let mut o = StoreOptions::new(path);
    o.durable = durable;
    o
}

/// A 1 KiB JSON-ish value with the revision stamped in, like the API server would.
fn value(key: &str, rev: Revision) -> Vec<u8> {
    let head = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"{key}\",\"resourceVersion\":\"{rev}\"}},\"data\":{{\"d\":\""
    );
    let mut v = head.into_bytes();
    let fill = VALUE_SIZE.saturating_sub(v.len() + 3);
    v.extend(std::iter::repeat_n(b'x', fill));
    v.extend_from_slice(b"\"}}");
    v
}

fn create_fn(key: &str) -> store::CreateFn {
    let key = key.to_owned();
    Box::new(move |rev| value(&key, rev))
}

async fn creates_per_second(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let s = Store::open(opts(path, true))?;
    // One writer at a time pays one fsync per create: the reference group commit must beat.
    let start = Instant::now();
    for i in 0..500 {
        let key = format!("/registry/configmaps/seq/cm-{i}");
        s.create(&key, create_fn(&key)).await?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "durable creates, 1 sequential writer (one fsync each): {:.0} creates/s",
        500.0 / secs
    );
    let base = s.revision();
    let before = s.stats();
    let start = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|t| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                for i in 0..CREATES / WRITERS {
                    let key = format!("/registry/configmaps/ns{t}/cm-{i}");
                    s.create(&key, create_fn(&key)).await?;
                }
                Ok::<(), store::StoreError>(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let secs = start.elapsed().as_secs_f64();
    let n = s.revision() - base;
    let after = s.stats();
    println!(
        "durable creates, {WRITERS} concurrent tasks (group commit): {n} in {:.2} s = {:.0} creates/s ({VALUE_SIZE} B values, {:.1} writes per commit)",
        secs,
        n as f64 / secs,
        (after.writes - before.writes) as f64 / (after.commits - before.commits).max(1) as f64
    );
    s.close();
    Ok(())
}

async fn fill(path: &Path, n: usize) -> Result<Arc<Store>, Box<dyn std::error::Error>> {
    let s = Store::open(opts(path, false))?;
    for chunk in 0..n.div_ceil(1000) {
        let writes: Vec<_> = (chunk * 1000..((chunk + 1) * 1000).min(n))
            .map(|i| {
                let key = format!("/registry/configmaps/default/cm-{i:06}");
                let s = Arc::clone(&s);
                async move { s.create(&key, create_fn(&key)).await }
            })
            .collect();
        for r in join_all_spawned(writes).await {
            r?;
        }
    }
    Ok(s)
}

/// Awaits futures concurrently without pulling in the `futures` crate.
async fn join_all_spawned<F: std::future::Future + Send + 'static>(futs: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn list_latency(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let s = fill(path, LIST_ITEMS).await?;
    let mut latest = Vec::new();
    let mut total_bytes = 0;
    for _ in 0..21 {
        let start = Instant::now();
        let l = s.list("/registry/configmaps/", None, 0, None)?;
        total_bytes = l.items.iter().map(|kv| kv.value.len()).sum::<usize>();
        latest.push(start.elapsed().as_secs_f64() * 1e3);
    }
    // A paginated list continued at an older revision after other writes (the ring path).
    let rev = s.revision();
    s.create("/registry/other/x", create_fn("x")).await?;
    let mut older = Vec::new();
    for _ in 0..11 {
        let start = Instant::now();
        let l = s.list("/registry/configmaps/", None, 500, Some(rev))?;
        assert_eq!(l.items.len() + l.remaining, LIST_ITEMS);
        older.push(start.elapsed().as_secs_f64() * 1e3);
    }
    // The same from SQLite: reopen so the in-memory ring is empty.
    s.close();
    drop(s);
    let s = Store::open(opts(path, false))?;
    let mut from_sqlite = Vec::new();
    for _ in 0..11 {
        let start = Instant::now();
        let l = s.list("/registry/configmaps/", None, 500, Some(rev))?;
        assert_eq!(l.items.len() + l.remaining, LIST_ITEMS);
        from_sqlite.push(start.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "list {LIST_ITEMS} x {VALUE_SIZE} B ({} MiB) at latest: median {:.2} ms",
        total_bytes / (1 << 20),
        median(latest)
    );
    println!(
        "list page of 500 (+remaining count) at an older revision: median {:.2} ms from memory ring, {:.2} ms from SQLite",
        median(older),
        median(from_sqlite)
    );
    s.close();
    Ok(())
}

async fn watch_fanout(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let s = Store::open(opts(path, true))?;
    let starts: Arc<Mutex<Vec<Option<Instant>>>> =
        Arc::new(Mutex::new(vec![None; WATCHED_WRITES + 1]));
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::new(Mutex::new(Vec::new()));
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let mut w = s.watch("/registry/pods/", 0)?;
        let latencies = Arc::clone(&latencies);
        let starts = Arc::clone(&starts);
        watchers.push(tokio::spawn(async move {
            let mut mine = Vec::with_capacity(WATCHED_WRITES);
            for _ in 0..WATCHED_WRITES {
                let Some(Ok(event)) = w.next().await else {
                    break;
                };
                let now = Instant::now();
                let start = starts
                    .lock()
                    .ok()
                    .and_then(|s| s.get(event.kv.mod_revision as usize).copied().flatten());
                if let Some(start) = start {
                    mine.push(now.duration_since(start).as_secs_f64() * 1e3);
                }
            }
            if let Ok(mut all) = latencies.lock() {
                all.extend(mine);
            }
        }));
    }
    for i in 0..WATCHED_WRITES {
        let key = format!("/registry/pods/default/p-{i}");
        // Revisions are sequential here, so the write's revision is known before it starts.
        if let Ok(mut st) = starts.lock() {
            st[i + 1] = Some(Instant::now());
        }
        s.create(&key, create_fn(&key)).await?;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for w in watchers {
        w.await?;
    }
    let mut all = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    all.sort_by(f64::total_cmp);
    println!(
        "watch fan-out to {WATCHERS} watchers, {WATCHED_WRITES} durable writes, write start -> receipt: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} deliveries)",
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or(f64::NAN),
        all.len()
    );
    s.close();
    Ok(())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn reopen_child(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let before = rss_kib();
    let start = Instant::now();
    let s = Store::open(opts(&PathBuf::from(path), true))?;
    let took = start.elapsed();
    let after = rss_kib();
    let n = s.count("/registry/");
    let bytes: usize = s
        .list("/registry/", None, 0, None)?
        .items
        .iter()
        .map(|kv| kv.value.len() + kv.key.len())
        .sum();
    println!(
        "reopen with {n} objects: {:.0} ms",
        took.as_secs_f64() * 1e3
    );
    let grown = after.saturating_sub(before) * 1024;
    println!(
        "RSS: {:.1} MiB before open, {:.1} MiB after loading {n} objects ({:.1} MiB of keys+values); {:.2} bytes of RSS per stored byte",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        bytes as f64 / (1 << 20) as f64,
        grown as f64 / bytes.max(1) as f64
    );
    s.close();
    Ok(())
}
