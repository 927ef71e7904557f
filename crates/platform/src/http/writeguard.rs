//! Writes that can grant permissions or move a project, checked against what the caller holds
//! before they are forwarded (the cluster sees the platform's credentials, so its own
//! escalation checks cannot speak for the caller).
//!
//! - Roles (Kubernetes' and KubeSphere's, every level): every rule of the written role,
//!   templates it aggregates included, must be held by the caller at that level, unless the
//!   caller may `escalate` roles — Kubernetes' rule.
//! - Bindings: the caller may `bind` the referenced role, or holds all of its rules at the
//!   binding's level — Kubernetes' rule; a binding to a role that does not exist needs `bind`.
//! - Namespaces: moving a project into another workspace needs the right to create projects
//!   there.
//!
//! What the write would produce is learnt from the cluster itself with `dryRun=All` (so patches
//! of every type are read exactly as the cluster reads them), and the real write then pins the
//! `resourceVersion` the dry run saw, so it cannot land on another version of the object.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use kube::Client;
use serde_json::{Value, json};

use super::{ApiError, Caller};
use crate::authz::rbac::{Rule, covers, rules_from_json};
use crate::authz::scope::{RequestInfo, Scope};
use crate::authz::{Authorizer, Level, UserInfo};
use crate::cache::Caches;
use crate::controllers::aggregation::aggregate_rules;

const RBAC: &str = "rbac.authorization.k8s.io";
const IAM: &str = "iam.kubesphere.io";
const WORKSPACE_LABEL: &str = "kubesphere.io/workspace";
/// Largest dry-run answer read back.
const MAX_ANSWER: usize = 3 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    Role,
    Binding,
    NamespaceMove,
}

fn guard_of(info: &RequestInfo) -> Option<Guard> {
    if !matches!(info.verb.as_str(), "create" | "update" | "patch") {
        return None;
    }
    match (info.api_group.as_str(), info.resource.as_str()) {
        ("", "namespaces")
            if info.verb != "create" && matches!(info.subresource.as_str(), "" | "status") =>
        {
            Some(Guard::NamespaceMove)
        }
        (RBAC, "roles" | "clusterroles")
        | (IAM, "globalroles" | "workspaceroles" | "clusterroles" | "roles")
            if info.subresource.is_empty() =>
        {
            Some(Guard::Role)
        }
        (RBAC, "rolebindings" | "clusterrolebindings")
        | (
            IAM,
            "globalrolebindings" | "workspacerolebindings" | "clusterrolebindings" | "rolebindings",
        ) if info.subresource.is_empty() => Some(Guard::Binding),
        _ => None,
    }
}

/// Checks a write; `Ok(None)` forwards it unchanged, `Ok(Some(body))` forwards it with that
/// body (the same write, pinned to the version checked), `Err` answers the caller.
pub(super) async fn check(
    authz: &Authorizer,
    caches: &Caches,
    client: &Client,
    caller: &Caller,
    parts: &http::request::Parts,
    body: &Bytes,
) -> Result<Option<Bytes>, Response> {
    let info = &caller.info;
    let Some(guard) = guard_of(info) else {
        return Ok(None);
    };
    let result = dry_run(client, info, parts, body).await?;
    let denied = match guard {
        Guard::Role => check_role(authz, caches, caller, &result),
        Guard::Binding => check_binding(authz, client, caller, &result).await,
        Guard::NamespaceMove => check_move(authz, caller, &result),
    };
    if let Some(message) = denied {
        tracing::debug!(user = %caller.user.name, path = %info.path, "refused: {message}");
        return Err(super::error::forbidden(message).into_response());
    }
    if info.verb == "create" {
        return Ok(None);
    }
    Ok(result["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|rv| pin_version(parts, body, rv)))
}

/// The object the write would produce, as the cluster computes it.
async fn dry_run(
    client: &Client,
    info: &RequestInfo,
    parts: &http::request::Parts,
    body: &Bytes,
) -> Result<Value, Response> {
    let query: Vec<(String, String)> =
        form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .filter(|(k, _)| k != "dryRun")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .chain([("dryRun".to_string(), "All".to_string())])
            .collect();
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    let mut req = http::Request::builder()
        .method(parts.method.clone())
        .uri(format!("{}?{query}", info.path));
    for h in [http::header::CONTENT_TYPE, http::header::CONTENT_ENCODING] {
        if let Some(v) = parts.headers.get(&h) {
            req = req.header(h, v);
        }
    }
    req = req.header(http::header::ACCEPT, "application/json");
    let req = req
        .body(kube::client::Body::from(body.to_vec()))
        .map_err(|e| ApiError::bad_request(e.to_string()).into_response())?;
    let unavailable = |e: String| {
        ApiError::new(502, "InternalError", format!("checking the write: {e}")).into_response()
    };
    let resp = tokio::time::timeout(crate::kubeapi::CALL_TIMEOUT, client.send(req))
        .await
        .map_err(|_| unavailable("the cluster did not answer in time".into()))?
        .map_err(|e| unavailable(e.to_string()))?;
    let status = resp.status();
    let bytes = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER);
    let bytes = http_body_util::BodyExt::collect(bytes)
        .await
        .map_err(|e| unavailable(e.to_string()))?
        .to_bytes();
    if !status.is_success() {
        // The write itself would fail: answer as the cluster did.
        return Err((
            status,
            [(http::header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response());
    }
    serde_json::from_slice(&bytes).map_err(|e| unavailable(e.to_string()))
}

fn level_of(info: &RequestInfo, obj: &Value) -> Level {
    let ws = obj["metadata"]["labels"][WORKSPACE_LABEL].as_str();
    match info.resource.as_str() {
        "roles" | "rolebindings" => Level::Namespace(info.namespace.clone()),
        "clusterroles" | "clusterrolebindings" => Level::Cluster,
        "workspaceroles" | "workspacerolebindings" => match ws {
            Some(ws) => Level::Workspace(ws.to_string()),
            None => Level::Global,
        },
        _ => Level::Global,
    }
}

fn attributes(verb: &str, group: &str, resource: &str, name: &str, level: &Level) -> RequestInfo {
    let (ns, ws, scope) = match level {
        Level::Global => ("", "", Scope::Global),
        Level::Cluster => ("", "", Scope::Cluster),
        Level::Workspace(ws) => ("", ws.as_str(), Scope::Workspace),
        Level::Namespace(ns) => (ns.as_str(), "", Scope::Namespace),
    };
    RequestInfo::from_attributes(verb, group, resource, "", name, ns, ws, Some(scope))
}

fn describe(missing: &[Rule]) -> String {
    let shown: Vec<String> = missing
        .iter()
        .take(10)
        .map(|r| r.to_json().to_string())
        .collect();
    let more = missing.len().saturating_sub(10);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn check_role(authz: &Authorizer, caches: &Caches, caller: &Caller, obj: &Value) -> Option<String> {
    let info = &caller.info;
    let level = level_of(info, obj);
    role_refusal(
        authz,
        caches,
        &caller.user,
        &level,
        &info.api_group,
        &info.resource,
        obj,
    )
}

/// Why `user` may not write the role `obj` (of `group`/`resource`) at `level`, if they may not:
/// its rules, those of the templates it aggregates included, must all be held there, unless
/// `user` may `escalate` such roles.
pub(super) fn role_refusal(
    authz: &Authorizer,
    caches: &Caches,
    user: &UserInfo,
    level: &Level,
    group: &str,
    resource: &str,
    obj: &Value,
) -> Option<String> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let escalate = attributes("escalate", group, resource, name, level);
    if authz.authorize(user, &escalate).allowed() {
        return None;
    }
    let aggregated = (group == IAM)
        .then(|| aggregate_rules(caches, obj))
        .flatten();
    let rules = rules_from_json(aggregated.as_ref().or(obj.get("rules")));
    let held = authz.rules_at(user, level);
    let (ok, missing) = covers(&held, &rules);
    (!ok).then(|| {
        format!(
            "{resource} \"{name}\" is forbidden: user \"{}\" is attempting to grant RBAC permissions not currently held: {}",
            user.name,
            describe(&missing)
        )
    })
}

/// Why `user` may not bind the KubeSphere role `role` of `kind` at `level`, if they may not:
/// they need `bind` on it, or all of its rules there.
pub(super) fn iam_binding_refusal(
    authz: &Authorizer,
    user: &UserInfo,
    level: &Level,
    kind: &str,
    role: &str,
) -> Option<String> {
    let resource = plural(kind)?;
    let bind = attributes("bind", IAM, resource, role, level);
    if authz.authorize(user, &bind).allowed() {
        return None;
    }
    let rules = match (kind, level) {
        ("GlobalRole", _) => authz.role_rules(&Level::Global, role),
        ("WorkspaceRole", Level::Workspace(_)) | ("Role", Level::Namespace(_)) => {
            authz.role_rules(level, role)
        }
        ("ClusterRole", _) => authz.role_rules(&Level::Cluster, role),
        _ => None,
    };
    let Some(rules) = rules else {
        return Some(format!(
            "user \"{}\" cannot bind {kind} \"{role}\": it does not exist here and binding it needs the bind verb",
            user.name
        ));
    };
    let (ok, missing) = covers(&authz.rules_at(user, level), &rules);
    (!ok).then(|| {
        format!(
            "user \"{}\" cannot bind {kind} \"{role}\": it is attempting to grant RBAC permissions not currently held: {}",
            user.name,
            describe(&missing)
        )
    })
}

fn plural(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Role" => "roles",
        "ClusterRole" => "clusterroles",
        "GlobalRole" => "globalroles",
        "WorkspaceRole" => "workspaceroles",
        _ => return None,
    })
}

async fn check_binding(
    authz: &Authorizer,
    client: &Client,
    caller: &Caller,
    obj: &Value,
) -> Option<String> {
    let info = &caller.info;
    let level = level_of(info, obj);
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let group = obj["roleRef"]["apiGroup"].as_str().unwrap_or_default();
    let kind = obj["roleRef"]["kind"].as_str().unwrap_or_default();
    let role = obj["roleRef"]["name"].as_str().unwrap_or_default();
    let refused = |why: String| {
        Some(format!(
            "{} \"{name}\" is forbidden: user \"{}\" {why}",
            info.resource, caller.user.name
        ))
    };
    let Some(resource) = plural(kind) else {
        return refused(format!("cannot bind a role of kind {kind:?}"));
    };
    if group == IAM {
        return iam_binding_refusal(authz, &caller.user, &level, kind, role)
            .map(|why| format!("{} \"{name}\" is forbidden: {why}", info.resource));
    }
    let bind = attributes("bind", group, resource, role, &level);
    if authz.authorize(&caller.user, &bind).allowed() {
        return None;
    }
    // A Kubernetes role's rules, where the binding grants them.
    let path = match (kind, &level) {
        ("ClusterRole", _) => Some(format!("/apis/{RBAC}/v1/clusterroles/{role}")),
        ("Role", Level::Namespace(ns)) => {
            Some(format!("/apis/{RBAC}/v1/namespaces/{ns}/roles/{role}"))
        }
        _ => None,
    };
    let rules = match (group, path) {
        (RBAC, Some(path)) => rbac_role_rules(client, &path).await,
        _ => None,
    };
    let Some(rules) = rules else {
        return refused(format!(
            "cannot bind {kind} \"{role}\": it does not exist here and binding it needs the bind verb"
        ));
    };
    let held = authz.rules_at(&caller.user, &level);
    let (ok, missing) = covers(&held, &rules);
    if ok {
        return None;
    }
    refused(format!(
        "is attempting to grant RBAC permissions not currently held: {}",
        describe(&missing)
    ))
}

async fn rbac_role_rules(client: &Client, path: &str) -> Option<Vec<Rule>> {
    let req = http::Request::get(path).body(Vec::new()).ok()?;
    let role: Value = tokio::time::timeout(crate::kubeapi::CALL_TIMEOUT, client.request(req))
        .await
        .ok()?
        .ok()?;
    Some(rules_from_json(role.get("rules")))
}

fn check_move(authz: &Authorizer, caller: &Caller, obj: &Value) -> Option<String> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let before = authz.workspace_of(name);
    let after = obj["metadata"]["labels"][WORKSPACE_LABEL].as_str();
    let target = after.filter(|w| before.as_deref() != Some(*w))?;
    let create = RequestInfo::from_attributes(
        "create",
        "",
        "namespaces",
        "",
        "",
        "",
        target,
        Some(Scope::Workspace),
    );
    if authz.authorize(&caller.user, &create).allowed() {
        return None;
    }
    Some(format!(
        "namespaces \"{name}\" is forbidden: user \"{}\" cannot move it into workspace \"{target}\" (creating projects there is not allowed)",
        caller.user.name
    ))
}

/// The same write, pinned to resourceVersion `rv` (the cluster then refuses it with a conflict
/// if the object changed since it was checked). `None` when the body cannot be read (it is
/// then forwarded as it is).
fn pin_version(parts: &http::request::Parts, body: &Bytes, rv: &str) -> Option<Bytes> {
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let mut doc: Value = match media {
        "application/json-patch+json" => {
            let mut ops: Vec<Value> = serde_json::from_slice(body).ok()?;
            ops.push(json!({"op": "add", "path": "/metadata/resourceVersion", "value": rv}));
            return serde_json::to_vec(&ops).ok().map(Bytes::from);
        }
        "application/yaml" | "application/apply-patch+yaml" => {
            apimachinery::yaml::decode(body).ok()?
        }
        _ => serde_json::from_slice(body).ok()?,
    };
    let meta = doc
        .as_object_mut()?
        .entry("metadata")
        .or_insert_with(|| json!({}));
    meta.as_object_mut()?
        .entry("resourceVersion")
        .or_insert_with(|| Value::String(rv.to_string()));
    serde_json::to_vec(&doc).ok().map(Bytes::from)
}
