//! Authorization codes: random, single-use, short-lived (a minute), each bound to what the
//! authorization request settled — client, redirect URI, person, scopes, nonce, PKCE challenge.
//!
//! A code is kept as a Secret in `kubesphere-system` named after a hash of the code (so a
//! listing shows no usable code), so a code issued by one replica can be redeemed at any other.
//! Redeeming marks it used by a write pinned to the resourceVersion read, so of two concurrent
//! redemptions exactly one wins; a code presented again is refused, and the tokens issued for
//! it are revoked (RFC 6749 §4.1.2: a replayed code suggests it was stolen). The leader deletes
//! expired codes.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Digest;

use crate::error::PlatformError;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::tokens::SYSTEM_NAMESPACE;

/// How long a code may wait to be redeemed.
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// The label on code Secrets.
pub const CODE_LABEL: &str = "orrery.io/oauth-code";
const PREFIX: &str = "orrery-oauth-code-";
const EXPIRES_AT: &str = "orrery.io/expires-at";
const USED_AT: &str = "orrery.io/used-at";
const SESSION: &str = "orrery.io/session";

/// What an authorization request settled, redeemed with its code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeGrant {
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI it was sent to (the token request must name the same).
    pub redirect_uri: String,
    /// The person (Orrery username).
    pub user: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// The relying party's nonce, echoed in the ID token.
    #[serde(default)]
    pub nonce: Option<String>,
    /// The PKCE S256 challenge, if the client sent one.
    #[serde(default)]
    pub code_challenge: Option<String>,
    /// When the person logged in (seconds).
    pub auth_time: i64,
    /// When the code stops being valid (seconds).
    pub expires: i64,
}

/// Why a code cannot be redeemed.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    /// Never issued, garbage, or already deleted.
    #[error("unknown or expired authorization code")]
    Unknown,
    /// Presented before; the session it started, if any, should be revoked.
    #[error("the authorization code was already used")]
    Reused {
        /// The login session issued for it.
        session: Option<String>,
    },
    /// Past its time.
    #[error("the authorization code expired")]
    Expired,
    /// The host cluster could not be asked.
    #[error(transparent)]
    Api(#[from] PlatformError),
}

/// Checks a PKCE `code_verifier` against the S256 `code_challenge` of the authorization
/// request (RFC 7636 §4.6). A verifier without a challenge is refused too: it would let an
/// attacker who stripped the challenge pass (PKCE downgrade, RFC 9700 §2.1.1).
pub fn verify_pkce(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), &'static str> {
    match (challenge, verifier.filter(|v| !v.is_empty())) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err("a code_verifier was sent but the authorization had no challenge"),
        (Some(_), None) => Err("code_verifier is required"),
        (Some(c), Some(v)) => {
            if !is_pkce_string(v) {
                return Err("code_verifier must be 43 to 128 unreserved characters");
            }
            let computed = B64URL.encode(sha2::Sha256::digest(v.as_bytes()));
            if crate::password::constant_time_eq(computed.as_bytes(), c.as_bytes()) {
                Ok(())
            } else {
                Err("code_verifier does not match the code_challenge")
            }
        }
    }
}

/// Whether `s` is a well-formed S256 `code_challenge` (base64url of a SHA-256: 43 characters).
pub fn is_s256_challenge(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// RFC 7636's verifier alphabet and length.
fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn secret_name(code: &str) -> String {
    let digest = sha2::Sha256::digest(code.as_bytes());
    let hex: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
    format!("{PREFIX}{hex}")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Issues a code for `grant` (its `expires` is set here).
pub async fn issue(client: &kube::Client, mut grant: CodeGrant) -> Result<String, PlatformError> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let code = B64URL.encode(bytes);
    grant.expires = now() + CODE_TTL.as_secs() as i64;
    let data = serde_json::to_vec(&grant).map_err(|e| PlatformError::Invalid(e.to_string()))?;
    let obj = json!({
        "metadata": {
            "name": secret_name(&code),
            "namespace": SYSTEM_NAMESPACE,
            "labels": {CODE_LABEL: "true"},
            "annotations": {EXPIRES_AT: grant.expires.to_string()},
        },
        "type": "orrery.io/oauth-code",
        "data": {"grant.json": B64.encode(data)},
    });
    kubeapi::create(client, Kind::Secret, Some(SYSTEM_NAMESPACE), obj).await?;
    Ok(code)
}

/// Redeems `code` once: marks it used and returns what it grants.
pub async fn redeem(client: &kube::Client, code: &str) -> Result<CodeGrant, RedeemError> {
    if code.is_empty() || code.len() > 256 {
        return Err(RedeemError::Unknown);
    }
    let name = secret_name(code);
    let Some(mut secret) =
        kubeapi::get(client, Kind::Secret, Some(SYSTEM_NAMESPACE), &name).await?
    else {
        return Err(RedeemError::Unknown);
    };
    let annotations = &secret["metadata"]["annotations"];
    if annotations[USED_AT].is_string() {
        return Err(RedeemError::Reused {
            session: annotations[SESSION].as_str().map(str::to_string),
        });
    }
    secret["metadata"]["annotations"][USED_AT] = now().to_string().into();
    match kubeapi::replace(client, Kind::Secret, Some(SYSTEM_NAMESPACE), secret.clone()).await {
        Ok(_) => {}
        // Another redemption got there first.
        Err(e) if kubeapi::is_conflict(&e) => return Err(RedeemError::Reused { session: None }),
        Err(e) if kubeapi::is_not_found(&e) => return Err(RedeemError::Unknown),
        Err(e) => return Err(e.into()),
    }
    let grant: CodeGrant = secret["data"]["grant.json"]
        .as_str()
        .and_then(|d| B64.decode(d).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(RedeemError::Unknown)?;
    if grant.expires < now() {
        return Err(RedeemError::Expired);
    }
    Ok(grant)
}

/// Records the login session issued for `code`, to be revoked should the code come again.
pub async fn bind_session(
    client: &kube::Client,
    code: &str,
    session: &str,
) -> Result<(), PlatformError> {
    let patch = json!({"metadata": {"annotations": {SESSION: session}}});
    match kubeapi::merge_patch(
        client,
        Kind::Secret,
        Some(SYSTEM_NAMESPACE),
        &secret_name(code),
        patch,
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(e) if kubeapi::is_not_found(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes expired codes (leader only); how many.
pub async fn prune(client: &kube::Client) -> Result<usize, PlatformError> {
    let t = now();
    let mut n = 0;
    for s in kubeapi::list(client, Kind::Secret, Some(SYSTEM_NAMESPACE), CODE_LABEL).await? {
        let expires = s["metadata"]["annotations"][EXPIRES_AT]
            .as_str()
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0);
        let name = s["metadata"]["name"].as_str().unwrap_or_default();
        if expires < t && name.starts_with(PREFIX) {
            kubeapi::delete(client, Kind::Secret, Some(SYSTEM_NAMESPACE), name).await?;
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn pkce_checks_the_verifier_against_the_s256_challenge() {
        assert!(is_s256_challenge(CHALLENGE));
        assert_eq!(verify_pkce(Some(CHALLENGE), Some(VERIFIER)), Ok(()));
        let mut wrong = VERIFIER.to_string();
        wrong.replace_range(0..1, "e");
        assert!(verify_pkce(Some(CHALLENGE), Some(&wrong)).is_err());
        assert!(verify_pkce(Some(CHALLENGE), None).is_err());
        assert!(verify_pkce(Some(CHALLENGE), Some("")).is_err());
        assert!(
            verify_pkce(Some(CHALLENGE), Some(CHALLENGE)).is_err(),
            "the challenge is not its own verifier"
        );
        assert!(verify_pkce(Some(CHALLENGE), Some("short")).is_err());
        assert!(verify_pkce(Some(CHALLENGE), Some(&"a".repeat(129))).is_err());
        assert!(
            verify_pkce(None, Some(VERIFIER)).is_err(),
            "no downgrade: a verifier without a challenge"
        );
        assert_eq!(verify_pkce(None, None), Ok(()));
        for bad in ["", "plain", &CHALLENGE[1..], &format!("{CHALLENGE}=")] {
            assert!(!is_s256_challenge(bad), "{bad:?}");
        }
    }

    #[test]
    fn code_secrets_are_named_by_a_hash() {
        let a = secret_name("code-a");
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 40);
        assert_ne!(a, secret_name("code-b"));
        assert!(!a.contains("code-a"));
        assert!(apimachinery::validation::is_dns1123_subdomain(&a).is_empty());
    }
}
