//! Clusters: validation and joining (platform administrators only), kubeconfig replacement,
//! and the cluster proxy `/clusters/{c}/{api|apis|kapis}/…`.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{
    ApiError, ApiResult, AppState, Caller, Shared, check_name, members, parse_json, proxy, settle,
};
use crate::authz::UserInfo;
use crate::authz::scope::{RequestInfo, Scope};
use crate::clusters::connect::{self, ConnectError, Probe};
use crate::clusters::controller::{secret_ref_patch, spec_kubeconfig, store_kubeconfig};
use crate::clusters::{FINALIZER, Member, tunnel};
use crate::kinds::Kind;
use crate::kubeapi;

/// The cluster a `/clusters/{c}/…` request is about (set by the authorization layer).
#[derive(Clone)]
pub struct Target(pub Arc<Member>);

/// Splits `/clusters/{c}/{api|apis|kapis|version|openapi}…` into the cluster and the rest of
/// the path (kubectl reads `/version` and `/openapi` of a context's server too).
pub fn split_cluster_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/clusters/")?;
    let (cluster, tail) = rest.split_at(rest.find('/')?);
    let first = tail[1..].split(['/', '?']).next().unwrap_or_default();
    let known = matches!(first, "api" | "apis" | "kapis" | "version" | "openapi");
    (!cluster.is_empty() && known).then_some((cluster, tail))
}

/// The connected, Ready cluster a `/clusters/{c}/…` request is for: 404 for a cluster the
/// platform does not know, 503 for one that is not connected or not Ready.
pub(super) fn ready_member(state: &AppState, name: &str) -> ApiResult<Arc<Member>> {
    let unavailable = |message: String| ApiError::new(503, "ServiceUnavailable", message);
    let Some(member) = state.clusters.get(name) else {
        if state.caches.clusters.get(name).is_some() {
            return Err(unavailable(format!(
                "cluster {name} is not connected (see its status)"
            )));
        }
        return Err(super::error::not_found("clusters", name));
    };
    if !member.is_ready() {
        let h = member.health();
        return Err(unavailable(format!(
            "cluster {name} is not ready: {}",
            h.message
        )));
    }
    if member.breaker.is_open() {
        return Err(unavailable(super::proxy::unavailable(&member).message));
    }
    Ok(member)
}

/// Whether `user` may manage clusters at the platform level (platform administrators).
pub fn is_platform_admin(state: &AppState, user: &UserInfo, resource: &str, group: &str) -> bool {
    let (resource, group) = if resource.is_empty() {
        ("clusters", "cluster.kubesphere.io")
    } else {
        (resource, group)
    };
    let req = RequestInfo::from_attributes(
        "create",
        group,
        resource,
        "",
        "",
        "",
        "",
        Some(Scope::Global),
    );
    state.authz.authorize(user, &req).allowed()
}

fn require_admin(state: &AppState, caller: &Caller) -> ApiResult<()> {
    if is_platform_admin(state, &caller.user, "", "") {
        return Ok(());
    }
    Err(super::error::forbidden(format!(
        "only platform administrators may validate or join clusters (user \"{}\" is not one)",
        caller.user.name
    )))
}

fn refused(e: ConnectError) -> ApiError {
    ApiError::bad_request(e.to_string())
}

/// Checks a kubeconfig can join as cluster `name`: well formed, allowed, reachable, accepted,
/// and not a cluster that is already joined (same kube-system uid).
async fn check_joinable(state: &AppState, name: &str, raw: &str) -> ApiResult<Probe> {
    let kc = connect::parse(raw).map_err(refused)?;
    let settings = &state.clusters.settings;
    let client = connect::client(kc, &settings.exec_allow, settings.health_timeout)
        .await
        .map_err(refused)?;
    let probe = connect::probe(&client, settings.health_timeout, None)
        .await
        .map_err(refused)?;
    if probe.uid.is_empty() {
        return Err(ApiError::bad_request(
            "the cluster has no kube-system namespace to identify it by",
        ));
    }
    let host_uid = kubeapi::get(&state.client, Kind::Namespace, None, "kube-system")
        .await?
        .and_then(|ns| ns["metadata"]["uid"].as_str().map(str::to_string));
    if host_uid.as_deref() == Some(probe.uid.as_str()) {
        return Err(super::error::already_exists(format!(
            "this cluster is already joined: it is the host cluster \"{}\" (kube-system uid {})",
            settings.host_name, probe.uid
        )));
    }
    for c in state.caches.clusters.list() {
        let uid = c.obj["status"]["uid"].as_str();
        if c.name() != name && uid == Some(probe.uid.as_str()) {
            return Err(super::error::already_exists(format!(
                "this cluster is already joined as \"{}\" (kube-system uid {})",
                c.name(),
                probe.uid
            )));
        }
    }
    Ok(probe)
}

fn kubeconfig_of(body: &Value) -> ApiResult<String> {
    spec_kubeconfig(body)
        .or_else(|| body["kubeconfig"].as_str().map(str::to_string))
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("malformed kubeconfig: spec.connection.kubeconfig is required")
        })
}

/// `POST /kapis/cluster.kubesphere.io/v1alpha1/clusters/validation`: a Cluster (or
/// `{"kubeconfig": …}`) is checked without joining it.
pub async fn validate(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    require_admin(&state, &caller)?;
    let body = parse_json(&body)?;
    super::shape::check("Cluster", &body)?;
    let name = body["metadata"]["name"].as_str().unwrap_or_default();
    let probe = check_joinable(&state, name, &kubeconfig_of(&body)?).await?;
    Ok(Json(json!({
        "kubernetesVersion": probe.kubernetes_version, "nodeCount": probe.node_count,
        "uid": probe.uid, "message": "the cluster can be joined",
    })))
}

/// `POST /apis/cluster.kubesphere.io/v1alpha1/clusters`: validates, moves the kubeconfig into a
/// Secret and creates the Cluster without it.
pub async fn join(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    match join_inner(&state, &caller, &body).await {
        Ok(v) => (http::StatusCode::CREATED, Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn join_inner(state: &AppState, caller: &Caller, body: &[u8]) -> ApiResult<Value> {
    require_admin(state, caller)?;
    let mut cluster = parse_json(body)?;
    super::shape::check("Cluster", &cluster)?;
    let name = cluster["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    check_name("cluster", &name)?;
    if state.caches.clusters.get(&name).is_some() || state.clusters.is_host(&name) {
        return Err(super::error::already_exists(format!(
            "clusters.cluster.kubesphere.io \"{name}\" already exists"
        )));
    }
    let kubeconfig = match spec_kubeconfig(&cluster) {
        Some(k) => k,
        None if tunnel::is_proxy(&cluster) => {
            return join_proxy(state, caller, &name, cluster).await;
        }
        None => {
            return Err(kubeconfig_of(&cluster)
                .err()
                .unwrap_or_else(|| ApiError::bad_request("malformed kubeconfig")));
        }
    };
    let probe = check_joinable(state, &name, &kubeconfig).await?;
    store_kubeconfig(&state.client, &name, &kubeconfig).await?;
    let patch = secret_ref_patch(&name);
    cluster["spec"]["connection"]["type"] = "direct".into();
    cluster["spec"]["connection"]["kubeconfig"] = Value::Null;
    if let Some(c) = cluster["spec"]["connection"].as_object_mut() {
        c.remove("kubeconfig");
    }
    cluster["spec"]["connection"]["kubeconfigSecretRef"] =
        patch["spec"]["connection"]["kubeconfigSecretRef"].clone();
    cluster["metadata"]["finalizers"] = json!([FINALIZER]);
    cluster["metadata"]["annotations"]["kubesphere.io/creator"] = caller.user.name.clone().into();
    if let Some(o) = cluster.as_object_mut() {
        o.remove("status");
    }
    let created = match kubeapi::create(&state.client, Kind::Cluster, None, cluster).await {
        Ok(c) => c,
        Err(e) => {
            let secret = crate::clusters::secret_name(&name);
            let ns = Some(crate::tokens::SYSTEM_NAMESPACE);
            if let Err(cleanup) = kubeapi::delete(&state.client, Kind::Secret, ns, &secret).await {
                tracing::warn!(cluster = %name, error = %cleanup, "removing the kubeconfig secret");
            }
            return Err(e.into());
        }
    };
    // The uid is recorded at once so a second join of the same cluster is refused even before
    // the first health check.
    let status = json!({"status": {"uid": probe.uid, "kubernetesVersion": probe.kubernetes_version,
        "nodeCount": probe.node_count, "zones": probe.zones, "region": probe.region}});
    let created = match kubeapi::merge_patch_status(
        &state.client,
        Kind::Cluster,
        None,
        &name,
        status,
    )
    .await
    {
        Ok(c) => c,
        Err(_) => created,
    };
    settle(&state.caches.clusters, &created).await;
    Ok(created)
}

/// Joins a cluster behind NAT: the Cluster is created with a join token for its agent and
/// becomes Ready once the agent connects (no kubeconfig, no address).
async fn join_proxy(
    state: &AppState,
    caller: &Caller,
    name: &str,
    mut cluster: Value,
) -> ApiResult<Value> {
    if let Some(c) = cluster["spec"]["connection"].as_object_mut() {
        for field in [
            "kubeconfig",
            "kubeconfigSecretRef",
            "kubernetesAPIEndpoint",
            "token",
        ] {
            c.remove(field);
        }
    }
    cluster["metadata"]["finalizers"] = json!([FINALIZER]);
    cluster["metadata"]["annotations"]["kubesphere.io/creator"] = caller.user.name.clone().into();
    cluster["metadata"]["annotations"][tunnel::TOKEN_ANNOTATION] = format!(
        "{}/{}",
        crate::tokens::SYSTEM_NAMESPACE,
        tunnel::token_secret_name(name)
    )
    .into();
    if let Some(o) = cluster.as_object_mut() {
        o.remove("status");
    }
    tunnel::ensure_token(&state.client, &state.caches, name).await?;
    let created = kubeapi::create(&state.client, Kind::Cluster, None, cluster).await?;
    settle(&state.caches.clusters, &created).await;
    Ok(created)
}

/// `GET /kapis/cluster.kubesphere.io/v1alpha1/clusters/{c}/agent/deployment` (platform
/// administrators): the manifests that run the agent of proxy cluster `c`, its join token and
/// the platform's URL and CA filled in (`?image=` names another image).
pub async fn agent_deployment(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> ApiResult<Response> {
    require_admin(&state, &caller)?;
    let Some(cluster) = state.caches.clusters.get(&name) else {
        return Err(super::error::not_found("clusters", &name));
    };
    if !tunnel::is_proxy(&cluster.obj) {
        return Err(ApiError::bad_request(format!(
            "cluster {name} is not joined through an agent (spec.connection.type is not proxy)"
        )));
    }
    let Some(token) = tunnel::current_token(&state.caches, &name) else {
        return Err(ApiError::new(
            503,
            "ServiceUnavailable",
            format!("cluster {name}'s join token is being issued; try again in a moment"),
        ));
    };
    let default_image = format!("orrery:{}", env!("CARGO_PKG_VERSION"));
    let yaml = tunnel::manifest::all(&tunnel::manifest::AgentValues {
        cluster: &name,
        platform_url: &state.settings.public_url,
        token: &token,
        ca_pem: state.settings.ca_pem.as_deref(),
        image: query
            .get("image")
            .map(String::as_str)
            .unwrap_or(&default_image),
    });
    Ok(([(http::header::CONTENT_TYPE, "application/yaml")], yaml).into_response())
}

/// `PUT /kapis/cluster.kubesphere.io/v1alpha1/clusters/{c}/kubeconfig`: replaces a member's
/// kubeconfig (a YAML body, or JSON `{"kubeconfig": …}`) after checking it reaches the same
/// cluster.
pub async fn put_kubeconfig(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    require_admin(&state, &caller)?;
    let Some(cluster) = state.caches.clusters.get(&name) else {
        return Err(super::error::not_found("clusters", &name));
    };
    if state.clusters.is_host(&name) {
        return Err(ApiError::bad_request(
            "the host cluster is reached with the platform's own credentials",
        ));
    }
    let raw = match serde_json::from_slice::<Value>(&body) {
        Ok(v) if v.is_object() => kubeconfig_of(&v)?,
        _ => String::from_utf8_lossy(&body).into_owned(),
    };
    let probe = check_joinable(&state, &name, &raw).await?;
    if let Some(uid) = cluster.obj["status"]["uid"].as_str()
        && uid != probe.uid
    {
        return Err(ApiError::bad_request(format!(
            "the kubeconfig reaches a different cluster (kube-system uid {}, expected {uid})",
            probe.uid
        )));
    }
    let text = connect::decode(&raw).map_err(refused)?;
    store_kubeconfig(&state.client, &name, &text).await?;
    Ok(Json(json!({"message": "success"})))
}

/// `/clusters/{c}/{api|apis|kapis}/…` for `api` and `apis`: forwarded to the cluster with the
/// platform's credentials after the authorization layer checked the caller against it.
pub async fn proxy(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Extension(Target(member)): Extension<Target>,
    req: Request,
) -> Response {
    // The canonical path the authorization layer resolved (after `/clusters/{c}`).
    let rest = proxy::with_query(&caller.info.path, req.uri().query());
    let what = format!("cluster {}", member.name);
    let timeout = state.clusters.settings.proxy_timeout;
    if proxy::relays_upgrade(req.headers(), &caller.info) && !rest.starts_with("/kapis/") {
        tracing::debug!(user = %caller.user.name, cluster = %member.name, path = %caller.info.path, "cluster proxy upgrade");
        return proxy::relay_upgrade(&member.client, req, &rest, timeout, &what, Some(&member))
            .await;
    }
    if rest.starts_with("/kapis/")
        && let Ok(index) = member.discovery.index().await
        && crate::authz::resolve::is_dynamic(&caller.info, &index)
    {
        return super::resources::dynamic(
            &member.client,
            &caller.info,
            req,
            &what,
            Some(&member),
            timeout,
        )
        .await;
    }
    let (parts, body) = req.into_parts();
    let body = match proxy::read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if rest.starts_with("/kapis/") {
        let query = parts.uri.query().map(str::to_string);
        return match member_kapis(&state, &caller, &member, &parts.method, query, &body).await {
            Ok(v) => v.into_response(),
            Err(e) => e.into_response(),
        };
    }
    if let Some(answer) = proxy::self_review(&member.authz, &caller, &parts, &body).await {
        return answer;
    }
    if let Err(e) = crate::alerting::admission::check(&caller.info, &parts.method, &body) {
        return e.into_response();
    }
    let body = match super::writeguard::check(
        &member.authz,
        &state.caches,
        &member.client,
        &caller,
        &parts,
        &body,
    )
    .await
    {
        Ok(Some(pinned)) => pinned,
        Ok(None) => body,
        Err(refused) => return refused,
    };
    tracing::debug!(user = %caller.user.name, cluster = %member.name, method = %parts.method, path = %caller.info.path, "cluster proxy");
    proxy::relay(
        &member.client,
        &parts,
        &rest,
        body,
        timeout,
        &what,
        Some(&member),
    )
    .await
}

/// The platform API about one cluster: `…/workspaces/{ws}/namespaces` lists and creates the
/// workspace's projects in that cluster (the workspace must be placed there);
/// `iam.kubesphere.io/…/clustermembers` and `…/namespaces/{ns}/namespacemembers` manage its
/// members, `…/clusterroles` and `…/namespaces/{ns}/roles` its roles,
/// `tenant.kubesphere.io/…/workspaces/{ws}/resourcequotas` the workspace's quotas there.
async fn member_kapis(
    state: &AppState,
    caller: &Caller,
    member: &Member,
    method: &http::Method,
    query: Option<String>,
    body: &[u8],
) -> ApiResult<Response> {
    let info = &caller.info;
    if info.api_group == crate::crds::ALERTING
        && let Some(answer) = crate::alerting::api::in_cluster(member, info, query.as_deref()).await
    {
        return answer.map(|v| Json(v).into_response());
    }
    if info
        .path
        .starts_with("/kapis/resources.kubesphere.io/v1alpha3/")
        && info.api_group != crate::authz::resolve::GENERIC_GROUP
    {
        let v = super::resources::answer(&member.client, info, query.as_deref()).await?;
        return Ok(Json(v).into_response());
    }
    if info.api_group == "iam.kubesphere.io" {
        let level = match (info.resource.as_str(), info.namespace.is_empty()) {
            ("clustermembers", true) => Some(members::Level::Cluster),
            ("namespacemembers", false) => Some(members::Level::Namespace(info.namespace.clone())),
            _ => None,
        };
        if info.resource == "roletemplates"
            && !info.namespace.is_empty()
            && info.name.is_empty()
            && method == http::Method::GET
        {
            return Ok(super::roles::templates_of_scope(state, "namespace", query)?.into_response());
        }
        if matches!(
            (info.resource.as_str(), info.namespace.is_empty()),
            ("clusterroles", true) | ("roles", false)
        ) && info.subresource.is_empty()
        {
            let local = members::Local::of(member);
            let answer = super::roles::in_cluster(
                state,
                &caller.user,
                local,
                &info.namespace,
                method,
                &info.name,
                query,
                body,
            )
            .await?;
            return Ok(answer.into_response());
        }
        if let Some(level) = level {
            let local = members::Local::of(member);
            let answer = members::in_cluster(
                state,
                &caller.user,
                local,
                level,
                method,
                &info.name,
                query,
                body,
            )
            .await?;
            return Ok(answer.into_response());
        }
    }
    if info.api_group == "resources.kubesphere.io"
        && info.resource == "secrets"
        && (!info.namespace.is_empty() || info.name.is_empty())
        && info.subresource.is_empty()
        && method == http::Method::GET
    {
        let v = if info.name.is_empty() {
            let ns = (!info.namespace.is_empty()).then_some(info.namespace.as_str());
            super::secrets::list_in(&member.client, ns, query.as_deref()).await?
        } else {
            super::secrets::get_in(&member.client, &info.namespace, &info.name).await?
        };
        return Ok(Json(v).into_response());
    }
    if info.api_group == crate::crds::APPLICATION && !info.namespace.is_empty() {
        return super::apps::in_cluster(state, caller, member, method, query.as_deref(), body)
            .await;
    }
    if info.api_group == "tenant.kubesphere.io"
        && info.resource == "resourcequotas"
        && !info.workspace.is_empty()
        && info.namespace.is_empty()
        && info.subresource.is_empty()
    {
        return super::quotas::in_cluster(
            state,
            member,
            &info.workspace,
            method,
            &info.name,
            query.as_deref(),
            body,
        )
        .await;
    }
    member_projects(state, caller, member, method, body).await
}

/// A workspace's projects in a member it is placed on: listed (the caller's, or all with a full
/// grant) or created.
async fn member_projects(
    state: &AppState,
    caller: &Caller,
    member: &Member,
    method: &http::Method,
    body: &[u8],
) -> ApiResult<Response> {
    let info = &caller.info;
    let projects = info.api_group == "tenant.kubesphere.io"
        && info.resource == "namespaces"
        && !info.workspace.is_empty()
        && info.name.is_empty()
        && info.namespace.is_empty();
    if !projects {
        return Err(super::error::not_found("path", &info.path));
    }
    let ws = info.workspace.as_str();
    let template = state
        .caches
        .workspace_templates
        .get(ws)
        .ok_or_else(|| super::error::not_found("workspaces", ws))?;
    let placed = crate::clusters::placement::placed_clusters(
        &template.obj,
        &state.caches.clusters,
        &state.clusters.settings.host_name,
    );
    if !placed.contains(&member.name) {
        return Err(ApiError::bad_request(format!(
            "workspace {ws} is not placed on cluster {}",
            member.name
        )));
    }
    if method == http::Method::POST {
        let created = super::tenant::create_project_in(
            &member.client,
            &member.caches,
            ws,
            &caller.user.name,
            body,
        )
        .await?;
        return Ok((http::StatusCode::OK, Json(created)).into_response());
    }
    if method != http::Method::GET {
        return Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported here"),
        ));
    }
    let all = member.caches.namespaces.by_index(&format!("ws:{ws}"));
    let mine = member.authz.member_namespaces(&caller.user);
    let items: Vec<Value> = all
        .iter()
        .filter(|e| caller.grant == super::Grant::Full || mine.iter().any(|m| m == e.name()))
        .map(|e| e.obj.clone())
        .collect();
    Ok(Json(json!({"totalItems": items.len(), "items": items})).into_response())
}
