//! The REST operations of a resource, in a neutral form both the v2 and v3 writers render.

mod params;
mod subresources;

use params::{
    DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE, GRACE_PERIOD, LIST_PARAMS, NAME, NAMESPACE,
    ORPHAN, PRETTY, PROPAGATION,
};
pub(crate) use params::{In, Param, ParamType};

use crate::catalog::{Subresource, Verbs};

/// A group, version and kind, as the `x-kubernetes-group-version-kind` extension spells it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Gvk {
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) kind: String,
}

/// The HTTP method of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Put,
    Post,
    Delete,
    Patch,
}

impl Method {
    /// The lower-case name used as the key of a path item.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Put => "put",
            Method::Post => "post",
            Method::Delete => "delete",
            Method::Patch => "patch",
        }
    }
}

/// What an operation accepts as its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// An object of the named definition.
    Object(String),
    /// A patch document (`meta.v1.Patch`).
    Patch,
    /// `meta.v1.DeleteOptions`.
    DeleteOptions,
}

/// What an operation returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Response {
    /// An object of the named definition.
    Object(String),
    /// A plain string (logs).
    Text,
}

/// One operation on one path.
#[derive(Debug)]
pub(crate) struct Operation {
    pub(crate) method: Method,
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) action: &'static str,
    pub(crate) gvk: Option<Gvk>,
    pub(crate) params: Vec<&'static Param>,
    pub(crate) body: Option<Body>,
    /// Status codes that return the response (200, 201, 202).
    pub(crate) codes: &'static [u16],
    pub(crate) response: Response,
    /// Whether strategic merge patch is accepted (built-in kinds only).
    pub(crate) strategic_merge: bool,
    /// Whether the response may be a watch stream.
    pub(crate) streams: bool,
}

/// A path and its operations.
#[derive(Debug)]
pub(crate) struct PathItem {
    pub(crate) path: String,
    pub(crate) params: Vec<&'static Param>,
    pub(crate) operations: Vec<Operation>,
}

/// Everything needed to publish one resource's paths.
pub(crate) struct ResourcePaths<'a> {
    /// `/api/v1` or `/apis/<group>/<version>`.
    pub(crate) prefix: &'a str,
    /// `CoreV1`, `AppsV1`, `RbacAuthorizationV1`… for operation ids.
    pub(crate) id_infix: &'a str,
    pub(crate) gvk: Gvk,
    /// The definition name of the kind (`io.k8s.api.core.v1.Pod`).
    pub(crate) definition: &'a str,
    pub(crate) plural: &'a str,
    pub(crate) namespaced: bool,
    pub(crate) verbs: Verbs,
    pub(crate) subresources: &'a [Subresource],
    /// Whether the kind is built in (custom resources take no strategic merge patch).
    pub(crate) builtin: bool,
    /// Whether DELETE answers with the object (else a Status).
    pub(crate) delete_returns_object: bool,
}

/// The operation-id spelling of a group-version: `CoreV1`, `RbacAuthorizationV1`.
pub(crate) fn id_infix(group: &str, version: &str) -> String {
    let group = if group.is_empty() {
        "core"
    } else {
        group.strip_suffix(".k8s.io").unwrap_or(group)
    };
    let mut out = String::new();
    for part in group.split(['.', '-']).chain(std::iter::once(version)) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// The URL prefix of a group-version.
pub(crate) fn prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// The discovery path every group-version publishes (`GET /apis/apps/v1/`).
pub(crate) fn discovery_path(prefix: &str, id_infix: &str) -> PathItem {
    PathItem {
        path: format!("{prefix}/"),
        params: Vec::new(),
        operations: vec![Operation {
            method: Method::Get,
            id: format!("get{id_infix}APIResources"),
            description: "get available resources".to_owned(),
            action: "",
            gvk: None,
            params: Vec::new(),
            body: None,
            codes: &[200],
            response: Response::Object(crate::meta::API_RESOURCE_LIST.to_owned()),
            strategic_merge: false,
            streams: false,
        }],
    }
}

struct OpSpec<'b> {
    method: Method,
    verb: &'static str,
    /// Adds `Collection` after the group-version, as kube's deletecollection ids do.
    collection: bool,
    suffix: &'b str,
    description: String,
    action: &'static str,
    gvk: Option<Gvk>,
    params: Vec<&'static Param>,
    body: Option<Body>,
    codes: &'static [u16],
    response: Response,
    streams: bool,
}

impl ResourcePaths<'_> {
    fn op(&self, scope: &str, spec: OpSpec<'_>) -> Operation {
        let kind = &self.gvk.kind;
        Operation {
            method: spec.method,
            id: format!(
                "{}{}{}{scope}{kind}{}",
                spec.verb,
                self.id_infix,
                if spec.collection { "Collection" } else { "" },
                spec.suffix
            ),
            description: spec.description,
            action: spec.action,
            gvk: spec.gvk,
            params: spec.params,
            body: spec.body,
            codes: spec.codes,
            response: spec.response,
            strategic_merge: self.builtin,
            streams: spec.streams,
        }
    }

    fn spec(
        &self,
        method: Method,
        verb: &'static str,
        action: &'static str,
        description: String,
    ) -> OpSpec<'static> {
        OpSpec {
            method,
            verb,
            collection: false,
            suffix: "",
            description,
            action,
            gvk: Some(self.gvk.clone()),
            params: Vec::new(),
            body: None,
            codes: &[200],
            response: Response::Object(self.definition.to_owned()),
            streams: false,
        }
    }

    /// All path items of the resource and its subresources.
    pub(crate) fn build(&self) -> Vec<PathItem> {
        let scope = if self.namespaced { "Namespaced" } else { "" };
        let base = if self.namespaced {
            format!("{}/namespaces/{{namespace}}/{}", self.prefix, self.plural)
        } else {
            format!("{}/{}", self.prefix, self.plural)
        };
        let scope_params: Vec<&'static Param> = if self.namespaced {
            vec![&NAMESPACE, &PRETTY]
        } else {
            vec![&PRETTY]
        };
        let item_params: Vec<&'static Param> = if self.namespaced {
            vec![&NAME, &NAMESPACE, &PRETTY]
        } else {
            vec![&NAME, &PRETTY]
        };
        let mut items = Vec::new();
        let collection = self.collection_operations(scope);
        if !collection.is_empty() {
            items.push(PathItem {
                path: base.clone(),
                params: scope_params.clone(),
                operations: collection,
            });
        }
        let single = self.object_operations(scope);
        if !single.is_empty() {
            items.push(PathItem {
                path: format!("{base}/{{name}}"),
                params: item_params.clone(),
                operations: single,
            });
        }
        if self.verbs.has(Verbs::WATCH) {
            items.extend(self.watch_paths(scope, &scope_params, &item_params));
        }
        for sub in self.subresources {
            items.push(self.subresource(*sub, scope, &base, &item_params));
        }
        items
    }

    /// The operations on the collection: list, create, deletecollection.
    fn collection_operations(&self, scope: &str) -> Vec<Operation> {
        let kind = &self.gvk.kind;
        let list_def = format!("{}List", self.definition);
        let mut collection = Vec::new();
        if self.verbs.has(Verbs::LIST) {
            let mut spec = self.spec(
                Method::Get,
                "list",
                "list",
                format!("list or watch objects of kind {kind}"),
            );
            spec.params = LIST_PARAMS.iter().collect();
            spec.response = Response::Object(list_def.clone());
            spec.streams = true;
            collection.push(self.op(scope, spec));
        }
        if self.verbs.has(Verbs::CREATE) {
            let mut spec = self.spec(Method::Post, "create", "post", format!("create a {kind}"));
            spec.params = vec![&DRY_RUN, &FIELD_MANAGER, &FIELD_VALIDATION];
            spec.body = Some(Body::Object(self.definition.to_owned()));
            spec.codes = &[200, 201, 202];
            collection.push(self.op(scope, spec));
        }
        if self.verbs.has(Verbs::DELETE_COLLECTION) {
            let mut spec = self.spec(
                Method::Delete,
                "delete",
                "deletecollection",
                format!("delete collection of {kind}"),
            );
            spec.collection = true;
            spec.params = vec![&DRY_RUN, &GRACE_PERIOD, &ORPHAN, &PROPAGATION];
            spec.params.extend(LIST_PARAMS.iter());
            spec.body = Some(Body::DeleteOptions);
            spec.response = Response::Object(crate::meta::STATUS.to_owned());
            collection.push(self.op(scope, spec));
        }
        collection
    }

    /// The operations on one object: read, replace, patch, delete.
    fn object_operations(&self, scope: &str) -> Vec<Operation> {
        let kind = &self.gvk.kind;
        let mut single = Vec::new();
        if self.verbs.has(Verbs::GET) {
            single.push(self.op(
                scope,
                self.spec(
                    Method::Get,
                    "read",
                    "get",
                    format!("read the specified {kind}"),
                ),
            ));
        }
        if self.verbs.has(Verbs::UPDATE) {
            let mut spec = self.spec(
                Method::Put,
                "replace",
                "put",
                format!("replace the specified {kind}"),
            );
            spec.params = vec![&DRY_RUN, &FIELD_MANAGER, &FIELD_VALIDATION];
            spec.body = Some(Body::Object(self.definition.to_owned()));
            spec.codes = &[200, 201];
            single.push(self.op(scope, spec));
        }
        if self.verbs.has(Verbs::PATCH) {
            let mut spec = self.spec(
                Method::Patch,
                "patch",
                "patch",
                format!("partially update the specified {kind}"),
            );
            spec.params = vec![&DRY_RUN, &FIELD_MANAGER, &FIELD_VALIDATION, &FORCE];
            spec.body = Some(Body::Patch);
            spec.codes = &[200, 201];
            single.push(self.op(scope, spec));
        }
        if self.verbs.has(Verbs::DELETE) {
            let mut spec = self.spec(
                Method::Delete,
                "delete",
                "delete",
                format!("delete a {kind}"),
            );
            spec.params = vec![&DRY_RUN, &GRACE_PERIOD, &ORPHAN, &PROPAGATION];
            spec.body = Some(Body::DeleteOptions);
            spec.codes = &[200, 202];
            if !self.delete_returns_object {
                spec.response = Response::Object(crate::meta::STATUS.to_owned());
            }
            single.push(self.op(scope, spec));
        }
        single
    }
}

/// Builds a [`Gvk`] from string slices.
pub(crate) fn gvk(group: &str, version: &str, kind: &str) -> Gvk {
    Gvk {
        group: group.to_owned(),
        version: version.to_owned(),
        kind: kind.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_infix_matches_kube_spelling() {
        assert_eq!(id_infix("", "v1"), "CoreV1");
        assert_eq!(id_infix("apps", "v1"), "AppsV1");
        assert_eq!(
            id_infix("rbac.authorization.k8s.io", "v1"),
            "RbacAuthorizationV1"
        );
        assert_eq!(id_infix("metrics.k8s.io", "v1beta1"), "MetricsV1beta1");
        assert_eq!(id_infix("example.com", "v1"), "ExampleComV1");
    }

    #[test]
    fn namespaced_resource_has_kube_operation_ids() {
        let paths = ResourcePaths {
            prefix: "/api/v1",
            id_infix: "CoreV1",
            gvk: gvk("", "v1", "Pod"),
            definition: "io.k8s.api.core.v1.Pod",
            plural: "pods",
            namespaced: true,
            verbs: Verbs::ALL,
            subresources: &[Subresource::Status],
            builtin: true,
            delete_returns_object: true,
        }
        .build();
        let ids: Vec<&str> = paths
            .iter()
            .flat_map(|p| p.operations.iter().map(|o| o.id.as_str()))
            .collect();
        for want in [
            "listCoreV1NamespacedPod",
            "createCoreV1NamespacedPod",
            "deleteCoreV1CollectionNamespacedPod",
            "readCoreV1NamespacedPod",
            "replaceCoreV1NamespacedPod",
            "patchCoreV1NamespacedPod",
            "deleteCoreV1NamespacedPod",
            "watchCoreV1NamespacedPodList",
            "watchCoreV1NamespacedPod",
            "listCoreV1PodForAllNamespaces",
            "watchCoreV1PodListForAllNamespaces",
            "readCoreV1NamespacedPodStatus",
            "patchCoreV1NamespacedPodStatus",
        ] {
            assert!(ids.contains(&want), "missing {want} in {ids:?}");
        }
        let item = paths
            .iter()
            .find(|p| p.path == "/api/v1/namespaces/{namespace}/pods/{name}");
        assert!(item.is_some());
    }
}
