//! The `x-kubernetes-*` list, map and patch extensions k8s-openapi leaves out.
//!
//! kubectl's client-side apply reads `x-kubernetes-patch-strategy` and
//! `x-kubernetes-patch-merge-key` from the published schemas to build strategic merge
//! patches, so without them `kubectl apply` would replace whole lists (containers, env…).
//! The table (`list_meta.txt`) is extracted from kube-apiserver 1.33's swagger by
//! `scripts/extract_list_meta.py`. It also carries kube's `required` lists: k8s-openapi
//! derives its own from Rust optionality (`LocalObjectReference.name` is required there),
//! which would make kubectl's validation reject manifests kube accepts.

use serde_json::{Map, Value};

const TABLE: &str = include_str!("list_meta.txt");

/// One row of the table: extensions for a definition (`property == None`) or one of its properties.
pub(crate) struct Row<'a> {
    pub(crate) definition: &'a str,
    pub(crate) property: Option<&'a str>,
    pub(crate) extensions: Vec<(String, Value)>,
}

/// Parses the table; a malformed line is skipped (the table is ours and tested).
pub(crate) fn rows() -> impl Iterator<Item = Row<'static>> {
    TABLE
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(parse_line)
}

fn parse_line(line: &str) -> Option<Row<'_>> {
    let mut words = line.split_whitespace();
    let definition = words.next()?;
    let property = match words.next()? {
        "-" => None,
        name => Some(name),
    };
    let mut extensions = Vec::new();
    for word in words {
        let (key, value) = word.split_once('=')?;
        if key == "list-map-keys" || key == "required" {
            let names = value.split(',').filter(|k| !k.is_empty());
            let names = Value::Array(names.map(|k| Value::String(k.to_owned())).collect());
            let name = if key == "required" {
                key.to_owned()
            } else {
                format!("x-kubernetes-{key}")
            };
            extensions.push((name, names));
        } else {
            extensions.push((
                format!("x-kubernetes-{key}"),
                Value::String(value.to_owned()),
            ));
        }
    }
    Some(Row {
        definition,
        property,
        extensions,
    })
}

/// Adds the table's extensions to the definitions present; returns the rows that matched nothing.
pub(crate) fn apply(definitions: &mut Map<String, Value>) -> Vec<String> {
    let mut unmatched = Vec::new();
    for row in rows() {
        let Some(Value::Object(schema)) = definitions.get_mut(row.definition) else {
            continue;
        };
        let target = match row.property {
            None => Some(schema),
            Some(property) => match schema.get_mut("properties") {
                Some(Value::Object(properties)) => match properties.get_mut(property) {
                    Some(Value::Object(prop)) => Some(prop),
                    _ => None,
                },
                _ => None,
            },
        };
        match target {
            Some(target) => {
                for (key, value) in row.extensions {
                    if value == Value::Array(Vec::new()) {
                        target.remove(&key);
                    } else {
                        target.insert(key, value);
                    }
                }
            }
            None => unmatched.push(format!(
                "{} {}",
                row.definition,
                row.property.unwrap_or("-")
            )),
        }
    }
    unmatched
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_map_keys_and_strategies() {
        let row = parse_line(
            "io.k8s.api.core.v1.PodSpec volumes list-type=map list-map-keys=name patch-merge-key=name patch-strategy=merge,retainKeys",
        );
        let Some(row) = row else {
            panic!("line did not parse")
        };
        assert_eq!(row.property, Some("volumes"));
        assert!(row.extensions.contains(&(
            "x-kubernetes-list-map-keys".to_owned(),
            serde_json::json!(["name"])
        )));
        assert!(row.extensions.contains(&(
            "x-kubernetes-patch-strategy".to_owned(),
            Value::String("merge,retainKeys".to_owned())
        )));
    }

    #[test]
    fn kube_required_lists_replace_k8s_openapi_ones() {
        let mut definitions = Map::new();
        definitions.insert(
            "io.k8s.api.core.v1.LocalObjectReference".to_owned(),
            serde_json::json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}),
        );
        definitions.insert(
            "io.k8s.api.core.v1.Event".to_owned(),
            serde_json::json!({"type": "object", "properties": {"metadata": {}, "involvedObject": {}}}),
        );
        apply(&mut definitions);
        assert!(
            definitions["io.k8s.api.core.v1.LocalObjectReference"]
                .get("required")
                .is_none()
        );
        assert_eq!(
            definitions["io.k8s.api.core.v1.Event"]["required"],
            serde_json::json!(["metadata", "involvedObject"])
        );
    }

    #[test]
    fn definition_level_rows_have_no_property() {
        let row = parse_line("io.k8s.api.core.v1.LocalObjectReference - map-type=atomic");
        assert!(matches!(row, Some(Row { property: None, .. })));
    }

    #[test]
    fn table_covers_the_fields_kubectl_apply_merges() {
        let rows: Vec<Row<'_>> = rows().collect();
        for (definition, property) in [
            ("io.k8s.api.core.v1.PodSpec", "containers"),
            ("io.k8s.api.core.v1.PodSpec", "volumes"),
            ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets"),
            ("io.k8s.api.core.v1.Container", "env"),
            ("io.k8s.api.core.v1.Container", "ports"),
            ("io.k8s.api.core.v1.Container", "volumeMounts"),
            (
                "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                "ownerReferences",
            ),
            (
                "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                "finalizers",
            ),
            ("io.k8s.api.apps.v1.DeploymentStatus", "conditions"),
        ] {
            assert!(
                rows.iter()
                    .any(|r| r.definition == definition && r.property == Some(property)),
                "{definition}.{property} missing"
            );
        }
    }
}
