//! What Orrery says about a person to a relying party: the ID token's claims (OpenID Connect
//! Core §2 and §5.4, by the scopes granted) and the userinfo answer. Pure.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde_json::{Map, Value, json};
use sha2::Digest;

/// The scopes Orrery knows (others asked for are ignored, as OpenID Connect wants).
pub const SCOPES: &[&str] = &["openid", "profile", "email", "groups"];

/// The claims it can make.
pub const CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "azp",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "name",
    "preferred_username",
    "email",
    "groups",
];

/// A person as a User object describes them.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    /// The username (`sub` and `preferred_username`).
    pub username: String,
    /// `spec.displayName`, or the username.
    pub name: String,
    /// `spec.email` (may be empty).
    pub email: String,
    /// `spec.groups` (the platform's groups).
    pub groups: Vec<String>,
}

impl Person {
    /// Reads a User object.
    pub fn of(user: &Value) -> Person {
        let username = user["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let spec = &user["spec"];
        let name = spec["displayName"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or(&username)
            .to_string();
        Person {
            name,
            email: spec["email"].as_str().unwrap_or_default().to_string(),
            groups: spec["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            username,
        }
    }

    /// The claims `scopes` grant (`sub` included).
    pub fn claims(&self, scopes: &[String]) -> Map<String, Value> {
        let has = |s: &str| scopes.iter().any(|x| x == s);
        let mut m = Map::new();
        m.insert("sub".into(), self.username.clone().into());
        if has("profile") {
            m.insert("name".into(), self.name.clone().into());
            m.insert("preferred_username".into(), self.username.clone().into());
        }
        if has("email") && !self.email.is_empty() {
            m.insert("email".into(), self.email.clone().into());
        }
        if has("groups") {
            m.insert("groups".into(), json!(self.groups));
        }
        m
    }

    /// The userinfo answer. Orrery's access tokens carry no scopes (they are full API
    /// credentials of the person), so it says everything the scopes could grant.
    pub fn userinfo(&self) -> Value {
        Value::Object(self.claims(&["profile".into(), "email".into(), "groups".into()]))
    }
}

/// Splits a `scope` parameter (space-separated, duplicates dropped, order kept).
pub fn split_scopes(scope: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !out.iter().any(|x| x == s) {
            out.push(s.to_string());
        }
    }
    out
}

/// What an ID token is about besides the person.
#[derive(Debug, Clone)]
pub struct IdTokenContext<'a> {
    /// `iss`: the platform's public URL.
    pub issuer: &'a str,
    /// `aud` and `azp`.
    pub client_id: &'a str,
    /// The relying party's nonce.
    pub nonce: Option<&'a str>,
    /// When the person logged in (seconds).
    pub auth_time: i64,
    /// Now (seconds).
    pub now: i64,
    /// Lifetime (seconds).
    pub ttl: i64,
    /// The access token issued with it (for `at_hash`).
    pub access_token: &'a str,
}

/// `at_hash`: the left half of the access token's SHA-256, base64url (RS256's hash).
pub fn at_hash(access_token: &str) -> String {
    let digest = sha2::Sha256::digest(access_token.as_bytes());
    B64URL.encode(&digest[..16])
}

/// The ID token's claims.
pub fn id_token(person: &Person, scopes: &[String], cx: &IdTokenContext) -> Value {
    let mut m = person.claims(scopes);
    m.insert("iss".into(), cx.issuer.into());
    m.insert("aud".into(), cx.client_id.into());
    m.insert("azp".into(), cx.client_id.into());
    m.insert("iat".into(), cx.now.into());
    m.insert("exp".into(), (cx.now + cx.ttl).into());
    m.insert("auth_time".into(), cx.auth_time.into());
    m.insert("at_hash".into(), at_hash(cx.access_token).into());
    if let Some(n) = cx.nonce {
        m.insert("nonce".into(), n.into());
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Person {
        Person::of(&json!({"metadata": {"name": "alice"},
            "spec": {"email": "alice@corp.test", "displayName": "Alice A.", "groups": ["devs", "ops"]}}))
    }

    #[test]
    fn people_are_read_from_users() {
        let a = alice();
        assert_eq!(a.username, "alice");
        assert_eq!(a.name, "Alice A.");
        assert_eq!(a.groups, vec!["devs", "ops"]);
        let bare = Person::of(&json!({"metadata": {"name": "bob"}, "spec": {}}));
        assert_eq!(bare.name, "bob", "no display name: the username");
        assert!(bare.email.is_empty() && bare.groups.is_empty());
    }

    #[test]
    fn claims_follow_the_scopes() {
        let a = alice();
        let only = a.claims(&split_scopes("openid"));
        assert_eq!(Value::Object(only), json!({"sub": "alice"}));
        let all = a.claims(&split_scopes("openid profile email groups"));
        assert_eq!(
            Value::Object(all),
            json!({"sub": "alice", "name": "Alice A.", "preferred_username": "alice",
                "email": "alice@corp.test", "groups": ["devs", "ops"]})
        );
        let bare = Person::of(&json!({"metadata": {"name": "bob"}}));
        assert!(
            !bare.claims(&split_scopes("email")).contains_key("email"),
            "no empty e-mail"
        );
        assert_eq!(bare.userinfo()["groups"], json!([]));
        assert_eq!(
            split_scopes("  openid  email openid "),
            vec!["openid", "email"]
        );
    }

    #[test]
    fn id_tokens_carry_the_oidc_claims() {
        let cx = IdTokenContext {
            issuer: "https://orrery.test",
            client_id: "grafana",
            nonce: Some("n-0"),
            auth_time: 1_000,
            now: 1_100,
            ttl: 3_600,
            access_token: "token",
        };
        let c = id_token(&alice(), &split_scopes("openid email"), &cx);
        assert_eq!(c["iss"], "https://orrery.test");
        assert_eq!(c["aud"], "grafana");
        assert_eq!(c["azp"], "grafana");
        assert_eq!(c["sub"], "alice");
        assert_eq!(c["iat"], 1_100);
        assert_eq!(c["exp"], 4_700);
        assert_eq!(c["auth_time"], 1_000);
        assert_eq!(c["nonce"], "n-0");
        assert_eq!(c["email"], "alice@corp.test");
        assert!(c.get("groups").is_none() && c.get("name").is_none());
        // at_hash of "token": SHA-256's first 16 bytes, base64url.
        assert_eq!(c["at_hash"], "PEaenWxYddN6Q_NT1PiOYQ");
        let none = id_token(
            &alice(),
            &[],
            &IdTokenContext {
                nonce: None,
                ..cx.clone()
            },
        );
        assert!(none.get("nonce").is_none());
        for k in none.as_object().into_iter().flat_map(|m| m.keys()) {
            assert!(CLAIMS.contains(&k.as_str()), "{k} is advertised");
        }
    }
}
