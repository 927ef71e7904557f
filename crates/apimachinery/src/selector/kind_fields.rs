//! Which fields each built-in kind can be selected by, and how their values read, as
//! registered by kube-apiserver's field label conversion funcs and `ToSelectableFields`.

use serde_json::Value;

use super::field::{FieldRequirement, FieldSelector};
use crate::status::ApiError;

const META: &[&str] = &["metadata.name", "metadata.namespace"];

/// The field selectors kube-apiserver accepts for a kind (custom resources and kinds without
/// their own list get `metadata.name` and `metadata.namespace`).
pub fn selectable_fields(group: &str, kind: &str) -> &'static [&'static str] {
    match (group, kind) {
        ("", "Pod") => &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ],
        ("", "Node") => &["metadata.name", "spec.unschedulable"],
        ("", "Namespace") => &["metadata.name", "status.phase"],
        ("", "ReplicationController") | ("apps", "ReplicaSet") => {
            &["metadata.name", "metadata.namespace", "status.replicas"]
        }
        ("", "Secret") => &["metadata.name", "metadata.namespace", "type"],
        ("", "Service") => &[
            "metadata.name",
            "metadata.namespace",
            "spec.clusterIP",
            "spec.type",
        ],
        // events.k8s.io/v1 Events are the same objects; Orrery accepts the same labels.
        ("", "Event") | ("events.k8s.io", "Event") => &[
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("batch", "Job") => &["metadata.name", "metadata.namespace", "status.successful"],
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            &["metadata.name", "spec.signerName"]
        }
        _ => META,
    }
}

/// The value kube matches a field selector against: strings as they are, booleans and
/// numbers as Go formats them, absent fields as their zero value.
pub fn field_value(group: &str, kind: &str, obj: &Value, field: &str) -> Option<String> {
    let path = match (group, kind, field) {
        // kube keeps the event source's component under the short label.
        ("" | "events.k8s.io", "Event", "source") => "source.component",
        // The pod IP label reads the first of the pod's IPs.
        ("", "Pod", "status.podIP") => {
            let first = obj
                .pointer("/status/podIPs/0/ip")
                .or_else(|| obj.pointer("/status/podIP"));
            return Some(first.and_then(Value::as_str).unwrap_or("").to_string());
        }
        _ => field,
    };
    let mut cur = obj;
    for part in path.split('.') {
        match cur.get(part) {
            Some(next) => cur = next,
            None => return Some(zero_value(group, kind, field).to_string()),
        }
    }
    Some(match cur {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => zero_value(group, kind, field).to_string(),
        other => other.to_string(),
    })
}

fn zero_value(group: &str, kind: &str, field: &str) -> &'static str {
    match (group, kind, field) {
        ("", "Pod", "spec.hostNetwork") | ("", "Node", "spec.unschedulable") => "false",
        (_, _, "status.replicas" | "status.successful") => "0",
        _ => "",
    }
}

impl FieldSelector {
    /// Converts the selector for a kind as kube-apiserver does before listing: refuses
    /// unsupported fields (400 `field label not supported: x`) and maps the legacy pod field
    /// `spec.host` to `spec.nodeName`.
    pub fn for_kind(&self, group: &str, kind: &str) -> Result<FieldSelector, ApiError> {
        let supported = selectable_fields(group, kind);
        let mut out = Vec::with_capacity(self.requirements().len());
        for r in self.requirements() {
            let field = match (group, kind, r.field.as_str()) {
                ("", "Pod", "spec.host") => "spec.nodeName",
                (_, _, f) => f,
            };
            if !supported.contains(&field) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {}",
                    r.field
                )));
            }
            out.push(FieldRequirement {
                field: field.to_string(),
                ..r.clone()
            });
        }
        Ok(FieldSelector::from_requirements(out))
    }

    /// Whether a built-in object of this kind matches (values read with [`field_value`]).
    pub fn matches_object(&self, group: &str, kind: &str, obj: &Value) -> bool {
        self.matches(|f| field_value(group, kind, obj, f))
    }
}
