//! OAuth tokens: JWTs signed with a key kept in the host cluster, and revocable sessions kept as
//! labelled Secrets (one per login or kubeconfig token) so every replica sees revocations.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use kube::Client;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::cache::{Caches, SESSION_LABEL};
use crate::error::PlatformError;
use crate::kinds::Kind;
use crate::kubeapi;

/// The namespace that holds the platform's own Secrets.
pub const SYSTEM_NAMESPACE: &str = "kubesphere-system";
const KEY_SECRET: &str = "orrery-jwt-signing-key";
const SESSION_PREFIX: &str = "orrery-token-";
const USER_REF: &str = "iam.kubesphere.io/user-ref";
const EXPIRES_AT: &str = "orrery.io/expires-at";
const ISSUER: &str = "orrery";

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionType {
    /// Console or API login (access + refresh token).
    Login,
    /// The long-lived token of a downloaded kubeconfig.
    Kubeconfig,
}

impl SessionType {
    fn as_str(self) -> &'static str {
        match self {
            SessionType::Login => "login",
            SessionType::Kubeconfig => "kubeconfig",
        }
    }
}

/// The JWT claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// User name.
    pub sub: String,
    /// Session id (names the session Secret).
    pub sid: String,
    /// `access`, `refresh` or `kubeconfig`.
    pub typ: String,
    /// Refresh id: a refresh token is valid only while the session holds this id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rid: Option<String>,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expires at (seconds).
    pub exp: i64,
    /// Unique token id (two tokens issued in the same second still differ).
    #[serde(default)]
    pub jti: String,
    /// The token's format ([`crate::version::TOKEN_FORMAT`]; absent in tokens of format 1).
    #[serde(default = "first_format")]
    pub ofv: u32,
}

fn first_format() -> u32 {
    1
}

/// A token could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Malformed, badly signed or expired.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// Revoked (logout, password change, disabled user, or a refresh token used twice).
    #[error("token has been revoked")]
    Revoked,
    /// The host cluster could not be asked.
    #[error(transparent)]
    Api(#[from] PlatformError),
}

/// Tokens issued by a login.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedTokens {
    /// Bearer token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Single-use refresh token.
    pub refresh_token: String,
    /// Access token lifetime in seconds.
    pub expires_in: u64,
}

/// Lifetimes of issued tokens.
#[derive(Debug, Clone, Copy)]
pub struct TokenLifetimes {
    /// Access tokens.
    pub access: Duration,
    /// Refresh tokens.
    pub refresh: Duration,
    /// Kubeconfig tokens.
    pub kubeconfig: Duration,
}

/// The signing key in use.
struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The key's bytes, to tell a new key from the one in use.
    raw: Vec<u8>,
}

impl Keys {
    fn of(raw: Vec<u8>) -> Keys {
        Keys {
            encoding: EncodingKey::from_secret(&raw),
            decoding: DecodingKey::from_secret(&raw),
            raw,
        }
    }
}

/// Issues, checks and revokes tokens.
pub struct Tokens {
    client: Client,
    caches: Arc<Caches>,
    keys: std::sync::RwLock<Arc<Keys>>,
    /// Bumped whenever the signing key changes (watch sockets re-check their token on it).
    key_changes: tokio::sync::watch::Sender<u64>,
    lifetimes: TokenLifetimes,
}

/// Refuses a token of a format newer than this replica reads (a newer replica issued it
/// during an upgrade): the client logs in again rather than have it misread.
fn check_format(claims: &Claims) -> Result<(), TokenError> {
    if claims.ofv > crate::version::TOKEN_FORMAT {
        return Err(TokenError::Invalid(format!(
            "token format {} is newer than this replica reads ({}); log in again",
            claims.ofv,
            crate::version::TOKEN_FORMAT
        )));
    }
    Ok(())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn random_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn session_name(sid: &str) -> String {
    format!("{SESSION_PREFIX}{sid}")
}

/// Loads the signing key from its Secret, creating it on first start (replicas racing to create
/// it all end up with the winner's key).
async fn load_or_create_key(client: &Client) -> Result<Vec<u8>, PlatformError> {
    for _ in 0..5 {
        if let Some(s) =
            kubeapi::get(client, Kind::Secret, Some(SYSTEM_NAMESPACE), KEY_SECRET).await?
        {
            let key = s["data"]["key"]
                .as_str()
                .and_then(|k| B64.decode(k).ok())
                .ok_or_else(|| PlatformError::Invalid(format!("secret {KEY_SECRET} has no key")))?;
            return Ok(key);
        }
        let mut key = [0u8; 64];
        rand::rng().fill(&mut key);
        let secret = json!({
            "metadata": {"name": KEY_SECRET, "namespace": SYSTEM_NAMESPACE},
            "type": "Opaque",
            "data": {"key": B64.encode(key)},
        });
        match kubeapi::create(client, Kind::Secret, Some(SYSTEM_NAMESPACE), secret).await {
            Ok(_) => return Ok(key.to_vec()),
            Err(e) if kubeapi::is_conflict(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(PlatformError::Invalid(
        "could not create the token signing key".into(),
    ))
}

/// Replaces the token signing key in its host Secret with a new random one and deletes every
/// token session (login and kubeconfig): every token signed before stops working — at once on
/// the replica that rotates, and on the others as soon as their watch of the Secret delivers
/// the new key (their session caches drop the sessions too). Users log in again; the new
/// key is returned.
pub async fn rotate_signing_key(client: &Client) -> Result<Vec<u8>, PlatformError> {
    load_or_create_key(client).await?;
    let mut key = [0u8; 64];
    rand::rng().fill(&mut key);
    kubeapi::merge_patch(
        client,
        Kind::Secret,
        Some(SYSTEM_NAMESPACE),
        KEY_SECRET,
        json!({"data": {"key": B64.encode(key)}}),
    )
    .await?;
    let sessions =
        kubeapi::list(client, Kind::Secret, Some(SYSTEM_NAMESPACE), SESSION_LABEL).await?;
    for s in sessions {
        let name = s["metadata"]["name"].as_str().unwrap_or_default();
        kubeapi::delete(client, Kind::Secret, Some(SYSTEM_NAMESPACE), name).await?;
    }
    tracing::info!("rotated the token signing key");
    Ok(key.to_vec())
}

impl Tokens {
    /// The lifetimes of the tokens it issues.
    pub fn lifetimes(&self) -> TokenLifetimes {
        self.lifetimes
    }

    /// Loads (or creates) the signing key.
    pub async fn new(
        client: Client,
        caches: Arc<Caches>,
        lifetimes: TokenLifetimes,
    ) -> Result<Tokens, PlatformError> {
        let key = load_or_create_key(&client).await?;
        Ok(Tokens {
            client,
            caches,
            keys: std::sync::RwLock::new(Arc::new(Keys::of(key))),
            key_changes: tokio::sync::watch::channel(0).0,
            lifetimes,
        })
    }

    fn keys(&self) -> Arc<Keys> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts `raw` in use as the signing key (nothing happens if it already is).
    fn install(&self, raw: Vec<u8>) {
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        if keys.raw == raw {
            return;
        }
        *keys = Arc::new(Keys::of(raw));
        drop(keys);
        self.key_changes.send_modify(|n| *n += 1);
        tracing::info!("the token signing key changed: tokens signed before are refused");
    }

    /// Notified whenever the signing key changes.
    pub fn key_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.key_changes.subscribe()
    }

    /// Rotates the signing key (see [`rotate_signing_key`]) and puts the new one in use here
    /// at once; other replicas follow through [`Tokens::follow_key`].
    pub async fn rotate(&self) -> Result<(), PlatformError> {
        let key = rotate_signing_key(&self.client).await?;
        self.install(key);
        Ok(())
    }

    /// Keeps the signing key in step with its Secret (another replica or `orrery
    /// rotate-signing-key` may replace it) until `shutdown`.
    pub async fn follow_key(&self, shutdown: tokio_util::sync::CancellationToken) {
        use futures::StreamExt;
        use kube::runtime::watcher;
        let api: kube::Api<k8s_openapi::api::core::v1::Secret> =
            kube::Api::namespaced(self.client.clone(), SYSTEM_NAMESPACE);
        let config = watcher::Config::default().fields(&format!("metadata.name={KEY_SECRET}"));
        let mut events = std::pin::pin!(watcher(api, config));
        loop {
            let ev = tokio::select! {
                _ = shutdown.cancelled() => return,
                ev = events.next() => ev,
            };
            match ev {
                Some(Ok(watcher::Event::Apply(s) | watcher::Event::InitApply(s))) => {
                    if let Some(key) = s.data.as_ref().and_then(|d| d.get("key")) {
                        self.install(key.0.clone());
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "watching the token signing key");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                None => return,
            }
        }
    }

    fn sign(&self, claims: &Claims) -> Result<String, PlatformError> {
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.keys().encoding,
        )?)
    }

    fn claims(
        &self,
        sub: &str,
        sid: &str,
        typ: &str,
        rid: Option<String>,
        ttl: Duration,
    ) -> Claims {
        let iat = now();
        Claims {
            iss: ISSUER.into(),
            sub: sub.into(),
            sid: sid.into(),
            typ: typ.into(),
            rid,
            iat,
            exp: iat + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            jti: random_id(),
            ofv: crate::version::TOKEN_FORMAT,
        }
    }

    fn session_object(
        &self,
        user: &str,
        sid: &str,
        ty: SessionType,
        rid: &str,
        expires: i64,
    ) -> Value {
        json!({
            "metadata": {
                "name": session_name(sid),
                "namespace": SYSTEM_NAMESPACE,
                "labels": {SESSION_LABEL: ty.as_str(), USER_REF: user},
                "annotations": {EXPIRES_AT: expires.to_string(), "orrery.io/issued-at": now().to_string()},
            },
            "type": "orrery.io/token-session",
            "data": {"refresh-id": B64.encode(rid)},
        })
    }

    async fn new_session(
        &self,
        user: &str,
        ty: SessionType,
        rid: &str,
        ttl: Duration,
    ) -> Result<String, PlatformError> {
        let sid = random_id();
        let expires = now() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let obj = self.session_object(user, &sid, ty, rid, expires);
        let created =
            kubeapi::create(&self.client, Kind::Secret, Some(SYSTEM_NAMESPACE), obj).await?;
        // Read-your-writes on this replica; other replicas fall back to a direct read.
        let key = format!("{SYSTEM_NAMESPACE}/{}", session_name(&sid));
        self.caches
            .sessions
            .wait_for_version(&key, created["metadata"]["resourceVersion"].as_str())
            .await;
        Ok(sid)
    }

    fn pair(&self, user: &str, sid: &str, rid: &str) -> Result<IssuedTokens, PlatformError> {
        let access = self.claims(user, sid, "access", None, self.lifetimes.access);
        let refresh = self.claims(
            user,
            sid,
            "refresh",
            Some(rid.to_string()),
            self.lifetimes.refresh,
        );
        Ok(IssuedTokens {
            access_token: self.sign(&access)?,
            token_type: "Bearer",
            refresh_token: self.sign(&refresh)?,
            expires_in: self.lifetimes.access.as_secs(),
        })
    }

    /// Issues an access + refresh token pair for a new login session.
    pub async fn login(&self, user: &str) -> Result<IssuedTokens, PlatformError> {
        let rid = random_id();
        let sid = self
            .new_session(user, SessionType::Login, &rid, self.lifetimes.refresh)
            .await?;
        self.pair(user, &sid, &rid)
    }

    /// Issues a long-lived kubeconfig token; returns (token, session id).
    pub async fn kubeconfig_token(&self, user: &str) -> Result<(String, String), PlatformError> {
        let sid = self
            .new_session(user, SessionType::Kubeconfig, "", self.lifetimes.kubeconfig)
            .await?;
        let claims = self.claims(user, &sid, "kubeconfig", None, self.lifetimes.kubeconfig);
        Ok((self.sign(&claims)?, sid))
    }

    /// Seals `data` for `purpose` for `ttl` (a login flow's state kept in the browser): signed
    /// with the token key, so no replica needs memory of it and nobody can alter it.
    pub fn seal(
        &self,
        purpose: &str,
        data: &Value,
        ttl: Duration,
    ) -> Result<String, PlatformError> {
        let exp = chrono::Utc::now().timestamp() + ttl.as_secs() as i64;
        let claims = json!({"iss": ISSUER, "typ": purpose, "exp": exp, "data": data});
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.keys().encoding,
        )?)
    }

    /// Opens what [`Tokens::seal`] sealed for `purpose`, if unexpired and unaltered.
    pub fn open(&self, purpose: &str, sealed: &str) -> Result<Value, TokenError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.set_issuer(&[ISSUER]);
        v.set_required_spec_claims(&["exp", "iss"]);
        let c = jsonwebtoken::decode::<Value>(sealed, &self.keys().decoding, &v)
            .map_err(|e| TokenError::Invalid(e.to_string()))?
            .claims;
        if c["typ"] != purpose {
            return Err(TokenError::Invalid(format!("not a {purpose} state")));
        }
        Ok(c["data"].clone())
    }

    fn decode(&self, token: &str) -> Result<Claims, TokenError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.set_issuer(&[ISSUER]);
        v.set_required_spec_claims(&["exp", "sub", "iss"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.keys().decoding, &v)
            .map(|d| d.claims)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        check_format(&claims)?;
        Ok(claims)
    }

    async fn session(&self, sid: &str) -> Result<Option<Value>, PlatformError> {
        let key = format!("{SYSTEM_NAMESPACE}/{}", session_name(sid));
        if let Some(e) = self.caches.sessions.get(&key) {
            return Ok(Some(e.obj.clone()));
        }
        // Issued by another replica a moment ago and not yet seen by our watch.
        kubeapi::get(
            &self.client,
            Kind::Secret,
            Some(SYSTEM_NAMESPACE),
            &session_name(sid),
        )
        .await
    }

    /// Checks a bearer token (access or kubeconfig); returns its claims.
    pub async fn authenticate(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = self.decode(token)?;
        if claims.typ != "access" && claims.typ != "kubeconfig" {
            return Err(TokenError::Invalid("not an access token".into()));
        }
        match self.session(&claims.sid).await? {
            Some(s) if s["metadata"]["labels"][USER_REF].as_str() == Some(claims.sub.as_str()) => {
                Ok(claims)
            }
            _ => Err(TokenError::Revoked),
        }
    }

    /// Exchanges a refresh token (once) for a new pair in the same session.
    pub async fn refresh(&self, refresh_token: &str) -> Result<(String, IssuedTokens), TokenError> {
        let claims = self.decode(refresh_token)?;
        if claims.typ != "refresh" {
            return Err(TokenError::Invalid("not a refresh token".into()));
        }
        let name = session_name(&claims.sid);
        let Some(mut session) =
            kubeapi::get(&self.client, Kind::Secret, Some(SYSTEM_NAMESPACE), &name).await?
        else {
            return Err(TokenError::Revoked);
        };
        let current = session["data"]["refresh-id"]
            .as_str()
            .and_then(|s| B64.decode(s).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        if current.as_deref() != claims.rid.as_deref() || claims.rid.is_none() {
            return Err(TokenError::Revoked);
        }
        let rid = random_id();
        let expires =
            now() + i64::try_from(self.lifetimes.refresh.as_secs()).unwrap_or(i64::MAX / 2);
        session["data"]["refresh-id"] = B64.encode(&rid).into();
        session["metadata"]["annotations"][EXPIRES_AT] = expires.to_string().into();
        // The resourceVersion makes a concurrent second use of the same refresh token conflict.
        match kubeapi::replace(&self.client, Kind::Secret, Some(SYSTEM_NAMESPACE), session).await {
            Ok(_) => {}
            Err(e) if kubeapi::is_conflict(&e) || kubeapi::is_not_found(&e) => {
                return Err(TokenError::Revoked);
            }
            Err(e) => return Err(e.into()),
        }
        Ok((
            claims.sub.clone(),
            self.pair(&claims.sub, &claims.sid, &rid)?,
        ))
    }

    /// Revokes the session a token belongs to (logout). Invalid tokens are ignored.
    pub async fn revoke_token(&self, token: &str) -> Result<(), PlatformError> {
        match self.decode(token) {
            Ok(c) => self.revoke_session(&c.sid).await,
            Err(_) => Ok(()),
        }
    }

    /// Revokes one session.
    /// Returns once this replica's session cache has seen the deletion too (a few seconds at
    /// most), so a token logged out here is refused here from then on.
    pub async fn revoke_session(&self, sid: &str) -> Result<(), PlatformError> {
        kubeapi::delete(
            &self.client,
            Kind::Secret,
            Some(SYSTEM_NAMESPACE),
            &session_name(sid),
        )
        .await?;
        let key = format!("{SYSTEM_NAMESPACE}/{}", session_name(sid));
        self.caches
            .sessions
            .wait_for(Duration::from_secs(5), |c| c.get(&key).is_none())
            .await;
        Ok(())
    }

    /// Revokes every session of `user` of the given type (all types if `None`), except `keep`.
    pub async fn revoke_user(
        &self,
        user: &str,
        ty: Option<SessionType>,
        keep: Option<&str>,
    ) -> Result<(), PlatformError> {
        let mut selector = format!("{USER_REF}={user}");
        if let Some(ty) = ty {
            selector.push_str(&format!(",{SESSION_LABEL}={}", ty.as_str()));
        } else {
            selector.push_str(&format!(",{SESSION_LABEL}"));
        }
        let sessions = kubeapi::list(
            &self.client,
            Kind::Secret,
            Some(SYSTEM_NAMESPACE),
            &selector,
        )
        .await?;
        for s in sessions {
            let name = s["metadata"]["name"].as_str().unwrap_or_default();
            if keep.is_some_and(|k| session_name(k) == name) {
                continue;
            }
            kubeapi::delete(&self.client, Kind::Secret, Some(SYSTEM_NAMESPACE), name).await?;
            let key = format!("{SYSTEM_NAMESPACE}/{name}");
            self.caches
                .sessions
                .wait_for(Duration::from_secs(5), |c| c.get(&key).is_none())
                .await;
        }
        Ok(())
    }

    /// The sessions of `user` as `{id, type, issuedAt, expiresAt}` (no token material).
    pub fn sessions_of(&self, user: &str) -> Vec<Value> {
        let mut out: Vec<Value> = self
            .caches
            .sessions
            .by_index(&format!("user:{user}"))
            .iter()
            .map(|e| {
                let meta = &e.obj["metadata"];
                let ann = &meta["annotations"];
                json!({
                    "id": e.name().strip_prefix(SESSION_PREFIX).unwrap_or_default(),
                    "type": meta["labels"][SESSION_LABEL],
                    "issuedAt": ann["orrery.io/issued-at"].as_str().and_then(|s| s.parse::<i64>().ok()),
                    "expiresAt": ann[EXPIRES_AT].as_str().and_then(|s| s.parse::<i64>().ok()),
                })
            })
            .collect();
        out.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        out
    }

    /// Deletes expired sessions (leader only).
    pub async fn prune_expired(&self) -> Result<usize, PlatformError> {
        let t = now();
        let mut n = 0;
        for e in self.caches.sessions.list() {
            let exp = e.obj["metadata"]["annotations"][EXPIRES_AT]
                .as_str()
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(i64::MAX);
            if exp < t {
                kubeapi::delete(&self.client, Kind::Secret, Some(SYSTEM_NAMESPACE), e.name())
                    .await?;
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_formats_are_versioned_and_unknown_claims_tolerated() {
        let base = json!({"iss": ISSUER, "sub": "u", "sid": "s", "typ": "access", "iat": 1, "exp": 2, "jti": "j"});
        // A token of format 1 issued before formats were recorded.
        let first: Claims = serde_json::from_value(base.clone()).expect("claims");
        assert_eq!(first.ofv, 1);
        assert!(check_format(&first).is_ok());
        // A claim this build does not know is ignored; a format it does not know is refused.
        let mut later = base;
        later["scope"] = "everything".into();
        later["ofv"] = (crate::version::TOKEN_FORMAT + 1).into();
        let later: Claims = serde_json::from_value(later).expect("claims with an unknown field");
        assert!(
            matches!(check_format(&later), Err(TokenError::Invalid(m)) if m.contains("log in again"))
        );
        // What this build issues, it reads.
        let issued = serde_json::to_value(Claims {
            ofv: crate::version::TOKEN_FORMAT,
            ..first
        })
        .expect("encode");
        assert_eq!(issued["ofv"], crate::version::TOKEN_FORMAT);
    }
}
