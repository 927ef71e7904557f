//! The documents that depend on the CRD set, memoised per group-version.
//!
//! Real CRD sets are large (the chart corpus holds ~9 MB of them), so a change to one CRD
//! rebuilds only its group-version's document; the v2 document, which kubectl no longer
//! fetches, is built on first request.

use std::collections::BTreeMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::crd::{self, CrdGroupVersion, CrdSchema};
use crate::document::{GvDoc, OpenApi, index_bytes, inner_of_object, v2_paths_of};
use crate::registry::v3_path;

/// One custom group-version: its definitions and document, and the key of the CRDs behind them.
pub(crate) struct GvEntry {
    key: u64,
    pub(crate) group: CrdGroupVersion,
    pub(crate) doc: GvDoc,
}

/// Everything that depends on one CRD set.
pub(crate) struct CrdOutput {
    key: u64,
    entries: BTreeMap<String, Arc<GvEntry>>,
    pub(crate) index: Bytes,
    v2: OnceLock<Bytes>,
}

impl CrdOutput {
    /// The v2 document with these CRDs, built on first use.
    pub(crate) fn v2(&self, openapi: &OpenApi) -> Bytes {
        self.v2
            .get_or_init(|| {
                let mut path_map = Map::new();
                let mut definitions = Map::new();
                for entry in self.entries.values() {
                    v2_paths_of(&entry.group.served, false, &mut path_map);
                    for (name, schema) in &entry.group.definitions {
                        definitions.insert(name.clone(), crd::to_v2(schema));
                    }
                }
                openapi.assemble_v2(&inner_of_object(&path_map), &inner_of_object(&definitions))
            })
            .clone()
    }
}

/// Hashes a JSON value without serializing it (this runs on every CRD-dependent request).
fn hash_value(value: &Value, hasher: &mut DefaultHasher) {
    match value {
        Value::Null => 0u8.hash(hasher),
        Value::Bool(b) => (1u8, b).hash(hasher),
        Value::Number(n) => (2u8, n.to_string()).hash(hasher),
        Value::String(s) => (3u8, s).hash(hasher),
        Value::Array(items) => {
            (4u8, items.len()).hash(hasher);
            items.iter().for_each(|item| hash_value(item, hasher));
        }
        Value::Object(map) => {
            (5u8, map.len()).hash(hasher);
            for (key, item) in map {
                key.hash(hasher);
                hash_value(item, hasher);
            }
        }
    }
}

fn crd_hash(crd: &CrdSchema, hasher: &mut DefaultHasher) {
    (
        &crd.group,
        &crd.version,
        &crd.kind,
        &crd.list_kind,
        &crd.plural,
        crd.namespaced,
    )
        .hash(hasher);
    hash_value(&crd.schema, hasher);
}

fn gv_key<'a>(members: impl Iterator<Item = &'a CrdSchema>) -> u64 {
    let mut hasher = DefaultHasher::new();
    members.for_each(|crd| crd_hash(crd, &mut hasher));
    hasher.finish()
}

impl OpenApi {
    /// The custom group-version at `path`, hashing only its own CRDs when the memo is current
    /// for them (the common case for per-group-version requests).
    pub(crate) fn crd_entry(&self, path: &str, crds: &[CrdSchema]) -> Option<Arc<GvEntry>> {
        let members = || {
            crds.iter()
                .filter(|crd| v3_path(&crd.group, &crd.version) == path)
        };
        members().next()?;
        let key = gv_key(members());
        let cached = self
            .memo
            .lock()
            .ok()
            .and_then(|memo| memo.as_ref().and_then(|o| o.entries.get(path).cloned()));
        if let Some(entry) = cached.filter(|entry| entry.key == key) {
            return Some(entry);
        }
        self.crd_output(crds).entries.get(path).cloned()
    }

    /// The memoised output for `crds`, rebuilding only the group-versions that changed.
    pub(crate) fn crd_output(&self, crds: &[CrdSchema]) -> Arc<CrdOutput> {
        let mut by_path: BTreeMap<String, Vec<&CrdSchema>> = BTreeMap::new();
        for crd in crds {
            by_path
                .entry(v3_path(&crd.group, &crd.version))
                .or_default()
                .push(crd);
        }
        let keys: BTreeMap<&String, u64> = by_path
            .iter()
            .map(|(path, members)| (path, gv_key(members.iter().copied())))
            .collect();
        let mut hasher = DefaultHasher::new();
        keys.hash(&mut hasher);
        let key = hasher.finish();

        let previous = self.memo.lock().ok().and_then(|memo| memo.clone());
        if let Some(previous) = &previous
            && previous.key == key
        {
            return Arc::clone(previous);
        }
        let builtin = self.registry.by_path();
        let mut entries = BTreeMap::new();
        for (path, members) in &by_path {
            let gv_key = keys.get(path).copied().unwrap_or_default();
            if let Some(reused) = previous
                .as_ref()
                .and_then(|p| p.entries.get(path))
                .filter(|e| e.key == gv_key)
            {
                entries.insert(path.clone(), Arc::clone(reused));
                continue;
            }
            let owned: Vec<CrdSchema> = members.iter().map(|crd| (*crd).clone()).collect();
            for group in crd::group_versions(&owned).into_values() {
                let mut parts = vec![(&group.served, false)];
                if let Some(gv) = builtin.get(path) {
                    parts.insert(0, (*gv, true));
                }
                let doc = self.v3_document(&parts, Some(&group.definitions));
                entries.insert(
                    path.clone(),
                    Arc::new(GvEntry {
                        key: gv_key,
                        group,
                        doc,
                    }),
                );
            }
        }
        let merged = self
            .builtin_docs
            .iter()
            .filter(|(path, _)| !entries.contains_key(*path))
            .chain(entries.iter().map(|(path, entry)| (path, &entry.doc)));
        let index = index_bytes(merged);
        let output = Arc::new(CrdOutput {
            key,
            entries,
            index,
            v2: OnceLock::new(),
        });
        if let Ok(mut memo) = self.memo.lock() {
            *memo = Some(Arc::clone(&output));
        }
        output
    }
}
