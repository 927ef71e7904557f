//! KubeSphere's generic resources API, `resources.kubesphere.io/v1alpha3`:
//! `[namespaces/{ns}/]{resources}[/{name}]` lists or reads any resource a cluster serves, named
//! by its plural, with KubeSphere's list conventions (`page`, `limit`, `sortBy`, `ascending`,
//! `name`, `labelSelector`, plus `fieldSelector` passed to the cluster) answered as
//! `{items, totalItems}` — the lists the console pages, sorts and searches on the server. The
//! request was resolved to the cluster's resource and authorized as a request on it
//! ([`crate::authz::resolve::is_generic`]), on the host and under `/clusters/{c}/kapis/…`.

use axum::Extension;
use axum::Json;
use axum::extract::{RawQuery, State};
use kube::Client;
use serde_json::Value;

use super::{ApiError, ApiResult, Caller, Shared};
use crate::authz::resolve::canonical_path;
use crate::authz::scope::RequestInfo;
use crate::kubeapi;
use crate::listing::ListQuery;

/// The cluster path of what `info` names (its list when `name` is empty).
fn cluster_path(info: &RequestInfo, name: &str) -> String {
    let mut segs: Vec<String> = if info.api_group.is_empty() {
        vec!["api".into(), info.api_version.clone()]
    } else {
        vec![
            "apis".into(),
            info.api_group.clone(),
            info.api_version.clone(),
        ]
    };
    if !info.namespace.is_empty() && info.resource != "namespaces" {
        segs.extend(["namespaces".to_string(), info.namespace.clone()]);
    }
    segs.push(info.resource.clone());
    if !name.is_empty() {
        segs.push(name.to_string());
    }
    canonical_path(&segs)
}

/// GETs a cluster path as JSON (the generic and the dynamic API both read through it).
async fn call(client: &Client, path: String) -> ApiResult<Value> {
    let req = http::Request::get(path)
        .body(Vec::new())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(kubeapi::timed("get", client.request::<Value>(req)).await?)
}

/// Answers a generic request with `client` (the host's or a member's).
pub(super) async fn answer(
    client: &Client,
    info: &RequestInfo,
    query: Option<&str>,
) -> ApiResult<Value> {
    if info.verb == "watch" {
        return Err(ApiError::bad_request(
            "the resources API answers lists and objects; watch the cluster's own API instead",
        ));
    }
    if !info.name.is_empty() {
        return call(client, cluster_path(info, &info.name)).await;
    }
    let raw = query.unwrap_or_default();
    let q = ListQuery::parse(raw).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mut path = cluster_path(info, "");
    let forwarded = selectors(raw);
    if !forwarded.is_empty() {
        path = format!("{path}?{forwarded}");
    }
    paged(client, path, &q).await
}

/// The selectors of a KubeSphere list query, for the cluster (so only matching objects travel).
fn selectors(raw: &str) -> String {
    {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            if k == "labelSelector" || k == "fieldSelector" {
                out.append_pair(&k, &v);
            }
        }
        out.finish()
    }
}

/// Lists `path` (with its selectors) and answers KubeSphere's page of it.
async fn paged(client: &Client, path: String, q: &ListQuery) -> ApiResult<Value> {
    let mut list = call(client, path).await?;
    let api_version = list["apiVersion"].clone();
    let kind = list["kind"]
        .as_str()
        .and_then(|k| k.strip_suffix("List"))
        .map(str::to_string);
    // Moved out, not copied: a list of 10,000 objects is not cloned to answer a page of it.
    let items = match list["items"].take() {
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    let items = items.into_iter().map(|mut o| {
        if let Some(m) = o.as_object_mut() {
            m.entry("apiVersion").or_insert_with(|| api_version.clone());
            if let Some(k) = &kind {
                m.entry("kind").or_insert_with(|| k.clone().into());
            }
        }
        o
    });
    Ok(q.apply(items))
}

/// `GET /kapis/resources.kubesphere.io/v1alpha3/[namespaces/{ns}/]{resources}[/{name}]` on
/// the host.
pub async fn serve(
    State(s): State<Shared>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    answer(&s.client, &caller.info, q.as_deref())
        .await
        .map(Json)
}

/// KubeSphere's dynamic API: `/kapis/{group}/{version}/…` of a CRD labelled
/// `kubesphere.io/resource-served: "true"` is the cluster's `/apis/{group}/{version}/…` (the
/// request was resolved and authorized as that). Lists answer KubeSphere's page of it; every
/// other verb is relayed as it is.
pub(super) async fn dynamic(
    client: &Client,
    info: &RequestInfo,
    req: axum::extract::Request,
    what: &str,
    member: Option<&std::sync::Arc<crate::clusters::Member>>,
    timeout: std::time::Duration,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some(rest) = info.path.strip_prefix("/kapis/") else {
        return super::error::no_route().into_response();
    };
    let native = format!("/apis/{rest}");
    let query = req.uri().query().map(str::to_string);
    if info.verb == "list" {
        let raw = query.as_deref().unwrap_or_default();
        let q = match ListQuery::parse(raw) {
            Ok(q) => q,
            Err(e) => return ApiError::bad_request(e.to_string()).into_response(),
        };
        let forwarded = selectors(raw);
        let path = if forwarded.is_empty() {
            native
        } else {
            format!("{native}?{forwarded}")
        };
        return match paged(client, path, &q).await {
            Ok(v) => Json(v).into_response(),
            Err(e) => e.into_response(),
        };
    }
    let uri = super::proxy::with_query(&native, query.as_deref());
    let (parts, body) = req.into_parts();
    let body = match super::proxy::read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    super::proxy::relay(client, &parts, &uri, body, timeout, what, member).await
}
