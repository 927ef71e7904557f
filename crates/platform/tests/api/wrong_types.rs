//! Wrong-typed fields on every platform write route (issue 11, must-show 4): a generator over
//! each route's valid body — every field (and the root) replaced by every JSON type it does
//! not have — must give a 4xx answer (or a 2xx where the value is acceptable), never a 5xx or
//! a dropped connection, and a refused create must leave nothing behind.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

/// Every field path of `v` (object keys and list indexes), the root excluded.
fn paths(v: &Value) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![(Vec::<String>::new(), v)];
    while let Some((p, v)) = stack.pop() {
        if !p.is_empty() {
            out.push(p.clone());
        }
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    let mut q = p.clone();
                    q.push(k.clone());
                    stack.push((q, c));
                }
            }
            Value::Array(items) => {
                for (i, c) in items.iter().enumerate() {
                    let mut q = p.clone();
                    q.push(i.to_string());
                    stack.push((q, c));
                }
            }
            _ => {}
        }
    }
    out.sort();
    out
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Values of every JSON type other than `v`'s.
fn wrong_for(v: &Value) -> Vec<Value> {
    [
        json!("x"),
        json!(7),
        json!(true),
        json!(["x"]),
        json!({"x": "y"}),
        Value::Null,
    ]
    .into_iter()
    .filter(|w| kind_of(w) != kind_of(v))
    .collect()
}

fn set(v: &mut Value, path: &[String], to: Value) {
    let mut cur = v;
    for seg in path {
        cur = match cur {
            Value::Object(m) => match m.get_mut(seg) {
                Some(c) => c,
                None => return,
            },
            Value::Array(a) => match seg.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(c) => c,
                None => return,
            },
            _ => return,
        };
    }
    *cur = to;
}

/// One write route: how to call it with a valid body named `name`, and where its objects are
/// listed (for creates).
struct Route {
    method: Method,
    path: String,
    body: fn(&str) -> Value,
    listed_at: Option<String>,
}

fn names_at(v: &Value) -> BTreeSet<String> {
    let items = v["items"].as_array().or_else(|| v.as_array());
    items
        .into_iter()
        .flatten()
        .filter_map(|i| {
            i["metadata"]["name"]
                .as_str()
                .or_else(|| i["username"].as_str())
                .or_else(|| i["name"].as_str())
                .map(str::to_string)
        })
        .collect()
}

/// Every write route of the platform with a body that is right in everything but types.
// A data table (one entry per write route), read top to bottom.
#[allow(clippy::too_many_lines)]
fn write_routes() -> Vec<Route> {
    vec![
        Route {
            method: Method::POST,
            path: format!("{IAM}/users"),
            body: |n| json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "User", "metadata": {"name": n, "labels": {"a": "b"}, "annotations": {"iam.kubesphere.io/globalrole": "platform-regular"}}, "spec": {"email": format!("{n}@example.com"), "password": "Passw0rd-Good"}}),
            listed_at: Some(format!("{IAM}/users?limit=1000")),
        },
        Route {
            method: Method::PUT,
            path: format!("{IAM}/users/target"),
            body: |_| json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "User", "metadata": {"name": "target", "labels": {"a": "b"}}, "spec": {"email": "target@example.com", "lang": "en"}}),
            listed_at: None,
        },
        Route {
            method: Method::PUT,
            path: format!("{IAM}/users/target/password"),
            body: |_| json!({"password": "Passw0rd-New1", "currentPassword": "x"}),
            listed_at: None,
        },
        Route {
            method: Method::POST,
            path: format!("{TENANT}/workspacetemplates"),
            body: |n| json!({"apiVersion": "tenant.kubesphere.io/v1beta1", "kind": "WorkspaceTemplate", "metadata": {"name": n, "labels": {"a": "b"}}, "spec": {"template": {"spec": {"manager": "admin"}, "metadata": {"labels": {"a": "b"}}}, "placement": {"clusters": [{"name": "host"}]}}}),
            listed_at: Some(format!("{TENANT}/workspacetemplates?limit=1000")),
        },
        Route {
            method: Method::POST,
            path: format!("{TENANT}/workspaces/w/namespaces"),
            body: |n| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": {"a": "b"}, "annotations": {"kubesphere.io/alias-name": "x"}}}),
            listed_at: Some(format!("{TENANT}/workspaces/w/namespaces?limit=1000")),
        },
        Route {
            method: Method::POST,
            path: format!("{IAM}/globalroles"),
            body: |n| json!({"metadata": {"name": n, "labels": {"a": "b"}, "annotations": {"kubesphere.io/description": "d"}}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}], "aggregationRoleTemplates": {"templateNames": ["global-users-view"]}}),
            listed_at: Some(format!("{IAM}/globalroles?limit=1000")),
        },
        Route {
            method: Method::POST,
            path: format!("{IAM}/clusterroles"),
            body: |n| json!({"metadata": {"name": n, "labels": {"a": "b"}}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}),
            listed_at: Some(format!("{IAM}/clusterroles?limit=1000")),
        },
        Route {
            method: Method::POST,
            path: format!("{IAM}/workspaces/w/workspaceroles"),
            body: |n| json!({"metadata": {"name": format!("w-{n}"), "labels": {"a": "b"}}, "rules": [{"apiGroups": ["*"], "resources": ["namespaces"], "verbs": ["get"]}]}),
            listed_at: Some(format!("{IAM}/workspaces/w/workspaceroles?limit=1000")),
        },
        Route {
            method: Method::POST,
            path: format!("{IAM}/namespaces/p/roles"),
            body: |n| json!({"metadata": {"name": n, "labels": {"a": "b"}}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}),
            listed_at: Some(format!("{IAM}/namespaces/p/roles?limit=1000")),
        },
        Route {
            method: Method::POST,
            path: format!("{IAM}/workspaces/w/workspacemembers"),
            body: |_| json!([{"username": "target", "roleRef": "w-viewer"}]),
            listed_at: None,
        },
        Route {
            method: Method::POST,
            path: format!("{IAM}/namespaces/p/namespacemembers"),
            body: |_| json!([{"username": "target", "roleRef": "viewer"}]),
            listed_at: None,
        },
        Route {
            method: Method::POST,
            path: format!("{IAM}/clustermembers"),
            body: |_| json!([{"username": "target", "roleRef": "cluster-viewer"}]),
            listed_at: None,
        },
        Route {
            method: Method::PUT,
            path: format!("{IAM}/namespaces/p/namespacemembers/target"),
            body: |_| json!({"username": "target", "roleRef": "viewer"}),
            listed_at: None,
        },
        Route {
            method: Method::POST,
            path: "/apis/cluster.kubesphere.io/v1alpha1/clusters".into(),
            body: |n| json!({"apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster", "metadata": {"name": n, "labels": {"a": "b"}}, "spec": {"provider": "orrery", "connection": {"type": "direct", "kubeconfig": "bm90IGEga3ViZWNvbmZpZw=="}}}),
            listed_at: Some("/apis/cluster.kubesphere.io/v1alpha1/clusters".into()),
        },
        Route {
            method: Method::POST,
            path: "/kapis/cluster.kubesphere.io/v1alpha1/clusters/validation".into(),
            body: |n| json!({"apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster", "metadata": {"name": n}, "spec": {"connection": {"type": "direct", "kubeconfig": "bm90IGEga3ViZWNvbmZpZw=="}}}),
            listed_at: None,
        },
        Route {
            method: Method::POST,
            path: format!("{TENANT}/workspaces/w/resourcequotas"),
            body: |n| json!({"apiVersion": "quota.kubesphere.io/v1alpha2", "kind": "ResourceQuota", "metadata": {"name": n, "labels": {"a": "b"}}, "spec": {"quota": {"hard": {"pods": "10", "limits.cpu": "2"}}, "selector": {"kubesphere.io/workspace": "w"}}}),
            listed_at: Some(format!("{TENANT}/workspaces/w/resourcequotas")),
        },
        Route {
            method: Method::POST,
            path: format!("{APPS}/categories"),
            body: |n| json!({"apiVersion": "application.kubesphere.io/v2", "kind": "Category", "metadata": {"name": n, "labels": {"a": "b"}}, "spec": {"icon": "box", "description": "things"}}),
            listed_at: Some(format!("{APPS}/categories")),
        },
        Route {
            method: Method::POST,
            path: format!("{APPS}/repos"),
            body: |n| json!({"apiVersion": "application.kubesphere.io/v2", "kind": "Repo", "metadata": {"name": n, "labels": {"a": "b"}}, "spec": {"url": "https://127.0.0.1:1/charts", "syncPeriod": 0, "description": "d", "credential": {"username": "u", "password": "p", "insecureSkipTLSVerify": true}}}),
            listed_at: Some(format!("{APPS}/repos")),
        },
        Route {
            method: Method::POST,
            path: format!("{APPS}/workspaces/w/apps"),
            body: |n| json!({"appName": n, "aliasName": "Load balancer", "appType": "helm", "categoryName": "net", "package": B64.encode(testdata::helm_chart_package("openelb"))}),
            listed_at: None,
        },
        Route {
            method: Method::POST,
            path: format!("{APPS}/workspaces/w/apps"),
            body: |n| json!({"appName": format!("{n}-yaml"), "appType": "yaml", "versionName": "1.0.0", "package": B64.encode("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n")}),
            listed_at: None,
        },
        Route {
            method: Method::POST,
            path: format!("{IAM}/identityproviders/test"),
            // Port 9 on loopback refuses at once: a well-typed body gets `{ok: false}` quickly.
            body: |n| {
                json!({"name": n, "type": "LDAPIdentityProvider", "mappingMethod": "auto", "hidden": false, "disabled": false, "displayName": "Corp",
                "provider": {"host": "127.0.0.1:9", "managerDN": "cn=admin", "managerPassword": "p", "startTLS": false, "insecureSkipVerify": false,
                    "userSearchBase": "ou=people", "loginAttribute": "uid", "readTimeout": 2000}})
            },
            listed_at: None,
        },
        Route {
            method: Method::POST,
            path: format!("{APPS}/namespaces/p/applications"),
            body: |n| json!({"apiVersion": "application.kubesphere.io/v2", "kind": "ApplicationRelease", "metadata": {"name": n, "labels": {"a": "b"}}, "spec": {"appID": "openelb", "appVersionID": "openelb-0-6-1", "values": B64.encode("x: 1\n")}}),
            listed_at: Some(format!("{APPS}/namespaces/p/applications")),
        },
    ]
}

const APPS: &str = "/kapis/application.kubesphere.io/v2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_typed_fields_on_every_platform_write_route() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    create_user(c, &admin, "target").await;
    create_workspace(c, &admin, "w", "admin").await;
    create_project(c, &admin, "w", "p").await;
    let routes = write_routes();
    let secrets_before = names_at(
        &c.ok(
            Method::GET,
            "/api/v1/namespaces/kubesphere-system/secrets",
            &admin,
            None,
        )
        .await,
    );

    let mut sent = 0;
    let mut failures = Vec::new();
    for route in &routes {
        let before = match &route.listed_at {
            Some(l) => names_at(&c.ok(Method::GET, l, &admin, None).await),
            None => BTreeSet::new(),
        };
        let mut accepted = BTreeSet::new();
        let base = (route.body)("wt-base");
        let mut bodies: Vec<(String, Value)> = Vec::new();
        for w in wrong_for(&base) {
            bodies.push(("(root)".into(), w));
        }
        for (i, p) in paths(&base).into_iter().enumerate() {
            let name = format!("wt-{i}");
            let fresh = (route.body)(&name);
            let Some(original) = p.iter().try_fold(&fresh, |v, s| {
                v.get(s.as_str())
                    .or_else(|| s.parse::<usize>().ok().and_then(|i| v.get(i)))
            }) else {
                continue;
            };
            for w in wrong_for(original) {
                let mut b = fresh.clone();
                set(&mut b, &p, w);
                bodies.push((p.join("."), b));
            }
        }
        for (what, body) in bodies {
            let (s, v) = c
                .call(
                    route.method.clone(),
                    &route.path,
                    Some(&admin),
                    Some(body.clone()),
                )
                .await;
            sent += 1;
            if !(s.is_success() || s.is_client_error()) {
                failures.push(format!(
                    "{} {} with {what} wrong: {s} {v}",
                    route.method, route.path
                ));
            }
            if s.is_client_error() {
                assert!(
                    v["message"].is_string() || v["error"].is_string(),
                    "{} {} with {what} wrong: {s} without a message: {v}",
                    route.method,
                    route.path
                );
            } else if let Some(n) = body["metadata"]["name"].as_str() {
                accepted.insert(n.to_string());
            }
        }
        if let Some(l) = &route.listed_at {
            let after = names_at(&c.ok(Method::GET, l, &admin, None).await);
            for n in after.difference(&before) {
                assert!(
                    accepted.contains(n),
                    "{} {}: {n} exists although its create was refused",
                    route.method,
                    route.path
                );
            }
        }
    }
    // Failed joins leave no kubeconfig Secret behind.
    let secrets_after = names_at(
        &c.ok(
            Method::GET,
            "/api/v1/namespaces/kubesphere-system/secrets",
            &admin,
            None,
        )
        .await,
    );
    let joined: BTreeSet<String> = names_at(
        &c.ok(
            Method::GET,
            "/apis/cluster.kubesphere.io/v1alpha1/clusters",
            &admin,
            None,
        )
        .await,
    );
    for s in secrets_after.difference(&secrets_before) {
        assert!(
            !s.contains("kubeconfig") || joined.iter().any(|j| s.contains(j.as_str())),
            "a failed join left the Secret {s}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(sent > 300, "only {sent} requests");
    let (s, _) = c.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);
}

/// An error from the host cluster reaches the client as the host said it: code, reason,
/// message and details (causes) — not flattened into an InternalError.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_status_reasons_and_causes_survive() {
    let env = Env::start().await;
    let c = &env.http;
    let admin = env.admin().await;
    // The GlobalRole CRD requires `verbs` in every rule: the host answers 422 with a cause.
    let (s, v) = c
        .post(
            &format!("{IAM}/globalroles"),
            &admin,
            json!({"metadata": {"name": "no-verbs"}, "rules": [{"apiGroups": [""], "resources": ["pods"]}]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["reason"], "Invalid", "{v}");
    let causes = v["details"]["causes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        causes
            .iter()
            .any(|c| c["field"].as_str().unwrap_or_default().contains("verbs")),
        "{v}"
    );
    // A duplicate is the host's AlreadyExists, with the object named in the details.
    let body = json!({"metadata": {"name": "twice"}, "rules": []});
    let (s, _) = c
        .post(&format!("{IAM}/globalroles"), &admin, body.clone())
        .await;
    assert!(s.is_success());
    let (s, v) = c.post(&format!("{IAM}/globalroles"), &admin, body).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["reason"], "AlreadyExists", "{v}");
    assert_eq!(v["details"]["name"], "twice", "{v}");
}
