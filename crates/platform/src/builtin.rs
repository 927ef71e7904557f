//! The built-in role templates and roles of SPEC §3 (data, no I/O).
//!
//! Templates are the unit of permission the console shows (by scope and category, in English
//! and Chinese); every built-in role except the `*` admins is the union of some templates.

use serde_json::{Value, json};

/// A role template: a named, translated bundle of rules at one scope.
pub struct Template {
    /// Object name.
    pub name: &'static str,
    /// `global`, `cluster`, `workspace` or `namespace`.
    pub scope: &'static str,
    /// Console grouping.
    pub category: &'static str,
    /// English display name.
    pub en: &'static str,
    /// Chinese display name.
    pub zh: &'static str,
    /// The PolicyRules.
    pub rules: Value,
}

const VIEW: [&str; 3] = ["get", "list", "watch"];

fn r(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

/// Reading everything but Secrets. RBAC cannot subtract, and a list would show every Secret's
/// data, so (like Kubernetes' `view`) the readable core resources are named one by one and the
/// other groups are named whole: Secrets exist only in the core group. Custom resources of
/// groups not named here need a role template that grants them.
pub fn view_all_but_secrets() -> Vec<Value> {
    vec![
        r(&[""], CORE_READABLE, &VIEW),
        r(NON_CORE_GROUPS, &["*"], &VIEW),
    ]
}

/// Core resources a viewer reads (every core resource but Secrets and the streams into pods).
pub const CORE_READABLE: &[&str] = &[
    "bindings",
    "componentstatuses",
    "configmaps",
    "endpoints",
    "events",
    "limitranges",
    "namespaces",
    "namespaces/status",
    "nodes",
    "nodes/status",
    "persistentvolumeclaims",
    "persistentvolumeclaims/status",
    "persistentvolumes",
    "persistentvolumes/status",
    "pods",
    "pods/log",
    "pods/status",
    "podtemplates",
    "replicationcontrollers",
    "replicationcontrollers/scale",
    "replicationcontrollers/status",
    "resourcequotas",
    "resourcequotas/status",
    "serviceaccounts",
    "services",
    "services/status",
];

/// API groups a viewer reads whole.
pub const NON_CORE_GROUPS: &[&str] = &[
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "networking.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "storage.k8s.io",
    "coordination.k8s.io",
    "metrics.k8s.io",
    "node.k8s.io",
    "scheduling.k8s.io",
    "apiextensions.k8s.io",
    "rbac.authorization.k8s.io",
    "kubesphere.io",
    "iam.kubesphere.io",
    "tenant.kubesphere.io",
    "cluster.kubesphere.io",
    "application.kubesphere.io",
    "extensions.kubesphere.io",
    "resources.kubesphere.io",
    "search.orrery.io",
    "alerting.kubesphere.io",
];

fn t(
    name: &'static str,
    scope: &'static str,
    category: &'static str,
    en: &'static str,
    zh: &'static str,
    rules: Vec<Value>,
) -> Template {
    Template {
        name,
        scope,
        category,
        en,
        zh,
        rules: Value::Array(rules),
    }
}

/// Every built-in role template.
// A data table (one entry per role template); splitting it would only scatter the catalog.
#[allow(clippy::too_many_lines)]
pub fn templates() -> Vec<Template> {
    let iam = "iam.kubesphere.io";
    let tenant = "tenant.kubesphere.io";
    let cluster = "cluster.kubesphere.io";
    let app = "application.kubesphere.io";
    let users = ["users", "users/loginrecords", "loginrecords"];
    let global_roles = ["globalroles", "globalrolebindings", "roletemplates"];
    let ws = ["workspaces", "workspacetemplates"];
    // A workspace's settings include its quotas in each cluster.
    let ws_settings = ["workspaces", "workspacetemplates", "resourcequotas"];
    let ws_members = [
        "workspacemembers",
        "groups",
        "groupbindings",
        "workspaceroles",
        "workspacerolebindings",
        "roletemplates",
    ];
    let ns_members = ["namespacemembers", "roles", "rolebindings", "roletemplates"];
    let workloads = [
        "deployments",
        "deployments/scale",
        "statefulsets",
        "statefulsets/scale",
        "daemonsets",
        "replicasets",
        "pods",
        "pods/log",
        "pods/exec",
        "jobs",
        "cronjobs",
    ];
    let config = ["configmaps", "secrets", "serviceaccounts"];
    let network = [
        "services",
        "endpoints",
        "endpointslices",
        "ingresses",
        "networkpolicies",
    ];
    let storage = ["persistentvolumeclaims"];
    let settings = ["namespaces", "resourcequotas", "limitranges"];
    vec![
        t(
            "global-users-view",
            "global",
            "access-control",
            "User Viewing",
            "用户查看",
            vec![r(&[iam], &users, &VIEW)],
        ),
        t(
            "global-users-manage",
            "global",
            "access-control",
            "User Management",
            "用户管理",
            vec![r(&[iam], &users, &["*"])],
        ),
        t(
            "global-roles-view",
            "global",
            "access-control",
            "Role Viewing",
            "角色查看",
            vec![r(&[iam], &global_roles, &VIEW)],
        ),
        t(
            "global-roles-manage",
            "global",
            "access-control",
            "Role Management",
            "角色管理",
            vec![r(&[iam], &global_roles, &["*"])],
        ),
        t(
            "global-workspaces-view",
            "global",
            "workspaces",
            "Workspace Viewing",
            "企业空间查看",
            vec![r(&[tenant], &ws, &VIEW)],
        ),
        t(
            "global-workspaces-manage",
            "global",
            "workspaces",
            "Workspace Management",
            "企业空间管理",
            vec![r(&[tenant, iam], &["*"], &["*"])],
        ),
        t(
            "global-workspaces-create",
            "global",
            "workspaces",
            "Workspace Creation",
            "企业空间创建",
            vec![r(&[tenant], &["workspacetemplates"], &["create"])],
        ),
        t(
            "global-clusters-view",
            "global",
            "clusters",
            "Cluster Viewing",
            "集群查看",
            vec![r(&[cluster], &["clusters", "labels"], &VIEW)],
        ),
        t(
            "global-clusters-manage",
            "global",
            "clusters",
            "Cluster Management",
            "集群管理",
            vec![r(&[cluster], &["*"], &["*"])],
        ),
        t(
            "global-apps-view",
            "global",
            "app-store",
            "App Store Viewing",
            "应用商店查看",
            vec![r(&[app], &["*"], &VIEW)],
        ),
        t(
            "global-apps-manage",
            "global",
            "app-store",
            "App Store Management",
            "应用商店管理",
            vec![r(&[app], &["*"], &["*"])],
        ),
        t(
            "global-apps-review",
            "global",
            "app-store",
            "App Review",
            "应用审核",
            vec![
                r(
                    &[app],
                    &["reviews", "apps", "apps/versions", "categories"],
                    &VIEW,
                ),
                r(&[app], &["reviews"], &["update"]),
            ],
        ),
        t(
            // Every workspace's audit events and those of no workspace (users, clusters…).
            "global-auditing-view",
            "global",
            "auditing",
            "Audit Log Viewing",
            "审计日志查看",
            vec![r(&[tenant], &["auditing"], &VIEW)],
        ),
        t(
            "cluster-resources-view",
            "cluster",
            "cluster-resources",
            "Cluster Resource Viewing",
            "集群资源查看",
            view_all_but_secrets(),
        ),
        t(
            "cluster-resources-manage",
            "cluster",
            "cluster-resources",
            "Cluster Resource Management",
            "集群资源管理",
            vec![r(&["*"], &["*"], &["*"])],
        ),
        t(
            "cluster-nodes-view",
            "cluster",
            "cluster-resources",
            "Node Viewing",
            "节点查看",
            vec![r(&[""], &["nodes", "nodes/status"], &VIEW)],
        ),
        t(
            "cluster-projects-manage",
            "cluster",
            "projects",
            "Project Management",
            "项目管理",
            vec![r(&[""], &["namespaces"], &["*"])],
        ),
        t(
            "cluster-members-view",
            "cluster",
            "access-control",
            "Cluster Member Viewing",
            "集群成员查看",
            vec![r(
                &[iam],
                &[
                    "clustermembers",
                    "clusterroles",
                    "clusterrolebindings",
                    "roletemplates",
                ],
                &VIEW,
            )],
        ),
        t(
            "cluster-members-manage",
            "cluster",
            "access-control",
            "Cluster Member Management",
            "集群成员管理",
            vec![r(
                &[iam],
                &["clustermembers", "clusterroles", "clusterrolebindings"],
                &["*"],
            )],
        ),
        t(
            "workspace-view",
            "workspace",
            "workspace-settings",
            "Workspace Settings Viewing",
            "企业空间设置查看",
            vec![r(&[tenant], &ws_settings, &VIEW)],
        ),
        t(
            "workspace-settings-manage",
            "workspace",
            "workspace-settings",
            "Workspace Settings Management",
            "企业空间设置管理",
            vec![r(&[tenant], &ws_settings, &["*"])],
        ),
        t(
            // The audit events of the workspace (requests on it and in its projects).
            "workspace-auditing-view",
            "workspace",
            "auditing",
            "Audit Log Viewing",
            "审计日志查看",
            vec![r(&[tenant], &["auditing"], &VIEW)],
        ),
        t(
            "workspace-members-view",
            "workspace",
            "access-control",
            "Workspace Member Viewing",
            "企业空间成员查看",
            vec![r(&[iam], &ws_members, &VIEW)],
        ),
        t(
            "workspace-members-manage",
            "workspace",
            "access-control",
            "Workspace Member Management",
            "企业空间成员管理",
            vec![r(&[iam], &ws_members, &["*"])],
        ),
        t(
            "workspace-projects-view",
            "workspace",
            "projects",
            "Project Viewing",
            "项目查看",
            [
                vec![r(&["", tenant], &["namespaces"], &VIEW)],
                view_all_but_secrets(),
            ]
            .concat(),
        ),
        t(
            "workspace-projects-create",
            "workspace",
            "projects",
            "Project Creation",
            "项目创建",
            vec![r(&["", tenant], &["namespaces"], &["create"])],
        ),
        t(
            "workspace-projects-manage",
            "workspace",
            "projects",
            "Project Management",
            "项目管理",
            vec![r(&["*"], &["*"], &["*"])],
        ),
        t(
            "workspace-app-templates-view",
            "workspace",
            "app-templates",
            "App Template Viewing",
            "应用模板查看",
            vec![r(
                &[app],
                &["apps", "apps/versions", "applications", "repos"],
                &VIEW,
            )],
        ),
        t(
            "workspace-app-templates-manage",
            "workspace",
            "app-templates",
            "App Template Management",
            "应用模板管理",
            vec![r(
                &[app],
                &["apps", "apps/versions", "repos", "repos/action"],
                &["*"],
            )],
        ),
        t(
            "namespace-apps-manage",
            "namespace",
            "applications",
            "App Management",
            "应用管理",
            vec![r(
                &[app],
                &[
                    "applications",
                    "applications/action",
                    "applications/history",
                    "applications/resources",
                ],
                &["*"],
            )],
        ),
        t(
            "namespace-resources-view",
            "namespace",
            "project-resources",
            "Project Resource Viewing",
            "项目资源查看",
            view_all_but_secrets(),
        ),
        t(
            "namespace-resources-manage",
            "namespace",
            "project-resources",
            "Project Resource Management",
            "项目资源管理",
            vec![r(&["*"], &["*"], &["*"])],
        ),
        t(
            "namespace-workloads-manage",
            "namespace",
            "workloads",
            "Workload Management",
            "工作负载管理",
            vec![r(&["", "apps", "batch"], &workloads, &["*"])],
        ),
        t(
            "namespace-config-manage",
            "namespace",
            "configuration",
            "Configuration Management",
            "配置管理",
            vec![r(&[""], &config, &["*"])],
        ),
        t(
            "namespace-secrets-view",
            "namespace",
            "configuration",
            "Secret Viewing",
            "保密字典查看",
            vec![r(&[""], &["secrets"], &VIEW)],
        ),
        t(
            "namespace-network-manage",
            "namespace",
            "networking",
            "Network Management",
            "网络管理",
            vec![r(
                &["", "networking.k8s.io", "discovery.k8s.io"],
                &network,
                &["*"],
            )],
        ),
        t(
            "namespace-storage-manage",
            "namespace",
            "storage",
            "Storage Management",
            "存储管理",
            vec![r(&[""], &storage, &["*"])],
        ),
        t(
            "namespace-members-view",
            "namespace",
            "access-control",
            "Project Member Viewing",
            "项目成员查看",
            vec![r(&[iam], &ns_members, &VIEW)],
        ),
        t(
            "namespace-members-manage",
            "namespace",
            "access-control",
            "Project Member Management",
            "项目成员管理",
            vec![r(&[iam], &ns_members, &["*"])],
        ),
        t(
            "namespace-settings-view",
            "namespace",
            "project-settings",
            "Project Settings Viewing",
            "项目设置查看",
            vec![r(&["", tenant], &settings, &VIEW)],
        ),
        t(
            "namespace-settings-manage",
            "namespace",
            "project-settings",
            "Project Settings Management",
            "项目设置管理",
            vec![r(&["", tenant], &settings, &["*"])],
        ),
    ]
}

/// A built-in role: either explicit rules or a union of templates.
pub struct BuiltinRole {
    /// Name (for workspace roles, the suffix after `<ws>-`).
    pub name: &'static str,
    /// Templates whose rules it aggregates.
    pub templates: &'static [&'static str],
    /// Rules beyond the templates (the `*` admin).
    pub extra_rules: Value,
}

fn role(name: &'static str, templates: &'static [&'static str]) -> BuiltinRole {
    BuiltinRole {
        name,
        templates,
        extra_rules: json!([]),
    }
}

/// Built-in GlobalRoles.
pub fn global_roles() -> Vec<BuiltinRole> {
    vec![
        BuiltinRole {
            // As KubeSphere's: `*`, and every global template (what the console reads).
            name: "platform-admin",
            templates: &[
                "global-apps-manage",
                "global-apps-view",
                "global-auditing-view",
                "global-clusters-manage",
                "global-clusters-view",
                "global-roles-manage",
                "global-roles-view",
                "global-users-manage",
                "global-users-view",
                "global-workspaces-create",
                "global-workspaces-manage",
                "global-workspaces-view",
            ],
            extra_rules: json!([
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]}
            ]),
        },
        role("platform-regular", &[]),
        role("platform-self-provisioner", &["global-workspaces-create"]),
    ]
}

/// Built-in WorkspaceRoles, by suffix (`<ws>-admin`…).
pub fn workspace_roles() -> Vec<BuiltinRole> {
    vec![
        role(
            "admin",
            &[
                "workspace-view",
                "workspace-settings-manage",
                "workspace-members-manage",
                "workspace-projects-manage",
                "workspace-app-templates-manage",
                "workspace-auditing-view",
            ],
        ),
        role(
            "regular",
            &[
                "workspace-view",
                "workspace-members-view",
                "workspace-app-templates-view",
            ],
        ),
        role(
            "self-provisioner",
            &["workspace-view", "workspace-projects-create"],
        ),
        role(
            "viewer",
            &[
                "workspace-view",
                "workspace-members-view",
                "workspace-projects-view",
                "workspace-app-templates-view",
                "workspace-auditing-view",
            ],
        ),
    ]
}

/// Built-in namespace Roles (created in every project).
pub fn namespace_roles() -> Vec<BuiltinRole> {
    vec![
        role(
            "admin",
            &[
                "namespace-resources-manage",
                "namespace-members-manage",
                "namespace-settings-manage",
            ],
        ),
        role(
            "operator",
            &[
                "namespace-resources-view",
                "namespace-workloads-manage",
                "namespace-config-manage",
                "namespace-network-manage",
                "namespace-storage-manage",
                "namespace-apps-manage",
                "namespace-members-view",
                "namespace-settings-view",
            ],
        ),
        role(
            "viewer",
            &[
                "namespace-resources-view",
                "namespace-members-view",
                "namespace-settings-view",
            ],
        ),
    ]
}

/// Built-in iam ClusterRoles.
pub fn cluster_roles() -> Vec<BuiltinRole> {
    vec![
        role(
            "cluster-admin",
            &["cluster-resources-manage", "cluster-members-manage"],
        ),
        role(
            "cluster-viewer",
            &["cluster-resources-view", "cluster-members-view"],
        ),
    ]
}

/// The rules of a built-in role, computed from the built-in templates as aggregation computes
/// them (its own rules, then the templates' rules they do not cover).
pub fn builtin_rules(role: &BuiltinRole) -> Value {
    let all = templates();
    let own: Vec<Value> = role.extra_rules.as_array().cloned().unwrap_or_default();
    let named: Vec<Value> = role
        .templates
        .iter()
        .filter_map(|name| all.iter().find(|t| t.name == *name))
        .map(|t| json!({"spec": {"rules": t.rules}}))
        .collect();
    Value::Array(crate::controllers::aggregation::merge_rules(&own, &named))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_referenced_template_exists_and_names_are_unique() {
        let all = templates();
        let mut names: Vec<_> = all.iter().map(|t| t.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for r in global_roles()
            .iter()
            .chain(&workspace_roles())
            .chain(&namespace_roles())
            .chain(&cluster_roles())
        {
            for t in r.templates {
                let tpl = all.iter().find(|x| x.name == *t);
                assert!(tpl.is_some(), "{} references missing template {t}", r.name);
            }
        }
        for scope in ["global", "cluster", "workspace", "namespace"] {
            assert!(all.iter().any(|t| t.scope == scope));
        }
    }

    #[test]
    fn regular_has_no_rules_and_admin_has_star() {
        let g = global_roles();
        assert_eq!(builtin_rules(&g[1]), json!([]));
        assert!(builtin_rules(&g[0]).to_string().contains("nonResourceURLs"));
    }
}
