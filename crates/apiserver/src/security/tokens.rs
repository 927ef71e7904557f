//! ServiceAccount tokens: issued through the TokenRequest API (`kubectl create token`),
//! verified on every request that carries one.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::UserInfo;
use crate::cluster::Cluster;

/// The issuer written into tokens.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

#[derive(Serialize, Deserialize)]
struct KubeClaims {
    namespace: String,
    serviceaccount: Ref,
}

#[derive(Serialize, Deserialize)]
struct Ref {
    name: String,
    uid: String,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Vec<String>,
    exp: i64,
    iat: i64,
    nbf: i64,
    jti: String,
    #[serde(rename = "kubernetes.io")]
    kube: KubeClaims,
}

/// Signs a token for a ServiceAccount; returns the token and its expiry (unix seconds).
pub fn issue(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    uid: &str,
    audiences: Vec<String>,
    seconds: i64,
) -> Result<(String, i64), String> {
    let now = chrono::Utc::now().timestamp();
    let exp = now + seconds;
    let claims = Claims {
        iss: ISSUER.into(),
        sub: format!("system:serviceaccount:{namespace}:{name}"),
        aud: if audiences.is_empty() {
            vec![ISSUER.to_string()]
        } else {
            audiences
        },
        exp,
        iat: now,
        nbf: now,
        jti: uuid::Uuid::new_v4().to_string(),
        kube: KubeClaims {
            namespace: namespace.into(),
            serviceaccount: Ref {
                name: name.into(),
                uid: uid.into(),
            },
        },
    };
    let key = jsonwebtoken::EncodingKey::from_ec_pem(cluster.credentials.sa_key_pem.as_bytes())
        .map_err(|e| e.to_string())?;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        &claims,
        &key,
    )
    .map_err(|e| e.to_string())?;
    Ok((token, exp))
}

/// The ServiceAccount a token was issued for, if it verifies and the account still exists.
pub fn verify(cluster: &Cluster, token: &str) -> Option<UserInfo> {
    let key =
        jsonwebtoken::DecodingKey::from_ec_pem(cluster.credentials.sa_pub_pem.as_bytes()).ok()?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&[ISSUER]);
    validation.validate_aud = false;
    let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).ok()?;
    let c = data.claims;
    let key = crate::registry::keys::object(
        "",
        "serviceaccounts",
        Some(&c.kube.namespace),
        &c.kube.serviceaccount.name,
    );
    let sa: Value = serde_json::from_slice(&cluster.store.get(&key)?.value).ok()?;
    if sa["metadata"]["uid"] != json!(c.kube.serviceaccount.uid) {
        return None;
    }
    let ns = c.kube.namespace;
    Some(UserInfo {
        name: c.sub,
        groups: vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{ns}"),
            "system:authenticated".into(),
        ],
        uid: Some(c.kube.serviceaccount.uid),
    })
}
