//! The platform's CustomResourceDefinitions (iam, tenant, cluster and quota groups), written by
//! hand.

use serde_json::{Value, json};

/// Group of identity and access kinds.
pub const IAM: &str = "iam.kubesphere.io";
/// Group of tenancy kinds.
pub const TENANT: &str = "tenant.kubesphere.io";
/// Group of multi-cluster kinds.
pub const CLUSTER: &str = "cluster.kubesphere.io";
/// Group of workspace quotas.
pub const QUOTA: &str = "quota.kubesphere.io";
/// Group of the App Store.
pub const APPLICATION: &str = "application.kubesphere.io";
/// Group of alerting rule groups.
pub const ALERTING: &str = "alerting.kubesphere.io";
/// Group of notification configurations, receivers and silences.
pub const NOTIFICATION: &str = "notification.kubesphere.io";

pub(crate) fn obj(props: Value) -> Value {
    json!({"type": "object", "properties": props})
}

pub(crate) fn open_obj() -> Value {
    json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}

pub(crate) fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

pub(crate) fn locale_map() -> Value {
    json!({"type": "object", "additionalProperties": {"type": "string"}})
}

fn policy_rules() -> Value {
    json!({"type": "array", "items": {"type": "object", "properties": {
        "verbs": strings(), "apiGroups": strings(), "resources": strings(),
        "resourceNames": strings(), "nonResourceURLs": strings()
    }, "required": ["verbs"]}})
}

fn aggregation() -> Value {
    obj(json!({"templateNames": strings(), "roleSelector": open_obj()}))
}

fn role_ref() -> Value {
    json!({"type": "object", "properties": {
        "apiGroup": {"type": "string"}, "kind": {"type": "string"}, "name": {"type": "string"}
    }, "required": ["kind", "name"]})
}

fn subjects() -> Value {
    json!({"type": "array", "items": {"type": "object", "properties": {
        "apiGroup": {"type": "string"}, "kind": {"type": "string"},
        "name": {"type": "string"}, "namespace": {"type": "string"}
    }, "required": ["kind", "name"]}})
}

/// A `ResourceList`: quantities (strings or integers) by resource name.
fn quantities() -> Value {
    json!({"type": "object", "additionalProperties": {
        "anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": true
    }})
}

/// core/v1 `ResourceQuotaSpec`.
fn resource_quota_spec() -> Value {
    obj(json!({"hard": quantities(), "scopes": strings(), "scopeSelector": open_obj()}))
}

/// core/v1 `ResourceQuotaStatus`.
fn resource_quota_status() -> Value {
    obj(json!({"hard": quantities(), "used": quantities()}))
}

pub(crate) fn col(name: &str, path: &str, ty: &str) -> Value {
    json!({"name": name, "jsonPath": path, "type": ty})
}

pub(crate) fn age() -> Value {
    col("Age", ".metadata.creationTimestamp", "date")
}

pub(crate) struct Kind {
    pub(crate) group: &'static str,
    pub(crate) version: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) plural: &'static str,
    pub(crate) namespaced: bool,
    /// Properties at the top level of the object besides metadata.
    pub(crate) props: Value,
    pub(crate) status: bool,
    pub(crate) columns: Vec<Value>,
    pub(crate) categories: &'static [&'static str],
}

pub(crate) fn crd(k: Kind) -> Value {
    let mut props = k.props.as_object().cloned().unwrap_or_default();
    props.insert("apiVersion".into(), json!({"type": "string"}));
    props.insert("kind".into(), json!({"type": "string"}));
    props.insert("metadata".into(), json!({"type": "object"}));
    let mut version = json!({
        "name": k.version, "served": true, "storage": true,
        "schema": {"openAPIV3Schema": {"type": "object", "properties": props}},
        "additionalPrinterColumns": k.columns,
    });
    if k.status {
        version["subresources"] = json!({"status": {}});
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{}.{}", k.plural, k.group)},
        "spec": {
            "group": k.group,
            "names": {
                "kind": k.kind, "listKind": format!("{}List", k.kind), "plural": k.plural,
                "singular": k.kind.to_ascii_lowercase(), "categories": k.categories,
            },
            "scope": if k.namespaced { "Namespaced" } else { "Cluster" },
            "versions": [version],
        }
    })
}

fn role_kind(kind: &'static str, plural: &'static str, namespaced: bool) -> Kind {
    Kind {
        group: IAM,
        version: "v1beta1",
        kind,
        plural,
        namespaced,
        props: json!({"rules": policy_rules(), "aggregationRoleTemplates": aggregation()}),
        status: false,
        columns: vec![age()],
        categories: &["iam"],
    }
}

fn binding_kind(kind: &'static str, plural: &'static str, namespaced: bool) -> Kind {
    Kind {
        group: IAM,
        version: "v1beta1",
        kind,
        plural,
        namespaced,
        props: json!({"subjects": subjects(), "roleRef": role_ref()}),
        status: false,
        columns: vec![col("Role", ".roleRef.name", "string"), age()],
        categories: &["iam"],
    }
}

/// An `application.kubesphere.io/v2` kind (cluster-scoped, as KubeSphere's): `spec` with the
/// given fields, and an open `status` (`state`, `message`, times…).
fn app_kind(kind: &'static str, plural: &'static str, spec: Value, columns: Vec<Value>) -> Kind {
    let mut spec_schema = obj(spec);
    spec_schema["x-kubernetes-preserve-unknown-fields"] = true.into();
    Kind {
        group: APPLICATION,
        version: "v2",
        kind,
        plural,
        namespaced: false,
        props: json!({"spec": spec_schema, "status": open_obj()}),
        status: true,
        columns,
        categories: &["appstore"],
    }
}

/// Every CRD the platform installs in the host cluster.
// A data table (one schema per CRD); splitting it would only scatter the definitions.
#[allow(clippy::too_many_lines)]
pub fn all() -> Vec<Value> {
    let user_spec = obj(json!({
        "email": {"type": "string"}, "lang": {"type": "string"},
        "description": {"type": "string"}, "displayName": {"type": "string"},
        "groups": strings(), "password": {"type": "string"}
    }));
    let user_status = obj(json!({
        "state": {"type": "string", "enum": ["Active", "Disabled", "AuthLimitExceeded"]},
        "reason": {"type": "string"},
        "lastTransitionTime": {"type": "string", "format": "date-time"},
        "lastLoginTime": {"type": "string", "format": "date-time"},
        "passwordChangeRequired": {"type": "boolean"}
    }));
    let kinds = vec![
        Kind {
            group: IAM,
            version: "v1beta1",
            kind: "User",
            plural: "users",
            namespaced: false,
            props: json!({"spec": user_spec, "status": user_status}),
            status: true,
            columns: vec![
                col("Email", ".spec.email", "string"),
                col("Status", ".status.state", "string"),
                age(),
            ],
            categories: &["iam"],
        },
        role_kind("GlobalRole", "globalroles", false),
        role_kind("WorkspaceRole", "workspaceroles", false),
        role_kind("ClusterRole", "clusterroles", false),
        role_kind("Role", "roles", true),
        binding_kind("GlobalRoleBinding", "globalrolebindings", false),
        binding_kind("WorkspaceRoleBinding", "workspacerolebindings", false),
        binding_kind("ClusterRoleBinding", "clusterrolebindings", false),
        binding_kind("RoleBinding", "rolebindings", true),
        Kind {
            group: IAM,
            version: "v1beta1",
            kind: "RoleTemplate",
            plural: "roletemplates",
            namespaced: false,
            props: json!({"spec": obj(json!({
                "displayName": locale_map(), "description": locale_map(), "rules": policy_rules()
            }))}),
            status: false,
            columns: vec![
                col(
                    "Scope",
                    ".metadata.labels.iam\\.kubesphere\\.io/scope",
                    "string",
                ),
                col(
                    "Category",
                    ".metadata.labels.iam\\.kubesphere\\.io/category",
                    "string",
                ),
                age(),
            ],
            categories: &["iam"],
        },
        Kind {
            group: IAM,
            version: "v1beta1",
            kind: "LoginRecord",
            plural: "loginrecords",
            namespaced: false,
            props: json!({"spec": obj(json!({
                "type": {"type": "string"}, "provider": {"type": "string"},
                "sourceIP": {"type": "string"}, "userAgent": {"type": "string"},
                "success": {"type": "boolean"}, "reason": {"type": "string"}
            }))}),
            status: false,
            columns: vec![
                col("Type", ".spec.type", "string"),
                col("Provider", ".spec.provider", "string"),
                col("From", ".spec.sourceIP", "string"),
                col("Success", ".spec.success", "boolean"),
                col("Reason", ".spec.reason", "string"),
                age(),
            ],
            categories: &["iam"],
        },
        Kind {
            group: IAM,
            version: "v1beta1",
            kind: "Group",
            plural: "groups",
            namespaced: false,
            props: json!({"spec": open_obj(), "status": open_obj()}),
            status: true,
            columns: vec![age()],
            categories: &["iam"],
        },
        Kind {
            group: IAM,
            version: "v1beta1",
            kind: "GroupBinding",
            plural: "groupbindings",
            namespaced: false,
            props: json!({"groupRef": role_ref(), "users": strings()}),
            status: false,
            columns: vec![col("Group", ".groupRef.name", "string"), age()],
            categories: &["iam"],
        },
        Kind {
            group: TENANT,
            version: "v1beta1",
            kind: "Workspace",
            plural: "workspaces",
            namespaced: false,
            props: json!({"spec": obj(json!({"manager": {"type": "string"}})), "status": open_obj()}),
            status: true,
            columns: vec![col("Manager", ".spec.manager", "string"), age()],
            categories: &["tenant"],
        },
        Kind {
            group: TENANT,
            version: "v1beta1",
            kind: "WorkspaceTemplate",
            plural: "workspacetemplates",
            namespaced: false,
            props: json!({"spec": obj(json!({
                "template": obj(json!({"metadata": open_obj(), "spec": obj(json!({"manager": {"type": "string"}}))})),
                "placement": obj(json!({
                    "clusters": {"type": "array", "items": obj(json!({"name": {"type": "string"}}))},
                    "clusterSelector": open_obj()
                }))
            })), "status": open_obj()}),
            status: true,
            columns: vec![
                col("Manager", ".spec.template.spec.manager", "string"),
                age(),
            ],
            categories: &["tenant"],
        },
        Kind {
            group: CLUSTER,
            version: "v1alpha1",
            kind: "Cluster",
            plural: "clusters",
            namespaced: false,
            props: json!({"spec": obj(json!({
                "provider": {"type": "string"}, "enable": {"type": "boolean"}, "joinFederation": {"type": "boolean"},
                "connection": obj(json!({
                    "type": {"type": "string", "enum": ["direct", "proxy"]},
                    "kubeconfig": {"type": "string", "format": "byte"},
                    "kubernetesAPIEndpoint": {"type": "string"}, "token": {"type": "string"},
                    "kubeconfigSecretRef": open_obj()
                })),
                "config": {"type": "string", "format": "byte"}
            })), "status": obj(json!({
                "conditions": {"type": "array", "items": open_obj()},
                "kubernetesVersion": {"type": "string"}, "nodeCount": {"type": "integer"},
                "zones": strings(), "region": {"type": "string"}, "uid": {"type": "string"},
                "configz": open_obj()
            }))}),
            status: true,
            columns: vec![
                col("Provider", ".spec.provider", "string"),
                col("Version", ".status.kubernetesVersion", "string"),
                age(),
            ],
            categories: &["cluster"],
        },
        Kind {
            group: CLUSTER,
            version: "v1alpha1",
            kind: "Label",
            plural: "labels",
            namespaced: false,
            props: json!({"spec": obj(json!({"key": {"type": "string"}, "value": {"type": "string"}, "clusters": strings()}))}),
            status: false,
            columns: vec![
                col("Key", ".spec.key", "string"),
                col("Value", ".spec.value", "string"),
                age(),
            ],
            categories: &["cluster"],
        },
        Kind {
            group: QUOTA,
            version: "v1alpha2",
            kind: "ResourceQuota",
            plural: "resourcequotas",
            namespaced: false,
            props: json!({"spec": {"type": "object", "required": ["quota"], "properties": {
                "quota": resource_quota_spec(),
                "selector": locale_map()
            }}, "status": obj(json!({
                "total": resource_quota_status(),
                "namespaces": {"type": "array", "items": {"type": "object", "properties": {
                    "namespace": {"type": "string"},
                    "hard": quantities(), "used": quantities()
                }}}
            }))}),
            status: true,
            columns: vec![age()],
            categories: &["quota"],
        },
        app_kind(
            "Repo",
            "repos",
            json!({
                "url": {"type": "string"}, "description": {"type": "string"},
                "syncPeriod": {"type": "integer"},
                "credential": obj(json!({
                    "username": {"type": "string"}, "password": {"type": "string"},
                    "caData": {"type": "string"}, "certData": {"type": "string"},
                    "keyData": {"type": "string"}, "insecureSkipTLSVerify": {"type": "boolean"}
                })),
                "charts": strings()
            }),
            vec![
                col("URL", ".spec.url", "string"),
                col("State", ".status.state", "string"),
                age(),
            ],
        ),
        app_kind(
            "Category",
            "categories",
            json!({"icon": {"type": "string"}, "description": {"type": "string"}}),
            vec![age()],
        ),
        app_kind(
            "Application",
            "applications",
            json!({
                "appHome": {"type": "string"}, "appType": {"type": "string"},
                "icon": {"type": "string"}, "abstraction": {"type": "string"},
                "attachments": strings(), "resources": {"type": "array", "items": open_obj()}
            }),
            vec![
                col("Type", ".spec.appType", "string"),
                col("State", ".status.state", "string"),
                age(),
            ],
        ),
        app_kind(
            "ApplicationVersion",
            "applicationversions",
            json!({
                "versionName": {"type": "string"}, "appHome": {"type": "string"},
                "icon": {"type": "string"}, "created": {"type": "string", "format": "date-time"},
                "digest": {"type": "string"}, "appType": {"type": "string"},
                "maintainer": {"type": "array", "items": obj(json!({
                    "name": {"type": "string"}, "email": {"type": "string"}, "url": {"type": "string"}
                }))},
                "pullUrl": {"type": "string"}
            }),
            vec![
                col("Version", ".spec.versionName", "string"),
                col("State", ".status.state", "string"),
                age(),
            ],
        ),
        app_kind(
            "ApplicationRelease",
            "applicationreleases",
            json!({
                "appID": {"type": "string"}, "appVersionID": {"type": "string"},
                "values": {"type": "string", "format": "byte"}, "appType": {"type": "string"},
                "icon": {"type": "string"}
            }),
            vec![
                col(
                    "Cluster",
                    ".metadata.labels.kubesphere\\.io/cluster",
                    "string",
                ),
                col(
                    "Namespace",
                    ".metadata.labels.kubesphere\\.io/namespace",
                    "string",
                ),
                col("State", ".status.state", "string"),
                age(),
            ],
        ),
    ];
    kinds.into_iter().chain(alerting_kinds()).map(crd).collect()
}

/// KubeSphere's alerting (`alerting.kubesphere.io/v2beta1` rule groups at three levels) and
/// notification (`notification.kubesphere.io/v2beta2`) kinds; see `crate::alerting`.
fn alerting_kinds() -> Vec<Kind> {
    let selector = open_obj;
    let rule = json!({"type": "object", "required": ["alert", "expr"], "properties": {
        "alert": {"type": "string"}, "expr": {"type": "string"}, "for": {"type": "string"},
        "severity": {"type": "string"}, "labels": locale_map(), "annotations": locale_map(),
        "disable": {"type": "boolean"}
    }, "x-kubernetes-preserve-unknown-fields": true});
    let group_spec = json!({"type": "object", "properties": {
        "interval": {"type": "string"}, "partial_response_strategy": {"type": "string"},
        "rules": {"type": "array", "items": rule}
    }, "x-kubernetes-preserve-unknown-fields": true});
    let group = |kind, plural, namespaced| Kind {
        group: ALERTING,
        version: "v2beta1",
        kind,
        plural,
        namespaced,
        props: json!({"spec": group_spec.clone(), "status": open_obj()}),
        status: true,
        columns: vec![col("Interval", ".spec.interval", "string"), age()],
        categories: &["alerting"],
    };
    let notification = |kind, plural, spec: Value| Kind {
        group: NOTIFICATION,
        version: "v2beta2",
        kind,
        plural,
        namespaced: false,
        props: json!({"spec": spec, "status": open_obj()}),
        status: true,
        columns: vec![age()],
        categories: &["notification"],
    };
    let secret_key = obj(json!({"valueFrom": obj(json!({"secretKeyRef": obj(json!({
        "namespace": {"type": "string"}, "name": {"type": "string"}, "key": {"type": "string"}
    }))}))}));
    vec![
        group("GlobalRuleGroup", "globalrulegroups", false),
        group("ClusterRuleGroup", "clusterrulegroups", false),
        group("RuleGroup", "rulegroups", true),
        notification(
            "Config",
            "configs",
            obj(json!({"email": obj(json!({
                "smartHost": obj(json!({"host": {"type": "string"}, "port": {"type": "integer"}})),
                "from": {"type": "string"}, "authUsername": {"type": "string"},
                "authPassword": secret_key, "hello": {"type": "string"},
                "tls": obj(json!({"mode": {"type": "string", "enum": ["starttls", "tls", "none"]},
                    "rootCA": {"type": "string"}}))
            }))})),
        ),
        notification(
            "Receiver",
            "receivers",
            obj(json!({
                "webhook": obj(json!({"url": {"type": "string"}, "enabled": {"type": "boolean"},
                    "alertSelector": selector()})),
                "email": obj(json!({"to": strings(), "enabled": {"type": "boolean"},
                    "alertSelector": selector()}))
            })),
        ),
        notification(
            "Silence",
            "silences",
            obj(json!({
                "enabled": {"type": "boolean"}, "matcher": selector(),
                "startsAt": {"type": "string", "format": "date-time"},
                "endsAt": {"type": "string", "format": "date-time"},
                "duration": {"type": "string"}
            })),
        ),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_plural_dot_group_and_unique() {
        let all = super::all();
        let mut names: Vec<String> = all
            .iter()
            .map(|c| {
                c["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        for (c, n) in all.iter().zip(&names) {
            let plural = c["spec"]["names"]["plural"].as_str().unwrap_or_default();
            let group = c["spec"]["group"].as_str().unwrap_or_default();
            assert_eq!(*n, format!("{plural}.{group}"));
        }
        let len = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), len);
        assert_eq!(len, 29);
    }
}
