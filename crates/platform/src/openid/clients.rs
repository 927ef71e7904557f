//! OAuth clients, configured as KubeSphere configures them: Secrets in `kubesphere-system` of
//! type `config.kubesphere.io/oauthclient` (label `config.kubesphere.io/type: oauthclient`)
//! whose `configuration.yaml` reads
//!
//! ```yaml
//! name: grafana                 # the client id
//! secret: …                     # empty: a public client (no secret, PKCE required)
//! redirectURIs:                 # compared exactly, byte for byte
//!   - https://grafana.example.com/login/generic_oauth
//! grantMethod: auto             # auto | prompt (prompt: the person approves on a consent page)
//! scopeRestrictions: []         # when set, the only scopes the client may ask for
//! accessTokenMaxAge: 3600       # seconds or a Go duration ("1h"): caps the ID token's life
//! ```
//!
//! They are read from the host at each request, so a change applies without a restart.
//! KubeSphere also accepts `"*"` as a redirect URI (anywhere); Orrery refuses it — such an
//! entry allows nothing, and the refusal says why — because it would turn the authorization
//! endpoint into an open redirect that hands codes to any site.

use serde::Deserialize;
use serde_json::Value;

use crate::error::PlatformError;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::tokens::SYSTEM_NAMESPACE;

/// The Secret type of an OAuth client's configuration.
pub const SECRET_TYPE: &str = "config.kubesphere.io/oauthclient";
/// The label selecting OAuth client Secrets.
pub const SECRET_LABEL: &str = "config.kubesphere.io/type=oauthclient";

/// The configuration as written (see the module documentation).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    name: String,
    #[serde(default)]
    secret: String,
    #[serde(default, rename = "redirectURIs")]
    redirect_uris: Vec<String>,
    #[serde(default)]
    grant_method: String,
    #[serde(default)]
    scope_restrictions: Vec<String>,
    #[serde(default)]
    access_token_max_age: Option<Value>,
}

/// One OAuth client.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthClient {
    /// The client id (`name`).
    pub id: String,
    /// Its secret; empty for a public client.
    pub secret: String,
    /// The redirect URIs it may use (exact matches; `"*"` and URIs with a fragment dropped).
    pub redirect_uris: Vec<String>,
    /// Whether the configuration listed `"*"` (which Orrery does not honour).
    pub wildcard: bool,
    /// `grantMethod: prompt`: the person approves each authorization on a consent page.
    pub consent: bool,
    /// When not empty, the only scopes the client may ask for.
    pub scope_restrictions: Vec<String>,
    /// The longest an ID token issued to it lives, in seconds.
    pub max_age: Option<u64>,
}

impl OAuthClient {
    /// Whether it has no secret (a native or browser app): it must use PKCE.
    pub fn is_public(&self) -> bool {
        self.secret.is_empty()
    }

    /// Whether `uri` is one of its redirect URIs, exactly.
    pub fn allows_redirect(&self, uri: &str) -> bool {
        !uri.is_empty() && !uri.contains('#') && self.redirect_uris.iter().any(|r| r == uri)
    }

    /// Checks the credentials it presented: a confidential client its secret (compared in
    /// constant time), a public client none at all.
    pub fn authenticates(&self, secret: Option<&str>) -> bool {
        match secret.filter(|s| !s.is_empty()) {
            None => self.is_public(),
            Some(s) => {
                !self.is_public()
                    && crate::password::constant_time_eq(s.as_bytes(), self.secret.as_bytes())
            }
        }
    }

    /// Why `uri` is refused, for the person who followed the link.
    pub fn redirect_refusal(&self, uri: &str) -> String {
        let mut why = format!(
            "the redirect URI {uri:?} is not registered for client {:?}",
            self.id
        );
        if self.wildcard {
            why.push_str(
                " (its configuration lists \"*\", which Orrery does not accept: list the exact URIs)",
            );
        }
        why
    }
}

fn parse_max_age(v: &Value) -> Result<Option<u64>, String> {
    let secs = match v {
        Value::Null => return Ok(None),
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("accessTokenMaxAge {n} is not a whole number of seconds"))?,
        Value::String(s) if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() => s
            .parse()
            .map_err(|_| format!("accessTokenMaxAge {s:?} is too large"))?,
        Value::String(s) => {
            let nanos = gofmt::parse_duration(s)
                .map_err(|_| format!("accessTokenMaxAge {s:?} is not a duration"))?;
            u64::try_from(nanos / 1_000_000_000)
                .map_err(|_| format!("accessTokenMaxAge {s:?} is negative"))?
        }
        other => return Err(format!("accessTokenMaxAge {other} is not a duration")),
    };
    // KubeSphere's 0 means "no limit of its own".
    Ok((secs > 0).then_some(secs))
}

/// Parses a client's `configuration.yaml` (the text); the reason on failure.
pub fn parse_configuration(text: &str) -> Result<OAuthClient, String> {
    let raw: Raw = serde_saphyr::from_str(text).map_err(|e| format!("configuration.yaml: {e}"))?;
    if raw.name.is_empty() || raw.name.contains(':') || raw.name.chars().any(char::is_control) {
        return Err(format!(
            "name {:?} must be non-empty, without ':' or control characters",
            raw.name
        ));
    }
    match raw.grant_method.as_str() {
        "" | "auto" | "prompt" => {}
        other => return Err(format!("grantMethod {other:?} is not auto or prompt")),
    }
    let wildcard = raw.redirect_uris.iter().any(|u| u == "*");
    let redirect_uris = raw
        .redirect_uris
        .into_iter()
        .filter(|u| {
            let ok = u != "*" && !u.is_empty() && !u.contains('#');
            if !ok && u != "*" {
                tracing::warn!(client = %raw.name, uri = %u, "redirect URI with a fragment ignored");
            }
            ok
        })
        .collect();
    Ok(OAuthClient {
        consent: raw.grant_method == "prompt",
        id: raw.name,
        secret: raw.secret,
        redirect_uris,
        wildcard,
        scope_restrictions: raw.scope_restrictions,
        max_age: parse_max_age(raw.access_token_max_age.as_ref().unwrap_or(&Value::Null))?,
    })
}

/// Parses a client Secret; the reason on failure.
pub fn parse_secret(secret: &Value) -> Result<OAuthClient, String> {
    parse_configuration(&crate::identity::configuration_text(secret)?)
}

/// The client named `id`, read from the host now (a Secret that cannot be read is logged and
/// skipped; with two of the same name, the first by Secret name wins).
pub async fn find(client: &kube::Client, id: &str) -> Result<Option<OAuthClient>, PlatformError> {
    let mut secrets =
        kubeapi::list(client, Kind::Secret, Some(SYSTEM_NAMESPACE), SECRET_LABEL).await?;
    secrets.sort_by(|a, b| {
        a["metadata"]["name"]
            .as_str()
            .cmp(&b["metadata"]["name"].as_str())
    });
    for s in secrets {
        if s["type"] != SECRET_TYPE {
            continue;
        }
        match parse_secret(&s) {
            Ok(c) if c.id == id => return Ok(Some(c)),
            Ok(_) => {}
            Err(why) => {
                let name = s["metadata"]["name"].as_str().unwrap_or_default();
                tracing::warn!(secret = %name, reason = %why, "OAuth client ignored");
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;

    const GRAFANA: &str = "name: grafana\nsecret: s3cret\ngrantMethod: prompt\n\
        redirectURIs:\n  - https://grafana.example.com/login/generic_oauth\n  - '*'\n  - https://x.example/cb#frag\n\
        accessTokenMaxAge: 1h\n";

    #[test]
    fn clients_parse_as_kubesphere_writes_them() {
        let c = parse_configuration(GRAFANA).expect("client");
        assert_eq!(c.id, "grafana");
        assert!(c.consent, "grantMethod prompt asks the person");
        assert!(!parse_configuration("name: a\n").expect("a").consent);
        assert!(!c.is_public());
        assert!(
            c.wildcard,
            "\"*\" is remembered, to say why it allows nothing"
        );
        assert_eq!(
            c.redirect_uris,
            vec!["https://grafana.example.com/login/generic_oauth"],
            "\"*\" and fragments are dropped"
        );
        assert_eq!(c.max_age, Some(3600));
        let secs = parse_configuration("name: a\naccessTokenMaxAge: 7200\n").expect("a");
        assert_eq!(secs.max_age, Some(7200));
        assert!(secs.is_public());
        assert_eq!(
            parse_configuration("name: a\naccessTokenMaxAge: 0\n")
                .expect("a")
                .max_age,
            None
        );
        for bad in [
            "secret: x\n",
            "name: ''\n",
            "name: 'a:b'\n",
            "name: a\ngrantMethod: deny\n",
            "name: a\naccessTokenMaxAge: soon\n",
            "name: a\naccessTokenMaxAge: -5\n",
            "name: [a\n",
        ] {
            assert!(parse_configuration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn secrets_carry_the_configuration_in_base64() {
        let s = serde_json::json!({"data": {"configuration.yaml": B64.encode(GRAFANA)}});
        assert_eq!(parse_secret(&s).expect("client").id, "grafana");
        assert!(parse_secret(&serde_json::json!({"data": {}})).is_err());
        assert!(parse_secret(&serde_json::json!({"data": {"configuration.yaml": "%%%"}})).is_err());
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let c = parse_configuration(GRAFANA).expect("client");
        let ok = "https://grafana.example.com/login/generic_oauth";
        assert!(c.allows_redirect(ok));
        for bad in [
            "",
            "*",
            "https://grafana.example.com/login/generic_oauth/",
            "https://grafana.example.com/login/generic_oauth?x=1",
            "https://grafana.example.com/login/generic_oauth#x",
            "https://GRAFANA.example.com/login/generic_oauth",
            "http://grafana.example.com/login/generic_oauth",
            "https://grafana.example.com.evil.test/login/generic_oauth",
            "https://grafana.example.com/login",
            "https://x.example/cb#frag",
            "https://evil.example/",
        ] {
            assert!(!c.allows_redirect(bad), "{bad:?}");
        }
        assert!(
            c.redirect_refusal("https://evil.example/")
                .contains("\"*\"")
        );
    }

    #[test]
    fn clients_authenticate_by_their_kind() {
        let confidential = parse_configuration(GRAFANA).expect("client");
        assert!(confidential.authenticates(Some("s3cret")));
        assert!(!confidential.authenticates(Some("s3cre")));
        assert!(!confidential.authenticates(Some("s3creT")));
        assert!(!confidential.authenticates(None));
        assert!(!confidential.authenticates(Some("")));
        let public = parse_configuration("name: kubectl\n").expect("public");
        assert!(public.authenticates(None));
        assert!(public.authenticates(Some("")));
        assert!(
            !public.authenticates(Some("anything")),
            "a secret for a client without one is a mistake, refused"
        );
    }
}
