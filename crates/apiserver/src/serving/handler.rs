//! Request dispatch: authentication, non-resource endpoints, and the resource verbs.

use std::collections::HashMap;
use std::sync::Arc;

use apimachinery::status::ApiError;
use axum::body::Body;
use http::{Method, Request, Response, StatusCode};
use serde_json::Value;

use crate::auth::{self, UserInfo};
use crate::cluster::Cluster;
use crate::delete::DeleteOptions;
use crate::list::{ListParams, Selectors};
use crate::registry::Resource;
use crate::request::{RequestInfo, parse_path};
use crate::response::{self, error, json, json_bytes};
use crate::table::{self, Output};
use crate::watch::WatchParams;
use crate::write::{FieldValidation, PatchType, UpdateScope, WriteOptions};

/// Query parameters, last value wins.
pub type Query = HashMap<String, String>;

fn parse_query(q: Option<&str>) -> Query {
    form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn flag(q: &Query, name: &str) -> bool {
    matches!(q.get(name).map(String::as_str), Some("true" | "1"))
}

/// Serves one request.
pub async fn handle(
    cluster: Arc<Cluster>,
    peer: auth::PeerCert,
    req: Request<Body>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    match path.as_str() {
        "/healthz" | "/livez" | "/readyz" => return response::text(StatusCode::OK, "ok"),
        p if p.starts_with("/healthz/")
            || p.starts_with("/livez/")
            || p.starts_with("/readyz/") =>
        {
            return response::text(StatusCode::OK, "ok");
        }
        _ => {}
    }
    let user = match auth::authenticate(&cluster, &peer, req.headers())
        .and_then(|u| auth::impersonate(&cluster, u, req.headers()))
    {
        Ok(u) => u,
        Err(e) => return error(&e),
    };
    match route(&cluster, &user, req).await {
        Ok(resp) => resp,
        Err(e) => error(&e),
    }
}

async fn route(
    cluster: &Arc<Cluster>,
    user: &UserInfo,
    req: Request<Body>,
) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_string();
    let registry = cluster.registry.snapshot();
    let info = parse_path(&path);
    if !info.as_ref().is_some_and(|i| i.is_resource) {
        crate::authz::authorize_path(cluster, user, &path, req.method())?;
    }
    match path.trim_end_matches('/') {
        "/version" => return Ok(json(StatusCode::OK, &crate::discovery::version())),
        "/openapi/v2" => {
            // client-go's discovery asks for gnostic protobuf (kubectl's validation reads it).
            let wants_protobuf = req
                .headers()
                .get_all(http::header::ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.contains("com.github.proto-openapi.spec.v2"));
            if wants_protobuf {
                let mut resp = Response::new(Body::from(cluster.openapi_v2_protobuf()));
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static(kubeproto::OPENAPI_V2_CONTENT_TYPE),
                );
                return Ok(resp);
            }
            let crds = cluster.crd_schemas();
            return Ok(json_bytes(StatusCode::OK, cluster.openapi.v2(&crds)));
        }
        "/openapi/v3" => {
            let crds = cluster.crd_schemas();
            return Ok(json_bytes(StatusCode::OK, cluster.openapi.v3_index(&crds)));
        }
        "" => {
            let paths: Vec<&str> = vec![
                "/api",
                "/api/v1",
                "/apis",
                "/healthz",
                "/livez",
                "/readyz",
                "/version",
                "/openapi/v2",
                "/openapi/v3",
            ];
            return Ok(json(StatusCode::OK, &serde_json::json!({"paths": paths})));
        }
        _ => {}
    }
    if let Some(resp) = crate::telemetry::serve(cluster, &path, req.headers()) {
        return resp;
    }
    if let Some(rest) = path.strip_prefix("/openapi/v3/") {
        let crds = cluster.crd_schemas();
        return match cluster.openapi.v3_group_version(rest, &crds) {
            Some(doc) => Ok(json_bytes(StatusCode::OK, doc)),
            None => Err(not_found()),
        };
    }
    let Some(info) = info else {
        return Err(not_found());
    };
    if !info.is_resource {
        if req.method() != Method::GET {
            return Err(ApiError::new(
                405,
                "MethodNotAllowed",
                format!(
                    "the server does not allow this method on the requested resource ({})",
                    req.method()
                ),
            ));
        }
        return discovery(cluster, &registry, &info);
    }
    let res = registry
        .get(&info.group, &info.version, &info.resource)
        .cloned()
        .ok_or_else(not_found)?;
    // A cluster-scoped resource has no `namespaces/{ns}/` form: kube-apiserver registers no
    // such route, so it does not exist (and a namespace-level grant cannot reach it).
    if !res.namespaced && info.namespace_prefix {
        return Err(not_found());
    }
    if let Some(resp) =
        crate::telemetry::node_proxy(cluster, user, &info, req.method(), req.headers())
    {
        return resp;
    }
    let watch = parse_query(req.uri().query())
        .get("watch")
        .is_some_and(|v| v == "true" || v == "1");
    crate::authz::authorize(cluster, user, &info, req.method(), watch)?;
    if !res.stored {
        if res.group == "metrics.k8s.io" {
            let q = parse_query(req.uri().query());
            return crate::metrics::handle(cluster, &res, &info, &req, &q);
        }
        return crate::reviews::handle(cluster, user, &res, &info, req).await;
    }
    resource_request(cluster, res, info, req, user).await
}

fn not_found() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

fn discovery(
    cluster: &Cluster,
    registry: &crate::registry::RegistryState,
    info: &RequestInfo,
) -> Result<Response<Body>, ApiError> {
    let body = match (
        info.prefix.as_str(),
        info.group.as_str(),
        info.version.as_str(),
    ) {
        ("api", "", "") => Some(crate::discovery::core_versions(&cluster.bound.to_string())),
        ("api", "", v) => crate::discovery::resource_list(registry, "", v),
        ("apis", "", "") => Some(crate::discovery::group_list(registry)),
        ("apis", g, "") => crate::discovery::group(registry, g),
        ("apis", g, v) => crate::discovery::resource_list(registry, g, v),
        _ => None,
    };
    body.map(|b| json(StatusCode::OK, &b)).ok_or_else(not_found)
}

/// The write options of a request's query (`dryRun`, `fieldValidation`, `fieldManager`).
pub(crate) fn write_options(q: &Query) -> Result<WriteOptions, ApiError> {
    let dry_run = match q.get("dryRun").map(String::as_str) {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid dry run value: {other:?}; supported values are: \"All\""
            )));
        }
    };
    let field_validation = match q.get("fieldValidation").map(String::as_str) {
        None | Some("") | Some("Warn") => FieldValidation::Warn,
        Some("Ignore") => FieldValidation::Ignore,
        Some("Strict") => FieldValidation::Strict,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
            )));
        }
    };
    Ok(WriteOptions {
        dry_run,
        field_validation,
        field_manager: q.get("fieldManager").cloned(),
        ..Default::default()
    })
}

/// One request on a resource, once parsed: what every verb's handler needs.
struct Call<'a> {
    cluster: &'a Arc<Cluster>,
    res: Arc<Resource>,
    info: RequestInfo,
    ns: Option<String>,
    q: Query,
    output: Output,
    headers: http::HeaderMap,
    user: &'a UserInfo,
}

async fn resource_request(
    cluster: &Arc<Cluster>,
    res: Arc<Resource>,
    info: RequestInfo,
    req: Request<Body>,
    user: &UserInfo,
) -> Result<Response<Body>, ApiError> {
    let q = parse_query(req.uri().query());
    let accept = req
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let output = Output::negotiate(
        accept.as_deref(),
        q.get("includeObject").map(String::as_str),
    );
    let ns = if res.namespaced {
        info.namespace.clone()
    } else {
        None
    };
    if res.namespaced && info.namespace.is_none() && info.name.is_some() {
        return Err(not_found());
    }
    let scope = match info.subresource.as_deref() {
        None => UpdateScope::Main,
        Some("status") if res.status => UpdateScope::Status,
        Some(_) => return crate::subresources::handle(cluster, &res, &info, req, &q).await,
    };
    let method = req.method().clone();
    let (parts, body) = req.into_parts();
    let call = Call {
        cluster,
        res,
        ns,
        q,
        output,
        headers: parts.headers,
        user,
        info,
    };
    let name = call.info.name.clone();
    let watching = flag(&call.q, "watch") || call.info.legacy_watch;
    match (method, name.as_deref()) {
        (Method::GET, Some(name)) if !watching => call.get(name),
        (Method::GET, name) => call.list_or_watch(name),
        (Method::POST, None) => call.create(body).await,
        (Method::PUT, Some(name)) => call.update(name, scope, body).await,
        (Method::PATCH, Some(name)) => call.patch(name, scope, body).await,
        (Method::DELETE, Some(name)) => call.delete(name, body).await,
        (Method::DELETE, None) => call.delete_collection(body).await,
        (m, _) => Err(ApiError::method_not_allowed(
            &call.res.group,
            &call.res.plural,
            m.as_str(),
        )),
    }
}

impl Call<'_> {
    /// The request body, within the cluster's size limit.
    async fn body(&self, body: Body) -> Result<bytes::Bytes, ApiError> {
        crate::body::read_limited(body, self.cluster.config.max_request_bytes).await
    }

    /// Write options from the query, made by the caller.
    fn write_options(&self) -> Result<WriteOptions, ApiError> {
        let mut opts = write_options(&self.q)?;
        opts.user = Some(self.user.clone());
        // As kube-apiserver: a write naming no field manager is recorded under the client's
        // program name from its User-Agent.
        if opts.field_manager.as_deref().is_none_or(str::is_empty)
            && let Some(ua) = self
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
        {
            let manager = crate::managed::manager_from_user_agent(ua);
            opts.field_manager = (!manager.is_empty()).then_some(manager);
        }
        Ok(opts)
    }

    /// `GET` one object, as JSON or a Table.
    fn get(&self, name: &str) -> Result<Response<Body>, ApiError> {
        let res = &self.res;
        let key = res.key(self.ns.as_deref(), name);
        let kv = self
            .cluster
            .store
            .get(&key)
            .ok_or_else(|| ApiError::not_found(&res.group, &res.plural, name))?;
        match &self.output {
            Output::Object => Ok(json_bytes(
                StatusCode::OK,
                crate::versions::served_bytes(res, &kv.value),
            )),
            Output::Metadata => Ok(json_bytes(
                StatusCode::OK,
                table::partial_metadata_bytes(&crate::versions::metadata_source(res, &kv.value))
                    .map_err(|e| ApiError::internal(format!("stored object is corrupt: {e}")))?,
            )),
            other => {
                let obj = crate::write::parse_kv(&kv)?;
                Ok(json(StatusCode::OK, &table::render_one(res, other, &obj)))
            }
        }
    }

    /// `GET` a collection (a page of a list, or a watch); `name` watches one object.
    fn list_or_watch(&self, name: Option<&str>) -> Result<Response<Body>, ApiError> {
        let q = &self.q;
        let mut field_sel = q.get("fieldSelector").cloned();
        if let Some(n) = name {
            // `GET .../name?watch=1` watches one object.
            let by_name = format!("metadata.name={n}");
            field_sel = Some(match field_sel {
                Some(f) if !f.is_empty() => format!("{f},{by_name}"),
                _ => by_name,
            });
        }
        let selectors = Selectors::parse(
            &self.res,
            q.get("labelSelector").map(String::as_str),
            field_sel.as_deref(),
        )?;
        if flag(q, "watch") || self.info.legacy_watch {
            let params = WatchParams {
                resource_version: q.get("resourceVersion").cloned(),
                resource_version_match: q.get("resourceVersionMatch").cloned(),
                bookmarks: flag(q, "allowWatchBookmarks"),
                send_initial_events: q.get("sendInitialEvents").map(|v| v == "true"),
                timeout_seconds: q.get("timeoutSeconds").and_then(|v| v.parse().ok()),
            };
            return crate::watch::watch(
                self.cluster,
                self.res.clone(),
                self.ns.clone(),
                selectors,
                params,
                self.output,
            );
        }
        self.list(&selectors)
    }

    /// One page of a list, as a List or a Table.
    fn list(&self, selectors: &Selectors) -> Result<Response<Body>, ApiError> {
        let (q, res) = (&self.q, &self.res);
        let params = ListParams {
            limit: match q.get("limit") {
                Some(l) if !l.is_empty() => l
                    .parse::<i64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?
                    .max(0) as usize,
                _ => 0,
            },
            continue_token: q.get("continue").cloned(),
            resource_version: q.get("resourceVersion").cloned(),
            resource_version_match: q.get("resourceVersionMatch").cloned(),
        };
        let page =
            crate::list::list_page(self.cluster, res, self.ns.as_deref(), selectors, &params)?;
        match &self.output {
            Output::Object => Ok(json_bytes(
                StatusCode::OK,
                crate::list::list_body(res, &page),
            )),
            Output::Metadata => Ok(json_bytes(
                StatusCode::OK,
                crate::list::metadata_list_body(res, &page)?,
            )),
            other => {
                let objects = page
                    .items
                    .iter()
                    .map(crate::write::parse_kv)
                    .collect::<Result<Vec<Value>, _>>()?;
                Ok(json(
                    StatusCode::OK,
                    &table::render_list(res, other, &objects, crate::list::list_meta(&page)),
                ))
            }
        }
    }

    /// `POST` to a collection.
    async fn create(&self, body: Body) -> Result<Response<Body>, ApiError> {
        let opts = self.write_options()?;
        let body = self.body(body).await?;
        let obj = crate::body::decode_object(&self.headers, &body).await?;
        let created =
            crate::write::create(self.cluster, &self.res, self.ns.as_deref(), obj, &opts).await?;
        let resp = match (&self.output, created) {
            // The stored bytes are the object as clients get it back.
            (Output::Object, crate::write::Created::Stored(kv)) => json_bytes(
                StatusCode::CREATED,
                crate::versions::served_bytes(&self.res, &kv.value),
            ),
            (output, created) => json(
                StatusCode::CREATED,
                &table::render_one(&self.res, output, &created.into_value()?),
            ),
        };
        Ok(with_warnings(resp, &opts))
    }

    /// `PUT` one object (or its status).
    async fn update(
        &self,
        name: &str,
        scope: UpdateScope,
        body: Body,
    ) -> Result<Response<Body>, ApiError> {
        let opts = self.write_options()?;
        let body = self.body(body).await?;
        let obj = crate::body::decode_object(&self.headers, &body).await?;
        let ns = self.ns.as_deref();
        let updated =
            crate::write::update(self.cluster, &self.res, ns, name, obj, scope, &opts).await?;
        Ok(with_warnings(self.written(updated)?, &opts))
    }

    /// `PATCH` one object (or its status) with any of kube's patch types, or apply it.
    async fn patch(
        &self,
        name: &str,
        scope: UpdateScope,
        body: Body,
    ) -> Result<Response<Body>, ApiError> {
        let mut opts = self.write_options()?;
        let ct = crate::body::content_type(&self.headers);
        let kind = PatchType::from_content_type(&ct).ok_or_else(|| {
            ApiError::unsupported_media_type_accepted(&[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/apply-patch+yaml",
                "application/strategic-merge-patch+json",
            ])
        })?;
        opts.apply = kind == PatchType::Apply;
        if opts.apply && self.q.get("fieldManager").is_none_or(String::is_empty) {
            return Err(ApiError::invalid(
                "meta.k8s.io",
                "PatchOptions",
                "",
                &[apimachinery::validation::FieldError::required(
                    "fieldManager",
                    "is required for apply patch",
                )],
            ));
        }
        opts.force = flag(&self.q, "force");
        let body = self.body(body).await?;
        let patched = crate::write::patch(
            self.cluster,
            &self.res,
            self.ns.as_deref(),
            name,
            (kind, &body),
            scope,
            &opts,
        )
        .await?;
        Ok(with_warnings(self.written(patched)?, &opts))
    }

    /// The answer to an update or patch: the stored bytes as they are, when the object itself
    /// is asked for.
    fn written(&self, written: crate::write::Written) -> Result<Response<Body>, ApiError> {
        Ok(match (&self.output, written) {
            (Output::Object, crate::write::Written::Stored(kv)) => json_bytes(
                StatusCode::OK,
                crate::versions::served_bytes(&self.res, &kv.value),
            ),
            (output, written) => json(
                StatusCode::OK,
                &table::render_one(&self.res, output, &written.into_value()?),
            ),
        })
    }

    /// `DELETE` one object: 200 when it is gone, 202 while finalizers hold it.
    async fn delete(&self, name: &str, body: Body) -> Result<Response<Body>, ApiError> {
        let body = self.body(body).await?;
        let mut opts = delete_options(&self.q)?
            .merge_body(&self.headers, &body)
            .await?;
        opts.user = Some(self.user.clone());
        let ns = self.ns.as_deref();
        let deleted = crate::delete::delete(self.cluster, &self.res, ns, name, &opts).await?;
        let code = if deleted.gone {
            StatusCode::OK
        } else {
            StatusCode::ACCEPTED
        };
        let object = crate::versions::served_ref(&self.res, &deleted.object);
        Ok(json(code, &object))
    }

    /// `DELETE` a collection (`deletecollection`), answering the list of what was deleted.
    async fn delete_collection(&self, body: Body) -> Result<Response<Body>, ApiError> {
        let res = &self.res;
        if !res.verbs.iter().any(|v| v == "deletecollection") {
            return Err(ApiError::method_not_allowed(
                &res.group,
                &res.plural,
                "deletecollection",
            ));
        }
        let body = self.body(body).await?;
        let mut opts = delete_options(&self.q)?
            .merge_body(&self.headers, &body)
            .await?;
        opts.user = Some(self.user.clone());
        let selectors = Selectors::parse(
            res,
            self.q.get("labelSelector").map(String::as_str),
            self.q.get("fieldSelector").map(String::as_str),
        )?;
        let ns = self.ns.as_deref();
        let deleted =
            crate::delete::delete_collection(self.cluster, res, ns, &selectors, &opts).await?;
        let page = crate::list::Page {
            items: Vec::new(),
            revision: self.cluster.store.revision(),
            continue_token: None,
            remaining: None,
        };
        let mut body = serde_json::json!({
            "kind": res.list_kind,
            "apiVersion": res.api_version(),
            "metadata": crate::list::list_meta(&page),
        });
        let deleted = deleted.into_iter().map(|o| crate::versions::served(res, o));
        body["items"] = Value::Array(deleted.collect());
        Ok(json(StatusCode::OK, &body))
    }
}

/// Adds `Warning: 299 - "..."` headers, as kube-apiserver reports dropped fields.
fn with_warnings(mut resp: Response<Body>, opts: &WriteOptions) -> Response<Body> {
    let warnings = opts.warnings.lock().unwrap_or_else(|p| p.into_inner());
    for w in warnings.iter() {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = http::HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            resp.headers_mut().append(http::header::WARNING, v);
        }
    }
    resp
}

fn delete_options(q: &Query) -> Result<DeleteOptions, ApiError> {
    let opts = write_options(q)?;
    Ok(DeleteOptions {
        user: None,
        propagation: q.get("propagationPolicy").cloned(),
        grace_period_seconds: q.get("gracePeriodSeconds").and_then(|g| g.parse().ok()),
        precondition_uid: None,
        precondition_rv: None,
        dry_run: opts.dry_run,
    })
}
