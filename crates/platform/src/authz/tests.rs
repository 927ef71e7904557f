//! The four levels, decided from hand-filled caches.

use std::sync::Arc;

use serde_json::json;

use super::scope::RequestInfo;
use super::{Access, Authorizer, UserInfo};
use crate::cache::Caches;
use crate::objects;

fn user(name: &str) -> UserInfo {
    UserInfo {
        name: name.into(),
        groups: vec!["system:authenticated".into()],
    }
}

fn setup() -> Authorizer {
    let c = Arc::new(Caches::new());
    for (ns, ws) in [("a-p", Some("a")), ("b-p", Some("b")), ("loose", None)] {
        let mut n = json!({"metadata": {"name": ns}});
        if let Some(ws) = ws {
            n["metadata"]["labels"] = json!({"kubesphere.io/workspace": ws});
        }
        c.namespaces.insert_object(n);
    }
    c.global_role_bindings
        .insert_object(objects::global_role_binding("root", "platform-admin"));
    c.workspace_role_bindings
        .insert_object(objects::workspace_role_binding("a", "wsadmin", "a-admin"));
    c.workspace_role_bindings
        .insert_object(objects::workspace_role_binding("a", "wsviewer", "a-viewer"));
    // A binding in workspace a that names workspace b's role must grant nothing.
    c.workspace_role_bindings
        .insert_object(objects::workspace_role_binding("a", "sneaky", "b-admin"));
    c.role_bindings
        .insert_object(objects::role_binding("a-p", "dev", "operator"));
    c.cluster_role_bindings
        .insert_object(objects::cluster_role_binding("ops", "cluster-viewer"));
    let mut group_binding = objects::role_binding("loose", "x", "viewer");
    group_binding["subjects"] = json!([{"kind": "Group", "name": "auditors"}]);
    c.role_bindings.insert_object(group_binding);
    Authorizer::new(c)
}

fn allowed(a: &Authorizer, who: &UserInfo, method: &str, path: &str) -> bool {
    a.authorize(who, &RequestInfo::parse(method, path, ""))
        .allowed()
}

#[test]
fn global_admin_is_allowed_everywhere() {
    let a = setup();
    for (m, p) in [
        ("DELETE", "/kapis/iam.kubesphere.io/v1beta1/users/x"),
        ("GET", "/api/v1/nodes"),
        ("POST", "/api/v1/namespaces/b-p/pods"),
        ("GET", "/metrics"),
    ] {
        assert!(allowed(&a, &user("root"), m, p), "{m} {p}");
    }
}

#[test]
fn workspace_roles_reach_the_workspace_projects_only() {
    let a = setup();
    let w = user("wsadmin");
    assert!(allowed(
        &a,
        &w,
        "DELETE",
        "/api/v1/namespaces/a-p/configmaps/c"
    ));
    assert!(allowed(
        &a,
        &w,
        "POST",
        "/kapis/tenant.kubesphere.io/v1beta1/workspaces/a/namespaces"
    ));
    assert!(!allowed(&a, &w, "GET", "/api/v1/namespaces/b-p/configmaps"));
    assert!(!allowed(
        &a,
        &w,
        "GET",
        "/kapis/tenant.kubesphere.io/v1beta1/workspaces/b"
    ));
    assert!(!allowed(
        &a,
        &w,
        "GET",
        "/api/v1/namespaces/loose/configmaps"
    ));
    assert!(!allowed(&a, &w, "GET", "/api/v1/nodes"));
    assert!(!allowed(
        &a,
        &w,
        "GET",
        "/kapis/iam.kubesphere.io/v1beta1/users"
    ));
    // A path naming workspace a cannot reach a namespace of workspace b.
    assert!(!allowed(
        &a,
        &w,
        "GET",
        "/kapis/tenant.kubesphere.io/v1beta1/workspaces/a/namespaces/b-p"
    ));
    let v = user("wsviewer");
    assert!(allowed(&a, &v, "GET", "/api/v1/namespaces/a-p/configmaps"));
    // Viewers do not read Secrets (a list would show their data).
    assert!(!allowed(&a, &v, "GET", "/api/v1/namespaces/a-p/secrets"));
    assert!(!allowed(&a, &v, "GET", "/api/v1/namespaces/a-p/secrets/s"));
    assert!(!allowed(
        &a,
        &v,
        "POST",
        "/api/v1/namespaces/a-p/configmaps"
    ));
    assert!(!allowed(
        &a,
        &user("sneaky"),
        "GET",
        "/kapis/tenant.kubesphere.io/v1beta1/workspaces/a"
    ));
}

#[test]
fn namespace_cluster_and_group_levels() {
    let a = setup();
    let d = user("dev");
    assert!(allowed(
        &a,
        &d,
        "POST",
        "/apis/apps/v1/namespaces/a-p/deployments"
    ));
    assert!(!allowed(
        &a,
        &d,
        "POST",
        "/kapis/iam.kubesphere.io/v1beta1/namespaces/a-p/namespacemembers"
    ));
    assert!(!allowed(&a, &d, "GET", "/api/v1/namespaces/b-p/pods"));
    let o = user("ops");
    assert!(allowed(&a, &o, "GET", "/api/v1/namespaces/b-p/pods"));
    assert!(allowed(&a, &o, "GET", "/api/v1/nodes"));
    assert!(!allowed(&a, &o, "DELETE", "/api/v1/nodes/n1"));
    assert!(
        !allowed(
            &a,
            &o,
            "GET",
            "/kapis/tenant.kubesphere.io/v1beta1/workspaces/a"
        ),
        "cluster roles do not reach workspaces"
    );
    let auditor = UserInfo {
        name: "eve".into(),
        groups: vec!["auditors".into()],
    };
    assert!(allowed(
        &a,
        &auditor,
        "GET",
        "/api/v1/namespaces/loose/configmaps"
    ));
    assert!(!allowed(
        &a,
        &user("eve"),
        "GET",
        "/api/v1/namespaces/loose/configmaps"
    ));
}

#[test]
fn public_self_service_and_anonymous() {
    let a = setup();
    let nobody = user("nobody");
    let d = a.authorize(&nobody, &RequestInfo::parse("GET", "/apis", ""));
    assert_eq!(d.access, Some(Access::Public));
    let d = a.authorize(
        &nobody,
        &RequestInfo::parse(
            "PUT",
            "/kapis/iam.kubesphere.io/v1beta1/users/nobody/password",
            "",
        ),
    );
    assert_eq!(d.access, Some(Access::SelfService));
    assert!(!allowed(
        &a,
        &nobody,
        "DELETE",
        "/kapis/iam.kubesphere.io/v1beta1/users/nobody"
    ));
    assert!(!allowed(
        &a,
        &nobody,
        "GET",
        "/kapis/iam.kubesphere.io/v1beta1/users/other"
    ));
    assert!(allowed(
        &a,
        &nobody,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    ));
    assert!(!allowed(&a, &UserInfo::anonymous(), "GET", "/apis"));
    assert!(!allowed(&a, &nobody, "GET", "/metrics"));
}

#[test]
fn every_signed_in_user_reads_ui_extensions_and_nothing_more() {
    let a = setup();
    let nobody = user("nobody");
    let ext = "/apis/extensions.kubesphere.io/v1alpha1";
    for path in [
        format!("{ext}/jsbundles"),
        format!("{ext}/jsbundles/hello"),
        format!("{ext}/extensionentries"),
    ] {
        assert!(allowed(&a, &nobody, "GET", &path), "{path}");
    }
    let watch = RequestInfo::parse("GET", &format!("{ext}/jsbundles"), "watch=1");
    assert_eq!(watch.verb, "watch");
    assert!(a.authorize(&nobody, &watch).allowed());
    assert!(allowed(&a, &nobody, "GET", "/dist/hello/index.js"));
    // Writing them, their status, and the other extension kinds stay with the roles.
    assert!(!allowed(&a, &nobody, "POST", &format!("{ext}/jsbundles")));
    assert!(!allowed(
        &a,
        &nobody,
        "DELETE",
        &format!("{ext}/jsbundles/hello")
    ));
    assert!(!allowed(
        &a,
        &nobody,
        "PUT",
        &format!("{ext}/jsbundles/hello/status")
    ));
    assert!(!allowed(&a, &nobody, "GET", &format!("{ext}/apiservices")));
    assert!(!allowed(
        &a,
        &nobody,
        "GET",
        "/apis/kubesphere.io/v1alpha1/installplans"
    ));
    assert!(!allowed(&a, &nobody, "POST", "/dist/hello/index.js"));
    assert!(!allowed(&a, &nobody, "GET", "/distx"));
    assert!(!allowed(
        &a,
        &UserInfo::anonymous(),
        "GET",
        "/dist/hello/index.js"
    ));
}

#[test]
fn rules_for_collects_every_level() {
    let a = setup();
    let rules = a.rules_for(&user("dev"), "a-p");
    assert!(
        rules
            .iter()
            .any(|r| r.resources.iter().any(|x| x == "deployments"))
    );
    assert!(a.rules_for(&user("dev"), "b-p").is_empty());
    assert_eq!(a.member_workspaces(&user("wsadmin")), ["a"]);
    assert_eq!(a.member_namespaces(&user("dev")), ["a-p"]);
}
