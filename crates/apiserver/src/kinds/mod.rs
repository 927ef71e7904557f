//! The built-in kinds, one file each: what discovery advertises about the kind (its [`Spec`]),
//! how kube-apiserver defaults and validates it, and the columns `kubectl get` shows for it
//! (kube's table convertors). Adding or changing a kind touches its file and, for a new kind,
//! one line of [`BUILTIN`].
//!
//! Field selectors are not here: which fields each kind can be selected by is shared with the
//! platform and lives in `apimachinery::selector` (`selectable_fields`, `field_value`).

use apimachinery::validation::{FieldError, NameRule};
use serde_json::{Map, Value};

mod configmap;
mod cronjob;
mod customresourcedefinition;
mod daemonset;
mod deployment;
mod endpoints;
mod event;
mod fields;
mod horizontalpodautoscaler;
mod hpa_conversion;
mod job;
mod lease;
mod namespace;
mod node;
mod persistentvolume;
mod persistentvolumeclaim;
mod plain;
mod pod;
mod podtemplate;
mod replicaset;
mod replicationcontroller;
mod secret;
mod service;
mod serviceaccount;
mod statefulset;
mod storageclass;
mod webhookconfiguration;

pub use fields::{name, pod_status};
pub(crate) use plain::Plain;

/// What one kind does beyond what every kind does.
pub trait Kind: Send + Sync {
    /// The resource the kind is served as (group, version, plural, flags).
    fn spec(&self) -> Spec;

    /// Fills in defaults, as kube-apiserver's defaulting functions do on create and update.
    fn defaults(&self, _obj: &mut Value) {}

    /// Errors in the kind-specific fields (metadata is validated for every kind).
    fn validate(&self, _obj: &Value) -> Vec<FieldError> {
        Vec::new()
    }

    /// The table columns `kubectl get` shows.
    fn columns(&self) -> &'static [Col] {
        NAME_AGE
    }

    /// One table row, aligned with [`Kind::columns`]; `age` is the object's AGE cell.
    fn cells(&self, obj: &Value, age: Value) -> Vec<Value> {
        vec![name(obj), age]
    }

    /// Whether the kind is served at versions with different fields, stored in one of them
    /// and converted ([`Kind::stored_form`], [`Kind::served_form`]).
    fn converts(&self) -> bool {
        false
    }

    /// The object, at this resource's version or the stored one, in the stored version.
    fn stored_form(&self, obj: Value) -> Value {
        obj
    }

    /// A stored object as served at this resource's version.
    fn served_form(&self, obj: Value) -> Value {
        obj
    }

    /// The `status.selector` of the kind's Scale (kinds with `/scale`): `spec.selector` in the
    /// string form of `metav1.LabelSelectorAsSelector`; empty when unset or invalid.
    fn scale_selector(&self, obj: &Value) -> String {
        apimachinery::selector::LabelSelector::from_label_selector_json(&obj["spec"]["selector"])
            .ok()
            .filter(|s| !s.is_nothing())
            .map(|s| s.to_string())
            .unwrap_or_default()
    }
}

impl std::fmt::Debug for dyn Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.spec();
        write!(f, "{}/{} {}", s.group, s.version, s.kind)
    }
}

/// Every stored built-in kind, in the order discovery lists them.
pub static BUILTIN: &[&dyn Kind] = &[
    &namespace::Namespace,
    &pod::Pod,
    &service::Service,
    &endpoints::Endpoints,
    &configmap::ConfigMap,
    &secret::Secret,
    &serviceaccount::ServiceAccount,
    &node::Node,
    &event::Event,
    &persistentvolume::PersistentVolume,
    &persistentvolumeclaim::PersistentVolumeClaim,
    &Plain(
        spec("", "v1", "resourcequotas", "ResourceQuota")
            .short(&["quota"])
            .status(),
    ),
    &Plain(spec("", "v1", "limitranges", "LimitRange").short(&["limits"])),
    &replicationcontroller::ReplicationController,
    &Plain(spec("", "v1", "podtemplates", "PodTemplate")),
    &deployment::Deployment,
    &replicaset::ReplicaSet,
    &statefulset::StatefulSet,
    &daemonset::DaemonSet,
    &Plain(spec(
        "apps",
        "v1",
        "controllerrevisions",
        "ControllerRevision",
    )),
    &job::Job,
    &cronjob::CronJob,
    &Plain(
        spec("networking.k8s.io", "v1", "ingresses", "Ingress")
            .short(&["ing"])
            .status(),
    ),
    &Plain(spec("networking.k8s.io", "v1", "ingressclasses", "IngressClass").cluster()),
    &Plain(
        spec(
            "networking.k8s.io",
            "v1",
            "networkpolicies",
            "NetworkPolicy",
        )
        .short(&["netpol"])
        .generation(),
    ),
    &webhookconfiguration::WebhookConfiguration { mutating: true },
    &webhookconfiguration::WebhookConfiguration { mutating: false },
    &Plain(spec("rbac.authorization.k8s.io", "v1", "roles", "Role").names(NameRule::PathSegment)),
    &Plain(
        spec(
            "rbac.authorization.k8s.io",
            "v1",
            "rolebindings",
            "RoleBinding",
        )
        .names(NameRule::PathSegment),
    ),
    &Plain(
        spec(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterroles",
            "ClusterRole",
        )
        .cluster()
        .names(NameRule::PathSegment),
    ),
    &Plain(
        spec(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterrolebindings",
            "ClusterRoleBinding",
        )
        .cluster()
        .names(NameRule::PathSegment),
    ),
    &storageclass::StorageClass,
    &Plain(spec("storage.k8s.io", "v1", "csidrivers", "CSIDriver").cluster()),
    &Plain(spec("storage.k8s.io", "v1", "csinodes", "CSINode").cluster()),
    &Plain(
        spec(
            "storage.k8s.io",
            "v1",
            "volumeattachments",
            "VolumeAttachment",
        )
        .cluster()
        .status(),
    ),
    &lease::Lease,
    &event::EventsV1,
    &Plain(
        spec(
            "policy",
            "v1",
            "poddisruptionbudgets",
            "PodDisruptionBudget",
        )
        .short(&["pdb"])
        .status(),
    ),
    &horizontalpodautoscaler::HorizontalPodAutoscaler("v2"),
    &horizontalpodautoscaler::HorizontalPodAutoscaler("v1"),
    &Plain(spec(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "EndpointSlice",
    )),
    &customresourcedefinition::CustomResourceDefinition,
];

/// The kind of custom resources and of the virtual (review, metrics) resources: nothing
/// beyond what every kind does (a custom resource's columns come from its CRD).
pub static NONE: Plain = Plain(spec("", "", "", ""));

/// What discovery and the generic handlers know about a resource.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// API group ("" for core).
    pub group: &'static str,
    /// Version.
    pub version: &'static str,
    /// Plural resource name.
    pub plural: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// kubectl short names.
    pub short: &'static [&'static str],
    /// Whether the kind is in the `all` category.
    pub all: bool,
    /// Whether a `/status` subresource exists.
    pub status: bool,
    /// Whether a `/scale` subresource exists.
    pub scale: bool,
    /// Whether `metadata.generation` is maintained.
    pub generation: bool,
    /// How names are validated.
    pub name_rule: NameRule,
}

/// A namespaced resource with nothing else set.
pub const fn spec(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
) -> Spec {
    Spec {
        group,
        version,
        plural,
        kind,
        namespaced: true,
        short: &[],
        all: false,
        status: false,
        scale: false,
        generation: false,
        name_rule: NameRule::Subdomain,
    }
}

impl Spec {
    /// Cluster-scoped.
    pub const fn cluster(mut self) -> Self {
        self.namespaced = false;
        self
    }
    /// With kubectl short names.
    pub const fn short(mut self, s: &'static [&'static str]) -> Self {
        self.short = s;
        self
    }
    /// In the `all` category.
    pub const fn all(mut self) -> Self {
        self.all = true;
        self
    }
    /// With a `/status` subresource (and so a generation).
    pub const fn status(mut self) -> Self {
        self.status = true;
        self.generation = true;
        self
    }
    /// With a `/scale` subresource (`spec.replicas`, `status.replicas`, `spec.selector`).
    pub const fn scale(mut self) -> Self {
        self.scale = true;
        self
    }
    /// With `metadata.generation` maintained.
    pub const fn generation(mut self) -> Self {
        self.generation = true;
        self
    }
    /// With names validated by `rule` instead of as DNS subdomains.
    pub const fn names(mut self, rule: NameRule) -> Self {
        self.name_rule = rule;
        self
    }
}

/// A table column.
#[derive(Debug)]
pub struct Col {
    /// Header.
    pub name: &'static str,
    /// OpenAPI type (`string`, `integer`).
    pub ty: &'static str,
    /// 0 shown always, 1 only with `-o wide`.
    pub priority: u8,
}

/// A string column.
pub const fn c(name: &'static str) -> Col {
    Col {
        name,
        ty: "string",
        priority: 0,
    }
}

/// A string column shown only with `-o wide`.
pub const fn wide(name: &'static str) -> Col {
    Col {
        name,
        ty: "string",
        priority: 1,
    }
}

/// An integer column.
pub const fn int(name: &'static str) -> Col {
    Col {
        name,
        ty: "integer",
        priority: 0,
    }
}

/// The columns of a kind without its own.
const NAME_AGE: &[Col] = &[c("Name"), c("Age")];

/// The object `key` of `v`, created (replacing a non-object) when missing.
fn obj_mut<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let o = v.as_object_mut()?;
    if !o.get(key).is_some_and(Value::is_object) {
        o.insert(key.to_string(), Value::Object(Map::new()));
    }
    o.get_mut(key).and_then(Value::as_object_mut)
}

/// Sets `key` unless it holds a non-null value.
fn set_default(m: &mut Map<String, Value>, key: &str, value: Value) {
    if m.get(key).is_none_or(Value::is_null) {
        m.insert(key.to_string(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_resource_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for k in BUILTIN {
            let s = k.spec();
            assert!(
                seen.insert((s.group, s.version, s.plural)),
                "{}/{} {} listed twice",
                s.group,
                s.version,
                s.plural
            );
        }
    }

    #[test]
    fn every_row_has_as_many_cells_as_columns() {
        let obj = serde_json::json!({"metadata": {"name": "x"}});
        for k in BUILTIN {
            let cells = k.cells(&obj, Value::String("1s".into()));
            assert_eq!(cells.len(), k.columns().len(), "{}", k.spec().kind);
        }
    }
}
