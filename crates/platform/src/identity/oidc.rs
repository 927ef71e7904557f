//! The OpenID Connect relying party: the authorization code flow with PKCE (S256), `state` and
//! `nonce`, against any OpenID provider, with KubeSphere's settings:
//!
//! ```yaml
//! provider:
//!   issuer: https://accounts.example.com
//!   clientID: orrery
//!   clientSecret: …
//!   redirectURL: https://orrery.example.com/oauth/callback/<idp>   # default: the platform's
//!   scopes: [openid, email, profile]
//!   getUserInfo: false
//!   insecureSkipVerify: false
//!   rootCAData: <base64 of PEM>
//!   usernameClaim: preferred_username   # emailClaim, nameClaim, groupsClaim (groups)
//!   endpoint: {authURL, tokenURL, userInfoURL, jwksURL}   # instead of discovery
//! ```
//!
//! The ID token is checked here, not trusted: signed by one of the provider's keys with an
//! asymmetric algorithm, issued by the configured issuer, for this client, unexpired, and
//! carrying the nonce this login sent.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::RngCore;
use serde::Deserialize;
use serde_json::Value;
use sha2::Digest;

use super::{Identity, json_of};

/// How long a provider may take to answer.
const TIMEOUT: Duration = Duration::from_secs(15);

/// The provider's settings (`provider:` of its configuration).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Options {
    /// The issuer (its discovery document is at `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    /// This platform's client id at the provider.
    #[serde(rename = "clientID")]
    pub client_id: String,
    /// Its secret.
    #[serde(default)]
    pub client_secret: String,
    /// Where the provider sends people back (default: `{public url}/oauth/callback/{idp}`).
    #[serde(default, rename = "redirectURL")]
    pub redirect_url: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    get_user_info: bool,
    #[serde(default)]
    insecure_skip_verify: bool,
    #[serde(default, rename = "rootCAData")]
    root_ca_data: String,
    #[serde(default = "username_claim")]
    username_claim: String,
    #[serde(default = "email_claim")]
    email_claim: String,
    #[serde(default = "name_claim")]
    name_claim: String,
    #[serde(default = "groups_claim")]
    groups_claim: String,
    #[serde(default)]
    endpoint: EndpointOverrides,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EndpointOverrides {
    #[serde(default, rename = "authURL")]
    auth_url: String,
    #[serde(default, rename = "tokenURL")]
    token_url: String,
    #[serde(default, rename = "userInfoURL")]
    user_info_url: String,
    #[serde(default, rename = "jwksURL")]
    jwks_url: String,
}

fn username_claim() -> String {
    "preferred_username".into()
}
fn email_claim() -> String {
    "email".into()
}
fn name_claim() -> String {
    "name".into()
}
fn groups_claim() -> String {
    "groups".into()
}

/// The provider's endpoints.
#[derive(Debug, Clone)]
pub struct Endpoints {
    authorization: String,
    token: String,
    userinfo: String,
    jwks: String,
}

/// What a login flow keeps between sending the person to the provider and their return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// `state` sent to the provider.
    pub state: String,
    /// `nonce` sent (the ID token must carry it back).
    pub nonce: String,
    /// The PKCE verifier (its S256 challenge was sent).
    pub verifier: String,
}

/// A random URL-safe value of 32 bytes.
pub fn random() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    B64URL.encode(b)
}

impl Flow {
    /// A fresh flow.
    pub fn new() -> Flow {
        Flow {
            state: random(),
            nonce: random(),
            verifier: random(),
        }
    }

    /// The S256 challenge of the verifier (RFC 7636).
    pub fn challenge(&self) -> String {
        B64URL.encode(sha2::Sha256::digest(self.verifier.as_bytes()))
    }
}

impl Default for Flow {
    fn default() -> Self {
        Flow::new()
    }
}

/// What the ID token is checked against.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    /// `iss`.
    pub issuer: &'a str,
    /// `aud` must contain it (and `azp`, if present, equal it).
    pub client_id: &'a str,
    /// `nonce`.
    pub nonce: &'a str,
}

/// Checks an ID token against the provider's keys and what this login expects; its claims.
pub fn validate_id_token(token: &str, keys: &JwkSet, expect: &Expect) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| format!("ID token: {e}"))?;
    if matches!(
        header.alg,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return Err(format!(
            "ID token: algorithm {:?} is not accepted (only the provider's public keys)",
            header.alg
        ));
    }
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or("ID token: signed with a key the provider does not publish")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("ID token key: {e}"))?;
    let mut v = Validation::new(header.alg);
    v.leeway = 60;
    v.set_issuer(&[expect.issuer]);
    v.set_audience(&[expect.client_id]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &v)
        .map_err(|e| format!("ID token: {e}"))?
        .claims;
    if claims["nonce"].as_str() != Some(expect.nonce) {
        return Err("ID token: the nonce is not this login's".into());
    }
    if let Some(azp) = claims["azp"].as_str()
        && azp != expect.client_id
    {
        return Err("ID token: issued to another party (azp)".into());
    }
    Ok(claims)
}

impl Options {
    /// Reads the settings.
    pub fn from_value(v: &Value) -> Result<Options, String> {
        let o: Options = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        if o.issuer.is_empty() || o.client_id.is_empty() {
            return Err("issuer and clientID are required".into());
        }
        Ok(o)
    }

    fn client(&self) -> Result<reqwest::Client, String> {
        let mut b = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none());
        if self.insecure_skip_verify {
            b = b.danger_accept_invalid_certs(true);
        }
        if !self.root_ca_data.is_empty() {
            let pem = B64
                .decode(self.root_ca_data.trim())
                .map_err(|_| "rootCAData is not base64".to_string())?;
            for c in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("rootCAData: {e}"))?
            {
                b = b.add_root_certificate(c);
            }
        }
        b.build().map_err(|e| e.to_string())
    }

    async fn get_json(&self, http: &reqwest::Client, url: &str) -> Result<Value, String> {
        let resp = http
            .get(url)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("GET {url}: {status}"));
        }
        json_of(resp).await.map_err(|e| format!("GET {url}: {e}"))
    }

    /// The provider's endpoints: discovery, with any configured overrides; the discovered
    /// issuer must be the configured one.
    pub async fn endpoints(&self) -> Result<Endpoints, String> {
        let o = &self.endpoint;
        if !o.auth_url.is_empty() && !o.token_url.is_empty() && !o.jwks_url.is_empty() {
            return Ok(Endpoints {
                authorization: o.auth_url.clone(),
                token: o.token_url.clone(),
                userinfo: o.user_info_url.clone(),
                jwks: o.jwks_url.clone(),
            });
        }
        let http = self.client()?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let d = self.get_json(&http, &url).await?;
        if d["issuer"].as_str() != Some(self.issuer.as_str()) {
            return Err(format!(
                "the provider says its issuer is {}, not {}",
                d["issuer"], self.issuer
            ));
        }
        let pick = |over: &str, key: &str| {
            if over.is_empty() {
                d[key].as_str().unwrap_or_default().to_string()
            } else {
                over.to_string()
            }
        };
        Ok(Endpoints {
            authorization: pick(&o.auth_url, "authorization_endpoint"),
            token: pick(&o.token_url, "token_endpoint"),
            userinfo: pick(&o.user_info_url, "userinfo_endpoint"),
            jwks: pick(&o.jwks_url, "jwks_uri"),
        })
    }

    /// Checks the settings against the provider: discovery (the issuer as configured) and its
    /// signing keys. What was found, or why not.
    pub async fn check(&self) -> Result<String, String> {
        let ep = self.endpoints().await?;
        let http = self.client()?;
        let keys: JwkSet = serde_json::from_value(self.get_json(&http, &ep.jwks).await?)
            .map_err(|e| format!("the provider's keys: {e}"))?;
        if keys.keys.is_empty() {
            return Err("the provider publishes no signing key".into());
        }
        Ok(format!(
            "issuer {} answers; {} signing key(s); authorization at {}",
            self.issuer,
            keys.keys.len(),
            ep.authorization
        ))
    }

    /// Where to send the person: the provider's authorization endpoint with this flow.
    pub fn authorize_url(&self, ep: &Endpoints, flow: &Flow, redirect: &str) -> String {
        let scopes = if self.scopes.is_empty() {
            "openid email profile".to_string()
        } else {
            let mut s = self.scopes.clone();
            if !s.iter().any(|x| x == "openid") {
                s.insert(0, "openid".into());
            }
            s.join(" ")
        };
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", &scopes)
            .append_pair("state", &flow.state)
            .append_pair("nonce", &flow.nonce)
            .append_pair("code_challenge", &flow.challenge())
            .append_pair("code_challenge_method", "S256")
            .finish();
        let sep = if ep.authorization.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{sep}{q}", ep.authorization)
    }

    /// Exchanges the code, checks the ID token, and says who the person is.
    pub async fn finish(
        &self,
        idp: &str,
        ep: &Endpoints,
        flow: &Flow,
        code: &str,
        redirect: &str,
    ) -> Result<Identity, String> {
        let http = self.client()?;
        let resp = http
            .post(&ep.token)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .header("Accept", "application/json")
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect),
                ("code_verifier", &flow.verifier),
            ])
            .send()
            .await
            .map_err(|e| format!("token request: {e}"))?;
        let status = resp.status();
        let body: Value = json_of(resp)
            .await
            .map_err(|e| format!("token answer: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "the provider refused the code: {} {}",
                body["error"].as_str().unwrap_or_default(),
                body["error_description"].as_str().unwrap_or_default()
            ));
        }
        let id_token = body["id_token"]
            .as_str()
            .ok_or("the provider sent no ID token")?;
        let keys: JwkSet = serde_json::from_value(self.get_json(&http, &ep.jwks).await?)
            .map_err(|e| format!("the provider's keys: {e}"))?;
        let mut claims = validate_id_token(
            id_token,
            &keys,
            &Expect {
                issuer: &self.issuer,
                client_id: &self.client_id,
                nonce: &flow.nonce,
            },
        )?;
        if self.get_user_info && !ep.userinfo.is_empty() {
            let access = body["access_token"].as_str().unwrap_or_default();
            let resp = http
                .get(&ep.userinfo)
                .bearer_auth(access)
                .send()
                .await
                .map_err(|e| format!("userinfo: {e}"))?;
            let info = json_of(resp).await.map_err(|e| format!("userinfo: {e}"))?;
            // Userinfo is about the same person or not used at all (OIDC Core 5.3.2).
            if info["sub"] == claims["sub"]
                && let (Some(c), Some(i)) = (claims.as_object_mut(), info.as_object())
            {
                for (k, v) in i {
                    c.entry(k.clone()).or_insert(v.clone());
                }
            }
        }
        Ok(self.identity(idp, &claims))
    }

    /// The identity the claims describe.
    pub fn identity(&self, idp: &str, claims: &Value) -> Identity {
        let text = |k: &str| claims[k].as_str().unwrap_or_default().to_string();
        let sub = text("sub");
        let username = match text(&self.username_claim) {
            u if u.is_empty() => sub.clone(),
            u => u,
        };
        let groups = match &claims[&self.groups_claim] {
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Value::String(s) if !s.is_empty() => vec![s.clone()],
            _ => Vec::new(),
        };
        Identity {
            provider: idp.to_string(),
            uid: sub,
            username,
            email: text(&self.email_claim),
            display_name: text(&self.name_claim),
            groups,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    /// An ES256 key pair: the encoding key and its public JWK (with `kid`).
    fn key(kid: &str) -> (EncodingKey, Value) {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let enc = EncodingKey::from_ec_der(&kp.serialize_der());
        // The uncompressed SEC1 point: 0x04 || X || Y.
        let point = kp.public_key_raw();
        assert_eq!(point.len(), 65);
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
            "x": B64URL.encode(&point[1..33]), "y": B64URL.encode(&point[33..])});
        (enc, jwk)
    }

    fn sign(enc: &EncodingKey, kid: &str, claims: Value) -> String {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(kid.into());
        jsonwebtoken::encode(&h, &claims, enc).expect("sign")
    }

    fn good_claims() -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({"iss": "https://idp.test", "aud": "orrery", "sub": "u-1", "nonce": "n-1",
            "iat": now, "exp": now + 300, "email": "a@test", "groups": ["devs"]})
    }

    #[test]
    fn id_tokens_are_checked_not_trusted() {
        let (enc, jwk) = key("k1");
        let (other, _) = key("k1");
        let keys: JwkSet = serde_json::from_value(json!({"keys": [jwk]})).expect("jwks");
        let expect = Expect {
            issuer: "https://idp.test",
            client_id: "orrery",
            nonce: "n-1",
        };
        let ok = validate_id_token(&sign(&enc, "k1", good_claims()), &keys, &expect)
            .expect("a good token");
        assert_eq!(ok["sub"], "u-1");
        let with = |k: &str, v: Value| {
            let mut c = good_claims();
            c[k] = v;
            sign(&enc, "k1", c)
        };
        let now = chrono::Utc::now().timestamp();
        let bad = [
            ("audience", with("aud", json!("someone-else"))),
            ("issuer", with("iss", json!("https://evil.test"))),
            ("nonce", with("nonce", json!("n-2"))),
            ("expiry", with("exp", json!(now - 3600))),
            ("azp", with("azp", json!("someone-else"))),
            ("signature", sign(&other, "k1", good_claims())),
            ("unknown key", sign(&enc, "k2", good_claims())),
        ];
        for (what, token) in bad {
            assert!(
                validate_id_token(&token, &keys, &expect).is_err(),
                "a token with a wrong {what} was accepted"
            );
        }
        // A symmetric token (signed with something anyone could know) is refused outright.
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &good_claims(),
            &EncodingKey::from_secret(b"orrery"),
        )
        .expect("hs");
        let e = validate_id_token(&hs, &keys, &expect).expect_err("HS256");
        assert!(e.contains("not accepted"), "{e}");
        // An audience list containing the client is fine.
        let list = with("aud", json!(["other", "orrery"]));
        assert!(validate_id_token(&list, &keys, &expect).is_ok());
        assert!(validate_id_token("not.a.jwt", &keys, &expect).is_err());
    }

    #[test]
    fn pkce_and_the_authorize_url() {
        let f = Flow {
            state: "s".into(),
            nonce: "n".into(),
            verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
        };
        // RFC 7636 appendix B.
        assert_eq!(f.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let o = Options::from_value(&json!({"issuer": "https://idp.test", "clientID": "orrery"}))
            .expect("options");
        let ep = Endpoints {
            authorization: "https://idp.test/auth".into(),
            token: String::new(),
            userinfo: String::new(),
            jwks: String::new(),
        };
        let url = o.authorize_url(&ep, &f, "https://orrery.test/oauth/callback/corp");
        for part in [
            "response_type=code",
            "client_id=orrery",
            "state=s",
            "nonce=n",
            "code_challenge_method=S256",
            "scope=openid+email+profile",
            "redirect_uri=https%3A%2F%2Forrery.test%2Foauth%2Fcallback%2Fcorp",
        ] {
            assert!(url.contains(part), "{part} in {url}");
        }
        assert_ne!(Flow::new(), Flow::new());
        assert!(Options::from_value(&json!({"issuer": "x"})).is_err());
    }

    #[test]
    fn claims_map_to_an_identity() {
        let o = Options::from_value(
            &json!({"issuer": "i", "clientID": "c", "usernameClaim": "login", "groupsClaim": "roles"}),
        )
        .expect("options");
        let id = o.identity(
            "corp",
            &json!({"sub": "42", "login": "Alice", "email": "a@x", "name": "Alice A", "roles": ["a", 1, "b"]}),
        );
        assert_eq!(id.uid, "42");
        assert_eq!(id.username, "Alice");
        assert_eq!(id.groups, ["a", "b"]);
        let id = o.identity("corp", &json!({"sub": "42", "roles": "solo"}));
        assert_eq!(id.username, "42");
        assert_eq!(id.groups, ["solo"]);
    }
}
