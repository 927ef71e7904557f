//! The extension framework's CustomResourceDefinitions: KubeSphere's `kubesphere.io/v1alpha1`
//! marketplace kinds (Repository, Extension, ExtensionVersion, Category, InstallPlan) and
//! `extensions.kubesphere.io/v1alpha1` routing kinds (APIService, ReverseProxy, JSBundle,
//! ExtensionEntry). All cluster-scoped, as KubeSphere's; installed in the host and in members
//! (a member runs extension agents and may serve their routes).

use serde_json::{Value, json};

use crate::crds::{Kind, age, col, crd, locale_map, obj, open_obj, strings};

/// Group of the marketplace kinds.
pub const CORE: &str = "kubesphere.io";
/// Group of the routing kinds.
pub const ROUTING: &str = "extensions.kubesphere.io";
/// Version of both groups.
pub const VERSION: &str = "v1alpha1";

/// InstallPlan states (KubeSphere's).
pub const STATES: &[&str] = &[
    "Preparing",
    "Installing",
    "Installed",
    "InstallFailed",
    "Upgrading",
    "Upgraded",
    "UpgradeFailed",
    "Uninstalling",
    "Uninstalled",
    "UninstallFailed",
];

fn string() -> Value {
    json!({"type": "string"})
}

fn boolean() -> Value {
    json!({"type": "boolean"})
}

fn conditions() -> Value {
    json!({"type": "array", "items": {"type": "object", "properties": {
        "type": string(), "status": string(), "reason": string(), "message": string(),
        "lastTransitionTime": {"type": "string", "format": "date-time"},
        "observedGeneration": {"type": "integer"}
    }}})
}

fn state_history() -> Value {
    json!({"type": "array", "items": obj(json!({
        "state": string(), "lastTransitionTime": {"type": "string", "format": "date-time"}
    }))})
}

fn key_ref() -> Value {
    obj(json!({"namespace": string(), "name": string(), "key": string(), "optional": boolean()}))
}

fn service_ref() -> Value {
    obj(json!({
        "namespace": string(), "name": string(), "path": string(),
        "port": {"type": "integer", "format": "int32"}
    }))
}

/// KubeSphere's `Endpoint`: a `url` or a host `service`, with TLS settings.
fn endpoint_props() -> serde_json::Map<String, Value> {
    json!({
        "url": string(), "service": service_ref(),
        "caBundle": {"type": "string", "format": "byte"}, "insecureSkipVerify": boolean()
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

/// The fields an Extension and an ExtensionVersion share (`ExtensionInfo`).
fn info_props() -> serde_json::Map<String, Value> {
    json!({
        "displayName": locale_map(), "description": locale_map(), "icon": string(),
        "provider": {"type": "object", "additionalProperties": obj(json!({
            "name": string(), "email": string(), "url": string()
        }))},
        "created": {"type": "string", "format": "date-time"}
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn routing_status() -> Value {
    obj(json!({"state": string(), "link": string(), "conditions": conditions()}))
}

fn kind(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    spec: Value,
    status: Value,
    columns: Vec<Value>,
) -> Kind {
    Kind {
        group,
        version: VERSION,
        kind,
        plural,
        namespaced: false,
        props: json!({"spec": spec, "status": status}),
        status: true,
        columns,
        categories: &["extensions"],
    }
}

/// Every extension CRD (installed by [`crate::bootstrap::install_crds`]).
// A data table (one schema per extension CRD); splitting it would only scatter the definitions.
#[allow(clippy::too_many_lines)]
pub fn all() -> Vec<Value> {
    let mut version_spec = info_props();
    for (k, v) in json!({
        "version": string(), "keywords": strings(), "repository": string(),
        "category": string(), "ksVersion": string(), "kubeVersion": string(),
        "home": string(), "docs": string(), "digest": string(), "screenshots": strings(),
        "sources": strings(), "images": strings(),
        "dependencies": {"type": "array", "items": open_obj()},
        "externalDependencies": {"type": "array", "items": open_obj()},
        "chartDataRef": key_ref(), "chartURL": string(),
        "installationMode": {"type": "string", "enum": ["HostOnly", "Multicluster"]}
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
    {
        version_spec.insert(k, v);
    }
    let mut proxy_spec = serde_json::Map::new();
    proxy_spec.insert(
        "matcher".into(),
        obj(json!({"path": string(), "method": string()})),
    );
    proxy_spec.insert("upstream".into(), obj(Value::Object(endpoint_props())));
    proxy_spec.insert(
        "directives".into(),
        obj(json!({
            "method": string(), "stripPathPrefix": string(), "stripPathSuffix": string(),
            "rewrite": strings(), "replace": strings(), "pathRegexp": strings(),
            "headerUp": strings(), "headerDown": strings(), "changeOrigin": boolean(),
            "interceptRedirects": boolean(), "wrapTransport": boolean(), "authProxy": boolean()
        })),
    );
    let mut raw_from = endpoint_props();
    raw_from.insert("configMapKeyRef".into(), key_ref());
    raw_from.insert("secretKeyRef".into(), key_ref());
    let mut api_spec = endpoint_props();
    api_spec.insert("group".into(), string());
    api_spec.insert("version".into(), string());
    let placement = obj(json!({"clusters": strings(), "clusterSelector": open_obj()}));
    let install_status = obj(json!({
        "state": {"type": "string"}, "conditions": conditions(),
        "stateHistory": state_history(), "targetNamespace": string(),
        "releaseName": string(), "version": string(), "observedGeneration": {"type": "integer"},
        // Orrery's: what the installer last acted on (spec and retry annotation).
        "specHash": string(),
        "clusterSchedulingStatuses": {"type": "object", "additionalProperties": obj(json!({
            "state": string(), "releaseName": string(), "targetNamespace": string(),
            "version": string(), "conditions": conditions(), "stateHistory": state_history(),
            "specHash": string()
        }))}
    }));
    let kinds = vec![
        kind(
            CORE,
            "Repository",
            "repositories",
            obj(json!({
                "url": string(), "image": string(), "description": string(),
                "caBundle": string(), "insecure": boolean(),
                "depth": {"type": "integer", "minimum": 0},
                "basicAuth": obj(json!({"username": string(), "password": string()})),
                "updateStrategy": obj(json!({
                    "interval": string(), "timeout": string(),
                    "registryPoll": obj(json!({"interval": string()}))
                }))
            })),
            obj(json!({
                "lastSyncTime": {"type": "string", "format": "date-time"},
                "conditions": conditions(),
                // Orrery's: the sync's outcome in words, and what it acted on.
                "state": string(), "message": string(),
                "observedGeneration": {"type": "integer"}, "observedSyncRequest": string()
            })),
            vec![
                col("URL", ".spec.url", "string"),
                col("State", ".status.state", "string"),
                age(),
            ],
        ),
        kind(
            CORE,
            "Extension",
            "extensions",
            obj(Value::Object(info_props())),
            obj(json!({
                "state": string(), "enabled": boolean(), "conditions": conditions(),
                "installedVersion": string(), "plannedInstallVersion": string(),
                "recommendedVersion": string(),
                "versions": {"type": "array", "items": obj(json!({
                    "version": string(), "ksVersion": string(), "kubeVersion": string()
                }))},
                "clusterSchedulingStatuses": {"type": "object", "additionalProperties": open_obj()}
            })),
            vec![
                col("State", ".status.state", "string"),
                col("Installed", ".status.installedVersion", "string"),
                age(),
            ],
        ),
        kind(
            CORE,
            "ExtensionVersion",
            "extensionversions",
            obj(Value::Object(version_spec)),
            open_obj(),
            vec![col("Version", ".spec.version", "string"), age()],
        ),
        kind(
            CORE,
            "Category",
            "categories",
            obj(
                json!({"displayName": locale_map(), "description": locale_map(),
                "icon": string()}),
            ),
            open_obj(),
            vec![age()],
        ),
        kind(
            CORE,
            "InstallPlan",
            "installplans",
            obj(json!({
                "extension": {"type": "object", "required": ["name"], "properties": {
                    "name": string(), "version": string()
                }},
                "enabled": boolean(),
                "upgradeStrategy": {"type": "string", "enum": ["Manual", "Automatic"]},
                "config": string(),
                "clusterScheduling": obj(json!({
                    "placement": placement,
                    "overrides": {"type": "object", "additionalProperties": string()}
                }))
            })),
            install_status,
            vec![
                col("Extension", ".spec.extension.name", "string"),
                col("Version", ".spec.extension.version", "string"),
                col("State", ".status.state", "string"),
                age(),
            ],
        ),
        kind(
            ROUTING,
            "APIService",
            "apiservices",
            obj(Value::Object(api_spec)),
            routing_status(),
            vec![
                col("Group", ".spec.group", "string"),
                col("Version", ".spec.version", "string"),
                col("State", ".status.state", "string"),
                age(),
            ],
        ),
        kind(
            ROUTING,
            "ReverseProxy",
            "reverseproxies",
            obj(Value::Object(proxy_spec)),
            routing_status(),
            vec![
                col("Path", ".spec.matcher.path", "string"),
                col("State", ".status.state", "string"),
                age(),
            ],
        ),
        kind(
            ROUTING,
            "JSBundle",
            "jsbundles",
            obj(json!({
                "raw": {"type": "string", "format": "byte"},
                "rawFrom": obj(Value::Object(raw_from)),
                "assets": open_obj()
            })),
            routing_status(),
            vec![
                col("Link", ".status.link", "string"),
                col("State", ".status.state", "string"),
                age(),
            ],
        ),
        kind(
            ROUTING,
            "ExtensionEntry",
            "extensionentries",
            obj(json!({"entries": {"type": "array", "items": open_obj()}})),
            open_obj(),
            vec![age()],
        ),
    ];
    kinds.into_iter().map(crd).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn nine_cluster_scoped_kinds_in_two_groups() {
        let all = super::all();
        assert_eq!(all.len(), 9);
        for c in &all {
            assert_eq!(c["spec"]["scope"], "Cluster");
            let group = c["spec"]["group"].as_str().unwrap_or_default();
            assert!(group == super::CORE || group == super::ROUTING, "{group}");
            let name = c["metadata"]["name"].as_str().unwrap_or_default();
            let plural = c["spec"]["names"]["plural"].as_str().unwrap_or_default();
            assert_eq!(name, format!("{plural}.{group}"));
            assert!(c["spec"]["versions"][0]["subresources"]["status"].is_object());
        }
        // No name shared with the platform's own CRDs.
        let platform: Vec<_> = crate::crds::all()
            .iter()
            .map(|c| c["metadata"]["name"].clone())
            .collect();
        assert!(
            all.iter()
                .all(|c| !platform.contains(&c["metadata"]["name"]))
        );
    }
}
