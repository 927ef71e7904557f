//! Writes the built-in OpenAPI documents to a directory for inspection.
//!
//! `cargo run -p openapi --example dump -- <dir> [--sample-crd]` writes `<dir>/v2.json`,
//! `<dir>/v3/index.json` and `<dir>/v3/<path with / as __>.json` per group-version
//! (the naming of kubernetes' `api/openapi-spec/v3`). `--sample-crd` adds an
//! `example.com/v1` Widget custom resource.

use std::path::PathBuf;
use std::time::Instant;

use openapi::{CrdSchema, OpenApi};

fn sample_crd() -> CrdSchema {
    CrdSchema {
        group: "example.com".into(),
        version: "v1".into(),
        kind: "Widget".into(),
        list_kind: "WidgetList".into(),
        plural: "widgets".into(),
        namespaced: true,
        schema: serde_json::json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "size": {"type": "integer"},
                        "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    },
                },
            },
        }),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: dump <dir> [--sample-crd]")?);
    let crds = if args.next().as_deref() == Some("--sample-crd") {
        vec![sample_crd()]
    } else {
        Vec::new()
    };

    let start = Instant::now();
    let openapi = OpenApi::builtin();
    eprintln!("built in {:?}", start.elapsed());

    std::fs::create_dir_all(dir.join("v3"))?;
    std::fs::write(dir.join("v2.json"), openapi.v2(&crds))?;
    let index = openapi.v3_index(&crds);
    std::fs::write(dir.join("v3").join("index.json"), &index)?;
    let index: serde_json::Value = serde_json::from_slice(&index)?;
    let paths = index["paths"].as_object().ok_or("index has no paths")?;
    for path in paths.keys() {
        let doc = openapi
            .v3_group_version(path, &crds)
            .ok_or("indexed path has no document")?;
        std::fs::write(
            dir.join("v3")
                .join(format!("{}.json", path.replace('/', "__"))),
            doc,
        )?;
    }
    eprintln!("wrote {} v3 documents to {}", paths.len(), dir.display());
    Ok(())
}
