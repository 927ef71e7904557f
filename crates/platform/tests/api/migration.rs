//! Objects in KubeSphere 4.1's exact shapes, written straight into the host cluster as an
//! export and import would leave them (bcrypt password hashes, KubeSphere's finalizers, roles
//! carrying both their own rules and templates, groups with GroupBindings): they grant access
//! as KubeSphere grants it, and deleting them completes.
use crate::common::*;
use kube::api::{DeleteParams, DynamicObject};
use platform::kinds::Kind;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn put(kube: &kube::Client, kind: Kind, obj: Value) {
    let ns = obj["metadata"]["namespace"].as_str().map(str::to_string);
    let mut obj = obj;
    obj["apiVersion"] = kind.api_version().into();
    obj["kind"] = kind.kind().into();
    let o: DynamicObject = serde_json::from_value(obj).expect("object");
    kind.api(kube, ns.as_deref())
        .create(&Default::default(), &o)
        .await
        .expect("create");
}

async fn fetch(kube: &kube::Client, kind: Kind, name: &str) -> Option<Value> {
    let o = kind.api(kube, None).get_opt(name).await.expect("get")?;
    Some(serde_json::to_value(o).expect("json"))
}

async fn remove(kube: &kube::Client, kind: Kind, name: &str) {
    kind.api(kube, None)
        .delete(name, &DeleteParams::default())
        .await
        .expect("delete");
}

async fn gone(kube: &kube::Client, kind: Kind, name: &str) {
    eventually(&format!("{} {name} deleted", kind.kind()), || async {
        fetch(kube, kind, name).await.is_none()
    })
    .await;
}

fn bcrypt_user(name: &str, finalizers: &[&str]) -> Value {
    let hash = bcrypt::hash(USER_PW, 4).expect("bcrypt");
    json!({"metadata": {"name": name, "finalizers": finalizers,
            "annotations": {"iam.kubesphere.io/globalrole": "platform-regular"}},
        "spec": {"email": format!("{name}@example.com"), "password": hash},
        "status": {"state": "Active"}})
}

fn ks_binding(name: &str, subject: (&str, &str), role: (&str, &str), labels: Value) -> Value {
    json!({"metadata": {"name": name, "labels": labels},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": subject.0, "name": subject.1}],
        "roleRef": {"apiGroup": "iam.kubesphere.io", "kind": role.0, "name": role.1}})
}

fn rules_of(v: &Value) -> Vec<Value> {
    v["rules"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubesphere_objects_behave_as_in_kubesphere() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    let kube = env.kube().await;
    aggregation_keeps_own_rules(c, &admin, &kube).await;
    users_with_finalizers_are_deleted(c, &admin, &kube).await;
    groups_grant_access(c, &admin, &kube).await;
    roles_and_workspaces_with_finalizers(c, &admin, &kube).await;
    groups_api(c, &admin).await;
    kubesphere_api_surface(c, &admin).await;
}

/// The smaller KubeSphere routes scripts and consoles call: version, configs, a user's role
/// templates, a workspace template's PATCH (its new manager is bound), a member's projects.
async fn kubesphere_api_surface(c: &Client, admin: &str) {
    let (s, v) = c.call(Method::GET, "/kapis/version", None, None).await;
    assert_eq!(s, StatusCode::OK, "public, as in KubeSphere: {v}");
    assert!(
        v["gitVersion"].as_str().is_some_and(|g| g.starts_with('v')),
        "{v}"
    );
    assert!(v["kubernetes"]["gitVersion"].is_string(), "{v}");
    let cfg = "/kapis/config.kubesphere.io/v1alpha2";
    let (s, v) = c
        .call(Method::GET, &format!("{cfg}/configs/oauth"), None, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["accessTokenMaxAge"], "2h0m0s", "{v}");
    assert!(!v.to_string().contains("secret"), "no client secret: {v}");
    let (s, v) = c
        .call(Method::GET, &format!("{cfg}/configs/theme"), None, None)
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({})));
    let theme = json!({"title": "Acme Platform", "logo": "/logo.svg"});
    create_user(c, admin, "reg").await;
    let reg = c.login("reg", USER_PW).await;
    let (s, _) = c
        .put(&format!("{cfg}/platformconfigs/theme"), &reg, theme.clone())
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "only platform administrators set the theme"
    );
    c.ok(
        Method::PUT,
        &format!("{cfg}/platformconfigs/theme"),
        admin,
        Some(theme.clone()),
    )
    .await;
    let (_, v) = c
        .call(Method::GET, &format!("{cfg}/configs/theme"), None, None)
        .await;
    assert_eq!(v, theme);
    let v = c
        .ok(Method::GET, &format!("{cfg}/configs/configz"), &reg, None)
        .await;
    assert_eq!(v["multicluster"]["hostClusterName"], "host", "{v}");
    let allowed = v["multicluster"]["execPluginAllow"].as_array();
    assert!(
        allowed.is_some_and(|a| a.iter().any(|c| c == "kubelogin")),
        "the default exec allow-list: {v}"
    );
    let (s, _) = c
        .call(Method::GET, &format!("{cfg}/configs/configz"), None, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A user's role templates: their own, or anyone's for those who read users.
    let v = c
        .ok(
            Method::GET,
            &format!("{IAM}/users/admin/roletemplates"),
            admin,
            None,
        )
        .await;
    assert!(v["totalItems"].as_u64().is_some_and(|n| n > 0), "{v}");
    c.ok(
        Method::GET,
        &format!("{IAM}/users/reg/roletemplates"),
        &reg,
        None,
    )
    .await;
    let (s, _) = c
        .get(&format!("{IAM}/users/admin/roletemplates"), &reg)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // PATCH a workspace template: a new manager is bound as the workspace's admin.
    create_workspace(c, admin, "pw", "admin").await;
    create_project(c, admin, "pw", "pw-one").await;
    create_project(c, admin, "pw", "pw-two").await;
    let path = format!("{TENANT}/workspacetemplates/pw");
    let patch = json!({"spec": {"template": {"spec": {"manager": "reg"}}}});
    let r = c
        .inner
        .patch(format!("{}{path}", c.base))
        .bearer_auth(&reg)
        .header("content-type", "application/merge-patch+json")
        .body(patch.to_string())
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "not one's own to take");
    let r = c
        .inner
        .patch(format!("{}{path}", c.base))
        .bearer_auth(admin)
        .header("content-type", "application/merge-patch+json")
        .body(patch.to_string())
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["spec"]["template"]["spec"]["manager"], "reg", "{v}");
    assert_eq!(
        v["spec"]["placement"]["clusters"][0]["name"], "host",
        "the rest stays: {v}"
    );
    eventually("the new manager administers the workspace", || async {
        c.get(&format!("{TENANT}/workspaces/pw/namespaces"), &reg)
            .await
            .0
            == StatusCode::OK
    })
    .await;
    a_members_projects(c, admin).await;
}

/// A member's projects: those their roles reach (all, for the workspace's admin).
async fn a_members_projects(c: &Client, admin: &str) {
    // A member's projects: those their roles reach.
    create_user(c, admin, "pmember").await;
    add_member(
        c,
        admin,
        &format!("{IAM}/workspaces/pw/workspacemembers"),
        "pmember",
        "pw-regular",
    )
    .await;
    add_member(
        c,
        admin,
        &format!("{IAM}/namespaces/pw-one/namespacemembers"),
        "pmember",
        "viewer",
    )
    .await;
    let v = c
        .ok(
            Method::GET,
            &format!("{IAM}/workspaces/pw/workspacemembers/pmember/namespaces"),
            admin,
            None,
        )
        .await;
    assert_eq!(names(&v), ["pw-one"], "{v}");
    let v = c
        .ok(
            Method::GET,
            &format!("{IAM}/workspaces/pw/workspacemembers/reg/namespaces"),
            admin,
            None,
        )
        .await;
    assert_eq!(
        names(&v),
        ["pw-one", "pw-two"],
        "the admin reaches all: {v}"
    );
}

/// A role keeps its own rules and gains only its templates' uncovered rules, again when a
/// template changes; aggregation never removes a rule.
async fn aggregation_keeps_own_rules(c: &Client, admin: &str, kube: &kube::Client) {
    let users_rule = json!({"apiGroups": ["iam.kubesphere.io"], "resources": ["users"], "verbs": ["get", "list"]});
    let tpl = |name: &str, rules: Value| {
        json!({"metadata": {"name": name, "labels": {"iam.kubesphere.io/scope": "global",
            "iam.kubesphere.io/category": "migration"}},
            "spec": {"displayName": {"en": name}, "rules": rules}})
    };
    put(
        kube,
        Kind::RoleTemplate,
        tpl("ks-users-view", json!([users_rule])),
    )
    .await;
    put(kube, Kind::RoleTemplate, tpl("ks-empty-a", json!([]))).await;
    put(kube, Kind::RoleTemplate, tpl("ks-empty-b", json!([]))).await;
    // KubeSphere's platform-admin: `*` rules and templates.
    let star = json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]}]);
    put(
        kube,
        Kind::GlobalRole,
        json!({"metadata": {"name": "ks-admin",
        "finalizers": ["finalizers.kubesphere.io/globalroles"]},
        "rules": star, "aggregationRoleTemplates": {"templateNames": ["ks-users-view"]}}),
    )
    .await;
    // KubeSphere's cluster-viewer: its own rules, templates whose rules are empty.
    let nodes = json!([{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}]);
    put(
        kube,
        Kind::GlobalRole,
        json!({"metadata": {"name": "ks-nodes-viewer"}, "rules": nodes,
        "aggregationRoleTemplates": {"templateNames": ["ks-empty-a", "ks-empty-b"]}}),
    )
    .await;
    // A template-only role selected by label.
    put(kube, Kind::GlobalRole, json!({"metadata": {"name": "ks-selected"},
        "aggregationRoleTemplates": {"roleSelector": {"matchLabels": {"iam.kubesphere.io/category": "migration"}}}})).await;
    eventually("the selected templates' rules are aggregated", || async {
        fetch(kube, Kind::GlobalRole, "ks-selected")
            .await
            .is_some_and(|r| rules_of(&r) == vec![users_rule.clone()])
    })
    .await;
    // A template gains a rule: every role naming or selecting it gains it too.
    let watch =
        json!({"apiGroups": ["iam.kubesphere.io"], "resources": ["users"], "verbs": ["watch"]});
    let api = Kind::RoleTemplate.api(kube, None);
    let patch = json!({"spec": {"rules": [users_rule, watch]}});
    api.patch(
        "ks-users-view",
        &Default::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await
    .expect("patch template");
    eventually("a changed template is aggregated again", || async {
        fetch(kube, Kind::GlobalRole, "ks-selected")
            .await
            .is_some_and(|r| rules_of(&r).contains(&watch))
    })
    .await;
    // Removing it from the template removes it from no role.
    let patch = json!({"spec": {"rules": []}});
    api.patch(
        "ks-empty-a",
        &Default::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await
    .expect("patch template");
    let patch = json!({"spec": {"rules": [users_rule]}});
    api.patch(
        "ks-users-view",
        &Default::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await
    .expect("patch template");
    put(
        kube,
        Kind::GlobalRole,
        json!({"metadata": {"name": "ks-probe"},
        "aggregationRoleTemplates": {"templateNames": ["ks-users-view"]}}),
    )
    .await;
    eventually("the pass after the template changes ran", || async {
        fetch(kube, Kind::GlobalRole, "ks-probe")
            .await
            .is_some_and(|r| !rules_of(&r).is_empty())
    })
    .await;
    let selected = fetch(kube, Kind::GlobalRole, "ks-selected")
        .await
        .expect("role");
    assert!(
        rules_of(&selected).contains(&watch),
        "aggregation never removes a rule: {selected}"
    );
    let ks_admin = fetch(kube, Kind::GlobalRole, "ks-admin")
        .await
        .expect("role");
    assert_eq!(
        rules_of(&ks_admin),
        rules_of(&json!({"rules": star})),
        "{ks_admin}"
    );
    let viewer = fetch(kube, Kind::GlobalRole, "ks-nodes-viewer")
        .await
        .expect("role");
    assert_eq!(
        rules_of(&viewer),
        rules_of(&json!({"rules": nodes})),
        "{viewer}"
    );
    // Access as the rules say: `*` reaches the cluster's nodes.
    put(kube, Kind::User, bcrypt_user("kadmin", &[])).await;
    put(kube, Kind::GlobalRoleBinding, ks_binding("kadmin-ks-admin", ("User", "kadmin"), ("GlobalRole", "ks-admin"),
        json!({"iam.kubesphere.io/user-ref": "kadmin", "iam.kubesphere.io/role-ref": "ks-admin"}))).await;
    let kadmin = c.login("kadmin", USER_PW).await;
    let (s, _) = c.get("/api/v1/nodes", &kadmin).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = c.get(&format!("{IAM}/globalroles/ks-admin"), admin).await;
    assert_eq!(s, StatusCode::OK);
}

/// Users carrying `finalizers.kubesphere.io/users` log in with their bcrypt password, and a
/// deletion — straight to the cluster or through the API — completes, taking their bindings.
async fn users_with_finalizers_are_deleted(c: &Client, admin: &str, kube: &kube::Client) {
    let finalizers = ["finalizers.kubesphere.io/users"];
    put(kube, Kind::User, bcrypt_user("carol", &finalizers)).await;
    put(kube, Kind::User, bcrypt_user("dave", &finalizers)).await;
    put(
        kube,
        Kind::GlobalRoleBinding,
        ks_binding(
            "carol-platform-regular",
            ("User", "carol"),
            ("GlobalRole", "platform-regular"),
            json!({"iam.kubesphere.io/user-ref": "carol"}),
        ),
    )
    .await;
    let carol = c.login("carol", USER_PW).await;
    let (s, _) = c.get(&format!("{IAM}/users/carol"), &carol).await;
    assert_eq!(s, StatusCode::OK);
    remove(kube, Kind::User, "carol").await;
    gone(kube, Kind::User, "carol").await;
    gone(kube, Kind::GlobalRoleBinding, "carol-platform-regular").await;
    let (s, _) = c.get(&format!("{IAM}/users/carol"), &carol).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the deleted user's token");
    let (s, v) = c.token("carol", USER_PW).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    c.ok(Method::DELETE, &format!("{IAM}/users/dave"), admin, None)
        .await;
    gone(kube, Kind::User, "dave").await;
}

/// A GroupBinding makes its users members of the group, so a binding whose subject is the
/// group grants them access; deleting it (KubeSphere's finalizer included) takes that away.
async fn groups_grant_access(c: &Client, admin: &str, kube: &kube::Client) {
    create_workspace(c, admin, "mig", "admin").await;
    put(kube, Kind::User, bcrypt_user("erin", &[])).await;
    put(
        kube,
        Kind::Group,
        json!({"metadata": {"name": "mig-devs",
        "labels": {"kubesphere.io/workspace": "mig"},
        "finalizers": ["finalizers.kubesphere.io/groups"]}, "spec": {}}),
    )
    .await;
    let erin = c.login("erin", USER_PW).await;
    let ws = format!("{TENANT}/workspaces/mig");
    let (s, _) = c.get(&ws, &erin).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "not yet a member");
    put(
        kube,
        Kind::WorkspaceRoleBinding,
        ks_binding(
            "mig-devs-viewer",
            ("Group", "mig-devs"),
            ("WorkspaceRole", "mig-viewer"),
            json!({"kubesphere.io/workspace": "mig", "iam.kubesphere.io/group-ref": "mig-devs"}),
        ),
    )
    .await;
    put(
        kube,
        Kind::GroupBinding,
        json!({"metadata": {"name": "mig-devs-erin",
        "labels": {"iam.kubesphere.io/group-ref": "mig-devs", "iam.kubesphere.io/user-ref": "erin"},
        "finalizers": ["finalizers.kubesphere.io/groupsbindings"]},
        "groupRef": {"apiGroup": "iam.kubesphere.io", "kind": "Group", "name": "mig-devs"},
        "users": ["erin"]}),
    )
    .await;
    eventually("erin is a member of mig-devs", || async {
        fetch(kube, Kind::User, "erin")
            .await
            .is_some_and(|u| u["spec"]["groups"] == json!(["mig-devs"]))
    })
    .await;
    eventually("the group's binding grants erin the workspace", || async {
        c.get(&ws, &erin).await.0 == StatusCode::OK
    })
    .await;
    let (s, _) = c
        .get(&format!("{IAM}/workspaces/mig/workspacemembers"), &erin)
        .await;
    assert_eq!(s, StatusCode::OK, "a workspace viewer reads its members");
    let (s, _) = c
        .delete(&ws.replace("workspaces", "workspacetemplates"), &erin)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a viewer deletes nothing");
    remove(kube, Kind::GroupBinding, "mig-devs-erin").await;
    gone(kube, Kind::GroupBinding, "mig-devs-erin").await;
    eventually("erin left mig-devs", || async {
        fetch(kube, Kind::User, "erin")
            .await
            .is_some_and(|u| u["spec"]["groups"] == json!([]))
    })
    .await;
    let (s, _) = c.get(&ws, &erin).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "membership ended with the binding"
    );
    remove(kube, Kind::Group, "mig-devs").await;
    gone(kube, Kind::Group, "mig-devs").await;
    gone(kube, Kind::WorkspaceRoleBinding, "mig-devs-viewer").await;
}

/// Roles, workspace templates and namespaces holding KubeSphere's finalizers are deleted
/// completely; a role takes its bindings along.
async fn roles_and_workspaces_with_finalizers(c: &Client, admin: &str, kube: &kube::Client) {
    remove(kube, Kind::GlobalRole, "ks-admin").await;
    gone(kube, Kind::GlobalRole, "ks-admin").await;
    gone(kube, Kind::GlobalRoleBinding, "kadmin-ks-admin").await;
    put(kube, Kind::WorkspaceTemplate, json!({"metadata": {"name": "oldws",
        "finalizers": ["kubesphere.io/cascading-deletion"]},
        "spec": {"template": {"spec": {"manager": "admin"}}, "placement": {"clusters": [{"name": "host"}]}}})).await;
    put(
        kube,
        Kind::Namespace,
        json!({"metadata": {"name": "old-project",
        "labels": {"kubesphere.io/workspace": "oldws"},
        "finalizers": ["finalizers.kubesphere.io/namespaces"]}}),
    )
    .await;
    eventually("the imported workspace is set up", || async {
        fetch(kube, Kind::Workspace, "oldws").await.is_some()
    })
    .await;
    c.ok(
        Method::GET,
        &format!("{TENANT}/workspaces/oldws/namespaces"),
        admin,
        None,
    )
    .await;
    remove(kube, Kind::WorkspaceTemplate, "oldws").await;
    gone(kube, Kind::WorkspaceTemplate, "oldws").await;
    gone(kube, Kind::Workspace, "oldws").await;
    eventually("the project left the deleted workspace", || async {
        fetch(kube, Kind::Namespace, "old-project")
            .await
            .is_some_and(|n| n["metadata"]["labels"]["kubesphere.io/workspace"].is_null())
    })
    .await;
    remove(kube, Kind::Namespace, "old-project").await;
    gone(kube, Kind::Namespace, "old-project").await;
}

/// The workspace groups API: a group, a user put in it, a workspace role granted to it; the
/// user gets access; deleting the group takes its bindings and the access.
async fn groups_api(c: &Client, admin: &str) {
    create_user(c, admin, "frank").await;
    let base = format!("{IAM}/workspaces/mig");
    let g = c
        .ok(Method::POST, &format!("{base}/groups"), admin,
            Some(json!({"metadata": {"name": "mig-ops", "annotations": {"kubesphere.io/alias-name": "Ops"}}})))
        .await;
    assert_eq!(
        g["metadata"]["labels"]["kubesphere.io/workspace"], "mig",
        "{g}"
    );
    let (s, _) = c
        .post(&format!("{base}/groups"), admin,
            json!({"metadata": {"name": "mig-sub", "labels": {"iam.kubesphere.io/group-parent": "nope"}}}))
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a parent outside the workspace"
    );
    group_names_stay_in_the_workspace(c, admin, &base).await;
    let (s, _) = c
        .get(&format!("{IAM}/workspaces/other/groups/mig-ops"), admin)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a group belongs to one workspace");
    c.ok(
        Method::POST,
        &format!("{base}/groupbindings"),
        admin,
        Some(json!([{"userName": "frank", "groupName": "mig-ops"}])),
    )
    .await;
    let v = c
        .ok(
            Method::GET,
            &format!("{base}/groupbindings?labelSelector=iam.kubesphere.io%2Fgroup-ref%3Dmig-ops"),
            admin,
            None,
        )
        .await;
    assert_eq!(v["totalItems"], 1, "{v}");
    let frank = c.login("frank", USER_PW).await;
    let (s, _) = c
        .post(&format!("{base}/workspacerolebindings"), &frank,
            json!([{"subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "mig-ops"}],
                "roleRef": {"apiGroup": "iam.kubesphere.io", "kind": "WorkspaceRole", "name": "mig-admin"}}]))
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "frank cannot grant his own group a role"
    );
    c.ok(Method::POST, &format!("{base}/workspacerolebindings"), admin,
        Some(json!([{"subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "mig-ops"}],
            "roleRef": {"apiGroup": "iam.kubesphere.io", "kind": "WorkspaceRole", "name": "mig-regular"}}]))).await;
    eventually("frank's group grants him the workspace", || async {
        c.get(&format!("{TENANT}/workspaces/mig"), &frank).await.0 == StatusCode::OK
    })
    .await;
    c.ok(
        Method::DELETE,
        &format!("{base}/groups/mig-ops"),
        admin,
        None,
    )
    .await;
    let v = c
        .ok(
            Method::GET,
            &format!(
                "{base}/workspacerolebindings?labelSelector=iam.kubesphere.io%2Fgroup-ref%3Dmig-ops"
            ),
            admin,
            None,
        )
        .await;
    assert_eq!(v["totalItems"], 0, "{v}");
    let v = c
        .ok(Method::GET, &format!("{base}/groupbindings"), admin, None)
        .await;
    assert_eq!(v["totalItems"], 0, "{v}");
    eventually("frank lost the workspace with the group", || async {
        c.get(&format!("{TENANT}/workspaces/mig"), &frank).await.0 == StatusCode::FORBIDDEN
    })
    .await;
}

/// A workspace names its groups within itself: no one can create (and join) a group that a
/// binding elsewhere names; generated names carry the workspace's prefix.
async fn group_names_stay_in_the_workspace(c: &Client, admin: &str, base: &str) {
    // A workspace names its groups within itself: no one can create (and join) a group that a
    // binding elsewhere names.
    let (s, _) = c
        .post(
            &format!("{base}/groups"),
            admin,
            json!({"metadata": {"name": "ops"}}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a name outside the workspace's"
    );
    let g = c
        .ok(
            Method::POST,
            &format!("{base}/groups"),
            admin,
            Some(json!({"metadata": {"generateName": "temp-"}})),
        )
        .await;
    let generated = g["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(generated.starts_with("mig-temp-"), "{g}");
    c.ok(
        Method::DELETE,
        &format!("{base}/groups/{generated}"),
        admin,
        None,
    )
    .await;
    let v = c
        .ok(Method::GET, &format!("{base}/groups"), admin, None)
        .await;
    assert_eq!(names(&v), ["mig-ops"]);
}
