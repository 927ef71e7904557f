//! Dynamic admission (`admissionregistration.k8s.io/v1`): the MutatingWebhookConfigurations
//! and ValidatingWebhookConfigurations in the store are called on create, update and delete as
//! kube-apiserver calls them — mutating webhooks first (configurations by name, webhooks in
//! order; a JSONPatch answer is applied), then validating ones — with an `AdmissionReview`
//! v1 over HTTPS (`clientConfig.url`, trusting `caBundle`), `rules`, `namespaceSelector`,
//! `objectSelector`, `timeoutSeconds`, `failurePolicy` and `sideEffects` on dry runs, and
//! kube's error messages.
//!
//! Simulation convention: a webhook backed by a Service (`clientConfig.service`) would run in a
//! simulated pod, which serves nothing; it admits every request unchanged, so charts that ship
//! webhooks for their own controllers install and behave. `matchConditions` (CEL) are not
//! evaluated: a webhook whose rules match is called.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use apimachinery::selector::LabelSelector;
use apimachinery::status::ApiError;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::registry::{Resource, keys};

/// The webhooks' API group.
pub const GROUP: &str = "admissionregistration.k8s.io";
const MUTATING: &str = "mutatingwebhookconfigurations";
const VALIDATING: &str = "validatingwebhookconfigurations";
/// Largest answer read from a webhook.
const MAX_RESPONSE: usize = 3 * 1024 * 1024;

/// The configurations in the store, kept in step by [`run`].
#[derive(Default)]
pub struct Webhooks {
    configs: RwLock<Arc<Vec<Config>>>,
}

#[derive(Clone)]
struct Config {
    name: String,
    mutating: bool,
    object: Value,
}

impl Webhooks {
    fn apply(&self, key: &str, value: Option<&[u8]>) {
        let Some((_, plural, name)) = keys::split(key) else {
            return;
        };
        let mutating = plural == MUTATING;
        if !mutating && plural != VALIDATING {
            return;
        }
        let mut configs: Vec<Config> = self.current().as_ref().clone();
        configs.retain(|c| !(c.name == name && c.mutating == mutating));
        if let Some(object) = value.and_then(|v| serde_json::from_slice::<Value>(v).ok()) {
            configs.push(Config {
                name: name.to_string(),
                mutating,
                object,
            });
        }
        configs.sort_by(|a, b| (!a.mutating, &a.name).cmp(&(!b.mutating, &b.name)));
        *self.configs.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(configs);
    }

    fn current(&self) -> Arc<Vec<Config>> {
        self.configs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn prefix() -> String {
    format!("{}{GROUP}/", keys::ROOT)
}

/// Loads the configurations synchronously (at start, before serving).
pub fn prime(cluster: &Cluster) {
    if let Ok(listed) = cluster.store.list(&prefix(), None, 0, None) {
        for kv in &listed.items {
            cluster.webhooks.apply(&kv.key, Some(&kv.value));
        }
    }
}

/// Keeps the configurations in step with the store until shutdown.
pub async fn run(cluster: Arc<Cluster>) {
    let hooks = &cluster.webhooks;
    crate::controllers::follow::follow(
        &cluster,
        &prefix(),
        || *hooks.configs.write().unwrap_or_else(|p| p.into_inner()) = Arc::default(),
        |key, value| hooks.apply(key, value),
        || {},
    )
    .await;
}

/// One admission request.
pub struct Request<'a> {
    /// `CREATE`, `UPDATE` or `DELETE`.
    pub operation: &'static str,
    /// The resource written.
    pub res: &'a Resource,
    /// `status` for the status subresource, else empty.
    pub subresource: &'a str,
    /// The namespace (empty for cluster-scoped objects).
    pub namespace: &'a str,
    /// The object's name.
    pub name: &'a str,
    /// The stored object an update or delete starts from.
    pub old: Option<&'a Value>,
    /// The requesting user (`None`: the server's own writes, which webhooks do not see).
    pub user: Option<&'a crate::auth::UserInfo>,
    /// Whether this is a dry run.
    pub dry_run: bool,
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn listed(list: &Value, want: &str) -> bool {
    strings(list).iter().any(|x| *x == "*" || *x == want)
}

/// Whether one `rules[]` entry covers the request (operations, groups, versions, resources
/// with `*`, `res/*` and `*/sub`, scope).
fn rule_matches(rule: &Value, req: &Request<'_>) -> bool {
    let res = req.res;
    let resource_ok = strings(&rule["resources"]).iter().any(|r| {
        let (rr, rs) = r.split_once('/').unwrap_or((r, ""));
        (rr == "*" || rr == res.plural) && (rs == "*" || rs == req.subresource)
    });
    let scope_ok = match rule["scope"].as_str().unwrap_or("*") {
        "Cluster" => !res.namespaced,
        "Namespaced" => res.namespaced,
        _ => true,
    };
    listed(&rule["operations"], req.operation)
        && listed(&rule["apiGroups"], &res.group)
        && listed(&rule["apiVersions"], &res.version)
        && resource_ok
        && scope_ok
}

fn selector_matches(selector: &Value, labels: &Value) -> bool {
    if !selector.is_object() || selector.as_object().is_some_and(|m| m.is_empty()) {
        return true;
    }
    LabelSelector::from_label_selector_json(selector)
        .map(|s| s.matches(labels))
        .unwrap_or(false)
}

fn webhook_applies(cluster: &Cluster, hook: &Value, req: &Request<'_>, obj: &Value) -> bool {
    if !strings_any(&hook["rules"], |r| rule_matches(r, req)) {
        return false;
    }
    let object_labels = if obj.is_object() {
        &obj["metadata"]["labels"]
    } else {
        req.old.map_or(&Value::Null, |o| &o["metadata"]["labels"])
    };
    if !selector_matches(&hook["objectSelector"], object_labels) {
        return false;
    }
    if req.namespace.is_empty() && req.res.plural != "namespaces" {
        return true;
    }
    let ns_name = if req.res.plural == "namespaces" {
        req.name
    } else {
        req.namespace
    };
    let ns_labels = if req.res.plural == "namespaces" {
        obj["metadata"]["labels"].clone()
    } else {
        cluster
            .store
            .get(&keys::object("", "namespaces", None, ns_name))
            .and_then(|kv| serde_json::from_slice::<Value>(&kv.value).ok())
            .map(|ns| ns["metadata"]["labels"].clone())
            .unwrap_or(Value::Null)
    };
    selector_matches(&hook["namespaceSelector"], &ns_labels)
}

fn strings_any(v: &Value, f: impl Fn(&Value) -> bool) -> bool {
    v.as_array().into_iter().flatten().any(f)
}

/// Runs the mutating webhooks that match, applying their patches to `obj`.
pub async fn mutate(cluster: &Cluster, req: &Request<'_>, obj: &mut Value) -> Result<(), ApiError> {
    run_hooks(cluster, req, obj, true).await
}

/// Runs the validating webhooks that match.
pub async fn validate(cluster: &Cluster, req: &Request<'_>, obj: &Value) -> Result<(), ApiError> {
    if cluster.webhooks.current().iter().all(|c| c.mutating) {
        return Ok(());
    }
    let mut copy = obj.clone();
    run_hooks(cluster, req, &mut copy, false).await
}

async fn run_hooks(
    cluster: &Cluster,
    req: &Request<'_>,
    obj: &mut Value,
    mutating: bool,
) -> Result<(), ApiError> {
    if req.user.is_none() || req.res.group == GROUP {
        // The server's own writes, and webhook configurations themselves, are not admitted by
        // webhooks (kube-apiserver exempts the latter so a bad webhook can be removed).
        return Ok(());
    }
    let configs = cluster.webhooks.current();
    for config in configs.iter().filter(|c| c.mutating == mutating) {
        for hook in config.object["webhooks"].as_array().into_iter().flatten() {
            if !webhook_applies(cluster, hook, req, obj) {
                continue;
            }
            call_one(hook, req, obj, mutating).await?;
        }
    }
    Ok(())
}

async fn call_one(
    hook: &Value,
    req: &Request<'_>,
    obj: &mut Value,
    mutating: bool,
) -> Result<(), ApiError> {
    let name = hook["name"].as_str().unwrap_or_default();
    let fail_closed = hook["failurePolicy"].as_str() != Some("Ignore");
    if req.dry_run
        && !matches!(
            hook["sideEffects"].as_str(),
            Some("None") | Some("NoneOnDryRun")
        )
    {
        return Err(ApiError::bad_request(format!(
            "admission webhook \"{name}\" does not support dry run"
        )));
    }
    let Some(url) = hook["clientConfig"]["url"].as_str() else {
        // A Service-backed webhook: simulated workloads serve nothing; it admits (see above).
        return Ok(());
    };
    let review = review(req, obj);
    let uid = review["request"]["uid"].clone();
    let timeout = Duration::from_secs(hook["timeoutSeconds"].as_u64().unwrap_or(10).clamp(1, 30));
    let ca = hook["clientConfig"]["caBundle"]
        .as_str()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
    let answer = match post(url, ca.as_deref(), &review, timeout).await {
        Ok(a) => a,
        Err(e) if fail_closed => {
            return Err(ApiError::internal(format!(
                "failed calling webhook \"{name}\": failed to call webhook: Post \"{url}\": {e}"
            )));
        }
        Err(e) => {
            tracing::warn!(webhook = name, error = %e, "webhook failed; ignored by its failurePolicy");
            return Ok(());
        }
    };
    let response = &answer["response"];
    if answer["apiVersion"] != "admission.k8s.io/v1" || response["uid"] != uid {
        let why = "received invalid webhook response: expected response.uid to match the request";
        if fail_closed {
            return Err(ApiError::internal(format!(
                "failed calling webhook \"{name}\": {why}"
            )));
        }
        return Ok(());
    }
    if response["allowed"].as_bool() != Some(true) {
        return Err(denied(name, &response["status"]));
    }
    // A DELETE has no object to patch.
    if mutating
        && obj.is_object()
        && let Some(patch) = response["patch"].as_str()
    {
        apply_patch(name, patch, obj)?;
    }
    Ok(())
}

/// kube's `ToStatusErr`: the webhook's Status, at least 400, its message prefixed.
fn denied(name: &str, status: &Value) -> ApiError {
    let code = status["code"].as_u64().map_or(400, |c| c.max(400)) as u16;
    let reason = status["reason"].as_str().unwrap_or_default();
    let by = format!("admission webhook \"{name}\" denied the request");
    let message = match (status["message"].as_str(), reason) {
        (Some(m), _) if !m.is_empty() => format!("{by}: {m}"),
        (_, r) if !r.is_empty() => format!("{by}: {r}"),
        _ => format!("{by} without explanation"),
    };
    ApiError::new(code, reason, message)
}

fn apply_patch(name: &str, patch: &str, obj: &mut Value) -> Result<(), ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch)
        .map_err(|e| ApiError::internal(format!("webhook \"{name}\": patch is not base64: {e}")))?;
    *obj = apimachinery::patch::json_patch(obj, &bytes).map_err(|e| {
        ApiError::internal(format!(
            "webhook \"{name}\": its patch does not apply: {e:?}"
        ))
    })?;
    Ok(())
}

fn review(req: &Request<'_>, obj: &Value) -> Value {
    let res = req.res;
    let user = req.user.map_or(
        json!({}),
        |u| json!({"username": u.name, "groups": u.groups}),
    );
    let kind = json!({"group": res.group, "version": res.version, "kind": res.kind});
    let resource = json!({"group": res.group, "version": res.version, "resource": res.plural});
    let mut request = json!({
        "uid": uuid::Uuid::new_v4().to_string(),
        "kind": kind, "resource": resource,
        "requestKind": kind, "requestResource": resource,
        "name": req.name,
        "operation": req.operation,
        "userInfo": user,
        "object": if obj.is_object() { obj.clone() } else { Value::Null },
        "oldObject": req.old.cloned().unwrap_or(Value::Null),
        "dryRun": req.dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": match req.operation {
            "CREATE" => "CreateOptions", "UPDATE" => "UpdateOptions", _ => "DeleteOptions" }},
    });
    if !req.subresource.is_empty() {
        request["subResource"] = req.subresource.into();
    }
    if !req.namespace.is_empty() {
        request["namespace"] = req.namespace.into();
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
}

/// POSTs an AdmissionReview over HTTPS (trusting `ca`, else the system's roots) and reads the
/// answer.
async fn post(
    url: &str,
    ca: Option<&[u8]>,
    review: &Value,
    timeout: Duration,
) -> Result<Value, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("invalid URL: {e}"))?;
    if uri.scheme_str() != Some("https") {
        return Err("only https webhook URLs are called".into());
    }
    let host = uri.host().ok_or("no host")?.to_string();
    let port = uri.port_u16().unwrap_or(443);
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = ca {
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pem).flatten() {
            roots.add(cert).map_err(|e| format!("caBundle: {e}"))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let server_name = rustls_pki_types::ServerName::try_from(host.clone())
        .map_err(|e| format!("server name: {e}"))?;
    let body = serde_json::to_vec(review).map_err(|e| e.to_string())?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let exchange = async move {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("dial tcp {host}:{port}: {e}"))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(server_name, tcp)
            .await
            .map_err(|e| format!("tls: {e}"))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let request = http::Request::post(path)
            .header(http::header::HOST, format!("{host}:{port}"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let limited = http_body_util::Limited::new(resp.into_body(), MAX_RESPONSE);
        let bytes = limited
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if !status.is_success() {
            return Err(format!("the server responded with {status}"));
        }
        serde_json::from_slice::<Value>(&bytes).map_err(|e| format!("invalid response: {e}"))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| "context deadline exceeded".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_read_as_kube_words_them() {
        let e = denied(
            "policy.example.com",
            &json!({"code": 403, "message": "no latest tags"}),
        );
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "admission webhook \"policy.example.com\" denied the request: no latest tags"
        );
        let e = denied("p", &json!({}));
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                400,
                "admission webhook \"p\" denied the request without explanation"
            )
        );
        let e = denied("p", &json!({"code": 200, "reason": "Nope"}));
        assert_eq!(
            (e.code, e.message.as_str()),
            (400, "admission webhook \"p\" denied the request: Nope")
        );
    }
}
