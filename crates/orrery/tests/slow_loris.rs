//! Slow clients cannot hold connections (issue 11, must-show 5): hundreds of connections
//! trickling header bytes to the platform and to the embedded Kubernetes API are closed by the
//! servers within their header timeout, while other clients are served meanwhile.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Trickles one header byte every 200 ms until the server closes the connection; returns how
/// long that took (`None` if it stayed open past `give_up`).
async fn trickle(addr: String, tls: bool, give_up: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut s = TcpStream::connect(&addr).await.ok()?;
    // Plain HTTP: a request line and then header bytes. TLS: the header of a 16 KiB handshake
    // record whose body then trickles in (the server waits for the whole record).
    let (prefix, filler): (&[u8], &[u8]) = if tls {
        (&[0x16, 0x03, 0x01, 0x40, 0x00], &[0])
    } else {
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"X-Slow: ")
    };
    let _ = s.write_all(prefix).await;
    let mut buf = [0u8; 256];
    for byte in filler.iter().cycle() {
        if start.elapsed() > give_up {
            return None;
        }
        if s.write_all(&[*byte]).await.is_err() {
            return Some(start.elapsed());
        }
        // A closed connection reads EOF (or an error answer and then EOF).
        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            _ => {}
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_clients_are_closed_while_others_are_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--kube-listen",
            "127.0.0.1:0",
            "--nodes",
            "0",
            "--request-header-timeout",
            "2",
            "--admin-password",
            "Initial-passw0rd",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn orrery serve");
    let stdout = child.stdout.take().expect("stdout");
    let guard = Serve(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut platform, mut kube) = (None, None);
    while platform.is_none() || kube.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("orrery serve did not get ready within 60 s");
        if let Some(u) = line.strip_prefix("ready platform http://") {
            platform = Some(u.trim().to_string());
        } else if let Some(u) = line.strip_prefix("ready kubernetes-api https://") {
            kube = Some(u.trim().to_string());
        }
    }
    let (platform, kube) = (platform.unwrap_or_default(), kube.unwrap_or_default());
    let give_up = Duration::from_secs(20);
    let mut slow = Vec::new();
    for i in 0..300 {
        let (addr, tls) = if i % 2 == 0 {
            (&platform, false)
        } else {
            (&kube, true)
        };
        slow.push(tokio::spawn(trickle(addr.clone(), tls, give_up)));
    }
    // Meanwhile another client is served, again and again.
    let http = reqwest::Client::new();
    for _ in 0..10 {
        let r = http
            .get(format!("http://{platform}/healthz"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .expect("healthz while slow clients hold connections");
        assert!(r.status().is_success());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut closed = Vec::new();
    for t in slow {
        let took = t
            .await
            .expect("task")
            .expect("a slow connection was never closed");
        closed.push(took);
    }
    closed.sort();
    // Closed by the 2 s timeout, not by anything the client did (a generous margin for a busy
    // two-core machine; the figure is printed for the record).
    let max = closed.last().copied().unwrap_or_default();
    println!(
        "300 trickling connections closed after {:?} (median) / {:?} (max)",
        closed[closed.len() / 2],
        max
    );
    assert!(
        closed.iter().all(|d| *d >= Duration::from_millis(1500)),
        "{closed:?}"
    );
    assert!(max < Duration::from_secs(15), "{closed:?}");
    drop(guard);
}
