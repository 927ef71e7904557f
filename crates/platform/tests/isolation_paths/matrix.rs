//! The isolation matrix extended: the namespace-path form of every cluster-scoped resource
//! (from each cluster's discovery at run time) for each verb and every role, and the upgrade
//! header forms of every route family.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use serde_json::{Value, json};

use crate::fixture::{Fixture, USERS, list};
use crate::oracle::{Expect, Request, World};
use crate::raw::{self, Raw};
use crate::{agrees, describe};

/// A label no object of the fixture carries: a write that got through would leave it.
const PROBE_LABEL: &str = "isolation-probe";

/// One cluster-scoped resource to try: where it lives and a name to aim at.
struct Target {
    /// `/api/v1` or `/apis/{g}/{v}`.
    api: String,
    /// Group/version for bodies.
    api_version: String,
    kind: String,
    resource: String,
    /// An existing object's name (or a made-up one when there is none or no list).
    name: String,
    /// Whether the cluster lists it (so its objects can be compared before and after).
    listable: bool,
}

async fn targets(f: &Fixture, world: &World, cluster: &str) -> Vec<Target> {
    let Some(data) = world.clusters.get(cluster) else {
        return Vec::new();
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for ((group, version), resources) in &data.discovery {
        for (resource, served) in resources {
            // One version of each resource (the first listed); subresources go with theirs.
            if served.namespaced
                || resource.contains('/')
                || !seen.insert((group.clone(), resource.clone()))
            {
                continue;
            }
            let (api, api_version) = if group.is_empty() {
                ("/api/v1".to_string(), version.clone())
            } else {
                (
                    format!("/apis/{group}/{version}"),
                    format!("{group}/{version}"),
                )
            };
            let listable = served.verbs.iter().any(|v| v == "list");
            let name = if listable {
                list(f.kube(cluster), &format!("{api}/{resource}"))
                    .await
                    .first()
                    .and_then(|o| o["metadata"]["name"].as_str().map(str::to_string))
                    .unwrap_or_else(|| PROBE_LABEL.to_string())
            } else {
                PROBE_LABEL.to_string()
            };
            out.push(Target {
                api,
                api_version,
                kind: served.kind.clone(),
                resource: resource.clone(),
                name,
                listable,
            });
        }
    }
    out
}

/// (name, uid, labels) of every object of the listable targets.
async fn objects(f: &Fixture, cluster: &str, targets: &[Target]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for t in targets.iter().filter(|t| t.listable) {
        for o in list(f.kube(cluster), &format!("{}/{}", t.api, t.resource)).await {
            let m = &o["metadata"];
            out.insert(
                format!("{cluster} {}/{} {}", t.api, t.resource, m["name"]),
                json!([m["uid"], m["labels"]]),
            );
        }
    }
    out
}

/// Every verb's request on the namespace-path form of `t` inside `ns`.
fn forms(t: &Target, prefix: &str, ns: &str) -> Vec<(&'static str, String, Option<Value>)> {
    let base = format!("{prefix}{}/namespaces/{ns}/{}", t.api, t.resource);
    let named = format!("{base}/{}", t.name);
    let object = json!({"apiVersion": t.api_version, "kind": t.kind,
        "metadata": {"name": t.name, "labels": {PROBE_LABEL: "x"}}});
    let created = json!({"apiVersion": t.api_version, "kind": t.kind,
        "metadata": {"name": PROBE_LABEL, "labels": {PROBE_LABEL: "x"}}});
    vec![
        ("GET", named.clone(), None),
        ("GET", base.clone(), None),
        ("GET", format!("{base}?watch=true"), None),
        (
            "GET",
            format!("{prefix}{}/watch/namespaces/{ns}/{}", t.api, t.resource),
            None,
        ),
        ("POST", base.clone(), Some(created)),
        ("PUT", named.clone(), Some(object)),
        (
            "PATCH",
            named.clone(),
            Some(json!({"metadata": {"labels": {PROBE_LABEL: "x"}}})),
        ),
        ("DELETE", named, None),
        ("DELETE", base, None),
    ]
}

/// The namespace-path form of every cluster-scoped resource: 404 for every verb and every
/// role (platform administrators included), on the host (native and `/clusters/host`) and the
/// member; nothing changes. Returns failures.
pub async fn namespace_paths(f: &Fixture, world: &World) -> Vec<String> {
    let mut failures = Vec::new();
    let addr = f.env.platform.addr;
    let mut sent = 0usize;
    for (cluster, prefixes, ns) in [
        ("host", &["", "/clusters/host"][..], "a-p"),
        ("member", &["/clusters/member"][..], "a-mp"),
    ] {
        let targets = targets(f, world, cluster).await;
        if targets.len() < 10 {
            failures.push(format!(
                "{cluster}: only {} cluster-scoped resources in discovery",
                targets.len()
            ));
        }
        for must in [
            "namespaces",
            "nodes",
            "clusterrolebindings",
            "users",
            "globalrolebindings",
        ] {
            if !targets.iter().any(|t| t.resource == must) {
                failures.push(format!(
                    "{cluster}: discovery lists no cluster-scoped {must}"
                ));
            }
        }
        let before = objects(f, cluster, &targets).await;
        let mut requests = Vec::new();
        for t in &targets {
            for prefix in prefixes {
                for (method, target, body) in forms(t, prefix, ns) {
                    for user in USERS {
                        let body = body.as_ref().map(|b| {
                            let ctype = if method == "PATCH" {
                                "application/merge-patch+json"
                            } else {
                                "application/json"
                            };
                            (ctype.to_string(), b.to_string().into_bytes())
                        });
                        requests.push((
                            user,
                            Raw {
                                method: method.to_string(),
                                target: target.clone(),
                                headers: Vec::new(),
                                body,
                                token: f.token(user).to_string(),
                            },
                        ));
                    }
                }
            }
        }
        sent += requests.len();
        let answers: Vec<_> = futures::stream::iter(requests)
            .map(|(user, req)| async move {
                let got = raw::send(addr, &req).await;
                (user, req, got)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        for (user, req, got) in answers {
            let expect = Expect::NotFound("cluster-scoped under a namespace path".into());
            match got {
                Ok(a) if a.status == 404 => {}
                Ok(a) => failures.push(format!(
                    "namespace path: {}",
                    describe(user, &req, &expect, &a)
                )),
                Err(e) => failures.push(format!("namespace path: {e}")),
            }
        }
        let after = objects(f, cluster, &targets).await;
        for change in crate::changes(&before, &after) {
            failures.push(format!("namespace paths changed {change}"));
        }
        // The oracle reads these paths the same way (a check of the oracle itself).
        for t in &targets {
            let path = format!("{}/namespaces/{ns}/{}", t.api, t.resource);
            let path = if cluster == "host" {
                path
            } else {
                format!("/clusters/{cluster}{path}")
            };
            let e = world.decide(&Request {
                user: "padmin",
                method: "GET",
                raw_path: &path,
                query: Vec::new(),
            });
            if !matches!(e, Expect::NotFound(_)) {
                failures.push(format!("oracle: {path} → {e:?}"));
            }
        }
    }
    eprintln!("namespace paths: {sent} requests");
    failures
}

/// The decision an answer shows.
fn decision(status: u16) -> &'static str {
    match status {
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not found",
        _ => "allowed",
    }
}

/// A request and what came back.
type Sent = (Raw, Result<raw::Answer, String>);

const HEADER_FORMS: [&[(&str, &str)]; 3] = [
    &[],
    &[("upgrade", "x")],
    &[("connection", "Upgrade"), ("upgrade", "websocket")],
];

/// Every route family with and without `Upgrade`/`Connection: Upgrade` headers: the same
/// decision, the one the oracle predicts. Returns failures.
pub async fn upgrade_forms(f: &Fixture, world: &World) -> Vec<String> {
    let mut failures = Vec::new();
    let addr = f.env.platform.addr;
    let mut paths = Vec::new();
    for prefix in ["", "/clusters/host"] {
        paths.extend([
            format!("{prefix}/api/v1/namespaces/kubesphere-system/secrets"),
            format!("{prefix}/api/v1/namespaces/kubesphere-system/secrets?watch=true"),
            format!("{prefix}/api/v1/watch/namespaces/kubesphere-system/secrets"),
            format!("{prefix}/api/v1/secrets"),
            format!("{prefix}/api/v1/namespaces/a-p/secrets/seed"),
            format!("{prefix}/api/v1/namespaces/b-p/configmaps/seed"),
            format!("{prefix}/api/v1/namespaces/b-p/configmaps?watch=1"),
            format!("{prefix}/api/v1/namespaces/a-p/pods/p1/exec?command=sh"),
            format!("{prefix}/apis/iam.kubesphere.io/v1beta1/users/admin"),
            format!("{prefix}/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"),
            format!("{prefix}/apis/tenant.kubesphere.io/v1beta1/workspaces"),
            format!("{prefix}/apis/tenant.kubesphere.io/v1beta1/workspaces/b"),
            format!("{prefix}/kapis/resources.kubesphere.io/v1alpha3/namespaces/kubesphere-system/secrets"),
            format!("{prefix}/kapis/resources.kubesphere.io/v1alpha3/secrets"),
        ]);
    }
    paths.extend([
        "/clusters/member/api/v1/namespaces/b-mp/configmaps/seed".to_string(),
        "/clusters/member/api/v1/namespaces/a-mp/secrets".to_string(),
        "/clusters/member/api/v1/namespaces/a-mp/pods/p1/attach".to_string(),
        "/clusters/member/apis/rbac.authorization.k8s.io/v1/clusterrolebindings".to_string(),
        "/clusters/member/kapis/iam.kubesphere.io/v1beta1/clustermembers".to_string(),
        "/clusters/member/kapis/iam.kubesphere.io/v1beta1/namespaces/b-mp/namespacemembers"
            .to_string(),
        "/kapis/iam.kubesphere.io/v1beta1/users".to_string(),
        "/kapis/iam.kubesphere.io/v1beta1/users/admin".to_string(),
        "/kapis/iam.kubesphere.io/v1beta1/workspaces/b/workspacemembers".to_string(),
        "/kapis/tenant.kubesphere.io/v1beta1/workspaces/b".to_string(),
        "/kapis/iam.kubesphere.io/v1beta1/namespaces/b-p/namespacemembers".to_string(),
    ]);
    let mut requests = Vec::new();
    for path in &paths {
        for user in USERS {
            for headers in HEADER_FORMS {
                requests.push((
                    user,
                    path.clone(),
                    Raw {
                        method: "GET".into(),
                        target: path.clone(),
                        headers: headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                        body: None,
                        token: f.token(user).to_string(),
                    },
                ));
            }
        }
    }
    let answers: Vec<_> = futures::stream::iter(requests)
        .map(|(user, path, req)| async move {
            let got = raw::send(addr, &req).await;
            (user, path, req, got)
        })
        .buffered(8)
        .collect()
        .await;
    // Grouped by (user, path): the header forms must agree with each other, and then with
    // the oracle (reported once per request, not once per header form).
    let mut groups: BTreeMap<(&str, String), Vec<Sent>> = BTreeMap::new();
    for (user, path, req, got) in answers {
        groups.entry((user, path)).or_default().push((req, got));
    }
    for ((user, path), forms) in groups {
        let (raw_path, query) = path.split_once('?').unwrap_or((path.as_str(), ""));
        let expect = world.decide(&Request {
            user,
            method: "GET",
            raw_path,
            query: form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        });
        let decisions: Vec<&str> = forms
            .iter()
            .map(|(_, got)| got.as_ref().map_or("no answer", |a| decision(a.status)))
            .collect();
        if decisions.iter().any(|d| *d != decisions[0]) {
            let shown: Vec<String> = forms
                .iter()
                .map(|(req, got)| match got {
                    Ok(a) => describe(user, req, &expect, a),
                    Err(e) => format!("as {user}: {} {}: {e}", req.method, req.target),
                })
                .collect();
            failures.push(format!(
                "upgrade headers change the decision: {decisions:?}\n  {}",
                shown.join("\n  ")
            ));
            continue;
        }
        match &forms[0] {
            (_, Ok(a)) if agrees(&expect, a.status) => {}
            (req, Ok(a)) => failures.push(format!(
                "route families (same with and without upgrade headers): {}",
                describe(user, req, &expect, a)
            )),
            (_, Err(e)) => failures.push(format!("upgrade form: {e}")),
        }
    }
    failures.extend(search_forms(f).await);
    failures.extend(watch_mux(f).await);
    failures
}

/// The search answers the same items with and without upgrade headers.
async fn search_forms(f: &Fixture) -> Vec<String> {
    let mut failures = Vec::new();
    let c = &f.env.http;
    let path = "/kapis/search.orrery.io/v1alpha1/resources?kind=namespaces&name=-";
    for user in USERS {
        let mut seen = Vec::new();
        for headers in HEADER_FORMS {
            let mut req = c
                .inner
                .get(format!("{}{path}", c.base))
                .bearer_auth(f.token(user));
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let answer = match req.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let v: Value = r.json().await.unwrap_or(Value::Null);
                    let mut names: Vec<String> = v["items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_string))
                        .collect();
                    names.sort();
                    (status, names)
                }
                Err(e) => (0, vec![e.to_string()]),
            };
            seen.push(answer);
        }
        if seen.iter().any(|s| *s != seen[0]) {
            failures.push(format!(
                "search as {user}: answers differ with upgrade headers: {seen:?}"
            ));
        }
        let wsadmin_sees_b = user == "wsadmin" && seen[0].1.iter().any(|n| n.starts_with("b-"));
        if wsadmin_sees_b {
            failures.push(format!(
                "search as wsadmin shows workspace b's projects: {:?}",
                seen[0]
            ));
        }
    }
    failures
}

/// The console's watch multiplexer (itself a WebSocket upgrade) refuses what a direct watch
/// refuses, and opens what it opens.
async fn watch_mux(f: &Fixture) -> Vec<String> {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut failures = Vec::new();
    let url = format!("ws://{}/console/watch", f.env.platform.addr);
    let cases: [(&str, &str, bool); 8] = [
        (
            "cviewer",
            "/api/v1/namespaces/kubesphere-system/secrets",
            false,
        ),
        (
            "cviewer",
            "/clusters/host/api/v1/namespaces/kubesphere-system/secrets",
            false,
        ),
        (
            "cadmin",
            "/api/v1/namespaces/kubesphere-system/secrets",
            false,
        ),
        ("wsadmin", "/api/v1/namespaces/b-p/configmaps", false),
        (
            "wsadmin",
            "/clusters/member/api/v1/namespaces/b-mp/configmaps",
            false,
        ),
        ("nsviewer", "/api/v1/namespaces/a-p/secrets", false),
        ("nsviewer", "/api/v1/namespaces/a-p/configmaps", true),
        (
            "padmin",
            "/api/v1/namespaces/kubesphere-system/secrets",
            true,
        ),
    ];
    for (user, path, allowed) in cases {
        let mut req = match url.as_str().into_client_request() {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("watch mux request: {e}"));
                continue;
            }
        };
        if let Ok(v) = format!("Bearer {}", f.token(user)).parse() {
            req.headers_mut().insert("authorization", v);
        }
        let (mut ws, _) = match tokio_tungstenite::connect_async(req).await {
            Ok(x) => x,
            Err(e) => {
                failures.push(format!("watch mux as {user}: connect: {e}"));
                continue;
            }
        };
        let cmd = json!({"id": 1, "path": path, "query": "timeoutSeconds=5"}).to_string();
        if let Err(e) = ws.send(Message::text(cmd)).await {
            failures.push(format!("watch mux as {user}: send: {e}"));
            continue;
        }
        // The first message for the watch says whether it was refused: an error (with its
        // code), or an event / the end of the stream.
        let first = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while let Some(Ok(m)) = ws.next().await {
                if let Message::Text(t) = m {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    if v["id"] == 1 {
                        return Some(v);
                    }
                }
            }
            None
        })
        .await;
        let refused_code = match &first {
            Ok(Some(v)) => v["error"]["code"].as_u64(),
            _ => {
                failures.push(format!("watch mux as {user} {path}: no answer: {first:?}"));
                continue;
            }
        };
        match (allowed, refused_code) {
            (true, None) | (false, Some(403)) => {}
            _ => failures.push(format!(
                "watch mux as {user} {path}: expected {}, got {first:?}",
                if allowed { "a watch" } else { "403" }
            )),
        }
        let _ = ws.close(None).await;
    }
    failures
}
