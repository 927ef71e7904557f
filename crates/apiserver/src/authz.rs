//! Authorization of requests to the embedded cluster.

use apimachinery::status::ApiError;
use http::Method;

use crate::auth::UserInfo;
use crate::cluster::Cluster;
use crate::request::RequestInfo;

/// The Kubernetes verb of a resource request.
pub fn verb(method: &Method, info: &RequestInfo, watch: bool) -> &'static str {
    match *method {
        Method::GET | Method::HEAD if watch || info.legacy_watch => "watch",
        Method::GET | Method::HEAD if info.name.is_some() => "get",
        Method::GET | Method::HEAD => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if info.name.is_some() => "delete",
        Method::DELETE => "deletecollection",
        _ => "",
    }
}

/// Allows cluster administrators everything; everyone else is refused until RBAC is evaluated.
pub fn authorize(
    _cluster: &Cluster,
    user: &UserInfo,
    info: &RequestInfo,
    method: &Method,
) -> Result<(), ApiError> {
    if user.is_admin() {
        return Ok(());
    }
    let v = verb(method, info, false);
    let resource = match &info.subresource {
        Some(s) => format!("{}/{s}", info.resource),
        None => info.resource.clone(),
    };
    let scope = match &info.namespace {
        Some(ns) => format!(" in the namespace \"{ns}\""),
        None => " at the cluster scope".to_string(),
    };
    let group = if info.group.is_empty() {
        "\"\"".to_string()
    } else {
        format!("\"{}\"", info.group)
    };
    Err(ApiError::forbidden(
        &info.group,
        &resource,
        info.name.as_deref().unwrap_or(""),
        &format!(
            "User \"{}\" cannot {v} resource \"{resource}\" in API group {group}{scope}",
            user.name
        ),
    ))
}
