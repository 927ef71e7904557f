//! A cluster's own Prometheus as the monitoring source: its address and credentials come from
//! the Cluster object, queries go to its HTTP API (`/api/v1/query`, `/api/v1/query_range`).
//!
//! On the Cluster (`cluster.kubesphere.io/v1alpha1`, in the host):
//! * annotation `monitoring.orrery.io/prometheus-url`: the base URL (`http://…` or `https://…`);
//! * annotation `monitoring.orrery.io/prometheus-secret` (optional): the name of a Secret in
//!   `kubesphere-system` with `token` (bearer), or `username` and `password` (basic auth), and/or
//!   `ca.crt` (PEM CA that signs the Prometheus' certificate).
//!
//! Credentials are read at each query and never logged.

use std::time::Duration;

use apimachinery::status::ApiError;
use base64::Engine as _;
use serde_json::Value;

use super::At;
use super::engine::QueryValue;
use super::store::Labels;
use crate::kinds::Kind;

/// The annotation naming a cluster's Prometheus.
pub const URL_ANNOTATION: &str = "monitoring.orrery.io/prometheus-url";
/// The annotation naming the Secret with its credentials.
pub const SECRET_ANNOTATION: &str = "monitoring.orrery.io/prometheus-secret";

/// Where a cluster's Prometheus is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusConfig {
    /// Base URL, without a trailing `/`.
    pub url: String,
    /// The Secret with credentials, in `kubesphere-system`.
    pub secret: Option<String>,
}

impl PrometheusConfig {
    /// Reads the annotations of a Cluster object; `None` when no (valid) URL is set.
    pub fn from_cluster(cluster: &Value) -> Option<PrometheusConfig> {
        let ann = &cluster["metadata"]["annotations"];
        let url = ann[URL_ANNOTATION].as_str()?.trim().trim_end_matches('/');
        let parsed = reqwest::Url::parse(url).ok()?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return None;
        }
        Some(PrometheusConfig {
            url: url.to_string(),
            secret: ann[SECRET_ANNOTATION]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        })
    }

    /// An HTTP client with the Secret's CA and credentials.
    pub async fn client(
        &self,
        host: &kube::Client,
        timeout: Duration,
    ) -> Result<PromClient, ApiError> {
        let mut auth = None;
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(name) = &self.secret {
            let secret = crate::kubeapi::get(
                host,
                Kind::Secret,
                Some(crate::tokens::SYSTEM_NAMESPACE),
                name,
            )
            .await
            .map_err(|e| {
                ApiError::new(
                    503,
                    "ServiceUnavailable",
                    format!("reading the Prometheus Secret: {e}"),
                )
            })?
            .ok_or_else(|| {
                ApiError::new(
                    503,
                    "ServiceUnavailable",
                    format!("the Prometheus Secret kubesphere-system/{name} does not exist"),
                )
            })?;
            let field = |k: &str| -> Option<Vec<u8>> {
                secret["data"][k]
                    .as_str()
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .or_else(|| {
                        secret["stringData"][k]
                            .as_str()
                            .map(|s| s.as_bytes().to_vec())
                    })
            };
            if let Some(ca) = field("ca.crt") {
                let cert = reqwest::Certificate::from_pem(&ca).map_err(|_| {
                    ApiError::new(
                        503,
                        "ServiceUnavailable",
                        "the Prometheus Secret's ca.crt is not a PEM certificate",
                    )
                })?;
                builder = builder.add_root_certificate(cert);
            }
            let text = |b: Vec<u8>| String::from_utf8(b).unwrap_or_default();
            auth = match (field("token"), field("username"), field("password")) {
                (Some(t), _, _) => Some(Auth::Bearer(text(t).trim().to_string())),
                (None, Some(u), p) => Some(Auth::Basic(text(u), p.map(text))),
                _ => None,
            };
        }
        let http = builder
            .build()
            .map_err(|e| ApiError::new(500, "InternalError", format!("HTTP client: {e}")))?;
        Ok(PromClient { http, auth })
    }
}

#[derive(Clone)]
enum Auth {
    Bearer(String),
    Basic(String, Option<String>),
}

/// An HTTP client for one Prometheus (credentials inside; not `Debug`, so never printed).
pub struct PromClient {
    http: reqwest::Client,
    auth: Option<Auth>,
}

fn secs(t: std::time::SystemTime) -> String {
    format!("{:.3}", super::millis(t) as f64 / 1000.0)
}

/// Sends `expr` (already confined) to the Prometheus' query API.
pub async fn query(
    client: &PromClient,
    config: &PrometheusConfig,
    expr: &str,
    at: At,
) -> Result<QueryValue, ApiError> {
    let (path, params) = match at {
        At::Instant(t) => (
            "query",
            vec![("query", expr.to_string()), ("time", secs(t))],
        ),
        At::Range(r) => (
            "query_range",
            vec![
                ("query", expr.to_string()),
                ("start", secs(r.start)),
                ("end", secs(r.end)),
                ("step", format!("{:.3}", r.step.as_secs_f64())),
            ],
        ),
    };
    let url = format!("{}/api/v1/{path}", config.url);
    let mut req = client.http.post(&url).form(&params);
    match &client.auth {
        Some(Auth::Bearer(t)) => req = req.bearer_auth(t),
        Some(Auth::Basic(u, p)) => req = req.basic_auth(u, p.as_ref()),
        None => {}
    }
    let unavailable =
        |what: String| ApiError::new(503, "ServiceUnavailable", format!("Prometheus: {what}"));
    let resp = req.send().await.map_err(|e| {
        unavailable(if e.is_timeout() {
            "no answer in time".into()
        } else {
            format!("cannot reach {}: {}", config.url, e.without_url())
        })
    })?;
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|_| unavailable(format!("answered {status} without a body")))?;
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|_| unavailable(format!("answered {status} without a JSON body")))?;
    if body["status"] != "success" {
        let message = body["error"].as_str().unwrap_or("query failed");
        return Err(match body["errorType"].as_str() {
            Some("bad_data") => ApiError::new(400, "BadRequest", format!("Prometheus: {message}")),
            Some("timeout") | Some("canceled") => unavailable(message.to_string()),
            _ => ApiError::new(422, "Invalid", format!("Prometheus: {message}")),
        });
    }
    parse_data(&body["data"]).ok_or_else(|| unavailable("an answer of an unknown shape".into()))
}

fn labels_of(v: &Value) -> Labels {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn point(v: &Value) -> Option<(i64, f64)> {
    let t = v.get(0)?.as_f64()?;
    let x = parse_value(v.get(1)?.as_str()?)?;
    Some(((t * 1000.0).round() as i64, x))
}

/// Prometheus' number strings (`NaN`, `+Inf`, `-Inf` included).
pub fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// Reads the `data` of a query answer.
pub fn parse_data(data: &Value) -> Option<QueryValue> {
    let result = &data["result"];
    match data["resultType"].as_str()? {
        "vector" => Some(QueryValue::Vector(
            result
                .as_array()?
                .iter()
                .filter_map(|s| Some((labels_of(&s["metric"]), point(&s["value"])?.1)))
                .collect(),
        )),
        "matrix" => Some(QueryValue::Matrix(
            result
                .as_array()?
                .iter()
                .map(|s| {
                    let pts = s["values"]
                        .as_array()
                        .map(|a| a.iter().filter_map(point).collect())
                        .unwrap_or_default();
                    (labels_of(&s["metric"]), pts)
                })
                .collect(),
        )),
        "scalar" => Some(QueryValue::Scalar(point(result)?.1)),
        "string" => Some(QueryValue::String(result.get(1)?.as_str()?.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_cluster_annotations_name_the_prometheus() {
        let c = json!({"metadata": {"annotations": {
            URL_ANNOTATION: "https://prom.example:9090/",
            SECRET_ANNOTATION: "prom-creds"}}});
        assert_eq!(
            PrometheusConfig::from_cluster(&c),
            Some(PrometheusConfig {
                url: "https://prom.example:9090".into(),
                secret: Some("prom-creds".into())
            })
        );
        for bad in ["", "ftp://x", "not a url"] {
            let c = json!({"metadata": {"annotations": {URL_ANNOTATION: bad}}});
            assert_eq!(PrometheusConfig::from_cluster(&c), None, "{bad}");
        }
        assert_eq!(PrometheusConfig::from_cluster(&json!({})), None);
    }

    #[test]
    fn answers_are_read_in_every_shape() {
        let v = parse_data(&json!({"resultType": "vector", "result": [
            {"metric": {"pod": "a"}, "value": [1.5, "2"]}]}));
        assert_eq!(
            v,
            Some(QueryValue::Vector(vec![(
                [("pod".to_string(), "a".to_string())].into_iter().collect(),
                2.0
            )]))
        );
        let m = parse_data(&json!({"resultType": "matrix", "result": [
            {"metric": {}, "values": [[1, "1"], [2, "+Inf"]]}]}));
        assert_eq!(
            m,
            Some(QueryValue::Matrix(vec![(
                Labels::new(),
                vec![(1000, 1.0), (2000, f64::INFINITY)]
            )]))
        );
        assert_eq!(
            parse_data(&json!({"resultType": "scalar", "result": [1, "3"]})),
            Some(QueryValue::Scalar(3.0))
        );
        assert_eq!(parse_data(&json!({"resultType": "other"})), None);
    }
}
