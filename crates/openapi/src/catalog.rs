//! The built-in group-versions, their resources and the Rust types their schemas come from.

use k8s_openapi::api::{
    admissionregistration, apps, authentication, authorization, autoscaling, batch, coordination,
    core, discovery, events, networking, policy, rbac, storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use schemars::{JsonSchema, Schema, SchemaGenerator};

/// Registers a type's schema (and everything it reaches) in a generator and returns its `$ref`.
pub(crate) type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// The set of REST verbs a resource answers, as kube's discovery spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Verbs(u16);

impl Verbs {
    pub(crate) const CREATE: Verbs = Verbs(1);
    pub(crate) const GET: Verbs = Verbs(1 << 1);
    pub(crate) const LIST: Verbs = Verbs(1 << 2);
    pub(crate) const WATCH: Verbs = Verbs(1 << 3);
    pub(crate) const UPDATE: Verbs = Verbs(1 << 4);
    pub(crate) const PATCH: Verbs = Verbs(1 << 5);
    pub(crate) const DELETE: Verbs = Verbs(1 << 6);
    pub(crate) const DELETE_COLLECTION: Verbs = Verbs(1 << 7);
    /// Everything an ordinary stored resource supports.
    pub(crate) const ALL: Verbs = Verbs(0xff);
    /// Stored resources that cannot be deleted as a collection (namespaces).
    pub(crate) const ALL_BUT_COLLECTION: Verbs = Verbs(0x7f);
    /// Read-only resources (metrics).
    pub(crate) const READ: Verbs = Verbs(1 << 1 | 1 << 2);

    /// Whether every verb of `other` is in `self`.
    pub(crate) fn has(self, other: Verbs) -> bool {
        self.0 & other.0 == other.0
    }
}

/// A subresource whose paths are published next to its parent resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Subresource {
    /// `/status`: get, replace and patch the parent kind.
    Status,
    /// `/scale`: get, replace and patch an `autoscaling/v1` Scale.
    Scale,
    /// `pods/log`: a plain-text stream.
    Log,
    /// `pods/eviction`: create a `policy/v1` Eviction.
    Eviction,
    /// `pods/binding`: create a Binding.
    Binding,
    /// `pods/ephemeralcontainers`: get, replace and patch the Pod.
    EphemeralContainers,
    /// `serviceaccounts/token`: create an `authentication/v1` TokenRequest.
    Token,
}

/// One kind served by a group-version, with its REST resource if it has one.
pub(crate) struct KindDef {
    /// The Rust type's schema.
    pub(crate) schema: SchemaFn,
    /// The plural resource name; `None` for kinds that only appear in bodies (Scale).
    pub(crate) plural: Option<&'static str>,
    /// Whether the resource lives in a namespace.
    pub(crate) namespaced: bool,
    /// The verbs the resource answers.
    pub(crate) verbs: Verbs,
    /// The subresources published with it.
    pub(crate) subresources: &'static [Subresource],
}

/// A built-in group-version.
pub(crate) struct GroupVersionDef {
    /// The API group (`""` for core).
    pub(crate) group: &'static str,
    /// The version.
    pub(crate) version: &'static str,
    /// The kinds it serves.
    pub(crate) kinds: Vec<KindDef>,
}

/// Kinds whose DELETE answers with the object rather than a Status, as in kube's spec.
pub(crate) const DELETE_RETURNS_OBJECT: [&str; 10] = [
    "io.k8s.api.core.v1.PersistentVolume",
    "io.k8s.api.core.v1.PersistentVolumeClaim",
    "io.k8s.api.core.v1.Pod",
    "io.k8s.api.core.v1.ResourceQuota",
    "io.k8s.api.core.v1.ServiceAccount",
    "io.k8s.api.core.v1.Service",
    "io.k8s.api.storage.v1.CSIDriver",
    "io.k8s.api.storage.v1.CSINode",
    "io.k8s.api.storage.v1.StorageClass",
    "io.k8s.api.storage.v1.VolumeAttachment",
];

const NS: bool = true;
const CLUSTER: bool = false;

fn res(
    schema: SchemaFn,
    plural: &'static str,
    namespaced: bool,
    verbs: Verbs,
    subresources: &'static [Subresource],
) -> KindDef {
    KindDef {
        schema,
        plural: Some(plural),
        namespaced,
        verbs,
        subresources,
    }
}

fn body_only(schema: SchemaFn) -> KindDef {
    KindDef {
        schema,
        plural: None,
        namespaced: false,
        verbs: Verbs(0),
        subresources: &[],
    }
}

fn stored(schema: SchemaFn, plural: &'static str, namespaced: bool) -> KindDef {
    res(schema, plural, namespaced, Verbs::ALL, &[])
}

fn with_status(schema: SchemaFn, plural: &'static str, namespaced: bool) -> KindDef {
    res(
        schema,
        plural,
        namespaced,
        Verbs::ALL,
        &[Subresource::Status],
    )
}

fn create_only(schema: SchemaFn, plural: &'static str, namespaced: bool) -> KindDef {
    res(schema, plural, namespaced, Verbs::CREATE, &[])
}

/// Every built-in group-version the embedded cluster serves, except metrics (hand-written).
// A data table (one entry per served kind); splitting it would only scatter the catalog.
#[allow(clippy::too_many_lines)]
pub(crate) fn builtin_group_versions() -> Vec<GroupVersionDef> {
    use Subresource::{Binding, EphemeralContainers, Eviction, Log, Scale, Status, Token};
    let workload: &'static [Subresource] = &[Status, Scale];
    vec![
        GroupVersionDef {
            group: "",
            version: "v1",
            kinds: vec![
                stored(schema_of::<core::v1::ConfigMap>, "configmaps", NS),
                create_only(schema_of::<core::v1::Binding>, "bindings", NS),
                stored(schema_of::<core::v1::Endpoints>, "endpoints", NS),
                stored(schema_of::<core::v1::Event>, "events", NS),
                stored(schema_of::<core::v1::LimitRange>, "limitranges", NS),
                res(
                    schema_of::<core::v1::Namespace>,
                    "namespaces",
                    CLUSTER,
                    Verbs::ALL_BUT_COLLECTION,
                    &[Status],
                ),
                with_status(schema_of::<core::v1::Node>, "nodes", CLUSTER),
                with_status(
                    schema_of::<core::v1::PersistentVolume>,
                    "persistentvolumes",
                    CLUSTER,
                ),
                with_status(
                    schema_of::<core::v1::PersistentVolumeClaim>,
                    "persistentvolumeclaims",
                    NS,
                ),
                res(
                    schema_of::<core::v1::Pod>,
                    "pods",
                    NS,
                    Verbs::ALL,
                    &[Status, Log, Eviction, Binding, EphemeralContainers],
                ),
                with_status(schema_of::<core::v1::ResourceQuota>, "resourcequotas", NS),
                stored(schema_of::<core::v1::Secret>, "secrets", NS),
                res(
                    schema_of::<core::v1::ServiceAccount>,
                    "serviceaccounts",
                    NS,
                    Verbs::ALL,
                    &[Token],
                ),
                with_status(schema_of::<core::v1::Service>, "services", NS),
            ],
        },
        GroupVersionDef {
            group: "apps",
            version: "v1",
            kinds: vec![
                stored(
                    schema_of::<apps::v1::ControllerRevision>,
                    "controllerrevisions",
                    NS,
                ),
                with_status(schema_of::<apps::v1::DaemonSet>, "daemonsets", NS),
                res(
                    schema_of::<apps::v1::Deployment>,
                    "deployments",
                    NS,
                    Verbs::ALL,
                    workload,
                ),
                res(
                    schema_of::<apps::v1::ReplicaSet>,
                    "replicasets",
                    NS,
                    Verbs::ALL,
                    workload,
                ),
                res(
                    schema_of::<apps::v1::StatefulSet>,
                    "statefulsets",
                    NS,
                    Verbs::ALL,
                    workload,
                ),
            ],
        },
        GroupVersionDef {
            group: "batch",
            version: "v1",
            kinds: vec![
                with_status(schema_of::<batch::v1::CronJob>, "cronjobs", NS),
                with_status(schema_of::<batch::v1::Job>, "jobs", NS),
            ],
        },
        GroupVersionDef {
            group: "networking.k8s.io",
            version: "v1",
            kinds: vec![
                stored(
                    schema_of::<networking::v1::IngressClass>,
                    "ingressclasses",
                    CLUSTER,
                ),
                with_status(schema_of::<networking::v1::Ingress>, "ingresses", NS),
                stored(
                    schema_of::<networking::v1::NetworkPolicy>,
                    "networkpolicies",
                    NS,
                ),
            ],
        },
        GroupVersionDef {
            group: "rbac.authorization.k8s.io",
            version: "v1",
            kinds: vec![
                stored(
                    schema_of::<rbac::v1::ClusterRoleBinding>,
                    "clusterrolebindings",
                    CLUSTER,
                ),
                stored(schema_of::<rbac::v1::ClusterRole>, "clusterroles", CLUSTER),
                stored(schema_of::<rbac::v1::RoleBinding>, "rolebindings", NS),
                stored(schema_of::<rbac::v1::Role>, "roles", NS),
            ],
        },
        GroupVersionDef {
            group: "storage.k8s.io",
            version: "v1",
            kinds: vec![
                stored(schema_of::<storage::v1::CSIDriver>, "csidrivers", CLUSTER),
                stored(schema_of::<storage::v1::CSINode>, "csinodes", CLUSTER),
                stored(
                    schema_of::<storage::v1::StorageClass>,
                    "storageclasses",
                    CLUSTER,
                ),
                with_status(
                    schema_of::<storage::v1::VolumeAttachment>,
                    "volumeattachments",
                    CLUSTER,
                ),
            ],
        },
        GroupVersionDef {
            group: "admissionregistration.k8s.io",
            version: "v1",
            kinds: vec![
                stored(
                    schema_of::<admissionregistration::v1::MutatingWebhookConfiguration>,
                    "mutatingwebhookconfigurations",
                    CLUSTER,
                ),
                stored(
                    schema_of::<admissionregistration::v1::ValidatingWebhookConfiguration>,
                    "validatingwebhookconfigurations",
                    CLUSTER,
                ),
            ],
        },
        GroupVersionDef {
            group: "coordination.k8s.io",
            version: "v1",
            kinds: vec![stored(schema_of::<coordination::v1::Lease>, "leases", NS)],
        },
        GroupVersionDef {
            group: "events.k8s.io",
            version: "v1",
            kinds: vec![stored(schema_of::<events::v1::Event>, "events", NS)],
        },
        GroupVersionDef {
            group: "policy",
            version: "v1",
            kinds: vec![
                with_status(
                    schema_of::<policy::v1::PodDisruptionBudget>,
                    "poddisruptionbudgets",
                    NS,
                ),
                body_only(schema_of::<policy::v1::Eviction>),
            ],
        },
        GroupVersionDef {
            group: "autoscaling",
            version: "v1",
            kinds: vec![
                with_status(
                    schema_of::<autoscaling::v1::HorizontalPodAutoscaler>,
                    "horizontalpodautoscalers",
                    NS,
                ),
                body_only(schema_of::<autoscaling::v1::Scale>),
            ],
        },
        GroupVersionDef {
            group: "autoscaling",
            version: "v2",
            kinds: vec![with_status(
                schema_of::<autoscaling::v2::HorizontalPodAutoscaler>,
                "horizontalpodautoscalers",
                NS,
            )],
        },
        GroupVersionDef {
            group: "discovery.k8s.io",
            version: "v1",
            kinds: vec![stored(
                schema_of::<discovery::v1::EndpointSlice>,
                "endpointslices",
                NS,
            )],
        },
        GroupVersionDef {
            group: "apiextensions.k8s.io",
            version: "v1",
            kinds: vec![with_status(
                schema_of::<apiextensions::v1::CustomResourceDefinition>,
                "customresourcedefinitions",
                CLUSTER,
            )],
        },
        GroupVersionDef {
            group: "authentication.k8s.io",
            version: "v1",
            kinds: vec![
                create_only(
                    schema_of::<authentication::v1::SelfSubjectReview>,
                    "selfsubjectreviews",
                    CLUSTER,
                ),
                create_only(
                    schema_of::<authentication::v1::TokenReview>,
                    "tokenreviews",
                    CLUSTER,
                ),
                body_only(schema_of::<authentication::v1::TokenRequest>),
            ],
        },
        GroupVersionDef {
            group: "authorization.k8s.io",
            version: "v1",
            kinds: vec![
                create_only(
                    schema_of::<authorization::v1::LocalSubjectAccessReview>,
                    "localsubjectaccessreviews",
                    NS,
                ),
                create_only(
                    schema_of::<authorization::v1::SelfSubjectAccessReview>,
                    "selfsubjectaccessreviews",
                    CLUSTER,
                ),
                create_only(
                    schema_of::<authorization::v1::SelfSubjectRulesReview>,
                    "selfsubjectrulesreviews",
                    CLUSTER,
                ),
                create_only(
                    schema_of::<authorization::v1::SubjectAccessReview>,
                    "subjectaccessreviews",
                    CLUSTER,
                ),
            ],
        },
    ]
}
