//! `/readyz` follows the host cluster, `/healthz` does not: an `orrery serve --kubeconfig`
//! replica reaches its host through a TCP relay the test can cut. Cut, the replica turns not
//! ready (503, kube-apiserver's check list) while it stays live; restored, it is ready again.

mod common;
mod platform;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::watch;

/// A TCP relay to `upstream` that `cut` opens and closes: while cut, it drops the connections
/// it carries and refuses new ones (accepts and closes them at once).
async fn relay(upstream: SocketAddr, cut: watch::Receiver<bool>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind relay");
    let addr = listener.local_addr().expect("relay address");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let mut cut = cut.clone();
            if *cut.borrow() {
                continue;
            }
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = cut.wait_for(|c| *c) => {}
                }
            });
        }
    });
    addr
}

async fn status(http: &reqwest::Client, url: &str) -> (u16, String) {
    match http.get(url).send().await {
        Ok(r) => {
            let code = r.status().as_u16();
            (code, r.text().await.unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_drops_while_the_host_is_unreachable_and_healthz_stays() {
    let host = common::TestCluster::start(&["--nodes", "0"]);
    let upstream: SocketAddr = host
        .url
        .trim_start_matches("https://")
        .parse()
        .expect("host address");
    let (cut_tx, cut_rx) = watch::channel(false);
    let through = relay(upstream, cut_rx).await;
    // The host's kubeconfig, pointed at the relay (the certificate names 127.0.0.1).
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("host-through-relay.yaml");
    let text = std::fs::read_to_string(&host.kubeconfig).expect("kubeconfig");
    assert!(
        text.contains(&host.url),
        "the kubeconfig names {}",
        host.url
    );
    std::fs::write(
        &kubeconfig,
        text.replace(&host.url, &format!("https://{through}")),
    )
    .expect("write kubeconfig");
    let replica = platform::Replica::start(
        &kubeconfig,
        "replica-r",
        &["--admin-password", "Initial-passw0rd", "--tls=false"],
        &[],
    );
    let http = platform::http();
    let (readyz, healthz) = (
        format!("{}/readyz", replica.url),
        format!("{}/healthz", replica.url),
    );
    assert_eq!(status(&http, &readyz).await, (200, "ok".to_string()));

    cut_tx.send_replace(true);
    let body = platform::until(Duration::from_secs(15), "/readyz answers 503", || {
        let (http, readyz) = (http.clone(), readyz.clone());
        async move {
            let (code, body) = status(&http, &readyz).await;
            (code == 503).then_some(body)
        }
    })
    .await;
    assert!(body.contains("[-]host-api failed"), "{body}");
    assert!(body.contains("[+]caches-synced ok"), "{body}");
    assert!(!body.contains("127.0.0.1"), "no reason shown: {body}");
    assert_eq!(status(&http, &healthz).await.0, 200, "still live");
    assert_eq!(
        status(&http, &format!("{}/livez", replica.url)).await.0,
        200
    );

    cut_tx.send_replace(false);
    platform::until(Duration::from_secs(15), "/readyz answers 200 again", || {
        let (http, readyz) = (http.clone(), readyz.clone());
        async move { (status(&http, &readyz).await.0 == 200).then_some(()) }
    })
    .await;
    drop(replica);
}
