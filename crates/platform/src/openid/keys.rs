//! The RSA keys ID tokens are signed with (RS256). They live in the host Secret
//! `orrery-oidc-signing-keys` in `kubesphere-system` (`keys.json`: the current key first, then
//! the previous one, each with its `kid` — the RFC 7638 thumbprint — and a PKCS#8 PEM), so every
//! replica signs with the same key. The first replica that needs a key creates it; replicas
//! racing to create it all end up with the winner's.
//!
//! [`rotate`] puts a new key first and keeps the one it replaces; `/oauth/keys` publishes both,
//! so an ID token signed just before a rotation still validates after it. (Unlike the access
//! token key, rotating this one revokes nothing: ID tokens are not credentials for the API.)

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest;

use crate::error::PlatformError;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::tokens::SYSTEM_NAMESPACE;

/// The Secret holding the keys.
pub const KEY_SECRET: &str = "orrery-oidc-signing-keys";
const FIELD: &str = "keys.json";
const RSA_BITS: usize = 2048;
/// How many keys are kept and published: the current one and the one before it.
const KEEP: usize = 2;

/// A key as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredKey {
    /// Key id (RFC 7638 thumbprint).
    pub kid: String,
    /// When it was made (seconds).
    pub created: i64,
    /// The private key, PKCS#8 PEM.
    pub pem: String,
}

/// One key, ready to sign with and to publish.
struct Key {
    kid: String,
    encoding: EncodingKey,
    n: String,
    e: String,
}

/// The keys in use: the first signs, all are published.
pub struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    /// Reads stored keys (the current one first).
    pub fn parse(stored: &[StoredKey]) -> Result<KeySet, String> {
        if stored.is_empty() {
            return Err("no keys".into());
        }
        let keys = stored
            .iter()
            .map(|s| {
                let key = RsaPrivateKey::from_pkcs8_pem(&s.pem)
                    .map_err(|e| format!("key {}: {e}", s.kid))?;
                let der = key
                    .to_pkcs1_der()
                    .map_err(|e| format!("key {}: {e}", s.kid))?;
                let n = B64URL.encode(key.n().to_bytes_be());
                let e = B64URL.encode(key.e().to_bytes_be());
                let kid = if s.kid.is_empty() {
                    thumbprint(&n, &e)
                } else {
                    s.kid.clone()
                };
                Ok(Key {
                    kid,
                    encoding: EncodingKey::from_rsa_der(der.as_bytes()),
                    n,
                    e,
                })
            })
            .collect::<Result<Vec<Key>, String>>()?;
        Ok(KeySet { keys })
    }

    /// The id of the key that signs.
    pub fn kid(&self) -> &str {
        self.keys
            .first()
            .map(|k| k.kid.as_str())
            .unwrap_or_default()
    }

    /// Signs `claims` as a JWT with the current key (RS256, its `kid` in the header).
    pub fn sign(&self, claims: &Value) -> Result<String, PlatformError> {
        let key = self
            .keys
            .first()
            .ok_or_else(|| PlatformError::Invalid("no ID token signing key".into()))?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(key.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &key.encoding)?)
    }

    /// The public keys as a JWK Set (RFC 7517).
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|k| json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid, "n": k.n, "e": k.e}))
            .collect();
        json!({ "keys": keys })
    }
}

/// RFC 7638's JWK thumbprint of an RSA public key (base64url modulus and exponent).
pub fn thumbprint(n: &str, e: &str) -> String {
    // The required members in lexicographic order, no whitespace.
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    B64URL.encode(sha2::Sha256::digest(canonical.as_bytes()))
}

/// Makes a new key (CPU-bound: run it off the async workers).
pub fn generate() -> Result<StoredKey, String> {
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
        .map_err(|e| format!("generating an RSA key: {e}"))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| format!("encoding the RSA key: {e}"))?;
    let n = B64URL.encode(key.n().to_bytes_be());
    let e = B64URL.encode(key.e().to_bytes_be());
    Ok(StoredKey {
        kid: thumbprint(&n, &e),
        created: chrono::Utc::now().timestamp(),
        pem: pem.to_string(),
    })
}

/// The keys after a rotation to `new`: it first, then the newest of the others.
pub fn rotated(mut keys: Vec<StoredKey>, new: StoredKey) -> Vec<StoredKey> {
    keys.insert(0, new);
    keys.truncate(KEEP);
    keys
}

async fn generate_blocking() -> Result<StoredKey, PlatformError> {
    tokio::task::spawn_blocking(generate)
        .await
        .map_err(|e| PlatformError::Invalid(e.to_string()))?
        .map_err(PlatformError::Invalid)
}

fn secret_object(keys: &[StoredKey]) -> Result<Value, PlatformError> {
    let data = serde_json::to_vec(keys).map_err(|e| PlatformError::Invalid(e.to_string()))?;
    Ok(json!({
        "metadata": {"name": KEY_SECRET, "namespace": SYSTEM_NAMESPACE},
        "type": "Opaque",
        "data": {FIELD: B64.encode(data)},
    }))
}

fn stored_keys(secret: &Value) -> Result<Vec<StoredKey>, PlatformError> {
    secret["data"][FIELD]
        .as_str()
        .and_then(|d| B64.decode(d).ok())
        .and_then(|b| serde_json::from_slice::<Vec<StoredKey>>(&b).ok())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| PlatformError::Invalid(format!("secret {KEY_SECRET} holds no {FIELD}")))
}

/// The keys' Secret, created with a first key if there is none.
async fn load_or_create(client: &kube::Client) -> Result<Value, PlatformError> {
    for _ in 0..5 {
        if let Some(s) =
            kubeapi::get(client, Kind::Secret, Some(SYSTEM_NAMESPACE), KEY_SECRET).await?
        {
            return Ok(s);
        }
        let obj = secret_object(&[generate_blocking().await?])?;
        match kubeapi::create(client, Kind::Secret, Some(SYSTEM_NAMESPACE), obj).await {
            Ok(s) => return Ok(s),
            Err(e) if kubeapi::is_conflict(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(PlatformError::Invalid(
        "could not create the ID token signing key".into(),
    ))
}

/// Puts a new signing key in use on every replica, keeping the previous one published;
/// returns the new key's id.
pub async fn rotate(client: &kube::Client) -> Result<String, PlatformError> {
    for _ in 0..5 {
        let mut secret = load_or_create(client).await?;
        let new = generate_blocking().await?;
        let kid = new.kid.clone();
        let keys = rotated(stored_keys(&secret).unwrap_or_default(), new);
        secret["data"] = secret_object(&keys)?["data"].clone();
        // Pinned to the version read: two rotations at once do not lose a key.
        match kubeapi::replace(client, Kind::Secret, Some(SYSTEM_NAMESPACE), secret).await {
            Ok(_) => {
                tracing::info!(kid = %kid, "rotated the ID token signing key");
                return Ok(kid);
            }
            Err(e) if kubeapi::is_conflict(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(PlatformError::Invalid(
        "could not rotate the ID token signing key (kept conflicting)".into(),
    ))
}

/// The keys as this replica last read them, reread whenever their Secret changes.
#[derive(Default)]
pub struct SigningKeys {
    cached: Mutex<Option<(String, Arc<KeySet>)>>,
}

impl SigningKeys {
    /// Nothing read yet.
    pub fn new() -> SigningKeys {
        SigningKeys::default()
    }

    /// The keys in use now (one read of their Secret; parsed again only when it changed).
    pub async fn current(&self, client: &kube::Client) -> Result<Arc<KeySet>, PlatformError> {
        let secret = load_or_create(client).await?;
        let version = secret["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        {
            let cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((v, keys)) = cached.as_ref()
                && *v == version
            {
                return Ok(keys.clone());
            }
        }
        let keys = Arc::new(
            KeySet::parse(&stored_keys(&secret)?)
                .map_err(|e| PlatformError::Invalid(format!("secret {KEY_SECRET}: {e}")))?,
        );
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some((version, keys.clone()));
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::oidc::{Expect, validate_id_token};
    use jsonwebtoken::jwk::JwkSet;

    fn claims(nonce: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({"iss": "https://orrery.test", "aud": "grafana", "sub": "alice", "iat": now,
            "exp": now + 300, "nonce": nonce})
    }

    fn expect(nonce: &str) -> Expect<'_> {
        Expect {
            issuer: "https://orrery.test",
            client_id: "grafana",
            nonce,
        }
    }

    fn jwks(set: &KeySet) -> JwkSet {
        serde_json::from_value(set.jwks()).expect("a JWK Set")
    }

    #[test]
    fn id_tokens_validate_against_the_published_keys_across_a_rotation() {
        let first = generate().expect("key");
        assert_eq!(first.kid.len(), 43, "a SHA-256 thumbprint");
        let before = KeySet::parse(std::slice::from_ref(&first)).expect("keys");
        let token = before.sign(&claims("n-1")).expect("signed");
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some(first.kid.as_str()));
        validate_id_token(&token, &jwks(&before), &expect("n-1")).expect("valid");

        // Rotate: the new key signs, the old one is still published.
        let second = generate().expect("key");
        let stored = rotated(vec![first.clone()], second.clone());
        let after = KeySet::parse(&stored).expect("keys");
        assert_eq!(after.kid(), second.kid);
        let published = jwks(&after);
        assert_eq!(published.keys.len(), 2);
        validate_id_token(&token, &published, &expect("n-1"))
            .expect("a token signed before the rotation still validates");
        let fresh = after.sign(&claims("n-2")).expect("signed");
        validate_id_token(&fresh, &published, &expect("n-2")).expect("valid");
        assert!(
            validate_id_token(&fresh, &jwks(&before), &expect("n-2")).is_err(),
            "the new key was not published before"
        );

        // A second rotation retires the first key, and with it the tokens it signed.
        let third = generate().expect("key");
        let stored = rotated(stored, third);
        assert_eq!(stored.len(), KEEP);
        let later = KeySet::parse(&stored).expect("keys");
        assert!(validate_id_token(&token, &jwks(&later), &expect("n-1")).is_err());
        validate_id_token(&fresh, &jwks(&later), &expect("n-2")).expect("still valid");
    }

    #[test]
    fn jwks_publish_public_parts_only() {
        let k = generate().expect("key");
        let set = KeySet::parse(std::slice::from_ref(&k)).expect("keys");
        let jwks = set.jwks();
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["e"], "AQAB");
        assert_eq!(
            key["kid"].as_str(),
            Some(thumbprint(
                key["n"].as_str().unwrap_or_default(),
                key["e"].as_str().unwrap_or_default()
            ))
            .as_deref()
        );
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "{private}");
        }
        assert!(KeySet::parse(&[]).is_err());
        let broken = StoredKey {
            kid: "x".into(),
            created: 0,
            pem: "not a key".into(),
        };
        assert!(KeySet::parse(&[broken]).is_err());
    }

    #[test]
    fn thumbprints_follow_rfc_7638() {
        // RFC 7638 §3.1's example key.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
