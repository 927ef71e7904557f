//! Subresources other than `status`: `scale`, `serviceaccounts/token`, `pods/binding`,
//! `pods/eviction`, `namespaces/finalize`, and the container endpoints the simulation cannot
//! serve.

use std::sync::Arc;

use apimachinery::status::ApiError;
use axum::body::Body;
use http::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::handler::Query;
use crate::registry::Resource;
use crate::request::RequestInfo;
use crate::response::json as json_response;
use crate::write::{PatchType, UpdateScope, WriteOptions};

fn not_found() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

fn success_status() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})
}

/// Serves a subresource request.
pub async fn handle(
    cluster: &Arc<Cluster>,
    res: &Resource,
    info: &RequestInfo,
    req: Request<Body>,
    q: &Query,
) -> Result<Response<Body>, ApiError> {
    let name = info.name.clone().ok_or_else(not_found)?;
    let ns = if res.namespaced {
        info.namespace.clone()
    } else {
        None
    };
    let sub = info.subresource.as_deref().unwrap_or("");
    match (res.group.as_str(), res.plural.as_str(), sub) {
        (_, _, "scale") if res.scale => scale(cluster, res, ns.as_deref(), &name, req, q).await,
        ("", "serviceaccounts", "token") => token(cluster, res, ns.as_deref(), &name, req).await,
        ("", "pods", "binding") => binding(cluster, res, ns.as_deref(), &name, req, q).await,
        ("", "pods", "eviction") => eviction(cluster, res, ns.as_deref(), &name, req, q).await,
        ("", "pods", "exec" | "attach" | "portforward") => Err(ApiError::bad_request(format!(
            "pods/{sub} is not available: the embedded cluster simulates its workloads and runs no containers"
        ))),
        ("", "namespaces", "finalize") => finalize(cluster, res, &name, req, q).await,
        ("", "pods", "log") if req.method() == Method::GET => {
            crate::pod_logs::handle(cluster, ns.as_deref(), &name, q).await
        }
        _ => Err(not_found()),
    }
}

fn replicas_paths(cluster: &Cluster, res: &Resource) -> (String, String, Option<String>) {
    if !res.custom {
        return (
            "spec.replicas".into(),
            "status.replicas".into(),
            Some("spec.selector".into()),
        );
    }
    for crd in crate::crd::all(cluster) {
        if crd["spec"]["group"] != json!(res.group)
            || crd["spec"]["names"]["plural"] != json!(res.plural)
        {
            continue;
        }
        for v in crd["spec"]["versions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            if v["name"] == json!(res.version) {
                let sc = &v["subresources"]["scale"];
                let p = |k: &str| {
                    sc[k]
                        .as_str()
                        .map(|s| s.trim_start_matches('.').to_string())
                };
                return (
                    p("specReplicasPath").unwrap_or_else(|| "spec.replicas".into()),
                    p("statusReplicasPath").unwrap_or_else(|| "status.replicas".into()),
                    p("labelSelectorPath"),
                );
            }
        }
    }
    ("spec.replicas".into(), "status.replicas".into(), None)
}

/// The replica count at a dotted path (0 when absent).
fn replicas_at(obj: &Value, path: &str) -> i64 {
    crdschema::get_path(obj, path)
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// The Scale of `obj`: replicas from the resource's paths, the selector as its kind renders it
/// (a custom resource's is the string at its `labelSelectorPath`).
fn scale_of(res: &Resource, obj: &Value, paths: &(String, String, Option<String>)) -> Value {
    let m = &obj["metadata"];
    let mut status = json!({"replicas": replicas_at(obj, &paths.1)});
    let selector = if res.custom {
        paths
            .2
            .as_deref()
            .and_then(|p| crdschema::get_path(obj, p))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    } else {
        res.rules.scale_selector(obj)
    };
    if !selector.is_empty() {
        status["selector"] = json!(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
            "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"],
        },
        "spec": {"replicas": replicas_at(obj, &paths.0)},
        "status": status,
    })
}

async fn scale(
    cluster: &Arc<Cluster>,
    res: &Resource,
    ns: Option<&str>,
    name: &str,
    req: Request<Body>,
    q: &Query,
) -> Result<Response<Body>, ApiError> {
    let paths = replicas_paths(cluster, res);
    let key = res.key(ns, name);
    let method = req.method().clone();
    if method == Method::GET {
        let (obj, _) = crate::write::load(cluster, res, &key, name)?;
        return Ok(json_response(StatusCode::OK, &scale_of(res, &obj, &paths)));
    }
    if method != Method::PUT && method != Method::PATCH {
        return Err(ApiError::method_not_allowed(
            &res.group,
            &format!("{}/scale", res.plural),
            method.as_str(),
        ));
    }
    let headers = req.headers().clone();
    let bytes =
        crate::body::read_limited(req.into_body(), cluster.config.max_request_bytes).await?;
    let dry_run = q.get("dryRun").is_some_and(|v| v == "All");
    for _ in 0..16 {
        let (obj, rev) = crate::write::load(cluster, res, &key, name)?;
        let current = scale_of(res, &obj, &paths);
        let desired = if method == Method::PUT {
            crate::body::decode_object(&headers, &bytes).await?
        } else {
            let ct = crate::body::content_type(&headers);
            match PatchType::from_content_type(&ct) {
                Some(PatchType::Json) => apimachinery::patch::json_patch(&current, &bytes)
                    .map_err(|e| e.to_api_error())?,
                Some(PatchType::Merge | PatchType::Strategic) => {
                    apimachinery::patch::merge_patch(&current, &bytes)
                        .map_err(|e| e.to_api_error())?
                }
                _ => {
                    return Err(ApiError::unsupported_media_type(format!(
                        "unsupported patch type {ct}"
                    )));
                }
            }
        };
        crate::write::check_types(cluster, "autoscaling", "v1", "Scale", &desired)?;
        if let Some(rv) = desired["metadata"]["resourceVersion"].as_str()
            && !rv.is_empty()
            && rv != rev.to_string()
        {
            return Err(ApiError::stale_conflict(&res.group, &res.plural, name));
        }
        let replicas = desired["spec"]["replicas"].as_i64().unwrap_or(0);
        if replicas < 0 {
            return Err(ApiError::invalid(
                "autoscaling",
                "Scale",
                name,
                &[apimachinery::validation::FieldError::invalid(
                    "spec.replicas",
                    json!(replicas),
                    "must be greater than or equal to 0",
                )],
            ));
        }
        let mut new = obj.clone();
        if !crdschema::set_path(&mut new, &paths.0, json!(replicas)) {
            return Err(ApiError::internal(format!(
                "the object has no place for replicas at {}",
                paths.0
            )));
        }
        let new = crate::write::prepare_update(res, &obj, new, UpdateScope::Main)?;
        let opts = WriteOptions {
            dry_run,
            ..Default::default()
        };
        match crate::write::commit_update(
            cluster,
            res,
            crate::write::Stored {
                key: &key,
                object: &obj,
                revision: rev,
            },
            new,
            crate::write::UpdateScope::Main,
            &opts,
        )
        .await
        {
            Ok(updated) => {
                return Ok(json_response(
                    StatusCode::OK,
                    &scale_of(res, &updated, &paths),
                ));
            }
            Err(e) if e.reason == "Conflict" => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::stale_conflict(&res.group, &res.plural, name))
}

async fn token(
    cluster: &Arc<Cluster>,
    res: &Resource,
    ns: Option<&str>,
    name: &str,
    req: Request<Body>,
) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::POST {
        return Err(ApiError::method_not_allowed(
            "",
            "serviceaccounts/token",
            req.method().as_str(),
        ));
    }
    let ns = ns.unwrap_or("default");
    let (sa, _) = crate::write::load(cluster, res, &res.key(Some(ns), name), name)?;
    let headers = req.headers().clone();
    let bytes =
        crate::body::read_limited(req.into_body(), cluster.config.max_request_bytes).await?;
    let mut body = if bytes.is_empty() {
        json!({})
    } else {
        crate::body::decode_object(&headers, &bytes).await?
    };
    crate::write::check_types(
        cluster,
        "authentication.k8s.io",
        "v1",
        "TokenRequest",
        &body,
    )?;
    let spec = body["spec"].clone();
    let seconds = spec["expirationSeconds"].as_i64().unwrap_or(3600);
    if seconds < 600 {
        return Err(ApiError::invalid(
            "authentication.k8s.io",
            "TokenRequest",
            name,
            &[apimachinery::validation::FieldError::invalid(
                "spec.expirationSeconds",
                json!(seconds),
                "may not specify a duration less than 10 minutes",
            )],
        ));
    }
    let audiences: Vec<String> = spec["audiences"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let uid = sa["metadata"]["uid"].as_str().unwrap_or("").to_string();
    let (tok, exp) = crate::tokens::issue(cluster, ns, name, &uid, audiences.clone(), seconds)
        .map_err(ApiError::internal)?;
    let exp_ts = chrono::DateTime::from_timestamp(exp, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    body["apiVersion"] = json!("authentication.k8s.io/v1");
    body["kind"] = json!("TokenRequest");
    body["metadata"] = json!({"name": name, "namespace": ns, "creationTimestamp": null});
    body["spec"]["audiences"] = json!(if audiences.is_empty() {
        vec![crate::tokens::ISSUER.to_string()]
    } else {
        audiences
    });
    body["spec"]["expirationSeconds"] = json!(seconds);
    body["status"] = json!({"token": tok, "expirationTimestamp": exp_ts});
    Ok(json_response(StatusCode::CREATED, &body))
}

async fn binding(
    cluster: &Arc<Cluster>,
    res: &Resource,
    ns: Option<&str>,
    name: &str,
    req: Request<Body>,
    q: &Query,
) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::POST {
        return Err(ApiError::method_not_allowed(
            "",
            "pods/binding",
            req.method().as_str(),
        ));
    }
    let opts = crate::serving::handler::write_options(q)?;
    let headers = req.headers().clone();
    let bytes =
        crate::body::read_limited(req.into_body(), cluster.config.max_request_bytes).await?;
    let body = crate::body::decode_object(&headers, &bytes).await?;
    crate::write::check_types(cluster, "", "v1", "Binding", &body)?;
    let node = body["target"]["name"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::invalid(
                "",
                "Binding",
                name,
                &[apimachinery::validation::FieldError::required(
                    "target.name",
                    "",
                )],
            )
        })?;
    let key = res.key(ns, name);
    for _ in 0..16 {
        let (pod, rev) = crate::write::load(cluster, res, &key, name)?;
        if let Some(existing) = pod["spec"]["nodeName"].as_str().filter(|s| !s.is_empty()) {
            return Err(ApiError::conflict(
                "",
                "pods",
                name,
                &format!("pod {name} is already assigned to node \"{existing}\""),
            ));
        }
        if pod["metadata"]["deletionTimestamp"].is_string() {
            return Err(ApiError::conflict(
                "",
                "pods",
                name,
                &format!("pod {name} is being deleted, cannot be assigned to a host"),
            ));
        }
        let mut new = pod.clone();
        new["spec"]["nodeName"] = json!(node);
        let conds = new["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut conds: Vec<Value> = conds
            .into_iter()
            .filter(|c| c["type"] != "PodScheduled")
            .collect();
        conds.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": crate::object::now_rfc3339()}));
        new["status"]["conditions"] = json!(conds);
        match crate::write::commit_update(
            cluster,
            res,
            crate::write::Stored {
                key: &key,
                object: &pod,
                revision: rev,
            },
            new,
            crate::write::UpdateScope::Main,
            &opts,
        )
        .await
        {
            Ok(_) => return Ok(json_response(StatusCode::CREATED, &success_status())),
            Err(e) if e.reason == "Conflict" => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::stale_conflict("", "pods", name))
}

async fn eviction(
    cluster: &Arc<Cluster>,
    res: &Resource,
    ns: Option<&str>,
    name: &str,
    req: Request<Body>,
    q: &Query,
) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::POST {
        return Err(ApiError::method_not_allowed(
            "",
            "pods/eviction",
            req.method().as_str(),
        ));
    }
    // The query's `dryRun` carries into the deletion, as kube-apiserver's eviction does when
    // the Eviction's own deleteOptions name none.
    let dry_run = crate::serving::handler::write_options(q)?.dry_run;
    let headers = req.headers().clone();
    let bytes =
        crate::body::read_limited(req.into_body(), cluster.config.max_request_bytes).await?;
    // An Eviction comes as JSON, YAML or protobuf (client-go, `kubectl drain`).
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        crate::body::decode_object(&headers, &bytes).await?
    };
    let from_query = crate::delete::DeleteOptions {
        dry_run,
        ..Default::default()
    };
    let opts = match body.get("deleteOptions").filter(|d| d.is_object()) {
        Some(d) => from_query.merge(d)?,
        None => from_query,
    };
    crate::delete::delete(cluster, res, ns, name, &opts).await?;
    Ok(json_response(StatusCode::CREATED, &success_status()))
}

async fn finalize(
    cluster: &Arc<Cluster>,
    res: &Resource,
    name: &str,
    req: Request<Body>,
    q: &Query,
) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::PUT {
        return Err(ApiError::method_not_allowed(
            "",
            "namespaces/finalize",
            req.method().as_str(),
        ));
    }
    let opts = crate::serving::handler::write_options(q)?;
    let headers = req.headers().clone();
    let bytes =
        crate::body::read_limited(req.into_body(), cluster.config.max_request_bytes).await?;
    let body = crate::body::decode_object(&headers, &bytes).await?;
    crate::write::check_types(cluster, "", "v1", "Namespace", &body)?;
    let key = res.key(None, name);
    let (old, rev) = crate::write::load(cluster, res, &key, name)?;
    if let Some(n) = body["metadata"]["name"].as_str()
        && n != name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        )));
    }
    let mut new = old.clone();
    new["spec"]["finalizers"] = body["spec"]["finalizers"].clone();
    let updated = crate::write::commit_update(
        cluster,
        res,
        crate::write::Stored {
            key: &key,
            object: &old,
            revision: rev,
        },
        new,
        UpdateScope::Main,
        &opts,
    )
    .await?;
    if !opts.dry_run {
        crate::namespaces::kick(cluster);
    }
    Ok(json_response(StatusCode::OK, &updated))
}
