//! Names of the shared definitions, and the metrics.k8s.io schemas k8s-openapi does not have.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::{api::resource::Quantity, apis::meta::v1 as meta};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

pub(crate) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
pub(crate) const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
pub(crate) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(crate) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(crate) const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
pub(crate) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub(crate) const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";
pub(crate) const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
pub(crate) const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
pub(crate) const APIEXTENSIONS_JSON: &str =
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON";
pub(crate) const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";
pub(crate) const EVICTION: &str = "io.k8s.api.policy.v1.Eviction";
pub(crate) const BINDING: &str = "io.k8s.api.core.v1.Binding";
pub(crate) const TOKEN_REQUEST: &str = "io.k8s.api.authentication.v1.TokenRequest";

/// Meta kinds carrying the GVK of the core group only, as kube publishes them.
pub(crate) const CORE_META_KINDS: [(&str, &str); 5] = [
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup", "APIGroup"),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList",
        "APIGroupList",
    ),
    (API_RESOURCE_LIST, "APIResourceList"),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions",
        "APIVersions",
    ),
    (STATUS, "Status"),
];

/// Registers the meta types every document carries.
pub(crate) fn register_meta(generator: &mut SchemaGenerator) {
    generator.subschema_for::<meta::ObjectMeta>();
    generator.subschema_for::<meta::ListMeta>();
    generator.subschema_for::<meta::Status>();
    generator.subschema_for::<meta::DeleteOptions>();
    generator.subschema_for::<meta::WatchEvent<()>>();
    generator.subschema_for::<meta::Patch>();
    generator.subschema_for::<meta::APIResourceList>();
    generator.subschema_for::<meta::APIGroup>();
    generator.subschema_for::<meta::APIGroupList>();
    generator.subschema_for::<meta::APIVersions>();
}

const TYPE_META_API_VERSION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.";
const TYPE_META_KIND: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. In CamelCase.";

/// The description kube gives `apiVersion`, reused for CRDs and list kinds.
pub(crate) fn api_version_description() -> &'static str {
    TYPE_META_API_VERSION
}

/// The description kube gives `kind`, reused for CRDs and list kinds.
pub(crate) fn kind_description() -> &'static str {
    TYPE_META_KIND
}

/// `metrics.k8s.io/v1beta1` NodeMetrics (served by metrics-server in real clusters).
pub(crate) struct NodeMetrics;

/// `metrics.k8s.io/v1beta1` PodMetrics.
pub(crate) struct PodMetrics;

struct ContainerMetrics;

fn usage(generator: &mut SchemaGenerator, what: &str) -> Schema {
    let quantity = generator.subschema_for::<Quantity>();
    json_schema!({
        "description": format!("The memory and CPU usage of the {what}."),
        "type": "object",
        "additionalProperties": quantity,
    })
}

fn metrics_common(
    generator: &mut SchemaGenerator,
    what: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let mut metadata = generator.subschema_for::<meta::ObjectMeta>();
    metadata.insert("description".into(), "Standard object's metadata.".into());
    let mut timestamp = generator.subschema_for::<meta::Time>();
    timestamp.insert(
        "description".into(),
        "The end of the window the usage was measured over.".into(),
    );
    let mut properties = serde_json::Map::new();
    properties.insert(
        "apiVersion".into(),
        serde_json::json!({"description": TYPE_META_API_VERSION, "type": "string"}),
    );
    properties.insert(
        "kind".into(),
        serde_json::json!({"description": TYPE_META_KIND, "type": "string"}),
    );
    properties.insert("metadata".into(), metadata.to_value());
    properties.insert("timestamp".into(), timestamp.to_value());
    properties.insert(
        "window".into(),
        serde_json::json!({
            "description": format!("The length of the window the {what} usage was measured over, as a duration string."),
            "type": "string",
        }),
    );
    properties
}

impl JsonSchema for NodeMetrics {
    fn schema_name() -> Cow<'static, str> {
        "io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut properties = metrics_common(generator, "node");
        properties.insert("usage".into(), usage(generator, "node").to_value());
        json_schema!({
            "description": "NodeMetrics sets resource usage metrics of a node.",
            "type": "object",
            "properties": properties,
            "required": ["timestamp", "window", "usage"],
        })
    }
}

impl JsonSchema for ContainerMetrics {
    fn schema_name() -> Cow<'static, str> {
        "io.k8s.metrics.pkg.apis.metrics.v1beta1.ContainerMetrics".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "ContainerMetrics sets resource usage metrics of a container.",
            "type": "object",
            "properties": {
                "name": {"description": "Container name corresponding to the one from pod.spec.containers.", "type": "string"},
                "usage": usage(generator, "container"),
            },
            "required": ["name", "usage"],
        })
    }
}

impl JsonSchema for PodMetrics {
    fn schema_name() -> Cow<'static, str> {
        "io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut properties = metrics_common(generator, "pod");
        let container = generator.subschema_for::<ContainerMetrics>();
        properties.insert(
            "containers".into(),
            serde_json::json!({
                "description": "Metrics for all containers are collected within the same time window.",
                "type": "array",
                "items": container,
                "x-kubernetes-list-type": "atomic",
            }),
        );
        json_schema!({
            "description": "PodMetrics sets resource usage metrics of a pod.",
            "type": "object",
            "properties": properties,
            "required": ["timestamp", "window", "containers"],
        })
    }
}
