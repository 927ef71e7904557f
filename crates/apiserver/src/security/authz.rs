//! Authorization of requests to the embedded cluster through RBAC.

use apimachinery::status::ApiError;
use http::Method;

use crate::auth::UserInfo;
use crate::cluster::Cluster;
use crate::rbac::Attributes;
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

/// RBAC attributes of a resource request.
pub fn attributes(info: &RequestInfo, method: &Method, watch: bool) -> Attributes {
    let mut verb = verb(method, info, watch).to_string();
    // `GET .../name?watch=1` watches one object; `GET` with a field selector on a name lists.
    if watch && info.name.is_some() {
        verb = "watch".into();
    }
    Attributes {
        verb,
        namespace: info.namespace.clone(),
        api_group: info.group.clone(),
        resource: info.resource.clone(),
        subresource: info.subresource.clone(),
        name: info.name.clone(),
        path: None,
    }
}

fn forbidden(user: &UserInfo, a: &Attributes) -> ApiError {
    let resource = match &a.subresource {
        Some(s) => format!("{}/{s}", a.resource),
        None => a.resource.clone(),
    };
    let scope = match &a.namespace {
        Some(ns) => format!(" in the namespace \"{ns}\""),
        None => " at the cluster scope".to_string(),
    };
    let group = if a.api_group.is_empty() {
        "\"\"".to_string()
    } else {
        format!("\"{}\"", a.api_group)
    };
    ApiError::forbidden(
        &a.api_group,
        &resource,
        a.name.as_deref().unwrap_or(""),
        &format!(
            "User \"{}\" cannot {} resource \"{resource}\" in API group {group}{scope}",
            user.name, a.verb
        ),
    )
}

/// Allows a resource request if RBAC does.
pub fn authorize(
    cluster: &Cluster,
    user: &UserInfo,
    info: &RequestInfo,
    method: &Method,
    watch: bool,
) -> Result<(), ApiError> {
    let a = attributes(info, method, watch);
    if cluster.rbac.allows(user, &a) {
        Ok(())
    } else {
        Err(forbidden(user, &a))
    }
}

/// Allows a non-resource request (`/version`, discovery, OpenAPI) if RBAC does.
pub fn authorize_path(
    cluster: &Cluster,
    user: &UserInfo,
    path: &str,
    method: &Method,
) -> Result<(), ApiError> {
    let verb = match *method {
        Method::GET | Method::HEAD => "get",
        Method::POST => "post",
        Method::PUT => "put",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "",
    };
    let a = Attributes {
        verb: verb.into(),
        path: Some(path.to_string()),
        ..Default::default()
    };
    if cluster.rbac.allows(user, &a) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "",
            "",
            "",
            &format!("User \"{}\" cannot {verb} path \"{path}\"", user.name),
        ))
    }
}
