//! Subresources other than `status`.

use std::sync::Arc;

use apimachinery::status::ApiError;
use axum::body::Body;
use http::{Request, Response};

use crate::cluster::Cluster;
use crate::handler::Query;
use crate::registry::Resource;
use crate::request::RequestInfo;

/// Serves a subresource request; subresources this cluster does not serve are 404, as in
/// kube-apiserver.
pub async fn handle(
    _cluster: &Arc<Cluster>,
    _res: &Resource,
    _info: &RequestInfo,
    _req: Request<Body>,
    _q: &Query,
) -> Result<Response<Body>, ApiError> {
    Err(ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    ))
}
