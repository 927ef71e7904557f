//! Custom resource schemas, published the way kube-apiserver's CRD OpenAPI builder does.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::catalog::Verbs;
use crate::meta;
use crate::registry::{ServedGroupVersion, ServedKind, V2_REF_PREFIX, gvk_value, list_definition};
use crate::schema_walk::walk_mut;

/// A CRD version's schema to merge into the documents (from apiextensions.k8s.io/v1 CRDs).
#[derive(Clone, Debug, PartialEq)]
pub struct CrdSchema {
    /// The API group (`example.com`).
    pub group: String,
    /// The served version (`v1`).
    pub version: String,
    /// The kind (`Widget`).
    pub kind: String,
    /// The list kind (`WidgetList`).
    pub list_kind: String,
    /// The plural resource name (`widgets`).
    pub plural: String,
    /// Whether the resource lives in a namespace.
    pub namespaced: bool,
    /// The version's `openAPIV3Schema` (`Value::Null` when the CRD has none).
    pub schema: Value,
}

/// Why a CustomResourceDefinition object could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CrdError {
    /// A field the schema builder needs is missing or not a string.
    #[error("CustomResourceDefinition has no string field {0}")]
    MissingField(&'static str),
}

impl CrdSchema {
    /// Reads the served versions of an `apiextensions.k8s.io/v1` CustomResourceDefinition
    /// object (as stored JSON), one [`CrdSchema`] per served version.
    pub fn from_crd(crd: &Value) -> Result<Vec<CrdSchema>, CrdError> {
        let spec = &crd["spec"];
        let text = |value: &Value, field: &'static str| {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or(CrdError::MissingField(field))
        };
        let group = text(&spec["group"], "spec.group")?;
        let kind = text(&spec["names"]["kind"], "spec.names.kind")?;
        let plural = text(&spec["names"]["plural"], "spec.names.plural")?;
        let list_kind = spec["names"]["listKind"]
            .as_str()
            .map_or_else(|| format!("{kind}List"), str::to_owned);
        let namespaced = spec["scope"].as_str() != Some("Cluster");
        let versions = spec["versions"]
            .as_array()
            .ok_or(CrdError::MissingField("spec.versions"))?;
        let mut out = Vec::new();
        for version in versions {
            if version["served"] == Value::Bool(false) {
                continue;
            }
            out.push(CrdSchema {
                group: group.clone(),
                version: text(&version["name"], "spec.versions[].name")?,
                kind: kind.clone(),
                list_kind: list_kind.clone(),
                plural: plural.clone(),
                namespaced,
                schema: version["schema"]["openAPIV3Schema"].clone(),
            });
        }
        Ok(out)
    }
}

/// kube's REST-friendly definition name: the group's domain reversed, then version and kind
/// (`example.com`, `v1`, `Widget` → `com.example.v1.Widget`).
pub fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let mut parts: Vec<&str> = group.split('.').filter(|p| !p.is_empty()).collect();
    parts.reverse();
    parts.push(version);
    parts.push(kind);
    parts.join(".")
}

/// The custom resources of one group-version, with definitions in the internal (v2-ref) form.
pub(crate) struct CrdGroupVersion {
    pub(crate) served: ServedGroupVersion,
    pub(crate) definitions: Map<String, Value>,
}

/// The custom resource's own schema plus `apiVersion`, `kind`, `metadata` and its GVK.
fn kind_definition(crd: &CrdSchema) -> Value {
    let schema = match &crd.schema {
        Value::Object(object) if !object.is_empty() => object.clone(),
        _ => {
            let mut open = Map::new();
            open.insert(
                "x-kubernetes-preserve-unknown-fields".to_owned(),
                Value::Bool(true),
            );
            open
        }
    };
    // CRD validation forbids `$ref`; drop any that slipped through so no reference dangles.
    let mut user = Value::Object(schema);
    walk_mut(&mut user, &mut |object| {
        object.remove("$ref");
    });
    let Value::Object(mut schema) = user else {
        return Value::Null;
    };
    schema
        .entry("type")
        .or_insert_with(|| Value::String("object".to_owned()));
    let properties = schema
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(properties) = properties {
        properties.insert(
            "apiVersion".to_owned(),
            json!({"description": meta::api_version_description(), "type": "string"}),
        );
        properties.insert(
            "kind".to_owned(),
            json!({"description": meta::kind_description(), "type": "string"}),
        );
        // kube publishes ObjectMeta whatever the CRD says about metadata (only name/generateName
        // may be constrained, and those constraints are enforced server-side).
        properties.insert(
            "metadata".to_owned(),
            json!({"$ref": format!("{V2_REF_PREFIX}{}", meta::OBJECT_META), "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}),
        );
    }
    schema.insert(
        "x-kubernetes-group-version-kind".to_owned(),
        json!([gvk_value(&crd.group, &crd.version, &crd.kind)]),
    );
    Value::Object(schema)
}

/// Groups the CRDs by group-version (sorted, deterministic) and builds their definitions.
pub(crate) fn group_versions(crds: &[CrdSchema]) -> BTreeMap<(String, String), CrdGroupVersion> {
    let mut out: BTreeMap<(String, String), CrdGroupVersion> = BTreeMap::new();
    for crd in crds {
        let entry = out
            .entry((crd.group.clone(), crd.version.clone()))
            .or_insert_with(|| CrdGroupVersion {
                served: ServedGroupVersion {
                    group: crd.group.clone(),
                    version: crd.version.clone(),
                    kinds: Vec::new(),
                },
                definitions: Map::new(),
            });
        let name = definition_name(&crd.group, &crd.version, &crd.kind);
        let list_kind = if crd.list_kind.is_empty() {
            format!("{}List", crd.kind)
        } else {
            crd.list_kind.clone()
        };
        let list_name = definition_name(&crd.group, &crd.version, &list_kind);
        entry.definitions.insert(name.clone(), kind_definition(crd));
        let mut list = list_definition(&name, &crd.kind, V2_REF_PREFIX);
        if let Value::Object(object) = &mut list {
            object.insert(
                "x-kubernetes-group-version-kind".to_owned(),
                json!([gvk_value(&crd.group, &crd.version, &list_kind)]),
            );
        }
        entry.definitions.insert(list_name, list);
        entry.served.kinds.push(ServedKind {
            kind: crd.kind.clone(),
            definition: name,
            plural: Some(crd.plural.clone()),
            namespaced: crd.namespaced,
            verbs: Verbs::ALL,
            subresources: &[],
        });
    }
    out
}

/// Converts a custom resource schema to what swagger 2.0 clients can digest, as kube's
/// `ToStructuralOpenAPIV2` does: no composition keywords, and nullable or
/// unknown-field-preserving nodes become untyped so old validators accept anything there.
pub(crate) fn to_v2(schema: &Value) -> Value {
    let mut out = schema.clone();
    walk_mut(&mut out, &mut |object| {
        for key in ["allOf", "anyOf", "oneOf", "not"] {
            // Our own metadata `$ref`s are never inside composition keywords, so this is safe.
            object.remove(key);
        }
        let flag =
            |object: &Map<String, Value>, key: &str| object.get(key) == Some(&Value::Bool(true));
        if flag(object, "nullable") {
            object.remove("nullable");
            object.remove("type");
            object.remove("items");
            object.remove("properties");
        }
        if flag(object, "x-kubernetes-preserve-unknown-fields") {
            object.remove("type");
            object.remove("items");
            object.remove("properties");
            object.remove("additionalProperties");
        }
        if flag(object, "x-kubernetes-int-or-string") {
            object.remove("type");
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_reverse_the_group_like_kube() {
        assert_eq!(
            definition_name("example.com", "v1", "Widget"),
            "com.example.v1.Widget"
        );
        assert_eq!(
            definition_name("iam.kubesphere.io", "v1beta1", "User"),
            "io.kubesphere.iam.v1beta1.User"
        );
    }

    #[test]
    fn kind_definition_adds_standard_fields_and_keeps_extensions() {
        let crd = CrdSchema {
            group: "example.com".into(),
            version: "v1".into(),
            kind: "Widget".into(),
            list_kind: "WidgetList".into(),
            plural: "widgets".into(),
            namespaced: true,
            schema: json!({
                "type": "object",
                "properties": {
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true},
                },
            }),
        };
        let def = kind_definition(&crd);
        assert_eq!(
            def["properties"]["metadata"]["$ref"],
            json!("#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
        );
        assert_eq!(
            def["properties"]["spec"]["x-kubernetes-preserve-unknown-fields"],
            json!(true)
        );
        assert_eq!(
            def["properties"]["template"]["x-kubernetes-embedded-resource"],
            json!(true)
        );
        assert_eq!(
            def["x-kubernetes-group-version-kind"][0]["kind"],
            json!("Widget")
        );
    }

    #[test]
    fn from_crd_reads_served_versions() {
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "users.iam.kubesphere.io"},
            "spec": {
                "group": "iam.kubesphere.io",
                "names": {"kind": "User", "plural": "users", "listKind": "UserList"},
                "scope": "Cluster",
                "versions": [
                    {"name": "v1beta1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}},
                    {"name": "v1alpha2", "served": false, "storage": false},
                ],
            },
        });
        let Ok(schemas) = CrdSchema::from_crd(&crd) else {
            panic!("valid CRD rejected")
        };
        assert_eq!(schemas.len(), 1);
        assert_eq!(schemas[0].version, "v1beta1");
        assert!(!schemas[0].namespaced);
        assert_eq!(schemas[0].schema, json!({"type": "object"}));
        assert_eq!(
            CrdSchema::from_crd(&json!({"spec": {}})),
            Err(CrdError::MissingField("spec.group"))
        );
    }

    #[test]
    fn missing_schema_preserves_unknown_fields() {
        let crd = CrdSchema {
            group: "example.com".into(),
            version: "v1".into(),
            kind: "Blob".into(),
            list_kind: String::new(),
            plural: "blobs".into(),
            namespaced: false,
            schema: Value::Null,
        };
        let def = kind_definition(&crd);
        assert_eq!(def["x-kubernetes-preserve-unknown-fields"], json!(true));
        let gvs = group_versions(&[crd]);
        let Some(gv) = gvs.get(&("example.com".to_owned(), "v1".to_owned())) else {
            panic!("no gv")
        };
        assert!(gv.definitions.contains_key("com.example.v1.BlobList"));
    }

    #[test]
    fn v2_strips_what_swagger_cannot_say() {
        let schema = json!({
            "type": "object",
            "properties": {
                "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"a": {"type": "string"}}},
                "maybe": {"type": "string", "nullable": true},
            },
        });
        let out = to_v2(&schema);
        assert_eq!(
            out["properties"]["port"],
            json!({"x-kubernetes-int-or-string": true})
        );
        assert_eq!(
            out["properties"]["free"],
            json!({"x-kubernetes-preserve-unknown-fields": true})
        );
        assert_eq!(out["properties"]["maybe"], json!({}));
    }
}
