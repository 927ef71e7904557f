//! The App Store end to end, with three people: a workspace member uploads a chart from the
//! corpus and submits it; a reviewer rejects it with a message, it is resubmitted and passed,
//! and published; a project operator deploys it into a member cluster, upgrades it with new
//! values, rolls back and uninstalls — each step through the `/kapis` API, and people without
//! the right role template refused.
use super::*;

const APPS: &str = "/kapis/application.kubesphere.io/v2";

fn b64(s: &str) -> String {
    B64.encode(s.as_bytes())
}

async fn action(c: &Client, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    c.post(&format!("{path}/action"), token, body).await
}

/// Waits (bounded) until the release reaches one of `states`; returns it.
async fn release_in(c: &Client, token: &str, path: &str, states: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, v) = c.get(path, token).await;
        if s == StatusCode::OK && states.iter().any(|x| v["status"]["state"] == *x) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "release never reached {states:?}: {s} {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn replicas(m: &kube::Client, ns: &str, name: &str) -> Option<i64> {
    let api: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(m.clone(), ns);
    api.get_opt(name)
        .await
        .expect("get deployment")
        .and_then(|d| d.spec.and_then(|s| s.replicas))
        .map(i64::from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_goes_from_upload_through_review_to_a_release_in_a_member() {
    let dir = tempfile::tempdir().expect("tmp");
    let m1 = OrreryCluster::start_async(&dir.path().join("m1")).await;
    let env = Env::start_with(|c| fast_clusters(c, vec![])).await;
    let c = &env.http;
    let admin = env.admin().await;
    join(c, &admin, "m1", &cert_kubeconfig(&m1, "m1")).await;
    wait_ready(c, &admin, "m1", true, Duration::from_secs(30)).await;
    let (dev, reviewer, operator) = dev_reviewer_and_operator(c, &admin).await;

    let version = a_member_uploads_a_draft(c, &dev, &operator).await;

    reviewed_and_published(c, &admin, &dev, &reviewer, &operator, &version).await;

    let (dash, member) = the_operator_deploys_into_m1(c, &m1, &reviewer, &operator, &version).await;

    upgraded_and_rolled_back(c, &operator, &member, &dash).await;

    // An app in use cannot be deleted; uninstall, then it can.
    let (s, _) = c
        .delete(&format!("{APPS}/workspaces/ws/apps/grafana"), &dev)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    c.ok(Method::DELETE, &dash, &operator, None).await;
    eventually(
        c,
        Method::GET,
        &dash,
        &operator,
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(replicas(&member, "shop", "dash-grafana").await, None);
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(member.clone(), "shop");
    let left = secrets
        .list(&kube::api::ListParams::default().labels("owner=helm,name=dash"))
        .await
        .expect("secrets");
    assert!(left.items.is_empty(), "helm's records are gone");
    let (s, v) = c
        .delete(&format!("{APPS}/workspaces/ws/apps/grafana"), &dev)
        .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "an active version must be suspended first: {v}"
    );
    drop(m1);
}

/// dev (workspace ws, placed in m1, with project shop), a reviewer holding only the platform's
/// "App Review" template, and operator (shop's operator); their tokens.
async fn dev_reviewer_and_operator(c: &Client, admin: &str) -> (String, String, String) {
    for u in ["dev", "reviewer", "operator"] {
        create_user(c, admin, u).await;
    }
    // The reviewer holds the platform's "App Review" template, and nothing else.
    c.ok(
        Method::POST,
        &format!("{IAM}/globalroles"),
        admin,
        Some(json!({"metadata": {"name": "app-reviewer"},
            "aggregationRoleTemplates": {"templateNames": ["global-apps-review"]}})),
    )
    .await;
    c.ok(
        Method::PUT,
        &format!("{IAM}/users/reviewer"),
        admin,
        Some(
            json!({"metadata": {"annotations": {"iam.kubesphere.io/globalrole": "app-reviewer"}}}),
        ),
    )
    .await;
    placed_workspace(c, admin, "ws", "dev", "m1").await;
    let dev = c.login("dev", USER_PW).await;
    let reviewer = c.login("reviewer", USER_PW).await;
    let operator = c.login("operator", USER_PW).await;
    member_project(c, &dev, "m1", "ws", "shop").await;
    add_member(
        c,
        admin,
        &format!("/clusters/m1{IAM}/namespaces/shop/namespacemembers"),
        "operator",
        "operator",
    )
    .await;
    (dev, reviewer, operator)
}

/// The workspace member uploads the chart: a draft app, not in the store. Outsiders cannot.
/// The version's name.
async fn a_member_uploads_a_draft(c: &Client, dev: &str, operator: &str) -> String {
    // The workspace member uploads the chart: a draft app. Outsiders cannot.
    let upload =
        json!({"appType": "helm", "package": B64.encode(testdata::helm_chart_package("grafana"))});
    // (A small body: a refusal answered before a large body is read may reach the client
    // while it is still writing, which reqwest reports as a broken connection.)
    let (s, _) = c
        .post(
            &format!("{APPS}/workspaces/ws/apps"),
            operator,
            json!({"package": "H4sI"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the operator is no workspace member"
    );
    let (s, v) = c
        .post(
            &format!("{APPS}/workspaces/ws/apps"),
            dev,
            json!({"package": "not base64!"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = c
        .post(
            &format!("{APPS}/workspaces/ws/apps"),
            dev,
            json!({"package": B64.encode(b"\x1f\x8bnot a chart")}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let up = c
        .ok(
            Method::POST,
            &format!("{APPS}/workspaces/ws/apps"),
            dev,
            Some(upload),
        )
        .await;
    assert_eq!(up["appName"], "grafana", "{up}");
    let version = up["versionName"].as_str().expect("version").to_string();
    assert_eq!(version, "grafana-12-11-1");
    assert_eq!(up["version"]["status"]["state"], "draft");
    assert_eq!(up["version"]["spec"]["versionName"], "12.11.1");
    let vpath = format!("{APPS}/workspaces/ws/apps/grafana/versions/{version}");
    let files = c
        .ok(Method::GET, &format!("{vpath}/files"), dev, None)
        .await;
    let readme = B64
        .decode(files["README.md"].as_str().expect("README"))
        .expect("b64");
    assert!(String::from_utf8_lossy(&readme).contains("Grafana"));
    assert!(files.get("values.yaml").is_some(), "{files}");
    // A draft is not in the store.
    let store = c
        .ok(Method::GET, &format!("{APPS}/apps"), operator, None)
        .await;
    assert_eq!(store["totalItems"], 0, "{store}");
    version
}

/// Submitted, rejected with a message, resubmitted, passed by the reviewer and published by the
/// platform admin (never by the member or the reviewer).
async fn reviewed_and_published(
    c: &Client,
    admin: &str,
    dev: &str,
    reviewer: &str,
    operator: &str,
    version: &str,
) {
    let vpath = format!("{APPS}/workspaces/ws/apps/grafana/versions/{version}");
    // Submit; the member may not pass their own submission.
    let (s, v) = action(c, dev, &vpath, json!({"state": "submitted"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = action(c, dev, &vpath, json!({"state": "passed"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The reviewer sees it waiting, rejects it with a message (a message is required).
    let reviews = c
        .ok(Method::GET, &format!("{APPS}/reviews"), reviewer, None)
        .await;
    assert_eq!(names(&reviews), std::slice::from_ref(&version));
    let (s, _) = c.get(&format!("{APPS}/reviews"), dev).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "reviews are for reviewers");
    let gpath = format!("{APPS}/apps/grafana/versions/{version}");
    let (s, _) = action(c, reviewer, &gpath, json!({"state": "rejected"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v) = action(
        c,
        reviewer,
        &gpath,
        json!({"state": "rejected", "message": "pin the image tag"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let v = c.ok(Method::GET, &vpath, dev, None).await;
    assert_eq!(
        (
            v["status"]["state"].as_str(),
            v["status"]["message"].as_str()
        ),
        (Some("rejected"), Some("pin the image tag"))
    );
    assert_eq!(v["status"]["userName"], "reviewer");
    // Resubmitted, passed; the reviewer may not publish, the platform admin does.
    let (s, _) = action(c, dev, &vpath, json!({"state": "submitted"})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = action(c, reviewer, &gpath, json!({"state": "passed"})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = action(c, reviewer, &gpath, json!({"state": "active"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = action(c, admin, &gpath, json!({"state": "active"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let store = c
        .ok(Method::GET, &format!("{APPS}/apps"), operator, None)
        .await;
    assert_eq!(names(&store), ["grafana"]);
    assert_eq!(store["items"][0]["status"]["state"], "active");
}

/// The operator deploys it into m1's project, with values (a dry run first); its workloads
/// become available and its resources are summarised. The release's path and m1's client.
async fn the_operator_deploys_into_m1(
    c: &Client,
    m1: &OrreryCluster,
    reviewer: &str,
    operator: &str,
    version: &str,
) -> (String, kube::Client) {
    // The operator deploys it into m1's project, with values.
    let rels = format!("/clusters/m1{APPS}/namespaces/shop/applications");
    let release = json!({"metadata": {"name": "dash"},
        "spec": {"appID": "grafana", "appVersionID": version, "values": b64("replicas: 1\n")}});
    let (s, _) = c.post(&rels, reviewer, release.clone()).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the reviewer is no project member"
    );
    let (s, v) = c
        .post(
            &rels,
            operator,
            json!({"metadata": {"name": "bad"},
            "spec": {"appID": "grafana", "appVersionID": version, "values": b64("replicas: [\n")}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // A dry run checks everything and makes nothing (the console's deploy form uses it).
    let (s, v) = c
        .post(&format!("{rels}?dryRun=All"), operator, release.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["metadata"]["labels"]["kubesphere.io/cluster"], "m1",
        "{v}"
    );
    let (s, v) = c
        .post(
            &format!("{rels}?dryRun=All"),
            operator,
            json!({"metadata": {"name": "dash"},
            "spec": {"appID": "grafana", "appVersionID": version, "values": b64("replicas: [\n")}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = c.get(&format!("{rels}/dash"), operator).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a dry run made nothing");
    c.ok(Method::POST, &rels, operator, Some(release)).await;
    let dash = format!("{rels}/dash");
    let v = release_in(c, operator, &dash, &["created", "active", "failed"]).await;
    assert_ne!(v["status"]["state"], "failed", "{v}");
    assert_eq!(v["metadata"]["labels"]["kubesphere.io/cluster"], "m1");
    let member = member_client(m1).await;
    assert_eq!(replicas(&member, "shop", "dash-grafana").await, Some(1));
    // Its workloads become available in the member's simulated data plane.
    release_in(c, operator, &dash, &["active"]).await;
    // Its resources, as they are in the member: a summary, never the objects' contents.
    let r = c
        .ok(Method::GET, &format!("{dash}/resources"), operator, None)
        .await;
    let items = r["items"].as_array().expect("items");
    let deploy = items
        .iter()
        .find(|o| o["kind"] == "Deployment" && o["name"] == "dash-grafana")
        .unwrap_or_else(|| panic!("no Deployment in {r}"));
    assert_eq!(deploy["namespace"], "shop", "{r}");
    assert_eq!(deploy["exists"], true, "{r}");
    assert_eq!(deploy["ready"], "1/1", "{r}");
    assert!(
        items
            .iter()
            .all(|o| o.get("data").is_none() && o.get("spec").is_none()),
        "{r}"
    );
    let (s, _) = c.get(&format!("{dash}/resources"), reviewer).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the reviewer is no project member"
    );
    (dash, member)
}

/// Upgraded with new values, then rolled back to revision 1 (Helm makes revision 3), which the
/// controller does not undo.
async fn upgraded_and_rolled_back(c: &Client, operator: &str, member: &kube::Client, dash: &str) {
    // Upgrade with new values.
    let v = c
        .ok(
            Method::PATCH,
            dash,
            operator,
            Some(json!({"spec": {"values": b64("replicas: 2\n")}})),
        )
        .await;
    assert_eq!(v["spec"]["values"], b64("replicas: 2\n"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while replicas(member, "shop", "dash-grafana").await != Some(2) {
        assert!(Instant::now() < deadline, "not upgraded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    release_in(c, operator, dash, &["upgraded", "active"]).await;
    let h = c
        .ok(Method::GET, &format!("{dash}/history"), operator, None)
        .await;
    assert_eq!(h["totalItems"], 2, "{h}");

    // Roll back to revision 1: Helm makes revision 3; the release says what runs.
    let v = c
        .ok(
            Method::POST,
            &format!("{dash}/action"),
            operator,
            Some(json!({"action": "rollback", "revision": 1})),
        )
        .await;
    let values = B64
        .decode(v["spec"]["values"].as_str().expect("values"))
        .expect("b64");
    assert!(
        String::from_utf8_lossy(&values).contains("replicas: 1"),
        "{v}"
    );
    assert_eq!(replicas(member, "shop", "dash-grafana").await, Some(1));
    let h = c
        .ok(Method::GET, &format!("{dash}/history"), operator, None)
        .await;
    assert_eq!(h["totalItems"], 3, "{h}");
    assert_eq!(h["items"][0]["description"], "Rollback to 1");
    // The controller does not undo the rollback.
    release_in(c, operator, dash, &["active"]).await;
    let h = c
        .ok(Method::GET, &format!("{dash}/history"), operator, None)
        .await;
    assert_eq!(h["totalItems"], 3, "{h}");
}
