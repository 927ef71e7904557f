//! Which requests are audited at which level, and what of their bodies may be kept (pure).
//!
//! The policy is kube-apiserver's levels applied by verb class: writes at one level
//! (`Metadata` by default), reads (`get`, `list`, `watch`) at another (`None` by default). Some
//! requests never carry a body into the log whatever the level, because their bodies are
//! credentials: logins and token grants, password changes, kubeconfig and token downloads,
//! identity provider checks. Every other body is redacted before it is kept (see [`redact`]).

use serde_json::Value;

use super::event::Level;

/// Paths never audited: probes, metrics and the console's static files (not API requests).
fn is_noise(method: &http::Method, path: &str) -> bool {
    let read = matches!(*method, http::Method::GET | http::Method::HEAD);
    matches!(path, "/healthz" | "/livez" | "/readyz" | "/metrics")
        || read
            && (path == "/"
                || path == "/console"
                || path.starts_with("/console/") && path != "/console/watch")
}

/// Whether a method only reads.
pub fn is_read(method: &http::Method) -> bool {
    matches!(
        *method,
        http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
    )
}

/// Whether a request's bodies are credentials, so it is audited at `Metadata` at most: the
/// OAuth endpoints (token grants, logins, callbacks), the console's session (login), password
/// changes, kubeconfig and token downloads, identity provider checks (bind passwords) and key
/// rotations.
pub fn is_credential_path(path: &str) -> bool {
    path.starts_with("/oauth/")
        || path.starts_with("/console/")
        || path.ends_with("/password")
        || path.ends_with("/kubeconfig")
        || path.ends_with("/tokens")
        || path.contains("/tokens/")
        || path.ends_with("/identityproviders/test")
        || path.ends_with("/signingkey/rotate")
        || path.ends_with("/idtokenkey/rotate")
        || path.starts_with("/kapis/config.kubesphere.io/")
}

/// The level a request is audited at, from the configured write and read levels.
pub fn level_for(method: &http::Method, path: &str, write: Level, read: Level) -> Level {
    if is_noise(method, path) {
        return Level::None;
    }
    let level = if is_read(method) { read } else { write };
    if is_credential_path(path) {
        level.min(Level::Metadata)
    } else {
        level
    }
}

/// What replaces a redacted value.
pub const REDACTED: &str = "REDACTED";

/// Whether an object key names a credential, whose value is never kept.
fn is_credential_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("password")
        || k.contains("passwd")
        || k.contains("token")
        || k.contains("kubeconfig")
        || k.contains("privatekey")
        || k.contains("private_key")
        || k.contains("secret")
        || k.contains("credential")
        || k == "tls.key"
        || k.ends_with(".key")
        || k == "key"
        || k == "authorization"
        || k == "cookie"
        // kubectl's copy of the whole object as applied: a Secret's data, a User's password…
        || k == "kubectl.kubernetes.io/last-applied-configuration"
}

/// Removes every credential from a request or answer body in place: under a secret context
/// (a request about `secrets`) every `data`, `stringData` and JSON-patch `value`; in any body,
/// objects of kind `Secret` or `SecretList` and every key that names a credential (passwords,
/// tokens, kubeconfigs, private keys, client secrets, kubectl's last-applied copy).
pub fn redact(v: &mut Value, secret_context: bool) {
    match v {
        Value::Object(map) => {
            let secret = secret_context
                || matches!(
                    map.get("kind").and_then(Value::as_str),
                    Some("Secret" | "SecretList")
                );
            for (k, val) in map.iter_mut() {
                let blank = is_credential_key(k)
                    || secret && matches!(k.as_str(), "data" | "stringData" | "value");
                if blank {
                    blank_leaves(val);
                } else {
                    redact(val, secret);
                }
            }
        }
        Value::Array(items) => {
            for i in items {
                redact(i, secret_context);
            }
        }
        _ => {}
    }
}

/// Replaces every leaf value under `v` by [`REDACTED`], keeping the keys (which data keys a
/// Secret has is not a secret, and shows what changed).
fn blank_leaves(v: &mut Value) {
    match v {
        Value::Object(map) => map.values_mut().for_each(blank_leaves),
        Value::Array(items) => items.iter_mut().for_each(blank_leaves),
        Value::Null => {}
        other => *other = Value::String(REDACTED.into()),
    }
}

/// Query parameters whose values are credentials (dropped from `requestURI`).
fn is_credential_param(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    is_credential_key(&k) || matches!(k.as_str(), "code" | "state" | "client_secret")
}

/// The `requestURI` to record: the path and the query without credential values. The OAuth
/// and console paths keep no query at all (codes, states, tokens).
pub fn request_uri(path: &str, query: Option<&str>) -> String {
    let Some(q) = query.filter(|q| !q.is_empty()) else {
        return path.to_string();
    };
    if path.starts_with("/oauth/") || path.starts_with("/console/") {
        return path.to_string();
    }
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        if is_credential_param(&k) {
            out.append_pair(&k, REDACTED);
        } else {
            out.append_pair(&k, &v);
        }
    }
    format!("{path}?{}", out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn writes_and_reads_have_their_levels() {
        let post = http::Method::POST;
        let get = http::Method::GET;
        let cm = "/api/v1/namespaces/a/configmaps";
        assert_eq!(
            level_for(&post, cm, Level::Metadata, Level::None),
            Level::Metadata
        );
        assert_eq!(
            level_for(&get, cm, Level::Metadata, Level::None),
            Level::None
        );
        assert_eq!(
            level_for(&get, cm, Level::Metadata, Level::Request),
            Level::Request
        );
        for p in [
            "/oauth/token",
            "/console/session",
            "/kapis/iam.kubesphere.io/v1beta1/users/u/password",
            "/kapis/resources.kubesphere.io/v1alpha2/users/u/kubeconfig",
            "/kapis/iam.kubesphere.io/v1beta1/identityproviders/test",
        ] {
            assert_eq!(
                level_for(&post, p, Level::RequestResponse, Level::RequestResponse),
                Level::Metadata,
                "{p}"
            );
        }
        assert_eq!(
            level_for(&get, "/healthz", Level::Metadata, Level::Metadata),
            Level::None
        );
        assert_eq!(
            level_for(&get, "/console/app.js", Level::Metadata, Level::Metadata),
            Level::None
        );
    }

    #[test]
    fn secrets_and_passwords_are_redacted() {
        let mut secret = json!({"kind": "Secret", "metadata": {"name": "s", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"k\":\"c2VjcmV0\"}}"}},
            "data": {"k": "c2VjcmV0"}, "stringData": {"p": "secret"}});
        redact(&mut secret, false);
        let s = secret.to_string();
        assert!(!s.contains("c2VjcmV0") && !s.contains("\"secret\""), "{s}");
        assert_eq!(secret["data"]["k"], REDACTED);
        assert_eq!(secret["metadata"]["name"], "s");
        // A list answer's items carry no kind: the request's context says they are Secrets.
        let mut list = json!({"items": [{"metadata": {"name": "s"}, "data": {"k": "c2VjcmV0"}}]});
        redact(&mut list, true);
        assert!(!list.to_string().contains("c2VjcmV0"));
        // A JSON patch of a Secret.
        let mut patch = json!([{"op": "replace", "path": "/data/k", "value": "c2VjcmV0"}]);
        redact(&mut patch, true);
        assert!(!patch.to_string().contains("c2VjcmV0"));
        let mut user = json!({"kind": "User", "metadata": {"name": "u"},
            "spec": {"email": "u@example.com", "password": "P4ssw0rd!"}});
        redact(&mut user, false);
        assert_eq!(user["spec"]["password"], REDACTED);
        assert_eq!(user["spec"]["email"], "u@example.com");
        let mut cluster = json!({"spec": {"connection": {"kubeconfig": "YXBpVmVyc2lvbg=="}}});
        redact(&mut cluster, false);
        assert_eq!(cluster["spec"]["connection"]["kubeconfig"], REDACTED);
        // A ConfigMap keeps its data.
        let mut cm = json!({"kind": "ConfigMap", "data": {"a": "b"}});
        redact(&mut cm, false);
        assert_eq!(cm["data"]["a"], "b");
    }

    #[test]
    fn request_uris_lose_credentials() {
        assert_eq!(
            request_uri("/oauth/callback/gh", Some("code=abc&state=x")),
            "/oauth/callback/gh"
        );
        assert_eq!(
            request_uri("/api/v1/pods", Some("watch=1&access_token=abc")),
            "/api/v1/pods?watch=1&access_token=REDACTED"
        );
        assert_eq!(request_uri("/api/v1/pods", None), "/api/v1/pods");
    }

    proptest! {
        /// Whatever the shape, no string under a credential key survives.
        #[test]
        fn no_password_survives(name in "[a-z]{1,8}", value in "[A-Za-z0-9]{12,20}", depth in 0usize..4) {
            let mut v = json!({"password": value.clone()});
            for _ in 0..depth {
                v = json!({name.clone(): [v]});
            }
            redact(&mut v, false);
            prop_assert!(!v.to_string().contains(&value));
        }
    }
}
