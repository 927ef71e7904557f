//! The CRDs shipped in the chart corpus (`*/crds` of the chart corpus the
//! `testdata` crate finds) all publish cleanly: every kind findable by GVK, every ref resolving.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::{find_by_gvk, openapi, parse, refs};
use openapi::CrdSchema;
use serde_json::Value;

fn charts_dir() -> PathBuf {
    testdata::helm_charts()
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// CRDs from every chart's `crds/` directory (templates need rendering, so they are skipped).
fn corpus_crds() -> Vec<CrdSchema> {
    let mut files = Vec::new();
    yaml_files(&charts_dir(), &mut files);
    let mut out = Vec::new();
    for file in files
        .iter()
        .filter(|f| f.components().any(|c| c.as_os_str() == "crds"))
    {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let Ok(docs) = serde_saphyr::from_multiple::<Value>(&text) else {
            continue;
        };
        for doc in docs
            .iter()
            .filter(|d| d["kind"] == "CustomResourceDefinition")
        {
            match CrdSchema::from_crd(doc) {
                Ok(schemas) => out.extend(schemas),
                Err(err) => panic!("{}: {err}", file.display()),
            }
        }
    }
    out
}

#[test]
fn corpus_crds_publish_cleanly() {
    let crds = corpus_crds();
    assert!(
        crds.len() >= 40,
        "expected the corpus' CRDs, found {}",
        crds.len()
    );

    let start = Instant::now();
    let v2 = parse(&openapi().v2(&crds));
    let index = parse(&openapi().v3_index(&crds));
    eprintln!(
        "{} CRD versions: documents in {:?}",
        crds.len(),
        start.elapsed()
    );

    let mut checked = std::collections::BTreeSet::new();
    let mut all = Vec::new();
    refs(&v2, &mut all);
    for reference in &all {
        let name = reference.trim_start_matches("#/definitions/");
        assert!(
            v2["definitions"].get(name).is_some(),
            "v2: dangling {reference}"
        );
    }
    for crd in &crds {
        let path = format!("apis/{}/{}", crd.group, crd.version);
        if !checked.insert(path.clone()) {
            // The document was checked with the group-version's first kind; check the kind only.
            assert!(find_by_gvk(&v2["definitions"], &crd.group, &crd.version, &crd.kind).is_some());
            continue;
        }
        assert!(index["paths"].get(&path).is_some(), "{path} not indexed");
        let Some(bytes) = openapi().v3_group_version(&path, &crds) else {
            panic!("no document for {path}")
        };
        let doc = parse(&bytes);
        let schemas = &doc["components"]["schemas"];
        assert!(
            find_by_gvk(schemas, &crd.group, &crd.version, &crd.kind).is_some(),
            "{path} lacks {}",
            crd.kind
        );
        assert!(find_by_gvk(&v2["definitions"], &crd.group, &crd.version, &crd.kind).is_some());
        let mut all = Vec::new();
        refs(&doc, &mut all);
        for reference in all {
            let name = reference.trim_start_matches("#/components/schemas/");
            assert!(schemas.get(name).is_some(), "{path}: dangling {reference}");
        }
    }
}
