//! [`OpenApi`]: the cached built-in documents, and the assembly of documents with CRDs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha512};

use crate::crd::CrdSchema;
use crate::custom::CrdOutput;
use crate::paths::{self, Body, PathItem, ResourcePaths, Response};
use crate::registry::{self, DOCUMENT_META, Registry, ServedGroupVersion, v3_path};
use crate::schema_walk::collect_refs;
use crate::{v2, v3};

/// One `/openapi/v3/<path>` document and its hash (kube's ETag: upper-case hex SHA-512).
#[derive(Clone, Debug)]
pub(crate) struct GvDoc {
    pub(crate) bytes: Bytes,
    pub(crate) hash: String,
}

impl GvDoc {
    pub(crate) fn new(document: &Value) -> GvDoc {
        let bytes = Bytes::from(serde_json::to_vec(document).unwrap_or_default());
        let digest = Sha512::digest(&bytes);
        let hash = digest.iter().map(|b| format!("{b:02X}")).collect();
        GvDoc { bytes, hash }
    }
}

/// The built-in OpenAPI documents, built once, plus a memo of the last CRD set's documents.
pub struct OpenApi {
    pub(crate) registry: Registry,
    v3_definitions: Map<String, Value>,
    v2_paths: String,
    v2_definitions: String,
    v2_builtin: Bytes,
    pub(crate) builtin_docs: BTreeMap<String, GvDoc>,
    builtin_index: Bytes,
    /// Definition names by the GVKs they carry, for strict field checks.
    by_gvk: HashMap<(String, String, String), String>,
    pub(crate) memo: Mutex<Option<Arc<CrdOutput>>>,
}

/// Indexes definitions by their `x-kubernetes-group-version-kind` entries.
fn index_by_gvk(definitions: &Map<String, Value>) -> HashMap<(String, String, String), String> {
    let mut out = HashMap::new();
    for (name, schema) in definitions {
        let Some(gvks) = schema
            .get("x-kubernetes-group-version-kind")
            .and_then(Value::as_array)
        else {
            continue;
        };
        for gvk in gvks {
            let field = |key: &str| {
                gvk.get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            out.insert(
                (field("group"), field("version"), field("kind")),
                name.clone(),
            );
        }
    }
    out
}

/// The path items of a group-version: its discovery path and each resource's paths.
fn gv_paths(gv: &ServedGroupVersion, builtin: bool) -> Vec<PathItem> {
    let prefix = paths::prefix(&gv.group, &gv.version);
    let infix = paths::id_infix(&gv.group, &gv.version);
    let mut items = vec![paths::discovery_path(&prefix, &infix)];
    for kind in &gv.kinds {
        let Some(plural) = &kind.plural else { continue };
        items.extend(
            ResourcePaths {
                prefix: &prefix,
                id_infix: &infix,
                gvk: paths::gvk(&gv.group, &gv.version, &kind.kind),
                definition: &kind.definition,
                plural,
                namespaced: kind.namespaced,
                verbs: kind.verbs,
                subresources: kind.subresources,
                builtin,
                delete_returns_object: crate::catalog::DELETE_RETURNS_OBJECT
                    .contains(&kind.definition.as_str()),
            }
            .build(),
        );
    }
    items
}

/// The definitions a document must carry: the kinds, what the paths use, and the meta types.
fn roots(gv: &ServedGroupVersion, items: &[PathItem]) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = DOCUMENT_META.iter().map(|s| (*s).to_owned()).collect();
    for kind in &gv.kinds {
        out.insert(kind.definition.clone());
    }
    for op in items.iter().flat_map(|item| &item.operations) {
        if let Some(Body::Object(definition)) = &op.body {
            out.insert(definition.clone());
        }
        if let Response::Object(definition) = &op.response {
            out.insert(definition.clone());
        }
    }
    out
}

/// Every definition reachable from `roots`, looking names up with `lookup`.
fn closure<'a>(
    roots: BTreeSet<String>,
    lookup: &dyn Fn(&str) -> Option<&'a Value>,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<String> = roots.into_iter().collect();
    while let Some(name) = stack.pop() {
        if seen.contains(&name) {
            continue;
        }
        if let Some(schema) = lookup(&name) {
            let mut refs = Vec::new();
            collect_refs(schema, &mut refs);
            stack.extend(refs.into_iter().filter(|r| !seen.contains(r)));
        }
        seen.insert(name);
    }
    seen
}

pub(crate) fn inner_of_object(value: &Map<String, Value>) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    text.get(1..text.len().saturating_sub(1))
        .unwrap_or_default()
        .to_owned()
}

fn join_members(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn v2_paths_of(gv: &ServedGroupVersion, builtin: bool, out: &mut Map<String, Value>) {
    let tag = v2::tag(&gv.group, &gv.version);
    for item in gv_paths(gv, builtin) {
        out.insert(item.path.clone(), v2::path_item(&item, &tag));
    }
}

impl OpenApi {
    /// Builds the built-in documents (called once at start; everything that can be is cached).
    pub fn builtin() -> OpenApi {
        let registry = registry::build();
        let by_gvk = index_by_gvk(&registry.definitions);
        let v3_definitions = v3::convert_definitions(&registry.definitions);

        let mut v2_path_map = Map::new();
        for gv in &registry.group_versions {
            v2_paths_of(gv, true, &mut v2_path_map);
        }
        let v2_paths = inner_of_object(&v2_path_map);
        let v2_definitions = inner_of_object(&registry.definitions);

        let mut openapi = OpenApi {
            registry,
            v3_definitions,
            v2_paths,
            v2_definitions,
            v2_builtin: Bytes::new(),
            builtin_docs: BTreeMap::new(),
            builtin_index: Bytes::new(),
            by_gvk: HashMap::new(),
            memo: Mutex::new(None),
        };
        openapi.v2_builtin = openapi.assemble_v2("", "");
        let docs: BTreeMap<String, GvDoc> = openapi
            .registry
            .group_versions
            .iter()
            .map(|gv| (gv.v3_path(), openapi.v3_document(&[(gv, true)], None)))
            .collect();
        openapi.builtin_index = index_bytes(docs.iter());
        openapi.builtin_docs = docs;
        openapi.by_gvk = by_gvk;
        openapi
    }

    pub(crate) fn assemble_v2(&self, crd_paths: &str, crd_definitions: &str) -> Bytes {
        let (security_definitions, security) = v2::security();
        let text = format!(
            "{{\"swagger\":\"2.0\",\"info\":{},\"paths\":{{{}}},\"definitions\":{{{}}},\"securityDefinitions\":{},\"security\":{}}}",
            v2::info(),
            join_members(&[&self.v2_paths, crd_paths]),
            join_members(&[&self.v2_definitions, crd_definitions]),
            security_definitions,
            security,
        );
        Bytes::from(text)
    }

    /// Builds one v3 document from built-in and/or custom group-versions sharing a path.
    pub(crate) fn v3_document(
        &self,
        parts: &[(&ServedGroupVersion, bool)],
        crds: Option<&Map<String, Value>>,
    ) -> GvDoc {
        let mut path_map = Map::new();
        let mut wanted = BTreeSet::new();
        for (gv, builtin) in parts {
            let tag = v2::tag(&gv.group, &gv.version);
            let items = gv_paths(gv, *builtin);
            wanted.extend(roots(gv, &items));
            for item in &items {
                path_map.insert(item.path.clone(), v3::path_item(item, &tag));
            }
        }
        let lookup = |name: &str| -> Option<&Value> {
            crds.and_then(|c| c.get(name))
                .or_else(|| self.registry.definitions.get(name))
        };
        let mut schemas = Map::new();
        for name in closure(wanted, &lookup) {
            let schema = match crds.and_then(|c| c.get(&name)) {
                Some(custom) => v3::convert_schema(custom),
                None => match self.v3_definitions.get(&name) {
                    Some(builtin) => builtin.clone(),
                    None => continue,
                },
            };
            schemas.insert(name, schema);
        }
        GvDoc::new(&v3::document(path_map, schemas))
    }

    /// `/openapi/v2` as JSON bytes (swagger 2.0), including CRD schemas.
    pub fn v2(&self, crds: &[CrdSchema]) -> Bytes {
        if crds.is_empty() {
            return self.v2_builtin.clone();
        }
        self.crd_output(crds).v2(self)
    }

    /// `/openapi/v3` discovery document, with a content hash per group-version document.
    pub fn v3_index(&self, crds: &[CrdSchema]) -> Bytes {
        if crds.is_empty() {
            return self.builtin_index.clone();
        }
        self.crd_output(crds).index.clone()
    }

    /// `/openapi/v3/{path}` (`api/v1`, `apis/apps/v1`): the group-version's document, or
    /// `None` if no built-in kind or CRD serves that group-version.
    pub fn v3_group_version(&self, path: &str, crds: &[CrdSchema]) -> Option<Bytes> {
        let path = path.trim_matches('/');
        if let Some(entry) = self.crd_entry(path, crds) {
            return Some(entry.doc.bytes.clone());
        }
        self.builtin_docs.get(path).map(|doc| doc.bytes.clone())
    }

    /// Runs `f` on the schema of `group`/`version`/`kind` (built-in or custom), with a lookup
    /// of the definitions it refers to; `None` when no schema is published for that kind.
    fn with_schema<T>(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        crds: &[CrdSchema],
        f: impl for<'a> FnOnce(&'a Value, &str, crate::strict::Lookup<'a>) -> T,
    ) -> Option<T> {
        let key = (group.to_owned(), version.to_owned(), kind.to_owned());
        let entry = self.crd_entry(&v3_path(group, version), crds);
        let custom_definitions = entry.as_ref().map(|e| &e.group.definitions);
        let custom_name = custom_definitions.and_then(|defs| index_by_gvk(defs).remove(&key));
        let lookup = |name: &str| -> Option<&Value> {
            custom_definitions
                .and_then(|c| c.get(name))
                .or_else(|| self.registry.definitions.get(name))
        };
        let name = custom_name.or_else(|| self.by_gvk.get(&key).cloned())?;
        let schema = lookup(&name)?;
        Some(f(schema, &name, &lookup))
    }

    /// For `fieldValidation=Strict`: the paths of fields in `object` that the schema of
    /// `group`/`version`/`kind` does not declare (`spec.template.spec.containers[0].foo`),
    /// or `None` when no schema is published for that kind. kube's message for them is
    /// `strict decoding error: unknown field "<path>"`.
    pub fn unknown_fields(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        object: &Value,
        crds: &[CrdSchema],
    ) -> Option<Vec<String>> {
        self.with_schema(group, version, kind, crds, |schema, _, lookup| {
            let mut out = Vec::new();
            crate::strict::unknown_fields(schema, object, lookup, &mut out);
            out
        })
    }

    /// The fields of `object` whose JSON type the schema of `group`/`version`/`kind` does not
    /// accept (`"spec": "x"` on a Job), outermost first; empty when every field decodes, and
    /// when no schema is published for that kind.
    pub fn type_mismatches(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        object: &Value,
        crds: &[CrdSchema],
    ) -> Vec<crate::TypeMismatch> {
        self.with_schema(group, version, kind, crds, |schema, name, lookup| {
            let mut out = Vec::new();
            crate::types::type_mismatches(schema, Some(name), object, lookup, &mut out);
            out
        })
        .unwrap_or_default()
    }

    /// The hash the index publishes for `path` (clients send it back as `?hash=`), if served.
    pub fn v3_hash(&self, path: &str, crds: &[CrdSchema]) -> Option<String> {
        let path = path.trim_matches('/');
        if let Some(entry) = self.crd_entry(path, crds) {
            return Some(entry.doc.hash.clone());
        }
        self.builtin_docs.get(path).map(|doc| doc.hash.clone())
    }
}

pub(crate) fn index_bytes<'a>(docs: impl Iterator<Item = (&'a String, &'a GvDoc)>) -> Bytes {
    let mut sorted: Vec<(&String, &GvDoc)> = docs.collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let paths: Map<String, Value> = sorted
        .into_iter()
        .map(|(path, doc)| {
            (
                path.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={}", doc.hash)}),
            )
        })
        .collect();
    Bytes::from(serde_json::to_vec(&json!({"paths": paths})).unwrap_or_default())
}
