//! A value transformer (encryption at rest): covered values never reach the file in
//! plaintext, every read path decodes them, and stale values are rewritten in place.

mod common;

use std::sync::Arc;

use common::{opts, pairs, set, val};
use store::{Decoded, Store, StoreError, StoreTuning, ValueTransformer};

/// A reversible envelope for the test: `k8s:enc:xor:v1:<key>:` and the bytes XORed with the
/// key's byte. Keys are tried in order; the first one writes.
#[derive(Debug)]
struct Xor {
    keys: Vec<(&'static str, u8)>,
}

impl ValueTransformer for Xor {
    fn covers(&self, key: &str) -> bool {
        key.starts_with("/secret/")
    }
    fn encode(&self, _key: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let (name, k) = self.keys[0];
        let mut out = format!("k8s:enc:xor:v1:{name}:").into_bytes();
        out.extend(value.iter().map(|b| b ^ k));
        Ok(out)
    }
    fn decode(&self, key: &str, stored: &[u8]) -> Result<Decoded, StoreError> {
        let Some(rest) = stored.strip_prefix(b"k8s:enc:xor:v1:") else {
            return Ok(Decoded {
                value: stored.to_vec(),
                stale: self.covers(key),
            });
        };
        for (i, (name, k)) in self.keys.iter().enumerate() {
            if let Some(data) = rest.strip_prefix(format!("{name}:").as_bytes()) {
                return Ok(Decoded {
                    value: data.iter().map(|b| b ^ k).collect(),
                    stale: i != 0 || !self.covers(key),
                });
            }
        }
        Err(StoreError::Backend(format!("no key decrypts {key}")))
    }
}

fn open_with(
    dir: &std::path::Path,
    keys: Vec<(&'static str, u8)>,
) -> Result<Arc<Store>, StoreError> {
    Store::open_with(
        opts(dir),
        StoreTuning::default(),
        Some(Arc::new(Xor { keys })),
    )
}

fn file_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["store.db", "store.db-wal"] {
        all.extend(std::fs::read(dir.join(name)).unwrap_or_default());
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn covered_values_are_encoded_in_the_file_and_plain_everywhere_else() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_with(dir.path(), vec![("k1", 0x5a)]).unwrap();
    s.create("/secret/a", val("hunter2-first")).await.unwrap();
    s.update("/secret/a", None, set("hunter2-second"))
        .await
        .unwrap();
    s.create("/plain/b", val("visible-value")).await.unwrap();
    s.close();
    let raw = file_bytes(dir.path());
    assert!(!contains(&raw, b"hunter2"));
    assert!(contains(&raw, b"k8s:enc:xor:v1:k1:"));
    assert!(contains(&raw, b"visible-value"));

    let s = open_with(dir.path(), vec![("k1", 0x5a)]).unwrap();
    assert_eq!(&*s.get("/secret/a").unwrap().value, b"hunter2-second");
    // An older revision comes from the file; so does a watch from the start.
    let old = s.list("/secret/", None, 0, Some(1)).unwrap();
    assert_eq!(pairs(&old.items)[0].1, "hunter2-first");
    let mut w = s.watch("/secret/", 0).unwrap();
    let first = w.next().await.unwrap().unwrap();
    assert_eq!(&*first.kv.value, b"hunter2-first");
    s.close();

    let err = Store::open(opts(dir.path())).unwrap_err().to_string();
    assert!(
        err.contains("encrypted") && err.contains("key \"k1\""),
        "{err}"
    );
    assert!(!err.contains("hunter2"));
}

#[tokio::test]
async fn rotation_rewrites_every_stale_row_in_place() {
    let dir = tempfile::tempdir().unwrap();
    {
        // Written before encryption was configured.
        let s = Store::open(opts(dir.path())).unwrap();
        s.create("/secret/a", val("old-plaintext")).await.unwrap();
        s.close();
    }
    {
        let s = open_with(dir.path(), vec![("k1", 0x11)]).unwrap();
        s.create("/secret/b", val("under-k1")).await.unwrap();
        assert_eq!(s.rewrite_stale_values(|_, _| {}).unwrap(), 1);
        s.close();
    }
    assert!(!contains(&file_bytes(dir.path()), b"old-plaintext"));
    {
        // A new first key; the old one still decrypts until the rewrite is done.
        let s = open_with(dir.path(), vec![("k2", 0x22), ("k1", 0x11)]).unwrap();
        let revision = s.revision();
        let mut seen = Vec::new();
        assert_eq!(s.rewrite_stale_values(|at, _| seen.push(at)).unwrap(), 2);
        assert!(!seen.is_empty());
        assert_eq!(s.revision(), revision, "a rewrite takes no revision");
        assert_eq!(s.rewrite_stale_values(|_, _| {}).unwrap(), 0);
        s.close();
    }
    let raw = file_bytes(dir.path());
    assert!(!contains(&raw, b":k1:"));
    let s = open_with(dir.path(), vec![("k2", 0x22)]).unwrap();
    assert_eq!(
        pairs(&s.list("/secret/", None, 0, None).unwrap().items),
        vec![
            ("/secret/a".to_string(), "old-plaintext".to_string()),
            ("/secret/b".to_string(), "under-k1".to_string())
        ]
    );
}
