//! Issue 18, must-show 3: `orrery backup` under write load restores every acknowledged write;
//! Secrets encrypted at rest (not in the file, readable through the API), rotated, and still
//! encrypted in backups; `orrery restore` refuses what it must.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};

use common::TestCluster;

fn orrery(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args(args)
        .output()
        .expect("run orrery")
}

fn ok(args: &[&str]) -> String {
    let out = orrery(args);
    assert!(
        out.status.success(),
        "orrery {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(args: &[&str]) -> String {
    let out = orrery(args);
    assert!(!out.status.success(), "orrery {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Stops a cluster with SIGTERM (a clean close), waiting for it to exit.
fn stop(mut c: TestCluster) {
    let pid = c.child.id() as libc::pid_t;
    // SAFETY: signalling our own child process by its id.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let _ = c.child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_write_load_restores_every_acknowledged_write() {
    let work = tempfile::tempdir().unwrap();
    let live = work.path().join("live");
    let c = TestCluster::start_in(&live, &["--nodes", "0"]);
    let client = c.client().await;
    let acked: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let stop_writing = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..8 {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let acked = acked.clone();
        let stop_writing = stop_writing.clone();
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop_writing.load(Ordering::Relaxed) {
                let cm = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(format!("w{w}-{i}")),
                        ..Default::default()
                    },
                    data: Some(BTreeMap::from([("payload".into(), "x".repeat(1024))])),
                    ..Default::default()
                };
                let created = api.create(&PostParams::default(), &cm).await.unwrap();
                let rv = created.metadata.resource_version.unwrap_or_default();
                acked
                    .lock()
                    .unwrap()
                    .push((format!("w{w}-{i}"), rv.parse().unwrap_or(0)));
                i += 1;
            }
        }));
    }
    // Wait until a few thousand writes are in, then note what was acknowledged and back up
    // while the writers keep going.
    while acked.lock().unwrap().len() < 2_000 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before: Vec<(String, i64)> = acked.lock().unwrap().clone();
    let archive = work.path().join("backup.tar.gz");
    let args: Vec<String> = ["backup", "--data-dir", s(&live), "--out", s(&archive)]
        .map(String::from)
        .to_vec();
    let out = tokio::task::spawn_blocking(move || {
        ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    let during = acked.lock().unwrap().len() - before.len();
    stop_writing.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(out.contains("revision"), "{out}");
    assert!(during > 0, "no write landed while the backup ran");
    let total = acked.lock().unwrap().len();
    stop(c);

    // The manifest says which revision the snapshot holds.
    let manifest = read_manifest(&archive);
    let revision = manifest["store"]["revision"].as_i64().unwrap();
    let max_before = before.iter().map(|(_, rv)| *rv).max().unwrap();
    assert!(revision >= max_before, "{revision} < {max_before}");
    assert_eq!(manifest["formatVersion"], 1);
    assert_eq!(manifest["files"][0]["path"], "state.db");

    let restored = work.path().join("restored");
    let out = ok(&["restore", "--from", s(&archive), "--data-dir", s(&restored)]);
    assert!(out.contains("restored"), "{out}");
    let r = TestCluster::start_in(&restored, &["--nodes", "0"]);
    let api: Api<ConfigMap> = Api::namespaced(r.client().await, "default");
    let names: BTreeSet<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    let missing: Vec<&String> = before
        .iter()
        .map(|(n, _)| n)
        .filter(|n| !names.contains(*n))
        .collect();
    assert!(missing.is_empty(), "missing after restore: {missing:?}");
    // Nothing the snapshot could not have seen: every restored write was at or before it.
    let after_snapshot = acked
        .lock()
        .unwrap()
        .iter()
        .filter(|(n, rv)| *rv > revision && names.contains(n))
        .count();
    assert_eq!(after_snapshot, 0);
    assert!(
        names.len() < total,
        "the writers went on after the snapshot"
    );
    // kubectl reads the restored cluster too (its CA and admin token came back with it).
    let count = r.ok(&["get", "configmaps", "-o", "name"]).lines().count();
    assert!(count >= before.len(), "{count}");
    drop(r);

    // A second restore into that dir is refused without --force; a damaged archive anyway.
    let err = fails(&["restore", "--from", s(&archive), "--data-dir", s(&restored)]);
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    let damaged = work.path().join("damaged.tar.gz");
    tamper(&archive, &damaged);
    let fresh = work.path().join("fresh");
    let err = fails(&["restore", "--from", s(&damaged), "--data-dir", s(&fresh)]);
    assert!(err.contains("does not match its checksum"), "{err}");
    assert!(!fresh.join("state.db").exists());
    let err = fails(&["backup", "--data-dir", s(&live), "--out", s(&archive)]);
    assert!(err.contains("already exists"), "{err}");
}

fn read_manifest(archive: &Path) -> serde_json::Value {
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(archive).unwrap());
    let mut tar = tar::Archive::new(gz);
    let mut first = tar.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(first.path().unwrap().to_str(), Some("manifest.json"));
    let mut text = String::new();
    first.read_to_string(&mut text).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every file of an archive, decompressed, concatenated.
fn archive_bytes(archive: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(archive).unwrap())
        .read_to_end(&mut all)
        .unwrap();
    all
}

/// Copies an archive with one byte of the store snapshot changed (manifest kept).
fn tamper(from: &Path, to: &Path) {
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(from).unwrap());
    let mut tar = tar::Archive::new(gz);
    let out = flate2::write::GzEncoder::new(
        std::fs::File::create(to).unwrap(),
        flate2::Compression::fast(),
    );
    let mut b = tar::Builder::new(out);
    for e in tar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        if path.to_str() == Some("state.db") {
            let i = data.len() - 100;
            data[i] ^= 0xff;
        }
        let mut h = e.header().clone();
        b.append_data(&mut h, &path, &data[..]).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap();
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The store file and its WAL as they are on disk.
fn raw_store(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for f in ["state.db", "state.db-wal"] {
        all.extend(std::fs::read(dir.join(f)).unwrap_or_default());
    }
    all
}

fn encryption_config(dir: &Path, name: &str, providers: &str) -> String {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n\
             resources:\n  - resources: [secrets]\n    providers:\n{providers}"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

async fn create_secret(c: &TestCluster, name: &str, value: &str) {
    let api: Api<Secret> = Api::namespaced(c.client().await, "default");
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        string_data: Some(BTreeMap::from([("password".into(), value.into())])),
        ..Default::default()
    };
    api.create(&PostParams::default(), &secret).await.unwrap();
}

async fn read_secret(c: &TestCluster, name: &str) -> String {
    let api: Api<Secret> = Api::namespaced(c.client().await, "default");
    let s = api.get(name).await.unwrap();
    let data = s.data.unwrap_or_default();
    String::from_utf8(data["password"].0.clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_encrypted_at_rest_rotated_and_stay_encrypted_in_backups() {
    use base64::Engine;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");
    let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
    let (k1, k2) = (b64(&"1".repeat(32)), b64(&"2".repeat(32)));
    let (early, later) = ("written-before-encryption", "written-under-key1");
    let hidden = |raw: &[u8], what: &str| {
        for v in [early, later] {
            assert!(!contains(raw, v.as_bytes()), "{v} in plaintext in {what}");
            assert!(!contains(raw, b64(v).as_bytes()), "{v} (base64) in {what}");
        }
    };

    // A Secret written before encryption was configured is plaintext in the file.
    let c = TestCluster::start_in(&dir, &["--nodes", "0"]);
    create_secret(&c, "early", early).await;
    stop(c);
    assert!(contains(&raw_store(&dir), b64(early).as_bytes()));

    // key1 (aescbc) configured, existing data rewritten at start.
    let v1 = encryption_config(
        work.path(),
        "v1.yaml",
        &format!(
            "      - aescbc: {{keys: [{{name: key1, secret: \"{k1}\"}}]}}\n      - identity: {{}}\n"
        ),
    );
    let c = TestCluster::start_in(
        &dir,
        &[
            "--nodes",
            "0",
            "--encryption-provider-config",
            &v1,
            "--encryption-rewrite",
        ],
    );
    create_secret(&c, "later", later).await;
    assert_eq!(read_secret(&c, "early").await, early);
    assert_eq!(read_secret(&c, "later").await, later);
    // A backup of the running cluster carries the ciphertext only.
    let archive = work.path().join("enc.tar.gz");
    ok(&["backup", "--data-dir", s(&dir), "--out", s(&archive)]);
    stop(c);
    let raw = raw_store(&dir);
    hidden(&raw, "the store");
    assert!(contains(&raw, b"k8s:enc:aescbc:v1:key1:"));
    hidden(&archive_bytes(&archive), "the backup");
    assert!(
        read_manifest(&archive)["store"]["encryptedValues"]
            .as_u64()
            .unwrap()
            >= 2
    );

    a_restore_needs_the_key(work.path(), &archive, &v1, later).await;

    // Rotation: key2 (aesgcm) first, key1 still listed; rewrite; then key1 removed.
    let v2 = encryption_config(
        work.path(),
        "v2.yaml",
        &format!(
            "      - aesgcm: {{keys: [{{name: key2, secret: \"{k2}\"}}]}}\n      - aescbc: {{keys: [{{name: key1, secret: \"{k1}\"}}]}}\n"
        ),
    );
    let c = TestCluster::start_in(
        &dir,
        &[
            "--nodes",
            "0",
            "--encryption-provider-config",
            &v2,
            "--encryption-rewrite",
        ],
    );
    assert_eq!(read_secret(&c, "early").await, early);
    stop(c);
    let raw = raw_store(&dir);
    hidden(&raw, "the rotated store");
    assert!(
        !contains(&raw, b"k8s:enc:aescbc:v1:key1:"),
        "key1 envelopes left"
    );
    assert!(contains(&raw, b"k8s:enc:aesgcm:v1:key2:"));
    let v3 = encryption_config(
        work.path(),
        "v3.yaml",
        &format!("      - aesgcm: {{keys: [{{name: key2, secret: \"{k2}\"}}]}}\n"),
    );
    let c = TestCluster::start_in(&dir, &["--nodes", "0", "--encryption-provider-config", &v3]);
    assert_eq!(read_secret(&c, "early").await, early);
    assert_eq!(read_secret(&c, "later").await, later);
    // ConfigMaps are not covered: stored as they are.
    c.ok(&[
        "create",
        "configmap",
        "plain",
        "--from-literal=k=visible-configmap-value",
    ]);
    stop(c);
    assert!(contains(&raw_store(&dir), b"visible-configmap-value"));

    misplaced_and_bad_configurations_are_refused(work.path(), &dir, &v3);
}

/// Without the configuration the restored store refuses to start, naming the key; with it, the
/// Secret reads back.
async fn a_restore_needs_the_key(work: &Path, archive: &Path, v1: &str, later: &str) {
    // Without the configuration the restored store refuses to start, naming the key.
    let restored = work.join("restored");
    ok(&["restore", "--from", s(archive), "--data-dir", s(&restored)]);
    let err = fails(&[
        "cluster",
        "--data-dir",
        s(&restored),
        "--listen",
        "127.0.0.1:0",
        "--nodes",
        "0",
    ]);
    assert!(err.contains("encrypted") && err.contains("key1"), "{err}");
    let r = TestCluster::start_in(
        &restored,
        &["--nodes", "0", "--encryption-provider-config", v1],
    );
    assert_eq!(read_secret(&r, "later").await, later);
    drop(r);
}

/// A configuration that is not one is refused before anything starts; a platform on a real
/// host stores nothing itself, so the flag is refused there.
fn misplaced_and_bad_configurations_are_refused(work: &Path, dir: &Path, v3: &str) {
    // A configuration that is not one is refused before anything starts.
    let bad = encryption_config(
        work,
        "bad.yaml",
        "      - aescbc: {keys: [{name: k, secret: \"c2hvcnQ=\"}]}\n",
    );
    let err = fails(&[
        "cluster",
        "--data-dir",
        s(dir),
        "--listen",
        "127.0.0.1:0",
        "--encryption-provider-config",
        &bad,
    ]);
    assert!(err.contains("5 bytes"), "{err}");
    // A platform on a real host stores nothing itself: the flag is refused there.
    let err = fails(&[
        "serve",
        "--kubeconfig",
        s(&dir.join("kubeconfig.yaml")),
        "--listen",
        "127.0.0.1:0",
        "--encryption-provider-config",
        v3,
    ]);
    assert!(err.contains("that cluster's API server"), "{err}");
}
