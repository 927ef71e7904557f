//! Builds every built-in definition once, in swagger 2.0 form, with kube's extensions.

use std::collections::{BTreeMap, BTreeSet};

use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::catalog::{self, GroupVersionDef, KindDef, Subresource, Verbs};
use crate::schema_walk::ref_target;
use crate::{list_meta, meta};

/// Where swagger 2.0 keeps its definitions; every `$ref` in the registry uses it.
pub(crate) const V2_REF_PREFIX: &str = "#/definitions/";

/// A kind served by a group-version, resolved to its definition name.
#[derive(Clone, Debug)]
pub(crate) struct ServedKind {
    pub(crate) kind: String,
    pub(crate) definition: String,
    pub(crate) plural: Option<String>,
    pub(crate) namespaced: bool,
    pub(crate) verbs: Verbs,
    pub(crate) subresources: &'static [Subresource],
}

/// A group-version and the kinds it serves.
#[derive(Clone, Debug)]
pub(crate) struct ServedGroupVersion {
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) kinds: Vec<ServedKind>,
}

impl ServedGroupVersion {
    /// The `/openapi/v3/<path>` name: `api/v1` or `apis/<group>/<version>`.
    pub(crate) fn v3_path(&self) -> String {
        v3_path(&self.group, &self.version)
    }
}

/// The `/openapi/v3/<path>` name of a group-version.
pub(crate) fn v3_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// All built-in definitions and what serves them.
pub(crate) struct Registry {
    pub(crate) definitions: Map<String, Value>,
    pub(crate) group_versions: Vec<ServedGroupVersion>,
}

fn metrics_group_version() -> GroupVersionDef {
    fn node(generator: &mut SchemaGenerator) -> schemars::Schema {
        generator.subschema_for::<meta::NodeMetrics>()
    }
    fn pod(generator: &mut SchemaGenerator) -> schemars::Schema {
        generator.subschema_for::<meta::PodMetrics>()
    }
    GroupVersionDef {
        group: "metrics.k8s.io",
        version: "v1beta1",
        kinds: vec![
            KindDef {
                schema: node,
                plural: Some("nodes"),
                namespaced: false,
                verbs: Verbs::READ,
                subresources: &[],
            },
            KindDef {
                schema: pod,
                plural: Some("pods"),
                namespaced: true,
                verbs: Verbs::READ,
                subresources: &[],
            },
        ],
    }
}

/// The GVK extension value for one kind.
pub(crate) fn gvk_value(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

fn push_gvk(definitions: &mut Map<String, Value>, definition: &str, gvk: Value) {
    if let Some(Value::Object(schema)) = definitions.get_mut(definition) {
        let entry = schema
            .entry("x-kubernetes-group-version-kind")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry
            && !list.contains(&gvk)
        {
            list.push(gvk);
        }
    }
}

/// The `<Kind>List` definition kube publishes next to every listable kind.
pub(crate) fn list_definition(item_definition: &str, kind: &str, ref_prefix: &str) -> Value {
    json!({
        "description": format!("{kind}List is a list of {kind} objects."),
        "type": "object",
        "properties": {
            "apiVersion": {"description": meta::api_version_description(), "type": "string"},
            "items": {
                "description": format!("List of {kind} objects."),
                "type": "array",
                "items": {"$ref": format!("{ref_prefix}{item_definition}")},
            },
            "kind": {"description": meta::kind_description(), "type": "string"},
            "metadata": {
                "$ref": format!("{ref_prefix}{}", meta::LIST_META),
                "description": "Standard list metadata.",
            },
        },
        "required": ["items"],
    })
}

/// kube publishes Quantity and IntOrString as strings in swagger 2.0, and JSON untyped.
fn fix_scalars(definitions: &mut Map<String, Value>) {
    let describe = |definitions: &Map<String, Value>, name: &str| {
        definitions
            .get(name)
            .and_then(|d| d.get("description"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let quantity = describe(definitions, meta::QUANTITY);
    definitions.insert(
        meta::QUANTITY.to_owned(),
        json!({"description": quantity, "type": "string"}),
    );
    // Any JSON value (CRD defaults, examples, enums): k8s-openapi says object, kube says nothing.
    if let Some(Value::Object(json_value)) = definitions.get_mut(meta::APIEXTENSIONS_JSON) {
        json_value.remove("type");
    }
    let int_or_string = describe(definitions, meta::INT_OR_STRING);
    definitions.insert(
        meta::INT_OR_STRING.to_owned(),
        json!({"description": int_or_string, "type": "string", "format": "int-or-string"}),
    );
}

/// Builds the registry. Pure and deterministic: the same build yields the same bytes (and hashes).
pub(crate) fn build() -> Registry {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/definitions".into();
        s.meta_schema = None;
        s.transforms = Vec::new();
    });
    let mut generator = settings.into_generator();
    meta::register_meta(&mut generator);

    let mut catalog = catalog::builtin_group_versions();
    catalog.push(metrics_group_version());

    let mut group_versions = Vec::new();
    for gv in &catalog {
        let mut kinds = Vec::new();
        for kind in &gv.kinds {
            let reference = (kind.schema)(&mut generator);
            let Some(definition) = reference
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(ref_target)
            else {
                continue;
            };
            let name = definition
                .rsplit('.')
                .next()
                .unwrap_or(definition)
                .to_owned();
            kinds.push(ServedKind {
                kind: name,
                definition: definition.to_owned(),
                plural: kind.plural.map(str::to_owned),
                namespaced: kind.namespaced,
                verbs: kind.verbs,
                subresources: kind.subresources,
            });
        }
        group_versions.push(ServedGroupVersion {
            group: gv.group.to_owned(),
            version: gv.version.to_owned(),
            kinds,
        });
    }

    let mut definitions = generator.take_definitions(false);
    fix_scalars(&mut definitions);
    list_meta::apply(&mut definitions);

    for gv in &group_versions {
        for kind in &gv.kinds {
            push_gvk(
                &mut definitions,
                &kind.definition,
                gvk_value(&gv.group, &gv.version, &kind.kind),
            );
            if kind.verbs.has(Verbs::LIST) {
                let list_name = format!("{}List", kind.definition);
                let mut list = list_definition(&kind.definition, &kind.kind, V2_REF_PREFIX);
                if let Value::Object(object) = &mut list {
                    object.insert(
                        "x-kubernetes-group-version-kind".to_owned(),
                        json!([gvk_value(
                            &gv.group,
                            &gv.version,
                            &format!("{}List", kind.kind)
                        )]),
                    );
                }
                definitions.insert(list_name, list);
            }
        }
    }
    for (definition, kind) in meta::CORE_META_KINDS {
        push_gvk(&mut definitions, definition, gvk_value("", "v1", kind));
    }
    let served: BTreeSet<(String, String)> = group_versions
        .iter()
        .map(|gv| (gv.group.clone(), gv.version.clone()))
        .collect();
    for (group, version) in &served {
        push_gvk(
            &mut definitions,
            meta::DELETE_OPTIONS,
            gvk_value(group, version, "DeleteOptions"),
        );
        push_gvk(
            &mut definitions,
            meta::WATCH_EVENT,
            gvk_value(group, version, "WatchEvent"),
        );
    }
    definitions.sort_keys();
    Registry {
        definitions,
        group_versions,
    }
}

impl Registry {
    /// Group-versions by their v3 path.
    pub(crate) fn by_path(&self) -> BTreeMap<String, &ServedGroupVersion> {
        self.group_versions
            .iter()
            .map(|gv| (gv.v3_path(), gv))
            .collect()
    }
}

/// The meta definitions every group-version document carries.
pub(crate) const DOCUMENT_META: [&str; 5] = [
    meta::STATUS,
    meta::DELETE_OPTIONS,
    meta::WATCH_EVENT,
    meta::PATCH,
    meta::API_RESOURCE_LIST,
];
