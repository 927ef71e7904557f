//! Every CRD in the chart corpus (`testdata::helm_charts()`, `*/crds`) is structural as kube
//! judges it, so it must compile; and the pipeline is idempotent on them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crdschema::Schema;
use serde_json::{Value, json};

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

/// `(file, version, openAPIV3Schema)` for every served version of every corpus CRD.
fn corpus_schemas() -> Vec<(String, String, Value)> {
    let mut files = Vec::new();
    yaml_files(&charts_dir(), &mut files);
    files.sort();
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
            for v in doc["spec"]["versions"].as_array().into_iter().flatten() {
                let schema = &v["schema"]["openAPIV3Schema"];
                if schema.is_object() {
                    out.push((
                        file.display().to_string(),
                        v["name"].as_str().unwrap_or_default().to_string(),
                        schema.clone(),
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn corpus_crds_compile() {
    let schemas = corpus_schemas();
    assert!(schemas.len() >= 40, "found only {} schemas", schemas.len());
    let start = Instant::now();
    let mut failures = Vec::new();
    for (file, version, schema) in &schemas {
        if let Err(e) = Schema::compile(schema) {
            failures.push(format!("{file} {version}: {e}"));
        }
    }
    eprintln!(
        "compiled {} schemas in {:?}",
        schemas.len(),
        start.elapsed()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Pruning and defaulting the largest corpus schema's objects are idempotent, and
/// validation is stable. (How fast: a benchmark's question, not a test's.)
#[test]
fn pipeline_is_idempotent_on_the_largest_schema() {
    let schemas = corpus_schemas();
    let Some((_, _, biggest)) = schemas.iter().max_by_key(|(_, _, s)| s.to_string().len()) else {
        panic!("no corpus schemas found under {}", charts_dir().display());
    };
    let Ok(schema) = Schema::compile(biggest) else {
        panic!("largest corpus schema did not compile");
    };
    let obj = json!({
        "apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"},
        "spec": {"unknownField": 1, "selector": {"namespaces": ["a"]}, "mode": "one"}
    });
    let mut once = obj.clone();
    schema.prune(&mut once);
    schema.default(&mut once);
    let mut twice = once.clone();
    schema.prune(&mut twice);
    schema.default(&mut twice);
    assert_eq!(once, twice, "prune + default is not idempotent");
    assert_eq!(
        schema.validate(&once, Some(&obj)),
        schema.validate(&twice, Some(&obj))
    );
}
