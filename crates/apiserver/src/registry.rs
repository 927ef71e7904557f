//! The table of resources the embedded cluster serves: what discovery advertises and what the
//! generic handlers need to know about each kind.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub use apimachinery::validation::NameRule;

use crate::kinds::{self, Kind, Spec, spec};

/// The layout of the store's keys, as kube-apiserver's etcd layout:
/// `/registry/{group or "core"}/{plural}/[{namespace}/]{name}`. Nothing else spells it out.
pub mod keys {
    /// The prefix of every stored object.
    pub const ROOT: &str = "/registry/";

    /// The prefix of every object of a resource.
    pub fn prefix(group: &str, plural: &str) -> String {
        let group = if group.is_empty() { "core" } else { group };
        format!("{ROOT}{group}/{plural}/")
    }

    /// The prefix of a resource's objects in one namespace.
    pub fn namespace_prefix(group: &str, plural: &str, namespace: &str) -> String {
        format!("{}{namespace}/", prefix(group, plural))
    }

    /// The key of one object (`namespace` is `None` for cluster-scoped objects).
    pub fn object(group: &str, plural: &str, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) => format!("{}{ns}/{name}", prefix(group, plural)),
            None => format!("{}{name}", prefix(group, plural)),
        }
    }

    /// `(group, plural, rest)` of a key (`rest` is `ns/name` or `name`; the core group is "").
    pub fn split(key: &str) -> Option<(&str, &str, &str)> {
        let rest = key.strip_prefix(ROOT)?;
        let (group, rest) = rest.split_once('/')?;
        let (plural, rest) = rest.split_once('/')?;
        Some((if group == "core" { "" } else { group }, plural, rest))
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn keys_round_trip() {
            let k = super::object("", "pods", Some("ns"), "p");
            assert_eq!(k, "/registry/core/pods/ns/p");
            assert_eq!(super::split(&k), Some(("", "pods", "ns/p")));
            let k = super::object("rbac.authorization.k8s.io", "clusterroles", None, "r");
            assert_eq!(
                super::split(&k),
                Some(("rbac.authorization.k8s.io", "clusterroles", "r"))
            );
        }
    }
}

/// One served resource (a group/version/resource and its kind).
#[derive(Clone, Debug)]
pub struct Resource {
    /// API group ("" for core).
    pub group: String,
    /// Version, e.g. "v1".
    pub version: String,
    /// Plural resource name used in paths, e.g. "configmaps".
    pub plural: String,
    /// Singular name, e.g. "configmap".
    pub singular: String,
    /// Kind, e.g. "ConfigMap".
    pub kind: String,
    /// List kind, e.g. "ConfigMapList".
    pub list_kind: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// kubectl short names.
    pub short_names: Vec<String>,
    /// Categories such as "all".
    pub categories: Vec<String>,
    /// Whether a `/status` subresource exists (status is then ignored on the main resource).
    pub status: bool,
    /// Whether a `/scale` subresource exists.
    pub scale: bool,
    /// Whether `metadata.generation` is maintained (kinds with a spec).
    pub generation: bool,
    /// How names are validated.
    pub name_rule: NameRule,
    /// The fields a field selector may use (a built-in kind's from `apimachinery::selector`,
    /// a custom resource's `metadata.*` and `selectableFields`).
    pub field_selectors: Vec<String>,
    /// Verbs advertised by discovery.
    pub verbs: Vec<String>,
    /// Whether objects are kept in the store (false for virtual kinds such as reviews).
    pub stored: bool,
    /// Whether the resource comes from a CustomResourceDefinition.
    pub custom: bool,
    /// A custom resource's `additionalPrinterColumns` (null when none).
    pub printer_columns: serde_json::Value,
    /// The kind's own defaulting, validation and table columns.
    pub rules: &'static dyn Kind,
}

impl Resource {
    /// `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The store key prefix of every object of this resource (all namespaces).
    pub fn key_prefix(&self) -> String {
        keys::prefix(&self.group, &self.plural)
    }

    /// The store key prefix of this resource in one namespace.
    pub fn namespace_prefix(&self, namespace: &str) -> String {
        keys::namespace_prefix(&self.group, &self.plural, namespace)
    }

    /// The store key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        keys::object(
            &self.group,
            &self.plural,
            namespace.filter(|_| self.namespaced),
            name,
        )
    }

    /// `plural` or `plural.group`, as Kubernetes names a resource in messages.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

const CRUD: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Review kinds: answered on `create`, never stored.
fn review_specs() -> Vec<Spec> {
    vec![
        spec("authentication.k8s.io", "v1", "tokenreviews", "TokenReview").cluster(),
        spec(
            "authentication.k8s.io",
            "v1",
            "selfsubjectreviews",
            "SelfSubjectReview",
        )
        .cluster(),
        spec(
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
            "SelfSubjectAccessReview",
        )
        .cluster(),
        spec(
            "authorization.k8s.io",
            "v1",
            "selfsubjectrulesreviews",
            "SelfSubjectRulesReview",
        )
        .cluster(),
        spec(
            "authorization.k8s.io",
            "v1",
            "subjectaccessreviews",
            "SubjectAccessReview",
        )
        .cluster(),
        spec(
            "authorization.k8s.io",
            "v1",
            "localsubjectaccessreviews",
            "LocalSubjectAccessReview",
        ),
    ]
}

/// `metrics.k8s.io`: computed on read from the simulation's model, never stored.
fn metrics_specs() -> Vec<Spec> {
    vec![
        spec("metrics.k8s.io", "v1beta1", "nodes", "NodeMetrics").cluster(),
        spec("metrics.k8s.io", "v1beta1", "pods", "PodMetrics"),
    ]
}

impl Resource {
    /// The resource a spec describes, with its kind's behaviour.
    pub fn new(s: Spec, rules: &'static dyn Kind) -> Resource {
        let mut verbs: Vec<String> = CRUD.iter().map(|v| v.to_string()).collect();
        if s.plural == "namespaces" {
            verbs.retain(|v| v != "deletecollection");
        }
        Resource {
            group: s.group.to_string(),
            version: s.version.to_string(),
            plural: s.plural.to_string(),
            singular: s.kind.to_ascii_lowercase(),
            kind: s.kind.to_string(),
            list_kind: format!("{}List", s.kind),
            namespaced: s.namespaced,
            short_names: s.short.iter().map(|x| x.to_string()).collect(),
            categories: if s.all {
                vec!["all".to_string()]
            } else {
                vec![]
            },
            status: s.status,
            scale: s.scale,
            generation: s.generation,
            name_rule: s.name_rule,
            field_selectors: apimachinery::selector::selectable_fields(s.group, s.kind)
                .iter()
                .map(|x| x.to_string())
                .collect(),
            verbs,
            stored: true,
            custom: false,
            printer_columns: serde_json::Value::Null,
            rules,
        }
    }
}

/// The group-versions in the order discovery lists them, with each group's preferred version first.
#[derive(Clone, Debug)]
pub struct GroupInfo {
    /// Group name ("" for core).
    pub name: String,
    /// Versions, preferred first.
    pub versions: Vec<String>,
}

/// The set of served resources; CRDs add and remove entries at run time.
#[derive(Default)]
pub struct Registry {
    inner: RwLock<Arc<RegistryState>>,
}

/// An immutable snapshot of the registry (cheap to clone and read without locks).
#[derive(Default, Clone)]
pub struct RegistryState {
    /// Every resource, in discovery order.
    pub resources: Vec<Arc<Resource>>,
    by_path: HashMap<(String, String, String), Arc<Resource>>,
}

impl RegistryState {
    fn from_resources(resources: Vec<Arc<Resource>>) -> RegistryState {
        let by_path = resources
            .iter()
            .map(|r| {
                (
                    (r.group.clone(), r.version.clone(), r.plural.clone()),
                    r.clone(),
                )
            })
            .collect();
        RegistryState { resources, by_path }
    }

    /// The resource at `group/version/plural`.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<Resource>> {
        self.by_path
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
    }

    /// Every group with its versions, core first, in the order resources were registered.
    pub fn groups(&self) -> Vec<GroupInfo> {
        let mut groups: Vec<GroupInfo> = Vec::new();
        for r in &self.resources {
            match groups.iter_mut().find(|g| g.name == r.group) {
                Some(g) => {
                    if !g.versions.contains(&r.version) {
                        g.versions.push(r.version.clone());
                    }
                }
                None => groups.push(GroupInfo {
                    name: r.group.clone(),
                    versions: vec![r.version.clone()],
                }),
            }
        }
        groups
    }

    /// Resources served at one group/version.
    pub fn in_group_version<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Resource>> + 'a {
        self.resources
            .iter()
            .filter(move |r| r.group == group && r.version == version)
    }

    /// Every stored version of a group/kind's resource shares one store prefix; this finds the
    /// resources with the same group and plural (other versions of the same data).
    pub fn same_data<'a>(
        &'a self,
        r: &'a Resource,
    ) -> impl Iterator<Item = &'a Arc<Resource>> + 'a {
        self.resources
            .iter()
            .filter(move |o| o.group == r.group && o.plural == r.plural)
    }
}

impl Registry {
    /// The built-in resources of the embedded cluster.
    pub fn builtin() -> Registry {
        let mut resources: Vec<Arc<Resource>> = kinds::BUILTIN
            .iter()
            .map(|k| Arc::new(Resource::new(k.spec(), *k)))
            .collect();
        resources.extend(review_specs().into_iter().map(|s| {
            let mut r = Resource::new(s, &kinds::NONE);
            r.stored = false;
            r.verbs = vec!["create".to_string()];
            Arc::new(r)
        }));
        resources.extend(metrics_specs().into_iter().map(|s| {
            let mut r = Resource::new(s, &kinds::NONE);
            r.stored = false;
            r.verbs = vec!["get".to_string(), "list".to_string()];
            Arc::new(r)
        }));
        Registry {
            inner: RwLock::new(Arc::new(RegistryState::from_resources(resources))),
        }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<RegistryState> {
        match self.inner.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces every custom resource with `custom`.
    pub fn replace_custom(&self, custom: Vec<Resource>) {
        self.update(|list| {
            list.retain(|o| !o.custom);
            list.extend(custom.into_iter().map(Arc::new));
        });
    }

    fn update(&self, f: impl FnOnce(&mut Vec<Arc<Resource>>)) {
        let mut guard = match self.inner.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut list = guard.resources.clone();
        f(&mut list);
        *guard = Arc::new(RegistryState::from_resources(list));
    }
}
