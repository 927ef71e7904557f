//! `orrery serve` start-up and idle footprint (SPEC §5: idle < 60 MiB RSS, ready < 1 s), against
//! a release binary: the embedded host cluster with its default simulated nodes, the platform and
//! its controllers, no load.
//!
//! Run: `cargo bench -p orrery --bench serve`. Each run starts a fresh data dir (first start:
//! CA, keys, CRDs, defaults) and then restarts on it (the usual start); prints one line per run.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `orrery serve` in `dir`; returns the process and the time until `ready platform`.
fn start(dir: &Path) -> (Child, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--kube-listen",
            "127.0.0.1:0",
            "--admin-password",
            "Bench-passw0rd",
            "--data-dir",
        ])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn orrery serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    loop {
        let line = lines.next().expect("orrery exited").expect("read stdout");
        if line.starts_with("ready platform ") {
            break;
        }
    }
    let ready = started.elapsed();
    std::thread::spawn(move || for _ in lines {});
    (child, ready)
}

/// CPU time (user + system) of `pid` in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of /proc/pid/stat: 11 and 12 after the ')'.
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    for run in 1..=3 {
        let dir = tempfile::tempdir().expect("tempdir");
        let (child, first) = start(dir.path());
        common::stop(child);
        let (child, ready) = start(dir.path());
        // Let start-up work (cache sync, controllers' first passes) settle, then measure idle.
        std::thread::sleep(Duration::from_secs(5));
        let cpu0 = cpu_seconds(child.id());
        std::thread::sleep(Duration::from_secs(10));
        let idle_cpu = (cpu_seconds(child.id()) - cpu0) / 10.0 * 100.0;
        let rss = common::rss_mib(child.id());
        println!(
            "run {run}: first start ready {:.0} ms; restart ready {:.0} ms; idle RSS {rss:.1} MiB; idle CPU {idle_cpu:.1} % of a core",
            first.as_secs_f64() * 1000.0,
            ready.as_secs_f64() * 1000.0,
        );
        common::stop(child);
    }
}
