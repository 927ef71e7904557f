#![no_main]
//! Arbitrary JSON posted as every built-in kind through the embedded API server's own request
//! handler (authentication, routing, decoding, type checks, defaulting, validation, dry-run
//! storage), and merge-patched onto a live object of that kind: every answer is below 500
//! and nothing panics. The first input byte picks the kind, the rest is the body.

use std::sync::{Arc, OnceLock};

use apiserver::{Cluster, ClusterConfig, RunningCluster, registry::Resource};
use axum::body::Body;
use libfuzzer_sys::fuzz_target;

struct World {
    rt: tokio::runtime::Runtime,
    cluster: Arc<Cluster>,
    kinds: Vec<Arc<Resource>>,
    _running: RunningCluster,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = ClusterConfig::new(dir.path());
        config.listen = "127.0.0.1:0".parse().expect("address");
        config.durable = false;
        let running = rt.block_on(apiserver::start(config)).expect("cluster");
        let cluster = running.cluster.clone();
        let kinds: Vec<Arc<Resource>> = cluster
            .registry
            .snapshot()
            .resources
            .iter()
            .filter(|r| !r.plural.contains('/') && r.verbs.iter().any(|v| v == "create"))
            .cloned()
            .collect();
        let w = World { rt, cluster, kinds, _running: running, _dir: dir };
        // One live object per kind for the patches, where a bare object is accepted.
        for r in &w.kinds {
            let body = format!(
                r#"{{"apiVersion":"{}","kind":"{}","metadata":{{"name":"fuzz"}}}}"#,
                r.api_version(),
                r.kind
            );
            w.rt.block_on(send(&w, "POST", &collection(r), "application/json", body.into_bytes()));
        }
        w
    })
}

fn collection(r: &Resource) -> String {
    let base = if r.group.is_empty() {
        format!("/api/{}", r.version)
    } else {
        format!("/apis/{}/{}", r.group, r.version)
    };
    if r.namespaced {
        format!("{base}/namespaces/default/{}", r.plural)
    } else {
        format!("{base}/{}", r.plural)
    }
}

async fn send(w: &World, method: &str, uri: &str, ct: &str, body: Vec<u8>) -> u16 {
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {}", w.cluster.credentials.admin_token))
        .header("content-type", ct)
        .body(Body::from(body))
        .expect("request");
    let resp = apiserver::serve_one(w.cluster.clone(), Default::default(), req).await;
    resp.status().as_u16()
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let w = world();
    if w.kinds.is_empty() {
        return;
    }
    let r = &w.kinds[pick as usize % w.kinds.len()];
    let uri = format!("{}?dryRun=All", collection(r));
    let code = w.rt.block_on(send(w, "POST", &uri, "application/json", body.to_vec()));
    assert!(code < 500, "POST {uri}: {code}");
    let item = format!("{}/fuzz?dryRun=All", collection(r));
    let code = w.rt.block_on(send(w, "PATCH", &item, "application/merge-patch+json", body.to_vec()));
    assert!(code < 500, "PATCH {item}: {code}");
});
