//! The builders of the objects the API and the controllers create (role bindings at each level,
//! a workspace's and a project's built-in roles, owner references) and the names they share.

use serde_json::{Value, json};

use crate::builtin::{self, BuiltinRole};
use crate::kinds::Kind;

/// The workspace holding the system namespaces.
pub const SYSTEM_WORKSPACE: &str = "system-workspace";
/// The label tying a namespace (or role) to a workspace.
pub const WORKSPACE_LABEL: &str = "kubesphere.io/workspace";

fn subject(user: &str) -> Value {
    json!([{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}])
}

fn binding_labels(user: &str, role: &str) -> Value {
    json!({"iam.kubesphere.io/user-ref": user, "iam.kubesphere.io/role-ref": role})
}

/// A GlobalRoleBinding `<user>-<role>`.
pub fn global_role_binding(user: &str, role: &str) -> Value {
    json!({
        "metadata": {"name": format!("{user}-{role}"), "labels": binding_labels(user, role)},
        "subjects": subject(user),
        "roleRef": {"apiGroup": "iam.kubesphere.io", "kind": "GlobalRole", "name": role},
    })
}

/// A WorkspaceRoleBinding `<user>-<role>` in workspace `ws`.
pub fn workspace_role_binding(ws: &str, user: &str, role: &str) -> Value {
    let mut labels = binding_labels(user, role);
    labels[WORKSPACE_LABEL] = ws.into();
    json!({
        "metadata": {"name": format!("{user}-{role}"), "labels": labels},
        "subjects": subject(user),
        "roleRef": {"apiGroup": "iam.kubesphere.io", "kind": "WorkspaceRole", "name": role},
    })
}

/// An iam RoleBinding `<user>-<role>` in namespace `ns`.
pub fn role_binding(ns: &str, user: &str, role: &str) -> Value {
    json!({
        "metadata": {"name": format!("{user}-{role}"), "namespace": ns, "labels": binding_labels(user, role)},
        "subjects": subject(user),
        "roleRef": {"apiGroup": "iam.kubesphere.io", "kind": "Role", "name": role},
    })
}

/// An iam ClusterRoleBinding `<user>-<role>`.
pub fn cluster_role_binding(user: &str, role: &str) -> Value {
    json!({
        "metadata": {"name": format!("{user}-{role}"), "labels": binding_labels(user, role)},
        "subjects": subject(user),
        "roleRef": {"apiGroup": "iam.kubesphere.io", "kind": "ClusterRole", "name": role},
    })
}

pub(crate) fn role_object(
    name: &str,
    role: &BuiltinRole,
    labels: Value,
    namespace: Option<&str>,
) -> Value {
    let mut meta = json!({"name": name, "labels": labels, "annotations": {"iam.kubesphere.io/builtin": "true"}});
    if let Some(ns) = namespace {
        meta["namespace"] = ns.into();
    }
    json!({
        "metadata": meta,
        "rules": builtin::builtin_rules(role),
        "aggregationRoleTemplates": {"templateNames": role.templates},
    })
}

/// The built-in WorkspaceRoles of `ws` (`<ws>-admin`…), owned by its Workspace when `owner`
/// (the Workspace object) is given.
pub fn workspace_roles(ws: &str, owner: Option<&Value>) -> Vec<Value> {
    builtin::workspace_roles()
        .iter()
        .map(|r| {
            let mut o = role_object(
                &format!("{ws}-{}", r.name),
                r,
                json!({WORKSPACE_LABEL: ws}),
                None,
            );
            if let Some(owner) = owner {
                o["metadata"]["ownerReferences"] = owner_ref(Kind::Workspace, owner);
            }
            o
        })
        .collect()
}

/// The built-in Roles of a project (`admin`, `operator`, `viewer`).
pub fn namespace_roles(ns: &str) -> Vec<Value> {
    builtin::namespace_roles()
        .iter()
        .map(|r| role_object(r.name, r, json!({}), Some(ns)))
        .collect()
}

/// An ownerReferences list pointing at `owner`.
pub fn owner_ref(kind: Kind, owner: &Value) -> Value {
    json!([{
        "apiVersion": kind.api_version(), "kind": kind.kind(),
        "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
    }])
}

/// A Workspace for a WorkspaceTemplate.
pub fn workspace_for_template(template: &Value) -> Value {
    let name = template["metadata"]["name"].clone();
    let mut meta = template["spec"]["template"]["metadata"].clone();
    if !meta.is_object() {
        meta = json!({});
    }
    meta["name"] = name;
    meta["ownerReferences"] = owner_ref(Kind::WorkspaceTemplate, template);
    let manager = template["spec"]["template"]["spec"]["manager"].clone();
    json!({"metadata": meta, "spec": {"manager": manager}})
}
