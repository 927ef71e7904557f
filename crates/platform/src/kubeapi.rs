//! Calls to a cluster's API (the host's or a member's) through kube-rs, as JSON values, each bounded
//! by a timeout.

use std::future::Future;
use std::time::Duration;

use kube::Client;
use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::error::PlatformError;
use crate::kinds::Kind;

/// How long any single call to a cluster may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs `fut` with [`CALL_TIMEOUT`].
pub async fn timed<T, F>(what: &str, fut: F) -> Result<T, PlatformError>
where
    F: Future<Output = Result<T, kube::Error>>,
{
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Ok(r) => r.map_err(PlatformError::from),
        Err(_) => Err(PlatformError::Timeout {
            what: what.to_string(),
            secs: CALL_TIMEOUT.as_secs(),
        }),
    }
}

fn to_value(o: DynamicObject) -> Value {
    serde_json::to_value(o).unwrap_or(Value::Null)
}

/// The request builder for `kind`'s objects (in `ns` when it is namespaced).
fn request(kind: Kind, ns: Option<&str>) -> kube::core::Request {
    let ns = ns.filter(|_| kind.namespaced());
    kube::core::Request::new(<DynamicObject as kube::Resource>::url_path(
        &kind.resource(),
        ns,
    ))
}

/// `obj` as a request body of `kind`, its `apiVersion` and `kind` set.
fn body(kind: Kind, mut obj: Value) -> Result<Vec<u8>, PlatformError> {
    let Some(m) = obj.as_object_mut() else {
        return Err(PlatformError::Invalid(format!(
            "a {} must be a JSON object",
            kind.kind()
        )));
    };
    m.insert("apiVersion".into(), kind.api_version().into());
    m.insert("kind".into(), kind.kind().into());
    serde_json::to_vec(&obj).map_err(|e| PlatformError::Invalid(e.to_string()))
}

/// Sends `req` and reads the answer as plain JSON. (kube's typed calls would decode it into a
/// `DynamicObject` and its `ObjectMeta` and back, which costs as much as the call's own
/// encoding; the platform works on JSON values.)
async fn send(
    client: &Client,
    what: &'static str,
    req: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
) -> Result<Value, PlatformError> {
    let mut req = req.map_err(|e| PlatformError::Kube(kube::Error::BuildRequest(e)))?;
    // Named as kube's own calls name themselves (its tracing layer reads it).
    req.extensions_mut().insert(what);
    timed(what, client.request::<Value>(req)).await
}

/// [`send`] for a caller that does not use the answer: an error is still an error (with its
/// Status), but a successful answer's object is not decoded.
async fn send_unread(
    client: &Client,
    what: &'static str,
    req: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
) -> Result<(), PlatformError> {
    let mut req = req.map_err(|e| PlatformError::Kube(kube::Error::BuildRequest(e)))?;
    req.extensions_mut().insert(what);
    timed(what, client.request_text(req)).await.map(drop)
}

/// The HTTP status of an API error, if it was one.
pub fn status_code(e: &PlatformError) -> Option<u16> {
    match e {
        PlatformError::Kube(kube::Error::Api(s)) => Some(s.code),
        _ => None,
    }
}

/// Whether the error is a 404.
pub fn is_not_found(e: &PlatformError) -> bool {
    status_code(e) == Some(404)
}

/// Whether the error is a 409.
pub fn is_conflict(e: &PlatformError) -> bool {
    status_code(e) == Some(409)
}

/// Reads an object; `None` if it does not exist.
pub async fn get(
    client: &Client,
    kind: Kind,
    ns: Option<&str>,
    name: &str,
) -> Result<Option<Value>, PlatformError> {
    match send(
        client,
        "get",
        request(kind, ns).get(name, &Default::default()),
    )
    .await
    {
        Ok(o) => Ok(Some(o)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates an object.
pub async fn create(
    client: &Client,
    kind: Kind,
    ns: Option<&str>,
    obj: Value,
) -> Result<Value, PlatformError> {
    let req = request(kind, ns).create(&PostParams::default(), body(kind, obj)?);
    send(client, "create", req).await
}

/// [`create`] for a caller that does not need the created object back.
pub async fn create_unread(
    client: &Client,
    kind: Kind,
    ns: Option<&str>,
    obj: Value,
) -> Result<(), PlatformError> {
    let req = request(kind, ns).create(&PostParams::default(), body(kind, obj)?);
    send_unread(client, "create", req).await
}

/// Replaces an object (optimistic concurrency through its `resourceVersion`).
pub async fn replace(
    client: &Client,
    kind: Kind,
    ns: Option<&str>,
    obj: Value,
) -> Result<Value, PlatformError> {
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let req = request(kind, ns).replace(&name, &PostParams::default(), body(kind, obj)?);
    send(client, "replace", req).await
}

/// Replaces an object's status subresource (optimistic concurrency through its
/// `resourceVersion`: a concurrent writer makes this a 409).
pub async fn replace_status(
    client: &Client,
    kind: Kind,
    ns: Option<&str>,
    obj: Value,
) -> Result<Value, PlatformError> {
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let req = request(kind, ns).replace_subresource(
        "status",
        &name,
        &PostParams::default(),
        body(kind, obj)?,
    );
    send(client, "replace status", req).await
}

/// Lists the objects of any resource (`group`, `version`, `plural`) in namespace `ns`.
pub async fn list_resource(
    client: &Client,
    (group, version, plural): (&str, &str, &str),
    ns: &str,
) -> Result<Vec<Value>, PlatformError> {
    let ar = kube::api::ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: if group.is_empty() {
            version.into()
        } else {
            format!("{group}/{version}")
        },
        kind: String::new(),
        plural: plural.into(),
    };
    let api: kube::Api<DynamicObject> = kube::Api::namespaced_with(client.clone(), ns, &ar);
    Ok(timed("list", api.list(&ListParams::default()))
        .await?
        .items
        .into_iter()
        .map(to_value)
        .collect())
}

/// Applies a JSON merge patch.
pub async fn merge_patch(
    client: &Client,
    kind: Kind,
    ns: Option<&str>,
    name: &str,
    patch: Value,
) -> Result<Value, PlatformError> {
    let req = request(kind, ns).patch(name, &PatchParams::default(), &Patch::Merge(&patch));
    send(client, "patch", req).await
}

/// An object's `metadata.finalizers`.
pub fn finalizers(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect()
}

/// Sets `obj`'s finalizers to `list`, guarded by the resourceVersion it was read at: an object
/// gone or changed meanwhile is left as it is, for the controller's next pass.
pub async fn set_finalizers(
    client: &Client,
    kind: Kind,
    obj: &Value,
    list: Vec<String>,
) -> Result<(), PlatformError> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let ns = obj["metadata"]["namespace"].as_str();
    let patch = json!({"metadata": {"finalizers": list,
        "resourceVersion": obj["metadata"]["resourceVersion"]}});
    match merge_patch(client, kind, ns, name, patch).await {
        Err(e) if is_not_found(&e) || is_conflict(&e) => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Applies a JSON merge patch to the status subresource.
pub async fn merge_patch_status(
    client: &Client,
    kind: Kind,
    ns: Option<&str>,
    name: &str,
    patch: Value,
) -> Result<Value, PlatformError> {
    let req = request(kind, ns).patch_subresource(
        "status",
        name,
        &PatchParams::default(),
        &Patch::Merge(&patch),
    );
    send(client, "patch status", req).await
}

/// [`merge_patch_status`] for a caller that does not need the patched object back.
pub async fn merge_patch_status_unread(
    client: &Client,
    kind: Kind,
    ns: Option<&str>,
    name: &str,
    patch: Value,
) -> Result<(), PlatformError> {
    let req = request(kind, ns).patch_subresource(
        "status",
        name,
        &PatchParams::default(),
        &Patch::Merge(&patch),
    );
    send_unread(client, "patch status", req).await
}

/// Deletes an object; a missing object is not an error.
pub async fn delete(
    client: &Client,
    kind: Kind,
    ns: Option<&str>,
    name: &str,
) -> Result<(), PlatformError> {
    let api = kind.api(client, ns);
    match timed("delete", api.delete(name, &DeleteParams::default())).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Lists objects matching a label selector.
pub async fn list(
    client: &Client,
    kind: Kind,
    ns: Option<&str>,
    labels: &str,
) -> Result<Vec<Value>, PlatformError> {
    let lp = ListParams::default().labels(labels);
    let mut answer = send(client, "list", request(kind, ns).list(&lp)).await?;
    match answer.get_mut("items").map(Value::take) {
        Some(Value::Array(items)) => Ok(items),
        Some(Value::Null) | None => Ok(Vec::new()),
        Some(_) => Err(PlatformError::Invalid(format!(
            "the list of {} has items that are not a list",
            kind.kind()
        ))),
    }
}

/// Creates an object unless it exists; with `overwrite`, an existing one whose `compare`
/// fields differ is replaced. Safe when several replicas race.
pub async fn ensure(
    client: &Client,
    kind: Kind,
    ns: Option<&str>,
    obj: Value,
    overwrite: &[&str],
) -> Result<(), PlatformError> {
    match create(client, kind, ns, obj.clone()).await {
        Ok(_) => Ok(()),
        Err(e) if is_conflict(&e) => {
            if overwrite.is_empty() {
                return Ok(());
            }
            let name = obj["metadata"]["name"].as_str().unwrap_or_default();
            let Some(mut current) = get(client, kind, ns, name).await? else {
                return Ok(());
            };
            if overwrite.iter().all(|f| current[*f] == obj[*f]) {
                return Ok(());
            }
            for f in overwrite {
                current[*f] = obj[*f].clone();
            }
            match replace(client, kind, ns, current).await {
                Err(e) if is_conflict(&e) => Ok(()),
                other => other.map(|_| ()),
            }
        }
        Err(e) => Err(e),
    }
}
